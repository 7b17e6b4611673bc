#!/usr/bin/python3
# dbprovd under valgrind (memcheck) through a scenario that exercises most
# of its code: leader election, informers (list, watch, a dropped watch, a
# compaction and 410 relist, an API server restart), the validation
# controller writing status and events, /metrics and the probes, and a
# clean SIGTERM shutdown. Needs a build without sanitizers
# (tools/run-tests makes one in _release/ and runs this directory).
import os
import sys
import time
import urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from fakekube import FakeKube  # noqa: E402

import vgtest  # noqa: E402
vgtest.require()

BK = '/apis/dbops.dbprovision.io/v1alpha1/namespaces/default/databasebackups'
tmp = dbptest.TempDir()
fk = FakeKube(tls=True, token='vg-token', crd_dir=dbptest.src_path('crd'), bookmark_interval=1).start()
kc = tmp.join('kubeconfig')
fk.write_kubeconfig(kc)
vglog = tmp.join('valgrind.log')
mport, hport = dbptest.free_port(), dbptest.free_port()
with open(dbptest.src_path('t/data/invalid/backup-encryption-without-key.yaml')) as f:
    bad = yaml.safe_load(f)


def ready(name):
    r = fk.client().get(BK + '/' + name)
    conds = (r.json.get('status') or {}).get('conditions') or [] if r.status == 200 else []
    return any(c['type'] == 'Ready' and c['reason'] == 'InvalidSpec' for c in conds)


try:
    p = vgtest.start(vglog, ['--kubeconfig', kc, '--leader-elect', '--leader-election-namespace', 'default',
                             '--metrics-bind-address', '127.0.0.1:%d' % mport,
                             '--health-probe-bind-address', '127.0.0.1:%d' % hport],
                     tmp.join('dbprovd.log'))
    ok(dbptest.wait_until(lambda: 'started leading' in p.stderr_text(), 60), 'leads under valgrind')
    fk.client().post(BK, bad)
    ok(dbptest.wait_until(lambda: ready('no-key'), 60), 'invalid backup reconciled')
    fk.drop_watches()
    fk.compact()
    bad['metadata']['name'] = 'no-key-2'
    fk.client().post(BK, bad)
    ok(dbptest.wait_until(lambda: ready('no-key-2'), 60), 'reconciled after a dropped watch and a 410')
    fk.restart(downtime=1.0)
    bad['metadata']['name'] = 'no-key-3'
    fk.client().post(BK, bad)
    ok(dbptest.wait_until(lambda: ready('no-key-3'), 90), 'reconciled after an API server restart')
    body = urllib.request.urlopen('http://127.0.0.1:%d/metrics' % mport, timeout=30).read().decode()
    ok('controller_runtime_reconcile_total' in body, '/metrics answers')
    is_(urllib.request.urlopen('http://127.0.0.1:%d/healthz' % hport, timeout=30).read(), b'ok', '/healthz answers')
    vgtest.finish(p, vglog, 60)
    p.close()
finally:
    fk.close()
    tmp.cleanup()
done_testing()
