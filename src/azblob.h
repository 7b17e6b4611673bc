/*
 * azblob.h - Azure Blob Storage client on the libev loop: streaming
 * block-blob uploads, ranged resumable downloads, delete, list.
 *
 * Everything runs as transfers on a struct curlev (curl multi on the
 * loop): no thread, no blocking call. Requests are authorised with the
 * account's Shared Key (azsign.h) or, without a key, with a SAS token
 * appended to every URL.
 *
 * Uploads. azblob_put_new() starts a block blob; azblob_put_write()
 * copies bytes into the one part buffer and returns how many it took.
 * When the buffer is full and more bytes come, the part goes out as one
 * Put Block (Content-MD5 set, so the service checks it) and write returns
 * 0 until it is stored: the caller waits for cb->writable. Nothing else
 * is buffered. azblob_put_finish() ends the stream: when everything fit
 * in the first part, one Put Blob stores it; otherwise the last part goes
 * out and Put Block List commits the blocks in order (the blob's
 * Content-MD5 property is the MD5 of the whole stream). Until the commit
 * the blob does not exist, or keeps its previous content: blocks that are
 * never committed are not a blob, and the service discards them
 * (azblob_put_abort() therefore has no remote state to clean).
 *
 * Every request is retried with backoff on 408, 429, 5xx, timeouts and
 * dropped connections, up to max_tries attempts, with a fresh date and
 * signature each time.
 *
 * Downloads. azblob_get_new() reads a blob from an offset with ranged
 * GETs. When the connection drops, the next GET asks for the bytes from
 * the last one received, with If-Match on the first response's ETag, so
 * a blob replaced meanwhile fails the read instead of splicing two
 * versions. A whole-blob read (offset 0) is checked against the blob's
 * Content-MD5 property when it has one.
 *
 * Callbacks never run from inside the call that started an operation.
 * Every operation ends with exactly one done callback, unless it was
 * aborted or cancelled first; the operation is freed when done returns
 * (its pointer is invalid afterwards). Aborting or cancelling is allowed
 * from any callback, including the operation's own.
 *
 * Errors name the service's error code and message, e.g.
 * "Azure AuthenticationFailed: Server failed to authenticate the request.
 * ..."; the account key, SAS tokens and signatures never appear in an
 * error, a log line or curl's debug output.
 */
#ifndef DBP_AZBLOB_H
#define DBP_AZBLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curlev.h"
#include "util.h"

#define AZBLOB_DEFAULT_PART_SIZE	((size_t)8 << 20)
#define AZBLOB_MIN_PART_SIZE		((size_t)64 << 10)
/* Service limits (x-ms-version 2019-12-12 and later). */
#define AZBLOB_MAX_BLOCKS		50000u
#define AZBLOB_MAX_BLOCK_SIZE		((uint64_t)4000 << 20)
#define AZBLOB_MAX_PUT_BLOB		((uint64_t)5000 << 20)
/* A part grows after this many blocks when the size is not known. */
#define AZBLOB_GROW_EVERY		10000u
#define AZBLOB_DEFAULT_PAGE		1000u
#define AZBLOB_DEFAULT_TRIES		5
#define AZBLOB_API_VERSION		"2021-12-02"

/*
 * Where the client goes and as whom. Strings are copied by
 * azblob_client_new(); the key and the SAS are wiped on free.
 */
struct azblob_config {
	/* Blob service URL: "https://acct.blob.core.windows.net", or
	 * path-style "http://127.0.0.1:10000/acct". NULL or "":
	 * https://<account>.blob.core.windows.net. Plain http only when
	 * this says so. */
	const char *endpoint;
	const char *account;
	const char *account_key;	/* base64 Shared Key, or NULL */
	const char *sas;		/* SAS token, used when there is no key */
	const char *container;
	const char *ca_file;		/* NULL: the system's CAs */
	bool tls_insecure;		/* no certificate check (never default) */
	size_t part_size;		/* 0: AZBLOB_DEFAULT_PART_SIZE */
	unsigned page_size;		/* list maxresults; 0: AZBLOB_DEFAULT_PAGE */
	int max_tries;			/* per request; 0: AZBLOB_DEFAULT_TRIES */
	double retry_delay;		/* first backoff, s; 0: 0.5 */
	double idle_timeout;		/* no progress for this long fails a
					 * request (then retried); 0: 60 */
	double connect_timeout;		/* s; 0: 15 */
};

/*
 * Credentials as a Secret's data (or the environment) hold them: get(name)
 * returns the value of a key or NULL. Pure: nothing but get() is read.
 *
 *   AZURE_STORAGE_CONNECTION_STRING  on its own is enough: account,
 *       endpoint and key or SAS all come from it (azsign_conn_parse());
 *   AZURE_STORAGE_ACCOUNT_KEY, accountKey, storageAccountKey, key
 *       (the first one present) with the account name;
 *   AZURE_STORAGE_SAS_TOKEN  with the account name or an endpoint.
 *
 * account is the configured storage account (NULL: AZURE_STORAGE_ACCOUNT
 * from get()); endpoint an optional endpoint override, not allowed with a
 * connection string (which names its own endpoint). A connection string
 * naming another account than the configured one is refused. Empty values
 * count as absent.
 *
 * On success fills *out (malloc'ed strings; release with
 * azblob_creds_release(), which wipes the secrets) and returns 0; else -1
 * with err naming the problem (never a value) and *out zeroed.
 */
struct azblob_creds {
	char *endpoint;		/* never NULL after success */
	char *account;		/* NULL only for SAS with an endpoint */
	char *account_key;	/* base64, or NULL */
	char *sas;		/* or NULL; at least one of key and sas */
};
typedef const char *(*azblob_getenv_fn)(const char *name, void *arg);
int azblob_creds_resolve(struct azblob_creds *out, const char *account,
    const char *endpoint, azblob_getenv_fn get, void *arg, char *err,
    size_t errlen) DBP_MUSTCHECK;
void azblob_creds_release(struct azblob_creds *c);

struct azblob_stats {
	uint64_t bytes_up;		/* request bodies sent, retries included */
	uint64_t bytes_down;		/* blob bytes received */
	uint64_t requests;		/* attempts */
	uint64_t retries;
	uint64_t request_errors;	/* failed attempts, any cause */
};

struct azblob_client;
struct azblob_put;
struct azblob_get;
struct azblob_del;
struct azblob_list;

/*
 * A client for one container. Returns NULL with err set on a bad
 * configuration (no container, endpoint not http(s), key not base64,
 * neither key nor SAS). m must outlive the client.
 */
struct azblob_client *azblob_client_new(struct curlev *m,
    const struct azblob_config *cfg, char *err, size_t errlen);
/* Stops and frees every operation still running (no callbacks). Not from
 * inside one of the client's callbacks. */
void azblob_client_free(struct azblob_client *c);
const struct azblob_stats *azblob_client_stats(const struct azblob_client *c);

/* ---- upload ---- */

struct azblob_put_cb {
	/* The part buffer has room again after a write returned 0. */
	void (*writable)(struct azblob_put *p, void *arg);
	/* Once; err is NULL on success. */
	void (*done)(struct azblob_put *p, bool ok, const char *err, void *arg);
};

/*
 * Starts an upload of blob key (the full name). size_hint is the total
 * size if known, or -1; it only sizes the parts (see azblob_part_size()).
 * Nothing is sent before the first part is full or finish is called.
 * cb is copied.
 */
struct azblob_put *azblob_put_new(struct azblob_client *c, const char *key,
    int64_t size_hint, const struct azblob_put_cb *cb, void *arg);
/* Takes up to n bytes; 0 while a part is being sent, after finish, or
 * after a failure (done is then on its way). */
size_t azblob_put_write(struct azblob_put *p, const void *buf, size_t n);
/* Ends the stream: the rest is sent and the blob committed. Once. */
void azblob_put_finish(struct azblob_put *p);
/* Stops at once and frees p; no callback follows. */
void azblob_put_abort(struct azblob_put *p);
/* What was stored; meaningful in a successful done callback. */
uint64_t azblob_put_size(const struct azblob_put *p);
/* base64 MD5 of the whole stream (24 characters). */
const char *azblob_put_md5(const struct azblob_put *p);
const char *azblob_put_etag(const struct azblob_put *p);
unsigned azblob_put_blocks(const struct azblob_put *p);	/* 0: one Put Blob */

/* ---- download ---- */

struct azblob_get_cb {
	/* Bytes in order. Returning false takes these bytes but pauses the
	 * stream until azblob_get_resume(). */
	bool (*data)(struct azblob_get *g, const void *p, size_t n, void *arg);
	/* Once; ok only when every byte up to the blob's end was delivered. */
	void (*done)(struct azblob_get *g, bool ok, const char *err, void *arg);
};

struct azblob_get *azblob_get_new(struct azblob_client *c, const char *key,
    uint64_t offset, const struct azblob_get_cb *cb, void *arg);
/* Lets a paused stream go on (from the next loop iteration: data is
 * never called from inside). */
void azblob_get_resume(struct azblob_get *g);
/* Stops at once and frees g; no callback follows. */
void azblob_get_cancel(struct azblob_get *g);
/* The blob's size, once the first response arrived (else UINT64_MAX). */
uint64_t azblob_get_size(const struct azblob_get *g);
/* Connections that dropped and were resumed so far. */
unsigned azblob_get_resumes(const struct azblob_get *g);

/* ---- delete, list ---- */

struct azblob_del_cb {
	/* ok when the blob was deleted or did not exist. */
	void (*done)(struct azblob_del *d, bool ok, const char *err, void *arg);
};
struct azblob_del *azblob_delete(struct azblob_client *c, const char *key,
    const struct azblob_del_cb *cb, void *arg);
void azblob_delete_cancel(struct azblob_del *d);

struct azblob_list_cb {
	/* Every blob under the prefix, in the service's (name) order;
	 * mtime is Last-Modified in Unix seconds. */
	void (*item)(struct azblob_list *l, const char *key, uint64_t size,
	    int64_t mtime, void *arg);
	void (*done)(struct azblob_list *l, bool ok, const char *err, void *arg);
};
/* Lists the blobs whose names start with prefix ("" or NULL: all),
 * following NextMarker page by page. */
struct azblob_list *azblob_list(struct azblob_client *c, const char *prefix,
    const struct azblob_list_cb *cb, void *arg);
void azblob_list_cancel(struct azblob_list *l);
unsigned azblob_list_pages(const struct azblob_list *l);

/* ---- pure parts, exposed for the tests ---- */

/*
 * The size of block number index (0-based) of an upload: the configured
 * part size, raised so that size_hint (when >= 0) fits in
 * AZBLOB_MAX_BLOCKS blocks, then doubled every AZBLOB_GROW_EVERY blocks
 * (a stream longer than its hint, or without one, still fits), never
 * above AZBLOB_MAX_BLOCK_SIZE. Sizes are multiples of 64 KiB.
 */
uint64_t azblob_part_size(size_t part, int64_t size_hint, unsigned index);

/*
 * Block id of block index of an upload tagged nonce: base64 of the 24
 * characters "<16 hex digits of nonce><8 decimal digits of index>", so
 * every id of a blob has the same length (as the service requires).
 * Writes 33 bytes (32 characters and a NUL).
 */
#define AZBLOB_BLOCKID_LEN	33
void azblob_block_id(uint64_t nonce, unsigned index,
    char out[AZBLOB_BLOCKID_LEN]);

/*
 * The message of a failed response: "Azure <code>: <message>", code from
 * the XML body's <Code> or else the x-ms-error-code header (hdr_code,
 * may be NULL), message the first line of <Message> (no request id,
 * never AuthenticationErrorDetail, which quotes the string to sign);
 * without either, "Azure HTTP <status>". Writes into out and returns it.
 */
char *azblob_error_message(long status, const char *hdr_code,
    const char *body, size_t len, char *out, size_t outlen);

/*
 * One page of List Blobs: calls item for each <Blob> (name decoded, also
 * Encoded="true" names; size from Content-Length; mtime from
 * Last-Modified, -1 when absent or unreadable) and stores a malloc'ed
 * NextMarker in *next (NULL at the last page). Returns the number of
 * blobs, or -1 when the body is not a listing (*next NULL).
 */
typedef void (*azblob_item_fn)(const char *name, uint64_t size,
    int64_t mtime, void *arg);
long azblob_parse_list(const char *body, size_t len, azblob_item_fn item,
    void *arg, char **next);

/* RFC 1123 "Sun, 06 Nov 1994 08:49:37 GMT" to Unix seconds; -1 when
 * it is not that form. */
int64_t azblob_parse_http_date(const char *s);

/*
 * A line of curl's debug output made safe to log: the value of an
 * Authorization header and of a sig= query parameter (a SAS's signature;
 * its other parameters are not secret) replaced by "[REDACTED]". Writes
 * into out (truncating) and returns it.
 */
char *azblob_redact(const char *line, char *out, size_t outlen);

/*
 * Splits an endpoint URL into "scheme://authority" (*base) and its path
 * without trailing '/' ("" or "/acct", *path); both malloc'ed. Returns 0,
 * or -1 with err set when it is not an http(s) URL or carries a query,
 * fragment or user info.
 */
int azblob_endpoint_split(const char *url, char **base, char **path,
    char *err, size_t errlen) DBP_MUSTCHECK;

#endif
