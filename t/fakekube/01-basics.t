#!/usr/bin/python3
# t/fakekube/01-basics.t: discovery, health, CRD loading, create rules, the global
# resourceVersion counter, no-op writes and the exact error bodies (kube-api.md §2, §3, §5.1, §6).
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, done_testing  # noqa: E402
import fakekube  # noqa: E402

W = '/apis/example.com/v1/namespaces/default/widgets'
CM = '/api/v1/namespaces/default/configmaps'


def widget(name, **spec):
    return {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': name}, 'spec': spec or {'size': 1}}


def cm(name, **data):
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': name}, 'data': data}


fk = fakekube.FakeKube(crd_dir=os.path.join(HERE, 'crd')).start()
c = fk.client()

# --- discovery and health
r = c.get('/version')
is_(r.status, 200, '/version answers')
is_(r.json['major'], '1', '/version has major')
is_(c.get('/livez').text, 'ok', '/livez is plain ok')
is_(c.get('/readyz').text, 'ok', '/readyz is plain ok')
is_(c.get('/api').json['versions'], ['v1'], '/api lists v1')
groups = {g['name']: g for g in c.get('/apis').json['groups']}
ok('example.com' in groups and 'coordination.k8s.io' in groups and 'apiextensions.k8s.io' in groups,
   '/apis lists the CRD group and built-in groups')
is_(groups['example.com']['preferredVersion']['groupVersion'], 'example.com/v1', 'preferred version')
res = {x['name']: x for x in c.get('/apis/example.com/v1').json['resources']}
is_(sorted(res), ['gadgets', 'widgets', 'widgets/scale', 'widgets/status'],
    'APIResourceList of example.com/v1 (kustomization.yaml skipped, subresources listed)')
is_((res['widgets']['kind'], res['widgets']['namespaced'], res['widgets']['shortNames'], res['widgets']['singularName']),
    ('Widget', True, ['wdg'], 'widget'), 'widgets entry: kind, namespaced, shortNames, singularName')
is_(res['gadgets']['namespaced'], False, 'gadgets are cluster-scoped')
ok('watch' in res['widgets']['verbs'] and 'patch' in res['widgets']['verbs'], 'verbs listed')
r = c.get('/apis/nope.example.com/v1/namespaces/default/things')
is_(r.status, 404, 'unknown resource is 404')
is_(r.json, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
             'message': 'the server could not find the requested resource', 'reason': 'NotFound', 'details': {},
             'code': 404}, 'unknown resource Status body')
is_(c.get('/apis/example.com/v1/widgets/x').status, 404, 'namespaced type through a cluster path is 404')
is_(c.get('/apis/example.com/v1/namespaces/default/gadgets').status, 404, 'cluster type through a namespaced path is 404')
is_(c.get('/openapi/v2').status, 404, '/openapi/v2 is 404')
r = c.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com')
conds = {x['type']: x['status'] for x in r.json['status']['conditions']}
is_((conds.get('Established'), conds.get('NamesAccepted')), ('True', 'True'), 'CRD is Established and NamesAccepted')

# --- create
rv0 = int(c.get(CM).json['metadata']['resourceVersion'])
r = c.post(CM, cm('a', k='v'))
is_(r.status, 201, 'create is 201')
m = r.json['metadata']
ok(len(m['uid']) == 36 and m['creationTimestamp'].endswith('Z') and m['managedFields'], 'uid, creationTimestamp, managedFields set')
ok('generation' not in m, 'ConfigMaps have no generation')
is_(int(m['resourceVersion']), rv0 + 1, 'create bumps the global RV by one')
is_(r.json['kind'], 'ConfigMap', 'created object carries kind')
r = c.post(CM, cm('a'))
is_(r.status, 409, 'create of an existing name is 409')
is_(r.json, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
             'message': 'configmaps "a" already exists', 'reason': 'AlreadyExists',
             'details': {'name': 'a', 'kind': 'configmaps'}, 'code': 409}, 'AlreadyExists body (core: no group)')
r = c.post(W, widget('w1', size=1))
is_(r.json['metadata']['generation'], 1, 'custom resources get generation 1')
r = c.post(W, widget('w1', size=1))
is_(r.json['details'], {'name': 'w1', 'group': 'example.com', 'kind': 'widgets'}, 'CR AlreadyExists details.kind is the plural')
is_(r.json['message'], 'widgets.example.com "w1" already exists', 'CR AlreadyExists message')
r = c.post(W, {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'generateName': 'gen-'}, 'spec': {'size': 1}})
like(r.json['metadata']['name'], r'^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$', 'generateName: prefix + 5 random chars')
r = c.post(W, {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {}, 'spec': {'size': 1}})
is_((r.status, r.json['message']), (422, 'Widget.example.com "" is invalid: metadata.name: Required value: name or generateName is required'),
    'neither name nor generateName is 422')
bad = widget('w2')
bad['metadata']['resourceVersion'] = '5'
r = c.post(W, bad)
is_(r.status, 500, 'create with resourceVersion set is 500')
is_(r.json['message'], 'resourceVersion should not be set on objects to be created', '... with the storage message')
r = c.post('/apis/example.com/v1/namespaces/nope/widgets', widget('w3'))
is_((r.status, r.json['message'], r.json['details']), (404, 'namespaces "nope" not found', {'name': 'nope', 'kind': 'namespaces'}),
    'create in a missing namespace is 404 namespaces "x" not found')
r = c.post(W, {'apiVersion': 'example.com/v1', 'metadata': {'name': 'nokind'}, 'spec': {'size': 1}})
is_(r.status, 400, 'CR without kind is 400')
like(r.json['message'], r"^Object 'Kind' is missing in", '... Object \'Kind\' is missing')
r = c.post(W, dict(widget('w4'), metadata={'name': 'w4', 'namespace': 'other'}))
is_(r.status, 400, 'namespace mismatch between body and URL is 400')
r = c.post(W, widget('Bad_Name'))
is_(r.status, 422, 'invalid object name is 422')
like(r.json['message'], r'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain', '... DNS-1123 message')
r = c.post(W, {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': 'w5'}, 'spec': {'size': 1},
               'status': {'phase': 'Ready'}})
ok('status' not in r.json, 'status is dropped on create when the CRD has a status subresource')
r = c.post(W, '{"apiVersion": "example.com/v1", "kind": ', ctype='application/json')
is_(r.status, 400, 'malformed JSON is 400')
r = c.post(W, b'k8s\x00\x0a\x00', ctype='application/vnd.kubernetes.protobuf')
is_(r.status, 415, 'protobuf bodies for custom resources are 415')
r = c.post(CM, b'\x08\x01', ctype='application/vnd.kubernetes.protobuf')
is_(r.status, 400, 'a protobuf body without the k8s envelope is 400')

# --- resourceVersion counter and no-op writes
r = c.get(CM + '/a')
obj = r.json
rv1 = int(obj['metadata']['resourceVersion'])
r = c.put(CM + '/a', obj)
is_(r.status, 200, 'no-op PUT is 200')
is_(int(r.json['metadata']['resourceVersion']), rv1, 'no-op PUT keeps the RV')
r = c.patch(CM + '/a', {'data': {'k': 'v'}})
is_(int(r.json['metadata']['resourceVersion']), rv1, 'no-op merge patch keeps the RV')
lst = c.get(CM).json
before = int(lst['metadata']['resourceVersion'])
r = c.patch(CM + '/a', {'data': {'k': 'v2'}})
rv2 = int(r.json['metadata']['resourceVersion'])
is_(rv2, before + 1, 'a real change bumps the global counter by exactly one')
r = c.post(W, widget('w6'))
ok(int(r.json['metadata']['resourceVersion']) == rv2 + 1, 'the counter is shared by all types')
lst = c.get(CM).json
is_(lst['metadata']['resourceVersion'], str(rv2 + 1), 'list RV is the current counter, beyond every item RV')
ok(all('kind' not in i and 'apiVersion' not in i for i in lst['items']), 'built-in list items carry no kind/apiVersion')
wl = c.get(W).json
ok(all(i['kind'] == 'Widget' and i['apiVersion'] == 'example.com/v1' for i in wl['items']), 'CR list items carry kind/apiVersion')
is_((wl['kind'], wl['apiVersion']), ('WidgetList', 'example.com/v1'), 'list kind is the listKind')
is_(c.get('/api/v1/namespaces/default/secrets').json['items'], [], 'empty list has items: []')
r = c.get('/apis/example.com/v1/widgets')
ok(r.status == 200 and len(r.json['items']) >= 3, 'all-namespaces list of a namespaced type')

# --- delete
r = c.delete(W + '/w6')
is_(r.status, 200, 'delete without finalizers is 200')
is_(r.json['status'], 'Success', 'delete answers a Success Status')
is_((r.json['details']['name'], r.json['details']['group'], r.json['details']['kind']), ('w6', 'example.com', 'widgets'),
    'Status details: name, group, plural')
r = c.delete(W + '/w6')
is_((r.status, r.json['reason'], r.json['message']), (404, 'NotFound', 'widgets.example.com "w6" not found'), 'second delete is 404')
r = c.delete(CM + '/a')
ok('group' not in r.json['details'], 'core delete Status has no details.group')

fk.close()
done_testing()
