/*
 * api_schedule.h - DatabaseBackupSchedule (api.md §14): creates
 * DatabaseBackup objects on a cron schedule. Conventions in api.h.
 */
#ifndef DBP_API_SCHEDULE_H
#define DBP_API_SCHEDULE_H

#include "api.h"
#include "api_backup.h"

struct api_schedule_spec {
	char *schedule;			/* 5-field cron (cron.h), checked */
	char *timezone;			/* default "UTC" */
	bool paused;
	enum api_concurrency concurrency_policy;	/* default Forbid */
	struct {
		bool set;
		struct api_map labels;		/* metadata.labels */
		struct api_map annotations;	/* metadata.annotations */
		struct api_backup_spec spec;	/* same defaults as §12 */
	} template_;				/* "template" */
	struct api_retention retention;
	int32_t successful_backups_history_limit;	/* default 5, >= 0 */
	int32_t failed_backups_history_limit;		/* default 3, >= 0 */
};

struct api_schedule_recent {
	char *name;
	char *status;
};

struct api_schedule_status {
	enum api_phase phase;		/* Active, Paused */
	struct {
		bool set;
		char *name;
		char *status;		/* a DatabaseBackup phase */
		int64_t started_at;
		int64_t completed_at;
	} last_backup;
	int64_t next_backup_time;
	struct {
		bool set;
		int64_t total_backups;
		int64_t successful_backups;
		int64_t failed_backups;
		int64_t average_duration_seconds;
		int64_t average_size_bytes;
		int64_t total_storage_bytes;
	} statistics;
	struct api_schedule_recent *recent_backups;
	size_t n_recent_backups;
	struct api_conditions conditions;
};

struct api_schedule {
	struct api_meta meta;
	struct api_schedule_spec spec;
	struct api_schedule_status status;
};

/*
 * Parses a whole DatabaseBackupSchedule object into *out (need not be
 * initialised). spec.template.spec gets every rule of a DatabaseBackup
 * spec (api_backup.h), its references default to the schedule's
 * namespace. The cron expression must parse (cron_parse(), no @
 * descriptors) and the time zone must load (tz_load(), which reads a
 * zoneinfo file). Returns 0, or -1 with errors added to errs (may be NULL);
 * release *out either way.
 */
int api_schedule_parse(yajl_val obj, struct api_schedule *out,
    struct api_errs *errs);
void api_schedule_release(struct api_schedule *s);
/* Writes the status object (the value of "status"). */
void api_schedule_status_write(struct jw *w,
    const struct api_schedule_status *st);
/* The template's other-engine block must not be set. Returns 0, or -1
 * with errors added. */
int api_schedule_check_engine(const struct api_schedule *s,
    enum api_engine engine, struct api_errs *errs);

#endif
