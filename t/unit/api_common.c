/* api.h shared pieces: kind table, enums, error list, conditions, refs. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_database.h"
#include "api_test.h"

static void
test_kinds(void)
{
	static const char *const finalizers[API_KIND__COUNT] = {
		"instance", "database", "user", "role", "grant", "backup",
		"restore", "schedule" };
	enum api_kind k;
	int i;

	is_str(api_kind_name(API_INSTANCE), "DatabaseInstance", "kind name");
	is_str(api_kind_plural(API_SCHEDULE), "databasebackupschedules",
	    "plural");
	is_str(api_kind_info(API_RESTORE)->short_name, "dbrestore", "short name");
	is_str(api_kind_info(API_BACKUP)->list_kind, "DatabaseBackupList",
	    "list kind");
	is_str(api_kind_info(API_GRANT)->singular, "databasegrant", "singular");
	for (i = 0; i < API_KIND__COUNT; i++) {
		char *want = xasprintf("dbops.dbprovision.io/%s-protection",
		    finalizers[i]);

		is_str(api_kind_finalizer((enum api_kind)i), want, want);
		free(want);
	}
	ok(api_kind_lookup("dbu", &k) == 0 && k == API_USER, "lookup short");
	ok(api_kind_lookup("Database", &k) == 0 && k == API_DATABASE,
	    "lookup kind");
	ok(api_kind_lookup("databaseroles", &k) == 0 && k == API_ROLE,
	    "lookup plural");
	ok(api_kind_lookup("databases.dbops", &k) == -1, "unknown kind");
	ok(api_kind_lookup(NULL, &k) == -1, "NULL kind");

	is_int(api_enum_lookup(api_my_gtid_purged_names, API_MY_GTID__COUNT,
	    "OFF"), API_MY_GTID_OFF, "enum lookup");
	is_int(api_enum_lookup(api_my_gtid_purged_names, API_MY_GTID__COUNT,
	    "off"), 0, "enum lookup is case-sensitive");
	is_int(api_enum_lookup(api_my_gtid_purged_names, API_MY_GTID__COUNT,
	    ""), 0, "empty string is no value");
	is_str(api_phase_names[API_PHASE_COMPLETED], "Completed", "phase name");
	is_str(api_engine_names[API_ENGINE_NONE], "", "names[0] is empty");
}

/* Well-formed UTF-8 (structure only: lead bytes and continuations). */
static bool
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 :
		    (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;

		if (n < 0)
			return false;
		for (p++; n > 0; n--, p++)
			if ((*p & 0xc0) != 0x80)
				return false;
	}
	return true;
}

static void
test_errs(void)
{
	struct api_errs e;
	char *s;
	int i;

	api_errs_init(&e);
	s = api_errs_join(&e, 0);
	is_str(s, "", "no errors: empty line");
	free(s);
	api_errs_add(&e, "spec.a", "must be %d", 1);
	api_errs_add(&e, "", "must be a JSON object");
	api_errs_add(&e, "spec.b", "bad\nvalue\t\"x\"");
	s = api_errs_join(&e, 0);
	is_str(s, "spec.a: must be 1; must be a JSON object; spec.b: bad value "
	    "\"x\"", "joined on one line, control characters blanked");
	free(s);
	s = api_errs_join(&e, 10);
	is_str(s, "spec.a:...", "cut to max bytes");
	free(s);
	api_errs_release(&e);

	api_errs_add(&e, "p", "\xe2\x82\xac\xc3\xa9\xe2\x82\xac\xc3\xa9");
	for (i = 0; i < 16; i++) {
		s = api_errs_join(&e, (size_t)i + 1);
		if (!ok(strlen(s) <= (size_t)i + 1 && utf8_valid(s),
		    "never cut inside a UTF-8 sequence"))
			diag("max %d: '%s'", i + 1, s);
		free(s);
	}
	api_errs_release(&e);

	for (i = 0; i < API_ERRS_MAX + 5; i++)
		api_errs_add(&e, "x", "e%d", i);
	is_int(e.n, API_ERRS_MAX, "list is capped");
	is_int(api_errs_count(&e), API_ERRS_MAX + 5, "the rest is counted");
	s = api_errs_join(&e, 0);
	ok(strstr(s, " (and 5 more)") != NULL, "dropped errors mentioned");
	free(s);
	is_str(api_errs_find(&e, "x"), "e0", "find returns the first");
	ok(api_errs_find(&e, "y") == NULL, "find misses");
	api_errs_release(&e);
}

static void
test_conditions(void)
{
	struct api_conditions c = { NULL, 0 };
	const struct api_condition *r;

	ok(api_conditions_set(&c, "Ready", API_COND_FALSE, "Pending", "wait",
	    0, 100), "append");
	ok(api_conditions_set(&c, "Connected", API_COND_TRUE, "Connected",
	    "ok", 0, 100), "append second");
	ok(!api_conditions_set(&c, "Ready", API_COND_FALSE, "Pending", "wait",
	    0, 200), "identical: unchanged");
	r = api_conditions_get(&c, "Ready");
	is_int(r->last_transition_time, 100, "time kept when unchanged");
	ok(api_conditions_set(&c, "Ready", API_COND_FALSE, "Pending",
	    "still waiting", 0, 300), "message change replaces");
	is_int(r->last_transition_time, 300, "message change moves the time");
	ok(api_conditions_set(&c, "Ready", API_COND_FALSE, "Pending",
	    "still waiting", 7, 400), "generation change");
	is_int(r->last_transition_time, 300, "generation alone keeps the time");
	is_int(r->observed_generation, 7, "generation stored");
	ok(api_conditions_set(&c, "Ready", API_COND_TRUE, "ReconcileSuccess",
	    NULL, 7, 500), "status change");
	is_str(r->message, "", "NULL message stored as empty");
	is_int(c.n, 2, "still two entries");
	ok(api_conditions_remove(&c, "Connected"), "remove");
	ok(!api_conditions_remove(&c, "Connected"), "remove again");
	ok(api_conditions_get(&c, "Connected") == NULL, "gone");
	is_str(api_conditions_get(&c, "Ready")->reason, "ReconcileSuccess",
	    "other entry intact");
	api_conditions_release(&c);
	is_int(c.n, 0, "released");
}

static void
test_refs_and_meta(void)
{
	struct api_database db;
	struct api_errs e;
	int rc;

	api_errs_init(&e);
	rc = api_database_parse(J("{'metadata':{'name':'d','namespace':'a',"
	    "'deletionTimestamp':'2026-01-06T10:00:00.5+01:00','annotations':"
	    "{'dbops.dbprovision.io/skip-reconcile':'true'},'ownerReferences':"
	    "[{'kind':'X','name':'x','controller':false},5]},"
	    "'spec':{'instanceRef':{'name':'i','namespace':'b'},'name':'d'}}"),
	    &db, &e);
	nerrs(&e, rc, 1, "one bad owner reference");
	has_err(&e, "metadata.ownerReferences[1]", "must be an object");
	ok(db.meta.deleting, "deleting");
	is_int(db.meta.deletion_timestamp, 1767690000,
	    "offset and fraction handled");
	ok(db.meta.skip_reconcile, "skip-reconcile");
	ok(!db.meta.force_delete, "no force-delete");
	is_int(db.meta.n_owners, 2, "owner refs kept by index");
	ok(api_meta_controller(&db.meta) == NULL, "no controller owner");
	is_str(db.spec.instance.ns, "b", "cross-namespace ref");
	api_database_release(&db);
	api_errs_release(&e);

	rc = api_database_parse(J("{'metadata':{'annotations':"
	    "{'dbops.dbprovision.io/pause-reconcile':'True'}},'spec':{"
	    "'instanceRef':{'name':'i'},'name':'d'}}"), &db, &e);
	ok(rc == 0 && !db.meta.skip_reconcile, "pause-reconcile is exact 'true'");
	ok(db.spec.instance.ns == NULL, "no namespace anywhere: NULL");
	api_database_release(&db);

	rc = api_database_parse(api_t_fmt("{'metadata':{'labels':{'%0300d':1}},"
	    "'spec':{'instanceRef':{'name':'i'},'name':'d'}}", 7), &db, &e);
	is_int(rc, -1, "bad label value");
	ok(e.n == 1 && strlen(e.v[0].path) < 200 &&
	    strstr(e.v[0].path, "...]") != NULL, "long map keys cut in paths");
	api_database_release(&db);
	api_errs_release(&e);
}

int
main(void)
{
	test_kinds();
	test_errs();
	test_conditions();
	test_refs_and_meta();
	api_t_done();
	return done_testing();
}
