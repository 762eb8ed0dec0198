/* stream.h: the server's side of struct http_stream (server.c only). */
#ifndef ATELIER_HTTP_STREAM_H
#define ATELIER_HTTP_STREAM_H

#include <microhttpd.h>
#include <sys/types.h>

#include "http/http.h"

/* The content reader MHD calls for a streamed response. */
ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max);

/* The connection ended (completed or aborted): mark gone, drop the
 * server's reference. */
void stream_detach(struct http_stream *s);

/* Server stopping: mark every open stream gone and wake its connection. */
void stream_shutdown_all(void);

/* Attach the MHD connection (at response creation). */
void stream_attach(struct http_stream *s, struct MHD_Connection *c);

#endif
