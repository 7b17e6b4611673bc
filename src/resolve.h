/*
 * resolve.h - asynchronous host name resolution with c-ares on libev.
 *
 * libpq (and MariaDB Connector/C) resolve host names with a blocking
 * getaddrinfo(); the engine resolves first with this module and hands the
 * numeric addresses over (libpq's hostaddr), so the loop never blocks.
 *
 * One resolver (one c-ares channel) per loop. c-ares tells us which
 * sockets to watch through its socket state callback: each becomes an
 * ev_io; one ev_timer follows ares_timeout(). Requests (struct resolve)
 * are embedded in the caller's object: resolve_init() once, then
 * resolve_start() / resolve_cancel() as often as needed.
 *
 * Callbacks: the callback of a started request runs exactly once, always
 * from the loop and never from inside resolve_start() or from inside
 * c-ares, unless the request is cancelled first (then it never runs).
 * Numeric hosts ("127.0.0.1", "::1") are answered without a query, on the
 * next loop iteration. Host files are read by c-ares ("localhost").
 */
#ifndef DBP_RESOLVE_H
#define DBP_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <ev.h>

#include "util.h"

#define RESOLVE_MAX_ADDRS 8	/* addresses kept per answer, in c-ares order */
#define RESOLVE_ERR_LEN 256

struct resolver;
struct resolve;

struct resolver_config {
	double timeout;		/* seconds per try; 0 = 2 s */
	int tries;		/* attempts per server; 0 = 2 */
	/* "ip[:port],..." overriding resolv.conf's name servers (tests);
	 * NULL uses the system configuration. */
	const char *servers;
};

/* Creates a resolver on loop. Returns NULL with a one-line message in err
 * when c-ares cannot be set up. */
struct resolver *resolver_new(struct ev_loop *loop,
    const struct resolver_config *cfg, char *err, size_t errlen) DBP_MUSTCHECK;
/* Cancels every request still running (their callbacks never run) and
 * frees the resolver. Must not be called from a resolve callback. */
void resolver_free(struct resolver *rs);
/* Requests started and not yet delivered or cancelled. */
size_t resolver_pending(const struct resolver *rs);

struct resolve_addr {
	int family;				/* AF_INET or AF_INET6 */
	char text[INET6_ADDRSTRLEN];		/* numeric form */
	struct sockaddr_storage sa;		/* with the port */
	socklen_t salen;
};

/* Called once per started request; r holds the answer. The request may be
 * started again (or its owner freed) from the callback. */
typedef void (*resolve_fn)(struct resolve *r, void *arg);

struct resolve {
	/* Answer, valid from the callback until the next resolve_start(). */
	int status;				/* 0, or -1 with err set */
	char err[RESOLVE_ERR_LEN];		/* one line, names the host */
	size_t naddrs;
	struct resolve_addr addrs[RESOLVE_MAX_ADDRS];
	/* Private to resolve.c. */
	struct resolver *rs;
	struct resolve_query *q;		/* c-ares query in flight */
	resolve_fn cb;
	void *arg;
	ev_timer deliver;			/* hands the answer over */
	bool active;				/* started, not delivered */
	int port;
	char host[256];
	struct resolve *next, *prev;		/* resolver's active list */
};

/* Prepares a request for use with rs (no allocation). */
void resolve_init(struct resolve *r, struct resolver *rs);
/* Looks host up (A and AAAA); port goes into the socket addresses. The
 * request must not be active. Returns 0 (the callback will run), or -1 with
 * r->err set (empty or over-long host name) and no callback. */
int resolve_start(struct resolve *r, const char *host, int port,
    resolve_fn cb, void *arg) DBP_MUSTCHECK;
/* Stops an active request: its callback will not run. A no-op otherwise.
 * Safe from any callback, including another request's. */
void resolve_cancel(struct resolve *r);
bool resolve_active(const struct resolve *r);

/* Pure: true if host is an IPv4 or IPv6 literal; then fills *out (with
 * port). Exposed for tests and for callers that want to skip resolution. */
bool resolve_numeric(const char *host, int port, struct resolve_addr *out);

#endif
