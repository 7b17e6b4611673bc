/*
 * api_restore.h - DatabaseRestore (api.md §13): a one-shot restore from a
 * DatabaseBackup or a raw path. Conventions in api.h.
 */
#ifndef DBP_API_RESTORE_H
#define DBP_API_RESTORE_H

#include "api.h"

struct api_pg_restore {		/* spec.postgres, §5.8 */
	bool set;
	bool drop_existing;
	bool create_database;		/* default true */
	bool data_only;
	bool schema_only;
	bool no_owner;			/* default true */
	bool no_privileges;
	struct api_map role_mapping;
	struct api_strv schemas;
	struct api_strv tables;
	int32_t jobs;			/* default 1, >= 1 */
	bool disable_triggers;
	bool analyze;			/* default true */
};

struct api_my_restore {		/* spec.mysql, §6.8 */
	bool set;
	bool drop_existing;
	bool create_database;		/* all but drop_existing default true */
	bool routines;
	bool triggers;
	bool events;
	bool disable_foreign_key_checks;
	bool disable_binlog;
};

struct api_restore_spec {
	struct api_ref backup;			/* backupRef */
	struct {
		bool set;
		struct api_storage storage;
		char *backup_path;
		struct api_compression compression;
		struct api_encryption encryption;
	} from_path;				/* fromPath */
	struct {
		bool set;
		struct api_ref instance;	/* instanceRef */
		char *database_name;
		bool in_place;
		struct api_ref database;	/* databaseRef */
	} target;
	struct {
		bool set;
		char *acknowledge_data_loss;
	} confirmation;
	int64_t active_deadline_seconds;	/* default 7200, >= 1 */
	struct api_pg_restore postgres;
	struct api_my_restore mysql;
};

struct api_restore_status {
	enum api_phase phase;	/* Pending, Running, Completed, Failed */
	int64_t started_at;
	int64_t completed_at;
	char *message;
	struct {
		bool set;
		char *source_backup;
		char *target_instance;
		char *target_database;
	} restore;
	struct {
		bool set;
		int32_t percentage;
		char *current_phase;
		int32_t tables_restored;
		int32_t tables_total;
	} progress;
	struct api_strv warnings;
	struct api_conditions conditions;
};

struct api_restore {
	struct api_meta meta;
	struct api_restore_spec spec;
	struct api_restore_status status;
};

/*
 * Parses a whole DatabaseRestore object into *out (need not be
 * initialised). Beyond the schema (the controller's InvalidSpec /
 * ConfirmationRequired / InvalidTarget cases, caught up front): exactly one
 * of backupRef / fromPath; target.inPlace needs
 * confirmation.acknowledgeDataLoss == API_DATA_LOSS_ACK and a
 * target.databaseRef or target.instanceRef; without inPlace a
 * target.instanceRef is required and target.databaseRef is rejected (it
 * would be ignored); fromPath into target.instanceRef needs
 * target.databaseName (there is no backup to take the name from);
 * databaseName is an identifier; dataOnly and schemaOnly exclude each
 * other; fromPath storage/encryption rules as for DatabaseBackup. Returns
 * 0, or -1 with errors added to errs (may be NULL); release *out either way.
 */
int api_restore_parse(yajl_val obj, struct api_restore *out,
    struct api_errs *errs);
void api_restore_release(struct api_restore *r);
/* Writes the status object (the value of "status"). */
void api_restore_status_write(struct jw *w,
    const struct api_restore_status *st);
/* The other engine's block must not be set (engine of the target
 * instance). Returns 0, or -1 with errors added. */
int api_restore_check_engine(const struct api_restore *r,
    enum api_engine engine, struct api_errs *errs);

#endif
