/*
 * curlev.c - curl's multi interface on a libev loop (see curlev.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "curlev.h"
#include "log.h"
#include "util.h"

struct curlev {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;		/* curl's single timeout */
	int running;
	size_t active;
};

/* The io watcher curl asked for on one socket. */
struct csock {
	ev_io io;
	curl_socket_t fd;
	struct curlev *m;
};

static void
check_done(struct curlev *m)
{
	struct curlev_xfer *x;
	CURLMsg *msg;
	CURLcode result;
	int left;

	while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&x);
		result = msg->data.result;
		if (x == NULL || !x->active)
			continue;
		/* msg is invalid once its handle leaves the multi handle */
		curlev_remove(m, x);
		x->done(x, result);
	}
}

static void
socket_action(struct curlev *m, curl_socket_t fd, int mask)
{
	CURLMcode rc;

	rc = curl_multi_socket_action(m->multi, fd, mask, &m->running);
	if (rc != CURLM_OK)
		log_error("curl_multi_socket_action failed", "error",
		    curl_multi_strerror(rc));
	check_done(m);
}

static void
sock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct csock *s = container_of(w, struct csock, io);
	int mask = 0;

	(void)loop;
	if (revents & EV_READ)
		mask |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		mask |= CURL_CSELECT_OUT;
	socket_action(s->m, s->fd, mask);
}

static int
curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct curlev *m = userp;
	struct csock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			ev_io_stop(m->loop, &s->io);
			curl_multi_assign(m->multi, fd, NULL);
			free(s);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->m = m;
		ev_io_init(&s->io, sock_cb, fd, events);
		curl_multi_assign(m->multi, fd, s);
	} else {
		ev_io_stop(m->loop, &s->io);
		ev_io_set(&s->io, fd, events);
	}
	ev_io_start(m->loop, &s->io);
	return 0;
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct curlev *m = container_of(w, struct curlev, timer);

	(void)loop;
	(void)revents;
	socket_action(m, CURL_SOCKET_TIMEOUT, 0);
}

/* curl asks to be called after timeout_ms; never call curl from here. */
static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curlev *m = userp;

	(void)multi;
	ev_timer_stop(m->loop, &m->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&m->timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(m->loop, &m->timer);
	}
	return 0;
}

struct curlev *
curlev_new(struct ev_loop *loop)
{
	struct curlev *m = xcalloc(1, sizeof(*m));

	m->loop = loop;
	m->multi = curl_multi_init();
	if (m->multi == NULL) {
		free(m);
		return NULL;
	}
	ev_timer_init(&m->timer, timer_cb, 0., 0.);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
	curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
	/* Multiplex over HTTP/2 when the server offers it. */
	curl_multi_setopt(m->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	return m;
}

void
curlev_free(struct curlev *m)
{
	if (m == NULL)
		return;
	/* curl may still call the socket callback from here. */
	curl_multi_cleanup(m->multi);
	ev_timer_stop(m->loop, &m->timer);
	free(m);
}

int
curlev_add(struct curlev *m, struct curlev_xfer *x, char *err, size_t errlen)
{
	CURLMcode rc;

	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	rc = curl_multi_add_handle(m->multi, x->easy);
	if (rc != CURLM_OK) {
		snprintf(err, errlen, "curl_multi_add_handle: %s",
		    curl_multi_strerror(rc));
		return -1;
	}
	x->active = true;
	m->active++;
	return 0;
}

void
curlev_remove(struct curlev *m, struct curlev_xfer *x)
{
	if (!x->active)
		return;
	curl_multi_remove_handle(m->multi, x->easy);
	x->active = false;
	m->active--;
}

size_t
curlev_active(const struct curlev *m)
{
	return m->active;
}

struct ev_loop *
curlev_loop(const struct curlev *m)
{
	return m->loop;
}
