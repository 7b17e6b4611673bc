/*
 * cron.h - cron expressions as robfig/cron v3's standard parser reads them,
 * next fire times in an IANA time zone, and the time zones themselves
 * (TZif files read directly; the process's TZ is never touched).
 *
 * Syntax (cron_parse): an optional "TZ=<zone> " or "CRON_TZ=<zone> " prefix,
 * then either 5 fields "minute hour day-of-month month day-of-week" or a
 * descriptor: @yearly/@annually, @monthly, @weekly, @daily/@midnight,
 * @hourly, "@every <Go duration>". A field is a comma list of "*" or "?",
 * "a", "a-b", each optionally "/step"; "a/step" means "a-max/step". Months
 * JAN-DEC and weekdays SUN-SAT are accepted in any case; weekdays are 0-6
 * (7 is refused, as robfig refuses it). When day-of-month and day-of-week
 * are both restricted a day matches if either matches; a field counts as
 * unrestricted when it is "*" or "?" (also "*\/1"), as in robfig.
 *
 * Time zones (cron_next): the cron fires at each real instant whose local
 * wall-clock minute matches, with two DST rules:
 *   - a wall time skipped by a spring-forward does not fire that day (as
 *     robfig: "30 2 * * *" in Europe/Berlin skips the last Sunday of March);
 *   - a wall time repeated by a fall-back fires once, at its first
 *     occurrence, when the hour field is restricted ("30 1 * * *" in New
 *     York fires at 01:30 EDT only; robfig fires twice). With hour "*" the
 *     job follows elapsed time and fires in both passes ("0 * * * *" fires
 *     at 01:00 EDT and 01:00 EST), as Vixie cron does.
 *
 * Nothing here keeps global state. Errors go to a caller buffer (err may be
 * NULL when errlen is 0) as one line naming the field.
 */
#ifndef DBP_CRON_H
#define DBP_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define TZ_NAME_MAX 256

struct tz_rule {		/* POSIX "Mm.w.d/time" */
	int m, w, d;
	int32_t secs;		/* local time of day, may be < 0 or > 24 h */
};

/*
 * A loaded zone. Owns at[] and off[]; release with tz_release(). A zeroed
 * struct (or tz_utc()) is UTC.
 */
struct tz {
	char name[TZ_NAME_MAX];
	size_t n;		/* transitions */
	int64_t *at;		/* n transition instants, ascending */
	int32_t *off;		/* offset (s east of UTC) from at[i] on */
	int32_t off0;		/* offset before at[0] (or always, n == 0) */
	bool footer;		/* rule below applies from at[n-1] on */
	bool dst;		/* the footer has a DST part */
	int32_t std_off, dst_off;
	struct tz_rule start, end;	/* DST starts / ends (footer) */
};

/* Sets *z to UTC (no allocation). */
void tz_utc(struct tz *z);
/*
 * Loads the zone called name: "" , "UTC" and "Local" (the image's local
 * time is UTC) are built in, others are read from $DBPROVD_ZONEINFO or
 * /usr/share/zoneinfo. The name must match [A-Za-z0-9_+/-]+ without ".."
 * or a leading '/'. The file is untrusted: every length is checked, and a
 * footer rule this code cannot evaluate is an error. Returns 0, or -1 with
 * a message (*out is then UTC and needs no release).
 */
int tz_load(const char *name, struct tz *out, char *err, size_t errlen)
    DBP_MUSTCHECK;
void tz_release(struct tz *z);
/* Offset in seconds east of UTC at unix time t. z NULL is UTC. */
int32_t tz_offset(const struct tz *z, int64_t t);
/* Same, plus the span [*from, *until) around t that has this offset;
 * INT64_MIN / INT64_MAX for open ends. */
int32_t tz_span(const struct tz *z, int64_t t, int64_t *from,
    int64_t *until);
/*
 * The instants whose wall-clock time is `local` (seconds since the epoch
 * read as local time): returns 0 (skipped by a spring-forward), 1, or 2
 * (repeated by a fall-back), in out[] earliest first.
 */
int tz_local_to_utc(const struct tz *z, int64_t local, int64_t out[2]);

struct cron {
	uint64_t minute;	/* bit i: minute i */
	uint32_t hour;		/* bit i: hour i */
	uint32_t dom;		/* bits 1..31 */
	uint16_t month;		/* bits 1..12 */
	uint8_t dow;		/* bits 0..6, 0 = Sunday */
	bool hour_star, dom_star, dow_star;
	bool descriptor;	/* written as an @ descriptor */
	int64_t every;		/* @every: seconds (>= 1); fields unused */
	char tz[TZ_NAME_MAX];	/* TZ=/CRON_TZ= prefix, "" if none; the
				 * caller loads it (it overrides its zone) */
};

/*
 * Proleptic Gregorian calendar arithmetic (Howard Hinnant's algorithms),
 * for the schedule and retention code too: floor division, days since
 * 1970-01-01 of a date, and the date of such a day.
 */
int64_t cron_floordiv(int64_t a, int64_t b);
int64_t cron_days_from_civil(int64_t y, int m, int d);
void cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d);

/* Parses expr into *out. Returns 0, or -1 with a one-line message such as
 * "minute: value 61 out of range 0-59". */
int cron_parse(const char *expr, struct cron *out, char *err, size_t errlen)
    DBP_MUSTCHECK;
/*
 * Next fire time strictly after after_unix, in zone (NULL: UTC); @every
 * ignores the zone and returns after + interval. Like robfig, gives up
 * after five years ("0 0 30 2 *"). Returns 0, or -1 when nothing fires.
 */
int cron_next(const struct cron *c, const struct tz *zone, int64_t after_unix,
    int64_t *next_unix) DBP_MUSTCHECK;

#endif
