#include "config.h"
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

int
main(void)
{
	dec("", "", 0, "empty");
	dec("cGFzcw==", "pass", 4, "two padding characters");
	dec("cGFzc3c=", "passw", 5, "one padding character");
	dec("cGFzc3dk", "passwd", 6, "no padding");
	dec("AP8=", "\0\xff", 2, "binary bytes");
	dec("cyBwIGEgYyBl", "s p a c e", 9, "spaces survive");
	dec("cGFzcw", NULL, 0, "missing padding");
	dec("cGF*cw==", NULL, 0, "bad character");
	dec("cG==cw==", NULL, 0, "padding in the middle");
	done_testing();
	return 0;
}
