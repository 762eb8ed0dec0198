/* config_test.c: the schema, the INI file, the environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"

static char *write_tmp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/atelier-cfg-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void defaults_are_valid(void **st)
{
	struct config c;
	struct errinfo e = {0};
	assert_int_equal(config_load(&c, NULL, &e), ERR_OK);
	assert_string_equal(c.server.listen, "127.0.0.1:8080");
	assert_int_equal(c.server.body_limit, 1 << 20);
	assert_int_equal(c.server.request_timeout, 30);
	assert_string_equal(c.database.backend, "sqlite");
}

static void file_sets_keys(void **st)
{
	char *p = write_tmp("; comment\n[server]\nthreads = 8\nbody_limit = 2MiB\nidle_timeout = 2m\n"
			    "debug_routes = yes\n[database]\nbackend = postgres\n");
	struct config c;
	struct errinfo e = {0};
	assert_int_equal(config_load(&c, p, &e), ERR_OK);
	assert_int_equal(c.server.threads, 8);
	assert_int_equal(c.server.body_limit, 2 << 20);
	assert_int_equal(c.server.idle_timeout, 120);
	assert_true(c.server.debug_routes);
	assert_string_equal(c.database.backend, "postgres");
	unlink(p);
}

static void typo_names_the_key(void **st)
{
	char *p = write_tmp("[server]\nthreads = 2\nlisten_adress = 1.2.3.4:5\n");
	struct config c;
	struct errinfo e = {0};
	assert_int_equal(config_load(&c, p, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "listen_adress"));
	assert_non_null(strstr(e.msg, "line 3"));
	assert_string_equal(e.field, "server.listen_adress");
	unlink(p);
}

static void bad_values_refused(void **st)
{
	static const char *const bad[][3] = {
		{"server", "threads", "abc"},     {"server", "threads", "0"},
		{"server", "threads", "99999"},   {"server", "body_limit", "12 parsecs"},
		{"server", "body_limit", "-5"},   {"server", "debug_routes", "maybe"},
		{"database", "backend", "mysql"}, {"server", "request_timeout", "9999999999999999999s"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct config c;
		struct errinfo e = {0};
		config_defaults(&c);
		assert_int_equal(config_set(&c, bad[i][0], bad[i][1], bad[i][2], &e), ERR_INVALID);
		assert_non_null(strstr(e.msg, bad[i][1]));
	}
}

static void environment_overrides_file(void **st)
{
	char *p = write_tmp("[server]\nthreads = 3\n");
	setenv("ATELIER_SERVER_THREADS", "5", 1);
	struct config c;
	struct errinfo e = {0};
	assert_int_equal(config_load(&c, p, &e), ERR_OK);
	assert_int_equal(c.server.threads, 5);
	setenv("ATELIER_SERVER_THREADS", "five", 1);
	assert_int_equal(config_load(&c, p, &e), ERR_INVALID);
	assert_non_null(strstr(e.msg, "ATELIER_SERVER_THREADS"));
	unsetenv("ATELIER_SERVER_THREADS");
	unlink(p);
}

static void sizes_and_durations(void **st)
{
	int64_t v;
	assert_int_equal(config_parse_size("64k", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(config_parse_size("1GiB", &v), 0);
	assert_int_equal(v, 1 << 30);
	assert_int_not_equal(config_parse_size("", &v), 0);
	assert_int_not_equal(config_parse_size("k", &v), 0);
	assert_int_equal(config_parse_duration("90d", &v), 0);
	assert_int_equal(v, 90 * 86400);
	assert_int_equal(config_parse_duration("7y", &v), 0);
	assert_int_equal(v, 7LL * 365 * 86400);
	assert_int_not_equal(config_parse_duration("3 fortnights", &v), 0);
}

struct collect {
	char all[8192];
	size_t len;
};

static void collect_value(const char *s, const char *k, const char *v, void *arg)
{
	struct collect *b = arg;
	int n = snprintf(b->all + b->len, sizeof b->all - b->len, "%s\n", v);
	if (n > 0 && b->len + (size_t)n < sizeof b->all)
		b->len += (size_t)n;
}

static void each_hides_secrets(void **st)
{
	struct config c;
	config_defaults(&c);
	struct errinfo e;
	assert_int_equal(config_set(&c, "database", "url", "postgres://u:hunter2@h/db", &e), 0);
	struct collect x = {{0}, 0};
	config_each(&c, collect_value, &x);
	assert_null(strstr(x.all, "hunter2"));
	assert_non_null(strstr(x.all, "(set)"));
}

/* REQ: GEN-8 — models are chosen per request from configured sections. */
static void model_sections(void **st)
{
	char *p = write_tmp("[model.tiny]\npath = models/t.gguf\nprice_prompt = 0.5\nprice_completion = 1.25\n"
			    "[model.gpu-llama]\nbackend = openai\nbase_url = http://10.0.0.5:8000/v1\n"
			    "[model.draw]\nkind = image\npath = m.safetensors\nprice_image = 2\n");
	struct config c;
	struct errinfo e = {0};
	assert_int_equal(config_load(&c, p, &e), ERR_OK);
	assert_int_equal(c.nmodels, 3);
	const struct config_model *m = config_model_find(&c, "tiny");
	assert_non_null(m);
	assert_string_equal(m->backend, "builtin");
	assert_string_equal(m->kind, "text");
	assert_int_equal(m->price_prompt, 500000);
	assert_int_equal(m->price_completion, 1250000);
	assert_string_equal(config_model_find(&c, "gpu-llama")->backend, "openai");
	assert_int_equal(config_model_find(&c, "draw")->price_image, 2000000);
	assert_null(config_model_find(&c, "nope"));
	unlink(p);

	static const char *const bad[] = {
		"[model.x]\npath = a\nprice_prompt = -1\n",
		"[model.x]\npath = a\nprice_prompt = 0.0000001\n",
		"[model.x]\npath = a\nkind = video\n",
		"[model.x]\npath = a\ncolour = red\n",
		"[model.x]\nbackend = builtin\n",
		"[model.x]\nbackend = openai\nbase_url = ftp://h\n",
		"[model.bad name]\npath = a\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		p = write_tmp(bad[i]);
		assert_int_equal(config_load(&c, p, &e), ERR_INVALID);
		assert_non_null(strstr(e.msg, "model"));
		unlink(p);
	}
}

static void credits_amounts(void **st)
{
	int64_t v;
	assert_int_equal(config_parse_credits("12", &v), 0);
	assert_int_equal(v, 12000000);
	assert_int_equal(config_parse_credits("0.000125", &v), 0);
	assert_int_equal(v, 125);
	assert_int_equal(config_parse_credits(".5", &v), 0);
	assert_int_equal(v, 500000);
	assert_int_not_equal(config_parse_credits("", &v), 0);
	assert_int_not_equal(config_parse_credits("1.", &v), 0);
	assert_int_not_equal(config_parse_credits("1e3", &v), 0);
	assert_int_not_equal(config_parse_credits("99999999999999999999", &v), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_are_valid),      cmocka_unit_test(file_sets_keys),
		cmocka_unit_test(typo_names_the_key),      cmocka_unit_test(bad_values_refused),
		cmocka_unit_test(environment_overrides_file), cmocka_unit_test(sizes_and_durations),
		cmocka_unit_test(each_hides_secrets),     cmocka_unit_test(model_sections),
		cmocka_unit_test(credits_amounts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
