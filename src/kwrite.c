/*
 * kwrite.c - object reads/writes and operator patches.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "kwrite.h"

const struct kres kres_secrets = { "/api/v1", "v1", "Secret", "secrets", true };
const struct kres kres_events = { "/api/v1", "v1", "Event", "events", true };
const struct kres kres_leases = { "/apis/coordination.k8s.io/v1",
	"coordination.k8s.io/v1", "Lease", "leases", true };
const struct kres kres_namespaces = { "/api/v1", "v1", "Namespace",
	"namespaces", false };

char *
kres_path(const struct kres *res, const char *ns, const char *name,
    const char *subresource)
{
	struct buf b = BUF_INIT(0);
	int rc = buf_puts(&b, res->group_path);

	if (res->namespaced && ns && *ns) {
		char *e = khttp_escape(ns);
		rc |= buf_printf(&b, "/namespaces/%s", e);
		free(e);
	}
	rc |= buf_printf(&b, "/%s", res->resource);
	if (name) {
		char *e = khttp_escape(name);
		rc |= buf_printf(&b, "/%s", e);
		free(e);
		if (subresource)
			rc |= buf_printf(&b, "/%s", subresource);
	}
	if (rc < 0)
		die_oom();
	return buf_detach(&b, NULL);
}

static struct kreq *
kobj_send(struct khttp *c, const char *method, char *path, const char *ctype,
    const char *body, kreq_done_fn done, void *arg)
{
	struct kreq *r;

	r = khttp_request(c, method, path, done, arg);
	free(path);
	if (body)
		kreq_set_body(r, ctype, body, strlen(body));
	kreq_start(r);
	return r;
}

static char *
with_manager(char *path)
{
	char *p = xasprintf("%s?fieldManager=%s", path, KWRITE_FIELD_MANAGER);

	free(path);
	return p;
}

struct kreq *
kobj_get(struct khttp *c, const struct kres *res, const char *ns,
    const char *name, kreq_done_fn done, void *arg)
{
	return kobj_send(c, "GET", kres_path(res, ns, name, NULL), NULL, NULL,
	    done, arg);
}

struct kreq *
kobj_create(struct khttp *c, const struct kres *res, const char *ns,
    const char *json, kreq_done_fn done, void *arg)
{
	return kobj_send(c, "POST", with_manager(kres_path(res, ns, NULL, NULL)),
	    "application/json", json, done, arg);
}

struct kreq *
kobj_update(struct khttp *c, const struct kres *res, const char *ns,
    const char *name, const char *subresource, const char *json,
    kreq_done_fn done, void *arg)
{
	return kobj_send(c, "PUT",
	    with_manager(kres_path(res, ns, name, subresource)),
	    "application/json", json, done, arg);
}

struct kreq *
kobj_merge_patch(struct khttp *c, const struct kres *res, const char *ns,
    const char *name, const char *subresource, const char *patch,
    kreq_done_fn done, void *arg)
{
	return kobj_send(c, "PATCH",
	    with_manager(kres_path(res, ns, name, subresource)),
	    "application/merge-patch+json", patch, done, arg);
}

struct kreq *
kobj_json_patch(struct khttp *c, const struct kres *res, const char *ns,
    const char *name, const char *subresource, const char *patch,
    kreq_done_fn done, void *arg)
{
	return kobj_send(c, "PATCH",
	    with_manager(kres_path(res, ns, name, subresource)),
	    "application/json-patch+json", patch, done, arg);
}

struct kreq *
kobj_delete(struct khttp *c, const struct kres *res, const char *ns,
    const char *name, const char *uid, const char *rv, kreq_done_fn done,
    void *arg)
{
	struct jw w;
	char *body;
	struct kreq *r;

	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "kind", "DeleteOptions");
	jw_kstr(&w, "apiVersion", "v1");
	jw_kstr(&w, "propagationPolicy", "Background");
	if ((uid && *uid) || (rv && *rv)) {
		jw_key(&w, "preconditions");
		jw_obj_open(&w);
		if (uid && *uid)
			jw_kstr(&w, "uid", uid);
		if (rv && *rv)
			jw_kstr(&w, "resourceVersion", rv);
		jw_obj_close(&w);
	}
	jw_obj_close(&w);
	body = jw_finish(&w, NULL);
	r = kobj_send(c, "DELETE", kres_path(res, ns, name, NULL),
	    "application/json", body, done, arg);
	free(body);
	return r;
}

char *
kwrite_finalizer_add_patch(const char *const *current, size_t n,
    const char *rv, const char *finalizer)
{
	struct jw w;
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(current[i], finalizer) == 0)
			return NULL;
	jw_init(&w);
	jw_arr_open(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "op", "test");
	if (n == 0) {
		/* No list to test: pin the whole object instead. */
		jw_kstr(&w, "path", "/metadata/resourceVersion");
		jw_kstr(&w, "value", rv ? rv : "");
	} else {
		jw_kstr(&w, "path", "/metadata/finalizers");
		jw_key(&w, "value");
		jw_arr_open(&w);
		for (i = 0; i < n; i++)
			jw_str(&w, current[i]);
		jw_arr_close(&w);
	}
	jw_obj_close(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "op", "add");
	if (n == 0) {
		jw_kstr(&w, "path", "/metadata/finalizers");
		jw_key(&w, "value");
		jw_arr_open(&w);
		jw_str(&w, finalizer);
		jw_arr_close(&w);
	} else {
		jw_kstr(&w, "path", "/metadata/finalizers/-");
		jw_kstr(&w, "value", finalizer);
	}
	jw_obj_close(&w);
	jw_arr_close(&w);
	return jw_finish(&w, NULL);
}

char *
kwrite_finalizer_remove_patch(const char *const *current, size_t n,
    const char *finalizer)
{
	struct jw w;
	char path[64];
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(current[i], finalizer) == 0)
			break;
	if (i == n)
		return NULL;
	snprintf(path, sizeof(path), "/metadata/finalizers/%zu", i);
	jw_init(&w);
	jw_arr_open(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "op", "test");
	jw_kstr(&w, "path", path);
	jw_kstr(&w, "value", finalizer);
	jw_obj_close(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "op", "remove");
	jw_kstr(&w, "path", path);
	jw_obj_close(&w);
	jw_arr_close(&w);
	return jw_finish(&w, NULL);
}

static const char *const outcome_names[] = {
	[KW_OK] = "ok",
	[KW_NOT_FOUND] = "not-found",
	[KW_CONFLICT] = "conflict",
	[KW_EXISTS] = "already-exists",
	[KW_RETRY] = "retry",
	[KW_INVALID] = "invalid",
	[KW_FORBIDDEN] = "forbidden",
	[KW_FAILED] = "failed",
};

const char *
kwrite_outcome_name(enum kwrite_outcome o)
{
	return o < ARRAY_SIZE(outcome_names) ? outcome_names[o] : "unknown";
}

/* The Status reason of an error body, or NULL. */
static char *
status_field(const struct kreq *r, const char *field)
{
	yajl_val v;
	char *out = NULL;

	if (r->body.len == 0 || r->body.data[0] != '{')
		return NULL;
	v = json_parse(r->body.data, r->body.len, NULL, 0);
	if (v && json_gets(v, "kind") && strcmp(json_gets(v, "kind"), "Status") == 0)
		out = xstrdup(json_gets(v, field));
	json_free(v);
	return out;
}

enum kwrite_outcome
kwrite_classify(const struct kreq *r)
{
	enum kwrite_outcome o;
	char *reason;

	if (r->status == 0)
		return KW_RETRY;
	if (r->status >= 200 && r->status < 300)
		return KW_OK;
	switch (r->status) {
	case 404:
		return KW_NOT_FOUND;
	case 409:
		reason = status_field(r, "reason");
		o = streq(reason, "AlreadyExists") ? KW_EXISTS : KW_CONFLICT;
		free(reason);
		return o;
	case 422: {
		/* A failed JSON-patch `test` means our read was stale. */
		char *msg = status_field(r, "message");
		o = msg && strstr(msg, "test") ? KW_CONFLICT : KW_INVALID;
		free(msg);
		return o;
	}
	case 400:
	case 413:
	case 415:
		return KW_INVALID;
	case 401:
	case 403:
		return KW_FORBIDDEN;
	case 429:
		return KW_RETRY;
	default:
		return r->status >= 500 ? KW_RETRY : KW_FAILED;
	}
}

void
kwrite_error_text(const struct kreq *r, char *out, size_t len)
{
	char *msg;

	if (r->status == 0) {
		snprintf(out, len, "%s", r->errmsg[0] ? r->errmsg : "no response");
		return;
	}
	msg = status_field(r, "message");
	if (msg)
		snprintf(out, len, "HTTP %ld: %s", r->status, msg);
	else
		snprintf(out, len, "HTTP %ld", r->status);
	free(msg);
}
