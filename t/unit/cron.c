/* cron.c: cron parsing, next fire times in UTC and across DST, TZif. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cron.h"
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

static void
good(const char *expr)
{
	struct cron c;
	char name[160];

	snprintf(name, sizeof(name), "parses \"%s\"", expr);
	if (!ok(cron_parse(expr, &c, err, sizeof(err)) == 0, name))
		diag("error: %s", err);
}

static void
bad(const char *expr, const char *want)
{
	struct cron c;
	char name[160];

	snprintf(name, sizeof(name), "refuses \"%s\"", expr);
	err[0] = '\0';
	if (ok(cron_parse(expr, &c, err, sizeof(err)) == -1, name))
		is_str(err, want, "  error text");
}

/* next fire after `after` is `want` (NULL: none) */
static void
nxt(const char *expr, const struct tz *z, const char *after, const char *want)
{
	struct cron c;
	int64_t n = 0;
	char name[200], b[32];
	int rc;

	snprintf(name, sizeof(name), "\"%s\" in %s after %s", expr,
	    z ? z->name : "UTC", after);
	if (cron_parse(expr, &c, err, sizeof(err)) != 0) {
		ok(0, name);
		diag("parse: %s", err);
		return;
	}
	rc = cron_next(&c, z, ts(after), &n);
	if (want == NULL) {
		is_int(rc, -1, name);
		return;
	}
	if (is_int(rc, 0, name))
		is_str(iso(n, b), want, "  fires at");
}

static void
test_parse(void)
{
	struct cron c;

	good("* * * * *");
	good("*/5 * * * *");
	good("0-30/10 1,2,23 1-7 JAN-mar mon-FRI");
	good("5/15 * * * *");
	good("? ? ? ? ?");
	good("  0 3 * * *  ");
	good("@daily");
	good("@every 1h30m");

	ok(cron_parse("0-30/10 1,2 * JAN-mar mon-FRI", &c, err,
	    sizeof(err)) == 0, "fields");
	is_int(c.minute, 1 | 1 << 10 | 1 << 20 | 1 << 30, "minute bits");
	is_int(c.hour, 6, "hour list");
	is_int(c.month, 0xe, "month names, any case");
	is_int(c.dow, 0x3e, "weekday names");
	ok(c.dom_star && !c.dow_star && !c.hour_star, "star flags");
	ok(cron_parse("5/20 * * * *", &c, err, sizeof(err)) == 0 &&
	    c.minute == ((uint64_t)1 << 5 | (uint64_t)1 << 25 |
	    (uint64_t)1 << 45), "a/n is a-max/n");
	ok(cron_parse("CRON_TZ=Europe/Berlin 0 3 * * *", &c, err,
	    sizeof(err)) == 0 && strcmp(c.tz, "Europe/Berlin") == 0,
	    "CRON_TZ= prefix kept for the caller");
	ok(cron_parse("@weekly", &c, err, sizeof(err)) == 0 && c.descriptor &&
	    c.dow == 1 && !c.dow_star, "@weekly is Sunday midnight");
	ok(cron_parse("@every 90m", &c, err, sizeof(err)) == 0 &&
	    c.every == 5400, "@every 90m");
	ok(cron_parse("@every 300ms", &c, err, sizeof(err)) == 0 &&
	    c.every == 1, "@every below 1s is 1s");

	bad("61 * * * *", "minute: value 61 out of range 0-59");
	bad("* 24 * * *", "hour: value 24 out of range 0-23");
	bad("* * 0 * *", "day-of-month: value 0 out of range 1-31");
	bad("* * 32 * *", "day-of-month: value 32 out of range 1-31");
	bad("* * * 13 *", "month: value 13 out of range 1-12");
	bad("* * * * 7", "day-of-week: value 7 out of range 0-6");
	bad("* * * FOO *", "month: bad value \"FOO\"");
	bad("MON * * * *", "minute: bad value \"MON\"");
	bad("-1 * * * *", "minute: empty value");
	bad("5-1 * * * *", "minute: range 5-1 is backwards");
	bad("*/0 * * * *", "minute: step must be positive");
	bad("*/x * * * *", "minute: bad step \"x\"");
	bad("1,,2 * * * *", "minute: empty value");
	bad("1-2-3 * * * *", "minute: bad value \"2-3\"");
	bad("99999999999999999999 * * * *",
	    "minute: value 99999999999999999999 out of range 0-59");
	bad("* * * *", "expected 5 fields (minute hour day-of-month month "
	    "day-of-week), found 4");
	bad("0 0 0 * * *", "expected 5 fields (minute hour day-of-month "
	    "month day-of-week), found 6");
	bad("", "empty schedule");
	bad("   ", "empty schedule");
	bad("TZ= 0 * * * *", "TZ= prefix: bad time zone name");
	bad("@fortnightly", "unrecognized descriptor \"@fortnightly\"");
	bad("@daily 0", "unrecognized descriptor \"@daily 0\"");
	bad("@every 1x", "@every: time: unknown unit \"x\" in duration \"1x\"");
}

static void
test_utc(void)
{
	nxt("* * * * *", NULL, "2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z");
	nxt("* * * * *", NULL, "2024-01-01T00:00:30Z", "2024-01-01T00:01:00Z");
	nxt("* * * * *", NULL, "2024-12-31T23:59:00Z", "2025-01-01T00:00:00Z");
	nxt("*/15 * * * *", NULL, "2024-01-01T10:07:00Z",
	    "2024-01-01T10:15:00Z");
	nxt("*/15 * * * *", NULL, "2024-01-01T10:45:00Z",
	    "2024-01-01T11:00:00Z");
	nxt("10-40/15 9-17/4 * * *", NULL, "2024-01-01T09:40:00Z",
	    "2024-01-01T13:10:00Z");
	nxt("0 0 31 * *", NULL, "2024-01-31T00:00:00Z", "2024-03-31T00:00:00Z");
	nxt("0 0 31 * *", NULL, "2024-03-31T00:00:00Z", "2024-05-31T00:00:00Z");
	nxt("0 12 29 2 *", NULL, "2023-01-01T00:00:00Z",
	    "2024-02-29T12:00:00Z");
	nxt("0 12 29 2 *", NULL, "2024-03-01T00:00:00Z",
	    "2028-02-29T12:00:00Z");
	/* 2100 is no leap year, 2104 is beyond robfig's five-year limit */
	nxt("0 0 29 FEB *", NULL, "2096-03-01T00:00:00Z", NULL);
	nxt("0 0 29 FEB *", NULL, "2099-03-01T00:00:00Z",
	    "2104-02-29T00:00:00Z");
	/* both day fields restricted: either matches (Oct 13 2024: Sunday) */
	nxt("0 0 13 * FRI", NULL, "2024-10-05T00:00:00Z",
	    "2024-10-11T00:00:00Z");
	nxt("0 0 13 * FRI", NULL, "2024-10-11T00:00:00Z",
	    "2024-10-13T00:00:00Z");
	nxt("0 0 13 * FRI", NULL, "2024-10-13T00:00:00Z",
	    "2024-10-18T00:00:00Z");
	nxt("0 0 13 * *", NULL, "2024-10-05T00:00:00Z", "2024-10-13T00:00:00Z");
	nxt("0 0 * * 5", NULL, "2024-10-05T00:00:00Z", "2024-10-11T00:00:00Z");
	nxt("0 0 */2 * MON", NULL, "2024-10-01T00:00:00Z",
	    "2024-10-03T00:00:00Z");
	nxt("0 0 */1 * MON", NULL, "2024-10-01T00:00:00Z",
	    "2024-10-07T00:00:00Z");
	nxt("@every 90m", NULL, "2024-01-01T00:00:00Z", "2024-01-01T01:30:00Z");
	nxt("@hourly", NULL, "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z");
	nxt("@weekly", NULL, "2024-10-01T00:00:00Z", "2024-10-06T00:00:00Z");
	nxt("@monthly", NULL, "2024-10-01T00:00:00Z", "2024-11-01T00:00:00Z");
	nxt("@yearly", NULL, "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z");
	nxt("0 0 30 2 *", NULL, "2024-01-01T00:00:00Z", NULL);
	nxt("0 0 31 4 *", NULL, "2024-01-01T00:00:00Z", NULL);
}

static bool
have(const char *zone)
{
	char p[256];

	snprintf(p, sizeof(p), "/usr/share/zoneinfo/%s", zone);
	return access(p, R_OK) == 0;
}

static void
test_berlin(void)
{
	struct tz z;
	int64_t out[2];

	if (!have("Europe/Berlin")) {
		skip("no /usr/share/zoneinfo/Europe/Berlin (install tzdata)");
		return;
	}
	if (!ok(tz_load("Europe/Berlin", &z, err, sizeof(err)) == 0,
	    "load Europe/Berlin")) {
		diag("%s", err);
		return;
	}
	is_int(tz_offset(&z, ts("2024-01-15T12:00:00Z")), 3600, "CET");
	is_int(tz_offset(&z, ts("2024-07-15T12:00:00Z")), 7200, "CEST");
	is_int(tz_offset(&z, ts("2024-03-31T00:59:59Z")), 3600, "before spring");
	is_int(tz_offset(&z, ts("2024-03-31T01:00:00Z")), 7200, "after spring");
	is_int(tz_local_to_utc(&z, ts("2024-03-31T02:30:00Z"), out), 0,
	    "02:30 on spring-forward day does not exist");
	is_int(tz_local_to_utc(&z, ts("2024-10-27T02:30:00Z"), out), 2,
	    "02:30 on fall-back day happens twice");
	ok(out[0] == ts("2024-10-27T00:30:00Z") &&
	    out[1] == ts("2024-10-27T01:30:00Z"), "  both instants");
	is_int(tz_local_to_utc(&z, ts("2024-06-01T12:00:00Z"), out), 1,
	    "a summer time once");

	nxt("0 3 * * *", &z, "2024-01-01T00:00:00Z", "2024-01-01T02:00:00Z");
	nxt("0 3 * * *", &z, "2024-07-01T00:00:00Z", "2024-07-01T01:00:00Z");
	/* spring forward: 02:30 is skipped that day */
	nxt("30 2 * * *", &z, "2024-03-30T12:00:00Z", "2024-04-01T00:30:00Z");
	nxt("0 * * * *", &z, "2024-03-31T00:30:00Z", "2024-03-31T01:00:00Z");
	nxt("0 3 * * *", &z, "2024-03-30T12:00:00Z", "2024-03-31T01:00:00Z");
	/* fall back: a fixed hour fires once, hour "*" in both passes */
	nxt("30 2 * * *", &z, "2024-10-26T12:00:00Z", "2024-10-27T00:30:00Z");
	nxt("30 2 * * *", &z, "2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z");
	nxt("*/30 2 * * *", &z, "2024-10-27T00:30:00Z", "2024-10-28T01:00:00Z");
	nxt("0 * * * *", &z, "2024-10-26T23:30:00Z", "2024-10-27T00:00:00Z");
	nxt("0 * * * *", &z, "2024-10-27T00:00:00Z", "2024-10-27T01:00:00Z");
	nxt("0 * * * *", &z, "2024-10-27T01:00:00Z", "2024-10-27T02:00:00Z");
	/* far future, past the last transition: the footer rule */
	is_int(tz_offset(&z, ts("2100-01-15T12:00:00Z")), 3600, "2100 CET");
	is_int(tz_offset(&z, ts("2100-07-15T12:00:00Z")), 7200, "2100 CEST");
	/* 2100-03-28 is the last Sunday of March */
	is_int(tz_offset(&z, ts("2100-03-28T00:59:59Z")), 3600,
	    "2100 before spring");
	is_int(tz_offset(&z, ts("2100-03-28T01:00:00Z")), 7200,
	    "2100 after spring");
	nxt("30 2 * * *", &z, "2100-03-27T12:00:00Z", "2100-03-29T00:30:00Z");
	nxt("0 12 * * *", &z, "2100-07-01T00:00:00Z", "2100-07-01T10:00:00Z");
	is_int(tz_offset(&z, INT64_MAX), 3600, "INT64_MAX: no overflow");
	is_int(tz_offset(&z, INT64_MIN), tz_offset(&z, INT64_MIN + 1),
	    "INT64_MIN: first type");
	tz_release(&z);
}

static void
test_new_york(void)
{
	struct tz z;

	if (!have("America/New_York")) {
		skip("no /usr/share/zoneinfo/America/New_York (install tzdata)");
		return;
	}
	if (!ok(tz_load("America/New_York", &z, err, sizeof(err)) == 0,
	    "load America/New_York")) {
		diag("%s", err);
		return;
	}
	is_int(tz_offset(&z, ts("2024-01-15T12:00:00Z")), -5 * 3600, "EST");
	is_int(tz_offset(&z, ts("2024-07-15T12:00:00Z")), -4 * 3600, "EDT");
	nxt("30 2 * * *", &z, "2024-03-09T12:00:00Z", "2024-03-11T06:30:00Z");
	nxt("*/20 * * * *", &z, "2024-03-10T06:50:00Z", "2024-03-10T07:00:00Z");
	nxt("30 1 * * *", &z, "2024-11-02T12:00:00Z", "2024-11-03T05:30:00Z");
	nxt("30 1 * * *", &z, "2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z");
	nxt("0 * * * *", &z, "2024-11-03T05:00:00Z", "2024-11-03T06:00:00Z");
	nxt("*/15 * * * *", &z, "2024-11-03T05:50:00Z", "2024-11-03T06:00:00Z");
	nxt("0 9 * * MON-FRI", &z, "2024-11-01T14:00:00Z",
	    "2024-11-04T14:00:00Z");
	/* footer: second Sunday of March 2099 is the 8th */
	nxt("0 3 * * *", &z, "2099-03-08T00:00:00Z", "2099-03-08T07:00:00Z");
	nxt("0 3 * * *", &z, "2099-03-07T00:00:00Z", "2099-03-07T08:00:00Z");
	tz_release(&z);
}

static void
test_names(void)
{
	static const char *const hostile[] = { "../etc/passwd", "/etc/passwd",
	    "Europe/../../etc/passwd", "Europe/Berlin;rm", "a\nb", "Europe\\x",
	    "..", "Europe/Ber lin", "Europe/%s", NULL };
	struct tz z;
	size_t i;
	char name[96];

	for (i = 0; hostile[i] != NULL; i++) {
		snprintf(name, sizeof(name), "hostile name %zu refused", i);
		ok(tz_load(hostile[i], &z, err, sizeof(err)) == -1 &&
		    strncmp(err, "invalid time zone name", 22) == 0, name);
	}
	ok(tz_load("", &z, err, sizeof(err)) == 0 && tz_offset(&z, 0) == 0,
	    "empty is UTC");
	ok(tz_load("UTC", &z, err, sizeof(err)) == 0 &&
	    strcmp(z.name, "UTC") == 0, "UTC built in");
	tz_release(&z);
	if (!have("Europe/Berlin")) {
		skip("no tzdata for unknown-zone tests");
		return;
	}
	ok(tz_load("Mars/Olympus_Mons", &z, err, sizeof(err)) == -1, "unknown");
	is_str(err, "unknown time zone Mars/Olympus_Mons", "  message");
	ok(tz_load("Europe", &z, err, sizeof(err)) == -1, "a directory");
}

/* A valid TZif v2 file: two transitions, a CET/CEST footer. */
static size_t
mk_tzif(unsigned char *b, const char *footer)
{
	unsigned char *p = b;
	int i;

#define PUT32(v) do { uint32_t x_ = (uint32_t)(v); *p++ = x_ >> 24; \
	*p++ = x_ >> 16; *p++ = x_ >> 8; *p++ = x_; } while (0)
	/* v1: no transitions, one type, 4 chars */
	memcpy(p, "TZif2", 5);
	p += 5;
	memset(p, 0, 15);
	p += 15;
	PUT32(0); PUT32(0); PUT32(0); PUT32(0); PUT32(1); PUT32(4);
	PUT32(3600); *p++ = 0; *p++ = 0;
	memcpy(p, "CET", 4);
	p += 4;
	/* v2: 2 transitions, 2 types, 9 chars */
	memcpy(p, "TZif2", 5);
	p += 5;
	memset(p, 0, 15);
	p += 15;
	PUT32(0); PUT32(0); PUT32(0); PUT32(2); PUT32(2); PUT32(9);
	for (i = 0; i < 2; i++) {	/* 2024-03-31 01:00Z, 2024-10-27 01:00Z */
		int64_t t = i == 0 ? 1711846800 : 1729990800;

		PUT32((uint64_t)t >> 32);
		PUT32(t);
	}
	*p++ = 1;
	*p++ = 0;
	PUT32(3600); *p++ = 0; *p++ = 0;
	PUT32(7200); *p++ = 1; *p++ = 4;
	memcpy(p, "CET\0CEST", 9);
	p += 9;
	*p++ = '\n';
	memcpy(p, footer, strlen(footer));
	p += strlen(footer);
	*p++ = '\n';
	return (size_t)(p - b);
#undef PUT32
}

static void
put(const char *dir, const char *name, const unsigned char *b, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(b, 1, n, f) != n)
		abort();
	fclose(f);
}

static void
test_tzif_files(void)
{
	char dir[] = "/tmp/cron-t-XXXXXX", path[600], name[96];
	unsigned char b[512], c[512];
	size_t n, cut;
	struct tz z;
	int crashed_ok = 1;

	if (mkdtemp(dir) == NULL) {
		skip("mkdtemp failed");
		return;
	}
	setenv("DBPROVD_ZONEINFO", dir, 1);
	n = mk_tzif(b, "CET-1CEST,M3.5.0,M10.5.0/3");
	put(dir, "Good", b, n);
	ok(tz_load("Good", &z, err, sizeof(err)) == 0, "synthetic TZif loads");
	is_int(tz_offset(&z, ts("2024-07-01T00:00:00Z")), 7200, "  table");
	is_int(tz_offset(&z, ts("2030-07-01T00:00:00Z")), 7200, "  footer DST");
	is_int(tz_offset(&z, ts("2030-12-01T00:00:00Z")), 3600, "  footer std");
	is_int(tz_offset(&z, ts("2000-01-01T00:00:00Z")), 3600, "  before");
	nxt("30 2 * * *", &z, "2025-03-29T12:00:00Z", "2025-03-31T00:30:00Z");
	tz_release(&z);

	/* every truncation is refused, none crashes */
	for (cut = 0; cut < n; cut++) {
		put(dir, "Trunc", b, cut);
		if (tz_load("Trunc", &z, err, sizeof(err)) != -1) {
			crashed_ok = 0;
			diag("truncated at %zu accepted", cut);
			tz_release(&z);
		}
	}
	ok(crashed_ok, "every truncation refused");
	put(dir, "Trunc", b, 60);
	ok(tz_load("Trunc", &z, err, sizeof(err)) == -1, "truncated");
	is_str(err, "time zone Trunc: corrupt or truncated TZif data",
	    "  message");

	memcpy(c, b, n);
	c[54 + 44 + 16] = 2;	/* type index >= typecnt */
	put(dir, "BadIdx", c, n);
	ok(tz_load("BadIdx", &z, err, sizeof(err)) == -1, "bad type index");

	memcpy(c, b, n);
	memcpy(c + 54 + 44 + 8, c + 54 + 44, 8);	/* equal times */
	put(dir, "Order", c, n);
	ok(tz_load("Order", &z, err, sizeof(err)) == -1, "unordered times");

	memcpy(c, b, n);
	c[54 + 32] = 0x7f;	/* timecnt huge */
	put(dir, "Huge", c, n);
	ok(tz_load("Huge", &z, err, sizeof(err)) == -1, "huge count");

	memcpy(c, b, n);
	c[4] = 0;		/* version 1 */
	put(dir, "V1", c, n);
	ok(tz_load("V1", &z, err, sizeof(err)) == -1, "version 1 refused");
	is_str(err, "time zone V1: TZif version 1 files are not supported",
	    "  message");

	n = mk_tzif(c, "EST5EDT,J60/2,J300/2");
	put(dir, "Julian", c, n);
	ok(tz_load("Julian", &z, err, sizeof(err)) == -1, "Jn rule refused");
	is_str(err, "time zone Julian: unsupported footer rule \"J60/2,"
	    "J300/2\" (only Mm.w.d)", "  says unsupported");
	n = mk_tzif(c, "EST5EDT");
	put(dir, "NoRule", c, n);
	ok(tz_load("NoRule", &z, err, sizeof(err)) == -1 &&
	    strstr(err, "unsupported") != NULL, "DST without rule refused");
	n = mk_tzif(c, "<+0530>-5:30");
	put(dir, "Kolkata", c, n);
	ok(tz_load("Kolkata", &z, err, sizeof(err)) == 0 &&
	    tz_offset(&z, ts("2040-01-01T00:00:00Z")) == 19800,
	    "<+0530>-5:30 footer");
	tz_release(&z);
	n = mk_tzif(c, "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1");
	put(dir, "Nuuk", c, n);
	ok(tz_load("Nuuk", &z, err, sizeof(err)) == 0 &&
	    tz_offset(&z, ts("2040-07-01T00:00:00Z")) == -7200 &&
	    tz_offset(&z, ts("2040-01-01T00:00:00Z")) == -10800,
	    "negative rule times (v3)");
	tz_release(&z);
	n = mk_tzif(c, "garbage!");
	put(dir, "Garbage", c, n);
	ok(tz_load("Garbage", &z, err, sizeof(err)) == -1, "bad footer");

	unsetenv("DBPROVD_ZONEINFO");
	{
		static const char *const files[] = { "Good", "Trunc", "BadIdx",
		    "Order", "Huge", "V1", "Julian", "NoRule", "Kolkata",
		    "Nuuk", "Garbage", NULL };
		size_t i;

		for (i = 0; files[i] != NULL; i++) {
			snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
			unlink(path);
		}
	}
	snprintf(name, sizeof(name), "temp dir %s removed", dir);
	ok(rmdir(dir) == 0, name);
}

int
main(void)
{
	unsetenv("DBPROVD_ZONEINFO");
	test_parse();
	test_utc();
	test_berlin();
	test_new_york();
	test_names();
	test_tzif_files();
	return done_testing();
}
