#!/usr/bin/python3
# Hostile names never reach the server cut short. A database, a group
# role and a login role exist on the server; objects whose names are
# those names followed by a NUL byte are
# applied with the most destructive settings (through CRDs without
# patterns, as an older or edited CRD would let them), then deleted. Each is
# refused with Ready=False/InvalidSpec naming its field, and the three
# server objects are untouched: the database and roles still exist, the
# login role's password is the same, and the grant was not made.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
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


def meta(name):
    return {'name': name, 'namespace': NS}


def state():
    return (env.pgval("SELECT count(*) FROM pg_database WHERE datname = 'accept_canary'"),
            env.pgval("SELECT count(*) FROM pg_roles WHERE rolname = 'accept_canary_role'"),
            env.pgval("SELECT rolpassword FROM pg_authid WHERE rolname = 'accept_canary_user'"),
            env.pgval("SELECT coalesce(datacl::text, '') FROM pg_database WHERE datname = 'accept_canary'"),
            env.pgval("SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                      "WHERE r.rolname = 'accept_canary_role'"))


env = ctltest.Env(lax=True)   # CRDs without patterns: the API server lets all through
api, pg = env.api, env.pg
env.admin_secret()
mport = free_port()
d = dbptest.Proc([DBPROVD, '--kubeconfig', env.kubeconfig, '--log-level', 'debug',
                  '--metrics-bind-address', '127.0.0.1:%d' % mport, '--health-probe-bind-address', '0'],
                 stderr_path=env.tmp.join('dbprovd.log'))
try:
    pg.value("CREATE DATABASE accept_canary")
    pg.value("CREATE ROLE accept_canary_role NOLOGIN")
    pg.value("CREATE ROLE accept_canary_user LOGIN PASSWORD 'canary-Passw0rd'")
    before = state()
    is_(before[:2], ('1', '1'), 'the server has the database and the roles')

    obstest.wait_port(mport)
    ok(dbptest.wait_until(lambda: 'informer synced' in d.stderr_text(), 20), 'dbprovd runs and syncs')
    is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'an instance')
    ok(env.wait_cond(ctltest.INST + '/pg1', 'Ready', 'True', 30), 'the instance is Ready')
    is_(api.post(USERS, {'apiVersion': GV, 'kind': 'DatabaseUser', 'metadata': meta('grantee'),
                         'spec': {'username': 'h_grantee', 'instanceRef': {'name': 'pg1'}}}).status, 201,
        'a grantee')
    ok(env.wait_cond(USERS + '/grantee', 'Ready', 'True', 30), 'the grantee is Ready')

    hostile = [
        (DBS, 'h-db', 'Database', {'instanceRef': {'name': 'pg1'}, 'name': 'accept_canary\u0000x',
                                   'deletionPolicy': 'Delete', 'deletionProtection': False},
         r'spec\.name: contains a NUL byte'),
        (ROLES, 'h-role', 'DatabaseRole', {'instanceRef': {'name': 'pg1'}, 'roleName': 'accept_canary_role\u0000x'},
         r'spec\.roleName: contains a NUL byte'),
        (USERS, 'h-user', 'DatabaseUser', {'instanceRef': {'name': 'pg1'}, 'username': 'accept_canary_user\u0000x'},
         r'spec\.username: contains a NUL byte'),
        (GRANTS, 'h-grant', 'DatabaseGrant',
         {'userRef': {'name': 'grantee'},
          'postgres': {'grants': [{'database': 'accept_canary\u0000x', 'privileges': ['CREATE', 'CONNECT']}],
                       'roles': ['accept_canary_role']}},
         r'spec\.postgres\.grants\[0\]\.database: contains a NUL byte'),
        (GRANTS, 'h-grant2', 'DatabaseGrant',
         {'userRef': {'name': 'grantee'},
          'postgres': {'roles': ['accept_canary_role\u0000']}},
         r'spec\.postgres\.roles\[0\]: contains a NUL byte'),
    ]
    for coll, name, kind, spec, _ in hostile:
        r = api.post(coll, {'apiVersion': GV, 'kind': kind, 'metadata': meta(name), 'spec': spec})
        if not is_(r.status, 201, 'the API server accepts %s %s' % (kind, name)):
            diag(r.json)
    for coll, name, kind, spec, pat in hostile:
        o = env.wait_cond(coll + '/' + name, 'Ready', 'False', 30, reason='InvalidSpec')
        ok(o, '%s: Ready=False, InvalidSpec' % name)
        like((ctltest.cond(o, 'Ready') or {}).get('message', ''), pat, '%s: the message names the field' % name)
        ok(not (o or {}).get('metadata', {}).get('finalizers'), '%s: no finalizer taken' % name)
    for coll, name, kind, spec, _ in hostile:
        api.delete(coll + '/' + name)
    for coll, name, kind, spec, _ in hostile:
        ok(dbptest.wait_until(lambda: env.get(coll + '/' + name) is None, 30), 'deleted: ' + name)
    is_(state(), before, 'the database, both roles, the password and the privileges are untouched')
    is_(env.pgval("SELECT has_database_privilege('h_grantee', 'accept_canary', 'CREATE')"), 'f',
        'the grantee did not get CREATE on the database')
    log = d.stderr_text()
    ok('accept_canary' not in ''.join(x for x in log.splitlines() if 'DROP' in x or 'drop' in x),
       'no DROP of the canaries was logged')
    api.delete(USERS + '/grantee')
    ok(dbptest.wait_until(lambda: env.get(USERS + '/grantee') is None, 30), 'the grantee is deleted')
    ctltest.stop_and_check(d, [pg.password, 'canary-Passw0rd'])
finally:
    d.close()
    env.close()
done_testing()
