#!/usr/bin/python3
# t/obs/scrape.t: a running dbprovd (against the API stand-in) serves
# /metrics that `promtool check metrics` accepts, with every metric of
# doc/monitoring.md and values that follow what the daemon did; /healthz
# and /readyz (sub-paths, ?verbose, standby readiness with leader
# election); HTTPS for /metrics with a certificate reloaded when the
# files change; --metrics-secure without a certificate (the checks of
# --metrics-secure are tested in metrics-secure.t); a listener that
# cannot bind stops the start with exit 1.
import http.client
import os
import socket
import ssl
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep t/lib free of __pycache__
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
import obstest  # noqa: E402
from obstest import sample  # noqa: E402

if not os.path.exists(obstest.DBPROVD):
    skip_all('src/dbprovd is not built')
HAVE_PROMTOOL = obstest.have('promtool')

BK = obstest.GV + '/namespaces/default/databasebackups'

DBOPS = [
    'dbops_connection_attempts_total', 'dbops_connection_latency_seconds', 'dbops_instance_healthy',
    'dbops_instance_last_health_check_timestamp_seconds', 'dbops_database_operations_total',
    'dbops_database_operation_duration_seconds', 'dbops_database_size_bytes', 'dbops_user_operations_total',
    'dbops_role_operations_total', 'dbops_grant_operations_total', 'dbops_backup_operations_total',
    'dbops_backup_duration_seconds', 'dbops_backup_size_bytes', 'dbops_backup_last_success_timestamp_seconds',
    'dbops_restore_operations_total', 'dbops_restore_duration_seconds', 'dbops_scheduled_backups_total',
    'dbops_schedule_next_backup_timestamp_seconds', 'dbops_resource_count']
FRAMEWORK = [
    'controller_runtime_reconcile_total', 'controller_runtime_reconcile_errors_total',
    'controller_runtime_reconcile_time_seconds', 'controller_runtime_max_concurrent_reconciles',
    'controller_runtime_active_workers', 'workqueue_depth', 'workqueue_adds_total', 'workqueue_retries_total',
    'workqueue_queue_duration_seconds', 'workqueue_work_duration_seconds',
    'workqueue_longest_running_processor_seconds', 'workqueue_unfinished_work_seconds',
    'rest_client_requests_total', 'rest_client_request_duration_seconds', 'process_resident_memory_bytes',
    'process_virtual_memory_bytes', 'process_cpu_seconds_total', 'process_open_fds', 'process_max_fds',
    'process_start_time_seconds', 'dbprovd_informer_lists_total', 'dbprovd_informer_watches_total',
    'dbprovd_informer_relists_expired_total', 'dbprovd_informer_watch_errors_total', 'dbprovd_build_info']
HISTOGRAMS = {'dbops_connection_latency_seconds': 12, 'dbops_database_operation_duration_seconds': 11,
              'dbops_backup_duration_seconds': 10, 'dbops_restore_duration_seconds': 10}


def types_of(text):
    out = {}
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, name, typ = line.split(' ', 3)
            out[name] = typ
    return out


def ready(port):
    try:
        return obstest.get(port, '/readyz')
    except OSError:
        return (0, '')


st = obstest.Stack()
try:
    a, mport, hport = st.daemon('a')
    ok(dbptest.wait_until(lambda: ready(hport)[0] == 200, 20), '/readyz turns 200 once the informers synced')
    is_(obstest.get(hport, '/healthz'), (200, 'ok'), '/healthz: 200 ok')
    is_(obstest.get(hport, '/healthz/healthz'), (200, 'ok'), '/healthz/healthz')
    is_(obstest.get(hport, '/readyz/readyz'), (200, 'ok'), '/readyz/readyz')
    is_(obstest.get(hport, '/readyz?verbose'), (200, '[+]readyz ok\nreadyz check passed\n'), '/readyz?verbose')
    is_(obstest.get(hport, '/metrics')[0], 404, 'no /metrics on the probe port')
    is_(obstest.get(mport, '/healthz')[0], 404, 'no probes on the metrics port')

    with open(dbptest.src_path('t/data/invalid/backup-encryption-without-key.yaml')) as f:
        bad = yaml.safe_load(f)
    is_(st.api.post(BK, bad).status, 201, 'an invalid backup is created')
    ok(dbptest.wait_until(lambda: any(r['method'] == 'PATCH' and r.get('subresource') == 'status'
                                      for r in st.fk.requests()), 15), 'its status is written')
    time.sleep(0.5)

    c = http.client.HTTPConnection('127.0.0.1', mport, timeout=5)
    c.request('GET', '/metrics')
    resp = c.getresponse()
    text = resp.read().decode()
    c.close()
    is_(resp.status, 200, '/metrics: 200')
    is_(resp.getheader('Content-Type'), 'text/plain; version=0.0.4; charset=utf-8', 'text format 0.0.4')
    if HAVE_PROMTOOL:
        good, out = obstest.promtool_check_metrics(text)
        ok(good, 'promtool check metrics accepts the scrape (no finding but the kept name)')
        if out:
            diag(out)
    else:
        ok(True, '# skip promtool is not installed')
    types = types_of(text)
    missing = [n for n in DBOPS + FRAMEWORK if n not in types]
    is_(missing, [], 'every metric is exposed (%d names)' % len(DBOPS + FRAMEWORK))
    for n, nb in HISTOGRAMS.items():
        ok(types.get(n) == 'histogram', '%s is a histogram' % n)
    ok(all(types.get(n) == 'counter' for n in DBOPS + FRAMEWORK if n.endswith('_total')), 'the _total ones are counters')
    s = obstest.parse_samples(text)
    labels = set(k for (_, ls) in s for k, _ in ls)
    ok(not (labels & {'instance', 'namespace', 'job', 'pod'}), 'no label collides with a target label')
    is_(sample(s, 'dbops_resource_count', resource_type='DatabaseBackup', phase='',
               resource_namespace='default'), 1.0, 'dbops_resource_count counts the cached backup')
    ok((sample(s, 'controller_runtime_reconcile_total', controller='databasebackup', result='success') or 0) >= 1,
       'controller_runtime_reconcile_total{result=success} counts the reconcile')
    is_(sample(s, 'controller_runtime_reconcile_total', controller='database', result='error'), 0.0,
        'other series start at zero')
    ok((sample(s, 'workqueue_adds_total', name='databasebackup') or 0) >= 1, 'workqueue_adds_total')
    ok((sample(s, 'workqueue_queue_duration_seconds_count', name='databasebackup') or 0) >= 1,
       'workqueue_queue_duration_seconds observed')
    ok((sample(s, 'controller_runtime_reconcile_time_seconds_count', controller='databasebackup') or 0) >= 1,
       'controller_runtime_reconcile_time_seconds observed')
    is_(sample(s, 'controller_runtime_max_concurrent_reconciles', controller='databasebackup'), 8.0,
        'max concurrent reconciles')
    host = st.fk.url.split('://', 1)[1].rstrip('/')
    ok((sample(s, 'rest_client_requests_total', code='200', method='GET', host=host) or 0) >= 8,
       'rest_client_requests_total{code=200,method=GET} (lists)')
    ok((sample(s, 'rest_client_requests_total', code='200', method='PATCH', host=host) or 0) >= 1,
       'rest_client_requests_total{method=PATCH} (status)')
    ok((sample(s, 'rest_client_request_duration_seconds_count', verb='GET', host=host) or 0) >= 8,
       'rest_client_request_duration_seconds by verb')
    is_(sample(s, 'dbprovd_informer_synced', name='databasebackup'), 1.0, 'informer synced')
    ok((sample(s, 'dbprovd_informer_lists_total', name='database') or 0) >= 1, 'informer lists counted')
    ok((sample(s, 'process_resident_memory_bytes') or 0) > 1e6, 'process_resident_memory_bytes')
    st0 = sample(s, 'process_start_time_seconds') or 0
    ok(time.time() - 120 < st0 <= time.time() + 1, 'process_start_time_seconds is the start time')
    ok((sample(s, 'process_open_fds') or 0) > 3 and (sample(s, 'process_max_fds') or 0) >= 1024, 'fds')
    ok((sample(s, 'dbops_connection_attempts_total') is None), 'database metrics wait for their controllers')

    # Leader election: one leader, one standby; both ready.
    le = ['--leader-elect', '--leader-election-namespace', 'default']
    b, bm, bh = st.daemon('b', le)
    ok(dbptest.wait_until(lambda: 'started leading' in b.stderr_text(), 20), 'b leads')
    c2, cm, ch = st.daemon('c', le)
    ok(dbptest.wait_until(lambda: 'waiting for leadership' in c2.stderr_text(), 10), 'c stands by')
    ok(dbptest.wait_until(lambda: ready(ch)[0] == 200, 15), 'the standby is ready (it hears from the API server)')
    ok(dbptest.wait_until(lambda: ready(bh)[0] == 200, 15), 'the leader is ready once synced')
    sb = obstest.parse_samples(obstest.scrape(bm)[1])
    sc = obstest.parse_samples(obstest.scrape(cm)[1])
    is_(sample(sb, 'leader_election_master_status', name='b0f91929.dbprovision.io'), 1.0, 'leader: master status 1')
    is_(sample(sc, 'leader_election_master_status', name='b0f91929.dbprovision.io'), 0.0, 'standby: master status 0')
    ok(sample(sc, 'dbops_resource_count', resource_type='DatabaseBackup', phase='',
              resource_namespace='default') is None, 'the standby has no caches to count')
    c2.stop(10)
    b.stop(10)

    # HTTPS with a certificate from files, reloaded when they change.
    certs = st.tmp.join('certs')
    obstest.gen_cert(certs)
    t, tm, th = st.daemon('t', ['--metrics-cert-path', certs])
    ctx = obstest.tls_context(os.path.join(certs, 'ca.crt'))
    ctx.set_alpn_protocols(['h2', 'http/1.1'])
    status, body = obstest.get(tm, '/metrics', tls_ctx=ctx)
    ok(status == 200 and '# TYPE dbops_resource_count gauge' in body, 'HTTPS /metrics, certificate verified')
    with socket.create_connection(('127.0.0.1', tm)) as raw_sock:
        with ctx.wrap_socket(raw_sock, server_hostname='127.0.0.1') as tls:
            is_(tls.selected_alpn_protocol(), 'http/1.1', 'ALPN offers http/1.1 only')
            ok(tls.version() in ('TLSv1.2', 'TLSv1.3'), 'TLS 1.2 or later (%s)' % tls.version())
    try:
        plain = obstest.get(tm, '/metrics', timeout=3)[0]
    except Exception:
        plain = 'refused'
    ok(plain != 200, 'no plain HTTP on the TLS port')
    old_ca = os.path.join(certs, 'old-ca.crt')
    os.replace(os.path.join(certs, 'ca.crt'), old_ca)
    obstest.gen_cert(certs)
    new_ctx = obstest.tls_context(os.path.join(certs, 'ca.crt'))

    def served_by_new():
        try:
            return obstest.get(tm, '/metrics', tls_ctx=new_ctx)[0] == 200
        except (ssl.SSLError, OSError):
            return False
    ok(dbptest.wait_until(served_by_new, 25, 0.5), 'a renewed certificate is served without a restart')
    try:
        obstest.get(tm, '/metrics', tls_ctx=obstest.tls_context(old_ca))
        ok(False, 'the old certificate is gone')
    except ssl.SSLError:
        ok(True, 'the old certificate is gone')
    sm = obstest.parse_samples(obstest.get(tm, '/metrics', tls_ctx=new_ctx)[1])
    ok((sample(sm, 'dbprovd_http_tls_reloads_total', server='metrics') or 0) >= 1, 'reload counted')
    like(t.stderr_text(), r'"msg":"TLS certificate reloaded"', 'reload logged')
    t.stop(10)

    # --metrics-secure without a certificate: plain HTTP, still checked, and a warning.
    u, um, uh = st.daemon('u', ['--metrics-secure=true'])
    is_(obstest.get(um, '/metrics')[0], 401, '--metrics-secure without a cert path: plain HTTP, token required')
    like(u.stderr_text(), r'"level":"warn","msg":"--metrics-secure without --metrics-cert-path.*unencrypted',
         'and a warning says tokens cross the network unencrypted')
    u.stop(10)

    # A listener that cannot bind: exit 1 with a clear message.
    busy = socket.socket()
    busy.bind(('127.0.0.1', 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    p = dbptest.Proc([obstest.DBPROVD, '--kubeconfig', st.kc, '--metrics-bind-address', '127.0.0.1:%d' % port,
                      '--health-probe-bind-address', '0'], stderr_path=st.tmp.join('busy.log'))
    is_(p.wait(10), 1, 'address in use: exit 1')
    like(p.stderr_text(), r'cannot serve metrics and probes.*127\.0\.0\.1:%d.*in use' % port,
         'the message names the address and the reason')
    p.close()
    busy.close()
    p = dbptest.Proc([obstest.DBPROVD, '--kubeconfig', st.kc, '--metrics-bind-address', '127.0.0.1:0',
                      '--metrics-cert-path', st.tmp.join('nowhere')], stderr_path=st.tmp.join('nocert.log'))
    is_(p.wait(10), 1, 'missing certificate: exit 1')
    like(p.stderr_text(), r'cannot load certificate .*nowhere/tls\.crt', 'the message names the file')
    p.close()

    rc = a.stop(10)
    is_(rc, 0, 'SIGTERM: exit 0')
    ok(not [x for x in a.stderr_text().splitlines() if not x.startswith('{')], 'every log line is JSON')
finally:
    st.close()
done_testing()
