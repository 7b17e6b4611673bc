/*
 * duration.c - Go time.ParseDuration and Duration.String(), transcribed
 * from Go's src/time/format.go and time.go so edge cases match.
 */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

#define NS_US 1000ULL
#define NS_MS (1000 * NS_US)
#define NS_S (1000 * NS_MS)
#define NS_M (60 * NS_S)
#define NS_H (60 * NS_M)
#define NS_D (24 * NS_H)
#define NS_W (7 * NS_D)
#define BIT63 (1ULL << 63)

struct unit {
	const char *name;
	uint64_t ns;
};

static const struct unit go_units[] = {
	{ "ns", 1 },
	{ "us", NS_US },
	{ "\xc2\xb5s", NS_US },	/* U+00B5 micro sign */
	{ "\xce\xbcs", NS_US },	/* U+03BC Greek mu */
	{ "ms", NS_MS },
	{ "s", NS_S },
	{ "m", NS_M },
	{ "h", NS_H },
	{ NULL, 0 },
};

static const struct unit day_units[] = {
	{ "ns", 1 },
	{ "us", NS_US },
	{ "\xc2\xb5s", NS_US },
	{ "\xce\xbcs", NS_US },
	{ "ms", NS_MS },
	{ "s", NS_S },
	{ "m", NS_M },
	{ "h", NS_H },
	{ "d", NS_D },
	{ "w", NS_W },
	{ NULL, 0 },
};

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
fail_invalid(const char *orig, char *err, size_t errlen)
{
	snprintf(err, errlen, "time: invalid duration \"%s\"", orig);
	return -1;
}

/* Go's leadingInt: [0-9]*, failing on overflow past 1<<63. */
static int
leading_int(const char **sp, uint64_t *out)
{
	const char *s = *sp;
	uint64_t x = 0;

	for (; is_digit(*s); s++) {
		if (x > BIT63 / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > BIT63)
			return -1;
	}
	*sp = s;
	*out = x;
	return 0;
}

/* Go's leadingFraction: [0-9]*, silently dropping precision it cannot
 * hold. */
static void
leading_fraction(const char **sp, uint64_t *out, double *scale)
{
	const char *s = *sp;
	uint64_t x = 0, y;
	bool overflow = false;

	*scale = 1;
	for (; is_digit(*s); s++) {
		if (overflow)
			continue;
		if (x > (BIT63 - 1) / 10) {
			overflow = true;
			continue;
		}
		y = x * 10 + (uint64_t)(*s - '0');
		if (y > BIT63) {
			overflow = true;
			continue;
		}
		x = y;
		*scale *= 10;
	}
	*sp = s;
	*out = x;
}

static const struct unit *
find_unit(const struct unit *units, const char *u, size_t n)
{
	for (; units->name != NULL; units++)
		if (strlen(units->name) == n && memcmp(units->name, u, n) == 0)
			return units;
	return NULL;
}

static int
parse(const char *orig, const struct unit *units, int64_t *out, char *err,
    size_t errlen)
{
	const char *s = orig;
	uint64_t d = 0;
	bool neg = false;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (*s == '\0')
		return fail_invalid(orig, err, errlen);
	while (*s != '\0') {
		uint64_t v, f = 0;
		double scale = 1;
		const char *start, *u;
		const struct unit *unit;
		bool pre, post = false;

		if (!(*s == '.' || is_digit(*s)))
			return fail_invalid(orig, err, errlen);
		start = s;
		if (leading_int(&s, &v) < 0)
			return fail_invalid(orig, err, errlen);
		pre = s != start;
		if (*s == '.') {
			s++;
			start = s;
			leading_fraction(&s, &f, &scale);
			post = s != start;
		}
		if (!pre && !post)
			return fail_invalid(orig, err, errlen);
		u = s;
		while (*s != '\0' && *s != '.' && !is_digit(*s))
			s++;
		if (s == u) {
			snprintf(err, errlen,
			    "time: missing unit in duration \"%s\"", orig);
			return -1;
		}
		unit = find_unit(units, u, (size_t)(s - u));
		if (unit == NULL) {
			snprintf(err, errlen,
			    "time: unknown unit \"%.*s\" in duration \"%s\"",
			    (int)(s - u), u, orig);
			return -1;
		}
		if (v > BIT63 / unit->ns)
			return fail_invalid(orig, err, errlen);
		v *= unit->ns;
		if (f > 0) {
			/* float64 keeps fractions of the largest unit
			 * nanosecond-exact, as in Go. */
			v += (uint64_t)((double)f * ((double)unit->ns / scale));
			if (v > BIT63)
				return fail_invalid(orig, err, errlen);
		}
		d += v;
		if (d > BIT63)
			return fail_invalid(orig, err, errlen);
	}
	if (neg) {
		/* -(1<<63) is INT64_MIN, the one value only a minus reaches */
		*out = d == BIT63 ? INT64_MIN : -(int64_t)d;
		return 0;
	}
	if (d > BIT63 - 1)
		return fail_invalid(orig, err, errlen);
	*out = (int64_t)d;
	return 0;
}

int
duration_parse(const char *s, int64_t *ns, char *err, size_t errlen)
{
	return parse(s, go_units, ns, err, errlen);
}

int
duration_parse_days(const char *s, int64_t *ns, char *err, size_t errlen)
{
	return parse(s, day_units, ns, err, errlen);
}

int
duration_parse_seconds(const char *s, double *sec, char *err, size_t errlen)
{
	int64_t ns;

	if (parse(s, go_units, &ns, err, errlen) < 0)
		return -1;
	*sec = (double)ns / 1e9;
	return 0;
}

/* Go's fmtFrac: v / 10^prec's fraction without trailing zeros (and without
 * the point when it is zero), written backwards ending at w. */
static int
fmt_frac(char *buf, int w, uint64_t *v, int prec)
{
	bool print = false;
	int i;

	for (i = 0; i < prec; i++) {
		unsigned digit = (unsigned)(*v % 10);

		print = print || digit != 0;
		if (print)
			buf[--w] = (char)('0' + digit);
		*v /= 10;
	}
	if (print)
		buf[--w] = '.';
	return w;
}

static int
fmt_int(char *buf, int w, uint64_t v)
{
	if (v == 0)
		buf[--w] = '0';
	while (v > 0) {
		buf[--w] = (char)('0' + v % 10);
		v /= 10;
	}
	return w;
}

char *
duration_format(int64_t ns, char *buf)
{
	char tmp[DURATION_FMT_MAX];
	int w = (int)sizeof(tmp);
	bool neg = ns < 0;
	uint64_t u = neg ? 0 - (uint64_t)ns : (uint64_t)ns;

	if (u < NS_S) {
		int prec;

		tmp[--w] = 's';
		if (u == 0) {
			tmp[--w] = '0';
			goto done;
		} else if (u < NS_US) {
			prec = 0;
			tmp[--w] = 'n';
		} else if (u < NS_MS) {
			prec = 3;
			tmp[--w] = '\xb5';
			tmp[--w] = '\xc2';
		} else {
			prec = 6;
			tmp[--w] = 'm';
		}
		w = fmt_frac(tmp, w, &u, prec);
		w = fmt_int(tmp, w, u);
	} else {
		tmp[--w] = 's';
		w = fmt_frac(tmp, w, &u, 9);
		w = fmt_int(tmp, w, u % 60);
		u /= 60;
		if (u > 0) {
			tmp[--w] = 'm';
			w = fmt_int(tmp, w, u % 60);
			u /= 60;
			/* Stop at hours: days differ in length. */
			if (u > 0) {
				tmp[--w] = 'h';
				w = fmt_int(tmp, w, u);
			}
		}
	}
done:
	if (neg)
		tmp[--w] = '-';
	memcpy(buf, tmp + w, sizeof(tmp) - (size_t)w);
	buf[sizeof(tmp) - (size_t)w] = '\0';
	return buf;
}

char *
duration_format_seconds(double sec, char *buf)
{
	double ns = dbl_round(sec * 1e9);
	int64_t v;

	if (isnan(ns))
		v = 0;
	else if (ns >= 9223372036854775807.0)
		v = INT64_MAX;
	else if (ns <= -9223372036854775808.0)
		v = INT64_MIN;
	else
		v = (int64_t)ns;
	return duration_format(v, buf);
}
