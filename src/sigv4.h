/*
 * sigv4.h - AWS Signature Version 4 (header-based) for S3 requests.
 *
 * Pure: no I/O, no clock. The signing time is passed in as UTC seconds;
 * the same inputs always give the same output.
 *
 * What the caller passes (struct sigv4_req):
 *   - path: the RAW (not percent-encoded) absolute URI path, "/bucket/a b"
 *     or "/a b" for virtual-hosted style. It is encoded here one byte at a
 *     time: RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) and '/'
 *     stay, every other byte becomes %XX (upper-case hex). The path is not
 *     normalised ("//" and "." / ".." segments are kept, as S3 requires)
 *     and never encoded twice. The URL actually sent must carry the same
 *     encoding: build it with sigv4_uri_encode(path, true) or
 *     sigv4_key_path().
 *   - query: raw names and values in any order; each is encoded with the
 *     same rules (here '/' is encoded too, space is "%20", never '+'), and
 *     the pairs are sorted by encoded name, then encoded value. A NULL
 *     value is the empty string ("?uploads" signs as "uploads=").
 *   - headers: every header to sign, names in any case. Names are
 *     lower-cased and sorted; values are trimmed and runs of spaces and
 *     tabs collapse to one space; a name given more than once is signed
 *     once, its values comma-joined in the order given. A "host" header is
 *     required. A header value must not contain CR or LF.
 *   - payload_hash: lower-case hex SHA-256 of the body, or the literal
 *     "UNSIGNED-PAYLOAD"; NULL means the hash of the empty body.
 *
 * Headers the signer adds (when the caller did not pass them), which the
 * caller must then send; they are listed in sigv4_result.add_headers:
 *   - x-amz-date: the signing time, "YYYYMMDDTHHMMSSZ" (when the caller
 *     passes one it must be that same value);
 *   - x-amz-security-token: when cred->session_token is set;
 *   - x-amz-content-sha256: the payload hash, when service is "s3" (S3
 *     refuses requests without it).
 *
 * Secrets: the secret key and the session token never appear in an error
 * message. The result's Authorization value and added headers are not
 * secret keys, but must not be logged either (release wipes them).
 */
#ifndef DBP_SIGV4_H
#define DBP_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SIGV4_ALGORITHM		"AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD	"UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string, the payload hash of a request without body */
#define SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sigv4_kv {
	const char *name;
	const char *value;
};

struct sigv4_cred {
	const char *access_key_id;	/* required */
	const char *secret_key;		/* required */
	const char *session_token;	/* NULL or "" when none */
};

/* Everything is borrowed from the caller for the duration of the call. */
struct sigv4_req {
	const char *method;		/* "GET", "PUT", ... (sent as given) */
	const char *path;		/* raw absolute path; NULL or "" is "/" */
	const struct sigv4_kv *query;
	size_t nquery;
	const struct sigv4_kv *headers;
	size_t nheaders;
	const char *payload_hash;	/* see above; NULL = empty body */
	const char *region;		/* "us-east-1" */
	const char *service;		/* "s3" */
	int64_t now;			/* signing time, UTC seconds */
};

/*
 * Per-day signing key cache. The key derived from (secret, date, region,
 * service) takes four HMACs; requests signed the same UTC day with the same
 * secret, region and service reuse it. The cache is identified by a SHA-256
 * over those four inputs, so a rotated secret or another region simply
 * misses. A zeroed struct (SIGV4_KEY_CACHE_INIT) is an empty cache; it holds
 * no pointers. Release it with sigv4_cache_release(), which wipes the key.
 * Not thread-safe (dbprovd has one thread).
 */
struct sigv4_key_cache {
	bool valid;
	unsigned char id[SHA256_LEN];
	unsigned char key[SHA256_LEN];
	unsigned long derived;		/* full derivations so far (tests) */
};
#define SIGV4_KEY_CACHE_INIT { false, { 0 }, { 0 }, 0 }

void sigv4_cache_release(struct sigv4_key_cache *c);

/*
 * Output of sigv4_sign(). Every pointer is malloc'ed and owned by the
 * struct; free with sigv4_result_release() (which wipes them). On failure
 * the struct is left zeroed, so releasing it is still safe.
 */
struct sigv4_result {
	char amz_date[17];		/* "20150830T123600Z" */
	char signature[2 * SHA256_LEN + 1];	/* lower-case hex */
	char *canonical_request;
	char *string_to_sign;
	char *signed_headers;		/* "host;x-amz-date" */
	/* "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/s3/
	 * aws4_request, SignedHeaders=..., Signature=..." */
	char *authorization;
	/* "name: value" lines of the headers the signer added, NULL-terminated */
	char *add_headers[4];
};

void sigv4_result_release(struct sigv4_result *r);

/*
 * Signs one request. cache may be NULL (the key is then derived every
 * time). Returns 0 with *out filled, or -1 with one line in err (err may be
 * NULL when errlen is 0): missing method/host/credentials/region/service,
 * a time outside years 1970-9999, a bad header name, a CR or LF in a
 * header value, a malformed payload hash, or a conflicting x-amz-date.
 */
int sigv4_sign(const struct sigv4_req *req, const struct sigv4_cred *cred,
    struct sigv4_key_cache *cache, struct sigv4_result *out,
    char *err, size_t errlen) DBP_MUSTCHECK;

/*
 * Derives the signing key HMAC(HMAC(HMAC(HMAC("AWS4" secret, date),
 * region), service), "aws4_request") for date "YYYYMMDD". out receives the
 * 32-byte key (a secret: wipe it after use).
 */
void sigv4_signing_key(const char *secret, const char *date,
    const char *region, const char *service,
    unsigned char out[SHA256_LEN]);

/*
 * Percent-encodes n bytes of s with the SigV4 rules above; '/' stays when
 * keep_slash is true. Returns a malloc'ed string the caller frees.
 */
char *sigv4_uri_encode(const char *s, size_t n, bool keep_slash);

/*
 * The encoded URL path of an object: "/<bucket>/<key>" (path style) or
 * "/<key>" when bucket is NULL or "" (virtual-hosted style). Each '/' in
 * the key stays a separator; everything else outside the unreserved set is
 * percent-encoded. Returns a malloc'ed string the caller frees. Signing
 * the raw "/<bucket>/<key>" with sigv4_sign() matches this URL path.
 */
char *sigv4_key_path(const char *bucket, const char *key);

#endif
