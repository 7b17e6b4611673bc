/*
 * pool.h - connection pools per database server, engine-neutral.
 *
 * Connections are keyed by (instance, database): "instance" is the
 * caller's name for one server and its credentials (the DatabaseInstance's
 * namespace/name), "database" the database the session is opened on. A cap
 * bounds the connections per instance (all its databases together),
 * counting those being opened and those borrowed.
 *
 *   pool_acquire(pool, instance, db, params, cb, arg)
 *       -> cb(pc, NULL, arg): pc is borrowed; use pool_conn_get(pc)
 *       -> cb(NULL, "message", arg): no connection (connect failed, the
 *          instance is backing off, the wait timed out, it was dropped)
 *   pool_release(pool, pc, broken)
 *
 * Semantics (doc/engine.md):
 *   - Waiters are served strictly first come, first served per instance:
 *     an idle connection to the right database (the most recently used),
 *     else one being opened for it, else a new one when under the cap,
 *     else -- at the cap -- the longest-idle connection to another database
 *     is closed to make room; otherwise the waiter waits (at most
 *     acquire_timeout).
 *   - Callbacks never run inside pool_acquire()/pool_release(): they run
 *     from the loop (an ev_prepare hook), where released and broken
 *     connections are also dealt with. A callback may acquire, release,
 *     cancel or drop again.
 *   - A connection released as broken, found broken by the engine, lost
 *     while idle (server restart), or made before pool_drop_instance() is
 *     closed, never reused; a new one is opened on demand.
 *   - A failed connect puts (instance, database) in backoff (exponential,
 *     with jitter): while it lasts, waiters that would need a new
 *     connection get the last error at once instead of hammering the
 *     server; idle connections are still handed out. A success resets it.
 *   - Idle connections are closed after idle_timeout.
 *   - The parameters passed with the latest acquire of an instance are used
 *     for its new connections (the pool keeps a copy, secrets included,
 *     until pool_drop_instance() or pool_free(); the engine's params_free
 *     wipes them).
 *
 * Engines plug in through struct pool_ops: the pool never looks inside a
 * connection or its parameters. pgconn.h provides pgconn_pool_ops and
 * myconn.h myconn_pool_ops.
 */
#ifndef DBP_POOL_H
#define DBP_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>

#include "backoff.h"
#include "util.h"

struct pool;
struct pool_conn;	/* one managed connection ("slot") */
struct pool_wait;	/* one pending acquire */

#define POOL_ERR_LEN 256

struct pool_ops {
	const char *engine;	/* "postgres": logs */
	/* Starts opening a connection to dbname. Returns the engine's
	 * connection, or NULL with a message in err (nothing to report
	 * then). Otherwise the engine reports the outcome later -- never
	 * from inside connect() -- with pool_conn_connected(slot, ...), and
	 * a break of an open connection with pool_conn_lost(slot). */
	void *(*connect)(void *ops_arg, struct ev_loop *loop,
	    const void *params, const char *dbname, struct pool_conn *slot,
	    char *err, size_t errlen);
	/* Closes and frees a connection; it reports nothing afterwards. May
	 * be called from inside the engine's own callbacks. */
	void (*close)(void *conn);
	/* True when the connection cannot be used again. */
	bool (*is_broken)(const void *conn);
	void *(*params_dup)(const void *params);
	void (*params_free)(void *params);
};

struct pool_config {
	unsigned max_per_instance;	/* 0 = 4 */
	double idle_timeout;		/* seconds; 0 = 300, < 0 = never */
	double acquire_timeout;		/* seconds; 0 = 30, < 0 = never */
	/* Connect failures of one (instance, database); initial == 0 gives
	 * 0.5 s, x2, jitter 0.2, cap 30 s, reset after 120 s. */
	struct backoff_params backoff;
	/* Clock (tests inject one); NULL = ev_now(loop). */
	double (*now)(void *arg);
	void *now_arg;
	/* Jitter draw for the backoff (tests); NULL = rand_unit(). */
	double (*rand)(void);
};

struct pool_stats {
	unsigned conns;		/* open or opening, all states */
	unsigned idle;
	unsigned busy;
	unsigned connecting;
	unsigned waiting;
	unsigned long long connects;	/* connects started */
	unsigned long long connect_failures;
	unsigned long long closed_idle;	/* idle timeout */
	unsigned long long closed_broken;	/* broken, lost, dropped */
	unsigned long long handed_out;
};

/* Acquire outcome: exactly one of pc and err is non-NULL. */
typedef void (*pool_acquire_fn)(struct pool_conn *pc, const char *err,
    void *arg);

struct pool *pool_new(struct ev_loop *loop, const struct pool_config *cfg,
    const struct pool_ops *ops, void *ops_arg);
/* Closes every connection and frees the pool. Pending acquires are
 * dropped without callbacks; borrowed pool_conns become invalid. Not from
 * a pool callback. */
void pool_free(struct pool *p);

/* Asks for a connection to dbname on instance. params (engine-specific,
 * copied) may be NULL to reuse the instance's last ones. Returns a handle
 * valid until the callback runs or pool_cancel(). */
struct pool_wait *pool_acquire(struct pool *p, const char *instance,
    const char *dbname, const void *params, pool_acquire_fn cb, void *arg);
/* Withdraws a pending acquire: its callback will not run. */
void pool_cancel(struct pool_wait *w);
/* Gives a borrowed connection back; broken (or the engine's is_broken)
 * closes it instead of keeping it. pc is invalid afterwards. */
void pool_release(struct pool *p, struct pool_conn *pc, bool broken);
/* Closes every connection of instance (borrowed ones when released),
 * fails its waiters, forgets its parameters and backoff. For a spec or
 * credentials change. */
void pool_drop_instance(struct pool *p, const char *instance);
/* Closes the instance's idle connections to database dbname, and only
 * those: the parameters, the other databases' connections and the
 * waiters are left alone (before a DROP DATABASE, which our own idle
 * sessions would block). */
void pool_close_idle_db(struct pool *p, const char *instance,
    const char *dbname);

/* The engine's connection of a borrowed pool_conn. */
void *pool_conn_get(const struct pool_conn *pc);
/* The pool a pool_conn belongs to. */
struct pool *pool_conn_pool(const struct pool_conn *pc);
const char *pool_conn_instance(const struct pool_conn *pc);
const char *pool_conn_dbname(const struct pool_conn *pc);

/* Counters for one instance, or for all when instance is NULL. */
void pool_stats(const struct pool *p, const char *instance,
    struct pool_stats *out);

/* Applies the idle and wait timeouts as of now (the pool's timer does;
 * tests with an injected clock call it) and hands out what is pending. */
void pool_expire(struct pool *p);
/* Runs the hand-out step now (tests without a running loop). */
void pool_pump(struct pool *p);

/* Engine reports (see struct pool_ops). err NULL = connected. */
void pool_conn_connected(struct pool_conn *slot, const char *err);
void pool_conn_lost(struct pool_conn *slot);

#endif
