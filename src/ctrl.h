/*
 * ctrl.h - what the per-kind controller files (ctrl_*.c) share with
 * controllers.c: the cached object, the controller context, events,
 * finalizer patches. Private to the controllers.
 */
#ifndef DBP_CTRL_H
#define DBP_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "api.h"
#include "events.h"
#include "kwrite.h"
#include "mgr.h"
#include "myplan.h"
#include "pgplan.h"

struct instances;
struct mgr;
struct rtask;

/* How to handle one kind's typed structure generically. Each typed
 * struct starts with its struct api_meta. */
struct kind_ops {
	enum api_kind kind;
	size_t size;
	int (*parse)(yajl_val obj, void *out, struct api_errs *errs);
	void (*release)(void *obj);
	size_t conditions_off;	/* offsetof the status conditions */
};

/* What the cache keeps per object (kobj.data). */
struct cobj {
	const struct kind_ops *ops;
	void *typed;		/* struct api_<kind> */
	char *errors;		/* NULL when the spec is valid */
};

/* One controller's context (ctrl_def.arg). */
struct cctx {
	const struct kind_ops *ops;
	struct events *events;
	struct mgr *mgr;
	/* The registry of live servers, shared by every controller; owned
	 * by the DatabaseInstance controller's context. */
	struct instances *instances;
	bool owns_instances;
};

static inline struct api_meta *
cobj_meta(const struct cobj *c)
{
	return (struct api_meta *)c->typed;
}

/* The cached object of a task, or NULL when gone (re-read after waits). */
const struct cobj *ctrl_object(struct rtask *t);
/* The status phase of a cached object (API_PHASE_NONE when it did not
 * parse). */
enum api_phase ctrl_phase(const struct cobj *c);
/* True when the struct api_ref at ref_off of o's typed object names
 * ns/name (a reference without a namespace is to o's own). */
bool ctrl_refers_to(const struct kobj *o, size_t ref_off, const char *ns,
    const char *name);

/* A copy of conditions that the caller changes and releases. */
void ctrl_conditions_copy(struct api_conditions *dst,
    const struct api_conditions *src);

/* Records an Event on the object (no-op without a recorder). */
void ctrl_emit(struct cctx *cx, const struct cobj *c, enum event_type type,
    const char *reason, const char *msg);

/* The validation step of every kind (controllers.c): InvalidSpec on an
 * invalid spec, withdrawn when fixed. Ends the task. */
void ctrl_validate(struct rtask *t);

/* After a successful write of the task's own status or annotations: the
 * version it made will not queue the object again (rtask_wrote). */
void ctrl_own_write(struct rtask *t, struct kreq *r);

/* Adds (add) or removes the kind's finalizer with a JSON patch that tests
 * the list as cached. done runs once with the outcome (KW_OK also when
 * nothing had to change). */
typedef void (*ctrl_write_fn)(struct rtask *t, enum kwrite_outcome o,
    const char *err, void *arg);
void ctrl_finalizer(struct rtask *t, const struct cobj *c, bool add,
    ctrl_write_fn done, void *arg);
/* A ctrl_write_fn that ends the task: done on success (the watch event of
 * the write starts the next pass), a quick retry on a conflict, backoff
 * otherwise. */
void ctrl_finalizer_written(struct rtask *t, enum kwrite_outcome o,
    const char *err, void *arg);

/*
 * One controller of the registry (controllers.c): each ctrl_<kind>.c
 * exports one, as tmux's cmd-*.c each export a cmd_entry. reconcile runs
 * one pass of a task; abort stops a pass in flight (shutdown deadline)
 * and ends its task, or is NULL when passes end on their own quickly.
 * Kinds without an entry only validate their spec.
 */
struct ctrl_entry {
	enum api_kind kind;
	void (*reconcile)(struct rtask *t);
	void (*abort)(struct rtask *t);
};

/* The preamble every provisioning controller runs first (behavior.md
 * §1.0.2, without its defects): an object that is gone calls gone (may be
 * NULL) and ends; deletion comes before anything else, so that paused or
 * invalid objects can still be deleted; then the pause annotations, the
 * validation step, and adding the kind's finalizer. Returns the cached
 * object when the caller should go on; NULL when the task was handed on
 * or ended. */
const struct cobj *ctrl_preamble(struct rtask *t, enum api_kind kind,
    void (*gone)(struct rtask *t),
    void (*deletion)(struct rtask *t, const struct cobj *c));

/* Why ctrl_resolve_instance() refused: the status to write and when to
 * come back. msg is a buffer of the caller's. */
struct ctrl_refusal {
	enum api_phase phase;
	const char *reason;
	enum rresult res;
	double delay;
};

/* The DatabaseInstance that ref (of an object of kind in namespace
 * own_ns) names (behavior.md §1.0, without its defects): same namespace
 * only (CrossNamespaceRefused); missing or invalid: InstanceNotFound,
 * requeue 30 s; an engine not in engines (a bit per enum api_engine):
 * UnsupportedEngine; not Ready and !deleting: InstanceNotReady, requeue
 * 10 s. Returns NULL with *why and msg filled when refused. */
#define CTRL_ENGINE(e)	(1u << (e))
const struct api_instance *ctrl_resolve_instance(struct rtask *t,
    enum api_kind kind, const struct api_ref *ref, const char *own_ns,
    bool deleting, unsigned engines, struct ctrl_refusal *why, char *msg,
    size_t msglen);

/* DatabaseInstance (ctrl_instance.c). */
extern const struct ctrl_entry ctrl_instance_entry;

/* Database (ctrl_database.c). */
extern const struct ctrl_entry ctrl_database_entry;

/* DatabaseBackup (ctrl_backup.c). */
extern const struct ctrl_entry ctrl_backup_entry;

/* DatabaseRole (ctrl_role.c). */
extern const struct ctrl_entry ctrl_role_entry;

/* The observation of a PostgreSQL role named p->name (ctrl_role.c), for
 * DatabaseRole and DatabaseUser: ctrl_pgrole_observe() starts it on the
 * admin database; the kind's row() and answered() hooks hand over to
 * ctrl_pgrole_row() and ctrl_pgrole_answered(), which returns true once
 * everything is observed (PGQ_ROLE_DEPS too when p->deleting). */
struct cpass;
struct pg_obs_role;
void ctrl_pgrole_observe(struct cpass *p, struct pg_obs_role *o);
int ctrl_pgrole_row(struct cpass *p, struct pg_obs_role *o,
    const char *const *cols, int ncols);
bool ctrl_pgrole_answered(struct cpass *p, struct pg_obs_role *o);

/* The observation of what a grantee holds (ctrl_grant.c), shared by
 * DatabaseGrant and DatabaseRole: the server, whether the grantee exists,
 * its memberships, and in every database of dbs ("" = the admin
 * database) its privileges, the object counts per schema and the default
 * ACLs. The kind's row()/answered() hooks hand over as for
 * ctrl_pgrole_*. */
struct ctrl_pggrants {
	struct pg_obs_grants obs;
	struct pg_obs_role role;	/* PGQ_ROLE of the grantee */
	struct api_strv dbs;		/* to observe (the caller fills it) */
	size_t next_db;
	struct pg_obs_grants_db *cur;
	char *grantee;
};
void ctrl_pggrants_init(struct ctrl_pggrants *g);
void ctrl_pggrants_release(struct ctrl_pggrants *g);
void ctrl_pggrants_observe(struct cpass *p, struct ctrl_pggrants *g,
    const char *grantee);
int ctrl_pggrants_row(struct cpass *p, struct ctrl_pggrants *g,
    const char *const *cols, int ncols);
bool ctrl_pggrants_answered(struct cpass *p, struct ctrl_pggrants *g);
/* The applied set recorded on an object (annotation
 * dbops.dbprovision.io/applied-privileges; absent = empty). */
int ctrl_pggrants_read(const struct api_meta *md, struct pg_privset *prev,
    char *err, size_t errlen);
/* The set as recorded (malloc'ed JSON, "[]" when empty). */
char *ctrl_pggrants_json(const struct pg_privset *s);
/* True when the object records exactly json. */
bool ctrl_pggrants_recorded(const struct api_meta *md, const char *json);
/* Records json on the object (removes the annotation for "[]"), then
 * runs next. */
void ctrl_pggrants_record(struct cpass *p, const char *json,
    void (*next)(struct cpass *p));

/* The observation of a MySQL account name (ctrl_myobs.c), for
 * DatabaseUser, DatabaseRole and DatabaseGrant on engine mysql: the
 * server flavour, the accounts of the name on every host, their roles,
 * and with privileges the privileges of each account. The kind's
 * row()/answered() hooks hand over as for ctrl_pgrole_*. */
struct ctrl_myuser {
	struct myplan_server server;
	struct myplan_obs_user obs;
	struct sqlplan q;	/* the queries in flight */
	char *name;
	bool privileges;
	size_t acct;		/* account whose privileges are read */
};
void ctrl_myuser_init(struct ctrl_myuser *o);
void ctrl_myuser_release(struct ctrl_myuser *o);
void ctrl_myuser_observe(struct cpass *p, struct ctrl_myuser *o,
    const char *name, bool privileges);
int ctrl_myuser_row(struct cpass *p, struct ctrl_myuser *o,
    const char *const *cols, int ncols);
bool ctrl_myuser_answered(struct cpass *p, struct ctrl_myuser *o);

/* The applied-privileges record of an object for engine mysql. */
int ctrl_mygrants_read(const struct api_meta *md, struct myplan_privset *prev,
    char *err, size_t errlen);
char *ctrl_mygrants_json(const struct myplan_privset *s);

/* The applied-privileges record around a plan: ctrl_grants_widen() takes
 * the JSON of the union of the recorded and the new set (the *_wide_json
 * helpers) and records it before running next when the plan is not empty
 * (json is freed); ctrl_grants_leave() arranges for exactly the new set
 * (json, taken over) to be recorded once the status is written. */
char *ctrl_pggrants_wide_json(const struct pg_privset *prev,
    const struct pg_privset *applied);
char *ctrl_mygrants_wide_json(const struct myplan_privset *prev,
    const struct myplan_privset *applied);
void ctrl_grants_widen(struct cpass *p, const struct cobj *c, char *json,
    void (*next)(struct cpass *p));
void ctrl_grants_leave(struct cpass *p, char *json);

/* DatabaseGrant (ctrl_grant.c). */
extern const struct ctrl_entry ctrl_grant_entry;

/* DatabaseUser (ctrl_user.c). */
extern const struct ctrl_entry ctrl_user_entry;

/* Calls fn for every cached object that names the object of kind `kind`
 * at ns/name: Databases, DatabaseUsers and DatabaseRoles for an instance,
 * DatabaseGrants for a user or a database. */
void ctrl_referrers(struct mgr *m, enum api_kind kind, const char *ns,
    const char *name, void (*fn)(enum api_kind kind, const struct kobj *o,
    void *arg), void *arg);

#endif
