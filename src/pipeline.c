/*
 * pipeline.c - a source, transforms and a sink joined by bounded buffers
 * on the loop (see pipeline.h).
 *
 * Buffer i holds the input of transform i (buffer 0 what the source
 * gave); the last buffer holds what goes to the sink. Every buffer is
 * linear: bytes live in [off, len), and the free tail is reclaimed by
 * moving the rest to the front when the head has been consumed.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "log.h"
#include "pipeline.h"

struct pbuf {
	unsigned char *p;
	size_t off, len;
};

struct stage {
	char name[24];
	struct pl_xform x;
	bool done;
};

enum plstate {
	PL_NEW,
	PL_RUNNING,
	PL_FINISHING,	/* the sink's finish() is running or pending */
	PL_ENDING,	/* done is due */
	PL_ENDED,	/* done has run */
};

struct pipeline {
	struct ev_loop *loop;
	const struct pl_source_ops *src_ops;
	void *src;
	const struct pl_sink_ops *snk_ops;
	void *snk;
	pipeline_done_fn done;
	void *arg;
	struct stage xf[PIPELINE_MAX_XFORMS];
	size_t nx;
	struct pbuf buf[PIPELINE_MAX_XFORMS + 1];
	bool src_eof;
	enum plstate state;
	bool ok;
	ev_timer kick;		/* zero-delay: pump and report from the loop */
	EVP_MD_CTX *md;
	struct pl_stats st;
	char err[PIPELINE_ERR_MAX];
};

static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents);

struct pipeline *
pipeline_new(struct ev_loop *loop, const struct pl_source_ops *src_ops,
    void *src, const struct pl_sink_ops *snk_ops, void *snk,
    pipeline_done_fn done, void *arg)
{
	struct pipeline *pl = xcalloc(1, sizeof(*pl));

	pl->loop = loop;
	pl->src_ops = src_ops;
	pl->src = src;
	pl->snk_ops = snk_ops;
	pl->snk = snk;
	pl->done = done;
	pl->arg = arg;
	pl->md = EVP_MD_CTX_new();
	if (pl->md == NULL || EVP_DigestInit_ex(pl->md, EVP_sha256(),
	    NULL) != 1)
		die_oom();
	ev_timer_init(&pl->kick, kick_cb, 0., 0.);
	if (src_ops->attach)
		src_ops->attach(src, pl);
	if (snk_ops->attach)
		snk_ops->attach(snk, pl);
	return pl;
}

void
pipeline_add(struct pipeline *pl, const char *name, const struct pl_xform *x)
{
	if (pl->nx == PIPELINE_MAX_XFORMS || pl->state != PL_NEW)
		abort();
	snprintf(pl->xf[pl->nx].name, sizeof(pl->xf[pl->nx].name), "%s",
	    name);
	pl->xf[pl->nx].x = *x;
	pl->nx++;
}

size_t
pipeline_mem(const struct pipeline *pl)
{
	return sizeof(*pl) + (pl->nx + 1) * PIPELINE_BUF;
}

void
pipeline_kick(struct pipeline *pl)
{
	if (pl->state == PL_ENDED || ev_is_active(&pl->kick))
		return;
	ev_timer_set(&pl->kick, 0., 0.);
	ev_timer_start(pl->loop, &pl->kick);
}

void
pipeline_start(struct pipeline *pl)
{
	size_t i;

	if (pl->state != PL_NEW)
		return;
	for (i = 0; i <= pl->nx; i++)
		pl->buf[i].p = xmalloc(PIPELINE_BUF);
	pl->state = PL_RUNNING;
	pipeline_kick(pl);
}

/* The first error stops every stage; done follows from the loop. */
static void
fail(struct pipeline *pl, const char *fmt, ...) DBP_PRINTF(2, 3);

static void
fail(struct pipeline *pl, const char *fmt, ...)
{
	va_list ap;
	enum plstate was = pl->state;

	if (was == PL_ENDING || was == PL_ENDED)
		return;
	va_start(ap, fmt);
	vsnprintf(pl->err, sizeof(pl->err), fmt, ap);
	va_end(ap);
	pl->ok = false;
	pl->state = PL_ENDING;
	if (pl->src_ops->abort)
		pl->src_ops->abort(pl->src);
	if (pl->snk_ops->abort)
		pl->snk_ops->abort(pl->snk);
	pipeline_kick(pl);
}

void
pipeline_abort(struct pipeline *pl, const char *err)
{
	fail(pl, "%s", err && *err ? err : "aborted");
}

void
pipeline_sink_done(struct pipeline *pl, bool ok, const char *err)
{
	if (pl->state != PL_FINISHING)
		return;
	if (!ok) {
		/* The sink has undone its own work already. */
		snprintf(pl->err, sizeof(pl->err), "sink: %s",
		    err && *err ? err : "failed");
		pl->ok = false;
	} else {
		pl->ok = true;
	}
	pl->state = PL_ENDING;
	pipeline_kick(pl);
}

/* Makes room at the tail of b: the consumed head goes. */
static size_t
room(struct pbuf *b)
{
	if (b->off == b->len) {
		b->off = b->len = 0;
	} else if (b->off > 0 && PIPELINE_BUF - b->len < PIPELINE_BUF / 4) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	return PIPELINE_BUF - b->len;
}

static bool
pump_source(struct pipeline *pl, size_t *moved)
{
	struct pbuf *b = &pl->buf[0];
	char err[PIPELINE_ERR_MAX - 16];
	size_t cap, n = 0;

	if (pl->src_eof || (cap = room(b)) == 0)
		return false;
	err[0] = '\0';
	switch (pl->src_ops->read(pl->src, b->p + b->len, cap, &n, err,
	    sizeof(err))) {
	case PL_DATA:
		if (n > cap)
			n = cap;
		b->len += n;
		pl->st.in_bytes += n;
		*moved += n;
		return n > 0;
	case PL_EOF:
		pl->src_eof = true;
		return true;
	case PL_AGAIN:
		return false;
	default:
		fail(pl, "source: %s", err[0] ? err : "read failed");
		return false;
	}
}

static bool
pump_xform(struct pipeline *pl, size_t i)
{
	struct stage *s = &pl->xf[i];
	struct pbuf *in = &pl->buf[i], *out = &pl->buf[i + 1];
	bool eof = i == 0 ? pl->src_eof : pl->xf[i - 1].done;
	size_t cap, used = 0, made = 0;
	enum xform_rc rc;

	if (s->done || (cap = room(out)) == 0)
		return false;
	rc = s->x.run(s->x.st, in->p + in->off, in->len - in->off, &used,
	    out->p + out->len, cap, &made, eof);
	in->off += used;
	out->len += made;
	if (rc == XF_ERROR) {
		fail(pl, "%s: %s", s->name, s->x.error ?
		    s->x.error(s->x.st) : "failed");
		return false;
	}
	if (rc == XF_DONE) {
		s->done = true;
		return true;
	}
	return used > 0 || made > 0;
}

static bool
pump_sink(struct pipeline *pl, size_t *moved)
{
	struct pbuf *b = &pl->buf[pl->nx];
	char err[PIPELINE_ERR_MAX - 16];
	ssize_t w;

	if (b->off == b->len)
		return false;
	err[0] = '\0';
	w = pl->snk_ops->write(pl->snk, b->p + b->off, b->len - b->off, err,
	    sizeof(err));
	if (w < 0) {
		fail(pl, "sink: %s", err[0] ? err : "write failed");
		return false;
	}
	if ((size_t)w > b->len - b->off)
		w = (ssize_t)(b->len - b->off);
	if (w > 0 && EVP_DigestUpdate(pl->md, b->p + b->off, (size_t)w) != 1)
		die_oom();
	b->off += (size_t)w;
	pl->st.out_bytes += (uint64_t)w;
	*moved += (size_t)w;
	return w > 0;
}

static bool
all_through(const struct pipeline *pl)
{
	const struct pbuf *last = &pl->buf[pl->nx];

	return pl->src_eof && (pl->nx == 0 || pl->xf[pl->nx - 1].done) &&
	    last->off == last->len;
}

static void
finish(struct pipeline *pl)
{
	static const char hex[] = "0123456789abcdef";
	unsigned int n = 0;
	size_t i;

	if (EVP_DigestFinal_ex(pl->md, pl->st.sha256, &n) != 1)
		die_oom();
	for (i = 0; i < SHA256_LEN; i++) {
		pl->st.sha256_hex[2 * i] = hex[pl->st.sha256[i] >> 4];
		pl->st.sha256_hex[2 * i + 1] = hex[pl->st.sha256[i] & 15];
	}
	pl->st.sha256_hex[2 * SHA256_LEN] = '\0';
	pl->state = PL_FINISHING;
	pl->snk_ops->finish(pl->snk);
}

static void
pump(struct pipeline *pl)
{
	size_t moved = 0, i;
	bool progress;

	do {
		progress = pump_source(pl, &moved);
		for (i = 0; i < pl->nx && pl->state == PL_RUNNING; i++)
			progress |= pump_xform(pl, i);
		if (pl->state == PL_RUNNING)
			progress |= pump_sink(pl, &moved);
		if (pl->state != PL_RUNNING)
			return;
		if (all_through(pl)) {
			finish(pl);
			return;
		}
		if (moved >= PIPELINE_SLICE) {
			/* Let the rest of the loop run; carry on next turn. */
			pipeline_kick(pl);
			return;
		}
	} while (progress);
}

static void
kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pipeline *pl = container_of(w, struct pipeline, kick);

	(void)loop;
	(void)revents;
	if (pl->state == PL_RUNNING)
		pump(pl);
	if (pl->state == PL_ENDING) {
		pl->state = PL_ENDED;
		/* done may free pl: nothing after it */
		pl->done(pl, pl->ok, pl->ok ? NULL : pl->err, &pl->st,
		    pl->arg);
	}
}

void
pipeline_free(struct pipeline *pl)
{
	size_t i;

	if (pl == NULL)
		return;
	if (pl->state == PL_RUNNING || pl->state == PL_FINISHING) {
		if (pl->src_ops->abort)
			pl->src_ops->abort(pl->src);
		if (pl->snk_ops->abort)
			pl->snk_ops->abort(pl->snk);
	}
	ev_timer_stop(pl->loop, &pl->kick);
	for (i = 0; i <= PIPELINE_MAX_XFORMS; i++)
		free(pl->buf[i].p);
	EVP_MD_CTX_free(pl->md);
	free(pl);
}
