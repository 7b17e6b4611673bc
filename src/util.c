/*
 * util.c - allocation and small helpers.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

void
die_oom(void)
{
	static const char msg[] =
	    "{\"level\":\"fatal\",\"msg\":\"out of memory\"}\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		die_oom();
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		die_oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		die_oom();
	return q;
}

char *
xstrdup(const char *s)
{
	if (s == NULL)
		return NULL;
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p;

	if (s == NULL)
		return NULL;
	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		die_oom();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void
secure_zero(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

void
free_secret(char *s)
{
	if (s == NULL)
		return;
	secure_zero(s, strlen(s));
	free(s);
}

int
strcmp0(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

bool
streq(const char *a, const char *b)
{
	return strcmp0(a, b) == 0;
}

bool
str_has_prefix(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

size_t
strlcpy0(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift128+, seeded once from getrandom(). */
static uint64_t rng_s[2];

double
rand_unit(void)
{
	uint64_t x, y;

	if (rng_s[0] == 0 && rng_s[1] == 0) {
		if (getrandom(rng_s, sizeof(rng_s), 0) != sizeof(rng_s) ||
		    (rng_s[0] == 0 && rng_s[1] == 0)) {
			rng_s[0] = (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ULL;
			rng_s[1] = (uint64_t)getpid() | 1;
		}
	}
	x = rng_s[0];
	y = rng_s[1];
	rng_s[0] = y;
	x ^= x << 23;
	rng_s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
	return (double)((rng_s[1] + y) >> 11) / 9007199254740992.0;
}

char *
read_file(const char *path, size_t max, size_t *len)
{
	struct stat st;
	char *data = NULL;
	size_t cap, n = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	if (cap > max + 1)
		cap = max + 1;
	data = xmalloc(cap + 1);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap > max) {
				errno = EFBIG;
				goto fail;
			}
			cap *= 2;
			if (cap > max + 1)
				cap = max + 1;
			data = xrealloc(data, cap + 1);
		}
		r = read(fd, data + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		errno = EFBIG;
		goto fail;
	}
	close(fd);
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
fail: {
		int e = errno;
		close(fd);
		free(data);
		errno = e;
		return NULL;
	}
}

/* Every double of magnitude >= 2^52 is an integer. */
#define DBL_INTEGRAL	4503599627370496.0

double
dbl_round(double x)
{
	long long i;
	double f;

	if (!(x > -DBL_INTEGRAL && x < DBL_INTEGRAL))
		return x;
	i = (long long)x;		/* toward zero, exact here */
	f = x - (double)i;
	if (f >= 0.5)
		i++;
	else if (f <= -0.5)
		i--;
	return (double)i;
}

double
dbl_ceil(double x)
{
	long long i;

	if (!(x > -DBL_INTEGRAL && x < DBL_INTEGRAL))
		return x;
	i = (long long)x;
	if ((double)i < x)
		i++;
	return i == 0 && x < 0 ? -0.0 : (double)i;
}

char *
strpack(size_t n, const char *const src[], char **const dst[])
{
	size_t total = 0, i, len;
	char *block, *p;

	for (i = 0; i < n; i++)
		if (src[i] != NULL)
			total += strlen(src[i]) + 1;
	block = p = total ? xmalloc(total) : NULL;
	for (i = 0; i < n; i++) {
		*dst[i] = NULL;
		if (src[i] == NULL)
			continue;
		len = strlen(src[i]) + 1;
		*dst[i] = memcpy(p, src[i], len);
		p += len;
	}
	return block;
}

void
sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
	unsigned int n = 0;

	/* SHA-256 cannot fail but for memory. */
	if (EVP_Digest(len ? data : "", len, out, &n, EVP_sha256(), NULL) != 1 ||
	    n != SHA256_LEN)
		die_oom();
}

enum text_check
text_check(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	enum text_check bad = TEXT_OK;

	while (p < end) {
		unsigned c = *p, cp, need, i;

		if (c == 0)
			return TEXT_NUL;	/* the worse of the two: report it */
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			bad = TEXT_BAD_UTF8;
			p++;
			continue;
		}
		if ((size_t)(end - p) <= need) {
			bad = TEXT_BAD_UTF8;
			p++;
			continue;
		}
		for (i = 1; i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				break;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (i <= need || (need == 2 && cp < 0x800) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			bad = TEXT_BAD_UTF8;
			p++;
			continue;
		}
		p += need + 1;
	}
	return bad;
}

const char *
text_check_msg(enum text_check c)
{
	switch (c) {
	case TEXT_NUL:
		return "contains a NUL byte";
	case TEXT_BAD_UTF8:
		return "is not valid UTF-8";
	default:
		return "";
	}
}

int
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}
