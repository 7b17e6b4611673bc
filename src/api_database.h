/*
 * api_database.h - Database (api.md §8): one logical database on an
 * instance. Conventions in api.h.
 */
#ifndef DBP_API_DATABASE_H
#define DBP_API_DATABASE_H

#include "api.h"

struct api_pg_extension {
	char *name;
	char *schema;			/* default "public" */
	char *version;
};

struct api_pg_schema {
	char *name;
	char *owner;
};

struct api_pg_default_privilege {	/* §5.2 defaultPrivileges[] */
	char *role;
	char *schema;
	enum api_pg_object_type object_type;
	struct api_strv privileges;
};

struct api_pg_extension_status {	/* status.postgres.installedExtensions[] */
	char *name;
	char *version;
};

struct api_pg_database {	/* spec.postgres, §5.2 */
	bool set;
	char *encoding;			/* default UTF8 */
	char *lc_collate;
	char *lc_ctype;
	char *tablespace;		/* default pg_default */
	char *template_;		/* "template", default template0 */
	int32_t connection_limit;	/* default -1, >= -1 */
	bool is_template;
	bool allow_connections;		/* default true */
	struct api_pg_extension *extensions;
	size_t n_extensions;
	struct api_pg_schema *schemas;
	size_t n_schemas;
	struct api_pg_default_privilege *default_privileges;
	size_t n_default_privileges;
};

struct api_my_database {	/* spec.mysql, §6.2 */
	bool set;
	char *charset;			/* default utf8mb4 */
	char *collation;		/* default utf8mb4_unicode_ci */
	char *sql_mode;
	char *default_storage_engine;	/* default InnoDB */
};

struct api_database_spec {
	struct api_ref instance;	/* instanceRef */
	char *name;			/* 1..63, ^[a-zA-Z_][a-zA-Z0-9_]*$ */
	enum api_deletion_policy deletion_policy;	/* default Retain */
	bool deletion_protection;	/* default true */
	struct api_pg_database postgres;
	struct api_my_database mysql;
};

struct api_database_status {
	enum api_phase phase;	/* Pending, Creating, Ready, Failed, Deleting */
	int64_t observed_generation;
	char *message;
	struct {
		bool set;
		char *name;
		char *owner;
		int64_t size_bytes;
		int64_t created_at;
	} database;
	struct {
		bool set;
		char *encoding;
		char *collation;
		struct api_pg_extension_status *installed_extensions;
		size_t n_installed_extensions;
		struct api_strv schemas;
	} postgres;
	struct {
		bool set;
		char *charset;
		char *collation;
	} mysql;
	struct api_conditions conditions;
};

struct api_database {
	struct api_meta meta;
	struct api_database_spec spec;
	struct api_database_status status;
};

/*
 * Parses a whole Database object into *out (need not be initialised).
 * Beyond the schema: spec is required, instanceRef.name must not be empty,
 * default-privilege privileges are keywords, MySQL charset/collation are
 * plain names. Returns 0, or -1 with errors added to errs (may be NULL);
 * *out must be released either way.
 */
int api_database_parse(yajl_val obj, struct api_database *out,
    struct api_errs *errs);
void api_database_release(struct api_database *db);
/* Writes the status object (the value of "status"). */
void api_database_status_write(struct jw *w,
    const struct api_database_status *st);
/* Checks the spec against the engine of the referenced instance: the other
 * engine's block must not be set. Returns 0, or -1 with errors added. */
int api_database_check_engine(const struct api_database *db,
    enum api_engine engine, struct api_errs *errs);

#endif
