/*
 * s3.c: the pure parts of the S3 client (addressing, part sizes, the XML
 * scanner on real S3 error and listing bodies, ETags, Content-Range, the
 * redaction of curl's trace), configuration checks, and two operations on
 * the loop that need no server (a refused size hint, a refused connection
 * retried max_tries times).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <ev.h>
#include <openssl/evp.h>

#include "curlev.h"
#include "log.h"
#include "s3.h"
#include "tap.h"
#include "util.h"

#define MiB ((size_t)1 << 20)

/* ---- addressing ---- */

static void
addr_case(const char *endpoint, const char *region, const char *bucket,
    enum s3_style style, const char *want_scheme, const char *want_host,
    bool want_path, const char *key, const char *want_path_str,
    const char *want_url)
{
	struct s3_addr a;
	char err[256], name[512], *path, *url;
	const char *qn[1], *qv[1];

	snprintf(name, sizeof(name), "endpoint %s bucket %s style %d",
	    endpoint ? endpoint : "(AWS)", bucket, (int)style);
	if (!ok(s3_addr_init(&a, endpoint, region, bucket, style, err,
	    sizeof(err)) == 0, name)) {
		diag("%s", err);
		return;
	}
	is_str(a.scheme, want_scheme, "  scheme");
	is_str(a.host, want_host, "  host");
	is_int(a.path_style, want_path, "  path style");
	path = s3_addr_path(&a, key);
	is_str(path, want_path_str, "  raw path");
	url = s3_addr_url(&a, path, qn, qv, 0);
	is_str(url, want_url, "  URL");
	free(url);
	free(path);
	s3_addr_release(&a);
}

static void
addr_bad(const char *endpoint, const char *bucket, enum s3_style style,
    const char *want_err)
{
	struct s3_addr a;
	char err[256] = "", name[512];

	snprintf(name, sizeof(name), "refused: endpoint %s bucket %s",
	    endpoint ? endpoint : "(AWS)", bucket ? bucket : "(none)");
	ok(s3_addr_init(&a, endpoint, "us-east-1", bucket, style, err,
	    sizeof(err)) < 0, name);
	ok(strstr(err, want_err) != NULL, "  reason names the problem");
	if (strstr(err, want_err) == NULL)
		diag("err: %s", err);
}

static void
test_addr(void)
{
	struct s3_addr a;
	char err[256], *path, *url;
	const char *qn[] = { "list-type", "prefix", "uploads",
	    "continuation-token" };
	const char *qv[] = { "2", "a b/c+d", NULL, "1/x=y&z" };

	/* AWS: virtual-hosted by default */
	addr_case(NULL, "eu-west-1", "my-bucket", S3_STYLE_AUTO, "https",
	    "my-bucket.s3.eu-west-1.amazonaws.com", false, "dir/a b~c.txt",
	    "/dir/a b~c.txt",
	    "https://my-bucket.s3.eu-west-1.amazonaws.com/dir/a%20b~c.txt");
	/* a dot in the name would not match *.s3.amazonaws.com over TLS */
	addr_case(NULL, "eu-west-1", "my.bucket", S3_STYLE_AUTO, "https",
	    "s3.eu-west-1.amazonaws.com", true, "k",
	    "/my.bucket/k", "https://s3.eu-west-1.amazonaws.com/my.bucket/k");
	addr_case("", "cn-north-1", "data-01", S3_STYLE_AUTO, "https",
	    "data-01.s3.cn-north-1.amazonaws.com.cn", false, "x", "/x",
	    "https://data-01.s3.cn-north-1.amazonaws.com.cn/x");
	addr_case(NULL, "us-east-1", "my-bucket", S3_STYLE_PATH, "https",
	    "s3.us-east-1.amazonaws.com", true, "k", "/my-bucket/k",
	    "https://s3.us-east-1.amazonaws.com/my-bucket/k");
	/* an explicit AWS endpoint is still AWS */
	addr_case("https://s3.us-west-2.amazonaws.com", "us-west-2", "bkt",
	    S3_STYLE_AUTO, "https", "bkt.s3.us-west-2.amazonaws.com", false,
	    "k", "/k", "https://bkt.s3.us-west-2.amazonaws.com/k");
	/* custom endpoints: path style unless told otherwise */
	addr_case("http://127.0.0.1:9000", "us-east-1", "backups",
	    S3_STYLE_AUTO, "http", "127.0.0.1:9000", true, "pg/db.dump",
	    "/backups/pg/db.dump", "http://127.0.0.1:9000/backups/pg/db.dump");
	addr_case("https://minio.example:443/", "us-east-1", "backups",
	    S3_STYLE_AUTO, "https", "minio.example", true, "k",
	    "/backups/k", "https://minio.example/backups/k");
	addr_case("HTTP://minio.example:80", "us-east-1", "backups",
	    S3_STYLE_AUTO, "http", "minio.example", true, "k",
	    "/backups/k", "http://minio.example/backups/k");
	addr_case("minio.local:9000/s3/", "us-east-1", "b-1", S3_STYLE_AUTO,
	    "https", "minio.local:9000", true, "k", "/s3/b-1/k",
	    "https://minio.local:9000/s3/b-1/k");
	addr_case("http://localhost:9000", "us-east-1", "bkt",
	    S3_STYLE_VIRTUAL, "http", "bkt.localhost:9000", false, "a/b",
	    "/a/b", "http://bkt.localhost:9000/a/b");
	addr_case("http://[::1]:9000", "us-east-1", "bkt", S3_STYLE_AUTO,
	    "http", "[::1]:9000", true, "k", "/bkt/k",
	    "http://[::1]:9000/bkt/k");
	/* keys: kept as given, '/' separates, the rest is encoded */
	addr_case("http://h:1", "r", "bkt", S3_STYLE_PATH, "http", "h:1",
	    true, "/lead//double/ü&=+", "/bkt//lead//double/ü&=+",
	    "http://h:1/bkt//lead//double/%C3%BC%26%3D%2B");

	addr_bad("ftp://host", "bkt", S3_STYLE_AUTO, "only http and https");
	addr_bad("http://user:pw@host", "bkt", S3_STYLE_AUTO, "bad host");
	addr_bad("http://host:12x", "bkt", S3_STYLE_AUTO, "bad port");
	addr_bad("http://host:", "bkt", S3_STYLE_AUTO, "bad port");
	addr_bad("http://host/?x=1", "bkt", S3_STYLE_AUTO, "no query");
	addr_bad("http://", "bkt", S3_STYLE_AUTO, "bad host");
	addr_bad("http://10.0.0.1:9000", "bkt", S3_STYLE_VIRTUAL,
	    "not an IP address");
	addr_bad("http://minio:9000", "Bad_Bucket", S3_STYLE_VIRTUAL,
	    "cannot be part of a host name");
	addr_bad(NULL, "bkt..x", S3_STYLE_VIRTUAL, "cannot be part");
	addr_bad(NULL, NULL, S3_STYLE_AUTO, "no bucket");
	ok(s3_addr_init(&a, NULL, "", "bkt", S3_STYLE_AUTO, err,
	    sizeof(err)) < 0 && strstr(err, "no region"), "no region refused");

	ok(s3_bucket_virtual_ok("abc"), "abc is a host label");
	ok(!s3_bucket_virtual_ok("ab"), "too short");
	ok(!s3_bucket_virtual_ok("-abc"), "leading hyphen");
	ok(!s3_bucket_virtual_ok("a.bc"), "dot: not for virtual by default");
	ok(!s3_bucket_virtual_ok("ABC"), "upper case");

	/* bucket-level requests and the query string */
	if (s3_addr_init(&a, "http://127.0.0.1:9000", "us-east-1", "bkt",
	    S3_STYLE_AUTO, err, sizeof(err)) == 0) {
		path = s3_addr_path(&a, NULL);
		is_str(path, "/bkt", "bucket path (path style)");
		url = s3_addr_url(&a, path, qn, qv, 4);
		is_str(url, "http://127.0.0.1:9000/bkt?list-type=2&prefix="
		    "a%20b%2Fc%2Bd&uploads&continuation-token=1%2Fx%3Dy%26z",
		    "query: SigV4 encoding, a name alone without '='");
		free(url);
		free(path);
		s3_addr_release(&a);
	}
	if (s3_addr_init(&a, NULL, "us-east-1", "bkt", S3_STYLE_AUTO, err,
	    sizeof(err)) == 0) {
		path = s3_addr_path(&a, NULL);
		is_str(path, "/", "bucket path (virtual-hosted)");
		free(path);
		s3_addr_release(&a);
	}
}

/* ---- part sizes ---- */

static void
test_part_size(void)
{
	static const int64_t hints[] = { 1, 80LL * 1024 * 1024 * 1024,
	    1000000007LL, 1LL << 40, 3LL << 40, (5LL << 40) - 1 };
	size_t ps = 0, i;
	char err[256];

	ok(s3_part_size(0, -1, &ps, err, sizeof(err)) == 0 &&
	    ps == 8 * MiB, "default: 8 MiB");
	ok(s3_part_size(5 * MiB, -1, &ps, err, sizeof(err)) == 0 &&
	    ps == 5 * MiB, "configured 5 MiB");
	ok(s3_part_size(1 * MiB, -1, &ps, err, sizeof(err)) == 0 &&
	    ps == 5 * MiB, "never below 5 MiB");
	ok(s3_part_size(8 * MiB, (int64_t)(8 * MiB) * 10000, &ps, err,
	    sizeof(err)) == 0 && ps == 8 * MiB,
	    "exactly 10,000 parts of 8 MiB: unchanged");
	ok(s3_part_size(8 * MiB, (int64_t)(8 * MiB) * 10000 + 1, &ps, err,
	    sizeof(err)) == 0 && ps == 9 * MiB,
	    "one byte more: grown to 9 MiB (whole MiB)");
	ok(s3_part_size(8 * MiB, 100LL << 30, &ps, err, sizeof(err)) == 0 &&
	    ps == 11 * MiB, "100 GiB: 11 MiB parts");
	ok(s3_part_size(8 * MiB, 5LL << 40, &ps, err, sizeof(err)) == 0 &&
	    ps == 525 * MiB, "5 TiB: 525 MiB parts");
	ok(s3_part_size(8 * MiB, (5LL << 40) + 1, &ps, err, sizeof(err)) < 0 &&
	    strstr(err, "5 TiB"), "above 5 TiB: refused");
	/* growth after parts went up */
	is_int(s3_next_part_size(8 * MiB, -1, 0, 0), 8 * MiB,
	    "no hint, first part: base");
	is_int(s3_next_part_size(8 * MiB, -1, 0, 1999), 8 * MiB,
	    "no hint, part 2000: base");
	is_int(s3_next_part_size(8 * MiB, -1, 0, 2000), 16 * MiB,
	    "no hint, part 2001: doubled");
	is_int(s3_next_part_size(8 * MiB, -1, 0, 9999), 128 * MiB,
	    "no hint, part 10000: 128 MiB");
	is_int(s3_next_part_size(11 * MiB, 100LL << 30, 50 * MiB, 5),
	    11 * MiB, "on track with the hint: unchanged");
	is_int(s3_next_part_size(8 * MiB, 100LL << 30, 8 * MiB, 9000),
	    103 * MiB, "behind the hint: the rest spread over the parts left");
	is_int(s3_next_part_size(8 * MiB, 10 * MiB, 16 * MiB, 2),
	    8 * MiB, "past the hint, few parts: base");
	is_int(s3_next_part_size(8 * MiB, 10 * MiB, 16 * MiB, 4000),
	    32 * MiB, "past the hint: the doubling schedule");
	is_int(s3_next_part_size(512 * MiB, -1, 0, 9999),
	    (size_t)5 << 30, "never above 5 GiB");
	{
		/* 10,000 parts without a hint, by the schedule */
		uint64_t sum = 0;
		unsigned n;

		for (n = 0; n < 10000; n++)
			sum += s3_next_part_size(8 * MiB, -1, sum, n);
		ok(sum == (uint64_t)496000 * MiB,
		    "no hint: 10,000 parts hold 496,000 MiB (484 GiB)");
	}
	for (i = 0; i < ARRAY_SIZE(hints); i++) {
		bool fits = s3_part_size(8 * MiB, hints[i], &ps, err,
		    sizeof(err)) == 0 && ps >= 5 * MiB &&
		    (uint64_t)ps * 10000 >= (uint64_t)hints[i] &&
		    ps % MiB == 0 && ps <= ((size_t)5 << 30);

		ok(fits, "a hint fits in 10,000 whole-MiB parts");
	}
}

/* ---- XML ---- */

static const char err_nosuchkey[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error>\n"
    "  <Code>NoSuchKey</Code>\n"
    "  <Message>The resource you requested does not exist</Message>\n"
    "  <Resource>/mybucket/myfoto.jpg</Resource> \n"
    "  <RequestId>4442587FB7D0A2F9</RequestId>\n"
    "</Error>";

static const char err_nosuchbucket[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does "
    "not exist</Message><BucketName>no-such-bucket-4711</BucketName>"
    "<RequestId>4R5ZK1JY8C4ZFH1V</RequestId><HostId>QpEi0b8R1t0Lq4bbQd5"
    "1kSlP6AajlLEdvLwZKiA0VOUFMUi/r2P1RYb0H+VLmbSS6dWzsvEcz1M=</HostId>"
    "</Error>";

static const char err_signature[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
    "signature we calculated does not match the signature you provided. "
    "Check your key and signing method.</Message><AWSAccessKeyId>"
    "AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n"
    "20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    "</StringToSign><SignatureProvided>f0e8bdb87c964420e857bd35b5d6ed31"
    "0bd44f0170aba48dd91039c6036bdb41</SignatureProvided><StringToSignBytes>"
    "41 57 53 34</StringToSignBytes><CanonicalRequest>GET\n/test.txt\n\n"
    "host:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
    "</CanonicalRequest><CanonicalRequestBytes>47 45 54</CanonicalRequestBytes>"
    "<RequestId>6B4E1F0C4F7F3D2A</RequestId><HostId>vsHy1lR0x/ok=</HostId>"
    "</Error>";

/* CompleteMultipartUpload may answer 200 with this body. */
static const char err_internal[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n"
    "<Error>\n<Code>InternalError</Code>\n<Message>We encountered an "
    "internal error. Please try again.</Message>\n"
    "<RequestId>656c76696e6727732072657175657374</RequestId>\n"
    "<HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg=="
    "</HostId>\n</Error>";

static const char err_redirect[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>PermanentRedirect</Code><Message>The bucket you are "
    "attempting to access must be addressed using the specified endpoint. "
    "Please send all future requests to this endpoint.</Message>"
    "<Endpoint>my-bucket.s3.eu-west-1.amazonaws.com</Endpoint>"
    "<Bucket>my-bucket</Bucket><RequestId>A1B2C3</RequestId>"
    "<HostId>xyz=</HostId></Error>";

static const char err_range[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>InvalidRange</Code><Message>The requested range is not "
    "satisfiable</Message><RangeRequested>bytes=1000-</RangeRequested>"
    "<ActualObjectSize>1000</ActualObjectSize><RequestId>R1</RequestId>"
    "<HostId>H1</HostId></Error>";

static const char err_entities[] =
    "<Error><Code>AuthorizationHeaderMalformed</Code><Message>The "
    "authorization header is malformed; the region &apos;us-east-1&apos; "
    "is wrong; expecting &quot;eu-west-1&quot; &amp; more &#x41;&#66; "
    "&#233;</Message><Region>eu-west-1</Region></Error>";

static const char err_minio[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>AccessDenied</Code><Message>Access Denied.</Message>"
    "<Key>a/b</Key><BucketName>b</BucketName><Resource>/b/a/b</Resource>"
    "<RequestId>17A2B</RequestId><HostId>dd9025bab4ad464b049177c95eb6ebf3"
    "74d3b3fd1af9251148b658df7ac2e3e8</HostId></Error>";

static int
perr(const char *doc, char *code, size_t codelen, char *msg, size_t msglen)
{
	return s3_parse_error(doc, strlen(doc), code, codelen, msg, msglen);
}

static void
err_case(const char *doc, const char *want_code, const char *want_msg,
    const char *name)
{
	char code[64] = "", msg[512] = "";

	if (!ok(s3_parse_error(doc, strlen(doc), code, sizeof(code), msg,
	    sizeof(msg)) == 0, name))
		return;
	is_str(code, want_code, "  code");
	is_str(msg, want_msg, "  message");
}

static void
test_errors(void)
{
	char code[64] = "untouched", msg[64] = "untouched";
	const char *list = "<ListBucketResult><Name>b</Name></ListBucketResult>";

	err_case(err_nosuchkey, "NoSuchKey",
	    "S3 NoSuchKey: The resource you requested does not exist",
	    "NoSuchKey (indented)");
	err_case(err_nosuchbucket, "NoSuchBucket",
	    "S3 NoSuchBucket: The specified bucket does not exist",
	    "NoSuchBucket");
	err_case(err_signature, "SignatureDoesNotMatch",
	    "S3 SignatureDoesNotMatch: The request signature we calculated "
	    "does not match the signature you provided. Check your key and "
	    "signing method.", "SignatureDoesNotMatch (with StringToSign)");
	err_case(err_internal, "InternalError", "S3 InternalError: We "
	    "encountered an internal error. Please try again.",
	    "InternalError (a 200 Complete body)");
	err_case(err_redirect, "PermanentRedirect", "S3 PermanentRedirect: "
	    "The bucket you are attempting to access must be addressed using "
	    "the specified endpoint. Please send all future requests to this "
	    "endpoint.", "PermanentRedirect");
	err_case(err_range, "InvalidRange", "S3 InvalidRange: The requested "
	    "range is not satisfiable", "InvalidRange");
	err_case(err_entities, "AuthorizationHeaderMalformed",
	    "S3 AuthorizationHeaderMalformed: The authorization header is "
	    "malformed; the region 'us-east-1' is wrong; expecting "
	    "\"eu-west-1\" & more AB \xc3\xa9", "entities decoded");
	err_case(err_minio, "AccessDenied", "S3 AccessDenied: Access Denied.",
	    "MinIO's AccessDenied");
	err_case("<Error><Code>SlowDown</Code></Error>", "SlowDown",
	    "S3 SlowDown", "no message");
	err_case("<Error><Code>X</Code><Message>two\nlines\tand\x01"
	    "</Message></Error>", "X", "S3 X: two lines and ",
	    "control characters become spaces");
	err_case("<Error><Message>m</Message><Code><![CDATA[C<1>]]></Code>"
	    "</Error>", "C<1>", "S3 C<1>: m", "CDATA, Message before Code");

	ok(s3_parse_error(list, strlen(list), code, sizeof(code), msg,
	    sizeof(msg)) < 0, "not an error document");
	is_str(msg, "untouched", "  message untouched");
	ok(perr("<Error><Message>m</Message></Error>", code,
	    sizeof(code), msg, sizeof(msg)) < 0, "an Error without Code");
	ok(perr("", code, sizeof(code), msg, sizeof(msg)) < 0,
	    "empty body");
	ok(s3_parse_error(NULL, 0, code, sizeof(code), msg, sizeof(msg)) < 0,
	    "no body");
	ok(s3_parse_error(err_nosuchkey, 60, code, sizeof(code), msg,
	    sizeof(msg)) < 0, "truncated body");
	ok(perr("<html><body>502 Bad Gateway</body></html>", code,
	    sizeof(code), msg, sizeof(msg)) < 0, "a proxy's HTML page");
	/* only the root's own children count */
	ok(perr("<Error><Details><Code>Inner</Code></Details>"
	    "</Error>", code, sizeof(code), msg, sizeof(msg)) < 0,
	    "a nested Code is not the error code");
}

static void
xml_tokens(const char *doc, const char *want, const char *name)
{
	struct s3_xml x;
	enum s3_xml_tok t;
	char got[512] = "";
	size_t n = 0;

	s3_xml_init(&x, doc, strlen(doc));
	while ((t = s3_xml_next(&x)) != S3_XML_EOF && n + 80 < sizeof(got)) {
		if (t == S3_XML_ERROR) {
			n += (size_t)snprintf(got + n, sizeof(got) - n, "!");
			break;
		}
		if (t == S3_XML_OPEN)
			n += (size_t)snprintf(got + n, sizeof(got) - n,
			    "<%.*s%d", (int)x.namelen, x.name, x.depth);
		else if (t == S3_XML_CLOSE)
			n += (size_t)snprintf(got + n, sizeof(got) - n,
			    ">%.*s", (int)x.namelen, x.name);
		else
			n += (size_t)snprintf(got + n, sizeof(got) - n,
			    "[%.*s]", (int)x.textlen, x.text);
	}
	is_str(got, want, name);
}

static char *
child(const char *doc, const char *name)
{
	return s3_xml_child(doc, strlen(doc), name);
}

static bool
root_is(const char *doc, const char *name)
{
	return s3_xml_root_is(doc, strlen(doc), name);
}

static void
unescape_case(const char *in, const char *want, const char *name)
{
	char *s = s3_xml_unescape(in, strlen(in));

	is_str(s, want, name);
	free(s);
}

static void
test_xml(void)
{
	char *v;

	xml_tokens("<?xml version=\"1.0\"?>\n<!-- c > -->\n<a x=\"1>2\" "
	    "y='/>'><b/><s3:c xmlns:s3=\"u\">t<![CDATA[<&>]]>u</s3:c>"
	    "</a>\n", "<a1<b2>b<c2[t][<&>][u]>c>a",
	    "declaration, comment, quoted '>', self-closing, prefix, CDATA");
	xml_tokens("<a>", "<a1!", "unclosed root");
	xml_tokens("<a><b></a>", "<a1<b2>a!", "unbalanced");
	xml_tokens("x<a/>", "!", "text before the root");
	xml_tokens("<a></a>junk", "<a1>a!", "text after the root");
	xml_tokens("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", "!",
	    "an internal DTD subset is refused");
	xml_tokens("<a><!-- open", "<a1!", "unterminated comment");
	xml_tokens("<a x=\"1></a>", "!", "unterminated attribute");

	unescape_case("a&lt;b&gt;c&amp;d&quot;e&apos;f", "a<b>c&d\"e'f",
	    "the five entities");
	unescape_case("&#65;&#x42;&#x10FFFF;&#x20AC;", "AB\xf4\x8f\xbf\xbf"
	    "\xe2\x82\xac", "numeric references as UTF-8");
	unescape_case("&foo;", NULL, "unknown entity");
	unescape_case("&AMP;", NULL, "entities are case-sensitive");
	unescape_case("a & b", NULL, "bare ampersand");
	unescape_case("&#0;", NULL, "NUL reference");
	unescape_case("&#xD800;", NULL, "surrogate");
	unescape_case("&#x110000;", NULL, "beyond Unicode");
	unescape_case("&#;", NULL, "empty reference");
	unescape_case("&#x;", NULL, "empty hex reference");
	unescape_case("&#12a;", NULL, "bad digit");
	unescape_case("&#x000000041;", NULL, "too many digits");

	v = child("<InitiateMultipartUploadResult xmlns=\"http://s3."
	    "amazonaws.com/doc/2006-03-01/\">\n  <Bucket>example-bucket"
	    "</Bucket>\n  <Key>example-object</Key>\n  <UploadId>VXBsb2FkIEl"
	    "EIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>\n"
	    "</InitiateMultipartUploadResult>", "UploadId");
	is_str(v, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA",
	    "UploadId of InitiateMultipartUploadResult");
	free(v);
	v = child("<CompleteMultipartUploadResult xmlns=\"http://s3."
	    "amazonaws.com/doc/2006-03-01/\"><Location>https://b.s3.amazonaws"
	    ".com/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>&quot;"
	    "3858f62230ac3c915f300c664312c11f-9&quot;</ETag>"
	    "</CompleteMultipartUploadResult>", "ETag");
	is_str(v, "\"3858f62230ac3c915f300c664312c11f-9\"",
	    "ETag of CompleteMultipartUploadResult (&quot;)");
	free(v);
	v = child("<R><A><ETag>inner</ETag></A><ETag>outer</ETag></R>", "ETag");
	is_str(v, "outer", "a child of the root, not a grandchild");
	free(v);
	v = child("<R><Prefix/></R>", "Prefix");
	is_str(v, "", "an empty element is \"\"");
	free(v);
	v = child("<R><X>a&bogus;</X></R>", "X");
	ok(v == NULL, "a bad entity gives NULL");
	free(v);
	ok(root_is("<?xml version=\"1.0\"?><Error/>", "Error"),
	    "root after the declaration");
	ok(!root_is("<ErrorX/>", "Error"), "root name is exact");
}

/* ---- listings ---- */

struct items {
	char keys[16][96];
	uint64_t sizes[16];
	double mtimes[16];
	int n;
};

static void
item_cb(const char *key, uint64_t size, double mtime, void *arg)
{
	struct items *it = arg;

	if (it->n < 16) {
		snprintf(it->keys[it->n], sizeof(it->keys[0]), "%s", key);
		it->sizes[it->n] = size;
		it->mtimes[it->n] = mtime;
	}
	it->n++;
}

static const char list_page1[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Name>bucket</Name><Prefix>photos%2F</Prefix><KeyCount>3</KeyCount>"
    "<MaxKeys>3</MaxKeys><IsTruncated>true</IsTruncated>"
    "<Contents><Key>photos/2006/January/sample.jpg</Key>"
    "<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
    "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>"
    "<Size>434234</Size><Owner><ID>75aa57f0</ID><DisplayName>me"
    "</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>"
    "<Contents><Key>photos/a+b%2Bc%26d%C3%BC</Key>"
    "<LastModified>2024-02-29T23:59:59Z</LastModified>"
    "<ETag>\"x\"</ETag><Size>0</Size></Contents>"
    "<Contents><Key>photos/big</Key>"
    "<LastModified>2024-01-01T00:00:00.5Z</LastModified>"
    "<Size>5497558138880</Size></Contents>"
    "<EncodingType>url</EncodingType>"
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
    "</NextContinuationToken><StartAfter>photos%2F</StartAfter>"
    "</ListBucketResult>";

static void
test_list(void)
{
	struct items it;
	char err[256], *next = NULL;
	bool trunc = false;
	const char *last = "<ListBucketResult><Name>b</Name><Prefix/>"
	    "<KeyCount>1</KeyCount><IsTruncated>false</IsTruncated><Contents>"
	    "<Key>a&amp;b+c</Key><LastModified>2020-01-01T00:00:00Z"
	    "</LastModified><Size>7</Size></Contents></ListBucketResult>";
	const char *empty = "<ListBucketResult><Name>b</Name><KeyCount>0"
	    "</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>";
	const char *bad[] = {
		"<ListBucketResult><Contents><Size>1</Size><LastModified>"
		"2020-01-01T00:00:00Z</LastModified></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size>"
		"<LastModified>2020-01-01T00:00:00Z</LastModified></Contents>"
		"</ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>1</Size>"
		"<LastModified>yesterday</LastModified></Contents>"
		"</ListBucketResult>",
		"<ListBucketResult><EncodingType>url</EncodingType><Contents>"
		"<Key>k%zz</Key><Size>1</Size><LastModified>2020-01-01T00:00:00Z"
		"</LastModified></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key>",
		"<Error><Code>AccessDenied</Code></Error>",
	};
	size_t i;

	memset(&it, 0, sizeof(it));
	ok(s3_parse_list(list_page1, strlen(list_page1), item_cb, &it, &trunc,
	    &next, err, sizeof(err)) == 0, "ListObjectsV2 page parsed");
	is_int(it.n, 3, "  three objects");
	is_str(it.keys[0], "photos/2006/January/sample.jpg", "  key 1");
	is_str(it.keys[1], "photos/a b+c&d\xc3\xbc",
	    "  key 2 URL-decoded ('+' is a space)");
	is_int(it.sizes[0], 434234, "  size 1");
	is_int(it.sizes[1], 0, "  size 2");
	ok(it.sizes[2] == 5497558138880ULL, "  size 3 (5 TiB)");
	is_int((long long)it.mtimes[0], 1255369830, "  LastModified 1");
	is_int((long long)it.mtimes[1], 1709251199, "  LastModified 2");
	ok(trunc, "  truncated");
	is_str(next, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
	    "  continuation token as sent (not URL-decoded)");
	free(next);

	memset(&it, 0, sizeof(it));
	ok(s3_parse_list(last, strlen(last), item_cb, &it, &trunc, &next,
	    err, sizeof(err)) == 0, "last page parsed");
	ok(!trunc && next == NULL, "  not truncated, no token");
	is_str(it.keys[0], "a&b+c", "  no EncodingType: '+' stays");
	memset(&it, 0, sizeof(it));
	ok(s3_parse_list(empty, strlen(empty), item_cb, &it, &trunc, &next,
	    err, sizeof(err)) == 0 && it.n == 0 && !trunc,
	    "empty listing");
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		char name[64];

		snprintf(name, sizeof(name), "malformed listing %zu refused", i);
		memset(&it, 0, sizeof(it));
		err[0] = '\0';
		ok(s3_parse_list(bad[i], strlen(bad[i]), item_cb, &it, &trunc,
		    &next, err, sizeof(err)) < 0 && err[0] && next == NULL,
		    name);
	}
}

struct uploads {
	char keys[4][64], ids[4][96];
	double init[4];
	int n;
};

static void
upload_cb(const char *key, const char *id, double initiated, void *arg)
{
	struct uploads *u = arg;

	if (u->n < 4) {
		snprintf(u->keys[u->n], sizeof(u->keys[0]), "%s", key);
		snprintf(u->ids[u->n], sizeof(u->ids[0]), "%s", id);
		u->init[u->n] = initiated;
	}
	u->n++;
}

static void
test_uploads(void)
{
	static const char doc[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/"
	    "2006-03-01/\">\n  <Bucket>bucket</Bucket>\n  <KeyMarker></KeyMarker>"
	    "\n  <UploadIdMarker></UploadIdMarker>\n  <NextKeyMarker>my-movie"
	    ".m2ts</NextKeyMarker>\n  <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVs"
	    "dmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>\n  <MaxUploads>3"
	    "</MaxUploads>\n  <IsTruncated>true</IsTruncated>\n  <Upload>\n"
	    "    <Key>my-divisor</Key>\n    <UploadId>XMgbGlrZSBlbHZpbmcncyBub"
	    "3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>\n    <Initiator>\n      <ID>"
	    "arn:aws:iam::111122223333:user/user1</ID>\n      <DisplayName>"
	    "user1</DisplayName>\n    </Initiator>\n    <Owner>\n      <ID>"
	    "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a"
	    "</ID>\n      <DisplayName>OwnerDisplayName</DisplayName>\n"
	    "    </Owner>\n    <StorageClass>STANDARD</StorageClass>\n"
	    "    <Initiated>2010-11-10T20:48:33.000Z</Initiated>\n  </Upload>\n"
	    "  <Upload>\n    <Key>my-movie.m2ts</Key>\n    <UploadId>VXBsb2FkI"
	    "ElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>\n"
	    "    <StorageClass>STANDARD</StorageClass>\n    <Initiated>"
	    "2010-11-10T20:48:33.000Z</Initiated>\n  </Upload>\n"
	    "</ListMultipartUploadsResult>";
	struct uploads u;
	char err[256], *nk = NULL, *ni = NULL;
	bool trunc = false;
	const char *noid = "<ListMultipartUploadsResult><Upload><Key>k</Key>"
	    "</Upload></ListMultipartUploadsResult>";

	memset(&u, 0, sizeof(u));
	ok(s3_parse_uploads(doc, strlen(doc), upload_cb, &u, &trunc, &nk, &ni,
	    err, sizeof(err)) == 0, "ListMultipartUploads page parsed");
	is_int(u.n, 2, "  two uploads");
	is_str(u.keys[0], "my-divisor", "  key 1");
	is_str(u.ids[1], "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHV"
	    "wbG9hZA", "  upload id 2");
	is_int((long long)u.init[0], 1289422113, "  Initiated");
	ok(trunc, "  truncated");
	is_str(nk, "my-movie.m2ts", "  next key marker");
	is_str(ni, "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ",
	    "  next upload id marker");
	free(nk);
	free(ni);
	ok(s3_parse_uploads(noid, strlen(noid), upload_cb, &u, &trunc, &nk,
	    &ni, err, sizeof(err)) < 0 && strstr(err, "UploadId"),
	    "an upload without UploadId is refused");
}

/* ---- small helpers ---- */

static void
test_helpers(void)
{
	uint64_t a = 0, b = 0;
	int64_t t = 0;
	char out[64], *s;
	unsigned char md[3][16];
	unsigned int len = 16;
	const char *etags[] = { "\"3303e12af474ca11d85ed2966a932992\"",
	    "a&b<c>" };
	const char *shas[] = { "Zm9v", "YmFy" };

	ok(s3_parse_content_range("bytes 100-199/1000", &a, &b, &t) == 0 &&
	    a == 100 && b == 199 && t == 1000, "Content-Range");
	ok(s3_parse_content_range("bytes 0-0/*", &a, &b, &t) == 0 && a == 0 &&
	    b == 0 && t == -1, "Content-Range, unknown total");
	ok(s3_parse_content_range("bytes 5-4/10", &a, &b, &t) < 0,
	    "Content-Range backwards");
	ok(s3_parse_content_range("bytes 0-9/9", &a, &b, &t) < 0,
	    "Content-Range past the total");
	ok(s3_parse_content_range("items 0-9/10", &a, &b, &t) < 0,
	    "Content-Range other unit");
	ok(s3_parse_content_range("bytes */10", &a, &b, &t) < 0,
	    "Content-Range unsatisfied form");
	ok(s3_parse_content_range("", &a, &b, &t) < 0, "no Content-Range");

	s = s3_url_decode("a%20b+c%2Bd%2f", 14);
	is_str(s, "a b c+d/", "URL decoding");
	free(s);
	ok(s3_url_decode("%zz", 3) == NULL, "bad escape");
	ok(s3_url_decode("ab%4", 4) == NULL, "short escape");
	ok(s3_url_decode("%", 1) == NULL, "lone percent");
	ok(s3_url_decode("%00", 3) == NULL, "decoded NUL");

	s3_etag_normalize("\"3858F62230AC3C915F300C664312C11F-9\"", out,
	    sizeof(out));
	is_str(out, "3858f62230ac3c915f300c664312c11f-9", "ETag: quotes, case");
	s3_etag_normalize(" W/\"abc\" ", out, sizeof(out));
	is_str(out, "abc", "ETag: weak, spaces");
	s3_etag_normalize("abc", out, sizeof(out));
	is_str(out, "abc", "ETag without quotes");

	EVP_Digest("part one", 8, md[0], &len, EVP_md5(), NULL);
	EVP_Digest("part two", 8, md[1], &len, EVP_md5(), NULL);
	EVP_Digest("", 0, md[2], &len, EVP_md5(), NULL);
	s3_multipart_etag((const unsigned char (*)[16])md, 2, out);
	is_str(out, "0732917abc3288784e318ac0aab1757a-2",
	    "multipart ETag of two parts");
	s3_multipart_etag((const unsigned char (*)[16])md, 3, out);
	is_str(out, "373b9f8e22addbee48a23c0f7e2d7091-3",
	    "multipart ETag of three parts");
	s3_multipart_etag((const unsigned char (*)[16])md, 1, out);
	is_str(out, "a675974b8fb9bfea1d5007ce26896811-1",
	    "multipart ETag of one part");

	s = s3_complete_xml(etags, NULL, 2);
	is_str(s, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/"
	    "doc/2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>&quot;"
	    "3303e12af474ca11d85ed2966a932992&quot;</ETag></Part><Part>"
	    "<PartNumber>2</PartNumber><ETag>a&amp;b&lt;c&gt;</ETag></Part>"
	    "</CompleteMultipartUpload>", "CompleteMultipartUpload body");
	free(s);
	s = s3_complete_xml(etags, shas, 1);
	is_str(s, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/"
	    "doc/2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>&quot;"
	    "3303e12af474ca11d85ed2966a932992&quot;</ETag><ChecksumSHA256>"
	    "Zm9v</ChecksumSHA256></Part></CompleteMultipartUpload>",
	    "CompleteMultipartUpload body with checksums");
	free(s);
}

static void
redact_case(const char *in, const char *want, const char *name)
{
	char *s = s3_redact_line(in);

	is_str(s, want, name);
	free(s);
}

static void
test_redact(void)
{
	redact_case("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
	    "20150830/us-east-1/s3/aws4_request, SignedHeaders=host, "
	    "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924"
	    "a6f2b5d7", "Authorization: [REDACTED]", "Authorization");
	redact_case("authorization:x", "authorization: [REDACTED]",
	    "lower case, no space");
	redact_case("X-Amz-Security-Token: FwoGZXIvYXdzEBYaDHhBTEXAMPLETOKEN",
	    "X-Amz-Security-Token: [REDACTED]", "session token header");
	redact_case("Proxy-Authorization: Basic dXNlcjpwdw==",
	    "Proxy-Authorization: [REDACTED]", "proxy credentials");
	redact_case("GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential"
	    "=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature="
	    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	    "&x-amz-security-token=tok HTTP/1.1",
	    "GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
	    "[REDACTED]&X-Amz-Signature=[REDACTED]&x-amz-security-token="
	    "[REDACTED] HTTP/1.1", "presigned query parameters");
	redact_case("x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb924",
	    "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb924",
	    "a payload hash stays");
	redact_case("Host: bkt.s3.amazonaws.com", "Host: bkt.s3.amazonaws.com",
	    "Host stays");
	redact_case("", "", "empty line");
}

/* ---- the client on a loop, no server needed ---- */

struct result {
	int calls;
	bool ok;
	char err[384];
};

static void
put_done(struct s3_put *p, bool okv, const char *err, void *arg)
{
	struct result *r = arg;

	(void)p;
	r->calls++;
	r->ok = okv;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

static void
get_done(struct s3_get *g, bool okv, const char *err, void *arg)
{
	struct result *r = arg;

	(void)g;
	r->calls++;
	r->ok = okv;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

static bool
get_data(struct s3_get *g, const void *p, size_t n, void *arg)
{
	(void)g;
	(void)p;
	(void)n;
	(void)arg;
	return true;
}

static void
del_done(bool okv, const char *err, void *arg)
{
	struct result *r = arg;

	r->calls++;
	r->ok = okv;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

/* A loopback port nothing listens on (bound, never listened). */
static int
dead_port(int *fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(*fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	return ntohs(sa.sin_port);
}

static void
run_until(struct ev_loop *loop, struct s3_client *c, int *calls)
{
	double end = mono_now() + 30;

	while ((*calls == 0 || s3_client_pending(c) > 0) && mono_now() < end)
		ev_run(loop, EVRUN_ONCE);
}

static void
test_client(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct curlev *m = curlev_new(loop);
	struct s3_config cfg;
	struct s3_client *c;
	struct s3_put *p;
	struct s3_get_cb gcb = { get_data, get_done };
	struct s3_put_cb pcb = { NULL, put_done };
	struct result r;
	char err[256], ep[64];
	int fd = -1, port;

	memset(&cfg, 0, sizeof(cfg));
	cfg.region = "us-east-1";
	cfg.bucket = "bkt";
	cfg.endpoint = "http://127.0.0.1:1";
	ok(s3_client_new(m, &cfg, err, sizeof(err)) == NULL &&
	    strstr(err, "credentials"), "no credentials: refused");
	cfg.access_key_id = "AKIDEXAMPLE";
	cfg.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	cfg.session_token = "tok\r\nX-Injected: 1";
	ok(s3_client_new(m, &cfg, err, sizeof(err)) == NULL &&
	    strstr(err, "control"), "CR LF in the token: refused");
	ok(strstr(err, "tok") == NULL && strstr(err, "EXAMPLEKEY") == NULL,
	    "  the refusal shows no credential");
	cfg.session_token = NULL;
	cfg.part_size = 4 * MiB;
	ok(s3_client_new(m, &cfg, err, sizeof(err)) == NULL &&
	    strstr(err, "part size"), "4 MiB parts: refused");
	cfg.part_size = 0;
	cfg.endpoint = "gopher://x";
	ok(s3_client_new(m, &cfg, err, sizeof(err)) == NULL,
	    "bad endpoint: refused");

	port = dead_port(&fd);
	if (!ok(port > 0, "a dead loopback port")) {
		curlev_free(m);
		ev_loop_destroy(loop);
		return;
	}
	snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", port);
	cfg.endpoint = ep;
	cfg.max_tries = 3;
	cfg.retry_initial = 0.01;
	c = s3_client_new(m, &cfg, err, sizeof(err));
	if (!ok(c != NULL, "client made")) {
		diag("%s", err);
		curlev_free(m);
		ev_loop_destroy(loop);
		return;
	}
	is_int(s3_client_part_size(c), 8 * MiB, "default part size");

	/* a size hint above 5 TiB fails from the loop, not inside new */
	memset(&r, 0, sizeof(r));
	p = s3_put_new(c, "big", (int64_t)(6ULL << 40), &pcb, &r);
	is_int(r.calls, 0, "no callback inside s3_put_new");
	is_int(s3_put_write(p, "x", 1), 0, "a failed upload takes nothing");
	run_until(loop, c, &r.calls);
	ok(r.calls == 1 && !r.ok && strstr(r.err, "5 TiB"),
	    "size hint above 5 TiB: done(false) once");
	is_int(s3_client_stats(c)->requests, 0, "  nothing was sent");

	/* refused connections: max_tries attempts, then one failure */
	memset(&r, 0, sizeof(r));
	s3_get_new(c, "k", 0, &gcb, &r);
	run_until(loop, c, &r.calls);
	ok(r.calls == 1 && !r.ok, "GET to a dead port fails once");
	ok(strstr(r.err, "S3 GetObject: ") == r.err, "  error names the action");
	is_int(s3_client_stats(c)->requests, 3, "  three attempts (max_tries)");
	is_int(s3_client_stats(c)->retries, 2, "  two of them retries");

	/* a small upload that cannot connect: retried, then done(false) */
	memset(&r, 0, sizeof(r));
	p = s3_put_new(c, "small", -1, &pcb, &r);
	is_int(s3_put_write(p, "hello", 5), 5, "small write taken");
	s3_put_finish(p);
	is_int(s3_put_write(p, "x", 1), 0, "nothing taken after finish");
	run_until(loop, c, &r.calls);
	ok(r.calls == 1 && !r.ok && strstr(r.err, "S3 PutObject: "),
	    "PutObject to a dead port fails once");
	is_int(s3_client_stats(c)->requests, 6, "  three more attempts");

	/* an upload aborted before anything was sent: no callback */
	memset(&r, 0, sizeof(r));
	p = s3_put_new(c, "aborted", -1, &pcb, &r);
	is_int(s3_put_write(p, "abc", 3), 3, "write before abort");
	s3_put_abort(p);
	is_int(s3_client_pending(c), 0, "abort before any request: nothing "
	    "pending");
	ev_run(loop, EVRUN_NOWAIT);
	is_int(r.calls, 0, "  and no callback");

	/* delete: the same retry path */
	memset(&r, 0, sizeof(r));
	s3_delete(c, "k", del_done, &r);
	run_until(loop, c, &r.calls);
	ok(r.calls == 1 && !r.ok && strstr(r.err, "S3 DeleteObject: "),
	    "DeleteObject to a dead port fails once");

	/* freeing the client with operations in flight: no callback */
	memset(&r, 0, sizeof(r));
	s3_get_new(c, "k", 0, &gcb, &r);
	is_int(s3_client_pending(c), 1, "one operation pending");
	s3_client_free(c);
	is_int(r.calls, 0, "client freed with a GET in flight: no callback");

	close(fd);
	curlev_free(m);
	ev_loop_destroy(loop);
}

int
main(void)
{
	log_set_level(LOG_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_addr();
	test_part_size();
	test_errors();
	test_xml();
	test_list();
	test_uploads();
	test_helpers();
	test_redact();
	test_client();
	curl_global_cleanup();
	return done_testing();
}
