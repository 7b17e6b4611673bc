#include "config.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "duration.h"
#include "tap.h"

static char err[128];

static void
good(const char *s, int64_t want)
{
	int64_t got = 12345;
	char name[128];

	snprintf(name, sizeof(name), "parse \"%s\"", s);
	err[0] = '\0';
	if (!is_int(duration_parse(s, &got, err, sizeof(err)), 0, name))
		diag("error: %s", err);
	else
		is_int(got, want, name);
}

static void
bad(const char *s, const char *want_err)
{
	int64_t got = 12345;
	char name[128];

	snprintf(name, sizeof(name), "reject \"%s\"", s);
	err[0] = '\0';
	is_int(duration_parse(s, &got, err, sizeof(err)), -1, name);
	is_str(err, want_err, name);
	is_int(got, 12345, "output untouched on error");
}

static void
fmt(int64_t ns, const char *want)
{
	char buf[DURATION_FMT_MAX];

	is_str(duration_format(ns, buf), want, want);
}

int
main(void)
{
	int64_t ns = 0;
	double sec = 0;
	char buf[DURATION_FMT_MAX];

	/* from Go's time_test.go parseDurationTests */
	good("0", 0);
	good("5s", 5000000000LL);
	good("30s", 30000000000LL);
	good("1478s", 1478000000000LL);
	good("-5s", -5000000000LL);
	good("+5s", 5000000000LL);
	good("-0", 0);
	good("+0", 0);
	good("5.0s", 5000000000LL);
	good("5.6s", 5600000000LL);
	good("5.s", 5000000000LL);
	good(".5s", 500000000LL);
	good("1.0s", 1000000000LL);
	good("1.00s", 1000000000LL);
	good("1.004s", 1004000000LL);
	good("1.0040s", 1004000000LL);
	good("100.00100s", 100001000000LL);
	good("10ns", 10);
	good("11us", 11000);
	good("12\xc2\xb5s", 12000);
	good("12\xce\xbcs", 12000);
	good("13ms", 13000000);
	good("14s", 14000000000LL);
	good("15m", 900000000000LL);
	good("16h", 57600000000000LL);
	good("3h30m", 12600000000000LL);
	good("10.5s4m", 250500000000LL);
	good("-2m3.4s", -123400000000LL);
	good("1h2m3s4ms5us6ns", 3723004005006LL);
	good("39h9m14.425s", 140954425000000LL);
	good("52763797000ns", 52763797000LL);
	good("0.3333333333333333333h", 1200000000000LL);
	good("9007199254740993ns", 9007199254740993LL);
	good("9223372036854775807ns", INT64_MAX);
	good("9223372036854775.807us", INT64_MAX);
	good("9223372036s854ms775us807ns", INT64_MAX);
	good("-9223372036854775808ns", INT64_MIN);
	good("-9223372036854775.808us", INT64_MIN);
	good("0.100000000000000000000h", 360000000000LL);
	good("0.830103483285477580700h", 2988372539827LL);
	good("1.5h", 5400000000000LL);
	good("300ms", 300000000);
	good("1h30m", 5400000000000LL);

	bad("", "time: invalid duration \"\"");
	bad("3", "time: missing unit in duration \"3\"");
	bad("-", "time: invalid duration \"-\"");
	bad("s", "time: invalid duration \"s\"");
	bad(".", "time: invalid duration \".\"");
	bad("-.", "time: invalid duration \"-.\"");
	bad(".s", "time: invalid duration \".s\"");
	bad("+.s", "time: invalid duration \"+.s\"");
	bad("1d", "time: unknown unit \"d\" in duration \"1d\"");
	bad("1 h", "time: unknown unit \" h\" in duration \"1 h\"");
	bad("3000000h", "time: invalid duration \"3000000h\"");
	bad("2562048h", "time: invalid duration \"2562048h\"");
	bad("9223372036854775807h", "time: invalid duration \"9223372036854775807h\"");
	bad("5124095576030432h", "time: invalid duration \"5124095576030432h\"");
	bad("9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\"");
	bad("9223372036854775.808us", "time: invalid duration \"9223372036854775.808us\"");
	bad("9223372036854ms775us808ns", "time: invalid duration \"9223372036854ms775us808ns\"");
	bad("-9223372036854775809ns", "time: invalid duration \"-9223372036854775809ns\"");
	bad("1h-5m", "time: unknown unit \"h-\" in duration \"1h-5m\"");
	bad("00", "time: missing unit in duration \"00\"");

	is_int(duration_parse("1x", &ns, NULL, 0), -1, "NULL error buffer with length 0");
	is_int(duration_parse("", &ns, NULL, 0), -1, "NULL error buffer, invalid");
	is_int(duration_parse_seconds("1.5s", &sec, err, sizeof(err)), 0, "seconds variant");
	ok(fabs(sec - 1.5) < 1e-12, "1.5s is 1.5 seconds");
	is_int(duration_parse_seconds("250ms", &sec, err, sizeof(err)), 0, "seconds variant ms");
	ok(fabs(sec - 0.25) < 1e-12, "250ms is 0.25 seconds");
	is_int(duration_parse_seconds("x", &sec, err, sizeof(err)), -1, "seconds variant fails too");

	is_int(duration_parse_days("7d", &ns, err, sizeof(err)), 0, "7d parses with days");
	is_int(ns, 7 * 86400 * 1000000000LL, "7d = 7 * 24 h");
	is_int(duration_parse_days("2w3d", &ns, err, sizeof(err)), 0, "2w3d parses");
	is_int(ns, 17 * 86400 * 1000000000LL, "2w3d = 17 days");
	is_int(duration_parse_days("1d12h", &ns, err, sizeof(err)), 0, "1d12h parses");
	is_int(ns, 36 * 3600 * 1000000000LL, "1d12h = 36 h");
	is_int(duration_parse_days("1.5w", &ns, err, sizeof(err)), 0, "fractional weeks");
	is_int(ns, 252 * 3600 * 1000000000LL, "1.5w = 252 h");
	is_int(duration_parse_days("90m", &ns, err, sizeof(err)), 0, "Go units still work");
	is_int(ns, 5400 * 1000000000LL, "90m");
	is_int(duration_parse_days("1y", &ns, err, sizeof(err)), -1, "no years");
	is_str(err, "time: unknown unit \"y\" in duration \"1y\"", "unknown unit message");
	is_int(duration_parse_days("200000d", &ns, err, sizeof(err)), -1, "days overflow");
	is_int(duration_parse_days("7", &ns, err, sizeof(err)), -1, "missing unit with days");

	/* from Go's durationTests */
	fmt(0, "0s");
	fmt(1, "1ns");
	fmt(1100, "1.1\xc2\xb5s");
	fmt(2200000, "2.2ms");
	fmt(3300000000LL, "3.3s");
	fmt(4 * 60000000000LL + 5000000000LL, "4m5s");
	fmt(4 * 60000000000LL + 5001000000LL, "4m5.001s");
	fmt(5 * 3600000000000LL + 6 * 60000000000LL + 7001000000LL, "5h6m7.001s");
	fmt(8 * 60000000000LL + 1, "8m0.000000001s");
	fmt(INT64_MAX, "2562047h47m16.854775807s");
	fmt(INT64_MIN, "-2562047h47m16.854775808s");
	fmt(5400000000000LL, "1h30m0s");
	fmt(-2000000000LL, "-2s");
	fmt(999, "999ns");
	fmt(1000, "1\xc2\xb5s");
	fmt(1000000, "1ms");
	fmt(3600000000000LL, "1h0m0s");

	is_str(duration_format_seconds(5400, buf), "1h30m0s", "seconds 5400");
	is_str(duration_format_seconds(0.3, buf), "300ms", "seconds 0.3 rounds to 300ms");
	is_str(duration_format_seconds(1.1, buf), "1.1s", "seconds 1.1");
	is_str(duration_format_seconds(-0.5, buf), "-500ms", "seconds -0.5");
	is_str(duration_format_seconds(1e300, buf), "2562047h47m16.854775807s", "huge clamps");
	is_str(duration_format_seconds(NAN, buf), "0s", "NaN is 0s");

	/* round trip */
	{
		static const char *const rt[] = { "1h30m0s", "1.5s", "300ms", "-2m3.4s", "1ns", "7.000001s" };
		size_t i;
		int all = 1;

		for (i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
			if (duration_parse(rt[i], &ns, err, sizeof(err)) < 0 ||
			    strcmp(duration_format(ns, buf), rt[i]) != 0) {
				diag("round trip of %s gave %s", rt[i], buf);
				all = 0;
			}
		}
		ok(all, "format(parse(x)) == x for canonical strings");
	}
	return done_testing();
}
