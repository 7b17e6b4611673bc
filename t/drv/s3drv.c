/*
 * s3drv - drives the S3 client (src/s3.c) for t/store/s3.t:
 *
 *   s3drv [options] put FILE KEY      upload FILE in random-sized chunks
 *   s3drv [options] get KEY FILE      download KEY (from --offset) to FILE
 *   s3drv [options] list PREFIX       every object under PREFIX
 *   s3drv [options] delete KEY
 *   s3drv [options] stale PREFIX      abort the multipart uploads under it
 *   s3drv [options] copy SRC DST      stream SRC's download into DST's
 *                                     upload (backpressure both ways)
 *
 * Options: --endpoint URL --region R --bucket B --style auto|path|virtual
 *   --cred-file F (lines AWS_ACCESS_KEY_ID=, AWS_SECRET_ACCESS_KEY=,
 *   AWS_SESSION_TOKEN=; the file must not be readable by others; without
 *   it the same variables are read from the environment) --ca F
 *   --part-size N --size-hint N --checksum md5|sha256 --tries N
 *   --retry-initial S --idle-timeout S --page-size N --log-level L
 *   --seed N --max-chunk N (put: chunk sizes) --pause-every N (get: refuse
 *   every Nth chunk, resume 5 ms later) --offset N (get)
 *   --abort-after-parts N (put: s3_put_abort() once N parts are up, then
 *   wait for the background abort) --crash-after-parts N (put: _exit(3)
 *   once N parts are up, leaving the upload behind) --before T (stale).
 *
 * Prints one JSON object per line: {"ev":"item",...} for list, then one
 * result {"ev":"<command>","ok":bool,"err":...,...}, then {"ev":"stats"}.
 * Exit status 0 when the command succeeded, 1 when it failed, 2 on usage.
 * Credentials never travel in argv.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ev.h>

#include "curlev.h"
#include "json.h"
#include "log.h"
#include "s3.h"
#include "util.h"

static const char *prog = "s3drv";

struct drv {
	struct ev_loop *loop;
	struct s3_client *c;
	bool finished;
	bool ok;
	/* put */
	struct s3_put *put;
	FILE *in;
	unsigned char *chunk;
	size_t chunk_len, chunk_off, max_chunk;
	uint64_t seed;
	bool eof;
	unsigned abort_after, crash_after;
	ev_timer feed;
	/* get */
	struct s3_get *get;
	FILE *out;
	unsigned pause_every, calls, pauses;
	uint64_t bytes;
	ev_timer resume;
	/* list */
	unsigned items;
	/* copy: what the upload did not take of the last chunk */
	unsigned char *carry;
	size_t carry_len, carry_cap;
	bool get_done, get_ok;
	char get_err[512];
};

static void
emit(struct jw *w)
{
	size_t len;
	const char *t;

	jw_obj_close(w);
	t = jw_text(w, &len);
	fwrite(t, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	jw_release(w);
}

static void
begin(struct jw *w, const char *ev, bool ok, const char *err)
{
	jw_init(w);
	jw_obj_open(w);
	jw_kstr(w, "ev", ev);
	jw_kbool(w, "ok", ok);
	if (err)
		jw_kstr(w, "err", err);
}

static void
usage(void)
{
	fprintf(stderr, "usage: %s [options] put FILE KEY | get KEY FILE | "
	    "list PREFIX | delete KEY | stale PREFIX | copy SRC DST\n", prog);
	exit(2);
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

/* ---- credentials ---- */

struct creds {
	char *akid, *secret, *token;
};

static char *
env_dup(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? xstrdup(v) : NULL;
}

static int
read_creds(const char *path, struct creds *cr)
{
	struct stat st;
	char *text, *line, *save = NULL;
	size_t len;

	memset(cr, 0, sizeof(*cr));
	if (path == NULL) {
		cr->akid = env_dup("AWS_ACCESS_KEY_ID");
		cr->secret = env_dup("AWS_SECRET_ACCESS_KEY");
		cr->token = env_dup("AWS_SESSION_TOKEN");
		return 0;
	}
	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		fprintf(stderr, "%s: %s is readable by others (chmod 600)\n",
		    prog, path);
		return -1;
	}
	text = read_file(path, 64 * 1024, &len);
	if (text == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line;
	    line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), **dst = NULL;
		size_t n = strlen(line);

		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (eq == NULL)
			continue;
		*eq = '\0';
		if (strcmp(line, "AWS_ACCESS_KEY_ID") == 0)
			dst = &cr->akid;
		else if (strcmp(line, "AWS_SECRET_ACCESS_KEY") == 0)
			dst = &cr->secret;
		else if (strcmp(line, "AWS_SESSION_TOKEN") == 0)
			dst = &cr->token;
		if (dst) {
			free_secret(*dst);
			*dst = xstrdup(eq + 1);
		}
	}
	secure_zero(text, len);
	free(text);
	return 0;
}

static void
creds_free(struct creds *cr)
{
	free_secret(cr->akid);
	free_secret(cr->secret);
	free_secret(cr->token);
}

/* ---- put ---- */

static void feed(struct drv *d);

static void
put_writable(struct s3_put *p, void *arg)
{
	struct drv *d = arg;
	struct jw w;

	if (d->crash_after && s3_put_parts(p) >= d->crash_after) {
		begin(&w, "crash", true, NULL);
		jw_kint(&w, "parts", s3_put_parts(p));
		emit(&w);
		_exit(3);
	}
	if (d->abort_after && s3_put_parts(p) >= d->abort_after) {
		unsigned parts = s3_put_parts(p);

		s3_put_abort(p);
		d->put = NULL;
		begin(&w, "put", false, "aborted");
		jw_kint(&w, "parts", parts);
		emit(&w);
		d->ok = true;	/* the abort is what was asked for */
		d->finished = true;
		return;
	}
	feed(d);
}

static void
put_done(struct s3_put *p, bool ok, const char *err, void *arg)
{
	struct drv *d = arg;
	struct jw w;

	begin(&w, "put", ok, err);
	if (ok)
		jw_kstr(&w, "etag", s3_put_etag(p));
	jw_kint(&w, "size", (long long)s3_put_size(p));
	jw_kint(&w, "parts", s3_put_parts(p));
	emit(&w);
	d->put = NULL;
	d->ok = ok;
	d->finished = true;
}

/* Writes chunks of random size until the client stops taking them. */
static void
feed(struct drv *d)
{
	while (d->put) {
		size_t n;

		if (d->chunk_off == d->chunk_len) {
			size_t want = 1 + (size_t)(rnd(&d->seed) % d->max_chunk);

			if (d->eof) {
				s3_put_finish(d->put);
				return;
			}
			d->chunk_len = fread(d->chunk, 1, want, d->in);
			d->chunk_off = 0;
			if (d->chunk_len < want) {
				if (ferror(d->in)) {
					fprintf(stderr, "%s: read error\n", prog);
					exit(1);
				}
				d->eof = true;
			}
			continue;
		}
		n = s3_put_write(d->put, d->chunk + d->chunk_off,
		    d->chunk_len - d->chunk_off);
		d->chunk_off += n;
		if (d->chunk_off < d->chunk_len)
			return;		/* taken in part: wait for writable */
	}
}

static void
feed_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct drv *d = container_of(w, struct drv, feed);

	(void)loop;
	(void)revents;
	feed(d);
}

/* ---- get ---- */

static void
resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct drv *d = container_of(w, struct drv, resume);

	(void)loop;
	(void)revents;
	if (d->get)
		s3_get_resume(d->get);
}

static bool
get_data(struct s3_get *g, const void *p, size_t n, void *arg)
{
	struct drv *d = arg;

	(void)g;
	d->calls++;
	if (d->pause_every && d->calls % d->pause_every == 0) {
		d->pauses++;
		ev_timer_set(&d->resume, 0.005, 0.);
		ev_timer_start(d->loop, &d->resume);
		return false;
	}
	if (fwrite(p, 1, n, d->out) != n) {
		fprintf(stderr, "%s: write error\n", prog);
		exit(1);
	}
	d->bytes += n;
	return true;
}

static void
get_done(struct s3_get *g, bool ok, const char *err, void *arg)
{
	struct drv *d = arg;
	struct jw w;

	begin(&w, "get", ok, err);
	jw_kint(&w, "bytes", (long long)d->bytes);
	jw_kint(&w, "size", s3_get_size(g));
	jw_kint(&w, "pauses", d->pauses);
	emit(&w);
	d->get = NULL;
	d->ok = ok;
	d->finished = true;
}

/* ---- copy ---- */

static void
copy_finish(struct drv *d)
{
	if (d->carry_len > 0 || !d->get_done || d->put == NULL)
		return;
	if (d->get_ok) {
		s3_put_finish(d->put);
	} else {
		struct jw w;

		s3_put_abort(d->put);
		d->put = NULL;
		begin(&w, "copy", false, d->get_err);
		emit(&w);
		d->ok = false;
		d->finished = true;
	}
}

/* Hands the carried bytes to the upload; true when all went. */
static bool
copy_drain(struct drv *d)
{
	while (d->carry_len > 0) {
		size_t n = s3_put_write(d->put, d->carry, d->carry_len);

		if (n == 0)
			return false;
		memmove(d->carry, d->carry + n, d->carry_len - n);
		d->carry_len -= n;
	}
	return true;
}

static void
copy_writable(struct s3_put *p, void *arg)
{
	struct drv *d = arg;

	(void)p;
	if (!copy_drain(d))
		return;
	if (d->get)
		s3_get_resume(d->get);
	copy_finish(d);
}

/* Inside curl's write callback of the download: the upload is fed from
 * here. */
static bool
copy_data(struct s3_get *g, const void *p, size_t n, void *arg)
{
	struct drv *d = arg;
	size_t k;

	(void)g;
	if (d->carry_len > 0) {
		d->pauses++;
		return false;	/* resumed from copy_writable */
	}
	k = s3_put_write(d->put, p, n);
	if (k < n) {
		if (d->carry_cap < n - k) {
			d->carry_cap = n - k;
			d->carry = xrealloc(d->carry, d->carry_cap);
		}
		memcpy(d->carry, (const char *)p + k, n - k);
		d->carry_len = n - k;
	}
	d->bytes += n;
	return true;
}

static void
copy_get_done(struct s3_get *g, bool ok, const char *err, void *arg)
{
	struct drv *d = arg;

	(void)g;
	d->get = NULL;
	d->get_done = true;
	d->get_ok = ok;
	snprintf(d->get_err, sizeof(d->get_err), "%s", err ? err : "");
	copy_finish(d);
}

static void
copy_put_done(struct s3_put *p, bool ok, const char *err, void *arg)
{
	struct drv *d = arg;
	struct jw w;

	begin(&w, "copy", ok, err);
	if (ok)
		jw_kstr(&w, "etag", s3_put_etag(p));
	jw_kint(&w, "size", (long long)s3_put_size(p));
	jw_kint(&w, "parts", s3_put_parts(p));
	jw_kint(&w, "pauses", d->pauses);
	emit(&w);
	d->put = NULL;
	if (d->get) {
		s3_get_cancel(d->get);
		d->get = NULL;
	}
	d->ok = ok;
	d->finished = true;
}

/* ---- list, delete, stale ---- */

static void
list_item(const char *key, uint64_t size, double mtime, void *arg)
{
	struct drv *d = arg;
	struct jw w;

	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "ev", "item");
	jw_kstr(&w, "key", key);
	jw_kint(&w, "size", (long long)size);
	jw_key(&w, "mtime");
	jw_double(&w, mtime);
	emit(&w);
	d->items++;
}

static void
list_done(bool ok, const char *err, void *arg)
{
	struct drv *d = arg;
	struct jw w;

	begin(&w, "list", ok, err);
	jw_kint(&w, "count", d->items);
	emit(&w);
	d->ok = ok;
	d->finished = true;
}

static void
delete_done(bool ok, const char *err, void *arg)
{
	struct drv *d = arg;
	struct jw w;

	begin(&w, "delete", ok, err);
	emit(&w);
	d->ok = ok;
	d->finished = true;
}

static void
stale_done(bool ok, const char *err, unsigned aborted, void *arg)
{
	struct drv *d = arg;
	struct jw w;

	begin(&w, "stale", ok, err);
	jw_kint(&w, "aborted", aborted);
	emit(&w);
	d->ok = ok;
	d->finished = true;
}

static void
print_stats(const struct s3_stats *s)
{
	struct jw w;

	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "ev", "stats");
	jw_kint(&w, "requests", (long long)s->requests);
	jw_kint(&w, "failures", (long long)s->failures);
	jw_kint(&w, "retries", (long long)s->retries);
	jw_kint(&w, "resumes", (long long)s->resumes);
	jw_kint(&w, "bytes_up", (long long)s->bytes_up);
	jw_kint(&w, "bytes_down", (long long)s->bytes_down);
	emit(&w);
}

static long long
num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "%s: bad number %s\n", prog, s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "region", required_argument, NULL, 'r' },
		{ "bucket", required_argument, NULL, 'b' },
		{ "style", required_argument, NULL, 'S' },
		{ "cred-file", required_argument, NULL, 'C' },
		{ "ca", required_argument, NULL, 'a' },
		{ "part-size", required_argument, NULL, 'p' },
		{ "size-hint", required_argument, NULL, 'H' },
		{ "checksum", required_argument, NULL, 'k' },
		{ "tries", required_argument, NULL, 't' },
		{ "retry-initial", required_argument, NULL, 'R' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "page-size", required_argument, NULL, 'P' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "seed", required_argument, NULL, 's' },
		{ "max-chunk", required_argument, NULL, 'm' },
		{ "pause-every", required_argument, NULL, 'w' },
		{ "offset", required_argument, NULL, 'o' },
		{ "abort-after-parts", required_argument, NULL, 'A' },
		{ "crash-after-parts", required_argument, NULL, 'X' },
		{ "before", required_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct s3_config cfg;
	struct creds cr;
	struct drv d;
	struct curlev *m;
	const char *cred_file = NULL, *cmd;
	char err[512];
	int64_t hint = -1;
	uint64_t offset = 0;
	double before = 0;
	enum log_level lvl;
	int ch;

	memset(&cfg, 0, sizeof(cfg));
	memset(&d, 0, sizeof(d));
	cfg.region = "us-east-1";
	d.max_chunk = 100000;
	d.seed = 1;
	log_set_level(LOG_WARN);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'e': cfg.endpoint = optarg; break;
		case 'r': cfg.region = optarg; break;
		case 'b': cfg.bucket = optarg; break;
		case 'S':
			if (strcmp(optarg, "path") == 0)
				cfg.style = S3_STYLE_PATH;
			else if (strcmp(optarg, "virtual") == 0)
				cfg.style = S3_STYLE_VIRTUAL;
			else if (strcmp(optarg, "auto") == 0)
				cfg.style = S3_STYLE_AUTO;
			else
				usage();
			break;
		case 'C': cred_file = optarg; break;
		case 'a': cfg.ca_file = optarg; break;
		case 'p': cfg.part_size = (size_t)num(optarg); break;
		case 'H': hint = num(optarg); break;
		case 'k':
			if (strcmp(optarg, "sha256") == 0)
				cfg.checksum = S3_CHECKSUM_SHA256;
			else if (strcmp(optarg, "md5") == 0)
				cfg.checksum = S3_CHECKSUM_MD5;
			else
				usage();
			break;
		case 't': cfg.max_tries = (int)num(optarg); break;
		case 'R': cfg.retry_initial = atof(optarg); break;
		case 'i': cfg.idle_timeout = atof(optarg); break;
		case 'P': cfg.list_page_size = (unsigned)num(optarg); break;
		case 'L':
			if (log_level_parse(optarg, &lvl) < 0)
				usage();
			log_set_level(lvl);
			break;
		case 's': d.seed = (uint64_t)num(optarg); break;
		case 'm': d.max_chunk = (size_t)num(optarg); break;
		case 'w': d.pause_every = (unsigned)num(optarg); break;
		case 'o': offset = (uint64_t)num(optarg); break;
		case 'A': d.abort_after = (unsigned)num(optarg); break;
		case 'X': d.crash_after = (unsigned)num(optarg); break;
		case 'B': before = atof(optarg); break;
		default: usage();
		}
	}
	if (optind >= argc || d.max_chunk == 0)
		usage();
	cmd = argv[optind++];
	signal(SIGPIPE, SIG_IGN);
	if (read_creds(cred_file, &cr) < 0)
		return 2;
	cfg.access_key_id = cr.akid;
	cfg.secret_key = cr.secret;
	cfg.session_token = cr.token;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	d.loop = ev_default_loop(0);
	m = curlev_new(d.loop);
	d.c = m ? s3_client_new(m, &cfg, err, sizeof(err)) : NULL;
	creds_free(&cr);
	if (d.c == NULL) {
		struct jw w;

		begin(&w, cmd, false, m ? err : "curl_multi_init failed");
		emit(&w);
		curlev_free(m);
		curl_global_cleanup();
		return 1;
	}
	ev_timer_init(&d.feed, feed_cb, 0., 0.);
	ev_timer_init(&d.resume, resume_cb, 0., 0.);

	if (strcmp(cmd, "put") == 0 && optind + 2 == argc) {
		static const struct s3_put_cb pcb = { put_writable, put_done };

		d.in = fopen(argv[optind], "rb");
		if (d.in == NULL) {
			fprintf(stderr, "%s: %s: %s\n", prog, argv[optind],
			    strerror(errno));
			return 1;
		}
		d.chunk = xmalloc(d.max_chunk);
		d.put = s3_put_new(d.c, argv[optind + 1], hint, &pcb, &d);
		ev_timer_start(d.loop, &d.feed);
	} else if (strcmp(cmd, "get") == 0 && optind + 2 == argc) {
		static const struct s3_get_cb gcb = { get_data, get_done };

		d.out = fopen(argv[optind + 1], "wb");
		if (d.out == NULL) {
			fprintf(stderr, "%s: %s: %s\n", prog, argv[optind + 1],
			    strerror(errno));
			return 1;
		}
		d.get = s3_get_new(d.c, argv[optind], offset, &gcb, &d);
	} else if (strcmp(cmd, "copy") == 0 && optind + 2 == argc) {
		static const struct s3_get_cb gcb = { copy_data, copy_get_done };
		static const struct s3_put_cb pcb = { copy_writable,
		    copy_put_done };

		d.put = s3_put_new(d.c, argv[optind + 1], hint, &pcb, &d);
		d.get = s3_get_new(d.c, argv[optind], offset, &gcb, &d);
	} else if (strcmp(cmd, "list") == 0 && optind + 1 == argc) {
		static const struct s3_list_cb lcb = { list_item, list_done };

		s3_list(d.c, argv[optind], &lcb, &d);
	} else if (strcmp(cmd, "delete") == 0 && optind + 1 == argc) {
		s3_delete(d.c, argv[optind], delete_done, &d);
	} else if (strcmp(cmd, "stale") == 0 && optind + 1 == argc) {
		s3_abort_stale_before(d.c, argv[optind], before, stale_done, &d);
	} else {
		usage();
	}

	/* Until the command is done and background aborts have finished. */
	while (!d.finished || s3_client_pending(d.c) > 0)
		ev_run(d.loop, EVRUN_ONCE);

	print_stats(s3_client_stats(d.c));
	ev_timer_stop(d.loop, &d.feed);
	ev_timer_stop(d.loop, &d.resume);
	s3_client_free(d.c);
	curlev_free(m);
	curl_global_cleanup();
	if (d.in)
		fclose(d.in);
	if (d.out && fclose(d.out) != 0) {
		fprintf(stderr, "%s: write error\n", prog);
		d.ok = false;
	}
	free(d.chunk);
	free(d.carry);
	ev_loop_destroy(d.loop);
	return d.ok ? 0 : 1;
}
