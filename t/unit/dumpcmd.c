/*
 * dumpcmd.c: the dump and restore command lines and environments, option
 * by option and engine by engine (behavior.md 2.4, 2.5), hostile names that
 * stay one argv element, passwords that never reach argv, the password
 * files (read back by the real MariaDB option parser), the artefact names
 * of behavior.md 4.6, and -- where the tools are installed -- that every
 * command line built here is accepted by the real pg_dump, pg_restore,
 * psql, mariadb-dump and mariadb (run against a closed port: they must
 * fail to connect, not to parse their options).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <ev.h>

#include "dumpcmd.h"
#include "pgtls.h"
#include "proc.h"
#include "tap.h"
#include "certgen.h"
#include "util.h"

/* The case tables start from a block of defaults and override fields. */
#pragma GCC diagnostic ignored "-Woverride-init"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define SV(...) { (char *[]){ __VA_ARGS__, NULL }, \
	sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *) }

#define PW "s3cr3t pw'\"$(x) ;"

static struct ev_loop *loop;

/* argv joined by single spaces (tests of names with spaces look at the
 * elements instead). Malloc'ed. */
static char *
joined(const struct dumpcmd *c)
{
	size_t n = 1, i, k = 0;
	char *s;

	for (i = 0; i < c->argc; i++)
		n += strlen(c->argv[i]) + 1;
	s = xmalloc(n);
	s[0] = '\0';
	for (i = 0; i < c->argc; i++)
		k += (size_t)sprintf(s + k, "%s%s", i ? " " : "", c->argv[i]);
	return s;
}

/* No argv element contains the password. */
static bool
argv_clean(const struct dumpcmd *c, const char *pw)
{
	size_t i;

	for (i = 0; i < c->argc; i++)
		if (pw != NULL && *pw != '\0' && strstr(c->argv[i], pw) != NULL)
			return false;
	return c->argv != NULL && c->argv[c->argc] == NULL;
}

static const char *
argv_after(const struct dumpcmd *c, const char *flag, size_t nth)
{
	size_t i;

	for (i = 0; i + 1 < c->argc; i++)
		if (streq(c->argv[i], flag) && nth-- == 0)
			return c->argv[i + 1];
	return NULL;
}

/* ---- PostgreSQL dump ---- */

static const struct pgconn_params pg_conn = {
	.host = "db.example",
	.port = 5433,
	.user = "admin",
	.password = PW,
	.sslmode = PGCONN_SSL_VERIFY_FULL,
};

struct pg_dump_case {
	const char *name;
	bool set;		/* else o = NULL */
	struct api_pg_backup o;
	const char *path;
	const char *dbname;
	const char *want;	/* argv joined, or NULL: must fail ... */
	const char *err;	/* ... with a message containing this */
};

#define PGD_DEFAULTS .set = true, .method = API_PG_METHOD_PG_DUMP, \
	.format = API_PG_FORMAT_CUSTOM, .jobs = 1, .blobs = true

static const struct pg_dump_case pg_dump_cases[] = {
	{ "no spec.postgres: -Fc -b", false, { .set = false }, NULL, NULL,
	  "pg_dump -w -Fc -b", NULL },
	{ "spec.postgres with the CRD defaults", true,
	  { PGD_DEFAULTS, .lock_wait_timeout = "60s" }, NULL, NULL,
	  "pg_dump -w -Fc -b --lock-wait-timeout=60000", NULL },
	{ "plain, schemaOnly, noOwner, noPrivileges", true,
	  { PGD_DEFAULTS, .format = API_PG_FORMAT_PLAIN, .schema_only = true,
	    .no_owner = true, .no_privileges = true }, NULL, NULL,
	  "pg_dump -w -Fp -s -b -O -x", NULL },
	{ "tar, dataOnly, blobs false gives -B", true,
	  { PGD_DEFAULTS, .format = API_PG_FORMAT_TAR, .data_only = true,
	    .blobs = false }, NULL, NULL, "pg_dump -w -Ft -a -B", NULL },
	{ "schema and table lists, one flag each", true,
	  { PGD_DEFAULTS, .schemas = SV("public", "sales"),
	    .exclude_schemas = SV("audit"),
	    .tables = SV("public.orders"),
	    .exclude_tables = SV("public.log*", "tmp_*") }, NULL, NULL,
	  "pg_dump -w -Fc -b -n public -n sales -N audit -t public.orders "
	  "-T public.log* -T tmp_*", NULL },
	{ "lockWaitTimeout 1m30s", true,
	  { PGD_DEFAULTS, .lock_wait_timeout = "1m30s" }, NULL, NULL,
	  "pg_dump -w -Fc -b --lock-wait-timeout=90000", NULL },
	{ "lockWaitTimeout 1500us rounds up", true,
	  { PGD_DEFAULTS, .lock_wait_timeout = "1500us" }, NULL, NULL,
	  "pg_dump -w -Fc -b --lock-wait-timeout=2", NULL },
	{ "lockWaitTimeout bare digits are ms", true,
	  { PGD_DEFAULTS, .lock_wait_timeout = "250" }, NULL, NULL,
	  "pg_dump -w -Fc -b --lock-wait-timeout=250", NULL },
	{ "lockWaitTimeout 0s", true,
	  { PGD_DEFAULTS, .lock_wait_timeout = "0s" }, NULL, NULL,
	  "pg_dump -w -Fc -b --lock-wait-timeout=0", NULL },
	{ "lockWaitTimeout empty: none", true,
	  { PGD_DEFAULTS, .lock_wait_timeout = "" }, NULL, NULL,
	  "pg_dump -w -Fc -b", NULL },
	{ "lockWaitTimeout not a duration", true,
	  { PGD_DEFAULTS, .lock_wait_timeout = "a while" }, NULL, NULL,
	  NULL, "postgres.lockWaitTimeout:" },
	{ "lockWaitTimeout negative", true,
	  { PGD_DEFAULTS, .lock_wait_timeout = "-5s" }, NULL, NULL,
	  NULL, "postgres.lockWaitTimeout: must not be negative" },
	{ "lockWaitTimeout beyond PostgreSQL's limit", true,
	  { PGD_DEFAULTS, .lock_wait_timeout = "1000h" }, NULL, NULL,
	  NULL, "postgres.lockWaitTimeout: longer" },
	{ "noSync", true, { PGD_DEFAULTS, .no_sync = true }, NULL, NULL,
	  "pg_dump -w -Fc -b --no-sync", NULL },
	{ "directory cannot be streamed", true,
	  { PGD_DEFAULTS, .format = API_PG_FORMAT_DIRECTORY, .jobs = 4 },
	  NULL, NULL, NULL, "postgres.format: directory" },
	{ "directory into a local path, 4 jobs", true,
	  { PGD_DEFAULTS, .format = API_PG_FORMAT_DIRECTORY, .jobs = 4 },
	  "/var/tmp/d", NULL, "pg_dump -w -Fd -f /var/tmp/d -j4 -b", NULL },
	{ "custom into a local file", true, { PGD_DEFAULTS }, "/var/tmp/x",
	  NULL, "pg_dump -w -Fc -f /var/tmp/x -b", NULL },
	{ "a relative path is refused", true, { PGD_DEFAULTS }, "x/y", NULL,
	  NULL, "path: must be an absolute path" },
	{ "jobs without directory", true, { PGD_DEFAULTS, .jobs = 2 }, NULL,
	  NULL, NULL, "postgres.jobs:" },
	{ "pg_basebackup", true,
	  { PGD_DEFAULTS, .method = API_PG_METHOD_PG_BASEBACKUP }, NULL, NULL,
	  NULL, "postgres.method: pg_basebackup" },
	{ "dataOnly and schemaOnly", true,
	  { PGD_DEFAULTS, .data_only = true, .schema_only = true }, NULL,
	  NULL, NULL, "postgres.schemaOnly" },
	{ "a table starting with '-'", true,
	  { PGD_DEFAULTS, .tables = SV("ok", "-Fp") }, NULL, NULL, NULL,
	  "postgres.tables[1]: must not start with '-'" },
	{ "an empty schema name", true,
	  { PGD_DEFAULTS, .schemas = SV("") }, NULL, NULL, NULL,
	  "postgres.schemas[0]: must not be empty" },
	{ "a control character", true,
	  { PGD_DEFAULTS, .exclude_tables = SV("a\nb") }, NULL, NULL, NULL,
	  "postgres.excludeTables[0]: must not contain control" },
	{ "invalid UTF-8", true,
	  { PGD_DEFAULTS, .exclude_schemas = SV("\xff\xfe") }, NULL, NULL,
	  NULL, "postgres.excludeSchemas[0]:" },
	{ "a database starting with '-'", false, { .set = false }, NULL,
	  "-h", NULL, "database: must not start with '-'" },
	{ "an empty database", false, { .set = false }, NULL, "", NULL,
	  "database: must not be empty" },
};

static void
test_pg_dump_table(void)
{
	struct dumpcmd c;
	char err[DUMPCMD_ERR_LEN], name[200], *j;
	size_t i;
	int r;

	dumpcmd_init(&c);
	for (i = 0; i < ARRAY_SIZE(pg_dump_cases); i++) {
		const struct pg_dump_case *k = &pg_dump_cases[i];
		struct dumpcmd_pg t = { &pg_conn, k->dbname ? k->dbname :
		    "appdb", NULL, k->path };

		err[0] = '\0';
		r = dumpcmd_pg_dump(&c, &t, k->set ? &k->o : NULL, err,
		    sizeof(err));
		snprintf(name, sizeof(name), "pg_dump: %s", k->name);
		if (k->want != NULL) {
			if (r != 0)
				diag("unexpected error: %s", err);
			j = joined(&c);
			is_str(j, k->want, name);
			free(j);
			ok(argv_clean(&c, PW), "... no password in argv");
			is_int(c.writes_stdout, k->path == NULL,
			    "... writes_stdout");
		} else {
			ok(r == -1 && strstr(err, k->err) != NULL, name);
			if (strstr(err, k->err) == NULL)
				diag("error: '%s', want '%s'", err, k->err);
			ok(c.argc == 0 && c.envc == 0 && c.argv == NULL,
			    "... nothing built");
		}
	}
	dumpcmd_release(&c);
}

static void
test_pg_env(void)
{
	struct dumpcmd c;
	struct pgconn_params p = pg_conn;
	struct dumpcmd_pg t = { &p, "appdb", NULL, NULL };
	char err[DUMPCMD_ERR_LEN];

	dumpcmd_init(&c);
	ok(dumpcmd_pg_dump(&c, &t, NULL, err, sizeof(err)) == 0, "pg env");
	is_int(c.envc, 13, "pg env: 13 entries, nothing else");
	is_str(dumpcmd_getenv(&c, "PGHOST"), "db.example", "PGHOST");
	is_str(dumpcmd_getenv(&c, "PGPORT"), "5433", "PGPORT");
	is_str(dumpcmd_getenv(&c, "PGUSER"), "admin", "PGUSER");
	is_str(dumpcmd_getenv(&c, "PGDATABASE"), "appdb", "PGDATABASE");
	is_str(dumpcmd_getenv(&c, "PGPASSWORD"), PW,
	    "PGPASSWORD carries the password");
	is_str(dumpcmd_getenv(&c, "PGPASSFILE"), PGCONN_NO_FILE,
	    "PGPASSFILE: none (no ~/.pgpass)");
	is_str(dumpcmd_getenv(&c, "PGSSLMODE"), "verify-full", "PGSSLMODE");
	is_str(dumpcmd_getenv(&c, "PGSSLROOTCERT"), PGCONN_SYSTEM_CA_FILE,
	    "verify-full without a CA: the system roots");
	is_str(dumpcmd_getenv(&c, "PGSSLCERT"), PGCONN_NO_FILE, "PGSSLCERT");
	is_str(dumpcmd_getenv(&c, "PGSSLKEY"), PGCONN_NO_FILE, "PGSSLKEY");
	is_str(dumpcmd_getenv(&c, "PGCONNECT_TIMEOUT"), "10",
	    "PGCONNECT_TIMEOUT default");
	is_str(dumpcmd_getenv(&c, "PGAPPNAME"), "dbprovd", "PGAPPNAME");
	is_str(dumpcmd_getenv(&c, "PGGSSENCMODE"), "disable", "PGGSSENCMODE");

	p.port = 0;
	p.sslmode = PGCONN_SSL_PREFER;
	p.connect_timeout = 0.5;
	p.application_name = "dbprovd-backup";
	ok(dumpcmd_pg_dump(&c, &t, NULL, err, sizeof(err)) == 0, "pg env 2");
	is_str(dumpcmd_getenv(&c, "PGPORT"), "5432", "port 0: 5432");
	is_str(dumpcmd_getenv(&c, "PGSSLROOTCERT"), PGCONN_NO_FILE,
	    "prefer without a CA: no root file at all");
	is_str(dumpcmd_getenv(&c, "PGCONNECT_TIMEOUT"), "2",
	    "PGCONNECT_TIMEOUT: at least 2 (libpq's minimum)");
	is_str(dumpcmd_getenv(&c, "PGAPPNAME"), "dbprovd-backup",
	    "application_name passed on");

	t.passfile = "/run/dbprovd/pgpass";
	ok(dumpcmd_pg_dump(&c, &t, NULL, err, sizeof(err)) == 0,
	    "pg env with a password file");
	ok(dumpcmd_getenv(&c, "PGPASSWORD") == NULL,
	    "password file: no PGPASSWORD");
	is_str(dumpcmd_getenv(&c, "PGPASSFILE"), "/run/dbprovd/pgpass",
	    "password file: PGPASSFILE");
	t.passfile = "pgpass";
	ok(dumpcmd_pg_dump(&c, &t, NULL, err, sizeof(err)) == -1 &&
	    strstr(err, "password file: must be an absolute path"),
	    "a relative password file is refused");
	t.passfile = NULL;

	p.password = NULL;
	ok(dumpcmd_pg_dump(&c, &t, NULL, err, sizeof(err)) == 0 &&
	    dumpcmd_getenv(&c, "PGPASSWORD") == NULL &&
	    dumpcmd_getenv(&c, "PGPASSFILE") != NULL,
	    "no password: neither PGPASSWORD nor a real PGPASSFILE");

	p.host = "";
	ok(dumpcmd_pg_dump(&c, &t, NULL, err, sizeof(err)) == -1 &&
	    strstr(err, "host"), "empty host refused");
	p.host = "/var/run/postgresql";
	ok(dumpcmd_pg_dump(&c, &t, NULL, err, sizeof(err)) == 0 &&
	    streq(dumpcmd_getenv(&c, "PGHOST"), "/var/run/postgresql"),
	    "unix socket directory as PGHOST");
	p.port = 70000;
	ok(dumpcmd_pg_dump(&c, &t, NULL, err, sizeof(err)) == -1 &&
	    strstr(err, "port"), "port out of range refused");
	p.port = 5432;
	p.user = NULL;
	ok(dumpcmd_pg_dump(&c, &t, NULL, err, sizeof(err)) == -1 &&
	    strstr(err, "user"), "no user refused");
	t.conn = NULL;
	ok(dumpcmd_pg_dump(&c, &t, NULL, err, sizeof(err)) == -1,
	    "no connection refused");
	dumpcmd_release(&c);
	ok(c.argv == NULL && c.env == NULL && c.argc == 0,
	    "release leaves an empty command");
}

/* Hostile names stay one element each, right after their flag. */
static void
test_pg_hostile(void)
{
	static const char *const bad[] = { "x; rm -rf /", "$(reboot)",
	    "a b  c", "'quoted'\"", "sch\xc3\xa9ma.t\xc3\xa4" "ble", "*",
	    "x\\y", "a--b" };
	struct api_pg_backup o = { PGD_DEFAULTS };
	struct dumpcmd_pg t = { &pg_conn, "app db; drop", NULL, NULL };
	struct dumpcmd c;
	char err[DUMPCMD_ERR_LEN];
	size_t i, n = ARRAY_SIZE(bad);
	bool each = true;

	o.tables.v = (char **)bad;
	o.tables.n = n;
	o.exclude_schemas.v = (char **)bad;
	o.exclude_schemas.n = n;
	dumpcmd_init(&c);
	ok(dumpcmd_pg_dump(&c, &t, &o, err, sizeof(err)) == 0,
	    "hostile names: accepted");
	is_int(c.argc, 4 + 4 * n, "hostile names: argc = 4 + 2 per name per "
	    "list");
	for (i = 0; i < n; i++) {
		each = each && argv_after(&c, "-t", i) != NULL &&
		    streq(argv_after(&c, "-t", i), bad[i]);
		each = each && argv_after(&c, "-N", i) != NULL &&
		    streq(argv_after(&c, "-N", i), bad[i]);
	}
	ok(each, "hostile names: each one is its own element, unchanged");
	is_str(dumpcmd_getenv(&c, "PGDATABASE"), "app db; drop",
	    "a hostile database name goes in PGDATABASE as it is");
	ok(argv_clean(&c, PW), "hostile names: no password in argv");
	dumpcmd_release(&c);
}

/* ---- PostgreSQL restore ---- */

struct pg_restore_case {
	const char *name;
	enum api_pg_dump_format format;
	bool set;
	struct api_pg_restore o;
	const char *path;
	const char *want;
	const char *err;
	bool warn;
};

#define PGR_DEFAULTS .set = true, .create_database = true, .no_owner = true, \
	.jobs = 1, .analyze = true

static const struct pg_restore_case pg_restore_cases[] = {
	{ "custom, no spec.postgres", API_PG_FORMAT_CUSTOM, false,
	  { .set = false }, NULL,
	  "pg_restore -w -Fc -d dbname='appdb' -O --exit-on-error", NULL },
	{ "custom, CRD defaults", API_PG_FORMAT_CUSTOM, true,
	  { PGR_DEFAULTS, .drop_existing = true }, NULL,
	  "pg_restore -w -Fc -d dbname='appdb' -O --exit-on-error", NULL },
	{ "every pg_restore option", API_PG_FORMAT_CUSTOM, true,
	  { PGR_DEFAULTS, .data_only = true, .no_owner = false,
	    .no_privileges = true, .disable_triggers = true,
	    .schemas = SV("public", "s2"), .tables = SV("t1") }, NULL,
	  "pg_restore -w -Fc -d dbname='appdb' -a -x --disable-triggers "
	  "-n public -n s2 -t t1 --exit-on-error", NULL },
	{ "schemaOnly", API_PG_FORMAT_TAR, true,
	  { PGR_DEFAULTS, .schema_only = true }, NULL,
	  "pg_restore -w -Ft -d dbname='appdb' -s -O --exit-on-error", NULL },
	{ "jobs from a stream", API_PG_FORMAT_CUSTOM, true,
	  { PGR_DEFAULTS, .jobs = 4 }, NULL, NULL, "postgres.jobs:" },
	{ "jobs from a local file", API_PG_FORMAT_CUSTOM, true,
	  { PGR_DEFAULTS, .jobs = 4 }, "/var/tmp/x.dump",
	  "pg_restore -w -Fc -d dbname='appdb' -j4 -O --exit-on-error -- "
	  "/var/tmp/x.dump", NULL },
	{ "jobs on tar", API_PG_FORMAT_TAR, true,
	  { PGR_DEFAULTS, .jobs = 2 }, "/var/tmp/x.tar", NULL,
	  "postgres.jobs: pg_restore cannot run jobs in parallel on format "
	  "tar" },
	{ "directory from a stream", API_PG_FORMAT_DIRECTORY, false,
	  { .set = false }, NULL, NULL, "format directory" },
	{ "directory from a local directory", API_PG_FORMAT_DIRECTORY, false,
	  { .set = false }, "/var/tmp/d",
	  "pg_restore -w -Fd -d dbname='appdb' -O --exit-on-error -- "
	  "/var/tmp/d", NULL },
	{ "roleMapping refused", API_PG_FORMAT_CUSTOM, true,
	  { PGR_DEFAULTS, .role_mapping = { (struct api_kv[]){ { "a", "b" } },
	    1 } }, NULL, NULL, "postgres.roleMapping: not supported" },
	{ "dataOnly and schemaOnly", API_PG_FORMAT_CUSTOM, true,
	  { PGR_DEFAULTS, .data_only = true, .schema_only = true }, NULL,
	  NULL, "postgres.schemaOnly" },
	{ "a table starting with '-'", API_PG_FORMAT_CUSTOM, true,
	  { PGR_DEFAULTS, .tables = SV("-d") }, NULL, NULL,
	  "postgres.tables[0]: must not start with '-'" },
	{ "unknown format", API_PG_FORMAT_NONE, false, { .set = false },
	  NULL, NULL, "format is unknown" },
	{ "plain: psql", API_PG_FORMAT_PLAIN, false, { .set = false }, NULL,
	  "psql -X -w -q -v ON_ERROR_STOP=1 --single-transaction -o "
	  "/dev/null", NULL, true },
	{ "plain, noOwner false: no warning", API_PG_FORMAT_PLAIN, true,
	  { PGR_DEFAULTS, .no_owner = false }, NULL,
	  "psql -X -w -q -v ON_ERROR_STOP=1 --single-transaction -o "
	  "/dev/null", NULL, false },
	{ "plain from a local file", API_PG_FORMAT_PLAIN, true,
	  { PGR_DEFAULTS, .no_owner = false }, "/var/tmp/x.sql",
	  "psql -X -w -q -v ON_ERROR_STOP=1 --single-transaction -o "
	  "/dev/null -f /var/tmp/x.sql", NULL, false },
	{ "plain with tables", API_PG_FORMAT_PLAIN, true,
	  { PGR_DEFAULTS, .tables = SV("t") }, NULL, NULL,
	  "postgres.tables: a plain-format dump" },
	{ "plain with schemas", API_PG_FORMAT_PLAIN, true,
	  { PGR_DEFAULTS, .schemas = SV("s") }, NULL, NULL,
	  "postgres.schemas: a plain-format dump" },
	{ "plain with dataOnly", API_PG_FORMAT_PLAIN, true,
	  { PGR_DEFAULTS, .data_only = true }, NULL, NULL,
	  "postgres.dataOnly: a plain-format dump" },
	{ "plain with schemaOnly", API_PG_FORMAT_PLAIN, true,
	  { PGR_DEFAULTS, .schema_only = true }, NULL, NULL,
	  "postgres.schemaOnly: a plain-format dump" },
	{ "plain with noPrivileges", API_PG_FORMAT_PLAIN, true,
	  { PGR_DEFAULTS, .no_privileges = true }, NULL, NULL,
	  "postgres.noPrivileges: a plain-format dump" },
	{ "plain with disableTriggers", API_PG_FORMAT_PLAIN, true,
	  { PGR_DEFAULTS, .disable_triggers = true }, NULL, NULL,
	  "postgres.disableTriggers: a plain-format dump" },
	{ "plain with jobs", API_PG_FORMAT_PLAIN, true,
	  { PGR_DEFAULTS, .jobs = 3 }, NULL, NULL,
	  "postgres.jobs: a plain-format dump" },
	{ "plain with roleMapping", API_PG_FORMAT_PLAIN, true,
	  { PGR_DEFAULTS, .role_mapping = { (struct api_kv[]){ { "a", "b" } },
	    1 } }, NULL, NULL, "postgres.roleMapping: not supported" },
};

static void
test_pg_restore_table(void)
{
	struct dumpcmd c;
	char err[DUMPCMD_ERR_LEN], name[200], *j;
	size_t i;
	int r;

	dumpcmd_init(&c);
	for (i = 0; i < ARRAY_SIZE(pg_restore_cases); i++) {
		const struct pg_restore_case *k = &pg_restore_cases[i];
		struct dumpcmd_pg t = { &pg_conn, "appdb", NULL, k->path };

		err[0] = '\0';
		r = dumpcmd_pg_restore(&c, &t, k->format, k->set ? &k->o :
		    NULL, err, sizeof(err));
		snprintf(name, sizeof(name), "restore: %s", k->name);
		if (k->want != NULL) {
			if (r != 0)
				diag("unexpected error: %s", err);
			j = joined(&c);
			is_str(j, k->want, name);
			free(j);
			ok(argv_clean(&c, PW) && !c.writes_stdout &&
			    c.reads_stdin == (k->path == NULL),
			    "... no password in argv; reads stdin unless a path");
			ok((c.warning != NULL) == k->warn, "... warning as "
			    "expected");
			is_str(dumpcmd_getenv(&c, "PGDATABASE"), "appdb",
			    "... PGDATABASE");
		} else {
			ok(r == -1 && strstr(err, k->err) != NULL, name);
			if (strstr(err, k->err) == NULL)
				diag("error: '%s', want '%s'", err, k->err);
		}
	}

	/* -d takes a connection string: the name is quoted inside one */
	{
		struct dumpcmd_pg t = { &pg_conn, "o'b\\x host=evil", NULL,
		    NULL };

		ok(dumpcmd_pg_restore(&c, &t, API_PG_FORMAT_CUSTOM, NULL, err,
		    sizeof(err)) == 0, "restore into a hostile name");
		is_str(argv_after(&c, "-d", 0), "dbname='o\\'b\\\\x host=evil'",
		    "the name is one quoted dbname= value");
	}
	dumpcmd_release(&c);
}

/* ---- MySQL ---- */

static const struct myconn_params my_conn = {
	.host = "my.example",
	.user = "root",
	.password = PW,
	.tls_mode = MYCONN_TLS_DISABLED,
};

#define MY_CONN_ARGS "--no-defaults --host=my.example --port=3306 " \
	"--protocol=TCP --user=root --default-character-set=utf8mb4 "

struct my_dump_case {
	const char *name;
	enum dumpcmd_my_client client;
	bool set;
	struct api_my_backup o;
	const char *want;	/* after the connection options */
	const char *err;
};

#define MYD_CRD .set = true, .method = API_MY_METHOD_MYSQLDUMP, \
	.single_transaction = true, .quick = true, .routines = true, \
	.triggers = true, .events = true, .extended_insert = true, \
	.set_gtid_purged = API_MY_GTID_AUTO

static const struct my_dump_case my_dump_cases[] = {
	{ "no spec.mysql (the original's flags)", DUMPCMD_MARIADB, false,
	  { .set = false },
	  "mariadb-dump " MY_CONN_ARGS "--skip-ssl --single-transaction "
	  "--quick --skip-lock-tables --routines --triggers "
	  "--skip-extended-insert -- appdb", NULL },
	{ "CRD defaults, mariadb-dump (no --set-gtid-purged)",
	  DUMPCMD_MARIADB, true, { MYD_CRD },
	  "mariadb-dump " MY_CONN_ARGS "--skip-ssl --single-transaction "
	  "--quick --skip-lock-tables --routines --triggers --events "
	  "--extended-insert -- appdb", NULL },
	{ "CRD defaults, Oracle mysqldump", DUMPCMD_MYSQL, true, { MYD_CRD },
	  "mysqldump " MY_CONN_ARGS "--ssl-mode=DISABLED "
	  "--single-transaction --quick --skip-lock-tables --routines "
	  "--triggers --events --extended-insert --set-gtid-purged=AUTO -- "
	  "appdb", NULL },
	{ "everything off", DUMPCMD_MARIADB, true,
	  { .set = true, .method = API_MY_METHOD_MYSQLDUMP,
	    .set_gtid_purged = API_MY_GTID_OFF },
	  "mariadb-dump " MY_CONN_ARGS "--skip-ssl --skip-quick "
	  "--skip-lock-tables --skip-triggers --skip-extended-insert -- appdb",
	  NULL },
	{ "lockTables", DUMPCMD_MARIADB, true,
	  { .set = true, .lock_tables = true, .quick = true },
	  "mariadb-dump " MY_CONN_ARGS "--skip-ssl --quick --lock-tables "
	  "--skip-triggers --skip-extended-insert -- appdb", NULL },
	{ "setGtidPurged ON, mariadb-dump", DUMPCMD_MARIADB, true,
	  { MYD_CRD, .set_gtid_purged = API_MY_GTID_ON }, NULL,
	  "mysql.setGtidPurged: ON is not supported" },
	{ "setGtidPurged OFF, Oracle mysqldump", DUMPCMD_MYSQL, true,
	  { .set = true, .set_gtid_purged = API_MY_GTID_OFF },
	  "mysqldump " MY_CONN_ARGS "--ssl-mode=DISABLED --skip-quick "
	  "--skip-lock-tables --skip-triggers --skip-extended-insert "
	  "--set-gtid-purged=OFF -- appdb", NULL },
	{ "tables and excludeTables", DUMPCMD_MARIADB, true,
	  { .set = true, .quick = true, .triggers = true,
	    .extended_insert = true, .tables = SV("orders", "customers"),
	    .exclude_tables = SV("audit", "log") },
	  "mariadb-dump " MY_CONN_ARGS "--skip-ssl --quick --skip-lock-tables "
	  "--triggers --extended-insert --ignore-table=appdb.audit "
	  "--ignore-table=appdb.log -- appdb orders customers", NULL },
	{ "databases naming the Database", DUMPCMD_MARIADB, true,
	  { .set = true, .quick = true, .triggers = true,
	    .extended_insert = true, .databases = SV("appdb") },
	  "mariadb-dump " MY_CONN_ARGS "--skip-ssl --quick --skip-lock-tables "
	  "--triggers --extended-insert -- appdb", NULL },
	{ "databases naming another", DUMPCMD_MARIADB, true,
	  { MYD_CRD, .databases = SV("appdb", "other") }, NULL,
	  "mysql.databases[1]: a backup dumps the Database it references" },
	{ "xtrabackup", DUMPCMD_MARIADB, true,
	  { MYD_CRD, .method = API_MY_METHOD_XTRABACKUP }, NULL,
	  "mysql.method: xtrabackup is not supported" },
	{ "a table starting with '-'", DUMPCMD_MARIADB, true,
	  { MYD_CRD, .tables = SV("--all-databases") }, NULL,
	  "mysql.tables[0]: must not start with '-'" },
	{ "an excluded table with a newline", DUMPCMD_MARIADB, true,
	  { MYD_CRD, .exclude_tables = SV("a\nb") }, NULL,
	  "mysql.excludeTables[0]: must not contain control" },
};

static void
test_my_dump_table(void)
{
	struct dumpcmd c;
	char err[DUMPCMD_ERR_LEN], name[200], *j;
	size_t i;
	int r;

	dumpcmd_init(&c);
	for (i = 0; i < ARRAY_SIZE(my_dump_cases); i++) {
		const struct my_dump_case *k = &my_dump_cases[i];
		struct dumpcmd_my t = { &my_conn, k->client, "appdb", NULL };

		err[0] = '\0';
		r = dumpcmd_my_dump(&c, &t, k->set ? &k->o : NULL, err,
		    sizeof(err));
		snprintf(name, sizeof(name), "mysqldump: %s", k->name);
		if (k->want != NULL) {
			if (r != 0)
				diag("unexpected error: %s", err);
			j = joined(&c);
			is_str(j, k->want, name);
			free(j);
			ok(argv_clean(&c, PW) && c.writes_stdout &&
			    !c.reads_stdin, "... no password in argv; stdout");
			is_int(c.envc, 1, "... one env entry");
			is_str(dumpcmd_getenv(&c, "MYSQL_PWD"), PW,
			    "... MYSQL_PWD carries the password");
		} else {
			ok(r == -1 && strstr(err, k->err) != NULL, name);
			if (strstr(err, k->err) == NULL)
				diag("error: '%s', want '%s'", err, k->err);
		}
	}
	dumpcmd_release(&c);
}

static void
test_my_conn(void)
{
	static const char *const bad[] = { "x; rm -rf /", "a b", "`t`",
	    "$(id)", "t\xc3\xa4" };
	struct myconn_params p = my_conn;
	struct dumpcmd_my t = { &p, DUMPCMD_MARIADB, "appdb", NULL };
	struct api_my_backup o = { MYD_CRD };
	struct dumpcmd c;
	char err[DUMPCMD_ERR_LEN], *j;
	size_t i, dd = 0;
	bool each = true;

	dumpcmd_init(&c);
	o.tables.v = (char **)bad;
	o.tables.n = ARRAY_SIZE(bad);
	ok(dumpcmd_my_dump(&c, &t, &o, err, sizeof(err)) == 0,
	    "mysql hostile tables: accepted");
	for (i = 0; i < c.argc; i++)
		if (streq(c.argv[i], "--"))
			dd = i;
	ok(dd > 0 && streq(c.argv[dd + 1], "appdb"),
	    "positional names come after --");
	is_int(c.argc, dd + 2 + ARRAY_SIZE(bad), "one element per table");
	for (i = 0; i < ARRAY_SIZE(bad) && dd > 0; i++)
		each = each && streq(c.argv[dd + 2 + i], bad[i]);
	ok(each, "hostile tables unchanged, one element each");

	p.host = "/run/mysqld/mysqld.sock";
	p.password = NULL;
	p.charset = "latin1";
	ok(dumpcmd_my_dump(&c, &t, NULL, err, sizeof(err)) == 0,
	    "unix socket");
	j = joined(&c);
	ok(str_has_prefix(j, "mariadb-dump --no-defaults "
	    "--socket=/run/mysqld/mysqld.sock --protocol=SOCKET --user=root "
	    "--default-character-set=latin1 --skip-ssl "), "socket, charset");
	free(j);
	is_int(c.envc, 0, "no password: empty environment");

	p = my_conn;
	t.cnf = "/run/dbprovd/my.cnf";
	ok(dumpcmd_my_dump(&c, &t, NULL, err, sizeof(err)) == 0 &&
	    streq(c.argv[1], "--defaults-file=/run/dbprovd/my.cnf") &&
	    c.envc == 0, "option file: first, and no MYSQL_PWD");
	t.cnf = "my.cnf";
	ok(dumpcmd_my_dump(&c, &t, NULL, err, sizeof(err)) == -1,
	    "relative option file refused");
	t.cnf = NULL;

	p.charset = "utf8;drop";
	ok(dumpcmd_my_dump(&c, &t, NULL, err, sizeof(err)) == -1 &&
	    strstr(err, "character set"), "bad charset refused");
	p.charset = NULL;
	p.port = 3307;
	ok(dumpcmd_my_dump(&c, &t, NULL, err, sizeof(err)) == 0,
	    "port given");
	for (i = 0, each = false; i < c.argc; i++)
		each = each || streq(c.argv[i], "--port=3307");
	ok(each, "--port=3307");
	p.port = 0;
	t.dbname = "-p";
	ok(dumpcmd_my_dump(&c, &t, NULL, err, sizeof(err)) == -1 &&
	    strstr(err, "database: must not start with '-'"),
	    "database starting with '-' refused");
	t.dbname = "appdb";
	t.client = (enum dumpcmd_my_client)7;
	ok(dumpcmd_my_dump(&c, &t, NULL, err, sizeof(err)) == -1,
	    "bad client refused");
	dumpcmd_release(&c);
}

struct tls_case {
	enum dumpcmd_my_client client;
	enum myconn_tls mode;
	bool files;
	const char *want;	/* the TLS part of argv */
};

static void
test_my_tls(void)
{
	struct certgen cg;
	struct pgtls *tls = NULL;
	char err[DUMPCMD_ERR_LEN], want[1024], *j;
	struct dumpcmd c;
	const char *ca = NULL, *cert = NULL, *key = NULL;
	size_t i;

	memset(&cg, 0, sizeof(cg));
	if (certgen_make("my.example", &cg) == 0) {
		struct pgtls_pem pem = { cg.cert, strlen(cg.cert), cg.cert,
		    strlen(cg.cert), cg.key, strlen(cg.key) };

		tls = pgtls_new(&pem, err, sizeof(err));
		if (tls == NULL)
			diag("pgtls_new: %s", err);
	}
	ok(tls != NULL, "TLS material for the tests");
	ca = pgtls_ca_file(tls);
	cert = pgtls_cert_file(tls);
	key = pgtls_key_file(tls);

	dumpcmd_init(&c);
	for (i = 0; i < 2 * MYCONN_TLS__COUNT * 2 && tls != NULL; i++) {
		enum dumpcmd_my_client cl = (enum dumpcmd_my_client)(i % 2);
		enum myconn_tls m = (enum myconn_tls)((i / 2) %
		    MYCONN_TLS__COUNT);
		bool files = i >= 2 * MYCONN_TLS__COUNT;
		bool verify = m == MYCONN_TLS_VERIFY_CA ||
		    m == MYCONN_TLS_VERIFY_FULL;
		static const char *const mm[] = { "DISABLED", "PREFERRED",
		    "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY" };
		struct myconn_params p = my_conn;
		struct dumpcmd_my t = { &p, cl, "appdb", NULL };
		size_t k = 0;

		p.tls_mode = m;
		p.tls = files ? tls : NULL;
		want[0] = '\0';
		if (cl == DUMPCMD_MYSQL)
			k += (size_t)snprintf(want + k, sizeof(want) - k,
			    " --ssl-mode=%s", mm[m]);
		if (m == MYCONN_TLS_DISABLED) {
			if (cl == DUMPCMD_MARIADB)
				k += (size_t)snprintf(want + k, sizeof(want) - k,
				    " --skip-ssl");
		} else {
			if (cl == DUMPCMD_MARIADB)
				k += (size_t)snprintf(want + k, sizeof(want) - k,
				    " --ssl");
			if (verify)
				k += (size_t)snprintf(want + k, sizeof(want) - k,
				    " --ssl-ca=%s", files ? ca :
				    MYCONN_SYSTEM_CA_FILE);
			if (files)
				k += (size_t)snprintf(want + k, sizeof(want) - k,
				    " --ssl-cert=%s --ssl-key=%s", cert, key);
			if (verify && cl == DUMPCMD_MARIADB)
				k += (size_t)snprintf(want + k, sizeof(want) - k,
				    " --ssl-verify-server-cert");
			k += (size_t)snprintf(want + k, sizeof(want) - k,
			    " --tls-version=TLSv1.2,TLSv1.3");
		}
		k += (size_t)snprintf(want + k, sizeof(want) - k,
		    " --connect-timeout=10");
		ok(dumpcmd_my_restore(&c, &t, NULL, err, sizeof(err)) == 0,
		    "TLS case builds");
		j = joined(&c);
		if (!ok(strstr(j, want) != NULL, "TLS options for the mode"))
			diag("client %d mode %s files %d:\n#   %s\n# want %s",
			    cl, myconn_tls_name(m), files, j, want);
		free(j);
	}
	dumpcmd_release(&c);
	pgtls_unref(tls);
	certgen_release(&cg);

	/* PostgreSQL: the files by environment */
	{
		struct pgconn_params p = pg_conn;
		struct dumpcmd_pg t = { &p, "appdb", NULL, NULL };
		struct pgtls_pem pem;

		memset(&cg, 0, sizeof(cg));
		tls = NULL;
		if (certgen_make("db.example", &cg) == 0) {
			pem = (struct pgtls_pem){ cg.cert, strlen(cg.cert),
			    cg.cert, strlen(cg.cert), cg.key, strlen(cg.key) };
			tls = pgtls_new(&pem, err, sizeof(err));
		}
		p.tls = tls;
		p.sslmode = PGCONN_SSL_REQUIRE;
		dumpcmd_init(&c);
		ok(tls != NULL && dumpcmd_pg_dump(&c, &t, NULL, err,
		    sizeof(err)) == 0, "pg with TLS files");
		is_str(dumpcmd_getenv(&c, "PGSSLROOTCERT"), pgtls_ca_file(tls),
		    "PGSSLROOTCERT = the instance's CA");
		is_str(dumpcmd_getenv(&c, "PGSSLCERT"), pgtls_cert_file(tls),
		    "PGSSLCERT = its client certificate");
		is_str(dumpcmd_getenv(&c, "PGSSLKEY"), pgtls_key_file(tls),
		    "PGSSLKEY = its key");
		is_str(dumpcmd_getenv(&c, "PGSSLMODE"), "require", "PGSSLMODE");
		dumpcmd_release(&c);
		pgtls_unref(tls);
		certgen_release(&cg);
	}
}

struct my_restore_case {
	const char *name;
	bool set;
	struct api_my_restore o;
	const char *want;	/* the tail of argv after the TLS part */
	const char *err;
};

#define MYR_ALL .set = true, .create_database = true, .routines = true, \
	.triggers = true, .events = true

static const struct my_restore_case my_restore_cases[] = {
	{ "no spec.mysql", false, { .set = false },
	  "--connect-timeout=10 --init-command=SET SESSION "
	  "foreign_key_checks=0, sql_log_bin=0 --database=appdb", NULL },
	{ "foreign keys only", true,
	  { MYR_ALL, .disable_foreign_key_checks = true },
	  "--connect-timeout=10 --init-command=SET SESSION "
	  "foreign_key_checks=0 --database=appdb", NULL },
	{ "binlog only", true, { MYR_ALL, .disable_binlog = true },
	  "--connect-timeout=10 --init-command=SET SESSION sql_log_bin=0 "
	  "--database=appdb", NULL },
	{ "neither", true, { MYR_ALL, .drop_existing = true },
	  "--connect-timeout=10 --database=appdb", NULL },
	{ "routines false", true, { MYR_ALL, .routines = false }, NULL,
	  "mysql.routines: false is not supported" },
	{ "triggers false", true, { MYR_ALL, .triggers = false }, NULL,
	  "mysql.triggers: false is not supported" },
	{ "events false", true, { MYR_ALL, .events = false }, NULL,
	  "mysql.events: false is not supported" },
};

static void
test_my_restore_table(void)
{
	struct dumpcmd c;
	char err[DUMPCMD_ERR_LEN], name[200], *j, *want;
	size_t i;
	int r;

	dumpcmd_init(&c);
	for (i = 0; i < ARRAY_SIZE(my_restore_cases); i++) {
		const struct my_restore_case *k = &my_restore_cases[i];
		struct dumpcmd_my t = { &my_conn, DUMPCMD_MARIADB, "appdb",
		    NULL };

		err[0] = '\0';
		r = dumpcmd_my_restore(&c, &t, k->set ? &k->o : NULL, err,
		    sizeof(err));
		snprintf(name, sizeof(name), "mysql restore: %s", k->name);
		if (k->want != NULL) {
			if (r != 0)
				diag("unexpected error: %s", err);
			j = joined(&c);
			want = xasprintf("mariadb %s--skip-ssl %s", MY_CONN_ARGS,
			    k->want);
			is_str(j, want, name);
			free(want);
			free(j);
			ok(argv_clean(&c, PW) && c.reads_stdin &&
			    !c.writes_stdout, "... no password in argv; stdin");
			is_str(dumpcmd_getenv(&c, "MYSQL_PWD"), PW,
			    "... MYSQL_PWD");
		} else {
			ok(r == -1 && strstr(err, k->err) != NULL, name);
			if (strstr(err, k->err) == NULL)
				diag("error: '%s', want '%s'", err, k->err);
		}
	}
	{
		struct dumpcmd_my t = { &my_conn, DUMPCMD_MYSQL, "appdb", NULL };

		ok(dumpcmd_my_restore(&c, &t, NULL, err, sizeof(err)) == 0 &&
		    streq(c.argv[0], "mysql"), "Oracle client: mysql");
	}
	dumpcmd_release(&c);
}

/* ---- password files ---- */

static void
test_password_files(void)
{
	char *s;

	s = dumpcmd_pgpass("a:b\\c d");
	is_str(s, "*:*:*:*:a\\:b\\\\c d\n", "pgpass: ':' and '\\' escaped");
	free_secret(s);
	s = dumpcmd_pgpass(NULL);
	is_str(s, "*:*:*:*:\n", "pgpass: no password");
	free_secret(s);
	ok(dumpcmd_pgpass("a\nb") == NULL && dumpcmd_pgpass("a\rb") == NULL,
	    "pgpass: a line break cannot be written");

	s = dumpcmd_my_cnf("p\"w\\d\n#x y\tz");
	is_str(s, "[client]\npassword=\"p\\\"w\\\\d\\n#x y\\tz\"\n",
	    "my.cnf: quoted and escaped");
	free_secret(s);
	s = dumpcmd_my_cnf(NULL);
	is_str(s, "[client]\npassword=\"\"\n", "my.cnf: no password");
	free_secret(s);
}

/* ---- artefact names ---- */

static void
test_naming(void)
{
	struct api_pg_backup pg = { PGD_DEFAULTS };
	struct api_compression gz = { .set = true, .enabled = true,
	    .algorithm = API_COMPRESSION_GZIP, .level = 6 };
	struct api_compression comp;
	struct api_encryption enc = { .set = true, .enabled = true,
	    .algorithm = API_ENCRYPTION_AES_256_GCM };
	struct api_encryption noenc = { .set = true, .enabled = false };
	struct api_storage st;
	/* 2026-01-06T10:00:00Z, the date of the original's commit */
	int64_t t = 1767693600;
	char *s;
	size_t i;
	/* prefix, path, key, what */
	static const char *const keys[][4] = {
		{ "backups", "backups/appdb-b-20260106-100000.dump.gz",
		  "backups/backups/appdb-b-20260106-100000.dump.gz",
		  "key: the original's double prefix" },
		{ "/p", "x", "p/x", "key: one leading '/' of the prefix goes" },
		{ "//p", "x", "/p/x", "key: only one" },
		{ "a/", "b//c/./d/../e/", "a/b/c/e", "key: cleaned like path.Join" },
		{ NULL, "x//y", "x//y", "key: no prefix, path unchanged" },
		{ "", "x/./y", "x/./y", "key: empty prefix, path unchanged" },
		{ "/", "x", "x", "key: prefix '/' is no prefix" },
		{ "p", "../../x", "../x", "key: '..' resolved as Go does" },
		{ "p", "", "p", "key: empty path" },
		{ "p", "/abs", "p/abs", "key: absolute path under the prefix" },
	};

	s = dumpcmd_backup_path("backups", "appdb", "nightly", t,
	    API_ENGINE_POSTGRES, &pg, &gz, &enc);
	is_str(s, "backups/appdb-nightly-20260106-100000.dump.gz.enc",
	    "path: prefix, db, backup, UTC time, .dump.gz.enc");
	free(s);
	s = dumpcmd_backup_path(NULL, "appdb", "nightly", t + 3661,
	    API_ENGINE_MYSQL, NULL, NULL, NULL);
	is_str(s, "appdb-nightly-20260106-110101.sql",
	    "path: no prefix, MySQL, nothing else");
	free(s);
	s = dumpcmd_backup_path("", "appdb", "b", t, API_ENGINE_POSTGRES,
	    NULL, &gz, &noenc);
	is_str(s, "appdb-b-20260106-100000.dump.gz",
	    "path: empty prefix omitted; no spec.postgres is .dump");
	free(s);
	s = dumpcmd_backup_path("/lead", "appdb", "b", t,
	    API_ENGINE_POSTGRES, NULL, NULL, NULL);
	is_str(s, "/lead/appdb-b-20260106-100000.dump",
	    "path: a leading '/' of the prefix is kept");
	free(s);

	pg.format = API_PG_FORMAT_PLAIN;
	is_str(dumpcmd_ext(API_ENGINE_POSTGRES, &pg), ".sql", "ext: plain");
	pg.format = API_PG_FORMAT_DIRECTORY;
	is_str(dumpcmd_ext(API_ENGINE_POSTGRES, &pg), ".dir",
	    "ext: directory");
	pg.format = API_PG_FORMAT_TAR;
	is_str(dumpcmd_ext(API_ENGINE_POSTGRES, &pg), ".tar", "ext: tar");
	is_str(dumpcmd_format_name(API_ENGINE_POSTGRES, &pg), "tar",
	    "format name: tar");
	pg.format = API_PG_FORMAT_CUSTOM;
	is_str(dumpcmd_ext(API_ENGINE_POSTGRES, &pg), ".dump", "ext: custom");
	is_str(dumpcmd_ext(API_ENGINE_MYSQL, &pg), ".sql", "ext: MySQL");
	is_str(dumpcmd_ext(API_ENGINE_COCKROACHDB, NULL), ".bak",
	    "ext: other engines");
	is_str(dumpcmd_format_name(API_ENGINE_POSTGRES, NULL), "custom",
	    "format name without spec.postgres: custom");
	is_str(dumpcmd_format_name(API_ENGINE_MYSQL, NULL), "sql",
	    "format name MySQL: sql");

	comp = gz;
	comp.algorithm = API_COMPRESSION_LZ4;
	is_str(dumpcmd_compression_ext(&comp), ".lz4", "cext: lz4");
	comp.algorithm = API_COMPRESSION_ZSTD;
	is_str(dumpcmd_compression_ext(&comp), ".zst", "cext: zstd");
	comp.enabled = false;
	is_str(dumpcmd_compression_ext(&comp), "", "cext: disabled");
	is_str(dumpcmd_compression_ext(NULL), "", "cext: absent");
	is_str(dumpcmd_encryption_ext(&noenc), "", "eext: disabled");
	enc.algorithm = API_ENCRYPTION_AES_256_CBC;
	is_str(dumpcmd_encryption_ext(&enc), ".enc", "eext: cbc too");

	memset(&st, 0, sizeof(st));
	st.set = true;
	st.type = API_STORAGE_S3;
	st.s3.prefix = "s3pfx";
	is_str(dumpcmd_storage_prefix(&st), "s3pfx", "prefix: s3");
	st.type = API_STORAGE_PVC;
	st.pvc.sub_path = "sub/dir";
	is_str(dumpcmd_storage_prefix(&st), "sub/dir", "prefix: pvc subPath");
	st.type = API_STORAGE_GCS;
	st.gcs.prefix = "";
	ok(dumpcmd_storage_prefix(&st) == NULL, "prefix: empty is none");
	st.type = API_STORAGE_AZURE;
	st.azure.prefix = "az";
	is_str(dumpcmd_storage_prefix(&st), "az", "prefix: azure");

	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		s = dumpcmd_object_key(keys[i][0], keys[i][1]);
		is_str(s, keys[i][2], keys[i][3]);
		free(s);
	}

	is_int(dumpcmd_pg_format_of("custom", NULL), API_PG_FORMAT_CUSTOM,
	    "format of: status name");
	is_int(dumpcmd_pg_format_of(NULL,
	    "p/appdb-b-20260106-100000.sql.zst.enc"), API_PG_FORMAT_PLAIN,
	    "format of: .sql.zst.enc");
	is_int(dumpcmd_pg_format_of("sql", "x.tar.gz"), API_PG_FORMAT_TAR,
	    "format of: 'sql' is no PostgreSQL format, the path decides");
	is_int(dumpcmd_pg_format_of("", "x.dump.lz4"), API_PG_FORMAT_CUSTOM,
	    "format of: .dump.lz4");
	is_int(dumpcmd_pg_format_of(NULL, "x.dir"), API_PG_FORMAT_DIRECTORY,
	    "format of: .dir");
	is_int(dumpcmd_pg_format_of(NULL, "x.bak"), API_PG_FORMAT_NONE,
	    "format of: unknown");
	is_int(dumpcmd_pg_format_of(NULL, NULL), API_PG_FORMAT_NONE,
	    "format of: nothing");
}

/* ---- the real tools ---- */

struct run {
	int exits;
	int code, signo;
	char tail[PROC_ERR_TAIL + 1];
	char out[4096];
	size_t len;
	bool eof;
};

static void
run_readable(struct proc *p, void *arg)
{
	struct run *r = arg;
	char b[4096];
	ssize_t n;

	while ((n = proc_read(p, b, sizeof(b))) > 0) {
		if (r->len + (size_t)n < sizeof(r->out)) {
			memcpy(r->out + r->len, b, (size_t)n);
			r->len += (size_t)n;
			r->out[r->len] = '\0';
		}
	}
	if (n == 0)
		r->eof = true;
}

static void
run_exited(struct proc *p, const struct proc_status *st, void *arg)
{
	struct run *r = arg;

	(void)p;
	r->exits++;
	r->code = st->exited ? st->code : -1;
	r->signo = st->signo;
	memcpy(r->tail, st->err_tail, st->err_len + 1);
}

static void
guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	*(bool *)w->data = true;
}

/* Runs a command to its end (stdin /dev/null); false if it hung. */
static bool
run(char *const argv[], char *const env[], unsigned flags, struct run *r)
{
	struct proc_cbs cbs = { run_readable, NULL, run_exited, r };
	char err[128];
	struct proc *p;
	ev_timer guard;
	bool fired = false;

	memset(r, 0, sizeof(*r));
	p = proc_spawn(loop, (const char *const *)argv,
	    (const char *const *)env, flags | PROC_STDERR, &cbs, err,
	    sizeof(err));
	if (p == NULL)
		return false;
	if (flags & PROC_STDOUT)
		proc_want_read(p, true);
	ev_timer_init(&guard, guard_cb, 60., 0.);
	guard.data = &fired;
	ev_timer_start(loop, &guard);
	while ((r->exits == 0 || ((flags & PROC_STDOUT) && !r->eof)) &&
	    !fired)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &guard);
	proc_free(p);
	return r->exits > 0;
}

static bool
installed(const char *tool)
{
	const char *path = getenv("PATH");
	char *cand, *dup, *dir, *save = NULL;
	bool found = false;

	if (path == NULL)
		return false;
	dup = xstrdup(path);
	for (dir = strtok_r(dup, ":", &save); dir && !found;
	    dir = strtok_r(NULL, ":", &save)) {
		cand = xasprintf("%s/%s", dir, tool);
		found = access(cand, X_OK) == 0;
		free(cand);
	}
	free(dup);
	return found;
}

/* One diagnostic line: a tool's message with its line breaks flattened. */
static void
diag_tool(const char *tool, const char *msg)
{
	char line[240];
	size_t i;

	strlcpy0(line, msg, sizeof(line));
	for (i = 0; line[i]; i++)
		if (line[i] == '\n' || line[i] == '\t')
			line[i] = ' ';
	diag("%s: %s", tool, line);
}

static void
skip_n(int n, const char *why)
{
	while (n-- > 0) {
		tap_n++;
		printf("ok %d # skip %s\n", tap_n, why);
	}
}

/* The options were taken: the tool failed to connect or to read its
 * input, not to parse its command line. */
static bool
parsed(const struct run *r)
{
	static const char *const complaints[] = { "invalid option",
	    "unrecognized option", "unknown option", "unknown variable",
	    "Try \"", "illegal option", "requires an argument",
	    "invalid argument", "too many command-line arguments" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(complaints); i++)
		if (strstr(r->tail, complaints[i]) != NULL)
			return false;
	return r->code != 0 && r->code != 127;
}

static void
test_real_tools(void)
{
	struct pgconn_params pp = pg_conn;
	struct myconn_params mp = my_conn;
	struct dumpcmd_pg pt = { &pp, "appdb", NULL, NULL };
	struct dumpcmd_my mt = { &mp, DUMPCMD_MARIADB, "appdb", NULL };
	struct api_pg_backup pgo = { PGD_DEFAULTS, .lock_wait_timeout = "5s",
	    .no_owner = true, .no_privileges = true, .no_sync = true,
	    .schemas = SV("public"), .exclude_schemas = SV("audit"),
	    .tables = SV("public.t"), .exclude_tables = SV("public.u") };
	struct api_pg_restore pgr = { PGR_DEFAULTS, .no_privileges = true,
	    .disable_triggers = true, .data_only = true,
	    .schemas = SV("public"), .tables = SV("t") };
	struct api_my_backup myo = { MYD_CRD, .set_gtid_purged = API_MY_GTID_OFF,
	    .tables = SV("t1"), .exclude_tables = SV("t2") };
	struct dumpcmd c;
	struct run r;
	char err[DUMPCMD_ERR_LEN], cnf[] = "/tmp/dumpcmd-test-cnf.XXXXXX";
	char *s, *pa[] = { "pg_dump", "-V", NULL };
	int fd;
	static const char pw[] = "p\"w\\d #x y\tz'";
	const char *ma[4];

	pp.host = "127.0.0.1";
	pp.port = 1;		/* nothing listens: connection refused */
	pp.sslmode = PGCONN_SSL_PREFER;
	mp.host = "127.0.0.1";
	mp.port = 1;
	dumpcmd_init(&c);

	if (!installed("pg_dump") || !installed("pg_restore") ||
	    !installed("psql")) {
		skip_n(4, "PostgreSQL client tools not installed");
	} else {
		ok(run(pa, NULL, PROC_STDOUT, &r) && r.code == 0 &&
		    str_has_prefix(r.out, "pg_dump (PostgreSQL)"),
		    "pg_dump -V runs");
		diag_tool("version", r.out);
		if (dumpcmd_pg_dump(&c, &pt, &pgo, err, sizeof(err)) != 0)
			diag("%s", err);
		run(c.argv, c.env, PROC_STDOUT, &r);
		ok(parsed(&r) && strstr(r.tail, "connection") != NULL,
		    "pg_dump takes every option and fails only to connect");
		diag_tool("pg_dump", r.tail);
		if (dumpcmd_pg_restore(&c, &pt, API_PG_FORMAT_CUSTOM, &pgr, err,
		    sizeof(err)) != 0)
			diag("%s", err);
		run(c.argv, c.env, 0, &r);
		ok(parsed(&r), "pg_restore takes every option (fails on the "
		    "empty input)");
		diag_tool("pg_restore", r.tail);
		if (dumpcmd_pg_restore(&c, &pt, API_PG_FORMAT_PLAIN, NULL, err,
		    sizeof(err)) != 0)
			diag("%s", err);
		run(c.argv, c.env, 0, &r);
		ok(parsed(&r) && strstr(r.tail, "connection") != NULL,
		    "psql takes every option and fails only to connect");
		diag_tool("psql", r.tail);
	}

	if (!installed("mariadb-dump") || !installed("mariadb")) {
		skip_n(3, "MariaDB client tools not installed");
	} else {
		if (dumpcmd_my_dump(&c, &mt, &myo, err, sizeof(err)) != 0)
			diag("%s", err);
		run(c.argv, c.env, PROC_STDOUT, &r);
		ok(parsed(&r) && strstr(r.tail, "connect") != NULL,
		    "mariadb-dump takes every option and fails only to "
		    "connect");
		diag_tool("mariadb-dump", r.tail);
		mp.tls_mode = MYCONN_TLS_VERIFY_FULL;
		if (dumpcmd_my_restore(&c, &mt, NULL, err, sizeof(err)) != 0)
			diag("%s", err);
		run(c.argv, c.env, 0, &r);
		ok(parsed(&r) && strstr(r.tail, "connect") != NULL,
		    "mariadb (verify-full) takes every option and fails only "
		    "to connect");
		diag_tool("mariadb", r.tail);

		/* The option file, read back by the real parser. */
		s = dumpcmd_my_cnf(pw);
		fd = mkstemp(cnf);
		ok(fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s),
		    "option file written");
		if (fd >= 0)
			close(fd);
		free_secret(s);
		s = xasprintf("--defaults-file=%s", cnf);
		ma[0] = "mariadb-dump";
		ma[1] = s;
		ma[2] = "--print-defaults";
		ma[3] = NULL;
		run((char *const *)ma, NULL, PROC_STDOUT, &r);
		ok(r.code == 0 && strstr(r.out, "--password=p\"w\\d #x y\tz' "),
		    "mariadb-dump reads the password back unchanged");
		free(s);
		unlink(cnf);
	}
	dumpcmd_release(&c);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_pg_dump_table();
	test_pg_env();
	test_pg_hostile();
	test_pg_restore_table();
	test_my_dump_table();
	test_my_conn();
	test_my_tls();
	test_my_restore_table();
	test_password_files();
	test_naming();
	test_real_tools();

	ev_loop_destroy(loop);
	pgtls_cleanup();
	return done_testing();
}
