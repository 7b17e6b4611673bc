/*
 * api_text.c - strings that are not clean text never pass the parsers.
 *
 * For every example manifest in t/data/api and every string in its spec
 * (values and keys, known fields or not), three variants are parsed by
 * the kind's parser: the string with an embedded NUL ("x\u0000y"), with
 * a lone surrogate (invalid UTF-8), and with a raw invalid byte. Each
 * must be refused with an error at exactly that field's path, and the
 * untouched manifest must still parse. A NUL once truncated a name past
 * validation ("accept_canary\u0000x" read as "accept_canary").
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
#include "api_test.h"
#include "api_user.h"
#include "buf.h"
#include "json.h"

#define PARSER(k)							\
static int								\
parse_##k(yajl_val v, struct api_errs *e)				\
{									\
	struct api_##k a;						\
	int rc = api_##k##_parse(v, &a, e);				\
									\
	api_##k##_release(&a);						\
	return rc;							\
}
PARSER(instance)
PARSER(database)
PARSER(user)
PARSER(role)
PARSER(grant)
PARSER(backup)
PARSER(restore)
PARSER(schedule)

static const struct {
	const char *file;
	int (*parse)(yajl_val, struct api_errs *);
} manifests[] = {
	{ "instance.json", parse_instance },
	{ "database.json", parse_database },
	{ "user.json", parse_user },
	{ "user-mysql.json", parse_user },
	{ "role.json", parse_role },
	{ "role-mysql.json", parse_role },
	{ "grant.json", parse_grant },
	{ "backup.json", parse_backup },
	{ "backup-mysql.json", parse_backup },
	{ "restore.json", parse_restore },
	{ "restore-frompath.json", parse_restore },
	{ "schedule.json", parse_schedule },
};

enum variant { V_NUL, V_SURROGATE, V_RAW, V__COUNT };

/* The mutation target: the n-th string (value or key) met in document
 * order under "spec", and what to do to it. */
struct target {
	long n;			/* countdown; -1 when found */
	bool key;		/* the target is a key */
	enum variant how;
	char path[512];		/* the reader's path of the target */
};

static bool
field_name(const char *k)
{
	const char *p;

	for (p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
	return *k != '\0';
}

static void
mutated(struct jw *w, const char *s, enum variant how, bool key)
{
	struct buf b = BUF_INIT(0);

	if (buf_puts(&b, s) < 0)
		abort();
	switch (how) {
	case V_NUL:
		if (buf_append(&b, "\0tail", 5) < 0)
			abort();
		break;
	case V_SURROGATE:	/* what yajl makes of "\udc00" */
		if (buf_append(&b, "\xed\xb0\x80", 3) < 0)
			abort();
		break;
	default:
		if (buf_append(&b, "\xff", 1) < 0)
			abort();
		break;
	}
	if (key)
		yajl_gen_string(w->g, (const unsigned char *)b.data, b.len);
	else
		jw_strn(w, b.data, b.len);
	buf_release(&b);
}

/* Writes v, mutating the target when inside spec. path is the reader's
 * path of v. */
static void
emit(struct jw *w, yajl_val v, bool in_spec, struct target *t,
    const char *path)
{
	char sub[512];
	size_t i;

	if (YAJL_IS_STRING(v)) {
		if (in_spec && t->n >= 0 && !t->key && t->n-- == 0) {
			t->n = -1;
			snprintf(t->path, sizeof(t->path), "%s", path);
			mutated(w, v->u.string, t->how, false);
		} else {
			jw_str(w, v->u.string);
		}
	} else if (YAJL_IS_ARRAY(v)) {
		jw_arr_open(w);
		for (i = 0; i < v->u.array.len; i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			emit(w, v->u.array.values[i], in_spec, t, sub);
		}
		jw_arr_close(w);
	} else if (YAJL_IS_OBJECT(v)) {
		jw_obj_open(w);
		for (i = 0; i < v->u.object.len; i++) {
			const char *k = v->u.object.keys[i];
			bool spec = in_spec || (path[0] == '\0' &&
			    strcmp(k, "spec") == 0);

			if (field_name(k))
				snprintf(sub, sizeof(sub), "%s%s%s", path,
				    path[0] ? "." : "", k);
			else
				snprintf(sub, sizeof(sub), "%s[%s]", path, k);
			if (in_spec && t->n >= 0 && t->key && t->n-- == 0) {
				t->n = -1;
				/* A bad key is shown escaped in the path;
				 * match its clean prefix only. */
				snprintf(t->path, sizeof(t->path), "%s[%s",
				    path, k);
				mutated(w, k, t->how, true);
			} else {
				jw_key(w, k);
			}
			emit(w, v->u.object.values[i], spec, t, sub);
		}
		jw_obj_close(w);
	} else {
		jw_value(w, v);
	}
}

static const char *const expect[V__COUNT] = {
	"contains a NUL byte", "is not valid UTF-8", "is not valid UTF-8",
};

/* An error whose path starts with prefix (keys) or equals it (values)
 * and whose message has the words. */
static bool
found(const struct api_errs *e, const char *path, bool prefix,
    const char *words)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		bool at = prefix ? str_has_prefix(e->v[i].path, path) :
		    strcmp(e->v[i].path, path) == 0;

		if (at && strstr(e->v[i].msg, words) != NULL)
			return true;
	}
	return false;
}

int
main(void)
{
	size_t f;
	long total = 0, refused = 0;
	bool all = true;

	for (f = 0; f < sizeof(manifests) / sizeof(manifests[0]); f++) {
		yajl_val doc = api_t_file(manifests[f].file);
		struct api_errs e;
		long n;
		int key, how;
		char name[256];

		api_errs_init(&e);
		snprintf(name, sizeof(name), "%s parses as it is",
		    manifests[f].file);
		no_errs(&e, manifests[f].parse(doc, &e), name);
		api_errs_release(&e);

		for (key = 0; key < 2; key++)
		for (how = 0; how < V__COUNT; how++)
		for (n = 0;; n++) {
			struct target t = { n, key, (enum variant)how, "" };
			struct jw w;
			char err[256], *text;
			size_t len;
			yajl_val v;
			int rc;

			jw_init(&w);
			emit(&w, doc, false, &t, "");
			text = jw_finish(&w, &len);
			if (t.n != -1) {	/* no n-th string: done */
				free(text);
				break;
			}
			v = json_parse(text, len, err, sizeof(err));
			free(text);
			total++;
			api_errs_init(&e);
			rc = v ? manifests[f].parse(v, &e) : 0;
			if (v != NULL && rc == -1 &&
			    found(&e, t.path, key, expect[how])) {
				refused++;
			} else {
				all = false;
				diag("%s: %s %s (variant %d) not refused "
				    "(rc %d)", manifests[f].file,
				    key ? "key" : "value", t.path, how, rc);
				api_t_dump(&e);
			}
			api_errs_release(&e);
			json_free(v);
		}
	}
	ok(all, "every spec string and key with a NUL or invalid UTF-8 is "
	    "refused at its path");
	ok(total > 300, "the table is not empty");
	diag("%ld variants, %ld refused", total, refused);
	is_int(refused, total, "refused count");

	/* The case that once dropped another database, the identity, and
	 * dbprovd's own annotations; other tools' annotations are not
	 * dbprovd's business. */
	{
		static const char *const doc =
		    "{'apiVersion':'dbops.dbprovision.io/v1alpha1',"
		    "'kind':'Database','metadata':{'name':'a','namespace':'n',"
		    "'annotations':{'dbops.dbprovision.io/skip-reconcile':"
		    "'true\\u0000','other.example/x':'\\u0000'}},"
		    "'spec':{'name':'accept_canary\\u0000x','instanceRef':"
		    "{'name':'i\\udc00'}}}";
		struct api_database db;
		struct api_errs e;
		int rc;

		api_errs_init(&e);
		rc = api_database_parse(J(doc), &db, &e);
		is_int(rc, -1, "hostile Database refused");
		has_err(&e, "spec.name", "contains a NUL byte");
		has_err(&e, "spec.instanceRef.name", "is not valid UTF-8");
		has_err(&e,
		    "metadata.annotations[dbops.dbprovision.io/skip-reconcile]",
		    "contains a NUL byte");
		ok(api_errs_find(&e, "metadata.annotations[other.example/x]") ==
		    NULL, "a foreign annotation is not checked");
		ok(db.spec.name == NULL || strcmp(db.spec.name, "accept_canary"),
		    "the truncated name is never produced");
		ok(!db.meta.skip_reconcile, "a NUL-cut annotation is not read");
		api_database_release(&db);
		api_errs_release(&e);
	}
	api_t_done();
	return done_testing();
}
