#include "config.h"
#include <math.h>
#include "backoff.h"
#include "tap.h"

static double fixed_r;

static double
fake_rand(void)
{
	return fixed_r;
}

static int
near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

static void
test_delay(void)
{
	struct backoff_params q = BACKOFF_QUEUE_PRESET;
	struct backoff_params w = BACKOFF_WATCH_PRESET;

	ok(near(backoff_delay(&q, 0, 0.5), 0.005), "queue: first retry 5 ms");
	ok(near(backoff_delay(&q, 1, 0.5), 0.010), "queue: second retry 10 ms");
	ok(near(backoff_delay(&q, 10, 0.5), 5.12), "queue: 11th retry 5.12 s");
	ok(near(backoff_delay(&q, 17, 0.5), 655.36), "queue: 18th retry 655.36 s");
	ok(near(backoff_delay(&q, 18, 0.5), 1000), "queue: capped at 1000 s");
	ok(near(backoff_delay(&q, 100000, 0.9), 1000), "queue: huge count stays capped");
	ok(near(backoff_delay(&w, 0, 0), 0.8), "watch: 800 ms with r=0");
	ok(near(backoff_delay(&w, 0, 0.5), 1.2), "watch: jitter 1.0 adds d*r");
	ok(near(backoff_delay(&w, 2, 0), 3.2), "watch: x2 per failure");
	ok(near(backoff_delay(&w, 6, 0), 30), "watch: capped at 30 s");
	ok(near(backoff_delay(&w, 6, 0.5), 45), "watch: jitter applies after the cap");
}

static void
test_stateful(void)
{
	struct backoff b;
	double d, t = 1000;
	int i, inrange = 1;

	backoff_init(&b, &BACKOFF_WATCH_PRESET);
	b.rand = fake_rand;
	fixed_r = 0;
	ok(near(backoff_next(&b, t), 0.8), "first failure 0.8 s");
	ok(near(backoff_next(&b, t += 1), 1.6), "second failure 1.6 s");
	ok(near(backoff_next(&b, t += 2), 3.2), "third failure 3.2 s");
	for (i = 0; i < 10; i++)
		d = backoff_next(&b, t += 30);
	ok(near(d, 30), "many failures: capped");
	ok(near(backoff_next(&b, t += 119), 30), "119 s after the last failure: still capped");
	ok(near(backoff_next(&b, t += 121), 0.8), "121 s healthy: starts over");
	ok(near(backoff_next(&b, t += 1), 1.6), "and grows again");
	backoff_reset(&b);
	ok(near(backoff_next(&b, t), 0.8), "explicit reset starts over");

	/* the real random source stays within [d, 2d) */
	backoff_init(&b, &BACKOFF_WATCH_PRESET);
	for (i = 0; i < 1000; i++) {
		backoff_reset(&b);
		d = backoff_next(&b, 0);
		if (d < 0.8 || d >= 1.6)
			inrange = 0;
	}
	ok(inrange, "rand_unit jitter stays within [0.8, 1.6)");

	/* reset_after 0: never resets by time */
	backoff_init(&b, &BACKOFF_QUEUE_PRESET);
	b.rand = fake_rand;
	backoff_next(&b, 0);
	ok(near(backoff_next(&b, 1e6), 0.010), "no reset_after: a long pause does not reset");
}

static void
test_bucket(void)
{
	struct tbucket tb;
	int i, n = 0;

	tbucket_init(&tb, TBUCKET_API_RATE, TBUCKET_API_BURST, 100);
	for (i = 0; i < 40; i++)
		n += tbucket_take(&tb, 100);
	is_int(n, 30, "a full bucket serves its burst at once");
	ok(!tbucket_take(&tb, 100), "then refuses");
	ok(near(tbucket_wait(&tb, 100), 0.05), "next token in 1/20 s");
	ok(!tbucket_take(&tb, 100.04), "not before");
	ok(tbucket_take(&tb, 100.05), "refilled after 50 ms");
	ok(!tbucket_take(&tb, 100.05), "one token only");
	ok(near(tbucket_wait(&tb, 100.06), 0.04), "partial refill counts");
	n = 0;
	for (i = 0; i < 100; i++)
		n += tbucket_take(&tb, 1000);
	is_int(n, 30, "refill stops at the burst");
	ok(!tbucket_take(&tb, 999), "a clock stepping back mints nothing");
	is_int(tbucket_wait(&tb, 1000) > 0, 1, "still empty after the step back");

	tbucket_init(&tb, 10, 2, 0);
	ok(near(tbucket_reserve(&tb, 0), 0), "reserve: token 1 now");
	ok(near(tbucket_reserve(&tb, 0), 0), "reserve: token 2 now");
	ok(near(tbucket_reserve(&tb, 0), 0.1), "reserve: token 3 in 0.1 s");
	ok(near(tbucket_reserve(&tb, 0), 0.2), "reserve: token 4 in 0.2 s");
	ok(near(tbucket_wait(&tb, 0), 0.3), "wait accounts for reservations");
	ok(near(tbucket_reserve(&tb, 0.2), 0.1), "time passing pays debt back");

	tbucket_init(&tb, 0, 0, 0);
	ok(tbucket_take(&tb, 0) && tbucket_take(&tb, 0), "rate 0 is unlimited");
	ok(near(tbucket_wait(&tb, 0), 0) && near(tbucket_reserve(&tb, 0), 0),
	    "unlimited never waits");
}

int
main(void)
{
	test_delay();
	test_stateful();
	test_bucket();
	return done_testing();
}
