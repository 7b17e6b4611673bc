/* schedtime.c: next run, missed runs, run names, local time in zones. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "schedtime.h"
#include "tap.h"

static char err[256];

static void
skip(const char *why)
{
	tap_n++;
	printf("ok %d # skip %s\n", tap_n, why);
}

static int64_t
ts(const char *iso)		/* "YYYY-MM-DDTHH:MM:SSZ" */
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(iso, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		abort();
	tm.tm_year -= 1900;
	tm.tm_mon--;
	return (int64_t)timegm(&tm);
}

static const char *
iso(int64_t t, char *buf)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

static bool
have(const char *zone)
{
	char p[256];

	snprintf(p, sizeof(p), "/usr/share/zoneinfo/%s", zone);
	return access(p, R_OK) == 0;
}

/* Loads zone into *z; false (with a skip) when tzdata lacks it. */
static bool
load(const char *zone, struct tz *z)
{
	char name[128];

	if (!have(zone)) {
		snprintf(name, sizeof(name), "no tzdata for %s", zone);
		skip(name);
		return false;
	}
	snprintf(name, sizeof(name), "load %s", zone);
	if (!ok(tz_load(zone, z, err, sizeof(err)) == 0, name)) {
		diag("%s", err);
		return false;
	}
	return true;
}

static void
parse(const char *expr, struct cron *c)
{
	if (cron_parse(expr, c, err, sizeof(err)) != 0) {
		diag("cron_parse(\"%s\"): %s", expr, err);
		abort();
	}
}

/* ---- schedtime_local against the C library's localtime_r ---- */

static void
local_vs_libc(const char *zone, int64_t from, int64_t to, int64_t step)
{
	struct tz z;
	struct schedtime_tm m;
	struct tm tm;
	time_t tt;
	char name[128], want[16], got[16];
	int64_t t;
	int bad = 0, n = 0;

	if (!load(zone, &z))
		return;
	setenv("TZ", zone, 1);
	tzset();
	for (t = from; t <= to; t += step, n++) {
		tt = (time_t)t;
		localtime_r(&tt, &tm);
		schedtime_local(&z, t, &m);
		strftime(want, sizeof(want), "%G-%V", &tm);
		snprintf(got, sizeof(got), "%04lld-%02d",
		    (long long)m.iso_year, m.iso_week);
		if (m.year != tm.tm_year + 1900 || m.mon != tm.tm_mon + 1 ||
		    m.mday != tm.tm_mday || m.hour != tm.tm_hour ||
		    m.min != tm.tm_min || m.sec != tm.tm_sec ||
		    m.wday != tm.tm_wday || m.yday != tm.tm_yday ||
		    m.off != tm.tm_gmtoff || strcmp(got, want) != 0) {
			if (bad++ < 3)
				diag("t=%lld: got %s off %d, libc %s off %ld",
				    (long long)t, got, (int)m.off, want,
				    tm.tm_gmtoff);
		}
	}
	snprintf(name, sizeof(name), "%s: %d instants match localtime_r and "
	    "strftime %%G-%%V", zone, n);
	is_int(bad, 0, name);
	tz_release(&z);
}

static void
test_local(void)
{
	struct schedtime_tm m;

	/* 2019..2022 every 7919 s (a prime: every minute and hour mixes) */
	local_vs_libc("UTC", ts("2019-01-01T00:00:00Z"),
	    ts("2023-01-01T00:00:00Z"), 7919);
	local_vs_libc("Europe/Berlin", ts("2019-01-01T00:00:00Z"),
	    ts("2023-01-01T00:00:00Z"), 7919);
	local_vs_libc("America/New_York", ts("2019-01-01T00:00:00Z"),
	    ts("2023-01-01T00:00:00Z"), 7919);
	local_vs_libc("Asia/Kolkata", ts("2019-01-01T00:00:00Z"),
	    ts("2023-01-01T00:00:00Z"), 7919);
	/* every ISO year boundary from 1990 to 2040, daily */
	local_vs_libc("Europe/Berlin", ts("1990-01-01T00:00:00Z"),
	    ts("2040-12-31T00:00:00Z"), 86400 + 3607);
	/* before the epoch */
	local_vs_libc("UTC", -ts("1975-01-01T00:00:00Z"), 0, 7919);

	schedtime_local(NULL, ts("2021-01-03T23:30:00Z"), &m);
	ok(m.iso_year == 2020 && m.iso_week == 53 && m.wday == 0,
	    "2021-01-03 in UTC is Sunday of 2020-W53");
	schedtime_local(NULL, ts("2021-01-04T00:00:00Z"), &m);
	ok(m.iso_year == 2021 && m.iso_week == 1 && m.wday == 1,
	    "2021-01-04 is Monday of 2021-W01");
	schedtime_local(NULL, ts("2024-12-30T12:00:00Z"), &m);
	ok(m.year == 2024 && m.iso_year == 2025 && m.iso_week == 1,
	    "2024-12-30 is in 2025-W01");
	schedtime_local(NULL, -1, &m);
	ok(m.year == 1969 && m.mon == 12 && m.mday == 31 && m.hour == 23 &&
	    m.min == 59 && m.sec == 59 && m.days == -1 && m.wday == 3,
	    "one second before the epoch");
}

/* ---- next run ---- */

static void
nxt(const char *expr, const struct tz *z, const char *after, const char *want)
{
	struct cron c;
	int64_t n = 0;
	char name[400], b[32];
	int rc;

	parse(expr, &c);
	snprintf(name, sizeof(name), "next \"%s\" in %s after %s", expr,
	    z ? z->name : "UTC", after);
	rc = schedtime_next(&c, z, ts(after), &n);
	if (want == NULL) {
		is_int(rc, -1, name);
		return;
	}
	if (is_int(rc, 0, name))
		is_str(iso(n, b), want, "  runs at");
}

static void
test_reference(void)
{
	struct cron c;
	int64_t n = 0, created = ts("2024-05-01T10:00:00Z");
	char b[32];

	is_int(schedtime_reference(5, INT64_MIN), 5, "reference: no lastBackup");
	is_int(schedtime_reference(5, 9), 9, "reference: lastBackup later");
	is_int(schedtime_reference(9, 5), 9, "reference: created later");

	parse("0 2 * * *", &c);
	ok(schedtime_next(&c, NULL, schedtime_reference(created, INT64_MIN),
	    &n) == 0, "a new schedule has a next run");
	is_str(iso(n, b), "2024-05-02T02:00:00Z",
	    "  the first cron time after creation");
	ok(schedtime_next(&c, NULL, schedtime_reference(created,
	    ts("2024-05-02T02:00:07Z")), &n) == 0, "after a late start");
	is_str(iso(n, b), "2024-05-03T02:00:00Z",
	    "  the run it started for is not repeated");
	ok(schedtime_next(&c, NULL, ts("2024-05-02T02:00:00Z"), &n) == 0 &&
	    n == ts("2024-05-03T02:00:00Z"), "strictly after the reference");
}

static void
test_next(void)
{
	struct tz utc, ber, ny, kol;
	bool b, y, k;

	tz_utc(&utc);
	nxt("* * * * *", &utc, "2024-01-01T00:00:30Z", "2024-01-01T00:01:00Z");
	nxt("* * * * *", &utc, "2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z");
	nxt("0 2 * * *", NULL, "2024-01-01T02:00:00Z", "2024-01-02T02:00:00Z");
	nxt("@daily", &utc, "2024-07-01T00:00:00Z", "2024-07-02T00:00:00Z");
	nxt("0 0 29 2 *", &utc, "2024-03-01T00:00:00Z",
	    "2028-02-29T00:00:00Z");
	nxt("0 0 29 2 *", &utc, "2023-06-01T00:00:00Z",
	    "2024-02-29T00:00:00Z");
	/* 2100 is not a leap year: the next 29 February after 2096 is in
	 * 2104, beyond cron_next()'s five-year horizon */
	nxt("0 0 29 2 *", &utc, "2096-03-01T00:00:00Z", NULL);
	nxt("0 0 30 2 *", &utc, "2024-01-01T00:00:00Z", NULL);

	if ((k = load("Asia/Kolkata", &kol))) {
		nxt("0 2 * * *", &kol, "2024-05-01T00:00:00Z",
		    "2024-05-01T20:30:00Z");
		nxt("* * * * *", &kol, "2024-05-01T00:00:00Z",
		    "2024-05-01T00:01:00Z");
		nxt("@daily", &kol, "2024-07-01T00:00:00Z",
		    "2024-07-01T18:30:00Z");
		nxt("0 0 29 2 *", &kol, "2024-03-01T00:00:00Z",
		    "2028-02-28T18:30:00Z");
		nxt("30 2 * * *", &kol, "2024-03-30T00:00:00Z",
		    "2024-03-30T21:00:00Z");
		tz_release(&kol);
	}

	if ((b = load("Europe/Berlin", &ber))) {
		nxt("@daily", &ber, "2024-07-01T00:00:00Z",
		    "2024-07-01T22:00:00Z");
		nxt("@daily", &ber, "2024-01-01T00:00:00Z",
		    "2024-01-01T23:00:00Z");
		/* spring forward, 2024-03-31 02:00 CET -> 03:00 CEST: the
		 * wall times 02:00..02:59 do not exist and are skipped */
		nxt("0 2 * * *", &ber, "2024-03-30T12:00:00Z",
		    "2024-04-01T00:00:00Z");
		nxt("30 2 * * *", &ber, "2024-03-30T12:00:00Z",
		    "2024-04-01T00:30:00Z");
		nxt("30 2 * * *", &ber, "2024-03-29T12:00:00Z",
		    "2024-03-30T01:30:00Z");
		/* fall back, 2024-10-27 03:00 CEST -> 02:00 CET: 02:xx
		 * happens twice and fires once, at the first (CEST) pass */
		nxt("0 2 * * *", &ber, "2024-10-26T12:00:00Z",
		    "2024-10-27T00:00:00Z");
		nxt("0 2 * * *", &ber, "2024-10-27T00:00:00Z",
		    "2024-10-28T01:00:00Z");
		nxt("30 2 * * *", &ber, "2024-10-26T12:00:00Z",
		    "2024-10-27T00:30:00Z");
		nxt("30 2 * * *", &ber, "2024-10-27T00:30:00Z",
		    "2024-10-28T01:30:00Z");
		/* even from inside the second pass */
		nxt("30 2 * * *", &ber, "2024-10-27T01:10:00Z",
		    "2024-10-28T01:30:00Z");
		/* hour "*": elapsed time, so local 02:00 fires in both passes
		 * (cron.h; the same hours written 0-23 fire once) */
		nxt("0 * * * *", &ber, "2024-10-27T00:00:00Z",
		    "2024-10-27T01:00:00Z");
		nxt("0 0-23 * * *", &ber, "2024-10-27T00:00:00Z",
		    "2024-10-27T02:00:00Z");
	}

	if ((y = load("America/New_York", &ny))) {
		/* spring forward 2024-03-10 02:00 EST -> 03:00 EDT */
		nxt("0 2 * * *", &ny, "2024-03-09T12:00:00Z",
		    "2024-03-11T06:00:00Z");
		nxt("30 2 * * *", &ny, "2024-03-09T12:00:00Z",
		    "2024-03-11T06:30:00Z");
		nxt("0 3 * * *", &ny, "2024-03-09T12:00:00Z",
		    "2024-03-10T07:00:00Z");
		/* fall back 2024-11-03 02:00 EDT -> 01:00 EST: 01:xx twice */
		nxt("30 1 * * *", &ny, "2024-11-02T12:00:00Z",
		    "2024-11-03T05:30:00Z");
		nxt("30 1 * * *", &ny, "2024-11-03T05:30:00Z",
		    "2024-11-04T06:30:00Z");
		nxt("30 2 * * *", &ny, "2024-11-02T12:00:00Z",
		    "2024-11-03T07:30:00Z");
		nxt("0 2 * * *", &ny, "2024-11-02T12:00:00Z",
		    "2024-11-03T07:00:00Z");
		nxt("@daily", &ny, "2024-07-01T00:00:00Z",
		    "2024-07-01T04:00:00Z");
		nxt("0 0 29 2 *", &ny, "2024-03-01T00:00:00Z",
		    "2028-02-29T05:00:00Z");
	}

	if (b)
		tz_release(&ber);
	if (y)
		tz_release(&ny);
}

/* ---- missed runs ---- */

static void
missed(const char *expr, const struct tz *z, const char *ref, const char *now,
    int64_t deadline, struct schedtime_missed *m)
{
	struct cron c;

	parse(expr, &c);
	schedtime_missed(&c, z, ts(ref), ts(now), deadline, m);
}

/* Every run in (ref, now] by plain cron_next() steps, for comparison. */
static int64_t
brute_count(const char *expr, const struct tz *z, int64_t ref, int64_t now,
    int64_t *latest)
{
	struct cron c;
	int64_t t = ref, x, n = 0;

	parse(expr, &c);
	while (cron_next(&c, z, t, &x) == 0 && x <= now) {
		n++;
		*latest = t = x;
	}
	return n;
}

static void
test_missed_utc(void)
{
	struct schedtime_missed m;
	struct tz utc;
	char b[32];
	int64_t r;

	tz_utc(&utc);
	missed("0 2 * * *", &utc, "2024-05-01T10:00:00Z",
	    "2024-05-01T10:05:00Z", -1, &m);
	ok(m.count == 0 && !m.capped && !m.catch_up && m.period == 0,
	    "nothing missed: no catch-up");
	ok(m.has_next && m.next == ts("2024-05-02T02:00:00Z"),
	    "  next is the next cron time");
	missed("0 2 * * *", &utc, "2024-05-03T00:00:00Z",
	    "2024-05-01T00:00:00Z", -1, &m);
	ok(m.count == 0 && !m.catch_up && m.next == ts("2024-05-03T02:00:00Z"),
	    "reference after now: nothing missed");

	missed("0 2 * * *", &utc, "2024-05-01T10:00:00Z",
	    "2024-05-04T05:00:00Z", -1, &m);
	is_int(m.count, 3, "daily, away three days: 3 missed");
	is_str(iso(m.latest, b), "2024-05-04T02:00:00Z", "  latest");
	is_int(m.period, 86400, "  period one day");
	ok(m.catch_up, "  one catch-up run is due");
	missed("0 2 * * *", &utc, "2024-05-01T10:00:00Z",
	    "2024-05-04T02:00:00Z", -1, &m);
	ok(m.count == 3 && m.latest == ts("2024-05-04T02:00:00Z"),
	    "a run at exactly now counts as missed");
	missed("0 2 * * *", &utc, "2024-05-01T10:00:00Z",
	    "2024-05-04T05:00:00Z", 3600, &m);
	ok(m.count == 3 && !m.catch_up, "deadline 1h, latest 3h old: skipped");
	missed("0 2 * * *", &utc, "2024-05-01T10:00:00Z",
	    "2024-05-04T05:00:00Z", 4 * 3600, &m);
	ok(m.catch_up, "deadline 4h: caught up");
	missed("0 2 * * *", &utc, "2024-05-01T10:00:00Z",
	    "2024-05-04T05:00:00Z", 0, &m);
	ok(m.count == 3 && !m.catch_up, "deadline 0: never caught up");
	missed("0 2 * * *", &utc, "2024-05-01T10:00:00Z",
	    "2024-05-05T01:59:59Z", -1, &m);
	ok(m.count == 3 && m.catch_up && m.next == ts("2024-05-05T02:00:00Z"),
	    "one second before the next run a catch-up is still due");

	missed("@daily", &utc, "2024-05-01T10:00:00Z", "2024-05-04T05:00:00Z",
	    -1, &m);
	ok(m.count == 3 && m.latest == ts("2024-05-04T00:00:00Z"),
	    "@daily: 3 missed");

	missed("0 0 29 2 *", &utc, "2019-01-01T00:00:00Z",
	    "2025-01-01T00:00:00Z", -1, &m);
	is_int(m.count, 2, "29 February over six years: 2 missed");
	is_str(iso(m.latest, b), "2024-02-29T00:00:00Z", "  latest");
	is_str(iso(m.next, b), "2028-02-29T00:00:00Z", "  next");
	is_int(m.period, 1461 * 86400, "  period four years");
	ok(m.catch_up, "  catch-up due");
	missed("0 0 29 2 *", &utc, "2096-01-01T00:00:00Z",
	    "2097-01-01T00:00:00Z", -1, &m);
	ok(m.count == 1 && !m.has_next && m.period == 0 && m.catch_up,
	    "no next run within the horizon: caught up, period 0");
	missed("0 0 30 2 *", &utc, "2019-01-01T00:00:00Z",
	    "2025-01-01T00:00:00Z", -1, &m);
	ok(m.count == 0 && !m.has_next && !m.catch_up, "30 February: never");

	missed("@every 1h", &utc, "2024-05-01T10:00:00Z",
	    "2024-05-01T15:30:00Z", -1, &m);
	ok(m.count == 5 && m.latest == ts("2024-05-01T15:00:00Z") &&
	    m.period == 3600, "@every 1h: 5 missed");

	/* bounded work */
	missed("* * * * *", &utc, "2023-01-01T00:00:00Z",
	    "2024-01-01T00:00:30Z", -1, &m);
	ok(m.capped && m.count == SCHEDTIME_SCAN_MAX,
	    "every minute for a year: at least 100000 missed");
	is_str(iso(m.latest, b), "2024-01-01T00:00:00Z",
	    "  latest found beyond the cap");
	ok(m.next == ts("2024-01-01T00:01:00Z") && m.period == 60 &&
	    m.catch_up, "  next, period, catch-up");

	r = ts("2024-01-01T00:00:00Z");
	missed("* * * * *", &utc, "2024-01-01T00:00:00Z",
	    iso(r + SCHEDTIME_SCAN_MAX * 60, b), -1, &m);
	ok(!m.capped && m.count == SCHEDTIME_SCAN_MAX &&
	    m.latest == r + SCHEDTIME_SCAN_MAX * 60,
	    "exactly 100000 missed is an exact count");
	missed("* * * * *", &utc, "2024-01-01T00:00:00Z",
	    iso(r + (SCHEDTIME_SCAN_MAX + 1) * 60, b), -1, &m);
	ok(m.capped && m.latest == r + (SCHEDTIME_SCAN_MAX + 1) * 60,
	    "100001 missed is capped, latest exact");

	/* a dense hour then a 23 h gap: the search must cross the gap */
	missed("* 3 * * *", &utc, "2019-01-01T00:00:00Z",
	    "2024-06-15T12:00:00Z", -1, &m);
	ok(m.capped, "every minute of 03:xx for five years: capped");
	is_str(iso(m.latest, b), "2024-06-15T03:59:00Z", "  latest");
	is_int(m.period, 23 * 3600 + 60, "  period to 03:00 next day");
	missed("*/7 3-5 1,15 * MON", &utc, "2019-01-01T00:00:00Z",
	    "2024-06-15T12:00:00Z", -1, &m);
	{
		int64_t bl = 0, bn = brute_count("*/7 3-5 1,15 * MON", &utc,
		    ts("2019-01-01T00:00:00Z"), ts("2024-06-15T12:00:00Z"),
		    &bl);

		ok(!m.capped && m.count == bn && m.latest == bl,
		    "an irregular schedule: count and latest as stepping");
	}
}

static void
test_missed_zones(void)
{
	struct schedtime_missed m;
	struct tz ber, ny, kol;
	char b[32];
	int64_t bl = 0, bn;

	if (load("Europe/Berlin", &ber)) {
		/* the spring-forward week: 8 days, the 31st has no 02:00 */
		missed("0 2 * * *", &ber, "2024-03-25T12:00:00Z",
		    "2024-04-02T12:00:00Z", -1, &m);
		is_int(m.count, 7, "Berlin 02:00 over spring forward: 7 of 8 "
		    "days");
		is_str(iso(m.latest, b), "2024-04-02T00:00:00Z", "  latest");
		missed("30 2 * * *", &ber, "2024-03-30T12:00:00Z",
		    "2024-03-31T23:00:00Z", -1, &m);
		ok(m.count == 0 && m.next == ts("2024-04-01T00:30:00Z"),
		    "Berlin 02:30 on 31 March 2024: not missed, it never was");
		/* the fall-back week: 7 days, 7 runs, the 27th once */
		missed("0 2 * * *", &ber, "2024-10-21T12:00:00Z",
		    "2024-10-28T12:00:00Z", -1, &m);
		is_int(m.count, 7, "Berlin 02:00 over fall back: 7 in 7 days");
		is_str(iso(m.latest, b), "2024-10-28T01:00:00Z", "  latest");
		missed("0 2 * * *", &ber, "2024-10-26T12:00:00Z",
		    "2024-10-27T12:00:00Z", -1, &m);
		ok(m.count == 1 && m.latest == ts("2024-10-27T00:00:00Z") &&
		    m.next == ts("2024-10-28T01:00:00Z"),
		    "Berlin 27 October: one run, in the CEST pass");
		is_int(m.period, 25 * 3600, "  that day is 25 h long");
		missed("30 2 * * *", &ber, "2024-10-26T22:00:00Z",
		    "2024-10-27T03:00:00Z", -1, &m);
		is_int(m.count, 1, "Berlin 02:30 during fall back: once");
		/* hour "*" follows elapsed time (cron.h) */
		missed("0 * * * *", &ber, "2024-10-26T22:00:00Z",
		    "2024-10-27T03:00:00Z", -1, &m);
		is_int(m.count, 5, "Berlin \"0 * * * *\" 00:00..04:00 local on "
		    "fall-back day: 5 runs, 02:00 twice");
		missed("0 0-23 * * *", &ber, "2024-10-26T22:00:00Z",
		    "2024-10-27T03:00:00Z", -1, &m);
		is_int(m.count, 4, "Berlin \"0 0-23 * * *\" same window: 4");
		missed("* * * * *", &ber, "2024-10-27T00:00:00Z",
		    "2024-10-27T02:00:00Z", -1, &m);
		is_int(m.count, 120, "Berlin every minute across fall back: "
		    "120 in two real hours");
		missed("* * * * *", &ber, "2024-03-31T00:00:00Z",
		    "2024-03-31T02:00:00Z", -1, &m);
		is_int(m.count, 120, "Berlin every minute across spring "
		    "forward: 120 in two real hours");
		missed("* * * * *", &ber, "2023-06-01T00:00:00Z",
		    "2024-06-01T12:34:56Z", -1, &m);
		ok(m.capped && m.latest == ts("2024-06-01T12:34:00Z") &&
		    m.next == ts("2024-06-01T12:35:00Z"),
		    "Berlin every minute for a year: capped, latest exact");
		bn = brute_count("15 */2 * * *", &ber,
		    ts("2024-01-01T00:00:00Z"), ts("2024-12-31T00:00:00Z"),
		    &bl);
		missed("15 */2 * * *", &ber, "2024-01-01T00:00:00Z",
		    "2024-12-31T00:00:00Z", -1, &m);
		ok(m.count == bn && m.latest == bl && bn == 365 * 12 - 1,
		    "Berlin \"15 */2 * * *\" through 2024: 4379 runs (02:15 "
		    "lost in March, once in October)");
		tz_release(&ber);
	}
	if (load("America/New_York", &ny)) {
		missed("30 2 * * *", &ny, "2024-03-09T12:00:00Z",
		    "2024-03-11T12:00:00Z", -1, &m);
		ok(m.count == 1 && m.latest == ts("2024-03-11T06:30:00Z"),
		    "New York 02:30 over spring forward: only the 11th");
		missed("30 1 * * *", &ny, "2024-11-02T12:00:00Z",
		    "2024-11-04T12:00:00Z", -1, &m);
		ok(m.count == 2 && m.latest == ts("2024-11-04T06:30:00Z"),
		    "New York 01:30 over fall back: once per day");
		missed("0 2 * * *", &ny, "2024-03-04T12:00:00Z",
		    "2024-03-11T12:00:00Z", -1, &m);
		is_int(m.count, 6, "New York 02:00, spring-forward week: 6");
		missed("0 1 * * *", &ny, "2024-10-28T12:00:00Z",
		    "2024-11-04T12:00:00Z", -1, &m);
		is_int(m.count, 7, "New York 01:00, fall-back week: 7");
		tz_release(&ny);
	}
	if (load("Asia/Kolkata", &kol)) {
		missed("0 2 * * *", &kol, "2024-05-01T00:00:00Z",
		    "2024-05-03T00:00:00Z", -1, &m);
		ok(m.count == 2 && m.latest == ts("2024-05-02T20:30:00Z") &&
		    m.period == 86400, "Kolkata 02:00 is 20:30 UTC");
		missed("0 0 29 2 *", &kol, "2019-01-01T00:00:00Z",
		    "2025-01-01T00:00:00Z", -1, &m);
		ok(m.count == 2 && m.latest == ts("2024-02-28T18:30:00Z"),
		    "Kolkata 29 February");
		tz_release(&kol);
	}
}

/* ---- backup names ---- */

/* A DNS subdomain (RFC 1123) of at most 253 characters. */
static bool
dns_subdomain(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9');
		bool edge = i == 0 || i == n - 1 || s[i - 1] == '.' ||
		    s[i + 1] == '.';

		if (!alnum && ch != '-' && ch != '.')
			return false;
		if (edge && !alnum)
			return false;
	}
	return true;
}

static void
test_names(void)
{
	char buf[SCHEDTIME_NAME_MAX + 1], buf2[SCHEDTIME_NAME_MAX + 1];
	char s[300], want[300];
	int64_t run = ts("2024-03-10T07:05:09Z");

	ok(schedtime_backup_name("nightly", run, buf, sizeof(buf)) == 0,
	    "name");
	is_str(buf, "nightly-20240310-070509", "  <schedule>-<UTC time>");
	ok(schedtime_backup_name("a.b-c", ts("1999-12-31T23:59:59Z"), buf,
	    sizeof(buf)) == 0, "name in 1999");
	is_str(buf, "a.b-c-19991231-235959", "  digits padded");

	/* 237 characters: the longest that fits as it is */
	memset(s, 'x', 237);
	s[237] = '\0';
	ok(schedtime_backup_name(s, run, buf, sizeof(buf)) == 0 &&
	    strlen(buf) == 253 && strncmp(buf, s, 237) == 0 &&
	    strcmp(buf + 237, "-20240310-070509") == 0,
	    "237-character schedule: 253 characters, not cut");

	/* 238 characters: cut to 228, hash of the whole, time */
	memset(s, 'a', 120);
	s[120] = '-';
	memset(s + 121, 'b', 117);
	s[238] = '\0';
	ok(schedtime_backup_name(s, run, buf, sizeof(buf)) == 0,
	    "238-character schedule");
	snprintf(want, sizeof(want), "%.228s-0ee1807a-20240310-070509", s);
	is_str(buf, want, "  228 characters, SHA-256 prefix, time");
	is_int(strlen(buf), 253, "  253 characters");
	ok(dns_subdomain(buf), "  a valid object name");
	ok(schedtime_backup_name(s, run, buf2, sizeof(buf2)) == 0 &&
	    strcmp(buf, buf2) == 0, "  stable");
	s[237] = 'c';
	ok(schedtime_backup_name(s, run, buf2, sizeof(buf2)) == 0 &&
	    strncmp(buf, buf2, 228) == 0 && strcmp(buf, buf2) != 0,
	    "  same first 228 characters, other schedule: other name");

	/* the cut lands on ".-": removed, the label stays valid */
	memset(s, 'q', 253);
	s[226] = '.';
	s[227] = '-';
	s[253] = '\0';
	ok(schedtime_backup_name(s, run, buf, sizeof(buf)) == 0 &&
	    strncmp(buf, s, 226) == 0 && buf[226] == '-' &&
	    strlen(buf) == 251, "cut at \".-\": both removed");
	ok(dns_subdomain(buf), "  a valid object name");
	memset(s, 'q', 253);
	s[227] = '.';
	ok(schedtime_backup_name(s, run, buf, sizeof(buf)) == 0 &&
	    dns_subdomain(buf) && strlen(buf) == 252,
	    "253-character schedule cut at a dot: valid");

	ok(schedtime_backup_name("s", ts("9999-12-31T23:59:59Z"), buf,
	    sizeof(buf)) == 0 && strcmp(buf, "s-99991231-235959") == 0,
	    "year 9999");
	ok(schedtime_backup_name("s", ts("9999-12-31T23:59:59Z") + 1, buf,
	    sizeof(buf)) == -1 && buf[0] == '\0', "year 10000 refused");
	ok(schedtime_backup_name("s", -62167219201LL, buf, sizeof(buf)) == -1,
	    "year -1 refused");
	ok(schedtime_backup_name("", run, buf, sizeof(buf)) == -1 &&
	    schedtime_backup_name(NULL, run, buf, sizeof(buf)) == -1,
	    "empty schedule refused");
	ok(schedtime_backup_name("s", run, buf, 64) == -1 && buf[0] == '\0',
	    "short buffer refused");
}

int
main(void)
{
	unsetenv("DBPROVD_ZONEINFO");
	test_local();
	test_reference();
	test_next();
	test_missed_utc();
	test_missed_zones();
	test_names();
	return done_testing();
}
