/*
 * gcs.c - Google Cloud Storage client (JSON API) on the libev loop
 * (see gcs.h).
 *
 * Layout: pure helpers (URLs, headers, JSON answers, checksums, redaction);
 * struct greq, one HTTP request with its answer, shared by everything (it
 * waits for the access token when it needs one and repeats itself once
 * after a 401); the token fetch; then the four kinds of objects: uploads
 * (a state machine over the resumable protocol), downloads, and the
 * simple operations (delete, list). Owners decide about retries, because
 * what to repeat depends on the protocol state (a chunk is never simply
 * sent again: the session is asked what it kept).
 *
 * Objects are never freed inside a callback chain: an object that is done
 * or aborted is queued, and an ev_prepare watcher frees it (or, for an
 * abort, takes the transfer out of curl first) before the loop sleeps.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <ev.h>
#include <openssl/evp.h>

#include "backoff.h"
#include "buf.h"
#include "gcs.h"
#include "gcsauth.h"
#include "json.h"
#include "log.h"
#include "timefmt.h"

#define GCS_CONNECT_TIMEOUT_MS	10000L
#define GCS_MAX_ANSWER		((size_t)16 << 20)	/* JSON answers, list pages */
#define GCS_MAX_ERROR_MSG	200
#define GCS_FIRST_BUF		((size_t)64 * 1024)

/* ---- pure helpers ------------------------------------------------------ */

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

char *
gcs_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xmalloc(3 * n + 1), *o = out;
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p)) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

static bool
ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);

	return n >= k && strncmp(s + n - k, suffix, k) == 0;
}

char *
gcs_endpoint(const char *cfg_endpoint, const char *emulator_host, char *err,
    size_t errlen)
{
	const char *src, *scheme, *host;
	char *url;
	size_t n;

	if (cfg_endpoint && *cfg_endpoint) {
		src = cfg_endpoint;
		scheme = "https://";
	} else if (emulator_host && *emulator_host) {
		src = emulator_host;
		scheme = "http://";
	} else {
		return xstrdup(GCS_DEFAULT_ENDPOINT);
	}
	if (strstr(src, "://") == NULL) {
		url = xasprintf("%s%s", scheme, src);
	} else if (strncasecmp(src, "http://", 7) == 0 ||
	    strncasecmp(src, "https://", 8) == 0) {
		url = xstrdup(src);
	} else {
		snprintf(err, errlen, "endpoint %s is not an http(s) URL", src);
		return NULL;
	}
	/* "http://host:port/storage/v1/" (the form some clients expect in
	 * the emulator variable) and "http://host:port" are the same. */
	n = strlen(url);
	for (;;) {
		while (n > 0 && url[n - 1] == '/')
			n--;
		if (!ends_with(url, n, "/storage/v1"))
			break;
		n -= strlen("/storage/v1");
	}
	url[n] = '\0';
	host = strstr(url, "://") + 3;
	if (*host == '\0' || *host == '/' || strpbrk(url, "?#") != NULL) {
		snprintf(err, errlen, "endpoint %s has no host or carries a query",
		    src);
		free(url);
		return NULL;
	}
	return url;
}

size_t
gcs_part_size(size_t requested)
{
	if (requested == 0)
		return GCS_DEFAULT_PART_SIZE;
	if (requested >= GCS_MAX_PART_SIZE)
		return GCS_MAX_PART_SIZE;
	return (requested + GCS_QUANTUM - 1) / GCS_QUANTUM * GCS_QUANTUM;
}

void
gcs_chunk_range(uint64_t start, uint64_t n, int64_t total, char *out,
    size_t outlen)
{
	if (n == 0)
		snprintf(out, outlen, "bytes */%" PRId64, total);
	else if (total < 0)
		snprintf(out, outlen, "bytes %" PRIu64 "-%" PRIu64 "/*", start,
		    start + n - 1);
	else
		snprintf(out, outlen, "bytes %" PRIu64 "-%" PRIu64 "/%" PRId64,
		    start, start + n - 1, total);
}

/* Decimal digits at *p into *out (no sign, no overflow); advances *p. */
static int
parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return 0;
}

static const char *
skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int
gcs_parse_kept(const char *range, uint64_t *kept)
{
	const char *p;
	uint64_t first, last;

	*kept = 0;
	if (range == NULL || *(p = skip_ws(range)) == '\0')
		return 0;
	if (strncasecmp(p, "bytes=", 6) != 0)
		return -1;
	p += 6;
	if (parse_u64(&p, &first) < 0 || first != 0 || *p++ != '-' ||
	    parse_u64(&p, &last) < 0 || *skip_ws(p) != '\0' ||
	    last == UINT64_MAX)
		return -1;
	*kept = last + 1;
	return 0;
}

int
gcs_parse_content_range(const char *v, uint64_t *first, uint64_t *last,
    int64_t *total)
{
	const char *p = skip_ws(v);
	uint64_t t;

	if (strncasecmp(p, "bytes ", 6) != 0)
		return -1;
	p = skip_ws(p + 6);
	if (parse_u64(&p, first) < 0 || *p++ != '-' || parse_u64(&p, last) < 0 ||
	    *p++ != '/' || *last < *first)
		return -1;
	if (*p == '*') {
		*total = -1;
		p++;
	} else {
		if (parse_u64(&p, &t) < 0 || t > INT64_MAX || t <= *last)
			return -1;
		*total = (int64_t)t;
	}
	return *skip_ws(p) == '\0' ? 0 : -1;
}

/* Copies at most GCS_MAX_ERROR_MSG bytes of a service message, with
 * control characters as spaces. */
static void
clean_msg(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, m = n < GCS_MAX_ERROR_MSG ? n : GCS_MAX_ERROR_MSG;

	if (outlen == 0)
		return;
	if (m > outlen - 1)
		m = outlen - 1;
	for (i = 0; i < m; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	out[m] = '\0';
}

void
gcs_error_text(long status, const char *body, size_t len, char *err,
    size_t errlen)
{
	yajl_val v = body && len ? json_parse(body, len, NULL, 0) : NULL;
	yajl_val e = json_get(v, "error", NULL);
	const char *msg = json_str(json_get(e, "message", NULL));
	long long code = status;
	char clean[GCS_MAX_ERROR_MSG + 1];
	size_t mlen = 0;

	(void)json_int(json_get(e, "code", NULL), &code);
	if (msg) {
		(void)json_str_check(json_get(e, "message", NULL), &mlen);
		clean_msg(msg, mlen, clean, sizeof(clean));
		snprintf(err, errlen, "GCS %lld: %s", code, clean);
	} else {
		snprintf(err, errlen, "GCS %ld: HTTP %ld", status, status);
	}
	json_free(v);
}

/* A uint64 the API writes as a decimal string (or, leniently, a number). */
static int
json_u64(yajl_val v, uint64_t *out)
{
	const char *s = json_str(v), *p;
	long long ll;

	if (s) {
		p = s;
		if (parse_u64(&p, out) < 0 || *p != '\0')
			return -1;
		return 0;
	}
	if (json_int(v, &ll) && ll >= 0) {
		*out = (uint64_t)ll;
		return 0;
	}
	return -1;
}

/* An RFC 3339 member as epoch seconds; 0 when absent, -1 when bad. */
static int
json_time(yajl_val v, int64_t *out)
{
	struct timespec ts;
	const char *s = json_str(v);

	*out = 0;
	if (v == NULL)
		return 0;
	if (s == NULL || timefmt_parse(s, &ts, NULL, 0) < 0)
		return -1;
	*out = (int64_t)ts.tv_sec;
	return 0;
}

/* A short base64 string member into out; "" when absent. */
static int
json_b64(yajl_val v, char *out, size_t outlen)
{
	const char *s = json_str(v);
	size_t i;

	out[0] = '\0';
	if (v == NULL)
		return 0;
	if (s == NULL || strlen(s) >= outlen)
		return -1;
	for (i = 0; s[i]; i++)
		if (!(unreserved((unsigned char)s[i]) || s[i] == '+' ||
		    s[i] == '/' || s[i] == '='))
			return -1;
	memcpy(out, s, i + 1);
	return 0;
}

int
gcs_parse_object(const char *body, size_t len, struct gcs_object_info *out,
    char *err, size_t errlen)
{
	yajl_val v;
	uint64_t gen = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	v = json_parse(body, len, NULL, 0);
	if (v == NULL || !YAJL_IS_OBJECT(v)) {
		snprintf(err, errlen, "the object resource is not JSON");
		goto out;
	}
	if (json_u64(json_get(v, "size", NULL), &out->size) < 0) {
		snprintf(err, errlen, "the object resource has no valid size");
		goto out;
	}
	if (json_get(v, "generation", NULL) &&
	    (json_u64(json_get(v, "generation", NULL), &gen) < 0 ||
	    gen > INT64_MAX)) {
		snprintf(err, errlen, "the object resource has a bad generation");
		goto out;
	}
	out->generation = (int64_t)gen;
	if (json_b64(json_get(v, "md5Hash", NULL), out->md5, sizeof(out->md5)) < 0 ||
	    json_b64(json_get(v, "crc32c", NULL), out->crc32c,
	    sizeof(out->crc32c)) < 0) {
		snprintf(err, errlen, "the object resource has a bad checksum");
		goto out;
	}
	if (json_time(json_get(v, "updated", NULL), &out->updated) < 0) {
		snprintf(err, errlen, "the object resource has a bad time");
		goto out;
	}
	rc = 0;
out:
	json_free(v);
	return rc;
}

int
gcs_parse_list(const char *body, size_t len, gcs_item_fn item, void *arg,
    char **next_token, char *err, size_t errlen)
{
	yajl_val v, items, tok;
	size_t i, n;
	uint64_t size;
	int64_t mtime;
	int rc = -1;

	*next_token = NULL;
	v = json_parse(body, len, NULL, 0);
	if (v == NULL || !YAJL_IS_OBJECT(v)) {
		snprintf(err, errlen, "the list answer is not JSON");
		goto out;
	}
	items = json_get(v, "items", NULL);
	if (items && !YAJL_IS_ARRAY(items)) {
		snprintf(err, errlen, "the list answer's items are not an array");
		goto out;
	}
	n = json_len(items);
	/* Check every item before reporting any. */
	for (i = 0; i < n; i++) {
		yajl_val it = json_at(items, i), name = json_get(it, "name", NULL);

		if (json_str(name) == NULL || json_str_check(name, NULL) != TEXT_OK ||
		    json_u64(json_get(it, "size", NULL), &size) < 0 ||
		    json_time(json_get(it, "updated", NULL), &mtime) < 0) {
			snprintf(err, errlen, "the list answer's item %zu is not "
			    "a valid object", i);
			goto out;
		}
	}
	tok = json_get(v, "nextPageToken", NULL);
	if (tok && (json_str(tok) == NULL || json_str_check(tok, NULL) != TEXT_OK)) {
		snprintf(err, errlen, "the list answer's page token is not text");
		goto out;
	}
	for (i = 0; i < n; i++) {
		yajl_val it = json_at(items, i);

		(void)json_u64(json_get(it, "size", NULL), &size);
		(void)json_time(json_get(it, "updated", NULL), &mtime);
		item(json_str(json_get(it, "name", NULL)), size, mtime, arg);
	}
	if (tok && *json_str(tok))
		*next_token = xstrdup(json_str(tok));
	rc = 0;
out:
	json_free(v);
	return rc;
}

/* CRC-32C, slicing by 8 (the tables are made on first use). */
static uint32_t crc_tab[8][256];
static bool crc_ready;

static void
crc_init(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_tab[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc_tab[k][i] = crc_tab[0][crc_tab[k - 1][i] & 0xff] ^
			    (crc_tab[k - 1][i] >> 8);
	crc_ready = true;
}

uint32_t
gcs_crc32c(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;

	if (!crc_ready)
		crc_init();
	crc = ~crc;
	while (n >= 8) {
		uint32_t lo = crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 |
		    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
		uint32_t hi = (uint32_t)b[4] | (uint32_t)b[5] << 8 |
		    (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;

		crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		    crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		    crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		    crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
		b += 8;
		n -= 8;
	}
	while (n-- > 0)
		crc = crc_tab[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

void
gcs_crc32c_b64(uint32_t crc, char out[16])
{
	unsigned char be[4] = { (unsigned char)(crc >> 24),
	    (unsigned char)(crc >> 16), (unsigned char)(crc >> 8),
	    (unsigned char)crc };

	EVP_EncodeBlock((unsigned char *)out, be, 4);
}

void
gcs_md5_b64(const unsigned char md5[16], char out[32])
{
	EVP_EncodeBlock((unsigned char *)out, md5, 16);
}

/* Appends to a bounded output (always terminated). */
struct rout {
	char *p;
	size_t n, cap;
};

static void
rout_put(struct rout *o, const char *s, size_t n)
{
	size_t room = o->cap - 1 - o->n;

	if (n > room)
		n = room;
	memcpy(o->p + o->n, s, n);
	o->n += n;
	o->p[o->n] = '\0';
}

static bool
prefix_ci(const char *s, size_t n, const char *pfx)
{
	size_t k = strlen(pfx);

	return n >= k && strncasecmp(s, pfx, k) == 0;
}

void
gcs_redact(const char *line, size_t n, char *out, size_t outlen)
{
	static const char *const secret_headers[] = { "authorization:",
	    "proxy-authorization:", "x-guploader-uploadid:", "cookie:",
	    "set-cookie:" };
	static const char *const secret_params[] = { "upload_id=",
	    "assertion=", "access_token=", "\"access_token\":" };
	static const char red[] = "[REDACTED]";
	struct rout o = { out, 0, outlen };
	size_t i, k, lead = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	while (lead < n && (line[lead] == ' ' || line[lead] == '\t'))
		lead++;
	for (k = 0; k < ARRAY_SIZE(secret_headers); k++) {
		if (prefix_ci(line + lead, n - lead, secret_headers[k])) {
			rout_put(&o, line, lead + strlen(secret_headers[k]));
			rout_put(&o, " ", 1);
			rout_put(&o, red, sizeof(red) - 1);
			return;
		}
	}
	for (i = 0; i < n;) {
		bool hit = false;

		if (prefix_ci(line + i, n - i, "bearer ")) {
			rout_put(&o, line + i, 7);
			i += 7;
			while (i < n && line[i] != ' ' && line[i] != '"' &&
			    line[i] != ',')
				i++;
			rout_put(&o, red, sizeof(red) - 1);
			continue;
		}
		for (k = 0; k < ARRAY_SIZE(secret_params); k++) {
			size_t plen = strlen(secret_params[k]);

			if (!prefix_ci(line + i, n - i, secret_params[k]))
				continue;
			rout_put(&o, line + i, plen);
			i += plen;
			while (i < n && (line[i] == ' ' || line[i] == '"'))
				i++;
			while (i < n && strchr("&\"', ;\r\n", line[i]) == NULL)
				i++;
			rout_put(&o, red, sizeof(red) - 1);
			hit = true;
			break;
		}
		if (!hit) {
			char c = (unsigned char)line[i] < 0x20 ? ' ' : line[i];

			rout_put(&o, &c, 1);
			i++;
		}
	}
}

/* scheme, host and port of an absolute URL; -1 for user info or junk. */
static int
url_origin(const char *u, char *scheme, size_t slen, char *host, size_t hlen,
    unsigned *port)
{
	const char *sep = strstr(u, "://"), *a, *end, *colon;
	size_t n;
	uint64_t p;

	if (sep == NULL || (size_t)(sep - u) >= slen)
		return -1;
	memcpy(scheme, u, (size_t)(sep - u));
	scheme[sep - u] = '\0';
	a = sep + 3;
	end = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(end - a)) != NULL || end == a)
		return -1;
	if (*a == '[') {
		const char *rb = memchr(a, ']', (size_t)(end - a));

		if (rb == NULL)
			return -1;
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
		if (rb + 1 < end && colon == NULL)
			return -1;
	} else {
		colon = memchr(a, ':', (size_t)(end - a));
	}
	n = (size_t)((colon ? colon : end) - a);
	if (n == 0 || n >= hlen)
		return -1;
	memcpy(host, a, n);
	host[n] = '\0';
	if (colon) {
		const char *q = colon + 1;

		if (parse_u64(&q, &p) < 0 || q != end || p == 0 || p > 65535)
			return -1;
		*port = (unsigned)p;
	} else if (strcasecmp(scheme, "https") == 0) {
		*port = 443;
	} else if (strcasecmp(scheme, "http") == 0) {
		*port = 80;
	} else {
		return -1;
	}
	return 0;
}

bool
gcs_same_origin(const char *a, const char *b)
{
	char sa[16], sb[16], ha[256], hb[256];
	unsigned pa, pb;

	if (url_origin(a, sa, sizeof(sa), ha, sizeof(ha), &pa) < 0 ||
	    url_origin(b, sb, sizeof(sb), hb, sizeof(hb), &pb) < 0)
		return false;
	return strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 && pa == pb;
}

/* ---- client and requests ---------------------------------------------- */

struct greq;
typedef void (*greq_done_fn)(struct greq *r);
/* Streams a 2xx body: returns n, 0 to fail the transfer, or
 * CURL_WRITEFUNC_PAUSE. */
typedef size_t (*greq_sink_fn)(struct greq *r, const char *p, size_t n);

/* One HTTP request and its answer, embedded in its owner. */
struct greq {
	struct curlev_xfer xfer;
	struct gcs_client *c;
	struct greq *wait_next;		/* on the token wait list */
	bool waiting;
	/* the request, set up by the owner */
	const char *method;
	char *url;			/* owned */
	struct curl_slist *hdrs;	/* owned */
	const char *body;		/* the owner's, alive until done */
	size_t body_len, body_pos;
	bool has_body;
	bool auth;			/* send the access token */
	greq_sink_fn sink;
	greq_done_fn done;
	/* the answer */
	long status;
	CURLcode result;
	bool auth_failed;		/* no token could be had: see err */
	bool auth_retried;
	unsigned tok_serial;		/* the token this attempt used */
	char *location;
	char range[96];
	char content_range[96];
	int64_t content_length;		/* -1 unknown */
	int64_t generation;		/* x-goog-generation, -1 none */
	struct buf resp;
	char curl_err[CURL_ERROR_SIZE];
	char err[256];
};

enum gobj_kind { GO_PUT, GO_GET, GO_OP };

/* What the client tracks of every upload, download and operation. */
struct gobj {
	struct gcs_client *c;
	struct gobj *prev, *next;	/* client->objs */
	struct gobj *todo_next;		/* client->todo */
	enum gobj_kind kind;
	bool queued;			/* on client->todo */
	bool dead;			/* free it when the reaper runs */
	bool stopping;			/* aborted/cancelled: the reaper stops it */
};

struct gcs_client {
	struct curlev *m;
	struct ev_loop *loop;
	char *base;			/* endpoint, no trailing "/" */
	char *bucket_esc;
	char *bucket;
	char *ca_file;
	char *user_agent;
	bool insecure;
	size_t part;
	unsigned page;
	unsigned tries;
	double timeout;
	struct backoff_params bo;

	bool have_sa;
	struct gcsauth_sa sa;
	struct gcsauth_token tok;
	unsigned tok_serial;		/* bumped for each token obtained */
	struct greq tokreq;
	char *tokbody;			/* the form with the JWT (a secret) */
	bool tok_busy;
	unsigned tok_tries;
	char tok_err[200];
	ev_timer tok_timer;
	struct greq *waiters;

	struct gobj *objs;
	size_t nobjs;
	struct gobj *todo;
	ev_prepare reaper;

	struct gcs_stats st;
};

static void greq_launch(struct greq *r);
static void tok_fetch(struct gcs_client *c);
static void obj_free(struct gobj *o);
static void obj_stop(struct gobj *o);

static int64_t
now_s(void)
{
	return (int64_t)wall_now();
}

static double
retry_delay(struct gcs_client *c, unsigned tries)
{
	return backoff_delay(&c->bo, tries > 0 ? tries - 1 : 0, rand_unit());
}

static void
greq_init(struct greq *r, struct gcs_client *c)
{
	memset(r, 0, sizeof(*r));
	r->c = c;
	buf_init(&r->resp, GCS_MAX_ANSWER);
	r->content_length = -1;
	r->generation = -1;
}

/* Takes the transfer out of curl and off the wait list; keeps the request
 * as set up. */
static void
greq_stop(struct greq *r)
{
	struct gcs_client *c = r->c;

	if (r->waiting) {
		struct greq **pp;

		for (pp = &c->waiters; *pp; pp = &(*pp)->wait_next) {
			if (*pp == r) {
				*pp = r->wait_next;
				break;
			}
		}
		r->waiting = false;
		r->wait_next = NULL;
	}
	if (r->xfer.easy) {
		curlev_remove(c->m, &r->xfer);
		curl_easy_cleanup(r->xfer.easy);
		r->xfer.easy = NULL;
	}
}

static void
greq_release(struct greq *r)
{
	greq_stop(r);
	free(r->url);
	r->url = NULL;
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	free(r->location);
	r->location = NULL;
	buf_release(&r->resp);
}

static void greq_header(struct greq *r, const char *fmt, ...)
    DBP_PRINTF(2, 3);

/* Sets up a new request (the previous one's state is dropped). url is
 * taken. */
static void
greq_setup(struct greq *r, const char *method, char *url, bool auth,
    greq_done_fn done)
{
	greq_stop(r);
	free(r->url);
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	r->method = method;
	r->url = url;
	r->auth = auth;
	r->done = done;
	r->sink = NULL;
	r->body = NULL;
	r->body_len = r->body_pos = 0;
	r->has_body = false;
	r->auth_retried = false;
	/* No 100-continue round trip before each part. */
	greq_header(r, "Expect:");
}

static void
greq_header(struct greq *r, const char *fmt, ...)
{
	va_list ap;
	char *h;
	struct curl_slist *l;

	va_start(ap, fmt);
	h = xvasprintf(fmt, ap);
	va_end(ap);
	l = curl_slist_append(r->hdrs, h);
	free(h);
	if (l == NULL)
		die_oom();
	r->hdrs = l;
}

static void
greq_body(struct greq *r, const char *p, size_t n)
{
	r->body = p;
	r->body_len = n;
	r->has_body = true;
}

static bool
tok_usable(struct gcs_client *c)
{
	return !gcsauth_token_needs_refresh(&c->tok, now_s());
}

/* Sends r now, or once there is a token. */
static void
greq_start(struct greq *r)
{
	struct gcs_client *c = r->c;

	if (r->auth && c->have_sa && !tok_usable(c)) {
		struct greq **pp = &c->waiters;

		while (*pp)
			pp = &(*pp)->wait_next;
		*pp = r;
		r->wait_next = NULL;
		r->waiting = true;
		tok_fetch(c);
		return;
	}
	greq_launch(r);
}

static size_t
greq_write_cb(char *p, size_t size, size_t nmemb, void *u)
{
	struct greq *r = u;
	size_t n = size * nmemb;

	if (r->sink && r->status >= 200 && r->status < 300)
		return r->sink(r, p, n);
	if (buf_append(&r->resp, p, n) < 0) {
		snprintf(r->err, sizeof(r->err), "an answer larger than %zu bytes",
		    r->resp.max);
		return 0;
	}
	return n;
}

static size_t
greq_read_cb(char *p, size_t size, size_t nmemb, void *u)
{
	struct greq *r = u;
	size_t n = size * nmemb, left = r->body_len - r->body_pos;

	if (n > left)
		n = left;
	memcpy(p, r->body + r->body_pos, n);
	r->body_pos += n;
	return n;
}

/* The value of header line h if it is named name (with the colon). */
static const char *
header_value(const char *h, size_t n, const char *name, size_t *vlen)
{
	size_t k = strlen(name);
	const char *v;

	if (n < k || strncasecmp(h, name, k) != 0)
		return NULL;
	v = h + k;
	while (v < h + n && (*v == ' ' || *v == '\t'))
		v++;
	n -= (size_t)(v - h);
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
	    v[n - 1] == ' '))
		n--;
	*vlen = n;
	return v;
}

static size_t
greq_header_cb(char *p, size_t size, size_t nmemb, void *u)
{
	struct greq *r = u;
	size_t n = size * nmemb, vl;
	const char *v;

	if (n > 5 && strncmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', n);

		/* A new answer (100 Continue, then the real one). */
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		free(r->location);
		r->location = NULL;
		r->range[0] = r->content_range[0] = '\0';
		r->content_length = -1;
		r->generation = -1;
	} else if ((v = header_value(p, n, "location:", &vl)) != NULL) {
		free(r->location);
		r->location = xstrndup(v, vl);
	} else if ((v = header_value(p, n, "range:", &vl)) != NULL) {
		snprintf(r->range, sizeof(r->range), "%.*s", (int)vl, v);
	} else if ((v = header_value(p, n, "content-range:", &vl)) != NULL) {
		snprintf(r->content_range, sizeof(r->content_range), "%.*s",
		    (int)vl, v);
	} else if ((v = header_value(p, n, "content-length:", &vl)) != NULL ||
	    (v = header_value(p, n, "x-goog-generation:", &vl)) != NULL) {
		char num[32];
		const char *q = num;
		uint64_t x;
		bool gen = strncasecmp(p, "x-goog", 6) == 0;

		snprintf(num, sizeof(num), "%.*s", (int)vl, v);
		if (parse_u64(&q, &x) == 0 && *q == '\0' && x <= INT64_MAX) {
			if (gen)
				r->generation = (int64_t)x;
			else
				r->content_length = (int64_t)x;
		}
	}
	return n;
}

/* curl's trace, line by line, with the credentials cut out. */
static int
greq_debug_cb(CURL *e, curl_infotype type, char *data, size_t size, void *u)
{
	const char *dir;
	char out[600];
	size_t i = 0;

	(void)e;
	(void)u;
	switch (type) {
	case CURLINFO_TEXT:
		dir = "info";
		break;
	case CURLINFO_HEADER_IN:
		dir = "in";
		break;
	case CURLINFO_HEADER_OUT:
		dir = "out";
		break;
	default:
		return 0;	/* bodies: artefact bytes, tokens, the JWT */
	}
	while (i < size) {
		size_t j = i;

		while (j < size && data[j] != '\n')
			j++;
		if (j > i && !(j - i == 1 && data[i] == '\r')) {
			gcs_redact(data + i, j - i, out, sizeof(out));
			log_debug("gcs curl", "dir", dir, "text", out);
		}
		i = j + 1;
	}
	return 0;
}

static void greq_xfer_done(struct curlev_xfer *x, CURLcode result);

static void
greq_launch(struct greq *r)
{
	struct gcs_client *c = r->c;
	CURL *e;
	char err[CURL_ERROR_SIZE + 64];

	r->status = 0;
	r->result = CURLE_OK;
	r->auth_failed = false;
	r->curl_err[0] = r->err[0] = '\0';
	r->range[0] = r->content_range[0] = '\0';
	r->content_length = r->generation = -1;
	free(r->location);
	r->location = NULL;
	buf_reset(&r->resp);
	r->body_pos = 0;

	e = curl_easy_init();
	if (e == NULL)
		die_oom();
	r->xfer.easy = e;
	r->xfer.done = greq_xfer_done;
	r->xfer.arg = r;
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, GCS_CONNECT_TIMEOUT_MS);
	/* A stall limit, not a total: parts are large. Paused downloads are
	 * not checked by curl. */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(c->timeout + 0.999));
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, greq_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, greq_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca_file) {
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	}
	if (log_enabled(LOG_DEBUG)) {
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, greq_debug_cb);
		curl_easy_setopt(e, CURLOPT_DEBUGDATA, r);
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	}
	if (r->auth && c->have_sa) {
		/* curl writes "Authorization: Bearer"; the token stays out of
		 * our header list. */
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, c->tok.access_token);
		r->tok_serial = c->tok_serial;
	}
	if (strcmp(r->method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
	} else if (strcmp(r->method, "PUT") == 0) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)r->body_len);
		/* No seek function: when a reused connection dies under a
		 * PUT, curl would quietly send it again from its start; the
		 * protocol wants the session asked what it kept instead, so
		 * the rewind fails and the owner queries. */
		curl_easy_setopt(e, CURLOPT_READFUNCTION, greq_read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, r);
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	c->st.requests++;
	if (curlev_add(c->m, &r->xfer, err, sizeof(err)) < 0) {
		/* Only a misuse of the multi handle gets here. */
		log_error("gcs: cannot start a transfer", "error", err);
		abort();
	}
}

/* A finished attempt: the 401 repeat, then the owner. */
static void
greq_xfer_done(struct curlev_xfer *x, CURLcode result)
{
	struct greq *r = x->arg;
	struct gcs_client *c = r->c;
	long code = 0;

	r->result = result;
	if (result == CURLE_OK) {
		curl_easy_getinfo(r->xfer.easy, CURLINFO_RESPONSE_CODE, &code);
		r->status = code;
	}
	curl_easy_cleanup(r->xfer.easy);
	r->xfer.easy = NULL;
	if (result != CURLE_OK || r->status >= 400)
		c->st.errors++;
	if (result == CURLE_OK && r->status == 401 && r->auth && c->have_sa &&
	    !r->auth_retried) {
		/* The token may have been revoked or expired early: drop it
		 * (unless a newer one came meanwhile) and try once more. */
		r->auth_retried = true;
		c->st.retries++;
		if (r->tok_serial == c->tok_serial)
			gcsauth_token_release(&c->tok);
		log_debug("gcs: 401, fetching a new token");
		greq_start(r);
		return;
	}
	r->done(r);
}

enum gclass {
	GC_OK,		/* 2xx */
	GC_MORE,	/* 308: a session wants more */
	GC_RETRY,	/* transport error, timeout, 408, 429, 5xx */
	GC_FAIL,	/* anything else */
};

static enum gclass
greq_class(const struct greq *r)
{
	if (r->auth_failed)
		return GC_FAIL;
	switch (r->result) {
	case CURLE_OK:
		break;
	case CURLE_WRITE_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_OUT_OF_MEMORY:
		return GC_FAIL;
	default:
		return GC_RETRY;
	}
	if (r->status >= 200 && r->status < 300)
		return GC_OK;
	if (r->status == 308)
		return GC_MORE;
	if (r->status == 408 || r->status == 429 || r->status >= 500)
		return GC_RETRY;
	return GC_FAIL;
}

/* Why an attempt failed, for an error message ("what" names the step). */
static void
greq_errtext(const struct greq *r, const char *what, char *out, size_t outlen)
{
	char tmp[300];

	if (r->auth_failed) {
		snprintf(out, outlen, "%s", r->err);
	} else if (r->result != CURLE_OK) {
		snprintf(tmp, sizeof(tmp), "GCS %s: %s", what,
		    r->err[0] ? r->err : r->curl_err[0] ? r->curl_err :
		    curl_easy_strerror(r->result));
		gcs_redact(tmp, strlen(tmp), out, outlen);
	} else {
		gcs_error_text(r->status, r->resp.data, r->resp.len, out, outlen);
	}
}

/* ---- the access token -------------------------------------------------- */

/* Every waiting request fails with the token error (from the loop). */
static void
tok_fail_waiters(struct gcs_client *c)
{
	struct greq *list = c->waiters, *r;

	c->waiters = NULL;
	while ((r = list) != NULL) {
		list = r->wait_next;
		r->wait_next = NULL;
		r->waiting = false;
		r->auth_failed = true;
		r->status = 0;
		r->result = CURLE_OK;
		/* "GCS token endpoint refused: ...", "GCS token response:
		 * ...", or "GCS token: <transport error>". */
		snprintf(r->err, sizeof(r->err), "GCS %s%s",
		    strncmp(c->tok_err, "token ", 6) == 0 ? "" : "token: ",
		    c->tok_err);
		r->done(r);
	}
}

static void
tok_launch_waiters(struct gcs_client *c)
{
	struct greq *list = c->waiters, *r;

	c->waiters = NULL;
	while ((r = list) != NULL) {
		list = r->wait_next;
		r->wait_next = NULL;
		r->waiting = false;
		greq_launch(r);
	}
}

static void
tok_done(struct greq *r)
{
	struct gcs_client *c = r->c;
	char err[256];
	enum gclass k = greq_class(r);

	free_secret(c->tokbody);
	c->tokbody = NULL;
	if (k == GC_OK || (k == GC_FAIL && r->result == CURLE_OK &&
	    r->status >= 400 && r->status < 500)) {
		/* A 4xx from the token endpoint is an OAuth error answer:
		 * the parser reports its code and description. */
		struct gcsauth_token t = { 0 };
		int rc = gcsauth_token_parse(r->resp.data ? r->resp.data : "",
		    r->resp.len, now_s(), &t, err, sizeof(err));

		buf_release_secret(&r->resp);
		buf_init(&r->resp, GCS_MAX_ANSWER);
		c->tok_busy = false;
		if (rc == 0 && k == GC_OK) {
			gcsauth_token_release(&c->tok);
			c->tok = t;
			c->tok_serial++;
			c->tok_tries = 0;
			tok_launch_waiters(c);
			return;
		}
		if (rc == 0) {
			gcsauth_token_release(&t);
			snprintf(err, sizeof(err), "HTTP %ld", r->status);
		}
		/* gcsauth's messages start with its module name. */
		snprintf(c->tok_err, sizeof(c->tok_err), "%s",
		    strncmp(err, "gcs: ", 5) == 0 ? err + 5 : err);
		c->tok_tries = 0;
		tok_fail_waiters(c);
		return;
	}
	buf_release_secret(&r->resp);
	buf_init(&r->resp, GCS_MAX_ANSWER);
	if (r->result != CURLE_OK)
		snprintf(err, sizeof(err), "%s", r->curl_err[0] ? r->curl_err :
		    curl_easy_strerror(r->result));
	else
		snprintf(err, sizeof(err), "HTTP %ld from the token endpoint",
		    r->status);
	if (k == GC_RETRY && ++c->tok_tries < c->tries) {
		c->st.retries++;
		log_debug("gcs: token request failed, retrying", "error", err);
		ev_timer_set(&c->tok_timer, retry_delay(c, c->tok_tries), 0.);
		ev_timer_start(c->loop, &c->tok_timer);
		return;	/* still busy */
	}
	c->tok_busy = false;
	c->tok_tries = 0;
	snprintf(c->tok_err, sizeof(c->tok_err), "%s", err);
	tok_fail_waiters(c);
}

/* The timer: a retry of the token request, or a failure to deliver. */
static void
tok_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gcs_client *c = container_of(w, struct gcs_client, tok_timer);

	(void)loop;
	(void)revents;
	if (!c->tok_busy) {
		tok_fail_waiters(c);
		return;
	}
	c->tok_busy = false;
	tok_fetch(c);
}

static void
tok_fetch(struct gcs_client *c)
{
	char err[200];

	if (c->tok_busy)
		return;
	c->tok_busy = true;
	c->tokbody = gcsauth_token_request(&c->sa, NULL, now_s(), err,
	    sizeof(err));
	if (c->tokbody == NULL) {
		/* Never fail a caller from inside its own call: the timer
		 * delivers it. */
		c->tok_busy = false;
		snprintf(c->tok_err, sizeof(c->tok_err), "%s",
		    strncmp(err, "gcs: ", 5) == 0 ? err + 5 : err);
		ev_timer_stop(c->loop, &c->tok_timer);
		ev_timer_set(&c->tok_timer, 0., 0.);
		ev_timer_start(c->loop, &c->tok_timer);
		return;
	}
	c->st.token_fetches++;
	greq_setup(&c->tokreq, "POST", xstrdup(c->sa.token_uri), false,
	    tok_done);
	greq_header(&c->tokreq, "Content-Type: %s", GCSAUTH_FORM_TYPE);
	greq_body(&c->tokreq, c->tokbody, strlen(c->tokbody));
	greq_launch(&c->tokreq);
}

/* ---- client ------------------------------------------------------------ */

static void reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents);

struct gcs_client *
gcs_client_new(struct curlev *m, const struct gcs_config *cfg, char *err,
    size_t errlen)
{
	struct gcs_client *c;
	char *base;
	char e2[200];

	if (cfg->bucket == NULL || *cfg->bucket == '\0') {
		snprintf(err, errlen, "GCS: no bucket");
		return NULL;
	}
	base = gcs_endpoint(cfg->endpoint, getenv(GCS_EMULATOR_ENV), e2,
	    sizeof(e2));
	if (base == NULL) {
		snprintf(err, errlen, "GCS: %s", e2);
		return NULL;
	}
	if (cfg->sa_json == NULL && strcmp(base, GCS_DEFAULT_ENDPOINT) == 0) {
		snprintf(err, errlen, "GCS: no service-account key (anonymous "
		    "access is for emulators only)");
		free(base);
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	if (cfg->sa_json) {
		if (gcsauth_sa_parse(cfg->sa_json, cfg->sa_json_len, &c->sa, e2,
		    sizeof(e2)) < 0) {
			snprintf(err, errlen, "GCS: service-account key: %s", e2);
			free(base);
			free(c);
			return NULL;
		}
		c->have_sa = true;
	}
	c->m = m;
	c->loop = curlev_loop(m);
	c->base = base;
	c->bucket = xstrdup(cfg->bucket);
	c->bucket_esc = gcs_escape(cfg->bucket);
	c->ca_file = cfg->ca_file && *cfg->ca_file ? xstrdup(cfg->ca_file) : NULL;
	c->user_agent = xstrdup(cfg->user_agent ? cfg->user_agent :
	    PACKAGE_NAME "/" PACKAGE_VERSION);
	c->insecure = cfg->tls_insecure;
	c->part = gcs_part_size(cfg->part_size);
	c->page = cfg->list_page_size;
	c->tries = cfg->max_tries > 0 ? (unsigned)cfg->max_tries :
	    GCS_DEFAULT_TRIES;
	c->timeout = cfg->timeout > 0 ? cfg->timeout : GCS_DEFAULT_TIMEOUT;
	c->bo = (struct backoff_params){ cfg->retry_delay > 0 ?
	    cfg->retry_delay : 0.5, 2.0, 0.5, 16.0, 0.0 };
	greq_init(&c->tokreq, c);
	ev_timer_init(&c->tok_timer, tok_timer_cb, 0., 0.);
	ev_prepare_init(&c->reaper, reaper_cb);
	return c;
}

void
gcs_client_free(struct gcs_client *c)
{
	if (c == NULL)
		return;
	while (c->objs) {
		struct gobj *o = c->objs;

		obj_stop(o);
		obj_free(o);
	}
	greq_release(&c->tokreq);
	ev_timer_stop(c->loop, &c->tok_timer);
	ev_prepare_stop(c->loop, &c->reaper);
	free_secret(c->tokbody);
	gcsauth_token_release(&c->tok);
	if (c->have_sa)
		gcsauth_sa_release(&c->sa);
	free(c->base);
	free(c->bucket);
	free(c->bucket_esc);
	free(c->ca_file);
	free(c->user_agent);
	free(c);
}

const struct gcs_stats *
gcs_client_stats(const struct gcs_client *c)
{
	return &c->st;
}

size_t
gcs_client_busy(const struct gcs_client *c)
{
	return c->nobjs;
}

const char *
gcs_client_endpoint(const struct gcs_client *c)
{
	return c->base;
}

static void
obj_link(struct gcs_client *c, struct gobj *o, enum gobj_kind kind)
{
	o->c = c;
	o->kind = kind;
	o->prev = NULL;
	o->next = c->objs;
	if (c->objs)
		c->objs->prev = o;
	c->objs = o;
	c->nobjs++;
}

static void
obj_unlink(struct gcs_client *c, struct gobj *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else
		c->objs = o->next;
	if (o->next)
		o->next->prev = o->prev;
	o->prev = o->next = NULL;
	c->nobjs--;
}

/* Hands o to the reaper (to free it, or to stop it first). */
static void
obj_queue(struct gcs_client *c, struct gobj *o)
{
	if (!o->queued) {
		o->queued = true;
		o->todo_next = c->todo;
		c->todo = o;
	}
	ev_prepare_start(c->loop, &c->reaper);
}

static void put_stop_now(struct gobj *o);

static void
reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct gcs_client *c = container_of(w, struct gcs_client, reaper);
	struct gobj *o;

	(void)loop;
	(void)revents;
	while ((o = c->todo) != NULL) {
		c->todo = o->todo_next;
		o->todo_next = NULL;
		o->queued = false;
		if (o->dead) {
			obj_stop(o);
			obj_free(o);
		} else if (o->stopping) {
			o->stopping = false;
			if (o->kind == GO_PUT) {
				put_stop_now(o);	/* may clean up first */
			} else {
				obj_stop(o);
				obj_free(o);
			}
		}
	}
	ev_prepare_stop(c->loop, &c->reaper);
}

/* ---- uploads ----------------------------------------------------------- */

enum put_state {
	PS_FILLING,	/* taking bytes; nothing in flight */
	PS_CREATING,	/* POST uploadType=resumable: for the session URI */
	PS_SENDING,	/* PUT of the buffered bytes from `kept` on */
	PS_QUERYING,	/* PUT "bytes * / *": how much did the session keep? */
	PS_SINGLE,	/* POST uploadType=media: the whole artefact */
	PS_BACKOFF,	/* the timer, then `again` */
	PS_REMOVING,	/* DELETE of an object that must not stay */
	PS_CANCELLING,	/* DELETE of the session URI */
	PS_DONE,
	PS__COUNT
};

static const char *const put_state_names[PS__COUNT] = {
	"FILLING", "CREATING", "SENDING", "QUERYING", "SINGLE", "BACKOFF",
	"REMOVING", "CANCELLING", "DONE",
};

struct gcs_put {
	struct gobj obj;		/* first */
	struct gcs_client *c;
	char *key;
	char *key_esc;
	struct gcs_put_cb cb;
	void *arg;
	enum put_state state;
	enum put_state again;		/* what PS_BACKOFF repeats */
	struct greq rq;
	ev_timer timer;
	unsigned tries;			/* failures without progress */
	char *session;			/* session URI: a credential */
	char *buf;			/* the part buffer */
	size_t len, cap;
	uint64_t base;			/* object offset of buf[0] */
	uint64_t kept;			/* bytes the session has */
	uint64_t total;			/* bytes taken so far */
	bool finishing;
	bool sent_final;		/* the last PUT named the total */
	bool aborted;
	bool committed;			/* the object exists */
	bool ok;
	EVP_MD_CTX *md5;
	unsigned char md5sum[16];
	uint32_t crc;
	char md5_b64[32], crc_b64[16];
	struct gcs_object_info info;
	char err[300];
};

static void put_send(struct gcs_put *p);
static void put_fail(struct gcs_put *p, const char *fmt, ...)
    DBP_PRINTF(2, 3);

static void
put_set_state(struct gcs_put *p, enum put_state s)
{
	if (log_enabled(LOG_DEBUG) && p->state != s)
		log_debug("gcs upload", "key", p->key, "from",
		    put_state_names[p->state], "to", put_state_names[s]);
	p->state = s;
}

/* The step, in an error message ("GCS upload status: <curl error>"). */
static const char *
put_step_name(enum put_state s)
{
	switch (s) {
	case PS_CREATING:
		return "upload session";
	case PS_QUERYING:
		return "upload status";
	case PS_CANCELLING:
		return "upload cancel";
	case PS_REMOVING:
		return "delete";
	default:
		return "upload";
	}
}

static char *
put_object_url(struct gcs_put *p, const char *fmt_tail)
{
	struct gcs_client *c = p->c;

	return xasprintf("%s/upload/storage/v1/b/%s/o?uploadType=%s&name=%s",
	    c->base, c->bucket_esc, fmt_tail, p->key_esc);
}

/* The upload's end: done once (unless aborted), then the reaper frees. */
static void
put_end(struct gcs_put *p, bool ok)
{
	struct gcs_client *c = p->c;

	put_set_state(p, PS_DONE);
	ev_timer_stop(c->loop, &p->timer);
	p->ok = ok;
	p->obj.dead = true;
	obj_queue(c, &p->obj);
	if (!p->aborted && p->cb.done)
		p->cb.done(p, ok, ok ? NULL : p->err, p->arg);
}

static void put_answer(struct greq *r);

static void
put_cancel_session(struct gcs_put *p)
{
	greq_setup(&p->rq, "DELETE", xstrdup(p->session), false, put_answer);
	greq_header(&p->rq, "Content-Length: 0");
	put_set_state(p, PS_CANCELLING);
	greq_start(&p->rq);
}

static void
put_remove_object(struct gcs_put *p)
{
	struct gcs_client *c = p->c;
	char *url;

	if (p->info.generation > 0)
		url = xasprintf("%s/storage/v1/b/%s/o/%s?generation=%" PRId64,
		    c->base, c->bucket_esc, p->key_esc, p->info.generation);
	else
		url = xasprintf("%s/storage/v1/b/%s/o/%s", c->base,
		    c->bucket_esc, p->key_esc);
	greq_setup(&p->rq, "DELETE", url, true, put_answer);
	put_set_state(p, PS_REMOVING);
	greq_start(&p->rq);
}

/* Leaves nothing behind, then ends (p->err says why). */
static void
put_cleanup_then_end(struct gcs_put *p)
{
	p->tries = 0;
	if (p->committed)
		put_remove_object(p);
	else if (p->session)
		put_cancel_session(p);
	else
		put_end(p, false);
}

static void
put_fail(struct gcs_put *p, const char *fmt, ...)
{
	va_list ap;
	char msg[sizeof(p->err)];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, sizeof(p->err), "%s", msg);
	log_debug("gcs upload failed", "key", p->key, "error", p->err);
	put_cleanup_then_end(p);
}

static void
put_backoff(struct gcs_put *p, enum put_state again, const char *why)
{
	struct gcs_client *c = p->c;

	c->st.retries++;
	log_debug("gcs upload: retrying", "key", p->key, "step",
	    put_state_names[again], "error", why);
	p->again = again;
	put_set_state(p, PS_BACKOFF);
	ev_timer_set(&p->timer, retry_delay(c, p->tries), 0.);
	ev_timer_start(c->loop, &p->timer);
}

static void
put_retry_later(struct gcs_put *p, enum put_state again, const char *why)
{
	if (++p->tries >= p->c->tries) {
		put_fail(p, "%s (after %u tries)", why, p->tries);
		return;
	}
	put_backoff(p, again, why);
}

static void
put_create(struct gcs_put *p)
{
	greq_setup(&p->rq, "POST", put_object_url(p, "resumable"), true,
	    put_answer);
	greq_header(&p->rq, "X-Upload-Content-Type: application/octet-stream");
	greq_body(&p->rq, "", 0);
	put_set_state(p, PS_CREATING);
	greq_start(&p->rq);
}

static void
put_hash_header(struct gcs_put *p)
{
	greq_header(&p->rq, "X-Goog-Hash: crc32c=%s,md5=%s", p->crc_b64,
	    p->md5_b64);
}

/* The checksums of the whole artefact, once it is complete. */
static void
put_seal(struct gcs_put *p)
{
	unsigned int n = 0;

	EVP_DigestFinal_ex(p->md5, p->md5sum, &n);
	gcs_md5_b64(p->md5sum, p->md5_b64);
	gcs_crc32c_b64(p->crc, p->crc_b64);
}

static void
put_single(struct gcs_put *p)
{
	greq_setup(&p->rq, "POST", put_object_url(p, "media"), true,
	    put_answer);
	greq_header(&p->rq, "Content-Type: application/octet-stream");
	put_hash_header(p);
	greq_body(&p->rq, p->buf ? p->buf : "", p->len);
	put_set_state(p, PS_SINGLE);
	greq_start(&p->rq);
}

/* The buffered bytes from what the session kept; the last request of the
 * upload names the total (and carries the checksums). */
static void
put_send(struct gcs_put *p)
{
	uint64_t off = p->kept - p->base, n = p->len - off;
	char range[96];

	gcs_chunk_range(p->kept, n, p->finishing ? (int64_t)p->total : -1,
	    range, sizeof(range));
	greq_setup(&p->rq, "PUT", xstrdup(p->session), false, put_answer);
	greq_header(&p->rq, "Content-Range: %s", range);
	p->sent_final = p->finishing;
	if (p->finishing)
		put_hash_header(p);
	greq_body(&p->rq, p->buf ? p->buf + off : "", (size_t)n);
	put_set_state(p, PS_SENDING);
	greq_start(&p->rq);
}

static void
put_query(struct gcs_put *p)
{
	greq_setup(&p->rq, "PUT", xstrdup(p->session), false, put_answer);
	greq_header(&p->rq, "Content-Range: bytes */*");
	greq_body(&p->rq, "", 0);
	put_set_state(p, PS_QUERYING);
	greq_start(&p->rq);
}

/* The part buffer is full, or the artefact ended: send what is there. */
static void
put_kick(struct gcs_put *p)
{
	if (p->finishing)
		put_seal(p);
	if (p->session)
		put_send(p);
	else if (p->finishing)
		put_single(p);
	else
		put_create(p);
}

/* The final answer carries the object: it must be what was written. */
static void
put_verify(struct gcs_put *p)
{
	struct greq *r = &p->rq;
	struct gcs_client *c = p->c;
	char err[200];

	p->committed = true;
	if (gcs_parse_object(r->resp.data ? r->resp.data : "", r->resp.len,
	    &p->info, err, sizeof(err)) < 0) {
		put_fail(p, "GCS upload of %s: %s", p->key, err);
		return;
	}
	if (p->info.size != p->total) {
		put_fail(p, "GCS upload of %s: the service stored %" PRIu64
		    " bytes, %" PRIu64 " were written", p->key, p->info.size,
		    p->total);
		return;
	}
	if ((p->info.md5[0] && strcmp(p->info.md5, p->md5_b64) != 0) ||
	    (p->info.crc32c[0] && strcmp(p->info.crc32c, p->crc_b64) != 0)) {
		put_fail(p, "GCS upload of %s: the stored object's checksum "
		    "does not match what was written", p->key);
		return;
	}
	c->st.bytes_up += p->total - p->kept;
	p->kept = p->total;
	p->tries = 0;
	put_end(p, true);
}

/* A 308 (or a status query's answer) said how much the session has. */
static void
put_kept(struct gcs_put *p)
{
	struct gcs_client *c = p->c;
	uint64_t kept, end = p->base + p->len;
	bool progress;

	if (gcs_parse_kept(p->rq.range, &kept) < 0) {
		put_fail(p, "GCS upload of %s: unreadable Range in the "
		    "session's answer", p->key);
		return;
	}
	if (kept < p->base || kept < p->kept) {
		put_fail(p, "GCS upload of %s: the session lost bytes it had "
		    "kept (%" PRIu64 " now, %" PRIu64 " before)", p->key, kept,
		    p->kept > p->base ? p->kept : p->base);
		return;
	}
	if (kept > end) {
		put_fail(p, "GCS upload of %s: the session reports %" PRIu64
		    " bytes, only %" PRIu64 " were sent", p->key, kept, end);
		return;
	}
	progress = kept > p->kept;
	if (progress) {
		c->st.bytes_up += kept - p->kept;
		p->kept = kept;
		p->tries = 0;
	}
	if (kept == end && !p->sent_final) {
		/* The part is in: the buffer is free again (or, when the
		 * artefact ended meanwhile, the commit follows). */
		p->base = end;
		p->len = 0;
		if (p->finishing) {
			put_send(p);
			return;
		}
		put_set_state(p, PS_FILLING);
		if (p->cb.writable && !p->aborted)
			p->cb.writable(p, p->arg);
		return;
	}
	if (kept == end && p->state == PS_SENDING) {
		/* Everything was sent with the total and the session still
		 * wants more: it will not complete. */
		put_fail(p, "GCS upload of %s: the session did not complete "
		    "with all %" PRIu64 " bytes", p->key, end);
		return;
	}
	if (p->state == PS_SENDING && !progress && ++p->tries >= c->tries) {
		put_fail(p, "GCS upload of %s: the session keeps no more "
		    "bytes", p->key);
		return;
	}
	/* Kept only in part (whole 256 KiB blocks), or after a failure:
	 * the rest again, from where the session is. */
	put_send(p);
}

static void
put_answer(struct greq *r)
{
	struct gcs_put *p = container_of(r, struct gcs_put, rq);
	enum gclass k = greq_class(r);
	char err[300];

	greq_errtext(r, put_step_name(p->state), err, sizeof(err));
	if (p->aborted && p->state != PS_CANCELLING &&
	    p->state != PS_REMOVING) {
		/* Aborted while this was in flight: clean up after it. */
		if (p->state == PS_CREATING && k == GC_OK && r->location &&
		    gcs_same_origin(p->c->base, r->location))
			p->session = xstrdup(r->location);
		if (k == GC_OK && (p->state == PS_SINGLE ||
		    p->state == PS_SENDING || p->state == PS_QUERYING) &&
		    gcs_parse_object(r->resp.data ? r->resp.data : "",
		    r->resp.len, &p->info, err, sizeof(err)) == 0) {
			p->committed = true;
		}
		put_cleanup_then_end(p);
		return;
	}
	switch (p->state) {
	case PS_CREATING:
		/* Waits for the session URI (Location). */
		if (k == GC_RETRY) {
			put_retry_later(p, PS_CREATING, err);
		} else if (k != GC_OK) {
			put_fail(p, "%s", err);
		} else if (r->location == NULL || *r->location == '\0') {
			put_fail(p, "GCS upload of %s: no session URI in the "
			    "answer", p->key);
		} else if (!gcs_same_origin(p->c->base, r->location)) {
			put_fail(p, "GCS upload of %s: the session URI points "
			    "to another host", p->key);
		} else {
			p->session = xstrdup(r->location);
			p->tries = 0;
			put_send(p);
		}
		break;
	case PS_SENDING:
		/* Waits for 308 + Range (more wanted) or the object. */
		if (k == GC_MORE)
			put_kept(p);
		else if (k == GC_OK && p->sent_final)
			put_verify(p);
		else if (k == GC_OK)
			put_fail(p, "GCS upload of %s: the session completed "
			    "before the end of the artefact", p->key);
		else if (k == GC_RETRY)
			put_retry_later(p, PS_QUERYING, err);
		else if (r->status == 404 || r->status == 410)
			put_fail(p, "%s (the upload session is gone)", err);
		else
			put_fail(p, "%s", err);
		break;
	case PS_QUERYING:
		/* Waits for what the session kept after a failed PUT. */
		if (k == GC_MORE)
			put_kept(p);
		else if (k == GC_OK && p->sent_final)
			put_verify(p);	/* the last PUT had gone through */
		else if (k == GC_OK)
			put_fail(p, "GCS upload of %s: the session completed "
			    "before the end of the artefact", p->key);
		else if (k == GC_RETRY)
			put_retry_later(p, PS_QUERYING, err);
		else if (r->status == 404 || r->status == 410)
			put_fail(p, "%s (the upload session is gone)", err);
		else
			put_fail(p, "%s", err);
		break;
	case PS_SINGLE:
		/* Waits for the object. */
		if (k == GC_OK)
			put_verify(p);
		else if (k == GC_RETRY)
			put_retry_later(p, PS_SINGLE, err);
		else
			put_fail(p, "%s", err);
		break;
	case PS_CANCELLING:
		/* Waits for 499 (cancelled); 404: already gone. */
		if (k == GC_RETRY && ++p->tries < p->c->tries) {
			put_backoff(p, PS_CANCELLING, err);
			break;
		}
		if (k == GC_RETRY || (r->status != 499 && r->status != 404 &&
		    r->status != 410 && k != GC_OK))
			log_warn("GCS upload session not cancelled", "key",
			    p->key, "error", err);
		free_secret(p->session);
		p->session = NULL;
		put_end(p, false);
		break;
	case PS_REMOVING:
		/* Waits for 204; 404: already gone. */
		if (k == GC_RETRY && ++p->tries < p->c->tries) {
			put_backoff(p, PS_REMOVING, err);
			break;
		}
		if (k != GC_OK && r->status != 404)
			log_warn("GCS object of a failed upload not removed",
			    "key", p->key, "error", err);
		p->committed = false;
		put_end(p, false);
		break;
	default:
		log_error("gcs upload: answer in an idle state", "state",
		    put_state_names[p->state]);
		break;
	}
}

static void
put_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gcs_put *p = container_of(w, struct gcs_put, timer);

	(void)loop;
	(void)revents;
	switch (p->again) {
	case PS_CREATING:
		put_create(p);
		break;
	case PS_QUERYING:
		put_query(p);
		break;
	case PS_SINGLE:
		put_single(p);
		break;
	case PS_CANCELLING:
		put_cancel_session(p);
		break;
	case PS_REMOVING:
		put_remove_object(p);
		break;
	default:
		put_send(p);
		break;
	}
}

struct gcs_put *
gcs_put_new(struct gcs_client *c, const char *key, int64_t size_hint,
    const struct gcs_put_cb *cb, void *arg)
{
	struct gcs_put *p = xcalloc(1, sizeof(*p));

	p->c = c;
	p->key = xstrdup(key);
	p->key_esc = gcs_escape(key);
	p->cb = *cb;
	p->arg = arg;
	p->state = PS_FILLING;
	greq_init(&p->rq, c);
	ev_timer_init(&p->timer, put_timer_cb, 0., 0.);
	p->md5 = EVP_MD_CTX_new();
	if (p->md5 == NULL || EVP_DigestInit_ex(p->md5, EVP_md5(), NULL) != 1)
		die_oom();
	if (size_hint >= 0)
		p->cap = (uint64_t)size_hint < c->part ? (size_t)size_hint + 1 :
		    c->part;
	obj_link(c, &p->obj, GO_PUT);
	return p;
}

size_t
gcs_put_write(struct gcs_put *p, const void *data, size_t n)
{
	size_t room;

	if (p->state != PS_FILLING || p->finishing || p->aborted || n == 0)
		return 0;
	room = p->c->part - p->len;
	if (n > room)
		n = room;
	if (p->len + n > p->cap || p->buf == NULL) {
		size_t cap = p->cap ? p->cap : GCS_FIRST_BUF;

		while (cap < p->len + n)
			cap *= 2;
		if (cap > p->c->part)
			cap = p->c->part;
		p->buf = xrealloc(p->buf, cap);
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	p->total += n;
	EVP_DigestUpdate(p->md5, data, n);
	p->crc = gcs_crc32c(p->crc, data, n);
	if (p->len == p->c->part)
		put_kick(p);
	return n;
}

void
gcs_put_finish(struct gcs_put *p)
{
	if (p->finishing || p->aborted)
		return;
	p->finishing = true;
	/* Busy with a full part: its answer goes on to the commit. */
	if (p->state == PS_FILLING)
		put_kick(p);
	else
		put_seal(p);
}

/* The reaper's half of an abort: outside every curl callback. */
static void
put_stop_now(struct gobj *o)
{
	struct gcs_put *p = (struct gcs_put *)o;

	switch (p->state) {
	case PS_CREATING:
	case PS_SINGLE:
	case PS_CANCELLING:
	case PS_REMOVING:
		/* Let it answer: a session to cancel, an object to remove. */
		break;
	case PS_SENDING:
	case PS_QUERYING:
		if (p->sent_final)
			break;	/* the last PUT may complete the object */
		greq_stop(&p->rq);
		put_cleanup_then_end(p);
		break;
	case PS_FILLING:
	case PS_BACKOFF:
		ev_timer_stop(p->c->loop, &p->timer);
		if (p->state == PS_BACKOFF && (p->again == PS_CANCELLING ||
		    p->again == PS_REMOVING || (p->sent_final &&
		    p->again == PS_QUERYING))) {
			/* Clean-up under way goes on; after a failed last
			 * PUT the session is asked whether the object came
			 * to be (then it is removed). */
			put_timer_cb(p->c->loop, &p->timer, 0);
			break;
		}
		put_cleanup_then_end(p);
		break;
	case PS_DONE:
	case PS__COUNT:
		break;
	}
}

void
gcs_put_abort(struct gcs_put *p)
{
	if (p->aborted || p->state == PS_DONE)
		return;
	p->aborted = true;
	memset(&p->cb, 0, sizeof(p->cb));
	/* The buffer stays: a last request left running reads from it. */
	snprintf(p->err, sizeof(p->err), "aborted");
	p->obj.stopping = true;
	obj_queue(p->c, &p->obj);
}

const struct gcs_object_info *
gcs_put_info(const struct gcs_put *p)
{
	return &p->info;
}

uint64_t
gcs_put_size(const struct gcs_put *p)
{
	return p->total;
}

static void
put_free(struct gcs_put *p)
{
	greq_release(&p->rq);
	ev_timer_stop(p->c->loop, &p->timer);
	free_secret(p->session);
	EVP_MD_CTX_free(p->md5);
	free(p->buf);
	free(p->key);
	free(p->key_esc);
	free(p);
}

/* ---- downloads --------------------------------------------------------- */

struct gcs_get {
	struct gobj obj;		/* first */
	struct gcs_client *c;
	char *key;
	char *key_esc;
	struct gcs_get_cb cb;
	void *arg;
	struct greq rq;
	ev_timer timer;
	unsigned tries;
	uint64_t offset;		/* the next byte to hand over */
	int64_t size;			/* -1 until known */
	int64_t generation;		/* pinned by the first answer, or -1 */
	bool checked;			/* this attempt's answer was checked */
	bool progress;			/* this attempt delivered bytes */
	bool paused;
	bool bad;			/* the sink refused the answer: err */
	bool cancelled;
	bool finished;
	char err[300];
};

static void get_answer(struct greq *r);

/* The first bytes of an answer: is it the part that was asked for? */
static int
get_check(struct gcs_get *g)
{
	struct greq *r = &g->rq;
	uint64_t first, last;
	int64_t total;

	if (r->status == 206) {
		if (gcs_parse_content_range(r->content_range, &first, &last,
		    &total) < 0 || first != g->offset) {
			snprintf(g->err, sizeof(g->err), "GCS download of %s: "
			    "the answer is not the range asked for", g->key);
			return -1;
		}
		if (total >= 0)
			g->size = total;
	} else if (g->offset != 0) {
		snprintf(g->err, sizeof(g->err), "GCS download of %s: the "
		    "service ignored the range", g->key);
		return -1;
	} else if (r->content_length >= 0) {
		g->size = r->content_length;
	}
	if (g->generation < 0 && r->generation >= 0)
		g->generation = r->generation;
	return 0;
}

static size_t
get_sink(struct greq *r, const char *p, size_t n)
{
	struct gcs_get *g = container_of(r, struct gcs_get, rq);

	if (g->cancelled)
		return 0;
	if (!g->checked) {
		if (get_check(g) < 0) {
			g->bad = true;
			return 0;
		}
		g->checked = true;
	}
	if (!g->cb.data(g, p, n, g->arg)) {
		if (g->cancelled)
			return 0;
		g->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (g->cancelled)
		return 0;
	g->offset += n;
	g->c->st.bytes_down += n;
	g->progress = true;
	return n;
}

static void
get_launch(struct gcs_get *g)
{
	struct gcs_client *c = g->c;
	char *url;

	if (g->generation >= 0)
		url = xasprintf("%s/storage/v1/b/%s/o/%s?alt=media&generation=%"
		    PRId64, c->base, c->bucket_esc, g->key_esc, g->generation);
	else
		url = xasprintf("%s/storage/v1/b/%s/o/%s?alt=media", c->base,
		    c->bucket_esc, g->key_esc);
	greq_setup(&g->rq, "GET", url, true, get_answer);
	if (g->offset > 0)
		greq_header(&g->rq, "Range: bytes=%" PRIu64 "-", g->offset);
	g->rq.sink = get_sink;
	g->checked = g->progress = g->paused = false;
	greq_start(&g->rq);
}

static void
get_end(struct gcs_get *g, bool ok)
{
	struct gcs_client *c = g->c;

	g->finished = true;
	ev_timer_stop(c->loop, &g->timer);
	g->obj.dead = true;
	obj_queue(c, &g->obj);
	if (!g->cancelled && g->cb.done)
		g->cb.done(g, ok, ok ? NULL : g->err, g->arg);
}

static void
get_answer(struct greq *r)
{
	struct gcs_get *g = container_of(r, struct gcs_get, rq);
	struct gcs_client *c = g->c;
	enum gclass k = greq_class(r);
	char err[300];

	if (g->cancelled)
		return;
	if (g->bad) {
		get_end(g, false);
		return;
	}
	if (k == GC_OK) {
		if (!g->checked && get_check(g) < 0) {
			get_end(g, false);	/* an empty answer, but wrong */
			return;
		}
		if (g->size < 0 || g->offset >= (uint64_t)g->size) {
			get_end(g, true);
			return;
		}
		/* Fewer bytes than announced without a transport error. */
		snprintf(err, sizeof(err), "GCS download of %s: the answer "
		    "ended at byte %" PRIu64 " of %" PRId64, g->key, g->offset,
		    g->size);
		k = GC_RETRY;
	} else {
		greq_errtext(r, "download", err, sizeof(err));
	}
	if (k == GC_FAIL && r->status == 416 && g->size >= 0 &&
	    g->offset == (uint64_t)g->size) {
		get_end(g, true);	/* nothing was left to read */
		return;
	}
	if (k != GC_RETRY) {
		snprintf(g->err, sizeof(g->err), "%s", err);
		get_end(g, false);
		return;
	}
	if (g->progress)
		g->tries = 0;
	if (++g->tries >= c->tries) {
		snprintf(g->err, sizeof(g->err), "%s (after %u tries)", err,
		    g->tries);
		get_end(g, false);
		return;
	}
	c->st.retries++;
	log_debug("gcs download: resuming", "key", g->key, "error", err);
	ev_timer_set(&g->timer, retry_delay(c, g->tries), 0.);
	ev_timer_start(c->loop, &g->timer);
}

static void
get_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gcs_get *g = container_of(w, struct gcs_get, timer);

	(void)loop;
	(void)revents;
	get_launch(g);
}

struct gcs_get *
gcs_get_new(struct gcs_client *c, const char *key, uint64_t offset,
    const struct gcs_get_cb *cb, void *arg)
{
	struct gcs_get *g = xcalloc(1, sizeof(*g));

	g->c = c;
	g->key = xstrdup(key);
	g->key_esc = gcs_escape(key);
	g->cb = *cb;
	g->arg = arg;
	g->offset = offset;
	g->size = -1;
	g->generation = -1;
	greq_init(&g->rq, c);
	/* Error bodies only: the object's bytes go to the sink. */
	g->rq.resp.max = 1 << 20;
	ev_timer_init(&g->timer, get_timer_cb, 0., 0.);
	obj_link(c, &g->obj, GO_GET);
	get_launch(g);
	return g;
}

void
gcs_get_resume(struct gcs_get *g)
{
	if (!g->paused || g->cancelled || g->rq.xfer.easy == NULL)
		return;
	g->paused = false;
	curl_easy_pause(g->rq.xfer.easy, CURLPAUSE_CONT);
}

void
gcs_get_cancel(struct gcs_get *g)
{
	if (g->cancelled || g->finished)
		return;
	g->cancelled = true;
	memset(&g->cb, 0, sizeof(g->cb));
	g->obj.stopping = true;
	obj_queue(g->c, &g->obj);
}

int64_t
gcs_get_object_size(const struct gcs_get *g)
{
	return g->size;
}

static void
get_free(struct gcs_get *g)
{
	greq_release(&g->rq);
	ev_timer_stop(g->c->loop, &g->timer);
	free(g->key);
	free(g->key_esc);
	free(g);
}

/* ---- delete and list --------------------------------------------------- */

enum op_kind { OP_DELETE, OP_LIST };

struct gcs_op {
	struct gobj obj;		/* first */
	struct gcs_client *c;
	enum op_kind kind;
	char *what;			/* key, or prefix */
	gcs_done_fn done;
	struct gcs_list_cb lcb;
	void *arg;
	struct greq rq;
	ev_timer timer;
	unsigned tries;
	char *page_token;
	bool cancelled;
	bool finished;
	char err[300];
};

static void op_answer(struct greq *r);

static void
op_launch(struct gcs_op *op)
{
	struct gcs_client *c = op->c;
	char *esc = gcs_escape(op->what), *url;

	if (op->kind == OP_DELETE) {
		url = xasprintf("%s/storage/v1/b/%s/o/%s", c->base,
		    c->bucket_esc, esc);
		greq_setup(&op->rq, "DELETE", url, true, op_answer);
	} else {
		char *tok = op->page_token ? gcs_escape(op->page_token) : NULL;
		char page[40] = "";

		if (c->page)
			snprintf(page, sizeof(page), "&maxResults=%u", c->page);
		url = xasprintf("%s/storage/v1/b/%s/o?prefix=%s%s%s%s"
		    "&fields=items(name,size,updated),nextPageToken", c->base,
		    c->bucket_esc, esc, page, tok ? "&pageToken=" : "",
		    tok ? tok : "");
		free(tok);
		greq_setup(&op->rq, "GET", url, true, op_answer);
	}
	free(esc);
	greq_start(&op->rq);
}

static void
op_end(struct gcs_op *op, bool ok)
{
	struct gcs_client *c = op->c;

	op->finished = true;
	ev_timer_stop(c->loop, &op->timer);
	op->obj.dead = true;
	obj_queue(c, &op->obj);
	if (op->cancelled)
		return;
	if (op->kind == OP_DELETE && op->done)
		op->done(ok, ok ? NULL : op->err, op->arg);
	else if (op->kind == OP_LIST && op->lcb.done)
		op->lcb.done(ok, ok ? NULL : op->err, op->arg);
}

static void
op_item(const char *key, uint64_t size, int64_t mtime, void *arg)
{
	struct gcs_op *op = arg;

	if (!op->cancelled && op->lcb.item)
		op->lcb.item(key, size, mtime, op->arg);
}

static void
op_answer(struct greq *r)
{
	struct gcs_op *op = container_of(r, struct gcs_op, rq);
	struct gcs_client *c = op->c;
	enum gclass k = greq_class(r);
	char err[300], *next = NULL;

	if (op->cancelled)
		return;
	if (op->kind == OP_DELETE && (k == GC_OK || r->status == 404)) {
		op_end(op, true);	/* 404: already gone */
		return;
	}
	if (op->kind == OP_LIST && k == GC_OK) {
		if (gcs_parse_list(r->resp.data ? r->resp.data : "", r->resp.len,
		    op_item, op, &next, err, sizeof(err)) < 0) {
			snprintf(op->err, sizeof(op->err), "GCS list: %s", err);
			op_end(op, false);
			return;
		}
		free(op->page_token);
		op->page_token = next;
		op->tries = 0;
		if (op->cancelled)
			return;
		if (next == NULL)
			op_end(op, true);
		else
			op_launch(op);
		return;
	}
	greq_errtext(r, op->kind == OP_DELETE ? "delete" : "list", err,
	    sizeof(err));
	if (k == GC_RETRY && ++op->tries < c->tries) {
		c->st.retries++;
		log_debug("gcs: retrying", "op", op->kind == OP_DELETE ?
		    "delete" : "list", "error", err);
		ev_timer_set(&op->timer, retry_delay(c, op->tries), 0.);
		ev_timer_start(c->loop, &op->timer);
		return;
	}
	snprintf(op->err, sizeof(op->err), "%s", err);
	op_end(op, false);
}

static void
op_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gcs_op *op = container_of(w, struct gcs_op, timer);

	(void)loop;
	(void)revents;
	op_launch(op);
}

static struct gcs_op *
op_new(struct gcs_client *c, enum op_kind kind, const char *what, void *arg)
{
	struct gcs_op *op = xcalloc(1, sizeof(*op));

	op->c = c;
	op->kind = kind;
	op->what = xstrdup(what ? what : "");
	op->arg = arg;
	greq_init(&op->rq, c);
	ev_timer_init(&op->timer, op_timer_cb, 0., 0.);
	obj_link(c, &op->obj, GO_OP);
	return op;
}

struct gcs_op *
gcs_delete(struct gcs_client *c, const char *key, gcs_done_fn done,
    void *arg)
{
	struct gcs_op *op = op_new(c, OP_DELETE, key, arg);

	op->done = done;
	op_launch(op);
	return op;
}

struct gcs_op *
gcs_list(struct gcs_client *c, const char *prefix,
    const struct gcs_list_cb *cb, void *arg)
{
	struct gcs_op *op = op_new(c, OP_LIST, prefix, arg);

	op->lcb = *cb;
	op_launch(op);
	return op;
}

void
gcs_op_cancel(struct gcs_op *op)
{
	if (op->cancelled || op->finished)
		return;
	op->cancelled = true;
	op->obj.stopping = true;
	obj_queue(op->c, &op->obj);
}

static void
op_free(struct gcs_op *op)
{
	greq_release(&op->rq);
	ev_timer_stop(op->c->loop, &op->timer);
	free(op->what);
	free(op->page_token);
	free(op);
}

/* ---- objects, generically ---------------------------------------------- */

/* Takes o's transfer out of curl and stops its timer (no callbacks). */
static void
obj_stop(struct gobj *o)
{
	switch (o->kind) {
	case GO_PUT: {
		struct gcs_put *p = (struct gcs_put *)o;

		greq_stop(&p->rq);
		ev_timer_stop(p->c->loop, &p->timer);
		break;
	}
	case GO_GET: {
		struct gcs_get *g = (struct gcs_get *)o;

		greq_stop(&g->rq);
		ev_timer_stop(g->c->loop, &g->timer);
		break;
	}
	case GO_OP: {
		struct gcs_op *op = (struct gcs_op *)o;

		greq_stop(&op->rq);
		ev_timer_stop(op->c->loop, &op->timer);
		break;
	}
	}
}

static void
obj_free(struct gobj *o)
{
	struct gcs_client *c = o->c;

	if (o->queued) {
		struct gobj **pp;

		for (pp = &c->todo; *pp; pp = &(*pp)->todo_next) {
			if (*pp == o) {
				*pp = o->todo_next;
				break;
			}
		}
	}
	obj_unlink(c, o);
	switch (o->kind) {
	case GO_PUT:
		put_free((struct gcs_put *)o);
		break;
	case GO_GET:
		get_free((struct gcs_get *)o);
		break;
	case GO_OP:
		op_free((struct gcs_op *)o);
		break;
	}
}
