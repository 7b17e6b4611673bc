#include "config.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tap.h"
#include "util.h"

/* dbl_round() and dbl_ceil() against libm's round() and ceil(). */
static void
test_rounding(void)
{
	static const double cases[] = {
		0.0, -0.0, 0.4999999999999999, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5,
		0.1, -0.1, 0.9, -0.9, 1e-300, -1e-300, 123456.4999, 123456.5,
		-123456.5, 4503599627370495.5, -4503599627370495.5,
		4503599627370496.0, 9007199254740993.0, 1e18, -1e18, 1e300,
		-1e300, 9.3e18, -9.3e18,
	};
	size_t i, bad_round = 0, bad_ceil = 0;
	uint64_t x = 88172645463325252ULL;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (dbl_round(cases[i]) != round(cases[i]))
			bad_round++;
		if (dbl_ceil(cases[i]) != ceil(cases[i]))
			bad_ceil++;
	}
	/* A spread of magnitudes, fractions and signs. */
	for (i = 0; i < 200000; i++) {
		double v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = (double)(int64_t)(x >> (x % 64)) / (double)(1ULL << (x % 40));
		if (dbl_round(v) != round(v))
			bad_round++;
		if (dbl_ceil(v) != ceil(v))
			bad_ceil++;
	}
	is_int(bad_round, 0, "dbl_round() agrees with round()");
	is_int(bad_ceil, 0, "dbl_ceil() agrees with ceil()");
	ok(signbit(dbl_ceil(-0.5)), "dbl_ceil(-0.5) is -0, as ceil() has it");
	ok(isnan(dbl_round(NAN)) && isnan(dbl_ceil(NAN)), "NaN stays NaN");
	ok(dbl_round(INFINITY) == INFINITY && dbl_ceil(-INFINITY) == -INFINITY,
	    "infinities stay");
}

static void
test_strpack(void)
{
	const char *src[] = { "default", NULL, "", "db-1" };
	char *a = (char *)"x", *b = (char *)"x", *c = (char *)"x", *d = (char *)"x";
	char **const dst[] = { &a, &b, &c, &d };
	const char *none[] = { NULL, NULL };
	char *e = (char *)"x", *f = (char *)"x";
	char **const dst2[] = { &e, &f };
	char *block = strpack(4, src, dst);

	ok(block == a, "the block starts with the first string");
	is_str(a, "default", "first copied");
	ok(b == NULL, "a NULL source gives NULL");
	is_str(c, "", "an empty string is copied");
	is_str(d, "db-1", "last copied");
	ok(d == c + 1 && c == a + 8, "one after the other, NULs kept");
	free(block);
	ok(strpack(2, none, dst2) == NULL && e == NULL && f == NULL,
	    "nothing to copy: no block, every pointer NULL");
}

static void
test_sha256(void)
{
	static const unsigned char abc[SHA256_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	static const unsigned char empty[SHA256_LEN] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4,
		0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b,
		0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	};
	unsigned char out[SHA256_LEN];

	sha256("abc", 3, out);
	ok(memcmp(out, abc, sizeof(out)) == 0, "SHA-256 of \"abc\" (FIPS 180-2)");
	sha256(NULL, 0, out);
	ok(memcmp(out, empty, sizeof(out)) == 0, "SHA-256 of nothing");
}

static void
test_text_check(void)
{
	static const struct {
		const char *s;
		size_t n;
		enum text_check want;
		const char *what;
	} cases[] = {
		{ "", 0, TEXT_OK, "empty" },
		{ "plain_name", 10, TEXT_OK, "ASCII" },
		{ "caf\xc3\xa9", 5, TEXT_OK, "2-byte form" },
		{ "\xe2\x82\xac", 3, TEXT_OK, "3-byte form (euro sign)" },
		{ "\xf0\x9f\x98\x80", 4, TEXT_OK, "4-byte form (emoji)" },
		{ "\xf4\x8f\xbf\xbf", 4, TEXT_OK, "U+10FFFF" },
		{ "a\0b", 3, TEXT_NUL, "embedded NUL" },
		{ "ab\0", 3, TEXT_NUL, "trailing NUL" },
		{ "\xff", 1, TEXT_BAD_UTF8, "0xff" },
		{ "\x80", 1, TEXT_BAD_UTF8, "lone continuation byte" },
		{ "\xc3", 1, TEXT_BAD_UTF8, "truncated 2-byte form" },
		{ "\xe2\x82", 2, TEXT_BAD_UTF8, "truncated 3-byte form" },
		{ "\xc0\xaf", 2, TEXT_BAD_UTF8, "overlong '/'" },
		{ "\xe0\x80\xaf", 3, TEXT_BAD_UTF8, "overlong 3-byte" },
		{ "\xed\xa0\x80", 3, TEXT_BAD_UTF8, "surrogate D800" },
		{ "\xed\xbf\xbf", 3, TEXT_BAD_UTF8, "surrogate DFFF" },
		{ "\xf4\x90\x80\x80", 4, TEXT_BAD_UTF8, "above U+10FFFF" },
		{ "\xf8\x88\x80\x80\x80", 5, TEXT_BAD_UTF8, "5-byte form" },
		{ "ok\xff\0", 4, TEXT_NUL, "a NUL wins over bad bytes" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		is_int(text_check(cases[i].s, cases[i].n), cases[i].want,
		    cases[i].what);
	ok(strcmp(text_check_msg(TEXT_NUL), "contains a NUL byte") == 0,
	    "message for a NUL");
	ok(strcmp(text_check_msg(TEXT_BAD_UTF8), "is not valid UTF-8") == 0,
	    "message for bad UTF-8");
}

int
main(void)
{
	test_rounding();
	test_strpack();
	test_sha256();
	test_text_check();
	return done_testing();
}
