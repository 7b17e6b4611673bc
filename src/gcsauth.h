/*
 * gcsauth.h - Google Cloud Storage authorisation with a service-account
 * key: the key file, the signed JWT assertion for the OAuth 2.0 token
 * exchange (RFC 7523), and the token endpoint's answer.
 *
 * Pure: no I/O, no clock; times are UTC seconds passed in. The flow the
 * HTTP layer drives:
 *
 *	gcsauth_sa_parse(key JSON)                  once per Secret version
 *	if gcsauth_token_needs_refresh(&tok, now):
 *	    body = gcsauth_token_request(&sa, NULL, now)
 *	    POST body to sa.token_uri, Content-Type GCSAUTH_FORM_TYPE
 *	    gcsauth_token_parse(response, now, &tok)
 *	"Authorization: Bearer <tok.access_token>" on each storage request
 *
 * Secrets: the private key, the JWT (a bearer credential until it expires)
 * and the access token never appear in an error message. Key JSON and
 * token responses are reported with fixed texts, never with the parser's
 * message, which could quote the input. Structs holding secrets are wiped on release; returned
 * strings that carry one say so and must be freed with free_secret().
 * (yajl's own scratch buffers are freed without wiping; that is beyond
 * this module's reach.)
 */
#ifndef DBP_GCSAUTH_H
#define DBP_GCSAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "util.h"

#define GCSAUTH_TOKEN_URI	"https://oauth2.googleapis.com/token"
#define GCSAUTH_SCOPE_RW \
	"https://www.googleapis.com/auth/devstorage.read_write"
#define GCSAUTH_FORM_TYPE	"application/x-www-form-urlencoded"
#define GCSAUTH_JWT_LIFETIME	3600	/* exp - iat, the most Google allows */
#define GCSAUTH_REFRESH_MARGIN	300	/* refresh with less than this left */

/*
 * A parsed service-account key. Strings are malloc'ed and owned; pkey is an
 * RSA private key owned by the struct. Release with gcsauth_sa_release().
 */
struct gcsauth_sa {
	char *client_email;
	char *private_key_id;
	char *token_uri;		/* token_uri, or GCSAUTH_TOKEN_URI */
	char *project_id;		/* NULL when absent (informational) */
	EVP_PKEY *pkey;
};

/*
 * Parses len bytes of a service-account key file (need not be
 * NUL-terminated). Requires "type": "service_account", and string members
 * client_email, private_key (an unencrypted PEM RSA key, PKCS#8 or PKCS#1)
 * and private_key_id; token_uri, when present, must be an http(s) URL.
 * Returns 0, or -1 with err naming the field at fault (never its value,
 * except the non-secret "type") and *out zeroed.
 */
int gcsauth_sa_parse(const char *json, size_t len, struct gcsauth_sa *out,
    char *err, size_t errlen) DBP_MUSTCHECK;
void gcsauth_sa_release(struct gcsauth_sa *sa);

/*
 * The signed assertion "<header>.<claims>.<signature>", each part base64url
 * without padding: header {"alg":"RS256","typ":"JWT","kid":private_key_id},
 * claims {"iss":client_email,"scope":scope,"aud":token_uri,"iat":now,
 * "exp":now+GCSAUTH_JWT_LIFETIME}, RSASSA-PKCS1-v1_5 with SHA-256. scope
 * NULL means GCSAUTH_SCOPE_RW. Returns a malloc'ed string (a secret: free
 * with free_secret()), or NULL with err set for a time outside 1970-9999
 * or a signing failure.
 */
char *gcsauth_jwt(const struct gcsauth_sa *sa, const char *scope,
    int64_t now, char *err, size_t errlen);

/*
 * The token request body, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A
 * grant-type%3Ajwt-bearer&assertion=<jwt>", to POST to sa->token_uri with
 * Content-Type GCSAUTH_FORM_TYPE. Same ownership and failures as
 * gcsauth_jwt() (the body is a secret too).
 */
char *gcsauth_token_request(const struct gcsauth_sa *sa, const char *scope,
    int64_t now, char *err, size_t errlen);

/*
 * An access token. access_token is malloc'ed and owned (a secret); release
 * with gcsauth_token_release(), which wipes it. A zeroed struct is "no
 * token".
 */
struct gcsauth_token {
	char *access_token;
	int64_t expires_in;		/* lifetime granted, seconds */
	int64_t expires_at;		/* now + expires_in at parse time */
};

/*
 * Parses the token endpoint's JSON answer received at now: access_token
 * (required, no whitespace), expires_in (required, a positive integer or a
 * string of digits) and token_type (must be "Bearer" in any case when
 * present). An OAuth error answer ({"error":..., "error_description":...})
 * gives -1 with the error code and description in err. Returns 0 with *out
 * filled (any previous content is released first), or -1 with err set and
 * *out left as it was (a failed refresh keeps the old token usable).
 */
int gcsauth_token_parse(const char *json, size_t len, int64_t now,
    struct gcsauth_token *out, char *err, size_t errlen) DBP_MUSTCHECK;
void gcsauth_token_release(struct gcsauth_token *t);

/*
 * True when t holds no token or has less than the margin left at now. The
 * margin is GCSAUTH_REFRESH_MARGIN, or half the lifetime for tokens
 * granted for less than twice that.
 */
bool gcsauth_token_needs_refresh(const struct gcsauth_token *t, int64_t now);

#endif
