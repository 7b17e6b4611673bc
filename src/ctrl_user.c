/*
 * ctrl_user.c - the DatabaseUser controller for engines postgres and mysql
 * (behavior.md §1.3 and §3, api.md §9, without the defects listed there),
 * on the pass runner of cpass.h. The steps below are PostgreSQL's; on
 * MySQL the role is one account per allowed host (ctrl_myobs.c observes
 * them, mysqlplan_user() plans), with the same password handling.
 *
 * One pass:
 *
 *   deleting ........ no finalizer: nothing. Otherwise observe the role and
 *                     the databases where it has objects, drop it
 *                     (pgplan_role_drop: REASSIGN OWNED / DROP OWNED in
 *                     each, then DROP ROLE), delete the credentials Secret
 *                     when it is ours, remove the finalizer. A failure
 *                     keeps the finalizer and says why in the status.
 *   (preamble) ...... pause annotations, validation, finalizer first
 *   instance ........ as for Database
 *   password ........ the source of the password, then the credentials
 *                     Secret (below)
 *   otherwise ....... observe the role (as DatabaseRole does), plan
 *                     pgplan_user with the SCRAM-SHA-256 verifier of the
 *                     password when it must be set, run, observe again,
 *                     write the status, then record which password the
 *                     server now has.
 *
 * The password and its Secret. The source is spec.existingPasswordSecret
 * when set (read, never written); otherwise a password dbprovd generates
 * and keeps in the credentials Secret: spec.passwordSecret.secretName, or
 * "<name>-credentials" when spec.passwordSecret is absent (the original
 * used such a password once and stored it nowhere). The credentials
 * Secret is written when spec.passwordSecret is set or the password is
 * generated; it carries the label app.kubernetes.io/managed-by=dbprovd
 * and the DatabaseUser as controller owner, and a Secret of that name
 * that is not ours is never touched (SecretConflict). Its data is the
 * rendered secretTemplate (template.h) and always includes the plain
 * password under "password", so the password can be read back.
 *
 * Secret and server never disagree. The Secret is written first (a new
 * password is never set on the server before it is stored), the server
 * second, and the annotation dbops.dbprovision.io/password-applied on the
 * DatabaseUser records last which Secret version the server's password
 * came from ("namespace/name@resourceVersion", no secret in it). A pass
 * that finds the annotation missing or different -- a crash between the
 * steps, a Secret edited by hand, a role that existed before -- sets the
 * password again. The plaintext never reaches the server: the verifier is
 * computed here (PQencryptPasswordConn).
 *
 * Rotation (spec.passwordRotation, generated passwords only): a new
 * password when maxAge has passed since the last one, or when the
 * schedule fired since then. The time of the last one is kept on the
 * Secret (annotation dbops.dbprovision.io/rotated-at) and shown in
 * status.secret.lastRotatedAt.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "api_common.h"
#include "api_instance.h"
#include "api_user.h"
#include "buf.h"
#include "cpass.h"
#include "cron.h"
#include "ctrl.h"
#include "duration.h"
#include "instances.h"
#include "json.h"
#include "khttp.h"
#include "ksecret.h"
#include "kwrite.h"
#include "log.h"
#include "metrics.h"
#include "mgr.h"
#include "myconn.h"
#include "myplan.h"
#include "password.h"
#include "pgconn.h"
#include "pgplan.h"
#include "pool.h"
#include "sqlstep.h"
#include "template.h"
#include "timefmt.h"

#define ANN_APPLIED	"dbops.dbprovision.io/password-applied"
#define ANN_ROTATED	"dbops.dbprovision.io/rotated-at"
#define LABEL_MANAGED	"app.kubernetes.io/managed-by"
#define LABEL_USER	"dbops.dbprovision.io/user"
#define MANAGER		"dbprovd"

struct urun {
	struct cpass p;		/* first: the runner's part */
	struct pg_obs_role obs;
	struct ctrl_myuser my;	/* engine mysql */
	/* The instance's connection facts, for the Secret template. */
	char *host;
	int port;
	char *database;
	char *sslmode;
	/* The password and where it lives. */
	char *password;		/* wiped when freed */
	char *source;		/* "ns/name@resourceVersion" */
	bool generated;		/* new in this pass */
	bool set_password;	/* the plan sets it */
	char *secret_name;	/* the credentials Secret, NULL = none */
	int64_t rotated_at;	/* of the password in the Secret, 0 unknown */
	double next_rotation;	/* seconds from now, < 0 = none */
	struct ksecret_req *sreq;
	struct kreq *kreq;
	/* The credentials Secret of an earlier spec (secretName changed),
	 * deleted once the new one is in use; NULL = none. */
	char *old_secret;
	/* own_secret_delete(): what to delete, how strictly, what next. */
	char *del_name;
	bool del_strict;
	void (*del_next)(struct urun *u);
};

static const struct api_user *
typed(const struct cobj *c)
{
	return c->typed;
}

static struct urun *
U(struct cpass *p)
{
	return (struct urun *)p;
}

/* ---- observing ---------------------------------------------------------- */

static void plan_stage(struct urun *u);

static int
row(struct cpass *p, const char *const *cols, int ncols)
{
	if (p->engine == API_ENGINE_MYSQL)
		return ctrl_myuser_row(p, &U(p)->my, cols, ncols);
	return ctrl_pgrole_row(p, &U(p)->obs, cols, ncols);
}

static void
answered(struct cpass *p)
{
	if (p->engine == API_ENGINE_MYSQL ?
	    ctrl_myuser_answered(p, &U(p)->my) :
	    ctrl_pgrole_answered(p, &U(p)->obs))
		plan_stage(U(p));
}

static void
observe(struct urun *u)
{
	if (u->p.engine == API_ENGINE_MYSQL)
		ctrl_myuser_observe(&u->p, &u->my, u->p.name, false);
	else
		ctrl_pgrole_observe(&u->p, &u->obs);
}

/* ---- rotation ------------------------------------------------------------- */

/* When the password of rot last rotated at `last` is due (Unix seconds),
 * or -1 when never. */
static int64_t
rotation_due(const struct api_password_rotation *rot, int64_t last)
{
	int64_t due = -1, ns, next;
	struct cron cr;
	struct tz zone;
	char err[128];

	if (!rot->set || !rot->enabled || last <= 0)
		return -1;
	if (rot->max_age && *rot->max_age &&
	    duration_parse_days(rot->max_age, &ns, err, sizeof(err)) == 0)
		due = last + ns / 1000000000;
	if (rot->schedule && *rot->schedule &&
	    cron_parse(rot->schedule, &cr, err, sizeof(err)) == 0) {
		tz_utc(&zone);
		if (cr.tz[0] && tz_load(cr.tz, &zone, err, sizeof(err)) < 0)
			tz_utc(&zone);
		if (cron_next(&cr, &zone, last, &next) == 0 &&
		    (due < 0 || next < due))
			due = next;
		tz_release(&zone);
	}
	return due;
}

/* ---- the credentials Secret ------------------------------------------------ */

static void password_known(struct urun *u);

static char *
secret_source(const char *ns, const char *name, const char *rv)
{
	return xasprintf("%s/%s@%s", ns, name, rv ? rv : "");
}

static void
set_password(struct urun *u, const char *pw)
{
	if (u->password)
		free_secret(u->password);
	u->password = xstrdup(pw);
}

/* Writes the Secret JSON (a whole object for create, a merge patch
 * replacing data for an update) into w. old: the existing Secret's data
 * keys (to null the ones that go), or NULL. */
static void
secret_json(struct urun *u, const struct cobj *c, const struct api_map *data,
    const char *rv, yajl_val old_data, int64_t rotated_at, struct jw *w)
{
	const struct api_user *us = typed(c);
	const struct api_meta *md = cobj_meta(c);
	const struct api_secret_template *tp =
	    &us->spec.password_secret.secret_template;
	char when[TIMEFMT_TIME_LEN];
	size_t i;

	jw_obj_open(w);
	if (rv == NULL) {
		jw_kstr(w, "apiVersion", "v1");
		jw_kstr(w, "kind", "Secret");
		jw_kstr(w, "type", tp->set && tp->type && *tp->type ?
		    tp->type : "Opaque");
	}
	jw_key(w, "metadata");
	jw_obj_open(w);
	if (rv == NULL) {
		jw_kstr(w, "name", u->secret_name);
		jw_kstr(w, "namespace", md->ns);
		jw_key(w, "ownerReferences");
		jw_arr_open(w);
		jw_obj_open(w);
		jw_kstr(w, "apiVersion", API_GROUP_VERSION);
		jw_kstr(w, "kind", api_kind_name(API_USER));
		jw_kstr(w, "name", md->name);
		jw_kstr(w, "uid", md->uid);
		jw_kbool(w, "controller", true);
		jw_kbool(w, "blockOwnerDeletion", true);
		jw_obj_close(w);
		jw_arr_close(w);
	} else
		jw_kstr(w, "resourceVersion", rv);
	jw_key(w, "labels");
	jw_obj_open(w);
	if (tp->set)
		for (i = 0; i < tp->labels.n; i++)
			jw_kstr(w, tp->labels.v[i].key, tp->labels.v[i].val);
	jw_kstr(w, LABEL_MANAGED, MANAGER);
	jw_kstr(w, LABEL_USER, md->name);
	jw_obj_close(w);
	jw_key(w, "annotations");
	jw_obj_open(w);
	if (tp->set)
		for (i = 0; i < tp->annotations.n; i++)
			jw_kstr(w, tp->annotations.v[i].key,
			    tp->annotations.v[i].val);
	if (rotated_at > 0 && timefmt_time_d((double)rotated_at, when,
	    sizeof(when)) == 0)
		jw_kstr(w, ANN_ROTATED, when);
	jw_obj_close(w);
	jw_obj_close(w);
	jw_key(w, "data");
	jw_obj_open(w);
	for (i = 0; i < data->n; i++) {
		char *b = ksecret_b64encode(data->v[i].val,
		    strlen(data->v[i].val));

		jw_kstr(w, data->v[i].key, b);
		free_secret(b);
	}
	if (old_data && YAJL_IS_OBJECT(old_data))
		for (i = 0; i < json_len(old_data); i++)
			if (api_map_get(data, json_key_at(old_data, i)) ==
			    NULL)
				jw_kstr(w, json_key_at(old_data, i), NULL);
	jw_obj_close(w);
	jw_obj_close(w);
}

/* True when the Secret's data equals data (every value decoded). */
static bool
data_equal(yajl_val have, const struct api_map *data)
{
	size_t i, n;
	bool same = true;

	if (have == NULL || !YAJL_IS_OBJECT(have))
		return data->n == 0;
	if (json_len(have) != data->n)
		return false;
	for (i = 0; i < data->n && same; i++) {
		const char *b = json_str(json_get(have, data->v[i].key, NULL));
		char *v = b ? ksecret_b64decode(b, strlen(b), &n) : NULL;

		same = v != NULL && n == strlen(data->v[i].val) &&
		    memcmp(v, data->v[i].val, n) == 0;
		if (v)
			free_secret(v);
	}
	return same;
}

static bool
meta_equal(const struct api_meta *have, const struct api_secret_template *tp,
    int64_t rotated_at, int64_t have_rotated)
{
	size_t i;

	if (rotated_at > 0 && have_rotated != rotated_at)
		return false;
	if (!tp->set)
		return true;
	for (i = 0; i < tp->labels.n; i++)
		if (strcmp0(api_map_get(&have->labels, tp->labels.v[i].key),
		    tp->labels.v[i].val) != 0)
			return false;
	for (i = 0; i < tp->annotations.n; i++)
		if (strcmp0(api_map_get(&have->annotations,
		    tp->annotations.v[i].key), tp->annotations.v[i].val) != 0)
			return false;
	return true;
}

static void
secret_written(struct kreq *req, void *arg)
{
	struct urun *u = arg;
	char err[512];
	yajl_val doc;
	const char *rv;

	u->kreq = NULL;
	switch (kwrite_classify(req)) {
	case KW_OK:
		break;
	case KW_CONFLICT:
		/* Written meanwhile (by us in an earlier pass, or by hand):
		 * start over with what is there now. */
		cpass_end(&u->p, RRESULT_REQUEUE, 0.5);
		return;
	default:
		kwrite_error_text(req, err, sizeof(err));
		u->p.reason = "SecretWriteFailed";
		cpass_run_failed(&u->p, "write the credentials Secret", err);
		return;
	}
	doc = json_parse(buf_cstr(&req->body), req->body.len, err,
	    sizeof(err));
	rv = json_gets(doc, "metadata.resourceVersion");
	if (rv == NULL || *rv == '\0') {
		if (doc)
			json_free(doc);
		cpass_run_failed(&u->p, "write the credentials Secret",
		    "the answer has no resourceVersion");
		return;
	}
	if (u->source == NULL)
		u->source = secret_source(u->p.t->namespace, u->secret_name,
		    rv);
	json_free(doc);
	ksecret_forget(instances_secrets(u->p.cx->instances),
	    u->p.t->namespace, u->secret_name);
	log_info("credentials secret written", "namespace", u->p.t->namespace,
	    "name", u->p.t->name, "secret", u->secret_name);
	password_known(u);
}

/* The Secret as it is (have: the parsed object, NULL when absent): decide
 * the password (generated sources) and write what differs. */
static void
secret_reconcile(struct urun *u, yajl_val have)
{
	const struct cobj *c = ctrl_object(u->p.t);
	const struct api_user *us;
	const struct api_secret_template *tp;
	struct api_meta hm;
	struct api_errs errs;
	struct api_pc pc;
	struct api_map data;
	struct template_vars vars;
	struct password_policy pol;
	yajl_val have_data = NULL;
	char err[512], msg[CPASS_MSG_MAX], *json, *pw;
	const char *rv = NULL, *ann, *owner_uid = NULL;
	bool generating = u->password == NULL;
	int64_t have_rotated = 0, now = (int64_t)wall_now(), due;
	double when;
	const struct api_owner_ref *owner;
	struct kres kr = kres_secrets;
	struct jw w;
	size_t n;

	if (c == NULL) {
		cpass_end(&u->p, RRESULT_DONE, 0);
		return;
	}
	us = typed(c);
	tp = &us->spec.password_secret.secret_template;
	memset(&hm, 0, sizeof(hm));
	if (have) {
		api_errs_init(&errs);
		api_pc_init(&pc, &errs);
		api_pc_meta(&pc, have, &hm);
		api_errs_release(&errs);
		owner = api_meta_controller(&hm);
		owner_uid = owner ? owner->uid : NULL;
		if (strcmp0(api_map_get(&hm.labels, LABEL_MANAGED), MANAGER) ||
		    strcmp0(owner_uid, cobj_meta(c)->uid)) {
			api_meta_release(&hm);
			snprintf(msg, sizeof(msg), "Secret %s/%s exists and is "
			    "not managed by this DatabaseUser; delete or rename "
			    "it, or choose another "
			    "spec.passwordSecret.secretName", u->p.t->namespace,
			    u->secret_name);
			cpass_fail(&u->p, API_PHASE_FAILED, "SecretConflict", msg,
			    RRESULT_REQUEUE, 60);
			return;
		}
		rv = hm.resource_version;
		have_data = json_get(have, "data", NULL);
		if ((ann = api_map_get(&hm.annotations, ANN_ROTATED)) !=
		    NULL && timefmt_parse_d(ann, &when, err, sizeof(err)) == 0)
			have_rotated = (int64_t)when;
		if (generating) {
			const char *b = json_str(json_get(have_data,
			    "password", NULL));

			pw = b ? ksecret_b64decode(b, strlen(b), &n) : NULL;
			/* Unusable as a password (hand-edited): a new one
			 * is generated. */
			if (pw && n > 0 && text_check(pw, n) == TEXT_OK) {
				u->password = pw;
				u->rotated_at = have_rotated ? have_rotated :
				    hm.creation_timestamp;
			} else if (pw)
				free_secret(pw);
		}
	}
	if (generating && u->password) {
		due = rotation_due(&us->spec.password_rotation, u->rotated_at);
		if (due >= 0 && due <= now) {
			log_info("rotating password", "namespace",
			    u->p.t->namespace, "name", u->p.t->name);
			free_secret(u->password);
			u->password = NULL;
		} else if (due >= 0)
			u->next_rotation = (double)(due - now);
	}
	if (u->password == NULL) {
		password_policy_from_config(us->spec.password_secret.set ?
		    &us->spec.password_secret : NULL, &pol);
		if ((u->password = password_generate(&pol, err,
		    sizeof(err))) == NULL) {
			api_meta_release(&hm);
			cpass_fail(&u->p, API_PHASE_FAILED, "SpecNotApplicable",
			    err, RRESULT_DONE, 0);
			return;
		}
		u->generated = true;
		u->rotated_at = now;
		due = rotation_due(&us->spec.password_rotation, now);
		u->next_rotation = due >= 0 ? (double)(due - now) : -1;
	}
	if (u->rotated_at == 0)
		u->rotated_at = have_rotated;
	memset(&vars, 0, sizeof(vars));
	vars.username = us->spec.username;
	vars.password = u->password;
	vars.host = u->host;
	vars.port = u->port;
	vars.database = u->database;
	vars.sslmode = u->sslmode;
	vars.ns = cobj_meta(c)->ns;
	vars.name = cobj_meta(c)->name;
	memset(&data, 0, sizeof(data));
	if (template_secret_data(tp->set ? tp : NULL, &vars, &data, err,
	    sizeof(err)) < 0) {
		api_meta_release(&hm);
		cpass_fail(&u->p, API_PHASE_FAILED, "SpecNotApplicable", err,
		    RRESULT_DONE, 0);
		return;
	}
	if (have && data_equal(have_data, &data) &&
	    meta_equal(&hm, tp, u->rotated_at, have_rotated)) {
		if (u->source == NULL)
			u->source = secret_source(u->p.t->namespace,
			    u->secret_name, rv);
		template_data_release(&data);
		api_meta_release(&hm);
		password_known(u);
		return;
	}
	jw_init(&w);
	secret_json(u, c, &data, have ? rv : NULL, have_data, u->rotated_at,
	    &w);
	json = jw_finish(&w, NULL);
	template_data_release(&data);
	if (have)
		u->kreq = kobj_merge_patch(mgr_http(u->p.t->mgr), &kr,
		    u->p.t->namespace, u->secret_name, NULL, json,
		    secret_written, u);
	else
		u->kreq = kobj_create(mgr_http(u->p.t->mgr), &kr,
		    u->p.t->namespace, json, secret_written, u);
	free_secret(json);
	api_meta_release(&hm);
}

static void
secret_read(struct kreq *req, void *arg)
{
	struct urun *u = arg;
	char err[512];
	yajl_val doc;

	u->kreq = NULL;
	switch (kwrite_classify(req)) {
	case KW_OK:
		doc = json_parse(buf_cstr(&req->body), req->body.len, err,
		    sizeof(err));
		if (doc == NULL) {
			cpass_run_failed(&u->p, "read the credentials Secret",
			    err);
			return;
		}
		secret_reconcile(u, doc);
		json_free(doc);
		return;
	case KW_NOT_FOUND:
		secret_reconcile(u, NULL);
		return;
	default:
		kwrite_error_text(req, err, sizeof(err));
		cpass_run_failed(&u->p, "read the credentials Secret", err);
		return;
	}
}

static void
read_output_secret(struct urun *u)
{
	struct kres kr = kres_secrets;

	u->kreq = kobj_get(mgr_http(u->p.t->mgr), &kr, u->p.t->namespace,
	    u->secret_name, secret_read, u);
}

static void
existing_read(const struct ksecret *s, const struct ksecret_err *e, void *arg)
{
	struct urun *u = arg;
	const struct cobj *c = ctrl_object(u->p.t);
	const struct api_secret_key *ref;
	struct ksecret_err kerr;
	const char *pw;
	char msg[CPASS_MSG_MAX];
	size_t n;

	u->sreq = NULL;
	if (c == NULL) {
		cpass_end(&u->p, RRESULT_DONE, 0);
		return;
	}
	ref = &typed(c)->spec.existing_password_secret;
	if (e == NULL) {
		pw = ksecret_require_text(s, ref->key, &n, &kerr);
		e = pw ? NULL : &kerr;
	}
	if (e != NULL) {
		snprintf(msg, sizeof(msg), "spec.existingPasswordSecret: %s",
		    e->msg);
		cpass_fail(&u->p, API_PHASE_FAILED, ksecret_reason(e->code),
		    msg, RRESULT_FAILED, 0);
		return;
	}
	set_password(u, pw);
	u->source = secret_source(ksecret_namespace(s), ksecret_name(s),
	    ksecret_resource_version(s));
	if (u->secret_name)
		read_output_secret(u);
	else
		password_known(u);
}

/* ---- the pass -------------------------------------------------------------- */

static void
metric(struct cpass *p, enum metrics_op op, bool ok)
{
	metrics_user_operation(op, api_engine_names[p->engine], ok,
	    p->t->namespace);
}

static void
password_known(struct urun *u)
{
	observe(u);
}

static void own_secret_delete(struct urun *u, const char *name, bool strict,
    void (*next)(struct urun *u));

static void
end_recorded(struct urun *u)
{
	cpass_end_recorded(&u->p);
}

/* After the marker: the Secret of an earlier secretName goes. */
static void
drop_old_secret(struct cpass *p)
{
	struct urun *u = U(p);

	if (u->old_secret == NULL) {
		cpass_end_recorded(p);
		return;
	}
	log_info("deleting the credentials Secret of an earlier spec",
	    "namespace", p->t->namespace, "name", p->t->name, "secret",
	    u->old_secret);
	own_secret_delete(u, u->old_secret, false, end_recorded);
}

/* After the status: the annotation saying which Secret version the
 * server's password came from (when it changed). */
static void
after_status(struct cpass *p)
{
	struct urun *u = U(p);
	const struct cobj *c = ctrl_object(p->t);

	if (c != NULL && strcmp0(api_map_get(&cobj_meta(c)->annotations,
	    ANN_APPLIED), u->source))
		cpass_annotate(p, ANN_APPLIED, u->source, drop_old_secret);
	else
		drop_old_secret(p);
}

static void
success_status(struct urun *u)
{
	const struct cobj *c = ctrl_object(u->p.t);
	const struct api_meta *md;
	struct api_user_status st;
	int64_t now = (int64_t)wall_now();
	double delay = CPASS_RESYNC;

	if (c == NULL) {
		cpass_end(&u->p, RRESULT_DONE, 0);
		return;
	}
	md = cobj_meta(c);
	if (md->generation != u->p.generation) {
		cpass_end(&u->p, RRESULT_REQUEUE, 0);	/* the spec changed */
		return;
	}
	cpass_status_base(&u->p, &st, c);
	st.phase = API_PHASE_READY;
	st.message = (char *)"User is ready";
	st.user.set = true;
	st.user.username = u->p.name;
	if (u->p.created || st.user.created_at == 0)
		st.user.created_at = now;
	if (u->secret_name) {
		st.secret.set = true;
		st.secret.name = u->secret_name;
		st.secret.ns = md->ns;
		st.secret.last_rotated_at = u->rotated_at;
	} else
		memset(&st.secret, 0, sizeof(st.secret));
	cpass_ready(&u->p, c, &st, true);
	if (u->next_rotation >= 0 && u->next_rotation + 1 < delay)
		delay = u->next_rotation + 1;
	{
		const struct api_user_status *was = &typed(c)->status;

		/* A Secret of ours under another name (secretName changed,
		 * or the password now comes from existingPasswordSecret)
		 * holds a password the server no longer has. */
		if (was->secret.set && was->secret.name &&
		    *was->secret.name && (u->secret_name == NULL ||
		    !streq(was->secret.name, u->secret_name)) &&
		    (was->secret.ns == NULL ||
		    !*was->secret.ns || streq(was->secret.ns, md->ns)))
			u->old_secret = xstrdup(was->secret.name);
	}
	u->p.after_write = after_status;
	cpass_finish(&u->p, c, &st, RRESULT_REQUEUE, delay);
	api_conditions_release(&st.conditions);
}

static void finish_deletion(struct urun *u);

static void
executed(struct cpass *p)
{
	struct urun *u = U(p);

	if (p->deleting) {
		metric(p, METRICS_OP_DELETE, true);
		finish_deletion(u);
		return;
	}
	metric(p, p->exists ? METRICS_OP_UPDATE : METRICS_OP_CREATE, true);
	if (u->set_password && p->exists && ctrl_object(p->t)) {
		char msg[CPASS_MSG_MAX], *at = strrchr(u->source, '@');

		snprintf(msg, sizeof(msg), "password set from Secret %.*s",
		    (int)(at ? at - u->source : (ptrdiff_t)strlen(u->source)),
		    u->source);
		ctrl_emit(p->cx, ctrl_object(p->t), EVENT_NORMAL,
		    "PasswordSet", msg);
	}
	p->created = !p->exists;
	p->executed = true;
	sqlplan_clear(&p->plan);
	observe(u);
}

static void
deletion_plan(struct urun *u)
{
	struct cpass *p = &u->p;
	char err[512];

	if (p->engine == API_ENGINE_MYSQL) {
		if (u->my.obs.n == 0) {
			finish_deletion(u);
			return;
		}
		if (mysqlplan_user_drop(p->name, &u->my.obs, &p->plan, err,
		    sizeof(err)) < 0) {
			cpass_run_failed(p, "plan", err);
			return;
		}
		cpass_run_plan(p);
		return;
	}
	if (!u->obs.exists) {
		finish_deletion(u);
		return;
	}
	if (pgplan_role_drop(p->name, &u->obs, &p->plan, err,
	    sizeof(err)) < 0) {
		cpass_run_failed(p, "plan", err);
		return;
	}
	cpass_run_plan(p);
}

/* plan_stage() for engine mysql: every allowed host is an account; the
 * password is set (hashed here for mysql_native_password) under the same
 * rule as for PostgreSQL, and whenever an account must be created. */
static void
my_plan(struct urun *u, const struct cobj *c)
{
	struct cpass *p = &u->p;
	const struct api_user *us = typed(c);
	char err[512], msg[CPASS_MSG_MAX];

	p->exists = u->my.obs.n > 0;
	u->set_password = u->my.obs.n == 0 || u->generated ||
	    strcmp0(api_map_get(&cobj_meta(c)->annotations, ANN_APPLIED),
	    u->source) || mysqlplan_user_needs_password(&us->spec,
	    &u->my.obs);
	if (mysqlplan_user(&us->spec, u->set_password ? u->password : NULL,
	    &u->my.obs, &p->plan, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "cannot apply the spec: %s", err);
		cpass_fail(p, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return;
	}
	if (!cpass_apply(p, c, "Creating user"))
		success_status(u);
}

static void
plan_stage(struct urun *u)
{
	struct cpass *p = &u->p;
	const struct cobj *c = ctrl_object(p->t);
	const struct api_meta *md;
	char err[512], msg[CPASS_MSG_MAX], *verifier = NULL;
	int rc;

	if (c == NULL) {
		cpass_end(p, RRESULT_DONE, 0);
		return;
	}
	if (p->deleting) {
		deletion_plan(u);
		return;
	}
	if (p->executed) {
		success_status(u);
		return;
	}
	md = cobj_meta(c);
	if (p->engine == API_ENGINE_MYSQL) {
		my_plan(u, c);
		return;
	}
	p->exists = u->obs.exists;
	u->set_password = !u->obs.exists || u->generated ||
	    strcmp0(api_map_get(&md->annotations, ANN_APPLIED), u->source);
	if (u->set_password) {
		if (p->pc == NULL) {
			cpass_run_failed(p, "password", "no connection");
			return;
		}
		verifier = pgconn_encrypt_password(pool_conn_get(p->pc),
		    p->name, u->password, err, sizeof(err));
		if (verifier == NULL) {
			cpass_run_failed(p, "password", err);
			return;
		}
	}
	rc = pgplan_user(&typed(c)->spec, verifier, &u->obs, &p->plan, err,
	    sizeof(err));
	if (verifier)
		free_secret(verifier);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "cannot apply the spec: %s", err);
		cpass_fail(p, API_PHASE_FAILED, "SpecNotApplicable", msg,
		    RRESULT_DONE, 0);
		return;
	}
	if (!cpass_apply(p, c, "Creating user"))
		success_status(u);
}

static void
release(struct cpass *p)
{
	struct urun *u = U(p);

	if (u->sreq)
		ksecret_cancel(u->sreq);
	if (u->kreq)
		kreq_cancel(u->kreq);
	pg_obs_role_release(&u->obs);
	ctrl_myuser_release(&u->my);
	if (u->password)
		free_secret(u->password);
	free(u->source);
	free(u->secret_name);
	free(u->old_secret);
	free(u->del_name);
	free(u->host);
	free(u->database);
	free(u->sslmode);
}

static void
status_write(struct jw *w, const void *st)
{
	api_user_status_write(w, st);
}

static const struct cpass_kind user_kind = {
	.kind = API_USER,
	.noun = "user",
	CPASS_STATUS_LAYOUT(struct api_user, status),
	.status_write = status_write,
	.row = row,
	.answered = answered,
	.executed = executed,
	.release = release,
	.metric = metric,
	.engines = CTRL_ENGINE(API_ENGINE_POSTGRES) |
	    CTRL_ENGINE(API_ENGINE_MYSQL),
};

static struct urun *
urun_new(struct rtask *t, const struct cobj *c, bool deleting)
{
	const struct api_user *us = typed(c);
	struct urun *u = cpass_new(t, &user_kind, sizeof(*u), c,
	    &us->spec.instance, us->spec.username);

	u->p.deleting = deleting;
	u->next_rotation = -1;
	pg_obs_role_init(&u->obs);
	ctrl_myuser_init(&u->my);
	if (us->spec.password_secret.set)
		u->secret_name = xstrdup(us->spec.password_secret.secret_name &&
		    *us->spec.password_secret.secret_name ?
		    us->spec.password_secret.secret_name : "");
	if ((u->secret_name == NULL || *u->secret_name == '\0') &&
	    (us->spec.password_secret.set ||
	    !us->spec.existing_password_secret.set)) {
		free(u->secret_name);
		u->secret_name = xasprintf("%s-credentials",
		    cobj_meta(c)->name);
	}
	return u;
}

static void
instance_facts(struct urun *u, const struct api_instance *in)
{
	const struct api_instance_spec *sp = &in->spec;
	enum pgconn_sslmode mode;
	const char *pgmode = NULL;

	u->host = xstrdup(sp->connection.host ? sp->connection.host : "");
	u->port = sp->connection.port;
	u->database = xstrdup(sp->connection.database ?
	    sp->connection.database : "postgres");
	if (sp->engine == API_ENGINE_MYSQL) {
		enum myconn_tls tm;

		u->sslmode = xstrdup(myconn_tls_pick(sp->tls.enabled,
		    (unsigned)sp->tls.mode < API_TLS__COUNT ?
		    api_tls_mode_names[sp->tls.mode] : NULL, &tm) == 0 ?
		    myconn_tls_name(tm) : "");
		return;
	}
	if (sp->postgres.set && (unsigned)sp->postgres.ssl_mode <
	    API_PG_SSL__COUNT)
		pgmode = api_pg_sslmode_names[sp->postgres.ssl_mode];
	u->sslmode = xstrdup(pgconn_sslmode_pick(pgmode, sp->tls.enabled,
	    (unsigned)sp->tls.mode < API_TLS__COUNT ?
	    api_tls_mode_names[sp->tls.mode] : NULL, &mode) == 0 ?
	    pgconn_sslmode_name(mode) : "");
}

/* ---- deleting a credentials Secret of ours ------------------------------------- */

static void
del_done(struct urun *u, const char *what, struct kreq *req)
{
	void (*next)(struct urun *) = u->del_next;
	char err[512];

	if (req != NULL) {
		kwrite_error_text(req, err, sizeof(err));
		if (u->del_strict) {
			cpass_run_failed(&u->p, what, err);
			return;
		}
		log_warn("cannot delete an old credentials Secret", "namespace",
		    u->p.t->namespace, "name", u->p.t->name, "secret",
		    u->del_name, "error", err);
	}
	next(u);
}

static void
secret_deleted(struct kreq *req, void *arg)
{
	struct urun *u = arg;
	enum kwrite_outcome o = kwrite_classify(req);

	u->kreq = NULL;
	del_done(u, "delete the credentials Secret", o != KW_OK &&
	    o != KW_NOT_FOUND && o != KW_CONFLICT ? req : NULL);
}

static void
del_secret_read(struct kreq *req, void *arg)
{
	struct urun *u = arg;
	const struct cobj *c = ctrl_object(u->p.t);
	const struct api_owner_ref *owner;
	enum kwrite_outcome o = kwrite_classify(req);
	struct kres kr = kres_secrets;
	struct api_errs errs;
	struct api_pc pc;
	struct api_meta hm;
	char err[512];
	yajl_val doc;

	u->kreq = NULL;
	if (o == KW_NOT_FOUND || c == NULL) {
		del_done(u, NULL, NULL);
		return;
	}
	if (o != KW_OK) {
		del_done(u, "read the credentials Secret", req);
		return;
	}
	doc = json_parse(buf_cstr(&req->body), req->body.len, err,
	    sizeof(err));
	memset(&hm, 0, sizeof(hm));
	api_errs_init(&errs);
	api_pc_init(&pc, &errs);
	if (doc != NULL)
		api_pc_meta(&pc, doc, &hm);
	api_errs_release(&errs);
	if (doc)
		json_free(doc);
	owner = api_meta_controller(&hm);
	if (hm.uid == NULL || owner == NULL ||
	    strcmp0(owner->uid, cobj_meta(c)->uid) ||
	    strcmp0(api_map_get(&hm.labels, LABEL_MANAGED), MANAGER)) {
		/* Not ours: left alone. */
		api_meta_release(&hm);
		del_done(u, NULL, NULL);
		return;
	}
	u->kreq = kobj_delete(mgr_http(u->p.t->mgr), &kr, u->p.t->namespace,
	    u->del_name, hm.uid, NULL, secret_deleted, u);
	api_meta_release(&hm);
}

/* Deletes the Secret name of the user's namespace when it is ours (our
 * label and the DatabaseUser as controller owner; with a uid
 * precondition), then runs next. strict: a failure fails the pass (a
 * deletion); otherwise it is logged and next runs all the same. */
static void
own_secret_delete(struct urun *u, const char *name, bool strict,
    void (*next)(struct urun *u))
{
	struct kres kr = kres_secrets;

	free(u->del_name);
	u->del_name = xstrdup(name);
	u->del_strict = strict;
	u->del_next = next;
	u->kreq = kobj_get(mgr_http(u->p.t->mgr), &kr, u->p.t->namespace,
	    name, del_secret_read, u);
}

static void
remove_finalizer(struct urun *u)
{
	cpass_remove_finalizer(&u->p);
}

/* The role is gone: the credentials Secret goes too (when it is ours),
 * then the finalizer. */
static void
finish_deletion(struct urun *u)
{
	if (u->secret_name == NULL) {
		cpass_remove_finalizer(&u->p);
		return;
	}
	own_secret_delete(u, u->secret_name, true, remove_finalizer);
}

static void
start(struct rtask *t, const struct cobj *c, bool deleting)
{
	const struct api_user *us = typed(c);
	const struct api_secret_key *ex = &us->spec.existing_password_secret;
	const struct api_instance *in;
	struct urun *u = urun_new(t, c, deleting);

	in = cpass_resolve(&u->p, c, &us->spec.instance,
	    us->spec.postgres.set, us->spec.mysql.set);
	if (in == NULL)
		return;
	instance_facts(u, in);
	if (deleting) {
		observe(u);
		return;
	}
	if (ex->set)
		u->sreq = ksecret_get(instances_secrets(u->p.cx->instances),
		    ex->ns && *ex->ns ? ex->ns : cobj_meta(c)->ns, ex->name,
		    existing_read, u);
	else
		read_output_secret(u);
}

static void
deletion(struct rtask *t, const struct cobj *c)
{
	const struct api_user *us = typed(c);
	const struct api_meta *md = cobj_meta(c);

	if (!api_meta_has_finalizer(md, api_kind_finalizer(API_USER))) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	if (c->errors || us->spec.instance.name == NULL ||
	    us->spec.username == NULL) {
		cpass_fail(&urun_new(t, c, true)->p, API_PHASE_FAILED,
		    "DeletionFailed",
		    "cannot drop the user: the spec is invalid; fix it",
		    RRESULT_DONE, 0);
		return;
	}
	start(t, c, true);
}

static void
user_reconcile(struct rtask *t)
{
	const struct cobj *c = ctrl_preamble(t, API_USER, NULL, deletion);

	if (c != NULL)
		start(t, c, false);
}

static void
user_abort(struct rtask *t)
{
	cpass_abort(t);
}

const struct ctrl_entry ctrl_user_entry = {
	API_USER, user_reconcile, user_abort,
};
