#!/usr/bin/python3
# Objects that wait for another are woken when it becomes Ready, not at
# their next retry: a Database whose DatabaseInstance does not exist yet
# (InstanceNotFound, retried after 30 s) and a DatabaseGrant whose
# DatabaseUser does not exist yet (UserNotFound, retried after 30 s) both
# become Ready well before that retry once what they wait for is Ready.
# dbprovd runs with the default resync period (10 minutes), so nothing
# else queues them meanwhile.
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
DBS = ctltest.GV + '/namespaces/%s/databases' % ctltest.NS
USERS = ctltest.GV + '/namespaces/%s/databaseusers' % ctltest.NS
GRANTS = ctltest.GV + '/namespaces/%s/databasegrants' % ctltest.NS
RETRY = 30.0        # RETRY_NOTFOUND of the controllers
SOON = 15.0         # well inside it, with room for a slow machine

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

    # --- a Database before its instance ----------------------------------------------
    is_(api.post(DBS, {'apiVersion': GV, 'kind': 'Database', 'metadata': {'name': 'early', 'namespace': ctltest.NS},
                       'spec': {'instanceRef': {'name': 'pg1'}, 'name': 'early_db', 'deletionPolicy': 'Delete',
                                'deletionProtection': False}}).status, 201,
        'a Database for an instance not made yet')
    ok(env.wait_cond(DBS + '/early', 'Ready', 'False', 20, reason='InstanceNotFound'),
       'InstanceNotFound (retried in 30 s)')
    t0 = time.monotonic()
    is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'then the instance')
    ok(env.wait_cond(ctltest.INST + '/pg1', 'Ready', 'True', SOON), 'the instance is Ready')
    ok(env.wait_cond(DBS + '/early', 'Ready', 'True', max(1.0, SOON - (time.monotonic() - t0))),
       'the Database is Ready without waiting for its retry')
    took = time.monotonic() - t0
    ok(took < RETRY, 'long before the retry was due (%.1f s after the instance was created)' % took)
    is_(env.pgval("SELECT count(*) FROM pg_database WHERE datname = 'early_db'"), '1', 'and the database exists')

    # --- a grant before its user -------------------------------------------------------
    is_(api.post(GRANTS, {'apiVersion': GV, 'kind': 'DatabaseGrant',
                          'metadata': {'name': 'waiter', 'namespace': ctltest.NS},
                          'spec': {'userRef': {'name': 'later'},
                                   'postgres': {'grants': [{'database': 'early_db',
                                                            'privileges': ['CONNECT']}]}}}).status, 201,
        'a grant for a user not made yet')
    ok(env.wait_cond(GRANTS + '/waiter', 'Ready', 'False', 20, reason='UserNotFound'),
       'UserNotFound (retried in 30 s)')
    t0 = time.monotonic()
    is_(api.post(USERS, {'apiVersion': GV, 'kind': 'DatabaseUser',
                         'metadata': {'name': 'later', 'namespace': ctltest.NS},
                         'spec': {'username': 'later_user', 'instanceRef': {'name': 'pg1'}}}).status, 201,
        'then the user')
    ok(env.wait_cond(USERS + '/later', 'Ready', 'True', SOON), 'the user is Ready')
    o = env.wait_cond(GRANTS + '/waiter', 'Ready', 'True', max(1.0, SOON - (time.monotonic() - t0)))
    ok(o, 'the grant is Ready without waiting for its retry')
    if not o:
        diag(env.get(GRANTS + '/waiter'))
    took = time.monotonic() - t0
    ok(took < RETRY, 'long before the retry was due (%.1f s after the user was created)' % took)
    is_(env.pgval("SELECT has_database_privilege('later_user', 'early_db', 'CONNECT')"), 't',
        'and the privilege is there')
    ok('woke the objects waiting for this one' in d.stderr_text(), 'dbprovd says it woke them')

    for path in (GRANTS + '/waiter', USERS + '/later', DBS + '/early'):
        api.delete(path)
        ok(dbptest.wait_until(lambda: env.get(path) is None, 30), 'deleted: ' + path.rsplit('/', 1)[1])
    ctltest.stop_and_check(d, [pg.password])
finally:
    d.close()
    env.close()
done_testing()
