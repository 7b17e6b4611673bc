/*
 * api_grant.c - DatabaseGrant: parse, validate, release, status.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_common.h"
#include "api_grant.h"

#define GRANT_PHASES ((1u << API_PHASE_PENDING) | (1u << API_PHASE_CREATING) | \
	(1u << API_PHASE_READY) | (1u << API_PHASE_FAILED) | \
	(1u << API_PHASE_DELETING))

static void
parse_default_privilege(struct api_pc *pc, yajl_val v, void *arg)
{
	struct api_pg_default_privilege_grant *d = arg;

	api_pc_string(pc, v, "database", &d->database, NULL, API_REQ);
	api_pc_string(pc, v, "schema", &d->schema, NULL, API_REQ);
	api_pc_string(pc, v, "grantedBy", &d->granted_by, NULL, API_REQ);
	d->object_type = api_pc_enum(pc, v, "objectType",
	    api_pg_object_type_names, API_PG_OBJ__COUNT, API_PG_OBJ_NONE,
	    API_REQ);
	api_pc_privileges(pc, v, "privileges", &d->privileges);
}

static void
parse_postgres(struct api_pc *pc, yajl_val spec, struct api_pg_grant_config *pg)
{
	yajl_val v = api_pc_object(pc, spec, "postgres", 0);
	size_t mark;

	if (v == NULL)
		return;
	pg->set = true;
	mark = api_pc_push(pc, "postgres");
	api_pc_strv(pc, v, "roles", &pg->roles, 0, 0);
	api_pc_pg_grants(pc, v, "grants", &pg->grants);
	pg->default_privileges = api_pc_objects(pc, v, "defaultPrivileges",
	    sizeof(*pg->default_privileges), parse_default_privilege,
	    &pg->n_default_privileges, 0);
	api_pc_pop(pc, mark);
}

static void
parse_mysql(struct api_pc *pc, yajl_val spec, struct api_my_grant_config *my)
{
	yajl_val v = api_pc_object(pc, spec, "mysql", 0);
	size_t mark;

	if (v == NULL)
		return;
	my->set = true;
	mark = api_pc_push(pc, "mysql");
	api_pc_strv(pc, v, "roles", &my->roles, 0, 0);
	api_pc_my_grants(pc, v, "grants", &my->grants);
	api_pc_pop(pc, mark);
}

static void
parse_spec(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_grant_spec *s = out;
	size_t mark = api_pc_push(pc, "spec");

	api_pc_ref(pc, v, "userRef", &s->user, API_REQ);
	api_pc_ref(pc, v, "databaseRef", &s->database, 0);
	parse_postgres(pc, v, &s->postgres);
	parse_mysql(pc, v, &s->mysql);
	api_pc_pop(pc, mark);
}

static void
parse_status(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_grant_status *st = out;
	size_t mark = api_pc_push(pc, "status"), m;
	yajl_val b;

	st->phase = api_pc_phase(pc, v, "phase", GRANT_PHASES);
	api_pc_int64(pc, v, "observedGeneration", &st->observed_generation, 0,
	    INT64_MIN, 0);
	api_pc_string(pc, v, "message", &st->message, NULL, 0);
	if ((b = api_pc_object(pc, v, "appliedGrants", 0)) != NULL) {
		m = api_pc_push(pc, "appliedGrants");
		st->applied_grants.set = true;
		api_pc_strv(pc, b, "roles", &st->applied_grants.roles, 0, 0);
		api_pc_int32(pc, b, "directGrants",
		    &st->applied_grants.direct_grants, 0, INT32_MIN, INT32_MAX,
		    0);
		api_pc_int32(pc, b, "defaultPrivileges",
		    &st->applied_grants.default_privileges, 0, INT32_MIN,
		    INT32_MAX, 0);
		api_pc_pop(pc, m);
	}
	api_pc_conditions(pc, v, "conditions", &st->conditions);
	api_pc_pop(pc, mark);
}

int
api_grant_parse(yajl_val obj, struct api_grant *out, struct api_errs *errs)
{
	memset(out, 0, sizeof(*out));
	return api_pc_envelope(obj, API_GRANT, errs, &out->meta, parse_spec,
	    &out->spec, parse_status, &out->status);
}

void
api_grant_release(struct api_grant *g)
{
	struct api_pg_grant_config *pg = &g->spec.postgres;
	size_t i;

	api_meta_release(&g->meta);
	api_ref_release(&g->spec.user);
	api_ref_release(&g->spec.database);
	api_strv_release(&pg->roles);
	api_pg_grants_release(&pg->grants);
	for (i = 0; i < pg->n_default_privileges; i++) {
		free(pg->default_privileges[i].database);
		free(pg->default_privileges[i].schema);
		free(pg->default_privileges[i].granted_by);
		api_strv_release(&pg->default_privileges[i].privileges);
	}
	free(pg->default_privileges);
	api_strv_release(&g->spec.mysql.roles);
	api_my_grants_release(&g->spec.mysql.grants);
	free(g->status.message);
	api_strv_release(&g->status.applied_grants.roles);
	api_conditions_release(&g->status.conditions);
	memset(g, 0, sizeof(*g));
}

void
api_grant_status_write(struct jw *w, const struct api_grant_status *st)
{
	jw_obj_open(w);
	api_w_enum(w, "phase", api_phase_names, st->phase);
	api_w_int(w, "observedGeneration", st->observed_generation);
	api_w_str(w, "message", st->message);
	if (st->applied_grants.set) {
		jw_key(w, "appliedGrants");
		jw_obj_open(w);
		api_w_strv(w, "roles", &st->applied_grants.roles);
		api_w_int(w, "directGrants", st->applied_grants.direct_grants);
		api_w_int(w, "defaultPrivileges",
		    st->applied_grants.default_privileges);
		jw_obj_close(w);
	}
	api_conditions_write(w, &st->conditions);
	jw_obj_close(w);
}

int
api_grant_check_engine(const struct api_grant *g, enum api_engine engine,
    struct api_errs *errs)
{
	struct api_pc pc;

	api_pc_init(&pc, errs);
	api_pc_engine_blocks(&pc, "spec", g->spec.postgres.set,
	    g->spec.mysql.set, engine);
	return pc.nerr ? -1 : 0;
}
