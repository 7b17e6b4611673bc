/*
 * azblobdrv - test driver for the Azure Blob client: one operation per
 * run, on an ev loop, reporting one line on stdout.
 *
 *   azblobdrv [options] put FILE KEY     PUT ok size=N md5=B64 blocks=N
 *   azblobdrv [options] get KEY FILE     GET ok size=N resumes=N
 *   azblobdrv [options] list PREFIX      ITEM key size mtime ...
 *                                        LIST ok n=N pages=N
 *   azblobdrv [options] delete KEY       DELETE ok
 *   azblobdrv [options] abort-test FILE KEY
 *       writes FILE until the third time a part is in flight, aborts
 *       there, runs the loop on for a while: ABORTED blocks=N
 *       requests=N callbacks=0
 * Failures print "<OP> failed: <error>" and exit 1. Every run ends with
 * "STATS up=.. down=.. requests=.. retries=.. errors=..".
 *
 * Options: --endpoint URL --account NAME --container NAME --part-size N
 *   --page-size N --tries N --retry-delay S --idle-timeout S --offset N
 *   --pause-every N (get: the consumer pauses every N chunks, for 5 ms
 *   or --pause-ms MS)
 *   --seed N (put: chunk sizes) --creds FILE --log-level LEVEL
 *
 * Credentials are never taken from argv: --creds names a file of
 * KEY=VALUE lines that must be mode 0600 (AZURE_STORAGE_ACCOUNT_KEY,
 * AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING, ...), and
 * without it the same names are read from the environment.
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

#include "azblob.h"
#include "curlev.h"
#include "log.h"
#include "util.h"

#define MAX_CREDS 16

static struct ev_loop *loop;
static struct azblob_client *client;
static int exit_code = 1;
static char *creds_kv[MAX_CREDS][2];
static bool use_file;

/* ---- credentials ---- */

static const char *
cred_get(const char *name, void *arg)
{
	size_t i;

	(void)arg;
	if (!use_file)
		return getenv(name);
	for (i = 0; i < MAX_CREDS && creds_kv[i][0]; i++)
		if (strcmp(creds_kv[i][0], name) == 0)
			return creds_kv[i][1];
	return NULL;
}

static int
load_creds(const char *path)
{
	struct stat sb;
	char *text, *line, *save = NULL;
	size_t n = 0, len = 0;

	if (stat(path, &sb) < 0 || (sb.st_mode & 077) != 0) {
		fprintf(stderr, "azblobdrv: %s must exist with mode 0600\n", path);
		return -1;
	}
	text = read_file(path, 1 << 20, &len);
	if (text == NULL) {
		fprintf(stderr, "azblobdrv: cannot read %s\n", path);
		return -1;
	}
	for (line = strtok_r(text, "\n", &save); line && n < MAX_CREDS;
	    line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (eq == NULL || line[0] == '#')
			continue;
		*eq = '\0';
		creds_kv[n][0] = xstrdup(line);
		creds_kv[n][1] = xstrdup(eq + 1);
		n++;
	}
	secure_zero(text, len);
	free(text);
	use_file = true;
	return 0;
}

static void
free_creds(void)
{
	size_t i;

	for (i = 0; i < MAX_CREDS && creds_kv[i][0]; i++) {
		free(creds_kv[i][0]);
		free_secret(creds_kv[i][1]);
	}
}

/* ---- the operations ---- */

static void
stop(int code)
{
	exit_code = code;
	ev_break(loop, EVBREAK_ALL);
}

/* put: the file goes in chunks of random sizes */
struct putter {
	struct azblob_put *p;
	int fd;
	char *chunk;
	size_t len, pos;
	uint64_t seed;
	bool eof;
	bool abort_test;
	int stalls;		/* writes that returned 0 */
	int callbacks;		/* after an abort: must stay 0 */
	ev_idle kick;
	ev_timer abort;		/* abort-test: abort in the middle */
	ev_timer linger;	/* ... then wait for stray callbacks */
};

static struct putter pt;
static unsigned blocks_seen;
static uint64_t requests_seen;

static size_t
next_size(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return 1 + (size_t)(*s % 300000);
}

static void
linger_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	printf("ABORTED blocks=%u requests=%" PRIu64 " callbacks=%d\n",
	    blocks_seen, requests_seen, pt.callbacks);
	stop(pt.callbacks == 0 ? 0 : 1);
}

static void
abort_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	blocks_seen = azblob_put_blocks(pt.p);
	requests_seen = azblob_client_stats(client)->requests;
	azblob_put_abort(pt.p);
	pt.p = NULL;
	ev_timer_init(&pt.linger, linger_cb, 1.0, 0.);
	ev_timer_start(l, &pt.linger);
}

static void
feed(void)
{
	for (;;) {
		size_t took;

		if (pt.pos == pt.len) {
			ssize_t n;
			size_t want = next_size(&pt.seed);

			if (pt.eof)
				return;
			n = read(pt.fd, pt.chunk, want);
			if (n < 0) {
				printf("PUT failed: read: %s\n", strerror(errno));
				azblob_put_abort(pt.p);
				stop(1);
				return;
			}
			if (n == 0) {
				pt.eof = true;
				azblob_put_finish(pt.p);
				return;
			}
			pt.len = (size_t)n;
			pt.pos = 0;
		}
		took = azblob_put_write(pt.p, pt.chunk + pt.pos, pt.len - pt.pos);
		if (took == 0) {
			pt.stalls++;
			if (pt.abort_test && pt.stalls == 3) {
				/* The third part is on its way: abort then. */
				ev_timer_init(&pt.abort, abort_cb, 0.01, 0.);
				ev_timer_start(loop, &pt.abort);
			}
			return;
		}
		pt.pos += took;
	}
}

static void
kick_cb(struct ev_loop *l, ev_idle *w, int revents)
{
	(void)revents;
	ev_idle_stop(l, w);
	feed();
}

static void
put_writable(struct azblob_put *p, void *arg)
{
	(void)p;
	(void)arg;
	if (pt.p == NULL) {
		pt.callbacks++;
		return;
	}
	feed();
}

static void
put_done(struct azblob_put *p, bool ok, const char *err, void *arg)
{
	(void)arg;
	if (pt.p == NULL) {
		pt.callbacks++;
		return;
	}
	if (ok)
		printf("PUT ok size=%" PRIu64 " md5=%s blocks=%u\n",
		    azblob_put_size(p), azblob_put_md5(p), azblob_put_blocks(p));
	else
		printf("PUT failed: %s\n", err);
	pt.p = NULL;
	stop(ok ? 0 : 1);
}

static int
start_put(const char *file, const char *key, uint64_t seed, bool abort_test)
{
	static const struct azblob_put_cb cb = { put_writable, put_done };
	struct stat sb;

	pt.fd = open(file, O_RDONLY | O_CLOEXEC);
	if (pt.fd < 0 || fstat(pt.fd, &sb) < 0) {
		fprintf(stderr, "azblobdrv: %s: %s\n", file, strerror(errno));
		return -1;
	}
	pt.chunk = xmalloc(300000);
	pt.seed = seed ? seed : 1;
	pt.abort_test = abort_test;
	/* No hint: dumps come from a pipe. */
	pt.p = azblob_put_new(client, key, -1, &cb, NULL);
	ev_idle_init(&pt.kick, kick_cb);
	ev_idle_start(loop, &pt.kick);
	return 0;
}

/* get: into a file, pausing now and then */
struct getter {
	struct azblob_get *g;
	int fd;
	int pause_every;
	double pause;
	unsigned long calls;
	ev_timer resume;
};

static struct getter gt;

static void
resume_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	azblob_get_resume(gt.g);
}

static bool
get_data(struct azblob_get *g, const void *p, size_t n, void *arg)
{
	const char *s = p;

	(void)g;
	(void)arg;
	while (n > 0) {
		ssize_t w = write(gt.fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			printf("GET failed: write: %s\n", strerror(errno));
			azblob_get_cancel(gt.g);
			gt.g = NULL;
			stop(1);
			return false;
		}
		s += w;
		n -= (size_t)w;
	}
	gt.calls++;
	if (gt.pause_every > 0 && gt.calls % (unsigned long)gt.pause_every == 0) {
		ev_timer_set(&gt.resume, gt.pause, 0.);
		ev_timer_start(loop, &gt.resume);
		return false;
	}
	return true;
}

static void
get_done(struct azblob_get *g, bool ok, const char *err, void *arg)
{
	(void)arg;
	ev_timer_stop(loop, &gt.resume);
	if (ok)
		printf("GET ok size=%" PRIu64 " resumes=%u\n",
		    azblob_get_size(g), azblob_get_resumes(g));
	else
		printf("GET failed: %s\n", err);
	gt.g = NULL;
	stop(ok ? 0 : 1);
}

static int
start_get(const char *key, const char *file, uint64_t offset, int pause_every,
    double pause)
{
	static const struct azblob_get_cb cb = { get_data, get_done };

	gt.fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (gt.fd < 0) {
		fprintf(stderr, "azblobdrv: %s: %s\n", file, strerror(errno));
		return -1;
	}
	gt.pause_every = pause_every;
	gt.pause = pause;
	ev_timer_init(&gt.resume, resume_cb, 0., 0.);
	gt.g = azblob_get_new(client, key, offset, &cb, NULL);
	return 0;
}

/* list, delete */
static unsigned long listed;

static void
list_item(struct azblob_list *l, const char *key, uint64_t size,
    int64_t mtime, void *arg)
{
	(void)l;
	(void)arg;
	printf("ITEM %s %" PRIu64 " %" PRId64 "\n", key, size, mtime);
	listed++;
}

static void
list_done(struct azblob_list *l, bool ok, const char *err, void *arg)
{
	(void)arg;
	if (ok)
		printf("LIST ok n=%lu pages=%u\n", listed, azblob_list_pages(l));
	else
		printf("LIST failed: %s\n", err);
	stop(ok ? 0 : 1);
}

static void
del_done(struct azblob_del *d, bool ok, const char *err, void *arg)
{
	(void)d;
	(void)arg;
	if (ok)
		printf("DELETE ok\n");
	else
		printf("DELETE failed: %s\n", err);
	stop(ok ? 0 : 1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: azblobdrv [options] put FILE KEY | get KEY FILE "
	    "| list PREFIX | delete KEY | abort-test FILE KEY\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct azblob_config cfg;
	struct azblob_creds cr;
	struct curlev *m;
	const struct azblob_stats *st;
	const char *endpoint = NULL, *account = NULL, *creds = NULL, *op;
	uint64_t offset = 0, seed = 1;
	int pause_every = 0, i, rc = 0;
	double pause = 0.005;
	char err[512];
	enum log_level lvl;

	memset(&cfg, 0, sizeof(cfg));
	log_set_level(LOG_WARN);
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			usage();
		if (strcmp(o, "--endpoint") == 0)
			endpoint = v;
		else if (strcmp(o, "--account") == 0)
			account = v;
		else if (strcmp(o, "--container") == 0)
			cfg.container = v;
		else if (strcmp(o, "--part-size") == 0)
			cfg.part_size = strtoul(v, NULL, 10);
		else if (strcmp(o, "--page-size") == 0)
			cfg.page_size = (unsigned)strtoul(v, NULL, 10);
		else if (strcmp(o, "--tries") == 0)
			cfg.max_tries = atoi(v);
		else if (strcmp(o, "--retry-delay") == 0)
			cfg.retry_delay = atof(v);
		else if (strcmp(o, "--idle-timeout") == 0)
			cfg.idle_timeout = atof(v);
		else if (strcmp(o, "--offset") == 0)
			offset = strtoull(v, NULL, 10);
		else if (strcmp(o, "--pause-every") == 0)
			pause_every = atoi(v);
		else if (strcmp(o, "--pause-ms") == 0)
			pause = atof(v) / 1000;
		else if (strcmp(o, "--seed") == 0)
			seed = strtoull(v, NULL, 10);
		else if (strcmp(o, "--creds") == 0)
			creds = v;
		else if (strcmp(o, "--log-level") == 0 &&
		    log_level_parse(v, &lvl) == 0)
			log_set_level(lvl);
		else
			usage();
	}
	if (i >= argc)
		usage();
	op = argv[i++];
	if (creds && load_creds(creds) < 0)
		return 2;
	if (azblob_creds_resolve(&cr, account, endpoint, cred_get, NULL, err,
	    sizeof(err)) < 0) {
		printf("CONFIG failed: %s\n", err);
		free_creds();
		return 1;
	}
	cfg.endpoint = cr.endpoint;
	cfg.account = cr.account;
	cfg.account_key = cr.account_key;
	cfg.sas = cr.sas;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = ev_default_loop(0);
	m = curlev_new(loop);
	client = azblob_client_new(m, &cfg, err, sizeof(err));
	azblob_creds_release(&cr);
	free_creds();
	if (client == NULL) {
		printf("CONFIG failed: %s\n", err);
		curlev_free(m);
		curl_global_cleanup();
		return 1;
	}

	if (strcmp(op, "put") == 0 && argc - i == 2)
		rc = start_put(argv[i], argv[i + 1], seed, false);
	else if (strcmp(op, "abort-test") == 0 && argc - i == 2)
		rc = start_put(argv[i], argv[i + 1], seed, true);
	else if (strcmp(op, "get") == 0 && argc - i == 2)
		rc = start_get(argv[i], argv[i + 1], offset, pause_every,
		    pause);
	else if (strcmp(op, "list") == 0 && argc - i == 1)
		azblob_list(client, argv[i],
		    &(struct azblob_list_cb){ list_item, list_done }, NULL);
	else if (strcmp(op, "delete") == 0 && argc - i == 1)
		azblob_delete(client, argv[i],
		    &(struct azblob_del_cb){ del_done }, NULL);
	else
		usage();
	if (rc == 0)
		ev_run(loop, 0);
	st = azblob_client_stats(client);
	printf("STATS up=%" PRIu64 " down=%" PRIu64 " requests=%" PRIu64
	    " retries=%" PRIu64 " errors=%" PRIu64 "\n", st->bytes_up,
	    st->bytes_down, st->requests, st->retries, st->request_errors);
	fflush(stdout);

	azblob_client_free(client);
	curlev_free(m);
	ev_idle_stop(loop, &pt.kick);
	ev_timer_stop(loop, &pt.linger);
	ev_timer_stop(loop, &pt.abort);
	ev_timer_stop(loop, &gt.resume);
	if (pt.fd > 0)
		close(pt.fd);
	if (gt.fd > 0)
		close(gt.fd);
	free(pt.chunk);
	ev_loop_destroy(loop);
	curl_global_cleanup();
	return rc < 0 ? 2 : exit_code;
}
