/*
 * template.c: ChatML, Llama 3, Llama 2 and Zephyr (TinyLlama) chat formats.
 *
 * Each family is a row of a table: text before and after a message per role,
 * and the assistant prefix. Llama 2 folds the system prompt into the first
 * user turn, so it has its own small function. We rejected a general Jinja
 * interpreter: the families in use are few, and executing templates taken
 * from model files is attack surface we do not need.
 */
#include "engine/llm/template.h"

#include <string.h>

#include "base/log.h"

enum role { R_SYSTEM, R_USER, R_ASSISTANT, R__MAX };

static const struct family {
	const char *name;
	const char *pre[R__MAX], *post[R__MAX];
	const char *gen;
} fam[TMPL__MAX] = {
	[TMPL_CHATML] = {"chatml",
			 {"<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n"},
			 {"<|im_end|>\n", "<|im_end|>\n", "<|im_end|>\n"},
			 "<|im_start|>assistant\n"},
	[TMPL_LLAMA3] = {"llama3",
			 {"<|start_header_id|>system<|end_header_id|>\n\n", "<|start_header_id|>user<|end_header_id|>\n\n",
			  "<|start_header_id|>assistant<|end_header_id|>\n\n"},
			 {"<|eot_id|>", "<|eot_id|>", "<|eot_id|>"},
			 "<|start_header_id|>assistant<|end_header_id|>\n\n"},
	[TMPL_LLAMA2] = {"llama2", {0}, {0}, ""},
	[TMPL_ZEPHYR] = {"zephyr",
			 {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"},
			 {"</s>\n", "</s>\n", "</s>\n"},
			 "<|assistant|>\n"},
};

enum tmpl_family tmpl_detect(const char *t)
{
	if (!t || !*t)
		return TMPL_CHATML;
	if (strstr(t, "<|im_start|>"))
		return TMPL_CHATML;
	if (strstr(t, "<|start_header_id|>"))
		return TMPL_LLAMA3;
	if (strstr(t, "<|user|>") || strstr(t, "<|assistant|>"))
		return TMPL_ZEPHYR;
	if (strstr(t, "[INST]"))
		return TMPL_LLAMA2;
	log_warn("llm_template_unknown", "\"fallback\":\"chatml\"");
	return TMPL_CHATML;
}

const char *tmpl_name(enum tmpl_family f)
{
	return (unsigned)f < TMPL__MAX ? fam[f].name : "?";
}

static int role_of(const char *r)
{
	if (!r)
		return -1;
	if (!strcmp(r, "system"))
		return R_SYSTEM;
	if (!strcmp(r, "user"))
		return R_USER;
	if (!strcmp(r, "assistant"))
		return R_ASSISTANT;
	return -1;
}

static int put(tmpl_part_fn part, void *ud, const char *s, bool content)
{
	size_t n = strlen(s);
	return n ? part(ud, s, n, content) : 0;
}

static int llama2(const struct tmpl_msg *msgs, size_t n, tmpl_part_fn part, void *ud)
{
	/* [INST] <<SYS>>\nsys\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] user [/INST] */
	int rc = 0;
	const char *sys = NULL;
	bool first = true;
	for (size_t i = 0; i < n && !rc; i++) {
		int r = role_of(msgs[i].role);
		if (r == R_SYSTEM) {
			sys = msgs[i].content;
		} else if (r == R_USER) {
			rc = put(part, ud, first ? "[INST] " : "<s>[INST] ", false);
			if (!rc && sys) {
				rc = put(part, ud, "<<SYS>>\n", false);
				if (!rc)
					rc = put(part, ud, sys, true);
				if (!rc)
					rc = put(part, ud, "\n<</SYS>>\n\n", false);
				sys = NULL;
			}
			if (!rc)
				rc = put(part, ud, msgs[i].content, true);
			if (!rc)
				rc = put(part, ud, " [/INST]", false);
			first = false;
		} else {
			rc = put(part, ud, " ", false);
			if (!rc)
				rc = put(part, ud, msgs[i].content, true);
			if (!rc)
				rc = put(part, ud, " </s>", false);
		}
	}
	return rc;
}

int tmpl_format_parts(enum tmpl_family f, const struct tmpl_msg *msgs, size_t n, bool add_assistant,
		      tmpl_part_fn part, void *ud, struct errinfo *e)
{
	if ((unsigned)f >= TMPL__MAX)
		return err_set(e, ERR_INVALID, NULL, "unknown chat template family");
	for (size_t i = 0; i < n; i++) {
		if (role_of(msgs[i].role) < 0)
			return err_set(e, ERR_INVALID, "role", "message %zu has an unknown role (system, user, assistant)", i);
		if (!msgs[i].content)
			return err_set(e, ERR_INVALID, "content", "message %zu has no content", i);
	}
	if (f == TMPL_LLAMA2)
		return llama2(msgs, n, part, ud);
	const struct family *F = &fam[f];
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		int r = role_of(msgs[i].role);
		rc = put(part, ud, F->pre[r], false);
		if (!rc)
			rc = put(part, ud, msgs[i].content, true);
		if (!rc)
			rc = put(part, ud, F->post[r], false);
	}
	if (!rc && add_assistant)
		rc = put(part, ud, F->gen, false);
	return rc;
}

static int to_buf(void *ud, const char *text, size_t len, bool is_content)
{
	return buf_append(ud, text, len);
}

int tmpl_format(enum tmpl_family f, const struct tmpl_msg *msgs, size_t n, bool add_assistant, struct buf *out,
		struct errinfo *e)
{
	int rc = tmpl_format_parts(f, msgs, n, add_assistant, to_buf, out, e);
	if (rc && e && e->code == ERR_OK)
		err_set(e, rc, NULL, "chat prompt too long");
	return rc;
}
