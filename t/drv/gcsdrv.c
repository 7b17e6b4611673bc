/*
 * gcsdrv - test driver for the Google Cloud Storage client: one operation
 * per run, on an ev loop, with a line of result on stdout.
 *
 *   gcsdrv --bucket B [options] put FILE KEY
 *     PUT ok key=K size=N md5=.. crc32c=.. generation=G | PUT failed: ERR
 *   gcsdrv --bucket B [options] get KEY FILE
 *     GET ok key=K bytes=N | GET failed: ERR | GET cancelled bytes=N
 *   gcsdrv --bucket B [options] list PREFIX
 *     ITEM key size mtime ... then LIST ok count=N | LIST failed: ERR
 *   gcsdrv --bucket B [options] delete KEY
 *     DELETE ok key=K | DELETE failed: ERR
 *   gcsdrv --bucket B [options] --abort-after N abort-test FILE KEY
 *     writes N bytes of FILE, aborts, waits until the client is idle:
 *     ABORTED key=K written=N (--abort-at-finish 1: writes all of FILE,
 *     finishes, and aborts right after, the last request in flight)
 *   and always, last: STATS up=.. down=.. requests=.. retries=.. errors=..
 *     tokens=..
 *
 * Options: --endpoint URL, --sa-file PATH (the service-account key; the
 * file must not be readable by group or others; else $GCS_SA_JSON holds
 * the key itself; neither: anonymous), --part-size N, --page-size N,
 * --tries N, --retry-delay S, --timeout S, --ca-file F, --insecure,
 * --log-level L, --seed N, --chunk-min N, --chunk-max N (sizes of the
 * writes, random in between), --offset N (get), --pause-every N (get:
 * every Nth delivery is refused, and taken again after a resume 5 ms
 * later), --cancel-after N (get: cancel from inside the data callback
 * once N bytes came). Exit 0 on success, 1 on failure, 2 on misuse.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>

#include "curlev.h"
#include "gcs.h"
#include "log.h"
#include "util.h"

static struct ev_loop *loop;
static struct gcs_client *client;
static int exit_code;
static ev_timer idle_poll;

static unsigned long long seed = 1;
static size_t chunk_min = 1, chunk_max = 65536;
static uint64_t offset, abort_after, cancel_after;
static bool abort_at_finish;
static unsigned pause_every;

static uint64_t
rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static void
usage(void)
{
	fprintf(stderr, "usage: gcsdrv --bucket B [options] put FILE KEY | "
	    "get KEY FILE | list PREFIX | delete KEY | abort-test FILE KEY\n");
	exit(2);
}

/* Ends the run once the client has nothing left in flight (aborts leave
 * a session cancellation running). */
static void
idle_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	if (gcs_client_busy(client) == 0) {
		ev_timer_stop(l, &idle_poll);
		ev_break(l, EVBREAK_ALL);
	}
}

static void
finish_when_idle(void)
{
	ev_timer_init(&idle_poll, idle_cb, 0., 0.005);
	ev_timer_again(loop, &idle_poll);
}

/* ---- put / abort-test ---- */

static int in_fd = -1;
static struct gcs_put *put;
static const char *put_key;
static char *pending;
static size_t pending_len, pending_pos;
static uint64_t written;
static bool aborting;

static void
pump(void)
{
	for (;;) {
		size_t n;

		if (pending_pos == pending_len) {
			size_t want = chunk_min + (size_t)(rnd() %
			    (chunk_max - chunk_min + 1));
			ssize_t got;

			if (aborting && !abort_at_finish &&
			    abort_after - written < want)
				want = (size_t)(abort_after - written);
			pending = xrealloc(pending, want ? want : 1);
			got = read(in_fd, pending, want);
			if (got < 0) {
				fprintf(stderr, "read: %s\n", strerror(errno));
				exit(1);
			}
			pending_len = (size_t)got;
			pending_pos = 0;
			if (got == 0 && !aborting) {
				gcs_put_finish(put);
				return;
			}
			if (got == 0 && abort_at_finish) {
				gcs_put_finish(put);
				gcs_put_abort(put);
				put = NULL;
				printf("ABORTED key=%s written=%" PRIu64 "\n",
				    put_key, written);
				finish_when_idle();
				return;
			}
		}
		if (aborting && !abort_at_finish && written >= abort_after) {
			gcs_put_abort(put);
			put = NULL;
			printf("ABORTED key=%s written=%" PRIu64 "\n", put_key,
			    written);
			finish_when_idle();
			return;
		}
		if (pending_len == 0 && !abort_at_finish) {
			fprintf(stderr, "abort-test: the file is shorter than "
			    "--abort-after\n");
			exit(2);
		}
		n = gcs_put_write(put, pending + pending_pos,
		    pending_len - pending_pos);
		if (n == 0)
			return;		/* writable comes */
		pending_pos += n;
		written += n;
	}
}

static void
put_writable(struct gcs_put *p, void *arg)
{
	(void)p;
	(void)arg;
	pump();
}

static void
put_done(struct gcs_put *p, bool ok, const char *err, void *arg)
{
	(void)arg;
	if (ok) {
		const struct gcs_object_info *i = gcs_put_info(p);

		printf("PUT ok key=%s size=%" PRIu64 " md5=%s crc32c=%s "
		    "generation=%" PRId64 "\n", put_key, i->size, i->md5,
		    i->crc32c, i->generation);
	} else {
		printf("PUT failed: %s\n", err);
		exit_code = 1;
	}
	put = NULL;
	finish_when_idle();
}

static void
start_put(const char *file, const char *key, bool abort_test)
{
	static const struct gcs_put_cb cb = { put_writable, put_done };
	struct stat st;

	in_fd = open(file, O_RDONLY | O_CLOEXEC);
	if (in_fd < 0 || fstat(in_fd, &st) < 0) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		exit(2);
	}
	put_key = key;
	aborting = abort_test;
	put = gcs_put_new(client, key, st.st_size, &cb, NULL);
	pump();
}

/* ---- get ---- */

static int out_fd = -1;
static struct gcs_get *get;
static const char *get_key;
static uint64_t got_bytes;
static unsigned deliveries;
static ev_timer resume_timer;

static void
resume_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	if (get)
		gcs_get_resume(get);
}

static bool
get_data(struct gcs_get *g, const void *p, size_t n, void *arg)
{
	const char *b = p;

	(void)arg;
	if (pause_every && ++deliveries % pause_every == 0) {
		ev_timer_stop(loop, &resume_timer);
		ev_timer_set(&resume_timer, 0.005, 0.);
		ev_timer_start(loop, &resume_timer);
		return false;
	}
	while (n > 0) {
		ssize_t w = write(out_fd, b, n);

		if (w < 0) {
			fprintf(stderr, "write: %s\n", strerror(errno));
			exit(1);
		}
		b += w;
		n -= (size_t)w;
		got_bytes += (uint64_t)w;
	}
	if (cancel_after && got_bytes >= cancel_after) {
		gcs_get_cancel(g);
		get = NULL;
		printf("GET cancelled bytes=%" PRIu64 "\n", got_bytes);
		finish_when_idle();
	}
	return true;
}

static void
get_done(struct gcs_get *g, bool ok, const char *err, void *arg)
{
	(void)g;
	(void)arg;
	if (ok) {
		printf("GET ok key=%s bytes=%" PRIu64 "\n", get_key, got_bytes);
	} else {
		printf("GET failed: %s\n", err);
		exit_code = 1;
	}
	get = NULL;
	finish_when_idle();
}

static void
start_get(const char *key, const char *file)
{
	static const struct gcs_get_cb cb = { get_data, get_done };

	out_fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out_fd < 0) {
		fprintf(stderr, "%s: %s\n", file, strerror(errno));
		exit(2);
	}
	get_key = key;
	ev_timer_init(&resume_timer, resume_cb, 0., 0.);
	get = gcs_get_new(client, key, offset, &cb, NULL);
}

/* ---- list / delete ---- */

static unsigned long items;

static void
list_item(const char *key, uint64_t size, int64_t mtime, void *arg)
{
	(void)arg;
	items++;
	printf("ITEM %s %" PRIu64 " %" PRId64 "\n", key, size, mtime);
}

static void
list_done(bool ok, const char *err, void *arg)
{
	(void)arg;
	if (ok) {
		printf("LIST ok count=%lu\n", items);
	} else {
		printf("LIST failed: %s\n", err);
		exit_code = 1;
	}
	finish_when_idle();
}

static const char *del_key;

static void
delete_done(bool ok, const char *err, void *arg)
{
	(void)arg;
	if (ok) {
		printf("DELETE ok key=%s\n", del_key);
	} else {
		printf("DELETE failed: %s\n", err);
		exit_code = 1;
	}
	finish_when_idle();
}

/* ---- main ---- */

/* The key from a file only its owner can read, or from the environment. */
static char *
read_key(const char *path, size_t *len)
{
	struct stat st;
	char *s;
	int fd;

	if (path == NULL) {
		const char *env = getenv("GCS_SA_JSON");

		if (env == NULL || *env == '\0')
			return NULL;
		*len = strlen(env);
		return xstrdup(env);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (st.st_mode & 077) {
		fprintf(stderr, "%s: the key file is readable by group or others\n",
		    path);
		exit(2);
	}
	close(fd);
	s = read_file(path, 64 * 1024, len);
	if (s == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(2);
	}
	return s;
}

static unsigned long long
num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	struct gcs_config cfg = { 0 };
	const char *sa_file = NULL, *level = "warn";
	struct curlev *m;
	char err[300], *key;
	size_t keylen = 0;
	enum log_level lv;
	const struct gcs_stats *st;
	int i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(o, "--insecure") == 0) {
			cfg.tls_insecure = true;
			continue;
		}
		if (v == NULL)
			usage();
		i++;
		if (strcmp(o, "--endpoint") == 0)
			cfg.endpoint = v;
		else if (strcmp(o, "--bucket") == 0)
			cfg.bucket = v;
		else if (strcmp(o, "--sa-file") == 0)
			sa_file = v;
		else if (strcmp(o, "--ca-file") == 0)
			cfg.ca_file = v;
		else if (strcmp(o, "--part-size") == 0)
			cfg.part_size = (size_t)num(v);
		else if (strcmp(o, "--page-size") == 0)
			cfg.list_page_size = (unsigned)num(v);
		else if (strcmp(o, "--tries") == 0)
			cfg.max_tries = (int)num(v);
		else if (strcmp(o, "--retry-delay") == 0)
			cfg.retry_delay = atof(v);
		else if (strcmp(o, "--timeout") == 0)
			cfg.timeout = atof(v);
		else if (strcmp(o, "--log-level") == 0)
			level = v;
		else if (strcmp(o, "--seed") == 0)
			seed = num(v) | 1;
		else if (strcmp(o, "--chunk-min") == 0)
			chunk_min = (size_t)num(v);
		else if (strcmp(o, "--chunk-max") == 0)
			chunk_max = (size_t)num(v);
		else if (strcmp(o, "--offset") == 0)
			offset = num(v);
		else if (strcmp(o, "--pause-every") == 0)
			pause_every = (unsigned)num(v);
		else if (strcmp(o, "--cancel-after") == 0)
			cancel_after = num(v);
		else if (strcmp(o, "--abort-after") == 0)
			abort_after = num(v);
		else if (strcmp(o, "--abort-at-finish") == 0)
			abort_at_finish = num(v) != 0;
		else
			usage();
	}
	if (i >= argc || chunk_min == 0 || chunk_max < chunk_min)
		usage();
	if (log_level_parse(level, &lv) < 0)
		usage();
	log_set_level(lv);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = ev_default_loop(0);
	m = curlev_new(loop);
	key = read_key(sa_file, &keylen);
	cfg.sa_json = key;
	cfg.sa_json_len = keylen;
	client = gcs_client_new(m, &cfg, err, sizeof(err));
	if (key) {
		secure_zero(key, keylen);
		free(key);
	}
	if (client == NULL) {
		printf("CLIENT failed: %s\n", err);
		return 1;
	}

	if (strcmp(argv[i], "put") == 0 && argc - i == 3)
		start_put(argv[i + 1], argv[i + 2], false);
	else if (strcmp(argv[i], "abort-test") == 0 && argc - i == 3 &&
	    (abort_after > 0 || abort_at_finish))
		start_put(argv[i + 1], argv[i + 2], true);
	else if (strcmp(argv[i], "get") == 0 && argc - i == 3)
		start_get(argv[i + 1], argv[i + 2]);
	else if (strcmp(argv[i], "list") == 0 && argc - i == 2) {
		static const struct gcs_list_cb cb = { list_item, list_done };

		(void)gcs_list(client, argv[i + 1], &cb, NULL);
	} else if (strcmp(argv[i], "delete") == 0 && argc - i == 2) {
		del_key = argv[i + 1];
		(void)gcs_delete(client, del_key, delete_done, NULL);
	} else
		usage();
	fflush(stdout);

	ev_run(loop, 0);

	st = gcs_client_stats(client);
	printf("STATS up=%" PRIu64 " down=%" PRIu64 " requests=%" PRIu64
	    " retries=%" PRIu64 " errors=%" PRIu64 " tokens=%" PRIu64 "\n",
	    st->bytes_up, st->bytes_down, st->requests, st->retries,
	    st->errors, st->token_fetches);
	gcs_client_free(client);
	curlev_free(m);
	curl_global_cleanup();
	ev_loop_destroy(loop);
	free(pending);
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0 && close(out_fd) < 0) {
		fprintf(stderr, "close: %s\n", strerror(errno));
		return 1;
	}
	return exit_code;
}
