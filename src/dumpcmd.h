/*
 * dumpcmd.h - what the backup and restore children are run with: the
 * argv and environment of pg_dump, pg_restore, psql, mysqldump /
 * mariadb-dump and mysql / mariadb (behavior.md 2.4, 2.5), and the
 * artefact's name (behavior.md 4.6, api.md 4.21). Pure: no I/O, no clock.
 *
 * Options come straight from the API structs (api_backup.h,
 * api_restore.h); connections from the engine's parameter structs
 * (pgconn.h, myconn.h), so a child connects exactly as the operator's own
 * session to that instance does: same host, port, user and TLS mode and
 * files.
 *
 * Rules every builder follows:
 *  - no shell: every user-supplied name (schema, table, database) is one
 *    argv element of its own, after its option ("-t", "name") or as
 *    "--opt=name"; MySQL's positional names come after "--";
 *  - names are refused when empty, not UTF-8, holding a control character,
 *    or starting with '-' (a tool could take them for an option);
 *  - the password never appears in argv: it goes in the environment
 *    (PGPASSWORD, MYSQL_PWD) or, when the caller gives a file path, in a
 *    0600 file the caller writes with dumpcmd_pgpass() / dumpcmd_my_cnf()
 *    (PGPASSFILE, --defaults-file);
 *  - the environment is complete: a child gets exactly dumpcmd.env
 *    (proc.h), so nothing of the daemon's (a PGSERVICE, a ~/.my.cnf read
 *    through HOME) changes what it connects to. MySQL tools get
 *    --no-defaults for the same reason;
 *  - every declared option either has its effect or the builder fails
 *    with a message naming the field ("postgres.roleMapping: ...").
 *
 * Deliberate differences from the original's command lines:
 *  - no -v: stderr then carries only warnings and errors, which is what
 *    the 4 KiB stderr tail (proc.h) is for;
 *  - -w (pg) so that a tool never waits for a password prompt;
 *  - TLS: the instance's sslmode / TLS mode and CA, certificate and key
 *    files are passed on (the original passed none, so dumps of a TLS-only
 *    server failed or went in clear);
 *  - postgres.blobs false gives -B (without it pg_dump still dumps large
 *    objects of a whole database);
 *  - postgres.lockWaitTimeout, a Go duration, is passed in milliseconds
 *    ("1m" means minutes to Go but is not a PostgreSQL unit);
 *  - mysql.quick false gives --skip-quick (mysqldump's default is on);
 *  - mysql.setGtidPurged: mariadb-dump has no such option: AUTO and OFF
 *    (what MariaDB's tool does anyway) add nothing, ON is refused;
 *  - mysql.tables / excludeTables are honoured (positional tables,
 *    --ignore-table=db.table); mysql.databases may only name the
 *    Database being backed up;
 *  - pg_restore gets --exit-on-error (the original failed anyway when any
 *    error was printed) and no role mapping (there is none in pg_restore:
 *    the original's --role=a:b broke every restore), so roleMapping is
 *    refused;
 *  - a plain-format dump is restored with psql -X -v ON_ERROR_STOP=1
 *    --single-transaction; options a script cannot honour are refused;
 *  - mysql restore: foreign-key checks and binary logging are switched off
 *    with --init-command (the original's -e made mysql ignore stdin, so
 *    nothing was restored); routines, triggers or events false are
 *    refused (a dump is replayed whole; the original ignored them).
 */
#ifndef DBP_DUMPCMD_H
#define DBP_DUMPCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api_backup.h"
#include "api_restore.h"
#include "myconn.h"
#include "pgconn.h"
#include "util.h"

#define DUMPCMD_ERR_LEN 256

/* A command: argv[0] is the program (looked up in PATH by proc.h). The
 * builders below take a struct set up by dumpcmd_init() (or built
 * before), release it first and fill it; on failure it is left empty. */
struct dumpcmd {
	char **argv;		/* NULL-terminated, owned */
	char **env;		/* NULL-terminated "NAME=value", owned */
	size_t argc, envc;
	size_t argcap, envcap;
	bool reads_stdin;	/* the artefact goes to stdin */
	bool writes_stdout;	/* the artefact comes from stdout */
	/* Non-NULL: a static note for status.warnings (an option that is
	 * honoured only in part). */
	const char *warning;
};

void dumpcmd_init(struct dumpcmd *c);
/* Frees everything; the environment (it may hold the password) is wiped
 * first. The struct is left initialised. */
void dumpcmd_release(struct dumpcmd *c);
/* The value of env entry name, or NULL (tests). */
const char *dumpcmd_getenv(const struct dumpcmd *c, const char *name);

/* Where and as whom a PostgreSQL tool connects. */
struct dumpcmd_pg {
	/* host, port, user, password, sslmode, tls (CA/cert/key files),
	 * connect_timeout and application_name; conn->dbname is not used. */
	const struct pgconn_params *conn;
	const char *dbname;	/* the database dumped or restored into */
	/* Non-NULL: PGPASSFILE=passfile instead of PGPASSWORD; the caller
	 * writes dumpcmd_pgpass() there, mode 0600. */
	const char *passfile;
	/* Non-NULL: an absolute local path instead of the stream: pg_dump
	 * -f path, pg_restore / psql read it. Required for format
	 * directory; lets pg_restore use jobs > 1 with format custom. */
	const char *path;
};

/* Which client family runs the MySQL tools. */
enum dumpcmd_my_client {
	DUMPCMD_MARIADB = 0,	/* mariadb-dump, mariadb (the shipped image) */
	DUMPCMD_MYSQL,		/* Oracle's mysqldump, mysql (--ssl-mode) */
	DUMPCMD_MY__COUNT
};

struct dumpcmd_my {
	/* host (or unix socket path), port, user, password, tls_mode, tls
	 * files, connect_timeout, charset; conn->dbname is not used. */
	const struct myconn_params *conn;
	enum dumpcmd_my_client client;
	const char *dbname;	/* the database dumped or restored into */
	/* Non-NULL: --defaults-file=cnf instead of MYSQL_PWD; the caller
	 * writes dumpcmd_my_cnf() there, mode 0600. */
	const char *cnf;
};

/*
 * pg_dump of t->dbname with the options of DatabaseBackup spec.postgres
 * (o NULL or !o->set: the original's defaults, format custom with large
 * objects). Writes to stdout unless t->path is given. Returns 0, or -1
 * with a message in err; c is released either way first.
 */
int dumpcmd_pg_dump(struct dumpcmd *c, const struct dumpcmd_pg *t,
    const struct api_pg_backup *o, char *err, size_t errlen) DBP_MUSTCHECK;

/*
 * The restore of a dump of the given format into t->dbname: pg_restore
 * for custom, tar and directory, psql for plain. o is DatabaseRestore
 * spec.postgres (NULL or !o->set: the original's defaults). dropExisting,
 * createDatabase and analyze are SQL the controller runs before / after;
 * they add nothing here. Returns 0, or -1 with a message in err.
 */
int dumpcmd_pg_restore(struct dumpcmd *c, const struct dumpcmd_pg *t,
    enum api_pg_dump_format format, const struct api_pg_restore *o,
    char *err, size_t errlen) DBP_MUSTCHECK;

/*
 * mysqldump / mariadb-dump of t->dbname to stdout with the options of
 * DatabaseBackup spec.mysql (o NULL or !o->set: the original's defaults:
 * single transaction, quick, routines, triggers; no events, no extended
 * inserts). Returns 0, or -1 with a message in err.
 */
int dumpcmd_my_dump(struct dumpcmd *c, const struct dumpcmd_my *t,
    const struct api_my_backup *o, char *err, size_t errlen) DBP_MUSTCHECK;

/*
 * mysql / mariadb reading a dump from stdin into t->dbname, with
 * DatabaseRestore spec.mysql (o NULL or !o->set: everything true but
 * dropExisting). dropExisting and createDatabase are the controller's
 * SQL. Returns 0, or -1 with a message in err.
 */
int dumpcmd_my_restore(struct dumpcmd *c, const struct dumpcmd_my *t,
    const struct api_my_restore *o, char *err, size_t errlen) DBP_MUSTCHECK;

/*
 * Password files. dumpcmd_pgpass(): one ~/.pgpass line matching any host,
 * port, database and user ("*:*:*:*:secret\n", ':' and '\' escaped); NULL
 * when the password has a line break (the format cannot hold one).
 * dumpcmd_my_cnf(): "[client]\npassword=\"...\"\n" with the option-file
 * escapes. Both malloc'ed: free with free_secret(). NULL password = "".
 */
char *dumpcmd_pgpass(const char *password);
char *dumpcmd_my_cnf(const char *password);

/* ---- the artefact (behavior.md 4.6, api.md 4.21) --------------------- */

/* The dump's file extension: PostgreSQL plain ".sql", custom ".dump",
 * directory ".dir", tar ".tar", no spec.postgres ".dump"; MySQL ".sql";
 * any other engine ".bak". pg may be NULL. */
const char *dumpcmd_ext(enum api_engine engine, const struct api_pg_backup *pg);
/* ".gz", ".lz4", ".zst", or "" when compression is absent or disabled. */
const char *dumpcmd_compression_ext(const struct api_compression *c);
/* ".enc" when encryption is enabled, else "". */
const char *dumpcmd_encryption_ext(const struct api_encryption *e);
/* status.backup.format: the PostgreSQL format name ("custom" without
 * spec.postgres), "sql" for MySQL, "" for any other engine. */
const char *dumpcmd_format_name(enum api_engine engine,
    const struct api_pg_backup *pg);
/* The path prefix of a storage block: the gcs/s3/azure prefix or the pvc
 * subPath, as written (NULL when absent or empty). */
const char *dumpcmd_storage_prefix(const struct api_storage *s);

/*
 * status.backup.path:
 *   [<prefix>/]<database>-<backup>-<YYYYMMDD-HHMMSS><ext><cext><eext>
 * prefix as written in the spec (NULL or "" = none; a leading '/' kept);
 * database = the Database's spec.name; backup = the DatabaseBackup's name;
 * the time is started (Unix seconds) in UTC, the original's clock in its
 * shipped image. Returns a malloc'ed string. The object store adds its
 * prefix once more when it builds the key (behavior.md 4.6, "double
 * prefix"); that is the store's business, not this path's.
 */
char *dumpcmd_backup_path(const char *prefix, const char *database,
    const char *backup, int64_t started, enum api_engine engine,
    const struct api_pg_backup *pg, const struct api_compression *comp,
    const struct api_encryption *enc);

/*
 * The object key the original's S3, GCS and Azure backends store a path
 * under (behavior.md 4.1): the storage prefix with one leading '/' removed,
 * joined with path like Go's path.Join (slashes collapsed, "." and ".."
 * resolved, no trailing '/'); without a prefix the path unchanged. Since
 * dumpcmd_backup_path() already starts with the prefix, this gives the
 * original's "double prefix" key, which its artefacts are stored under.
 * Returns a malloc'ed string.
 */
char *dumpcmd_object_key(const char *prefix, const char *path);

/* The PostgreSQL format of a dump from status.backup.format ("custom",
 * ...) or, failing that, from its path's extension (.dump, .sql, .tar,
 * .dir, before any .gz/.lz4/.zst and .enc). API_PG_FORMAT_NONE when
 * neither tells. Either may be NULL. */
enum api_pg_dump_format dumpcmd_pg_format_of(const char *format_name,
    const char *path);

#endif
