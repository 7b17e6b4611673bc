/*
 * volume.c - artefacts on a mounted volume (see volume.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "volume.h"

struct volume_put {
	char *final;		/* ROOT/claim/path */
	char *tmp;		/* its temporary name, NULL once renamed */
	int fd;
	struct pipeline *pl;
};

struct volume_get {
	int fd;
	uint64_t size;
};

int
volume_check(const char *claim, const char *path, char *err, size_t errlen)
{
	const char *p, *seg;
	size_t n;

	if (claim == NULL || *claim == '\0' || strchr(claim, '/') ||
	    strcmp(claim, ".") == 0 || strcmp(claim, "..") == 0) {
		snprintf(err, errlen, "invalid claim name");
		return -1;
	}
	if (path == NULL || *path == '\0' || *path == '/' ||
	    strlen(path) > VOLUME_PATH_MAX) {
		snprintf(err, errlen, "invalid artefact path");
		return -1;
	}
	for (seg = path; ; seg = p + 1) {
		p = strchr(seg, '/');
		n = p ? (size_t)(p - seg) : strlen(seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.')) {
			snprintf(err, errlen, "invalid artefact path: empty, "
			    "\".\" or \"..\" segment");
			return -1;
		}
		if (p == NULL)
			return 0;
	}
}

/* ROOT/claim must be a directory: the claim's mount point. */
static int
claim_dir(const char *root, const char *claim, char **out, char *err,
    size_t errlen)
{
	struct stat sb;
	char *dir = xasprintf("%s/%s", root, claim);

	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "volume claim %s is not mounted at %s "
		    "(mount the PersistentVolumeClaim there)", claim, dir);
		free(dir);
		return -1;
	}
	*out = dir;
	return 0;
}

/* Creates the directories of rel (not its last part) under base. */
static int
make_dirs(const char *base, const char *rel, char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s", base, rel);
	char *p = path + strlen(base) + 1;
	int rc = 0;

	while ((p = strchr(p, '/')) != NULL) {
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", path,
			    strerror(errno));
			rc = -1;
			break;
		}
		*p++ = '/';
	}
	free(path);
	return rc;
}

static char *
dir_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return xasprintf("%.*s", (int)(s - path), path);
}

struct volume_put *
volume_put_new(const char *root, const char *claim, const char *path,
    char *err, size_t errlen)
{
	struct volume_put *v;
	char *dir, *base;
	const char *name;

	if (volume_check(claim, path, err, errlen) < 0 ||
	    claim_dir(root, claim, &dir, err, errlen) < 0)
		return NULL;
	if (make_dirs(dir, path, err, errlen) < 0) {
		free(dir);
		return NULL;
	}
	v = xcalloc(1, sizeof(*v));
	v->final = xasprintf("%s/%s", dir, path);
	free(dir);
	base = dir_of(v->final);
	name = strrchr(v->final, '/') + 1;
	v->tmp = xasprintf("%s/.%s.part-XXXXXX", base, name);
	free(base);
	v->fd = mkstemp(v->tmp);
	if (v->fd < 0) {
		snprintf(err, errlen, "cannot create a file in the directory "
		    "of %s: %s", v->final, strerror(errno));
		free(v->tmp);
		v->tmp = NULL;
		volume_put_free(v);
		return NULL;
	}
	(void)fchmod(v->fd, 0600);
	return v;
}

static void
vput_attach(void *snk, struct pipeline *pl)
{
	struct volume_put *v = snk;

	v->pl = pl;
}

const char *
volume_put_path(const struct volume_put *v)
{
	return v->final;
}

static ssize_t
vput_write(void *snk, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct volume_put *v = snk;
	ssize_t w;

	do
		w = write(v->fd, p, n);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		snprintf(err, errlen, "writing %s: %s", v->final,
		    strerror(errno));
		return -1;
	}
	return w;
}

static int
sync_dir(const char *file)
{
	char *dir = dir_of(file);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	free(dir);
	if (fd < 0)
		return -1;
	if (fsync(fd) < 0)
		rc = -1;
	close(fd);
	return rc;
}

static void
vput_finish(void *snk)
{
	struct volume_put *v = snk;
	char err[VOLUME_ERR_MAX];

	if (fsync(v->fd) < 0 || close(v->fd) < 0) {
		snprintf(err, sizeof(err), "syncing %s: %s", v->final,
		    strerror(errno));
		v->fd = -1;
		goto fail;
	}
	v->fd = -1;
	if (rename(v->tmp, v->final) < 0) {
		snprintf(err, sizeof(err), "renaming onto %s: %s", v->final,
		    strerror(errno));
		goto fail;
	}
	free(v->tmp);
	v->tmp = NULL;
	if (sync_dir(v->final) < 0)
		log_warn("cannot sync the directory of an artefact", "path",
		    v->final, "error", strerror(errno));
	pipeline_sink_done(v->pl, true, NULL);
	return;
fail:
	unlink(v->tmp);
	free(v->tmp);
	v->tmp = NULL;
	pipeline_sink_done(v->pl, false, err);
}

static void
vput_abort(void *snk)
{
	struct volume_put *v = snk;

	if (v->fd >= 0) {
		close(v->fd);
		v->fd = -1;
	}
	if (v->tmp) {
		unlink(v->tmp);
		free(v->tmp);
		v->tmp = NULL;
	}
}

const struct pl_sink_ops volume_sink_ops = {
	vput_write, vput_finish, vput_abort, vput_attach,
};

void
volume_put_free(struct volume_put *v)
{
	if (v == NULL)
		return;
	vput_abort(v);
	free(v->final);
	free(v);
}

struct volume_get *
volume_get_new(const char *root, const char *claim, const char *path,
    char *err, size_t errlen)
{
	struct volume_get *v;
	struct stat sb;
	char *dir, *file;
	int fd;

	if (volume_check(claim, path, err, errlen) < 0 ||
	    claim_dir(root, claim, &dir, err, errlen) < 0)
		return NULL;
	file = xasprintf("%s/%s", dir, path);
	free(dir);
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "cannot open %s: %s", file,
		    fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		free(file);
		return NULL;
	}
	free(file);
	v = xcalloc(1, sizeof(*v));
	v->fd = fd;
	v->size = (uint64_t)sb.st_size;
	return v;
}

uint64_t
volume_get_size(const struct volume_get *v)
{
	return v->size;
}

static enum pl_read
vget_read(void *src, unsigned char *buf, size_t cap, size_t *n, char *err,
    size_t errlen)
{
	struct volume_get *v = src;
	ssize_t r;

	do
		r = read(v->fd, buf, cap);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		snprintf(err, errlen, "reading the artefact: %s",
		    strerror(errno));
		return PL_FAIL;
	}
	*n = (size_t)r;
	return r == 0 ? PL_EOF : PL_DATA;
}

static void
vget_abort(void *src)
{
	struct volume_get *v = src;

	if (v->fd >= 0) {
		close(v->fd);
		v->fd = -1;
	}
}

const struct pl_source_ops volume_source_ops = {
	vget_read, vget_abort, NULL,
};

void
volume_get_free(struct volume_get *v)
{
	if (v == NULL)
		return;
	vget_abort(v);
	free(v);
}

int
volume_delete(const char *root, const char *claim, const char *path,
    char *err, size_t errlen)
{
	char *dir, *file;
	int rc = 0;

	if (volume_check(claim, path, err, errlen) < 0 ||
	    claim_dir(root, claim, &dir, err, errlen) < 0)
		return -1;
	file = xasprintf("%s/%s", dir, path);
	free(dir);
	if (unlink(file) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot delete %s: %s", file,
		    strerror(errno));
		rc = -1;
	}
	free(file);
	return rc;
}

int
volume_sweep(const char *root, const char *claim, const char *path)
{
	char err[VOLUME_ERR_MAX], *dir, *file, *fdir, *prefix, *victim;
	const char *name;
	struct dirent *e;
	DIR *d;
	int n = 0;

	if (volume_check(claim, path, err, sizeof(err)) < 0 ||
	    claim_dir(root, claim, &dir, err, sizeof(err)) < 0)
		return 0;
	file = xasprintf("%s/%s", dir, path);
	free(dir);
	fdir = dir_of(file);
	name = strrchr(file, '/') + 1;
	prefix = xasprintf(".%s.part-", name);
	if ((d = opendir(fdir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
				continue;
			victim = xasprintf("%s/%s", fdir, e->d_name);
			if (unlink(victim) == 0)
				n++;
			free(victim);
		}
		closedir(d);
	}
	free(prefix);
	free(fdir);
	free(file);
	return n;
}
