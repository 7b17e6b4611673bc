/*
 * codec.c - streaming gzip, LZ4 frame and zstd codecs. Contract, levels
 * and memory bounds in codec.h.
 *
 * Each direction of each algorithm has one step function that takes the
 * caller's buffers as they come. The libraries keep their own history
 * (zlib's window, LZ4F's saved dictionary, zstd's internal buffers), so no
 * pointer into in or out survives a call. LZ4F_compressUpdate() needs an
 * output of LZ4F_compressBound() bytes, so lz4 compression writes into a
 * fixed staging buffer that is drained into out across calls; it takes no
 * new input while the staging buffer holds anything.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>
#include <lz4frame.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "codec.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)

/* lz4: input taken per LZ4F_compressUpdate() call (one block). */
#define LZ4_CHUNK (64 * KiB)
/* zlib counts in uInt: larger buffers are handed over in pieces. */
#define ZLIB_PIECE ((size_t)1 << 30)

enum codec_state {
	CS_RUN,
	CS_DONE,
	CS_ERROR,
};

struct codec {
	enum codec_algo algo;
	bool compress;
	bool eof;		/* latched: the caller has said eof */
	enum codec_state state;
	int level;		/* native level (compression) */

	/* decompression: inside a member/frame, and how many ended */
	bool open;
	unsigned long long members;
	bool out_full;		/* zstd: the last call filled the output, so
				 * it may hold more without new input */

	z_stream z;
	bool zinit;

	LZ4F_cctx *lcc;
	LZ4F_dctx *ldc;
	LZ4F_preferences_t lprefs;
	bool began, ended;	/* lz4 compression: header, trailer staged */
	unsigned char *stage;	/* lz4 compression output, stage_cap bytes */
	size_t stage_cap, stage_pos, stage_len;

	ZSTD_CCtx *zcc;
	ZSTD_DCtx *zdc;

	char err[CODEC_ERR_MAX];
};

/* Stand-ins for NULL buffers of length 0; never read or written. */
static const unsigned char no_bytes;
static unsigned char no_room;

static const char *const codec_names[CODEC__COUNT] = {
	[CODEC_NONE] = "none",
	[CODEC_GZIP] = "gzip",
	[CODEC_LZ4] = "lz4",
	[CODEC_ZSTD] = "zstd",
};

static const char *const codec_exts[CODEC__COUNT] = {
	[CODEC_NONE] = "",
	[CODEC_GZIP] = ".gz",
	[CODEC_LZ4] = ".lz4",
	[CODEC_ZSTD] = ".zst",
};

static bool
algo_valid(enum codec_algo algo)
{
	return (unsigned)algo < CODEC__COUNT;
}

static enum xform_rc
fail(struct codec *c, const char *fmt, ...) DBP_PRINTF(2, 3);

static enum xform_rc
fail(struct codec *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(c->err, sizeof(c->err), "%s: ", codec_names[c->algo]);
	va_start(ap, fmt);
	vsnprintf(c->err + n, sizeof(c->err) - (size_t)n, fmt, ap);
	va_end(ap);
	c->state = CS_ERROR;
	return XF_ERROR;
}

static enum xform_rc
finish(struct codec *c)
{
	c->state = CS_DONE;
	return XF_DONE;
}

static enum xform_rc
fail_truncated(struct codec *c)
{
	if (c->members == 0 && !c->open)
		return fail(c, "truncated stream (no data)");
	return fail(c, "truncated stream (ends inside %s %llu)",
	    c->algo == CODEC_GZIP ? "member" : "frame", c->members + 1);
}

static size_t
min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- levels, names, magic ---- */

int
codec_native_level(enum codec_algo algo, int api_level)
{
	static const int lz4[3] = { 0, 4, 9 };
	static const int zstd[3] = { 1, 3, 9 };
	int band;

	if (api_level < 1 || api_level > 9)
		api_level = CODEC_LEVEL_DEFAULT;
	band = api_level <= 3 ? 0 : api_level <= 6 ? 1 : 2;
	switch (algo) {
	case CODEC_GZIP:
		return api_level;
	case CODEC_LZ4:
		return lz4[band];
	case CODEC_ZSTD:
		return zstd[band];
	default:
		return 0;
	}
}

size_t
codec_mem_bound(enum codec_algo algo, bool compress, int api_level)
{
	int native = codec_native_level(algo, api_level);

	switch (algo) {
	case CODEC_GZIP:
		return compress ? 320 * KiB : 64 * KiB;
	case CODEC_LZ4:
		if (!compress)
			return 9 * MiB;
		return native < 3 ? 384 * KiB : 640 * KiB;
	case CODEC_ZSTD:
		if (!compress)
			return 9 * MiB;
		return native <= 1 ? 2 * MiB : native <= 3 ? 4 * MiB :
		    18 * MiB;
	default:
		return KiB;
	}
}

const char *
codec_ext(enum codec_algo algo)
{
	return algo_valid(algo) ? codec_exts[algo] : "";
}

const char *
codec_name(enum codec_algo algo)
{
	return algo_valid(algo) ? codec_names[algo] : "?";
}

int
codec_from_name(const char *name, enum codec_algo *out)
{
	size_t i;

	if (name == NULL || *name == '\0') {
		*out = CODEC_GZIP;
		return 0;
	}
	for (i = 0; i < CODEC__COUNT; i++)
		if (strcmp(name, codec_names[i]) == 0) {
			*out = (enum codec_algo)i;
			return 0;
		}
	return -1;
}

enum codec_algo
codec_from_api(int api_algo)
{
	if (api_algo < 0 || api_algo >= CODEC__COUNT)
		return CODEC__COUNT;
	return (enum codec_algo)api_algo;
}

enum codec_algo
codec_detect(const unsigned char *p, size_t n)
{
	static const unsigned char gz[] = { 0x1f, 0x8b };
	static const unsigned char lz4[] = { 0x04, 0x22, 0x4d, 0x18 };
	static const unsigned char zst[] = { 0x28, 0xb5, 0x2f, 0xfd };

	if (n >= sizeof(gz) && memcmp(p, gz, sizeof(gz)) == 0)
		return CODEC_GZIP;
	if (n >= sizeof(lz4) && memcmp(p, lz4, sizeof(lz4)) == 0)
		return CODEC_LZ4;
	if (n >= sizeof(zst) && memcmp(p, zst, sizeof(zst)) == 0)
		return CODEC_ZSTD;
	return CODEC_NONE;
}

/* ---- none ---- */

static enum xform_rc
copy_run(struct codec *c, const unsigned char *in, size_t inlen,
    size_t *used, unsigned char *out, size_t outcap, size_t *made)
{
	size_t n = min_size(inlen, outcap);

	if (n > 0)
		memcpy(out, in, n);
	*used = *made = n;
	if (c->eof && n == inlen)
		return finish(c);
	return XF_AGAIN;
}

/* ---- gzip ---- */

static enum xform_rc
zlib_fail(struct codec *c, int zr)
{
	if (zr == Z_MEM_ERROR)
		die_oom();
	if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT)
		return fail(c, "corrupt data (%s)",
		    c->z.msg != NULL ? c->z.msg : "invalid stream");
	return fail(c, "zlib error %d", zr);
}

static enum xform_rc
gzip_compress(struct codec *c, const unsigned char *in, size_t inlen,
    size_t *used, unsigned char *out, size_t outcap, size_t *made)
{
	size_t ipos = 0, opos = 0, ain, aout, din, dout;
	bool last;
	int zr;

	for (;;) {
		ain = min_size(inlen - ipos, ZLIB_PIECE);
		aout = min_size(outcap - opos, ZLIB_PIECE);
		/* Z_FINISH only when deflate sees the whole rest. */
		last = c->eof && ain == inlen - ipos;
		c->z.next_in = in + ipos;
		c->z.avail_in = (uInt)ain;
		c->z.next_out = out + opos;
		c->z.avail_out = (uInt)aout;
		zr = deflate(&c->z, last ? Z_FINISH : Z_NO_FLUSH);
		din = ain - c->z.avail_in;
		dout = aout - c->z.avail_out;
		ipos += din;
		opos += dout;
		*used = ipos;
		*made = opos;
		if (zr == Z_STREAM_END)
			return finish(c);
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return zlib_fail(c, zr);
		if (opos == outcap || ipos == inlen || (din == 0 && dout == 0))
			return XF_AGAIN;
	}
}

static enum xform_rc
gzip_decompress(struct codec *c, const unsigned char *in, size_t inlen,
    size_t *used, unsigned char *out, size_t outcap, size_t *made)
{
	size_t ipos = 0, opos = 0, ain, aout, din, dout;
	int zr;

	for (;;) {
		if (!c->open) {
			if (ipos == inlen) {
				if (!c->eof)
					return XF_AGAIN;
				if (c->members == 0)
					return fail_truncated(c);
				return finish(c);
			}
			if (c->members > 0) {
				if (in[ipos] != 0x1f)
					return fail(c, "trailing garbage after "
					    "the compressed data");
				if (inflateReset(&c->z) != Z_OK)
					return fail(c, "cannot reset inflate");
			}
			c->open = true;
		}
		ain = min_size(inlen - ipos, ZLIB_PIECE);
		aout = min_size(outcap - opos, ZLIB_PIECE);
		c->z.next_in = in + ipos;
		c->z.avail_in = (uInt)ain;
		c->z.next_out = out + opos;
		c->z.avail_out = (uInt)aout;
		zr = inflate(&c->z, Z_NO_FLUSH);
		din = ain - c->z.avail_in;
		dout = aout - c->z.avail_out;
		ipos += din;
		opos += dout;
		*used = ipos;
		*made = opos;
		if (zr == Z_STREAM_END) {
			c->open = false;
			c->members++;
			continue;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR)
			return zlib_fail(c, zr);
		if (opos == outcap)
			return XF_AGAIN;
		if (ipos == inlen)
			return c->eof ? fail_truncated(c) : XF_AGAIN;
		if (din == 0 && dout == 0)
			return XF_AGAIN;
	}
}

/* ---- lz4 frame ---- */

static const char *
lz4_errname(size_t r)
{
	const char *s = LZ4F_getErrorName(r);

	return strncmp(s, "ERROR_", 6) == 0 ? s + 6 : s;
}

static bool
lz4_oom(size_t r)
{
	return strcmp(lz4_errname(r), "allocation_failed") == 0;
}

static enum xform_rc
lz4_compress(struct codec *c, const unsigned char *in, size_t inlen,
    size_t *used, unsigned char *out, size_t outcap, size_t *made)
{
	size_t ipos = 0, opos = 0, n, r;

	for (;;) {
		n = min_size(c->stage_len - c->stage_pos, outcap - opos);
		if (n > 0) {
			memcpy(out + opos, c->stage + c->stage_pos, n);
			c->stage_pos += n;
			opos += n;
		}
		*used = ipos;
		*made = opos;
		if (c->stage_pos < c->stage_len)
			return XF_AGAIN;
		c->stage_pos = c->stage_len = 0;
		if (c->ended)
			return finish(c);
		if (!c->began) {
			r = LZ4F_compressBegin(c->lcc, c->stage, c->stage_cap,
			    &c->lprefs);
			c->began = true;
		} else if (ipos < inlen) {
			n = min_size(inlen - ipos, LZ4_CHUNK);
			r = LZ4F_compressUpdate(c->lcc, c->stage, c->stage_cap,
			    in + ipos, n, NULL);
			if (!LZ4F_isError(r))
				ipos += n;
		} else if (c->eof) {
			r = LZ4F_compressEnd(c->lcc, c->stage, c->stage_cap,
			    NULL);
			c->ended = true;
		} else {
			return XF_AGAIN;
		}
		if (LZ4F_isError(r)) {
			if (lz4_oom(r))
				die_oom();
			return fail(c, "compression failed (%s)",
			    lz4_errname(r));
		}
		c->stage_len = r;
	}
}

static enum xform_rc
lz4_decompress(struct codec *c, const unsigned char *in, size_t inlen,
    size_t *used, unsigned char *out, size_t outcap, size_t *made)
{
	size_t ipos = 0, opos = 0, din, dout, r;

	for (;;) {
		if (!c->open && ipos == inlen) {
			if (!c->eof)
				return XF_AGAIN;
			if (c->members == 0)
				return fail_truncated(c);
			return finish(c);
		}
		din = inlen - ipos;
		dout = outcap - opos;
		r = LZ4F_decompress(c->ldc, out + opos, &dout, in + ipos, &din,
		    NULL);
		ipos += din;
		opos += dout;
		*used = ipos;
		*made = opos;
		if (LZ4F_isError(r)) {
			if (lz4_oom(r))
				die_oom();
			return fail(c, "corrupt data (%s)", lz4_errname(r));
		}
		if (r == 0) {
			c->open = false;
			c->members++;
			continue;
		}
		if (din > 0)
			c->open = true;
		if (opos == outcap)
			return XF_AGAIN;
		if (ipos == inlen)
			return c->eof ? fail_truncated(c) : XF_AGAIN;
		if (din == 0 && dout == 0)
			return XF_AGAIN;
	}
}

/* ---- zstd ---- */

static enum xform_rc
zstd_fail(struct codec *c, size_t r, const char *what)
{
	ZSTD_ErrorCode e = ZSTD_getErrorCode(r);

	if (e == ZSTD_error_memory_allocation)
		die_oom();
	if (e == ZSTD_error_frameParameter_windowTooLarge)
		return fail(c, "frame window larger than the %zu MiB allowed",
		    ((size_t)1 << CODEC_ZSTD_WINDOW_LOG_MAX) / MiB);
	return fail(c, "%s (%s)", what, ZSTD_getErrorName(r));
}

static enum xform_rc
zstd_compress(struct codec *c, const unsigned char *in, size_t inlen,
    size_t *used, unsigned char *out, size_t outcap, size_t *made)
{
	ZSTD_inBuffer ib = { in, inlen, 0 };
	ZSTD_outBuffer ob = { out, outcap, 0 };
	size_t r;

	r = ZSTD_compressStream2(c->zcc, &ob, &ib,
	    c->eof ? ZSTD_e_end : ZSTD_e_continue);
	*used = ib.pos;
	*made = ob.pos;
	if (ZSTD_isError(r))
		return zstd_fail(c, r, "compression failed");
	if (c->eof && r == 0)
		return finish(c);
	return XF_AGAIN;
}

static enum xform_rc
zstd_decompress(struct codec *c, const unsigned char *in, size_t inlen,
    size_t *used, unsigned char *out, size_t outcap, size_t *made)
{
	ZSTD_inBuffer ib;
	ZSTD_outBuffer ob;
	size_t ipos = 0, opos = 0, r;

	for (;;) {
		if (!c->open && ipos == inlen) {
			if (!c->eof)
				return XF_AGAIN;
			if (c->members == 0)
				return fail_truncated(c);
			return finish(c);
		}
		/*
		 * Nothing new to give and nothing held back: zstd counts
		 * such calls and fails after a few ("no forward progress"),
		 * and a pipeline makes them whenever another stage moved.
		 */
		if (ipos == inlen && !c->eof && !c->out_full)
			return XF_AGAIN;
		ib.src = in + ipos;
		ib.size = inlen - ipos;
		ib.pos = 0;
		ob.dst = out + opos;
		ob.size = outcap - opos;
		ob.pos = 0;
		r = ZSTD_decompressStream(c->zdc, &ob, &ib);
		ipos += ib.pos;
		opos += ob.pos;
		*used = ipos;
		*made = opos;
		if (ZSTD_isError(r))
			return zstd_fail(c, r, "corrupt data");
		if (r == 0) {
			c->open = false;
			c->members++;
			continue;
		}
		if (ib.pos > 0)
			c->open = true;
		c->out_full = opos == outcap;
		if (opos == outcap)
			return XF_AGAIN;
		/* Output room left: zstd flushed all it had and needs input. */
		if (ipos == inlen)
			return c->eof ? fail_truncated(c) : XF_AGAIN;
		if (ib.pos == 0 && ob.pos == 0)
			return XF_AGAIN;
	}
}

/* ---- life cycle ---- */

static struct codec *
codec_alloc(enum codec_algo algo, bool compress)
{
	struct codec *c;

	if (!algo_valid(algo))
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->algo = algo;
	c->compress = compress;
	c->state = CS_RUN;
	return c;
}

static void
zlib_check_init(int zr)
{
	if (zr == Z_MEM_ERROR)
		die_oom();
	if (zr != Z_OK)
		abort();	/* bad parameters or a zlib.h/libz mismatch */
}

static void
zstd_check(size_t r)
{
	if (ZSTD_isError(r))
		abort();	/* parameters outside the library's range */
}

struct codec *
codec_new_compress(enum codec_algo algo, int level)
{
	struct codec *c = codec_alloc(algo, true);
	size_t n;

	if (c == NULL)
		return NULL;
	c->level = codec_native_level(algo, level);
	switch (algo) {
	case CODEC_GZIP:
		zlib_check_init(deflateInit2(&c->z, c->level, Z_DEFLATED,
		    15 + 16, 8, Z_DEFAULT_STRATEGY));
		c->zinit = true;
		break;
	case CODEC_LZ4:
		if (LZ4F_isError(LZ4F_createCompressionContext(&c->lcc,
		    LZ4F_VERSION)))
			die_oom();
		c->lprefs.frameInfo.blockSizeID = LZ4F_max64KB;
		c->lprefs.frameInfo.blockMode = LZ4F_blockLinked;
		c->lprefs.frameInfo.contentChecksumFlag =
		    LZ4F_contentChecksumEnabled;
		c->lprefs.frameInfo.blockChecksumFlag =
		    LZ4F_blockChecksumEnabled;
		c->lprefs.compressionLevel = c->level;
		n = LZ4F_compressBound(LZ4_CHUNK, &c->lprefs);
		if (n < LZ4F_HEADER_SIZE_MAX)
			n = LZ4F_HEADER_SIZE_MAX;
		if (n < LZ4F_compressBound(0, &c->lprefs))
			n = LZ4F_compressBound(0, &c->lprefs);
		c->stage = xmalloc(n);
		c->stage_cap = n;
		break;
	case CODEC_ZSTD:
		c->zcc = ZSTD_createCCtx();
		if (c->zcc == NULL)
			die_oom();
		zstd_check(ZSTD_CCtx_setParameter(c->zcc,
		    ZSTD_c_compressionLevel, c->level));
		zstd_check(ZSTD_CCtx_setParameter(c->zcc,
		    ZSTD_c_checksumFlag, 1));
		break;
	default:
		break;
	}
	return c;
}

struct codec *
codec_new_decompress(enum codec_algo algo)
{
	struct codec *c = codec_alloc(algo, false);

	if (c == NULL)
		return NULL;
	switch (algo) {
	case CODEC_GZIP:
		zlib_check_init(inflateInit2(&c->z, 15 + 16));
		c->zinit = true;
		break;
	case CODEC_LZ4:
		if (LZ4F_isError(LZ4F_createDecompressionContext(&c->ldc,
		    LZ4F_VERSION)))
			die_oom();
		break;
	case CODEC_ZSTD:
		c->zdc = ZSTD_createDCtx();
		if (c->zdc == NULL)
			die_oom();
		zstd_check(ZSTD_DCtx_setParameter(c->zdc,
		    ZSTD_d_windowLogMax, CODEC_ZSTD_WINDOW_LOG_MAX));
		break;
	default:
		break;
	}
	return c;
}

void
codec_free(struct codec *c)
{
	if (c == NULL)
		return;
	if (c->zinit) {
		if (c->compress)
			deflateEnd(&c->z);
		else
			inflateEnd(&c->z);
	}
	LZ4F_freeCompressionContext(c->lcc);
	LZ4F_freeDecompressionContext(c->ldc);
	ZSTD_freeCCtx(c->zcc);
	ZSTD_freeDCtx(c->zdc);
	free(c->stage);
	free(c);
}

const char *
codec_error(const struct codec *c)
{
	return c->err;
}

enum xform_rc
codec_run(struct codec *c, const unsigned char *in, size_t inlen,
    size_t *used, unsigned char *out, size_t outcap, size_t *made, bool eof)
{
	*used = *made = 0;
	if (c->state == CS_DONE)
		return XF_DONE;
	if (c->state == CS_ERROR)
		return XF_ERROR;
	if (eof)
		c->eof = true;
	/* The libraries want real pointers even for empty buffers. */
	if (in == NULL)
		in = &no_bytes;
	if (out == NULL)
		out = &no_room;
	switch (c->algo) {
	case CODEC_GZIP:
		return c->compress ?
		    gzip_compress(c, in, inlen, used, out, outcap, made) :
		    gzip_decompress(c, in, inlen, used, out, outcap, made);
	case CODEC_LZ4:
		return c->compress ?
		    lz4_compress(c, in, inlen, used, out, outcap, made) :
		    lz4_decompress(c, in, inlen, used, out, outcap, made);
	case CODEC_ZSTD:
		return c->compress ?
		    zstd_compress(c, in, inlen, used, out, outcap, made) :
		    zstd_decompress(c, in, inlen, used, out, outcap, made);
	default:
		return copy_run(c, in, inlen, used, out, outcap, made);
	}
}
