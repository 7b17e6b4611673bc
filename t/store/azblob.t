#!/usr/bin/python3
# The Azure Blob client (src/azblob.c, through t/drv/azblobdrv) against
# Azurite on loopback with an account of its own (the published
# development account is off): a small artefact in one Put Blob, a large
# one in blocks written in random-sized chunks, byte-exact reads both
# ways with the Azure SDK for JavaScript as the independent client, the
# blob's MD5 property, a read from an offset, a read paused by its
# consumer, a connection cut in the middle of a read resumes, a 503 and a
# cut in the middle of an upload are retried, listing over many pages,
# delete twice, an aborted upload leaves no blob (only uncommitted blocks,
# which the next commit drops), a wrong key is refused with the service's
# error, a SAS token and a connection string work, and no secret appears
# in any output, curl's debug trace included. With a driver built without
# sanitizers and valgrind present: one put and one get under memcheck.
import base64
import hashlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402

NODE_DIR = '/opt/dbprovd-node/node_modules'
AZURITE = os.path.join(NODE_DIR, '.bin', 'azurite-blob')
NODE = shutil.which('node')
DRV = dbptest.build_path('t/drv/azblobdrv')
ACCOUNT = 'acct'
CONTAINER = 'backups'
PART = 1 << 20

if not NODE or not os.path.exists(AZURITE) or \
        not os.path.isdir(os.path.join(NODE_DIR, '@azure', 'storage-blob')):
    skip_all('azurite and @azure/storage-blob are not installed in %s '
             '(tools/install-deps installs them)' % NODE_DIR)
if not os.path.exists(DRV):
    skip_all('no %s (make check builds it)' % DRV)

tmp = dbptest.TempDir(prefix='dbprovd-azblob-')
KEY = base64.b64encode(os.urandom(64)).decode()
WRONG_KEY = base64.b64encode(b'wrong-key-' + os.urandom(22)).decode()
outputs = []        # everything the driver printed, for the secret check


def sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def md5_b64(path):
    with open(path, 'rb') as f:
        return base64.b64encode(hashlib.md5(f.read()).digest()).decode()


def write_random(path, size, seed):
    r = random.Random(seed)
    with open(path, 'wb') as f:
        left = size
        while left:
            n = min(left, 1 << 16)
            f.write(r.randbytes(n))
            left -= n
    return path


def private_file(name, text):
    path = tmp.join(name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    return path


# ---- Azurite ----

port = dbptest.free_port()
ENDPOINT = 'http://127.0.0.1:%d/%s' % (port, ACCOUNT)
os.makedirs(tmp.join('azurite'))
azurite = dbptest.Proc([AZURITE, '--blobHost', '127.0.0.1', '--blobPort', str(port),
                        '--location', tmp.join('azurite'), '--disableTelemetry',
                        '--silent'],
                       env={'AZURITE_ACCOUNTS': '%s:%s' % (ACCOUNT, KEY)},
                       stderr_path=tmp.join('azurite.err'))


def listening():
    try:
        socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
        return True
    except OSError:
        return False


if not dbptest.wait_until(listening, timeout=30):
    diag(azurite.stderr_text())
    skip_all('azurite did not start')

# ---- the independent client ----

NODE_SCRIPT = r'''
const fs = require('fs');
const sb = require('@azure/storage-blob');
const [, , cmd, endpoint, container, ...args] = process.argv;
const cred = new sb.StorageSharedKeyCredential(process.env.AZ_ACCOUNT, process.env.AZ_KEY);
const svc = new sb.BlobServiceClient(endpoint, cred);
const c = svc.getContainerClient(container);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
(async () => {
  if (cmd === 'mkcontainer') {
    out({ created: (await c.createIfNotExists()).succeeded });
  } else if (cmd === 'upload') {
    const data = fs.readFileSync(args[1]);
    await c.getBlockBlobClient(args[0]).uploadData(data, { blockSize: 1 << 20,
      maxSingleShotSize: 1 << 20 });
    out({ ok: true });
  } else if (cmd === 'many') {
    const n = parseInt(args[1], 10);
    for (let i = 0; i < n; i++) {
      const body = Buffer.alloc(i + 1, 97 + (i % 26));
      await c.getBlockBlobClient(args[0] + String(i).padStart(3, '0')).upload(body, body.length);
    }
    out({ ok: true });
  } else if (cmd === 'download') {
    await c.getBlobClient(args[0]).downloadToFile(args[1]);
    out({ ok: true });
  } else if (cmd === 'props') {
    try {
      const p = await c.getBlobClient(args[0]).getProperties();
      out({ exists: true, size: p.contentLength,
            md5: p.contentMD5 ? Buffer.from(p.contentMD5).toString('base64') : null });
    } catch (e) {
      out({ exists: false, status: e.statusCode, code: e.details && e.details.errorCode });
    }
  } else if (cmd === 'blocks') {
    const bl = await c.getBlockBlobClient(args[0]).getBlockList('all');
    out({ committed: bl.committedBlocks.length, uncommitted: (bl.uncommittedBlocks || []).length });
  } else if (cmd === 'sas') {
    const sas = sb.generateBlobSASQueryParameters({ containerName: container,
      permissions: sb.ContainerSASPermissions.parse('racwdl'),
      startsOn: new Date(Date.now() - 300e3), expiresOn: new Date(Date.now() + 3600e3),
      protocol: sb.SASProtocol.HttpsAndHttp }, cred).toString();
    fs.writeFileSync(args[0], 'AZURE_STORAGE_SAS_TOKEN=' + sas + '\n', { mode: 0o600 });
    out({ sig: new URLSearchParams(sas).get('sig') });
  } else {
    throw new Error('unknown command ' + cmd);
  }
})().catch((e) => { out({ error: String(e.message || e).split('\n')[0] }); process.exit(1); });
'''
node_js = tmp.join('client.js')
with open(node_js, 'w') as f:
    f.write(NODE_SCRIPT)


def node(cmd, *args):
    env = dict(os.environ, NODE_PATH=NODE_DIR, AZ_ACCOUNT=ACCOUNT, AZ_KEY=KEY)
    p = subprocess.run([NODE, node_js, cmd, ENDPOINT, CONTAINER] + list(args),
                       capture_output=True, text=True, env=env, timeout=60)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        diag('node %s: %s %s' % (cmd, p.stdout, p.stderr))
        return {}


# ---- a proxy that misbehaves on request ----

class Proxy:
    """Forwards 127.0.0.1:port to Azurite. Each new connection takes the
    next action: 'pass', 'cutdown:N' (close after N response bytes),
    'cutup:N' (close after N request bytes), 'busy' (read one request,
    answer 503 ServerBusy, close)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.actions = []
        self.log = []
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(('127.0.0.1', 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            action = self.actions.pop(0) if self.actions else 'pass'
            self.log.append(action)
            threading.Thread(target=self._serve, args=(c, action), daemon=True).start()

    @staticmethod
    def _busy(c):
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = c.recv(65536)
            if not chunk:
                return
            data += chunk
        head, body = data.split(b'\r\n\r\n', 1)
        m = re.search(rb'(?i)\r\ncontent-length:\s*(\d+)', head)
        want = int(m.group(1)) if m else 0
        while len(body) < want:
            chunk = c.recv(65536)
            if not chunk:
                return
            body += chunk
        xml = (b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code>'
               b'<Message>Busy.\nRequestId:0</Message></Error>')
        c.sendall(b'HTTP/1.1 503 Server Busy\r\nContent-Type: application/xml\r\n'
                  b'x-ms-error-code: ServerBusy\r\nConnection: close\r\n'
                  b'Content-Length: %d\r\n\r\n' % len(xml) + xml)

    def _serve(self, c, action):
        if action == 'busy':
            try:
                self._busy(c)
            finally:
                c.close()
            return
        try:
            u = socket.create_connection(('127.0.0.1', self.upstream))
        except OSError:
            c.close()
            return
        kind, _, n = action.partition(':')
        limit_up = int(n) if kind == 'cutup' else None
        limit_down = int(n) if kind == 'cutdown' else None
        done = threading.Event()

        def pump(src, dst, limit):
            sent = 0
            try:
                while not done.is_set():
                    data = src.recv(65536)
                    if not data:
                        break
                    if limit is not None and sent + len(data) >= limit:
                        dst.sendall(data[:limit - sent])
                        break
                    dst.sendall(data)
                    sent += len(data)
            except OSError:
                pass
            done.set()
            for s in (c, u):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        t = threading.Thread(target=pump, args=(c, u, limit_up), daemon=True)
        t.start()
        pump(u, c, limit_down)
        t.join(5)
        c.close()
        u.close()


proxy = Proxy(port)
PROXY_ENDPOINT = 'http://127.0.0.1:%d/%s' % (proxy.port, ACCOUNT)

# ---- the driver ----

CREDS = private_file('creds', 'AZURE_STORAGE_ACCOUNT_KEY=%s\n' % KEY)
WRONG = private_file('wrong', 'AZURE_STORAGE_ACCOUNT_KEY=%s\n' % WRONG_KEY)
CONN = private_file('conn', 'AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;'
                    'AccountName=%s;AccountKey=%s;BlobEndpoint=%s/;\n' % (ACCOUNT, KEY, ENDPOINT))


def drv(*args, creds=CREDS, endpoint=ENDPOINT, account=ACCOUNT, container=CONTAINER,
        part=PART, extra=(), prefix=()):
    a = list(prefix) + [DRV, '--creds', creds, '--container', container,
                        '--part-size', str(part), '--retry-delay', '0.05']
    if endpoint:
        a += ['--endpoint', endpoint]
    if account:
        a += ['--account', account]
    a += list(extra) + list(args)
    p = subprocess.run(a, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, ASAN_OPTIONS='detect_leaks=1'))
    outputs.append(p.stdout + p.stderr)
    return p.returncode, p.stdout, p.stderr


def stat_of(out, name):
    m = re.search(r'STATS .*\b%s=(\d+)' % name, out)
    return int(m.group(1)) if m else None


is_(node('mkcontainer').get('created'), True, 'the independent client creates the container')

# single Put Blob
small = write_random(tmp.join('small'), 1000, 1)
rc, out, err = drv('put', small, 'db/small.dump')
ok(rc == 0 and re.search(r'PUT ok size=1000 md5=\S+ blocks=0', out),
   'a small artefact is one Put Blob') or diag(out + err)
is_(stat_of(out, 'requests'), 1, 'one request')
node('download', 'db/small.dump', tmp.join('small.node'))
is_(sha(tmp.join('small.node')), sha(small), 'the independent client reads it byte for byte')
is_(node('props', 'db/small.dump').get('md5'), md5_b64(small), "the blob's MD5 property is the artefact's")

# block upload in random-sized chunks
big = write_random(tmp.join('big'), 5 * PART + 123457, 2)
rc, out, err = drv('put', big, 'db/big dump+1.bin', extra=['--seed', '77'])
m = re.search(r'PUT ok size=(\d+) md5=(\S+) blocks=(\d+)', out)
ok(rc == 0 and m, 'a 5.1 MiB artefact in 1 MiB parts uploads') or diag(out + err)
is_(m and int(m.group(3)), 6, 'as six blocks')
is_(m and m.group(2), md5_b64(big), 'the MD5 reported is the stream\'s')
is_(stat_of(out, 'requests'), 7, 'six Put Block and one Put Block List')
node('download', 'db/big dump+1.bin', tmp.join('big.node'))
is_(sha(tmp.join('big.node')), sha(big), 'the independent client reads the block blob byte for byte')
props = node('props', 'db/big dump+1.bin')
is_(props.get('md5'), md5_b64(big), 'the committed blob carries the MD5 of the whole stream')
is_(node('blocks', 'db/big dump+1.bin'), {'committed': 6, 'uncommitted': 0}, 'six committed blocks')

# reads
rc, out, err = drv('get', 'db/big dump+1.bin', tmp.join('big.get'), extra=['--pause-every', '3'])
ok(rc == 0 and 'GET ok size=%d resumes=0' % os.path.getsize(big) in out,
   'the driver reads it back, its consumer pausing every 3 chunks') or diag(out + err)
is_(sha(tmp.join('big.get')), sha(big), 'byte for byte (sha256)')
rc, out, err = drv('get', 'db/big dump+1.bin', tmp.join('slow.get'),
                   extra=['--pause-every', '150', '--pause-ms', '2500', '--idle-timeout', '1'])
ok(rc == 0 and 'GET ok' in out and stat_of(out, 'retries') == 0,
   'a consumer pausing 2.5 s is no idle timeout of 1 s') or diag(out + err)
is_(sha(tmp.join('slow.get')), sha(big), 'byte for byte')
theirs = write_random(tmp.join('theirs'), 3 * PART + 99, 3)
is_(node('upload', 'sdk/theirs.bin', theirs).get('ok'), True, 'the independent client uploads a blob')
rc, out, err = drv('get', 'sdk/theirs.bin', tmp.join('theirs.get'))
ok(rc == 0 and 'GET ok' in out, 'the driver reads what the independent client wrote') or diag(out + err)
is_(sha(tmp.join('theirs.get')), sha(theirs), 'byte for byte')
rc, out, err = drv('get', 'db/big dump+1.bin', tmp.join('tail.get'), extra=['--offset', '1234567'])
with open(big, 'rb') as f:
    f.seek(1234567)
    tail = f.read()
ok(rc == 0 and open(tmp.join('tail.get'), 'rb').read() == tail, 'a read from an offset gets the tail')

# a connection cut mid-download resumes from the last byte
proxy.actions = ['cutdown:2000000']
rc, out, err = drv('get', 'db/big dump+1.bin', tmp.join('cut.get'), endpoint=PROXY_ENDPOINT)
ok(rc == 0 and 'resumes=1' in out, 'a download cut after 2 MB resumes once') or diag(out + err)
is_(sha(tmp.join('cut.get')), sha(big), 'and the bytes are exact')
ok(stat_of(out, 'down') == os.path.getsize(big), 'no byte fetched twice')
is_(proxy.log[:1], ['cutdown:2000000'], 'the proxy did cut it')

# a 503 and a cut in the middle of an upload are retried
proxy.actions = ['busy', 'cutup:1500000']
proxy.log = []
rc, out, err = drv('put', big, 'db/retried.bin', endpoint=PROXY_ENDPOINT, extra=['--seed', '5'])
ok(rc == 0 and 'PUT ok' in out, 'an upload through a busy answer and a cut connection succeeds') \
    or diag(out + err)
ok((stat_of(out, 'retries') or 0) >= 1, 'after retries (%s)' % stat_of(out, 'retries'))
is_(proxy.log[:2], ['busy', 'cutup:1500000'], 'the proxy answered busy, then cut')
node('download', 'db/retried.bin', tmp.join('retried.node'))
is_(sha(tmp.join('retried.node')), sha(big), 'the retried blob is byte-exact')

# listing across pages
is_(node('many', 'many/', '23').get('ok'), True, '23 blobs under many/')
rc, out, err = drv('list', 'many/', extra=['--page-size', '5'])
items = re.findall(r'^ITEM (\S+) (\d+) (-?\d+)$', out, re.M)
ok(rc == 0 and 'LIST ok n=23 pages=5' in out, 'listed in pages of 5, following NextMarker') \
    or diag(out + err)
is_([i[0] for i in items], ['many/%03d' % i for i in range(23)], 'every name once, in order')
is_([int(i[1]) for i in items], list(range(1, 24)), 'with their sizes')
ok(all(int(i[2]) > 1_600_000_000 for i in items), 'and Last-Modified times')
rc, out, err = drv('list', 'nothing/')
ok(rc == 0 and 'LIST ok n=0 pages=1' in out, 'an empty prefix lists nothing')

# delete, twice
rc, out, err = drv('delete', 'db/small.dump')
ok(rc == 0 and 'DELETE ok' in out, 'delete')
is_(node('props', 'db/small.dump').get('exists'), False, 'the blob is gone')
rc, out, err = drv('delete', 'db/small.dump')
ok(rc == 0 and 'DELETE ok' in out, 'deleting it again is fine (404 is gone already)')
rc, out, err = drv('delete', 'x', container='no-such-container')
ok(rc == 1 and 'DELETE failed: Azure ContainerNotFound' in out, 'a missing container is an error') \
    or diag(out)

# an aborted upload leaves no blob
rc, out, err = drv('abort-test', big, 'db/aborted.bin')
m = re.search(r'ABORTED blocks=(\d+) requests=(\d+) callbacks=(\d+)', out)
ok(rc == 0 and m and m.group(3) == '0', 'aborted in the middle; no callback after') \
    or diag(out + err)
ok(m and int(m.group(1)) >= 2, 'after %s blocks were stored (%s requests sent)'
   % (m and m.group(1), m and m.group(2)))
p = node('props', 'db/aborted.bin')
is_((p.get('exists'), p.get('status')), (False, 404), 'the blob does not exist')
bl = node('blocks', 'db/aborted.bin')
ok(bl.get('committed') == 0 and bl.get('uncommitted', 0) >= 2,
   'only uncommitted blocks (%s), which are no blob' % bl)
rc, out, err = drv('list', 'db/')
ok(rc == 0 and 'db/aborted.bin' not in out, 'nor is it listed')
rc, out, err = drv('put', big, 'db/aborted.bin')
ok(rc == 0 and 'PUT ok' in out, 'a later upload of the name works')
is_(node('blocks', 'db/aborted.bin'), {'committed': 6, 'uncommitted': 0},
    'its commit drops the aborted upload\'s blocks')

# a wrong key
rc, out, err = drv('list', '', creds=WRONG)
ok(rc == 1 and re.search(r'LIST failed: Azure (AuthorizationFailure|AuthenticationFailed): \S',
                         out), 'a wrong key is refused with the service\'s error') or diag(out)
rc, out, err = drv('put', small, 'db/never', creds=WRONG)
ok(rc == 1 and re.search(r'PUT failed: Azure (AuthorizationFailure|AuthenticationFailed)', out),
   'an upload too') or diag(out)
is_(stat_of(out, 'retries'), 0, 'and not retried')
is_(node('props', 'db/never').get('exists'), False, 'nothing was written')

# the published development account is off in this Azurite
DEV = private_file('dev', 'AZURE_STORAGE_CONNECTION_STRING=UseDevelopmentStorage=true;'
                   'BlobEndpoint=http://127.0.0.1:%d/devstoreaccount1\n' % port)
rc, out, err = drv('list', '', creds=DEV, endpoint=None, account=None)
ok(rc == 1 and re.search(r'LIST failed: Azure (ResourceNotFound|AuthorizationFailure|'
                         r'AuthenticationFailed)', out),
   'the development account does not exist (not merely its container)') or diag(out)

# a SAS token, then a connection string
sasf = tmp.join('sas')
sig = node('sas', sasf).get('sig')
ok(sig and os.stat(sasf).st_mode & 0o777 == 0o600, 'a container SAS in a 0600 file')
rc, out, err = drv('put', small, 'sas/s.bin', creds=sasf, account=None)
ok(rc == 0 and 'PUT ok' in out, 'upload with the SAS token (no account, no key)') or diag(out + err)
rc, out, err = drv('get', 'sas/s.bin', tmp.join('s.get'), creds=sasf, account=None,
                   extra=['--log-level', 'debug'])
ok(rc == 0 and 'GET ok' in out, 'read with the SAS token') or diag(out + err)
is_(sha(tmp.join('s.get')), sha(small), 'byte for byte')
ok('sig=[REDACTED]' in err, 'the debug trace shows the SAS signature redacted')
rc, out, err = drv('list', 'many/', creds=CONN, endpoint=None, account=None,
                   extra=['--page-size', '10'])
ok(rc == 0 and 'LIST ok n=23 pages=3' in out, 'a connection string alone is enough') \
    or diag(out + err)

# the debug trace of a put and a get
rc, out, err = drv('put', big, 'db/debug.bin', extra=['--log-level', 'debug'])
ok(rc == 0 and 'Authorization: [REDACTED]' in err, 'debug trace on, Authorization redacted') \
    or diag(out + err[-2000:])
rc, out, err = drv('get', 'db/debug.bin', tmp.join('debug.get'), extra=['--log-level', 'debug'])
ok(rc == 0 and '"dir":"in"' in err, 'the response headers are traced too')

everything = '\n'.join(outputs)
secrets = {'the account key': KEY, 'the wrong key': WRONG_KEY, 'the SAS signature': sig or '\0',
           'a Shared Key signature': 'SharedKey %s:' % ACCOUNT}
for name, s in secrets.items():
    ok(s not in everything, 'no output holds %s' % name)
ok(not re.search(r'[?&]sig=(?!\[REDACTED\])', everything), 'no output holds a sig= value')

# valgrind: one put and one get, with a driver built without sanitizers
VALGRIND = shutil.which('valgrind')
with open(DRV, 'rb') as f:
    asan = b'__asan_init' in f.read()
if not VALGRIND or asan:
    skip('valgrind needs a driver built without sanitizers (and valgrind)', 4)
else:
    vg = [VALGRIND, '--error-exitcode=9', '--leak-check=full', '--errors-for-leak-kinds=definite',
          '--log-file=' + tmp.join('memcheck-%p.log')]
    rc, out, err = drv('put', big, 'db/vg.bin', prefix=vg)
    is_(rc, 0, 'valgrind: put exits 0 with no error') or diag(out + err)
    rc, out, err = drv('get', 'db/vg.bin', tmp.join('vg.get'), prefix=vg)
    is_(rc, 0, 'valgrind: get exits 0 with no error') or diag(out + err)
    is_(sha(tmp.join('vg.get')), sha(big), 'valgrind: byte for byte')
    logs = ''.join(open(tmp.join(n)).read() for n in os.listdir(tmp.path) if n.startswith('memcheck-'))
    lost = [int(n.replace(',', '')) for n in re.findall(r'definitely lost: ([\d,]+) bytes', logs)]
    ok(logs and all(n == 0 for n in lost), 'valgrind: nothing definitely lost')

azurite.stop()
azurite.close()
tmp.cleanup()
done_testing()
