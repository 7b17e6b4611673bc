/*
 * sigv4.c - AWS Signature Version 4 request signing.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "sigv4.h"

/* 9999-12-31T23:59:59Z: the x-amz-date format has four year digits. */
#define SIGV4_MAX_TIME	253402300799LL

struct hdr {
	char *name;		/* lower-cased, owned */
	char *value;		/* trimmed and collapsed, owned */
	size_t order;		/* position in the input, keeps duplicates stable */
};

static void
hmac256(const void *key, size_t keylen, const void *data, size_t n,
    unsigned char out[SHA256_LEN])
{
	unsigned int len = 0;

	/* HMAC-SHA-256 cannot fail but for memory. */
	if (HMAC(EVP_sha256(), key, (int)keylen, data, n, out, &len) == NULL ||
	    len != SHA256_LEN)
		die_oom();
}

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static void
encode_into(struct buf *b, const char *s, size_t n, bool keep_slash)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3];

		if (unreserved(c) || (keep_slash && c == '/')) {
			buf_add(b, &s[i], 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = digits[c >> 4];
		esc[2] = digits[c & 15];
		buf_add(b, esc, 3);
	}
}

char *
sigv4_uri_encode(const char *s, size_t n, bool keep_slash)
{
	struct buf b = BUF_INIT(0);

	encode_into(&b, s ? s : "", s ? n : 0, keep_slash);
	return buf_detach(&b, NULL);
}

char *
sigv4_key_path(const char *bucket, const char *key)
{
	struct buf b = BUF_INIT(0);

	buf_adds(&b, "/");
	if (bucket && *bucket) {
		encode_into(&b, bucket, strlen(bucket), false);
		buf_adds(&b, "/");
	}
	if (key)
		encode_into(&b, key, strlen(key), true);
	return buf_detach(&b, NULL);
}

void
sigv4_signing_key(const char *secret, const char *date, const char *region,
    const char *service, unsigned char out[SHA256_LEN])
{
	unsigned char k[SHA256_LEN];
	size_t slen = strlen(secret);
	char *ks = xmalloc(slen + 5);

	memcpy(ks, "AWS4", 4);
	memcpy(ks + 4, secret, slen + 1);
	hmac256(ks, slen + 4, date, strlen(date), k);
	secure_zero(ks, slen + 4);
	free(ks);
	hmac256(k, sizeof(k), region, strlen(region), k);
	hmac256(k, sizeof(k), service, strlen(service), k);
	hmac256(k, sizeof(k), "aws4_request", 12, out);
	secure_zero(k, sizeof(k));
}

void
sigv4_cache_release(struct sigv4_key_cache *c)
{
	if (c == NULL)
		return;
	secure_zero(c, sizeof(*c));
}

/* Identity of a signing key: SHA-256 over its four inputs, NUL-separated
 * (none of them can contain a NUL). */
static void
cache_id(const char *secret, const char *date, const char *region,
    const char *service, unsigned char out[SHA256_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (ctx == NULL ||
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, secret, strlen(secret) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, date, strlen(date) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, region, strlen(region) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, service, strlen(service) + 1) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != SHA256_LEN)
		die_oom();
	EVP_MD_CTX_free(ctx);
}

static void
signing_key(struct sigv4_key_cache *c, const char *secret, const char *date,
    const char *region, const char *service, unsigned char out[SHA256_LEN])
{
	unsigned char id[SHA256_LEN];

	if (c == NULL) {
		sigv4_signing_key(secret, date, region, service, out);
		return;
	}
	cache_id(secret, date, region, service, id);
	if (!c->valid || memcmp(c->id, id, sizeof(id)) != 0) {
		sigv4_signing_key(secret, date, region, service, c->key);
		memcpy(c->id, id, sizeof(id));
		c->valid = true;
		c->derived++;
	}
	memcpy(out, c->key, SHA256_LEN);
}

static bool
tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static char *
lower_name(const char *s)
{
	char *p = xstrdup(s);
	char *q;

	for (q = p; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return p;
}

/* Trims the value and collapses runs of spaces and tabs to one space. */
static char *
trim_value(const char *v)
{
	char *out = xmalloc(strlen(v) + 1);
	char *o = out;
	bool space = false;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = true;
			continue;
		}
		if (space)
			*o++ = ' ';
		space = false;
		*o++ = *v;
	}
	*o = '\0';
	return out;
}

static int
hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

struct qp {
	char *name;		/* encoded, owned */
	char *value;		/* encoded, owned */
};

static int
qp_cmp(const void *a, const void *b)
{
	const struct qp *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

static bool
valid_payload_hash(const char *h)
{
	size_t i, n = strlen(h);

	if (n == 2 * SHA256_LEN) {
		for (i = 0; i < n; i++)
			if (!((h[i] >= '0' && h[i] <= '9') ||
			    (h[i] >= 'a' && h[i] <= 'f')))
				break;
		if (i == n)
			return true;
	}
	/* Literal values: UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-... */
	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!((h[i] >= 'A' && h[i] <= 'Z') ||
		    (h[i] >= '0' && h[i] <= '9') || h[i] == '-'))
			return false;
	return true;
}

static const char *
find_header(const struct sigv4_req *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i].name &&
		    strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value ? req->headers[i].value : "";
	return NULL;
}

static void
hdrs_free(struct hdr *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		free_secret(h[i].value);
	}
	free(h);
}

static void
qps_free(struct qp *q, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(q[i].name);
		free(q[i].value);
	}
	free(q);
}

static int
check_input(const struct sigv4_req *req, const struct sigv4_cred *cred,
    char *err, size_t errlen)
{
	size_t i;

	if (req->method == NULL || *req->method == '\0')
		return errf(err, errlen, "sigv4: no request method");
	for (i = 0; req->method[i]; i++)
		if (!tchar((unsigned char)req->method[i]))
			return errf(err, errlen, "sigv4: invalid request method");
	if (req->path && *req->path && *req->path != '/')
		return errf(err, errlen, "sigv4: the path must start with '/'");
	if (cred == NULL || cred->access_key_id == NULL ||
	    *cred->access_key_id == '\0')
		return errf(err, errlen, "sigv4: no access key id");
	if (strchr(cred->access_key_id, '/') ||
	    strpbrk(cred->access_key_id, "\r\n, "))
		return errf(err, errlen, "sigv4: invalid access key id");
	if (cred->secret_key == NULL || *cred->secret_key == '\0')
		return errf(err, errlen, "sigv4: no secret key");
	if (cred->session_token && strpbrk(cred->session_token, "\r\n"))
		return errf(err, errlen,
		    "sigv4: the session token contains a line break");
	if (req->region == NULL || *req->region == '\0' ||
	    strpbrk(req->region, "/\r\n "))
		return errf(err, errlen, "sigv4: missing or invalid region");
	if (req->service == NULL || *req->service == '\0' ||
	    strpbrk(req->service, "/\r\n "))
		return errf(err, errlen, "sigv4: missing or invalid service");
	if (req->payload_hash && !valid_payload_hash(req->payload_hash))
		return errf(err, errlen, "sigv4: malformed payload hash");
	if (req->now < 0 || req->now > SIGV4_MAX_TIME)
		return errf(err, errlen, "sigv4: signing time out of range");
	for (i = 0; i < req->nheaders; i++) {
		const char *n = req->headers[i].name, *v = req->headers[i].value;
		const char *p;

		if (n == NULL || *n == '\0')
			return errf(err, errlen, "sigv4: header %zu has no name", i);
		for (p = n; *p; p++)
			if (!tchar((unsigned char)*p))
				return errf(err, errlen,
				    "sigv4: invalid header name (header %zu)", i);
		if (v && strpbrk(v, "\r\n"))
			return errf(err, errlen,
			    "sigv4: header %.64s has a line break in its value", n);
	}
	for (i = 0; i < req->nquery; i++)
		if (req->query[i].name == NULL)
			return errf(err, errlen,
			    "sigv4: query parameter %zu has no name", i);
	return 0;
}

/* Collects, normalises and sorts the headers to sign, adding ours. */
static int
build_headers(const struct sigv4_req *req, const struct sigv4_cred *cred,
    const char *amz_date, const char *payload_hash, struct sigv4_result *out,
    struct hdr **hp, size_t *np, char *err, size_t errlen)
{
	struct hdr *h;
	size_t n = 0, nadd = 0, i;
	const char *d;
	bool token = cred->session_token && *cred->session_token;
	bool s3 = strcmp(req->service, "s3") == 0;

	d = find_header(req, "x-amz-date");
	if (d) {
		char *t = trim_value(d);
		bool same = strcmp(t, amz_date) == 0;

		free(t);
		if (!same)
			return errf(err, errlen,
			    "sigv4: the x-amz-date header differs from the "
			    "signing time %s", amz_date);
	}
	if (find_header(req, "host") == NULL)
		return errf(err, errlen, "sigv4: no host header");

	h = xcalloc(req->nheaders + 3, sizeof(*h));
	for (i = 0; i < req->nheaders; i++, n++) {
		h[n].name = lower_name(req->headers[i].name);
		h[n].value = trim_value(req->headers[i].value ?
		    req->headers[i].value : "");
		h[n].order = n;
	}
	if (d == NULL) {
		h[n].name = xstrdup("x-amz-date");
		h[n].value = xstrdup(amz_date);
		h[n].order = n;
		n++;
		out->add_headers[nadd++] = xasprintf("x-amz-date: %s", amz_date);
	}
	if (token && find_header(req, "x-amz-security-token") == NULL) {
		h[n].name = xstrdup("x-amz-security-token");
		h[n].value = trim_value(cred->session_token);
		h[n].order = n;
		n++;
		out->add_headers[nadd++] = xasprintf("x-amz-security-token: %s",
		    cred->session_token);
	}
	if (s3 && find_header(req, "x-amz-content-sha256") == NULL) {
		h[n].name = xstrdup("x-amz-content-sha256");
		h[n].value = xstrdup(payload_hash);
		h[n].order = n;
		n++;
		out->add_headers[nadd++] = xasprintf("x-amz-content-sha256: %s",
		    payload_hash);
	}
	qsort(h, n, sizeof(*h), hdr_cmp);
	*hp = h;
	*np = n;
	return 0;
}

static void
canonical_query(const struct sigv4_req *req, struct buf *b)
{
	struct qp *q;
	size_t i;

	if (req->nquery == 0)
		return;
	q = xcalloc(req->nquery, sizeof(*q));
	for (i = 0; i < req->nquery; i++) {
		const char *v = req->query[i].value ? req->query[i].value : "";

		q[i].name = sigv4_uri_encode(req->query[i].name,
		    strlen(req->query[i].name), false);
		q[i].value = sigv4_uri_encode(v, strlen(v), false);
	}
	qsort(q, req->nquery, sizeof(*q), qp_cmp);
	for (i = 0; i < req->nquery; i++) {
		if (i)
			buf_adds(b, "&");
		buf_adds(b, q[i].name);
		buf_adds(b, "=");
		buf_adds(b, q[i].value);
	}
	qps_free(q, req->nquery);
}

/* Writes "name:value\n" lines (duplicates merged) and the signed list. */
static void
canonical_headers(const struct hdr *h, size_t n, struct buf *lines,
    struct buf *names)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		if (names->len)
			buf_adds(names, ";");
		buf_adds(names, h[i].name);
		buf_adds(lines, h[i].name);
		buf_adds(lines, ":");
		for (; j < n && strcmp(h[j].name, h[i].name) == 0; j++) {
			if (j > i)
				buf_adds(lines, ",");
			buf_adds(lines, h[j].value);
		}
		buf_adds(lines, "\n");
		i = j;
	}
}

void
sigv4_result_release(struct sigv4_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	free_secret(r->canonical_request);
	free_secret(r->string_to_sign);
	free(r->signed_headers);
	free_secret(r->authorization);
	for (i = 0; i < ARRAY_SIZE(r->add_headers); i++)
		free_secret(r->add_headers[i]);
	memset(r, 0, sizeof(*r));
}

int
sigv4_sign(const struct sigv4_req *req, const struct sigv4_cred *cred,
    struct sigv4_key_cache *cache, struct sigv4_result *out,
    char *err, size_t errlen)
{
	struct buf creq = BUF_INIT(0), lines = BUF_INIT(0), names = BUF_INIT(0);
	struct buf sts = BUF_INIT(0);
	struct hdr *h = NULL;
	size_t nh = 0;
	const char *payload, *path;
	char date[9], scope_hex[2 * SHA256_LEN + 1];
	unsigned char digest[SHA256_LEN], key[SHA256_LEN], mac[SHA256_LEN];
	struct tm tm;
	time_t t;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (check_input(req, cred, err, errlen) < 0)
		return -1;
	t = (time_t)req->now;
	if (gmtime_r(&t, &tm) == NULL)
		return errf(err, errlen, "sigv4: signing time out of range");
	/* The range check above keeps the year at four digits. */
	if (strftime(out->amz_date, sizeof(out->amz_date), "%Y%m%dT%H%M%SZ",
	    &tm) != sizeof(out->amz_date) - 1)
		return errf(err, errlen, "sigv4: signing time out of range");
	memcpy(date, out->amz_date, 8);
	date[8] = '\0';
	payload = req->payload_hash ? req->payload_hash : SIGV4_EMPTY_SHA256;

	if (build_headers(req, cred, out->amz_date, payload, out, &h, &nh,
	    err, errlen) < 0) {
		sigv4_result_release(out);
		return -1;
	}

	/* CanonicalRequest */
	buf_adds(&creq, req->method);
	buf_adds(&creq, "\n");
	path = req->path && *req->path ? req->path : "/";
	encode_into(&creq, path, strlen(path), true);
	buf_adds(&creq, "\n");
	canonical_query(req, &creq);
	buf_adds(&creq, "\n");
	canonical_headers(h, nh, &lines, &names);
	buf_add(&creq, lines.data, lines.len);
	buf_adds(&creq, "\n");
	buf_add(&creq, names.data, names.len);
	buf_adds(&creq, "\n");
	buf_adds(&creq, payload);
	hdrs_free(h, nh);
	buf_release_secret(&lines);

	/* StringToSign */
	sha256(creq.data, creq.len, digest);
	hex(digest, sizeof(digest), scope_hex);
	if (buf_printf(&sts, "%s\n%s\n%s/%s/%s/aws4_request\n%s",
	    SIGV4_ALGORITHM, out->amz_date, date, req->region, req->service,
	    scope_hex) < 0)
		die_oom();

	/* Signature */
	signing_key(cache, cred->secret_key, date, req->region, req->service,
	    key);
	hmac256(key, sizeof(key), sts.data, sts.len, mac);
	secure_zero(key, sizeof(key));
	hex(mac, sizeof(mac), out->signature);

	out->signed_headers = buf_detach(&names, NULL);
	out->canonical_request = buf_detach(&creq, NULL);
	out->string_to_sign = buf_detach(&sts, NULL);
	out->authorization = xasprintf("%s Credential=%s/%s/%s/%s/aws4_request, "
	    "SignedHeaders=%s, Signature=%s", SIGV4_ALGORITHM,
	    cred->access_key_id, date, req->region, req->service,
	    out->signed_headers, out->signature);
	return 0;
}
