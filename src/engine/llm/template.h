/*
 * template.h: chat templates of the common model families, recognised from
 * the GGUF `tokenizer.chat_template` (a Jinja string we do not execute: we
 * look for each family's marker tokens) and written in C.
 *
 * The BOS token is not written: the tokenizer adds it (add_bos).
 * The output contains special-token text (<|im_start|>…) and must be
 * tokenized with special tokens recognised. Message content is copied as is;
 * callers that must stop users from forging special tokens encode content
 * separately (tmpl_format_parts).
 */
#ifndef ATELIER_ENGINE_LLM_TEMPLATE_H
#define ATELIER_ENGINE_LLM_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

enum tmpl_family { TMPL_CHATML, TMPL_LLAMA3, TMPL_LLAMA2, TMPL_ZEPHYR, TMPL__MAX };

struct tmpl_msg {
	const char *role; /* "system", "user" or "assistant" */
	const char *content;
};

/* The family of a chat template string; NULL or unrecognised gives ChatML
 * (unrecognised also logs a warning naming no content). */
enum tmpl_family tmpl_detect(const char *chat_template);

/* "chatml", "llama3", "llama2", "zephyr". */
const char *tmpl_name(enum tmpl_family f);

/* Append the conversation to out, then the assistant's prefix when
 * add_assistant. ERR_INVALID for an unknown role. */
int tmpl_format(enum tmpl_family f, const struct tmpl_msg *msgs, size_t n, bool add_assistant, struct buf *out,
		struct errinfo *e);

/* As tmpl_format, but calls part(ud, text, len, is_content) for each piece in
 * order, so template text (special tokens) and content can be tokenized
 * differently. A nonzero return from part stops and is returned. */
typedef int (*tmpl_part_fn)(void *ud, const char *text, size_t len, bool is_content);
int tmpl_format_parts(enum tmpl_family f, const struct tmpl_msg *msgs, size_t n, bool add_assistant,
		      tmpl_part_fn part, void *ud, struct errinfo *e);

#endif
