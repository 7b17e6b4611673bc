/*
 * cron.c - cron expressions, next fire times, TZif time zones. Contract and
 * DST rules in cron.h.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cron.h"
#include "duration.h"

#define DAY 86400
#define TZIF_MAX_FILE (1u << 20)	/* real files are a few KiB */
#define TZIF_MAX_TIMES 100000u

static void
seterr(char *err, size_t errlen, const char *fmt, ...) DBP_PRINTF(3, 4);

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- calendar (proleptic Gregorian, Howard Hinnant's algorithms) ---- */

int64_t
cron_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t
cron_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = cron_floordiv(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = cron_floordiv(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int64_t y, int m)
{
	static const int n[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31 };

	return m == 2 && leap(y) ? 29 : n[m - 1];
}

/* 0 = Sunday */
static int
weekday(int64_t days)
{
	return (int)((days % 7 + 11) % 7);
}

/* ---- cron expressions ---- */

struct field {
	const char *name;
	int min, max;
	const char *const *names;	/* names[i] is value min + i */
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr",
    "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu",
    "fri", "sat", NULL };

static const struct field fields[5] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	{ "day-of-week", 0, 6, dow_names },
};

/* A number or a name in s[0..len). Returns 0, or -1 with a message. */
static int
parse_value(const struct field *f, const char *s, size_t len, int *v,
    char *err, size_t errlen)
{
	long n = 0;
	size_t i;

	if (len == 0) {
		seterr(err, errlen, "%s: empty value", f->name);
		return -1;
	}
	if (f->names != NULL && isalpha((unsigned char)s[0])) {
		for (i = 0; f->names[i] != NULL; i++)
			if (len == strlen(f->names[i]) &&
			    strncasecmp(s, f->names[i], len) == 0) {
				*v = f->min + (int)i;
				return 0;
			}
	}
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i])) {
			seterr(err, errlen, "%s: bad value \"%.*s\"", f->name,
			    (int)len, s);
			return -1;
		}
		if (n < 1000)
			n = n * 10 + (s[i] - '0');
	}
	if (n < f->min || n > f->max) {
		seterr(err, errlen, "%s: value %.*s out of range %d-%d",
		    f->name, (int)len, s, f->min, f->max);
		return -1;
	}
	*v = (int)n;
	return 0;
}

/* One list element: "*", "?", "a", "a-b", each with an optional "/n". */
static int
parse_range(const struct field *f, const char *s, size_t len, uint64_t *bits,
    bool *star, char *err, size_t errlen)
{
	const char *slash = memchr(s, '/', len), *dash;
	size_t rlen = slash ? (size_t)(slash - s) : len;
	int lo, hi, step = 1, v;
	bool all = false;

	if (rlen == 1 && (s[0] == '*' || s[0] == '?')) {
		lo = f->min;
		hi = f->max;
		all = true;
	} else if ((dash = memchr(s, '-', rlen)) != NULL) {
		if (parse_value(f, s, (size_t)(dash - s), &lo, err, errlen) ||
		    parse_value(f, dash + 1, rlen - (size_t)(dash - s) - 1, &hi,
		    err, errlen))
			return -1;
		if (lo > hi) {
			seterr(err, errlen, "%s: range %.*s is backwards",
			    f->name, (int)rlen, s);
			return -1;
		}
	} else {
		if (parse_value(f, s, rlen, &lo, err, errlen))
			return -1;
		hi = slash ? f->max : lo;	/* "a/n" is "a-max/n" */
	}
	if (slash != NULL) {
		const char *p = slash + 1;
		size_t n = len - rlen - 1, i;

		if (n == 0 || n > 4) {
			seterr(err, errlen, "%s: bad step \"%.*s\"", f->name,
			    (int)n, p);
			return -1;
		}
		for (step = 0, i = 0; i < n; i++) {
			if (!isdigit((unsigned char)p[i])) {
				seterr(err, errlen, "%s: bad step \"%.*s\"",
				    f->name, (int)n, p);
				return -1;
			}
			step = step * 10 + (p[i] - '0');
		}
		if (step == 0) {
			seterr(err, errlen, "%s: step must be positive",
			    f->name);
			return -1;
		}
	}
	for (v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	/* robfig: "*" and "*\/1" leave the field unrestricted */
	if (all && step == 1)
		*star = true;
	return 0;
}

static int
parse_field(const struct field *f, const char *s, size_t len, uint64_t *bits,
    bool *star, char *err, size_t errlen)
{
	const char *end = s + len, *comma;

	*bits = 0;
	*star = false;
	for (;;) {
		comma = memchr(s, ',', (size_t)(end - s));
		if (parse_range(f, s, (size_t)((comma ? comma : end) - s), bits,
		    star, err, errlen))
			return -1;
		if (comma == NULL)
			return 0;
		s = comma + 1;
	}
}

static int
parse_descriptor(const char *s, struct cron *c, char *err, size_t errlen)
{
	uint64_t all_dom = 0xfffffffeu, all_dow = 0x7f;
	int64_t ns;
	char derr[128];

	c->descriptor = true;
	c->minute = 1;
	c->hour = 1;
	c->dom = (uint32_t)all_dom;
	c->month = 0x1ffe;
	c->dow = (uint8_t)all_dow;
	c->dom_star = c->dow_star = true;
	if (strcmp(s, "@yearly") == 0 || strcmp(s, "@annually") == 0) {
		c->dom = 1u << 1;
		c->month = 1u << 1;
		c->dom_star = false;
	} else if (strcmp(s, "@monthly") == 0) {
		c->dom = 1u << 1;
		c->dom_star = false;
	} else if (strcmp(s, "@weekly") == 0) {
		c->dow = 1;
		c->dow_star = false;
	} else if (strcmp(s, "@daily") == 0 || strcmp(s, "@midnight") == 0) {
		;
	} else if (strcmp(s, "@hourly") == 0) {
		c->hour = 0xffffff;
		c->hour_star = true;
	} else if (strncmp(s, "@every ", 7) == 0) {
		if (duration_parse(s + 7, &ns, derr, sizeof(derr)) != 0) {
			seterr(err, errlen, "@every: %s", derr);
			return -1;
		}
		/* robfig: truncated to seconds, at least one second */
		c->every = ns / 1000000000;
		if (c->every < 1)
			c->every = 1;
	} else {
		seterr(err, errlen, "unrecognized descriptor \"%.40s\"", s);
		return -1;
	}
	return 0;
}

int
cron_parse(const char *expr, struct cron *out, char *err, size_t errlen)
{
	const char *s = expr, *start[6], *e;
	size_t len[6], nf = 0, i;
	uint64_t bits[5];
	bool star[5];

	memset(out, 0, sizeof(*out));
	while (isspace((unsigned char)*s))
		s++;
	if (strncmp(s, "TZ=", 3) == 0 || strncmp(s, "CRON_TZ=", 8) == 0) {
		s = strchr(s, '=') + 1;
		for (e = s; *e != '\0' && !isspace((unsigned char)*e); e++)
			;
		if (e == s || (size_t)(e - s) >= sizeof(out->tz)) {
			seterr(err, errlen, "TZ= prefix: bad time zone name");
			return -1;
		}
		memcpy(out->tz, s, (size_t)(e - s));
		s = e;
		while (isspace((unsigned char)*s))
			s++;
	}
	if (*s == '\0') {
		seterr(err, errlen, "empty schedule");
		return -1;
	}
	if (*s == '@') {
		char buf[128];
		size_t n = strlen(s);

		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		if (n >= sizeof(buf)) {
			seterr(err, errlen, "unrecognized descriptor");
			return -1;
		}
		memcpy(buf, s, n);
		buf[n] = '\0';
		return parse_descriptor(buf, out, err, errlen);
	}
	while (*s != '\0') {
		for (e = s; *e != '\0' && !isspace((unsigned char)*e); e++)
			;
		if (nf < 6) {
			start[nf] = s;
			len[nf] = (size_t)(e - s);
		}
		nf++;
		for (s = e; isspace((unsigned char)*s); s++)
			;
	}
	if (nf != 5) {
		seterr(err, errlen, "expected 5 fields (minute hour "
		    "day-of-month month day-of-week), found %zu", nf);
		return -1;
	}
	for (i = 0; i < 5; i++)
		if (parse_field(&fields[i], start[i], len[i], &bits[i],
		    &star[i], err, errlen))
			return -1;
	out->minute = bits[0];
	out->hour = (uint32_t)bits[1];
	out->dom = (uint32_t)bits[2];
	out->month = (uint16_t)bits[3];
	out->dow = (uint8_t)bits[4];
	out->hour_star = star[1];
	out->dom_star = star[2];
	out->dow_star = star[4];
	return 0;
}

static bool
day_matches(const struct cron *c, int64_t days, int d)
{
	bool dom = c->dom & (1u << d), dow = c->dow & (1u << weekday(days));

	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/*
 * First matching wall-clock minute >= local (seconds, minute aligned),
 * with the year at most ylimit. Returns 0, or -1 when there is none.
 */
static int
next_local(const struct cron *c, int64_t local, int64_t ylimit, int64_t *out)
{
	int64_t days = cron_floordiv(local, DAY), y;
	int sod = (int)(local - days * DAY), m, d, h = sod / 3600,
	    mi = sod % 3600 / 60;

	cron_civil_from_days(days, &y, &m, &d);
	for (;;) {
		if (mi > 59) {
			mi = 0;
			h++;
		}
		if (h > 23) {
			h = mi = 0;
			d++;
		}
		if (m > 12) {
			m = 1;
			y++;
		}
		if (d > month_days(y, m)) {
			d = 1;
			h = mi = 0;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
		if (y > ylimit)
			return -1;
		if (!(c->month & (1u << m))) {
			m++;
			d = 1;
			h = mi = 0;
			continue;
		}
		days = cron_days_from_civil(y, m, d);
		if (!day_matches(c, days, d)) {
			d++;
			h = mi = 0;
			continue;
		}
		if (!(c->hour & (1u << h))) {
			h++;
			mi = 0;
			continue;
		}
		if (!(c->minute & ((uint64_t)1 << mi))) {
			mi++;
			continue;
		}
		*out = days * DAY + h * 3600 + mi * 60;
		return 0;
	}
}

int
cron_next(const struct cron *c, const struct tz *zone, int64_t after,
    int64_t *next)
{
	int64_t cur = after, from, until, pf, pu, local, l, u, days, ylimit;
	int32_t off, poff;
	int m, d, iter;

	if (c->every > 0) {
		if (after > INT64_MAX - c->every)
			return -1;
		*next = after + c->every;
		return 0;
	}
	if (after > INT64_MAX / 2 || after < INT64_MIN / 2)
		return -1;
	off = tz_offset(zone, after + 1);
	days = cron_floordiv(after + 1 + off, DAY);
	cron_civil_from_days(days, &ylimit, &m, &d);
	ylimit += 5;
	for (iter = 0; iter < 100000; iter++) {
		off = tz_span(zone, cur + 1, &from, &until);
		local = cur + 1 + off;
		local = cron_floordiv(local + 59, 60) * 60;
		if (next_local(c, local, ylimit, &l) != 0)
			return -1;
		u = l - off;
		if (until != INT64_MAX && u >= until) {
			cur = until - 1;	/* continue in the next span */
			continue;
		}
		if (!c->hour_star && from != INT64_MIN) {
			/* a fall-back repeats this wall time: fire once */
			poff = tz_span(zone, from - 1, &pf, &pu);
			if (l - poff >= pf && l - poff < pu) {
				cur = u;
				continue;
			}
		}
		*next = u;
		return 0;
	}
	return -1;
}

/* ---- time zones ---- */

void
tz_utc(struct tz *z)
{
	memset(z, 0, sizeof(*z));
	strcpy(z->name, "UTC");
}

void
tz_release(struct tz *z)
{
	free(z->at);
	free(z->off);
	tz_utc(z);
}

/* Unix time at which rule r fires in year y, local time read with off. */
static int64_t
rule_time(const struct tz_rule *r, int64_t y, int32_t off)
{
	int64_t first = cron_days_from_civil(y, r->m, 1);
	int day = 1 + (r->d - weekday(first) + 7) % 7 + (r->w - 1) * 7;

	while (day > month_days(y, r->m))
		day -= 7;
	return (first + day - 1) * DAY + r->secs - off;
}

static int32_t
footer_span(const struct tz *z, int64_t t, int64_t *from, int64_t *until)
{
	int64_t y, at[6], tmp;
	bool on[6], btmp;
	int m, d, i, j, n = 0;
	int32_t off;

	/* beyond +-2^52 s (142 million years) the year arithmetic could
	 * overflow: no DST there */
	if (!z->dst || t > ((int64_t)1 << 52) || t < -((int64_t)1 << 52)) {
		*from = INT64_MIN;
		*until = INT64_MAX;
		return z->std_off;
	}
	cron_civil_from_days(cron_floordiv(t + z->std_off, DAY), &y, &m, &d);
	for (i = -1; i <= 1; i++) {
		at[n] = rule_time(&z->start, y + i, z->std_off);
		on[n++] = true;
		at[n] = rule_time(&z->end, y + i, z->dst_off);
		on[n++] = false;
	}
	for (i = 1; i < n; i++)		/* insertion sort, 6 items */
		for (j = i; j > 0 && at[j - 1] > at[j]; j--) {
			tmp = at[j];
			at[j] = at[j - 1];
			at[j - 1] = tmp;
			btmp = on[j];
			on[j] = on[j - 1];
			on[j - 1] = btmp;
		}
	*from = INT64_MIN;
	*until = INT64_MAX;
	off = on[0] ? z->dst_off : z->std_off;	/* not reached in practice */
	for (i = 0; i < n; i++) {
		if (at[i] <= t) {
			*from = at[i];
			off = on[i] ? z->dst_off : z->std_off;
		} else {
			*until = at[i];
			break;
		}
	}
	return off;
}

int32_t
tz_span(const struct tz *z, int64_t t, int64_t *from, int64_t *until)
{
	size_t lo, hi, mid;
	int32_t off;

	*from = INT64_MIN;
	*until = INT64_MAX;
	if (z == NULL)
		return 0;
	if (z->n == 0 || t < z->at[0]) {
		if (z->n > 0) {
			*until = z->at[0];
			return z->off0;
		}
		return z->footer ? footer_span(z, t, from, until) : z->off0;
	}
	lo = 0;
	hi = z->n;		/* at[lo] <= t < at[hi] */
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (z->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	if (hi < z->n) {
		*from = z->at[lo];
		*until = z->at[hi];
		return z->off[lo];
	}
	if (!z->footer) {
		*from = z->at[lo];
		return z->off[lo];
	}
	off = footer_span(z, t, from, until);
	if (*from < z->at[lo])
		*from = z->at[lo];
	return off;
}

int32_t
tz_offset(const struct tz *z, int64_t t)
{
	int64_t from, until;

	return tz_span(z, t, &from, &until);
}

int
tz_local_to_utc(const struct tz *z, int64_t local, int64_t out[2])
{
	int64_t t = local - 2 * DAY, from, until, u;
	int32_t off;
	int n = 0, i;

	/* every span that can hold local - offset (|offset| < 26 h) */
	for (i = 0; i < 64 && n < 2; i++) {
		off = tz_span(z, t, &from, &until);
		u = local - off;
		if (u >= from && u < until && (n == 0 || out[n - 1] != u))
			out[n++] = u;
		if (until == INT64_MAX || until > local + 2 * DAY)
			break;
		t = until;
	}
	return n;
}

/* -- TZif (RFC 8536) -- */

struct rd {			/* bounded reader */
	const unsigned char *p;
	size_t left;
};

static bool
rd_take(struct rd *r, size_t n, const unsigned char **out)
{
	if (n > r->left)
		return false;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_hdr {
	char version;
	uint32_t isut, isstd, leap, time, type, chr;
};

static bool
read_hdr(struct rd *r, struct tzif_hdr *h)
{
	const unsigned char *p;

	if (!rd_take(r, 44, &p) || memcmp(p, "TZif", 4) != 0)
		return false;
	h->version = (char)p[4];
	h->isut = be32(p + 20);
	h->isstd = be32(p + 24);
	h->leap = be32(p + 28);
	h->time = be32(p + 32);
	h->type = be32(p + 36);
	h->chr = be32(p + 40);
	return h->type >= 1 && h->type <= 256 && h->time <= TZIF_MAX_TIMES &&
	    h->leap <= TZIF_MAX_TIMES && h->chr <= 65536 &&
	    (h->isut == 0 || h->isut == h->type) &&
	    (h->isstd == 0 || h->isstd == h->type);
}

/* Size of a data block; counts are bounded by read_hdr(). */
static size_t
block_size(const struct tzif_hdr *h, size_t tsize)
{
	return (size_t)h->time * (tsize + 1) + (size_t)h->type * 6 + h->chr +
	    (size_t)h->leap * (tsize + 4) + h->isstd + h->isut;
}

/* POSIX TZ pieces. Each returns the position after it, or NULL. */
static const char *
posix_name(const char *s)
{
	const char *p = s;

	if (*p == '<') {
		for (p++; isalnum((unsigned char)*p) || *p == '+' || *p == '-';
		    p++)
			;
		return *p == '>' && p - s >= 4 ? p + 1 : NULL;
	}
	while (isalpha((unsigned char)*p))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]], hh <= maxh */
static const char *
posix_time(const char *s, int maxh, int32_t *secs)
{
	int sign = 1, part[3] = { 0, 0, 0 }, i, digits;

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	for (i = 0; i < 3; i++) {
		if (i > 0) {
			if (*s != ':')
				break;
			s++;
		}
		for (digits = 0; isdigit((unsigned char)*s) && digits < 3;
		    digits++)
			part[i] = part[i] * 10 + (*s++ - '0');
		if (digits == 0 || (i > 0 && part[i] > 59))
			return NULL;
	}
	if (part[0] > maxh)
		return NULL;
	*secs = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	return s;
}

static const char *
posix_rule(const char *s, struct tz_rule *r, char *err, size_t errlen)
{
	int v[3] = { 0, 0, 0 }, i;

	if (*s != 'M') {
		seterr(err, errlen, "unsupported footer rule \"%.20s\" (only "
		    "Mm.w.d)", s);
		return NULL;
	}
	s++;
	for (i = 0; i < 3; i++) {
		if (i > 0 && *s++ != '.')
			goto bad;
		if (!isdigit((unsigned char)*s))
			goto bad;
		while (isdigit((unsigned char)*s) && v[i] < 100)
			v[i] = v[i] * 10 + (*s++ - '0');
	}
	if (v[0] < 1 || v[0] > 12 || v[1] < 1 || v[1] > 5 || v[2] > 6)
		goto bad;
	r->m = v[0];
	r->w = v[1];
	r->d = v[2];
	r->secs = 7200;
	if (*s == '/' && (s = posix_time(s + 1, 167, &r->secs)) == NULL)
		goto bad;
	return s;
bad:
	seterr(err, errlen, "bad footer rule");
	return NULL;
}

/* The footer TZ string (NUL-terminated copy). Sets z->footer etc. */
static int
parse_footer(const char *s, struct tz *z, char *err, size_t errlen)
{
	int32_t v;

	if (*s == '\0')
		return 0;	/* no rule: the last type stays in effect */
	if ((s = posix_name(s)) == NULL || (s = posix_time(s, 24, &v)) == NULL)
		goto bad;
	z->std_off = -v;
	z->footer = true;
	if (*s == '\0')
		return 0;
	if ((s = posix_name(s)) == NULL)
		goto bad;
	z->dst = true;
	z->dst_off = z->std_off + 3600;
	if (*s != ',' && *s != '\0') {
		if ((s = posix_time(s, 24, &v)) == NULL)
			goto bad;
		z->dst_off = -v;
	}
	if (*s != ',') {
		seterr(err, errlen, "unsupported footer: DST without rules");
		return -1;
	}
	if ((s = posix_rule(s + 1, &z->start, err, errlen)) == NULL)
		return -1;
	if (*s != ',') {
		seterr(err, errlen, "bad footer rule");
		return -1;
	}
	if ((s = posix_rule(s + 1, &z->end, err, errlen)) == NULL)
		return -1;
	if (*s != '\0')
		goto bad;
	return 0;
bad:
	seterr(err, errlen, "bad footer TZ string");
	return -1;
}

#define UTOFF_OK(v) ((v) > -26 * 3600 && (v) < 26 * 3600)

static int
tzif_parse(const unsigned char *buf, size_t len, struct tz *z, char *err,
    size_t errlen)
{
	struct rd r = { buf, len };
	struct tzif_hdr h;
	const unsigned char *times, *idx, *types, *p, *nl;
	char footer[128];
	size_t i, fl;
	int32_t o;

	if (!read_hdr(&r, &h))
		goto corrupt;
	if (h.version < '2') {
		seterr(err, errlen, "TZif version 1 files are not supported");
		return -1;
	}
	if (!rd_take(&r, block_size(&h, 4), &p) || !read_hdr(&r, &h))
		goto corrupt;
	if (h.leap != 0) {
		seterr(err, errlen, "leap-second zones are not supported");
		return -1;
	}
	if (!rd_take(&r, (size_t)h.time * 8, &times) ||
	    !rd_take(&r, h.time, &idx) ||
	    !rd_take(&r, (size_t)h.type * 6, &types) ||
	    !rd_take(&r, (size_t)h.chr + h.isstd + h.isut, &p))
		goto corrupt;
	for (i = 0; i < h.type; i++) {
		o = (int32_t)be32(types + i * 6);
		if (!UTOFF_OK(o) || types[i * 6 + 4] > 1)
			goto corrupt;
	}
	/* footer: "\n" TZ "\n" */
	if (!rd_take(&r, 1, &p) || *p != '\n' ||
	    (nl = memchr(r.p, '\n', r.left)) == NULL)
		goto corrupt;
	fl = (size_t)(nl - r.p);
	if (fl >= sizeof(footer) || memchr(r.p, '\0', fl) != NULL)
		goto corrupt;
	memcpy(footer, r.p, fl);
	footer[fl] = '\0';

	z->n = h.time;
	z->at = xcalloc(h.time ? h.time : 1, sizeof(*z->at));
	z->off = xcalloc(h.time ? h.time : 1, sizeof(*z->off));
	for (i = 0; i < h.time; i++) {
		z->at[i] = be64(times + i * 8);
		if ((i > 0 && z->at[i] <= z->at[i - 1]) || idx[i] >= h.type)
			goto corrupt;
		z->off[i] = (int32_t)be32(types + idx[i] * 6);
	}
	z->off0 = (int32_t)be32(types);
	if (parse_footer(footer, z, err, errlen) != 0)
		return -1;
	if (z->footer && (!UTOFF_OK(z->std_off) ||
	    (z->dst && !UTOFF_OK(z->dst_off)))) {
		seterr(err, errlen, "bad footer offset");
		return -1;
	}
	return 0;
corrupt:
	seterr(err, errlen, "corrupt or truncated TZif data");
	return -1;
}

static bool
tz_name_ok(const char *name)
{
	const char *p;

	if (name[0] == '/' || strstr(name, "..") != NULL ||
	    strlen(name) >= TZ_NAME_MAX)
		return false;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '+' &&
		    *p != '-' && *p != '/')
			return false;
	return true;
}

int
tz_load(const char *name, struct tz *out, char *err, size_t errlen)
{
	const char *dir = getenv("DBPROVD_ZONEINFO");
	char path[PATH_MAX], e2[160];
	unsigned char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	struct stat st;
	int fd = -1, rc = -1;

	tz_utc(out);
	if (name == NULL || name[0] == '\0' || strcmp(name, "UTC") == 0 ||
	    strcmp(name, "Local") == 0)
		return 0;
	if (!tz_name_ok(name)) {
		seterr(err, errlen, "invalid time zone name \"%.64s\"", name);
		return -1;
	}
	if (dir == NULL || dir[0] == '\0')
		dir = "/usr/share/zoneinfo";
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path)) {
		seterr(err, errlen, "time zone path too long");
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			seterr(err, errlen, "unknown time zone %s", name);
		else
			seterr(err, errlen, "time zone %s: %s", name,
			    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)TZIF_MAX_FILE) {
		seterr(err, errlen, "unknown time zone %s", name);
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len <= (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			seterr(err, errlen, "time zone %s: %s", name,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > (size_t)st.st_size) {
		seterr(err, errlen, "time zone %s: file changed", name);
		goto out;
	}
	if (tzif_parse(buf, len, out, e2, sizeof(e2)) != 0) {
		seterr(err, errlen, "time zone %s: %s", name, e2);
		tz_release(out);
		goto out;
	}
	snprintf(out->name, sizeof(out->name), "%s", name);
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}
