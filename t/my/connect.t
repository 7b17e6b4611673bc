#!/usr/bin/python3
# Connecting (src/myconn.c, src/pgtls.c) to a throwaway MariaDB 10.11 with
# TLS: unix socket and TCP; "localhost" resolved by c-ares (::1 first,
# refused, then 127.0.0.1) and names from a fake DNS server; TLS modes
# disabled / preferred / required / verify-ca / verify-full honoured
# (checked on the server with Ssl_cipher; the wrong CA fails verify-ca,
# a name the certificate lacks fails verify-full although its address is
# in the certificate: the name is what is checked, before authentication);
# TLS files from PEM bytes through private files; a password with quotes
# and backslashes works; a wrong password gives one clean line without the
# password; server version and MariaDB detection; the connect timeout
# covers resolution and a server that never answers.
import atexit
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, done_testing  # noqa: E402
import dbptest  # noqa: E402
from fakedns import FakeDNS  # noqa: E402
from myserver import MyServer, MyDrv, require_mariadb  # noqa: E402

require_mariadb()
my = MyServer().start()
dns = FakeDNS({'wrong.test': ['127.0.0.1'], 'db.test': ['127.0.0.1']},
              hang=['hang.test']).start()
tlsparent = dbptest.TempDir(prefix='dbprovd-tlsdir-')
atexit.register(tlsparent.cleanup)
CIPHER_Q = "SHOW SESSION STATUS LIKE 'Ssl_cipher'"


def session(args, password=None, extra=()):
    """Starts a driver, acquires one connection; returns (drv, event)."""
    a = list(args) + ['--tls-dir', tlsparent.path, '--connect-timeout', '10'] + list(extra)
    d = MyDrv(a, password=my.password if password is None else password)
    if not d.ready():
        return d, {'ev': 'no_ready', 'stderr': d.stderr_text()}
    return d, d.acquire('c')


def cipher_of(d):
    r = d.query('c', CIPHER_Q)
    if r.get('ev') != 'result' or not r.get('rows'):
        return r
    return r['rows'][0][1]


def connects(name, args, tls=None, **kw):
    """tls: True = the server sees an encrypted session, False = plain."""
    d, e = session(args, **kw)
    good = ok(e and e.get('ev') == 'acquired', name)
    if not good:
        diag(e)
    elif tls is not None:
        c = cipher_of(d)
        if tls:
            ok(isinstance(c, str) and c != '', name + ': encrypted (%s)' % c)
            is_(e.get('cipher'), c, name + ': the engine reports the same cipher')
        else:
            is_(c, '', name + ': not encrypted (Ssl_cipher empty)')
            is_(e.get('cipher'), None, name + ': the engine reports no cipher')
    rc, _ = d.quit()
    is_(rc, 0, name + ': driver exits cleanly')
    err = d.stderr_text()
    d.close()
    return e, err


def refused(name, args, pattern, **kw):
    d, e = session(args, **kw)
    good = ok(e and e.get('ev') == 'acquire_error', name)
    msg = e.get('msg', '') if e else ''
    if good:
        like(msg, pattern, name + ': message (%s)' % msg)
        ok('\n' not in msg, name + ': one line')
    else:
        diag(e)
    rc, _ = d.quit()
    is_(rc, 0, name + ': driver exits cleanly')
    err = d.stderr_text()
    d.close()
    return msg, err


# -- transports ---------------------------------------------------------------
e, _ = connects('unix socket', my.drv_args(host=my.sock), tls=False)
is_(e.get('version'), 101100 + int(e.get('server_info', '10.11.0').split('.')[2].split('-')[0]),
    'server version number from mysql_get_server_version (%s)' % e.get('version'))
ok(e.get('server_info', '').startswith('10.11.'), 'server info string (%s)' % e.get('server_info'))
is_(e.get('mariadb'), True, 'MariaDB detected from the server info')
connects('TCP 127.0.0.1, disabled: no TLS', my.drv_args(tls='disabled'), tls=False)
e, err = connects('TCP localhost through c-ares, disabled', my.drv_args(host='localhost', tls='disabled'),
                  tls=False, extra=['--log-level', 'debug'])

# -- TLS modes ------------------------------------------------------------------
connects('preferred: TLS since the server offers it', my.drv_args(tls='preferred'), tls=True)
connects('required without a CA: encrypted, not verified', my.drv_args(tls='required'), tls=True)
connects('required with the wrong CA: still not verified',
         my.drv_args(tls='required', ca=my.wrong_ca_file), tls=True)
connects('verify-ca with the right CA', my.drv_args(tls='verify-ca', ca=my.ca_file), tls=True)
connects('verify-ca does not check the name (db.test is not in the certificate)',
         my.drv_args(host='db.test', tls='verify-ca', ca=my.ca_file,
                     extra=['--dns-server', dns.addr]), tls=True)
refused('verify-ca with the wrong CA', my.drv_args(tls='verify-ca', ca=my.wrong_ca_file),
        r'certificate')
refused('verify-ca without a CA uses the system roots (not ours)',
        my.drv_args(tls='verify-ca'), r'certificate')
e, err = connects('verify-full with host localhost', my.drv_args(host='localhost', tls='verify-full',
                                                                ca=my.ca_file),
                  tls=True, extra=['--log-level', 'debug'])
like(err, r'TLS name check uses the host name.*"name":"localhost"',
     'the library checked the certificate against "localhost", not the address')
connects('verify-full over the unix socket (the library checks "localhost")',
         my.drv_args(host=my.sock, tls='verify-full', ca=my.ca_file), tls=True)
connects('verify-full with 127.0.0.1 (an IP SAN of the certificate)',
         my.drv_args(host='127.0.0.1', tls='verify-full', ca=my.ca_file), tls=True)
def preauth_aborts():
    return int(my.sql("SHOW GLOBAL STATUS LIKE 'Aborted_connects_preauth'")[0][1])


aborts0 = preauth_aborts()
msg, err = refused('verify-full with a host the certificate does not name',
                   my.drv_args(host='wrong.test', tls='verify-full', ca=my.ca_file,
                               extra=['--dns-server', dns.addr, '--log-level', 'debug']),
                   r'certificate|host name')
like(err, r'TLS name check uses the host name.*"name":"wrong.test"',
     'checked by the library during the handshake, against the name')
ok('wrong.test' in [q[0] for q in dns.queries], 'the name was resolved by c-ares')
ok(dbptest.wait_until(lambda: preauth_aborts() == aborts0 + 1, timeout=5),
   'the server saw the session end before authentication (Aborted_connects_preauth)')
refused('verify-full with the wrong CA', my.drv_args(host='localhost', tls='verify-full',
                                                     ca=my.wrong_ca_file), r'certificate')

# A server without TLS: required fails, preferred falls back to plain.
my2 = MyServer(tls=False).start()
connects('preferred against a server without TLS: plain', my2.drv_args(tls='preferred'),
         tls=False, password=my2.password)
refused('required against a server without TLS', my2.drv_args(tls='required'),
        r'TLS is required but the server does not support it', password=my2.password)
my2.cleanup()

# -- passwords -------------------------------------------------------------------
hostile_pw = "p w'd\\ x=1;--\"`"
my.sql("CREATE USER 'hostile'@'%%' IDENTIFIED BY '%s'" %
       hostile_pw.replace('\\', '\\\\').replace("'", "''"))
my.sql("GRANT SELECT ON mysql.* TO 'hostile'@'%'")
d, e = session(my.drv_args(user='hostile', tls='required'), password=hostile_pw)
ok(e and e.get('ev') == 'acquired', 'password with space, quotes, backslash and ; works') or diag(e)
r = d.query('c', 'SELECT CURRENT_USER()') if e and e.get('ev') == 'acquired' else {}
is_(r.get('rows'), [['hostile@%']], 'as that user')
d.quit()
d.close()

wrong = "Wr0ng-S3cret-'\\;x"
msg, err = refused('wrong password', my.drv_args(host='localhost', tls='required'),
                   r"Access denied for user 'admin'@'127\.0\.0\.1'", password=wrong)
ok(wrong not in msg and 'Wr0ng' not in msg, 'message does not contain the password')
ok('Wr0ng' not in err, 'driver output (logs) does not contain it either')
ok(my.password not in err, 'nor the right one')

# -- database ----------------------------------------------------------------------
my.sql('CREATE DATABASE appdb')
d, e = session(my.drv_args(dbname='appdb'))
r = d.query('c', 'SELECT DATABASE()')
is_(r.get('rows'), [['appdb']], 'default database from the parameters')
d.quit()
d.close()
refused('unknown database', my.drv_args(dbname='nosuchdb'), r"Unknown database 'nosuchdb'")

# -- timeouts and failures ---------------------------------------------------------------
d = MyDrv(my.drv_args(host='hang.test', extra=['--dns-server', dns.addr, '--dns-timeout', '5',
                                               '--connect-timeout', '1']), password=my.password)
d.ready()
t0 = time.monotonic()
e = d.acquire('c')
el = time.monotonic() - t0
ok(e and e.get('ev') == 'acquire_error', 'host that never resolves: error')
like(e.get('msg', '') if e else '', r'timed out resolving host "hang\.test"',
     'connect timeout covers resolution')
ok(el < 5, 'after the connect timeout, not the DNS one (%.2fs)' % el)
d.quit()
d.close()

# A server that accepts TCP but never speaks.
silent = socket.socket()
silent.bind(('127.0.0.1', 0))
silent.listen(16)
d = MyDrv(['--host', '127.0.0.1', '--port', str(silent.getsockname()[1]), '--user', 'x',
           '--tls', 'disabled', '--connect-timeout', '1'], password='x')
d.ready()
t0 = time.monotonic()
e = d.acquire('c')
el = time.monotonic() - t0
like(e.get('msg', '') if e else '', r'timed out after 1s connecting to my#\d+ x@127\.0\.0\.1:\d+/mysql',
     'silent server: connect timeout')
ok(0.9 < el < 5, 'after about a second (%.2fs)' % el)
d.quit()
d.close()
silent.close()

# A server that greets, offers TLS, and then stalls in the handshake.
# Connector/C 3.3 runs the handshake on a blocking socket: the read and
# write timeouts (set to the connect timeout) bound it.
def stalling_server():
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(4)
    held = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            held.append(conn)
            caps = 0x1 | 0x8 | 0x200 | 0x800 | 0x8000 | 0x80000
            body = (b'\x0a' + b'5.5.5-10.11.0-stall\x00' + struct.pack('<I', 7) +
                    b'abcdefgh' + b'\x00' + struct.pack('<H', caps & 0xffff) +
                    b'\x21' + struct.pack('<H', 2) + struct.pack('<H', caps >> 16) +
                    b'\x15' + b'\x00' * 10 + b'ijklmnopqrst\x00' +
                    b'mysql_native_password\x00')
            conn.sendall(struct.pack('<I', len(body))[:3] + b'\x00' + body)
    threading.Thread(target=serve, daemon=True).start()
    return srv, held


srv, held = stalling_server()
d = MyDrv(['--host', '127.0.0.1', '--port', str(srv.getsockname()[1]), '--user', 'x',
           '--tls', 'required', '--connect-timeout', '1'], password='x')
d.ready()
t0 = time.monotonic()
e = d.acquire('c')
el = time.monotonic() - t0
ok(e and e.get('ev') == 'acquire_error', 'server stalling in the TLS handshake: error (%s)' %
   (e or {}).get('msg'))
# valgrind makes TLS set-up itself take seconds
ok(el < (15 if os.environ.get('DBPROVD_VALGRIND') else 4),
   'bounded by the connect timeout (%.2fs)' % el)
t0 = time.monotonic()
st = d.stats()
ok(st is not None and time.monotonic() - t0 < 1, 'the driver answers at once afterwards')
d.quit()
d.close()
srv.close()
for h in held:
    h.close()

port = socket.socket()
port.bind(('127.0.0.1', 0))
closed_port = port.getsockname()[1]
port.close()
refused('nothing listening', ['--host', 'localhost', '--port', str(closed_port), '--user', 'x'],
        r"Can't connect to server on '(127\.0\.0\.1|::1)'", password='x')
refused('no such socket', ['--host', my.tmp.join('nope.sock'), '--user', 'x'],
        r"Can't connect to local server through socket", password='x')

dns.stop()
done_testing()
