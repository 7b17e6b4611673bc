/*
 * pipeline.h - one byte stream on the loop, from a source through a chain
 * of transforms to a sink, with bounded buffers and backpressure both ways.
 *
 * A backup is  child stdout -> compress -> seal -> sink (a volume, an
 * object store);  a restore is  source -> open -> decompress -> child
 * stdin. Both are this: a source, up to PIPELINE_MAX_XFORMS transforms
 * (xform.h) and a sink, joined by buffers of PIPELINE_BUF bytes. Nothing
 * else is held, so memory does not depend on the size of the stream:
 *
 *   (transforms + 1) * PIPELINE_BUF + the transforms' own state
 *   (codec_mem_bound(), aead: 2 chunks) + the sink's (one upload part)
 *
 * The pipeline never blocks and never waits actively. A source that has
 * nothing to give returns PL_AGAIN and calls pipeline_kick() when it has
 * (its readable event); a sink that cannot take more accepts 0 bytes and
 * calls pipeline_kick() when it can (its writable event). Between kicks
 * the pipeline moves bytes until no stage can progress, a bounded amount
 * of work per kick (PIPELINE_SLICE bytes) so that one fast stream does not
 * starve the rest of the loop.
 *
 * On the way it counts the bytes the source gave (the dump size) and the
 * bytes the sink accepted, and hashes the latter with SHA-256: the
 * artefact's size and checksum as stored, with no second read.
 *
 * The end: when the source has said EOF, every transform has returned
 * XF_DONE and the last byte went to the sink, the sink's finish() runs;
 * the sink reports with pipeline_sink_done() (an upload commits, a file
 * is synced and renamed). Any error -- the source's, a transform's, the
 * sink's -- or pipeline_abort() stops every stage (source->abort,
 * sink->abort: a child is killed, a temporary file removed, an upload
 * aborted) and done reports the first error. done runs exactly once, from
 * the loop, never inside pipeline_start() or pipeline_kick().
 */
#ifndef DBP_PIPELINE_H
#define DBP_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ev.h>

#include "util.h"
#include "xform.h"

#define PIPELINE_BUF		(64 * 1024)
#define PIPELINE_MAX_XFORMS	4
#define PIPELINE_SLICE		(1024 * 1024)	/* bytes moved per kick */
#define PIPELINE_ERR_MAX	512

struct pipeline;

enum pl_read {
	PL_DATA,	/* *n bytes were read */
	PL_AGAIN,	/* nothing now: the source kicks when it has more */
	PL_EOF,		/* the stream ended (nothing read) */
	PL_FAIL,	/* err holds why */
};

/*
 * Kicks are one-shot: a source that returns PL_AGAIN arranges one
 * pipeline_kick() for when it becomes readable (start its watcher there,
 * stop it in the watcher's callback; asked again meanwhile, it answers
 * PL_AGAIN again and still owes one kick), and a sink that takes 0 bytes
 * one for when it has room. A stage never kicks while the pipeline is not
 * waiting for it, so a stage the pipeline cannot serve (its buffer full)
 * does not make the loop spin.
 */
struct pl_source_ops {
	/* Reads up to cap bytes into buf. */
	enum pl_read (*read)(void *src, unsigned char *buf, size_t cap,
	    size_t *n, char *err, size_t errlen);
	/* Stops the source for good (the pipeline failed or was aborted):
	 * kill a child, close a download. May be NULL. */
	void (*abort)(void *src);
	/* Called by pipeline_new() with the pipeline the source serves (to
	 * kick it). May be NULL. */
	void (*attach)(void *src, struct pipeline *pl);
};

struct pl_sink_ops {
	/* Takes up to n bytes; returns how many it took (0: full, it kicks
	 * when it can take more), or -1 with err filled. */
	ssize_t (*write)(void *snk, const unsigned char *p, size_t n,
	    char *err, size_t errlen);
	/* Everything was written: make it durable and report with
	 * pipeline_sink_done(), from the loop or from inside finish(). */
	void (*finish)(void *snk);
	/* Undo: nothing of a failed stream may remain under its final name
	 * (temporary file removed, upload aborted). May be NULL. */
	void (*abort)(void *snk);
	/* Called by pipeline_new() with the pipeline the sink serves (to kick
	 * it and to report from finish()). May be NULL. */
	void (*attach)(void *snk, struct pipeline *pl);
};

struct pl_xform {
	enum xform_rc (*run)(void *st, const unsigned char *in, size_t inlen,
	    size_t *used, unsigned char *out, size_t outcap, size_t *made,
	    bool eof);
	const char *(*error)(const void *st);
	void *st;
};

struct pl_stats {
	uint64_t in_bytes;		/* from the source */
	uint64_t out_bytes;		/* accepted by the sink */
	unsigned char sha256[SHA256_LEN];	/* of the out bytes, once done */
	char sha256_hex[2 * SHA256_LEN + 1];
};

/* ok false: err says what failed, first error wins ("compress: gzip:
 * corrupt data", "sink: ..."). */
typedef void (*pipeline_done_fn)(struct pipeline *pl, bool ok,
    const char *err, const struct pl_stats *st, void *arg);

struct pipeline *pipeline_new(struct ev_loop *loop,
    const struct pl_source_ops *src_ops, void *src,
    const struct pl_sink_ops *snk_ops, void *snk,
    pipeline_done_fn done, void *arg);
/* Appends a transform (before pipeline_start()); name prefixes its
 * errors. At most PIPELINE_MAX_XFORMS; aborts beyond (a programming
 * error). */
void pipeline_add(struct pipeline *pl, const char *name,
    const struct pl_xform *x);
void pipeline_start(struct pipeline *pl);
/* The source has data or the sink has room: move bytes soon. Safe from
 * any callback, also inside the stage's own read or write. */
void pipeline_kick(struct pipeline *pl);
/* The sink's verdict after finish(). */
void pipeline_sink_done(struct pipeline *pl, bool ok, const char *err);
/* Stops everything (source and sink aborted); done runs with err. */
void pipeline_abort(struct pipeline *pl, const char *err);
/* Frees the pipeline (not the stages). Call it after done, or instead
 * of waiting for done (the stages are aborted; done does not run). */
void pipeline_free(struct pipeline *pl);
/* Heap held by the pipeline itself (its buffers), for budgets and tests. */
size_t pipeline_mem(const struct pipeline *pl);

#endif
