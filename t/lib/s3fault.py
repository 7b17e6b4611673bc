# t/lib/s3fault.py: a small in-memory S3 for the failures a real service
# rarely shows on demand: 503 SlowDown, part ETags that are not the MD5 of
# the part, a CompleteMultipartUpload answered 200 with an error body or
# not answered at all, a server that ignores Range. It checks what a real
# S3 checks of a request body (Content-MD5, x-amz-content-sha256,
# x-amz-checksum-sha256) but not signatures (moto does that).
"""An in-memory S3 with injectable faults."""

import base64
import hashlib
import http.server
import re
import threading
import urllib.parse
import uuid


def _xml_error(code, msg, extra=''):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message>%s<RequestId>F4ULT</RequestId></Error>'
            % (code, msg, extra)).encode()


class FaultS3:
    """Serves path-style requests for any bucket on 127.0.0.1. faults maps
    a name to how many times it fires: slowdown, bad_part_etag,
    bad_single_etag, complete_error, complete_lost, ignore_range."""

    def __init__(self):
        self.objects = {}       # key -> bytes
        self.uploads = {}       # upload id -> (key, {part: bytes})
        self.faults = {}
        self.log = []           # (method, path, query dict, headers dict)
        self.lock = threading.Lock()
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def _do(self):
                srv.handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _do

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None
        self.port = self.httpd.server_address[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def fire(self, name):
        with self.lock:
            n = self.faults.get(name, 0)
            if n > 0:
                self.faults[name] = n - 1
                return True
        return False

    def requests(self, method=None, query=None):
        return [r for r in self.log if (method is None or r[0] == method)
                and (query is None or query in r[2])]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- one request ----

    def reply(self, h, status, body=b'', headers=None):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header('Content-Length', str(len(body)))
        h.end_headers()
        if h.command != 'HEAD':
            try:
                h.wfile.write(body)
            except OSError:
                pass        # the client (or a cutting proxy) went away

    def handle(self, h):
        u = urllib.parse.urlsplit(h.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        parts = urllib.parse.unquote(u.path).split('/', 2)
        key = parts[2] if len(parts) > 2 else ''
        n = int(h.headers.get('Content-Length') or 0)
        body = h.rfile.read(n) if n else b''
        hdrs = {k.lower(): v for k, v in h.headers.items()}
        with self.lock:
            self.log.append((h.command, u.path, q, hdrs))
        if self.fire('slowdown'):
            return self.reply(h, 503, _xml_error('SlowDown', 'Please reduce your request rate.'))
        # what S3 checks of every body
        if hdrs.get('x-amz-content-sha256', '') not in ('UNSIGNED-PAYLOAD',
                                                        hashlib.sha256(body).hexdigest()):
            return self.reply(h, 400, _xml_error('XAmzContentSHA256Mismatch',
                                                 'The provided x-amz-content-sha256 header '
                                                 'does not match what was computed.'))
        if 'content-md5' in hdrs and hdrs['content-md5'] != \
                base64.b64encode(hashlib.md5(body).digest()).decode():
            return self.reply(h, 400, _xml_error('BadDigest', 'The Content-MD5 you '
                                                 'specified did not match what we received.'))
        if 'x-amz-checksum-sha256' in hdrs and hdrs['x-amz-checksum-sha256'] != \
                base64.b64encode(hashlib.sha256(body).digest()).decode():
            return self.reply(h, 400, _xml_error('BadDigest', 'The SHA256 you specified '
                                                 'did not match the calculated checksum.'))
        m = h.command
        if m == 'POST' and 'uploads' in q:
            uid = uuid.uuid4().hex
            with self.lock:
                self.uploads[uid] = (key, {})
            return self.reply(h, 200, ('<InitiateMultipartUploadResult><Bucket>b</Bucket>'
                                       '<Key>%s</Key><UploadId>%s</UploadId>'
                                       '</InitiateMultipartUploadResult>' % (key, uid)).encode())
        if 'uploadId' in q:
            return self.multipart(h, m, key, q, body)
        if m == 'PUT':
            self.objects[key] = body
            etag = hashlib.md5(body).hexdigest()
            if self.fire('bad_single_etag'):
                etag = '0' * 32
            return self.reply(h, 200, headers={'ETag': '"%s"' % etag})
        if m == 'DELETE':
            self.objects.pop(key, None)
            return self.reply(h, 204)
        if m in ('GET', 'HEAD'):
            return self.get(h, key)
        return self.reply(h, 400, _xml_error('NotImplemented', 'not here'))

    def multipart(self, h, m, key, q, body):
        uid = q['uploadId']
        with self.lock:
            up = self.uploads.get(uid)
        if up is None:
            return self.reply(h, 404, _xml_error('NoSuchUpload', 'The specified upload '
                                                 'does not exist.'))
        if m == 'PUT':
            up[1][int(q['partNumber'])] = body
            etag = hashlib.md5(body).hexdigest()
            if self.fire('bad_part_etag'):
                etag = 'f' * 32
            return self.reply(h, 200, headers={'ETag': '"%s"' % etag})
        if m == 'DELETE':
            with self.lock:
                self.uploads.pop(uid, None)
            return self.reply(h, 204)
        # Complete
        if self.fire('complete_error'):
            return self.reply(h, 200, _xml_error('InternalError', 'We encountered an '
                                                 'internal error. Please try again.'))
        nums = [int(x) for x in re.findall(r'<PartNumber>(\d+)</PartNumber>', body.decode())]
        data = b''.join(up[1][i] for i in nums)
        md = b''.join(hashlib.md5(up[1][i]).digest() for i in nums)
        etag = '%s-%d' % (hashlib.md5(md).hexdigest(), len(nums))
        with self.lock:
            self.objects[key] = data
            self.etags = getattr(self, 'etags', {})
            self.etags[key] = etag
            self.uploads.pop(uid, None)
        if self.fire('complete_lost'):
            h.close_connection = True
            return
        return self.reply(h, 200, ('<CompleteMultipartUploadResult><Key>%s</Key>'
                                   '<ETag>&quot;%s&quot;</ETag>'
                                   '</CompleteMultipartUploadResult>' % (key, etag)).encode())

    def get(self, h, key):
        data = self.objects.get(key)
        if data is None:
            return self.reply(h, 404, _xml_error('NoSuchKey', 'The specified key does not exist.'))
        etag = getattr(self, 'etags', {}).get(key) or hashlib.md5(data).hexdigest()
        hd = {'ETag': '"%s"' % etag}
        rng = h.headers.get('Range')
        if rng and not self.fire('ignore_range'):
            first = int(re.match(r'bytes=(\d+)-$', rng).group(1))
            if first >= len(data):
                return self.reply(h, 416, _xml_error('InvalidRange', 'The requested range '
                                                     'is not satisfiable',
                                                     '<ActualObjectSize>%d</ActualObjectSize>'
                                                     % len(data)))
            hd['Content-Range'] = 'bytes %d-%d/%d' % (first, len(data) - 1, len(data))
            return self.reply(h, 206, data[first:], hd)
        return self.reply(h, 200, data, hd)
