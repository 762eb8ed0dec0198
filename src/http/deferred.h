/* deferred.h: the server's side of struct http_deferred (server.c only). */
#ifndef ATELIER_HTTP_DEFERRED_H
#define ATELIER_HTTP_DEFERRED_H

#include <microhttpd.h>
#include <stdbool.h>

#include "http/http.h"

/* The handler returned with res->deferred set: true when the answer is
 * already there (send it); else the connection sleeps until it comes
 * (suspended now, or already when suspended is true). */
bool deferred_wait(struct http_deferred *d, struct MHD_Connection *c, bool suspended);

/* The connection was called again: true with the answer moved into res;
 * false when none is there yet (the connection sleeps again). */
bool deferred_take(struct http_deferred *d, struct http_response *res);

/* The connection ended (completed or aborted): later completions are
 * dropped; drops the server's reference. */
void deferred_detach(struct http_deferred *d);

/* Answer d 503 server_stopping now, unless it is answered (the server is
 * stopping and d was deferred after deferred_shutdown_all). */
void deferred_stop(struct http_deferred *d);

/* Server owner stopping: answer each of its pending ones 503
 * server_stopping and wake its connection. */
void deferred_shutdown_all(const void *owner);

#endif
