/* sigv4.c: AWS SigV4 against the aws-sig-v4-test-suite and the S3
 * documentation examples; key cache, encoding helpers, errors. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "tap.h"

/* The test suite's credentials, date, region and service. */
#define SUITE_AKID	"AKIDEXAMPLE"
#define SUITE_SECRET	"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_TIME	1440938160	/* 2015-08-30T12:36:00Z */
#define SUITE_SCOPE	"AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
#define SUITE_STS(h) \
	"AWS4-HMAC-SHA256\n20150830T123600Z\n" \
	"20150830/us-east-1/service/aws4_request\n" h
#define SUITE_AUTHZ(sh, sig) \
	"AWS4-HMAC-SHA256 Credential=" SUITE_SCOPE ", SignedHeaders=" sh \
	", Signature=" sig

#define STS_TOKEN \
	"AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLW" \
	"sKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGd" \
	"eehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd" \
	"8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm" \
	"8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

#define HOST	{ "Host", "example.amazonaws.com" }
#define DATE	{ "X-Amz-Date", "20150830T123600Z" }

/* S3 documentation examples ("Signature Calculations for the Authorization
 * Header: Transferring Payload in a Single Chunk"). */
#define S3_AKID		"AKIAIOSFODNN7EXAMPLE"
#define S3_SECRET	"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_TIME		1369353600	/* 2013-05-24T00:00:00Z */
#define S3_HOST		{ "Host", "examplebucket.s3.amazonaws.com" }
#define S3_AUTHZ(sh, sig) \
	"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/" \
	"us-east-1/s3/aws4_request, SignedHeaders=" sh ", Signature=" sig

struct vec {
	const char *name;
	const char *method;
	const char *path;
	struct sigv4_kv query[3];
	struct sigv4_kv headers[6];
	const char *payload;		/* hex, NULL = empty body */
	const char *token;
	const char *creq;		/* NULL: not published */
	const char *sts;
	const char *authz;
};

static const struct vec suite[] = {
	{ "get-vanilla", "GET", "/", { { 0 } }, { HOST, DATE }, NULL, NULL,
	  "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
	  "\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
	  SUITE_AUTHZ("host;x-amz-date",
	  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") },
	{ "get-vanilla-query-order-key-case", "GET", "/",
	  { { "Param2", "value2" }, { "Param1", "value1" } }, { HOST, DATE },
	  NULL, NULL,
	  "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n"
	  "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
	  SUITE_AUTHZ("host;x-amz-date",
	  "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500") },
	{ "get-vanilla-query-order-key", "GET", "/",
	  { { "Param1", "value2" }, { "Param1", "Value1" } }, { HOST, DATE },
	  NULL, NULL,
	  "GET\n/\nParam1=Value1&Param1=value2\nhost:example.amazonaws.com\n"
	  "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89"),
	  SUITE_AUTHZ("host;x-amz-date",
	  "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1") },
	{ "get-vanilla-query-unreserved", "GET", "/",
	  { { "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" } },
	  { HOST, DATE }, NULL, NULL,
	  "GET\n/\n-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	  "=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n"
	  "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	  "host;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177"),
	  SUITE_AUTHZ("host;x-amz-date",
	  "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197") },
	{ "get-vanilla-utf8-query", "GET", "/",
	  { { "\xe1\x88\xb4", "bar" } }, { HOST, DATE }, NULL, NULL,
	  "GET\n/\n%E1%88%B4=bar\nhost:example.amazonaws.com\n"
	  "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073"),
	  SUITE_AUTHZ("host;x-amz-date",
	  "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04") },
	{ "get-vanilla-empty-query-key", "GET", "/",
	  { { "Param1", "value1" } }, { HOST, DATE }, NULL, NULL,
	  "GET\n/\nParam1=value1\nhost:example.amazonaws.com\n"
	  "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab"),
	  SUITE_AUTHZ("host;x-amz-date",
	  "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb") },
	{ "get-unreserved", "GET",
	  "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	  { { 0 } }, { HOST, DATE }, NULL, NULL,
	  "GET\n/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	  "\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	  "host;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9"),
	  SUITE_AUTHZ("host;x-amz-date",
	  "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f") },
	{ "get-utf8", "GET", "/\xe1\x88\xb4", { { 0 } }, { HOST, DATE },
	  NULL, NULL,
	  "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\n"
	  "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102"),
	  SUITE_AUTHZ("host;x-amz-date",
	  "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85") },
	{ "get-space", "GET", "/example space/", { { 0 } }, { HOST, DATE },
	  NULL, NULL,
	  "GET\n/example%20space/\n\nhost:example.amazonaws.com\n"
	  "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86"),
	  SUITE_AUTHZ("host;x-amz-date",
	  "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741") },
	{ "get-header-value-trim", "GET", "/", { { 0 } },
	  { HOST, { "My-Header1", " value1" }, { "My-Header2", " \"a   b   c\"" },
	    DATE }, NULL, NULL,
	  "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\n"
	  "my-header2:\"a b c\"\nx-amz-date:20150830T123600Z\n\n"
	  "host;my-header1;my-header2;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"),
	  SUITE_AUTHZ("host;my-header1;my-header2;x-amz-date",
	  "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736") },
	{ "get-header-key-duplicate", "GET", "/", { { 0 } },
	  { HOST, { "My-Header1", "value2" }, { "My-Header1", "value2" },
	    { "My-Header1", "value1" }, DATE }, NULL, NULL,
	  "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
	  "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n"
	  SIGV4_EMPTY_SHA256,
	  SUITE_STS("dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c"),
	  SUITE_AUTHZ("host;my-header1;x-amz-date",
	  "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea") },
	{ "get-header-value-order", "GET", "/", { { 0 } },
	  { HOST, { "My-Header1", "value4" }, { "My-Header1", "value1" },
	    { "My-Header1", "value3" }, { "My-Header1", "value2" }, DATE },
	  NULL, NULL,
	  "GET\n/\n\nhost:example.amazonaws.com\n"
	  "my-header1:value4,value1,value3,value2\n"
	  "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n"
	  SIGV4_EMPTY_SHA256,
	  SUITE_STS("31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86"),
	  SUITE_AUTHZ("host;my-header1;x-amz-date",
	  "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01") },
	{ "post-vanilla", "POST", "/", { { 0 } }, { HOST, DATE }, NULL, NULL,
	  "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
	  "\nhost;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
	  SUITE_AUTHZ("host;x-amz-date",
	  "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b") },
	{ "post-header-value-case", "POST", "/", { { 0 } },
	  { HOST, { "My-Header1", "VALUE1" }, DATE }, NULL, NULL,
	  "POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\n"
	  "x-amz-date:20150830T123600Z\n\nhost;my-header1;x-amz-date\n"
	  SIGV4_EMPTY_SHA256,
	  SUITE_STS("d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93"),
	  SUITE_AUTHZ("host;my-header1;x-amz-date",
	  "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d") },
	{ "post-x-www-form-urlencoded", "POST", "/", { { 0 } },
	  { { "Content-Type", "application/x-www-form-urlencoded" }, HOST, DATE },
	  /* SHA-256 of the body "Param1=value1" */
	  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
	  NULL,
	  "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
	  "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
	  "content-type;host;x-amz-date\n"
	  "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
	  SUITE_STS("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
	  SUITE_AUTHZ("content-type;host;x-amz-date",
	  "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a") },
	/* The token comes from the credentials; the signer adds the header. */
	{ "post-sts-header-before", "POST", "/", { { 0 } }, { HOST, DATE },
	  NULL, STS_TOKEN,
	  "POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n"
	  "x-amz-security-token:" STS_TOKEN "\n\n"
	  "host;x-amz-date;x-amz-security-token\n" SIGV4_EMPTY_SHA256,
	  SUITE_STS("c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"),
	  SUITE_AUTHZ("host;x-amz-date;x-amz-security-token",
	  "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead") },
};

#define S3_EMPTY_CREQ_TAIL \
	"x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\n" \
	"x-amz-date:20130524T000000Z\n\n"

static const struct vec s3docs[] = {
	{ "S3 GET Object (Range)", "GET", "/test.txt", { { 0 } },
	  { S3_HOST, { "Range", "bytes=0-9" } }, NULL, NULL,
	  "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
	  "range:bytes=0-9\n" S3_EMPTY_CREQ_TAIL
	  "host;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256,
	  "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	  "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
	  S3_AUTHZ("host;range;x-amz-content-sha256;x-amz-date",
	  "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41") },
	{ "S3 PUT Object", "PUT", "/test$file.text", { { 0 } },
	  { S3_HOST, { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
	    { "x-amz-storage-class", "REDUCED_REDUNDANCY" } },
	  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
	  NULL,
	  "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
	  "host:examplebucket.s3.amazonaws.com\n"
	  "x-amz-content-sha256:"
	  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
	  "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n"
	  "\ndate;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
	  "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
	  "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	  "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
	  S3_AUTHZ("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
	  "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd") },
	{ "S3 GET Bucket Lifecycle", "GET", "/", { { "lifecycle", NULL } },
	  { S3_HOST }, NULL, NULL,
	  "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
	  S3_EMPTY_CREQ_TAIL "host;x-amz-content-sha256;x-amz-date\n"
	  SIGV4_EMPTY_SHA256,
	  "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	  "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
	  S3_AUTHZ("host;x-amz-content-sha256;x-amz-date",
	  "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543") },
	{ "S3 GET Bucket (List Objects)", "GET", "/",
	  { { "prefix", "J" }, { "max-keys", "2" } }, { S3_HOST }, NULL, NULL,
	  "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
	  S3_EMPTY_CREQ_TAIL "host;x-amz-content-sha256;x-amz-date\n"
	  SIGV4_EMPTY_SHA256,
	  "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
	  "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
	  S3_AUTHZ("host;x-amz-content-sha256;x-amz-date",
	  "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") },
};

static const struct vec *
suite_vec(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(suite); i++)
		if (strcmp(suite[i].name, name) == 0)
			return &suite[i];
	abort();
}

static size_t
count_kv(const struct sigv4_kv *kv, size_t max)
{
	size_t n = 0;

	while (n < max && kv[n].name)
		n++;
	return n;
}

static void
run(const struct vec *v, bool s3, struct sigv4_key_cache *cache)
{
	struct sigv4_req req = {
		.method = v->method, .path = v->path,
		.query = v->query, .nquery = count_kv(v->query, 3),
		.headers = v->headers, .nheaders = count_kv(v->headers, 6),
		.payload_hash = v->payload,
		.region = "us-east-1", .service = s3 ? "s3" : "service",
		.now = s3 ? S3_TIME : SUITE_TIME,
	};
	struct sigv4_cred cred = {
		s3 ? S3_AKID : SUITE_AKID, s3 ? S3_SECRET : SUITE_SECRET, v->token
	};
	struct sigv4_result r;
	char err[256], name[160];
	int rc;

	rc = sigv4_sign(&req, &cred, cache, &r, err, sizeof(err));
	snprintf(name, sizeof(name), "%s: signs", v->name);
	if (!ok(rc == 0, name)) {
		diag("error: %s", err);
		return;
	}
	snprintf(name, sizeof(name), "%s: canonical request", v->name);
	is_str(r.canonical_request, v->creq, name);
	snprintf(name, sizeof(name), "%s: string to sign", v->name);
	is_str(r.string_to_sign, v->sts, name);
	snprintf(name, sizeof(name), "%s: Authorization", v->name);
	is_str(r.authorization, v->authz, name);
	snprintf(name, sizeof(name), "%s: signature field", v->name);
	ok(strstr(v->authz, r.signature) != NULL && strlen(r.signature) == 64,
	    name);
	sigv4_result_release(&r);
}

static void
test_vectors(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(suite); i++)
		run(&suite[i], false, NULL);
	for (i = 0; i < ARRAY_SIZE(s3docs); i++)
		run(&s3docs[i], true, NULL);
}

/* The signer adds x-amz-date, the token and (for s3) the content hash when
 * they are missing, and reports them for the caller to send. */
static void
test_added_headers(void)
{
	struct sigv4_kv h[] = { HOST };
	struct sigv4_req req = {
		.method = "POST", .path = "/", .headers = h, .nheaders = 1,
		.region = "us-east-1", .service = "service", .now = SUITE_TIME,
	};
	struct sigv4_cred cred = { SUITE_AKID, SUITE_SECRET, STS_TOKEN };
	struct sigv4_result r;
	char err[256];

	if (!ok(sigv4_sign(&req, &cred, NULL, &r, err, sizeof(err)) == 0,
	    "post-sts-header-before without a date header signs"))
		diag("error: %s", err);
	is_str(r.authorization, suite_vec("post-sts-header-before")->authz,
	    "  same Authorization as with the header given");
	is_str(r.amz_date, "20150830T123600Z", "  x-amz-date value");
	is_str(r.signed_headers, "host;x-amz-date;x-amz-security-token",
	    "  signed headers");
	is_str(r.add_headers[0], "x-amz-date: 20150830T123600Z",
	    "  x-amz-date to send");
	is_str(r.add_headers[1], "x-amz-security-token: " STS_TOKEN,
	    "  token to send");
	ok(r.add_headers[2] == NULL, "  nothing else added (not s3)");
	sigv4_result_release(&r);
	ok(r.authorization == NULL && r.add_headers[0] == NULL,
	    "release clears the result");

	req.service = "s3";
	req.payload_hash = SIGV4_UNSIGNED_PAYLOAD;
	cred.session_token = NULL;
	if (!ok(sigv4_sign(&req, &cred, NULL, &r, err, sizeof(err)) == 0,
	    "s3 with UNSIGNED-PAYLOAD signs"))
		diag("error: %s", err);
	is_str(r.add_headers[1], "x-amz-content-sha256: UNSIGNED-PAYLOAD",
	    "  content hash header added for s3");
	ok(r.canonical_request && strstr(r.canonical_request,
	    "\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD") != NULL,
	    "  payload line is UNSIGNED-PAYLOAD");
	sigv4_result_release(&r);
}

static void
test_query_encoding(void)
{
	struct sigv4_kv h[] = { HOST };
	struct sigv4_kv q[] = {
		{ "prefix", "a b/c+d" }, { "list-type", "2" },
		{ "continuation-token", "x=y&z" }, { "uploads", NULL },
	};
	struct sigv4_req req = {
		.method = "GET", .path = "/bucket", .query = q, .nquery = 4,
		.headers = h, .nheaders = 1, .region = "eu-west-1",
		.service = "s3", .now = SUITE_TIME,
	};
	struct sigv4_cred cred = { SUITE_AKID, SUITE_SECRET, NULL };
	struct sigv4_result r;
	char err[256];

	if (!ok(sigv4_sign(&req, &cred, NULL, &r, err, sizeof(err)) == 0,
	    "query with reserved characters signs"))
		diag("error: %s", err);
	ok(r.canonical_request && str_has_prefix(r.canonical_request,
	    "GET\n/bucket\ncontinuation-token=x%3Dy%26z&list-type=2&"
	    "prefix=a%20b%2Fc%2Bd&uploads=\nhost:"),
	    "  sorted, RFC 3986 encoded, %20 for space, '/' encoded");
	ok(r.string_to_sign && strstr(r.string_to_sign,
	    "\n20150830/eu-west-1/s3/aws4_request\n") != NULL,
	    "  scope names region and service");
	sigv4_result_release(&r);
}

static void
test_cache(void)
{
	struct sigv4_key_cache c = SIGV4_KEY_CACHE_INIT;
	struct sigv4_kv h[] = { HOST };
	struct sigv4_req req = {
		.method = "GET", .path = "/", .headers = h, .nheaders = 1,
		.region = "us-east-1", .service = "service", .now = SUITE_TIME,
	};
	struct sigv4_cred cred = { SUITE_AKID, SUITE_SECRET, NULL };
	struct sigv4_result r;
	char err[256];
	unsigned char zero[SHA256_LEN] = { 0 };
	int rc;

	rc = sigv4_sign(&req, &cred, &c, &r, err, sizeof(err));
	ok(rc == 0 && strcmp(r.authorization, suite_vec("get-vanilla")->authz) == 0,
	    "cached: first request gives the get-vanilla signature");
	sigv4_result_release(&r);
	is_int(c.derived, 1, "  one derivation");

	req.now = SUITE_TIME + 3600;	/* same day, an hour later */
	rc = sigv4_sign(&req, &cred, &c, &r, err, sizeof(err));
	ok(rc == 0, "cached: later the same day signs");
	is_int(c.derived, 1, "  key reused");
	sigv4_result_release(&r);

	req.now = SUITE_TIME;
	rc = sigv4_sign(&req, &cred, &c, &r, err, sizeof(err));
	ok(rc == 0 && strcmp(r.authorization, suite_vec("get-vanilla")->authz) == 0,
	    "cached: reused key still gives the suite signature");
	sigv4_result_release(&r);

	req.now = SUITE_TIME + 86400;	/* next day */
	rc = sigv4_sign(&req, &cred, &c, &r, err, sizeof(err));
	ok(rc == 0, "cached: next day signs");
	is_int(c.derived, 2, "  next day derives a new key");
	sigv4_result_release(&r);

	cred.secret_key = "another-secret";
	rc = sigv4_sign(&req, &cred, &c, &r, err, sizeof(err));
	ok(rc == 0, "cached: rotated secret signs");
	is_int(c.derived, 3, "  rotated secret derives a new key");
	sigv4_result_release(&r);

	req.region = "eu-central-1";
	rc = sigv4_sign(&req, &cred, &c, &r, err, sizeof(err));
	ok(rc == 0, "cached: other region signs");
	is_int(c.derived, 4, "  other region derives a new key");
	sigv4_result_release(&r);

	sigv4_cache_release(&c);
	ok(!c.valid && memcmp(c.key, zero, sizeof(zero)) == 0,
	    "cache release wipes the key");
}

static void
test_signing_key(void)
{
	/* AWS documentation: "Examples of how to derive a signing key". */
	unsigned char k[SHA256_LEN];
	char hx[2 * SHA256_LEN + 1];
	size_t i;

	sigv4_signing_key(SUITE_SECRET, "20120215", "us-east-1", "iam", k);
	for (i = 0; i < sizeof(k); i++)
		snprintf(hx + 2 * i, 3, "%02x", k[i]);
	is_str(hx, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d",
	    "derived signing key (AWS example)");
}

static void
test_encode(void)
{
	char *s;

	s = sigv4_key_path("bucket", "dir/a b+c%.txt");
	is_str(s, "/bucket/dir/a%20b%2Bc%25.txt", "key path: path style");
	free(s);
	s = sigv4_key_path(NULL, "x//y/\xc3\xa9~");
	is_str(s, "/x//y/%C3%A9~", "key path: virtual host, slashes kept");
	free(s);
	s = sigv4_key_path("", "test$file.text");
	is_str(s, "/test%24file.text", "key path: empty bucket");
	free(s);
	s = sigv4_uri_encode("a/b c", 5, false);
	is_str(s, "a%2Fb%20c", "uri_encode without keep_slash");
	free(s);
	s = sigv4_uri_encode("a/b c", 3, true);
	is_str(s, "a/b", "uri_encode honours the length");
	free(s);
}

static void
bad(struct sigv4_req *req, struct sigv4_cred *cred, const char *name,
    const char *want)
{
	struct sigv4_result r;
	char err[256] = "";

	if (ok(sigv4_sign(req, cred, NULL, &r, err, sizeof(err)) == -1, name)) {
		is_str(err, want, "  error text");
		ok(strstr(err, SUITE_SECRET) == NULL &&
		    strstr(err, "AQoDYXdz") == NULL, "  no secret in the message");
		ok(r.authorization == NULL, "  no result");
	}
	sigv4_result_release(&r);
}

static void
test_errors(void)
{
	struct sigv4_kv nohost[] = { DATE };
	struct sigv4_kv badname[] = { HOST, { "bad name", "x" } };
	struct sigv4_kv crlf[] = { HOST, { "x-amz-meta-a", "x\r\ny: z" } };
	struct sigv4_kv wrongdate[] = { HOST, { "x-amz-date", "20150830T000000Z" } };
	struct sigv4_kv h[] = { HOST };
	struct sigv4_req req = {
		.method = "GET", .path = "/", .headers = nohost, .nheaders = 1,
		.region = "us-east-1", .service = "service", .now = SUITE_TIME,
	};
	struct sigv4_cred cred = { SUITE_AKID, SUITE_SECRET, STS_TOKEN };

	bad(&req, &cred, "refuses a request without host", "sigv4: no host header");
	req.headers = badname;
	req.nheaders = 2;
	bad(&req, &cred, "refuses a header name with a space",
	    "sigv4: invalid header name (header 1)");
	req.headers = crlf;
	bad(&req, &cred, "refuses CR/LF in a header value",
	    "sigv4: header x-amz-meta-a has a line break in its value");
	req.headers = wrongdate;
	bad(&req, &cred, "refuses an x-amz-date that is not the signing time",
	    "sigv4: the x-amz-date header differs from the signing time "
	    "20150830T123600Z");
	req.headers = h;
	req.nheaders = 1;
	req.now = -1;
	bad(&req, &cred, "refuses a negative time",
	    "sigv4: signing time out of range");
	req.now = 253402300800LL;
	bad(&req, &cred, "refuses year 10000", "sigv4: signing time out of range");
	req.now = SUITE_TIME;
	req.payload_hash = "not a hash";
	bad(&req, &cred, "refuses a malformed payload hash",
	    "sigv4: malformed payload hash");
	req.payload_hash = NULL;
	req.path = "relative";
	bad(&req, &cred, "refuses a relative path",
	    "sigv4: the path must start with '/'");
	req.path = "/";
	req.region = "";
	bad(&req, &cred, "refuses an empty region",
	    "sigv4: missing or invalid region");
	req.region = "us-east-1";
	cred.secret_key = "";
	bad(&req, &cred, "refuses an empty secret", "sigv4: no secret key");
	cred.secret_key = SUITE_SECRET;
	cred.session_token = "tok\nen";
	bad(&req, &cred, "refuses a token with a line break",
	    "sigv4: the session token contains a line break");
	cred.session_token = NULL;
	req.method = "GE T";
	bad(&req, &cred, "refuses a bad method", "sigv4: invalid request method");
}

int
main(void)
{
	test_vectors();
	test_added_headers();
	test_query_encoding();
	test_cache();
	test_signing_key();
	test_encode();
	test_errors();
	return done_testing();
}
