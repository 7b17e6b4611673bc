/*
 * json.c - yajl tree helpers and an in-memory generator.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

yajl_val
json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	char *copy = xstrndup(text, len);
	yajl_val v;

	if (err && errlen)
		err[0] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		if (err && errlen)
			snprintf(err, errlen, "NUL byte in JSON text");
		free(copy);
		return NULL;
	}
	v = yajl_tree_parse(copy, err, errlen);
	free(copy);
	if (v == NULL && err && errlen && err[0] == '\0')
		snprintf(err, errlen, "invalid JSON");
	/* yajl's messages end with a newline; keep log lines single. */
	if (v == NULL && err && errlen) {
		char *nl;
		while ((nl = strchr(err, '\n')) != NULL)
			*nl = ' ';
	}
	return v;
}

static yajl_val
obj_member(yajl_val v, const char *key)
{
	size_t i;

	if (v == NULL || !YAJL_IS_OBJECT(v))
		return NULL;
	for (i = 0; i < v->u.object.len; i++)
		if (strcmp(v->u.object.keys[i], key) == 0)
			return v->u.object.values[i];
	return NULL;
}

yajl_val
json_get(yajl_val v, ...)
{
	va_list ap;
	const char *k;

	va_start(ap, v);
	while (v != NULL && (k = va_arg(ap, const char *)) != NULL)
		v = obj_member(v, k);
	va_end(ap);
	return v;
}

yajl_val
json_getp(yajl_val v, const char *path)
{
	char key[256];
	const char *p = path, *dot;

	while (v != NULL && *p) {
		size_t n;

		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		v = obj_member(v, key);
		p += n;
		if (*p == '.')
			p++;
	}
	return v;
}

const char *
json_str(yajl_val v)
{
	return v != NULL && YAJL_IS_STRING(v) ? v->u.string : NULL;
}

const char *
json_gets(yajl_val v, const char *path)
{
	return json_str(json_getp(v, path));
}

bool
json_int(yajl_val v, long long *out)
{
	if (v == NULL || !YAJL_IS_INTEGER(v))
		return false;
	*out = YAJL_GET_INTEGER(v);
	return true;
}

bool
json_double(yajl_val v, double *out)
{
	if (v == NULL || !YAJL_IS_NUMBER(v))
		return false;
	*out = YAJL_IS_INTEGER(v) ? (double)YAJL_GET_INTEGER(v) : YAJL_GET_DOUBLE(v);
	return true;
}

bool
json_bool(yajl_val v, bool *out)
{
	if (v == NULL)
		return false;
	if (YAJL_IS_TRUE(v))
		*out = true;
	else if (YAJL_IS_FALSE(v))
		*out = false;
	else
		return false;
	return true;
}

bool
json_is_null(yajl_val v)
{
	return v != NULL && YAJL_IS_NULL(v);
}

size_t
json_len(yajl_val v)
{
	if (v == NULL)
		return 0;
	if (YAJL_IS_ARRAY(v))
		return v->u.array.len;
	if (YAJL_IS_OBJECT(v))
		return v->u.object.len;
	return 0;
}

yajl_val
json_at(yajl_val v, size_t i)
{
	if (v == NULL || !YAJL_IS_ARRAY(v) || i >= v->u.array.len)
		return NULL;
	return v->u.array.values[i];
}

const char *
json_key_at(yajl_val v, size_t i)
{
	if (v == NULL || !YAJL_IS_OBJECT(v) || i >= v->u.object.len)
		return NULL;
	return v->u.object.keys[i];
}

yajl_val
json_val_at(yajl_val v, size_t i)
{
	if (v == NULL || !YAJL_IS_OBJECT(v) || i >= v->u.object.len)
		return NULL;
	return v->u.object.values[i];
}

void
jw_init(struct jw *w)
{
	w->g = yajl_gen_alloc(NULL);
	if (w->g == NULL)
		die_oom();
}

void
jw_release(struct jw *w)
{
	if (w->g)
		yajl_gen_free(w->g);
	w->g = NULL;
}

void jw_obj_open(struct jw *w) { yajl_gen_map_open(w->g); }
void jw_obj_close(struct jw *w) { yajl_gen_map_close(w->g); }
void jw_arr_open(struct jw *w) { yajl_gen_array_open(w->g); }
void jw_arr_close(struct jw *w) { yajl_gen_array_close(w->g); }
void jw_null(struct jw *w) { yajl_gen_null(w->g); }
void jw_bool(struct jw *w, bool v) { yajl_gen_bool(w->g, v); }
void jw_int(struct jw *w, long long v) { yajl_gen_integer(w->g, v); }

void
jw_double(struct jw *w, double v)
{
	if (yajl_gen_double(w->g, v) != yajl_gen_status_ok)
		yajl_gen_null(w->g);	/* NaN and infinities have no JSON form */
}

void
jw_key(struct jw *w, const char *k)
{
	yajl_gen_string(w->g, (const unsigned char *)k, strlen(k));
}

void
jw_strn(struct jw *w, const char *s, size_t n)
{
	yajl_gen_string(w->g, (const unsigned char *)s, n);
}

void
jw_str(struct jw *w, const char *s)
{
	if (s == NULL)
		yajl_gen_null(w->g);
	else
		jw_strn(w, s, strlen(s));
}

void
jw_kstr(struct jw *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_str(w, s);
}

void
jw_kint(struct jw *w, const char *k, long long v)
{
	jw_key(w, k);
	jw_int(w, v);
}

void
jw_kbool(struct jw *w, const char *k, bool v)
{
	jw_key(w, k);
	jw_bool(w, v);
}

void
jw_value(struct jw *w, yajl_val v)
{
	size_t i;

	if (v == NULL || YAJL_IS_NULL(v)) {
		jw_null(w);
	} else if (YAJL_IS_STRING(v)) {
		jw_str(w, v->u.string);
	} else if (YAJL_IS_INTEGER(v)) {
		jw_int(w, YAJL_GET_INTEGER(v));
	} else if (YAJL_IS_NUMBER(v)) {
		/* Keep the original spelling of non-integers. */
		yajl_gen_number(w->g, v->u.number.r, strlen(v->u.number.r));
	} else if (YAJL_IS_TRUE(v)) {
		jw_bool(w, true);
	} else if (YAJL_IS_FALSE(v)) {
		jw_bool(w, false);
	} else if (YAJL_IS_OBJECT(v)) {
		jw_obj_open(w);
		for (i = 0; i < v->u.object.len; i++) {
			jw_key(w, v->u.object.keys[i]);
			jw_value(w, v->u.object.values[i]);
		}
		jw_obj_close(w);
	} else if (YAJL_IS_ARRAY(v)) {
		jw_arr_open(w);
		for (i = 0; i < v->u.array.len; i++)
			jw_value(w, v->u.array.values[i]);
		jw_arr_close(w);
	}
}

const char *
jw_text(struct jw *w, size_t *len)
{
	const unsigned char *p;
	size_t n;

	yajl_gen_get_buf(w->g, &p, &n);
	if (len)
		*len = n;
	return (const char *)p;
}

char *
jw_finish(struct jw *w, size_t *len)
{
	size_t n;
	const char *p = jw_text(w, &n);
	char *out = xstrndup(p, n);

	if (len)
		*len = n;
	jw_release(w);
	return out;
}

char *
json_quote(const char *s)
{
	struct jw w;

	jw_init(&w);
	jw_str(&w, s ? s : "");
	return jw_finish(&w, NULL);
}

char *
json_pointer_escape(const char *token)
{
	struct buf b = BUF_INIT(0);
	const char *p;

	for (p = token; *p; p++) {
		int r;
		if (*p == '~')
			r = buf_puts(&b, "~0");
		else if (*p == '/')
			r = buf_puts(&b, "~1");
		else
			r = buf_putc(&b, *p);
		if (r < 0)
			die_oom();
	}
	return buf_detach(&b, NULL);
}
