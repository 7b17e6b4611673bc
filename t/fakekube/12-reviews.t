#!/usr/bin/python3
# t/fakekube/12-reviews.t: TokenReview and SubjectAccessReview, driven by fk.auth_tokens and
# fk.sar_allow (the calls a server makes when it delegates authentication and authorization),
# their validation, the record of access reviews, faults and the request log.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, done_testing  # noqa: E402
import fakekube  # noqa: E402

TR = '/apis/authentication.k8s.io/v1/tokenreviews'
SAR = '/apis/authorization.k8s.io/v1/subjectaccessreviews'
PROM = 'system:serviceaccount:monitoring:prometheus'

fk = fakekube.FakeKube(token='tok').start()
c = fk.client()


def tr(token):
    return {'apiVersion': 'authentication.k8s.io/v1', 'kind': 'TokenReview', 'spec': {'token': token}}


def sar(user=None, groups=None, path='/metrics', verb='get', resource=None):
    spec = {}
    if user:
        spec['user'] = user
    if groups:
        spec['groups'] = groups
    if resource:
        spec['resourceAttributes'] = resource
    elif path is not None:
        spec['nonResourceAttributes'] = {'path': path, 'verb': verb}
    return {'apiVersion': 'authorization.k8s.io/v1', 'kind': 'SubjectAccessReview', 'spec': spec}


# --- TokenReview
fk.auth_tokens = {'good': {'username': PROM, 'uid': 'u-1', 'groups': ['system:serviceaccounts', 'system:authenticated'],
                           'extra': {'k': ['v']}}}
r = c.post(TR, tr('good'))
is_(r.status, 201, 'TokenReview: 201 Created')
st = r.json['status']
ok(st.get('authenticated') is True, 'a known token is authenticated')
is_(st['user'], fk.auth_tokens['good'], 'the user is the configured one (name, uid, groups, extra)')
is_((r.json['kind'], r.json['apiVersion']), ('TokenReview', 'authentication.k8s.io/v1'), 'kind and apiVersion')
r = c.post(TR, tr('bad'))
is_(r.status, 201, 'an unknown token: still 201')
ok(not r.json['status'].get('authenticated') and r.json['status']['user'] == {}, '... not authenticated, no user')
is_(c.post(TR, tr('')).status, 422, 'an empty token is invalid (422)')
is_(c.post(TR, {'apiVersion': 'v1', 'kind': 'Pod', 'spec': {}}).status, 400, 'another kind: 400')
is_(c.post(TR, tr('good'), token='wrong').status, 401, 'the stand-in still checks its own bearer token')

# --- SubjectAccessReview
fk.sar_allow = {(PROM, '/metrics', 'get'), ('system:monitoring', '*', 'get'),
                ('ops', 'ns1/apps/deployments', '*')}
r = c.post(SAR, sar(PROM, ['system:authenticated']))
is_(r.status, 201, 'SubjectAccessReview: 201 Created')
ok(r.json['status']['allowed'] is True, 'an allowed user, path and verb')
ok(c.post(SAR, sar(PROM, verb='post')).json['status']['allowed'] is False, 'another verb: not allowed')
ok(c.post(SAR, sar(PROM, path='/debug')).json['status']['allowed'] is False, 'another path: not allowed')
ok(c.post(SAR, sar('someone')).json['status']['allowed'] is False, 'another user: not allowed')
ok(c.post(SAR, sar('someone', ['system:monitoring'], path='/x')).json['status']['allowed'] is True,
   'a group and a wildcard path')
ok(c.post(SAR, sar('ops', resource={'namespace': 'ns1', 'group': 'apps', 'resource': 'deployments',
                                     'verb': 'list'})).json['status']['allowed'] is True,
   'resource attributes: namespace/group/resource and a wildcard verb')
is_(c.post(SAR, sar(PROM, path=None)).status, 422, 'neither resource nor non-resource attributes: 422')
is_(c.post(SAR, sar(None)).status, 422, 'neither user nor groups: 422')
is_(fk.access_reviews[0], {'user': PROM, 'groups': ['system:authenticated'],
                           'nonResourceAttributes': {'path': '/metrics', 'verb': 'get'}},
    'access_reviews records the specs received')
is_(len(fk.access_reviews), 6, 'one record per valid review')

# --- faults and the request log
fk.clear_requests()
fk.fail(500, path='tokenreviews')
is_(c.post(TR, tr('good')).status, 500, 'fk.fail(path=tokenreviews) fails the next TokenReview')
is_(c.post(TR, tr('good')).status, 201, '... once')
log = fk.requests()
is_([(e['verb'], e['apiGroup'], e['resource'], e['code'], e['fault']) for e in log],
    [('create', 'authentication.k8s.io', 'tokenreviews', 500, 'status'),
     ('create', 'authentication.k8s.io', 'tokenreviews', 201, None)], 'the request log names the reviews')
is_(c.get(TR).status, 404, 'GET of tokenreviews: not served')

fk.close()
done_testing()
