/*
 * mgr.h - the controller manager: one informer per kind, one work queue
 * for all of them, and the reconcile tasks in flight.
 *
 * Watch events put keys (kind, namespace, name) on the queue; whenever
 * fewer than max_concurrent reconciles run, the next ready key starts a
 * task with its kind's reconcile function. A task ends with
 * rtask_done(): done (forget the key's backoff), requeue after a delay,
 * or failed (per-key exponential backoff). Every object is also re-queued
 * on a jittered resync period so drift on the database side is noticed.
 */
#ifndef DBP_MGR_H
#define DBP_MGR_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>
#include <yajl/yajl_tree.h>

#include "informer.h"

struct khttp;
struct mgr;
struct rtask;

enum rresult {
	RRESULT_DONE,		/* converged: forget the backoff */
	RRESULT_REQUEUE,	/* run again after the given delay */
	RRESULT_FAILED,		/* back off and retry */
};

/* One kind's controller. */
struct ctrl_def {
	const char *name;		/* "database": logs and metrics */
	const char *group_path;		/* "/apis/dbops.dbprovision.io/v1alpha1" */
	const char *resource;		/* plural */
	/* Cache decoding, as for informer_ops (may be NULL). */
	void *(*decode)(yajl_val obj, void *arg);
	void (*release)(void *data, void *arg);
	/* Starts a reconcile of t->key. Must end, now or later, with exactly
	 * one rtask_done(t, ...). t->obj is the cached object or NULL when
	 * it is gone. */
	void (*reconcile)(struct rtask *t);
	/* Aborts a reconcile in flight at shutdown (optional): it must still
	 * call rtask_done(), soon. */
	void (*abort)(struct rtask *t);
	/* Called on every update the informer delivers, after the object
	 * itself is queued (optional): lets a controller wake the objects
	 * that wait for this one. */
	void (*changed)(const struct kobj *old, const struct kobj *o,
	    void *arg);
	void *arg;
	/* Frees arg when the manager is freed (optional). */
	void (*free_arg)(void *arg);
};

struct rtask {
	struct mgr *mgr;
	const struct ctrl_def *def;
	char *namespace;
	char *name;
	const struct kobj *obj;		/* valid until the task ends or the
					 * object changes; re-get with
					 * rtask_object() after any wait */
	void *priv;			/* the controller's own state */
	double started;
};

struct mgr_config {
	const char *namespace;		/* NULL = all namespaces */
	unsigned max_concurrent;	/* reconciles in flight, all kinds */
	double resync_period;		/* seconds; 0 disables */
};

struct mgr *mgr_new(struct ev_loop *loop, struct khttp *http,
    const struct mgr_config *cfg);
/* Registers a controller (before mgr_start); def is copied. */
void mgr_register(struct mgr *m, const struct ctrl_def *def);
void mgr_start(struct mgr *m);
/* Stops watching and starting reconciles; aborts those in flight after
 * timeout seconds; calls done (from the loop) once none is left. */
void mgr_stop(struct mgr *m, double timeout, void (*done)(void *arg),
    void *arg);
void mgr_free(struct mgr *m);

/* True once every informer has listed once. */
bool mgr_synced(const struct mgr *m);
bool mgr_running(const struct mgr *m);
struct khttp *mgr_http(struct mgr *m);
struct ev_loop *mgr_loop(struct mgr *m);
/* The informer of a registered controller, by name; NULL if unknown. */
struct informer *mgr_informer(struct mgr *m, const char *name);
/* Queues a key of a registered controller (e.g. a dependent object). */
void mgr_enqueue(struct mgr *m, const char *ctrl, const char *ns,
    const char *name);

/* The current cached object of the task's key (NULL when gone). */
const struct kobj *rtask_object(struct rtask *t);
/* Records that the task's write of its own object's status or annotations
 * made version rv: the watch event of that version will not queue the
 * object again. Not for writes the next pass must follow (finalizers). */
void rtask_wrote(struct rtask *t, const char *rv);
/* Ends a task; delay is used with RRESULT_REQUEUE. t is freed. */
void rtask_done(struct rtask *t, enum rresult res, double delay);

/* Observers of the queue and the reconciles, for metrics; each may be
 * NULL. Times are ev_now() of the manager's loop. They run synchronously
 * and must not call into the manager. */
struct mgr_hooks {
	/* A key was queued: ready at ready_at (<= now: at once), or -1 when
	 * the delay is the queue's per-key backoff (not known here). */
	void (*queued)(void *arg, const char *ctrl, const char *ns,
	    const char *name, double ready_at, double now);
	/* A failed reconcile goes back with backoff. */
	void (*retried)(void *arg, const char *ctrl);
	void (*started)(void *arg, const char *ctrl, const char *ns,
	    const char *name, double now);
	void (*finished)(void *arg, const char *ctrl, const char *ns,
	    const char *name, enum rresult res, double delay, double started,
	    double now);
	void *arg;
};
/* Sets the hooks (copied); NULL removes them. */
void mgr_set_hooks(struct mgr *m, const struct mgr_hooks *h);
/* The name of the i-th registered controller, NULL past the last. */
const char *mgr_controller_name(const struct mgr *m, size_t i);

struct mgr_stats {
	unsigned long long reconciles;
	unsigned long long errors;
	unsigned long long requeues;
	size_t inflight;
	size_t queued;
};
void mgr_get_stats(const struct mgr *m, struct mgr_stats *out);

#endif
