/*
 * apicheck - runs the C parser of a kind on one JSON object read from
 * stdin and prints what it made of it, for t/api/examples.t:
 *
 *   OK <Kind> {"summary":...}      valid; a few parsed values, defaults
 *                                   applied, as JSON
 *   ERR <path>: <message>          one line per validation error
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_backup.h"
#include "api_database.h"
#include "api_grant.h"
#include "api_instance.h"
#include "api_restore.h"
#include "api_role.h"
#include "api_schedule.h"
#include "api_user.h"
#include "buf.h"
#include "json.h"

static void
w_ref(struct jw *w, const char *key, const struct api_ref *r)
{
	jw_key(w, key);
	if (!r->set) {
		jw_null(w);
		return;
	}
	jw_obj_open(w);
	jw_kstr(w, "name", r->name);
	jw_kstr(w, "namespace", r->ns);
	jw_obj_close(w);
}

static void
w_backup_spec(struct jw *w, const struct api_backup_spec *s)
{
	w_ref(w, "databaseRef", &s->database);
	jw_kstr(w, "storageType", api_storage_type_names[s->storage.type]);
	jw_kbool(w, "compressionEnabled", s->compression.enabled);
	jw_kstr(w, "compressionAlgorithm",
	    api_compression_algo_names[s->compression.algorithm]);
	jw_kint(w, "compressionLevel", s->compression.level);
	jw_kbool(w, "encryptionEnabled", s->encryption.enabled);
	jw_kint(w, "activeDeadlineSeconds", s->active_deadline_seconds);
}

static int
check(enum api_kind kind, yajl_val obj, struct api_errs *errs, struct jw *w)
{
	int rc = -1;

	jw_obj_open(w);
	switch (kind) {
	case API_INSTANCE: {
		struct api_instance x;
		rc = api_instance_parse(obj, &x, errs);
		jw_kstr(w, "engine", api_engine_names[x.spec.engine]);
		jw_kstr(w, "host", x.spec.connection.host);
		jw_kint(w, "port", x.spec.connection.port);
		jw_kstr(w, "secretName", x.spec.connection.secret.name);
		jw_kstr(w, "usernameKey", x.spec.connection.secret.username_key);
		api_instance_release(&x);
		break;
	}
	case API_DATABASE: {
		struct api_database x;
		rc = api_database_parse(obj, &x, errs);
		w_ref(w, "instanceRef", &x.spec.instance);
		jw_kstr(w, "name", x.spec.name);
		jw_kstr(w, "deletionPolicy",
		    api_deletion_policy_names[x.spec.deletion_policy]);
		jw_kbool(w, "deletionProtection", x.spec.deletion_protection);
		api_database_release(&x);
		break;
	}
	case API_USER: {
		struct api_user x;
		rc = api_user_parse(obj, &x, errs);
		w_ref(w, "instanceRef", &x.spec.instance);
		jw_kstr(w, "username", x.spec.username);
		api_user_release(&x);
		break;
	}
	case API_ROLE: {
		struct api_role x;
		rc = api_role_parse(obj, &x, errs);
		w_ref(w, "instanceRef", &x.spec.instance);
		jw_kstr(w, "roleName", x.spec.role_name);
		api_role_release(&x);
		break;
	}
	case API_GRANT: {
		struct api_grant x;
		rc = api_grant_parse(obj, &x, errs);
		w_ref(w, "userRef", &x.spec.user);
		w_ref(w, "databaseRef", &x.spec.database);
		api_grant_release(&x);
		break;
	}
	case API_BACKUP: {
		struct api_backup x;
		rc = api_backup_parse(obj, &x, errs);
		w_backup_spec(w, &x.spec);
		api_backup_release(&x);
		break;
	}
	case API_RESTORE: {
		struct api_restore x;
		rc = api_restore_parse(obj, &x, errs);
		w_ref(w, "backupRef", &x.spec.backup);
		jw_kbool(w, "fromPath", x.spec.from_path.set);
		w_ref(w, "targetInstanceRef", &x.spec.target.instance);
		jw_kbool(w, "inPlace", x.spec.target.in_place);
		jw_kint(w, "activeDeadlineSeconds", x.spec.active_deadline_seconds);
		api_restore_release(&x);
		break;
	}
	case API_SCHEDULE: {
		struct api_schedule x;
		rc = api_schedule_parse(obj, &x, errs);
		jw_kstr(w, "schedule", x.spec.schedule);
		jw_kstr(w, "timezone", x.spec.timezone);
		jw_kbool(w, "paused", x.spec.paused);
		jw_kstr(w, "concurrencyPolicy",
		    api_concurrency_names[x.spec.concurrency_policy]);
		jw_kint(w, "successfulBackupsHistoryLimit",
		    x.spec.successful_backups_history_limit);
		jw_kint(w, "failedBackupsHistoryLimit",
		    x.spec.failed_backups_history_limit);
		jw_key(w, "template");
		jw_obj_open(w);
		w_backup_spec(w, &x.spec.template_.spec);
		jw_obj_close(w);
		api_schedule_release(&x);
		break;
	}
	default:
		break;
	}
	jw_obj_close(w);
	return rc;
}

int
main(void)
{
	struct buf in = BUF_INIT(16u << 20);
	char chunk[4096], err[256];
	size_t n;
	yajl_val obj;
	enum api_kind kind;
	struct api_errs errs;
	struct jw w;
	size_t i;
	int rc;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (buf_append(&in, chunk, n) < 0)
			return 2;
	obj = json_parse(in.data ? in.data : "", in.len, err, sizeof(err));
	buf_release(&in);
	if (obj == NULL) {
		printf("ERR (json): %s\n", err);
		return 1;
	}
	if (api_kind_lookup(json_gets(obj, "kind") ? json_gets(obj, "kind") : "",
	    &kind) < 0) {
		printf("ERR kind: unknown kind\n");
		json_free(obj);
		return 1;
	}
	api_errs_init(&errs);
	jw_init(&w);
	rc = check(kind, obj, &errs, &w);
	if (rc == 0) {
		printf("OK %s %s\n", api_kind_name(kind), jw_text(&w, NULL));
	} else {
		for (i = 0; i < errs.n; i++)
			printf("ERR %s: %s\n", errs.v[i].path, errs.v[i].msg);
	}
	jw_release(&w);
	api_errs_release(&errs);
	json_free(obj);
	return rc == 0 ? 0 : 1;
}
