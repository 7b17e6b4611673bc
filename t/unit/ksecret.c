#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ksecret.h"
#include "tap.h"

static void
dec(const char *in, const char *want, size_t wantlen, const char *name)
{
	size_t n = 0;
	char *out = ksecret_b64decode(in, strlen(in), &n);

	if (want == NULL) {
		ok(out == NULL, name);
	} else {
		ok(out != NULL && n == wantlen && memcmp(out, want, n) == 0 &&
		    out[n] == '\0', name);
	}
	free(out);
}

static void
enc(const char *in, size_t n, const char *want, const char *name)
{
	char *out = ksecret_b64encode(in, n);
	size_t m = 0;
	char *back = ksecret_b64decode(out, strlen(out), &m);
	char t[128];

	snprintf(t, sizeof(t), "encode: %s", name);
	ok(strcmp(out, want) == 0, t);
	snprintf(t, sizeof(t), "encode then decode: %s", name);
	ok(back != NULL && m == n && memcmp(back, in, n) == 0, t);
	free(out);
	free(back);
}

int
main(void)
{
	enc("", 0, "", "empty");
	enc("p", 1, "cA==", "one byte");
	enc("pa", 2, "cGE=", "two bytes");
	enc("pass", 4, "cGFzcw==", "four bytes");
	enc("passwd", 6, "cGFzc3dk", "six bytes");
	enc("\0\xff\xfe", 3, "AP/+", "binary, the last two characters of the alphabet");
	dec("", "", 0, "empty");
	dec("cGFzcw==", "pass", 4, "two padding characters");
	dec("cGFzc3c=", "passw", 5, "one padding character");
	dec("cGFzc3dk", "passwd", 6, "no padding");
	dec("AP8=", "\0\xff", 2, "binary bytes");
	dec("cyBwIGEgYyBl", "s p a c e", 9, "spaces survive");
	dec("cGFzcw", NULL, 0, "missing padding");
	dec("cGF*cw==", NULL, 0, "bad character");
	dec("cG==cw==", NULL, 0, "padding in the middle");
	/* A reason names what happened, not always "not found". */
	ok(strcmp(ksecret_reason(KSECRET_ENOTFOUND), "SecretNotFound") == 0,
	    "reason: a 404 or a missing key is SecretNotFound");
	ok(strcmp(ksecret_reason(KSECRET_EFAILED), "SecretReadFailed") == 0,
	    "reason: a 5xx or a transport error is SecretReadFailed");
	ok(strcmp(ksecret_reason(KSECRET_EFORBIDDEN), "SecretForbidden") == 0,
	    "reason: 401/403 is SecretForbidden");
	ok(strcmp(ksecret_reason(KSECRET_EINVALID), "SecretInvalid") == 0,
	    "reason: an unusable value is SecretInvalid");
	done_testing();
	return 0;
}
