/*
 * httpd.h - a small HTTP/1.1 server on the libev loop, for /metrics,
 * /healthz and /readyz. No threads, no blocking calls.
 *
 * One struct httpd is one listening socket. Connections are accepted
 * non-blocking and driven by one state machine each (enum hconn_state):
 * optional TLS handshake, reading a request, writing the response,
 * lingering after an error. Limits that protect the loop:
 *
 *  - request line + headers <= HTTPD_MAX_HEAD bytes, <= HTTPD_MAX_HEADERS
 *    header lines; a body is accepted (and ignored) only up to
 *    HTTPD_MAX_BODY bytes and never chunked; anything malformed gets an
 *    error status (400, 413, 431, 501, 505) and the connection is closed;
 *  - every waiting state has a deadline: a client that sends nothing, or
 *    dribbles its request, or never reads its response, is closed after
 *    read_timeout / write_timeout seconds; writes never block the loop
 *    (partial writes resume on EV_WRITE);
 *  - at most max_conns connections: beyond that a new connection is
 *    accepted and closed at once (so the backlog never fills);
 *  - the bytes of responses queued but not yet sent, over all
 *    connections, stay under max_out_bytes: beyond it requests get 503.
 *
 * Deferred responses: a handler that must wait for something (an API
 * call) calls httpd_resp_defer() and answers later with
 * httpd_defer_done(). Meanwhile the connection reads nothing more (a
 * pipelined request waits its turn) and the write deadline runs; if it
 * expires, the client goes away or the server stops, the handler's
 * cancel callback runs instead, and the handle is gone.
 *
 * Keep-alive: HTTP/1.1 connections stay open for further requests unless
 * the client says "Connection: close" (HTTP/1.0: the reverse); a kept-alive
 * connection that sends nothing for read_timeout seconds is closed.
 *
 * TLS (optional): certificate chain and key from PEM files, checked for
 * changes every tls_reload_interval seconds (inode, size, mtime) and
 * reloaded when both load; a bad pair keeps the previous one. Only
 * http/1.1 is offered by ALPN; TLS 1.2 at least.
 */
#ifndef DBP_HTTPD_H
#define DBP_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <ev.h>

#include "buf.h"
#include "util.h"

#define HTTPD_MAX_HEAD		8192	/* request line + headers */
#define HTTPD_MAX_HEADERS	64
#define HTTPD_MAX_BODY		1024	/* bodies are read and ignored */

struct httpd;

struct httpd_header {
	const char *name;
	const char *value;	/* leading/trailing blanks removed */
};

/* A parsed request. The strings are NUL-terminated copies kept in
 * store[], so the request stays valid when the input buffer moves. */
struct httpd_req {
	const char *method;	/* "GET" */
	const char *target;	/* "/metrics?x=1" as sent */
	const char *path;	/* "/metrics" */
	const char *query;	/* "x=1", or NULL when there is no '?' */
	int minor;		/* HTTP/1.<minor>: 0 or 1 */
	bool keep_alive;	/* from the version and Connection */
	size_t content_length;	/* body bytes that follow the head */
	const char *host;	/* Host header or NULL */
	struct httpd_header headers[HTTPD_MAX_HEADERS];
	size_t nheaders;
	char store[HTTPD_MAX_HEAD + 8];	/* private */
};

/* Parses one request head at the start of buf[0..len); buf is not
 * modified. *scan is where the search for the end of the head resumes
 * (start with 0; the function advances it, so a client sending one byte
 * at a time costs O(n) overall, not O(n^2)).
 *
 * Returns the size of the head (> 0) when a complete, valid head was
 * found (req is then filled; the body of req->content_length bytes
 * follows the head), 0 when more bytes are needed, or minus an HTTP
 * status (-400, -413, -431, -501, -505) when the request must be refused
 * (req is then unspecified). Pure: no I/O, no allocation. */
ssize_t httpd_parse(const char *buf, size_t len, size_t *scan,
    struct httpd_req *req);

/* The value of a header (case-insensitive name), or NULL. */
const char *httpd_req_header(const struct httpd_req *req, const char *name);

/* The response a handler fills in. status defaults to 200, content type
 * to text/plain; the body is an empty buffer (capped by the server). */
struct httpd_resp {
	int status;
	char content_type[96];
	struct buf body;
	char extra_headers[256];	/* "Name: value\r\n" lines, optional */
	void *conn;			/* private to httpd.c */
};

/* A handler runs synchronously in the loop and must not block. */
typedef void (*httpd_handler_fn)(const struct httpd_req *req,
    struct httpd_resp *resp, void *arg);

/* A response the handler gives later. */
struct httpd_defer;
/* Called instead of an answer when the connection of a deferred response
 * closes first (deadline, client gone, httpd_stop/httpd_free). d is
 * invalid once it returns; the callback must not call httpd functions
 * on it. */
typedef void (*httpd_cancel_fn)(struct httpd_defer *d, void *arg);

/* Called from inside a handler only, at most once: the response is given
 * later through the returned handle, which the server owns. What the
 * handler wrote into resp is discarded. The request is not valid after
 * the handler returns: copy what is needed. Never NULL. */
struct httpd_defer *httpd_resp_defer(struct httpd_resp *resp,
    httpd_cancel_fn cancel, void *arg);
/* The response to fill in (status 200, text/plain and an empty capped
 * body, as for a handler), valid until httpd_defer_done() or the cancel
 * callback. */
struct httpd_resp *httpd_defer_resp(struct httpd_defer *d);
/* Sends the response filled in httpd_defer_resp(d) (only the head for
 * HEAD) and frees d; the cancel callback will not run. Not from inside
 * the handler that deferred: a handler that has its answer at once does
 * not defer. */
void httpd_defer_done(struct httpd_defer *d);

/* The reason phrase of a status ("Not Found"); "Unknown" if unknown. */
const char *httpd_status_text(int status);

struct httpd_config {
	const char *name;		/* "metrics", "health": logs */
	const char *host;		/* "" or NULL: all addresses */
	int port;			/* 0: an ephemeral port */
	size_t max_conns;		/* 0: 4096 */
	size_t max_out_bytes;		/* 0: 64 MiB */
	double read_timeout;		/* 0: 5 s (handshake, request, idle) */
	double write_timeout;		/* 0: 10 s (whole response) */
	/* TLS: both or neither. */
	const char *tls_cert_file;
	const char *tls_key_file;
	double tls_reload_interval;	/* 0: 10 s */
};

struct httpd_stats {
	unsigned long long accepted;	/* connections accepted */
	unsigned long long refused;	/* closed at once: over max_conns */
	unsigned long long requests;	/* requests answered (any status) */
	unsigned long long bad_requests;/* answered with 4xx/5xx by the parser */
	unsigned long long timeouts;	/* connections closed by a deadline */
	unsigned long long tls_errors;	/* failed handshakes or TLS I/O */
	unsigned long long tls_reloads;	/* certificate pairs loaded after start */
	size_t open;			/* connections now */
	size_t out_bytes;		/* response bytes queued now */
};

/* Creates the server: binds and listens (SO_REUSEADDR), loads the TLS
 * pair when configured. Returns NULL with a message in err when the
 * address cannot be bound or the certificate cannot be loaded. Nothing
 * is accepted before httpd_start(). */
struct httpd *httpd_new(struct ev_loop *loop, const struct httpd_config *cfg,
    char *err, size_t errlen);
/* Serves path (exact match on the path, query ignored) with fn; later
 * registrations of the same path replace earlier ones. GET and HEAD only
 * (others get 405); unknown paths get 404. */
void httpd_route(struct httpd *s, const char *path, httpd_handler_fn fn,
    void *arg);
void httpd_start(struct httpd *s);
/* Stops accepting and closes every connection (responses in progress
 * are cut). The listening socket stays bound until httpd_free(). */
void httpd_stop(struct httpd *s);
void httpd_free(struct httpd *s);

/* The port actually bound (useful with port 0). */
int httpd_port(const struct httpd *s);
bool httpd_tls(const struct httpd *s);
const struct httpd_stats *httpd_stats(const struct httpd *s);

#endif
