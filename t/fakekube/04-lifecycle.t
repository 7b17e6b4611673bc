#!/usr/bin/python3
# t/fakekube/04-lifecycle.t: status subresource and generation rules (kube-api.md §5.7), finalizers
# and deletion (§5.6), delete options and preconditions, namespace lifecycle, ownerReferences GC (§5.8).
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, done_testing  # noqa: E402
import fakekube  # noqa: E402

W = '/apis/example.com/v1/namespaces/default/widgets'
G = '/apis/example.com/v1/gadgets'
CM = '/api/v1/namespaces/default/configmaps'
NS = '/api/v1/namespaces'


def widget(name, size=1, **meta):
    return {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': dict(meta, name=name), 'spec': {'size': size}}


def wait_for(fn, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.02)
    return fn()


fk = fakekube.FakeKube(crd_dir=os.path.join(HERE, 'crd')).start()
c = fk.client()

# --- status subresource ON (Widget)
w = c.post(W, widget('s1')).json
rv = w['metadata']['resourceVersion']
r = c.put(W + '/s1', dict(w, status={'phase': 'Ready'}))
is_(r.json['metadata']['resourceVersion'], rv, 'status through the main endpoint is silently ignored (no-op, same RV)')
ok('status' not in r.json, '... and not stored')
r = c.put(W + '/s1/status', dict(w, spec={'size': 5}, status={'phase': 'Ready', 'observedGeneration': 1},
                                  metadata=dict(w['metadata'], labels={'x': 'y'})))
is_(r.status, 200, 'PUT /status works')
is_(r.json['status'], {'phase': 'Ready', 'observedGeneration': 1}, '... status taken')
is_((r.json['spec']['size'], r.json['metadata'].get('labels')), (1, None), '... spec and metadata changes ignored')
is_(r.json['metadata']['generation'], 1, '... generation unchanged')
ok(int(r.json['metadata']['resourceVersion']) > int(rv), '... RV bumped')
r = c.put(W + '/s1/status', dict(w, status={'phase': 'Failed'}))
is_(r.status, 409, '/status obeys the RV rules (stale RV is 409)')
r = c.patch(W + '/s1/status', {'status': {'phase': 'Pending'}})
is_(r.json['status']['phase'], 'Pending', 'PATCH /status')
r = c.patch(W + '/s1', {'metadata': {'labels': {'a': 'b'}, 'annotations': {'c': 'd'}}})
is_(r.json['metadata']['generation'], 1, 'metadata-only change: no generation bump')
r = c.patch(W + '/s1', {'spec': {'size': 2}})
is_(r.json['metadata']['generation'], 2, 'spec change: generation +1')
cur = r.json
r = c.put(W + '/s1/status', {'apiVersion': 'example.com/v1', 'kind': 'Widget',
                              'metadata': {'name': 's1', 'resourceVersion': cur['metadata']['resourceVersion']}, 'spec': {'size': 2}})
ok('status' not in r.json, 'a /status PUT without status clears it')
is_(c.get(W + '/s1/status').json['metadata']['name'], 's1', 'GET /status returns the object')
r = c.get(W + '/s1/scale')
is_((r.json['kind'], r.json['spec']['replicas']), ('Scale', 0), 'GET /scale')
r = c.patch(W + '/s1/scale', {'spec': {'replicas': 3}})
is_((r.status, r.json['spec']['replicas'], c.get(W + '/s1').json['spec']['replicas']), (200, 3, 3), 'PATCH /scale sets .spec.replicas')

# --- status subresource OFF (Gadget, cluster-scoped)
g = c.post(G, {'apiVersion': 'example.com/v1', 'kind': 'Gadget', 'metadata': {'name': 'g1'}, 'spec': {'a': 1},
               'status': {'ok': True}}).json
is_(g['status'], {'ok': True}, 'without the subresource status is kept on create')
r = c.patch(G + '/g1', {'status': {'ok': False}})
is_((r.json['status'], r.json['metadata']['generation']), ({'ok': False}, 2), '... status changes go through and bump generation')
is_(c.put(G + '/g1/status', r.json).status, 404, '... and /status is 404')
r = c.patch(G + '/g1', {'metadata': {'labels': {'a': 'b'}}})
is_(r.json['metadata']['generation'], 2, '... metadata-only change does not bump generation')

# --- finalizers
w = c.post(W, widget('f1', finalizers=['example.com/cleanup', 'example.com/other'])).json
rv = w['metadata']['resourceVersion']
ws = c.watch(W + '?watch=1&timeoutSeconds=5&resourceVersion=%s' % rv)
r = c.delete(W + '/f1')
is_(r.status, 200, 'DELETE with finalizers is 200')
is_(r.json['kind'], 'Widget', '... and answers the object')
ok(r.json['metadata'].get('deletionTimestamp'), '... with deletionTimestamp set')
is_((r.json['metadata']['deletionGracePeriodSeconds'], r.json['metadata']['generation']), (0, 2),
    '... deletionGracePeriodSeconds 0 and generation bumped')
e = ws.next_event()
is_((e['type'], bool(e['object']['metadata'].get('deletionTimestamp'))), ('MODIFIED', True), 'watchers see MODIFIED')
r2 = c.delete(W + '/f1')
is_((r2.status, r2.json['metadata']['resourceVersion']), (200, r.json['metadata']['resourceVersion']),
    'second DELETE answers the unchanged object')
is_(c.get(W + '/f1').status, 200, 'the object stays readable')
r = c.patch(W + '/f1', {'metadata': {'finalizers': ['example.com/cleanup', 'example.com/other', 'example.com/new']}})
is_(r.status, 422, 'adding a finalizer while deleting is 422')
like(r.json['message'], r'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted',
     '... Forbidden message')
r = c.patch(W + '/f1', {'metadata': {'deletionTimestamp': None}, 'spec': {'size': 3}})
ok(r.json['metadata'].get('deletionTimestamp'), 'deletionTimestamp cannot be cleared')
r = c.patch(W + '/f1', [{'op': 'remove', 'path': '/metadata/finalizers/1'}], ctype='application/json-patch+json')
is_((r.status, r.json['metadata']['finalizers']), (200, ['example.com/cleanup']), 'removing one finalizer keeps the object')
r = c.patch(W + '/f1', {'metadata': {'finalizers': []}})
is_(r.status, 200, 'the write that empties finalizers answers 200')
is_(c.get(W + '/f1').status, 404, '... and the object is gone')
types = []
while True:
    e = ws.next_event()
    types.append(e['type'])
    if e['type'] == 'DELETED':
        break
is_(types, ['MODIFIED', 'MODIFIED', 'DELETED'], 'watchers see MODIFIEDs then DELETED')
is_(int(e['object']['metadata']['resourceVersion']), int(r.json['metadata']['resourceVersion']),
    'DELETED carries the deletion RV')
ws.close()

# --- delete options
w = c.post(W, widget('p1')).json
r = c.delete(W + '/p1', {'kind': 'DeleteOptions', 'apiVersion': 'v1', 'preconditions': {'uid': 'nope'}})
is_(r.status, 409, 'uid precondition mismatch is 409')
like(r.json['message'], r'Precondition failed: UID in precondition: nope, UID in object meta: ', '... message')
r = c.delete(W + '/p1', {'preconditions': {'resourceVersion': '1'}})
like(r.json['message'], r'Precondition failed: ResourceVersion in precondition: 1', 'RV precondition mismatch is 409')
r = c.delete(W + '/p1', {'preconditions': {'uid': w['metadata']['uid'], 'resourceVersion': w['metadata']['resourceVersion']}})
is_((r.status, r.json['details']['uid']), (200, w['metadata']['uid']), 'matching preconditions delete')
c.post(W, widget('p2'))
r = c.delete(W + '/p2?propagationPolicy=Foreground')
is_(r.json['metadata'].get('finalizers'), ['foregroundDeletion'], 'Foreground adds the foregroundDeletion finalizer')
ok(wait_for(lambda: c.get(W + '/p2').status == 404), '... removed once no dependents remain')
c.post(W, widget('p3'))
r = c.delete(W + '/p3', {'orphanDependents': False})
is_(r.status, 200, 'orphanDependents=false without finalizers deletes at once')

# --- ownerReferences garbage collection
owner = c.post(W, widget('owner')).json
ref = {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'name': 'owner', 'uid': owner['metadata']['uid'], 'controller': True}
c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'child', 'ownerReferences': [ref]}})
c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'bogus', 'ownerReferences': [dict(ref, uid='0000')]}})
o2 = c.post(W, widget('owner2')).json
ref2 = dict(ref, name='owner2', uid=o2['metadata']['uid'], controller=False)
c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'shared', 'ownerReferences': [ref, ref2]}})
ok(wait_for(lambda: c.get(CM + '/bogus').status == 404), 'a dependent whose owner uid does not exist is collected')
time.sleep(0.2)
is_(c.get(CM + '/child').status, 200, 'a dependent with a live owner stays')
c.delete(W + '/owner')
ok(wait_for(lambda: c.get(CM + '/child').status == 404), 'deleting the owner collects the dependent (background)')
r = wait_for(lambda: len(c.get(CM + '/shared').json['metadata'].get('ownerReferences', [])) == 1 and c.get(CM + '/shared'))
ok(r and r.status == 200, 'a dependent with another live owner stays...')
ok(r and r.json['metadata']['ownerReferences'][0]['uid'] == o2['metadata']['uid'], '... and loses the dangling reference')
other = c.post(NS, {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': 'other'}}).json
c.post('/api/v1/namespaces/other/configmaps', {'apiVersion': 'v1', 'kind': 'ConfigMap',
                                              'metadata': {'name': 'xns', 'ownerReferences': [ref2]}})
ok(wait_for(lambda: c.get('/api/v1/namespaces/other/configmaps/xns').status == 404),
   'an owner in another namespace counts as absent (dependent collected)')
c.delete(W + '/owner2?propagationPolicy=Orphan')
r = wait_for(lambda: c.get(W + '/owner2').status == 404 and c.get(CM + '/shared'))
ok(r and r.status == 200 and 'ownerReferences' not in r.json['metadata'], 'Orphan: dependent kept, reference removed')

# --- namespaces
is_((other['status']['phase'], other['spec']['finalizers'], other['metadata']['labels']),
    ('Active', ['kubernetes'], {'kubernetes.io/metadata.name': 'other'}), 'new namespace: Active, kubernetes finalizer, name label')
O = '/apis/example.com/v1/namespaces/other/widgets'
c.post(O, widget('keep', finalizers=['example.com/hold']))
c.post(O, widget('plain'))
r = c.delete(NS + '/other')
is_((r.status, r.json['kind'], r.json['status']['phase']), (200, 'Namespace', 'Terminating'), 'namespace DELETE answers it Terminating')
r = c.post(O, widget('new'))
is_(r.status, 403, 'create in a terminating namespace is 403')
is_(r.json['details']['causes'], [{'reason': 'NamespaceTerminating', 'message': 'namespace other is being terminated',
                                   'field': 'metadata.namespace'}], '... with the NamespaceTerminating cause')
like(r.json['message'], r'^widgets.example.com "new" is forbidden: unable to create new content in namespace other because it is being terminated$',
     '... and message')
ok(wait_for(lambda: c.get(O + '/plain').status == 404), 'namespace contents are deleted')
time.sleep(0.2)
r = c.get(O + '/keep')
ok(r.status == 200 and r.json['metadata'].get('deletionTimestamp'), 'an object with finalizers lingers, marked for deletion')
is_(c.get(NS + '/other').json['status']['phase'], 'Terminating', 'the namespace stays Terminating meanwhile')
c.patch(O + '/keep', {'metadata': {'finalizers': None}})
ok(wait_for(lambda: c.get(NS + '/other').status == 404), 'the namespace disappears once empty')
r = c.delete(NS + '/default')
is_(r.status, 403, 'the default namespace cannot be deleted')

fk.close()
done_testing()
