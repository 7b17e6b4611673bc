#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "map.h"
#include "tap.h"

static int freed;

static void
count_free(void *v)
{
	freed++;
	free(v);
}

static void
test_basic(void)
{
	struct map m = MAP_INIT;
	int a = 1, b = 2, c = 3;
	char key[8] = "alpha";

	ok(map_get(&m, "x") == NULL, "empty map: get gives NULL");
	ok(!map_has(&m, "x"), "empty map: has is false");
	ok(map_del(&m, "x") == NULL, "empty map: del gives NULL");
	is_int(map_len(&m), 0, "empty map: len 0");

	ok(map_put(&m, key, &a) == NULL, "put a new key returns NULL");
	strcpy(key, "zzz");
	ok(map_get(&m, "alpha") == &a, "the map keeps its own copy of the key");
	ok(map_get(&m, "zzz") == NULL, "the caller's buffer is not referenced");
	ok(map_put(&m, "alpha", &b) == &a, "replacing returns the old value");
	ok(map_get(&m, "alpha") == &b, "replaced value");
	is_int(map_len(&m), 1, "replace keeps len");
	ok(map_put(&m, "", &c) == NULL, "empty string is a key");
	ok(map_get(&m, "") == &c, "get the empty key");
	ok(map_put(&m, "nullval", NULL) == NULL, "NULL value stored");
	ok(map_has(&m, "nullval") && map_get(&m, "nullval") == NULL, "has tells NULL values apart");
	ok(!map_has(&m, "alpha2"), "prefix-extended key absent");
	is_int(map_len(&m), 3, "len 3");
	ok(map_del(&m, "alpha") == &b, "del returns the value");
	ok(!map_has(&m, "alpha"), "deleted key gone");
	ok(map_del(&m, "alpha") == NULL, "second del gives NULL");
	is_int(map_len(&m), 2, "len after del");
	map_release(&m, NULL);
	is_int(map_len(&m), 0, "release empties");
	ok(map_put(&m, "again", &a) == NULL && map_get(&m, "again") == &a, "reusable after release");
	ok(map_del(&m, "again") == &a, "del the only key");
	is_int(m.tombs, 0, "a deleted slot that ends its chain is no tombstone");
	map_release(&m, NULL);
}

static void
test_many(void)
{
	struct map m;
	char k[32];
	int i, bad = 0, n;
	size_t pos = 0, cap;
	const char *key;
	void *val;

	map_init(&m);
	for (i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "kind/ns%d/name-%d", i % 97, i);
		if (map_put(&m, k, (void *)(intptr_t)(i + 1)) != NULL)
			bad++;
	}
	is_int(bad, 0, "100000 distinct keys are all new");
	is_int(map_len(&m), 100000, "len 100000");
	for (i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "kind/ns%d/name-%d", i % 97, i);
		if (map_get(&m, k) != (void *)(intptr_t)(i + 1))
			bad++;
	}
	is_int(bad, 0, "every key maps to its value");
	for (i = 0; i < 100000; i += 2) {
		snprintf(k, sizeof(k), "kind/ns%d/name-%d", i % 97, i);
		if (map_del(&m, k) != (void *)(intptr_t)(i + 1))
			bad++;
	}
	is_int(bad, 0, "deleting the even keys");
	is_int(map_len(&m), 50000, "len 50000");
	for (i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "kind/ns%d/name-%d", i % 97, i);
		if (map_has(&m, k) != (i % 2 == 1))
			bad++;
	}
	is_int(bad, 0, "odd keys remain, even keys gone");

	n = 0;
	while (map_next(&m, &pos, &key, &val)) {
		int v = (int)(intptr_t)val - 1;

		snprintf(k, sizeof(k), "kind/ns%d/name-%d", v % 97, v);
		if (strcmp(k, key) != 0 || v % 2 != 1)
			bad++;
		n++;
	}
	is_int(n, 50000, "iteration visits every live key once");
	is_int(bad, 0, "iteration pairs keys with their values");

	/* delete while iterating, including the current key */
	pos = 0;
	n = 0;
	while (map_next(&m, &pos, &key, &val)) {
		int v = (int)(intptr_t)val - 1;

		n++;
		if (v % 3 == 0)
			map_del(&m, key);
	}
	is_int(n, 50000, "deleting during iteration skips nothing");
	for (i = 1; i < 100000; i += 2) {
		snprintf(k, sizeof(k), "kind/ns%d/name-%d", i % 97, i);
		if (map_has(&m, k) != (i % 3 != 0))
			bad++;
	}
	is_int(bad, 0, "exactly the multiples of 3 were deleted");
	map_release(&m, NULL);

	/* churn: tombstones must not grow the table forever */
	map_init(&m);
	for (i = 0; i < 200000; i++) {
		snprintf(k, sizeof(k), "churn-%d", i);
		map_put(&m, k, NULL);
		if (i >= 10) {
			snprintf(k, sizeof(k), "churn-%d", i - 10);
			map_del(&m, k);
		}
	}
	cap = m.cap;
	is_int(map_len(&m), 10, "churn leaves 10 keys");
	ok(cap <= 64, "insert/delete churn keeps the table small");
	if (cap > 64)
		diag("cap %zu", cap);
	map_release(&m, NULL);
}

static void
test_release_values(void)
{
	struct map m;
	char k[16];
	int i;

	map_init(&m);
	for (i = 0; i < 50; i++) {
		snprintf(k, sizeof(k), "v%d", i);
		map_put(&m, k, xstrdup(k));
	}
	free(map_del(&m, "v7"));
	freed = 0;
	map_release(&m, count_free);
	is_int(freed, 49, "release calls free_value once per live value");
}

int
main(void)
{
	test_basic();
	test_many();
	test_release_values();
	return done_testing();
}
