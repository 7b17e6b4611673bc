#!/usr/bin/python3
# The DatabaseGrant controller (src/ctrl_grant.c) end to end: dbprovd
# against the API stand-in and a throwaway PostgreSQL. Role membership,
# privileges on a database, a schema, tables (with GRANT OPTION, "*" and a
# hostile name), a sequence, a function and default privileges, observed
# with has_*_privilege; the applied set recorded on the object; a
# privilege revoked by hand comes back; entries removed from the spec are
# revoked; deletion revokes everything, default privileges included; a
# missing user is reported; one connection per server is enough; hostile
# and unicode names are granted literally, a 64-byte name is refused.
import json
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
from ctltest import cond  # noqa: E402

USERS = ctltest.GV + '/namespaces/%s/databaseusers' % ctltest.NS
GRANTS = ctltest.GV + '/namespaces/%s/databasegrants' % ctltest.NS
FIN = 'dbops.dbprovision.io/grant-protection'
APPLIED = 'dbops.dbprovision.io/applied-privileges'
HOSTILE = 'we"ird; DROP TABLE orders; --'
UNI = 'tä\\blé\'s ☃'       # unicode, a backslash, a quote

env = ctltest.Env()
api, pg, fk = env.api, env.pg, env.fk


def get(name):
    return env.get(GRANTS + '/' + name)


def q(sql):
    return env.pgval(sql, 'appdb')


def has(fn, obj, priv, who='app_user'):
    return q("SELECT %s('%s', '%s', '%s')" % (fn, who, obj.replace("'", "''"), priv)) == 't'


def member(role, who='app_user'):
    return env.pgval("SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u "
                     "ON u.oid = m.member WHERE u.rolname = '%s' AND g.rolname = '%s'" % (who, role)) == '1'


def defacls(who='app_user'):
    return q("SELECT count(*) FROM pg_default_acl d, aclexplode(d.defaclacl) a JOIN pg_roles r "
             "ON r.oid = a.grantee WHERE r.rolname = '%s'" % who)


def grant(name, user, **pgspec):
    return {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseGrant',
            'metadata': {'name': name, 'namespace': ctltest.NS},
            'spec': {'userRef': {'name': user}, 'postgres': pgspec}}


env.admin_secret()
env.pgval('CREATE ROLE readers NOLOGIN')
env.pgval('CREATE DATABASE appdb')
for stmt in ('CREATE TABLE public.orders (id int)', 'CREATE TABLE public.items (id int)',
             'CREATE TABLE public."%s" (id int)' % HOSTILE.replace('"', '""'),
             'CREATE TABLE public."%s" (id int)' % UNI,
             'CREATE SCHEMA sales', 'CREATE TABLE sales.t1 (id int)', 'CREATE TABLE sales.t2 (id int)',
             'CREATE SEQUENCE public.seq1', 'CREATE FUNCTION public.f1(int) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
             'REVOKE EXECUTE ON FUNCTION public.f1(int) FROM PUBLIC'):
    q(stmt)
is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'instance created')
is_(api.post(USERS, {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseUser',
                     'metadata': {'name': 'app', 'namespace': ctltest.NS},
                     'spec': {'username': 'app_user', 'instanceRef': {'name': 'pg1'}}}).status, 201, 'user created')

mport = free_port()
d = dbptest.Proc([DBPROVD, '--kubeconfig', env.kubeconfig, '--log-level', 'debug', '--resync-period', '5s',
                  '--metrics-bind-address', '127.0.0.1:%d' % mport, '--health-probe-bind-address', '0',
                  '--max-connections-per-instance', '1'],
                 stderr_path=env.tmp.join('dbprovd.log'))
try:
    obstest.wait_port(mport)
    ok(dbptest.wait_until(lambda: 'informer synced' in d.stderr_text(), 20), 'dbprovd runs and syncs')

    # --- a missing user ---------------------------------------------------------------
    is_(api.post(GRANTS, grant('lost', 'nosuch', roles=['readers'])).status, 201, 'a grant for no user')
    o = env.wait_cond(GRANTS + '/lost', 'Ready', 'False', 20, reason='UserNotFound')
    ok(o and 'nosuch' in o['status'].get('message', ''), 'UserNotFound naming the user')

    # --- every level ---------------------------------------------------------------------
    ok(env.wait_cond(USERS + '/app', 'Ready', 'True', 60), 'the user is Ready')
    spec = dict(
        roles=['readers'],
        grants=[{'database': 'appdb', 'privileges': ['CONNECT', 'TEMPORARY']},
                {'database': 'appdb', 'schema': 'public', 'privileges': ['USAGE']},
                {'database': 'appdb', 'schema': 'public', 'tables': ['orders', HOSTILE, UNI],
                 'privileges': ['SELECT', 'INSERT'], 'withGrantOption': True},
                {'database': 'appdb', 'schema': 'sales', 'tables': ['*'], 'privileges': ['SELECT']},
                {'database': 'appdb', 'schema': 'public', 'sequences': ['seq1'], 'privileges': ['USAGE']},
                {'database': 'appdb', 'schema': 'public', 'functions': ['f1'], 'privileges': ['EXECUTE']}],
        defaultPrivileges=[{'database': 'appdb', 'schema': 'public', 'grantedBy': pg.superuser,
                            'objectType': 'tables', 'privileges': ['SELECT']}])
    seq0 = max([r['seq'] for r in fk.requests()] or [0])
    is_(api.post(GRANTS, grant('g1', 'app', **spec)).status, 201, 'DatabaseGrant created')
    o = env.wait_cond(GRANTS + '/g1', 'Ready', 'True', 60)
    ok(o, 'Ready=True')
    is_([r['code'] for r in fk.requests(seq0) if r['resource'] == 'databasegrants' and r['code'] == 409], [],
        'no conflicts on its own writes (the status write knows the version the annotation made)')
    if not o:
        diag(get('g1'))
        diag(d.stderr_text()[-3000:])
    o = o or get('g1') or {'metadata': {}}
    st = o.get('status') or {}
    is_(st.get('phase'), 'Ready', 'phase Ready')
    is_(st.get('message'), 'Grants applied successfully', 'message')
    is_((st.get('appliedGrants') or {}).get('roles'), ['readers'], 'appliedGrants.roles')
    is_((st.get('appliedGrants') or {}).get('directGrants'), 6, 'appliedGrants.directGrants')
    is_((st.get('appliedGrants') or {}).get('defaultPrivileges'), 1, 'appliedGrants.defaultPrivileges')
    ok(FIN in (o['metadata'].get('finalizers') or []), 'finalizer present')
    ok(member('readers'), 'member of readers')
    is_(env.pgval("SELECT string_agg(a.privilege_type, ',' ORDER BY a.privilege_type) FROM pg_database d, "
                  "aclexplode(d.datacl) a JOIN pg_roles r ON r.oid = a.grantee "
                  "WHERE d.datname = 'appdb' AND r.rolname = 'app_user'"), 'CONNECT,TEMPORARY',
        'CONNECT, TEMPORARY on the database (in its ACL)')
    ok(has('has_schema_privilege', 'public', 'USAGE'), 'USAGE on schema public')
    ok(has('has_table_privilege', 'public.orders', 'SELECT WITH GRANT OPTION') and
       has('has_table_privilege', 'public.orders', 'INSERT WITH GRANT OPTION'), 'SELECT, INSERT on orders WITH GRANT OPTION')
    ok(has('has_table_privilege', 'public."%s"' % HOSTILE.replace('"', '""'), 'SELECT'),
       'the table with a hostile name is granted, not executed')
    is_(q('SELECT count(*) FROM public.orders'), '0', 'and orders still exists')
    ok(has('has_table_privilege', 'public."%s"' % UNI, 'SELECT'), 'unicode, backslash and quote: granted literally')
    ok(not has('has_table_privilege', 'public.items', 'SELECT'), 'items untouched')
    ok(has('has_table_privilege', 'sales.t1', 'SELECT') and has('has_table_privilege', 'sales.t2', 'SELECT'),
       'ALL TABLES IN SCHEMA sales')
    ok(has('has_sequence_privilege', 'public.seq1', 'USAGE'), 'USAGE on the sequence')
    ok(has('has_function_privilege', 'public.f1(int)', 'EXECUTE'), 'EXECUTE on the function')
    q('CREATE TABLE public.later (id int)')
    ok(has('has_table_privilege', 'public.later', 'SELECT'), 'default privileges: a new table is readable')
    # The one connection moves between the admin database and appdb (closed
    # and reopened), so sample: never more than one, and one seen.
    seen = []
    for _ in range(20):
        seen.append(int(env.pgval("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dbprovd'")))
        time.sleep(0.1)
    ok(max(seen) <= 1 and 1 in seen, '--max-connections-per-instance 1: one connection at most, for two databases '
       '(samples %s)' % sorted(set(seen)))
    ann = (o['metadata'].get('annotations') or {}).get(APPLIED)
    if ann is None:
        ann = (get('g1')['metadata'].get('annotations') or {}).get(APPLIED)
    ok(ann and isinstance(json.loads(ann), list) and len(json.loads(ann)) >= 8, 'the applied set is recorded')

    # --- a name over PostgreSQL's 63-byte limit is refused, not truncated --------------------
    long = 'x' * 64
    is_(api.post(GRANTS, grant('toolong', 'app', grants=[{'database': 'appdb', 'schema': long,
                                                          'privileges': ['USAGE']}])).status, 201,
        'a grant naming a 64-byte schema')
    o = env.wait_cond(GRANTS + '/toolong', 'Ready', 'False', 20, reason='SpecNotApplicable')
    ok(o and 'spec.postgres.grants[0].schema' in o['status'].get('message', ''),
       'SpecNotApplicable naming the field')
    api.delete(GRANTS + '/toolong')
    ok(dbptest.wait_until(lambda: get('toolong') is None, 20), 'and it can be deleted')

    # --- drift ------------------------------------------------------------------------------
    q('REVOKE SELECT ON public.orders FROM app_user')
    env.pgval('REVOKE readers FROM app_user')
    ok(dbptest.wait_until(lambda: has('has_table_privilege', 'public.orders', 'SELECT WITH GRANT OPTION'), 20),
       'a privilege revoked by hand is granted again')
    ok(dbptest.wait_until(lambda: member('readers'), 20), 'and the membership')
    ok(dbptest.wait_until(lambda: env.events_for('g1', 'Repaired'), 10), 'Repaired event')

    # --- the spec shrinks -----------------------------------------------------------------------
    spec2 = dict(roles=[], grants=[spec['grants'][0], spec['grants'][1], spec['grants'][3]], defaultPrivileges=[])
    r = api.patch(GRANTS + '/g1', {'spec': {'postgres': spec2}})
    is_(r.status, 200, 'grants, role and default privileges removed from the spec')
    ok(dbptest.wait_until(lambda: not has('has_table_privilege', 'public.orders', 'SELECT'), 20),
       'orders: revoked')
    ok(not has('has_table_privilege', 'public.orders', 'INSERT'), 'INSERT too')
    ok(not member('readers'), 'membership revoked')
    ok(not has('has_sequence_privilege', 'public.seq1', 'USAGE'), 'sequence revoked')
    ok(not has('has_function_privilege', 'public.f1(int)', 'EXECUTE'), 'function revoked')
    is_(defacls(), '0', 'default privileges revoked')
    ok(has('has_table_privilege', 'sales.t1', 'SELECT'), 'what stays in the spec stays')
    o = env.wait_cond(GRANTS + '/g1', 'Ready', 'True', 20)
    ok(o and o['status'].get('observedGeneration') == o['metadata'].get('generation') and
       o['status']['appliedGrants'].get('directGrants') == 3, 'status follows the change')

    # --- deletion ---------------------------------------------------------------------------------
    spec3 = dict(spec, grants=spec['grants'][:3])
    r = api.patch(GRANTS + '/g1', {'spec': {'postgres': spec3}})
    ok(dbptest.wait_until(lambda: defacls() != '0' and member('readers'), 20), 'default privileges back')
    api.delete(GRANTS + '/g1')
    ok(dbptest.wait_until(lambda: get('g1') is None, 30), 'Delete: object gone')
    is_(env.pgval("SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a JOIN pg_roles r ON r.oid = a.grantee "
                  "WHERE d.datname = 'appdb' AND r.rolname = 'app_user'"), '0',
        'CONNECT and TEMPORARY revoked (the ACL no longer names the user)')
    ok(not has('has_table_privilege', 'public.orders', 'SELECT') and
       not has('has_table_privilege', 'sales.t1', 'SELECT'), 'table privileges revoked')
    ok(not member('readers'), 'membership revoked')
    is_(defacls(), '0', 'default privileges revoked too (the original left them)')

    api.delete(GRANTS + '/lost')
    ok(dbptest.wait_until(lambda: get('lost') is None, 30), 'a grant whose user never existed is deleted')
    api.delete(USERS + '/app')
    ok(dbptest.wait_until(lambda: env.get(USERS + '/app') is None, 30), 'the user is deleted')

    ctltest.stop_and_check(d, [pg.password])
finally:
    d.close()
    env.close()
done_testing()
