/* DatabaseGrant: parse, defaults, validation, status round trip. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_grant.h"
#include "api_test.h"

#define BASE "{'metadata':{'name':'g','namespace':'shop'},'spec':{" \
	"'userRef':{'name':'app'}%s}}"

static int
parse(yajl_val v, struct api_grant *g, struct api_errs *e)
{
	api_errs_release(e);
	api_grant_release(g);
	return api_grant_parse(v, g, e);
}

static void
test_full(void)
{
	struct api_grant g;
	struct api_errs e;
	const struct api_pg_grant_config *pg = &g.spec.postgres;
	int rc;

	api_errs_init(&e);
	rc = api_grant_parse(api_t_file("grant.json"), &g, &e);
	no_errs(&e, rc, "full grant parses");
	is_str(g.spec.user.name, "orders-app", "userRef.name");
	is_str(g.spec.user.ns, "shop", "userRef namespace defaults to own");
	ok(g.spec.database.set, "databaseRef set");
	is_str(g.spec.database.name, "orders", "databaseRef.name");
	is_int(pg->roles.n, 1, "roles");
	is_int(pg->grants.n, 2, "grants");
	ok(!pg->grants.v[1].with_grant_option, "withGrantOption false");
	is_int(pg->n_default_privileges, 2, "default privileges");
	is_str(pg->default_privileges[0].granted_by, "orders_owner",
	    "grantedBy");
	is_int(pg->default_privileges[1].object_type, API_PG_OBJ_FUNCTIONS,
	    "objectType");
	ok(!g.spec.mysql.set, "no mysql");
	ok(g.status.applied_grants.set, "appliedGrants");
	is_int(g.status.applied_grants.direct_grants, 2, "directGrants");
	is_int(api_grant_check_engine(&g, API_ENGINE_POSTGRES, &e), 0,
	    "postgres engine matches");
	is_int(api_grant_check_engine(&g, API_ENGINE_MYSQL, &e), -1,
	    "mysql engine does not");
	has_err(&e, "spec.postgres", "not allowed: the instance engine is mysql");
	api_grant_release(&g);
	api_errs_release(&e);
}

static void
test_defaults(void)
{
	struct api_grant g;
	struct api_errs e;
	int rc;

	memset(&g, 0, sizeof(g));
	api_errs_init(&e);
	rc = parse(api_t_fmt(BASE, ",'mysql':{'roles':['r1','r2'],'grants':"
	    "[{'level':'database','database':'shop','privileges':['SELECT']}]}"),
	    &g, &e);
	no_errs(&e, rc, "mysql grant");
	ok(!g.spec.database.set && g.spec.database.name == NULL,
	    "databaseRef optional");
	is_int(g.spec.mysql.roles.n, 2, "roles");
	ok(!g.spec.mysql.grants.v[0].with_grant_option, "withGrantOption false");
	ok(!g.spec.postgres.set, "no postgres");
	api_grant_release(&g);
	api_errs_release(&e);
}

static void
test_errors(void)
{
	struct api_grant g;
	struct api_errs e;
	int rc;

	memset(&g, 0, sizeof(g));
	api_errs_init(&e);
	rc = parse(J("{'spec':{'databaseRef':{}}}"), &g, &e);
	nerrs(&e, rc, 2, "userRef required");
	has_err(&e, "spec.userRef", "is required");
	has_err(&e, "spec.databaseRef.name", "is required");

	rc = parse(api_t_fmt(BASE, ",'postgres':{'roles':[1],"
	    "'defaultPrivileges':[{'database':'d','schema':'s','objectType':"
	    "'TABLES','privileges':['SELECT']},{'schema':'s','grantedBy':'o',"
	    "'objectType':'types','privileges':['USAGE','']}]}"), &g, &e);
	nerrs(&e, rc, 5, "postgres grant config");
	has_err(&e, "spec.postgres.roles[0]", "must be a string");
	has_err(&e, "spec.postgres.defaultPrivileges[0].grantedBy",
	    "is required");
	has_err(&e, "spec.postgres.defaultPrivileges[0].objectType",
	    "unsupported value \"TABLES\"");
	has_err(&e, "spec.postgres.defaultPrivileges[1].database",
	    "is required");
	has_err(&e, "spec.postgres.defaultPrivileges[1].privileges[1]",
	    "must be a privilege keyword");

	rc = parse(api_t_fmt(BASE, ",'mysql':{'grants':[{'level':'table',"
	    "'database':'d','table':'t','privileges':['SELECT','INSERT']},"
	    "{'level':'column','database':'d','table':'t','columns':[],"
	    "'privileges':['UPDATE']}],'roles':{}}"), &g, &e);
	nerrs(&e, rc, 2, "mysql grant config");
	has_err(&e, "spec.mysql.grants[1].columns",
	    "is required for level column");
	has_err(&e, "spec.mysql.roles", "must be an array");

	rc = parse(api_t_fmt(BASE, "},'status':{'phase':'Active',"
	    "'appliedGrants':{'directGrants':'2','roles':'r'}"), &g, &e);
	nerrs(&e, rc, 3, "status errors");
	has_err(&e, "status.phase", "must be one of Pending, Creating, Ready, "
	    "Failed, Deleting");
	has_err(&e, "status.appliedGrants.directGrants", "must be an integer");
	has_err(&e, "status.appliedGrants.roles", "must be an array");
	api_grant_release(&g);
	api_errs_release(&e);
}

static void
test_status(void)
{
	struct api_grant g, again;
	yajl_val doc = api_t_file("grant.json");
	char *want, *got, *wrapped, *got2;
	struct jw w;

	ok(api_grant_parse(doc, &g, NULL) == 0, "parse for status");
	jw_init(&w);
	jw_value(&w, json_get(doc, "status", NULL));
	want = jw_finish(&w, NULL);
	got = api_t_status_json(api_grant_status_write, &g.status);
	is_str(got, want, "status written exactly as the original JSON");
	wrapped = xasprintf("{\"status\":%s}", got);
	api_grant_parse(api_t_parse(wrapped, strlen(wrapped), "wrapped"),
	    &again, NULL);
	got2 = api_t_status_json(api_grant_status_write, &again.status);
	is_str(got2, got, "round trip stable");
	free(want);
	free(got);
	free(got2);
	free(wrapped);
	api_grant_release(&again);

	api_grant_release(&g);
	memset(&g, 0, sizeof(g));
	g.status.phase = API_PHASE_READY;
	g.status.applied_grants.set = true;
	got = api_t_status_json(api_grant_status_write, &g.status);
	is_str(got, "{\"phase\":\"Ready\",\"appliedGrants\":{}}",
	    "directGrants 0 and empty roles omitted");
	free(got);
	api_grant_release(&g);
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
