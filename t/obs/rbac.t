#!/usr/bin/python3
# t/obs/rbac.t: the RBAC of deploy/ covers every API call dbprovd makes.
# dbprovd runs against the API stand-in through a scenario that exercises
# its calls (leader election in the operator's namespace, informers of
# the eight kinds, status patches of an invalid object, Events and their
# repeat patches, a --metrics-secure scrape and its TokenReview and
# SubjectAccessReview, the lease release on SIGTERM); then every request in the
# stand-in's log (verb, group, resource, subresource, namespace) must be
# allowed by the rendered ClusterRole (bound cluster-wide) or by the Role
# (in its own namespace only).
import http.client
import os
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep t/lib free of __pycache__
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
import obstest  # noqa: E402

if not os.path.exists(obstest.DBPROVD):
    skip_all('src/dbprovd is not built')
if not obstest.have('kubectl'):
    skip_all('kubectl is not installed')

rc, docs, err = obstest.kustomize(dbptest.src_path('deploy'))
if rc:
    diag(err)
ok(rc == 0, 'deploy/ renders')
sa = [d for d in docs if d['kind'] == 'ServiceAccount'][0]['metadata']
bound_cr = set(d['roleRef']['name'] for d in docs if d['kind'] == 'ClusterRoleBinding'
               and {'kind': 'ServiceAccount', 'name': sa['name'], 'namespace': sa['namespace']} in d['subjects'])
bound_r = set((d['metadata']['namespace'], d['roleRef']['name']) for d in docs if d['kind'] == 'RoleBinding'
              and any(s['name'] == sa['name'] for s in d['subjects']))
cluster_rules = [r for d in docs if d['kind'] == 'ClusterRole' and d['metadata']['name'] in bound_cr
                 for r in d['rules']]
ns_rules = [(d['metadata']['namespace'], r) for d in docs if d['kind'] == 'Role'
            and (d['metadata']['namespace'], d['metadata']['name']) in bound_r for r in d['rules']]
OPNS = sa['namespace']
ok(cluster_rules and ns_rules, 'a bound ClusterRole and a bound Role (in %s)' % OPNS)


def allows(rule, verb, group, res):
    return ((group in rule.get('apiGroups', []) or '*' in rule.get('apiGroups', [])) and
            (res in rule.get('resources', []) or '*' in rule.get('resources', [])) and
            (verb in rule.get('verbs', []) or '*' in rule.get('verbs', [])))


def covered(req):
    verb, group, res, ns = req
    if any(allows(r, verb, group, res) for r in cluster_rules):
        return True
    return any(rns == ns and allows(r, verb, group, res) for rns, r in ns_rules)


st = obstest.Stack()
try:
    st.api.post('/api/v1/namespaces', {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': OPNS}})
    st.fk.clear_requests()
    st.fk.auth_tokens = {'scraper-token': {'username': 'system:serviceaccount:monitoring:prometheus'}}
    st.fk.sar_allow = {('system:serviceaccount:monitoring:prometheus', '/metrics', 'get')}
    d, mport, hport = st.daemon('rbac', ['--leader-elect', '--leader-election-namespace', OPNS,
                                         '--metrics-secure'])
    ok(dbptest.wait_until(lambda: 'started leading' in d.stderr_text(), 20), 'leads (Lease in %s)' % OPNS)
    with open(dbptest.src_path('t/data/invalid/backup-encryption-without-key.yaml')) as f:
        bad = yaml.safe_load(f)
    BK = obstest.GV + '/namespaces/default/databasebackups'
    st.api.post(BK, bad)

    def reason():
        r = st.api.get(BK + '/' + bad['metadata']['name']).json
        return [c['reason'] for c in (r.get('status') or {}).get('conditions') or [] if c['type'] == 'Ready']
    ok(dbptest.wait_until(lambda: reason() == ['InvalidSpec'], 15), 'Ready=False InvalidSpec written')
    st.api.patch(BK + '/' + bad['metadata']['name'], {'spec': {'encryption': {'enabled': False}}})
    ok(dbptest.wait_until(lambda: reason() == ['DatabaseNotFound'], 15),
       'fixed: the backup controller takes it over (its Database does not exist)')
    st.api.patch(BK + '/' + bad['metadata']['name'], {'spec': {'encryption': {'enabled': True}}})
    ok(dbptest.wait_until(lambda: reason() == ['InvalidSpec'], 15), 'broken again: the same event repeats')
    hc = http.client.HTTPConnection('127.0.0.1', mport, timeout=10)
    hc.request('GET', '/metrics', headers={'Authorization': 'Bearer scraper-token'})
    is_(hc.getresponse().status, 200, 'a --metrics-secure scrape with an allowed token')
    hc.close()
    time.sleep(1.5)
    is_(d.stop(15), 0, 'SIGTERM: exit 0 (lease released)')

    reqs = [r for r in st.fk.requests() if r['userAgent'].startswith('dbprovd')]
    calls = {}
    for r in reqs:
        res = r['resource'] + ('/' + r['subresource'] if r['subresource'] else '')
        key = (r['verb'], r['apiGroup'] or '', res, r['namespace'])
        calls.setdefault(key, 0)
        calls[key] += 1
    kinds = ('databaseinstances', 'databases', 'databaseusers', 'databaseroles', 'databasegrants',
             'databasebackups', 'databaserestores', 'databasebackupschedules')
    seen = set((v, g, res) for v, g, res, _ in calls)
    G = 'dbops.dbprovision.io'
    want = [('list', G, k) for k in kinds] + [('watch', G, k) for k in kinds] + [
        ('patch', G, 'databasebackups/status'), ('create', '', 'events'), ('patch', '', 'events'),
        ('get', 'coordination.k8s.io', 'leases'), ('create', 'coordination.k8s.io', 'leases'),
        ('update', 'coordination.k8s.io', 'leases'), ('create', 'authentication.k8s.io', 'tokenreviews'),
        ('create', 'authorization.k8s.io', 'subjectaccessreviews')]
    missing = [w for w in want if w not in seen]
    is_(missing, [], 'the scenario exercised the calls that matter (%d distinct)' % len(calls))
    uncovered = sorted(k for k in calls if not covered(k))
    is_(uncovered, [], 'every call (verb, group, resource, namespace) is allowed by the RBAC')
    for k in sorted(calls):
        diag('%-7s %-22s %-32s %-16s x%d  %s' % (k[0], k[1] or 'core', k[2], k[3] or '(all)', calls[k],
                                                   'ok' if covered(k) else 'DENIED'))
    lease_ns = set(ns for (v, g, res, ns) in calls if res == 'leases')
    is_(lease_ns, {OPNS}, 'Lease calls stay in the operator namespace (the Role)')
    ok(not any(allows(r, 'get', 'coordination.k8s.io', 'leases') for r in cluster_rules),
       'leases are not granted cluster-wide')
    # No write verbs on our kinds beyond what the code needs.
    creates = [r for r in cluster_rules if G in r.get('apiGroups', []) and
               ({'create', 'delete', '*'} & set(r.get('verbs', [])))]
    is_(sorted(x for r in creates for x in r['resources']), ['databasebackups'],
        'only DatabaseBackups may be created or deleted (schedules, retention)')
    reviews = sorted((g, res, tuple(r.get('verbs', []))) for r in cluster_rules
                     for g in r.get('apiGroups', []) if g in ('authentication.k8s.io', 'authorization.k8s.io')
                     for res in r.get('resources', []))
    is_(reviews, [('authentication.k8s.io', 'tokenreviews', ('create',)),
                  ('authorization.k8s.io', 'subjectaccessreviews', ('create',))],
        'reviews: create on tokenreviews and subjectaccessreviews, nothing more')
finally:
    st.close()
done_testing()
