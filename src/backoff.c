/*
 * backoff.c - exponential backoff with jitter, and a token bucket.
 */
#include "config.h"

#include "backoff.h"

/* Time is a double, so "wait 0.05 s" then "take at now + 0.05" can come up
 * a hair short of a whole token; a caller that waited as told must not be
 * sent back for a nanosecond more. */
#define TOKEN_EPS 1e-9

double
backoff_delay(const struct backoff_params *p, unsigned failures, double r)
{
	double d = p->initial;
	unsigned i;

	/* initial * factor^failures, stopping once past the cap; !(d <= cap)
	 * also catches NaN and overflow. */
	for (i = 0; i < failures && d <= p->cap; i++)
		d *= p->factor;
	if (!(d <= p->cap))
		d = p->cap;
	if (p->jitter > 0)
		d += d * p->jitter * r;
	return d;
}

void
backoff_init(struct backoff *b, const struct backoff_params *p)
{
	b->p = *p;
	b->rand = NULL;
	b->failures = 0;
	b->last = -1;
}

void
backoff_reset(struct backoff *b)
{
	b->failures = 0;
	b->last = -1;
}

double
backoff_next(struct backoff *b, double now)
{
	double r, d;

	if (b->p.reset_after > 0 && b->last >= 0 &&
	    now - b->last > b->p.reset_after)
		b->failures = 0;
	b->last = now;
	r = b->rand ? b->rand() : rand_unit();
	d = backoff_delay(&b->p, b->failures, r);
	if (b->failures < 4096)
		b->failures++;
	return d;
}

static double
tbucket_tokens_at(const struct tbucket *tb, double now)
{
	double t = tb->tokens;

	if (now > tb->last) {
		t += (now - tb->last) * tb->rate;
		if (t > tb->burst)
			t = tb->burst;
	}
	return t;
}

static void
tbucket_advance(struct tbucket *tb, double now)
{
	tb->tokens = tbucket_tokens_at(tb, now);
	/* A clock that steps back must not mint tokens later. */
	if (now > tb->last)
		tb->last = now;
}

void
tbucket_init(struct tbucket *tb, double rate, double burst, double now)
{
	tb->rate = rate;
	tb->burst = burst;
	tb->tokens = burst;
	tb->last = now;
}

bool
tbucket_take(struct tbucket *tb, double now)
{
	if (tb->rate <= 0)
		return true;
	tbucket_advance(tb, now);
	if (tb->tokens < 1 - TOKEN_EPS)
		return false;
	tb->tokens -= 1;
	return true;
}

double
tbucket_wait(const struct tbucket *tb, double now)
{
	double t;

	if (tb->rate <= 0)
		return 0;
	t = tbucket_tokens_at(tb, now);
	return t >= 1 - TOKEN_EPS ? 0 : (1 - t) / tb->rate;
}

double
tbucket_reserve(struct tbucket *tb, double now)
{
	if (tb->rate <= 0)
		return 0;
	tbucket_advance(tb, now);
	tb->tokens -= 1;
	return tb->tokens >= -TOKEN_EPS ? 0 : -tb->tokens / tb->rate;
}
