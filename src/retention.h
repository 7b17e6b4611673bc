/*
 * retention.h - which of a schedule's backups retention deletes
 * (RetentionPolicy, api.md 4.19), decided without I/O.
 *
 * The rules are restic's "forget --keep-*", each counting on its own, and a
 * backup is kept when any rule keeps it:
 *   - only Completed backups are candidates; Failed, Running and any other
 *     state are always kept (RETENTION_NOT_COMPLETED);
 *   - keepLast N keeps the N newest completed backups;
 *   - keepHourly / Daily / Weekly / Monthly / Yearly N walk the completed
 *     backups newest first and keep the newest backup of each distinct
 *     local hour / day / ISO 8601 week (Monday to Sunday; 2020-W53 runs
 *     from 2020-12-28 to 2021-01-03) / month / year in the schedule's time
 *     zone, until N such buckets are taken. With fewer buckets than N each
 *     bucket's newest is kept and nothing more (newer restic also keeps the
 *     oldest backup then; this does not). Both passes of an hour repeated
 *     by a fall-back are one local hour;
 *   - when every keep count is 0 no rule is set and every backup is kept
 *     (RETENTION_NO_POLICY): an empty policy never deletes everything;
 *   - minAge: a completed backup less than min_age seconds old (now -
 *     completed_at < min_age, so also one stamped in the future) is kept
 *     (RETENTION_MIN_AGE) whatever the other rules say.
 * "Newest" orders by completed_at, then by id (strcmp; a NULL id sorts
 * before any string), then by position in the input: of two backups with
 * equal times the one with the larger id is the newer, and of two with
 * equal times and ids the later one in b[]. Only that last tie-break
 * depends on the input order.
 *
 * The time zone is a struct tz the caller loaded with tz_load() (cron.h),
 * the same zone the schedule's cron runs in; NULL is UTC.
 */
#ifndef DBP_RETENTION_H
#define DBP_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cron.h"
#include "util.h"

enum retention_state {
	RETENTION_COMPLETED,
	RETENTION_FAILED,
	RETENTION_RUNNING,
	RETENTION_OTHER,	/* Pending, "", anything else */
};

struct retention_backup {
	const char *id;		/* borrowed, may be NULL; e.g. the name */
	enum retention_state state;
	/* status.completedAt, or creationTimestamp when that is absent;
	 * unix seconds within +-2^62 */
	int64_t completed_at;
};

struct retention_policy {
	int32_t keep_last;
	int32_t keep_hourly;
	int32_t keep_daily;
	int32_t keep_weekly;
	int32_t keep_monthly;
	int32_t keep_yearly;
	int64_t min_age;	/* seconds, or -1 for none */
};

/* Why a backup is kept: a bitmask of these. */
enum {
	RETENTION_NOT_COMPLETED = 1u << 0,
	RETENTION_LAST = 1u << 1,
	RETENTION_HOURLY = 1u << 2,
	RETENTION_DAILY = 1u << 3,
	RETENTION_WEEKLY = 1u << 4,
	RETENTION_MONTHLY = 1u << 5,
	RETENTION_YEARLY = 1u << 6,
	RETENTION_MIN_AGE = 1u << 7,
	RETENTION_NO_POLICY = 1u << 8,
	RETENTION_REASON_ALL = (1u << 9) - 1,
};

struct retention_decision {
	bool keep;
	unsigned reasons;	/* RETENTION_* bits; 0 when !keep */
};

/*
 * Decides for each of the n backups b[i] into out[i] (the caller's array of
 * n). Allocates scratch space (freed before it returns; out of memory is
 * fatal as everywhere). Returns 0, or -1 when the policy is invalid (a
 * negative count, min_age < -1): out[] then keeps everything with reasons
 * 0, so a caller that ignores the error deletes nothing.
 */
int retention_plan(const struct retention_backup *b, size_t n,
    const struct retention_policy *p, const struct tz *zone, int64_t now,
    struct retention_decision *out) DBP_MUSTCHECK;

/* Longest retention_reasons() text, with the NUL. */
#define RETENTION_REASONS_MAX 128

/*
 * Writes the reasons as text for an event, e.g. "keepLast, keepDaily" or
 * "not completed", in the order of the bits above: "not completed",
 * "keepLast", "keepHourly", "keepDaily", "keepWeekly", "keepMonthly",
 * "keepYearly", "younger than minAge", "no keep rule"; "" for 0. Unknown
 * bits are ignored. Writes whole reasons only, as many as fit in len
 * (RETENTION_REASONS_MAX fits all); returns buf.
 */
char *retention_reasons(unsigned reasons, char *buf, size_t len);

#endif
