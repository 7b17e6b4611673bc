/*
 * api_backup.c - DatabaseBackup: parse, validate, release, status.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_backup.h"
#include "api_common.h"
#include "duration.h"

#define BACKUP_PHASES ((1u << API_PHASE_PENDING) | (1u << API_PHASE_RUNNING) | \
	(1u << API_PHASE_COMPLETED) | (1u << API_PHASE_FAILED))

static void
parse_postgres(struct api_pc *pc, yajl_val spec, struct api_pg_backup *pg)
{
	yajl_val v = api_pc_object(pc, spec, "postgres", 0);
	size_t mark;

	if (v == NULL)
		return;
	pg->set = true;
	mark = api_pc_push(pc, "postgres");
	pg->method = api_pc_enum(pc, v, "method", api_pg_backup_method_names,
	    API_PG_METHOD__COUNT, API_PG_METHOD_PG_DUMP, 0);
	pg->format = api_pc_enum(pc, v, "format", api_pg_dump_format_names,
	    API_PG_FORMAT__COUNT, API_PG_FORMAT_CUSTOM, 0);
	api_pc_int32(pc, v, "jobs", &pg->jobs, 1, 1, INT32_MAX, 0);
	api_pc_bool(pc, v, "dataOnly", &pg->data_only, false);
	api_pc_bool(pc, v, "schemaOnly", &pg->schema_only, false);
	api_pc_bool(pc, v, "blobs", &pg->blobs, true);
	api_pc_bool(pc, v, "noOwner", &pg->no_owner, false);
	api_pc_bool(pc, v, "noPrivileges", &pg->no_privileges, false);
	api_pc_strv(pc, v, "schemas", &pg->schemas, 0, 0);
	api_pc_strv(pc, v, "excludeSchemas", &pg->exclude_schemas, 0, 0);
	api_pc_strv(pc, v, "tables", &pg->tables, 0, 0);
	api_pc_strv(pc, v, "excludeTables", &pg->exclude_tables, 0, 0);
	api_pc_string(pc, v, "lockWaitTimeout", &pg->lock_wait_timeout, "60s",
	    0);
	api_pc_bool(pc, v, "noSync", &pg->no_sync, false);

	if (pg->method == API_PG_METHOD_PG_BASEBACKUP)
		api_pc_err(pc, "method", "pg_basebackup is not supported (a "
		    "physical backup cannot hold one database); use pg_dump");
	if (pg->data_only && pg->schema_only)
		api_pc_err(pc, "schemaOnly", "must not be true together with "
		    "dataOnly");
	if (pg->jobs > 1 && pg->format != API_PG_FORMAT_NONE &&
	    pg->format != API_PG_FORMAT_DIRECTORY)
		api_pc_err(pc, "jobs", "must be 1 unless format is directory "
		    "(pg_dump -j needs it)");
	api_pc_pop(pc, mark);
}

static void
parse_mysql(struct api_pc *pc, yajl_val spec, struct api_my_backup *my)
{
	yajl_val v = api_pc_object(pc, spec, "mysql", 0);
	size_t mark;

	if (v == NULL)
		return;
	my->set = true;
	mark = api_pc_push(pc, "mysql");
	my->method = api_pc_enum(pc, v, "method", api_my_backup_method_names,
	    API_MY_METHOD__COUNT, API_MY_METHOD_MYSQLDUMP, 0);
	api_pc_bool(pc, v, "singleTransaction", &my->single_transaction, true);
	api_pc_bool(pc, v, "quick", &my->quick, true);
	api_pc_bool(pc, v, "lockTables", &my->lock_tables, false);
	api_pc_bool(pc, v, "routines", &my->routines, true);
	api_pc_bool(pc, v, "triggers", &my->triggers, true);
	api_pc_bool(pc, v, "events", &my->events, true);
	api_pc_bool(pc, v, "extendedInsert", &my->extended_insert, true);
	my->set_gtid_purged = api_pc_enum(pc, v, "setGtidPurged",
	    api_my_gtid_purged_names, API_MY_GTID__COUNT, API_MY_GTID_AUTO, 0);
	api_pc_strv(pc, v, "databases", &my->databases, 0, 0);
	api_pc_strv(pc, v, "tables", &my->tables, 0, 0);
	api_pc_strv(pc, v, "excludeTables", &my->exclude_tables, 0, 0);

	if (my->method == API_MY_METHOD_XTRABACKUP ||
	    my->method == API_MY_METHOD_MYSQLPUMP)
		api_pc_err(pc, "method", "%s is not supported; use mysqldump",
		    api_my_backup_method_names[my->method]);
	api_pc_pop(pc, mark);
}

void
api_pc_backup_spec(struct api_pc *pc, yajl_val v, struct api_backup_spec *s)
{
	int64_t ns;

	api_pc_ref(pc, v, "databaseRef", &s->database, API_REQ);
	api_pc_storage(pc, v, "storage", &s->storage, API_REQ);
	api_pc_compression(pc, v, "compression", &s->compression);
	api_pc_encryption(pc, v, "encryption", &s->encryption);
	if (api_pc_duration(pc, v, "ttl", &s->ttl, NULL, 0) &&
	    duration_parse(s->ttl, &ns, NULL, 0) == 0 && ns < 0)
		api_pc_err(pc, "ttl", "must not be negative");
	api_pc_int64(pc, v, "activeDeadlineSeconds",
	    &s->active_deadline_seconds, 3600, 1, 0);
	parse_postgres(pc, v, &s->postgres);
	parse_mysql(pc, v, &s->mysql);
}

static void
parse_spec(struct api_pc *pc, yajl_val v, void *out)
{
	size_t mark = api_pc_push(pc, "spec");

	api_pc_backup_spec(pc, v, out);
	api_pc_pop(pc, mark);
}

static void
parse_status(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_backup_status *st = out;
	size_t mark = api_pc_push(pc, "status"), m;
	yajl_val b;

	st->phase = api_pc_phase(pc, v, "phase", BACKUP_PHASES);
	api_pc_time(pc, v, "startedAt", &st->started_at, 0);
	api_pc_time(pc, v, "completedAt", &st->completed_at, 0);
	api_pc_string(pc, v, "message", &st->message, NULL, 0);
	if ((b = api_pc_object(pc, v, "backup", 0)) != NULL) {
		m = api_pc_push(pc, "backup");
		st->backup.set = true;
		api_pc_string(pc, b, "path", &st->backup.path, NULL, 0);
		api_pc_int64(pc, b, "sizeBytes", &st->backup.size_bytes, 0,
		    INT64_MIN, 0);
		api_pc_int64(pc, b, "compressedSizeBytes",
		    &st->backup.compressed_size_bytes, 0, INT64_MIN, 0);
		api_pc_string(pc, b, "checksum", &st->backup.checksum, NULL, 0);
		api_pc_string(pc, b, "format", &st->backup.format, NULL, 0);
		api_pc_pop(pc, m);
	}
	if ((b = api_pc_object(pc, v, "source", 0)) != NULL) {
		m = api_pc_push(pc, "source");
		st->source.set = true;
		api_pc_string(pc, b, "instance", &st->source.instance, NULL, 0);
		api_pc_string(pc, b, "database", &st->source.database, NULL, 0);
		api_pc_string(pc, b, "engine", &st->source.engine, NULL, 0);
		api_pc_string(pc, b, "version", &st->source.version, NULL, 0);
		api_pc_time(pc, b, "timestamp", &st->source.timestamp, 0);
		api_pc_pop(pc, m);
	}
	api_pc_time(pc, v, "expiresAt", &st->expires_at, 0);
	api_pc_conditions(pc, v, "conditions", &st->conditions);
	api_pc_pop(pc, mark);
}

int
api_backup_parse(yajl_val obj, struct api_backup *out, struct api_errs *errs)
{
	memset(out, 0, sizeof(*out));
	return api_pc_envelope(obj, API_BACKUP, errs, &out->meta, parse_spec,
	    &out->spec, parse_status, &out->status);
}

void
api_backup_spec_release(struct api_backup_spec *s)
{
	api_ref_release(&s->database);
	api_storage_release(&s->storage);
	api_encryption_release(&s->encryption);
	free(s->ttl);
	api_strv_release(&s->postgres.schemas);
	api_strv_release(&s->postgres.exclude_schemas);
	api_strv_release(&s->postgres.tables);
	api_strv_release(&s->postgres.exclude_tables);
	free(s->postgres.lock_wait_timeout);
	api_strv_release(&s->mysql.databases);
	api_strv_release(&s->mysql.tables);
	api_strv_release(&s->mysql.exclude_tables);
	memset(s, 0, sizeof(*s));
}

void
api_backup_release(struct api_backup *b)
{
	struct api_backup_status *st = &b->status;

	api_meta_release(&b->meta);
	api_backup_spec_release(&b->spec);
	free(st->message);
	free(st->backup.path);
	free(st->backup.checksum);
	free(st->backup.format);
	free(st->source.instance);
	free(st->source.database);
	free(st->source.engine);
	free(st->source.version);
	api_conditions_release(&st->conditions);
	memset(b, 0, sizeof(*b));
}

void
api_backup_status_write(struct jw *w, const struct api_backup_status *st)
{
	jw_obj_open(w);
	api_w_enum(w, "phase", api_phase_names, st->phase);
	api_w_time(w, "startedAt", st->started_at);
	api_w_time(w, "completedAt", st->completed_at);
	api_w_str(w, "message", st->message);
	if (st->backup.set) {
		jw_key(w, "backup");
		jw_obj_open(w);
		api_w_str(w, "path", st->backup.path);
		api_w_int(w, "sizeBytes", st->backup.size_bytes);
		api_w_int(w, "compressedSizeBytes",
		    st->backup.compressed_size_bytes);
		api_w_str(w, "checksum", st->backup.checksum);
		api_w_str(w, "format", st->backup.format);
		jw_obj_close(w);
	}
	if (st->source.set) {
		jw_key(w, "source");
		jw_obj_open(w);
		api_w_str(w, "instance", st->source.instance);
		api_w_str(w, "database", st->source.database);
		api_w_str(w, "engine", st->source.engine);
		api_w_str(w, "version", st->source.version);
		api_w_time(w, "timestamp", st->source.timestamp);
		jw_obj_close(w);
	}
	api_w_time(w, "expiresAt", st->expires_at);
	api_conditions_write(w, &st->conditions);
	jw_obj_close(w);
}

int
api_backup_check_engine(const struct api_backup *b, enum api_engine engine,
    struct api_errs *errs)
{
	struct api_pc pc;

	api_pc_init(&pc, errs);
	api_pc_engine_blocks(&pc, "spec", b->spec.postgres.set,
	    b->spec.mysql.set, engine);
	return pc.nerr ? -1 : 0;
}
