/*
 * resolve.c - c-ares on libev.
 *
 * The binding follows c-ares' event-driven contract (PgBouncer's
 * dnslookup.c does the same on libevent): ARES_OPT_SOCK_STATE_CB tells us
 * which sockets to watch for what; ready sockets go to ares_process_fd();
 * after every call into c-ares, ares_timeout() says when c-ares wants to
 * run its retransmissions and timeouts, which one ev_timer follows.
 *
 * c-ares has no per-query cancel (ares_cancel() stops every query of the
 * channel), so a request owns a small heap query object that the c-ares
 * callback receives; cancelling detaches the request from it and the query
 * object is freed when c-ares is done with it. c-ares may call back from
 * inside ares_getaddrinfo() (hosts file, immediate failures), so answers
 * are always handed over by the request's zero-delay timer, never from
 * inside c-ares or resolve_start().
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ares.h>

#include "log.h"
#include "resolve.h"

struct rsock {
	ev_io io;
	ares_socket_t fd;
	struct resolver *rs;
	struct rsock *next;
};

struct resolve_query {
	struct resolver *rs;
	struct resolve *req;	/* NULL once cancelled */
};

struct resolver {
	struct ev_loop *loop;
	ares_channel ch;
	bool ch_ok;
	ev_timer timer;		/* c-ares' own timeouts */
	struct rsock *socks;
	struct resolve *active;	/* started, not yet delivered */
	size_t pending;
	bool destroying;
};

/* ---- c-ares <-> libev glue -------------------------------------------- */

static void
resolver_arm_timer(struct resolver *rs)
{
	struct timeval tv, *tvp;

	ev_timer_stop(rs->loop, &rs->timer);
	if (rs->destroying)
		return;
	tvp = ares_timeout(rs->ch, NULL, &tv);
	if (tvp == NULL)
		return;
	ev_timer_set(&rs->timer,
	    (double)tvp->tv_sec + (double)tvp->tv_usec / 1e6, 0.);
	ev_timer_start(rs->loop, &rs->timer);
}

static void
rsock_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rsock *s = container_of(w, struct rsock, io);
	struct resolver *rs = s->rs;
	ares_socket_t fd = s->fd;

	(void)loop;
	/* May free s (socket closed by c-ares); s is not used after. */
	ares_process_fd(rs->ch, (revents & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (revents & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	resolver_arm_timer(rs);
}

static void
resolver_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct resolver *rs = container_of(w, struct resolver, timer);

	(void)loop;
	(void)revents;
	ares_process_fd(rs->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	resolver_arm_timer(rs);
}

static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *rs = data;
	struct rsock **pp, *s;
	int events = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);

	for (pp = &rs->socks; (s = *pp) != NULL; pp = &s->next)
		if (s->fd == fd)
			break;
	if (events == 0) {
		if (s != NULL) {
			ev_io_stop(rs->loop, &s->io);
			*pp = s->next;
			free(s);
		}
		return;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->rs = rs;
		s->next = rs->socks;
		rs->socks = s;
		ev_io_init(&s->io, rsock_cb, fd, events);
	} else {
		ev_io_stop(rs->loop, &s->io);
		ev_io_set(&s->io, fd, events);
	}
	ev_io_start(rs->loop, &s->io);
}

/* ---- resolver ----------------------------------------------------------- */

struct resolver *
resolver_new(struct ev_loop *loop, const struct resolver_config *cfg,
    char *err, size_t errlen)
{
	struct resolver *rs;
	struct ares_options o;
	int mask, rc;
	double timeout = cfg && cfg->timeout > 0 ? cfg->timeout : 2.0;
	int tries = cfg && cfg->tries > 0 ? cfg->tries : 2;

	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares initialisation failed: %s",
		    ares_strerror(rc));
		return NULL;
	}
	rs = xcalloc(1, sizeof(*rs));
	rs->loop = loop;
	ev_timer_init(&rs->timer, resolver_timer_cb, 0., 0.);
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = rs;
	o.timeout = (int)(timeout * 1000.0);
	if (o.timeout < 1)
		o.timeout = 1;
	o.tries = tries;
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	rc = ares_init_options(&rs->ch, &o, mask);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares channel setup failed: %s",
		    ares_strerror(rc));
		goto fail;
	}
	rs->ch_ok = true;
	if (cfg && cfg->servers && *cfg->servers) {
		rc = ares_set_servers_ports_csv(rs->ch, cfg->servers);
		if (rc != ARES_SUCCESS) {
			snprintf(err, errlen, "invalid name server list: %s",
			    ares_strerror(rc));
			goto fail;
		}
	}
	return rs;
fail:
	resolver_free(rs);
	return NULL;
}

void
resolver_free(struct resolver *rs)
{
	struct resolve *r;

	if (rs == NULL)
		return;
	/* Detach every request first: ares_destroy() calls the query
	 * callbacks (ARES_EDESTRUCTION), which then free the query objects
	 * only. */
	while ((r = rs->active) != NULL)
		resolve_cancel(r);
	rs->destroying = true;
	if (rs->ch_ok)
		ares_destroy(rs->ch);
	/* ares_destroy() closed its sockets through sock_state_cb. */
	while (rs->socks) {
		struct rsock *s = rs->socks;

		rs->socks = s->next;
		ev_io_stop(rs->loop, &s->io);
		free(s);
	}
	ev_timer_stop(rs->loop, &rs->timer);
	free(rs);
	ares_library_cleanup();
}

size_t
resolver_pending(const struct resolver *rs)
{
	return rs->pending;
}

/* ---- requests ----------------------------------------------------------- */

static void
active_link(struct resolver *rs, struct resolve *r)
{
	r->prev = NULL;
	r->next = rs->active;
	if (rs->active)
		rs->active->prev = r;
	rs->active = r;
	rs->pending++;
}

static void
active_unlink(struct resolver *rs, struct resolve *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		rs->active = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
	rs->pending--;
}

static void
set_port(struct resolve_addr *a, int port)
{
	if (a->family == AF_INET)
		((struct sockaddr_in *)&a->sa)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&a->sa)->sin6_port = htons((uint16_t)port);
}

bool
resolve_numeric(const char *host, int port, struct resolve_addr *out)
{
	struct in_addr a4;
	struct in6_addr a6;

	memset(out, 0, sizeof(*out));
	if (host == NULL)
		return false;
	if (inet_pton(AF_INET, host, &a4) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->sa;

		out->family = AF_INET;
		sin->sin_family = AF_INET;
		sin->sin_addr = a4;
		out->salen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &a6) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->sa;

		out->family = AF_INET6;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = a6;
		out->salen = sizeof(*sin6);
	} else {
		return false;
	}
	set_port(out, port);
	/* The canonical form (inet_ntop) so "::0001" becomes "::1". */
	if (out->family == AF_INET)
		inet_ntop(AF_INET, &a4, out->text, sizeof(out->text));
	else
		inet_ntop(AF_INET6, &a6, out->text, sizeof(out->text));
	return true;
}

static void
resolve_fail(struct resolve *r, const char *detail)
{
	r->status = -1;
	r->naddrs = 0;
	snprintf(r->err, sizeof(r->err), "cannot resolve host \"%s\": %s",
	    r->host, detail);
}

/* Copies the answer (deduplicated, at most RESOLVE_MAX_ADDRS). */
static void
take_answer(struct resolve *r, const struct ares_addrinfo *ai)
{
	const struct ares_addrinfo_node *n;

	r->naddrs = 0;
	for (n = ai ? ai->nodes : NULL; n != NULL; n = n->ai_next) {
		struct resolve_addr *a = &r->addrs[r->naddrs];
		const void *src;
		size_t i;
		bool dup = false;

		if (r->naddrs == RESOLVE_MAX_ADDRS)
			break;
		if (n->ai_family == AF_INET &&
		    n->ai_addrlen >= sizeof(struct sockaddr_in))
			src = &((const struct sockaddr_in *)(const void *)n->ai_addr)->sin_addr;
		else if (n->ai_family == AF_INET6 &&
		    n->ai_addrlen >= sizeof(struct sockaddr_in6))
			src = &((const struct sockaddr_in6 *)(const void *)n->ai_addr)->sin6_addr;
		else
			continue;
		memset(a, 0, sizeof(*a));
		a->family = n->ai_family;
		if (inet_ntop(a->family, src, a->text, sizeof(a->text)) == NULL)
			continue;
		for (i = 0; i < r->naddrs; i++)
			if (strcmp(r->addrs[i].text, a->text) == 0)
				dup = true;
		if (dup)
			continue;
		memcpy(&a->sa, n->ai_addr, n->ai_addrlen);
		a->salen = n->ai_addrlen;
		set_port(a, r->port);
		r->naddrs++;
	}
	if (r->naddrs == 0)
		resolve_fail(r, "no IPv4 or IPv6 address");
	else
		r->status = 0;
}

static void
ares_cb(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct resolve_query *q = arg;
	struct resolve *r = q->req;

	(void)timeouts;
	if (r != NULL) {
		r->q = NULL;
		if (status == ARES_SUCCESS)
			take_answer(r, ai);
		else
			resolve_fail(r, ares_strerror(status));
		/* Hand over from the loop, not from inside c-ares. */
		ev_timer_set(&r->deliver, 0., 0.);
		ev_timer_start(r->rs->loop, &r->deliver);
	}
	if (ai)
		ares_freeaddrinfo(ai);
	free(q);
}

static void
deliver_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct resolve *r = container_of(w, struct resolve, deliver);

	(void)loop;
	(void)revents;
	ev_timer_stop(r->rs->loop, &r->deliver);
	r->active = false;
	active_unlink(r->rs, r);
	/* Last use of r: the callback may start it again or free it. */
	r->cb(r, r->arg);
}

void
resolve_init(struct resolve *r, struct resolver *rs)
{
	memset(r, 0, sizeof(*r));
	r->rs = rs;
	ev_timer_init(&r->deliver, deliver_cb, 0., 0.);
}

int
resolve_start(struct resolve *r, const char *host, int port, resolve_fn cb,
    void *arg)
{
	struct resolver *rs = r->rs;
	struct ares_addrinfo_hints hints;
	struct resolve_query *q;
	size_t len = host ? strlen(host) : 0;

	if (r->active) {
		snprintf(r->err, sizeof(r->err), "resolution already running");
		return -1;
	}
	r->status = -1;
	r->naddrs = 0;
	r->err[0] = '\0';
	if (len == 0 || len > 253) {
		snprintf(r->err, sizeof(r->err), "invalid host name (%s)",
		    len == 0 ? "empty" : "longer than 253 bytes");
		return -1;
	}
	memcpy(r->host, host, len + 1);
	r->port = port;
	r->cb = cb;
	r->arg = arg;
	r->active = true;
	active_link(rs, r);
	if (resolve_numeric(host, port, &r->addrs[0])) {
		r->naddrs = 1;
		r->status = 0;
		ev_timer_set(&r->deliver, 0., 0.);
		ev_timer_start(rs->loop, &r->deliver);
		return 0;
	}
	q = xcalloc(1, sizeof(*q));
	q->rs = rs;
	q->req = r;
	r->q = q;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	/* May call ares_cb() before returning; that only arms r->deliver. */
	ares_getaddrinfo(rs->ch, r->host, NULL, &hints, ares_cb, q);
	resolver_arm_timer(rs);
	return 0;
}

void
resolve_cancel(struct resolve *r)
{
	if (!r->active)
		return;
	if (r->q) {
		r->q->req = NULL;	/* ares_cb() frees it later */
		r->q = NULL;
	}
	ev_timer_stop(r->rs->loop, &r->deliver);
	r->active = false;
	active_unlink(r->rs, r);
}

bool
resolve_active(const struct resolve *r)
{
	return r->active;
}
