#!/usr/bin/python3
# t/fakekube/02-update-patch.t: optimistic concurrency (409/422), PUT rules, merge patch,
# JSON patch (escaping, test, errors), strategic merge and apply patch media types (kube-api.md §5.2, §5.3).
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, done_testing  # noqa: E402
import fakekube  # noqa: E402

W = '/apis/example.com/v1/namespaces/default/widgets'
CM = '/api/v1/namespaces/default/configmaps'
LEASE = '/apis/coordination.k8s.io/v1/namespaces/default/leases'
JP, MP, SMP = 'application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'

fk = fakekube.FakeKube(crd_dir=os.path.join(HERE, 'crd')).start()
c = fk.client()

w = c.post(W, {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': 'foo', 'finalizers': ['example.com/a', 'example.com/b']},
               'spec': {'size': 1}}).json
stale = dict(w, spec={'size': 2})
r = c.put(W + '/foo', stale)
is_(r.status, 200, 'PUT with the current RV succeeds')
is_(r.json['metadata']['generation'], 2, 'spec change bumps generation')
r = c.put(W + '/foo', dict(w, spec={'size': 3}))
is_(r.status, 409, 'PUT with a stale RV is 409')
is_(r.json, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
             'message': 'Operation cannot be fulfilled on widgets.example.com "foo": the object has been modified; '
                        'please apply your changes to the latest version and try again',
             'reason': 'Conflict', 'details': {'name': 'foo', 'group': 'example.com', 'kind': 'widgets'}, 'code': 409},
    'exact Conflict Status body')
norv = {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': 'foo'}, 'spec': {'size': 4}}
r = c.put(W + '/foo', norv)
is_(r.status, 422, 'PUT of a CR without RV is 422')
is_(r.json['message'], 'widgets.example.com "foo" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
    '... with the "must be specified for an update" message')
r = c.put(W + '/nothere', dict(norv, metadata={'name': 'nothere', 'resourceVersion': '1'}))
is_(r.status, 404, 'PUT of a missing CR is 404')
r = c.put(W + '/foo', dict(norv, metadata={'name': 'bar', 'resourceVersion': '1'}))
is_(r.status, 400, 'PUT with a name different from the URL is 400')

c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'cm1', 'labels': {'a': '1'}}, 'data': {'x': '1'}})
r = c.put(CM + '/cm1', {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'cm1'}, 'data': {'x': '2'}})
is_(r.status, 200, 'PUT of a ConfigMap without RV is an unconditional update')
ok('labels' not in r.json['metadata'], 'PUT replaces the whole object (omitted labels are removed)')
ls = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease', 'metadata': {'name': 'l1'}, 'spec': {'holderIdentity': 'a'}}
c.post(LEASE, ls)
r = c.put(LEASE + '/l1', ls)
is_(r.status, 422, 'PUT of a Lease without RV is 422')

# --- merge patch
cur = c.get(W + '/foo').json
r = c.patch(W + '/foo', {'metadata': {'resourceVersion': '1'}, 'spec': {'size': 9}})
is_(r.status, 409, 'merge patch with a stale RV precondition is 409')
r = c.patch(W + '/foo', {'metadata': {'resourceVersion': cur['metadata']['resourceVersion']}, 'spec': {'size': 9}})
is_((r.status, r.json['spec']['size']), (200, 9), 'merge patch with the current RV precondition applies')
r = c.patch(W + '/foo', {'metadata': {'finalizers': ['example.com/b']}})
is_(r.json['metadata']['finalizers'], ['example.com/b'], 'merge patch replaces arrays whole')
r = c.patch(W + '/foo', {'spec': {'color': 'green', 'tags': ['x']}})
r = c.patch(W + '/foo', {'spec': {'tags': None}})
ok('tags' not in r.json['spec'] and r.json['spec']['color'] == 'green', 'merge patch: null deletes a key, others kept')
r = c.patch('/apis/example.com/v1/namespaces/default/widgets/missing', {'spec': {'size': 1}})
is_(r.status, 404, 'patch of a missing object is 404')
r = c.patch(W + '/foo', b'{"spec": ', ctype=MP)
is_(r.status, 400, 'malformed merge patch is 400')

# --- JSON patch
r = c.patch(W + '/foo', [{'op': 'add', 'path': '/metadata/annotations', 'value': {'example.com/note': 'a'}}], ctype=JP)
is_(r.json['metadata']['annotations'], {'example.com/note': 'a'}, 'JSON patch add of a whole map')
r = c.patch(W + '/foo', [{'op': 'replace', 'path': '/metadata/annotations/example.com~1note', 'value': 'b'}], ctype=JP)
is_(r.json['metadata']['annotations'], {'example.com/note': 'b'}, 'JSON pointer ~1 escaping of "/"')
r = c.patch(W + '/foo', [{'op': 'add', 'path': '/metadata/labels/app', 'value': 'x'}], ctype=JP)
is_(r.status, 422, 'JSON patch add into a missing parent map is 422')
is_(r.json['reason'], 'Invalid', '... reason Invalid')
c.patch(W + '/foo', {'metadata': {'finalizers': ['example.com/a', 'example.com/b']}})
r = c.patch(W + '/foo', [{'op': 'test', 'path': '/metadata/finalizers/1', 'value': 'example.com/zzz'},
                         {'op': 'remove', 'path': '/metadata/finalizers/1'}], ctype=JP)
is_(r.status, 422, 'failed JSON patch test is 422')
is_(c.get(W + '/foo').json['metadata']['finalizers'], ['example.com/a', 'example.com/b'], '... and nothing was applied')
r = c.patch(W + '/foo', [{'op': 'test', 'path': '/metadata/finalizers/1', 'value': 'example.com/b'},
                         {'op': 'remove', 'path': '/metadata/finalizers/1'}], ctype=JP)
is_((r.status, r.json['metadata']['finalizers']), (200, ['example.com/a']), 'test + remove of a finalizer')
rv = r.json['metadata']['resourceVersion']
r = c.patch(W + '/foo', [{'op': 'test', 'path': '/metadata/resourceVersion', 'value': str(int(rv) - 1)},
                         {'op': 'replace', 'path': '/spec/size', 'value': 5}], ctype=JP)
is_(r.status, 422, 'JSON patch test on a stale resourceVersion is 422')
r = c.patch(W + '/foo', [{'op': 'replace', 'path': '/metadata/resourceVersion', 'value': '1'},
                         {'op': 'replace', 'path': '/spec/size', 'value': 5}], ctype=JP)
is_(r.status, 409, 'JSON patch that sets a stale resourceVersion is 409')
r = c.patch(W + '/foo', [{'op': 'copy', 'from': '/spec/size', 'path': '/spec/replicas'},
                         {'op': 'move', 'from': '/spec/color', 'path': '/spec/zone'}], ctype=JP)
is_((r.json['spec'].get('replicas'), r.json['spec'].get('zone'), r.json['spec'].get('color')), (9, 'green', 'red'),
    'copy and move (moved-away color is defaulted again)')
r = c.patch(W + '/foo', [{'op': 'remove', 'path': '/spec/nothere'}], ctype=JP)
is_(r.status, 422, 'remove of a missing path is 422')
r = c.patch(W + '/foo', {'op': 'remove'}, ctype=JP)
is_(r.status, 400, 'a JSON patch that is not an array is 400')

# --- strategic merge / apply / others
r = c.patch(W + '/foo', {'spec': {'size': 1}}, ctype=SMP)
is_(r.status, 415, 'strategic merge patch on a custom resource is 415')
is_(r.json['reason'], 'UnsupportedMediaType', '... reason UnsupportedMediaType')
like(r.json['message'], r'^the body of the request was in an unknown format - accepted media types include: '
     r'application/json-patch\+json, application/merge-patch\+json$', '... exact message')
r = c.patch(W + '/foo', 'apiVersion: example.com/v1\nkind: Widget\n', ctype='application/apply-patch+yaml')
is_(r.status, 415, 'server-side apply is 415')
r = c.patch(CM + '/cm1', {'metadata': {'finalizers': ['example.com/x']}}, ctype=SMP)
r = c.patch(CM + '/cm1', {'metadata': {'finalizers': ['example.com/y']}, 'data': {'y': '1'}}, ctype=SMP)
is_((r.status, r.json['metadata']['finalizers'], r.json['data']), (200, ['example.com/x', 'example.com/y'], {'x': '2', 'y': '1'}),
    'strategic merge on a core type merges finalizers as a set')
r = c.patch(CM + '/cm1', {'metadata': {'$deleteFromPrimitiveList/finalizers': ['example.com/x', 'example.com/y']}}, ctype=SMP)
ok('finalizers' not in r.json['metadata'] or r.json['metadata']['finalizers'] == [], '$deleteFromPrimitiveList removes finalizers')
r = c.patch(W + '/foo', {'spec': {'size': 2}}, ctype='text/plain')
is_(r.status, 415, 'unknown patch content type is 415')

# --- no-op patch keeps the RV; managedFields [{}] strips them
cur = c.get(W + '/foo').json
r = c.patch(W + '/foo', {'spec': {'size': cur['spec']['size']}})
is_(r.json['metadata']['resourceVersion'], cur['metadata']['resourceVersion'], 'no-op patch keeps the RV')
r = c.patch(W + '/foo', {'metadata': {'managedFields': [{}]}})
ok('managedFields' not in r.json['metadata'], 'managedFields [{}] strips them')
r = c.patch(W + '/foo?fieldManager=tester', {'spec': {'size': 3}})
ok(any(e['manager'] == 'tester' for e in r.json['metadata']['managedFields']), 'fieldManager recorded in managedFields')
r = c.patch(W + '/foo?dryRun=All', {'spec': {'size': 4}})
is_((r.status, r.json['spec']['size']), (200, 4), 'dryRun patch answers the would-be object')
is_(c.get(W + '/foo').json['spec']['size'], 3, '... without persisting it')

fk.close()
done_testing()
