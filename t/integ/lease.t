#!/usr/bin/python3
# Leader election (src/lease.c) against the API stand-in over HTTPS, with
# short timings (lease 3 s, renew deadline 2 s, retry 0.5 s): one leader of
# two; MicroTime on the stored Lease; renewals keep acquireTime and
# leaseTransitions; SIGKILL of the leader -> the other takes over after the
# lease duration (not before) and within duration + retry; SIGTERM -> the
# lease is released and the other takes over at once; a leader that cannot
# renew (errors, or requests that hang) stops within the renew deadline,
# before anyone may take over; four candidates racing (409 AlreadyExists on
# create, 409 Conflict on takeover PUTs) never give two leaders.
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from fakekube import FakeKube  # noqa: E402

DRV = dbptest.build_path('t/drv/lease-drv')
if not os.path.exists(DRV):
    skip_all('t/drv/lease-drv is not built (run make check)')

# DBPROVD_TIMESCALE stretches every timing (e.g. 3 under valgrind).
SCALE = float(os.environ.get('DBPROVD_TIMESCALE') or 1)
DURATION, RENEW, RETRY, JITTER = 3.0 * SCALE, 2.0 * SCALE, 0.5 * SCALE, 1.2
MAX_WAIT = RETRY * (1 + JITTER)          # longest wait between attempts
SLACK = 0.8 * SCALE                      # scheduling and request latency
MICRO = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$'
LEASE_API = 'coordination.k8s.io/v1'

fk = FakeKube(tls=True, token='lease-test-token').start()
TOKEN_FILE = os.path.join(fk.cert_dir or '/tmp', 'drv-token')
with open(TOKEN_FILE, 'w') as _f:
    _f.write(fk.token + '\n')
procs = []


def candidate(name, ident):
    p = dbptest.Proc([DRV, '--server', fk.url, '--token-file', TOKEN_FILE, '--cacert', fk.ca_file,
                      '--namespace', 'default', '--name', name, '--identity', ident,
                      '--duration-ms', str(int(DURATION * 1000)), '--renew-ms', str(int(RENEW * 1000)),
                      '--retry-ms', str(int(RETRY * 1000)), '--jitter', str(JITTER),
                      '--release-timeout-ms', str(int(2000 * SCALE))])
    p.ident = ident
    procs.append(p)
    return p


def lease(name):
    return fk.store_get(LEASE_API, 'Lease', name, 'default')


def leading(p):
    """True when the last transition the candidate printed is LEADING."""
    for line in reversed(p.lines):
        if line.startswith('LEADING'):
            return True
        if line.startswith('STOPPED'):
            return False
    return False


def first_leader(cands, timeout):
    """Waits for a LEADING line from any of cands; returns (proc, time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in cands:
            p.collect(0.02)
            if leading(p):
                return p, time.monotonic()
    return None, time.monotonic()


def watch_leaders(cands, seconds):
    """Samples the candidates for a while; returns the largest number that
    claimed leadership at the same time."""
    most = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for p in cands:
            p.collect(0.01)
        most = max(most, sum(1 for p in cands if leading(p)))
    return most


def conflicts(method, name, since=0):
    return [r for r in fk.requests(since) if r['method'] == method and r['code'] == 409
            and r['resource'] == 'leases' and (r['name'] == name or method == 'POST')]


try:
    # --- two candidates, one leader
    a = candidate('basic', 'cand-a')
    b = candidate('basic', 'cand-b')
    lead, t_lead = first_leader([a, b], 10 * SCALE)
    ok(lead is not None, 'one of two candidates becomes leader')
    other = b if lead is a else a
    is_(watch_leaders([a, b], DURATION + 1), 1, 'never two leaders at once')
    ok(not other.matching(r'^LEADING'), 'the other one does not lead')
    ls = lease('basic')
    spec = ls['spec']
    is_(spec.get('holderIdentity'), lead.ident, 'the Lease names the leader')
    is_(spec.get('leaseDurationSeconds'), int(DURATION), 'leaseDurationSeconds written')
    like(spec.get('acquireTime'), MICRO, 'acquireTime is MicroTime with 6 digits')
    like(spec.get('renewTime'), MICRO, 'renewTime is MicroTime with 6 digits')
    is_(spec.get('leaseTransitions'), 0, 'a created Lease has 0 transitions')
    time.sleep(RETRY * 3)
    spec2 = lease('basic')['spec']
    ok(spec2['renewTime'] > spec['renewTime'], 'the leader renews (renewTime moves)')
    is_((spec2['acquireTime'], spec2['leaseTransitions'], spec2['holderIdentity']),
        (spec['acquireTime'], 0, lead.ident), 'renewals keep acquireTime, transitions and holder')
    renews = [r for r in fk.requests() if r['method'] == 'PUT' and r['name'] == 'basic' and r['code'] == 200]
    ok(len(renews) >= 3, 'renewals are PUTs (%d so far)' % len(renews))

    # --- SIGKILL: no release; the other takes over after the lease runs out
    t_kill = time.monotonic()
    lead.kill()
    nxt, t_next = first_leader([other], DURATION + MAX_WAIT + SLACK + 3)
    ok(nxt is other, 'after SIGKILL of the leader the other one leads')
    took = t_next - t_kill
    diag('takeover %.2f s after SIGKILL' % took)
    ok(took <= DURATION + MAX_WAIT + SLACK,
       'takeover within lease duration + retry period (%.2f <= %.2f)' % (took, DURATION + MAX_WAIT + SLACK))
    ok(took >= DURATION - RETRY - 0.3, 'but not before the lease ran out on our clock (%.2f s)' % took)
    spec = lease('basic')['spec']
    is_((spec['holderIdentity'], spec['leaseTransitions']), (other.ident, 1),
        'takeover: new holder, leaseTransitions + 1')
    ok(spec['acquireTime'] > spec2['acquireTime'], 'takeover sets a new acquireTime')

    # --- SIGTERM: release, the next candidate takes over at once
    c = candidate('basic', 'cand-c')
    time.sleep(RETRY * 2)
    ok(not c.matching(r'^LEADING'), 'a new candidate waits while the lease is held')
    t_term = time.monotonic()
    other.signal(signal.SIGTERM)
    ok(other.expect(r'^STOPPED cand-', 5 * SCALE), 'SIGTERM: the leader stops leading first')
    ok(other.expect(r'^RELEASED$', 5 * SCALE), 'then reports RELEASED')
    is_(other.wait(5 * SCALE), 0, 'and exits with status 0')
    nxt, t_next = first_leader([c], 5 * SCALE)
    took = t_next - t_term
    diag('takeover %.2f s after SIGTERM' % took)
    ok(nxt is c and took <= MAX_WAIT + SLACK,
       'after a release the other takes over at once (%.2f s <= %.2f)' % (took, MAX_WAIT + SLACK))
    spec = lease('basic')['spec']
    is_((spec['holderIdentity'], spec['leaseTransitions']), ('cand-c', 2),
        'released lease taken: transitions + 1')
    put_bodies_ok = all(re.match(MICRO, spec[f]) for f in ('acquireTime', 'renewTime'))
    ok(put_bodies_ok, 'times still MicroTime after release and takeover')

    # --- a leader that cannot renew stops within the renew deadline
    fk.fail(500, count=None, path='/leases/basic')
    t_fail = time.monotonic()
    ok(c.expect(r'^STOPPED cand-c$', RENEW + RETRY + SLACK + 2), 'renewals failing with 500: the leader stops')
    took = time.monotonic() - t_fail
    diag('stopped %.2f s after renewals began to fail' % took)
    ok(took <= RENEW + RETRY + SLACK, 'within the renew deadline (%.2f s)' % took)
    ok(took < DURATION, 'before anyone else may take over (%.2f < %.1f s)' % (took, DURATION))
    fk.clear_faults()
    ok(c.expect(r'^LEADING cand-c$', DURATION + MAX_WAIT + SLACK + 1),
       'when the API answers again it leads again (the lease is still its own)')

    fk.stall(count=None, path='/leases/basic')
    t_fail = time.monotonic()
    ok(c.expect(r'^STOPPED cand-c$', RENEW + RETRY + SLACK + 2), 'renewals hanging: the leader stops')
    took = time.monotonic() - t_fail
    ok(took <= RENEW + RETRY + SLACK, 'hung requests do not extend leadership (%.2f s)' % took)
    fk.clear_faults()
    c.signal(signal.SIGTERM)
    ok(c.expect(r'^RELEASED$', 5 * SCALE), 'release of a non-leader finishes at once')
    is_(c.wait(5 * SCALE), 0, 'non-leader exits with status 0')
    is_(lease('basic')['spec']['holderIdentity'], 'cand-c',
        'a non-leader does not write the lease on release')

    # --- races: four candidates at once, with latency so that they collide
    fk.set_latency(0.3)
    seq = fk.requests()[-1]['seq']
    race = [candidate('race', 'racer-%d' % i) for i in range(4)]
    lead, _ = first_leader(race, 10 * SCALE)
    ok(lead is not None, 'one of four racing candidates leads')
    is_(watch_leaders(race, 2 * SCALE), 1, 'four candidates: never two leaders')
    n = len(conflicts('POST', 'race', seq))
    diag('%d POSTs lost the create race with 409' % n)
    ok(n >= 1, 'the create race happened (409 AlreadyExists answered)')
    seq = fk.requests()[-1]['seq']
    lead.kill()
    # The first two takeover PUTs lose as if another candidate had won
    # (after the dead leader's last request, delayed by the latency, is in).
    time.sleep(0.6 * SCALE)
    fk.fail(409, count=2, method='PUT', path='/leases/race$', reason='Conflict')
    rest = [p for p in race if p is not lead]
    nxt, _ = first_leader(rest, DURATION + MAX_WAIT + SLACK + 3)
    ok(nxt is not None, 'after SIGKILL one of the other three leads')
    is_(watch_leaders(rest, 2 * SCALE), 1, 'takeover race: never two leaders')
    is_(sum(1 for p in rest if p.matching(r'^LEADING')), 1, 'exactly one of them ever led')
    n = len(conflicts('PUT', 'race', seq))
    ok(n >= 2, 'takeover PUTs answered 409 (%d) made nobody leader' % n)
    fk.set_latency(0)
    spec = lease('race')['spec']
    is_(spec['holderIdentity'], nxt.ident, 'the Lease names the winner')
    is_(spec['leaseTransitions'], 1, 'one transition recorded for one takeover')
    for p in rest:
        p.signal(signal.SIGTERM)
    for p in rest:
        ok(p.expect(r'^RELEASED$', 5 * SCALE) and p.wait(5 * SCALE) == 0, '%s releases and exits cleanly' % p.ident)
    is_(lease('race')['spec']['holderIdentity'], '', 'the released Lease has no holder')
    is_(lease('race')['spec']['leaseDurationSeconds'], 1, 'and a 1 s duration')

    errs = ''.join(p.stderr_text() for p in procs)
    ok(fk.token not in errs and 'Bearer' not in errs, 'no token in the logs')
finally:
    for p in procs:
        p.close()
    fk.close()

done_testing()
