/*
 * chats.h: the typed queries of the studio's opt-in chat history
 * (0012_chat_history, issue #5).
 *
 * Titles and message contents travel as opaque sealed blobs: service/chats.c
 * seals and opens them with the owner's key (SEC-3). Every query takes the
 * owner and matches it in SQL, so another user's conversation reads as "not
 * found", staff included.
 */
#ifndef ATELIER_STORE_CHATS_H
#define ATELIER_STORE_CHATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "store/db.h"

struct store_chat {
	char id[40], owner[40];
	int64_t created_at, updated_at, messages; /* messages: how many */
};

/* *on: whether owner switched history on (false when never set). */
int store_chat_history_get(struct db_conn *c, const char *owner, bool *on);

/* Switch owner's history on or off. */
int store_chat_history_set(struct db_conn *c, const char *owner, bool on, int64_t now);

/* Delete every conversation of owner (messages cascade); *n counts them. */
int store_chat_delete_all(struct db_conn *c, const char *owner, int64_t *n);

/* Insert an empty conversation; title may be NULL (untitled). */
int store_chat_insert(struct db_conn *c, const char *id, const char *owner, const void *title, size_t nt,
		      int64_t now);

/* Touch conversation id of owner (updated_at = now) and, when set_title,
 * replace its sealed title (NULL: untitled). ERR_NOTFOUND when it is not
 * the owner's. */
int store_chat_update(struct db_conn *c, const char *id, const char *owner, bool set_title, const void *title,
		      size_t nt, int64_t now);

/* Conversation id of owner into out, its sealed title appended to title
 * (when not NULL). ERR_NOTFOUND when it is not the owner's. */
int store_chat_get(struct db_conn *c, const char *id, const char *owner, struct store_chat *out,
		   struct buf *title);

/* The owner's conversations, most recently updated first, at most limit,
 * after the cursor conversation `before` (NULL: from the newest). fn gets
 * each row and its sealed title (NULL, 0 when untitled; valid during the
 * call). *more: whether older ones remain. ERR_NOTFOUND when `before` is
 * not one of the owner's conversations. */
int store_chat_list(struct db_conn *c, const char *owner, const char *before, int limit,
		    int (*fn)(void *arg, const struct store_chat *ch, const void *title, size_t nt), void *arg,
		    bool *more);

/* Delete conversation id of owner; *deleted: rows removed (0: not theirs). */
int store_chat_delete(struct db_conn *c, const char *id, const char *owner, int64_t *deleted);

/* Delete every message of conversation id of owner. */
int store_chat_messages_clear(struct db_conn *c, const char *id, const char *owner);

/* Append message seq (0-based) with its role and sealed content. */
int store_chat_message_insert(struct db_conn *c, const char *id, const char *owner, int64_t seq, const char *role,
			      const void *content, size_t n, int64_t now);

/* The messages of conversation id of owner in order: fn gets each role and
 * sealed content (valid during the call). A non-zero return stops. */
int store_chat_messages(struct db_conn *c, const char *id, const char *owner,
			int (*fn)(void *arg, int64_t seq, const char *role, const void *content, size_t n,
				  int64_t created_at),
			void *arg);

#endif
