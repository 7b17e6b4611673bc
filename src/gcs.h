/*
 * gcs.h - Google Cloud Storage client (JSON API) on the libev loop.
 *
 * One client per bucket and credentials, on a curlev (curl multi on the
 * loop). Everything is asynchronous: no thread, no blocking call, and an
 * upload keeps at most one part in memory.
 *
 * Authorisation: a service-account key (gcsauth.h) is turned into a signed
 * JWT and exchanged at the key's token_uri for an access token, which is
 * cached until shortly before it expires and fetched again when the service
 * answers 401. Requests that need a token while one is being fetched wait
 * for it; one fetch serves them all.
 *
 * Endpoint: the config's endpoint, else $STORAGE_EMULATOR_HOST (what
 * Google's client libraries read: "host:port" means http), else
 * https://storage.googleapis.com. Plain http only when the URL says so.
 * Without a key the client is anonymous, which only an endpoint override
 * allows (emulators).
 *
 * Uploads: an artefact that ends within the first part goes in one request
 * (uploadType=media); a longer one goes through a resumable session, one
 * part per PUT (parts are multiples of 256 KiB, as the service requires),
 * and the service's answer (308 + Range) says how much it kept, so a part
 * it kept only in part is sent again from there. After a dropped
 * connection, a timeout or a 5xx the session is asked what it has
 * ("Content-Range: bytes * / *") and the upload resumes from that byte,
 * with backoff, a few times. The final request carries the MD5 and CRC32C
 * of the whole artefact (X-Goog-Hash) and the object the service reports
 * is checked against them and the size; an object that does not match is
 * deleted and the upload fails. An upload that fails or is aborted
 * cancels its session (DELETE of the session URI), so nothing is left.
 *
 * Downloads stream to a consumer that may pause; a dropped connection is
 * resumed with a ranged GET from the next byte, pinned to the generation
 * first read, a few times.
 *
 * Errors name the service's code and message ("GCS 404: No such object:
 * b/k", "GCS token: invalid_grant: Invalid JWT Signature."). The key, the
 * JWT, access tokens and session URIs (which authorise writes by
 * themselves) never appear in errors or logs; curl's debug output, at log
 * level debug, is filtered by gcs_redact().
 *
 * Objects (uploads, downloads, deletes, lists) end in exactly one done
 * callback, or in an abort/cancel that suppresses it; either way the
 * object is freed by the client afterwards and the pointer must not be
 * used once done has returned or after the abort/cancel call. Callbacks
 * run from the loop; none of them may free the client.
 */
#ifndef DBP_GCS_H
#define DBP_GCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curlev.h"
#include "util.h"

#define GCS_DEFAULT_ENDPOINT	"https://storage.googleapis.com"
#define GCS_EMULATOR_ENV	"STORAGE_EMULATOR_HOST"
#define GCS_QUANTUM		((size_t)256 * 1024)	/* chunk multiple */
#define GCS_DEFAULT_PART_SIZE	((size_t)8 << 20)
#define GCS_MAX_PART_SIZE	((size_t)512 << 20)
#define GCS_DEFAULT_TRIES	5
#define GCS_DEFAULT_TIMEOUT	60.0	/* seconds without a byte moving */

struct gcs_config {
	const char *bucket;		/* required */
	const char *endpoint;		/* NULL or "": see above */
	const char *sa_json;		/* service-account key file contents
					 * (a secret, copied); NULL: anonymous */
	size_t sa_json_len;
	const char *ca_file;		/* NULL: the system's CAs */
	bool tls_insecure;		/* no certificate check (tests only) */
	size_t part_size;		/* 0: default; see gcs_part_size() */
	unsigned list_page_size;	/* 0: the service's default (1000) */
	int max_tries;			/* attempts per step; 0: default */
	double retry_delay;		/* first backoff delay (s); 0: 0.5 */
	double timeout;			/* stall limit (s); 0: default */
	const char *user_agent;		/* NULL: dbprovd/version */
};

/* Counters since the client was made. */
struct gcs_stats {
	uint64_t bytes_up;		/* artefact bytes the service kept */
	uint64_t bytes_down;		/* bytes handed to consumers */
	uint64_t requests;		/* HTTP attempts */
	uint64_t retries;		/* attempts repeated after a failure */
	uint64_t errors;		/* transport errors and error answers */
	uint64_t token_fetches;
};

/* What the service reported for an object. */
struct gcs_object_info {
	uint64_t size;
	int64_t generation;
	char md5[32];			/* base64 as the API gives it, or "" */
	char crc32c[16];		/* base64 big-endian, or "" */
	int64_t updated;		/* seconds since the epoch, or 0 */
};

struct gcs_client;
struct gcs_put;
struct gcs_get;
struct gcs_op;

/*
 * Returns a client, or NULL with err set (a missing bucket, an endpoint
 * that is not http(s), a key file that does not parse: the message names
 * the field, never a value of the key). The config is copied; the key's
 * copy is wiped on free. The curlev must outlive the client.
 */
struct gcs_client *gcs_client_new(struct curlev *m,
    const struct gcs_config *cfg, char *err, size_t errlen);
/* Stops everything still running, without callbacks. Not from a callback. */
void gcs_client_free(struct gcs_client *c);
const struct gcs_stats *gcs_client_stats(const struct gcs_client *c);
/* Objects not yet freed, including the session cancellations that aborted
 * uploads leave running; 0 means nothing is in flight. */
size_t gcs_client_busy(const struct gcs_client *c);
/* The base URL in use ("http://127.0.0.1:9023"). */
const char *gcs_client_endpoint(const struct gcs_client *c);

/* ---- upload ---- */

struct gcs_put_cb {
	/* The part buffer has room again after gcs_put_write() returned 0. */
	void (*writable)(struct gcs_put *put, void *arg);
	/* Once. ok: the object exists as written (gcs_put_info() describes
	 * it while this runs); else err says why and nothing was left. */
	void (*done)(struct gcs_put *put, bool ok, const char *err, void *arg);
};

/*
 * Starts an upload to key (the full object name). size_hint is the
 * expected size or -1; it only sizes the first buffer. cb is copied. The
 * upload is writable at once.
 */
struct gcs_put *gcs_put_new(struct gcs_client *c, const char *key,
    int64_t size_hint, const struct gcs_put_cb *cb, void *arg);
/*
 * Takes up to n bytes into the part buffer and returns how many it took:
 * 0 while a full part is on its way (wait for writable) and after finish
 * or a failure. A part is sent as soon as it is full.
 */
size_t gcs_put_write(struct gcs_put *put, const void *p, size_t n);
/* The artefact is complete: sends what is buffered and commits. */
void gcs_put_finish(struct gcs_put *put);
/* Stops at any time (not from done) and removes what the upload left at
 * the service; no callback follows. */
void gcs_put_abort(struct gcs_put *put);
/* Valid inside a successful done callback. */
const struct gcs_object_info *gcs_put_info(const struct gcs_put *put);
/* Bytes accepted so far. */
uint64_t gcs_put_size(const struct gcs_put *put);

/* ---- download ---- */

struct gcs_get_cb {
	/* n bytes of the object in order. Return true when they were taken,
	 * false to pause: the same bytes come again after gcs_get_resume(),
	 * which may call this before it returns. */
	bool (*data)(struct gcs_get *get, const void *p, size_t n, void *arg);
	/* Once, after the last byte (ok) or on failure. */
	void (*done)(struct gcs_get *get, bool ok, const char *err, void *arg);
};

/* Streams key from byte offset on. cb is copied. */
struct gcs_get *gcs_get_new(struct gcs_client *c, const char *key,
    uint64_t offset, const struct gcs_get_cb *cb, void *arg);
/* Resumes a paused download; not from inside data. */
void gcs_get_resume(struct gcs_get *get);
/* Stops (also from inside data); no callback follows. */
void gcs_get_cancel(struct gcs_get *get);
/* The object's size once the first answer came, else -1. */
int64_t gcs_get_object_size(const struct gcs_get *get);

/* ---- delete and list ---- */

typedef void (*gcs_done_fn)(bool ok, const char *err, void *arg);

/* Deletes key; an object already gone counts as deleted. */
struct gcs_op *gcs_delete(struct gcs_client *c, const char *key,
    gcs_done_fn done, void *arg);

struct gcs_list_cb {
	/* Every object whose name starts with the prefix, in name order
	 * across pages; mtime is the object's "updated" time. */
	void (*item)(const char *key, uint64_t size, int64_t mtime, void *arg);
	void (*done)(bool ok, const char *err, void *arg);
};

/* Lists prefix ("" for all), following page tokens. cb is copied. */
struct gcs_op *gcs_list(struct gcs_client *c, const char *prefix,
    const struct gcs_list_cb *cb, void *arg);
/* Stops a delete or list (also from inside item); no callback follows. */
void gcs_op_cancel(struct gcs_op *op);

/* ---- pure parts (exposed for the tests) ---- */

/* Percent-encodes everything but RFC 3986 unreserved characters (so "/"
 * becomes %2F, as object names in a path need). Malloc'ed. */
char *gcs_escape(const char *s);
/*
 * The base URL from the config's endpoint and the emulator variable's
 * value (either may be NULL or ""), without a trailing "/" or
 * "/storage/v1". An endpoint without a scheme means https; the emulator
 * variable without one means http. Returns a malloc'ed URL, or NULL with
 * err set for a scheme other than http(s) or an empty host.
 */
char *gcs_endpoint(const char *cfg_endpoint, const char *emulator_host,
    char *err, size_t errlen);
/* 0 gives GCS_DEFAULT_PART_SIZE; others are rounded up to a multiple of
 * GCS_QUANTUM and capped at GCS_MAX_PART_SIZE. */
size_t gcs_part_size(size_t requested);
/*
 * The Content-Range of a resumable PUT of n bytes at start: "bytes
 * S-E/TOTAL", "bytes S-E/ *" (without the space) while the total is
 * unknown (total < 0), "bytes * /TOTAL" (no space) when n is 0 (the
 * commit of a stream that ended on a part boundary).
 */
void gcs_chunk_range(uint64_t start, uint64_t n, int64_t total, char *out,
    size_t outlen);
/* A 308's Range header value ("bytes=0-N"): *kept = N + 1. NULL or "" is
 * 0 (nothing kept). Returns 0, or -1 when it does not start at 0 or does
 * not parse. */
int gcs_parse_kept(const char *range, uint64_t *kept) DBP_MUSTCHECK;
/* A 206's Content-Range ("bytes A-B/T" or "bytes A-B/ *"): *total is -1
 * when unknown. Returns 0, or -1. */
int gcs_parse_content_range(const char *v, uint64_t *first, uint64_t *last,
    int64_t *total) DBP_MUSTCHECK;
/* "GCS <code>: <message>" from a JSON API error body; a body that is not
 * one gives "GCS <status>: HTTP <status>". The message is cut at 200
 * bytes and control characters become spaces. */
void gcs_error_text(long status, const char *body, size_t len, char *err,
    size_t errlen);
/* An object resource (size, generation, md5Hash, crc32c, updated).
 * Returns 0, or -1 with err set. */
int gcs_parse_object(const char *body, size_t len,
    struct gcs_object_info *out, char *err, size_t errlen) DBP_MUSTCHECK;
typedef void (*gcs_item_fn)(const char *key, uint64_t size, int64_t mtime,
    void *arg);
/*
 * One page of an objects.list answer: item() for each object, then
 * *next_token is the malloc'ed nextPageToken or NULL on the last page.
 * Items are checked before any is reported. Returns 0, or -1 with err set
 * (nothing reported, *next_token NULL).
 */
int gcs_parse_list(const char *body, size_t len, gcs_item_fn item,
    void *arg, char **next_token, char *err, size_t errlen) DBP_MUSTCHECK;
/* CRC-32C (Castagnoli) of n bytes, continuing from crc (0 to start). */
uint32_t gcs_crc32c(uint32_t crc, const void *p, size_t n);
/* The API's forms: base64 of the big-endian CRC, base64 of the MD5. */
void gcs_crc32c_b64(uint32_t crc, char out[16]);
void gcs_md5_b64(const unsigned char md5[16], char out[32]);
/*
 * Copies one line of HTTP trace into out (always terminated), with every
 * credential replaced by "[REDACTED]": the value of Authorization and
 * X-GUploader-UploadID headers, bearer tokens, and the values of
 * upload_id=, assertion= and access_token parameters.
 */
void gcs_redact(const char *line, size_t n, char *out, size_t outlen);
/* True when URL b has the scheme, host and port of base URL a (default
 * ports filled in); a URL with user info never matches. */
bool gcs_same_origin(const char *a, const char *b);

#endif
