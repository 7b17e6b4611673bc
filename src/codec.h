/*
 * codec.h - the streaming compression stage of the backup pipeline: gzip
 * (RFC 1952), the LZ4 frame format and Zstandard, in both directions, each
 * one an xform (see xform.h for the run contract: XF_AGAIN / XF_DONE /
 * XF_ERROR, *used / *made, sticky eof).
 *
 * Formats written:
 *   gzip  one member, zlib deflate with windowBits 15 (+16 for the gzip
 *         wrapper), memLevel 8; mtime 0, no name.
 *   lz4   one LZ4 frame: 64 KiB linked blocks, a block checksum and a
 *         content checksum (lz4 -d checks both).
 *   zstd  one Zstandard frame with its XXH64 content checksum.
 * Formats read: whatever the stock tools write, including several gzip
 * members, lz4 frames or zstd frames (and skippable frames) back to back,
 * as `gzip -d`, `lz4 -d` and `zstd -d` accept them. Bytes after the last
 * member that do not start another one are an error (no "trailing
 * garbage ignored"). An input that ends inside a member or frame, or
 * that is empty, fails at eof with a message containing "truncated"; a
 * bad checksum or malformed data fails with "corrupt data (...)".
 *
 * Levels (the API's CompressionConfig.level, 1..9, default 6; anything
 * outside 1..9 is taken as 6):
 *   api level   gzip   lz4 frame compressionLevel   zstd level
 *   1..3        same   0 (fast, LZ4_compress_fast)  1
 *   4..6        same   4 (HC)                        3 (zstd's default)
 *   7..9        same   9 (HC)                        9
 * The original operator used zstd ~11 for 7..9; 9 is chosen here because
 * it compresses within a few percent of 11 with about half the memory.
 *
 * Memory. Every internal buffer has a fixed size chosen at creation (or,
 * for decompression, from the frame header, capped as below); none grows
 * with the stream, so a decompression bomb only produces output through
 * the caller's bounded out buffer. Heap used by one codec, measured:
 *   none            the struct (< 1 KiB)
 *   gzip compress   ~270 KiB at any level (deflate: 128 KiB window +
 *                   128 KiB hash/lit buffers at memLevel 8)
 *   gzip decompr.   ~45 KiB (32 KiB window + inflate state)
 *   lz4 compress    ~300 KiB fast, ~550 KiB HC (frame buffer 192 KiB for
 *                   64 KiB linked blocks, 64 KiB staging, LZ4 stream
 *                   state 16 KiB fast / 256 KiB HC)
 *   lz4 decompr.    2 x block size + 128 KiB: ~260 KiB for 64 KiB blocks,
 *                   ~8.2 MiB for the 4 MiB blocks the lz4 tool writes by
 *                   default (the format's maximum)
 *   zstd compress   ~1.4 MiB level 1, ~3.7 MiB level 3, ~17 MiB level 9
 *                   (ZSTD_estimateCStreamSize)
 *   zstd decompr.   ~2 x window + 256 KiB; frames whose window exceeds
 *                   CODEC_ZSTD_WINDOW_LOG_MAX (8 MiB, enough for the zstd
 *                   tool's levels 1..19 without --long or --ultra) are
 *                   refused, so at most ~8.5 MiB
 * codec_mem_bound() returns these bounds (with some slack) for tests and
 * for budgeting concurrent pipelines.
 *
 * Allocation failure is fatal (util.h), inside the libraries too.
 * Nothing here does I/O or keeps global state.
 */
#ifndef DBP_CODEC_H
#define DBP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"
#include "xform.h"

/* Same values as enum api_compression_algo (api.h). */
enum codec_algo {
	CODEC_NONE,
	CODEC_GZIP,
	CODEC_LZ4,
	CODEC_ZSTD,
	CODEC__COUNT,
};

#define CODEC_LEVEL_DEFAULT	6
#define CODEC_ZSTD_WINDOW_LOG_MAX	23
#define CODEC_ERR_MAX		160

struct codec;

/*
 * Creates a compressor for algo at API level (1..9, see above). Returns
 * NULL only when algo is not a valid enum codec_algo. The caller owns the
 * codec and frees it with codec_free().
 */
struct codec *codec_new_compress(enum codec_algo algo, int level);
/* Creates a decompressor; NULL only for an invalid algo. */
struct codec *codec_new_decompress(enum codec_algo algo);

/*
 * The xform run function (xform.h). Works for any split of the input and
 * any outcap, down to one byte at a time; in and out may be NULL when
 * their length is 0. After XF_ERROR every call returns XF_ERROR and
 * codec_error() says why.
 */
enum xform_rc codec_run(struct codec *c, const unsigned char *in,
    size_t inlen, size_t *used, unsigned char *out, size_t outcap,
    size_t *made, bool eof);
/* The last error as one line ("" before any); owned by the codec, valid
 * until the next call on it. Names the algorithm, never holds data. */
const char *codec_error(const struct codec *c);
/* Frees the codec and everything it holds; NULL is a no-op. */
void codec_free(struct codec *c);

/* The native level used for an API level (the table above); CODEC_NONE
 * gives 0. */
int codec_native_level(enum codec_algo algo, int api_level);
/* Heap bound in bytes for one codec of this kind, as documented above
 * (for decompression, the worst case the format allows here). */
size_t codec_mem_bound(enum codec_algo algo, bool compress, int api_level);

/* File extension: ".gz", ".lz4", ".zst", or "" (none, invalid). */
const char *codec_ext(enum codec_algo algo);
/* "none", "gzip", "lz4", "zstd"; "?" for an invalid value. */
const char *codec_name(enum codec_algo algo);
/* Parses a name as the API spells it ("" means gzip, as in §4.15).
 * Returns 0, or -1 for an unknown name (*out untouched). */
int codec_from_name(const char *name, enum codec_algo *out) DBP_MUSTCHECK;
/* Maps an enum api_compression_algo value; CODEC__COUNT when out of
 * range. */
enum codec_algo codec_from_api(int api_algo);
/*
 * The compression of an artefact from its first bytes: gzip (1f 8b), LZ4
 * frame (04 22 4d 18), zstd (28 b5 2f fd); CODEC_NONE for anything else,
 * including fewer bytes than the magic.
 */
enum codec_algo codec_detect(const unsigned char *p, size_t n);

#endif
