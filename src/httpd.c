/*
 * httpd.c - the HTTP/1.1 server of /metrics and the probes.
 *
 * Layout: the request parser (pure), TLS context loading, then the
 * connection state machine: hconn_step() is one loop over the state, and
 * hconn_set_state() is the only place the state changes; it also arms the
 * state's deadline. Closed connections are freed from an ev_prepare hook,
 * never inside their own callbacks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "httpd.h"
#include "log.h"

#define HTTPD_DEFAULT_MAX_CONNS	4096
#define HTTPD_DEFAULT_MAX_OUT	(64u << 20)
#define HTTPD_DEFAULT_READ_TO	5.0
#define HTTPD_DEFAULT_WRITE_TO	10.0
#define HTTPD_DEFAULT_RELOAD	10.0
#define HTTPD_LINGER_TIMEOUT	2.0
#define HTTPD_MAX_BODY_OUT	(32u << 20)	/* cap of one handler's body */
#define HTTPD_MAX_REQS_PER_CONN	1000
#define HTTPD_READS_PER_STEP	8	/* fairness: then back to the loop */
#define HTTPD_ACCEPTS_PER_CB	64
#define HTTPD_MAX_LEADING_CRLF	16
#define HTTPD_MAX_ROUTES	16

/* ---- parser ------------------------------------------------------------ */

static bool
is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Characters allowed in a request-target (VCHAR minus '#'). */
static bool
is_target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '#';
}

/* Field value characters: VCHAR, obs-text, SP, HTAB. */
static bool
is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Can the n bytes at p begin a request line? Checks the method only
 * (token characters, then a space), so junk is refused at once instead of
 * at the read deadline; O(1). */
static bool
method_prefix_ok(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 16; i++) {
		if (p[i] == ' ')
			return i > 0;
		if (!is_tchar((unsigned char)p[i]))
			return false;
	}
	return i < 16;
}

/* Finds the end of the head starting the search at *scan; returns the
 * offset just past the empty line, 0 when not found yet. */
static size_t
head_end(const char *buf, size_t len, size_t start, size_t *scan)
{
	size_t i = *scan > start ? *scan : start;

	for (; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 >= len)
			break;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r') {
			if (i + 2 >= len)
				break;
			if (buf[i + 2] == '\n')
				return i + 3;
		}
	}
	*scan = i;
	return 0;
}

/* Copies [p, p+n) into the store as a C string; NULL when full. */
static const char *
store_put(struct httpd_req *req, size_t *used, const char *p, size_t n)
{
	char *dst;

	if (*used + n + 1 > sizeof(req->store))
		return NULL;
	dst = req->store + *used;
	memcpy(dst, p, n);
	dst[n] = '\0';
	*used += n + 1;
	return dst;
}

/* Next line in [*pos, end): sets *ls and *le to its content without the line
 * ending and advances *pos past it. -1 on a bare CR. */
static int
next_line(const char *buf, size_t end, size_t *pos, size_t *ls, size_t *le)
{
	const char *nl = memchr(buf + *pos, '\n', end - *pos);
	size_t e;

	if (nl == NULL)
		return -1;
	e = (size_t)(nl - buf);
	*ls = *pos;
	*le = e;
	if (e > *pos && buf[e - 1] == '\r')
		(*le)--;
	if (memchr(buf + *ls, '\r', *le - *ls) != NULL)
		return -1;
	*pos = e + 1;
	return 0;
}

static int
parse_request_line(const char *buf, size_t ls, size_t le,
    struct httpd_req *req, size_t *used)
{
	size_t i = ls, m0, t0, t1;
	const char *q;

	m0 = i;
	while (i < le && is_tchar((unsigned char)buf[i]))
		i++;
	if (i == m0 || i - m0 > 15 || i >= le || buf[i] != ' ')
		return -400;
	req->method = store_put(req, used, buf + m0, i - m0);
	i++;
	t0 = i;
	while (i < le && is_target_char((unsigned char)buf[i]))
		i++;
	t1 = i;
	if (t1 == t0 || buf[t0] != '/' || i >= le || buf[i] != ' ')
		return -400;
	i++;
	if (le - i != 8 || memcmp(buf + i, "HTTP/", 5) != 0 ||
	    buf[i + 5] < '0' || buf[i + 5] > '9' || buf[i + 6] != '.' ||
	    buf[i + 7] < '0' || buf[i + 7] > '9')
		return -400;
	if (buf[i + 5] != '1')
		return -505;
	req->minor = buf[i + 7] == '0' ? 0 : 1;
	req->keep_alive = req->minor >= 1;
	req->target = store_put(req, used, buf + t0, t1 - t0);
	q = memchr(buf + t0, '?', t1 - t0);
	if (q) {
		req->path = store_put(req, used, buf + t0, (size_t)(q - (buf + t0)));
		req->query = store_put(req, used, q + 1, t1 - (size_t)(q + 1 - buf));
	} else {
		req->path = req->target;
		req->query = NULL;
	}
	if (req->method == NULL || req->target == NULL || req->path == NULL ||
	    (q && req->query == NULL))
		return -431;
	return 0;
}

/* Is token (case-insensitive) in the comma-separated list v? */
static bool
list_has(const char *v, const char *token)
{
	size_t n = strlen(token);

	while (*v) {
		const char *e;
		size_t len;

		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		e = v;
		while (*e && *e != ',')
			e++;
		len = (size_t)(e - v);
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len == n && strncasecmp(v, token, n) == 0)
			return true;
		v = e;
	}
	return false;
}

static int
parse_content_length(const char *v, size_t *out)
{
	size_t n = 0;

	if (*v == '\0')
		return -400;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -400;
		if (n > HTTPD_MAX_BODY)
			return -413;	/* already too big: stop before overflow */
		n = n * 10 + (size_t)(*v - '0');
	}
	if (n > HTTPD_MAX_BODY)
		return -413;
	*out = n;
	return 0;
}

/* Applies the headers the server itself interprets. */
static int
header_semantics(struct httpd_req *req, const char *name, const char *value,
    bool *have_cl)
{
	if (strcasecmp(name, "host") == 0) {
		if (req->host != NULL)
			return -400;
		req->host = value;
	} else if (strcasecmp(name, "content-length") == 0) {
		size_t n = 0;
		int rc = parse_content_length(value, &n);

		if (rc < 0)
			return rc;
		if (*have_cl && n != req->content_length)
			return -400;
		*have_cl = true;
		req->content_length = n;
	} else if (strcasecmp(name, "transfer-encoding") == 0) {
		/* Bodies are never needed; refuse rather than de-chunk. */
		return -501;
	} else if (strcasecmp(name, "connection") == 0) {
		if (list_has(value, "close"))
			req->keep_alive = false;
		else if (list_has(value, "keep-alive"))
			req->keep_alive = true;
	}
	return 0;
}

ssize_t
httpd_parse(const char *buf, size_t len, size_t *scan, struct httpd_req *req)
{
	size_t start = 0, end, pos, ls, le, used = 0;
	bool have_cl = false;
	int rc;

	/* RFC 9112 2.2: empty lines before the request line are ignored. */
	while (start < len && (buf[start] == '\r' || buf[start] == '\n')) {
		if (buf[start] == '\r') {
			if (start + 1 >= len)
				return 0;
			if (buf[start + 1] != '\n')
				return -400;
			start++;
		}
		start++;
		if (start > HTTPD_MAX_LEADING_CRLF)
			return -400;
	}
	if (start >= len)
		return 0;
	end = head_end(buf, len, start, scan);
	if (end == 0) {
		if (!method_prefix_ok(buf + start, len - start))
			return -400;	/* not HTTP (a TLS hello, junk): now */
		return len >= HTTPD_MAX_HEAD ? -431 : 0;
	}
	if (end > HTTPD_MAX_HEAD)
		return -431;

	memset(req, 0, offsetof(struct httpd_req, store));
	pos = start;
	if (next_line(buf, end, &pos, &ls, &le) < 0)
		return -400;
	rc = parse_request_line(buf, ls, le, req, &used);
	if (rc < 0)
		return rc;
	for (;;) {
		size_t i, n0, colon, v0, v1;
		const char *name, *value;

		if (next_line(buf, end, &pos, &ls, &le) < 0)
			return -400;
		if (ls == le)
			break;		/* the empty line */
		if (buf[ls] == ' ' || buf[ls] == '\t')
			return -400;	/* obsolete line folding */
		n0 = i = ls;
		while (i < le && is_tchar((unsigned char)buf[i]))
			i++;
		if (i == n0 || i >= le || buf[i] != ':')
			return -400;
		colon = i;
		v0 = i + 1;
		while (v0 < le && (buf[v0] == ' ' || buf[v0] == '\t'))
			v0++;
		v1 = le;
		while (v1 > v0 && (buf[v1 - 1] == ' ' || buf[v1 - 1] == '\t'))
			v1--;
		for (i = v0; i < v1; i++)
			if (!is_value_char((unsigned char)buf[i]))
				return -400;
		if (req->nheaders == HTTPD_MAX_HEADERS)
			return -431;
		name = store_put(req, &used, buf + n0, colon - n0);
		if (name == NULL)
			return -431;
		value = store_put(req, &used, buf + v0, v1 - v0);
		if (value == NULL)
			return -431;
		req->headers[req->nheaders].name = name;
		req->headers[req->nheaders].value = value;
		req->nheaders++;
		rc = header_semantics(req, name, value, &have_cl);
		if (rc < 0)
			return rc;
	}
	if (req->minor >= 1 && req->host == NULL)
		return -400;	/* RFC 9112 3.2: Host is required in 1.1 */
	return (ssize_t)end;
}

const char *
httpd_req_header(const struct httpd_req *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

const char *
httpd_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---- server and connections ---------------------------------------------- */

enum hconn_state {
	HC_HANDSHAKE,	/* TLS only: waits for SSL_accept to complete */
	HC_READING,	/* waits for a whole request (head + small body) */
	HC_DEFERRED,	/* waits for the handler's httpd_defer_done() */
	HC_WRITING,	/* waits for the socket to take the response */
	HC_LINGER,	/* an error was sent and the write side shut: reads
			 * and drops input until EOF so the peer sees the
			 * response instead of a reset */
	HC_CLOSED,	/* closed; freed by the prepare hook */
	HC__COUNT
};

static const char *const hc_state_names[HC__COUNT] = {
	"HANDSHAKE", "READING", "DEFERRED", "WRITING", "LINGER", "CLOSED",
};

struct hconn {
	struct httpd *srv;
	int fd;
	SSL *ssl;
	enum hconn_state state;
	ev_io io;
	ev_timer timer;
	int armed;		/* events the io watcher waits for */
	struct buf in;		/* capped: head + small body */
	size_t scan;		/* parser resume point */
	size_t req_len;		/* bytes of the request being answered */
	struct buf out;
	size_t out_off;
	bool close_after;	/* close once the response is out */
	bool linger;		/* ... through HC_LINGER (error responses) */
	unsigned nreqs;
	struct httpd_defer *defer;	/* HC_DEFERRED: the pending answer */
	struct hconn *next, *prev;
};

/* A deferred response: owned by the server, freed when answered or
 * cancelled. */
struct httpd_defer {
	struct hconn *conn;
	struct httpd_resp resp;
	bool head;		/* HEAD: send only the head */
	bool in_handler;	/* the handler that deferred is still running */
	httpd_cancel_fn cancel;
	void *arg;
};

struct route {
	char *path;
	httpd_handler_fn fn;
	void *arg;
};

struct tls_sig {
	dev_t dev[2];
	ino_t ino[2];
	off_t size[2];
	struct timespec mtime[2];
	bool valid;
};

struct httpd {
	struct ev_loop *loop;
	char *name;
	int fd;
	int port;
	ev_io accept_io;
	ev_timer accept_pause;	/* out of fds: retry accepting later */
	ev_prepare reaper;
	ev_timer tls_timer;
	bool running;
	size_t max_conns;
	size_t max_out;
	double read_timeout, write_timeout, reload_interval;
	char *cert_file, *key_file;
	SSL_CTX *ctx;
	struct tls_sig sig;
	struct route routes[HTTPD_MAX_ROUTES];
	size_t nroutes;
	struct hconn *conns;
	struct hconn *graveyard;
	struct httpd_stats stats;
	double last_refuse_log;
};

static void hconn_step(struct hconn *c);

/* ---- TLS context ---------------------------------------------------------- */

static void
ssl_err_text(const char *what, char *err, size_t errlen)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e == 0) {
		snprintf(err, errlen, "%s", what);
	} else {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(err, errlen, "%s: %s", what, buf);
	}
	ERR_clear_error();
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char h11[] = "\x08http/1.1";
	unsigned char *sel = NULL;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in,
	    inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *
tls_load(const char *cert, const char *key, char *err, size_t errlen)
{
	SSL_CTX *ctx;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		ssl_err_text("SSL_CTX_new", err, errlen);
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		char what[300];
		snprintf(what, sizeof(what), "cannot load certificate %s", cert);
		ssl_err_text(what, err, errlen);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		char what[300];
		snprintf(what, sizeof(what), "cannot load key %s", key);
		ssl_err_text(what, err, errlen);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ssl_err_text("certificate and key do not match", err, errlen);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void
tls_signature(const struct httpd *s, struct tls_sig *sig)
{
	const char *files[2] = { s->cert_file, s->key_file };
	struct stat st;
	int i;

	memset(sig, 0, sizeof(*sig));
	sig->valid = true;
	for (i = 0; i < 2; i++) {
		if (stat(files[i], &st) < 0) {
			sig->valid = false;
			continue;
		}
		sig->dev[i] = st.st_dev;
		sig->ino[i] = st.st_ino;
		sig->size[i] = st.st_size;
		sig->mtime[i] = st.st_mtim;
	}
}

static bool
tls_sig_equal(const struct tls_sig *a, const struct tls_sig *b)
{
	int i;

	if (a->valid != b->valid)
		return false;
	for (i = 0; i < 2; i++)
		if (a->dev[i] != b->dev[i] || a->ino[i] != b->ino[i] ||
		    a->size[i] != b->size[i] ||
		    a->mtime[i].tv_sec != b->mtime[i].tv_sec ||
		    a->mtime[i].tv_nsec != b->mtime[i].tv_nsec)
			return false;
	return true;
}

/* Checks the files (a few stat() calls) and reloads the pair when they
 * changed; a pair that does not load keeps the old one in service. */
static void
tls_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct httpd *s = container_of(w, struct httpd, tls_timer);
	struct tls_sig sig;
	SSL_CTX *ctx;
	char err[512];

	(void)loop;
	(void)revents;
	tls_signature(s, &sig);
	if (tls_sig_equal(&sig, &s->sig))
		return;
	s->sig = sig;
	ctx = tls_load(s->cert_file, s->key_file, err, sizeof(err));
	if (ctx == NULL) {
		log_warn("TLS certificate changed but does not load; keeping the previous one",
		    "server", s->name, "error", err);
		return;
	}
	/* Connections in progress hold their own reference to the old one. */
	SSL_CTX_free(s->ctx);
	s->ctx = ctx;
	s->stats.tls_reloads++;
	log_info("TLS certificate reloaded", "server", s->name, "cert",
	    s->cert_file);
}

/* ---- connection I/O ------------------------------------------------------------ */

#define IO_AGAIN	(-2)
#define IO_ERROR	(-1)

/* Reads up to n bytes: > 0 bytes read, 0 at EOF, IO_AGAIN (with *want
 * set to the event to wait for) or IO_ERROR. */
static ssize_t
conn_recv(struct hconn *c, char *p, size_t n, int *want)
{
	ssize_t r;

	if (c->ssl) {
		int rc, e;

		ERR_clear_error();
		rc = SSL_read(c->ssl, p, (int)n);
		if (rc > 0)
			return rc;
		e = SSL_get_error(c->ssl, rc);
		if (e == SSL_ERROR_WANT_READ) {
			*want = EV_READ;
			return IO_AGAIN;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			*want = EV_WRITE;
			return IO_AGAIN;
		}
		ERR_clear_error();
		if (e == SSL_ERROR_ZERO_RETURN ||
		    (e == SSL_ERROR_SYSCALL && errno == 0))
			return 0;
		c->srv->stats.tls_errors++;
		return IO_ERROR;
	}
	for (;;) {
		r = recv(c->fd, p, n, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*want = EV_READ;
			return IO_AGAIN;
		}
		return IO_ERROR;
	}
}

static ssize_t
conn_send(struct hconn *c, const char *p, size_t n, int *want)
{
	ssize_t r;

	if (c->ssl) {
		int rc, e;

		ERR_clear_error();
		rc = SSL_write(c->ssl, p, n > (1u << 30) ? 1 << 30 : (int)n);
		if (rc > 0)
			return rc;
		e = SSL_get_error(c->ssl, rc);
		if (e == SSL_ERROR_WANT_WRITE) {
			*want = EV_WRITE;
			return IO_AGAIN;
		}
		if (e == SSL_ERROR_WANT_READ) {
			*want = EV_READ;
			return IO_AGAIN;
		}
		ERR_clear_error();
		c->srv->stats.tls_errors++;
		return IO_ERROR;
	}
	for (;;) {
		r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*want = EV_WRITE;
			return IO_AGAIN;
		}
		return IO_ERROR;
	}
}

/* ---- connection life cycle --------------------------------------------------- */

static void
hconn_arm(struct hconn *c, int events)
{
	struct ev_loop *loop = c->srv->loop;

	if (c->armed == events && ev_is_active(&c->io))
		return;
	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->fd, events);
	ev_io_start(loop, &c->io);
	c->armed = events;
}

/* The only place the state changes; arms the new state's deadline. */
static void
hconn_set_state(struct hconn *c, enum hconn_state st)
{
	struct httpd *s = c->srv;
	double t = 0;

	if (log_enabled(LOG_DEBUG) && c->state != st)
		log_debug("http connection state", "server", s->name, "from",
		    hc_state_names[c->state], "to", hc_state_names[st]);
	c->state = st;
	switch (st) {
	case HC_HANDSHAKE:
	case HC_READING:
		t = s->read_timeout;
		break;
	case HC_DEFERRED:
	case HC_WRITING:
		t = s->write_timeout;
		break;
	case HC_LINGER:
		t = HTTPD_LINGER_TIMEOUT;
		break;
	case HC_CLOSED:
	case HC__COUNT:
		break;
	}
	ev_timer_stop(s->loop, &c->timer);
	if (t > 0) {
		ev_timer_set(&c->timer, t, 0.);
		ev_timer_start(s->loop, &c->timer);
	}
}

static void
defer_free(struct httpd_defer *d)
{
	buf_release(&d->resp.body);
	free(d);
}

static void
hconn_close(struct hconn *c)
{
	struct httpd *s = c->srv;

	if (c->state == HC_CLOSED)
		return;
	hconn_set_state(c, HC_CLOSED);
	ev_io_stop(s->loop, &c->io);
	ev_timer_stop(s->loop, &c->timer);
	if (c->defer) {
		struct httpd_defer *d = c->defer;

		c->defer = NULL;
		d->cancel(d, d->arg);
		defer_free(d);
	}
	s->stats.out_bytes -= c->out.len - c->out_off;
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->stats.open--;
	/* Freed from the loop, not from inside this callback chain. */
	c->prev = NULL;
	c->next = s->graveyard;
	s->graveyard = c;
	if (!ev_is_active(&s->reaper))
		ev_prepare_start(s->loop, &s->reaper);
}

static void
hconn_free(struct hconn *c)
{
	buf_release(&c->in);
	buf_release(&c->out);
	free(c);
}

static void
reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct httpd *s = container_of(w, struct httpd, reaper);

	(void)revents;
	while (s->graveyard) {
		struct hconn *c = s->graveyard;
		s->graveyard = c->next;
		hconn_free(c);
	}
	ev_prepare_stop(loop, w);
}

static void
hconn_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	hconn_step(container_of(w, struct hconn, io));
}

static void
hconn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct hconn *c = container_of(w, struct hconn, timer);

	(void)loop;
	(void)revents;
	c->srv->stats.timeouts++;
	log_debug("http connection timed out", "server", c->srv->name, "state",
	    hc_state_names[c->state]);
	hconn_close(c);
}

/* ---- responses -------------------------------------------------------------------- */

/* Queues a response: the head and (unless HEAD) the body, in c->out. */
static void
queue_response(struct hconn *c, int status, const char *ctype,
    const char *extra, const char *body, size_t blen, bool head_only)
{
	struct httpd *s = c->srv;
	int rc;

	buf_reset(&c->out);
	c->out_off = 0;
	rc = buf_printf(&c->out,
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s"
	    "Connection: %s\r\n\r\n",
	    status, httpd_status_text(status), ctype, blen, extra ? extra : "",
	    c->close_after ? "close" : "keep-alive");
	if (rc == 0 && !head_only && blen > 0)
		rc = buf_append(&c->out, body, blen);
	if (rc < 0)
		die_oom();	/* the out buffer has no cap */
	s->stats.out_bytes += c->out.len;
	s->stats.requests++;
}

static void
respond_error(struct hconn *c, int status)
{
	char body[96];
	int n;

	c->close_after = true;
	c->linger = true;
	c->srv->stats.bad_requests++;
	n = snprintf(body, sizeof(body), "%s\n", httpd_status_text(status));
	queue_response(c, status, "text/plain; charset=utf-8", NULL, body,
	    (size_t)n, false);
}

static void
resp_init(struct httpd_resp *resp, struct hconn *c)
{
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	strlcpy0(resp->content_type, "text/plain; charset=utf-8",
	    sizeof(resp->content_type));
	buf_init(&resp->body, HTTPD_MAX_BODY_OUT);
	resp->conn = c;
}

/* Queues a handler's response, or 503 when the responses queued and not
 * yet read are over the cap. */
static void
queue_handler_response(struct hconn *c, struct httpd_resp *resp, bool head)
{
	struct httpd *s = c->srv;

	if (s->stats.out_bytes + resp->body.len > s->max_out) {
		/* Too many responses nobody reads: refuse this one. */
		buf_reset(&resp->body);
		resp->status = 503;
		resp->extra_headers[0] = '\0';
		strlcpy0(resp->content_type, "text/plain; charset=utf-8",
		    sizeof(resp->content_type));
		if (buf_puts(&resp->body, "overloaded\n") < 0)
			die_oom();
		c->close_after = true;
	}
	queue_response(c, resp->status, resp->content_type, resp->extra_headers,
	    resp->body.data, resp->body.len, head);
}

/* Answers a parsed request. Returns true when the handler deferred its
 * response (c->defer is then set and nothing was queued). */
static bool
dispatch(struct hconn *c, const struct httpd_req *req)
{
	struct httpd *s = c->srv;
	struct httpd_resp resp;
	bool head = strcmp(req->method, "HEAD") == 0;
	size_t i;

	resp_init(&resp, c);
	if (!head && strcmp(req->method, "GET") != 0) {
		resp.status = 405;
		strlcpy0(resp.extra_headers, "Allow: GET, HEAD\r\n",
		    sizeof(resp.extra_headers));
		if (buf_puts(&resp.body, "Method Not Allowed\n") < 0)
			die_oom();
	} else {
		for (i = 0; i < s->nroutes; i++)
			if (strcmp(s->routes[i].path, req->path) == 0)
				break;
		if (i < s->nroutes) {
			s->routes[i].fn(req, &resp, s->routes[i].arg);
			if (c->defer) {
				c->defer->head = head;
				c->defer->in_handler = false;
				buf_release(&resp.body);
				return true;
			}
		} else {
			resp.status = 404;
			if (buf_puts(&resp.body, "Not Found\n") < 0)
				die_oom();
		}
	}
	queue_handler_response(c, &resp, head);
	buf_release(&resp.body);
	return false;
}

struct httpd_defer *
httpd_resp_defer(struct httpd_resp *resp, httpd_cancel_fn cancel, void *arg)
{
	struct hconn *c = resp->conn;
	struct httpd_defer *d;

	if (c == NULL || c->defer != NULL)
		abort();	/* not a handler's response, or deferred twice */
	d = xcalloc(1, sizeof(*d));
	d->conn = c;
	d->in_handler = true;
	d->cancel = cancel;
	d->arg = arg;
	resp_init(&d->resp, NULL);
	c->defer = d;
	return d;
}

struct httpd_resp *
httpd_defer_resp(struct httpd_defer *d)
{
	return &d->resp;
}

void
httpd_defer_done(struct httpd_defer *d)
{
	struct hconn *c = d->conn;

	if (d->in_handler || c->defer != d || c->state != HC_DEFERRED)
		abort();	/* a programming error, not input */
	c->defer = NULL;
	queue_handler_response(c, &d->resp, d->head);
	defer_free(d);
	hconn_set_state(c, HC_WRITING);
	/* Outside the connection's callbacks: safe to drive it from here. */
	hconn_step(c);
}

/* Tries to answer the request at the start of c->in. Returns true when a
 * response was queued (the state is then WRITING) or deferred (the state
 * is then DEFERRED). */
static bool
try_request(struct hconn *c)
{
	struct httpd_req *req = xmalloc(sizeof(*req));
	ssize_t h;
	bool queued = false, deferred = false;

	h = httpd_parse(c->in.data, c->in.len, &c->scan, req);
	if (h < 0) {
		respond_error(c, (int)-h);
		queued = true;
	} else if (h > 0 && c->in.len >= (size_t)h + req->content_length) {
		c->req_len = (size_t)h + req->content_length;
		c->nreqs++;
		if (!req->keep_alive || c->nreqs >= HTTPD_MAX_REQS_PER_CONN)
			c->close_after = true;
		deferred = dispatch(c, req);
		queued = !deferred;
	}
	free(req);
	if (queued)
		hconn_set_state(c, HC_WRITING);
	else if (deferred)
		hconn_set_state(c, HC_DEFERRED);
	return queued || deferred;
}

/* ---- the state machine ------------------------------------------------------------ */

static void
hconn_step(struct hconn *c)
{
	struct httpd *s = c->srv;
	int reads = 0;

	for (;;) {
		char tmp[4096];
		ssize_t n;
		int want = EV_READ;

		switch (c->state) {
		case HC_HANDSHAKE: {
			/* Waits for SSL_accept to finish, in either direction. */
			int rc, e;

			ERR_clear_error();
			rc = SSL_accept(c->ssl);
			if (rc == 1) {
				hconn_set_state(c, HC_READING);
				continue;
			}
			e = SSL_get_error(c->ssl, rc);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				hconn_arm(c, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE);
				return;
			}
			if (log_enabled(LOG_DEBUG)) {
				char err[256];
				ssl_err_text("TLS handshake failed", err, sizeof(err));
				log_debug("http connection closed", "server", s->name,
				    "error", err);
			}
			ERR_clear_error();
			s->stats.tls_errors++;
			hconn_close(c);
			return;
		}
		case HC_READING:
			/* Waits for a complete request; answers it at once. */
			if (c->in.len > 0 && try_request(c))
				continue;
			if (reads++ == HTTPD_READS_PER_STEP) {
				hconn_arm(c, EV_READ);
				return;
			}
			n = conn_recv(c, tmp, sizeof(tmp) < c->in.max - c->in.len ?
			    sizeof(tmp) : c->in.max - c->in.len, &want);
			if (n > 0) {
				if (buf_append(&c->in, tmp, (size_t)n) < 0)
					die_oom();	/* read size respects the cap */
				continue;
			}
			if (n == IO_AGAIN) {
				hconn_arm(c, want);
				return;
			}
			hconn_close(c);		/* EOF or error */
			return;
		case HC_DEFERRED:
			/* Waits for httpd_defer_done(); reads nothing meanwhile,
			 * so a pipelined request waits in c->in. */
			ev_io_stop(s->loop, &c->io);
			c->armed = 0;
			return;
		case HC_WRITING:
			/* Waits for the socket to take the rest of c->out. */
			while (c->out_off < c->out.len) {
				n = conn_send(c, c->out.data + c->out_off,
				    c->out.len - c->out_off, &want);
				if (n == IO_AGAIN) {
					hconn_arm(c, want);
					return;
				}
				if (n <= 0) {
					hconn_close(c);
					return;
				}
				c->out_off += (size_t)n;
				s->stats.out_bytes -= (size_t)n;
			}
			buf_release(&c->out);
			buf_init(&c->out, 0);
			c->out_off = 0;
			if (c->close_after && c->linger) {
				if (c->ssl == NULL)
					shutdown(c->fd, SHUT_WR);
				hconn_set_state(c, HC_LINGER);
				continue;
			}
			if (c->close_after) {
				hconn_close(c);
				return;
			}
			buf_consume(&c->in, c->req_len);
			c->req_len = 0;
			c->scan = 0;
			hconn_set_state(c, HC_READING);
			continue;
		case HC_LINGER:
			/* Waits for the peer's EOF, dropping what it sends. */
			if (reads++ == HTTPD_READS_PER_STEP) {
				hconn_arm(c, EV_READ);
				return;
			}
			n = conn_recv(c, tmp, sizeof(tmp), &want);
			if (n > 0)
				continue;
			if (n == IO_AGAIN) {
				hconn_arm(c, want);
				return;
			}
			hconn_close(c);
			return;
		case HC_CLOSED:
		case HC__COUNT:
			return;
		}
	}
}

/* ---- accepting ---------------------------------------------------------------------- */

static void
accept_pause_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct httpd *s = container_of(w, struct httpd, accept_pause);

	(void)revents;
	if (s->running)
		ev_io_start(loop, &s->accept_io);
}

static void
hconn_new(struct httpd *s, int fd)
{
	struct hconn *c = xcalloc(1, sizeof(*c));

	c->srv = s;
	c->fd = fd;
	buf_init(&c->in, HTTPD_MAX_HEAD + HTTPD_MAX_BODY);
	buf_init(&c->out, 0);
	ev_io_init(&c->io, hconn_io_cb, fd, EV_READ);
	ev_timer_init(&c->timer, hconn_timer_cb, 0., 0.);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->stats.open++;
	s->stats.accepted++;
	if (s->ctx) {
		c->ssl = SSL_new(s->ctx);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
			ERR_clear_error();
			c->state = HC_READING;
			hconn_close(c);
			return;
		}
		hconn_set_state(c, HC_HANDSHAKE);
	} else {
		hconn_set_state(c, HC_READING);
	}
	/* Most clients send at once: try before waiting. */
	hconn_step(c);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct httpd *s = container_of(w, struct httpd, accept_io);
	int i;

	(void)revents;
	for (i = 0; i < HTTPD_ACCEPTS_PER_CB; i++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Level-triggered: without a pause this would spin. */
				log_warn("cannot accept connections", "server", s->name,
				    "error", strerror(errno));
				ev_io_stop(loop, &s->accept_io);
				ev_timer_set(&s->accept_pause, 0.25, 0.);
				ev_timer_start(loop, &s->accept_pause);
			}
			return;
		}
		if (s->stats.open >= s->max_conns) {
			close(fd);
			s->stats.refused++;
			if (ev_now(loop) - s->last_refuse_log > 10) {
				s->last_refuse_log = ev_now(loop);
				log_warn("too many connections, refusing", "server",
				    s->name);
			}
			continue;
		}
		hconn_new(s, fd);
	}
}

/* ---- public ----------------------------------------------------------------------- */

static int
bind_listener(const char *host, int port, int *out_port, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int fd = -1, rc, one = 1, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if (host == NULL || *host == '\0') {
		/* All addresses: IPv6 dual-stack when possible, else IPv4. */
		struct sockaddr_in6 a6;
		struct sockaddr_in a4;
		int zero = 0;

		fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
			memset(&a6, 0, sizeof(a6));
			a6.sin6_family = AF_INET6;
			a6.sin6_addr = in6addr_any;
			a6.sin6_port = htons((uint16_t)port);
			if (bind(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0)
				goto listen;
			e = errno;
			close(fd);
			if (e == EADDRINUSE || e == EACCES)
				goto fail_errno;
		}
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			goto fail_errno;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		memset(&a4, 0, sizeof(a4));
		a4.sin_family = AF_INET;
		a4.sin_addr.s_addr = htonl(INADDR_ANY);
		a4.sin_port = htons((uint16_t)port);
		if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) == 0)
			goto listen;
		e = errno;
		close(fd);
		goto fail_errno;
	}
	/* Start-up only: a host name is resolved with a blocking lookup. */
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		goto fail_errno;
listen:
	if (listen(fd, 1024) < 0) {
		e = errno;
		close(fd);
		goto fail_errno;
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		*out_port = port;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET)
				*out_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			else if (ss.ss_family == AF_INET6)
				*out_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	return fd;
fail_errno:
	snprintf(err, errlen, "cannot listen on %s:%d: %s",
	    host && *host ? host : "*", port, strerror(e ? e : EINVAL));
	return -1;
}

struct httpd *
httpd_new(struct ev_loop *loop, const struct httpd_config *cfg, char *err,
    size_t errlen)
{
	struct httpd *s;
	int fd, port = 0;

	if ((cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL)) {
		snprintf(err, errlen, "TLS needs both a certificate and a key");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->fd = -1;
	s->name = xstrdup(cfg->name ? cfg->name : "http");
	s->max_conns = cfg->max_conns ? cfg->max_conns : HTTPD_DEFAULT_MAX_CONNS;
	s->max_out = cfg->max_out_bytes ? cfg->max_out_bytes : HTTPD_DEFAULT_MAX_OUT;
	s->read_timeout = cfg->read_timeout > 0 ? cfg->read_timeout : HTTPD_DEFAULT_READ_TO;
	s->write_timeout = cfg->write_timeout > 0 ? cfg->write_timeout : HTTPD_DEFAULT_WRITE_TO;
	s->reload_interval = cfg->tls_reload_interval > 0 ?
	    cfg->tls_reload_interval : HTTPD_DEFAULT_RELOAD;
	if (cfg->tls_cert_file) {
		s->cert_file = xstrdup(cfg->tls_cert_file);
		s->key_file = xstrdup(cfg->tls_key_file);
		tls_signature(s, &s->sig);
		s->ctx = tls_load(s->cert_file, s->key_file, err, errlen);
		if (s->ctx == NULL) {
			httpd_free(s);
			return NULL;
		}
	}
	fd = bind_listener(cfg->host, cfg->port, &port, err, errlen);
	if (fd < 0) {
		httpd_free(s);
		return NULL;
	}
	s->fd = fd;
	s->port = port;
	ev_io_init(&s->accept_io, accept_cb, fd, EV_READ);
	ev_timer_init(&s->accept_pause, accept_pause_cb, 0., 0.);
	ev_prepare_init(&s->reaper, reaper_cb);
	ev_timer_init(&s->tls_timer, tls_timer_cb, s->reload_interval,
	    s->reload_interval);
	return s;
}

void
httpd_route(struct httpd *s, const char *path, httpd_handler_fn fn, void *arg)
{
	size_t i;

	for (i = 0; i < s->nroutes; i++)
		if (strcmp(s->routes[i].path, path) == 0)
			break;
	if (i == s->nroutes) {
		if (s->nroutes == HTTPD_MAX_ROUTES)
			abort();	/* a programming error, not input */
		s->routes[i].path = xstrdup(path);
		s->nroutes++;
	}
	s->routes[i].fn = fn;
	s->routes[i].arg = arg;
}

void
httpd_start(struct httpd *s)
{
	if (s->running)
		return;
	s->running = true;
	ev_io_start(s->loop, &s->accept_io);
	if (s->ctx)
		ev_timer_start(s->loop, &s->tls_timer);
}

void
httpd_stop(struct httpd *s)
{
	if (s == NULL)
		return;
	s->running = false;
	ev_io_stop(s->loop, &s->accept_io);
	ev_timer_stop(s->loop, &s->accept_pause);
	ev_timer_stop(s->loop, &s->tls_timer);
	while (s->conns)
		hconn_close(s->conns);
}

void
httpd_free(struct httpd *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->loop && s->fd >= 0)
		httpd_stop(s);
	while (s->graveyard) {
		struct hconn *c = s->graveyard;
		s->graveyard = c->next;
		hconn_free(c);
	}
	if (s->loop && ev_is_active(&s->reaper))
		ev_prepare_stop(s->loop, &s->reaper);
	if (s->fd >= 0)
		close(s->fd);
	SSL_CTX_free(s->ctx);
	for (i = 0; i < s->nroutes; i++)
		free(s->routes[i].path);
	free(s->cert_file);
	free(s->key_file);
	free(s->name);
	free(s);
}

int
httpd_port(const struct httpd *s)
{
	return s->port;
}

bool
httpd_tls(const struct httpd *s)
{
	return s->ctx != NULL;
}

const struct httpd_stats *
httpd_stats(const struct httpd *s)
{
	return &s->stats;
}
