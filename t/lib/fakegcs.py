#!/usr/bin/python3
# t/lib/fakegcs.py: a stand-in for the Google Cloud Storage JSON API on
# loopback, for the tests of the GCS client. Python 3 standard library only
# (RS256 is checked with the cryptography module when it is importable, else
# with the openssl command).
#
# What it serves, as Google documents it:
#   POST /token                    OAuth 2.0 JWT bearer grant (RFC 7523): the
#                                  assertion's RS256 signature is checked
#                                  against the service account's public key;
#                                  answers an expiring bearer token
#   POST /upload/storage/v1/b/B/o  uploadType=media | multipart | resumable
#   PUT  <session URI>             resumable chunks: Content-Range
#                                  "bytes a-b/total", "bytes a-b/*",
#                                  "bytes a-*/*", status query "bytes */*"
#                                  or "bytes */total"; 308 + Range while
#                                  incomplete; a non-final chunk under
#                                  256 KiB is refused, a longer one that is
#                                  not a multiple of 256 KiB is persisted
#                                  only up to the last whole 256 KiB
#   DELETE <session URI>           cancels the session (499)
#   GET  /storage/v1/b/B/o/NAME    metadata, or the bytes with alt=media
#                                  (Range, generation, x-goog-hash)
#   GET  /storage/v1/b/B/o         list: prefix, delimiter, maxResults,
#                                  pageToken, startOffset, endOffset
#   DELETE /storage/v1/b/B/o/NAME
# Every storage request needs "Authorization: Bearer <token>" with a token
# issued here and not expired or revoked (401 otherwise); requests to a
# session URI are authorised by the session id, as with Google.
#
# Test hooks (in-process through the FakeGCS object, or over HTTP at
# /_fake/...): faults that answer a status, cut a connection after N bytes
# of a request or response body, or persist less of a chunk than was sent;
# revoking every token; the request log; the sessions and objects.
#
#   fake = FakeGCS(buckets=['b']).start()
#   fake.add_account('sa@p.iam.gserviceaccount.com', public_pem)
#   fake.url, fake.token_uri
#
# Run alone: fakegcs.py --port 9023 --bucket b --account EMAIL=PUBKEY.pem
import argparse
import base64
import binascii
import email.parser
import hashlib
import http.server
import json
import os
import re
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

KIB256 = 256 * 1024
TOKEN_AUDIENCES = ('https://oauth2.googleapis.com/token',
                   'https://www.googleapis.com/oauth2/v4/token',
                   'https://accounts.google.com/o/oauth2/token')
JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'
SCOPE_WRITE = ('https://www.googleapis.com/auth/devstorage.read_write',
               'https://www.googleapis.com/auth/devstorage.full_control',
               'https://www.googleapis.com/auth/cloud-platform')
SCOPE_READ = SCOPE_WRITE + ('https://www.googleapis.com/auth/devstorage.read_only',
                            'https://www.googleapis.com/auth/cloud-platform.read-only')

# ---- CRC-32C (Castagnoli), slicing by 8 ------------------------------------

_POLY = 0x82F63B78


def _crc_tables():
    t = [[0] * 256 for _ in range(8)]
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        t[0][i] = c
    for i in range(256):
        c = t[0][i]
        for k in range(1, 8):
            c = t[0][c & 0xff] ^ (c >> 8)
            t[k][i] = c
    return [tuple(x) for x in t]


_T0, _T1, _T2, _T3, _T4, _T5, _T6, _T7 = _crc_tables()


def crc32c(data, crc=0):
    """CRC-32C of data, continuing from crc (the value of the bytes before)."""
    crc ^= 0xffffffff
    mv = memoryview(data).cast('B')
    end8 = len(mv) - len(mv) % 8
    for (a,) in struct.iter_unpack('<Q', mv[:end8]):
        x = a ^ crc
        crc = (_T7[x & 0xff] ^ _T6[(x >> 8) & 0xff] ^ _T5[(x >> 16) & 0xff] ^
               _T4[(x >> 24) & 0xff] ^ _T3[(x >> 32) & 0xff] ^ _T2[(x >> 40) & 0xff] ^
               _T1[(x >> 48) & 0xff] ^ _T0[x >> 56])
    for b in mv[end8:]:
        crc = _T0[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc ^ 0xffffffff


def crc32c_b64(value):
    """The API's form: base64 of the big-endian 4 bytes."""
    return base64.b64encode(struct.pack('>I', value)).decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))


def rfc3339(t):
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % int((t % 1) * 1000)


# ---- RS256 verification -----------------------------------------------------

def _have_cryptography():
    try:
        import cryptography.hazmat.primitives.asymmetric.padding  # noqa: F401
        return True
    except ImportError:
        return False


def rs256_verify(public_pem, data, sig, how='auto'):
    """True when sig is an RSASSA-PKCS1-v1_5 SHA-256 signature of data by the
    key in public_pem. how: 'cryptography', 'openssl' or 'auto'."""
    if how == 'auto':
        how = 'cryptography' if _have_cryptography() else 'openssl'
    if how == 'cryptography':
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
        key = serialization.load_pem_public_key(public_pem)
        try:
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
            return True
        except InvalidSignature:
            return False
    with tempfile.TemporaryDirectory(prefix='fakegcs-') as d:
        paths = {}
        for name, content in (('pub.pem', public_pem), ('sig', sig), ('data', data)):
            paths[name] = os.path.join(d, name)
            with open(paths[name], 'wb') as f:
                f.write(content)
        r = subprocess.run(['openssl', 'dgst', '-sha256', '-verify', paths['pub.pem'],
                            '-signature', paths['sig'], paths['data']],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return r.returncode == 0 and b'Verified OK' in r.stdout


# ---- state ------------------------------------------------------------------

class Obj:
    def __init__(self, bucket, name, data, content_type, generation):
        self.bucket = bucket
        self.name = name
        self.data = bytes(data)
        self.content_type = content_type or 'application/octet-stream'
        self.generation = generation
        self.created = time.time()
        self.md5 = base64.b64encode(hashlib.md5(self.data).digest()).decode()
        self.crc32c = crc32c_b64(crc32c(self.data))

    def resource(self, base):
        q = urllib.parse.quote(self.name, safe='')
        return {
            'kind': 'storage#object',
            'id': '%s/%s/%d' % (self.bucket, self.name, self.generation),
            'selfLink': '%s/storage/v1/b/%s/o/%s' % (base, self.bucket, q),
            'mediaLink': '%s/download/storage/v1/b/%s/o/%s?generation=%d&alt=media'
                         % (base, self.bucket, q, self.generation),
            'name': self.name,
            'bucket': self.bucket,
            'generation': str(self.generation),
            'metageneration': '1',
            'contentType': self.content_type,
            'storageClass': 'STANDARD',
            'size': str(len(self.data)),
            'md5Hash': self.md5,
            'crc32c': self.crc32c,
            'etag': base64.b64encode(struct.pack('>Q', self.generation)).decode().rstrip('='),
            'timeCreated': rfc3339(self.created),
            'updated': rfc3339(self.created),
            'timeStorageClassUpdated': rfc3339(self.created),
        }


class Session:
    def __init__(self, sid, bucket, name, content_type, declared_len, if_generation_match):
        self.id = sid
        self.bucket = bucket
        self.name = name
        self.content_type = content_type
        self.declared_len = declared_len	# X-Upload-Content-Length or None
        self.if_generation_match = if_generation_match
        self.data = bytearray()
        self.total = None			# once a request named it
        self.state = 'active'			# active | complete | cancelled
        self.obj = None
        self.chunks = []			# (start, length) of each data PUT


class Fault:
    def __init__(self, kind, method=None, path=None, count=1, **params):
        self.kind = kind
        self.method = method
        self.path = re.compile(path) if path else None
        self.count = count
        self.params = params

    def matches(self, method, target):
        return ((self.method is None or self.method == method) and
                (self.path is None or self.path.search(target)))


class GCSError(Exception):
    REASONS = {400: 'invalid', 401: 'authError', 403: 'forbidden', 404: 'notFound',
               408: 'requestTimeout', 410: 'gone', 412: 'conditionNotMet',
               416: 'requestedRangeNotSatisfiable', 429: 'rateLimitExceeded',
               500: 'backendError', 503: 'backendError'}

    def __init__(self, code, message, reason=None, headers=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or self.REASONS.get(code, 'error')
        self.headers = headers or {}

    def body(self):
        return {'error': {'code': self.code, 'message': self.message,
                          'errors': [{'message': self.message, 'domain': 'global',
                                      'reason': self.reason}]}}


class OAuthError(Exception):
    def __init__(self, error, description, code=400):
        super().__init__(description)
        self.error = error
        self.description = description
        self.code = code


class _Cut(Exception):
    """The connection is to be dropped without an answer."""


# ---- the server -------------------------------------------------------------

class FakeGCS:
    def __init__(self, buckets=('bucket',), token_lifetime=3600, verify='auto',
                 host='127.0.0.1', port=0, quiet=True, tls=None):
        self.buckets = {b: {} for b in buckets}
        self.token_lifetime = token_lifetime
        self.verify = verify
        self.host = host
        self.port = port
        self.quiet = quiet
        self.tls = tls			# (certificate file, key file): https
        self.accounts = {}		# email -> (public pem, key id or None)
        self.tokens = {}		# token -> (expiry, email, scopes)
        self.issued = []		# every token handed out (tests grep for them)
        self.assertions = []		# every JWT received
        self.sessions = {}
        self.faults = []
        self.requests = []		# log: dicts, see _log()
        self.lock = threading.RLock()
        self._gen = int(time.time() * 1e6)
        self._httpd = None
        self._thread = None

    # -- life cycle --

    def start(self):
        fake = self

        class Handler(_Handler):
            pass
        Handler.fake = fake
        self._httpd = _Server((self.host, self.port), Handler)
        self._httpd.daemon_threads = True
        if self.tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self):
        return '%s://%s:%d' % ('https' if self.tls else 'http', self.host, self.port)

    @property
    def token_uri(self):
        return self.url + '/token'

    # -- test hooks --

    def add_account(self, email_addr, public_pem, key_id=None):
        if isinstance(public_pem, str):
            public_pem = public_pem.encode()
        with self.lock:
            self.accounts[email_addr] = (public_pem, key_id)

    def add_fault(self, kind, method=None, path=None, count=1, **params):
        """kind: 'status' (code=, message=), 'cut_request' (after=N bytes of
        the body read), 'cut_response' (after=N bytes of the body sent),
        'short_commit' (keep=N bytes of the next chunk, rounded down to
        256 KiB), 'revoke' (every token is revoked before the request is
        served). method/path (a regex on the request target) select the
        requests, skip=N lets the first N of them pass; count is how many
        are hit."""
        with self.lock:
            self.faults.append(Fault(kind, method, path, count, **params))

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def revoke_tokens(self):
        with self.lock:
            self.tokens.clear()

    def object_data(self, bucket, name):
        with self.lock:
            o = self.buckets.get(bucket, {}).get(name)
            return o.data if o else None

    def object_names(self, bucket):
        with self.lock:
            return sorted(self.buckets.get(bucket, {}))

    def put_object(self, bucket, name, data, content_type=None):
        with self.lock:
            o = Obj(bucket, name, data, content_type, self._next_gen())
            self.buckets[bucket][name] = o
            return o

    def live_sessions(self):
        with self.lock:
            return [s for s in self.sessions.values() if s.state == 'active']

    def state(self):
        with self.lock:
            return {
                'objects': {b: {n: {'size': len(o.data), 'generation': o.generation,
                                    'md5Hash': o.md5, 'crc32c': o.crc32c}
                                for n, o in objs.items()}
                            for b, objs in self.buckets.items()},
                'sessions': {s.id: {'bucket': s.bucket, 'name': s.name, 'state': s.state,
                                    'persisted': len(s.data), 'chunks': s.chunks}
                             for s in self.sessions.values()},
                'tokens_issued': len(self.issued),
                'requests': len(self.requests),
            }

    def requests_matching(self, method=None, path=None):
        rx = re.compile(path) if path else None
        with self.lock:
            return [r for r in self.requests
                    if (method is None or r['method'] == method) and
                    (rx is None or rx.search(r['target']))]

    # -- internals --

    def _next_gen(self):
        self._gen = max(self._gen + 1, int(time.time() * 1e6))
        return self._gen

    def _take_fault(self, kinds, method, target):
        with self.lock:
            for f in self.faults:
                if f.kind in kinds and f.count > 0 and f.matches(method, target):
                    if f.params.get('skip', 0) > 0:
                        f.params['skip'] -= 1
                        continue
                    f.count -= 1
                    if f.count == 0:
                        self.faults.remove(f)
                    return f
        return None

    def _log(self, h, status, body_len):
        entry = {'method': h.command, 'target': h.path, 'status': status,
                 'body_len': body_len,
                 'headers': {k.lower(): v for k, v in h.headers.items()}}
        with self.lock:
            self.requests.append(entry)

    # -- auth --

    def _check_token(self, h, write):
        auth = h.headers.get('Authorization')
        if not auth:
            raise GCSError(401, 'Anonymous caller does not have storage.objects.%s access to '
                           'the Google Cloud Storage object.' % ('create' if write else 'get'),
                           'required', {'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/"'})
        m = re.match(r'Bearer\s+(\S+)$', auth)
        with self.lock:
            t = self.tokens.get(m.group(1)) if m else None
        if t is None or t[0] <= time.time():
            raise GCSError(401, 'Invalid Credentials', 'authError',
                           {'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", '
                            'error="invalid_token"'})
        if not any(s in (SCOPE_WRITE if write else SCOPE_READ) for s in t[2]):
            raise GCSError(403, 'Access denied: the access token lacks the scope for this request.',
                           'insufficientPermissions')
        return t[1]

    def _token(self, body):
        form = urllib.parse.parse_qs(body.decode('ascii', 'replace'), keep_blank_values=True)
        grant = form.get('grant_type', [''])[0]
        if grant != JWT_BEARER:
            raise OAuthError('unsupported_grant_type', 'Invalid grant_type: %s' % grant)
        assertion = form.get('assertion', [''])[0]
        with self.lock:
            self.assertions.append(assertion)
        parts = assertion.split('.')
        if len(parts) != 3:
            raise OAuthError('invalid_grant', 'Invalid JWT: the assertion is not a signed JWT.')
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except (ValueError, binascii.Error):
            raise OAuthError('invalid_grant', 'Invalid JWT: the assertion cannot be decoded.')
        if not isinstance(header, dict) or header.get('alg') != 'RS256':
            raise OAuthError('invalid_grant', 'Invalid JWT: unsupported signing algorithm.')
        if not isinstance(claims, dict):
            raise OAuthError('invalid_grant', 'Invalid JWT: the claims are not an object.')
        with self.lock:
            acct = self.accounts.get(claims.get('iss'))
        if acct is None:
            raise OAuthError('invalid_grant', 'Invalid grant: account not found')
        pem, kid = acct
        if 'kid' in header and kid is not None and header['kid'] != kid:
            raise OAuthError('invalid_grant', 'Invalid JWT Signature.')
        signed = (parts[0] + '.' + parts[1]).encode('ascii')
        if not rs256_verify(pem, signed, sig, self.verify):
            raise OAuthError('invalid_grant', 'Invalid JWT Signature.')
        if claims.get('aud') not in TOKEN_AUDIENCES + (self.token_uri,):
            raise OAuthError('invalid_grant', 'Invalid JWT: Failed audience check.')
        now = time.time()
        iat, exp = claims.get('iat'), claims.get('exp')
        if (not isinstance(iat, int) or not isinstance(exp, int) or exp <= iat or
                exp - iat > 3600 or iat > now + 300 or exp < now - 300):
            raise OAuthError('invalid_grant', 'Invalid JWT: Token must be a short-lived token '
                             '(60 minutes) and in a reasonable timeframe. Check your iat and '
                             'exp values in the JWT claim.')
        scopes = str(claims.get('scope') or '').split()
        if not scopes:
            raise OAuthError('invalid_scope', 'Empty or missing scope not allowed.')
        token = 'ya29.fake-' + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (now + self.token_lifetime, claims['iss'], scopes)
            self.issued.append(token)
        return {'access_token': token, 'expires_in': self.token_lifetime, 'token_type': 'Bearer'}

    # -- objects --

    def _bucket(self, name):
        b = self.buckets.get(name)
        if b is None:
            raise GCSError(404, 'The specified bucket does not exist.')
        return b

    def _store(self, bucket, name, data, content_type, if_gen_match=None, hashes=None):
        if hashes:
            self._check_hashes(hashes, data)
        with self.lock:
            objs = self._bucket(bucket)
            cur = objs.get(name)
            if if_gen_match is not None:
                want = int(if_gen_match)
                if (want == 0 and cur is not None) or (want != 0 and (cur is None or cur.generation != want)):
                    raise GCSError(412, 'At least one of the pre-conditions you specified did not hold.')
            o = Obj(bucket, name, data, content_type, self._next_gen())
            objs[name] = o
            return o

    @staticmethod
    def _check_hashes(header, data):
        for item in header.split(','):
            k, _, v = item.strip().partition('=')
            if k == 'md5':
                got = base64.b64encode(hashlib.md5(data).digest()).decode()
                if got != v:
                    raise GCSError(400, 'Provided MD5 hash "%s" doesn\'t match calculated MD5 hash "%s".'
                                   % (v, got))
            elif k == 'crc32c':
                got = crc32c_b64(crc32c(data))
                if got != v:
                    raise GCSError(400, 'Provided CRC32C "%s" doesn\'t match calculated CRC32C "%s".'
                                   % (v, got))

    def _get_obj(self, bucket, name, q):
        with self.lock:
            o = self._bucket(bucket).get(name)
        if o is None or ('generation' in q and str(o.generation) != q['generation']):
            raise GCSError(404, 'No such object: %s/%s' % (bucket, name))
        if 'ifGenerationMatch' in q and str(o.generation) != q['ifGenerationMatch']:
            raise GCSError(412, 'At least one of the pre-conditions you specified did not hold.')
        return o

    def _list(self, bucket, q):
        prefix = q.get('prefix', '')
        delim = q.get('delimiter')
        try:
            max_results = int(q.get('maxResults', '1000'))
        except ValueError:
            raise GCSError(400, 'Invalid value for maxResults')
        if max_results < 1:
            raise GCSError(400, 'Invalid argument: maxResults must be positive.')
        max_results = min(max_results, 1000)
        after = None
        if 'pageToken' in q:
            try:
                t = q['pageToken']
                after = base64.b64decode(t + '=' * (-len(t) % 4), altchars=b'-_',
                                         validate=True).decode()
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise GCSError(400, 'Invalid pageToken')
        with self.lock:
            objs = self._bucket(bucket)
            names = sorted(n for n in objs if n.startswith(prefix))
            entries = []		# (sort key, object or None, prefix or None)
            seen = set()
            for n in names:
                if 'startOffset' in q and n < q['startOffset']:
                    continue
                if 'endOffset' in q and n >= q['endOffset']:
                    continue
                if delim:
                    i = n.find(delim, len(prefix))
                    if i >= 0:
                        p = n[:i + len(delim)]
                        if p not in seen:
                            seen.add(p)
                            entries.append((p, None, p))
                        continue
                entries.append((n, objs[n], None))
        entries.sort(key=lambda e: e[0])
        if after is not None:
            entries = [e for e in entries if e[0] > after]
        page, rest = entries[:max_results], entries[max_results:]
        out = {'kind': 'storage#objects'}
        items = [o for _, o, _ in page if o is not None]
        prefixes = [p for _, _, p in page if p is not None]
        if items:
            out['items'] = items
        if prefixes:
            out['prefixes'] = prefixes
        if rest:
            out['nextPageToken'] = base64.urlsafe_b64encode(page[-1][0].encode()).decode().rstrip('=')
        return out


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Clients that drop connections are part of the tests.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    fake = None
    server_version = 'fakegcs'
    sys_version = ''

    def log_message(self, fmt, *args):
        if not self.fake.quiet:
            sys.stderr.write('fakegcs: ' + (fmt % args) + '\n')

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    # -- body and answers --

    def _read_body(self, limit=None):
        """The request body (Content-Length or chunked). With limit, stops
        after that many bytes and reports whether it stopped early."""
        out = bytearray()
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    return bytes(out), True
                size = int(line.split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b'\r\n', b'\n', b''):
                        pass
                    return bytes(out), False
                while size > 0:
                    want = min(size, 65536)
                    if limit is not None:
                        want = min(want, limit - len(out))
                        if want <= 0:
                            return bytes(out), True
                    b = self.rfile.read(want)
                    if not b:
                        return bytes(out), True
                    out += b
                    size -= len(b)
                self.rfile.readline(16)
        n = int(self.headers.get('Content-Length') or 0)
        while len(out) < n:
            want = min(n - len(out), 65536)
            if limit is not None:
                want = min(want, limit - len(out))
                if want <= 0:
                    return bytes(out), True
            b = self.rfile.read(want)
            if not b:
                return bytes(out), True
            out += b
        return bytes(out), False

    def _cut(self):
        """Drops the connection with a reset, without an answer."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _send(self, status, body=b'', ctype='application/json; charset=UTF-8', headers=None,
              cut_after=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body or status not in (204, 308, 499):
            self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if cut_after is not None and cut_after < len(body):
            self.wfile.write(body[:cut_after])
            self.wfile.flush()
            self._cut()
            return
        for i in range(0, len(body), 65536):
            self.wfile.write(body[i:i + 65536])

    def _dispatch(self):
        fake = self.fake
        target = self.path
        path, _, qs = target.partition('?')
        q = {k: v[0] for k, v in urllib.parse.parse_qs(qs, keep_blank_values=True).items()}
        status = 0
        body_len = 0
        try:
            if fake._take_fault(('revoke',), self.command, target) is not None:
                fake.revoke_tokens()
            f = fake._take_fault(('status',), self.command, target)
            if f is not None:
                body, _ = self._read_body()
                raise GCSError(int(f.params.get('code', 503)),
                               f.params.get('message', 'Backend Error'))
            status, body_len = self._route(path, q, target)
        except _Cut as e:
            status = -1
            body_len = e.args[0] if e.args else 0
        except GCSError as e:
            status = e.code
            self._send(e.code, e.body(), headers=e.headers)
        except OAuthError as e:
            status = e.code
            self._send(e.code, {'error': e.error, 'error_description': e.description})
        except (ConnectionError, BrokenPipeError):
            status = -1
            self.close_connection = True
        fake._log(self, status, body_len)

    # -- routes --

    def _route(self, path, q, target):
        fake = self.fake
        m = self.command
        if path == '/token' and m == 'POST':
            body, _ = self._read_body()
            self._send(200, fake._token(body), headers={'Cache-Control': 'no-store'})
            return 200, len(body)
        if path.startswith('/_fake/'):
            return self._admin(path, m)
        r = re.match(r'^/upload/storage/v1/b/([^/]+)/o$', path)
        if r:
            bucket = urllib.parse.unquote(r.group(1))
            if 'upload_id' in q:
                return self._session(bucket, q, target)
            if m != 'POST':
                raise GCSError(405, 'Method not allowed')
            return self._insert(bucket, q)
        r = re.match(r'^/(download/)?storage/v1/b/([^/]+)/o/(.+)$', path)
        if r:
            bucket = urllib.parse.unquote(r.group(2))
            name = urllib.parse.unquote(r.group(3))
            if m == 'GET':
                self._read_body()
                fake._check_token(self, write=False)
                o = fake._get_obj(bucket, name, q)
                if r.group(1) or q.get('alt') == 'media':
                    return self._media(o, target), 0
                self._send(200, o.resource(self._base()))
                return 200, 0
            if m == 'DELETE':
                self._read_body()
                fake._check_token(self, write=True)
                with fake.lock:
                    objs = fake._bucket(bucket)
                    o = objs.get(name)
                    if o is None or ('generation' in q and str(o.generation) != q['generation']):
                        raise GCSError(404, 'No such object: %s/%s' % (bucket, name))
                    del objs[name]
                self._send(204)
                return 204, 0
            raise GCSError(405, 'Method not allowed')
        r = re.match(r'^/storage/v1/b/([^/]+)/o$', path)
        if r and m == 'GET':
            self._read_body()
            fake._check_token(self, write=False)
            out = fake._list(urllib.parse.unquote(r.group(1)), q)
            base = self._base()
            if 'items' in out:
                out['items'] = [o.resource(base) for o in out['items']]
            self._send(200, out)
            return 200, 0
        r = re.match(r'^/storage/v1/b/([^/]+)$', path)
        if r and m == 'GET':
            self._read_body()
            fake._check_token(self, write=False)
            name = urllib.parse.unquote(r.group(1))
            fake._bucket(name)
            self._send(200, {'kind': 'storage#bucket', 'id': name, 'name': name,
                             'location': 'US', 'storageClass': 'STANDARD'})
            return 200, 0
        self._read_body()
        raise GCSError(404, 'Not Found')

    def _base(self):
        return ('https://' if self.fake.tls else 'http://') + \
            self.headers.get('Host', '%s:%d' % (self.fake.host, self.fake.port))

    def _admin(self, path, m):
        fake = self.fake
        body, _ = self._read_body()
        if path == '/_fake/state' and m == 'GET':
            self._send(200, fake.state())
        elif path == '/_fake/fault' and m == 'POST':
            p = json.loads(body or b'{}')
            fake.add_fault(**p)
            self._send(200, {})
        elif path == '/_fake/revoke' and m == 'POST':
            fake.revoke_tokens()
            self._send(200, {})
        elif path == '/_fake/account' and m == 'POST':
            p = json.loads(body or b'{}')
            fake.add_account(p['email'], p['public_pem'], p.get('key_id'))
            self._send(200, {})
        else:
            raise GCSError(404, 'Not Found')
        return 200, len(body)

    def _media(self, o, target):
        size = len(o.data)
        headers = {'x-goog-generation': str(o.generation), 'x-goog-metageneration': '1',
                   'x-goog-stored-content-length': str(size),
                   'x-goog-stored-content-encoding': 'identity',
                   'x-goog-hash': 'crc32c=%s,md5=%s' % (o.crc32c, o.md5),
                   'x-goog-storage-class': 'STANDARD',
                   'ETag': '"%s"' % o.md5, 'Accept-Ranges': 'bytes',
                   'Last-Modified': time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime(o.created))}
        status, start, end = 200, 0, size
        rng = self.headers.get('Range')
        m = re.match(r'^bytes=(\d*)-(\d*)$', rng.strip()) if rng else None
        if m and (m.group(1) or m.group(2)):
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)) + 1, size) if m.group(2) else size
            else:
                start, end = max(size - int(m.group(2)), 0), size
            if start >= size or end <= start:
                raise GCSError(416, 'The requested range cannot be satisfied.',
                               headers={'Content-Range': 'bytes */%d' % size})
            status = 206
            headers['Content-Range'] = 'bytes %d-%d/%d' % (start, end - 1, size)
        f = self.fake._take_fault(('cut_response',), self.command, target)
        self._send(status, o.data[start:end], ctype=o.content_type, headers=headers,
                   cut_after=int(f.params.get('after', 0)) if f else None)
        return -1 if f else status

    def _insert(self, bucket, q):
        fake = self.fake
        utype = q.get('uploadType')
        if utype not in ('media', 'multipart', 'resumable'):
            self._read_body()
            raise GCSError(400, 'Invalid upload type: %s' % utype)
        body, _ = self._read_body()
        fake._check_token(self, write=True)
        fake._bucket(bucket)
        igm = q.get('ifGenerationMatch')
        if utype == 'media':
            name = q.get('name')
            if not name:
                raise GCSError(400, 'Required parameter: name')
            o = fake._store(bucket, name, body, self.headers.get('Content-Type'), igm,
                            self.headers.get('X-Goog-Hash'))
            self._send(200, o.resource(self._base()))
            return 200, len(body)
        if utype == 'multipart':
            meta, data, ctype = self._multipart(body)
            name = q.get('name') or meta.get('name')
            if not name:
                raise GCSError(400, 'Required parameter: name')
            hashes = []
            if 'md5Hash' in meta:
                hashes.append('md5=' + meta['md5Hash'])
            if 'crc32c' in meta:
                hashes.append('crc32c=' + meta['crc32c'])
            o = fake._store(bucket, name, data, meta.get('contentType') or ctype, igm,
                            ','.join(hashes) or self.headers.get('X-Goog-Hash'))
            self._send(200, o.resource(self._base()))
            return 200, len(body)
        meta = {}
        if body:
            try:
                meta = json.loads(body)
            except ValueError:
                raise GCSError(400, 'Parse Error')
        name = q.get('name') or meta.get('name')
        if not name:
            raise GCSError(400, 'Required parameter: name')
        if q.get('name') and meta.get('name') and q['name'] != meta['name']:
            raise GCSError(400, "Value '%s' in content does not agree with value '%s'."
                           % (meta['name'], q['name']))
        declared = self.headers.get('X-Upload-Content-Length')
        sid = secrets.token_urlsafe(24)
        s = Session(sid, bucket, name,
                    meta.get('contentType') or self.headers.get('X-Upload-Content-Type'),
                    int(declared) if declared else None, igm)
        with fake.lock:
            fake.sessions[sid] = s
        loc = '%s/upload/storage/v1/b/%s/o?uploadType=resumable&name=%s&upload_id=%s' % (
            self._base(), urllib.parse.quote(bucket, safe=''), urllib.parse.quote(name, safe=''), sid)
        self._send(200, headers={'Location': loc, 'X-GUploader-UploadID': sid})
        return 200, len(body)

    def _multipart(self, body):
        ctype = self.headers.get('Content-Type', '')
        if not ctype.startswith('multipart/related'):
            raise GCSError(400, 'Content-Type must be multipart/related')
        msg = email.parser.BytesParser().parsebytes(
            b'Content-Type: ' + ctype.encode() + b'\r\n\r\n' + body)
        parts = msg.get_payload() if msg.is_multipart() else []
        if len(parts) != 2:
            raise GCSError(400, 'Multipart upload needs exactly two parts')
        try:
            meta = json.loads(parts[0].get_payload(decode=True) or b'{}')
        except ValueError:
            raise GCSError(400, 'Parse Error')
        return meta, parts[1].get_payload(decode=True) or b'', parts[1].get_content_type()

    def _session(self, bucket, q, target):
        fake = self.fake
        with fake.lock:
            s = fake.sessions.get(q['upload_id'])
        if self.command == 'DELETE':
            self._read_body()
            if s is None or s.state == 'cancelled':
                raise GCSError(404, 'No such upload session.')
            if s.state == 'complete':
                raise GCSError(400, 'The upload session is already complete.')
            s.state = 'cancelled'
            s.data = bytearray()
            self._send(499)
            return 499, 0
        if self.command != 'PUT':
            self._read_body()
            raise GCSError(405, 'Method not allowed')
        cut = fake._take_fault(('cut_request',), 'PUT', target)
        body, early = self._read_body(int(cut.params.get('after', 0)) if cut else None)
        if s is None or s.state == 'cancelled':
            if cut:
                self._cut()
                raise _Cut(len(body))
            raise GCSError(404, 'No such upload session.')
        if s.state == 'complete':
            if cut:
                self._cut()
                raise _Cut(len(body))
            self._send(200, s.obj.resource(self._base()))
            return 200, len(body)
        with fake.lock:
            return self._chunk(s, body, early, cut, target)

    def _chunk(self, s, body, early, cut, target):
        """One PUT to an active session; the session lock is held."""
        fake = self.fake
        cr = self.headers.get('Content-Range')
        if cr is None:
            start, last, total = 0, None, None	# the whole object in one request
            final = True
        else:
            m = re.match(r'^bytes (\*|(\d+)-(\d+|\*))/(\*|\d+)$', cr.strip())
            if not m:
                raise GCSError(400, 'Failed to parse Content-Range header.')
            total = None if m.group(4) == '*' else int(m.group(4))
            if m.group(1) == '*':
                if body:
                    raise GCSError(400, 'A status query must not carry data.')
                if total is not None:
                    self._check_total(s, total)
                    if total == len(s.data):
                        return self._finish(s, len(body))
                    if total < len(s.data):
                        raise GCSError(400, 'Content-Range total is less than the bytes '
                                       'already uploaded.')
                return self._incomplete(s, len(body))
            start = int(m.group(2))
            if m.group(3) == '*':
                last, final = None, True	# the rest of the object, to the end of the body
            else:
                last = int(m.group(3))
                if last < start:
                    raise GCSError(400, 'Failed to parse Content-Range header.')
                final = total is not None and last + 1 == total
            if total is not None:
                self._check_total(s, total)
        if early:
            body_end = start + len(body)
        else:
            body_end = start + len(body)
            if last is not None and last + 1 != body_end:
                raise GCSError(400, 'The number of bytes in the request (%d) does not match '
                               'the Content-Range header (%s).' % (len(body), cr))
        if start > len(s.data):
            raise GCSError(400, 'Invalid request. The Content-Range starts at %d but only %d '
                           'bytes have been persisted.' % (start, len(s.data)))
        s.chunks.append((start, len(body)))
        if early:
            # The connection broke: what arrived is persisted in whole
            # 256 KiB blocks, the rest is lost.
            keep = (body_end // KIB256) * KIB256
            self._append(s, start, body, keep)
            self._cut()
            raise _Cut(len(body))
        if not final:
            n = body_end - start
            if n < KIB256:
                raise GCSError(400, 'Invalid request.  The number of bytes uploaded is required '
                               'to be equal or greater than 262144, except for the final request '
                               "(it's recommended to be the exact multiple of 262144).  The "
                               'received request contained %d bytes, which does not meet this '
                               'requirement.' % n)
            keep = start + (n // KIB256) * KIB256
            sc = fake._take_fault(('short_commit',), 'PUT', target)
            if sc is not None:
                keep = min(keep, start + (int(sc.params.get('keep', 0)) // KIB256) * KIB256)
            self._append(s, start, body, keep)
            return self._incomplete(s, len(body))
        self._append(s, start, body, body_end)
        if total is None:
            total = body_end
        if total != len(s.data):
            raise GCSError(400, 'Invalid request. The upload ends at %d, expected %d.'
                           % (len(s.data), total))
        return self._finish(s, len(body))

    @staticmethod
    def _check_total(s, total):
        if s.declared_len is not None and total != s.declared_len:
            raise GCSError(400, 'X-Upload-Content-Length validation failed. Expected=%d, got %d.'
                           % (s.declared_len, total))
        if s.total is not None and total != s.total:
            raise GCSError(400, 'The object size changed during the upload: %d, then %d.'
                           % (s.total, total))
        s.total = total

    @staticmethod
    def _append(s, start, body, end):
        """Persists body (at start) up to the absolute offset end, skipping
        what the session already has."""
        have = len(s.data)
        if end > have:
            s.data += body[have - start:end - start]

    def _incomplete(self, s, body_len):
        headers = {'X-GUploader-UploadID': s.id}
        if s.data:
            headers['Range'] = 'bytes=0-%d' % (len(s.data) - 1)
        self._send(308, headers=headers)
        return 308, body_len

    def _finish(self, s, body_len):
        fake = self.fake
        data = bytes(s.data)
        hashes = self.headers.get('X-Goog-Hash')
        try:
            o = fake._store(s.bucket, s.name, data, s.content_type, s.if_generation_match, hashes)
        except GCSError:
            # Google fails the whole upload on a checksum mismatch.
            s.state = 'cancelled'
            s.data = bytearray()
            raise
        s.state = 'complete'
        s.obj = o
        s.data = bytearray()
        self._send(200, o.resource(self._base()))
        return 200, body_len


# ---- the official Node.js client, as an independent party ------------------

# @google-cloud/storage 7.x with google-auth-library's service-account JWT
# client. The library sends its token request to Google's fixed token URL;
# the transporter below sends it to the key file's token_uri instead, so the
# assertion the library signs is the one checked here.
NODE_CLIENT_JS = r"""
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const {Readable} = require('stream');
const {pipeline} = require('stream/promises');
const {Storage} = require('@google-cloud/storage');
const {JWT, DefaultTransporter} = require('google-auth-library');

const sa = JSON.parse(fs.readFileSync(process.env.FAKEGCS_KEYFILE, 'utf8'));
const GOOGLE_TOKEN_URLS = ['https://www.googleapis.com/oauth2/v4/token',
                           'https://oauth2.googleapis.com/token'];
class ToTokenUri extends DefaultTransporter {
  request(opts) {
    if (GOOGLE_TOKEN_URLS.includes(opts.url)) opts.url = sa.token_uri;
    return super.request(opts);
  }
}
const auth = new JWT({email: sa.client_email, key: sa.private_key, keyId: sa.private_key_id,
  scopes: ['https://www.googleapis.com/auth/devstorage.read_write'],
  transporter: new ToTokenUri()});
const opts = {authClient: auth, useAuthWithCustomEndpoint: true, projectId: 'fake-project',
  retryOptions: {autoRetry: true, maxRetries: 2, maxRetryDelay: 1, totalTimeout: 30}};
if (process.env.FAKEGCS_ENDPOINT) opts.apiEndpoint = process.env.FAKEGCS_ENDPOINT;
const storage = new Storage(opts);
const bucket = storage.bucket(process.env.FAKEGCS_BUCKET);
const sha256 = b => crypto.createHash('sha256').update(b).digest('hex');
const out = x => process.stdout.write(JSON.stringify(x) + '\n');

async function main(argv) {
  const [cmd, a, b, c, d] = argv;
  if (cmd === 'upload') {		// upload FILE KEY CHUNK (0: one request)
    const data = fs.readFileSync(a);
    const o = {resumable: true, metadata: {contentType: 'application/octet-stream'}};
    if (+c > 0) o.chunkSize = +c;
    const slices = [];
    for (let i = 0; i < data.length; i += 100000) slices.push(data.subarray(i, i + 100000));
    // The session is made first: 7.x leaves useAuthWithCustomEndpoint out
    // of createWriteStream()'s own session request (the chunks need no
    // token: the session URI is the credential).
    const [uri] = await bucket.file(b).createResumableUpload(o);
    await pipeline(Readable.from(slices), bucket.file(b).createWriteStream({...o, uri}));
    const [m] = await bucket.file(b).getMetadata();
    out({size: +m.size, md5Hash: m.md5Hash, crc32c: m.crc32c});
  } else if (cmd === 'save') {		// save FILE KEY: multipart, one request
    await bucket.file(b).save(fs.readFileSync(a), {resumable: false});
    const [m] = await bucket.file(b).getMetadata();
    out({size: +m.size, md5Hash: m.md5Hash});
  } else if (cmd === 'download') {	// download KEY FILE [START END]
    const o = {};
    if (c !== undefined) { o.start = +c; o.end = +d; }
    const [buf] = await bucket.file(a).download(o);
    fs.writeFileSync(b, buf);
    out({size: buf.length, sha256: sha256(buf)});
  } else if (cmd === 'list') {		// list PREFIX [PAGE]
    let q = {prefix: a || undefined, autoPaginate: false};
    if (b) q.maxResults = +b;
    const names = [];
    let pages = 0;
    while (q) {
      const [files, next] = await bucket.getFiles(q);
      pages++;
      for (const f of files) names.push(f.name);
      q = next;
    }
    out({names, pages});
  } else if (cmd === 'delete') {
    await bucket.file(a).delete();
    out({deleted: a});
  } else if (cmd === 'meta') {
    const [m] = await bucket.file(a).getMetadata();
    out(m);
  } else {
    throw new Error('unknown command ' + cmd);
  }
}

main(process.argv.slice(2)).catch(e => {
  out({error: {code: e.code, message: String(e.message).split('\n')[0]}});
  process.exit(1);
});
"""

NODE_MODULES = '/opt/dbprovd-node/node_modules'


def node_client_available():
    """None when node and @google-cloud/storage can be used, else why not."""
    import shutil
    if not shutil.which('node'):
        return 'node is not installed'
    if not os.path.isdir(os.path.join(NODE_MODULES, '@google-cloud', 'storage')):
        return '@google-cloud/storage is not installed in %s' % NODE_MODULES
    return None


class NodeClient:
    """Runs NODE_CLIENT_JS: NodeClient(endpoint, bucket, keyfile, workdir).run('list', 'p/')
    returns (exit status, parsed JSON answer or None, stderr)."""

    def __init__(self, endpoint, bucket, keyfile, workdir):
        self.endpoint = endpoint
        self.bucket = bucket
        self.keyfile = keyfile
        self.script = os.path.join(workdir, 'gcsclient.js')
        with open(self.script, 'w') as f:
            f.write(NODE_CLIENT_JS)

    def run(self, *args, timeout=60, keyfile=None):
        env = dict(os.environ)
        env.update({'NODE_PATH': NODE_MODULES, 'FAKEGCS_KEYFILE': keyfile or self.keyfile,
                    'FAKEGCS_BUCKET': self.bucket})
        env.pop('STORAGE_EMULATOR_HOST', None)
        if self.endpoint:
            env['FAKEGCS_ENDPOINT'] = self.endpoint
        r = subprocess.run(['node', self.script] + [str(a) for a in args], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        ans = None
        for line in r.stdout.decode('utf-8', 'replace').splitlines():
            try:
                ans = json.loads(line)
            except ValueError:
                pass
        return r.returncode, ans, r.stderr.decode('utf-8', 'replace')


# ---- certificates and service-account keys for tests ------------------------

def make_certificate(dirpath, name='tls'):
    """A self-signed certificate for 127.0.0.1 (openssl command); returns
    (certificate file, key file)."""
    cert, key = os.path.join(dirpath, name + '.crt'), os.path.join(dirpath, name + '.key')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key,
                    '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
                    '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def make_service_account(dirpath, token_uri, email_addr='dbprovd-test@fake-project.iam.gserviceaccount.com',
                         name='sa', bits=2048):
    """Generates an RSA key with the openssl command and writes NAME.json
    (the key file Google hands out, mode 0600) and NAME.pub.pem. Returns
    (json path, public pem bytes, key id, private pem text)."""
    key = os.path.join(dirpath, name + '.key.pem')
    pub = os.path.join(dirpath, name + '.pub.pem')
    subprocess.run(['openssl', 'genpkey', '-algorithm', 'RSA', '-pkeyopt',
                    'rsa_keygen_bits:%d' % bits, '-out', key],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(['openssl', 'pkey', '-in', key, '-pubout', '-out', pub], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(key) as f:
        private_pem = f.read()
    os.unlink(key)
    with open(pub, 'rb') as f:
        public_pem = f.read()
    kid = secrets.token_hex(20)
    doc = {'type': 'service_account', 'project_id': 'fake-project', 'private_key_id': kid,
           'private_key': private_pem, 'client_email': email_addr,
           'client_id': '1' + ''.join(str(secrets.randbelow(10)) for _ in range(20)),
           'auth_uri': 'https://accounts.google.com/o/oauth2/auth', 'token_uri': token_uri,
           'auth_provider_x509_cert_url': 'https://www.googleapis.com/oauth2/v1/certs',
           'client_x509_cert_url': 'https://www.googleapis.com/robot/v1/metadata/x509/x'}
    path = os.path.join(dirpath, name + '.json')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(doc, f, indent=2)
    return path, public_pem, kid, private_pem


def main():
    ap = argparse.ArgumentParser(description='Google Cloud Storage JSON API stand-in')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--bucket', action='append', default=[])
    ap.add_argument('--account', action='append', default=[],
                    help='EMAIL=PUBLIC_KEY_PEM_FILE')
    ap.add_argument('--token-lifetime', type=int, default=3600)
    ap.add_argument('--verbose', action='store_true')
    a = ap.parse_args()
    fake = FakeGCS(buckets=a.bucket or ['bucket'], token_lifetime=a.token_lifetime,
                   host=a.host, port=a.port, quiet=not a.verbose).start()
    for spec in a.account:
        em, _, path = spec.partition('=')
        with open(path, 'rb') as f:
            fake.add_account(em, f.read())
    print('LISTENING %s' % fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == '__main__':
    main()
