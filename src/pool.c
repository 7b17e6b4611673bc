/*
 * pool.c - per-server connection pools (see pool.h for the semantics).
 *
 * Bookkeeping:
 *   pool ─ map of instances ─ each: its slots (connections in any state),
 *                                   its FIFO of waiters, its parameters,
 *                                   a map database -> backoff state
 *   pool-wide: an LRU of idle slots (oldest first, for the idle timeout
 *   and for making room) and a FIFO of all waiters (oldest first, for the
 *   wait timeout: every waiter gets the same timeout, so the head expires
 *   first). One ev_timer follows the nearest of the two.
 *
 * Every change marks its instance dirty and starts an ev_prepare hook; the
 * hook hands out connections and reports errors (dispatch()), which is the
 * only place the pool calls its users back. Engine connections are closed
 * through ops->close, which engines allow from inside their own callbacks.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "map.h"
#include "pool.h"

#define POOL_DEFAULT_MAX 4
#define POOL_DEFAULT_IDLE 300.0
#define POOL_DEFAULT_WAIT 30.0

enum slot_state {
	SLOT_CONNECTING,
	SLOT_IDLE,
	SLOT_BUSY,
	SLOT__COUNT
};

struct pool_inst;

struct pool_conn {
	struct pool *pool;
	struct pool_inst *inst;
	char *dbname;
	void *conn;
	enum slot_state state;
	unsigned gen;		/* instance generation it was made in */
	bool claimed;		/* CONNECTING: a waiter counts on it */
	bool lost;		/* BUSY: the engine saw it break */
	double idle_since;
	struct pool_conn *next, *prev;		/* instance's slots */
	struct pool_conn *lnext, *lprev;	/* pool's idle LRU */
};

struct pool_wait {
	struct pool *pool;
	struct pool_inst *inst;
	char *dbname;
	pool_acquire_fn cb;
	void *arg;
	double deadline;	/* < 0: none */
	struct pool_wait *next, *prev;		/* instance FIFO */
	struct pool_wait *gnext, *gprev;	/* pool FIFO */
};

struct pool_db {
	struct backoff b;
	double retry_at;
	char last_err[POOL_ERR_LEN];
};

struct pool_inst {
	struct pool *pool;
	char *key;
	void *params;		/* the engine's, owned; NULL after a drop */
	unsigned gen;
	unsigned nslots;
	struct pool_conn *slots;
	struct pool_wait *whead, *wtail;
	struct map dbs;		/* dbname -> struct pool_db */
	struct pool_stats st;	/* counters (gauges are computed) */
	bool dirty;
	bool visited;
	struct pool_inst *dnext;	/* dirty list */
	struct pool_inst *vnext;	/* visited in this pump */
};

struct pool {
	struct ev_loop *loop;
	struct pool_config cfg;
	const struct pool_ops *ops;
	void *ops_arg;
	struct map insts;		/* key -> struct pool_inst */
	struct pool_inst *dirty;
	struct pool_conn *lhead, *ltail;	/* idle LRU */
	struct pool_wait *ghead, *gtail;	/* all waiters */
	struct pool_stats gone;		/* counters of freed instances */
	ev_prepare pump;
	ev_timer timer;
	bool pumping;
};

static const char *const slot_state_names[SLOT__COUNT] = {
	[SLOT_CONNECTING] = "connecting",
	[SLOT_IDLE] = "idle",
	[SLOT_BUSY] = "busy",
};

static double
pool_now(struct pool *p)
{
	return p->cfg.now ? p->cfg.now(p->cfg.now_arg) : ev_now(p->loop);
}

static void
mark_dirty(struct pool_inst *in)
{
	struct pool *p = in->pool;

	if (!in->dirty) {
		in->dirty = true;
		in->dnext = p->dirty;
		p->dirty = in;
	}
	if (!p->pumping)
		ev_prepare_start(p->loop, &p->pump);
}

/* ---- lists ----------------------------------------------------------- */

static void
lru_append(struct pool *p, struct pool_conn *pc)
{
	pc->lnext = NULL;
	pc->lprev = p->ltail;
	if (p->ltail)
		p->ltail->lnext = pc;
	else
		p->lhead = pc;
	p->ltail = pc;
}

static void
lru_unlink(struct pool *p, struct pool_conn *pc)
{
	if (pc->lprev)
		pc->lprev->lnext = pc->lnext;
	else
		p->lhead = pc->lnext;
	if (pc->lnext)
		pc->lnext->lprev = pc->lprev;
	else
		p->ltail = pc->lprev;
	pc->lnext = pc->lprev = NULL;
}

static void
wait_unlink(struct pool_wait *w)
{
	struct pool_inst *in = w->inst;
	struct pool *p = w->pool;

	if (w->prev)
		w->prev->next = w->next;
	else
		in->whead = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		in->wtail = w->prev;
	if (w->gprev)
		w->gprev->gnext = w->gnext;
	else
		p->ghead = w->gnext;
	if (w->gnext)
		w->gnext->gprev = w->gprev;
	else
		p->gtail = w->gprev;
}

static void
wait_free(struct pool_wait *w)
{
	free(w->dbname);
	free(w);
}

/* ---- instances ----------------------------------------------------------- */

static struct pool_inst *
inst_get(struct pool *p, const char *key, bool create)
{
	struct pool_inst *in = map_get(&p->insts, key);

	if (in != NULL || !create)
		return in;
	in = xcalloc(1, sizeof(*in));
	in->pool = p;
	in->key = xstrdup(key);
	map_init(&in->dbs);
	map_put(&p->insts, key, in);
	return in;
}

static struct pool_db *
db_get(struct pool_inst *in, const char *dbname, bool create)
{
	struct pool_db *d = map_get(&in->dbs, dbname);

	if (d != NULL || !create)
		return d;
	d = xcalloc(1, sizeof(*d));
	backoff_init(&d->b, &in->pool->cfg.backoff);
	d->b.rand = in->pool->cfg.rand;
	map_put(&in->dbs, dbname, d);
	return d;
}

static void
counters_add(struct pool_stats *to, const struct pool_stats *from)
{
	to->connects += from->connects;
	to->connect_failures += from->connect_failures;
	to->closed_idle += from->closed_idle;
	to->closed_broken += from->closed_broken;
	to->handed_out += from->handed_out;
}

static void
inst_free(struct pool_inst *in)
{
	struct pool *p = in->pool;

	counters_add(&p->gone, &in->st);
	if (in->params)
		p->ops->params_free(in->params);
	map_release(&in->dbs, free);
	free(in->key);
	free(in);
}

static bool
inst_empty(const struct pool_inst *in)
{
	return in->nslots == 0 && in->whead == NULL && in->params == NULL;
}

/* ---- slots --------------------------------------------------------------- */

enum close_reason { CLOSE_FAILED, CLOSE_IDLE, CLOSE_BROKEN, CLOSE_ROOM,
	CLOSE_SHUTDOWN };

static void
slot_close(struct pool_conn *pc, enum close_reason why)
{
	struct pool_inst *in = pc->inst;
	struct pool *p = pc->pool;

	log_debug("pool connection closed", "engine", p->ops->engine,
	    "instance", in->key, "database", pc->dbname, "state",
	    slot_state_names[pc->state], "reason",
	    why == CLOSE_IDLE ? "idle" : why == CLOSE_BROKEN ? "broken" :
	    why == CLOSE_ROOM ? "room" : why == CLOSE_FAILED ? "failed" :
	    "shutdown");
	if (why == CLOSE_IDLE)
		in->st.closed_idle++;
	else if (why == CLOSE_BROKEN)
		in->st.closed_broken++;
	if (pc->state == SLOT_IDLE)
		lru_unlink(p, pc);
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		in->slots = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
	in->nslots--;
	if (pc->conn)
		p->ops->close(pc->conn);
	free(pc->dbname);
	free(pc);
	mark_dirty(in);
}

static void
slot_idle(struct pool_conn *pc)
{
	pc->state = SLOT_IDLE;
	pc->idle_since = pool_now(pc->pool);
	lru_append(pc->pool, pc);
	mark_dirty(pc->inst);
}

static void
record_failure(struct pool_inst *in, const char *dbname, const char *err)
{
	struct pool *p = in->pool;
	struct pool_db *d = db_get(in, dbname, true);
	double now = pool_now(p);
	double delay = backoff_next(&d->b, now);
	char retry[32];

	d->retry_at = now + delay;
	strlcpy0(d->last_err, err && *err ? err : "connect failed",
	    sizeof(d->last_err));
	in->st.connect_failures++;
	snprintf(retry, sizeof(retry), "%.3f", delay);
	log_warn("database connect failed", "engine", p->ops->engine,
	    "instance", in->key, "database", dbname, "error", d->last_err,
	    "retry_after_s", retry);
}

/* Opens a new slot for dbname; NULL when the engine refused at once
 * (recorded as a failure). */
static struct pool_conn *
slot_open(struct pool_inst *in, const char *dbname)
{
	struct pool *p = in->pool;
	struct pool_conn *pc = xcalloc(1, sizeof(*pc));
	char err[POOL_ERR_LEN] = "";

	pc->pool = p;
	pc->inst = in;
	pc->dbname = xstrdup(dbname);
	pc->state = SLOT_CONNECTING;
	pc->gen = in->gen;
	pc->next = in->slots;
	if (in->slots)
		in->slots->prev = pc;
	in->slots = pc;
	in->nslots++;
	in->st.connects++;
	pc->conn = p->ops->connect(p->ops_arg, p->loop, in->params, dbname,
	    pc, err, sizeof(err));
	if (pc->conn == NULL) {
		record_failure(in, dbname, err);
		slot_close(pc, CLOSE_FAILED);
		return NULL;
	}
	return pc;
}

void
pool_conn_connected(struct pool_conn *pc, const char *err)
{
	struct pool_inst *in = pc->inst;
	struct pool_db *d;

	if (err != NULL) {
		record_failure(in, pc->dbname, err);
		/* The engine forgets pc once we close its connection. */
		slot_close(pc, CLOSE_FAILED);
		return;
	}
	d = db_get(in, pc->dbname, false);
	if (d != NULL) {
		backoff_reset(&d->b);
		d->retry_at = 0;
		d->last_err[0] = '\0';
	}
	if (pc->gen != in->gen) {
		slot_close(pc, CLOSE_BROKEN);
		return;
	}
	slot_idle(pc);
}

void
pool_conn_lost(struct pool_conn *pc)
{
	if (pc->state == SLOT_IDLE)
		slot_close(pc, CLOSE_BROKEN);
	else
		pc->lost = true;
}

/* ---- dispatch ------------------------------------------------------------ */

static struct pool_conn *
find_idle(struct pool_inst *in, const char *dbname)
{
	struct pool *p = in->pool;
	struct pool_conn *pc;

	/* Most recently used first: the others may idle out. */
	for (pc = p->ltail; pc != NULL; pc = pc->lprev)
		if (pc->inst == in && strcmp(pc->dbname, dbname) == 0)
			return pc;
	return NULL;
}

static struct pool_conn *
find_unclaimed(struct pool_inst *in, const char *dbname)
{
	struct pool_conn *pc;

	for (pc = in->slots; pc != NULL; pc = pc->next)
		if (pc->state == SLOT_CONNECTING && !pc->claimed &&
		    strcmp(pc->dbname, dbname) == 0)
			return pc;
	return NULL;
}

static struct pool_conn *
oldest_idle_other(struct pool_inst *in, const char *dbname)
{
	struct pool_conn *pc;

	for (pc = in->pool->lhead; pc != NULL; pc = pc->lnext)
		if (pc->inst == in && strcmp(pc->dbname, dbname) != 0)
			return pc;
	return NULL;
}

/* Removes w and calls it back; the caller restarts its walk. */
static void
finish_wait(struct pool_wait *w, struct pool_conn *pc, const char *err)
{
	pool_acquire_fn cb = w->cb;
	void *arg = w->arg;

	wait_unlink(w);
	wait_free(w);
	cb(pc, err, arg);
}

static void
hand_out(struct pool_wait *w, struct pool_conn *pc)
{
	struct pool *p = pc->pool;

	lru_unlink(p, pc);
	pc->state = SLOT_BUSY;
	pc->lost = false;
	pc->inst->st.handed_out++;
	finish_wait(w, pc, NULL);
}

static unsigned
pool_cap(const struct pool *p)
{
	return p->cfg.max_per_instance ? p->cfg.max_per_instance :
	    POOL_DEFAULT_MAX;
}

/*
 * Serves the instance's waiters in order. After any callback the walk
 * starts over: the callback may have changed anything of this instance.
 */
static void
dispatch(struct pool_inst *in)
{
	struct pool *p = in->pool;
	struct pool_wait *w;
	struct pool_conn *pc;
	double now = pool_now(p);
	char msg[POOL_ERR_LEN + 64];

restart:
	for (pc = in->slots; pc != NULL; pc = pc->next)
		pc->claimed = false;
	for (w = in->whead; w != NULL; w = w->next) {
		struct pool_db *d;

		if (w->deadline >= 0 && now >= w->deadline) {
			snprintf(msg, sizeof(msg), "timed out waiting for a "
			    "connection to %s/%s (%u of %u in use)", in->key,
			    w->dbname, in->nslots, pool_cap(p));
			finish_wait(w, NULL, msg);
			goto restart;
		}
		while ((pc = find_idle(in, w->dbname)) != NULL &&
		    p->ops->is_broken(pc->conn))
			slot_close(pc, CLOSE_BROKEN);
		if (pc != NULL) {
			hand_out(w, pc);
			goto restart;
		}
		if ((pc = find_unclaimed(in, w->dbname)) != NULL) {
			pc->claimed = true;
			continue;
		}
		if (in->params == NULL) {
			snprintf(msg, sizeof(msg), "no connection parameters "
			    "for %s (the instance was reset)", in->key);
			finish_wait(w, NULL, msg);
			goto restart;
		}
		d = db_get(in, w->dbname, false);
		if (d != NULL && now < d->retry_at) {
			finish_wait(w, NULL, d->last_err);
			goto restart;
		}
		if (in->nslots >= pool_cap(p)) {
			pc = oldest_idle_other(in, w->dbname);
			if (pc == NULL)
				continue;	/* wait for a slot */
			slot_close(pc, CLOSE_ROOM);
		}
		pc = slot_open(in, w->dbname);
		if (pc != NULL)
			pc->claimed = true;
		else
			goto restart;	/* now backing off: w gets the error */
	}
}

static void
arm_timer(struct pool *p)
{
	double next = INFINITY, now = pool_now(p);

	if (p->lhead != NULL && p->cfg.idle_timeout >= 0)
		next = p->lhead->idle_since + (p->cfg.idle_timeout > 0 ?
		    p->cfg.idle_timeout : POOL_DEFAULT_IDLE);
	if (p->ghead != NULL && p->ghead->deadline >= 0 &&
	    p->ghead->deadline < next)
		next = p->ghead->deadline;
	ev_timer_stop(p->loop, &p->timer);
	if (next == INFINITY)
		return;
	/* A little late rather than early: no zero-delay spinning. */
	ev_timer_set(&p->timer, next > now ? next - now + 0.001 : 0.001, 0.);
	ev_timer_start(p->loop, &p->timer);
}

void
pool_pump(struct pool *p)
{
	struct pool_inst *in, *visited = NULL;

	if (p->pumping)
		return;
	p->pumping = true;
	while ((in = p->dirty) != NULL) {
		p->dirty = in->dnext;
		in->dirty = false;
		if (!in->visited) {
			in->visited = true;
			in->vnext = visited;
			visited = in;
		}
		dispatch(in);
	}
	/* No callbacks below: instances left with nothing can go. */
	while ((in = visited) != NULL) {
		visited = in->vnext;
		in->visited = false;
		if (inst_empty(in) && !in->dirty) {
			map_del(&p->insts, in->key);
			inst_free(in);
		}
	}
	p->pumping = false;
	if (p->dirty == NULL)
		ev_prepare_stop(p->loop, &p->pump);
	arm_timer(p);
}

static void
pump_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	pool_pump(container_of(w, struct pool, pump));
}

void
pool_expire(struct pool *p)
{
	double now = pool_now(p);
	double idle = p->cfg.idle_timeout > 0 ? p->cfg.idle_timeout :
	    POOL_DEFAULT_IDLE;
	struct pool_wait *w;

	while (p->cfg.idle_timeout >= 0 && p->lhead != NULL &&
	    p->lhead->idle_since + idle <= now)
		slot_close(p->lhead, CLOSE_IDLE);
	for (w = p->ghead; w != NULL && w->deadline >= 0 && w->deadline <= now;
	    w = w->gnext)
		mark_dirty(w->inst);	/* dispatch reports the timeout */
	pool_pump(p);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	pool_expire(container_of(w, struct pool, timer));
}

/* ---- public API ---------------------------------------------------------- */

struct pool *
pool_new(struct ev_loop *loop, const struct pool_config *cfg,
    const struct pool_ops *ops, void *ops_arg)
{
	struct pool *p = xcalloc(1, sizeof(*p));

	p->loop = loop;
	if (cfg)
		p->cfg = *cfg;
	if (p->cfg.backoff.initial <= 0)
		p->cfg.backoff = (struct backoff_params){ 0.5, 2.0, 0.2, 30.0,
		    120.0 };
	p->ops = ops;
	p->ops_arg = ops_arg;
	map_init(&p->insts);
	ev_prepare_init(&p->pump, pump_cb);
	ev_timer_init(&p->timer, timer_cb, 0., 0.);
	return p;
}

void
pool_free(struct pool *p)
{
	size_t pos = 0;
	void *v;

	if (p == NULL)
		return;
	p->pumping = true;	/* no hand-out while tearing down */
	while (map_next(&p->insts, &pos, NULL, &v)) {
		struct pool_inst *in = v;
		struct pool_wait *w;

		while ((w = in->whead) != NULL) {
			wait_unlink(w);
			wait_free(w);
		}
		while (in->slots != NULL)
			slot_close(in->slots, CLOSE_SHUTDOWN);
		inst_free(in);
	}
	map_release(&p->insts, NULL);
	ev_prepare_stop(p->loop, &p->pump);
	ev_timer_stop(p->loop, &p->timer);
	free(p);
}

struct pool_wait *
pool_acquire(struct pool *p, const char *instance, const char *dbname,
    const void *params, pool_acquire_fn cb, void *arg)
{
	struct pool_inst *in = inst_get(p, instance, true);
	struct pool_wait *w = xcalloc(1, sizeof(*w));
	double wait = p->cfg.acquire_timeout;

	if (params != NULL) {
		void *old = in->params;

		in->params = p->ops->params_dup(params);
		if (old)
			p->ops->params_free(old);
	}
	w->pool = p;
	w->inst = in;
	w->dbname = xstrdup(dbname ? dbname : "");
	w->cb = cb;
	w->arg = arg;
	if (wait == 0)
		wait = POOL_DEFAULT_WAIT;
	w->deadline = wait > 0 ? pool_now(p) + wait : -1;
	w->prev = in->wtail;
	if (in->wtail)
		in->wtail->next = w;
	else
		in->whead = w;
	in->wtail = w;
	w->gprev = p->gtail;
	if (p->gtail)
		p->gtail->gnext = w;
	else
		p->ghead = w;
	p->gtail = w;
	mark_dirty(in);
	return w;
}

void
pool_cancel(struct pool_wait *w)
{
	struct pool_inst *in = w->inst;

	wait_unlink(w);
	wait_free(w);
	mark_dirty(in);		/* may free an empty instance */
}

void
pool_release(struct pool *p, struct pool_conn *pc, bool broken)
{
	struct pool_inst *in = pc->inst;

	if (broken || pc->lost || pc->gen != in->gen ||
	    p->ops->is_broken(pc->conn))
		slot_close(pc, CLOSE_BROKEN);
	else
		slot_idle(pc);
}

void
pool_drop_instance(struct pool *p, const char *instance)
{
	struct pool_inst *in = inst_get(p, instance, false);
	struct pool_conn *pc, *next;

	if (in == NULL)
		return;
	in->gen++;
	for (pc = in->slots; pc != NULL; pc = next) {
		next = pc->next;
		if (pc->state != SLOT_BUSY)
			slot_close(pc, CLOSE_BROKEN);
	}
	if (in->params) {
		p->ops->params_free(in->params);
		in->params = NULL;
	}
	map_release(&in->dbs, free);
	map_init(&in->dbs);
	log_info("pool instance dropped", "engine", p->ops->engine,
	    "instance", in->key);
	mark_dirty(in);
}

void
pool_close_idle_db(struct pool *p, const char *instance, const char *dbname)
{
	struct pool_inst *in = inst_get(p, instance, false);
	struct pool_conn *pc, *next;

	if (in == NULL)
		return;
	for (pc = in->slots; pc != NULL; pc = next) {
		next = pc->next;
		if (pc->state != SLOT_BUSY && strcmp(pc->dbname, dbname) == 0)
			slot_close(pc, CLOSE_IDLE);
	}
	mark_dirty(in);
}

struct pool *
pool_conn_pool(const struct pool_conn *pc)
{
	return pc->pool;
}

void *
pool_conn_get(const struct pool_conn *pc)
{
	return pc->conn;
}

const char *
pool_conn_instance(const struct pool_conn *pc)
{
	return pc->inst->key;
}

const char *
pool_conn_dbname(const struct pool_conn *pc)
{
	return pc->dbname;
}

static void
inst_stats(const struct pool_inst *in, struct pool_stats *out)
{
	const struct pool_conn *pc;
	const struct pool_wait *w;

	counters_add(out, &in->st);
	for (pc = in->slots; pc != NULL; pc = pc->next) {
		out->conns++;
		if (pc->state == SLOT_IDLE)
			out->idle++;
		else if (pc->state == SLOT_BUSY)
			out->busy++;
		else
			out->connecting++;
	}
	for (w = in->whead; w != NULL; w = w->next)
		out->waiting++;
}

void
pool_stats(const struct pool *p, const char *instance,
    struct pool_stats *out)
{
	size_t pos = 0;
	void *v;

	memset(out, 0, sizeof(*out));
	if (instance != NULL) {
		const struct pool_inst *in = map_get(&p->insts, instance);

		if (in)
			inst_stats(in, out);
		return;
	}
	counters_add(out, &p->gone);
	while (map_next(&p->insts, &pos, NULL, &v))
		inst_stats(v, out);
}
