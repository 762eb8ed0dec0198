/*
 * buf.h: a growable byte buffer with a hard cap.
 *
 * Every buffer that input can grow has a cap (curl's habit): appending past it
 * fails with ERR_TOOBIG and leaves the buffer as it was. The data is always
 * NUL-terminated so text can be used in place.
 */
#ifndef ATELIER_BASE_BUF_H
#define ATELIER_BASE_BUF_H

#include <stddef.h>

struct buf {
	char *data;  /* NUL-terminated; owned by the buffer; NULL until first append */
	size_t len;  /* bytes used, excluding the terminator */
	size_t size; /* bytes allocated */
	size_t cap;  /* most bytes len may reach; 0 means SIZE_MAX/2 */
};

/* Initialise an empty buffer whose len may never pass cap (0: no cap). */
void buf_init(struct buf *b, size_t cap);

/* Append n bytes. ERR_TOOBIG past the cap, ERR_NOMEM on allocation failure. */
int buf_append(struct buf *b, const void *p, size_t n);

/* Grow len by n bytes (zeroed) and point *p at them, for filling in place. */
int buf_extend(struct buf *b, size_t n, char **p);

/* Append a NUL-terminated string. */
int buf_puts(struct buf *b, const char *s);

/* Append formatted text (bounded vsnprintf). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s as the inside of a JSON string (quotes not included). */
int buf_json_escape(struct buf *b, const char *s);

/* Append s escaped for HTML text and attribute values. */
int buf_html_escape(struct buf *b, const char *s);

/* Forget the contents but keep the memory. */
void buf_reset(struct buf *b);

/* Hand the data to the caller (caller frees with free()); the buffer is empty after. */
char *buf_steal(struct buf *b);

/* Free the data; the buffer may be reused after buf_init. Accepts NULL. */
void buf_free(struct buf *b);

#endif
