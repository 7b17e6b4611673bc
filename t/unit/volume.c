/*
 * volume.t - artefacts on a mounted volume through the pipeline: the
 * file appears under its final name only when complete, an aborted or
 * failed write leaves nothing, a claim that is not mounted is named,
 * hostile paths are refused, reads give the bytes back, deletes and
 * sweeps are idempotent.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ev.h>

#include "pipeline.h"
#include "tap.h"
#include "util.h"
#include "volume.h"

static struct ev_loop *loop;
static char root[] = "/tmp/volume-test.XXXXXX";

/* A source of n bytes of a pattern, in one go per read. */
struct msrc {
	size_t n, pos;
	bool fail;
};

static enum pl_read
msrc_read(void *arg, unsigned char *buf, size_t cap, size_t *n, char *err,
    size_t errlen)
{
	struct msrc *s = arg;
	size_t i, k = s->n - s->pos < cap ? s->n - s->pos : cap;

	if (s->fail && s->pos > 0) {
		snprintf(err, errlen, "mysqldump: Got error 2013");
		return PL_FAIL;
	}
	if (k == 0)
		return PL_EOF;
	for (i = 0; i < k; i++)
		buf[i] = (unsigned char)((s->pos + i) * 7);
	s->pos += k;
	*n = k;
	return PL_DATA;
}

static const struct pl_source_ops msrc_ops = { msrc_read, NULL, NULL };

/* A sink keeping what it is given. */
struct bsink {
	struct pipeline *pl;
	unsigned char *p;
	size_t n;
};

static ssize_t
bsink_write(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct bsink *b = arg;

	(void)err;
	(void)errlen;
	b->p = xrealloc(b->p, b->n + n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return (ssize_t)n;
}

static void
bsink_finish(void *arg)
{
	struct bsink *b = arg;

	pipeline_sink_done(b->pl, true, NULL);
}

static const struct pl_sink_ops bsink_ops = { bsink_write, bsink_finish,
    NULL, NULL };

static int calls;
static bool last_ok;
static char last_err[PIPELINE_ERR_MAX];

static void
on_done(struct pipeline *pl, bool okk, const char *err,
    const struct pl_stats *st, void *arg)
{
	(void)pl;
	(void)st;
	(void)arg;
	calls++;
	last_ok = okk;
	snprintf(last_err, sizeof(last_err), "%s", err ? err : "");
	ev_break(loop, EVBREAK_ALL);
}

static int
count_parts(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strstr(e->d_name, ".part-") != NULL;
	closedir(d);
	return n;
}

static bool
exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

int
main(void)
{
	char err[VOLUME_ERR_MAX], *claim_dir, *final, *dir;
	struct volume_put *vp;
	struct volume_get *vg;
	struct pipeline *pl;
	struct msrc s;
	struct bsink b;
	int fd;

	loop = ev_loop_new(EVFLAG_AUTO);
	if (mkdtemp(root) == NULL)
		return 1;
	claim_dir = xasprintf("%s/backups-pvc", root);

	/* checks */
	ok(volume_check("c", "a/b.dump", err, sizeof(err)) == 0,
	    "a relative path is fine");
	ok(volume_check("c", "../etc/passwd", err, sizeof(err)) < 0,
	    "\"..\" is refused");
	ok(volume_check("c", "a/../../x", err, sizeof(err)) < 0,
	    "\"..\" inside is refused");
	ok(volume_check("c", "/abs", err, sizeof(err)) < 0,
	    "an absolute path is refused");
	ok(volume_check("c", "a//b", err, sizeof(err)) < 0,
	    "an empty segment is refused");
	ok(volume_check("../c", "a", err, sizeof(err)) < 0,
	    "a claim name with a slash is refused");

	/* not mounted */
	vp = volume_put_new(root, "backups-pvc", "db/x.dump", err,
	    sizeof(err));
	ok(vp == NULL && strstr(err, "backups-pvc is not mounted at") !=
	    NULL, "a claim that is not mounted is named with its mount point");
	diag("%s", err);

	/* a complete write */
	mkdir(claim_dir, 0700);
	vp = volume_put_new(root, "backups-pvc", "team/app/db-b1.dump.gz",
	    err, sizeof(err));
	ok(vp != NULL, "a put opens (directories inside the claim created)");
	final = xasprintf("%s/team/app/db-b1.dump.gz", claim_dir);
	dir = xasprintf("%s/team/app", claim_dir);
	is_str(volume_put_path(vp), final, "the final path");
	memset(&s, 0, sizeof(s));
	s.n = 300000;
	pl = pipeline_new(loop, &msrc_ops, &s, &volume_sink_ops, vp, on_done,
	    NULL);
	pipeline_start(pl);
	ev_run(loop, 0);
	ok(calls == 1 && last_ok, "the pipeline completes");
	ok(exists(final) && count_parts(dir) == 0,
	    "the file is under its final name, no temporary file left");
	pipeline_free(pl);
	volume_put_free(vp);

	/* reading it back */
	vg = volume_get_new(root, "backups-pvc", "team/app/db-b1.dump.gz",
	    err, sizeof(err));
	ok(vg != NULL && volume_get_size(vg) == 300000, "a get opens it");
	memset(&b, 0, sizeof(b));
	pl = pipeline_new(loop, &volume_source_ops, vg, &bsink_ops, &b,
	    on_done, NULL);
	b.pl = pl;
	pipeline_start(pl);
	ev_run(loop, 0);
	{
		size_t i;
		bool same = b.n == 300000;

		for (i = 0; same && i < b.n; i++)
			same = b.p[i] == (unsigned char)(i * 7);
		ok(calls == 2 && last_ok && same, "the bytes come back");
	}
	pipeline_free(pl);
	volume_get_free(vg);
	free(b.p);

	/* a failing source: nothing under the final name */
	vp = volume_put_new(root, "backups-pvc", "team/app/db-b2.dump.gz",
	    err, sizeof(err));
	memset(&s, 0, sizeof(s));
	s.n = 300000;
	s.fail = true;
	pl = pipeline_new(loop, &msrc_ops, &s, &volume_sink_ops, vp, on_done,
	    NULL);
	pipeline_start(pl);
	ev_run(loop, 0);
	ok(calls == 3 && !last_ok, "a failing dump fails the write");
	{
		char *f2 = xasprintf("%s/team/app/db-b2.dump.gz", claim_dir);

		ok(!exists(f2) && count_parts(dir) == 0,
		    "nothing left: no final file, no temporary file");
		free(f2);
	}
	pipeline_free(pl);
	volume_put_free(vp);

	/* a writer that died leaves a .part file; the sweep removes it */
	vp = volume_put_new(root, "backups-pvc", "team/app/db-b3.dump", err,
	    sizeof(err));
	is_int(count_parts(dir), 1, "an open put has a temporary file");
	fd = volume_sweep(root, "backups-pvc", "team/app/db-b3.dump");
	is_int(fd, 1, "the sweep removes it");
	volume_put_free(vp);
	is_int(count_parts(dir), 0, "freeing an unfinished put leaves nothing");

	/* delete */
	ok(volume_delete(root, "backups-pvc", "team/app/db-b1.dump.gz", err,
	    sizeof(err)) == 0 && !exists(final), "delete removes the file");
	ok(volume_delete(root, "backups-pvc", "team/app/db-b1.dump.gz", err,
	    sizeof(err)) == 0, "deleting again is success");
	ok(volume_get_new(root, "backups-pvc", "team/app/db-b1.dump.gz", err,
	    sizeof(err)) == NULL && strstr(err, "cannot open") != NULL,
	    "a missing artefact cannot be opened, and says so");

	rmdir(dir);
	free(dir);
	dir = xasprintf("%s/team", claim_dir);
	rmdir(dir);
	free(dir);
	rmdir(claim_dir);
	rmdir(root);
	free(final);
	free(claim_dir);
	ev_loop_destroy(loop);
	return done_testing();
}
