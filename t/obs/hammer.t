#!/usr/bin/python3
# t/obs/hammer.t: the HTTP server of dbprovd under abuse, on the loop it
# shares with the controllers: malformed requests get an error status and
# the connection is closed; 1,000 idle connections do not slow /healthz
# and are closed at the read deadline; a client that trickles its request
# is closed at the same deadline; a client that never reads large
# /metrics responses blocks nobody and is closed at the write deadline.
import os
import resource
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep t/lib free of __pycache__
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
import obstest  # noqa: E402
from obstest import sample  # noqa: E402

if not os.path.exists(obstest.DBPROVD):
    skip_all('src/dbprovd is not built')

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < 2200:
    if hard != resource.RLIM_INFINITY and hard < 2200:
        skip_all('the descriptor limit (%d) is too low for 1,000 connections' % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard) if hard != resource.RLIM_INFINITY else 4096, hard))

BAD = [
    (b'hello\r\n\r\n', 400, 'not HTTP'),
    (b'GET / HTTP/1.1\r\n\r\n', 400, 'HTTP/1.1 without Host'),
    (b'GET /healthz HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n', 400, 'obsolete line folding'),
    (b'GET /healthz HTTP/1.1\rHost: a\r\n\r\n', 400, 'bare CR'),
    (b'GET /health\x00z HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'NUL in the target'),
    (b'GET http://a/healthz HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'absolute-form target'),
    (b'GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n', 400, 'bad Content-Length'),
    (b'GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400,
     'two Content-Lengths'),
    (b'POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n', 413, 'a body over the cap'),
    (b'POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 501, 'chunked body'),
    (b'GET /healthz HTTP/3.0\r\nHost: a\r\n\r\n', 505, 'HTTP/3.0'),
    (b'GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ' + b'x' * 10000 + b'\r\n\r\n', 431, 'a 10 KB header'),
    (b'GET /healthz HTTP/1.1\r\nHost: a\r\n' + b''.join(b'X-%d: y\r\n' % i for i in range(80)) + b'\r\n', 431,
     '80 headers'),
    (bytes.fromhex('16030100c4010000c00303') + os.urandom(200), 400, 'a TLS ClientHello on the plain port'),
]


def timed_get(port, path='/healthz'):
    t0 = time.monotonic()
    try:
        st, body = obstest.get(port, path, timeout=5)
    except OSError as e:
        return None, str(e), time.monotonic() - t0
    return st, body, time.monotonic() - t0


def closed(sock, timeout):
    """True when the peer closes sock (EOF or reset) within timeout."""
    sock.settimeout(timeout)
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


st = obstest.Stack()
try:
    d, mport, hport = st.daemon('h')
    ok(dbptest.wait_until(lambda: timed_get(hport)[0] == 200, 15), 'the probe listener answers')

    for data, code, what in BAD:
        out = obstest.raw(hport, data, timeout=5)
        ok(out.startswith(b'HTTP/1.1 %d ' % code) and b'Connection: close' in out,
           'malformed (%s): %d and close' % (what, code))
    st0, body, took = timed_get(hport)
    ok(st0 == 200, 'still serving after the malformed requests')

    # 1,000 concurrent idle connections.
    idle = []
    for _ in range(1000):
        s = socket.socket()
        s.connect(('127.0.0.1', hport))
        idle.append(s)
    t_open = time.monotonic()
    time.sleep(0.3)
    worst = 0.0
    for _ in range(20):
        code, body, took = timed_get(hport)
        if code != 200:
            worst = 99
            break
        worst = max(worst, took)
    ok(worst < 0.5, '/healthz with 1,000 idle connections open: slowest of 20 took %.3f s' % worst)
    s = obstest.parse_samples(obstest.scrape(mport)[1])
    ok((sample(s, 'dbprovd_http_connections', server='health') or 0) >= 1000, 'the 1,000 connections are open')
    gone = sum(1 for x in idle[:50] if closed(x, max(0.1, t_open + 8 - time.monotonic())))
    is_(gone, 50, 'idle connections are closed at the read deadline')
    for x in idle:
        x.close()

    # A client that trickles its request (one byte per 0.5 s).
    slow = socket.create_connection(('127.0.0.1', hport))
    t0 = time.monotonic()
    req = b'GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: ' + b'z' * 100
    cut = False
    for i in range(len(req)):
        try:
            slow.send(req[i:i + 1])
        except OSError:
            cut = True
            break
        slow.settimeout(0.5)
        try:
            if slow.recv(1024) == b'':
                cut = True
                break
        except socket.timeout:
            pass
        except OSError:
            cut = True
            break
        if time.monotonic() - t0 > 12:
            break
    took = time.monotonic() - t0
    ok(cut and took < 8, 'a trickling client is closed at the deadline (%.1f s)' % took)
    slow.close()

    # A client that never reads: 40 pipelined /metrics requests, a tiny
    # receive buffer.
    greedy = socket.socket()
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    greedy.connect(('127.0.0.1', mport))
    greedy.sendall(b'GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n' * 40)
    time.sleep(0.5)
    worst = 0.0
    for _ in range(10):
        code, body, took = timed_get(mport, '/metrics')
        if code != 200 or '# TYPE process_cpu_seconds_total counter' not in body:
            worst = 99
            break
        worst = max(worst, took)
        code, body, took = timed_get(hport)
        worst = max(worst, took if code == 200 else 99)
    ok(worst < 1.0, 'others are served while a client does not read (slowest %.3f s)' % worst)
    ok(closed(greedy, 15), 'the client that does not read is closed at the write deadline')
    greedy.close()
    s = obstest.parse_samples(obstest.scrape(mport)[1])
    ok((sample(s, 'dbprovd_http_timeouts_total', server='metrics') or 0) >= 1, 'timeouts counted')
    ok((sample(s, 'dbprovd_http_bad_requests_total', server='health') or 0) >= len(BAD), 'bad requests counted')
    ok(d.p.poll() is None, 'dbprovd is still running')
    is_(d.stop(10), 0, 'and exits cleanly')
finally:
    st.close()
done_testing()
