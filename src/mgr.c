/*
 * mgr.c - informers, the work queue and reconcile tasks.
 *
 * Keys enter the queue from informer callbacks, which may run inside a
 * curl callback; tasks are therefore never started there but from a
 * zero-delay "kick" timer, outside curl.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "khttp.h"
#include "log.h"
#include "map.h"
#include "mgr.h"
#include "queue.h"

#define MGR_MAX_CTRLS		16
#define MGR_START_BATCH		64	/* tasks started per kick */
#define MGR_OWN_RVS		4	/* own writes remembered per object */

/*
 * The resourceVersions our own status and annotation writes produced for
 * one object, until their watch events come back. Such an event changes
 * nothing the reconcile has not seen already, so it does not queue the
 * object again: without this a pass that fails and writes its status
 * would run again at once, bypassing its backoff.
 */
struct own_rvs {
	char *rv[MGR_OWN_RVS];
	unsigned next;
};

struct mctrl {
	struct ctrl_def def;
	int index;
	struct informer *inf;
	struct mgr *mgr;
};

struct tnode {
	struct rtask task;
	struct tnode *next, *prev;
};

struct mgr {
	struct ev_loop *loop;
	struct khttp *http;
	char *namespace;
	double resync_period;
	struct mctrl *ctrls[MGR_MAX_CTRLS];
	size_t nctrls;
	struct queue q;
	ev_timer kick;		/* start ready tasks, outside curl */
	ev_timer wake;		/* the queue's next delayed deadline */
	ev_timer resync;
	ev_timer stop_timer;	/* abort in-flight tasks at the deadline */
	struct tnode *tasks;	/* in flight */
	size_t ntasks;
	bool running;
	bool stopping;
	bool stop_reported;
	void (*stop_done)(void *arg);
	void *stop_arg;
	struct mgr_stats stats;
	struct mgr_hooks hooks;
	struct map own;		/* object key -> struct own_rvs */
};

static void mgr_schedule(struct mgr *m);
static void stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static struct mctrl *
ctrl_by_name(struct mgr *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nctrls; i++)
		if (strcmp(m->ctrls[i]->def.name, name) == 0)
			return m->ctrls[i];
	return NULL;
}

static void
hook_queued(struct mctrl *c, const char *ns, const char *name, double at)
{
	struct mgr *m = c->mgr;

	if (m->hooks.queued)
		m->hooks.queued(m->hooks.arg, c->def.name, ns, name, at,
		    ev_now(m->loop));
}

static void
enqueue_obj(struct mctrl *c, const struct kobj *o)
{
	struct queue_key k = { c->index, o->namespace, o->name };

	queue_add(&c->mgr->q, &k);
	hook_queued(c, o->namespace, o->name, ev_now(c->mgr->loop));
	mgr_schedule(c->mgr);
}

/* ---- our own writes ----------------------------------------------------------- */

static char *
own_key(const struct mctrl *c, const char *ns, const char *name)
{
	return xasprintf("%d/%s/%s", c->index, ns ? ns : "", name);
}

static void
own_free(void *v)
{
	struct own_rvs *o = v;
	size_t i;

	for (i = 0; i < MGR_OWN_RVS; i++)
		free(o->rv[i]);
	free(o);
}

/* True (and forgets it) when o is a version one of our writes made. */
static bool
own_seen(struct mctrl *c, const struct kobj *o)
{
	char *key;
	struct own_rvs *own;
	bool found = false;
	size_t i, left = 0;

	if (c->mgr->own.len == 0 || o->resource_version == NULL)
		return false;
	key = own_key(c, o->namespace, o->name);
	own = map_get(&c->mgr->own, key);
	if (own != NULL) {
		for (i = 0; i < MGR_OWN_RVS; i++) {
			if (own->rv[i] && strcmp(own->rv[i],
			    o->resource_version) == 0) {
				free(own->rv[i]);
				own->rv[i] = NULL;
				found = true;
			}
			left += own->rv[i] != NULL;
		}
		if (left == 0)
			own_free(map_del(&c->mgr->own, key));
	}
	free(key);
	return found;
}

static void
own_forget(struct mctrl *c, const struct kobj *o)
{
	char *key;
	struct own_rvs *own;

	if (c->mgr->own.len == 0)
		return;
	key = own_key(c, o->namespace, o->name);
	if ((own = map_del(&c->mgr->own, key)) != NULL)
		own_free(own);
	free(key);
}

void
rtask_wrote(struct rtask *t, const char *rv)
{
	struct mctrl *c = container_of(t->def, struct mctrl, def);
	struct own_rvs *own;
	char *key;

	if (rv == NULL || *rv == '\0')
		return;
	key = own_key(c, t->namespace, t->name);
	if ((own = map_get(&t->mgr->own, key)) == NULL) {
		own = xcalloc(1, sizeof(*own));
		map_put(&t->mgr->own, key, own);
	}
	free(key);
	free(own->rv[own->next]);
	own->rv[own->next] = xstrdup(rv);
	own->next = (own->next + 1) % MGR_OWN_RVS;
}

/* ---- informer handlers ----------------------------------------------------- */

static void
h_add(const struct kobj *o, void *arg)
{
	enqueue_obj(arg, o);
}

static void
h_update(const struct kobj *old, const struct kobj *o, void *arg)
{
	/* Every change matters: spec (generation), metadata (finalizers,
	 * deletionTimestamp, annotations) and status written by others.
	 * The versions our own status and annotation writes made do not
	 * queue the object again (see struct own_rvs); the objects that
	 * wait for this one still hear of them through changed(). */
	struct mctrl *c = arg;

	if (own_seen(c, o))
		log_debug("own write seen", "controller", c->def.name,
		    "namespace", o->namespace, "name", o->name,
		    "resourceVersion", o->resource_version);
	else
		enqueue_obj(c, o);
	if (c->def.changed)
		c->def.changed(old, o, c->def.arg);
}

static void
h_delete(const struct kobj *o, void *arg)
{
	own_forget(arg, o);
	enqueue_obj(arg, o);
}

static void
h_synced(void *arg)
{
	struct mctrl *c = arg;

	log_debug("controller cache synced", "controller", c->def.name);
	/* Keys queued while the caches filled can run once all are full. */
	mgr_schedule(c->mgr);
}

static void *
h_decode(yajl_val obj, void *arg)
{
	struct mctrl *c = arg;

	return c->def.decode ? c->def.decode(obj, c->def.arg) : NULL;
}

static void
h_release(void *data, void *arg)
{
	struct mctrl *c = arg;

	if (c->def.release)
		c->def.release(data, c->def.arg);
}

/* ---- scheduling ------------------------------------------------------------- */

static void
mgr_schedule(struct mgr *m)
{
	if (!m->running || ev_is_active(&m->kick))
		return;
	ev_timer_set(&m->kick, 0., 0.);
	ev_timer_start(m->loop, &m->kick);
}

static void
arm_wake(struct mgr *m)
{
	double now = ev_now(m->loop);
	double at = queue_next_deadline(&m->q, now);

	ev_timer_stop(m->loop, &m->wake);
	if (at < 0 || m->stopping)
		return;
	ev_timer_set(&m->wake, at > now ? at - now : 0., 0.);
	ev_timer_start(m->loop, &m->wake);
}

static void
start_task(struct mgr *m, const struct queue_key *k)
{
	struct mctrl *c = m->ctrls[k->kind];
	struct tnode *n = xcalloc(1, sizeof(*n));
	struct rtask *t = &n->task;

	t->mgr = m;
	t->def = &c->def;
	t->namespace = xstrdup(k->ns);
	t->name = xstrdup(k->name);
	t->obj = informer_get(c->inf, k->ns, k->name);
	t->started = ev_now(m->loop);
	n->next = m->tasks;
	if (m->tasks)
		m->tasks->prev = n;
	m->tasks = n;
	m->ntasks++;
	m->stats.reconciles++;
	log_debug("reconcile", "controller", c->def.name, "namespace",
	    t->namespace, "name", t->name);
	if (m->hooks.started)
		m->hooks.started(m->hooks.arg, c->def.name, t->namespace,
		    t->name, t->started);
	c->def.reconcile(t);
}

static void
kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mgr *m = container_of(w, struct mgr, kick);
	const struct queue_key *k;
	int n = 0;

	(void)loop;
	(void)revents;
	/*
	 * No reconcile starts before every cache has listed once (what
	 * /readyz reports): a reference missing from a cache that is still
	 * filling is not a missing object. Keys wait in the queue meanwhile;
	 * h_synced() kicks again.
	 */
	if (!mgr_synced(m))
		return;
	while (n < MGR_START_BATCH && !m->stopping &&
	    (k = queue_pop(&m->q, ev_now(m->loop))) != NULL) {
		start_task(m, k);
		n++;
	}
	if (n == MGR_START_BATCH)
		mgr_schedule(m);
	arm_wake(m);
}

static void
wake_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mgr *m = container_of(w, struct mgr, wake);

	(void)loop;
	(void)revents;
	mgr_schedule(m);
}

static void
resync_enqueue(const struct kobj *o, void *arg)
{
	struct mctrl *c = arg;
	struct queue_key k = { c->index, o->namespace, o->name };

	double delay = rand_unit() * c->mgr->resync_period / 10;

	/* Spread the work over a tenth of the period. */
	queue_add_after(&c->mgr->q, &k, delay, ev_now(c->mgr->loop));
	hook_queued(c, o->namespace, o->name, ev_now(c->mgr->loop) + delay);
}

static void
arm_resync(struct mgr *m)
{
	double p = m->resync_period;

	if (p <= 0)
		return;
	ev_timer_set(&m->resync, p * (0.9 + 0.2 * rand_unit()), 0.);
	ev_timer_start(m->loop, &m->resync);
}

static void
resync_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mgr *m = container_of(w, struct mgr, resync);
	size_t i;

	(void)loop;
	(void)revents;
	for (i = 0; i < m->nctrls; i++)
		informer_foreach(m->ctrls[i]->inf, resync_enqueue, m->ctrls[i]);
	arm_wake(m);
	arm_resync(m);
}

/* ---- tasks -------------------------------------------------------------------- */

static void
maybe_stopped(struct mgr *m)
{
	if (!m->stopping || m->ntasks > 0 || m->stop_reported)
		return;
	m->stop_reported = true;
	ev_timer_stop(m->loop, &m->stop_timer);
	/* Report from the loop, not from inside a task's callback chain. */
	ev_timer_set(&m->stop_timer, 0., 0.);
	ev_timer_start(m->loop, &m->stop_timer);
}

const struct kobj *
rtask_object(struct rtask *t)
{
	struct mctrl *c = container_of(t->def, struct mctrl, def);

	t->obj = informer_get(c->inf, t->namespace, t->name);
	return t->obj;
}

void
rtask_done(struct rtask *t, enum rresult res, double delay)
{
	struct mgr *m = t->mgr;
	struct mctrl *c = container_of(t->def, struct mctrl, def);
	struct tnode *n = container_of(t, struct tnode, task);
	struct queue_key k = { c->index, t->namespace, t->name };
	double now = ev_now(m->loop);

	if (m->hooks.finished)
		m->hooks.finished(m->hooks.arg, c->def.name, t->namespace,
		    t->name, res, delay, t->started, now);
	switch (res) {
	case RRESULT_DONE:
		queue_forget(&m->q, &k);
		break;
	case RRESULT_REQUEUE:
		queue_forget(&m->q, &k);
		m->stats.requeues++;
		queue_add_after(&m->q, &k, delay, now);
		hook_queued(c, t->namespace, t->name, now + (delay > 0 ? delay : 0));
		break;
	case RRESULT_FAILED:
		m->stats.errors++;
		queue_add_rate_limited(&m->q, &k, now);
		if (m->hooks.retried)
			m->hooks.retried(m->hooks.arg, c->def.name);
		hook_queued(c, t->namespace, t->name, -1);
		break;
	}
	queue_done(&m->q, &k);
	if (n->prev)
		n->prev->next = n->next;
	else
		m->tasks = n->next;
	if (n->next)
		n->next->prev = n->prev;
	m->ntasks--;
	free(t->namespace);
	free(t->name);
	free(n);
	mgr_schedule(m);
	arm_wake(m);
	maybe_stopped(m);
}

/* ---- life cycle ------------------------------------------------------------------ */

struct mgr *
mgr_new(struct ev_loop *loop, struct khttp *http, const struct mgr_config *cfg)
{
	struct mgr *m = xcalloc(1, sizeof(*m));

	m->loop = loop;
	m->http = http;
	m->namespace = cfg->namespace && *cfg->namespace ? xstrdup(cfg->namespace) : NULL;
	m->resync_period = cfg->resync_period;
	queue_init(&m->q, cfg->max_concurrent ? cfg->max_concurrent : 1);
	map_init(&m->own);
	ev_timer_init(&m->kick, kick_cb, 0., 0.);
	ev_timer_init(&m->wake, wake_cb, 0., 0.);
	ev_timer_init(&m->resync, resync_cb, 0., 0.);
	ev_timer_init(&m->stop_timer, stop_timer_cb, 0., 0.);
	return m;
}

void
mgr_register(struct mgr *m, const struct ctrl_def *def)
{
	struct mctrl *c;
	struct informer_config ic;
	struct informer_ops ops;

	if (m->nctrls == MGR_MAX_CTRLS)
		abort();
	c = xcalloc(1, sizeof(*c));
	c->def = *def;
	c->index = (int)m->nctrls;
	c->mgr = m;
	memset(&ic, 0, sizeof(ic));
	ic.name = def->name;
	ic.group_path = def->group_path;
	ic.resource = def->resource;
	ic.namespace = m->namespace;
	memset(&ops, 0, sizeof(ops));
	ops.decode = h_decode;
	ops.release = h_release;
	ops.on_add = h_add;
	ops.on_update = h_update;
	ops.on_delete = h_delete;
	ops.on_synced = h_synced;
	c->inf = informer_new(m->http, &ic, &ops, c);
	m->ctrls[m->nctrls++] = c;
}

void
mgr_start(struct mgr *m)
{
	size_t i;

	if (m->running || m->stopping)
		return;
	m->running = true;
	for (i = 0; i < m->nctrls; i++)
		informer_start(m->ctrls[i]->inf);
	arm_resync(m);
	log_info("controllers started", "namespace", m->namespace ? m->namespace : "(all)");
}

static void
stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mgr *m = container_of(w, struct mgr, stop_timer);
	struct tnode *n, *next;

	(void)loop;
	(void)revents;
	if (m->stop_reported) {
		log_info("controllers stopped");
		if (m->stop_done)
			m->stop_done(m->stop_arg);
		return;
	}
	/* The deadline passed with work in flight: abort it. Each abort ends
	 * in rtask_done(), which may free the node; walk a copy of next. */
	log_warn("aborting reconciles still in flight");
	for (n = m->tasks; n; n = next) {
		next = n->next;
		if (n->task.def->abort)
			n->task.def->abort(&n->task);
	}
	maybe_stopped(m);
}

void
mgr_stop(struct mgr *m, double timeout, void (*done)(void *arg), void *arg)
{
	size_t i;

	if (m->stopping)
		return;
	m->stopping = true;
	m->stop_done = done;
	m->stop_arg = arg;
	for (i = 0; i < m->nctrls; i++)
		informer_stop(m->ctrls[i]->inf);
	queue_shutdown(&m->q);
	ev_timer_stop(m->loop, &m->kick);
	ev_timer_stop(m->loop, &m->wake);
	ev_timer_stop(m->loop, &m->resync);
	if (m->ntasks == 0) {
		maybe_stopped(m);
		return;
	}
	{
		char n[32];
		snprintf(n, sizeof(n), "%zu", m->ntasks);
		log_info("waiting for reconciles in flight", "count", n);
	}
	ev_timer_set(&m->stop_timer, timeout, 0.);
	ev_timer_start(m->loop, &m->stop_timer);
}

void
mgr_free(struct mgr *m)
{
	size_t i;

	if (m == NULL)
		return;
	while (m->tasks) {
		struct tnode *n = m->tasks;
		m->tasks = n->next;
		free(n->task.namespace);
		free(n->task.name);
		free(n);
	}
	for (i = 0; i < m->nctrls; i++) {
		informer_free(m->ctrls[i]->inf);
		if (m->ctrls[i]->def.free_arg)
			m->ctrls[i]->def.free_arg(m->ctrls[i]->def.arg);
		free(m->ctrls[i]);
	}
	queue_release(&m->q);
	map_release(&m->own, own_free);
	ev_timer_stop(m->loop, &m->kick);
	ev_timer_stop(m->loop, &m->wake);
	ev_timer_stop(m->loop, &m->resync);
	ev_timer_stop(m->loop, &m->stop_timer);
	free(m->namespace);
	free(m);
}

bool
mgr_synced(const struct mgr *m)
{
	size_t i;

	if (!m->running)
		return false;
	for (i = 0; i < m->nctrls; i++)
		if (!informer_synced(m->ctrls[i]->inf))
			return false;
	return true;
}

bool
mgr_running(const struct mgr *m)
{
	return m->running && !m->stopping;
}

struct khttp *
mgr_http(struct mgr *m)
{
	return m->http;
}

struct ev_loop *
mgr_loop(struct mgr *m)
{
	return m->loop;
}

struct informer *
mgr_informer(struct mgr *m, const char *name)
{
	struct mctrl *c = ctrl_by_name(m, name);

	return c ? c->inf : NULL;
}

void
mgr_enqueue(struct mgr *m, const char *ctrl, const char *ns, const char *name)
{
	struct mctrl *c = ctrl_by_name(m, ctrl);
	struct queue_key k;

	if (c == NULL)
		return;
	k.kind = c->index;
	k.ns = ns ? ns : "";
	k.name = name;
	queue_add(&m->q, &k);
	hook_queued(c, k.ns, name, ev_now(m->loop));
	mgr_schedule(m);
}

void
mgr_set_hooks(struct mgr *m, const struct mgr_hooks *h)
{
	if (h)
		m->hooks = *h;
	else
		memset(&m->hooks, 0, sizeof(m->hooks));
}

const char *
mgr_controller_name(const struct mgr *m, size_t i)
{
	return i < m->nctrls ? m->ctrls[i]->def.name : NULL;
}

void
mgr_get_stats(const struct mgr *m, struct mgr_stats *out)
{
	*out = m->stats;
	out->inflight = m->ntasks;
	out->queued = queue_len(&m->q);
}
