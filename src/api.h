/*
 * api.h - the typed C model of dbops.dbprovision.io/v1alpha1: what every
 * kind shares (kind table, metadata, references, storage/compression/
 * encryption blocks, the PostgreSQL and MySQL option blocks used by several
 * kinds, conditions) and the error list the parsers fill. One header per
 * kind (api_instance.h ... api_schedule.h) declares that kind's structs and
 * its parse / release / status_write functions.
 *
 * Conventions shared by all api_* structs:
 *  - Ownership: every char * and array in a struct is owned by it (malloc'ed)
 *    and freed by the kind's _release(). A NULL string means "absent"; the
 *    parsers store "" only when the JSON said "".
 *  - Defaults: a parser applies the CRD defaults exactly like the API server
 *    does (structural defaulting): a field is defaulted only when its parent
 *    object is present. An explicit false / 0 is kept, never re-defaulted.
 *  - Optional blocks are embedded structs with a `set` flag (true when the
 *    JSON object was present); everything inside an unset block is zero.
 *  - Enums: value 0 (`*_NONE`) means absent or invalid; every enum has a
 *    parallel name table indexed by value (names[0] is "").
 *  - Times are Unix seconds (int64_t); 0 means absent.
 *  - JSON null is treated as absent, like the API server's pruning does.
 */
#ifndef DBP_API_H
#define DBP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "util.h"

#define API_GROUP		"dbops.dbprovision.io"
#define API_VERSION		"v1alpha1"
#define API_GROUP_VERSION	"dbops.dbprovision.io/v1alpha1"

/* Metadata keys of api.md §2.1. */
#define API_ANN_SKIP_RECONCILE	"dbops.dbprovision.io/skip-reconcile"
#define API_ANN_PAUSE_RECONCILE	"dbops.dbprovision.io/pause-reconcile"
#define API_ANN_FORCE_DELETE	"dbops.dbprovision.io/force-delete"
#define API_ANN_FORCE_DELETE_CONFIRM "dbops.dbprovision.io/force-delete-confirm"
#define API_LABEL_SCHEDULE	"dbops.dbprovision.io/schedule"
#define API_LABEL_SCHEDULED_BACKUP "dbops.dbprovision.io/scheduled-backup"
#define API_LABEL_DATABASE	"dbops.dbprovision.io/database"
/* Value of DatabaseRestore spec.confirmation.acknowledgeDataLoss. */
#define API_DATA_LOSS_ACK	"I-UNDERSTAND-DATA-LOSS"

/* ---- kinds ---------------------------------------------------------- */

enum api_kind {
	API_INSTANCE,
	API_DATABASE,
	API_USER,
	API_ROLE,
	API_GRANT,
	API_BACKUP,
	API_RESTORE,
	API_SCHEDULE,
	API_KIND__COUNT
};

struct api_kind_info {
	const char *kind;	/* "DatabaseInstance" */
	const char *list_kind;	/* "DatabaseInstanceList" */
	const char *plural;	/* "databaseinstances" (REST path segment) */
	const char *singular;	/* "databaseinstance" (also the controller name) */
	const char *short_name;	/* "dbi" */
	const char *finalizer;	/* "dbops.dbprovision.io/instance-protection" */
};

/* Static table entries; k must be < API_KIND__COUNT. */
const struct api_kind_info *api_kind_info(enum api_kind k);
const char *api_kind_name(enum api_kind k);
const char *api_kind_plural(enum api_kind k);
const char *api_kind_finalizer(enum api_kind k);
/* Looks a kind up by its Kind, plural, singular or short name (exact
 * match); returns 0, or -1 when unknown. */
int api_kind_lookup(const char *name, enum api_kind *out);

/* ---- enumerations (api.md §3) --------------------------------------- */

enum api_engine { API_ENGINE_NONE, API_ENGINE_POSTGRES, API_ENGINE_MYSQL,
	API_ENGINE_COCKROACHDB, API_ENGINE__COUNT };
extern const char *const api_engine_names[API_ENGINE__COUNT];

enum api_deletion_policy { API_DELETION_NONE, API_DELETION_RETAIN,
	API_DELETION_DELETE, API_DELETION_SNAPSHOT, API_DELETION__COUNT };
extern const char *const api_deletion_policy_names[API_DELETION__COUNT];

/* One phase enum for all kinds; each kind accepts a subset in status. */
enum api_phase { API_PHASE_NONE, API_PHASE_PENDING, API_PHASE_CREATING,
	API_PHASE_RUNNING, API_PHASE_READY, API_PHASE_COMPLETED,
	API_PHASE_FAILED, API_PHASE_DELETING, API_PHASE_ACTIVE,
	API_PHASE_PAUSED, API_PHASE__COUNT };
extern const char *const api_phase_names[API_PHASE__COUNT];

enum api_storage_type { API_STORAGE_NONE, API_STORAGE_GCS, API_STORAGE_S3,
	API_STORAGE_AZURE, API_STORAGE_PVC, API_STORAGE__COUNT };
extern const char *const api_storage_type_names[API_STORAGE__COUNT];

enum api_compression_algo { API_COMPRESSION_NONE, API_COMPRESSION_GZIP,
	API_COMPRESSION_LZ4, API_COMPRESSION_ZSTD, API_COMPRESSION__COUNT };
extern const char *const api_compression_algo_names[API_COMPRESSION__COUNT];

enum api_encryption_algo { API_ENCRYPTION_NONE, API_ENCRYPTION_AES_256_GCM,
	API_ENCRYPTION_AES_256_CBC, API_ENCRYPTION__COUNT };
extern const char *const api_encryption_algo_names[API_ENCRYPTION__COUNT];

enum api_secret_format { API_SECRET_FORMAT_NONE, API_SECRET_FORMAT_KUBERNETES,
	API_SECRET_FORMAT_VAULT, API_SECRET_FORMAT_EXTERNAL_SECRETS,
	API_SECRET_FORMAT__COUNT };
extern const char *const api_secret_format_names[API_SECRET_FORMAT__COUNT];

enum api_concurrency { API_CONCURRENCY_NONE, API_CONCURRENCY_ALLOW,
	API_CONCURRENCY_FORBID, API_CONCURRENCY_REPLACE, API_CONCURRENCY__COUNT };
extern const char *const api_concurrency_names[API_CONCURRENCY__COUNT];

enum api_tls_mode { API_TLS_NONE, API_TLS_DISABLE, API_TLS_REQUIRE,
	API_TLS_VERIFY_CA, API_TLS_VERIFY_FULL, API_TLS__COUNT };
extern const char *const api_tls_mode_names[API_TLS__COUNT];

enum api_pg_object_type { API_PG_OBJ_NONE, API_PG_OBJ_TABLES,
	API_PG_OBJ_SEQUENCES, API_PG_OBJ_FUNCTIONS, API_PG_OBJ_TYPES,
	API_PG_OBJ__COUNT };
extern const char *const api_pg_object_type_names[API_PG_OBJ__COUNT];

enum api_pg_sslmode { API_PG_SSL_NONE, API_PG_SSL_DISABLE, API_PG_SSL_ALLOW,
	API_PG_SSL_PREFER, API_PG_SSL_REQUIRE, API_PG_SSL_VERIFY_CA,
	API_PG_SSL_VERIFY_FULL, API_PG_SSL__COUNT };
extern const char *const api_pg_sslmode_names[API_PG_SSL__COUNT];

enum api_pg_backup_method { API_PG_METHOD_NONE, API_PG_METHOD_PG_DUMP,
	API_PG_METHOD_PG_BASEBACKUP, API_PG_METHOD__COUNT };
extern const char *const api_pg_backup_method_names[API_PG_METHOD__COUNT];

enum api_pg_dump_format { API_PG_FORMAT_NONE, API_PG_FORMAT_PLAIN,
	API_PG_FORMAT_CUSTOM, API_PG_FORMAT_DIRECTORY, API_PG_FORMAT_TAR,
	API_PG_FORMAT__COUNT };
extern const char *const api_pg_dump_format_names[API_PG_FORMAT__COUNT];

enum api_my_tls { API_MY_TLS_NONE, API_MY_TLS_DISABLED, API_MY_TLS_PREFERRED,
	API_MY_TLS_REQUIRED, API_MY_TLS_SKIP_VERIFY, API_MY_TLS__COUNT };
extern const char *const api_my_tls_names[API_MY_TLS__COUNT];

enum api_my_auth_plugin { API_MY_AUTH_NONE, API_MY_AUTH_NATIVE_PASSWORD,
	API_MY_AUTH_CACHING_SHA2_PASSWORD, API_MY_AUTH_SHA256_PASSWORD,
	API_MY_AUTH__COUNT };
extern const char *const api_my_auth_plugin_names[API_MY_AUTH__COUNT];

enum api_my_grant_level { API_MY_LEVEL_NONE, API_MY_LEVEL_GLOBAL,
	API_MY_LEVEL_DATABASE, API_MY_LEVEL_TABLE, API_MY_LEVEL_COLUMN,
	API_MY_LEVEL_PROCEDURE, API_MY_LEVEL_FUNCTION, API_MY_LEVEL__COUNT };
extern const char *const api_my_grant_level_names[API_MY_LEVEL__COUNT];

enum api_my_backup_method { API_MY_METHOD_NONE, API_MY_METHOD_MYSQLDUMP,
	API_MY_METHOD_XTRABACKUP, API_MY_METHOD_MYSQLPUMP, API_MY_METHOD__COUNT };
extern const char *const api_my_backup_method_names[API_MY_METHOD__COUNT];

enum api_my_gtid_purged { API_MY_GTID_NONE, API_MY_GTID_OFF, API_MY_GTID_ON,
	API_MY_GTID_AUTO, API_MY_GTID__COUNT };
extern const char *const api_my_gtid_purged_names[API_MY_GTID__COUNT];

enum api_cond_status { API_COND_NONE, API_COND_TRUE, API_COND_FALSE,
	API_COND_UNKNOWN, API_COND__COUNT };
extern const char *const api_cond_status_names[API_COND__COUNT];

/* Index of s in names[1..count-1] (exact, case-sensitive), or 0. */
int api_enum_lookup(const char *const names[], int count, const char *s);

/* ---- errors --------------------------------------------------------- */

/* One validation error: a JSON-path-like field path, Kubernetes style
 * (`spec.grants[2].privileges[0]`, map keys as `labels[app]`), and a short
 * message (`must be >= -1`). Both owned by the list. */
struct api_err {
	char *path;
	char *msg;
};

/* Errors collected by a parse. At most API_ERRS_MAX are kept; further ones
 * are only counted in `dropped`, so hostile input cannot grow it. */
#define API_ERRS_MAX 64
struct api_errs {
	struct api_err *v;
	size_t n, cap;
	size_t dropped;
};

void api_errs_init(struct api_errs *e);
void api_errs_release(struct api_errs *e);
/* Adds one error; path may be "" (the object itself). */
void api_errs_add(struct api_errs *e, const char *path, const char *fmt, ...)
    DBP_PRINTF(3, 4);
/* Total number of errors seen (kept + dropped). */
size_t api_errs_count(const struct api_errs *e);
/* The message of the first error at exactly this path, or NULL. */
const char *api_errs_find(const struct api_errs *e, const char *path);
/* Renders every error as one line for a condition message:
 * "spec.a: msg; spec.b: msg (and 3 more)". Control characters are replaced
 * by spaces and the result is cut to at most max bytes (0 = 32768, the
 * condition message limit) at a UTF-8 boundary. Malloc'ed, never NULL
 * ("" when empty). */
char *api_errs_join(const struct api_errs *e, size_t max);

/* ---- small containers ---------------------------------------------- */

struct api_strv {		/* []string */
	char **v;
	size_t n;
};

struct api_kv {
	char *key;
	char *val;
};

struct api_map {		/* map[string]string, in document order */
	struct api_kv *v;
	size_t n;
};

void api_strv_release(struct api_strv *s);
bool api_strv_contains(const struct api_strv *s, const char *str);
/* Appends a copy of str (the vector stays NULL-terminated). */
void api_strv_push(struct api_strv *s, const char *str);
void api_map_release(struct api_map *m);
/* Value for key, or NULL. */
const char *api_map_get(const struct api_map *m, const char *key);

/* Replaces *dst with a malloc'ed copy of src (NULL allowed), freeing the
 * old value. For controllers editing status strings. */
void api_set_str(char **dst, const char *src);

/* ---- times ---------------------------------------------------------- */

/* Times in the structs are Unix seconds; the parsers read them with
 * timefmt_parse() (RFC 3339 as metav1.Time decodes it, fraction dropped)
 * and the writers format them like metav1.Time ("2026-01-06T10:00:00Z").
 * Durations (ttl, MySQL timeouts) stay text, checked with duration_parse(). */

/* ---- metadata ------------------------------------------------------- */

struct api_owner_ref {
	char *api_version;
	char *kind;
	char *name;
	char *uid;
	bool controller;
	bool block_owner_deletion;
};

/* What the controllers need from metadata. Labels and annotations are kept
 * whole (selectors and templates need them); the keys of api.md §2.1 are
 * also decoded into flags. */
struct api_meta {
	/* name, ns, uid and resource_version point into one block (block);
	 * each is NULL when absent. */
	char *name;
	char *ns;
	char *uid;
	char *resource_version;
	char *block;
	int64_t generation;
	int64_t creation_timestamp;
	int64_t deletion_timestamp;
	bool deleting;		/* deletionTimestamp present */
	struct api_strv finalizers;
	struct api_map labels;
	struct api_map annotations;
	struct api_owner_ref *owners;
	size_t n_owners;
	/* annotation skip-reconcile or pause-reconcile is exactly "true" */
	bool skip_reconcile;
	/* annotation force-delete is exactly "true" */
	bool force_delete;
};

void api_meta_release(struct api_meta *m);
bool api_meta_has_finalizer(const struct api_meta *m, const char *finalizer);
/* The owner reference with controller: true, or NULL. */
const struct api_owner_ref *api_meta_controller(const struct api_meta *m);

/* ---- references ----------------------------------------------------- */

/* InstanceReference, DatabaseReference, UserReference, BackupReference,
 * and the Secret references. `ns` is the namespace to use: the reference's
 * own namespace when given, else the referring object's (metadata.namespace),
 * so callers never apply the rule themselves. For Secret references that
 * have no namespace field (admin/TLS/S3 Secrets) it is always the referring
 * object's namespace. */
struct api_ref {
	bool set;
	char *name;
	char *ns;
};

/* SecretKeySelector / ExistingPasswordSecret (api.md §4.1, §4.19). */
struct api_secret_key {
	bool set;
	char *name;
	char *ns;
	char *key;
};

/* CredentialSecretRef (§4.3): keys default only when `keys` is present;
 * the effective key names are username/password otherwise. */
struct api_cred_ref {
	bool set;
	char *name;
	char *ns;		/* always the instance's namespace */
	bool keys_set;
	char *username_key;	/* default "username" */
	char *password_key;	/* default "password" */
};

/* ---- shared config blocks (§4) -------------------------------------- */

struct api_tls {		/* §4.5-4.7 */
	bool set;
	bool enabled;
	enum api_tls_mode mode;			/* default disable */
	struct {
		bool set;
		char *name;
		char *ns;			/* the instance's namespace */
		bool keys_set;
		char *ca;			/* default "ca.crt" */
		char *cert;
		char *key;
	} secret;				/* secretRef */
};

struct api_health_check {	/* §4.8 */
	bool set;
	bool enabled;			/* default true */
	int32_t interval_seconds;	/* default 30, >= 5 */
	int32_t timeout_seconds;	/* default 5, >= 1 */
};

struct api_storage {		/* §4.10-4.14 */
	bool set;
	enum api_storage_type type;
	struct {
		bool set;
		char *bucket;
		char *prefix;
		struct api_secret_key secret;		/* secretRef */
	} gcs;
	struct {
		bool set;
		char *bucket;
		char *region;
		char *prefix;
		char *endpoint;
		bool force_path_style;
		struct {
			bool set;
			char *name;
			char *ns;	/* the backup/restore namespace */
			bool keys_set;
			char *access_key;	/* default AWS_ACCESS_KEY_ID */
			char *secret_key;	/* default AWS_SECRET_ACCESS_KEY */
		} secret;				/* secretRef */
	} s3;
	struct {
		bool set;
		char *container;
		char *storage_account;
		char *prefix;
		struct api_ref secret;			/* secretRef */
	} azure;
	struct {
		bool set;
		char *claim_name;
		char *sub_path;
	} pvc;
};

struct api_compression {	/* §4.15 */
	bool set;
	bool enabled;				/* default true */
	enum api_compression_algo algorithm;	/* default gzip */
	int32_t level;				/* default 6, 1..9 */
};

struct api_encryption {		/* §4.16 */
	bool set;
	bool enabled;
	enum api_encryption_algo algorithm;	/* default aes-256-gcm */
	struct api_secret_key secret;		/* secretRef */
};

struct api_secret_template {	/* §4.17 */
	bool set;
	char *type;			/* default "Opaque" */
	struct api_map labels;
	struct api_map annotations;
	struct api_map data;
};

struct api_password_config {	/* §4.18, DatabaseUser spec.passwordSecret */
	bool set;
	bool generate;			/* default true */
	int32_t length;			/* default 32, 8..128 */
	bool include_special_chars;	/* default true */
	char *exclude_chars;
	char *secret_name;
	char *secret_namespace;
	enum api_secret_format format;	/* default kubernetes */
	struct api_secret_template secret_template;
};

struct api_password_rotation {	/* §4.19 */
	bool set;
	bool enabled;
	char *schedule;
	char *max_age;
};

struct api_retention {		/* §4.19 RetentionPolicy, all >= 0 */
	bool set;
	int32_t keep_last;
	int32_t keep_hourly;
	int32_t keep_daily;
	int32_t keep_weekly;
	int32_t keep_monthly;
	int32_t keep_yearly;
	char *min_age;
};

/* ---- PostgreSQL / MySQL blocks shared by several kinds (§5, §6) ----- */

struct api_pg_grant {		/* §5.5 */
	char *database;
	char *schema;
	struct api_strv tables;
	struct api_strv sequences;
	struct api_strv functions;
	struct api_strv privileges;	/* >= 1 item */
	bool with_grant_option;
};

struct api_pg_grants {
	struct api_pg_grant *v;
	size_t n;
};

struct api_my_grant {		/* §6.5 */
	enum api_my_grant_level level;
	char *database;
	char *table;
	struct api_strv columns;
	char *procedure;
	char *function;
	struct api_strv privileges;	/* >= 1 item */
	bool with_grant_option;
};

struct api_my_grants {
	struct api_my_grant *v;
	size_t n;
};

/* ---- conditions (§4.20) --------------------------------------------- */

struct api_condition {
	char *type;
	enum api_cond_status status;
	int64_t observed_generation;	/* omitted from JSON when 0 */
	int64_t last_transition_time;
	char *reason;
	char *message;
};

struct api_conditions {
	struct api_condition *v;
	size_t n;
};

void api_conditions_release(struct api_conditions *c);
/* The entry of that type, or NULL. */
const struct api_condition *api_conditions_get(const struct api_conditions *c,
    const char *type);
/* The original's rule (§4.20): if an entry of `type` exists and status,
 * reason or message differ, replace it with lastTransitionTime = now;
 * if all three are equal leave it (only observedGeneration is refreshed);
 * unknown types are appended. observed_generation is stored as given.
 * Returns true when anything changed. message NULL means "". */
bool api_conditions_set(struct api_conditions *c, const char *type,
    enum api_cond_status status, const char *reason, const char *message,
    int64_t observed_generation, int64_t now);
/* Removes every entry of that type; returns true if one was removed. */
bool api_conditions_remove(struct api_conditions *c, const char *type);
/* Writes `conditions` as the original does (type, status,
 * observedGeneration if non-zero, lastTransitionTime, reason, message;
 * every required key always present). Writes nothing when empty. */
void api_conditions_write(struct jw *w, const struct api_conditions *c);

#endif
