/*
 * http.h: the HTTP layer: requests, responses, the route table and its
 * guards, and the server (libmicrohttpd, epoll, thread pool).
 *
 * A route is a row: method, path pattern with {params}, handler, guard (who
 * may call it), scope for API keys, rate-limit class, body limit. The router,
 * never the handler, enforces the guard: it resolves the caller through the
 * authenticator that api/ installs, checks role and scope, and checks the
 * CSRF token on state changes made with a session cookie (ACC-4, ACC-8).
 *
 * Handlers fill a struct http_response; errors use the OpenAI error shape
 * {"error":{"message","type","code","param"}}. A handler runs on a
 * connection thread unless its route is ROUTE_SLOW, and answers before it
 * returns, unless it streams (http_stream_open) or defers (http_defer).
 */
#ifndef ATELIER_HTTP_HTTP_H
#define ATELIER_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"

/* Who may call a route. */
enum guard {
	GUARD_PUBLIC,   /* anyone */
	GUARD_USER,     /* a signed-in user: session cookie or API key */
	GUARD_SESSION,  /* a session cookie only (the studio; never an API key) */
	GUARD_KEY,      /* an API key only */
	GUARD_SUPPORT,  /* staff: support or admin role, session only */
	GUARD_ADMIN,    /* admin role, session only */
	GUARD__MAX
};

/* Rate-limit classes; the limiter (a later issue) reads them. */
enum rl_class { RL_NONE, RL_READ, RL_WRITE, RL_AUTH, RL_GENERATE, RL__MAX };

/* API key scopes (bit mask). */
enum scope { SCOPE_GENERATE = 1, SCOPE_READ = 2, SCOPE_PRIVACY = 4 };

enum role { ROLE_NONE, ROLE_USER, ROLE_SUPPORT, ROLE_ADMIN, ROLE__MAX };

enum auth_via { AUTH_NONE, AUTH_SESSION, AUTH_KEY };

/* The caller, as the authenticator resolved it. */
struct identity {
	enum auth_via via;
	enum role role;
	char user_id[40];
	char session_id[40];
	char key_id[40];
	unsigned scopes;   /* for keys; sessions have every scope */
	char csrf[64];     /* the session's CSRF token, compared by the router */
	bool restricted;   /* processing restricted (PRIV-6) */
};

enum route_flags {
	ROUTE_JSON = 1,     /* body must be a JSON object; parsed into req->json */
	ROUTE_UPLOAD = 2,   /* larger body limit ([server] upload_limit) */
	ROUTE_RAW = 4,      /* keep the raw body (webhooks need it for signatures) */
	ROUTE_HIDDEN = 8,   /* left out of /openapi.json */
	ROUTE_SLOW = 16,    /* the handler may block for long (Argon2id): it runs on the
			     * server's worker pool while its connection sleeps, so no
			     * connection thread waits on it ([server] workers) */
};

struct http_request;
struct http_response;

typedef void (*http_handler)(struct http_request *req, struct http_response *res, void *ctx);

struct route {
	const char *method;  /* "GET", "POST", ... */
	const char *path;    /* "/api/keys/{id}" */
	http_handler fn;
	enum guard guard;
	unsigned scope;      /* scope an API key needs (0: none) */
	enum rl_class rate;
	unsigned flags;
	const char *summary; /* one line, for `atelier routes` and /openapi.json */
};

#define HTTP_MAX_PARAMS 6

struct http_request {
	struct arena *arena;          /* freed when the response is sent */
	const char *method;
	const char *path;             /* without the query string */
	const char *query;            /* raw query string, or "" */
	char id[20];                  /* request ID, also in X-Request-Id */
	const struct route *route;    /* matched route, or NULL */
	int route_index;
	const char *param_names[HTTP_MAX_PARAMS];
	const char *param_values[HTTP_MAX_PARAMS];
	int nparams;
	struct buf body;
	json_t *json;                 /* parsed body for ROUTE_JSON routes */
	struct identity who;
	char client_ip[64];
	bool tls;
	uint64_t start_ns;
	void *conn;                   /* the server's connection handle */
	void *server;
};

struct http_header {
	const char *name, *value;   /* arena-owned */
	struct http_header *next;
};

struct http_stream;

struct http_response {
	int status;
	const char *content_type;
	struct buf body;
	const void *static_body;    /* set instead of body for embedded files */
	size_t static_len;
	struct http_header *headers;
	struct http_stream *stream;  /* set by http_stream_open */
	struct http_deferred *deferred; /* set by http_defer */
	struct arena *arena;
};

/* --- requests --------------------------------------------------------- */

/* A request header, or NULL. Case-insensitive name. */
const char *http_header_get(struct http_request *req, const char *name);

/* A cookie's value, or NULL. */
const char *http_cookie(struct http_request *req, const char *name);

/* A path parameter ({id}), or NULL. */
const char *http_param(struct http_request *req, const char *name);

/* A query parameter, URL-decoded into the arena, or NULL. */
const char *http_query(struct http_request *req, const char *name);

/* --- responses -------------------------------------------------------- */

/* Add a response header (both strings copied into the arena). */
void http_set_header(struct http_response *res, const char *name, const char *value);

/* Answer with a JSON value (takes the reference). */
void http_json(struct http_response *res, int status, json_t *v);

/* Answer with text of the given content type. */
void http_text(struct http_response *res, int status, const char *content_type, const char *text,
	       size_t n);

/* The OpenAI error shape. type: "invalid_request_error", … code: a short
 * constant or NULL; param: the field at fault or NULL. */
void http_error(struct http_response *res, int status, const char *type, const char *code,
		const char *param, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The OpenAI error value {"error":{...}} that http_error answers with; the
 * caller owns the reference. */
json_t *http_error_value(const char *type, const char *code, const char *param, const char *msg);

/* --- deferred responses ------------------------------------------------------ *
 *
 * A handler whose answer is known only later (an image job on an engine
 * thread) defers it and returns at once: its connection sleeps (suspended)
 * until a producer, on any thread, completes the answer with a status,
 * headers and a JSON body, which the server then sends like any other
 * response (same security headers, request ID, access log). The status is
 * chosen at completion, so a failure is a real 4xx/5xx, not an error in a
 * 200 body.
 *
 * The producer must complete exactly once; completing is always safe: for a
 * connection that has gone, or a response the server already answered
 * because it is stopping (503 server_stopping), the answer is dropped.
 * A client that leaves while the connection sleeps is not noticed by the
 * server (the socket is not watched) until the answer is written; a producer
 * that can stop early asks http_deferred_gone. */

struct http_deferred;

/* Defer res; the caller owns the producer's reference, released by the
 * completing call. NULL when out of memory (res is then a 500). */
struct http_deferred *http_defer(struct http_request *req, struct http_response *res);

/* Add a header to the coming answer (copied; at most 4, each name under 64
 * and value under 256 bytes; others are dropped). Before completing only. */
void http_deferred_header(struct http_deferred *d, const char *name, const char *value);

/* Complete with a JSON value (takes the reference) and drop the producer's
 * reference. Any thread. */
void http_deferred_json(struct http_deferred *d, int status, json_t *v);

/* Whether the client has left: the connection ended, or, while it sleeps,
 * its peer shut the socket (checked now, without blocking). Any thread,
 * before completing. True for NULL. */
bool http_deferred_gone(struct http_deferred *d);

/* Complete with the OpenAI error shape (see http_error). Any thread. */
void http_deferred_error(struct http_deferred *d, int status, const char *type, const char *code,
			 const char *param, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* --- streamed responses (server-sent events) ------------------------------ *
 *
 * A handler that answers over time opens a stream and returns at once, so no
 * server thread waits on a slow generation. Producers (engine threads) write
 * to the stream from any thread; the connection sleeps (suspended) while
 * there is nothing to send. When the client goes away, writes fail with
 * ERR_IO and http_stream_gone() turns true, so the producer stops within one
 * step. Each side releases the stream once: the server when the connection
 * ends, the producer with http_stream_close(). */

/* Make res a stream with this status and content type; NULL when out of
 * memory (res is then a 500). The caller owns one reference. */
struct http_stream *http_stream_open(struct http_request *req, struct http_response *res, int status,
				     const char *content_type);

/* Queue bytes for the client. ERR_IO when the client has gone; ERR_TOOBIG
 * when more than 4 MiB wait unsent (a stalled reader). */
int http_stream_write(struct http_stream *s, const void *p, size_t n);

/* One server-sent event: "data: <json>\n\n" (event may be NULL). */
int http_stream_event(struct http_stream *s, const char *event, const char *data);

/* 1 once the client has disconnected (or the server is stopping). */
int http_stream_gone(struct http_stream *s);

/* The producer is done: send what is queued, then end the response, and
 * drop the producer's reference. Accepts NULL. */
void http_stream_close(struct http_stream *s);

/* --- routes and server ------------------------------------------------- */

/* Resolves the caller of a request (session cookie or Authorization header)
 * into who. Returns ERR_OK with who->via = AUTH_NONE when no credential was
 * presented, ERR_AUTH when one was presented and is not valid. Installed by
 * api/; without one every caller is anonymous. */
typedef int (*http_auth_fn)(struct http_request *req, struct identity *who, void *ctx);

struct router;

/* A router over tables, each ending with a row whose method is NULL. */
int router_new(struct router **out, const struct route *const *tables, size_t ntables,
	       struct errinfo *e);
void router_free(struct router *r);

/* Install the authenticator. */
void router_set_auth(struct router *r, http_auth_fn fn);

/* Number of routes and the i-th route. */
size_t router_count(const struct router *r);
const struct route *router_at(const struct router *r, size_t i);

/* Match method and path. Returns the route index, or -404 (no path
 * matches) or -405 (path matches, method does not; allow lists the methods). */
int router_match(const struct router *r, const char *method, const char *path,
		 struct http_request *req, char *allow, size_t allow_len);

/* Run the guard and the handler of req->route (set by router_match). */
void router_dispatch(const struct router *r, struct http_request *req, struct http_response *res,
		     void *ctx);

/* Text names for guards, for `atelier routes` and the OpenAPI document. */
const char *guard_name(enum guard g);
const char *scope_names(unsigned scopes, char *out, size_t n);

/* --- metrics ----------------------------------------------------------- */

/* Prometheus text: requests by route and status, latency histogram,
 * in-flight requests. Route labels are the patterns, never the paths. */
void metrics_render(const struct router *r, struct buf *out);

/* Called by the server when a request ends. route < 0: unmatched. */
void metrics_observe(int route, int status, uint64_t ns);
void metrics_inflight(int delta);
/* A gateway's own time on one upstream call: before the call starts and
 * after the upstream's answer ends (histogram
 * atelier_upstream_overhead_seconds, finer buckets, 0.1 ms to 0.1 s). */
void metrics_upstream_overhead(uint64_t ns);

/* Requests served since start, added up by status class, and those being
 * served now: a plain value, filled by metrics_summary(). */
struct metrics_summary {
	uint64_t by_class[6]; /* [2] 2xx, [4] 4xx, [5] 5xx …; [0] unused */
	int64_t in_flight;
};
void metrics_summary(struct metrics_summary *out);

/* --- server ------------------------------------------------------------ */

struct http_server_options {
	const char *listen;          /* host:port */
	int threads;
	size_t body_limit, upload_limit, header_limit;
	int request_timeout_s, idle_timeout_s, max_connections;
	const char *tls_cert, *tls_key;  /* PEM file paths; both or neither */
	const char *trusted_proxies;     /* comma-separated IPs */
	const char *static_prefix;       /* embedded files under this path ("web/") */
	int workers;                     /* threads for ROUTE_SLOW handlers (0: 4) */
};

struct http_server;

/* Listen and serve in background threads. ctx is passed to handlers. */
int http_server_start(struct http_server **out, const struct http_server_options *o,
		      struct router *r, void *ctx, struct errinfo *e);

/* The port actually bound (for --listen host:0). */
int http_server_port(const struct http_server *s);

/* Stop accepting, let requests in flight finish for up to grace seconds,
 * then close everything: ROUTE_SLOW requests still queued and deferred
 * responses still pending are answered 503 server_stopping, handlers
 * running on the worker pool are waited for. */
void http_server_stop(struct http_server *s, int grace_s);

#endif
