/*
 * kwatch - test driver for the Kubernetes client: runs one informer and
 * prints what its handlers see, one line each, or performs a
 * read-modify-write with conflict retries.
 *
 *   kwatch --kubeconfig F --group-path P --resource R [--namespace NS]
 *          [--page-size N] [--idle-timeout S] [--watch-timeout S]
 *     ADD ns/name rv | UPDATE ns/name oldrv newrv | DELETE ns/name rv
 *     SYNCED n
 *     on SIGTERM: STATS lists=.. watches=.. relists410=.. bookmarks=.. events=..
 *
 *   kwatch --kubeconfig F --group-path P --resource R --namespace NS
 *          --annotate NAME KEY=VALUE
 *     GET, then PUT with the annotation and the resourceVersion just read;
 *     on 409 read again and retry (up to 5 times). Prints
 *     "UPDATED attempts=N rv=RV" or "FAILED <error>"; exit 0 / 1.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <ev.h>

#include "informer.h"
#include "json.h"
#include "kclient.h"
#include "kconfig.h"
#include "khttp.h"
#include "kwrite.h"
#include "log.h"

static struct informer *inf;
static struct khttp *http;
static int exit_code;

static void
on_add(const struct kobj *o, void *arg)
{
	(void)arg;
	printf("ADD %s/%s %s\n", o->namespace, o->name, o->resource_version);
	fflush(stdout);
}

static void
on_update(const struct kobj *old, const struct kobj *o, void *arg)
{
	(void)arg;
	printf("UPDATE %s/%s %s %s\n", o->namespace, o->name,
	    old->resource_version, o->resource_version);
	fflush(stdout);
}

static void
on_delete(const struct kobj *o, void *arg)
{
	(void)arg;
	printf("DELETE %s/%s %s\n", o->namespace, o->name, o->resource_version);
	fflush(stdout);
}

static void
on_synced(void *arg)
{
	(void)arg;
	printf("SYNCED %zu\n", informer_count(inf));
	fflush(stdout);
}

static void
sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	const struct informer_stats *st;

	(void)w;
	(void)revents;
	if (inf) {
		st = informer_stats(inf);
		printf("STATS lists=%llu watches=%llu relists410=%llu bookmarks=%llu "
		    "events=%llu watch_errors=%llu count=%zu\n", st->lists,
		    st->watches, st->relists_410, st->bookmarks, st->events,
		    st->watch_errors, informer_count(inf));
		fflush(stdout);
		informer_stop(inf);
	}
	ev_break(loop, EVBREAK_ALL);
}

/* ---- read-modify-write ------------------------------------------------- */

struct rmw {
	struct kres res;
	const char *ns, *name, *key, *value;
	int attempts;
};

static void rmw_get(struct rmw *w);

static void
rmw_put_done(struct kreq *r, void *arg)
{
	struct rmw *w = arg;
	char err[300];

	switch (kwrite_classify(r)) {
	case KW_OK: {
		yajl_val v = json_parse(r->body.data, r->body.len, NULL, 0);
		printf("UPDATED attempts=%d rv=%s\n", w->attempts,
		    json_gets(v, "metadata.resourceVersion"));
		json_free(v);
		ev_break(khttp_loop(http), EVBREAK_ALL);
		return;
	}
	case KW_CONFLICT:
		if (w->attempts < 5) {
			rmw_get(w);
			return;
		}
		/* fall through */
	default:
		kwrite_error_text(r, err, sizeof(err));
		printf("FAILED %s\n", err);
		exit_code = 1;
		ev_break(khttp_loop(http), EVBREAK_ALL);
	}
}

static void
rmw_get_done(struct kreq *r, void *arg)
{
	struct rmw *w = arg;
	yajl_val v, md;
	struct jw out;
	size_t i;
	char *body;
	char err[300];

	if (kwrite_classify(r) != KW_OK) {
		kwrite_error_text(r, err, sizeof(err));
		printf("FAILED %s\n", err);
		exit_code = 1;
		ev_break(khttp_loop(http), EVBREAK_ALL);
		return;
	}
	v = json_parse(r->body.data, r->body.len, NULL, 0);
	/* Rewrite the object with the annotation set; everything else as
	 * read, including metadata.resourceVersion (the precondition). */
	jw_init(&out);
	jw_obj_open(&out);
	for (i = 0; i < json_len(v); i++) {
		const char *k = json_key_at(v, i);

		if (strcmp(k, "metadata") != 0) {
			jw_key(&out, k);
			jw_value(&out, json_val_at(v, i));
			continue;
		}
		md = json_val_at(v, i);
		jw_key(&out, "metadata");
		jw_obj_open(&out);
		for (size_t j = 0; j < json_len(md); j++) {
			if (strcmp(json_key_at(md, j), "annotations") == 0)
				continue;
			jw_key(&out, json_key_at(md, j));
			jw_value(&out, json_val_at(md, j));
		}
		jw_key(&out, "annotations");
		jw_obj_open(&out);
		{
			yajl_val an = json_get(md, "annotations", NULL);
			for (size_t j = 0; j < json_len(an); j++) {
				if (strcmp(json_key_at(an, j), w->key) == 0)
					continue;
				jw_key(&out, json_key_at(an, j));
				jw_value(&out, json_val_at(an, j));
			}
		}
		jw_kstr(&out, w->key, w->value);
		jw_obj_close(&out);
		jw_obj_close(&out);
	}
	jw_obj_close(&out);
	body = jw_finish(&out, NULL);
	json_free(v);
	w->attempts++;
	kobj_update(http, &w->res, w->ns, w->name, NULL, body, rmw_put_done, w);
	free(body);
}

static void
rmw_get(struct rmw *w)
{
	kobj_get(http, &w->res, w->ns, w->name, rmw_get_done, w);
}

int
main(int argc, char **argv)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct kconfig kc;
	struct informer_config ic;
	struct informer_ops ops;
	ev_signal sterm, sint;
	const char *kubeconfig = NULL, *annotate = NULL, *kv = NULL;
	char err[512];
	int i;

	memset(&ic, 0, sizeof(ic));
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL) {
			fprintf(stderr, "kwatch: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--kubeconfig") == 0)
			kubeconfig = v;
		else if (strcmp(a, "--group-path") == 0)
			ic.group_path = v;
		else if (strcmp(a, "--resource") == 0)
			ic.resource = v;
		else if (strcmp(a, "--namespace") == 0)
			ic.namespace = v;
		else if (strcmp(a, "--label-selector") == 0)
			ic.label_selector = v;
		else if (strcmp(a, "--page-size") == 0)
			ic.page_size = (unsigned)atoi(v);
		else if (strcmp(a, "--idle-timeout") == 0)
			ic.idle_timeout = atof(v);
		else if (strcmp(a, "--watch-timeout") == 0)
			ic.watch_timeout_min = (unsigned)atoi(v);
		else if (strcmp(a, "--log-level") == 0) {
			enum log_level l;
			if (log_level_parse(v, &l) == 0)
				log_set_level(l);
		} else if (strcmp(a, "--annotate") == 0) {
			annotate = v;
			if (i + 2 >= argc)
				return 2;
			kv = argv[i + 2];
			i++;
		} else {
			fprintf(stderr, "kwatch: unknown argument %s\n", a);
			return 2;
		}
		i++;
	}
	if (ic.group_path == NULL || ic.resource == NULL) {
		fprintf(stderr, "kwatch: --group-path and --resource are required\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	kconfig_init(&kc);
	if (kconfig_load(&kc, kubeconfig, NULL, err, sizeof(err)) < 0) {
		printf("FAILED %s\n", err);
		return 1;
	}
	http = kclient_new(loop, &kc, err, sizeof(err));
	if (http == NULL) {
		printf("FAILED %s\n", err);
		return 1;
	}
	if (annotate) {
		static struct rmw w;
		const char *eq = strchr(kv, '=');

		if (eq == NULL)
			return 2;
		w.res.group_path = ic.group_path;
		w.res.resource = ic.resource;
		w.res.namespaced = true;
		w.ns = ic.namespace;
		w.name = annotate;
		w.key = xstrndup(kv, (size_t)(eq - kv));
		w.value = eq + 1;
		rmw_get(&w);
		ev_run(loop, 0);
		free((char *)w.key);
	} else {
		memset(&ops, 0, sizeof(ops));
		ops.on_add = on_add;
		ops.on_update = on_update;
		ops.on_delete = on_delete;
		ops.on_synced = on_synced;
		ic.name = ic.resource;
		inf = informer_new(http, &ic, &ops, NULL);
		ev_signal_init(&sterm, sig_cb, SIGTERM);
		ev_signal_init(&sint, sig_cb, SIGINT);
		ev_signal_start(loop, &sterm);
		ev_signal_start(loop, &sint);
		informer_start(inf);
		ev_run(loop, 0);
		informer_free(inf);
		ev_signal_stop(loop, &sterm);
		ev_signal_stop(loop, &sint);
	}
	khttp_free(http);
	kconfig_release(&kc);
	curl_global_cleanup();
	ev_loop_destroy(loop);
	return exit_code;
}
