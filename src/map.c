/*
 * map.c - open addressing with linear probing. Deleted slots become
 * tombstones so that probe chains and running iterations stay intact; a
 * rehash (on growth) drops them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "map.h"

static char tomb_marker;
#define TOMB (&tomb_marker)
#define MIN_CAP 16

/* FNV-1a, then a murmur3 finaliser so the low bits (the mask) mix well. */
static uint64_t
map_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

void
map_init(struct map *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->len = 0;
	m->tombs = 0;
}

void
map_release(struct map *m, void (*free_value)(void *))
{
	size_t i;

	for (i = 0; i < m->cap; i++) {
		struct map_slot *sl = &m->slots[i];

		if (sl->key == NULL || sl->key == TOMB)
			continue;
		if (free_value)
			free_value(sl->value);
		free(sl->key);
	}
	free(m->slots);
	map_init(m);
}

/* Index of key's slot, or of the empty slot ending its probe chain. */
static size_t
map_find(const struct map *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1, i = (size_t)h & mask;

	for (;;) {
		struct map_slot *sl = &m->slots[i];

		if (sl->key == NULL)
			return i;
		if (sl->key != TOMB && sl->hash == h && strcmp(sl->key, key) == 0)
			return i;
		i = (i + 1) & mask;
	}
}

static void
map_rehash(struct map *m, size_t cap)
{
	struct map_slot *old = m->slots;
	size_t oldcap = m->cap, i;

	m->slots = xcalloc(cap, sizeof(*m->slots));
	m->cap = cap;
	m->tombs = 0;
	for (i = 0; i < oldcap; i++) {
		size_t j;

		if (old[i].key == NULL || old[i].key == TOMB)
			continue;
		j = (size_t)old[i].hash & (cap - 1);
		while (m->slots[j].key != NULL)
			j = (j + 1) & (cap - 1);
		m->slots[j] = old[i];
	}
	free(old);
}

void *
map_get(const struct map *m, const char *key)
{
	size_t i;

	if (m->len == 0)
		return NULL;
	i = map_find(m, key, map_hash(key));
	return m->slots[i].key ? m->slots[i].value : NULL;
}

bool
map_has(const struct map *m, const char *key)
{
	if (m->len == 0)
		return false;
	return m->slots[map_find(m, key, map_hash(key))].key != NULL;
}

void *
map_put(struct map *m, const char *key, void *value)
{
	uint64_t h = map_hash(key);
	size_t mask, i, tomb = SIZE_MAX;

	/* Keep live keys plus tombstones under 3/4 so probes stay short and
	 * an empty slot always ends a chain. */
	if ((m->len + m->tombs + 1) * 4 > m->cap * 3) {
		size_t cap = m->cap > MIN_CAP ? m->cap : MIN_CAP;

		while ((m->len + 1) * 2 > cap)
			cap *= 2;
		map_rehash(m, cap);
	}
	mask = m->cap - 1;
	for (i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct map_slot *sl = &m->slots[i];

		if (sl->key == NULL)
			break;
		if (sl->key == TOMB) {
			if (tomb == SIZE_MAX)
				tomb = i;
			continue;
		}
		if (sl->hash == h && strcmp(sl->key, key) == 0) {
			void *old = sl->value;

			sl->value = value;
			return old;
		}
	}
	if (tomb != SIZE_MAX) {
		i = tomb;
		m->tombs--;
	}
	m->slots[i].key = xstrdup(key);
	m->slots[i].value = value;
	m->slots[i].hash = h;
	m->len++;
	return NULL;
}

void *
map_del(struct map *m, const char *key)
{
	struct map_slot *sl;
	size_t mask, i;
	void *value;

	if (m->len == 0)
		return NULL;
	mask = m->cap - 1;
	i = map_find(m, key, map_hash(key));
	sl = &m->slots[i];
	if (sl->key == NULL)
		return NULL;
	value = sl->value;
	free(sl->key);
	sl->key = TOMB;
	sl->value = NULL;
	m->len--;
	m->tombs++;
	/* A tombstone followed by an empty slot ends no chain: empty it, and
	 * the tombstones before it too. Nothing moves, so iteration is safe. */
	if (m->slots[(i + 1) & mask].key == NULL) {
		while (m->slots[i].key == TOMB) {
			m->slots[i].key = NULL;
			m->tombs--;
			i = (i - 1) & mask;
		}
	}
	return value;
}

size_t
map_len(const struct map *m)
{
	return m->len;
}

bool
map_next(const struct map *m, size_t *pos, const char **key, void **value)
{
	for (; *pos < m->cap; (*pos)++) {
		struct map_slot *sl = &m->slots[*pos];

		if (sl->key == NULL || sl->key == TOMB)
			continue;
		if (key)
			*key = sl->key;
		if (value)
			*value = sl->value;
		(*pos)++;
		return true;
	}
	return false;
}
