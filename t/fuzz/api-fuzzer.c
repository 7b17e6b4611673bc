/*
 * api-fuzzer.c - libFuzzer target for the typed API model: the input is
 * parsed as JSON and handed to every kind's parser. Each parse must keep
 * its contract (rc -1 exactly when errors were reported, one-line error
 * text), the status must survive write -> parse -> write unchanged, every
 * engine check must run, and everything must be released (LeakSanitizer).
 * Strings keep their length: every string and key of the tree reads as
 * long as it decoded unless the tree marks it as holding a NUL, and a
 * document with a NUL byte or invalid UTF-8 anywhere in its spec or its
 * identity is refused by every kind's parser (never used cut short).
 *
 * Built with `./configure --enable-fuzzing CC=clang` as t/fuzz/api-fuzzer;
 * t/unit/api_fuzz_replay.t links the same function to replay the corpus
 * (t/fuzz/corpus/api/) in the normal test run.
 */
#include "config.h"

#include <stdint.h>
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
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what, const char *detail)
{
	fprintf(stderr, "api-fuzzer: %s: %s\n", what, detail ? detail : "");
	abort();
}

static void
check_errs(const char *kind, int rc, const struct api_errs *e)
{
	char *line;

	if ((rc == 0) != (api_errs_count(e) == 0))
		fail(kind, "return code disagrees with the error list");
	if (rc != 0 && rc != -1)
		fail(kind, "return code not 0 or -1");
	line = api_errs_join(e, 0);
	if (strchr(line, '\n') != NULL || strlen(line) > 32768)
		fail(kind, "error line not a single bounded line");
	free(line);
}

/* The status written from text1 must be read back and written again
 * byte for byte. */
static void
check_stable(const char *kind, const char *text1, const char *text2)
{
	if (strcmp(text1, text2) != 0) {
		fprintf(stderr, "first:  %s\nsecond: %s\n", text1, text2);
		fail(kind, "status write/parse/write not stable");
	}
}

static yajl_val
wrap_status(const char *kind, const char *status)
{
	char *doc = xasprintf("{\"status\":%s}", status);
	char err[128];
	yajl_val v = json_parse(doc, strlen(doc), err, sizeof(err));

	if (v == NULL)
		fail(kind, err);
	free(doc);
	return v;
}

/* One function per kind; `engine` says whether the kind has a
 * _check_engine function. */
#define FUZZ_KIND(k, has_engine)					\
static int								\
fuzz_##k(yajl_val v)							\
{									\
	struct api_##k a, b;						\
	struct api_errs e;						\
	struct jw w;							\
	char *s1, *s2;							\
	yajl_val again;							\
	int rc, rc0, eng;						\
									\
	api_errs_init(&e);						\
	rc0 = rc = api_##k##_parse(v, &a, &e);				\
	check_errs(#k, rc, &e);						\
	api_errs_release(&e);						\
	for (eng = 0; has_engine && eng < API_ENGINE__COUNT; eng++) {	\
		rc = api_##k##_check_engine_opt(&a, eng, &e);		\
		check_errs(#k, rc, &e);					\
		api_errs_release(&e);					\
	}								\
	jw_init(&w);							\
	api_##k##_status_write(&w, &a.status);				\
	s1 = jw_finish(&w, NULL);					\
	again = wrap_status(#k, s1);					\
	api_##k##_parse(again, &b, NULL);				\
	jw_init(&w);							\
	api_##k##_status_write(&w, &b.status);				\
	s2 = jw_finish(&w, NULL);					\
	check_stable(#k, s1, s2);					\
	free(s1);							\
	free(s2);							\
	json_free(again);						\
	api_##k##_release(&b);						\
	api_##k##_release(&a);						\
	return rc0;							\
}

/* The instance has no engine check (its engine is its own). */
static int
api_instance_check_engine_opt(const struct api_instance *a, int eng,
    struct api_errs *e)
{
	(void)a;
	(void)eng;
	(void)e;
	return 0;
}
#define ENGINE_OPT(k)							\
static int								\
api_##k##_check_engine_opt(const struct api_##k *a, int eng,		\
    struct api_errs *e)							\
{									\
	return api_##k##_check_engine(a, (enum api_engine)eng, e);	\
}
ENGINE_OPT(database)
ENGINE_OPT(user)
ENGINE_OPT(role)
ENGINE_OPT(grant)
ENGINE_OPT(backup)
ENGINE_OPT(restore)
ENGINE_OPT(schedule)

FUZZ_KIND(instance, 0)
FUZZ_KIND(database, 1)
FUZZ_KIND(user, 1)
FUZZ_KIND(role, 1)
FUZZ_KIND(grant, 1)
FUZZ_KIND(backup, 1)
FUZZ_KIND(restore, 1)
FUZZ_KIND(schedule, 1)


/*
 * Every string and key of the tree: its C string length equals its
 * decoded length exactly when the tree does not flag a NUL. Returns
 * whether any of them is flagged (NUL or invalid UTF-8).
 */
static bool
walk_strings(yajl_val v, int depth)
{
	enum text_check tc;
	bool bad = false;
	size_t i, n;
	const char *k;

	if (v == NULL || depth > 300)
		return false;
	if (YAJL_IS_STRING(v)) {
		tc = json_str_check(v, &n);
		if ((strlen(json_str(v)) == n) != (tc != TEXT_NUL))
			fail("tree", "a string's length and its NUL flag disagree");
		return tc != TEXT_OK;
	}
	if (YAJL_IS_ARRAY(v)) {
		for (i = 0; i < json_len(v); i++)
			bad |= walk_strings(json_at(v, i), depth + 1);
		return bad;
	}
	if (YAJL_IS_OBJECT(v)) {
		for (i = 0; i < json_len(v); i++) {
			k = json_key_at(v, i);
			tc = json_key_check(v, i);
			if (k == NULL)
				fail("tree", "a key is NULL");
			bad |= tc != TEXT_OK;
			bad |= walk_strings(json_val_at(v, i), depth + 1);
		}
	}
	return bad;
}

/* Bad text where every parser must see it: the spec, kind, apiVersion,
 * metadata.name and metadata.namespace. */
static bool
bad_in_scope(yajl_val v)
{
	static const char *const ids[] = { "kind", "apiVersion",
	    "metadata.name", "metadata.namespace" };
	yajl_val s;
	size_t i;

	if (!YAJL_IS_OBJECT(v))
		return false;
	s = json_get(v, "spec", NULL);
	if (s != NULL && walk_strings(s, 0))
		return true;
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		s = json_getp(v, ids[i]);
		if (YAJL_IS_STRING(s) && json_str_check(s, NULL) != TEXT_OK)
			return true;
	}
	return false;
}

static void
fuzz_all(yajl_val v)
{
	bool bad = bad_in_scope(v);
	int rc[8];
	size_t i;

	rc[0] = fuzz_instance(v);
	rc[1] = fuzz_database(v);
	rc[2] = fuzz_user(v);
	rc[3] = fuzz_role(v);
	rc[4] = fuzz_grant(v);
	rc[5] = fuzz_backup(v);
	rc[6] = fuzz_restore(v);
	rc[7] = fuzz_schedule(v);
	for (i = 0; bad && i < 8; i++)
		if (rc[i] != -1)
			fail("text", "bad text in the spec or identity was "
			    "accepted");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	yajl_val v;

	if (size > (1u << 20))
		return 0;
	v = json_parse((const char *)data, size, err, sizeof(err));
	if (v == NULL)
		return 0;
	walk_strings(v, 0);
	fuzz_all(v);
	/* A manifest usually names its spec; feed the spec's parent too so
	 * list items and watch events ({"object": ...}) reach the parsers. */
	if (json_get(v, "object", NULL) != NULL)
		fuzz_all(json_get(v, "object", NULL));
	json_free(v);
	return 0;
}
