/*
 * kwrite.h - reads and writes of Kubernetes objects, and the patches an
 * operator needs (status, finalizers) built so that they never rewrite
 * what they do not own.
 *
 * All calls are asynchronous: they start a request and return it; the done
 * callback gets the finished request (status, body) and the request is
 * freed after the callback. kwrite_classify() turns the outcome into what
 * a controller should do next.
 */
#ifndef DBP_KWRITE_H
#define DBP_KWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <yajl/yajl_tree.h>

#include "khttp.h"

/* A resource type as the API serves it. */
struct kres {
	const char *group_path;		/* "/api/v1", "/apis/g/v" */
	const char *api_version;	/* "v1", "g/v" */
	const char *kind;		/* "Secret" */
	const char *resource;		/* plural: "secrets" */
	bool namespaced;
};

extern const struct kres kres_secrets;
extern const struct kres kres_events;
extern const struct kres kres_leases;
extern const struct kres kres_namespaces;

/* Object path, e.g. "/api/v1/namespaces/ns/secrets/name[/sub]"; name may
 * be NULL for the collection. Returns a malloc'ed string. */
char *kres_path(const struct kres *res, const char *ns, const char *name,
    const char *subresource);

#define KWRITE_FIELD_MANAGER "dbprovd"

struct kreq *kobj_get(struct khttp *c, const struct kres *res, const char *ns,
    const char *name, kreq_done_fn done, void *arg);
/* POST of a JSON object to the collection. */
struct kreq *kobj_create(struct khttp *c, const struct kres *res,
    const char *ns, const char *json, kreq_done_fn done, void *arg);
/* PUT of a whole object (must carry metadata.resourceVersion). */
struct kreq *kobj_update(struct khttp *c, const struct kres *res,
    const char *ns, const char *name, const char *subresource,
    const char *json, kreq_done_fn done, void *arg);
/* PATCH with application/merge-patch+json (subresource NULL or "status"). */
struct kreq *kobj_merge_patch(struct khttp *c, const struct kres *res,
    const char *ns, const char *name, const char *subresource,
    const char *patch, kreq_done_fn done, void *arg);
/* PATCH with application/json-patch+json. */
struct kreq *kobj_json_patch(struct khttp *c, const struct kres *res,
    const char *ns, const char *name, const char *subresource,
    const char *patch, kreq_done_fn done, void *arg);
/* DELETE, with optional uid / resourceVersion preconditions. */
struct kreq *kobj_delete(struct khttp *c, const struct kres *res,
    const char *ns, const char *name, const char *uid, const char *rv,
    kreq_done_fn done, void *arg);

/* Builds a JSON patch that adds finalizer to the list `current` (n items,
 * as last read) only if the list is still exactly that: a `test` of the
 * list (or of the resourceVersion when there is none) then an `add`.
 * Nothing else of the object is touched, so defaulted spec values keep
 * what the user wrote. Returns a malloc'ed string, or NULL when the
 * finalizer is already present. */
char *kwrite_finalizer_add_patch(const char *const *current, size_t n,
    const char *rv, const char *finalizer);
/* Builds a JSON patch removing finalizer at its index with a `test` of
 * that element first; NULL when absent. */
char *kwrite_finalizer_remove_patch(const char *const *current, size_t n,
    const char *finalizer);

/* What to do after a write. */
enum kwrite_outcome {
	KW_OK,			/* 2xx */
	KW_NOT_FOUND,		/* 404: gone (treat as absent) */
	KW_CONFLICT,		/* 409 Conflict or 422 failed test: re-read, retry */
	KW_EXISTS,		/* 409 AlreadyExists */
	KW_RETRY,		/* 429, 5xx, transport: back off (Retry-After) */
	KW_INVALID,		/* 400/422: our request is wrong, do not retry */
	KW_FORBIDDEN,		/* 401/403: RBAC or credentials */
	KW_FAILED,		/* anything else */
};
enum kwrite_outcome kwrite_classify(const struct kreq *r);
const char *kwrite_outcome_name(enum kwrite_outcome o);

/* Copies a one-line description of a failed request into out: the Status
 * message when the body is one, else the HTTP code or transport error. */
void kwrite_error_text(const struct kreq *r, char *out, size_t len);

#endif
