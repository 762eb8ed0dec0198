/*
 * stream.c: streamed responses over suspended connections.
 *
 * The content reader runs on an MHD thread. With nothing queued it suspends
 * the connection and returns 0; a producer that queues bytes (or closes)
 * resumes it. Both sides run under the stream's mutex, so a write between the
 * reader's check and its suspend cannot be missed. The stream is reference
 * counted: one reference for the connection, one for the producer.
 */
#include "http/stream.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

#define STREAM_CAP (4u << 20)

struct http_stream {
	pthread_mutex_t mu;
	struct buf q;          /* bytes not yet handed to MHD, from off */
	size_t off;
	int refs;
	int closed;            /* the producer is done */
	int gone;              /* the client left (or the server stops) */
	int suspended;
	struct MHD_Connection *conn;
	struct http_stream *next, *prev; /* open streams, for shutdown */
};

static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;
static struct http_stream *all;

static void unref(struct http_stream *s)
{
	pthread_mutex_lock(&s->mu);
	int left = --s->refs;
	pthread_mutex_unlock(&s->mu);
	if (left)
		return;
	pthread_mutex_lock(&all_mu);
	if (s->prev)
		s->prev->next = s->next;
	else if (all == s)
		all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	pthread_mutex_unlock(&all_mu);
	pthread_mutex_destroy(&s->mu);
	buf_free(&s->q);
	free(s);
}

/* With s->mu held: wake the connection if it sleeps. */
static void wake(struct http_stream *s)
{
	if (s->suspended && s->conn) {
		s->suspended = 0;
		MHD_resume_connection(s->conn);
	}
}

struct http_stream *http_stream_open(struct http_request *req, struct http_response *res, int status,
				     const char *content_type)
{
	struct http_stream *s = calloc(1, sizeof *s);
	if (!s) {
		http_error(res, 500, "server_error", NULL, NULL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	buf_init(&s->q, STREAM_CAP);
	s->refs = 2; /* the connection's and the producer's */
	pthread_mutex_lock(&all_mu);
	s->next = all;
	if (all)
		all->prev = s;
	all = s;
	pthread_mutex_unlock(&all_mu);
	res->status = status;
	res->content_type = content_type;
	res->stream = s;
	http_set_header(res, "Cache-Control", "no-store");
	http_set_header(res, "X-Accel-Buffering", "no"); /* proxies: do not buffer events */
	return s;
}

void stream_attach(struct http_stream *s, struct MHD_Connection *c)
{
	pthread_mutex_lock(&s->mu);
	s->conn = c;
	pthread_mutex_unlock(&s->mu);
}

int http_stream_write(struct http_stream *s, const void *p, size_t n)
{
	pthread_mutex_lock(&s->mu);
	int rc = ERR_OK;
	if (s->gone || s->closed)
		rc = ERR_IO;
	else if (s->q.len - s->off + n > STREAM_CAP)
		rc = ERR_TOOBIG;
	else {
		if (s->off && s->off == s->q.len) {
			buf_reset(&s->q);
			s->off = 0;
		}
		rc = buf_append(&s->q, p, n);
	}
	if (rc == ERR_OK)
		wake(s);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int http_stream_event(struct http_stream *s, const char *event, const char *data)
{
	struct buf b;
	buf_init(&b, STREAM_CAP);
	int rc = ERR_OK;
	if (event)
		rc = buf_printf(&b, "event: %s\n", event);
	/* a data field may not hold a newline: split into several data lines */
	for (const char *p = data; !rc;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		rc = buf_puts(&b, "data: ");
		if (!rc)
			rc = buf_append(&b, p, len);
		if (!rc)
			rc = buf_puts(&b, "\n");
		if (!nl)
			break;
		p = nl + 1;
	}
	if (!rc)
		rc = buf_puts(&b, "\n");
	if (!rc)
		rc = http_stream_write(s, b.data, b.len);
	buf_free(&b);
	return rc;
}

int http_stream_gone(struct http_stream *s)
{
	pthread_mutex_lock(&s->mu);
	int g = s->gone;
	pthread_mutex_unlock(&s->mu);
	return g;
}

void http_stream_close(struct http_stream *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->closed = 1;
	wake(s);
	pthread_mutex_unlock(&s->mu);
	unref(s);
}

ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct http_stream *s = cls;
	pthread_mutex_lock(&s->mu);
	ssize_t n;
	if (s->off < s->q.len) {
		size_t k = s->q.len - s->off < max ? s->q.len - s->off : max;
		memcpy(out, s->q.data + s->off, k);
		s->off += k;
		n = (ssize_t)k;
	} else if (s->closed || s->gone) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		/* nothing yet: sleep until a producer writes or closes */
		s->suspended = 1;
		MHD_suspend_connection(s->conn);
		n = 0;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

void stream_detach(struct http_stream *s)
{
	pthread_mutex_lock(&s->mu);
	s->gone = 1;
	s->conn = NULL;
	s->suspended = 0;
	pthread_mutex_unlock(&s->mu);
	unref(s);
}

void stream_shutdown_all(void)
{
	pthread_mutex_lock(&all_mu);
	for (struct http_stream *s = all; s; s = s->next) {
		pthread_mutex_lock(&s->mu);
		s->gone = 1;
		wake(s);
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_unlock(&all_mu);
}
