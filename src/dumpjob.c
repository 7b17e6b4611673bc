/*
 * dumpjob.c - a backup or a restore: child, pipeline, deadline (see
 * dumpjob.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#include "artefact.h"
#include "dumpjob.h"
#include "log.h"
#include "proc.h"
#include "util.h"

#define DUMPJOB_GRACE	5.0

struct dumpjob {
	struct ev_loop *loop;
	bool backup;
	char *tool;
	struct proc *p;
	struct pipeline *pl;
	struct codec *codec;
	struct aead *aead;
	struct xdetect *det;
	const struct pl_sink_ops *sink_ops;	/* backup */
	void *sink;
	const struct pl_source_ops *src_ops;	/* restore */
	void *src;
	double grace;
	double deadline_s;
	ev_timer deadline;
	double started;
	bool out_eof;		/* backup: the child's stdout ended */
	bool finishing;		/* restore: stdin closed, waiting for exit */
	bool exited;
	bool deadline_hit;
	bool reported;
	uint64_t to_child;	/* restore: bytes written to the child */
	dumpjob_done_fn done;
	void *arg;
};

/* "pg_dump: exited with status 1: pg_dump: error: ... does not exist" */
static void
child_failure(struct dumpjob *j, char *err, size_t errlen)
{
	const struct proc_status *st = proc_status(j->p);
	const char *tail = st ? st->err_tail : NULL;
	size_t n = st ? st->err_len : 0, end, start;

	/* The last non-empty line of stderr says most. */
	end = n;
	while (end > 0 && (tail[end - 1] == '\n' || tail[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && tail[start - 1] != '\n')
		start--;
	if (end > start)
		snprintf(err, errlen, "%s: %s: %.*s", j->tool,
		    st ? st->desc : "failed", (int)(end - start), tail + start);
	else
		snprintf(err, errlen, "%s: %s", j->tool,
		    st ? st->desc : "failed");
}

static bool
child_ok(const struct dumpjob *j)
{
	const struct proc_status *st = proc_status(j->p);

	return st && st->exited && st->code == 0 && st->spawn_errno == 0;
}

/* ---- the child's callbacks ---- */

static void
on_readable(struct proc *p, void *arg)
{
	struct dumpjob *j = arg;

	proc_want_read(p, false);
	pipeline_kick(j->pl);
}

static void
on_writable(struct proc *p, void *arg)
{
	struct dumpjob *j = arg;

	proc_want_write(p, false);
	pipeline_kick(j->pl);
}

static void
on_exited(struct proc *p, const struct proc_status *st, void *arg)
{
	struct dumpjob *j = arg;
	char err[PIPELINE_ERR_MAX];

	(void)p;
	(void)st;
	j->exited = true;
	if (j->finishing) {
		j->finishing = false;
		if (child_ok(j)) {
			pipeline_sink_done(j->pl, true, NULL);
		} else {
			child_failure(j, err, sizeof(err));
			pipeline_sink_done(j->pl, false, err);
		}
		return;
	}
	pipeline_kick(j->pl);
}

/* ---- backup: the child's stdout is the source ---- */

static enum pl_read
child_read(void *arg, unsigned char *buf, size_t cap, size_t *n, char *err,
    size_t errlen)
{
	struct dumpjob *j = arg;
	ssize_t r;

	if (!j->out_eof) {
		r = proc_read(j->p, buf, cap);
		if (r > 0) {
			*n = (size_t)r;
			return PL_DATA;
		}
		if (r < 0 && errno == EAGAIN) {
			proc_want_read(j->p, true);
			return PL_AGAIN;
		}
		if (r < 0) {
			snprintf(err, errlen, "%s: reading its output: %s",
			    j->tool, strerror(errno));
			return PL_FAIL;
		}
		j->out_eof = true;
	}
	/* The output ended: it is complete only if the tool says so. */
	if (!j->exited)
		return PL_AGAIN;	/* on_exited() kicks */
	if (!child_ok(j)) {
		child_failure(j, err, errlen);
		return PL_FAIL;
	}
	return PL_EOF;
}

static void
child_stop(void *arg)
{
	struct dumpjob *j = arg;

	if (!j->exited)
		proc_terminate(j->p, j->grace);
}

static const struct pl_source_ops child_src_ops = { child_read, child_stop, NULL };

/* ---- restore: the child's stdin is the sink ---- */

static ssize_t
child_write(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct dumpjob *j = arg;
	ssize_t w;

	if (j->exited) {
		child_failure(j, err, errlen);
		if (child_ok(j))
			snprintf(err, errlen, "%s exited before reading the "
			    "whole dump", j->tool);
		return -1;
	}
	w = proc_write(j->p, p, n);
	if (w > 0) {
		j->to_child += (uint64_t)w;
		return w;
	}
	if (errno == EAGAIN) {
		proc_want_write(j->p, true);
		return 0;
	}
	/* EPIPE: it stopped reading; its exit says why (on_exited kicks). */
	return 0;
}

static void
child_finish(void *arg)
{
	struct dumpjob *j = arg;
	char err[PIPELINE_ERR_MAX];

	proc_close_stdin(j->p);
	if (!j->exited) {
		j->finishing = true;
		return;
	}
	if (child_ok(j)) {
		pipeline_sink_done(j->pl, true, NULL);
	} else {
		child_failure(j, err, sizeof(err));
		pipeline_sink_done(j->pl, false, err);
	}
}

static const struct pl_sink_ops child_sink_ops = { child_write, child_finish,
    child_stop, NULL };

/* ---- the job ---- */

static void
pl_done(struct pipeline *pl, bool ok, const char *err,
    const struct pl_stats *st, void *arg)
{
	struct dumpjob *j = arg;
	struct dumpjob_result r;

	(void)pl;
	ev_timer_stop(j->loop, &j->deadline);
	memset(&r, 0, sizeof(r));
	if (j->backup) {
		r.dump_bytes = st->in_bytes;
		r.stored_bytes = st->out_bytes;
		if (ok)
			memcpy(r.sha256, st->sha256_hex, sizeof(r.sha256));
	} else {
		r.stored_bytes = st->in_bytes;
		r.dump_bytes = st->out_bytes;
		memcpy(r.sha256, st->sha256_hex, sizeof(r.sha256));
		if (!ok)
			r.sha256[0] = '\0';
	}
	r.seconds = ev_now(j->loop) - j->started;
	r.deadline_exceeded = j->deadline_hit;
	j->reported = true;
	j->done(j, ok, err, &r, j->arg);
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dumpjob *j = container_of(w, struct dumpjob, deadline);
	char why[128];

	(void)loop;
	(void)revents;
	j->deadline_hit = true;
	snprintf(why, sizeof(why), "activeDeadlineSeconds exceeded (%.0f s)",
	    j->deadline_s);
	pipeline_abort(j->pl, why);
}

static struct dumpjob *
job_new(struct ev_loop *loop, const struct dumpjob_config *cfg, bool backup,
    dumpjob_done_fn done, void *arg, char *err, size_t errlen)
{
	static const struct proc_cbs cbs0;
	struct proc_cbs cbs = cbs0;
	struct dumpjob *j;
	struct pl_xform x;
	unsigned flags;

	if (cfg->argv == NULL || cfg->argv[0] == NULL || (cfg->encrypt &&
	    cfg->key == NULL) || (backup ? cfg->sink_ops == NULL :
	    cfg->src_ops == NULL)) {
		snprintf(err, errlen, "dumpjob: incomplete configuration");
		return NULL;
	}
	j = xcalloc(1, sizeof(*j));
	j->loop = loop;
	j->backup = backup;
	j->tool = xstrdup(cfg->tool ? cfg->tool : cfg->argv[0]);
	j->grace = cfg->grace > 0 ? cfg->grace : DUMPJOB_GRACE;
	j->deadline_s = cfg->deadline;
	j->done = done;
	j->arg = arg;
	j->sink_ops = cfg->sink_ops;
	j->sink = cfg->sink;
	j->src_ops = cfg->src_ops;
	j->src = cfg->src;
	j->started = ev_now(loop);
	cbs.readable = on_readable;
	cbs.writable = on_writable;
	cbs.exited = on_exited;
	cbs.arg = j;
	flags = PROC_STDERR | (backup ? PROC_STDOUT : PROC_STDIN);
	j->p = proc_spawn(loop, cfg->argv, cfg->env, flags, &cbs, err, errlen);
	if (j->p == NULL) {
		free(j->tool);
		free(j);
		return NULL;
	}
	if (backup) {
		j->pl = pipeline_new(loop, &child_src_ops, j, cfg->sink_ops,
		    cfg->sink, pl_done, j);
		if (cfg->codec != CODEC_NONE) {
			j->codec = codec_new_compress(cfg->codec, cfg->level);
			x = codec_xform(j->codec);
			pipeline_add(j->pl, "compress", &x);
		}
		if (cfg->encrypt) {
			j->aead = aead_seal_new(cfg->key, cfg->aead, 0);
			x = aead_xform(j->aead);
			pipeline_add(j->pl, "encrypt", &x);
		}
	} else {
		j->pl = pipeline_new(loop, cfg->src_ops, cfg->src,
		    &child_sink_ops, j, pl_done, j);
		if (cfg->encrypt) {
			j->aead = aead_open_new(cfg->key, cfg->legacy);
			x = aead_xform(j->aead);
			pipeline_add(j->pl, "decrypt", &x);
		}
		j->det = xdetect_new();
		x = xdetect_xform(j->det);
		pipeline_add(j->pl, "decompress", &x);
	}
	ev_timer_init(&j->deadline, deadline_cb, cfg->deadline, 0.);
	if (cfg->deadline > 0)
		ev_timer_start(loop, &j->deadline);
	pipeline_start(j->pl);
	return j;
}

struct dumpjob *
dumpjob_backup(struct ev_loop *loop, const struct dumpjob_config *cfg,
    dumpjob_done_fn done, void *arg, char *err, size_t errlen)
{
	return job_new(loop, cfg, true, done, arg, err, errlen);
}

struct dumpjob *
dumpjob_restore(struct ev_loop *loop, const struct dumpjob_config *cfg,
    dumpjob_done_fn done, void *arg, char *err, size_t errlen)
{
	return job_new(loop, cfg, false, done, arg, err, errlen);
}

void
dumpjob_cancel(struct dumpjob *j, const char *why)
{
	if (!j->reported)
		pipeline_abort(j->pl, why);
}

uint64_t
dumpjob_progress(const struct dumpjob *j)
{
	return j->to_child;
}

void
dumpjob_free(struct dumpjob *j)
{
	if (j == NULL)
		return;
	ev_timer_stop(j->loop, &j->deadline);
	pipeline_free(j->pl);		/* aborts both ends if still running */
	proc_free(j->p);		/* kills and reaps a live child */
	codec_free(j->codec);
	aead_free(j->aead);
	xdetect_free(j->det);
	free(j->tool);
	free(j);
}
