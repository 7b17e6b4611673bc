/*
 * ksecret.h - asynchronous reads of core/v1 Secrets through the API, with
 * a short-lived cache.
 *
 * dbprovd does not list or watch Secrets (no cluster-wide copy of every
 * Secret in memory, no RBAC list/watch on secrets): a Secret is read with
 * a GET when a reconcile needs it. The decoded `data` of a Secret is kept
 * for a few seconds (ttl), keyed by namespace/name, so that the reconciles
 * of one burst share one GET; past the ttl the next read goes to the API
 * again and the answer carries the Secret's current resourceVersion, which
 * callers compare to notice a change. Values are wiped from memory when an
 * entry is dropped (expiry, ksecret_cache_free()).
 *
 *   ksecret_get(cache, ns, name, cb, arg)
 *       -> cb(secret, NULL, arg): secret valid during the callback only
 *       -> cb(NULL, "secret ns/name not found", arg)
 *
 * Callbacks always run from the loop, never inside ksecret_get(). Error
 * texts name the Secret and the key, never a value; nothing here logs a
 * value.
 */
#ifndef DBP_KSECRET_H
#define DBP_KSECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct khttp;
struct ksecret;
struct ksecret_cache;
struct ksecret_req;

#define KSECRET_TTL 5.0		/* seconds an answer is reused */
#define KSECRET_ERR_LEN 256

/* What went wrong, for callers that map it to a condition reason. */
enum ksecret_errcode {
	KSECRET_OK = 0,
	KSECRET_ENOTFOUND,	/* 404, or a key missing (ksecret_require) */
	KSECRET_EFORBIDDEN,	/* 401/403 */
	KSECRET_EFAILED,	/* transport, 5xx, unparsable answer */
	KSECRET_EINVALID,	/* a value unusable as text (ksecret_require_text) */
};

struct ksecret_err {
	enum ksecret_errcode code;
	char msg[KSECRET_ERR_LEN];	/* one line, never a value */
};

/* secret is valid during the callback only; err NULL on success. */
typedef void (*ksecret_fn)(const struct ksecret *secret,
    const struct ksecret_err *err, void *arg);

/* ttl <= 0 gives KSECRET_TTL. */
struct ksecret_cache *ksecret_cache_new(struct khttp *http, double ttl);
/* Cancels reads in flight (no callbacks) and wipes every entry. */
void ksecret_cache_free(struct ksecret_cache *c);

/* Starts a read; returns a handle valid until the callback runs or
 * ksecret_cancel(). */
struct ksecret_req *ksecret_get(struct ksecret_cache *c, const char *ns,
    const char *name, ksecret_fn cb, void *arg);
/* Withdraws a read: its callback will not run. */
void ksecret_cancel(struct ksecret_req *r);
/* Drops a cached entry (the next read goes to the API). */
void ksecret_forget(struct ksecret_cache *c, const char *ns,
    const char *name);

/* Decoded value of key (bytes, NUL-terminated for convenience, len
 * without it), or NULL when the key is absent. */
const char *ksecret_value(const struct ksecret *s, const char *key,
    size_t *len);
/* Like ksecret_value(), but an absent key fills err (code ENOTFOUND,
 * "key K not found in secret ns/name") and returns NULL. */
const char *ksecret_require(const struct ksecret *s, const char *key,
    size_t *len, struct ksecret_err *err);
/* Like ksecret_require(), for a value that becomes a name or a password:
 * an empty value, a NUL byte or bytes that are not UTF-8 fill err (code
 * EINVALID, naming the key, never showing the value). */
const char *ksecret_require_text(const struct ksecret *s, const char *key,
    size_t *len, struct ksecret_err *err);
/* The condition reason for a failure to use a Secret: SecretNotFound
 * (404 or a missing key), SecretForbidden, SecretInvalid, or
 * SecretReadFailed (the API server did not answer usefully: a 5xx, a
 * transport error). */
const char *ksecret_reason(enum ksecret_errcode code);
const char *ksecret_namespace(const struct ksecret *s);
const char *ksecret_name(const struct ksecret *s);
const char *ksecret_resource_version(const struct ksecret *s);

/* Pure: decodes standard base64 (with padding, no line breaks) into a
 * malloc'ed buffer (NUL-terminated); NULL when the text is not base64. */
char *ksecret_b64decode(const char *in, size_t inlen, size_t *outlen);
/* Pure: standard base64 with padding of n bytes, malloc'ed and
 * NUL-terminated (free with free_secret() when it encodes a secret). */
char *ksecret_b64encode(const void *in, size_t n);

/* Entries cached and reads in flight (tests). */
size_t ksecret_cached(const struct ksecret_cache *c);

#endif
