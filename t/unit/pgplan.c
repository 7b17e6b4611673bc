/*
 * pgplan.c - the PostgreSQL planners: whole statements for given
 * (manifest, observed catalogs), idempotence, revokes, refusals.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>

#include "api_database.h"
#include "api_grant.h"
#include "api_role.h"
#include "api_user.h"
#include "pgplan.h"
#include "unit/api_test.h"

#define SCRAM "SCRAM-SHA-256$4096:c2FsdHNhbHQ=$U3RvcmVk:U2VydmVy"

/* One line per step: "!" when it may not run in a transaction, "@db "
 * when it runs in db, then the statement. */
static char *
plan_text(const struct sqlplan *p)
{
	struct buf b = BUF_INIT(0);
	size_t i;

	for (i = 0; i < p->n; i++) {
		char *s = sqlstep_render_test(&p->v[i]);

		if (buf_printf(&b, "%s%s%s%s%s%s", i ? "\n" : "",
		    p->v[i].flags & SQLSTEP_NO_TXN ? "!" : "",
		    p->v[i].database ? "@" : "",
		    p->v[i].database ? p->v[i].database : "",
		    p->v[i].database ? " " : "", s ? s : "(render failed)") < 0)
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

#define ROW(fn, obj, ...) do { \
	const char *cols_[] = { __VA_ARGS__ }; \
	if (fn(obj, cols_, (int)ARRAY_SIZE(cols_)) < 0) { \
		printf("Bail out! row rejected by %s at line %d\n", #fn, \
		    __LINE__); \
		exit(1); \
	} \
} while (0)

static void
server(struct pg_obs_server *s, const char *version)
{
	ROW(pg_obs_server_row, s, version, "admin", "postgres");
}

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

#define META "'apiVersion':'dbops.dbprovision.io/v1alpha1'," \
	"'metadata':{'name':'x','namespace':'ns'},"

/* ---- Database -------------------------------------------------------- */

static const char full_db[] = "{" META "'kind':'Database','spec':{"
	"'instanceRef':{'name':'pg'},'name':'app',"
	"'postgres':{'encoding':'UTF8','lcCollate':'en_US.UTF-8',"
	"'lcCtype':'en_US.UTF-8','tablespace':'fast','template':'template0',"
	"'connectionLimit':20,'isTemplate':false,'allowConnections':true,"
	"'extensions':[{'name':'pgcrypto'},"
	"{'name':'postgis','schema':'gis','version':'3.4.0'}],"
	"'schemas':[{'name':'gis'},{'name':'app','owner':'app_owner'}],"
	"'defaultPrivileges':[{'role':'app_ro','schema':'app',"
	"'objectType':'tables','privileges':['SELECT']},"
	"{'role':'app_rw','schema':'app','objectType':'sequences',"
	"'privileges':['ALL']}]}}}";

/* The catalogs after full_db was applied. */
static void
obs_full_db(struct pg_obs_database *o)
{
	pg_obs_database_init(o);
	server(&o->server, "150004");
	ROW(pg_obs_database_row, o, "admin", "UTF8", "en_US.utf8",
	    "en_US.utf8", "fast", "20", "f", "t");
	ROW(pg_obs_extension_row, o, "pgcrypto", "public", "1.3");
	ROW(pg_obs_extension_row, o, "plpgsql", "pg_catalog", "1.0");
	ROW(pg_obs_extension_row, o, "postgis", "gis", "3.4.0");
	ROW(pg_obs_schema_row, o, "app", "app_owner");
	ROW(pg_obs_schema_row, o, "gis", "admin");
	ROW(pg_obs_schema_row, o, "public", "pg_database_owner");
	ROW(pg_obs_defacl_row, &o->defacl, "app_owner", "app", "r", "app_ro",
	    "SELECT", "f");
	ROW(pg_obs_defacl_row, &o->defacl, "app_owner", "app", "S", "app_rw",
	    "SELECT", "f");
	ROW(pg_obs_defacl_row, &o->defacl, "app_owner", "app", "S", "app_rw",
	    "UPDATE", "f");
	ROW(pg_obs_defacl_row, &o->defacl, "app_owner", "app", "S", "app_rw",
	    "USAGE", "f");
}

static void
test_database(void)
{
	struct api_database db;
	struct pg_obs_database o;
	struct sqlplan p;
	char err[300], name64[80];

	sqlplan_init(&p);

	/* no spec.postgres: a plain CREATE, connections allowed */
	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'pg'},'name':'plain'}}");
	pg_obs_database_init(&o);
	server(&o.server, "150004");
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0,
	    "database without spec.postgres plans");
	is_plan(&p, "!CREATE DATABASE \"plain\"", "no ALLOW_CONNECTIONS false "
	    "without a postgres block (original defect fixed)");
	ROW(pg_obs_database_row, &o, "admin", "SQL_ASCII", "C", "C",
	    "pg_default", "-1", "f", "f");
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "existing database without a postgres block: nothing "
	    "managed");
	pg_obs_database_release(&o);
	api_database_release(&db);

	/* every option */
	parse_db(&db, full_db);
	pg_obs_database_init(&o);
	server(&o.server, "150004");
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0,
	    "full database plans");
	is_plan(&p,
	    "!CREATE DATABASE \"app\" WITH TEMPLATE = \"template0\" ENCODING = "
	    "'UTF8' LC_COLLATE = 'en_US.UTF-8' LC_CTYPE = 'en_US.UTF-8' "
	    "TABLESPACE = \"fast\" CONNECTION LIMIT = 20 IS_TEMPLATE = false "
	    "ALLOW_CONNECTIONS = true\n"
	    "@app CREATE SCHEMA IF NOT EXISTS \"gis\"\n"
	    "@app CREATE SCHEMA IF NOT EXISTS \"app\" AUTHORIZATION \"app_owner\"\n"
	    "@app CREATE EXTENSION IF NOT EXISTS \"pgcrypto\" SCHEMA \"public\"\n"
	    "@app CREATE EXTENSION IF NOT EXISTS \"postgis\" SCHEMA \"gis\" "
	    "VERSION '3.4.0'\n"
	    "@app ALTER DEFAULT PRIVILEGES FOR ROLE \"app_owner\" IN SCHEMA "
	    "\"app\" GRANT SELECT ON TABLES TO \"app_ro\"\n"
	    "@app ALTER DEFAULT PRIVILEGES FOR ROLE \"app_owner\" IN SCHEMA "
	    "\"app\" GRANT SELECT, UPDATE, USAGE ON SEQUENCES TO \"app_rw\"",
	    "create: every option, schemas before extensions, default "
	    "privileges FOR ROLE the schema owner TO the role");
	pg_obs_database_release(&o);

	/* the same catalogs as the spec: nothing to do */
	obs_full_db(&o);
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0, "plans");
	is_plan(&p, "", "idempotent: matching catalogs give an empty plan");
	pg_obs_database_release(&o);

	/* drift */
	pg_obs_database_init(&o);
	server(&o.server, "150004");
	ROW(pg_obs_database_row, &o, "admin", "UTF8", "en_US.UTF-8",
	    "en_US.UTF-8", "pg_default", "-1", "t", "f");
	ROW(pg_obs_extension_row, &o, "pgcrypto", "public", "1.3");
	ROW(pg_obs_extension_row, &o, "postgis", "public", "3.3.2");
	ROW(pg_obs_schema_row, &o, "app", "someone");
	ROW(pg_obs_schema_row, &o, "gis", "admin");
	ROW(pg_obs_defacl_row, &o.defacl, "app_owner", "app", "S", "app_rw",
	    "SELECT", "f");
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0,
	    "drifted database plans");
	is_plan(&p,
	    "ALTER DATABASE \"app\" WITH CONNECTION LIMIT 20 IS_TEMPLATE false "
	    "ALLOW_CONNECTIONS true\n"
	    "!ALTER DATABASE \"app\" SET TABLESPACE \"fast\"\n"
	    "@app ALTER SCHEMA \"app\" OWNER TO \"app_owner\"\n"
	    "@app ALTER EXTENSION \"postgis\" SET SCHEMA \"gis\"\n"
	    "@app ALTER EXTENSION \"postgis\" UPDATE TO '3.4.0'\n"
	    "@app ALTER DEFAULT PRIVILEGES FOR ROLE \"app_owner\" IN SCHEMA "
	    "\"app\" GRANT SELECT ON TABLES TO \"app_ro\"\n"
	    "@app ALTER DEFAULT PRIVILEGES FOR ROLE \"app_owner\" IN SCHEMA "
	    "\"app\" GRANT UPDATE, USAGE ON SEQUENCES TO \"app_rw\"",
	    "drift: only what differs is altered");
	ok(p.n == 0, "plan cleared");

	/* what cannot change */
	free(o.encoding);
	o.encoding = xstrdup("LATIN1");
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0, "encoding "
	    "change refused");
	ok(strstr(err, "spec.postgres.encoding: cannot change after creation") &&
	    strstr(err, "LATIN1"), "error names the field and both values");
	is_int(p.n, 0, "nothing planned on error");
	free(o.encoding);
	o.encoding = xstrdup("UTF8");
	free(o.collate);
	o.collate = xstrdup("C");
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.postgres.lcCollate"), "collation change refused");
	pg_obs_database_release(&o);
	api_database_release(&db);

	/* aliases of encodings are the same encoding */
	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'pg'},'name':'app','postgres':{'encoding':'utf-8',"
	    "'connectionLimit':0}}}");
	pg_obs_database_init(&o);
	server(&o.server, "150004");
	ROW(pg_obs_database_row, &o, "admin", "UTF8", "C", "C", "pg_default",
	    "-1", "f", "t");
	o.inside = true;
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0, "plans");
	is_plan(&p, "", "utf-8 is UTF8; connectionLimit 0 means unlimited as "
	    "in the original");
	pg_obs_database_release(&o);
	pg_obs_database_init(&o);
	server(&o.server, "150004");
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0, "plans");
	is_plan(&p, "!CREATE DATABASE \"app\" WITH TEMPLATE = \"template0\" "
	    "ENCODING = 'UTF8' TABLESPACE = \"pg_default\" CONNECTION LIMIT = -1 "
	    "IS_TEMPLATE = false ALLOW_CONNECTIONS = true", "defaults of an "
	    "empty postgres block; the canonical encoding name is sent");
	pg_obs_database_release(&o);
	api_database_release(&db);

	/* refusals */
	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'pg'},'name':'app','postgres':{'encoding':'EBCDIC'}}}");
	pg_obs_database_init(&o);
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.postgres.encoding: \"EBCDIC\" is not"),
	    "unknown encoding refused");
	api_database_release(&db);
	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'pg'},'name':'app','postgres':{'lcCollate':"
	    "'en_US\\u0027 || pg_sleep(10) || \\u0027'}}}");
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.postgres.lcCollate: must be a plain locale"),
	    "hostile locale refused");
	api_database_release(&db);
	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'pg'},'name':'app','postgres':{'allowConnections':false,"
	    "'schemas':[{'name':'s'}]}}}");
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.postgres.allowConnections"), "schemas without "
	    "connections refused");
	api_database_release(&db);
	memset(name64, 'x', 64);
	name64[64] = '\0';
	{
		char *m = xasprintf("{" META "'kind':'Database','spec':{"
		    "'instanceRef':{'name':'pg'},'name':'app','postgres':{"
		    "'schemas':[{'name':'ok'},{'name':'%s'}]}}}", name64);

		parse_db(&db, m);
		free(m);
	}
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0,
	    "64-byte schema name refused");
	is_str(err, "spec.postgres.schemas[1].name: is longer than 63 bytes "
	    "(PostgreSQL's identifier limit)", "error has the field path");
	is_int(p.n, 0, "no partial plan");
	api_database_release(&db);

	/* hostile but valid names travel as identifiers */
	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'pg'},'name':'app','postgres':{'schemas':[{'name':"
	    "\"a\\\"b; DROP SCHEMA public; --\",'owner':'o\\u0027wn\\\\er'}],"
	    "'extensions':[{'name':'uuid-ossp','version':'1\\u00270'}]}}}");
	o.exists = false;
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0, "hostile "
	    "names plan");
	{
		char *t = plan_text(&p);

		ok(strstr(t, "@app CREATE SCHEMA IF NOT EXISTS \"a\"\"b; DROP "
		    "SCHEMA public; --\" AUTHORIZATION \"o'wn\\er\"") != NULL,
		    "quoted schema and owner");
		ok(strstr(t, "CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\" SCHEMA "
		    "\"public\" VERSION '1''0'") != NULL, "quoted version literal");
		free(t);
	}
	sqlplan_clear(&p);
	api_database_release(&db);
	pg_obs_database_release(&o);

	/* default privileges on public (owned by pg_database_owner): the
	 * creator is the database owner */
	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'pg'},'name':'app','postgres':{'defaultPrivileges':["
	    "{'role':'ro','schema':'public','objectType':'functions',"
	    "'privileges':['EXECUTE']},{'role':'ro','schema':'public',"
	    "'objectType':'types','privileges':['ALL PRIVILEGES']}]}}}");
	pg_obs_database_init(&o);
	server(&o.server, "150004");
	ROW(pg_obs_database_row, &o, "dbowner", "UTF8", "C", "C", "pg_default",
	    "-1", "f", "t");
	ROW(pg_obs_schema_row, &o, "public", "pg_database_owner");
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) == 0, "plans");
	is_plan(&p, "@app ALTER DEFAULT PRIVILEGES FOR ROLE \"dbowner\" IN "
	    "SCHEMA \"public\" GRANT EXECUTE ON FUNCTIONS TO \"ro\"\n"
	    "@app ALTER DEFAULT PRIVILEGES FOR ROLE \"dbowner\" IN SCHEMA "
	    "\"public\" GRANT USAGE ON TYPES TO \"ro\"", "creator of public is "
	    "the database owner; ALL on types is USAGE");
	pg_obs_database_release(&o);
	api_database_release(&db);
	parse_db(&db, "{" META "'kind':'Database','spec':{'instanceRef':"
	    "{'name':'pg'},'name':'app','postgres':{'defaultPrivileges':["
	    "{'role':'ro','schema':'public','objectType':'sequences',"
	    "'privileges':['EXECUTE']}]}}}");
	pg_obs_database_init(&o);
	ok(pgplan_database(&db.spec, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.postgres.defaultPrivileges[0].privileges[0]: "
	    "EXECUTE does not apply to sequences"), "privilege checked against "
	    "the object type");
	pg_obs_database_release(&o);
	api_database_release(&db);

	/* deletion */
	pg_obs_database_init(&o);
	server(&o.server, "150004");
	ok(pgplan_database_drop("app", &o, true, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "drop of an absent database: nothing");
	ROW(pg_obs_database_row, &o, "admin", "UTF8", "C", "C", "pg_default",
	    "-1", "t", "t");
	ok(pgplan_database_drop("app", &o, true, &p, err, sizeof(err)) == 0,
	    "forced drop plans");
	is_plan(&p, "ALTER DATABASE \"app\" WITH IS_TEMPLATE false\n"
	    "!DROP DATABASE IF EXISTS \"app\" WITH (FORCE)", "PostgreSQL 15: "
	    "WITH (FORCE); a template is unmarked first");
	ok(pgplan_database_drop("app", &o, false, &p, err, sizeof(err)) == 0,
	    "plain drop plans");
	is_plan(&p, "ALTER DATABASE \"app\" WITH IS_TEMPLATE false\n"
	    "!DROP DATABASE IF EXISTS \"app\"", "without force");
	o.server.version_num = 120000;
	o.is_template = false;
	ok(pgplan_database_drop("app", &o, true, &p, err, sizeof(err)) == 0,
	    "forced drop on 12 plans");
	is_plan(&p, "ALTER DATABASE \"app\" WITH ALLOW_CONNECTIONS false\n"
	    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
	    "datname = $1 AND pid <> pg_backend_pid()\n"
	    "!DROP DATABASE IF EXISTS \"app\"", "PostgreSQL 12: connections "
	    "stopped and backends terminated (name as a parameter)");
	ok(pgplan_database_drop("template1", &o, true, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "refusing"), "template1 is never dropped");
	ok(pgplan_database_drop("postgres", &o, true, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "admin database"), "the admin database is never "
	    "dropped");
	pg_obs_database_release(&o);
	sqlplan_release(&p);
}

/* ---- DatabaseUser / DatabaseRole ------------------------------------- */

static const char full_user[] = "{" META "'kind':'DatabaseUser','spec':{"
	"'instanceRef':{'name':'pg'},'username':'app',"
	"'postgres':{'connectionLimit':10,'validUntil':'2030-01-02T03:04:05Z',"
	"'superuser':false,'createDB':true,'createRole':false,'inherit':false,"
	"'login':true,'replication':true,'bypassRLS':true,"
	"'inRoles':['readers','writers'],"
	"'configParameters':{'search_path':'\\\"$user\\\", public',"
	"'statement_timeout':'30s','app.tenant':'o\\u0027brien'}}}}";

static void
obs_full_user(struct pg_obs_role *o)
{
	pg_obs_role_init(o);
	server(&o->server, "150004");
	ROW(pg_obs_role_row, o, "f", "f", "f", "t", "t", "t", "t", "10",
	    "1893553445");
	ROW(pg_obs_member_row, &o->member_of, "readers");
	ROW(pg_obs_member_row, &o->member_of, "writers");
	ROW(pg_obs_role_config_row, o, "search_path=\"$user\", public");
	ROW(pg_obs_role_config_row, o, "statement_timeout=30s");
	ROW(pg_obs_role_config_row, o, "app.tenant=o'brien");
}

static void
test_user(void)
{
	struct api_user u;
	struct api_role r;
	struct pg_obs_role o;
	struct sqlplan p;
	char err[300];

	sqlplan_init(&p);
	parse_user(&u, full_user);
	pg_obs_role_init(&o);
	server(&o.server, "150004");
	ok(pgplan_user(&u.spec, SCRAM, &o, &p, err, sizeof(err)) == 0,
	    "new user plans");
	{
		char *s = sqlstep_render_redacted(&p.v[0]);

		is_str(s, "CREATE ROLE \"app\" WITH LOGIN NOSUPERUSER CREATEDB "
		    "NOCREATEROLE NOINHERIT REPLICATION BYPASSRLS CONNECTION "
		    "LIMIT 10 VALID UNTIL '2030-01-02T03:04:05Z' PASSWORD "
		    "'********'", "redacted create for logs");
		free(s);
		is_str(p.v[0].desc, "created user app", "description has no "
		    "secret");
	}
	is_plan(&p,
	    "CREATE ROLE \"app\" WITH LOGIN NOSUPERUSER CREATEDB NOCREATEROLE "
	    "NOINHERIT REPLICATION BYPASSRLS CONNECTION LIMIT 10 VALID UNTIL "
	    "'2030-01-02T03:04:05Z' PASSWORD '" SCRAM "'\n"
	    "GRANT \"readers\" TO \"app\"\n"
	    "GRANT \"writers\" TO \"app\"\n"
	    "ALTER ROLE \"app\" SET \"search_path\" = '$user', 'public'\n"
	    "ALTER ROLE \"app\" SET \"statement_timeout\" = '30s'\n"
	    "ALTER ROLE \"app\" SET \"app.tenant\" = 'o''brien'",
	    "create: every attribute, verifier, memberships, settings (list "
	    "settings as a list of literals)");
	pg_obs_role_release(&o);

	obs_full_user(&o);
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0, "plans");
	is_plan(&p, "", "idempotent: matching role gives an empty plan");
	ok(pgplan_user(&u.spec, SCRAM, &o, &p, err, sizeof(err)) == 0, "plans");
	is_plan(&p, "ALTER ROLE \"app\" WITH PASSWORD '" SCRAM "'",
	    "a new verifier is set on an existing user");
	pg_obs_role_release(&o);

	/* drift: every attribute re-synced, not only connection limit */
	pg_obs_role_init(&o);
	server(&o.server, "150004");
	ROW(pg_obs_role_row, &o, "t", "t", "t", "f", "f", "f", "f", "-1", NULL);
	ROW(pg_obs_member_row, &o.member_of, "writers");
	ROW(pg_obs_role_config_row, &o, "search_path=public");
	ROW(pg_obs_role_config_row, &o, "statement_timeout=30s");
	ROW(pg_obs_role_config_row, &o, "other=kept");
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0, "plans");
	is_plan(&p,
	    "ALTER ROLE \"app\" WITH LOGIN NOSUPERUSER CREATEDB NOCREATEROLE "
	    "NOINHERIT REPLICATION BYPASSRLS CONNECTION LIMIT 10 VALID UNTIL "
	    "'2030-01-02T03:04:05Z'\n"
	    "GRANT \"readers\" TO \"app\"\n"
	    "ALTER ROLE \"app\" SET \"search_path\" = '$user', 'public'\n"
	    "ALTER ROLE \"app\" SET \"app.tenant\" = 'o''brien'",
	    "drift: differing attributes, missing membership and settings");
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0, "plans");
	is_str(p.v[0].desc, "updated user app: LOGIN, NOSUPERUSER, CREATEDB, "
	    "NOCREATEROLE, NOINHERIT, REPLICATION, BYPASSRLS, connection limit "
	    "10, valid until 2030-01-02T03:04:05Z", "description lists the "
	    "changes");
	sqlplan_clear(&p);
	pg_obs_role_release(&o);
	api_user_release(&u);

	/* validUntil removed: expiry lifted; login false honoured */
	parse_user(&u, "{" META "'kind':'DatabaseUser','spec':{'instanceRef':"
	    "{'name':'pg'},'username':'app','postgres':{'login':false}}}");
	pg_obs_role_init(&o);
	server(&o.server, "150004");
	ROW(pg_obs_role_row, &o, "f", "t", "f", "f", "t", "f", "f", "-1",
	    "1893553445");
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0, "plans");
	is_plan(&p, "ALTER ROLE \"app\" WITH NOLOGIN VALID UNTIL 'infinity'",
	    "login: false gives NOLOGIN (the original ignored it); a removed "
	    "validUntil lifts the expiry");
	free(o.valid_until);
	o.valid_until = xstrdup("infinity");
	o.login = false;
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "infinity is no expiry: idempotent");
	pg_obs_role_release(&o);
	api_user_release(&u);

	/* no postgres block */
	parse_user(&u, "{" META "'kind':'DatabaseUser','spec':{'instanceRef':"
	    "{'name':'pg'},'username':'plain'}}");
	pg_obs_role_init(&o);
	server(&o.server, "150004");
	ok(pgplan_user(&u.spec, SCRAM, &o, &p, err, sizeof(err)) == 0, "plans");
	is_plan(&p, "CREATE ROLE \"plain\" WITH LOGIN NOSUPERUSER NOCREATEDB "
	    "NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS PASSWORD '" SCRAM
	    "'", "defaults without a postgres block");
	ROW(pg_obs_role_row, &o, "f", "f", "t", "f", "f", "f", "f", "3", NULL);
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "existing user without a postgres block is not re-synced");

	/* refusals */
	ok(pgplan_user(&u.spec, "plaintext-password", &o, &p, err,
	    sizeof(err)) < 0 && strstr(err, "not a SCRAM-SHA-256"),
	    "plaintext password refused");
	ok(strstr(err, "plaintext-password") == NULL, "error does not echo "
	    "the password");
	ok(pgplan_user(&u.spec, "SCRAM-SHA-256$4096:x$y:z'", &o, &p, err,
	    sizeof(err)) < 0, "verifier with a quote refused");
	ok(pgplan_user(&u.spec, "md5" "0123456789abcdef0123456789abcdef", &o,
	    &p, err, sizeof(err)) == 0, "md5 verifier accepted");
	sqlplan_clear(&p);
	strlcpy0(o.server.current_user, "plain", sizeof(o.server.current_user));
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "admin role"), "the admin role is not managed");
	pg_obs_role_release(&o);
	api_user_release(&u);
	parse_user(&u, "{" META "'kind':'DatabaseUser','spec':{'instanceRef':"
	    "{'name':'pg'},'username':'pg_monitor'}}");
	pg_obs_role_init(&o);
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.username: names beginning with pg_ are reserved"),
	    "reserved pg_ names refused");
	api_user_release(&u);
	parse_user(&u, "{" META "'kind':'DatabaseUser','spec':{'instanceRef':"
	    "{'name':'pg'},'username':'app','postgres':{'validUntil':"
	    "'next tuesday'}}}");
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "spec.postgres.validUntil: must be an RFC 3339"),
	    "unparseable validUntil refused");
	api_user_release(&u);
	{
		char long64[65], *m;

		memset(long64, 'a', 64);
		long64[64] = '\0';
		m = xasprintf("{" META "'kind':'DatabaseUser','spec':{"
		    "'instanceRef':{'name':'pg'},'username':'app','postgres':"
		    "{'inRoles':['ok','%s']}}}", long64);
		parse_user(&u, m);
		free(m);
	}
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) < 0,
	    "64-byte role name refused");
	is_str(err, "spec.postgres.inRoles[1]: is longer than 63 bytes "
	    "(PostgreSQL's identifier limit)", "with the field path");
	api_user_release(&u);
	parse_user(&u, "{" META "'kind':'DatabaseUser','spec':{'instanceRef':"
	    "{'name':'pg'},'username':'app','postgres':{'inRoles':"
	    "[\"x\\\"; DROP ROLE admin; --\"],'configParameters':{"
	    "'work_mem; RESET ALL':'1'}}}}");
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "configParameters[work_mem; RESET ALL]: not a setting"),
	    "hostile setting name refused");
	api_user_release(&u);
	parse_user(&u, "{" META "'kind':'DatabaseUser','spec':{'instanceRef':"
	    "{'name':'pg'},'username':'app','postgres':{'inRoles':"
	    "[\"x\\\"; DROP ROLE admin; --\"],'configParameters':{"
	    "'search_path':'a\\u0027; DROP'}}}}");
	ok(pgplan_user(&u.spec, NULL, &o, &p, err, sizeof(err)) == 0, "hostile "
	    "role and value plan");
	is_plan(&p, "CREATE ROLE \"app\" WITH LOGIN NOSUPERUSER NOCREATEDB "
	    "NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS\n"
	    "GRANT \"x\"\"; DROP ROLE admin; --\" TO \"app\"\n"
	    "ALTER ROLE \"app\" SET \"search_path\" = 'a''; DROP'",
	    "hostile values only as identifiers and literals");
	api_user_release(&u);
	pg_obs_role_release(&o);

	/* DatabaseRole */
	parse_role(&r, "{" META "'kind':'DatabaseRole','spec':{'instanceRef':"
	    "{'name':'pg'},'roleName':'readers','postgres':{'createDB':true,"
	    "'inRoles':['base']}}}");
	pg_obs_role_init(&o);
	server(&o.server, "150004");
	ok(pgplan_role(&r.spec, &o, &p, err, sizeof(err)) == 0, "role plans");
	is_plan(&p, "CREATE ROLE \"readers\" WITH NOLOGIN NOSUPERUSER CREATEDB "
	    "NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS\n"
	    "GRANT \"base\" TO \"readers\"", "group role: NOLOGIN by default");
	ROW(pg_obs_role_row, &o, "f", "t", "f", "t", "f", "f", "f", "-1", NULL);
	ROW(pg_obs_member_row, &o.member_of, "base");
	ok(pgplan_role(&r.spec, &o, &p, err, sizeof(err)) == 0 && p.n == 0,
	    "role idempotent");
	o.create_db = false;
	o.login = true;
	ok(pgplan_role(&r.spec, &o, &p, err, sizeof(err)) == 0, "plans");
	is_plan(&p, "ALTER ROLE \"readers\" WITH NOLOGIN CREATEDB",
	    "role drift");
	api_role_release(&r);

	/* dropping roles */
	ROW(pg_obs_role_dep_row, &o, "", "t");
	ROW(pg_obs_role_dep_row, &o, "app", "t");
	ROW(pg_obs_role_dep_row, &o, "postgres", "t");
	ROW(pg_obs_role_dep_row, &o, "shop", "t");
	ok(pgplan_role_drop("readers", &o, &p, err, sizeof(err)) == 0,
	    "drop plans");
	is_plan(&p, "REASSIGN OWNED BY \"readers\" TO CURRENT_USER\n"
	    "DROP OWNED BY \"readers\"\n"
	    "@app REASSIGN OWNED BY \"readers\" TO CURRENT_USER\n"
	    "@app DROP OWNED BY \"readers\"\n"
	    "@shop REASSIGN OWNED BY \"readers\" TO CURRENT_USER\n"
	    "@shop DROP OWNED BY \"readers\"\n"
	    "DROP ROLE IF EXISTS \"readers\"", "REASSIGN/DROP OWNED in every "
	    "database where the role has objects, then DROP ROLE");
	ROW(pg_obs_role_dep_row, &o, "frozen", "f");
	ok(pgplan_role_drop("readers", &o, &p, err, sizeof(err)) < 0 &&
	    strstr(err, "frozen, which does not accept connections"),
	    "a dependency that cannot be reached is an error, not a skip");
	is_int(p.n, 0, "no partial drop");
	ok(pgplan_role_drop("admin", &o, &p, err, sizeof(err)) < 0,
	    "the admin role is never dropped");
	o.exists = false;
	ok(pgplan_role_drop("readers", &o, &p, err, sizeof(err)) == 0 &&
	    p.n == 0, "absent role: nothing to drop");
	pg_obs_role_release(&o);
	sqlplan_release(&p);
}

/* ---- DatabaseGrant ---------------------------------------------------- */

static const char grant_head[] = "{" META "'kind':'DatabaseGrant','spec':{"
	"'userRef':{'name':'u'},'postgres':";

static void
grant_json(struct api_grant *g, const char *pg)
{
	char *s = xasprintf("%s%s}}", grant_head, pg);

	parse_grant(g, s);
	free(s);
}

static void
obs_grants(struct pg_obs_grants *o)
{
	pg_obs_grants_init(o);
	server(&o->server, "150004");
	o->grantee_exists = true;
}

static struct pg_obs_grants_db *
obs_db_counts(struct pg_obs_grants *o, const char *name)
{
	struct pg_obs_grants_db *d = pg_obs_grants_db_add(o, name);

	ROW(pg_obs_count_row, d, "public", "2", "1", "1");
	ROW(pg_obs_count_row, d, "sales", "3", "0", "0");
	return d;
}

static void
acl(struct pg_obs_grants_db *d, const char *kind, const char *schema,
    const char *name, const char *args, const char *priv, const char *go)
{
	ROW(pg_obs_acl_row, d, kind, schema, name, args, priv, go);
}

static void
test_grant(void)
{
	struct api_grant g;
	struct pg_obs_grants o;
	struct pg_obs_grants_db *d;
	struct pg_privset applied, prev;
	struct api_strv dbs = { 0 };
	struct sqlplan p;
	char err[300];

	sqlplan_init(&p);
	pg_privset_init(&applied);
	pg_privset_init(&prev);

	grant_json(&g, "{'roles':['readers'],'grants':["
	    "{'database':'app','privileges':['CONNECT','TEMP']},"
	    "{'database':'app','schema':'sales','privileges':['SELECT','usage']},"
	    "{'database':'app','schema':'public','tables':['orders','items'],"
	    "'sequences':['*'],'functions':['calc(int, varchar(10))','f()'],"
	    "'privileges':['SELECT','UPDATE','EXECUTE'],'withGrantOption':true}],"
	    "'defaultPrivileges':[{'database':'app','schema':'sales',"
	    "'grantedBy':'owner','objectType':'tables','privileges':"
	    "['SELECT','INSERT']}]}");
	pgplan_grant_databases(&g.spec.postgres, NULL, NULL, &dbs);
	ok(dbs.n == 2 && strcmp(dbs.v[0], "") == 0 &&
	    strcmp(dbs.v[1], "app") == 0, "databases to observe: the admin "
	    "database for database privileges, app for the rest");
	api_strv_release(&dbs);

	obs_grants(&o);
	obs_db_counts(&o, "app");
	ok(pgplan_grant("u", &g.spec.postgres, &o, NULL, &p, &applied, err,
	    sizeof(err)) == 0, "grant plans");
	is_plan(&p,
	    "GRANT \"readers\" TO \"u\"\n"
	    "GRANT CONNECT, TEMPORARY ON DATABASE \"app\" TO \"u\"\n"
	    "@app GRANT USAGE ON SCHEMA \"sales\" TO \"u\"\n"
	    "@app GRANT SELECT ON ALL TABLES IN SCHEMA \"sales\" TO \"u\"\n"
	    "@app GRANT SELECT, UPDATE ON TABLE \"public\".\"orders\" TO \"u\" "
	    "WITH GRANT OPTION\n"
	    "@app GRANT SELECT, UPDATE ON TABLE \"public\".\"items\" TO \"u\" "
	    "WITH GRANT OPTION\n"
	    "@app GRANT SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA \"public\" TO "
	    "\"u\" WITH GRANT OPTION\n"
	    "@app GRANT EXECUTE ON FUNCTION \"public\".\"calc\"(integer, "
	    "character varying) TO \"u\" WITH GRANT OPTION\n"
	    "@app GRANT EXECUTE ON FUNCTION \"public\".\"f\"() TO \"u\" WITH "
	    "GRANT OPTION\n"
	    "@app ALTER DEFAULT PRIVILEGES FOR ROLE \"owner\" IN SCHEMA \"sales\" "
	    "GRANT SELECT, INSERT ON TABLES TO \"u\"",
	    "database privileges (fixed), schema-wide tables, '*' as ALL "
	    "SEQUENCES (fixed), function signatures, default privileges FOR "
	    "ROLE grantedBy");
	is_int(applied.n, 15, "applied set: every single privilege");

	/* the catalogs after that plan */
	pg_obs_grants_release(&o);
	obs_grants(&o);
	ROW(pg_obs_member_row, &o.member_of, "readers");
	d = pg_obs_grants_db_add(&o, "");
	acl(d, "database", "", "app", "", "CONNECT", "f");
	acl(d, "database", "", "app", "", "TEMPORARY", "f");
	d = obs_db_counts(&o, "app");
	acl(d, "schema", "sales", "sales", "", "USAGE", "f");
	acl(d, "table", "sales", "a", "", "SELECT", "f");
	acl(d, "table", "sales", "b", "", "SELECT", "f");
	acl(d, "table", "sales", "c", "", "SELECT", "f");
	acl(d, "table", "public", "orders", "", "SELECT", "t");
	acl(d, "table", "public", "orders", "", "UPDATE", "t");
	acl(d, "table", "public", "items", "", "SELECT", "t");
	acl(d, "table", "public", "items", "", "UPDATE", "t");
	acl(d, "sequence", "public", "orders_id_seq", "", "SELECT", "t");
	acl(d, "sequence", "public", "orders_id_seq", "", "UPDATE", "t");
	acl(d, "function", "public", "calc", "integer, character varying",
	    "EXECUTE", "t");
	acl(d, "function", "public", "f", "", "EXECUTE", "t");
	ROW(pg_obs_defacl_row, &d->defacl, "owner", "sales", "r", "u",
	    "SELECT", "f");
	ROW(pg_obs_defacl_row, &d->defacl, "owner", "sales", "r", "u",
	    "INSERT", "f");
	pg_privset_union(&prev, &applied);
	ok(pgplan_grant("u", &g.spec.postgres, &o, &prev, &p, &applied, err,
	    sizeof(err)) == 0, "plans");
	is_plan(&p, "", "idempotent: matching catalogs and applied set give an "
	    "empty plan");

	/* a table added to sales: ALL TABLES is granted again */
	d->counts[1].tables = 4;
	ok(pgplan_grant("u", &g.spec.postgres, &o, &prev, &p, &applied, err,
	    sizeof(err)) == 0, "plans");
	is_plan(&p, "@app GRANT SELECT ON ALL TABLES IN SCHEMA \"sales\" TO "
	    "\"u\"", "a new table in the schema gets the privilege (drift)");
	api_grant_release(&g);

	/* the spec shrinks: what was applied and is gone is revoked */
	grant_json(&g, "{'grants':["
	    "{'database':'app','schema':'public','tables':['orders'],"
	    "'privileges':['SELECT','UPDATE']},"
	    "{'database':'app','schema':'sales','tables':['a'],"
	    "'privileges':['SELECT']}]}");
	ok(pgplan_grant("u", &g.spec.postgres, &o, &prev, &p, &applied, err,
	    sizeof(err)) == 0, "shrunk spec plans");
	is_plan(&p,
	    "REVOKE \"readers\" FROM \"u\"\n"
	    "REVOKE CONNECT, TEMPORARY ON DATABASE \"app\" FROM \"u\"\n"
	    "@app REVOKE USAGE ON SCHEMA \"sales\" FROM \"u\"\n"
	    "@app REVOKE SELECT ON ALL TABLES IN SCHEMA \"sales\" FROM \"u\"\n"
	    "@app REVOKE GRANT OPTION FOR SELECT, UPDATE ON TABLE \"public\"."
	    "\"orders\" FROM \"u\" CASCADE\n"
	    "@app REVOKE SELECT, UPDATE ON TABLE \"public\".\"items\" FROM \"u\" "
	    "CASCADE\n"
	    "@app REVOKE SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA \"public\" "
	    "FROM \"u\" CASCADE\n"
	    "@app REVOKE EXECUTE ON FUNCTION \"public\".\"calc\"(integer, "
	    "character varying) FROM \"u\" CASCADE\n"
	    "@app REVOKE EXECUTE ON FUNCTION \"public\".\"f\"() FROM \"u\" "
	    "CASCADE\n"
	    "@app ALTER DEFAULT PRIVILEGES FOR ROLE \"owner\" IN SCHEMA \"sales\" "
	    "REVOKE SELECT, INSERT ON TABLES FROM \"u\"\n"
	    "@app GRANT SELECT ON TABLE \"sales\".\"a\" TO \"u\"",
	    "removed privileges revoked (memberships, default privileges "
	    "too), grant option dropped alone, and sales.a granted again since "
	    "the ALL TABLES revoke takes it away");
	is_int(applied.n, 3, "new applied set");
	pg_privset_release(&prev);
	pg_privset_union(&prev, &applied);
	api_grant_release(&g);

	/* revoke only what is still there */
	grant_json(&g, "{'grants':[]}");
	pg_obs_grants_release(&o);
	obs_grants(&o);
	d = obs_db_counts(&o, "app");
	acl(d, "table", "public", "orders", "", "SELECT", "f");
	ok(pgplan_grant("u", &g.spec.postgres, &o, &prev, &p, &applied, err,
	    sizeof(err)) == 0, "plans");
	is_plan(&p, "@app REVOKE SELECT ON TABLE \"public\".\"orders\" FROM "
	    "\"u\"", "revokes only what the grantee still holds");
	is_int(applied.n, 0, "empty applied set");
	o.grantee_exists = false;
	ok(pgplan_grant("u", &g.spec.postgres, &o, &prev, &p, &applied, err,
	    sizeof(err)) == 0 && p.n == 0, "grantee gone: nothing to revoke");
	api_grant_release(&g);

	/* deletion: prev plus the spec, default privileges included */
	grant_json(&g, "{'roles':['readers'],'grants':[{'database':'app',"
	    "'schema':'sales','tables':['*'],'privileges':['ALL']}],"
	    "'defaultPrivileges':[{'database':'app','schema':'sales',"
	    "'grantedBy':'owner','objectType':'sequences','privileges':"
	    "['USAGE']}]}");
	pg_obs_grants_release(&o);
	obs_grants(&o);
	ROW(pg_obs_member_row, &o.member_of, "readers");
	d = obs_db_counts(&o, "app");
	acl(d, "table", "public", "orders", "", "SELECT", "f");
	acl(d, "table", "sales", "a", "", "INSERT", "f");
	ROW(pg_obs_defacl_row, &d->defacl, "owner", "sales", "S", "u", "USAGE",
	    "f");
	ROW(pg_obs_defacl_row, &d->defacl, "owner", "sales", "S", "other",
	    "USAGE", "f");
	ok(pgplan_grant_revoke("u", &g.spec.postgres, &o, &prev, &p, err,
	    sizeof(err)) == 0, "revocation plans");
	is_plan(&p,
	    "REVOKE \"readers\" FROM \"u\"\n"
	    "@app REVOKE INSERT ON ALL TABLES IN SCHEMA \"sales\" FROM \"u\"\n"
	    "@app ALTER DEFAULT PRIVILEGES FOR ROLE \"owner\" IN SCHEMA \"sales\" "
	    "REVOKE USAGE ON SEQUENCES FROM \"u\"\n"
	    "@app REVOKE SELECT ON TABLE \"public\".\"orders\" FROM \"u\"",
	    "deletion revokes the spec (for grants made before an applied set "
	    "existed) and the applied set, default privileges too");
	pg_obs_grants_release(&o);
	obs_grants(&o);
	obs_db_counts(&o, "app");
	ok(pgplan_grant_revoke("u", &g.spec.postgres, &o, &prev, &p, err,
	    sizeof(err)) == 0 && p.n == 0, "revocation is idempotent");
	pg_obs_grants_release(&o);
	obs_grants(&o);
	ok(pgplan_grant_revoke("u", &g.spec.postgres, &o, &prev, &p, err,
	    sizeof(err)) == 0 && p.n == 0, "database gone: nothing to revoke");
	api_grant_release(&g);

	/* "f" and "f()" name the same function: no revoke between them */
	{
		struct pg_privset fp, fa;

		pg_privset_init(&fp);
		pg_privset_init(&fa);
		grant_json(&g, "{'grants':[{'database':'app','schema':'s',"
		    "'functions':['f'],'privileges':['EXECUTE']}]}");
		pg_obs_grants_release(&o);
		obs_grants(&o);
		d = obs_db_counts(&o, "app");
		acl(d, "function", "s", "f", "", "EXECUTE", "f");
		ok(pgplan_grant("u", &g.spec.postgres, &o, NULL, &p, &fp, err,
		    sizeof(err)) == 0 && p.n == 0, "f without arguments held");
		api_grant_release(&g);
		grant_json(&g, "{'grants':[{'database':'app','schema':'s',"
		    "'functions':['f()'],'privileges':['EXECUTE']}]}");
		ok(pgplan_grant("u", &g.spec.postgres, &o, &fp, &p, &fa, err,
		    sizeof(err)) == 0, "plans");
		is_plan(&p, "", "switching from f to f() revokes nothing");
		api_grant_release(&g);
		pg_obs_grants_release(&o);
		obs_grants(&o);
		pg_privset_release(&fp);
		pg_privset_release(&fa);
	}

	/* ALL on tables expands by server version */
	grant_json(&g, "{'grants':[{'database':'app','schema':'s','tables':"
	    "['t'],'privileges':['ALL PRIVILEGES']}]}");
	ok(pgplan_grant("u", &g.spec.postgres, &o, NULL, &p, &applied, err,
	    sizeof(err)) == 0, "plans");
	is_plan(&p, "@app GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, "
	    "REFERENCES, TRIGGER ON TABLE \"s\".\"t\" TO \"u\"", "ALL on 15");
	o.server.version_num = 170000;
	ok(pgplan_grant("u", &g.spec.postgres, &o, NULL, &p, &applied, err,
	    sizeof(err)) == 0, "plans");
	is_plan(&p, "@app GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, "
	    "REFERENCES, TRIGGER, MAINTAIN ON TABLE \"s\".\"t\" TO \"u\"",
	    "ALL on 17 includes MAINTAIN");
	api_grant_release(&g);

	/* refusals with field paths */
	grant_json(&g, "{'grants':[{'database':'app','privileges':['SELECT']}]}");
	ok(pgplan_grant("u", &g.spec.postgres, &o, NULL, &p, &applied, err,
	    sizeof(err)) < 0, "table privilege on a database refused");
	ok(strstr(err, "spec.postgres.grants[0].privileges: SELECT does not "
	    "apply to a database") != NULL, "error path and reason");
	api_grant_release(&g);
	grant_json(&g, "{'grants':[{'database':'app','schema':'s','tables':"
	    "['t'],'privileges':['SELECT','CONNECT']}]}");
	ok(pgplan_grant("u", &g.spec.postgres, &o, NULL, &p, &applied, err,
	    sizeof(err)) < 0 && strstr(err, "CONNECT does not apply to the "
	    "objects"), "database privilege on tables refused");
	api_grant_release(&g);
	grant_json(&g, "{'grants':[{'database':'app','tables':['*'],"
	    "'privileges':['SELECT']}]}");
	ok(pgplan_grant("u", &g.spec.postgres, &o, NULL, &p, &applied, err,
	    sizeof(err)) < 0 && strstr(err, "spec.postgres.grants[0].tables[0]: "
	    "\"*\" (all tables) needs"), "'*' without schema refused");
	api_grant_release(&g);
	grant_json(&g, "{'grants':[{'database':'app','schema':'s','functions':"
	    "['f(int); DROP TABLE x; --)'],'privileges':['EXECUTE']}]}");
	ok(pgplan_grant("u", &g.spec.postgres, &o, NULL, &p, &applied, err,
	    sizeof(err)) < 0 && strstr(err, "spec.postgres.grants[0]."
	    "functions[0]: "), "hostile function signature refused");
	api_grant_release(&g);
	grant_json(&g, "{'grants':[{'database':'app','schema':'s','tables':"
	    "[\"t\\\"; DROP TABLE x; --\"],'privileges':['SELECT']}]}");
	ok(pgplan_grant("u", &g.spec.postgres, &o, NULL, &p, &applied, err,
	    sizeof(err)) == 0, "hostile table name plans");
	is_plan(&p, "@app GRANT SELECT ON TABLE \"s\".\"t\"\"; DROP TABLE x; "
	    "--\" TO \"u\"", "as an identifier");
	api_grant_release(&g);
	grant_json(&g, "{'roles':['u']}");
	ok(pgplan_grant("u", &g.spec.postgres, &o, NULL, &p, &applied, err,
	    sizeof(err)) < 0 && strstr(err, "spec.postgres.roles[0]"),
	    "a role granted to itself refused");
	api_grant_release(&g);
	ok(pgplan_grant("", NULL, &o, NULL, &p, &applied, err, sizeof(err)) < 0,
	    "empty grantee refused");

	/* applied set round trip */
	{
		struct jw w;
		char *text;
		yajl_val v;
		struct pg_privset back;

		pg_privset_init(&back);
		jw_init(&w);
		pg_privset_write(&w, &prev);
		text = jw_finish(&w, NULL);
		is_str(text, "[{\"o\":\"table\",\"d\":\"app\",\"s\":\"public\","
		    "\"n\":\"orders\",\"p\":\"SELECT\"},{\"o\":\"table\",\"d\":"
		    "\"app\",\"s\":\"public\",\"n\":\"orders\",\"p\":\"UPDATE\"},"
		    "{\"o\":\"table\",\"d\":\"app\",\"s\":\"sales\",\"n\":\"a\","
		    "\"p\":\"SELECT\"}]", "applied set as JSON");
		v = api_t_parse(text, strlen(text), "applied");
		ok(pg_privset_read(v, &back, err, sizeof(err)) == 0 &&
		    back.n == 3, "read back");
		free(text);
		pg_privset_release(&back);
		v = J("[{'o':'table','d':'app','s':'public','n':'t',"
		    "'p':'SELECT; DROP'}]");
		ok(pg_privset_read(v, &back, err, sizeof(err)) < 0,
		    "tampered privilege refused");
		pg_privset_release(&back);
		v = J("[{'o':'function','d':'app','s':'public','n':'f',"
		    "'a':'int); DROP','p':'EXECUTE'}]");
		ok(pg_privset_read(v, &back, err, sizeof(err)) < 0,
		    "tampered argument types refused");
		pg_privset_release(&back);
		v = J("[{'o':'role','n':'r1'},{'o':'default','d':'app','s':'s',"
		    "'n':'owner','t':'types','p':'USAGE','g':true}]");
		ok(pg_privset_read(v, &back, err, sizeof(err)) == 0 &&
		    back.n == 2 && back.v[1].deftype == API_PG_OBJ_TYPES &&
		    back.v[1].grant_option, "role and default entries");
		{
			struct api_strv roles = { 0 };

			pg_privset_roles(&back, &roles);
			ok(roles.n == 1 && strcmp(roles.v[0], "r1") == 0,
			    "roles for status.appliedGrants.roles");
			api_strv_release(&roles);
		}
		pg_privset_release(&back);
	}
	pg_obs_grants_release(&o);

	/* DatabaseRole grants: same rules */
	{
		struct api_role r;

		parse_role(&r, "{" META "'kind':'DatabaseRole','spec':{"
		    "'instanceRef':{'name':'pg'},'roleName':'readers','postgres':"
		    "{'grants':[{'database':'app','privileges':['CONNECT']},"
		    "{'database':'app','schema':'public','privileges':['USAGE',"
		    "'CREATE']}]}}}");
		obs_grants(&o);
		ok(pgplan_role_grants("readers", &r.spec.postgres.grants, &o,
		    NULL, &p, &applied, err, sizeof(err)) == 0, "role grants");
		is_plan(&p, "GRANT CONNECT ON DATABASE \"app\" TO \"readers\"\n"
		    "@app GRANT USAGE, CREATE ON SCHEMA \"public\" TO \"readers\"",
		    "database and schema privileges of a role");
		pgplan_grant_databases(NULL, &r.spec.postgres.grants, &applied,
		    &dbs);
		ok(dbs.n == 2, "two databases to observe");
		api_strv_release(&dbs);
		pg_obs_grants_release(&o);
		api_role_release(&r);
	}

	pg_privset_release(&applied);
	pg_privset_release(&prev);
	sqlplan_release(&p);
}

static void
test_rows(void)
{
	struct pg_obs_server s;
	struct pg_obs_role o;
	const char *bad[] = { "x", "admin", "postgres" };
	const char *three[] = { "t", "t", "t" };

	memset(&s, 0, sizeof(s));
	ok(pg_obs_server_row(&s, bad, 3) < 0, "bad version refused");
	ok(pg_obs_server_row(&s, three, 2) < 0, "wrong column count refused");
	pg_obs_role_init(&o);
	{
		const char *row[] = { "t", "t", "t", "t", "t", "t", "maybe", "1",
		    NULL };

		ok(pg_obs_role_row(&o, row, 9) < 0, "bad boolean refused");
	}
	{
		const char *row[] = { "noequals" };

		ok(pg_obs_role_config_row(&o, row, 1) < 0, "setting without = "
		    "refused");
	}
	pg_obs_role_release(&o);
	ok(strstr(PGQ_DATABASE, "$1") && strstr(PGQ_ROLE, "$1") &&
	    strstr(PGQ_GRANTEE_ACL, "$1") && strstr(PGQ_MEMBER_OF, "$1"),
	    "observation queries take their names as parameters");
}

int
main(void)
{
	test_database();
	test_user();
	test_grant();
	test_rows();
	api_t_done();
	return done_testing();
}
