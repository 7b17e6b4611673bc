/*
 * ctrl_instance.c - the DatabaseInstance controller (behavior.md §1.1,
 * api.md §7, without the defects listed there).
 *
 * One pass:
 *
 *   deleting ........ dependents (Database/User/Role naming the instance)?
 *                     yes: keep the finalizer, say who in status, poll;
 *                     no:  forget the server, remove the finalizer
 *   skip annotation . nothing
 *   invalid spec .... the validation step of every kind (ctrl_validate)
 *   no finalizer .... add it (JSON patch) and end: the watch event of our
 *                     own write starts the next pass
 *   otherwise ....... health check: borrow a connection from the registry
 *                     (instances.h), run PGQ_SERVER, all bounded by
 *                     healthCheck.timeoutSeconds; then metrics, events on
 *                     transitions of Connected, a status patch when
 *                     something changed, and a requeue after
 *                     healthCheck.intervalSeconds
 *
 * lastCheckedAt is written with every status change, and otherwise at most
 * every LASTCHECK_REFRESH seconds (the original wrote it on every check,
 * i.e. one API write per instance per interval); the precise time of the
 * last successful check is the metric
 * dbops_instance_last_health_check_timestamp_seconds.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ev.h>

#include "api.h"
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
#include "myconn.h"
#include "myplan.h"
#include "pgconn.h"
#include "pgplan.h"
#include "pool.h"
#include "timefmt.h"

#define COND_READY	"Ready"
#define COND_CONNECTED	"Connected"
#define COND_HEALTHY	"Healthy"

#define LASTCHECK_REFRESH	300.0	/* seconds */
#define BLOCKED_RETRY		5.0	/* deletion waiting for dependents */
#define DEFAULT_INTERVAL	60	/* no healthCheck block (original) */
#define DEFAULT_TIMEOUT		5
#define MSG_MAX			1024

/* One health check in flight (rtask.priv). */
struct icheck {
	struct rtask *t;
	struct cctx *cx;
	char *key;			/* "ns/name" */
	struct instances_wait *wait;	/* acquiring */
	struct pool_conn *pc;		/* borrowed: query in flight */
	struct kreq *write;		/* status patch in flight */
	ev_timer timeout;
	double started;			/* mono_now() */
	double timeout_s;
	double next;			/* requeue delay after the write */
	enum rresult res;
};

static const struct api_instance *
typed(const struct cobj *c)
{
	return c->typed;
}

/* ---- status -------------------------------------------------------------- */

struct istatus {
	enum api_phase phase;
	const char *message;
	const char *version;
	int64_t last_checked;
	struct api_conditions conds;
};

static void
write_done(struct kreq *r, void *arg)
{
	struct icheck *ck = arg;
	struct rtask *t = ck->t;
	enum rresult res;
	double next;
	char err[512];

	ck->write = NULL;
	switch (kwrite_classify(r)) {
	case KW_OK:
		ctrl_own_write(t, r);
		break;
	case KW_NOT_FOUND:
		break;
	case KW_CONFLICT:
		ck->res = RRESULT_REQUEUE;
		ck->next = 0.5;
		break;
	default:
		kwrite_error_text(r, err, sizeof(err));
		log_warn("status update failed", "controller", t->def->name,
		    "namespace", t->namespace, "name", t->name, "error", err);
		ck->res = RRESULT_FAILED;
		break;
	}
	res = ck->res;
	next = ck->next;
	t->priv = NULL;
	free(ck->key);
	free(ck);
	rtask_done(t, res, next);
}

/* Ends the pass: with a status patch when st differs from the cache. */
static void
finish(struct icheck *ck, const struct cobj *c, const struct istatus *st,
    bool changed, enum rresult res, double next)
{
	struct rtask *t = ck->t;
	const struct api_meta *md;
	struct kres kr;
	struct jw w;
	char ts[TIMEFMT_TIME_LEN];
	char *patch;

	ck->res = res;
	ck->next = next;
	if (!changed) {
		t->priv = NULL;
		free(ck->key);
		free(ck);
		rtask_done(t, res, next);
		return;
	}
	md = cobj_meta(c);
	jw_init(&w);
	jw_obj_open(&w);
	jw_key(&w, "metadata");
	jw_obj_open(&w);
	jw_kstr(&w, "resourceVersion", md->resource_version);
	jw_obj_close(&w);
	jw_key(&w, "status");
	jw_obj_open(&w);
	if (st->phase != API_PHASE_NONE)
		jw_kstr(&w, "phase", api_phase_names[st->phase]);
	jw_kstr(&w, "message", st->message ? st->message : "");
	if (st->version && *st->version)
		jw_kstr(&w, "version", st->version);
	if (st->last_checked > 0 &&
	    timefmt_time_d((double)st->last_checked, ts, sizeof(ts)) == 0)
		jw_kstr(&w, "lastCheckedAt", ts);
	jw_kint(&w, "observedGeneration", md->generation);
	api_conditions_write(&w, &st->conds);
	jw_obj_close(&w);
	jw_obj_close(&w);
	patch = jw_finish(&w, NULL);
	memset(&kr, 0, sizeof(kr));
	kr.group_path = t->def->group_path;
	kr.resource = t->def->resource;
	kr.namespaced = true;
	log_info("status updated", "controller", t->def->name, "namespace",
	    t->namespace, "name", t->name, "phase", api_phase_names[st->phase]);
	ck->write = kobj_merge_patch(mgr_http(t->mgr), &kr, t->namespace,
	    t->name, "status", patch, write_done, ck);
	free(patch);
}

static const char *
failure_reason(const struct instances_err *err)
{
	switch (err->code) {
	case INSTANCES_ESECRET:
		return ksecret_reason(err->secret);
	case INSTANCES_ETLS:
		return "TLSConfigInvalid";
	case INSTANCES_EUNSUPPORTED:
		return "UnsupportedEngine";
	case INSTANCES_EINVALID:
	case INSTANCES_ENOTFOUND:
		return "ConfigurationInvalid";
	default:
		return "ConnectionFailed";
	}
}

/* "15.4" from 150004, "9.6.24" from 90624. */
static void
version_text(int num, char *out, size_t len)
{
	if (num >= 100000)
		snprintf(out, len, "%d.%d", num / 10000, num % 10000);
	else
		snprintf(out, len, "%d.%d.%d", num / 10000, num / 100 % 100,
		    num % 100);
}

static double
check_interval(const struct api_instance *in, bool *periodic)
{
	const struct api_health_check *hc = &in->spec.health_check;

	*periodic = !hc->set || hc->enabled;
	if (!hc->set)
		return DEFAULT_INTERVAL;
	return hc->interval_seconds > 0 ? hc->interval_seconds : 30;
}

/* The outcome of a check: metrics, events, status, requeue. err NULL on
 * success. */
static void
check_done(struct icheck *ck, const char *version_str,
    const struct instances_err *err)
{
	struct rtask *t = ck->t;
	const struct cobj *c = ctrl_object(t);
	const struct api_instance *in;
	const struct api_meta *md;
	const struct api_condition *prev;
	const char *engine;
	struct istatus st;
	bool changed = false, periodic;
	enum api_cond_status was;
	double now = wall_now(), interval;
	int64_t inow = (int64_t)now;
	char version[32], msg[MSG_MAX];
	enum rresult res;

	ev_timer_stop(mgr_loop(t->mgr), &ck->timeout);
	if (c == NULL || c->errors || cobj_meta(c)->deleting) {
		/* Gone or changed meanwhile: the next pass decides. */
		finish(ck, c, NULL, false, RRESULT_REQUEUE, 0);
		return;
	}
	in = typed(c);
	md = cobj_meta(c);
	engine = api_engine_names[in->spec.engine] ? api_engine_names[in->spec.engine] : "";
	interval = check_interval(in, &periodic);
	prev = api_conditions_get(&in->status.conditions, COND_CONNECTED);
	was = prev ? prev->status : API_COND_NONE;

	memset(&st, 0, sizeof(st));
	ctrl_conditions_copy(&st.conds, &in->status.conditions);
	st.version = in->status.version;
	st.last_checked = in->status.last_checked_at;
	if (err == NULL) {
		double took = mono_now() - ck->started;

		metrics_connection_attempt(md->name, engine, true, md->ns);
		metrics_connection_latency(md->name, engine, md->ns, took);
		metrics_instance_health(md->name, engine, md->ns, true, now);
		snprintf(version, sizeof(version), "%s",
		    version_str ? version_str : "");
		st.phase = API_PHASE_READY;
		st.message = "Connected successfully";
		st.version = version;
		changed |= api_conditions_set(&st.conds, COND_CONNECTED,
		    API_COND_TRUE, "ConnectionSuccess",
		    "Successfully connected to database", md->generation, inow);
		changed |= api_conditions_set(&st.conds, COND_HEALTHY,
		    API_COND_TRUE, "HealthCheckPassed", "Database is healthy",
		    md->generation, inow);
		changed |= api_conditions_set(&st.conds, COND_READY,
		    API_COND_TRUE, "ReconcileSuccess", "Instance is ready",
		    md->generation, inow);
		res = periodic ? RRESULT_REQUEUE : RRESULT_DONE;
	} else {
		const char *reason = failure_reason(err);

		if (err->code == INSTANCES_ECONNECT)
			metrics_connection_attempt(md->name, engine, false,
			    md->ns);
		if (err->code != INSTANCES_EUNSUPPORTED)
			metrics_instance_health(md->name, engine, md->ns, false,
			    now);
		snprintf(msg, sizeof(msg), "%s", err->msg);
		st.phase = API_PHASE_FAILED;
		st.message = msg;
		changed |= api_conditions_set(&st.conds, COND_CONNECTED,
		    API_COND_FALSE, reason, msg, md->generation, inow);
		changed |= api_conditions_set(&st.conds, COND_HEALTHY,
		    API_COND_FALSE, "HealthCheckFailed", msg, md->generation,
		    inow);
		changed |= api_conditions_set(&st.conds, COND_READY,
		    API_COND_FALSE, "ReconcileFailed", msg, md->generation, inow);
		if (err->code == INSTANCES_EUNSUPPORTED ||
		    err->code == INSTANCES_EINVALID)
			res = RRESULT_DONE;	/* a spec change brings it back */
		else
			res = periodic ? RRESULT_REQUEUE : RRESULT_FAILED;
		log_info("instance check failed", "namespace", md->ns, "name",
		    md->name, "reason", reason, "error", msg);
	}
	changed |= st.phase != in->status.phase;
	changed |= strcmp0(st.message, in->status.message) != 0;
	changed |= strcmp0(st.version, in->status.version) != 0 &&
	    st.version != NULL;
	changed |= in->status.observed_generation != md->generation;
	if (err == NULL && (changed || now - (double)st.last_checked >=
	    LASTCHECK_REFRESH)) {
		st.last_checked = inow;
		changed = true;
	}

	/* Events on transitions of Connected only. */
	if (err == NULL && was != API_COND_TRUE) {
		snprintf(msg, sizeof(msg), "connected to %s:%d (%s %s)",
		    in->spec.connection.host, (int)in->spec.connection.port,
		    engine, version);
		ctrl_emit(ck->cx, c, EVENT_NORMAL, "Connected", msg);
	}
	else if (err && was != API_COND_FALSE)
		ctrl_emit(ck->cx, c, EVENT_WARNING, "ConnectionFailed", msg);

	finish(ck, c, &st, changed, res, res == RRESULT_REQUEUE ? interval : 0);
	api_conditions_release(&st.conds);
}

/* ---- the check ----------------------------------------------------------- */

/* The answer to the check query, whichever the engine. */
static void
check_answer(struct icheck *ck, bool ok, bool server_error, const char *msg,
    int nrows, const char *const *cols, int ncols, enum api_engine engine)
{
	struct pool_conn *pc = ck->pc;
	struct instances_err err;
	struct pg_obs_server srv;
	struct myplan_server my;
	char version[64];
	const char *dash;

	ck->pc = NULL;
	memset(&err, 0, sizeof(err));
	memset(&srv, 0, sizeof(srv));
	version[0] = '\0';
	if (!ok) {
		err.code = INSTANCES_ECONNECT;
		snprintf(err.msg, sizeof(err.msg), "health check query failed: %s",
		    msg);
	} else if (engine == API_ENGINE_MYSQL) {
		if (nrows != 1 || myplan_server_row(&my, cols, ncols) < 0) {
			err.code = INSTANCES_ECONNECT;
			snprintf(err.msg, sizeof(err.msg),
			    "health check query: unexpected answer");
		} else {
			/* "10.11.6-MariaDB-1:10.11.6+maria~deb12" ->
			 * "10.11.6-MariaDB"; "8.0.35" stays. */
			dash = strchr(cols[0], '-');
			snprintf(version, sizeof(version), "%.*s%s",
			    (int)(dash ? dash - cols[0] :
			    (ptrdiff_t)strlen(cols[0])), cols[0],
			    my.flavour == MYPLAN_MARIADB ? "-MariaDB" : "");
		}
	} else {
		if (nrows != 1 || pg_obs_server_row(&srv, cols, ncols) < 0) {
			err.code = INSTANCES_ECONNECT;
			snprintf(err.msg, sizeof(err.msg),
			    "health check query: unexpected answer");
		} else
			version_text(srv.version_num, version, sizeof(version));
	}
	instances_release(ck->cx->instances, pc, !ok && !server_error);
	check_done(ck, version, err.code ? &err : NULL);
}

static void
check_result(struct pgconn *conn, const struct pgconn_result *res, void *arg)
{
	const char *cols[3] = { NULL, NULL, NULL };
	int i;

	(void)conn;
	for (i = 0; i < 3 && res->nrows > 0; i++)
		cols[i] = pgconn_res_value(res, 0, i);
	check_answer(arg, res->err.code == PGCONN_OK,
	    res->err.code == PGCONN_ESERVER, res->err.msg, res->nrows, cols,
	    res->ncols < 3 ? res->ncols : 3, API_ENGINE_POSTGRES);
}

static void
my_check_result(struct myconn *conn, const struct myconn_result *res,
    void *arg)
{
	const char *cols[2] = { NULL, NULL };
	int i;

	(void)conn;
	for (i = 0; i < 2 && res->nrows > 0; i++)
		cols[i] = myconn_res_value(res, 0, i);
	check_answer(arg, res->err.code == MYCONN_OK,
	    res->err.code == MYCONN_ESERVER, res->err.msg, res->nrows, cols,
	    res->ncols < 2 ? res->ncols : 2, API_ENGINE_MYSQL);
}

static void
check_got(struct pool_conn *pc, const struct instances_err *err, void *arg)
{
	struct icheck *ck = arg;
	void *conn;
	struct instances_err e;
	int rc;

	ck->wait = NULL;
	if (pc == NULL) {
		check_done(ck, NULL, err);
		return;
	}
	conn = pool_conn_get(pc);
	ck->pc = pc;
	if (instances_conn_engine(ck->cx->instances, pc) == API_ENGINE_MYSQL) {
		rc = myconn_query(conn, MYPLAN_Q_SERVER, my_check_result, ck);
		if (rc < 0)
			snprintf(e.msg, sizeof(e.msg), "%s",
			    myconn_error(conn)->msg);
	} else {
		rc = pgconn_query(conn, PGQ_SERVER, 0, NULL, check_result, ck);
		if (rc < 0)
			snprintf(e.msg, sizeof(e.msg), "%s",
			    pgconn_error(conn)->msg);
	}
	if (rc < 0) {
		ck->pc = NULL;
		e.code = INSTANCES_ECONNECT;
		instances_release(ck->cx->instances, pc, true);
		check_done(ck, NULL, &e);
	}
}

static void
check_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct icheck *ck = container_of(w, struct icheck, timeout);
	struct instances_err e;

	(void)loop;
	(void)revents;
	if (ck->wait) {
		instances_cancel(ck->wait);
		ck->wait = NULL;
	}
	if (ck->pc) {
		/* Closes the connection; its query callback never runs. */
		instances_release(ck->cx->instances, ck->pc, true);
		ck->pc = NULL;
	}
	e.code = INSTANCES_ECONNECT;
	snprintf(e.msg, sizeof(e.msg), "health check timed out after %.0f s",
	    ck->timeout_s);
	check_done(ck, NULL, &e);
}

static struct icheck *
icheck_new(struct rtask *t)
{
	struct icheck *ck = xcalloc(1, sizeof(*ck));

	ck->t = t;
	ck->cx = t->def->arg;
	ck->key = xasprintf("%s/%s", t->namespace, t->name);
	ev_timer_init(&ck->timeout, check_timeout, 1., 0.);
	t->priv = ck;
	return ck;
}

static void
start_check(struct rtask *t, const struct cobj *c)
{
	struct icheck *ck = icheck_new(t);
	const struct api_health_check *hc = &typed(c)->spec.health_check;
	struct instances_err e;

	ck->started = mono_now();
	ck->timeout_s = hc->set && hc->timeout_seconds > 0 ?
	    hc->timeout_seconds : DEFAULT_TIMEOUT;
	if (ck->cx->instances == NULL) {
		e.code = INSTANCES_ECONNECT;
		snprintf(e.msg, sizeof(e.msg),
		    "the connection registry is not available");
		check_done(ck, NULL, &e);
		return;
	}
	ev_timer_set(&ck->timeout, ck->timeout_s, 0.);
	ev_timer_start(mgr_loop(t->mgr), &ck->timeout);
	ck->wait = instances_acquire(ck->cx->instances, ck->key, NULL,
	    check_got, ck);
}

/* ---- finalizer and deletion ----------------------------------------------- */

static void
forget(struct cctx *cx, const char *ns, const char *name)
{
	char *key = xasprintf("%s/%s", ns, name);
	size_t i;

	if (cx->instances)
		instances_forget(cx->instances, key);
	for (i = 1; i < API_ENGINE__COUNT; i++)
		metrics_instance_forget(name, api_engine_names[i], ns);
	free(key);
}

static void
finalizer_removed(struct rtask *t, enum kwrite_outcome o, const char *err,
    void *arg)
{
	struct cctx *cx = arg;

	switch (o) {
	case KW_OK:
	case KW_NOT_FOUND:
		forget(cx, t->namespace, t->name);
		rtask_done(t, RRESULT_DONE, 0);
		break;
	case KW_CONFLICT:
		rtask_done(t, RRESULT_REQUEUE, 0.5);
		break;
	default:
		log_warn("cannot remove finalizer", "namespace", t->namespace,
		    "name", t->name, "error", err);
		rtask_done(t, RRESULT_FAILED, 0);
		break;
	}
}

struct deplist {
	struct buf text;
	size_t n;
};

static void
dep_add(enum api_kind kind, const struct kobj *o, void *arg)
{
	struct deplist *d = arg;

	if (d->n < 10 && buf_printf(&d->text, "%s%s %s/%s",
	    d->n ? ", " : "", api_kind_info(kind)->kind, o->namespace,
	    o->name) < 0)
		return;
	d->n++;
}

static void
deletion(struct rtask *t, const struct cobj *c)
{
	struct cctx *cx = t->def->arg;
	const struct api_instance *in = typed(c);
	const struct api_meta *md = cobj_meta(c);
	struct deplist d;
	struct icheck *ck;
	struct istatus st;
	bool changed;
	char msg[MSG_MAX];

	if (!api_meta_has_finalizer(md, api_kind_finalizer(API_INSTANCE))) {
		forget(cx, t->namespace, t->name);
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	memset(&d, 0, sizeof(d));
	buf_init(&d.text, 0);
	ctrl_referrers(t->mgr, API_INSTANCE, md->ns, md->name, dep_add, &d);
	if (d.n == 0) {
		buf_release(&d.text);
		ctrl_finalizer(t, c, false, finalizer_removed, cx);
		return;
	}
	/* Never skipped silently: keep the finalizer and say why. */
	snprintf(msg, sizeof(msg),
	    "deletion blocked: still referenced by %s%s", d.text.data,
	    d.n > 10 ? " and more" : "");
	buf_release(&d.text);
	memset(&st, 0, sizeof(st));
	ctrl_conditions_copy(&st.conds, &in->status.conditions);
	st.phase = in->status.phase;
	st.message = msg;
	st.version = in->status.version;
	st.last_checked = in->status.last_checked_at;
	changed = api_conditions_set(&st.conds, COND_READY, API_COND_FALSE,
	    "DeletionBlocked", msg, md->generation, (int64_t)wall_now());
	changed |= strcmp0(msg, in->status.message) != 0;
	if (changed) {
		ctrl_emit(cx, c, EVENT_WARNING, "DeletionBlocked", msg);
		log_info("instance deletion blocked", "namespace", md->ns,
		    "name", md->name, "dependents", msg);
	}
	ck = icheck_new(t);
	finish(ck, c, &st, changed, RRESULT_REQUEUE, BLOCKED_RETRY);
	api_conditions_release(&st.conds);
}

/* ---- entry points ------------------------------------------------------------ */

static void
gone(struct rtask *t)
{
	/* Deleted without our finalizer, or force-removed. */
	forget(t->def->arg, t->namespace, t->name);
}

static void
instance_reconcile(struct rtask *t)
{
	const struct cobj *c = ctrl_preamble(t, API_INSTANCE, gone, deletion);

	if (c != NULL)
		start_check(t, c);
}

static void
instance_abort(struct rtask *t)
{
	struct icheck *ck = t->priv;

	if (ck == NULL)
		return;		/* a finalizer patch: ends by itself */
	ev_timer_stop(mgr_loop(t->mgr), &ck->timeout);
	if (ck->wait)
		instances_cancel(ck->wait);
	if (ck->pc)
		instances_release(ck->cx->instances, ck->pc, true);
	if (ck->write)
		kreq_cancel(ck->write);
	t->priv = NULL;
	free(ck->key);
	free(ck);
	rtask_done(t, RRESULT_FAILED, 0);
}

const struct ctrl_entry ctrl_instance_entry = {
	API_INSTANCE, instance_reconcile, instance_abort,
};
