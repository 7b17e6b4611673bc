#!/usr/bin/python3
# The DatabaseRole controller (src/ctrl_role.c) end to end: dbprovd against
# the API stand-in and a throwaway PostgreSQL. Finalizer first; a role with
# attributes (CREATEDB, CREATEROLE, NOINHERIT) and a membership observed in
# pg_roles/pg_auth_members; an attribute changed by hand is repaired at
# the next resync; a spec change is applied; deleting a role that owns a
# table in another database reassigns and drops its objects there, then
# drops the role; spec.postgres.grants are applied, repaired and revoked
# when removed; no password in the logs.
import os
import re
import sys

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
from ctltest import cond, lit  # noqa: E402

ROLES = ctltest.GV + '/namespaces/%s/databaseroles' % ctltest.NS
FIN = 'dbops.dbprovision.io/role-protection'

env = ctltest.Env()
api, pg, fk = env.api, env.pg, env.fk


def role(name, rolename, inst='pg1', **pgspec):
    return {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseRole',
            'metadata': {'name': name, 'namespace': ctltest.NS},
            'spec': {'roleName': rolename, 'instanceRef': {'name': inst}, 'postgres': pgspec}}


def get(name):
    return env.get(ROLES + '/' + name)


def attr(rolename, col):
    return env.pgval('SELECT %s FROM pg_roles WHERE rolname = %s' % (col, lit(rolename)))


def exists(rolename):
    return env.pgval('SELECT count(*) FROM pg_roles WHERE rolname = %s' % lit(rolename)) == '1'


env.admin_secret()
env.pgval('CREATE ROLE app_readers NOLOGIN')
env.pgval('CREATE ROLE app_writers NOLOGIN')
env.pgval('CREATE DATABASE otherdb')

mport = free_port()
d = dbptest.Proc([DBPROVD, '--kubeconfig', env.kubeconfig, '--log-level', 'debug', '--resync-period', '5s',
                  '--metrics-bind-address', '127.0.0.1:%d' % mport,
                  '--health-probe-bind-address', '0'],
                 stderr_path=env.tmp.join('dbprovd.log'))
try:
    obstest.wait_port(mport)
    ok(dbptest.wait_until(lambda: 'informer synced' in d.stderr_text(), 20), 'dbprovd runs and syncs')

    # --- instance missing, then there --------------------------------------
    is_(api.post(ROLES, role('lost', 'lost_role', inst='nosuch')).status, 201, 'a role naming no instance')
    ok(env.wait_cond(ROLES + '/lost', 'Ready', 'False', 20, reason='InstanceNotFound'),
       'wrong instanceRef: Ready=False InstanceNotFound')
    is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'instance created')

    # --- create with attributes ---------------------------------------------
    fk.clear_requests()
    is_(api.post(ROLES, role('app', 'app_role', createDB=True, createRole=True, inherit=False,
                             inRoles=['app_readers'])).status, 201, 'DatabaseRole created')
    o = env.wait_cond(ROLES + '/app', 'Ready', 'True', 60)
    ok(o, 'Ready=True')
    if not o:
        diag(get('app'))
        diag(d.stderr_text()[-3000:])
    o = o or get('app') or {'metadata': {}}
    st = o.get('status') or {}
    is_(st.get('phase'), 'Ready', 'phase Ready')
    is_((cond(o, 'Synced') or {}).get('status'), 'True', 'Synced=True')
    is_(st.get('observedGeneration'), o['metadata'].get('generation'), 'observedGeneration')
    is_((st.get('role') or {}).get('name'), 'app_role', 'status.role.name')
    ok((st.get('role') or {}).get('createdAt'), 'status.role.createdAt')
    ok(FIN in (o['metadata'].get('finalizers') or []), 'finalizer present')
    writes = [x for x in fk.requests() if x['method'] in ('PATCH', 'PUT') and x.get('resource') == 'databaseroles'
              and x.get('name') == 'app']
    ok(writes and not writes[0].get('subresource'), 'the first write is the finalizer patch')
    is_(attr('app_role', 'rolcreatedb'), 't', 'pg_roles: CREATEDB')
    is_(attr('app_role', 'rolcreaterole'), 't', 'pg_roles: CREATEROLE')
    is_(attr('app_role', 'rolinherit'), 'f', 'pg_roles: NOINHERIT')
    is_(attr('app_role', 'rolcanlogin'), 'f', 'pg_roles: NOLOGIN')
    is_(env.pgval("SELECT string_agg(g.rolname, ',') FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                  "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'app_role'"), 'app_readers',
        'pg_auth_members: member of app_readers')
    ok(dbptest.wait_until(lambda: env.events_for('app', 'Created'), 10), 'Created events')
    body = obstest.get(mport, '/metrics')[1]
    body = body.decode() if isinstance(body, bytes) else body
    ok(re.search(r'dbops_role_operations_total\{[^}]*create', body), 'create operation counted')

    # --- drift repaired at the next resync ------------------------------------
    env.pgval('ALTER ROLE app_role NOCREATEDB')
    ok(dbptest.wait_until(lambda: attr('app_role', 'rolcreatedb') == 't', 20), 'manual NOCREATEDB repaired')
    ok(dbptest.wait_until(lambda: env.events_for('app', 'Repaired'), 10), 'Repaired event')

    # --- spec change ----------------------------------------------------------
    api.patch(ROLES + '/app', {'spec': {'postgres': {'createRole': False, 'inherit': True,
                                                     'inRoles': ['app_readers', 'app_writers']}}})
    ok(dbptest.wait_until(lambda: attr('app_role', 'rolcreaterole') == 'f' and attr('app_role', 'rolinherit') == 't',
                          20), 'spec change applied: NOCREATEROLE INHERIT')
    ok(dbptest.wait_until(lambda: env.pgval(
        "SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u "
        "ON u.oid = m.member WHERE u.rolname = 'app_role' AND g.rolname = 'app_writers'") == '1', 20),
       'new membership granted')
    o = env.wait_cond(ROLES + '/app', 'Ready', 'True', 20)
    ok(o and o['status'].get('observedGeneration') == o['metadata'].get('generation'),
       'observedGeneration follows the change')

    # --- deletion of a role owning a table in another database ------------------
    env.pgval('CREATE TABLE owned_by_role (id int)', 'otherdb')
    env.pgval('ALTER TABLE owned_by_role OWNER TO app_role', 'otherdb')
    env.pgval('GRANT CONNECT ON DATABASE otherdb TO app_role')
    api.delete(ROLES + '/app')
    ok(dbptest.wait_until(lambda: get('app') is None, 30), 'Delete: object gone')
    if get('app'):
        diag(get('app').get('status'))
    ok(not exists('app_role'), 'Delete: role dropped')
    is_(env.pgval("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'owned_by_role'", 'otherdb'),
        pg.superuser, 'the table in otherdb now belongs to the admin role')

    # --- deletion failure keeps the finalizer --------------------------------------
    is_(api.post(ROLES, role('stuck', 'stuck_role')).status, 201, 'another role')
    ok(env.wait_cond(ROLES + '/stuck', 'Ready', 'True', 30), 'Ready')
    env.pgval('CREATE DATABASE nocon')
    env.pgval('CREATE TABLE t1 (id int)', 'nocon')
    env.pgval('ALTER TABLE t1 OWNER TO stuck_role', 'nocon')
    env.pgval('ALTER DATABASE nocon ALLOW_CONNECTIONS false')
    api.delete(ROLES + '/stuck')
    o = env.wait_cond(ROLES + '/stuck', 'Ready', 'False', 30, reason='DeletionFailed')
    ok(o and FIN in (o['metadata'].get('finalizers') or []), 'dependency in a database refusing connections: '
       'finalizer kept, DeletionFailed')
    ok(o and 'nocon' in ((o.get('status') or {}).get('message') or ''), 'the message names the database')
    env.pgval('ALTER DATABASE nocon ALLOW_CONNECTIONS true')
    ok(dbptest.wait_until(lambda: get('stuck') is None, 60), 'connections allowed again: dropped and gone')
    ok(not exists('stuck_role'), 'role dropped')

    # --- a DatabaseUser and a DatabaseRole for one PostgreSQL role ----------------------
    is_(api.post(ctltest.GV + '/namespaces/%s/databaseusers' % ctltest.NS,
                 {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseUser',
                  'metadata': {'name': 'clash-user', 'namespace': ctltest.NS},
                  'spec': {'username': 'clash', 'instanceRef': {'name': 'pg1'}}}).status, 201,
        'a DatabaseUser clash')
    ok(env.wait_cond(ctltest.GV + '/namespaces/%s/databaseusers/clash-user' % ctltest.NS, 'Ready', 'True', 30),
       'Ready')
    is_(api.post(ROLES, role('clash-role', 'clash')).status, 201, 'a DatabaseRole for the same role name')
    o = env.wait_cond(ROLES + '/clash-role', 'Ready', 'False', 30, reason='NameConflict')
    ok(o and 'DatabaseUser' in o['status'].get('message', ''), 'NameConflict: the role belongs to the user')
    is_(attr('clash', 'rolcanlogin'), 't', 'the role keeps the user\'s LOGIN')
    api.delete(ROLES + '/clash-role')
    ok(dbptest.wait_until(lambda: get('clash-role') is None, 20) and exists('clash'),
       'deleting the DatabaseRole leaves the user\'s role alone')
    api.delete(ctltest.GV + '/namespaces/%s/databaseusers/clash-user' % ctltest.NS)
    ok(dbptest.wait_until(lambda: not exists('clash'), 30), 'deleting the user drops it')

    # --- grants of a role ------------------------------------------------------------
    env.pgval('CREATE TABLE gt1 (id int)', 'otherdb')
    env.pgval('CREATE TABLE gt2 (id int)', 'otherdb')

    def has_tab(t, priv):
        return env.pgval("SELECT has_table_privilege('gr_role', '%s', '%s')" % (t, priv), 'otherdb') == 't'

    def db_acl():
        return env.pgval("SELECT string_agg(a.privilege_type, ',' ORDER BY a.privilege_type) FROM pg_database d, "
                         "aclexplode(d.datacl) a JOIN pg_roles r ON r.oid = a.grantee "
                         "WHERE d.datname = 'otherdb' AND r.rolname = 'gr_role'")
    is_(api.post(ROLES, role('gr', 'gr_role', grants=[
        {'database': 'otherdb', 'privileges': ['CONNECT']},
        {'database': 'otherdb', 'schema': 'public', 'tables': ['gt1', 'gt2'], 'privileges': ['SELECT', 'UPDATE']}])
    ).status, 201, 'a role with grants')
    o = env.wait_cond(ROLES + '/gr', 'Ready', 'True', 30)
    ok(o and (cond(o, 'Synced') or {}).get('status') == 'True', 'grants: Ready=True, Synced=True')
    is_(db_acl(), 'CONNECT', 'CONNECT on otherdb')
    ok(has_tab('gt1', 'SELECT') and has_tab('gt2', 'UPDATE'), 'SELECT, UPDATE on the tables')
    env.pgval('REVOKE UPDATE ON gt2 FROM gr_role', 'otherdb')
    ok(dbptest.wait_until(lambda: has_tab('gt2', 'UPDATE'), 20), 'a grant revoked by hand comes back')
    api.patch(ROLES + '/gr', {'spec': {'postgres': {'grants': [
        {'database': 'otherdb', 'schema': 'public', 'tables': ['gt1'], 'privileges': ['SELECT']}]}}})
    ok(dbptest.wait_until(lambda: not has_tab('gt2', 'SELECT'), 20), 'removed from the spec: revoked')
    ok(not has_tab('gt1', 'UPDATE') and has_tab('gt1', 'SELECT'), 'gt1 keeps SELECT only')
    is_(db_acl(), None, 'CONNECT revoked')
    api.delete(ROLES + '/gr')
    ok(dbptest.wait_until(lambda: get('gr') is None, 30), 'deleted')
    ok(not exists('gr_role'), 'role and its privileges gone')

    api.delete(ROLES + '/lost')
    ctltest.stop_and_check(d, [pg.password])
finally:
    d.close()
    env.close()
done_testing()
