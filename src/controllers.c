/*
 * controllers.c - one controller per kind.
 *
 * Every kind is cached as its typed C structure (parsed once per watch
 * event by the api_* parsers, which also validate). The reconcile shared
 * by all kinds here is the admission step that every later stage builds
 * on: a spec that does not validate gets Ready=False with reason
 * InvalidSpec and a message naming each offending field, plus a Warning
 * event; when the spec is fixed, that condition is withdrawn. Status is
 * written only when it changes (a merge patch on /status with the
 * resourceVersion as a precondition), so a second pass writes nothing.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "api_backup.h"
#include "api_database.h"
#include "api_grant.h"
#include "api_instance.h"
#include "api_restore.h"
#include "api_role.h"
#include "api_schedule.h"
#include "api_user.h"
#include "controllers.h"
#include "ctrl.h"
#include "instances.h"
#include "informer.h"
#include "events.h"
#include "json.h"
#include "khttp.h"
#include "kwrite.h"
#include "log.h"
#include "mgr.h"

#define REASON_INVALID	"InvalidSpec"
#define REASON_ACCEPTED	"SpecAccepted"
#define COND_READY	"Ready"
#define MAX_MESSAGE	2048

#define KIND_OPS(K, T)							\
	static int parse_##T(yajl_val o, void *out, struct api_errs *e)	\
	{ return api_##T##_parse(o, out, e); }				\
	static void release_##T(void *p)				\
	{ api_##T##_release(p); }					\
	static const struct kind_ops ops_##T = { K, sizeof(struct api_##T), \
		parse_##T, release_##T,					\
		offsetof(struct api_##T, status.conditions) }

KIND_OPS(API_INSTANCE, instance);
KIND_OPS(API_DATABASE, database);
KIND_OPS(API_USER, user);
KIND_OPS(API_ROLE, role);
KIND_OPS(API_GRANT, grant);
KIND_OPS(API_BACKUP, backup);
KIND_OPS(API_RESTORE, restore);
KIND_OPS(API_SCHEDULE, schedule);

static const struct kind_ops *const all_kinds[API_KIND__COUNT] = {
	&ops_instance, &ops_database, &ops_user, &ops_role, &ops_grant,
	&ops_backup, &ops_restore, &ops_schedule,
};

static struct api_conditions *
cobj_conditions(const struct cobj *c)
{
	return (struct api_conditions *)(void *)((char *)c->typed +
	    c->ops->conditions_off);
}

static void *
c_decode(yajl_val obj, void *arg)
{
	struct cctx *cx = arg;
	struct cobj *c = xcalloc(1, sizeof(*c));
	struct api_errs errs;

	c->ops = cx->ops;
	c->typed = xcalloc(1, c->ops->size);
	api_errs_init(&errs);
	if (c->ops->parse(obj, c->typed, &errs) < 0)
		c->errors = api_errs_join(&errs, MAX_MESSAGE);
	api_errs_release(&errs);
	return c;
}

static void
c_release(void *data, void *arg)
{
	struct cobj *c = data;

	(void)arg;
	c->ops->release(c->typed);
	free(c->typed);
	free(c->errors);
	free(c);
}

/* ---- status ------------------------------------------------------------ */

struct status_write {
	struct rtask *task;
	char *summary;
};

void
ctrl_own_write(struct rtask *t, struct kreq *r)
{
	yajl_val doc = json_parse(buf_cstr(&r->body), r->body.len, NULL, 0);

	rtask_wrote(t, json_gets(doc, "metadata.resourceVersion"));
	if (doc)
		json_free(doc);
}

static void
status_done(struct kreq *r, void *arg)
{
	struct status_write *sw = arg;
	struct rtask *t = sw->task;
	char err[512];

	switch (kwrite_classify(r)) {
	case KW_OK:
		ctrl_own_write(t, r);
		log_info("status updated", "controller", t->def->name,
		    "namespace", t->namespace, "name", t->name, "status",
		    sw->summary);
		rtask_done(t, RRESULT_DONE, 0);
		break;
	case KW_NOT_FOUND:
		rtask_done(t, RRESULT_DONE, 0);
		break;
	case KW_CONFLICT:
		/* Someone wrote in between: the watch brings the new version
		 * and the key comes back; retry soon in any case. */
		rtask_done(t, RRESULT_REQUEUE, 0.5);
		break;
	default:
		kwrite_error_text(r, err, sizeof(err));
		log_warn("status update failed", "controller", t->def->name,
		    "namespace", t->namespace, "name", t->name, "error", err);
		rtask_done(t, RRESULT_FAILED, 0);
		break;
	}
	free(sw->summary);
	free(sw);
}

static void
write_status(struct rtask *t, const struct cobj *c,
    const struct api_conditions *conds, const char *summary)
{
	const struct api_meta *md = cobj_meta(c);
	struct status_write *sw;
	struct kres res;
	struct jw w;
	char *patch;

	jw_init(&w);
	jw_obj_open(&w);
	jw_key(&w, "metadata");
	jw_obj_open(&w);
	jw_kstr(&w, "resourceVersion", md->resource_version);
	jw_obj_close(&w);
	jw_key(&w, "status");
	jw_obj_open(&w);
	jw_kint(&w, "observedGeneration", md->generation);
	api_conditions_write(&w, conds);
	jw_obj_close(&w);
	jw_obj_close(&w);
	patch = jw_finish(&w, NULL);

	memset(&res, 0, sizeof(res));
	res.group_path = t->def->group_path;
	res.resource = t->def->resource;
	res.namespaced = true;
	sw = xcalloc(1, sizeof(*sw));
	sw->task = t;
	sw->summary = xstrdup(summary);
	kobj_merge_patch(mgr_http(t->mgr), &res, t->namespace, t->name,
	    "status", patch, status_done, sw);
	free(patch);
}

/* A copy of the conditions we can change. */
void
ctrl_conditions_copy(struct api_conditions *dst, const struct api_conditions *src)
{
	size_t i;

	dst->n = src->n;
	dst->v = xcalloc(src->n ? src->n : 1, sizeof(*dst->v));
	for (i = 0; i < src->n; i++) {
		dst->v[i] = src->v[i];
		dst->v[i].type = xstrdup(src->v[i].type);
		dst->v[i].reason = xstrdup(src->v[i].reason);
		dst->v[i].message = xstrdup(src->v[i].message);
	}
}

void
ctrl_emit(struct cctx *cx, const struct cobj *c, enum event_type type,
    const char *reason, const char *msg)
{
	const struct api_meta *md = cobj_meta(c);
	struct event_ref ref;

	if (cx->events == NULL)
		return;
	ref.api_version = API_GROUP_VERSION;
	ref.kind = api_kind_name(c->ops->kind);
	ref.namespace = md->ns;
	ref.name = md->name;
	ref.uid = md->uid;
	ref.resource_version = md->resource_version;
	events_emit(cx->events, &ref, type, reason, "%s", msg);
}

void
ctrl_validate(struct rtask *t)
{
	struct cctx *cx = t->def->arg;
	const struct cobj *c;
	const struct api_meta *md;
	const struct api_condition *ready;
	struct api_conditions conds;
	bool changed = false;
	time_t now = time(NULL);

	if (t->obj == NULL || t->obj->data == NULL) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	c = t->obj->data;
	md = cobj_meta(c);
	if (md->skip_reconcile) {
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	ready = api_conditions_get(cobj_conditions(c), COND_READY);
	ctrl_conditions_copy(&conds, cobj_conditions(c));
	if (c->errors) {
		changed = api_conditions_set(&conds, COND_READY, API_COND_FALSE,
		    REASON_INVALID, c->errors, md->generation, now);
		if (changed)
			ctrl_emit(cx, c, EVENT_WARNING, REASON_INVALID, c->errors);
	} else if (ready && streq(ready->reason, REASON_INVALID)) {
		/* The spec was fixed: withdraw our verdict. */
		changed = api_conditions_set(&conds, COND_READY, API_COND_UNKNOWN,
		    REASON_ACCEPTED, "the spec is valid", md->generation, now);
		if (changed)
			ctrl_emit(cx, c, EVENT_NORMAL, REASON_ACCEPTED, "the spec is valid");
	}
	if (!changed) {
		api_conditions_release(&conds);
		rtask_done(t, RRESULT_DONE, 0);
		return;
	}
	write_status(t, c, &conds, c->errors ? REASON_INVALID : REASON_ACCEPTED);
	api_conditions_release(&conds);
}

/*
 * The registry: one entry per kind with a controller of its own (whose
 * reconcile validates first too); the other kinds only validate for now.
 * Adding a controller is its ctrl_<kind>.c, one row here and its line in
 * mk/ctl.am.
 */
static const struct ctrl_entry *const entries[] = {
	&ctrl_instance_entry,
	&ctrl_database_entry,
	&ctrl_user_entry,
	&ctrl_role_entry,
	&ctrl_grant_entry,
	&ctrl_backup_entry,
};

static const struct ctrl_entry *
entry_of(enum api_kind kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(entries); i++)
		if (entries[i]->kind == kind)
			return entries[i];
	return NULL;
}

static void
c_reconcile(struct rtask *t)
{
	struct cctx *cx = t->def->arg;
	const struct ctrl_entry *e = entry_of(cx->ops->kind);

	if (e != NULL)
		e->reconcile(t);
	else
		ctrl_validate(t);
}

static void
c_abort(struct rtask *t)
{
	struct cctx *cx = t->def->arg;
	const struct ctrl_entry *e = entry_of(cx->ops->kind);

	/* Validation ends with its status write, which is short. */
	if (e != NULL && e->abort != NULL)
		e->abort(t);
}

void
ctrl_finalizer_written(struct rtask *t, enum kwrite_outcome o, const char *err,
    void *arg)
{
	(void)arg;
	switch (o) {
	case KW_OK:
	case KW_NOT_FOUND:
		rtask_done(t, RRESULT_DONE, 0);
		break;
	case KW_CONFLICT:
		rtask_done(t, RRESULT_REQUEUE, 0.5);
		break;
	default:
		log_warn("cannot change finalizer", "controller", t->def->name,
		    "namespace", t->namespace, "name", t->name, "error", err);
		rtask_done(t, RRESULT_FAILED, 0);
		break;
	}
}

#define RETRY_NOTFOUND	30.0
#define RETRY_NOTREADY	10.0

const struct api_instance *
ctrl_resolve_instance(struct rtask *t, enum api_kind kind,
    const struct api_ref *ref, const char *own_ns, bool deleting,
    unsigned engines, struct ctrl_refusal *why, char *msg, size_t msglen)
{
	const char *ns = ref->ns && *ref->ns ? ref->ns : own_ns;
	const char *name = ref->name ? ref->name : "";
	struct informer *inf = mgr_informer(t->mgr,
	    api_kind_info(API_INSTANCE)->singular);
	const struct kobj *o;
	const struct cobj *ic;
	const struct api_instance *in;

	why->phase = API_PHASE_FAILED;
	why->res = RRESULT_DONE;
	why->delay = 0;
	if (!streq(ns, own_ns)) {
		why->reason = "CrossNamespaceRefused";
		snprintf(msg, msglen, "spec.instanceRef: DatabaseInstance "
		    "%s/%s is in another namespace; only instances of the "
		    "%s's own namespace may be used", ns, name,
		    api_kind_info(kind)->kind);
		return NULL;
	}
	o = inf ? informer_get(inf, ns, name) : NULL;
	ic = o ? o->data : NULL;
	if (ic == NULL || ic->errors) {
		why->reason = "InstanceNotFound";
		why->res = RRESULT_REQUEUE;
		why->delay = RETRY_NOTFOUND;
		snprintf(msg, msglen, "DatabaseInstance not found: "
		    "spec.instanceRef: %s/%s %s", ns, name,
		    ic ? "has an invalid spec" : "does not exist");
		return NULL;
	}
	in = ic->typed;
	if ((unsigned)in->spec.engine >= 32 ||
	    !(engines & CTRL_ENGINE(in->spec.engine))) {
		why->reason = "UnsupportedEngine";
		snprintf(msg, msglen, "DatabaseInstance %s/%s: engine %s "
		    "is not supported for a %s yet", ns, name,
		    api_engine_names[in->spec.engine] ?
		    api_engine_names[in->spec.engine] : "",
		    api_kind_info(kind)->kind);
		return NULL;
	}
	if (!deleting && in->status.phase != API_PHASE_READY) {
		why->phase = API_PHASE_PENDING;
		why->reason = "InstanceNotReady";
		why->res = RRESULT_REQUEUE;
		why->delay = RETRY_NOTREADY;
		snprintf(msg, msglen, "Waiting for DatabaseInstance %s/%s "
		    "to be ready", ns, name);
		return NULL;
	}
	return in;
}

const struct cobj *
ctrl_preamble(struct rtask *t, enum api_kind kind,
    void (*gone)(struct rtask *t),
    void (*deletion)(struct rtask *t, const struct cobj *c))
{
	const struct cobj *c = t->obj ? t->obj->data : NULL;
	const struct api_meta *md;

	if (c == NULL) {
		if (gone)
			gone(t);
		rtask_done(t, RRESULT_DONE, 0);
		return NULL;
	}
	md = cobj_meta(c);
	if (md->deleting) {
		deletion(t, c);
		return NULL;
	}
	if (md->skip_reconcile) {
		rtask_done(t, RRESULT_DONE, 0);
		return NULL;
	}
	if (c->errors) {
		ctrl_validate(t);
		return NULL;
	}
	if (!api_meta_has_finalizer(md, api_kind_finalizer(kind))) {
		ctrl_finalizer(t, c, true, ctrl_finalizer_written, NULL);
		return NULL;
	}
	return c;
}

const struct cobj *
ctrl_object(struct rtask *t)
{
	const struct kobj *o = rtask_object(t);

	return o ? o->data : NULL;
}

/* ---- finalizers ----------------------------------------------------------- */

struct fin_write {
	struct rtask *task;
	ctrl_write_fn done;
	void *arg;
};

static void
fin_done(struct kreq *r, void *arg)
{
	struct fin_write *fw = arg;
	enum kwrite_outcome o = kwrite_classify(r);
	char err[512];

	err[0] = '\0';
	if (o != KW_OK)
		kwrite_error_text(r, err, sizeof(err));
	fw->done(fw->task, o, err, fw->arg);
	free(fw);
}

void
ctrl_finalizer(struct rtask *t, const struct cobj *c, bool add,
    ctrl_write_fn done, void *arg)
{
	const struct api_meta *md = cobj_meta(c);
	const char *fin = api_kind_finalizer(c->ops->kind);
	struct fin_write *fw;
	struct kres res;
	char *patch;

	if (add)
		patch = kwrite_finalizer_add_patch(
		    (const char *const *)md->finalizers.v, md->finalizers.n,
		    md->resource_version, fin);
	else
		patch = kwrite_finalizer_remove_patch(
		    (const char *const *)md->finalizers.v, md->finalizers.n, fin);
	if (patch == NULL) {
		done(t, KW_OK, "", arg);
		return;
	}
	memset(&res, 0, sizeof(res));
	res.group_path = t->def->group_path;
	res.resource = t->def->resource;
	res.namespaced = true;
	fw = xcalloc(1, sizeof(*fw));
	fw->task = t;
	fw->done = done;
	fw->arg = arg;
	log_info(add ? "adding finalizer" : "removing finalizer", "controller",
	    t->def->name, "namespace", t->namespace, "name", t->name,
	    "finalizer", fin);
	kobj_json_patch(mgr_http(t->mgr), &res, t->namespace, t->name, NULL,
	    patch, fin_done, fw);
	free(patch);
}

/* ---- the registry's view of the cache -------------------------------------- */

static const struct api_instance *
instance_lookup(void *arg, const char *ns, const char *name, bool *notfound,
    char *why, size_t whylen)
{
	struct mgr *m = arg;
	struct informer *inf = mgr_informer(m,
	    api_kind_info(API_INSTANCE)->singular);
	const struct kobj *o = inf ? informer_get(inf, ns, name) : NULL;
	const struct cobj *c = o ? o->data : NULL;

	if (c == NULL) {
		*notfound = true;
		snprintf(why, whylen, "not found");
		return NULL;
	}
	if (c->errors) {
		snprintf(why, whylen, "%s", c->errors);
		return NULL;
	}
	return c->typed;
}

static void
cctx_free(void *arg)
{
	struct cctx *cx = arg;

	if (cx->owns_instances)
		instances_free(cx->instances);
	free(cx);
}

static const size_t phase_offsets[API_KIND__COUNT] = {
	[API_INSTANCE] = offsetof(struct api_instance, status.phase),
	[API_DATABASE] = offsetof(struct api_database, status.phase),
	[API_USER] = offsetof(struct api_user, status.phase),
	[API_ROLE] = offsetof(struct api_role, status.phase),
	[API_GRANT] = offsetof(struct api_grant, status.phase),
	[API_BACKUP] = offsetof(struct api_backup, status.phase),
	[API_RESTORE] = offsetof(struct api_restore, status.phase),
	[API_SCHEDULE] = offsetof(struct api_schedule, status.phase),
};

enum api_phase
ctrl_phase(const struct cobj *c)
{
	enum api_phase ph;

	if (c == NULL || c->typed == NULL)
		return API_PHASE_NONE;
	memcpy(&ph, (const char *)c->typed + phase_offsets[c->ops->kind],
	    sizeof(ph));
	return (unsigned)ph < API_PHASE__COUNT ? ph : API_PHASE_NONE;
}

static enum api_phase
kobj_phase(const struct kobj *o)
{
	return o ? ctrl_phase(o->data) : API_PHASE_NONE;
}

bool
ctrl_refers_to(const struct kobj *o, size_t ref_off, const char *ns,
    const char *name)
{
	const struct cobj *c = o->data;
	const struct api_ref *ref;

	if (c == NULL || c->typed == NULL)
		return false;
	ref = (const struct api_ref *)(const void *)((const char *)c->typed +
	    ref_off);
	return ref->name != NULL && streq(ref->name, name) &&
	    streq(ref->ns && *ref->ns ? ref->ns : o->namespace, ns);
}

/* ---- references between objects ----------------------------------------- */

/* Which kinds name an object of another kind, and where. */
static const struct {
	enum api_kind from;		/* the kind referred to */
	enum api_kind to;		/* the kind holding the reference */
	size_t ref_off;			/* to's struct api_ref */
} references[] = {
	{ API_INSTANCE, API_DATABASE, offsetof(struct api_database, spec.instance) },
	{ API_INSTANCE, API_USER, offsetof(struct api_user, spec.instance) },
	{ API_INSTANCE, API_ROLE, offsetof(struct api_role, spec.instance) },
	{ API_USER, API_GRANT, offsetof(struct api_grant, spec.user) },
	{ API_DATABASE, API_GRANT, offsetof(struct api_grant, spec.database) },
};

struct ref_scan {
	enum api_kind to;
	size_t ref_off;
	const char *ns, *name;
	void (*fn)(enum api_kind kind, const struct kobj *o, void *arg);
	void *arg;
};

static void
ref_one(const struct kobj *o, void *arg)
{
	struct ref_scan *s = arg;

	if (ctrl_refers_to(o, s->ref_off, s->ns, s->name))
		s->fn(s->to, o, s->arg);
}

void
ctrl_referrers(struct mgr *m, enum api_kind kind, const char *ns,
    const char *name, void (*fn)(enum api_kind kind, const struct kobj *o,
    void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(references); i++) {
		struct ref_scan s = { references[i].to, references[i].ref_off,
		    ns, name, fn, arg };
		struct informer *inf;

		if (references[i].from != kind)
			continue;
		inf = mgr_informer(m, api_kind_info(s.to)->singular);
		if (inf != NULL)
			informer_foreach(inf, ref_one, &s);
	}
}

/*
 * An object that waits for another to be Ready (a Database for its
 * instance, a grant for its user) is queued again when that one becomes
 * Ready, instead of at its next retry: a whole stack applied at once
 * converges as fast as the server allows.
 */
struct wake {
	struct mgr *mgr;
	size_t woken;
};

static void
wake_one(enum api_kind kind, const struct kobj *o, void *arg)
{
	struct wake *w = arg;
	const struct cobj *c = o->data;

	if (c == NULL || c->errors || ctrl_phase(c) == API_PHASE_READY)
		return;
	mgr_enqueue(w->mgr, api_kind_info(kind)->singular, o->namespace,
	    o->name);
	w->woken++;
}

static void
c_changed(const struct kobj *old, const struct kobj *o, void *arg)
{
	struct cctx *cx = arg;
	struct wake w = { cx->mgr, 0 };

	if (kobj_phase(o) != API_PHASE_READY ||
	    kobj_phase(old) == API_PHASE_READY)
		return;
	ctrl_referrers(cx->mgr, cx->ops->kind, o->namespace, o->name, wake_one,
	    &w);
	if (w.woken)
		log_debug("woke the objects waiting for this one",
		    "controller", api_kind_info(cx->ops->kind)->singular,
		    "namespace", o->namespace, "name", o->name);
}

void
controllers_register(struct mgr *m, struct events *ev, unsigned max_conns)
{
	struct instances *reg;
	char err[256];
	size_t i;

	reg = instances_new(mgr_loop(m), mgr_http(m), instance_lookup, m,
	    max_conns, err, sizeof(err));
	if (reg == NULL)
		log_error("cannot set up the database connection registry",
		    "error", err);
	for (i = 0; i < API_KIND__COUNT; i++) {
		struct cctx *cx = xcalloc(1, sizeof(*cx));
		const struct api_kind_info *ki = api_kind_info(all_kinds[i]->kind);
		struct ctrl_def def;

		cx->ops = all_kinds[i];
		cx->events = ev;
		cx->mgr = m;
		cx->instances = reg;
		cx->owns_instances = all_kinds[i]->kind == API_INSTANCE;
		memset(&def, 0, sizeof(def));
		def.name = ki->singular;
		def.group_path = "/apis/" API_GROUP_VERSION;
		def.resource = ki->plural;
		def.decode = c_decode;
		def.release = c_release;
		def.reconcile = c_reconcile;
		def.abort = c_abort;
		def.changed = c_changed;
		def.arg = cx;
		def.free_arg = cctx_free;
		mgr_register(m, &def);
	}
}

/* ---- counting the caches (metrics) ---------------------------------------- */

struct count_ctx {
	const char *kind;
	void (*cb)(const char *kind, const char *phase, const char *ns,
	    void *arg);
	void *arg;
};

static void
count_one(const struct kobj *o, void *arg)
{
	struct count_ctx *cc = arg;

	cc->cb(cc->kind, api_phase_names[kobj_phase(o)], o->namespace,
	    cc->arg);
}

void
controllers_count(struct mgr *m, void (*cb)(const char *kind,
    const char *phase, const char *ns, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < API_KIND__COUNT; i++) {
		const struct api_kind_info *ki = api_kind_info((enum api_kind)i);
		struct informer *inf = mgr_informer(m, ki->singular);
		struct count_ctx cc = { ki->kind, cb, arg };

		if (inf)
			informer_foreach(inf, count_one, &cc);
	}
}
