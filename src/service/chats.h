/*
 * chats.h: the studio's opt-in chat history (issue #5).
 *
 * Nothing is stored unless the owner switched history on; titles and
 * message contents are sealed under the owner's key (SEC-3); switching it
 * off deletes every stored conversation in the same transaction. While
 * history is off, every conversation call fails with ERR_EXISTS on the
 * field "history" (the API answers 409 history_off).
 */
#ifndef ATELIER_SERVICE_CHATS_H
#define ATELIER_SERVICE_CHATS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "base/err.h"
#include "service/app.h"

#define CHATS_MAX_MESSAGES 500
#define CHATS_MAX_CONTENT 100000 /* characters (code points) per message */
#define CHATS_MAX_TITLE 200      /* characters */

/* *on: whether owner keeps chat history (off unless switched on). */
int chats_history_get(struct app *app, const char *owner, bool *on);

/* Switch owner's history on or off; off deletes every conversation of the
 * owner in the same transaction, *deleted counting them (0 when on). */
int chats_history_set(struct app *app, const char *owner, bool on, int64_t *deleted);

/* The owner's conversations, most recently updated first (limit 1..100,
 * cursor `before`): {object, data:[{id, title, created_at, updated_at,
 * message_count}], next}. Caller decrefs *out. */
int chats_list(struct app *app, const char *owner, const char *before, int limit, json_t **out,
	       struct errinfo *e);

/* Store a new conversation from body {title?, messages:[{role, content}]}
 * (fields already limited to those by the caller); *out is it, with its
 * messages. */
int chats_create(struct app *app, const char *owner, const json_t *body, json_t **out, struct errinfo *e);

/* Replace conversation id's messages (and its title, when body names one),
 * in one transaction. ERR_NOTFOUND when it is not the owner's. */
int chats_replace(struct app *app, const char *owner, const char *id, const json_t *body, json_t **out,
		  struct errinfo *e);

/* Conversation id of owner with its messages, opened. */
int chats_get(struct app *app, const char *owner, const char *id, json_t **out, struct errinfo *e);

/* Delete conversation id of owner. ERR_NOTFOUND when it is not theirs. */
int chats_delete(struct app *app, const char *owner, const char *id, struct errinfo *e);

#endif
