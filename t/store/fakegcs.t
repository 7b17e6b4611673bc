#!/usr/bin/python3
# The Google Cloud Storage stand-in (t/lib/fakegcs.py) checked on its own:
# the token endpoint (RS256 checked with both verifiers, the refusals Google
# answers), bearer tokens on the object endpoints, the resumable protocol
# as Google documents it (308 + Range, the 256 KiB rule, status queries,
# commit with "bytes */total", cancel, a cut connection keeping whole
# blocks), media downloads with Range, list pages, deletes; then the
# official Node.js client (@google-cloud/storage 7.x with
# google-auth-library's own JWT signing) uploading in chunks and in one
# request, downloading (its checksum validation on), listing page by page
# and deleting.
import base64
import hashlib
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
import fakegcs  # noqa: E402

KIB256 = 256 * 1024
EMAIL = 'dbprovd-test@fake-project.iam.gserviceaccount.com'
RW = 'https://www.googleapis.com/auth/devstorage.read_write'
RO = 'https://www.googleapis.com/auth/devstorage.read_only'

try:
    subprocess.run(['openssl', 'version'], check=True, stdout=subprocess.DEVNULL)
except (OSError, subprocess.CalledProcessError):
    skip_all('the openssl command is needed for the test keys')

tmp = dbptest.TempDir(prefix='fakegcs-test-')
fake = fakegcs.FakeGCS(buckets=['bkt']).start()
sa_path, pub, kid, priv = fakegcs.make_service_account(tmp.path, fake.token_uri, EMAIL)
fake.add_account(EMAIL, pub, kid)
other_path, _, _, other_priv = fakegcs.make_service_account(tmp.path, fake.token_uri, EMAIL, name='other')


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip('=')


def sign_jwt(private_pem, claims, header=None):
    """RS256 with the openssl command, as an independent signer."""
    header = header or {'alg': 'RS256', 'typ': 'JWT', 'kid': kid}
    signing = b64url(json.dumps(header).encode()) + '.' + b64url(json.dumps(claims).encode())
    keyf = tmp.join('sign.key')
    fd = os.open(keyf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(private_pem)
    r = subprocess.run(['openssl', 'dgst', '-sha256', '-sign', keyf], input=signing.encode(),
                       stdout=subprocess.PIPE, check=True)
    os.unlink(keyf)
    return signing + '.' + b64url(r.stdout)


def claims(**over):
    now = int(time.time())
    c = {'iss': EMAIL, 'scope': RW, 'aud': fake.token_uri, 'iat': now, 'exp': now + 3600}
    c.update(over)
    return c


def request(method, target, body=b'', headers=None):
    conn = http.client.HTTPConnection('127.0.0.1', fake.port, timeout=30)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def token_request(assertion, grant=fakegcs.JWT_BEARER):
    body = urllib.parse.urlencode({'grant_type': grant, 'assertion': assertion}).encode()
    st, _, data = request('POST', '/token', body,
                          {'Content-Type': 'application/x-www-form-urlencoded'})
    return st, json.loads(data or b'{}')


def auth(tok):
    return {'Authorization': 'Bearer ' + tok}


try:
    # ---- token endpoint ----
    for how in ['openssl'] + (['cryptography'] if fakegcs._have_cryptography() else []):
        fake.verify = how
        st, ans = token_request(sign_jwt(priv, claims()))
        ok(st == 200 and ans.get('token_type') == 'Bearer' and ans.get('expires_in') == 3600 and
           ans.get('access_token', '').startswith('ya29.'), 'token (%s): a well signed JWT is exchanged' % how)
        st, ans = token_request(sign_jwt(other_priv, claims()))
        is_((st, ans), (400, {'error': 'invalid_grant', 'error_description': 'Invalid JWT Signature.'}),
            'token (%s): a JWT signed with another key is refused' % how)
    if not fakegcs._have_cryptography():
        skip('the cryptography module is not importable', 2)
    fake.verify = 'auto'
    good = sign_jwt(priv, claims())
    h, c, s = good.split('.')
    tampered = h + '.' + b64url(json.dumps(claims(scope=RW + ' x')).encode()) + '.' + s
    is_(token_request(tampered)[1].get('error_description'), 'Invalid JWT Signature.',
        'token: changed claims break the signature')
    st, ans = token_request(sign_jwt(priv, claims(iss='nobody@x.iam.gserviceaccount.com')))
    is_((st, ans.get('error_description')), (400, 'Invalid grant: account not found'),
        'token: an unknown account is refused')
    now = int(time.time())
    st, ans = token_request(sign_jwt(priv, claims(iat=now - 7200, exp=now - 3600)))
    like(ans.get('error_description'), r'short-lived token', 'token: an expired JWT is refused')
    st, ans = token_request(sign_jwt(priv, claims(exp=now + 7200)))
    like(ans.get('error_description'), r'short-lived token', 'token: a lifetime over an hour is refused')
    st, ans = token_request(sign_jwt(priv, claims(aud='https://example.com/token')))
    like(ans.get('error_description'), r'audience', 'token: a foreign audience is refused')
    st, ans = token_request(sign_jwt(priv, claims(), header={'alg': 'HS256', 'typ': 'JWT'}))
    is_(st, 400, 'token: another algorithm is refused')
    st, ans = token_request(sign_jwt(priv, claims(), header={'alg': 'RS256', 'kid': 'f' * 40}))
    is_(ans.get('error_description'), 'Invalid JWT Signature.', 'token: a key id of another key is refused')
    st, ans = token_request(good, grant='client_credentials')
    is_((st, ans.get('error')), (400, 'unsupported_grant_type'), 'token: another grant type is refused')
    st, ans = token_request('not-a-jwt')
    is_(ans.get('error'), 'invalid_grant', 'token: garbage is refused')

    tok = token_request(sign_jwt(priv, claims()))[1]['access_token']
    ro_tok = token_request(sign_jwt(priv, claims(scope=RO)))[1]['access_token']

    # ---- bearer tokens on the object endpoints ----
    st, hd, data = request('GET', '/storage/v1/b/bkt/o')
    ok(st == 401 and 'bearer' in hd.get('www-authenticate', '').lower(), 'storage: no token, 401 with a challenge')
    st, _, data = request('GET', '/storage/v1/b/bkt/o', headers=auth('ya29.bogus'))
    is_((st, json.loads(data)['error']['message']), (401, 'Invalid Credentials'), 'storage: unknown token, 401')
    st, _, data = request('GET', '/storage/v1/b/bkt/o', headers=auth(tok))
    is_((st, json.loads(data)), (200, {'kind': 'storage#objects'}), 'storage: an empty bucket lists no items')
    st, _, data = request('GET', '/storage/v1/b/nope/o', headers=auth(tok))
    is_((st, json.loads(data)['error']['message']), (404, 'The specified bucket does not exist.'),
        'storage: an unknown bucket is 404')
    st, _, _ = request('POST', '/upload/storage/v1/b/bkt/o?uploadType=media&name=ro', b'x', auth(ro_tok))
    is_(st, 403, 'storage: a read-only token cannot write')
    st, _, _ = request('GET', '/storage/v1/b/bkt/o', headers=auth(ro_tok))
    is_(st, 200, 'storage: a read-only token can list')
    fake.revoke_tokens()
    st, _, _ = request('GET', '/storage/v1/b/bkt/o', headers=auth(tok))
    is_(st, 401, 'storage: a revoked token, 401')
    fake.token_lifetime = 1
    short = token_request(sign_jwt(priv, claims()))[1]
    fake.token_lifetime = 3600
    is_(short.get('expires_in'), 1, 'token: the lifetime is announced')
    dbptest.wait_until(lambda: time.time() > fake.tokens[short['access_token']][0] + 0.05, timeout=5)
    st, _, _ = request('GET', '/storage/v1/b/bkt/o', headers=auth(short['access_token']))
    is_(st, 401, 'storage: an expired token, 401')
    tok = token_request(sign_jwt(priv, claims()))[1]['access_token']

    # ---- resumable uploads ----
    data = os.urandom(3 * KIB256 + 12345)

    def session(name):
        st, hd, _ = request('POST', '/upload/storage/v1/b/bkt/o?uploadType=resumable&name=' +
                            urllib.parse.quote(name, safe=''), b'', auth(tok))
        loc = hd.get('location', '')
        return st, loc, loc[loc.index('/upload/'):] if '/upload/' in loc else None

    def put(target, body, crange, headers=None):
        h = {'Content-Range': crange} if crange else {}
        h.update(headers or {})
        return request('PUT', target, body, h)

    st, loc, s1 = session('dir/big')
    ok(st == 200 and loc.startswith(fake.url) and 'upload_id=' in loc, 'resumable: the session URI is in Location')
    st, hd, _ = put(s1, b'', 'bytes */*')
    ok(st == 308 and 'range' not in hd, 'resumable: a query before any data: 308 without Range')
    st, _, body = put(s1, data[:100 * 1024], 'bytes 0-102399/*')
    ok(st == 400 and b'262144' in body, 'resumable: a non-final chunk under 256 KiB is refused')
    st, hd, _ = put(s1, data[:300 * 1024], 'bytes 0-307199/*')
    is_((st, hd.get('range')), (308, 'bytes=0-262143'),
        'resumable: 300 KiB sent, 256 KiB kept (whole blocks only)')
    st, hd, _ = put(s1, b'', 'bytes */*')
    is_((st, hd.get('range')), (308, 'bytes=0-262143'), 'resumable: the status query reports what was kept')
    st, _, _ = put(s1, data[:1000], 'bytes 0-1999/*')
    is_(st, 400, 'resumable: a body shorter than its Content-Range is refused')
    st, _, _ = put(s1, data[2 * KIB256:3 * KIB256], 'bytes %d-%d/*' % (2 * KIB256, 3 * KIB256 - 1))
    is_(st, 400, 'resumable: a chunk past the kept bytes is refused')
    st, hd, _ = put(s1, data[:2 * KIB256], 'bytes 0-%d/*' % (2 * KIB256 - 1))
    is_((st, hd.get('range')), (308, 'bytes=0-524287'), 'resumable: an overlapping chunk adds only the new bytes')
    st, _, body = put(s1, data[2 * KIB256:], 'bytes %d-%d/%d' % (2 * KIB256, len(data) - 1, len(data)))
    meta = json.loads(body) if st == 200 else {}
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    crc = fakegcs.crc32c_b64(fakegcs.crc32c(data))
    ok(st == 200 and meta.get('size') == str(len(data)) and meta.get('md5Hash') == md5 and
       meta.get('crc32c') == crc and meta.get('name') == 'dir/big', 'resumable: the last chunk completes the object')
    st, _, body = put(s1, b'', 'bytes */*')
    ok(st == 200 and json.loads(body).get('generation') == meta.get('generation'),
       'resumable: a completed session answers with the object')
    is_(fake.object_data('bkt', 'dir/big'), data, 'resumable: the stored bytes')
    is_(fakegcs.crc32c(b'123456789'), 0xE3069283, 'crc32c: the check value')

    st, _, s2 = session('dir/exact')
    put(s2, data[:KIB256], 'bytes 0-%d/*' % (KIB256 - 1))
    st, _, body = put(s2, b'', 'bytes */%d' % KIB256)
    ok(st == 200 and json.loads(body).get('size') == str(KIB256),
       'resumable: "bytes */total" commits a stream that ended on a block boundary')
    st, _, s3 = session('dir/cancelled')
    put(s3, data[:KIB256], 'bytes 0-%d/*' % (KIB256 - 1))
    st, _, _ = request('DELETE', s3, b'', {'Content-Length': '0'})
    is_(st, 499, 'resumable: DELETE of the session URI cancels it (499)')
    st, _, _ = put(s3, b'', 'bytes */*')
    is_(st, 404, 'resumable: a cancelled session is gone')
    ok('dir/cancelled' not in fake.object_names('bkt'), 'resumable: a cancelled upload leaves no object')

    st, _, s4 = session('dir/cut')
    fake.add_fault('cut_request', method='PUT', path='upload_id', after=300000)
    try:
        put(s4, data[:2 * KIB256], 'bytes 0-%d/*' % (2 * KIB256 - 1))
        cut = False
    except (ConnectionError, http.client.HTTPException):
        cut = True
    ok(cut, 'fault: the connection is cut in the middle of a chunk')
    st, hd, _ = put(s4, b'', 'bytes */*')
    is_((st, hd.get('range')), (308, 'bytes=0-262143'),
        'fault: after the cut the session kept the whole blocks that arrived')
    fake.add_fault('short_commit', method='PUT', path='upload_id', keep=KIB256)
    st, hd, _ = put(s4, data[KIB256:3 * KIB256], 'bytes %d-%d/*' % (KIB256, 3 * KIB256 - 1))
    is_((st, hd.get('range')), (308, 'bytes=0-524287'), 'fault: a short commit keeps less than was sent')
    st, _, body = put(s4, data[2 * KIB256:], 'bytes %d-%d/%d' % (2 * KIB256, len(data) - 1, len(data)),
                      {'X-Goog-Hash': 'md5=' + base64.b64encode(b'0' * 16).decode()})
    ok(st == 400 and b'MD5' in body, 'resumable: X-Goog-Hash that does not match fails the upload')
    ok('dir/cut' not in fake.object_names('bkt') and put(s4, b'', 'bytes */*')[0] == 404,
       'resumable: after a checksum failure there is no object and no session')

    fake.add_fault('status', method='PUT', path='upload_id', code=503)
    st, _, s5 = session('dir/503')
    st, _, body = put(s5, data[:KIB256], 'bytes 0-%d/*' % (KIB256 - 1))
    is_((st, json.loads(body)['error']['code']), (503, 503), 'fault: an injected 503 in the API error format')
    st, hd, _ = put(s5, b'', 'bytes */*')
    ok(st == 308 and 'range' not in hd, 'fault: the 503 kept nothing')

    # ---- media uploads, downloads ----
    small = b'0123456789' * 100
    st, _, body = request('POST', '/upload/storage/v1/b/bkt/o?uploadType=media&name=dir%2Fsmall', small,
                          dict(auth(tok), **{'Content-Type': 'text/plain'}))
    ok(st == 200 and json.loads(body)['contentType'] == 'text/plain', 'media: one-request upload')
    st, _, _ = request('POST', '/upload/storage/v1/b/bkt/o?uploadType=media&name=dir%2Fsmall&ifGenerationMatch=0',
                       small, auth(tok))
    is_(st, 412, 'media: ifGenerationMatch=0 on an existing object, 412')
    st, hd, body = request('GET', '/storage/v1/b/bkt/o/dir%2Fsmall?alt=media', headers=auth(tok))
    ok(st == 200 and body == small and 'md5=' in hd.get('x-goog-hash', '') and
       'crc32c=' in hd.get('x-goog-hash', ''), 'download: whole object with x-goog-hash')
    st, hd, body = request('GET', '/storage/v1/b/bkt/o/dir%2Fsmall?alt=media', headers=dict(auth(tok), Range='bytes=10-99'))
    ok(st == 206 and body == small[10:100] and hd.get('content-range') == 'bytes 10-99/1000', 'download: a range')
    st, hd, body = request('GET', '/storage/v1/b/bkt/o/dir%2Fsmall?alt=media', headers=dict(auth(tok), Range='bytes=990-'))
    ok(st == 206 and body == small[990:], 'download: an open range')
    st, hd, body = request('GET', '/storage/v1/b/bkt/o/dir%2Fsmall?alt=media', headers=dict(auth(tok), Range='bytes=-10'))
    ok(st == 206 and body == small[-10:], 'download: a suffix range')
    st, hd, _ = request('GET', '/storage/v1/b/bkt/o/dir%2Fsmall?alt=media', headers=dict(auth(tok), Range='bytes=1000-'))
    ok(st == 416 and hd.get('content-range') == 'bytes */1000', 'download: a range past the end, 416')
    st, _, _ = request('GET', '/storage/v1/b/bkt/o/dir%2Fsmall?alt=media&generation=1', headers=auth(tok))
    is_(st, 404, 'download: another generation, 404')
    st, _, body = request('GET', '/storage/v1/b/bkt/o/dir%2Fsmall', headers=auth(tok))
    ok(st == 200 and json.loads(body)['md5Hash'] == base64.b64encode(hashlib.md5(small).digest()).decode(),
       'metadata: md5Hash')

    # ---- list, delete ----
    for i in range(25):
        fake.put_object('bkt', 'pg/%02d' % i, b'x' * i)
    names, pages, token = [], 0, None
    while True:
        q = 'prefix=pg%2F&maxResults=7' + ('&pageToken=' + urllib.parse.quote(token) if token else '')
        st, _, body = request('GET', '/storage/v1/b/bkt/o?' + q, headers=auth(tok))
        ans = json.loads(body)
        pages += 1
        names += [o['name'] for o in ans.get('items', [])]
        token = ans.get('nextPageToken')
        if not token or pages > 10:
            break
    is_((pages, names), (4, ['pg/%02d' % i for i in range(25)]), 'list: 25 objects in pages of 7')
    st, _, body = request('GET', '/storage/v1/b/bkt/o?delimiter=%2F', headers=auth(tok))
    is_(sorted(json.loads(body).get('prefixes', [])), ['dir/', 'pg/'], 'list: a delimiter gives prefixes')
    st, _, _ = request('GET', '/storage/v1/b/bkt/o?pageToken=%25%25', headers=auth(tok))
    is_(st, 400, 'list: a bad page token, 400')
    st, _, _ = request('DELETE', '/storage/v1/b/bkt/o/pg%2F00', headers=auth(tok))
    is_(st, 204, 'delete: 204')
    st, _, body = request('DELETE', '/storage/v1/b/bkt/o/pg%2F00', headers=auth(tok))
    is_((st, json.loads(body)['error']['message']), (404, 'No such object: bkt/pg/00'), 'delete: again, 404')

    # ---- the official Node.js client ----
    why = fakegcs.node_client_available()
    if why:
        skip(why, 16)
    else:
        node = fakegcs.NodeClient(fake.url, 'bkt', sa_path, tmp.path)
        src = tmp.join('node-in.bin')
        blob = os.urandom(700 * 1024 + 17)
        with open(src, 'wb') as f:
            f.write(blob)
        sha = hashlib.sha256(blob).hexdigest()
        n0 = len(fake.requests)
        rc, ans, err = node.run('upload', src, 'node/chunked', KIB256)
        ok(rc == 0 and ans and ans.get('size') == len(blob) and
           ans.get('md5Hash') == base64.b64encode(hashlib.md5(blob).digest()).decode(),
           'node: resumable upload in 256 KiB chunks')
        if rc:
            diag(err or ans)
        ranges = [r['headers'].get('content-range') for r in fake.requests[n0:]
                  if r['method'] == 'PUT' and r['body_len']]
        is_(ranges, ['bytes 0-262143/*', 'bytes 262144-524287/*', 'bytes 524288-%d/%d' % (len(blob) - 1, len(blob))],
            'node: three chunks, the last with the total')
        is_(fake.object_data('bkt', 'node/chunked'), blob, 'node: the stored bytes')
        is_(len(fake.requests_matching('POST', '/token')) > 0, True, 'node: its own JWT was exchanged here')
        n0 = len(fake.requests)
        rc, ans, _ = node.run('upload', src, 'node/stream', 0)
        ranges = [r['headers'].get('content-range') for r in fake.requests[n0:]
                  if r['method'] == 'PUT' and r['body_len']]
        ok(rc == 0 and fake.object_data('bkt', 'node/stream') == blob and ranges == ['bytes 0-*/*'],
           'node: resumable upload in one streamed request ("bytes 0-*/*")')
        rc, ans, _ = node.run('save', src, 'node/multipart')
        ok(rc == 0 and fake.object_data('bkt', 'node/multipart') == blob, 'node: multipart upload')
        rc, ans, err = node.run('download', 'node/chunked', tmp.join('node-out.bin'))
        is_((rc, ans and ans.get('sha256')), (0, sha), 'node: download, checksums validated by the client')
        rc, ans, _ = node.run('download', 'node/chunked', tmp.join('node-part.bin'), 1000, 299999)
        ok(rc == 0 and open(tmp.join('node-part.bin'), 'rb').read() == blob[1000:300000], 'node: ranged download')
        with fake.lock:
            o = fake.buckets['bkt']['node/multipart']
            o.data = o.data[:-1] + bytes([o.data[-1] ^ 1])	# checksums left as they were
        rc, ans, _ = node.run('download', 'node/multipart', tmp.join('node-bad.bin'))
        ok(rc != 0, "node: a corrupted object fails the client's validation (the checksums are checked)")
        diag('corruption: %s' % (ans and ans.get('error')))
        rc, ans, _ = node.run('list', 'pg/', 7)
        is_((rc, ans and ans.get('pages'), ans and ans.get('names')),
            (0, 4, ['pg/%02d' % i for i in range(1, 25)]), 'node: list in pages of 7')
        rc, ans, _ = node.run('meta', 'node/chunked')
        ok(rc == 0 and ans.get('crc32c') == fakegcs.crc32c_b64(fakegcs.crc32c(blob)), 'node: metadata')
        rc, ans, _ = node.run('delete', 'node/chunked')
        ok(rc == 0 and 'node/chunked' not in fake.object_names('bkt'), 'node: delete')
        rc, ans, _ = node.run('delete', 'node/chunked')
        is_((rc, ans and ans.get('error', {}).get('code')), (1, 404), 'node: delete again, 404')
        rc, ans, _ = node.run('download', 'node/chunked', tmp.join('x.bin'))
        is_(ans and ans.get('error', {}).get('code'), 404, 'node: download of a deleted object, 404')
        rc, ans, _ = node.run('list', 'pg/', keyfile=other_path)
        ok(rc != 0 and 'invalid_grant' in json.dumps(ans), 'node: a key the stand-in does not know is refused')
        diag('wrong key: %s' % (ans and ans.get('error')))
        fake.verify = 'openssl'
        rc, ans, _ = node.run('list', 'pg/', 100)
        ok(rc == 0 and len(ans['names']) == 24, "node: its JWT also passes the openssl verifier")
finally:
    fake.stop()
    tmp.cleanup()

done_testing()
