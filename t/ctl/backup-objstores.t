#!/usr/bin/python3
# DatabaseBackups to S3 (moto, signatures checked) and to Google Cloud
# Storage (the GCS stand-in, JWTs checked): each Completed, the object
# under exactly status.backup.path with the bytes the checksum names
# (read back with boto3 / the stand-in's store), restorable with dbprovctl
# decode | pg_restore; wrong credentials fail with the service's error and
# leave neither an object nor an unfinished upload; deleting the backup
# deletes the object.
import hashlib
import os
import subprocess
import sys

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
import s3moto  # noqa: E402
import fakegcs  # noqa: E402

PY = s3moto.moto_python()
if PY is None:
    skip_all('no python3 on PATH can import moto.server')

GV = 'dbops.dbprovision.io/v1alpha1'
NS = ctltest.NS
DBS = ctltest.GV + '/namespaces/%s/databases' % NS
BK = ctltest.GV + '/namespaces/%s/databasebackups' % NS
REGION = 'eu-west-1'

env = ctltest.Env()
api, pg = env.api, env.pg
moto = s3moto.Moto(PY, env.tmp.path)
fake = fakegcs.FakeGCS(buckets=['gbkt']).start()
d = None
try:
    ok(moto.wait(60), 'moto runs')
    moto.setup(REGION)
    s3 = moto.client()
    s3.create_bucket(Bucket='bkt', CreateBucketConfiguration={'LocationConstraint': REGION})
    sa_path, pub, kid, _ = fakegcs.make_service_account(env.tmp.path, fake.token_uri, 'bk@p.iam.gserviceaccount.com')
    fake.add_account('bk@p.iam.gserviceaccount.com', pub, kid)
    wrong_sa = fakegcs.make_service_account(env.tmp.path, fake.token_uri, 'bk@p.iam.gserviceaccount.com',
                                            name='wrong')[0]
    env.admin_secret()
    env.put_secret('s3creds', {'AWS_ACCESS_KEY_ID': moto.akid, 'AWS_SECRET_ACCESS_KEY': moto.secret})
    env.put_secret('s3wrong', {'AWS_ACCESS_KEY_ID': moto.akid, 'AWS_SECRET_ACCESS_KEY': 'not-the-secret-' + 'x' * 20})
    env.put_secret('gcs', {'sa.json': open(sa_path).read()})
    env.put_secret('gcswrong', {'sa.json': open(wrong_sa).read()})
    keybytes = os.urandom(32)
    env.put_secret('bkey', {'key': keybytes})
    keyfile = env.tmp.join('key')
    with open(keyfile, 'wb') as f:
        f.write(keybytes)
    os.chmod(keyfile, 0o600)
    mport = free_port()
    d = dbptest.Proc([DBPROVD, '--kubeconfig', env.kubeconfig, '--log-level', 'debug',
                      '--metrics-bind-address', '127.0.0.1:%d' % mport, '--health-probe-bind-address', '0'],
                     env={'PATH': pg.bindir + ':' + os.environ.get('PATH', ''), 'STORAGE_EMULATOR_HOST': fake.url},
                     stderr_path=env.tmp.join('dbprovd.log'))
    obstest.wait_port(mport)
    is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'an instance')
    api.post(DBS, {'apiVersion': GV, 'kind': 'Database', 'metadata': {'name': 'shopdb', 'namespace': NS},
                   'spec': {'instanceRef': {'name': 'pg1'}, 'name': 'shop', 'deletionPolicy': 'Delete',
                            'deletionProtection': False}})
    ok(env.wait_cond(DBS + '/shopdb', 'Ready', 'True', 60), 'a Database, Ready')
    # Big enough for several parts of either store.
    pg.sql("CREATE TABLE items (id int PRIMARY KEY, v text); "
           "INSERT INTO items SELECT i, md5(i::text) || repeat(md5((i * 7)::text), 8) "
           "FROM generate_series(1, 60000) i", 'shop')

    def storage(kind, secret):
        if kind == 's3':
            return {'type': 's3', 's3': {'bucket': 'bkt', 'region': REGION, 'endpoint': moto.url,
                                         'forcePathStyle': True, 'prefix': 'prod',
                                         'secretRef': {'name': secret}}}
        return {'type': 'gcs', 'gcs': {'bucket': 'gbkt', 'prefix': 'prod',
                                       'secretRef': {'name': secret, 'key': 'sa.json'}}}

    def backup(name, kind, secret):
        return api.post(BK, {'apiVersion': GV, 'kind': 'DatabaseBackup', 'metadata': {'name': name, 'namespace': NS},
                             'spec': {'databaseRef': {'name': 'shopdb'}, 'storage': storage(kind, secret),
                                      'encryption': {'enabled': True, 'secretRef': {'name': 'bkey', 'key': 'key'}}}})

    def final(name):
        return dbptest.wait_until(lambda: (env.get(BK + '/' + name) or {}).get('status', {}).get('phase')
                                  in ('Completed', 'Failed') and env.get(BK + '/' + name), 120, 0.3)

    def fetch(kind, key):
        if kind == 's3':
            try:
                return s3.get_object(Bucket='bkt', Key=key)['Body'].read()
            except Exception:  # noqa: BLE001
                return None
        return fake.object_data('gbkt', key)

    for kind in ('s3', 'gcs'):
        name = kind + '1'
        is_(backup(name, kind, 's3creds' if kind == 's3' else 'gcs').status, 201, '%s: a DatabaseBackup' % kind)
        o = final(name)
        st = (o or {}).get('status', {})
        if not is_(st.get('phase'), 'Completed', '%s: Completed' % kind):
            diag(st)
            diag(d.stderr_text()[-2000:])
        path = (st.get('backup') or {}).get('path', '')
        like(path, r'^prod/shop-%s-\d{8}-\d{6}\.dump\.enc$' % name, '%s: the key is status.backup.path' % kind)
        data = fetch(kind, path) or b''
        ok(data and (st.get('backup') or {}).get('checksum') == 'sha256:' + hashlib.sha256(data).hexdigest(),
           '%s: the object\'s SHA-256 is the checksum in the status (%d bytes)' % (kind, len(data)))
        art = env.tmp.join(name + '.art')
        with open(art, 'wb') as f:
            f.write(data)
        target = 'restored_' + kind
        pg.sql('CREATE DATABASE ' + target)
        p1 = subprocess.Popen([CTL, 'decode', '-k', keyfile, art], stdout=subprocess.PIPE)
        p2 = subprocess.run([os.path.join(pg.bindir, 'pg_restore'), '--no-owner', '-h', '127.0.0.1', '-p',
                             str(pg.port), '-U', pg.superuser, '-d', target], stdin=p1.stdout, capture_output=True,
                            env=dict(os.environ, PGPASSWORD=pg.password))
        p1.stdout.close()
        ok(p1.wait() == 0 and p2.returncode == 0, '%s: dbprovctl decode | pg_restore' % kind)
        is_(pg.value('SELECT count(*) FROM items', target), '60000', '%s: the rows come back' % kind)

        bad = kind + '-bad'
        backup(bad, kind, 's3wrong' if kind == 's3' else 'gcswrong')
        o = final(bad)
        c = ctltest.cond(o, 'Ready') or {}
        ok((o or {}).get('status', {}).get('phase') == 'Failed' and kind.upper() in c.get('message', '').upper(),
           '%s: wrong credentials fail with the service\'s error: %s' % (kind, c.get('message', '')))
        if kind == 's3':
            ok(not s3.list_multipart_uploads(Bucket='bkt').get('Uploads'), 's3: no unfinished multipart upload')
            ok(not [k for k in s3.list_objects_v2(Bucket='bkt').get('Contents', []) if bad in k['Key']],
               's3: no object of the failed backup')
        else:
            ok(not [n for n in fake.object_names('gbkt') if bad in n] and not fake.live_sessions(),
               'gcs: no object and no open session of the failed backup')

        api.delete(BK + '/' + name)
        ok(dbptest.wait_until(lambda: env.get(BK + '/' + name) is None, 30), '%s: the backup is deleted' % kind)
        ok(fetch(kind, path) is None, '%s: and so is its object' % kind)
        api.delete(BK + '/' + bad)
        ok(dbptest.wait_until(lambda: env.get(BK + '/' + bad) is None, 30), '%s: a failed one deletes too' % kind)
    logs = d.stderr_text()
    ok(moto.secret not in logs and 'BEGIN PRIVATE KEY' not in logs, 'no secret in the log')
    ctltest.stop_and_check(d, [pg.password, moto.secret])
finally:
    if d:
        d.close()
    moto.stop()
    fake.stop()
    env.close()
done_testing()
