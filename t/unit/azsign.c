/* azsign.c: Azure Shared Key string-to-sign and signature, connection
 * strings, SAS joining, dates and blob paths. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "azsign.h"
#include "tap.h"

/* Azurite's published development key. */
#define DEV_KEY \
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/" \
	"K1SZFPTOtr/KBHBeksoGMGw=="
#define DEV_KEY_HEX \
	"11bcbcbdd334db134e72a165a94c093cb96612d9420d7275394cc54f9d2e4916" \
	"7a205b2e16ad94544ac2cf823ab6afcad526453d33adaff2811c17a4b2818c1b"

/* The Get Container Metadata example from "Authorize with Shared Key". */
#define DOC_STS \
	"GET\n\n\n\n\n\n\n\n\n\n\n\n" \
	"x-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2015-02-21\n" \
	"/myaccount/mycontainer\ncomp:metadata\nrestype:container\ntimeout:20"
/* base64(HMAC-SHA-256(DEV_KEY, DOC_STS)), computed with
 *   printf '<DOC_STS>' | openssl dgst -sha256 -mac HMAC \
 *     -macopt hexkey:<DEV_KEY_HEX> -binary | base64 */
#define DOC_SIG "1u9lui2jDxj0+fpbHjQ5m5NnastJRSYM+PSmfi8TXx4="

static char err[256];

static void
skip(const char *why)
{
	tap_n++;
	printf("ok %d # skip %s\n", tap_n, why);
}

/* base64 HMAC-SHA-256 of text under DEV_KEY by the openssl command, or NULL
 * when it cannot run. */
static char *
openssl_hmac(const char *text)
{
	char path[] = "/tmp/azsign-t-XXXXXX", cmd[512], out[128];
	FILE *f, *p;
	int fd = mkstemp(path);
	char *res = NULL;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(path);
		return NULL;
	}
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -mac HMAC -macopt "
	    "hexkey:%s -binary %s 2>/dev/null | openssl base64 -A 2>/dev/null",
	    DEV_KEY_HEX, path);
	p = popen(cmd, "r");
	if (p && fgets(out, sizeof(out), p)) {
		out[strcspn(out, "\r\n")] = '\0';
		if (strlen(out) == 44)
			res = strdup(out);
	}
	if (p)
		pclose(p);
	unlink(path);
	return res;
}

static void
test_doc_example(void)
{
	struct azsign_kv h[] = {
		{ "x-ms-version", "2015-02-21" },
		{ "x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT" },
	};
	struct azsign_kv q[] = {
		{ "restype", "container" }, { "comp", "metadata" },
		{ "timeout", "20" },
	};
	struct azsign_req req = { "GET", "/mycontainer", q, 3, h, 2 };
	struct azsign_key k;
	char *auth = NULL, *sts = NULL, *ext;

	if (!ok(azsign_key_init(&k, "myaccount", DEV_KEY, err, sizeof(err)) == 0,
	    "key init"))
		diag("error: %s", err);
	is_int(k.keylen, 64, "  decoded key is 64 bytes");
	if (!ok(azsign_sign(&k, &req, &auth, &sts, err, sizeof(err)) == 0,
	    "doc example: signs"))
		diag("error: %s", err);
	is_str(sts, DOC_STS, "doc example: string to sign");
	is_str(auth, "SharedKey myaccount:" DOC_SIG,
	    "doc example: Authorization (constant from openssl)");
	ext = openssl_hmac(DOC_STS);
	if (ext) {
		ok(auth && strcmp(auth + strlen("SharedKey myaccount:"), ext) == 0,
		    "doc example: signature equals openssl's HMAC");
		free(ext);
	} else {
		skip("openssl command not available");
	}
	free(auth);
	free(sts);

	/* Without sts, same Authorization. */
	if (!ok(azsign_sign(&k, &req, &auth, NULL, err, sizeof(err)) == 0,
	    "signs without returning the string"))
		diag("error: %s", err);
	is_str(auth, "SharedKey myaccount:" DOC_SIG, "  same Authorization");
	free(auth);
	azsign_key_release(&k);
	ok(k.key == NULL && k.account == NULL && k.keylen == 0,
	    "key release clears the struct");
}

static void
sts_is(const char *account, const struct azsign_req *req, const char *want,
    const char *name)
{
	char *s = azsign_string_to_sign(account, req, err, sizeof(err));

	if (s == NULL)
		diag("error: %s", err);
	is_str(s, want, name);
	free(s);
}

static void
test_canonical(void)
{
	struct azsign_kv h0[] = { { "x-ms-date", "Sun, 11 Oct 2009 21:49:13 GMT" },
	    { "x-ms-version", "2009-09-19" } };
	struct azsign_kv q1[] = {
		{ "restype", "container" }, { "comp", "list" },
		{ "include", "snapshots" }, { "include", "metadata" },
		{ "include", "uncommittedblobs" },
	};
	struct azsign_req r1 = { "GET", "/mycontainer", q1, 5, h0, 2 };
	/* Put Block: the block id is given decoded (as it means). */
	struct azsign_kv q2[] = { { "comp", "block" },
	    { "blockid", "YmxvY2stMDAwMDAx" } };
	struct azsign_kv h2[] = {
		{ "Content-Length", "1024" },
		{ "x-ms-version", "2021-08-06" },
		{ "x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT" },
		{ "Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ==" },
	};
	struct azsign_req r2 = { "PUT", "/backups/db/x.dump.zst", q2, 2, h2, 4 };
	/* Put Blob, empty body, mixed-case and padded x-ms headers; the Date
	 * header is ignored because x-ms-date is present. */
	struct azsign_kv h3[] = {
		{ "Content-Type", "application/octet-stream" },
		{ "content-length", "0" },
		{ "Date", "Mon, 01 Jan 2024 00:00:00 GMT" },
		{ "X-MS-Blob-Type", "BlockBlob" },
		{ "x-ms-meta-Note", "  a   b\tc  " },
		{ "x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT" },
		{ "x-ms-version", "2021-08-06" },
		{ "Range", "bytes=0-9" },
		{ "If-Match", "\"0x8D\"" },
		{ "User-Agent", "dbprovd" },
	};
	struct azsign_req r3 = { "PUT", "/c/b", NULL, 0, h3, 10 };
	/* Date used when there is no x-ms-date. */
	struct azsign_kv h4[] = { { "Date", "Fri, 26 Jun 2015 23:39:12 GMT" },
	    { "x-ms-version", "2021-08-06" } };
	struct azsign_req r4 = { "HEAD", "/c/b", NULL, 0, h4, 2 };
	/* Azurite path style: the account is in the path too. */
	struct azsign_req r5 = { "DELETE", "/devstoreaccount1/c/dir/a%20b",
	    NULL, 0, h4, 2 };
	/* A query name in upper case is lower-cased; values sort. */
	struct azsign_kv q6[] = { { "Comp", "list" }, { "Prefix", "a" },
	    { "prefix", "B" } };
	struct azsign_req r6 = { "GET", "/c", q6, 3, h4, 2 };

	sts_is("myaccount", &r1,
	    "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\n"
	    "x-ms-version:2009-09-19\n/myaccount/mycontainer\ncomp:list\n"
	    "include:metadata,snapshots,uncommittedblobs\nrestype:container",
	    "list with repeated include (doc example resource)");
	sts_is("myaccount", &r2,
	    "PUT\n\n\n1024\nQ2hlY2sgSW50ZWdyaXR5IQ==\n\n\n\n\n\n\n\n"
	    "x-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2021-08-06\n"
	    "/myaccount/backups/db/x.dump.zst\nblockid:YmxvY2stMDAwMDAx\n"
	    "comp:block",
	    "put block: length, MD5, comp=block&blockid");
	sts_is("myaccount", &r3,
	    "PUT\n\n\n\n\napplication/octet-stream\n\n\n\"0x8D\"\n\n\nbytes=0-9\n"
	    "x-ms-blob-type:BlockBlob\nx-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\n"
	    "x-ms-meta-note:a b c\nx-ms-version:2021-08-06\n/myaccount/c/b",
	    "put blob: zero length empty, Date dropped, x-ms headers normalised");
	sts_is("myaccount", &r4,
	    "HEAD\n\n\n\n\n\nFri, 26 Jun 2015 23:39:12 GMT\n\n\n\n\n\n"
	    "x-ms-version:2021-08-06\n/myaccount/c/b",
	    "Date line when there is no x-ms-date");
	sts_is("devstoreaccount1", &r5,
	    "DELETE\n\n\n\n\n\nFri, 26 Jun 2015 23:39:12 GMT\n\n\n\n\n\n"
	    "x-ms-version:2021-08-06\n"
	    "/devstoreaccount1/devstoreaccount1/c/dir/a%20b",
	    "path-style endpoint names the account twice");
	sts_is("myaccount", &r6,
	    "GET\n\n\n\n\n\nFri, 26 Jun 2015 23:39:12 GMT\n\n\n\n\n\n"
	    "x-ms-version:2021-08-06\n/myaccount/c\ncomp:list\nprefix:B,a",
	    "query names lower-cased and merged, values sorted");
}

static void
test_sign_errors(void)
{
	struct azsign_kv bad_h[] = { { "x-ms-meta-a", "x\r\ny" } };
	struct azsign_req r = { "GET", "/c/b", NULL, 0, bad_h, 1 };
	struct azsign_key k;
	char *auth = (char *)"x", *sts = (char *)"x";

	if (azsign_key_init(&k, "myaccount", DEV_KEY, err, sizeof(err)) != 0)
		diag("error: %s", err);
	ok(azsign_sign(&k, &r, &auth, &sts, err, sizeof(err)) == -1,
	    "refuses CR/LF in a header value");
	is_str(err, "azure: header x-ms-meta-a has a line break in its value",
	    "  error text");
	ok(auth == NULL && sts == NULL, "  outputs left NULL");
	bad_h[0].name = NULL;
	ok(azsign_sign(&k, &r, &auth, NULL, err, sizeof(err)) == -1,
	    "refuses a header without a name");
	is_str(err, "azure: invalid header name (header 0)", "  error text");
	r.nheaders = 0;
	r.path = "c/b";
	ok(azsign_sign(&k, &r, &auth, NULL, err, sizeof(err)) == -1,
	    "refuses a relative path");
	r.path = "/c/b?comp=block";
	ok(azsign_sign(&k, &r, &auth, NULL, err, sizeof(err)) == -1,
	    "refuses a path with a query");
	is_str(err, "azure: the path must be encoded and carry no query",
	    "  error text");
	azsign_key_release(&k);

	ok(azsign_key_init(&k, "myaccount", "not base64!", err,
	    sizeof(err)) == -1, "key init refuses bad base64");
	is_str(err, "azure: the account key is not valid base64", "  error text");
	ok(k.key == NULL, "  nothing kept");
	ok(azsign_key_init(&k, "myaccount", "QUJD=", err, sizeof(err)) == -1,
	    "key init refuses a bad length");
	ok(azsign_key_init(&k, "my-account", DEV_KEY, err, sizeof(err)) == -1,
	    "key init refuses a bad account name");
	ok(azsign_key_init(&k, "a", "", err, sizeof(err)) == -1,
	    "key init refuses an empty key");
	if (ok(azsign_key_init(&k, "a", "QUI=", err, sizeof(err)) == 0,
	    "key init accepts one padding byte"))
		ok(k.keylen == 2 && memcmp(k.key, "AB", 2) == 0, "  decoded 'AB'");
	azsign_key_release(&k);
}

static void
test_date_path(void)
{
	char d[AZSIGN_DATE_LEN];
	char *p;

	is_str(azsign_date(1435361952, d), "Fri, 26 Jun 2015 23:39:12 GMT",
	    "RFC 1123 date (2015)");
	is_str(azsign_date(1255297753, d), "Sun, 11 Oct 2009 21:49:13 GMT",
	    "RFC 1123 date (2009)");
	is_str(azsign_date(0, d), "Thu, 01 Jan 1970 00:00:00 GMT", "epoch");
	ok(azsign_date(-1, d) == NULL, "negative time refused");

	p = azsign_blob_path("backups", "pg/db-20240101 x%.dump");
	is_str(p, "/backups/pg/db-20240101%20x%25.dump", "blob path encoding");
	free(p);
	p = azsign_blob_path("c", "\xc3\xa9/~_.-");
	is_str(p, "/c/%C3%A9/~_.-", "blob path: UTF-8, unreserved kept");
	free(p);
}

static void
conn_ok(const char *s, const char *name, struct azsign_conn *c)
{
	err[0] = '\0';
	if (!ok(azsign_conn_parse(s, c, err, sizeof(err)) == 0, name))
		diag("error: %s", err);
}

static void
conn_bad(const char *s, const char *want, const char *name)
{
	struct azsign_conn c;

	err[0] = '\0';
	if (ok(azsign_conn_parse(s, &c, err, sizeof(err)) == -1, name)) {
		is_str(err, want, "  error text");
		ok(c.account == NULL && c.account_key == NULL && c.sas == NULL,
		    "  nothing kept");
		ok(strstr(err, "Eby8") == NULL && strstr(err, "sig=") == NULL,
		    "  no secret in the message");
	}
}

static void
test_conn(void)
{
	struct azsign_conn c;

	conn_ok("DefaultEndpointsProtocol=https;AccountName=myaccount;"
	    "AccountKey=" DEV_KEY ";EndpointSuffix=core.windows.net",
	    "public cloud string", &c);
	is_str(c.protocol, "https", "  protocol");
	is_str(c.account, "myaccount", "  account");
	is_str(c.account_key, DEV_KEY, "  key kept whole (with '=')");
	ok(c.sas == NULL, "  no SAS");
	is_str(c.blob_endpoint, "https://myaccount.blob.core.windows.net",
	    "  computed blob endpoint");
	azsign_conn_release(&c);
	ok(c.account_key == NULL && c.blob_endpoint == NULL, "  release clears");

	conn_ok("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
	    "AccountKey=" DEV_KEY ";"
	    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
	    "Azurite string", &c);
	is_str(c.protocol, "http", "  protocol");
	is_str(c.account, "devstoreaccount1", "  account");
	is_str(c.blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1",
	    "  explicit blob endpoint");
	is_str(c.endpoint_suffix, "core.windows.net", "  default suffix");
	azsign_conn_release(&c);

	conn_ok("UseDevelopmentStorage=true", "UseDevelopmentStorage", &c);
	is_str(c.account, "devstoreaccount1", "  dev account");
	is_str(c.account_key, DEV_KEY, "  dev key");
	is_str(c.blob_endpoint, "http://127.0.0.1:10000/devstoreaccount1",
	    "  dev endpoint");
	azsign_conn_release(&c);

	conn_ok(" accountname = acct ; ACCOUNTKEY=" DEV_KEY
	    ";EndpointSuffix=core.chinacloudapi.cn;QueueEndpoint=https://q/;",
	    "keys in any case, spaces, unknown keys ignored", &c);
	is_str(c.protocol, "https", "  default protocol");
	is_str(c.account, "acct", "  account trimmed");
	is_str(c.blob_endpoint, "https://acct.blob.core.chinacloudapi.cn",
	    "  endpoint with another suffix");
	azsign_conn_release(&c);

	conn_ok("BlobEndpoint=https://acct.blob.core.windows.net/;"
	    "SharedAccessSignature=?sv=2022-11-02&ss=b&sig=abc%3D",
	    "SAS-only string", &c);
	ok(c.account == NULL && c.account_key == NULL, "  no account, no key");
	is_str(c.sas, "sv=2022-11-02&ss=b&sig=abc%3D", "  SAS without '?'");
	is_str(c.blob_endpoint, "https://acct.blob.core.windows.net",
	    "  trailing '/' dropped");
	azsign_conn_release(&c);

	conn_bad("AccountName=a", "azure: connection string has neither "
	    "AccountKey nor SharedAccessSignature", "refuses no credentials");
	conn_bad("AccountName=a;AccountKey=Eby8vdM02xNOc!", "azure: AccountKey is "
	    "not valid base64", "refuses a bad key without quoting it");
	conn_bad("AccountName=a;AccountName=b;AccountKey=" DEV_KEY,
	    "azure: connection string has AccountName twice", "refuses a "
	    "duplicate key");
	conn_bad("AccountName=a;Eby8vdM02xNOcqFl;AccountKey=" DEV_KEY,
	    "azure: connection string segment 2 is not key=value",
	    "refuses a segment without '=' without quoting it");
	conn_bad("DefaultEndpointsProtocol=ftp;AccountName=a;AccountKey="
	    DEV_KEY, "azure: DefaultEndpointsProtocol must be http or https",
	    "refuses another protocol");
	conn_bad("SharedAccessSignature=sv=1&sig=x",
	    "azure: connection string has neither AccountName nor BlobEndpoint",
	    "refuses a SAS without an endpoint");
	conn_bad("AccountKey=" DEV_KEY, "azure: AccountKey needs AccountName",
	    "refuses a key without an account");
	conn_bad("UseDevelopmentStorage=false",
	    "azure: UseDevelopmentStorage must be \"true\"",
	    "refuses UseDevelopmentStorage=false");
	conn_bad("AccountName=a;SharedAccessSignature=?",
	    "azure: SharedAccessSignature is empty", "refuses an empty SAS");
	conn_bad("BlobEndpoint=ftp://x;SharedAccessSignature=sv=1&sig=x",
	    "azure: BlobEndpoint is not an http(s) URL",
	    "refuses a non-http endpoint");
	conn_bad("", "azure: empty connection string", "refuses an empty string");
}

static void
test_sas(void)
{
	char *u;

	u = azsign_url_with_sas("https://a.blob.core.windows.net/c/b",
	    "?sv=2022-11-02&sig=x%2By");
	is_str(u, "https://a.blob.core.windows.net/c/b?sv=2022-11-02&sig=x%2By",
	    "SAS appended as the query, '?' stripped");
	free_secret(u);
	u = azsign_url_with_sas("https://a/c/b?comp=block&blockid=QQ%3D%3D",
	    "sv=1&sig=z");
	is_str(u, "https://a/c/b?comp=block&blockid=QQ%3D%3D&sv=1&sig=z",
	    "SAS joined to an existing query with '&'");
	free_secret(u);
	u = azsign_url_with_sas("https://a/c?", "sv=1");
	is_str(u, "https://a/c?sv=1", "URL ending in '?'");
	free_secret(u);
	u = azsign_url_with_sas("https://a/c", NULL);
	is_str(u, "https://a/c", "no SAS: copy");
	free_secret(u);
	u = azsign_url_with_sas("https://a/c", "?");
	is_str(u, "https://a/c", "bare '?': copy");
	free_secret(u);
}

int
main(void)
{
	test_doc_example();
	test_canonical();
	test_sign_errors();
	test_date_path();
	test_conn();
	test_sas();
	return done_testing();
}
