#!/usr/bin/python3
# t/obs/rules.t: the PrometheusRule of deploy/prometheus/rules.yaml:
# `promtool check rules` on its spec.groups, every alert of the original
# operator present with its severity, only the renamed labels in use, and
# `promtool test rules` with t/obs/rules-test.yml, where each alert has a
# case where it fires and one where it does not.
import os
import shutil
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep t/lib free of __pycache__
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402

if shutil.which('promtool') is None:
    skip_all('promtool is not installed (Debian package prometheus)')

ALERTS = {
    'DatabaseInstanceUnhealthy': ('critical', '5m'),
    'DatabaseInstanceConnectionFailures': ('warning', '10m'),
    'DatabaseInstanceHighConnectionLatency': ('warning', '5m'),
    'DatabaseBackupFailed': ('critical', None),
    'DatabaseBackupStale': ('warning', '1h'),
    'DatabaseBackupSlow': ('warning', None),
    'DatabaseRestoreFailed': ('critical', None),
    'DatabaseOperationFailures': ('warning', '10m'),
    'UserOperationFailures': ('warning', '10m'),
}
RECORDS = ['dbops:connection_success_rate:5m', 'dbops:backup_success_rate:1h',
           'dbops:database_operation_success_rate:5m']

with open(dbptest.src_path('deploy/prometheus/rules.yaml')) as f:
    pr = yaml.safe_load(f)
is_(pr['apiVersion'], 'monitoring.coreos.com/v1', 'a monitoring.coreos.com/v1 object')
is_(pr['kind'], 'PrometheusRule', 'a PrometheusRule')
groups = pr['spec']['groups']

tmp = dbptest.TempDir(prefix='dbprovd-rules-')
try:
    with open(tmp.join('rules.yml'), 'w') as f:
        yaml.safe_dump({'groups': groups}, f)
    r = subprocess.run(['promtool', 'check', 'rules', tmp.join('rules.yml')],
                       capture_output=True, text=True)
    ok(r.returncode == 0, 'promtool check rules')
    if r.returncode:
        diag(r.stdout + r.stderr)

    rules = [x for g in groups for x in g['rules']]
    alerts = {x['alert']: x for x in rules if 'alert' in x}
    is_(sorted(alerts), sorted(ALERTS), 'every alert of the original, no other')
    for name, (sev, dur) in sorted(ALERTS.items()):
        a = alerts.get(name, {})
        ok(a.get('labels', {}).get('severity') == sev and a.get('for') == dur,
           '%s: severity %s, for %s' % (name, sev, dur or '0'))
        text = a.get('expr', '') + ' '.join((a.get('annotations') or {}).values())
        ok('$labels.instance' not in text and '$labels.namespace' not in text and
           'exported_' not in text, '%s: speaks of db_instance/resource_namespace, not target labels' % name)
        ok(a.get('annotations', {}).get('summary') and a.get('annotations', {}).get('description'),
           '%s: summary and description' % name)
    is_(sorted(x['record'] for x in rules if 'record' in x), sorted(RECORDS), 'the three recording rules')

    shutil.copy(os.path.join(HERE, 'rules-test.yml'), tmp.join('rules-test.yml'))
    with open(tmp.join('rules-test.yml')) as f:
        tests = yaml.safe_load(f)
    fires, quiet = set(), set()
    for t in tests['tests']:
        for c in t.get('alert_rule_test', []):
            (fires if c.get('exp_alerts') else quiet).add(c['alertname'])
    is_(sorted(fires), sorted(ALERTS), 'each alert has a test where it fires')
    is_(sorted(quiet), sorted(ALERTS), 'each alert has a test where it does not')
    r = subprocess.run(['promtool', 'test', 'rules', 'rules-test.yml'], cwd=tmp.path,
                       capture_output=True, text=True)
    ok(r.returncode == 0, 'promtool test rules t/obs/rules-test.yml')
    if r.returncode:
        diag(r.stdout + r.stderr)
finally:
    tmp.cleanup()
done_testing()
