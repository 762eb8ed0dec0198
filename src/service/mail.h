/*
 * mail.h: outgoing mail through an outbox table and a sender thread.
 *
 * Services enqueue a message inside their own transaction (so a sign-up that
 * rolls back sends nothing); the sender thread delivers it: by SMTP through
 * libcurl when [mail] smtp_url is set, otherwise as one file per message
 * under DATA_DIR/mail/ so `make run` works offline. The recipient address and
 * body are sealed at rest in the outbox under a key made for the message,
 * and the row and its key are deleted once sent (or after [mail]
 * max_attempts failed deliveries, retried with doubling delays from [mail]
 * retry_delay); nothing of them is logged.
 */
#ifndef ATELIER_SERVICE_MAIL_H
#define ATELIER_SERVICE_MAIL_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "service/app.h"
#include "store/db.h"

struct mail_sender;

/* Queue one plain-text message on connection c (in the caller's
 * transaction). kind is a short constant for logs and metrics
 * ("verify", "reset", "alert.login"), never content. */
int mail_enqueue(struct app *app, struct db_conn *c, const char *to, const char *subject,
		 const char *body, const char *kind);

/* Start the sender thread; it delivers queued mail until mail_stop. */
int mail_start(struct mail_sender **out, struct app *app, struct errinfo *e);

/* Wake the sender now (after an enqueue commits). Accepts NULL. */
void mail_kick(struct mail_sender *m);

/* Stop the thread after the message in hand. Accepts NULL. */
void mail_stop(struct mail_sender *m);

/* --- pieces, exposed for tests and other services ------------------- */

#define MAIL_MAX_SUBJECT 500
#define MAIL_MAX_BODY (256 * 1024)

/* ERR_OK if s is one plain ASCII address (local@domain, at most 254
 * characters, nothing that could end a header or add a recipient). */
int mail_check_address(const char *s);

/* The address inside a From value: "Name <a@b>" or "a@b" gives "a@b".
 * ERR_INVALID when there is none. */
int mail_addr_spec(char *out, size_t n, const char *from);

/* Append one RFC 5322 message to out, lines ending in CRLF: From, To,
 * Subject (RFC 2047 B-encoded when it is not plain ASCII), Date (from
 * unix_time, UTC), Message-ID (<message_id>), MIME-Version, Content-Type
 * text/plain; charset=utf-8, Content-Transfer-Encoding quoted-printable, and
 * the body in quoted-printable (lines at most 76 characters, a leading dot
 * encoded). */
int mail_format(struct buf *out, const char *from, const char *to, const char *subject,
		const char *body, int64_t unix_time, const char *message_id);

#endif
