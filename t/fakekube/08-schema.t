#!/usr/bin/python3
# t/fakekube/08-schema.t: CRD schema effects on writes (kube-api.md §9): pruning with Warning
# headers, structural defaults, OpenAPI validation messages, validation ratcheting, self == oldSelf.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, done_testing  # noqa: E402
import fakekube  # noqa: E402

W = '/apis/example.com/v1/namespaces/default/widgets'
fk = fakekube.FakeKube(crd_dir=os.path.join(HERE, 'crd')).start()
c = fk.client()
n = [0]


def create(spec, **kw):
    n[0] += 1
    return c.post(W + kw.get('q', ''), {'apiVersion': 'example.com/v1', 'kind': 'Widget',
                                        'metadata': {'name': 'w%d' % n[0]}, 'spec': spec})


def msg(spec):
    r = create(spec)
    return r.json.get('message') if r.status == 422 else 'status %d' % r.status


# --- pruning
r = create({'size': 1, 'x': 1, 'limits': {'cpu': '2', 'gpu': 1}, 'config': {'any': {'thing': 1}}})
is_(r.status, 201, 'unknown fields do not fail a write')
is_(sorted(r.header_all('Warning')), ['299 - "unknown field \\"spec.limits.gpu\\""', '299 - "unknown field \\"spec.x\\""'],
    'one Warning: 299 header per pruned field')
ok('x' not in r.json['spec'] and 'gpu' not in r.json['spec']['limits'], 'unknown fields are pruned')
is_(r.json['spec']['config'], {'any': {'thing': 1}}, 'x-kubernetes-preserve-unknown-fields keeps unknown fields')
r = create({'size': 1, 'x': 1}, q='?fieldValidation=Strict')
is_((r.status, r.json.get('message')), (400, 'strict decoding error: unknown field "spec.x"'), 'fieldValidation=Strict is 400')
r = create({'size': 1, 'x': 1}, q='?fieldValidation=Ignore')
is_(r.header_all('Warning'), [], 'fieldValidation=Ignore: no warning')
r = c.post(W, {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': 'm1', 'bogus': 1}, 'spec': {'size': 1}})
like(' '.join(r.header_all('Warning')), r'unknown field \\"metadata.bogus\\"', 'unknown metadata fields are pruned with a warning')

# --- defaults
r = create({'size': 1})
is_(r.json['spec'], {'size': 1, 'color': 'red'}, 'a default fills a missing field')
ok('limits' not in r.json['spec'], 'a default inside a missing parent object does not apply')
r = create({'size': 1, 'limits': {}})
is_(r.json['spec']['limits'], {'cpu': '1'}, 'a default applies when the parent exists')
r = c.post(W, {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': 'nospec'}})
is_((r.status, r.json.get('message')), (422, 'Widget.example.com "nospec" is invalid: spec.size: Required value'),
    'spec default {} then required size: "spec.size: Required value"')
r = create({'size': 1, 'color': None})
is_(r.json['spec']['color'], 'red', 'a null in a non-nullable field is dropped, then defaulted')
r = create({'size': 1, 'ratio': None})
ok('ratio' in r.json['spec'] and r.json['spec']['ratio'] is None, 'nullable keeps an explicit null')

# --- validation messages
is_(msg({'size': -1}), 'Widget.example.com "w%d" is invalid: spec.size: Invalid value: -1: spec.size in body should be greater '
    'than or equal to 0' % n[0], 'minimum')
is_(msg({'size': 1001}), 'Widget.example.com "w%d" is invalid: spec.size: Invalid value: 1001: spec.size in body should be less '
    'than or equal to 1000' % n[0], 'maximum')
is_(msg({'size': 1, 'color': 'pink'}), 'Widget.example.com "w%d" is invalid: spec.color: Unsupported value: "pink": supported '
    'values: "red", "green", "blue"' % n[0], 'enum')
is_(msg({'size': 'big'}), 'Widget.example.com "w%d" is invalid: spec.size: Invalid value: "string": spec.size in body must be '
    'of type integer: "string"' % n[0], 'type')
is_(msg({'size': 1.5}), 'Widget.example.com "w%d" is invalid: spec.size: Invalid value: "number": spec.size in body must be '
    'of type integer: "number"' % n[0], 'integer vs number')
is_(create({'size': 2.0}).status, 201, 'an integral float is an integer')
like(msg({'size': 1, 'name': 'ab'}), r'spec.name: Invalid value: "ab": spec.name in body should be at least 3 chars long$', 'minLength')
like(msg({'size': 1, 'name': 'abcdefghijk'}), r'spec.name: Too long: may not be more than 10 bytes$', 'maxLength')
like(msg({'size': 1, 'name': 'ABC'}), r"spec.name: Invalid value: \"ABC\": spec.name in body should match '\^\[a-z\]\+\$'$", 'pattern')
like(msg({'size': 1, 'tags': []}), r'spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items$', 'minItems')
like(msg({'size': 1, 'tags': ['a', 'b', 'c', 'd']}), r'spec.tags: Too many: 4: must have at most 3 items$', 'maxItems')
like(msg({'size': 1, 'tags': ['a', 3]}), r'spec.tags\[1\]: Invalid value: "integer": spec.tags\[1\] in body must be of type string: "integer"$',
     'items are validated with indexed paths')
like(msg({'size': 3000000000}), r'spec.size: Invalid value: 3000000000: spec.size in body must be of type int32: "3000000000"',
     'format int32 range')
like(msg({'size': 1, 'notes': {'a': 'toolong'}}), r'spec.notes.a: Too long: may not be more than 5 bytes$',
     'additionalProperties schema applies to map values')
like(msg({'size': 1, 'mode': 'a'}), r'spec.mode: Unsupported value: "a": supported values: "b", "c", "d"$',
     'allOf: enums intersect (a fails the second)')
like(msg({'size': 1, 'mode': 'd'}), r'spec.mode: Unsupported value: "d": supported values: "a", "b", "c"$',
     'allOf: enums intersect (d fails the first)')
is_(create({'size': 1, 'mode': 'b'}).status, 201, 'allOf: a value in both enums passes')
r = create({'size': -1, 'color': 'pink'})
like(r.json['message'], r'is invalid: \[spec.size: Invalid value: -1: .*, spec.color: Unsupported value: "pink": .*\]$',
     'several errors are listed in brackets')
is_(sorted(x['field'] for x in r.json['details']['causes']), ['spec.color', 'spec.size'], 'one cause per error')
is_([x['reason'] for x in r.json['details']['causes'] if x['field'] == 'spec.color'], ['FieldValueNotSupported'], 'cause reason')
is_((r.json['details']['kind'], r.json['details']['group']), ('Widget', 'example.com'), 'Invalid details: Kind and group')
r = c.patch(W + '/w3/status', {'status': {'phase': 'Weird'}})
like(r.json.get('message'), r'status.phase: Unsupported value: "Weird"', 'status writes are validated too')
r = c.patch(W + '/w3/status', {'status': {'conditions': [{'type': 'Ready'}]}})
like(r.json.get('message'), r'status.conditions\[0\].status: Required value', 'required inside list items')

# --- ratcheting: an object stored before a stricter schema stays writable
old = fk.store_put({'apiVersion': 'example.com/v1', 'kind': 'Widget',
                    'metadata': {'name': 'legacy', 'namespace': 'default', 'finalizers': ['example.com/f']},
                    'spec': {'size': -5, 'color': 'purple'}})
r = c.patch(W + '/legacy/status', {'status': {'phase': 'Ready'}})
is_(r.status, 200, 'status write on an object with an invalid (unchanged) spec succeeds')
r = c.patch(W + '/legacy', {'metadata': {'labels': {'a': 'b'}}})
is_(r.status, 200, 'metadata-only write succeeds too')
r = c.patch(W + '/legacy', {'spec': {'size': 3}})
is_(r.status, 200, 'changing one field re-validates only that field (unchanged invalid color kept)')
r = c.patch(W + '/legacy', {'spec': {'color': 'pink'}})
is_(r.status, 422, 'a changed field that is invalid still fails')
c.delete(W + '/legacy')
r = c.patch(W + '/legacy', {'metadata': {'finalizers': None}})
ok(r.status == 200 and c.get(W + '/legacy').status == 404, 'the invalid object can still be finalized and deleted')

# --- x-kubernetes-validations: self == oldSelf
r = create({'size': 1, 'zone': 'a'})
name = r.json['metadata']['name']
r = c.patch(W + '/' + name, {'spec': {'zone': 'b'}})
is_(r.status, 422, 'self == oldSelf makes a field immutable')
like(r.json.get('message'), r'spec.zone: Invalid value: "string": zone is immutable$', '... with the rule message')
is_(c.patch(W + '/' + name, {'spec': {'size': 2}}).status, 200, 'other fields still change')

fk.close()
done_testing()
