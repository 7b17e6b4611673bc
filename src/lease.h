/*
 * lease.h - leader election on a coordination.k8s.io/v1 Lease, the way
 * client-go's leaderelection package does it (kube-api.md 7.2).
 *
 * Two layers:
 *
 *  - A pure decision function, lease_decide(): given our identity, the
 *    Lease we just read (or "not found"), what we observed of it before
 *    and the clocks, it says whether to create the Lease, take it over,
 *    renew it, or wait, and what spec to write. It reads no clock and does
 *    no I/O, so the tests drive it directly.
 *
 *  - An elector (struct lease) that runs the algorithm on the event loop
 *    with one timer and at most one request in flight: acquire attempts
 *    every retry period with jitter, renewals every retry period (fast
 *    path: PUT with the resourceVersion of our last write; on failure the
 *    slow path GET -> decide -> POST/PUT with the resourceVersion just
 *    read), and loss of leadership when no renewal succeeded within the
 *    renew deadline or another holder shows up.
 *
 * Expiry is judged only on our monotonic clock: a record is expired when
 * we have not seen it change for leaseDurationSeconds. The renewTime
 * written by another process is never compared with our clock.
 */
#ifndef DBP_LEASE_H
#define DBP_LEASE_H

#include <stdbool.h>
#include <yajl/yajl_tree.h>

#include "util.h"

struct khttp;
struct lease;

/* ---- the record and the decision (pure) --------------------------------- */

/* Lease.spec as far as the election uses it. Strings are malloc'ed and
 * owned by the struct; NULL means absent/null (holder NULL == ""). */
struct lease_spec {
	char *holder;			/* holderIdentity */
	long long duration;		/* leaseDurationSeconds, 0 if absent */
	char *acquire_time;		/* MicroTime text */
	char *renew_time;		/* MicroTime text */
	long long transitions;		/* leaseTransitions */
};

void lease_spec_init(struct lease_spec *s);
void lease_spec_release(struct lease_spec *s);
/* Deep copy into dst (released first). */
void lease_spec_copy(struct lease_spec *dst, const struct lease_spec *src);
/* True when every field is the same. */
bool lease_spec_equal(const struct lease_spec *a, const struct lease_spec *b);
/* Reads obj.spec of a Lease object into s (initialised here). Missing
 * fields stay NULL/0. */
void lease_spec_from_json(struct lease_spec *s, yajl_val lease);

/* What we last saw of the Lease, and when (our monotonic clock). */
struct lease_observed {
	bool valid;			/* false until the first observation */
	struct lease_spec spec;
	double time;			/* when spec last changed */
};

void lease_observed_init(struct lease_observed *o);
void lease_observed_release(struct lease_observed *o);
/* Records spec as seen at mono time now: the time moves only when the
 * spec differs from the previous observation (or there was none). */
void lease_observe(struct lease_observed *o, const struct lease_spec *spec,
    double now);
/* True while the observed holder's lease has not run out on our clock
 * (observed time + its leaseDurationSeconds > now). */
bool lease_observed_live(const struct lease_observed *o, double now);

enum lease_action {
	LEASE_WAIT,		/* someone else holds a live lease */
	LEASE_CREATE,		/* no Lease: POST one */
	LEASE_TAKEOVER,		/* PUT with the RV just read; we become holder */
	LEASE_RENEW,		/* PUT with the RV just read; we are holder */
	LEASE__COUNT
};

const char *lease_action_name(enum lease_action a);

/* One attempt's inputs. Times: mono_now for observation and expiry,
 * wall_now (Unix seconds) only to stamp acquireTime/renewTime. */
struct lease_input {
	const char *identity;
	long long duration;		/* our leaseDurationSeconds */
	yajl_val lease;			/* the Lease read, NULL = 404 */
	double mono_now;
	double wall_now;
};

/* Decides one tryAcquireOrRenew() step. Updates obs from in->lease (when
 * there is one) and fills out (initialised here, caller releases) with
 * the spec to write; out is left empty for LEASE_WAIT. */
enum lease_action lease_decide(const struct lease_input *in,
    struct lease_observed *obs, struct lease_spec *out);

/* The Lease object to send: apiVersion, kind, metadata (name, namespace,
 * resourceVersion unless NULL, and labels/annotations copied from prev
 * when given), spec. Returns a malloc'ed string. */
char *lease_body(const char *ns, const char *name, const char *rv,
    const struct lease_spec *spec, yajl_val prev);

/* A fresh identity "<hostname>_<uuid v4>"; malloc'ed. */
char *lease_identity_new(void);

/* ---- the elector ---------------------------------------------------------- */

struct lease_config {
	const char *namespace;
	const char *name;
	const char *identity;		/* NULL: lease_identity_new() */
	double lease_duration;		/* seconds, written rounded up; 15 */
	double renew_deadline;		/* 10 */
	double retry_period;		/* 2 */
	double jitter;			/* acquire wait factor; 1.2 */
	double release_timeout;		/* bound on lease_release(); 5 */
	/* Leadership callbacks; started runs after the write that made us
	 * holder, stopped runs at once when leadership is lost or released.
	 * They may call lease_release() but not lease_free(). */
	void (*on_started_leading)(void *arg);
	void (*on_stopped_leading)(void *arg);
	void *arg;
};

#define LEASE_DURATION_DEFAULT	15.0
#define LEASE_RENEW_DEADLINE_DEFAULT 10.0
#define LEASE_RETRY_PERIOD_DEFAULT 2.0
#define LEASE_JITTER_DEFAULT	1.2
#define LEASE_RELEASE_TIMEOUT_DEFAULT 5.0

/* Fills the timing defaults above and zeroes the rest. */
void lease_config_defaults(struct lease_config *cfg);

/* Creates an elector (not started); cfg strings are copied. Returns NULL
 * with a message in err when the timings break LeaseDuration >
 * RenewDeadline > jitter * RetryPeriod or a name is missing. */
struct lease *lease_new(struct khttp *http, const struct lease_config *cfg,
    char *err, size_t errlen);
/* Starts campaigning: the first attempt is made right away. */
void lease_start(struct lease *le);
/* Gives the lease up for a clean shutdown. If we lead: on_stopped_leading
 * runs first, then the Lease is written with an empty holder and a 1 s
 * duration so another candidate can take it at once. done runs once,
 * from the loop (never inside this call), when the write finished, failed
 * or took longer than release_timeout; the elector is then stopped for
 * good. done may call lease_free(). Later calls are ignored. */
void lease_release(struct lease *le, void (*done)(void *arg), void *arg);
/* Stops everything without callbacks or writes (the lease runs out on its
 * own) and frees the elector. Not from inside the elector's callbacks
 * other than lease_release()'s done. */
void lease_free(struct lease *le);

bool lease_is_leader(const struct lease *le);
const char *lease_identity(const struct lease *le);
/* Current state of the machine, for logs and tests ("WAITING", ...). */
const char *lease_state_name(const struct lease *le);

#endif
