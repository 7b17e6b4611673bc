/*
 * schedtime.h - when a DatabaseBackupSchedule runs: the next run, the runs
 * missed while the operator was away, the name of the backup a run creates,
 * and local calendar time in a zone (shared with retention.c).
 *
 * Everything here is pure: times come in as unix seconds, the cron is
 * parsed (cron_parse) and the zone loaded (tz_load) by the caller, nothing
 * reads the clock, the environment or TZ, and nothing returns memory for
 * the caller to free.
 *
 * The reference time of a schedule is max(creationTimestamp,
 * status.lastBackup.startedAt): a run is due at each cron time strictly
 * after it. So a new schedule makes its first backup at the first cron time
 * after it was created (the original never did), and a backup started late
 * (at 02:00:07 for the 02:00 run) does not run again for 02:00.
 *
 * DST follows cron.h (cron_next): a wall time skipped by a spring-forward
 * does not fire that day; a repeated one fires once, at its first
 * occurrence, when the hour field is restricted, and in both passes when
 * the hour is "*" (the job then follows elapsed time).
 */
#ifndef DBP_SCHEDTIME_H
#define DBP_SCHEDTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cron.h"
#include "util.h"

/* Local calendar time of an instant in a zone. */
struct schedtime_tm {
	int64_t year;		/* proleptic Gregorian, may be <= 0 */
	int mon;		/* 1..12 */
	int mday;		/* 1..31 */
	int hour, min, sec;
	int wday;		/* 0 = Sunday .. 6 */
	int yday;		/* 0..365 */
	int64_t iso_year;	/* ISO 8601 week-numbering year */
	int iso_week;		/* 1..53, weeks start on Monday */
	int32_t off;		/* seconds east of UTC */
	int64_t days;		/* local days since 1970-01-01 */
};

/* Breaks t down in zone (NULL: UTC). t must be within +-2^62 (any real
 * date is). */
void schedtime_local(const struct tz *zone, int64_t t,
    struct schedtime_tm *out);

/* max(created, last_started); pass INT64_MIN for a time that is absent. */
int64_t schedtime_reference(int64_t created, int64_t last_started);

/*
 * The next run: the first cron time in zone (NULL: UTC) strictly after
 * reference. A TZ=/CRON_TZ= prefix in the expression is the caller's to
 * load and pass as zone. Returns 0, or -1 when the cron never fires within
 * cron_next()'s horizon (five years; "0 0 30 2 *").
 */
int schedtime_next(const struct cron *c, const struct tz *zone,
    int64_t reference, int64_t *next) DBP_MUSTCHECK;

/* Forward steps schedtime_missed() takes before it stops counting. */
#define SCHEDTIME_SCAN_MAX 100000

struct schedtime_missed {
	/* cron times in (reference, now]; when capped the true number is
	 * larger ("at least count") */
	int64_t count;
	bool capped;
	int64_t latest;		/* the latest of them (count > 0) */
	/* the first cron time after latest (count > 0: the first one after
	 * now) or after reference (count == 0); has_next is false when the
	 * cron does not fire again within cron_next()'s horizon */
	bool has_next;
	int64_t next;
	/* next - latest (count > 0 and has_next), else 0 */
	int64_t period;
	/*
	 * A catch-up run is due now: count > 0 and now - latest < deadline.
	 * With the default deadline (one period) this holds whenever a run
	 * was missed, since latest is the last cron time <= now and next is
	 * after now; without a next run the period is unbounded and it holds
	 * too. Either way a schedule that missed any number of runs makes one
	 * backup, never one per missed run.
	 */
	bool catch_up;
};

/*
 * Counts the runs missed in (reference, now] (see the struct). deadline is
 * how old the latest missed run may be and still be caught up, in seconds
 * (CronJob's startingDeadlineSeconds); deadline < 0 means one period, and
 * 0 means never. Bounded: at most SCHEDTIME_SCAN_MAX forward steps to
 * count, then a binary search (about 64 steps) for the latest run, so
 * "* * * * *" missed for a year costs a few milliseconds. Each step is one
 * cron_next(). Always succeeds (reference >= now gives count 0).
 */
void schedtime_missed(const struct cron *c, const struct tz *zone,
    int64_t reference, int64_t now, int64_t deadline,
    struct schedtime_missed *out);

/*
 * Kubernetes object names are DNS subdomains of at most 253 characters:
 * lower-case alphanumerics, '-' and '.', each dot-separated label starting
 * and ending with an alphanumeric.
 */
#define SCHEDTIME_NAME_MAX 253
#define SCHEDTIME_SUFFIX_LEN 16	/* "-YYYYMMDD-HHMMSS" */
#define SCHEDTIME_HASH_LEN 8	/* hex digits of SHA-256(schedule) */

/*
 * The name of the backup that the run at unix time run creates:
 * "<schedule>-<YYYYMMDD-HHMMSS>", the time in UTC. Naming by the run time,
 * not the clock, makes a retried creation hit AlreadyExists instead of
 * making a second backup. When schedule is longer than
 * SCHEDTIME_NAME_MAX - SCHEDTIME_SUFFIX_LEN (237) characters the name is
 * "<first 228 characters>-<8 hex of SHA-256(schedule)>-<YYYYMMDD-HHMMSS>",
 * with any '-' or '.' at the end of the cut removed (a label may not end
 * with them): the same schedule always gets the same prefix, and two long
 * schedules that share their first 228 characters still differ.
 *
 * Writes into buf (len >= SCHEDTIME_NAME_MAX + 1). Returns 0, or -1 (buf
 * is then "") when the year of run is outside 0000..9999, buf is too
 * small, or schedule is empty or NULL. schedule is used as it is: it is
 * already a valid object name.
 */
int schedtime_backup_name(const char *schedule, int64_t run, char *buf,
    size_t len) DBP_MUSTCHECK;

#endif
