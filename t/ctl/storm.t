#!/usr/bin/python3
# An object that cannot succeed is retried on its backoff and does not
# rewrite its status in a loop. One unsatisfiable object of each kind
# (a grant on a database that does not exist, a Database with an
# extension that does not exist, a role and a user whose parent role does
# not exist, an instance nothing listens for) is left alone for WINDOW
# seconds; the API stand-in's request log counts the writes each one made
# and dbprovd's log the reconciles. Then the grant's database appears as a
# Database object, and the grant is woken by it and becomes Ready without
# waiting for its next retry.
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from pgserver import require_postgres, free_port  # noqa: E402

DBPROVD = dbptest.build_path('src/dbprovd')
if not os.path.exists(DBPROVD):
    skip_all('src/dbprovd is not built')
require_postgres()
import ctltest  # noqa: E402
import obstest  # noqa: E402

GV = 'dbops.dbprovision.io/v1alpha1'
NS = ctltest.NS
DBS = ctltest.GV + '/namespaces/%s/databases' % NS
USERS = ctltest.GV + '/namespaces/%s/databaseusers' % NS
ROLES = ctltest.GV + '/namespaces/%s/databaseroles' % NS
GRANTS = ctltest.GV + '/namespaces/%s/databasegrants' % NS
WINDOW = float(os.environ.get('STORM_WINDOW', '60'))
MAX_WRITES = 6      # "a handful": Creating, Failed, and room for a condition change
SOON = 15.0


def meta(name):
    return {'name': name, 'namespace': NS}


def writes(resource, name, since):
    return [e for e in env.fk.requests(since)
            if e['resource'] == resource and e['name'] == name and e['verb'] in ('patch', 'update')]


def reconciles(name):
    n = 0
    for line in d.stderr_text().splitlines():
        if '"msg":"reconcile"' in line.replace(' ', '') and '"name":"%s"' % name in line.replace(' ', ''):
            n += 1
    return n


env = ctltest.Env()
api, pg = env.api, env.pg
env.admin_secret()
mport = free_port()
dead = free_port()
d = dbptest.Proc([DBPROVD, '--kubeconfig', env.kubeconfig, '--log-level', 'debug',
                  '--metrics-bind-address', '127.0.0.1:%d' % mport, '--health-probe-bind-address', '0'],
                 stderr_path=env.tmp.join('dbprovd.log'))
try:
    obstest.wait_port(mport)
    ok(dbptest.wait_until(lambda: 'informer synced' in d.stderr_text(), 20), 'dbprovd runs and syncs')
    is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'an instance')
    ok(env.wait_cond(ctltest.INST + '/pg1', 'Ready', 'True', 30), 'the instance is Ready')
    is_(api.post(USERS, {'apiVersion': GV, 'kind': 'DatabaseUser', 'metadata': meta('grantee'),
                         'spec': {'username': 'storm_grantee', 'instanceRef': {'name': 'pg1'}}}).status, 201,
        'a user')
    ok(env.wait_cond(USERS + '/grantee', 'Ready', 'True', 30), 'the user is Ready')

    bad_inst = env.instance('nowhere')
    bad_inst['spec']['connection']['port'] = dead
    bad_inst['spec']['tls'] = {'enabled': False}
    objs = [
        ('databasegrants', 'g-nodb', GRANTS, {
            'apiVersion': GV, 'kind': 'DatabaseGrant', 'metadata': meta('g-nodb'),
            'spec': {'userRef': {'name': 'grantee'}, 'databaseRef': {'name': 'storm-nodb'},
                     'postgres': {'grants': [{'database': 'storm_nodb', 'privileges': ['CONNECT']}]}}}),
        ('databases', 'd-noext', DBS, {
            'apiVersion': GV, 'kind': 'Database', 'metadata': meta('d-noext'),
            'spec': {'instanceRef': {'name': 'pg1'}, 'name': 'storm_noext', 'deletionPolicy': 'Delete',
                     'deletionProtection': False,
                     'postgres': {'extensions': [{'name': 'no_such_extension_x'}]}}}),
        ('databaseroles', 'r-orphan', ROLES, {
            'apiVersion': GV, 'kind': 'DatabaseRole', 'metadata': meta('r-orphan'),
            'spec': {'roleName': 'storm_orphan', 'instanceRef': {'name': 'pg1'},
                     'postgres': {'inRoles': ['no_such_parent_x']}}}),
        ('databaseusers', 'u-orphan', USERS, {
            'apiVersion': GV, 'kind': 'DatabaseUser', 'metadata': meta('u-orphan'),
            'spec': {'username': 'storm_orphan_user', 'instanceRef': {'name': 'pg1'},
                     'postgres': {'inRoles': ['no_such_parent_x']}}}),
        ('databaseinstances', 'nowhere', ctltest.INST, bad_inst),
    ]
    since = env.fk.requests()[-1]['seq']
    for res, name, coll, body in objs:
        r = api.post(coll, body)
        if not is_(r.status, 201, 'created %s %s' % (res, name)):
            diag(r.json)
    for res, name, coll, body in objs:
        o = env.wait_cond(coll + '/' + name, 'Ready', 'False', 30)
        ok(o, '%s is Ready=False' % name)
        if o:
            diag('%s: %s: %s' % (name, ctltest.cond(o, 'Ready')['reason'], o['status'].get('message')))
    t0 = time.monotonic()
    time.sleep(WINDOW)
    for res, name, coll, body in objs:
        w = writes(res, name, since)
        n = reconciles(name)
        if not ok(len(w) <= MAX_WRITES, '%s: %d writes in %.0f s (at most %d)' %
                  (name, len(w), time.monotonic() - t0 + 0, MAX_WRITES)):
            diag(['%s %s/%s' % (e['verb'], e['name'], e['subresource']) for e in w][:20])
        ok(n >= 2, '%s: retried (%d reconciles)' % (name, n))
        # 5 ms doubling backoff: about 14 retries in a minute, plus
        # the passes that creation and the first status writes cause
        ok(n <= 30, '%s: on its backoff, not in a loop (%d reconciles)' % (name, n))
    o = env.get(GRANTS + '/g-nodb')
    is_((o or {}).get('status', {}).get('phase'), 'Failed', 'the grant stayed Failed')

    # --- the missing database appears: the grant is woken ---------------------------
    t0 = time.monotonic()
    is_(api.post(DBS, {'apiVersion': GV, 'kind': 'Database', 'metadata': meta('storm-nodb'),
                       'spec': {'instanceRef': {'name': 'pg1'}, 'name': 'storm_nodb', 'deletionPolicy': 'Delete',
                                'deletionProtection': False}}).status, 201, 'the missing database, as a Database')
    ok(env.wait_cond(DBS + '/storm-nodb', 'Ready', 'True', SOON), 'which becomes Ready')
    o = env.wait_cond(GRANTS + '/g-nodb', 'Ready', 'True', SOON)
    ok(o, 'the grant becomes Ready: woken, not at its next retry (%.1f s)' % (time.monotonic() - t0))
    is_(env.pgval("SELECT has_database_privilege('storm_grantee', 'storm_nodb', 'CONNECT')"), 't',
        'and the privilege is there')

    for res, name, coll, body in objs + [('databases', 'storm-nodb', DBS, None),
                                          ('databaseusers', 'grantee', USERS, None)]:
        api.delete(coll + '/' + name)
    for res, name, coll, body in objs + [('databases', 'storm-nodb', DBS, None)]:
        ok(dbptest.wait_until(lambda: env.get(coll + '/' + name) is None, 60), 'deleted: ' + name)
    ctltest.stop_and_check(d, [pg.password])
finally:
    d.close()
    env.close()
done_testing()
