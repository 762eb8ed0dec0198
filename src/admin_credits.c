/*
 * admin_credits.c: `atelier admin grant`: credits given by hand, for
 * support cases and promotions, each recorded in the ledger and the audit
 * log (issue 6). The admin console's POST /api/admin/users/{id}/credits
 * does the same through credits_grant_audited().
 *
 *   atelier admin grant --user ID --credits N --reason TEXT [--data-dir D] [--config F]
 */
#include <stdio.h>
#include <string.h>

#include "base/config.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "main_cmds.h"
#include "service/app.h"
#include "service/credits.h"

int admin_grant(int argc, char **argv)
{
	const char *user = NULL, *amount = NULL, *reason = NULL;
	char *rest[16];
	int n = 0;
	rest[n++] = argv[0];
	for (int i = 1; i < argc; i++) {
		const char **dst = !strcmp(argv[i], "--user")      ? &user
				   : !strcmp(argv[i], "--credits") ? &amount
				   : !strcmp(argv[i], "--reason")  ? &reason
								   : NULL;
		if (dst && i + 1 < argc)
			*dst = argv[++i];
		else if (n < 15)
			rest[n++] = argv[i];
	}
	if (!user || !amount || !reason) {
		fprintf(stderr, "usage: atelier admin grant --user ID --credits N --reason TEXT [--data-dir DIR] [--config FILE]\n");
		return 2;
	}
	int64_t micro;
	if (config_parse_credits(amount, &micro) || micro <= 0 || micro > CREDITS_MAX) {
		fprintf(stderr, "atelier admin grant: --credits must be a positive amount like 10 or 2.5\n");
		return 2;
	}
	if (strlen(reason) > 200) {
		fprintf(stderr, "atelier admin grant: --reason is at most 200 characters\n");
		return 2;
	}
	struct config cfg;
	int rc = cli_load_config(n, rest, &cfg, "admin grant");
	if (rc)
		return rc;
	log_set_level(LOG_WARN);
	struct app app = {0};
	if (app_open(&app, &cfg))
		return 1;
	char idem[64];
	unsigned char r[12];
	crypto_random(r, sizeof r);
	char hex[25];
	crypto_hex(hex, r, sizeof r);
	snprintf(idem, sizeof idem, "grant:admin:%s", hex);
	rc = credits_grant_audited(app.db, "cli", user, micro, idem, reason);
	if (rc == ERR_NOTFOUND)
		fprintf(stderr, "atelier admin grant: no user %s\n", user);
	else if (rc)
		fprintf(stderr, "atelier admin grant: %s\n", err_str(rc));
	else
		printf("granted %s credits to %s\n", amount, user);
	app_close(&app);
	return rc ? 1 : 0;
}
