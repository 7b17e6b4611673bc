/* DatabaseUser: parse, defaults, validation, status round trip. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_test.h"
#include "api_user.h"

#define BASE "{'metadata':{'name':'u','namespace':'shop'},'spec':{" \
	"'instanceRef':{'name':'pg'},'username':'app'%s}}"

static int
parse(yajl_val v, struct api_user *u, struct api_errs *e)
{
	api_errs_release(e);
	api_user_release(u);
	return api_user_parse(v, u, e);
}

static void
test_full(void)
{
	struct api_user u;
	struct api_errs e;
	const struct api_password_config *ps = &u.spec.password_secret;
	const struct api_pg_user *pg = &u.spec.postgres;
	const struct api_my_user *my = &u.spec.mysql;
	int rc;

	api_errs_init(&e);
	rc = api_user_parse(api_t_file("user.json"), &u, &e);
	no_errs(&e, rc, "full user parses");
	is_str(u.spec.username, "orders_app", "username");
	ok(ps->set && ps->generate, "passwordSecret.generate");
	is_int(ps->length, 24, "length");
	ok(!ps->include_special_chars, "includeSpecialChars false kept");
	is_str(ps->exclude_chars, "lI1O0", "excludeChars");
	is_str(ps->secret_name, "orders-app-credentials", "secretName");
	is_int(ps->format, API_SECRET_FORMAT_KUBERNETES, "format");
	is_str(ps->secret_template.type, "Opaque", "template type");
	is_str(api_map_get(&ps->secret_template.data, "password"),
	    "{{ .Password }}", "template data");
	is_str(api_map_get(&ps->secret_template.labels, "app"), "orders",
	    "template labels");
	is_str(u.spec.existing_password_secret.name, "legacy",
	    "existingPasswordSecret.name");
	is_str(u.spec.existing_password_secret.ns, "shop",
	    "existingPasswordSecret namespace defaults to own");
	is_str(u.spec.existing_password_secret.key, "pw", "key");
	is_str(u.spec.password_rotation.max_age, "90d", "rotation maxAge");
	is_int(pg->connection_limit, 0, "connectionLimit 0 kept");
	is_str(pg->valid_until, "2027-01-01T00:00:00Z", "validUntil");
	ok(pg->create_db && pg->bypass_rls, "createDB, bypassRLS");
	ok(!pg->inherit && !pg->login, "inherit/login false kept");
	is_int(pg->in_roles.n, 2, "inRoles");
	is_str(api_map_get(&pg->config_parameters, "search_path"), "app,public",
	    "configParameters");
	ok(!my->set, "no mysql");
	is_str(u.status.secret.ns, "shop", "status.secret.namespace");
	api_user_release(&u);

	rc = api_user_parse(api_t_file("user-mysql.json"), &u, &e);
	no_errs(&e, rc, "mysql user parses");
	is_int(my->max_queries_per_hour, 1000, "maxQueriesPerHour");
	is_int(my->max_updates_per_hour, 0, "maxUpdatesPerHour");
	is_int(my->max_connections_per_hour, 60, "maxConnectionsPerHour");
	is_int(my->max_user_connections, 10, "maxUserConnections");
	is_int(my->auth_plugin, API_MY_AUTH_NATIVE_PASSWORD, "authPlugin");
	ok(my->require_ssl && !my->require_x509, "requireSSL");
	is_int(my->allowed_hosts.n, 2, "allowedHosts");
	is_str(my->allowed_hosts.v[0], "10.0.%", "allowedHosts[0]");
	is_int(my->failed_login_attempts, 3, "failedLoginAttempts");
	is_int(my->password_lock_time, 1, "passwordLockTime");
	is_int(ps->length, 32, "length default");
	ok(ps->generate && ps->include_special_chars, "bool defaults true");
	is_int(ps->format, API_SECRET_FORMAT_KUBERNETES, "format default");
	ok(!ps->secret_template.set, "no template");
	is_int(api_user_check_engine(&u, API_ENGINE_MYSQL, &e), 0,
	    "fits a mysql instance");
	api_user_release(&u);
	api_errs_release(&e);
}

static void
test_defaults(void)
{
	struct api_user u;
	struct api_errs e;
	int rc;

	memset(&u, 0, sizeof(u));
	api_errs_init(&e);
	rc = parse(api_t_fmt(BASE, ",'postgres':{},'mysql':{}"), &u, &e);
	no_errs(&e, rc, "empty engine blocks");
	is_int(u.spec.postgres.connection_limit, -1, "connectionLimit -1");
	ok(u.spec.postgres.inherit && u.spec.postgres.login,
	    "inherit/login default true");
	ok(!u.spec.postgres.superuser && !u.spec.postgres.replication,
	    "other flags false");
	is_int(u.spec.mysql.auth_plugin, API_MY_AUTH_CACHING_SHA2_PASSWORD,
	    "authPlugin default");
	is_int(u.spec.mysql.allowed_hosts.n, 1, "allowedHosts default");
	is_str(u.spec.mysql.allowed_hosts.v[0], "%", "allowedHosts ['%']");
	is_int(u.spec.mysql.max_queries_per_hour, 0, "limits default 0");

	rc = parse(api_t_fmt(BASE, ",'mysql':{'allowedHosts':[]}"), &u, &e);
	no_errs(&e, rc, "explicit empty allowedHosts");
	is_int(u.spec.mysql.allowed_hosts.n, 0, "explicit [] kept");

	rc = parse(api_t_fmt(BASE, ",'passwordSecret':{'secretName':'s',"
	    "'secretTemplate':{}}"), &u, &e);
	no_errs(&e, rc, "empty template");
	is_str(u.spec.password_secret.secret_template.type, "Opaque",
	    "template type default");
	ok(!u.spec.existing_password_secret.set && !u.spec.password_rotation.set,
	    "absent blocks");

	rc = parse(api_t_fmt(BASE, ",'passwordSecret':{'secretName':'s',"
	    "'generate':false},'existingPasswordSecret':{'name':'p','key':'k',"
	    "'namespace':'other'}"), &u, &e);
	no_errs(&e, rc, "generate false with an existing password");
	ok(!u.spec.password_secret.generate, "generate false kept");
	is_str(u.spec.existing_password_secret.ns, "other",
	    "cross-namespace ref kept");
	api_user_release(&u);
	api_errs_release(&e);
}

static void
test_errors(void)
{
	struct api_user u;
	struct api_errs e;
	int rc;

	memset(&u, 0, sizeof(u));
	api_errs_init(&e);
	rc = parse(J("{'metadata':{'namespace':'shop'},'spec':{'instanceRef':"
	    "{'name':'pg'},'username':'app-user','passwordSecret':{'length':7,"
	    "'format':'vault','secretNamespace':'other'},"
	    "'existingPasswordSecret':{'name':'x'}}}"), &u, &e);
	nerrs(&e, rc, 6, "user rules");
	has_err(&e, "spec.username", "must match ^[a-zA-Z_][a-zA-Z0-9_]*$");
	has_err(&e, "spec.passwordSecret.length", "must be >= 8");
	has_err(&e, "spec.passwordSecret.secretName", "is required");
	has_err(&e, "spec.passwordSecret.format", "vault is not supported");
	has_err(&e, "spec.passwordSecret.secretNamespace",
	    "must be empty or the object's own namespace");
	has_err(&e, "spec.existingPasswordSecret.key", "is required");

	rc = parse(api_t_fmt(BASE, ",'passwordSecret':{'secretName':'s',"
	    "'length':129,'format':'ldap','generate':false}"), &u, &e);
	nerrs(&e, rc, 3, "maximum, enum, generate without a source");
	has_err(&e, "spec.passwordSecret.length", "must be <= 128");
	has_err(&e, "spec.passwordSecret.format", "must be one of kubernetes, "
	    "vault, external-secrets");
	has_err(&e, "spec.passwordSecret.generate",
	    "false requires spec.existingPasswordSecret");

	rc = parse(api_t_fmt(BASE, ",'postgres':{'connectionLimit':-5,"
	    "'inRoles':'admin','configParameters':{'a':true}},'mysql':"
	    "{'maxQueriesPerHour':-1,'maxUserConnections':-1,'authPlugin':"
	    "'auth_socket','allowedHosts':['%',''],'failedLoginAttempts':-1,"
	    "'passwordLockTime':-1}"), &u, &e);
	nerrs(&e, rc, 9, "engine block rules");
	has_err(&e, "spec.postgres.connectionLimit", "must be >= -1");
	has_err(&e, "spec.postgres.inRoles", "must be an array");
	has_err(&e, "spec.postgres.configParameters[a]", "must be a string");
	has_err(&e, "spec.mysql.maxQueriesPerHour", "must be >= 0");
	has_err(&e, "spec.mysql.maxUserConnections", "must be >= 0");
	has_err(&e, "spec.mysql.authPlugin", "must be one of "
	    "mysql_native_password, caching_sha2_password, sha256_password");
	has_err(&e, "spec.mysql.allowedHosts[1]", "must not be empty");
	has_err(&e, "spec.mysql.failedLoginAttempts", "must be >= 0");
	has_err(&e, "spec.mysql.passwordLockTime", "must be >= 0");

	rc = parse(J("{'spec':{'instanceRef':'pg','username':7,"
	    "'passwordSecret':[],'passwordRotation':{'enabled':'true'}}}"),
	    &u, &e);
	nerrs(&e, rc, 4, "wrong types");
	has_err(&e, "spec.instanceRef", "must be an object");
	has_err(&e, "spec.username", "must be a string");
	has_err(&e, "spec.passwordSecret", "must be an object");
	has_err(&e, "spec.passwordRotation.enabled", "must be a boolean");

	rc = parse(J("{'spec':{'instanceRef':{'name':'i'},'username':"
	    "'a_very_long_mysql_user_name_of_40_chars_'},'status':{'secret':"
	    "{'lastRotatedAt':'2026-01-06 10:00:00'}}}"), &u, &e);
	nerrs(&e, rc, 1, "status time format");
	has_err(&e, "status.secret.lastRotatedAt", "must be an RFC 3339");
	api_errs_release(&e);
	is_int(api_user_check_engine(&u, API_ENGINE_POSTGRES, &e), 0,
	    "40 characters are fine for postgres");
	is_int(api_user_check_engine(&u, API_ENGINE_MYSQL, &e), -1,
	    "but not for mysql");
	has_err(&e, "spec.username", "must be at most 32 characters for mysql");
	api_user_release(&u);
	api_errs_release(&e);
}

static void
test_status(void)
{
	struct api_user u, again;
	yajl_val doc = api_t_file("user.json");
	char *want, *got, *wrapped, *got2;
	struct jw w;

	ok(api_user_parse(doc, &u, NULL) == 0, "parse for status");
	jw_init(&w);
	jw_value(&w, json_get(doc, "status", NULL));
	want = jw_finish(&w, NULL);
	got = api_t_status_json(api_user_status_write, &u.status);
	is_str(got, want, "status written exactly as the original JSON");
	wrapped = xasprintf("{\"status\":%s}", got);
	api_user_parse(api_t_parse(wrapped, strlen(wrapped), "wrapped"), &again,
	    NULL);
	got2 = api_t_status_json(api_user_status_write, &again.status);
	is_str(got2, got, "round trip stable");
	is_str(again.status.user.username, "orders_app", "username survives");
	free(want);
	free(got);
	free(got2);
	free(wrapped);
	api_user_release(&again);
	api_user_release(&u);
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
