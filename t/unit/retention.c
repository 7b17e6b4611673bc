/*
 * retention.c: the retention planner against an independent model (the C
 * library's localtime_r under TZ, strftime keys such as "%G-%V", string
 * buckets found by linear search), plus hand-made tables.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "retention.h"
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

static bool
have(const char *zone)
{
	char p[256];

	snprintf(p, sizeof(p), "/usr/share/zoneinfo/%s", zone);
	return access(p, R_OK) == 0;
}

/* ---- the model ---- */

#define NRULES 5

/* The bucket of rule r as strftime text: local hour, day, ISO week,
 * month, year. */
static void
rule_key(int r, const struct tm *tm, char *key, size_t len)
{
	switch (r) {
	case 0:
		strftime(key, len, "%Y-%m-%d %H", tm);
		break;
	case 1:
		strftime(key, len, "%Y-%m-%d", tm);
		break;
	case 2:
		strftime(key, len, "%G-%V", tm);
		break;
	case 3:
		strftime(key, len, "%Y-%m", tm);
		break;
	default:
		strftime(key, len, "%Y", tm);
		break;
	}
}

static const unsigned rule_bit[NRULES] = { RETENTION_HOURLY,
    RETENTION_DAILY, RETENTION_WEEKLY, RETENTION_MONTHLY, RETENTION_YEARLY };

/* a is newer than b: later time, then larger id (NULL smallest), then
 * later in the input */
static bool
newer(const struct retention_backup *bk, size_t a, size_t b)
{
	int c;

	if (bk[a].completed_at != bk[b].completed_at)
		return bk[a].completed_at > bk[b].completed_at;
	if (bk[a].id == NULL || bk[b].id == NULL)
		c = (bk[a].id != NULL) - (bk[b].id != NULL);
	else
		c = strcmp(bk[a].id, bk[b].id);
	return c != 0 ? c > 0 : a > b;
}

/* Expected reasons per backup; zone goes to TZ. */
static void
model(const struct retention_backup *bk, size_t n,
    const struct retention_policy *p, const char *zone, int64_t now,
    unsigned *want)
{
	const int32_t keep[NRULES] = { p->keep_hourly, p->keep_daily,
	    p->keep_weekly, p->keep_monthly, p->keep_yearly };
	size_t *ord = calloc(n + 1, sizeof(*ord)), m = 0, i, j, nseen;
	char (*seen)[32] = calloc(n + 1, sizeof(*seen)), key[32];
	bool any = p->keep_last > 0;
	int r, taken;
	struct tm tm;
	time_t tt;

	setenv("TZ", zone, 1);
	tzset();
	for (i = 0; i < n; i++) {
		want[i] = bk[i].state == RETENTION_COMPLETED ? 0 :
		    RETENTION_NOT_COMPLETED;
		if (bk[i].state != RETENTION_COMPLETED)
			continue;
		/* insertion sort, newest first */
		for (j = m++; j > 0 && newer(bk, i, ord[j - 1]); j--)
			ord[j] = ord[j - 1];
		ord[j] = i;
	}
	for (r = 0; r < NRULES; r++)
		any |= keep[r] > 0;
	for (i = 0; i < m; i++) {
		if (!any)
			want[ord[i]] |= RETENTION_NO_POLICY;
		if ((int64_t)i < p->keep_last)
			want[ord[i]] |= RETENTION_LAST;
		if (p->min_age >= 0 &&
		    now - bk[ord[i]].completed_at < p->min_age)
			want[ord[i]] |= RETENTION_MIN_AGE;
	}
	for (r = 0; r < NRULES; r++) {
		nseen = 0;
		taken = 0;
		for (i = 0; i < m && taken < keep[r]; i++) {
			tt = (time_t)bk[ord[i]].completed_at;
			localtime_r(&tt, &tm);
			rule_key(r, &tm, key, sizeof(key));
			for (j = 0; j < nseen && strcmp(seen[j], key) != 0; j++)
				;
			if (j < nseen)
				continue;
			strcpy(seen[nseen++], key);
			want[ord[i]] |= rule_bit[r];
			taken++;
		}
	}
	free(seen);
	free(ord);
}

/* Runs the planner and the model; returns the number of disagreements. */
static int
compare(const struct retention_backup *bk, size_t n,
    const struct retention_policy *p, const char *zone, int64_t now,
    size_t *kept)
{
	struct retention_decision *out = calloc(n + 1, sizeof(*out));
	unsigned *want = calloc(n + 1, sizeof(*want));
	struct tz z;
	size_t i;
	int bad = 0;
	char b1[RETENTION_REASONS_MAX], b2[RETENTION_REASONS_MAX];

	if (tz_load(zone, &z, err, sizeof(err)) != 0) {
		diag("tz_load %s: %s", zone, err);
		abort();
	}
	if (retention_plan(bk, n, p, &z, now, out) != 0)
		bad++;
	model(bk, n, p, zone, now, want);
	*kept = 0;
	for (i = 0; i < n; i++) {
		*kept += out[i].keep;
		if (out[i].keep == (want[i] != 0) && out[i].reasons == want[i])
			continue;
		if (bad++ < 3)
			diag("%s at %lld: got %s [%s], want [%s]", bk[i].id,
			    (long long)bk[i].completed_at,
			    out[i].keep ? "keep" : "delete",
			    retention_reasons(out[i].reasons, b1, sizeof(b1)),
			    retention_reasons(want[i], b2, sizeof(b2)));
	}
	tz_release(&z);
	free(want);
	free(out);
	return bad;
}

/* ---- generated sets ---- */

struct set {
	struct retention_backup *b;
	char (*ids)[40];
	size_t n;
};

static uint32_t lcg = 12345;

static uint32_t
rnd(void)
{
	lcg = lcg * 1103515245u + 12345u;
	return lcg >> 16;
}

static void
add(struct set *s, size_t cap, int64_t t, enum retention_state st,
    const char *tag)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char when[32];

	if (s->n == cap)
		abort();
	gmtime_r(&tt, &tm);
	strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
	snprintf(s->ids[s->n], sizeof(s->ids[0]), "nightly-%s%s", when, tag);
	s->b[s->n].id = s->ids[s->n];
	s->b[s->n].state = st;
	s->b[s->n].completed_at = t;
	s->n++;
}

/*
 * One backup at :17 past every UTC hour from..to, and irregular extras:
 * a second one at :47, a failed or running one later in the hour (newer
 * than the completed ones: it must not take a bucket), a tie (same second,
 * larger id), a Pending one.
 */
static void
gen(struct set *s, int64_t from, int64_t to)
{
	size_t cap = (size_t)((to - from) / 3600 + 1) * 4;
	int64_t h;
	uint32_t r;

	s->b = calloc(cap, sizeof(*s->b));
	s->ids = calloc(cap, sizeof(*s->ids));
	s->n = 0;
	for (h = from; h <= to; h += 3600) {
		r = rnd() % 100;
		add(s, cap, h + 17 * 60, RETENTION_COMPLETED, "");
		if (r < 15)
			add(s, cap, h + 47 * 60, RETENTION_COMPLETED, "");
		else if (r < 20)
			add(s, cap, h + 50 * 60, RETENTION_FAILED, "");
		else if (r < 23)
			add(s, cap, h + 55 * 60, RETENTION_RUNNING, "");
		else if (r < 26)
			add(s, cap, h + 17 * 60, RETENTION_COMPLETED, "-b");
		else if (r < 28)
			add(s, cap, h + 59 * 60, RETENTION_OTHER, "");
	}
	/* shuffle: the planner must not depend on the input order */
	for (h = (int64_t)s->n - 1; h > 0; h--) {
		size_t j = rnd() % (uint32_t)(h + 1);
		struct retention_backup tb = s->b[h];

		s->b[h] = s->b[j];
		s->b[j] = tb;
	}
}

static void
set_free(struct set *s)
{
	free(s->b);
	free(s->ids);
}

#define P(l, h, d, w, m, y, a) { (l), (h), (d), (w), (m), (y), (a) }

static const struct {
	const char *name;
	struct retention_policy p;
} policies[] = {
	{ "keepLast 1", P(1, 0, 0, 0, 0, 0, -1) },
	{ "keepLast 10", P(10, 0, 0, 0, 0, 0, -1) },
	{ "keepLast 100000", P(100000, 0, 0, 0, 0, 0, -1) },
	{ "keepHourly 1", P(0, 1, 0, 0, 0, 0, -1) },
	{ "keepHourly 24", P(0, 24, 0, 0, 0, 0, -1) },
	{ "keepHourly 500", P(0, 500, 0, 0, 0, 0, -1) },
	{ "keepHourly 100000", P(0, 100000, 0, 0, 0, 0, -1) },
	{ "keepDaily 1", P(0, 0, 1, 0, 0, 0, -1) },
	{ "keepDaily 7", P(0, 0, 7, 0, 0, 0, -1) },
	{ "keepDaily 60", P(0, 0, 60, 0, 0, 0, -1) },
	{ "keepDaily 1000", P(0, 0, 1000, 0, 0, 0, -1) },
	{ "keepWeekly 1", P(0, 0, 0, 1, 0, 0, -1) },
	{ "keepWeekly 4", P(0, 0, 0, 4, 0, 0, -1) },
	{ "keepWeekly 100", P(0, 0, 0, 100, 0, 0, -1) },
	{ "keepMonthly 1", P(0, 0, 0, 0, 1, 0, -1) },
	{ "keepMonthly 2", P(0, 0, 0, 0, 2, 0, -1) },
	{ "keepMonthly 100", P(0, 0, 0, 0, 100, 0, -1) },
	{ "keepYearly 1", P(0, 0, 0, 0, 0, 1, -1) },
	{ "keepYearly 10", P(0, 0, 0, 0, 0, 10, -1) },
	{ "all rules", P(3, 12, 7, 4, 3, 2, -1) },
	{ "all rules, minAge 3d", P(3, 12, 7, 4, 3, 2, 3 * 86400) },
	{ "daily 7 weekly 5 monthly 12 yearly 75", P(0, 0, 7, 5, 12, 75, -1) },
	{ "hourly 48 weekly 2", P(0, 48, 0, 2, 0, 0, -1) },
	{ "minAge 10d alone", P(0, 0, 0, 0, 0, 0, 10 * 86400) },
	{ "no rule", P(0, 0, 0, 0, 0, 0, -1) },
};

static const char *const zones[] = { "UTC", "Europe/Berlin",
    "America/New_York", "Asia/Kolkata" };

static void
test_generated(const char *what, const struct set *s, int64_t now)
{
	size_t pi, zi, kept;
	char name[200];
	int bad;

	for (zi = 0; zi < ARRAY_SIZE(zones); zi++) {
		if (!have(zones[zi])) {
			snprintf(name, sizeof(name), "no tzdata for %s",
			    zones[zi]);
			skip(name);
			continue;
		}
		for (pi = 0; pi < ARRAY_SIZE(policies); pi++) {
			bad = compare(s->b, s->n, &policies[pi].p, zones[zi],
			    now, &kept);
			snprintf(name, sizeof(name), "%s, %s, %s: %zu backups, "
			    "%zu kept, as the model", what, zones[zi],
			    policies[pi].name, s->n, kept);
			is_int(bad, 0, name);
		}
	}
}

/* The decision for the backup with this id. */
static const struct retention_decision *
find(const struct set *s, const struct retention_decision *out,
    const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->b[i].id, id) == 0)
			return &out[i];
	diag("no backup %s", id);
	abort();
}

static void
test_sets(void)
{
	struct set fall, spring;
	struct retention_decision *out;
	struct retention_policy hourly = P(0, 100000, 0, 0, 0, 0, -1);
	struct tz z;
	int64_t end, t;
	size_t i, n;

	/* 2020-10-01 .. 2021-01-15: Berlin and New York fall back, the
	 * year boundary with 2020-W53 */
	end = ts("2021-01-15T00:00:00Z");
	gen(&fall, ts("2020-10-01T00:00:00Z"), end);
	test_generated("autumn to January", &fall, end + 3600);
	/* 2021-02-15 .. 2021-05-15: both spring forwards */
	end = ts("2021-05-15T00:00:00Z");
	gen(&spring, ts("2021-02-15T00:00:00Z"), end);
	test_generated("spring", &spring, end + 3600);

	/* spot checks that do not rely on the model */
	if (have("Europe/Berlin") &&
	    tz_load("Europe/Berlin", &z, err, sizeof(err)) == 0) {
		out = calloc(fall.n, sizeof(*out));
		ok(retention_plan(fall.b, fall.n, &hourly, &z, 0, out) == 0,
		    "Berlin, every hour kept");
		ok(!find(&fall, out, "nightly-20201025-001700")->keep,
		    "  02:17 CEST on 25 October 2020 deleted: 02:xx CET is "
		    "the same local hour, newer");
		for (i = 0, n = 0; i < fall.n; i++) {
			t = fall.b[i].completed_at;
			if (fall.b[i].state == RETENTION_COMPLETED &&
			    t >= ts("2020-10-25T00:00:00Z") &&
			    t < ts("2020-10-25T02:00:00Z") && out[i].keep)
				n += t >= ts("2020-10-25T01:00:00Z") ? 1 : 100;
		}
		is_int(n, 1, "  one kept for 02:00..02:59 twice, in the CET "
		    "pass");
		tz_release(&z);
		free(out);
	} else {
		skip("no tzdata for Europe/Berlin");
	}
	set_free(&fall);
	set_free(&spring);
}

/* ---- hand tables ---- */

struct row {
	const char *when;		/* "YYYY-MM-DDTHH:MM:SSZ" */
	enum retention_state state;
	unsigned want;			/* expected reasons */
};

/* Plans rows[0..n) and checks every reason set against the table. */
static void
table(const char *name, const struct row *rows, size_t n,
    const struct retention_policy *p, const char *zone, int64_t now)
{
	struct retention_backup b[64];
	struct retention_decision out[64];
	struct tz z;
	size_t i;
	int bad = 0;
	char got[RETENTION_REASONS_MAX], want[RETENTION_REASONS_MAX];

	if (!have(zone) || tz_load(zone, &z, err, sizeof(err)) != 0) {
		skip("no tzdata");
		return;
	}
	for (i = 0; i < n; i++) {
		b[i].id = rows[i].when;
		b[i].state = rows[i].state;
		b[i].completed_at = ts(rows[i].when);
	}
	if (retention_plan(b, n, p, &z, now, out) != 0)
		bad++;
	for (i = 0; i < n; i++) {
		if (out[i].reasons == rows[i].want &&
		    out[i].keep == (rows[i].want != 0))
			continue;
		bad++;
		diag("%s: got %s [%s], want [%s]", rows[i].when,
		    out[i].keep ? "keep" : "delete",
		    retention_reasons(out[i].reasons, got, sizeof(got)),
		    retention_reasons(rows[i].want, want, sizeof(want)));
	}
	is_int(bad, 0, name);
	tz_release(&z);
}

#define C RETENTION_COMPLETED
#define F RETENTION_FAILED
#define R RETENTION_RUNNING
#define O RETENTION_OTHER
enum { NC = RETENTION_NOT_COMPLETED, LAST = RETENTION_LAST,
    HR = RETENTION_HOURLY, DY = RETENTION_DAILY, WK = RETENTION_WEEKLY,
    MO = RETENTION_MONTHLY, YR = RETENTION_YEARLY, AGE = RETENTION_MIN_AGE,
    NONE = RETENTION_NO_POLICY };

static void
test_year_boundary(void)
{
	/* one a day at noon, 2020-12-28 (Monday of 2020-W53) .. 2021-01-10
	 * (Sunday of 2021-W01) */
	static const char *const days[] = { "2020-12-28", "2020-12-29",
	    "2020-12-30", "2020-12-31", "2021-01-01", "2021-01-02",
	    "2021-01-03", "2021-01-04", "2021-01-05", "2021-01-06",
	    "2021-01-07", "2021-01-08", "2021-01-09", "2021-01-10" };
	struct row rows[14];
	char when[14][24];
	struct retention_policy p;
	size_t i;

	for (i = 0; i < 14; i++) {
		snprintf(when[i], sizeof(when[i]), "%sT12:00:00Z", days[i]);
		rows[i].when = when[i];
		rows[i].state = C;
		rows[i].want = 0;
	}
	p = (struct retention_policy)P(0, 0, 0, 3, 0, 0, -1);
	rows[6].want = rows[13].want = WK;
	table("weekly 3 over 2020-W53 and 2021-W01: two weeks, two kept",
	    rows, 14, &p, "UTC", 0);
	table("  same in Europe/Berlin", rows, 14, &p, "Europe/Berlin", 0);
	p.keep_weekly = 1;
	rows[6].want = 0;
	table("weekly 1: only the newest week", rows, 14, &p, "UTC", 0);
	p = (struct retention_policy)P(0, 0, 0, 0, 5, 2, -1);
	rows[13].want = MO | YR;
	rows[3].want = MO | YR;
	table("monthly 5, yearly 2: 31 December and 10 January", rows, 14,
	    &p, "UTC", 0);
	p = (struct retention_policy)P(0, 0, 7, 0, 0, 0, -1);
	for (i = 0; i < 14; i++)
		rows[i].want = i >= 7 ? DY : 0;
	table("daily 7: 4..10 January", rows, 14, &p, "UTC", 0);
	p = (struct retention_policy)P(2, 0, 0, 0, 0, 0, -1);
	for (i = 0; i < 14; i++)
		rows[i].want = i >= 12 ? LAST : 0;
	table("last 2", rows, 14, &p, "UTC", 0);
}

static void
test_zone_edges(void)
{
	/* 2021-01-03T23:30Z is Sunday 23:30 (W53) in UTC, Monday 00:30
	 * (2021-W01) in Berlin; 2020-12-31T23:30Z is 2021 in Berlin */
	struct row rows[] = {
		{ "2020-12-31T22:30:00Z", C, 0 },
		{ "2020-12-31T23:30:00Z", C, 0 },
		{ "2021-01-03T22:30:00Z", C, 0 },
		{ "2021-01-03T23:30:00Z", C, 0 },
	};
	struct retention_policy p = P(0, 0, 0, 2, 0, 2, -1);

	rows[1].want = YR;
	rows[3].want = WK | YR;
	table("UTC: one week, two years", rows, 4, &p, "UTC", 0);
	rows[0].want = YR;
	rows[1].want = 0;
	rows[2].want = WK;
	rows[3].want = WK | YR;
	table("Berlin: two weeks, and 31 Dec 23:30Z is already 2021", rows,
	    4, &p, "Europe/Berlin", 0);
	/* Kolkata (+05:30): all four are 2021; 1 January is in W53 */
	rows[0].want = 0;
	rows[1].want = WK;
	rows[2].want = 0;
	rows[3].want = WK | YR;
	table("Kolkata: two weeks, one year", rows, 4, &p, "Asia/Kolkata",
	    0);
	rows[0].want = 0;
	rows[1].want = YR;
	rows[2].want = 0;
	rows[3].want = WK | YR;
	table("New York: one week, two years, as UTC", rows, 4, &p,
	    "America/New_York", 0);
}

static void
test_restic_examples(void)
{
	/* restic's documentation: a backup every Sunday at 11:00 for 12
	 * weeks; --keep-daily 4 keeps the last four Sundays */
	static const char *const sundays[] = { "2019-09-01", "2019-09-08",
	    "2019-09-15", "2019-09-22", "2019-09-29", "2019-10-06",
	    "2019-10-13", "2019-10-20", "2019-10-27", "2019-11-03",
	    "2019-11-10", "2019-11-17" };
	struct row rows[12];
	char when[12][24];
	struct retention_policy p = P(0, 0, 4, 0, 0, 0, -1);
	struct retention_backup *b;
	struct retention_decision *out;
	char (*ids)[24];
	size_t i, n, cnt[9] = { 0 }, kept = 0;
	int64_t t, first = ts("2010-01-01T03:00:00Z"),
	    last = ts("2019-12-29T03:00:00Z");
	bool shape = true;
	int k;

	for (i = 0; i < 12; i++) {
		snprintf(when[i], sizeof(when[i]), "%sT09:00:00Z", sundays[i]);
		rows[i].when = when[i];
		rows[i].state = C;
		rows[i].want = i >= 8 ? DY : 0;
	}
	table("restic: 12 Sundays, keep-daily 4 keeps the last 4", rows, 12,
	    &p, "Europe/Berlin", 0);

	/*
	 * restic's documentation: daily backups, "--keep-daily 7
	 * --keep-weekly 5 --keep-monthly 12 --keep-yearly 75" keeps 7
	 * dailies, 4 more week ends, 11 or 12 month ends, the year ends.
	 * Here 2010-01-01 .. Sunday 2019-12-29: 7 + 4 + 11 + 9 = 31.
	 */
	n = (size_t)((last - first) / 86400 + 1);
	b = calloc(n, sizeof(*b));
	out = calloc(n, sizeof(*out));
	ids = calloc(n, sizeof(*ids));
	for (i = 0, t = first; i < n; i++, t += 86400) {
		snprintf(ids[i], sizeof(ids[i]), "d%06zu", i);
		b[i].id = ids[i];
		b[i].state = RETENTION_COMPLETED;
		b[i].completed_at = t;
	}
	p = (struct retention_policy)P(0, 0, 7, 5, 12, 75, -1);
	ok(retention_plan(b, n, &p, NULL, last, out) == 0,
	    "restic: ten years of dailies");
	for (i = 0; i < n; i++) {
		kept += out[i].keep;
		for (k = 0; k < 9; k++)
			cnt[k] += (out[i].reasons >> k) & 1;
	}
	is_int(kept, 31, "  31 kept");
	ok(cnt[3] == 7 && cnt[4] == 5 && cnt[5] == 12 && cnt[6] == 10,
	    "  7 daily, 5 weekly, 12 monthly, 10 yearly (fewer years than 75)");
	/* the 5 weeklies are the Sundays 1..29 December; month ends; 31
	 * December of 2010..2018 */
	for (i = 0; i < n; i++) {
		time_t tt = (time_t)b[i].completed_at;
		struct tm tm;
		bool sunday, month_end, year_end, wk, mo, yr;

		gmtime_r(&tt, &tm);
		sunday = tm.tm_wday == 0 && tm.tm_year == 119 &&
		    tm.tm_mon == 11;
		month_end = tm.tm_year == 119 && tm.tm_mday ==
		    (tm.tm_mon == 1 ? 28 : (tm.tm_mon == 3 || tm.tm_mon == 5 ||
		    tm.tm_mon == 8 || tm.tm_mon == 10) ? 30 : 31);
		year_end = tm.tm_mon == 11 && tm.tm_mday == 31;
		wk = out[i].reasons & RETENTION_WEEKLY;
		mo = out[i].reasons & RETENTION_MONTHLY;
		yr = out[i].reasons & RETENTION_YEARLY;
		if (wk != sunday ||
		    mo != (month_end || b[i].completed_at == last) ||
		    yr != (year_end || b[i].completed_at == last))
			shape = false;
	}
	ok(shape, "  the week, month and year ends");
	free(ids);
	free(out);
	free(b);
}

static void
test_several_per_day(void)
{
	/* 10 days, 4 a day; keep-daily 7 keeps the 18:10 one of the last 7 */
	struct row rows[40];
	char when[40][24];
	struct retention_policy p = P(0, 0, 7, 0, 0, 0, -1);
	static const int hours[4] = { 0, 6, 12, 18 };
	size_t i;

	for (i = 0; i < 40; i++) {
		snprintf(when[i], sizeof(when[i]), "2024-06-%02zuT%02d:10:00Z",
		    11 + i / 4, hours[i % 4]);
		rows[i].when = when[i];
		rows[i].state = C;
		rows[i].want = i >= 12 && i % 4 == 3 ? DY : 0;
	}
	table("4 a day for 10 days, keep-daily 7: 7 kept, the newest of each",
	    rows, 40, &p, "UTC", 0);
	/* in Kolkata (+05:30) 18:10Z is 23:40 local: still the newest */
	table("  same in Asia/Kolkata", rows, 40, &p, "Asia/Kolkata", 0);
	/* in New York (-04:00) 00:10Z belongs to the day before and is
	 * its newest; the last day's newest is 18:10Z */
	for (i = 0; i < 40; i++)
		rows[i].want = i >= 16 && i % 4 == 0 ? DY : 0;
	rows[39].want = DY;
	table("  in America/New_York the newest of a local day is 00:10Z",
	    rows, 40, &p, "America/New_York", 0);
}

static void
test_states_and_age(void)
{
	int64_t now = ts("2024-06-10T12:00:00Z");
	struct row rows[] = {
		{ "2024-06-10T12:30:00Z", C, 0 },	/* in the future */
		{ "2024-06-10T11:00:00Z", F, NC },
		{ "2024-06-10T10:00:00Z", R, NC },
		{ "2024-06-10T09:00:00Z", O, NC },
		{ "2024-06-10T08:00:00Z", C, 0 },
		{ "2024-06-09T12:00:00Z", C, 0 },	/* exactly 1 day */
		{ "2024-06-09T11:59:59Z", C, 0 },
		{ "2020-01-01T00:00:00Z", F, NC },
	};
	struct retention_policy p = P(1, 0, 0, 0, 0, 0, -1);

	rows[0].want = LAST;
	table("keepLast 1: the newest completed; failed, running and "
	    "pending are kept", rows, 8, &p, "UTC", now);
	p.min_age = 86400;
	rows[0].want = LAST | AGE;
	rows[4].want = AGE;
	table("minAge 1 day: younger ones kept, exactly 1 day old is not",
	    rows, 8, &p, "UTC", now);
	p.min_age = 0;
	rows[0].want = LAST | AGE;
	rows[4].want = 0;
	table("minAge 0: only a backup stamped in the future", rows, 8, &p,
	    "UTC", now);
	p = (struct retention_policy)P(5, 0, 0, 0, 0, 0, -1);
	rows[0].want = LAST;
	rows[4].want = rows[5].want = rows[6].want = LAST;
	table("keepLast 5 with 4 completed: all kept", rows, 8, &p, "UTC",
	    now);
	p = (struct retention_policy)P(0, 0, 0, 0, 0, 0, -1);
	rows[0].want = rows[4].want = rows[5].want = rows[6].want = NONE;
	table("no rule: everything kept", rows, 8, &p, "UTC", now);
	p.min_age = 86400;
	rows[0].want = rows[4].want = NONE | AGE;
	table("no rule and minAge: both reasons", rows, 8, &p, "UTC", now);
	p = (struct retention_policy)P(0, 0, 0, 1, 0, 0, -1);
	rows[0].want = WK;
	rows[4].want = rows[5].want = rows[6].want = 0;
	table("keepWeekly 1: the newest completed only", rows, 8, &p, "UTC",
	    now);
}

static void
test_ties(void)
{
	struct retention_backup b[3];
	struct retention_decision out[3];
	struct retention_policy p = P(1, 0, 0, 0, 0, 0, -1);
	int64_t t = ts("2024-01-01T00:00:00Z");

	b[0] = (struct retention_backup){ "nightly-a", RETENTION_COMPLETED, t };
	b[1] = (struct retention_backup){ "nightly-b", RETENTION_COMPLETED, t };
	ok(retention_plan(b, 2, &p, NULL, t, out) == 0 && !out[0].keep &&
	    out[1].keep, "same time: the larger id is newer");
	b[0].id = "nightly-b";
	b[1].id = "nightly-a";
	ok(retention_plan(b, 2, &p, NULL, t, out) == 0 && out[0].keep &&
	    !out[1].keep, "  whatever the input order");
	b[0].id = NULL;
	ok(retention_plan(b, 2, &p, NULL, t, out) == 0 && !out[0].keep &&
	    out[1].keep, "  a NULL id is older than any id");
	b[1].id = NULL;
	b[2] = (struct retention_backup){ NULL, RETENTION_COMPLETED, t };
	ok(retention_plan(b, 3, &p, NULL, t, out) == 0 && !out[0].keep &&
	    !out[1].keep && out[2].keep, "  equal ids: the later in the input");
	b[0] = (struct retention_backup){ "z", RETENTION_COMPLETED, t - 1 };
	ok(retention_plan(b, 3, &p, NULL, t, out) == 0 && !out[0].keep,
	    "  time before id");
}

static void
test_invalid(void)
{
	struct retention_backup b[2] = {
		{ "x", RETENTION_COMPLETED, 100 },
		{ "y", RETENTION_COMPLETED, 200 },
	};
	struct retention_decision out[2];
	struct retention_policy p = P(1, 0, -1, 0, 0, 0, -1);
	int rc;

	rc = retention_plan(b, 2, &p, NULL, 300, out);
	ok(rc == -1 && out[0].keep && out[1].keep && out[0].reasons == 0,
	    "negative count: -1, everything kept");
	p = (struct retention_policy)P(1, 0, 0, 0, 0, 0, -2);
	rc = retention_plan(b, 2, &p, NULL, 300, out);
	ok(rc == -1 && out[0].keep && out[1].keep, "minAge -2: -1");
	p = (struct retention_policy)P(-1, 0, 0, 0, 0, 0, -1);
	rc = retention_plan(b, 2, &p, NULL, 300, out);
	ok(rc == -1 && out[0].keep, "keepLast -1: -1");
	p = (struct retention_policy)P(1, 0, 0, 0, 0, 0, -1);
	ok(retention_plan(NULL, 0, &p, NULL, 300, NULL) == 0, "no backups");
	rc = retention_plan(b, 2, &p, NULL, 300, out);
	ok(rc == 0 && !out[0].keep && out[0].reasons == 0 && out[1].keep &&
	    out[1].reasons == RETENTION_LAST, "UTC when the zone is NULL");
}

static void
test_reasons_text(void)
{
	char buf[RETENTION_REASONS_MAX], small[12];

	is_str(retention_reasons(0, buf, sizeof(buf)), "", "no reason: \"\"");
	is_str(retention_reasons(RETENTION_NOT_COMPLETED, buf, sizeof(buf)),
	    "not completed", "not completed");
	is_str(retention_reasons(RETENTION_LAST | RETENTION_DAILY |
	    RETENTION_MIN_AGE, buf, sizeof(buf)),
	    "keepLast, keepDaily, younger than minAge", "three reasons");
	is_str(retention_reasons(RETENTION_REASON_ALL, buf, sizeof(buf)),
	    "not completed, keepLast, keepHourly, keepDaily, keepWeekly, "
	    "keepMonthly, keepYearly, younger than minAge, no keep rule",
	    "every reason fits RETENTION_REASONS_MAX");
	is_str(retention_reasons(~0u, buf, sizeof(buf)),
	    "not completed, keepLast, keepHourly, keepDaily, keepWeekly, "
	    "keepMonthly, keepYearly, younger than minAge, no keep rule",
	    "unknown bits ignored");
	retention_reasons(RETENTION_LAST | RETENTION_WEEKLY, small,
	    sizeof(small));
	is_str(small, "keepLast", "truncated at a whole reason");
}

int
main(void)
{
	unsetenv("DBPROVD_ZONEINFO");
	test_year_boundary();
	test_zone_edges();
	test_restic_examples();
	test_several_per_day();
	test_states_and_age();
	test_ties();
	test_invalid();
	test_reasons_text();
	test_sets();
	return done_testing();
}
