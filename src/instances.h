/*
 * instances.h - the registry of live database servers: one entry per
 * DatabaseInstance (key "namespace/name"), and the connection pool they
 * share. Every controller that talks to a server borrows its connection
 * here:
 *
 *   instances_acquire(reg, "ns/inst", "appdb", cb, arg)
 *       -> cb(pc, NULL, arg): pc is borrowed; pool_conn_get(pc) is the
 *          engine's connection (a struct pgconn * for engine postgres);
 *          give it back with instances_release(reg, pc, broken)
 *       -> cb(NULL, err, arg): err->code says why (for condition reasons),
 *          err->msg is one line without secrets
 *
 * Each acquire looks the instance up in the controllers' cache (the lookup
 * function given to instances_new()), reads its admin credentials Secret
 * and, with spec.tls.enabled and a tls.secretRef, its TLS Secret (through
 * ksecret.h: a GET at most every KSECRET_TTL seconds per Secret), and
 * builds the connection parameters (doc/engine.md; sslmode per
 * pgconn_sslmode_pick(): spec.postgres.sslMode, else spec.tls.mode when TLS
 * is enabled, else disable). When the connection settings of the spec
 * (a fingerprint of them, not the generation: a health-check change or
 * the deletionTimestamp leave connections alone) or the resourceVersion
 * of either Secret differ from what the pool's connections were made
 * with, the instance's connections are dropped (pool_drop_instance())
 * and new TLS files are written: a changed password or certificate takes
 * effect at the next acquire.
 *
 * Secrets of an instance are read in the instance's own namespace only
 * (api.md §4.3/§4.6 have no namespace field); see doc/architecture.md for
 * the cross-namespace rule.
 *
 * The interface is engine-neutral: engine postgres borrows from the
 * PostgreSQL pool, engine mysql (MySQL and MariaDB) from the MySQL pool
 * (pool_conn_get() is then a struct myconn *); any other engine fails with
 * INSTANCES_EUNSUPPORTED. Callbacks never run inside instances_acquire().
 */
#ifndef DBP_INSTANCES_H
#define DBP_INSTANCES_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>

#include "api.h"
#include "ksecret.h"
#include "util.h"

struct api_instance;
struct khttp;
struct instances;
struct ksecret_cache;
struct instances_wait;
struct pool;
struct pool_conn;

#define INSTANCES_MAX_PER_INSTANCE 4	/* connections per server */
#define INSTANCES_ERR_LEN 256

enum instances_errcode {
	INSTANCES_OK = 0,
	INSTANCES_ENOTFOUND,	/* no such DatabaseInstance (in the cache) */
	INSTANCES_EINVALID,	/* its spec is invalid or incomplete */
	INSTANCES_ESECRET,	/* Secret missing / unreadable / key missing */
	INSTANCES_ETLS,		/* TLS material unusable (bad PEM, ...) */
	INSTANCES_EUNSUPPORTED,	/* engine not implemented */
	INSTANCES_ECONNECT,	/* the server: connect, TLS, auth, timeout */
	INSTANCES_E__COUNT
};

const char *instances_errcode_name(enum instances_errcode c);

struct instances_err {
	enum instances_errcode code;
	enum ksecret_errcode secret;	/* with INSTANCES_ESECRET: why */
	char msg[INSTANCES_ERR_LEN];
};

/* Returns the cached, validated DatabaseInstance ns/name, or NULL with a
 * reason in why: not found (*notfound = true) or invalid. The pointer is
 * only used during the call to instances_acquire() / its steps. */
typedef const struct api_instance *(*instances_lookup_fn)(void *arg,
    const char *ns, const char *name, bool *notfound, char *why,
    size_t whylen);

typedef void (*instances_fn)(struct pool_conn *pc,
    const struct instances_err *err, void *arg);

/* How a client tool connects to an instance as the operator does (a
 * backup's pg_dump, a restore's mariadb): the parameters the pool would
 * use, password and TLS files included. Valid during the callback only. */
struct pgconn_params;
struct myconn_params;
struct instances_conninfo {
	enum api_engine engine;
	const struct pgconn_params *pg;		/* engine postgres */
	const struct myconn_params *my;		/* engine mysql */
};
typedef void (*instances_info_fn)(const struct instances_conninfo *ci,
    const struct instances_err *err, void *arg);

/* Creates the registry with its resolver and pool; max_per_instance caps
 * the connections per server (0 = INSTANCES_MAX_PER_INSTANCE). Returns
 * NULL with a message when the resolver cannot be set up. */
struct instances *instances_new(struct ev_loop *loop, struct khttp *http,
    instances_lookup_fn lookup, void *lookup_arg, unsigned max_per_instance,
    char *err, size_t errlen) DBP_MUSTCHECK;
/* Cancels pending acquires (no callbacks), closes every connection, wipes
 * every credential. Not from a registry callback. */
void instances_free(struct instances *r);

/* Borrows a connection to dbname (NULL: the instance's admin database,
 * spec.connection.database) on inst_key ("namespace/name"). Returns a
 * handle valid until the callback runs or instances_cancel(). */
struct instances_wait *instances_acquire(struct instances *r,
    const char *inst_key, const char *dbname, instances_fn cb, void *arg);
/* Like instances_acquire(), without a connection: resolves the instance
 * and reads its Secrets, then hands over the connection parameters for
 * dbname (NULL: the admin database). Cancel with instances_cancel(). */
struct instances_wait *instances_conninfo(struct instances *r,
    const char *inst_key, const char *dbname, instances_info_fn cb,
    void *arg);
/* Withdraws a pending acquire: its callback will not run. */
void instances_cancel(struct instances_wait *w);
/* Gives a borrowed connection back (broken: close it). Legal while a
 * query runs on it: the connection is then closed and its callback never
 * runs. */
void instances_release(struct instances *r, struct pool_conn *pc,
    bool broken);
/* The instance is gone: closes its connections, forgets its parameters
 * and TLS files. */
void instances_forget(struct instances *r, const char *inst_key);
/* Closes the instance's idle pooled connections to database dbname,
 * keeping everything else (parameters, other connections, waiters):
 * before dropping a database the pool may still be connected to. */
void instances_close_idle(struct instances *r, const char *inst_key,
    const char *dbname);

/* The shared pool (stats, tests). */
struct pool *instances_pool(struct instances *r);
/* The engine of a borrowed connection: its pool_conn_get() is a struct
 * pgconn * (postgres) or a struct myconn * (mysql). */
enum api_engine instances_conn_engine(struct instances *r,
    const struct pool_conn *pc);
/* The Secret reader the registry uses (shared with the controllers). */
struct ksecret_cache *instances_secrets(struct instances *r);

#endif
