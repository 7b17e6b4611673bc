/*
 * obs.c - listeners, probes, collectors and hooks (see obs.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "controllers.h"
#include "events.h"
#include "httpd.h"
#include "informer.h"
#include "khttp.h"
#include "lease.h"
#include "log.h"
#include "metrics.h"
#include "metricsauth.h"
#include "mgr.h"
#include "obs.h"
#include "options.h"

/* A standby is ready while the API server answered within this window:
 * the elector reads the Lease every retry period (2 s). */
#define OBS_STANDBY_WINDOW	30.0
#define OBS_WANT_FDS		16384	/* two listeners at their cap, and more */

struct obs {
	struct ev_loop *loop;
	struct httpd *metrics;
	struct httpd *health;
	struct metricsauth *auth;	/* --metrics-secure, else NULL */
	struct mgr *mgr;
	struct khttp *http;
	struct lease *lease;
	struct events *events;
	char *api_host;
	char *lease_name;
	unsigned max_concurrent;
	bool stopping;
	double last_api_answer;		/* ev_now() of the last API response */
	struct metric *m_build, *m_leader;
	struct metric *m_inf_lists, *m_inf_watches, *m_inf_relists,
	    *m_inf_errors, *m_inf_events, *m_inf_objects, *m_inf_synced;
	struct metric *m_events;
	struct metric *m_http_requests, *m_http_bad, *m_http_open,
	    *m_http_refused, *m_http_timeouts, *m_http_tls_reloads;
};

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define V(...) ((const char *const[]){ __VA_ARGS__ })

/* ---- probes ---------------------------------------------------------------- */

/* NULL when ready, else why not (one line). */
static const char *
not_ready(struct obs *o, char *buf, size_t len)
{
	double now = ev_now(o->loop);

	if (o->stopping)
		return "shutting down";
	if (o->mgr == NULL)
		return "starting";
	if (o->lease && !lease_is_leader(o->lease)) {
		if (o->last_api_answer == 0)
			return "standing by: no answer from the API server yet";
		if (now - o->last_api_answer > OBS_STANDBY_WINDOW) {
			snprintf(buf, len, "standing by: no answer from the API server for %.0f s",
			    now - o->last_api_answer);
			return buf;
		}
		return NULL;
	}
	if (!mgr_synced(o->mgr))
		return "informers not synced";
	return NULL;
}

static void
probe_answer(const struct httpd_req *req, struct httpd_resp *resp,
    const char *check, const char *reason)
{
	bool verbose = req->query && strstr(req->query, "verbose") != NULL;
	int rc;

	if (reason) {
		resp->status = 503;
		if (verbose)
			rc = buf_printf(&resp->body, "[-]%s failed: %s\n%s check failed\n",
			    check, reason, check);
		else
			rc = buf_printf(&resp->body, "%s\n", reason);
	} else if (verbose) {
		rc = buf_printf(&resp->body, "[+]%s ok\n%s check passed\n", check,
		    check);
	} else {
		rc = buf_puts(&resp->body, "ok");
	}
	if (rc < 0)
		die_oom();
}

static void
healthz(const struct httpd_req *req, struct httpd_resp *resp, void *arg)
{
	(void)arg;
	/* Answering at all shows the loop is not stuck. */
	probe_answer(req, resp, "healthz", NULL);
}

static void
readyz(const struct httpd_req *req, struct httpd_resp *resp, void *arg)
{
	char buf[128];

	probe_answer(req, resp, "readyz", not_ready(arg, buf, sizeof(buf)));
}

static void
metrics_fill(struct httpd_resp *resp, void *arg)
{
	(void)arg;
	strlcpy0(resp->content_type, "text/plain; version=0.0.4; charset=utf-8",
	    sizeof(resp->content_type));
	if (metrics_render(metrics_default(), &resp->body) < 0) {
		buf_reset(&resp->body);
		resp->status = 500;
		strlcpy0(resp->content_type, "text/plain; charset=utf-8",
		    sizeof(resp->content_type));
		if (buf_puts(&resp->body, "metrics too large\n") < 0)
			die_oom();
		log_error("metrics page over its size cap");
	}
}

static void
metrics_page(const struct httpd_req *req, struct httpd_resp *resp, void *arg)
{
	(void)req;
	metrics_fill(resp, arg);
}

/* ---- collectors --------------------------------------------------------------- */

static void
count_resource(const char *kind, const char *phase, const char *ns, void *arg)
{
	(void)arg;
	metrics_resource_count_add(kind, phase, ns);
}

static void
collect_http(struct obs *o, struct httpd *s, const char *name)
{
	const struct httpd_stats *st;

	if (s == NULL)
		return;
	st = httpd_stats(s);
	metric_set(o->m_http_requests, V(name), (double)st->requests);
	metric_set(o->m_http_bad, V(name), (double)st->bad_requests);
	metric_set(o->m_http_open, V(name), (double)st->open);
	metric_set(o->m_http_refused, V(name), (double)st->refused);
	metric_set(o->m_http_timeouts, V(name), (double)st->timeouts);
	if (httpd_tls(s))
		metric_set(o->m_http_tls_reloads, V(name), (double)st->tls_reloads);
}

static void
collect(void *arg)
{
	struct obs *o = arg;
	size_t i;

	metrics_workqueue_collect(ev_now(o->loop));
	metrics_resource_count_reset();
	if (o->mgr) {
		const char *name;

		controllers_count(o->mgr, count_resource, NULL);
		for (i = 0; (name = mgr_controller_name(o->mgr, i)) != NULL; i++) {
			struct informer *inf = mgr_informer(o->mgr, name);
			const struct informer_stats *st;

			if (inf == NULL)
				continue;
			st = informer_stats(inf);
			metric_set(o->m_inf_lists, V(name), (double)st->lists);
			metric_set(o->m_inf_watches, V(name), (double)st->watches);
			metric_set(o->m_inf_relists, V(name), (double)st->relists_410);
			metric_set(o->m_inf_errors, V(name), (double)st->watch_errors);
			metric_set(o->m_inf_events, V(name), (double)st->events);
			metric_set(o->m_inf_objects, V(name), (double)informer_count(inf));
			metric_set(o->m_inf_synced, V(name), informer_synced(inf) ? 1 : 0);
		}
	}
	if (o->lease)
		metric_set(o->m_leader, V(o->lease_name),
		    lease_is_leader(o->lease) ? 1 : 0);
	if (o->events) {
		const struct events_stats *es = events_stats(o->events);

		metric_set(o->m_events, V("emitted"), (double)es->emitted);
		metric_set(o->m_events, V("filtered"), (double)es->filtered);
		metric_set(o->m_events, V("coalesced"), (double)es->coalesced);
		metric_set(o->m_events, V("dropped"), (double)es->dropped);
		metric_set(o->m_events, V("created"), (double)es->created);
		metric_set(o->m_events, V("patched"), (double)es->patched);
		metric_set(o->m_events, V("retried"), (double)es->retried);
		metric_set(o->m_events, V("failed"), (double)es->failed);
	}
	collect_http(o, o->metrics, "metrics");
	collect_http(o, o->health, "health");
}

static void
register_own(struct obs *o)
{
	struct metrics *r = metrics_default();

	o->m_build = metrics_register(r, METRIC_GAUGE, "dbprovd_build_info",
	    "Always 1; the version of dbprovd in a label.", L("version"), NULL, 0);
	metric_set(o->m_build, V(PACKAGE_VERSION), 1);
	o->m_leader = metrics_register(r, METRIC_GAUGE,
	    "leader_election_master_status",
	    "1 while this replica holds the leader Lease, else 0 (only with --leader-elect).",
	    L("name"), NULL, 0);
	o->m_inf_lists = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_informer_lists_total",
	    "Full list passes of an informer (the first one and every relist).",
	    L("name"), NULL, 0);
	o->m_inf_watches = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_informer_watches_total",
	    "Watch requests started by an informer (each one after the first is a restart).",
	    L("name"), NULL, 0);
	o->m_inf_relists = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_informer_relists_expired_total",
	    "Relists because the watch's resourceVersion expired (410 Gone).",
	    L("name"), NULL, 0);
	o->m_inf_errors = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_informer_watch_errors_total",
	    "Watches that ended with an error.", L("name"), NULL, 0);
	o->m_inf_events = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_informer_events_total",
	    "Watch events (ADDED, MODIFIED, DELETED) applied to the cache.",
	    L("name"), NULL, 0);
	o->m_inf_objects = metrics_register(r, METRIC_GAUGE,
	    "dbprovd_informer_objects", "Objects in the informer's cache.",
	    L("name"), NULL, 0);
	o->m_inf_synced = metrics_register(r, METRIC_GAUGE,
	    "dbprovd_informer_synced", "1 once the informer has listed once.",
	    L("name"), NULL, 0);
	o->m_events = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_events_total",
	    "Kubernetes Events by what happened to them in the recorder.",
	    L("result"), NULL, 0);
	o->m_http_requests = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_http_requests_total",
	    "Requests answered by the metrics and probe listeners.",
	    L("server"), NULL, 0);
	o->m_http_bad = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_http_bad_requests_total",
	    "Malformed or oversized requests refused.", L("server"), NULL, 0);
	o->m_http_open = metrics_register(r, METRIC_GAUGE,
	    "dbprovd_http_connections", "Open connections.", L("server"), NULL, 0);
	o->m_http_refused = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_http_connections_refused_total",
	    "Connections closed at once because the listener was at its cap.",
	    L("server"), NULL, 0);
	o->m_http_timeouts = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_http_timeouts_total",
	    "Connections closed because a client was too slow.", L("server"),
	    NULL, 0);
	o->m_http_tls_reloads = metrics_register(r, METRIC_COUNTER,
	    "dbprovd_http_tls_reloads_total",
	    "Certificate pairs reloaded after a change of the files.",
	    L("server"), NULL, 0);
	metrics_add_collector(r, collect, o);
}

/* ---- hooks ------------------------------------------------------------------------ */

static void
h_queued(void *arg, const char *ctrl, const char *ns, const char *name,
    double ready_at, double now)
{
	(void)arg;
	metrics_queue_add(ctrl, ns, name, ready_at, now);
}

static void
h_retried(void *arg, const char *ctrl)
{
	(void)arg;
	metrics_queue_retry(ctrl);
}

static void
h_started(void *arg, const char *ctrl, const char *ns, const char *name,
    double now)
{
	(void)arg;
	metrics_reconcile_start(ctrl, ns, name, now);
}

static void
h_finished(void *arg, const char *ctrl, const char *ns, const char *name,
    enum rresult res, double delay, double started, double now)
{
	const char *result = "success";

	(void)arg;
	if (res == RRESULT_FAILED)
		result = "error";
	else if (res == RRESULT_REQUEUE)
		result = delay > 0 ? "requeue_after" : "requeue";
	metrics_reconcile_end(ctrl, ns, name, result, started, now);
}

static void
h_request(void *arg, const char *method, long status, double seconds)
{
	struct obs *o = arg;

	if (status > 0)
		o->last_api_answer = ev_now(o->loop);
	metrics_rest_request(method, o->api_host, status, seconds);
}

/* ---- life cycle --------------------------------------------------------------------- */

/* Thousands of probe and scrape connections need descriptors: raise the
 * soft limit toward the hard one, as the Go runtime does. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= OBS_WANT_FDS)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > OBS_WANT_FDS ?
	    OBS_WANT_FDS : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_debug("cannot raise the file descriptor limit");
}

static struct httpd *
listen_on(struct ev_loop *loop, const char *what, const char *addr,
    const char *cert, const char *key, char *err, size_t errlen)
{
	struct httpd_config hc;
	struct httpd *s;
	char *host = NULL, e[384];
	int port = 0, rc;

	rc = options_split_address(addr, &host, &port);
	if (rc != 0) {
		free(host);
		if (rc < 0)
			snprintf(err, errlen, "invalid %s address \"%s\"", what, addr);
		return NULL;
	}
	memset(&hc, 0, sizeof(hc));
	hc.name = what;
	hc.host = host;
	hc.port = port;
	hc.tls_cert_file = cert;
	hc.tls_key_file = key;
	s = httpd_new(loop, &hc, e, sizeof(e));
	free(host);
	if (s == NULL)
		snprintf(err, errlen, "%s listener: %s", what, e);
	return s;
}

struct obs *
obs_new(struct ev_loop *loop, const struct options *opts, char *err,
    size_t errlen)
{
	struct obs *o = xcalloc(1, sizeof(*o));
	char *cert = NULL, *key = NULL;
	bool metrics_on = strcmp(opts->metrics_bind_address, "0") != 0 &&
	    *opts->metrics_bind_address != '\0';

	o->loop = loop;
	o->max_concurrent = opts->max_concurrent_reconciles;
	o->lease_name = xstrdup(opts->leader_election_id ?
	    opts->leader_election_id : DBP_LEADER_ELECTION_ID);
	raise_fd_limit();
	metrics_init();
	register_own(o);

	if (opts->metrics_cert_path) {
		cert = xasprintf("%s/%s", opts->metrics_cert_path, opts->metrics_cert_name);
		key = xasprintf("%s/%s", opts->metrics_cert_path, opts->metrics_cert_key);
	}
	if (metrics_on) {
		o->metrics = listen_on(loop, "metrics", opts->metrics_bind_address,
		    cert, key, err, errlen);
		if (o->metrics == NULL)
			goto fail;
		if (opts->metrics_secure) {
			/* Bearer token, TokenReview, SubjectAccessReview. */
			o->auth = metricsauth_new(loop, "/metrics", metrics_fill, o);
			httpd_route(o->metrics, "/metrics", metricsauth_handler,
			    o->auth);
			if (cert == NULL)
				log_warn("--metrics-secure without --metrics-cert-path: /metrics is served over plain HTTP, so the bearer tokens of clients cross the network unencrypted");
		} else {
			httpd_route(o->metrics, "/metrics", metrics_page, o);
		}
	} else if (cert) {
		log_warn("--metrics-cert-path is ignored: the metrics listener is off");
	}
	o->health = listen_on(loop, "health", opts->health_probe_bind_address,
	    NULL, NULL, err, errlen);
	if (o->health == NULL && strcmp(opts->health_probe_bind_address, "0") != 0 &&
	    *opts->health_probe_bind_address != '\0')
		goto fail;
	if (o->health) {
		httpd_route(o->health, "/healthz", healthz, o);
		httpd_route(o->health, "/healthz/healthz", healthz, o);
		httpd_route(o->health, "/readyz", readyz, o);
		httpd_route(o->health, "/readyz/readyz", readyz, o);
	}
	free(cert);
	free(key);
	return o;
fail:
	free(cert);
	free(key);
	obs_free(o);
	return NULL;
}

static char *
host_of(const char *url)
{
	const char *p = strstr(url, "://");
	size_t n;

	p = p ? p + 3 : url;
	n = strcspn(p, "/?#");
	return xstrndup(p, n);
}

void
obs_attach(struct obs *o, struct mgr *m, struct khttp *http,
    const char *api_server, struct lease *lease, struct events *ev)
{
	o->mgr = m;
	o->http = http;
	o->lease = lease;
	o->events = ev;
	free(o->api_host);
	o->api_host = host_of(api_server ? api_server : "");
	if (m) {
		struct mgr_hooks h;
		const char *name;
		size_t i;

		memset(&h, 0, sizeof(h));
		h.queued = h_queued;
		h.retried = h_retried;
		h.started = h_started;
		h.finished = h_finished;
		h.arg = o;
		mgr_set_hooks(m, &h);
		for (i = 0; (name = mgr_controller_name(m, i)) != NULL; i++)
			metrics_controller(name, o->max_concurrent);
	}
	if (http)
		khttp_set_observer(http, h_request, o);
	if (o->auth)
		metricsauth_set_client(o->auth, http);
}

void
obs_start(struct obs *o)
{
	char port[16];

	if (o->metrics) {
		httpd_start(o->metrics);
		snprintf(port, sizeof(port), "%d", httpd_port(o->metrics));
		log_info("serving metrics", "port", port, "scheme",
		    httpd_tls(o->metrics) ? "https" : "http", "path", "/metrics");
	}
	if (o->health) {
		httpd_start(o->health);
		snprintf(port, sizeof(port), "%d", httpd_port(o->health));
		log_info("serving probes", "port", port, "paths", "/healthz /readyz");
	}
}

void
obs_shutting_down(struct obs *o)
{
	if (o)
		o->stopping = true;
}

void
obs_free(struct obs *o)
{
	if (o == NULL)
		return;
	if (o->mgr)
		mgr_set_hooks(o->mgr, NULL);
	if (o->http)
		khttp_set_observer(o->http, NULL, NULL);
	httpd_free(o->metrics);		/* cancels the checks in flight */
	metricsauth_free(o->auth);
	httpd_free(o->health);
	metrics_shutdown();
	free(o->api_host);
	free(o->lease_name);
	free(o);
}

int
obs_metrics_port(const struct obs *o)
{
	return o && o->metrics ? httpd_port(o->metrics) : 0;
}

int
obs_health_port(const struct obs *o)
{
	return o && o->health ? httpd_port(o->health) : 0;
}
