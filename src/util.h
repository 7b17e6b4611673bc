/*
 * util.h - allocation and small helpers shared by every module.
 *
 * Memory policy: allocation failure is fatal. The x* functions never return
 * NULL; on exhaustion they log one line and abort. This removes thousands of
 * error branches that could never be tested honestly, and a daemon that runs
 * out of memory is restarted by its supervisor anyway.
 */
#ifndef DBP_UTIL_H
#define DBP_UTIL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdarg.h>

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define DBP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define DBP_MUSTCHECK __attribute__((warn_unused_result))
#define DBP_NORETURN __attribute__((noreturn))
#else
#define DBP_PRINTF(f, a)
#define DBP_MUSTCHECK
#define DBP_NORETURN
#endif

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Returns a malloc'ed copy the caller frees; NULL in gives NULL out. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a malloc'ed formatted string the caller frees. */
char *xasprintf(const char *fmt, ...) DBP_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) DBP_PRINTF(1, 0);

/* Wipes memory that held a secret; the compiler may not elide it. */
void secure_zero(void *p, size_t n);
/* free() after wiping a NUL-terminated secret. */
void free_secret(char *s);

/* strcmp that treats NULL as the empty string. */
int strcmp0(const char *a, const char *b);
bool streq(const char *a, const char *b);
bool str_has_prefix(const char *s, const char *prefix);

/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t strlcpy0(char *dst, const char *src, size_t size);

/* Monotonic and wall clocks in seconds. */
double mono_now(void);
double wall_now(void);

/* A uniform random double in [0, 1) from a per-process PRNG seeded from
 * the OS (not for secrets: use OpenSSL's RAND_bytes for those). */
double rand_unit(void);

/* Reads a whole (small) file; returns malloc'ed contents (NUL-terminated,
 * length in *len if len is not NULL) or NULL with errno set. max caps the
 * size: larger files fail with EFBIG. Blocking: start-up and tests only,
 * or files known to be tiny (service-account token). */
char *read_file(const char *path, size_t max, size_t *len);

/*
 * Copies the n strings src[i] into one allocation and points *dst[i] at
 * each copy (NULL where src[i] is NULL). Returns the block, to be freed
 * once for all, or NULL when every src[i] is NULL.
 */
char *strpack(size_t n, const char *const src[], char **const dst[]);

#define SHA256_LEN	32
/* SHA-256 of len bytes at data. */
void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);

/*
 * round() and ceil() without libm (dbprovd needs no other libm function,
 * and not mapping it saves resident memory). Halves round away from zero.
 * NaN, infinities and values of magnitude 2^52 or more (all integral) are
 * returned as they are.
 */
double dbl_round(double x);
double dbl_ceil(double x);

/*
 * Text as dbprovd accepts it in names, passwords and every other string it
 * acts on: n bytes of well-formed UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF) with no NUL byte. A string that fails this is
 * refused, never truncated or repaired.
 */
/* Formats a message into err (when err and errlen are set) and returns
 * -1: `return errf(err, errlen, "...", ...);` */
int errf(char *err, size_t errlen, const char *fmt, ...) DBP_PRINTF(3, 4);

enum text_check { TEXT_OK, TEXT_NUL, TEXT_BAD_UTF8 };
enum text_check text_check(const char *s, size_t n);
/* The refusal in words ("contains a NUL byte", ...); "" for TEXT_OK. */
const char *text_check_msg(enum text_check c);

DBP_NORETURN void die_oom(void);

#endif
