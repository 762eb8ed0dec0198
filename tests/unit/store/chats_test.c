/* chats_test.c: the opt-in chat history's queries (store/chats.c): the
 * switch is off until set; every query is the owner's only; messages are
 * replaced, listed in order and go with their conversation; listing is
 * most recently updated first with a cursor; deleting all counts them
 * (issue #5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/chats.h"
#include "store/db.h"

#include "tempdb.h"

static int setup(void **st)
{
	tempdb_open();
	struct db_conn *c = db_get(db);
	for (const char *const *id = (const char *const[]){"u_a", "u_b", NULL}; *id; id++) {
		char sql[512];
		snprintf(sql, sizeof sql,
			 "INSERT INTO users(id, username, email_bidx, email_sealed, password_hash, role, age_group,"
			 " created_at, password_changed_at) VALUES ('%s', '%s', 'bidx-%s', x'00', 'h', 'user', 'adult', 1, 1)",
			 *id, *id, *id);
		assert_int_equal(db_exec(c, sql), ERR_OK);
	}
	db_put(c);
	return 0;
}

static int teardown(void **st)
{
	return tempdb_close();
}

static void switch_is_off_until_set(void **st)
{
	struct db_conn *c = db_get(db);
	bool on = true;
	assert_int_equal(store_chat_history_get(c, "u_a", &on), ERR_OK);
	assert_false(on);
	assert_int_equal(store_chat_history_set(c, "u_a", true, 10), ERR_OK);
	assert_int_equal(store_chat_history_get(c, "u_a", &on), ERR_OK);
	assert_true(on);
	assert_int_equal(store_chat_history_get(c, "u_b", &on), ERR_OK);
	assert_false(on);
	assert_int_equal(store_chat_history_set(c, "u_a", false, 11), ERR_OK);
	assert_int_equal(store_chat_history_get(c, "u_a", &on), ERR_OK);
	assert_false(on);
	db_put(c);
}

struct seen {
	int n;
	char roles[8][12], ids[8][40];
};

static int msg_row(void *arg, int64_t seq, const char *role, const void *content, size_t n, int64_t at)
{
	struct seen *s = arg;
	assert_int_equal(seq, s->n);
	snprintf(s->roles[s->n++], 12, "%s", role);
	return 0;
}

static int conv_row(void *arg, const struct store_chat *ch, const void *title, size_t nt)
{
	struct seen *s = arg;
	snprintf(s->ids[s->n++], 40, "%s", ch->id);
	return 0;
}

/* REQ: SEC-3 (the store never sees plaintext; blobs go in and out as given) */
static void conversations_are_the_owners(void **st)
{
	struct db_conn *c = db_get(db);
	assert_int_equal(store_chat_insert(c, "conv_1", "u_a", "T1", 2, 100), ERR_OK);
	assert_int_equal(store_chat_insert(c, "conv_2", "u_a", NULL, 0, 200), ERR_OK);
	assert_int_equal(store_chat_insert(c, "conv_3", "u_b", "T3", 2, 300), ERR_OK);
	assert_int_equal(store_chat_message_insert(c, "conv_1", "u_a", 0, "user", "q", 1, 100), ERR_OK);
	assert_int_equal(store_chat_message_insert(c, "conv_1", "u_a", 1, "assistant", "a", 1, 100), ERR_OK);
	assert_int_equal(store_chat_message_insert(c, "conv_1", "u_a", 2, "bot", "a", 1, 100), ERR_EXISTS);

	struct store_chat ch;
	struct buf title;
	buf_init(&title, 0);
	assert_int_equal(store_chat_get(c, "conv_1", "u_a", &ch, &title), ERR_OK);
	assert_int_equal(ch.messages, 2);
	assert_int_equal(title.len, 2);
	assert_memory_equal(title.data, "T1", 2);
	assert_int_equal(store_chat_get(c, "conv_1", "u_b", &ch, NULL), ERR_NOTFOUND);
	assert_int_equal(store_chat_update(c, "conv_1", "u_b", true, "X", 1, 400), ERR_NOTFOUND);
	int64_t n = 0;
	assert_int_equal(store_chat_delete(c, "conv_1", "u_b", &n), ERR_OK);
	assert_int_equal(n, 0);
	struct seen s = {0};
	assert_int_equal(store_chat_messages(c, "conv_1", "u_b", msg_row, &s), ERR_OK);
	assert_int_equal(s.n, 0);

	/* replaced: clear and insert again; the title stays unless set */
	assert_int_equal(store_chat_messages_clear(c, "conv_1", "u_a"), ERR_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_chat_message_insert(c, "conv_1", "u_a", i, i % 2 ? "assistant" : "user", "m", 1, 500),
				 ERR_OK);
	assert_int_equal(store_chat_update(c, "conv_1", "u_a", false, NULL, 0, 500), ERR_OK);
	buf_reset(&title);
	assert_int_equal(store_chat_get(c, "conv_1", "u_a", &ch, &title), ERR_OK);
	assert_int_equal(ch.updated_at, 500);
	assert_int_equal(title.len, 2);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_chat_messages(c, "conv_1", "u_a", msg_row, &s), ERR_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.roles[1], "assistant");

	/* most recently updated first, one per page */
	bool more = false;
	memset(&s, 0, sizeof s);
	assert_int_equal(store_chat_list(c, "u_a", NULL, 1, conv_row, &s, &more), ERR_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.ids[0], "conv_1");
	assert_true(more);
	assert_int_equal(store_chat_list(c, "u_a", "conv_1", 1, conv_row, &s, &more), ERR_OK);
	assert_string_equal(s.ids[1], "conv_2");
	assert_false(more);
	assert_int_equal(store_chat_list(c, "u_a", "conv_3", 1, conv_row, &s, &more), ERR_NOTFOUND);

	/* deleting one takes its messages; deleting all counts conversations */
	assert_int_equal(store_chat_delete(c, "conv_1", "u_a", &n), ERR_OK);
	assert_int_equal(n, 1);
	memset(&s, 0, sizeof s);
	assert_int_equal(store_chat_messages(c, "conv_1", "u_a", msg_row, &s), ERR_OK);
	assert_int_equal(s.n, 0);
	assert_int_equal(store_chat_delete_all(c, "u_a", &n), ERR_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_chat_get(c, "conv_3", "u_b", &ch, NULL), ERR_OK);
	buf_free(&title);
	db_put(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(switch_is_off_until_set),
		cmocka_unit_test(conversations_are_the_owners),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
