#!/usr/bin/python3
# t/obs/prometheus.t: a real Prometheus (Debian package) scrapes a running
# dbprovd on loopback every second, with the alerting and recording rules
# of deploy/prometheus/rules.yaml loaded; its query API returns dbprovd's
# metrics with the scrape's own target labels intact (no exported_*
# labels: the renamed labels do not collide).
import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep t/lib free of __pycache__
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
import obstest  # noqa: E402

if not os.path.exists(obstest.DBPROVD):
    skip_all('src/dbprovd is not built')
if not obstest.have('prometheus'):
    skip_all('prometheus is not installed (Debian package prometheus)')


def api(port, path, **params):
    url = 'http://127.0.0.1:%d%s' % (port, path)
    if params:
        url += '?' + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read().decode())
    except (OSError, ValueError):
        return None


def query(port, q):
    r = api(port, '/api/v1/query', query=q)
    return r['data']['result'] if r and r.get('status') == 'success' else None


st = obstest.Stack()
prom = None
try:
    d, mport, hport = st.daemon('p')
    ok(dbptest.wait_until(lambda: obstest.get(hport, '/readyz')[0] == 200, 20), 'dbprovd is ready')
    with open(dbptest.src_path('t/data/invalid/backup-encryption-without-key.yaml')) as f:
        st.api.post(obstest.GV + '/namespaces/default/databasebackups', yaml.safe_load(f))

    with open(dbptest.src_path('deploy/prometheus/rules.yaml')) as f:
        groups = yaml.safe_load(f)['spec']['groups']
    with open(st.tmp.join('rules.yml'), 'w') as f:
        yaml.safe_dump({'groups': groups}, f)
    pport = obstest.free_port()
    with open(st.tmp.join('prometheus.yml'), 'w') as f:
        yaml.safe_dump({
            'global': {'scrape_interval': '1s', 'evaluation_interval': '1s', 'scrape_timeout': '1s'},
            'rule_files': [st.tmp.join('rules.yml')],
            'scrape_configs': [{'job_name': 'dbprovd',
                                'static_configs': [{'targets': ['127.0.0.1:%d' % mport]}]}],
        }, f)
    prom = subprocess.Popen(['prometheus', '--config.file', st.tmp.join('prometheus.yml'),
                             '--storage.tsdb.path', st.tmp.join('tsdb'),
                             '--web.listen-address', '127.0.0.1:%d' % pport, '--log.level', 'warn'],
                            stdout=subprocess.DEVNULL, stderr=open(st.tmp.join('prometheus.log'), 'wb'))
    ok(dbptest.wait_until(lambda: api(pport, '/api/v1/status/buildinfo') is not None, 30, 0.2),
       'prometheus started')

    def up():
        r = query(pport, 'up{job="dbprovd"}')
        return r and r[0]['value'][1] == '1'
    ok(dbptest.wait_until(up, 30, 0.5), 'the dbprovd target is up')
    t = api(pport, '/api/v1/targets')
    tg = [x for x in (t or {}).get('data', {}).get('activeTargets', []) if x['labels'].get('job') == 'dbprovd']
    ok(tg and tg[0]['health'] == 'up' and tg[0]['lastError'] == '', 'scrapes succeed without error')

    r = dbptest.wait_until(lambda: query(pport, 'dbprovd_build_info'), 10, 0.5)
    ok(r and r[0]['metric'].get('version') and r[0]['value'][1] == '1', 'dbprovd_build_info queried')
    r = dbptest.wait_until(lambda: query(pport, 'dbops_resource_count{resource_type="DatabaseBackup"}'), 10, 0.5)
    ok(r and r[0]['metric'].get('resource_namespace') == 'default' and
       r[0]['metric'].get('instance') == '127.0.0.1:%d' % mport and r[0]['value'][1] == '1',
       'dbops_resource_count: resource_namespace kept, instance is the target')
    r = query(pport, 'sum(controller_runtime_reconcile_total{controller="databasebackup"})')
    ok(r and float(r[0]['value'][1]) >= 1, 'controller_runtime_reconcile_total queried')
    r = query(pport, 'rate(process_cpu_seconds_total[1m])')
    ok(r is not None, 'rate() over a dbprovd counter')
    r = query(pport, 'count({job="dbprovd", exported_instance!=""}) or count({job="dbprovd", exported_namespace!=""})'
              ' or count({job="dbprovd", exported_job!=""})')
    is_(r, [], 'no exported_* labels: nothing collides with the target labels')
    rules = api(pport, '/api/v1/rules')
    names = [x.get('name') for g in (rules or {}).get('data', {}).get('groups', []) for x in g['rules']]
    is_(len(names), 12, 'the 9 alerts and 3 records of deploy/ are loaded')
    is_(query(pport, 'ALERTS'), [], 'no alert fires for a healthy dbprovd')
finally:
    if prom:
        prom.terminate()
        try:
            prom.wait(10)
        except subprocess.TimeoutExpired:
            prom.kill()
    st.close()
done_testing()
