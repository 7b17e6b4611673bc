/*
 * cpass.h - one reconcile pass of a provisioning controller (Database,
 * DatabaseUser, DatabaseRole, DatabaseGrant): the plumbing they share.
 *
 * A pass observes the server, plans, runs the plan's steps, observes
 * again and writes the status. What differs per kind (which queries, which
 * planner, what the status says) stays in ctrl_<kind>.c; everything else
 * is here:
 *
 *   - the life cycle: cpass_new() allocates the kind's run structure
 *     (which starts with a struct cpass), arms the pass timeout and hangs
 *     it on the task; cpass_end() frees it and ends the task;
 *   - connections: cpass_with_conn() borrows a connection to a database
 *     of the instance from the registry (instances.h) and keeps it while
 *     the pass goes on in the same database;
 *   - queries: cpass_query() sends one observation query; every row goes
 *     to kind->row(), then kind->answered() decides what comes next;
 *   - plans: cpass_run_plan() runs p->plan step by step, each on its
 *     database's connection, with an event per step ("Created",
 *     "Updated", "Deleted", or "Repaired" for drift), then calls
 *     kind->executed();
 *   - the status: cpass_status_base() copies the cached status,
 *     cpass_finish() writes it (a merge patch on the status subresource,
 *     conditional on the cached resourceVersion) only when it differs;
 *     cpass_fail() writes a failure; cpass_run_failed() turns a failed
 *     step, query or connection into the right phase, reason and message;
 *   - the pass timeout (PASS_TIMEOUT): whatever is in flight is dropped
 *     and the pass fails with a status saying so.
 *
 * Every callback runs from the loop; a pass is never reconciled twice at
 * once (the work queue guarantees it), and the cached object is re-read
 * with ctrl_object() after every wait, since it may be gone.
 */
#ifndef DBP_CPASS_H
#define DBP_CPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "api.h"
#include "ctrl.h"
#include "json.h"
#include "metrics.h"
#include "mgr.h"
#include "sqlstep.h"

struct cpass;
struct instances_wait;
struct kreq;
struct pool_conn;

#define CPASS_PASS_TIMEOUT	120.0	/* seconds, one whole pass */
#define CPASS_RESYNC		300.0	/* seconds, requeue after success */
#define CPASS_MSG_MAX		1024

/* p->q while a plan step runs. Kinds number their queries from 0. */
#define CPASS_Q_STEP		(-1)

/* What a kind tells the runner. */
struct cpass_kind {
	enum api_kind kind;
	const char *noun;		/* "database", "role": messages */
	/* The status inside the typed struct and its layout (every status
	 * starts with phase, observedGeneration, message and has
	 * conditions): CPASS_STATUS_LAYOUT(struct api_role, status). */
	size_t status_off, status_size;
	size_t phase_off, gen_off, message_off, conditions_off;
	void (*status_write)(struct jw *w, const void *st);
	/* One row of the answer to query p->q (cols[i] NULL for SQL NULL).
	 * Returns 0, or -1 when the row does not have the expected shape. */
	int (*row)(struct cpass *p, const char *const *cols, int ncols);
	/* Query p->q has been answered (all rows seen): go on. */
	void (*answered)(struct cpass *p);
	/* Every step of p->plan ran. */
	void (*executed)(struct cpass *p);
	/* Frees what the kind's run structure owns (not the struct). */
	void (*release)(struct cpass *p);
	/* Operation metric (may be NULL). */
	void (*metric)(struct cpass *p, enum metrics_op op, bool ok);
	/* The engines the kind drives (CTRL_ENGINE bits; 0 = postgres). */
	unsigned engines;
};

#define CPASS_STATUS_LAYOUT(type, member) \
	offsetof(type, member), sizeof(((type *)0)->member), \
	offsetof(__typeof__(((type *)0)->member), phase), \
	offsetof(__typeof__(((type *)0)->member), observed_generation), \
	offsetof(__typeof__(((type *)0)->member), message), \
	offsetof(__typeof__(((type *)0)->member), conditions)

struct cpass {
	const struct cpass_kind *kind;
	struct rtask *t;
	struct cctx *cx;
	char *inst_key;		/* "ns/name" of the DatabaseInstance */
	char *name;		/* the server-side name (database, role) */
	char *pc_db;		/* database of pc (NULL = admin) */
	struct instances_wait *wait;
	struct pool_conn *pc;
	bool querying;
	struct kreq *write;
	ev_timer timeout;
	double started;		/* mono_now() at the start */
	bool deleting;
	bool exists;		/* the object was there before the plan ran */
	bool executed;		/* the plan ran: this is the re-observation */
	bool created;		/* ... and it created the object */
	bool repair;		/* steps on an already reconciled generation */
	const char *reason;	/* condition reason of a connect failure */
	int64_t generation;	/* metadata.generation at the start */
	int q;			/* the query in flight (CPASS_Q_STEP: a step) */
	void (*next)(struct cpass *p);		/* once connected */
	void (*after_write)(struct cpass *p);	/* after the status write */
	struct sqlplan plan;
	size_t step;
	enum rresult res;
	double delay;
	/* The object's resourceVersion after our own metadata write in this
	 * pass (cpass_annotate), for the status write's precondition; NULL
	 * = the cached one. */
	char *rv;
	/* The state of a shared observer (ctrl_pggrants_observe()). */
	void *observer;
	/* The engine of the instance (cpass_resolve()). */
	enum api_engine engine;
	/* A record to leave once the status is written (ctrl_grants_leave). */
	char *record;
};

/* Allocates the kind's run structure (size bytes, starting with a struct
 * cpass), names it, starts the pass timeout and sets t->priv. ref is
 * the object's DatabaseInstance reference (its namespace defaults to the
 * object's), name the server-side name of the object. */
void *cpass_new(struct rtask *t, const struct cpass_kind *kind, size_t size,
    const struct cobj *c, const struct api_ref *ref, const char *name);
/* Frees the run and ends the task. */
void cpass_end(struct cpass *p, enum rresult res, double delay);
/* The same with the outcome cpass_finish() recorded (an after_write
 * hook's last step). */
void cpass_end_recorded(struct cpass *p);
/* Sets (value non-NULL) or removes the annotation key on the object with
 * a merge patch, remembers the new resourceVersion in p->rv, then runs
 * next; a failed write fails the pass. Annotations hold what a pass must
 * remember across passes and restarts (never a secret). */
void cpass_annotate(struct cpass *p, const char *key, const char *value,
    void (*next)(struct cpass *p));
/* The abort hook of a controller: ends a pass in flight. */
void cpass_abort(struct rtask *t);

/* The cached status of c. */
const void *cpass_cached_status(const struct cpass *p, const struct cobj *c);
/* Fills st (the kind's status struct) from the cached one: strings are
 * borrowed, conditions copied (release them with
 * api_conditions_release(cpass_conditions(p, st))), observedGeneration
 * set to the object's generation. */
void cpass_status_base(const struct cpass *p, void *st, const struct cobj *c);
struct api_conditions *cpass_conditions(const struct cpass *p, void *st);
void cpass_status_set(const struct cpass *p, void *st, enum api_phase phase,
    const char *message);
/* Writes st when it differs from the cached status (then runs
 * p->after_write if set), and ends the pass with res/delay. */
void cpass_finish(struct cpass *p, const struct cobj *c, const void *st,
    enum rresult res, double delay);
/* Ends the pass with phase/message and Ready=False (and Synced=False
 * unless deleting) with reason; a Warning event when that changes. */
void cpass_fail(struct cpass *p, enum api_phase phase, const char *reason,
    const char *msg, enum rresult res, double delay);
/* A connection, query or step failed: DeletionFailed (the finalizer is
 * kept), CreateFailed/UpdateFailed for a step, else p->reason or
 * ReconcileFailed. */
void cpass_run_failed(struct cpass *p, const char *what, const char *msg);
/* Sets Synced and Ready True with the kind's "<Noun> is ready" message;
 * a Normal event when Ready changes. Returns whether anything changed. */
bool cpass_ready(struct cpass *p, const struct cobj *c, void *st,
    bool synced);

/* Runs next with a connection to db (NULL = the admin database). */
void cpass_with_conn(struct cpass *p, const char *db,
    void (*next)(struct cpass *p));
/* Sends one observation query on the current connection ($1.. bind
 * parameters: PostgreSQL only). */
void cpass_query(struct cpass *p, int q, const char *sql, int nparams,
    const char *const *params);
/* The same for a query built as a step (myplan_q_*(): values as
 * literals), rendered with the connection's quoting. */
void cpass_query_step(struct cpass *p, int q, const struct sqlstep *st);
/* Observation ahead of a plan: the plan is empty -> false (nothing to
 * do). Otherwise decides whether the steps repair drift, writes phase
 * Creating first when the object is new (creating_msg), runs the plan,
 * and returns true. */
bool cpass_apply(struct cpass *p, const struct cobj *c,
    const char *creating_msg);
/* Runs p->plan from the first step (kind->executed at the end). */
void cpass_run_plan(struct cpass *p);
/* Frees the run and removes the kind's finalizer (ending the task). */
void cpass_remove_finalizer(struct cpass *p);

/* True (msg filled) when an older object of a kind sharing the server's
 * name space (Database; DatabaseUser and DatabaseRole) names the same
 * server-side object on the same instance: the oldest claim manages it,
 * the others are refused (NameConflict) and, when deleted, touch nothing
 * on the server. cpass_resolve() checks it. */
bool cpass_claimed(struct cpass *p, const struct cobj *c,
    const struct api_ref *ref, char *msg, size_t msglen);
/* Resolves the instance of the pass (ctrl_resolve_instance, with the
 * kind's engines) and refuses the option block of the other engine
 * (pg_block / my_block: spec.postgres / spec.mysql is set), and an
 * object another one already manages (cpass_claimed()). Sets p->engine.
 * Returns NULL after ending the pass with a condition saying why. */
const struct api_instance *cpass_resolve(struct cpass *p, const struct cobj *c,
    const struct api_ref *ref, bool pg_block, bool my_block);

#endif
