/*
 * schedtime.c - next run, missed runs and run names of a backup schedule;
 * local calendar time. Contract in schedtime.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "schedtime.h"

#define DAY 86400

void
schedtime_local(const struct tz *zone, int64_t t, struct schedtime_tm *out)
{
	int64_t local, sod, thu, iy;
	int im, id, isowd;

	out->off = tz_offset(zone, t);
	local = t + out->off;
	out->days = cron_floordiv(local, DAY);
	sod = local - out->days * DAY;
	out->hour = (int)(sod / 3600);
	out->min = (int)(sod % 3600 / 60);
	out->sec = (int)(sod % 60);
	cron_civil_from_days(out->days, &out->year, &out->mon, &out->mday);
	out->wday = (int)(((out->days % 7) + 11) % 7);	/* 1970-01-01: Thu */
	out->yday = (int)(out->days - cron_days_from_civil(out->year, 1, 1));
	/* the ISO week belongs to the year that holds its Thursday */
	isowd = out->wday == 0 ? 7 : out->wday;
	thu = out->days - (isowd - 1) + 3;
	cron_civil_from_days(thu, &iy, &im, &id);
	out->iso_year = iy;
	out->iso_week = (int)((thu - cron_days_from_civil(iy, 1, 1)) / 7 + 1);
}

int64_t
schedtime_reference(int64_t created, int64_t last_started)
{
	return created > last_started ? created : last_started;
}

int
schedtime_next(const struct cron *c, const struct tz *zone,
    int64_t reference, int64_t *next)
{
	return cron_next(c, zone, reference, next);
}

/* The cron time after t if there is one and it is <= now. */
static bool
next_by(const struct cron *c, const struct tz *zone, int64_t t, int64_t now,
    int64_t *out)
{
	return cron_next(c, zone, t, out) == 0 && *out <= now;
}

void
schedtime_missed(const struct cron *c, const struct tz *zone,
    int64_t reference, int64_t now, int64_t deadline,
    struct schedtime_missed *out)
{
	int64_t t = reference, x, lo, hi, mid;

	memset(out, 0, sizeof(*out));
	while (out->count < SCHEDTIME_SCAN_MAX && next_by(c, zone, t, now, &x)) {
		out->count++;
		out->latest = t = x;
	}
	if (out->count == SCHEDTIME_SCAN_MAX && next_by(c, zone, t, now, &x)) {
		/*
		 * Too many to count. The latest run L <= now is f(lo) for the
		 * largest lo with f(lo) <= now, where f = cron_next is
		 * monotonic; keep f(lo) <= now < f(hi).
		 */
		out->capped = true;
		lo = t;
		hi = now;
		while (hi - lo > 1) {
			mid = lo + (hi - lo) / 2;
			if (next_by(c, zone, mid, now, &x))
				lo = mid;
			else
				hi = mid;
		}
		if (next_by(c, zone, lo, now, &x))
			out->latest = x;
	}
	out->has_next = cron_next(c, zone, out->count > 0 ? out->latest :
	    reference, &out->next) == 0;
	if (!out->has_next)
		out->next = 0;
	if (out->count == 0)
		return;
	if (out->has_next)
		out->period = out->next - out->latest;
	if (deadline < 0)
		out->catch_up = !out->has_next || now - out->latest < out->period;
	else
		out->catch_up = now - out->latest < deadline;
}

static const char hexdigits[] = "0123456789abcdef";

int
schedtime_backup_name(const char *schedule, int64_t run, char *buf,
    size_t len)
{
	struct schedtime_tm tm;
	unsigned char md[SHA256_LEN];
	char hash[SCHEDTIME_HASH_LEN + 1];
	size_t n, keep, i;

	if (len > 0)
		buf[0] = '\0';
	if (schedule == NULL || schedule[0] == '\0' ||
	    len < SCHEDTIME_NAME_MAX + 1)
		return -1;
	schedtime_local(NULL, run, &tm);
	if (tm.year < 0 || tm.year > 9999)
		return -1;
	n = strlen(schedule);
	if (n <= SCHEDTIME_NAME_MAX - SCHEDTIME_SUFFIX_LEN) {
		snprintf(buf, len, "%s-%04d%02d%02d-%02d%02d%02d", schedule,
		    (int)tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec);
		return 0;
	}
	sha256(schedule, n, md);
	for (i = 0; i < SCHEDTIME_HASH_LEN / 2; i++) {
		hash[2 * i] = hexdigits[md[i] >> 4];
		hash[2 * i + 1] = hexdigits[md[i] & 0xf];
	}
	hash[SCHEDTIME_HASH_LEN] = '\0';
	keep = SCHEDTIME_NAME_MAX - SCHEDTIME_SUFFIX_LEN - 1 -
	    SCHEDTIME_HASH_LEN;
	while (keep > 0 && (schedule[keep - 1] == '-' ||
	    schedule[keep - 1] == '.'))
		keep--;
	snprintf(buf, len, "%.*s-%s-%04d%02d%02d-%02d%02d%02d", (int)keep,
	    schedule, hash, (int)tm.year, tm.mon, tm.mday, tm.hour, tm.min,
	    tm.sec);
	return 0;
}
