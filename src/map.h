/*
 * map.h - string-keyed hash map with void * values (open addressing,
 * linear probing, tombstones).
 *
 * The map owns a copy of each key (map_put() allocates it; map_del() and
 * map_release() free it). Values belong to the caller: the map never frees
 * them, except through the callback given to map_release().
 *
 * Iteration order is unspecified. While iterating, map_del() of any key
 * (including the current one) is safe; map_put() of a new key is not
 * (it may grow the table).
 */
#ifndef DBP_MAP_H
#define DBP_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

struct map_slot {
	char *key;		/* NULL: empty; a private marker: deleted */
	void *value;
	uint64_t hash;
};

struct map {
	struct map_slot *slots;	/* NULL until the first put */
	size_t cap;		/* power of two, or 0 */
	size_t len;		/* live keys */
	size_t tombs;		/* deleted slots not yet reclaimed */
};

#define MAP_INIT { NULL, 0, 0, 0 }

void map_init(struct map *m);
/* Frees the table and the keys; calls free_value (if not NULL) on every
 * value. The map can be reused after map_init(). */
void map_release(struct map *m, void (*free_value)(void *));

/* The value for key, or NULL when absent (use map_has() if NULL values are
 * stored). */
void *map_get(const struct map *m, const char *key);
bool map_has(const struct map *m, const char *key);
/* Inserts or replaces. Returns the value replaced, or NULL if the key was
 * new. Copies key when it is new. */
void *map_put(struct map *m, const char *key, void *value);
/* Removes key; returns its value, or NULL when absent. */
void *map_del(struct map *m, const char *key);
size_t map_len(const struct map *m);

/* Walks the entries: start with *pos = 0; returns false at the end. key
 * and value may be NULL when not wanted. */
bool map_next(const struct map *m, size_t *pos, const char **key,
    void **value);

#endif
