/*
 * gcs.c: the Google Cloud Storage client's pure parts (names in URLs, the
 * endpoint and its emulator variable, part sizes, Content-Range and Range,
 * error, object and list answers, CRC-32C and the base64 forms, the
 * redaction of traces, the session URI's origin check), then the client
 * on a loop against a closed port: configuration errors, a refused token
 * endpoint failing every waiting request, retries of a download, and an
 * upload aborted before it sent anything.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <ev.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "curlev.h"
#include "gcs.h"
#include "json.h"
#include "tap.h"
#include "util.h"

static char err[512];

/* ---- names, endpoint, sizes, ranges ---- */

static void
test_escape(void)
{
	char *s;

	s = gcs_escape("backups/db 1/x~y_z.-A9");
	is_str(s, "backups%2Fdb%201%2Fx~y_z.-A9", "escape: / and space encoded, unreserved kept");
	free(s);
	s = gcs_escape("\xc3\xa9?&=#%+");
	is_str(s, "%C3%A9%3F%26%3D%23%25%2B", "escape: UTF-8 bytes and query characters");
	free(s);
	s = gcs_escape("");
	is_str(s, "", "escape: empty");
	free(s);
}

static void
test_endpoint(void)
{
	char *u;

	u = gcs_endpoint(NULL, NULL, err, sizeof(err));
	is_str(u, GCS_DEFAULT_ENDPOINT, "endpoint: default");
	free(u);
	u = gcs_endpoint("", "", err, sizeof(err));
	is_str(u, GCS_DEFAULT_ENDPOINT, "endpoint: empty strings are unset");
	free(u);
	u = gcs_endpoint(NULL, "localhost:9023", err, sizeof(err));
	is_str(u, "http://localhost:9023", "endpoint: emulator host:port means http");
	free(u);
	u = gcs_endpoint(NULL, "http://127.0.0.1:4443/storage/v1/", err, sizeof(err));
	is_str(u, "http://127.0.0.1:4443", "endpoint: emulator URL with /storage/v1/ trimmed");
	free(u);
	u = gcs_endpoint("https://gcs.example.com/", "localhost:9023", err, sizeof(err));
	is_str(u, "https://gcs.example.com", "endpoint: the config wins over the emulator variable");
	free(u);
	u = gcs_endpoint("gcs.example.com:8443", NULL, err, sizeof(err));
	is_str(u, "https://gcs.example.com:8443", "endpoint: config without scheme means https");
	free(u);
	u = gcs_endpoint("http://h:1/prefix", NULL, err, sizeof(err));
	is_str(u, "http://h:1/prefix", "endpoint: a path prefix is kept");
	free(u);
	u = gcs_endpoint("ftp://h", NULL, err, sizeof(err));
	ok(u == NULL && strstr(err, "not an http(s) URL"), "endpoint: ftp refused");
	free(u);
	u = gcs_endpoint("http:///x", NULL, err, sizeof(err));
	ok(u == NULL && strstr(err, "no host"), "endpoint: empty host refused");
	free(u);
	u = gcs_endpoint("http://h/?a=b", NULL, err, sizeof(err));
	ok(u == NULL, "endpoint: a query refused");
	free(u);
}

static void
test_part_size(void)
{
	is_int(gcs_part_size(0), 8 << 20, "part size: 0 is the 8 MiB default");
	is_int(gcs_part_size(1), 256 * 1024, "part size: 1 rounds up to 256 KiB");
	is_int(gcs_part_size(300000), 512 * 1024, "part size: 300000 rounds up to 512 KiB");
	is_int(gcs_part_size(256 * 1024), 256 * 1024, "part size: a multiple stays");
	is_int(gcs_part_size((size_t)1 << 40), GCS_MAX_PART_SIZE, "part size: capped");
	ok(gcs_part_size(12345678) % GCS_QUANTUM == 0, "part size: always a multiple of 256 KiB");
}

static void
test_ranges(void)
{
	char r[96];
	uint64_t kept, a, b;
	int64_t t;

	gcs_chunk_range(0, 262144, -1, r, sizeof(r));
	is_str(r, "bytes 0-262143/*", "chunk range: first part, total unknown");
	gcs_chunk_range(262144, 100, 262244, r, sizeof(r));
	is_str(r, "bytes 262144-262243/262244", "chunk range: last part with the total");
	gcs_chunk_range(524288, 0, 524288, r, sizeof(r));
	is_str(r, "bytes */524288", "chunk range: commit on a part boundary");
	gcs_chunk_range(0, 1, 1, r, sizeof(r));
	is_str(r, "bytes 0-0/1", "chunk range: one byte");

	ok(gcs_parse_kept("bytes=0-262143", &kept) == 0 && kept == 262144, "Range: bytes=0-262143 is 262144 kept");
	ok(gcs_parse_kept("bytes=0-0", &kept) == 0 && kept == 1, "Range: bytes=0-0 is 1 kept");
	ok(gcs_parse_kept(NULL, &kept) == 0 && kept == 0, "Range: absent is nothing kept");
	ok(gcs_parse_kept("", &kept) == 0 && kept == 0, "Range: empty is nothing kept");
	ok(gcs_parse_kept(" Bytes=0-99 ", &kept) == 0 && kept == 100, "Range: case and spaces");
	ok(gcs_parse_kept("bytes=5-9", &kept) < 0, "Range: not from 0 refused");
	ok(gcs_parse_kept("bytes=0-", &kept) < 0, "Range: open end refused");
	ok(gcs_parse_kept("bytes=0-9x", &kept) < 0, "Range: junk refused");
	ok(gcs_parse_kept("bytes=0-99999999999999999999999", &kept) < 0, "Range: overflow refused");
	ok(gcs_parse_kept("bytes=0-18446744073709551615", &kept) < 0, "Range: the last value cannot be one more");

	ok(gcs_parse_content_range("bytes 10-99/1000", &a, &b, &t) == 0 && a == 10 && b == 99 && t == 1000,
	    "Content-Range: a-b/total");
	ok(gcs_parse_content_range("bytes 0-0/*", &a, &b, &t) == 0 && t == -1, "Content-Range: total unknown");
	ok(gcs_parse_content_range("bytes */1000", &a, &b, &t) < 0, "Content-Range: unsatisfied form refused");
	ok(gcs_parse_content_range("bytes 9-3/1000", &a, &b, &t) < 0, "Content-Range: reversed refused");
	ok(gcs_parse_content_range("bytes 0-999/999", &a, &b, &t) < 0, "Content-Range: past the total refused");
	ok(gcs_parse_content_range("items 0-9/10", &a, &b, &t) < 0, "Content-Range: other unit refused");
}

/* ---- answers ---- */

static void
test_error_text(void)
{
	static const char e404[] = "{\"error\":{\"code\":404,\"message\":\"No such object: b/k\","
	    "\"errors\":[{\"message\":\"No such object: b/k\",\"domain\":\"global\",\"reason\":\"notFound\"}]}}";
	static const char ctl[] = "{\"error\":{\"code\":400,\"message\":\"bad\\nline\\ttab\"}}";
	char big[600], body[800];

	gcs_error_text(404, e404, strlen(e404), err, sizeof(err));
	is_str(err, "GCS 404: No such object: b/k", "error: code and message");
	gcs_error_text(502, "<html>bad gateway</html>", 24, err, sizeof(err));
	is_str(err, "GCS 502: HTTP 502", "error: not JSON gives the status only");
	gcs_error_text(503, NULL, 0, err, sizeof(err));
	is_str(err, "GCS 503: HTTP 503", "error: no body");
	gcs_error_text(400, ctl, strlen(ctl), err, sizeof(err));
	is_str(err, "GCS 400: bad line tab", "error: control characters become spaces");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"error\":{\"code\":400,\"message\":\"%s\"}}", big);
	gcs_error_text(400, body, strlen(body), err, sizeof(err));
	is_int(strlen(err), strlen("GCS 400: ") + 200, "error: long message cut at 200 bytes");
}

static void
test_object(void)
{
	static const char obj[] = "{\"kind\":\"storage#object\",\"name\":\"a/b\",\"size\":\"716800\","
	    "\"generation\":\"1796587465207336\",\"md5Hash\":\"HfWTPOdA8UZd8b/o0HHYhg==\","
	    "\"crc32c\":\"f2FcPA==\",\"updated\":\"2026-12-06T20:04:25.207Z\"}";
	struct gcs_object_info i;

	ok(gcs_parse_object(obj, strlen(obj), &i, err, sizeof(err)) == 0, "object: parses");
	ok(i.size == 716800 && i.generation == 1796587465207336LL, "object: size and generation from strings");
	is_str(i.md5, "HfWTPOdA8UZd8b/o0HHYhg==", "object: md5Hash");
	is_str(i.crc32c, "f2FcPA==", "object: crc32c");
	is_int(i.updated, 1796587465, "object: updated in epoch seconds");
	ok(gcs_parse_object("{\"size\":\"12\"}", 13, &i, err, sizeof(err)) == 0 && i.size == 12 &&
	    i.md5[0] == '\0' && i.generation == 0, "object: only a size");
	ok(gcs_parse_object("{\"name\":\"x\"}", 12, &i, err, sizeof(err)) < 0 && strstr(err, "size"),
	    "object: no size refused");
	ok(gcs_parse_object("{\"size\":\"-1\"}", 13, &i, err, sizeof(err)) < 0, "object: negative size refused");
	ok(gcs_parse_object("{\"size\":\"1\",\"md5Hash\":\"a b\"}", 28, &i, err, sizeof(err)) < 0,
	    "object: a checksum that is not base64 refused");
	ok(gcs_parse_object("nope", 4, &i, err, sizeof(err)) < 0, "object: not JSON refused");
}

struct items {
	int n;
	char names[8][32];
	uint64_t sizes[8];
	int64_t mtimes[8];
};

static void
item_cb(const char *key, uint64_t size, int64_t mtime, void *arg)
{
	struct items *it = arg;

	if (it->n < 8) {
		snprintf(it->names[it->n], sizeof(it->names[0]), "%s", key);
		it->sizes[it->n] = size;
		it->mtimes[it->n] = mtime;
	}
	it->n++;
}

static void
test_list(void)
{
	static const char page[] = "{\"kind\":\"storage#objects\",\"nextPageToken\":\"tok/1=\","
	    "\"items\":[{\"name\":\"p/a\",\"size\":\"1\",\"updated\":\"2024-01-02T03:04:05.000Z\"},"
	    "{\"name\":\"p/b\",\"size\":\"22\"}]}";
	static const char last[] = "{\"kind\":\"storage#objects\"}";
	static const char bad[] = "{\"items\":[{\"name\":\"p/a\",\"size\":\"1\"},{\"name\":\"p/b\"}]}";
	static const char nul[] = "{\"items\":[{\"name\":\"p\\u0000a\",\"size\":\"1\"}]}";
	struct items it = { 0 };
	char *next = NULL;

	ok(gcs_parse_list(page, strlen(page), item_cb, &it, &next, err, sizeof(err)) == 0, "list: a page parses");
	is_int(it.n, 2, "list: two items");
	ok(strcmp(it.names[0], "p/a") == 0 && it.sizes[0] == 1 && it.mtimes[0] == 1704164645,
	    "list: first item's name, size and time");
	ok(strcmp(it.names[1], "p/b") == 0 && it.sizes[1] == 22 && it.mtimes[1] == 0,
	    "list: an item without a time");
	is_str(next, "tok/1=", "list: the page token");
	free(next);
	memset(&it, 0, sizeof(it));
	ok(gcs_parse_list(last, strlen(last), item_cb, &it, &next, err, sizeof(err)) == 0 && it.n == 0 &&
	    next == NULL, "list: the last page has no items and no token");
	ok(gcs_parse_list(bad, strlen(bad), item_cb, &it, &next, err, sizeof(err)) < 0 && it.n == 0 &&
	    next == NULL, "list: one bad item: nothing reported");
	ok(gcs_parse_list(nul, strlen(nul), item_cb, &it, &next, err, sizeof(err)) < 0 && it.n == 0,
	    "list: a name with a NUL refused");
	ok(gcs_parse_list("[]", 2, item_cb, &it, &next, err, sizeof(err)) < 0, "list: not an object refused");
}

/* ---- checksums ---- */

static void
test_checksums(void)
{
	unsigned char zeros[32] = { 0 }, ones[32], md5[16], big[10240];
	char b64[32];
	uint32_t c;
	size_t i, cut;
	unsigned int n = 0;
	bool same = true;

	memset(ones, 0xff, sizeof(ones));
	is_int(gcs_crc32c(0, "123456789", 9), 0xE3069283u, "crc32c: the check value");
	is_int(gcs_crc32c(0, zeros, 32), 0x8A9136AAu, "crc32c: 32 zero bytes (RFC 3720)");
	is_int(gcs_crc32c(0, ones, 32), 0x62A8AB43u, "crc32c: 32 0xff bytes (RFC 3720)");
	is_int(gcs_crc32c(0, "", 0), 0, "crc32c: empty");
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)i;
	is_int(gcs_crc32c(0, big, sizeof(big)), 0xBD846CD7u, "crc32c: 10 KiB");
	for (cut = 0; cut <= 17 && same; cut++) {
		c = gcs_crc32c(0, big, cut);
		c = gcs_crc32c(c, big + cut, sizeof(big) - cut);
		same = c == 0xBD846CD7u;
	}
	ok(same, "crc32c: continued over any split gives the same");
	gcs_crc32c_b64(0xE3069283u, b64);
	is_str(b64, "4waSgw==", "crc32c: base64 of the big-endian value");
	EVP_Digest("", 0, md5, &n, EVP_md5(), NULL);
	gcs_md5_b64(md5, b64);
	is_str(b64, "1B2M2Y8AsgTpgAmY7PhCfg==", "md5: base64 of the empty digest");
}

/* ---- redaction and origins ---- */

static void
redact(const char *in)
{
	gcs_redact(in, strlen(in), err, sizeof(err));
}

static void
test_redact(void)
{
	char small[12];

	redact("Authorization: Bearer ya29.SECRET-token");
	is_str(err, "Authorization: [REDACTED]", "redact: Authorization header");
	redact("  authorization:Bearer x");
	ok(strstr(err, "Bearer x") == NULL && strstr(err, "[REDACTED]"), "redact: header name in any case");
	redact("PUT /upload/storage/v1/b/b/o?uploadType=resumable&name=k&upload_id=SECRET123 HTTP/1.1");
	is_str(err, "PUT /upload/storage/v1/b/b/o?uploadType=resumable&name=k&upload_id=[REDACTED] HTTP/1.1",
	    "redact: upload_id in the request line");
	redact("Location: http://h/upload/storage/v1/b/b/o?upload_id=SECRET&x=1");
	is_str(err, "Location: http://h/upload/storage/v1/b/b/o?upload_id=[REDACTED]&x=1",
	    "redact: upload_id in Location, the rest kept");
	redact("X-GUploader-UploadID: SECRET");
	is_str(err, "X-GUploader-UploadID: [REDACTED]", "redact: the uploader id header");
	redact("grant_type=urn%3Aietf&assertion=eyJ.SECRET.sig");
	ok(strstr(err, "SECRET") == NULL && strstr(err, "grant_type=urn%3Aietf"), "redact: assertion");
	redact("{\"access_token\": \"ya29.SECRET\", \"expires_in\": 3599}");
	ok(strstr(err, "SECRET") == NULL && strstr(err, "expires_in"), "redact: JSON access_token");
	redact("x bearer SECRET y");
	is_str(err, "x bearer [REDACTED] y", "redact: a bearer token anywhere");
	redact("HTTP/1.1 308 Permanent Redirect");
	is_str(err, "HTTP/1.1 308 Permanent Redirect", "redact: other lines unchanged");
	redact("a\x01" "b");
	is_str(err, "a b", "redact: control characters become spaces");
	gcs_redact("upload_id=SECRETSECRET", 22, small, sizeof(small));
	ok(strlen(small) == sizeof(small) - 1 && strstr(small, "SECRET") == NULL, "redact: truncated output keeps no secret");
}

static void
test_origin(void)
{
	ok(gcs_same_origin("http://127.0.0.1:5", "http://127.0.0.1:5/upload?x=1"), "origin: same host and port");
	ok(!gcs_same_origin("http://127.0.0.1:5", "http://127.0.0.1:6/upload"), "origin: other port");
	ok(!gcs_same_origin("https://h", "http://h/upload"), "origin: other scheme");
	ok(gcs_same_origin("https://storage.googleapis.com",
	    "https://storage.googleapis.com:443/upload/storage/v1/b/b/o?upload_id=x"), "origin: default port");
	ok(gcs_same_origin("HTTPS://Storage.GoogleAPIs.com", "https://storage.googleapis.com/x"),
	    "origin: case of scheme and host");
	ok(!gcs_same_origin("http://127.0.0.1:5", "http://127.0.0.1:5@evil.example/upload"), "origin: user info refused");
	ok(!gcs_same_origin("http://h", "/relative"), "origin: relative refused");
	ok(gcs_same_origin("http://[::1]:9", "http://[::1]:9/u"), "origin: IPv6 literal");
	ok(!gcs_same_origin("http://h:99999", "http://h:99999/"), "origin: bad port refused");
}

/* ---- the client on a loop, against a closed port ---- */

static char *
sa_json(const char *token_uri)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);
	BIO *b = BIO_new(BIO_s_mem());
	struct jw w;
	char *p, *pem, *out;
	long n;

	if (k == NULL || b == NULL || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1)
		abort();
	n = BIO_get_mem_data(b, &p);
	pem = xstrndup(p, (size_t)n);
	BIO_free(b);
	EVP_PKEY_free(k);
	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "type", "service_account");
	jw_kstr(&w, "private_key_id", "0123456789abcdef");
	jw_kstr(&w, "private_key", pem);
	jw_kstr(&w, "client_email", "t@p.iam.gserviceaccount.com");
	jw_kstr(&w, "token_uri", token_uri);
	jw_obj_close(&w);
	out = jw_finish(&w, NULL);
	free_secret(pem);
	return out;
}

struct result {
	int calls;
	bool ok;
	char err[300];
};

static void
op_done(bool ok_, const char *e, void *arg)
{
	struct result *r = arg;

	r->calls++;
	r->ok = ok_;
	snprintf(r->err, sizeof(r->err), "%s", e ? e : "");
}

static void
put_done(struct gcs_put *p, bool ok_, const char *e, void *arg)
{
	(void)p;
	op_done(ok_, e, arg);
}

static bool
get_data(struct gcs_get *g, const void *p, size_t n, void *arg)
{
	(void)g;
	(void)p;
	(void)n;
	(void)arg;
	return true;
}

static void
get_done(struct gcs_get *g, bool ok_, const char *e, void *arg)
{
	(void)g;
	op_done(ok_, e, arg);
}

/* Runs the loop until the client is idle (bounded by iterations, not
 * time: every wait here is short). */
static void
run_idle(struct ev_loop *loop, struct gcs_client *c)
{
	int i;

	for (i = 0; i < 20000 && gcs_client_busy(c) > 0; i++)
		ev_run(loop, EVRUN_ONCE);
}

static void
test_client(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct curlev *m = curlev_new(loop);
	struct gcs_config cfg = { 0 };
	struct gcs_client *c;
	struct result r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
	static const struct gcs_put_cb pcb = { NULL, put_done };
	static const struct gcs_get_cb gcb = { get_data, get_done };
	struct gcs_put *p;
	char *sa;

	c = gcs_client_new(m, &cfg, err, sizeof(err));
	ok(c == NULL && strstr(err, "no bucket"), "client: a bucket is required");
	cfg.bucket = "b";
	unsetenv(GCS_EMULATOR_ENV);
	c = gcs_client_new(m, &cfg, err, sizeof(err));
	ok(c == NULL && strstr(err, "anonymous"), "client: anonymous only with an endpoint override");
	cfg.sa_json = "{\"type\":\"service_account\",\"private_key\":\"SECRETKEY\"}";
	cfg.sa_json_len = strlen(cfg.sa_json);
	c = gcs_client_new(m, &cfg, err, sizeof(err));
	ok(c == NULL && strstr(err, "service-account key") && strstr(err, "SECRETKEY") == NULL,
	    "client: a bad key refused without quoting it");

	setenv(GCS_EMULATOR_ENV, "127.0.0.1:1", 1);
	cfg.sa_json = NULL;
	c = gcs_client_new(m, &cfg, err, sizeof(err));
	ok(c != NULL, "client: anonymous with the emulator variable");
	is_str(c ? gcs_client_endpoint(c) : NULL, "http://127.0.0.1:1", "client: the emulator variable is the endpoint");
	gcs_client_free(c);
	unsetenv(GCS_EMULATOR_ENV);

	/* A key whose token endpoint refuses connections: every request
	 * waiting for the token fails with the token's error, once. */
	sa = sa_json("http://127.0.0.1:1/token");
	cfg.endpoint = "http://127.0.0.1:1";
	cfg.sa_json = sa;
	cfg.sa_json_len = strlen(sa);
	cfg.retry_delay = 0.01;
	cfg.max_tries = 2;
	c = gcs_client_new(m, &cfg, err, sizeof(err));
	ok(c != NULL, "client: with a key");
	free_secret(sa);
	if (c == NULL)
		return;
	(void)gcs_delete(c, "k", op_done, &r1);
	p = gcs_put_new(c, "k2", 10, &pcb, &r2);
	ok(gcs_put_write(p, "0123456789", 10) == 10, "put: takes bytes at once");
	gcs_put_finish(p);
	ok(gcs_put_write(p, "x", 1) == 0, "put: nothing after finish");
	is_int(r1.calls + r2.calls, 0, "no callback inside the calls");
	run_idle(loop, c);
	ok(r1.calls == 1 && !r1.ok && strstr(r1.err, "GCS token: ") != NULL,
	    "delete: fails once with the token error");
	ok(r2.calls == 1 && !r2.ok && strstr(r2.err, "GCS token: ") != NULL,
	    "put: fails once with the token error");
	diag("token error: %s", r1.err);
	is_int(gcs_client_stats(c)->token_fetches, 2, "token: fetched once per try (2 tries)");
	is_int(gcs_client_busy(c), 0, "client: idle afterwards");
	gcs_client_free(c);

	/* Anonymous against the closed port: a download is retried, then
	 * fails with the transport error; an upload aborted before its first
	 * part goes away without a callback. */
	cfg.sa_json = NULL;
	cfg.sa_json_len = 0;
	cfg.max_tries = 3;
	c = gcs_client_new(m, &cfg, err, sizeof(err));
	(void)gcs_get_new(c, "k", 0, &gcb, &r3);
	p = gcs_put_new(c, "k", -1, &pcb, &r2);
	ok(gcs_put_write(p, "abc", 3) == 3, "put: anonymous upload takes bytes");
	gcs_put_abort(p);
	r2.calls = 0;
	run_idle(loop, c);
	ok(r3.calls == 1 && !r3.ok && strstr(r3.err, "GCS download: ") && strstr(r3.err, "after 3 tries"),
	    "get: refused connections retried, then one failure");
	diag("download error: %s", r3.err);
	is_int(gcs_client_stats(c)->retries, 2, "get: two retries");
	is_int(r2.calls, 0, "put: no callback after abort");
	is_int(gcs_client_busy(c), 0, "client: idle after the abort");
	gcs_client_free(c);
	curlev_free(m);
	ev_loop_destroy(loop);
}

int
main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_escape();
	test_endpoint();
	test_part_size();
	test_ranges();
	test_error_text();
	test_object();
	test_list();
	test_checksums();
	test_redact();
	test_origin();
	test_client();
	curl_global_cleanup();
	return done_testing();
}
