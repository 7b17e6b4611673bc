/*
 * json.h - thin helpers over yajl: a tree parser with path lookups, and a
 * generator that writes into memory.
 *
 * Trees come from yajl_tree (owned by the caller, freed with json_free()).
 * Lookups never fail loudly: a missing key or a value of another type gives
 * NULL / false, so callers test once where they use the value.
 */
#ifndef DBP_JSON_H
#define DBP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "util.h"

/* Parses len bytes of text (need not be NUL-terminated). Returns a tree the
 * caller frees with json_free() (never yajl_tree_free()), or NULL with a
 * message in err. The nodes are yajl's public ones; every string value
 * and key also carries its decoded length and a text check, so that an
 * escaped NUL ("a\u0000b") or invalid UTF-8 is seen, not silently cut. */
yajl_val json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(yajl_val v);

/* The text check of a string node made by json_parse() (TEXT_OK for NULL
 * or a node of another type); its decoded length in *len when not NULL.
 * A string that is not TEXT_OK reads shorter as a C string than it is:
 * never act on it. */
enum text_check json_str_check(yajl_val v, size_t *len);
/* The same for the i-th key of an object. */
enum text_check json_key_check(yajl_val obj, size_t i);

/* Walks object keys: json_get(v, "metadata", "name", NULL). */
yajl_val json_get(yajl_val v, ...);
/* Walks a dotted path: json_getp(v, "metadata.name"). Keys cannot contain
 * dots; use json_get() for those (label keys, annotations). */
yajl_val json_getp(yajl_val v, const char *path);

/* Typed reads of one node; NULL/false when v is NULL or of another type. */
const char *json_str(yajl_val v);
bool json_int(yajl_val v, long long *out);
bool json_double(yajl_val v, double *out);
bool json_bool(yajl_val v, bool *out);
bool json_is_null(yajl_val v);
/* Number of items of an array or keys of an object (0 otherwise). */
size_t json_len(yajl_val v);
/* i-th item of an array, NULL when out of range or not an array. */
yajl_val json_at(yajl_val v, size_t i);
/* i-th key/value of an object. */
const char *json_key_at(yajl_val v, size_t i);
yajl_val json_val_at(yajl_val v, size_t i);

/* Convenience: a string member ("metadata.name") or NULL. */
const char *json_gets(yajl_val v, const char *path);

/* A generator writing compact JSON to memory. */
struct jw {
	yajl_gen g;
};

void jw_init(struct jw *w);
void jw_release(struct jw *w);
void jw_obj_open(struct jw *w);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w);
void jw_arr_close(struct jw *w);
void jw_key(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s);	/* NULL writes null */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, long long v);
void jw_double(struct jw *w, double v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/* Writes a copy of a parsed tree (or null for NULL). */
void jw_value(struct jw *w, yajl_val v);
/* key + value shorthands */
void jw_kstr(struct jw *w, const char *k, const char *s);
void jw_kint(struct jw *w, const char *k, long long v);
void jw_kbool(struct jw *w, const char *k, bool v);
/* The text so far; owned by the generator, valid until the next call. */
const char *jw_text(struct jw *w, size_t *len);
/* A malloc'ed copy of the text; the generator is released. */
char *jw_finish(struct jw *w, size_t *len);

/* Escapes s as a JSON string (with quotes) into a malloc'ed string. */
char *json_quote(const char *s);

/* RFC 6901 JSON-Pointer escaping of one reference token ("~"->"~0",
 * "/"->"~1"); returns a malloc'ed string. */
char *json_pointer_escape(const char *token);

#endif
