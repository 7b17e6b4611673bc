#!/usr/bin/python3
# t/fakekube/09-core-types.t: Leases (MicroTime, create-on-PUT, conflicts; kube-api.md §7), core and
# events.k8s.io Events (§8), Secrets and ConfigMaps, CRDs created through the API (§9).
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, skip, done_testing  # noqa: E402
import fakekube  # noqa: E402

L = '/apis/coordination.k8s.io/v1/namespaces/default/leases'
EV = '/api/v1/namespaces/default/events'
EV1 = '/apis/events.k8s.io/v1/namespaces/default/events'
SEC = '/api/v1/namespaces/default/secrets'
CM = '/api/v1/namespaces/default/configmaps'
CRD = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions'
fk = fakekube.FakeKube(event_ttl=0.3).start()
c = fk.client()


def lease(name, **spec):
    return {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease', 'metadata': {'name': name}, 'spec': spec}


# --- Leases
T = '2025-05-01T10:00:00.000000Z'
r = c.post(L, lease('l1', holderIdentity='a', leaseDurationSeconds=15, acquireTime=T, renewTime='2025-05-01T10:00:01.123456Z',
                    leaseTransitions=0))
is_(r.status, 201, 'Lease create with MicroTime')
is_(r.json['spec']['renewTime'], '2025-05-01T10:00:01.123456Z', 'MicroTime kept with 6 digits')
r = c.post(L, lease('l2', renewTime='2025-05-01T10:00:05Z'))
is_(r.status, 400, 'MicroTime without fractional digits is 400')
like(r.json['message'], r'^Lease in version "v1" cannot be handled as a Lease: parsing time .*cannot parse', '... decode message')
is_(c.post(L, lease('l2', renewTime='2025-05-01T10:00:05.123Z')).status, 400, 'MicroTime with 3 digits is 400')
r = c.post(L, lease('l2', leaseDurationSeconds='15'))
is_(r.status, 400, 'a string for an int32 field is 400')
like(r.json['message'], r'cannot unmarshal string into Go struct field LeaseSpec.spec.leaseDurationSeconds of type int32',
     '... Go decode message')
is_(c.post(L, lease('l2', leaseDurationSeconds=0)).status, 422, 'leaseDurationSeconds 0 is 422')
r = c.put(L + '/l3', lease('l3', holderIdentity='me', renewTime=T))
is_(r.status, 201, 'PUT on a missing Lease creates it (201)')
cur = c.get(L + '/l1').json
a = dict(cur, spec=dict(cur['spec'], holderIdentity='b', leaseTransitions=1))
b = dict(cur, spec=dict(cur['spec'], holderIdentity='c', leaseTransitions=1))
ra, rb = c.put(L + '/l1', a), c.put(L + '/l1', b)
is_((ra.status, rb.status), (200, 409), 'two candidates with the same RV: one wins, one gets 409')
is_(c.get(L + '/l1').json['spec']['holderIdentity'], 'b', 'the winner holds the lease')
ok('generation' not in cur['metadata'], 'Leases have no generation')

# --- core Events
ev = {'apiVersion': 'v1', 'kind': 'Event', 'metadata': {'name': 'foo.1839f0c2a4b1d3e7'},
      'involvedObject': {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'name': 'foo', 'namespace': 'default', 'uid': 'u1'},
      'reason': 'Provisioned', 'message': 'created', 'type': 'Normal', 'source': {'component': 'op'},
      'firstTimestamp': '2025-05-01T10:00:00Z', 'lastTimestamp': '2025-05-01T10:00:00Z', 'count': 1}
r = c.post(EV, ev)
is_(r.status, 201, 'core Event create')
is_((r.json['eventTime'], r.json['reportingComponent']), (None, ''), 'unset eventTime/reportingComponent serialized as null/""')
r = c.post(EV, dict(ev, metadata={'name': 'bad1'}, involvedObject=dict(ev['involvedObject'], namespace='other')))
is_(r.status, 422, 'involvedObject.namespace mismatch is 422')
like(r.json['message'], r'involvedObject.namespace: Invalid value: "other": does not match event.namespace', '... message')
r = c.post(EV, dict(ev, metadata={'name': 'new1'}, eventTime='2025-05-01T10:00:00.000000Z'))
is_(r.status, 422, 'eventTime set: new-style rules apply')
like(r.json['message'], r'reportingComponent: Required value', '... reportingComponent required')
r = c.patch(EV + '/foo.1839f0c2a4b1d3e7', {'count': 2, 'lastTimestamp': '2025-05-01T10:01:00Z', 'message': 'again'},
            ctype='application/strategic-merge-patch+json')
is_((r.status, r.json['count']), (200, 2), 'strategic merge patch of an Event (client-go dedup)')
r = c.get(EV + '?fieldSelector=involvedObject.name%3Dfoo,reason%3DProvisioned')
is_(len(r.json['items']), 1, 'Event field selectors (involvedObject.name, reason)')
r = c.get(EV1 + '/foo.1839f0c2a4b1d3e7')
is_((r.json['apiVersion'], r.json['regarding']['name'], r.json['note'], r.json['deprecatedCount']),
    ('events.k8s.io/v1', 'foo', 'again', 2), 'events.k8s.io/v1 is a second view of core Events')
r = c.post(EV1, {'apiVersion': 'events.k8s.io/v1', 'kind': 'Event', 'metadata': {'name': 'n1'},
                 'eventTime': '2025-05-01T10:00:00.000000Z', 'reportingController': 'example.com/op', 'reportingInstance': 'op-1',
                 'action': 'Reconcile', 'reason': 'Done', 'type': 'Normal', 'note': 'ok',
                 'regarding': {'kind': 'Widget', 'name': 'foo', 'namespace': 'default'}})
is_(r.status, 201, 'events.k8s.io/v1 create')
is_(c.get(EV + '/n1').json['reportingComponent'], 'example.com/op', '... readable as a core Event')
r = c.post(EV1, {'apiVersion': 'events.k8s.io/v1', 'kind': 'Event', 'metadata': {'name': 'n2'}, 'type': 'Normal'})
is_(r.status, 422, 'events.k8s.io/v1 requires eventTime etc.')
ok(fk.store_get('v1', 'Event', 'n1', 'default'), 'events exist before their TTL')
end = time.monotonic() + 3
while time.monotonic() < end and fk.store_get('v1', 'Event', 'n1', 'default'):
    time.sleep(0.1)
ok(not fk.store_get('v1', 'Event', 'n1', 'default'), 'events expire after event_ttl')

# --- Secrets and ConfigMaps
r = c.post(SEC, {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 's1'}, 'stringData': {'user': 'bob'},
                 'data': {'pw': 'c2VjcmV0'}})
is_((r.json['data'], r.json['type'], 'stringData' in r.json), ({'pw': 'c2VjcmV0', 'user': 'Ym9i'}, 'Opaque', False),
    'stringData merged into data (base64), type defaults to Opaque')
r = c.post(SEC, {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': 's2'}, 'data': {'pw': 'not base64!'}})
is_(r.status, 400, 'invalid base64 in Secret data is 400')
like(r.json['message'], r'illegal base64 data at input byte', '... Go message')
r = c.get(SEC + '?fieldSelector=type%3DOpaque')
is_(len(r.json['items']), 1, 'Secret field selector on type')
r = c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'im'}, 'data': {'a': '1'}, 'immutable': True})
r = c.patch(CM + '/im', {'data': {'a': '2'}})
is_(r.status, 422, 'immutable ConfigMap data cannot change')
r = c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'badkey'}, 'data': {'a b': '1'}})
is_(r.status, 422, 'invalid ConfigMap key is 422')
r = c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'lbl', 'labels': {'a': 'b c'}}})
like(r.json.get('message'), r'metadata.labels: Invalid value: "b c"', 'invalid label value is 422')
r = c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'f', 'finalizers': ['plain']}})
like(' '.join(r.header_all('Warning')), r'prefer a domain-qualified finalizer name', 'unqualified finalizer draws a warning')

# --- CRDs through the API
crd = {'apiVersion': 'apiextensions.k8s.io/v1', 'kind': 'CustomResourceDefinition', 'metadata': {'name': 'things.test.io'},
       'spec': {'group': 'test.io', 'scope': 'Cluster', 'names': {'plural': 'things', 'kind': 'Thing'},
                'versions': [{'name': 'v1', 'served': True, 'storage': True,
                              'schema': {'openAPIV3Schema': {'type': 'object', 'properties': {
                                  'spec': {'type': 'object', 'properties': {'n': {'type': 'integer'}}}}}}}]}}
is_(c.get('/apis/test.io/v1/things').status, 404, 'before the CRD: 404')
r = c.post(CRD, crd)
is_(r.status, 201, 'CRD create')
is_((r.json['spec']['names']['singular'], r.json['spec']['names']['listKind']), ('thing', 'ThingList'), 'CRD names defaulted')
r = c.post('/apis/test.io/v1/things', {'apiVersion': 'test.io/v1', 'kind': 'Thing', 'metadata': {'name': 't1'}, 'spec': {'n': 1}})
is_(r.status, 201, 'its resources are served at once')
bad = dict(crd, metadata={'name': 'wrong.test.io'})
r = c.post(CRD, bad)
like(r.json.get('message'), r'metadata.name: Invalid value: "wrong.test.io": must be spec.names.plural\+"."\+spec.group',
     'CRD name must be plural.group')
r = c.delete(CRD + '/things.test.io')
ok(r.status == 200 and r.json['metadata'].get('deletionTimestamp'), 'CRD delete marks it terminating')
end = time.monotonic() + 3
while time.monotonic() < end and c.get(CRD + '/things.test.io').status != 404:
    time.sleep(0.05)
is_(c.get(CRD + '/things.test.io').status, 404, 'the CRD goes away after its instances')
is_(c.get('/apis/test.io/v1/things').status, 404, '... and its resources are no longer served')

# --- CRDs of the project (crd/ at the top of the tree), when present
top_crd = os.path.join(HERE, '..', '..', 'crd')
docs = fakekube.load_crd_documents(top_crd) if os.path.isdir(top_crd) else []
if docs:
    fk2 = fakekube.FakeKube(crd_dir=top_crd).start()
    groups = {g['name']: g for g in fk2.client().get('/apis').json['groups']}
    res = fk2.client().get('/apis/%s' % groups.get('dbops.dbprovision.io', {}).get('preferredVersion', {}).get('groupVersion', 'x/y'))
    is_(len([x for x in (res.json or {}).get('resources', []) if '/' not in x['name']]), len(docs),
        'every CRD in crd/ loads and is served (%d)' % len(docs))
    fk2.close()
else:
    skip('crd/ not present')

fk.close()
done_testing()
