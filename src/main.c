/*
 * main.c - dbprovd: parse options, build the context, run the loop.
 */
#include "config.h"

#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <ev.h>

#include "controllers.h"
#include "events.h"
#include "kclient.h"
#include "kconfig.h"
#include "khttp.h"
#include "lease.h"
#include "log.h"
#include "mgr.h"
#include "obs.h"
#include "options.h"

struct dbprovd {
	struct ev_loop *loop;
	struct options opts;
	struct kconfig kcfg;
	struct khttp *http;
	struct lease *lease;
	struct events *events;
	struct mgr *mgr;
	struct obs *obs;	/* /metrics, /healthz, /readyz */
	ev_signal sigterm;
	ev_signal sigint;
	ev_timer deadline;	/* hard stop if shutdown hangs */
	ev_timer trim;		/* returns freed heap pages to the system */
	bool stopping;
	int exit_code;
};

/*
 * A relist, a burst of reconciles or a large response leaves freed memory
 * spread over the heap, where free() cannot give it back; glibc's
 * malloc_trim() returns the whole free pages inside it too. It walks the
 * heap (a few MiB), so it runs once a minute, on the loop.
 */
#ifdef HAVE_MALLOC_TRIM
#define TRIM_INTERVAL	60.0

static void
trim_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	malloc_trim(0);
}
#endif

static void
finish(struct dbprovd *d)
{
	log_info("shutdown complete");
	ev_break(d->loop, EVBREAK_ALL);
}

static void
lease_released(void *arg)
{
	finish(arg);
}

static void
events_drained(void *arg)
{
	struct dbprovd *d = arg;

	if (d->lease)
		lease_release(d->lease, lease_released, d);
	else
		finish(d);
}

static void
mgr_stopped(void *arg)
{
	struct dbprovd *d = arg;

	/* Deliver the events of the last reconciles, briefly. */
	events_drain(d->events, 1.0, events_drained, d);
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	log_warn("shutdown took too long, exiting anyway");
	ev_break(loop, EVBREAK_ALL);
}

/* Stops taking new work, lets in-flight work finish (or aborts it at the
 * deadline), releases the lease and leaves the loop. */
static void
shutdown_begin(struct dbprovd *d, int code)
{
	if (d->stopping)
		return;
	d->stopping = true;
	d->exit_code = code;
	obs_shutting_down(d->obs);
	ev_timer_init(&d->deadline, deadline_cb, d->opts.shutdown_timeout + 1.5, 0.);
	ev_timer_start(d->loop, &d->deadline);
	if (mgr_running(d->mgr))
		mgr_stop(d->mgr, d->opts.shutdown_timeout, mgr_stopped, d);
	else
		mgr_stopped(d);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct dbprovd *d = ev_userdata(loop);

	(void)revents;
	log_info("signal received, shutting down", "signal",
	    w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
	shutdown_begin(d, 0);
}

static void
started_leading(void *arg)
{
	struct dbprovd *d = arg;

	log_info("started leading", "identity", lease_identity(d->lease));
	if (!d->stopping)
		mgr_start(d->mgr);
}

static void
stopped_leading(void *arg)
{
	struct dbprovd *d = arg;

	if (d->stopping)
		return;
	/* Another replica may already act on our objects: stop at once and
	 * let the supervisor restart us as a candidate. */
	log_error("leadership lost, exiting", "identity", lease_identity(d->lease));
	shutdown_begin(d, 1);
}

static int
setup_client(struct dbprovd *d)
{
	char err[512];

	if (kconfig_load(&d->kcfg, d->opts.kubeconfig, d->opts.context, err,
	    sizeof(err)) < 0) {
		log_error("cannot load Kubernetes credentials", "error", err);
		return -1;
	}
	d->http = kclient_new(d->loop, &d->kcfg, err, sizeof(err));
	if (d->http == NULL) {
		log_error("cannot set up the API client", "error", err);
		return -1;
	}
	log_info("API server", "server", d->kcfg.server, "config",
	    d->kcfg.origin, "namespace",
	    d->opts.namespace ? d->opts.namespace : "(all)");
	return 0;
}

static int
setup_lease(struct dbprovd *d)
{
	struct lease_config lc;
	char err[256];

	lease_config_defaults(&lc);
	lc.namespace = d->opts.leader_election_namespace ?
	    d->opts.leader_election_namespace : d->kcfg.namespace;
	lc.name = d->opts.leader_election_id;
	lc.on_started_leading = started_leading;
	lc.on_stopped_leading = stopped_leading;
	lc.arg = d;
	d->lease = lease_new(d->http, &lc, err, sizeof(err));
	if (d->lease == NULL) {
		log_error("cannot set up leader election", "error", err);
		return -1;
	}
	log_info("waiting for leadership", "lease", lc.name, "namespace",
	    lc.namespace, "identity", lease_identity(d->lease));
	return 0;
}

/*
 * libcurl on Debian links librtmp, which links GnuTLS, whose library
 * constructor initialises itself (and p11-kit) at load time although
 * dbprovd never uses it (curl is restricted to HTTP/HTTPS over OpenSSL).
 * That costs about 0.7 MiB of resident memory for nothing. GnuTLS skips
 * the implicit initialisation when GNUTLS_NO_IMPLICIT_INIT is set before
 * the process starts, so set it and re-execute once.
 */
static void
reexec_without_gnutls_init(char **argv)
{
	if (getenv("GNUTLS_NO_IMPLICIT_INIT") != NULL ||
	    getenv("DBPROVD_NO_REEXEC") != NULL)
		return;
	char path[PATH_MAX];
	ssize_t n;

	if (setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 1) < 0)
		return;
	/* By its real path, not /proc/self/exe: the kernel names the
	 * process after the file executed, and ps, top and pkill should see
	 * "dbprovd", not "exe". */
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n > 0 && path[0] == '/') {
		path[n] = '\0';
		execv(path, argv);
	}
	execv("/proc/self/exe", argv);
	/* Not fatal: run with the library initialised. */
}

int
main(int argc, char **argv)
{
	struct dbprovd d;
	struct mgr_config mc;
	char err[256];

	reexec_without_gnutls_init(argv);
	memset(&d, 0, sizeof(d));
	kconfig_init(&d.kcfg);
	if (options_parse(&d.opts, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "dbprovd: %s\n", err);
		options_release(&d.opts);
		return 2;
	}
	if (d.opts.help) {
		options_usage(stdout);
		options_release(&d.opts);
		return 0;
	}
	if (d.opts.version) {
		printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		options_release(&d.opts);
		return 0;
	}
	log_set_level(d.opts.log_level);
	signal(SIGPIPE, SIG_IGN);
	/* OpenSSL's error-string tables cost about 1 MiB of resident memory
	 * and are only used to print reason codes as words; curl's TLS
	 * messages (certificate problems) do not need them. Must come before
	 * curl initialises OpenSSL. */
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("curl_global_init failed");
		return 1;
	}
	d.loop = ev_default_loop(EVFLAG_AUTO);
	ev_set_userdata(d.loop, &d);
	log_info("starting", "version", PACKAGE_VERSION);
	d.obs = obs_new(d.loop, &d.opts, err, sizeof(err));
	if (d.obs == NULL) {
		log_error("cannot serve metrics and probes", "error", err);
		d.exit_code = 1;
		goto out;
	}

	if (setup_client(&d) < 0) {
		d.exit_code = 1;
		goto out;
	}
	memset(&mc, 0, sizeof(mc));
	mc.namespace = d.opts.namespace;
	mc.max_concurrent = d.opts.max_concurrent_reconciles;
	mc.resync_period = d.opts.resync_period;
	{
		struct events_config ec;

		events_config_defaults(&ec);
		ec.component = PACKAGE_NAME;
		ec.instance = getenv("POD_NAME");
		d.events = events_new(d.http, &ec);
	}
	d.mgr = mgr_new(d.loop, d.http, &mc);
	controllers_register(d.mgr, d.events,
	    d.opts.max_connections_per_instance);
	ctrl_backup_configure(d.opts.backup_volume_root);

	ev_signal_init(&d.sigterm, signal_cb, SIGTERM);
	ev_signal_init(&d.sigint, signal_cb, SIGINT);
	ev_signal_start(d.loop, &d.sigterm);
	ev_signal_start(d.loop, &d.sigint);

	if (d.opts.leader_elect) {
		if (setup_lease(&d) < 0) {
			d.exit_code = 1;
			goto out;
		}
		lease_start(d.lease);
	} else {
		mgr_start(d.mgr);
	}
	obs_attach(d.obs, d.mgr, d.http, d.kcfg.server, d.lease, d.events);
	obs_start(d.obs);
#ifdef HAVE_MALLOC_TRIM
	ev_timer_init(&d.trim, trim_cb, TRIM_INTERVAL, TRIM_INTERVAL);
	ev_timer_start(d.loop, &d.trim);
	ev_unref(d.loop);	/* never what keeps the loop alive */
#endif
	ev_run(d.loop, 0);
out:
	obs_free(d.obs);
	if (d.lease)
		lease_free(d.lease);
	if (d.mgr)
		mgr_free(d.mgr);
	if (d.events)
		events_free(d.events);
	khttp_free(d.http);
	kconfig_release(&d.kcfg);
	if (d.loop) {
		ev_signal_stop(d.loop, &d.sigterm);
		ev_signal_stop(d.loop, &d.sigint);
		ev_timer_stop(d.loop, &d.deadline);
#ifdef HAVE_MALLOC_TRIM
		if (ev_is_active(&d.trim)) {
			ev_ref(d.loop);
			ev_timer_stop(d.loop, &d.trim);
		}
#endif
	}
	options_release(&d.opts);
	curl_global_cleanup();
	return d.exit_code;
}
