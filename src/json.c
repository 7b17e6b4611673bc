/*
 * json.c - yajl tree helpers and an in-memory generator.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "buf.h"
#include "json.h"

/*
 * The tree builder. yajl_tree would do, but it stores strings as C strings
 * and so loses what follows an escaped NUL ("a\u0000b" reads as "a"). We
 * build the same public yajl_val nodes from yajl's callbacks, where the
 * decoded length is known, and put every string (values and keys) behind a
 * small header that keeps its length and whether it is clean text
 * (text_check()). Readers that act on strings ask json_str_check(); the
 * tree is freed by json_free(), never by yajl_tree_free().
 */
struct jstr {
	size_t len;
	unsigned char check;	/* enum text_check */
	char s[];
};

#define JSTR(p) ((const struct jstr *)(const void *)((p) - offsetof(struct jstr, s)))

struct jframe {
	yajl_val v;
	char *key;		/* objects: the key waiting for its value */
};

struct jbuild {
	yajl_val root;
	struct jframe *stack;
	size_t depth, cap;
	const char *err;
};

#define JSON_MAX_DEPTH 256

static char *
jstr_new(const unsigned char *p, size_t n)
{
	struct jstr *js = xmalloc(sizeof(*js) + n + 1);

	js->len = n;
	js->check = (unsigned char)text_check((const char *)p, n);
	memcpy(js->s, p, n);
	js->s[n] = '\0';
	return js->s;
}

static void
jstr_free(char *s)
{
	if (s != NULL)
		free((void *)JSTR(s));
}

static yajl_val
jnode(yajl_type type)
{
	yajl_val v = xcalloc(1, sizeof(*v));

	v->type = type;
	return v;
}

/* Attaches v to the container on top of the stack (or makes it the root);
 * takes ownership. */
static int
jadd(struct jbuild *b, yajl_val v)
{
	struct jframe *f;

	if (b->depth == 0) {
		if (b->root != NULL) {
			json_free(v);
			return 0;
		}
		b->root = v;
		return 1;
	}
	f = &b->stack[b->depth - 1];
	if (YAJL_IS_ARRAY(f->v)) {
		f->v->u.array.values = xrealloc(f->v->u.array.values,
		    (f->v->u.array.len + 1) * sizeof(yajl_val));
		f->v->u.array.values[f->v->u.array.len++] = v;
		return 1;
	}
	if (f->key == NULL) {
		json_free(v);
		return 0;
	}
	f->v->u.object.keys = xrealloc((void *)f->v->u.object.keys,
	    (f->v->u.object.len + 1) * sizeof(char *));
	f->v->u.object.values = xrealloc(f->v->u.object.values,
	    (f->v->u.object.len + 1) * sizeof(yajl_val));
	f->v->u.object.keys[f->v->u.object.len] = f->key;
	f->v->u.object.values[f->v->u.object.len++] = v;
	f->key = NULL;
	return 1;
}

static int
jpush(struct jbuild *b, yajl_type type)
{
	yajl_val v = jnode(type);

	if (b->depth >= JSON_MAX_DEPTH) {
		b->err = "nested too deeply";
		json_free(v);
		return 0;
	}
	if (!jadd(b, v))
		return 0;
	if (b->depth == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 16;
		b->stack = xrealloc(b->stack, b->cap * sizeof(*b->stack));
	}
	b->stack[b->depth].v = v;
	b->stack[b->depth].key = NULL;
	b->depth++;
	return 1;
}

static int
jpop(struct jbuild *b)
{
	if (b->depth == 0)
		return 0;
	b->depth--;
	jstr_free(b->stack[b->depth].key);
	b->stack[b->depth].key = NULL;
	return 1;
}

static int
cb_null(void *ctx)
{
	return jadd(ctx, jnode(yajl_t_null));
}

static int
cb_boolean(void *ctx, int v)
{
	return jadd(ctx, jnode(v ? yajl_t_true : yajl_t_false));
}

static int
cb_number(void *ctx, const char *s, size_t n)
{
	yajl_val v = jnode(yajl_t_number);
	char *end;

	v->u.number.r = xstrndup(s, n);
	errno = 0;
	v->u.number.i = strtoll(v->u.number.r, &end, 10);
	if (errno == 0 && *end == '\0')
		v->u.number.flags |= YAJL_NUMBER_INT_VALID;
	errno = 0;
	v->u.number.d = strtod(v->u.number.r, &end);
	if (errno == 0 && *end == '\0')
		v->u.number.flags |= YAJL_NUMBER_DOUBLE_VALID;
	return jadd(ctx, v);
}

static int
cb_string(void *ctx, const unsigned char *s, size_t n)
{
	yajl_val v = jnode(yajl_t_string);

	v->u.string = jstr_new(s, n);
	return jadd(ctx, v);
}

static int
cb_start_map(void *ctx)
{
	return jpush(ctx, yajl_t_object);
}

static int
cb_map_key(void *ctx, const unsigned char *s, size_t n)
{
	struct jbuild *b = ctx;
	struct jframe *f = &b->stack[b->depth - 1];

	jstr_free(f->key);
	f->key = jstr_new(s, n);
	return 1;
}

static int
cb_end(void *ctx)
{
	return jpop(ctx);
}

static int
cb_start_array(void *ctx)
{
	return jpush(ctx, yajl_t_array);
}

static const yajl_callbacks jcallbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_boolean,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

yajl_val
json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct jbuild b;
	yajl_handle h;
	yajl_status st;
	size_t i;

	if (err && errlen)
		err[0] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		if (err && errlen)
			snprintf(err, errlen, "NUL byte in JSON text");
		return NULL;
	}
	memset(&b, 0, sizeof(b));
	h = yajl_alloc(&jcallbacks, NULL, &b);
	if (h == NULL)
		die_oom();
	/* Strings are checked by us (text_check), so that a bad one can be
	 * named by its field instead of failing the whole document. */
	yajl_config(h, yajl_dont_validate_strings, 1);
	st = yajl_parse(h, (const unsigned char *)text, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st != yajl_status_ok || b.root == NULL || b.depth != 0) {
		if (err && errlen) {
			if (b.err != NULL) {
				snprintf(err, errlen, "%s", b.err);
			} else if (st == yajl_status_error) {
				unsigned char *m = yajl_get_error(h, 0,
				    (const unsigned char *)text, len);

				snprintf(err, errlen, "%s", m ? (char *)m :
				    "invalid JSON");
				yajl_free_error(h, m);
			} else {
				snprintf(err, errlen, "invalid JSON");
			}
		}
		for (i = 0; i < b.depth; i++)
			jstr_free(b.stack[i].key);
		json_free(b.root);
		b.root = NULL;
	}
	yajl_free(h);
	free(b.stack);
	/* yajl's messages end with a newline; keep log lines single. */
	if (b.root == NULL && err && errlen) {
		char *nl;
		while ((nl = strchr(err, '\n')) != NULL)
			*nl = ' ';
		if (err[0] == '\0')
			snprintf(err, errlen, "invalid JSON");
	}
	return b.root;
}

void
json_free(yajl_val v)
{
	size_t i;

	if (v == NULL)
		return;
	switch (v->type) {
	case yajl_t_string:
		jstr_free(v->u.string);
		break;
	case yajl_t_number:
		free(v->u.number.r);
		break;
	case yajl_t_object:
		for (i = 0; i < v->u.object.len; i++) {
			jstr_free((char *)v->u.object.keys[i]);
			json_free(v->u.object.values[i]);
		}
		free((void *)v->u.object.keys);
		free(v->u.object.values);
		break;
	case yajl_t_array:
		for (i = 0; i < v->u.array.len; i++)
			json_free(v->u.array.values[i]);
		free(v->u.array.values);
		break;
	default:
		break;
	}
	free(v);
}

enum text_check
json_str_check(yajl_val v, size_t *len)
{
	const struct jstr *js;

	if (v == NULL || !YAJL_IS_STRING(v))
		return TEXT_OK;
	js = JSTR(v->u.string);
	if (len)
		*len = js->len;
	return (enum text_check)js->check;
}

enum text_check
json_key_check(yajl_val obj, size_t i)
{
	if (obj == NULL || !YAJL_IS_OBJECT(obj) || i >= obj->u.object.len)
		return TEXT_OK;
	return (enum text_check)JSTR(obj->u.object.keys[i])->check;
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
