#!/usr/bin/python3
# t/fakekube/07-faults.t: fault injection through the Python API and the /_fake/ HTTP control
# endpoint: 429/5xx with Retry-After, latency, resets mid-body, stalls, dropped watches, restart,
# and the request log (kube-api.md §6.2, §10 item 13).
import http.client
import json
import os
import socket
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, done_testing  # noqa: E402
import fakekube  # noqa: E402

CM = '/api/v1/namespaces/default/configmaps'
fk = fakekube.FakeKube(token='tok').start()
c = fk.client(user_agent='faults-test/0.1 (linux/amd64)')


def control(path, body=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(fk.url + '/_fake/' + path, data=data, method=method or ('POST' if data else 'GET'),
                                 headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def cm(name):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': name}}


# --- 429 and 5xx
fk.fail(429, count=2, method='GET', path='/configmaps', retry_after=3)
r = c.get(CM)
is_(r.status, 429, 'injected 429')
is_(r.header('Content-Type'), 'text/plain; charset=utf-8', '429 body is text/plain')
is_(r.text, 'Too many requests, please try again later.\n', '429 body text')
is_(r.header('Retry-After'), '3', '429 carries Retry-After')
is_(c.post(CM, cm('a')).status, 201, 'the rule only matches its method')
is_(c.get(CM).status, 429, 'count=2: second match fails too')
is_(c.get(CM).status, 200, '... third one passes')
fk.fail(500, retry_after=2)
r = c.get('/api/v1/namespaces/default/secrets')
is_((r.status, r.header('Retry-After')), (500, '2'), 'injected 500 with Retry-After')
is_((r.json['reason'], r.json['details']['retryAfterSeconds'], r.json['kind']), ('InternalError', 2, 'Status'),
    '500 Status JSON with retryAfterSeconds')
fk.fail(503)
r = c.get(CM)
is_((r.status, r.json['reason'], r.header('Retry-After')), (503, 'ServiceUnavailable', None), '503 without Retry-After')
fk.fail(504, retry_after=1)
r = c.get(CM)
is_((r.status, r.json['reason']), (504, 'Timeout'), '504 Timeout')
fk.fail(403, method='PUT')
r = c.put(CM + '/a', cm('a'))
is_(r.status, 403, 'injected 403')
is_(r.json['message'], 'configmaps "a" is forbidden: User "system:serviceaccount:default:fakekube" cannot update '
    'resource "configmaps" in API group "" in the namespace "default"', '403 has the RBAC message form')
is_(r.json['details'], {'name': 'a', 'kind': 'configmaps'}, '403 details')
fk.fail(500, count=None, path='/secrets')
ok(c.get('/api/v1/namespaces/default/secrets').status == 500 and c.get('/api/v1/namespaces/default/secrets').status == 500,
   'count=None keeps failing')
fk.clear_faults()
is_(c.get('/api/v1/namespaces/default/secrets').status, 200, 'clear_faults removes it')
is_(c.get(CM, token='bad').status, 401, 'auth is checked before faults')

# --- latency
fk.set_latency(0.3)
t0 = time.monotonic()
c.get(CM)
ok(time.monotonic() - t0 >= 0.3, 'latency delays answers')
fk.set_latency(0)

# --- connection reset mid-body
fk.reset_next(method='POST')
try:
    c.post(CM, cm('reset1'))
    ok(False, 'reset mid-body breaks the response')
except (http.client.IncompleteRead, ConnectionError, http.client.RemoteDisconnected) as e:
    ok(True, 'reset mid-body breaks the response (%s)' % type(e).__name__)
is_(c.get(CM + '/reset1').status, 200, 'execute=True: the write took effect before the reset')
fk.reset_next(method='POST', execute=False)
try:
    c.post(CM, cm('reset2'))
except (http.client.IncompleteRead, ConnectionError, http.client.RemoteDisconnected):
    pass
is_(c.get(CM + '/reset2').status, 404, 'execute=False: the write did not happen')
fk.reset_next(watch=True)
ws = c.watch(CM + '?watch=1')
try:
    ws.next_event(timeout=2)
    ok(False, 'reset watch: partial event then reset')
except (ConnectionError, ValueError):
    ok(ws.aborted and not any(ch.endswith(b'\n') for ch in ws.chunks), 'reset watch: partial event then reset')
ws.close()

# --- stalls
rv = c.get(CM).json['metadata']['resourceVersion']
fk.stall_watches(existing=False, count=1)
ws = c.watch(CM + '?watch=1&resourceVersion=%s' % rv)
is_(ws.status, 200, 'stalled watch: headers arrive')
c.post(CM, cm('s1'))
try:
    ws.next_event(timeout=0.5)
    ok(False, 'stalled watch: silence afterwards')
except socket.timeout:
    ok(True, 'stalled watch: silence afterwards')
ws.close()
ws = c.watch(CM + '?watch=1&resourceVersion=%s' % rv)
is_(ws.next_event(timeout=2)['object']['metadata']['name'], 's1', 'count=1: the next watch is normal')
fk.stall_watches()
c.post(CM, cm('s2'))
try:
    ws.next_event(timeout=0.5)
    ok(False, 'stall_watches() silences open watches')
except socket.timeout:
    ok(True, 'stall_watches() silences open watches')
ws.close()
fk.stall(method='GET', path='/secrets')
slow = fk.client(timeout=0.5)
try:
    slow.get('/api/v1/namespaces/default/secrets')
    ok(False, 'a stalled request gets no answer')
except socket.timeout:
    ok(True, 'a stalled request gets no answer')

# --- drop via the control endpoint
ws = c.watch(CM + '?watch=1&resourceVersion=%s' % c.get(CM).json['metadata']['resourceVersion'])
time.sleep(0.1)
is_(control('drop-watches', {})['dropped'], 1, 'POST /_fake/drop-watches')
try:
    ws.next_event(timeout=2)
    ok(False, 'the watch is cut without terminator')
except ConnectionError:
    ok(ws.aborted, 'the watch is cut without terminator')
ws.close()

# --- the control endpoint: fail, compact, rotate-token, state, restart
control('fail', {'code': 429, 'count': 1, 'path': '/configmaps', 'retry_after': 5})
r = c.get(CM)
is_((r.status, r.header('Retry-After')), (429, '5'), 'POST /_fake/fail')
st = control('state')
ok(st['rv'] >= 1 and st['url'] == fk.url, 'GET /_fake/state')
old_rv = st['rv']
c.post(CM, cm('c1'))
is_(control('compact', {})['ok'], True, 'POST /_fake/compact')
ws = c.watch(CM + '?watch=1&resourceVersion=%d' % old_rv)
is_(ws.next_event(timeout=2)['object']['code'], 410, 'compaction via HTTP gives 410')
ws.close()
newtok = control('rotate-token', {'grace': 0})['token']
is_(c.get(CM).status, 401, 'POST /_fake/rotate-token: old token rejected')
c = fk.client(user_agent='faults-test/0.1 (linux/amd64)', token=newtok)
is_(c.get(CM).status, 200, '... new token accepted')
control('restart', {'downtime': 0.2})
time.sleep(0.1)
try:
    c.get(CM)
    ok(False, 'during the restart downtime connections are refused')
except ConnectionError:
    ok(True, 'during the restart downtime connections are refused')
time.sleep(0.4)
r = c.get(CM)
is_(r.status, 200, 'the server is back after the restart')
ws = c.watch(CM + '?watch=1&resourceVersion=%d' % (int(r.json['metadata']['resourceVersion']) - 1))
is_(ws.next_event(timeout=2)['object'].get('code'), 410, 'a resume across the restart gets 410')
ws.close()

# --- request log
log = control('requests')['items']
mine = [e for e in log if e['userAgent'].startswith('faults-test/')]
ok(len(mine) > 20, 'GET /_fake/requests lists the requests')
e = [x for x in mine if x['method'] == 'PUT'][0]
is_((e['verb'], e['resource'], e['namespace'], e['name'], e['apiGroup'], e['code'], e['fault']),
    ('update', 'configmaps', 'default', 'a', '', 403, 'status'), 'a log entry: verb, resource, namespace, name, group, code')
ok(any(x['verb'] == 'watch' and x['watch'] for x in mine), 'watches are logged with verb watch')
ok(any(x['verb'] == 'create' and x['code'] == 201 for x in mine), 'creates are logged with 201')
is_(fk.requests(since=log[-1]['seq']), [], 'requests(since=) returns only newer entries')
control('requests', method='DELETE')
is_(len(fk.requests()), 0, 'DELETE /_fake/requests clears the log')
ok(not any(x['path'].startswith('/_fake') for x in log), 'control requests are not logged')
try:
    control('nonsense', {})
    ok(False, 'unknown control endpoint is 404')
except urllib.error.HTTPError as e:
    is_(e.code, 404, 'unknown control endpoint is 404')

fk.close()
done_testing()
