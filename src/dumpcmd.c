/*
 * dumpcmd.c - argv and environment of the dump and restore tools, and the
 * artefact's name (contract and the differences from the original in
 * dumpcmd.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "dumpcmd.h"
#include "pgtls.h"

#define PG_DEFAULT_PORT		5432
#define MY_DEFAULT_PORT		3306
#define DEFAULT_CONNECT_TIMEOUT	10.0
#define PG_APPNAME		"dbprovd"
#define MY_DEFAULT_CHARSET	"utf8mb4"
#define MY_TLS_VERSIONS		"TLSv1.2,TLSv1.3"

/* ---- the struct ---------------------------------------------------- */

void
dumpcmd_init(struct dumpcmd *c)
{
	memset(c, 0, sizeof(*c));
}

void
dumpcmd_release(struct dumpcmd *c)
{
	size_t i;

	for (i = 0; i < c->argc; i++)
		free(c->argv[i]);
	for (i = 0; i < c->envc; i++)
		free_secret(c->env[i]);
	free(c->argv);
	free(c->env);
	dumpcmd_init(c);
}

const char *
dumpcmd_getenv(const struct dumpcmd *c, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < c->envc; i++)
		if (strncmp(c->env[i], name, n) == 0 && c->env[i][n] == '=')
			return c->env[i] + n + 1;
	return NULL;
}

/* Appends s (taken over) to a NULL-terminated vector. */
static void
vec_push(char ***v, size_t *n, size_t *cap, char *s)
{
	if (*n + 2 > *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

static void
arg(struct dumpcmd *c, const char *s)
{
	vec_push(&c->argv, &c->argc, &c->argcap, xstrdup(s));
}

static void argf(struct dumpcmd *c, const char *fmt, ...) DBP_PRINTF(2, 3);

static void
argf(struct dumpcmd *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vec_push(&c->argv, &c->argc, &c->argcap, xvasprintf(fmt, ap));
	va_end(ap);
}

static void
env(struct dumpcmd *c, const char *name, const char *value)
{
	vec_push(&c->env, &c->envc, &c->envcap, xasprintf("%s=%s", name,
	    value));
}

/* ---- checks -------------------------------------------------------- */

static bool
has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/*
 * A name that becomes one argv element: non-empty UTF-8 without control
 * characters, not starting with '-'. field names it in the message (the
 * name itself is not echoed: it may be anything).
 */
static int
check_name(const char *field, const char *s, char *err, size_t errlen)
{
	enum text_check tc;

	if (s == NULL || *s == '\0')
		return errf(err, errlen, "%s: must not be empty", field);
	tc = text_check(s, strlen(s));
	if (tc != TEXT_OK)
		return errf(err, errlen, "%s: %s", field, text_check_msg(tc));
	if (has_ctl(s))
		return errf(err, errlen, "%s: must not contain control "
		    "characters", field);
	if (s[0] == '-')
		return errf(err, errlen, "%s: must not start with '-' (a tool "
		    "would read it as an option)", field);
	return 0;
}

/* Every entry of a list, as "<field>[i]". */
static int
check_names(const char *field, const struct api_strv *v, char *err,
    size_t errlen)
{
	char f[96];
	size_t i;

	for (i = 0; i < v->n; i++) {
		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		if (check_name(f, v->v[i], err, errlen) != 0)
			return -1;
	}
	return 0;
}

/* Connection strings that reach the environment or an --opt=value. */
static int
check_value(const char *field, const char *s, char *err, size_t errlen)
{
	if (s == NULL || *s == '\0')
		return errf(err, errlen, "%s: must not be empty", field);
	if (has_ctl(s))
		return errf(err, errlen, "%s: must not contain control "
		    "characters", field);
	return 0;
}

static int
check_path(const char *field, const char *s, char *err, size_t errlen)
{
	if (check_value(field, s, err, errlen) != 0)
		return -1;
	if (s[0] != '/')
		return errf(err, errlen, "%s: must be an absolute path", field);
	return 0;
}

static int
connect_timeout(double t)
{
	double ct = t > 0 ? t : DEFAULT_CONNECT_TIMEOUT;

	/* libpq's minimum is 2; the mysql client takes whole seconds. */
	return ct < 2 ? 2 : (int)dbl_ceil(ct);
}

/* ---- PostgreSQL ------------------------------------------------------ */

/* The connection, all of it in the environment (see dumpcmd.h). */
static int
pg_env(struct dumpcmd *c, const struct dumpcmd_pg *t, char *err,
    size_t errlen)
{
	const struct pgconn_params *p = t->conn;
	const char *ca, *cert, *key;
	int port;
	char num[16];

	if (p == NULL)
		return errf(err, errlen, "no connection parameters");
	port = p->port ? p->port : PG_DEFAULT_PORT;
	if (check_value("host", p->host, err, errlen) != 0 ||
	    check_value("user", p->user, err, errlen) != 0 ||
	    check_name("database", t->dbname, err, errlen) != 0)
		return -1;
	if (port < 1 || port > 65535)
		return errf(err, errlen, "port %d out of range", port);
	if ((unsigned)p->sslmode >= PGCONN_SSL__COUNT)
		return errf(err, errlen, "invalid sslmode");
	if (t->passfile != NULL &&
	    check_path("password file", t->passfile, err, errlen) != 0)
		return -1;
	if (t->path != NULL && check_path("path", t->path, err, errlen) != 0)
		return -1;

	env(c, "PGHOST", p->host);
	snprintf(num, sizeof(num), "%d", port);
	env(c, "PGPORT", num);
	env(c, "PGUSER", p->user);
	env(c, "PGDATABASE", t->dbname);
	if (t->passfile != NULL) {
		env(c, "PGPASSFILE", t->passfile);
	} else {
		if (p->password != NULL)
			env(c, "PGPASSWORD", p->password);
		/* no ~/.pgpass of the daemon's user either */
		env(c, "PGPASSFILE", PGCONN_NO_FILE);
	}
	env(c, "PGSSLMODE", pgconn_sslmode_name(p->sslmode));
	/* The files exactly as pgconn_kw_build() names them, for the same
	 * reasons (no fallback to ~/.postgresql/, system roots for verify-*
	 * without a CA). */
	ca = pgtls_ca_file(p->tls);
	if (ca == NULL)
		ca = (p->sslmode == PGCONN_SSL_VERIFY_CA ||
		    p->sslmode == PGCONN_SSL_VERIFY_FULL) ?
		    PGCONN_SYSTEM_CA_FILE : PGCONN_NO_FILE;
	cert = pgtls_cert_file(p->tls);
	key = pgtls_key_file(p->tls);
	env(c, "PGSSLROOTCERT", ca);
	env(c, "PGSSLCERT", cert ? cert : PGCONN_NO_FILE);
	env(c, "PGSSLKEY", key ? key : PGCONN_NO_FILE);
	snprintf(num, sizeof(num), "%d", connect_timeout(p->connect_timeout));
	env(c, "PGCONNECT_TIMEOUT", num);
	env(c, "PGAPPNAME", p->application_name ? p->application_name :
	    PG_APPNAME);
	env(c, "PGGSSENCMODE", "disable");
	return 0;
}

/*
 * postgres.lockWaitTimeout in milliseconds: a Go duration ("60s", "1m30s"),
 * or bare digits taken as milliseconds (PostgreSQL's own reading). Rounded
 * up, so a small positive value never becomes 0 (no limit).
 */
static int
lock_wait_ms(const char *v, long long *ms, char *err, size_t errlen)
{
	char e[128];
	int64_t ns;
	size_t i;

	for (i = 0; v[i] >= '0' && v[i] <= '9'; i++)
		;
	if (v[i] == '\0' && i > 0 && i <= 12) {
		*ms = strtoll(v, NULL, 10);
	} else if (duration_parse(v, &ns, e, sizeof(e)) == 0) {
		if (ns < 0)
			return errf(err, errlen, "postgres.lockWaitTimeout: "
			    "must not be negative");
		*ms = ns / 1000000 + (ns % 1000000 != 0);
	} else {
		return errf(err, errlen, "postgres.lockWaitTimeout: %s", e);
	}
	if (*ms > 2147483647LL)
		return errf(err, errlen, "postgres.lockWaitTimeout: longer "
		    "than PostgreSQL allows (24 days)");
	return 0;
}

static const char *const pg_format_flag[API_PG_FORMAT__COUNT] = {
	[API_PG_FORMAT_NONE] = "-Fc",
	[API_PG_FORMAT_PLAIN] = "-Fp",
	[API_PG_FORMAT_CUSTOM] = "-Fc",
	[API_PG_FORMAT_DIRECTORY] = "-Fd",
	[API_PG_FORMAT_TAR] = "-Ft",
};

static void
arg_list(struct dumpcmd *c, const char *flag, const struct api_strv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		arg(c, flag);
		arg(c, v->v[i]);
	}
}

int
dumpcmd_pg_dump(struct dumpcmd *c, const struct dumpcmd_pg *t,
    const struct api_pg_backup *o, char *err, size_t errlen)
{
	/* the original's settings without a spec.postgres block */
	static const struct api_pg_backup defaults = {
		.method = API_PG_METHOD_PG_DUMP,
		.format = API_PG_FORMAT_CUSTOM,
		.jobs = 1,
		.blobs = true,
	};
	enum api_pg_dump_format fmt;
	long long ms = 0;
	bool lock_wait = false;

	dumpcmd_release(c);
	if (o == NULL || !o->set)
		o = &defaults;
	fmt = o->format == API_PG_FORMAT_NONE ? API_PG_FORMAT_CUSTOM :
	    o->format;
	if ((unsigned)fmt >= API_PG_FORMAT__COUNT)
		return errf(err, errlen, "postgres.format: invalid");
	if (o->method == API_PG_METHOD_PG_BASEBACKUP)
		return errf(err, errlen, "postgres.method: pg_basebackup is "
		    "not supported; use pg_dump");
	if (o->data_only && o->schema_only)
		return errf(err, errlen, "postgres.schemaOnly: must not be "
		    "true together with dataOnly");
	if (fmt == API_PG_FORMAT_DIRECTORY && t->path == NULL)
		return errf(err, errlen, "postgres.format: directory writes a "
		    "directory, which cannot be streamed; use custom, tar or "
		    "plain");
	if (o->jobs > 1 && fmt != API_PG_FORMAT_DIRECTORY)
		return errf(err, errlen, "postgres.jobs: pg_dump runs jobs in "
		    "parallel only with format directory");
	if (check_names("postgres.schemas", &o->schemas, err, errlen) != 0 ||
	    check_names("postgres.excludeSchemas", &o->exclude_schemas, err,
	    errlen) != 0 ||
	    check_names("postgres.tables", &o->tables, err, errlen) != 0 ||
	    check_names("postgres.excludeTables", &o->exclude_tables, err,
	    errlen) != 0)
		return -1;
	if (o->lock_wait_timeout != NULL && *o->lock_wait_timeout != '\0') {
		if (lock_wait_ms(o->lock_wait_timeout, &ms, err, errlen) != 0)
			return -1;
		lock_wait = true;
	}
	if (pg_env(c, t, err, errlen) != 0)
		goto fail;

	arg(c, "pg_dump");
	arg(c, "-w");
	arg(c, pg_format_flag[fmt]);
	if (t->path != NULL) {
		arg(c, "-f");
		arg(c, t->path);
	}
	if (fmt == API_PG_FORMAT_DIRECTORY && o->jobs > 1)
		argf(c, "-j%d", (int)o->jobs);
	if (o->data_only)
		arg(c, "-a");
	if (o->schema_only)
		arg(c, "-s");
	arg(c, o->blobs ? "-b" : "-B");
	if (o->no_owner)
		arg(c, "-O");
	if (o->no_privileges)
		arg(c, "-x");
	arg_list(c, "-n", &o->schemas);
	arg_list(c, "-N", &o->exclude_schemas);
	arg_list(c, "-t", &o->tables);
	arg_list(c, "-T", &o->exclude_tables);
	if (lock_wait)
		argf(c, "--lock-wait-timeout=%lld", ms);
	if (o->no_sync)
		arg(c, "--no-sync");
	c->writes_stdout = t->path == NULL;
	return 0;
fail:
	dumpcmd_release(c);
	return -1;
}

/* A libpq connection string holding only dbname, quoted: -d would take a
 * bare "host=x" as a connection string. */
static char *
pg_dbname_conninfo(const char *dbname)
{
	size_t n = strlen(dbname), i, k = 0;
	char *s = xmalloc(2 * n + sizeof("dbname=''"));

	memcpy(s, "dbname='", 8);
	k = 8;
	for (i = 0; i < n; i++) {
		if (dbname[i] == '\'' || dbname[i] == '\\')
			s[k++] = '\\';
		s[k++] = dbname[i];
	}
	s[k++] = '\'';
	s[k] = '\0';
	return s;
}

static int
psql_restore(struct dumpcmd *c, const struct dumpcmd_pg *t,
    const struct api_pg_restore *o, char *err, size_t errlen)
{
	static const char why[] = "a plain-format dump is replayed by psql "
	    "as a whole; this needs format custom or tar";

	if (o->data_only)
		return errf(err, errlen, "postgres.dataOnly: %s", why);
	if (o->schema_only)
		return errf(err, errlen, "postgres.schemaOnly: %s", why);
	if (o->no_privileges)
		return errf(err, errlen, "postgres.noPrivileges: %s", why);
	if (o->schemas.n > 0)
		return errf(err, errlen, "postgres.schemas: %s", why);
	if (o->tables.n > 0)
		return errf(err, errlen, "postgres.tables: %s", why);
	if (o->disable_triggers)
		return errf(err, errlen, "postgres.disableTriggers: %s", why);
	if (o->role_mapping.n > 0)
		return errf(err, errlen, "postgres.roleMapping: not supported "
		    "(no PostgreSQL tool renames roles)");
	if (o->jobs > 1)
		return errf(err, errlen, "postgres.jobs: %s", why);
	if (pg_env(c, t, err, errlen) != 0)
		return -1;
	arg(c, "psql");
	arg(c, "-X");
	arg(c, "-w");
	arg(c, "-q");
	arg(c, "-v");
	arg(c, "ON_ERROR_STOP=1");
	arg(c, "--single-transaction");
	/* Query results (the dump's SELECT set_config(...)) are noise. */
	arg(c, "-o");
	arg(c, "/dev/null");
	if (t->path != NULL) {
		arg(c, "-f");
		arg(c, t->path);
	}
	c->reads_stdin = t->path == NULL;
	if (o->no_owner)
		c->warning = "noOwner has no effect on a plain-format dump: "
		    "its ownership statements are replayed as pg_dump wrote "
		    "them";
	return 0;
}

int
dumpcmd_pg_restore(struct dumpcmd *c, const struct dumpcmd_pg *t,
    enum api_pg_dump_format format, const struct api_pg_restore *o,
    char *err, size_t errlen)
{
	static const struct api_pg_restore defaults = {
		.create_database = true,
		.no_owner = true,
		.jobs = 1,
		.analyze = true,
	};
	char *ci;

	dumpcmd_release(c);
	if (o == NULL || !o->set)
		o = &defaults;
	if (format == API_PG_FORMAT_NONE ||
	    (unsigned)format >= API_PG_FORMAT__COUNT)
		return errf(err, errlen, "the dump's format is unknown");
	if (o->data_only && o->schema_only)
		return errf(err, errlen, "postgres.schemaOnly: must not be "
		    "true together with dataOnly");
	if (check_names("postgres.schemas", &o->schemas, err, errlen) != 0 ||
	    check_names("postgres.tables", &o->tables, err, errlen) != 0)
		return -1;
	if (format == API_PG_FORMAT_PLAIN) {
		if (psql_restore(c, t, o, err, errlen) != 0)
			goto fail;
		return 0;
	}
	if (o->role_mapping.n > 0)
		return errf(err, errlen, "postgres.roleMapping: not supported: "
		    "pg_restore cannot rename roles (restore with noOwner and "
		    "grant to the new roles afterwards)");
	if (format == API_PG_FORMAT_DIRECTORY && t->path == NULL)
		return errf(err, errlen, "format directory is restored from a "
		    "local directory only");
	if (o->jobs > 1 && t->path == NULL)
		return errf(err, errlen, "postgres.jobs: pg_restore runs jobs "
		    "in parallel only from a local file, not from a stream");
	if (o->jobs > 1 && format == API_PG_FORMAT_TAR)
		return errf(err, errlen, "postgres.jobs: pg_restore cannot run "
		    "jobs in parallel on format tar");
	if (pg_env(c, t, err, errlen) != 0)
		goto fail;

	arg(c, "pg_restore");
	arg(c, "-w");
	arg(c, pg_format_flag[format]);
	arg(c, "-d");
	ci = pg_dbname_conninfo(t->dbname);
	arg(c, ci);
	free(ci);
	if (o->jobs > 1)
		argf(c, "-j%d", (int)o->jobs);
	if (o->data_only)
		arg(c, "-a");
	if (o->schema_only)
		arg(c, "-s");
	if (o->no_owner)
		arg(c, "-O");
	if (o->no_privileges)
		arg(c, "-x");
	if (o->disable_triggers)
		arg(c, "--disable-triggers");
	arg_list(c, "-n", &o->schemas);
	arg_list(c, "-t", &o->tables);
	arg(c, "--exit-on-error");
	if (t->path != NULL) {
		arg(c, "--");
		arg(c, t->path);
	}
	c->reads_stdin = t->path == NULL;
	return 0;
fail:
	dumpcmd_release(c);
	return -1;
}

/* ---- MySQL ----------------------------------------------------------- */

static bool
charset_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/*
 * The TLS options for the instance's mode, as myconn_opts_build() sets
 * them for the operator's own connection: a CA (and so a chain check) only
 * for verify-*, the system roots when none is given, the client
 * certificate whenever there is one, TLS 1.2 or newer.
 *
 * MariaDB's client has no --ssl-mode: "required" becomes --ssl (asks for
 * TLS; whether it refuses a server without it depends on the client
 * build), and verify-ca becomes --ssl-verify-server-cert, which checks
 * the host name too (stricter than asked, never weaker).
 */
static void
my_tls(struct dumpcmd *c, const struct myconn_params *p,
    enum dumpcmd_my_client client)
{
	static const char *const mysql_mode[MYCONN_TLS__COUNT] = {
		"DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA",
		"VERIFY_IDENTITY" };
	const char *ca = pgtls_ca_file(p->tls);
	const char *cert = pgtls_cert_file(p->tls);
	const char *key = pgtls_key_file(p->tls);
	bool verify = p->tls_mode == MYCONN_TLS_VERIFY_CA ||
	    p->tls_mode == MYCONN_TLS_VERIFY_FULL;

	if (client == DUMPCMD_MYSQL)
		argf(c, "--ssl-mode=%s", mysql_mode[p->tls_mode]);
	if (p->tls_mode == MYCONN_TLS_DISABLED) {
		if (client == DUMPCMD_MARIADB)
			arg(c, "--skip-ssl");
		return;
	}
	if (client == DUMPCMD_MARIADB)
		arg(c, "--ssl");
	if (verify)
		argf(c, "--ssl-ca=%s", ca ? ca : MYCONN_SYSTEM_CA_FILE);
	if (cert != NULL && key != NULL) {
		argf(c, "--ssl-cert=%s", cert);
		argf(c, "--ssl-key=%s", key);
	}
	if (verify && client == DUMPCMD_MARIADB)
		arg(c, "--ssl-verify-server-cert");
	argf(c, "--tls-version=%s", MY_TLS_VERSIONS);
}

/* The program, the option files, the connection and the password. */
static int
my_common(struct dumpcmd *c, const struct dumpcmd_my *t, bool restore,
    char *err, size_t errlen)
{
	const struct myconn_params *p = t->conn;
	const char *charset;
	int port;

	if (p == NULL)
		return errf(err, errlen, "no connection parameters");
	if ((unsigned)t->client >= DUMPCMD_MY__COUNT)
		return errf(err, errlen, "invalid client");
	if ((unsigned)p->tls_mode >= MYCONN_TLS__COUNT)
		return errf(err, errlen, "invalid TLS mode");
	port = p->port ? p->port : MY_DEFAULT_PORT;
	if (check_value("host", p->host, err, errlen) != 0 ||
	    check_value("user", p->user, err, errlen) != 0 ||
	    check_name("database", t->dbname, err, errlen) != 0)
		return -1;
	if (port < 1 || port > 65535)
		return errf(err, errlen, "port %d out of range", port);
	charset = p->charset ? p->charset : MY_DEFAULT_CHARSET;
	if (!charset_ok(charset))
		return errf(err, errlen, "invalid character set name");
	if (t->cnf != NULL &&
	    check_path("option file", t->cnf, err, errlen) != 0)
		return -1;

	if (t->client == DUMPCMD_MARIADB)
		arg(c, restore ? "mariadb" : "mariadb-dump");
	else
		arg(c, restore ? "mysql" : "mysqldump");
	/* Must come first; either way no other option file is read. */
	if (t->cnf != NULL)
		argf(c, "--defaults-file=%s", t->cnf);
	else
		arg(c, "--no-defaults");
	if (p->host[0] == '/') {
		argf(c, "--socket=%s", p->host);
		arg(c, "--protocol=SOCKET");
	} else {
		argf(c, "--host=%s", p->host);
		argf(c, "--port=%d", port);
		/* "localhost" would otherwise mean the local socket */
		arg(c, "--protocol=TCP");
	}
	argf(c, "--user=%s", p->user);
	argf(c, "--default-character-set=%s", charset);
	my_tls(c, p, t->client);
	if (restore)
		argf(c, "--connect-timeout=%d",
		    connect_timeout(p->connect_timeout));
	if (t->cnf == NULL && p->password != NULL)
		env(c, "MYSQL_PWD", p->password);
	return 0;
}

int
dumpcmd_my_dump(struct dumpcmd *c, const struct dumpcmd_my *t,
    const struct api_my_backup *o, char *err, size_t errlen)
{
	/* the original's settings without a spec.mysql block */
	static const struct api_my_backup defaults = {
		.method = API_MY_METHOD_MYSQLDUMP,
		.single_transaction = true,
		.quick = true,
		.routines = true,
		.triggers = true,
	};
	size_t i;

	dumpcmd_release(c);
	if (o == NULL || !o->set)
		o = &defaults;
	if (o->method == API_MY_METHOD_XTRABACKUP ||
	    o->method == API_MY_METHOD_MYSQLPUMP)
		return errf(err, errlen, "mysql.method: %s is not supported; "
		    "use mysqldump", api_my_backup_method_names[o->method]);
	if ((unsigned)o->set_gtid_purged >= API_MY_GTID__COUNT)
		return errf(err, errlen, "mysql.setGtidPurged: invalid");
	if (t->client == DUMPCMD_MARIADB &&
	    o->set_gtid_purged == API_MY_GTID_ON)
		return errf(err, errlen, "mysql.setGtidPurged: ON is not "
		    "supported by mariadb-dump (MariaDB has no gtid_purged)");
	if (check_names("mysql.databases", &o->databases, err, errlen) != 0 ||
	    check_names("mysql.tables", &o->tables, err, errlen) != 0 ||
	    check_names("mysql.excludeTables", &o->exclude_tables, err,
	    errlen) != 0)
		return -1;
	for (i = 0; i < o->databases.n; i++)
		if (!streq(o->databases.v[i], t->dbname))
			return errf(err, errlen, "mysql.databases[%zu]: a backup "
			    "dumps the Database it references only", i);
	if (my_common(c, t, false, err, errlen) != 0)
		goto fail;

	if (o->single_transaction)
		arg(c, "--single-transaction");
	arg(c, o->quick ? "--quick" : "--skip-quick");
	arg(c, o->lock_tables ? "--lock-tables" : "--skip-lock-tables");
	if (o->routines)
		arg(c, "--routines");
	arg(c, o->triggers ? "--triggers" : "--skip-triggers");
	if (o->events)
		arg(c, "--events");
	arg(c, o->extended_insert ? "--extended-insert" :
	    "--skip-extended-insert");
	if (t->client == DUMPCMD_MYSQL &&
	    o->set_gtid_purged != API_MY_GTID_NONE)
		argf(c, "--set-gtid-purged=%s",
		    api_my_gtid_purged_names[o->set_gtid_purged]);
	for (i = 0; i < o->exclude_tables.n; i++)
		argf(c, "--ignore-table=%s.%s", t->dbname,
		    o->exclude_tables.v[i]);
	arg(c, "--");
	arg(c, t->dbname);
	for (i = 0; i < o->tables.n; i++)
		arg(c, o->tables.v[i]);
	c->writes_stdout = true;
	return 0;
fail:
	dumpcmd_release(c);
	return -1;
}

int
dumpcmd_my_restore(struct dumpcmd *c, const struct dumpcmd_my *t,
    const struct api_my_restore *o, char *err, size_t errlen)
{
	static const struct api_my_restore defaults = {
		.create_database = true,
		.routines = true,
		.triggers = true,
		.events = true,
		.disable_foreign_key_checks = true,
		.disable_binlog = true,
	};
	static const char why[] = "false is not supported: a SQL dump is "
	    "replayed as a whole";

	dumpcmd_release(c);
	if (o == NULL || !o->set)
		o = &defaults;
	if (!o->routines)
		return errf(err, errlen, "mysql.routines: %s", why);
	if (!o->triggers)
		return errf(err, errlen, "mysql.triggers: %s", why);
	if (!o->events)
		return errf(err, errlen, "mysql.events: %s", why);
	if (my_common(c, t, true, err, errlen) != 0)
		goto fail;
	/* Session settings before the first statement of the dump; -e would
	 * make the client ignore stdin (the original's defect). */
	if (o->disable_foreign_key_checks && o->disable_binlog)
		arg(c, "--init-command=SET SESSION foreign_key_checks=0, "
		    "sql_log_bin=0");
	else if (o->disable_foreign_key_checks)
		arg(c, "--init-command=SET SESSION foreign_key_checks=0");
	else if (o->disable_binlog)
		arg(c, "--init-command=SET SESSION sql_log_bin=0");
	argf(c, "--database=%s", t->dbname);
	c->reads_stdin = true;
	return 0;
fail:
	dumpcmd_release(c);
	return -1;
}

/* ---- password files ------------------------------------------------- */

char *
dumpcmd_pgpass(const char *password)
{
	const char *pw = password ? password : "";
	size_t n = strlen(pw), i, k;
	char *s;

	if (strpbrk(pw, "\r\n") != NULL)
		return NULL;
	s = xmalloc(2 * n + sizeof("*:*:*:*:\n"));
	memcpy(s, "*:*:*:*:", 8);
	k = 8;
	for (i = 0; i < n; i++) {
		if (pw[i] == ':' || pw[i] == '\\')
			s[k++] = '\\';
		s[k++] = pw[i];
	}
	s[k++] = '\n';
	s[k] = '\0';
	return s;
}

char *
dumpcmd_my_cnf(const char *password)
{
	static const char head[] = "[client]\npassword=\"";
	const char *pw = password ? password : "";
	size_t n = strlen(pw), i, k;
	char *s, e;

	s = xmalloc(sizeof(head) + 2 * n + 3);
	memcpy(s, head, sizeof(head) - 1);
	k = sizeof(head) - 1;
	for (i = 0; i < n; i++) {
		switch (pw[i]) {
		case '\\': e = '\\'; break;
		case '"': e = '"'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		case '\b': e = 'b'; break;
		default: e = 0; break;
		}
		if (e != 0) {
			s[k++] = '\\';
			s[k++] = e;
		} else {
			s[k++] = pw[i];
		}
	}
	s[k++] = '"';
	s[k++] = '\n';
	s[k] = '\0';
	return s;
}

/* ---- the artefact ---------------------------------------------------- */

const char *
dumpcmd_ext(enum api_engine engine, const struct api_pg_backup *pg)
{
	if (engine == API_ENGINE_MYSQL)
		return ".sql";
	if (engine != API_ENGINE_POSTGRES)
		return ".bak";
	if (pg == NULL || !pg->set)
		return ".dump";
	switch (pg->format) {
	case API_PG_FORMAT_PLAIN:
		return ".sql";
	case API_PG_FORMAT_DIRECTORY:
		return ".dir";
	case API_PG_FORMAT_TAR:
		return ".tar";
	default:
		return ".dump";
	}
}

const char *
dumpcmd_compression_ext(const struct api_compression *c)
{
	if (c == NULL || !c->set || !c->enabled)
		return "";
	switch (c->algorithm) {
	case API_COMPRESSION_GZIP:
		return ".gz";
	case API_COMPRESSION_LZ4:
		return ".lz4";
	case API_COMPRESSION_ZSTD:
		return ".zst";
	default:
		return "";
	}
}

const char *
dumpcmd_encryption_ext(const struct api_encryption *e)
{
	return e != NULL && e->set && e->enabled ? ".enc" : "";
}

const char *
dumpcmd_format_name(enum api_engine engine, const struct api_pg_backup *pg)
{
	if (engine == API_ENGINE_MYSQL)
		return "sql";
	if (engine != API_ENGINE_POSTGRES)
		return "";
	if (pg == NULL || !pg->set || pg->format == API_PG_FORMAT_NONE ||
	    (unsigned)pg->format >= API_PG_FORMAT__COUNT)
		return "custom";
	return api_pg_dump_format_names[pg->format];
}

const char *
dumpcmd_storage_prefix(const struct api_storage *s)
{
	const char *p = NULL;

	if (s == NULL)
		return NULL;
	switch (s->type) {
	case API_STORAGE_GCS:
		p = s->gcs.prefix;
		break;
	case API_STORAGE_S3:
		p = s->s3.prefix;
		break;
	case API_STORAGE_AZURE:
		p = s->azure.prefix;
		break;
	case API_STORAGE_PVC:
		p = s->pvc.sub_path;
		break;
	default:
		break;
	}
	return p != NULL && *p != '\0' ? p : NULL;
}

char *
dumpcmd_backup_path(const char *prefix, const char *database,
    const char *backup, int64_t started, enum api_engine engine,
    const struct api_pg_backup *pg, const struct api_compression *comp,
    const struct api_encryption *enc)
{
	time_t t = (time_t)started;
	struct tm tm;
	char ts[32];
	bool pre = prefix != NULL && *prefix != '\0';

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm) == 0)
		strlcpy0(ts, "00000000-000000", sizeof(ts));
	return xasprintf("%s%s%s-%s-%s%s%s%s", pre ? prefix : "",
	    pre ? "/" : "", database ? database : "", backup ? backup : "",
	    ts, dumpcmd_ext(engine, pg), dumpcmd_compression_ext(comp),
	    dumpcmd_encryption_ext(enc));
}

/* Go's path.Clean() of s[0..n), appended to out (room for n + 2). */
static void
go_clean(const char *s, size_t n, char *out)
{
	bool rooted = n > 0 && s[0] == '/';
	size_t r = 0, w = 0, dotdot = 0;

	if (n == 0) {
		strcpy(out, ".");
		return;
	}
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (s[r] == '/') {
			r++;
		} else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) {
			r++;
		} else if (s[r] == '.' && s[r + 1] == '.' &&
		    (r + 2 == n || s[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && s[r] != '/'; r++)
				out[w++] = s[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
}

char *
dumpcmd_object_key(const char *prefix, const char *path)
{
	char *joined, *key;
	size_t n;

	if (prefix != NULL && prefix[0] == '/')
		prefix++;
	if (path == NULL)
		path = "";
	if (prefix == NULL || *prefix == '\0')
		return xstrdup(path);
	/* path.Join drops empty elements */
	joined = *path ? xasprintf("%s/%s", prefix, path) : xstrdup(prefix);
	n = strlen(joined);
	key = xmalloc(n + 3);
	go_clean(joined, n, key);
	free(joined);
	return key;
}

static bool
strip_suffix(const char *s, size_t *len, const char *suffix)
{
	size_t n = strlen(suffix);

	if (*len >= n && memcmp(s + *len - n, suffix, n) == 0) {
		*len -= n;
		return true;
	}
	return false;
}

enum api_pg_dump_format
dumpcmd_pg_format_of(const char *format_name, const char *path)
{
	size_t len;
	int f;

	if (format_name != NULL && *format_name != '\0') {
		f = api_enum_lookup(api_pg_dump_format_names,
		    API_PG_FORMAT__COUNT, format_name);
		if (f != API_PG_FORMAT_NONE)
			return (enum api_pg_dump_format)f;
	}
	if (path == NULL)
		return API_PG_FORMAT_NONE;
	len = strlen(path);
	strip_suffix(path, &len, ".enc");
	if (!strip_suffix(path, &len, ".gz") &&
	    !strip_suffix(path, &len, ".lz4"))
		strip_suffix(path, &len, ".zst");
	if (strip_suffix(path, &len, ".dump"))
		return API_PG_FORMAT_CUSTOM;
	if (strip_suffix(path, &len, ".sql"))
		return API_PG_FORMAT_PLAIN;
	if (strip_suffix(path, &len, ".tar"))
		return API_PG_FORMAT_TAR;
	if (strip_suffix(path, &len, ".dir"))
		return API_PG_FORMAT_DIRECTORY;
	return API_PG_FORMAT_NONE;
}
