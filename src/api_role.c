/*
 * api_role.c - DatabaseRole: parse, validate, release, status.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_common.h"
#include "api_role.h"

#define ROLE_PHASES ((1u << API_PHASE_PENDING) | (1u << API_PHASE_CREATING) | \
	(1u << API_PHASE_READY) | (1u << API_PHASE_FAILED) | \
	(1u << API_PHASE_DELETING))

#define MYSQL_ROLE_MAX 32

static void
parse_postgres(struct api_pc *pc, yajl_val spec, struct api_pg_role *pg)
{
	yajl_val v = api_pc_object(pc, spec, "postgres", 0);
	size_t mark;

	if (v == NULL)
		return;
	pg->set = true;
	mark = api_pc_push(pc, "postgres");
	api_pc_bool(pc, v, "login", &pg->login, false);
	api_pc_bool(pc, v, "inherit", &pg->inherit, true);
	api_pc_bool(pc, v, "createDB", &pg->create_db, false);
	api_pc_bool(pc, v, "createRole", &pg->create_role, false);
	api_pc_bool(pc, v, "superuser", &pg->superuser, false);
	api_pc_bool(pc, v, "replication", &pg->replication, false);
	api_pc_bool(pc, v, "bypassRLS", &pg->bypass_rls, false);
	api_pc_strv(pc, v, "inRoles", &pg->in_roles, 0, 0);
	api_pc_pg_grants(pc, v, "grants", &pg->grants);
	api_pc_pop(pc, mark);
}

static void
parse_mysql(struct api_pc *pc, yajl_val spec, struct api_my_role *my)
{
	yajl_val v = api_pc_object(pc, spec, "mysql", 0);
	size_t mark;

	if (v == NULL)
		return;
	my->set = true;
	mark = api_pc_push(pc, "mysql");
	api_pc_bool(pc, v, "useNativeRoles", &my->use_native_roles, true);
	api_pc_my_grants(pc, v, "grants", &my->grants);
	api_pc_pop(pc, mark);
}

static void
parse_spec(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_role_spec *s = out;
	size_t mark = api_pc_push(pc, "spec");

	api_pc_ref(pc, v, "instanceRef", &s->instance, API_REQ);
	api_pc_ident(pc, v, "roleName", &s->role_name, API_REQ);
	parse_postgres(pc, v, &s->postgres);
	parse_mysql(pc, v, &s->mysql);
	api_pc_pop(pc, mark);
}

static void
parse_status(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_role_status *st = out;
	size_t mark = api_pc_push(pc, "status"), m;
	yajl_val b;

	st->phase = api_pc_phase(pc, v, "phase", ROLE_PHASES);
	api_pc_int64(pc, v, "observedGeneration", &st->observed_generation, 0,
	    INT64_MIN, 0);
	api_pc_string(pc, v, "message", &st->message, NULL, 0);
	if ((b = api_pc_object(pc, v, "role", 0)) != NULL) {
		m = api_pc_push(pc, "role");
		st->role.set = true;
		api_pc_string(pc, b, "name", &st->role.name, NULL, 0);
		api_pc_time(pc, b, "createdAt", &st->role.created_at, 0);
		api_pc_pop(pc, m);
	}
	api_pc_conditions(pc, v, "conditions", &st->conditions);
	api_pc_pop(pc, mark);
}

int
api_role_parse(yajl_val obj, struct api_role *out, struct api_errs *errs)
{
	memset(out, 0, sizeof(*out));
	return api_pc_envelope(obj, API_ROLE, errs, &out->meta, parse_spec,
	    &out->spec, parse_status, &out->status);
}

void
api_role_release(struct api_role *r)
{
	api_meta_release(&r->meta);
	api_ref_release(&r->spec.instance);
	free(r->spec.role_name);
	api_strv_release(&r->spec.postgres.in_roles);
	api_pg_grants_release(&r->spec.postgres.grants);
	api_my_grants_release(&r->spec.mysql.grants);
	free(r->status.message);
	free(r->status.role.name);
	api_conditions_release(&r->status.conditions);
	memset(r, 0, sizeof(*r));
}

void
api_role_status_write(struct jw *w, const struct api_role_status *st)
{
	jw_obj_open(w);
	api_w_enum(w, "phase", api_phase_names, st->phase);
	api_w_int(w, "observedGeneration", st->observed_generation);
	api_w_str(w, "message", st->message);
	if (st->role.set) {
		jw_key(w, "role");
		jw_obj_open(w);
		api_w_str(w, "name", st->role.name);
		api_w_time(w, "createdAt", st->role.created_at);
		jw_obj_close(w);
	}
	api_conditions_write(w, &st->conditions);
	jw_obj_close(w);
}

int
api_role_check_engine(const struct api_role *r, enum api_engine engine,
    struct api_errs *errs)
{
	struct api_pc pc;

	api_pc_init(&pc, errs);
	api_pc_engine_blocks(&pc, "spec", r->spec.postgres.set,
	    r->spec.mysql.set, engine);
	if (engine == API_ENGINE_MYSQL && r->spec.role_name &&
	    strlen(r->spec.role_name) > MYSQL_ROLE_MAX)
		api_pc_err(&pc, "spec.roleName", "must be at most %d "
		    "characters for mysql", MYSQL_ROLE_MAX);
	return pc.nerr ? -1 : 0;
}
