/*
 * pipeline.t - the streaming pipeline on a real loop with a fake source
 * and a fake sink that both stall at random: bytes arrive intact through
 * transforms, the stored size and SHA-256 are those of what the sink got,
 * backpressure bounds what is read ahead, memory stays flat over 64 MiB,
 * and every failure (source, transform, sink, finish, abort) stops both
 * ends and reports once.
 */
#include "config.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "artefact.h"
#include "codec.h"
#include "pipeline.h"
#include "tap.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_ASAN 1
#endif
#endif

#define MiB ((size_t)1024 * 1024)

static struct ev_loop *loop;

static void
stop_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

static uint64_t
rnd(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* Text-like bytes from a position: compressible, reproducible. */
static unsigned char
byte_at(uint64_t i)
{
	static const char words[] = "INSERT INTO t VALUES (42, 'hello'); ";

	if (i % 997 == 0)
		return (unsigned char)((i >> 7) & 0xff);
	return (unsigned char)words[i % (sizeof(words) - 1)];
}

static size_t
heap_now(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* ---- a source that stalls ---- */

struct fsrc {
	struct pipeline *pl;
	uint64_t size, pos, seed;
	int stall_pct;
	bool fail_at_half;
	int aborted;
	ev_timer wake;
	bool waiting;		/* a kick is owed */
	size_t heap_at_8m, heap_after_8m;	/* flatness */
};

static void
fsrc_wake(struct ev_loop *l, ev_timer *w, int revents)
{
	struct fsrc *s = container_of(w, struct fsrc, wake);

	(void)l;
	(void)revents;
	s->waiting = false;
	pipeline_kick(s->pl);
}

static enum pl_read
fsrc_read(void *arg, unsigned char *buf, size_t cap, size_t *n, char *err,
    size_t errlen)
{
	struct fsrc *s = arg;
	size_t i, want;

	if (s->waiting)		/* not readable yet: the kick is owed */
		return PL_AGAIN;
	if (s->fail_at_half && s->pos >= s->size / 2) {
		snprintf(err, errlen, "pg_dump exited with status 1");
		return PL_FAIL;
	}
	if (s->pos == s->size)
		return PL_EOF;
	if ((int)(rnd(&s->seed) % 100) < s->stall_pct) {
		s->waiting = true;
		ev_timer_set(&s->wake, 0.0005, 0.);
		ev_timer_start(loop, &s->wake);
		return PL_AGAIN;
	}
	want = 1 + (size_t)(rnd(&s->seed) % cap);
	if (want > s->size - s->pos)
		want = (size_t)(s->size - s->pos);
	for (i = 0; i < want; i++)
		buf[i] = byte_at(s->pos + i);
	s->pos += want;
	*n = want;
	if (s->pos >= 8 * MiB) {
		size_t h = heap_now();

		if (s->heap_at_8m == 0)
			s->heap_at_8m = h;
		if (h > s->heap_after_8m)
			s->heap_after_8m = h;
	}
	return PL_DATA;
}

static void
fsrc_abort(void *arg)
{
	struct fsrc *s = arg;

	s->aborted++;
	ev_timer_stop(loop, &s->wake);
}

static const struct pl_source_ops fsrc_ops = { fsrc_read, fsrc_abort, NULL };

/* ---- a sink that stalls ---- */

struct fsnk {
	struct pipeline *pl;
	uint64_t seed;
	int stall_pct;
	bool keep;		/* keep the bytes (else only count them) */
	unsigned char *data;
	size_t len, cap;
	uint64_t total;
	bool fail_write, fail_finish, hold;	/* hold: accept nothing */
	int aborted, finished;
	ev_timer wake;
	size_t heap_peak;
};

static void
fsnk_wake(struct ev_loop *l, ev_timer *w, int revents)
{
	struct fsnk *k = container_of(w, struct fsnk, wake);

	(void)l;
	(void)revents;
	pipeline_kick(k->pl);
}

static ssize_t
fsnk_write(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct fsnk *k = arg;
	size_t take, h = heap_now();

	if (h > k->heap_peak)
		k->heap_peak = h;
	if (k->fail_write && k->total > 100000) {
		snprintf(err, errlen, "S3 InternalError: try again");
		return -1;
	}
	if (k->hold || (int)(rnd(&k->seed) % 100) < k->stall_pct) {
		if (!k->hold) {
			ev_timer_set(&k->wake, 0.0005, 0.);
			ev_timer_start(loop, &k->wake);
		}
		return 0;
	}
	take = 1 + (size_t)(rnd(&k->seed) % n);
	if (k->keep) {
		if (k->len + take > k->cap) {
			k->cap = (k->len + take) * 2;
			k->data = xrealloc(k->data, k->cap);
		}
		memcpy(k->data + k->len, p, take);
		k->len += take;
	}
	k->total += take;
	return (ssize_t)take;
}

static void
fsnk_finish(void *arg)
{
	struct fsnk *k = arg;

	k->finished++;
	pipeline_sink_done(k->pl, !k->fail_finish,
	    k->fail_finish ? "rename: Read-only file system" : NULL);
}

static void
fsnk_abort(void *arg)
{
	struct fsnk *k = arg;

	k->aborted++;
	ev_timer_stop(loop, &k->wake);
}

static const struct pl_sink_ops fsnk_ops = { fsnk_write, fsnk_finish,
    fsnk_abort, NULL };

/* ---- running one ---- */

struct result {
	int calls;
	bool ok;
	char err[PIPELINE_ERR_MAX];
	struct pl_stats st;
	bool in_start;
};

static bool starting;

static void
on_done(struct pipeline *pl, bool ok, const char *err,
    const struct pl_stats *st, void *arg)
{
	struct result *r = arg;

	(void)pl;
	r->calls++;
	r->ok = ok;
	r->in_start = starting;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
	r->st = *st;
	ev_break(loop, EVBREAK_ALL);
}

static void
run_pl(struct pipeline *pl)
{
	starting = true;
	pipeline_start(pl);
	starting = false;
	ev_run(loop, 0);
}

static void
src_init(struct fsrc *s, uint64_t size, uint64_t seed, int stall)
{
	memset(s, 0, sizeof(*s));
	s->size = size;
	s->seed = seed;
	s->stall_pct = stall;
	ev_timer_init(&s->wake, fsrc_wake, 0., 0.);
}

static void
snk_init(struct fsnk *k, uint64_t seed, int stall, bool keep)
{
	memset(k, 0, sizeof(*k));
	k->seed = seed;
	k->stall_pct = stall;
	k->keep = keep;
	ev_timer_init(&k->wake, fsnk_wake, 0., 0.);
}

/* The fakes' timers may still be pending when a pipeline ends: stop
 * them before their structs go. */
static void
quiet(struct fsrc *s, struct fsnk *k)
{
	ev_timer_stop(loop, &s->wake);
	ev_timer_stop(loop, &k->wake);
}

static bool
is_input(const unsigned char *p, size_t n, uint64_t size)
{
	size_t i;

	if (n != size)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] != byte_at(i))
			return false;
	return true;
}

static void
hex_sha(const unsigned char *p, size_t n, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[SHA256_LEN];
	size_t i;

	sha256(p, n, h);
	for (i = 0; i < SHA256_LEN; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[64] = '\0';
}

static void
test_round_trip(void)
{
	static const uint64_t sizes[] = { 0, 1, 70000, 3 * MiB + 17 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct fsrc s;
		struct fsnk k;
		struct result r = { 0 };
		struct codec *z = codec_new_compress(CODEC_ZSTD, 3);
		struct codec *u = codec_new_decompress(CODEC_ZSTD);
		struct pipeline *pl;
		struct pl_xform x;
		char name[160], hex[65];

		src_init(&s, sizes[i], i + 1, 20);
		snk_init(&k, i + 7, 20, true);
		pl = pipeline_new(loop, &fsrc_ops, &s, &fsnk_ops, &k, on_done,
		    &r);
		s.pl = k.pl = pl;
		x = codec_xform(z);
		pipeline_add(pl, "compress", &x);
		x = codec_xform(u);
		pipeline_add(pl, "decompress", &x);
		run_pl(pl);
		snprintf(name, sizeof(name), "%llu bytes through zstd and back, "
		    "both ends stalling", (unsigned long long)sizes[i]);
		ok(r.calls == 1 && r.ok && !r.in_start &&
		    is_input(k.data, k.len, sizes[i]), name);
		if (!r.ok || r.calls != 1)
			diag("calls %d ok %d err %s len %zu", r.calls, r.ok,
			    r.err, k.len);
		hex_sha(k.data, k.len, hex);
		ok(r.st.in_bytes == sizes[i] && r.st.out_bytes == k.len &&
		    strcmp(r.st.sha256_hex, hex) == 0,
		    "  sizes and SHA-256 are those of the stored bytes");
		ok(k.finished == 1 && k.aborted == 0 && s.aborted == 0,
		    "  the sink finished once, nothing aborted");
		quiet(&s, &k);
		pipeline_free(pl);
		codec_free(z);
		codec_free(u);
		free(k.data);
	}
}

/* A sink that takes nothing: the source is read one buffer ahead only. */
static void
test_backpressure(void)
{
	struct fsrc s;
	struct fsnk k;
	struct result r = { 0 };
	struct pipeline *pl;
	ev_timer stop;

	src_init(&s, 100 * MiB, 3, 0);
	snk_init(&k, 3, 0, false);
	k.hold = true;
	pl = pipeline_new(loop, &fsrc_ops, &s, &fsnk_ops, &k, on_done, &r);
	s.pl = k.pl = pl;
	pipeline_start(pl);
	ev_timer_init(&stop, stop_cb, 0.2, 0.);
	ev_timer_start(loop, &stop);
	ev_run(loop, 0);
	ev_timer_stop(loop, &stop);
	ok(s.pos <= PIPELINE_BUF, "a sink that takes nothing: at most one "
	    "buffer was read from the source");
	diag("read %llu bytes", (unsigned long long)s.pos);
	k.hold = false;
	pipeline_kick(pl);
	ev_run(loop, 0);
	ok(r.calls == 1 && r.ok && k.total == 100 * MiB,
	    "once it takes again, all 100 MiB go through");
	quiet(&s, &k);
	pipeline_free(pl);
}

static void
test_memory(void)
{
	struct fsrc s;
	struct fsnk k;
	struct result r = { 0 };
	struct codec *z = codec_new_compress(CODEC_ZSTD, 3);
	struct pipeline *pl;
	struct pl_xform x;
	size_t base, bound;
	char name[200];

	src_init(&s, 64 * MiB, 5, 2);
	snk_init(&k, 5, 2, false);
	base = heap_now();
	pl = pipeline_new(loop, &fsrc_ops, &s, &fsnk_ops, &k, on_done, &r);
	s.pl = k.pl = pl;
	x = codec_xform(z);
	pipeline_add(pl, "compress", &x);
	run_pl(pl);
	bound = pipeline_mem(pl) + 64 * 1024;
	ok(r.ok && r.st.in_bytes == 64 * MiB, "64 MiB compressed");
	diag("to %llu bytes", (unsigned long long)r.st.out_bytes);
#ifdef HEAP_ASAN
	printf("ok %d # skip heap measurement (not meaningful under "
	    "AddressSanitizer)\n", ++tap_n);
	(void)name;
	(void)base;
	(void)bound;
#else
	bound += codec_mem_bound(CODEC_ZSTD, true, 3);
	snprintf(name, sizeof(name), "heap peak while streaming: %zu KiB "
	    "above the start (bound: %zu KiB of buffers and codec state)",
	    (k.heap_peak - base) / 1024, bound / 1024);
	ok(k.heap_peak - base <= bound, name);
	snprintf(name, sizeof(name), "flat: from 8 MiB to 64 MiB of input "
	    "the heap grew by %zd KiB", ((ssize_t)s.heap_after_8m -
	    (ssize_t)s.heap_at_8m) / 1024);
	ok(s.heap_after_8m - s.heap_at_8m <= 16 * 1024, name);
#endif
	quiet(&s, &k);
	pipeline_free(pl);
	codec_free(z);
}

static void
test_failures(void)
{
	struct fsrc s;
	struct fsnk k;
	struct result r;
	struct pipeline *pl;
	struct codec *u;
	struct pl_xform x;
	ev_timer t;

	/* the source fails */
	memset(&r, 0, sizeof(r));
	src_init(&s, 4 * MiB, 9, 5);
	s.fail_at_half = true;
	snk_init(&k, 9, 5, false);
	pl = pipeline_new(loop, &fsrc_ops, &s, &fsnk_ops, &k, on_done, &r);
	s.pl = k.pl = pl;
	run_pl(pl);
	ok(r.calls == 1 && !r.ok && strcmp(r.err,
	    "source: pg_dump exited with status 1") == 0,
	    "a failing source: reported with its message");
	ok(k.aborted == 1 && k.finished == 0, "  the sink is aborted, "
	    "never finished");
	quiet(&s, &k);
	pipeline_free(pl);

	/* a transform fails: garbage into a decompressor */
	memset(&r, 0, sizeof(r));
	src_init(&s, 1 * MiB, 10, 5);
	snk_init(&k, 10, 5, false);
	u = codec_new_decompress(CODEC_GZIP);
	pl = pipeline_new(loop, &fsrc_ops, &s, &fsnk_ops, &k, on_done, &r);
	s.pl = k.pl = pl;
	x = codec_xform(u);
	pipeline_add(pl, "decompress", &x);
	run_pl(pl);
	ok(r.calls == 1 && !r.ok && strncmp(r.err, "decompress: gzip:",
	    17) == 0, "a failing transform is named");
	diag("%s", r.err);
	ok(k.aborted == 1 && s.aborted == 1, "  both ends aborted");
	quiet(&s, &k);
	pipeline_free(pl);
	codec_free(u);

	/* the sink fails on write, and on finish */
	memset(&r, 0, sizeof(r));
	src_init(&s, 1 * MiB, 11, 5);
	snk_init(&k, 11, 5, false);
	k.fail_write = true;
	pl = pipeline_new(loop, &fsrc_ops, &s, &fsnk_ops, &k, on_done, &r);
	s.pl = k.pl = pl;
	run_pl(pl);
	ok(r.calls == 1 && !r.ok && strcmp(r.err,
	    "sink: S3 InternalError: try again") == 0 && s.aborted == 1,
	    "a failing sink write: reported, the source aborted");
	quiet(&s, &k);
	pipeline_free(pl);
	memset(&r, 0, sizeof(r));
	src_init(&s, 1000, 12, 0);
	snk_init(&k, 12, 0, false);
	k.fail_finish = true;
	pl = pipeline_new(loop, &fsrc_ops, &s, &fsnk_ops, &k, on_done, &r);
	s.pl = k.pl = pl;
	run_pl(pl);
	ok(r.calls == 1 && !r.ok && strstr(r.err, "Read-only") != NULL,
	    "a sink that cannot finish: reported");
	quiet(&s, &k);
	pipeline_free(pl);

	/* aborted from outside, mid-stream */
	memset(&r, 0, sizeof(r));
	src_init(&s, 1000 * MiB, 13, 10);
	snk_init(&k, 13, 10, false);
	pl = pipeline_new(loop, &fsrc_ops, &s, &fsnk_ops, &k, on_done, &r);
	s.pl = k.pl = pl;
	pipeline_start(pl);
	ev_timer_init(&t, stop_cb, 0.05, 0.);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	pipeline_abort(pl, "activeDeadlineSeconds (3600) exceeded");
	pipeline_abort(pl, "a second reason is ignored");
	ev_run(loop, 0);
	ok(r.calls == 1 && !r.ok && strcmp(r.err,
	    "activeDeadlineSeconds (3600) exceeded") == 0,
	    "an abort from outside: reported once, first reason");
	ok(s.aborted == 1 && k.aborted == 1 && k.finished == 0,
	    "  both ends aborted once");
	quiet(&s, &k);
	pipeline_free(pl);

	/* freed while running: both ends aborted, no callback */
	memset(&r, 0, sizeof(r));
	src_init(&s, 1000 * MiB, 14, 10);
	snk_init(&k, 14, 10, false);
	pl = pipeline_new(loop, &fsrc_ops, &s, &fsnk_ops, &k, on_done, &r);
	s.pl = k.pl = pl;
	pipeline_start(pl);
	ev_run(loop, EVRUN_NOWAIT);
	quiet(&s, &k);
	pipeline_free(pl);
	ok(r.calls == 0 && s.aborted == 1 && k.aborted == 1,
	    "freed while running: both ends aborted, no report");
}

int
main(void)
{
	loop = ev_loop_new(EVFLAG_AUTO);
	test_round_trip();
	test_backpressure();
	test_memory();
	test_failures();
	ev_loop_destroy(loop);
	return done_testing();
}
