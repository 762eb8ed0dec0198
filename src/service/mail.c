/*
 * mail.c: the outbox and its sender thread (see mail.h).
 *
 * mail_enqueue seals the recipient, subject and body under a data key made
 * for that one message (vault owner "mail:<id>") and inserts the row in the
 * caller's transaction. The sender thread claims due rows one at a time
 * (compare-and-set on next_attempt, so several nodes can share the table),
 * opens them, delivers without holding a database connection, then deletes
 * the row and destroys its key in one transaction: once sent, no copy of the
 * message (backups included) can be read. Failures retry with doubling
 * delays; after [mail] max_attempts the message is dropped. Logs carry the
 * kind, the attempt and a short reason, never an address or content.
 *
 * Quoted-printable rather than 8bit: it survives any relay, keeps lines
 * short, and encodes a leading dot so SMTP dot-stuffing never matters.
 */
#include "service/mail.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "service/vault.h"
#include "store/store.h"

#define POLL_S 30          /* look at the table at least this often (other nodes enqueue too) */
#define MAX_BACKOFF_S 21600

struct mail_sender {
	struct app *app;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, kicked, started;
	char from_addr[256];
	char msgid_domain[256];
};

/* --- validation and formatting ---------------------------------------- */

int mail_check_address(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 3 || n > 254)
		return ERR_INVALID;
	const char *at = strchr(s, '@');
	if (!at || at == s || strchr(at + 1, '@') || !at[1] || at - s > 64)
		return ERR_INVALID;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("<>()[]\\,;:\"", *p))
			return ERR_INVALID;
	if (at[1] == '.' || s[n - 1] == '.')
		return ERR_INVALID;
	return ERR_OK;
}

int mail_addr_spec(char *out, size_t n, const char *from)
{
	const char *lt = strrchr(from, '<');
	const char *start = from, *end = from + strlen(from);
	if (lt) {
		const char *gt = strchr(lt, '>');
		if (!gt)
			return ERR_INVALID;
		start = lt + 1;
		end = gt;
	}
	while (start < end && *start == ' ')
		start++;
	while (end > start && end[-1] == ' ')
		end--;
	if ((size_t)(end - start) >= n)
		return ERR_INVALID;
	memcpy(out, start, (size_t)(end - start));
	out[end - start] = '\0';
	return mail_check_address(out);
}

static bool plain_ascii(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return false;
	return true;
}

/* Subject as encoded-words of at most 75 characters, folded, never splitting
 * a UTF-8 sequence (RFC 2047 section 5). */
static int put_subject(struct buf *out, const char *subject)
{
	int rc = buf_puts(out, "Subject: ");
	if (rc)
		return rc;
	if (plain_ascii(subject) && strlen(subject) <= 900) {
		rc = buf_puts(out, subject);
		return rc ? rc : buf_puts(out, "\r\n");
	}
	const unsigned char *p = (const unsigned char *)subject;
	size_t left = strlen(subject);
	bool first = true;
	while (left > 0) {
		size_t take = left < 45 ? left : 45; /* 45 bytes -> 60 base64 chars + 12 */
		while (take < left && take > 0 && (p[take] & 0xC0) == 0x80)
			take--;
		if (take == 0)
			take = left < 45 ? left : 45;
		char b64[sodium_base64_ENCODED_LEN(45, sodium_base64_VARIANT_ORIGINAL)];
		sodium_bin2base64(b64, sizeof b64, p, take, sodium_base64_VARIANT_ORIGINAL);
		if ((rc = buf_printf(out, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", b64)))
			return rc;
		first = false;
		p += take;
		left -= take;
	}
	return buf_puts(out, "\r\n");
}

/* Quoted-printable (RFC 2045 6.7) of body, with CRLF line ends. */
static int put_qp(struct buf *out, const char *body)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = ERR_OK;
	size_t col = 0;
	for (const unsigned char *p = (const unsigned char *)body; *p && !rc; p++) {
		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\n' || *p == '\r') {
			rc = buf_puts(out, "\r\n");
			col = 0;
			continue;
		}
		char tok[4];
		size_t tl;
		bool at_eol = p[1] == '\0' || p[1] == '\n' || (p[1] == '\r');
		bool literal = (*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !at_eol);
		if (*p == '.' && col == 0)
			literal = false;
		if (literal) {
			tok[0] = (char)*p;
			tl = 1;
		} else {
			tok[0] = '=';
			tok[1] = hex[*p >> 4];
			tok[2] = hex[*p & 15];
			tl = 3;
		}
		if (col + tl > 75) { /* soft break: the line with its '=' stays <= 76 */
			if ((rc = buf_puts(out, "=\r\n")))
				break;
			col = 0;
			if (*p == '.' && literal) { /* a dot would now start the line */
				tok[0] = '=';
				tok[1] = hex[*p >> 4];
				tok[2] = hex[*p & 15];
				tl = 3;
			}
		}
		rc = buf_append(out, tok, tl);
		col += tl;
	}
	if (!rc && col > 0)
		rc = buf_puts(out, "\r\n");
	return rc;
}

int mail_format(struct buf *out, const char *from, const char *to, const char *subject,
		const char *body, int64_t unix_time, const char *message_id)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	if (!plain_ascii(from) || mail_check_address(to) || !plain_ascii(message_id))
		return ERR_INVALID;
	for (const char *p = subject; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return ERR_INVALID;
	time_t t = (time_t)unix_time;
	struct tm tm;
	gmtime_r(&t, &tm);
	int rc = buf_printf(out, "From: %s\r\nTo: %s\r\n", from, to);
	if (!rc)
		rc = put_subject(out, subject);
	if (!rc)
		rc = buf_printf(out,
				"Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n"
				"Message-ID: <%s>\r\n"
				"MIME-Version: 1.0\r\n"
				"Content-Type: text/plain; charset=utf-8\r\n"
				"Content-Transfer-Encoding: quoted-printable\r\n"
				"Auto-Submitted: auto-generated\r\n"
				"\r\n",
				days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
				tm.tm_min, tm.tm_sec, message_id);
	if (!rc)
		rc = put_qp(out, body);
	return rc;
}

/* --- enqueue ------------------------------------------------------------ */

static bool valid_kind(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 31)
		return false;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '.' || *k == '_' ||
		      *k == '-'))
			return false;
	return true;
}

int mail_enqueue(struct app *app, struct db_conn *c, const char *to, const char *subject,
		 const char *body, const char *kind)
{
	if (!to || mail_check_address(to) || !subject || !body || !kind || !valid_kind(kind))
		return ERR_INVALID;
	size_t sl = strlen(subject), bl = strlen(body);
	if (sl > MAIL_MAX_SUBJECT || bl > MAIL_MAX_BODY)
		return ERR_TOOBIG;
	for (const char *p = subject; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return ERR_INVALID;
	struct store_mail m = {0};
	unsigned char rnd[16];
	crypto_random(rnd, sizeof rnd);
	crypto_hex(m.id, rnd, sizeof rnd);
	snprintf(m.kind, sizeof m.kind, "%s", kind);
	m.created_at = time_now();
	buf_init(&m.rcpt, 0);
	buf_init(&m.subject, 0);
	buf_init(&m.body, 0);
	char owner[48];
	snprintf(owner, sizeof owner, "mail:%s", m.id);
	int rc = vault_seal(c, app->keys, owner, "mail.rcpt", to, strlen(to), &m.rcpt);
	if (!rc)
		rc = vault_seal(c, app->keys, owner, "mail.subject", subject, sl, &m.subject);
	if (!rc)
		rc = vault_seal(c, app->keys, owner, "mail.body", body, bl, &m.body);
	if (!rc)
		rc = store_mail_insert(c, &m, m.created_at);
	if (!rc)
		log_info("mail.queued", "\"kind\":\"%s\"", m.kind);
	buf_free(&m.rcpt);
	buf_free(&m.subject);
	buf_free(&m.body);
	return rc;
}

/* --- delivery ----------------------------------------------------------- */

struct reader {
	const char *p;
	size_t left;
};

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct reader *r = arg;
	size_t n = size * nmemb;
	if (n > r->left)
		n = r->left;
	memcpy(dst, r->p, n);
	r->p += n;
	r->left -= n;
	return n;
}

/* Send msg to rcpt over SMTP. reason gets a short constant on failure. */
static int deliver_smtp(struct mail_sender *m, const char *rcpt, const struct buf *msg,
			const char **reason, int *curl_code)
{
	const struct config *cfg = m->app->cfg;
	CURL *h = curl_easy_init();
	if (!h) {
		*reason = "curl_init";
		return ERR_NOMEM;
	}
	char from[300], to[300];
	snprintf(from, sizeof from, "<%s>", m->from_addr);
	snprintf(to, sizeof to, "<%s>", rcpt);
	struct curl_slist *rcpts = curl_slist_append(NULL, to);
	struct reader rd = {msg->data, msg->len};
	curl_easy_setopt(h, CURLOPT_URL, cfg->mail.smtp_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_READDATA, &rd);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg->len);
	curl_easy_setopt(h, CURLOPT_USE_SSL, cfg->mail.require_tls ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)cfg->mail.timeout);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	CURLcode cc = rcpts ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
	int rc = ERR_OK;
	*curl_code = (int)cc;
	if (cc != CURLE_OK) {
		/* curl's constant name of the failure; never the server's reply,
		 * which may quote the address */
		*reason = cc == CURLE_COULDNT_CONNECT	  ? "connect"
			  : cc == CURLE_OPERATION_TIMEDOUT ? "timeout"
			  : cc == CURLE_LOGIN_DENIED	   ? "login_denied"
			  : cc == CURLE_USE_SSL_FAILED	   ? "tls_required"
			  : cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ? "io"
			  : cc == CURLE_COULDNT_RESOLVE_HOST ? "resolve"
							      : "smtp_refused";
		rc = cc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_IO;
	}
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(h);
	return rc;
}

/* Write msg as DATA_DIR/mail/<ms>-<id>.eml, 0600, whole or not at all. */
static int deliver_file(struct mail_sender *m, const char *id, const struct buf *msg,
			const char **reason)
{
	char dir[CONFIG_STR + 16], tmp[CONFIG_STR + 96], path[CONFIG_STR + 96];
	snprintf(dir, sizeof dir, "%s/mail", m->app->data_dir);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		*reason = "mkdir";
		return ERR_IO;
	}
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, id);
	snprintf(path, sizeof path, "%s/%lld-%s.eml", dir, (long long)time_now_ms(), id);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		*reason = "open";
		return ERR_IO;
	}
	size_t off = 0;
	while (off < msg->len) {
		ssize_t w = write(fd, msg->data + off, msg->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	int ok = off == msg->len && fsync(fd) == 0;
	close(fd);
	if (!ok || rename(tmp, path)) {
		unlink(tmp);
		*reason = "write";
		return ERR_IO;
	}
	return ERR_OK;
}

/* Delete the row and its key together: nothing of the message is left. */
static int forget(struct db_conn *c, const char *id)
{
	char owner[48];
	snprintf(owner, sizeof owner, "mail:%s", id);
	int rc = db_begin(c);
	if (rc)
		return rc;
	if ((rc = store_mail_delete(c, id)) || (rc = vault_destroy(c, owner, NULL))) {
		db_rollback(c);
		return rc;
	}
	return db_commit(c);
}

static int64_t backoff(const struct config *cfg, int64_t attempts)
{
	int64_t d = cfg->mail.retry_delay;
	for (int64_t i = 1; i < attempts && d < MAX_BACKOFF_S; i++)
		d *= 2;
	return d < MAX_BACKOFF_S ? d : MAX_BACKOFF_S;
}

/* Deliver one due message. Returns 1 if one was handled, 0 if none was due. */
static int send_one(struct mail_sender *m)
{
	struct app *app = m->app;
	const struct config *cfg = app->cfg;
	struct db_conn *c = db_get(app->db);
	int64_t now = time_now();
	char id[40];
	int rc = store_mail_due(c, now, id);
	if (rc) {
		db_put(c);
		return 0;
	}
	/* the lease outlasts one delivery, so a crash retries it later */
	if (store_mail_claim(c, id, now, now + cfg->mail.timeout + 30)) {
		db_put(c);
		return 1; /* another sender has it */
	}
	struct store_mail row = {0};
	struct buf to, subject, body, msg;
	buf_init(&row.rcpt, 0);
	buf_init(&row.subject, 0);
	buf_init(&row.body, 0);
	buf_init(&to, 0);
	buf_init(&subject, 0);
	buf_init(&body, 0);
	buf_init(&msg, 0);
	char owner[48];
	snprintf(owner, sizeof owner, "mail:%s", id);
	const char *reason = NULL;
	int curl_code = 0;
	rc = store_mail_get(c, id, &row);
	if (!rc)
		rc = vault_open(c, app->keys, owner, "mail.rcpt", row.rcpt.data, row.rcpt.len, &to);
	if (!rc)
		rc = vault_open(c, app->keys, owner, "mail.subject", row.subject.data, row.subject.len, &subject);
	if (!rc)
		rc = vault_open(c, app->keys, owner, "mail.body", row.body.data, row.body.len, &body);
	db_put(c);
	if (rc) {
		/* cannot be read any more: keeping it would retry forever */
		log_error("mail.unreadable", "\"kind\":\"%s\",\"error\":\"%s\"", row.kind, err_str(rc));
		c = db_get(app->db);
		forget(c, id);
		db_put(c);
		goto out;
	}
	unsigned char rnd[12];
	char msgid[300], hex[25];
	crypto_random(rnd, sizeof rnd);
	crypto_hex(hex, rnd, sizeof rnd);
	snprintf(msgid, sizeof msgid, "%s@%s", hex, m->msgid_domain);
	rc = mail_format(&msg, cfg->mail.from, to.data ? to.data : "", subject.data ? subject.data : "",
			 body.data ? body.data : "", time_now(), msgid);
	if (rc) {
		reason = "format";
	} else if (cfg->mail.smtp_url[0]) {
		rc = deliver_smtp(m, to.data, &msg, &reason, &curl_code);
	} else {
		rc = deliver_file(m, id, &msg, &reason);
	}
	c = db_get(app->db);
	if (rc == ERR_OK) {
		int frc = forget(c, id);
		log_info("mail.sent", "\"kind\":\"%s\",\"attempt\":%lld,\"via\":\"%s\"%s", row.kind,
			 (long long)row.attempts, cfg->mail.smtp_url[0] ? "smtp" : "file",
			 frc ? ",\"cleanup\":\"failed\"" : "");
	} else if (row.attempts >= cfg->mail.max_attempts || !strcmp(reason, "format")) {
		forget(c, id);
		log_error("mail.dropped", "\"kind\":\"%s\",\"attempts\":%lld,\"reason\":\"%s\"", row.kind,
			  (long long)row.attempts, reason);
	} else {
		int64_t delay = backoff(cfg, row.attempts);
		store_mail_retry(c, id, time_now() + delay, reason);
		log_warn("mail.retry",
			 "\"kind\":\"%s\",\"attempt\":%lld,\"reason\":\"%s\",\"curl\":%d,\"retry_in_s\":%lld",
			 row.kind, (long long)row.attempts, reason, curl_code, (long long)delay);
	}
	db_put(c);
out:
	buf_free(&row.rcpt);
	buf_free(&row.subject);
	buf_free(&row.body);
	if (to.data)
		crypto_wipe(to.data, to.len);
	if (subject.data)
		crypto_wipe(subject.data, subject.len);
	if (body.data)
		crypto_wipe(body.data, body.len);
	if (msg.data)
		crypto_wipe(msg.data, msg.len);
	buf_free(&to);
	buf_free(&subject);
	buf_free(&body);
	buf_free(&msg);
	return 1;
}

static void *run(void *arg)
{
	struct mail_sender *m = arg;
	for (;;) {
		pthread_mutex_lock(&m->mu);
		bool stop = m->stop;
		m->kicked = false;
		pthread_mutex_unlock(&m->mu);
		if (stop)
			break;
		while (send_one(m)) {
			pthread_mutex_lock(&m->mu);
			stop = m->stop;
			pthread_mutex_unlock(&m->mu);
			if (stop)
				return NULL;
		}
		/* sleep until the next retry is due, a kick, or the poll */
		int64_t wait = POLL_S, next;
		struct db_conn *c = db_get(m->app->db);
		if (store_mail_next_time(c, &next) == ERR_OK) {
			int64_t d = next - time_now();
			wait = d < 1 ? 1 : d < POLL_S ? d : POLL_S;
		}
		db_put(c);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += wait;
		pthread_mutex_lock(&m->mu);
		while (!m->stop && !m->kicked)
			if (pthread_cond_timedwait(&m->cv, &m->mu, &ts) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&m->mu);
	}
	return NULL;
}

int mail_start(struct mail_sender **out, struct app *app, struct errinfo *e)
{
	*out = NULL;
	struct mail_sender *m = calloc(1, sizeof *m);
	if (!m)
		return ERR_NOMEM;
	m->app = app;
	if (!plain_ascii(app->cfg->mail.from) ||
	    mail_addr_spec(m->from_addr, sizeof m->from_addr, app->cfg->mail.from)) {
		free(m);
		return err_set(e, ERR_INVALID, "mail.from",
			       "config: [mail] from must be an ASCII address, optionally as \"Name <address>\"");
	}
	const char *u = app->cfg->mail.smtp_url;
	if (u[0] && strncmp(u, "smtp://", 7) && strncmp(u, "smtps://", 8)) {
		free(m);
		return err_set(e, ERR_INVALID, "mail.smtp_url",
			       "config: [mail] smtp_url must start with smtp:// or smtps://");
	}
	snprintf(m->msgid_domain, sizeof m->msgid_domain, "%s", strchr(m->from_addr, '@') + 1);
	pthread_mutex_init(&m->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&m->thread, NULL, run, m)) {
		pthread_cond_destroy(&m->cv);
		pthread_mutex_destroy(&m->mu);
		free(m);
		return err_set(e, ERR_INTERNAL, NULL, "mail: cannot start the sender thread");
	}
	m->started = true;
	*out = m;
	return ERR_OK;
}

void mail_kick(struct mail_sender *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->kicked = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

void mail_stop(struct mail_sender *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = true;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
	if (m->started)
		pthread_join(m->thread, NULL);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
