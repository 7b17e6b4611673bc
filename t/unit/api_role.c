/* DatabaseRole: parse, defaults, validation (incl. grants), status. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_role.h"
#include "api_test.h"

#define BASE "{'metadata':{'name':'r','namespace':'shop'},'spec':{" \
	"'instanceRef':{'name':'pg'},'roleName':'readers'%s}}"

static int
parse(yajl_val v, struct api_role *r, struct api_errs *e)
{
	api_errs_release(e);
	api_role_release(r);
	return api_role_parse(v, r, e);
}

static void
test_full(void)
{
	struct api_role r;
	struct api_errs e;
	const struct api_pg_role *pg = &r.spec.postgres;
	const struct api_my_role *my = &r.spec.mysql;
	int rc;

	api_errs_init(&e);
	rc = api_role_parse(api_t_file("role.json"), &r, &e);
	no_errs(&e, rc, "full role parses");
	is_str(r.spec.role_name, "orders_ro", "roleName");
	ok(!pg->login && !pg->inherit, "login false, inherit false kept");
	is_int(pg->in_roles.n, 1, "inRoles");
	is_int(pg->grants.n, 3, "three grants");
	is_str(pg->grants.v[0].database, "orders_prod", "grant database");
	ok(pg->grants.v[0].schema == NULL, "no schema");
	is_str(pg->grants.v[1].tables.v[1], "items", "tables");
	ok(pg->grants.v[1].with_grant_option, "withGrantOption");
	is_str(pg->grants.v[2].functions.v[0], "total(integer)", "functions");
	is_str(pg->grants.v[2].privileges.v[1], "EXECUTE", "privileges");
	is_int(r.status.observed_generation, 4, "observedGeneration");
	api_role_release(&r);

	rc = api_role_parse(api_t_file("role-mysql.json"), &r, &e);
	no_errs(&e, rc, "mysql role parses");
	ok(my->set && !my->use_native_roles, "useNativeRoles false kept");
	is_int(my->grants.n, 6, "six grants, one per level");
	is_int(my->grants.v[0].level, API_MY_LEVEL_GLOBAL, "global");
	is_int(my->grants.v[3].level, API_MY_LEVEL_COLUMN, "column");
	is_int(my->grants.v[3].columns.n, 2, "columns");
	is_str(my->grants.v[4].procedure, "close_day", "procedure");
	is_str(my->grants.v[5].function, "tax", "function");
	ok(my->grants.v[2].with_grant_option, "withGrantOption");
	api_role_release(&r);
	api_errs_release(&e);
}

static void
test_defaults(void)
{
	struct api_role r;
	struct api_errs e;
	int rc;

	memset(&r, 0, sizeof(r));
	api_errs_init(&e);
	rc = parse(api_t_fmt(BASE, ",'postgres':{},'mysql':{}"), &r, &e);
	no_errs(&e, rc, "empty blocks");
	ok(r.spec.postgres.inherit, "inherit default true");
	ok(!r.spec.postgres.login, "login has no default");
	ok(r.spec.mysql.use_native_roles, "useNativeRoles default true");
	is_int(r.spec.postgres.grants.n, 0, "no grants");
	rc = parse(api_t_fmt(BASE, ""), &r, &e);
	no_errs(&e, rc, "no blocks");
	ok(!r.spec.postgres.inherit, "no defaults without the block");
	api_role_release(&r);
	api_errs_release(&e);
}

static void
test_errors(void)
{
	struct api_role r;
	struct api_errs e;
	int rc;

	memset(&r, 0, sizeof(r));
	api_errs_init(&e);
	rc = parse(J("{'spec':{'instanceRef':{'name':'pg'},'roleName':'r o'}}"),
	    &r, &e);
	nerrs(&e, rc, 1, "roleName pattern");
	has_err(&e, "spec.roleName", "must match");
	rc = parse(J("{'spec':{'instanceRef':{'name':'pg'}}}"), &r, &e);
	nerrs(&e, rc, 1, "roleName required");
	has_err(&e, "spec.roleName", "is required");

	rc = parse(api_t_fmt(BASE, ",'postgres':{'grants':[{'privileges':"
	    "['SELECT']},{'database':'d','privileges':[]},{'database':'d'},"
	    "{'database':'d','privileges':['SELECT ','DROP;','  ','ALL PRIVILEGES',"
	    "'select']},{'database':'d','tables':'t','privileges':['USAGE'],"
	    "'withGrantOption':'yes'}]}"), &r, &e);
	nerrs(&e, rc, 8, "postgres grant rules");
	has_err(&e, "spec.postgres.grants[0].database", "is required");
	has_err(&e, "spec.postgres.grants[1].privileges",
	    "must have at least 1 item");
	has_err(&e, "spec.postgres.grants[2].privileges", "is required");
	has_err(&e, "spec.postgres.grants[3].privileges[0]",
	    "must be a privilege keyword");
	has_err(&e, "spec.postgres.grants[3].privileges[1]",
	    "must be a privilege keyword");
	has_err(&e, "spec.postgres.grants[3].privileges[2]",
	    "must be a privilege keyword");
	has_err(&e, "spec.postgres.grants[4].tables", "must be an array");
	has_err(&e, "spec.postgres.grants[4].withGrantOption",
	    "must be a boolean");

	rc = parse(api_t_fmt(BASE, ",'mysql':{'grants':["
	    "{'level':'global','database':'d','privileges':['SELECT']},"
	    "{'level':'database','privileges':['SELECT']},"
	    "{'level':'table','database':'d','privileges':['SELECT']},"
	    "{'level':'column','database':'d','table':'t','privileges':['SELECT']},"
	    "{'level':'procedure','database':'d','function':'f','privileges':"
	    "['EXECUTE']},"
	    "{'level':'function','database':'d','function':'f','columns':['c'],"
	    "'privileges':['EXECUTE']},"
	    "{'level':'schema','privileges':['SELECT']},"
	    "{'privileges':['SELECT']}]}"), &r, &e);
	nerrs(&e, rc, 9, "mysql grant levels");
	has_err(&e, "spec.mysql.grants[0].database",
	    "must not be set for level global");
	has_err(&e, "spec.mysql.grants[1].database",
	    "is required for level database");
	has_err(&e, "spec.mysql.grants[2].table", "is required for level table");
	has_err(&e, "spec.mysql.grants[3].columns",
	    "is required for level column");
	has_err(&e, "spec.mysql.grants[4].procedure",
	    "is required for level procedure");
	has_err(&e, "spec.mysql.grants[4].function",
	    "must not be set for level procedure");
	has_err(&e, "spec.mysql.grants[5].columns",
	    "must not be set for level function");
	has_err(&e, "spec.mysql.grants[6].level", "must be one of global, "
	    "database, table, column, procedure, function");
	has_err(&e, "spec.mysql.grants[7].level", "is required");

	rc = parse(J("{'spec':{'instanceRef':{'name':'pg'},'roleName':"
	    "'a_role_name_longer_than_thirty_two_chars'}}"), &r, &e);
	no_errs(&e, rc, "long role name is valid");
	is_int(api_role_check_engine(&r, API_ENGINE_MYSQL, &e), -1,
	    "too long for mysql");
	has_err(&e, "spec.roleName", "at most 32 characters for mysql");
	api_role_release(&r);
	api_errs_release(&e);
}

static void
test_status(void)
{
	struct api_role r, again;
	yajl_val doc = api_t_file("role.json");
	char *want, *got, *wrapped, *got2;
	struct jw w;

	ok(api_role_parse(doc, &r, NULL) == 0, "parse for status");
	jw_init(&w);
	jw_value(&w, json_get(doc, "status", NULL));
	want = jw_finish(&w, NULL);
	got = api_t_status_json(api_role_status_write, &r.status);
	is_str(got, want, "status written exactly as the original JSON");
	wrapped = xasprintf("{\"status\":%s}", got);
	api_role_parse(api_t_parse(wrapped, strlen(wrapped), "wrapped"), &again,
	    NULL);
	got2 = api_t_status_json(api_role_status_write, &again.status);
	is_str(got2, got, "round trip stable");
	is_int(again.status.role.created_at, r.status.role.created_at,
	    "createdAt survives");
	free(want);
	free(got);
	free(got2);
	free(wrapped);
	api_role_release(&again);
	api_role_release(&r);
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
