/*
 * privacy_bench.c: `atelier privacy bench [--rows N] [--usage N]`: the cost
 * of the rights on a large account, for bench/privacy.sh. In a fresh data
 * directory it makes one account, inserts N sealed rows of an owner-scoped
 * table (objections with a sealed note, standing in for images until they
 * exist) and M usage rows, each set in one transaction, then times a full
 * export (the ZIP) and the erasure (one transaction, WAL scrub included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "main_cmds.h"
#include "service/accounts.h"
#include "service/app.h"
#include "service/privacy.h"
#include "service/vault.h"
#include "store/privacy.h"
#include "store/store.h"

static double secs(uint64_t t0)
{
	return (double)(time_mono_ns() - t0) / 1e9;
}

int privacy_bench_cmd(int argc, char **argv)
{
	long rows = 10000, usage = 100000;
	for (int i = 1; i + 1 < argc; i += 2) {
		char *end;
		long v = strtol(argv[i + 1], &end, 10);
		if (*end || v < 0 || v > 10000000) {
			fprintf(stderr, "atelier privacy bench: %s needs a count\n", argv[i]);
			return 2;
		}
		if (!strcmp(argv[i], "--rows"))
			rows = v;
		else if (!strcmp(argv[i], "--usage"))
			usage = v;
		else
			return 2;
	}
	char dir[] = "/tmp/atelier-privacy-bench-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	struct config cfg;
	struct errinfo e = {0};
	config_load(&cfg, NULL, &e);
	config_set(&cfg, "server", "data_dir", dir, &e);
	log_set_level(LOG_WARN);
	struct app app = {0};
	if (app_open(&app, &cfg) || acct_init(&app, &e))
		return 1;
	char uid[STORE_ID];
	struct acct_signup s = {.email = "bench@example.org", .username = "bench_user",
				.password = "violet-kettle-bench-staircase", .staff = true, .role = "user"};
	s.password_len = strlen(s.password);
	int rc = acct_signup(&app, &s, uid, &e);
	if (rc) {
		fprintf(stderr, "bench: sign-up: %s\n", e.msg);
		return 1;
	}
	/* insert: sealed rows */
	uint64_t t0 = time_mono_ns();
	struct db_conn *c = db_get(app.db);
	rc = db_begin(c);
	struct buf b;
	buf_init(&b, 0);
	char note[200];
	for (long i = 0; rc == ERR_OK && i < rows; i++) {
		snprintf(note, sizeof note, "bench prompt-like content number %ld, sealed under the owner's key", i);
		buf_reset(&b);
		if ((rc = vault_seal(c, app.keys, uid, "objection.note", note, strlen(note), &b)) == ERR_OK)
			rc = store_objection_add(c, uid, "other", b.data, b.len, time_now());
	}
	if (rc == ERR_OK)
		rc = db_commit(c);
	double t_rows = secs(t0);
	t0 = time_mono_ns();
	if (rc == ERR_OK)
		rc = db_begin(c);
	for (long i = 0; rc == ERR_OK && i < usage; i++) {
		struct store_usage u = {.owner = uid, .endpoint = "/v1/chat/completions", .model = "tiny",
					.prompt_tokens = 12, .completion_tokens = 40, .status = 200, .latency_ms = 80,
					.cost = 1000};
		rc = store_usage_add(c, &u);
	}
	if (rc == ERR_OK)
		rc = db_commit(c);
	if (rc)
		db_rollback(c);
	db_put(c);
	buf_free(&b);
	double t_usage = secs(t0);
	if (rc) {
		fprintf(stderr, "bench: insert failed: %s\n", err_str(rc));
		return 1;
	}
	struct buf zip;
	buf_init(&zip, 0);
	t0 = time_mono_ns();
	rc = privacy_export_build(&app, uid, &zip, NULL);
	double t_export = secs(t0);
	size_t zlen = zip.len;
	buf_free(&zip);
	json_t *receipt = NULL;
	struct privacy_erase_opts o = {.actor = uid, .channel = "studio"};
	t0 = time_mono_ns();
	if (rc == ERR_OK)
		rc = privacy_erase(&app, uid, &o, &receipt, &e);
	double t_erase = secs(t0);
	if (rc) {
		fprintf(stderr, "bench: %s\n", e.msg[0] ? e.msg : err_str(rc));
		return 1;
	}
	json_t *rm = json_object_get(receipt, "removed");
	printf("privacy bench: %ld sealed rows, %ld usage rows\n", rows, usage);
	printf("  insert sealed rows (1 tx)   %8.3f s\n", t_rows);
	printf("  insert usage rows (1 tx)    %8.3f s\n", t_usage);
	printf("  export (ZIP, %zu bytes)  %8.3f s   ratio to inserts %.2f\n", zlen, t_export,
	       t_export / (t_rows + t_usage));
	printf("  erasure (1 tx + WAL scrub)  %8.3f s   ratio to inserts %.2f\n", t_erase, t_erase / (t_rows + t_usage));
	printf("  receipt: objections %lld, usage %lld removed\n",
	       (long long)json_integer_value(json_object_get(rm, "objections")),
	       (long long)json_integer_value(json_object_get(rm, "usage")));
	json_decref(receipt);
	app_close(&app);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return 0;
}
