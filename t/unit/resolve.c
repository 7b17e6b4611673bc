/*
 * resolve: numeric hosts short-circuit (no query, answered from the loop,
 * never inside resolve_start), cancel means no callback, bad input is
 * refused. Lookups of real names are in t/pg/resolve.t.
 */
#include "config.h"

#include <string.h>
#include <ev.h>

#include "resolve.h"
#include "tap.h"

static int calls;

static void
on_done(struct resolve *r, void *arg)
{
	(void)r;
	(void)arg;
	calls++;
}

static void
test_numeric(void)
{
	struct resolve_addr a;

	ok(resolve_numeric("127.0.0.1", 5432, &a), "IPv4 literal");
	is_int(a.family, AF_INET, "AF_INET");
	is_str(a.text, "127.0.0.1", "text");
	is_int(ntohs(((struct sockaddr_in *)&a.sa)->sin_port), 5432, "port set");
	ok(resolve_numeric("::0001", 1, &a), "IPv6 literal");
	is_int(a.family, AF_INET6, "AF_INET6");
	is_str(a.text, "::1", "canonical text");
	ok(!resolve_numeric("localhost", 1, &a), "a name is not numeric");
	ok(!resolve_numeric("127.1", 1, &a), "no inet_aton shorthand");
	ok(!resolve_numeric("", 1, &a), "empty");
	ok(!resolve_numeric(NULL, 1, &a), "NULL");
}

int
main(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct resolver_config cfg = { 0 };
	struct resolver *rs;
	struct resolve r1, r2, r3;
	char err[256];
	char longname[300];

	test_numeric();

	cfg.servers = "not an address";
	rs = resolver_new(loop, &cfg, err, sizeof(err));
	ok(rs == NULL, "bad server list refused");
	ok(strstr(err, "name server") != NULL, "message says why");

	cfg.servers = "127.0.0.1:9";
	rs = resolver_new(loop, &cfg, err, sizeof(err));
	ok(rs != NULL, "resolver created");
	if (rs == NULL) {
		diag("%s", err);
		return done_testing();
	}
	resolve_init(&r1, rs);
	resolve_init(&r2, rs);
	resolve_init(&r3, rs);

	ok(resolve_start(&r1, "127.0.0.1", 80, on_done, NULL) == 0, "v4 start");
	ok(resolve_start(&r2, "::1", 80, on_done, NULL) == 0, "v6 start");
	is_int(calls, 0, "no callback inside resolve_start");
	ok(resolve_start(&r1, "127.0.0.1", 80, on_done, NULL) != 0,
	    "an active request cannot be started again");
	is_int(resolver_pending(rs), 2, "two pending");
	ev_run(loop, EVRUN_NOWAIT);
	is_int(calls, 2, "both answered from the loop");
	is_int(r1.status, 0, "v4 ok");
	is_int(r1.naddrs, 1, "one address");
	is_str(r1.addrs[0].text, "127.0.0.1", "v4 address");
	is_str(r2.addrs[0].text, "::1", "v6 address");
	is_int(resolver_pending(rs), 0, "none pending");

	calls = 0;
	ok(resolve_start(&r3, "10.1.2.3", 1, on_done, NULL) == 0, "start");
	resolve_cancel(&r3);
	ok(!resolve_active(&r3), "inactive after cancel");
	ev_run(loop, EVRUN_NOWAIT);
	is_int(calls, 0, "no callback after cancel");
	resolve_cancel(&r3);
	ok(1, "cancel twice is harmless");

	ok(resolve_start(&r3, "", 1, on_done, NULL) != 0, "empty refused");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ok(resolve_start(&r3, longname, 1, on_done, NULL) != 0,
	    "over-long name refused");
	ok(strstr(r3.err, "253") != NULL, "message says why");

	/* A query in flight when the resolver goes: no callback. The
	 * server at 127.0.0.1:9 (discard) never answers. */
	ok(resolve_start(&r3, "host.invalid", 1, on_done, NULL) == 0,
	    "query started");
	is_int(resolver_pending(rs), 1, "pending");
	resolver_free(rs);
	ev_run(loop, EVRUN_NOWAIT);
	is_int(calls, 0, "no callback after resolver_free");
	ev_loop_destroy(loop);
	return done_testing();
}
