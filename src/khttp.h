/*
 * khttp.h - HTTP requests to the Kubernetes API over the libcurl multi
 * interface, driven by libev (no blocking calls, no polling).
 *
 * One client (struct khttp) per API server: it owns the curl multi handle,
 * its socket watchers and its timer, and the credentials. Requests
 * (struct kreq) are created with khttp_request(), configured, and started
 * with kreq_start(). When a request ends its done callback runs exactly
 * once (unless it was cancelled), and the request is freed right after the
 * callback returns: the callback must not keep the pointer.
 *
 * Streaming (watch) requests hand each complete newline-terminated line of
 * the body to a line callback as it arrives, however the server chunks it;
 * the body is not kept.
 *
 * Credentials: the bearer token is fetched from the kconfig for every
 * attempt (token files are re-read at most every minute); a 401 invalidates
 * it and the request is retried once with a fresh read. Requests answered
 * with 429 or 5xx carrying Retry-After are retried after that delay (capped),
 * a few times, unless the request opted out. Tokens never reach the logs:
 * curl's debug output is filtered.
 */
#ifndef DBP_KHTTP_H
#define DBP_KHTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>

#include "buf.h"
#include "curlev.h"
#include "util.h"

struct khttp;
struct kreq;

/* Called once when the request has finished (any outcome). */
typedef void (*kreq_done_fn)(struct kreq *req, void *arg);
/* Called for each complete line of a streaming body; return 0 to go on,
 * -1 to abort the transfer (the done callback then sees KREQ_EABORT). */
typedef int (*kreq_line_fn)(struct kreq *req, const char *line, size_t len,
    void *arg);

/* Transport-level outcome, in req->error when status is 0 or the body
 * could not be taken. */
enum kreq_error {
	KREQ_OK = 0,
	KREQ_ETRANSPORT,	/* connect/TLS/reset; message in req->errmsg */
	KREQ_ETIMEOUT,		/* no answer within the request timeout */
	KREQ_ETOOBIG,		/* body or one line over the cap */
	KREQ_EABORT,		/* the line callback asked to stop */
};

struct kreq_stats {
	unsigned long long requests;	/* attempts sent */
	unsigned long long retries;	/* 401/429/5xx retries */
	unsigned long long errors;	/* transport errors */
};

struct kreq {
	/* Results, valid in the done callback. */
	long status;			/* HTTP status, 0 on transport error */
	enum kreq_error error;
	char errmsg[256];		/* one line, never contains secrets */
	struct buf body;		/* response body (not for streams) */
	double retry_after;		/* Retry-After seconds, or -1 */
	char content_type[64];
	/* Request description, for logs and metrics. */
	const char *method;
	char *path;
	/* Everything below is private to khttp.c. */
	struct khttp *client;
	struct curlev_xfer xfer;	/* the easy handle of this attempt */
	struct curl_slist *headers;
	char *req_body;
	char req_content_type[96];
	size_t req_body_len;
	kreq_done_fn on_done;
	kreq_line_fn on_line;
	void *arg;
	double timeout;
	double idle_timeout;
	int max_retries;
	int attempts;
	bool auth_retried;
	bool started;
	bool cancelled;
	bool finished;			/* done callback running */
	bool launched;			/* counted in flight */
	ev_timer retry_timer;
	struct kreq *next, *prev;	/* client's list of live requests */
	char curl_err[256];
	double started_at;
};

/* Where and how to connect. Strings are copied by khttp_new(); PEM data
 * (in memory) takes precedence over the file of the same role. */
struct khttp_config {
	const char *server;		/* https://host:port[/prefix] */
	const char *ca_file;
	const char *ca_pem;
	const char *cert_file;
	const char *cert_pem;
	const char *key_file;
	const char *key_pem;
	bool insecure;			/* skip TLS verification (kubeconfig said so) */
	const char *proxy_url;		/* kubeconfig proxy-url, or NULL */
	/* Name to send (SNI) and to verify the certificate against instead
	 * of the URL's host (kubeconfig tls-server-name), or NULL. */
	const char *tls_server_name;
	bool disable_compression;	/* no Accept-Encoding: gzip */
	const char *user_agent;		/* "dbprovd/0.1.0 (linux/amd64)" */
	/* Current bearer token or NULL (no token auth); called for every
	 * attempt. invalidate forces a fresh read after a 401. */
	const char *(*token)(void *arg, double now);
	void (*token_invalidate)(void *arg);
	void *token_arg;
};

/* Creates a client. Returns NULL with a message in err when curl cannot be
 * set up. */
struct khttp *khttp_new(struct ev_loop *loop, const struct khttp_config *cfg,
    char *err, size_t errlen);
/* Cancels every live request (no callbacks) and frees the client. */
void khttp_free(struct khttp *c);
struct ev_loop *khttp_loop(struct khttp *c);
const struct kreq_stats *khttp_stats(const struct khttp *c);
/* Observes every finished attempt, retries included (metrics): the
 * method, the HTTP status (0 when none was received) and the seconds from
 * sending to the response headers (streams) or to the end (others). Runs
 * synchronously and must not call khttp. fn NULL removes it. */
typedef void (*khttp_observe_fn)(void *arg, const char *method, long status,
    double seconds);
void khttp_set_observer(struct khttp *c, khttp_observe_fn fn, void *arg);
/* Number of requests started and not yet finished. */
size_t khttp_inflight(const struct khttp *c);

/* Creates a request; path is appended to the server URL and must start
 * with '/' (query included, already escaped). Nothing is sent until
 * kreq_start(). */
struct kreq *khttp_request(struct khttp *c, const char *method,
    const char *path, kreq_done_fn done, void *arg);
/* Sets a JSON (or patch) body, copied. */
void kreq_set_body(struct kreq *r, const char *content_type,
    const char *body, size_t len);
/* Total time allowed, seconds (default 30). 0 means none (streams). */
void kreq_set_timeout(struct kreq *r, double seconds);
/* Aborts the transfer when no byte arrives for this long (streams). */
void kreq_set_idle_timeout(struct kreq *r, double seconds);
/* Caps the buffered body (default 64 MiB) or, for streams, one line. */
void kreq_set_max_body(struct kreq *r, size_t max);
/* Makes the request a stream: lines go to fn, the body is not kept. */
void kreq_set_stream(struct kreq *r, kreq_line_fn fn);
/* Number of automatic Retry-After retries (default 5, 0 disables). */
void kreq_set_retries(struct kreq *r, int n);
/* Sends the request. */
void kreq_start(struct kreq *r);
/* Stops a request: its done callback will not run. Safe to call from any
 * callback, including the request's own line callback; the request is
 * freed later by the client. A no-op once the done callback runs. */
void kreq_cancel(struct kreq *r);

/* Percent-encodes s for a URL query value or path segment (everything but
 * RFC 3986 unreserved characters); returns a malloc'ed string. */
char *khttp_escape(const char *s);

#endif
