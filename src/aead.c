/*
 * aead.c - chunked authenticated encryption of backup streams (sealing and
 * opening), and openers for the original operator's single-message
 * layouts. Byte layout, memory bound and trust rules in aead.h.
 *
 * One step function per direction moves data between two buffers: ib
 * collects input (a chunk of plaintext when sealing, a record when
 * opening) and ob holds what is ready to go out. aead_run() drains ob,
 * tops up ib and steps; a step runs only when ob is empty, so output
 * never gets ahead of the caller by more than one record.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "aead.h"

#define MAGIC_LEN	8
#define FP_LABEL	"dbprovd key fingerprint v1"
#define INFO_GCM	"dbprovd aead v1 gcm"
#define INFO_CBC	"dbprovd aead v1 cbc-hmac"
#define LEN_LEN		4		/* record length prefix */
#define AAD_LEN		(AEAD_HEADER_LEN + 8 + 1 + 4)
#define PREFIX_LEN	4		/* GCM nonce prefix */
#define BLOCK		16		/* AES block, CBC IV */
#define MAC_LEN		32
#define LEG_STEP	(64u * 1024)	/* legacy: bytes decrypted per step */

/* Header offsets. */
#define H_VERSION	8
#define H_ALGO		9
#define H_FLAGS		10
#define H_CHUNK		12
#define H_FP		16
#define H_SALT		32
#define SALT_LEN	32

static const unsigned char magic[MAGIC_LEN] = {
	'D', 'B', 'P', 'A', 'E', 'A', 'D', '\0'
};

enum aead_state {
	ST_SEAL_HEADER,		/* header not yet queued */
	ST_SEAL_BODY,		/* filling chunks; sealing each full one */
	ST_OPEN_MAGIC,		/* waiting for 8 bytes: ours or legacy? */
	ST_OPEN_HEADER,		/* waiting for the whole header */
	ST_OPEN_CHUNKS,		/* waiting for each whole record */
	ST_OPEN_TRAILER,	/* final record seen; only eof may follow */
	ST_LEG_PREFIX,		/* waiting for the legacy nonce or IV */
	ST_LEG_BODY,		/* streaming the legacy ciphertext */
	ST_DONE,		/* XF_DONE once ob is drained */
	ST_FAILED,		/* XF_ERROR for ever; err says why */
};

enum step_rc {
	STEP_MORE,		/* progress (or a final state): step again */
	STEP_WAIT,		/* needs more input, or eof */
};

struct aead {
	enum aead_state st;
	enum aead_algo algo;		/* ours; from the header when opening */
	enum aead_legacy legacy;
	size_t chunk;			/* C */
	uint64_t index;			/* next record */
	uint64_t legacy_ct;		/* legacy CBC ciphertext bytes seen */

	unsigned char key[AEAD_KEY_LEN];	/* the user key */
	unsigned char enc[32];			/* per-file subkeys */
	unsigned char mac[MAC_LEN];
	unsigned char prefix[PREFIX_LEN];
	unsigned char hdr[AEAD_HEADER_LEN];

	EVP_CIPHER *gcm, *cbc;
	EVP_CIPHER_CTX *ctx;
	EVP_MAC *hmac;
	EVP_MAC_CTX *mctx;

	unsigned char *ib;		/* input: ib[0..ilen) of icap */
	size_t ilen, icap;
	unsigned char *ob;		/* output: ob[ooff..olen) of ocap */
	size_t ooff, olen, ocap;

	char err[128];
};

static int
fail(struct aead *a, const char *fmt, ...) DBP_PRINTF(2, 3);

/* Makes a failed for good; returns -1. The OpenSSL error queue is shared
 * with TLS users on this thread, so leave nothing behind in it. */
static int
fail(struct aead *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	a->st = ST_FAILED;
	ERR_clear_error();
	return -1;
}

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static bool
algo_valid(int algo)
{
	return algo == AEAD_AES256_GCM || algo == AEAD_AES256_CBC_HMAC;
}

static bool
chunk_valid(size_t c)
{
	return c >= AEAD_CHUNK_MIN && c <= AEAD_CHUNK_MAX;
}

/* Bytes of the CBC ciphertext of len plaintext bytes (PKCS#7 always
 * adds 1..16 bytes). */
static size_t
cbc_ct_len(size_t len)
{
	return (len / BLOCK + 1) * BLOCK;
}

/* Bytes of the whole record holding len plaintext bytes. */
static size_t
record_len(enum aead_algo algo, size_t len)
{
	if (algo == AEAD_AES256_GCM)
		return LEN_LEN + len + AEAD_GCM_TAG_LEN;
	return LEN_LEN + BLOCK + cbc_ct_len(len) + MAC_LEN;
}

/* ---- primitives ---- */

/*
 * AES-256-GCM over one message: IV length set to 12 explicitly, 16-byte
 * tag. enc 1 writes tag, enc 0 checks it. out may be NULL when n is 0.
 */
static int
gcm_crypt(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, int enc,
    const unsigned char *key, const unsigned char *nonce,
    const unsigned char *aad, size_t aadlen, const unsigned char *in,
    size_t n, unsigned char *out, unsigned char *tag)
{
	OSSL_PARAM p[2];
	size_t ivlen = AEAD_GCM_NONCE_LEN;
	unsigned char fin[BLOCK];
	int len;

	if (n > INT_MAX || aadlen > INT_MAX)
		return -1;
	p[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN,
	    &ivlen);
	p[1] = OSSL_PARAM_construct_end();
	if (!EVP_CipherInit_ex2(ctx, cipher, NULL, NULL, enc, p) ||
	    !EVP_CipherInit_ex2(ctx, NULL, key, nonce, enc, NULL))
		return -1;
	if (aadlen > 0 &&
	    !EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aadlen))
		return -1;
	if (n > 0 && !EVP_CipherUpdate(ctx, out, &len, in, (int)n))
		return -1;
	if (!enc) {
		p[0] = OSSL_PARAM_construct_octet_string(
		    OSSL_CIPHER_PARAM_AEAD_TAG, tag, AEAD_GCM_TAG_LEN);
		if (!EVP_CIPHER_CTX_set_params(ctx, p))
			return -1;
	}
	if (!EVP_CipherFinal_ex(ctx, fin, &len))
		return -1;
	if (enc) {
		p[0] = OSSL_PARAM_construct_octet_string(
		    OSSL_CIPHER_PARAM_AEAD_TAG, tag, AEAD_GCM_TAG_LEN);
		if (!EVP_CIPHER_CTX_get_params(ctx, p))
			return -1;
	}
	return 0;
}

static int
gcm_oneshot(int enc, const unsigned char *key, const unsigned char *nonce,
    const unsigned char *aad, size_t aadlen, const unsigned char *in,
    size_t n, unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER *c;
	EVP_CIPHER_CTX *ctx;
	int rc = -1;

	c = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	ctx = EVP_CIPHER_CTX_new();
	if (c != NULL && ctx != NULL)
		rc = gcm_crypt(ctx, c, enc, key, nonce, aad, aadlen, in, n,
		    out, tag);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(c);
	ERR_clear_error();
	return rc;
}

int
aead_gcm_seal(const unsigned char key[AEAD_KEY_LEN],
    const unsigned char nonce[AEAD_GCM_NONCE_LEN], const unsigned char *aad,
    size_t aadlen, const unsigned char *in, size_t n, unsigned char *out,
    unsigned char tag[AEAD_GCM_TAG_LEN])
{
	return gcm_oneshot(1, key, nonce, aad, aadlen, in, n, out, tag);
}

int
aead_gcm_open(const unsigned char key[AEAD_KEY_LEN],
    const unsigned char nonce[AEAD_GCM_NONCE_LEN], const unsigned char *aad,
    size_t aadlen, const unsigned char *in, size_t n, unsigned char *out,
    const unsigned char tag[AEAD_GCM_TAG_LEN])
{
	unsigned char t[AEAD_GCM_TAG_LEN];

	memcpy(t, tag, sizeof(t));
	return gcm_oneshot(0, key, nonce, aad, aadlen, in, n, out, t);
}

/* First AEAD_FP_LEN bytes of HMAC-SHA-256(key, FP_LABEL). */
static int
fingerprint(const unsigned char *key, unsigned char fp[AEAD_FP_LEN])
{
	unsigned char md[32];
	size_t mdlen = 0;
	int rc = -1;

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, AEAD_KEY_LEN,
	    (const unsigned char *)FP_LABEL, strlen(FP_LABEL), md, sizeof(md),
	    &mdlen) != NULL &&
	    mdlen == sizeof(md)) {
		memcpy(fp, md, AEAD_FP_LEN);
		rc = 0;
	}
	OPENSSL_cleanse(md, sizeof(md));
	ERR_clear_error();
	return rc;
}

void
aead_fingerprint(const unsigned char key[AEAD_KEY_LEN],
    char hex[AEAD_FP_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char fp[AEAD_FP_LEN];
	size_t i;

	if (fingerprint(key, fp) < 0) {
		hex[0] = '\0';
		return;
	}
	for (i = 0; i < AEAD_FP_LEN; i++) {
		hex[2 * i] = digits[fp[i] >> 4];
		hex[2 * i + 1] = digits[fp[i] & 15];
	}
	hex[2 * AEAD_FP_LEN] = '\0';
}

/* The per-file subkeys from the user key and the header's salt. */
static int
derive(struct aead *a)
{
	const char *info = a->algo == AEAD_AES256_GCM ? INFO_GCM : INFO_CBC;
	unsigned char okm[64];
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM p[5];
	int rc = -1;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (kdf != NULL)
		kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		goto out;
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, a->key,
	    AEAD_KEY_LEN);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
	    a->hdr + H_SALT, SALT_LEN);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
	    (char *)info, strlen(info));
	p[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, okm, sizeof(okm), p) <= 0)
		goto out;
	memcpy(a->enc, okm, sizeof(a->enc));
	if (a->algo == AEAD_AES256_GCM)
		memcpy(a->prefix, okm + 32, PREFIX_LEN);
	else
		memcpy(a->mac, okm + 32, MAC_LEN);
	rc = 0;
out:
	OPENSSL_cleanse(okm, sizeof(okm));
	EVP_KDF_CTX_free(kctx);
	return rc;
}

static void
make_aad(const struct aead *a, size_t len, unsigned char aad[AAD_LEN])
{
	memcpy(aad, a->hdr, AEAD_HEADER_LEN);
	put_be64(aad + AEAD_HEADER_LEN, a->index);
	aad[AEAD_HEADER_LEN + 8] = len < a->chunk;
	put_be32(aad + AEAD_HEADER_LEN + 9, (uint32_t)len);
}

static void
make_nonce(const struct aead *a, unsigned char nonce[AEAD_GCM_NONCE_LEN])
{
	memcpy(nonce, a->prefix, PREFIX_LEN);
	put_be64(nonce + PREFIX_LEN, a->index);
}

/* HMAC-SHA-256(mac key, aad || iv || ct). */
static int
cbc_mac(struct aead *a, const unsigned char *aad, const unsigned char *iv,
    const unsigned char *ct, size_t ctlen, unsigned char out[MAC_LEN])
{
	OSSL_PARAM p[2];
	size_t n = 0;

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_init(a->mctx, a->mac, MAC_LEN, p) ||
	    !EVP_MAC_update(a->mctx, aad, AAD_LEN) ||
	    !EVP_MAC_update(a->mctx, iv, BLOCK) ||
	    !EVP_MAC_update(a->mctx, ct, ctlen) ||
	    !EVP_MAC_final(a->mctx, out, &n, MAC_LEN) || n != MAC_LEN)
		return -1;
	return 0;
}

/* Seals p[0..len) as record a->index into rec (record_len(len) bytes). */
static int
seal_record(struct aead *a, const unsigned char *p, size_t len,
    unsigned char *rec)
{
	unsigned char aad[AAD_LEN], nonce[AEAD_GCM_NONCE_LEN];
	unsigned char *iv, *ct;
	int l1 = 0, l2 = 0;

	if (a->index == UINT64_MAX)
		return fail(a, "stream too long");
	put_be32(rec, (uint32_t)len);
	make_aad(a, len, aad);
	if (a->algo == AEAD_AES256_GCM) {
		make_nonce(a, nonce);
		if (gcm_crypt(a->ctx, a->gcm, 1, a->enc, nonce, aad, AAD_LEN,
		    p, len, rec + LEN_LEN, rec + LEN_LEN + len) < 0)
			return fail(a, "encryption failed at chunk %llu",
			    (unsigned long long)a->index);
	} else {
		iv = rec + LEN_LEN;
		ct = iv + BLOCK;
		if (RAND_bytes(iv, BLOCK) != 1)
			return fail(a, "random generator failed");
		if (!EVP_CipherInit_ex2(a->ctx, a->cbc, a->enc, iv, 1, NULL) ||
		    (len > 0 &&
		    !EVP_CipherUpdate(a->ctx, ct, &l1, p, (int)len)) ||
		    !EVP_CipherFinal_ex(a->ctx, ct + l1, &l2) ||
		    (size_t)(l1 + l2) != cbc_ct_len(len) ||
		    cbc_mac(a, aad, iv, ct, cbc_ct_len(len),
		    ct + cbc_ct_len(len)) < 0)
			return fail(a, "encryption failed at chunk %llu",
			    (unsigned long long)a->index);
	}
	a->index++;
	return 0;
}

/*
 * Authenticates record a->index (rec, holding len plaintext bytes) and
 * decrypts it into plain. Plaintext is written only after the MAC has
 * been checked (CBC); a GCM failure leaves unauthenticated bytes in plain
 * that the caller does not release.
 */
static int
open_record(struct aead *a, const unsigned char *rec, size_t len,
    unsigned char *plain)
{
	unsigned char aad[AAD_LEN], nonce[AEAD_GCM_NONCE_LEN], mac[MAC_LEN];
	unsigned char tag[AEAD_GCM_TAG_LEN];
	const unsigned char *iv, *ct;
	size_t ctlen;
	int l1 = 0, l2 = 0;

	make_aad(a, len, aad);
	if (a->algo == AEAD_AES256_GCM) {
		make_nonce(a, nonce);
		memcpy(tag, rec + LEN_LEN + len, sizeof(tag));
		if (gcm_crypt(a->ctx, a->gcm, 0, a->enc, nonce, aad, AAD_LEN,
		    rec + LEN_LEN, len, plain, tag) < 0) {
			/* not authentic: leave none of it lying around */
			OPENSSL_cleanse(plain, len);
			goto bad;
		}
	} else {
		iv = rec + LEN_LEN;
		ct = iv + BLOCK;
		ctlen = cbc_ct_len(len);
		if (cbc_mac(a, aad, iv, ct, ctlen, mac) < 0 ||
		    CRYPTO_memcmp(mac, ct + ctlen, MAC_LEN) != 0)
			goto bad;
		if (!EVP_CipherInit_ex2(a->ctx, a->cbc, a->enc, iv, 0, NULL) ||
		    !EVP_CipherUpdate(a->ctx, plain, &l1, ct, (int)ctlen) ||
		    !EVP_CipherFinal_ex(a->ctx, plain + l1, &l2) ||
		    (size_t)(l1 + l2) != len)
			return fail(a, "corrupt chunk %llu (bad padding)",
			    (unsigned long long)a->index);
	}
	a->index++;
	return 0;
bad:
	return fail(a, "authentication failed at chunk %llu",
	    (unsigned long long)a->index);
}

/* ---- buffers ---- */

static void
wipe_free(unsigned char *p, size_t n)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

/* (Re)sizes ib and ob, keeping ib's contents (ilen <= icap). */
static void
set_buffers(struct aead *a, size_t icap, size_t ocap)
{
	unsigned char *p;

	p = xmalloc(icap);
	if (a->ilen)
		memcpy(p, a->ib, a->ilen);
	wipe_free(a->ib, a->icap);
	a->ib = p;
	a->icap = icap;
	wipe_free(a->ob, a->ocap);
	a->ob = xmalloc(ocap);
	a->ocap = ocap;
	a->ooff = a->olen = 0;
}

static void
consume(struct aead *a, size_t n)
{
	a->ilen -= n;
	if (a->ilen)
		memmove(a->ib, a->ib + n, a->ilen);
}

/* ---- construction ---- */

static struct aead *
aead_new(const unsigned char *key)
{
	struct aead *a = xcalloc(1, sizeof(*a));

	memcpy(a->key, key, AEAD_KEY_LEN);
	a->ctx = EVP_CIPHER_CTX_new();
	if (a->ctx == NULL)
		die_oom();
	a->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	a->cbc = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
	a->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (a->hmac != NULL)
		a->mctx = EVP_MAC_CTX_new(a->hmac);
	if (a->gcm == NULL || a->cbc == NULL || a->mctx == NULL)
		fail(a, "AES-256-GCM, AES-256-CBC or HMAC unavailable");
	return a;
}

struct aead *
aead_seal_new(const unsigned char key[AEAD_KEY_LEN], enum aead_algo algo,
    size_t chunk_size)
{
	struct aead *a = aead_new(key);

	if (a->st == ST_FAILED)
		return a;
	a->algo = algo;
	a->chunk = chunk_size ? chunk_size : AEAD_CHUNK_DEFAULT;
	if (!algo_valid((int)algo)) {
		fail(a, "unsupported algorithm %d", (int)algo);
		return a;
	}
	if (!chunk_valid(a->chunk)) {
		fail(a, "invalid chunk size %zu (allowed %u..%u)", a->chunk,
		    AEAD_CHUNK_MIN, AEAD_CHUNK_MAX);
		return a;
	}
	memcpy(a->hdr, magic, MAGIC_LEN);
	a->hdr[H_VERSION] = AEAD_VERSION;
	a->hdr[H_ALGO] = (unsigned char)algo;
	a->hdr[H_FLAGS] = a->hdr[H_FLAGS + 1] = 0;
	put_be32(a->hdr + H_CHUNK, (uint32_t)a->chunk);
	if (fingerprint(key, a->hdr + H_FP) < 0) {
		fail(a, "key fingerprint failed");
		return a;
	}
	if (RAND_bytes(a->hdr + H_SALT, SALT_LEN) != 1) {
		fail(a, "random generator failed");
		return a;
	}
	if (derive(a) < 0) {
		fail(a, "key derivation failed");
		return a;
	}
	set_buffers(a, a->chunk, record_len(algo, a->chunk));
	a->st = ST_SEAL_HEADER;
	return a;
}

struct aead *
aead_open_new(const unsigned char key[AEAD_KEY_LEN], enum aead_legacy legacy)
{
	struct aead *a = aead_new(key);

	if (a->st == ST_FAILED)
		return a;
	if (legacy != AEAD_LEGACY_NONE && legacy != AEAD_LEGACY_GCM &&
	    legacy != AEAD_LEGACY_CBC) {
		fail(a, "unknown legacy layout %d", (int)legacy);
		return a;
	}
	a->legacy = legacy;
	/* Big enough for the header; grown once the format is known. */
	set_buffers(a, AEAD_HEADER_LEN, AEAD_HEADER_LEN);
	a->st = ST_OPEN_MAGIC;
	return a;
}

void
aead_free(struct aead *a)
{
	if (a == NULL)
		return;
	EVP_CIPHER_CTX_free(a->ctx);
	EVP_MAC_CTX_free(a->mctx);
	EVP_MAC_free(a->hmac);
	EVP_CIPHER_free(a->gcm);
	EVP_CIPHER_free(a->cbc);
	wipe_free(a->ib, a->icap);
	wipe_free(a->ob, a->ocap);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

const char *
aead_error(const struct aead *a)
{
	return a->err;
}

bool
aead_is_ours(const unsigned char *p, size_t n)
{
	return n >= MAGIC_LEN && memcmp(p, magic, MAGIC_LEN) == 0;
}

size_t
aead_chunk_overhead(enum aead_algo algo)
{
	if (!algo_valid((int)algo))
		return 0;
	/* CBC pads a multiple of 16 with a whole block: the worst case. */
	return record_len(algo, AEAD_CHUNK_MIN) - AEAD_CHUNK_MIN;
}

uint64_t
aead_sealed_size(enum aead_algo algo, size_t chunk_size, uint64_t plainlen)
{
	size_t c = chunk_size ? chunk_size : AEAD_CHUNK_DEFAULT;

	if (!algo_valid((int)algo) || !chunk_valid(c))
		return 0;
	return AEAD_HEADER_LEN + plainlen / c * record_len(algo, c) +
	    record_len(algo, (size_t)(plainlen % c));
}

/* ---- sealing ---- */

static enum step_rc
seal_step(struct aead *a, bool eof)
{
	switch (a->st) {
	case ST_SEAL_HEADER:
		memcpy(a->ob, a->hdr, AEAD_HEADER_LEN);
		a->olen = AEAD_HEADER_LEN;
		a->st = ST_SEAL_BODY;
		return STEP_MORE;
	case ST_SEAL_BODY:
		/* A full chunk is never the final one: the final record
		 * holds fewer than C bytes, so it can go out at once. */
		if (a->ilen == a->chunk || eof) {
			if (seal_record(a, a->ib, a->ilen, a->ob) < 0)
				return STEP_MORE;
			a->olen = record_len(a->algo, a->ilen);
			if (a->ilen < a->chunk)
				a->st = ST_DONE;
			a->ilen = 0;
			return STEP_MORE;
		}
		return STEP_WAIT;
	default:
		return STEP_MORE;
	}
}

/* ---- opening ---- */

static void
open_legacy(struct aead *a)
{
	a->st = ST_LEG_PREFIX;
	set_buffers(a, LEG_STEP + AEAD_GCM_TAG_LEN, LEG_STEP + 2 * BLOCK);
}

/* Waits for 8 bytes and decides between our format and a legacy one. */
static enum step_rc
open_magic(struct aead *a, bool eof)
{
	bool prefix = memcmp(a->ib, magic, a->ilen < MAGIC_LEN ?
	    a->ilen : MAGIC_LEN) == 0;

	if (a->ilen < MAGIC_LEN && !eof)
		return STEP_WAIT;
	if (a->ilen >= MAGIC_LEN && prefix)
		a->st = ST_OPEN_HEADER;
	else if (a->legacy != AEAD_LEGACY_NONE)
		open_legacy(a);
	else if (prefix)
		fail(a, "truncated: header incomplete");
	else
		fail(a, "not a dbprovd encrypted stream (no header; "
		    "legacy layout not given)");
	return STEP_MORE;
}

static enum step_rc
open_header(struct aead *a, bool eof)
{
	const unsigned char *h = a->ib;
	unsigned char fp[AEAD_FP_LEN];
	uint32_t c;

	if (a->ilen < AEAD_HEADER_LEN) {
		if (eof)
			fail(a, "truncated: header incomplete");
		return eof ? STEP_MORE : STEP_WAIT;
	}
	c = get_be32(h + H_CHUNK);
	if (h[H_VERSION] != AEAD_VERSION)
		fail(a, "unsupported version %u", h[H_VERSION]);
	else if (!algo_valid(h[H_ALGO]))
		fail(a, "unsupported algorithm %u", h[H_ALGO]);
	else if (h[H_FLAGS] != 0 || h[H_FLAGS + 1] != 0)
		fail(a, "unsupported header flags 0x%02x%02x", h[H_FLAGS],
		    h[H_FLAGS + 1]);
	else if (!chunk_valid(c))
		fail(a, "invalid chunk size %lu in header", (unsigned long)c);
	else if (fingerprint(a->key, fp) < 0)
		fail(a, "key fingerprint failed");
	else if (CRYPTO_memcmp(fp, h + H_FP, AEAD_FP_LEN) != 0)
		fail(a, "wrong key (fingerprint mismatch)");
	if (a->st == ST_FAILED)
		return STEP_MORE;
	a->algo = (enum aead_algo)h[H_ALGO];
	a->chunk = c;
	memcpy(a->hdr, h, AEAD_HEADER_LEN);
	if (derive(a) < 0) {
		fail(a, "key derivation failed");
		return STEP_MORE;
	}
	consume(a, AEAD_HEADER_LEN);
	/* ob takes one chunk of plaintext; CBC decryption may write up to
	 * the padded length, one block beyond C at most. */
	set_buffers(a, record_len(a->algo, a->chunk), a->chunk + BLOCK);
	a->st = ST_OPEN_CHUNKS;
	return STEP_MORE;
}

static enum step_rc
open_chunk(struct aead *a, bool eof)
{
	unsigned long long i = (unsigned long long)a->index;
	size_t len, rlen;

	if (a->ilen < LEN_LEN) {
		if (!eof)
			return STEP_WAIT;
		if (a->ilen == 0)
			fail(a, "truncated: final chunk missing");
		else
			fail(a, "truncated: chunk %llu incomplete", i);
		return STEP_MORE;
	}
	len = get_be32(a->ib);
	if (len > a->chunk) {
		fail(a, "authentication failed at chunk %llu", i);
		return STEP_MORE;
	}
	rlen = record_len(a->algo, len);
	if (a->ilen < rlen) {
		if (eof)
			fail(a, "truncated: chunk %llu incomplete", i);
		return eof ? STEP_MORE : STEP_WAIT;
	}
	if (open_record(a, a->ib, len, a->ob) < 0)
		return STEP_MORE;
	a->olen = len;
	consume(a, rlen);
	if (len < a->chunk)
		a->st = ST_OPEN_TRAILER;
	return STEP_MORE;
}

static enum step_rc
open_trailer(struct aead *a, bool eof)
{
	if (a->ilen > 0)
		fail(a, "data after the final chunk");
	else if (eof)
		a->st = ST_DONE;
	else
		return STEP_WAIT;
	return STEP_MORE;
}

static enum step_rc
legacy_prefix(struct aead *a, bool eof)
{
	bool gcm = a->legacy == AEAD_LEGACY_GCM;
	size_t need = gcm ? AEAD_GCM_NONCE_LEN : BLOCK;
	OSSL_PARAM p[2];
	size_t ivlen = AEAD_GCM_NONCE_LEN;
	int ok;

	if (a->ilen < need) {
		if (!eof)
			return STEP_WAIT;
		fail(a, gcm ? "truncated: legacy GCM stream shorter than "
		    "nonce and tag" : "truncated: legacy CBC stream shorter "
		    "than IV and one block");
		return STEP_MORE;
	}
	if (gcm) {
		p[0] = OSSL_PARAM_construct_size_t(
		    OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen);
		p[1] = OSSL_PARAM_construct_end();
		ok = EVP_CipherInit_ex2(a->ctx, a->gcm, NULL, NULL, 0, p) &&
		    EVP_CipherInit_ex2(a->ctx, NULL, a->key, a->ib, 0, NULL);
	} else {
		ok = EVP_CipherInit_ex2(a->ctx, a->cbc, a->key, a->ib, 0,
		    NULL);
	}
	if (!ok) {
		fail(a, "legacy decryption setup failed");
		return STEP_MORE;
	}
	consume(a, need);
	a->st = ST_LEG_BODY;
	return STEP_MORE;
}

/* Nonce || ciphertext || tag: everything but the last 16 bytes seen so
 * far is ciphertext and is decrypted (and released) at once. */
static enum step_rc
legacy_gcm(struct aead *a, bool eof)
{
	unsigned char tag[AEAD_GCM_TAG_LEN], fin[BLOCK];
	OSSL_PARAM p[2];
	size_t n;
	int len = 0;

	if (a->ilen > AEAD_GCM_TAG_LEN) {
		n = a->ilen - AEAD_GCM_TAG_LEN;
		if (n > LEG_STEP)
			n = LEG_STEP;
		if (!EVP_CipherUpdate(a->ctx, a->ob, &len, a->ib, (int)n)) {
			fail(a, "legacy GCM decryption failed");
			return STEP_MORE;
		}
		a->olen = (size_t)len;
		consume(a, n);
		return STEP_MORE;
	}
	if (!eof)
		return STEP_WAIT;
	if (a->ilen < AEAD_GCM_TAG_LEN) {
		fail(a, "truncated: legacy GCM stream shorter than nonce and "
		    "tag");
		return STEP_MORE;
	}
	memcpy(tag, a->ib, sizeof(tag));
	p[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
	    tag, sizeof(tag));
	p[1] = OSSL_PARAM_construct_end();
	if (!EVP_CIPHER_CTX_set_params(a->ctx, p) ||
	    !EVP_CipherFinal_ex(a->ctx, fin, &len)) {
		fail(a, "authentication failed: legacy GCM tag mismatch "
		    "(the output already released is not authentic)");
		return STEP_MORE;
	}
	consume(a, AEAD_GCM_TAG_LEN);
	a->st = ST_DONE;
	return STEP_MORE;
}

/* IV || ciphertext: EVP keeps the last block back for the padding check. */
static enum step_rc
legacy_cbc(struct aead *a, bool eof)
{
	size_t n;
	int len = 0;

	if (a->ilen > 0) {
		n = a->ilen < LEG_STEP ? a->ilen : LEG_STEP;
		if (!EVP_CipherUpdate(a->ctx, a->ob, &len, a->ib, (int)n)) {
			fail(a, "legacy CBC decryption failed");
			return STEP_MORE;
		}
		a->olen = (size_t)len;
		a->legacy_ct += n;
		consume(a, n);
		return STEP_MORE;
	}
	if (!eof)
		return STEP_WAIT;
	if (a->legacy_ct == 0 || a->legacy_ct % BLOCK != 0) {
		fail(a, "truncated: legacy CBC ciphertext is %llu bytes, not a "
		    "positive multiple of 16",
		    (unsigned long long)a->legacy_ct);
		return STEP_MORE;
	}
	if (!EVP_CipherFinal_ex(a->ctx, a->ob, &len)) {
		fail(a, "legacy CBC decryption failed: bad padding (wrong key "
		    "or corrupt data)");
		return STEP_MORE;
	}
	a->olen = (size_t)len;
	a->st = ST_DONE;
	return STEP_MORE;
}

static enum step_rc
step(struct aead *a, bool eof)
{
	switch (a->st) {
	case ST_SEAL_HEADER:
	case ST_SEAL_BODY:
		return seal_step(a, eof);
	case ST_OPEN_MAGIC:
		return open_magic(a, eof);
	case ST_OPEN_HEADER:
		return open_header(a, eof);
	case ST_OPEN_CHUNKS:
		return open_chunk(a, eof);
	case ST_OPEN_TRAILER:
		return open_trailer(a, eof);
	case ST_LEG_PREFIX:
		return legacy_prefix(a, eof);
	case ST_LEG_BODY:
		return a->legacy == AEAD_LEGACY_GCM ? legacy_gcm(a, eof) :
		    legacy_cbc(a, eof);
	case ST_DONE:
	case ST_FAILED:
		break;
	}
	return STEP_MORE;
}

enum xform_rc
aead_run(struct aead *a, const unsigned char *in, size_t inlen, size_t *used,
    unsigned char *out, size_t outcap, size_t *made, bool eof)
{
	size_t n;

	*used = *made = 0;
	for (;;) {
		if (a->st == ST_FAILED)
			return XF_ERROR;
		n = a->olen - a->ooff;
		if (n > outcap - *made)
			n = outcap - *made;
		if (n > 0) {
			memcpy(out + *made, a->ob + a->ooff, n);
			a->ooff += n;
			*made += n;
		}
		if (a->ooff < a->olen)
			return XF_AGAIN;
		a->ooff = a->olen = 0;
		if (a->st == ST_DONE)
			return XF_DONE;
		n = inlen - *used;
		if (n > a->icap - a->ilen)
			n = a->icap - a->ilen;
		if (n > 0) {
			memcpy(a->ib + a->ilen, in + *used, n);
			a->ilen += n;
			*used += n;
		}
		if (step(a, eof && *used == inlen) == STEP_WAIT && n == 0)
			return XF_AGAIN;
	}
}
