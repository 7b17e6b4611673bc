/*
 * events-drv - emits Events through the recorder against an API server,
 * waits until they are delivered, and prints the counters:
 *
 *   STATS emitted=N filtered=N coalesced=N dropped=N created=N patched=N
 *         retried=N failed=N pending=N          (one line)
 *
 * --identical N emits N times the same event (reason --reason, one
 * message); --distinct M then emits M events with reasons <reason>1..M.
 * With --interval-ms each emit waits that long after the previous one
 * (so repeats go out as PATCHes); without it everything is emitted at
 * once. Exit status 0 when nothing failed or stayed pending.
 *
 * Used by t/integ/events.t. Run without arguments it prints a TAP skip,
 * so the test harness may run it as a test program.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <ev.h>

#include "events.h"
#include "khttp.h"
#include "log.h"

struct drv {
	struct ev_loop *loop;
	struct events *rec;
	struct event_ref obj;
	const char *reason;
	enum event_type type;
	int identical;
	int distinct;
	int sent;
	double interval;
	double drain_timeout;
	ev_timer tick;
	char *token;
};

static const char *
drv_token(void *arg, double now)
{
	struct drv *d = arg;

	(void)now;
	return d->token;
}

static void
on_drained(void *arg)
{
	struct drv *d = arg;

	ev_break(d->loop, EVBREAK_ALL);
}

/* Emits the next event; false when all have been emitted. */
static bool
emit_one(struct drv *d)
{
	if (d->sent < d->identical) {
		events_emit(d->rec, &d->obj, d->type, d->reason,
		    "the same thing happened to %s", d->obj.name);
	} else if (d->sent < d->identical + d->distinct) {
		int i = d->sent - d->identical + 1;
		char reason[160];

		snprintf(reason, sizeof(reason), "%s%d", d->reason, i);
		events_emit(d->rec, &d->obj, d->type, reason,
		    "distinct event %d for %s", i, d->obj.name);
	} else {
		return false;
	}
	d->sent++;
	return true;
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct drv *d = container_of(w, struct drv, tick);

	(void)loop;
	(void)revents;
	if (d->interval <= 0) {
		while (emit_one(d))
			;
	} else if (emit_one(d)) {
		ev_timer_set(&d->tick, d->interval, 0.);
		ev_timer_start(d->loop, &d->tick);
		return;
	}
	events_drain(d->rec, d->drain_timeout, on_drained, d);
}

static void
usage(void)
{
	fprintf(stderr, "usage: events-drv --server URL [--token T | --token-file F]\n"
	    "    [--insecure | --cacert F] [--namespace NS] [--name N] [--kind K]\n"
	    "    [--api-version V] [--uid U] [--reason R] [--warning]\n"
	    "    [--identical N] [--distinct M] [--interval-ms MS]\n"
	    "    [--retry-interval-ms MS] [--max-tries N] [--drain-timeout-ms MS]\n"
	    "    [--instance I] [--log-level L]\n");
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
		{ "kind", required_argument, NULL, 'K' },
		{ "api-version", required_argument, NULL, 'A' },
		{ "uid", required_argument, NULL, 'u' },
		{ "reason", required_argument, NULL, 'r' },
		{ "warning", no_argument, NULL, 'w' },
		{ "identical", required_argument, NULL, 'I' },
		{ "distinct", required_argument, NULL, 'D' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "retry-interval-ms", required_argument, NULL, 'y' },
		{ "max-tries", required_argument, NULL, 'm' },
		{ "drain-timeout-ms", required_argument, NULL, 'g' },
		{ "instance", required_argument, NULL, 'H' },
		{ "log-level", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct khttp_config hc;
	struct events_config ec;
	struct drv d;
	struct khttp *http;
	const struct events_stats *st;
	enum log_level lvl;
	char err[256];
	size_t pending;
	int c, rc;

	if (argc == 1) {
		printf("1..0 # SKIP driver for t/integ/events.t\n");
		return 0;
	}
	memset(&d, 0, sizeof(d));
	memset(&hc, 0, sizeof(hc));
	events_config_defaults(&ec);
	d.obj.api_version = "v1";
	d.obj.kind = "ConfigMap";
	d.obj.namespace = "default";
	d.obj.name = "drv-object";
	d.reason = "Tested";
	d.type = EVENT_NORMAL;
	d.drain_timeout = 30;
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
		case 'n': d.obj.namespace = *optarg ? optarg : NULL; break;
		case 'N': d.obj.name = optarg; break;
		case 'K': d.obj.kind = optarg; break;
		case 'A': d.obj.api_version = optarg; break;
		case 'u': d.obj.uid = optarg; break;
		case 'r': d.reason = optarg; break;
		case 'w': d.type = EVENT_WARNING; break;
		case 'I': d.identical = atoi(optarg); break;
		case 'D': d.distinct = atoi(optarg); break;
		case 'i': d.interval = atof(optarg) / 1000; break;
		case 'y': ec.retry_interval = atof(optarg) / 1000; break;
		case 'm': ec.max_tries = (unsigned)atoi(optarg); break;
		case 'g': d.drain_timeout = atof(optarg) / 1000; break;
		case 'H': ec.instance = optarg; break;
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
		fprintf(stderr, "events-drv: curl_global_init failed\n");
		return 1;
	}
	d.loop = ev_default_loop(0);
	hc.user_agent = "dbprovd-events-drv/" PACKAGE_VERSION;
	if (d.token) {
		hc.token = drv_token;
		hc.token_arg = &d;
	}
	http = khttp_new(d.loop, &hc, err, sizeof(err));
	if (http == NULL) {
		fprintf(stderr, "events-drv: %s\n", err);
		return 1;
	}
	d.rec = events_new(http, &ec);
	ev_timer_init(&d.tick, tick_cb, 0., 0.);
	ev_timer_start(d.loop, &d.tick);
	ev_run(d.loop, 0);

	st = events_stats(d.rec);
	pending = events_pending(d.rec);
	printf("STATS emitted=%llu filtered=%llu coalesced=%llu dropped=%llu "
	    "created=%llu patched=%llu retried=%llu failed=%llu pending=%zu\n",
	    st->emitted, st->filtered, st->coalesced, st->dropped, st->created,
	    st->patched, st->retried, st->failed, pending);
	fflush(stdout);
	rc = st->failed == 0 && pending == 0 ? 0 : 1;
	ev_timer_stop(d.loop, &d.tick);
	events_free(d.rec);
	khttp_free(http);
	free_secret(d.token);
	ev_loop_destroy(d.loop);
	curl_global_cleanup();
	return rc;
}
