/*
 * server.c: libmicrohttpd underneath the router.
 *
 * One daemon, epoll, a pool of [server] threads threads. Each request gets an
 * arena and a context that lives from the first callback to the completion
 * notice, where the access-log line and the metrics are written and
 * everything is freed at once.
 *
 * Limits: the request line and headers are capped by the connection's memory
 * limit (MHD answers 431 past it); the body by the route's limit, checked
 * against Content-Length before reading and again while reading; the whole
 * request by [server] request_timeout, checked at every callback while it
 * arrives, and silences by [server] idle_timeout. Shutdown stops accepting,
 * lets requests in flight finish for the grace period, then closes.
 *
 * Handlers run on the connection's thread, except those of ROUTE_SLOW routes
 * (Argon2id takes up to a second): their connection is suspended and the
 * call goes to a small pool of [server] workers threads, which wakes the
 * connection when the handler returns; its thread then sends the response as
 * if the handler had run inline. Run inline, a hash would stall every other
 * connection of that thread, and in epoll mode a thread accepts up to ten
 * connections per wake-up, so a burst of sign-ins held /healthz behind it.
 * (Raising [server] threads instead only moves the point where that
 * happens.) Deferred responses (deferred.c) sleep the same way until their
 * producer answers.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/embedded.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "http/deferred.h"
#include "http/stream.h"

#define MAX_PROXIES 16
#define DEFAULT_WORKERS 4
#define SLOW_QUEUE_MAX 256 /* ROUTE_SLOW requests waiting for a worker; more get 503 */

struct conn_ctx;

struct http_server {
	struct MHD_Daemon *d;
	struct router *router;
	void *ctx;
	struct http_server_options o;
	char *cert, *key;
	char proxies[MAX_PROXIES][64];
	int nproxies;
	int port;
	int64_t inflight;
	bool stopping;            /* deferrals are answered 503 at once (atomic) */
	/* the worker pool for ROUTE_SLOW handlers; wmu guards the queue and wstop */
	pthread_mutex_t wmu;
	pthread_cond_t wcv;
	pthread_t *wth;
	int nworkers;
	struct conn_ctx *qhead, *qtail;
	size_t qlen;
	bool wstop;
};

/* Where a request is; the connection's thread reads it when it is called,
 * a worker writes it before it wakes the connection. */
enum phase {
	PH_READ,      /* headers and body arriving */
	PH_SLOW,      /* queued for, or running on, the worker pool (asleep) */
	PH_READY,     /* res holds the answer: send it when called */
	PH_DEFERRED,  /* waiting for the deferred answer (asleep) */
	PH_SENT,      /* the response is queued */
};

struct conn_ctx {
	struct http_request req;
	struct http_response res;
	enum phase phase;
	bool rejected;      /* a response is settled before the body was read */
	int reject_status;
	size_t limit;
	uint64_t id_seq;
	struct conn_ctx *qnext; /* worker queue */
};

static const char csp[] =
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
	"media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/* --- request helpers -------------------------------------------------- */

const char *http_header_get(struct http_request *req, const char *name)
{
	if (!req->conn)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_cookie(struct http_request *req, const char *name)
{
	if (!req->conn)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

const char *http_query(struct http_request *req, const char *name)
{
	if (!req->conn)
		return NULL;
	/* MHD decodes query values itself */
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* --- client address ----------------------------------------------------- */

static bool is_trusted(const struct http_server *s, const char *ip)
{
	for (int i = 0; i < s->nproxies; i++)
		if (!strcmp(s->proxies[i], ip))
			return true;
	return false;
}

/* The client's address: the peer, unless the peer is a trusted proxy, in
 * which case the right-most address of X-Forwarded-For that is not itself a
 * trusted proxy (SEC-2: the header is believed only from configured hops). */
static void client_ip(struct http_server *s, struct MHD_Connection *c, struct http_request *req)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char peer[64] = "unknown";
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof peer);
	}
	snprintf(req->client_ip, sizeof req->client_ip, "%s", peer);
	if (!s->nproxies || !is_trusted(s, peer))
		return;
	const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
	if (!xff)
		return;
	char tmp[1024];
	snprintf(tmp, sizeof tmp, "%s", xff);
	for (;;) {
		char *comma = strrchr(tmp, ',');
		char *h = comma ? comma + 1 : tmp;
		while (*h == ' ')
			h++;
		size_t l = strlen(h);
		while (l && h[l - 1] == ' ')
			h[--l] = '\0';
		unsigned char dummy[16];
		bool valid = inet_pton(AF_INET, h, dummy) == 1 || inet_pton(AF_INET6, h, dummy) == 1;
		if (!valid)
			return; /* garbage: keep what we had */
		snprintf(req->client_ip, sizeof req->client_ip, "%s", h);
		if (!is_trusted(s, h) || !comma)
			return;
		*comma = '\0';
	}
}

/* --- responses ----------------------------------------------------------- */

static const char *mime_for(const char *path)
{
	static const struct { const char *ext, *type; } t[] = {
		{".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
		{".svg", "image/svg+xml"}, {".png", "image/png"}, {".ico", "image/x-icon"},
		{".json", "application/json"}, {".txt", "text/plain; charset=utf-8"},
		{".webmanifest", "application/manifest+json"}, {".woff2", "font/woff2"},
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof t / sizeof t[0]; i++)
		if (!strcmp(dot, t[i].ext))
			return t[i].type;
	return "application/octet-stream";
}

/* Serve an embedded file for GET/HEAD of a path no route claims. */
static bool serve_static(struct http_server *s, struct http_request *req, struct http_response *res)
{
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD"))
		return false;
	if (strstr(req->path, "..") || strlen(req->path) > 200)
		return false;
	char name[256];
	const char *p = req->path;
	if (!strcmp(p, "/"))
		p = "/index.html";
	snprintf(name, sizeof name, "%s%s", s->o.static_prefix ? s->o.static_prefix : "web", p);
	const struct embedded_file *f = embedded_find(name);
	if (!f)
		return false;
	/* ETag: FNV-1a of the content, computed on demand (files are small) */
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < f->len; i++)
		h = (h ^ f->data[i]) * 1099511628211ull;
	char etag[40];
	snprintf(etag, sizeof etag, "\"%016llx\"", (unsigned long long)h);
	http_set_header(res, "ETag", etag);
	http_set_header(res, "Cache-Control", "no-cache");
	const char *inm = http_header_get(req, "If-None-Match");
	res->content_type = mime_for(name);
	if (inm && !strcmp(inm, etag)) {
		res->status = 304;
		return true;
	}
	res->status = 200;
	res->static_body = f->data;
	res->static_len = f->len;
	return true;
}

static void add_headers(struct http_server *s, struct MHD_Response *r, struct conn_ctx *cc)
{
	struct http_response *res = &cc->res;
	bool has_cache = false;
	for (struct http_header *h = res->headers; h; h = h->next) {
		MHD_add_response_header(r, h->name, h->value);
		if (!strcasecmp(h->name, "Cache-Control"))
			has_cache = true;
	}
	if (res->content_type)
		MHD_add_response_header(r, "Content-Type", res->content_type);
	if (!has_cache)
		MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Request-Id", cc->req.id);
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(r, "Permissions-Policy",
				"camera=(), microphone=(self), geolocation=(), interest-cohort=()");
	if (s->cert)
		MHD_add_response_header(r, "Strict-Transport-Security", "max-age=63072000; includeSubDomains");
}

static enum MHD_Result send_response(struct http_server *s, struct MHD_Connection *c,
				     struct conn_ctx *cc)
{
	struct http_response *res = &cc->res;
	struct MHD_Response *r;
	if (res->stream) {
		stream_attach(res->stream, c);
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, res->stream,
						      NULL);
	} else if (res->static_body) {
		r = MHD_create_response_from_buffer(res->static_len, (void *)res->static_body,
						    MHD_RESPMEM_PERSISTENT);
	} else {
		size_t n = res->body.len;
		r = MHD_create_response_from_buffer(n, buf_steal(&res->body), MHD_RESPMEM_MUST_FREE);
	}
	if (!r)
		return MHD_NO;
	add_headers(s, r, cc);
	if (cc->rejected)
		MHD_add_response_header(r, "Connection", "close");
	if (res->status == 0)
		res->status = 500;
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)res->status, r);
	MHD_destroy_response(r);
	cc->phase = PH_SENT;
	return ok;
}

/* The handler has returned (on the connection's thread): send its answer,
 * or sleep until a deferred one comes. */
static enum MHD_Result finish(struct http_server *s, struct MHD_Connection *c, struct conn_ctx *cc)
{
	struct http_deferred *d = cc->res.deferred;
	if (!d)
		return send_response(s, c, cc);
	cc->phase = PH_DEFERRED;
	if (__atomic_load_n(&s->stopping, __ATOMIC_SEQ_CST))
		deferred_stop(d);
	if (!deferred_wait(d, c, false))
		return MHD_YES;
	deferred_take(d, &cc->res);
	return send_response(s, c, cc);
}

/* --- the worker pool (ROUTE_SLOW) ---------------------------------------- */

/* Hand cc to the pool, its connection asleep meanwhile. false when the pool
 * is stopping or full (nothing was done). */
static bool slow_submit(struct http_server *s, struct MHD_Connection *c, struct conn_ctx *cc)
{
	pthread_mutex_lock(&s->wmu);
	bool ok = !s->wstop && s->qlen < SLOW_QUEUE_MAX;
	if (ok) {
		cc->phase = PH_SLOW;
		/* asleep before a worker can take it, so its wake-up cannot come first */
		MHD_suspend_connection(c);
		cc->qnext = NULL;
		if (s->qtail)
			s->qtail->qnext = cc;
		else
			s->qhead = cc;
		s->qtail = cc;
		s->qlen++;
		pthread_cond_signal(&s->wcv);
	}
	pthread_mutex_unlock(&s->wmu);
	return ok;
}

/* On a worker: the handler has returned. Wake the connection to send the
 * answer, or leave it asleep until a deferred one comes. */
static void slow_done(struct http_server *s, struct conn_ctx *cc)
{
	struct MHD_Connection *c = cc->req.conn;
	struct http_deferred *d = cc->res.deferred;
	if (d) {
		cc->phase = PH_DEFERRED;
		if (__atomic_load_n(&s->stopping, __ATOMIC_SEQ_CST))
			deferred_stop(d);
		if (!deferred_wait(d, c, true))
			return; /* the producer wakes it */
	} else {
		cc->phase = PH_READY;
	}
	MHD_resume_connection(c);
}

static void *worker(void *arg)
{
	struct http_server *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->wmu);
		while (!s->qhead && !s->wstop)
			pthread_cond_wait(&s->wcv, &s->wmu);
		struct conn_ctx *cc = s->wstop ? NULL : s->qhead;
		if (cc) {
			s->qhead = cc->qnext;
			if (!s->qhead)
				s->qtail = NULL;
			s->qlen--;
		}
		pthread_mutex_unlock(&s->wmu);
		if (!cc)
			return NULL;
		router_dispatch(s->router, &cc->req, &cc->res, s->ctx);
		slow_done(s, cc);
	}
}

/* Stop the pool: requests still queued are answered 503 without running
 * their handler; handlers already running are waited for. Once only. */
static void slow_stop(struct http_server *s)
{
	pthread_mutex_lock(&s->wmu);
	s->wstop = true;
	struct conn_ctx *q = s->qhead;
	s->qhead = s->qtail = NULL;
	s->qlen = 0;
	pthread_cond_broadcast(&s->wcv);
	pthread_mutex_unlock(&s->wmu);
	for (struct conn_ctx *cc = q, *next; cc; cc = next) {
		next = cc->qnext;
		http_error(&cc->res, 503, "server_error", "server_stopping", NULL,
			   "the server is stopping; retry shortly");
		http_set_header(&cc->res, "Retry-After", "5");
		cc->phase = PH_READY;
		MHD_resume_connection(cc->req.conn);
	}
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->wth[i], NULL);
}

/* --- the access handler ------------------------------------------------- */

static void new_request_id(char out[20])
{
	unsigned char r[8];
	if (getrandom(r, sizeof r, GRND_NONBLOCK) != sizeof r) {
		uint64_t t = time_mono_ns();
		memcpy(r, &t, sizeof r);
	}
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 8; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[16] = '\0';
}

static struct conn_ctx *ctx_new(struct http_server *s, struct MHD_Connection *c, const char *url,
				const char *method)
{
	struct conn_ctx *cc = calloc(1, sizeof *cc);
	if (!cc)
		return NULL;
	cc->req.arena = arena_new(0);
	if (!cc->req.arena) {
		free(cc);
		return NULL;
	}
	cc->res.arena = cc->req.arena;
	cc->req.start_ns = time_mono_ns();
	cc->req.conn = c;
	cc->req.server = s;
	cc->req.route_index = -1;
	cc->req.method = arena_strdup(cc->req.arena, method);
	/* MHD gives the path already split from the query and %-decoded */
	cc->req.path = arena_strdup(cc->req.arena, url);
	cc->req.query = "";
	cc->req.tls = s->cert != NULL;
	new_request_id(cc->req.id);
	client_ip(s, c, &cc->req);
	buf_init(&cc->res.body, 0);
	return cc;
}

/* Answer before the body is read. If the client announced a body, the
 * connection closes after the answer, since the unread body would otherwise
 * be taken for the next request. */
static void reject(struct conn_ctx *cc, int status, const char *code, const char *msg)
{
	struct MHD_Connection *c = cc->req.conn;
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
	cc->rejected = (cl && strcmp(cl, "0")) || te;
	http_error(&cc->res, status, "invalid_request_error", code, NULL, "%s", msg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *s = cls;
	struct conn_ctx *cc = *con_cls;

	if (!cc) {
		cc = ctx_new(s, c, url, method);
		if (!cc)
			return MHD_NO;
		*con_cls = cc;
		__atomic_add_fetch(&s->inflight, 1, __ATOMIC_SEQ_CST);
		metrics_inflight(1);
		struct http_request *req = &cc->req;
		char allow[128];
		int m = router_match(s->router, method, req->path, req, allow, sizeof allow);
		if (m < 0 && serve_static(s, req, &cc->res))
			return send_response(s, c, cc);
		if (m == -404) {
			reject(cc, 404, "not_found", "no such endpoint");
			return send_response(s, c, cc);
		}
		if (m == -405) {
			reject(cc, 405, "method_not_allowed", "method not allowed on this endpoint");
			http_set_header(&cc->res, "Allow", allow);
			return send_response(s, c, cc);
		}
		cc->limit = (req->route->flags & ROUTE_UPLOAD) ? s->o.upload_limit : s->o.body_limit;
		buf_init(&req->body, cc->limit);
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl) {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(cl, &end, 10);
			if (errno || *end || n > cc->limit) {
				reject(cc, 413, "body_too_large", "the request body is larger than this endpoint accepts");
				return send_response(s, c, cc);
			}
		}
		return MHD_YES;
	}

	switch (cc->phase) {
	case PH_READ:
		break;
	case PH_READY:
		return send_response(s, c, cc);
	case PH_DEFERRED:
		if (deferred_take(cc->res.deferred, &cc->res))
			return send_response(s, c, cc);
		return MHD_YES;
	case PH_SLOW:
	case PH_SENT:
		return MHD_YES;
	}
	uint64_t elapsed = time_mono_ns() - cc->req.start_ns;
	if (elapsed > (uint64_t)s->o.request_timeout_s * 1000000000ull) {
		/* too slow: a trickled or endless body. Close without answer;
		 * the completion notice logs it as 408. */
		cc->res.status = 408;
		return MHD_NO;
	}
	if (*upload_size) {
		if (!cc->rejected && buf_append(&cc->req.body, upload, *upload_size) != ERR_OK) {
			cc->rejected = true;
			cc->reject_status = 413;
			buf_free(&cc->req.body);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (cc->reject_status == 413) {
		reject(cc, 413, "body_too_large", "the request body is larger than this endpoint accepts");
		return send_response(s, c, cc);
	}
	if ((cc->req.route->flags & ROUTE_SLOW) && s->nworkers) {
		if (slow_submit(s, c, cc))
			return MHD_YES;
		http_error(&cc->res, 503, "server_error", "busy", NULL,
			   "the server is busy (or stopping); retry shortly");
		http_set_header(&cc->res, "Retry-After", "1");
		return send_response(s, c, cc);
	}
	router_dispatch(s->router, &cc->req, &cc->res, s->ctx);
	return finish(s, c, cc);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct conn_ctx *cc = *con_cls;
	if (!cc)
		return;
	uint64_t ns = time_mono_ns() - cc->req.start_ns;
	int status = cc->res.status ? cc->res.status : 500;
	if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
		status = 408;
	const struct route *rt = cc->req.route;
	/* the route pattern, never the path: paths can carry IDs */
	log_event(LOG_INFO, "http.request",
		  "\"rid\":\"%s\",\"method\":\"%s\",\"route\":\"%s\",\"status\":%d,\"ms\":%.3f%s",
		  cc->req.id, log_str(cc->req.method), rt ? rt->path : "-", status, (double)ns / 1e6,
		  toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : ",\"aborted\":true");
	metrics_observe(cc->req.route_index, status, ns);
	metrics_inflight(-1);
	if (cc->res.stream)
		stream_detach(cc->res.stream);
	if (cc->res.deferred)
		deferred_detach(cc->res.deferred);
	if (cc->req.json)
		json_decref(cc->req.json);
	buf_free(&cc->req.body);
	buf_free(&cc->res.body);
	arena_free(cc->req.arena);
	free(cc);
	*con_cls = NULL;
	__atomic_sub_fetch(&s->inflight, 1, __ATOMIC_SEQ_CST);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];
	vsnprintf(msg, sizeof msg, fmt, ap);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_event(LOG_WARN, "http.mhd", "\"message\":\"%s\"", log_str(msg));
}

/* --- start and stop ----------------------------------------------------- */

static char *slurp(const char *path, struct errinfo *e, const char *field)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		err_set(e, ERR_IO, field, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	struct buf b;
	buf_init(&b, 1 << 20);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		if (buf_append(&b, tmp, n)) {
			buf_free(&b);
			fclose(f);
			err_set(e, ERR_TOOBIG, field, "%s is too large", path);
			return NULL;
		}
	fclose(f);
	return buf_steal(&b);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len,
			struct errinfo *e)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	if (!colon || (size_t)(colon - listen) >= sizeof host)
		return err_set(e, ERR_INVALID, "server.listen", "listen address '%s' must be HOST:PORT", listen);
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return err_set(e, ERR_INVALID, "server.listen", "listen port in '%s' is not 0..65535", listen);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *h = host;
	if (h[0] == '[') { /* [::1]:8080 */
		h++;
		size_t l = strlen(h);
		if (l && h[l - 1] == ']')
			h[l - 1] = '\0';
	}
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (!strcmp(h, "localhost"))
		h = "127.0.0.1";
	if (inet_pton(AF_INET, h, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*len = sizeof *v4;
	} else if (inet_pton(AF_INET6, h, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*len = sizeof *v6;
	} else {
		return err_set(e, ERR_INVALID, "server.listen", "listen host '%s' is not an IP address", h);
	}
	return ERR_OK;
}

int http_server_start(struct http_server **out, const struct http_server_options *o,
		      struct router *r, void *ctx, struct errinfo *e)
{
	*out = NULL;
	struct http_server *s = calloc(1, sizeof *s);
	if (!s)
		return ERR_NOMEM;
	s->o = *o;
	s->router = r;
	s->ctx = ctx;
	pthread_mutex_init(&s->wmu, NULL);
	pthread_cond_init(&s->wcv, NULL);
	int rc = ERR_OK;
	struct sockaddr_storage ss;
	socklen_t slen;
	if ((rc = parse_listen(o->listen, &ss, &slen, e)))
		goto fail;
	if (o->trusted_proxies && *o->trusted_proxies) {
		char tmp[512];
		snprintf(tmp, sizeof tmp, "%s", o->trusted_proxies);
		char *save = NULL;
		for (char *t = strtok_r(tmp, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
			unsigned char d[16];
			if (s->nproxies == MAX_PROXIES ||
			    (inet_pton(AF_INET, t, d) != 1 && inet_pton(AF_INET6, t, d) != 1)) {
				rc = err_set(e, ERR_INVALID, "server.trusted_proxies",
					     "trusted_proxies: '%s' is not an IP address (or more than %d)", t,
					     MAX_PROXIES);
				goto fail;
			}
			snprintf(s->proxies[s->nproxies++], sizeof s->proxies[0], "%s", t);
		}
	}
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	bool tls = o->tls_cert && *o->tls_cert;
	if (tls != (o->tls_key && *o->tls_key)) {
		rc = err_set(e, ERR_INVALID, "server.tls_key", "set both tls_cert and tls_key, or neither");
		goto fail;
	}
	if (tls) {
		if (!(s->cert = slurp(o->tls_cert, e, "server.tls_cert")) ||
		    !(s->key = slurp(o->tls_key, e, "server.tls_key"))) {
			rc = ERR_IO;
			goto fail;
		}
		flags |= MHD_USE_TLS;
	}
	int nw = o->workers > 0 ? o->workers : DEFAULT_WORKERS;
	if (!(s->wth = calloc((size_t)nw, sizeof *s->wth))) {
		rc = err_set(e, ERR_NOMEM, NULL, "out of memory");
		goto fail;
	}
	for (; s->nworkers < nw; s->nworkers++)
		if (pthread_create(&s->wth[s->nworkers], NULL, worker, s)) {
			rc = err_set(e, ERR_INTERNAL, "server.workers", "cannot start the worker threads");
			goto fail;
		}
	struct MHD_OptionItem opts[] = {
		{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
		{MHD_OPTION_SOCK_ADDR, 0, &ss},
		{MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL},
		{MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout_s, NULL},
		{MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)o->header_limit, NULL},
		{MHD_OPTION_CONNECTION_LIMIT, o->max_connections, NULL},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
		{MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL},
		{tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->cert},
		{tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->key},
		{MHD_OPTION_END, 0, NULL},
	};
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
				MHD_OPTION_END);
	if (!s->d) {
		rc = err_set(e, ERR_IO, "server.listen", "cannot listen on %s (in use, or bad TLS files?)",
			     o->listen);
		goto fail;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : 0;
	*out = s;
	return ERR_OK;
fail:
	slow_stop(s); /* no daemon: no request reached the pool */
	free(s->wth);
	pthread_mutex_destroy(&s->wmu);
	pthread_cond_destroy(&s->wcv);
	free(s->cert);
	free(s->key);
	free(s);
	return rc;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_stop(struct http_server *s, int grace_s)
{
	if (!s)
		return;
	MHD_socket fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	uint64_t deadline = time_mono_ns() + (uint64_t)grace_s * 1000000000ull;
	while (__atomic_load_n(&s->inflight, __ATOMIC_SEQ_CST) > 0 && time_mono_ns() < deadline) {
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	/* streams still open end now, deferred answers still pending and
	 * ROUTE_SLOW requests not started are answered 503, handlers running on
	 * the pool are waited for: MHD cannot stop with a connection asleep. A
	 * handler that defers from now on is answered 503 at once (finish,
	 * slow_done read stopping after deferring). */
	__atomic_store_n(&s->stopping, true, __ATOMIC_SEQ_CST);
	stream_shutdown_all();
	deferred_shutdown_all(s);
	slow_stop(s);
	for (int i = 0; i < 50 && __atomic_load_n(&s->inflight, __ATOMIC_SEQ_CST) > 0; i++) {
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	int64_t left = __atomic_load_n(&s->inflight, __ATOMIC_SEQ_CST);
	if (left > 0)
		log_warn("http.stop", "\"unfinished\":%lld", (long long)left);
	MHD_stop_daemon(s->d);
	free(s->wth);
	pthread_mutex_destroy(&s->wmu);
	pthread_cond_destroy(&s->wcv);
	if (s->key)
		memset(s->key, 0, strlen(s->key));
	free(s->cert);
	free(s->key);
	free(s);
}
