#!/usr/bin/python3
# Name resolution through c-ares on the loop (src/resolve.c), via
# t/drv/pgdrv --resolve: "localhost" from the hosts file, numeric IPv4/IPv6
# without a query, names from a fake DNS server (A + AAAA), NXDOMAIN and an
# unanswered query fail cleanly with one-line messages, a query cancelled
# in flight never calls back, and the system resolver fails cleanly for a
# name that does not exist.
import os
import socket
import subprocess
import sys
import time
import json

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from fakedns import FakeDNS  # noqa: E402

DRV = dbptest.build_path('t/drv/pgdrv')
if not os.path.exists(DRV):
    skip_all('t/drv/pgdrv is not built (run make check)')

dns = FakeDNS({'db.test': ['127.0.0.1', '::1'], 'v6only.test': ['::1']},
              nx=['nx.test'], hang=['hang.test']).start()


def resolve(name, *extra, timeout=20):
    t0 = time.monotonic()
    r = subprocess.run([DRV, '--resolve', name] + list(extra), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    evs = [json.loads(line) for line in r.stdout.decode().splitlines() if line.strip()]
    return evs, r.returncode, time.monotonic() - t0, r.stderr.decode('utf-8', 'replace')


def addrs_of(evs):
    for e in evs:
        if e.get('ev') == 'resolved':
            return e['addrs']
    return None


# localhost: whatever the hosts file says, c-ares must agree with libc.
evs, rc, _, err = resolve('localhost')
want = sorted({ai[4][0] for ai in socket.getaddrinfo('localhost', 5432, proto=socket.IPPROTO_TCP)})
got = addrs_of(evs)
ok(got is not None, 'localhost resolved through c-ares') or diag(evs)
is_(sorted(got or []), want, 'same addresses as getaddrinfo (%s)' % ', '.join(want))
is_(rc, 0, 'exit 0')

evs, rc, _, _ = resolve('127.0.0.1')
is_(addrs_of(evs), ['127.0.0.1'], 'numeric IPv4 short-circuits')
evs, rc, _, _ = resolve('::1')
is_(addrs_of(evs), ['::1'], 'numeric IPv6 short-circuits')
# The numeric forms need no name server: a dead one is never asked.
evs, rc, el, _ = resolve('10.9.8.7', '--dns-server', '127.0.0.1:9', '--dns-timeout', '5')
ok(addrs_of(evs) == ['10.9.8.7'] and el < 3, 'no query for numeric hosts')

evs, rc, _, _ = resolve('db.test', '--dns-server', dns.addr)
is_(sorted(addrs_of(evs) or []), ['127.0.0.1', '::1'], 'A and AAAA from DNS')
ok(('db.test', 1) in dns.queries and ('db.test', 28) in dns.queries,
   'asked for both record types')
evs, rc, _, _ = resolve('v6only.test', '--dns-server', dns.addr)
is_(addrs_of(evs), ['::1'], 'IPv6-only name')

evs, rc, el, _ = resolve('nx.test', '--dns-server', dns.addr)
err = [e for e in evs if e.get('ev') == 'resolve_error']
ok(len(err) == 1, 'NXDOMAIN is an error') or diag(evs)
like(err[0]['msg'] if err else '', r'^cannot resolve host "nx\.test": ', 'message names the host')
ok(err and '\n' not in err[0]['msg'], 'one line')
ok(el < 5, 'and comes quickly (%.2fs)' % el)

# Unanswered query: c-ares' own timeout (0.3 s x 2 tries).
evs, rc, el, _ = resolve('hang.test', '--dns-server', dns.addr, '--dns-timeout', '0.3')
err = [e for e in evs if e.get('ev') == 'resolve_error']
ok(len(err) == 1, 'an unanswered query times out') or diag(evs)
like(err[0]['msg'] if err else '', r'hang\.test.*[Tt]imeout', 'message says timeout')
ok(el < 5, 'bounded (%.2fs)' % el)

# Cancel in flight: no callback afterwards, nothing pending.
evs, rc, el, _ = resolve('hang.test', '--dns-server', dns.addr, '--dns-timeout', '0.5',
                         '--cancel-after-ms', '200')
c = [e for e in evs if e.get('ev') == 'cancelled']
d = [e for e in evs if e.get('ev') == 'done']
ok(c and c[0]['was_active'], 'query was in flight when cancelled') or diag(evs)
ok(d and d[0]['late_callbacks'] == 0, 'no callback after cancel (waited past the DNS timeout)')
ok(d and d[0]['pending'] == 0, 'nothing pending')
ok(not [e for e in evs if e.get('ev') in ('resolved', 'resolve_error')], 'no answer printed')
is_(rc, 0, 'clean exit')

# The system configuration, a name that cannot exist (RFC 2606 .invalid):
# an error, not a hang, whatever the sandbox's name server does.
evs, rc, el, _ = resolve('no-such-host-%d.invalid' % os.getpid(), '--dns-timeout', '1')
err = [e for e in evs if e.get('ev') == 'resolve_error']
ok(len(err) == 1, 'nonexistent name fails cleanly: %s' % (err[0]['msg'] if err else evs))
ok(el < 15, 'within the resolver timeouts (%.2fs)' % el)

dns.stop()
done_testing()
