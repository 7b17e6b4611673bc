#!/usr/bin/python3
# t/fakekube/05-pagination.t: limit/continue with one snapshot RV, opaque tokens, 410 after
# compaction, 400 on bad tokens, resourceVersion/resourceVersionMatch rules of lists (kube-api.md §3).
import base64
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, done_testing  # noqa: E402
import fakekube  # noqa: E402

CM = '/api/v1/namespaces/default/configmaps'
fk = fakekube.FakeKube().start()
c = fk.client()
for i in range(7):
    c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'cm%d' % i, 'labels': {'odd': str(i % 2)}}})

r = c.get(CM + '?limit=3')
p1 = r.json
is_(len(p1['items']), 3, 'first page holds limit items')
tok = p1['metadata'].get('continue')
ok(tok, 'continue token set while more items exist')
is_(p1['metadata'].get('remainingItemCount'), 4, 'remainingItemCount without selectors')
dec = json.loads(base64.urlsafe_b64decode(tok + '=' * (-len(tok) % 4)))
is_(dec['rv'], int(p1['metadata']['resourceVersion']), 'token is base64url JSON carrying the snapshot RV')
c.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'cm9'}})
c.delete(CM + '/cm5')
names = [i['metadata']['name'] for i in p1['items']]
rvs = {p1['metadata']['resourceVersion']}
while tok:
    p = c.get(CM + '?limit=3&continue=' + tok).json
    names += [i['metadata']['name'] for i in p['items']]
    rvs.add(p['metadata']['resourceVersion'])
    tok = p['metadata'].get('continue')
is_(names, ['cm%d' % i for i in range(7)], 'pages form one consistent snapshot (later create/delete not seen)')
is_(len(rvs), 1, 'every page reports the first page RV')
r = c.get(CM + '?limit=2&labelSelector=odd%3D1')
is_([i['metadata']['name'] for i in r.json['items']], ['cm1', 'cm3'], 'selectors filter pages')
ok('remainingItemCount' not in r.json['metadata'], 'no remainingItemCount with selectors')
r = c.get(CM + '?limit=3')
tok = r.json['metadata']['continue']
r = c.get(CM + '?limit=3&continue=' + tok + '&resourceVersion=5')
is_(r.status, 400, 'continue with an explicit resourceVersion is 400')
fk.compact()
r = c.get(CM + '?limit=3&continue=' + tok)
is_((r.status, r.json['reason'], r.json['code']), (410, 'Expired', 410), 'continue after compaction is 410 Expired')
like(r.json['message'], r'^The provided continue parameter is too old to display a consistent list result', '... message')
inc = r.json['metadata'].get('continue')
ok(inc, '... Status metadata.continue holds an inconsistent-continue token')
r = c.get(CM + '?limit=3&continue=' + inc)
is_((r.status, [i['metadata']['name'] for i in r.json['items']]), (200, ['cm3', 'cm4', 'cm6']),
    'the inconsistent token continues from where the list stopped')
r = c.get(CM + '?limit=3&continue=garbage!')
is_(r.status, 400, 'an unparseable continue token is 400')
like(r.json['message'], r'^continue key is not valid', '... continue key is not valid')
r = c.get(CM + '?limit=2&resourceVersion=0')
ok(len(r.json['items']) == 7 and 'continue' not in r.json['metadata'], 'resourceVersion=0 ignores limit')
r = c.get(CM + '?resourceVersionMatch=Exact')
is_(r.status, 422, 'resourceVersionMatch without resourceVersion is 422')
is_((r.json['details']['kind'], r.json['details']['group']), ('ListOptions', 'meta.k8s.io'), '... details ListOptions/meta.k8s.io')
like(r.json['message'], 'resourceVersionMatch is forbidden unless resourceVersion is provided', '... message')
is_(c.get(CM + '?resourceVersionMatch=Exact&resourceVersion=0').status, 422, 'Exact with RV 0 is 422')
old = int(r.json and c.get(CM).json['metadata']['resourceVersion'])
c.delete(CM + '/cm0')
r = c.get(CM + '?resourceVersionMatch=Exact&resourceVersion=%d' % old)
is_((r.status, r.json['metadata']['resourceVersion'], r.json['items'][0]['metadata']['name']), (200, str(old), 'cm0'),
    'Exact list at an RV still in history shows that state')
r = c.get(CM + '?resourceVersionMatch=NotOlderThan&resourceVersion=%d' % old)
is_(r.json['items'][0]['metadata']['name'], 'cm1', 'NotOlderThan serves the current state')
fk.compact()
r = c.get(CM + '?resourceVersionMatch=Exact&resourceVersion=%d' % old)
is_(r.status, 410, 'Exact list at a compacted RV is 410')
r = c.get(CM + '?limit=500&resourceVersion=%d' % old)
is_(r.status, 410, 'legacy: limit with an RV means Exact (410 when compacted)')
fk.short_pages = True
names, tok, pages = [], None, 0
while True:
    p = c.get(CM + '?limit=4' + ('&continue=' + tok if tok else '')).json
    names += [i['metadata']['name'] for i in p['items']]
    pages += 1
    tok = p['metadata'].get('continue')
    if not tok:
        break
is_(names, sorted(names), 'short pages still return every item once, in order')
is_(len(names), 6, '... all of them')

fk.close()
done_testing()
