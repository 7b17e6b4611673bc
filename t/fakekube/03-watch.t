#!/usr/bin/python3
# t/fakekube/03-watch.t: watch semantics (kube-api.md §4): resume from an RV, chunked NDJSON with
# events split across chunks, clean close at timeoutSeconds, 410 ERROR after compaction or a full
# history window, bookmarks, selectors with ADDED/DELETED transitions, dropped watches, restarts.
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, done_testing  # noqa: E402
import fakekube  # noqa: E402

W = '/apis/example.com/v1/namespaces/default/widgets'
CM = '/api/v1/namespaces/default/configmaps'


def widget(name, size=1, labels=None):
    m = {'name': name}
    if labels:
        m['labels'] = labels
    return {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': m, 'spec': {'size': size}}


fk = fakekube.FakeKube(crd_dir=os.path.join(HERE, 'crd'), chunking='split', seed=7, bookmark_interval=0.3,
                       history=100).start()
c = fk.client()

c.post(W, widget('a'))
c.post(W, widget('b'))
lst = c.get(W).json
list_rv = lst['metadata']['resourceVersion']

# --- resume from the list RV: exactly the later events, in order, full objects
ws = c.watch(W + '?watch=1&resourceVersion=%s&timeoutSeconds=2' % list_rv)
is_(ws.status, 200, 'watch answers 200')
is_(ws.headers.get('transfer-encoding'), 'chunked', 'watch is chunked')
is_(ws.headers.get('content-type'), 'application/json', 'watch content type application/json')
c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'other'}})
c.patch(W + '/a', {'spec': {'size': 2}})
c.post(W, widget('c'))
c.delete(W + '/b')
evs = ws.events(3)
is_([e['type'] for e in evs], ['MODIFIED', 'ADDED', 'DELETED'], 'events after the list RV, in order, other types filtered')
is_([e['object']['metadata']['name'] for e in evs], ['a', 'c', 'b'], '... for the right objects')
ok(all(e['object']['kind'] == 'Widget' and e['object']['apiVersion'] == 'example.com/v1' for e in evs),
   'watch objects carry kind and apiVersion')
rvs = [int(e['object']['metadata']['resourceVersion']) for e in evs]
ok(rvs == sorted(rvs) and rvs[0] > int(list_rv), 'RVs strictly increase after the list RV')
is_(evs[2]['object']['spec'], {'size': 1, 'color': 'red'}, 'DELETED carries the last state')
last_rv = str(rvs[-1])
ok(len(ws.chunks) > 3 and any(not ch.endswith(b'\n') for ch in ws.chunks),
   'events were split across chunks (parser reassembles them)')
t0 = time.monotonic()
e = ws.next_event(timeout=8)
while e is not None and e['type'] == 'BOOKMARK':
    e = ws.next_event(timeout=8)
ok(e is None and ws.ended_cleanly, 'stream ends with the chunked terminator at timeoutSeconds')
ok(time.monotonic() - t0 < 2.5, '... on time')
ws.close()

# --- resume exactly where the last stream stopped: no duplicates, no gaps
c.patch(W + '/c', {'spec': {'size': 3}})
ws = c.watch(W + '?watch=true&resourceVersion=%s&timeoutSeconds=2' % last_rv)
e = ws.next_event(timeout=3)
is_((e['type'], e['object']['metadata']['name'], e['object']['spec']['size']), ('MODIFIED', 'c', 3),
    'resume from the last RV gets exactly the next event')
ws.close()

# --- RV unset: synthetic ADDED for existing objects, then changes
fk.chunking = 'random'
ws = c.watch(W + '?watch=1&timeoutSeconds=3')
evs = ws.events(2)
is_(sorted((e['type'], e['object']['metadata']['name']) for e in evs), [('ADDED', 'a'), ('ADDED', 'c')],
    'watch without RV starts with ADDED for every object')
c.post(W, widget('d'))
e = ws.next_event()
is_((e['type'], e['object']['metadata']['name']), ('ADDED', 'd'), '... then live events')
ws.close()

# --- bookmarks: periodic and shortly before the deadline
now_rv = c.get(W).json['metadata']['resourceVersion']
ws = c.watch(W + '?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=%s' % now_rv)
e = ws.next_event(timeout=2)
is_(e['type'], 'BOOKMARK', 'a quiet watch gets a BOOKMARK')
is_((e['object']['kind'], e['object']['apiVersion']), ('Widget', 'example.com/v1'), 'bookmark object kind/apiVersion')
ok(int(e['object']['metadata']['resourceVersion']) >= int(now_rv), 'bookmark carries a current RV')
kinds = []
while True:
    e = ws.next_event(timeout=4)
    if e is None:
        break
    kinds.append(e['type'])
ok(kinds and set(kinds) == {'BOOKMARK'} and ws.ended_cleanly, 'only bookmarks until the clean end')
ws.close()
fk.bookmark_interval = 60
fk.bookmark_lead = 0.4
ws = c.watch(W + '?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion=%s' % now_rv)
t0 = time.monotonic()
e = ws.next_event(timeout=3)
is_(e and e['type'], 'BOOKMARK', 'with a long interval, a bookmark still comes before the deadline')
ok(0.4 < time.monotonic() - t0 < 1.0, '... close to the deadline')
ws.close()
ws = c.watch(W + '?watch=1&timeoutSeconds=1&resourceVersion=%s' % now_rv)
ok(ws.next_event(timeout=3) is None and ws.ended_cleanly, 'no bookmarks unless allowWatchBookmarks')
ws.close()

# --- selectors and transitions
ws = c.watch(W + '?watch=1&labelSelector=tier%3Dfront&timeoutSeconds=5&resourceVersion=' +
             c.get(W).json['metadata']['resourceVersion'])
c.patch(W + '/a', {'metadata': {'labels': {'tier': 'front'}}})
c.patch(W + '/a', {'spec': {'size': 7}})
c.patch(W + '/a', {'metadata': {'labels': {'tier': 'back'}}})
c.patch(W + '/d', {'spec': {'size': 8}})
evs = ws.events(3)
is_([e['type'] for e in evs], ['ADDED', 'MODIFIED', 'DELETED'], 'label selector: ADDED on match, MODIFIED, DELETED on unmatch')
is_(evs[2]['object']['metadata']['labels'], {'tier': 'front'}, 'transition DELETED carries the previous state...')
ok(int(evs[2]['object']['metadata']['resourceVersion']) > int(evs[1]['object']['metadata']['resourceVersion']),
   '... with the new RV')
ws.close()
r = c.get(W + '?fieldSelector=metadata.name%3Dd')
is_([i['metadata']['name'] for i in r.json['items']], ['d'], 'field selector metadata.name on list')
r = c.get(W + '?fieldSelector=spec.color%3Dred')
is_([i['metadata']['name'] for i in r.json['items']], ['a', 'c', 'd'], 'CRD selectableFields usable as field selector')
r = c.get(W + '?watch=1&fieldSelector=spec.size%3D1')
is_((r.status, r.json['message']), (400, 'field label not supported: spec.size'), 'unsupported field label is 400')
r = c.get(W + '?labelSelector=a%20b%20c')
is_(r.status, 400, 'bad label selector is 400')
r = c.get(W + '?labelSelector=' + 'tier%20in%20(front,back),!nope')
is_([i['metadata']['name'] for i in r.json['items']], ['a'], 'set-based label selector')

# --- 410 after compaction, after a full history window, after restart
old_rv = c.get(W).json['metadata']['resourceVersion']
c.patch(W + '/a', {'spec': {'size': 11}})
fk.compact()
ws = c.watch(W + '?watch=1&resourceVersion=%s' % old_rv)
is_(ws.status, 200, 'watch from a compacted RV is still HTTP 200')
e = ws.next_event(timeout=3)
is_((e['type'], e['object']['code'], e['object']['reason']), ('ERROR', 410, 'Expired'), '... with an ERROR event 410 Expired')
like(e['object']['message'], r'^too old resource version: %s \(\d+\)$' % old_rv, '... and the watch-cache message')
ok(ws.next_event(timeout=3) is None and ws.ended_cleanly, 'the stream ends after the ERROR')
ws.close()
cur = c.get(W).json['metadata']['resourceVersion']
ws = c.watch(W + '?watch=1&timeoutSeconds=2&resourceVersion=%s' % cur)
c.patch(W + '/a', {'spec': {'size': 12}})
is_(ws.next_event(timeout=3)['type'], 'MODIFIED', 'resume from the compaction point itself works')
ws.close()
fk.set_history(3)
base = c.get(W).json['metadata']['resourceVersion']
for i in range(5):
    c.patch(CM + '/other', {'data': {'i': str(i)}})
ws = c.watch(W + '?watch=1&resourceVersion=%s' % base)
is_(ws.next_event(timeout=3)['object'].get('code'), 410, 'history window overflow (any type) gives 410')
ws.close()
fk.set_history(100)

# --- too large RV
fk.too_large_wait = 0.2
big = int(c.get(W).json['metadata']['resourceVersion']) + 100
ws = c.watch(W + '?watch=1&resourceVersion=%d' % big)
e = ws.next_event(timeout=3)
is_((e['type'], e['object']['code'], e['object']['details']['causes'][0]['reason']), ('ERROR', 504, 'ResourceVersionTooLarge'),
    'watch from a future RV: ERROR 504 ResourceVersionTooLarge')
ws.close()
r = c.get(W + '?resourceVersion=%d' % big)
is_((r.status, r.header('Retry-After')), (504, '1'), 'list with a future RV: 504 with Retry-After 1')

# --- dropped watches, restarts
cur = c.get(W).json['metadata']['resourceVersion']
ws = c.watch(W + '?watch=1&resourceVersion=%s' % cur)
time.sleep(0.1)
is_(fk.drop_watches(), 1, 'drop_watches finds the open watch')
try:
    ws.next_event(timeout=3)
    ok(False, 'dropped watch aborts without terminator')
except ConnectionError:
    ok(ws.aborted and not ws.ended_cleanly, 'dropped watch aborts without terminator')
ws.close()
ws = c.watch(W + '?watch=1&resourceVersion=%s' % cur)
c.post(W, widget('f'))
time.sleep(0.1)
fk.stop()
fk.stop()
try:
    while ws.next_event(timeout=3) is not None:
        pass
    ok(False, 'stop() closes open watches')
except ConnectionError:
    ok(True, 'stop() closes open watches')
ws.close()
fk.start()
r = c.post(W, widget('e'))
ok(int(r.json['metadata']['resourceVersion']) > int(cur), 'after a restart the RV counter continues')
is_(c.get(W + '/a').json['spec']['size'], 12, '... and the objects are kept')
ws = c.watch(W + '?watch=1&resourceVersion=%s' % cur)
is_(ws.next_event(timeout=3)['object'].get('code'), 410, '... but the watch history is lost (410)')
ws.close()

# --- WatchList (sendInitialEvents)
ws = c.watch(W + '?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2')
evs = []
while True:
    e = ws.next_event(timeout=3)
    evs.append(e)
    if e['type'] == 'BOOKMARK':
        break
is_({e['type'] for e in evs[:-1]}, {'ADDED'}, 'sendInitialEvents: ADDED for every object...')
is_(evs[-1]['object']['metadata'].get('annotations'), {'k8s.io/initial-events-end': 'true'},
    '... then a BOOKMARK with k8s.io/initial-events-end')
ws.close()
r = c.get(W + '?watch=1&sendInitialEvents=true')
is_(r.status, 422, 'sendInitialEvents without resourceVersionMatch=NotOlderThan is 422')

fk.close()
done_testing()
