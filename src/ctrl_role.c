/*
 * ctrl_role.c - the DatabaseRole controller for engines postgres and mysql
 * (behavior.md §1.4, api.md §10, without the defects listed there),
 * on the pass runner of cpass.h like the Database controller. On MySQL
 * one observation of the name (ctrl_myobs.c, with privileges) serves
 * mysqlplan_role() and then mysqlplan_role_grants().
 *
 * One pass:
 *
 *   deleting ........ no finalizer: nothing. Otherwise observe the role
 *                     and the databases where it has dependencies
 *                     (PGQ_ROLE_DEPS), plan pgplan_role_drop (REASSIGN
 *                     OWNED BY r TO the admin role and DROP OWNED BY r on
 *                     a connection to each such database, then DROP
 *                     ROLE), run it, then remove the finalizer; a failure
 *                     keeps the finalizer and says why in the status.
 *   skip annotation . nothing
 *   invalid spec .... ctrl_validate
 *   no finalizer .... add it and end (our own write starts the next pass)
 *   instance ........ as for Database (same namespace only; missing:
 *                     InstanceNotFound, requeue 30 s; not Ready:
 *                     InstanceNotReady, requeue 10 s)
 *   otherwise ....... observe on the admin database (PGQ_SERVER, PGQ_ROLE,
 *                     PGQ_MEMBER_OF, PGQ_ROLE_CONFIG), plan (pgplan_role),
 *                     run the steps, observe again, and write the status
 *                     when it differs from the cache.
 *
 * Steps run on an existing role whose generation was already reconciled
 * are drift repairs: event "Repaired". Then, as a second stage,
 * spec.postgres.grants exactly as DatabaseGrant applies privileges
 * (ctrl_grant.c): observed, planned against the set recorded in the
 * annotation dbops.dbprovision.io/applied-privileges, widened record
 * first, revokes of what the spec no longer lists. On deletion DROP OWNED
 * takes the privileges with the role.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "api.h"
#include "api_role.h"
#include "cpass.h"
#include "ctrl.h"
#include "log.h"
#include "metrics.h"
#include "mgr.h"
#include "pgplan.h"
#include "sqlstep.h"


enum qkind { Q_SERVER, Q_ROLE, Q_MEMBER, Q_CONFIG, Q_DEPS };

struct rrun {
	struct cpass p;		/* first: the runner's part */
	struct pg_obs_role obs;
	/* The second stage: spec.postgres.grants, as DatabaseGrant does. */
	bool granting;
	struct ctrl_pggrants g;
	struct pg_privset prev;		/* recorded on the object */
	struct pg_privset applied;
	/* engine mysql: one observation (with privileges) serves both
	 * stages */
	struct ctrl_myuser my;
	struct myplan_privset myprev, myapplied;
};

static const struct api_role *
typed(const struct cobj *c)
{
	return c->typed;
}

/* ---- observing --------------------------------------------------------------- */

/* The observation of a role, shared with the DatabaseUser controller:
 * PGQ_SERVER, PGQ_ROLE, then (when it exists) PGQ_MEMBER_OF and
 * PGQ_ROLE_CONFIG, and PGQ_ROLE_DEPS when deleting. */

static void
obs_server(struct cpass *p)
{
	cpass_query(p, Q_SERVER, PGQ_SERVER, 0, NULL);
}

void
ctrl_pgrole_observe(struct cpass *p, struct pg_obs_role *o)
{
	pg_obs_role_release(o);
	pg_obs_role_init(o);
	cpass_with_conn(p, NULL, obs_server);
}

int
ctrl_pgrole_row(struct cpass *p, struct pg_obs_role *o,
    const char *const *cols, int ncols)
{
	switch (p->q) {
	case Q_SERVER:
		return pg_obs_server_row(&o->server, cols, ncols);
	case Q_ROLE:
		return pg_obs_role_row(o, cols, ncols);
	case Q_MEMBER:
		return pg_obs_member_row(&o->member_of, cols, ncols);
	case Q_CONFIG:
		return pg_obs_role_config_row(o, cols, ncols);
	case Q_DEPS:
		return pg_obs_role_dep_row(o, cols, ncols);
	}
	return -1;
}

bool
ctrl_pgrole_answered(struct cpass *p, struct pg_obs_role *o)
{
	const char *param[1] = { p->name };

	switch (p->q) {
	case Q_SERVER:
		cpass_query(p, Q_ROLE, PGQ_ROLE, 1, param);
		return false;
	case Q_ROLE:
		if (!o->exists)
			return true;
		cpass_query(p, Q_MEMBER, PGQ_MEMBER_OF, 1, param);
		return false;
	case Q_MEMBER:
		cpass_query(p, Q_CONFIG, PGQ_ROLE_CONFIG, 1, param);
		return false;
	case Q_CONFIG:
		if (!p->deleting)
			return true;
		cpass_query(p, Q_DEPS, PGQ_ROLE_DEPS, 1, param);
		return false;
	}
	return true;
}

static void plan_stage(struct rrun *r);

static void
observe(struct rrun *r)
{
	if (r->p.engine == API_ENGINE_MYSQL)
		ctrl_myuser_observe(&r->p, &r->my, r->p.name, true);
	else
		ctrl_pgrole_observe(&r->p, &r->obs);
}

/* useNativeRoles (default true, also without spec.mysql). */
static bool
native_roles(const struct api_role *ro)
{
	return !ro->spec.mysql.set || ro->spec.mysql.use_native_roles;
}

static void grants_plan(struct rrun *r);

static int
row(struct cpass *p, const char *const *cols, int ncols)
{
	struct rrun *r = (struct rrun *)p;

	if (p->engine == API_ENGINE_MYSQL)
		return ctrl_myuser_row(p, &r->my, cols, ncols);
	if (r->granting)
		return ctrl_pggrants_row(p, &r->g, cols, ncols);
	return ctrl_pgrole_row(p, &r->obs, cols, ncols);
}

static void
answered(struct cpass *p)
{
	struct rrun *r = (struct rrun *)p;

	if (p->engine == API_ENGINE_MYSQL) {
		if (ctrl_myuser_answered(p, &r->my))
			plan_stage(r);
		return;
	}
	if (r->granting) {
		if (ctrl_pggrants_answered(p, &r->g))
			grants_plan(r);
		return;
	}
	if (ctrl_pgrole_answered(p, &r->obs))
		plan_stage(r);
}

/* ---- the pass -------------------------------------------------------------------- */

static void
metric(struct cpass *p, enum metrics_op op, bool ok)
{
	metrics_role_operation(op, api_engine_names[p->engine], ok,
	    p->t->namespace);
}


static void
success_status(struct rrun *r)
{
	const struct cobj *c = ctrl_object(r->p.t);
	const struct api_meta *md;
	struct api_role_status st;
	int64_t now = (int64_t)wall_now();

	if (c == NULL) {
		cpass_end(&r->p, RRESULT_DONE, 0);
		return;
	}
	md = cobj_meta(c);
	if (md->generation != r->p.generation) {
		cpass_end(&r->p, RRESULT_REQUEUE, 0);	/* the spec changed */
		return;
	}
	cpass_status_base(&r->p, &st, c);
	st.phase = API_PHASE_READY;
	st.message = (char *)"Role is ready";
	st.role.set = true;
	st.role.name = r->p.name;
	if (r->p.created || st.role.created_at == 0)
		st.role.created_at = now;
	cpass_ready(&r->p, c, &st, true);
	ctrl_grants_leave(&r->p, r->p.engine == API_ENGINE_MYSQL ?
	    ctrl_mygrants_json(&r->myapplied) :
	    ctrl_pggrants_json(&r->applied));
	cpass_finish(&r->p, c, &st, RRESULT_REQUEUE, CPASS_RESYNC);
	api_conditions_release(&st.conditions);
}

/* ---- the grants stage ----------------------------------------------------- */

static void
grants_run(struct cpass *p)
{
	const struct cobj *c = ctrl_object(p->t);

	if (c == NULL || !cpass_apply(p, c, "Granting"))
		success_status((struct rrun *)p);
}

static void
grants_plan(struct rrun *r)
{
	struct cpass *p = &r->p;
	const struct cobj *c = ctrl_object(p->t);
	char err[512], msg[CPASS_MSG_MAX];

	if (c == NULL) {
		cpass_end(p, RRESULT_DONE, 0);
		return;
	}
	sqlplan_clear(&p->plan);
	if (pgplan_role_grants(p->name, &typed(c)->spec.postgres.grants,
	    &r->g.obs, &r->prev, &p->plan, &r->applied, err,
	    sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "cannot apply the grants: %s", err);
		cpass_fail(p, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return;
	}
	p->exists = true;
	p->executed = false;
	ctrl_grants_widen(p, c, ctrl_pggrants_wide_json(&r->prev,
	    &r->applied), grants_run);
}

/* grants_stage() for engine mysql, on the observation just made. */
static void
my_grants(struct rrun *r, const struct cobj *c)
{
	struct cpass *p = &r->p;
	const struct api_role *ro = typed(c);
	char err[512], msg[CPASS_MSG_MAX];

	if (ctrl_mygrants_read(cobj_meta(c), &r->myprev, err,
	    sizeof(err)) < 0) {
		log_warn("applied privileges annotation unreadable",
		    "namespace", p->t->namespace, "name", p->t->name,
		    "error", err);
		myplan_privset_release(&r->myprev);
		myplan_privset_init(&r->myprev);
	}
	r->granting = true;
	sqlplan_clear(&p->plan);
	if (mysqlplan_role_grants(p->name, native_roles(ro),
	    &ro->spec.mysql.grants, &r->my.obs, &r->myprev, &p->plan,
	    &r->myapplied, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "cannot apply the grants: %s", err);
		cpass_fail(p, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return;
	}
	p->exists = true;
	p->executed = false;
	ctrl_grants_widen(p, c, ctrl_mygrants_wide_json(&r->myprev,
	    &r->myapplied), grants_run);
}

/* The role is in shape: its grants next (also to revoke what an earlier
 * spec granted). */
static void
grants_stage(struct rrun *r)
{
	const struct cobj *c = ctrl_object(r->p.t);
	char err[256];

	if (c == NULL) {
		cpass_end(&r->p, RRESULT_DONE, 0);
		return;
	}
	if (r->p.engine == API_ENGINE_MYSQL) {
		my_grants(r, c);
		return;
	}
	if (ctrl_pggrants_read(cobj_meta(c), &r->prev, err, sizeof(err)) < 0) {
		log_warn("applied privileges annotation unreadable",
		    "namespace", r->p.t->namespace, "name", r->p.t->name,
		    "error", err);
		pg_privset_release(&r->prev);
		pg_privset_init(&r->prev);
	}
	if (typed(c)->spec.postgres.grants.n == 0 && r->prev.n == 0) {
		success_status(r);
		return;
	}
	r->granting = true;
	api_strv_release(&r->g.dbs);
	pgplan_grant_databases(NULL, &typed(c)->spec.postgres.grants, &r->prev,
	    &r->g.dbs);
	ctrl_pggrants_observe(&r->p, &r->g, r->p.name);
}

static void
executed(struct cpass *p)
{
	struct rrun *r = (struct rrun *)p;

	if (p->deleting) {
		metric(p, METRICS_OP_DELETE, true);
		cpass_remove_finalizer(p);
		return;
	}
	metric(p, p->exists ? METRICS_OP_UPDATE : METRICS_OP_CREATE, true);
	if (r->granting) {
		success_status(r);
		return;
	}
	p->created = !p->exists;
	p->executed = true;
	sqlplan_clear(&p->plan);
	observe(r);
}

static void
plan_stage(struct rrun *r)
{
	struct cpass *p = &r->p;
	const struct cobj *c = ctrl_object(p->t);
	char err[512], msg[CPASS_MSG_MAX];
	int rc;

	if (c == NULL) {
		cpass_end(p, RRESULT_DONE, 0);
		return;
	}
	if (p->engine == API_ENGINE_MYSQL) {
		if (p->deleting) {
			if (r->my.obs.n == 0) {
				cpass_remove_finalizer(p);
				return;
			}
			if (mysqlplan_role_drop(p->name,
			    native_roles(typed(c)), &r->my.obs, &p->plan, err,
			    sizeof(err)) < 0) {
				cpass_run_failed(p, "plan", err);
				return;
			}
			cpass_run_plan(p);
			return;
		}
		if (p->executed) {
			grants_stage(r);
			return;
		}
		p->exists = r->my.obs.n > 0;
		rc = mysqlplan_role(&typed(c)->spec, &r->my.obs, &p->plan, err,
		    sizeof(err));
	} else if (p->deleting) {
		if (!r->obs.exists) {
			cpass_remove_finalizer(p);
			return;
		}
		if (pgplan_role_drop(p->name, &r->obs, &p->plan, err,
		    sizeof(err)) < 0) {
			cpass_run_failed(p, "plan", err);
			return;
		}
		cpass_run_plan(p);
		return;
	} else if (p->executed) {
		grants_stage(r);
		return;
	} else {
		p->exists = r->obs.exists;
		rc = pgplan_role(&typed(c)->spec, &r->obs, &p->plan, err,
		    sizeof(err));
	}
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "cannot apply the spec: %s", err);
		cpass_fail(p, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return;
	}
	if (!cpass_apply(p, c, "Creating role"))
		grants_stage(r);
}

static void
release(struct cpass *p)
{
	struct rrun *r = (struct rrun *)p;

	pg_obs_role_release(&r->obs);
	ctrl_pggrants_release(&r->g);
	pg_privset_release(&r->prev);
	pg_privset_release(&r->applied);
	ctrl_myuser_release(&r->my);
	myplan_privset_release(&r->myprev);
	myplan_privset_release(&r->myapplied);
}

static void
status_write(struct jw *w, const void *st)
{
	api_role_status_write(w, st);
}

static const struct cpass_kind role_kind = {
	.kind = API_ROLE,
	.noun = "role",
	CPASS_STATUS_LAYOUT(struct api_role, status),
	.status_write = status_write,
	.row = row,
	.answered = answered,
	.executed = executed,
	.release = release,
	.metric = metric,
	.engines = CTRL_ENGINE(API_ENGINE_POSTGRES) |
	    CTRL_ENGINE(API_ENGINE_MYSQL),
};

static struct rrun *
rrun_new(struct rtask *t, const struct cobj *c, bool deleting)
{
	const struct api_role *ro = typed(c);
	struct rrun *r = cpass_new(t, &role_kind, sizeof(*r), c,
	    &ro->spec.instance, ro->spec.role_name);

	r->p.deleting = deleting;
	pg_obs_role_init(&r->obs);
	ctrl_pggrants_init(&r->g);
	pg_privset_init(&r->prev);
	pg_privset_init(&r->applied);
	ctrl_myuser_init(&r->my);
	myplan_privset_init(&r->myprev);
	myplan_privset_init(&r->myapplied);
	return r;
}

static void
start(struct rtask *t, const struct cobj *c, bool deleting)
{
	const struct api_role *ro = typed(c);
	struct rrun *r = rrun_new(t, c, deleting);

	if (cpass_resolve(&r->p, c, &ro->spec.instance,
	    ro->spec.postgres.set, ro->spec.mysql.set) == NULL)
		return;
	observe(r);
}

static void
deletion(struct rtask *t, const struct cobj *c)
{
	const struct api_role *ro = typed(c);
	const struct api_meta *md = cobj_meta(c);

	if (!api_meta_has_finalizer(md, api_kind_finalizer(API_ROLE))) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	if (c->errors || ro->spec.instance.name == NULL ||
	    ro->spec.role_name == NULL) {
		cpass_fail(&rrun_new(t, c, true)->p, API_PHASE_FAILED,
		    "DeletionFailed",
		    "cannot drop the role: the spec is invalid; fix it",
		    RRESULT_DONE, 0);
		return;
	}
	start(t, c, true);
}

static void
role_reconcile(struct rtask *t)
{
	const struct cobj *c = ctrl_preamble(t, API_ROLE, NULL, deletion);

	if (c != NULL)
		start(t, c, false);
}

static void
role_abort(struct rtask *t)
{
	cpass_abort(t);
}

const struct ctrl_entry ctrl_role_entry = {
	API_ROLE, role_reconcile, role_abort,
};
