#!/usr/bin/python3
# A DatabaseBackup to Azure Blob Storage (azurite, Shared Key checked,
# the credentials a connection string in a Secret): Completed, the blob
# under exactly status.backup.path, its bytes those the checksum names,
# read back by Microsoft's own client and restored by dbprovctl decode |
# pg_restore; a wrong account key fails with the service's error code and
# leaves no blob; deleting the backup deletes the blob.
import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from pgserver import require_postgres, free_port  # noqa: E402

DBPROVD = dbptest.build_path('src/dbprovd')
CTL = dbptest.build_path('src/dbprovctl')
NODE_DIR = '/opt/dbprovd-node/node_modules'
AZURITE = os.path.join(NODE_DIR, '.bin', 'azurite-blob')
NODE = shutil.which('node')
if not os.path.exists(DBPROVD) or not os.path.exists(CTL):
    skip_all('src/dbprovd or dbprovctl is not built')
if not NODE or not os.path.exists(AZURITE):
    skip_all('azurite is not installed in %s (tools/install-deps installs it)' % NODE_DIR)
require_postgres()
import ctltest  # noqa: E402
import obstest  # noqa: E402

GV = 'dbops.dbprovision.io/v1alpha1'
NS = ctltest.NS
DBS = ctltest.GV + '/namespaces/%s/databases' % NS
BK = ctltest.GV + '/namespaces/%s/databasebackups' % NS
ACCOUNT = 'acct'
KEY = base64.b64encode(os.urandom(64)).decode()

env = ctltest.Env()
api, pg = env.api, env.pg
port = free_port()
ENDPOINT = 'http://127.0.0.1:%d/%s' % (port, ACCOUNT)
os.makedirs(env.tmp.join('azurite'))
azurite = dbptest.Proc([AZURITE, '--blobHost', '127.0.0.1', '--blobPort', str(port), '--location',
                        env.tmp.join('azurite'), '--disableTelemetry', '--silent'],
                       env={'AZURITE_ACCOUNTS': '%s:%s' % (ACCOUNT, KEY)}, stderr_path=env.tmp.join('azurite.err'))

NODE_SCRIPT = r'''
const sb = require('@azure/storage-blob');
const [, , cmd, endpoint, container, name] = process.argv;
const svc = new sb.BlobServiceClient(endpoint,
  new sb.StorageSharedKeyCredential(process.env.AZ_ACCOUNT, process.env.AZ_KEY));
const c = svc.getContainerClient(container);
(async () => {
  if (cmd === 'mkcontainer') { await c.createIfNotExists(); console.log(JSON.stringify({ ok: true })); }
  else if (cmd === 'get') {
    const b = await c.getBlobClient(name).downloadToBuffer();
    console.log(JSON.stringify({ b64: b.toString('base64') }));
  } else if (cmd === 'exists') { console.log(JSON.stringify({ exists: await c.getBlobClient(name).exists() })); }
  else if (cmd === 'list') {
    const names = []; for await (const b of c.listBlobsFlat()) names.push(b.name);
    console.log(JSON.stringify({ names }));
  }
})().catch((e) => { console.log(JSON.stringify({ error: String(e) })); process.exit(1); });
'''
node_js = env.tmp.join('az.js')
with open(node_js, 'w') as f:
    f.write(NODE_SCRIPT)


def node(*args):
    p = subprocess.run([NODE, node_js, args[0], ENDPOINT, 'backups'] + list(args[1:]), capture_output=True, text=True,
                       env=dict(os.environ, NODE_PATH=NODE_DIR, AZ_ACCOUNT=ACCOUNT, AZ_KEY=KEY), timeout=60)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        diag('node: %s %s' % (p.stdout, p.stderr))
        return {}


def listening():
    try:
        socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
        return True
    except OSError:
        return False


d = None
try:
    ok(dbptest.wait_until(listening, 30), 'azurite runs')
    ok(node('mkcontainer').get('ok'), 'a container, made by Microsoft\'s client')
    env.admin_secret()
    conn = 'DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;' % (ACCOUNT, KEY, ENDPOINT)
    env.put_secret('az', {'AZURE_STORAGE_CONNECTION_STRING': conn})
    bad = base64.b64encode(os.urandom(64)).decode()
    env.put_secret('az-wrong', {'AZURE_STORAGE_CONNECTION_STRING': conn.replace(KEY, bad)})
    keybytes = os.urandom(32)
    env.put_secret('bkey', {'key': keybytes})
    keyfile = env.tmp.join('key')
    with open(keyfile, 'wb') as f:
        f.write(keybytes)
    os.chmod(keyfile, 0o600)
    mport = free_port()
    d = dbptest.Proc([DBPROVD, '--kubeconfig', env.kubeconfig, '--log-level', 'debug',
                      '--metrics-bind-address', '127.0.0.1:%d' % mport, '--health-probe-bind-address', '0'],
                     env={'PATH': pg.bindir + ':' + os.environ.get('PATH', '')},
                     stderr_path=env.tmp.join('dbprovd.log'))
    obstest.wait_port(mport)
    is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'an instance')
    api.post(DBS, {'apiVersion': GV, 'kind': 'Database', 'metadata': {'name': 'shopdb', 'namespace': NS},
                   'spec': {'instanceRef': {'name': 'pg1'}, 'name': 'shop', 'deletionPolicy': 'Delete',
                            'deletionProtection': False}})
    ok(env.wait_cond(DBS + '/shopdb', 'Ready', 'True', 60), 'a Database, Ready')
    pg.sql("CREATE TABLE items (id int PRIMARY KEY, v text); "
           "INSERT INTO items SELECT i, md5(i::text) FROM generate_series(1, 30000) i", 'shop')

    def backup(name, secret):
        return api.post(BK, {'apiVersion': GV, 'kind': 'DatabaseBackup', 'metadata': {'name': name, 'namespace': NS},
                             'spec': {'databaseRef': {'name': 'shopdb'},
                                      'storage': {'type': 'azure', 'azure': {'container': 'backups',
                                                                            'storageAccount': ACCOUNT,
                                                                            'prefix': 'prod',
                                                                            'secretRef': {'name': secret}}},
                                      'compression': {'algorithm': 'lz4'},
                                      'encryption': {'enabled': True, 'secretRef': {'name': 'bkey', 'key': 'key'}}}})

    def final(name):
        return dbptest.wait_until(lambda: (env.get(BK + '/' + name) or {}).get('status', {}).get('phase')
                                  in ('Completed', 'Failed') and env.get(BK + '/' + name), 90, 0.3)

    is_(backup('az1', 'az').status, 201, 'a DatabaseBackup to Azure')
    o = final('az1')
    st = (o or {}).get('status', {})
    if not is_(st.get('phase'), 'Completed', 'Completed'):
        diag(st)
    path = (st.get('backup') or {}).get('path', '')
    like(path, r'^prod/shop-az1-\d{8}-\d{6}\.dump\.lz4\.enc$', 'the blob name is status.backup.path: ' + path)
    got = node('get', path)
    data = base64.b64decode(got.get('b64', ''))
    ok(data and (st.get('backup') or {}).get('checksum') == 'sha256:' + hashlib.sha256(data).hexdigest(),
       'Microsoft\'s client reads the blob; its SHA-256 is the checksum in the status')
    is_((st.get('backup') or {}).get('compressedSizeBytes'), len(data), 'compressedSizeBytes is its size')
    art = env.tmp.join('art')
    with open(art, 'wb') as f:
        f.write(data)
    pg.sql('CREATE DATABASE restored')
    p1 = subprocess.Popen([CTL, 'decode', '-k', keyfile, art], stdout=subprocess.PIPE)
    p2 = subprocess.run([os.path.join(pg.bindir, 'pg_restore'), '--no-owner', '-h', '127.0.0.1', '-p', str(pg.port),
                         '-U', pg.superuser, '-d', 'restored'], stdin=p1.stdout, capture_output=True,
                        env=dict(os.environ, PGPASSWORD=pg.password))
    p1.stdout.close()
    ok(p1.wait() == 0 and p2.returncode == 0, 'dbprovctl decode | pg_restore')
    is_(pg.value('SELECT count(*) FROM items', 'restored'), '30000', 'the rows come back')

    is_(backup('az-bad', 'az-wrong').status, 201, 'a backup with a wrong account key')
    o = final('az-bad')
    c = ctltest.cond(o, 'Ready') or {}
    ok((o or {}).get('status', {}).get('phase') == 'Failed' and 'Azure' in c.get('message', ''),
       'Failed with the service\'s error: ' + c.get('message', ''))
    names = node('list').get('names', [])
    ok(not [n for n in names if 'az-bad' in n], 'and no blob')
    api.delete(BK + '/az1')
    ok(dbptest.wait_until(lambda: env.get(BK + '/az1') is None, 30), 'the backup is deleted')
    is_(node('exists', path).get('exists'), False, 'and so is its blob')
    api.delete(BK + '/az-bad')
    ok(dbptest.wait_until(lambda: env.get(BK + '/az-bad') is None, 30), 'a failed one deletes too')
    logs = d.stderr_text()
    ok(KEY not in logs and bad not in logs, 'no account key in the log')
    ctltest.stop_and_check(d, [pg.password])
finally:
    if d:
        d.close()
    azurite.stop()
    azurite.close()
    env.close()
done_testing()
