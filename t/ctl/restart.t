#!/usr/bin/python3
# A new leader finds objects in sync and leaves them alone. N objects of
# every provisioning kind are made Ready by one replica; then leadership
# moves twice: a clean hand-over (the leader stops and releases the Lease
# to the replica waiting) and a crash (the new leader is killed with
# SIGKILL and a freshly started replica takes over when the Lease
# expires). Each time the new leader lists every kind and reconciles every
# object, and must write nothing: no object's resourceVersion changes (so
# no phase, condition or status write), no Secret is written, and no
# object reported a reference as missing while its cache was filling.
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from pgserver import require_postgres  # noqa: E402

DBPROVD = dbptest.build_path('src/dbprovd')
if not os.path.exists(DBPROVD):
    skip_all('src/dbprovd is not built')
require_postgres()
import ctltest  # noqa: E402

N = int(os.environ.get('RESTART_OBJECTS', '100'))
GV = 'dbops.dbprovision.io/v1alpha1'
NS = ctltest.NS
KINDS = [('databases', 'Database'), ('databaseusers', 'DatabaseUser'), ('databaseroles', 'DatabaseRole'),
         ('databasegrants', 'DatabaseGrant')]
OURS = {'databaseinstances', 'databases', 'databaseusers', 'databaseroles', 'databasegrants', 'secrets'}


def coll(res):
    return ctltest.GV + '/namespaces/%s/%s' % (NS, res)


def daemon(name):
    return dbptest.Proc([DBPROVD, '--kubeconfig', env.kubeconfig, '--leader-elect',
                         '--leader-election-namespace', NS, '--log-level', 'debug',
                         '--health-probe-bind-address', '0', '--metrics-bind-address', '0'],
                        env={'POD_NAME': name}, stderr_path=env.tmp.join('%s-%d.log' % (name, time.time())))


def body(res, kind, i):
    m = {'name': '%s-%d' % (res[:-1], i), 'namespace': NS}
    if res == 'databases':
        spec = {'instanceRef': {'name': 'pg1'}, 'name': 'rs_db_%d' % i, 'deletionPolicy': 'Delete',
                'deletionProtection': False}
    elif res == 'databaseusers':
        spec = {'instanceRef': {'name': 'pg1'}, 'username': 'rs_user_%d' % i}
    elif res == 'databaseroles':
        spec = {'instanceRef': {'name': 'pg1'}, 'roleName': 'rs_role_%d' % i}
    else:
        spec = {'userRef': {'name': 'databaseuser-%d' % i},
                'postgres': {'roles': ['rs_role_%d' % i],
                             'grants': [{'database': 'rs_db_%d' % i, 'privileges': ['CONNECT']}]}}
    return {'apiVersion': GV, 'kind': kind, 'metadata': m, 'spec': spec}


def snapshot():
    """name -> (resourceVersion, phase, Ready status) of every object."""
    out = {}
    for res in ['databaseinstances'] + [k[0] for k in KINDS]:
        for o in api.get(coll(res)).json['items']:
            c = ctltest.cond(o, 'Ready') or {}
            out[res + '/' + o['metadata']['name']] = (o['metadata']['resourceVersion'],
                                                      (o.get('status') or {}).get('phase'), c.get('status'))
    return out


def all_ready():
    s = snapshot()
    return len(s) == 4 * N + 1 and all(v[1] == 'Ready' and v[2] == 'True' for v in s.values())


def passes_seen(p):
    """Distinct objects p has reconciled."""
    import json
    seen = set()
    for line in p.stderr_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get('msg') == 'reconcile':
            seen.add((e.get('controller'), e.get('name')))
    return seen


def writes(since):
    return [e for e in env.fk.requests(since)
            if e['resource'] in OURS and e['verb'] in ('create', 'update', 'patch', 'delete', 'deletecollection')]


def handed_over(new, what):
    ok(dbptest.wait_until(lambda: 'leadership acquired' in new.stderr_text(), 40), what + ': the new leader leads')
    done = dbptest.wait_until(lambda: len(passes_seen(new)) >= 4 * N + 1, 240, 0.5)
    ok(done, what + ': it reconciled all %d objects (%d)' % (4 * N + 1, len(passes_seen(new))))
    time.sleep(3)   # the passes end with their (absent) writes


def no_change(before, since, what):
    w = writes(since)
    if not is_(len(w), 0, what + ': no write to an object or Secret'):
        diag(['%s %s/%s/%s' % (e['verb'], e['resource'], e['name'], e['subresource']) for e in w][:20])
    after = snapshot()
    changed = [k for k in before if after.get(k) != before[k]]
    if not is_(len(changed), 0, what + ': no resourceVersion, phase or Ready condition changed'):
        diag(changed[:10])


env = ctltest.Env()
api, pg = env.api, env.pg
env.admin_secret()
a = daemon('a')
b = None
try:
    ok(dbptest.wait_until(lambda: 'leadership acquired' in a.stderr_text(), 30), 'replica a leads')
    is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'an instance')
    ok(env.wait_cond(ctltest.INST + '/pg1', 'Ready', 'True', 30), 'the instance is Ready')
    t0 = time.monotonic()
    bad = 0
    for res, kind in KINDS:
        for i in range(N):
            if api.post(coll(res), body(res, kind, i)).status != 201:
                bad += 1
    is_(bad, 0, '%d objects of each of %d kinds created' % (N, len(KINDS)))
    ok(dbptest.wait_until(all_ready, 600, 1.0), 'all Ready (%.0f s)' % (time.monotonic() - t0))
    is_(env.pgval("SELECT count(*) FROM pg_roles WHERE pg_has_role(rolname, 'rs_role_7', 'MEMBER') "
                  "AND rolname = 'rs_user_7'"), '1', 'a grant took effect')

    # --- a clean hand-over -----------------------------------------------------------
    b = daemon('b')
    ok(dbptest.wait_until(lambda: 'waiting for leadership' in b.stderr_text(), 20), 'replica b waits')
    time.sleep(2)
    before = snapshot()
    since = env.fk.requests()[-1]['seq']
    is_(a.stop(30), 0, 'replica a stops (and releases the Lease)')
    handed_over(b, 'hand-over')
    no_change(before, since, 'hand-over')
    notfound = [x for x in b.stderr_text().splitlines() if 'NotFound' in x and 'reconcile' not in x]
    is_(len(notfound), 0, 'hand-over: nothing was reported missing')

    # --- a crash and a fresh start -----------------------------------------------------
    a = daemon('a')
    ok(dbptest.wait_until(lambda: 'waiting for leadership' in a.stderr_text(), 20), 'replica a restarts and waits')
    before = snapshot()
    since = env.fk.requests()[-1]['seq']
    b.kill()
    handed_over(a, 'after SIGKILL')
    no_change(before, since, 'after SIGKILL')
    ctltest.stop_and_check(a, [pg.password])
finally:
    a.close()
    if b is not None:
        b.close()
    env.close()
done_testing()
