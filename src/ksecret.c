/*
 * ksecret.c - Secret reads with a short-lived cache (see ksecret.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "json.h"
#include "khttp.h"
#include "ksecret.h"
#include "kwrite.h"
#include "log.h"
#include "util.h"

struct ksecret_kv {
	char *key;
	char *val;		/* decoded, NUL-terminated */
	size_t len;
};

struct ksecret {
	char *ns;
	char *name;
	char *rv;
	struct ksecret_kv *kv;
	size_t n;
	double fetched;		/* ev_now() of the answer */
	struct ksecret *next;
};

struct ksecret_req {
	struct ksecret_cache *cache;
	char *ns;
	char *name;
	ksecret_fn cb;
	void *arg;
	struct kreq *http;	/* GET in flight, or NULL */
	ev_timer deliver;	/* hands a cached answer over */
	struct ksecret_req *next, *prev;
};

struct ksecret_cache {
	struct khttp *http;
	struct ev_loop *loop;
	double ttl;
	struct ksecret *entries;
	struct ksecret_req *reqs;
};

/* ---- base64 ------------------------------------------------------------- */

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

char *
ksecret_b64encode(const void *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = tab[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		*o++ = tab[p[i + 2] & 63];
	}
	if (i < n) {
		*o++ = tab[p[i] >> 2];
		if (i + 1 < n) {
			*o++ = tab[(p[i] & 3) << 4 | p[i + 1] >> 4];
			*o++ = tab[(p[i + 1] & 15) << 2];
		} else {
			*o++ = tab[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

char *
ksecret_b64decode(const char *in, size_t inlen, size_t *outlen)
{
	unsigned char *out;
	size_t i, o = 0, pad = 0;

	if (inlen % 4 != 0)
		return NULL;
	if (inlen > 0 && in[inlen - 1] == '=')
		pad++;
	if (inlen > 1 && in[inlen - 2] == '=')
		pad++;
	out = xmalloc(inlen / 4 * 3 + 1);
	for (i = 0; i < inlen; i += 4) {
		int v[4], k;
		bool last = i + 4 == inlen;

		for (k = 0; k < 4; k++) {
			if (last && k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			v[k] = b64val((unsigned char)in[i + k]);
			if (v[k] < 0) {
				secure_zero(out, inlen / 4 * 3 + 1);
				free(out);
				return NULL;
			}
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	o -= pad;
	out[o] = '\0';
	*outlen = o;
	return (char *)out;
}

/* ---- entries ------------------------------------------------------------ */

static void
secret_free(struct ksecret *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->kv[i].key);
		secure_zero(s->kv[i].val, s->kv[i].len);
		free(s->kv[i].val);
	}
	free(s->kv);
	free(s->ns);
	free(s->name);
	free(s->rv);
	free(s);
}

static struct ksecret **
entry_find(struct ksecret_cache *c, const char *ns, const char *name)
{
	struct ksecret **pp;

	for (pp = &c->entries; *pp; pp = &(*pp)->next)
		if (streq((*pp)->ns, ns) && streq((*pp)->name, name))
			return pp;
	return NULL;
}

/* Drops every entry past its ttl: values do not linger in memory. */
static void
entries_expire(struct ksecret_cache *c)
{
	double now = ev_now(c->loop);
	struct ksecret **pp = &c->entries;

	while (*pp) {
		struct ksecret *s = *pp;

		if (now - s->fetched >= c->ttl || now < s->fetched) {
			*pp = s->next;
			secret_free(s);
		} else {
			pp = &s->next;
		}
	}
}

void
ksecret_forget(struct ksecret_cache *c, const char *ns, const char *name)
{
	struct ksecret **pp = entry_find(c, ns, name);
	struct ksecret *s;

	if (pp == NULL)
		return;
	s = *pp;
	*pp = s->next;
	secret_free(s);
}

/* Builds an entry from a Secret object; values of the tree are wiped. */
static struct ksecret *
secret_from_json(yajl_val obj, const char *ns, const char *name,
    struct ksecret_err *err)
{
	struct ksecret *s;
	yajl_val data = json_get(obj, "data", (char *)NULL);
	size_t i, n;

	s = xcalloc(1, sizeof(*s));
	s->ns = xstrdup(ns);
	s->name = xstrdup(name);
	s->rv = xstrdup(json_gets(obj, "metadata.resourceVersion") ?
	    json_gets(obj, "metadata.resourceVersion") : "");
	n = data && YAJL_IS_OBJECT(data) ? json_len(data) : 0;
	s->kv = xcalloc(n ? n : 1, sizeof(*s->kv));
	for (i = 0; i < n; i++) {
		yajl_val v = json_val_at(data, i);
		const char *b64 = json_str(v);
		struct ksecret_kv *kv = &s->kv[s->n];

		if (b64 == NULL)
			continue;
		kv->val = ksecret_b64decode(b64, strlen(b64), &kv->len);
		secure_zero((void *)b64, strlen(b64));
		if (kv->val == NULL) {
			err->code = KSECRET_EFAILED;
			snprintf(err->msg, sizeof(err->msg),
			    "secret %s/%s: key %s is not valid base64", ns, name,
			    json_key_at(data, i));
			secret_free(s);
			return NULL;
		}
		kv->key = xstrdup(json_key_at(data, i));
		s->n++;
	}
	return s;
}

/* ---- requests ----------------------------------------------------------- */

static void
req_unlink(struct ksecret_req *r)
{
	struct ksecret_cache *c = r->cache;

	if (r->prev)
		r->prev->next = r->next;
	else
		c->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static void
req_free(struct ksecret_req *r)
{
	ev_timer_stop(r->cache->loop, &r->deliver);
	req_unlink(r);
	free(r->ns);
	free(r->name);
	free(r);
}

static void
deliver_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ksecret_req *r = container_of(w, struct ksecret_req, deliver);
	struct ksecret **pp = entry_find(r->cache, r->ns, r->name);
	ksecret_fn cb = r->cb;
	void *arg = r->arg;
	struct ksecret_err err;

	(void)loop;
	(void)revents;
	if (pp == NULL) {
		/* Dropped meanwhile (forget): ask the API. Cannot happen
		 * for an expiry, which only runs in ksecret_get(). */
		err.code = KSECRET_EFAILED;
		snprintf(err.msg, sizeof(err.msg),
		    "secret %s/%s: cache entry dropped", r->ns, r->name);
		req_free(r);
		cb(NULL, &err, arg);
		return;
	}
	req_free(r);
	cb(*pp, NULL, arg);
}

static void
get_done(struct kreq *q, void *arg)
{
	struct ksecret_req *r = arg;
	struct ksecret_cache *c = r->cache;
	ksecret_fn cb = r->cb;
	void *cbarg = r->arg;
	struct ksecret_err err;
	struct ksecret *s = NULL, **pp;
	char text[256];
	yajl_val obj;

	r->http = NULL;
	memset(&err, 0, sizeof(err));
	switch (kwrite_classify(q)) {
	case KW_OK:
		obj = json_parse(q->body.data ? q->body.data : "", q->body.len,
		    text, sizeof(text));
		if (q->body.data)
			secure_zero(q->body.data, q->body.len);
		if (obj == NULL) {
			err.code = KSECRET_EFAILED;
			snprintf(err.msg, sizeof(err.msg),
			    "secret %s/%s: unparsable answer", r->ns, r->name);
			break;
		}
		s = secret_from_json(obj, r->ns, r->name, &err);
		json_free(obj);
		break;
	case KW_NOT_FOUND:
		err.code = KSECRET_ENOTFOUND;
		snprintf(err.msg, sizeof(err.msg), "secret %s/%s not found",
		    r->ns, r->name);
		break;
	case KW_FORBIDDEN:
		err.code = KSECRET_EFORBIDDEN;
		snprintf(err.msg, sizeof(err.msg),
		    "cannot read secret %s/%s: forbidden (RBAC)", r->ns, r->name);
		break;
	default:
		kwrite_error_text(q, text, sizeof(text));
		err.code = KSECRET_EFAILED;
		snprintf(err.msg, sizeof(err.msg), "cannot read secret %s/%s: %s",
		    r->ns, r->name, text);
		break;
	}
	if (q->body.data)
		secure_zero(q->body.data, q->body.len);
	if (s) {
		s->fetched = ev_now(c->loop);
		pp = entry_find(c, s->ns, s->name);
		if (pp) {
			struct ksecret *old = *pp;

			s->next = old->next;
			*pp = s;
			secret_free(old);
		} else {
			s->next = c->entries;
			c->entries = s;
		}
	}
	req_free(r);
	/* s stays valid: nothing runs between here and the callback. */
	cb(s, s ? NULL : &err, cbarg);
}

struct ksecret_req *
ksecret_get(struct ksecret_cache *c, const char *ns, const char *name,
    ksecret_fn cb, void *arg)
{
	struct ksecret_req *r = xcalloc(1, sizeof(*r));

	r->cache = c;
	r->ns = xstrdup(ns);
	r->name = xstrdup(name);
	r->cb = cb;
	r->arg = arg;
	ev_timer_init(&r->deliver, deliver_cb, 0., 0.);
	r->next = c->reqs;
	if (c->reqs)
		c->reqs->prev = r;
	c->reqs = r;
	entries_expire(c);
	if (entry_find(c, ns, name)) {
		ev_timer_start(c->loop, &r->deliver);
		return r;
	}
	r->http = kobj_get(c->http, &kres_secrets, ns, name, get_done, r);
	return r;
}

void
ksecret_cancel(struct ksecret_req *r)
{
	if (r == NULL)
		return;
	if (r->http)
		kreq_cancel(r->http);
	req_free(r);
}

struct ksecret_cache *
ksecret_cache_new(struct khttp *http, double ttl)
{
	struct ksecret_cache *c = xcalloc(1, sizeof(*c));

	c->http = http;
	c->loop = khttp_loop(http);
	c->ttl = ttl > 0 ? ttl : KSECRET_TTL;
	return c;
}

void
ksecret_cache_free(struct ksecret_cache *c)
{
	if (c == NULL)
		return;
	while (c->reqs)
		ksecret_cancel(c->reqs);
	while (c->entries) {
		struct ksecret *s = c->entries;

		c->entries = s->next;
		secret_free(s);
	}
	free(c);
}

size_t
ksecret_cached(const struct ksecret_cache *c)
{
	const struct ksecret *s;
	size_t n = 0;

	for (s = c->entries; s; s = s->next)
		n++;
	return n;
}

/* ---- accessors ---------------------------------------------------------- */

const char *
ksecret_value(const struct ksecret *s, const char *key, size_t *len)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (streq(s->kv[i].key, key)) {
			if (len)
				*len = s->kv[i].len;
			return s->kv[i].val;
		}
	if (len)
		*len = 0;
	return NULL;
}

const char *
ksecret_require(const struct ksecret *s, const char *key, size_t *len,
    struct ksecret_err *err)
{
	const char *v = ksecret_value(s, key, len);

	if (v == NULL) {
		err->code = KSECRET_ENOTFOUND;
		snprintf(err->msg, sizeof(err->msg),
		    "key %s not found in secret %s/%s", key, s->ns, s->name);
	}
	return v;
}

const char *
ksecret_require_text(const struct ksecret *s, const char *key, size_t *len,
    struct ksecret_err *err)
{
	size_t n;
	const char *v = ksecret_require(s, key, &n, err);
	enum text_check tc;

	if (len)
		*len = n;
	if (v == NULL)
		return NULL;
	tc = text_check(v, n);
	if (n > 0 && tc == TEXT_OK)
		return v;
	err->code = KSECRET_EINVALID;
	snprintf(err->msg, sizeof(err->msg), "key %s of secret %s/%s %s", key,
	    s->ns, s->name, n == 0 ? "is empty" : text_check_msg(tc));
	return NULL;
}

const char *
ksecret_reason(enum ksecret_errcode code)
{
	switch (code) {
	case KSECRET_ENOTFOUND:
		return "SecretNotFound";
	case KSECRET_EFORBIDDEN:
		return "SecretForbidden";
	case KSECRET_EINVALID:
		return "SecretInvalid";
	default:
		return "SecretReadFailed";
	}
}

const char *
ksecret_namespace(const struct ksecret *s)
{
	return s->ns;
}

const char *
ksecret_name(const struct ksecret *s)
{
	return s->name;
}

const char *
ksecret_resource_version(const struct ksecret *s)
{
	return s->rv;
}
