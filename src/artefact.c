/*
 * artefact.c - format detection and pipeline transforms for artefacts
 * (see artefact.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "artefact.h"
#include "util.h"

#define DETECT_LEN	4	/* the longest magic: lz4 and zstd */

struct xdetect {
	unsigned char head[DETECT_LEN];
	size_t hn;		/* bytes in head */
	size_t hfed;		/* of them, given to the codec */
	bool decided;
	enum codec_algo algo;
	struct codec *c;
};

struct xdetect *
xdetect_new(void)
{
	return xcalloc(1, sizeof(struct xdetect));
}

void
xdetect_free(struct xdetect *d)
{
	if (d == NULL)
		return;
	codec_free(d->c);
	free(d);
}

static enum xform_rc
xdetect_run(void *st, const unsigned char *in, size_t inlen, size_t *used,
    unsigned char *out, size_t outcap, size_t *made, bool eof)
{
	struct xdetect *d = st;
	size_t n, u = 0, m = 0, u2 = 0, m2 = 0;
	enum xform_rc rc;

	*used = *made = 0;
	if (!d->decided) {
		n = DETECT_LEN - d->hn < inlen ? DETECT_LEN - d->hn : inlen;
		memcpy(d->head + d->hn, in, n);
		d->hn += n;
		*used = n;
		if (d->hn < DETECT_LEN && !(eof && n == inlen))
			return XF_AGAIN;
		d->algo = codec_detect(d->head, d->hn);
		d->c = codec_new_decompress(d->algo);
		d->decided = true;
	}
	/* The bytes held for detection go first. */
	if (d->hfed < d->hn) {
		rc = codec_run(d->c, d->head + d->hfed, d->hn - d->hfed, &u,
		    out, outcap, &m, eof && *used == inlen);
		d->hfed += u;
		*made = m;
		if (rc != XF_AGAIN || d->hfed < d->hn)
			return rc;
	}
	rc = codec_run(d->c, in + *used, inlen - *used, &u2, out + m,
	    outcap - m, &m2, eof);
	*used += u2;
	*made += m2;
	return rc;
}

static const char *
xdetect_error(const void *st)
{
	const struct xdetect *d = st;

	return d->c ? codec_error(d->c) : "";
}

struct pl_xform
xdetect_xform(struct xdetect *d)
{
	struct pl_xform x = { xdetect_run, xdetect_error, d };

	return x;
}

static enum xform_rc
codec_xrun(void *st, const unsigned char *in, size_t inlen, size_t *used,
    unsigned char *out, size_t outcap, size_t *made, bool eof)
{
	return codec_run(st, in, inlen, used, out, outcap, made, eof);
}

static const char *
codec_xerror(const void *st)
{
	return codec_error(st);
}

struct pl_xform
codec_xform(struct codec *c)
{
	struct pl_xform x = { codec_xrun, codec_xerror, c };

	return x;
}

static enum xform_rc
aead_xrun(void *st, const unsigned char *in, size_t inlen, size_t *used,
    unsigned char *out, size_t outcap, size_t *made, bool eof)
{
	return aead_run(st, in, inlen, used, out, outcap, made, eof);
}

static const char *
aead_xerror(const void *st)
{
	return aead_error(st);
}

struct pl_xform
aead_xform(struct aead *a)
{
	struct pl_xform x = { aead_xrun, aead_xerror, a };

	return x;
}
