/*
 * api_common.h - helpers shared by the src/api_*.c parsers and status
 * writers. Private to those files: other modules include api.h and the
 * per-kind headers only.
 *
 * A parse walks the JSON tree with a `struct api_pc`, which carries the
 * current field path and the error list. Field readers take the parent
 * object and a key, apply the CRD default when the key is absent (or
 * null), check the JSON type and the schema rules, and report an error
 * naming the field path when something is wrong. None of them fails hard:
 * the output keeps the default (or stays zero) and the parse goes on.
 */
#ifndef DBP_API_COMMON_H
#define DBP_API_COMMON_H

#include <stdint.h>

#include "api.h"

#define API_PATH_MAX 512

struct api_pc {
	struct api_errs *errs;	/* may be NULL: errors are only counted */
	size_t nerr;		/* errors reported through this context */
	const char *ns;		/* referring object's namespace (borrowed) */
	size_t len;
	char path[API_PATH_MAX];
};

/* Flags of the field readers. */
#define API_REQ		0x1u	/* listed in the parent's `required` */
#define API_NONEMPTY	0x2u	/* strings: minLength 1 */

void api_pc_init(struct api_pc *pc, struct api_errs *errs);
/* Path stack: each push returns a mark for api_pc_pop(). Keys are joined
 * with '.', indexes and map keys as [i] / [key]. Overlong paths are cut. */
size_t api_pc_push(struct api_pc *pc, const char *key);
size_t api_pc_push_index(struct api_pc *pc, size_t i);
size_t api_pc_push_mapkey(struct api_pc *pc, const char *key);
void api_pc_pop(struct api_pc *pc, size_t mark);
/* Reports an error at the current path plus key (key NULL: the current
 * path itself). */
void api_pc_err(struct api_pc *pc, const char *key, const char *fmt, ...)
    DBP_PRINTF(3, 4);

/* Member of obj, or NULL when obj is not an object, the key is absent or
 * its value is null. */
yajl_val api_member(yajl_val obj, const char *key);

/* The member when it is an object / array; NULL when absent (error if
 * API_REQ) or of another type (error). */
yajl_val api_pc_object(struct api_pc *pc, yajl_val obj, const char *key,
    unsigned flags);
yajl_val api_pc_array(struct api_pc *pc, yajl_val obj, const char *key,
    unsigned flags);
/* An array of objects: allocates one zeroed element of `size` bytes per
 * JSON item (so indexes match the manifest), reports non-object items and
 * calls fn(pc, item, element) for the others with the path at key[i].
 * Returns the elements (NULL when absent or empty), their count in *n. */
void *api_pc_objects(struct api_pc *pc, yajl_val obj, const char *key,
    size_t size, void (*fn)(struct api_pc *, yajl_val, void *), size_t *n,
    unsigned flags);
/* *out = copy of the member, else copy of def (NULL allowed). Returns true
 * when the member was present with the right type. */
bool api_pc_string(struct api_pc *pc, yajl_val obj, const char *key,
    char **out, const char *def, unsigned flags);
bool api_pc_bool(struct api_pc *pc, yajl_val obj, const char *key,
    bool *out, bool def);
/* Integers must be JSON integers within [min, max] and the 32/64-bit
 * range of the field's format. */
bool api_pc_int32(struct api_pc *pc, yajl_val obj, const char *key,
    int32_t *out, int32_t def, int64_t min, int64_t max, unsigned flags);
bool api_pc_int64(struct api_pc *pc, yajl_val obj, const char *key,
    int64_t *out, int64_t def, int64_t min, unsigned flags);
/* Returns the index in names[1..count-1], def when absent, 0 on error. */
int api_pc_enum(struct api_pc *pc, yajl_val obj, const char *key,
    const char *const names[], int count, int def, unsigned flags);
/* []string; min_items > 0 also makes an empty array an error. */
bool api_pc_strv(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_strv *out, size_t min_items, unsigned flags);
/* map[string]string. */
bool api_pc_map(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_map *out);
/* date-time string into Unix seconds (0 when absent or invalid). */
bool api_pc_time(struct api_pc *pc, yajl_val obj, const char *key,
    int64_t *out, unsigned flags);
/* A Go duration string (kept as text; syntax checked). */
bool api_pc_duration(struct api_pc *pc, yajl_val obj, const char *key,
    char **out, const char *def, unsigned flags);
/* SQL identifier: minLength 1, maxLength 63, ^[a-zA-Z_][a-zA-Z0-9_]*$
 * (Database name, username, roleName). With API_REQ it must be present;
 * without, an absent or empty value passes. */
void api_pc_ident(struct api_pc *pc, yajl_val obj, const char *key,
    char **out, unsigned flags);
/* Required privilege list: minItems 1, each a keyword of letters, '_' and
 * single spaces (they are spliced into GRANT statements). */
void api_pc_privileges(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_strv *out);
/* Checks s against ^[a-zA-Z0-9_]+$ (MySQL charset / collation names, which
 * are spliced into SQL); reports at key. NULL passes. */
void api_pc_charset_name(struct api_pc *pc, const char *key, const char *s);
/* Compares the top-level kind / apiVersion when present. */
void api_pc_type_meta(struct api_pc *pc, yajl_val obj, enum api_kind kind);
/* status.phase restricted to the phases whose bits (1u << phase) are set
 * in allowed. */
enum api_phase api_pc_phase(struct api_pc *pc, yajl_val obj, const char *key,
    unsigned allowed);

/* Blocks of api.h. Each one zeroes *out first; `set` tells presence. */
void api_pc_meta(struct api_pc *pc, yajl_val obj, struct api_meta *out);
/* A part of a kind's object (spec, status) parsed into out. */
typedef void (*api_pc_part_fn)(struct api_pc *pc, yajl_val v, void *out);
/* The envelope every kind shares: obj must be a JSON object with the
 * kind's apiVersion and kind, metadata, a required spec (parsed by spec)
 * and an optional status (parsed by status); the part parsers push their
 * own path ("spec", "status"). Returns 0, or -1 when anything was wrong. */
int api_pc_envelope(yajl_val obj, enum api_kind kind, struct api_errs *errs,
    struct api_meta *meta, api_pc_part_fn spec, void *spec_out,
    api_pc_part_fn status, void *status_out);
void api_pc_ref(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_ref *out, unsigned flags);
void api_pc_secret_key(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_secret_key *out, unsigned flags);
void api_pc_cred_ref(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_cred_ref *out);
void api_pc_tls(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_tls *out);
void api_pc_health_check(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_health_check *out);
void api_pc_storage(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_storage *out, unsigned flags);
void api_pc_compression(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_compression *out);
void api_pc_encryption(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_encryption *out);
void api_pc_password_config(struct api_pc *pc, yajl_val obj,
    const char *key, struct api_password_config *out);
void api_pc_password_rotation(struct api_pc *pc, yajl_val obj,
    const char *key, struct api_password_rotation *out);
void api_pc_retention(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_retention *out);
void api_pc_pg_grants(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_pg_grants *out);
void api_pc_my_grants(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_my_grants *out);
void api_pc_conditions(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_conditions *out);
/* The DatabaseBackup spec object v (path already at it): shared by
 * DatabaseBackup and the DatabaseBackupSchedule template (api_backup.c). */
struct api_backup_spec;
void api_pc_backup_spec(struct api_pc *pc, yajl_val v,
    struct api_backup_spec *out);

void api_ref_release(struct api_ref *r);
void api_secret_key_release(struct api_secret_key *s);
void api_cred_ref_release(struct api_cred_ref *c);
void api_tls_release(struct api_tls *t);
void api_storage_release(struct api_storage *s);
void api_encryption_release(struct api_encryption *e);
void api_password_config_release(struct api_password_config *p);
void api_password_rotation_release(struct api_password_rotation *p);
void api_retention_release(struct api_retention *r);
void api_pg_grants_release(struct api_pg_grants *g);
void api_my_grants_release(struct api_my_grants *g);

/* Reports "<path>: not allowed: the instance engine is <engine>" when a
 * block for the other engine is set (used by the _check_engine functions). */
void api_pc_engine_blocks(struct api_pc *pc, const char *prefix,
    bool has_postgres, bool has_mysql, enum api_engine engine);

/* Status writers: key + value, omitted when the value is the zero value
 * (NULL or "", 0, false, empty list, enum 0), like Go's omitempty. */
void api_w_str(struct jw *w, const char *key, const char *s);
void api_w_int(struct jw *w, const char *key, int64_t v);
void api_w_bool(struct jw *w, const char *key, bool v);
void api_w_time(struct jw *w, const char *key, int64_t t);
void api_w_enum(struct jw *w, const char *key, const char *const names[],
    int v);
void api_w_strv(struct jw *w, const char *key, const struct api_strv *s);

#endif
