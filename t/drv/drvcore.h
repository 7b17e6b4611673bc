/*
 * drvcore.h - what the engine drivers t/drv/pgdrv and t/drv/mydrv share:
 * one JSON object per line on stdout ("ev" names the event, "id" the
 * connection slot), commands read as JSON lines from stdin, a table of
 * connection slots borrowed from a struct pool, and the commands that do
 * not depend on the engine:
 *
 *   {"op":"acquire","id":"c1","db":"x"}   -> acquired / acquire_error
 *   {"op":"release","id":"c1","broken":b} -> released / cancelled /
 *                                            release_error
 *   {"op":"drop"}                          -> dropped
 *   {"op":"stats"}                         -> stats (pool counters, TLS
 *                                            files alive)
 *   {"op":"quit"}                          -> the loop ends
 *
 * Everything else goes to the engine's command hook.
 */
#ifndef DBP_T_DRVCORE_H
#define DBP_T_DRVCORE_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>
#include <yajl/yajl_tree.h>

#include "buf.h"
#include "json.h"
#include "pgtls.h"
#include "pool.h"
#include "resolve.h"

#define DRV_INSTANCE	"test/inst"
#define DRV_MAX_CONNS	64

struct drvcore;

struct drv_slot {
	char id[32];
	struct pool_wait *wait;
	struct pool_conn *pc;
	struct drvcore *d;
};

struct drv_engine {
	const char *prog;	/* "pgdrv": messages */
	/* Adds the engine's facts about a new connection to the "acquired"
	 * event. */
	void (*acquired)(struct pool_conn *pc, struct jw *w);
	/* An engine command (query, escape, ...); false if op is unknown. */
	bool (*command)(struct drvcore *d, const char *op, yajl_val cmd,
	    const char *id);
};

struct drvcore {
	const struct drv_engine *eng;
	struct ev_loop *loop;
	struct pool *pool;
	const void *params;	/* the engine's parameters for acquires */
	const char *dbname;	/* the default database of an acquire */
	ev_io in;
	struct buf line;
	struct drv_slot slots[DRV_MAX_CONNS];
	bool eof;
	void *arg;		/* the engine driver's own state */
};

void drv_emit(struct jw *w);
void drv_begin(struct jw *w, const char *ev, const char *id);
void drv_simple(const char *ev, const char *id, const char *msg);
/* A whole file (at most 1 MiB), or exit(2) with a message. */
char *drv_slurp(const char *prog, const char *path, size_t *len);
/* The slot named id, or (create) a free one named id; NULL otherwise. */
struct drv_slot *drv_slot_find(struct drvcore *d, const char *id,
    bool create);
/* Reads commands from stdin (made non-blocking) until EOF or quit,
 * after writing the "ready" event. */
void drv_run(struct drvcore *d);

/*
 * The options both drivers take: --dns-server (N), --dns-timeout (T),
 * --password-env (e), --password-file (f), --ca (a), --cert (c), --key (k),
 * --tls-dir (D), --cap (n), --idle-timeout (i), --acquire-timeout (w),
 * --backoff-initial (b), --log-level (L).
 */
struct drv_opts {
	struct resolver_config rcfg;
	struct pool_config pcfg;
	struct pgtls_pem pem;		/* points at ca, cert, key */
	char *ca, *cert, *key;
	char *password;			/* free with free_secret() */
};

void drv_opts_init(struct drv_opts *o);
/* Takes option ch (with its argument) if it is one of the above: 1; not
 * one of them: 0; a bad value: -1. */
int drv_common_opt(const char *prog, int ch, const char *arg,
    struct drv_opts *o);
/* Frees the PEM texts (once the TLS files are written). */
void drv_opts_free_pem(struct drv_opts *o);

#endif
