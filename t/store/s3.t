#!/usr/bin/python3
# t/store/s3.t: the S3 client (t/drv/s3drv) against moto's S3 with IAM
# authentication on: single and multipart uploads, downloads (whole, from
# an offset, paused, resumed after dropped and stalled connections),
# retries, listing pages, delete, abort and stale-upload cleanup, service
# errors, session credentials, and boto3 as an independent client on both
# sides. No credential may appear in any output.
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
import dbptest  # noqa: E402
from tap import ok, is_, like, diag, skip, skip_all, done_testing  # noqa: E402

DRV = dbptest.build_path('t/drv/s3drv')
REGION = 'us-east-1'
BUCKET = 'dbprov-s3-test'
MiB = 1024 * 1024
PART = 5 * MiB

if not os.path.exists(DRV):
    skip_all('no %s (make check builds it)' % DRV)
try:
    import boto3  # noqa: F401
    import botocore.exceptions
except ImportError:
    skip_all('boto3 is not importable by %s' % sys.executable)
import s3fault  # noqa: E402
import s3moto  # noqa: E402

PY = s3moto.moto_python()
if PY is None:
    skip_all('no python3 on PATH can import moto.server')

tmp = dbptest.TempDir('dbprovd-s3-')
outputs = []            # every driver output, to look for secrets
moto = s3moto.Moto(PY, tmp.path)
if not moto.wait(60):
    diag(open(moto.log).read()[-3000:])
    skip_all('moto did not start')
moto.setup(REGION)
s3 = moto.client()
s3.create_bucket(Bucket=BUCKET)
proxy = s3moto.Proxy(moto.port)


def write_creds(name, akid, secret, token=None):
    path = tmp.join(name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write('AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' % (akid, secret))
        if token:
            f.write('AWS_SESSION_TOKEN=%s\n' % token)
    return path


CREDS = write_creds('creds', moto.akid, moto.secret)
# Loopback only: no proxy from the environment.
ENV = {k: v for k, v in os.environ.items()
       if k.lower() not in ('http_proxy', 'https_proxy', 'all_proxy')}


def drv(*args, endpoint=None, creds=CREDS, bucket=BUCKET, timeout=120, prefix=None):
    """Runs the driver; returns (exit status, result event, stats, all
    events, stderr)."""
    argv = (prefix or []) + [DRV, '--endpoint', endpoint or moto.url, '--region', REGION,
                             '--bucket', bucket, '--cred-file', creds,
                             '--retry-initial', '0.05'] + [str(a) for a in args]
    t = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=ENV)
    if os.environ.get('S3_TEST_TIMES'):
        diag('%.2f s: %s' % (time.monotonic() - t, ' '.join(str(a) for a in args)))
    out = p.stdout.decode('utf-8', 'replace')
    err = p.stderr.decode('utf-8', 'replace')
    outputs.append(out)
    outputs.append(err)
    evs = []
    for line in out.splitlines():
        try:
            evs.append(json.loads(line))
        except ValueError:
            diag('not JSON: %r' % line)
    res = [e for e in evs if e.get('ev') not in ('stats', 'item')]
    stats = [e for e in evs if e.get('ev') == 'stats']
    return (p.returncode, res[-1] if res else {}, stats[-1] if stats else {},
            evs, err)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def boto_get(key):
    return s3.get_object(Bucket=BUCKET, Key=key)['Body'].read()


def boto_exists(key):
    try:
        s3.head_object(Bucket=BUCKET, Key=key)
        return True
    except botocore.exceptions.ClientError:
        return False


# moto (5.x) computes a different signature when a query value holds a
# '/' (boto3's requests fail the same way), so the prefixes listed here
# have none; keys with '/' are fine.
def uploads(prefix):
    r = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=prefix)
    return [(u['Key'], u['UploadId']) for u in r.get('Uploads', [])]


def file_of(name, data):
    path = tmp.join(name)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def read(path):
    with open(path, 'rb') as f:
        return f.read()


rng = random.Random(20261206)
small = rng.randbytes(100 * 1024)
multi = rng.randbytes(2 * PART + PART // 2)      # three parts of 5 MiB
small_f = file_of('small.bin', small)
multi_f = file_of('multi.bin', multi)
t0 = time.monotonic()

# ---- single PutObject, read back by boto3; curl's trace redacted ----
rc, res, st, _, err = drv('--log-level', 'debug', 'put', small_f, 'small/obj')
is_(rc, 0, 'put (single): exit 0')
ok(res.get('ok') and res.get('parts') == 0, 'put (single): one PutObject, no parts')
is_(res.get('etag'), hashlib.md5(small).hexdigest(), 'put (single): ETag is the MD5')
is_(sha(boto_get('small/obj')), sha(small), 'boto3 reads what the driver wrote (single)')
ok('"S3 curl"' in err and 'Authorization: [REDACTED]' in err,
   'debug log: curl trace with Authorization redacted')
ok(moto.secret not in err and 'Signature=' not in err,
   'debug log: neither the secret nor a signature')

# ---- multipart in random-sized chunks ----
rc, res, st, _, _ = drv('--part-size', PART, '--seed', 7, '--max-chunk', 300000,
                        'put', multi_f, 'big/obj')
is_(rc, 0, 'put (multipart): exit 0')
is_(res.get('parts'), 3, 'put (multipart): three parts')
is_(res.get('size'), len(multi), 'put (multipart): size')
head = s3.head_object(Bucket=BUCKET, Key='big/obj')
is_(head['ETag'].strip('"'), res.get('etag'), 'multipart ETag matches what S3 reports')
like(res.get('etag'), r'^[0-9a-f]{32}-3$', 'multipart ETag has the -3 suffix')
is_(sha(boto_get('big/obj')), sha(multi), 'boto3 reads the multipart object byte for byte')
is_(uploads('big'), [], 'no upload left in progress after completion')

# ---- downloads ----
out = tmp.join('get.bin')
rc, res, st, _, _ = drv('get', 'big/obj', out)
ok(rc == 0 and res.get('ok'), 'get: ok')
is_(sha(read(out)), sha(multi), 'get: sha256 matches')
is_(res.get('size'), len(multi), 'get: object size reported')
rc, res, st, _, _ = drv('--pause-every', 7, 'get', 'big/obj', out)
ok(rc == 0 and res.get('pauses', 0) > 10, 'get with pauses: consumer paused %s times' % res.get('pauses'))
is_(sha(read(out)), sha(multi), 'get with pauses: sha256 matches')
rc, res, st, _, _ = drv('--offset', 1000001, 'get', 'big/obj', out)
ok(rc == 0 and read(out) == multi[1000001:], 'get from an offset: the tail, exactly')
rc, res, st, _, _ = drv('--offset', len(multi), 'get', 'big/obj', out)
ok(rc == 0 and res.get('ok') and read(out) == b'', 'get from the very end: empty, ok')

rc, res, st, _, _ = drv('--part-size', PART, 'copy', 'big/obj', 'copy/obj')
ok(rc == 0 and res.get('ok') and res.get('parts') == 3,
   'copy: a download streamed into a multipart upload')
diag('copy: the download waited for the upload %s times' % res.get('pauses'))
is_(sha(boto_get('copy/obj')), sha(multi), '  boto3 reads the copy byte for byte')

ext = rng.randbytes(7 * MiB + 12345)
s3.put_object(Bucket=BUCKET, Key='ext/boto.bin', Body=ext)
rc, res, st, _, _ = drv('get', 'ext/boto.bin', out)
ok(rc == 0 and sha(read(out)) == sha(ext), 'the driver reads what boto3 wrote')

# ---- dropped and stalled connections ----
proxy.reset(down_cut=[1000000, 3000000])
rc, res, st, _, _ = drv('get', 'big/obj', out, endpoint=proxy.url)
ok(rc == 0 and res.get('ok'), 'get through a proxy that cuts twice: ok')
is_(sha(read(out)), sha(multi), '  sha256 matches after resuming')
is_(proxy.cuts, 2, '  the proxy cut two connections')
ok(st.get('resumes') == 2 and st.get('requests') == 3,
   '  two ranged resumes (%s requests)' % st.get('requests'))

proxy.reset(down_stall=[2000000])
rc, res, st, _, _ = drv('--idle-timeout', 1, 'get', 'big/obj', out, endpoint=proxy.url)
ok(rc == 0 and sha(read(out)) == sha(multi), 'get through a stalled connection: resumed, sha256 matches')
ok(proxy.stalls == 1 and st.get('resumes') == 1, '  one stall, one resume')

proxy.reset(up_cut=1 * MiB, up_cut_times=1)
rc, res, st, _, _ = drv('--part-size', PART, 'put', multi_f, 'retry/obj', endpoint=proxy.url)
ok(rc == 0 and res.get('ok'), 'put with the first connection cut: ok after a retry')
ok(st.get('retries', 0) >= 1, '  %s retries' % st.get('retries'))
is_(sha(boto_get('retry/obj')), sha(multi), '  boto3 reads it byte for byte')

# ---- a failed upload leaves nothing ----
proxy.reset(up_cut=2 * MiB)
rc, res, st, _, _ = drv('--part-size', PART, '--tries', 2, 'put', multi_f, 'fail/obj',
                        endpoint=proxy.url)
ok(rc == 1 and res.get('ok') is False, 'put whose parts never get through: fails')
like(res.get('err'), r'^S3 UploadPart: ', '  the error names the action')
is_(uploads('fail'), [], '  AbortMultipartUpload ran: nothing in progress')
ok(not boto_exists('fail/obj'), '  and no object')

# ---- abort, crash, stale ----
rc, res, st, evs, _ = drv('--part-size', PART, '--abort-after-parts', 1, 'put', multi_f,
                          'abort/obj')
ok(rc == 0 and res.get('err') == 'aborted' and res.get('parts') == 1,
   'put aborted after one part')
is_(uploads('abort'), [], '  ListMultipartUploads: nothing left')
ok(not boto_exists('abort/obj'), '  and no object')

rc, res, st, evs, _ = drv('--part-size', PART, '--crash-after-parts', 1, 'put', multi_f,
                          'crash/obj')
is_(rc, 3, 'put that crashes after one part: exit 3')
is_(len(uploads('crash')), 1, '  leaves one upload in progress')
s3.create_multipart_upload(Bucket=BUCKET, Key='keep/obj')
rc, res, st, _, _ = drv('stale', 'crash')
ok(rc == 0 and res.get('aborted') == 1, 'stale crash: aborted 1')
is_(uploads('crash'), [], '  nothing left under crash')
is_(len(uploads('keep')), 1, '  the upload under keep is untouched')
rc, res, st, _, _ = drv('stale', 'crash')
ok(rc == 0 and res.get('aborted') == 0, 'stale again: nothing to abort')
for k, u in uploads('keep'):
    s3.abort_multipart_upload(Bucket=BUCKET, Key=k, UploadId=u)

# ---- listing ----
want = {}
for i in range(23):
    key = 'many/obj-%02d' % i
    s3.put_object(Bucket=BUCKET, Key=key, Body=b'x' * i)
    want[key] = i
s3.put_object(Bucket=BUCKET, Key='many/with space', Body=b'abc')
want['many/with space'] = 3
s3.put_object(Bucket=BUCKET, Key='mano-other', Body=b'')
rc, res, st, evs, _ = drv('--page-size', 5, 'list', 'many')
items = {e['key']: e['size'] for e in evs if e.get('ev') == 'item'}
ok(rc == 0 and res.get('ok'), 'list many: ok')
is_(res.get('count'), 24, '  24 objects')
is_(items, want, '  keys and sizes as boto3 wrote them')
is_(st.get('requests'), 5, '  five pages of five')
mt = [e['mtime'] for e in evs if e.get('ev') == 'item']
ok(all(abs(m - time.time()) < 3600 for m in mt), '  modification times are recent')
rc, res, st, evs, _ = drv('list', 'nothing')
ok(rc == 0 and res.get('count') == 0, 'list of an empty prefix: ok, nothing')

# ---- delete ----
rc, res, _, _, _ = drv('delete', 'small/obj')
ok(rc == 0 and res.get('ok'), 'delete: ok')
ok(not boto_exists('small/obj'), '  boto3: gone')
rc, res, _, _, _ = drv('delete', 'small/obj')
ok(rc == 0 and res.get('ok'), 'delete again: still ok')

# ---- service errors ----
rc, res, _, _, _ = drv('get', 'no/such/key', out)
ok(rc == 1, 'get of a missing key fails')
like(res.get('err'), r'^S3 NoSuchKey: ', '  S3 NoSuchKey: ...')
rc, res, _, _, _ = drv('list', '', bucket='no-such-bucket-4711')
is_(res.get('err'), 'S3 NoSuchBucket: The specified bucket does not exist',
    'list of a missing bucket: the service message')
bad = write_creds('bad', moto.akid, 'not-the-secret-' + 'Q' * 20)
rc, res, st, _, _ = drv('put', small_f, 'bad/obj', creds=bad)
ok(rc == 1, 'wrong secret: put fails')
like(res.get('err'), r'^S3 SignatureDoesNotMatch: ', '  S3 SignatureDoesNotMatch: ...')
is_(st.get('requests'), 1, '  not retried')
ok(not boto_exists('bad/obj'), '  nothing written')
badid = write_creds('badid', 'AKIAIOSFODNN7EXAMPLE', moto.secret)
rc, res, _, _, _ = drv('get', 'big/obj', out, creds=badid)
like(res.get('err'), r'^S3 InvalidAccessKeyId: ', 'unknown access key id: S3 InvalidAccessKeyId')

# ---- session credentials ----
sess = moto.session_creds()
tok = write_creds('sess', sess['AccessKeyId'], sess['SecretAccessKey'], sess['SessionToken'])
rc, res, _, _, err = drv('--log-level', 'debug', 'put', small_f, 'sess/obj', creds=tok)
ok(rc == 0 and res.get('ok'), 'session credentials: put ok')
ok('x-amz-security-token: [REDACTED]' in err, '  the token header is redacted in the trace')
rc, res, _, _, _ = drv('get', 'sess/obj', out, creds=tok)
ok(rc == 0 and read(out) == small, 'session credentials: get ok')
notok = write_creds('sessbad', sess['AccessKeyId'], sess['SecretAccessKey'], 'bogus')
rc, res, _, _, _ = drv('get', 'sess/obj', out, creds=notok)
like(res.get('err'), r'^S3 InvalidToken: ', 'a bogus session token is refused')

# ---- checksum and addressing variants ----
rc, res, _, _, _ = drv('--part-size', PART, '--checksum', 'sha256', 'put', multi_f, 'sha/obj')
ok(rc == 0 and res.get('parts') == 3, 'multipart with x-amz-checksum-sha256: ok')
is_(sha(boto_get('sha/obj')), sha(multi), '  boto3 reads it byte for byte')
vurl = 'http://localhost:%d' % moto.port
rc, res, _, _, _ = drv('--style', 'virtual', 'put', small_f, 'vhost/obj', endpoint=vurl)
if rc == 0:
    ok(res.get('ok'), 'virtual-hosted style (%s.localhost): put ok' % BUCKET)
    rc, res, _, _, _ = drv('--style', 'virtual', 'get', 'vhost/obj', out, endpoint=vurl)
    ok(rc == 0 and read(out) == small, 'virtual-hosted style: get ok')
else:
    diag('virtual-hosted put: %s' % res.get('err'))
    skip('moto does not resolve %s.localhost here' % BUCKET, 2)
rc, res, _, _, _ = drv('--size-hint', 200 * 1024 ** 3, 'put', small_f, 'hint/obj')
ok(rc == 0 and res.get('parts') == 0, 'a large size hint does not change a small upload')

# ---- faults moto does not make: an in-memory S3 (no signature checks) ----
fs = s3fault.FaultS3()


def fdrv(*args, faults=None, endpoint=None):
    fs.faults = dict(faults or {})
    fs.log = []
    return drv(*args, endpoint=endpoint or fs.url, bucket='fault')


rc, res, st, _, _ = fdrv('put', small_f, 'f/single', faults={'slowdown': 2})
ok(rc == 0 and res.get('ok'), '503 SlowDown twice: put ok')
is_(st.get('retries'), 2, '  after two retries')
ok(fs.objects.get('f/single') == small, '  stored byte for byte')
ok(all('content-md5' in r[3] for r in fs.requests('PUT')),
   '  Content-MD5 (checked by the server) on every attempt')

rc, res, st, _, _ = fdrv('--part-size', PART, 'put', multi_f, 'f/multi',
                         faults={'bad_part_etag': 1})
ok(rc == 0 and res.get('parts') == 3, 'a part ETag that is not its MD5: sent again, ok')
is_(len(fs.requests('PUT', 'partNumber')), 4, '  four UploadPart requests for three parts')
ok(fs.objects.get('f/multi') == multi, '  stored byte for byte')

rc, res, st, _, _ = fdrv('--part-size', PART, '--tries', 2, 'put', multi_f, 'f/bad',
                         faults={'bad_part_etag': 99})
ok(rc == 1, 'part ETags never right: put fails')
like(res.get('err'), r'^S3 UploadPart: ETag f{32} is not the MD5', '  the error says why')
ok(len(fs.requests('DELETE', 'uploadId')) == 1 and not fs.uploads,
   '  AbortMultipartUpload sent, nothing in progress')
ok('f/bad' not in fs.objects, '  no object')

rc, res, st, _, _ = fdrv('put', small_f, 'f/bads', faults={'bad_single_etag': 99})
ok(rc == 1 and 'is not the MD5' in (res.get('err') or ''), 'PutObject ETag never right: fails')
ok('f/bads' not in fs.objects and len(fs.requests('DELETE')) == 1,
   '  the stored object is deleted again')

rc, res, st, _, _ = fdrv('--part-size', PART, 'put', multi_f, 'f/c200',
                         faults={'complete_error': 1})
ok(rc == 0 and res.get('ok'), 'Complete answered 200 with InternalError: retried, ok')
is_(len(fs.requests('POST', 'uploadId')), 2, '  two CompleteMultipartUpload requests')
ok(fs.objects.get('f/c200') == multi, '  stored byte for byte')

rc, res, st, _, _ = fdrv('--part-size', PART, 'put', multi_f, 'f/lost',
                         faults={'complete_lost': 1})
ok(rc == 0 and res.get('ok'), 'Complete done but its answer lost: ok')
ok(len(fs.requests('HEAD')) == 1 and (res.get('etag') or '').endswith('-3'),
   '  NoSuchUpload on the retry, then HeadObject found the right ETag')

rc, res, st, _, _ = fdrv('--part-size', PART, '--checksum', 'sha256', 'put', multi_f, 'f/sha')
ok(rc == 0 and fs.objects.get('f/sha') == multi, 'x-amz-checksum-sha256 (checked by the server): ok')
ok(fs.requests('POST', 'uploads')[0][3].get('x-amz-checksum-algorithm') == 'SHA256' and
   all('x-amz-checksum-sha256' in r[3] and 'content-md5' not in r[3]
       for r in fs.requests('PUT', 'partNumber')),
   '  SHA256 announced at create, a checksum on every part')

rc, res, st, _, _ = fdrv('--offset', 1000001, 'get', 'f/multi', out,
                         faults={'ignore_range': 1})
ok(rc == 0 and read(out) == multi[1000001:], 'a server that ignores Range: the tail, exactly')
fproxy = s3moto.Proxy(fs.port)
fproxy.reset(down_cut=[2000000])
rc, res, st, _, _ = fdrv('get', 'f/multi', out, faults={'ignore_range': 1},
                         endpoint=fproxy.url)
ok(rc == 0 and sha(read(out)) == sha(multi) and st.get('resumes') == 1,
   'cut, then the whole object again on resume: the first bytes skipped')
fproxy.close()
rc, res, st, _, _ = fdrv('--offset', len(multi), 'get', 'f/multi', out)
ok(rc == 0 and read(out) == b'' and res.get('size') == len(multi),
   'from the end: 416 with ActualObjectSize is an empty success')
rc, res, st, _, _ = fdrv('--offset', len(multi) + 5, 'get', 'f/multi', out)
like(res.get('err'), r'^S3 InvalidRange: ', 'beyond the end: S3 InvalidRange')
fs.stop()

# ---- valgrind (plain builds only) ----
vg = shutil.which('valgrind')
asan = b'__asan_init' in open(DRV, 'rb').read()
if vg and not asan:
    vglog = tmp.join('vg.%p.log')
    pre = [vg, '--error-exitcode=9', '--leak-check=full', '--errors-for-leak-kinds=definite',
           '--log-file=' + vglog]
    rc, res, _, _, _ = drv('--part-size', PART, 'put', multi_f, 'vg/obj', prefix=pre, timeout=300)
    ok(rc == 0 and res.get('ok'), 'valgrind: multipart put clean (exit %s)' % rc)
    rc, res, _, _, _ = drv('get', 'vg/obj', out, prefix=pre, timeout=300)
    ok(rc == 0 and sha(read(out)) == sha(multi), 'valgrind: get clean (exit %s)' % rc)
    if rc != 0:
        for f in os.listdir(tmp.path):
            if f.startswith('vg.'):
                diag(open(tmp.join(f)).read()[-3000:])
else:
    skip('valgrind needs a build without sanitizers' if vg else 'no valgrind', 2)

# ---- secrets ----
everything = '\n'.join(outputs)
ok(moto.secret not in everything, 'the secret key appears in no output')
ok(sess['SecretAccessKey'] not in everything and sess['SessionToken'] not in everything,
   'the session secret and token appear in no output')
ok('not-the-secret-' not in everything, 'the wrong secret appears in no output')
moto_log = open(moto.log, errors='replace').read()
ok(' 500 ' not in moto_log, 'moto answered no request with a 500')
diag('s3.t: %.1f s' % (time.monotonic() - t0))

proxy.close()
moto.stop()
tmp.cleanup()
done_testing()
