/*
 * payments.h: buying credits through Coinbase Commerce (PAY-2, PAY-3, PAY-4).
 *
 * Checkout creates a charge through the provider's API with only the
 * amount, the buyer's email and our internal reference (PAY-3), and returns
 * the provider's hosted payment page. The provider then calls our webhook;
 * its signature (HMAC-SHA256 of the raw body under the shared secret) is
 * checked in constant time, each event is handled once, and a confirmed or
 * resolved charge credits its owner once, with a receipt, in one
 * transaction. Nothing about the payer's wallet or card is stored.
 */
#ifndef ATELIER_SERVICE_PAYMENTS_H
#define ATELIER_SERVICE_PAYMENTS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "service/app.h"

struct checkout {
	char code[64];         /* the provider's charge code */
	char hosted_url[512];  /* where the buyer pays */
	int64_t credits;       /* micro-credits the charge buys */
	int64_t amount_cents;
	char currency[8];
};

/* Parse "10", "10.5", "10.50" into cents. ERR_INVALID otherwise. */
int payments_parse_amount(const char *s, int64_t *cents);

/* Create a charge for owner paying amount (text, e.g. "10.00") in currency.
 * email goes to the provider and nowhere else. */
int payments_checkout(struct app *app, const char *owner, const char *email, const char *amount,
		      const char *currency, struct checkout *out, struct errinfo *e);

enum webhook_outcome {
	WEBHOOK_CREDITED,  /* a charge completed: credits added */
	WEBHOOK_REPEAT,    /* this event or this charge's credit was handled before */
	WEBHOOK_NOTED,     /* another event type: status recorded, nothing credited */
};

/* Handle one delivery. ERR_CRYPTO for a missing or bad signature,
 * ERR_INVALID for a malformed event, ERR_NOTFOUND for an unknown charge;
 * each leaves an audit line and moves no credit. */
int payments_webhook(struct app *app, const char *body, size_t len, const char *signature,
		     enum webhook_outcome *outcome, struct errinfo *e);

#endif
