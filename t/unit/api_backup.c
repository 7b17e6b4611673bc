/* DatabaseBackup: parse, defaults, storage rules, status round trip. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_backup.h"
#include "api_test.h"

#define BASE "{'metadata':{'name':'b','namespace':'shop'},'spec':{" \
	"'databaseRef':{'name':'orders'},'storage':%s%s}}"
#define PVC "{'type':'pvc','pvc':{'claimName':'c'}}"

static int
parse(yajl_val v, struct api_backup *b, struct api_errs *e)
{
	api_errs_release(e);
	api_backup_release(b);
	return api_backup_parse(v, b, e);
}

static void
test_full(void)
{
	struct api_backup b;
	struct api_errs e;
	const struct api_backup_spec *s = &b.spec;
	int rc;

	api_errs_init(&e);
	rc = api_backup_parse(api_t_file("backup.json"), &b, &e);
	no_errs(&e, rc, "full backup parses");
	is_str(api_map_get(&b.meta.labels, API_LABEL_SCHEDULE), "orders-nightly",
	    "schedule label");
	ok(api_meta_controller(&b.meta) != NULL, "controller owner");
	is_str(api_meta_controller(&b.meta)->kind, "DatabaseBackupSchedule",
	    "owner kind");
	ok(api_meta_controller(&b.meta)->block_owner_deletion,
	    "blockOwnerDeletion");
	is_str(s->database.ns, "shop", "databaseRef namespace default");
	is_int(s->storage.type, API_STORAGE_S3, "storage type");
	is_str(s->storage.s3.bucket, "backups", "bucket");
	is_str(s->storage.s3.region, "eu-central-1", "region");
	is_str(s->storage.s3.endpoint, "http://minio.minio.svc:9000", "endpoint");
	ok(s->storage.s3.force_path_style, "forcePathStyle");
	is_str(s->storage.s3.secret.name, "s3-creds", "s3 secret");
	is_str(s->storage.s3.secret.ns, "shop", "s3 secret in own namespace");
	is_str(s->storage.s3.secret.access_key, "id", "accessKey");
	is_str(s->storage.s3.secret.secret_key, "secret", "secretKey");
	ok(s->compression.enabled, "compression");
	is_int(s->compression.algorithm, API_COMPRESSION_ZSTD, "zstd");
	is_int(s->compression.level, 3, "level");
	ok(s->encryption.enabled, "encryption");
	is_int(s->encryption.algorithm, API_ENCRYPTION_AES_256_CBC, "cbc");
	is_str(s->encryption.secret.ns, "vault", "key in another namespace");
	is_str(s->encryption.secret.key, "key", "key name");
	is_str(s->ttl, "168h", "ttl");
	is_int(s->active_deadline_seconds, 1800, "activeDeadlineSeconds");
	is_int(s->postgres.format, API_PG_FORMAT_DIRECTORY, "format");
	is_int(s->postgres.jobs, 4, "jobs");
	ok(!s->postgres.blobs, "blobs false kept");
	ok(s->postgres.no_owner && s->postgres.no_privileges && s->postgres.no_sync,
	    "flags");
	is_str(s->postgres.exclude_tables.v[0], "app.tmp_*", "excludeTables");
	is_str(s->postgres.lock_wait_timeout, "2min", "lockWaitTimeout");
	is_int(b.status.backup.compressed_size_bytes, 20971520,
	    "compressedSizeBytes");
	is_str(b.status.source.engine, "postgres", "source engine");
	is_int(b.status.expires_at - b.status.completed_at, 7 * 86400,
	    "expiresAt");
	api_backup_release(&b);

	rc = api_backup_parse(api_t_file("backup-mysql.json"), &b, &e);
	no_errs(&e, rc, "mysql backup parses");
	is_int(s->storage.type, API_STORAGE_PVC, "pvc");
	is_str(s->storage.pvc.sub_path, "mysql", "subPath");
	ok(!s->compression.set && !s->encryption.set, "no compression block");
	is_int(s->active_deadline_seconds, 3600, "activeDeadlineSeconds default");
	ok(!s->mysql.single_transaction && !s->mysql.quick && !s->mysql.routines &&
	    !s->mysql.triggers && !s->mysql.events && !s->mysql.extended_insert,
	    "explicit false dump flags kept");
	ok(s->mysql.lock_tables, "lockTables");
	is_int(s->mysql.set_gtid_purged, API_MY_GTID_OFF, "setGtidPurged OFF");
	is_int(api_backup_check_engine(&b, API_ENGINE_MYSQL, &e), 0,
	    "mysql engine matches");
	api_backup_release(&b);
	api_errs_release(&e);
}

static void
test_defaults(void)
{
	struct api_backup b;
	struct api_errs e;
	int rc;

	memset(&b, 0, sizeof(b));
	api_errs_init(&e);
	rc = parse(api_t_fmt(BASE, "{'type':'s3','s3':{'bucket':'b',"
	    "'region':'r','secretRef':{'name':'s','keys':{}}}}",
	    ",'compression':{},'encryption':{},'postgres':{},'mysql':{}"),
	    &b, &e);
	no_errs(&e, rc, "empty blocks");
	is_str(b.spec.storage.s3.secret.access_key, "AWS_ACCESS_KEY_ID",
	    "accessKey default");
	is_str(b.spec.storage.s3.secret.secret_key, "AWS_SECRET_ACCESS_KEY",
	    "secretKey default");
	ok(b.spec.compression.enabled, "compression.enabled default");
	is_int(b.spec.compression.algorithm, API_COMPRESSION_GZIP, "gzip");
	is_int(b.spec.compression.level, 6, "level 6");
	ok(!b.spec.encryption.enabled, "encryption off");
	is_int(b.spec.encryption.algorithm, API_ENCRYPTION_AES_256_GCM, "gcm");
	is_int(b.spec.postgres.method, API_PG_METHOD_PG_DUMP, "pg_dump");
	is_int(b.spec.postgres.format, API_PG_FORMAT_CUSTOM, "custom");
	is_int(b.spec.postgres.jobs, 1, "jobs 1");
	ok(b.spec.postgres.blobs, "blobs true");
	is_str(b.spec.postgres.lock_wait_timeout, "60s", "lockWaitTimeout");
	is_int(b.spec.mysql.method, API_MY_METHOD_MYSQLDUMP, "mysqldump");
	ok(b.spec.mysql.single_transaction && b.spec.mysql.quick &&
	    b.spec.mysql.routines && b.spec.mysql.triggers &&
	    b.spec.mysql.events && b.spec.mysql.extended_insert,
	    "dump flags default true");
	ok(!b.spec.mysql.lock_tables, "lockTables false");
	is_int(b.spec.mysql.set_gtid_purged, API_MY_GTID_AUTO, "AUTO");
	ok(b.spec.ttl == NULL, "no ttl");

	rc = parse(api_t_fmt(BASE, PVC, ",'compression':{'enabled':false,"
	    "'level':1},'ttl':'0'"), &b, &e);
	no_errs(&e, rc, "explicit false compression");
	ok(b.spec.compression.set && !b.spec.compression.enabled,
	    "compression.enabled false kept");
	is_int(b.spec.compression.level, 1, "level 1");
	is_str(b.spec.ttl, "0", "ttl 0");
	api_backup_release(&b);
	api_errs_release(&e);
}

static void
test_errors(void)
{
	struct api_backup b;
	struct api_errs e;
	int rc;

	memset(&b, 0, sizeof(b));
	api_errs_init(&e);
	rc = parse(J("{'spec':{}}"), &b, &e);
	nerrs(&e, rc, 2, "required refs");
	has_err(&e, "spec.databaseRef", "is required");
	has_err(&e, "spec.storage", "is required");

	rc = parse(api_t_fmt(BASE, "{'type':'s3','gcs':{'bucket':'b',"
	    "'secretRef':{'name':'s','key':'k'}}}", ""), &b, &e);
	nerrs(&e, rc, 2, "storage block must match type");
	has_err(&e, "spec.storage.s3", "is required when type is s3");
	has_err(&e, "spec.storage.gcs", "must not be set when type is s3");

	rc = parse(api_t_fmt(BASE, "{'type':'ftp','pvc':{}}", ""), &b, &e);
	nerrs(&e, rc, 2, "storage type enum");
	has_err(&e, "spec.storage.type", "must be one of gcs, s3, azure, pvc");
	has_err(&e, "spec.storage.pvc.claimName", "is required");

	rc = parse(api_t_fmt(BASE, "{'s3':{'prefix':1,'secretRef':{'keys':[]}},"
	    "'azure':{'secretRef':{}}}", ""), &b, &e);
	nerrs(&e, rc, 9, "storage required fields");
	has_err(&e, "spec.storage.type", "is required");
	has_err(&e, "spec.storage.s3.bucket", "is required");
	has_err(&e, "spec.storage.s3.region", "is required");
	has_err(&e, "spec.storage.s3.prefix", "must be a string");
	has_err(&e, "spec.storage.s3.secretRef.name", "is required");
	has_err(&e, "spec.storage.s3.secretRef.keys", "must be an object");
	has_err(&e, "spec.storage.azure.container", "is required");
	has_err(&e, "spec.storage.azure.storageAccount", "is required");
	has_err(&e, "spec.storage.azure.secretRef.name", "is required");

	rc = parse(api_t_fmt(BASE, PVC, ",'compression':{'algorithm':'none',"
	    "'level':10},'encryption':{'enabled':true,'algorithm':'aes-128-gcm'},"
	    "'ttl':'7d','activeDeadlineSeconds':0"), &b, &e);
	nerrs(&e, rc, 6, "compression, encryption, ttl, deadline");
	has_err(&e, "spec.compression.algorithm", "must be one of gzip, lz4, zstd");
	has_err(&e, "spec.compression.level", "must be <= 9");
	has_err(&e, "spec.encryption.algorithm",
	    "must be one of aes-256-gcm, aes-256-cbc");
	has_err(&e, "spec.encryption.secretRef", "is required when enabled");
	has_err(&e, "spec.ttl", "must be a Go duration");
	has_err(&e, "spec.activeDeadlineSeconds", "must be >= 1");

	rc = parse(api_t_fmt(BASE, PVC, ",'ttl':'-1h','postgres':{'method':"
	    "'pg_basebackup','format':'sql','jobs':0,'dataOnly':true,"
	    "'schemaOnly':true},'mysql':{'method':'xtrabackup','setGtidPurged':"
	    "'off','tables':'t'}"), &b, &e);
	nerrs(&e, rc, 8, "dump option rules");
	has_err(&e, "spec.ttl", "must not be negative");
	has_err(&e, "spec.postgres.method", "pg_basebackup is not supported");
	has_err(&e, "spec.postgres.format", "must be one of plain, custom, "
	    "directory, tar");
	has_err(&e, "spec.postgres.jobs", "must be >= 1");
	has_err(&e, "spec.postgres.schemaOnly", "must not be true together "
	    "with dataOnly");
	has_err(&e, "spec.mysql.method", "xtrabackup is not supported");
	has_err(&e, "spec.mysql.setGtidPurged", "must be one of OFF, ON, AUTO");
	has_err(&e, "spec.mysql.tables", "must be an array");

	rc = parse(api_t_fmt(BASE, PVC, ",'postgres':{'format':'custom',"
	    "'jobs':4}"), &b, &e);
	nerrs(&e, rc, 1, "jobs needs directory format");
	has_err(&e, "spec.postgres.jobs", "must be 1 unless format is directory");
	is_int(api_backup_check_engine(&b, API_ENGINE_MYSQL, &e), -1,
	    "postgres block on a mysql database");

	rc = parse(api_t_fmt(BASE, PVC, "},'status':{'phase':'Deleting',"
	    "'expiresAt':1767690000,'backup':{'sizeBytes':-1}"), &b, &e);
	nerrs(&e, rc, 2, "status rules");
	has_err(&e, "status.phase", "must be one of Pending, Running, "
	    "Completed, Failed");
	has_err(&e, "status.expiresAt", "must be a string");
	is_int(b.status.backup.size_bytes, -1, "status ints have no minimum");
	api_backup_release(&b);
	api_errs_release(&e);
}

static void
test_status(void)
{
	struct api_backup b, again;
	yajl_val doc = api_t_file("backup.json");
	char *want, *got, *wrapped, *got2;
	struct jw w;

	ok(api_backup_parse(doc, &b, NULL) == 0, "parse for status");
	jw_init(&w);
	jw_value(&w, json_get(doc, "status", NULL));
	want = jw_finish(&w, NULL);
	got = api_t_status_json(api_backup_status_write, &b.status);
	is_str(got, want, "status written exactly as the original JSON");
	wrapped = xasprintf("{\"status\":%s}", got);
	api_backup_parse(api_t_parse(wrapped, strlen(wrapped), "wrapped"),
	    &again, NULL);
	got2 = api_t_status_json(api_backup_status_write, &again.status);
	is_str(got2, got, "round trip stable");
	is_str(again.status.backup.path, b.status.backup.path, "path survives");
	free(want);
	free(got);
	free(got2);
	free(wrapped);
	api_backup_release(&again);
	api_backup_release(&b);

	memset(&b, 0, sizeof(b));
	b.status.phase = API_PHASE_COMPLETED;
	b.status.backup.set = true;
	b.status.backup.size_bytes = 42;
	got = api_t_status_json(api_backup_status_write, &b.status);
	is_str(got, "{\"phase\":\"Completed\",\"backup\":{\"sizeBytes\":42}}",
	    "compressedSizeBytes 0 and empty checksum omitted");
	free(got);
	api_backup_release(&b);
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
