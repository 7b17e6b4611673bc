#include "config.h"
#include <math.h>
#include <stdint.h>
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

int
main(void)
{
	test_rounding();
	return done_testing();
}
