/*
 * azblob.c: the pure parts of the Azure Blob client (part sizes within
 * the service's limits, block ids, error bodies, listings, dates,
 * redaction, endpoints, credentials from a Secret's keys), then the
 * client against a small fake service on loopback: signed requests that
 * verify, list paging with markers, a paused and resumed download, a
 * retry after 503, the service's error message, an MD5 mismatch, a SAS
 * in place of the key.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <ev.h>
#include <openssl/evp.h>

#include "azblob.h"
#include "azsign.h"
#include "buf.h"
#include "curlev.h"
#include "httpd.h"
#include "log.h"
#include "tap.h"
#include "util.h"

#define MiB ((uint64_t)1 << 20)
#define KEY_B64 "c2VjcmV0LWtleS1mb3ItdGhlLXVuaXQtdGVzdHMtb25seQ=="
#define SAS "sv=2021-12-02&ss=b&srt=co&sp=rl&se=2030-01-01T00:00:00Z&sig=U0FTc2lnbmF0dXJl%2B%3D"

/* ---- part sizes ---- */

static void
test_part_size(void)
{
	uint64_t p, sum;
	unsigned i;
	int64_t hints[] = { 1, 100 * (int64_t)MiB, 390 * 1024 * (int64_t)MiB,
	    1024 * 1024 * (int64_t)MiB, 10LL * 1024 * 1024 * (int64_t)MiB,
	    190LL * 1024 * 1024 * (int64_t)MiB };
	bool all = true, mult = true;

	is_int(azblob_part_size(0, -1, 0), 8 * MiB, "default part 8 MiB");
	is_int(azblob_part_size(1000, -1, 0), 64 * 1024,
	    "tiny parts are raised to 64 KiB");
	is_int(azblob_part_size(100000, -1, 0), 128 * 1024,
	    "parts are whole multiples of 64 KiB");
	is_int(azblob_part_size(0, -1, AZBLOB_GROW_EVERY - 1), 8 * MiB,
	    "no growth before block 10000");
	is_int(azblob_part_size(0, -1, AZBLOB_GROW_EVERY), 16 * MiB,
	    "doubles at block 10000");
	is_int(azblob_part_size(0, -1, 4 * AZBLOB_GROW_EVERY), 128 * MiB,
	    "x16 at block 40000");
	is_int(azblob_part_size(3000 * MiB, -1, 4 * AZBLOB_GROW_EVERY),
	    AZBLOB_MAX_BLOCK_SIZE, "never above the block size limit");
	is_int(azblob_part_size(0, 1000 * 1024 * (int64_t)MiB, 0),
	    ((1000 * 1024 * MiB / AZBLOB_MAX_BLOCKS) + 65535) / 65536 * 65536,
	    "a 1000 GiB hint raises the part so 50000 blocks hold it");
	is_int(azblob_part_size(0, 10 * (int64_t)MiB, 0), 8 * MiB,
	    "a small hint keeps the configured part");
	is_int(azblob_part_size(0, INT64_MAX, 0), AZBLOB_MAX_BLOCK_SIZE,
	    "an absurd hint stops at the block size limit");

	/* Whatever the hint, 50000 blocks hold it; without one, > 2 TiB. */
	for (i = 0; i < ARRAY_SIZE(hints); i++) {
		unsigned b;

		sum = 0;
		for (b = 0; b < AZBLOB_MAX_BLOCKS; b++) {
			p = azblob_part_size(0, hints[i], b);
			if (p % 65536 != 0)
				mult = false;
			sum += p;
		}
		if (sum < (uint64_t)hints[i]) {
			all = false;
			diag("hint %" PRId64 ": 50000 blocks hold %" PRIu64,
			    hints[i], sum);
		}
	}
	ok(all, "50000 blocks hold the hinted size, up to 190 TiB");
	ok(mult, "every size a multiple of 64 KiB");
	sum = 0;
	for (i = 0; i < AZBLOB_MAX_BLOCKS; i++)
		sum += azblob_part_size(0, -1, i);
	ok(sum > 2 * 1024 * 1024 * MiB, "an unknown size may reach 2 TiB");
}

/* ---- block ids ---- */

static void
test_block_id(void)
{
	char a[AZBLOB_BLOCKID_LEN], b[AZBLOB_BLOCKID_LEN], c[AZBLOB_BLOCKID_LEN];
	unsigned char raw[40];
	int n;

	azblob_block_id(0x0123456789abcdefULL, 0, a);
	azblob_block_id(0x0123456789abcdefULL, 49999, b);
	azblob_block_id(0x0123456789abcdeeULL, 0, c);
	is_int(strlen(a), 32, "32 characters");
	is_int(strlen(b), strlen(a), "every id of a blob has the same length");
	ok(strcmp(a, b) != 0 && strcmp(a, c) != 0,
	    "distinct per block and per upload");
	ok(strchr(a, '=') == NULL, "no padding");
	n = EVP_DecodeBlock(raw, (const unsigned char *)b, 32);
	is_int(n, 24, "decodes to 24 bytes");
	raw[24] = '\0';
	is_str((char *)raw, "0123456789abcdef00049999", "nonce and index");
}

/* ---- errors ---- */

static void
test_errors(void)
{
	char out[256];
	const char *auth =
	    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><Error>"
	    "<Code>AuthenticationFailed</Code><Message>Server failed to "
	    "authenticate the request. Make sure the value of Authorization "
	    "header is formed correctly including the signature.\n"
	    "RequestId:1234\nTime:2026-01-01T00:00:00.0000000Z</Message>"
	    "<AuthenticationErrorDetail>The MAC signature found in the HTTP "
	    "request 'SIGNATURE' is not the same as any computed signature. "
	    "Server used following string to sign: 'GET...'."
	    "</AuthenticationErrorDetail></Error>";
	const char *ent = "<Error><Code>InvalidBlockList</Code><Message>"
	    "The list &lt;is&gt; &amp; &#233;&#x263A;</Message></Error>";

	azblob_error_message(403, "AuthenticationFailed", auth, strlen(auth),
	    out, sizeof(out));
	is_str(out, "Azure AuthenticationFailed: Server failed to authenticate "
	    "the request. Make sure the value of Authorization header is formed "
	    "correctly including the signature.", "code and first line");
	ok(strstr(out, "SIGNATURE") == NULL && strstr(out, "RequestId") == NULL,
	    "no signature detail, no request id");
	azblob_error_message(400, NULL, ent, strlen(ent), out, sizeof(out));
	is_str(out, "Azure InvalidBlockList: The list <is> & \xC3\xA9\xE2\x98\xBA",
	    "entities decoded");
	azblob_error_message(404, "BlobNotFound", "", 0, out, sizeof(out));
	is_str(out, "Azure BlobNotFound (HTTP 404)", "header code only (HEAD)");
	azblob_error_message(502, NULL, "<html>bad gateway</html>", 24, out,
	    sizeof(out));
	is_str(out, "Azure HTTP 502", "neither: the status");
	azblob_error_message(403, NULL, auth, strlen(auth), out, 16);
	is_str(out, "Azure Authentic", "truncated to the buffer");
}

/* ---- listings ---- */

struct seen {
	char names[8][64];
	uint64_t sizes[8];
	int64_t mtimes[8];
	int n;
};

static void
collect(const char *name, uint64_t size, int64_t mtime, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		strlcpy0(s->names[s->n], name, sizeof(s->names[0]));
		s->sizes[s->n] = size;
		s->mtimes[s->n] = mtime;
	}
	s->n++;
}

static void
test_list(void)
{
	const char *page =
	    "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	    "<EnumerationResults ServiceEndpoint=\"http://x/acct\" "
	    "ContainerName=\"bkp\"><Prefix>db/</Prefix><MaxResults>3"
	    "</MaxResults><Blobs><Blob><Name>db/a&amp;b.dump</Name>"
	    "<Properties><Creation-Time>Mon, 01 Jan 2024 00:00:00 GMT"
	    "</Creation-Time><Last-Modified>Tue, 02 Jan 2024 03:04:05 GMT"
	    "</Last-Modified><Etag>0x1</Etag><Content-Length>12345"
	    "</Content-Length><BlobType>BlockBlob</BlobType></Properties>"
	    "<OrMetadata /></Blob>"
	    "<Blob><Name Encoded=\"true\">db/%EF%BF%BEx</Name><Properties>"
	    "<Content-Length>0</Content-Length></Properties></Blob>"
	    "<Blob><Name>db/z</Name><Properties><Last-Modified>garbage"
	    "</Last-Modified><Content-Length>99999999999</Content-Length>"
	    "</Properties></Blob></Blobs>"
	    "<NextMarker>2!72!MDAwMDA0IWRiL3ohMDAwMDI4ITk5OTktMTItMzFUMjM6NTk6NTkuOTk5OTk5OVoh</NextMarker>"
	    "</EnumerationResults>";
	const char *last = "<?xml version=\"1.0\"?><EnumerationResults>"
	    "<Blobs /><NextMarker /></EnumerationResults>";
	struct seen s;
	char *next = NULL;

	memset(&s, 0, sizeof(s));
	is_int(azblob_parse_list(page, strlen(page), collect, &s, &next), 3,
	    "three blobs");
	is_str(s.names[0], "db/a&b.dump", "name decoded");
	is_int(s.sizes[0], 12345, "its size");
	is_int(s.mtimes[0], 1704164645, "its Last-Modified");
	is_str(s.names[1], "db/\xEF\xBF\xBEx", "an Encoded=\"true\" name");
	is_int(s.mtimes[1], -1, "no Last-Modified: -1");
	is_int(s.sizes[2], 99999999999ULL, "sizes above 4 GiB");
	is_int(s.mtimes[2], -1, "an unreadable date: -1");
	is_str(next, "2!72!MDAwMDA0IWRiL3ohMDAwMDI4ITk5OTktMTItMzFUMjM6NTk6NTkuOTk5OTk5OVoh",
	    "the next marker");
	free(next);
	memset(&s, 0, sizeof(s));
	is_int(azblob_parse_list(last, strlen(last), collect, &s, &next), 0,
	    "an empty last page");
	ok(next == NULL, "an empty NextMarker ends the listing");
	is_int(azblob_parse_list("<Error><Code>X</Code></Error>", 29, collect,
	    &s, &next), -1, "an error body is not a listing");
	is_int(azblob_parse_list("<EnumerationResults><Blobs><Blob><Name>x",
	    40, collect, &s, &next), -1,
	    "a truncated body is not a listing (never a last page)");
}

static void
test_dates(void)
{
	is_int(azblob_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
	    784111777, "RFC 1123");
	is_int(azblob_parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0,
	    "the epoch");
	is_int(azblob_parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT"),
	    1835481599, "a leap day");
	is_int(azblob_parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"), -1,
	    "bad month");
	is_int(azblob_parse_http_date("1994-11-06T08:49:37Z"), -1, "not RFC 1123");
	is_int(azblob_parse_http_date(""), -1, "empty");
}

static void
test_redact(void)
{
	char out[512];

	azblob_redact("Authorization: SharedKey acct:c2lnbmF0dXJl", out,
	    sizeof(out));
	is_str(out, "Authorization: [REDACTED]", "the Authorization value");
	azblob_redact("authorization:SharedKey acct:x", out, sizeof(out));
	ok(strstr(out, "acct:x") == NULL, "any case, no space");
	azblob_redact("GET /acct/bkp/b?comp=list&sv=2021&sig=abc%2B%3D&se=1 "
	    "HTTP/1.1", out, sizeof(out));
	is_str(out, "GET /acct/bkp/b?comp=list&sv=2021&sig=[REDACTED]&se=1 "
	    "HTTP/1.1", "the SAS signature in a request line");
	azblob_redact("PUT /a/b?sig=zzz HTTP/1.1", out, sizeof(out));
	is_str(out, "PUT /a/b?sig=[REDACTED] HTTP/1.1", "sig first");
	azblob_redact("Issue another request to this URL: 'http://h/a?sv=1&"
	    "sig=abc'", out, sizeof(out));
	is_str(out, "Issue another request to this URL: 'http://h/a?sv=1&"
	    "sig=[REDACTED]'", "a quoted URL in curl's own messages");
	azblob_redact("x-ms-version: 2021-12-02", out, sizeof(out));
	is_str(out, "x-ms-version: 2021-12-02", "other lines as they are");
	azblob_redact("GET /a?designated=1 HTTP/1.1", out, sizeof(out));
	is_str(out, "GET /a?designated=1 HTTP/1.1", "only a parameter named sig");
}

static void
test_endpoint(void)
{
	char *b = NULL, *p = NULL, err[256];

	ok(azblob_endpoint_split("http://127.0.0.1:10000/acct/", &b, &p, err,
	    sizeof(err)) == 0, "path-style endpoint");
	is_str(b, "http://127.0.0.1:10000", "base");
	is_str(p, "/acct", "path without its trailing slash");
	free(b);
	free(p);
	ok(azblob_endpoint_split("HTTPS://acct.blob.core.windows.net", &b, &p,
	    err, sizeof(err)) == 0, "host-style endpoint");
	is_str(b, "https://acct.blob.core.windows.net", "scheme lower-cased");
	is_str(p, "", "no path");
	free(b);
	free(p);
	ok(azblob_endpoint_split("ftp://x", &b, &p, err, sizeof(err)) < 0 &&
	    b == NULL, "not http");
	ok(azblob_endpoint_split("https://x/?sv=1", &b, &p, err,
	    sizeof(err)) < 0, "a query");
	ok(azblob_endpoint_split("https://u:pw@x/", &b, &p, err,
	    sizeof(err)) < 0 && strstr(err, "pw") == NULL, "user info");
	ok(azblob_endpoint_split("https:///a", &b, &p, err, sizeof(err)) < 0,
	    "no host");
}

/* ---- credentials ---- */

struct env {
	const char *kv[16];
};

static const char *
env_get(const char *name, void *arg)
{
	struct env *e = arg;
	size_t i;

	for (i = 0; e->kv[i]; i += 2)
		if (strcmp(e->kv[i], name) == 0)
			return e->kv[i + 1];
	return NULL;
}

static void
test_creds(void)
{
	struct azblob_creds c;
	char err[256];
	struct env cs = { { "AZURE_STORAGE_CONNECTION_STRING",
	    "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey="
	    KEY_B64 ";BlobEndpoint=http://127.0.0.1:10000/acct/;", NULL } };
	struct env cs_sas = { { "AZURE_STORAGE_CONNECTION_STRING",
	    "BlobEndpoint=https://acct.blob.core.windows.net;"
	    "SharedAccessSignature=" SAS, "key", KEY_B64, NULL } };
	struct env keys = { { "storageAccountKey", "c2Vjb25k", "key", "dGhpcmQ=",
	    "AZURE_STORAGE_ACCOUNT", "fromenv", NULL } };
	struct env sas = { { "AZURE_STORAGE_SAS_TOKEN", "?" SAS, NULL } };
	struct env none = { { "AZURE_STORAGE_ACCOUNT_KEY", "", NULL } };
	struct env badsas = { { "AZURE_STORAGE_SAS_TOKEN", "sig=a b", NULL } };
	struct env badcs = { { "AZURE_STORAGE_CONNECTION_STRING",
	    "AccountName=acct;AccountKey=" KEY_B64 ";AccountKey=" KEY_B64,
	    NULL } };

	ok(azblob_creds_resolve(&c, NULL, NULL, env_get, &cs, err,
	    sizeof(err)) == 0, "a connection string alone is enough");
	is_str(c.account, "acct", "its account");
	is_str(c.account_key, KEY_B64, "its key");
	is_str(c.endpoint, "http://127.0.0.1:10000/acct", "its BlobEndpoint");
	ok(c.sas == NULL, "no SAS");
	azblob_creds_release(&c);
	ok(azblob_creds_resolve(&c, "acct", NULL, env_get, &cs, err,
	    sizeof(err)) == 0, "the same account as configured");
	azblob_creds_release(&c);
	ok(azblob_creds_resolve(&c, "other", NULL, env_get, &cs, err,
	    sizeof(err)) < 0, "another account than configured is refused");
	ok(strstr(err, "other") && strstr(err, KEY_B64) == NULL,
	    "the message names the accounts, not the key");
	ok(azblob_creds_resolve(&c, NULL, "http://x", env_get, &cs, err,
	    sizeof(err)) < 0 && c.account_key == NULL,
	    "an endpoint beside a connection string is refused");
	ok(azblob_creds_resolve(&c, "acct", NULL, env_get, &cs_sas, err,
	    sizeof(err)) == 0, "a SAS connection string");
	is_str(c.sas, SAS, "its SAS (wins over a loose key)");
	ok(c.account_key == NULL, "no key");
	is_str(c.account, "acct", "the configured account kept");
	is_str(c.endpoint, "https://acct.blob.core.windows.net", "endpoint");
	azblob_creds_release(&c);
	ok(azblob_creds_resolve(&c, NULL, NULL, env_get, &badcs, err,
	    sizeof(err)) < 0 && strstr(err, "twice") &&
	    strstr(err, KEY_B64) == NULL, "a bad connection string, no secret");

	ok(azblob_creds_resolve(&c, "acct", NULL, env_get, &keys, err,
	    sizeof(err)) == 0, "account key keys");
	is_str(c.account_key, "c2Vjb25k", "the first present in spec order");
	is_str(c.account, "acct", "the configured account");
	is_str(c.endpoint, "https://acct.blob.core.windows.net",
	    "the public endpoint");
	azblob_creds_release(&c);
	ok(azblob_creds_resolve(&c, NULL, NULL, env_get, &keys, err,
	    sizeof(err)) == 0, "account from AZURE_STORAGE_ACCOUNT");
	is_str(c.account, "fromenv", "that account");
	azblob_creds_release(&c);

	ok(azblob_creds_resolve(&c, NULL, "http://127.0.0.1:1/acct", env_get,
	    &sas, err, sizeof(err)) == 0, "a SAS token with an endpoint");
	is_str(c.sas, SAS, "the leading '?' dropped");
	ok(c.account == NULL && c.account_key == NULL, "no account needed");
	azblob_creds_release(&c);
	ok(azblob_creds_resolve(&c, NULL, NULL, env_get, &sas, err,
	    sizeof(err)) < 0, "a SAS without account or endpoint");
	ok(azblob_creds_resolve(&c, "acct", NULL, env_get, &none, err,
	    sizeof(err)) < 0 && strstr(err, "no credentials"),
	    "empty values are absent");
	ok(azblob_creds_resolve(&c, "acct", NULL, env_get, &badsas, err,
	    sizeof(err)) < 0 && strstr(err, "sig=") == NULL,
	    "a SAS with a space, not quoted");
}

/* ---- the client against a fake service ---- */

static struct ev_loop *loop;
static struct curlev *multi;
static struct azsign_key skey;
static int pending;
static int fail503;		/* answer the next n requests with 503 */
static int requests, bad_sigs, authless, sas_seen;
static const char *blob_md5;	/* Content-MD5 the fake sends */
static char content[200000];
static size_t content_len = 1000;

static void
stop_when_idle(void)
{
	if (--pending == 0)
		ev_break(loop, EVBREAK_ALL);
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ?
	    c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static char *
unescape(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *w = out;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			*w++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*w++ = s[i];
		}
	}
	*w = '\0';
	return out;
}

/* Checks the request's Shared Key signature as the service would. */
static void
check_signature(const struct httpd_req *req)
{
	struct azsign_kv q[16], h[HTTPD_MAX_HEADERS];
	size_t nq = 0, nh = 0, i;
	struct azsign_req sr;
	const char *auth = httpd_req_header(req, "Authorization");
	char *mine = NULL, err[128];
	const char *p = req->query;

	requests++;
	if (auth == NULL) {
		authless++;
		if (p && strstr(p, "sig=U0FTc2lnbmF0dXJl%2B%3D"))
			sas_seen++;
		return;
	}
	while (p && *p && nq < 16) {
		const char *amp = strchr(p, '&'), *eq;
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		eq = memchr(p, '=', n);
		q[nq].name = unescape(p, eq ? (size_t)(eq - p) : n);
		q[nq].value = eq ? unescape(eq + 1, n - (size_t)(eq + 1 - p)) :
		    xstrdup("");
		nq++;
		p = amp ? amp + 1 : NULL;
	}
	for (i = 0; i < req->nheaders; i++) {
		h[nh].name = req->headers[i].name;
		h[nh].value = req->headers[i].value;
		nh++;
	}
	memset(&sr, 0, sizeof(sr));
	sr.method = req->method;
	sr.path = req->path;
	sr.query = q;
	sr.nquery = nq;
	sr.headers = h;
	sr.nheaders = nh;
	if (azsign_sign(&skey, &sr, &mine, NULL, err, sizeof(err)) < 0 ||
	    strcmp(mine, auth) != 0)
		bad_sigs++;
	free(mine);
	for (i = 0; i < nq; i++) {
		free((char *)q[i].name);
		free((char *)q[i].value);
	}
}

static void
answer_busy(struct httpd_resp *resp)
{
	resp->status = 503;
	strlcpy0(resp->extra_headers, "x-ms-error-code: ServerBusy\r\n",
	    sizeof(resp->extra_headers));
	if (buf_puts(&resp->body, "<?xml version=\"1.0\"?><Error><Code>"
	    "ServerBusy</Code><Message>Busy.\nRequestId:1</Message></Error>") < 0)
		abort();
}

static void
list_handler(const struct httpd_req *req, struct httpd_resp *resp, void *arg)
{
	(void)arg;
	check_signature(req);
	if (fail503 > 0) {
		fail503--;
		answer_busy(resp);
		return;
	}
	resp->status = 200;
	strlcpy0(resp->content_type, "application/xml",
	    sizeof(resp->content_type));
	/* Page 1 hands out marker "m 2" (a space: escaped in the URL). */
	if (req->query && strstr(req->query, "marker=m%202")) {
		if (buf_puts(&resp->body, "<EnumerationResults><Blobs><Blob>"
		    "<Name>p/c</Name><Properties><Content-Length>3"
		    "</Content-Length></Properties></Blob></Blobs><NextMarker/>"
		    "</EnumerationResults>") < 0)
			abort();
	} else if (req->query && strstr(req->query, "prefix=p%2F") &&
	    strstr(req->query, "maxresults=2") &&
	    strstr(req->query, "restype=container") &&
	    strstr(req->query, "comp=list")) {
		if (buf_puts(&resp->body, "<EnumerationResults><Blobs><Blob>"
		    "<Name>p/a</Name><Properties><Content-Length>1"
		    "</Content-Length></Properties></Blob><Blob><Name>p/b</Name>"
		    "<Properties><Content-Length>2</Content-Length></Properties>"
		    "</Blob></Blobs><NextMarker>m 2</NextMarker>"
		    "</EnumerationResults>") < 0)
			abort();
	} else {
		resp->status = 400;
	}
}

static void
blob_handler(const struct httpd_req *req, struct httpd_resp *resp, void *arg)
{
	const char *range = httpd_req_header(req, "x-ms-range");
	size_t from = 0;

	(void)arg;
	check_signature(req);
	if (fail503 > 0) {
		fail503--;
		answer_busy(resp);
		return;
	}
	if (range && sscanf(range, "bytes=%zu-", &from) != 1)
		from = content_len + 1;
	if (from > content_len) {
		resp->status = 416;
		return;
	}
	if (range) {
		resp->status = 206;
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "Content-Range: bytes %zu-%zu/%zu\r\nETag: \"0x1\"\r\n", from,
		    content_len - 1, content_len);
	} else {
		resp->status = 200;
		snprintf(resp->extra_headers, sizeof(resp->extra_headers),
		    "ETag: \"0x1\"\r\n%s%s%s", blob_md5 ? "Content-MD5: " : "",
		    blob_md5 ? blob_md5 : "", blob_md5 ? "\r\n" : "");
	}
	if (buf_append(&resp->body, content + from, content_len - from) < 0)
		abort();
}

static void
denied_handler(const struct httpd_req *req, struct httpd_resp *resp,
    void *arg)
{
	(void)arg;
	check_signature(req);
	resp->status = 403;
	strlcpy0(resp->extra_headers, "x-ms-error-code: AuthorizationFailure\r\n",
	    sizeof(resp->extra_headers));
	if (buf_puts(&resp->body, "<Error><Code>AuthorizationFailure</Code>"
	    "<Message>This request is not authorized to perform this "
	    "operation.\nRequestId:2</Message></Error>") < 0)
		abort();
}

struct listing {
	struct seen seen;
	bool done, ok;
	char err[256];
};

static void
on_item(struct azblob_list *l, const char *key, uint64_t size, int64_t mtime,
    void *arg)
{
	struct listing *t = arg;

	(void)l;
	collect(key, size, mtime, &t->seen);
}

static void
on_list_done(struct azblob_list *l, bool ok_, const char *err, void *arg)
{
	struct listing *t = arg;

	(void)l;
	t->done = true;
	t->ok = ok_;
	strlcpy0(t->err, err ? err : "", sizeof(t->err));
	stop_when_idle();
}

struct reader {
	struct buf got;
	bool done, ok;
	int calls, pauses;
	int pause_every;
	char err[256];
	struct azblob_get *g;
	ev_timer resume;
};

static void
resume_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	struct reader *r = container_of(w, struct reader, resume);

	(void)l;
	(void)revents;
	azblob_get_resume(r->g);
}

static bool
on_data(struct azblob_get *g, const void *p, size_t n, void *arg)
{
	struct reader *r = arg;

	(void)g;
	if (buf_append(&r->got, p, n) < 0)
		abort();
	r->calls++;
	if (r->pause_every && r->calls % r->pause_every == 0) {
		r->pauses++;
		ev_timer_set(&r->resume, 0.01, 0.);
		ev_timer_start(loop, &r->resume);
		return false;
	}
	return true;
}

static void
on_get_done(struct azblob_get *g, bool ok_, const char *err, void *arg)
{
	struct reader *r = arg;

	(void)g;
	r->done = true;
	r->ok = ok_;
	strlcpy0(r->err, err ? err : "", sizeof(r->err));
	ev_timer_stop(loop, &r->resume);
	stop_when_idle();
}

static void
deadline(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

static void
run(void)
{
	ev_timer t;

	ev_timer_init(&t, deadline, 20, 0.);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

static void
reader_init(struct reader *r, int pause_every)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->got, 0);
	r->pause_every = pause_every;
	ev_timer_init(&r->resume, resume_cb, 0., 0.);
}

static void
read_blob(struct azblob_client *c, const char *key, uint64_t off,
    struct reader *r)
{
	static const struct azblob_get_cb cb = { on_data, on_get_done };

	r->g = azblob_get_new(c, key, off, &cb, r);
	ok(!r->done, "nothing reports from inside azblob_get_new()");
	pending = 1;
	run();
}

static char *
md5_of(const void *p, size_t n)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dn = 0;
	char *out = xmalloc(25);

	EVP_Digest(p, n, d, &dn, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)out, d, (int)dn);
	return out;
}

static void
test_client(void)
{
	static const struct azblob_list_cb lcb = { on_item, on_list_done };
	struct httpd_config hc;
	struct httpd *s;
	struct azblob_config cfg;
	struct azblob_client *c, *cs;
	const struct azblob_stats *st;
	struct listing lt;
	struct reader rd;
	char err[256], endpoint[128], *md5;
	size_t i;

	memset(&hc, 0, sizeof(hc));
	hc.name = "fake";
	hc.host = "127.0.0.1";
	hc.max_out_bytes = 16 << 20;
	s = httpd_new(loop, &hc, err, sizeof(err));
	if (!ok(s != NULL, "a fake service on loopback")) {
		diag("%s", err);
		return;
	}
	httpd_route(s, "/acct/bkp", list_handler, NULL);
	httpd_route(s, "/acct/bkp/dir/blob%201", blob_handler, NULL);
	httpd_route(s, "/acct/bkp/denied", denied_handler, NULL);
	httpd_start(s);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d/acct/",
	    httpd_port(s));
	if (azsign_key_init(&skey, "acct", KEY_B64, err, sizeof(err)) < 0)
		abort();
	for (i = 0; i < sizeof(content); i++)
		content[i] = (char)(i * 7 + i / 251);

	memset(&cfg, 0, sizeof(cfg));
	cfg.endpoint = endpoint;
	cfg.account = "acct";
	cfg.account_key = "not base64!";
	cfg.container = "bkp";
	c = azblob_client_new(multi, &cfg, err, sizeof(err));
	ok(c == NULL && strstr(err, "base64") && strstr(err, "not base64") ==
	    NULL, "a key that is not base64 is refused, not quoted");
	cfg.account_key = KEY_B64;
	cfg.container = "Bad_Name";
	ok(azblob_client_new(multi, &cfg, err, sizeof(err)) == NULL,
	    "an invalid container name is refused");
	cfg.container = "bkp";
	cfg.endpoint = "ftp://x";
	ok(azblob_client_new(multi, &cfg, err, sizeof(err)) == NULL,
	    "an endpoint that is not http(s) is refused");
	cfg.endpoint = endpoint;
	cfg.page_size = 2;
	cfg.retry_delay = 0.01;
	c = azblob_client_new(multi, &cfg, err, sizeof(err));
	if (!ok(c != NULL, "a client")) {
		diag("%s", err);
		return;
	}
	st = azblob_client_stats(c);

	/* two pages, the marker carried over */
	memset(&lt, 0, sizeof(lt));
	azblob_list(c, "p/", &lcb, &lt);
	pending = 1;
	run();
	ok(lt.done && lt.ok, "the listing ends well");
	is_int(lt.seen.n, 3, "three blobs over two pages");
	ok(strcmp(lt.seen.names[0], "p/a") == 0 &&
	    strcmp(lt.seen.names[2], "p/c") == 0 && lt.seen.sizes[2] == 3,
	    "in order, with sizes");
	is_int(bad_sigs, 0, "every request carries a valid Shared Key signature");
	is_int(requests, 2, "one request a page");

	/* a download, paused by its consumer every 2 chunks */
	content_len = sizeof(content);
	md5 = md5_of(content, content_len);
	blob_md5 = md5;
	reader_init(&rd, 2);
	read_blob(c, "dir/blob 1", 0, &rd);
	ok(rd.done && rd.ok, "the whole blob is read");
	if (!rd.ok)
		diag("%s", rd.err);
	ok(rd.got.len == content_len &&
	    memcmp(rd.got.data, content, content_len) == 0, "byte for byte");
	ok(rd.pauses > 0, "with pauses on the way");
	is_int(st->bytes_down, content_len, "bytes down counted");
	buf_release(&rd.got);

	/* from an offset */
	reader_init(&rd, 0);
	read_blob(c, "dir/blob 1", 150000, &rd);
	ok(rd.ok && rd.got.len == content_len - 150000 &&
	    memcmp(rd.got.data, content + 150000, rd.got.len) == 0,
	    "a read from an offset gets the tail");
	buf_release(&rd.got);

	/* the blob's MD5 does not match what came */
	blob_md5 = "AAAAAAAAAAAAAAAAAAAAAA==";
	reader_init(&rd, 0);
	read_blob(c, "dir/blob 1", 0, &rd);
	ok(rd.done && !rd.ok && strstr(rd.err, "MD5"),
	    "an MD5 mismatch fails the read");
	diag("%s", rd.err);
	buf_release(&rd.got);
	blob_md5 = md5;

	/* busy twice, then it answers */
	fail503 = 2;
	reader_init(&rd, 0);
	read_blob(c, "dir/blob 1", 0, &rd);
	ok(rd.ok && rd.got.len == content_len, "503 twice, then read");
	is_int(st->retries, 2, "two retries counted");
	buf_release(&rd.got);

	/* busy for good */
	fail503 = 100;
	reader_init(&rd, 0);
	read_blob(c, "dir/blob 1", 0, &rd);
	ok(rd.done && !rd.ok, "always busy: fails");
	is_str(rd.err, "Azure ServerBusy: Busy. (5 tries)",
	    "with the service's error and the number of tries");
	fail503 = 0;
	buf_release(&rd.got);

	/* the service refuses */
	reader_init(&rd, 0);
	read_blob(c, "denied", 0, &rd);
	is_str(rd.err, "Azure AuthorizationFailure: This request is not "
	    "authorized to perform this operation.", "the service's refusal");
	buf_release(&rd.got);

	/* a cancelled read reports nothing */
	reader_init(&rd, 0);
	rd.g = azblob_get_new(c, "dir/blob 1", 0,
	    &(struct azblob_get_cb){ on_data, on_get_done }, &rd);
	azblob_get_cancel(rd.g);
	pending = 1;
	{
		ev_timer t;

		ev_timer_init(&t, deadline, 0.2, 0.);
		ev_timer_start(loop, &t);
		ev_run(loop, 0);
		ev_timer_stop(loop, &t);
	}
	ok(!rd.done && rd.got.len == 0, "a cancelled read never reports");
	buf_release(&rd.got);
	is_int(bad_sigs, 0, "still every signature valid");
	is_int(authless, 0, "and every request signed");
	free(md5);
	blob_md5 = NULL;

	/* SAS instead of the key */
	cfg.account_key = NULL;
	cfg.sas = "?" SAS;
	cs = azblob_client_new(multi, &cfg, err, sizeof(err));
	ok(cs != NULL, "a SAS client");
	reader_init(&rd, 0);
	read_blob(cs, "dir/blob 1", 0, &rd);
	ok(rd.ok && rd.got.len == content_len, "reads with a SAS");
	ok(authless == 1 && sas_seen == 1,
	    "no Authorization header, the SAS in the query");
	buf_release(&rd.got);

	/* freeing a client with a request in flight */
	reader_init(&rd, 0);
	azblob_get_new(cs, "dir/blob 1", 0,
	    &(struct azblob_get_cb){ on_data, on_get_done }, &rd);
	azblob_client_free(cs);
	ok(!rd.done, "freeing the client stops its operations silently");
	buf_release(&rd.got);

	azblob_client_free(c);
	httpd_free(s);
	azsign_key_release(&skey);
}

int
main(void)
{
	log_set_level(LOG_ERROR);
	test_part_size();
	test_block_id();
	test_errors();
	test_list();
	test_dates();
	test_redact();
	test_endpoint();
	test_creds();

	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = ev_loop_new(EVFLAG_AUTO);
	multi = curlev_new(loop);
	test_client();
	curlev_free(multi);
	ev_loop_destroy(loop);
	curl_global_cleanup();
	return done_testing();
}
