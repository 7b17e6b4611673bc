/*
 * ctrl_backup.c - the DatabaseBackup controller: one logical backup of a
 * Database, streamed by the backup runner (dumpjob.c) to its storage.
 *
 * A pass (one task) decides; a backup itself runs outside any task, in a
 * struct brun of this process, and writes the end of its story (Completed
 * or Failed) when the runner reports. The order of a start:
 *
 *   (preamble) ........ deletion first, invalid spec, finalizer
 *   database .......... the Database named by spec.databaseRef, Ready
 *   instance .......... its DatabaseInstance, Ready; engine checks
 *   storage ........... a volume, S3, GCS or Azure (store.h)
 *   key ............... the encryption Secret's value: exactly 32 bytes
 *   credentials ....... the storage's Secret (object stores)
 *   connection ........ the instance's parameters for the dump tool
 *   Running ........... written before anything runs, with the path
 *   run ............... the child, the pipeline, the store
 *   Completed/Failed .. sizes, checksum, expiresAt; an Event
 *
 * A backup found Running with no run in this process was interrupted
 * (dbprovd restarted or lost its leadership while it ran): its temporary
 * file is removed and it is marked Failed, never Completed. Completed and
 * Failed are terminal; a Completed backup with a ttl is deleted when it
 * expires, and deleting a backup deletes its artefact first (a missing
 * one counts as deleted; other errors are retried with backoff).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_backup.h"
#include "api_database.h"
#include "api_instance.h"
#include "controllers.h"
#include "ctrl.h"
#include "dumpcmd.h"
#include "dumpjob.h"
#include "duration.h"
#include "curlev.h"
#include "informer.h"
#include "instances.h"
#include "json.h"
#include "ksecret.h"
#include "kwrite.h"
#include "log.h"
#include "map.h"
#include "metrics.h"
#include "myconn.h"
#include "pgconn.h"
#include "store.h"
#include "volume.h"

#define RETRY_NOTREADY	10.0
#define MSG_MAX		1024

struct brun {
	char *key;		/* ns/name */
	char *ns, *name, *uid;
	struct cctx *cx;
	struct rtask *t;	/* while a pass prepares the run */
	struct instances_wait *wait;
	struct ksecret_req *sreq;
	struct dumpcmd cmd;
	struct store *store;
	const struct pl_sink_ops *sink_ops;
	void *sink;
	struct dumpjob *job;
	struct kreq *write;
	bool encrypt;
	unsigned char keybytes[AEAD_KEY_LEN];
	/* what the status says (owned) */
	char *path, *format, *instance, *database, *engine, *version;
	int64_t started;
	int64_t ttl_s;		/* -1: none */
	enum codec_algo codec;
	int level;
	enum aead_algo aead;
	char *inst_key;		/* ns/name of the DatabaseInstance */
	double deadline;
	/* The end is written; the record stays until the cache shows it, so
	 * that a pass reading the old Running does not call it
	 * interrupted. */
	bool ended;
};

static struct map runs = MAP_INIT;	/* ns/name -> struct brun */
static char *volume_root;
static struct curlev *stores_m;	/* the object store clients' transfers */

static struct curlev *
stores_multi(struct cctx *cx)
{
	if (stores_m == NULL && (stores_m = curlev_new(mgr_loop(cx->mgr))) ==
	    NULL)
		die_oom();
	return stores_m;
}

/* A Secret's value as store_new() asks for it. */
static const char *
secret_get(const char *key, void *arg)
{
	const struct ksecret *s = arg;
	const char *v = ksecret_value(s, key, NULL);

	return v && *v ? v : NULL;
}

void
ctrl_backup_configure(const char *root)
{
	free(volume_root);
	volume_root = xstrdup(root && *root ? root : VOLUME_ROOT_DEFAULT);
}

static const char *
root(void)
{
	return volume_root ? volume_root : VOLUME_ROOT_DEFAULT;
}

static const struct api_backup *
typed(const struct cobj *c)
{
	return c->typed;
}

static char *
run_key(const char *ns, const char *name)
{
	return xasprintf("%s/%s", ns, name);
}

static void
run_free(struct brun *r)
{
	if (r == NULL)
		return;
	if (r->wait)
		instances_cancel(r->wait);
	if (r->sreq)
		ksecret_cancel(r->sreq);
	if (r->write)
		kreq_cancel(r->write);
	dumpjob_free(r->job);
	if (r->sink)
		store_put_close(r->store, r->sink);
	store_free_later(mgr_loop(r->cx->mgr), r->store);
	dumpcmd_release(&r->cmd);
	secure_zero(r->keybytes, sizeof(r->keybytes));
	free(r->key);
	free(r->ns);
	free(r->name);
	free(r->uid);
	free(r->path);
	free(r->format);
	free(r->instance);
	free(r->database);
	free(r->engine);
	free(r->version);
	free(r->inst_key);
	free(r);
}

static void
run_forget(struct brun *r)
{
	map_del(&runs, r->key);
	run_free(r);
}

/* ---- status ---------------------------------------------------------------- */

/* What a pass waits for in t->priv: a status write, or a deletion. */
enum bwait { BWAIT_WRITE, BWAIT_DELETE };

/* A pass's status write: the task ends when it is answered (so that a
 * shutdown waits for it), with the result the pass decided. */
struct swrite {
	enum bwait kind;
	struct rtask *t;
	struct kreq *req;
	enum rresult res;
	double delay;
};

static void
status_written(struct kreq *req, void *arg)
{
	struct swrite *sw = arg;
	struct rtask *t = sw->t;
	enum rresult res = sw->res;
	double delay = sw->delay;
	char err[512];

	if (kwrite_classify(req) != KW_OK && kwrite_classify(req) !=
	    KW_NOT_FOUND) {
		kwrite_error_text(req, err, sizeof(err));
		log_warn("backup status update failed", "namespace",
		    t->namespace, "name", t->name, "error", err);
		res = RRESULT_FAILED;	/* try again, with backoff */
		delay = 0;
	}
	t->priv = NULL;
	free(sw);
	rtask_done(t, res, delay);
}

/* PATCHes status (no precondition: a run outlives the version it saw). */
static struct kreq *
patch_status(struct cctx *cx, const char *ns, const char *name,
    const struct api_backup_status *st, kreq_done_fn done, void *arg)
{
	struct kres kr;
	struct jw w;
	struct kreq *req;
	char *patch;

	jw_init(&w);
	jw_obj_open(&w);
	jw_key(&w, "status");
	api_backup_status_write(&w, st);
	jw_obj_close(&w);
	patch = jw_finish(&w, NULL);
	memset(&kr, 0, sizeof(kr));
	kr.group_path = "/apis/" API_GROUP_VERSION;
	kr.resource = api_kind_info(API_BACKUP)->plural;
	kr.namespaced = true;
	req = kobj_merge_patch(mgr_http(cx->mgr), &kr, ns, name, "status",
	    patch, done, arg);
	free(patch);
	return req;
}

/* A status from the cached one with phase, message and the Ready
 * condition changed; conditions are a copy the caller releases. */
static void
status_from(struct api_backup_status *st, const struct cobj *c,
    enum api_phase phase, enum api_cond_status ready, const char *reason,
    const char *msg)
{
	const struct api_backup *b = typed(c);
	int64_t now = (int64_t)wall_now();

	*st = b->status;
	memset(&st->conditions, 0, sizeof(st->conditions));
	ctrl_conditions_copy(&st->conditions, &b->status.conditions);
	st->phase = phase;
	st->message = (char *)msg;
	api_conditions_set(&st->conditions, "Ready", ready, reason, msg,
	    b->meta.generation, now);
}

/* Writes a status and ends the task with res. */
static void
task_status(struct rtask *t, const struct cobj *c, enum api_phase phase,
    enum api_cond_status ready, const char *reason, const char *msg,
    enum rresult res, double delay)
{
	struct cctx *cx = t->def->arg;
	struct api_backup_status st;
	struct swrite *sw;
	char *a, *b;
	struct jw w;

	status_from(&st, c, phase, ready, reason, msg);
	if (phase == API_PHASE_FAILED && st.completed_at == 0)
		st.completed_at = (int64_t)wall_now();
	/* Nothing new: no write (and no event). */
	jw_init(&w);
	api_backup_status_write(&w, &st);
	a = jw_finish(&w, NULL);
	jw_init(&w);
	api_backup_status_write(&w, &typed(c)->status);
	b = jw_finish(&w, NULL);
	sw = NULL;
	if (strcmp(a, b) != 0) {
		if (phase == API_PHASE_FAILED)
			ctrl_emit(cx, c, EVENT_WARNING, reason, msg);
		sw = xcalloc(1, sizeof(*sw));
		sw->kind = BWAIT_WRITE;
		sw->t = t;
		sw->res = res;
		sw->delay = delay;
		t->priv = sw;
		sw->req = patch_status(cx, t->namespace, t->name, &st,
		    status_written, sw);
	}
	free(a);
	free(b);
	api_conditions_release(&st.conditions);
	if (sw == NULL)
		rtask_done(t, res, delay);
}

/* The run's end, written from outside any task. */
static void
end_written(struct kreq *req, void *arg)
{
	struct brun *r = arg;
	char err[512];

	r->write = NULL;
	if (kwrite_classify(req) != KW_OK) {
		kwrite_error_text(req, err, sizeof(err));
		log_warn("backup status update failed", "namespace", r->ns,
		    "name", r->name, "error", err);
	}
	dumpjob_free(r->job);
	r->job = NULL;
	if (r->sink)
		store_put_close(r->store, r->sink);
	r->sink = NULL;
	store_free_later(mgr_loop(r->cx->mgr), r->store);
	r->store = NULL;
	r->ended = true;
	mgr_enqueue(r->cx->mgr, api_kind_info(API_BACKUP)->singular, r->ns,
	    r->name);
}

static const struct cobj *
cached(struct brun *r)
{
	struct informer *inf = mgr_informer(r->cx->mgr,
	    api_kind_info(API_BACKUP)->singular);
	const struct kobj *o = inf ? informer_get(inf, r->ns, r->name) : NULL;
	const struct cobj *c = o ? o->data : NULL;

	if (c == NULL || strcmp(cobj_meta(c)->uid ? cobj_meta(c)->uid : "",
	    r->uid) != 0)
		return NULL;
	return c;
}

static void
run_end(struct brun *r, bool ok, const char *reason, const char *msg,
    const struct dumpjob_result *res)
{
	const struct cobj *c = cached(r);
	struct api_backup_status st;
	int64_t now = (int64_t)wall_now();

	if (c == NULL) {		/* deleted meanwhile */
		run_forget(r);
		return;
	}
	status_from(&st, c, ok ? API_PHASE_COMPLETED : API_PHASE_FAILED,
	    ok ? API_COND_TRUE : API_COND_FALSE, ok ? "BackupCompleted" :
	    reason, msg);
	if (ok)
		api_conditions_set(&st.conditions, "Synced", API_COND_TRUE,
		    "BackupCompleted", "Backup completed",
		    typed(c)->meta.generation, now);
	else
		api_conditions_set(&st.conditions, "Synced", API_COND_FALSE,
		    reason, msg, typed(c)->meta.generation, now);
	st.started_at = r->started;
	st.completed_at = now;
	st.backup.set = true;
	st.backup.path = r->path;
	st.backup.format = r->format;
	st.backup.size_bytes = ok && res ? (int64_t)res->dump_bytes : 0;
	st.backup.compressed_size_bytes = ok && res ?
	    (int64_t)res->stored_bytes : 0;
	st.backup.checksum = NULL;
	if (ok && res) {
		char *sum = xasprintf("sha256:%s", res->sha256);

		st.backup.checksum = sum;
	}
	st.source.set = true;
	st.source.instance = r->instance;
	st.source.database = r->database;
	st.source.engine = r->engine;
	st.source.version = r->version;
	st.source.timestamp = r->started;
	st.expires_at = ok && r->ttl_s >= 0 ? now + r->ttl_s : 0;
	ctrl_emit(r->cx, c, ok ? EVENT_NORMAL : EVENT_WARNING, ok ?
	    "BackupCompleted" : reason, msg);
	metrics_backup_result(r->database, r->engine, r->ns, ok,
	    res ? res->seconds : -1, ok && res ? (double)res->stored_bytes :
	    -1, (double)now);
	r->write = patch_status(r->cx, r->ns, r->name, &st, end_written, r);
	free(st.backup.checksum);
	api_conditions_release(&st.conditions);
}

static void
job_done(struct dumpjob *j, bool ok, const char *err,
    const struct dumpjob_result *res, void *arg)
{
	struct brun *r = arg;
	char msg[MSG_MAX];

	(void)j;
	if (ok) {
		log_info("backup completed", "namespace", r->ns, "name",
		    r->name, "path", r->path, "checksum", res->sha256);
		run_end(r, true, NULL, "Backup completed successfully", res);
		return;
	}
	snprintf(msg, sizeof(msg), "Backup failed: %s", err);
	log_warn("backup failed", "namespace", r->ns, "name", r->name,
	    "error", err);
	run_end(r, false, res && res->deadline_exceeded ? "DeadlineExceeded" :
	    strncmp(err, "sink:", 5) == 0 ? "StorageFailed" : "BackupFailed",
	    msg, res);
}

/* ---- starting a run ---------------------------------------------------------- */

/* A failure before anything ran: written by the pass that prepared it. */
static void
prep_fail(struct brun *r, enum api_phase phase, const char *reason,
    const char *msg, enum rresult res, double delay)
{
	struct rtask *t = r->t;
	const struct cobj *c = ctrl_object(t);

	run_forget(r);
	if (c == NULL) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	task_status(t, c, phase, API_COND_FALSE, reason, msg, res, delay);
}

static void
running_written(struct kreq *req, void *arg)
{
	struct brun *r = arg;
	struct rtask *t = r->t;
	struct dumpjob_config jc;
	char err[MSG_MAX], msg[MSG_MAX];

	r->write = NULL;
	if (kwrite_classify(req) != KW_OK) {
		kwrite_error_text(req, err, sizeof(err));
		run_forget(r);
		log_warn("cannot mark the backup Running", "namespace",
		    t->namespace, "name", t->name, "error", err);
		rtask_done(t, RRESULT_FAILED, 0);
		return;
	}
	ctrl_own_write(t, req);
	memset(&jc, 0, sizeof(jc));
	jc.argv = (const char *const *)r->cmd.argv;
	jc.env = (const char *const *)r->cmd.env;
	jc.tool = r->cmd.argv[0];
	jc.codec = r->codec;
	jc.level = r->level;
	jc.encrypt = r->encrypt;
	jc.aead = r->aead;
	jc.key = r->keybytes;
	jc.sink_ops = r->sink_ops;
	jc.sink = r->sink;
	jc.deadline = r->deadline;
	r->job = dumpjob_backup(mgr_loop(r->cx->mgr), &jc, job_done, r, err,
	    sizeof(err));
	/* The environment held the password: not kept beyond the start. */
	dumpcmd_release(&r->cmd);
	secure_zero(r->keybytes, sizeof(r->keybytes));
	r->t = NULL;
	if (r->job == NULL) {
		snprintf(msg, sizeof(msg), "Backup failed: %s", err);
		run_end(r, false, "BackupFailed", msg, NULL);
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	ctrl_emit(r->cx, ctrl_object(t), EVENT_NORMAL, "BackupStarted",
	    r->path);
	log_info("backup started", "namespace", r->ns, "name", r->name,
	    "path", r->path);
	rtask_done(t, RRESULT_DONE, 0);
}

static void
info_got(const struct instances_conninfo *ci, const struct instances_err *e,
    void *arg)
{
	struct brun *r = arg;
	struct rtask *t = r->t;
	const struct cobj *c = ctrl_object(t);
	const struct api_backup *b;
	struct api_backup_status st;
	struct dumpcmd_pg tpg;
	struct dumpcmd_my tmy;
	char err[MSG_MAX], msg[MSG_MAX];
	int rc;

	r->wait = NULL;
	if (c == NULL || strcmp(cobj_meta(c)->uid, r->uid) != 0 ||
	    cobj_meta(c)->deleting) {
		run_forget(r);
		rtask_done(t, RRESULT_REQUEUE, 0);
		return;
	}
	b = typed(c);
	if (ci == NULL) {
		snprintf(msg, sizeof(msg), "%s", e->msg);
		prep_fail(r, API_PHASE_FAILED, e->code == INSTANCES_ESECRET ?
		    "CredentialsFailed" : e->code == INSTANCES_ETLS ?
		    "TLSCredentialsFailed" : "ConnectionFailed", msg,
		    RRESULT_FAILED, 0);
		return;
	}
	dumpcmd_init(&r->cmd);
	if (ci->engine == API_ENGINE_POSTGRES) {
		memset(&tpg, 0, sizeof(tpg));
		tpg.conn = ci->pg;
		tpg.dbname = r->database;
		rc = dumpcmd_pg_dump(&r->cmd, &tpg, &b->spec.postgres, err,
		    sizeof(err));
	} else {
		/* Without a spec.mysql block the schema's defaults apply
		 * (extended inserts): a spec with the block present. */
		struct api_my_backup dflt;
		const struct api_my_backup *o = &b->spec.mysql;

		if (!o->set) {
			memset(&dflt, 0, sizeof(dflt));
			dflt.set = true;
			dflt.single_transaction = dflt.quick = true;
			dflt.routines = dflt.triggers = dflt.events = true;
			dflt.extended_insert = true;
			o = &dflt;
		}
		memset(&tmy, 0, sizeof(tmy));
		tmy.conn = ci->my;
		tmy.dbname = r->database;
		rc = dumpcmd_my_dump(&r->cmd, &tmy, o, err, sizeof(err));
	}
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "spec.%s: %s",
		    ci->engine == API_ENGINE_POSTGRES ? "postgres" : "mysql",
		    err);
		prep_fail(r, API_PHASE_FAILED, "InvalidSpec", msg, RRESULT_DONE,
		    0);
		return;
	}
	if (store_put_open(r->store, r->path, -1, &r->sink_ops, &r->sink, err,
	    sizeof(err)) < 0) {
		prep_fail(r, API_PHASE_FAILED, "StorageFailed", err,
		    RRESULT_FAILED, 0);
		return;
	}
	/* Running, with the path, before anything runs: a crash from here
	 * on leaves a Running backup, which the next pass fails. */
	status_from(&st, c, API_PHASE_RUNNING, API_COND_FALSE, "Running",
	    "Backup in progress");
	st.started_at = r->started;
	st.completed_at = 0;
	st.backup.set = true;
	st.backup.path = r->path;
	st.backup.format = r->format;
	st.backup.size_bytes = st.backup.compressed_size_bytes = 0;
	st.backup.checksum = NULL;
	st.source.set = true;
	st.source.instance = r->instance;
	st.source.database = r->database;
	st.source.engine = r->engine;
	st.source.version = r->version;
	st.source.timestamp = r->started;
	api_conditions_set(&st.conditions, "Connected", API_COND_TRUE,
	    "Connected", "Connected to the database", b->meta.generation,
	    (int64_t)wall_now());
	r->write = patch_status(r->cx, r->ns, r->name, &st, running_written,
	    r);
	api_conditions_release(&st.conditions);
}

static void
connect_next(struct brun *r)
{
	r->wait = instances_conninfo(r->cx->instances, r->inst_key,
	    r->database, info_got, r);
}

static void
store_got(const struct ksecret *sec, const struct ksecret_err *e, void *arg)
{
	struct brun *r = arg;
	const struct cobj *c = ctrl_object(r->t);
	char msg[MSG_MAX];

	r->sreq = NULL;
	if (c == NULL) {
		struct rtask *t = r->t;

		run_forget(r);
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	if (sec == NULL) {
		snprintf(msg, sizeof(msg), "spec.storage: %s", e->msg);
		prep_fail(r, API_PHASE_FAILED, ksecret_reason(e->code), msg,
		    RRESULT_FAILED, 0);
		return;
	}
	r->store = store_new(stores_multi(r->cx), &typed(c)->spec.storage,
	    root(), secret_get, (void *)sec, msg, sizeof(msg));
	if (r->store == NULL) {
		prep_fail(r, API_PHASE_FAILED, "StorageFailed", msg,
		    RRESULT_FAILED, 0);
		return;
	}
	connect_next(r);
}

/* The storage: a volume at once, an object store with its Secret. */
static void
storage_next(struct brun *r)
{
	const struct cobj *c = ctrl_object(r->t);
	const struct api_storage *s = &typed(c)->spec.storage;
	const char *name = store_secret_name(s);
	char msg[MSG_MAX];

	if (name == NULL) {
		r->store = store_new(NULL, s, root(), NULL, NULL, msg,
		    sizeof(msg));
		if (r->store == NULL) {
			prep_fail(r, API_PHASE_FAILED, "StorageFailed", msg,
			    RRESULT_DONE, 0);
			return;
		}
		connect_next(r);
		return;
	}
	r->sreq = ksecret_get(instances_secrets(r->cx->instances), r->ns,
	    name, store_got, r);
}

static void
key_got(const struct ksecret *sec, const struct ksecret_err *e, void *arg)
{
	struct brun *r = arg;
	const struct cobj *c = ctrl_object(r->t);
	const struct api_secret_key *ref;
	char msg[MSG_MAX];
	const char *v;
	size_t n = 0;

	r->sreq = NULL;
	if (c == NULL) {
		struct rtask *t = r->t;

		run_forget(r);
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	ref = &typed(c)->spec.encryption.secret;
	v = sec ? ksecret_value(sec, ref->key ? ref->key : "", &n) : NULL;
	if (sec == NULL || v == NULL || n != AEAD_KEY_LEN) {
		if (sec == NULL)
			snprintf(msg, sizeof(msg), "spec.encryption.secretRef: "
			    "%s", e->msg);
		else if (v == NULL)
			snprintf(msg, sizeof(msg), "spec.encryption.secretRef: "
			    "key %s not found in secret %s/%s", ref->key,
			    ksecret_namespace(sec), ksecret_name(sec));
		else
			snprintf(msg, sizeof(msg), "spec.encryption.secretRef: "
			    "key %s of secret %s/%s holds %zu bytes; an "
			    "encryption key is exactly %d", ref->key,
			    ksecret_namespace(sec), ksecret_name(sec), n,
			    AEAD_KEY_LEN);
		prep_fail(r, API_PHASE_FAILED, sec == NULL ?
		    ksecret_reason(e->code) : "EncryptionKeyInvalid", msg,
		    RRESULT_FAILED, 0);
		return;
	}
	memcpy(r->keybytes, v, AEAD_KEY_LEN);
	storage_next(r);
}

static void
start(struct rtask *t, const struct cobj *c)
{
	struct cctx *cx = t->def->arg;
	const struct api_backup *b = typed(c);
	const struct api_meta *md = cobj_meta(c);
	const struct api_database *db;
	const struct api_instance *in;
	const struct cobj *dc;
	const struct kobj *o;
	struct informer *inf;
	struct ctrl_refusal why;
	struct api_errs errs;
	struct brun *r;
	const char *dbns, *dbname;
	char msg[MSG_MAX], *joined;
	int64_t ns_ttl;

	dbns = b->spec.database.ns && *b->spec.database.ns ?
	    b->spec.database.ns : md->ns;
	dbname = b->spec.database.name ? b->spec.database.name : "";
	inf = mgr_informer(cx->mgr, api_kind_info(API_DATABASE)->singular);
	o = inf ? informer_get(inf, dbns, dbname) : NULL;
	dc = o ? o->data : NULL;
	if (dc == NULL || dc->errors) {
		snprintf(msg, sizeof(msg), "Referenced Database %s/%s %s",
		    dbns, dbname, dc ? "has an invalid spec" : "not found");
		task_status(t, c, API_PHASE_FAILED, API_COND_FALSE,
		    "DatabaseNotFound", msg, RRESULT_DONE, 0);
		return;
	}
	db = dc->typed;
	if (ctrl_phase(dc) != API_PHASE_READY) {
		snprintf(msg, sizeof(msg), "Waiting for Database %s to be ready",
		    dbname);
		task_status(t, c, API_PHASE_PENDING, API_COND_FALSE,
		    "DatabaseNotReady", msg, RRESULT_REQUEUE, RETRY_NOTREADY);
		return;
	}
	in = ctrl_resolve_instance(t, API_BACKUP, &db->spec.instance, dbns,
	    false, CTRL_ENGINE(API_ENGINE_POSTGRES) |
	    CTRL_ENGINE(API_ENGINE_MYSQL), &why, msg, sizeof(msg));
	if (in == NULL) {
		task_status(t, c, why.phase, API_COND_FALSE, why.reason, msg,
		    why.res, why.delay);
		return;
	}
	api_errs_init(&errs);
	if (api_backup_check_engine(b, in->spec.engine, &errs) < 0) {
		joined = api_errs_join(&errs, 0);
		task_status(t, c, API_PHASE_FAILED, API_COND_FALSE,
		    "InvalidSpec", joined, RRESULT_DONE, 0);
		free(joined);
		api_errs_release(&errs);
		return;
	}
	api_errs_release(&errs);
	if (!store_supported(b->spec.storage.type)) {
		snprintf(msg, sizeof(msg), "spec.storage.type: %s storage is "
		    "not supported",
		    api_storage_type_names[b->spec.storage.type] ?
		    api_storage_type_names[b->spec.storage.type] : "?");
		task_status(t, c, API_PHASE_FAILED, API_COND_FALSE,
		    "StorageFailed", msg, RRESULT_DONE, 0);
		return;
	}
	ns_ttl = -1;
	if (b->spec.ttl && *b->spec.ttl &&
	    duration_parse(b->spec.ttl, &ns_ttl, msg, sizeof(msg)) < 0)
		ns_ttl = -1;

	r = xcalloc(1, sizeof(*r));
	r->key = run_key(t->namespace, t->name);
	r->ns = xstrdup(t->namespace);
	r->name = xstrdup(t->name);
	r->uid = xstrdup(md->uid ? md->uid : "");
	r->cx = cx;
	r->t = t;
	r->started = (int64_t)wall_now();
	r->database = xstrdup(db->spec.name);
	r->instance = xstrdup(in->meta.name);
	r->inst_key = xasprintf("%s/%s", in->meta.ns, in->meta.name);
	r->engine = xstrdup(api_engine_names[in->spec.engine]);
	r->version = xstrdup(in->status.version ? in->status.version : "");
	r->path = dumpcmd_backup_path(dumpcmd_storage_prefix(&b->spec.storage),
	    db->spec.name, md->name, r->started, in->spec.engine,
	    &b->spec.postgres, &b->spec.compression, &b->spec.encryption);
	r->format = xstrdup(dumpcmd_format_name(in->spec.engine,
	    &b->spec.postgres));
	r->ttl_s = ns_ttl >= 0 ? ns_ttl / 1000000000 : -1;
	r->codec = b->spec.compression.set && b->spec.compression.enabled ?
	    codec_from_api(b->spec.compression.algorithm) : CODEC_NONE;
	if (r->codec == CODEC__COUNT)
		r->codec = CODEC_GZIP;
	r->level = b->spec.compression.level > 0 ?
	    b->spec.compression.level : 6;
	r->encrypt = b->spec.encryption.set && b->spec.encryption.enabled;
	r->aead = b->spec.encryption.algorithm == API_ENCRYPTION_AES_256_CBC ?
	    AEAD_AES256_CBC_HMAC : AEAD_AES256_GCM;
	r->deadline = (double)(b->spec.active_deadline_seconds > 0 ?
	    b->spec.active_deadline_seconds : 3600);
	dumpcmd_init(&r->cmd);
	map_put(&runs, r->key, r);
	if (r->encrypt) {
		r->sreq = ksecret_get(instances_secrets(cx->instances),
		    b->spec.encryption.secret.ns && *b->spec.encryption.secret.ns ?
		    b->spec.encryption.secret.ns : md->ns,
		    b->spec.encryption.secret.name, key_got, r);
		return;
	}
	storage_next(r);
}

/* Running, but not here: interrupted by a restart. */
static void
interrupted(struct rtask *t, const struct cobj *c)
{
	const struct api_backup *b = typed(c);
	struct store *st;
	char err[MSG_MAX];

	/* A volume keeps the partial file under a temporary name; an object
	 * store never commits an unfinished upload. */
	if (b->spec.storage.type == API_STORAGE_PVC && b->status.backup.path &&
	    (st = store_new(NULL, &b->spec.storage, root(), NULL, NULL, err,
	    sizeof(err))) != NULL) {
		store_sweep(st, b->status.backup.path);
		store_free(st);
	}
	log_warn("backup interrupted", "namespace", t->namespace, "name",
	    t->name);
	task_status(t, c, API_PHASE_FAILED, API_COND_FALSE,
	    "BackupInterrupted", "Backup failed: interrupted (dbprovd "
	    "restarted or lost its leadership while it ran); no partial "
	    "artefact was kept", RRESULT_DONE, 0);
}

static void
deleted(struct kreq *req, void *arg)
{
	struct rtask *t = arg;
	enum kwrite_outcome o = kwrite_classify(req);

	rtask_done(t, o == KW_OK || o == KW_NOT_FOUND ? RRESULT_DONE :
	    RRESULT_FAILED, 0);
}

/* Completed: delete the object once its ttl has passed. */
static void
expiry(struct rtask *t, const struct cobj *c)
{
	struct cctx *cx = t->def->arg;
	const struct api_backup *b = typed(c);
	double left;
	struct kres kr;

	if (b->status.expires_at <= 0) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	left = (double)b->status.expires_at - wall_now();
	if (left > 0) {
		rtask_done(t, RRESULT_REQUEUE, left + 1);
		return;
	}
	log_info("backup expired, deleting it", "namespace", t->namespace,
	    "name", t->name);
	memset(&kr, 0, sizeof(kr));
	kr.group_path = "/apis/" API_GROUP_VERSION;
	kr.resource = api_kind_info(API_BACKUP)->plural;
	kr.namespaced = true;
	kobj_delete(mgr_http(cx->mgr), &kr, t->namespace, t->name,
	    cobj_meta(c)->uid, NULL, deleted, t);
}

struct bdel {
	enum bwait kind;
	struct rtask *t;
	struct store *st;
	struct ksecret_req *sreq;
};

static void
del_done(bool ok, const char *err, void *arg)
{
	struct bdel *d = arg;
	struct rtask *t = d->t;
	struct cctx *cx = t->def->arg;
	const struct cobj *c = ctrl_object(t);

	store_free_later(mgr_loop(cx->mgr), d->st);
	free(d);
	t->priv = NULL;
	if (c == NULL) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	if (!ok) {
		ctrl_emit(cx, c, EVENT_WARNING, "ArtefactDeleteFailed", err);
		log_warn("cannot delete a backup's artefact", "namespace",
		    t->namespace, "name", t->name, "error", err);
		rtask_done(t, RRESULT_FAILED, 0);
		return;
	}
	log_info("backup artefact deleted", "namespace", t->namespace, "name",
	    t->name, "path", typed(c)->status.backup.path);
	if (typed(c)->status.source.set && typed(c)->status.source.database)
		metrics_backup_forget(typed(c)->status.source.database,
		    typed(c)->status.source.engine, t->namespace);
	ctrl_finalizer(t, c, false, ctrl_finalizer_written, NULL);
}

static void
del_secret_got(const struct ksecret *sec, const struct ksecret_err *e,
    void *arg)
{
	struct bdel *d = arg;
	struct rtask *t = d->t;
	const struct cobj *c = ctrl_object(t);
	char err[MSG_MAX];

	d->sreq = NULL;
	if (c == NULL) {
		del_done(true, NULL, d);
		return;
	}
	if (sec == NULL) {
		snprintf(err, sizeof(err), "spec.storage: %s", e->msg);
		del_done(false, err, d);
		return;
	}
	d->st = store_new(stores_multi(t->def->arg), &typed(c)->spec.storage,
	    root(), secret_get, (void *)sec, err, sizeof(err));
	if (d->st == NULL) {
		del_done(false, err, d);
		return;
	}
	store_delete(d->st, typed(c)->status.backup.path, del_done, d);
}

static void
deletion(struct rtask *t, const struct cobj *c)
{
	const struct api_backup *b = typed(c);
	const struct api_storage *s = &b->spec.storage;
	char *key = run_key(t->namespace, t->name);
	struct brun *r = map_get(&runs, key);
	const char *sname;
	struct bdel *d;
	char err[MSG_MAX];

	free(key);
	if (!api_meta_has_finalizer(cobj_meta(c),
	    api_kind_finalizer(API_BACKUP))) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	if (r != NULL && r->t == NULL) {
		/* A run in progress stops; nothing of it stays. */
		map_del(&runs, r->key);
		run_free(r);
	} else if (r != NULL) {
		/* Being prepared by another pass: come back. */
		rtask_done(t, RRESULT_REQUEUE, 1);
		return;
	}
	if (b->status.backup.path == NULL || *b->status.backup.path == '\0' ||
	    !store_supported(s->type) || (s->type != API_STORAGE_PVC &&
	    b->status.phase != API_PHASE_COMPLETED)) {
		/* Nothing was ever stored: an object store commits an upload
		 * only when it completes (a volume may hold a temporary file,
		 * which store_delete() removes). */
		ctrl_finalizer(t, c, false, ctrl_finalizer_written, NULL);
		return;
	}
	d = xcalloc(1, sizeof(*d));
	d->kind = BWAIT_DELETE;
	d->t = t;
	t->priv = d;
	sname = store_secret_name(s);
	if (sname == NULL) {
		d->st = store_new(NULL, s, root(), NULL, NULL, err, sizeof(err));
		if (d->st == NULL)
			del_done(false, err, d);
		else
			store_delete(d->st, b->status.backup.path, del_done, d);
		return;
	}
	d->sreq = ksecret_get(instances_secrets(((struct cctx *)
	    t->def->arg)->instances), t->namespace, sname, del_secret_got, d);
}

static void
backup_reconcile(struct rtask *t)
{
	const struct cobj *c = ctrl_preamble(t, API_BACKUP, NULL, deletion);
	struct brun *r;
	char *key;
	bool here;

	if (c == NULL)
		return;
	key = run_key(t->namespace, t->name);
	r = map_get(&runs, key);
	free(key);
	if (r != NULL && r->ended) {
		if (typed(c)->status.phase == API_PHASE_RUNNING) {
			/* Our end is written, the cache is behind: its
			 * watch event comes. */
			rtask_done(t, RRESULT_DONE, 0);
			return;
		}
		run_forget(r);
	}
	switch (typed(c)->status.phase) {
	case API_PHASE_COMPLETED:
		expiry(t, c);
		return;
	case API_PHASE_FAILED:
		rtask_done(t, RRESULT_DONE, 0);
		return;
	case API_PHASE_RUNNING:
		key = run_key(t->namespace, t->name);
		here = map_get(&runs, key) != NULL;
		free(key);
		if (here)
			rtask_done(t, RRESULT_DONE, 0);
		else
			interrupted(t, c);
		return;
	default:
		key = run_key(t->namespace, t->name);
		here = map_get(&runs, key) != NULL;
		free(key);
		if (here) {		/* being prepared or running */
			rtask_done(t, RRESULT_DONE, 0);
			return;
		}
		start(t, c);
		return;
	}
}

/* The shutdown deadline: a pass preparing a run gives up (the run never
 * started, nothing was written). Runs themselves are not tasks. */
static void
backup_abort(struct rtask *t)
{
	char *key = run_key(t->namespace, t->name);
	struct brun *r = map_get(&runs, key);

	free(key);
	if (r != NULL && r->t == t) {
		map_del(&runs, r->key);
		run_free(r);
	}
	if (t->priv != NULL && *(enum bwait *)t->priv == BWAIT_WRITE) {
		struct swrite *sw = t->priv;

		kreq_cancel(sw->req);
		free(sw);
	} else if (t->priv != NULL) {
		struct bdel *d = t->priv;

		if (d->sreq)
			ksecret_cancel(d->sreq);
		store_free_later(mgr_loop(t->mgr), d->st);
		free(d);
	}
	t->priv = NULL;
	rtask_done(t, RRESULT_REQUEUE, 0);
}

const struct ctrl_entry ctrl_backup_entry = {
	API_BACKUP, backup_reconcile, backup_abort,
};
