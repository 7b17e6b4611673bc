/*
 * timefmt.c - RFC 3339 in the two shapes Kubernetes uses.
 */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

/* gmtime_r/timegm work on time_t; keep to years 0000..9999. */
#define MIN_SEC (-62167219200LL)	/* 0000-01-01T00:00:00Z */
#define MAX_SEC (253402300799LL)	/* 9999-12-31T23:59:59Z */

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int
format(struct timespec t, bool micro, char *buf, size_t len)
{
	struct tm tm;
	time_t sec = t.tv_sec;
	int n;

	if (len > 0)
		buf[0] = '\0';
	if (t.tv_sec < MIN_SEC || t.tv_sec > MAX_SEC || t.tv_nsec < 0 ||
	    t.tv_nsec >= 1000000000L || gmtime_r(&sec, &tm) == NULL)
		return -1;
	if (micro)
		n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, t.tv_nsec / 1000);
	else
		n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			buf[0] = '\0';
		return -1;
	}
	return 0;
}

int
timefmt_time(struct timespec t, char *buf, size_t len)
{
	return format(t, false, buf, len);
}

int
timefmt_micro(struct timespec t, char *buf, size_t len)
{
	return format(t, true, buf, len);
}

/* Exactly n ASCII digits. */
static bool
digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int
fail(const char *s, const char *why, char *err, size_t errlen)
{
	snprintf(err, errlen, "time \"%.40s\": %s", s, why);
	return -1;
}

/* frac_digits: -1 any number (>= 1) or none, else exactly that many. */
static int
parse(const char *s, int frac_digits, struct timespec *out, char *err,
    size_t errlen)
{
	int year, mon, day, hour, min, sec, oh, om;
	int offset = 0;
	long nsec = 0;
	const char *p;
	struct tm tm;
	time_t t;

	if (strlen(s) < 19 || !digits(s, 4, &year) || s[4] != '-' ||
	    !digits(s + 5, 2, &mon) || s[7] != '-' ||
	    !digits(s + 8, 2, &day) || s[10] != 'T' ||
	    !digits(s + 11, 2, &hour) || s[13] != ':' ||
	    !digits(s + 14, 2, &min) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return fail(s, "not RFC 3339 (want 2006-01-02T15:04:05Z)", err,
		    errlen);
	if (mon < 1 || mon > 12)
		return fail(s, "month out of range", err, errlen);
	if (day < 1 || day > days_in_month(year, mon))
		return fail(s, "day out of range", err, errlen);
	if (hour > 23)
		return fail(s, "hour out of range", err, errlen);
	if (min > 59)
		return fail(s, "minute out of range", err, errlen);
	if (sec > 59)
		return fail(s, "second out of range", err, errlen);
	p = s + 19;
	if (*p == '.' && p[1] >= '0' && p[1] <= '9') {
		int n = 0;
		long scale = 100000000L;

		for (p++; *p >= '0' && *p <= '9'; p++, n++) {
			if (n < 9) {
				nsec += (*p - '0') * scale;
				scale /= 10;
			}
		}
		if (frac_digits >= 0 && n != frac_digits)
			return fail(s, "want exactly 6 fractional digits", err,
			    errlen);
	} else if (frac_digits > 0) {
		return fail(s, "want exactly 6 fractional digits", err, errlen);
	}
	if (p[0] == 'Z' && p[1] == '\0') {
		offset = 0;
	} else if ((p[0] == '+' || p[0] == '-') && digits(p + 1, 2, &oh) &&
	    p[3] == ':' && digits(p + 4, 2, &om) && p[6] == '\0') {
		if (oh > 23 || om > 59)
			return fail(s, "time zone offset out of range", err,
			    errlen);
		offset = (oh * 60 + om) * 60 * (p[0] == '-' ? -1 : 1);
	} else {
		return fail(s, "want Z or +hh:mm after the time", err, errlen);
	}

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* local = UTC + offset */
	out->tv_sec = t - offset;
	out->tv_nsec = nsec;
	return 0;
}

int
timefmt_parse(const char *s, struct timespec *out, char *err, size_t errlen)
{
	return parse(s, -1, out, err, errlen);
}

int
timefmt_parse_micro(const char *s, struct timespec *out, char *err,
    size_t errlen)
{
	return parse(s, 6, out, err, errlen);
}

/* Nearest microsecond; false when t is far outside what we format. */
static bool
from_double(double t, struct timespec *ts)
{
	long long us, s, r;

	if (!(fabs(t) < 1e12))
		return false;
	us = (long long)dbl_round(t * 1e6);
	s = us / 1000000;
	r = us % 1000000;
	if (r < 0) {
		r += 1000000;
		s--;
	}
	ts->tv_sec = (time_t)s;
	ts->tv_nsec = (long)r * 1000;
	return true;
}

int
timefmt_time_d(double t, char *buf, size_t len)
{
	struct timespec ts;

	if (!from_double(t, &ts)) {
		if (len > 0)
			buf[0] = '\0';
		return -1;
	}
	return format(ts, false, buf, len);
}

int
timefmt_micro_d(double t, char *buf, size_t len)
{
	struct timespec ts;

	if (!from_double(t, &ts)) {
		if (len > 0)
			buf[0] = '\0';
		return -1;
	}
	return format(ts, true, buf, len);
}

int
timefmt_parse_d(const char *s, double *out, char *err, size_t errlen)
{
	struct timespec ts;

	if (parse(s, -1, &ts, err, errlen) < 0)
		return -1;
	*out = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	return 0;
}
