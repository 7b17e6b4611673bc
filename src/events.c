/*
 * events.c - core/v1 Event recorder: spam filter, dedup LRU, bounded
 * asynchronous delivery.
 *
 * Each distinct event (dedup key) has a record in the LRU: the Event's
 * name and namespace, the count so far, the first timestamp, and the two
 * queue entries that may refer to it: `pending` (queued, not sent: repeats
 * update it in place) and `inflight` (being sent: the next entry for the
 * same Event waits, so the server sees count 1, 2, 3... in order and a
 * repeat never races the POST that creates the Event).
 *
 * An entry is a POST (first occurrence, or a PATCH that met a 404) or a
 * PATCH (repeat, or a POST that met AlreadyExists). Entries own copies of
 * all their fields, so a record evicted from the LRU leaves its entries
 * deliverable.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include <ev.h>

#include "backoff.h"
#include "events.h"
#include "json.h"
#include "khttp.h"
#include "kwrite.h"
#include "log.h"
#include "map.h"
#include "timefmt.h"

#define EVENTS_MAX_RETRY_AFTER	60.0
#define EVENTS_MAX_CONVERTS	2	/* PATCH<->POST switches per entry */
#define EVENTS_NAME_MAX		253

static const char *const event_type_names[EVENT__COUNT] = {
	"Normal", "Warning",
};

const char *
event_type_name(enum event_type t)
{
	return t < EVENT__COUNT ? event_type_names[t] : "Normal";
}

void
events_config_defaults(struct events_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->component = PACKAGE_NAME;
	cfg->queue_max = 1024;
	cfg->cache_max = 4096;
	cfg->max_inflight = 3;
	cfg->max_tries = 6;
	cfg->retry_interval = 10.0;
	cfg->request_timeout = 10.0;
	cfg->spam_burst = 25;
	cfg->spam_rate = 1.0 / 300.0;
}

/* ---- pure helpers ------------------------------------------------------- */

static int
put_field(struct buf *b, const char *s)
{
	if (s == NULL)
		s = "";
	return buf_printf(b, "%zu:%s;", strlen(s), s);
}

static int
put_ref(struct buf *b, const struct event_ref *o)
{
	return put_field(b, o->api_version) | put_field(b, o->kind) |
	    put_field(b, o->namespace) | put_field(b, o->name) |
	    put_field(b, o->uid);
}

/* out = hex of the first 16 bytes of SHA-256(b); frees b. */
static void
key_digest(char out[EVENTS_KEY_LEN], struct buf *b)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_LEN];
	unsigned int i;

	sha256(b->data, b->len, md);
	for (i = 0; i < (EVENTS_KEY_LEN - 1) / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[EVENTS_KEY_LEN - 1] = '\0';
	buf_release(b);
}

void
events_key(char out[EVENTS_KEY_LEN], const struct event_ref *obj,
    const char *type, const char *reason, const char *message)
{
	struct buf b = BUF_INIT(0);

	if (put_ref(&b, obj) | put_field(&b, type) | put_field(&b, reason) |
	    put_field(&b, message))
		die_oom();
	key_digest(out, &b);
}

void
events_spam_key(char out[EVENTS_KEY_LEN], const char *component,
    const char *instance, const struct event_ref *obj, const char *type)
{
	struct buf b = BUF_INIT(0);

	if (put_field(&b, component) | put_field(&b, instance) |
	    put_ref(&b, obj) | put_field(&b, type))
		die_oom();
	key_digest(out, &b);
}

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t len, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4;
	else
		return 0;
	/* No overlongs, surrogates or code points past U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

char *
events_clean_text(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), i = 0, o = 0;
	char *out = xmalloc((n < max ? n : max) + 1);

	while (i < n) {
		size_t l = utf8_seq(p + i, n - i);

		if (o + (l ? l : 1) > max)
			break;
		if (l == 0) {
			out[o++] = '?';
			i++;
		} else {
			memcpy(out + o, p + i, l);
			o += l;
			i += l;
		}
	}
	out[o] = '\0';
	return out;
}

static bool
nonempty(const char *s)
{
	return s != NULL && *s != '\0';
}

char *
events_body(const struct event_fields *e)
{
	const struct event_ref *o = e->obj;
	struct jw w;

	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "apiVersion", kres_events.api_version);
	jw_kstr(&w, "kind", kres_events.kind);
	jw_key(&w, "metadata");
	jw_obj_open(&w);
	jw_kstr(&w, "name", e->name);
	jw_kstr(&w, "namespace", e->namespace);
	jw_obj_close(&w);
	jw_key(&w, "involvedObject");
	jw_obj_open(&w);
	if (nonempty(o->api_version))
		jw_kstr(&w, "apiVersion", o->api_version);
	if (nonempty(o->kind))
		jw_kstr(&w, "kind", o->kind);
	jw_kstr(&w, "name", o->name ? o->name : "");
	if (nonempty(o->namespace))
		jw_kstr(&w, "namespace", o->namespace);
	if (nonempty(o->uid))
		jw_kstr(&w, "uid", o->uid);
	if (nonempty(o->resource_version))
		jw_kstr(&w, "resourceVersion", o->resource_version);
	jw_obj_close(&w);
	jw_kstr(&w, "reason", e->reason);
	jw_kstr(&w, "message", e->message);
	jw_kstr(&w, "type", e->type);
	jw_key(&w, "source");
	jw_obj_open(&w);
	jw_kstr(&w, "component", e->component);
	jw_kstr(&w, "host", e->instance);
	jw_obj_close(&w);
	jw_kstr(&w, "firstTimestamp", e->first);
	jw_kstr(&w, "lastTimestamp", e->last);
	jw_kint(&w, "count", e->count);
	/* eventTime stays unset: with it the new-style rules would apply. */
	jw_kstr(&w, "reportingComponent", e->component);
	jw_kstr(&w, "reportingInstance", e->instance);
	jw_obj_close(&w);
	return jw_finish(&w, NULL);
}

char *
events_patch_body(long long count, const char *last, const char *message)
{
	struct jw w;

	jw_init(&w);
	jw_obj_open(&w);
	jw_kint(&w, "count", count);
	jw_kstr(&w, "lastTimestamp", last);
	jw_kstr(&w, "message", message);
	jw_obj_close(&w);
	return jw_finish(&w, NULL);
}

char *
events_name(const char *obj_name, unsigned long long unix_ns)
{
	unsigned char r[16];
	size_t i;

	if (obj_name && strlen(obj_name) + 1 + 16 <= EVENTS_NAME_MAX)
		return xasprintf("%s.%llx", obj_name, unix_ns);
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		for (i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(rand_unit() * 256);
	return xasprintf("%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x"
	    "%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
	    r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

/* ---- a bounded LRU of keyed nodes ---------------------------------------- */

struct lru_node {
	char key[EVENTS_KEY_LEN];
	struct lru_node *prev, *next;	/* most recently used first */
};

struct lru {
	struct map map;			/* key -> struct lru_node * */
	struct lru_node *head, *tail;
	size_t max;
	void (*evict)(struct lru_node *n, void *arg);	/* frees n */
	void *arg;
};

static void
lru_init(struct lru *l, size_t max, void (*evict)(struct lru_node *, void *),
    void *arg)
{
	map_init(&l->map);
	l->head = l->tail = NULL;
	l->max = max > 0 ? max : 1;
	l->evict = evict;
	l->arg = arg;
}

static void
lru_unlink(struct lru *l, struct lru_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
}

static void
lru_push_front(struct lru *l, struct lru_node *n)
{
	n->prev = NULL;
	n->next = l->head;
	if (l->head)
		l->head->prev = n;
	l->head = n;
	if (l->tail == NULL)
		l->tail = n;
}

/* The node for key, made most recent; NULL when absent. */
static struct lru_node *
lru_get(struct lru *l, const char *key)
{
	struct lru_node *n = map_get(&l->map, key);

	if (n && n != l->head) {
		lru_unlink(l, n);
		lru_push_front(l, n);
	}
	return n;
}

static void
lru_drop(struct lru *l, struct lru_node *n)
{
	lru_unlink(l, n);
	map_del(&l->map, n->key);
	l->evict(n, l->arg);
}

/* Adds n (key set, not present) as most recent; evicts the least recent
 * beyond max. */
static void
lru_add(struct lru *l, struct lru_node *n)
{
	map_put(&l->map, n->key, n);
	lru_push_front(l, n);
	while (map_len(&l->map) > l->max)
		lru_drop(l, l->tail);
}

static void
lru_release(struct lru *l)
{
	while (l->tail)
		lru_drop(l, l->tail);
	map_release(&l->map, NULL);
}

/* ---- the recorder ---------------------------------------------------------- */

enum ev_op {
	EV_POST,
	EV_PATCH,
	EV__COUNT
};

static const char *const ev_op_names[EV__COUNT] = { "POST", "PATCH" };

struct ev_rec;

/* One Event to send. */
struct ev_item {
	struct ev_item *prev, *next;	/* queue or in-flight list */
	struct events *owner;
	struct ev_rec *rec;		/* NULL once the record is evicted */
	enum ev_op op;
	char *api_version, *kind, *obj_ns, *obj_name, *uid, *obj_rv;
	const char *type;		/* static name */
	char *reason;
	char *message;
	char *name;			/* Event metadata.name */
	char *ns;			/* Event metadata.namespace */
	char first[TIMEFMT_TIME_LEN];
	char last[TIMEFMT_TIME_LEN];
	long long count;
	unsigned tries;
	unsigned converts;
	double not_before;		/* retry wait, monotonic */
	struct kreq *req;
};

/* A recent distinct event (dedup LRU). */
struct ev_rec {
	struct lru_node node;
	char *name;
	char *ns;
	long long count;
	char first[TIMEFMT_TIME_LEN];
	struct ev_item *pending;	/* queued entry, repeats update it */
	struct ev_item *inflight;	/* entry being sent */
};

/* A spam-filter bucket (spam LRU). */
struct ev_spam {
	struct lru_node node;
	struct tbucket tb;
};

struct ev_list {
	struct ev_item *head, *tail;
	size_t len;
};

struct events {
	struct khttp *http;
	struct ev_loop *loop;		/* NULL without http */
	char *component;
	char *instance;
	size_t queue_max;
	unsigned max_inflight;
	unsigned max_tries;
	double retry_interval;
	double request_timeout;
	double spam_burst;
	double spam_rate;
	double (*clock)(void);

	struct lru recs;
	struct lru spam;
	struct ev_list queue;
	struct ev_list inflight;
	unsigned long long last_ns;	/* last name stamp, kept unique */
	ev_timer timer;			/* next due retry / dispatch kick */
	ev_timer drain_timer;
	void (*drain_done)(void *arg);
	void *drain_arg;
	struct events_stats stats;
};

static void ev_dispatch(struct events *rec);

static void
list_append(struct ev_list *l, struct ev_item *it)
{
	it->next = NULL;
	it->prev = l->tail;
	if (l->tail)
		l->tail->next = it;
	else
		l->head = it;
	l->tail = it;
	l->len++;
}

static void
list_prepend(struct ev_list *l, struct ev_item *it)
{
	it->prev = NULL;
	it->next = l->head;
	if (l->head)
		l->head->prev = it;
	else
		l->tail = it;
	l->head = it;
	l->len++;
}

static void
list_remove(struct ev_list *l, struct ev_item *it)
{
	if (it->prev)
		it->prev->next = it->next;
	else
		l->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		l->tail = it->prev;
	it->prev = it->next = NULL;
	l->len--;
}

static void
item_free(struct ev_item *it)
{
	if (it->rec) {
		if (it->rec->pending == it)
			it->rec->pending = NULL;
		if (it->rec->inflight == it)
			it->rec->inflight = NULL;
	}
	free(it->api_version);
	free(it->kind);
	free(it->obj_ns);
	free(it->obj_name);
	free(it->uid);
	free(it->obj_rv);
	free(it->reason);
	free(it->message);
	free(it->name);
	free(it->ns);
	free(it);
}

static void
rec_evict(struct lru_node *n, void *arg)
{
	struct ev_rec *r = container_of(n, struct ev_rec, node);

	(void)arg;
	/* Its entries stay deliverable on their own. */
	if (r->pending)
		r->pending->rec = NULL;
	if (r->inflight)
		r->inflight->rec = NULL;
	free(r->name);
	free(r->ns);
	free(r);
}

static void
spam_evict(struct lru_node *n, void *arg)
{
	struct ev_spam *s = container_of(n, struct ev_spam, node);

	(void)arg;
	free(s);
}

static double
ev_clock(const struct events *rec)
{
	return rec->clock ? rec->clock() : mono_now();
}

static char *
host_name(void)
{
	char host[256];

	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		return xstrdup("localhost");
	host[sizeof(host) - 1] = '\0';
	return xstrdup(host);
}

static void
ev_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct events *rec = container_of(w, struct events, timer);

	(void)loop;
	(void)revents;
	ev_dispatch(rec);
}

static void
ev_drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct events *rec = container_of(w, struct events, drain_timer);
	void (*done)(void *) = rec->drain_done;

	(void)loop;
	(void)revents;
	ev_timer_stop(rec->loop, &rec->drain_timer);
	rec->drain_done = NULL;
	if (done) {
		if (events_pending(rec) > 0)
			log_warn("events not delivered before shutdown",
			    "component", rec->component);
		done(rec->drain_arg);	/* last */
	}
}

struct events *
events_new(struct khttp *http, const struct events_config *cfg)
{
	struct events *rec = xcalloc(1, sizeof(*rec));
	struct events_config def;

	events_config_defaults(&def);
	rec->http = http;
	rec->loop = http ? khttp_loop(http) : NULL;
	rec->component = xstrdup(nonempty(cfg->component) ? cfg->component :
	    def.component);
	rec->instance = nonempty(cfg->instance) ? xstrdup(cfg->instance) :
	    host_name();
	rec->queue_max = cfg->queue_max ? cfg->queue_max : def.queue_max;
	rec->max_inflight = cfg->max_inflight ? cfg->max_inflight :
	    def.max_inflight;
	rec->max_tries = cfg->max_tries ? cfg->max_tries : def.max_tries;
	rec->retry_interval = cfg->retry_interval > 0 ? cfg->retry_interval :
	    def.retry_interval;
	rec->request_timeout = cfg->request_timeout > 0 ?
	    cfg->request_timeout : def.request_timeout;
	rec->spam_burst = cfg->spam_burst > 0 ? cfg->spam_burst : def.spam_burst;
	rec->spam_rate = cfg->spam_rate;
	rec->clock = cfg->clock;
	lru_init(&rec->recs, cfg->cache_max ? cfg->cache_max : def.cache_max,
	    rec_evict, rec);
	lru_init(&rec->spam, cfg->cache_max ? cfg->cache_max : def.cache_max,
	    spam_evict, rec);
	ev_timer_init(&rec->timer, ev_timer_cb, 0., 0.);
	ev_timer_init(&rec->drain_timer, ev_drain_cb, 0., 0.);
	return rec;
}

void
events_free(struct events *rec)
{
	struct ev_item *it;

	if (rec == NULL)
		return;
	if (rec->loop) {
		ev_timer_stop(rec->loop, &rec->timer);
		ev_timer_stop(rec->loop, &rec->drain_timer);
	}
	while ((it = rec->inflight.head) != NULL) {
		list_remove(&rec->inflight, it);
		if (it->req)
			kreq_cancel(it->req);
		item_free(it);
	}
	while ((it = rec->queue.head) != NULL) {
		list_remove(&rec->queue, it);
		item_free(it);
	}
	lru_release(&rec->recs);
	lru_release(&rec->spam);
	free(rec->component);
	free(rec->instance);
	free(rec);
}

size_t
events_pending(const struct events *rec)
{
	return rec->queue.len + rec->inflight.len;
}

const struct events_stats *
events_stats(const struct events *rec)
{
	return &rec->stats;
}

/* Runs the drain callback once nothing is pending (from the loop). */
static void
ev_drain_check(struct events *rec)
{
	if (rec->drain_done == NULL || events_pending(rec) > 0)
		return;
	ev_timer_stop(rec->loop, &rec->drain_timer);
	ev_timer_set(&rec->drain_timer, 0., 0.);
	ev_timer_start(rec->loop, &rec->drain_timer);
}

void
events_drain(struct events *rec, double timeout, void (*done)(void *arg),
    void *arg)
{
	if (rec->loop == NULL)
		return;
	rec->drain_done = done;
	rec->drain_arg = arg;
	ev_timer_stop(rec->loop, &rec->drain_timer);
	ev_timer_set(&rec->drain_timer, timeout > 0 ? timeout : 0., 0.);
	ev_timer_start(rec->loop, &rec->drain_timer);
	ev_drain_check(rec);
}

/* Dispatch on the next loop iteration (never inside the caller). */
static void
ev_kick(struct events *rec)
{
	if (rec->loop == NULL)
		return;
	ev_timer_stop(rec->loop, &rec->timer);
	ev_timer_set(&rec->timer, 0., 0.);
	ev_timer_start(rec->loop, &rec->timer);
}

static unsigned long long
ev_name_stamp(struct events *rec)
{
	struct timespec ts;
	unsigned long long ns;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (unsigned long long)ts.tv_sec * 1000000000ULL +
	    (unsigned long long)ts.tv_nsec;
	/* Two events in one nanosecond (or a clock step back) must still
	 * get two names. */
	if (ns <= rec->last_ns)
		ns = rec->last_ns + 1;
	rec->last_ns = ns;
	return ns;
}

/* Queues it at the tail; a full queue loses its oldest entry. */
static void
ev_enqueue(struct events *rec, struct ev_item *it)
{
	while (rec->queue.len >= rec->queue_max && rec->queue.head) {
		struct ev_item *old = rec->queue.head;

		list_remove(&rec->queue, old);
		rec->stats.dropped++;
		log_debug("event queue full, dropped oldest", "name", old->name);
		item_free(old);
	}
	list_append(&rec->queue, it);
}

static struct ev_item *
item_new(struct events *rec, const struct event_ref *obj, const char *type,
    const char *reason, const char *message)
{
	struct ev_item *it = xcalloc(1, sizeof(*it));

	it->owner = rec;
	it->api_version = xstrdup(obj->api_version);
	it->kind = xstrdup(obj->kind);
	it->obj_ns = xstrdup(obj->namespace);
	it->obj_name = xstrdup(obj->name ? obj->name : "");
	it->uid = xstrdup(obj->uid);
	it->obj_rv = xstrdup(obj->resource_version);
	it->type = type;
	it->reason = xstrdup(reason);
	it->message = xstrdup(message);
	return it;
}

long long
events_cached_count(struct events *rec, const struct event_ref *obj,
    enum event_type type, const char *reason, const char *message)
{
	char key[EVENTS_KEY_LEN];
	struct lru_node *n;

	events_key(key, obj, event_type_name(type), reason, message);
	n = map_get(&rec->recs.map, key);
	return n ? container_of(n, struct ev_rec, node)->count : 0;
}

/* Passes the spam filter, or not. */
static bool
ev_spam_ok(struct events *rec, const struct event_ref *obj, const char *type,
    double now)
{
	char key[EVENTS_KEY_LEN];
	struct lru_node *n;
	struct ev_spam *s;

	if (rec->spam_rate <= 0)
		return true;
	events_spam_key(key, rec->component, rec->instance, obj, type);
	n = lru_get(&rec->spam, key);
	if (n == NULL) {
		s = xcalloc(1, sizeof(*s));
		memcpy(s->node.key, key, sizeof(key));
		tbucket_init(&s->tb, rec->spam_rate, rec->spam_burst, now);
		lru_add(&rec->spam, &s->node);
	} else {
		s = container_of(n, struct ev_spam, node);
	}
	return tbucket_take(&s->tb, now);
}

void
events_vemit(struct events *rec, const struct event_ref *obj,
    enum event_type type, const char *reason, const char *fmt, va_list ap)
{
	const char *tname = event_type_name(type);
	char *raw, *msg, *rsn;
	char key[EVENTS_KEY_LEN], last[TIMEFMT_TIME_LEN];
	struct lru_node *n;
	struct ev_rec *r;
	struct ev_item *it;
	double now;

	if (rec == NULL || obj == NULL || !nonempty(obj->name))
		return;
	now = ev_clock(rec);
	if (!ev_spam_ok(rec, obj, tname, now)) {
		rec->stats.filtered++;
		log_debug("event filtered (spam)", "name", obj->name,
		    "reason", reason);
		return;
	}
	raw = xvasprintf(fmt, ap);
	msg = events_clean_text(raw, EVENTS_MESSAGE_MAX);
	free(raw);
	rsn = events_clean_text(reason, EVENTS_REASON_MAX);
	if (timefmt_time_d(wall_now(), last, sizeof(last)) < 0)
		last[0] = '\0';
	rec->stats.emitted++;

	events_key(key, obj, tname, rsn, msg);
	n = lru_get(&rec->recs, key);
	if (n != NULL) {
		r = container_of(n, struct ev_rec, node);
		r->count++;
		if (r->pending) {
			/* Not sent yet: the queued entry carries the repeat. */
			it = r->pending;
			it->count = r->count;
			strlcpy0(it->last, last, sizeof(it->last));
			rec->stats.coalesced++;
			goto out;
		}
		it = item_new(rec, obj, tname, rsn, msg);
		it->op = EV_PATCH;
	} else {
		r = xcalloc(1, sizeof(*r));
		memcpy(r->node.key, key, sizeof(key));
		r->name = events_name(obj->name, ev_name_stamp(rec));
		r->ns = xstrdup(nonempty(obj->namespace) ? obj->namespace :
		    "default");
		r->count = 1;
		strlcpy0(r->first, last, sizeof(r->first));
		it = item_new(rec, obj, tname, rsn, msg);
		it->op = EV_POST;
		lru_add(&rec->recs, &r->node);
	}
	it->rec = r;
	it->name = xstrdup(r->name);
	it->ns = xstrdup(r->ns);
	strlcpy0(it->first, r->first, sizeof(it->first));
	strlcpy0(it->last, last, sizeof(it->last));
	it->count = r->count;
	r->pending = it;
	ev_enqueue(rec, it);
	ev_kick(rec);
out:
	free(msg);
	free(rsn);
}

void
events_emit(struct events *rec, const struct event_ref *obj,
    enum event_type type, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	events_vemit(rec, obj, type, reason, fmt, ap);
	va_end(ap);
}

/* ---- delivery ---------------------------------------------------------------- */

static void ev_done(struct kreq *r, void *arg);

static void
ev_send(struct events *rec, struct ev_item *it)
{
	struct event_ref ref = { it->api_version, it->kind, it->obj_ns,
		it->obj_name, it->uid, it->obj_rv };
	struct event_fields f = { &ref, it->type, it->reason, it->message,
		it->name, it->ns, rec->component, rec->instance, it->first,
		it->last, it->count };
	char *path, *body;
	struct kreq *r;

	if (it->op == EV_POST) {
		path = kres_path(&kres_events, it->ns, NULL, NULL);
		body = events_body(&f);
	} else {
		path = kres_path(&kres_events, it->ns, it->name, NULL);
		body = events_patch_body(it->count, it->last, it->message);
	}
	r = khttp_request(rec->http, ev_op_names[it->op], path, ev_done, it);
	kreq_set_body(r, it->op == EV_POST ? "application/json" :
	    "application/merge-patch+json", body, strlen(body));
	kreq_set_timeout(r, rec->request_timeout);
	kreq_set_retries(r, 0);		/* retries are ours, paced */
	free(path);
	free(body);
	it->req = r;
	it->tries++;
	list_append(&rec->inflight, it);
	kreq_start(r);
}

/* Sends what is due, up to max_inflight, one request per Event at a time;
 * arms the timer for the earliest entry still waiting out a retry. */
static void
ev_dispatch(struct events *rec)
{
	double now = ev_clock(rec), next = INFINITY;
	struct ev_item *it, *nx;

	if (rec->http == NULL)
		return;
	for (it = rec->queue.head; it; it = nx) {
		nx = it->next;
		if (rec->inflight.len >= rec->max_inflight)
			break;
		if (it->not_before > now) {
			if (it->not_before < next)
				next = it->not_before;
			continue;
		}
		if (it->rec && it->rec->inflight)
			continue;	/* its turn comes when that one ends */
		list_remove(&rec->queue, it);
		if (it->rec) {
			if (it->rec->pending == it)
				it->rec->pending = NULL;
			it->rec->inflight = it;
		}
		ev_send(rec, it);
	}
	ev_timer_stop(rec->loop, &rec->timer);
	if (next < INFINITY) {
		ev_timer_set(&rec->timer, next - now, 0.);
		ev_timer_start(rec->loop, &rec->timer);
	}
}

/* Puts it back at the head of the queue (it is older than anything
 * queued). A newer entry for the same Event is folded into it. */
static void
ev_requeue(struct events *rec, struct ev_item *it, double delay)
{
	struct ev_rec *r = it->rec;

	if (r && r->pending && r->pending != it) {
		struct ev_item *newer = r->pending;

		it->count = newer->count;
		strlcpy0(it->last, newer->last, sizeof(it->last));
		list_remove(&rec->queue, newer);
		item_free(newer);
	}
	if (r)
		r->pending = it;
	it->not_before = delay > 0 ? ev_clock(rec) + delay : 0;
	list_prepend(&rec->queue, it);
}

static void
ev_log_failure(struct events *rec, struct ev_item *it, const struct kreq *r,
    const char *what)
{
	char text[256];

	kwrite_error_text(r, text, sizeof(text));
	log_warn(what, "component", rec->component, "namespace", it->ns,
	    "event", it->name, "reason", it->reason, "method",
	    ev_op_names[it->op], "err", text);
}

static void
ev_done(struct kreq *r, void *arg)
{
	struct ev_item *it = arg;
	struct events *rec = it->owner;
	enum kwrite_outcome o = kwrite_classify(r);
	double delay;

	it->req = NULL;
	list_remove(&rec->inflight, it);
	if (it->rec && it->rec->inflight == it)
		it->rec->inflight = NULL;

	if (o == KW_OK) {
		if (it->op == EV_POST)
			rec->stats.created++;
		else
			rec->stats.patched++;
		item_free(it);
	} else if (o == KW_NOT_FOUND && it->op == EV_PATCH &&
	    it->converts < EVENTS_MAX_CONVERTS) {
		/* The Event expired (TTL) or was deleted: create it again. */
		it->op = EV_POST;
		it->converts++;
		ev_requeue(rec, it, 0);
	} else if (o == KW_EXISTS && it->op == EV_POST &&
	    it->converts < EVENTS_MAX_CONVERTS) {
		/* An earlier try did land: bring it up to date instead. */
		it->op = EV_PATCH;
		it->converts++;
		ev_requeue(rec, it, 0);
	} else if (o == KW_EXISTS) {
		item_free(it);		/* ignored, as client-go does */
	} else if (o == KW_RETRY && it->tries < rec->max_tries) {
		delay = rec->retry_interval;
		if (r->retry_after > delay)
			delay = r->retry_after < EVENTS_MAX_RETRY_AFTER ?
			    r->retry_after : EVENTS_MAX_RETRY_AFTER;
		rec->stats.retried++;
		ev_log_failure(rec, it, r, "event delivery failed, will retry");
		ev_requeue(rec, it, delay);
	} else {
		rec->stats.failed++;
		ev_log_failure(rec, it, r, "event not delivered");
		item_free(it);
	}
	ev_dispatch(rec);
	ev_drain_check(rec);
}
