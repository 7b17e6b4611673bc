/*
 * retention.c - the retention planner. Rules in retention.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "retention.h"
#include "schedtime.h"

enum bucket { B_HOUR, B_DAY, B_WEEK, B_MONTH, B_YEAR, B__COUNT };

static const unsigned bucket_reason[B__COUNT] = { RETENTION_HOURLY,
    RETENTION_DAILY, RETENTION_WEEKLY, RETENTION_MONTHLY, RETENTION_YEARLY };

struct cand {			/* a completed backup */
	const struct retention_backup *b;
	size_t idx;		/* in b[] and out[] */
	struct schedtime_tm tm;
};

struct keyed {
	int64_t key;
	size_t pos;		/* in the newest-first candidate list */
};

static int
cmp_id(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

/* newest first */
static int
cmp_cand(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	int c;

	if (a->b->completed_at != b->b->completed_at)
		return a->b->completed_at > b->b->completed_at ? -1 : 1;
	if ((c = cmp_id(a->b->id, b->b->id)) != 0)
		return -c;
	return a->idx > b->idx ? -1 : a->idx < b->idx;
}

static int
cmp_keyed(const void *pa, const void *pb)
{
	const struct keyed *a = pa, *b = pb;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int64_t
bucket_key(enum bucket k, const struct schedtime_tm *tm)
{
	switch (k) {
	case B_HOUR:
		return tm->days * 24 + tm->hour;
	case B_DAY:
		return tm->days;
	case B_WEEK:		/* Monday-first weeks are the ISO weeks;
				 * day -3 (1969-12-29) is a Monday */
		return cron_floordiv(tm->days + 3, 7);
	case B_MONTH:
		return tm->year * 12 + tm->mon - 1;
	case B_YEAR:
	default:
		return tm->year;
	}
}

/*
 * Keeps the newest candidate of each of the newest `want` distinct buckets.
 * first[] and kv[] are scratch of m entries.
 */
static void
keep_buckets(enum bucket k, int32_t want, const struct cand *c, size_t m,
    struct keyed *kv, bool *first, struct retention_decision *out)
{
	size_t i, taken = 0;

	for (i = 0; i < m; i++) {
		kv[i].key = bucket_key(k, &c[i].tm);
		kv[i].pos = i;
		first[i] = false;
	}
	qsort(kv, m, sizeof(*kv), cmp_keyed);
	for (i = 0; i < m; i++)
		if (i == 0 || kv[i].key != kv[i - 1].key)
			first[kv[i].pos] = true;
	for (i = 0; i < m && taken < (size_t)want; i++)
		if (first[i]) {
			out[c[i].idx].reasons |= bucket_reason[k];
			taken++;
		}
}

static bool
younger(int64_t t, int64_t now, int64_t min_age)
{
	int64_t age;

	if (min_age < 0)
		return false;
	if (t > now)
		return true;	/* in the future: age < 0 <= min_age */
	if (__builtin_sub_overflow(now, t, &age))
		return false;
	return age < min_age;
}

int
retention_plan(const struct retention_backup *b, size_t n,
    const struct retention_policy *p, const struct tz *zone, int64_t now,
    struct retention_decision *out)
{
	const int32_t want[B__COUNT] = { p->keep_hourly, p->keep_daily,
	    p->keep_weekly, p->keep_monthly, p->keep_yearly };
	struct cand *c = NULL;
	struct keyed *kv = NULL;
	bool *first = NULL, any = p->keep_last > 0, bad = p->keep_last < 0 ||
	    p->min_age < -1;
	size_t i, m = 0;
	int k;

	for (k = 0; k < B__COUNT; k++) {
		bad |= want[k] < 0;
		any |= want[k] > 0;
	}
	for (i = 0; i < n; i++) {
		out[i].keep = true;
		out[i].reasons = 0;
	}
	if (bad)
		return -1;
	if (n == 0)
		return 0;

	c = xcalloc(n, sizeof(*c));
	for (i = 0; i < n; i++) {
		if (b[i].state != RETENTION_COMPLETED) {
			out[i].reasons = RETENTION_NOT_COMPLETED;
			continue;
		}
		c[m].b = &b[i];
		c[m].idx = i;
		schedtime_local(zone, b[i].completed_at, &c[m].tm);
		m++;
	}
	qsort(c, m, sizeof(*c), cmp_cand);

	if (!any)
		for (i = 0; i < m; i++)
			out[c[i].idx].reasons |= RETENTION_NO_POLICY;
	for (i = 0; i < m && i < (size_t)p->keep_last; i++)
		out[c[i].idx].reasons |= RETENTION_LAST;
	if (m > 0) {
		kv = xcalloc(m, sizeof(*kv));
		first = xcalloc(m, sizeof(*first));
	}
	for (k = 0; k < B__COUNT; k++)
		if (want[k] > 0)
			keep_buckets((enum bucket)k, want[k], c, m, kv, first,
			    out);
	for (i = 0; i < m; i++)
		if (younger(c[i].b->completed_at, now, p->min_age))
			out[c[i].idx].reasons |= RETENTION_MIN_AGE;
	for (i = 0; i < m; i++)
		out[c[i].idx].keep = out[c[i].idx].reasons != 0;

	free(first);
	free(kv);
	free(c);
	return 0;
}

static const char *const reason_names[] = { "not completed", "keepLast",
    "keepHourly", "keepDaily", "keepWeekly", "keepMonthly", "keepYearly",
    "younger than minAge", "no keep rule" };

char *
retention_reasons(unsigned reasons, char *buf, size_t len)
{
	size_t i, at = 0, sep, n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(reason_names); i++) {
		if (!(reasons & (1u << i)))
			continue;
		sep = at ? 2 : 0;
		n = strlen(reason_names[i]);
		if (at + sep + n >= len)
			break;	/* whole reasons only */
		memcpy(buf + at, ", ", sep);
		memcpy(buf + at + sep, reason_names[i], n + 1);
		at += sep + n;
	}
	return buf;
}
