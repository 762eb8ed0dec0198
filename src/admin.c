/*
 * admin.c: `atelier admin create-user`: make the first staff accounts
 * (ACC-8) on the machine that holds the data directory.
 *
 *   atelier admin create-user --email E --username U --role admin
 *           (--password-file F | --password-stdin) [--data-dir DIR] [--config FILE]
 *
 * The password never comes from argv (other users can read a process's
 * arguments): it is read from a file (its first line) or from standard
 * input, with echo off when that is a terminal. The same policy as sign-up
 * applies; the email counts as verified and no birth date is asked, since
 * the operator vouches for a staff member.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "crypto/crypto.h"
#include "main_cmds.h"

int admin_grant(int argc, char **argv); /* admin_credits.c */
#include "service/accounts.h"
#include "service/app.h"
#include "store/db.h"

#define PW_MAX 1100

static int usage(void)
{
	fprintf(stderr, "usage: atelier admin create-user --email E --username U [--role user|support|admin]\n"
			"                 (--password-file F | --password-stdin) [--data-dir DIR] [--config FILE]\n");
	return 2;
}

/* One line from f into buf (without its end of line); -1 when too long or none. */
static int read_line(FILE *f, char *buf, size_t n, size_t *len)
{
	if (!fgets(buf, (int)n, f))
		return -1;
	size_t l = strlen(buf);
	if (l == n - 1 && buf[l - 1] != '\n')
		return -1;
	while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
		buf[--l] = '\0';
	*len = l;
	return 0;
}

static int read_password(const char *file, bool from_stdin, char *pw, size_t n, size_t *len)
{
	int rc = -1;
	if (file) {
		FILE *f = fopen(file, "r");
		if (!f) {
			fprintf(stderr, "atelier admin: cannot read %s: %s\n", file, strerror(errno));
			return -1;
		}
		rc = read_line(f, pw, n, len);
		fclose(f);
	} else if (from_stdin) {
		struct termios old, quiet;
		bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
		if (tty) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
			fprintf(stderr, "Password: ");
		}
		rc = read_line(stdin, pw, n, len);
		if (tty) {
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
			fprintf(stderr, "\n");
		}
	}
	if (rc)
		fprintf(stderr, "atelier admin: no password read (one line, at most %d bytes)\n", PW_MAX - 2);
	return rc;
}

static int create_user(int argc, char **argv)
{
	const char *email = NULL, *username = NULL, *role = "user", *pwfile = NULL, *config = NULL,
		   *data_dir = NULL;
	bool pw_stdin = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--password-stdin")) {
			pw_stdin = true;
			continue;
		}
		if (!strcmp(a, "--password")) {
			fprintf(stderr, "atelier admin: a password is never taken on the command line; "
					"use --password-file or --password-stdin\n");
			return 2;
		}
		const char **dst = !strcmp(a, "--email")		? &email
				   : !strcmp(a, "--username")		? &username
				   : !strcmp(a, "--role")		? &role
				   : !strcmp(a, "--password-file")	? &pwfile
				   : !strcmp(a, "--config")		? &config
				   : !strcmp(a, "--data-dir")		? &data_dir
									: NULL;
		if (!dst || i + 1 >= argc)
			return usage();
		*dst = argv[++i];
	}
	if (!email || !username || (!pwfile) == (!pw_stdin))
		return usage();

	struct config cfg;
	struct errinfo e = {0};
	int rc = config_load(&cfg, config, &e);
	if (!rc && data_dir)
		rc = config_set(&cfg, "server", "data_dir", data_dir, &e);
	if (rc) {
		fprintf(stderr, "atelier admin: %s\n", e.msg);
		return 2;
	}
	char pw[PW_MAX];
	size_t pwlen = 0;
	if (read_password(pwfile, pw_stdin, pw, sizeof pw, &pwlen))
		return 2;

	struct app app = {.cfg = &cfg, .data_dir = cfg.server.data_dir, .started_at = time_now()};
	int status = 1;
	char path[CONFIG_STR + 32];
	if (mkdir(cfg.server.data_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "atelier admin: cannot create %s: %s\n", cfg.server.data_dir, strerror(errno));
		goto out;
	}
	if (crypto_init()) {
		fprintf(stderr, "atelier admin: libsodium failed to initialise\n");
		goto out;
	}
	if (cfg.crypto.master_key_file[0])
		snprintf(path, sizeof path, "%s", cfg.crypto.master_key_file);
	else
		snprintf(path, sizeof path, "%s/master.key", cfg.server.data_dir);
	if ((rc = crypto_keys_load(&app.keys, path, &e))) {
		fprintf(stderr, "atelier admin: %s\n", e.msg);
		goto out;
	}
	if (cfg.database.path[0])
		snprintf(path, sizeof path, "%s", cfg.database.path);
	else
		snprintf(path, sizeof path, "%s/atelier.db", cfg.server.data_dir);
	struct db_options dbo = {
		.backend = cfg.database.backend, .path = path, .url = cfg.database.url, .pool = 1,
		.busy_timeout_ms = (int)cfg.database.busy_timeout_ms,
	};
	if ((rc = db_open(&app.db, &dbo, &e)) || (rc = acct_init(&app, &e))) {
		fprintf(stderr, "atelier admin: %s\n", e.msg);
		goto out;
	}
	struct acct_signup s = {
		.email = email, .username = username, .password = pw, .password_len = pwlen,
		.role = role, .staff = true,
	};
	char id[STORE_ID];
	if ((rc = acct_signup(&app, &s, id, &e))) {
		fprintf(stderr, "atelier admin: %s%s%s\n", e.field[0] ? e.field : "", e.field[0] ? ": " : "",
			e.msg[0] ? e.msg : err_str(rc));
		goto out;
	}
	printf("created %s user %s (%s)\n", role, id, username);
	status = 0;
out:
	crypto_wipe(pw, sizeof pw);
	db_close(app.db);
	crypto_keys_free(app.keys);
	return status;
}

int cmd_admin(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "create-user"))
		return create_user(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "grant"))
		return admin_grant(argc - 1, argv + 1);
	return usage();
}
