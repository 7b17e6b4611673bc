/*
 * codec.c: round trips at every level over any split of the buffers,
 * compatibility with gzip/lz4/zstd both ways, concatenated members,
 * truncation and corruption, levels, names, magic, and the heap bound.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "api.h"
#include "buf.h"
#include "codec.h"
#include "tap.h"
#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
#define HEAP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HEAP_ASAN 1
#endif
#endif

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
/* The documented heap bound for a whole default-level pipeline. */
#define PIPELINE_HEAP_MAX (8 * MiB)

static const enum codec_algo algos[] = { CODEC_NONE, CODEC_GZIP, CODEC_LZ4,
    CODEC_ZSTD };
static const int levels[] = { 1, 6, 9 };
static char tmpdir[] = "/tmp/codec-test.XXXXXX";
static char name[256];

static void
skip(const char *why)
{
	tap_n++;
	printf("ok %d # skip %s\n", tap_n, why);
}

/* ---- data ---- */

static uint64_t
rnd(uint64_t *s)
{
	uint64_t x = *s;

	if (x == 0)		/* xorshift stays at zero forever */
		x = 0x9E3779B97F4A7C15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static const char *const words[] = { "alpha", "bravo", "charlie", "delta",
    "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima",
    "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
    "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu" };

/* Compressible text: pg_dump-like COPY rows from a seeded generator. */
struct textgen {
	uint64_t seed;
	unsigned long row;
	char line[160];
	size_t len, pos;
};

static void
textgen_init(struct textgen *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->seed = seed;
}

static void
textgen_fill(struct textgen *g, unsigned char *p, size_t n)
{
	uint64_t r;
	size_t k;
	int m;

	while (n > 0) {
		if (g->pos == g->len) {
			r = rnd(&g->seed);
			m = snprintf(g->line, sizeof(g->line),
			    "%lu\t%s %s\t%s@example.org\t%lu.%02lu\t%s\n",
			    g->row++, words[r % ARRAY_SIZE(words)],
			    words[(r >> 8) % ARRAY_SIZE(words)],
			    words[(r >> 16) % ARRAY_SIZE(words)],
			    (unsigned long)((r >> 24) % 100000),
			    (unsigned long)((r >> 44) % 100),
			    (r >> 60) & 1 ? "t" : "f");
			g->len = (size_t)m;
			g->pos = 0;
		}
		k = g->len - g->pos;
		if (k > n)
			k = n;
		memcpy(p, g->line + g->pos, k);
		g->pos += k;
		p += k;
		n -= k;
	}
}

static unsigned char *
make_text(size_t n, uint64_t seed)
{
	unsigned char *p = xmalloc(n);
	struct textgen g;

	textgen_init(&g, seed);
	textgen_fill(&g, p, n);
	return p;
}

static unsigned char *
make_random(size_t n, uint64_t seed)
{
	unsigned char *p = xmalloc(n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(rnd(&seed) >> 56);
	return p;
}

static void
append(struct buf *b, const void *p, size_t n)
{
	if (buf_append(b, p, n) < 0)
		abort();
}

/* ---- driving a codec ---- */

enum split {
	SPLIT_MIXED,	/* random sizes, often 1 byte, sometimes 0 out */
	SPLIT_BYTES,	/* inlen 1, outcap 1 */
	SPLIT_BIG,	/* whole input, 256 KiB out */
};

static size_t
chunk(uint64_t *s, size_t max)
{
	uint64_t r = rnd(s);

	switch (r % 8) {
	case 0:
	case 1:
		return 1;
	case 2:
		return 1 + (size_t)((r >> 8) % 16);
	default:
		return 1 + (size_t)((r >> 8) % max);
	}
}

/*
 * Runs c over in[0..n) into *out with the given split, checking the xform
 * contract on every call. Returns XF_DONE, XF_ERROR, or -1 when the
 * contract was broken (with a diagnostic).
 */
static int
pump(struct codec *c, const unsigned char *in, size_t n, struct buf *out,
    enum split split, uint64_t seed)
{
	static unsigned char obuf[256 * 1024];
	size_t pos = 0, inlen, outcap, used, made;
	unsigned long idle = 0;
	enum xform_rc rc;
	bool eof = false;

	for (;;) {
		switch (split) {
		case SPLIT_BYTES:
			inlen = outcap = 1;
			break;
		case SPLIT_BIG:
			inlen = n - pos;
			outcap = sizeof(obuf);
			break;
		default:
			inlen = chunk(&seed, 70000);
			outcap = rnd(&seed) % 50 == 0 ? 0 :
			    chunk(&seed, 70000);
			break;
		}
		/* once eof has been said, the rest always goes with it */
		if (inlen > n - pos || eof)
			inlen = n - pos;
		eof = pos + inlen == n;
		rc = codec_run(c, inlen ? in + pos : NULL, inlen, &used,
		    outcap ? obuf : NULL, outcap, &made, eof);
		if (used > inlen || made > outcap) {
			diag("used %zu of %zu, made %zu of %zu", used, inlen,
			    made, outcap);
			return -1;
		}
		append(out, obuf, made);
		pos += used;
		if (rc == XF_ERROR)
			return rc;
		if (rc == XF_DONE) {
			if (pos != n) {
				diag("done with %zu bytes unused", n - pos);
				return -1;
			}
			rc = codec_run(c, NULL, 0, &used, obuf, 1, &made, true);
			if (rc != XF_DONE || used != 0 || made != 0) {
				diag("call after done: rc %d", rc);
				return -1;
			}
			return XF_DONE;
		}
		idle = used == 0 && made == 0 && outcap > 0 ? idle + 1 : 0;
		if (idle > 4) {
			diag("no progress at %zu of %zu", pos, n);
			return -1;
		}
	}
}

static struct codec *
new_codec(enum codec_algo a, bool compress, int level)
{
	return compress ? codec_new_compress(a, level) :
	    codec_new_decompress(a);
}

/* Runs one codec over a whole buffer; the result goes to *out. */
static int
xrun(enum codec_algo a, bool compress, int level, const unsigned char *in,
    size_t n, struct buf *out, enum split split, uint64_t seed,
    char *err, size_t errlen)
{
	struct codec *c = new_codec(a, compress, level);
	int rc;

	buf_init(out, 0);
	rc = pump(c, in, n, out, split, seed);
	if (err != NULL)
		snprintf(err, errlen, "%s", codec_error(c));
	codec_free(c);
	return rc;
}

static bool
same(const struct buf *b, const unsigned char *p, size_t n)
{
	return b->len == n && (n == 0 || memcmp(b->data, p, n) == 0);
}

/* ---- round trips ---- */

struct sample {
	const char *what;
	unsigned char *p;
	size_t n;
};

static void
round_trip(enum codec_algo a, int level, const struct sample *s,
    enum split split, uint64_t seed)
{
	struct buf z, back;
	int rc1, rc2;

	rc1 = xrun(a, true, level, s->p, s->n, &z, split, seed, NULL, 0);
	rc2 = xrun(a, false, 0, (unsigned char *)z.data, z.len, &back, split,
	    seed + 1, NULL, 0);
	snprintf(name, sizeof(name), "%s level %d, %s (%s split): round trip",
	    codec_name(a), level, s->what, split == SPLIT_BYTES ? "byte" :
	    split == SPLIT_BIG ? "whole" : "random");
	if (!ok(rc1 == XF_DONE && rc2 == XF_DONE && same(&back, s->p, s->n),
	    name))
		diag("rc %d/%d, %zu -> %zu -> %zu", rc1, rc2, s->n, z.len,
		    back.len);
	if (a != CODEC_NONE && s->n == 0) {
		snprintf(name, sizeof(name), "%s: empty input still makes a "
		    "stream with the magic", codec_name(a));
		ok(codec_detect((unsigned char *)z.data, z.len) == a, name);
	}
	buf_release(&z);
	buf_release(&back);
}

static void
test_round_trips(void)
{
	struct sample s[4];
	size_t i, j, k;

	s[0] = (struct sample){ "empty", NULL, 0 };
	s[1] = (struct sample){ "1 byte", (unsigned char *)xstrdup("x"), 1 };
	s[2] = (struct sample){ "1 MiB text", make_text(MiB, 1), MiB };
	s[3] = (struct sample){ "1 MiB random", make_random(MiB, 2), MiB };
	for (i = 0; i < ARRAY_SIZE(algos); i++)
		for (j = 0; j < ARRAY_SIZE(levels); j++) {
			if (algos[i] == CODEC_NONE && j > 0)
				continue;
			for (k = 0; k < ARRAY_SIZE(s); k++)
				round_trip(algos[i], levels[j], &s[k],
				    SPLIT_MIXED, 1000 * i + 10 * j + k);
			round_trip(algos[i], levels[j], &s[2], SPLIT_BIG, 7);
		}

	/* One byte in, one byte out, for the whole stream. */
	s[2].n = 24 * KiB;
	s[3].n = 8 * KiB;
	for (i = 0; i < ARRAY_SIZE(algos); i++) {
		round_trip(algos[i], 6, &s[1], SPLIT_BYTES, 0);
		round_trip(algos[i], 6, &s[2], SPLIT_BYTES, 0);
		round_trip(algos[i], 9, &s[3], SPLIT_BYTES, 0);
	}
	for (k = 1; k < ARRAY_SIZE(s); k++)
		free(s[k].p);
}

static void
test_ratio(void)
{
	unsigned char *text = make_text(MiB, 3);
	struct buf z;
	size_t i, j, size[3];

	for (i = 1; i < ARRAY_SIZE(algos); i++) {
		for (j = 0; j < ARRAY_SIZE(levels); j++) {
			xrun(algos[i], true, levels[j], text, MiB, &z,
			    SPLIT_BIG, 0, NULL, 0);
			size[j] = z.len;
			buf_release(&z);
		}
		snprintf(name, sizeof(name), "%s compresses text (%zu, %zu, "
		    "%zu bytes at levels 1, 6, 9)", codec_name(algos[i]),
		    size[0], size[1], size[2]);
		ok(size[0] < MiB / 2 && size[2] <= size[0], name);
	}
	free(text);
}

/* ---- the stock tools ---- */

static char *
tmp_path(const char *base)
{
	return xasprintf("%s/%s", tmpdir, base);
}

static bool
write_all(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	bool good;

	if (f == NULL)
		return false;
	good = n == 0 || fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && good;
}

/* Runs argv with stdin from in_path and stdout to out_path; returns the
 * exit status, 127 when the program is missing. */
static int
run_tool(const char *const argv[], const char *in_path, const char *out_path)
{
	pid_t pid;
	int st, fi, fo;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fi = open(in_path, O_RDONLY);
		fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fi < 0 || fo < 0 || dup2(fi, 0) < 0 || dup2(fo, 1) < 0)
			_exit(126);
		execvp(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Pipes p[0..n) through the tool; returns malloc'ed output or NULL. */
static unsigned char *
tool(const char *const argv[], const void *p, size_t n, size_t *outlen,
    int *status)
{
	char *in = tmp_path("in"), *out = tmp_path("out");
	unsigned char *r = NULL;

	*status = -1;
	if (write_all(in, p, n)) {
		*status = run_tool(argv, in, out);
		if (*status == 0)
			r = (unsigned char *)read_file(out, 512 * MiB, outlen);
	}
	unlink(in);
	unlink(out);
	free(in);
	free(out);
	return r;
}

static bool
have_tool(const char *prog)
{
	const char *argv[] = { prog, "-h", NULL };
	char *null = xstrdup("/dev/null");
	int st = run_tool(argv, null, null);

	free(null);
	return st != 127 && st != 126;
}

struct stock {
	enum codec_algo algo;
	const char *prog;
	const char *comp[5];	/* compress stdin to stdout */
	const char *comp2[6];	/* other options */
	const char *decomp[4];
};

static const struct stock stock[] = {
	{ CODEC_GZIP, "gzip", { "gzip", "-c", NULL },
	    { "gzip", "-c", "-9", "-n", NULL }, { "gzip", "-dc", NULL } },
	{ CODEC_LZ4, "lz4", { "lz4", "-c", "-q", NULL },
	    { "lz4", "-c", "-q", "-9", "-BD" }, { "lz4", "-dc", "-q", NULL } },
	{ CODEC_ZSTD, "zstd", { "zstd", "-c", "-q", NULL },
	    { "zstd", "-c", "-q", "-19", NULL },
	    { "zstd", "-dc", "-q", NULL } },
};

static void
test_tools_one(const struct stock *t, const struct sample *s, size_t ns)
{
	unsigned char *z, *plain;
	struct buf b, back;
	size_t i, j, zn, pn;
	int st, rc;
	char err[CODEC_ERR_MAX];

	for (i = 0; i < ns; i++) {
		/* codec -> tool */
		for (j = 0; j < ARRAY_SIZE(levels); j++) {
			xrun(t->algo, true, levels[j], s[i].p, s[i].n, &b,
			    SPLIT_MIXED, i + j, NULL, 0);
			plain = tool(t->decomp, b.data, b.len, &pn, &st);
			snprintf(name, sizeof(name), "%s -dc reads our %s "
			    "level %d (%s)", t->prog, t->prog, levels[j],
			    s[i].what);
			if (!ok(plain != NULL && pn == s[i].n &&
			    (pn == 0 || memcmp(plain, s[i].p, pn) == 0), name))
				diag("exit status %d", st);
			free(plain);
			buf_release(&b);
		}
		/* tool -> codec */
		for (j = 0; j < 2; j++) {
			z = tool(j == 0 ? t->comp : t->comp2, s[i].p, s[i].n,
			    &zn, &st);
			rc = xrun(t->algo, false, 0, z, zn, &back, SPLIT_MIXED,
			    i, err, sizeof(err));
			snprintf(name, sizeof(name), "we read %s %s output "
			    "(%s)", t->prog, j == 0 ? "default" : "-9/-19",
			    s[i].what);
			if (!ok(z != NULL && rc == XF_DONE &&
			    same(&back, s[i].p, s[i].n), name))
				diag("exit status %d, rc %d: %s", st, rc, err);
			snprintf(name, sizeof(name), "%s output detected as %s",
			    t->prog, t->prog);
			ok(z != NULL && codec_detect(z, zn) == t->algo, name);
			free(z);
			buf_release(&back);
		}
	}
}

/* Two members/frames from the tool back to back, and ours too. */
static void
test_concat(const struct stock *t, const struct sample *s)
{
	unsigned char *z1, *z2, *plain;
	struct buf cat, back, want, ours;
	size_t n1, n2, pn;
	int st, rc;
	char err[CODEC_ERR_MAX];

	z1 = tool(t->comp, s[1].p, s[1].n, &n1, &st);
	z2 = tool(t->comp2, s[2].p, s[2].n, &n2, &st);
	buf_init(&cat, 0);
	buf_init(&want, 0);
	if (z1 != NULL && z2 != NULL) {
		append(&cat, z1, n1);
		append(&cat, z2, n2);
		append(&cat, z1, n1);
	}
	append(&want, s[1].p, s[1].n);
	append(&want, s[2].p, s[2].n);
	append(&want, s[1].p, s[1].n);
	rc = xrun(t->algo, false, 0, (unsigned char *)cat.data, cat.len,
	    &back, SPLIT_MIXED, 5, err, sizeof(err));
	snprintf(name, sizeof(name), "%s: three concatenated %s decompress "
	    "to the concatenation", t->prog, t->algo == CODEC_GZIP ?
	    "members" : "frames");
	if (!ok(cat.len > 0 && rc == XF_DONE &&
	    same(&back, (unsigned char *)want.data, want.len), name))
		diag("rc %d: %s", rc, err);
	buf_release(&back);

	/* ours twice, through the tool */
	buf_reset(&cat);
	xrun(t->algo, true, 1, s[2].p, s[2].n, &ours, SPLIT_BIG, 0, NULL, 0);
	append(&cat, ours.data, ours.len);
	buf_release(&ours);
	xrun(t->algo, true, 9, s[1].p, s[1].n, &ours, SPLIT_BIG, 0, NULL, 0);
	append(&cat, ours.data, ours.len);
	buf_release(&ours);
	buf_reset(&want);
	append(&want, s[2].p, s[2].n);
	append(&want, s[1].p, s[1].n);
	plain = tool(t->decomp, cat.data, cat.len, &pn, &st);
	snprintf(name, sizeof(name), "%s -dc reads two of our streams back "
	    "to back", t->prog);
	ok(plain != NULL && pn == want.len && memcmp(plain, want.data, pn) == 0,
	    name);
	free(plain);
	free(z1);
	free(z2);
	buf_release(&cat);
	buf_release(&want);
}

static void
test_zstd_window(const struct sample *s)
{
	const char *argv[] = { "zstd", "-c", "-q", "-1", "--long=25", NULL };
	unsigned char *z;
	struct buf back;
	size_t zn;
	int st, rc;
	char err[CODEC_ERR_MAX];

	z = tool(argv, s->p, s->n, &zn, &st);
	rc = xrun(CODEC_ZSTD, false, 0, z, zn, &back, SPLIT_BIG, 0, err,
	    sizeof(err));
	ok(z != NULL && rc == XF_ERROR && strstr(err, "window") != NULL,
	    "zstd: a frame with a 32 MiB window is refused");
	diag("%s", err);
	free(z);
	buf_release(&back);
}

static void
test_tools(void)
{
	struct sample s[3];
	unsigned char *rnd_part;
	size_t i;

	s[0] = (struct sample){ "empty", NULL, 0 };
	s[1] = (struct sample){ "text", make_text(300 * KiB, 11), 300 * KiB };
	s[2].what = "2 MiB text and random";
	s[2].n = 2 * MiB;
	s[2].p = make_text(s[2].n, 12);
	rnd_part = make_random(256 * KiB, 13);
	memcpy(s[2].p + MiB, rnd_part, 256 * KiB);
	free(rnd_part);

	if (mkdtemp(tmpdir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(stock); i++) {
		if (!have_tool(stock[i].prog)) {
			snprintf(name, sizeof(name), "%s is not installed",
			    stock[i].prog);
			skip(name);
			continue;
		}
		test_tools_one(&stock[i], s, ARRAY_SIZE(s));
		test_concat(&stock[i], s);
		if (stock[i].algo == CODEC_ZSTD)
			test_zstd_window(&s[2]);
	}
	rmdir(tmpdir);
	free(s[1].p);
	free(s[2].p);
}

/* ---- damage ---- */

static void
test_damage(void)
{
	static const char *const garbage = "garbage!";
	unsigned char *text = make_text(200 * KiB, 21);
	unsigned char *noise = make_random(64 * KiB, 22);
	unsigned char *p;
	size_t i, j, k, cut[8], n;
	struct buf z, back;
	char err[CODEC_ERR_MAX];
	int rc;

	for (i = 1; i < ARRAY_SIZE(algos); i++) {
		enum codec_algo a = algos[i];

		for (k = 0; k < 2; k++) {
			xrun(a, true, 6, k == 0 ? text : noise,
			    k == 0 ? 200 * KiB : 64 * KiB, &z, SPLIT_BIG, 0,
			    NULL, 0);
			n = z.len;
			p = (unsigned char *)z.data;
			cut[0] = 0;
			cut[1] = 1;
			cut[2] = 5;
			cut[3] = 12;
			cut[4] = n / 3;
			cut[5] = n / 2;
			cut[6] = n - 4;
			cut[7] = n - 1;
			for (j = 0; j < ARRAY_SIZE(cut); j++) {
				rc = xrun(a, false, 0, p, cut[j], &back,
				    SPLIT_MIXED, j, err, sizeof(err));
				snprintf(name, sizeof(name), "%s %s: cut at "
				    "%zu of %zu is truncated", codec_name(a),
				    k == 0 ? "text" : "random", cut[j], n);
				if (!ok(rc == XF_ERROR &&
				    strstr(err, "truncated") != NULL, name))
					diag("rc %d: %s", rc, err);
				buf_release(&back);
			}

			for (j = 0; j < 3; j++) {
				size_t at = n / 2 + j * 97;

				p[at] ^= 0x55;
				rc = xrun(a, false, 0, p, n, &back,
				    SPLIT_MIXED, j, err, sizeof(err));
				p[at] ^= 0x55;
				snprintf(name, sizeof(name), "%s %s: byte %zu "
				    "of %zu flipped is corrupt data",
				    codec_name(a), k == 0 ? "text" : "random",
				    at, n);
				if (!ok(rc == XF_ERROR &&
				    strstr(err, "corrupt data") != NULL &&
				    strncmp(err, codec_name(a),
				    strlen(codec_name(a))) == 0, name))
					diag("rc %d: %s", rc, err);
				buf_release(&back);
			}

			append(&z, garbage, strlen(garbage));
			rc = xrun(a, false, 0, (unsigned char *)z.data, z.len,
			    &back, SPLIT_MIXED, 3, err, sizeof(err));
			snprintf(name, sizeof(name), "%s %s: trailing garbage "
			    "is an error", codec_name(a),
			    k == 0 ? "text" : "random");
			if (!ok(rc == XF_ERROR, name))
				diag("rc %d", rc);
			diag("%s", err);
			buf_release(&back);
			buf_release(&z);
		}

		/* the error is final */
		{
			struct codec *c = codec_new_decompress(a);
			size_t used, made;
			unsigned char o[16];

			rc = codec_run(c, (const unsigned char *)garbage,
			    strlen(garbage), &used, o, sizeof(o), &made, true);
			snprintf(name, sizeof(name), "%s: not a stream is an "
			    "error, and stays one", codec_name(a));
			ok(rc == XF_ERROR && *codec_error(c) != '\0' &&
			    codec_run(c, NULL, 0, &used, o, sizeof(o), &made,
			    true) == XF_ERROR, name);
			codec_free(c);
		}
	}
	free(text);
	free(noise);
}

/* ---- tables ---- */

static void
test_tables(void)
{
	static const struct {
		enum codec_algo a;
		int api, native;
	} lv[] = {
		{ CODEC_GZIP, 1, 1 }, { CODEC_GZIP, 5, 5 }, { CODEC_GZIP, 9, 9 },
		{ CODEC_GZIP, 0, 6 }, { CODEC_GZIP, 10, 6 },
		{ CODEC_LZ4, 1, 0 }, { CODEC_LZ4, 3, 0 }, { CODEC_LZ4, 4, 4 },
		{ CODEC_LZ4, 6, 4 }, { CODEC_LZ4, 7, 9 }, { CODEC_LZ4, 9, 9 },
		{ CODEC_LZ4, 0, 4 },
		{ CODEC_ZSTD, 1, 1 }, { CODEC_ZSTD, 3, 1 }, { CODEC_ZSTD, 4, 3 },
		{ CODEC_ZSTD, 6, 3 }, { CODEC_ZSTD, 7, 9 }, { CODEC_ZSTD, 9, 9 },
		{ CODEC_ZSTD, -1, 3 },
		{ CODEC_NONE, 9, 0 },
	};
	static const unsigned char gz[] = { 0x1f, 0x8b, 8, 0 };
	static const unsigned char lz[] = { 0x04, 0x22, 0x4d, 0x18, 0x64 };
	static const unsigned char zs[] = { 0x28, 0xb5, 0x2f, 0xfd, 0 };
	static const unsigned char near[] = { 0x28, 0xb5, 0x2f, 0xfe };
	enum codec_algo a = CODEC_NONE;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lv); i++) {
		snprintf(name, sizeof(name), "%s api level %d -> native %d",
		    codec_name(lv[i].a), lv[i].api, lv[i].native);
		is_int(codec_native_level(lv[i].a, lv[i].api), lv[i].native,
		    name);
	}
	is_str(codec_ext(CODEC_NONE), "", "ext none");
	is_str(codec_ext(CODEC_GZIP), ".gz", "ext gzip");
	is_str(codec_ext(CODEC_LZ4), ".lz4", "ext lz4");
	is_str(codec_ext(CODEC_ZSTD), ".zst", "ext zstd");
	is_str(codec_ext(CODEC__COUNT), "", "ext of an invalid value");
	is_str(codec_name(CODEC_ZSTD), "zstd", "name zstd");
	is_str(codec_name((enum codec_algo)42), "?", "name of invalid value");
	ok(codec_from_name("lz4", &a) == 0 && a == CODEC_LZ4, "parse lz4");
	ok(codec_from_name("", &a) == 0 && a == CODEC_GZIP,
	    "empty name is gzip");
	ok(codec_from_name("none", &a) == 0 && a == CODEC_NONE, "parse none");
	ok(codec_from_name("bzip2", &a) < 0 && a == CODEC_NONE,
	    "unknown name refused");
	is_int(codec_from_api(API_COMPRESSION_NONE), CODEC_NONE, "api none");
	is_int(codec_from_api(API_COMPRESSION_GZIP), CODEC_GZIP, "api gzip");
	is_int(codec_from_api(API_COMPRESSION_LZ4), CODEC_LZ4, "api lz4");
	is_int(codec_from_api(API_COMPRESSION_ZSTD), CODEC_ZSTD, "api zstd");
	is_int(codec_from_api(API_COMPRESSION__COUNT), CODEC__COUNT,
	    "api out of range");
	for (i = 0; i < API_COMPRESSION__COUNT; i++)
		is_str(codec_name(codec_from_api((int)i)),
		    api_compression_algo_names[i][0] ? api_compression_algo_names[i]
		    : "none", "api name matches codec name");
	ok(codec_new_compress(CODEC__COUNT, 6) == NULL &&
	    codec_new_decompress((enum codec_algo)-1) == NULL,
	    "no codec for an invalid algorithm");

	is_int(codec_detect(gz, sizeof(gz)), CODEC_GZIP, "detect gzip");
	is_int(codec_detect(gz, 2), CODEC_GZIP, "detect gzip from 2 bytes");
	is_int(codec_detect(gz, 1), CODEC_NONE, "1 byte is too short");
	is_int(codec_detect(lz, sizeof(lz)), CODEC_LZ4, "detect lz4");
	is_int(codec_detect(lz, 3), CODEC_NONE, "3 bytes of lz4 magic");
	is_int(codec_detect(zs, sizeof(zs)), CODEC_ZSTD, "detect zstd");
	is_int(codec_detect(near, sizeof(near)), CODEC_NONE, "almost zstd");
	is_int(codec_detect((const unsigned char *)"PGDMP", 5), CODEC_NONE,
	    "a pg_dump archive is not compressed");
	is_int(codec_detect(NULL, 0), CODEC_NONE, "nothing");
	ok(codec_mem_bound(CODEC_ZSTD, true, 9) >
	    codec_mem_bound(CODEC_ZSTD, true, 1), "zstd's bound grows with "
	    "the level");
}

/* ---- heap ---- */

#ifdef HEAP_ASAN
size_t __sanitizer_get_current_allocated_bytes(void);

static bool
heap_in_use(size_t *n)
{
	*n = __sanitizer_get_current_allocated_bytes();
	return true;
}
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
static bool
heap_in_use(size_t *n)
{
	struct mallinfo2 mi = mallinfo2();

	*n = mi.uordblks + mi.hblkhd;
	return true;
}
#else
static bool
heap_in_use(size_t *n)
{
	*n = 0;
	return false;
}
#endif

struct heapwatch {
	size_t base, peak;
	bool on;
};

static void
heap_start(struct heapwatch *h)
{
	h->on = heap_in_use(&h->base);
	h->peak = 0;
}

static void
heap_sample(struct heapwatch *h)
{
	size_t n;

	if (h->on && heap_in_use(&n) && n > h->base && n - h->base > h->peak)
		h->peak = n - h->base;
}

/*
 * Streams total bytes of generated text through a compressor and, when
 * check is set, straight into a decompressor whose output is compared
 * with the generator's: every buffer is 64 KiB. Returns the heap peak
 * above the start, or 0 when the heap cannot be measured; *good says the
 * data came back (or, without check, that the compressor finished).
 */
static size_t
stream(enum codec_algo a, int level, size_t total, bool check, bool zeros,
    bool *good, size_t *zsize)
{
	enum { BS = 64 * 1024 };
	unsigned char *src = xmalloc(BS), *mid = xmalloc(BS);
	unsigned char *dst = xmalloc(BS), *want = xmalloc(BS);
	struct textgen gen, ver;
	struct heapwatch h;
	struct codec *c, *d = NULL;
	size_t fed = 0, slen = 0, spos = 0, mlen = 0, mpos = 0, used, made;
	enum xform_rc rc, rd = XF_AGAIN;
	bool cdone = false;

	*good = true;
	*zsize = 0;
	textgen_init(&gen, 77);
	textgen_init(&ver, 77);
	memset(src, 0, BS);
	heap_start(&h);
	c = codec_new_compress(a, level);
	if (check)
		d = codec_new_decompress(a);
	while (!cdone || (check && rd != XF_DONE)) {
		if (spos == slen && fed < total) {
			slen = total - fed < BS ? total - fed : BS;
			if (!zeros)
				textgen_fill(&gen, src, slen);
			fed += slen;
			spos = 0;
		}
		if (!cdone && mpos == mlen) {
			rc = codec_run(c, src + spos, slen - spos, &used, mid,
			    BS, &made, fed == total);
			heap_sample(&h);
			spos += used;
			mpos = 0;
			mlen = made;
			*zsize += made;
			if (rc == XF_ERROR) {
				*good = false;
				break;
			}
			cdone = rc == XF_DONE;
		}
		if (!check) {
			mpos = mlen;
			continue;
		}
		rd = codec_run(d, mid + mpos, mlen - mpos, &used, dst, BS,
		    &made, cdone);
		heap_sample(&h);
		mpos += used;
		if (made > 0) {
			if (!zeros)
				textgen_fill(&ver, want, made);
			else
				memset(want, 0, made);
			if (memcmp(dst, want, made) != 0)
				*good = false;
		}
		if (rd == XF_ERROR || !*good) {
			diag("%s", codec_error(d));
			*good = false;
			break;
		}
	}
	codec_free(c);
	codec_free(d);
	free(src);
	free(mid);
	free(dst);
	free(want);
	return h.on ? h.peak : 0;
}

static void
test_heap(void)
{
	size_t i, j, peak, zsize;
	bool good;

	for (i = 0; i < ARRAY_SIZE(algos); i++) {
		enum codec_algo a = algos[i];

		peak = stream(a, CODEC_LEVEL_DEFAULT, 64 * MiB, true, false,
		    &good, &zsize);
		snprintf(name, sizeof(name), "%s: 64 MiB through 64 KiB "
		    "buffers comes back (%zu compressed)", codec_name(a),
		    zsize);
		ok(good, name);
		if (peak == 0 && a != CODEC_NONE) {
			skip("heap statistics not available here");
			continue;
		}
		snprintf(name, sizeof(name), "%s: compressor and decompressor "
		    "together peak at %zu KiB, within %zu KiB", codec_name(a),
		    peak / KiB, PIPELINE_HEAP_MAX / KiB);
		ok(peak <= PIPELINE_HEAP_MAX, name);

		if (a == CODEC_NONE)
			continue;
		for (j = 0; j < ARRAY_SIZE(levels); j++) {
			peak = stream(a, levels[j], 8 * MiB, false, false,
			    &good, &zsize);
			snprintf(name, sizeof(name), "%s level %d compressor "
			    "peaks at %zu KiB, within its bound of %zu KiB",
			    codec_name(a), levels[j], peak / KiB,
			    codec_mem_bound(a, true, levels[j]) / KiB);
			ok(good && peak > 0 &&
			    peak <= codec_mem_bound(a, true, levels[j]), name);
		}

		/* a decompression bomb only produces output */
		peak = stream(a, 9, 128 * MiB, true, true, &good, &zsize);
		snprintf(name, sizeof(name), "%s: 128 MiB of zeros from %zu "
		    "bytes, heap peak %zu KiB", codec_name(a), zsize,
		    peak / KiB);
		ok(good && zsize < 1 * MiB &&
		    peak <= codec_mem_bound(a, true, 9) +
		    codec_mem_bound(a, false, 9), name);
	}
}

int
main(void)
{
	test_tables();
	test_round_trips();
	test_ratio();
	test_damage();
	test_tools();
	test_heap();
	return done_testing();
}
