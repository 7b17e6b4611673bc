/*
 * backoff.h - exponential backoff with jitter, and a token bucket.
 *
 * Pure arithmetic: no clock is read and nothing is allocated. Times and
 * delays are double seconds; "now" is whatever clock the caller uses
 * consistently (ev_now() or mono_now()).
 *
 * Backoff follows apimachinery's wait.Backoff.Step(): the n-th delay
 * (n = 0, 1, ...) is d = min(initial * factor^n, cap), then jitter adds
 * d * jitter * r with r uniform in [0, 1). The cap applies before the jitter
 * (as in client-go), so with jitter 1.0 a capped delay lies in [cap, 2*cap).
 */
#ifndef DBP_BACKOFF_H
#define DBP_BACKOFF_H

#include <stdbool.h>
#include "util.h"

struct backoff_params {
	double initial;		/* first delay, seconds (> 0) */
	double factor;		/* growth per failure (>= 1) */
	double jitter;		/* extra fraction, 0 = none, 1.0 = up to +100 % */
	double cap;		/* largest delay before jitter (> 0) */
	double reset_after;	/* a failure more than this long after the
				 * previous one starts over at initial; 0 never */
};

/* client-go reflector watch reconnect (kube-api.md 4.5 item 5):
 * 800 ms, x2, jitter 1.0, cap 30 s, reset after 2 min healthy. */
#define BACKOFF_WATCH_PRESET ((struct backoff_params){ 0.8, 2.0, 1.0, 30.0, 120.0 })
/* controller-runtime per-item queue retry (ItemExponentialFailureRateLimiter):
 * 5 ms, x2, cap 1000 s, no jitter, no automatic reset (queue_forget does it). */
#define BACKOFF_QUEUE_PRESET ((struct backoff_params){ 0.005, 2.0, 0.0, 1000.0, 0.0 })

/* The delay for the failure that follows `failures` earlier ones, with r in
 * [0, 1) as the jitter draw. Stateless; the queue keeps only a count. */
double backoff_delay(const struct backoff_params *p, unsigned failures,
    double r);

/* Stateful backoff for one retrying thing (a watch). */
struct backoff {
	struct backoff_params p;
	double (*rand)(void);	/* uniform [0, 1); NULL means rand_unit() */
	unsigned failures;	/* failures since the last reset */
	double last;		/* time of the last backoff_next(); < 0 none */
};

void backoff_init(struct backoff *b, const struct backoff_params *p);
/* Records a failure at `now` and returns how long to wait before the next
 * attempt. If reset_after > 0 and the previous failure is more than
 * reset_after old, the sequence starts over first (client-go's
 * ExponentialBackoffManager: "healthy" means no failure for that long). */
double backoff_next(struct backoff *b, double now);
/* Starts the sequence over (the next delay is `initial` again). */
void backoff_reset(struct backoff *b);

/*
 * Token bucket (golang.org/x/time/rate semantics): `rate` tokens per second
 * up to `burst`; starts full. rate <= 0 means unlimited.
 */
struct tbucket {
	double rate;
	double burst;
	double tokens;		/* may go negative after tbucket_reserve() */
	double last;		/* time tokens was last brought up to date */
};

/* API write rate limit: 20 qps, burst 30. */
#define TBUCKET_API_RATE 20.0
#define TBUCKET_API_BURST 30.0
/* controller-runtime work-queue overall limit: 10 qps, burst 100. */
#define TBUCKET_QUEUE_RATE 10.0
#define TBUCKET_QUEUE_BURST 100.0

void tbucket_init(struct tbucket *tb, double rate, double burst, double now);
/* Takes one token if one is available at `now`; false leaves the bucket
 * alone (ask tbucket_wait() when to try again). */
bool tbucket_take(struct tbucket *tb, double now);
/* Seconds from `now` until tbucket_take() would succeed (0 if it would
 * now). */
double tbucket_wait(const struct tbucket *tb, double now);
/* Takes one token now or from the future and returns how long the caller
 * must wait before using it (rate.Limiter.Reserve()); never fails. */
double tbucket_reserve(struct tbucket *tb, double now);

#endif
