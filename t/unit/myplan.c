/*
 * myplan.c - the MySQL and MariaDB planners: whole statements for given
 * (manifest, observed server state) on both flavours, idempotence,
 * revokes, refusals, hostile names, the observation queries.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>

#include "api_database.h"
#include "api_grant.h"
#include "api_role.h"
#include "api_user.h"
#include "myplan.h"
#include "unit/api_test.h"

/* One statement per line, rendered with MySQL's quoting. */
static char *
plan_text(const struct sqlplan *p)
{
	struct buf b = BUF_INIT(0);
	size_t i;

	for (i = 0; i < p->n; i++) {
		char *s = sqlstep_render_test(&p->v[i]);

		if (buf_printf(&b, "%s%s", i ? "\n" : "",
		    s ? s : "(render failed)") < 0)
			abort();
		free(s);
	}
	return buf_detach(&b, NULL);
}

static void
is_plan(struct sqlplan *p, const char *want, const char *name)
{
	char *s = plan_text(p);

	is_str(s, want, name);
	free(s);
	sqlplan_clear(p);
}

static void
is_redacted(struct sqlplan *p, const char *want, const char *name)
{
	struct buf b = BUF_INIT(0);
	size_t i;

	for (i = 0; i < p->n; i++) {
		char *s = sqlstep_render_redacted(&p->v[i]);

		if (buf_printf(&b, "%s%s", i ? "\n" : "", s ? s : "(failed)") < 0)
			abort();
		free(s);
	}
	is_str(buf_cstr(&b), want, name);
	buf_release(&b);
	sqlplan_clear(p);
}

#define ROW(fn, obj, ...) do { \
	const char *cols_[] = { __VA_ARGS__ }; \
	if (fn(obj, cols_, (int)ARRAY_SIZE(cols_)) < 0) { \
		printf("Bail out! row rejected by %s at line %d\n", #fn, \
		    __LINE__); \
		exit(1); \
	} \
} while (0)

#define PRIV(obs, host, which, ...) do { \
	const char *cols_[] = { __VA_ARGS__ }; \
	if (myplan_obs_priv_row(obs, host, which, cols_, \
	    (int)ARRAY_SIZE(cols_)) < 0) { \
		printf("Bail out! privilege row rejected at line %d\n", \
		    __LINE__); \
		exit(1); \
	} \
} while (0)

#define META "'apiVersion':'dbops.dbprovision.io/v1alpha1'," \
	"'metadata':{'name':'x','namespace':'ns'},"

static const struct myplan_server mysql8 = { MYPLAN_MYSQL, 80035 };
static const struct myplan_server maria = { MYPLAN_MARIADB, 101106 };

static void
parse_db(struct api_database *db, const char *json)
{
	struct api_errs e;

	api_errs_init(&e);
	if (api_database_parse(J(json), db, &e) < 0) {
		api_t_dump(&e);
		printf("Bail out! Database manifest rejected\n");
		exit(1);
	}
	api_errs_release(&e);
}

static void
parse_user(struct api_user *u, const char *json)
{
	struct api_errs e;

	api_errs_init(&e);
	if (api_user_parse(J(json), u, &e) < 0) {
		api_t_dump(&e);
		printf("Bail out! DatabaseUser manifest rejected\n");
		exit(1);
	}
	api_errs_release(&e);
}

static void
parse_role(struct api_role *r, const char *json)
{
	struct api_errs e;

	api_errs_init(&e);
	if (api_role_parse(J(json), r, &e) < 0) {
		api_t_dump(&e);
		printf("Bail out! DatabaseRole manifest rejected\n");
		exit(1);
	}
	api_errs_release(&e);
}

static void
parse_grant(struct api_grant *g, const char *json)
{
	struct api_errs e;

	api_errs_init(&e);
	if (api_grant_parse(J(json), g, &e) < 0) {
		api_t_dump(&e);
		printf("Bail out! DatabaseGrant manifest rejected\n");
		exit(1);
	}
	api_errs_release(&e);
}

static void
replace(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

/* ---- server, quoting, queries --------------------------------------- */

static void
test_server(void)
{
	struct myplan_server s;
	struct sqlplan q;

	ok(myplan_server_parse(&s, "8.0.35", "MySQL Community Server - GPL")
	    == 0 && s.flavour == MYPLAN_MYSQL && s.version == 80035,
	    "MySQL 8.0.35");
	ok(myplan_server_parse(&s, "10.11.6-MariaDB-1:10.11.6+maria~deb12",
	    "mariadb.org binary distribution") == 0 &&
	    s.flavour == MYPLAN_MARIADB && s.version == 101106,
	    "MariaDB 10.11.6 from VERSION()");
	ok(myplan_server_parse(&s, "5.5.5-10.6.16-MariaDB", NULL) == 0 &&
	    s.flavour == MYPLAN_MARIADB && s.version == 100616,
	    "MariaDB behind the 5.5.5- prefix");
	ok(myplan_server_parse(&s, "11.4.2", "MariaDB Server") == 0 &&
	    s.flavour == MYPLAN_MARIADB && s.version == 110402,
	    "MariaDB named by the comment only");
	ok(myplan_server_parse(&s, "8.4", NULL) == 0 && s.version == 80400,
	    "version without a patch level");
	ok(myplan_server_parse(&s, "x.y", NULL) < 0, "garbage refused");
	ok(myplan_server_parse(&s, "8.123.1", NULL) < 0, "3-digit part refused");
	ok(myplan_server_parse(&s, NULL, NULL) < 0, "NULL refused");
	ROW(myplan_server_row, &s, "8.0.19", "MySQL Community Server - GPL");
	is_int(s.version, 80019, "server row");

	sqlplan_init(&q);
	ok(myplan_q_server(&q) == 0 && q.dialect == SQL_DIALECT_MYSQL,
	    "an empty plan becomes a MySQL plan");
	is_plan(&q, "SELECT VERSION(), @@version_comment", "server query");
	sqlplan_release(&q);
}

static void
test_queries(void)
{
	struct sqlplan q;

	sqlplan_init_dialect(&q, SQL_DIALECT_MYSQL);
	ok(myplan_q_database(&q, "a'b") == 0, "database query");
	is_plan(&q, "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
	    "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'a\\'b'",
	    "database query text, name escaped");

	ok(myplan_q_accounts(&q, &mysql8, "app") == 0, "accounts (MySQL)");
	is_plan(&q, "SELECT Host, plugin, max_questions, max_updates, "
	    "max_connections, max_user_connections, ssl_type, account_locked, "
	    "password_expired, 'N', COALESCE(JSON_EXTRACT(User_attributes, "
	    "'$.Password_locking.failed_login_attempts'), 0), "
	    "COALESCE(JSON_EXTRACT(User_attributes, "
	    "'$.Password_locking.password_lock_time_days'), 0) FROM mysql.user "
	    "WHERE User = 'app' ORDER BY Host", "accounts query on MySQL 8");
	{
		struct myplan_server old = { MYPLAN_MYSQL, 80018 };

		ok(myplan_q_accounts(&q, &old, "app") == 0 &&
		    strstr(q.v[0].sql, "User_attributes") == NULL,
		    "MySQL before 8.0.19: no User_attributes");
		sqlplan_clear(&q);
	}
	ok(myplan_q_accounts(&q, &maria, "app") == 0, "accounts (MariaDB)");
	is_plan(&q, "SELECT u.Host, u.plugin, u.max_questions, u.max_updates, "
	    "u.max_connections, u.max_user_connections, u.ssl_type, "
	    "COALESCE(JSON_VALUE(g.Priv, '$.account_locked'), 'false'), "
	    "u.password_expired, u.is_role, '0', '0' FROM mysql.user u "
	    "LEFT JOIN mysql.global_priv g ON g.Host = u.Host AND "
	    "g.User = u.User WHERE u.User = 'app' ORDER BY u.Host",
	    "accounts query on MariaDB");
	ok(myplan_q_roles(&q, &mysql8, "app") == 0 &&
	    strstr(q.v[0].sql, "mysql.role_edges") &&
	    strstr(q.v[0].sql, "mysql.default_roles"), "roles from role_edges "
	    "and default_roles on MySQL");
	sqlplan_clear(&q);
	ok(myplan_q_roles(&q, &maria, "app") == 0 &&
	    strstr(q.v[0].sql, "mysql.roles_mapping") &&
	    strstr(q.v[0].sql, "default_role"), "roles from roles_mapping on "
	    "MariaDB");
	sqlplan_clear(&q);
	ok(myplan_q_privileges(&q, "app", "10.0.%") == 0, "privilege queries");
	is_int(q.n, MYPLAN_PRIVQ__COUNT, "one query per level");
	is_plan(&q, "SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM "
	    "information_schema.USER_PRIVILEGES WHERE GRANTEE = "
	    "'\\'app\\'@\\'10.0.%\\''\n"
	    "SELECT TABLE_SCHEMA, PRIVILEGE_TYPE, IS_GRANTABLE FROM "
	    "information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = "
	    "'\\'app\\'@\\'10.0.%\\''\n"
	    "SELECT TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE, IS_GRANTABLE "
	    "FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = "
	    "'\\'app\\'@\\'10.0.%\\''\n"
	    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, PRIVILEGE_TYPE, "
	    "IS_GRANTABLE FROM information_schema.COLUMN_PRIVILEGES WHERE "
	    "GRANTEE = '\\'app\\'@\\'10.0.%\\''\n"
	    "SELECT Db, Routine_name, Routine_type, Proc_priv FROM "
	    "mysql.procs_priv WHERE User = 'app' AND Host = '10.0.%'",
	    "privilege queries keyed by the GRANTEE string");
	sqlplan_release(&q);
}

static void
test_loaders(void)
{
	struct myplan_obs_user o;
	const struct myplan_obs_account *a;
	const char *bad[] = { "%", "caching_sha2_password", "x", "0", "0",
	    "0", "", "N", "N", "N", "0", "0" };

	myplan_obs_user_init(&o, &mysql8);
	ROW(myplan_obs_account_row, &o, "%", "caching_sha2_password", "10",
	    "0", "0", "3", "ANY", "Y", "N", "N", "3", "-1");
	a = myplan_obs_account(&o, "%");
	ok(a && a->max_queries == 10 && a->max_user_connections == 3 &&
	    strcmp(a->ssl_type, "ANY") == 0 && a->locked && !a->is_role &&
	    a->failed_login_attempts == 3 && a->password_lock_time == -1,
	    "account row");
	ok(myplan_obs_account_row(&o, bad, 12) < 0, "non-numeric limit "
	    "refused");
	bad[2] = "0";
	ok(myplan_obs_account_row(&o, bad, 12) < 0, "duplicate host refused");
	bad[0] = "h";
	ok(myplan_obs_account_row(&o, bad, 11) < 0, "wrong column count");
	bad[7] = "maybe";
	ok(myplan_obs_account_row(&o, bad, 12) < 0, "bad flag refused");
	ROW(myplan_obs_account_row, &o, "LocalHost", "x", "0", "0", "0", "0",
	    NULL, "true", "N", NULL, "0", "0");
	ok(myplan_obs_account(&o, "localhost") != NULL, "hosts compared "
	    "without case");
	ROW(myplan_obs_role_row, &o, "%", "r1", "%", "N", "1");
	ROW(myplan_obs_role_row, &o, "%", "r2", "%", "Y", "0");
	ROW(myplan_obs_role_row, &o, "%", "r3", "10.%", "N", "0");
	ROW(myplan_obs_role_row, &o, "nohost", "r4", "%", "N", "0");
	a = myplan_obs_account(&o, "%");
	is_int(a->held.n, 2, "roles on other hosts and of unknown accounts "
	    "ignored");
	ok(a->held.v[1].grant_option, "admin option kept");
	ok(a->default_roles.n == 1 && strcmp(a->default_roles.v[0], "r1") == 0,
	    "default role");
	PRIV(&o, "%", MYPLAN_PRIVQ_GLOBAL, "USAGE", "NO");
	is_int(a->held.n, 2, "USAGE skipped");
	PRIV(&o, "%", MYPLAN_PRIVQ_GLOBAL, "PROCESS", "YES");
	PRIV(&o, "%", MYPLAN_PRIVQ_DATABASE, "shop", "SELECT", "NO");
	PRIV(&o, "%", MYPLAN_PRIVQ_TABLE, "shop", "t", "ALTER", "NO");
	PRIV(&o, "%", MYPLAN_PRIVQ_COLUMN, "shop", "t", "c", "SELECT", "NO");
	PRIV(&o, "%", MYPLAN_PRIVQ_ROUTINE, "shop", "p", "PROCEDURE",
	    "Execute,Alter Routine,Grant");
	PRIV(&o, "%", MYPLAN_PRIVQ_ROUTINE, "shop", "pk", "PACKAGE", "Execute");
	is_int(a->held.n, 8, "privilege rows loaded");
	ok(a->held.v[6].obj == MYPLAN_OBJ_PROCEDURE &&
	    strcmp(a->held.v[6].privilege, "EXECUTE") == 0 &&
	    a->held.v[6].grant_option && strcmp(a->held.v[7].privilege,
	    "ALTER ROUTINE") == 0, "Proc_priv set split, Grant is the grant "
	    "option");
	{
		const char *c[] = { "SELECT", "NO" };

		ok(myplan_obs_priv_row(&o, "other", MYPLAN_PRIVQ_GLOBAL, c, 2) < 0,
		    "privilege row of an unknown account refused");
		ok(myplan_obs_priv_row(&o, "%", MYPLAN_PRIVQ_DATABASE, c, 2) < 0,
		    "privilege row with the wrong shape refused");
	}
	myplan_obs_user_release(&o);
}

/* ---- Database ------------------------------------------------------- */

static void
test_database(void)
{
	struct api_database db;
	struct myplan_obs_database o;
	struct sqlplan p;
	char err[300];

	sqlplan_init(&p);
	myplan_obs_database_init(&o);
	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'my'},'name':'plain'}}");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0,
	    "database without spec.mysql");
	ok(p.dialect == SQL_DIALECT_MYSQL, "the plan took the MySQL dialect");
	is_plan(&p, "CREATE DATABASE `plain`", "name only");
	ROW(myplan_obs_database_row, &o, "latin1", "latin1_swedish_ci");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "existing database without spec.mysql: nothing managed");
	api_database_release(&db);
	myplan_obs_database_release(&o);

	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'my'},'name':'shop','mysql':{}}}");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0,
	    "database with the defaults");
	is_plan(&p, "CREATE DATABASE `shop` CHARACTER SET utf8mb4 COLLATE "
	    "utf8mb4_unicode_ci", "defaults utf8mb4 / utf8mb4_unicode_ci");
	is_str(p.v == NULL ? "" : "x", "", "plan emptied");
	ROW(myplan_obs_database_row, &o, "utf8mb4", "utf8mb4_unicode_ci");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "idempotent: observed == wanted");
	myplan_obs_database_release(&o);
	ROW(myplan_obs_database_row, &o, "utf8mb4", "utf8mb4_0900_ai_ci");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p, "ALTER DATABASE `shop` COLLATE utf8mb4_unicode_ci",
	    "only the collation differs");
	myplan_obs_database_release(&o);
	ROW(myplan_obs_database_row, &o, "latin1", "latin1_swedish_ci");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0, "");
	ok(p.v[0].desc && strcmp(p.v[0].desc, "changed database shop to "
	    "character set utf8mb4 collation utf8mb4_unicode_ci") == 0,
	    "description");
	is_plan(&p, "ALTER DATABASE `shop` CHARACTER SET utf8mb4 COLLATE "
	    "utf8mb4_unicode_ci", "character set differs: both set");
	api_database_release(&db);
	myplan_obs_database_release(&o);

	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'my'},'name':'old','mysql':{'charset':'utf8',"
	    "'collation':'utf8_general_ci'}}}");
	ROW(myplan_obs_database_row, &o, "utf8mb3", "utf8mb3_general_ci");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "utf8 is utf8mb3");
	myplan_obs_database_release(&o);

	replace(&db.spec.mysql.collation, "latin1_bin");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.mysql.collation: latin1_bin is not a collation "
	    "of character set utf8"), "collation of another character set");
	ok(p.n == 0, "nothing appended on failure");
	replace(&db.spec.mysql.collation, "utf8_general_ci");
	replace(&db.spec.mysql.charset, "utf8 ; DROP");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strncmp(err, "spec.mysql.charset:", 19) == 0,
	    "hostile character set refused");
	replace(&db.spec.mysql.charset, "utf8");
	replace(&db.spec.mysql.sql_mode, "STRICT_ALL_TABLES");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.mysql.sqlMode: MySQL has no per-database SQL "
	    "mode"), "sqlMode refused");
	replace(&db.spec.mysql.sql_mode, "");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0,
	    "empty sqlMode accepted");
	sqlplan_clear(&p);
	replace(&db.spec.mysql.default_storage_engine, "MyISAM");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.mysql.defaultStorageEngine:"), "MyISAM refused");
	replace(&db.spec.mysql.default_storage_engine, "innodb");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0,
	    "InnoDB (any case) accepted");
	sqlplan_clear(&p);
	db.spec.postgres.set = true;
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strncmp(err, "spec.postgres:", 14) == 0, "spec.postgres refused");
	db.spec.postgres.set = false;

	/* hostile and long names */
	replace(&db.spec.name, "a`b'c\\d");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0,
	    "hostile name planned");
	is_plan(&p, "CREATE DATABASE `a``b'c\\d` CHARACTER SET utf8 COLLATE "
	    "utf8_general_ci", "backtick doubled, the rest literal inside "
	    "backticks");
	replace(&db.spec.name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaa");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.name: is longer than 64 characters"),
	    "65 characters refused");
	replace(&db.spec.name,
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0,
	    "64 two-byte characters accepted (the limit counts characters)");
	sqlplan_clear(&p);
	{
		char *n65 = xasprintf("%s\xc3\xa9", db.spec.name);

		replace(&db.spec.name, n65);
		free(n65);
	}
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0,
	    "65 two-byte characters refused");
	replace(&db.spec.name, "emoji\xf0\x9f\x98\x80");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "U+FFFF"), "supplementary character refused");
	replace(&db.spec.name, "trailing ");
	ok(mysqlplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "space"), "trailing space refused");
	api_database_release(&db);

	ok(mysqlplan_database_drop("shop", &p, err, sizeof(err)) == 0, "drop");
	is_plan(&p, "DROP DATABASE IF EXISTS `shop`", "drop statement");
	ok(mysqlplan_database_drop("MySQL", &p, err, sizeof(err)) < 0 &&
	    strstr(err, "system schema"), "mysql never dropped");
	ok(mysqlplan_database_drop("performance_schema", &p, err,
	    sizeof(err)) < 0, "performance_schema never dropped");
	ok(mysqlplan_database_drop("sys", &p, err, sizeof(err)) < 0 &&
	    mysqlplan_database_drop("information_schema", &p, err,
	    sizeof(err)) < 0, "sys and information_schema never dropped");
	is_int(p.n, 0, "no step from the refusals");
	sqlplan_release(&p);
}

/* ---- DatabaseUser --------------------------------------------------- */

static const char user_json[] = "{" META "'kind':'DatabaseUser','spec':{"
	"'instanceRef':{'name':'my'},'username':'app','mysql':{"
	"'maxQueriesPerHour':1000,'maxConnectionsPerHour':60,"
	"'maxUserConnections':10,'authPlugin':'caching_sha2_password',"
	"'requireSSL':true,'allowedHosts':['10.0.%','localhost']}}}";

/* The accounts after user_json was applied on MySQL 8. */
static void
obs_user_applied(struct myplan_obs_user *o, const struct myplan_server *s,
    const char *plugin)
{
	myplan_obs_user_init(o, s);
	ROW(myplan_obs_account_row, o, "10.0.%", plugin, "1000", "0", "60",
	    "10", "ANY", "N", "N", "N", "0", "0");
	ROW(myplan_obs_account_row, o, "localhost", plugin, "1000", "0", "60",
	    "10", "ANY", "N", "N", "N", "0", "0");
}

static void
test_native_hash(void)
{
	char h[42];

	myplan_native_hash("password", h);
	is_str(h, "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19",
	    "native hash of 'password'");
	myplan_native_hash("", h);
	is_str(h, "*BE1BDEC0AA74B4DCB079943E70528096CCA985F8",
	    "native hash of the empty string");
}

static void
test_user(void)
{
	struct api_user u;
	struct myplan_obs_user o;
	struct sqlplan p;
	char err[300];

	sqlplan_init(&p);
	parse_user(&u, user_json);

	/* creation on MySQL 8 */
	myplan_obs_user_init(&o, &mysql8);
	ok(mysqlplan_user_needs_password(&u.spec, &o), "new accounts need "
	    "the password");
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "must be created and no password"), "creation "
	    "without password refused");
	ok(mysqlplan_user(&u.spec, "pw'x", &o, &p, err, sizeof(err)) == 0,
	    "create on MySQL 8");
	is_plan(&p,
	    "CREATE USER 'app'@'10.0.%' IDENTIFIED WITH caching_sha2_password "
	    "BY 'pw\\'x' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 1000 "
	    "MAX_CONNECTIONS_PER_HOUR 60 MAX_USER_CONNECTIONS 10\n"
	    "CREATE USER 'app'@'localhost' IDENTIFIED WITH caching_sha2_password "
	    "BY 'pw\\'x' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 1000 "
	    "MAX_CONNECTIONS_PER_HOUR 60 MAX_USER_CONNECTIONS 10",
	    "CREATE USER per host, IDENTIFIED WITH plugin BY (not WITH <plugin>)");
	ok(mysqlplan_user(&u.spec, "pw'x", &o, &p, err, sizeof(err)) == 0, "");
	ok(p.v[0].desc && strcmp(p.v[0].desc, "created user 'app'@'10.0.%' "
	    "require SSL MAX_QUERIES_PER_HOUR 1000 MAX_CONNECTIONS_PER_HOUR 60 "
	    "MAX_USER_CONNECTIONS 10") == 0, "description without the password");
	is_redacted(&p,
	    "CREATE USER 'app'@'10.0.%' IDENTIFIED WITH caching_sha2_password "
	    "BY '********' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 1000 "
	    "MAX_CONNECTIONS_PER_HOUR 60 MAX_USER_CONNECTIONS 10\n"
	    "CREATE USER 'app'@'localhost' IDENTIFIED WITH caching_sha2_password "
	    "BY '********' REQUIRE SSL WITH MAX_QUERIES_PER_HOUR 1000 "
	    "MAX_CONNECTIONS_PER_HOUR 60 MAX_USER_CONNECTIONS 10",
	    "the password is a secret literal");
	myplan_obs_user_release(&o);

	/* idempotence */
	obs_user_applied(&o, &mysql8, "caching_sha2_password");
	ok(!mysqlplan_user_needs_password(&u.spec, &o), "no password needed "
	    "once applied");
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "observed == wanted: empty plan");

	/* rotation */
	ok(mysqlplan_user(&u.spec, "new", &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p,
	    "ALTER USER 'app'@'10.0.%' IDENTIFIED WITH caching_sha2_password "
	    "BY 'new'\n"
	    "ALTER USER 'app'@'localhost' IDENTIFIED WITH caching_sha2_password "
	    "BY 'new'", "password rotation: ALTER USER ... IDENTIFIED");

	/* drift and limits back to 0, lock, REQUIRE NONE */
	u.spec.mysql.max_queries_per_hour = 0;
	u.spec.mysql.require_ssl = false;
	u.spec.mysql.account_locked = true;
	u.spec.mysql.failed_login_attempts = 3;
	u.spec.mysql.password_lock_time = 2;
	replace(&u.spec.mysql.allowed_hosts.v[1], "LOCALHOST");
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p,
	    "ALTER USER 'app'@'10.0.%' REQUIRE NONE WITH MAX_QUERIES_PER_HOUR 0 "
	    "FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME 2 ACCOUNT LOCK\n"
	    "ALTER USER 'app'@'LOCALHOST' REQUIRE NONE WITH "
	    "MAX_QUERIES_PER_HOUR 0 FAILED_LOGIN_ATTEMPTS 3 PASSWORD_LOCK_TIME 2 "
	    "ACCOUNT LOCK", "only what differs; a limit back to 0 is set to 0");
	u.spec.mysql.require_x509 = true;
	o.v[0].locked = true;
	o.v[0].failed_login_attempts = 3;
	o.v[0].password_lock_time = 2;
	o.v[0].max_queries = 0;
	u.spec.mysql.allowed_hosts.n = 1;	/* drops localhost */
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0, "");
	u.spec.mysql.allowed_hosts.n = 2;
	is_plan(&p,
	    "ALTER USER 'app'@'10.0.%' REQUIRE X509\n"
	    "DROP USER IF EXISTS 'app'@'localhost'",
	    "REQUIRE X509; a host no longer listed is dropped");

	/* plugin change needs the password */
	replace(&u.spec.mysql.allowed_hosts.v[1], "localhost");
	u.spec.mysql.auth_plugin = API_MY_AUTH_NATIVE_PASSWORD;
	ok(mysqlplan_user_needs_password(&u.spec, &o), "plugin change needs "
	    "the password");
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.mysql.authPlugin: changing the plugin of "
	    "'app'@'10.0.%' from caching_sha2_password needs the password"),
	    "plugin change without password refused");
	u.spec.mysql.require_x509 = false;
	u.spec.mysql.require_ssl = true;
	u.spec.mysql.account_locked = false;
	u.spec.mysql.failed_login_attempts = 0;
	u.spec.mysql.password_lock_time = 0;
	u.spec.mysql.max_queries_per_hour = 1000;
	ok(mysqlplan_user(&u.spec, "password", &o, &p, err, sizeof(err)) == 0,
	    "");
	is_plan(&p,
	    "ALTER USER 'app'@'10.0.%' IDENTIFIED WITH mysql_native_password AS "
	    "'*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'\n"
	    "ALTER USER 'app'@'10.0.%' WITH MAX_QUERIES_PER_HOUR 1000 "
	    "FAILED_LOGIN_ATTEMPTS 0 PASSWORD_LOCK_TIME 0 ACCOUNT UNLOCK\n"
	    "ALTER USER 'app'@'localhost' IDENTIFIED WITH mysql_native_password "
	    "AS '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19'",
	    "native password travels as its hash (AS), never in plaintext");
	myplan_obs_user_release(&o);

	/* MariaDB */
	myplan_obs_user_init(&o, &maria);
	ok(mysqlplan_user(&u.spec, "password", &o, &p, err, sizeof(err)) == 0,
	    "create on MariaDB");
	is_plan(&p,
	    "CREATE USER 'app'@'10.0.%' IDENTIFIED VIA mysql_native_password "
	    "USING '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' REQUIRE SSL WITH "
	    "MAX_QUERIES_PER_HOUR 1000 MAX_CONNECTIONS_PER_HOUR 60 "
	    "MAX_USER_CONNECTIONS 10\n"
	    "CREATE USER 'app'@'localhost' IDENTIFIED VIA mysql_native_password "
	    "USING '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19' REQUIRE SSL WITH "
	    "MAX_QUERIES_PER_HOUR 1000 MAX_CONNECTIONS_PER_HOUR 60 "
	    "MAX_USER_CONNECTIONS 10", "MariaDB: IDENTIFIED VIA ... USING hash");
	u.spec.mysql.auth_plugin = API_MY_AUTH_CACHING_SHA2_PASSWORD;
	ok(mysqlplan_user(&u.spec, "password", &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 2 && strstr(p.v[0].sql, "VIA mysql_native_password"),
	    "MariaDB: the default caching_sha2_password means its native one");
	sqlplan_clear(&p);
	myplan_obs_user_release(&o);
	obs_user_applied(&o, &maria, "mysql_native_password");
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "MariaDB idempotent");
	u.spec.mysql.auth_plugin = API_MY_AUTH_SHA256_PASSWORD;
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.mysql.authPlugin: sha256_password is not "
	    "available on MariaDB"), "sha256_password refused on MariaDB");
	u.spec.mysql.auth_plugin = API_MY_AUTH_NATIVE_PASSWORD;
	u.spec.mysql.failed_login_attempts = 5;
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.mysql.failedLoginAttempts: not supported by "
	    "MariaDB"), "failedLoginAttempts refused on MariaDB");
	u.spec.mysql.failed_login_attempts = 0;
	u.spec.mysql.password_lock_time = 1;
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.mysql.passwordLockTime:"), "passwordLockTime "
	    "refused on MariaDB");
	u.spec.mysql.password_lock_time = 0;
	/* a MariaDB role of the same name is never dropped */
	ROW(myplan_obs_account_row, &o, "", "", "0", "0", "0", "0", "", "N",
	    "N", "Y", "0", "0");
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "role row left alone");
	ok(mysqlplan_user_drop("app", &o, &p, err, sizeof(err)) == 0, "drop");
	is_plan(&p, "DROP USER IF EXISTS 'app'@'10.0.%'\n"
	    "DROP USER IF EXISTS 'app'@'localhost'",
	    "drop every observed account, not the role");
	myplan_obs_user_release(&o);

	/* MySQL versions */
	{
		struct myplan_server old = { MYPLAN_MYSQL, 80018 };
		struct myplan_server nine = { MYPLAN_MYSQL, 90100 };

		myplan_obs_user_init(&o, &old);
		u.spec.mysql.auth_plugin = API_MY_AUTH_CACHING_SHA2_PASSWORD;
		u.spec.mysql.failed_login_attempts = 1;
		ok(mysqlplan_user(&u.spec, "x", &o, &p, err, sizeof(err)) < 0 &&
		    strstr(err, "needs MySQL 8.0.19"), "password locking needs "
		    "8.0.19");
		u.spec.mysql.failed_login_attempts = 0;
		myplan_obs_user_release(&o);
		myplan_obs_user_init(&o, &nine);
		u.spec.mysql.auth_plugin = API_MY_AUTH_NATIVE_PASSWORD;
		ok(mysqlplan_user(&u.spec, "x", &o, &p, err, sizeof(err)) < 0 &&
		    strstr(err, "removed in MySQL 9.0"), "native password "
		    "refused on MySQL 9");
		myplan_obs_user_release(&o);
	}

	/* hostile values */
	myplan_obs_user_init(&o, &mysql8);
	u.spec.mysql.auth_plugin = API_MY_AUTH_SHA256_PASSWORD;
	u.spec.mysql.allowed_hosts.n = 1;
	replace(&u.spec.mysql.allowed_hosts.v[0], "h'; DROP USER root; --\\");
	replace(&u.spec.username, "a'b\"c`d\\");
	ok(mysqlplan_user(&u.spec, "p\\'\n\r\032\"", &o, &p, err,
	    sizeof(err)) == 0, "hostile user, host and password planned");
	u.spec.mysql.allowed_hosts.n = 2;
	is_plan(&p,
	    "CREATE USER 'a\\'b\\\"c`d\\\\'@'h\\'; DROP USER root; --\\\\' "
	    "IDENTIFIED WITH sha256_password BY 'p\\\\\\'\\n\\r\\Z\\\"' REQUIRE "
	    "SSL WITH MAX_QUERIES_PER_HOUR 1000 MAX_CONNECTIONS_PER_HOUR 60 "
	    "MAX_USER_CONNECTIONS 10",
	    "every value escaped as mysql_real_escape_string does");
	replace(&u.spec.username, "abcdefghijklmnopqrstuvwxyz0123456");
	ok(mysqlplan_user(&u.spec, "x", &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.username: is longer than 32 characters"),
	    "33-character user name refused");
	replace(&u.spec.username, "a\x01");
	ok(mysqlplan_user(&u.spec, "x", &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "control"), "control character refused");
	replace(&u.spec.username, "app");
	replace(&u.spec.mysql.allowed_hosts.v[0], "bad\xff");
	ok(mysqlplan_user(&u.spec, "x", &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.mysql.allowedHosts[0]:"), "invalid UTF-8 host "
	    "refused with its path");
	replace(&u.spec.mysql.allowed_hosts.v[0], "%");
	ok(mysqlplan_user(&u.spec, "bad\xff", &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "password"), "invalid UTF-8 password refused");
	u.spec.postgres.set = true;
	ok(mysqlplan_user(&u.spec, "x", &o, &p, err, sizeof(err)) < 0 &&
	    strncmp(err, "spec.postgres:", 14) == 0, "spec.postgres refused");
	ok(p.n == 0, "nothing appended by the refusals");
	myplan_obs_user_release(&o);
	api_user_release(&u);

	/* without spec.mysql: the server's default plugin, nothing managed */
	parse_user(&u, "{" META "'kind':'DatabaseUser','spec':{'instanceRef':"
	    "{'name':'my'},'username':'plain'}}");
	myplan_obs_user_init(&o, &maria);
	ok(mysqlplan_user(&u.spec, "pw", &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p, "CREATE USER 'plain'@'%' IDENTIFIED BY 'pw'",
	    "no spec.mysql: one account on %, server default plugin");
	ROW(myplan_obs_account_row, &o, "%", "ed25519", "5", "0", "0", "0",
	    "", "Y", "N", "N", "0", "0");
	ok(mysqlplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "no spec.mysql: existing account not re-synced");
	myplan_obs_user_release(&o);
	api_user_release(&u);
	sqlplan_release(&p);
}

/* ---- DatabaseRole --------------------------------------------------- */

static void
test_role(void)
{
	struct api_role r;
	struct myplan_obs_user o;
	struct sqlplan p;
	char err[300];

	sqlplan_init(&p);
	parse_role(&r, "{" META "'kind':'DatabaseRole','spec':{'instanceRef':"
	    "{'name':'my'},'roleName':'rw','mysql':{}}}");
	myplan_obs_user_init(&o, &mysql8);
	ok(mysqlplan_role(&r.spec, &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p, "CREATE ROLE 'rw'@'%'", "native role on MySQL 8");
	ROW(myplan_obs_account_row, &o, "%", "caching_sha2_password", "0", "0",
	    "0", "0", "", "Y", "Y", "N", "0", "0");
	ok(mysqlplan_role(&r.spec, &o, &p, err, sizeof(err)) == 0 && p.n == 0,
	    "existing role: nothing");
	o.v[0].locked = false;
	ok(mysqlplan_role(&r.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.roleName: 'rw'@'%' exists and is not locked"),
	    "an unlocked login account is not adopted as a role");
	ok(mysqlplan_role_drop("rw", true, &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p, "DROP ROLE IF EXISTS 'rw'@'%'", "drop a MySQL role");
	myplan_obs_user_release(&o);
	myplan_obs_user_init(&o, &mysql8);
	ok(mysqlplan_role_drop("rw", true, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "drop of an absent role: nothing");
	myplan_obs_user_release(&o);

	myplan_obs_user_init(&o, &maria);
	ok(mysqlplan_role(&r.spec, &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p, "CREATE ROLE 'rw'", "native role on MariaDB: no host");
	ROW(myplan_obs_account_row, &o, "", "", "0", "0", "0", "0", "", "N",
	    "N", "Y", "0", "0");
	ok(mysqlplan_role(&r.spec, &o, &p, err, sizeof(err)) == 0 && p.n == 0,
	    "existing MariaDB role: nothing");
	ok(mysqlplan_role_drop("rw", true, &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p, "DROP ROLE IF EXISTS 'rw'", "drop a MariaDB role");
	myplan_obs_user_release(&o);

	/* emulated */
	r.spec.mysql.use_native_roles = false;
	myplan_obs_user_init(&o, &maria);
	ok(mysqlplan_role(&r.spec, &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p, "CREATE USER 'rw'@'%' ACCOUNT LOCK", "emulated role: a "
	    "locked account");
	ROW(myplan_obs_account_row, &o, "%", "mysql_native_password", "0", "0",
	    "0", "0", "", "false", "N", "N", "0", "0");
	ok(mysqlplan_role(&r.spec, &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p, "ALTER USER 'rw'@'%' ACCOUNT LOCK", "emulated role "
	    "unlocked by hand is locked again");
	ok(mysqlplan_role_drop("rw", false, &o, &p, err, sizeof(err)) == 0, "");
	is_plan(&p, "DROP USER IF EXISTS 'rw'@'%'", "drop an emulated role");
	myplan_obs_user_release(&o);
	{
		struct myplan_server old = { MYPLAN_MARIADB, 100005 - 1 };

		myplan_obs_user_init(&o, &old);
		r.spec.mysql.use_native_roles = true;
		ok(mysqlplan_role(&r.spec, &o, &p, err, sizeof(err)) < 0 &&
		    strstr(err, "spec.mysql.useNativeRoles:"), "no native roles "
		    "before MariaDB 10.0.5");
		myplan_obs_user_release(&o);
	}
	r.spec.postgres.set = true;
	myplan_obs_user_init(&o, &mysql8);
	ok(mysqlplan_role(&r.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strncmp(err, "spec.postgres:", 14) == 0, "spec.postgres refused");
	myplan_obs_user_release(&o);
	api_role_release(&r);
	sqlplan_release(&p);
}

/* ---- privileges ----------------------------------------------------- */

static const char grant_json[] = "{" META "'kind':'DatabaseGrant','spec':{"
	"'userRef':{'name':'app'},'mysql':{'roles':['rw'],'grants':["
	"{'level':'global','privileges':['PROCESS']},"
	"{'level':'database','database':'shop','privileges':['select',"
	"'INSERT']},"
	"{'level':'table','database':'shop','table':'orders',"
	"'privileges':['ALTER'],'withGrantOption':true},"
	"{'level':'column','database':'shop','table':'customers',"
	"'columns':['id','email'],'privileges':['SELECT','UPDATE']},"
	"{'level':'procedure','database':'shop','procedure':'close_day',"
	"'privileges':['EXECUTE']},"
	"{'level':'function','database':'shop','function':'tax',"
	"'privileges':['EXECUTE']}]}}}";

static const char grant_sql[] =
	"GRANT 'rw'@'%' TO 'app'@'%'\n"
	"GRANT PROCESS ON *.* TO 'app'@'%'\n"
	"GRANT SELECT, INSERT ON `shop`.* TO 'app'@'%'\n"
	"GRANT ALTER ON `shop`.`orders` TO 'app'@'%' WITH GRANT OPTION\n"
	"GRANT SELECT (`id`, `email`), UPDATE (`id`, `email`) ON "
	"`shop`.`customers` TO 'app'@'%'\n"
	"GRANT EXECUTE ON PROCEDURE `shop`.`close_day` TO 'app'@'%'\n"
	"GRANT EXECUTE ON FUNCTION `shop`.`tax` TO 'app'@'%'\n"
	"SET DEFAULT ROLE 'rw'@'%' TO 'app'@'%'";

/* What grant_json leaves on the server for host. */
static void
obs_granted(struct myplan_obs_user *o, const char *host, bool mariadb)
{
	ROW(myplan_obs_account_row, o, host, "caching_sha2_password", "0",
	    "0", "0", "0", "", "N", "N", "N", "0", "0");
	ROW(myplan_obs_role_row, o, host, "rw", mariadb ? "" : "%", "N", "1");
	PRIV(o, host, MYPLAN_PRIVQ_GLOBAL, "PROCESS", "NO");
	PRIV(o, host, MYPLAN_PRIVQ_DATABASE, "shop", "SELECT", "NO");
	PRIV(o, host, MYPLAN_PRIVQ_DATABASE, "shop", "INSERT", "NO");
	PRIV(o, host, MYPLAN_PRIVQ_TABLE, "shop", "orders", "ALTER", "YES");
	PRIV(o, host, MYPLAN_PRIVQ_COLUMN, "shop", "customers", "id", "SELECT",
	    "NO");
	PRIV(o, host, MYPLAN_PRIVQ_COLUMN, "shop", "customers", "email",
	    "SELECT", "NO");
	PRIV(o, host, MYPLAN_PRIVQ_COLUMN, "shop", "customers", "id", "UPDATE",
	    "NO");
	PRIV(o, host, MYPLAN_PRIVQ_COLUMN, "shop", "customers", "email",
	    "UPDATE", "NO");
	PRIV(o, host, MYPLAN_PRIVQ_ROUTINE, "shop", "close_day", "PROCEDURE",
	    "Execute");
	PRIV(o, host, MYPLAN_PRIVQ_ROUTINE, "shop", "tax", "FUNCTION",
	    "Execute");
}

static char *
set_json(const struct myplan_privset *s)
{
	struct jw w;
	char *t;

	jw_init(&w);
	myplan_privset_write(&w, s);
	t = jw_finish(&w, NULL);
	return t;
}

static void
test_grant(void)
{
	struct api_grant g;
	struct myplan_obs_user o;
	struct myplan_privset applied, prev, back;
	struct api_strv roles = { NULL, 0 };
	struct sqlplan p;
	char err[300], *js;

	sqlplan_init(&p);
	myplan_privset_init(&applied);
	myplan_privset_init(&prev);
	parse_grant(&g, grant_json);

	/* first pass on MySQL 8 */
	myplan_obs_user_init(&o, &mysql8);
	ROW(myplan_obs_account_row, &o, "%", "caching_sha2_password", "0",
	    "0", "0", "0", "", "N", "N", "N", "0", "0");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) == 0, "grant plans");
	ok(p.n == 8 && strcmp(p.v[0].desc, "granted role 'rw'@'%' to "
	    "'app'@'%'") == 0 && strcmp(p.v[4].desc, "granted SELECT (id, "
	    "email), UPDATE (id, email) on shop.customers to 'app'@'%'") == 0 &&
	    strcmp(p.v[7].desc, "set default roles 'rw'@'%' for 'app'@'%'") == 0,
	    "descriptions");
	is_plan(&p, grant_sql, "every level, roles, default role (MySQL 8)");
	is_int(applied.n, 11, "applied set: 1 role + 10 privileges");
	myplan_privset_roles(&applied, &roles);
	ok(roles.n == 1 && strcmp(roles.v[0], "rw") == 0, "applied roles");
	api_strv_release(&roles);
	js = set_json(&applied);
	ok(strstr(js, "{\"o\":\"role\",\"n\":\"rw\"}") &&
	    strstr(js, "{\"o\":\"table\",\"d\":\"shop\",\"n\":\"orders\","
	    "\"p\":\"ALTER\",\"g\":true}") &&
	    strstr(js, "{\"o\":\"column\",\"d\":\"shop\",\"n\":\"customers\","
	    "\"c\":\"email\",\"p\":\"UPDATE\"}"), "applied set as JSON");
	myplan_privset_init(&back);
	ok(myplan_privset_read(api_t_parse(js, strlen(js), "set"), &back, err,
	    sizeof(err)) == 0 && back.n == applied.n, "JSON read back");
	{
		char *js2 = set_json(&back);

		is_str(js2, js, "round trip");
		free(js2);
	}
	myplan_privset_release(&back);
	free(js);
	myplan_obs_user_release(&o);

	/* second pass: observed == wanted */
	myplan_obs_user_init(&o, &mysql8);
	obs_granted(&o, "%", false);
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, &applied, &p,
	    &prev, err, sizeof(err)) == 0 && p.n == 0,
	    "idempotent: empty plan");
	myplan_privset_release(&prev);

	/* drift: a privilege revoked by hand is granted again */
	myplan_privset_release(&o.v[0].held);
	myplan_privset_init(&o.v[0].held);
	myplan_obs_user_release(&o);
	myplan_obs_user_init(&o, &mysql8);
	obs_granted(&o, "%", false);
	{
		struct myplan_privset *h = &o.v[0].held;
		size_t i;

		for (i = 0; i < h->n; i++)
			if (h->v[i].privilege &&
			    strcmp(h->v[i].privilege, "INSERT") == 0) {
				free(h->v[i].privilege);
				h->v[i].privilege = xstrdup("DELETE");
			}
	}
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, &applied, &p,
	    &prev, err, sizeof(err)) == 0, "");
	is_plan(&p, "GRANT INSERT ON `shop`.* TO 'app'@'%'", "drift: the "
	    "missing privilege is granted again; a foreign one is left alone");
	myplan_privset_release(&prev);
	myplan_obs_user_release(&o);

	/* the spec shrinks: revokes, grant option alone */
	myplan_obs_user_init(&o, &mysql8);
	obs_granted(&o, "%", false);
	api_grant_release(&g);
	parse_grant(&g, "{" META "'kind':'DatabaseGrant','spec':{"
	    "'userRef':{'name':'app'},'mysql':{'grants':["
	    "{'level':'database','database':'shop','privileges':['SELECT']},"
	    "{'level':'table','database':'shop','table':'orders',"
	    "'privileges':['ALTER']},"
	    "{'level':'column','database':'shop','table':'customers',"
	    "'columns':['id'],'privileges':['SELECT']}]}}}");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, &applied, &p,
	    &prev, err, sizeof(err)) == 0, "shrunk spec plans");
	is_plan(&p,
	    "REVOKE 'rw'@'%' FROM 'app'@'%'\n"
	    "REVOKE PROCESS ON *.* FROM 'app'@'%'\n"
	    "REVOKE INSERT ON `shop`.* FROM 'app'@'%'\n"
	    "REVOKE GRANT OPTION ON `shop`.`orders` FROM 'app'@'%'\n"
	    "REVOKE SELECT (`email`), UPDATE (`id`, `email`) ON "
	    "`shop`.`customers` FROM 'app'@'%'\n"
	    "REVOKE EXECUTE ON PROCEDURE `shop`.`close_day` FROM 'app'@'%'\n"
	    "REVOKE EXECUTE ON FUNCTION `shop`.`tax` FROM 'app'@'%'\n"
	    "SET DEFAULT ROLE NONE TO 'app'@'%'",
	    "what was removed is revoked; the grant option separately");
	is_int(prev.n, 3, "new applied set");
	myplan_privset_release(&prev);
	myplan_obs_user_release(&o);

	/* deletion */
	myplan_obs_user_init(&o, &mysql8);
	obs_granted(&o, "%", false);
	ok(mysqlplan_grant_revoke("app", &g.spec.mysql, &o, &applied, &p, err,
	    sizeof(err)) == 0, "revoke everything");
	is_plan(&p,
	    "REVOKE 'rw'@'%' FROM 'app'@'%'\n"
	    "REVOKE SELECT, INSERT ON `shop`.* FROM 'app'@'%'\n"
	    "REVOKE ALTER ON `shop`.`orders` FROM 'app'@'%'\n"
	    "REVOKE GRANT OPTION ON `shop`.`orders` FROM 'app'@'%'\n"
	    "REVOKE SELECT (`id`, `email`), UPDATE (`id`, `email`) ON "
	    "`shop`.`customers` FROM 'app'@'%'\n"
	    "REVOKE PROCESS ON *.* FROM 'app'@'%'\n"
	    "REVOKE EXECUTE ON PROCEDURE `shop`.`close_day` FROM 'app'@'%'\n"
	    "REVOKE EXECUTE ON FUNCTION `shop`.`tax` FROM 'app'@'%'\n"
	    "SET DEFAULT ROLE NONE TO 'app'@'%'",
	    "deletion revokes all (what the spec names first, then the rest "
	    "of the applied set), the grant option in its own statement");
	myplan_obs_user_release(&o);
	myplan_obs_user_init(&o, &mysql8);
	ROW(myplan_obs_account_row, &o, "%", "caching_sha2_password", "0",
	    "0", "0", "0", "", "N", "N", "N", "0", "0");
	ok(mysqlplan_grant_revoke("app", &g.spec.mysql, &o, &applied, &p, err,
	    sizeof(err)) == 0 && p.n == 0, "nothing held: nothing revoked");
	myplan_obs_user_release(&o);
	api_grant_release(&g);

	/* MariaDB, two hosts, a host of the user not (yet) created */
	parse_grant(&g, grant_json);
	{
		char h1[] = "10.0.%", h2[] = "localhost";
		char *hv[] = { h1, h2 };
		struct api_strv hosts = { hv, 2 };

		myplan_obs_user_init(&o, &maria);
		ROW(myplan_obs_account_row, &o, "10.0.%", "mysql_native_password",
		    "0", "0", "0", "0", "", "false", "N", "N", "0", "0");
		ok(mysqlplan_grant("app", &hosts, &g.spec.mysql, &o, NULL, &p,
		    &prev, err, sizeof(err)) < 0 &&
		    strstr(err, "'app'@'localhost' does not exist"),
		    "GRANT never creates an account");
		ROW(myplan_obs_account_row, &o, "localhost",
		    "mysql_native_password", "0", "0", "0", "0", "", "false",
		    "N", "N", "0", "0");
		ROW(myplan_obs_account_row, &o, "old", "mysql_native_password",
		    "0", "0", "0", "0", "", "false", "N", "N", "0", "0");
		PRIV(&o, "old", MYPLAN_PRIVQ_GLOBAL, "PROCESS", "NO");
		ok(mysqlplan_grant("app", &hosts, &g.spec.mysql, &o, &applied,
		    &p, &prev, err, sizeof(err)) == 0, "MariaDB grant");
		ok(p.n == 17, "8 statements per host, one revoke on the old one");
		{
			char *s = sqlstep_render_test(&p.v[0]);

			is_str(s, "GRANT 'rw' TO 'app'@'10.0.%'", "MariaDB role "
			    "without host");
			free(s);
			s = sqlstep_render_test(&p.v[7]);
			is_str(s, "SET DEFAULT ROLE 'rw' FOR 'app'@'10.0.%'",
			    "MariaDB SET DEFAULT ROLE ... FOR");
			free(s);
			s = sqlstep_render_test(&p.v[16]);
			is_str(s, "REVOKE PROCESS ON *.* FROM 'app'@'old'",
			    "account on a host no longer listed: revoked");
			free(s);
		}
		sqlplan_clear(&p);
		myplan_privset_release(&prev);
		myplan_obs_user_release(&o);
		myplan_obs_user_init(&o, &maria);
		obs_granted(&o, "10.0.%", true);
		obs_granted(&o, "localhost", true);
		ok(mysqlplan_grant("app", &hosts, &g.spec.mysql, &o, &applied,
		    &p, &prev, err, sizeof(err)) == 0 && p.n == 0,
		    "MariaDB idempotent on both hosts");
		myplan_privset_release(&prev);
		ok(mysqlplan_grant_revoke("app", NULL, &o, &applied, &p, err,
		    sizeof(err)) == 0 && p.n == 18, "MariaDB deletion: 9 "
		    "statements per host");
		{
			char *s = sqlstep_render_test(&p.v[0]);

			is_str(s, "REVOKE 'rw' FROM 'app'@'10.0.%'", "MariaDB role "
			    "revoked");
			free(s);
			s = sqlstep_render_test(&p.v[8]);
			is_str(s, "SET DEFAULT ROLE NONE FOR 'app'@'10.0.%'",
			    "MariaDB default role reset");
			free(s);
		}
		sqlplan_clear(&p);
		myplan_obs_user_release(&o);
	}
	api_grant_release(&g);
	myplan_privset_release(&applied);

	/* ALL PRIVILEGES */
	parse_grant(&g, "{" META "'kind':'DatabaseGrant','spec':{"
	    "'userRef':{'name':'app'},'mysql':{'grants':["
	    "{'level':'database','database':'shop','privileges':['ALL']}]}}}");
	myplan_obs_user_init(&o, &mysql8);
	ROW(myplan_obs_account_row, &o, "%", "caching_sha2_password", "0",
	    "0", "0", "0", "", "N", "N", "N", "0", "0");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) == 0, "");
	is_plan(&p, "GRANT ALL PRIVILEGES ON `shop`.* TO 'app'@'%'",
	    "ALL becomes ALL PRIVILEGES");
	{
		static const char *const all_db[] = { "SELECT", "INSERT",
		    "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX",
		    "ALTER", "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE",
		    "CREATE VIEW", "SHOW VIEW", "CREATE ROUTINE", "ALTER ROUTINE",
		    "EVENT", "TRIGGER" };
		size_t i;

		for (i = 0; i < ARRAY_SIZE(all_db); i++)
			PRIV(&o, "%", MYPLAN_PRIVQ_DATABASE, "shop", all_db[i],
			    "NO");
	}
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, &applied, &p, &prev,
	    err, sizeof(err)) == 0 && p.n == 0, "ALL PRIVILEGES held when "
	    "every privilege of the level is");
	myplan_privset_release(&prev);
	ok(mysqlplan_grant("app", NULL, NULL, &o, &applied, &p, &prev, err,
	    sizeof(err)) == 0, "");
	is_plan(&p, "REVOKE ALL PRIVILEGES ON `shop`.* FROM 'app'@'%'",
	    "ALL PRIVILEGES revoked as such");
	myplan_privset_release(&prev);
	myplan_privset_release(&applied);
	myplan_obs_user_release(&o);
	api_grant_release(&g);

	/* refusals */
	parse_grant(&g, grant_json);
	myplan_obs_user_init(&o, &mysql8);
	ROW(myplan_obs_account_row, &o, "%", "caching_sha2_password", "0",
	    "0", "0", "0", "", "N", "N", "N", "0", "0");
	replace(&g.spec.mysql.grants.v[1].privileges.v[0], "RELOAD");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) < 0 && strstr(err, "spec.mysql.grants[1]."
	    "privileges[0]: RELOAD cannot be granted at level database"),
	    "global privilege at database level refused");
	replace(&g.spec.mysql.grants.v[1].privileges.v[0], "SELECT; DROP");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) < 0 && strstr(err, "privileges[0]: SELECT; DROP "
	    "is not a MySQL privilege"), "unknown privilege refused, never "
	    "pasted");
	replace(&g.spec.mysql.grants.v[1].privileges.v[0], "DELETE HISTORY");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) < 0 && strstr(err, "is not a MySQL privilege"),
	    "MariaDB-only privilege refused on MySQL");
	replace(&g.spec.mysql.grants.v[1].privileges.v[0], "GRANT OPTION");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) < 0 && strstr(err, "withGrantOption"),
	    "GRANT OPTION as a privilege refused");
	replace(&g.spec.mysql.grants.v[1].privileges.v[0], "SELECT");
	replace(&g.spec.mysql.grants.v[3].privileges.v[0], "DELETE");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) < 0 && strstr(err, "spec.mysql.grants[3]."
	    "privileges[0]: DELETE cannot be granted at level column"),
	    "DELETE on columns refused");
	replace(&g.spec.mysql.grants.v[3].privileges.v[0], "SELECT");
	replace(&g.spec.mysql.grants.v[0].privileges.v[0], "BACKUP_ADMIN");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) == 0 && strstr(p.v[1].sql, "%K ON *.*"),
	    "MySQL 8 dynamic privilege at global level");
	sqlplan_clear(&p);
	myplan_privset_release(&applied);
	replace(&g.spec.mysql.grants.v[0].privileges.v[0], "PROCESS");

	/* hostile names */
	replace(&g.spec.mysql.grants.v[2].database, "d`b");
	replace(&g.spec.mysql.grants.v[2].table, "t'\\`");
	replace(&g.spec.mysql.grants.v[3].columns.v[0], "c``");
	replace(&g.spec.mysql.roles.v[0], "r'ole\\");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) == 0, "hostile names planned");
	{
		char *s = sqlstep_render_test(&p.v[0]);

		is_str(s, "GRANT 'r\\'ole\\\\'@'%' TO 'app'@'%'", "hostile role "
		    "escaped");
		free(s);
		s = sqlstep_render_test(&p.v[3]);
		is_str(s, "GRANT ALTER ON `d``b`.`t'\\``` TO 'app'@'%' WITH GRANT "
		    "OPTION", "hostile database and table in backticks");
		free(s);
		s = sqlstep_render_test(&p.v[4]);
		is_str(s, "GRANT SELECT (`c`````, `email`), UPDATE (`c`````, "
		    "`email`) ON `shop`.`customers` TO 'app'@'%'",
		    "hostile column in backticks");
		free(s);
	}
	sqlplan_clear(&p);
	myplan_privset_release(&applied);
	replace(&g.spec.mysql.grants.v[2].table, "x\xf0\x9f\x98\x80");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) < 0 && strstr(err, "spec.mysql.grants[2].table:"),
	    "table name beyond U+FFFF refused with its path");
	replace(&g.spec.mysql.grants.v[2].table, "t");
	replace(&g.spec.mysql.roles.v[0], "");
	ok(mysqlplan_grant("app", NULL, &g.spec.mysql, &o, NULL, &p, &applied,
	    err, sizeof(err)) < 0 && strstr(err, "spec.mysql.roles[0]: must not "
	    "be empty"), "empty role refused");
	ok(p.n == 0 && applied.n == 0, "nothing appended or recorded on "
	    "failure");
	myplan_obs_user_release(&o);
	api_grant_release(&g);

	/* applied set read: malformed entries */
	{
		static const char *const bad[] = {
			"{}", "[{\"o\":\"bogus\"}]",
			"[{\"o\":\"table\",\"d\":\"x\",\"p\":\"SELECT\"}]",
			"[{\"o\":\"global\",\"p\":\"SELECT; DROP\"}]",
			"[{\"o\":\"column\",\"d\":\"x\",\"n\":\"t\",\"p\":"
			"\"DELETE\",\"c\":\"c\"}]",
			"[{\"o\":\"role\"}]",
			"[{\"o\":\"global\",\"p\":\"SELECT\",\"g\":1}]",
		};
		size_t i;

		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			myplan_privset_init(&back);
			ok(myplan_privset_read(api_t_parse(bad[i],
			    strlen(bad[i]), "bad"), &back, err, sizeof(err)) < 0,
			    bad[i]);
			myplan_privset_release(&back);
		}
	}
}

static void
test_role_grants(void)
{
	struct api_role r;
	struct myplan_obs_user o;
	struct myplan_privset applied, prev;
	struct sqlplan p;
	char err[300];

	sqlplan_init(&p);
	myplan_privset_init(&applied);
	myplan_privset_init(&prev);
	parse_role(&r, "{" META "'kind':'DatabaseRole','spec':{'instanceRef':"
	    "{'name':'my'},'roleName':'rw','mysql':{'grants':["
	    "{'level':'database','database':'shop','privileges':['SELECT']},"
	    "{'level':'column','database':'shop','table':'t','columns':['c'],"
	    "'privileges':['INSERT']}]}}}");
	myplan_obs_user_init(&o, &maria);
	ROW(myplan_obs_account_row, &o, "", "", "0", "0", "0", "0", "", "N",
	    "N", "Y", "0", "0");
	ok(mysqlplan_role_grants("rw", true, &r.spec.mysql.grants, &o, NULL,
	    &p, &applied, err, sizeof(err)) == 0, "");
	is_plan(&p, "GRANT SELECT ON `shop`.* TO 'rw'\n"
	    "GRANT INSERT (`c`) ON `shop`.`t` TO 'rw'",
	    "MariaDB role grants: the role has no host; column level kept "
	    "(not widened to the database)");
	PRIV(&o, "", MYPLAN_PRIVQ_DATABASE, "shop", "SELECT", "NO");
	PRIV(&o, "", MYPLAN_PRIVQ_COLUMN, "shop", "t", "c", "INSERT", "NO");
	PRIV(&o, "", MYPLAN_PRIVQ_DATABASE, "shop", "UPDATE", "NO");
	ok(mysqlplan_role_grants("rw", true, &r.spec.mysql.grants, &o,
	    &applied, &p, &prev, err, sizeof(err)) == 0 && p.n == 0,
	    "role grants idempotent; foreign privileges untouched");
	myplan_privset_release(&prev);
	r.spec.mysql.grants.n = 1;
	ok(mysqlplan_role_grants("rw", true, &r.spec.mysql.grants, &o,
	    &applied, &p, &prev, err, sizeof(err)) == 0, "");
	r.spec.mysql.grants.n = 2;
	is_plan(&p, "REVOKE INSERT (`c`) ON `shop`.`t` FROM 'rw'",
	    "role grant removed from the spec is revoked");
	myplan_privset_release(&prev);
	myplan_obs_user_release(&o);

	myplan_obs_user_init(&o, &mysql8);
	ok(mysqlplan_role_grants("rw", false, &r.spec.mysql.grants, &o, NULL,
	    &p, &prev, err, sizeof(err)) == 0, "");
	is_plan(&p, "GRANT SELECT ON `shop`.* TO 'rw'@'%'\n"
	    "GRANT INSERT (`c`) ON `shop`.`t` TO 'rw'@'%'",
	    "MySQL role grants to 'rw'@'%'");
	myplan_obs_user_release(&o);
	myplan_privset_release(&prev);
	myplan_privset_release(&applied);
	api_role_release(&r);
	sqlplan_release(&p);
}

int
main(void)
{
	test_server();
	test_queries();
	test_loaders();
	test_database();
	test_native_hash();
	test_user();
	test_role();
	test_grant();
	test_role_grants();
	api_t_done();
	return done_testing();
}
