/*
 * api_database.c - Database: parse, validate, release, status.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_common.h"
#include "api_database.h"

#define DATABASE_PHASES ((1u << API_PHASE_PENDING) | \
	(1u << API_PHASE_CREATING) | (1u << API_PHASE_READY) | \
	(1u << API_PHASE_FAILED) | (1u << API_PHASE_DELETING))

static void
parse_extension(struct api_pc *pc, yajl_val v, void *arg)
{
	struct api_pg_extension *e = arg;

	api_pc_string(pc, v, "name", &e->name, NULL, API_REQ | API_NONEMPTY);
	api_pc_string(pc, v, "schema", &e->schema, "public", 0);
	api_pc_string(pc, v, "version", &e->version, NULL, 0);
}

static void
parse_schema(struct api_pc *pc, yajl_val v, void *arg)
{
	struct api_pg_schema *s = arg;

	api_pc_string(pc, v, "name", &s->name, NULL, API_REQ | API_NONEMPTY);
	api_pc_string(pc, v, "owner", &s->owner, NULL, 0);
}

static void
parse_default_privilege(struct api_pc *pc, yajl_val v, void *arg)
{
	struct api_pg_default_privilege *d = arg;

	api_pc_string(pc, v, "role", &d->role, NULL, API_REQ);
	api_pc_string(pc, v, "schema", &d->schema, NULL, API_REQ);
	d->object_type = api_pc_enum(pc, v, "objectType",
	    api_pg_object_type_names, API_PG_OBJ__COUNT, API_PG_OBJ_NONE,
	    API_REQ);
	api_pc_privileges(pc, v, "privileges", &d->privileges);
}

static void
parse_postgres(struct api_pc *pc, yajl_val spec, struct api_pg_database *pg)
{
	yajl_val v = api_pc_object(pc, spec, "postgres", 0);
	size_t mark;

	if (v == NULL)
		return;
	pg->set = true;
	mark = api_pc_push(pc, "postgres");
	api_pc_string(pc, v, "encoding", &pg->encoding, "UTF8", 0);
	api_pc_string(pc, v, "lcCollate", &pg->lc_collate, NULL, 0);
	api_pc_string(pc, v, "lcCtype", &pg->lc_ctype, NULL, 0);
	api_pc_string(pc, v, "tablespace", &pg->tablespace, "pg_default", 0);
	api_pc_string(pc, v, "template", &pg->template_, "template0", 0);
	api_pc_int32(pc, v, "connectionLimit", &pg->connection_limit, -1, -1,
	    INT32_MAX, 0);
	api_pc_bool(pc, v, "isTemplate", &pg->is_template, false);
	api_pc_bool(pc, v, "allowConnections", &pg->allow_connections, true);

	pg->extensions = api_pc_objects(pc, v, "extensions",
	    sizeof(*pg->extensions), parse_extension, &pg->n_extensions, 0);
	pg->schemas = api_pc_objects(pc, v, "schemas", sizeof(*pg->schemas),
	    parse_schema, &pg->n_schemas, 0);
	pg->default_privileges = api_pc_objects(pc, v, "defaultPrivileges",
	    sizeof(*pg->default_privileges), parse_default_privilege,
	    &pg->n_default_privileges, 0);
	api_pc_pop(pc, mark);
}

static void
parse_mysql(struct api_pc *pc, yajl_val spec, struct api_my_database *my)
{
	yajl_val v = api_pc_object(pc, spec, "mysql", 0);
	size_t mark;

	if (v == NULL)
		return;
	my->set = true;
	mark = api_pc_push(pc, "mysql");
	if (api_pc_string(pc, v, "charset", &my->charset, "utf8mb4", 0))
		api_pc_charset_name(pc, "charset", my->charset);
	if (api_pc_string(pc, v, "collation", &my->collation,
	    "utf8mb4_unicode_ci", 0))
		api_pc_charset_name(pc, "collation", my->collation);
	api_pc_string(pc, v, "sqlMode", &my->sql_mode, NULL, 0);
	api_pc_string(pc, v, "defaultStorageEngine",
	    &my->default_storage_engine, "InnoDB", 0);
	api_pc_pop(pc, mark);
}

static void
parse_spec(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_database_spec *s = out;
	size_t mark = api_pc_push(pc, "spec");

	api_pc_ref(pc, v, "instanceRef", &s->instance, API_REQ);
	api_pc_ident(pc, v, "name", &s->name, API_REQ);
	s->deletion_policy = api_pc_enum(pc, v, "deletionPolicy",
	    api_deletion_policy_names, API_DELETION__COUNT,
	    API_DELETION_RETAIN, 0);
	api_pc_bool(pc, v, "deletionProtection", &s->deletion_protection,
	    true);
	parse_postgres(pc, v, &s->postgres);
	parse_mysql(pc, v, &s->mysql);
	api_pc_pop(pc, mark);
}

static void
parse_installed_extension(struct api_pc *pc, yajl_val v, void *arg)
{
	struct api_pg_extension_status *e = arg;

	api_pc_string(pc, v, "name", &e->name, NULL, API_REQ);
	api_pc_string(pc, v, "version", &e->version, NULL, API_REQ);
}

static void
parse_status(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_database_status *st = out;
	size_t mark = api_pc_push(pc, "status"), m;
	yajl_val b;

	st->phase = api_pc_phase(pc, v, "phase", DATABASE_PHASES);
	api_pc_int64(pc, v, "observedGeneration", &st->observed_generation, 0,
	    INT64_MIN, 0);
	api_pc_string(pc, v, "message", &st->message, NULL, 0);
	if ((b = api_pc_object(pc, v, "database", 0)) != NULL) {
		m = api_pc_push(pc, "database");
		st->database.set = true;
		api_pc_string(pc, b, "name", &st->database.name, NULL, 0);
		api_pc_string(pc, b, "owner", &st->database.owner, NULL, 0);
		api_pc_int64(pc, b, "sizeBytes", &st->database.size_bytes, 0,
		    INT64_MIN, 0);
		api_pc_time(pc, b, "createdAt", &st->database.created_at, 0);
		api_pc_pop(pc, m);
	}
	if ((b = api_pc_object(pc, v, "postgres", 0)) != NULL) {
		m = api_pc_push(pc, "postgres");
		st->postgres.set = true;
		api_pc_string(pc, b, "encoding", &st->postgres.encoding, NULL, 0);
		api_pc_string(pc, b, "collation", &st->postgres.collation, NULL,
		    0);
		st->postgres.installed_extensions = api_pc_objects(pc, b,
		    "installedExtensions",
		    sizeof(*st->postgres.installed_extensions),
		    parse_installed_extension,
		    &st->postgres.n_installed_extensions, 0);
		api_pc_strv(pc, b, "schemas", &st->postgres.schemas, 0, 0);
		api_pc_pop(pc, m);
	}
	if ((b = api_pc_object(pc, v, "mysql", 0)) != NULL) {
		m = api_pc_push(pc, "mysql");
		st->mysql.set = true;
		api_pc_string(pc, b, "charset", &st->mysql.charset, NULL, 0);
		api_pc_string(pc, b, "collation", &st->mysql.collation, NULL, 0);
		api_pc_pop(pc, m);
	}
	api_pc_conditions(pc, v, "conditions", &st->conditions);
	api_pc_pop(pc, mark);
}

int
api_database_parse(yajl_val obj, struct api_database *out,
    struct api_errs *errs)
{
	memset(out, 0, sizeof(*out));
	return api_pc_envelope(obj, API_DATABASE, errs, &out->meta, parse_spec,
	    &out->spec, parse_status, &out->status);
}

void
api_database_release(struct api_database *db)
{
	struct api_pg_database *pg = &db->spec.postgres;
	struct api_database_status *st = &db->status;
	size_t i;

	api_meta_release(&db->meta);
	api_ref_release(&db->spec.instance);
	free(db->spec.name);
	free(pg->encoding);
	free(pg->lc_collate);
	free(pg->lc_ctype);
	free(pg->tablespace);
	free(pg->template_);
	for (i = 0; i < pg->n_extensions; i++) {
		free(pg->extensions[i].name);
		free(pg->extensions[i].schema);
		free(pg->extensions[i].version);
	}
	free(pg->extensions);
	for (i = 0; i < pg->n_schemas; i++) {
		free(pg->schemas[i].name);
		free(pg->schemas[i].owner);
	}
	free(pg->schemas);
	for (i = 0; i < pg->n_default_privileges; i++) {
		free(pg->default_privileges[i].role);
		free(pg->default_privileges[i].schema);
		api_strv_release(&pg->default_privileges[i].privileges);
	}
	free(pg->default_privileges);
	free(db->spec.mysql.charset);
	free(db->spec.mysql.collation);
	free(db->spec.mysql.sql_mode);
	free(db->spec.mysql.default_storage_engine);

	free(st->message);
	free(st->database.name);
	free(st->database.owner);
	free(st->postgres.encoding);
	free(st->postgres.collation);
	for (i = 0; i < st->postgres.n_installed_extensions; i++) {
		free(st->postgres.installed_extensions[i].name);
		free(st->postgres.installed_extensions[i].version);
	}
	free(st->postgres.installed_extensions);
	api_strv_release(&st->postgres.schemas);
	free(st->mysql.charset);
	free(st->mysql.collation);
	api_conditions_release(&st->conditions);
	memset(db, 0, sizeof(*db));
}

void
api_database_status_write(struct jw *w, const struct api_database_status *st)
{
	size_t i;

	jw_obj_open(w);
	api_w_enum(w, "phase", api_phase_names, st->phase);
	api_w_int(w, "observedGeneration", st->observed_generation);
	api_w_str(w, "message", st->message);
	if (st->database.set) {
		jw_key(w, "database");
		jw_obj_open(w);
		api_w_str(w, "name", st->database.name);
		api_w_str(w, "owner", st->database.owner);
		api_w_int(w, "sizeBytes", st->database.size_bytes);
		api_w_time(w, "createdAt", st->database.created_at);
		jw_obj_close(w);
	}
	if (st->postgres.set) {
		jw_key(w, "postgres");
		jw_obj_open(w);
		api_w_str(w, "encoding", st->postgres.encoding);
		api_w_str(w, "collation", st->postgres.collation);
		if (st->postgres.n_installed_extensions) {
			jw_key(w, "installedExtensions");
			jw_arr_open(w);
			for (i = 0; i < st->postgres.n_installed_extensions; i++) {
				const char *n, *ver;

				n = st->postgres.installed_extensions[i].name;
				ver = st->postgres.installed_extensions[i].version;
				jw_obj_open(w);
				jw_kstr(w, "name", n ? n : "");
				jw_kstr(w, "version", ver ? ver : "");
				jw_obj_close(w);
			}
			jw_arr_close(w);
		}
		api_w_strv(w, "schemas", &st->postgres.schemas);
		jw_obj_close(w);
	}
	if (st->mysql.set) {
		jw_key(w, "mysql");
		jw_obj_open(w);
		api_w_str(w, "charset", st->mysql.charset);
		api_w_str(w, "collation", st->mysql.collation);
		jw_obj_close(w);
	}
	api_conditions_write(w, &st->conditions);
	jw_obj_close(w);
}

int
api_database_check_engine(const struct api_database *db,
    enum api_engine engine, struct api_errs *errs)
{
	struct api_pc pc;

	api_pc_init(&pc, errs);
	api_pc_engine_blocks(&pc, "spec", db->spec.postgres.set,
	    db->spec.mysql.set, engine);
	return pc.nerr ? -1 : 0;
}
