#!/usr/bin/python3
# The DatabaseInstance controller (src/ctrl_instance.c, src/instances.c,
# src/ksecret.c) end to end: dbprovd against the API stand-in and a
# throwaway PostgreSQL with TLS and a throwaway CA. Finalizer first; Ready
# with the server's version over verify-full; a wrong CA and a wrong
# password give Connected=False with a clear message (no secret) and one
# Warning event; fixing the Secret brings it back; a stopped server is
# noticed within the health interval and a restarted one recovers; deletion
# waits for a Database that names the instance and then removes the
# finalizer; the metrics; no password in the logs.
import base64
import re
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from pgserver import PgServer, require_postgres, free_port  # noqa: E402

DBPROVD = dbptest.build_path('src/dbprovd')
if not os.path.exists(DBPROVD):
    skip_all('src/dbprovd is not built')
require_postgres()
from fakekube import FakeKube  # noqa: E402
import obstest  # noqa: E402

GV = '/apis/dbops.dbprovision.io/v1alpha1'
NS = 'default'
INST = GV + '/namespaces/%s/databaseinstances' % NS
DBS = GV + '/namespaces/%s/databases' % NS
SECRETS = '/api/v1/namespaces/%s/secrets' % NS
FIN = 'dbops.dbprovision.io/instance-protection'
WRONG_PW = 'wr0ng pw\'"\\ x-' + os.urandom(4).hex()

pg = PgServer().start()
tmp = dbptest.TempDir()
token_file = tmp.join('token')
with open(token_file, 'w') as f:
    f.write('ctl-test-token\n')
fk = FakeKube(tls=True, token_file=token_file, crd_dir=dbptest.src_path('crd'),
              bookmark_interval=1).start()
api = fk.client()
kc = tmp.join('kubeconfig')
fk.write_kubeconfig(kc, token_file=True)


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def put_secret(name, data):
    body = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': name, 'namespace': NS},
            'type': 'Opaque', 'data': {k: b64(v) for k, v in data.items()}}
    r = api.get(SECRETS + '/' + name)
    if r.status == 200:
        body['metadata']['resourceVersion'] = r.json['metadata']['resourceVersion']
        return api.put(SECRETS + '/' + name, body)
    return api.post(SECRETS, body)


def instance(name, tls_secret='pg-tls', interval=5):
    return {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseInstance',
            'metadata': {'name': name, 'namespace': NS},
            'spec': {'engine': 'postgres',
                     'connection': {'host': 'localhost', 'port': pg.port, 'database': 'postgres',
                                    'secretRef': {'name': 'pg-admin'}},
                     'tls': {'enabled': True, 'mode': 'verify-full', 'secretRef': {'name': tls_secret}},
                     'healthCheck': {'intervalSeconds': interval, 'timeoutSeconds': 3},
                     'postgres': {'sslMode': 'verify-full', 'applicationName': 'dbprovd-ctl-test'}}}


def get(name):
    r = api.get(INST + '/' + name)
    return r.json if r.status == 200 else None


def cond(obj, typ):
    for c in ((obj or {}).get('status') or {}).get('conditions') or []:
        if c['type'] == typ:
            return c
    return None


def wait_cond(name, typ, status, timeout=30, reason=None):
    def pred():
        o = get(name)
        c = cond(o, typ)
        if c and c['status'] == status and (reason is None or c['reason'] == reason):
            return o
        return None
    return dbptest.wait_until(pred, timeout, 0.2)


def has_metric(body, rx, name):
    # ok() on a regex, without dumping the whole exposition on failure
    good = ok(re.search(rx, body), name)
    if not good:
        diag('\n'.join(x for x in body.splitlines() if 'dbops_instance' in x or 'dbops_connection' in x))
    return good


def events_for(name, reason):
    items = api.get('/api/v1/namespaces/%s/events' % NS).json['items']
    return [e for e in items if e['involvedObject']['name'] == name and e['reason'] == reason]


server_version = pg.value('SHOW server_version').split()[0]
put_secret('pg-admin', {'username': pg.superuser, 'password': pg.password})
put_secret('pg-tls', {'ca.crt': read(pg.ca_file)})
put_secret('pg-wrongca', {'ca.crt': read(pg.wrong_ca_file)})

mport = free_port()
d = dbptest.Proc([DBPROVD, '--kubeconfig', kc, '--log-level', 'debug',
                  '--metrics-bind-address', '127.0.0.1:%d' % mport,
                  '--health-probe-bind-address', '0'],
                 stderr_path=tmp.join('dbprovd.log'))
try:
    obstest.wait_port(mport)
    ok(dbptest.wait_until(lambda: 'informer synced' in d.stderr_text(), 20), 'dbprovd runs and syncs')

    # --- Ready over verify-full --------------------------------------------
    fk.clear_requests()
    r = api.post(INST, instance('pg1'))
    is_(r.status, 201, 'instance created')
    o = wait_cond('pg1', 'Ready', 'True', 40)
    ok(o, 'Ready=True')
    if not o:
        diag(get('pg1'))
    o = o or get('pg1') or {}
    st = o.get('status') or {}
    is_(st.get('phase'), 'Ready', 'phase Ready')
    is_(st.get('version'), server_version, 'status.version is the server version (%s)' % server_version)
    is_((cond(o, 'Connected') or {}).get('reason'), 'ConnectionSuccess', 'Connected=True ConnectionSuccess')
    is_((cond(o, 'Healthy') or {}).get('status'), 'True', 'Healthy=True')
    is_(st.get('observedGeneration'), o['metadata']['generation'], 'observedGeneration')
    like(st.get('lastCheckedAt') or '', r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', 'lastCheckedAt set')
    ok(FIN in (o['metadata'].get('finalizers') or []), 'finalizer present')
    writes = [x for x in fk.requests() if x['method'] in ('PATCH', 'PUT') and x.get('resource') == 'databaseinstances'
              and x.get('name') == 'pg1']
    ok(writes and not writes[0].get('subresource'), 'the first write is the finalizer patch, before any status')
    ok(events_for('pg1', 'Connected'), 'a Normal Connected event')
    ok(pg.count_app('dbprovd-ctl-test') >= 1, 'the connection uses spec.postgres.applicationName')
    ok(int(pg.value("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                    "WHERE a.application_name = 'dbprovd-ctl-test' AND s.ssl")) >= 1, 'the session uses TLS')

    # Converged: no status write without a change.
    time.sleep(1)
    n0 = len([x for x in fk.requests() if x['method'] == 'PATCH' and x.get('subresource') == 'status'
              and x.get('name') == 'pg1'])
    time.sleep(6)
    n1 = len([x for x in fk.requests() if x['method'] == 'PATCH' and x.get('subresource') == 'status'
              and x.get('name') == 'pg1'])
    is_(n1, n0, 'a health check that changes nothing writes nothing')

    # --- metrics ---------------------------------------------------------------
    body = obstest.get(mport, '/metrics')[1]
    body = body.decode() if isinstance(body, bytes) else body
    has_metric(body, r'dbops_instance_healthy\{db_instance="pg1",engine="postgres",resource_namespace="default"\} 1',
         'dbops_instance_healthy is 1')
    has_metric(body, r'dbops_connection_attempts_total\{db_instance="pg1",engine="postgres",status="success",'
         r'resource_namespace="default"\} \d', 'connection attempts counted')
    has_metric(body, r'dbops_instance_last_health_check_timestamp_seconds\{db_instance="pg1"', 'last health check time')

    # --- wrong CA -----------------------------------------------------------------
    r = api.post(INST, instance('pg-wrongca', tls_secret='pg-wrongca'))
    o = wait_cond('pg-wrongca', 'Connected', 'False', 30)
    ok(o, 'wrong CA: Connected=False')
    msg = ((cond(o, 'Connected') or {}).get('message') or '')
    like(msg, r'certificate|SSL', 'wrong CA: the message says why (%s)' % msg)
    is_((o or {}).get('status', {}).get('phase'), 'Failed', 'wrong CA: phase Failed')
    api.delete(INST + '/pg-wrongca')
    ok(dbptest.wait_until(lambda: get('pg-wrongca') is None, 20), 'wrong-CA instance deleted')

    # --- wrong password, then fixed ----------------------------------------------------
    put_secret('pg-admin', {'username': pg.superuser, 'password': WRONG_PW})
    o = wait_cond('pg1', 'Connected', 'False', 30)
    ok(o, 'wrong password: Connected=False (Secret change noticed)')
    msg = ((cond(o, 'Connected') or {}).get('message') or '')
    like(msg, r'password authentication failed', 'wrong password: clear message')
    ok(WRONG_PW not in msg and pg.password not in msg, 'the message contains no password')
    is_((cond(o, 'Ready') or {}).get('status'), 'False', 'Ready=False')
    ok(dbptest.wait_until(lambda: events_for('pg1', 'ConnectionFailed'), 10), 'a Warning ConnectionFailed event')
    evs = events_for('pg1', 'ConnectionFailed')
    ok(evs and evs[0]['type'] == 'Warning' and WRONG_PW not in evs[0]['message'], 'the event is a Warning without the password')
    body = obstest.get(mport, '/metrics')[1]
    body = body.decode() if isinstance(body, bytes) else body
    has_metric(body, r'dbops_instance_healthy\{db_instance="pg1",engine="postgres",resource_namespace="default"\} 0',
         'dbops_instance_healthy is 0')
    put_secret('pg-admin', {'username': pg.superuser, 'password': pg.password})
    ok(wait_cond('pg1', 'Ready', 'True', 40), 'Secret fixed: Ready again')

    # --- server stopped and restarted -------------------------------------------------
    pg.stop()
    t0 = time.monotonic()
    o = wait_cond('pg1', 'Healthy', 'False', 20)
    ok(o, 'server stopped: Healthy=False (%.1f s)' % (time.monotonic() - t0))
    ok(o and time.monotonic() - t0 < 5 + 3 + 5, 'noticed within interval + timeout')
    is_((cond(o, 'Connected') or {}).get('status'), 'False', 'server stopped: Connected=False')
    pg.start_again()
    t0 = time.monotonic()
    ok(wait_cond('pg1', 'Ready', 'True', 60), 'server back: Ready again (%.1f s)' % (time.monotonic() - t0))

    # --- deletion ---------------------------------------------------------------------
    db = {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'Database',
          'metadata': {'name': 'app', 'namespace': NS},
          'spec': {'name': 'app', 'instanceRef': {'name': 'pg1'}, 'deletionProtection': False}}
    is_(api.post(DBS, db).status, 201, 'a Database naming the instance')
    time.sleep(1)
    api.delete(INST + '/pg1')

    def blocked():
        o = get('pg1')
        m = ((o or {}).get('status') or {}).get('message') or ''
        return o if 'Database default/app' in m else None
    o = dbptest.wait_until(blocked, 20, 0.2)
    ok(o, 'deletion blocked: the status names the Database')
    ok(o and FIN in (o['metadata'].get('finalizers') or []), 'the finalizer is kept')
    is_((cond(o, 'Ready') or {}).get('reason'), 'DeletionBlocked', 'Ready reason DeletionBlocked')
    api.delete(DBS + '/app')
    ok(dbptest.wait_until(lambda: get('pg1') is None, 30), 'dependent gone: finalizer removed, instance gone')
    body = obstest.get(mport, '/metrics')[1]
    body = body.decode() if isinstance(body, bytes) else body
    ok('dbops_instance_healthy{db_instance="pg1"' not in body, 'the instance series are removed')

    # --- alone ----------------------------------------------------------------------------
    api.post(INST, instance('pg2'))
    ok(wait_cond('pg2', 'Ready', 'True', 40), 'a second instance gets Ready')
    api.delete(INST + '/pg2')
    ok(dbptest.wait_until(lambda: get('pg2') is None, 20), 'deleted alone: finalizer removed at once')

    rc = d.stop(15)
    is_(rc, 0, 'SIGTERM: exit 0')
    logs = d.stderr_text()
    ok(pg.password not in logs and WRONG_PW not in logs, 'no password in the logs')
    ok(b64(pg.password) not in logs, 'no base64 password in the logs')
    is_([x for x in logs.splitlines() if not x.startswith('{')], [], 'every log line is JSON')
    if not ok('ERROR: AddressSanitizer' not in logs and 'runtime error' not in logs, 'no sanitizer report'):
        diag(logs[-3000:])
finally:
    d.close()
    fk.close()
    tmp.cleanup()
done_testing()
