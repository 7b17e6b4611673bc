/*
 * queue.c - work queue: a map from key to item for dedup and per-key state,
 * an intrusive FIFO of ready items, and a binary min-heap of delayed items.
 *
 * An item lives while it is ready, in flight, delayed, or has a retry count;
 * item_maybe_free() drops it once none of those holds.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

#define NOT_IN_HEAP ((size_t)-1)

struct queue_item {
	struct queue_key key;		/* strings point into strs[] */
	struct queue_item *next;	/* FIFO link while ready */
	double deadline;		/* while delayed */
	unsigned long long seq;		/* heap tie-break: first delayed first */
	size_t heap_idx;		/* NOT_IN_HEAP when not delayed */
	unsigned failures;
	bool ready;			/* in the FIFO */
	bool in_flight;
	bool dirty;			/* added while in flight */
	char strs[];			/* ns NUL name NUL */
};

/* Composite map key: kind, ns and name joined by 0x1f, which no Kubernetes
 * name or namespace can contain. Uses buf when it fits, else allocates into
 * *heap (the caller frees it). */
static const char *
queue_mkey(const struct queue_key *k, char *buf, size_t len, char **heap)
{
	const char *ns = k->ns ? k->ns : "";
	int n;

	*heap = NULL;
	n = snprintf(buf, len, "%d\x1f%s\x1f%s", k->kind, ns, k->name);
	if (n >= 0 && (size_t)n < len)
		return buf;
	*heap = xasprintf("%d\x1f%s\x1f%s", k->kind, ns, k->name);
	return *heap;
}

static struct queue_item *
queue_find(const struct queue *q, const struct queue_key *k)
{
	char buf[320], *heap;
	struct queue_item *it;

	it = map_get(&q->items, queue_mkey(k, buf, sizeof(buf), &heap));
	free(heap);
	return it;
}

static struct queue_item *
queue_get_or_create(struct queue *q, const struct queue_key *k)
{
	char buf[320], *heap;
	const char *mk = queue_mkey(k, buf, sizeof(buf), &heap);
	const char *ns = k->ns ? k->ns : "";
	struct queue_item *it = map_get(&q->items, mk);
	size_t nl, ml;

	if (it == NULL) {
		nl = strlen(ns);
		ml = strlen(k->name);
		it = xcalloc(1, sizeof(*it) + nl + ml + 2);
		memcpy(it->strs, ns, nl + 1);
		memcpy(it->strs + nl + 1, k->name, ml + 1);
		it->key.kind = k->kind;
		it->key.ns = it->strs;
		it->key.name = it->strs + nl + 1;
		it->heap_idx = NOT_IN_HEAP;
		map_put(&q->items, mk, it);
	}
	free(heap);
	return it;
}

static void
item_maybe_free(struct queue *q, struct queue_item *it)
{
	char buf[320], *heap;

	if (it->ready || it->in_flight || it->dirty ||
	    it->heap_idx != NOT_IN_HEAP || it->failures > 0)
		return;
	map_del(&q->items, queue_mkey(&it->key, buf, sizeof(buf), &heap));
	free(heap);
	free(it);
}

/* ---- heap ---- */

static bool
heap_less(const struct queue_item *a, const struct queue_item *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void
heap_set(struct queue *q, size_t i, struct queue_item *it)
{
	q->heap[i] = it;
	it->heap_idx = i;
}

static void
heap_up(struct queue *q, size_t i)
{
	struct queue_item *it = q->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!heap_less(it, q->heap[parent]))
			break;
		heap_set(q, i, q->heap[parent]);
		i = parent;
	}
	heap_set(q, i, it);
}

static void
heap_down(struct queue *q, size_t i)
{
	struct queue_item *it = q->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= q->heap_len)
			break;
		if (c + 1 < q->heap_len && heap_less(q->heap[c + 1], q->heap[c]))
			c++;
		if (!heap_less(q->heap[c], it))
			break;
		heap_set(q, i, q->heap[c]);
		i = c;
	}
	heap_set(q, i, it);
}

static void
heap_push(struct queue *q, struct queue_item *it)
{
	if (q->heap_len == q->heap_cap) {
		q->heap_cap = q->heap_cap ? q->heap_cap * 2 : 64;
		q->heap = xrealloc(q->heap, q->heap_cap * sizeof(*q->heap));
	}
	it->seq = q->seq++;
	q->heap[q->heap_len++] = it;
	heap_up(q, q->heap_len - 1);
}

static struct queue_item *
heap_pop(struct queue *q)
{
	struct queue_item *top = q->heap[0];

	q->heap_len--;
	if (q->heap_len > 0) {
		heap_set(q, 0, q->heap[q->heap_len]);
		heap_down(q, 0);
	}
	top->heap_idx = NOT_IN_HEAP;
	return top;
}

/* ---- queue ---- */

void
queue_init(struct queue *q, size_t max_in_flight)
{
	memset(q, 0, sizeof(*q));
	map_init(&q->items);
	q->max_in_flight = max_in_flight ? max_in_flight : 1;
	q->backoff = BACKOFF_QUEUE_PRESET;
	q->rand = NULL;
	tbucket_init(&q->bucket, TBUCKET_QUEUE_RATE, TBUCKET_QUEUE_BURST, 0);
}

void
queue_release(struct queue *q)
{
	map_release(&q->items, free);
	free(q->heap);
	memset(q, 0, sizeof(*q));
}

static void
fifo_push(struct queue *q, struct queue_item *it)
{
	it->ready = true;
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->ready++;
}

/* The add every path ends in, for an item already looked up. */
static void
item_add(struct queue *q, struct queue_item *it)
{
	if (it->ready || it->dirty)
		return;
	q->adds_total++;
	if (it->in_flight)
		it->dirty = true;
	else
		fifo_push(q, it);
}

void
queue_add(struct queue *q, const struct queue_key *key)
{
	if (q->shutdown)
		return;
	item_add(q, queue_get_or_create(q, key));
}

static void
item_add_after(struct queue *q, struct queue_item *it, double delay,
    double now)
{
	double deadline = now + delay;

	if (delay <= 0) {
		item_add(q, it);
		return;
	}
	if (it->heap_idx == NOT_IN_HEAP) {
		it->deadline = deadline;
		heap_push(q, it);
	} else if (deadline < it->deadline) {
		it->deadline = deadline;
		heap_up(q, it->heap_idx);
	}
}

void
queue_add_after(struct queue *q, const struct queue_key *key, double delay,
    double now)
{
	if (q->shutdown)
		return;
	item_add_after(q, queue_get_or_create(q, key), delay, now);
}

void
queue_add_rate_limited(struct queue *q, const struct queue_key *key,
    double now)
{
	struct queue_item *it;
	double d, b;

	if (q->shutdown)
		return;
	it = queue_get_or_create(q, key);
	d = backoff_delay(&q->backoff, it->failures,
	    q->rand ? q->rand() : rand_unit());
	if (it->failures < 4096)
		it->failures++;
	b = tbucket_reserve(&q->bucket, now);
	if (b > d)
		d = b;
	q->retries_total++;
	item_add_after(q, it, d, now);
}

void
queue_forget(struct queue *q, const struct queue_key *key)
{
	struct queue_item *it = queue_find(q, key);

	if (it == NULL)
		return;
	it->failures = 0;
	item_maybe_free(q, it);
}

unsigned
queue_retries(const struct queue *q, const struct queue_key *key)
{
	struct queue_item *it = queue_find(q, key);

	return it ? it->failures : 0;
}

const struct queue_key *
queue_pop(struct queue *q, double now)
{
	struct queue_item *it;

	if (q->shutdown)
		return NULL;
	while (q->heap_len > 0 && q->heap[0]->deadline <= now)
		item_add(q, heap_pop(q));
	if (q->in_flight >= q->max_in_flight || q->head == NULL)
		return NULL;
	it = q->head;
	q->head = it->next;
	if (q->head == NULL)
		q->tail = NULL;
	it->next = NULL;
	it->ready = false;
	it->in_flight = true;
	q->ready--;
	q->in_flight++;
	return &it->key;
}

void
queue_done(struct queue *q, const struct queue_key *key)
{
	struct queue_item *it = queue_find(q, key);

	if (it == NULL || !it->in_flight)
		return;
	it->in_flight = false;
	q->in_flight--;
	if (it->dirty) {
		it->dirty = false;
		fifo_push(q, it);
		return;
	}
	item_maybe_free(q, it);
}

double
queue_next_deadline(const struct queue *q, double now)
{
	if (q->shutdown)
		return -1;
	if (q->head != NULL && q->in_flight < q->max_in_flight)
		return now;
	if (q->heap_len > 0)
		return q->heap[0]->deadline < now ? now : q->heap[0]->deadline;
	return -1;
}

void
queue_shutdown(struct queue *q)
{
	q->shutdown = true;
}

size_t
queue_len(const struct queue *q)
{
	return q->ready;
}

size_t
queue_in_flight(const struct queue *q)
{
	return q->in_flight;
}

size_t
queue_delayed(const struct queue *q)
{
	return q->heap_len;
}
