#!/usr/bin/python3
# The GCS client (t/drv/gcsdrv) against the stand-in (t/lib/fakegcs.py)
# with a throwaway service-account key: one-request and multi-part uploads
# written in random-sized pieces, the commit of an artefact that ends on a
# part boundary, byte-exact downloads (paused consumer, offset, a proxy that
# drops the connection), a connection cut in the middle of a part and a
# session that keeps less than was sent (both resumed from what the session
# reports), 503s, a token revoked in the middle of a list, list pages,
# delete twice, aborts at each stage leaving no session and no object, a
# wrong key and an unknown account refused with the token endpoint's
# error, the emulator variable, the official Node.js client reading what
# the driver wrote and the other way round, no credential in any output,
# and (in a build without sanitizers) one put and get under valgrind.
import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
import fakegcs  # noqa: E402

KIB256 = 256 * 1024
PART = 2 * KIB256
EMAIL = 'dbprovd-test@fake-project.iam.gserviceaccount.com'
DRV = dbptest.build_path('t/drv/gcsdrv')

if not os.path.exists(DRV):
    skip_all('t/drv/gcsdrv is not built (run make check)')
if not shutil.which('openssl'):
    skip_all('the openssl command is needed for the test keys')

tmp = dbptest.TempDir(prefix='gcs-test-')
fake = fakegcs.FakeGCS(buckets=['bkt']).start()
sa_path, pub, kid, priv = fakegcs.make_service_account(tmp.path, fake.token_uri, EMAIL)
fake.add_account(EMAIL, pub, kid)
wrong_path = fakegcs.make_service_account(tmp.path, fake.token_uri, EMAIL, name='wrong')[0]
stranger_path, _, _, stranger_priv = fakegcs.make_service_account(
    tmp.path, fake.token_uri, 'stranger@fake-project.iam.gserviceaccount.com', name='stranger')
outputs = []		# every byte the driver printed, for the secret check

BASE_ENV = {k: v for k, v in os.environ.items()
            if k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy', 'no_proxy',
                                 'storage_emulator_host', 'gcs_sa_json')}


def drv(*args, endpoint=None, key=sa_path, part=PART, env=None, opts=(), timeout=90, prefix=()):
    argv = list(prefix) + [DRV, '--bucket', 'bkt', '--part-size', str(part),
                           '--retry-delay', '0.02', '--tries', '5']
    if endpoint is not False:
        argv += ['--endpoint', endpoint or fake.url]
    if key:
        argv += ['--sa-file', key]
    argv += [str(a) for a in opts] + [str(a) for a in args]
    e = dict(BASE_ENV)
    e.update(env or {})
    t0 = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, timeout=timeout)
    if os.environ.get('GCS_TEST_TIMES'):
        diag('%.2fs %s' % (time.monotonic() - t0, ' '.join(str(a) for a in args)))
    out, err = r.stdout.decode('utf-8', 'replace'), r.stderr.decode('utf-8', 'replace')
    outputs.append(out + err)
    return r.returncode, out, err


def line(out, word):
    m = re.search(r'^%s .*$' % word, out, re.M)
    return m.group(0) if m else None


def stats(out):
    m = re.search(r'^STATS (.*)$', out, re.M)
    return dict(kv.split('=') for kv in m.group(1).split()) if m else {}


def artefact(name, size, seed):
    """Random bytes (incompressible, like an encrypted dump)."""
    import random
    rng = random.Random(seed)
    data = rng.randbytes(size)
    path = tmp.join(name)
    with open(path, 'wb') as f:
        f.write(data)
    return path, data


def sha(b):
    return hashlib.sha256(b).hexdigest()


def session_puts(key):
    """The data PUTs and queries of the sessions for key, in order."""
    return [(r['headers'].get('content-range'), r['status'], r['body_len'])
            for r in fake.requests if r['method'] == 'PUT' and 'upload_id=' in r['target'] and
            ('name=' + key.replace('/', '%2F') + '&') in r['target']]


class CutProxy:
    """A TCP proxy to the stand-in that drops the first `cuts` connections
    after `after` bytes from the server (abruptly: a reset)."""

    def __init__(self, upstream, after, cuts=1):
        self.upstream = upstream
        self.after = after
        self.cuts = cuts
        self.cut_done = 0
        self.conns = 0
        self.lock = threading.Lock()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(('127.0.0.1', 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _reset(*socks):
        # shutdown() wakes the other direction's thread out of recv();
        # closing with a zero linger then sends a reset.
        for s in socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                s.shutdown(socket.SHUT_RD)
            except OSError:
                pass
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    def _serve(self, c):
        u = socket.create_connection(('127.0.0.1', self.upstream))
        with self.lock:
            self.conns += 1
            limit = None
            if self.cuts > 0:
                self.cuts -= 1
                limit = self.after
        threading.Thread(target=self._pipe, args=(c, u, None), daemon=True).start()
        self._pipe(u, c, limit)

    def _pipe(self, src, dst, limit):
        n = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and n + len(data) >= limit:
                    dst.sendall(data[:limit - n])
                    with self.lock:
                        self.cut_done += 1
                    self._reset(src, dst)
                    return
                dst.sendall(data)
                n += len(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            self._reset(src, dst)

    def close(self):
        self.ls.close()


try:
    # ---- uploads ----
    p_small, d_small = artefact('small.bin', 100 * 1000 + 7, 1)
    rc, out, err = drv('put', p_small, 'a/small', opts=('--chunk-min', '1', '--chunk-max', '9000', '--seed', '3'))
    like(line(out, 'PUT'), r'^PUT ok key=a/small size=100007 ', 'put: a small artefact')
    if rc:
        diag(out + err)
    media = fake.requests_matching('POST', r'uploadType=media&name=a%2Fsmall')
    is_((len(media), len(session_puts('a/small'))), (1, 0),
        'put: a small artefact goes in one request (uploadType=media), no session')
    ok('md5=' in media[0]['headers'].get('x-goog-hash', '') if media else False,
       'put: the one request carries X-Goog-Hash')
    is_(fake.object_data('bkt', 'a/small'), d_small, 'put: the stored bytes')

    p_big, d_big = artefact('big.bin', 5 * PART // 2 + 4321, 2)	# > 2 parts
    rc, out, err = drv('put', p_big, 'a/big', opts=('--chunk-min', '1', '--chunk-max', '100000', '--seed', '7'))
    like(line(out, 'PUT'), r'^PUT ok key=a/big size=%d md5=\S+ crc32c=\S+ generation=\d+$' % len(d_big),
         'put: a multi-part artefact written in random pieces')
    if rc:
        diag(out + err)
    puts = session_puts('a/big')
    is_([p[0] for p in puts], ['bytes 0-%d/*' % (PART - 1), 'bytes %d-%d/*' % (PART, 2 * PART - 1),
                               'bytes %d-%d/%d' % (2 * PART, len(d_big) - 1, len(d_big))],
        'put: two full parts, then the rest with the total')
    ok(all(n % KIB256 == 0 for _, _, n in puts[:-1]), 'put: every part but the last is a multiple of 256 KiB')
    is_(fake.object_data('bkt', 'a/big'), d_big, 'put: the stored bytes of the multi-part artefact')
    st = stats(out)
    is_((st.get('up'), st.get('retries'), st.get('tokens')), (str(len(d_big)), '0', '1'),
        'put: stats count the bytes kept, no retry, one token')

    p_exact, d_exact = artefact('exact.bin', 2 * PART, 3)
    rc, out, _ = drv('put', p_exact, 'a/exact')
    puts = session_puts('a/exact')
    ok(rc == 0 and [p[0] for p in puts][-1:] == ['bytes */%d' % (2 * PART)] and
       fake.object_data('bkt', 'a/exact') == d_exact,
       'put: an artefact ending on a part boundary is committed with "bytes */total"')

    p_empty, _ = artefact('empty.bin', 0, 4)
    rc, out, _ = drv('put', p_empty, 'a/empty')
    ok(rc == 0 and fake.object_data('bkt', 'a/empty') == b'', 'put: an empty artefact')

    # A connection cut 300000 bytes into the first part: the session kept
    # one 256 KiB block, the driver asks and resumes in the middle of its
    # part.
    fake.add_fault('cut_request', method='PUT', path=r'name=a%2Fcut&', after=300000)
    rc, out, err = drv('put', p_big, 'a/cut')
    like(line(out, 'PUT'), r'^PUT ok key=a/cut ', 'put: a connection cut in the middle of a part')
    puts = session_puts('a/cut')
    is_(puts[:3], [('bytes 0-%d/*' % (PART - 1), -1, 300000), ('bytes */*', 308, 0),
                   ('bytes %d-%d/*' % (KIB256, PART - 1), 308, KIB256)],
        'put: after the cut the session is asked ("bytes */*") and the part resumes from byte 262144')
    is_(fake.object_data('bkt', 'a/cut'), d_big, 'put: the resumed upload is byte-exact')
    ok(int(stats(out).get('retries', 0)) >= 1, 'put: the retry is counted')

    # The same on the last request, the one that names the total.
    fake.add_fault('cut_request', method='PUT', path=r'name=a%2Fcutlast&', after=1000, skip=2)
    rc, out, _ = drv('put', p_big, 'a/cutlast')
    ok(rc == 0 and fake.object_data('bkt', 'a/cutlast') == d_big and
       ('bytes */*', 308, 0) in session_puts('a/cutlast'),
       'put: a cut in the last request is resumed after a status query too')

    # The session keeps only part of a part (as Google may): the rest again.
    fake.add_fault('short_commit', method='PUT', path=r'name=a%2Fshort&', keep=KIB256)
    rc, out, _ = drv('put', p_big, 'a/short')
    puts = session_puts('a/short')
    ok(rc == 0 and puts[:2] == [('bytes 0-%d/*' % (PART - 1), 308, PART),
                                ('bytes %d-%d/*' % (KIB256, PART - 1), 308, KIB256)] and
       fake.object_data('bkt', 'a/short') == d_big,
       'put: a part kept only in part (308, Range bytes=0-262143) is sent again from there')

    fake.add_fault('status', method='PUT', path=r'name=a%2F503&', code=503, count=2)
    fake.add_fault('status', method='POST', path=r'uploadType=resumable&name=a%2F503', code=503)
    rc, out, _ = drv('put', p_big, 'a/503')
    ok(rc == 0 and fake.object_data('bkt', 'a/503') == d_big and int(stats(out)['retries']) >= 3,
       'put: 503s on the session request and on parts are retried')

    fake.add_fault('status', method='PUT', path=r'name=a%2Ffail&', code=503, count=100)
    rc, out, _ = drv('put', p_big, 'a/fail')
    like(line(out, 'PUT'), r'^PUT failed: GCS 503: Backend Error \(after 5 tries\)$',
         'put: a part that keeps failing fails the upload after the tries')
    ok('a/fail' not in fake.object_names('bkt') and not fake.live_sessions(),
       'put: the failed upload left no object and no session')
    fake.clear_faults()

    # ---- downloads ----
    rc, out, err = drv('get', 'a/big', tmp.join('big.out'), opts=('--pause-every', '3'))
    like(line(out, 'GET'), r'^GET ok key=a/big bytes=%d$' % len(d_big), 'get: a multi-part object')
    is_(sha(open(tmp.join('big.out'), 'rb').read()), sha(d_big), 'get: byte-exact with a consumer that pauses')
    rc, out, _ = drv('get', 'a/big', tmp.join('off.out'), opts=('--offset', '123457'))
    ok(rc == 0 and open(tmp.join('off.out'), 'rb').read() == d_big[123457:], 'get: from an offset')
    rc, out, _ = drv('get', 'a/empty', tmp.join('empty.out'))
    ok(rc == 0 and os.path.getsize(tmp.join('empty.out')) == 0, 'get: an empty object')

    proxy = CutProxy(fake.port, after=400000)
    n0 = len(fake.requests)
    rc, out, err = drv('get', 'a/big', tmp.join('cut.out'), endpoint=proxy.url)
    like(line(out, 'GET'), r'^GET ok key=a/big bytes=%d$' % len(d_big), 'get: through a proxy that drops the connection')
    is_(sha(open(tmp.join('cut.out'), 'rb').read()), sha(d_big), 'get: byte-exact after the drop')
    gets = [r for r in fake.requests[n0:] if r['method'] == 'GET']
    ok(proxy.cut_done == 1 and len(gets) == 2 and 'range' not in gets[0]['headers'] and
       re.match(r'bytes=\d+-$', gets[1]['headers'].get('range', '')) and 'generation=' in gets[1]['target'],
       'get: resumed with a ranged GET pinned to the generation')
    proxy.close()

    rc, out, _ = drv('get', 'a/big', tmp.join('cancel.out'), opts=('--cancel-after', '100000'))
    ok(rc == 0 and line(out, 'GET') and line(out, 'GET').startswith('GET cancelled') and line(out, 'STATS'),
       'get: cancelled from inside the data callback, the client goes idle')

    # ---- list, delete ----
    for i in range(23):
        fake.put_object('bkt', 'l/%02d' % i, b'y' * i)
    fake.put_object('bkt', 'lx', b'not under the prefix')
    n0 = len(fake.requests)
    rc, out, _ = drv('list', 'l/', opts=('--page-size', '5'))
    items = re.findall(r'^ITEM (\S+) (\d+) (\d+)$', out, re.M)
    is_((line(out, 'LIST'), [i[0] for i in items]), ('LIST ok count=23', ['l/%02d' % i for i in range(23)]),
        'list: 23 objects in pages of 5, in order, the prefix honoured')
    ok(all(int(s) == int(k[2:]) for k, s, _ in items) and all(int(t) > 1500000000 for _, _, t in items),
       'list: sizes and times')
    lists = [r for r in fake.requests[n0:] if r['method'] == 'GET' and '/o?' in r['target']]
    is_((len(lists), sum('pageToken=' in r['target'] for r in lists)), (5, 4), 'list: five pages, four page tokens')
    fake.add_fault('revoke', method='GET', path='pageToken=', skip=1)
    rc, out, _ = drv('list', 'l/', opts=('--page-size', '5'))
    is_((line(out, 'LIST'), stats(out).get('tokens')), ('LIST ok count=23', '2'),
        'list: a token revoked between pages: 401, a new token, the list goes on')
    rc, out, _ = drv('list', 'nothing/')
    is_(line(out, 'LIST'), 'LIST ok count=0', 'list: an empty prefix')

    rc1, out1, _ = drv('delete', 'l/00')
    rc2, out2, _ = drv('delete', 'l/00')
    ok(rc1 == 0 and rc2 == 0 and line(out1, 'DELETE') == line(out2, 'DELETE') == 'DELETE ok key=l/00' and
       'l/00' not in fake.object_names('bkt'), 'delete: twice, both succeed')
    rc, out, _ = drv('get', 'l/00', tmp.join('gone.out'))
    is_((rc, line(out, 'GET')), (1, 'GET failed: GCS 404: No such object: bkt/l/00'), 'get: a deleted object, 404')

    # ---- abort ----
    for after, what in ((PART // 2, 'before the first part'), (PART, 'while the session is requested'),
                        (PART + PART // 2, 'between parts'), (2 * PART, 'while a part is sent')):
        key = 'ab/%d' % after
        n0 = len(fake.requests)
        rc, out, err = drv('abort-test', p_big, key, opts=('--abort-after', after))
        cancels = [r for r in fake.requests[n0:] if r['method'] == 'DELETE' and 'upload_id=' in r['target']]
        started = any('uploadType=resumable&name=' + key.replace('/', '%2F') in r['target']
                      for r in fake.requests[n0:])
        ok(rc == 0 and line(out, 'ABORTED') and key not in fake.object_names('bkt') and
           not fake.live_sessions() and len(cancels) == (1 if started else 0) and
           all(r['status'] == 499 for r in cancels),
           'abort %s: no object, no session (%d cancelled)' % (what, len(cancels)))
        if rc:
            diag(out + err)

    # Aborted right after finish: the last request (one-request upload,
    # or the part with the total) is left to answer, then the object it
    # made is removed.
    for path, key in ((p_small, 'ab/fin-small'), (p_big, 'ab/fin-big')):
        n0 = len(fake.requests)
        rc, out, err = drv('abort-test', path, key, opts=('--abort-at-finish', 1))
        removed = [r for r in fake.requests[n0:] if r['method'] == 'DELETE' and r['status'] in (204, 404, 499)]
        ok(rc == 0 and line(out, 'ABORTED') and key not in fake.object_names('bkt') and
           not fake.live_sessions() and removed, 'abort right after finish (%s): nothing left' % key)
        if rc:
            diag(out + err)

    # ---- credentials ----
    rc, out, _ = drv('put', p_small, 'a/wrong', key=wrong_path)
    is_((rc, line(out, 'PUT')), (1, 'PUT failed: GCS token endpoint refused: invalid_grant (Invalid JWT Signature.)'),
        'auth: a key the account does not have is refused by the token endpoint')
    rc, out, _ = drv('list', '', key=stranger_path)
    is_(line(out, 'LIST'), 'LIST failed: GCS token endpoint refused: invalid_grant (Invalid grant: account not found)',
        'auth: an unknown account is refused')
    ok('a/wrong' not in fake.object_names('bkt'), 'auth: nothing written without a token')
    rc, out, _ = drv('list', '', key=None)
    like(line(out, 'LIST'), r'^LIST failed: GCS 401: Anonymous caller', 'auth: anonymous is refused with 401')
    os.chmod(sa_path, 0o644)
    rc, out, err = drv('list', '')
    ok(rc == 2 and 'readable by group or others' in err, 'driver: a key file others can read is refused')
    os.chmod(sa_path, 0o600)
    with open(sa_path) as f:
        key_json = f.read()
    rc, out, _ = drv('list', 'l/', key=None, endpoint=False,
                     env={'STORAGE_EMULATOR_HOST': '127.0.0.1:%d' % fake.port, 'GCS_SA_JSON': key_json})
    is_(line(out, 'LIST'), 'LIST ok count=22', 'endpoint: STORAGE_EMULATOR_HOST (host:port) and the key from the environment')
    rc, out, _ = drv('list', '', endpoint='http://127.0.0.1:%d' % fake.port, opts=('--bucket', 'nope'))
    is_(line(out, 'LIST'), 'LIST failed: GCS 404: The specified bucket does not exist.', 'list: an unknown bucket')

    # ---- TLS: verified by default, against a given CA file ----
    cert, certkey = fakegcs.make_certificate(tmp.path)
    tls = fakegcs.FakeGCS(buckets=['bkt'], tls=(cert, certkey)).start()
    try:
        tls_sa = fakegcs.make_service_account(tmp.path, tls.token_uri, EMAIL, name='tls')
        tls.add_account(EMAIL, tls_sa[1], tls_sa[2])
        rc, out, _ = drv('put', p_big, 't/big', endpoint=tls.url, key=tls_sa[0], opts=('--ca-file', cert))
        rc2, out2, _ = drv('get', 't/big', tmp.join('tls.out'), endpoint=tls.url, key=tls_sa[0],
                           opts=('--ca-file', cert))
        ok(rc == 0 and rc2 == 0 and tls.object_data('bkt', 't/big') == d_big and
           open(tmp.join('tls.out'), 'rb').read() == d_big, 'tls: put and get over https with the CA file')
        rc, out, _ = drv('list', '', endpoint=tls.url, key=tls_sa[0])
        st = stats(out)
        ok(rc == 1 and re.match(r'^LIST failed: GCS token: SSL certificate problem', line(out, 'LIST') or '') and
           st.get('retries') == '0', 'tls: an unknown CA is refused at once, not retried')
        diag(line(out, 'LIST'))
    finally:
        tls.stop()

    # ---- the official Node.js client ----
    why = fakegcs.node_client_available()
    if why:
        skip(why, 3)
    else:
        node = fakegcs.NodeClient(fake.url, 'bkt', sa_path, tmp.path)
        rc, ans, err = node.run('download', 'a/big', tmp.join('node.out'))
        is_((rc, ans and ans.get('sha256')), (0, sha(d_big)),
            'node: @google-cloud/storage reads what the driver wrote (its checksum validation on)')
        rc, ans, err = node.run('upload', p_big, 'n/big', KIB256)
        rc2, out, _ = drv('get', 'n/big', tmp.join('n.out'))
        ok(rc == 0 and rc2 == 0 and sha(open(tmp.join('n.out'), 'rb').read()) == sha(d_big),
           'node: the driver reads what @google-cloud/storage wrote in chunks')
        rc, ans, _ = node.run('list', 'a/', 3)
        ok(rc == 0 and 'a/big' in ans['names'] and 'a/cut' in ans['names'], 'node: lists what the driver wrote')

    # ---- no credential in any output ----
    rc, out, err = drv('put', p_big, 'a/debug', opts=('--log-level', 'debug'))
    rc2, out2, err2 = drv('get', 'a/debug', tmp.join('debug.out'), opts=('--log-level', 'debug'))
    dbg = err + err2
    ok(rc == 0 and rc2 == 0 and 'Authorization: [REDACTED]' in dbg and 'upload_id=[REDACTED]' in dbg,
       'debug: the trace is there, with the credentials cut out')
    text = '\n'.join(outputs)
    secrets = ([t for t in fake.issued] + [a.split('.')[-1] for a in fake.assertions if a.count('.') == 2] +
               [s.id for s in fake.sessions.values()] +
               [ln for ln in priv.splitlines() if len(ln) >= 40][2:6])
    leaked = [s[:12] + '...' for s in secrets if s and s in text]
    ok(secrets and not leaked, 'no token, JWT, session id or key material in %d outputs (%d secrets)'
       % (len(outputs), len(secrets)))
    if leaked:
        diag('leaked: %s' % leaked)

    # ---- valgrind (a build without sanitizers) ----
    vg = shutil.which('valgrind')
    with open(DRV, 'rb') as f:
        asan = b'__asan_init' in f.read()
    if not vg or asan:
        skip('valgrind needs a build without sanitizers' if vg else 'valgrind is not installed', 2)
    else:
        pre = [vg, '--error-exitcode=9', '--leak-check=full', '--errors-for-leak-kinds=definite', '-q']
        rc, out, err = drv('put', p_big, 'a/vg', prefix=pre, timeout=300)
        ok(rc == 0 and line(out, 'PUT') and line(out, 'PUT').startswith('PUT ok'), 'valgrind: put, no error')
        if rc:
            diag(err[-3000:])
        rc, out, err = drv('get', 'a/vg', tmp.join('vg.out'), prefix=pre, timeout=300)
        ok(rc == 0 and open(tmp.join('vg.out'), 'rb').read() == d_big, 'valgrind: get, no error')
        if rc:
            diag(err[-3000:])
finally:
    fake.stop()
    tmp.cleanup()

done_testing()
