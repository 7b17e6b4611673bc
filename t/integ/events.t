#!/usr/bin/python3
# The Event recorder (src/events.c) against the API stand-in over HTTPS:
# identical events become one Event with a count (repeats coalesced in the
# queue, or PATCHed one by one), distinct reasons separate Events, the
# core/v1 shape (name, timestamps, source, reporting fields, no eventTime),
# cluster-scoped objects in "default", the spam filter (25 per object),
# 500s, 503s and connection resets retried until delivered (a 201 cut short
# counts as written), a PATCH meeting 404 re-created with the same name, a
# POST meeting 409 AlreadyExists turned into a PATCH, and Status errors
# (422, 403) not retried.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from fakekube import FakeKube  # noqa: E402

DRV = dbptest.build_path('t/drv/events-drv')
if not os.path.exists(DRV):
    skip_all('t/drv/events-drv is not built (run make check)')

TIME = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$'
fk = FakeKube(tls=True, token='events-test-token').start()
TOKEN_FILE = os.path.join(fk.cert_dir or '/tmp', 'drv-token')
with open(TOKEN_FILE, 'w') as _f:
    _f.write(fk.token + '\n')
procs = []


def emit(name, *args, timeout=30, want_rc=0):
    """Runs the driver for involved object `name`; returns (exit status,
    stats dict, proc)."""
    p = dbptest.Proc([DRV, '--server', fk.url, '--token-file', TOKEN_FILE, '--cacert', fk.ca_file,
                      '--name', name, '--uid', 'uid-' + name, '--instance', 'test-pod-1',
                      '--retry-interval-ms', '200', *args])
    procs.append(p)
    m = p.expect(r'^STATS (.*)', timeout)
    rc = p.wait(10)
    st = dict(kv.split('=') for kv in m.group(1).split()) if m else {}
    st = {k: int(v) for k, v in st.items()}
    if rc != want_rc or not m:
        diag('driver for %s: rc=%s stderr:\n%s' % (name, rc, p.stderr_text()[-2000:]))
    return rc, st, p


def events_for(name, ns='default'):
    return [e for e in fk.store_list('v1', 'Event', ns)
            if (e.get('involvedObject') or {}).get('name') == name]


def reqs(name, since=0):
    """(method, code) of Event writes for involved object `name`."""
    return [(r['method'], r['code']) for r in fk.requests(since)
            if r['resource'] == 'events' and (r['name'].startswith(name + '.') or r['method'] == 'POST')]


def last_seq():
    rs = fk.requests()
    return rs[-1]['seq'] if rs else 0


try:
    # --- a burst of identical events: one Event, count 10
    rc, st, _ = emit('burst', '--identical', '10')
    is_(rc, 0, 'burst: driver drains and exits 0')
    evs = events_for('burst')
    is_(len(evs), 1, '10 identical emits give one Event object')
    e = evs[0] if evs else {}
    is_(e.get('count'), 10, 'with count 10')
    is_((st.get('emitted'), st.get('created'), st.get('failed'), st.get('pending')), (10, 1, 0, 0),
        'stats: 10 emitted, 1 created, none failed or pending')
    like(e.get('metadata', {}).get('name'), r'^burst\.[0-9a-f]{12,16}$', 'name is <object>.<hex unix ns>')
    is_(e.get('metadata', {}).get('namespace'), 'default', 'in the object\'s namespace')
    io = e.get('involvedObject') or {}
    is_((io.get('apiVersion'), io.get('kind'), io.get('name'), io.get('namespace'), io.get('uid')),
        ('v1', 'ConfigMap', 'burst', 'default', 'uid-burst'), 'involvedObject filled')
    is_((e.get('type'), e.get('reason')), ('Normal', 'Tested'), 'type and reason')
    is_(e.get('message'), 'the same thing happened to burst', 'message')
    like(e.get('firstTimestamp'), TIME, 'firstTimestamp is metav1.Time')
    like(e.get('lastTimestamp'), TIME, 'lastTimestamp is metav1.Time')
    is_(e.get('eventTime'), None, 'eventTime left null')
    is_((e.get('source') or {}).get('component'), 'dbprovd', 'source.component')
    is_((e.get('source') or {}).get('host'), 'test-pod-1', 'source.host')
    is_((e.get('reportingComponent'), e.get('reportingInstance')), ('dbprovd', 'test-pod-1'),
        'reportingComponent and reportingInstance')

    # --- spaced identical events: one POST, then PATCHes with count+1
    seq = last_seq()
    rc, st, _ = emit('spaced', '--identical', '10', '--interval-ms', '40', '--warning')
    is_(rc, 0, 'spaced: driver exits 0')
    evs = events_for('spaced')
    is_(len(evs), 1, '10 spaced identical emits give one Event object')
    is_(evs[0].get('count') if evs else None, 10, 'with count 10')
    is_(evs[0].get('type') if evs else None, 'Warning', 'Warning type')
    methods = [m for m, c in reqs('spaced', seq) if c in (200, 201)]
    is_(methods.count('POST'), 1, 'one POST')
    ok(methods.count('PATCH') >= 1 and st.get('created', 0) + st.get('patched', 0) == len(methods),
       'the repeats went out as PATCHes (%d)' % methods.count('PATCH'))
    ok(evs and evs[0]['firstTimestamp'] <= evs[0]['lastTimestamp'], 'firstTimestamp <= lastTimestamp')

    # --- distinct reasons: separate Events
    rc, st, _ = emit('distinct', '--identical', '2', '--distinct', '3')
    is_(rc, 0, 'distinct: driver exits 0')
    evs = sorted(events_for('distinct'), key=lambda x: x['reason'])
    is_([(x['reason'], x['count']) for x in evs], [('Tested', 2), ('Tested1', 1), ('Tested2', 1), ('Tested3', 1)],
        'distinct reasons give separate Events; identical ones still aggregate')
    is_(len(set(x['metadata']['name'] for x in evs)), 4, 'four distinct names')

    # --- a cluster-scoped object: the Event goes to "default"
    rc, st, _ = emit('node-1', '--namespace', '', '--kind', 'Node', '--identical', '1')
    is_(rc, 0, 'cluster-scoped: driver exits 0')
    evs = events_for('node-1')
    is_(len(evs), 1, 'Event for a cluster-scoped object accepted')
    ok(evs and 'namespace' not in evs[0]['involvedObject'] and evs[0]['metadata']['namespace'] == 'default',
       'in namespace default, without involvedObject.namespace')

    # --- 500s: retried until delivered
    seq = last_seq()
    fk.fail(500, count=3, method='POST', path='/events$')
    rc, st, _ = emit('flaky', '--identical', '10')
    is_(rc, 0, 'fail next 3 POSTs with 500: driver still drains and exits 0')
    evs = events_for('flaky')
    is_((len(evs), evs[0]['count'] if evs else None), (1, 10), 'still one Event with count 10')
    is_(st.get('retried'), 3, 'three retries counted')
    is_([c for m, c in reqs('flaky', seq)], [500, 500, 500, 201], 'POST 500 x3, then 201')

    seq = last_seq()
    fk.fail(503, count=2, method='PATCH', path='/events/flaky2')
    rc, st, _ = emit('flaky2', '--identical', '5', '--interval-ms', '30')
    evs = events_for('flaky2')
    is_((rc, len(evs), evs[0]['count'] if evs else None), (0, 1, 5), 'PATCH failures retried: count 5')

    # --- connections reset before an answer: transport errors, retried
    seq = last_seq()
    fk.reset_next(count=2, method='POST', path='/events$', execute=False)
    rc, st, _ = emit('cut', '--identical', '2')
    evs = events_for('cut')
    is_((rc, len(evs), evs[0]['count'] if evs else None, st.get('retried')), (0, 1, 2, 2),
        'two resets: retried twice, then delivered with count 2')

    # --- the spam filter: 25 per object, the rest dropped locally
    rc, st, _ = emit('spam', '--distinct', '30')
    is_((rc, st.get('created'), st.get('filtered')), (0, 25, 5), 'spam filter: burst of 25, 5 filtered')
    is_(len(events_for('spam')), 25, '25 Events stored')

    # --- connection reset after the status line: the POST landed, no duplicate
    seq = last_seq()
    fk.reset_next(count=1, method='POST', path='/events$', execute=True)
    rc, st, _ = emit('reset', '--identical', '3')
    evs = events_for('reset')
    is_((rc, len(evs), evs[0]['count'] if evs else None), (0, 1, 3),
        'reset mid-answer: delivered once with count 3')
    is_([m for m, c in reqs('reset', seq)], ['POST'], 'a 201 cut short counts as written (no second POST)')

    # --- AlreadyExists on POST -> PATCH (which meets 404 here) -> POST again
    seq = last_seq()
    fk.fail(409, count=1, method='POST', path='/events$', reason='AlreadyExists')
    rc, st, _ = emit('exists', '--identical', '4')
    evs = events_for('exists')
    is_((rc, len(evs), evs[0]['count'] if evs else None), (0, 1, 4),
        '409 AlreadyExists then 404: delivered with count 4')
    is_(reqs('exists', seq), [('POST', 409), ('PATCH', 404), ('POST', 201)],
        'POST 409 AlreadyExists -> PATCH, 404 -> POST under the same name')

    # --- the Event vanished (TTL, deletion): PATCH 404 -> POST under the same name
    seq = last_seq()
    p = dbptest.Proc([DRV, '--server', fk.url, '--token-file', TOKEN_FILE, '--cacert', fk.ca_file,
                      '--name', 'gone', '--instance', 'test-pod-1', '--identical', '6', '--interval-ms', '300'])
    procs.append(p)
    first = dbptest.wait_until(lambda: events_for('gone'), 10)
    name = first[0]['metadata']['name'] if first else None
    ok(first and fk.store_delete('v1', 'Event', name, 'default'), 'first Event deleted behind the recorder')
    ok(p.expect(r'^STATS', 20) and p.wait(10) == 0, 'driver exits 0')
    evs = events_for('gone')
    is_((len(evs), evs[0]['count'] if evs else None), (1, 6), 're-created with the full count 6')
    is_(evs[0]['metadata']['name'] if evs else None, name, 'under the same name')
    ok(('PATCH', 404) in reqs('gone', seq), 'after a PATCH answered 404')

    # --- Status errors are not retried
    seq = last_seq()
    fk.fail(422, count=1, method='POST', path='/events$')
    rc, st, _ = emit('invalid', '--identical', '1', want_rc=1)
    is_(rc, 1, '422: driver reports the failure (exit 1)')
    is_((st.get('failed'), st.get('retried')), (1, 0), '422 counted as failed, not retried')
    is_(len(reqs('invalid', seq)), 1, 'one POST only')
    fk.fail(403, count=1, method='POST', path='/events$')
    rc, st, _ = emit('forbidden', '--identical', '1', want_rc=1)
    is_((rc, st.get('failed'), st.get('retried')), (1, 1, 0), '403 not retried either')

    errs = ''.join(p.stderr_text() for p in procs)
    ok(fk.token not in errs and 'Bearer' not in errs, 'no token in the logs')
finally:
    for p in procs:
        p.close()
    fk.close()

done_testing()
