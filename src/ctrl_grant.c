/*
 * ctrl_grant.c - the DatabaseGrant controller for engines postgres and
 * mysql
 * (behavior.md §1.5, api.md §11, without the defects listed there), on the
 * pass runner of cpass.h; and the observation of a grantee's privileges,
 * which DatabaseRole shares for its spec.postgres.grants.
 *
 * One pass:
 *
 *   deleting ........ no finalizer: nothing. The DatabaseUser or its
 *                     instance gone: nothing to revoke (the user's role
 *                     went with it), the finalizer goes. Otherwise observe,
 *                     revoke what was applied and what the spec names
 *                     (default privileges too: the original left them),
 *                     then remove the finalizer; a failure keeps it.
 *   (preamble) ...... pause annotations, validation, finalizer first
 *   user ............ spec.userRef in the grant's namespace (another
 *                     namespace: CrossNamespaceRefused); missing:
 *                     UserNotFound, requeue 30 s; not Ready: UserNotReady,
 *                     requeue 10 s. Its username is the grantee, its
 *                     instanceRef the server.
 *   otherwise ....... observe (the grantee's memberships, and in every
 *                     database concerned its privileges, the object counts
 *                     per schema and the default ACLs), plan pgplan_grant
 *                     against what was applied before, record the union of
 *                     the old and new sets, run the steps, write the
 *                     status, then record exactly the new set.
 *
 * What was applied lives in the annotation dbops.dbprovision.io/
 * applied-privileges (JSON of pg_privset_write): a status field would be
 * pruned by an API server that runs the original schema, and the set must
 * survive restarts. It is widened before anything is granted and narrowed
 * only after the plan ran, so a crash at any point never leaves a
 * privilege granted that no record names: it is revoked once the spec no
 * longer lists it. Privileges removed from the spec are revoked (the
 * original never revoked); privileges revoked by hand are granted again
 * at the next resync, with a Repaired event.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_grant.h"
#include "api_user.h"
#include "cpass.h"
#include "ctrl.h"
#include "informer.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "mgr.h"
#include "pgplan.h"
#include "sqlstep.h"

#define ANN_APPLIED	"dbops.dbprovision.io/applied-privileges"
#define RETRY_NOTFOUND	30.0
#define RETRY_NOTREADY	10.0

/* ---- observing a grantee (shared with ctrl_role.c) -------------------------- */

/* Query numbers above those of the role observation (ctrl_role.c). */
enum { QG_SERVER = 20, QG_ROLE, QG_MEMBER, QG_ACL, QG_COUNTS, QG_DEFACL };

static struct ctrl_pggrants *
G(struct cpass *p)
{
	return p->observer;
}

void
ctrl_pggrants_init(struct ctrl_pggrants *g)
{
	memset(g, 0, sizeof(*g));
	pg_obs_grants_init(&g->obs);
	pg_obs_role_init(&g->role);
}

void
ctrl_pggrants_release(struct ctrl_pggrants *g)
{
	pg_obs_grants_release(&g->obs);
	pg_obs_role_release(&g->role);
	api_strv_release(&g->dbs);
	free(g->grantee);
	memset(g, 0, sizeof(*g));
}

static void
obs_server(struct cpass *p)
{
	cpass_query(p, QG_SERVER, PGQ_SERVER, 0, NULL);
}

void
ctrl_pggrants_observe(struct cpass *p, struct ctrl_pggrants *g,
    const char *grantee)
{
	pg_obs_grants_release(&g->obs);
	pg_obs_grants_init(&g->obs);
	pg_obs_role_release(&g->role);
	pg_obs_role_init(&g->role);
	g->next_db = 0;
	g->cur = NULL;
	free(g->grantee);
	g->grantee = xstrdup(grantee);
	p->observer = g;
	cpass_with_conn(p, NULL, obs_server);
}

int
ctrl_pggrants_row(struct cpass *p, struct ctrl_pggrants *g,
    const char *const *cols, int ncols)
{
	switch (p->q) {
	case QG_SERVER:
		return pg_obs_server_row(&g->obs.server, cols, ncols);
	case QG_ROLE:
		return pg_obs_role_row(&g->role, cols, ncols);
	case QG_MEMBER:
		return pg_obs_member_row(&g->obs.member_of, cols, ncols);
	case QG_ACL:
		return pg_obs_acl_row(g->cur, cols, ncols);
	case QG_COUNTS:
		return pg_obs_count_row(g->cur, cols, ncols);
	case QG_DEFACL:
		return pg_obs_defacl_row(&g->cur->defacl, cols, ncols);
	}
	return -1;
}

static void
db_observe(struct cpass *p)
{
	struct ctrl_pggrants *g = G(p);
	const char *param[1] = { g->grantee };

	g->cur = pg_obs_grants_db_add(&g->obs, g->dbs.v[g->next_db]);
	g->next_db++;
	cpass_query(p, QG_ACL, PGQ_GRANTEE_ACL, 1, param);
}

/* The next database to observe, or true when all are done. */
static bool
db_next(struct cpass *p, struct ctrl_pggrants *g)
{
	const char *db;

	if (g->next_db >= g->dbs.n)
		return true;
	db = g->dbs.v[g->next_db];
	cpass_with_conn(p, *db ? db : NULL, db_observe);
	return false;
}

bool
ctrl_pggrants_answered(struct cpass *p, struct ctrl_pggrants *g)
{
	const char *param[1] = { g->grantee };

	switch (p->q) {
	case QG_SERVER:
		cpass_query(p, QG_ROLE, PGQ_ROLE, 1, param);
		return false;
	case QG_ROLE:
		g->obs.grantee_exists = g->role.exists;
		if (!g->role.exists)
			return true;	/* nothing held, nothing to revoke */
		cpass_query(p, QG_MEMBER, PGQ_MEMBER_OF, 1, param);
		return false;
	case QG_MEMBER:
		return db_next(p, g);
	case QG_ACL:
		cpass_query(p, QG_COUNTS, PGQ_SCHEMA_COUNTS, 0, NULL);
		return false;
	case QG_COUNTS:
		cpass_query(p, QG_DEFACL, PGQ_DEFAULT_ACL, 0, NULL);
		return false;
	case QG_DEFACL:
		return db_next(p, g);
	}
	return true;
}

/* Parses the applied-privileges annotation with read() into set; no
 * annotation leaves set empty. */
static int
grants_read(const struct api_meta *md,
    int (*read)(yajl_val v, void *set, char *err, size_t errlen), void *set,
    char *err, size_t errlen)
{
	const char *text = api_map_get(&md->annotations, ANN_APPLIED);
	yajl_val v;
	int rc;

	if (text == NULL || *text == '\0')
		return 0;
	if ((v = json_parse(text, strlen(text), err, errlen)) == NULL)
		return -1;
	rc = read(v, set, err, errlen);
	json_free(v);
	return rc;
}

static int
pg_set_read(yajl_val v, void *set, char *err, size_t errlen)
{
	return pg_privset_read(v, set, err, errlen);
}

static int
my_set_read(yajl_val v, void *set, char *err, size_t errlen)
{
	return myplan_privset_read(v, set, err, errlen);
}

int
ctrl_pggrants_read(const struct api_meta *md, struct pg_privset *prev,
    char *err, size_t errlen)
{
	return grants_read(md, pg_set_read, prev, err, errlen);
}

char *
ctrl_pggrants_json(const struct pg_privset *s)
{
	struct jw w;

	jw_init(&w);
	pg_privset_write(&w, s);
	return jw_finish(&w, NULL);
}

bool
ctrl_pggrants_recorded(const struct api_meta *md, const char *json)
{
	const char *text = api_map_get(&md->annotations, ANN_APPLIED);

	if (text == NULL || *text == '\0')
		return strcmp(json, "[]") == 0;
	return strcmp(text, json) == 0;
}

void
ctrl_pggrants_record(struct cpass *p, const char *json,
    void (*next)(struct cpass *p))
{
	cpass_annotate(p, ANN_APPLIED, strcmp(json, "[]") ? json : NULL,
	    next);
}

/* The same record for engine mysql (a myplan_privset). */
int
ctrl_mygrants_read(const struct api_meta *md, struct myplan_privset *prev,
    char *err, size_t errlen)
{
	return grants_read(md, my_set_read, prev, err, errlen);
}

char *
ctrl_mygrants_json(const struct myplan_privset *s)
{
	struct jw w;

	jw_init(&w);
	myplan_privset_write(&w, s);
	return jw_finish(&w, NULL);
}

char *
ctrl_pggrants_wide_json(const struct pg_privset *prev,
    const struct pg_privset *applied)
{
	struct pg_privset wide;
	char *json;

	pg_privset_init(&wide);
	pg_privset_union(&wide, prev);
	pg_privset_union(&wide, applied);
	json = ctrl_pggrants_json(&wide);
	pg_privset_release(&wide);
	return json;
}

char *
ctrl_mygrants_wide_json(const struct myplan_privset *prev,
    const struct myplan_privset *applied)
{
	struct myplan_privset wide;
	char *json;

	myplan_privset_init(&wide);
	myplan_privset_union(&wide, prev);
	myplan_privset_union(&wide, applied);
	json = ctrl_mygrants_json(&wide);
	myplan_privset_release(&wide);
	return json;
}

void
ctrl_grants_widen(struct cpass *p, const struct cobj *c, char *json,
    void (*next)(struct cpass *p))
{
	if (!sqlplan_empty(&p->plan) &&
	    !ctrl_pggrants_recorded(cobj_meta(c), json))
		ctrl_pggrants_record(p, json, next);
	else
		next(p);
	free(json);
}

static void
record_final(struct cpass *p)
{
	const struct cobj *c = ctrl_object(p->t);

	if (c == NULL || p->record == NULL ||
	    ctrl_pggrants_recorded(cobj_meta(c), p->record)) {
		cpass_end_recorded(p);
		return;
	}
	ctrl_pggrants_record(p, p->record, cpass_end_recorded);
}

void
ctrl_grants_leave(struct cpass *p, char *json)
{
	free(p->record);
	p->record = json;
	p->after_write = record_final;
}

/* ---- the DatabaseGrant pass ---------------------------------------------------- */

struct grun {
	struct cpass p;		/* first: the runner's part */
	struct ctrl_pggrants g;
	struct pg_privset prev;		/* the recorded applied set */
	struct pg_privset applied;	/* what this pass's plan leaves */
	/* engine mysql */
	struct ctrl_myuser my;
	struct myplan_privset myprev, myapplied;
	struct api_strv hosts;		/* the user's allowedHosts */
};

static const struct api_grant *
typed(const struct cobj *c)
{
	return c->typed;
}

static struct grun *
R(struct cpass *p)
{
	return (struct grun *)p;
}

static void plan_stage(struct grun *r);

static int
row(struct cpass *p, const char *const *cols, int ncols)
{
	if (p->engine == API_ENGINE_MYSQL)
		return ctrl_myuser_row(p, &R(p)->my, cols, ncols);
	return ctrl_pggrants_row(p, &R(p)->g, cols, ncols);
}

static void
answered(struct cpass *p)
{
	if (p->engine == API_ENGINE_MYSQL ?
	    ctrl_myuser_answered(p, &R(p)->my) :
	    ctrl_pggrants_answered(p, &R(p)->g))
		plan_stage(R(p));
}

static void
metric(struct cpass *p, enum metrics_op op, bool ok)
{
	metrics_grant_operation(op, api_engine_names[p->engine], ok,
	    p->t->namespace);
}


static void
success_status(struct grun *r)
{
	const struct cobj *c = ctrl_object(r->p.t);
	const struct api_grant *gr;
	struct api_grant_status st;
	struct api_strv roles = { NULL, 0 };

	if (c == NULL) {
		cpass_end(&r->p, RRESULT_DONE, 0);
		return;
	}
	gr = typed(c);
	if (cobj_meta(c)->generation != r->p.generation) {
		cpass_end(&r->p, RRESULT_REQUEUE, 0);	/* the spec changed */
		return;
	}
	cpass_status_base(&r->p, &st, c);
	st.phase = API_PHASE_READY;
	st.message = (char *)"Grants applied successfully";
	st.applied_grants.set = true;
	if (r->p.engine == API_ENGINE_MYSQL) {
		myplan_privset_roles(&r->myapplied, &roles);
		st.applied_grants.direct_grants =
		    (int32_t)gr->spec.mysql.grants.n;
		st.applied_grants.default_privileges = 0;
		ctrl_grants_leave(&r->p, ctrl_mygrants_json(&r->myapplied));
	} else {
		pg_privset_roles(&r->applied, &roles);
		st.applied_grants.direct_grants =
		    (int32_t)gr->spec.postgres.grants.n;
		st.applied_grants.default_privileges =
		    (int32_t)gr->spec.postgres.n_default_privileges;
		ctrl_grants_leave(&r->p, ctrl_pggrants_json(&r->applied));
	}
	st.applied_grants.roles = roles;
	cpass_ready(&r->p, c, &st, true);
	cpass_finish(&r->p, c, &st, RRESULT_REQUEUE, CPASS_RESYNC);
	api_conditions_release(&st.conditions);
	api_strv_release(&roles);
}

static void
executed(struct cpass *p)
{
	struct grun *r = R(p);

	if (p->deleting) {
		metric(p, METRICS_OP_DELETE, true);
		if (ctrl_object(p->t) != NULL &&
		    !ctrl_pggrants_recorded(cobj_meta(ctrl_object(p->t)),
		    "[]")) {
			ctrl_pggrants_record(p, "[]", cpass_remove_finalizer);
			return;
		}
		cpass_remove_finalizer(p);
		return;
	}
	metric(p, p->exists ? METRICS_OP_UPDATE : METRICS_OP_CREATE, true);
	p->executed = true;
	success_status(r);
}

static void
run_plan(struct cpass *p)
{
	const struct cobj *c = ctrl_object(p->t);

	if (c == NULL || !cpass_apply(p, c, "Applying grants"))
		success_status(R(p));
}

/* plan_stage() for engine mysql. */
static void
my_plan_stage(struct grun *r, const struct cobj *c)
{
	struct cpass *p = &r->p;
	const struct api_grant *gr = typed(c);
	char err[512], msg[CPASS_MSG_MAX];

	if (p->deleting) {
		if (mysqlplan_grant_revoke(p->name, &gr->spec.mysql,
		    &r->my.obs, &r->myprev, &p->plan, err, sizeof(err)) < 0) {
			cpass_run_failed(p, "plan", err);
			return;
		}
		cpass_run_plan(p);
		return;
	}
	p->exists = gr->status.phase == API_PHASE_READY ||
	    gr->status.applied_grants.set;
	if (mysqlplan_grant(p->name, &r->hosts, &gr->spec.mysql, &r->my.obs,
	    &r->myprev, &p->plan, &r->myapplied, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "cannot apply the spec: %s", err);
		cpass_fail(p, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_REQUEUE, 30);
		return;
	}
	ctrl_grants_widen(p, c, ctrl_mygrants_wide_json(&r->myprev,
	    &r->myapplied), run_plan);
}

static void
plan_stage(struct grun *r)
{
	struct cpass *p = &r->p;
	const struct cobj *c = ctrl_object(p->t);
	const struct api_grant *gr;
	char err[512], msg[CPASS_MSG_MAX];
	int rc;

	if (c == NULL) {
		cpass_end(p, RRESULT_DONE, 0);
		return;
	}
	gr = typed(c);
	if (p->engine == API_ENGINE_MYSQL) {
		my_plan_stage(r, c);
		return;
	}
	if (p->deleting) {
		if (pgplan_grant_revoke(r->g.grantee, &gr->spec.postgres,
		    &r->g.obs, &r->prev, &p->plan, err, sizeof(err)) < 0) {
			cpass_run_failed(p, "plan", err);
			return;
		}
		cpass_run_plan(p);
		return;
	}
	/* A grant is "new" until it was once Ready: Creating first. */
	p->exists = typed(c)->status.phase == API_PHASE_READY ||
	    typed(c)->status.applied_grants.set;
	rc = pgplan_grant(r->g.grantee, &gr->spec.postgres, &r->g.obs,
	    &r->prev, &p->plan, &r->applied, err, sizeof(err));
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "cannot apply the spec: %s", err);
		cpass_fail(p, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return;
	}
	/* Record everything this pass may grant before granting it. */
	ctrl_grants_widen(p, c, ctrl_pggrants_wide_json(&r->prev,
	    &r->applied), run_plan);
}

static void
release(struct cpass *p)
{
	struct grun *r = R(p);

	ctrl_pggrants_release(&r->g);
	pg_privset_release(&r->prev);
	pg_privset_release(&r->applied);
	ctrl_myuser_release(&r->my);
	myplan_privset_release(&r->myprev);
	myplan_privset_release(&r->myapplied);
	api_strv_release(&r->hosts);
}

static void
status_write(struct jw *w, const void *st)
{
	api_grant_status_write(w, st);
}

static const struct cpass_kind grant_kind = {
	.kind = API_GRANT,
	.noun = "grant",
	CPASS_STATUS_LAYOUT(struct api_grant, status),
	.status_write = status_write,
	.row = row,
	.answered = answered,
	.executed = executed,
	.release = release,
	.metric = metric,
	.engines = CTRL_ENGINE(API_ENGINE_POSTGRES) |
	    CTRL_ENGINE(API_ENGINE_MYSQL),
};

/* The DatabaseUser of the grant, or NULL with the refusal filled. */
static const struct api_user *
resolve_user(struct rtask *t, const struct cobj *c, bool deleting,
    struct ctrl_refusal *why, char *msg, size_t msglen)
{
	const struct api_grant *gr = typed(c);
	const char *own = cobj_meta(c)->ns;
	const char *ns = gr->spec.user.ns && *gr->spec.user.ns ?
	    gr->spec.user.ns : own;
	const char *name = gr->spec.user.name ? gr->spec.user.name : "";
	struct informer *inf = mgr_informer(t->mgr,
	    api_kind_info(API_USER)->singular);
	const struct kobj *o;
	const struct cobj *uc;
	const struct api_user *us;

	why->phase = API_PHASE_FAILED;
	why->reason = "UserNotFound";
	why->res = RRESULT_DONE;
	why->delay = 0;
	if (!streq(ns, own)) {
		why->reason = "CrossNamespaceRefused";
		snprintf(msg, msglen, "spec.userRef: DatabaseUser %s/%s is in "
		    "another namespace; only users of the DatabaseGrant's "
		    "own namespace may be used", ns, name);
		return NULL;
	}
	o = inf ? informer_get(inf, ns, name) : NULL;
	uc = o ? o->data : NULL;
	if (uc == NULL || uc->errors) {
		why->reason = "UserNotFound";
		why->res = RRESULT_REQUEUE;
		why->delay = RETRY_NOTFOUND;
		snprintf(msg, msglen, "Referenced DatabaseUser %s/%s %s", ns,
		    name, uc ? "has an invalid spec" : "not found");
		return NULL;
	}
	us = uc->typed;
	if (!deleting && us->status.phase != API_PHASE_READY) {
		why->phase = API_PHASE_PENDING;
		why->reason = "UserNotReady";
		why->res = RRESULT_REQUEUE;
		why->delay = RETRY_NOTREADY;
		snprintf(msg, msglen, "Waiting for DatabaseUser %s to be ready",
		    name);
		return NULL;
	}
	return us;
}

static void
start(struct rtask *t, const struct cobj *c, bool deleting)
{
	const struct api_grant *gr = typed(c);
	const struct api_user *us;
	struct ctrl_refusal why;
	struct grun *r;
	char msg[CPASS_MSG_MAX], err[256];
	struct api_ref none;

	memset(&none, 0, sizeof(none));
	us = resolve_user(t, c, deleting, &why, msg, sizeof(msg));
	r = cpass_new(t, &grant_kind, sizeof(*r), c,
	    us ? &us->spec.instance : &none, us ? us->spec.username : NULL);
	r->p.deleting = deleting;
	ctrl_pggrants_init(&r->g);
	pg_privset_init(&r->prev);
	pg_privset_init(&r->applied);
	ctrl_myuser_init(&r->my);
	myplan_privset_init(&r->myprev);
	myplan_privset_init(&r->myapplied);
	if (us == NULL) {
		if (deleting) {
			/* No user object: its role went with it. */
			cpass_remove_finalizer(&r->p);
			return;
		}
		cpass_fail(&r->p, why.phase, why.reason, msg, why.res,
		    why.delay);
		return;
	}
	if (cpass_resolve(&r->p, c, &us->spec.instance,
	    gr->spec.postgres.set, gr->spec.mysql.set) == NULL)
		return;
	if (r->p.engine == API_ENGINE_MYSQL) {
		if (ctrl_mygrants_read(cobj_meta(c), &r->myprev, err,
		    sizeof(err)) < 0) {
			log_warn("applied privileges annotation unreadable",
			    "namespace", t->namespace, "name", t->name,
			    "error", err);
			myplan_privset_release(&r->myprev);
			myplan_privset_init(&r->myprev);
		}
		if (us->spec.mysql.set)
			for (size_t i = 0; i < us->spec.mysql.allowed_hosts.n;
			    i++)
				api_strv_push(&r->hosts,
				    us->spec.mysql.allowed_hosts.v[i]);
		ctrl_myuser_observe(&r->p, &r->my, r->p.name, true);
		return;
	}
	if (ctrl_pggrants_read(cobj_meta(c), &r->prev, err, sizeof(err)) < 0) {
		/* Unreadable record: treated as empty, said in the log. */
		log_warn("applied privileges annotation unreadable",
		    "namespace", t->namespace, "name", t->name, "error", err);
		pg_privset_release(&r->prev);
		pg_privset_init(&r->prev);
	}
	pgplan_grant_databases(&gr->spec.postgres, NULL, &r->prev, &r->g.dbs);
	ctrl_pggrants_observe(&r->p, &r->g, r->p.name);
}

static void
deletion(struct rtask *t, const struct cobj *c)
{
	const struct api_meta *md = cobj_meta(c);

	if (!api_meta_has_finalizer(md, api_kind_finalizer(API_GRANT))) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	if (c->errors) {
		struct grun *r = cpass_new(t, &grant_kind, sizeof(*r), c,
		    &typed(c)->spec.user, NULL);

		r->p.deleting = true;
		ctrl_pggrants_init(&r->g);
		pg_privset_init(&r->prev);
		pg_privset_init(&r->applied);
		ctrl_myuser_init(&r->my);
		myplan_privset_init(&r->myprev);
		myplan_privset_init(&r->myapplied);
		cpass_fail(&r->p, API_PHASE_FAILED,
		    "DeletionFailed", "cannot revoke the grants: the spec is "
		    "invalid; fix it", RRESULT_DONE, 0);
		return;
	}
	start(t, c, true);
}

static void
grant_reconcile(struct rtask *t)
{
	const struct cobj *c = ctrl_preamble(t, API_GRANT, NULL, deletion);

	if (c != NULL)
		start(t, c, false);
}

static void
grant_abort(struct rtask *t)
{
	cpass_abort(t);
}

const struct ctrl_entry ctrl_grant_entry = {
	API_GRANT, grant_reconcile, grant_abort,
};
