/*
 * api_schedule.c - DatabaseBackupSchedule: parse, validate, release,
 * status.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_common.h"
#include "api_schedule.h"
#include "cron.h"

#define SCHEDULE_PHASES ((1u << API_PHASE_ACTIVE) | (1u << API_PHASE_PAUSED))

static void
parse_template(struct api_pc *pc, yajl_val spec, struct api_schedule_spec *s)
{
	yajl_val v = api_pc_object(pc, spec, "template", API_REQ), md, bs;
	size_t mark, m;

	if (v == NULL)
		return;
	s->template_.set = true;
	mark = api_pc_push(pc, "template");
	if ((md = api_pc_object(pc, v, "metadata", 0)) != NULL) {
		m = api_pc_push(pc, "metadata");
		api_pc_map(pc, md, "labels", &s->template_.labels);
		api_pc_map(pc, md, "annotations", &s->template_.annotations);
		api_pc_pop(pc, m);
	}
	if ((bs = api_pc_object(pc, v, "spec", API_REQ)) != NULL) {
		m = api_pc_push(pc, "spec");
		api_pc_backup_spec(pc, bs, &s->template_.spec);
		api_pc_pop(pc, m);
	}
	api_pc_pop(pc, mark);
}

/*
 * behavior.md §1.8 steps 2-3: the zone must load and the cron must parse
 * (5 fields; the original's parser takes no @ descriptors; a TZ= prefix
 * names a zone that must load too).
 */
static void
check_schedule(struct api_pc *pc, const struct api_schedule_spec *s)
{
	struct cron c;
	struct tz z;
	char err[256];

	if (s->timezone != NULL) {
		if (tz_load(s->timezone, &z, err, sizeof(err)) != 0)
			api_pc_err(pc, "timezone", "%s", err);
		else
			tz_release(&z);
	}
	if (s->schedule == NULL || s->schedule[0] == '\0')
		return;
	if (cron_parse(s->schedule, &c, err, sizeof(err)) != 0) {
		api_pc_err(pc, "schedule", "%s", err);
		return;
	}
	if (c.descriptor) {
		api_pc_err(pc, "schedule", "descriptors such as @daily are "
		    "not accepted; use 5 fields");
		return;
	}
	if (c.tz[0] != '\0') {
		if (tz_load(c.tz, &z, err, sizeof(err)) != 0)
			api_pc_err(pc, "schedule", "%s", err);
		else
			tz_release(&z);
	}
}

static void
parse_spec(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_schedule_spec *s = out;
	size_t mark = api_pc_push(pc, "spec");

	api_pc_string(pc, v, "schedule", &s->schedule, NULL,
	    API_REQ | API_NONEMPTY);
	api_pc_string(pc, v, "timezone", &s->timezone, "UTC", 0);
	check_schedule(pc, s);
	api_pc_bool(pc, v, "paused", &s->paused, false);
	s->concurrency_policy = api_pc_enum(pc, v, "concurrencyPolicy",
	    api_concurrency_names, API_CONCURRENCY__COUNT,
	    API_CONCURRENCY_FORBID, 0);
	parse_template(pc, v, s);
	api_pc_retention(pc, v, "retention", &s->retention);
	api_pc_int32(pc, v, "successfulBackupsHistoryLimit",
	    &s->successful_backups_history_limit, 5, 0, INT32_MAX, 0);
	api_pc_int32(pc, v, "failedBackupsHistoryLimit",
	    &s->failed_backups_history_limit, 3, 0, INT32_MAX, 0);
	api_pc_pop(pc, mark);
}

static void
parse_recent(struct api_pc *pc, yajl_val v, void *arg)
{
	struct api_schedule_recent *r = arg;

	api_pc_string(pc, v, "name", &r->name, NULL, 0);
	api_pc_string(pc, v, "status", &r->status, NULL, 0);
}

static void
parse_status(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_schedule_status *st = out;
	size_t mark = api_pc_push(pc, "status"), m;
	yajl_val b;

	st->phase = api_pc_phase(pc, v, "phase", SCHEDULE_PHASES);
	if ((b = api_pc_object(pc, v, "lastBackup", 0)) != NULL) {
		m = api_pc_push(pc, "lastBackup");
		st->last_backup.set = true;
		api_pc_string(pc, b, "name", &st->last_backup.name, NULL, 0);
		api_pc_string(pc, b, "status", &st->last_backup.status, NULL, 0);
		api_pc_time(pc, b, "startedAt", &st->last_backup.started_at, 0);
		api_pc_time(pc, b, "completedAt", &st->last_backup.completed_at,
		    0);
		api_pc_pop(pc, m);
	}
	api_pc_time(pc, v, "nextBackupTime", &st->next_backup_time, 0);
	if ((b = api_pc_object(pc, v, "statistics", 0)) != NULL) {
		m = api_pc_push(pc, "statistics");
		st->statistics.set = true;
		api_pc_int64(pc, b, "totalBackups",
		    &st->statistics.total_backups, 0, INT64_MIN, 0);
		api_pc_int64(pc, b, "successfulBackups",
		    &st->statistics.successful_backups, 0, INT64_MIN, 0);
		api_pc_int64(pc, b, "failedBackups",
		    &st->statistics.failed_backups, 0, INT64_MIN, 0);
		api_pc_int64(pc, b, "averageDurationSeconds",
		    &st->statistics.average_duration_seconds, 0, INT64_MIN, 0);
		api_pc_int64(pc, b, "averageSizeBytes",
		    &st->statistics.average_size_bytes, 0, INT64_MIN, 0);
		api_pc_int64(pc, b, "totalStorageBytes",
		    &st->statistics.total_storage_bytes, 0, INT64_MIN, 0);
		api_pc_pop(pc, m);
	}
	st->recent_backups = api_pc_objects(pc, v, "recentBackups",
	    sizeof(*st->recent_backups), parse_recent, &st->n_recent_backups,
	    0);
	api_pc_conditions(pc, v, "conditions", &st->conditions);
	api_pc_pop(pc, mark);
}

int
api_schedule_parse(yajl_val obj, struct api_schedule *out,
    struct api_errs *errs)
{
	memset(out, 0, sizeof(*out));
	return api_pc_envelope(obj, API_SCHEDULE, errs, &out->meta, parse_spec,
	    &out->spec, parse_status, &out->status);
}

void
api_schedule_release(struct api_schedule *s)
{
	struct api_schedule_status *st = &s->status;
	size_t i;

	api_meta_release(&s->meta);
	free(s->spec.schedule);
	free(s->spec.timezone);
	api_map_release(&s->spec.template_.labels);
	api_map_release(&s->spec.template_.annotations);
	api_backup_spec_release(&s->spec.template_.spec);
	api_retention_release(&s->spec.retention);
	free(st->last_backup.name);
	free(st->last_backup.status);
	for (i = 0; i < st->n_recent_backups; i++) {
		free(st->recent_backups[i].name);
		free(st->recent_backups[i].status);
	}
	free(st->recent_backups);
	api_conditions_release(&st->conditions);
	memset(s, 0, sizeof(*s));
}

void
api_schedule_status_write(struct jw *w, const struct api_schedule_status *st)
{
	size_t i;

	jw_obj_open(w);
	api_w_enum(w, "phase", api_phase_names, st->phase);
	if (st->last_backup.set) {
		jw_key(w, "lastBackup");
		jw_obj_open(w);
		api_w_str(w, "name", st->last_backup.name);
		api_w_str(w, "status", st->last_backup.status);
		api_w_time(w, "startedAt", st->last_backup.started_at);
		api_w_time(w, "completedAt", st->last_backup.completed_at);
		jw_obj_close(w);
	}
	api_w_time(w, "nextBackupTime", st->next_backup_time);
	if (st->statistics.set) {
		jw_key(w, "statistics");
		jw_obj_open(w);
		api_w_int(w, "totalBackups", st->statistics.total_backups);
		api_w_int(w, "successfulBackups",
		    st->statistics.successful_backups);
		api_w_int(w, "failedBackups", st->statistics.failed_backups);
		api_w_int(w, "averageDurationSeconds",
		    st->statistics.average_duration_seconds);
		api_w_int(w, "averageSizeBytes",
		    st->statistics.average_size_bytes);
		api_w_int(w, "totalStorageBytes",
		    st->statistics.total_storage_bytes);
		jw_obj_close(w);
	}
	if (st->n_recent_backups) {
		jw_key(w, "recentBackups");
		jw_arr_open(w);
		for (i = 0; i < st->n_recent_backups; i++) {
			jw_obj_open(w);
			api_w_str(w, "name", st->recent_backups[i].name);
			api_w_str(w, "status", st->recent_backups[i].status);
			jw_obj_close(w);
		}
		jw_arr_close(w);
	}
	api_conditions_write(w, &st->conditions);
	jw_obj_close(w);
}

int
api_schedule_check_engine(const struct api_schedule *s,
    enum api_engine engine, struct api_errs *errs)
{
	struct api_pc pc;

	api_pc_init(&pc, errs);
	api_pc_engine_blocks(&pc, "spec.template.spec",
	    s->spec.template_.spec.postgres.set,
	    s->spec.template_.spec.mysql.set, engine);
	return pc.nerr ? -1 : 0;
}
