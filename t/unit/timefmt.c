#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "timefmt.h"
#include "tap.h"

static char err[128];

static struct timespec
ts(long long sec, long nsec)
{
	struct timespec t;

	t.tv_sec = (time_t)sec;
	t.tv_nsec = nsec;
	return t;
}

static void
good(const char *s, long long sec, long nsec)
{
	struct timespec t = ts(-7, -7);

	err[0] = '\0';
	if (!is_int(timefmt_parse(s, &t, err, sizeof(err)), 0, s)) {
		diag("error: %s", err);
		return;
	}
	is_int(t.tv_sec, sec, "seconds");
	is_int(t.tv_nsec, nsec, "nanoseconds");
}

static void
bad(const char *s, const char *want)
{
	struct timespec t = ts(-7, -7);
	char name[128];

	snprintf(name, sizeof(name), "reject %s", s);
	err[0] = '\0';
	is_int(timefmt_parse(s, &t, err, sizeof(err)), -1, name);
	ok(strstr(err, want) != NULL, want);
	if (strstr(err, want) == NULL)
		diag("message: %s", err);
	is_int(t.tv_sec, -7, "output untouched on error");
}

int
main(void)
{
	char buf[64];
	struct timespec t;
	double d;

	/* TZ must not matter */
	setenv("TZ", "Pacific/Chatham", 1);
	tzset();

	is_int(timefmt_time(ts(1746093852, 999999999), buf, sizeof(buf)), 0, "format Time");
	is_str(buf, "2025-05-01T10:04:12Z", "Time drops the fraction");
	is_int(timefmt_micro(ts(1746093852, 123456789), buf, sizeof(buf)), 0, "format MicroTime");
	is_str(buf, "2025-05-01T10:04:12.123456Z", "MicroTime truncates to 6 digits");
	is_int(timefmt_micro(ts(1746093852, 0), buf, sizeof(buf)), 0, "format whole second");
	is_str(buf, "2025-05-01T10:04:12.000000Z", "MicroTime always has 6 digits");
	is_int(strlen(buf) + 1, TIMEFMT_MICRO_LEN, "TIMEFMT_MICRO_LEN fits exactly");
	is_int(timefmt_micro(ts(1746093852, 0), buf, TIMEFMT_MICRO_LEN), 0, "exact-size buffer works");
	is_int(timefmt_micro(ts(1746093852, 0), buf, TIMEFMT_MICRO_LEN - 1), -1, "short buffer fails");
	is_str(buf, "", "and leaves an empty string");
	is_int(timefmt_time(ts(1136214245, 0), buf, TIMEFMT_TIME_LEN), 0, "Time in exact-size buffer");
	is_str(buf, "2006-01-02T15:04:05Z", "Go's reference time");
	is_int(timefmt_time(ts(-1, 0), buf, sizeof(buf)), 0, "before the epoch");
	is_str(buf, "1969-12-31T23:59:59Z", "one second before the epoch");
	is_int(timefmt_time(ts(1709164800, 0), buf, sizeof(buf)), 0, "leap day");
	is_str(buf, "2024-02-29T00:00:00Z", "leap day formats");
	is_int(timefmt_time(ts(253402300800LL, 0), buf, sizeof(buf)), -1, "year 10000 refused");
	is_int(timefmt_time(ts(-62167219201LL, 0), buf, sizeof(buf)), -1, "year -1 refused");
	is_int(timefmt_time(ts(0, 1000000000L), buf, sizeof(buf)), -1, "bad tv_nsec refused");

	good("2025-05-01T10:04:12Z", 1746093852, 0);
	good("2025-05-01T10:04:12.123456Z", 1746093852, 123456000);
	good("2025-05-01T10:04:12.5Z", 1746093852, 500000000);
	good("2025-05-01T10:04:12.123456789123Z", 1746093852, 123456789);
	good("2025-05-01T12:04:12+02:00", 1746093852, 0);
	good("2025-05-01T05:34:12.25-04:30", 1746093852, 250000000);
	good("2025-05-01T10:04:12+00:00", 1746093852, 0);
	good("2024-02-29T00:00:00Z", 1709164800, 0);
	good("2000-02-29T00:00:00Z", 951782400, 0);
	good("1969-12-31T23:59:59Z", -1, 0);
	good("2025-12-31T23:59:59Z", 1767225599, 0);

	bad("2025-13-01T00:00:00Z", "month out of range");
	bad("2025-00-01T00:00:00Z", "month out of range");
	bad("2025-02-30T00:00:00Z", "day out of range");
	bad("2023-02-29T00:00:00Z", "day out of range");
	bad("1900-02-29T00:00:00Z", "day out of range");
	bad("2025-04-31T00:00:00Z", "day out of range");
	bad("2025-04-00T00:00:00Z", "day out of range");
	bad("2025-05-01T24:00:00Z", "hour out of range");
	bad("2025-05-01T23:60:00Z", "minute out of range");
	bad("2025-05-01T23:59:60Z", "second out of range");
	bad("2025-05-01T10:04:12", "want Z");
	bad("2025-05-01T10:04:12z", "want Z");
	bad("2025-05-01t10:04:12Z", "not RFC 3339");
	bad("2025-05-01 10:04:12Z", "not RFC 3339");
	bad("2025-5-01T10:04:12Z", "not RFC 3339");
	bad("", "not RFC 3339");
	bad("2025-05-01T10:04:12.Z", "want Z");
	bad("2025-05-01T10:04:12+0200", "want Z");
	bad("2025-05-01T10:04:12+24:00", "offset out of range");
	bad("2025-05-01T10:04:12Zjunk", "want Z");
	bad("2025-05-01T10:04:12.123456Z ", "want Z");

	is_int(timefmt_parse_micro("2025-05-01T10:04:12.123456Z", &t, err, sizeof(err)), 0,
	    "strict MicroTime accepts 6 digits");
	is_int(t.tv_nsec, 123456000, "MicroTime fraction");
	is_int(timefmt_parse_micro("2025-05-01T12:04:12.123456+02:00", &t, err, sizeof(err)), 0,
	    "strict MicroTime accepts an offset");
	is_int(t.tv_sec, 1746093852, "MicroTime offset applied");
	is_int(timefmt_parse_micro("2025-05-01T10:04:12Z", &t, err, sizeof(err)), -1,
	    "strict MicroTime rejects whole seconds (the API server's 400)");
	ok(strstr(err, "6 fractional digits") != NULL, "message says why");
	is_int(timefmt_parse_micro("2025-05-01T10:04:12.12345Z", &t, err, sizeof(err)), -1,
	    "strict MicroTime rejects 5 digits");
	is_int(timefmt_parse_micro("2025-05-01T10:04:12.1234567Z", &t, err, sizeof(err)), -1,
	    "strict MicroTime rejects 7 digits");

	is_int(timefmt_parse("2025-13-01T00:00:00Z", &t, NULL, 0), -1, "NULL error buffer with length 0");

	/* doubles */
	is_int(timefmt_micro_d(1746093852.123456, buf, sizeof(buf)), 0, "MicroTime from double");
	is_str(buf, "2025-05-01T10:04:12.123456Z", "rounded to the microsecond, not truncated");
	is_int(timefmt_micro_d(1746093852.9999996, buf, sizeof(buf)), 0, "rounding carries");
	is_str(buf, "2025-05-01T10:04:13.000000Z", "carry into the next second");
	is_int(timefmt_time_d(1746093852.75, buf, sizeof(buf)), 0, "Time from double");
	is_str(buf, "2025-05-01T10:04:12Z", "Time from double truncates");
	is_int(timefmt_time_d(-0.5, buf, sizeof(buf)), 0, "negative fraction");
	is_str(buf, "1969-12-31T23:59:59Z", "floors before the epoch");
	is_int(timefmt_time_d(NAN, buf, sizeof(buf)), -1, "NaN refused");
	is_int(timefmt_time_d(1e15, buf, sizeof(buf)), -1, "far future refused");
	is_int(timefmt_parse_d("2025-05-01T10:04:12.5Z", &d, err, sizeof(err)), 0, "parse to double");
	ok(fabs(d - 1746093852.5) < 1e-6, "double value");

	/* round trip through now */
	{
		struct timespec now, back;

		clock_gettime(CLOCK_REALTIME, &now);
		now.tv_nsec -= now.tv_nsec % 1000;
		is_int(timefmt_micro(now, buf, sizeof(buf)), 0, "format now");
		is_int(timefmt_parse_micro(buf, &back, err, sizeof(err)), 0, "parse it back");
		ok(back.tv_sec == now.tv_sec && back.tv_nsec == now.tv_nsec, "MicroTime round trip is exact");
	}
	return done_testing();
}
