/*
 * ctrl_database.c - the Database controller for engine postgres
 * (behavior.md §1.2, api.md §8, without the defects listed there).
 *
 * One pass:
 *
 *   deleting ........ no finalizer: nothing. Protection on and no
 *                     force-delete annotation: keep the finalizer, say so.
 *                     Retain: remove the finalizer. Snapshot: keep it,
 *                     Ready=False SnapshotNotSupported. Delete: observe,
 *                     pgplan_database_drop (force-delete: WITH (FORCE)),
 *                     run it, then remove the finalizer; a failure keeps
 *                     the finalizer and says why.
 *   skip annotation . nothing
 *   invalid spec .... ctrl_validate
 *   no finalizer .... add it and end (our own write starts the next pass)
 *   instance ........ same namespace only (a ref naming another namespace
 *                     is refused: CrossNamespaceRefused); missing:
 *                     InstanceNotFound, requeue 30 s; not Ready:
 *                     InstanceNotReady, requeue 10 s
 *   otherwise ....... observe (PGQ_SERVER, PGQ_DATABASE and the size on
 *                     the admin database; PGQ_EXTENSIONS, PGQ_SCHEMAS,
 *                     PGQ_DEFAULT_ACL inside the database when it exists
 *                     and accepts connections), plan (pgplan_database),
 *                     run the steps in order each on its database's
 *                     connection (never inside BEGIN), observe again, and
 *                     write the status when it differs from the cache.
 *
 * Steps run on an existing database whose generation was already
 * reconciled are drift repairs: event "Repaired". The whole pass is
 * bounded by PASS_TIMEOUT.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "api.h"
#include "api_database.h"
#include "api_instance.h"
#include "buf.h"
#include "ctrl.h"
#include "instances.h"
#include "json.h"
#include "khttp.h"
#include "kwrite.h"
#include "log.h"
#include "metrics.h"
#include "mgr.h"
#include "pgconn.h"
#include "pgplan.h"
#include "pool.h"
#include "sqlstep.h"

#define COND_READY	"Ready"
#define COND_SYNCED	"Synced"

#define PASS_TIMEOUT	120.0
#define RESYNC_READY	300.0
#define MSG_MAX		1024

static const char PGQ_DBSIZE[] = "SELECT pg_database_size($1)";

enum qkind { Q_SERVER, Q_DATABASE, Q_SIZE, Q_EXT, Q_SCHEMAS, Q_DEFACL,
	Q_STEP };

struct dbrun {
	struct rtask *t;
	struct cctx *cx;
	char *inst_key;		/* "ns/name" */
	char *dbname;		/* spec.name */
	char *pc_db;		/* database of pc (NULL = admin) */
	struct instances_wait *wait;
	struct pool_conn *pc;
	bool querying;
	struct kreq *write;
	ev_timer timeout;
	double started;
	bool deleting;
	bool force;
	bool executed;		/* the plan ran: this is the re-observation */
	bool created;
	bool repair;		/* steps on an already reconciled generation */
	const char *reason;	/* condition reason of a connect failure */
	int64_t generation;
	enum qkind q;
	void (*next)(struct dbrun *r);	/* after the connection is there */
	void (*after_write)(struct dbrun *r);	/* the Creating write */
	struct pg_obs_database obs;
	int64_t size;
	struct sqlplan plan;
	size_t step;
	enum rresult res;
	double delay;
};

static const struct api_database *
typed(const struct cobj *c)
{
	return c->typed;
}

static void
dbrun_free(struct dbrun *r)
{
	if (r->wait)
		instances_cancel(r->wait);
	if (r->pc)
		instances_release(r->cx->instances, r->pc, r->querying);
	if (r->write)
		kreq_cancel(r->write);
	ev_timer_stop(mgr_loop(r->t->mgr), &r->timeout);
	pg_obs_database_release(&r->obs);
	sqlplan_release(&r->plan);
	free(r->inst_key);
	free(r->dbname);
	free(r->pc_db);
	free(r);
}

static void
end(struct dbrun *r, enum rresult res, double delay)
{
	struct rtask *t = r->t;

	t->priv = NULL;
	dbrun_free(r);
	rtask_done(t, res, delay);
}

/* ---- status -------------------------------------------------------------- */

static void
write_done(struct kreq *req, void *arg)
{
	struct dbrun *r = arg;
	char err[512];

	r->write = NULL;
	switch (kwrite_classify(req)) {
	case KW_OK:
		if (r->after_write) {
			void (*next)(struct dbrun *) = r->after_write;

			r->after_write = NULL;
			next(r);
			return;
		}
		break;
	case KW_NOT_FOUND:
		break;
	case KW_CONFLICT:
		r->res = RRESULT_REQUEUE;
		r->delay = 0.5;
		break;
	default:
		kwrite_error_text(req, err, sizeof(err));
		log_warn("status update failed", "controller", r->t->def->name,
		    "namespace", r->t->namespace, "name", r->t->name, "error",
		    err);
		r->res = RRESULT_FAILED;
		break;
	}
	end(r, r->res, r->delay);
}

static char *
status_json(const struct api_database_status *st)
{
	struct jw w;

	jw_init(&w);
	api_database_status_write(&w, st);
	return jw_finish(&w, NULL);
}

/* Writes st when it differs from the cached status, then ends. */
static void
finish(struct dbrun *r, const struct cobj *c,
    const struct api_database_status *st, enum rresult res, double delay)
{
	struct rtask *t = r->t;
	const struct api_meta *md;
	char *now, *was, *patch;
	struct kres kr;
	struct jw w;

	r->res = res;
	r->delay = delay;
	if (r->after_write == NULL)
		ev_timer_stop(mgr_loop(t->mgr), &r->timeout);
	if (c == NULL || st == NULL) {
		end(r, res, delay);
		return;
	}
	now = status_json(st);
	was = status_json(&typed(c)->status);
	if (strcmp(now, was) == 0) {
		free(now);
		free(was);
		if (r->after_write) {
			void (*next)(struct dbrun *) = r->after_write;

			r->after_write = NULL;
			next(r);
			return;
		}
		end(r, res, delay);
		return;
	}
	free(was);
	md = cobj_meta(c);
	jw_init(&w);
	jw_obj_open(&w);
	jw_key(&w, "metadata");
	jw_obj_open(&w);
	jw_kstr(&w, "resourceVersion", md->resource_version);
	jw_obj_close(&w);
	jw_key(&w, "status");
	api_database_status_write(&w, st);
	jw_obj_close(&w);
	patch = jw_finish(&w, NULL);
	free(now);
	memset(&kr, 0, sizeof(kr));
	kr.group_path = t->def->group_path;
	kr.resource = t->def->resource;
	kr.namespaced = true;
	log_info("status updated", "controller", t->def->name, "namespace",
	    t->namespace, "name", t->name, "phase",
	    api_phase_names[st->phase]);
	r->write = kobj_merge_patch(mgr_http(t->mgr), &kr, t->namespace,
	    t->name, "status", patch, write_done, r);
	free(patch);
}

/* A status based on the cached one (strings borrowed from the cache). */
static void
status_base(struct api_database_status *st, const struct cobj *c)
{
	const struct api_database *db = typed(c);

	*st = db->status;
	ctrl_conditions_copy(&st->conditions, &db->status.conditions);
	st->observed_generation = cobj_meta(c)->generation;
}

/* Ends the pass with phase/message and Ready=False reason msg; a Warning
 * event when the Ready condition changes. */
static void
fail_status(struct dbrun *r, enum api_phase phase, const char *reason,
    const char *msg, enum rresult res, double delay)
{
	const struct cobj *c = ctrl_object(r->t);
	const struct api_meta *md;
	struct api_database_status st;
	bool changed;
	int64_t now = (int64_t)wall_now();

	if (c == NULL) {
		end(r, RRESULT_DONE, 0);
		return;
	}
	md = cobj_meta(c);
	status_base(&st, c);
	st.phase = phase;
	st.message = (char *)msg;
	changed = api_conditions_set(&st.conditions, COND_READY,
	    API_COND_FALSE, reason, msg, md->generation, now);
	if (!r->deleting)
		changed |= api_conditions_set(&st.conditions, COND_SYNCED,
		    API_COND_FALSE, reason, msg, md->generation, now);
	if (changed)
		ctrl_emit(r->cx, c, EVENT_WARNING, reason, msg);
	log_info("database not ready", "namespace", md->ns, "name", md->name,
	    "reason", reason, "message", msg);
	finish(r, c, &st, res, delay);
	api_conditions_release(&st.conditions);
}

/* ---- connections and queries ----------------------------------------------- */

static void run_failed(struct dbrun *r, const char *what, const char *msg);

static void
got_conn(struct pool_conn *pc, const struct instances_err *err, void *arg)
{
	struct dbrun *r = arg;

	r->wait = NULL;
	if (pc == NULL) {
		if (err->code == INSTANCES_ESECRET)
			r->reason = "SecretNotFound";
		else if (err->code == INSTANCES_ETLS)
			r->reason = "TLSConfigInvalid";
		run_failed(r, "connect", err->msg);
		return;
	}
	r->pc = pc;
	r->next(r);
}

/* Runs next with a connection to db (NULL = admin database). */
static void
with_conn(struct dbrun *r, const char *db, void (*next)(struct dbrun *))
{
	r->next = next;
	if (r->pc && strcmp0(r->pc_db, db) == 0) {
		next(r);
		return;
	}
	if (r->pc) {
		instances_release(r->cx->instances, r->pc, false);
		r->pc = NULL;
	}
	free(r->pc_db);
	r->pc_db = db ? xstrdup(db) : NULL;
	r->wait = instances_acquire(r->cx->instances, r->inst_key, db,
	    got_conn, r);
}

static void on_rows(struct dbrun *r, const struct pgconn_result *res);
static void step_next(struct dbrun *r);

static void
q_done(struct pgconn *conn, const struct pgconn_result *res, void *arg)
{
	struct dbrun *r = arg;
	char msg[MSG_MAX];

	(void)conn;
	r->querying = false;
	if (res->err.code != PGCONN_OK) {
		if (res->err.code != PGCONN_ESERVER) {
			instances_release(r->cx->instances, r->pc, true);
			r->pc = NULL;
		}
		if (res->err.sqlstate[0])
			snprintf(msg, sizeof(msg), "SQLSTATE %s: %s",
			    res->err.sqlstate, res->err.msg);
		else
			snprintf(msg, sizeof(msg), "%s", res->err.msg);
		run_failed(r, r->q == Q_STEP && r->step < r->plan.n &&
		    r->plan.v[r->step].desc ? r->plan.v[r->step].desc :
		    "observe", msg);
		return;
	}
	on_rows(r, res);
}

static void
query(struct dbrun *r, enum qkind q, const char *sql, int n,
    const char *const *params)
{
	struct pgconn *conn = pool_conn_get(r->pc);

	r->q = q;
	r->querying = true;
	if (pgconn_query(conn, sql, n, params, q_done, r) < 0) {
		r->querying = false;
		instances_release(r->cx->instances, r->pc, true);
		r->pc = NULL;
		run_failed(r, "query", pgconn_error(conn)->msg);
	}
}

/* ---- observing --------------------------------------------------------------- */

static void plan_stage(struct dbrun *r);

static void
obs_server(struct dbrun *r)
{
	query(r, Q_SERVER, PGQ_SERVER, 0, NULL);
}

static void
obs_inside(struct dbrun *r)
{
	query(r, Q_EXT, PGQ_EXTENSIONS, 0, NULL);
}

static void
observe(struct dbrun *r)
{
	pg_obs_database_release(&r->obs);
	pg_obs_database_init(&r->obs);
	r->size = -1;
	with_conn(r, NULL, obs_server);
}

static void
on_rows(struct dbrun *r, const struct pgconn_result *res)
{
	const char *cols[16];
	const char *p[1];
	int i, j, rc = 0;

	for (i = 0; i < res->nrows && rc == 0; i++) {
		for (j = 0; j < res->ncols && j < 16; j++)
			cols[j] = pgconn_res_value(res, i, j);
		switch (r->q) {
		case Q_SERVER:
			rc = pg_obs_server_row(&r->obs.server, cols, res->ncols);
			break;
		case Q_DATABASE:
			rc = pg_obs_database_row(&r->obs, cols, res->ncols);
			break;
		case Q_SIZE:
			r->size = cols[0] ? strtoll(cols[0], NULL, 10) : -1;
			break;
		case Q_EXT:
			rc = pg_obs_extension_row(&r->obs, cols, res->ncols);
			break;
		case Q_SCHEMAS:
			rc = pg_obs_schema_row(&r->obs, cols, res->ncols);
			break;
		case Q_DEFACL:
			rc = pg_obs_defacl_row(&r->obs.defacl, cols,
			    res->ncols);
			break;
		case Q_STEP:
			break;
		}
	}
	if (rc < 0) {
		run_failed(r, "observe", "unexpected answer from the server");
		return;
	}
	p[0] = r->dbname;
	switch (r->q) {
	case Q_SERVER:
		query(r, Q_DATABASE, PGQ_DATABASE, 1, p);
		break;
	case Q_DATABASE:
		if (!r->obs.exists) {
			plan_stage(r);
			break;
		}
		query(r, Q_SIZE, PGQ_DBSIZE, 1, p);
		break;
	case Q_SIZE:
		if (r->obs.allow_conn && !r->deleting)
			with_conn(r, r->dbname, obs_inside);
		else
			plan_stage(r);
		break;
	case Q_EXT:
		query(r, Q_SCHEMAS, PGQ_SCHEMAS, 0, NULL);
		break;
	case Q_SCHEMAS:
		query(r, Q_DEFACL, PGQ_DEFAULT_ACL, 0, NULL);
		break;
	case Q_DEFACL:
		r->obs.inside = true;
		plan_stage(r);
		break;
	case Q_STEP:
		step_next(r);
		break;
	}
}

/* ---- executing ------------------------------------------------------------------ */

static int
q_ident(void *ctx, const char *s, struct buf *out)
{
	char err[128], *q = pgconn_escape_identifier(ctx, s, err, sizeof(err));
	int rc;

	if (q == NULL)
		return -1;
	rc = buf_append(out, q, strlen(q));
	free(q);
	return rc;
}

static int
q_literal(void *ctx, const char *s, struct buf *out)
{
	char err[128], *q = pgconn_escape_literal(ctx, s, err, sizeof(err));
	int rc;

	if (q == NULL)
		return -1;
	rc = buf_append(out, q, strlen(q));
	free(q);
	return rc;
}

static void run_step(struct dbrun *r);
static void executed(struct dbrun *r);

static void
exec_step(struct dbrun *r)
{
	const struct sqlstep *st = &r->plan.v[r->step];
	struct pgconn *conn = pool_conn_get(r->pc);
	struct sqlquote q = { conn, q_ident, q_literal };
	const char *params[16];
	size_t np;
	struct buf sql;
	char err[256];

	buf_init(&sql, 0);
	np = sqlstep_params(st, params, 16);
	if (np > 16 || sqlstep_render(st, &q, &sql, err, sizeof(err)) < 0) {
		buf_release_secret(&sql);
		run_failed(r, st->desc ? st->desc : "render", np > 16 ?
		    "too many parameters" : err);
		return;
	}
	log_debug("running step", "namespace", r->t->namespace, "name",
	    r->t->name, "step", st->desc ? st->desc : "");
	r->q = Q_STEP;
	r->querying = true;
	if (pgconn_query(conn, buf_cstr(&sql), (int)np, params, q_done,
	    r) < 0) {
		r->querying = false;
		buf_release_secret(&sql);
		instances_release(r->cx->instances, r->pc, true);
		r->pc = NULL;
		run_failed(r, st->desc ? st->desc : "query",
		    pgconn_error(conn)->msg);
		return;
	}
	buf_release_secret(&sql);
}

static void
run_step(struct dbrun *r)
{
	if (r->step >= r->plan.n) {
		executed(r);
		return;
	}
	with_conn(r, r->plan.v[r->step].database, exec_step);
}

static void
step_next(struct dbrun *r)
{
	const struct sqlstep *st = &r->plan.v[r->step];
	const struct cobj *c = ctrl_object(r->t);
	char msg[MSG_MAX];

	if (c && st->desc) {
		if (r->repair) {
			snprintf(msg, sizeof(msg), "repaired: %s", st->desc);
			ctrl_emit(r->cx, c, EVENT_NORMAL, "Repaired", msg);
		} else
			ctrl_emit(r->cx, c, EVENT_NORMAL, r->deleting ?
			    "Deleted" : r->obs.exists ? "Updated" : "Created",
			    st->desc);
	}
	r->step++;
	run_step(r);
}

/* ---- deletion ------------------------------------------------------------------ */

static const char *
engine_of(struct dbrun *r)
{
	(void)r;
	return api_engine_names[API_ENGINE_POSTGRES];
}

static void
forget_metrics(const struct cobj *c)
{
	const struct api_database *db = typed(c);

	if (db->spec.name && db->spec.instance.name)
		metrics_database_forget(db->spec.name, db->spec.instance.name,
		    "postgres", cobj_meta(c)->ns);
}

static void
remove_finalizer(struct dbrun *r)
{
	struct rtask *t = r->t;
	const struct cobj *c = ctrl_object(t);

	t->priv = NULL;
	dbrun_free(r);
	if (c == NULL) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	forget_metrics(c);
	ctrl_finalizer(t, c, false, ctrl_finalizer_written, NULL);
}

/* ---- the pass -------------------------------------------------------------------- */

static void
run_failed(struct dbrun *r, const char *what, const char *msg)
{
	char text[MSG_MAX];
	const char *reason;

	if (r->deleting) {
		metrics_database_operation(METRICS_OP_DELETE, engine_of(r), false,
		    r->t->namespace, -1);
		snprintf(text, sizeof(text),
		    "cannot drop database %s, the finalizer is kept: %s: %s",
		    r->dbname, what, msg);
		fail_status(r, API_PHASE_DELETING, "DeletionFailed", text,
		    RRESULT_FAILED, 0);
		return;
	}
	if (r->q == Q_STEP && !r->executed) {
		bool create = !r->obs.exists;

		metrics_database_operation(create ? METRICS_OP_CREATE :
		    METRICS_OP_UPDATE, engine_of(r), false, r->t->namespace, -1);
		reason = create ? "CreateFailed" : "UpdateFailed";
		snprintf(text, sizeof(text), "%s failed: %s", what, msg);
	} else {
		reason = r->reason ? r->reason : "ReconcileFailed";
		snprintf(text, sizeof(text), "%s: %s", what, msg);
	}
	fail_status(r, API_PHASE_FAILED, reason, text, RRESULT_FAILED, 0);
}

static void
success_status(struct dbrun *r)
{
	const struct cobj *c = ctrl_object(r->t);
	const struct api_database *db;
	const struct api_meta *md;
	struct api_database_status st;
	struct api_pg_extension_status *ext = NULL;
	char **schemas = NULL;
	bool changed;
	int64_t now = (int64_t)wall_now();
	size_t i;

	if (c == NULL) {
		end(r, RRESULT_DONE, 0);
		return;
	}
	db = typed(c);
	md = cobj_meta(c);
	if (md->generation != r->generation) {
		end(r, RRESULT_REQUEUE, 0);	/* the spec changed meanwhile */
		return;
	}
	status_base(&st, c);
	st.phase = API_PHASE_READY;
	st.message = (char *)"Database is ready";
	st.database.set = true;
	st.database.name = r->dbname;
	st.database.owner = r->obs.owner;
	st.database.size_bytes = r->size > 0 ? r->size : 0;
	if (r->created)
		st.database.created_at = now;
	st.postgres.set = true;
	st.postgres.encoding = r->obs.encoding;
	st.postgres.collation = r->obs.collate;
	if (r->obs.inside) {
		ext = xcalloc(r->obs.n_extensions + 1, sizeof(*ext));
		for (i = 0; i < r->obs.n_extensions; i++) {
			ext[i].name = r->obs.extensions[i].name;
			ext[i].version = r->obs.extensions[i].version;
		}
		st.postgres.installed_extensions = ext;
		st.postgres.n_installed_extensions = r->obs.n_extensions;
		schemas = xcalloc(r->obs.n_schemas + 1, sizeof(*schemas));
		for (i = 0; i < r->obs.n_schemas; i++)
			schemas[i] = r->obs.schemas[i].name;
		st.postgres.schemas.v = schemas;
		st.postgres.schemas.n = r->obs.n_schemas;
	}
	changed = api_conditions_set(&st.conditions, COND_SYNCED,
	    API_COND_TRUE, "ReconcileSuccess", "Database is synced",
	    md->generation, now);
	changed |= api_conditions_set(&st.conditions, COND_READY,
	    API_COND_TRUE, "ReconcileSuccess", "Database is ready",
	    md->generation, now);
	if (changed)
		ctrl_emit(r->cx, c, EVENT_NORMAL, "Ready", "Database is ready");
	if (r->size >= 0)
		metrics_database_size(r->dbname, db->spec.instance.name,
		    "postgres", md->ns, (double)r->size);
	finish(r, c, &st, RRESULT_REQUEUE, RESYNC_READY);
	api_conditions_release(&st.conditions);
	free(ext);
	free(schemas);
}

static void
executed(struct dbrun *r)
{
	if (r->deleting) {
		metrics_database_operation(METRICS_OP_DELETE, engine_of(r), true,
		    r->t->namespace, mono_now() - r->started);
		remove_finalizer(r);
		return;
	}
	metrics_database_operation(r->obs.exists ? METRICS_OP_UPDATE :
	    METRICS_OP_CREATE, engine_of(r), true, r->t->namespace,
	    mono_now() - r->started);
	r->created = !r->obs.exists;
	r->executed = true;
	sqlplan_clear(&r->plan);
	observe(r);
}

static void
run_plan(struct dbrun *r)
{
	r->step = 0;
	run_step(r);
}

/* A new database: phase Creating is written first, then the steps run. */
static void
creating_status_then_run(struct dbrun *r, const struct cobj *c)
{
	struct api_database_status st;

	if (r->obs.exists) {
		run_plan(r);
		return;
	}
	status_base(&st, c);
	st.phase = API_PHASE_CREATING;
	st.message = (char *)"Creating database";
	r->after_write = run_plan;
	finish(r, c, &st, RRESULT_DONE, 0);
	api_conditions_release(&st.conditions);
}

static void
plan_stage(struct dbrun *r)
{
	const struct cobj *c = ctrl_object(r->t);
	const struct api_database *db;
	const struct api_meta *md;
	const struct api_condition *ready;
	char err[512], msg[MSG_MAX];

	if (c == NULL) {
		end(r, RRESULT_DONE, 0);
		return;
	}
	db = typed(c);
	md = cobj_meta(c);
	if (r->deleting) {
		if (!r->obs.exists) {
			remove_finalizer(r);
			return;
		}
		if (pgplan_database_drop(r->dbname, &r->obs, r->force,
		    &r->plan, err, sizeof(err)) < 0) {
			run_failed(r, "plan", err);
			return;
		}
		/* Our own idle connections to the database would make the
		 * DROP fail ("being accessed by other users"). */
		instances_close_idle(r->cx->instances, r->inst_key);
		run_plan(r);
		return;
	}
	if (r->executed) {
		success_status(r);
		return;
	}
	if (pgplan_database(&db->spec, &r->obs, &r->plan, err,
	    sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "cannot apply the spec: %s", err);
		fail_status(r, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return;
	}
	if (sqlplan_empty(&r->plan)) {
		success_status(r);
		return;
	}
	ready = api_conditions_get(&db->status.conditions, COND_READY);
	r->repair = r->obs.exists && ready && ready->status == API_COND_TRUE &&
	    db->status.observed_generation == md->generation;
	if (r->repair)
		log_info("repairing drift", "namespace", md->ns, "name",
		    md->name, "steps", r->plan.v[0].desc ? r->plan.v[0].desc :
		    "");
	creating_status_then_run(r, c);
}

static void
pass_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dbrun *r = container_of(w, struct dbrun, timeout);
	char msg[64];

	(void)loop;
	(void)revents;
	if (r->wait) {
		instances_cancel(r->wait);
		r->wait = NULL;
	}
	if (r->pc) {
		instances_release(r->cx->instances, r->pc, true);
		r->pc = NULL;
		r->querying = false;
	}
	if (r->write) {
		kreq_cancel(r->write);
		r->write = NULL;
	}
	r->after_write = NULL;
	snprintf(msg, sizeof(msg), "timed out after %.0f s", PASS_TIMEOUT);
	r->q = Q_SERVER;
	run_failed(r, "reconcile", msg);
}

static struct dbrun *
dbrun_new(struct rtask *t, const struct cobj *c, const char *inst_ns)
{
	struct dbrun *r = xcalloc(1, sizeof(*r));
	const struct api_database *db = typed(c);

	r->t = t;
	r->cx = t->def->arg;
	r->inst_key = xasprintf("%s/%s", inst_ns, db->spec.instance.name ?
	    db->spec.instance.name : "");
	r->dbname = xstrdup(db->spec.name ? db->spec.name : "");
	r->generation = cobj_meta(c)->generation;
	r->started = mono_now();
	r->res = RRESULT_DONE;
	r->size = -1;
	pg_obs_database_init(&r->obs);
	sqlplan_init(&r->plan);
	ev_timer_init(&r->timeout, pass_timeout, PASS_TIMEOUT, 0.);
	ev_timer_start(mgr_loop(t->mgr), &r->timeout);
	t->priv = r;
	return r;
}

/* The instance of the object, or NULL after ending the pass with a
 * condition saying why (ctrl_resolve_instance). */
static const struct api_instance *
resolve_instance(struct rtask *t, const struct cobj *c, bool deleting)
{
	struct cctx *cx = t->def->arg;
	const struct api_database *db = typed(c);
	const struct api_meta *md = cobj_meta(c);
	const struct api_instance *in;
	struct ctrl_refusal why;
	struct dbrun *r;
	char msg[MSG_MAX];

	r = dbrun_new(t, c, db->spec.instance.ns && *db->spec.instance.ns ?
	    db->spec.instance.ns : md->ns);
	r->deleting = deleting;
	in = ctrl_resolve_instance(t, API_DATABASE, &db->spec.instance, md->ns,
	    deleting, &why, msg, sizeof(msg));
	if (in == NULL) {
		fail_status(r, why.phase, why.reason, msg, why.res, why.delay);
		return NULL;
	}
	if (db->spec.mysql.set) {
		snprintf(msg, sizeof(msg), "spec.mysql: must not be set for a "
		    "postgres instance");
		fail_status(r, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return NULL;
	}
	if (cx->instances == NULL) {
		run_failed(r, "connect",
		    "the connection registry is not available");
		return NULL;
	}
	return in;
}

static void
deletion(struct rtask *t, const struct cobj *c)
{
	const struct api_database *db = typed(c);
	const struct api_meta *md = cobj_meta(c);
	enum api_deletion_policy pol = db->spec.deletion_policy;
	struct dbrun *r;

	if (!api_meta_has_finalizer(md, api_kind_finalizer(API_DATABASE))) {
		forget_metrics(c);
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	if (db->spec.deletion_protection && !md->force_delete) {
		r = dbrun_new(t, c, md->ns);
		r->deleting = true;
		fail_status(r, API_PHASE_FAILED, "DeletionProtected",
		    "Deletion blocked by deletion protection. Set "
		    "force-delete annotation to proceed.", RRESULT_DONE, 0);
		return;
	}
	if (pol == API_DELETION_NONE || pol == API_DELETION_RETAIN) {
		forget_metrics(c);
		ctrl_finalizer(t, c, false, ctrl_finalizer_written, NULL);
		return;
	}
	if (pol == API_DELETION_SNAPSHOT) {
		r = dbrun_new(t, c, md->ns);
		r->deleting = true;
		fail_status(r, API_PHASE_FAILED, "SnapshotNotSupported",
		    "deletionPolicy Snapshot needs backups, which are not "
		    "implemented yet; the finalizer is kept. Change the "
		    "policy to Retain or Delete to proceed.", RRESULT_DONE, 0);
		return;
	}
	if (c->errors || db->spec.instance.name == NULL ||
	    db->spec.name == NULL) {
		/* Nothing we can drop reliably: keep it and say why. */
		r = dbrun_new(t, c, md->ns);
		r->deleting = true;
		fail_status(r, API_PHASE_FAILED, "DeletionFailed",
		    "cannot drop the database: the spec is invalid; fix it "
		    "or change deletionPolicy to Retain", RRESULT_DONE, 0);
		return;
	}
	if (resolve_instance(t, c, true) == NULL)
		return;
	r = t->priv;
	r->force = md->force_delete;
	observe(r);
}

void
ctrl_database_reconcile(struct rtask *t)
{
	const struct cobj *c = ctrl_preamble(t, API_DATABASE, NULL, deletion);

	if (c == NULL)
		return;
	if (resolve_instance(t, c, false) == NULL)
		return;
	observe(t->priv);
}

void
ctrl_database_abort(struct rtask *t)
{
	struct dbrun *r = t->priv;

	if (r == NULL)
		return;
	end(r, RRESULT_FAILED, 0);
}
