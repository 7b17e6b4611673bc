/*
 * password.c - CSPRNG passwords without modulo bias.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "password.h"

#define MAX_ATTEMPTS 10000

static const char *const classes[3] = {
	"abcdefghijklmnopqrstuvwxyz",
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	"0123456789",
};

static password_rand_fn rand_fn;

void
password_set_rand(password_rand_fn fn)
{
	rand_fn = fn;
}

static int
random_bytes(unsigned char *buf, int n)
{
	return rand_fn ? rand_fn(buf, n) : RAND_bytes(buf, n);
}

int
password_uniform(unsigned n, unsigned *out)
{
	unsigned char b;
	unsigned limit;

	if (n == 0 || n > 256)
		return -1;
	/* the largest multiple of n that fits in a byte: bytes at or above it
	 * would make the first 256 % n values more likely */
	limit = 256 - 256 % n;
	for (;;) {
		if (random_bytes(&b, 1) != 1)
			return -1;
		if (b < limit) {
			*out = b % n;
			secure_zero(&b, sizeof(b));
			return 0;
		}
	}
}

void
password_policy_from_config(const struct api_password_config *pc,
    struct password_policy *out)
{
	memset(out, 0, sizeof(*out));
	out->length = PASSWORD_DEFAULT_LENGTH;
	out->special = true;
	if (pc == NULL || !pc->set)
		return;
	if (pc->length > 0)
		out->length = (size_t)pc->length;
	out->special = pc->include_special_chars;
	out->exclude = pc->exclude_chars;
}

/* Appends the characters of set not in exclude (and not yet in out). */
static size_t
add_class(char *out, size_t n, const char *set, const char *exclude)
{
	size_t start = n;

	for (; *set; set++) {
		if (exclude && strchr(exclude, *set))
			continue;
		if (memchr(out, *set, n))
			continue;
		out[n++] = *set;
	}
	out[n] = '\0';
	return n - start;
}

char *
password_generate(const struct password_policy *p, char *err, size_t errlen)
{
	char alphabet[256 + 1];
	size_t bounds[5], nclass = 0, len, i, k, n = 0;
	const char *special = p->special_set ? p->special_set :
	    PASSWORD_SPECIAL_SAFE;
	char *pw;
	int attempt;

	len = p->length ? p->length : PASSWORD_DEFAULT_LENGTH;
	if (len > PASSWORD_MAX_LENGTH) {
		snprintf(err, errlen, "spec.passwordSecret.length: must be at "
		    "most %d", PASSWORD_MAX_LENGTH);
		return NULL;
	}
	if (strlen(special) > 64) {
		snprintf(err, errlen, "special character set too long");
		return NULL;
	}
	alphabet[0] = '\0';
	bounds[0] = 0;
	for (i = 0; i < 4; i++) {
		size_t added;

		if (i == 3 && !p->special)
			break;
		added = add_class(alphabet, n, i < 3 ? classes[i] : special,
		    p->exclude);
		if (added == 0)
			continue;
		n += added;
		bounds[++nclass] = n;
	}
	if (n == 0) {
		snprintf(err, errlen, "spec.passwordSecret.excludeChars: "
		    "excludes every character a password could use");
		return NULL;
	}
	if (len < nclass) {
		snprintf(err, errlen, "spec.passwordSecret.length: %zu is too "
		    "short for one character of each of the %zu kinds", len,
		    nclass);
		return NULL;
	}
	pw = xmalloc(len + 1);
	for (attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		bool missing = false;

		for (i = 0; i < len; i++) {
			unsigned idx;

			if (password_uniform((unsigned)n, &idx) < 0) {
				secure_zero(pw, len + 1);
				free(pw);
				snprintf(err, errlen, "the random number "
				    "generator failed");
				return NULL;
			}
			pw[i] = alphabet[idx];
		}
		pw[len] = '\0';
		for (k = 0; k < nclass && !missing; k++) {
			missing = true;
			for (i = 0; i < len; i++) {
				const char *pos = strchr(alphabet, pw[i]);
				size_t at = (size_t)(pos - alphabet);

				if (at >= bounds[k] && at < bounds[k + 1]) {
					missing = false;
					break;
				}
			}
		}
		if (!missing)
			return pw;
	}
	secure_zero(pw, len + 1);
	free(pw);
	snprintf(err, errlen, "spec.passwordSecret: no password with every "
	    "kind of character after %d attempts (length too short for the "
	    "allowed characters)", MAX_ATTEMPTS);
	return NULL;
}
