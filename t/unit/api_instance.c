/* DatabaseInstance: parse, defaults, validation, status round trip. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_instance.h"
#include "api_test.h"

/* A valid instance with `extra` spliced into spec. */
#define BASE "{'metadata':{'name':'i','namespace':'ns'},'spec':{" \
	"'engine':'postgres','connection':{'host':'h','port':5432," \
	"'database':'postgres','secretRef':{'name':'adm'}}%s}}"

static int
parse(yajl_val v, struct api_instance *in, struct api_errs *e)
{
	api_errs_release(e);
	api_instance_release(in);
	return api_instance_parse(v, in, e);
}

static void
test_full(void)
{
	struct api_instance in;
	struct api_errs e;
	const struct api_cred_ref *cr;
	int rc;

	api_errs_init(&e);
	rc = api_instance_parse(api_t_file("instance.json"), &in, &e);
	no_errs(&e, rc, "full instance parses");
	is_str(in.meta.name, "pg-main", "metadata.name");
	is_str(in.meta.ns, "databases", "metadata.namespace");
	is_str(in.meta.uid, "6f1c2a8e-3b7d-4c55-9a0e-1d2f3a4b5c6d", "uid");
	is_str(in.meta.resource_version, "48213", "resourceVersion");
	is_int(in.meta.generation, 3, "generation");
	is_int(in.meta.creation_timestamp, 1767690000, "creationTimestamp");
	ok(!in.meta.deleting, "not deleting");
	ok(!in.meta.skip_reconcile, "pause-reconcile \"false\" does not skip");
	ok(api_meta_has_finalizer(&in.meta, api_kind_finalizer(API_INSTANCE)),
	    "finalizer present");
	is_str(api_map_get(&in.meta.labels, "tier"), "data", "label");
	is_int(in.spec.engine, API_ENGINE_POSTGRES, "engine");
	is_str(in.spec.connection.host, "postgres.databases.svc.cluster.local",
	    "host");
	is_int(in.spec.connection.port, 5432, "port");
	is_str(in.spec.connection.database, "postgres", "database");
	cr = api_instance_credentials(&in.spec);
	ok(cr == &in.spec.connection.secret, "credentials from secretRef");
	is_str(cr->name, "pg-admin", "secretRef.name");
	is_str(cr->ns, "databases", "admin Secret in the instance namespace");
	is_str(cr->username_key, "user", "keys.username");
	is_str(cr->password_key, "pass", "keys.password");
	ok(in.spec.tls.set && in.spec.tls.enabled, "tls enabled");
	is_int(in.spec.tls.mode, API_TLS_VERIFY_FULL, "tls.mode");
	is_str(in.spec.tls.secret.name, "pg-tls", "tls secret");
	is_str(in.spec.tls.secret.ca, "root.pem", "tls keys.ca");
	is_str(in.spec.tls.secret.cert, "client.crt", "tls keys.cert");
	is_str(in.spec.tls.secret.key, "client.key", "tls keys.key");
	ok(in.spec.health_check.set, "healthCheck set");
	ok(!in.spec.health_check.enabled, "healthCheck.enabled false kept");
	is_int(in.spec.health_check.interval_seconds, 15, "intervalSeconds");
	is_int(in.spec.health_check.timeout_seconds, 3, "timeoutSeconds");
	is_int(in.spec.postgres.ssl_mode, API_PG_SSL_VERIFY_FULL, "sslMode");
	is_int(in.spec.postgres.connect_timeout, 7, "connectTimeout");
	is_str(in.spec.postgres.statement_timeout, "30s", "statementTimeout");
	is_str(in.spec.postgres.application_name, "dbprovd", "applicationName");
	ok(!in.spec.mysql.set, "no mysql block");
	is_int(in.status.phase, API_PHASE_READY, "status.phase");
	is_str(in.status.version, "16.4", "status.version");
	is_int(in.status.last_checked_at, 1767694530, "lastCheckedAt");
	is_int(in.status.conditions.n, 3, "three conditions");
	is_str(in.status.conditions.v[1].type, "Healthy", "condition type");
	is_int(in.status.conditions.v[1].observed_generation, 3,
	    "condition observedGeneration");
	api_instance_release(&in);
	api_errs_release(&e);
}

static void
test_defaults(void)
{
	struct api_instance in;
	struct api_errs e;
	int rc;

	memset(&in, 0, sizeof(in));
	api_errs_init(&e);
	rc = parse(api_t_fmt(BASE, ""), &in, &e);
	no_errs(&e, rc, "minimal instance parses");
	ok(!in.spec.postgres.set && !in.spec.mysql.set && !in.spec.tls.set &&
	    !in.spec.health_check.set, "absent blocks stay unset");
	ok(in.spec.postgres.application_name == NULL,
	    "nothing defaulted under an absent block");
	ok(!in.spec.connection.secret.keys_set &&
	    in.spec.connection.secret.username_key == NULL,
	    "keys not defaulted without keys object");

	rc = parse(api_t_fmt(BASE, ",'postgres':{},'tls':{'secretRef':"
	    "{'name':'t','keys':{}}},'healthCheck':{}"), &in, &e);
	no_errs(&e, rc, "empty blocks parse");
	is_int(in.spec.postgres.ssl_mode, API_PG_SSL_PREFER, "sslMode default");
	is_int(in.spec.postgres.connect_timeout, 10, "connectTimeout default");
	is_str(in.spec.postgres.application_name, "db-provision-operator",
	    "applicationName default");
	is_int(in.spec.tls.mode, API_TLS_DISABLE, "tls.mode default");
	ok(!in.spec.tls.enabled, "tls.enabled default false");
	is_str(in.spec.tls.secret.ca, "ca.crt", "tls keys.ca default");
	ok(in.spec.tls.secret.cert == NULL, "tls keys.cert no default");
	ok(in.spec.health_check.enabled, "healthCheck.enabled default");
	is_int(in.spec.health_check.interval_seconds, 30, "interval default");
	is_int(in.spec.health_check.timeout_seconds, 5, "timeout default");

	rc = parse(J("{'metadata':{'namespace':'ns'},'spec':{'engine':'mysql',"
	    "'connection':{'host':'h','port':3306,'database':'mysql',"
	    "'secretRef':{'name':'a','keys':{}}},'mysql':{}}}"), &in, &e);
	no_errs(&e, rc, "mysql instance parses");
	is_str(in.spec.connection.secret.username_key, "username",
	    "keys.username default inside keys");
	is_str(in.spec.connection.secret.password_key, "password",
	    "keys.password default inside keys");
	is_str(in.spec.mysql.charset, "utf8mb4", "charset default");
	is_str(in.spec.mysql.collation, "utf8mb4_unicode_ci",
	    "collation default");
	ok(in.spec.mysql.parse_time, "parseTime default true");
	is_str(in.spec.mysql.timeout, "10s", "timeout default");
	is_str(in.spec.mysql.read_timeout, "30s", "readTimeout default");
	is_str(in.spec.mysql.write_timeout, "30s", "writeTimeout default");
	is_int(in.spec.mysql.tls, API_MY_TLS_PREFERRED, "mysql tls default");

	rc = parse(J("{'spec':{'engine':'mysql','connection':{'host':'h',"
	    "'port':3306,'database':'d','secretRef':{'name':'a'}},"
	    "'mysql':{'parseTime':false,'timeout':'1m30s'}}}"), &in, &e);
	no_errs(&e, rc, "explicit false");
	ok(in.spec.mysql.set && !in.spec.mysql.parse_time,
	    "explicit parseTime false kept");
	is_str(in.spec.mysql.timeout, "1m30s", "timeout kept");

	rc = parse(J("{'spec':{'engine':'postgres','connection':{'host':'h',"
	    "'port':1,'database':'d','existingSecret':{'name':'x'}},"
	    "'postgres':null,'tls':null}}"), &in, &e);
	no_errs(&e, rc, "existingSecret alone; null blocks are absent");
	ok(api_instance_credentials(&in.spec) ==
	    &in.spec.connection.existing_secret, "credentials from existingSecret");
	ok(!in.spec.postgres.set && !in.spec.tls.set, "null is absent");
	ok(in.spec.connection.existing_secret.ns == NULL,
	    "no namespace without metadata.namespace");
	api_instance_release(&in);
	api_errs_release(&e);
}

static void
test_errors(void)
{
	struct api_instance in;
	struct api_errs e;
	char *line;
	int rc;

	memset(&in, 0, sizeof(in));
	api_errs_init(&e);

	rc = parse(J("{'spec':{'engine':'oracle','connection':{'host':'',"
	    "'port':0,'database':'d','secretRef':{'name':'a'}}}}"), &in, &e);
	nerrs(&e, rc, 3, "enum, minLength and minimum");
	has_err(&e, "spec.engine", "unsupported value \"oracle\": must be one "
	    "of postgres, mysql, cockroachdb");
	has_err(&e, "spec.connection.host", "must not be empty");
	has_err(&e, "spec.connection.port", "must be >= 1");
	line = api_errs_join(&e, 0);
	is_str(line, "spec.engine: unsupported value \"oracle\": must be one of "
	    "postgres, mysql, cockroachdb; spec.connection.host: must not be "
	    "empty; spec.connection.port: must be >= 1", "errors as one line");
	free(line);

	rc = parse(J("{'spec':{'engine':'cockroachdb','connection':{'host':'h',"
	    "'port':65536,'database':'d'}}}"), &in, &e);
	nerrs(&e, rc, 3, "cockroachdb, maximum, credentials");
	has_err(&e, "spec.engine", "cockroachdb is not supported");
	is_int(in.spec.engine, API_ENGINE_COCKROACHDB, "engine still stored");
	has_err(&e, "spec.connection.port", "must be <= 65535");
	has_err(&e, "spec.connection.secretRef", "is required");

	rc = parse(J("{'spec':{'connection':{}}}"), &in, &e);
	nerrs(&e, rc, 5, "required fields");
	has_err(&e, "spec.engine", "is required");
	has_err(&e, "spec.connection.host", "is required");
	has_err(&e, "spec.connection.port", "is required");
	has_err(&e, "spec.connection.database", "is required");
	has_err(&e, "spec.connection.secretRef", "is required");

	rc = parse(J("{'metadata':{'name':'x'}}"), &in, &e);
	nerrs(&e, rc, 1, "spec is required");
	has_err(&e, "spec", "is required");

	rc = parse(api_t_fmt(BASE, ",'mysql':{'charset':'utf8; DROP',"
	    "'timeout':'10','readTimeout':'3d','tls':'on'},"
	    "'healthCheck':{'intervalSeconds':4,'timeoutSeconds':0}"), &in, &e);
	nerrs(&e, rc, 7, "mysql block errors");
	has_err(&e, "spec.mysql", "not allowed: the instance engine is postgres");
	has_err(&e, "spec.mysql.charset", "must match ^[a-zA-Z0-9_]+$");
	has_err(&e, "spec.mysql.timeout", "must be a Go duration");
	has_err(&e, "spec.mysql.readTimeout", "must be a Go duration");
	has_err(&e, "spec.mysql.tls", "must be one of disabled, preferred, "
	    "required, skip-verify");
	has_err(&e, "spec.healthCheck.intervalSeconds", "must be >= 5");
	has_err(&e, "spec.healthCheck.timeoutSeconds", "must be >= 1");

	rc = parse(J("{'spec':{'engine':'mysql','connection':{'host':'h',"
	    "'port':3306,'database':'d','secretRef':{'name':'a'},"
	    "'existingSecret':{'name':'b'}},'postgres':{'sslMode':'prefer'}}}"),
	    &in, &e);
	nerrs(&e, rc, 2, "engine block mismatch and two credential refs");
	has_err(&e, "spec.postgres", "not allowed: the instance engine is mysql");
	has_err(&e, "spec.connection.existingSecret", "must not be set together");

	rc = parse(api_t_fmt(BASE, ",'postgres':{'sslMode':'PREFER',"
	    "'connectTimeout':0},'tls':{'mode':'verify','secretRef':{}}"), &in, &e);
	nerrs(&e, rc, 4, "postgres/tls enums and minimums");
	has_err(&e, "spec.postgres.sslMode", "unsupported value \"PREFER\"");
	has_err(&e, "spec.postgres.connectTimeout", "must be >= 1");
	has_err(&e, "spec.tls.mode", "must be one of disable, require, "
	    "verify-ca, verify-full");
	has_err(&e, "spec.tls.secretRef.name", "is required");

	/* Wrong JSON types are errors naming the field, never crashes. */
	rc = parse(J("{'metadata':{'name':1,'labels':{'a':1},'finalizers':'x',"
	    "'generation':'3'},'spec':{'engine':5,'connection':{'host':['h'],"
	    "'port':'5432','database':{},'secretRef':'adm'},'tls':{'enabled':"
	    "'yes'},'healthCheck':[],'postgres':{'connectTimeout':1.5}}}"),
	    &in, &e);
	nerrs(&e, rc, 13, "wrong types everywhere");
	has_err(&e, "metadata.name", "must be a string");
	has_err(&e, "metadata.labels[a]", "must be a string");
	has_err(&e, "metadata.finalizers", "must be an array");
	has_err(&e, "metadata.generation", "must be an integer");
	has_err(&e, "spec.engine", "must be a string");
	has_err(&e, "spec.connection.host", "must be a string");
	has_err(&e, "spec.connection.port", "must be an integer");
	has_err(&e, "spec.connection.database", "must be a string");
	has_err(&e, "spec.connection.secretRef", "must be an object");
	has_err(&e, "spec.tls.enabled", "must be a boolean");
	has_err(&e, "spec.healthCheck", "must be an object");
	has_err(&e, "spec.postgres.connectTimeout", "must be an integer");
	ok(in.spec.postgres.connect_timeout == 10, "bad value keeps the default");

	rc = parse(api_t_fmt(BASE, ",'postgres':{'connectTimeout':"
	    "99999999999}"), &in, &e);
	nerrs(&e, rc, 1, "beyond int32");
	has_err(&e, "spec.postgres.connectTimeout", "must be a 32-bit integer");
	rc = parse(api_t_fmt(BASE, ",'postgres':{'connectTimeout':"
	    "123456789012345678901234567890}"), &in, &e);
	has_err(&e, "spec.postgres.connectTimeout", "must be an integer");

	rc = parse(J("[1,2]"), &in, &e);
	nerrs(&e, rc, 1, "not an object");
	has_err(&e, "", "must be a JSON object");
	rc = api_instance_parse(NULL, &in, NULL);
	is_int(rc, -1, "NULL tree without an error list");

	rc = parse(api_t_fmt("{'kind':'Database','apiVersion':'v1',"
	    "'spec':{'engine':'postgres','connection':{'host':'h','port':1,"
	    "'database':'d','secretRef':{'name':'a'}}}}"), &in, &e);
	nerrs(&e, rc, 2, "kind and apiVersion checked when present");
	has_err(&e, "kind", "must be DatabaseInstance");
	has_err(&e, "apiVersion", "must be dbops.dbprovision.io/v1alpha1");

	rc = parse(J("{'spec':{'engine':'postgres','connection':{'host':'h',"
	    "'port':1,'database':'d','secretRef':{'name':'a'}}},"
	    "'status':{'phase':'Running','lastCheckedAt':'yesterday',"
	    "'conditions':[{'type':'bad type!','status':'Maybe',"
	    "'lastTransitionTime':'2026-13-01T00:00:00Z','reason':'9x'},3]}}"),
	    &in, &e);
	nerrs(&e, rc, 8, "status rules");
	has_err(&e, "status.phase", "must be one of Pending, Ready, Failed");
	has_err(&e, "status.lastCheckedAt", "must be an RFC 3339 date-time");
	has_err(&e, "status.conditions[0].type", "must be a qualified name");
	has_err(&e, "status.conditions[0].status", "must be one of True, "
	    "False, Unknown");
	has_err(&e, "status.conditions[0].lastTransitionTime",
	    "month out of range");
	has_err(&e, "status.conditions[0].reason", "must match");
	has_err(&e, "status.conditions[0].message", "is required");
	has_err(&e, "status.conditions[1]", "must be an object");
	api_instance_release(&in);
	api_errs_release(&e);
}

static void
test_status(void)
{
	struct api_instance in, again;
	struct api_errs e;
	yajl_val doc = api_t_file("instance.json");
	char *want, *got, *wrapped, *got2;
	struct jw w;

	api_errs_init(&e);
	ok(api_instance_parse(doc, &in, &e) == 0, "parse for status");
	jw_init(&w);
	jw_value(&w, json_get(doc, "status", NULL));
	want = jw_finish(&w, NULL);
	got = api_t_status_json(api_instance_status_write, &in.status);
	is_str(got, want, "status written exactly as the original JSON");

	wrapped = xasprintf("{\"status\":%s}", got);
	api_instance_parse(api_t_parse(wrapped, strlen(wrapped), "wrapped"),
	    &again, NULL);
	got2 = api_t_status_json(api_instance_status_write, &again.status);
	is_str(got2, got, "status round trip is stable");
	is_int(again.status.phase, in.status.phase, "phase survives");
	is_int(again.status.last_checked_at, in.status.last_checked_at,
	    "time survives");
	is_int(again.status.conditions.n, 3, "conditions survive");
	free(want);
	free(got);
	free(got2);
	free(wrapped);
	api_instance_release(&again);

	/* Zero values are omitted, condition keys never are. */
	api_instance_release(&in);
	memset(&in, 0, sizeof(in));
	got = api_t_status_json(api_instance_status_write, &in.status);
	is_str(got, "{}", "empty status");
	free(got);
	ok(api_conditions_set(&in.status.conditions, "Ready", API_COND_FALSE,
	    "ReconcileFailed", NULL, 0, 1767690000), "condition added");
	got = api_t_status_json(api_instance_status_write, &in.status);
	is_str(got, "{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
	    "\"lastTransitionTime\":\"2026-01-06T09:00:00Z\",\"reason\":"
	    "\"ReconcileFailed\",\"message\":\"\"}]}",
	    "empty message still written, observedGeneration 0 omitted");
	free(got);
	api_instance_release(&in);
	api_errs_release(&e);
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
