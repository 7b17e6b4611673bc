/*
 * aead.h - the encryption stage of the backup pipeline: a streaming,
 * chunked, authenticated file format of our own (sealed and opened), plus
 * read-only openers for the two single-message layouts the original
 * operator wrote. Both directions follow the contract of xform.h.
 *
 * ---- Our format, version 1 (stable; every integer is big endian) ----
 *
 * Header, AEAD_HEADER_LEN = 64 bytes:
 *
 *   off  len  field
 *     0    8  magic "DBPAEAD\0" (44 42 50 41 45 41 44 00)
 *     8    1  version, 1
 *     9    1  algorithm: 1 = AES-256-GCM,
 *                        2 = AES-256-CBC + HMAC-SHA-256 (encrypt-then-MAC)
 *    10    2  flags, 0 (a reader refuses anything else)
 *    12    4  chunk size C: plaintext bytes per chunk, 4096..16777216
 *    16   16  key fingerprint: the first 16 bytes of
 *             HMAC-SHA-256(key, "dbprovd key fingerprint v1"). It
 *             identifies the key without revealing it (and shows which
 *             artefacts share a key).
 *    32   32  salt, random per file
 *
 * Per-file subkeys: OKM = HKDF-SHA-256(IKM = the 32-byte key, salt = the
 * header salt, info = "dbprovd aead v1 gcm" or "dbprovd aead v1 cbc-hmac",
 * L = 64). GCM: encryption key = OKM[0..32), nonce prefix = OKM[32..36).
 * CBC: encryption key = OKM[0..32), MAC key = OKM[32..64). A fixed user
 * key thus never encrypts two files under the same subkey.
 *
 * Then records i = 0, 1, 2, ... each holding one chunk of plaintext:
 *
 *   4  len: plaintext bytes in this chunk. len == C in every record but
 *      the last; the last ("final") record has len < C, possibly 0. A
 *      stream whose length is a multiple of C (including the empty
 *      stream) therefore ends with an empty final record.
 *   AAD(i) = header (64) || i (8) || final flag (1: 1 if len < C, else 0)
 *            || len (4)                                      = 77 bytes
 *   GCM (algorithm 1):
 *      len bytes ciphertext || 16-byte tag
 *      nonce = nonce prefix (4) || i (8); AAD(i) as GCM associated data.
 *   CBC (algorithm 2):
 *      IV (16, random) || AES-256-CBC ciphertext of the PKCS#7-padded
 *      chunk (16 * (len / 16 + 1) bytes) || 32-byte MAC, where
 *      MAC = HMAC-SHA-256(MAC key, AAD(i) || IV || ciphertext); the MAC
 *      is checked (in constant time) before anything is decrypted.
 *
 * Since the header is in every chunk's AAD, an altered header fails at
 * chunk 0; the index defeats reordering, dropping and duplicating; the
 * final flag defeats truncation at a chunk boundary; the explicit length
 * lets a reader tell truncation, tampering and trailing data apart. The
 * sealed size is exactly aead_sealed_size().
 *
 * ---- The original operator's layouts (open only; spec/api.md 4.21) ----
 *
 *   GCM: 12-byte random nonce || ciphertext || 16-byte tag; one message,
 *        no AAD, the key used verbatim.
 *   CBC: 16-byte random IV || AES-256-CBC ciphertext, PKCS#7; key used
 *        verbatim; no MAC.
 *
 * They carry no header, so the opener must be told which one to expect
 * (the restore knows the backup's algorithm). A stream that starts with
 * our magic is read as ours whatever the hint (a legacy file starts with
 * random bytes: the chance it begins with the magic is 2^-64).
 *
 * UNTRUSTED OUTPUT: the legacy GCM opener streams. It decrypts as data
 * arrives, holding back only the last 16 bytes (the presumed tag), and can
 * verify the tag only at the end, so plaintext is released before it is
 * authenticated; a tampered file is reported (XF_ERROR) only after all of
 * it was output. Callers must treat the output as untrusted until XF_DONE
 * (decode to a scratch place, or verify in a first pass). The legacy CBC
 * layout has no authentication at all: a modified file may decrypt to
 * modified plaintext without any error; only a bad final padding (wrong
 * key, truncation, most corruption of the last block) is detected. A wrong
 * key cannot be recognised early in either legacy layout.
 *
 * ---- Memory ----
 *
 * Sealing and opening our format buffer one chunk of plaintext and one
 * record: at most 2 * C + 128 bytes. Legacy openers buffer 128 KiB + 48
 * bytes. OpenSSL's cipher and HMAC contexts add a few KiB to either.
 * Input and output may be split anywhere (1-byte input, outcap 1).
 *
 * ---- Keys and errors ----
 *
 * The key is copied into the struct (with the derived subkeys) and wiped
 * with OPENSSL_cleanse by aead_free(), as are the data buffers. Error
 * messages never contain key material or plaintext. Messages of the
 * opener include: "wrong key (fingerprint mismatch)", "truncated: final
 * chunk missing", "truncated: chunk N incomplete", "truncated: header
 * incomplete", "authentication failed at chunk N", "data after the final
 * chunk", "unsupported version N", "unsupported algorithm N". When a chunk
 * fails, nothing of it or after it is output; what was output before came
 * from chunks that had been authenticated.
 */
#ifndef DBP_AEAD_H
#define DBP_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"
#include "xform.h"

#define AEAD_KEY_LEN		32
#define AEAD_HEADER_LEN		64
#define AEAD_VERSION		1
#define AEAD_CHUNK_MIN		4096u
#define AEAD_CHUNK_MAX		(16u * 1024 * 1024)
#define AEAD_CHUNK_DEFAULT	(64u * 1024)
#define AEAD_FP_LEN		16	/* fingerprint bytes in the header */
#define AEAD_FP_HEX_SIZE	(2 * AEAD_FP_LEN + 1)	/* hex + NUL */
#define AEAD_GCM_NONCE_LEN	12
#define AEAD_GCM_TAG_LEN	16

/* The values are the header's algorithm byte. */
enum aead_algo {
	AEAD_AES256_GCM = 1,
	AEAD_AES256_CBC_HMAC = 2,
};

/* Which original layout to assume when a stream lacks our header. */
enum aead_legacy {
	AEAD_LEGACY_NONE,	/* only our format; anything else is an error */
	AEAD_LEGACY_GCM,	/* nonce || ciphertext || tag */
	AEAD_LEGACY_CBC,	/* IV || ciphertext */
};

struct aead;

/*
 * A sealer writing our format with a fresh random salt. chunk_size 0
 * means AEAD_CHUNK_DEFAULT. Never returns NULL: an invalid algorithm or
 * chunk size, or a failing random generator, makes the first aead_run()
 * return XF_ERROR with the reason. Free with aead_free().
 */
struct aead *aead_seal_new(const unsigned char key[AEAD_KEY_LEN],
    enum aead_algo algo, size_t chunk_size);

/*
 * An opener for our format, or, when the stream does not start with our
 * magic, for the legacy layout named by legacy (see UNTRUSTED OUTPUT
 * above). Never returns NULL. Free with aead_free().
 */
struct aead *aead_open_new(const unsigned char key[AEAD_KEY_LEN],
    enum aead_legacy legacy);

/*
 * The xform.h run function for both directions. XF_ERROR is final and
 * aead_error() tells why; *used and *made are exact in every case (the
 * bytes made by a call that fails came from authenticated chunks, except
 * in the legacy layouts).
 */
enum xform_rc aead_run(struct aead *a, const unsigned char *in, size_t inlen,
    size_t *used, unsigned char *out, size_t outcap, size_t *made, bool eof);

/* The last error ("" if none); owned by a, valid until the next call. */
const char *aead_error(const struct aead *a);

/* Wipes keys and buffers and frees a; NULL is accepted. */
void aead_free(struct aead *a);

/* Whether p[0..n) begins with our magic (false when n < 8). */
bool aead_is_ours(const unsigned char *p, size_t n);

/* The key's fingerprint as 32 lowercase hex digits and a NUL. */
void aead_fingerprint(const unsigned char key[AEAD_KEY_LEN],
    char hex[AEAD_FP_HEX_SIZE]);

/* Largest per-record overhead (bytes beyond the plaintext): 20 for GCM,
 * 68 for CBC; 0 for an unknown algorithm. */
size_t aead_chunk_overhead(enum aead_algo algo);

/* Exact size of the sealed form of plainlen bytes (header included);
 * chunk_size 0 means the default. 0 for invalid arguments. */
uint64_t aead_sealed_size(enum aead_algo algo, size_t chunk_size,
    uint64_t plainlen);

/*
 * One-shot AES-256-GCM with a 12-byte nonce and a 16-byte tag, the very
 * primitive configuration the chunks use (exposed for known-answer
 * tests). in and out are n bytes (n <= INT_MAX; they may be the same
 * buffer); aad may be NULL when aadlen is 0. Seal writes tag; open checks
 * it and returns 0, or -1 (nothing trustworthy in out) when it does not
 * match. Seal returns -1 only on an OpenSSL failure.
 */
int aead_gcm_seal(const unsigned char key[AEAD_KEY_LEN],
    const unsigned char nonce[AEAD_GCM_NONCE_LEN], const unsigned char *aad,
    size_t aadlen, const unsigned char *in, size_t n, unsigned char *out,
    unsigned char tag[AEAD_GCM_TAG_LEN]) DBP_MUSTCHECK;
int aead_gcm_open(const unsigned char key[AEAD_KEY_LEN],
    const unsigned char nonce[AEAD_GCM_NONCE_LEN], const unsigned char *aad,
    size_t aadlen, const unsigned char *in, size_t n, unsigned char *out,
    const unsigned char tag[AEAD_GCM_TAG_LEN]) DBP_MUSTCHECK;

#endif
