/*
 * gcsauth.c - service-account keys, RS256 JWT assertions and OAuth token
 * answers for Google Cloud Storage.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "buf.h"
#include "gcsauth.h"
#include "json.h"

#define GCSAUTH_MAX_TIME	253402300799LL	/* 9999-12-31T23:59:59Z */
#define GCSAUTH_GRANT \
	"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"

/*
 * Parses JSON that may hold secrets. The parser's message is not asked
 * for: callers report a fixed text, so nothing of the input can leak into
 * a log. NULL when the text is not JSON.
 */
static yajl_val
parse_quiet(const char *text, size_t len)
{
	if (text == NULL)
		return NULL;
	return json_parse(text, len, NULL, 0);
}

/* Wipes a string member in a parsed tree before the tree is freed. */
static void
wipe_member(yajl_val root, const char *key)
{
	yajl_val v = json_get(root, key, NULL);
	size_t n = 0;

	if (v && YAJL_IS_STRING(v) && v->u.string) {
		/* The decoded length: the text may hold an escaped NUL. */
		(void)json_str_check(v, &n);
		secure_zero(v->u.string, n);
	}
}

static void
b64url_put(struct buf *b, const void *p, size_t n)
{
	size_t cap = 4 * ((n + 2) / 3) + 1, i, len;
	char *t = xmalloc(cap);

	EVP_EncodeBlock((unsigned char *)t, p, (int)n);
	len = strlen(t);
	while (len > 0 && t[len - 1] == '=')
		len--;
	for (i = 0; i < len; i++) {
		if (t[i] == '+')
			t[i] = '-';
		else if (t[i] == '/')
			t[i] = '_';
	}
	if (buf_append(b, t, len) < 0)
		die_oom();
	secure_zero(t, cap);
	free(t);
}

/* A required string member: 0 with *out set, or -1 with the message. */
static int
member(yajl_val root, const char *key, bool required, const char **out,
    char *err, size_t errlen)
{
	yajl_val v = json_get(root, key, NULL);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return errf(err, errlen,
			    "gcs: service-account key: missing %s", key);
		return 0;
	}
	if (!YAJL_IS_STRING(v))
		return errf(err, errlen,
		    "gcs: service-account key: %s is not a string", key);
	if (json_str_check(v, NULL) != TEXT_OK)
		return errf(err, errlen, "gcs: service-account key: %s %s", key,
		    text_check_msg(json_str_check(v, NULL)));
	if (required && *v->u.string == '\0')
		return errf(err, errlen,
		    "gcs: service-account key: %s is empty", key);
	*out = v->u.string;
	return 0;
}

static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;	/* never prompt: encrypted keys are refused */
}

static EVP_PKEY *
load_key(const char *pem, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *pkey;

	if (bio == NULL)
		die_oom();
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	/* The queue names only OpenSSL's reasons, but nobody reads it here. */
	ERR_clear_error();
	if (pkey == NULL) {
		errf(err, errlen, "gcs: service-account key: private_key is not "
		    "an unencrypted PEM private key");
		return NULL;
	}
	if (!EVP_PKEY_is_a(pkey, "RSA")) {
		EVP_PKEY_free(pkey);
		errf(err, errlen,
		    "gcs: service-account key: private_key is not an RSA key");
		return NULL;
	}
	return pkey;
}

static bool
http_url(const char *s)
{
	return (strncasecmp(s, "https://", 8) == 0 && s[8] != '\0') ||
	    (strncasecmp(s, "http://", 7) == 0 && s[7] != '\0');
}

void
gcsauth_sa_release(struct gcsauth_sa *sa)
{
	if (sa == NULL)
		return;
	free(sa->client_email);
	free(sa->private_key_id);
	free(sa->token_uri);
	free(sa->project_id);
	EVP_PKEY_free(sa->pkey);	/* clears the key's numbers */
	memset(sa, 0, sizeof(*sa));
}

static int
sa_fill(yajl_val root, struct gcsauth_sa *out, char *err, size_t errlen)
{
	const char *type, *email, *pem, *kid, *uri, *project;

	if (root == NULL || !YAJL_IS_OBJECT(root))
		return errf(err, errlen,
		    "gcs: service-account key is not a JSON object");
	if (member(root, "type", true, &type, err, errlen) < 0)
		return -1;
	if (strcmp(type, "service_account") != 0)
		return errf(err, errlen, "gcs: key type is \"%.40s\", not "
		    "\"service_account\"", type);
	if (member(root, "client_email", true, &email, err, errlen) < 0 ||
	    member(root, "private_key", true, &pem, err, errlen) < 0 ||
	    member(root, "private_key_id", true, &kid, err, errlen) < 0 ||
	    member(root, "token_uri", false, &uri, err, errlen) < 0 ||
	    member(root, "project_id", false, &project, err, errlen) < 0)
		return -1;
	if (uri && !http_url(uri))
		return errf(err, errlen,
		    "gcs: service-account key: token_uri is not an http(s) URL");
	out->pkey = load_key(pem, err, errlen);
	if (out->pkey == NULL)
		return -1;
	out->client_email = xstrdup(email);
	out->private_key_id = xstrdup(kid);
	out->token_uri = xstrdup(uri && *uri ? uri : GCSAUTH_TOKEN_URI);
	out->project_id = xstrdup(project);
	return 0;
}

int
gcsauth_sa_parse(const char *json, size_t len, struct gcsauth_sa *out,
    char *err, size_t errlen)
{
	yajl_val root;
	int rc;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	root = parse_quiet(json, len);
	if (root == NULL)
		return errf(err, errlen,
		    "gcs: service-account key is not valid JSON");
	rc = sa_fill(root, out, err, errlen);
	wipe_member(root, "private_key");
	json_free(root);
	if (rc < 0)
		gcsauth_sa_release(out);
	return rc;
}

static int
rs256(EVP_PKEY *pkey, const char *data, size_t n, unsigned char **sig,
    size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	*sig = NULL;
	if (ctx == NULL)
		die_oom();
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, siglen, (const unsigned char *)data,
	    n) != 1)
		goto out;
	*sig = xmalloc(*siglen);
	if (EVP_DigestSign(ctx, *sig, siglen, (const unsigned char *)data,
	    n) != 1) {
		free(*sig);
		*sig = NULL;
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

char *
gcsauth_jwt(const struct gcsauth_sa *sa, const char *scope, int64_t now,
    char *err, size_t errlen)
{
	struct buf b = BUF_INIT(0);
	struct jw w;
	const char *txt;
	unsigned char *sig;
	size_t n, siglen;

	if (err && errlen)
		err[0] = '\0';
	if (sa == NULL || sa->pkey == NULL) {
		errf(err, errlen, "gcs: no service-account key");
		return NULL;
	}
	if (now < 0 || now > GCSAUTH_MAX_TIME - GCSAUTH_JWT_LIFETIME) {
		errf(err, errlen, "gcs: time out of range for a JWT");
		return NULL;
	}

	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "alg", "RS256");
	jw_kstr(&w, "typ", "JWT");
	jw_kstr(&w, "kid", sa->private_key_id);
	jw_obj_close(&w);
	txt = jw_text(&w, &n);
	b64url_put(&b, txt, n);
	jw_release(&w);
	if (buf_putc(&b, '.') < 0)
		die_oom();

	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "iss", sa->client_email);
	jw_kstr(&w, "scope", scope ? scope : GCSAUTH_SCOPE_RW);
	jw_kstr(&w, "aud", sa->token_uri);
	jw_kint(&w, "iat", now);
	jw_kint(&w, "exp", now + GCSAUTH_JWT_LIFETIME);
	jw_obj_close(&w);
	txt = jw_text(&w, &n);
	b64url_put(&b, txt, n);
	jw_release(&w);

	if (rs256(sa->pkey, b.data, b.len, &sig, &siglen) < 0) {
		buf_release(&b);
		errf(err, errlen, "gcs: signing the JWT failed");
		return NULL;
	}
	if (buf_putc(&b, '.') < 0)
		die_oom();
	b64url_put(&b, sig, siglen);
	free(sig);
	return buf_detach(&b, NULL);
}

char *
gcsauth_token_request(const struct gcsauth_sa *sa, const char *scope,
    int64_t now, char *err, size_t errlen)
{
	char *jwt = gcsauth_jwt(sa, scope, now, err, errlen);
	char *body;

	if (jwt == NULL)
		return NULL;
	/* base64url and '.' need no form encoding. */
	body = xasprintf("%s&assertion=%s", GCSAUTH_GRANT, jwt);
	free_secret(jwt);
	return body;
}

void
gcsauth_token_release(struct gcsauth_token *t)
{
	if (t == NULL)
		return;
	free_secret(t->access_token);
	memset(t, 0, sizeof(*t));
}

/* Copies at most 120 bytes of s into out, printable ASCII only. */
static const char *
printable(const char *s, char out[128])
{
	size_t i;

	for (i = 0; s && s[i] && i < 120; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
	return out;
}

static int
expires_in(yajl_val v, int64_t *out)
{
	long long n;

	if (v && YAJL_IS_STRING(v)) {
		const char *p = v->u.string;
		char *end;

		if (*p < '0' || *p > '9' || strlen(p) > 12)
			return -1;
		n = strtoll(p, &end, 10);
		if (*end != '\0')
			return -1;
	} else if (!json_int(v, &n)) {
		return -1;
	}
	if (n <= 0 || n > 10LL * 365 * 86400)
		return -1;
	*out = n;
	return 0;
}

static int
token_fill(yajl_val root, int64_t now, struct gcsauth_token *out, char *err,
    size_t errlen)
{
	const char *tok, *type, *e;
	char b1[128], b2[128];
	int64_t ttl;
	size_t i;

	if (root == NULL || !YAJL_IS_OBJECT(root))
		return errf(err, errlen, "gcs: token response is not a JSON object");
	e = json_str(json_get(root, "error", NULL));
	if (e) {
		const char *d = json_str(json_get(root, "error_description", NULL));

		return errf(err, errlen, "gcs: token endpoint refused: %s%s%s%s",
		    printable(e, b1), d ? " (" : "", d ? printable(d, b2) : "",
		    d ? ")" : "");
	}
	tok = json_str(json_get(root, "access_token", NULL));
	if (tok == NULL || *tok == '\0')
		return errf(err, errlen, "gcs: token response: missing access_token");
	if (json_str_check(json_get(root, "access_token", NULL), NULL) != TEXT_OK)
		return errf(err, errlen, "gcs: token response: "
		    "access_token has invalid characters");
	for (i = 0; tok[i]; i++)
		if ((unsigned char)tok[i] <= 0x20 || tok[i] == 0x7f)
			return errf(err, errlen, "gcs: token response: "
			    "access_token has invalid characters");
	if (expires_in(json_get(root, "expires_in", NULL), &ttl) < 0)
		return errf(err, errlen,
		    "gcs: token response: missing or invalid expires_in");
	type = json_str(json_get(root, "token_type", NULL));
	if (json_get(root, "token_type", NULL) && (type == NULL ||
	    strcasecmp(type, "Bearer") != 0))
		return errf(err, errlen,
		    "gcs: token response: token_type is not Bearer");
	if (now < 0 || now > GCSAUTH_MAX_TIME)
		return errf(err, errlen, "gcs: time out of range");

	gcsauth_token_release(out);
	out->access_token = xstrdup(tok);
	out->expires_in = ttl;
	out->expires_at = now + ttl;
	return 0;
}

int
gcsauth_token_parse(const char *json, size_t len, int64_t now,
    struct gcsauth_token *out, char *err, size_t errlen)
{
	yajl_val root;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	root = parse_quiet(json, len);
	if (root == NULL)
		return errf(err, errlen, "gcs: token response is not valid JSON");
	rc = token_fill(root, now, out, err, errlen);
	wipe_member(root, "access_token");
	wipe_member(root, "id_token");
	json_free(root);
	return rc;
}

bool
gcsauth_token_needs_refresh(const struct gcsauth_token *t, int64_t now)
{
	int64_t margin = GCSAUTH_REFRESH_MARGIN;

	if (t == NULL || t->access_token == NULL)
		return true;
	if (t->expires_in < 2 * GCSAUTH_REFRESH_MARGIN)
		margin = t->expires_in / 2;
	return now >= t->expires_at - margin;
}
