/*
 * events.h - a recorder for core/v1 Events, aggregated the way client-go's
 * tools/record does it (kube-api.md 8.1 and 8.3).
 *
 *  - Spam filter: one token bucket per (component, instance, involved
 *    object, type): burst 25, then one event per 5 minutes; the excess is
 *    dropped locally (counted in stats.filtered).
 *  - Dedup: an LRU (4096) of recent events keyed by involved object (uid
 *    included), type, reason and message. A repeat PATCHes the Event it
 *    created (merge patch: count, lastTimestamp, message); if that Event
 *    is gone (404) it is POSTed again under the same name.
 *  - Delivery is asynchronous and bounded: a queue with a cap (the oldest
 *    entry is dropped when full, stats.dropped), a few requests in flight,
 *    at most one per Event, transport errors, 429 and 5xx retried a few
 *    times ~10 s apart, other Status errors not retried, AlreadyExists
 *    turned into a PATCH. Repeats of an Event still waiting in the queue
 *    update that entry instead of adding one.
 *
 * Emitting never blocks and never fails for the caller; the recorder keeps
 * copies of everything it is given.
 */
#ifndef DBP_EVENTS_H
#define DBP_EVENTS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct khttp;
struct events;

/* The involved object. namespace NULL/"" means cluster-scoped (the Event
 * then goes to "default"). Only name is required. */
struct event_ref {
	const char *api_version;
	const char *kind;
	const char *namespace;
	const char *name;
	const char *uid;
	const char *resource_version;
};

enum event_type {
	EVENT_NORMAL,
	EVENT_WARNING,
	EVENT__COUNT
};

/* "Normal" / "Warning". */
const char *event_type_name(enum event_type t);

#define EVENTS_MESSAGE_MAX 1024	/* bytes, cut on a UTF-8 boundary */
#define EVENTS_REASON_MAX 128

struct events_config {
	const char *component;		/* source.component, reportingComponent */
	const char *instance;		/* source.host, reportingInstance;
					 * NULL: the host name */
	size_t queue_max;		/* queued Events (1024) */
	size_t cache_max;		/* LRU entries, dedup and spam (4096) */
	unsigned max_inflight;		/* requests at once (3) */
	unsigned max_tries;		/* per Event for retryable errors (6) */
	double retry_interval;		/* seconds between tries (10) */
	double request_timeout;		/* seconds per request (10) */
	double spam_burst;		/* 25 */
	double spam_rate;		/* events per second after the burst
					 * (1/300); <= 0 disables the filter */
	double (*clock)(void);		/* monotonic seconds; NULL: mono_now */
};

void events_config_defaults(struct events_config *cfg);

struct events_stats {
	unsigned long long emitted;	/* accepted by the spam filter */
	unsigned long long filtered;	/* dropped by the spam filter */
	unsigned long long coalesced;	/* merged into a queued entry */
	unsigned long long dropped;	/* queue full: oldest dropped */
	unsigned long long created;	/* POST succeeded */
	unsigned long long patched;	/* PATCH succeeded */
	unsigned long long retried;	/* tries repeated after an error */
	unsigned long long failed;	/* given up (Status error, tries out) */
};

/* Creates a recorder; cfg strings are copied. http NULL gives a recorder
 * that queues but never sends (tests). */
struct events *events_new(struct khttp *http, const struct events_config *cfg);
/* Cancels requests in flight and drops the queue (no callbacks). Not from
 * inside an events_drain() callback. */
void events_free(struct events *rec);

/* Records one occurrence. rec NULL is a no-op. The message is formatted,
 * cut to EVENTS_MESSAGE_MAX bytes and made valid UTF-8. */
void events_emit(struct events *rec, const struct event_ref *obj,
    enum event_type type, const char *reason, const char *fmt, ...)
    DBP_PRINTF(5, 6);
void events_vemit(struct events *rec, const struct event_ref *obj,
    enum event_type type, const char *reason, const char *fmt, va_list ap)
    DBP_PRINTF(5, 0);

/* Queued entries plus requests in flight. */
size_t events_pending(const struct events *rec);
const struct events_stats *events_stats(const struct events *rec);
/* Calls done once, from the loop, when nothing is pending any more or
 * after timeout seconds, whichever comes first (for shutdown). A second
 * call replaces the first (which is then not called). */
void events_drain(struct events *rec, double timeout, void (*done)(void *arg),
    void *arg);

/* The count recorded for an identical event (0 if none is cached). */
long long events_cached_count(struct events *rec, const struct event_ref *obj,
    enum event_type type, const char *reason, const char *message);

/* ---- pure helpers, exposed for tests ----------------------------------- */

/* Cache keys are a digest of their fields (every field length-prefixed,
 * so no two tuples share an input): 128 bits of SHA-256 in hex. */
#define EVENTS_KEY_LEN	33
/* Dedup key: involved object (uid included), type, reason, message. */
void events_key(char out[EVENTS_KEY_LEN], const struct event_ref *obj,
    const char *type, const char *reason, const char *message);
/* Spam key: component, instance, involved object, type. */
void events_spam_key(char out[EVENTS_KEY_LEN], const char *component,
    const char *instance, const struct event_ref *obj, const char *type);
/* Copies s into a malloc'ed string of at most max bytes that is valid
 * UTF-8: invalid bytes become '?', and a cut never splits a character. */
char *events_clean_text(const char *s, size_t max);

/* One Event as POSTed. */
struct event_fields {
	const struct event_ref *obj;
	const char *type;
	const char *reason;
	const char *message;
	const char *name;		/* metadata.name */
	const char *namespace;		/* metadata.namespace */
	const char *component;
	const char *instance;
	const char *first;		/* metav1.Time */
	const char *last;
	long long count;
};

/* The POST body. malloc'ed. */
char *events_body(const struct event_fields *e);
/* The merge patch of a repeat. malloc'ed. */
char *events_patch_body(long long count, const char *last,
    const char *message);
/* Event name "<name>.<hex unix ns>", or "<uuid-ish hex>" when that would
 * be longer than 253 bytes. malloc'ed. */
char *events_name(const char *obj_name, unsigned long long unix_ns);

#endif
