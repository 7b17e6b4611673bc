/*
 * queue.h - the controllers' work queue (controller-runtime / client-go
 * workqueue semantics), as a pure data structure: time is passed in, there
 * is no libev inside. The daemon arms one ev_timer from
 * queue_next_deadline() after each call that changes the queue.
 *
 * A key is (kind, namespace, name). kind is the caller's small integer (an
 * api kind enum); namespace is "" (or NULL) for cluster-scoped objects;
 * name must not be NULL. The queue copies the strings.
 *
 * Rules:
 *  - A key waiting in the queue is not added twice (queue_add() dedups).
 *  - A key being processed ("in flight": popped, not yet queue_done()) is
 *    never handed out again until done; adding it marks it dirty and it
 *    goes to the back of the queue when queue_done() is called.
 *  - queue_add_after() delays an add; a key delayed twice keeps the earlier
 *    deadline. A delayed add is independent of the key being queued or in
 *    flight: at its deadline it is an ordinary queue_add().
 *  - queue_add_rate_limited() delays by the key's exponential backoff
 *    (BACKOFF_QUEUE_PRESET: 5 ms x2 up to 1000 s, one step per call) and by
 *    the overall token bucket (10 qps, burst 100), whichever is longer -
 *    controller-runtime's DefaultTypedControllerRateLimiter. queue_forget()
 *    resets the key's backoff (call it after a successful reconcile).
 *  - queue_pop() hands out ready keys in FIFO order, only while fewer than
 *    max_in_flight keys are in flight.
 *  - After queue_shutdown(), adds are ignored and queue_pop() returns NULL;
 *    queue_done() still works so in-flight work can finish.
 *
 * Times are double seconds on the caller's monotonic clock (ev_now()).
 * Dedup is a hash map, delays a binary heap: every call is O(1) or
 * O(log n) in the number of keys.
 */
#ifndef DBP_QUEUE_H
#define DBP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include "backoff.h"
#include "map.h"
#include "util.h"

struct queue_key {
	int kind;
	const char *ns;		/* "" when cluster-scoped */
	const char *name;
};

struct queue_item;

struct queue {
	struct map items;		/* private: every key the queue tracks */
	struct queue_item *head;	/* private: ready FIFO */
	struct queue_item *tail;
	struct queue_item **heap;	/* private: delayed keys by deadline */
	size_t heap_len, heap_cap;
	unsigned long long seq;		/* private: heap tie-break */
	size_t ready;			/* keys waiting to be popped */
	size_t in_flight;		/* keys popped and not done */
	size_t max_in_flight;		/* cap on in_flight (>= 1) */
	bool shutdown;

	/* Settings: may be changed after queue_init(). */
	struct backoff_params backoff;	/* per-key retry; BACKOFF_QUEUE_PRESET */
	double (*rand)(void);		/* jitter source; NULL = rand_unit() */
	struct tbucket bucket;		/* overall limit for rate-limited adds;
					 * tbucket_init(&q->bucket, 0, 0, 0)
					 * turns it off */

	/* Counters for metrics (read-only). */
	unsigned long long adds_total;	 /* adds that queued or dirtied a key */
	unsigned long long retries_total; /* queue_add_rate_limited() calls */
};

/* max_in_flight: how many keys may be processed at once (0 is taken as
 * 1). */
void queue_init(struct queue *q, size_t max_in_flight);
/* Frees every key. Keys returned by queue_pop() become invalid. */
void queue_release(struct queue *q);

void queue_add(struct queue *q, const struct queue_key *key);
/* delay <= 0 is queue_add(). */
void queue_add_after(struct queue *q, const struct queue_key *key,
    double delay, double now);
void queue_add_rate_limited(struct queue *q, const struct queue_key *key,
    double now);
/* Resets the key's retry count (the next rate-limited add waits 5 ms). */
void queue_forget(struct queue *q, const struct queue_key *key);
/* How many rate-limited adds since the last forget (NumRequeues). */
unsigned queue_retries(const struct queue *q, const struct queue_key *key);

/* Moves the delayed keys whose deadline is <= now into the queue, then
 * returns the next ready key and marks it in flight, or NULL when the queue
 * is empty, max_in_flight keys are in flight, or it is shut down. The key
 * (and its strings) is owned by the queue and valid until queue_done() for
 * it. */
const struct queue_key *queue_pop(struct queue *q, double now);
/* Ends processing of an in-flight key (from queue_pop(), or an equal key);
 * if it was added meanwhile, it is queued again. Not in flight: no-op. */
void queue_done(struct queue *q, const struct queue_key *key);

/* When queue_pop() may next return a key: `now` if it would now, else the
 * earliest delayed deadline (absolute), else -1 (nothing will become ready
 * by itself; the next add or done will change that). */
double queue_next_deadline(const struct queue *q, double now);

void queue_shutdown(struct queue *q);

/* ready keys, in-flight keys, delayed keys (gauges) */
size_t queue_len(const struct queue *q);
size_t queue_in_flight(const struct queue *q);
size_t queue_delayed(const struct queue *q);

#endif
