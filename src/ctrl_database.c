/*
 * ctrl_database.c - the Database controller for engines postgres and mysql
 * (behavior.md §1.2, api.md §8, without the defects listed there). The
 * MySQL side observes information_schema.SCHEMATA and plans with
 * mysqlplan_database(); the rest of the pass is the same.
 *
 * One pass:
 *
 *   deleting ........ no finalizer: nothing. Protection on and no
 *                     force-delete annotation: keep the finalizer, say so.
 *                     Retain: remove the finalizer. Snapshot: keep it,
 *                     Ready=False SnapshotNotSupported. Delete: observe,
 *                     pgplan_database_drop (force-delete: WITH (FORCE)),
 *                     run it, then remove the finalizer; a failure keeps
 *                     the finalizer and says why.
 *   skip annotation . nothing
 *   invalid spec .... ctrl_validate
 *   no finalizer .... add it and end (our own write starts the next pass)
 *   instance ........ same namespace only (a ref naming another namespace
 *                     is refused: CrossNamespaceRefused); missing:
 *                     InstanceNotFound, requeue 30 s; not Ready:
 *                     InstanceNotReady, requeue 10 s
 *   otherwise ....... observe (PGQ_SERVER, PGQ_DATABASE and the size on
 *                     the admin database; PGQ_EXTENSIONS, PGQ_SCHEMAS,
 *                     PGQ_DEFAULT_ACL inside the database when it exists
 *                     and accepts connections), plan (pgplan_database),
 *                     run the steps in order each on its database's
 *                     connection (never inside BEGIN), observe again, and
 *                     write the status when it differs from the cache.
 *
 * Steps run on an existing database whose generation was already
 * reconciled are drift repairs: event "Repaired". The plumbing (connections,
 * queries, steps, status writes, the pass timeout) is cpass.h's.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "api.h"
#include "api_database.h"
#include "cpass.h"
#include "ctrl.h"
#include "instances.h"
#include "log.h"
#include "metrics.h"
#include "mgr.h"
#include "myplan.h"
#include "pgplan.h"
#include "sqlstep.h"

static const char PGQ_DBSIZE[] = "SELECT pg_database_size($1)";

enum qkind { Q_SERVER, Q_DATABASE, Q_SIZE, Q_EXT, Q_SCHEMAS, Q_DEFACL };

/* MySQL observation queries, numbered after the PostgreSQL ones. */
enum { QM_SERVER = 10, QM_DATABASE, QM_SIZE };

struct dbrun {
	struct cpass p;		/* first: the runner's part */
	bool force;		/* force-delete annotation */
	struct pg_obs_database obs;
	int64_t size;
	/* engine mysql */
	struct myplan_server mysrv;
	struct myplan_obs_database myobs;
	struct sqlplan myq;	/* observation queries */
};

static const struct api_database *
typed(const struct cobj *c)
{
	return c->typed;
}

/* ---- observing --------------------------------------------------------------- */

static void plan_stage(struct dbrun *r);

static void
obs_server(struct cpass *p)
{
	cpass_query(p, Q_SERVER, PGQ_SERVER, 0, NULL);
}

static void
obs_inside(struct cpass *p)
{
	cpass_query(p, Q_EXT, PGQ_EXTENSIONS, 0, NULL);
}

static void
my_obs_server(struct cpass *p)
{
	cpass_query(p, QM_SERVER, MYPLAN_Q_SERVER, 0, NULL);
}

/* SIZE: the bytes of the database's tables and indexes. */
static const char MYQ_SIZE[] = "SELECT SUM(DATA_LENGTH), SUM(INDEX_LENGTH) "
    "FROM information_schema.TABLES WHERE TABLE_SCHEMA = %L";

static void
observe(struct dbrun *r)
{
	pg_obs_database_release(&r->obs);
	pg_obs_database_init(&r->obs);
	myplan_obs_database_release(&r->myobs);
	myplan_obs_database_init(&r->myobs);
	r->size = -1;
	if (r->p.engine == API_ENGINE_MYSQL) {
		sqlplan_clear(&r->myq);
		if (myplan_q_database(&r->myq, r->p.name) < 0 ||
		    sqlplan_add(&r->myq, NULL, 0, MYQ_SIZE, r->p.name) ==
		    NULL) {
			cpass_run_failed(&r->p, "observe", r->myq.err);
			return;
		}
		cpass_with_conn(&r->p, NULL, my_obs_server);
		return;
	}
	cpass_with_conn(&r->p, NULL, obs_server);
}

static int
row(struct cpass *p, const char *const *cols, int ncols)
{
	struct dbrun *r = (struct dbrun *)p;

	switch (p->q) {
	case QM_SERVER:
		return myplan_server_row(&r->mysrv, cols, ncols);
	case QM_DATABASE:
		return myplan_obs_database_row(&r->myobs, cols, ncols);
	case QM_SIZE:
		r->size = (ncols > 0 && cols[0] ? strtoll(cols[0], NULL, 10) :
		    0) + (ncols > 1 && cols[1] ? strtoll(cols[1], NULL, 10) : 0);
		return 0;
	case Q_SERVER:
		return pg_obs_server_row(&r->obs.server, cols, ncols);
	case Q_DATABASE:
		return pg_obs_database_row(&r->obs, cols, ncols);
	case Q_SIZE:
		r->size = ncols > 0 && cols[0] ? strtoll(cols[0], NULL, 10) :
		    -1;
		return 0;
	case Q_EXT:
		return pg_obs_extension_row(&r->obs, cols, ncols);
	case Q_SCHEMAS:
		return pg_obs_schema_row(&r->obs, cols, ncols);
	case Q_DEFACL:
		return pg_obs_defacl_row(&r->obs.defacl, cols, ncols);
	}
	return -1;
}

static void
answered(struct cpass *p)
{
	struct dbrun *r = (struct dbrun *)p;
	const char *param[1] = { p->name };

	switch (p->q) {
	case QM_SERVER:
		cpass_query_step(p, QM_DATABASE, &r->myq.v[0]);
		break;
	case QM_DATABASE:
		if (!r->myobs.exists || p->deleting) {
			plan_stage(r);
			break;
		}
		cpass_query_step(p, QM_SIZE, &r->myq.v[1]);
		break;
	case QM_SIZE:
		plan_stage(r);
		break;
	case Q_SERVER:
		cpass_query(p, Q_DATABASE, PGQ_DATABASE, 1, param);
		break;
	case Q_DATABASE:
		if (!r->obs.exists) {
			plan_stage(r);
			break;
		}
		cpass_query(p, Q_SIZE, PGQ_DBSIZE, 1, param);
		break;
	case Q_SIZE:
		if (r->obs.allow_conn && !p->deleting)
			cpass_with_conn(p, p->name, obs_inside);
		else
			plan_stage(r);
		break;
	case Q_EXT:
		cpass_query(p, Q_SCHEMAS, PGQ_SCHEMAS, 0, NULL);
		break;
	case Q_SCHEMAS:
		cpass_query(p, Q_DEFACL, PGQ_DEFAULT_ACL, 0, NULL);
		break;
	default:
		r->obs.inside = true;
		plan_stage(r);
		break;
	}
}

/* ---- the pass -------------------------------------------------------------------- */

static void
metric(struct cpass *p, enum metrics_op op, bool ok)
{
	metrics_database_operation(op, api_engine_names[p->engine], ok,
	    p->t->namespace, ok ? mono_now() - p->started : -1);
}

static void
forget_metrics(const struct cobj *c)
{
	const struct api_database *db = typed(c);

	if (db->spec.name && db->spec.instance.name) {
		metrics_database_forget(db->spec.name, db->spec.instance.name,
		    "postgres", cobj_meta(c)->ns);
		metrics_database_forget(db->spec.name, db->spec.instance.name,
		    "mysql", cobj_meta(c)->ns);
	}
}

static void
remove_finalizer(struct dbrun *r)
{
	const struct cobj *c = ctrl_object(r->p.t);

	if (c != NULL)
		forget_metrics(c);
	cpass_remove_finalizer(&r->p);
}

/*
 * status.database.sizeBytes follows the size with some hysteresis: it is
 * rewritten when the size moved by at least 1 MiB and 1%. A database's
 * size drifts by a few pages all the time (the relation cache file our
 * own connection creates is one), and a status write for each would be
 * a write on every pass, and after every restart, for an object in
 * sync. The exact figure is the dbops_database_size_bytes gauge.
 */
#define SIZE_SLACK_MIN	(1024 * 1024)

static int64_t
status_size(const struct api_database_status *was, int64_t size)
{
	int64_t old = was->database.set ? was->database.size_bytes : -1;
	int64_t d, slack;

	if (size <= 0)
		return 0;
	if (old <= 0)
		return size;
	d = size > old ? size - old : old - size;
	slack = old / 100 > SIZE_SLACK_MIN ? old / 100 : SIZE_SLACK_MIN;
	return d < slack ? old : size;
}

static void
success_status(struct dbrun *r)
{
	const struct cobj *c = ctrl_object(r->p.t);
	const struct api_database *db;
	const struct api_meta *md;
	struct api_database_status st;
	struct api_pg_extension_status *ext = NULL;
	char **schemas = NULL;
	int64_t now = (int64_t)wall_now();
	size_t i;

	if (c == NULL) {
		cpass_end(&r->p, RRESULT_DONE, 0);
		return;
	}
	db = typed(c);
	md = cobj_meta(c);
	if (md->generation != r->p.generation) {
		cpass_end(&r->p, RRESULT_REQUEUE, 0);	/* the spec changed */
		return;
	}
	cpass_status_base(&r->p, &st, c);
	st.phase = API_PHASE_READY;
	st.message = (char *)"Database is ready";
	st.database.set = true;
	st.database.name = r->p.name;
	st.database.owner = r->obs.owner;
	st.database.size_bytes = status_size(&db->status, r->size);
	if (r->p.created)
		st.database.created_at = now;
	if (r->p.engine == API_ENGINE_MYSQL) {
		st.database.owner = NULL;
		memset(&st.postgres, 0, sizeof(st.postgres));
		st.mysql.set = true;
		st.mysql.charset = r->myobs.charset;
		st.mysql.collation = r->myobs.collation;
	} else {
		st.postgres.set = true;
		st.postgres.encoding = r->obs.encoding;
		st.postgres.collation = r->obs.collate;
	}
	if (r->p.engine != API_ENGINE_MYSQL && r->obs.inside) {
		ext = xcalloc(r->obs.n_extensions + 1, sizeof(*ext));
		for (i = 0; i < r->obs.n_extensions; i++) {
			ext[i].name = r->obs.extensions[i].name;
			ext[i].version = r->obs.extensions[i].version;
		}
		st.postgres.installed_extensions = ext;
		st.postgres.n_installed_extensions = r->obs.n_extensions;
		schemas = xcalloc(r->obs.n_schemas + 1, sizeof(*schemas));
		for (i = 0; i < r->obs.n_schemas; i++)
			schemas[i] = r->obs.schemas[i].name;
		st.postgres.schemas.v = schemas;
		st.postgres.schemas.n = r->obs.n_schemas;
	}
	cpass_ready(&r->p, c, &st, true);
	if (r->size >= 0)
		metrics_database_size(r->p.name, db->spec.instance.name,
		    api_engine_names[r->p.engine], md->ns, (double)r->size);
	cpass_finish(&r->p, c, &st, RRESULT_REQUEUE, CPASS_RESYNC);
	api_conditions_release(&st.conditions);
	free(ext);
	free(schemas);
}

static void
executed(struct cpass *p)
{
	struct dbrun *r = (struct dbrun *)p;

	if (p->deleting) {
		metric(p, METRICS_OP_DELETE, true);
		remove_finalizer(r);
		return;
	}
	metric(p, p->exists ? METRICS_OP_UPDATE : METRICS_OP_CREATE, true);
	p->created = !p->exists;
	p->executed = true;
	sqlplan_clear(&p->plan);
	observe(r);
}

/* plan_stage() for engine mysql. */
static void
my_plan_stage(struct dbrun *r, const struct cobj *c)
{
	struct cpass *p = &r->p;
	char err[512], msg[CPASS_MSG_MAX];

	if (p->deleting) {
		if (!r->myobs.exists) {
			remove_finalizer(r);
			return;
		}
		if (mysqlplan_database_drop(p->name, &p->plan, err,
		    sizeof(err)) < 0) {
			cpass_run_failed(p, "plan", err);
			return;
		}
		cpass_run_plan(p);
		return;
	}
	if (p->executed) {
		success_status(r);
		return;
	}
	p->exists = r->myobs.exists;
	if (mysqlplan_database(&typed(c)->spec, &r->myobs, &p->plan, err,
	    sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "cannot apply the spec: %s", err);
		cpass_fail(p, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return;
	}
	if (!cpass_apply(p, c, "Creating database"))
		success_status(r);
}

static void
plan_stage(struct dbrun *r)
{
	struct cpass *p = &r->p;
	const struct cobj *c = ctrl_object(p->t);
	char err[512], msg[CPASS_MSG_MAX];

	if (c == NULL) {
		cpass_end(p, RRESULT_DONE, 0);
		return;
	}
	if (p->engine == API_ENGINE_MYSQL) {
		my_plan_stage(r, c);
		return;
	}
	if (p->deleting) {
		if (!r->obs.exists) {
			remove_finalizer(r);
			return;
		}
		if (pgplan_database_drop(p->name, &r->obs, r->force, &p->plan,
		    err, sizeof(err)) < 0) {
			cpass_run_failed(p, "plan", err);
			return;
		}
		/* Our own idle connections to the database would make the
		 * DROP fail ("being accessed by other users"). */
		instances_close_idle(p->cx->instances, p->inst_key, p->name);
		cpass_run_plan(p);
		return;
	}
	if (p->executed) {
		success_status(r);
		return;
	}
	p->exists = r->obs.exists;
	if (pgplan_database(&typed(c)->spec, &r->obs, &p->plan, err,
	    sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "cannot apply the spec: %s", err);
		cpass_fail(p, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return;
	}
	if (!cpass_apply(p, c, "Creating database"))
		success_status(r);
}

static void
release(struct cpass *p)
{
	struct dbrun *r = (struct dbrun *)p;

	pg_obs_database_release(&r->obs);
	myplan_obs_database_release(&r->myobs);
	sqlplan_release(&r->myq);
}

static void
status_write(struct jw *w, const void *st)
{
	api_database_status_write(w, st);
}

static const struct cpass_kind database_kind = {
	.kind = API_DATABASE,
	.noun = "database",
	CPASS_STATUS_LAYOUT(struct api_database, status),
	.status_write = status_write,
	.row = row,
	.answered = answered,
	.executed = executed,
	.release = release,
	.metric = metric,
	.engines = CTRL_ENGINE(API_ENGINE_POSTGRES) |
	    CTRL_ENGINE(API_ENGINE_MYSQL),
};

static struct dbrun *
dbrun_new(struct rtask *t, const struct cobj *c, bool deleting)
{
	const struct api_database *db = typed(c);
	struct dbrun *r = cpass_new(t, &database_kind, sizeof(*r), c,
	    &db->spec.instance, db->spec.name);

	r->p.deleting = deleting;
	r->size = -1;
	pg_obs_database_init(&r->obs);
	myplan_obs_database_init(&r->myobs);
	sqlplan_init_dialect(&r->myq, SQL_DIALECT_MYSQL);
	return r;
}

/* Ends the pass of a deletion that cannot go on with reason and msg; the
 * finalizer stays. */
static void
refuse_deletion(struct rtask *t, const struct cobj *c, const char *reason,
    const char *msg)
{
	cpass_fail(&dbrun_new(t, c, true)->p, API_PHASE_FAILED, reason, msg,
	    RRESULT_DONE, 0);
}

static void
start(struct rtask *t, const struct cobj *c, bool deleting)
{
	const struct api_database *db = typed(c);
	struct dbrun *r = dbrun_new(t, c, deleting);

	r->force = deleting && cobj_meta(c)->force_delete;
	if (cpass_resolve(&r->p, c, &db->spec.instance,
	    db->spec.postgres.set, db->spec.mysql.set) == NULL)
		return;
	observe(r);
}

static void
deletion(struct rtask *t, const struct cobj *c)
{
	const struct api_database *db = typed(c);
	const struct api_meta *md = cobj_meta(c);
	enum api_deletion_policy pol = db->spec.deletion_policy;

	if (!api_meta_has_finalizer(md, api_kind_finalizer(API_DATABASE))) {
		forget_metrics(c);
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	if (db->spec.deletion_protection && !md->force_delete) {
		refuse_deletion(t, c, "DeletionProtected",
		    "Deletion blocked by deletion protection. Set "
		    "force-delete annotation to proceed.");
		return;
	}
	if (pol == API_DELETION_NONE || pol == API_DELETION_RETAIN) {
		forget_metrics(c);
		ctrl_finalizer(t, c, false, ctrl_finalizer_written, NULL);
		return;
	}
	if (pol == API_DELETION_SNAPSHOT) {
		refuse_deletion(t, c, "SnapshotNotSupported",
		    "deletionPolicy Snapshot needs backups, which are not "
		    "implemented yet; the finalizer is kept. Change the "
		    "policy to Retain or Delete to proceed.");
		return;
	}
	if (c->errors || db->spec.instance.name == NULL ||
	    db->spec.name == NULL) {
		/* Nothing we can drop reliably: keep it and say why. */
		refuse_deletion(t, c, "DeletionFailed",
		    "cannot drop the database: the spec is invalid; fix it "
		    "or change deletionPolicy to Retain");
		return;
	}
	start(t, c, true);
}

static void
database_reconcile(struct rtask *t)
{
	const struct cobj *c = ctrl_preamble(t, API_DATABASE, NULL, deletion);

	if (c != NULL)
		start(t, c, false);
}

static void
database_abort(struct rtask *t)
{
	cpass_abort(t);
}

const struct ctrl_entry ctrl_database_entry = {
	API_DATABASE, database_reconcile, database_abort,
};
