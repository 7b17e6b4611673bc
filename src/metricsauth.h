/*
 * metricsauth.h - authentication and authorization of /metrics requests
 * (--metrics-secure), the way controller-runtime's secure metrics serving
 * does it (filters.WithAuthenticationAndAuthorization).
 *
 * Every request must carry "Authorization: Bearer <token>". The token is
 * checked with a TokenReview (POST
 * /apis/authentication.k8s.io/v1/tokenreviews); the user it names is then
 * checked with a SubjectAccessReview (POST
 * /apis/authorization.k8s.io/v1/subjectaccessreviews) for the
 * non-resource path and verb "get". Outcomes:
 *
 *  - no or malformed Authorization, or a token the API server does not
 *    authenticate: 401;
 *  - authenticated but not allowed: 403;
 *  - a review that fails (transport, timeout, an error status, an answer
 *    that does not parse), no API client, or too many checks in flight:
 *    500 (503 for the last), and never the protected page;
 *  - allowed: the serve callback fills the response.
 *
 * Verdicts are cached per token: allowed for MAUTH_ALLOW_TTL seconds,
 * refused (401, 403) for MAUTH_DENY_TTL; errors are not cached. The cache
 * holds at most MAUTH_CACHE_SIZE entries and keeps only the SHA-256 digest
 * of each token; tokens are never logged and the request bodies holding
 * them are wiped once sent. The reviews run on the API client
 * asynchronously: the HTTP response is deferred (httpd_resp_defer) until
 * they answer.
 */
#ifndef DBP_METRICSAUTH_H
#define DBP_METRICSAUTH_H

#include <ev.h>

#include "httpd.h"

#define MAUTH_ALLOW_TTL		60.0
#define MAUTH_DENY_TTL		10.0
#define MAUTH_CACHE_SIZE	256
#define MAUTH_MAX_INFLIGHT	64	/* reviews waiting for the API server */
#define MAUTH_REVIEW_TIMEOUT	4.0	/* per review: both stay under the
					 * server's 10 s write deadline */

struct khttp;
struct metricsauth;

/* Fills the response of an allowed request. */
typedef void (*metricsauth_serve_fn)(struct httpd_resp *resp, void *arg);

/* Creates the checker for the non-resource path (copied); serve answers
 * allowed requests. No API client yet: every uncached request gets 500
 * until metricsauth_set_client(). */
struct metricsauth *metricsauth_new(struct ev_loop *loop, const char *path,
    metricsauth_serve_fn serve, void *arg);
/* The client the reviews are sent with (NULL: none). */
void metricsauth_set_client(struct metricsauth *a, struct khttp *http);
/* An httpd handler (arg: the struct metricsauth). */
void metricsauth_handler(const struct httpd_req *req, struct httpd_resp *resp,
    void *arg);
/* Frees the checker. Call after freeing (or stopping) the HTTP server
 * whose handler it is, which cancels the checks in flight, and before
 * freeing the API client. NULL is a no-op. */
void metricsauth_free(struct metricsauth *a);

#endif
