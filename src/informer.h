/*
 * informer.h - list+watch of one Kubernetes collection into a typed cache.
 *
 * Follows client-go's reflector: a paginated list (limit/continue), then a
 * watch from the list's resourceVersion with bookmarks; a watch that ends
 * normally is resumed from the last resourceVersion seen (event or
 * bookmark) without a relist; a 410 Expired (as an ERROR event or an HTTP
 * status) causes a relist whose result replaces the cache, objects that
 * vanished meanwhile being delivered as deletions; connection errors and
 * 429s back off (800 ms doubling to 30 s, with jitter) and re-watch from
 * the last resourceVersion.
 *
 * The cache keeps compact C structures: each object is decoded once by the
 * caller's decode function (which keeps only what the controllers need),
 * plus the identity fields below. Whole JSON documents are not kept.
 */
#ifndef DBP_INFORMER_H
#define DBP_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

struct khttp;
struct informer;

/* One cached object. Strings are owned by the cache. */
/* The four strings live in one block (namespace points at its start). */
struct kobj {
	char *namespace;	/* "" for cluster-scoped objects */
	char *name;
	char *uid;
	char *resource_version;
	long long generation;
	bool deleting;		/* metadata.deletionTimestamp is set */
	void *data;		/* what decode() returned (may be NULL) */
};

struct informer_ops {
	/* Decodes the parts of obj the controllers need into a new compact
	 * structure (or NULL when nothing beyond the identity is needed).
	 * Must not keep pointers into obj. */
	void *(*decode)(yajl_val obj, void *arg);
	/* Frees what decode() returned. */
	void (*release)(void *data, void *arg);
	/* Event handlers; objects are owned by the cache and valid only
	 * during the call (old and deleted ones are freed right after). */
	void (*on_add)(const struct kobj *o, void *arg);
	void (*on_update)(const struct kobj *old, const struct kobj *o, void *arg);
	void (*on_delete)(const struct kobj *o, void *arg);
	/* Called once when the first list has been applied (optional). */
	void (*on_synced)(void *arg);
};

struct informer_config {
	const char *name;		/* for logs and metrics, e.g. "databases" */
	/* Collection path without namespace: "/api/v1" or
	 * "/apis/dbops.dbprovision.io/v1alpha1". */
	const char *group_path;
	const char *resource;		/* plural, e.g. "databases" */
	const char *namespace;		/* NULL or "" for all namespaces */
	const char *label_selector;	/* optional, unescaped */
	const char *field_selector;	/* optional, unescaped */
	unsigned page_size;		/* list limit; 0 means 500 */
	double idle_timeout;		/* abort a silent watch after this; 0 = 180 s */
	unsigned watch_timeout_min;	/* watch timeoutSeconds range [min, 2*min); 0 = 300 */
};

struct informer_stats {
	unsigned long long lists;	/* list passes started */
	unsigned long long watches;	/* watch requests started */
	unsigned long long relists_410;	/* relists caused by 410 */
	unsigned long long watch_errors;/* watches that ended in error */
	unsigned long long events;	/* ADDED/MODIFIED/DELETED applied */
	unsigned long long bookmarks;
};

/* Creates an informer (not started). cfg strings are copied. */
struct informer *informer_new(struct khttp *http,
    const struct informer_config *cfg, const struct informer_ops *ops,
    void *arg);
void informer_start(struct informer *inf);
/* Stops list/watch requests and timers; the cache stays readable. */
void informer_stop(struct informer *inf);
/* Stops and frees the cache without calling handlers. */
void informer_free(struct informer *inf);

bool informer_synced(const struct informer *inf);
size_t informer_count(const struct informer *inf);
/* The cached object or NULL. ns may be NULL for cluster-scoped. */
const struct kobj *informer_get(const struct informer *inf, const char *ns,
    const char *name);
/* Calls fn for every cached object (order unspecified); fn must not change
 * the cache. */
void informer_foreach(const struct informer *inf,
    void (*fn)(const struct kobj *o, void *arg), void *arg);
const struct informer_stats *informer_stats(const struct informer *inf);
const char *informer_name(const struct informer *inf);
/* The resourceVersion the next watch would resume from ("" if none). */
const char *informer_resource_version(const struct informer *inf);

/* Extracts the identity fields of obj into o (strings malloc'ed); returns
 * -1 when metadata.name is missing. Exposed for tests. */
int kobj_from_json(struct kobj *o, yajl_val obj);
void kobj_release(struct kobj *o);

#endif
