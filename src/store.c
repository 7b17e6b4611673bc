/*
 * store.c - the storage backends of backups behind one interface (see
 * store.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azblob.h"
#include "gcs.h"
#include "s3.h"
#include "store.h"
#include "util.h"
#include "volume.h"

struct store_ops {
	const char *name;
	int (*put_open)(struct store *st, const char *path, int64_t hint,
	    const struct pl_sink_ops **ops, void **sink, char *err,
	    size_t errlen);
	void (*put_close)(struct store *st, void *sink);
	void (*del)(struct store *st, const char *path, store_done_fn cb,
	    void *arg);
	void (*sweep)(struct store *st, const char *path);
	void (*free)(struct store *st);
	/* Work the client still does on its own (an abort on the server):
	 * the store is freed only after it ends. May be NULL. */
	size_t (*busy)(const struct store *st);
};

struct store {
	const struct store_ops *ops;
	struct store *next_dead;	/* store_free_later() */
	double dead_since;
	char *root, *claim;		/* pvc */
	struct azblob_client *az;	/* azure */
	struct s3_client *s3;		/* s3 */
	struct gcs_client *gcs;		/* gcs */
};

/* The pipeline side of an object store upload, whatever the backend. */
struct obj_sink {
	void *put;
	struct pipeline *pl;
	bool finishing;
	size_t (*write)(void *put, const void *p, size_t n);
	void (*finish)(void *put);
	void (*abort)(void *put);
};

static void
obj_writable(struct obj_sink *k)
{
	pipeline_kick(k->pl);
}

/* The upload ended; the client frees its put after this. */
static void
obj_done(struct obj_sink *k, bool ok, const char *err)
{
	k->put = NULL;
	if (k->finishing) {
		k->finishing = false;
		pipeline_sink_done(k->pl, ok, err);
	} else if (!ok) {
		pipeline_abort(k->pl, err);
	}
}

static ssize_t
obj_write(void *snk, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct obj_sink *k = snk;

	(void)err;
	(void)errlen;
	return k->put ? (ssize_t)k->write(k->put, p, n) : 0;
}

static void
obj_finish(void *snk)
{
	struct obj_sink *k = snk;

	k->finishing = true;
	k->finish(k->put);
}

static void
obj_abort(void *snk)
{
	struct obj_sink *k = snk;

	if (k->put) {
		k->abort(k->put);
		k->put = NULL;
	}
}

static void
obj_attach(void *snk, struct pipeline *pl)
{
	struct obj_sink *k = snk;

	k->pl = pl;
}

static const struct pl_sink_ops obj_sink_ops = {
	obj_write, obj_finish, obj_abort, obj_attach,
};

static void
obj_close(struct store *st, void *sink)
{
	struct obj_sink *k = sink;

	(void)st;
	if (k == NULL)
		return;
	obj_abort(k);
	free(k);
}

struct obj_del {
	store_done_fn cb;
	void *arg;
};

static void
obj_deleted(bool ok, const char *err, void *arg)
{
	struct obj_del *x = arg;

	x->cb(ok, err, x->arg);
	free(x);
}

/* ---- pvc ---- */

static int
pvc_put_open(struct store *st, const char *path, int64_t hint,
    const struct pl_sink_ops **ops, void **sink, char *err, size_t errlen)
{
	struct volume_put *v;

	(void)hint;
	v = volume_put_new(st->root, st->claim, path, err, errlen);
	if (v == NULL)
		return -1;
	*ops = &volume_sink_ops;
	*sink = v;
	return 0;
}

static void
pvc_put_close(struct store *st, void *sink)
{
	(void)st;
	volume_put_free(sink);
}

static void
pvc_del(struct store *st, const char *path, store_done_fn cb, void *arg)
{
	char err[VOLUME_ERR_MAX];

	volume_sweep(st->root, st->claim, path);
	if (volume_delete(st->root, st->claim, path, err, sizeof(err)) < 0)
		cb(false, err, arg);
	else
		cb(true, NULL, arg);
}

static void
pvc_sweep(struct store *st, const char *path)
{
	volume_sweep(st->root, st->claim, path);
}

static void
pvc_free(struct store *st)
{
	(void)st;
}

static const struct store_ops pvc_ops = {
	"pvc", pvc_put_open, pvc_put_close, pvc_del, pvc_sweep, pvc_free,
	NULL,
};

/* ---- azure ---- */

static void
az_writable(struct azblob_put *p, void *arg)
{
	(void)p;
	obj_writable(arg);
}

static void
az_done(struct azblob_put *p, bool ok, const char *err, void *arg)
{
	(void)p;
	obj_done(arg, ok, err);
}

static size_t
az_w(void *put, const void *p, size_t n)
{
	return azblob_put_write(put, p, n);
}

static void
az_f(void *put)
{
	azblob_put_finish(put);
}

static void
az_a(void *put)
{
	azblob_put_abort(put);
}

static int
az_put_open(struct store *st, const char *path, int64_t hint,
    const struct pl_sink_ops **ops, void **sink, char *err, size_t errlen)
{
	static const struct azblob_put_cb cb = { az_writable, az_done };
	struct obj_sink *k = xcalloc(1, sizeof(*k));

	k->write = az_w;
	k->finish = az_f;
	k->abort = az_a;
	k->put = azblob_put_new(st->az, path, hint, &cb, k);
	if (k->put == NULL) {
		snprintf(err, errlen, "cannot start an upload of %s", path);
		free(k);
		return -1;
	}
	*ops = &obj_sink_ops;
	*sink = k;
	return 0;
}

static void
az_deleted(struct azblob_del *d, bool ok, const char *err, void *arg)
{
	(void)d;
	obj_deleted(ok, err, arg);
}

static void
az_del(struct store *st, const char *path, store_done_fn cb, void *arg)
{
	static const struct azblob_del_cb dcb = { az_deleted };
	struct obj_del *x = xcalloc(1, sizeof(*x));

	x->cb = cb;
	x->arg = arg;
	if (azblob_delete(st->az, path, &dcb, x) == NULL) {
		free(x);
		cb(false, "cannot start the delete", arg);
	}
}

static void
obj_sweep(struct store *st, const char *path)
{
	/* An object store never shows an unfinished upload as an object;
	 * the clients abort what they leave. */
	(void)st;
	(void)path;
}

static void
az_free(struct store *st)
{
	azblob_client_free(st->az);
}

static const struct store_ops azure_ops = {
	"azure", az_put_open, obj_close, az_del, obj_sweep, az_free, NULL,
};

/* ---- s3 ---- */

static void
s3_writable(struct s3_put *p, void *arg)
{
	(void)p;
	obj_writable(arg);
}

static void
s3_done(struct s3_put *p, bool ok, const char *err, void *arg)
{
	(void)p;
	obj_done(arg, ok, err);
}

static size_t
s3_w(void *put, const void *p, size_t n)
{
	return s3_put_write(put, p, n);
}

static void
s3_f(void *put)
{
	s3_put_finish(put);
}

static void
s3_a(void *put)
{
	s3_put_abort(put);
}

static int
s3_put_open(struct store *st, const char *path, int64_t hint,
    const struct pl_sink_ops **ops, void **sink, char *err, size_t errlen)
{
	static const struct s3_put_cb cb = { s3_writable, s3_done };
	struct obj_sink *k = xcalloc(1, sizeof(*k));

	(void)err;
	(void)errlen;
	k->write = s3_w;
	k->finish = s3_f;
	k->abort = s3_a;
	k->put = s3_put_new(st->s3, path, hint, &cb, k);
	*ops = &obj_sink_ops;
	*sink = k;
	return 0;
}

static void
s3_del(struct store *st, const char *path, store_done_fn cb, void *arg)
{
	struct obj_del *x = xcalloc(1, sizeof(*x));

	x->cb = cb;
	x->arg = arg;
	s3_delete(st->s3, path, obj_deleted, x);
}

static void
s3_free(struct store *st)
{
	s3_client_free(st->s3);
}

static size_t
s3_busy(const struct store *st)
{
	return s3_client_pending(st->s3);
}

static const struct store_ops s3_ops = {
	"s3", s3_put_open, obj_close, s3_del, obj_sweep, s3_free, s3_busy,
};

/* ---- gcs ---- */

static void
gcs_writable(struct gcs_put *p, void *arg)
{
	(void)p;
	obj_writable(arg);
}

static void
gcs_done(struct gcs_put *p, bool ok, const char *err, void *arg)
{
	(void)p;
	obj_done(arg, ok, err);
}

static size_t
gcs_w(void *put, const void *p, size_t n)
{
	return gcs_put_write(put, p, n);
}

static void
gcs_f(void *put)
{
	gcs_put_finish(put);
}

static void
gcs_a(void *put)
{
	gcs_put_abort(put);
}

static int
gcs_put_open(struct store *st, const char *path, int64_t hint,
    const struct pl_sink_ops **ops, void **sink, char *err, size_t errlen)
{
	static const struct gcs_put_cb cb = { gcs_writable, gcs_done };
	struct obj_sink *k = xcalloc(1, sizeof(*k));

	k->write = gcs_w;
	k->finish = gcs_f;
	k->abort = gcs_a;
	k->put = gcs_put_new(st->gcs, path, hint, &cb, k);
	if (k->put == NULL) {
		snprintf(err, errlen, "cannot start an upload of %s", path);
		free(k);
		return -1;
	}
	*ops = &obj_sink_ops;
	*sink = k;
	return 0;
}

static void
gcs_del(struct store *st, const char *path, store_done_fn cb, void *arg)
{
	struct obj_del *x = xcalloc(1, sizeof(*x));

	x->cb = cb;
	x->arg = arg;
	if (gcs_delete(st->gcs, path, obj_deleted, x) == NULL) {
		free(x);
		cb(false, "cannot start the delete", arg);
	}
}

static void
gcs_free_(struct store *st)
{
	gcs_client_free(st->gcs);
}

static size_t
gcs_busy_(const struct store *st)
{
	return gcs_client_busy(st->gcs);
}

static const struct store_ops gcs_ops = {
	"gcs", gcs_put_open, obj_close, gcs_del, obj_sweep, gcs_free_,
	gcs_busy_,
};

/* ---- the interface ---- */

bool
store_supported(enum api_storage_type type)
{
	return type == API_STORAGE_PVC || type == API_STORAGE_AZURE ||
	    type == API_STORAGE_S3 || type == API_STORAGE_GCS;
}

const char *
store_secret_name(const struct api_storage *s)
{
	switch (s->type) {
	case API_STORAGE_AZURE:
		return s->azure.secret.name;
	case API_STORAGE_S3:
		return s->s3.secret.name;
	case API_STORAGE_GCS:
		return s->gcs.secret.name;
	default:
		return NULL;
	}
}

struct store *
store_new(struct curlev *m, const struct api_storage *s,
    const char *volume_root, store_secret_fn get, void *arg, char *err,
    size_t errlen)
{
	struct store *st;

	if (s->type == API_STORAGE_PVC) {
		st = xcalloc(1, sizeof(*st));
		st->ops = &pvc_ops;
		st->root = xstrdup(volume_root ? volume_root :
		    VOLUME_ROOT_DEFAULT);
		st->claim = xstrdup(s->pvc.claim_name ? s->pvc.claim_name :
		    "");
		return st;
	}
	if (s->type == API_STORAGE_AZURE) {
		struct azblob_creds cr;
		struct azblob_config cfg;
		char e2[256];

		if (azblob_creds_resolve(&cr, s->azure.storage_account, NULL,
		    get, arg, e2, sizeof(e2)) < 0) {
			snprintf(err, errlen, "spec.storage.azure.secretRef: %s",
			    e2);
			return NULL;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.endpoint = cr.endpoint;
		cfg.account = cr.account;
		cfg.account_key = cr.account_key;
		cfg.sas = cr.sas;
		cfg.container = s->azure.container;
		st = xcalloc(1, sizeof(*st));
		st->ops = &azure_ops;
		st->az = azblob_client_new(m, &cfg, e2, sizeof(e2));
		azblob_creds_release(&cr);
		if (st->az == NULL) {
			snprintf(err, errlen, "spec.storage.azure: %s", e2);
			free(st);
			return NULL;
		}
		return st;
	}
	if (s->type == API_STORAGE_S3) {
		struct s3_config cfg;
		const char *ak = s->s3.secret.access_key && *s->s3.secret.access_key ?
		    s->s3.secret.access_key : "AWS_ACCESS_KEY_ID";
		const char *sk = s->s3.secret.secret_key && *s->s3.secret.secret_key ?
		    s->s3.secret.secret_key : "AWS_SECRET_ACCESS_KEY";
		char e2[256];

		memset(&cfg, 0, sizeof(cfg));
		cfg.region = s->s3.region;
		cfg.endpoint = s->s3.endpoint;
		cfg.style = s->s3.force_path_style ? S3_STYLE_PATH :
		    S3_STYLE_AUTO;
		cfg.bucket = s->s3.bucket;
		cfg.access_key_id = get(ak, arg);
		cfg.secret_key = get(sk, arg);
		cfg.session_token = get("AWS_SESSION_TOKEN", arg);
		if (cfg.access_key_id == NULL || cfg.secret_key == NULL) {
			snprintf(err, errlen, "spec.storage.s3.secretRef: key %s "
			    "not found", cfg.access_key_id ? sk : ak);
			return NULL;
		}
		st = xcalloc(1, sizeof(*st));
		st->ops = &s3_ops;
		st->s3 = s3_client_new(m, &cfg, e2, sizeof(e2));
		if (st->s3 == NULL) {
			snprintf(err, errlen, "spec.storage.s3: %s", e2);
			free(st);
			return NULL;
		}
		return st;
	}
	if (s->type == API_STORAGE_GCS) {
		struct gcs_config cfg;
		const char *json = get(s->gcs.secret.key ? s->gcs.secret.key :
		    "", arg);
		char e2[256];

		if (json == NULL) {
			snprintf(err, errlen, "spec.storage.gcs.secretRef: key "
			    "%s not found", s->gcs.secret.key ?
			    s->gcs.secret.key : "");
			return NULL;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.bucket = s->gcs.bucket;
		cfg.sa_json = json;
		cfg.sa_json_len = strlen(json);
		st = xcalloc(1, sizeof(*st));
		st->ops = &gcs_ops;
		st->gcs = gcs_client_new(m, &cfg, e2, sizeof(e2));
		if (st->gcs == NULL) {
			snprintf(err, errlen, "spec.storage.gcs: %s", e2);
			free(st);
			return NULL;
		}
		return st;
	}
	snprintf(err, errlen, "spec.storage.type: %s storage is not supported",
	    api_storage_type_names[s->type] ? api_storage_type_names[s->type] :
	    "?");
	return NULL;
}

void
store_free(struct store *st)
{
	if (st == NULL)
		return;
	st->ops->free(st);
	free(st->root);
	free(st->claim);
	free(st);
}

static struct store *dead;
static ev_timer reaper;

#define STORE_DRAIN_MAX	120.0	/* s an abort may take on the server */

/* Frees the dead stores whose clients have nothing left to do (an
 * upload's abort on the server must not be cut off: it is what keeps an
 * unfinished upload from being billed), and looks again later. */
static void
reap(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct store **pp = &dead, *st;
	double now = ev_now(loop);

	(void)revents;
	while ((st = *pp) != NULL) {
		if (st->ops->busy && st->ops->busy(st) > 0 &&
		    now - st->dead_since < STORE_DRAIN_MAX) {
			pp = &st->next_dead;
			continue;
		}
		*pp = st->next_dead;
		store_free(st);
	}
	if (dead != NULL) {
		ev_timer_set(w, 0.5, 0.);
		ev_timer_start(loop, w);
	}
}

void
store_free_later(struct ev_loop *loop, struct store *st)
{
	if (st == NULL)
		return;
	st->dead_since = ev_now(loop);
	st->next_dead = dead;
	dead = st;
	if (!ev_is_active(&reaper)) {
		ev_timer_init(&reaper, reap, 0., 0.);
		ev_timer_start(loop, &reaper);
	}
}

int
store_put_open(struct store *st, const char *path, int64_t size_hint,
    const struct pl_sink_ops **ops, void **sink, char *err, size_t errlen)
{
	return st->ops->put_open(st, path, size_hint, ops, sink, err, errlen);
}

void
store_put_close(struct store *st, void *sink)
{
	st->ops->put_close(st, sink);
}

void
store_delete(struct store *st, const char *path, store_done_fn cb, void *arg)
{
	st->ops->del(st, path, cb, arg);
}

void
store_sweep(struct store *st, const char *path)
{
	st->ops->sweep(st, path);
}
