/* Database: parse, defaults, validation, status round trip. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_database.h"
#include "api_test.h"

#define BASE "{'metadata':{'name':'d','namespace':'shop'},'spec':{" \
	"'instanceRef':{'name':'pg'},'name':'orders'%s}}"

static int
parse(yajl_val v, struct api_database *db, struct api_errs *e)
{
	api_errs_release(e);
	api_database_release(db);
	return api_database_parse(v, db, e);
}

static void
test_full(void)
{
	struct api_database db;
	struct api_errs e;
	const struct api_pg_database *pg = &db.spec.postgres;
	int rc;

	api_errs_init(&e);
	rc = api_database_parse(api_t_file("database.json"), &db, &e);
	no_errs(&e, rc, "full database parses");
	ok(db.meta.force_delete, "force-delete annotation decoded");
	is_str(db.spec.instance.name, "pg-main", "instanceRef.name");
	is_str(db.spec.instance.ns, "databases", "explicit ref namespace kept");
	is_str(db.spec.name, "orders_prod", "name");
	is_int(db.spec.deletion_policy, API_DELETION_DELETE, "deletionPolicy");
	ok(!db.spec.deletion_protection, "explicit deletionProtection false kept");
	ok(pg->set, "postgres set");
	is_str(pg->lc_collate, "en_US.UTF-8", "lcCollate");
	is_str(pg->tablespace, "fast", "tablespace");
	is_str(pg->template_, "template1", "template");
	is_int(pg->connection_limit, 0, "explicit connectionLimit 0 kept");
	ok(!pg->allow_connections, "explicit allowConnections false kept");
	is_int(pg->n_extensions, 2, "two extensions");
	is_str(pg->extensions[0].schema, "public", "extension schema default");
	is_str(pg->extensions[1].schema, "gis", "extension schema");
	is_str(pg->extensions[1].version, "3.4.0", "extension version");
	is_int(pg->n_schemas, 2, "two schemas");
	is_str(pg->schemas[0].owner, "orders_owner", "schema owner");
	ok(pg->schemas[1].owner == NULL, "schema owner absent");
	is_int(pg->n_default_privileges, 2, "two default privileges");
	is_int(pg->default_privileges[1].object_type, API_PG_OBJ_SEQUENCES,
	    "objectType");
	is_int(pg->default_privileges[1].privileges.n, 3, "privileges");
	is_str(pg->default_privileges[1].privileges.v[2], "UPDATE", "privilege");
	ok(!db.spec.mysql.set, "no mysql block");
	is_int(db.status.database.size_bytes, 8123456, "status sizeBytes");
	is_str(db.status.postgres.installed_extensions[0].version, "1.3",
	    "installed extension");
	is_int(db.status.postgres.schemas.n, 3, "status schemas");
	api_database_release(&db);
	api_errs_release(&e);
}

static void
test_defaults(void)
{
	struct api_database db;
	struct api_errs e;
	int rc;

	memset(&db, 0, sizeof(db));
	api_errs_init(&e);
	rc = parse(api_t_fmt(BASE, ""), &db, &e);
	no_errs(&e, rc, "minimal database");
	is_int(db.spec.deletion_policy, API_DELETION_RETAIN, "Retain default");
	ok(db.spec.deletion_protection, "deletionProtection default true");
	is_str(db.spec.instance.ns, "shop", "ref namespace defaults to own");
	ok(!db.spec.postgres.set && db.spec.postgres.encoding == NULL,
	    "postgres defaults need the block");

	rc = parse(api_t_fmt(BASE, ",'instanceRef':{'name':'pg','namespace':''},"
	    "'postgres':{},'mysql':{}"), &db, &e);
	no_errs(&e, rc, "empty blocks");
	is_str(db.spec.instance.ns, "shop", "empty ref namespace = own");
	is_str(db.spec.postgres.encoding, "UTF8", "encoding default");
	is_str(db.spec.postgres.tablespace, "pg_default", "tablespace default");
	is_str(db.spec.postgres.template_, "template0", "template default");
	is_int(db.spec.postgres.connection_limit, -1, "connectionLimit -1");
	ok(db.spec.postgres.allow_connections, "allowConnections true");
	ok(!db.spec.postgres.is_template, "isTemplate false");
	is_str(db.spec.mysql.charset, "utf8mb4", "mysql charset default");
	is_str(db.spec.mysql.collation, "utf8mb4_unicode_ci", "collation");
	is_str(db.spec.mysql.default_storage_engine, "InnoDB", "engine default");
	ok(db.spec.mysql.sql_mode == NULL, "sqlMode no default");
	is_int(api_database_check_engine(&db, API_ENGINE_POSTGRES, &e), -1,
	    "both blocks: postgres instance rejects mysql");
	has_err(&e, "spec.mysql", "not allowed: the instance engine is postgres");
	api_errs_release(&e);
	is_int(api_database_check_engine(&db, API_ENGINE_MYSQL, &e), -1,
	    "mysql instance rejects postgres");
	has_err(&e, "spec.postgres", "not allowed: the instance engine is mysql");
	api_errs_release(&e);
	rc = parse(api_t_fmt(BASE, ",'postgres':{}"), &db, &e);
	is_int(api_database_check_engine(&db, API_ENGINE_POSTGRES, &e), 0,
	    "matching block passes");
	is_int(api_errs_count(&e), 0, "no errors");
	api_database_release(&db);
	api_errs_release(&e);
}

static void
test_errors(void)
{
	struct api_database db;
	struct api_errs e;
	int rc;

	memset(&db, 0, sizeof(db));
	api_errs_init(&e);
	rc = parse(J("{'spec':{'instanceRef':{'namespace':'x'},'name':'9db',"
	    "'deletionPolicy':'Drop'}}"), &db, &e);
	nerrs(&e, rc, 3, "required, pattern, enum");
	has_err(&e, "spec.instanceRef.name", "is required");
	has_err(&e, "spec.name", "must match ^[a-zA-Z_][a-zA-Z0-9_]*$");
	has_err(&e, "spec.deletionPolicy", "must be one of Retain, Delete, "
	    "Snapshot");

	rc = parse(J("{'spec':{'instanceRef':{'name':''},'name':"
	    "'a234567890123456789012345678901234567890123456789012345678901234'"
	    "}}"), &db, &e);
	nerrs(&e, rc, 2, "maxLength and empty ref");
	has_err(&e, "spec.name", "must be at most 63 characters");
	has_err(&e, "spec.instanceRef.name", "must not be empty");

	rc = parse(J("{'spec':{'name':''}}"), &db, &e);
	nerrs(&e, rc, 2, "minLength");
	has_err(&e, "spec.name", "must not be empty");
	has_err(&e, "spec.instanceRef", "is required");

	rc = parse(api_t_fmt(BASE, ",'postgres':{'connectionLimit':-2,"
	    "'extensions':[{'schema':'x'},'pgcrypto'],'schemas':[{'name':''}],"
	    "'defaultPrivileges':[{'role':'r','schema':'s','objectType':'views',"
	    "'privileges':[]},{'role':'r','schema':'s','objectType':'types',"
	    "'privileges':['USAGE','ALL; DROP TABLE x']},{}]},"
	    "'mysql':{'collation':'utf8mb4 bin'}"), &db, &e);
	nerrs(&e, rc, 12, "nested errors with paths");
	has_err(&e, "spec.postgres.connectionLimit", "must be >= -1");
	has_err(&e, "spec.postgres.extensions[0].name", "is required");
	has_err(&e, "spec.postgres.extensions[1]", "must be an object");
	has_err(&e, "spec.postgres.schemas[0].name", "must not be empty");
	has_err(&e, "spec.postgres.defaultPrivileges[0].objectType",
	    "must be one of tables, sequences, functions, types");
	has_err(&e, "spec.postgres.defaultPrivileges[0].privileges",
	    "must have at least 1 item");
	has_err(&e, "spec.postgres.defaultPrivileges[1].privileges[1]",
	    "must be a privilege keyword");
	has_err(&e, "spec.postgres.defaultPrivileges[2].role", "is required");
	has_err(&e, "spec.postgres.defaultPrivileges[2].schema", "is required");
	has_err(&e, "spec.postgres.defaultPrivileges[2].objectType",
	    "is required");
	has_err(&e, "spec.postgres.defaultPrivileges[2].privileges",
	    "is required");
	has_err(&e, "spec.mysql.collation", "must match ^[a-zA-Z0-9_]+$");
	is_int(db.spec.postgres.n_extensions, 2, "indexes kept for bad items");

	rc = parse(api_t_fmt(BASE, ",'deletionProtection':'no','postgres':"
	    "{'extensions':{'name':'x'},'isTemplate':1,'encoding':false,"
	    "'defaultPrivileges':[{'role':'r','schema':'s','objectType':"
	    "'tables','privileges':[1,'SELECT']}]}"), &db, &e);
	nerrs(&e, rc, 5, "wrong types");
	has_err(&e, "spec.deletionProtection", "must be a boolean");
	ok(db.spec.deletion_protection, "bad bool keeps the default");
	has_err(&e, "spec.postgres.extensions", "must be an array");
	has_err(&e, "spec.postgres.isTemplate", "must be a boolean");
	has_err(&e, "spec.postgres.encoding", "must be a string");
	is_str(db.spec.postgres.encoding, "UTF8", "bad string keeps the default");
	has_err(&e, "spec.postgres.defaultPrivileges[0].privileges[0]",
	    "must be a string");
	is_int(db.spec.postgres.default_privileges[0].privileges.n, 1,
	    "valid items kept");

	rc = parse(api_t_fmt(BASE, "}, 'status':{'phase':'Running',"
	    "'database':{'sizeBytes':'big'},'postgres':{'installedExtensions':"
	    "[{'name':'x'}]}"), &db, &e);
	nerrs(&e, rc, 3, "status errors");
	has_err(&e, "status.phase", "must be one of Pending, Creating, Ready, "
	    "Failed, Deleting");
	has_err(&e, "status.database.sizeBytes", "must be an integer");
	has_err(&e, "status.postgres.installedExtensions[0].version",
	    "is required");
	api_database_release(&db);
	api_errs_release(&e);
}

static void
test_status(void)
{
	struct api_database db, again;
	yajl_val doc = api_t_file("database.json");
	char *want, *got, *wrapped, *got2;
	struct jw w;

	ok(api_database_parse(doc, &db, NULL) == 0, "parse for status");
	jw_init(&w);
	jw_value(&w, json_get(doc, "status", NULL));
	want = jw_finish(&w, NULL);
	got = api_t_status_json(api_database_status_write, &db.status);
	is_str(got, want, "status written exactly as the original JSON");
	wrapped = xasprintf("{\"status\":%s}", got);
	api_database_parse(api_t_parse(wrapped, strlen(wrapped), "wrapped"),
	    &again, NULL);
	got2 = api_t_status_json(api_database_status_write, &again.status);
	is_str(got2, got, "round trip stable");
	is_str(again.status.database.owner, "postgres", "owner survives");
	is_int(again.status.database.created_at, db.status.database.created_at,
	    "createdAt survives");
	free(want);
	free(got);
	free(got2);
	free(wrapped);
	api_database_release(&again);
	api_database_release(&db);

	memset(&db, 0, sizeof(db));
	db.status.phase = API_PHASE_READY;
	db.status.database.set = true;
	api_set_str(&db.status.database.name, "orders");
	got = api_t_status_json(api_database_status_write, &db.status);
	is_str(got, "{\"phase\":\"Ready\",\"database\":{\"name\":\"orders\"}}",
	    "zero sizeBytes, owner and absent blocks omitted");
	free(got);
	api_database_release(&db);
}

int
main(void)
{
	test_full();
	test_defaults();
	test_errors();
	test_status();
	api_t_done();
	return done_testing();
}
