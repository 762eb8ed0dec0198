/*
 * legal.c: the privacy notice, the cookie notice, the sub-processor list and
 * the data processing terms, rendered from the live configuration (RET-3,
 * OPS-1, COOK-1, PRIV-12). The notice cannot say what the code does not do:
 * retention periods are the ones the sweeper enforces, sub-processors appear
 * when the configuration turns on the service that uses them, and the only
 * cookie listed is the one the server sets.
 */
#include "api/api.h"
#include "service/textmodels.h"
#include "store/privacy.h"

#include <stdio.h>
#include <string.h>

static void human_duration(char *out, size_t n, int64_t s)
{
	const int64_t year = 365 * 86400;
	if (s % year == 0)
		snprintf(out, n, "%lld year%s", (long long)(s / year), s / year == 1 ? "" : "s");
	else if (s % 86400 == 0)
		snprintf(out, n, "%lld day%s", (long long)(s / 86400), s / 86400 == 1 ? "" : "s");
	else if (s % 3600 == 0)
		snprintf(out, n, "%lld hour%s", (long long)(s / 3600), s / 3600 == 1 ? "" : "s");
	else if (s % 60 == 0)
		snprintf(out, n, "%lld minute%s", (long long)(s / 60), s / 60 == 1 ? "" : "s");
	else
		snprintf(out, n, "%lld seconds", (long long)s);
}

/* The host part of a URL, for naming an outside service without its path
 * or credentials. */
static void url_host(char *out, size_t n, const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	const char *at = strchr(p, '@');
	const char *slash = strchr(p, '/');
	if (at && (!slash || at < slash))
		p = at + 1;
	size_t len = strcspn(p, "/?#");
	snprintf(out, n, "%.*s", (int)len, p);
}

struct sub {
	char name[96], purpose[160], data[160], location[64], since[16];
};

/* Every outside party the configuration sends personal data to. */
static size_t subprocessors(const struct config *c, struct sub *out, size_t max)
{
	size_t n = 0;
	if (c->coinbase.api_key[0] && n < max)
		out[n++] = (struct sub){"Coinbase Commerce", "payment processing", "transaction details, email address", "USA", ""};
	if (c->oidc.client_id[0] && n < max) {
		char host[96];
		url_host(host, sizeof host, c->oidc.issuer);
		struct sub s = {"", "single sign-on (optional, if you choose it)", "your email address", "", ""};
		snprintf(s.name, sizeof s.name, "OpenID provider %s", host);
		out[n++] = s;
	}
	if (c->mail.smtp_url[0] && n < max) {
		char host[96];
		url_host(host, sizeof host, c->mail.smtp_url);
		struct sub s = {"", "delivering account and security mail", "your email address, the message", "", ""};
		snprintf(s.name, sizeof s.name, "Mail relay %s", host);
		out[n++] = s;
	}
	for (int i = 0; i < c->nmodels && n < max; i++) {
		const struct config_model *m = &c->models[i];
		if (strcmp(m->backend, "openai"))
			continue;
		char host[96];
		url_host(host, sizeof host, m->base_url);
		struct sub s = {"", "", "prompts and outputs of requests to this model (not stored there by our terms)", "", ""};
		snprintf(s.name, sizeof s.name, "Inference server %s", host);
		snprintf(s.purpose, sizeof s.purpose, "running the model %s", m->name);
		out[n++] = s;
	}
	for (int i = 0; i < c->nsubprocessors && n < max; i++) {
		const struct config_subprocessor *p = &c->subprocessors[i];
		struct sub s = {0};
		snprintf(s.name, sizeof s.name, "%s", p->name);
		snprintf(s.purpose, sizeof s.purpose, "%s", p->purpose);
		snprintf(s.data, sizeof s.data, "%s", p->data);
		snprintf(s.location, sizeof s.location, "%s", p->location);
		snprintf(s.since, sizeof s.since, "%s", p->since);
		out[n++] = s;
	}
	return n;
}

/* The policy version in force: the last one published with `atelier privacy
 * publish` (PRIV-12), or the configuration's when none was. */
static void policy_version(struct app *app, char *ver, size_t vn, char *eff, size_t en)
{
	snprintf(ver, vn, "%s", app->cfg->privacy.policy_version);
	snprintf(eff, en, "%s", app->cfg->privacy.policy_effective);
	if (!app->db)
		return;
	char v[64], e[32];
	struct db_conn *c = db_get(app->db);
	if (store_policy_latest(c, v, sizeof v, e, sizeof e) == ERR_OK && v[0]) {
		snprintf(ver, vn, "%s", v);
		snprintf(eff, en, "%s", e);
	}
	db_put(c);
}

static void head(struct buf *b, const char *title, struct app *app)
{
	char ver[64], eff[32];
	policy_version(app, ver, sizeof ver, eff, sizeof eff);
	buf_puts(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
	buf_html_escape(b, title);
	buf_puts(b, " · Atelier</title><link rel=\"stylesheet\" href=\"/app.css\"></head><body>"
		    "<header class=\"top\"><a class=\"brand\" href=\"/\">Atelier</a><nav aria-label=\"Legal\">"
		    "<a href=\"/privacy\">Privacy</a><a href=\"/legal/cookies\">Cookies</a>"
		    "<a href=\"/legal/subprocessors\">Sub-processors</a><a href=\"/legal/dpa\">DPA</a></nav></header>"
		    "<main class=\"legal\"><h1>");
	buf_html_escape(b, title);
	buf_puts(b, "</h1><p class=\"meta\">Version ");
	buf_html_escape(b, ver);
	buf_puts(b, ", effective <time datetime=\"");
	buf_html_escape(b, eff);
	buf_puts(b, "\">");
	buf_html_escape(b, eff);
	buf_puts(b, "</time>. Rendered from this server's live configuration.</p>\n");
}

static void foot(struct buf *b)
{
	buf_puts(b, "</main><footer class=\"foot\"><p>Only essential cookies. No third-party requests.</p>"
		    "</footer></body></html>\n");
}

/* The longest any builtin text model keeps a prompt's cache (seconds). */
static int64_t prompt_cache_s(const struct config *c)
{
	if (c->nmodels == 0) /* the default model */
		return TEXTMODELS_DEFAULT_PREFIX_CACHE;
	int64_t most = 0;
	for (int i = 0; i < c->nmodels; i++) {
		const struct config_model *m = &c->models[i];
		if ((!m->kind[0] || !strcmp(m->kind, "text")) && !strcmp(m->backend, "builtin") && m->prefix_cache > most)
			most = m->prefix_cache;
	}
	return most;
}

static void row(struct buf *b, const char *a, const char *bb, const char *c3)
{
	buf_puts(b, "<tr><td>");
	buf_html_escape(b, a);
	buf_puts(b, "</td><td>");
	buf_html_escape(b, bb);
	if (c3) {
		buf_puts(b, "</td><td>");
		buf_html_escape(b, c3);
	}
	buf_puts(b, "</td></tr>\n");
}

static void sub_table(struct buf *b, const struct config *c)
{
	struct sub subs[48];
	size_t n = subprocessors(c, subs, 48);
	if (!n) {
		buf_puts(b, "<p id=\"no-subprocessors\">None: with this configuration no personal data leaves this server.</p>\n");
		return;
	}
	buf_puts(b, "<table class=\"subprocessors\"><thead><tr><th>Who</th><th>Purpose</th><th>Data shared</th>"
		    "<th>Location</th><th>Since</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < n; i++) {
		buf_puts(b, "<tr><td>");
		buf_html_escape(b, subs[i].name);
		buf_puts(b, "</td><td>");
		buf_html_escape(b, subs[i].purpose);
		buf_puts(b, "</td><td>");
		buf_html_escape(b, subs[i].data);
		buf_puts(b, "</td><td>");
		buf_html_escape(b, subs[i].location);
		buf_puts(b, "</td><td>");
		buf_html_escape(b, subs[i].since);
		buf_puts(b, "</td></tr>\n");
	}
	buf_puts(b, "</tbody></table>\n");
}

static void cookie_table(struct buf *b, const struct config *c)
{
	buf_puts(b, "<table class=\"cookies\"><thead><tr><th>Name</th><th>Purpose</th><th>Lifetime</th></tr></thead><tbody>\n");
	char life[48];
	human_duration(life, sizeof life, c->retention.sessions);
	row(b, c->server.tls_cert[0] ? "__Host-atelier_session" : "atelier_session",
	    "keeps you signed in (essential; HttpOnly, SameSite=Lax, Secure under HTTPS)", life);
	buf_puts(b, "</tbody></table>\n<p>That is the only cookie. The protection against cross-site request forgery "
		    "travels in a request header, not a cookie. There are no advertising, analytics or third-party "
		    "cookies, no tracking pixels and no requests to other hosts from our pages. "
		    "<em>Do Not Track</em> and <em>Global Privacy Control</em> signals are honoured: with either, "
		    "nothing optional is processed for that request.</p>\n");
}

static void privacy(struct http_request *req, struct http_response *res, void *ctx)
{
	const struct config *c = ((struct app *)ctx)->cfg;
	struct buf *b = &res->body;
	head(b, "Privacy notice", ctx);
	buf_puts(b, "<h2 id=\"who\">Who we are</h2><p>");
	buf_html_escape(b, c->privacy.controller);
	buf_puts(b, " runs this service. Contact: <a href=\"mailto:");
	buf_html_escape(b, c->privacy.contact_email);
	buf_puts(b, "\">");
	buf_html_escape(b, c->privacy.contact_email);
	buf_puts(b, "</a>");
	if (c->privacy.dpo_email[0]) {
		buf_puts(b, "; data protection officer: ");
		buf_html_escape(b, c->privacy.dpo_email);
	}
	if (c->privacy.address[0]) {
		buf_puts(b, "; ");
		buf_html_escape(b, c->privacy.address);
	}
	buf_puts(b, ".</p>\n"
		    "<h2 id=\"collect\">What we keep, and why</h2><ul>"
		    "<li><strong>Account</strong>: email address and username to sign you in; your password only as an "
		    "Argon2id hash; your age bracket (to apply the rules for minors), never more of your birth date than "
		    "that. Optional profile fields (name, phone, company, billing address) only if you give them.</li>"
		    "<li><strong>Content</strong>: prompts you ask us to keep, generated images and uploads, sealed at rest "
		    "with a key of your own. They are never used to train models unless you opt in to data sharing.</li>"
		    "<li><strong>Chat history</strong>: the studio's chats are not stored unless you turn on "
		    "&ldquo;Keep chat history&rdquo; on its Chat page. While it is on, your conversations are kept, sealed at "
		    "rest with your key; turning it off deletes every stored conversation at once.</li>");
	char pc[48];
	int64_t cache_s = prompt_cache_s(c);
	human_duration(pc, sizeof pc, cache_s);
	buf_puts(b, "<li><strong>Prompts being answered</strong>: held in memory while a model on this server answers, "
		    "never written to disk. ");
	if (cache_s > 0) {
		buf_puts(b, "For up to ");
		buf_html_escape(b, pc);
		buf_puts(b, " afterwards the model's working state for a prompt stays in memory, so that your own next "
			    "request that starts the same way (a chat's next turn) is answered sooner; no one else's request "
			    "can use it, and then it is wiped.</li>");
	} else {
		buf_puts(b, "The model's working state for it is wiped as the answer ends.</li>");
	}
	buf_puts(b, "<li><strong>Usage</strong>: for each API call, the endpoint, model, token or image counts, status, "
		    "time and response time. Never the prompt or the output.</li>"
		    "<li><strong>Security</strong>: IP addresses for rate limiting and in the security audit log.</li>");
	if (c->coinbase.api_key[0])
		buf_puts(b, "<li><strong>Payments</strong>: what you bought and when. No wallet address or card detail "
			    "is stored; only the amount, your email and our reference go to the payment processor.</li>");
	buf_puts(b, "</ul><p>We do not sell personal data and do not share it with advertisers.</p>\n"
		    "<h2 id=\"retention\">How long we keep it</h2><table class=\"retention\"><thead><tr>"
		    "<th>Data</th><th>Kept</th></tr></thead><tbody>\n");
	char d[48];
	row(b, "Account data", "while your account is active; erased at once when you delete it", NULL);
	if (!strcmp(c->retention.images, "ephemeral")) {
		char eph[160];
		human_duration(d, sizeof d, c->retention.image_links);
		snprintf(eph, sizeof eph,
			 "not kept unless you choose to keep one (an image you receive as a link is held until the link "
			 "expires, %s); kept ones until you delete them", d);
		row(b, "Generated images", eph, NULL);
	} else {
		row(b, "Generated images", "until you delete them (or your account)", NULL);
	}
	row(b, "Chat history", "only while you keep chat history on: until you delete a conversation, turn history off "
	    "(which deletes them all) or delete your account", NULL);
	if (cache_s > 0) {
		char kept[128];
		snprintf(kept, sizeof kept, "in memory only, up to %s after the answer, for your own next request; then wiped",
			 pc);
		row(b, "Prompt cache", kept, NULL);
	} else {
		row(b, "Prompt cache", "none: wiped from memory as each answer ends", NULL);
	}
	human_duration(d, sizeof d, c->retention.usage_logs);
	row(b, "API usage logs", d, NULL);
	human_duration(d, sizeof d, c->retention.billing);
	char bill[96];
	snprintf(bill, sizeof bill, "%s (required for tax); pseudonymized when you delete your account", d);
	row(b, "Billing records", bill, NULL);
	human_duration(d, sizeof d, c->retention.sessions);
	row(b, "Sign-in sessions", d, NULL);
	human_duration(d, sizeof d, c->retention.tickets);
	row(b, "Support tickets", d, NULL);
	human_duration(d, sizeof d, c->retention.exports);
	row(b, "Data exports you request", d, NULL);
	human_duration(d, sizeof d, c->retention.mail_outbox);
	row(b, "Outgoing mail not yet delivered", d, NULL);
	human_duration(d, sizeof d, c->retention.audit);
	row(b, "Security audit log", d, NULL);
	buf_puts(b, "</tbody></table><p>These periods are this server's configuration and are enforced automatically.</p>\n"
		    "<h2 id=\"subprocessors\">Who else processes it</h2>\n");
	sub_table(b, c);
	buf_puts(b, "<h2 id=\"cookies\">Cookies</h2>\n");
	cookie_table(b, c);
	buf_puts(b, "<h2 id=\"rights\">Your rights</h2><p>From your privacy center, at once: download a copy of all your "
		    "data in a machine-readable format; correct your profile; delete your account, which erases all your "
		    "data immediately and gives you a signed receipt (copies in backups become unreadable, because the key "
		    "they are sealed with is destroyed); restrict processing or object to it; withdraw any consent. "
		    "You can also write to us; every request is tracked and answered within 30 days.</p>\n"
		    "<h2 id=\"children\">Children</h2><p>You must be 13 or older. Between 13 and 17 you need a parent's or "
		    "guardian's consent, and a parent or guardian may ask us to delete a child's data. Content is safe for "
		    "all ages by default; mature content needs a verification request, proof of being 18 or older, and "
		    "approval by our staff.</p>\n"
		    "<h2 id=\"ai\">AI content</h2><p>You own what you generate: nobody else, our staff included, can see your "
		    "images, except an administrator with a recorded reason, and every such access is logged. Automated "
		    "moderation of generated images is not yet in service on this server. "
		    "Your prompts and outputs are never used for training unless you opt in.</p>\n"
		    "<h2 id=\"security\">Security</h2><p>");
	buf_puts(b, c->server.tls_cert[0] ? "Traffic is encrypted with TLS by this server itself. "
					  : "Traffic is encrypted with TLS by the proxy in front of this server. ");
	buf_puts(b, "Content is sealed at rest with XChaCha20-Poly1305 under a key per person; staff access to personal "
		    "data is limited by role and every access is logged.</p>\n"
		    "<h2 id=\"changes\">Changes</h2><p>We tell you by email of any material change before it takes "
		    "effect, and record your acceptance. This notice shows its version and effective date above.</p>\n");
	if (!c->privacy.marketing)
		buf_puts(b, "<p>This server sends no marketing mail.</p>\n");
	else
		buf_puts(b, "<p>Marketing mail is sent only if you opt in, and you can opt out at any time.</p>\n");
	foot(b);
	res->status = 200;
	res->content_type = "text/html; charset=utf-8";
}

static void cookies(struct http_request *req, struct http_response *res, void *ctx)
{
	const struct config *c = ((struct app *)ctx)->cfg;
	head(&res->body, "Cookies", ctx);
	cookie_table(&res->body, c);
	foot(&res->body);
	res->status = 200;
	res->content_type = "text/html; charset=utf-8";
}

static void subs_html(struct http_request *req, struct http_response *res, void *ctx)
{
	const struct config *c = ((struct app *)ctx)->cfg;
	head(&res->body, "Sub-processors", ctx);
	sub_table(&res->body, c);
	buf_puts(&res->body, "<p>New sub-processors are announced to customers in advance; objections may be made "
			     "within 14 days. Machine-readable: <a href=\"/legal/subprocessors.json\">subprocessors.json</a>.</p>");
	foot(&res->body);
	res->status = 200;
	res->content_type = "text/html; charset=utf-8";
}

static void subs_json(struct http_request *req, struct http_response *res, void *ctx)
{
	const struct config *c = ((struct app *)ctx)->cfg;
	struct sub subs[48];
	size_t n = subprocessors(c, subs, 48);
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", subs[i].name, "purpose",
						   subs[i].purpose, "data", subs[i].data, "location",
						   subs[i].location, "since", subs[i].since));
	http_json(res, 200, json_pack("{s:s, s:s, s:o}", "version", c->privacy.policy_version, "effective",
				      c->privacy.policy_effective, "subprocessors", a));
}

static void dpa(struct http_request *req, struct http_response *res, void *ctx)
{
	const struct config *c = ((struct app *)ctx)->cfg;
	struct buf *b = &res->body;
	head(b, "Data processing terms", ctx);
	buf_puts(b, "<p>For customers who serve their own users through our API, we act as processor and the customer "
		    "as controller. We process their end users' data only to provide the generation they request, "
		    "under these commitments:</p><ul>"
		    "<li>Confidentiality: staff access by role only, each access logged.</li>"
		    "<li>Security: TLS in transit; content sealed at rest under per-person keys; API keys and passwords "
		    "stored only as hashes; rate limiting; security monitoring.</li>"
		    "<li>Sub-processors: listed on the <a href=\"/legal/subprocessors\">sub-processor page</a>; new ones "
		    "announced in advance, with 14 days to object.</li>"
		    "<li>Data subjects' rights: customers export, erase or restrict an end user's data through the API "
		    "(by the <code>user</code> ID they send); requests we receive directly are passed to the customer.</li>"
		    "<li>Incidents: affected customers are told within 72 hours, with the nature of the incident, the data "
		    "affected and the measures taken.</li>"
		    "<li>Deletion: at the end of the service, all customer data is erased, with a signed receipt on request.</li>"
		    "<li>Compliance information (processing records, security measures, sub-processors, incidents) on "
		    "request to ");
	buf_html_escape(b, c->privacy.contact_email);
	buf_puts(b, ".</li></ul>\n");
	foot(b);
	res->status = 200;
	res->content_type = "text/html; charset=utf-8";
}

const struct route api_legal_routes[] = {
	{"GET", "/privacy", privacy, GUARD_PUBLIC, 0, RL_READ, 0, "the privacy notice, from live configuration"},
	{"GET", "/legal/cookies", cookies, GUARD_PUBLIC, 0, RL_READ, 0, "the cookie notice"},
	{"GET", "/legal/subprocessors", subs_html, GUARD_PUBLIC, 0, RL_READ, 0, "sub-processors"},
	{"GET", "/legal/subprocessors.json", subs_json, GUARD_PUBLIC, 0, RL_READ, 0, "sub-processors, machine-readable"},
	{"GET", "/legal/dpa", dpa, GUARD_PUBLIC, 0, RL_READ, 0, "data processing terms"},
	{0},
};
