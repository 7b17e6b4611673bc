/*
 * azblob.c - Azure Blob Storage client on curlev (see azblob.h).
 *
 * Every operation (put, get, delete, list) is an object with one request
 * slot (struct azreq: a curl easy handle while a request runs, and one
 * timer). Requests never start from inside the caller's call or inside a
 * curl callback: they are launched from the slot's timer (zero delay the
 * first time, the backoff delay on a retry), because curl refuses to add a
 * handle from inside one of its callbacks, and a caller's data callback
 * may well start a part of an upload on the same multi handle.
 *
 * Operations that are aborted or cancelled are marked dead, taken off the
 * live list and freed by an ev_prepare hook after the current iteration
 * (they may be inside a curl callback of their own transfer). Operations
 * that end normally are freed right after their done callback returns.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "azblob.h"
#include "azsign.h"
#include "backoff.h"
#include "buf.h"
#include "log.h"

#define LIST_BODY_MAX	((size_t)32 << 20)
#define ERR_BODY_MAX	((size_t)64 << 10)
#define MD5_B64_LEN	25		/* 24 characters and a NUL */
#define ETAG_MAX	128
#define MAX_HEADERS	12
#define MAX_QUERY	6
#define RETRY_CAP	30.0

/* ---- pure helpers --------------------------------------------------- */

static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* Appends s percent-encoded (a query value). */
static void
put_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char e[3] = { '%', hex[c >> 4], hex[c & 15] };

		if (unreserved(c))
			buf_add(b, s, 1);
		else
			buf_add(b, e, 3);
	}
}

uint64_t
azblob_part_size(size_t part, int64_t size_hint, unsigned index)
{
	const uint64_t unit = AZBLOB_MIN_PART_SIZE;
	uint64_t p = part ? part : AZBLOB_DEFAULT_PART_SIZE;
	unsigned shift = index / AZBLOB_GROW_EVERY;

	if (p < unit)
		p = unit;
	if (size_hint > 0) {
		uint64_t need = ((uint64_t)size_hint + AZBLOB_MAX_BLOCKS - 1) /
		    AZBLOB_MAX_BLOCKS;

		if (need > p)
			p = need;
	}
	p = (p + unit - 1) / unit * unit;
	if (p >= AZBLOB_MAX_BLOCK_SIZE)
		return AZBLOB_MAX_BLOCK_SIZE;
	/* Doubling past the limit stops at the limit. */
	while (shift-- > 0) {
		p *= 2;
		if (p >= AZBLOB_MAX_BLOCK_SIZE)
			return AZBLOB_MAX_BLOCK_SIZE;
	}
	return p;
}

void
azblob_block_id(uint64_t nonce, unsigned index, char out[AZBLOB_BLOCKID_LEN])
{
	char raw[25];

	snprintf(raw, sizeof(raw), "%016" PRIx64 "%08u", nonce,
	    index % 100000000u);
	/* 24 bytes give 32 base64 characters, no padding. */
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)raw, 24);
	out[AZBLOB_BLOCKID_LEN - 1] = '\0';
}

/* ---- a little XML: the service's listings and errors ---------------- */

struct xml_el {
	const char *attr, *attr_end;	/* between the name and '>' */
	const char *in, *in_end;	/* content */
	const char *next;		/* after the element */
};

static const char *
find_mem(const char *p, const char *end, const char *needle, size_t n)
{
	while (p && (size_t)(end - p) >= n) {
		const char *q = memchr(p, needle[0], (size_t)(end - p - (ptrdiff_t)n + 1));

		if (q == NULL)
			return NULL;
		if (memcmp(q, needle, n) == 0)
			return q;
		p = q + 1;
	}
	return NULL;
}

/*
 * The next element named tag in [p, end): <tag attrs>content</tag> or
 * <tag attrs/>. The schemas read here never nest an element in one of the
 * same name, and text never holds a raw '<', so a flat search is exact.
 */
static bool
xml_elem(const char *p, const char *end, const char *tag, struct xml_el *el)
{
	size_t tn = strlen(tag);
	char close[80];

	if (tn + 4 > sizeof(close))
		return false;
	snprintf(close, sizeof(close), "</%s>", tag);
	for (;;) {
		const char *lt = p ? memchr(p, '<', (size_t)(end - p)) : NULL;
		const char *gt, *after;

		if (lt == NULL || (size_t)(end - lt) < tn + 2)
			return false;
		after = lt + 1 + tn;
		if (memcmp(lt + 1, tag, tn) != 0 ||
		    !(*after == '>' || *after == '/' || *after == ' ' ||
		    *after == '\t' || *after == '\r' || *after == '\n')) {
			p = lt + 1;
			continue;
		}
		gt = memchr(after, '>', (size_t)(end - after));
		if (gt == NULL)
			return false;
		el->attr = after;
		if (gt[-1] == '/') {
			el->attr_end = gt - 1;
			el->in = el->in_end = gt + 1;
			el->next = gt + 1;
			return true;
		}
		el->attr_end = gt;
		el->in = gt + 1;
		el->in_end = find_mem(el->in, end, close, tn + 3);
		if (el->in_end == NULL)
			return false;
		el->next = el->in_end + tn + 3;
		return true;
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
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_add(b, u, n);
}

/* XML text with its entities decoded; malloc'ed. An entity that is not
 * one stays as written. */
static char *
xml_text(const char *s, const char *end)
{
	static const struct { const char *name; char c; } ents[] = {
		{ "lt;", '<' }, { "gt;", '>' }, { "amp;", '&' },
		{ "quot;", '"' }, { "apos;", '\'' },
	};
	struct buf b = BUF_INIT(0);

	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		size_t i;

		if (amp == NULL) {
			buf_add(&b, s, (size_t)(end - s));
			break;
		}
		buf_add(&b, s, (size_t)(amp - s));
		s = amp + 1;
		for (i = 0; i < ARRAY_SIZE(ents); i++) {
			size_t n = strlen(ents[i].name);

			if ((size_t)(end - s) >= n &&
			    memcmp(s, ents[i].name, n) == 0) {
				buf_add(&b, &ents[i].c, 1);
				s += n;
				break;
			}
		}
		if (i < ARRAY_SIZE(ents))
			continue;
		if (s < end && *s == '#') {
			const char *q = s + 1;
			int base = 10;
			unsigned long cp = 0;
			int digits = 0;

			if (q < end && (*q == 'x' || *q == 'X')) {
				base = 16;
				q++;
			}
			for (; q < end && digits < 8; q++, digits++) {
				int d;

				if (*q >= '0' && *q <= '9')
					d = *q - '0';
				else if (base == 16 && *q >= 'a' && *q <= 'f')
					d = *q - 'a' + 10;
				else if (base == 16 && *q >= 'A' && *q <= 'F')
					d = *q - 'A' + 10;
				else
					break;
				cp = cp * (unsigned long)base + (unsigned long)d;
			}
			if (digits > 0 && q < end && *q == ';' && cp > 0 &&
			    cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
				put_utf8(&b, cp);
				s = q + 1;
				continue;
			}
		}
		buf_add(&b, "&", 1);
	}
	return buf_detach(&b, NULL);
}

/* Decodes %XX in place (Encoded="true" names). */
static void
pct_decode(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '%' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2])) {
			char h[3] = { s[1], s[2], 0 };

			*w++ = (char)strtoul(h, NULL, 16);
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

static bool
attr_true(const struct xml_el *el, const char *name)
{
	const char *p = find_mem(el->attr, el->attr_end, name, strlen(name));

	if (p == NULL)
		return false;
	p += strlen(name);
	while (p < el->attr_end && (*p == ' ' || *p == '='))
		p++;
	if (p < el->attr_end && (*p == '"' || *p == '\''))
		p++;
	return (size_t)(el->attr_end - p) >= 4 && strncasecmp(p, "true", 4) == 0;
}

char *
azblob_error_message(long status, const char *hdr_code, const char *body,
    size_t len, char *out, size_t outlen)
{
	const char *end = body ? body + len : NULL;
	char *code = NULL, *msg = NULL;
	struct xml_el err, el;

	if (outlen == 0)
		return out;
	if (body && xml_elem(body, end, "Error", &err)) {
		if (xml_elem(err.in, err.in_end, "Code", &el))
			code = xml_text(el.in, el.in_end);
		if (xml_elem(err.in, err.in_end, "Message", &el)) {
			char *nl;

			msg = xml_text(el.in, el.in_end);
			/* The rest is RequestId and Time. */
			nl = strpbrk(msg, "\r\n");
			if (nl)
				*nl = '\0';
		}
	}
	if ((code == NULL || *code == '\0') && hdr_code && *hdr_code) {
		free(code);
		code = xstrdup(hdr_code);
	}
	if (code && *code && msg && *msg)
		snprintf(out, outlen, "Azure %s: %s", code, msg);
	else if (code && *code)
		snprintf(out, outlen, "Azure %s (HTTP %ld)", code, status);
	else
		snprintf(out, outlen, "Azure HTTP %ld", status);
	free(code);
	free(msg);
	return out;
}

int64_t
azblob_parse_http_date(const char *s)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int d, y, hh, mm, ss, n = 0, mon;
	char mname[4];
	const char *m;
	int64_t yy, era, yoe, doy, doe, days;

	if (s == NULL)
		return -1;
	while (*s == ' ')
		s++;
	/* "Sun, " */
	if (strlen(s) < 29 || s[3] != ',' || s[4] != ' ')
		return -1;
	if (sscanf(s + 5, "%2d %3s %4d %2d:%2d:%2d GMT%n", &d, mname, &y, &hh,
	    &mm, &ss, &n) != 6 || n == 0)
		return -1;
	m = strlen(mname) == 3 ? strstr(months, mname) : NULL;
	if (m == NULL || (m - months) % 3 != 0)
		return -1;
	mon = (int)(m - months) / 3 + 1;
	if (d < 1 || d > 31 || y < 1970 || hh > 23 || mm > 59 || ss > 60 ||
	    hh < 0 || mm < 0 || ss < 0)
		return -1;
	/* Days from civil (H. Hinnant's algorithm). */
	yy = y - (mon <= 2);
	era = yy / 400;
	yoe = yy - era * 400;
	doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + doe - 719468;
	return days * 86400 + hh * 3600 + mm * 60 + ss;
}

long
azblob_parse_list(const char *body, size_t len, azblob_item_fn item,
    void *arg, char **next)
{
	const char *end = body + len;
	struct xml_el root, blobs, blob, el;
	const char *p;
	long n = 0;

	*next = NULL;
	if (body == NULL || !xml_elem(body, end, "EnumerationResults", &root))
		return -1;
	if (xml_elem(root.in, root.in_end, "Blobs", &blobs)) {
		for (p = blobs.in; xml_elem(p, blobs.in_end, "Blob", &blob);
		    p = blob.next) {
			char *name, *v;
			uint64_t size = 0;
			int64_t mtime = -1;

			if (!xml_elem(blob.in, blob.in_end, "Name", &el))
				continue;
			name = xml_text(el.in, el.in_end);
			if (attr_true(&el, "Encoded"))
				pct_decode(name);
			if (xml_elem(blob.in, blob.in_end, "Content-Length", &el)) {
				v = xml_text(el.in, el.in_end);
				size = strtoull(v, NULL, 10);
				free(v);
			}
			if (xml_elem(blob.in, blob.in_end, "Last-Modified", &el)) {
				v = xml_text(el.in, el.in_end);
				mtime = azblob_parse_http_date(v);
				free(v);
			}
			n++;
			if (item)
				item(name, size, mtime, arg);
			free(name);
		}
		p = blobs.next;
	} else {
		p = root.in;
	}
	if (xml_elem(p, root.in_end, "NextMarker", &el) && el.in_end > el.in) {
		*next = xml_text(el.in, el.in_end);
		if (**next == '\0') {
			free(*next);
			*next = NULL;
		}
	}
	return n;
}

char *
azblob_redact(const char *line, char *out, size_t outlen)
{
	static const char red[] = "[REDACTED]";
	struct buf b = BUF_INIT(0);
	const char *p = line;
	char *s;

	if (outlen == 0)
		return out;
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "authorization:", 14) == 0) {
		buf_add(&b, line, (size_t)(p - line) + 14);
		buf_adds(&b, " ");
		buf_adds(&b, red);
		goto out;
	}
	p = line;
	while (*p) {
		/* sig=... after '?' or '&', up to '&', whitespace or the end. */
		if ((*p == '?' || *p == '&') && strncasecmp(p + 1, "sig=", 4) == 0) {
			buf_add(&b, p, 5);
			buf_adds(&b, red);
			p += 5;
			while (*p && *p != '&' && *p != ' ' && *p != '\t' &&
			    *p != '#' && *p != '"' && *p != '\'')
				p++;
			continue;
		}
		buf_add(&b, p, 1);
		p++;
	}
out:
	s = buf_detach(&b, NULL);
	strlcpy0(out, s, outlen);
	free(s);
	return out;
}

int
azblob_endpoint_split(const char *url, char **base, char **path, char *err,
    size_t errlen)
{
	const char *auth, *slash;
	size_t n, sl;
	bool https;

	*base = *path = NULL;
	if (url == NULL)
		return errf(err, errlen, "azure: no endpoint");
	if (strncasecmp(url, "https://", 8) == 0) {
		https = true;
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		https = false;
		auth = url + 7;
	} else {
		return errf(err, errlen, "azure: the endpoint must be an "
		    "http:// or https:// URL");
	}
	if (strpbrk(url, " \t\r\n?#"))
		return errf(err, errlen, "azure: the endpoint must not carry "
		    "a query, a fragment or white space");
	slash = strchr(auth, '/');
	sl = slash ? (size_t)(slash - auth) : strlen(auth);
	if (sl == 0 || memchr(auth, '@', sl))
		return errf(err, errlen, "azure: the endpoint needs a host "
		    "and no user name");
	*base = xasprintf("%s://%.*s", https ? "https" : "http", (int)sl, auth);
	if (slash) {
		n = strlen(slash);
		while (n > 0 && slash[n - 1] == '/')
			n--;
		*path = xstrndup(slash, n);
	} else {
		*path = xstrdup("");
	}
	return 0;
}

/* ---- credentials ---------------------------------------------------- */

void
azblob_creds_release(struct azblob_creds *c)
{
	if (c == NULL)
		return;
	free(c->endpoint);
	free(c->account);
	free_secret(c->account_key);
	free_secret(c->sas);
	memset(c, 0, sizeof(*c));
}

static const char *
get_nonempty(azblob_getenv_fn get, void *arg, const char *name)
{
	const char *v = get(name, arg);

	return v && *v ? v : NULL;
}

static int
creds_from_conn(struct azblob_creds *out, const char *account,
    const char *endpoint, const char *cs, char *err, size_t errlen)
{
	struct azsign_conn conn;

	if (endpoint && *endpoint)
		return errf(err, errlen, "azure: an endpoint is set together "
		    "with a connection string; put it in the connection "
		    "string (BlobEndpoint)");
	if (azsign_conn_parse(cs, &conn, err, errlen) < 0)
		return -1;
	if (account && *account && conn.account &&
	    strcmp(account, conn.account) != 0) {
		errf(err, errlen, "azure: the storage account %s is not the "
		    "connection string's AccountName %s", account, conn.account);
		azsign_conn_release(&conn);
		return -1;
	}
	out->endpoint = conn.blob_endpoint;
	conn.blob_endpoint = NULL;
	out->account = conn.account;
	conn.account = NULL;
	/* With both, the key signs: a SAS may be narrower or expire. */
	if (conn.account_key) {
		out->account_key = conn.account_key;
		conn.account_key = NULL;
	} else {
		out->sas = conn.sas;
		conn.sas = NULL;
	}
	if (out->account == NULL && account && *account)
		out->account = xstrdup(account);
	azsign_conn_release(&conn);
	return 0;
}

int
azblob_creds_resolve(struct azblob_creds *out, const char *account,
    const char *endpoint, azblob_getenv_fn get, void *arg, char *err,
    size_t errlen)
{
	static const char *const key_names[] = {
		"AZURE_STORAGE_ACCOUNT_KEY", "accountKey", "storageAccountKey",
		"key",
	};
	const char *cs, *key = NULL, *sas;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (account && *account == '\0')
		account = NULL;
	if (endpoint && *endpoint == '\0')
		endpoint = NULL;
	cs = get_nonempty(get, arg, "AZURE_STORAGE_CONNECTION_STRING");
	if (cs) {
		if (creds_from_conn(out, account, endpoint, cs, err, errlen) < 0) {
			azblob_creds_release(out);
			return -1;
		}
		return 0;
	}
	if (account == NULL)
		account = get_nonempty(get, arg, "AZURE_STORAGE_ACCOUNT");
	for (i = 0; i < ARRAY_SIZE(key_names) && key == NULL; i++)
		key = get_nonempty(get, arg, key_names[i]);
	sas = get_nonempty(get, arg, "AZURE_STORAGE_SAS_TOKEN");
	if (key == NULL && sas == NULL)
		return errf(err, errlen, "azure: no credentials: expected "
		    "AZURE_STORAGE_CONNECTION_STRING, an account key "
		    "(AZURE_STORAGE_ACCOUNT_KEY, accountKey, storageAccountKey "
		    "or key) or AZURE_STORAGE_SAS_TOKEN");
	if (account == NULL && (key || endpoint == NULL))
		return errf(err, errlen, "azure: no storage account name");
	if (key) {
		out->account_key = xstrdup(key);
	} else {
		if (*sas == '?')
			sas++;
		if (*sas == '\0' || strpbrk(sas, " \t\r\n#?")) {
			memset(out, 0, sizeof(*out));
			return errf(err, errlen,
			    "azure: the SAS token has invalid characters");
		}
		out->sas = xstrdup(sas);
	}
	out->account = account ? xstrdup(account) : NULL;
	out->endpoint = endpoint ? xstrdup(endpoint) :
	    xasprintf("https://%s.blob." AZSIGN_ENDPOINT_SUFFIX, account);
	return 0;
}

/* ---- client and operations ------------------------------------------ */

enum azkind { AZ_PUT, AZ_GET, AZ_DEL, AZ_LIST };

struct azobj;
typedef void (*az_send_fn)(struct azobj *o);
typedef void (*az_done_fn)(struct azobj *o, CURLcode res);

/* One request slot: the running transfer and what its response said. */
struct azreq {
	struct curlev_xfer x;
	ev_timer timer;		/* launches, retries, unpausing */
	struct curl_slist *hdrs;
	char curl_err[CURL_ERROR_SIZE];
	int tries;		/* failed attempts of the current request */
	bool unpause;		/* the timer lets curl go on */
	bool launched;
	/* the response */
	long status;
	bool headers_done;
	bool bad_response;	/* the write callback refused it */
	char errcode[64];	/* x-ms-error-code */
	char etag[ETAG_MAX];
	char md5[MD5_B64_LEN];
	char crange[96];
	uint64_t clen;
	bool have_clen;
	struct buf body;	/* error bodies, listings */
	/* the request body */
	const unsigned char *up;
	size_t uplen, uppos;
};

struct azobj {
	enum azkind kind;
	struct azblob_client *c;
	struct azobj *prev, *next;
	bool dead;		/* aborted: waiting for the reaper */
	bool finished;		/* done is running */
	az_send_fn send;	/* (re)starts the current request */
	az_done_fn on_done;	/* its transfer ended */
	const char *what;	/* "put", "get", ... for messages */
	char *key;		/* blob name, or the list prefix */
	char *path;		/* encoded "/container/blob" */
	struct azreq r;
	char err[512];
};

struct azblob_client {
	struct curlev *m;
	struct ev_loop *loop;
	char *base;		/* scheme://authority */
	char *prefix;		/* endpoint path: "" or "/acct" */
	char *container;
	char *cpath;		/* encoded "/container" */
	bool https;
	struct azsign_key key;
	bool have_key;
	char *sas;
	char *ca_file;
	bool insecure;
	size_t part_size;
	unsigned page_size;
	int max_tries;
	double retry_delay, idle_timeout, connect_timeout;
	struct azblob_stats stats;
	struct azobj *live;
	struct azobj *graveyard;
	ev_prepare reaper;
};

enum put_state {
	PUT_FILLING,		/* taking bytes into the part buffer */
	PUT_BLOCK,		/* a Put Block of the buffer in flight */
	PUT_COMMIT,		/* Put Blob or Put Block List in flight */
	PUT_FAILED,		/* done(false) is on its way */
	PUT__COUNT
};

struct azblob_put {
	struct azobj o;
	struct azblob_put_cb cb;
	void *arg;
	enum put_state state;
	int64_t hint;
	struct buf part;	/* max is the current part size */
	uint64_t nonce;
	unsigned nblocks;	/* blocks stored */
	uint64_t total;
	EVP_MD_CTX *md5all;
	char md5[MD5_B64_LEN];	/* of the whole stream, after finish */
	char part_md5[MD5_B64_LEN];
	char block_id[AZBLOB_BLOCKID_LEN];
	char etag[ETAG_MAX];
	bool finishing;
	bool want_writable;
	bool committing_list;	/* the commit is a Put Block List */
};

struct azblob_get {
	struct azobj o;
	struct azblob_get_cb cb;
	void *arg;
	uint64_t offset;
	uint64_t got;		/* bytes delivered */
	uint64_t got_at_start;	/* ... when the current attempt began */
	uint64_t size;		/* the blob's; UINT64_MAX until known */
	char etag[ETAG_MAX];
	char want_md5[MD5_B64_LEN];
	EVP_MD_CTX *md5;	/* offset 0 only */
	bool paused;		/* the consumer asked for a pause */
	bool curl_paused;	/* and curl knows */
	unsigned resumes;
};

struct azblob_del {
	struct azobj o;
	struct azblob_del_cb cb;
	void *arg;
};

struct azblob_list {
	struct azobj o;
	struct azblob_list_cb cb;
	void *arg;
	char *marker;
	unsigned pages;
};

static void obj_free(struct azobj *o);

static void
live_link(struct azblob_client *c, struct azobj *o)
{
	o->prev = NULL;
	o->next = c->live;
	if (c->live)
		c->live->prev = o;
	c->live = o;
}

static void
live_unlink(struct azblob_client *c, struct azobj *o)
{
	if (o->prev)
		o->prev->next = o->next;
	else if (c->live == o)
		c->live = o->next;
	if (o->next)
		o->next->prev = o->prev;
	o->prev = o->next = NULL;
}

static void
reaper_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct azblob_client *c = container_of(w, struct azblob_client, reaper);
	struct azobj *o;

	(void)loop;
	(void)revents;
	while ((o = c->graveyard) != NULL) {
		c->graveyard = o->next;
		obj_free(o);
	}
	ev_prepare_stop(c->loop, &c->reaper);
}

/* Ends the request slot's transfer, if any; outside curl callbacks only. */
static void
req_detach(struct azobj *o)
{
	struct azreq *r = &o->r;
	struct curl_slist *h;

	if (r->x.easy == NULL)
		return;
	curlev_remove(o->c->m, &r->x);
	curl_easy_cleanup(r->x.easy);
	r->x.easy = NULL;
	/* The signature is good for this request only, but still a
	 * credential for a while: wiped. */
	for (h = r->hdrs; h; h = h->next)
		if (strncasecmp(h->data, "Authorization:", 14) == 0)
			secure_zero(h->data, strlen(h->data));
	curl_slist_free_all(r->hdrs);
	r->hdrs = NULL;
	r->launched = false;
}

static void
obj_free(struct azobj *o)
{
	struct azblob_client *c = o->c;

	req_detach(o);
	ev_timer_stop(c->loop, &o->r.timer);
	buf_release(&o->r.body);
	switch (o->kind) {
	case AZ_PUT: {
		struct azblob_put *p = container_of(o, struct azblob_put, o);

		/* The parts are the caller's data, likely a database dump. */
		buf_release_secret(&p->part);
		EVP_MD_CTX_free(p->md5all);
		break;
	}
	case AZ_GET: {
		struct azblob_get *g = container_of(o, struct azblob_get, o);

		EVP_MD_CTX_free(g->md5);
		break;
	}
	case AZ_LIST: {
		struct azblob_list *l = container_of(o, struct azblob_list, o);

		free(l->marker);
		break;
	}
	case AZ_DEL:
		break;
	}
	free(o->key);
	free(o->path);
	free(o);
}

/* Stops o now and frees it after this loop iteration. */
static void
obj_kill(struct azobj *o)
{
	struct azblob_client *c = o->c;

	if (o->dead || o->finished)
		return;
	o->dead = true;
	ev_timer_stop(c->loop, &o->r.timer);
	live_unlink(c, o);
	o->next = c->graveyard;
	c->graveyard = o;
	ev_prepare_start(c->loop, &c->reaper);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct azobj *o = container_of(w, struct azobj, r.timer);

	(void)loop;
	(void)revents;
	if (o->dead)
		return;
	if (o->r.unpause) {
		o->r.unpause = false;
		if (o->r.x.easy && o->r.x.active)
			curl_easy_pause(o->r.x.easy, CURLPAUSE_CONT);
		return;
	}
	o->send(o);
}

static void
schedule(struct azobj *o, double delay)
{
	ev_timer_stop(o->c->loop, &o->r.timer);
	ev_timer_set(&o->r.timer, delay, 0.);
	ev_timer_start(o->c->loop, &o->r.timer);
}

static void *
obj_new(struct azblob_client *c, size_t size, enum azkind kind,
    const char *what, const char *key, az_send_fn send, az_done_fn on_done)
{
	struct azobj *o = xcalloc(1, size);

	o->kind = kind;
	o->c = c;
	o->what = what;
	o->key = xstrdup(key ? key : "");
	o->send = send;
	o->on_done = on_done;
	buf_init(&o->r.body, ERR_BODY_MAX);
	ev_timer_init(&o->r.timer, timer_cb, 0., 0.);
	live_link(c, o);
	return o;
}

/* Ends o with its done callback, then frees it. */
static void
obj_finish(struct azobj *o, bool ok)
{
	struct azblob_client *c = o->c;
	const char *err = ok ? NULL : o->err;

	req_detach(o);
	ev_timer_stop(c->loop, &o->r.timer);
	live_unlink(c, o);
	o->finished = true;
	switch (o->kind) {
	case AZ_PUT: {
		struct azblob_put *p = container_of(o, struct azblob_put, o);

		p->cb.done(p, ok, err, p->arg);
		break;
	}
	case AZ_GET: {
		struct azblob_get *g = container_of(o, struct azblob_get, o);

		g->cb.done(g, ok, err, g->arg);
		break;
	}
	case AZ_DEL: {
		struct azblob_del *d = container_of(o, struct azblob_del, o);

		if (d->cb.done)
			d->cb.done(d, ok, err, d->arg);
		break;
	}
	case AZ_LIST: {
		struct azblob_list *l = container_of(o, struct azblob_list, o);

		l->cb.done(l, ok, err, l->arg);
		break;
	}
	}
	obj_free(o);
}

/* ---- one request ---------------------------------------------------- */

struct azspec {
	const char *method;
	const char *path;		/* encoded, below the endpoint path */
	struct azsign_kv query[MAX_QUERY];
	size_t nquery;
	struct azsign_kv headers[MAX_HEADERS];
	size_t nheaders;
	const void *body;		/* PUT body, or NULL */
	size_t bodylen;
	size_t body_max;		/* cap of a buffered response body */
	double timeout;			/* whole request; 0: none */
};

static void
spec_query(struct azspec *s, const char *name, const char *value)
{
	if (s->nquery < MAX_QUERY) {
		s->query[s->nquery].name = name;
		s->query[s->nquery].value = value;
		s->nquery++;
	}
}

static void
spec_header(struct azspec *s, const char *name, const char *value)
{
	if (s->nheaders < MAX_HEADERS - 3) {
		s->headers[s->nheaders].name = name;
		s->headers[s->nheaders].value = value;
		s->nheaders++;
	}
}

static bool
is_success(long status)
{
	return status >= 200 && status < 300;
}

static void
copy_header_value(char *dst, size_t dstlen, const char *v, const char *end)
{
	size_t n;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	n = (size_t)(end - v);
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static bool
header_is(const char *line, size_t n, const char *name, const char **value)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	*value = line + k + 1;
	return true;
}

static bool get_headers_check(struct azblob_get *g);

static size_t
header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct azobj *o = userp;
	struct azreq *r = &o->r;
	size_t n = size * nmemb, m = n;
	const char *v, *end;

	if (o->dead)
		return 0;
	while (m > 0 && (data[m - 1] == '\r' || data[m - 1] == '\n'))
		m--;
	end = data + m;
	if (m >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		const char *sp = memchr(data, ' ', m);

		/* A new response (100 Continue first, perhaps). */
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		r->errcode[0] = r->etag[0] = r->md5[0] = r->crange[0] = '\0';
		r->have_clen = false;
		r->headers_done = false;
	} else if (m == 0) {
		if (r->status >= 200)
			r->headers_done = true;
		if (o->kind == AZ_GET && is_success(r->status) &&
		    r->headers_done &&
		    !get_headers_check(container_of(o, struct azblob_get, o))) {
			r->bad_response = true;
			return 0;
		}
	} else if (header_is(data, m, "x-ms-error-code", &v)) {
		copy_header_value(r->errcode, sizeof(r->errcode), v, end);
	} else if (header_is(data, m, "ETag", &v)) {
		copy_header_value(r->etag, sizeof(r->etag), v, end);
	} else if (header_is(data, m, "Content-MD5", &v)) {
		copy_header_value(r->md5, sizeof(r->md5), v, end);
	} else if (header_is(data, m, "Content-Range", &v)) {
		copy_header_value(r->crange, sizeof(r->crange), v, end);
	} else if (header_is(data, m, "Content-Length", &v)) {
		char num[32];

		copy_header_value(num, sizeof(num), v, end);
		r->clen = strtoull(num, NULL, 10);
		r->have_clen = true;
	}
	return n;
}

static size_t get_data(struct azblob_get *g, char *data, size_t n);

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct azobj *o = userp;
	size_t n = size * nmemb;

	if (o->dead)
		return 0;
	if (o->kind == AZ_GET && is_success(o->r.status))
		return get_data(container_of(o, struct azblob_get, o), data, n);
	if (buf_append(&o->r.body, data, n) < 0) {
		o->r.bad_response = true;
		return 0;
	}
	return n;
}

static size_t
read_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct azobj *o = userp;
	struct azreq *r = &o->r;
	size_t n = size * nmemb, left = r->uplen - r->uppos;

	if (o->dead)
		return CURL_READFUNC_ABORT;
	if (n > left)
		n = left;
	memcpy(data, r->up + r->uppos, n);
	r->uppos += n;
	o->c->stats.bytes_up += n;
	return n;
}

/* curl rewinds when it resends on a fresh connection. */
static int
seek_cb(void *userp, curl_off_t offset, int origin)
{
	struct azobj *o = userp;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > o->r.uplen)
		return CURL_SEEKFUNC_CANTSEEK;
	o->r.uppos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static void
debug_line(const struct azobj *o, const char *dir, const char *s, size_t n)
{
	char line[1024], safe[1100];

	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, s, n);
	line[n] = '\0';
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		line[--n] = '\0';
	if (n == 0)
		return;
	azblob_redact(line, safe, sizeof(safe));
	log_debug("azure http", "op", o->what, "blob", o->key, "dir", dir,
	    "text", safe);
}

/* curl's debug output with every credential taken out. */
static int
debug_cb(CURL *easy, curl_infotype type, char *data, size_t size,
    void *userp)
{
	const struct azobj *o = userp;
	const char *dir;

	(void)easy;
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
		return 0;
	}
	/* A block of request headers comes in one piece: a line each. */
	while (size > 0) {
		const char *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t)(nl - data) + 1 : size;

		debug_line(o, dir, data, n);
		data += n;
		size -= n;
	}
	return 0;
}

static void xfer_done(struct curlev_xfer *x, CURLcode res);

/*
 * Starts the request described by s in o's slot: URL, x-ms-date and
 * x-ms-version, the Shared Key signature or the SAS. Returns 0, or -1 with
 * o->err set (nothing is left running).
 */
static int
req_launch(struct azobj *o, const struct azspec *s)
{
	struct azblob_client *c = o->c;
	struct azreq *r = &o->r;
	struct azsign_kv h[MAX_HEADERS];
	struct buf url = BUF_INIT(0);
	char date[AZSIGN_DATE_LEN], lenbuf[32];
	char *urls, *full = NULL, *signpath;
	size_t nh = s->nheaders, i;
	CURL *e;

	req_detach(o);
	o->err[0] = '\0';
	r->status = 0;
	r->headers_done = r->bad_response = false;
	r->errcode[0] = r->etag[0] = r->md5[0] = r->crange[0] = '\0';
	r->have_clen = false;
	r->curl_err[0] = '\0';
	buf_reset(&r->body);
	r->body.max = s->body_max ? s->body_max : ERR_BODY_MAX;
	r->up = s->body;
	r->uplen = s->body ? s->bodylen : 0;
	r->uppos = 0;

	memcpy(h, s->headers, nh * sizeof(h[0]));
	if (azsign_date((int64_t)wall_now(), date) == NULL)
		return errf(o->err, sizeof(o->err), "azure: clock out of range");
	h[nh].name = "x-ms-date";
	h[nh++].value = date;
	h[nh].name = "x-ms-version";
	h[nh++].value = AZBLOB_API_VERSION;
	if (s->body) {
		/* curl sends it for an upload of a known size. */
		snprintf(lenbuf, sizeof(lenbuf), "%zu", s->bodylen);
		h[nh].name = "Content-Length";
		h[nh++].value = lenbuf;
	}

	buf_adds(&url, c->base);
	buf_adds(&url, c->prefix);
	buf_adds(&url, s->path);
	for (i = 0; i < s->nquery; i++) {
		buf_adds(&url, i == 0 ? "?" : "&");
		buf_adds(&url, s->query[i].name);
		buf_adds(&url, "=");
		put_escaped(&url, s->query[i].value ? s->query[i].value : "");
	}
	urls = buf_detach(&url, NULL);
	if (c->sas && !c->have_key) {
		full = azsign_url_with_sas(urls, c->sas);
		free(urls);
		urls = full;
	}

	e = curl_easy_init();
	if (e == NULL) {
		free_secret(urls);
		return errf(o->err, sizeof(o->err), "azure: curl_easy_init failed");
	}
	r->x.easy = e;
	for (i = s->nheaders; i < nh; i++) {
		char *line;

		if (strcmp(h[i].name, "Content-Length") == 0)
			continue;
		line = xasprintf("%s: %s", h[i].name, h[i].value);
		r->hdrs = curl_slist_append(r->hdrs, line);
		free(line);
	}
	for (i = 0; i < s->nheaders; i++) {
		char *line = xasprintf("%s: %s", h[i].name, h[i].value ?
		    h[i].value : "");

		r->hdrs = curl_slist_append(r->hdrs, line);
		free(line);
	}
	/* No 100-continue round trip before each part. */
	r->hdrs = curl_slist_append(r->hdrs, "Expect:");
	if (c->have_key) {
		struct azsign_req sr = {
			.method = s->method,
			.query = s->query,
			.nquery = s->nquery,
			.headers = h,
			.nheaders = nh,
		};
		char *auth = NULL, *line;

		signpath = xasprintf("%s%s", c->prefix, s->path);
		sr.path = signpath;
		if (azsign_sign(&c->key, &sr, &auth, NULL, o->err,
		    sizeof(o->err)) < 0) {
			free(signpath);
			free_secret(urls);
			req_detach(o);
			return -1;
		}
		free(signpath);
		line = xasprintf("Authorization: %s", auth);
		r->hdrs = curl_slist_append(r->hdrs, line);
		free_secret(line);
		free_secret(auth);
	}

	curl_easy_setopt(e, CURLOPT_URL, urls);
	free_secret(urls);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, c->https ? "https" : "http");
	curl_easy_setopt(e, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(c->connect_timeout * 1000));
	/* Idle, not total: a paused download may wait for its consumer
	 * (curl does not count paused time as slow). */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
	    (long)(c->idle_timeout + 0.999));
	if (s->timeout > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(s->timeout * 1000));
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, o);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, o);
	if (c->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca_file) {
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	}
	if (log_enabled(LOG_DEBUG)) {
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, debug_cb);
		curl_easy_setopt(e, CURLOPT_DEBUGDATA, o);
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
	}
	if (s->body) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)s->bodylen);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(e, CURLOPT_READDATA, o);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, o);
	} else if (strcmp(s->method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, s->method);
	}

	r->x.done = xfer_done;
	r->x.arg = o;
	if (curlev_add(c->m, &r->x, o->err, sizeof(o->err)) < 0) {
		req_detach(o);
		return -1;
	}
	r->launched = true;
	c->stats.requests++;
	return 0;
}

static void
xfer_done(struct curlev_xfer *x, CURLcode res)
{
	struct azobj *o = x->arg;

	if (o->dead)
		return;		/* the reaper cleans up */
	o->on_done(o, res);
}

/* Worth another attempt: the service was busy or the network failed. */
static bool
retryable(CURLcode res, long status)
{
	switch (res) {
	case CURLE_OK:
		return status == 408 || status == 429 ||
		    (status >= 500 && status != 501 && status != 505);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* o->err for a failed attempt. */
static void
describe_failure(struct azobj *o, CURLcode res)
{
	struct azreq *r = &o->r;

	if (res == CURLE_OK) {
		azblob_error_message(r->status, r->errcode, r->body.data,
		    r->body.len, o->err, sizeof(o->err));
		return;
	}
	if (r->bad_response) {
		if (o->err[0] == '\0')
			snprintf(o->err, sizeof(o->err), "Azure %s %s: the "
			    "response is too large", o->what, o->key);
		return;
	}
	snprintf(o->err, sizeof(o->err), "Azure %s %s: %s", o->what, o->key,
	    r->curl_err[0] ? r->curl_err : curl_easy_strerror(res));
}

/*
 * After a failed attempt: schedules another one and returns true, or
 * returns false when the failure is final (o->err says why).
 */
static bool
maybe_retry(struct azobj *o, CURLcode res)
{
	struct azblob_client *c = o->c;
	struct azreq *r = &o->r;
	struct backoff_params bp = { c->retry_delay, 2.0, 0.5, RETRY_CAP, 0 };
	double delay;
	char tries[16];

	c->stats.request_errors++;
	describe_failure(o, res);
	if (!retryable(res, r->status) || r->bad_response)
		return false;
	r->tries++;
	if (r->tries >= c->max_tries) {
		size_t n = strlen(o->err);

		snprintf(o->err + n, sizeof(o->err) - n, " (%d tries)", r->tries);
		return false;
	}
	delay = backoff_delay(&bp, (unsigned)(r->tries - 1), rand_unit());
	snprintf(tries, sizeof(tries), "%d", r->tries);
	log_info("azure request retried", "op", o->what, "blob", o->key,
	    "tries", tries, "err", o->err);
	c->stats.retries++;
	req_detach(o);
	schedule(o, delay);
	return true;
}

/* ---- client --------------------------------------------------------- */

static bool
valid_container(const char *s)
{
	size_t n = strlen(s), i;

	if (strcmp(s, "$root") == 0)
		return true;
	if (n < 3 || n > 63)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-'))
			return false;
	return true;
}

struct azblob_client *
azblob_client_new(struct curlev *m, const struct azblob_config *cfg,
    char *err, size_t errlen)
{
	struct azblob_client *c;
	char *endpoint = NULL;
	const char *ep = cfg->endpoint;

	if (cfg->container == NULL || !valid_container(cfg->container)) {
		errf(err, errlen, "azure: the container name must be 3-63 "
		    "lower-case letters, digits and hyphens");
		return NULL;
	}
	if (cfg->account_key == NULL && (cfg->sas == NULL || *cfg->sas == '\0')) {
		errf(err, errlen, "azure: neither an account key nor a SAS token");
		return NULL;
	}
	if (ep == NULL || *ep == '\0') {
		if (cfg->account == NULL || *cfg->account == '\0') {
			errf(err, errlen, "azure: neither an endpoint nor an "
			    "account name");
			return NULL;
		}
		endpoint = xasprintf("https://%s.blob." AZSIGN_ENDPOINT_SUFFIX,
		    cfg->account);
		ep = endpoint;
	}
	c = xcalloc(1, sizeof(*c));
	c->m = m;
	c->loop = curlev_loop(m);
	if (azblob_endpoint_split(ep, &c->base, &c->prefix, err, errlen) < 0)
		goto fail;
	c->https = strncmp(c->base, "https:", 6) == 0;
	if (cfg->account_key) {
		if (azsign_key_init(&c->key, cfg->account, cfg->account_key, err,
		    errlen) < 0)
			goto fail;
		c->have_key = true;
	} else {
		const char *sas = cfg->sas;

		if (*sas == '?')
			sas++;
		if (*sas == '\0' || strpbrk(sas, " \t\r\n#?")) {
			errf(err, errlen, "azure: the SAS token has invalid "
			    "characters");
			goto fail;
		}
		c->sas = xstrdup(sas);
	}
	c->container = xstrdup(cfg->container);
	c->cpath = azsign_blob_path(cfg->container, "");
	c->cpath[strlen(c->cpath) - 1] = '\0';	/* no trailing '/' */
	c->ca_file = cfg->ca_file && *cfg->ca_file ? xstrdup(cfg->ca_file) : NULL;
	c->insecure = cfg->tls_insecure;
	c->part_size = (size_t)azblob_part_size(cfg->part_size, -1, 0);
	c->page_size = cfg->page_size ? cfg->page_size : AZBLOB_DEFAULT_PAGE;
	if (c->page_size > 5000)
		c->page_size = 5000;
	c->max_tries = cfg->max_tries > 0 ? cfg->max_tries : AZBLOB_DEFAULT_TRIES;
	c->retry_delay = cfg->retry_delay > 0 ? cfg->retry_delay : 0.5;
	c->idle_timeout = cfg->idle_timeout > 0 ? cfg->idle_timeout : 60;
	c->connect_timeout = cfg->connect_timeout > 0 ? cfg->connect_timeout : 15;
	ev_prepare_init(&c->reaper, reaper_cb);
	free(endpoint);
	return c;
fail:
	free(endpoint);
	free(c->base);
	free(c->prefix);
	azsign_key_release(&c->key);
	free(c);
	return NULL;
}

void
azblob_client_free(struct azblob_client *c)
{
	struct azobj *o;

	if (c == NULL)
		return;
	while ((o = c->live) != NULL) {
		live_unlink(c, o);
		obj_free(o);
	}
	while ((o = c->graveyard) != NULL) {
		c->graveyard = o->next;
		obj_free(o);
	}
	ev_prepare_stop(c->loop, &c->reaper);
	free(c->base);
	free(c->prefix);
	free(c->container);
	free(c->cpath);
	azsign_key_release(&c->key);
	free_secret(c->sas);
	free(c->ca_file);
	free(c);
}

const struct azblob_stats *
azblob_client_stats(const struct azblob_client *c)
{
	return &c->stats;
}

static char *
blob_path(const struct azblob_client *c, const char *key)
{
	return azsign_blob_path(c->container, key);
}

static void
md5_b64(const unsigned char *d, unsigned n, char out[MD5_B64_LEN])
{
	EVP_EncodeBlock((unsigned char *)out, d, (int)n);
}

/* ---- upload --------------------------------------------------------- */

static void put_send(struct azobj *o);
static void put_done(struct azobj *o, CURLcode res);

struct azblob_put *
azblob_put_new(struct azblob_client *c, const char *key, int64_t size_hint,
    const struct azblob_put_cb *cb, void *arg)
{
	struct azblob_put *p = obj_new(c, sizeof(*p), AZ_PUT, "put", key,
	    put_send, put_done);
	unsigned char rnd[8];

	p->o.path = blob_path(c, key);
	p->cb = *cb;
	p->arg = arg;
	p->hint = size_hint;
	buf_init(&p->part, (size_t)azblob_part_size(c->part_size, size_hint, 0));
	if (RAND_bytes(rnd, sizeof(rnd)) == 1)
		memcpy(&p->nonce, rnd, sizeof(p->nonce));
	else
		p->nonce = (uint64_t)(wall_now() * 1e6) ^ (uint64_t)(uintptr_t)p;
	p->md5all = EVP_MD_CTX_new();
	if (p->md5all == NULL || EVP_DigestInit_ex(p->md5all, EVP_md5(), NULL) != 1)
		die_oom();
	if (key == NULL || *key == '\0' || strlen(key) > 1024) {
		snprintf(p->o.err, sizeof(p->o.err),
		    "azure: a blob name must have 1-1024 characters");
		p->state = PUT_FAILED;
		schedule(&p->o, 0);
	}
	return p;
}

/* The part in the buffer goes out as the next block. */
static void
put_start_block(struct azblob_put *p)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;

	if (p->nblocks >= AZBLOB_MAX_BLOCKS) {
		snprintf(p->o.err, sizeof(p->o.err), "azure put %s: more than "
		    "%u blocks", p->o.key, AZBLOB_MAX_BLOCKS);
		p->state = PUT_FAILED;
		schedule(&p->o, 0);
		return;
	}
	if (EVP_Digest(p->part.data ? p->part.data : "", p->part.len, d, &dn,
	    EVP_md5(), NULL) != 1)
		die_oom();
	md5_b64(d, dn, p->part_md5);
	azblob_block_id(p->nonce, p->nblocks, p->block_id);
	p->state = PUT_BLOCK;
	p->o.r.tries = 0;
	schedule(&p->o, 0);
}

/* The whole stream fit in one part: one Put Blob. */
static void
put_start_single(struct azblob_put *p)
{
	memcpy(p->part_md5, p->md5, sizeof(p->md5));
	p->state = PUT_COMMIT;
	p->committing_list = false;
	p->o.r.tries = 0;
	schedule(&p->o, 0);
}

static void
put_start_list(struct azblob_put *p)
{
	char id[AZBLOB_BLOCKID_LEN];
	unsigned i;

	/* The part buffer is empty now and holds the list instead. */
	buf_reset(&p->part);
	p->part.max = 0;
	buf_add(&p->part, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>",
	    strlen("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>"));
	for (i = 0; i < p->nblocks; i++) {
		azblob_block_id(p->nonce, i, id);
		buf_adds(&p->part, "<Latest>");
		buf_adds(&p->part, id);
		buf_adds(&p->part, "</Latest>");
	}
	buf_adds(&p->part, "</BlockList>");
	p->state = PUT_COMMIT;
	p->committing_list = true;
	p->o.r.tries = 0;
	schedule(&p->o, 0);
}

/* The next step once no block is in flight and finish was called. */
static void
put_finish_step(struct azblob_put *p)
{
	if (p->md5[0] == '\0') {
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned dn = 0;

		if (EVP_DigestFinal_ex(p->md5all, d, &dn) != 1)
			die_oom();
		md5_b64(d, dn, p->md5);
	}
	if (p->nblocks == 0)
		put_start_single(p);
	else if (p->part.len > 0)
		put_start_block(p);
	else
		put_start_list(p);
}

static void
put_send(struct azobj *o)
{
	struct azblob_put *p = container_of(o, struct azblob_put, o);
	struct azspec s = { .method = "PUT", .path = o->path };

	switch (p->state) {
	case PUT_FAILED:
		obj_finish(o, false);
		return;
	case PUT_BLOCK:
		spec_query(&s, "comp", "block");
		spec_query(&s, "blockid", p->block_id);
		spec_header(&s, "Content-MD5", p->part_md5);
		break;
	case PUT_COMMIT:
		if (p->committing_list) {
			spec_query(&s, "comp", "blocklist");
			spec_header(&s, "x-ms-blob-content-md5", p->md5);
		} else {
			spec_header(&s, "x-ms-blob-type", "BlockBlob");
			spec_header(&s, "Content-MD5", p->part_md5);
		}
		break;
	case PUT_FILLING:
	case PUT__COUNT:
		return;
	}
	s.body = p->part.data ? p->part.data : "";
	s.bodylen = p->part.len;
	if (req_launch(o, &s) < 0)
		obj_finish(o, false);
}

static void
put_done(struct azobj *o, CURLcode res)
{
	struct azblob_put *p = container_of(o, struct azblob_put, o);
	struct azreq *r = &o->r;

	if (res != CURLE_OK || !is_success(r->status)) {
		if (!maybe_retry(o, res))
			obj_finish(o, false);
		return;
	}
	/* The service echoes the MD5 of the body it received (for a block
	 * list, of the list, which it parsed: nothing to compare). */
	if (r->md5[0] && !(p->state == PUT_COMMIT && p->committing_list) &&
	    strcmp(r->md5, p->part_md5) != 0) {
		snprintf(o->err, sizeof(o->err), "azure put %s: the service "
		    "computed another MD5 (%s) than ours (%s)", o->key, r->md5,
		    p->part_md5);
		obj_finish(o, false);
		return;
	}
	req_detach(o);
	if (p->state == PUT_COMMIT) {
		strlcpy0(p->etag, r->etag, sizeof(p->etag));
		obj_finish(o, true);
		return;
	}
	/* A block is stored: the buffer is free for the next part. */
	p->nblocks++;
	buf_reset(&p->part);
	p->part.max = (size_t)azblob_part_size(o->c->part_size, p->hint,
	    p->nblocks);
	p->state = PUT_FILLING;
	if (p->finishing) {
		put_finish_step(p);
		return;
	}
	if (p->want_writable) {
		p->want_writable = false;
		if (p->cb.writable)
			p->cb.writable(p, p->arg);
	}
}

size_t
azblob_put_write(struct azblob_put *p, const void *data, size_t n)
{
	size_t room;

	if (p->o.dead || p->o.finished || p->finishing ||
	    p->state == PUT_FAILED)
		return 0;
	if (p->state != PUT_FILLING) {
		p->want_writable = true;
		return 0;
	}
	if (n == 0)
		return 0;
	room = p->part.max - p->part.len;
	if (room == 0) {
		/* More is coming: the full part is not the last one. */
		p->want_writable = true;
		put_start_block(p);
		return 0;
	}
	if (n > room)
		n = room;
	buf_add(&p->part, data, n);
	if (EVP_DigestUpdate(p->md5all, data, n) != 1)
		die_oom();
	p->total += n;
	return n;
}

void
azblob_put_finish(struct azblob_put *p)
{
	if (p->o.dead || p->o.finished || p->finishing)
		return;
	p->finishing = true;
	if (p->state == PUT_FILLING)
		put_finish_step(p);
}

void
azblob_put_abort(struct azblob_put *p)
{
	if (p == NULL)
		return;
	/* Staged blocks are not a blob; the service drops them. */
	obj_kill(&p->o);
}

uint64_t
azblob_put_size(const struct azblob_put *p)
{
	return p->total;
}

const char *
azblob_put_md5(const struct azblob_put *p)
{
	return p->md5;
}

const char *
azblob_put_etag(const struct azblob_put *p)
{
	return p->etag;
}

unsigned
azblob_put_blocks(const struct azblob_put *p)
{
	return p->nblocks;
}

/* ---- download ------------------------------------------------------- */

static void get_send(struct azobj *o);
static void get_done(struct azobj *o, CURLcode res);

struct azblob_get *
azblob_get_new(struct azblob_client *c, const char *key, uint64_t offset,
    const struct azblob_get_cb *cb, void *arg)
{
	struct azblob_get *g = obj_new(c, sizeof(*g), AZ_GET, "get", key,
	    get_send, get_done);

	g->o.path = blob_path(c, key);
	g->cb = *cb;
	g->arg = arg;
	g->offset = offset;
	g->size = UINT64_MAX;
	if (offset == 0) {
		g->md5 = EVP_MD_CTX_new();
		if (g->md5 == NULL ||
		    EVP_DigestInit_ex(g->md5, EVP_md5(), NULL) != 1)
			die_oom();
	}
	schedule(&g->o, 0);
	return g;
}

static void
get_send(struct azobj *o)
{
	struct azblob_get *g = container_of(o, struct azblob_get, o);
	struct azspec s = { .method = "GET", .path = o->path };
	char range[64];
	uint64_t from = g->offset + g->got;

	if (g->size != UINT64_MAX && from >= g->size) {
		/* Cut after the last byte: nothing left to ask for. */
		obj_finish(o, true);
		return;
	}
	/* A whole read asks for no range: a blob of 0 bytes has none. */
	if (from > 0) {
		snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", from);
		spec_header(&s, "x-ms-range", range);
	}
	if (g->etag[0])
		spec_header(&s, "If-Match", g->etag);
	g->got_at_start = g->got;
	if (req_launch(o, &s) < 0)
		obj_finish(o, false);
}

/* The response headers of a 2xx: is this the piece we asked for? */
static bool
get_headers_check(struct azblob_get *g)
{
	struct azobj *o = &g->o;
	struct azreq *r = &o->r;
	uint64_t from = g->offset + g->got, a, b, total;

	if (r->status == 206) {
		if (sscanf(r->crange, "bytes %" SCNu64 "-%" SCNu64 "/%" SCNu64,
		    &a, &b, &total) != 3 || a != from) {
			snprintf(o->err, sizeof(o->err), "azure get %s: "
			    "unexpected Content-Range \"%s\"", o->key, r->crange);
			return false;
		}
	} else if (r->status == 200 && from == 0 && r->have_clen) {
		total = r->clen;
	} else {
		snprintf(o->err, sizeof(o->err), "azure get %s: unexpected "
		    "HTTP %ld", o->key, r->status);
		return false;
	}
	if (g->size != UINT64_MAX && total != g->size) {
		snprintf(o->err, sizeof(o->err), "azure get %s: the blob "
		    "changed size during the read", o->key);
		return false;
	}
	g->size = total;
	if (g->etag[0] == '\0')
		strlcpy0(g->etag, r->etag, sizeof(g->etag));
	if (r->status == 200 && r->md5[0])
		strlcpy0(g->want_md5, r->md5, sizeof(g->want_md5));
	return true;
}

static size_t
get_data(struct azblob_get *g, char *data, size_t n)
{
	struct azobj *o = &g->o;
	bool more;

	if (g->paused) {
		/* curl keeps the bytes and hands them again after resume. */
		g->curl_paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (g->md5 && EVP_DigestUpdate(g->md5, data, n) != 1)
		die_oom();
	g->got += n;
	o->c->stats.bytes_down += n;
	more = g->cb.data(g, data, n, g->arg);
	if (o->dead)
		return 0;
	if (!more)
		g->paused = true;
	return n;
}

/* A final failure that no retry can mend (o->err says why). */
static void
get_fail(struct azobj *o)
{
	o->c->stats.request_errors++;
	obj_finish(o, false);
}

static void
get_done(struct azobj *o, CURLcode res)
{
	struct azblob_get *g = container_of(o, struct azblob_get, o);
	struct azreq *r = &o->r;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	char md5[MD5_B64_LEN];

	g->curl_paused = false;
	if (res == CURLE_OK && is_success(r->status) && g->size != UINT64_MAX &&
	    g->offset + g->got < g->size)
		res = CURLE_PARTIAL_FILE;	/* ended early, yet cleanly */
	if (res != CURLE_OK || !is_success(r->status)) {
		if (r->bad_response) {
			get_fail(o);
			return;
		}
		if (res == CURLE_OK && r->status == 412) {
			snprintf(o->err, sizeof(o->err), "azure get %s: the blob "
			    "was replaced during the read", o->key);
			get_fail(o);
			return;
		}
		/* Progress since the last attempt: the budget starts over. */
		if (g->got > g->got_at_start) {
			r->tries = 0;
			g->resumes++;
		}
		if (!maybe_retry(o, res))
			obj_finish(o, false);
		return;
	}
	if (g->md5 && g->want_md5[0]) {
		if (EVP_DigestFinal_ex(g->md5, d, &dn) != 1)
			die_oom();
		md5_b64(d, dn, md5);
		if (strcmp(md5, g->want_md5) != 0) {
			snprintf(o->err, sizeof(o->err), "azure get %s: the MD5 "
			    "of the bytes read (%s) is not the blob's (%s)",
			    o->key, md5, g->want_md5);
			get_fail(o);
			return;
		}
	}
	obj_finish(o, true);
}

void
azblob_get_resume(struct azblob_get *g)
{
	if (g->o.dead || g->o.finished || !g->paused)
		return;
	g->paused = false;
	if (g->curl_paused) {
		/* From the loop, not from whatever callback we are in. */
		g->curl_paused = false;
		g->o.r.unpause = true;
		schedule(&g->o, 0);
	}
}

void
azblob_get_cancel(struct azblob_get *g)
{
	if (g)
		obj_kill(&g->o);
}

uint64_t
azblob_get_size(const struct azblob_get *g)
{
	return g->size;
}

unsigned
azblob_get_resumes(const struct azblob_get *g)
{
	return g->resumes;
}

/* ---- delete --------------------------------------------------------- */

static void
del_send(struct azobj *o)
{
	struct azspec s = { .method = "DELETE", .path = o->path };

	if (o->err[0]) {		/* refused by azblob_delete() */
		obj_finish(o, false);
		return;
	}
	spec_header(&s, "x-ms-delete-snapshots", "include");
	if (req_launch(o, &s) < 0)
		obj_finish(o, false);
}

static void
del_done(struct azobj *o, CURLcode res)
{
	struct azreq *r = &o->r;

	if (res == CURLE_OK && (r->status == 202 || r->status == 200)) {
		obj_finish(o, true);
		return;
	}
	/* Already gone is what was asked for; a missing container is not. */
	if (res == CURLE_OK && r->status == 404) {
		describe_failure(o, res);
		if (strcmp(r->errcode, "ContainerNotFound") != 0 &&
		    strstr(o->err, "ContainerNotFound") == NULL) {
			o->err[0] = '\0';
			obj_finish(o, true);
			return;
		}
	}
	if (!maybe_retry(o, res))
		obj_finish(o, false);
}

struct azblob_del *
azblob_delete(struct azblob_client *c, const char *key,
    const struct azblob_del_cb *cb, void *arg)
{
	struct azblob_del *d = obj_new(c, sizeof(*d), AZ_DEL, "delete", key,
	    del_send, del_done);

	d->o.path = blob_path(c, key);
	if (cb)
		d->cb = *cb;
	d->arg = arg;
	if (key == NULL || *key == '\0')
		snprintf(d->o.err, sizeof(d->o.err),
		    "azure: a blob name must have 1-1024 characters");
	schedule(&d->o, 0);
	return d;
}

void
azblob_delete_cancel(struct azblob_del *d)
{
	if (d)
		obj_kill(&d->o);
}

/* ---- list ----------------------------------------------------------- */

static void
list_send(struct azobj *o)
{
	struct azblob_list *l = container_of(o, struct azblob_list, o);
	struct azspec s = { .method = "GET", .path = o->c->cpath,
	    .body_max = LIST_BODY_MAX };
	char max[16];

	snprintf(max, sizeof(max), "%u", o->c->page_size);
	spec_query(&s, "restype", "container");
	spec_query(&s, "comp", "list");
	if (o->key[0])
		spec_query(&s, "prefix", o->key);
	spec_query(&s, "maxresults", max);
	if (l->marker)
		spec_query(&s, "marker", l->marker);
	if (req_launch(o, &s) < 0)
		obj_finish(o, false);
}

static void
list_item(const char *name, uint64_t size, int64_t mtime, void *arg)
{
	struct azblob_list *l = arg;

	/* Cancelled from an earlier item: the rest is dropped. */
	if (!l->o.dead)
		l->cb.item(l, name, size, mtime, l->arg);
}

static void
list_done(struct azobj *o, CURLcode res)
{
	struct azblob_list *l = container_of(o, struct azblob_list, o);
	struct azreq *r = &o->r;
	char *next = NULL;

	if (res != CURLE_OK || !is_success(r->status)) {
		if (!maybe_retry(o, res))
			obj_finish(o, false);
		return;
	}
	req_detach(o);
	l->pages++;
	if (azblob_parse_list(r->body.data, r->body.len, list_item, l,
	    &next) < 0) {
		snprintf(o->err, sizeof(o->err), "azure list %s: the response "
		    "is not a blob listing", o->key);
		obj_finish(o, false);
		return;
	}
	if (o->dead) {
		free(next);
		return;
	}
	free(l->marker);
	l->marker = next;
	if (next == NULL) {
		obj_finish(o, true);
		return;
	}
	r->tries = 0;
	schedule(o, 0);
}

struct azblob_list *
azblob_list(struct azblob_client *c, const char *prefix,
    const struct azblob_list_cb *cb, void *arg)
{
	struct azblob_list *l = obj_new(c, sizeof(*l), AZ_LIST, "list",
	    prefix, list_send, list_done);

	l->cb = *cb;
	l->arg = arg;
	schedule(&l->o, 0);
	return l;
}

void
azblob_list_cancel(struct azblob_list *l)
{
	if (l)
		obj_kill(&l->o);
}

unsigned
azblob_list_pages(const struct azblob_list *l)
{
	return l->pages;
}
