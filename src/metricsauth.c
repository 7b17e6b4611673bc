/*
 * metricsauth.c - TokenReview and SubjectAccessReview for /metrics (see
 * metricsauth.h).
 *
 * A request that the cache cannot answer becomes a check (struct
 * mauth_check) that owns the deferred HTTP response and the review in
 * flight: the TokenReview (token_review_done), then the
 * SubjectAccessReview (access_review_done), then the answer.
 * The connection closing first cancels the check (mauth_cancel): the
 * review is cancelled and the check freed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "khttp.h"
#include "kwrite.h"
#include "log.h"
#include "metricsauth.h"

#define MAUTH_DIGEST_LEN	SHA256_LEN
#define MAUTH_TR_PATH	"/apis/authentication.k8s.io/v1/tokenreviews"
#define MAUTH_SAR_PATH	"/apis/authorization.k8s.io/v1/subjectaccessreviews"
#define MAUTH_MAX_ANSWER	(1u << 20)	/* a review's answer body */

struct mauth_entry {
	unsigned char digest[MAUTH_DIGEST_LEN];
	double expires;		/* ev_now(); 0: free slot */
	int status;		/* 200, 401 or 403 */
};

struct mauth_check {
	struct metricsauth *auth;
	struct httpd_defer *defer;
	struct kreq *kr;		/* the review in flight */
	unsigned char digest[MAUTH_DIGEST_LEN];
	struct mauth_check *next, *prev;
};

struct metricsauth {
	struct ev_loop *loop;
	struct khttp *http;
	char *path;
	metricsauth_serve_fn serve;
	void *serve_arg;
	struct mauth_entry cache[MAUTH_CACHE_SIZE];
	struct mauth_check *checks;
	size_t inflight;
	double last_busy_log;
};

/* ---- the cache ------------------------------------------------------------- */

/* The cached verdict of a digest (200, 401, 403), 0 when none. */
static int
cache_get(struct metricsauth *a, const unsigned char *digest)
{
	double now = ev_now(a->loop);
	size_t i;

	for (i = 0; i < MAUTH_CACHE_SIZE; i++) {
		struct mauth_entry *e = &a->cache[i];

		if (e->expires > now &&
		    memcmp(e->digest, digest, MAUTH_DIGEST_LEN) == 0)
			return e->status;
	}
	return 0;
}

/* Stores a verdict: replaces the entry of the same digest, else a free
 * or expired slot, else the one that expires first. */
static void
cache_put(struct metricsauth *a, const unsigned char *digest, int status)
{
	double now = ev_now(a->loop);
	struct mauth_entry *slot = NULL;
	size_t i;

	for (i = 0; i < MAUTH_CACHE_SIZE; i++) {
		struct mauth_entry *e = &a->cache[i];

		if (e->expires > 0 &&
		    memcmp(e->digest, digest, MAUTH_DIGEST_LEN) == 0) {
			slot = e;
			break;
		}
		if (slot == NULL || (slot->expires > now && e->expires < slot->expires))
			slot = e;
	}
	memcpy(slot->digest, digest, MAUTH_DIGEST_LEN);
	slot->status = status;
	slot->expires = now + (status == 200 ? MAUTH_ALLOW_TTL : MAUTH_DENY_TTL);
}

/* ---- answers ---------------------------------------------------------------- */

/* Fills resp with the verdict: the protected page for 200, else a short
 * error. */
static void
answer(struct metricsauth *a, struct httpd_resp *resp, int status)
{
	const char *text;

	if (status == 200) {
		a->serve(resp, a->serve_arg);
		return;
	}
	buf_reset(&resp->body);
	resp->status = status;
	strlcpy0(resp->content_type, "text/plain; charset=utf-8",
	    sizeof(resp->content_type));
	switch (status) {
	case 401:
		text = "Unauthorized\n";
		strlcpy0(resp->extra_headers, "WWW-Authenticate: Bearer\r\n",
		    sizeof(resp->extra_headers));
		break;
	case 403:
		text = "Forbidden\n";
		break;
	case 503:
		text = "too many authorization checks in progress\n";
		break;
	default:
		text = "authentication or authorization check failed\n";
		break;
	}
	if (buf_puts(&resp->body, text) < 0)
		die_oom();
}

/* ---- checks ---------------------------------------------------------------- */

static void
check_unlink_free(struct mauth_check *ck)
{
	struct metricsauth *a = ck->auth;

	if (ck->prev)
		ck->prev->next = ck->next;
	else
		a->checks = ck->next;
	if (ck->next)
		ck->next->prev = ck->prev;
	a->inflight--;
	secure_zero(ck->digest, sizeof(ck->digest));
	free(ck);
}

/* Ends a check: answers the deferred response with status (and caches
 * the verdict unless it is an error). */
static void
check_finish(struct mauth_check *ck, int status)
{
	struct metricsauth *a = ck->auth;
	struct httpd_defer *d = ck->defer;

	if (status == 200 || status == 401 || status == 403)
		cache_put(a, ck->digest, status);
	answer(a, httpd_defer_resp(d), status);
	check_unlink_free(ck);
	httpd_defer_done(d);
}

static void
mauth_cancel(struct httpd_defer *d, void *arg)
{
	struct mauth_check *ck = arg;

	(void)d;
	if (ck->kr)
		kreq_cancel(ck->kr);
	check_unlink_free(ck);
}

/* Starts a POST of a review; the body is wiped from our memory at once
 * (khttp keeps its own copy and wipes it when the request ends). */
static void
review_start(struct mauth_check *ck, const char *path, struct jw *w,
    kreq_done_fn done)
{
	const char *text;
	size_t len = 0;

	ck->kr = khttp_request(ck->auth->http, "POST", path, done, ck);
	text = jw_text(w, &len);
	kreq_set_body(ck->kr, "application/json", text, len);
	secure_zero((char *)text, len);
	jw_release(w);
	kreq_set_timeout(ck->kr, MAUTH_REVIEW_TIMEOUT);
	kreq_set_max_body(ck->kr, MAUTH_MAX_ANSWER);
	kreq_set_retries(ck->kr, 0);
	kreq_start(ck->kr);
}

/* Parses a review's answer; NULL (after logging why) unless it is a 2xx
 * JSON object. The body is wiped: a TokenReview echoes the token. */
static yajl_val
review_answer(struct kreq *r, const char *what)
{
	char err[256];
	yajl_val v = NULL;

	if (r->status == 200 || r->status == 201) {
		v = json_parse(r->body.data ? r->body.data : "", r->body.len, err,
		    sizeof(err));
		if (v == NULL || !YAJL_IS_OBJECT(v)) {
			json_free(v);
			v = NULL;
			log_error("metrics authorization failed", "review", what,
			    "error", "the answer is not a JSON object");
		}
	} else {
		char code[16];

		snprintf(code, sizeof(code), "%ld", r->status);
		kwrite_error_text(r, err, sizeof(err));
		log_error("metrics authorization failed", "review", what,
		    "status", code, "error", err);
	}
	if (r->body.data)
		secure_zero(r->body.data, r->body.len);
	return v;
}

static void
access_review_done(struct kreq *r, void *arg)
{
	struct mauth_check *ck = arg;
	yajl_val v;
	bool allowed = false;
	int status = 500;

	ck->kr = NULL;
	v = review_answer(r, "SubjectAccessReview");
	if (v) {
		yajl_val al = json_getp(v, "status.allowed");

		if (al == NULL || json_bool(al, &allowed))
			status = allowed ? 200 : 403;
		else
			log_error("metrics authorization failed", "review",
			    "SubjectAccessReview", "error", "status.allowed is not a boolean");
		if (status == 403)
			log_debug("metrics request forbidden", "reason",
			    json_gets(v, "status.reason"));
		json_free(v);
	}
	check_finish(ck, status);
}

/* Writes spec.user/uid/groups/extra of the SubjectAccessReview from the
 * TokenReview's status.user. */
static void
write_user(struct jw *w, yajl_val user)
{
	yajl_val groups = json_getp(user, "groups");
	yajl_val extra = json_getp(user, "extra");
	const char *uid = json_gets(user, "uid");
	size_t i;

	jw_kstr(w, "user", json_gets(user, "username"));
	if (uid && *uid)
		jw_kstr(w, "uid", uid);
	if (json_len(groups) > 0 && YAJL_IS_ARRAY(groups)) {
		jw_key(w, "groups");
		jw_arr_open(w);
		for (i = 0; i < json_len(groups); i++)
			if (json_str(json_at(groups, i)))
				jw_str(w, json_str(json_at(groups, i)));
		jw_arr_close(w);
	}
	if (json_len(extra) > 0 && YAJL_IS_OBJECT(extra)) {
		jw_key(w, "extra");
		jw_value(w, extra);
	}
}

static void
token_review_done(struct kreq *r, void *arg)
{
	struct mauth_check *ck = arg;
	struct metricsauth *a = ck->auth;
	yajl_val v, user;
	const char *name;
	bool authn = false;
	struct jw w;

	ck->kr = NULL;
	v = review_answer(r, "TokenReview");
	if (v == NULL) {
		check_finish(ck, 500);
		return;
	}
	user = json_getp(v, "status.user");
	name = json_gets(v, "status.user.username");
	if (!json_bool(json_getp(v, "status.authenticated"), &authn) || !authn ||
	    name == NULL || *name == '\0') {
		json_free(v);
		log_debug("metrics request not authenticated");
		check_finish(ck, 401);
		return;
	}
	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "apiVersion", "authorization.k8s.io/v1");
	jw_kstr(&w, "kind", "SubjectAccessReview");
	jw_key(&w, "spec");
	jw_obj_open(&w);
	write_user(&w, user);
	jw_key(&w, "nonResourceAttributes");
	jw_obj_open(&w);
	jw_kstr(&w, "path", a->path);
	jw_kstr(&w, "verb", "get");
	jw_obj_close(&w);
	jw_obj_close(&w);
	jw_obj_close(&w);
	json_free(v);
	review_start(ck, MAUTH_SAR_PATH, &w, access_review_done);
}

/* The token of "Authorization: Bearer <token>" (scheme case-insensitive),
 * or NULL. */
static const char *
bearer_token(const struct httpd_req *req, size_t *len)
{
	const char *h = httpd_req_header(req, "authorization");
	const char *t;

	if (h == NULL || strncasecmp(h, "bearer ", 7) != 0)
		return NULL;
	t = h + 7;
	while (*t == ' ' || *t == '\t')
		t++;
	*len = strlen(t);
	if (*len == 0 || strpbrk(t, " \t") != NULL)
		return NULL;
	return t;
}

void
metricsauth_handler(const struct httpd_req *req, struct httpd_resp *resp,
    void *arg)
{
	struct metricsauth *a = arg;
	struct mauth_check *ck;
	unsigned char digest[MAUTH_DIGEST_LEN];
	const char *token;
	size_t len = 0;
	struct jw w;
	int status;

	token = bearer_token(req, &len);
	if (token == NULL) {
		answer(a, resp, 401);
		return;
	}
	sha256(token, len, digest);
	status = cache_get(a, digest);
	if (status != 0) {
		secure_zero(digest, sizeof(digest));
		answer(a, resp, status);
		return;
	}
	if (a->http == NULL) {
		secure_zero(digest, sizeof(digest));
		log_error("metrics authorization failed", "error",
		    "no API client yet");
		answer(a, resp, 500);
		return;
	}
	if (a->inflight >= MAUTH_MAX_INFLIGHT) {
		secure_zero(digest, sizeof(digest));
		if (ev_now(a->loop) - a->last_busy_log > 10) {
			a->last_busy_log = ev_now(a->loop);
			log_warn("too many metrics authorization checks in progress, refusing");
		}
		answer(a, resp, 503);
		return;
	}
	ck = xcalloc(1, sizeof(*ck));
	ck->auth = a;
	memcpy(ck->digest, digest, sizeof(digest));
	secure_zero(digest, sizeof(digest));
	ck->next = a->checks;
	if (a->checks)
		a->checks->prev = ck;
	a->checks = ck;
	a->inflight++;
	ck->defer = httpd_resp_defer(resp, mauth_cancel, ck);
	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "apiVersion", "authentication.k8s.io/v1");
	jw_kstr(&w, "kind", "TokenReview");
	jw_key(&w, "spec");
	jw_obj_open(&w);
	jw_key(&w, "token");
	jw_strn(&w, token, len);
	jw_obj_close(&w);
	jw_obj_close(&w);
	review_start(ck, MAUTH_TR_PATH, &w, token_review_done);
}

/* ---- life cycle -------------------------------------------------------------- */

struct metricsauth *
metricsauth_new(struct ev_loop *loop, const char *path,
    metricsauth_serve_fn serve, void *arg)
{
	struct metricsauth *a = xcalloc(1, sizeof(*a));

	a->loop = loop;
	a->path = xstrdup(path);
	a->serve = serve;
	a->serve_arg = arg;
	return a;
}

void
metricsauth_set_client(struct metricsauth *a, struct khttp *http)
{
	a->http = http;
}

void
metricsauth_free(struct metricsauth *a)
{
	if (a == NULL)
		return;
	/* Only when the server was not freed first (see the header). */
	while (a->checks) {
		struct mauth_check *ck = a->checks;

		if (ck->kr)
			kreq_cancel(ck->kr);
		check_unlink_free(ck);
	}
	secure_zero(a->cache, sizeof(a->cache));
	free(a->path);
	free(a);
}
