/*
 * deferred.c: responses answered later, from another thread, over a
 * suspended connection.
 *
 * The handler defers and returns; the server puts the connection to sleep
 * (deferred_wait). A producer completes once: it stores the status, headers
 * and body and wakes the connection; the connection thread, called again,
 * takes the answer (deferred_take) and sends it as an ordinary response. Both
 * sides run under the object's mutex, so a completion between the server's
 * check and its suspend cannot be missed. The object is reference counted,
 * one reference for the connection and one for the producer, so a producer
 * that completes after the client left, or after the server stopped and
 * answered for it, touches only memory it still owns. The alternative, a 200
 * stream kept alive with spaces until the answer is known, cannot say that
 * the answer failed in its status.
 */
#include "http/deferred.h"

#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 4

struct http_deferred {
	pthread_mutex_t mu;
	int refs;
	bool done;             /* an answer is set (by the producer or the shutdown) */
	bool gone;             /* the connection ended */
	bool waiting;          /* the connection sleeps until done */
	struct MHD_Connection *conn;
	int status;
	char *body;            /* JSON text (malloc) */
	struct {
		char name[64], value[256];
	} hdr[MAX_HEADERS];
	int nhdr;
	const void *owner;     /* the server, for deferred_shutdown_all */
	struct http_deferred *next, *prev; /* every live one, for shutdown */
};

static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_deferred *all;

static void unref(struct http_deferred *d)
{
	pthread_mutex_lock(&d->mu);
	int left = --d->refs;
	pthread_mutex_unlock(&d->mu);
	if (left)
		return;
	pthread_mutex_lock(&all_mu);
	if (d->prev)
		d->prev->next = d->next;
	else if (all == d)
		all = d->next;
	if (d->next)
		d->next->prev = d->prev;
	pthread_mutex_unlock(&all_mu);
	pthread_mutex_destroy(&d->mu);
	free(d->body);
	free(d);
}

/* With d->mu held: wake the connection if it sleeps. */
static void wake(struct http_deferred *d)
{
	if (d->waiting && d->conn) {
		d->waiting = false;
		MHD_resume_connection(d->conn);
	}
}

struct http_deferred *http_defer(struct http_request *req, struct http_response *res)
{
	struct http_deferred *d = calloc(1, sizeof *d);
	if (!d) {
		http_error(res, 500, "server_error", NULL, NULL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&d->mu, NULL);
	d->refs = 2; /* the connection's and the producer's */
	d->owner = req->server;
	pthread_mutex_lock(&all_mu);
	d->next = all;
	if (all)
		all->prev = d;
	all = d;
	pthread_mutex_unlock(&all_mu);
	res->deferred = d;
	return d;
}

void http_deferred_header(struct http_deferred *d, const char *name, const char *value)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	if (!d->done && d->nhdr < MAX_HEADERS && strlen(name) < sizeof d->hdr[0].name &&
	    strlen(value) < sizeof d->hdr[0].value) {
		snprintf(d->hdr[d->nhdr].name, sizeof d->hdr[0].name, "%s", name);
		snprintf(d->hdr[d->nhdr].value, sizeof d->hdr[0].value, "%s", value);
		d->nhdr++;
	}
	pthread_mutex_unlock(&d->mu);
}

/* Set the answer unless one is set or nobody listens; takes body. */
static void complete(struct http_deferred *d, int status, char *body)
{
	pthread_mutex_lock(&d->mu);
	if (d->done || d->gone) {
		free(body);
	} else {
		d->status = body ? status : 500;
		d->body = body;
		d->done = true;
		wake(d);
	}
	pthread_mutex_unlock(&d->mu);
}

bool http_deferred_gone(struct http_deferred *d)
{
	if (!d)
		return true;
	pthread_mutex_lock(&d->mu);
	bool gone = d->gone;
	if (!gone && d->conn && d->waiting) {
		/* a sleeping connection is not watched by the server: ask the
		 * socket whether the peer has shut its side (POLLRDHUP is set
		 * whatever unread bytes remain, a TLS close_notify among them) */
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(d->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci) {
			struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
			if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
				gone = true;
		}
	}
	pthread_mutex_unlock(&d->mu);
	return gone;
}

void http_deferred_json(struct http_deferred *d, int status, json_t *v)
{
	if (!d) {
		json_decref(v);
		return;
	}
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(v);
	complete(d, status, s);
	unref(d);
}

void http_deferred_error(struct http_deferred *d, int status, const char *type, const char *code,
			 const char *param, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	http_deferred_json(d, status, http_error_value(type, code, param, msg));
}

bool deferred_wait(struct http_deferred *d, struct MHD_Connection *c, bool suspended)
{
	pthread_mutex_lock(&d->mu);
	bool ready = d->done;
	if (!ready) {
		d->conn = c;
		d->waiting = true;
		if (!suspended)
			MHD_suspend_connection(c);
	}
	pthread_mutex_unlock(&d->mu);
	return ready;
}

bool deferred_take(struct http_deferred *d, struct http_response *res)
{
	pthread_mutex_lock(&d->mu);
	bool ready = d->done;
	if (!ready && d->conn && !d->waiting) {
		/* called again before an answer: sleep on */
		d->waiting = true;
		MHD_suspend_connection(d->conn);
	}
	if (ready) {
		static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
					  "\"code\":null,\"param\":null}}";
		const char *b = d->body ? d->body : oom;
		http_text(res, d->status, "application/json", b, strlen(b));
		for (int i = 0; i < d->nhdr; i++)
			http_set_header(res, d->hdr[i].name, d->hdr[i].value);
	}
	pthread_mutex_unlock(&d->mu);
	return ready;
}

void deferred_detach(struct http_deferred *d)
{
	pthread_mutex_lock(&d->mu);
	d->gone = true;
	d->conn = NULL;
	d->waiting = false;
	pthread_mutex_unlock(&d->mu);
	unref(d);
}

/* With d->mu held: answer 503 server_stopping, unless answered. */
static void stop_one(struct http_deferred *d)
{
	if (d->done || d->gone)
		return;
	json_t *v = http_error_value("server_error", "server_stopping", NULL,
				     "the server is stopping; retry shortly");
	d->body = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	d->status = d->body ? 503 : 500;
	d->done = true;
	if (d->nhdr < MAX_HEADERS) {
		snprintf(d->hdr[d->nhdr].name, sizeof d->hdr[0].name, "Retry-After");
		snprintf(d->hdr[d->nhdr].value, sizeof d->hdr[0].value, "5");
		d->nhdr++;
	}
	wake(d);
}

void deferred_stop(struct http_deferred *d)
{
	pthread_mutex_lock(&d->mu);
	stop_one(d);
	pthread_mutex_unlock(&d->mu);
}

void deferred_shutdown_all(const void *owner)
{
	pthread_mutex_lock(&all_mu);
	for (struct http_deferred *d = all; d; d = d->next) {
		pthread_mutex_lock(&d->mu);
		if (d->owner == owner)
			stop_one(d);
		pthread_mutex_unlock(&d->mu);
	}
	pthread_mutex_unlock(&all_mu);
}
