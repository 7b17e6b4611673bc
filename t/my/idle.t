#!/usr/bin/python3
# A connection that the server ends while it is idle (src/myconn.c, READY
# watches the socket), against a small fake server speaking just enough of
# the protocol: greeting, OK to the login, then -- on cue -- an error
# packet (as MySQL 8 sends for its idle timeout, error 4031) and EOF. The
# engine reports the connection lost with the server's error number,
# SQLSTATE and message; the pool closes it; a plain EOF gives a generic
# message. No real server is needed.
import os
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from myserver import MyDrv, DRV  # noqa: E402

if not os.path.exists(DRV):
    skip_all('t/drv/mydrv is not built (run make check)')


def packet(seq, body):
    return struct.pack('<I', len(body))[:3] + bytes([seq]) + body


def read_packet(conn):
    head = b''
    while len(head) < 4:
        chunk = conn.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    n = head[0] | head[1] << 8 | head[2] << 16
    body = b''
    while len(body) < n:
        chunk = conn.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return body


class FakeServer:
    """Greets (no TLS offered), answers the login with OK, then waits."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.bind(('127.0.0.1', 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.conns = []
        self.logged_in = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            caps = 0x1 | 0x8 | 0x200 | 0x8000 | 0x80000
            body = (b'\x0a' + b'8.0.36-fake\x00' + struct.pack('<I', 11) + b'abcdefgh' +
                    b'\x00' + struct.pack('<H', caps & 0xffff) + b'\x21' +
                    struct.pack('<H', 2) + struct.pack('<H', caps >> 16) + b'\x15' +
                    b'\x00' * 10 + b'ijklmnopqrst\x00' + b'mysql_native_password\x00')
            conn.sendall(packet(0, body))
            if read_packet(conn) is None:
                conn.close()
                continue
            conn.sendall(packet(2, b'\x00\x00\x00\x02\x00\x00\x00'))
            self.conns.append(conn)
            self.logged_in.set()

    def goodbye(self, errno=None, sqlstate=b'HY000', msg=b''):
        conn = self.conns.pop()
        if errno is not None:
            conn.sendall(packet(0, b'\xff' + struct.pack('<H', errno) + b'#' + sqlstate + msg))
        conn.close()

    def close(self):
        self.srv.close()


fake = FakeServer()
d = MyDrv(['--host', '127.0.0.1', '--port', str(fake.port), '--user', 'u', '--tls', 'disabled',
           '--dbname', 'db', '--idle-timeout', '60'], password='pw')
ok(d.ready(), 'driver ready')
e = d.acquire('c')
ok(e and e.get('ev') == 'acquired', 'logged in to the fake server') or diag(e)
is_(e.get('mariadb') if e else None, False, 'a MySQL server is not MariaDB')
is_(e.get('version') if e else None, 80036, 'version number 8.0.36')

msg = (b'The client was disconnected by the server because of inactivity. '
       b'See wait_timeout and interactive_timeout for configuring this behavior.')
fake.goodbye(4031, b'HY000', msg)


def info():
    d.send(op='info', id='c')
    return d.wait_ev('info', 'c') or {}


ok(dbptest.wait_until(lambda: info().get('state') == 'FAILED', timeout=5),
   'the borrowed idle connection noticed at once')
r = d.query('c', 'SELECT 1')
is_((r.get('code'), r.get('errno'), r.get('sqlstate')), ('lost', 4031, 'HY000'),
    "lost, with the server's error number and SQLSTATE")
like(r.get('msg'), r'^connection closed by the server: The client was disconnected by the server '
     r'because of inactivity\.', "and its message (%s)" % r.get('msg'))
d.release('c')
is_(d.stats()['closed_broken'], 1, 'the pool closed it')

# Idle in the pool, plain EOF.
e = d.acquire('c2')
ok(e and e.get('ev') == 'acquired', 'a new connection')
d.release('c2')
is_(d.stats()['idle'], 1, 'idle in the pool')
fake.goodbye()
ok(dbptest.wait_until(lambda: d.stats()['idle'] == 0, timeout=5), 'EOF while idle: closed')
is_(d.stats()['closed_broken'], 2, 'as broken')
rc, _ = d.quit()
is_(rc, 0, 'driver exits cleanly')
fake.close()
done_testing()
