/*
 * s3.c - the S3 client (see s3.h).
 *
 * Layers, bottom up:
 *   - pure helpers: addressing, part sizes, a small XML scanner and the
 *     parsers of S3's responses, ETags, redaction of curl's trace;
 *   - struct s3_req: one signed request with its own retry timer; every
 *     attempt gets a fresh easy handle (connections are reused through the
 *     multi handle's pool) and a fresh signature;
 *   - operations (put, get, delete, list, stale): each embeds one s3_req
 *     (an operation never has two requests in flight) and a struct s3_op
 *     that links it into the client. An operation is never freed inside a
 *     curl callback or its own call chain: op_kill() moves it to the
 *     graveyard and an ev_prepare watcher frees it before the loop blocks.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "backoff.h"
#include "buf.h"
#include "log.h"
#include "s3.h"
#include "sigv4.h"
#include "timefmt.h"

#define MiB			((size_t)1 << 20)
#define S3_MAX_QUERY		8
#define S3_MAX_XHDR		6
#define S3_RESP_MAX		((size_t)1 << 20)	/* error and small XML bodies */
#define S3_LIST_RESP_MAX	((size_t)16 << 20)	/* a listing page */
#define S3_CONNECT_TIMEOUT_MS	10000L
#define S3_DEFAULT_TRIES	4
#define S3_DEFAULT_RETRY	0.5
#define S3_RETRY_CAP		10.0
#define S3_DEFAULT_IDLE		60.0
#define S3_DEFAULT_TIMEOUT	60.0
#define S3_XMLNS		"http://s3.amazonaws.com/doc/2006-03-01/"
#define MD5_LEN			16

/* ==== pure helpers ===================================================== */

static const char hexd[] = "0123456789abcdef";

static void
hex_lower(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexd[p[i] >> 4];
		out[2 * i + 1] = hexd[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
b64(const unsigned char *p, size_t n, char *out)
{
	/* out holds 4 * ceil(n / 3) + 1 bytes */
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

static void
md5(const void *p, size_t n, unsigned char out[MD5_LEN])
{
	unsigned int len = MD5_LEN;

	if (!EVP_Digest(p, n, out, &len, EVP_md5(), NULL))
		memset(out, 0, MD5_LEN);
}

static bool
ieq(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

static void
lcat(struct buf *b, const void *p, size_t n)
{
	if (buf_append(b, p, n) < 0)
		die_oom();
}

static void
scat(struct buf *b, const char *s)
{
	lcat(b, s, strlen(s));
}

bool
s3_bucket_virtual_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0, i;

	if (n < 3 || n > 63 || name[0] == '-' || name[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)name[i]) ||
		    isdigit((unsigned char)name[i]) || name[i] == '-'))
			return false;
	return true;
}

/* A bucket name that can be a host name at all (dots allowed). */
static bool
bucket_dns_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (n < 3 || n > 63)
		return false;
	for (i = 0; i < n; i++) {
		char ch = name[i];
		bool edge = i == 0 || i == n - 1 || name[i - 1] == '.' ||
		    name[i + 1] == '.';

		if (ch == '.') {
			if (i == 0 || i == n - 1 || name[i + 1] == '.')
				return false;
		} else if (ch == '-') {
			if (edge)
				return false;
		} else if (!islower((unsigned char)ch) &&
		    !isdigit((unsigned char)ch)) {
			return false;
		}
	}
	return true;
}

static bool
host_is_ip(const char *h, size_t n)
{
	size_t i;

	if (n > 0 && h[0] == '[')
		return true;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)h[i]) && h[i] != '.')
			return false;
	return true;
}

static bool
ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);

	return n >= m && strncasecmp(s + n - m, suffix, m) == 0;
}

int
s3_addr_init(struct s3_addr *a, const char *endpoint, const char *region,
    const char *bucket, enum s3_style style, char *err, size_t errlen)
{
	const char *auth, *end, *path, *colon = NULL;
	char *hostport = NULL;
	size_t hlen, plen;
	bool https = true, virt;

	memset(a, 0, sizeof(*a));
	if (bucket == NULL || *bucket == '\0') {
		snprintf(err, errlen, "S3: no bucket");
		return -1;
	}
	if (region == NULL || *region == '\0') {
		snprintf(err, errlen, "S3: no region");
		return -1;
	}
	if (endpoint == NULL || *endpoint == '\0') {
		hostport = xasprintf("s3.%s.amazonaws.com%s", region,
		    strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
		hlen = strlen(hostport);
		a->base = xstrdup("");
		a->aws = true;
	} else {
		auth = strstr(endpoint, "://");
		if (auth == NULL) {
			auth = endpoint;
		} else if (auth - endpoint == 4 &&
		    strncasecmp(endpoint, "http", 4) == 0) {
			https = false;
			auth += 3;
		} else if (auth - endpoint == 5 &&
		    strncasecmp(endpoint, "https", 5) == 0) {
			auth += 3;
		} else {
			snprintf(err, errlen, "S3: endpoint %s: only http and "
			    "https are supported", endpoint);
			return -1;
		}
		end = auth + strcspn(auth, "/?#");
		if (*end == '?' || *end == '#' || strchr(end, '?') ||
		    strchr(end, '#')) {
			snprintf(err, errlen, "S3: endpoint %s: no query or "
			    "fragment allowed", endpoint);
			return -1;
		}
		hlen = (size_t)(end - auth);
		if (hlen == 0 || memchr(auth, '@', hlen)) {
			snprintf(err, errlen, "S3: endpoint %s: bad host",
			    endpoint);
			return -1;
		}
		/* The port, to drop it when it is the scheme's default. */
		if (auth[0] == '[') {
			const char *rb = memchr(auth, ']', hlen);

			if (rb == NULL) {
				snprintf(err, errlen, "S3: endpoint %s: bad "
				    "host", endpoint);
				return -1;
			}
			if (rb + 1 < end && rb[1] == ':')
				colon = rb + 1;
		} else {
			colon = memchr(auth, ':', hlen);
		}
		if (colon) {
			const char *q;

			for (q = colon + 1; q < end; q++)
				if (!isdigit((unsigned char)*q))
					break;
			if (q != end || q == colon + 1) {
				snprintf(err, errlen, "S3: endpoint %s: bad "
				    "port", endpoint);
				return -1;
			}
			if ((https && end - colon == 4 &&
			    strncmp(colon, ":443", 4) == 0) ||
			    (!https && end - colon == 3 &&
			    strncmp(colon, ":80", 3) == 0))
				hlen = (size_t)(colon - auth);
		}
		hostport = xstrndup(auth, hlen);
		path = end;
		plen = strlen(path);
		while (plen > 0 && path[plen - 1] == '/')
			plen--;
		a->base = xstrndup(path, plen);
		{
			size_t hn = colon ? (size_t)(colon - auth) : hlen;

			a->aws = ends_with(auth, hn, ".amazonaws.com") ||
			    ends_with(auth, hn, ".amazonaws.com.cn");
		}
	}
	snprintf(a->scheme, sizeof(a->scheme), "%s", https ? "https" : "http");
	a->bucket = xstrdup(bucket);

	switch (style) {
	case S3_STYLE_PATH:
		virt = false;
		break;
	case S3_STYLE_VIRTUAL:
		if (!bucket_dns_ok(bucket)) {
			snprintf(err, errlen, "S3: bucket name %s cannot be "
			    "part of a host name (virtual-hosted style)", bucket);
			goto fail;
		}
		if (host_is_ip(hostport, strcspn(hostport, ":"))) {
			snprintf(err, errlen, "S3: virtual-hosted style needs "
			    "a host name, not an IP address");
			goto fail;
		}
		virt = true;
		break;
	default:
		virt = a->aws && s3_bucket_virtual_ok(bucket);
		break;
	}
	a->path_style = !virt;
	if (virt) {
		a->host = xasprintf("%s.%s", bucket, hostport);
		free(hostport);
	} else {
		a->host = hostport;
	}
	return 0;
fail:
	free(hostport);
	s3_addr_release(a);
	return -1;
}

void
s3_addr_release(struct s3_addr *a)
{
	free(a->host);
	free(a->base);
	free(a->bucket);
	memset(a, 0, sizeof(*a));
}

char *
s3_addr_path(const struct s3_addr *a, const char *key)
{
	if (a->path_style)
		return xasprintf("%s/%s%s%s", a->base, a->bucket,
		    key ? "/" : "", key ? key : "");
	return xasprintf("%s/%s", a->base, key ? key : "");
}

char *
s3_addr_url(const struct s3_addr *a, const char *raw_path,
    const char *const *qnames, const char *const *qvalues, size_t nq)
{
	struct buf b = BUF_INIT(0);
	char *enc;
	size_t i;

	scat(&b, a->scheme);
	scat(&b, "://");
	scat(&b, a->host);
	enc = sigv4_uri_encode(raw_path, strlen(raw_path), true);
	scat(&b, enc);
	free(enc);
	for (i = 0; i < nq; i++) {
		scat(&b, i == 0 ? "?" : "&");
		enc = sigv4_uri_encode(qnames[i], strlen(qnames[i]), false);
		scat(&b, enc);
		free(enc);
		if (qvalues[i] == NULL)
			continue;
		scat(&b, "=");
		enc = sigv4_uri_encode(qvalues[i], strlen(qvalues[i]), false);
		scat(&b, enc);
		free(enc);
	}
	return buf_detach(&b, NULL);
}

int
s3_part_size(size_t configured, int64_t size_hint, size_t *out, char *err,
    size_t errlen)
{
	size_t ps = configured ? configured : S3_DEFAULT_PART_SIZE;

	if (ps < S3_MIN_PART_SIZE)
		ps = S3_MIN_PART_SIZE;
	if (size_hint > 0 && (uint64_t)size_hint > S3_MAX_OBJECT_SIZE) {
		snprintf(err, errlen, "S3: %" PRId64 " bytes is more than an "
		    "object can hold (5 TiB)", size_hint);
		return -1;
	}
	if (size_hint > 0) {
		uint64_t need = ((uint64_t)size_hint + S3_MAX_PARTS - 1) /
		    S3_MAX_PARTS;

		if (need > ps) {
			need = (need + MiB - 1) / MiB * MiB;
			ps = (size_t)need;
		}
	}
	*out = ps;
	return 0;
}

size_t
s3_next_part_size(size_t base, int64_t size_hint, uint64_t sent,
    unsigned parts_done)
{
	uint64_t ps = base, need;
	unsigned shift;

	if (parts_done >= S3_MAX_PARTS)
		return base;
	if (size_hint > 0 && sent < (uint64_t)size_hint) {
		/* Behind the estimate: spread what is left over the parts
		 * that are left. */
		need = ((uint64_t)size_hint - sent + (S3_MAX_PARTS - parts_done) -
		    1) / (S3_MAX_PARTS - parts_done);
		need = (need + MiB - 1) / MiB * MiB;
		if (need > ps)
			ps = need;
	} else {
		/* No estimate, or past it: double every S3_GROW_EVERY parts. */
		shift = parts_done / S3_GROW_EVERY;
		if (shift > 20)
			shift = 20;
		if (((uint64_t)base << shift) > ps)
			ps = (uint64_t)base << shift;
	}
	if (ps > S3_MAX_PART_SIZE)
		ps = S3_MAX_PART_SIZE;
	return (size_t)ps;
}

/* ---- XML ------------------------------------------------------------- */

void
s3_xml_init(struct s3_xml *x, const char *doc, size_t len)
{
	memset(x, 0, sizeof(*x));
	x->p = doc;
	x->end = doc + len;
}

/* Finds the string lit from p; NULL when it is not there before end. */
static const char *
find_lit(const char *p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	while ((size_t)(end - p) >= n) {
		if (memcmp(p, lit, n) == 0)
			return p;
		p++;
	}
	return NULL;
}

static bool
xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
xml_name_char(char c)
{
	return !xml_space(c) && c != '/' && c != '>' && c != '<' &&
	    c != '=' && c != '"' && c != '\'';
}

/* The name after '<' or "</"; local part only (after a prefix's ':'). */
static bool
xml_name(struct s3_xml *x, const char **q)
{
	const char *s = *q, *p = s;

	while (p < x->end && xml_name_char(*p))
		p++;
	if (p == s)
		return false;
	x->name = s;
	x->namelen = (size_t)(p - s);
	{
		const char *colon = memchr(s, ':', x->namelen);

		if (colon) {
			x->namelen -= (size_t)(colon + 1 - s);
			x->name = colon + 1;
		}
	}
	*q = p;
	return x->namelen > 0;
}

enum s3_xml_tok
s3_xml_next(struct s3_xml *x)
{
	const char *p, *q;

	if (x->pending_close) {
		x->pending_close = false;
		x->depth--;
		return S3_XML_CLOSE;
	}
	for (;;) {
		p = x->p;
		if (p >= x->end)
			return x->depth == 0 ? S3_XML_EOF : S3_XML_ERROR;
		if (*p != '<') {
			q = memchr(p, '<', (size_t)(x->end - p));
			if (q == NULL)
				q = x->end;
			x->p = q;
			if (x->depth == 0) {
				/* Only white space outside the root. */
				for (; p < q; p++)
					if (!xml_space(*p))
						return S3_XML_ERROR;
				continue;
			}
			x->text = p;
			x->textlen = (size_t)(q - p);
			x->cdata = false;
			return S3_XML_TEXT;
		}
		if (x->end - p >= 2 && p[1] == '?') {
			q = find_lit(p + 2, x->end, "?>");
			if (q == NULL)
				return S3_XML_ERROR;
			x->p = q + 2;
			continue;
		}
		if (x->end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
			q = find_lit(p + 4, x->end, "-->");
			if (q == NULL)
				return S3_XML_ERROR;
			x->p = q + 3;
			continue;
		}
		if (x->end - p >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
			if (x->depth == 0)
				return S3_XML_ERROR;
			q = find_lit(p + 9, x->end, "]]>");
			if (q == NULL)
				return S3_XML_ERROR;
			x->text = p + 9;
			x->textlen = (size_t)(q - (p + 9));
			x->cdata = true;
			x->p = q + 3;
			return S3_XML_TEXT;
		}
		if (x->end - p >= 2 && p[1] == '!') {
			/* <!DOCTYPE ...>: an internal subset could declare
			 * entities; S3 never sends one. */
			q = memchr(p, '>', (size_t)(x->end - p));
			if (q == NULL || memchr(p, '[', (size_t)(q - p)))
				return S3_XML_ERROR;
			x->p = q + 1;
			continue;
		}
		if (x->end - p >= 2 && p[1] == '/') {
			q = p + 2;
			if (x->depth == 0 || !xml_name(x, &q))
				return S3_XML_ERROR;
			while (q < x->end && xml_space(*q))
				q++;
			if (q >= x->end || *q != '>')
				return S3_XML_ERROR;
			x->p = q + 1;
			x->depth--;
			return S3_XML_CLOSE;
		}
		/* A start tag: skip the attributes, minding quoted '>'. */
		q = p + 1;
		if (!xml_name(x, &q))
			return S3_XML_ERROR;
		while (q < x->end && *q != '>') {
			if (*q == '"' || *q == '\'') {
				const char *cq = memchr(q + 1, *q,
				    (size_t)(x->end - q - 1));

				if (cq == NULL)
					return S3_XML_ERROR;
				q = cq;
			}
			q++;
		}
		if (q >= x->end)
			return S3_XML_ERROR;
		x->p = q + 1;
		x->depth++;
		if (q[-1] == '/')
			x->pending_close = true;
		return S3_XML_OPEN;
	}
}

static void
put_utf8(struct buf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	lcat(b, u, n);
}

/* Appends the decoded text of s[0..n) to b; -1 on a bad reference. */
static int
unescape_into(struct buf *b, const char *s, size_t n)
{
	static const struct {
		const char *name;
		char ch;
	} ents[] = { { "lt", '<' }, { "gt", '>' }, { "amp", '&' },
	    { "quot", '"' }, { "apos", '\'' } };
	size_t i = 0, j, k;

	while (i < n) {
		const char *amp = memchr(s + i, '&', n - i);
		const char *semi;
		size_t len;

		if (amp == NULL) {
			if (memchr(s + i, '\0', n - i))
				return -1;
			lcat(b, s + i, n - i);
			return 0;
		}
		j = (size_t)(amp - s);
		if (memchr(s + i, '\0', j - i))
			return -1;
		lcat(b, s + i, j - i);
		semi = memchr(amp, ';', n - j);
		if (semi == NULL)
			return -1;
		len = (size_t)(semi - amp - 1);
		if (len >= 2 && amp[1] == '#') {
			unsigned long cp = 0;
			bool hexa = amp[2] == 'x';
			size_t start = hexa ? 3 : 2;

			if (len < start || len - (start - 1) > 8)
				return -1;
			for (k = start; k <= len; k++) {
				char c = amp[k];
				int v;

				if (isdigit((unsigned char)c))
					v = c - '0';
				else if (hexa && isxdigit((unsigned char)c))
					v = tolower((unsigned char)c) - 'a' + 10;
				else
					return -1;
				cp = cp * (hexa ? 16 : 10) + (unsigned long)v;
			}
			if (cp == 0 || cp > 0x10FFFF ||
			    (cp >= 0xD800 && cp <= 0xDFFF))
				return -1;
			put_utf8(b, cp);
		} else {
			for (k = 0; k < ARRAY_SIZE(ents); k++)
				if (len == strlen(ents[k].name) &&
				    memcmp(amp + 1, ents[k].name, len) == 0)
					break;
			if (k == ARRAY_SIZE(ents))
				return -1;
			lcat(b, &ents[k].ch, 1);
		}
		i = j + len + 2;
	}
	return 0;
}

char *
s3_xml_unescape(const char *s, size_t n)
{
	struct buf b = BUF_INIT(0);

	if (unescape_into(&b, s, n) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/*
 * After the OPEN of an element: its text (entities decoded, CDATA as is,
 * the text of nested elements left out) up to its CLOSE. Malloc'ed, or
 * NULL for a malformed document.
 */
static char *
xml_collect(struct s3_xml *x)
{
	struct buf b = BUF_INIT(0);
	int level = x->depth;
	enum s3_xml_tok t;

	for (;;) {
		t = s3_xml_next(x);
		if (t == S3_XML_EOF || t == S3_XML_ERROR)
			break;
		if (t == S3_XML_CLOSE && x->depth < level)
			return buf_detach(&b, NULL);
		if (t != S3_XML_TEXT || x->depth != level)
			continue;
		if (x->cdata) {
			if (memchr(x->text, '\0', x->textlen))
				break;
			lcat(&b, x->text, x->textlen);
		} else if (unescape_into(&b, x->text, x->textlen) < 0) {
			break;
		}
	}
	buf_release(&b);
	return NULL;
}

static bool
xml_is(const struct s3_xml *x, const char *name)
{
	return x->namelen == strlen(name) &&
	    memcmp(x->name, name, x->namelen) == 0;
}

bool
s3_xml_root_is(const char *doc, size_t len, const char *name)
{
	struct s3_xml x;

	s3_xml_init(&x, doc, len);
	return s3_xml_next(&x) == S3_XML_OPEN && xml_is(&x, name);
}

char *
s3_xml_child(const char *doc, size_t len, const char *name)
{
	struct s3_xml x;
	enum s3_xml_tok t;

	s3_xml_init(&x, doc, len);
	while ((t = s3_xml_next(&x)) != S3_XML_EOF && t != S3_XML_ERROR)
		if (t == S3_XML_OPEN && x.depth == 2 && xml_is(&x, name))
			return xml_collect(&x);
	return NULL;
}

/* Copies s into out as one printable line (control characters become
 * spaces). */
static void
one_line(char *out, size_t outlen, const char *s)
{
	size_t i;

	snprintf(out, outlen, "%s", s);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
}

int
s3_parse_error(const char *doc, size_t len, char *code, size_t codelen,
    char *msg, size_t msglen)
{
	char *c, *m, cl[128], ml[512];

	if (doc == NULL || !s3_xml_root_is(doc, len, "Error"))
		return -1;
	c = s3_xml_child(doc, len, "Code");
	if (c == NULL || *c == '\0') {
		free(c);
		return -1;
	}
	m = s3_xml_child(doc, len, "Message");
	one_line(cl, sizeof(cl), c);
	one_line(ml, sizeof(ml), m ? m : "");
	if (codelen > 0)
		snprintf(code, codelen, "%s", cl);
	if (*ml)
		snprintf(msg, msglen, "S3 %s: %s", cl, ml);
	else
		snprintf(msg, msglen, "S3 %s", cl);
	free(c);
	free(m);
	return 0;
}

char *
s3_url_decode(const char *s, size_t n)
{
	struct buf b = BUF_INIT(0);
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '+') {
			ch = ' ';
		} else if (ch == '%') {
			int hi, lo;

			if (i + 2 >= n)
				goto bad;
			if (!isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]))
				goto bad;
			hi = isdigit((unsigned char)s[i + 1]) ? s[i + 1] - '0' :
			    tolower((unsigned char)s[i + 1]) - 'a' + 10;
			lo = isdigit((unsigned char)s[i + 2]) ? s[i + 2] - '0' :
			    tolower((unsigned char)s[i + 2]) - 'a' + 10;
			ch = (char)(hi * 16 + lo);
			i += 2;
		}
		if (ch == '\0')
			goto bad;
		lcat(&b, &ch, 1);
	}
	return buf_detach(&b, NULL);
bad:
	buf_release(&b);
	return NULL;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* The value of a top-level field, decoded per the document's encoding. */
struct list_top {
	bool url;
	bool truncated;
	char *next;
	char *next_id;
};

static int
scan_top(const char *doc, size_t len, const char *root, const char *next1,
    const char *next2, struct list_top *t, char *err, size_t errlen)
{
	struct s3_xml x;
	enum s3_xml_tok tok;

	memset(t, 0, sizeof(*t));
	s3_xml_init(&x, doc, len);
	tok = s3_xml_next(&x);
	if (tok != S3_XML_OPEN || !xml_is(&x, root)) {
		snprintf(err, errlen, "S3: the response is not a %s", root);
		return -1;
	}
	while ((tok = s3_xml_next(&x)) != S3_XML_EOF) {
		char **dst = NULL, *v;

		if (tok == S3_XML_ERROR)
			goto bad;
		if (tok != S3_XML_OPEN || x.depth != 2)
			continue;
		if (xml_is(&x, "IsTruncated") || xml_is(&x, "EncodingType") ||
		    xml_is(&x, next1) || (next2 && xml_is(&x, next2))) {
			bool trunc = xml_is(&x, "IsTruncated");
			bool enc = xml_is(&x, "EncodingType");

			if (!trunc && !enc)
				dst = xml_is(&x, next1) ? &t->next : &t->next_id;
			v = xml_collect(&x);
			if (v == NULL)
				goto bad;
			if (trunc)
				t->truncated = strcmp(v, "true") == 0;
			else if (enc)
				t->url = strcmp(v, "url") == 0;
			if (dst) {
				free(*dst);
				*dst = v;
			} else {
				free(v);
			}
		}
	}
	return 0;
bad:
	snprintf(err, errlen, "S3: malformed %s", root);
	free(t->next);
	free(t->next_id);
	t->next = t->next_id = NULL;
	return -1;
}

/* Decodes a marker or key of an encoding-type=url response in place. */
static int
url_field(char **v, bool url)
{
	char *d;

	if (*v == NULL || !url)
		return 0;
	d = s3_url_decode(*v, strlen(*v));
	if (d == NULL)
		return -1;
	free(*v);
	*v = d;
	return 0;
}

/*
 * Calls rec for each record element under the root with the decoded text
 * of up to three of its children (NULL when absent).
 */
static int
scan_records(const char *doc, size_t len, const char *record,
    const char *const f[3], int (*rec)(char *v[3], void *arg), void *arg)
{
	struct s3_xml x;
	enum s3_xml_tok tok;
	char *v[3] = { NULL, NULL, NULL };
	bool in = false;
	int i, rc = -1;

	s3_xml_init(&x, doc, len);
	while ((tok = s3_xml_next(&x)) != S3_XML_EOF) {
		if (tok == S3_XML_ERROR)
			goto out;
		if (tok == S3_XML_OPEN && x.depth == 2 && xml_is(&x, record)) {
			in = true;
			continue;
		}
		if (in && tok == S3_XML_CLOSE && x.depth == 1) {
			in = false;
			if (rec(v, arg) < 0)
				goto out;
			for (i = 0; i < 3; i++) {
				free(v[i]);
				v[i] = NULL;
			}
			continue;
		}
		if (!in || tok != S3_XML_OPEN || x.depth != 3)
			continue;
		for (i = 0; i < 3; i++) {
			if (f[i] && xml_is(&x, f[i])) {
				free(v[i]);
				v[i] = xml_collect(&x);
				if (v[i] == NULL)
					goto out;
				break;
			}
		}
	}
	rc = 0;
out:
	for (i = 0; i < 3; i++)
		free(v[i]);
	return rc;
}

struct list_ctx {
	bool url;
	void (*item)(const char *key, uint64_t size, double mtime, void *arg);
	void (*upload)(const char *key, const char *id, double initiated,
	    void *arg);
	void *arg;
	char *err;
	size_t errlen;
};

static int
list_rec(char *v[3], void *arg)
{
	struct list_ctx *l = arg;
	uint64_t size;
	double mtime;
	char terr[64];

	if (v[0] == NULL || url_field(&v[0], l->url) < 0) {
		snprintf(l->err, l->errlen, "S3: listing entry without a "
		    "valid Key");
		return -1;
	}
	if (parse_u64(v[1], &size) < 0) {
		snprintf(l->err, l->errlen, "S3: listing entry without a "
		    "valid Size");
		return -1;
	}
	if (v[2] == NULL || timefmt_parse_d(v[2], &mtime, terr,
	    sizeof(terr)) < 0) {
		snprintf(l->err, l->errlen, "S3: listing entry without a "
		    "valid LastModified");
		return -1;
	}
	l->item(v[0], size, mtime, l->arg);
	return 0;
}

int
s3_parse_list(const char *doc, size_t len,
    void (*item)(const char *key, uint64_t size, double mtime, void *arg),
    void *arg, bool *truncated, char **next, char *err, size_t errlen)
{
	static const char *const f[3] = { "Key", "Size", "LastModified" };
	struct list_top t;
	struct list_ctx l = { 0 };

	*next = NULL;
	*truncated = false;
	if (scan_top(doc, len, "ListBucketResult", "NextContinuationToken",
	    NULL, &t, err, errlen) < 0)
		return -1;
	/* The token is opaque: S3 does not URL-encode it. */
	l.url = t.url;
	l.item = item;
	l.arg = arg;
	l.err = err;
	l.errlen = errlen;
	snprintf(err, errlen, "S3: malformed ListBucketResult");
	if (scan_records(doc, len, "Contents", f, list_rec, &l) < 0) {
		free(t.next);
		return -1;
	}
	err[0] = '\0';
	*truncated = t.truncated;
	*next = t.next;
	return 0;
}

static int
upload_rec(char *v[3], void *arg)
{
	struct list_ctx *l = arg;
	double initiated = 0;
	char terr[64];

	if (v[0] == NULL || url_field(&v[0], l->url) < 0 || v[1] == NULL ||
	    *v[1] == '\0') {
		snprintf(l->err, l->errlen, "S3: upload entry without a "
		    "valid Key or UploadId");
		return -1;
	}
	if (v[2] && timefmt_parse_d(v[2], &initiated, terr, sizeof(terr)) < 0)
		initiated = 0;
	l->upload(v[0], v[1], initiated, l->arg);
	return 0;
}

int
s3_parse_uploads(const char *doc, size_t len,
    void (*upload)(const char *key, const char *upload_id, double initiated,
    void *arg), void *arg, bool *truncated, char **next_key, char **next_id,
    char *err, size_t errlen)
{
	static const char *const f[3] = { "Key", "UploadId", "Initiated" };
	struct list_top t;
	struct list_ctx l = { 0 };

	*next_key = *next_id = NULL;
	*truncated = false;
	if (scan_top(doc, len, "ListMultipartUploadsResult", "NextKeyMarker",
	    "NextUploadIdMarker", &t, err, errlen) < 0)
		return -1;
	if (url_field(&t.next, t.url) < 0) {
		snprintf(err, errlen, "S3: malformed NextKeyMarker");
		goto fail;
	}
	l.url = t.url;
	l.upload = upload;
	l.arg = arg;
	l.err = err;
	l.errlen = errlen;
	snprintf(err, errlen, "S3: malformed ListMultipartUploadsResult");
	if (scan_records(doc, len, "Upload", f, upload_rec, &l) < 0)
		goto fail;
	err[0] = '\0';
	*truncated = t.truncated;
	*next_key = t.next;
	*next_id = t.next_id;
	return 0;
fail:
	free(t.next);
	free(t.next_id);
	return -1;
}

int
s3_parse_content_range(const char *v, uint64_t *first, uint64_t *last,
    int64_t *total)
{
	char *end;
	unsigned long long a, b, t;

	while (*v == ' ')
		v++;
	if (strncasecmp(v, "bytes ", 6) != 0)
		return -1;
	v += 6;
	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	a = strtoull(v, &end, 10);
	if (errno || *end != '-' || !isdigit((unsigned char)end[1]))
		return -1;
	b = strtoull(end + 1, &end, 10);
	if (errno || *end != '/' || b < a)
		return -1;
	v = end + 1;
	if (*v == '*' && v[1] == '\0') {
		*total = -1;
	} else {
		if (!isdigit((unsigned char)*v))
			return -1;
		t = strtoull(v, &end, 10);
		if (errno || *end != '\0' || t <= b || t > INT64_MAX)
			return -1;
		*total = (int64_t)t;
	}
	*first = a;
	*last = b;
	return 0;
}

void
s3_multipart_etag(const unsigned char (*md)[16], size_t n, char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char d[MD5_LEN];
	unsigned int len = MD5_LEN;
	size_t i;

	if (ctx == NULL)
		die_oom();
	memset(d, 0, sizeof(d));
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL)) {
		for (i = 0; i < n; i++)
			EVP_DigestUpdate(ctx, md[i], MD5_LEN);
		EVP_DigestFinal_ex(ctx, d, &len);
	}
	EVP_MD_CTX_free(ctx);
	hex_lower(d, MD5_LEN, out);
	snprintf(out + 2 * MD5_LEN, 48 - 2 * MD5_LEN, "-%zu", n);
}

void
s3_etag_normalize(const char *in, char *out, size_t outlen)
{
	size_t n, i, k = 0;

	if (outlen == 0)
		return;
	while (*in == ' ' || *in == '\t')
		in++;
	if (strncmp(in, "W/", 2) == 0)
		in += 2;
	n = strlen(in);
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
		n--;
	if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
		in++;
		n -= 2;
	}
	for (i = 0; i < n && k + 1 < outlen; i++)
		out[k++] = (char)tolower((unsigned char)in[i]);
	out[k] = '\0';
}

static void
xml_escape_into(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': scat(b, "&lt;"); break;
		case '>': scat(b, "&gt;"); break;
		case '&': scat(b, "&amp;"); break;
		case '"': scat(b, "&quot;"); break;
		default: lcat(b, s, 1); break;
		}
	}
}

char *
s3_complete_xml(const char *const *etag, const char *const *sha_b64,
    size_t n)
{
	struct buf b = BUF_INIT(0);
	char num[32];
	size_t i;

	scat(&b, "<CompleteMultipartUpload xmlns=\"" S3_XMLNS "\">");
	for (i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%zu", i + 1);
		scat(&b, "<Part><PartNumber>");
		scat(&b, num);
		scat(&b, "</PartNumber><ETag>");
		xml_escape_into(&b, etag[i]);
		scat(&b, "</ETag>");
		if (sha_b64 && sha_b64[i]) {
			scat(&b, "<ChecksumSHA256>");
			xml_escape_into(&b, sha_b64[i]);
			scat(&b, "</ChecksumSHA256>");
		}
		scat(&b, "</Part>");
	}
	scat(&b, "</CompleteMultipartUpload>");
	return buf_detach(&b, NULL);
}

char *
s3_redact_line(const char *line)
{
	static const char *const hdrs[] = { "authorization",
	    "proxy-authorization", "x-amz-security-token" };
	static const char *const params[] = { "x-amz-signature=",
	    "x-amz-credential=", "x-amz-security-token=" };
	struct buf b = BUF_INIT(0);
	const char *colon = strchr(line, ':');
	size_t i;

	if (colon) {
		size_t n = (size_t)(colon - line);

		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		for (i = 0; i < ARRAY_SIZE(hdrs); i++) {
			if (ieq(line, n, hdrs[i])) {
				lcat(&b, line, (size_t)(colon - line));
				scat(&b, ": [REDACTED]");
				return buf_detach(&b, NULL);
			}
		}
	}
	/* Query parameters of a presigned URL (a request line, a redirect). */
	while (*line) {
		for (i = 0; i < ARRAY_SIZE(params); i++)
			if (strncasecmp(line, params[i], strlen(params[i])) == 0)
				break;
		if (i < ARRAY_SIZE(params)) {
			size_t n = strlen(params[i]);

			lcat(&b, line, n);
			scat(&b, "[REDACTED]");
			line += n;
			line += strcspn(line, "& \t\r\n#");
			continue;
		}
		lcat(&b, line, 1);
		line++;
	}
	return buf_detach(&b, NULL);
}

/* ==== client, requests ================================================ */

struct s3_req;
typedef void (*req_done_fn)(struct s3_req *r, CURLcode res);
typedef size_t (*req_data_fn)(struct s3_req *r, char *p, size_t n);

struct s3_req {
	struct s3_op *op;
	struct curlev_xfer xfer;
	struct curl_slist *hdrs;
	/* what to send */
	const char *method;
	const char *what;		/* S3's name of the action */
	const char *key;		/* raw key (the op's), NULL: bucket */
	const char *qname[S3_MAX_QUERY];
	char *qval[S3_MAX_QUERY];	/* owned; NULL: a name alone */
	size_t nq;
	const char *xname[S3_MAX_XHDR];
	char *xval[S3_MAX_XHDR];	/* owned */
	size_t nx;
	const unsigned char *body;	/* borrowed from the op */
	size_t body_len, body_off;
	const char *body_sha;		/* hex SHA-256 of the body */
	bool has_body;
	bool stream;			/* a 2xx body goes to data */
	size_t resp_max;
	req_done_fn done;
	req_data_fn data;
	/* the attempt */
	int tries;
	long status;
	bool toobig;
	bool failed_early;		/* could not start: early_err */
	struct buf resp;
	char etag[128];
	char checksum[64];		/* x-amz-checksum-sha256 */
	char content_range[128];
	int64_t content_length;
	bool etag_not_md5;		/* SSE-KMS / SSE-C: ETag is no MD5 */
	char curl_err[CURL_ERROR_SIZE];
	char early_err[256];
	void (*later)(struct s3_req *r);	/* runs from the timer */
	ev_timer timer;			/* starts, backoff, deferred work */
};

struct s3_op {
	struct s3_client *c;
	struct s3_op *next, *prev;
	bool dead;			/* no more callbacks; freed soon */
	struct s3_req req;
	void (*release)(struct s3_op *op);
};

struct s3_client {
	struct curlev *m;
	struct ev_loop *loop;
	struct s3_addr addr;
	char *region;
	char *akid, *secret, *token;
	char *ca_file;
	char *user_agent;
	size_t part_size;
	enum s3_checksum checksum;
	int max_tries;
	struct backoff_params backoff;
	double idle_timeout, request_timeout;
	unsigned page_size;
	struct sigv4_key_cache keys;
	struct s3_stats stats;
	struct s3_op *live;		/* operations still running */
	struct s3_op *graveyard;	/* finished, to free in the reaper */
	size_t pending;
	ev_prepare reaper;
};

static void op_free(struct s3_op *op);

static void
reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct s3_client *c = container_of(w, struct s3_client, reaper);
	struct s3_op *op;

	(void)loop;
	(void)revents;
	while ((op = c->graveyard) != NULL) {
		c->graveyard = op->next;
		op_free(op);
	}
	ev_prepare_stop(c->loop, &c->reaper);
}

static bool
has_ctl(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

struct s3_client *
s3_client_new(struct curlev *m, const struct s3_config *cfg, char *err,
    size_t errlen)
{
	struct s3_client *c;

	if (cfg->access_key_id == NULL || *cfg->access_key_id == '\0' ||
	    cfg->secret_key == NULL || *cfg->secret_key == '\0') {
		snprintf(err, errlen, "S3: no credentials (access key id and "
		    "secret key)");
		return NULL;
	}
	if (has_ctl(cfg->access_key_id) || has_ctl(cfg->secret_key) ||
	    has_ctl(cfg->session_token)) {
		snprintf(err, errlen, "S3: the credentials contain control "
		    "characters");
		return NULL;
	}
	if (cfg->part_size && (cfg->part_size < S3_MIN_PART_SIZE ||
	    cfg->part_size > S3_MAX_PART_SIZE)) {
		snprintf(err, errlen, "S3: part size %zu is outside 5 MiB..5 GiB",
		    cfg->part_size);
		return NULL;
	}
	if (cfg->max_tries < 0) {
		snprintf(err, errlen, "S3: negative max_tries");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	if (s3_addr_init(&c->addr, cfg->endpoint, cfg->region, cfg->bucket,
	    cfg->style, err, errlen) < 0) {
		free(c);
		return NULL;
	}
	c->m = m;
	c->loop = curlev_loop(m);
	c->region = xstrdup(cfg->region);
	c->akid = xstrdup(cfg->access_key_id);
	c->secret = xstrdup(cfg->secret_key);
	c->token = cfg->session_token && *cfg->session_token ?
	    xstrdup(cfg->session_token) : NULL;
	c->ca_file = cfg->ca_file && *cfg->ca_file ? xstrdup(cfg->ca_file) :
	    NULL;
	c->user_agent = xstrdup(PACKAGE_NAME "/" PACKAGE_VERSION);
	c->part_size = cfg->part_size ? cfg->part_size : S3_DEFAULT_PART_SIZE;
	c->checksum = cfg->checksum;
	c->max_tries = cfg->max_tries ? cfg->max_tries : S3_DEFAULT_TRIES;
	c->backoff.initial = cfg->retry_initial > 0 ? cfg->retry_initial :
	    S3_DEFAULT_RETRY;
	c->backoff.factor = 2.0;
	c->backoff.jitter = 0.5;
	c->backoff.cap = S3_RETRY_CAP;
	c->backoff.reset_after = 0;
	c->idle_timeout = cfg->idle_timeout > 0 ? cfg->idle_timeout :
	    S3_DEFAULT_IDLE;
	c->request_timeout = cfg->request_timeout > 0 ? cfg->request_timeout :
	    S3_DEFAULT_TIMEOUT;
	c->page_size = cfg->list_page_size;
	ev_prepare_init(&c->reaper, reaper_cb);
	log_debug("S3 client", "host", c->addr.host, "scheme", c->addr.scheme,
	    "style", c->addr.path_style ? "path" : "virtual-hosted");
	return c;
}

void
s3_client_free(struct s3_client *c)
{
	struct s3_op *op;

	if (c == NULL)
		return;
	while ((op = c->live) != NULL) {
		c->live = op->next;
		op_free(op);
	}
	while ((op = c->graveyard) != NULL) {
		c->graveyard = op->next;
		op_free(op);
	}
	ev_prepare_stop(c->loop, &c->reaper);
	s3_addr_release(&c->addr);
	free(c->region);
	free(c->akid);
	free_secret(c->secret);
	free_secret(c->token);
	free(c->ca_file);
	free(c->user_agent);
	sigv4_cache_release(&c->keys);
	free(c);
}

const struct s3_stats *
s3_client_stats(const struct s3_client *c)
{
	return &c->stats;
}

size_t
s3_client_pending(const struct s3_client *c)
{
	return c->pending;
}

size_t
s3_client_part_size(const struct s3_client *c)
{
	return c->part_size;
}

/* ---- operations: life cycle ------------------------------------------ */

static void req_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static void
op_init(struct s3_op *op, struct s3_client *c,
    void (*release)(struct s3_op *op))
{
	op->c = c;
	op->release = release;
	op->req.op = op;
	buf_init(&op->req.resp, S3_RESP_MAX);
	ev_timer_init(&op->req.timer, req_timer_cb, 0., 0.);
	op->prev = NULL;
	op->next = c->live;
	if (c->live)
		c->live->prev = op;
	c->live = op;
	c->pending++;
}

/* Ends the easy handle of the current attempt (not from a curl callback). */
static void
req_detach(struct s3_req *r)
{
	struct curl_slist *h;

	if (r->xfer.easy) {
		curlev_remove(r->op->c->m, &r->xfer);
		curl_easy_cleanup(r->xfer.easy);
		r->xfer.easy = NULL;
	}
	/* The list holds x-amz-security-token. */
	for (h = r->hdrs; h; h = h->next)
		secure_zero(h->data, strlen(h->data));
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
}

static void
req_clear(struct s3_req *r)
{
	size_t i;

	for (i = 0; i < r->nq; i++) {
		free(r->qval[i]);
		r->qval[i] = NULL;
	}
	for (i = 0; i < r->nx; i++) {
		free(r->xval[i]);
		r->xval[i] = NULL;
	}
	r->nq = r->nx = 0;
}

static void
op_free(struct s3_op *op)
{
	struct s3_req *r = &op->req;

	req_detach(r);
	ev_timer_stop(op->c->loop, &r->timer);
	req_clear(r);
	buf_release(&r->resp);
	if (op->release)
		op->release(op);
	free(op);
}

/* Finishes op: no callback after this; freed before the loop blocks. */
static void
op_kill(struct s3_op *op)
{
	struct s3_client *c = op->c;

	if (op->dead)
		return;
	op->dead = true;
	ev_timer_stop(c->loop, &op->req.timer);
	if (op->prev)
		op->prev->next = op->next;
	else
		c->live = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->prev = NULL;
	op->next = c->graveyard;
	c->graveyard = op;
	c->pending--;
	ev_prepare_start(c->loop, &c->reaper);
}

/* ---- requests --------------------------------------------------------- */

/*
 * Sets up the next request of an operation (the previous one is over; its
 * easy handle goes when the next attempt starts, from the loop).
 */
static void
req_reset(struct s3_req *r, const char *method, const char *what,
    const char *key, req_done_fn done)
{
	ev_timer_stop(r->op->c->loop, &r->timer);
	req_clear(r);
	r->method = method;
	r->what = what;
	r->key = key;
	r->body = NULL;
	r->body_len = r->body_off = 0;
	r->body_sha = NULL;
	r->has_body = false;
	r->stream = false;
	r->resp_max = S3_RESP_MAX;
	r->done = done;
	r->data = NULL;
	r->later = NULL;
	r->tries = 0;
}

static void
req_query(struct s3_req *r, const char *name, const char *value)
{
	if (r->nq == S3_MAX_QUERY)
		abort();
	r->qname[r->nq] = name;
	r->qval[r->nq] = value ? xstrdup(value) : NULL;
	r->nq++;
}

static void
req_header(struct s3_req *r, const char *name, const char *value)
{
	if (r->nx == S3_MAX_XHDR)
		abort();
	r->xname[r->nx] = name;
	r->xval[r->nx] = xstrdup(value);
	r->nx++;
}

static void
req_body(struct s3_req *r, const void *body, size_t len, const char *sha_hex)
{
	r->body = body;
	r->body_len = len;
	r->body_sha = sha_hex;
	r->has_body = true;
}

static bool
ok2xx(const struct s3_req *r, CURLcode res)
{
	return res == CURLE_OK && !r->failed_early && r->status >= 200 &&
	    r->status < 300;
}

static size_t
req_write_cb(char *p, size_t size, size_t nmemb, void *userp)
{
	struct s3_req *r = userp;
	size_t n = size * nmemb;

	if (r->op->dead || r->later)
		return 0;
	if (r->stream && r->status >= 200 && r->status < 300)
		return r->data(r, p, n);
	if (buf_append(&r->resp, p, n) < 0) {
		r->toobig = true;
		return 0;
	}
	return n;
}

static size_t
req_read_cb(char *p, size_t size, size_t nmemb, void *userp)
{
	struct s3_req *r = userp;
	size_t n = size * nmemb, left = r->body_len - r->body_off;

	if (n > left)
		n = left;
	if (n) {
		memcpy(p, r->body + r->body_off, n);
		r->body_off += n;
		r->op->c->stats.bytes_up += n;
	}
	return n;
}

static int
req_seek_cb(void *userp, curl_off_t offset, int origin)
{
	struct s3_req *r = userp;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > r->body_len)
		return CURL_SEEKFUNC_FAIL;
	r->body_off = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static void
copy_value(char *dst, size_t dstlen, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t
req_header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct s3_req *r = userp;
	size_t n = size * nmemb, len = n;
	const char *colon;
	size_t nl;

	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', len);

		/* A new response (after a 100 Continue): start over. */
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->etag[0] = r->checksum[0] = r->content_range[0] = '\0';
		r->content_length = -1;
		r->etag_not_md5 = false;
		return n;
	}
	colon = memchr(data, ':', len);
	if (colon == NULL)
		return n;
	nl = (size_t)(colon - data);
	colon++;
	len -= nl + 1;
	if (ieq(data, nl, "etag")) {
		copy_value(r->etag, sizeof(r->etag), colon, len);
	} else if (ieq(data, nl, "x-amz-checksum-sha256")) {
		copy_value(r->checksum, sizeof(r->checksum), colon, len);
	} else if (ieq(data, nl, "content-range")) {
		copy_value(r->content_range, sizeof(r->content_range), colon, len);
	} else if (ieq(data, nl, "content-length")) {
		char v[32];
		uint64_t cl;

		copy_value(v, sizeof(v), colon, len);
		if (parse_u64(v, &cl) == 0 && cl <= INT64_MAX)
			r->content_length = (int64_t)cl;
	} else if (ieq(data, nl, "x-amz-server-side-encryption")) {
		char v[32];

		copy_value(v, sizeof(v), colon, len);
		if (strncmp(v, "aws:kms", 7) == 0)
			r->etag_not_md5 = true;
	} else if (ieq(data, nl,
	    "x-amz-server-side-encryption-customer-algorithm")) {
		r->etag_not_md5 = true;
	}
	return n;
}

/* curl's trace at debug level, minus anything that authenticates. */
static int
req_debug_cb(CURL *easy, curl_infotype type, char *data, size_t size,
    void *userp)
{
	struct s3_req *r = userp;
	const char *dir;
	size_t i = 0;

	(void)easy;
	switch (type) {
	case CURLINFO_TEXT: dir = "info"; break;
	case CURLINFO_HEADER_IN: dir = "in"; break;
	case CURLINFO_HEADER_OUT: dir = "out"; break;
	default: return 0;
	}
	while (i < size) {
		char line[1024], *red;
		size_t n = 0;

		while (i < size && data[i] != '\n' && data[i] != '\r') {
			if (n + 1 < sizeof(line))
				line[n++] = data[i];
			i++;
		}
		while (i < size && (data[i] == '\n' || data[i] == '\r'))
			i++;
		line[n] = '\0';
		if (n == 0)
			continue;
		red = s3_redact_line(line);
		log_debug("S3 curl", "what", r->what, "dir", dir, "text", red);
		free(red);
	}
	return 0;
}

/* Builds and signs the easy handle of one attempt. */
static int
req_setup(struct s3_req *r, char *err, size_t errlen)
{
	struct s3_client *c = r->op->c;
	struct sigv4_kv q[S3_MAX_QUERY], h[S3_MAX_XHDR + 1];
	struct sigv4_req sr;
	struct sigv4_cred cred;
	struct sigv4_result sig;
	const char *qv[S3_MAX_QUERY];
	char *path, *url, *line;
	CURL *e;
	size_t i;
	int rc;

	path = s3_addr_path(&c->addr, r->key);
	for (i = 0; i < r->nq; i++) {
		q[i].name = r->qname[i];
		q[i].value = r->qval[i];
		qv[i] = r->qval[i];
	}
	h[0].name = "host";
	h[0].value = c->addr.host;
	for (i = 0; i < r->nx; i++) {
		h[i + 1].name = r->xname[i];
		h[i + 1].value = r->xval[i];
	}
	memset(&sr, 0, sizeof(sr));
	sr.method = r->method;
	sr.path = path;
	sr.query = q;
	sr.nquery = r->nq;
	sr.headers = h;
	sr.nheaders = r->nx + 1;
	sr.payload_hash = r->body_sha;
	sr.region = c->region;
	sr.service = "s3";
	sr.now = (int64_t)wall_now();
	cred.access_key_id = c->akid;
	cred.secret_key = c->secret;
	cred.session_token = c->token;
	rc = sigv4_sign(&sr, &cred, &c->keys, &sig, err, errlen);
	if (rc < 0) {
		free(path);
		return -1;
	}
	url = s3_addr_url(&c->addr, path, r->qname, qv, r->nq);
	free(path);

	e = curl_easy_init();
	if (e == NULL) {
		free(url);
		sigv4_result_release(&sig);
		snprintf(err, errlen, "curl_easy_init failed");
		return -1;
	}
	r->xfer.easy = e;
	curl_easy_setopt(e, CURLOPT_URL, url);
	free(url);

	line = xasprintf("Host: %s", c->addr.host);
	r->hdrs = curl_slist_append(r->hdrs, line);
	free(line);
	for (i = 0; i < r->nx; i++) {
		line = xasprintf("%s: %s", r->xname[i], r->xval[i]);
		r->hdrs = curl_slist_append(r->hdrs, line);
		free(line);
	}
	for (i = 0; i < ARRAY_SIZE(sig.add_headers) && sig.add_headers[i]; i++)
		r->hdrs = curl_slist_append(r->hdrs, sig.add_headers[i]);
	line = xasprintf("Authorization: %s", sig.authorization);
	r->hdrs = curl_slist_append(r->hdrs, line);
	secure_zero(line, strlen(line));
	free(line);
	sigv4_result_release(&sig);
	/* No 100-continue round trip; no form content type on a bare POST. */
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	r->hdrs = curl_slist_append(r->hdrs, "Accept:");
	if (!r->has_body)
		r->hdrs = curl_slist_append(r->hdrs, "Content-Type:");
	if (r->hdrs == NULL)
		die_oom();
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);

	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, S3_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	if (r->has_body || r->stream) {
		/* Bodies may take long: only a stall is fatal (a paused
		 * download is not counted as stalled by curl). */
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
		    (long)(c->idle_timeout + 0.999));
	} else {
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
		    (long)(c->request_timeout * 1000));
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, req_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, req_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	if (c->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	if (log_enabled(LOG_DEBUG)) {
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, req_debug_cb);
		curl_easy_setopt(e, CURLOPT_DEBUGDATA, r);
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	}
	if (r->has_body) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)r->body_len);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, req_read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, r);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, req_seek_cb);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
		if (strcmp(r->method, "PUT") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (strcmp(r->method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	}
	return 0;
}

static void req_xfer_done(struct curlev_xfer *x, CURLcode res);

/* Reports a failure to start through the timer (never from the caller's
 * own call). */
static void
req_fail_later(struct s3_req *r, const char *msg)
{
	struct ev_loop *loop = r->op->c->loop;

	r->failed_early = true;
	snprintf(r->early_err, sizeof(r->early_err), "%s", msg);
	ev_timer_stop(loop, &r->timer);
	ev_timer_set(&r->timer, 0., 0.);
	ev_timer_start(loop, &r->timer);
}

static void
req_launch(struct s3_req *r)
{
	struct s3_client *c = r->op->c;
	char err[256];

	req_detach(r);
	r->tries++;
	r->status = 0;
	r->toobig = false;
	r->failed_early = false;
	r->body_off = 0;
	r->etag[0] = r->checksum[0] = r->content_range[0] = '\0';
	r->content_length = -1;
	r->etag_not_md5 = false;
	r->curl_err[0] = '\0';
	buf_reset(&r->resp);
	r->resp.max = r->resp_max;
	c->stats.requests++;
	if (r->tries > 1)
		c->stats.retries++;
	log_debug("S3 request", "what", r->what, "method", r->method,
	    "object", r->key ? r->key : "");
	if (req_setup(r, err, sizeof(err)) < 0) {
		req_detach(r);
		req_fail_later(r, err);
		return;
	}
	r->xfer.done = req_xfer_done;
	r->xfer.arg = r;
	if (curlev_add(c->m, &r->xfer, err, sizeof(err)) < 0) {
		req_detach(r);
		req_fail_later(r, err);
	}
}

/*
 * Starts the request from the loop, never inside the caller's call: the
 * caller may be inside a curl callback of another transfer (a download
 * feeding an upload), where curl refuses to add a handle.
 */
static void
req_start(struct s3_req *r)
{
	struct ev_loop *loop = r->op->c->loop;

	r->tries = 0;
	r->failed_early = false;
	ev_timer_stop(loop, &r->timer);
	ev_timer_set(&r->timer, 0., 0.);
	ev_timer_start(loop, &r->timer);
}

/* Runs fn from the loop; the transfer in flight, if any, is ignored from
 * now on and ended there. */
static void
req_defer(struct s3_req *r, void (*fn)(struct s3_req *r))
{
	struct ev_loop *loop = r->op->c->loop;

	r->later = fn;
	ev_timer_stop(loop, &r->timer);
	ev_timer_set(&r->timer, 0., 0.);
	ev_timer_start(loop, &r->timer);
}

static void
req_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct s3_req *r = container_of(w, struct s3_req, timer);

	(void)loop;
	(void)revents;
	if (r->later) {
		void (*fn)(struct s3_req *r) = r->later;

		r->later = NULL;
		fn(r);
		return;
	}
	if (r->failed_early) {
		r->done(r, CURLE_FAILED_INIT);
		return;
	}
	req_launch(r);
}

static void
req_xfer_done(struct curlev_xfer *x, CURLcode res)
{
	struct s3_req *r = x->arg;
	long code = 0;

	if (r->op->dead || r->later)
		return;		/* the reaper or the deferred work ends it */
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
	r->status = code;
	if (!ok2xx(r, res))
		r->op->c->stats.failures++;
	r->done(r, res);
}

/* The S3 error code of a failed response ("" when there is none). */
static void
req_code(const struct s3_req *r, char *code, size_t codelen)
{
	char msg[8];

	code[0] = '\0';
	s3_parse_error(r->resp.data, r->resp.len, code, codelen, msg,
	    sizeof(msg));
}

static bool
code_retryable(const char *code)
{
	static const char *const codes[] = { "RequestTimeout", "SlowDown",
	    "InternalError", "ServiceUnavailable", "OperationAborted" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(codes); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/* A failed attempt that another attempt may fix. */
static bool
req_retryable(const struct s3_req *r, CURLcode res)
{
	char code[64];

	if (r->failed_early)
		return false;
	switch (res) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return true;
	default:
		return false;
	}
	if (r->status >= 500 || r->status == 429)
		return true;
	req_code(r, code, sizeof(code));
	return code_retryable(code);
}

/* Arms the backoff timer for another attempt; false when none is left. */
static bool
req_retry(struct s3_req *r)
{
	struct s3_client *c = r->op->c;
	double d;

	if (r->tries >= c->max_tries)
		return false;
	req_detach(r);
	d = backoff_delay(&c->backoff, r->tries > 1 ? (unsigned)(r->tries - 1) :
	    0, rand_unit());
	ev_timer_stop(c->loop, &r->timer);
	ev_timer_set(&r->timer, d, 0.);
	ev_timer_start(c->loop, &r->timer);
	return true;
}

/* The one-line reason of a failed attempt. */
static void
req_errmsg(const struct s3_req *r, CURLcode res, char *err, size_t errlen)
{
	if (r->failed_early) {
		snprintf(err, errlen, "S3 %s: %s", r->what, r->early_err);
	} else if (res != CURLE_OK) {
		if (r->toobig)
			snprintf(err, errlen, "S3 %s: response larger than %zu "
			    "bytes", r->what, r->resp.max);
		else
			snprintf(err, errlen, "S3 %s: %s", r->what,
			    r->curl_err[0] ? r->curl_err :
			    curl_easy_strerror(res));
	} else if (s3_parse_error(r->resp.data, r->resp.len, NULL, 0, err,
	    errlen) < 0) {
		snprintf(err, errlen, "S3 %s: HTTP %ld", r->what, r->status);
	}
}

/* Retries a failed attempt when that may help; true if it will. */
static bool
req_failed_retry(struct s3_req *r, CURLcode res)
{
	char err[256];

	if (!req_retryable(r, res) || r->tries >= r->op->c->max_tries)
		return false;
	req_errmsg(r, res, err, sizeof(err));
	log_warn("S3 request failed, retrying", "what", r->what, "object",
	    r->key ? r->key : "", "err", err);
	return req_retry(r);
}

/* ==== upload ========================================================== */

enum put_state {
	PUT_FILL,	/* taking bytes; no request in flight */
	PUT_CREATE,	/* CreateMultipartUpload */
	PUT_PART,	/* UploadPart of the buffer */
	PUT_SINGLE,	/* PutObject of the buffer */
	PUT_COMPLETE,	/* CompleteMultipartUpload */
	PUT_VERIFY,	/* HeadObject after a Complete answered NoSuchUpload */
	PUT_CLEANUP,	/* AbortMultipartUpload (or DeleteObject) */
	PUT_DONE,
	PUT__COUNT
};

static const char *const put_state_names[PUT__COUNT] = {
	"fill", "create", "part", "single", "complete", "verify", "cleanup",
	"done",
};

struct s3_part {
	unsigned char md5[MD5_LEN];
	char *etag;			/* as S3 sent it */
	char sha_b64[48];
};

struct s3_put {
	struct s3_op op;		/* first */
	struct s3_put_cb cb;
	void *arg;
	char *key;
	enum put_state state;
	unsigned char *buf;		/* the part buffer */
	size_t len, cap;
	size_t part_size;		/* of the part being filled */
	size_t base_part_size;		/* from the configuration and hint */
	int64_t hint;
	uint64_t total;
	bool finishing;			/* s3_put_finish() was called */
	bool want_writable;		/* a write was refused */
	bool detached;			/* aborted by the caller: no callbacks */
	bool failed;			/* cleaning up, then done(false) */
	bool committed;			/* the object exists */
	char *upload_id;
	struct s3_part *parts;
	size_t nparts, partcap;
	char *xml;			/* Complete body in flight */
	/* digests of the buffer in flight */
	unsigned char md5[MD5_LEN];
	char md5_hex[2 * MD5_LEN + 1], md5_b64[32];
	char sha_hex[2 * SHA256_LEN + 1], sha_b64[48];
	char expect_etag[48];		/* the object's ETag we expect */
	char etag[128];			/* the object's ETag, no quotes */
	char complete_err[256];		/* the NoSuchUpload that sent HEAD */
	char err[384];
};

static void put_step(struct s3_put *p);

static void
put_set_state(struct s3_put *p, enum put_state s)
{
	if (p->state != s)
		log_debug("S3 upload", "object", p->key, "state",
		    put_state_names[s]);
	p->state = s;
}

static void
put_release(struct s3_op *op)
{
	struct s3_put *p = container_of(op, struct s3_put, op);
	size_t i;

	for (i = 0; i < p->nparts; i++)
		free(p->parts[i].etag);
	free(p->parts);
	free(p->buf);
	free(p->xml);
	free(p->upload_id);
	free(p->key);
}

static void
put_report(struct s3_put *p, bool ok)
{
	put_set_state(p, PUT_DONE);
	if (!p->detached) {
		if (!ok)
			log_warn("S3 upload failed", "object", p->key, "err",
			    p->err);
		p->cb.done(p, ok, ok ? NULL : p->err, p->arg);
	}
	op_kill(&p->op);
}

static void put_cleanup_done(struct s3_req *r, CURLcode res);

/* Removes what the upload left on the server, then reports (or, when
 * detached, just ends). */
static void
put_cleanup(struct s3_put *p)
{
	struct s3_req *r = &p->op.req;

	if (p->committed) {
		req_reset(r, "DELETE", "DeleteObject", p->key, put_cleanup_done);
	} else if (p->upload_id) {
		req_reset(r, "DELETE", "AbortMultipartUpload", p->key,
		    put_cleanup_done);
		req_query(r, "uploadId", p->upload_id);
	} else {
		if (p->detached)
			op_kill(&p->op);
		else
			put_report(p, false);
		return;
	}
	put_set_state(p, PUT_CLEANUP);
	req_start(r);
}

static void
put_fail(struct s3_put *p, const char *msg)
{
	p->failed = true;
	snprintf(p->err, sizeof(p->err), "%s", msg);
	put_cleanup(p);
}

static void
put_cleanup_done(struct s3_req *r, CURLcode res)
{
	struct s3_put *p = container_of(r, struct s3_put, op.req);
	char err[256];

	if (!ok2xx(r, res) && !(res == CURLE_OK && r->status == 404)) {
		if (req_failed_retry(r, res))
			return;
		req_errmsg(r, res, err, sizeof(err));
		log_warn("S3 upload left behind", "object", p->key, "what",
		    r->what, "err", err);
		if (p->failed) {
			size_t n = strlen(p->err);

			snprintf(p->err + n, sizeof(p->err) - n, " (and %s "
			    "failed: %s)", r->what, err);
		}
	}
	if (p->detached)
		op_kill(&p->op);
	else
		put_report(p, false);
}

/* The digests of the bytes about to be sent. */
static void
put_digest(struct s3_put *p, const void *data, size_t len)
{
	unsigned char sha[SHA256_LEN];

	md5(data, len, p->md5);
	hex_lower(p->md5, MD5_LEN, p->md5_hex);
	b64(p->md5, MD5_LEN, p->md5_b64);
	sha256(data, len, sha);
	hex_lower(sha, SHA256_LEN, p->sha_hex);
	b64(sha, SHA256_LEN, p->sha_b64);
}

static void
put_integrity_headers(struct s3_put *p)
{
	struct s3_req *r = &p->op.req;

	if (p->op.c->checksum == S3_CHECKSUM_SHA256)
		req_header(r, "x-amz-checksum-sha256", p->sha_b64);
	else
		req_header(r, "Content-MD5", p->md5_b64);
}

/*
 * Checks a PutObject/UploadPart answer against what was sent: the ETag is
 * the body's MD5 (unless SSE-KMS or SSE-C encrypted it), and an echoed
 * SHA-256 checksum is ours. Returns 0 or -1 with err.
 */
static int
put_check_part(struct s3_put *p, const struct s3_req *r, char *err,
    size_t errlen)
{
	char got[128];

	if (r->etag[0] == '\0') {
		snprintf(err, errlen, "S3 %s: no ETag in the response",
		    r->what);
		return -1;
	}
	s3_etag_normalize(r->etag, got, sizeof(got));
	if (!r->etag_not_md5 && strcmp(got, p->md5_hex) != 0) {
		snprintf(err, errlen, "S3 %s: ETag %s is not the MD5 of the "
		    "bytes sent (%s)", r->what, got, p->md5_hex);
		return -1;
	}
	if (r->checksum[0] && p->op.c->checksum == S3_CHECKSUM_SHA256 &&
	    strcmp(r->checksum, p->sha_b64) != 0) {
		snprintf(err, errlen, "S3 %s: checksum %s is not the SHA-256 "
		    "of the bytes sent", r->what, r->checksum);
		return -1;
	}
	return 0;
}

static void
put_single_done(struct s3_req *r, CURLcode res)
{
	struct s3_put *p = container_of(r, struct s3_put, op.req);
	char err[384];

	if (!ok2xx(r, res)) {
		if (req_failed_retry(r, res))
			return;
		req_errmsg(r, res, err, sizeof(err));
		put_fail(p, err);
		return;
	}
	if (put_check_part(p, r, err, sizeof(err)) < 0) {
		/* Not what we sent: the object is wrong, send it again. */
		log_warn("S3 upload integrity check failed", "object", p->key,
		    "err", err);
		if (req_retry(r))
			return;
		p->committed = true;
		put_fail(p, err);
		return;
	}
	s3_etag_normalize(r->etag, p->etag, sizeof(p->etag));
	p->committed = true;
	put_report(p, true);
}

static void
put_send_single(struct s3_put *p)
{
	struct s3_req *r = &p->op.req;

	put_digest(p, p->buf ? (const void *)p->buf : "", p->len);
	req_reset(r, "PUT", "PutObject", p->key, put_single_done);
	put_integrity_headers(p);
	req_body(r, p->buf ? p->buf : (const unsigned char *)"", p->len,
	    p->sha_hex);
	put_set_state(p, PUT_SINGLE);
	req_start(r);
}

static void put_send_part(struct s3_put *p);

static void
put_create_done(struct s3_req *r, CURLcode res)
{
	struct s3_put *p = container_of(r, struct s3_put, op.req);
	char err[384];

	if (!ok2xx(r, res)) {
		if (req_failed_retry(r, res))
			return;
		req_errmsg(r, res, err, sizeof(err));
		put_fail(p, err);
		return;
	}
	p->upload_id = s3_xml_child(r->resp.data, r->resp.len, "UploadId");
	if (p->upload_id && *p->upload_id == '\0') {
		free(p->upload_id);
		p->upload_id = NULL;
	}
	if (p->upload_id == NULL) {
		put_fail(p, "S3 CreateMultipartUpload: no UploadId in the "
		    "response");
		return;
	}
	log_debug("S3 multipart upload started", "object", p->key);
	if (p->detached) {
		/* Aborted while this was in flight. */
		put_cleanup(p);
		return;
	}
	put_send_part(p);
}

static void
put_send_create(struct s3_put *p)
{
	struct s3_req *r = &p->op.req;

	req_reset(r, "POST", "CreateMultipartUpload", p->key, put_create_done);
	req_query(r, "uploads", NULL);
	if (p->op.c->checksum == S3_CHECKSUM_SHA256)
		req_header(r, "x-amz-checksum-algorithm", "SHA256");
	put_set_state(p, PUT_CREATE);
	req_start(r);
}

static void
put_part_done(struct s3_req *r, CURLcode res)
{
	struct s3_put *p = container_of(r, struct s3_put, op.req);
	struct s3_part *pt;
	char err[384];

	if (!ok2xx(r, res)) {
		if (req_failed_retry(r, res))
			return;
		req_errmsg(r, res, err, sizeof(err));
		put_fail(p, err);
		return;
	}
	if (put_check_part(p, r, err, sizeof(err)) < 0) {
		log_warn("S3 upload integrity check failed", "object", p->key,
		    "err", err);
		if (req_retry(r))
			return;
		put_fail(p, err);
		return;
	}
	if (p->nparts == p->partcap) {
		p->partcap = p->partcap ? 2 * p->partcap : 16;
		p->parts = xrealloc(p->parts, p->partcap * sizeof(*p->parts));
	}
	pt = &p->parts[p->nparts++];
	memcpy(pt->md5, p->md5, MD5_LEN);
	pt->etag = xstrdup(r->etag);
	snprintf(pt->sha_b64, sizeof(pt->sha_b64), "%s", p->sha_b64);
	p->len = 0;
	p->part_size = s3_next_part_size(p->base_part_size, p->hint, p->total,
	    (unsigned)p->nparts);
	put_set_state(p, PUT_FILL);
	if (p->want_writable && !p->finishing) {
		p->want_writable = false;
		if (p->cb.writable) {
			p->cb.writable(p, p->arg);
			/* The writer may have aborted, written or finished. */
			if (p->op.dead || p->detached)
				return;
		}
	}
	put_step(p);
}

static void
put_send_part(struct s3_put *p)
{
	struct s3_req *r = &p->op.req;
	char num[16];

	if (p->nparts >= S3_MAX_PARTS) {
		char err[160];

		snprintf(err, sizeof(err), "more than %d parts needed (%"
		    PRIu64 " bytes so far; give a larger size hint)",
		    S3_MAX_PARTS, p->total);
		put_set_state(p, PUT_PART);
		/* Through the timer: this may run inside s3_put_write(). */
		req_reset(r, "PUT", "UploadPart", p->key, put_part_done);
		req_fail_later(r, err);
		return;
	}
	put_digest(p, p->buf, p->len);
	snprintf(num, sizeof(num), "%zu", p->nparts + 1);
	req_reset(r, "PUT", "UploadPart", p->key, put_part_done);
	req_query(r, "partNumber", num);
	req_query(r, "uploadId", p->upload_id);
	put_integrity_headers(p);
	req_body(r, p->buf, p->len, p->sha_hex);
	put_set_state(p, PUT_PART);
	req_start(r);
}

static void
put_verify_done(struct s3_req *r, CURLcode res)
{
	struct s3_put *p = container_of(r, struct s3_put, op.req);
	char got[128];

	if (!ok2xx(r, res) && req_failed_retry(r, res))
		return;
	s3_etag_normalize(r->etag, got, sizeof(got));
	if (ok2xx(r, res) && strcmp(got, p->expect_etag) == 0) {
		/* An earlier Complete went through; its answer was lost. */
		snprintf(p->etag, sizeof(p->etag), "%s", got);
		p->committed = true;
		put_report(p, true);
		return;
	}
	put_fail(p, p->complete_err);
}

static void
put_complete_done(struct s3_req *r, CURLcode res)
{
	struct s3_put *p = container_of(r, struct s3_put, op.req);
	char err[384], code[64], *etag, got[128];

	if (ok2xx(r, res) && s3_xml_root_is(r->resp.data, r->resp.len,
	    "Error")) {
		/* S3 may answer 200 and then report an error in the body. */
		req_code(r, code, sizeof(code));
		req_errmsg(r, res, err, sizeof(err));
		if (code_retryable(code)) {
			log_warn("S3 request failed, retrying", "what",
			    r->what, "object", p->key, "err", err);
			if (req_retry(r))
				return;
		}
		put_fail(p, err);
		return;
	}
	if (!ok2xx(r, res)) {
		if (req_failed_retry(r, res))
			return;
		req_errmsg(r, res, err, sizeof(err));
		req_code(r, code, sizeof(code));
		if (strcmp(code, "NoSuchUpload") == 0) {
			/* A repeated Complete (ours, or curl's own on a
			 * reused connection that died) of one that worked,
			 * its answer lost? The object's ETag tells. */
			snprintf(p->complete_err, sizeof(p->complete_err),
			    "%s", err);
			req_reset(r, "HEAD", "HeadObject", p->key,
			    put_verify_done);
			put_set_state(p, PUT_VERIFY);
			req_start(r);
			return;
		}
		put_fail(p, err);
		return;
	}
	p->committed = true;
	etag = s3_xml_child(r->resp.data, r->resp.len, "ETag");
	s3_etag_normalize(etag ? etag : r->etag, got, sizeof(got));
	free(etag);
	if (!r->etag_not_md5 && strcmp(got, p->expect_etag) != 0) {
		snprintf(err, sizeof(err), "S3 CompleteMultipartUpload: ETag "
		    "%s is not the one of the parts sent (%s)", got,
		    p->expect_etag);
		put_fail(p, err);
		return;
	}
	snprintf(p->etag, sizeof(p->etag), "%s", got);
	put_report(p, true);
}

static void
put_send_complete(struct s3_put *p)
{
	struct s3_req *r = &p->op.req;
	const char **etags = xcalloc(p->nparts, sizeof(*etags));
	const char **shas = NULL;
	unsigned char (*md)[MD5_LEN] = xcalloc(p->nparts, MD5_LEN);
	size_t i;

	if (p->op.c->checksum == S3_CHECKSUM_SHA256)
		shas = xcalloc(p->nparts, sizeof(*shas));
	for (i = 0; i < p->nparts; i++) {
		etags[i] = p->parts[i].etag;
		memcpy(md[i], p->parts[i].md5, MD5_LEN);
		if (shas)
			shas[i] = p->parts[i].sha_b64;
	}
	free(p->xml);
	p->xml = s3_complete_xml(etags, shas, p->nparts);
	s3_multipart_etag((const unsigned char (*)[16])md, p->nparts,
	    p->expect_etag);
	free(etags);
	free(shas);
	free(md);
	put_digest(p, p->xml, strlen(p->xml));
	req_reset(r, "POST", "CompleteMultipartUpload", p->key,
	    put_complete_done);
	req_query(r, "uploadId", p->upload_id);
	req_header(r, "Content-Type", "application/xml");
	req_body(r, p->xml, strlen(p->xml), p->sha_hex);
	put_set_state(p, PUT_COMPLETE);
	req_start(r);
}

/* Starts whatever the buffer and the writer's calls ask for now. */
static void
put_step(struct s3_put *p)
{
	if (p->state != PUT_FILL || p->failed || p->detached || p->op.dead)
		return;
	if (p->finishing) {
		if (p->upload_id == NULL)
			put_send_single(p);
		else if (p->len > 0)
			put_send_part(p);
		else
			put_send_complete(p);
	} else if (p->len == p->part_size && p->want_writable) {
		/* A full part and more to come: this is a multipart upload. */
		if (p->upload_id == NULL)
			put_send_create(p);
		else
			put_send_part(p);
	}
}

static void
put_hint_failed(struct s3_req *r, CURLcode res)
{
	struct s3_put *p = container_of(r, struct s3_put, op.req);

	(void)res;
	p->failed = true;
	snprintf(p->err, sizeof(p->err), "%s", r->early_err);
	put_report(p, false);
}

struct s3_put *
s3_put_new(struct s3_client *c, const char *key, int64_t size_hint,
    const struct s3_put_cb *cb, void *arg)
{
	struct s3_put *p = xcalloc(1, sizeof(*p));
	char err[256];

	op_init(&p->op, c, put_release);
	p->cb = *cb;
	p->arg = arg;
	p->key = xstrdup(key);
	p->state = PUT_FILL;
	p->hint = size_hint;
	if (s3_part_size(c->part_size, size_hint, &p->base_part_size, err,
	    sizeof(err)) == 0) {
		p->part_size = p->base_part_size;
	} else {
		p->failed = true;
		req_reset(&p->op.req, "PUT", "PutObject", p->key,
		    put_hint_failed);
		req_fail_later(&p->op.req, err);
	}
	return p;
}

size_t
s3_put_write(struct s3_put *p, const void *data, size_t n)
{
	size_t room, take;

	if (n == 0 || p->op.dead || p->detached || p->failed || p->finishing)
		return 0;
	if (p->state != PUT_FILL) {
		p->want_writable = true;
		return 0;
	}
	room = p->part_size - p->len;
	if (room == 0) {
		p->want_writable = true;
		put_step(p);
		return 0;
	}
	take = n < room ? n : room;
	if (p->len + take > p->cap) {
		/* Grow by doubling: small artefacts stay small. */
		size_t cap = p->cap ? p->cap : 64 * 1024;

		while (cap < p->len + take)
			cap *= 2;
		if (cap > p->part_size)
			cap = p->part_size;
		p->buf = xrealloc(p->buf, cap);
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, take);
	p->len += take;
	p->total += take;
	if (take < n) {
		/* The part is full and more is coming: send it now, the
		 * writer waits for writable. */
		p->want_writable = true;
		put_step(p);
	}
	return take;
}

void
s3_put_finish(struct s3_put *p)
{
	if (p->op.dead || p->detached || p->finishing)
		return;
	p->finishing = true;
	put_step(p);
}

/* The rest of s3_put_abort(), from the loop. */
static void
put_abort_later(struct s3_req *r)
{
	struct s3_put *p = container_of(r, struct s3_put, op.req);

	req_detach(r);
	if (p->upload_id && !p->committed)
		put_cleanup(p);
	else
		op_kill(&p->op);
}

void
s3_put_abort(struct s3_put *p)
{
	if (p->op.dead || p->detached)
		return;
	p->detached = true;
	log_debug("S3 upload aborted", "object", p->key, "state",
	    put_state_names[p->state]);
	switch (p->state) {
	case PUT_CREATE:
		/* The upload id is on its way: abort once it is known. */
		return;
	case PUT_CLEANUP:
		/* Already cleaning up after a failure. */
		return;
	default:
		break;
	}
	if (p->upload_id && !p->committed)
		req_defer(&p->op.req, put_abort_later);
	else
		op_kill(&p->op);
}

const char *
s3_put_etag(const struct s3_put *p)
{
	return p->etag;
}

uint64_t
s3_put_size(const struct s3_put *p)
{
	return p->total;
}

unsigned
s3_put_parts(const struct s3_put *p)
{
	return (unsigned)p->nparts;
}

/* ==== download ======================================================== */

struct s3_get {
	struct s3_op op;		/* first */
	struct s3_get_cb cb;
	void *arg;
	char *key;
	uint64_t offset;		/* where the caller asked to start */
	uint64_t got;			/* bytes the consumer took */
	int64_t size;			/* the object's, -1 unknown */
	char etag[128];			/* of the first response, for If-Match */
	bool paused;
	bool started;			/* the attempt's body has begun */
	uint64_t skip;			/* bytes before offset+got in this body */
	uint64_t attempt_got;
	char err[256];			/* a bad response seen in data */
	ev_timer kick;			/* unpauses from the loop */
};

static void get_done(struct s3_req *r, CURLcode res);

static void
get_release(struct s3_op *op)
{
	struct s3_get *g = container_of(op, struct s3_get, op);

	ev_timer_stop(op->c->loop, &g->kick);
	free(g->key);
}

/* The headers of the next attempt: from where, and of which version. */
static void
get_prepare(struct s3_get *g)
{
	struct s3_req *r = &g->op.req;
	uint64_t from = g->offset + g->got;
	char v[48];

	req_clear(r);
	if (from > 0) {
		snprintf(v, sizeof(v), "bytes=%" PRIu64 "-", from);
		req_header(r, "Range", v);
	}
	if (g->etag[0])
		req_header(r, "If-Match", g->etag);
	g->started = false;
	g->skip = 0;
	g->attempt_got = 0;
	g->paused = false;
	g->err[0] = '\0';
}

/* The first body bytes of an attempt: is this the part we asked for? */
static int
get_check_start(struct s3_get *g, struct s3_req *r)
{
	uint64_t want = g->offset + g->got, first, last;
	int64_t total;

	if (r->status == 206) {
		if (s3_parse_content_range(r->content_range, &first, &last,
		    &total) < 0 || first != want) {
			snprintf(g->err, sizeof(g->err), "S3 GetObject: "
			    "unexpected Content-Range \"%s\" (wanted from %"
			    PRIu64 ")", r->content_range, want);
			return -1;
		}
		if (total >= 0)
			g->size = total;
	} else {
		/* 200: the whole object, whatever the Range said. */
		g->skip = want;
		if (r->content_length >= 0)
			g->size = r->content_length;
	}
	if (g->etag[0] == '\0' && r->etag[0])
		snprintf(g->etag, sizeof(g->etag), "%s", r->etag);
	g->started = true;
	return 0;
}

static size_t
get_data(struct s3_req *r, char *p, size_t n)
{
	struct s3_get *g = container_of(r, struct s3_get, op.req);
	size_t s;

	if (!g->started && get_check_start(g, r) < 0)
		return 0;
	s = g->skip < n ? (size_t)g->skip : n;
	if (s == n) {
		g->skip -= s;
		return n;
	}
	if (!g->cb.data(g, p + s, n - s, g->arg)) {
		if (g->op.dead)
			return 0;
		/* curl keeps these bytes and offers them again. */
		g->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (g->op.dead)
		return 0;
	g->skip -= s;
	g->got += n - s;
	g->attempt_got += n - s;
	g->op.c->stats.bytes_down += n - s;
	return n;
}

static void
get_send(struct s3_get *g)
{
	struct s3_req *r = &g->op.req;

	req_reset(r, "GET", "GetObject", g->key, get_done);
	r->stream = true;
	r->data = get_data;
	get_prepare(g);
	req_start(r);
}

static void
get_finish(struct s3_get *g, bool ok, const char *err)
{
	if (!ok)
		log_warn("S3 download failed", "object", g->key, "err", err);
	g->cb.done(g, ok, err, g->arg);
	op_kill(&g->op);
}

static void
get_done(struct s3_req *r, CURLcode res)
{
	struct s3_get *g = container_of(r, struct s3_get, op.req);
	struct s3_client *c = g->op.c;
	char err[384];

	ev_timer_stop(c->loop, &g->kick);
	if (g->err[0]) {
		get_finish(g, false, g->err);
		return;
	}
	if (ok2xx(r, res)) {
		if (!g->started && get_check_start(g, r) < 0) {
			get_finish(g, false, g->err);
			return;
		}
		if (g->size < 0 || g->offset + g->got >= (uint64_t)g->size) {
			get_finish(g, true, NULL);
			return;
		}
		/* Short, yet curl saw the end: treat it as a drop. */
		res = CURLE_PARTIAL_FILE;
	}
	if (res == CURLE_OK && r->status == 416) {
		/* Asked from the very end: nothing left to read. */
		char *actual = s3_xml_child(r->resp.data, r->resp.len,
		    "ActualObjectSize");
		uint64_t size;
		bool at_end = actual && parse_u64(actual, &size) == 0 &&
		    size == g->offset + g->got;

		free(actual);
		if (at_end) {
			g->size = (int64_t)size;
			get_finish(g, true, NULL);
			return;
		}
	}
	if (res == CURLE_OK && r->status == 412) {
		get_finish(g, false, "S3 GetObject: the object changed during "
		    "the download");
		return;
	}
	if (req_retryable(r, res) || res == CURLE_PARTIAL_FILE) {
		if (g->attempt_got > 0) {
			/* Progress: the failed attempt is the first of a
			 * new count. */
			r->tries = 1;
		}
		req_errmsg(r, res, err, sizeof(err));
		if (r->tries < c->max_tries) {
			log_warn("S3 download interrupted, resuming", "object",
			    g->key, "err", err);
			c->stats.resumes++;
			get_prepare(g);
			if (req_retry(r))
				return;
		}
	}
	req_errmsg(r, res, err, sizeof(err));
	get_finish(g, false, err);
}

static void
get_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct s3_get *g = container_of(w, struct s3_get, kick);

	(void)loop;
	(void)revents;
	if (g->op.dead || g->paused || g->op.req.xfer.easy == NULL ||
	    !g->op.req.xfer.active)
		return;
	/* May call data at once (with the bytes refused before). */
	curl_easy_pause(g->op.req.xfer.easy, CURLPAUSE_CONT);
}

struct s3_get *
s3_get_new(struct s3_client *c, const char *key, uint64_t offset,
    const struct s3_get_cb *cb, void *arg)
{
	struct s3_get *g = xcalloc(1, sizeof(*g));

	op_init(&g->op, c, get_release);
	g->cb = *cb;
	g->arg = arg;
	g->key = xstrdup(key);
	g->offset = offset;
	g->size = -1;
	ev_timer_init(&g->kick, get_kick_cb, 0., 0.);
	get_send(g);
	return g;
}

void
s3_get_resume(struct s3_get *g)
{
	if (g->op.dead || !g->paused)
		return;
	g->paused = false;
	ev_timer_stop(g->op.c->loop, &g->kick);
	ev_timer_set(&g->kick, 0., 0.);
	ev_timer_start(g->op.c->loop, &g->kick);
}

void
s3_get_cancel(struct s3_get *g)
{
	if (g->op.dead)
		return;
	ev_timer_stop(g->op.c->loop, &g->kick);
	op_kill(&g->op);
}

int64_t
s3_get_size(const struct s3_get *g)
{
	return g->size;
}

/* ==== delete ========================================================== */

struct s3_del {
	struct s3_op op;
	s3_done_fn done;
	void *arg;
	char *key;
};

static void
del_release(struct s3_op *op)
{
	free(container_of(op, struct s3_del, op)->key);
}

static void
del_done(struct s3_req *r, CURLcode res)
{
	struct s3_del *d = container_of(r, struct s3_del, op.req);
	char err[384];

	if (ok2xx(r, res) || (res == CURLE_OK && r->status == 404)) {
		d->done(true, NULL, d->arg);
	} else {
		if (req_failed_retry(r, res))
			return;
		req_errmsg(r, res, err, sizeof(err));
		d->done(false, err, d->arg);
	}
	op_kill(&d->op);
}

void
s3_delete(struct s3_client *c, const char *key, s3_done_fn done, void *arg)
{
	struct s3_del *d = xcalloc(1, sizeof(*d));

	op_init(&d->op, c, del_release);
	d->done = done;
	d->arg = arg;
	d->key = xstrdup(key);
	req_reset(&d->op.req, "DELETE", "DeleteObject", d->key, del_done);
	req_start(&d->op.req);
}

/* ==== list ============================================================ */

struct s3_list {
	struct s3_op op;
	struct s3_list_cb cb;
	void *arg;
	char *prefix;
	char *token;
};

static void
list_release(struct s3_op *op)
{
	struct s3_list *l = container_of(op, struct s3_list, op);

	free(l->prefix);
	free(l->token);
}

static void list_done(struct s3_req *r, CURLcode res);

static void
list_send(struct s3_list *l)
{
	struct s3_req *r = &l->op.req;
	char n[16];

	req_reset(r, "GET", "ListObjectsV2", NULL, list_done);
	r->resp_max = S3_LIST_RESP_MAX;
	req_query(r, "list-type", "2");
	req_query(r, "prefix", l->prefix);
	req_query(r, "encoding-type", "url");
	if (l->op.c->page_size) {
		snprintf(n, sizeof(n), "%u", l->op.c->page_size);
		req_query(r, "max-keys", n);
	}
	if (l->token)
		req_query(r, "continuation-token", l->token);
	req_start(r);
}

static void
list_item(const char *key, uint64_t size, double mtime, void *arg)
{
	struct s3_list *l = arg;

	if (!l->op.dead)
		l->cb.item(key, size, mtime, l->arg);
}

static void
list_done(struct s3_req *r, CURLcode res)
{
	struct s3_list *l = container_of(r, struct s3_list, op.req);
	char err[384], *next = NULL;
	bool truncated;

	if (!ok2xx(r, res)) {
		if (req_failed_retry(r, res))
			return;
		req_errmsg(r, res, err, sizeof(err));
		goto fail;
	}
	if (s3_parse_list(r->resp.data, r->resp.len, list_item, l,
	    &truncated, &next, err, sizeof(err)) < 0)
		goto fail;
	if (l->op.dead) {
		free(next);
		return;
	}
	if (truncated) {
		if (next == NULL || *next == '\0') {
			free(next);
			snprintf(err, sizeof(err), "S3 ListObjectsV2: a "
			    "truncated page without a continuation token");
			goto fail;
		}
		free(l->token);
		l->token = next;
		list_send(l);
		return;
	}
	free(next);
	l->cb.done(true, NULL, l->arg);
	op_kill(&l->op);
	return;
fail:
	log_warn("S3 listing failed", "prefix", l->prefix, "err", err);
	l->cb.done(false, err, l->arg);
	op_kill(&l->op);
}

struct s3_list *
s3_list(struct s3_client *c, const char *prefix, const struct s3_list_cb *cb,
    void *arg)
{
	struct s3_list *l = xcalloc(1, sizeof(*l));

	op_init(&l->op, c, list_release);
	l->cb = *cb;
	l->arg = arg;
	l->prefix = xstrdup(prefix ? prefix : "");
	list_send(l);
	return l;
}

void
s3_list_cancel(struct s3_list *l)
{
	op_kill(&l->op);
}

/* ==== stale multipart uploads ========================================= */

struct stale_upload {
	char *key, *id;
};

struct s3_stale {
	struct s3_op op;
	s3_stale_fn done;
	void *arg;
	char *prefix;
	double before;
	char *key_marker, *id_marker;
	bool truncated;
	struct stale_upload *todo;
	size_t ntodo, itodo, todocap;
	unsigned aborted;
};

static void
stale_clear_todo(struct s3_stale *s)
{
	size_t i;

	for (i = 0; i < s->ntodo; i++) {
		free(s->todo[i].key);
		free(s->todo[i].id);
	}
	s->ntodo = s->itodo = 0;
}

static void
stale_release(struct s3_op *op)
{
	struct s3_stale *s = container_of(op, struct s3_stale, op);

	stale_clear_todo(s);
	free(s->todo);
	free(s->prefix);
	free(s->key_marker);
	free(s->id_marker);
}

static void stale_list_done(struct s3_req *r, CURLcode res);
static void stale_abort_done(struct s3_req *r, CURLcode res);

static void
stale_list(struct s3_stale *s)
{
	struct s3_req *r = &s->op.req;

	req_reset(r, "GET", "ListMultipartUploads", NULL, stale_list_done);
	r->resp_max = S3_LIST_RESP_MAX;
	req_query(r, "uploads", NULL);
	req_query(r, "prefix", s->prefix);
	req_query(r, "encoding-type", "url");
	if (s->key_marker)
		req_query(r, "key-marker", s->key_marker);
	if (s->id_marker)
		req_query(r, "upload-id-marker", s->id_marker);
	req_start(r);
}

static void
stale_finish(struct s3_stale *s, bool ok, const char *err)
{
	if (ok)
		log_info("S3 stale uploads aborted", "prefix", s->prefix);
	else
		log_warn("S3 stale upload cleanup failed", "prefix", s->prefix,
		    "err", err);
	s->done(ok, err, s->aborted, s->arg);
	op_kill(&s->op);
}

/* Aborts the next upload of the page, or lists the next page. */
static void
stale_next(struct s3_stale *s)
{
	struct s3_req *r = &s->op.req;
	struct stale_upload *u;

	if (s->itodo < s->ntodo) {
		u = &s->todo[s->itodo];
		req_reset(r, "DELETE", "AbortMultipartUpload", u->key,
		    stale_abort_done);
		req_query(r, "uploadId", u->id);
		req_start(r);
		return;
	}
	stale_clear_todo(s);
	if (s->truncated) {
		stale_list(s);
		return;
	}
	stale_finish(s, true, NULL);
}

static void
stale_abort_done(struct s3_req *r, CURLcode res)
{
	struct s3_stale *s = container_of(r, struct s3_stale, op.req);
	char err[384];

	if (ok2xx(r, res)) {
		log_info("S3 stale upload aborted", "object",
		    s->todo[s->itodo].key);
		s->aborted++;
	} else if (!(res == CURLE_OK && r->status == 404)) {
		if (req_failed_retry(r, res))
			return;
		req_errmsg(r, res, err, sizeof(err));
		stale_finish(s, false, err);
		return;
	}
	s->itodo++;
	stale_next(s);
}

static void
stale_upload(const char *key, const char *id, double initiated, void *arg)
{
	struct s3_stale *s = arg;

	if (s->before > 0 && initiated >= s->before)
		return;
	if (s->ntodo == s->todocap) {
		s->todocap = s->todocap ? 2 * s->todocap : 16;
		s->todo = xrealloc(s->todo, s->todocap * sizeof(*s->todo));
	}
	s->todo[s->ntodo].key = xstrdup(key);
	s->todo[s->ntodo].id = xstrdup(id);
	s->ntodo++;
}

static void
stale_list_done(struct s3_req *r, CURLcode res)
{
	struct s3_stale *s = container_of(r, struct s3_stale, op.req);
	char err[384], *nk = NULL, *ni = NULL;

	if (!ok2xx(r, res)) {
		if (req_failed_retry(r, res))
			return;
		req_errmsg(r, res, err, sizeof(err));
		stale_finish(s, false, err);
		return;
	}
	stale_clear_todo(s);
	if (s3_parse_uploads(r->resp.data, r->resp.len, stale_upload, s,
	    &s->truncated, &nk, &ni, err, sizeof(err)) < 0) {
		stale_finish(s, false, err);
		return;
	}
	if (s->truncated && (nk == NULL || *nk == '\0')) {
		free(nk);
		free(ni);
		stale_finish(s, false, "S3 ListMultipartUploads: a truncated "
		    "page without a next key marker");
		return;
	}
	free(s->key_marker);
	free(s->id_marker);
	s->key_marker = nk;
	s->id_marker = ni;
	stale_next(s);
}

void
s3_abort_stale_before(struct s3_client *c, const char *key_prefix,
    double before, s3_stale_fn done, void *arg)
{
	struct s3_stale *s = xcalloc(1, sizeof(*s));

	op_init(&s->op, c, stale_release);
	s->done = done;
	s->arg = arg;
	s->prefix = xstrdup(key_prefix ? key_prefix : "");
	s->before = before;
	stale_list(s);
}

void
s3_abort_stale(struct s3_client *c, const char *key_prefix, s3_stale_fn done,
    void *arg)
{
	s3_abort_stale_before(c, key_prefix, 0, done, arg);
}
