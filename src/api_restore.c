/*
 * api_restore.c - DatabaseRestore: parse, validate, release, status.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_common.h"
#include "api_restore.h"

#define RESTORE_PHASES ((1u << API_PHASE_PENDING) | \
	(1u << API_PHASE_RUNNING) | (1u << API_PHASE_COMPLETED) | \
	(1u << API_PHASE_FAILED))

static void
parse_postgres(struct api_pc *pc, yajl_val spec, struct api_pg_restore *pg)
{
	yajl_val v = api_pc_object(pc, spec, "postgres", 0);
	size_t mark;

	if (v == NULL)
		return;
	pg->set = true;
	mark = api_pc_push(pc, "postgres");
	api_pc_bool(pc, v, "dropExisting", &pg->drop_existing, false);
	api_pc_bool(pc, v, "createDatabase", &pg->create_database, true);
	api_pc_bool(pc, v, "dataOnly", &pg->data_only, false);
	api_pc_bool(pc, v, "schemaOnly", &pg->schema_only, false);
	api_pc_bool(pc, v, "noOwner", &pg->no_owner, true);
	api_pc_bool(pc, v, "noPrivileges", &pg->no_privileges, false);
	api_pc_map(pc, v, "roleMapping", &pg->role_mapping);
	api_pc_strv(pc, v, "schemas", &pg->schemas, 0, 0);
	api_pc_strv(pc, v, "tables", &pg->tables, 0, 0);
	api_pc_int32(pc, v, "jobs", &pg->jobs, 1, 1, INT32_MAX, 0);
	api_pc_bool(pc, v, "disableTriggers", &pg->disable_triggers, false);
	api_pc_bool(pc, v, "analyze", &pg->analyze, true);
	if (pg->data_only && pg->schema_only)
		api_pc_err(pc, "schemaOnly", "must not be true together with "
		    "dataOnly");
	api_pc_pop(pc, mark);
}

static void
parse_mysql(struct api_pc *pc, yajl_val spec, struct api_my_restore *my)
{
	yajl_val v = api_pc_object(pc, spec, "mysql", 0);
	size_t mark;

	if (v == NULL)
		return;
	my->set = true;
	mark = api_pc_push(pc, "mysql");
	api_pc_bool(pc, v, "dropExisting", &my->drop_existing, false);
	api_pc_bool(pc, v, "createDatabase", &my->create_database, true);
	api_pc_bool(pc, v, "routines", &my->routines, true);
	api_pc_bool(pc, v, "triggers", &my->triggers, true);
	api_pc_bool(pc, v, "events", &my->events, true);
	api_pc_bool(pc, v, "disableForeignKeyChecks",
	    &my->disable_foreign_key_checks, true);
	api_pc_bool(pc, v, "disableBinlog", &my->disable_binlog, true);
	api_pc_pop(pc, mark);
}

static void
parse_from_path(struct api_pc *pc, yajl_val spec, struct api_restore_spec *s)
{
	yajl_val v = api_pc_object(pc, spec, "fromPath", 0);
	size_t mark;

	if (v == NULL)
		return;
	s->from_path.set = true;
	mark = api_pc_push(pc, "fromPath");
	api_pc_storage(pc, v, "storage", &s->from_path.storage, API_REQ);
	api_pc_string(pc, v, "backupPath", &s->from_path.backup_path, NULL,
	    API_REQ | API_NONEMPTY);
	api_pc_compression(pc, v, "compression", &s->from_path.compression);
	api_pc_encryption(pc, v, "encryption", &s->from_path.encryption);
	api_pc_pop(pc, mark);
}

static void
parse_target(struct api_pc *pc, yajl_val spec, struct api_restore_spec *s)
{
	yajl_val v = api_pc_object(pc, spec, "target", API_REQ);
	size_t mark;

	if (v == NULL)
		return;
	s->target.set = true;
	mark = api_pc_push(pc, "target");
	api_pc_ref(pc, v, "instanceRef", &s->target.instance, 0);
	api_pc_ident(pc, v, "databaseName", &s->target.database_name, 0);
	api_pc_bool(pc, v, "inPlace", &s->target.in_place, false);
	api_pc_ref(pc, v, "databaseRef", &s->target.database, 0);
	api_pc_pop(pc, mark);
}

/* The controller's spec checks (behavior.md §1.7 steps 5, 6, 8), done
 * before anything runs. */
static void
check_spec(struct api_pc *pc, const struct api_restore_spec *s)
{
	if (!s->backup.set && !s->from_path.set)
		api_pc_err(pc, "backupRef", "either backupRef or fromPath is "
		    "required");
	else if (s->backup.set && s->from_path.set)
		api_pc_err(pc, "fromPath", "must not be set together with "
		    "backupRef");
	if (!s->target.set)
		return;
	if (s->target.in_place) {
		const char *ack = s->confirmation.acknowledge_data_loss;

		if (!streq(ack, API_DATA_LOSS_ACK))
			api_pc_err(pc, "confirmation.acknowledgeDataLoss",
			    "must be %s when target.inPlace is true",
			    API_DATA_LOSS_ACK);
		if (!s->target.database.set && !s->target.instance.set)
			api_pc_err(pc, "target.databaseRef", "is required when "
			    "target.inPlace is true (or target.instanceRef)");
	} else {
		if (s->target.database.set)
			api_pc_err(pc, "target.databaseRef", "requires "
			    "target.inPlace: true (an in-place restore)");
		if (!s->target.instance.set)
			api_pc_err(pc, "target.instanceRef", "is required "
			    "unless target.inPlace is true");
	}
	if (s->from_path.set && !s->backup.set && s->target.instance.set &&
	    !(s->target.in_place && s->target.database.set) &&
	    (s->target.database_name == NULL ||
	    s->target.database_name[0] == '\0'))
		api_pc_err(pc, "target.databaseName", "is required when "
		    "restoring fromPath into target.instanceRef");
}

static void
parse_spec(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_restore_spec *s = out;
	size_t mark = api_pc_push(pc, "spec"), m;
	yajl_val c;

	api_pc_ref(pc, v, "backupRef", &s->backup, 0);
	parse_from_path(pc, v, s);
	parse_target(pc, v, s);
	if ((c = api_pc_object(pc, v, "confirmation", 0)) != NULL) {
		m = api_pc_push(pc, "confirmation");
		s->confirmation.set = true;
		api_pc_string(pc, c, "acknowledgeDataLoss",
		    &s->confirmation.acknowledge_data_loss, NULL, 0);
		api_pc_pop(pc, m);
	}
	api_pc_int64(pc, v, "activeDeadlineSeconds",
	    &s->active_deadline_seconds, 7200, 1, 0);
	parse_postgres(pc, v, &s->postgres);
	parse_mysql(pc, v, &s->mysql);
	check_spec(pc, s);
	api_pc_pop(pc, mark);
}

static void
parse_status(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_restore_status *st = out;
	size_t mark = api_pc_push(pc, "status"), m;
	yajl_val b;

	st->phase = api_pc_phase(pc, v, "phase", RESTORE_PHASES);
	api_pc_time(pc, v, "startedAt", &st->started_at, 0);
	api_pc_time(pc, v, "completedAt", &st->completed_at, 0);
	api_pc_string(pc, v, "message", &st->message, NULL, 0);
	if ((b = api_pc_object(pc, v, "restore", 0)) != NULL) {
		m = api_pc_push(pc, "restore");
		st->restore.set = true;
		api_pc_string(pc, b, "sourceBackup", &st->restore.source_backup,
		    NULL, 0);
		api_pc_string(pc, b, "targetInstance",
		    &st->restore.target_instance, NULL, 0);
		api_pc_string(pc, b, "targetDatabase",
		    &st->restore.target_database, NULL, 0);
		api_pc_pop(pc, m);
	}
	if ((b = api_pc_object(pc, v, "progress", 0)) != NULL) {
		m = api_pc_push(pc, "progress");
		st->progress.set = true;
		api_pc_int32(pc, b, "percentage", &st->progress.percentage, 0,
		    INT32_MIN, INT32_MAX, 0);
		api_pc_string(pc, b, "currentPhase", &st->progress.current_phase,
		    NULL, 0);
		api_pc_int32(pc, b, "tablesRestored",
		    &st->progress.tables_restored, 0, INT32_MIN, INT32_MAX, 0);
		api_pc_int32(pc, b, "tablesTotal", &st->progress.tables_total,
		    0, INT32_MIN, INT32_MAX, 0);
		api_pc_pop(pc, m);
	}
	api_pc_strv(pc, v, "warnings", &st->warnings, 0, 0);
	api_pc_conditions(pc, v, "conditions", &st->conditions);
	api_pc_pop(pc, mark);
}

int
api_restore_parse(yajl_val obj, struct api_restore *out,
    struct api_errs *errs)
{
	memset(out, 0, sizeof(*out));
	return api_pc_envelope(obj, API_RESTORE, errs, &out->meta, parse_spec,
	    &out->spec, parse_status, &out->status);
}

void
api_restore_release(struct api_restore *r)
{
	struct api_restore_spec *s = &r->spec;
	struct api_restore_status *st = &r->status;

	api_meta_release(&r->meta);
	api_ref_release(&s->backup);
	api_storage_release(&s->from_path.storage);
	free(s->from_path.backup_path);
	api_encryption_release(&s->from_path.encryption);
	api_ref_release(&s->target.instance);
	free(s->target.database_name);
	api_ref_release(&s->target.database);
	free(s->confirmation.acknowledge_data_loss);
	api_map_release(&s->postgres.role_mapping);
	api_strv_release(&s->postgres.schemas);
	api_strv_release(&s->postgres.tables);
	free(st->message);
	free(st->restore.source_backup);
	free(st->restore.target_instance);
	free(st->restore.target_database);
	free(st->progress.current_phase);
	api_strv_release(&st->warnings);
	api_conditions_release(&st->conditions);
	memset(r, 0, sizeof(*r));
}

void
api_restore_status_write(struct jw *w, const struct api_restore_status *st)
{
	jw_obj_open(w);
	api_w_enum(w, "phase", api_phase_names, st->phase);
	api_w_time(w, "startedAt", st->started_at);
	api_w_time(w, "completedAt", st->completed_at);
	api_w_str(w, "message", st->message);
	if (st->restore.set) {
		jw_key(w, "restore");
		jw_obj_open(w);
		api_w_str(w, "sourceBackup", st->restore.source_backup);
		api_w_str(w, "targetInstance", st->restore.target_instance);
		api_w_str(w, "targetDatabase", st->restore.target_database);
		jw_obj_close(w);
	}
	if (st->progress.set) {
		jw_key(w, "progress");
		jw_obj_open(w);
		api_w_int(w, "percentage", st->progress.percentage);
		api_w_str(w, "currentPhase", st->progress.current_phase);
		api_w_int(w, "tablesRestored", st->progress.tables_restored);
		api_w_int(w, "tablesTotal", st->progress.tables_total);
		jw_obj_close(w);
	}
	api_w_strv(w, "warnings", &st->warnings);
	api_conditions_write(w, &st->conditions);
	jw_obj_close(w);
}

int
api_restore_check_engine(const struct api_restore *r, enum api_engine engine,
    struct api_errs *errs)
{
	struct api_pc pc;

	api_pc_init(&pc, errs);
	api_pc_engine_blocks(&pc, "spec", r->spec.postgres.set,
	    r->spec.mysql.set, engine);
	return pc.nerr ? -1 : 0;
}
