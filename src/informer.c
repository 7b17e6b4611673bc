/*
 * informer.c - list+watch with resume, bookmarks and 410 relist.
 *
 * States:
 *   LISTING   a list request (one page at a time) is in flight; the pages
 *             build a fresh cache that replaces the current one at the end
 *   WATCHING  a watch stream is open from inf->rv
 *   WAITING   a timer runs before the next list or watch (backoff)
 *   STOPPED   nothing in flight
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "backoff.h"
#include "buf.h"
#include "informer.h"
#include "json.h"
#include "khttp.h"
#include "log.h"
#include "map.h"

enum inf_state {
	INF_STOPPED,
	INF_LISTING,
	INF_WATCHING,
	INF_WAITING,
	INF__COUNT
};

static const char *const inf_state_names[INF__COUNT] = {
	"STOPPED", "LISTING", "WATCHING", "WAITING",
};

/* What to do when the WAITING timer fires. */
enum inf_next {
	NEXT_LIST,
	NEXT_WATCH,
};

struct informer {
	struct khttp *http;
	struct ev_loop *loop;
	char *name;
	char *group_path;
	char *resource;
	char *namespace;
	char *label_selector;
	char *field_selector;
	unsigned page_size;
	double idle_timeout;
	unsigned watch_timeout_min;
	struct informer_ops ops;
	void *arg;

	enum inf_state state;
	enum inf_next next;
	struct kreq *req;		/* the list page or watch in flight */
	struct map cache;		/* "ns/name" -> struct kobj * */
	struct map fresh;		/* relist in progress */
	bool listing;			/* fresh is in use */
	char *cont;			/* continue token of the next page */
	char *rv;			/* resume point */
	char *list_rv;			/* snapshot RV of the list in progress */
	bool synced;
	bool relist_after_watch;	/* an ERROR event was seen on the stream */
	long long watch_err_code;	/* its Status code */
	struct backoff bo;
	double watch_started;
	unsigned long watch_items;	/* events and bookmarks on this stream */
	ev_timer timer;
	struct informer_stats stats;
};

static void inf_list_page(struct informer *inf);
static void inf_watch(struct informer *inf);

static void
inf_set_state(struct informer *inf, enum inf_state st)
{
	if (inf->state != st)
		log_debug("informer state", "informer", inf->name, "state",
		    inf_state_names[st]);
	inf->state = st;
}

static char *
cache_key(const char *ns, const char *name)
{
	return xasprintf("%s/%s", ns ? ns : "", name);
}

/* ---- objects ------------------------------------------------------------ */

int
kobj_from_json(struct kobj *o, yajl_val obj)
{
	yajl_val md = json_get(obj, "metadata", NULL);
	const char *name = json_gets(md, "name");
	const char *ns = json_gets(md, "namespace");
	const char *uid = json_gets(md, "uid");
	const char *rv = json_gets(md, "resourceVersion");
	const char *src[] = { ns ? ns : "", name, uid ? uid : "", rv ? rv : "" };
	char **const dst[] = { &o->namespace, &o->name, &o->uid,
	    &o->resource_version };
	long long gen = 0;

	memset(o, 0, sizeof(*o));
	if (name == NULL || *name == '\0')
		return -1;
	/* One block: a cached object costs one allocation, not four; the
	 * namespace comes first, so it is the block. */
	strpack(4, src, dst);
	if (json_int(json_get(md, "generation", NULL), &gen))
		o->generation = gen;
	o->deleting = json_gets(md, "deletionTimestamp") != NULL;
	return 0;
}

void
kobj_release(struct kobj *o)
{
	free(o->namespace);	/* the block */
	memset(o, 0, sizeof(*o));
}

static struct kobj *
inf_decode(struct informer *inf, yajl_val obj)
{
	struct kobj *o = xmalloc(sizeof(*o));

	if (kobj_from_json(o, obj) < 0) {
		free(o);
		return NULL;
	}
	o->data = inf->ops.decode ? inf->ops.decode(obj, inf->arg) : NULL;
	return o;
}

static void
inf_obj_free(struct informer *inf, struct kobj *o)
{
	if (o == NULL)
		return;
	if (o->data && inf->ops.release)
		inf->ops.release(o->data, inf->arg);
	kobj_release(o);
	free(o);
}

/* Inserts or replaces o in the cache and tells the handlers. */
static void
inf_upsert(struct informer *inf, struct kobj *o)
{
	char *key = cache_key(o->namespace, o->name);
	struct kobj *old = map_get(&inf->cache, key);

	map_put(&inf->cache, key, o);
	if (old == NULL) {
		if (inf->ops.on_add)
			inf->ops.on_add(o, inf->arg);
	} else {
		if (inf->ops.on_update)
			inf->ops.on_update(old, o, inf->arg);
		inf_obj_free(inf, old);
	}
	free(key);
}

static void
inf_remove(struct informer *inf, const char *ns, const char *name,
    struct kobj *last)
{
	char *key = cache_key(ns, name);
	struct kobj *old = map_del(&inf->cache, key);

	free(key);
	/* Report the last state the server sent, if it sent one. */
	if (last != NULL) {
		if (inf->ops.on_delete)
			inf->ops.on_delete(last, inf->arg);
	} else if (old != NULL && inf->ops.on_delete) {
		inf->ops.on_delete(old, inf->arg);
	}
	inf_obj_free(inf, old);
}

/* ---- scheduling ----------------------------------------------------------- */

static void
inf_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct informer *inf = container_of(w, struct informer, timer);

	(void)loop;
	(void)revents;
	if (inf->state != INF_WAITING)
		return;
	if (inf->next == NEXT_WATCH && inf->rv != NULL && *inf->rv)
		inf_watch(inf);
	else
		inf_list_page(inf);
}

static void
inf_wait(struct informer *inf, enum inf_next next, double delay)
{
	inf_set_state(inf, INF_WAITING);
	inf->next = next;
	ev_timer_stop(inf->loop, &inf->timer);
	ev_timer_set(&inf->timer, delay, 0.);
	ev_timer_start(inf->loop, &inf->timer);
}

static void
inf_backoff(struct informer *inf, enum inf_next next, const char *why)
{
	double d = backoff_next(&inf->bo, mono_now());
	char ds[32];

	snprintf(ds, sizeof(ds), "%.3f", d);
	log_warn("informer backing off", "informer", inf->name, "reason", why,
	    "delay", ds, "then", next == NEXT_LIST ? "list" : "watch");
	inf_wait(inf, next, d);
}

/* ---- list ------------------------------------------------------------------ */

static char *
inf_collection_path(struct informer *inf)
{
	if (inf->namespace && *inf->namespace) {
		char *ns = khttp_escape(inf->namespace);
		char *p = xasprintf("%s/namespaces/%s/%s", inf->group_path, ns,
		    inf->resource);
		free(ns);
		return p;
	}
	return xasprintf("%s/%s", inf->group_path, inf->resource);
}

static int
inf_append_selectors(struct informer *inf, struct buf *b)
{
	int rc = 0;

	if (inf->label_selector && *inf->label_selector) {
		char *e = khttp_escape(inf->label_selector);
		rc |= buf_printf(b, "&labelSelector=%s", e);
		free(e);
	}
	if (inf->field_selector && *inf->field_selector) {
		char *e = khttp_escape(inf->field_selector);
		rc |= buf_printf(b, "&fieldSelector=%s", e);
		free(e);
	}
	return rc;
}

/* Replaces the cache by the fresh list: new objects are adds, changed ones
 * updates, missing ones deletions. */
static void
inf_replace(struct informer *inf)
{
	const char *key;
	void *val;
	size_t pos = 0;

	/* Deletions first: objects cached but absent from the new list
	 * (deleting during the walk is allowed). */
	while (map_next(&inf->cache, &pos, &key, &val)) {
		struct kobj *old = val;

		if (map_has(&inf->fresh, key))
			continue;
		map_del(&inf->cache, key);
		if (inf->ops.on_delete)
			inf->ops.on_delete(old, inf->arg);
		inf_obj_free(inf, old);
	}

	/* Then adds and updates; an unchanged resourceVersion is not an
	 * update. */
	pos = 0;
	while (map_next(&inf->fresh, &pos, &key, &val)) {
		struct kobj *o = val;
		struct kobj *old = map_get(&inf->cache, key);

		if (old && strcmp(old->resource_version, o->resource_version) == 0) {
			inf_obj_free(inf, o);
			continue;
		}
		inf_upsert(inf, o);
	}
	map_release(&inf->fresh, NULL);
	inf->listing = false;
}

static void
inf_drop_fresh(struct informer *inf)
{
	const char *k;
	void *v;
	size_t pos = 0;

	if (!inf->listing)
		return;
	while (map_next(&inf->fresh, &pos, &k, &v))
		inf_obj_free(inf, v);
	map_release(&inf->fresh, NULL);
	inf->listing = false;
}

static void
inf_list_done(struct kreq *r, void *arg)
{
	struct informer *inf = arg;
	char err[256];
	yajl_val doc = NULL, items;
	const char *cont, *rv;
	size_t i;

	inf->req = NULL;
	if (r->status == 410) {
		/* The continue token expired: start the list over. */
		log_info("list continue token expired, listing again",
		    "informer", inf->name);
		free(inf->cont);
		inf->cont = NULL;
		inf_drop_fresh(inf);
		inf_list_page(inf);
		return;
	}
	if (r->status != 200) {
		char code[16];
		snprintf(code, sizeof(code), "%ld", r->status);
		log_warn("list failed", "informer", inf->name, "status", code,
		    "error", r->errmsg[0] ? r->errmsg : buf_cstr(&r->body));
		goto retry;
	}
	doc = json_parse(r->body.data, r->body.len, err, sizeof(err));
	if (doc == NULL) {
		log_warn("list returned invalid JSON", "informer", inf->name,
		    "error", err);
		goto retry;
	}
	items = json_get(doc, "items", NULL);
	for (i = 0; i < json_len(items); i++) {
		struct kobj *o = inf_decode(inf, json_at(items, i));
		char *key;
		struct kobj *dup;

		if (o == NULL)
			continue;
		key = cache_key(o->namespace, o->name);
		dup = map_get(&inf->fresh, key);
		map_put(&inf->fresh, key, o);
		inf_obj_free(inf, dup);
		free(key);
	}
	rv = json_gets(doc, "metadata.resourceVersion");
	cont = json_gets(doc, "metadata.continue");
	if (inf->list_rv == NULL && rv)
		inf->list_rv = xstrdup(rv);
	free(inf->cont);
	inf->cont = cont && *cont ? xstrdup(cont) : NULL;
	json_free(doc);
	if (inf->cont) {
		inf_list_page(inf);
		return;
	}
	/* The list is complete. */
	inf_replace(inf);
	free(inf->rv);
	inf->rv = inf->list_rv ? inf->list_rv : xstrdup("");
	inf->list_rv = NULL;
	if (!inf->synced) {
		inf->synced = true;
		log_info("informer synced", "informer", inf->name);
		if (inf->ops.on_synced)
			inf->ops.on_synced(inf->arg);
	}
	inf_watch(inf);
	return;
retry:
	json_free(doc);
	free(inf->cont);
	inf->cont = NULL;
	free(inf->list_rv);
	inf->list_rv = NULL;
	inf_drop_fresh(inf);
	inf_backoff(inf, NEXT_LIST, "list failed");
}

static void
inf_list_page(struct informer *inf)
{
	struct buf b = BUF_INIT(0);
	char *coll = inf_collection_path(inf);
	struct kreq *r;
	int rc;

	if (inf->cont == NULL) {
		/* First page of a new pass. */
		inf->stats.lists++;
		inf_drop_fresh(inf);
		map_init(&inf->fresh);
		inf->listing = true;
		free(inf->list_rv);
		inf->list_rv = NULL;
	}
	rc = buf_printf(&b, "%s?limit=%u", coll, inf->page_size);
	rc |= inf_append_selectors(inf, &b);
	if (inf->cont) {
		char *e = khttp_escape(inf->cont);
		rc |= buf_printf(&b, "&continue=%s", e);
		free(e);
	}
	if (rc < 0)
		die_oom();
	free(coll);
	inf_set_state(inf, INF_LISTING);
	r = khttp_request(inf->http, "GET", buf_cstr(&b), inf_list_done, inf);
	kreq_set_timeout(r, 60);
	inf->req = r;
	kreq_start(r);
	buf_release(&b);
}

/* ---- watch ----------------------------------------------------------------- */

static int
inf_watch_line(struct kreq *r, const char *line, size_t len, void *arg)
{
	struct informer *inf = arg;
	char err[256];
	yajl_val ev, obj;
	const char *type, *rv;

	(void)r;
	ev = json_parse(line, len, err, sizeof(err));
	if (ev == NULL) {
		log_warn("invalid watch event", "informer", inf->name, "error", err);
		return -1;
	}
	type = json_gets(ev, "type");
	obj = json_get(ev, "object", NULL);
	if (type == NULL || obj == NULL) {
		json_free(ev);
		log_warn("malformed watch event", "informer", inf->name);
		return -1;
	}
	if (strcmp(type, "ERROR") == 0) {
		long long code = 0;
		char cs[16];

		json_int(json_get(obj, "code", NULL), &code);
		snprintf(cs, sizeof(cs), "%lld", code);
		log_info("watch error event", "informer", inf->name, "code", cs,
		    "reason", json_gets(obj, "reason"), "message",
		    json_gets(obj, "message"));
		/* 410: our RV is too old, relist now; anything else: relist
		 * after a pause. */
		inf->relist_after_watch = true;
		inf->watch_err_code = code;
		if (code == 410)
			inf->stats.relists_410++;
		json_free(ev);
		return -1;
	}
	rv = json_gets(obj, "metadata.resourceVersion");
	inf->watch_items++;
	if (strcmp(type, "BOOKMARK") == 0) {
		inf->stats.bookmarks++;
	} else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		struct kobj *o = inf_decode(inf, obj);

		if (o != NULL) {
			inf->stats.events++;
			inf_upsert(inf, o);
		}
	} else if (strcmp(type, "DELETED") == 0) {
		struct kobj *o = inf_decode(inf, obj);

		if (o != NULL) {
			inf->stats.events++;
			inf_remove(inf, o->namespace, o->name, o);
			inf_obj_free(inf, o);
		}
	} else {
		log_warn("unknown watch event type", "informer", inf->name,
		    "type", type);
	}
	if (rv && *rv) {
		free(inf->rv);
		inf->rv = xstrdup(rv);
	}
	json_free(ev);
	return 0;
}

static void
inf_watch_done(struct kreq *r, void *arg)
{
	struct informer *inf = arg;

	inf->req = NULL;
	if (inf->relist_after_watch) {
		/* 410 on the stream: relist now (client-go relists at once). */
		inf->relist_after_watch = false;
		free(inf->rv);
		inf->rv = NULL;
		if (inf->watch_err_code == 410)
			inf_list_page(inf);
		else
			inf_backoff(inf, NEXT_LIST, "watch error event");
		return;
	}
	if (r->error == KREQ_EABORT) {
		/* We could not read an event: start over from a list. */
		inf->stats.watch_errors++;
		free(inf->rv);
		inf->rv = NULL;
		inf_backoff(inf, NEXT_LIST, "unreadable watch event");
		return;
	}
	if (r->error == KREQ_OK && r->status == 200) {
		/* The server closed the stream (timeoutSeconds): resume. The
		 * backoff starts over by itself after two healthy minutes; a
		 * stream that ends at once is not healthy and waits. */
		if (mono_now() - inf->watch_started < 1.0 && inf->watch_items == 0) {
			inf_backoff(inf, NEXT_WATCH, "watch closed too soon");
			return;
		}
		log_debug("watch closed by the server, resuming", "informer",
		    inf->name, "resourceVersion", inf->rv);
		inf_watch(inf);
		return;
	}
	inf->stats.watch_errors++;
	if (r->status == 410) {
		inf->stats.relists_410++;
		free(inf->rv);
		inf->rv = NULL;
		inf_list_page(inf);
		return;
	}
	if (r->error != KREQ_OK || r->status == 429 || r->status >= 500) {
		/* Connection problems (a dropped or silent stream too) and
		 * overload: back off, then resume the watch from where we were,
		 * without a relist. A stream that was established and ran for
		 * a while, or delivered something, before it broke was healthy:
		 * its loss starts the backoff over, so that an API server
		 * restart or a proxy that cuts long requests costs about a
		 * second, not the capped delay of earlier failures. Streams cut
		 * at once, before any event, keep escalating. */
		if (r->status == 200 && (inf->watch_items > 0 ||
		    mono_now() - inf->watch_started >= 1.0))
			backoff_reset(&inf->bo);
		log_warn("watch interrupted", "informer", inf->name, "error",
		    r->errmsg[0] ? r->errmsg : "server busy");
		if (r->retry_after > 0) {
			inf_wait(inf, NEXT_WATCH, r->retry_after);
			return;
		}
		inf_backoff(inf, NEXT_WATCH, r->status == 429 ?
		    "too many requests" : "watch interrupted");
		return;
	}
	{
		char code[16];
		snprintf(code, sizeof(code), "%ld", r->status);
		log_warn("watch refused", "informer", inf->name, "status", code,
		    "body", buf_cstr(&r->body));
	}
	free(inf->rv);
	inf->rv = NULL;
	inf_backoff(inf, NEXT_LIST, "watch refused");
}

static void
inf_watch(struct informer *inf)
{
	struct buf b = BUF_INIT(0);
	char *coll = inf_collection_path(inf);
	char *rv = khttp_escape(inf->rv ? inf->rv : "");
	unsigned tmo = inf->watch_timeout_min +
	    (unsigned)(rand_unit() * inf->watch_timeout_min);
	struct kreq *r;
	int rc;

	rc = buf_printf(&b, "%s?watch=1&allowWatchBookmarks=true"
	    "&resourceVersion=%s&timeoutSeconds=%u", coll, rv, tmo);
	rc |= inf_append_selectors(inf, &b);
	if (rc < 0)
		die_oom();
	free(coll);
	free(rv);
	inf->stats.watches++;
	inf->relist_after_watch = false;
	inf_set_state(inf, INF_WATCHING);
	r = khttp_request(inf->http, "GET", buf_cstr(&b), inf_watch_done, inf);
	kreq_set_stream(r, inf_watch_line);
	kreq_set_timeout(r, tmo + 60);
	kreq_set_idle_timeout(r, inf->idle_timeout);
	kreq_set_retries(r, 0);
	kreq_set_max_body(r, 16u << 20);
	inf->req = r;
	inf->watch_started = mono_now();
	inf->watch_items = 0;
	kreq_start(r);
	buf_release(&b);
}

/* ---- life cycle --------------------------------------------------------------- */

struct informer *
informer_new(struct khttp *http, const struct informer_config *cfg,
    const struct informer_ops *ops, void *arg)
{
	struct informer *inf = xcalloc(1, sizeof(*inf));

	inf->http = http;
	inf->loop = khttp_loop(http);
	inf->name = xstrdup(cfg->name ? cfg->name : cfg->resource);
	inf->group_path = xstrdup(cfg->group_path);
	inf->resource = xstrdup(cfg->resource);
	inf->namespace = cfg->namespace && *cfg->namespace ? xstrdup(cfg->namespace) : NULL;
	inf->label_selector = xstrdup(cfg->label_selector);
	inf->field_selector = xstrdup(cfg->field_selector);
	inf->page_size = cfg->page_size ? cfg->page_size : 500;
	inf->idle_timeout = cfg->idle_timeout > 0 ? cfg->idle_timeout : 180;
	inf->watch_timeout_min = cfg->watch_timeout_min ? cfg->watch_timeout_min : 300;
	inf->ops = *ops;
	inf->arg = arg;
	map_init(&inf->cache);
	backoff_init(&inf->bo, &BACKOFF_WATCH_PRESET);
	ev_timer_init(&inf->timer, inf_timer_cb, 0., 0.);
	return inf;
}

void
informer_start(struct informer *inf)
{
	if (inf->state != INF_STOPPED)
		return;
	if (inf->rv && *inf->rv)
		inf_watch(inf);
	else
		inf_list_page(inf);
}

void
informer_stop(struct informer *inf)
{
	if (inf->req) {
		kreq_cancel(inf->req);
		inf->req = NULL;
	}
	ev_timer_stop(inf->loop, &inf->timer);
	inf_set_state(inf, INF_STOPPED);
}


void
informer_free(struct informer *inf)
{
	const char *k;
	void *v;
	size_t pos = 0;

	if (inf == NULL)
		return;
	informer_stop(inf);
	while (map_next(&inf->cache, &pos, &k, &v))
		inf_obj_free(inf, v);
	map_release(&inf->cache, NULL);
	inf_drop_fresh(inf);
	free(inf->name);
	free(inf->group_path);
	free(inf->resource);
	free(inf->namespace);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf->cont);
	free(inf->rv);
	free(inf->list_rv);
	free(inf);
}

bool
informer_synced(const struct informer *inf)
{
	return inf->synced;
}

size_t
informer_count(const struct informer *inf)
{
	return map_len(&inf->cache);
}

const struct kobj *
informer_get(const struct informer *inf, const char *ns, const char *name)
{
	char *key = cache_key(ns, name);
	const struct kobj *o = map_get(&inf->cache, key);

	free(key);
	return o;
}

void
informer_foreach(const struct informer *inf,
    void (*fn)(const struct kobj *o, void *arg), void *arg)
{
	void *v;
	size_t pos = 0;

	while (map_next(&inf->cache, &pos, NULL, &v))
		fn(v, arg);
}

const struct informer_stats *
informer_stats(const struct informer *inf)
{
	return &inf->stats;
}

const char *
informer_name(const struct informer *inf)
{
	return inf->name;
}

const char *
informer_resource_version(const struct informer *inf)
{
	return inf->rv ? inf->rv : "";
}
