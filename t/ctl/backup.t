#!/usr/bin/python3
# The DatabaseBackup controller with volume storage on a real PostgreSQL:
# a backup (zstd, AES-256-GCM) becomes Completed with its path, sizes,
# SHA-256 checksum, format and source; the artefact on the volume is
# exactly what the status says and restores (dbprovctl decode |
# pg_restore) to the same rows. Refusals name what is wrong (a missing
# Database, a claim that is not mounted, a missing storage Secret, a bad
# key). A backup found Running after a restart is marked Failed and
# its partial file removed. ttl expiry deletes the object, and deleting a
# backup deletes its artefact.
import base64
import hashlib
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from pgserver import require_postgres, free_port  # noqa: E402

DBPROVD = dbptest.build_path('src/dbprovd')
CTL = dbptest.build_path('src/dbprovctl')
if not os.path.exists(DBPROVD) or not os.path.exists(CTL):
    skip_all('src/dbprovd or dbprovctl is not built')
require_postgres()
import ctltest  # noqa: E402
import obstest  # noqa: E402

GV = 'dbops.dbprovision.io/v1alpha1'
NS = ctltest.NS
DBS = ctltest.GV + '/namespaces/%s/databases' % NS
BK = ctltest.GV + '/namespaces/%s/databasebackups' % NS

env = ctltest.Env()
api, pg = env.api, env.pg
env.admin_secret()
vroot = env.tmp.join('volumes')
claim = os.path.join(vroot, 'backups')
os.makedirs(claim)
keybytes = os.urandom(32)
env.put_secret('bkey', {'key': keybytes})
env.put_secret('shortkey', {'key': b'too short'})
keyfile = env.tmp.join('key')
with open(keyfile, 'wb') as f:
    f.write(keybytes)
os.chmod(keyfile, 0o600)


mports = []


def daemon():
    mport = free_port()
    mports.append(mport)
    d = dbptest.Proc([DBPROVD, '--kubeconfig', env.kubeconfig, '--log-level', 'debug',
                      '--backup-volume-root', vroot, '--metrics-bind-address', '127.0.0.1:%d' % mport,
                      '--health-probe-bind-address', '0'],
                     env={'PATH': pg.bindir + ':' + os.environ.get('PATH', '')},
                     stderr_path=env.tmp.join('dbprovd-%d.log' % time.time()))
    obstest.wait_port(mport)
    return d


def backup(name, spec):
    s = {'databaseRef': {'name': 'shopdb'}, 'storage': {'type': 'pvc', 'pvc': {'claimName': 'backups',
                                                                             'subPath': 'team'}}}
    s.update(spec)
    return api.post(BK, {'apiVersion': GV, 'kind': 'DatabaseBackup', 'metadata': {'name': name, 'namespace': NS},
                         'spec': s})


def phase_is(name, phases, timeout=60):
    def pred():
        o = env.get(BK + '/' + name)
        return o if (o or {}).get('status', {}).get('phase') in phases else None
    return dbptest.wait_until(pred, timeout, 0.2)


d = daemon()
try:
    ok(dbptest.wait_until(lambda: 'informer synced' in d.stderr_text(), 20), 'dbprovd runs and syncs')
    is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'an instance')
    is_(api.post(DBS, {'apiVersion': GV, 'kind': 'Database', 'metadata': {'name': 'shopdb', 'namespace': NS},
                       'spec': {'instanceRef': {'name': 'pg1'}, 'name': 'shop', 'deletionPolicy': 'Delete',
                                'deletionProtection': False}}).status, 201, 'a Database')
    ok(env.wait_cond(DBS + '/shopdb', 'Ready', 'True', 60), 'the Database is Ready')
    pg.sql("CREATE TABLE items (id int PRIMARY KEY, name text); "
           "INSERT INTO items SELECT i, 'item ' || i || ' ✓' FROM generate_series(1, 5000) i", 'shop')

    # --- a backup --------------------------------------------------------------------
    is_(backup('nightly', {'compression': {'algorithm': 'zstd'},
                           'encryption': {'enabled': True, 'secretRef': {'name': 'bkey', 'key': 'key'}}}).status,
        201, 'a DatabaseBackup (pvc, zstd, aes-256-gcm)')
    o = phase_is('nightly', ('Completed', 'Failed'))
    st = (o or {}).get('status', {})
    if not is_(st.get('phase'), 'Completed', 'Completed'):
        diag(st)
    b = st.get('backup') or {}
    like(b.get('path', ''), r'^team/shop-nightly-\d{8}-\d{6}\.dump\.zst\.enc$', 'status.backup.path: ' + b.get('path', ''))
    f = os.path.join(claim, b.get('path', 'x'))
    ok(os.path.isfile(f), 'the artefact is on the volume at claim/path')
    data = open(f, 'rb').read() if os.path.isfile(f) else b''
    is_(b.get('compressedSizeBytes'), len(data), 'compressedSizeBytes is the stored size')
    is_(b.get('checksum'), 'sha256:' + hashlib.sha256(data).hexdigest(), 'checksum is the SHA-256 of the stored bytes')
    ok((b.get('sizeBytes') or 0) > len(data), 'sizeBytes is the dump size, before compression')
    is_(b.get('format'), 'custom', 'format')
    src = st.get('source') or {}
    ok(src.get('instance') == 'pg1' and src.get('database') == 'shop' and src.get('engine') == 'postgres'
       and src.get('version', '').startswith('15'), 'source: instance, database, engine, version')
    ok(st.get('startedAt') and st.get('completedAt'), 'startedAt and completedAt')
    ok(ctltest.cond(o, 'Ready')['status'] == 'True', 'Ready=True')
    ok(env.events_for('nightly', 'BackupStarted') and env.events_for('nightly', 'BackupCompleted'),
       'events: BackupStarted, BackupCompleted')
    import urllib.request
    metrics = urllib.request.urlopen('http://127.0.0.1:%d/metrics' % mports[-1], timeout=10).read().decode()
    like(metrics, r'dbops_backup_operations_total\{[^}]*status="success"[^}]*\} 1',
         'metrics: dbops_backup_operations_total counts the success')
    like(metrics, r'dbops_backup_size_bytes\{[^}]*database="shop"[^}]*\} %d(\.0+)?\n' % len(data),
         'metrics: dbops_backup_size_bytes is the stored size')
    like(metrics, r'dbops_backup_last_success_timestamp_seconds\{[^}]*database="shop"', 'metrics: last success')
    ok(not [x for x in os.listdir(os.path.join(claim, 'team')) if '.part-' in x], 'no temporary file left')
    pg.sql('CREATE DATABASE restored')
    p1 = subprocess.Popen([CTL, 'decode', '-k', keyfile, f], stdout=subprocess.PIPE)
    p2 = subprocess.run([os.path.join(pg.bindir, 'pg_restore'), '--no-owner', '-h', '127.0.0.1', '-p', str(pg.port),
                         '-U', pg.superuser, '-d', 'restored'], stdin=p1.stdout, capture_output=True,
                        env=dict(os.environ, PGPASSWORD=pg.password))
    p1.stdout.close()
    ok(p1.wait() == 0 and p2.returncode == 0, 'dbprovctl decode | pg_restore')
    is_(pg.value('SELECT count(*) FROM items', 'restored'), '5000', 'the rows come back')

    # --- refusals ------------------------------------------------------------------------
    api.post(BK, {'apiVersion': GV, 'kind': 'DatabaseBackup', 'metadata': {'name': 'nodb', 'namespace': NS},
                  'spec': {'databaseRef': {'name': 'nope'}, 'storage': {'type': 'pvc', 'pvc': {'claimName': 'backups'}}}})
    o = phase_is('nodb', ('Failed',))
    is_(ctltest.cond(o, 'Ready') and ctltest.cond(o, 'Ready')['reason'], 'DatabaseNotFound', 'a missing Database')
    backup('nomount', {'storage': {'type': 'pvc', 'pvc': {'claimName': 'not-mounted'}}})
    o = phase_is('nomount', ('Failed',))
    c = ctltest.cond(o, 'Ready') or {}
    ok(c.get('reason') == 'StorageFailed' and 'not-mounted is not mounted at ' + vroot in c.get('message', ''),
       'a claim that is not mounted: StorageFailed, naming the mount point')
    backup('s3', {'storage': {'type': 's3', 's3': {'bucket': 'b', 'region': 'r', 'secretRef': {'name': 'x'}}}})
    o = phase_is('s3', ('Failed',))
    c = ctltest.cond(o, 'Ready') or {}
    ok(c.get('reason') == 'SecretNotFound' and 'x' in c.get('message', ''),
       'an object store whose credentials Secret is missing: SecretNotFound')
    backup('badkey', {'encryption': {'enabled': True, 'secretRef': {'name': 'shortkey', 'key': 'key'}}})
    o = phase_is('badkey', ('Failed',))
    c = ctltest.cond(o, 'Ready') or {}
    ok(c.get('reason') == 'EncryptionKeyInvalid' and 'exactly 32' in c.get('message', ''),
       'a key that is not 32 bytes: EncryptionKeyInvalid')
    ok('too short' not in d.stderr_text(), 'the key never appears in the log')

    # --- interrupted by a restart ------------------------------------------------------------
    ctltest.stop_and_check(d, [pg.password])
    backup('ghost', {})
    api.patch(BK + '/ghost/status', {'status': {'phase': 'Running', 'message': 'Backup in progress',
                                                'backup': {'path': 'team/shop-ghost-20261206-000000.dump'}}})
    os.makedirs(os.path.join(claim, 'team'), exist_ok=True)
    part = os.path.join(claim, 'team', '.shop-ghost-20261206-000000.dump.part-abc123')
    with open(part, 'wb') as fh:
        fh.write(b'partial')
    d = daemon()
    o = phase_is('ghost', ('Failed', 'Completed'))
    c = ctltest.cond(o, 'Ready') or {}
    ok((o or {}).get('status', {}).get('phase') == 'Failed' and c.get('reason') == 'BackupInterrupted',
       'a Running backup found after a restart: Failed, BackupInterrupted')
    ok(not os.path.exists(part), 'its partial file is removed')

    # --- ttl and deletion ---------------------------------------------------------------------
    backup('short', {'ttl': '3s'})
    o = phase_is('short', ('Completed', 'Failed'))
    st = (o or {}).get('status', {})
    ok(st.get('phase') == 'Completed' and st.get('expiresAt'), 'a backup with a ttl: Completed, expiresAt set')
    sf = os.path.join(claim, (st.get('backup') or {}).get('path', 'x'))
    ok(os.path.isfile(sf), 'its artefact exists')
    ok(dbptest.wait_until(lambda: env.get(BK + '/short') is None, 30), 'it is deleted when it expires')
    ok(not os.path.exists(sf), 'and so is its artefact')
    api.delete(BK + '/nightly')
    ok(dbptest.wait_until(lambda: env.get(BK + '/nightly') is None, 30), 'deleting a backup')
    ok(not os.path.exists(f), 'deletes its artefact')
    for n in ('nodb', 'nomount', 's3', 'badkey', 'ghost'):
        api.delete(BK + '/' + n)
    ok(dbptest.wait_until(lambda: not api.get(BK).json['items'], 30), 'failed backups delete cleanly')
    ctltest.stop_and_check(d, [pg.password])
finally:
    d.close()
    env.close()
done_testing()
