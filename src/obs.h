/*
 * obs.h - observability glue: the /metrics listener, the /healthz and
 * /readyz listener, and the collectors and hooks that feed the metrics
 * registry from the manager, the API client, the lease and the event
 * recorder. main.c only calls the functions below.
 *
 * Probes (doc/monitoring.md):
 *  - /healthz (and /healthz/healthz): 200 "ok" whenever the loop answers.
 *  - /readyz (and /readyz/readyz): 200 "ok" when the informers have
 *    listed once (the leader, or without --leader-elect), or, with
 *    --leader-elect, when this replica stands by and has had an answer
 *    from the API server within the last standby_window seconds; else
 *    503 with a one-line reason. 503 "shutting down" once shutdown began.
 *  - "?verbose" gives the check list the way controller-runtime does.
 */
#ifndef DBP_OBS_H
#define DBP_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>

#include "util.h"

struct events;
struct khttp;
struct lease;
struct mgr;
struct obs;
struct options;

/* Binds the listeners the options ask for (none when both addresses are
 * "0") and creates the metrics registry. Returns NULL with a message in
 * err when an address cannot be bound or the TLS pair cannot be loaded.
 * Nothing is served before obs_start(). */
struct obs *obs_new(struct ev_loop *loop, const struct options *opts,
    char *err, size_t errlen);
/* Connects the sources; any may be NULL. api_server is the API server URL
 * (the host label of rest_client_* metrics). Installs the manager hooks
 * and the client observer. */
void obs_attach(struct obs *o, struct mgr *m, struct khttp *http,
    const char *api_server, struct lease *lease, struct events *ev);
void obs_start(struct obs *o);
/* Readiness turns 503 "shutting down" (the listeners keep serving). */
void obs_shutting_down(struct obs *o);
/* Stops the listeners and frees everything, the registry included; call
 * before freeing the sources. NULL is a no-op. */
void obs_free(struct obs *o);

/* Bound ports (0 when the listener is off). */
int obs_metrics_port(const struct obs *o);
int obs_health_port(const struct obs *o);

#endif
