/*
 * azsign.c - Azure Storage Shared Key signing, connection strings, SAS.
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

#include "azsign.h"
#include "buf.h"

#define AZSIGN_MAX_TIME	253402300799LL	/* 9999-12-31T23:59:59Z */

/* Azurite's account and key, published in its documentation. */
#define DEV_ACCOUNT	"devstoreaccount1"
#define DEV_KEY \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/" \
	"K1SZFPTOtr/KBHBeksoGMGw=="
#define DEV_BLOB_ENDPOINT	"http://127.0.0.1:10000/" DEV_ACCOUNT

static bool
b64char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Strict standard base64 (padding required, no whitespace). Returns a
 * malloc'ed buffer of *outlen bytes, or NULL. */
static unsigned char *
b64_decode(const char *in, size_t *outlen)
{
	size_t n = strlen(in), pad = 0, i;
	unsigned char *out;
	int r;

	if (n == 0 || n % 4 != 0 || n > (size_t)1 << 20)
		return NULL;
	if (in[n - 1] == '=')
		pad++;
	if (in[n - 2] == '=')
		pad++;
	for (i = 0; i < n - pad; i++)
		if (!b64char((unsigned char)in[i]))
			return NULL;
	out = xmalloc(n / 4 * 3 + 1);
	r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (r < 0 || (size_t)r != n / 4 * 3) {
		secure_zero(out, n / 4 * 3 + 1);
		free(out);
		return NULL;
	}
	*outlen = (size_t)r - pad;
	return out;
}

static char *
b64_encode(const unsigned char *in, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

static bool
valid_account(const char *a)
{
	size_t n = 0;

	for (; a[n]; n++)
		if (!((a[n] >= 'a' && a[n] <= 'z') || (a[n] >= 'A' && a[n] <= 'Z') ||
		    (a[n] >= '0' && a[n] <= '9')))
			return false;
	return n > 0 && n <= 64;
}

int
azsign_key_init(struct azsign_key *k, const char *account,
    const char *key_b64, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	if (account == NULL || !valid_account(account))
		return errf(err, errlen,
		    "azure: the account name must be 1-64 letters and digits");
	if (key_b64 == NULL || *key_b64 == '\0')
		return errf(err, errlen, "azure: empty account key");
	k->key = b64_decode(key_b64, &k->keylen);
	if (k->key == NULL)
		return errf(err, errlen, "azure: the account key is not valid base64");
	k->account = xstrdup(account);
	return 0;
}

void
azsign_key_release(struct azsign_key *k)
{
	if (k == NULL)
		return;
	if (k->key) {
		secure_zero(k->key, k->keylen);
		free(k->key);
	}
	free(k->account);
	memset(k, 0, sizeof(*k));
}

struct item {
	char *name;		/* lower-cased, owned */
	const char *value;	/* borrowed */
	size_t order;
};

static int
item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Query values of one name are sorted by value, not kept in order. */
static int
item_value_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->value, y->value);
}

static char *
lower(const char *s)
{
	char *p = xstrdup(s), *q;

	for (q = p; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q = (char)(*q - 'A' + 'a');
	return p;
}

/* Appends v trimmed, runs of spaces and tabs collapsed to one space. */
static void
put_trimmed(struct buf *b, const char *v)
{
	bool space = false;

	while (*v == ' ' || *v == '\t')
		v++;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = true;
			continue;
		}
		if (space)
			buf_adds(b, " ");
		space = false;
		buf_add(b, v, 1);
	}
}

/* Appends the comma-joined values of the standard header name. */
static void
put_std(struct buf *b, const struct azsign_req *req, const char *name)
{
	size_t i;
	bool first = true;

	for (i = 0; i < req->nheaders; i++) {
		const char *v;

		if (strcasecmp(req->headers[i].name, name) != 0)
			continue;
		v = req->headers[i].value ? req->headers[i].value : "";
		if (!first)
			buf_adds(b, ",");
		first = false;
		put_trimmed(b, v);
	}
}

static bool
has_header(const struct azsign_req *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (strcasecmp(req->headers[i].name, name) == 0)
			return true;
	return false;
}

static void
free_items(struct item *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(it[i].name);
	free(it);
}

static void
canonical_headers(const struct azsign_req *req, struct buf *b)
{
	struct item *it = xcalloc(req->nheaders + 1, sizeof(*it));
	size_t n = 0, i;

	for (i = 0; i < req->nheaders; i++) {
		if (strncasecmp(req->headers[i].name, "x-ms-", 5) != 0)
			continue;
		it[n].name = lower(req->headers[i].name);
		it[n].value = req->headers[i].value ? req->headers[i].value : "";
		it[n].order = n;
		n++;
	}
	qsort(it, n, sizeof(*it), item_cmp);
	for (i = 0; i < n; i++) {
		if (i == 0 || strcmp(it[i].name, it[i - 1].name) != 0) {
			buf_adds(b, it[i].name);
			buf_adds(b, ":");
		} else {
			buf_adds(b, ",");
		}
		put_trimmed(b, it[i].value);
		if (i + 1 == n || strcmp(it[i].name, it[i + 1].name) != 0)
			buf_adds(b, "\n");
	}
	free_items(it, n);
}

static void
canonical_resource(const char *account, const struct azsign_req *req,
    struct buf *b)
{
	struct item *it;
	size_t i;

	buf_adds(b, "/");
	buf_adds(b, account);
	buf_adds(b, req->path && *req->path ? req->path : "/");
	if (req->nquery == 0)
		return;
	it = xcalloc(req->nquery, sizeof(*it));
	for (i = 0; i < req->nquery; i++) {
		it[i].name = lower(req->query[i].name);
		it[i].value = req->query[i].value ? req->query[i].value : "";
		it[i].order = i;
	}
	qsort(it, req->nquery, sizeof(*it), item_value_cmp);
	for (i = 0; i < req->nquery; i++) {
		if (i == 0 || strcmp(it[i].name, it[i - 1].name) != 0) {
			buf_adds(b, "\n");
			buf_adds(b, it[i].name);
			buf_adds(b, ":");
		} else {
			buf_adds(b, ",");
		}
		buf_adds(b, it[i].value);
	}
	free_items(it, req->nquery);
}

static int
check_req(const char *account, const struct azsign_req *req, char *err,
    size_t errlen)
{
	size_t i;

	if (account == NULL || !valid_account(account))
		return errf(err, errlen,
		    "azure: the account name must be 1-64 letters and digits");
	if (req->method == NULL || *req->method == '\0' ||
	    strpbrk(req->method, " \t\r\n"))
		return errf(err, errlen, "azure: missing or invalid request method");
	if (req->path && *req->path && *req->path != '/')
		return errf(err, errlen, "azure: the path must start with '/'");
	if (req->path && strpbrk(req->path, " \t\r\n?#"))
		return errf(err, errlen,
		    "azure: the path must be encoded and carry no query");
	for (i = 0; i < req->nheaders; i++) {
		const char *n = req->headers[i].name, *v = req->headers[i].value;

		if (n == NULL || *n == '\0' || strpbrk(n, " \t\r\n:"))
			return errf(err, errlen,
			    "azure: invalid header name (header %zu)", i);
		if (v && strpbrk(v, "\r\n"))
			return errf(err, errlen,
			    "azure: header %.64s has a line break in its value", n);
	}
	for (i = 0; i < req->nquery; i++) {
		const char *v = req->query[i].value;

		if (req->query[i].name == NULL || *req->query[i].name == '\0')
			return errf(err, errlen,
			    "azure: query parameter %zu has no name", i);
		if (strpbrk(req->query[i].name, "\r\n") || (v && strpbrk(v, "\r\n")))
			return errf(err, errlen,
			    "azure: query parameter %zu has a line break", i);
	}
	return 0;
}

char *
azsign_string_to_sign(const char *account, const struct azsign_req *req,
    char *err, size_t errlen)
{
	static const char *const std[] = {
		"Content-Encoding", "Content-Language", "Content-Length",
		"Content-MD5", "Content-Type", "Date", "If-Modified-Since",
		"If-Match", "If-None-Match", "If-Unmodified-Since", "Range",
	};
	struct buf b = BUF_INIT(0);
	bool msdate;
	size_t i;

	if (err && errlen)
		err[0] = '\0';
	if (check_req(account, req, err, errlen) < 0)
		return NULL;
	msdate = has_header(req, "x-ms-date");
	buf_adds(&b, req->method);
	buf_adds(&b, "\n");
	for (i = 0; i < ARRAY_SIZE(std); i++) {
		if (strcmp(std[i], "Date") == 0 && msdate) {
			buf_adds(&b, "\n");
			continue;
		}
		if (strcmp(std[i], "Content-Length") == 0) {
			struct buf v = BUF_INIT(0);

			put_std(&v, req, std[i]);
			/* Version 2015-02-21 and later sign a zero length as "". */
			if (strcmp(buf_cstr(&v), "0") != 0)
				buf_add(&b, v.data, v.len);
			buf_release(&v);
		} else {
			put_std(&b, req, std[i]);
		}
		buf_adds(&b, "\n");
	}
	canonical_headers(req, &b);
	canonical_resource(account, req, &b);
	return buf_detach(&b, NULL);
}

int
azsign_sign(const struct azsign_key *k, const struct azsign_req *req,
    char **authorization, char **sts, char *err, size_t errlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	char *s, *sig;

	*authorization = NULL;
	if (sts)
		*sts = NULL;
	if (k == NULL || k->key == NULL || k->account == NULL)
		return errf(err, errlen, "azure: no account key");
	s = azsign_string_to_sign(k->account, req, err, errlen);
	if (s == NULL)
		return -1;
	if (HMAC(EVP_sha256(), k->key, (int)k->keylen,
	    (const unsigned char *)s, strlen(s), mac, &maclen) == NULL)
		die_oom();
	sig = b64_encode(mac, maclen);
	secure_zero(mac, sizeof(mac));
	*authorization = xasprintf("SharedKey %s:%s", k->account, sig);
	free(sig);
	if (sts)
		*sts = s;
	else
		free(s);
	return 0;
}

static void
put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

char *
azsign_date(int64_t now, char out[AZSIGN_DATE_LEN])
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	time_t t = (time_t)now;
	struct tm tm;

	/* Fixed names: strftime's %a and %b follow the locale. */
	if (now < 0 || now > AZSIGN_MAX_TIME || gmtime_r(&t, &tm) == NULL)
		return NULL;
	memcpy(out, days[tm.tm_wday], 3);
	memcpy(out + 3, ", ", 2);
	put2(out + 5, tm.tm_mday);
	out[7] = ' ';
	memcpy(out + 8, months[tm.tm_mon], 3);
	out[11] = ' ';
	put2(out + 12, (tm.tm_year + 1900) / 100);
	put2(out + 14, (tm.tm_year + 1900) % 100);
	out[16] = ' ';
	put2(out + 17, tm.tm_hour);
	out[19] = ':';
	put2(out + 20, tm.tm_min);
	out[22] = ':';
	put2(out + 23, tm.tm_sec);
	memcpy(out + 25, " GMT", 5);	/* with the NUL: 30 bytes */
	return out;
}

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static void
encode_into(struct buf *b, const char *s, bool keep_slash)
{
	static const char digits[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3];

		if (unreserved(c) || (keep_slash && c == '/')) {
			buf_add(b, s, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = digits[c >> 4];
		esc[2] = digits[c & 15];
		buf_add(b, esc, 3);
	}
}

char *
azsign_blob_path(const char *container, const char *blob)
{
	struct buf b = BUF_INIT(0);

	buf_adds(&b, "/");
	encode_into(&b, container ? container : "", false);
	buf_adds(&b, "/");
	encode_into(&b, blob ? blob : "", true);
	return buf_detach(&b, NULL);
}

void
azsign_conn_release(struct azsign_conn *c)
{
	if (c == NULL)
		return;
	free(c->protocol);
	free(c->account);
	free_secret(c->account_key);
	free_secret(c->sas);
	free(c->endpoint_suffix);
	free(c->blob_endpoint);
	memset(c, 0, sizeof(*c));
}

enum conn_key {
	CK_PROTOCOL, CK_ACCOUNT, CK_KEY, CK_SAS, CK_SUFFIX, CK_BLOB, CK_DEV,
	CK__COUNT
};

static const char *const conn_keys[CK__COUNT] = {
	[CK_PROTOCOL] = "DefaultEndpointsProtocol",
	[CK_ACCOUNT] = "AccountName",
	[CK_KEY] = "AccountKey",
	[CK_SAS] = "SharedAccessSignature",
	[CK_SUFFIX] = "EndpointSuffix",
	[CK_BLOB] = "BlobEndpoint",
	[CK_DEV] = "UseDevelopmentStorage",
};

static bool
valid_suffix(const char *s)
{
	if (*s == '\0' || *s == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == ':'))
			return false;
	return true;
}

/* Splits s into segments; vals[k] point into the malloc'ed copy *copy. */
static int
conn_split(const char *s, char **copy, char *vals[CK__COUNT], char *err,
    size_t errlen)
{
	char *p, *seg, *next;
	int segno = 0;

	*copy = p = xstrdup(s);
	for (seg = p; seg; seg = next) {
		char *eq, *key, *end;
		int k;

		next = strchr(seg, ';');
		if (next)
			*next++ = '\0';
		segno++;
		while (*seg == ' ' || *seg == '\t' || *seg == '\r' || *seg == '\n')
			seg++;
		end = seg + strlen(seg);
		while (end > seg && (end[-1] == ' ' || end[-1] == '\t' ||
		    end[-1] == '\r' || end[-1] == '\n'))
			*--end = '\0';
		if (*seg == '\0')
			continue;
		eq = strchr(seg, '=');
		if (eq == NULL || eq == seg)
			return errf(err, errlen,
			    "azure: connection string segment %d is not key=value",
			    segno);
		*eq = '\0';
		key = seg;
		for (end = eq; end > key && (end[-1] == ' ' || end[-1] == '\t'); )
			*--end = '\0';
		for (k = 0; k < CK__COUNT; k++)
			if (strcasecmp(key, conn_keys[k]) == 0)
				break;
		if (k == CK__COUNT)
			continue;	/* QueueEndpoint, TableEndpoint, ... */
		if (vals[k])
			return errf(err, errlen,
			    "azure: connection string has %s twice", conn_keys[k]);
		vals[k] = eq + 1;
		while (*vals[k] == ' ' || *vals[k] == '\t')
			vals[k]++;
	}
	return 0;
}

static int
conn_fill(struct azsign_conn *c, char *vals[CK__COUNT], char *err,
    size_t errlen)
{
	const char *proto = vals[CK_PROTOCOL], *account = vals[CK_ACCOUNT];
	const char *key = vals[CK_KEY], *blob = vals[CK_BLOB];
	const char *sas = vals[CK_SAS];

	if (vals[CK_DEV]) {
		if (strcasecmp(vals[CK_DEV], "true") != 0)
			return errf(err, errlen,
			    "azure: UseDevelopmentStorage must be \"true\"");
		proto = proto ? proto : "http";
		account = account ? account : DEV_ACCOUNT;
		key = key ? key : DEV_KEY;
		blob = blob ? blob : DEV_BLOB_ENDPOINT;
	}
	if (proto == NULL)
		proto = "https";
	if (strcasecmp(proto, "https") != 0 && strcasecmp(proto, "http") != 0)
		return errf(err, errlen,
		    "azure: DefaultEndpointsProtocol must be http or https");
	c->protocol = xstrdup(strcasecmp(proto, "https") == 0 ? "https" : "http");

	if (account && !valid_account(account))
		return errf(err, errlen,
		    "azure: AccountName must be 1-64 letters and digits");
	if (account)
		c->account = xstrdup(account);

	if (key) {
		size_t n;
		unsigned char *raw = b64_decode(key, &n);

		if (raw == NULL)
			return errf(err, errlen,
			    "azure: AccountKey is not valid base64");
		secure_zero(raw, n);
		free(raw);
		if (c->account == NULL)
			return errf(err, errlen,
			    "azure: AccountKey needs AccountName");
		c->account_key = xstrdup(key);
	}
	if (sas) {
		if (*sas == '?')
			sas++;
		if (*sas == '\0')
			return errf(err, errlen,
			    "azure: SharedAccessSignature is empty");
		if (strpbrk(sas, " \t\r\n#?"))
			return errf(err, errlen,
			    "azure: SharedAccessSignature has invalid characters");
		c->sas = xstrdup(sas);
	}
	if (c->account_key == NULL && c->sas == NULL)
		return errf(err, errlen, "azure: connection string has neither "
		    "AccountKey nor SharedAccessSignature");

	if (vals[CK_SUFFIX] && !valid_suffix(vals[CK_SUFFIX]))
		return errf(err, errlen, "azure: invalid EndpointSuffix");
	c->endpoint_suffix = xstrdup(vals[CK_SUFFIX] ? vals[CK_SUFFIX] :
	    AZSIGN_ENDPOINT_SUFFIX);

	if (blob) {
		size_t n = strlen(blob);

		if (strncasecmp(blob, "https://", 8) != 0 &&
		    strncasecmp(blob, "http://", 7) != 0)
			return errf(err, errlen,
			    "azure: BlobEndpoint is not an http(s) URL");
		if (strpbrk(blob, " \t\r\n?#"))
			return errf(err, errlen,
			    "azure: BlobEndpoint has invalid characters");
		while (n > 0 && blob[n - 1] == '/')
			n--;
		c->blob_endpoint = xstrndup(blob, n);
	} else if (c->account) {
		c->blob_endpoint = xasprintf("%s://%s.blob.%s", c->protocol,
		    c->account, c->endpoint_suffix);
	} else {
		return errf(err, errlen, "azure: connection string has neither "
		    "AccountName nor BlobEndpoint");
	}
	return 0;
}

int
azsign_conn_parse(const char *s, struct azsign_conn *out, char *err,
    size_t errlen)
{
	char *vals[CK__COUNT] = { NULL };
	char *copy = NULL;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (s == NULL || *s == '\0')
		return errf(err, errlen, "azure: empty connection string");
	len = strlen(s);
	rc = conn_split(s, &copy, vals, err, errlen);
	if (rc == 0)
		rc = conn_fill(out, vals, err, errlen);
	/* The split wrote NULs into the copy: wipe all of it. */
	secure_zero(copy, len);
	free(copy);
	if (rc < 0)
		azsign_conn_release(out);
	return rc;
}

char *
azsign_url_with_sas(const char *url, const char *sas)
{
	size_t n;

	if (sas && *sas == '?')
		sas++;
	if (sas == NULL || *sas == '\0')
		return xstrdup(url);
	n = strlen(url);
	if (strchr(url, '?') == NULL)
		return xasprintf("%s?%s", url, sas);
	if (n > 0 && (url[n - 1] == '?' || url[n - 1] == '&'))
		return xasprintf("%s%s", url, sas);
	return xasprintf("%s&%s", url, sas);
}
