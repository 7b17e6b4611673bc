/*
 * cpass.c - one reconcile pass of a provisioning controller: the life
 * cycle, connections, queries, steps, status writes and the pass timeout
 * shared by ctrl_database.c, ctrl_user.c, ctrl_role.c and ctrl_grant.c.
 * See cpass.h.
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
#include "api_role.h"
#include "api_user.h"
#include "buf.h"
#include "cpass.h"
#include "ctrl.h"
#include "informer.h"
#include "instances.h"
#include "json.h"
#include "khttp.h"
#include "kwrite.h"
#include "log.h"
#include "mgr.h"
#include "myconn.h"
#include "pgconn.h"
#include "pool.h"
#include "sqlstep.h"

#define COND_READY	"Ready"
#define COND_SYNCED	"Synced"
#define MAX_COLS	32
#define MAX_PARAMS	16

/* Room for any kind's status structure, suitably aligned. */
union status_buf {
	max_align_t align;
	unsigned char b[512];
};

static void pass_timeout(struct ev_loop *loop, ev_timer *w, int revents);

static void *
field(const void *base, size_t off)
{
	return (char *)base + off;
}

/* ---- life cycle ---------------------------------------------------------- */

void *
cpass_new(struct rtask *t, const struct cpass_kind *kind, size_t size,
    const struct cobj *c, const struct api_ref *ref, const char *name)
{
	struct cpass *p = xcalloc(1, size);
	const char *ns = ref->ns && *ref->ns ? ref->ns : cobj_meta(c)->ns;

	p->kind = kind;
	p->t = t;
	p->cx = t->def->arg;
	p->inst_key = xasprintf("%s/%s", ns, ref->name ? ref->name : "");
	p->name = xstrdup(name ? name : "");
	p->generation = cobj_meta(c)->generation;
	p->started = mono_now();
	p->res = RRESULT_DONE;
	sqlplan_init(&p->plan);
	ev_timer_init(&p->timeout, pass_timeout, CPASS_PASS_TIMEOUT, 0.);
	ev_timer_start(mgr_loop(t->mgr), &p->timeout);
	t->priv = p;
	return p;
}

static void
cpass_free(struct cpass *p)
{
	if (p->wait)
		instances_cancel(p->wait);
	if (p->pc)
		instances_release(p->cx->instances, p->pc, p->querying);
	if (p->write)
		kreq_cancel(p->write);
	ev_timer_stop(mgr_loop(p->t->mgr), &p->timeout);
	if (p->kind->release)
		p->kind->release(p);
	sqlplan_release(&p->plan);
	free(p->inst_key);
	free(p->name);
	free(p->pc_db);
	free(p->rv);
	free(p->record);
	free(p);
}

void
cpass_end(struct cpass *p, enum rresult res, double delay)
{
	struct rtask *t = p->t;

	t->priv = NULL;
	cpass_free(p);
	rtask_done(t, res, delay);
}

void
cpass_end_recorded(struct cpass *p)
{
	cpass_end(p, p->res, p->delay);
}

void
cpass_abort(struct rtask *t)
{
	struct cpass *p = t->priv;

	if (p != NULL)
		cpass_end(p, RRESULT_FAILED, 0);
}

void
cpass_remove_finalizer(struct cpass *p)
{
	struct rtask *t = p->t;
	const struct cobj *c = ctrl_object(t);

	t->priv = NULL;
	cpass_free(p);
	if (c == NULL) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	ctrl_finalizer(t, c, false, ctrl_finalizer_written, NULL);
}

/* ---- status -------------------------------------------------------------- */

const void *
cpass_cached_status(const struct cpass *p, const struct cobj *c)
{
	return field(c->typed, p->kind->status_off);
}

struct api_conditions *
cpass_conditions(const struct cpass *p, void *st)
{
	return field(st, p->kind->conditions_off);
}

void
cpass_status_base(const struct cpass *p, void *st, const struct cobj *c)
{
	const void *was = cpass_cached_status(p, c);
	int64_t gen = cobj_meta(c)->generation;

	memcpy(st, was, p->kind->status_size);
	ctrl_conditions_copy(cpass_conditions(p, st),
	    field(was, p->kind->conditions_off));
	memcpy(field(st, p->kind->gen_off), &gen, sizeof(gen));
}

void
cpass_status_set(const struct cpass *p, void *st, enum api_phase phase,
    const char *message)
{
	char *msg = (char *)message;	/* borrowed, never freed */

	memcpy(field(st, p->kind->phase_off), &phase, sizeof(phase));
	memcpy(field(st, p->kind->message_off), &msg, sizeof(msg));
}

static enum api_phase
status_phase(const struct cpass *p, const void *st)
{
	enum api_phase ph;

	memcpy(&ph, field(st, p->kind->phase_off), sizeof(ph));
	return ph;
}

static void
after_write(struct cpass *p)
{
	void (*next)(struct cpass *) = p->after_write;

	p->after_write = NULL;
	next(p);
}

/*
 * The next write of this pass carries the resourceVersion this one made:
 * the informer's copy may not have seen it yet, and a precondition on an
 * older version would fail against our own write.
 */
static void
take_rv(struct cpass *p, struct kreq *req)
{
	yajl_val doc = json_parse(buf_cstr(&req->body), req->body.len, NULL,
	    0);
	const char *rv = json_gets(doc, "metadata.resourceVersion");

	if (rv && *rv) {
		free(p->rv);
		p->rv = xstrdup(rv);
		rtask_wrote(p->t, rv);
	}
	if (doc)
		json_free(doc);
}

static void
write_done(struct kreq *req, void *arg)
{
	struct cpass *p = arg;
	char err[512];

	p->write = NULL;
	switch (kwrite_classify(req)) {
	case KW_OK:
		take_rv(p, req);
		if (p->after_write) {
			after_write(p);
			return;
		}
		break;
	case KW_NOT_FOUND:
		break;
	case KW_CONFLICT:
		p->res = RRESULT_REQUEUE;
		p->delay = 0.5;
		break;
	default:
		kwrite_error_text(req, err, sizeof(err));
		log_warn("status update failed", "controller", p->t->def->name,
		    "namespace", p->t->namespace, "name", p->t->name, "error",
		    err);
		p->res = RRESULT_FAILED;
		break;
	}
	cpass_end(p, p->res, p->delay);
}

static char *
status_json(const struct cpass *p, const void *st)
{
	struct jw w;

	jw_init(&w);
	p->kind->status_write(&w, st);
	return jw_finish(&w, NULL);
}

void
cpass_finish(struct cpass *p, const struct cobj *c, const void *st,
    enum rresult res, double delay)
{
	struct rtask *t = p->t;
	char *now, *was, *patch;
	struct kres kr;
	struct jw w;

	p->res = res;
	p->delay = delay;
	if (p->after_write == NULL)
		ev_timer_stop(mgr_loop(t->mgr), &p->timeout);
	if (c == NULL || st == NULL) {
		cpass_end(p, res, delay);
		return;
	}
	now = status_json(p, st);
	was = status_json(p, cpass_cached_status(p, c));
	if (strcmp(now, was) == 0) {
		free(now);
		free(was);
		if (p->after_write) {
			after_write(p);
			return;
		}
		cpass_end(p, res, delay);
		return;
	}
	free(was);
	free(now);
	jw_init(&w);
	jw_obj_open(&w);
	jw_key(&w, "metadata");
	jw_obj_open(&w);
	jw_kstr(&w, "resourceVersion", p->rv ? p->rv :
	    cobj_meta(c)->resource_version);
	jw_obj_close(&w);
	jw_key(&w, "status");
	p->kind->status_write(&w, st);
	jw_obj_close(&w);
	patch = jw_finish(&w, NULL);
	memset(&kr, 0, sizeof(kr));
	kr.group_path = t->def->group_path;
	kr.resource = t->def->resource;
	kr.namespaced = true;
	log_info("status updated", "controller", t->def->name, "namespace",
	    t->namespace, "name", t->name, "phase",
	    api_phase_names[status_phase(p, st)]);
	p->write = kobj_merge_patch(mgr_http(t->mgr), &kr, t->namespace,
	    t->name, "status", patch, write_done, p);
	free(patch);
}

void
cpass_fail(struct cpass *p, enum api_phase phase, const char *reason,
    const char *msg, enum rresult res, double delay)
{
	const struct cobj *c = ctrl_object(p->t);
	const struct api_meta *md;
	struct api_conditions *conds;
	union status_buf sb;
	void *st = &sb;
	bool changed;
	int64_t now = (int64_t)wall_now();

	if (c == NULL) {
		cpass_end(p, RRESULT_DONE, 0);
		return;
	}
	if (p->kind->status_size > sizeof(sb))
		abort();	/* a status larger than any kind has */
	md = cobj_meta(c);
	cpass_status_base(p, st, c);
	cpass_status_set(p, st, phase, msg);
	conds = cpass_conditions(p, st);
	changed = api_conditions_set(conds, COND_READY, API_COND_FALSE, reason,
	    msg, md->generation, now);
	if (!p->deleting)
		changed |= api_conditions_set(conds, COND_SYNCED,
		    API_COND_FALSE, reason, msg, md->generation, now);
	if (changed)
		ctrl_emit(p->cx, c, EVENT_WARNING, reason, msg);
	log_info("not ready", "controller", p->t->def->name, "namespace",
	    md->ns, "name", md->name, "reason", reason, "message", msg);
	cpass_finish(p, c, st, res, delay);
	api_conditions_release(conds);
}

void
cpass_run_failed(struct cpass *p, const char *what, const char *msg)
{
	char text[CPASS_MSG_MAX];
	const char *reason;

	if (p->deleting) {
		if (p->kind->metric)
			p->kind->metric(p, METRICS_OP_DELETE, false);
		snprintf(text, sizeof(text),
		    "cannot drop %s %s, the finalizer is kept: %s: %s",
		    p->kind->noun, p->name, what, msg);
		cpass_fail(p, API_PHASE_DELETING, "DeletionFailed", text,
		    RRESULT_FAILED, 0);
		return;
	}
	if (p->q == CPASS_Q_STEP && !p->executed) {
		if (p->kind->metric)
			p->kind->metric(p, p->exists ? METRICS_OP_UPDATE :
			    METRICS_OP_CREATE, false);
		reason = p->exists ? "UpdateFailed" : "CreateFailed";
		snprintf(text, sizeof(text), "%s failed: %s", what, msg);
	} else {
		reason = p->reason ? p->reason : "ReconcileFailed";
		snprintf(text, sizeof(text), "%s: %s", what, msg);
	}
	cpass_fail(p, API_PHASE_FAILED, reason, text, RRESULT_FAILED, 0);
}

bool
cpass_ready(struct cpass *p, const struct cobj *c, void *st, bool synced)
{
	const struct api_meta *md = cobj_meta(c);
	struct api_conditions *conds = cpass_conditions(p, st);
	int64_t now = (int64_t)wall_now();
	char msg[128], smsg[128];
	bool changed;

	snprintf(msg, sizeof(msg), "%c%s is ready",
	    p->kind->noun[0] - 'a' + 'A', p->kind->noun + 1);
	snprintf(smsg, sizeof(smsg), "%c%s is synced",
	    p->kind->noun[0] - 'a' + 'A', p->kind->noun + 1);
	changed = synced && api_conditions_set(conds, COND_SYNCED,
	    API_COND_TRUE, "ReconcileSuccess", smsg, md->generation, now);
	if (api_conditions_set(conds, COND_READY, API_COND_TRUE,
	    "ReconcileSuccess", msg, md->generation, now)) {
		ctrl_emit(p->cx, c, EVENT_NORMAL, "Ready", msg);
		changed = true;
	}
	return changed;
}

static void
annotated(struct kreq *req, void *arg)
{
	struct cpass *p = arg;
	void (*next)(struct cpass *) = p->after_write;
	char err[512];

	p->write = NULL;
	p->after_write = NULL;
	if (kwrite_classify(req) != KW_OK) {
		kwrite_error_text(req, err, sizeof(err));
		p->q = 0;
		cpass_run_failed(p, "annotate the object", err);
		return;
	}
	take_rv(p, req);
	next(p);
}

void
cpass_annotate(struct cpass *p, const char *key, const char *value,
    void (*next)(struct cpass *p))
{
	struct rtask *t = p->t;
	struct kres kr;
	struct jw w;
	char *patch;

	jw_init(&w);
	jw_obj_open(&w);
	jw_key(&w, "metadata");
	jw_obj_open(&w);
	jw_key(&w, "annotations");
	jw_obj_open(&w);
	jw_kstr(&w, key, value);
	jw_obj_close(&w);
	jw_obj_close(&w);
	jw_obj_close(&w);
	patch = jw_finish(&w, NULL);
	memset(&kr, 0, sizeof(kr));
	kr.group_path = t->def->group_path;
	kr.resource = t->def->resource;
	kr.namespaced = true;
	p->after_write = next;
	p->write = kobj_merge_patch(mgr_http(t->mgr), &kr, t->namespace,
	    t->name, NULL, patch, annotated, p);
	free(patch);
}

/* ---- connections and queries --------------------------------------------- */

static void
got_conn(struct pool_conn *pc, const struct instances_err *err, void *arg)
{
	struct cpass *p = arg;

	p->wait = NULL;
	if (pc == NULL) {
		if (err->code == INSTANCES_ESECRET)
			p->reason = ksecret_reason(err->secret);
		else if (err->code == INSTANCES_ETLS)
			p->reason = "TLSConfigInvalid";
		cpass_run_failed(p, "connect", err->msg);
		return;
	}
	p->pc = pc;
	p->next(p);
}

void
cpass_with_conn(struct cpass *p, const char *db, void (*next)(struct cpass *))
{
	p->next = next;
	if (p->pc && strcmp0(p->pc_db, db) == 0) {
		next(p);
		return;
	}
	if (p->pc) {
		instances_release(p->cx->instances, p->pc, false);
		p->pc = NULL;
	}
	free(p->pc_db);
	p->pc_db = db ? xstrdup(db) : NULL;
	p->wait = instances_acquire(p->cx->instances, p->inst_key, db,
	    got_conn, p);
}

static void step_done(struct cpass *p);

static void
drop_conn(struct cpass *p)
{
	p->querying = false;
	if (p->pc) {
		instances_release(p->cx->instances, p->pc, true);
		p->pc = NULL;
	}
}

/* One answer, whichever engine gave it. */
struct answer {
	bool ok;
	bool server_error;	/* the connection is still good */
	const char *sqlstate;	/* "" if none */
	unsigned server_errno;	/* MySQL's error number, 0 if none */
	const char *msg;
	int nrows, ncols;
	const void *res;
	const char *(*value)(const void *res, int row, int col);
};

static void
on_answer(struct cpass *p, const struct answer *a)
{
	const char *cols[MAX_COLS];
	char msg[CPASS_MSG_MAX];
	int i, j, ncols, rc = 0;

	p->querying = false;
	if (!a->ok) {
		if (!a->server_error)
			drop_conn(p);
		if (a->server_errno && a->sqlstate[0])
			snprintf(msg, sizeof(msg), "error %u (%s): %s",
			    a->server_errno, a->sqlstate, a->msg);
		else if (a->sqlstate[0])
			snprintf(msg, sizeof(msg), "SQLSTATE %s: %s",
			    a->sqlstate, a->msg);
		else
			snprintf(msg, sizeof(msg), "%s", a->msg);
		cpass_run_failed(p, p->q == CPASS_Q_STEP &&
		    p->step < p->plan.n && p->plan.v[p->step].desc ?
		    p->plan.v[p->step].desc : "observe", msg);
		return;
	}
	if (p->q == CPASS_Q_STEP) {
		step_done(p);
		return;
	}
	ncols = a->ncols < MAX_COLS ? a->ncols : MAX_COLS;
	for (i = 0; i < a->nrows && rc == 0; i++) {
		for (j = 0; j < ncols; j++)
			cols[j] = a->value(a->res, i, j);
		rc = p->kind->row(p, cols, ncols);
	}
	if (rc != 0) {
		cpass_run_failed(p, "observe",
		    "unexpected answer from the server");
		return;
	}
	p->kind->answered(p);
}

static const char *
pg_value(const void *res, int row, int col)
{
	return pgconn_res_value(res, row, col);
}

static void
pg_done(struct pgconn *conn, const struct pgconn_result *res, void *arg)
{
	struct answer a;

	(void)conn;
	memset(&a, 0, sizeof(a));
	a.ok = res->err.code == PGCONN_OK;
	a.server_error = res->err.code == PGCONN_ESERVER;
	a.sqlstate = res->err.sqlstate;
	a.msg = res->err.msg;
	a.nrows = res->nrows;
	a.ncols = res->ncols;
	a.res = res;
	a.value = pg_value;
	on_answer(arg, &a);
}

static const char *
my_value(const void *res, int row, int col)
{
	return myconn_res_value(res, row, col);
}

static void
my_done(struct myconn *conn, const struct myconn_result *res, void *arg)
{
	struct answer a;
	char msg[160];
	int col;

	(void)conn;
	memset(&a, 0, sizeof(a));
	a.ok = res->err.code == MYCONN_OK;
	if (a.ok && (col = myconn_res_nul_column(res)) >= 0) {
		/* Never act on a name cut short at a NUL byte. */
		snprintf(msg, sizeof(msg), "the server returned a value with "
		    "a NUL byte in column %s",
		    myconn_res_colname(res, col) ? myconn_res_colname(res,
		    col) : "?");
		a.ok = false;
		a.sqlstate = "";
		a.msg = msg;
		on_answer(arg, &a);
		return;
	}
	a.server_error = res->err.code == MYCONN_ESERVER;
	a.sqlstate = res->err.sqlstate;
	a.server_errno = res->err.server_errno;
	a.msg = res->err.msg;
	a.nrows = res->nrows;
	a.ncols = res->ncols;
	a.res = res;
	a.value = my_value;
	on_answer(arg, &a);
}

/* Sends sql on the current connection; answers come to on_answer(). On
 * a refusal the pass fails (what names the statement). MySQL takes no
 * bind parameters: its statements arrive rendered. */
static void
send_sql(struct cpass *p, const char *sql, int nparams,
    const char *const *params, const char *what)
{
	void *conn = pool_conn_get(p->pc);
	char msg[CPASS_MSG_MAX];
	int rc;

	p->querying = true;
	if (p->engine == API_ENGINE_MYSQL) {
		if (nparams != 0) {
			snprintf(msg, sizeof(msg), "bind parameters are not "
			    "used with MySQL");
			rc = -1;
		} else if ((rc = myconn_query(conn, sql, my_done, p)) < 0)
			snprintf(msg, sizeof(msg), "%s",
			    myconn_error(conn)->msg);
	} else if ((rc = pgconn_query(conn, sql, nparams, params, pg_done,
	    p)) < 0)
		snprintf(msg, sizeof(msg), "%s", pgconn_error(conn)->msg);
	if (rc < 0) {
		drop_conn(p);
		cpass_run_failed(p, what, msg);
	}
}

void
cpass_query(struct cpass *p, int q, const char *sql, int nparams,
    const char *const *params)
{
	p->q = q;
	send_sql(p, sql, nparams, params, "query");
}

/* ---- plans --------------------------------------------------------------- */

static int
append_quoted(struct buf *out, char *q)
{
	int rc;

	if (q == NULL)
		return -1;
	rc = buf_append(out, q, strlen(q));
	explicit_bzero(q, strlen(q));	/* may be a password or verifier */
	free(q);
	return rc;
}

static int
pg_ident(void *ctx, const char *s, struct buf *out)
{
	char err[128];

	return append_quoted(out, pgconn_escape_identifier(ctx, s, err,
	    sizeof(err)));
}

static int
pg_literal(void *ctx, const char *s, struct buf *out)
{
	char err[128];

	return append_quoted(out, pgconn_escape_literal(ctx, s, err,
	    sizeof(err)));
}

static int
my_ident(void *ctx, const char *s, struct buf *out)
{
	(void)ctx;
	sqlstep_my_quote_ident(out, s);
	return 0;
}

static int
my_literal(void *ctx, const char *s, struct buf *out)
{
	char err[128];

	return append_quoted(out, myconn_escape_literal(ctx, s, err,
	    sizeof(err)));
}

/* Renders st with the live connection's quoting and sends it as query q
 * (CPASS_Q_STEP for a plan step). */
static void
send_step(struct cpass *p, int q, const struct sqlstep *st)
{
	void *conn = pool_conn_get(p->pc);
	struct sqlquote pgq = { conn, pg_ident, pg_literal };
	struct sqlquote myq = { conn, my_ident, my_literal };
	const char *params[MAX_PARAMS];
	const char *what = st->desc ? st->desc : q == CPASS_Q_STEP ? "step" :
	    "observe";
	size_t np;
	struct buf sql;
	char err[256];

	buf_init(&sql, 0);
	p->q = q;
	np = sqlstep_params(st, params, MAX_PARAMS);
	if (np > MAX_PARAMS || sqlstep_render(st, p->engine ==
	    API_ENGINE_MYSQL ? &myq : &pgq, &sql, err, sizeof(err)) < 0) {
		buf_release_secret(&sql);
		cpass_run_failed(p, what, np > MAX_PARAMS ?
		    "too many parameters" : err);
		return;
	}
	if (q == CPASS_Q_STEP)
		log_debug("running step", "namespace", p->t->namespace,
		    "name", p->t->name, "step", what);
	send_sql(p, buf_cstr(&sql), (int)np, params, what);
	buf_release_secret(&sql);
}

void
cpass_query_step(struct cpass *p, int q, const struct sqlstep *st)
{
	send_step(p, q, st);
}

static void run_step(struct cpass *p);

static void
exec_step(struct cpass *p)
{
	send_step(p, CPASS_Q_STEP, &p->plan.v[p->step]);
}

static void
run_step(struct cpass *p)
{
	if (p->step >= p->plan.n) {
		p->kind->executed(p);
		return;
	}
	cpass_with_conn(p, p->plan.v[p->step].database, exec_step);
}

static void
step_done(struct cpass *p)
{
	const struct sqlstep *st = &p->plan.v[p->step];
	const struct cobj *c = ctrl_object(p->t);
	char msg[CPASS_MSG_MAX];

	if (c && st->desc) {
		if (p->repair) {
			snprintf(msg, sizeof(msg), "repaired: %s", st->desc);
			ctrl_emit(p->cx, c, EVENT_NORMAL, "Repaired", msg);
		} else
			ctrl_emit(p->cx, c, EVENT_NORMAL, p->deleting ?
			    "Deleted" : p->exists ? "Updated" : "Created",
			    st->desc);
	}
	p->step++;
	run_step(p);
}

void
cpass_run_plan(struct cpass *p)
{
	p->step = 0;
	run_step(p);
}

bool
cpass_apply(struct cpass *p, const struct cobj *c, const char *creating_msg)
{
	const struct api_meta *md = cobj_meta(c);
	const void *was = cpass_cached_status(p, c);
	const struct api_condition *ready;
	union status_buf sb;
	void *st = &sb;
	int64_t gen;

	if (sqlplan_empty(&p->plan))
		return false;
	ready = api_conditions_get(field(was, p->kind->conditions_off),
	    COND_READY);
	memcpy(&gen, field(was, p->kind->gen_off), sizeof(gen));
	p->repair = p->exists && ready && ready->status == API_COND_TRUE &&
	    gen == md->generation;
	if (p->repair)
		log_info("repairing drift", "controller", p->t->def->name,
		    "namespace", md->ns, "name", md->name, "step",
		    p->plan.v[0].desc ? p->plan.v[0].desc : "");
	/*
	 * Creating is written when the object starts being created, not
	 * before every attempt: a retry of a generation that failed goes
	 * straight to work, so an object that cannot succeed does not flip
	 * its status Creating <-> Failed on each retry.
	 */
	if (p->exists || (status_phase(p, was) == API_PHASE_FAILED &&
	    gen == md->generation)) {
		cpass_run_plan(p);
		return true;
	}
	if (p->kind->status_size > sizeof(sb))
		abort();
	cpass_status_base(p, st, c);
	cpass_status_set(p, st, API_PHASE_CREATING, creating_msg);
	p->after_write = cpass_run_plan;
	cpass_finish(p, c, st, RRESULT_DONE, 0);
	api_conditions_release(cpass_conditions(p, st));
	return true;
}

/* ---- timeout and instance -------------------------------------------------- */

static void
pass_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cpass *p = container_of(w, struct cpass, timeout);
	char msg[64];

	(void)loop;
	(void)revents;
	if (p->wait) {
		instances_cancel(p->wait);
		p->wait = NULL;
	}
	drop_conn(p);
	if (p->write) {
		kreq_cancel(p->write);
		p->write = NULL;
	}
	p->after_write = NULL;
	snprintf(msg, sizeof(msg), "timed out after %.0f s",
	    CPASS_PASS_TIMEOUT);
	p->q = 0;
	cpass_run_failed(p, "reconcile", msg);
}

/* ---- claims ---------------------------------------------------------------- */

/* Where a kind keeps its instance reference and server-side name, and
 * which kinds share the server's name space with it (PostgreSQL roles
 * and MySQL accounts serve DatabaseUser and DatabaseRole alike). */
struct claim_kind {
	enum api_kind kind;
	size_t ref_off;
	size_t name_off;	/* of the char * */
	int group;		/* 0: databases, 1: roles and users */
};

static const struct claim_kind claim_kinds[] = {
	{ API_DATABASE, offsetof(struct api_database, spec.instance),
	  offsetof(struct api_database, spec.name), 0 },
	{ API_USER, offsetof(struct api_user, spec.instance),
	  offsetof(struct api_user, spec.username), 1 },
	{ API_ROLE, offsetof(struct api_role, spec.instance),
	  offsetof(struct api_role, spec.role_name), 1 },
};

struct claim {
	const struct api_meta *md;
	bool held;		/* Ready: it manages the object now */
};

struct claim_scan {
	const struct claim_kind *ck;
	const char *inst_ns, *inst_name, *name;
	struct claim me;
	struct claim winner;
	const char *winner_kind;
};

static const struct claim_kind *
claim_kind_of(enum api_kind k)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(claim_kinds); i++)
		if (claim_kinds[i].kind == k)
			return &claim_kinds[i];
	return NULL;
}

static bool
claim_held(const struct cobj *c)
{
	return ctrl_phase(c) == API_PHASE_READY;
}

/* True when claim x comes before y: one that manages the object now (is
 * Ready) before one that does not, then the earlier creationTimestamp,
 * then namespace/name order (a total order, so exactly one claim wins,
 * and a new object never takes over from one in charge). */
static bool
claim_older(const struct claim *x, const struct claim *y)
{
	const struct api_meta *a = x->md, *b = y->md;
	int c;

	if (x->held != y->held)
		return x->held;
	if (a->creation_timestamp != b->creation_timestamp)
		return a->creation_timestamp < b->creation_timestamp;
	if ((c = strcmp(a->ns ? a->ns : "", b->ns ? b->ns : "")) != 0)
		return c < 0;
	return strcmp(a->name ? a->name : "", b->name ? b->name : "") < 0;
}

static void
claim_one(const struct kobj *o, void *arg)
{
	struct claim_scan *s = arg;
	const struct cobj *c = o->data;
	const struct api_meta *md;
	const char *name;

	if (c == NULL || c->typed == NULL || c->errors)
		return;
	md = cobj_meta(c);
	if (streq(md->uid ? md->uid : "", s->me.md->uid ? s->me.md->uid : ""))
		return;
	memcpy(&name, (const char *)c->typed + s->ck->name_off, sizeof(name));
	if (name == NULL || !streq(name, s->name) ||
	    !ctrl_refers_to(o, s->ck->ref_off, s->inst_ns, s->inst_name))
		return;
	{
		struct claim it = { md, claim_held(c) };

		if (claim_older(&it, &s->me) && (s->winner.md == NULL ||
		    claim_older(&it, &s->winner))) {
			s->winner = it;
			s->winner_kind = api_kind_info(s->ck->kind)->kind;
		}
	}
}

bool
cpass_claimed(struct cpass *p, const struct cobj *c, const struct api_ref *ref,
    char *msg, size_t msglen)
{
	const struct claim_kind *mine = claim_kind_of(p->kind->kind);
	struct claim_scan s;
	size_t i;

	if (mine == NULL)
		return false;
	memset(&s, 0, sizeof(s));
	s.inst_ns = ref->ns && *ref->ns ? ref->ns : cobj_meta(c)->ns;
	s.inst_name = ref->name ? ref->name : "";
	s.name = p->name;
	s.me.md = cobj_meta(c);
	s.me.held = claim_held(c);
	for (i = 0; i < ARRAY_SIZE(claim_kinds); i++) {
		struct informer *inf;

		if (claim_kinds[i].group != mine->group)
			continue;
		inf = mgr_informer(p->t->mgr,
		    api_kind_info(claim_kinds[i].kind)->singular);
		if (inf == NULL)
			continue;
		s.ck = &claim_kinds[i];
		informer_foreach(inf, claim_one, &s);
	}
	if (s.winner.md == NULL)
		return false;
	snprintf(msg, msglen, "%s %s on DatabaseInstance %s/%s is already "
	    "managed by %s %s/%s; two objects must not manage one %s",
	    mine->group ? "role" : "database", p->name, s.inst_ns,
	    s.inst_name, s.winner_kind, s.winner.md->ns, s.winner.md->name,
	    mine->group ? "role" : "database");
	return true;
}

const struct api_instance *
cpass_resolve(struct cpass *p, const struct cobj *c, const struct api_ref *ref,
    bool pg_block, bool my_block)
{
	const struct api_instance *in;
	struct ctrl_refusal why;
	char msg[CPASS_MSG_MAX];
	const char *other = NULL;

	in = ctrl_resolve_instance(p->t, p->kind->kind, ref, cobj_meta(c)->ns,
	    p->deleting, p->kind->engines ? p->kind->engines :
	    CTRL_ENGINE(API_ENGINE_POSTGRES), &why, msg, sizeof(msg));
	if (in == NULL && p->deleting && streq(why.reason, "UnsupportedEngine")) {
		/* Nothing was ever made on a server of that engine. */
		cpass_remove_finalizer(p);
		return NULL;
	}
	if (in == NULL) {
		cpass_fail(p, why.phase, why.reason, msg, why.res, why.delay);
		return NULL;
	}
	if (in->spec.engine == API_ENGINE_POSTGRES && my_block)
		other = "spec.mysql";
	else if (in->spec.engine == API_ENGINE_MYSQL && pg_block)
		other = "spec.postgres";
	if (other != NULL) {
		snprintf(msg, sizeof(msg), "%s: must not be set for a %s "
		    "instance", other, api_engine_names[in->spec.engine]);
		cpass_fail(p, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return NULL;
	}
	if (p->cx->instances == NULL) {
		cpass_run_failed(p, "connect",
		    "the connection registry is not available");
		return NULL;
	}
	p->engine = in->spec.engine;
	if (cpass_claimed(p, c, ref, msg, sizeof(msg))) {
		if (p->deleting) {
			/* It never managed the object: nothing to drop. */
			cpass_remove_finalizer(p);
			return NULL;
		}
		cpass_fail(p, API_PHASE_FAILED, "NameConflict", msg,
		    RRESULT_REQUEUE, 30);
		return NULL;
	}
	return in;
}
