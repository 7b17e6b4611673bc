/*
 * pool: the bookkeeping with a fake engine and an injected clock -- the
 * cap per instance, FIFO waiters, reuse, broken and lost connections
 * replaced, backoff after connect failures (waiters get the error, the
 * server is not retried before the delay), idle and wait timeouts, making
 * room for another database, drop, cancel, callbacks that re-enter.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "log.h"
#include "pool.h"
#include "tap.h"

/* ---- fake engine ----------------------------------------------------- */

struct fake {
	struct pool_conn *slot;
	char db[32];
	char tag[32];		/* params it was made with */
	bool broken;
	bool closed;
};

struct fparams {
	char *tag;
};

static struct fake *fakes[64];
static int nfakes;
static int params_live;
static const char *refuse_connect;	/* connect() returns NULL with it */
static double now_val = 1000.0;

static double
fake_now(void *arg)
{
	(void)arg;
	return now_val;
}

static double
zero_rand(void)
{
	return 0.0;
}

static void *
fake_connect(void *ops_arg, struct ev_loop *loop, const void *params,
    const char *dbname, struct pool_conn *slot, char *err, size_t errlen)
{
	const struct fparams *fp = params;
	struct fake *f;

	(void)ops_arg;
	(void)loop;
	if (refuse_connect) {
		strlcpy0(err, refuse_connect, errlen);
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	f->slot = slot;
	strlcpy0(f->db, dbname, sizeof(f->db));
	strlcpy0(f->tag, fp->tag, sizeof(f->tag));
	fakes[nfakes++] = f;
	return f;
}

static void
fake_close(void *conn)
{
	struct fake *f = conn;

	f->closed = true;
	f->slot = NULL;
}

static bool
fake_is_broken(const void *conn)
{
	return ((const struct fake *)conn)->broken;
}

static void *
fake_params_dup(const void *params)
{
	const struct fparams *p = params;
	struct fparams *d = xcalloc(1, sizeof(*d));

	d->tag = xstrdup(p->tag);
	params_live++;
	return d;
}

static void
fake_params_free(void *params)
{
	struct fparams *p = params;

	free(p->tag);
	free(p);
	params_live--;
}

static const struct pool_ops fake_ops = {
	.engine = "fake",
	.connect = fake_connect,
	.close = fake_close,
	.is_broken = fake_is_broken,
	.params_dup = fake_params_dup,
	.params_free = fake_params_free,
};

/* Finishes the connect of fake i (err NULL = success). */
static void
complete(int i, const char *err)
{
	pool_conn_connected(fakes[i]->slot, err);
}

static int
open_fakes(void)
{
	int i, n = 0;

	for (i = 0; i < nfakes; i++)
		if (!fakes[i]->closed)
			n++;
	return n;
}

static void
reset_fakes(void)
{
	int i;

	for (i = 0; i < nfakes; i++)
		free(fakes[i]);
	nfakes = 0;
}

/* ---- recording waiters --------------------------------------------------- */

struct got {
	int calls;
	struct pool_conn *pc;
	char err[POOL_ERR_LEN];
	int order;
	bool release_at_once;	/* give it back from inside the callback */
	struct pool *pool;
};

static int order_seq;

static void
on_acquire(struct pool_conn *pc, const char *err, void *arg)
{
	struct got *g = arg;

	g->calls++;
	g->pc = pc;
	g->order = ++order_seq;
	strlcpy0(g->err, err ? err : "", sizeof(g->err));
	if (pc && g->release_at_once) {
		pool_release(g->pool, pc, false);
		g->pc = NULL;
	}
}

static struct pool *
new_pool(struct ev_loop *loop, unsigned cap)
{
	struct pool_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.max_per_instance = cap;
	cfg.idle_timeout = 10;
	cfg.acquire_timeout = 5;
	cfg.now = fake_now;
	cfg.rand = zero_rand;
	return pool_new(loop, &cfg, &fake_ops, NULL);
}

static struct fparams P1 = { "p1" }, P2 = { "p2" };

static void
test_cap_and_fifo(struct ev_loop *loop)
{
	struct pool *p = new_pool(loop, 2);
	struct got g[5];
	struct pool_stats st;
	int i;

	memset(g, 0, sizeof(g));
	for (i = 0; i < 4; i++)
		pool_acquire(p, "ns/inst", "app", i == 0 ? &P1 : NULL,
		    on_acquire, &g[i]);
	is_int(g[0].calls + g[1].calls, 0, "no callback inside acquire");
	pool_pump(p);
	is_int(nfakes, 2, "cap 2: two connects for four waiters");
	pool_stats(p, "ns/inst", &st);
	is_int(st.connecting, 2, "two connecting");
	is_int(st.waiting, 4, "four waiting");
	complete(1, NULL);
	pool_pump(p);
	is_int(g[0].calls, 1, "first waiter served first");
	is_int(g[1].calls, 0, "second still waiting");
	ok(pool_conn_get(g[0].pc) == fakes[1], "with the connection that came up");
	is_str(pool_conn_dbname(g[0].pc), "app", "dbname");
	is_str(pool_conn_instance(g[0].pc), "ns/inst", "instance");
	complete(0, NULL);
	pool_pump(p);
	is_int(g[1].calls, 1, "second served");
	is_int(g[2].calls + g[3].calls, 0, "others wait at the cap");
	is_int(nfakes, 2, "still two connections");

	pool_release(p, g[0].pc, false);
	is_int(g[2].calls, 0, "no callback inside release");
	pool_pump(p);
	is_int(g[2].calls, 1, "third served by the released connection");
	ok(pool_conn_get(g[2].pc) == fakes[1], "reused, not reopened");
	is_int(nfakes, 2, "no new connect");

	/* Broken on release: closed and replaced. */
	pool_release(p, g[1].pc, true);
	pool_pump(p);
	ok(fakes[0]->closed, "broken connection closed");
	is_int(nfakes, 3, "a new one opened for the fourth waiter");
	complete(2, NULL);
	pool_pump(p);
	is_int(g[3].calls, 1, "fourth served");
	ok(g[0].order < g[1].order && g[1].order < g[2].order &&
	    g[2].order < g[3].order, "FIFO order");

	/* The engine's is_broken is consulted too. */
	fakes[2]->broken = true;
	pool_release(p, g[3].pc, false);
	pool_pump(p);
	ok(fakes[2]->closed, "engine-broken connection not kept");
	pool_release(p, g[2].pc, false);
	pool_pump(p);
	pool_stats(p, "ns/inst", &st);
	is_int(st.idle, 1, "one idle");
	is_int(st.conns, 1, "one open");
	is_int(st.handed_out, 4, "four hand-outs");
	is_int(st.connects, 3, "three connects");

	/* Lost while idle (server restart): closed, next acquire reconnects. */
	pool_conn_lost(fakes[1]->slot);
	ok(fakes[1]->closed, "lost idle connection closed");
	memset(&g[4], 0, sizeof(g[4]));
	pool_acquire(p, "ns/inst", "app", NULL, on_acquire, &g[4]);
	pool_pump(p);
	is_int(nfakes, 4, "reconnects");
	complete(3, NULL);
	pool_pump(p);
	is_int(g[4].calls, 1, "served after the restart");
	/* Lost while borrowed: closed when given back, even if not marked. */
	pool_conn_lost(fakes[3]->slot);
	ok(!fakes[3]->closed, "borrowed connection not closed under the user");
	pool_release(p, g[4].pc, false);
	pool_pump(p);
	ok(fakes[3]->closed, "closed at release");
	pool_stats(p, NULL, &st);
	is_int(st.conns, 0, "nothing open");
	pool_free(p);
	is_int(params_live, 0, "parameters freed with the pool");
	reset_fakes();
}

static void
test_backoff(struct ev_loop *loop)
{
	struct pool *p = new_pool(loop, 4);
	struct got g[6];
	struct pool_stats st;

	memset(g, 0, sizeof(g));
	pool_acquire(p, "i", "db", &P1, on_acquire, &g[0]);
	pool_acquire(p, "i", "db", NULL, on_acquire, &g[1]);
	pool_pump(p);
	is_int(nfakes, 2, "two connects for two waiters");
	complete(0, "connection refused");
	pool_pump(p);
	/* The first waiter keeps the connect still in flight; the second
	 * would need a new one, and the database is backing off now. */
	is_int(g[0].calls, 0, "first waiter keeps the other connect");
	is_int(g[1].calls, 1, "second waiter told");
	ok(g[1].pc == NULL, "without a connection");
	is_str(g[1].err, "connection refused", "the engine's message");
	complete(1, "connection refused");
	pool_pump(p);
	is_int(g[0].calls, 1, "first told when its connect failed too");

	/* Backing off: no connect, the error at once. */
	pool_acquire(p, "i", "db", NULL, on_acquire, &g[2]);
	pool_pump(p);
	is_int(nfakes, 2, "no connect while backing off");
	is_int(g[2].calls, 1, "waiter told at once");
	is_str(g[2].err, "connection refused", "with the last error");

	/* Another database of the same instance is not blocked. */
	pool_acquire(p, "i", "other", NULL, on_acquire, &g[3]);
	pool_pump(p);
	is_int(nfakes, 3, "other database connects");
	complete(2, NULL);
	pool_pump(p);
	ok(g[3].pc != NULL, "and is served");
	pool_release(p, g[3].pc, false);

	/* Two failures so far: the next try waits 1 s (0.5 s x 2, jitter
	 * 0); the third failure makes it 2 s. */
	now_val += 0.9;
	pool_acquire(p, "i", "db", NULL, on_acquire, &g[4]);
	pool_pump(p);
	is_int(nfakes, 3, "no retry before 1 s");
	is_str(g[4].err, "connection refused", "told at once");
	now_val += 0.2;
	memset(&g[4], 0, sizeof(g[4]));
	pool_acquire(p, "i", "db", NULL, on_acquire, &g[4]);
	pool_pump(p);
	is_int(nfakes, 4, "retried after 1 s");
	complete(3, "still refused");
	pool_pump(p);
	is_str(g[4].err, "still refused", "new error");
	now_val += 1.9;
	memset(&g[5], 0, sizeof(g[5]));
	pool_acquire(p, "i", "db", NULL, on_acquire, &g[5]);
	pool_pump(p);
	is_int(nfakes, 4, "third delay is 2 s");
	is_int(g[5].calls, 1, "told at once");
	now_val += 0.2;
	memset(&g[5], 0, sizeof(g[5]));
	pool_acquire(p, "i", "db", NULL, on_acquire, &g[5]);
	pool_pump(p);
	is_int(nfakes, 5, "retried after it");
	complete(4, NULL);
	pool_pump(p);
	ok(g[5].pc != NULL, "success");
	pool_release(p, g[5].pc, false);

	/* Success reset the backoff: one failure costs 0.5 s again. */
	fakes[4]->broken = true;
	memset(&g[0], 0, sizeof(g[0]));
	pool_acquire(p, "i", "db", NULL, on_acquire, &g[0]);
	pool_pump(p);
	ok(fakes[4]->closed, "broken idle connection not handed out");
	is_int(nfakes, 6, "a new one is opened instead");
	complete(5, "refused again");
	pool_pump(p);
	is_str(g[0].err, "refused again", "failure reported");
	now_val += 0.51;
	memset(&g[0], 0, sizeof(g[0]));
	pool_acquire(p, "i", "db", NULL, on_acquire, &g[0]);
	pool_pump(p);
	is_int(nfakes, 7, "retried after 0.5 s: the success reset the backoff");
	complete(6, NULL);
	pool_pump(p);
	ok(g[0].pc != NULL, "served");
	pool_release(p, g[0].pc, false);

	/* An engine that refuses at once (no connection object). */
	pool_drop_instance(p, "i");
	pool_pump(p);
	refuse_connect = "cannot start";
	memset(&g[0], 0, sizeof(g[0]));
	pool_acquire(p, "i", "db", &P1, on_acquire, &g[0]);
	pool_pump(p);
	is_int(g[0].calls, 1, "immediate engine refusal reported");
	is_str(g[0].err, "cannot start", "its message");
	refuse_connect = NULL;
	pool_stats(p, "i", &st);
	is_int(st.connect_failures, 1, "counted (instance recreated after drop)");
	memset(&g[0], 0, sizeof(g[0]));
	pool_acquire(p, "i", "db", NULL, on_acquire, &g[0]);
	pool_free(p);
	ok(g[0].calls == 0, "pool_free runs no callbacks");
	reset_fakes();
}

static void
test_timeouts(struct ev_loop *loop)
{
	struct pool *p = new_pool(loop, 1);
	struct got g[3];
	struct pool_stats st;

	memset(g, 0, sizeof(g));
	pool_acquire(p, "i", "db", &P1, on_acquire, &g[0]);
	pool_pump(p);
	complete(0, NULL);
	pool_pump(p);
	ok(g[0].pc != NULL, "borrowed");
	pool_acquire(p, "i", "db", NULL, on_acquire, &g[1]);
	pool_pump(p);
	now_val += 4.9;
	pool_expire(p);
	is_int(g[1].calls, 0, "not yet timed out");
	now_val += 0.2;
	pool_expire(p);
	is_int(g[1].calls, 1, "wait timed out");
	ok(strstr(g[1].err, "timed out waiting for a connection to i/db") != NULL,
	    "message says so");
	ok(strstr(g[1].err, "1 of 1 in use") != NULL, "and why");

	pool_release(p, g[0].pc, false);
	pool_pump(p);
	now_val += 9.9;
	pool_expire(p);
	ok(!fakes[0]->closed, "idle 9.9 s: kept");
	now_val += 0.2;
	pool_expire(p);
	ok(fakes[0]->closed, "idle 10.1 s: closed");
	pool_stats(p, "i", &st);
	is_int(st.closed_idle, 1, "counted as idle close");
	is_int(st.conns, 0, "nothing open");
	pool_free(p);
	reset_fakes();
}

static void
test_room_drop_cancel(struct ev_loop *loop)
{
	struct pool *p = new_pool(loop, 2);
	struct fake *first, *second;
	struct got g[8];
	struct pool_stats st;
	struct pool_wait *w;

	memset(g, 0, sizeof(g));
	/* Two idle connections to "a"; a waiter for "b" at the cap. */
	pool_acquire(p, "i", "a", &P1, on_acquire, &g[0]);
	pool_acquire(p, "i", "a", NULL, on_acquire, &g[1]);
	pool_pump(p);
	complete(0, NULL);
	complete(1, NULL);
	pool_pump(p);
	first = pool_conn_get(g[0].pc);
	second = pool_conn_get(g[1].pc);
	ok(first != second, "two connections");
	pool_release(p, g[0].pc, false);
	now_val += 1;
	pool_release(p, g[1].pc, false);
	pool_pump(p);
	pool_acquire(p, "i", "b", NULL, on_acquire, &g[2]);
	pool_pump(p);
	ok(first->closed, "the connection idle longest is closed for room");
	ok(!second->closed, "the other is kept");
	is_int(nfakes, 3, "a connection to b opened");
	is_str(fakes[2]->db, "b", "to b");
	complete(2, NULL);
	pool_pump(p);
	ok(g[2].pc != NULL, "b served");

	/* Cancel: no callback, slot not wasted. */
	w = pool_acquire(p, "i", "c", NULL, on_acquire, &g[3]);
	pool_cancel(w);
	pool_pump(p);
	is_int(g[3].calls, 0, "cancelled waiter not called");
	pool_stats(p, "i", &st);
	is_int(st.waiting, 0, "no waiter left");

	/* New parameters are used for new connections. */
	pool_acquire(p, "i", "a", &P2, on_acquire, &g[4]);
	pool_pump(p);
	ok(g[4].pc != NULL && pool_conn_get(g[4].pc) == second,
	    "idle connection handed out");
	is_str(second->tag, "p1", "made with the old parameters");

	/* Drop: idle/connecting closed now, borrowed ones at release,
	 * waiters told, parameters forgotten. */
	pool_acquire(p, "i", "z", NULL, on_acquire, &g[5]);
	pool_pump(p);
	is_int(g[5].calls, 0, "waits at the cap");
	pool_drop_instance(p, "i");
	pool_pump(p);
	is_int(g[5].calls, 1, "waiter told about the drop");
	ok(strstr(g[5].err, "instance was reset") != NULL, "message");
	ok(!second->closed && !fakes[2]->closed, "borrowed stay open");
	pool_stats(p, "i", &st);
	is_int(st.busy, 2, "still counted against the cap");
	is_int(params_live, 0, "parameters forgotten (and wiped)");
	g[6].release_at_once = true;
	g[6].pool = p;
	pool_acquire(p, "i", "a", &P2, on_acquire, &g[6]);
	pool_release(p, g[4].pc, false);
	pool_pump(p);
	ok(second->closed, "old-generation connection closed at release");
	is_int(nfakes, 4, "new connection opened for the waiter");
	is_str(fakes[3]->tag, "p2", "with the new parameters");
	complete(3, NULL);
	pool_pump(p);
	is_int(g[6].calls, 1, "served");
	pool_stats(p, "i", &st);
	is_int(st.idle, 1, "released from inside its callback: idle");

	/* A callback that releases lets the next waiter in, same pump. */
	memset(&g[7], 0, sizeof(g[7]));
	pool_acquire(p, "i", "a", NULL, on_acquire, &g[7]);
	pool_pump(p);
	ok(g[7].pc != NULL && pool_conn_get(g[7].pc) == fakes[3],
	    "re-entrant release served the next waiter");
	pool_release(p, g[7].pc, false);
	pool_release(p, g[2].pc, false);
	pool_pump(p);
	pool_drop_instance(p, "i");
	pool_pump(p);
	pool_stats(p, "i", &st);
	is_int(st.conns + st.waiting, 0, "instance empty after drop");
	pool_stats(p, NULL, &st);
	ok(st.connects >= 4, "counters of freed instances kept in totals");
	is_int(open_fakes(), 0, "every connection closed");
	pool_free(p);
	reset_fakes();
}

static void
test_free_busy(struct ev_loop *loop)
{
	struct pool *p = new_pool(loop, 3);
	struct got g[3];

	memset(g, 0, sizeof(g));
	pool_acquire(p, "x", "d", &P1, on_acquire, &g[0]);
	pool_acquire(p, "y", "d", &P2, on_acquire, &g[1]);
	pool_pump(p);
	complete(0, NULL);
	complete(1, NULL);
	pool_pump(p);
	is_int(g[0].calls + g[1].calls, 2, "both instances served");
	pool_acquire(p, "x", "d", NULL, on_acquire, &g[2]);
	pool_free(p);
	is_int(open_fakes(), 0, "pool_free closes busy, idle and connecting");
	is_int(params_live, 0, "and frees every parameter copy");
	is_int(g[2].calls, 0, "no callbacks");
	reset_fakes();
}

/* Before a DROP DATABASE: only the idle connections to that database go;
 * the parameters, the waiters and the other connections stay. */
static void
test_close_idle_db(struct ev_loop *loop)
{
	struct pool *p = new_pool(loop, 3);
	struct fake *a, *b, *busy;
	struct got g[5];
	struct pool_stats st;

	memset(g, 0, sizeof(g));
	pool_acquire(p, "i", "gone", &P1, on_acquire, &g[0]);
	pool_acquire(p, "i", "gone", NULL, on_acquire, &g[1]);
	pool_acquire(p, "i", "other", NULL, on_acquire, &g[2]);
	pool_pump(p);
	complete(0, NULL);
	complete(1, NULL);
	complete(2, NULL);
	pool_pump(p);
	a = pool_conn_get(g[0].pc);
	busy = pool_conn_get(g[1].pc);
	b = pool_conn_get(g[2].pc);
	pool_release(p, g[0].pc, false);
	pool_release(p, g[2].pc, false);
	pool_pump(p);
	pool_close_idle_db(p, "i", "gone");
	pool_pump(p);
	ok(a->closed, "the idle connection to the database is closed");
	ok(!busy->closed, "the borrowed one to it is not");
	ok(!b->closed, "the idle one to another database is kept");
	is_int(params_live, 1, "the parameters are kept");
	pool_acquire(p, "i", "next", NULL, on_acquire, &g[3]);
	pool_pump(p);
	ok(g[3].calls == 0 && g[3].err[0] == '\0',
	    "a new acquire is not told the instance was reset");
	is_int(nfakes, 4, "it connects with the kept parameters");
	complete(3, NULL);
	pool_pump(p);
	ok(g[3].pc != NULL, "and is served");
	pool_release(p, g[3].pc, false);
	pool_release(p, g[1].pc, false);
	pool_pump(p);
	pool_stats(p, "i", &st);
	is_int(st.busy, 0, "nothing left borrowed");
	pool_free(p);
	reset_fakes();
}

int
main(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);

	log_set_level(LOG_ERROR);	/* connect failures are expected here */
	test_cap_and_fifo(loop);
	test_backoff(loop);
	test_timeouts(loop);
	test_room_drop_cancel(loop);
	test_free_busy(loop);
	test_close_idle_db(loop);
	ev_loop_destroy(loop);
	return done_testing();
}
