#!/usr/bin/python3
# Two things seen under faults:
#  - an instance deleted together with its dependents keeps its
#    connection usable until they have cleaned up: every dependent is
#    dropped on its first try, none waits for a retry, and no pass fails
#    for want of connection parameters;
#  - reasons say what happened to a Secret: an API error while reading it
#    is SecretReadFailed (and the object recovers when the API does), a
#    missing one SecretNotFound, a value with a NUL byte or bytes that are
#    not UTF-8 SecretInvalid (for a user's password and for an instance's
#    admin user name).
import base64
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
N = 8


def meta(name):
    return {'name': name, 'namespace': NS}


def reason(path):
    return (ctltest.cond(env.get(path), 'Ready') or {}).get('reason')


env = ctltest.Env()
api, pg = env.api, env.pg
env.admin_secret()
mport = free_port()
d = dbptest.Proc([DBPROVD, '--kubeconfig', env.kubeconfig, '--log-level', 'debug',
                  '--metrics-bind-address', '127.0.0.1:%d' % mport, '--health-probe-bind-address', '0'],
                 stderr_path=env.tmp.join('dbprovd.log'))
try:
    obstest.wait_port(mport)
    ok(dbptest.wait_until(lambda: 'informer synced' in d.stderr_text(), 20), 'dbprovd runs and syncs')
    is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'an instance')
    ok(env.wait_cond(ctltest.INST + '/pg1', 'Ready', 'True', 30), 'the instance is Ready')

    # --- Secret reasons -------------------------------------------------------------
    pw_path = ctltest.SECRETS + '/td-pw'
    env.fk.fail(500, count=None, method='GET', path='^' + pw_path + '$')
    is_(api.post(USERS, {'apiVersion': GV, 'kind': 'DatabaseUser', 'metadata': meta('u-sec'),
                         'spec': {'username': 'td_sec', 'instanceRef': {'name': 'pg1'},
                                  'existingPasswordSecret': {'name': 'td-pw', 'key': 'password'}}}).status, 201,
        'a user whose password Secret cannot be read (the API answers 500)')
    ok(env.wait_cond(USERS + '/u-sec', 'Ready', 'False', 30, reason='SecretReadFailed'),
       'Ready=False, SecretReadFailed (not SecretNotFound)')
    env.fk.clear_faults()
    ok(env.wait_cond(USERS + '/u-sec', 'Ready', 'False', 60, reason='SecretNotFound'),
       'the API answers again: the Secret does not exist, SecretNotFound')
    r = api.post(ctltest.SECRETS, {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': meta('td-pw'),
                                   'data': {'password': base64.b64encode(b'good\x00evil').decode()}})
    is_(r.status, 201, 'a password Secret holding a NUL byte')
    o = env.wait_cond(USERS + '/u-sec', 'Ready', 'False', 60, reason='SecretInvalid')
    ok(o, 'Ready=False, SecretInvalid')
    msg = (o or {}).get('status', {}).get('message', '')
    ok('NUL' in msg and 'good' not in msg, 'the message names the problem, not the value: ' + msg)
    is_(env.pgval("SELECT count(*) FROM pg_roles WHERE rolname = 'td_sec'"), '0', 'no role was made with it')
    api.put(pw_path, {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': meta('td-pw'),
                      'data': {'password': base64.b64encode(b'g00d-Passw0rd').decode()}})
    ok(env.wait_cond(USERS + '/u-sec', 'Ready', 'True', 60), 'fixed: the user is Ready')

    env.put_secret('bad-admin', {'username': b'\xff\xfeadmin', 'password': pg.password})
    inst = env.instance('pg-bad')
    inst['spec']['connection']['secretRef'] = {'name': 'bad-admin'}
    is_(api.post(ctltest.INST, inst).status, 201, 'an instance whose admin user name is not UTF-8')
    o = env.wait_cond(ctltest.INST + '/pg-bad', 'Ready', 'False', 30)
    is_(ctltest.cond(o, 'Connected') and ctltest.cond(o, 'Connected')['reason'], 'SecretInvalid',
        'Connected=False, SecretInvalid')
    ok('not valid UTF-8' in (o or {}).get('status', {}).get('message', ''), 'the message says why')
    api.delete(ctltest.INST + '/pg-bad')

    # --- an instance deleted with its dependents ------------------------------------------
    for i in range(N):
        api.post(DBS, {'apiVersion': GV, 'kind': 'Database', 'metadata': meta('td-db-%d' % i),
                       'spec': {'instanceRef': {'name': 'pg1'}, 'name': 'td_db_%d' % i,
                                'deletionPolicy': 'Delete', 'deletionProtection': False}})
        api.post(USERS, {'apiVersion': GV, 'kind': 'DatabaseUser', 'metadata': meta('td-user-%d' % i),
                         'spec': {'instanceRef': {'name': 'pg1'}, 'username': 'td_user_%d' % i}})
        api.post(ROLES, {'apiVersion': GV, 'kind': 'DatabaseRole', 'metadata': meta('td-role-%d' % i),
                         'spec': {'instanceRef': {'name': 'pg1'}, 'roleName': 'td_role_%d' % i}})
        api.post(GRANTS, {'apiVersion': GV, 'kind': 'DatabaseGrant', 'metadata': meta('td-grant-%d' % i),
                          'spec': {'userRef': {'name': 'td-user-%d' % i},
                                   'postgres': {'roles': ['td_role_%d' % i],
                                                'grants': [{'database': 'td_db_%d' % i,
                                                            'privileges': ['CONNECT']}]}}})
    paths = ([DBS + '/td-db-%d' % i for i in range(N)] + [USERS + '/td-user-%d' % i for i in range(N)] +
             [ROLES + '/td-role-%d' % i for i in range(N)] + [GRANTS + '/td-grant-%d' % i for i in range(N)] +
             [USERS + '/u-sec'])
    ok(dbptest.wait_until(lambda: all(env.wait_cond(p, 'Ready', 'True', 0.1) for p in paths), 120, 1.0),
       '%d dependents Ready' % len(paths))
    log_mark = len(d.stderr_text())
    t0 = time.monotonic()
    api.delete(ctltest.INST + '/pg1')
    for p in reversed(paths):
        api.delete(p)
    # Each dependent drops its server object on its first try: well
    # inside the first backoff retries and far from a 30 s requeue.
    gone = dbptest.wait_until(lambda: all(env.get(p) is None for p in paths), 60, 0.2)
    took = time.monotonic() - t0
    ok(gone, 'all %d dependents are gone (%.1f s)' % (len(paths), took))
    ok(dbptest.wait_until(lambda: env.get(ctltest.INST + '/pg1') is None, 60), 'then the instance')
    tail = d.stderr_text()[log_mark:]
    is_(tail.count('the instance was reset'), 0, 'no pass lacked connection parameters')
    # Deleting 33 objects at once may order some drops badly (a database
    # still in use by a grant's revoke, a role still holding privileges):
    # those are retried. None may fail for want of the instance.
    failed = [x for x in tail.splitlines() if 'DeletionFailed' in x]
    diag('%d deletion attempts failed and were retried' % len(failed))
    is_([x for x in failed if 'connection parameters' in x or 'was reset' in x or 'InstanceNotFound' in x], [],
        'no deletion failed for want of the instance')
    is_(env.pgval("SELECT count(*) FROM pg_database WHERE datname LIKE 'td\\_db\\_%'"), '0', 'databases dropped')
    is_(env.pgval("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'td\\_%'"), '0', 'users and roles dropped')
    ctltest.stop_and_check(d, [pg.password, 'g00d-Passw0rd'])
finally:
    d.close()
    env.close()
done_testing()
