/*
 * s3.h - an Amazon S3 (and S3-compatible) client on the libev loop.
 *
 * Everything is asynchronous: requests run on a struct curlev (curl multi
 * on the loop), no call blocks, and results come back through callbacks,
 * always from the loop and never from inside the call that started the
 * operation. Requests are signed with AWS Signature Version 4 (sigv4.h).
 *
 * Operations:
 *   - upload (s3_put_*): a stream of unknown or estimated length goes up in
 *     parts of part_size bytes. When the whole stream fits in one part it is
 *     sent as one PutObject; otherwise CreateMultipartUpload, one UploadPart
 *     per part, then CompleteMultipartUpload. Only one part is ever held in
 *     memory: while it is being sent, s3_put_write() takes nothing and the
 *     writer waits for the writable callback. Each part carries Content-MD5
 *     (or x-amz-checksum-sha256) and its ETag is checked against the MD5 of
 *     what was sent; the final ETag of a multipart object is checked against
 *     the MD5 of the part MD5s. A failed or aborted upload is aborted on the
 *     server (AbortMultipartUpload): it leaves nothing behind.
 *   - download (s3_get_*): a streamed GET from an offset; a dropped or
 *     stalled connection is resumed with a ranged GET from the last byte
 *     the consumer took, pinned to the first response's ETag (If-Match).
 *   - s3_delete(): DeleteObject; a missing object counts as deleted.
 *   - s3_list(): ListObjectsV2 over every page (continuation tokens).
 *   - s3_abort_stale(): aborts the multipart uploads left under a key
 *     prefix by a process that died before it could abort them.
 *
 * Every request is retried on 5xx, 429, S3's RequestTimeout, timeouts and
 * dropped connections, with exponential backoff and jitter, max_tries
 * times in all; a GET that made progress starts its count again.
 *
 * Addressing. With no endpoint the client talks to AWS,
 * https://s3.<region>.amazonaws.com (amazonaws.com.cn for cn-* regions).
 * With S3_STYLE_AUTO the bucket goes into the host name ("virtual-hosted
 * style", <bucket>.s3.<region>.amazonaws.com) for AWS endpoints (no
 * endpoint, or one whose host ends in .amazonaws.com or .amazonaws.com.cn)
 * unless the bucket name is not a valid DNS label sequence or contains a
 * dot (which would not match AWS's wildcard certificate); any other
 * endpoint (MinIO, Ceph, ...) gets path style (http://host:9000/<bucket>/
 * <key>). S3_STYLE_PATH and S3_STYLE_VIRTUAL force one or the other. An
 * endpoint is "https://host[:port][/base/path]" or "http://..."; without
 * a scheme it is https. TLS peers are always verified (ca_file adds a CA
 * bundle).
 *
 * Errors are one line: "S3 <Code>: <Message>" from S3's XML error body
 * ("S3 NoSuchBucket: The specified bucket does not exist"), "S3 HTTP
 * <status>" when there is no body, or "S3 <what>: <transport error>".
 * Credentials never appear in errors or logs; with debug logging, curl's
 * header trace is logged with Authorization and x-amz-security-token
 * replaced by "[REDACTED]".
 *
 * Ownership: the client copies its configuration (the secret and the
 * session token are wiped when it is freed). Operation handles are owned
 * by the client: a handle is valid until its done callback returns (it
 * must not be used in or after done), or until it is cancelled/aborted.
 * s3_client_free() cancels whatever is still running without callbacks;
 * it must not be called from one of the client's callbacks. No call here
 * touches curl directly: requests start, and cancelled transfers end,
 * from the loop, so every call is also legal inside a curl callback of
 * another transfer (a download feeding an upload). Memory allocation
 * failures are fatal (util.h).
 */
#ifndef DBP_S3_H
#define DBP_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curlev.h"
#include "util.h"

#define S3_MIN_PART_SIZE	((size_t)5 << 20)
#define S3_DEFAULT_PART_SIZE	((size_t)8 << 20)
#define S3_MAX_PART_SIZE	((uint64_t)5 << 30)
#define S3_MAX_PARTS		10000
#define S3_MAX_OBJECT_SIZE	((uint64_t)5 << 40)
/* Without a size estimate, the part size doubles every this many parts. */
#define S3_GROW_EVERY		2000

enum s3_style {
	S3_STYLE_AUTO = 0,	/* virtual-hosted for AWS, path style otherwise */
	S3_STYLE_PATH,		/* https://endpoint/<bucket>/<key> */
	S3_STYLE_VIRTUAL,	/* https://<bucket>.endpoint/<key> */
};

enum s3_checksum {
	S3_CHECKSUM_MD5 = 0,	/* Content-MD5 per part (every S3 flavour) */
	S3_CHECKSUM_SHA256,	/* x-amz-checksum-sha256 per part */
};

struct s3_config {
	const char *region;		/* required ("us-east-1" for MinIO) */
	const char *endpoint;		/* NULL or "": AWS */
	enum s3_style style;
	const char *bucket;		/* required */
	const char *access_key_id;	/* required */
	const char *secret_key;		/* required */
	const char *session_token;	/* optional (AWS_SESSION_TOKEN) */
	const char *ca_file;		/* optional PEM bundle for https */
	size_t part_size;		/* 0: 8 MiB; at least 5 MiB */
	enum s3_checksum checksum;
	int max_tries;			/* attempts per request; 0: 4 */
	double retry_initial;		/* first backoff delay, s; 0: 0.5 */
	double idle_timeout;		/* no byte moved this long = dropped; 0: 60 */
	double request_timeout;		/* bodyless requests, whole; 0: 60 */
	unsigned list_page_size;	/* max-keys; 0: the server's (1000) */
};

/* Counters since the client was made. */
struct s3_stats {
	uint64_t requests;	/* attempts started */
	uint64_t failures;	/* attempts that failed (then retried or not) */
	uint64_t retries;	/* attempts that were retries */
	uint64_t resumes;	/* downloads resumed after a drop */
	uint64_t bytes_up;	/* request bodies sent */
	uint64_t bytes_down;	/* object bytes handed to consumers */
};

struct s3_client;

/* NULL with a reason in err for an unusable configuration. */
struct s3_client *s3_client_new(struct curlev *m, const struct s3_config *cfg,
    char *err, size_t errlen);
/* Cancels every operation still running (no callbacks; an upload cut off
 * here may leave a multipart upload for s3_abort_stale()). Call it before
 * curlev_free(). NULL is fine. */
void s3_client_free(struct s3_client *c);
const struct s3_stats *s3_client_stats(const struct s3_client *c);
/* Operations not yet finished, counting aborts still running in the
 * background after s3_put_abort(). */
size_t s3_client_pending(const struct s3_client *c);
/* The configured part size (an upload's own grows with its size hint). */
size_t s3_client_part_size(const struct s3_client *c);

/* ---- upload -------------------------------------------------------- */

struct s3_put;

struct s3_put_cb {
	/* s3_put_write() may take bytes again (it returned less than asked).
	 * Optional: a writer can also poll. */
	void (*writable)(struct s3_put *p, void *arg);
	/* Once, when the object is stored (ok) or the upload failed and was
	 * cleaned up (err is one line). */
	void (*done)(struct s3_put *p, bool ok, const char *err, void *arg);
};

/*
 * Starts the upload of key (the full object key). size_hint is the
 * expected total size in bytes or -1: with a hint the part size grows so
 * that the object fits in 10,000 parts (a hint above 5 TiB fails). Without
 * one, or once the stream has outgrown it, the part size doubles every
 * 2,000 parts (see s3_next_part_size()), so memory grows only for very
 * large artefacts. Nothing is sent before the first part is full or the
 * stream is finished. Never NULL.
 */
struct s3_put *s3_put_new(struct s3_client *c, const char *key,
    int64_t size_hint, const struct s3_put_cb *cb, void *arg);
/* Takes up to n bytes into the part buffer and returns how many it took;
 * 0 while a part is in flight (wait for writable), after finish, or once
 * the upload has failed (done follows). */
size_t s3_put_write(struct s3_put *p, const void *data, size_t n);
/* Ends the stream: sends what is buffered and commits the object. */
void s3_put_finish(struct s3_put *p);
/* Stops at once and frees p: no callback follows. A multipart upload
 * already started is aborted on the server in the background (see
 * s3_client_pending()). Legal until done has been called, including from
 * the writable callback. */
void s3_put_abort(struct s3_put *p);
/* Until done has returned: the object's ETag without quotes (set when
 * done reports success), the bytes taken so far, and the parts uploaded
 * so far (0 for a single PutObject). */
const char *s3_put_etag(const struct s3_put *p);
uint64_t s3_put_size(const struct s3_put *p);
unsigned s3_put_parts(const struct s3_put *p);

/* ---- download ------------------------------------------------------ */

struct s3_get;

struct s3_get_cb {
	/*
	 * n bytes of the object, in order (typically up to 16 KiB, curl's
	 * write size). Returning false refuses them and pauses the download:
	 * the same bytes are offered again after s3_get_resume(), so a
	 * consumer must eventually take a chunk whole. s3_get_cancel() is
	 * legal here.
	 */
	bool (*data)(struct s3_get *g, const void *p, size_t n, void *arg);
	/* Once: every byte from offset to the end was taken (ok), or not. */
	void (*done)(struct s3_get *g, bool ok, const char *err, void *arg);
};

/* Downloads key from byte offset to the end. Never NULL. An offset equal
 * to the object's size gives an empty, successful download. */
struct s3_get *s3_get_new(struct s3_client *c, const char *key,
    uint64_t offset, const struct s3_get_cb *cb, void *arg);
/* Continues after data returned false (from the loop, not from here);
 * not legal inside the data callback. */
void s3_get_resume(struct s3_get *g);
/* Stops and frees g; no callback follows. */
void s3_get_cancel(struct s3_get *g);
/* The object's total size once the first response arrived, else -1. */
int64_t s3_get_size(const struct s3_get *g);

/* ---- delete, list, stale uploads ----------------------------------- */

typedef void (*s3_done_fn)(bool ok, const char *err, void *arg);

/* DeleteObject; an object that does not exist counts as deleted. */
void s3_delete(struct s3_client *c, const char *key, s3_done_fn done,
    void *arg);

struct s3_list;

struct s3_list_cb {
	/* Each object under the prefix, in key order; mtime is UTC seconds.
	 * s3_list_cancel() is legal here. */
	void (*item)(const char *key, uint64_t size, double mtime, void *arg);
	void (*done)(bool ok, const char *err, void *arg);
};

/* Lists every object whose key starts with prefix ("" for all). */
struct s3_list *s3_list(struct s3_client *c, const char *prefix,
    const struct s3_list_cb *cb, void *arg);
/* Stops and frees l; no callback follows. */
void s3_list_cancel(struct s3_list *l);

typedef void (*s3_stale_fn)(bool ok, const char *err, unsigned aborted,
    void *arg);

/*
 * Aborts every multipart upload in progress whose key starts with
 * key_prefix, then calls done with how many it aborted. Meant for the
 * leftovers of a process that crashed: an upload of this process under the
 * same prefix would be aborted too. s3_abort_stale_before() spares uploads
 * initiated at or after `before` (UTC seconds; 0 spares none).
 */
void s3_abort_stale(struct s3_client *c, const char *key_prefix,
    s3_stale_fn done, void *arg);
void s3_abort_stale_before(struct s3_client *c, const char *key_prefix,
    double before, s3_stale_fn done, void *arg);

/* ---- pure helpers (exposed for the unit tests) --------------------- */

/*
 * Where requests go. scheme is "https" or "http"; host is the URL's
 * authority and the value of the Host header (the bucket included for
 * virtual-hosted style, the port only when it is not the scheme's
 * default); base is a raw path prefix ("" or "/base", no trailing slash).
 */
struct s3_addr {
	char scheme[8];
	char *host;
	char *base;
	char *bucket;
	bool path_style;
	bool aws;		/* an AWS endpoint */
};

int s3_addr_init(struct s3_addr *a, const char *endpoint, const char *region,
    const char *bucket, enum s3_style style, char *err, size_t errlen)
    DBP_MUSTCHECK;
void s3_addr_release(struct s3_addr *a);
/* The raw (unencoded) absolute path of key, or of the bucket when key is
 * NULL: "/bucket/key" or "/key" (virtual-hosted), after the base. */
char *s3_addr_path(const struct s3_addr *a, const char *key);
/* The full URL for a raw path and query (names and values raw, encoded
 * here as SigV4 encodes them; a NULL value gives "name" alone). */
char *s3_addr_url(const struct s3_addr *a, const char *raw_path,
    const char *const *qnames, const char *const *qvalues, size_t nq);

/* True if name is a bucket name usable as a DNS label sequence without a
 * dot (virtual-hosted style over TLS). */
bool s3_bucket_virtual_ok(const char *name);

/*
 * The part size for an upload: configured (>= 5 MiB), grown to a whole
 * number of MiB so that size_hint bytes fit in 10,000 parts. Returns 0
 * with *out set, or -1 with err when the hint is above 5 TiB.
 */
int s3_part_size(size_t configured, int64_t size_hint, size_t *out,
    char *err, size_t errlen) DBP_MUSTCHECK;

/*
 * The size of the part after parts_done parts holding sent bytes, for an
 * upload whose first part size is base (from s3_part_size()): with
 * size_hint > sent, large enough for the rest of the estimate to fit in
 * the parts left; otherwise base doubled every S3_GROW_EVERY parts (8 MiB
 * parts reach about 484 GiB in 10,000 parts, with parts of at most 128
 * MiB). Never below base, never above 5 GiB.
 */
size_t s3_next_part_size(size_t base, int64_t size_hint, uint64_t sent,
    unsigned parts_done);

/*
 * A small XML scanner (enough for S3's responses, no DTDs). Tokens are
 * start tags (name without namespace prefix), end tags and text runs.
 * "<a/>" gives a start and an end; declarations, comments and processing
 * instructions are skipped; CDATA is text. Text is raw: decode it with
 * s3_xml_unescape().
 */
enum s3_xml_tok {
	S3_XML_EOF = 0,
	S3_XML_OPEN,
	S3_XML_CLOSE,
	S3_XML_TEXT,
	S3_XML_ERROR,
};

struct s3_xml {
	const char *p, *end;
	int depth;		/* of the element the last token belongs to */
	bool pending_close;	/* "<a/>": the CLOSE token still to give */
	bool cdata;		/* the last TEXT was a CDATA section */
	const char *name;	/* OPEN/CLOSE: local name */
	size_t namelen;
	const char *text;	/* TEXT */
	size_t textlen;
};

void s3_xml_init(struct s3_xml *x, const char *doc, size_t len);
enum s3_xml_tok s3_xml_next(struct s3_xml *x);
/* Decodes the five entities and &#N; / &#xH; (as UTF-8) of n bytes;
 * returns a malloc'ed string, or NULL for a malformed reference or a
 * decoded NUL. */
char *s3_xml_unescape(const char *s, size_t n);
/* Text of the first element named name directly under the root (decoded,
 * malloc'ed), or NULL. */
char *s3_xml_child(const char *doc, size_t len, const char *name);
/* The root element's name: true when it is name. */
bool s3_xml_root_is(const char *doc, size_t len, const char *name);

/*
 * Reads an S3 error document ("<Error><Code>..</Code><Message>..</Message>
 * ...</Error>") into "S3 <Code>: <Message>" (or "S3 <Code>" without a
 * message). Returns 0, or -1 when doc is not an error document (msg then
 * untouched). code receives the code alone when codelen > 0.
 */
int s3_parse_error(const char *doc, size_t len, char *code, size_t codelen,
    char *msg, size_t msglen);

/* One page of ListObjectsV2. item is called per object (keys are decoded
 * when the page says <EncodingType>url</EncodingType>); returns 0 with
 * *truncated and *next (malloc'ed continuation token or NULL), or -1 with
 * err. */
int s3_parse_list(const char *doc, size_t len,
    void (*item)(const char *key, uint64_t size, double mtime, void *arg),
    void *arg, bool *truncated, char **next, char *err, size_t errlen)
    DBP_MUSTCHECK;

/* One page of ListMultipartUploads; next_key and next_id are malloc'ed
 * markers (or NULL). */
int s3_parse_uploads(const char *doc, size_t len,
    void (*upload)(const char *key, const char *upload_id, double initiated,
    void *arg), void *arg, bool *truncated, char **next_key, char **next_id,
    char *err, size_t errlen) DBP_MUSTCHECK;

/* Percent-decodes n bytes, '+' as a space (S3's encoding-type=url);
 * malloc'ed, NULL for a bad escape or a decoded NUL. */
char *s3_url_decode(const char *s, size_t n);

/* Content-Range "bytes 100-199/1000"; a total of "*" gives -1. */
int s3_parse_content_range(const char *v, uint64_t *first, uint64_t *last,
    int64_t *total) DBP_MUSTCHECK;

/* The ETag of a multipart object: hex MD5 of the parts' binary MD5s,
 * "-", the part count. out holds at least 48 bytes. */
void s3_multipart_etag(const unsigned char (*md5)[16], size_t n, char *out);

/* An ETag header or element value without quotes/W/ prefix, lower-case;
 * writes at most outlen-1 bytes. */
void s3_etag_normalize(const char *in, char *out, size_t outlen);

/* The body of CompleteMultipartUpload for n parts numbered from 1: etag[i]
 * as S3 returned it, sha_b64[i] a part's base64 SHA-256 or NULL (or a NULL
 * array). Malloc'ed. */
char *s3_complete_xml(const char *const *etag, const char *const *sha_b64,
    size_t n);

/*
 * One line of curl's header trace with what could authenticate a request
 * replaced by "[REDACTED]": the value of Authorization, Proxy-
 * Authorization and x-amz-security-token headers, and the X-Amz-Signature,
 * X-Amz-Credential and X-Amz-Security-Token query parameters. Returns a
 * malloc'ed string.
 */
char *s3_redact_line(const char *line);

#endif
