/* gcsauth.c: service-account key parsing, the RS256 JWT (decoded and
 * verified with the public key), the token request, token answers and the
 * refresh decision. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "buf.h"
#include "gcsauth.h"
#include "json.h"
#include "tap.h"

#define EMAIL	"backup@proj-1.iam.gserviceaccount.com"
#define KID	"0123456789abcdef0123456789abcdef01234567"
#define NOW	1700000000LL

static char err[256];

enum pem_kind { PEM_PKCS8, PEM_PKCS1, PEM_ENCRYPTED };

static char *
key_pem(EVP_PKEY *k, enum pem_kind kind)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p, *out;
	long n;
	int r;

	if (kind == PEM_PKCS1)
		r = PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0,
		    NULL, NULL);
	else if (kind == PEM_ENCRYPTED)
		r = PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_128_cbc(),
		    NULL, 0, NULL, (void *)"passphrase");
	else
		r = PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	if (r != 1)
		abort();
	n = BIO_get_mem_data(b, &p);
	out = xstrndup(p, (size_t)n);
	BIO_free(b);
	return out;
}

/* A key file like Google's; a NULL value leaves the member out. */
static char *
key_json(const char *type, const char *email, const char *pem,
    const char *kid, const char *uri)
{
	struct jw w;

	jw_init(&w);
	jw_obj_open(&w);
	if (type)
		jw_kstr(&w, "type", type);
	jw_kstr(&w, "project_id", "proj-1");
	if (kid)
		jw_kstr(&w, "private_key_id", kid);
	if (pem)
		jw_kstr(&w, "private_key", pem);
	if (email)
		jw_kstr(&w, "client_email", email);
	jw_kstr(&w, "client_id", "1234567890");
	jw_kstr(&w, "auth_uri", "https://accounts.google.com/o/oauth2/auth");
	if (uri)
		jw_kstr(&w, "token_uri", uri);
	jw_obj_close(&w);
	return jw_finish(&w, NULL);
}

static char *
b64url_decode(const char *s, size_t n, size_t *outlen)
{
	size_t padded = (n + 3) / 4 * 4, i;
	char *t = xcalloc(padded + 1, 1);
	unsigned char *out = xcalloc(padded / 4 * 3 + 1, 1);
	int r;

	for (i = 0; i < n; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	for (; i < padded; i++)
		t[i] = '=';
	r = EVP_DecodeBlock(out, (unsigned char *)t, (int)padded);
	free(t);
	if (r < 0) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)r - (padded - n);
	return (char *)out;
}

static bool
no_pem_in(const char *msg)
{
	return strstr(msg, "PRIVATE KEY") == NULL && strstr(msg, "MII") == NULL;
}

static void
check_jwt(const char *jwt, EVP_PKEY *pub, const char *uri)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	char *hdr, *cl;
	unsigned char *sig;
	size_t n, siglen;
	yajl_val v;
	long long i;
	EVP_MD_CTX *ctx;
	int vr;

	if (!ok(d1 && d2 && strchr(d2 + 1, '.') == NULL,
	    "JWT has three parts"))
		return;
	ok(strpbrk(jwt, "=+/") == NULL, "  base64url without padding");

	hdr = b64url_decode(jwt, (size_t)(d1 - jwt), &n);
	v = hdr ? json_parse(hdr, n, err, sizeof(err)) : NULL;
	ok(v != NULL, "  header decodes to JSON");
	is_str(json_gets(v, "alg"), "RS256", "  header alg");
	is_str(json_gets(v, "typ"), "JWT", "  header typ");
	is_str(json_gets(v, "kid"), KID, "  header kid");
	is_int(json_len(v), 3, "  header has three members");
	json_free(v);
	free(hdr);

	cl = b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &n);
	v = cl ? json_parse(cl, n, err, sizeof(err)) : NULL;
	ok(v != NULL, "  claims decode to JSON");
	is_str(json_gets(v, "iss"), EMAIL, "  claim iss");
	is_str(json_gets(v, "scope"), GCSAUTH_SCOPE_RW, "  claim scope");
	is_str(json_gets(v, "aud"), uri, "  claim aud");
	ok(json_int(json_get(v, "iat", NULL), &i) && i == NOW, "  claim iat");
	ok(json_int(json_get(v, "exp", NULL), &i) && i == NOW + 3600,
	    "  claim exp");
	is_int(json_len(v), 5, "  five claims");
	json_free(v);
	free(cl);

	sig = (unsigned char *)b64url_decode(d2 + 1, strlen(d2 + 1), &siglen);
	is_int(siglen, 256, "  2048-bit signature");
	ctx = EVP_MD_CTX_new();
	vr = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
	    EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)jwt,
	    (size_t)(d2 - jwt)) == 1;
	ok(vr, "  signature verifies with the public key");
	EVP_MD_CTX_free(ctx);

	/* The same signature must not verify other content. */
	{
		char *t = xstrdup(jwt);

		t[d1 - jwt + 3] = t[d1 - jwt + 3] == 'A' ? 'B' : 'A';
		ctx = EVP_MD_CTX_new();
		vr = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL,
		    pub) == 1 && EVP_DigestVerify(ctx, sig, siglen,
		    (const unsigned char *)t, (size_t)(d2 - jwt)) == 1;
		ok(!vr, "  tampered claims do not verify");
		EVP_MD_CTX_free(ctx);
		free(t);
	}
	free(sig);
}

static EVP_PKEY *
public_of(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	EVP_PKEY *pub;

	if (PEM_write_bio_PUBKEY(b, k) != 1)
		abort();
	pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	return pub;
}

static void
test_key_and_jwt(EVP_PKEY *k)
{
	EVP_PKEY *pub = public_of(k);
	char *pem = key_pem(k, PEM_PKCS8), *json, *jwt, *body, *jwt2;
	struct gcsauth_sa sa;

	json = key_json("service_account", EMAIL, pem, KID, NULL);
	if (!ok(gcsauth_sa_parse(json, strlen(json), &sa, err,
	    sizeof(err)) == 0, "parses a PKCS#8 service-account key"))
		diag("error: %s", err);
	is_str(sa.client_email, EMAIL, "  client_email");
	is_str(sa.private_key_id, KID, "  private_key_id");
	is_str(sa.token_uri, GCSAUTH_TOKEN_URI, "  default token_uri");
	is_str(sa.project_id, "proj-1", "  project_id");
	ok(sa.pkey && EVP_PKEY_eq(sa.pkey, pub) == 1,
	    "  the key matches the generated one");
	free_secret(json);

	jwt = gcsauth_jwt(&sa, NULL, NOW, err, sizeof(err));
	if (!ok(jwt != NULL, "builds a JWT"))
		diag("error: %s", err);
	else
		check_jwt(jwt, pub, GCSAUTH_TOKEN_URI);

	body = gcsauth_token_request(&sa, NULL, NOW, err, sizeof(err));
	ok(body && str_has_prefix(body, "grant_type=urn%3Aietf%3Aparams%3A"
	    "oauth%3Agrant-type%3Ajwt-bearer&assertion="), "token request body");
	ok(body && jwt && strcmp(strchr(body, '&') + strlen("&assertion="),
	    jwt) == 0, "  assertion is the JWT (RS256 is deterministic)");
	free_secret(body);

	jwt2 = gcsauth_jwt(&sa, "https://www.googleapis.com/auth/"
	    "devstorage.read_only", NOW + 10, err, sizeof(err));
	ok(jwt2 && jwt && strcmp(jwt, jwt2) != 0, "other scope and time: "
	    "another JWT");
	free_secret(jwt2);
	free_secret(jwt);

	ok(gcsauth_jwt(&sa, NULL, -5, err, sizeof(err)) == NULL,
	    "JWT refuses a negative time");
	is_str(err, "gcs: time out of range for a JWT", "  error text");
	gcsauth_sa_release(&sa);
	ok(sa.pkey == NULL && sa.client_email == NULL, "release clears");
	ok(gcsauth_jwt(&sa, NULL, NOW, err, sizeof(err)) == NULL,
	    "JWT without a key fails");

	/* PKCS#1 ("BEGIN RSA PRIVATE KEY") and a custom token_uri. */
	free_secret(pem);
	pem = key_pem(k, PEM_PKCS1);
	ok(strstr(pem, "BEGIN RSA PRIVATE KEY") != NULL, "PKCS#1 PEM written");
	json = key_json("service_account", EMAIL, pem, KID,
	    "http://127.0.0.1:8089/token");
	if (!ok(gcsauth_sa_parse(json, strlen(json), &sa, err,
	    sizeof(err)) == 0, "parses a PKCS#1 key with a custom token_uri"))
		diag("error: %s", err);
	is_str(sa.token_uri, "http://127.0.0.1:8089/token", "  token_uri kept");
	jwt = gcsauth_jwt(&sa, NULL, NOW, err, sizeof(err));
	if (ok(jwt != NULL, "builds a JWT with the PKCS#1 key"))
		check_jwt(jwt, pub, "http://127.0.0.1:8089/token");
	free_secret(jwt);
	gcsauth_sa_release(&sa);
	free_secret(json);
	free_secret(pem);
	EVP_PKEY_free(pub);
}

static void
bad_key(const char *json, const char *want, const char *name)
{
	struct gcsauth_sa sa;

	err[0] = '\0';
	if (ok(gcsauth_sa_parse(json, strlen(json), &sa, err,
	    sizeof(err)) == -1, name)) {
		is_str(err, want, "  error text");
		ok(sa.pkey == NULL && sa.client_email == NULL, "  nothing kept");
		ok(no_pem_in(err), "  no key material in the message");
	}
}

static void
test_key_errors(EVP_PKEY *k)
{
	char *pem = key_pem(k, PEM_PKCS8), *enc = key_pem(k, PEM_ENCRYPTED);
	char *j, *ecpem, *trunc;
	EVP_PKEY *ec;

	j = key_json("service_account", NULL, pem, KID, NULL);
	bad_key(j, "gcs: service-account key: missing client_email",
	    "refuses a key without client_email");
	free_secret(j);
	j = key_json("service_account", EMAIL, NULL, KID, NULL);
	bad_key(j, "gcs: service-account key: missing private_key",
	    "refuses a key without private_key");
	free_secret(j);
	j = key_json("service_account", EMAIL, pem, NULL, NULL);
	bad_key(j, "gcs: service-account key: missing private_key_id",
	    "refuses a key without private_key_id");
	free_secret(j);
	j = key_json(NULL, EMAIL, pem, KID, NULL);
	bad_key(j, "gcs: service-account key: missing type",
	    "refuses a key without type");
	free_secret(j);
	j = key_json("authorized_user", EMAIL, pem, KID, NULL);
	bad_key(j, "gcs: key type is \"authorized_user\", not "
	    "\"service_account\"", "refuses user credentials");
	free_secret(j);
	j = key_json("service_account", EMAIL, pem, KID, "ftp://x/token");
	bad_key(j, "gcs: service-account key: token_uri is not an http(s) URL",
	    "refuses a bad token_uri");
	free_secret(j);
	j = key_json("service_account", EMAIL, "-----BEGIN PRIVATE KEY-----\n"
	    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
	    KID, NULL);
	bad_key(j, "gcs: service-account key: private_key is not an "
	    "unencrypted PEM private key", "refuses a broken PEM, quietly");
	free_secret(j);
	j = key_json("service_account", EMAIL, enc, KID, NULL);
	bad_key(j, "gcs: service-account key: private_key is not an "
	    "unencrypted PEM private key", "refuses an encrypted PEM (no prompt)");
	free_secret(j);

	ec = EVP_EC_gen("P-256");
	ecpem = key_pem(ec, PEM_PKCS8);
	j = key_json("service_account", EMAIL, ecpem, KID, NULL);
	bad_key(j, "gcs: service-account key: private_key is not an RSA key",
	    "refuses an EC key");
	free_secret(j);
	free_secret(ecpem);
	EVP_PKEY_free(ec);

	bad_key("{\"type\":\"service_account\",\"client_email\":7}",
	    "gcs: service-account key: client_email is not a string",
	    "refuses a non-string member");
	bad_key("{\"type\":\"service_account\",\"client_email\":\"a\\u0000b\"}",
	    "gcs: service-account key: client_email contains a NUL byte",
	    "refuses an escaped NUL instead of cutting the string");
	bad_key("[1,2]", "gcs: service-account key is not a JSON object",
	    "refuses a JSON array");
	/* A truncated file must not be quoted back (yajl would). */
	j = key_json("service_account", EMAIL, pem, KID, NULL);
	trunc = xstrndup(j, strlen(j) / 2);
	bad_key(trunc, "gcs: service-account key is not valid JSON",
	    "refuses truncated JSON without quoting it");
	free_secret(trunc);
	free_secret(j);
	free_secret(pem);
	free_secret(enc);
}

static void
tok_bad(const char *json, const char *want, const char *name)
{
	struct gcsauth_token t = { 0 };

	t.access_token = xstrdup("old-token");
	t.expires_in = 3600;
	t.expires_at = NOW + 100;
	err[0] = '\0';
	if (ok(gcsauth_token_parse(json, strlen(json), NOW, &t, err,
	    sizeof(err)) == -1, name)) {
		is_str(err, want, "  error text");
		is_str(t.access_token, "old-token", "  old token kept");
		ok(strstr(err, "ya29") == NULL, "  no token in the message");
	}
	gcsauth_token_release(&t);
}

static void
test_token(void)
{
	static const char good[] = "{\"access_token\":\"ya29.c.b0Aaekm1K\","
	    "\"expires_in\":3599,\"token_type\":\"Bearer\"}";
	struct gcsauth_token t = { 0 };

	ok(gcsauth_token_needs_refresh(&t, NOW), "no token: refresh");
	ok(gcsauth_token_needs_refresh(NULL, NOW), "NULL: refresh");
	if (!ok(gcsauth_token_parse(good, strlen(good), NOW, &t, err,
	    sizeof(err)) == 0, "parses a token answer"))
		diag("error: %s", err);
	is_str(t.access_token, "ya29.c.b0Aaekm1K", "  access_token");
	is_int(t.expires_in, 3599, "  expires_in");
	is_int(t.expires_at, NOW + 3599, "  expires_at = now + expires_in");
	ok(!gcsauth_token_needs_refresh(&t, NOW), "  fresh: keep");
	ok(!gcsauth_token_needs_refresh(&t, NOW + 3599 - 301),
	    "  301 s left: keep");
	ok(gcsauth_token_needs_refresh(&t, NOW + 3599 - 300),
	    "  300 s left: refresh");
	ok(gcsauth_token_needs_refresh(&t, NOW + 4000), "  expired: refresh");

	/* A second parse replaces the first token (no leak under ASan). */
	{
		static const char s[] = "{\"access_token\":\"tok2\","
		    "\"expires_in\":\"120\",\"token_type\":\"bearer\","
		    "\"id_token\":\"x\"}";

		if (!ok(gcsauth_token_parse(s, strlen(s), NOW, &t, err,
		    sizeof(err)) == 0, "expires_in as a string, bearer in "
		    "lower case"))
			diag("error: %s", err);
		is_str(t.access_token, "tok2", "  replaced token");
		ok(!gcsauth_token_needs_refresh(&t, NOW + 59),
		    "  short token: 61 s left of 120 keeps");
		ok(gcsauth_token_needs_refresh(&t, NOW + 60),
		    "  short token: half its life left refreshes");
	}
	gcsauth_token_release(&t);
	ok(t.access_token == NULL && t.expires_at == 0, "release clears");

	tok_bad("{\"error\":\"invalid_grant\",\"error_description\":"
	    "\"Invalid JWT Signature.\"}",
	    "gcs: token endpoint refused: invalid_grant (Invalid JWT Signature.)",
	    "OAuth error answer");
	tok_bad("{\"error\":\"unauthorized_client\"}",
	    "gcs: token endpoint refused: unauthorized_client",
	    "OAuth error without description");
	tok_bad("{\"expires_in\":3599,\"token_type\":\"Bearer\"}",
	    "gcs: token response: missing access_token", "no access_token");
	tok_bad("{\"access_token\":\"ya29.x\",\"token_type\":\"Bearer\"}",
	    "gcs: token response: missing or invalid expires_in",
	    "no expires_in");
	tok_bad("{\"access_token\":\"ya29.x\",\"expires_in\":0}",
	    "gcs: token response: missing or invalid expires_in",
	    "zero expires_in");
	tok_bad("{\"access_token\":\"ya29.x\",\"expires_in\":\"12a\"}",
	    "gcs: token response: missing or invalid expires_in",
	    "non-numeric expires_in");
	tok_bad("{\"access_token\":\"ya29.x\",\"expires_in\":60,"
	    "\"token_type\":\"MAC\"}",
	    "gcs: token response: token_type is not Bearer", "MAC token type");
	tok_bad("{\"access_token\":\"ya29.x y\",\"expires_in\":60}",
	    "gcs: token response: access_token has invalid characters",
	    "token with a space");
	tok_bad("{\"access_token\":\"ya29.secret\",\"expires_in\":",
	    "gcs: token response is not valid JSON",
	    "truncated answer not quoted");
}

int
main(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);

	if (k == NULL) {
		printf("Bail out! cannot generate an RSA key\n");
		return 1;
	}
	test_key_and_jwt(k);
	test_key_errors(k);
	test_token();
	EVP_PKEY_free(k);
	return done_testing();
}
