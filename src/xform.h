/*
 * xform.h - the shape every streaming transform of the backup pipeline
 * has (codecs, encryption): bytes in, bytes out, bounded on both sides.
 *
 * A transform is driven by one call:
 *
 *   rc = run(state, in, inlen, &used, out, outcap, &made, eof);
 *
 * It consumes up to inlen bytes (reports how many in *used) and writes up
 * to outcap bytes (reports how many in *made). It never keeps a reference
 * to in or out after it returns, and its own internal buffering is bounded
 * by a constant documented by each transform, so memory never depends on
 * the size of the stream. The caller repeats the call, feeding the rest
 * of the input and draining the output, until it returns XF_DONE.
 *
 * eof tells that in[0..inlen) is the last of the input. Once eof has been
 * passed it must stay set on later calls (with the remaining input). The
 * transform returns XF_DONE exactly once, after it has consumed all input
 * and written all of its output (trailers, final chunk); any later call
 * returns XF_DONE with nothing used or made.
 *
 * XF_AGAIN means "call again": progress was made or more input/output
 * room is needed. A call that can neither use input nor make output
 * because outcap is 0 is allowed and returns XF_AGAIN. XF_ERROR is final;
 * the transform's error function then gives a message (no secret in it).
 */
#ifndef DBP_XFORM_H
#define DBP_XFORM_H

#include <stdbool.h>
#include <stddef.h>

enum xform_rc {
	XF_AGAIN,
	XF_DONE,
	XF_ERROR,
};

#endif
