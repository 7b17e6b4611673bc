/*
 * api_backup.h - DatabaseBackup (api.md §12): a one-shot logical backup of
 * a Database. Its spec is also the DatabaseBackupSchedule template.
 * Conventions in api.h.
 */
#ifndef DBP_API_BACKUP_H
#define DBP_API_BACKUP_H

#include "api.h"

struct api_pg_backup {		/* spec.postgres, §5.7 */
	bool set;
	enum api_pg_backup_method method;	/* default pg_dump */
	enum api_pg_dump_format format;		/* default custom */
	int32_t jobs;			/* default 1, >= 1 */
	bool data_only;
	bool schema_only;
	bool blobs;			/* default true */
	bool no_owner;
	bool no_privileges;
	struct api_strv schemas;
	struct api_strv exclude_schemas;
	struct api_strv tables;
	struct api_strv exclude_tables;
	char *lock_wait_timeout;	/* default "60s" */
	bool no_sync;
};

struct api_my_backup {		/* spec.mysql, §6.7 */
	bool set;
	enum api_my_backup_method method;	/* default mysqldump */
	bool single_transaction;	/* default true */
	bool quick;			/* default true */
	bool lock_tables;
	bool routines;			/* default true */
	bool triggers;			/* default true */
	bool events;			/* default true */
	bool extended_insert;		/* default true */
	enum api_my_gtid_purged set_gtid_purged;	/* default AUTO */
	struct api_strv databases;
	struct api_strv tables;
	struct api_strv exclude_tables;
};

struct api_backup_spec {
	struct api_ref database;	/* databaseRef */
	struct api_storage storage;
	struct api_compression compression;
	struct api_encryption encryption;
	char *ttl;			/* Go duration, >= 0 */
	int64_t active_deadline_seconds;	/* default 3600, >= 1 */
	struct api_pg_backup postgres;
	struct api_my_backup mysql;
};

struct api_backup_status {
	enum api_phase phase;	/* Pending, Running, Completed, Failed */
	int64_t started_at;
	int64_t completed_at;
	char *message;
	struct {
		bool set;
		char *path;
		int64_t size_bytes;
		int64_t compressed_size_bytes;
		char *checksum;
		char *format;
	} backup;
	struct {
		bool set;
		char *instance;
		char *database;
		char *engine;
		char *version;
		int64_t timestamp;
	} source;
	int64_t expires_at;
	struct api_conditions conditions;
};

struct api_backup {
	struct api_meta meta;
	struct api_backup_spec spec;
	struct api_backup_status status;
};

/*
 * Parses a whole DatabaseBackup object into *out (need not be
 * initialised). Beyond the schema: spec is required; storage has exactly
 * the block its type names; encryption.enabled needs secretRef; ttl is a
 * non-negative Go duration; dataOnly and schemaOnly exclude each other;
 * jobs > 1 needs format directory; methods other than pg_dump / mysqldump
 * are rejected (no implementation). Returns 0, or -1 with errors added to
 * errs (may be NULL); release *out either way.
 */
int api_backup_parse(yajl_val obj, struct api_backup *out,
    struct api_errs *errs);
void api_backup_release(struct api_backup *b);
/* Frees what a spec holds (also used for the schedule template). */
void api_backup_spec_release(struct api_backup_spec *s);
/* Writes the status object (the value of "status"). */
void api_backup_status_write(struct jw *w,
    const struct api_backup_status *st);
/* The other engine's block must not be set (engine of the Database's
 * instance). Returns 0, or -1 with errors added. */
int api_backup_check_engine(const struct api_backup *b,
    enum api_engine engine, struct api_errs *errs);

#endif
