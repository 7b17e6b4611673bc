/*
 * api_test.h - helpers for the t/unit/api_*.c tests (static, header only).
 *
 *   J("{'spec':{'name':'x'}}")   inline JSON with ' for " (no ' in values)
 *   api_t_file("database.json")  a manifest from t/data/api/
 *   api_t_fmt(fmt, ...)          J() of a printf format (a base manifest
 *                                with one field swapped in)
 *   has_err(&errs, path, substr) an error at exactly path whose message
 *                                contains substr; prints all on failure
 */
#ifndef DBP_API_TEST_H
#define DBP_API_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "json.h"
#include "tap.h"

#ifndef DBP_SRCDIR
#define DBP_SRCDIR "."
#endif

/* Trees handed out by the helpers, freed by api_t_done(). */
static yajl_val api_t_trees[256];
static size_t api_t_ntrees;

static inline yajl_val
api_t_keep(yajl_val v)
{
	if (api_t_ntrees < sizeof(api_t_trees) / sizeof(api_t_trees[0]))
		api_t_trees[api_t_ntrees++] = v;
	return v;
}

static inline yajl_val
api_t_parse(const char *text, size_t len, const char *what)
{
	char err[256];
	yajl_val v = json_parse(text, len, err, sizeof(err));

	if (v == NULL) {
		printf("Bail out! %s: %s\n", what, err);
		exit(1);
	}
	return api_t_keep(v);
}

static inline yajl_val
J(const char *text)
{
	char *s = xstrdup(text), *p;
	yajl_val v;

	for (p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	v = api_t_parse(s, strlen(s), text);
	free(s);
	return v;
}

static inline yajl_val api_t_fmt(const char *fmt, ...) DBP_PRINTF(1, 2);

static inline yajl_val
api_t_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s;
	yajl_val v;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	v = J(s);
	free(s);
	return v;
}

/* The source tree: $DBPROVD_SRCDIR (set by `make check`), else the
 * directory configure was run for. */
static inline const char *
api_t_srcdir(void)
{
	const char *d = getenv("DBPROVD_SRCDIR");

	return d && *d ? d : DBP_SRCDIR;
}

static inline yajl_val
api_t_file(const char *name)
{
	char *path = xasprintf("%s/t/data/api/%s", api_t_srcdir(), name);
	size_t len;
	char *text = read_file(path, 1 << 20, &len);
	yajl_val v;

	if (text == NULL) {
		printf("Bail out! cannot read %s\n", path);
		exit(1);
	}
	v = api_t_parse(text, len, path);
	free(text);
	free(path);
	return v;
}

static inline void
api_t_dump(const struct api_errs *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		diag("  error: %s: %s", e->v[i].path, e->v[i].msg);
}

static inline int
api_t_has_err(const struct api_errs *e, const char *path, const char *substr,
    const char *file, int line)
{
	const char *m = api_errs_find(e, path);
	char name[512];
	int r;

	snprintf(name, sizeof(name), "error at %s: %s", path, substr);
	r = tap_ok(m != NULL && strstr(m, substr) != NULL, file, line, name);
	if (!r)
		api_t_dump(e);
	return r;
}
#define has_err(e, path, substr) \
	api_t_has_err((e), (path), (substr), __FILE__, __LINE__)

/* No errors at all (prints them otherwise). */
static inline int
api_t_no_errs(const struct api_errs *e, int rc, const char *name,
    const char *file, int line)
{
	int r = tap_ok(rc == 0 && api_errs_count(e) == 0, file, line, name);

	if (!r)
		api_t_dump(e);
	return r;
}
#define no_errs(e, rc, name) api_t_no_errs((e), (rc), (name), __FILE__, __LINE__)

/* Exactly n errors and rc -1. */
static inline int
api_t_nerrs(const struct api_errs *e, int rc, size_t n, const char *name,
    const char *file, int line)
{
	int r = tap_ok(rc == -1 && api_errs_count(e) == n, file, line, name);

	if (!r) {
		diag("  rc %d, %zu errors, expected %zu", rc, api_errs_count(e), n);
		api_t_dump(e);
	}
	return r;
}
#define nerrs(e, rc, n, name) api_t_nerrs((e), (rc), (n), (name), __FILE__, __LINE__)

/* Writes a status with fn into a malloc'ed string. */
#define api_t_status_json(fn, st) __extension__ ({ \
	struct jw w_; \
	jw_init(&w_); \
	fn(&w_, (st)); \
	jw_finish(&w_, NULL); \
})

static inline void
api_t_done(void)
{
	size_t i;

	for (i = 0; i < api_t_ntrees; i++)
		json_free(api_t_trees[i]);
	api_t_ntrees = 0;
}

#endif
