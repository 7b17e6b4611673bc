/*
 * azsign.h - Azure Storage request authorisation for the Blob service:
 * Shared Key signing, connection strings and SAS tokens.
 *
 * Pure: no I/O, no clock (azsign_date() formats a time the caller passes).
 *
 * Shared Key (x-ms-version 2015-02-21 or later is assumed throughout):
 * the string to sign is
 *
 *	VERB \n Content-Encoding \n Content-Language \n Content-Length \n
 *	Content-MD5 \n Content-Type \n Date \n If-Modified-Since \n If-Match \n
 *	If-None-Match \n If-Unmodified-Since \n Range \n
 *	CanonicalizedHeaders CanonicalizedResource
 *
 * where each standard header is the value of that request header (empty
 * when absent), Content-Length is empty when it is "0", and Date is empty
 * when an x-ms-date header is present (the service then ignores Date).
 * CanonicalizedHeaders is one "name:value\n" line per x-ms-* header, names
 * lower-cased and sorted, values trimmed with runs of whitespace collapsed,
 * a repeated name joined with ','. CanonicalizedResource is
 * "/<account><path>" followed, for each query parameter sorted by
 * lower-cased name, by "\n<name>:<v1>,<v2>" with that name's values sorted.
 * The signature is base64(HMAC-SHA-256(base64-decoded account key, string
 * to sign)) and the header "Authorization: SharedKey <account>:<sig>".
 *
 * What the caller passes (struct azsign_req):
 *   - path: the URL path exactly as sent, already percent-encoded, e.g.
 *     "/container/dir/my%20blob" (azsign_blob_path() builds it). With a
 *     path-style endpoint such as Azurite's
 *     http://127.0.0.1:10000/devstoreaccount1 the path includes the account
 *     segment, which the resource then names twice, as the service expects:
 *     "/devstoreaccount1/devstoreaccount1/container/blob".
 *   - query: DECODED names and values (as they mean, not as sent).
 *   - headers: every request header; those that are neither standard
 *     fields above nor x-ms-* are ignored.
 *
 * Secrets: the account key, the SAS token and URLs carrying a SAS never
 * appear in error messages; structs holding them are wiped on release.
 */
#ifndef DBP_AZSIGN_H
#define DBP_AZSIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define AZSIGN_ENDPOINT_SUFFIX	"core.windows.net"

struct azsign_kv {
	const char *name;
	const char *value;		/* NULL is "" */
};

/* Everything is borrowed from the caller for the duration of the call. */
struct azsign_req {
	const char *method;		/* "GET", "PUT", ... */
	const char *path;		/* encoded URL path; NULL or "" is "/" */
	const struct azsign_kv *query;
	size_t nquery;
	const struct azsign_kv *headers;
	size_t nheaders;
};

/*
 * A storage account's Shared Key credentials: the account name and the
 * decoded key. Owned memory; release with azsign_key_release(), which
 * wipes the key.
 */
struct azsign_key {
	char *account;
	unsigned char *key;
	size_t keylen;
};

/*
 * Decodes key_b64 (standard base64 with padding) for account. Returns 0, or
 * -1 with err set ("account key is not valid base64", ...) and *k zeroed.
 */
int azsign_key_init(struct azsign_key *k, const char *account,
    const char *key_b64, char *err, size_t errlen) DBP_MUSTCHECK;
void azsign_key_release(struct azsign_key *k);

/*
 * The string to sign for req on account (see above). Returns a malloc'ed
 * string the caller frees, or NULL with err set when the method is missing,
 * the path does not start with '/', or a header value holds CR or LF.
 */
char *azsign_string_to_sign(const char *account, const struct azsign_req *req,
    char *err, size_t errlen);

/*
 * Signs req. On success returns 0 and stores in *authorization a malloc'ed
 * "SharedKey <account>:<base64 signature>" (the Authorization header's
 * value); when sts is not NULL *sts receives the malloc'ed string to sign.
 * The caller frees both. Returns -1 with err set as azsign_string_to_sign(),
 * leaving the outputs NULL.
 */
int azsign_sign(const struct azsign_key *k, const struct azsign_req *req,
    char **authorization, char **sts, char *err, size_t errlen) DBP_MUSTCHECK;

/* RFC 1123 date for x-ms-date: "Sun, 11 Oct 2009 21:49:13 GMT". Returns
 * out, or NULL when now is outside years 1970-9999. */
#define AZSIGN_DATE_LEN 30
char *azsign_date(int64_t now, char out[AZSIGN_DATE_LEN]);

/*
 * The encoded path of a blob: "/<container>/<blob>", every byte of the
 * blob name outside A-Z a-z 0-9 - . _ ~ and '/' percent-encoded. Returns a
 * malloc'ed string the caller frees.
 */
char *azsign_blob_path(const char *container, const char *blob);

/*
 * A parsed connection string:
 *   DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k;
 *   EndpointSuffix=core.windows.net;BlobEndpoint=...;SharedAccessSignature=...
 * Keys are matched without regard to case; values may contain '='; empty
 * segments (a trailing ';') are skipped; unknown keys (QueueEndpoint, ...)
 * are ignored; a key given twice is an error. "UseDevelopmentStorage=true"
 * selects the Azurite account (devstoreaccount1, its published key,
 * http://127.0.0.1:10000/devstoreaccount1).
 *
 * blob_endpoint is BlobEndpoint without a trailing '/', or, when absent,
 * "<protocol>://<account>.blob.<suffix>" (protocol default https, suffix
 * default core.windows.net). At least one of account_key and sas is set.
 * Every string is malloc'ed and owned; account_key and sas are secrets.
 * Release with azsign_conn_release(), which wipes them.
 */
struct azsign_conn {
	char *protocol;			/* "https" or "http" */
	char *account;			/* NULL only with a SAS-only string */
	char *account_key;		/* base64, or NULL */
	char *sas;			/* without a leading '?', or NULL */
	char *endpoint_suffix;
	char *blob_endpoint;
};

/*
 * Parses s. Returns 0, or -1 with err naming the problem (a segment number
 * or a key, never a value) and *out zeroed.
 */
int azsign_conn_parse(const char *s, struct azsign_conn *out,
    char *err, size_t errlen) DBP_MUSTCHECK;
void azsign_conn_release(struct azsign_conn *c);

/*
 * Appends a SAS token to url's query: a leading '?' of sas is dropped,
 * then it is joined with '?' (url has no query) or '&'. A NULL or empty sas
 * gives a copy of url. Returns a malloc'ed string the caller frees; it
 * carries a secret: free it with free_secret() and never log it.
 */
char *azsign_url_with_sas(const char *url, const char *sas);

#endif
