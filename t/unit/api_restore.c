/* DatabaseRestore: parse, defaults, source/target rules, status. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_restore.h"
#include "api_test.h"

#define BASE "{'metadata':{'name':'r','namespace':'shop'},'spec':{%s}}"
#define FROM_BACKUP "'backupRef':{'name':'b'},'target':{'instanceRef':{'name':'i'}}"

static int
parse(yajl_val v, struct api_restore *r, struct api_errs *e)
{
	api_errs_release(e);
	api_restore_release(r);
	return api_restore_parse(v, r, e);
}

static void
test_full(void)
{
	struct api_restore r;
	struct api_errs e;
	const struct api_restore_spec *s = &r.spec;
	int rc;

	api_errs_init(&e);
	rc = api_restore_parse(api_t_file("restore.json"), &r, &e);
	no_errs(&e, rc, "in-place restore parses");
	ok(s->backup.set, "backupRef");
	is_str(s->backup.ns, "shop", "backupRef namespace default");
	ok(!s->from_path.set, "no fromPath");
	ok(s->target.in_place, "inPlace");
	is_str(s->target.database.name, "orders", "target.databaseRef");
	ok(!s->target.instance.set, "no target.instanceRef");
	is_str(s->confirmation.acknowledge_data_loss, API_DATA_LOSS_ACK,
	    "confirmation");
	is_int(s->active_deadline_seconds, 600, "activeDeadlineSeconds");
	ok(s->postgres.drop_existing, "dropExisting");
	ok(!s->postgres.create_database && !s->postgres.no_owner &&
	    !s->postgres.analyze, "explicit false kept");
	is_str(api_map_get(&s->postgres.role_mapping, "orders_owner"),
	    "orders_owner_new", "roleMapping");
	is_int(s->postgres.jobs, 2, "jobs");
	ok(s->postgres.disable_triggers, "disableTriggers");
	is_int(r.status.progress.percentage, 100, "progress");
	is_int(r.status.warnings.n, 1, "warnings");
	api_restore_release(&r);

	rc = api_restore_parse(api_t_file("restore-frompath.json"), &r, &e);
	no_errs(&e, rc, "fromPath restore parses");
	ok(s->from_path.set && !s->backup.set, "fromPath");
	is_int(s->from_path.storage.type, API_STORAGE_GCS, "gcs");
	is_str(s->from_path.storage.gcs.secret.key, "sa.json", "gcs key");
	is_str(s->from_path.storage.gcs.secret.ns, "shop",
	    "gcs secret namespace default");
	is_str(s->from_path.backup_path, "old/shop-2025.sql.gz", "backupPath");
	ok(s->from_path.compression.enabled, "compression enabled default");
	is_int(s->from_path.compression.level, 6, "level default");
	ok(s->from_path.encryption.set && !s->from_path.encryption.enabled,
	    "encryption off");
	is_str(s->target.instance.ns, "databases", "target instance namespace");
	is_str(s->target.database_name, "shop_legacy", "databaseName");
	is_int(s->active_deadline_seconds, 7200, "deadline default");
	ok(s->mysql.create_database && !s->mysql.routines &&
	    !s->mysql.disable_foreign_key_checks && !s->mysql.disable_binlog,
	    "mysql flags kept");
	is_int(api_restore_check_engine(&r, API_ENGINE_POSTGRES, &e), -1,
	    "mysql options on a postgres target");
	api_restore_release(&r);
	api_errs_release(&e);
}

static void
test_defaults(void)
{
	struct api_restore r;
	struct api_errs e;
	int rc;

	memset(&r, 0, sizeof(r));
	api_errs_init(&e);
	rc = parse(api_t_fmt(BASE, FROM_BACKUP ",'postgres':{},'mysql':{}"), &r,
	    &e);
	no_errs(&e, rc, "empty option blocks");
	ok(r.spec.postgres.create_database && r.spec.postgres.no_owner &&
	    r.spec.postgres.analyze, "postgres defaults true");
	ok(!r.spec.postgres.drop_existing && !r.spec.postgres.data_only,
	    "postgres defaults false");
	is_int(r.spec.postgres.jobs, 1, "jobs 1");
	ok(r.spec.mysql.create_database && r.spec.mysql.routines &&
	    r.spec.mysql.triggers && r.spec.mysql.events &&
	    r.spec.mysql.disable_foreign_key_checks && r.spec.mysql.disable_binlog,
	    "mysql defaults true");
	ok(!r.spec.mysql.drop_existing, "dropExisting false");
	ok(!r.spec.confirmation.set, "no confirmation");
	ok(r.spec.target.database_name == NULL, "databaseName may be empty "
	    "with backupRef");

	rc = parse(api_t_fmt(BASE, "'backupRef':{'name':'b'},'target':"
	    "{'inPlace':true,'instanceRef':{'name':'i'},'databaseName':'x'},"
	    "'confirmation':{'acknowledgeDataLoss':'I-UNDERSTAND-DATA-LOSS'}"),
	    &r, &e);
	no_errs(&e, rc, "in place into an instance by name");
	api_restore_release(&r);
	api_errs_release(&e);
}

static void
test_errors(void)
{
	struct api_restore r;
	struct api_errs e;
	int rc;

	memset(&r, 0, sizeof(r));
	api_errs_init(&e);
	rc = parse(api_t_fmt(BASE, ""), &r, &e);
	nerrs(&e, rc, 2, "source and target required");
	has_err(&e, "spec.backupRef", "either backupRef or fromPath is required");
	has_err(&e, "spec.target", "is required");

	rc = parse(api_t_fmt(BASE, "'backupRef':{'name':'b'},'fromPath':"
	    "{'storage':{'type':'pvc','pvc':{'claimName':'c'}},'backupPath':"
	    "'p'},'target':{}"), &r, &e);
	nerrs(&e, rc, 2, "both sources, empty target");
	has_err(&e, "spec.fromPath", "must not be set together with backupRef");
	has_err(&e, "spec.target.instanceRef", "is required unless "
	    "target.inPlace is true");

	rc = parse(api_t_fmt(BASE, "'backupRef':{'name':'b'},'target':"
	    "{'inPlace':true,'databaseRef':{'name':'d'}}"), &r, &e);
	nerrs(&e, rc, 1, "in place without confirmation");
	has_err(&e, "spec.confirmation.acknowledgeDataLoss",
	    "must be I-UNDERSTAND-DATA-LOSS when target.inPlace is true");

	rc = parse(api_t_fmt(BASE, "'backupRef':{'name':'b'},'target':"
	    "{'inPlace':true},'confirmation':{'acknowledgeDataLoss':'yes'}"),
	    &r, &e);
	nerrs(&e, rc, 2, "wrong confirmation, no target");
	has_err(&e, "spec.confirmation.acknowledgeDataLoss", "must be");
	has_err(&e, "spec.target.databaseRef", "is required when "
	    "target.inPlace is true");

	rc = parse(api_t_fmt(BASE, "'backupRef':{'name':'b'},'target':"
	    "{'instanceRef':{'name':'i'},'databaseRef':{'name':'d'},"
	    "'databaseName':'bad-name'}"), &r, &e);
	nerrs(&e, rc, 2, "databaseRef without inPlace, bad databaseName");
	has_err(&e, "spec.target.databaseRef", "requires target.inPlace: true");
	has_err(&e, "spec.target.databaseName", "must match");

	rc = parse(api_t_fmt(BASE, "'fromPath':{'storage':{'type':'azure',"
	    "'azure':{'container':'c','storageAccount':'a','secretRef':"
	    "{'name':'k'}}},'backupPath':'','encryption':{'enabled':true}},"
	    "'target':{'instanceRef':{'name':'i'}},'activeDeadlineSeconds':-1,"
	    "'postgres':{'jobs':0,'dataOnly':true,'schemaOnly':true,"
	    "'roleMapping':{'a':['b']}},'mysql':{'events':'no'}"), &r, &e);
	nerrs(&e, rc, 8, "fromPath and option rules");
	has_err(&e, "spec.fromPath.backupPath", "must not be empty");
	has_err(&e, "spec.fromPath.encryption.secretRef", "is required when "
	    "enabled");
	has_err(&e, "spec.target.databaseName", "is required when restoring "
	    "fromPath");
	has_err(&e, "spec.activeDeadlineSeconds", "must be >= 1");
	has_err(&e, "spec.postgres.jobs", "must be >= 1");
	has_err(&e, "spec.postgres.schemaOnly", "must not be true together");
	has_err(&e, "spec.postgres.roleMapping[a]", "must be a string");
	has_err(&e, "spec.mysql.events", "must be a boolean");

	rc = parse(api_t_fmt(BASE, "'fromPath':{},'target':{'instanceRef':"
	    "{'name':'i'},'databaseName':'x'},'confirmation':'yes'"), &r, &e);
	nerrs(&e, rc, 3, "fromPath required fields");
	has_err(&e, "spec.fromPath.storage", "is required");
	has_err(&e, "spec.fromPath.backupPath", "is required");
	has_err(&e, "spec.confirmation", "must be an object");

	rc = parse(api_t_fmt(BASE, FROM_BACKUP "},'status':{'phase':'Ready',"
	    "'progress':{'percentage':'50%%'},'warnings':[1]"), &r, &e);
	nerrs(&e, rc, 3, "status rules");
	has_err(&e, "status.phase", "must be one of Pending, Running, "
	    "Completed, Failed");
	has_err(&e, "status.progress.percentage", "must be an integer");
	has_err(&e, "status.warnings[0]", "must be a string");
	api_restore_release(&r);
	api_errs_release(&e);
}

static void
test_status(void)
{
	struct api_restore r, again;
	yajl_val doc = api_t_file("restore.json");
	char *want, *got, *wrapped, *got2;
	struct jw w;

	ok(api_restore_parse(doc, &r, NULL) == 0, "parse for status");
	jw_init(&w);
	jw_value(&w, json_get(doc, "status", NULL));
	want = jw_finish(&w, NULL);
	got = api_t_status_json(api_restore_status_write, &r.status);
	is_str(got, want, "status written exactly as the original JSON");
	wrapped = xasprintf("{\"status\":%s}", got);
	api_restore_parse(api_t_parse(wrapped, strlen(wrapped), "wrapped"),
	    &again, NULL);
	got2 = api_t_status_json(api_restore_status_write, &again.status);
	is_str(got2, got, "round trip stable");
	free(want);
	free(got);
	free(got2);
	free(wrapped);
	api_restore_release(&again);
	api_restore_release(&r);

	memset(&r, 0, sizeof(r));
	r.status.phase = API_PHASE_RUNNING;
	r.status.progress.set = true;
	api_set_str(&r.status.progress.current_phase, "Starting");
	got = api_t_status_json(api_restore_status_write, &r.status);
	is_str(got, "{\"phase\":\"Running\",\"progress\":{\"currentPhase\":"
	    "\"Starting\"}}", "percentage 0 omitted");
	free(got);
	api_restore_release(&r);
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
