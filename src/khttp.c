/*
 * khttp.c - Kubernetes API requests: the API server's address and TLS,
 * tokens, retries with Retry-After, streamed watch lines. The transfers
 * run on curlev (curl multi on the libev loop).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "khttp.h"
#include "log.h"

#define KREQ_DEFAULT_TIMEOUT	30.0
#define KREQ_DEFAULT_MAX_BODY	(64u << 20)
#define KREQ_DEFAULT_RETRIES	5
#define KREQ_MAX_RETRY_AFTER	60.0
#define KHTTP_CONNECT_TIMEOUT_MS 10000L

struct khttp {
	struct ev_loop *loop;
	struct curlev *multi;
	ev_prepare reaper;	/* frees cancelled requests between iterations */
	char *server;
	char *ca_file, *cert_file, *key_file;
	char *ca_pem, *cert_pem, *key_pem;
	bool insecure;
	bool disable_compression;
	char *proxy_url;
	struct curl_slist *connect_to;	/* tls-server-name: real host:port */
	char *user_agent;
	const char *(*token)(void *arg, double now);
	void (*token_invalidate)(void *arg);
	void *token_arg;
	struct kreq *live;	/* every request not yet freed */
	struct kreq *graveyard;	/* cancelled, to free in the reaper */
	struct kreq_stats stats;
	size_t inflight;
	khttp_observe_fn observe;	/* metrics, optional */
	void *observe_arg;
};

static void kreq_free(struct kreq *r);
static void kreq_launch(struct kreq *r);
static void kreq_xfer_done(struct curlev_xfer *x, CURLcode result);
static void live_unlink(struct khttp *c, struct kreq *r);

static char *
dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

static void
khttp_reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct khttp *c = container_of(w, struct khttp, reaper);
	struct kreq *r;

	(void)loop;
	(void)revents;
	while ((r = c->graveyard) != NULL) {
		c->graveyard = r->next;
		r->next = NULL;
		kreq_free(r);
	}
	ev_prepare_stop(c->loop, &c->reaper);
}

/* ---- client ------------------------------------------------------------ */

/*
 * tls-server-name: the URL is rewritten to carry the name to verify, and
 * CURLOPT_CONNECT_TO sends the connection to the real host and port, so
 * curl uses the name for SNI and for the certificate check.
 */
static int
khttp_set_server_name(struct khttp *c, const char *name, char *err,
    size_t errlen)
{
	const char *p = strstr(c->server, "://"), *host, *end, *path;
	const char *port;
	char *hostport, *colon, *url;

	if (p == NULL) {
		snprintf(err, errlen, "server URL %s has no scheme", c->server);
		return -1;
	}
	host = p + 3;
	path = strchr(host, '/');
	end = path ? path : host + strlen(host);
	hostport = xstrndup(host, (size_t)(end - host));
	colon = hostport[0] == '[' ? strstr(hostport, "]:") : strrchr(hostport, ':');
	if (colon && hostport[0] == '[')
		colon++;
	if (colon) {
		*colon = '\0';
		port = colon + 1;
	} else {
		port = strncmp(c->server, "https", 5) == 0 ? "443" : "80";
	}
	url = xasprintf("%.*s%s:%s%s", (int)(host - c->server), c->server,
	    name, port, path ? path : "");
	{
		char *rule = xasprintf("%s:%s:%s:%s", name, port, hostport, port);
		c->connect_to = curl_slist_append(NULL, rule);
		free(rule);
	}
	free(hostport);
	free(c->server);
	c->server = url;
	return 0;
}

struct khttp *
khttp_new(struct ev_loop *loop, const struct khttp_config *cfg, char *err,
    size_t errlen)
{
	struct khttp *c;
	size_t n;

	if (cfg->server == NULL || *cfg->server == '\0') {
		snprintf(err, errlen, "no API server URL");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->multi = curlev_new(loop);
	if (c->multi == NULL) {
		snprintf(err, errlen, "curl_multi_init failed");
		free(c);
		return NULL;
	}
	c->server = xstrdup(cfg->server);
	n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	c->ca_file = dup_or_null(cfg->ca_file);
	c->cert_file = dup_or_null(cfg->cert_file);
	c->key_file = dup_or_null(cfg->key_file);
	c->ca_pem = dup_or_null(cfg->ca_pem);
	c->cert_pem = dup_or_null(cfg->cert_pem);
	c->key_pem = dup_or_null(cfg->key_pem);
	c->insecure = cfg->insecure;
	c->disable_compression = cfg->disable_compression;
	c->proxy_url = dup_or_null(cfg->proxy_url);
	c->user_agent = xstrdup(cfg->user_agent ? cfg->user_agent : PACKAGE_NAME "/" PACKAGE_VERSION);
	if (cfg->tls_server_name && *cfg->tls_server_name &&
	    khttp_set_server_name(c, cfg->tls_server_name, err, errlen) < 0) {
		curlev_free(c->multi);
		free(c->server);
		free(c);
		return NULL;
	}
	c->token = cfg->token;
	c->token_invalidate = cfg->token_invalidate;
	c->token_arg = cfg->token_arg;

	ev_prepare_init(&c->reaper, khttp_reaper_cb);
	return c;
}

void
khttp_free(struct khttp *c)
{
	if (c == NULL)
		return;
	while (c->live) {
		struct kreq *r = c->live;
		live_unlink(c, r);
		kreq_free(r);
	}
	while (c->graveyard) {
		struct kreq *r = c->graveyard;
		c->graveyard = r->next;
		kreq_free(r);
	}
	curlev_free(c->multi);
	ev_prepare_stop(c->loop, &c->reaper);
	free(c->server);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->ca_pem);
	free_secret(c->cert_pem);
	free_secret(c->key_pem);
	free(c->user_agent);
	free(c->proxy_url);
	curl_slist_free_all(c->connect_to);
	free(c);
}

struct ev_loop *
khttp_loop(struct khttp *c)
{
	return c->loop;
}

const struct kreq_stats *
khttp_stats(const struct khttp *c)
{
	return &c->stats;
}

size_t
khttp_inflight(const struct khttp *c)
{
	return c->inflight;
}

/* ---- requests ---------------------------------------------------------- */

static void
live_link(struct khttp *c, struct kreq *r)
{
	r->prev = NULL;
	r->next = c->live;
	if (c->live)
		c->live->prev = r;
	c->live = r;
}

static void
live_unlink(struct khttp *c, struct kreq *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else if (c->live == r)
		c->live = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
}

struct kreq *
khttp_request(struct khttp *c, const char *method, const char *path,
    kreq_done_fn done, void *arg)
{
	struct kreq *r = xcalloc(1, sizeof(*r));

	r->client = c;
	r->method = method;
	r->path = xstrdup(path);
	r->on_done = done;
	r->arg = arg;
	r->timeout = KREQ_DEFAULT_TIMEOUT;
	r->max_retries = KREQ_DEFAULT_RETRIES;
	r->retry_after = -1;
	buf_init(&r->body, KREQ_DEFAULT_MAX_BODY);
	ev_timer_init(&r->retry_timer, NULL, 0., 0.);
	live_link(c, r);
	return r;
}

void
kreq_set_body(struct kreq *r, const char *content_type, const char *body,
    size_t len)
{
	if (r->req_body)
		secure_zero(r->req_body, r->req_body_len);
	free(r->req_body);
	r->req_body = xstrndup(body, len);
	r->req_body_len = len;
	strlcpy0(r->req_content_type, content_type, sizeof(r->req_content_type));
}

void
kreq_set_timeout(struct kreq *r, double seconds)
{
	r->timeout = seconds;
}

void
kreq_set_idle_timeout(struct kreq *r, double seconds)
{
	r->idle_timeout = seconds;
}

void
kreq_set_max_body(struct kreq *r, size_t max)
{
	r->body.max = max;
}

void
kreq_set_stream(struct kreq *r, kreq_line_fn fn)
{
	r->on_line = fn;
}

void
kreq_set_retries(struct kreq *r, int n)
{
	r->max_retries = n;
}

static void
kreq_detach_easy(struct kreq *r)
{
	if (r->xfer.easy == NULL)
		return;
	if (r->xfer.active)
		curlev_remove(r->client->multi, &r->xfer);
	if (r->launched) {
		r->launched = false;
		r->client->inflight--;
	}
	curl_easy_cleanup(r->xfer.easy);
	r->xfer.easy = NULL;
	curl_slist_free_all(r->headers);
	r->headers = NULL;
}

static void
kreq_free(struct kreq *r)
{
	struct khttp *c = r->client;

	/* The caller has taken r off the live list or the graveyard. */
	kreq_detach_easy(r);
	ev_timer_stop(c->loop, &r->retry_timer);
	/* Bodies may carry Secret data (credentials Secrets written, Secrets
	 * read): wiped, not just freed. */
	buf_release_secret(&r->body);
	if (r->req_body)
		secure_zero(r->req_body, r->req_body_len);
	free(r->req_body);
	free(r->path);
	free(r);
}

void
kreq_cancel(struct kreq *r)
{
	struct khttp *c = r->client;

	if (r->cancelled || r->finished)
		return;
	r->cancelled = true;
	ev_timer_stop(c->loop, &r->retry_timer);
	live_unlink(c, r);
	/* Inside curl (a write callback) the handle cannot be removed; the
	 * write callback sees the flag and aborts, and the reaper frees the
	 * request after the current loop iteration. */
	r->next = c->graveyard;
	r->prev = NULL;
	c->graveyard = r;
	ev_prepare_start(c->loop, &c->reaper);
}

static size_t
kreq_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct kreq *r = userp;
	size_t n = size * nmemb;

	if (r->cancelled)
		return 0;
	if (r->on_line == NULL || r->status < 200 || r->status >= 300) {
		/* Whole body (errors of streams too, for their Status). */
		if (buf_append(&r->body, data, n) < 0) {
			r->error = KREQ_ETOOBIG;
			return 0;
		}
		return n;
	}
	/* Stream: reassemble lines across chunks; one chunk may also hold
	 * several lines. */
	while (n > 0) {
		char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (buf_append(&r->body, data, take) < 0) {
			r->error = KREQ_ETOOBIG;
			return 0;
		}
		if (nl == NULL)
			break;
		if (r->body.len > 0 &&
		    r->on_line(r, r->body.data, r->body.len, r->arg) < 0) {
			r->error = KREQ_EABORT;
			return 0;
		}
		buf_reset(&r->body);
		if (r->cancelled)
			return 0;
		data += take + 1;
		n -= take + 1;
	}
	return size * nmemb;
}

static double
parse_retry_after(const char *v)
{
	char *end;
	double d;

	while (*v == ' ' || *v == '\t')
		v++;
	errno = 0;
	d = strtod(v, &end);
	if (end == v || errno != 0 || d < 0)
		return -1;
	/* An HTTP date form is not used by the API server; treat as 1 s. */
	return d;
}

static size_t
kreq_header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct kreq *r = userp;
	size_t n = size * nmemb;
	char line[512];
	size_t m = n < sizeof(line) - 1 ? n : sizeof(line) - 1;

	memcpy(line, data, m);
	line[m] = '\0';
	while (m > 0 && (line[m - 1] == '\r' || line[m - 1] == '\n'))
		line[--m] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		const char *sp = strchr(line, ' ');
		/* A new response (redirect, 100-continue): start over. */
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->retry_after = -1;
		r->content_type[0] = '\0';
	} else if (strncasecmp(line, "Retry-After:", 12) == 0) {
		r->retry_after = parse_retry_after(line + 12);
	} else if (strncasecmp(line, "Content-Type:", 13) == 0) {
		const char *v = line + 13;
		while (*v == ' ')
			v++;
		strlcpy0(r->content_type, v, sizeof(r->content_type));
	} else if (strncasecmp(line, "Warning:", 8) == 0) {
		log_warn("API server warning", "method", r->method, "path",
		    r->path, "warning", line + 8);
	}
	return n;
}

/* curl's debug output, minus anything that could hold a credential. */
static int
kreq_debug_cb(CURL *easy, curl_infotype type, char *data, size_t size,
    void *userp)
{
	struct kreq *r = userp;
	char line[512];
	size_t m;

	(void)easy;
	if (type != CURLINFO_TEXT && type != CURLINFO_HEADER_IN &&
	    type != CURLINFO_HEADER_OUT)
		return 0;
	m = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	memcpy(line, data, m);
	line[m] = '\0';
	while (m > 0 && (line[m - 1] == '\r' || line[m - 1] == '\n'))
		line[--m] = '\0';
	if (type == CURLINFO_HEADER_OUT) {
		/* A block of request headers: log the request line only. */
		char *eol = strpbrk(line, "\r\n");
		if (eol)
			*eol = '\0';
	}
	if (strcasestr(line, "authorization") || strcasestr(line, "bearer") ||
	    strcasestr(line, "token"))
		return 0;
	log_debug("curl", "path", r->path,
	    "dir", type == CURLINFO_HEADER_OUT ? "out" :
	    type == CURLINFO_HEADER_IN ? "in" : "info", "text", line);
	return 0;
}

static int
kreq_setup_easy(struct kreq *r)
{
	struct khttp *c = r->client;
	CURL *e;
	char *url;
	const char *token = NULL;
	char hdr[128];

	e = curl_easy_init();
	if (e == NULL)
		return -1;
	r->xfer.easy = e;
	url = xasprintf("%s%s", c->server, r->path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, KHTTP_CONNECT_TIMEOUT_MS);
	if (r->timeout > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(r->timeout * 1000));
	if (r->idle_timeout > 0) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(r->idle_timeout + 0.999));
	}
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, kreq_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, kreq_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	if (!c->disable_compression)
		curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (c->connect_to)
		curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
	/* Only the kubeconfig's proxy, never the environment's. */
	curl_easy_setopt(e, CURLOPT_PROXY, c->proxy_url ? c->proxy_url : "");
	if (log_enabled(LOG_DEBUG)) {
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, kreq_debug_cb);
		curl_easy_setopt(e, CURLOPT_DEBUGDATA, r);
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	}

	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca_pem) {
		struct curl_blob blob = { c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	} else if (c->ca_file) {
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	}
	if (c->cert_pem) {
		struct curl_blob blob = { c->cert_pem, strlen(c->cert_pem), CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (c->cert_file) {
		curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
	}
	if (c->key_pem) {
		struct curl_blob blob = { c->key_pem, strlen(c->key_pem), CURL_BLOB_COPY };
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (c->key_file) {
		curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
	}
	if (c->token)
		token = c->token(c->token_arg, mono_now());
	if (token && *token) {
		/* curl adds "Authorization: Bearer"; the token stays out of our
		 * header list and is never in the debug output. */
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, token);
	}

	r->headers = curl_slist_append(r->headers, "Accept: application/json");
	if (r->req_body) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", r->req_content_type);
		r->headers = curl_slist_append(r->headers, hdr);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->req_body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->req_body);
		/* No "Expect: 100-continue" round trip. */
		r->headers = curl_slist_append(r->headers, "Expect:");
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	if (strcmp(r->method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcmp(r->method, "POST") != 0 || r->req_body == NULL)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	return 0;
}

static void
kreq_launch(struct kreq *r)
{
	struct khttp *c = r->client;

	r->attempts++;
	r->status = 0;
	r->error = KREQ_OK;
	r->errmsg[0] = '\0';
	r->curl_err[0] = '\0';
	r->retry_after = -1;
	r->content_type[0] = '\0';
	buf_reset(&r->body);
	if (kreq_setup_easy(r) < 0) {
		r->error = KREQ_ETRANSPORT;
		snprintf(r->errmsg, sizeof(r->errmsg), "curl_easy_init failed");
		goto fail;
	}
	r->xfer.done = kreq_xfer_done;
	r->xfer.arg = r;
	if (curlev_add(c->multi, &r->xfer, r->errmsg, sizeof(r->errmsg)) < 0) {
		r->error = KREQ_ETRANSPORT;
		goto fail;
	}
	r->launched = true;
	c->inflight++;
	c->stats.requests++;
	r->started_at = mono_now();
	return;
fail:
	/* Report through the normal path on the next iteration so that the
	 * caller never sees its callback run inside kreq_start(). */
	kreq_detach_easy(r);
	r->retry_after = 0;
	r->max_retries = 0;
	ev_timer_stop(c->loop, &r->retry_timer);
	ev_timer_set(&r->retry_timer, 0., 0.);
	ev_timer_start(c->loop, &r->retry_timer);
}

static void
kreq_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct kreq *r = container_of(w, struct kreq, retry_timer);

	(void)loop;
	(void)revents;
	if (r->xfer.easy == NULL && r->error != KREQ_OK) {
		/* Deferred setup failure. */
		struct khttp *c = r->client;
		live_unlink(c, r);
		r->finished = true;
		r->on_done(r, r->arg);
		kreq_free(r);
		return;
	}
	kreq_launch(r);
}

void
kreq_start(struct kreq *r)
{
	r->started = true;
	ev_set_cb(&r->retry_timer, kreq_retry_cb);
	kreq_launch(r);
}

/* Decides whether a finished attempt is retried; returns true if so. */
static bool
kreq_maybe_retry(struct kreq *r)
{
	struct khttp *c = r->client;
	double delay;

	if (r->status == 401 && !r->auth_retried && c->token_invalidate) {
		/* The token may have rotated: re-read it and try once more. */
		r->auth_retried = true;
		c->token_invalidate(c->token_arg);
		delay = 0;
	} else if ((r->status == 429 || r->status >= 500) &&
	    r->retry_after >= 0 && r->attempts <= r->max_retries) {
		delay = r->retry_after;
		if (delay > KREQ_MAX_RETRY_AFTER)
			delay = KREQ_MAX_RETRY_AFTER;
	} else {
		return false;
	}
	c->stats.retries++;
	log_debug("retrying request", "method", r->method, "path", r->path);
	kreq_detach_easy(r);
	ev_timer_set(&r->retry_timer, delay, 0.);
	ev_timer_start(c->loop, &r->retry_timer);
	return true;
}

void
khttp_set_observer(struct khttp *c, khttp_observe_fn fn, void *arg)
{
	c->observe = fn;
	c->observe_arg = arg;
}

/* Reports one finished attempt to the observer. */
static void
kreq_observe(struct kreq *r)
{
	struct khttp *c = r->client;
	long code = 0;
	double secs;

	if (c->observe == NULL)
		return;
	curl_easy_getinfo(r->xfer.easy, CURLINFO_RESPONSE_CODE, &code);
	if (r->on_line) {
		curl_off_t us = 0;

		curl_easy_getinfo(r->xfer.easy, CURLINFO_STARTTRANSFER_TIME_T, &us);
		secs = (double)us / 1e6;
	} else {
		secs = mono_now() - r->started_at;
	}
	c->observe(c->observe_arg, r->method, code, secs);
}

static void
kreq_finish(struct kreq *r, CURLcode res)
{
	struct khttp *c = r->client;

	kreq_observe(r);

	if (res != CURLE_OK && r->error == KREQ_OK) {
		if (res == CURLE_OPERATION_TIMEDOUT) {
			r->error = KREQ_ETIMEOUT;
		} else {
			r->error = KREQ_ETRANSPORT;
			c->stats.errors++;
		}
		snprintf(r->errmsg, sizeof(r->errmsg), "%s %s: %s", r->method,
		    r->path, r->curl_err[0] ? r->curl_err : curl_easy_strerror(res));
	} else if (r->error == KREQ_ETOOBIG) {
		snprintf(r->errmsg, sizeof(r->errmsg),
		    "%s %s: response larger than %zu bytes", r->method, r->path,
		    r->body.max);
	} else if (r->error == KREQ_EABORT) {
		snprintf(r->errmsg, sizeof(r->errmsg), "%s %s: aborted", r->method,
		    r->path);
	}
	if (res == CURLE_OK && r->error == KREQ_OK) {
		long code = 0;
		curl_easy_getinfo(r->xfer.easy, CURLINFO_RESPONSE_CODE, &code);
		r->status = code;
		if (kreq_maybe_retry(r))
			return;
	}
	if (r->error != KREQ_OK)
		r->status = r->status >= 200 && r->status < 300 ? r->status : 0;
	/* The streamed tail without a final newline is still a line. */
	if (r->on_line && r->error == KREQ_OK && r->status >= 200 &&
	    r->status < 300 && r->body.len > 0) {
		r->on_line(r, r->body.data, r->body.len, r->arg);
		buf_reset(&r->body);
	}
	kreq_detach_easy(r);
	if (r->cancelled)
		return;		/* cancelled by the line callback: reaped later */
	live_unlink(c, r);
	r->finished = true;
	r->on_done(r, r->arg);
	kreq_free(r);
}

/* A transfer of r ended (curlev took it out of the multi handle). */
static void
kreq_xfer_done(struct curlev_xfer *x, CURLcode result)
{
	struct kreq *r = x->arg;

	if (r->cancelled) {
		kreq_detach_easy(r);
		return;
	}
	kreq_finish(r, result);
}

char *
khttp_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = BUF_INIT(0);
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		int rc;

		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			rc = buf_putc(&b, (char)*p);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			rc = buf_append(&b, e, 3);
		}
		if (rc < 0)
			die_oom();
	}
	return buf_detach(&b, NULL);
}
