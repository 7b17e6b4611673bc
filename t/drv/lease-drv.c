/*
 * lease-drv - runs one leader-election candidate against an API server and
 * reports its transitions on stdout, one line each:
 *
 *   LEADING <identity>     became leader
 *   STOPPED <identity>     leadership lost or given up
 *   RELEASED               after SIGTERM/SIGINT: the release write ended
 *
 * Used by t/integ/lease.t. Run without arguments it prints a TAP skip, so
 * the test harness may run it as a test program.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <ev.h>

#include "khttp.h"
#include "lease.h"
#include "log.h"

struct drv {
	struct ev_loop *loop;
	struct lease *le;
	ev_signal sigterm;
	ev_signal sigint;
	char *token;
	int exit_code;
};

static const char *
drv_token(void *arg, double now)
{
	struct drv *d = arg;

	(void)now;
	return d->token;
}

static void
say(const char *what, const char *who)
{
	if (who)
		printf("%s %s\n", what, who);
	else
		printf("%s\n", what);
	fflush(stdout);
}

static void
on_started(void *arg)
{
	struct drv *d = arg;

	say("LEADING", lease_identity(d->le));
}

static void
on_stopped(void *arg)
{
	struct drv *d = arg;

	say("STOPPED", lease_identity(d->le));
}

static void
on_released(void *arg)
{
	struct drv *d = arg;

	say("RELEASED", NULL);
	ev_break(d->loop, EVBREAK_ALL);
}

static void
on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct drv *d = w->data;

	(void)loop;
	(void)revents;
	ev_signal_stop(d->loop, &d->sigterm);
	ev_signal_stop(d->loop, &d->sigint);
	lease_release(d->le, on_released, d);
}

static void
usage(void)
{
	fprintf(stderr, "usage: lease-drv --server URL [--token T | --token-file F]\n"
	    "    [--insecure | --cacert F] [--namespace NS] [--name N]\n"
	    "    [--identity ID] [--duration-ms MS] [--renew-ms MS] [--retry-ms MS]\n"
	    "    [--jitter X] [--release-timeout-ms MS] [--log-level L]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "token", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "cacert", required_argument, NULL, 'c' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "name", required_argument, NULL, 'N' },
		{ "identity", required_argument, NULL, 'i' },
		{ "duration-ms", required_argument, NULL, 'd' },
		{ "renew-ms", required_argument, NULL, 'r' },
		{ "retry-ms", required_argument, NULL, 'p' },
		{ "jitter", required_argument, NULL, 'j' },
		{ "release-timeout-ms", required_argument, NULL, 'R' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct khttp_config hc;
	struct lease_config lc;
	struct drv d;
	struct khttp *http;
	enum log_level lvl;
	char err[256];
	int c;

	if (argc == 1) {
		/* Run as a test program by the harness: nothing to do alone. */
		printf("1..0 # SKIP driver for t/integ/lease.t\n");
		return 0;
	}
	memset(&d, 0, sizeof(d));
	memset(&hc, 0, sizeof(hc));
	lease_config_defaults(&lc);
	lc.namespace = "default";
	lc.name = "dbprovd-leader";
	log_set_level(LOG_WARN);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': hc.server = optarg; break;
		case 't': d.token = xstrdup(optarg); break;
		case 'T':
			free(d.token);
			d.token = read_file(optarg, 64 * 1024, NULL);
			if (d.token == NULL) {
				perror(optarg);
				return 2;
			}
			d.token[strcspn(d.token, "\r\n")] = '\0';
			break;
		case 'k': hc.insecure = true; break;
		case 'c': hc.ca_file = optarg; break;
		case 'n': lc.namespace = optarg; break;
		case 'N': lc.name = optarg; break;
		case 'i': lc.identity = optarg; break;
		case 'd': lc.lease_duration = atof(optarg) / 1000; break;
		case 'r': lc.renew_deadline = atof(optarg) / 1000; break;
		case 'p': lc.retry_period = atof(optarg) / 1000; break;
		case 'j': lc.jitter = atof(optarg); break;
		case 'R': lc.release_timeout = atof(optarg) / 1000; break;
		case 'l':
			if (log_level_parse(optarg, &lvl) < 0)
				usage();
			log_set_level(lvl);
			break;
		default: usage();
		}
	}
	if (hc.server == NULL || optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "lease-drv: curl_global_init failed\n");
		return 1;
	}
	d.loop = ev_default_loop(0);
	hc.user_agent = "dbprovd-lease-drv/" PACKAGE_VERSION;
	if (d.token) {
		hc.token = drv_token;
		hc.token_arg = &d;
	}
	http = khttp_new(d.loop, &hc, err, sizeof(err));
	if (http == NULL) {
		fprintf(stderr, "lease-drv: %s\n", err);
		return 1;
	}
	lc.on_started_leading = on_started;
	lc.on_stopped_leading = on_stopped;
	lc.arg = &d;
	d.le = lease_new(http, &lc, err, sizeof(err));
	if (d.le == NULL) {
		fprintf(stderr, "lease-drv: %s\n", err);
		khttp_free(http);
		return 2;
	}
	ev_signal_init(&d.sigterm, on_signal, SIGTERM);
	ev_signal_init(&d.sigint, on_signal, SIGINT);
	d.sigterm.data = d.sigint.data = &d;
	ev_signal_start(d.loop, &d.sigterm);
	ev_signal_start(d.loop, &d.sigint);

	lease_start(d.le);
	ev_run(d.loop, 0);

	ev_signal_stop(d.loop, &d.sigterm);
	ev_signal_stop(d.loop, &d.sigint);
	lease_free(d.le);
	khttp_free(http);
	free_secret(d.token);
	ev_loop_destroy(d.loop);
	curl_global_cleanup();
	return d.exit_code;
}
