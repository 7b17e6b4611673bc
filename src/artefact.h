/*
 * artefact.h - reading a backup artefact without being told how it was
 * made: a decompressing transform that picks gzip, LZ4 or zstd from the
 * stream's first bytes (and copies anything else through unchanged), and
 * the pipeline transforms for the codecs and the encryption.
 *
 * The restore of a `fromPath` artefact and `dbprovctl decode` use these;
 * an artefact therefore restores the same wherever it was copied to: its
 * key or file name plays no part.
 */
#ifndef DBP_ARTEFACT_H
#define DBP_ARTEFACT_H

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"
#include "pipeline.h"

struct xdetect;

/* A decompressor that detects its format from the first 4 bytes (a
 * stream shorter than that is copied). Free with xdetect_free(). */
struct xdetect *xdetect_new(void);
void xdetect_free(struct xdetect *d);
struct pl_xform xdetect_xform(struct xdetect *d);

/* The codecs and the encryption as pipeline transforms. */
struct aead;
struct pl_xform codec_xform(struct codec *c);
struct pl_xform aead_xform(struct aead *a);

#endif
