/*
 * serve.c: `atelier serve` and `atelier routes`: load the configuration,
 * open what the server needs, listen, and stop cleanly on SIGTERM/SIGINT.
 */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "base/config.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "http/http.h"
#include "main_cmds.h"
#include "service/accounts.h"
#include "service/app.h"
#include "service/credits.h"
#include "service/imagejobs.h"
#include "service/mail.h"
#include "service/privacy.h"
#include "service/retention.h"
#include "service/textmodels.h"
#include "store/db.h"

/* Parse the flags every server command shares into cfg. Returns 0, or 2
 * after printing a usage error. */
int cli_load_config(int argc, char **argv, struct config *cfg, const char *cmd)
{
	const char *path = NULL, *listen = NULL, *data_dir = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char **dst = !strcmp(a, "--config") ? &path
				   : !strcmp(a, "--listen") ? &listen
				   : !strcmp(a, "--data-dir") ? &data_dir
							       : NULL;
		if (!dst) {
			fprintf(stderr, "atelier %s: unknown option '%s'\n"
					"usage: atelier %s [--config FILE] [--listen HOST:PORT] [--data-dir DIR]\n",
				cmd, a, cmd);
			return 2;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "atelier %s: %s needs a value\n", cmd, a);
			return 2;
		}
		*dst = argv[++i];
	}
	struct errinfo e = {0};
	int rc = config_load(cfg, path, &e);
	if (!rc && listen)
		rc = config_set(cfg, "server", "listen", listen, &e);
	if (!rc && data_dir)
		rc = config_set(cfg, "server", "data_dir", data_dir, &e);
	if (rc) {
		fprintf(stderr, "atelier %s: %s\n", cmd, e.msg);
		return 2;
	}
	return 0;
}

static int ensure_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	fprintf(stderr, "atelier: cannot create %s: %s\n", path, strerror(errno));
	return -1;
}

/* Open what every command that works on a data directory needs: the
 * directory itself, libcurl and libsodium, the master key, the database
 * (migrated). Prints the reason and returns 1 on failure. */
int app_open(struct app *app, struct config *cfg)
{
	struct errinfo e = {0};
	int rc;
	app->cfg = cfg;
	app->data_dir = cfg->server.data_dir;
	app->started_at = time_now();
	if (ensure_dir(cfg->server.data_dir))
		return 1;
	/* libcurl's global state is set up once, before any thread uses it */
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "atelier: libcurl failed to initialise\n");
		return 1;
	}
	if (crypto_init()) {
		fprintf(stderr, "atelier: libsodium failed to initialise\n");
		return 1;
	}
	char path[CONFIG_STR + 32];
	if (cfg->crypto.master_key_file[0])
		snprintf(path, sizeof path, "%s", cfg->crypto.master_key_file);
	else
		snprintf(path, sizeof path, "%s/master.key", cfg->server.data_dir);
	if ((rc = crypto_keys_load(&app->keys, path, &e))) {
		fprintf(stderr, "atelier: %s\n", e.msg);
		return 1;
	}
	if (cfg->database.path[0])
		snprintf(path, sizeof path, "%s", cfg->database.path);
	else
		snprintf(path, sizeof path, "%s/atelier.db", cfg->server.data_dir);
	struct db_options dbo = {
		.backend = cfg->database.backend,
		.path = path,
		.url = cfg->database.url,
		.pool = (int)cfg->database.pool,
		.busy_timeout_ms = (int)cfg->database.busy_timeout_ms,
	};
	if ((rc = db_open(&app->db, &dbo, &e))) {
		fprintf(stderr, "atelier: %s\n", e.msg);
		return 1;
	}

	return 0;
}

/* Close what app_open opened. */
void app_close(struct app *app)
{
	db_close(app->db);
	app->db = NULL;
	crypto_keys_free(app->keys);
	app->keys = NULL;
}

int cmd_serve(int argc, char **argv)
{
	struct config cfg;
	int rc = cli_load_config(argc, argv, &cfg, "serve");
	if (rc)
		return rc;
	log_set_level((enum log_level)log_level_parse(cfg.server.log_level));

	/* Signals are taken by sigwait in this thread only: block them before
	 * any other thread starts so every thread inherits the mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct errinfo e = {0};
	struct app app = {0};
	struct router *router = NULL;
	struct retention_sweeper *sweeper = NULL;
	struct http_server *server = NULL;
	int status = 1;

	if (app_open(&app, &cfg))
		goto out;

	/* a crash in the middle of a generation leaves its hold open: release
	 * it now, so no credit is lost (PAY-5). With one SQLite node every open
	 * hold is this node's own; with shared PostgreSQL only stale ones. */
	size_t released;
	int64_t age = strcmp(cfg.database.backend, "sqlite") ? cfg.credits.hold_max_age : 0;
	if ((rc = credits_recover(app.db, age, &released))) {
		fprintf(stderr, "atelier: cannot recover credit holds: %s\n", err_str(rc));
		goto out;
	}

	if ((rc = acct_init(&app, &e))) {
		fprintf(stderr, "atelier: %s\n", e.msg);
		goto out;
	}

	if ((rc = mail_start(&app.mail, &app, &e))) {
		fprintf(stderr, "atelier: %s\n", e.msg);
		goto out;
	}
	if ((rc = privacy_start(&app.privacy, &app))) {
		fprintf(stderr, "atelier: cannot start the privacy worker\n");
		goto out;
	}
	if ((rc = retention_start(&sweeper, &app, (int)cfg.retention.sweep_interval))) {
		fprintf(stderr, "atelier: cannot start the retention sweeper\n");
		goto out;
	}
	/* text models load now; one that fails is listed as unavailable */
	if ((rc = textmodels_start(&app.text, &cfg, &e))) {
		fprintf(stderr, "atelier: %s\n", e.msg);
		goto out;
	}
	/* image models load now; their workers take up jobs a crash left behind */
	if ((rc = imagejobs_start(&app.images, &app, &e))) {
		fprintf(stderr, "atelier: %s\n", e.msg);
		goto out;
	}

	const struct route *tables[32];
	size_t nt = api_tables(tables, 32, cfg.server.debug_routes);
	if ((rc = router_new(&router, tables, nt, &e))) {
		fprintf(stderr, "atelier: %s\n", e.msg);
		goto out;
	}
	router_set_auth(router, api_authenticate);
	app.router = router;

	struct http_server_options ho = {
		.listen = cfg.server.listen,
		.threads = (int)cfg.server.threads,
		.body_limit = (size_t)cfg.server.body_limit,
		.upload_limit = (size_t)cfg.server.upload_limit,
		.header_limit = (size_t)cfg.server.header_limit,
		.request_timeout_s = (int)cfg.server.request_timeout,
		.idle_timeout_s = (int)cfg.server.idle_timeout,
		.max_connections = (int)cfg.server.max_connections,
		.tls_cert = cfg.server.tls_cert,
		.tls_key = cfg.server.tls_key,
		.trusted_proxies = cfg.server.trusted_proxies,
		.static_prefix = "web",
		.workers = (int)cfg.server.workers,
	};
	if ((rc = http_server_start(&server, &ho, router, &app, &e))) {
		fprintf(stderr, "atelier: %s\n", e.msg);
		goto out;
	}
	const char *scheme = cfg.server.tls_cert[0] ? "https" : "http";
	char host[128];
	snprintf(host, sizeof host, "%s", cfg.server.listen);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	log_info("server.listening", "\"url\":\"%s://%s:%d\",\"threads\":%d,\"schema\":%d", scheme,
		 log_str(host), http_server_port(server), ho.threads, db_schema_version(app.db));
	printf("Atelier is serving on %s://%s:%d/\n", scheme, host, http_server_port(server));
	printf("Open it in a browser and sign up; the first admin is made with\n"
	       "  atelier admin create-user --role admin --data-dir %s\n"
	       "Mail goes to %s/mail/ until [mail] smtp_url is set. Stop with Ctrl-C.\n",
	       cfg.server.data_dir, cfg.server.data_dir);
	fflush(stdout);

	int sig = 0;
	sigwait(&sigs, &sig);
	log_info("server.stopping", "\"signal\":%d,\"grace_s\":%d", sig, (int)cfg.server.shutdown_grace);
	http_server_stop(server, (int)cfg.server.shutdown_grace);
	server = NULL;
	status = 0;
	log_info("server.stopped", NULL);
out:
	http_server_stop(server, 0);
	retention_stop(sweeper);
	imagejobs_stop(app.images);
	textmodels_stop(app.text);
	privacy_stop(app.privacy);
	mail_stop(app.mail);
	router_free(router);
	app_close(&app);
	return status;
}

static void print_key(const char *section, const char *key, const char *value, void *arg)
{
	const char **last = arg;
	if (!*last || strcmp(*last, section)) {
		printf("%s[%s]\n", *last ? "\n" : "", section);
		*last = section;
	}
	printf("%s = %s\n", key, value);
}

/* `atelier config`: the effective configuration as INI, secrets hidden. */
int cmd_config(int argc, char **argv)
{
	struct config cfg;
	int rc = cli_load_config(argc, argv, &cfg, "config");
	if (rc)
		return rc;
	const char *last = NULL;
	config_each(&cfg, print_key, &last);
	for (int i = 0; i < cfg.nmodels; i++) {
		const struct config_model *m = &cfg.models[i];
		printf("\n[model.%s]\nkind = %s\nbackend = %s\n", m->name, m->kind, m->backend);
		if (m->path[0])
			printf("path = %s\n", m->path);
		if (m->base_url[0])
			printf("base_url = %s\napi_key = %s\n", m->base_url, m->api_key[0] ? "(set)" : "");
	}
	return 0;
}

int cmd_routes(int argc, char **argv)
{
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	const struct route *tables[32];
	size_t nt = api_tables(tables, 32, 0);
	struct router *r;
	struct errinfo e = {0};
	if (router_new(&r, tables, nt, &e)) {
		fprintf(stderr, "atelier routes: %s\n", e.msg);
		return 1;
	}
	static const char *const rl[RL__MAX] = {"none", "read", "write", "auth", "generate"};
	if (json)
		printf("[\n");
	for (size_t i = 0; i < router_count(r); i++) {
		const struct route *rt = router_at(r, i);
		char scopes[64];
		scope_names(rt->scope, scopes, sizeof scopes);
		if (json)
			printf("  {\"method\":\"%s\",\"path\":\"%s\",\"guard\":\"%s\",\"scope\":\"%s\",\"rate\":\"%s\"}%s\n",
			       rt->method, rt->path, guard_name(rt->guard), scopes, rl[rt->rate], i + 1 < router_count(r) ? "," : "");
		else
			printf("%-7s %-44s %-8s %-24s %s\n", rt->method, rt->path, guard_name(rt->guard), scopes, rl[rt->rate]);
	}
	if (json)
		printf("]\n");
	router_free(r);
	return 0;
}
