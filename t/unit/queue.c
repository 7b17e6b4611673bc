#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "queue.h"
#include "tap.h"

static double fixed_r;

static double
fake_rand(void)
{
	return fixed_r;
}

static struct queue_key
K(const char *name)
{
	struct queue_key k = { 1, "ns", name };

	return k;
}

/* pop and return the name, or NULL */
static const char *
pop_name(struct queue *q, double now)
{
	const struct queue_key *k = queue_pop(q, now);

	return k ? k->name : NULL;
}

static int
near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

static void
test_fifo_dedup(void)
{
	struct queue q;
	struct queue_key a = K("a"), b = K("b"), c = K("c");
	struct queue_key other_kind = { 2, "ns", "a" }, other_ns = { 1, "x", "a" };
	struct queue_key cluster = { 1, NULL, "a" }, cluster2 = { 1, "", "a" };
	char buf[8] = "tmp";
	struct queue_key t = { 1, "ns", buf };
	const struct queue_key *k;

	queue_init(&q, 10);
	ok(queue_pop(&q, 0) == NULL, "empty queue pops NULL");
	is_int(queue_next_deadline(&q, 0), -1, "empty queue: no deadline");
	queue_add(&q, &a);
	queue_add(&q, &b);
	queue_add(&q, &a);
	queue_add(&q, &c);
	queue_add(&q, &b);
	is_int(queue_len(&q), 3, "duplicates are not queued twice");
	is_int(q.adds_total, 3, "adds_total counts real adds");
	ok(near(queue_next_deadline(&q, 7), 7), "ready key: deadline is now");
	is_str(pop_name(&q, 0), "a", "FIFO 1");
	is_str(pop_name(&q, 0), "b", "FIFO 2");
	is_str(pop_name(&q, 0), "c", "FIFO 3");
	ok(queue_pop(&q, 0) == NULL, "drained");
	is_int(queue_in_flight(&q), 3, "three in flight");
	queue_done(&q, &a);
	queue_done(&q, &b);
	queue_done(&q, &c);
	queue_done(&q, &c);
	is_int(queue_in_flight(&q), 0, "done (twice for c) leaves none in flight");
	is_int(map_len(&q.items), 0, "idle keys are freed");

	queue_add(&q, &a);
	queue_add(&q, &other_kind);
	queue_add(&q, &other_ns);
	queue_add(&q, &cluster);
	queue_add(&q, &cluster2);
	is_int(queue_len(&q), 4, "kind and namespace are part of the key; NULL ns == \"\"");
	queue_add(&q, &t);
	strcpy(buf, "XXX");
	while ((k = queue_pop(&q, 0)) != NULL)
		if (strcmp(k->name, "tmp") == 0)
			break;
	ok(k != NULL && strcmp(k->ns, "ns") == 0 && k->kind == 1,
	    "the queue copies the key strings");
	queue_release(&q);
}

static void
test_dirty(void)
{
	struct queue q;
	struct queue_key a = K("a"), b = K("b");
	const struct queue_key *k;

	queue_init(&q, 10);
	queue_add(&q, &a);
	queue_add(&q, &b);
	k = queue_pop(&q, 0);
	is_str(k ? k->name : NULL, "a", "a in flight");
	queue_add(&q, &a);
	is_int(queue_len(&q), 1, "re-adding an in-flight key does not queue it");
	is_str(pop_name(&q, 0), "b", "b is next, not a second a");
	ok(queue_pop(&q, 0) == NULL, "a is not handed out while in flight");
	queue_add(&q, &a);
	is_int(q.adds_total, 3, "a second add of a dirty key is deduplicated");
	queue_done(&q, k);
	is_int(queue_len(&q), 1, "done re-queues the dirty key");
	is_str(pop_name(&q, 0), "a", "a comes back");
	ok(queue_pop(&q, 0) == NULL, "only once");
	queue_done(&q, &a);
	queue_done(&q, &b);
	ok(queue_pop(&q, 0) == NULL, "clean done does not re-queue");
	is_int(map_len(&q.items), 0, "all freed");
	queue_release(&q);
}

static void
test_cap(void)
{
	struct queue q;
	struct queue_key a = K("a"), b = K("b"), c = K("c");

	queue_init(&q, 2);
	queue_add(&q, &a);
	queue_add(&q, &b);
	queue_add(&q, &c);
	is_str(pop_name(&q, 0), "a", "cap 2: first");
	is_str(pop_name(&q, 0), "b", "cap 2: second");
	ok(queue_pop(&q, 0) == NULL, "cap 2: third refused");
	is_int(queue_next_deadline(&q, 5), -1, "at the cap nothing becomes ready by time");
	is_int(queue_len(&q), 1, "c still waiting");
	queue_done(&q, &b);
	is_str(pop_name(&q, 0), "c", "after one done, c");
	queue_release(&q);

	queue_init(&q, 0);
	queue_add(&q, &a);
	queue_add(&q, &b);
	ok(pop_name(&q, 0) != NULL && queue_pop(&q, 0) == NULL, "cap 0 is taken as 1");
	queue_release(&q);
}

static void
test_delayed(void)
{
	struct queue q;
	struct queue_key a = K("a"), b = K("b"), c = K("c");

	queue_init(&q, 10);
	queue_add_after(&q, &a, 5, 100);
	is_int(queue_len(&q), 0, "delayed key is not ready");
	is_int(queue_delayed(&q), 1, "one delayed");
	ok(near(queue_next_deadline(&q, 100), 105), "deadline 105");
	ok(queue_pop(&q, 104.999) == NULL, "not before the deadline");
	is_str(pop_name(&q, 105), "a", "at the deadline");
	is_int(queue_delayed(&q), 0, "none delayed");
	queue_done(&q, &a);

	queue_add_after(&q, &b, 10, 100);	/* 110 */
	queue_add_after(&q, &b, 3, 101);	/* 104: earlier wins */
	queue_add_after(&q, &b, 20, 102);	/* 122: later ignored */
	is_int(queue_delayed(&q), 1, "one entry per key");
	ok(near(queue_next_deadline(&q, 102), 104), "earliest deadline wins");
	ok(queue_pop(&q, 103.9) == NULL, "b not before 104");
	is_str(pop_name(&q, 104), "b", "b at 104");
	ok(queue_pop(&q, 200) == NULL, "the later request did not survive");
	queue_done(&q, &b);

	/* several: deadline order, not insertion order */
	queue_add_after(&q, &a, 3, 0);
	queue_add_after(&q, &b, 1, 0);
	queue_add_after(&q, &c, 2, 0);
	ok(near(queue_next_deadline(&q, 0), 1), "earliest of three");
	is_str(pop_name(&q, 10), "b", "deadline order 1");
	is_str(pop_name(&q, 10), "c", "deadline order 2");
	is_str(pop_name(&q, 10), "a", "deadline order 3");
	queue_done(&q, &a);
	queue_done(&q, &b);
	queue_done(&q, &c);

	/* equal deadlines: first delayed, first out */
	queue_add_after(&q, &c, 1, 0);
	queue_add_after(&q, &a, 1, 0);
	queue_add_after(&q, &b, 1, 0);
	is_str(pop_name(&q, 1), "c", "same deadline order 1");
	is_str(pop_name(&q, 1), "a", "same deadline order 2");
	is_str(pop_name(&q, 1), "b", "same deadline order 3");
	queue_done(&q, &a);
	queue_done(&q, &b);
	queue_done(&q, &c);

	/* delayed add of a ready key merges; of an in-flight key dirties */
	queue_add(&q, &a);
	queue_add_after(&q, &a, 1, 0);
	is_str(pop_name(&q, 2), "a", "ready + delayed: one pop");
	ok(queue_pop(&q, 2) == NULL, "merged at the deadline");
	queue_add_after(&q, &a, 1, 2);
	ok(queue_pop(&q, 3) == NULL, "in flight: not handed out at its deadline");
	queue_done(&q, &a);
	is_str(pop_name(&q, 3), "a", "but re-queued on done");
	queue_done(&q, &a);

	queue_add_after(&q, &c, 0, 50);
	is_int(queue_len(&q), 1, "delay 0 adds at once");
	queue_add_after(&q, &b, -1, 50);
	is_int(queue_len(&q), 2, "negative delay adds at once");
	ok(near(queue_next_deadline(&q, 50), 50), "ready now");
	queue_release(&q);
}

static void
test_rate_limited(void)
{
	struct queue q;
	struct queue_key a = K("a"), b = K("b");
	char name[32];
	int i;

	queue_init(&q, 10);
	q.rand = fake_rand;
	fixed_r = 0.5;
	queue_add_rate_limited(&q, &a, 0);
	is_int(queue_retries(&q, &a), 1, "one retry");
	ok(near(queue_next_deadline(&q, 0), 0.005), "first retry after 5 ms");
	ok(queue_pop(&q, 0.004) == NULL, "not before 5 ms");
	is_str(pop_name(&q, 0.005), "a", "a after 5 ms");
	queue_done(&q, &a);
	queue_add_rate_limited(&q, &a, 1);
	ok(near(queue_next_deadline(&q, 1), 1.010), "second retry after 10 ms");
	queue_add_rate_limited(&q, &b, 1);
	ok(near(queue_next_deadline(&q, 1), 1.005), "other key has its own backoff");
	is_int(queue_retries(&q, &b), 1, "b one retry");
	is_str(pop_name(&q, 2), "b", "b first (earlier deadline)");
	is_str(pop_name(&q, 2), "a", "then a");
	queue_done(&q, &a);
	queue_done(&q, &b);
	queue_add_rate_limited(&q, &a, 3);
	ok(near(queue_next_deadline(&q, 3), 3.020), "third retry after 20 ms");
	is_int(queue_retries(&q, &a), 3, "three retries");
	is_int(q.retries_total, 4, "retries_total");
	queue_forget(&q, &a);
	is_int(queue_retries(&q, &a), 0, "forget resets");
	is_int(queue_delayed(&q), 1, "forget keeps a pending delayed add");
	queue_pop(&q, 4);
	queue_done(&q, &a);
	queue_add_rate_limited(&q, &a, 5);
	ok(near(queue_next_deadline(&q, 5), 5.005), "after forget: 5 ms again");
	queue_pop(&q, 6);
	queue_done(&q, &a);
	queue_forget(&q, &a);
	queue_forget(&q, &b);
	is_int(map_len(&q.items), 0, "forgotten idle keys are freed");

	for (i = 0; i < 20; i++)
		queue_add_rate_limited(&q, &a, 10);
	is_int(queue_retries(&q, &a), 20, "20 retries");
	queue_pop(&q, 10 + 1000 + 1);
	queue_done(&q, &a);
	queue_add_rate_limited(&q, &a, 2000);
	ok(near(queue_next_deadline(&q, 2000), 3000), "capped at 1000 s");
	queue_release(&q);

	/* jitter comes from the backoff parameters */
	queue_init(&q, 10);
	q.rand = fake_rand;
	q.backoff.jitter = 1.0;
	queue_add_rate_limited(&q, &a, 0);
	ok(near(queue_next_deadline(&q, 0), 0.0075), "jitter: 5 ms + 5 ms * 0.5");
	queue_release(&q);

	/* overall bucket: 10 qps, burst 100 */
	queue_init(&q, 1000);
	q.rand = fake_rand;
	for (i = 0; i < 150; i++) {
		struct queue_key k = { 1, "ns", name };

		snprintf(name, sizeof(name), "k%d", i);
		queue_add_rate_limited(&q, &k, 0);
	}
	ok(near(queue_next_deadline(&q, 0), 0.005), "first 100 at 5 ms");
	for (i = 0; i < 200; i++)
		if (queue_pop(&q, 0.005) == NULL)
			break;
	is_int(i, 100, "burst of 100 at 5 ms");
	ok(near(queue_next_deadline(&q, 0.005), 0.1), "101st waits for the bucket");
	for (i = 0; i < 200; i++)
		if (queue_pop(&q, 5.0) == NULL)
			break;
	is_int(i, 50, "the other 50 by 5 s");
	queue_release(&q);
}

static void
test_shutdown(void)
{
	struct queue q;
	struct queue_key a = K("a"), b = K("b"), c = K("c");
	const struct queue_key *k;

	queue_init(&q, 10);
	queue_add(&q, &a);
	queue_add(&q, &b);
	k = queue_pop(&q, 0);
	queue_shutdown(&q);
	ok(queue_pop(&q, 0) == NULL, "no keys after shutdown");
	is_int(queue_next_deadline(&q, 0), -1, "no deadline after shutdown");
	queue_add(&q, &c);
	queue_add_after(&q, &a, 1, 0);
	queue_add_rate_limited(&q, &a, 0);
	is_int(queue_len(&q), 1, "adds ignored after shutdown");
	is_int(queue_delayed(&q), 0, "delayed adds ignored after shutdown");
	queue_done(&q, k);
	is_int(queue_in_flight(&q), 0, "done still works");
	queue_release(&q);
}

static void
test_big(void)
{
	enum { N = 10000 };
	struct queue q;
	char name[32];
	static char seen[N];
	double last, now;
	int i, n, bad = 0, late = 0;
	const struct queue_key *k;

	queue_init(&q, 16);
	for (i = 0; i < N; i++) {
		struct queue_key key = { i % 3, "ns", name };

		snprintf(name, sizeof(name), "obj-%05d", i);
		queue_add(&q, &key);
	}
	for (i = N - 1; i >= 0; i--) {
		struct queue_key key = { i % 3, "ns", name };

		snprintf(name, sizeof(name), "obj-%05d", i);
		queue_add(&q, &key);
	}
	is_int(queue_len(&q), N, "10000 keys, each once");
	n = 0;
	for (;;) {
		const struct queue_key *batch[16];
		int j, m = 0;

		while (m < 16 && (k = queue_pop(&q, 0)) != NULL)
			batch[m++] = k;
		if (m == 0)
			break;
		if (queue_pop(&q, 0) != NULL)
			bad++;
		for (j = 0; j < m; j++) {
			snprintf(name, sizeof(name), "obj-%05d", n);
			if (strcmp(batch[j]->name, name) != 0 || batch[j]->kind != n % 3)
				bad++;
			n++;
			/* re-add half while in flight: they come back once */
			if (n <= N && n % 2 == 0)
				queue_add(&q, batch[j]);
			queue_done(&q, batch[j]);
		}
		if (n == N)
			break;
	}
	is_int(n, N, "all 10000 handed out");
	is_int(bad, 0, "in FIFO order, never more than 16 at once");
	is_int(queue_len(&q), N / 2, "the re-added half is queued again");
	while ((k = queue_pop(&q, 0)) != NULL)
		queue_done(&q, k);
	is_int(map_len(&q.items), 0, "nothing tracked after draining");

	/* delayed: pseudo-random deadlines, popped in deadline order */
	srand(7);
	for (i = 0; i < N; i++) {
		struct queue_key key = { 0, "ns", name };

		snprintf(name, sizeof(name), "d-%05d", i);
		queue_add_after(&q, &key, 1 + (rand() % 100000) / 100.0, 0);
		queue_add_after(&q, &key, 2000, 0);	/* later: ignored */
	}
	is_int(queue_delayed(&q), N, "10000 delayed keys");
	memset(seen, 0, sizeof(seen));
	last = 0;
	n = 0;
	bad = 0;
	for (now = 0; now <= 1001; now += 0.5) {
		while ((k = queue_pop(&q, now)) != NULL) {
			int idx = atoi(k->name + 2);

			if (seen[idx]++)
				bad++;
			n++;
			queue_done(&q, k);
		}
		if (queue_next_deadline(&q, now) >= 0 &&
		    queue_next_deadline(&q, now) < last)
			late++;
		if (queue_next_deadline(&q, now) >= 0)
			last = queue_next_deadline(&q, now);
	}
	is_int(n, N, "every delayed key popped");
	is_int(bad, 0, "each exactly once");
	is_int(late, 0, "deadlines come in order");
	is_int(map_len(&q.items), 0, "nothing tracked after draining");

	/* rate-limited at size, then forgotten */
	tbucket_init(&q.bucket, 0, 0, 0);
	for (i = 0; i < N; i++) {
		struct queue_key key = { 0, "ns", name };

		snprintf(name, sizeof(name), "r-%05d", i);
		queue_add_rate_limited(&q, &key, 0);
		queue_add_rate_limited(&q, &key, 0);
	}
	is_int(queue_delayed(&q), N, "rate-limited keys delayed once each");
	n = 0;
	while ((k = queue_pop(&q, 1)) != NULL) {
		if (queue_retries(&q, k) != 2)
			bad++;
		queue_done(&q, k);
		n++;
	}
	is_int(n, N, "all popped");
	is_int(bad, 0, "each with two retries");
	is_int(map_len(&q.items), N, "retry counts keep keys tracked");
	for (i = 0; i < N; i++) {
		struct queue_key key = { 0, "ns", name };

		snprintf(name, sizeof(name), "r-%05d", i);
		queue_forget(&q, &key);
	}
	is_int(map_len(&q.items), 0, "forget frees them");

	/* release with everything in every state: ASan checks the leaks */
	for (i = 0; i < 100; i++) {
		struct queue_key key = { 0, "ns", name };

		snprintf(name, sizeof(name), "x-%d", i);
		if (i % 3 == 0)
			queue_add(&q, &key);
		else if (i % 3 == 1)
			queue_add_after(&q, &key, 5, 0);
		else
			queue_add_rate_limited(&q, &key, 0);
	}
	queue_pop(&q, 0);
	queue_release(&q);
	ok(1, "release with ready, delayed, in-flight and retried keys");
}

int
main(void)
{
	test_fifo_dedup();
	test_dirty();
	test_cap();
	test_delayed();
	test_rate_limited();
	test_shutdown();
	test_big();
	return done_testing();
}
