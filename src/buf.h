/*
 * buf.h - growable byte buffer with a hard cap (in the spirit of curl's
 * dynbuf). Network input always goes into a capped buffer: a peer that
 * sends a 2 GiB "line" gets an error, not our memory.
 *
 * The data is always NUL-terminated (not counted in len), so a buffer of
 * text can be used as a C string.
 */
#ifndef DBP_BUF_H
#define DBP_BUF_H

#include <stddef.h>
#include "util.h"

struct buf {
	char *data;	/* owned; NULL until the first append */
	size_t len;	/* bytes in use */
	size_t cap;	/* bytes allocated (excluding the NUL) */
	size_t max;	/* hard cap on len; 0 means unlimited */
};

#define BUF_INIT(max) { NULL, 0, 0, (max) }

void buf_init(struct buf *b, size_t max);
/* Frees the storage; the buffer can be reused after buf_init(). */
void buf_release(struct buf *b);
/* Like buf_release() but wipes the bytes first (for secrets). */
void buf_release_secret(struct buf *b);
/* Empties the buffer, keeping its storage. */
void buf_reset(struct buf *b);

/* Append; return 0, or -1 when the cap would be exceeded (nothing is
 * appended then). */
int buf_append(struct buf *b, const void *p, size_t n) DBP_MUSTCHECK;
/* buf_append() / buf_puts() for uncapped buffers, which fail only on a
 * size overflow: that is fatal (die_oom()). */
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
int buf_puts(struct buf *b, const char *s) DBP_MUSTCHECK;
int buf_putc(struct buf *b, char c) DBP_MUSTCHECK;
int buf_printf(struct buf *b, const char *fmt, ...) DBP_PRINTF(2, 3) DBP_MUSTCHECK;

/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Returns the contents as a C string ("" when empty); owned by the buffer. */
const char *buf_cstr(const struct buf *b);
/* Hands the storage to the caller (malloc'ed, NUL-terminated, never NULL)
 * and leaves the buffer empty. */
char *buf_detach(struct buf *b, size_t *len);

#endif
