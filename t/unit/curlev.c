/*
 * curlev.t - curl multi on libev against the project's own HTTP server
 * on loopback: many transfers at once each report once with their body,
 * a transfer removed before it ends never reports, a deferred answer
 * keeps a transfer pending while others finish, and a refused connection
 * reports curl's error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <ev.h>

#include "buf.h"
#include "curlev.h"
#include "httpd.h"
#include "log.h"
#include "tap.h"
#include "util.h"

#define NX 24

struct t {
	struct curlev_xfer x;
	struct buf body;
	int done;
	CURLcode result;
	long status;
};

static struct ev_loop *loop;
static struct httpd_defer *held;
static int pending;

static void
hello(const struct httpd_req *req, struct httpd_resp *resp, void *arg)
{
	(void)req;
	(void)arg;
	if (buf_append(&resp->body, "hello\n", 6) < 0)
		abort();
}

static void
held_cancel(struct httpd_defer *d, void *arg)
{
	(void)d;
	(void)arg;
	held = NULL;
}

static void
slow(const struct httpd_req *req, struct httpd_resp *resp, void *arg)
{
	(void)req;
	(void)arg;
	held = httpd_resp_defer(resp, held_cancel, NULL);
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct t *t = arg;

	if (buf_append(&t->body, p, size * n) < 0)
		abort();
	return size * n;
}

static void
done(struct curlev_xfer *x, CURLcode result)
{
	struct t *t = x->arg;

	t->done++;
	t->result = result;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &t->status);
	pending--;
	if (pending == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void
setup(struct t *t, const char *url)
{
	memset(t, 0, sizeof(*t));
	buf_init(&t->body, 0);
	t->x.easy = curl_easy_init();
	t->x.done = done;
	t->x.arg = t;
	curl_easy_setopt(t->x.easy, CURLOPT_URL, url);
	curl_easy_setopt(t->x.easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(t->x.easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(t->x.easy, CURLOPT_NOSIGNAL, 1L);
}

static void
teardown(struct t *t)
{
	curl_easy_cleanup(t->x.easy);
	buf_release(&t->body);
}

static void
deadline(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(l, EVBREAK_ALL);
}

static void
answer_held(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	if (held == NULL)
		return;
	if (buf_append(&httpd_defer_resp(held)->body, "late\n", 5) < 0)
		abort();
	httpd_defer_done(held);
	held = NULL;
}

static void
run(double seconds)
{
	ev_timer t;

	ev_timer_init(&t, deadline, seconds, 0.);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

int
main(void)
{
	struct httpd_config cfg;
	struct httpd *s;
	struct curlev *m;
	struct t ts[NX], slowt, gone, refused;
	char err[256], url[128], slow_url[128];
	int i, good = 0, port;
	ev_timer later;

	log_set_level(LOG_ERROR);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = ev_loop_new(EVFLAG_AUTO);
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "test";
	cfg.host = "127.0.0.1";
	s = httpd_new(loop, &cfg, err, sizeof(err));
	if (!ok(s != NULL, "a server on loopback"))
		diag("%s", err);
	httpd_route(s, "/hello", hello, NULL);
	httpd_route(s, "/slow", slow, NULL);
	httpd_start(s);
	port = httpd_port(s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hello", port);
	snprintf(slow_url, sizeof(slow_url), "http://127.0.0.1:%d/slow", port);
	m = curlev_new(loop);
	ok(m != NULL, "a multi handle on the loop");

	/* many at once, one slow among them */
	setup(&slowt, slow_url);
	ok(curlev_add(m, &slowt.x, err, sizeof(err)) == 0, "a slow transfer starts");
	for (i = 0; i < NX; i++) {
		setup(&ts[i], url);
		if (curlev_add(m, &ts[i].x, err, sizeof(err)) < 0)
			diag("%s", err);
	}
	is_int(curlev_active(m), NX + 1, "all are active");
	is_int(ts[0].done, 0, "nothing reports from inside curlev_add()");
	pending = NX;
	run(10);
	for (i = 0; i < NX; i++)
		good += ts[i].done == 1 && ts[i].result == CURLE_OK &&
		    ts[i].status == 200 && ts[i].body.len == 6 &&
		    memcmp(ts[i].body.data, "hello\n", 6) == 0 &&
		    !ts[i].x.active;
	is_int(good, NX, "each fast transfer reported once, with its body");
	is_int(slowt.done, 0, "the slow one is still pending");
	is_int(curlev_active(m), 1, "and is the only one active");

	/* the slow one finishes when the server answers */
	ev_timer_init(&later, answer_held, 0.05, 0.);
	ev_timer_start(loop, &later);
	pending = 1;
	run(10);
	ok(slowt.done == 1 && slowt.status == 200 && slowt.body.len == 5,
	    "the deferred answer arrives");

	/* removed before it ends: no report, the handle is the caller's */
	setup(&gone, slow_url);
	curlev_add(m, &gone.x, err, sizeof(err));
	pending = 1;
	run(0.3);
	ok(held != NULL, "the server holds the request");
	curlev_remove(m, &gone.x);
	ok(!gone.x.active && curlev_active(m) == 0, "removed");
	answer_held(loop, NULL, 0);
	run(0.3);
	is_int(gone.done, 0, "a removed transfer never reports");
	curlev_remove(m, &gone.x);
	ok(1, "removing twice is harmless");

	/* nothing listens */
	httpd_stop(s);
	httpd_free(s);
	setup(&refused, url);
	curlev_add(m, &refused.x, err, sizeof(err));
	pending = 1;
	run(10);
	ok(refused.done == 1 && refused.result == CURLE_COULDNT_CONNECT,
	    "a refused connection reports curl's error");

	for (i = 0; i < NX; i++)
		teardown(&ts[i]);
	teardown(&slowt);
	teardown(&gone);
	teardown(&refused);
	curlev_free(m);
	ev_loop_destroy(loop);
	curl_global_cleanup();
	return done_testing();
}
