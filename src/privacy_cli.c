/*
 * privacy_cli.c: `atelier privacy …`, the operator's privacy tools.
 *
 *   atelier privacy retention [--dry-run] [--config F] [--data-dir D]
 *       what the retention periods remove now (or would remove)
 *   atelier privacy verify-receipt FILE [--config F] [--data-dir D]
 *       check a signed receipt; with the data directory's key present,
 *       also that this server signed it
 *   atelier privacy publish --version V --effective DATE
 *       record a material change of the privacy notice and mail every user
 *   atelier privacy bench [--rows N] [--usage N]
 *       time insert, export and erasure of a large account (bench/privacy.sh)
 *   atelier backup OUT / atelier restore IN   (service/backup.h)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "main_cmds.h"
#include "service/app.h"
#include "service/receipt.h"
#include "service/backup.h"
#include "service/privacy.h"
#include "service/retention.h"
#include "base/timeutil.h"

static int usage(void)
{
	fprintf(stderr, "usage: atelier privacy retention [--dry-run] [--config FILE] [--data-dir DIR]\n"
			"       atelier privacy verify-receipt FILE [--config FILE] [--data-dir DIR]\n"
			"       atelier privacy publish --version V --effective YYYY-MM-DD [--config FILE] [--data-dir DIR]\n");
	return 2;
}

/* Take "--NAME VALUE" out of argv into *val; returns the new argc. */
static int take_opt(int argc, char **argv, const char *name, const char **val)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name) && i + 1 < argc) {
			*val = argv[i + 1];
			for (int j = i; j + 2 <= argc; j++)
				argv[j] = argv[j + 2];
			return argc - 2;
		}
	return argc;
}

static int publish(int argc, char **argv)
{
	const char *version = NULL, *effective = NULL;
	argc = take_opt(argc, argv, "--version", &version);
	argc = take_opt(argc, argv, "--effective", &effective);
	if (!version || !effective)
		return usage();
	struct config cfg;
	int rc = cli_load_config(argc, argv, &cfg, "privacy publish");
	if (rc)
		return rc;
	log_set_level(LOG_WARN);
	struct app app = {0};
	if (app_open(&app, &cfg))
		return 1;
	struct errinfo e = {0};
	int64_t mailed = 0;
	rc = privacy_publish(&app, version, effective, &mailed, &e);
	if (rc == ERR_OK)
		printf("published privacy notice %s, effective %s; %lld users notified by mail\n"
		       "(a running server sends the queued mail; users accept in the studio)\n",
		       version, effective, (long long)mailed);
	else
		fprintf(stderr, "atelier privacy publish: %s\n", e.msg[0] ? e.msg : err_str(rc));
	app_close(&app);
	return rc ? 1 : 0;
}

/* `atelier backup OUT [--escrow FILE] [--config F] [--data-dir D]` */
int cmd_backup(int argc, char **argv)
{
	const char *escrow = NULL;
	argc = take_opt(argc, argv, "--escrow", &escrow);
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: atelier backup OUT [--escrow FILE] [--config FILE] [--data-dir DIR]\n");
		return 2;
	}
	const char *out = argv[1];
	argv[1] = argv[0];
	struct config cfg;
	int rc = cli_load_config(argc - 1, argv + 1, &cfg, "backup");
	if (rc)
		return rc;
	log_set_level(LOG_WARN);
	struct app app = {0};
	if (app_open(&app, &cfg))
		return 1;
	struct errinfo e = {0};
	struct backup_stats st;
	uint64_t t0 = time_mono_ns();
	rc = backup_create(&app, out, escrow, &st, &e);
	if (rc == ERR_OK)
		printf("backup written to %s: %lld bytes, %lld owner keys escrowed, %.1f s\n"
		       "keep the escrow file (%s) off this machine with the master key, and replace that copy after erasures\n",
		       out, (long long)st.bytes, (long long)st.owners, (double)(time_mono_ns() - t0) / 1e9,
		       escrow ? escrow : "DATA_DIR/backup-escrow");
	else
		fprintf(stderr, "atelier backup: %s\n", e.msg[0] ? e.msg : err_str(rc));
	app_close(&app);
	return rc ? 1 : 0;
}

/* `atelier restore IN [--force] [--escrow FILE] [--config F] [--data-dir D]` */
int cmd_restore(int argc, char **argv)
{
	const char *escrow = NULL;
	argc = take_opt(argc, argv, "--escrow", &escrow);
	bool force = false;
	char *rest[16];
	int n = 0;
	for (int i = 0; i < argc && n < 15; i++) {
		if (!strcmp(argv[i], "--force"))
			force = true;
		else
			rest[n++] = argv[i];
	}
	if (n < 2 || rest[1][0] == '-') {
		fprintf(stderr, "usage: atelier restore IN [--force] [--escrow FILE] [--config FILE] [--data-dir DIR]\n");
		return 2;
	}
	const char *in = rest[1];
	rest[1] = rest[0];
	struct config cfg;
	int rc = cli_load_config(n - 1, rest + 1, &cfg, "restore");
	if (rc)
		return rc;
	log_set_level(LOG_WARN);
	if (crypto_init())
		return 1;
	struct errinfo e = {0};
	struct backup_stats st;
	rc = backup_restore(&cfg, in, escrow, force, &st, &e);
	if (rc == ERR_OK)
		printf("restored %s into %s: %lld owner keys reopened, %lld unreadable (erased since), "
		       "%lld accounts erased again from the journal\n",
		       in, cfg.server.data_dir, (long long)st.owners, (long long)st.unreadable, (long long)st.erased);
	else
		fprintf(stderr, "atelier restore: %s\n", e.msg[0] ? e.msg : err_str(rc));
	return rc ? 1 : 0;
}

static int retention(int argc, char **argv)
{
	bool dry = false;
	char *rest[16];
	int n = 0;
	rest[n++] = argv[0];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dry-run"))
			dry = true;
		else if (n < 15)
			rest[n++] = argv[i];
	}
	struct config cfg;
	int rc = cli_load_config(n, rest, &cfg, "privacy retention");
	if (rc)
		return rc;
	log_set_level(LOG_WARN);
	struct app app = {0};
	if (app_open(&app, &cfg))
		return 1;
	struct retention_item items[16];
	size_t k;
	rc = retention_run(&app, dry, items, 16, &k);
	if (rc == ERR_OK) {
		printf("%-16s %-12s %s\n", "category", "kept", dry ? "would remove" : "removed");
		for (size_t i = 0; i < k; i++)
			printf("%-16s %-12lld %lld\n", items[i].category, (long long)(items[i].period_s / 86400),
			       (long long)items[i].rows);
		printf("(kept: days)\n");
	} else {
		fprintf(stderr, "atelier privacy retention: %s\n", err_str(rc));
	}
	app_close(&app);
	return rc ? 1 : 0;
}

static int verify_receipt(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] == '-')
		return usage();
	const char *file = argv[1];
	json_error_t je;
	json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		fprintf(stderr, "atelier privacy verify-receipt: %s: %s (line %d)\n", file, je.text, je.line);
		return 2;
	}
	/* the server's key, when this machine holds the data directory */
	struct config cfg;
	char *rest[16];
	int n = 0;
	rest[n++] = argv[0];
	for (int i = 2; i < argc && n < 15; i++)
		rest[n++] = argv[i];
	int rc = cli_load_config(n, rest, &cfg, "privacy verify-receipt");
	if (rc) {
		json_decref(doc);
		return rc;
	}
	char path[CONFIG_STR + 32];
	if (cfg.crypto.master_key_file[0])
		snprintf(path, sizeof path, "%s", cfg.crypto.master_key_file);
	else
		snprintf(path, sizeof path, "%s/master.key", cfg.server.data_dir);
	struct crypto_keys *keys = NULL;
	struct errinfo e = {0};
	if (crypto_init())
		return 1;
	bool have_key = access(path, R_OK) == 0 && crypto_keys_load(&keys, path, &e) == ERR_OK;
	rc = receipt_verify(doc, have_key ? keys->sign_pk : NULL);
	json_decref(doc);
	crypto_keys_free(keys);
	if (rc == ERR_OK) {
		printf("valid: signed by %s\n", have_key ? "this server" : "the key it names (this server's key was not available to compare)");
		return 0;
	}
	printf("INVALID: %s\n", rc == ERR_INVALID ? "not a signed receipt"
			      : have_key      ? "the signature does not match this server's key and the content"
					      : "the signature does not match the content");
	return 1;
}

int cmd_privacy(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "retention"))
		return retention(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify-receipt"))
		return verify_receipt(argc - 1, argv + 1);
	if (!strcmp(argv[1], "publish"))
		return publish(argc - 1, argv + 1);
	if (!strcmp(argv[1], "bench"))
		return privacy_bench_cmd(argc - 1, argv + 1);
	return usage();
}
