#!/usr/bin/python3
# Connecting (src/pgconn.c, src/pgtls.c) to a throwaway PostgreSQL 15 with
# TLS: unix socket and TCP; "localhost" resolved by c-ares and handed to
# libpq as host + hostaddr; sslmode disable / require / verify-ca /
# verify-full honoured (verify-full with a name not in the certificate
# fails, the wrong CA fails, no CA means the system roots); client
# certificates from PEM bytes through private 0600 files that disappear at
# exit; passwords with spaces, quotes and backslashes work (no conninfo
# strings); a wrong password gives one clean line without the password;
# application_name; the connect timeout covers resolution and a server
# that never answers.
import atexit
import os
import socket
import stat
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, done_testing  # noqa: E402
import dbptest  # noqa: E402
from fakedns import FakeDNS  # noqa: E402
from pgserver import PgServer, PgDrv, require_postgres  # noqa: E402

require_postgres()
pg = PgServer().start()
dns = FakeDNS({'wrong.test': ['127.0.0.1'], 'db.test': ['127.0.0.1']},
              hang=['hang.test']).start()
tlsparent = dbptest.TempDir(prefix='dbprovd-tlsdir-')
atexit.register(tlsparent.cleanup)
SSL_Q = "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def session(args, password=None, db=None, appname=None, extra=()):
    """Starts a driver, acquires one connection; returns (drv, event)."""
    a = list(args) + ['--tls-dir', tlsparent.path, '--connect-timeout', '10'] + list(extra)
    if appname:
        a += ['--appname', appname]
    d = PgDrv(a, password=pg.password if password is None else password)
    if not d.ready():
        return d, {'ev': 'no_ready', 'stderr': d.stderr_text()}
    return d, d.acquire('c', db)


def connects(name, args, want_ssl=None, **kw):
    d, e = session(args, **kw)
    good = ok(e and e.get('ev') == 'acquired', name)
    if not good:
        diag(e)
    ssl = None
    if good:
        r = d.query('c', SSL_Q)
        ssl = r.get('rows', [[None]])[0][0] if r.get('ev') == 'result' else r
        if want_ssl is not None:
            is_(ssl, want_ssl, name + ': TLS in use is %s' % want_ssl)
    d.quit()
    d.close()
    return e


def refused(name, args, pattern, **kw):
    d, e = session(args, **kw)
    good = ok(e and e.get('ev') == 'acquire_error', name)
    msg = e.get('msg', '') if e else ''
    if good:
        like(msg, pattern, name + ': message')
        ok('\n' not in msg, name + ': one line')
    else:
        diag(e)
    d.quit()
    err = d.stderr_text()
    d.close()
    return msg, err


# -- transports ---------------------------------------------------------------
e = connects('unix socket', pg.drv_args(host=pg.sockdir))
ok(e.get('version', 0) >= 150000, 'server version from PQserverVersion (%s)' % e.get('version'))
connects('TCP 127.0.0.1, sslmode disable', pg.drv_args(sslmode='disable'), want_ssl='false')
connects('TCP localhost (c-ares) , sslmode prefer', pg.drv_args(host='localhost', sslmode='prefer'),
         want_ssl='true')

# -- sslmode ------------------------------------------------------------------
connects('require without a CA: encrypted, not verified',
         pg.drv_args(sslmode='require'), want_ssl='true')
connects('verify-ca with the right CA (name not checked: 127.0.0.1)',
         pg.drv_args(sslmode='verify-ca', ca=pg.ca_file), want_ssl='true')
connects('verify-ca with a name the certificate lacks still works',
         pg.drv_args(host='db.test', sslmode='verify-ca', ca=pg.ca_file,
                     extra=['--dns-server', dns.addr]), want_ssl='true')
connects('verify-full with host localhost', pg.drv_args(host='localhost', sslmode='verify-full',
                                                        ca=pg.ca_file), want_ssl='true')
refused('verify-full with a host the certificate does not name',
        pg.drv_args(host='wrong.test', sslmode='verify-full', ca=pg.ca_file,
                    extra=['--dns-server', dns.addr]),
        r'does not match host name "wrong\.test"')
ok(('wrong.test', 1) in dns.queries, 'the name was resolved by c-ares, checked by libpq')
refused('verify-ca with the wrong CA', pg.drv_args(sslmode='verify-ca', ca=pg.wrong_ca_file),
        r'certificate verify failed')
refused('verify-full without a CA uses the system roots (not ours)',
        pg.drv_args(host='localhost', sslmode='verify-full'), r'certificate verify failed')
refused('require with a CA verifies the chain (libpq semantics)',
        pg.drv_args(sslmode='require', ca=pg.wrong_ca_file), r'certificate verify failed')

# -- client certificate (pg_hba: hostssl certuser cert) --------------------------
with open(pg.ca_file) as f:
    ca_pem = f.read()
d, e = session(pg.drv_args(host='localhost', user='certuser', sslmode='verify-full',
                           ca=pg.ca_file, cert=pg.client_cert, key=pg.client_key),
               password='')
ok(e and e.get('ev') == 'acquired', 'client certificate authenticates certuser') or diag(e)
r = d.query('c', 'SELECT current_user')
is_(r.get('rows'), [['certuser']], 'as certuser')
st = d.stats()
tdir = st.get('tls_dir') or ''
ok(tdir.startswith(tlsparent.path + '/'), 'TLS files in the private directory')
files = sorted(os.listdir(tdir)) if tdir and os.path.isdir(tdir) else []
is_(len(files), 3, 'CA, certificate and key files: %s' % files)
ok(tdir and stat.S_IMODE(os.stat(tdir).st_mode) == 0o700, 'directory 0700')
ok(files and all(stat.S_IMODE(os.stat(os.path.join(tdir, f)).st_mode) == 0o600 for f in files),
   'files 0600')
ca_copy = [f for f in files if f.endswith('-ca.pem')]
ok(ca_copy and open(os.path.join(tdir, ca_copy[0])).read() == ca_pem, 'CA written unchanged')
rc, bye = d.quit()
d.close()
is_(rc, 0, 'driver exits cleanly')
ok(not os.path.exists(tdir), 'TLS files and directory removed at exit')

d, e = session(pg.drv_args(host='localhost', user='certuser', sslmode='verify-full',
                           ca=pg.ca_file), password='')
ok(e and e.get('ev') == 'acquire_error', 'certuser without a certificate is refused')
d.quit()
d.close()

# -- passwords ------------------------------------------------------------------
hostile_pw = "p w'd\\ x=1 host=evil"
pg.sql("CREATE ROLE hostile LOGIN PASSWORD '%s'" % hostile_pw.replace("'", "''"))
d, e = session(pg.drv_args(user='hostile', sslmode='require'), password=hostile_pw)
ok(e and e.get('ev') == 'acquired', 'password with space, quote, backslash and "host=" works')
r = d.query('c', 'SELECT current_user, inet_server_port()') if e and e.get('ev') == 'acquired' else {}
is_(r.get('rows'), [['hostile', str(pg.port)]], 'as that user, on the right server')
d.quit()
d.close()

wrong = "Wr0ng-S3cret-'\\;x"
msg, err = refused('wrong password', pg.drv_args(host='localhost', sslmode='require'),
                   r'password authentication failed for user "postgres"', password=wrong)
ok(wrong not in msg and 'Wr0ng' not in msg, 'message does not contain the password')
ok('Wr0ng' not in err, 'driver output (logs) does not contain it either')
ok(pg.password not in err, 'nor the right one')

# -- application_name -------------------------------------------------------------
d, e = session(pg.drv_args(sslmode='require'), appname='dbprovd-connect-test')
r = d.query('c', 'SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()')
is_(r.get('rows'), [['dbprovd-connect-test']], 'application_name passed')
is_(pg.count_app('dbprovd-connect-test'), 1, 'visible in pg_stat_activity')
d.quit()
d.close()
d, e = session(pg.drv_args(sslmode='disable'))
r = d.query('c', 'SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()')
is_(r.get('rows'), [['dbprovd']], 'default application_name dbprovd')
d.quit()
d.close()

# -- timeouts --------------------------------------------------------------------
t0 = time.monotonic()
d = PgDrv(pg.drv_args(host='hang.test', extra=['--dns-server', dns.addr, '--dns-timeout', '5',
                                               '--connect-timeout', '1']), password=pg.password)
d.ready()
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
t0 = time.monotonic()
d = PgDrv(['--host', '127.0.0.1', '--port', str(silent.getsockname()[1]), '--user', 'x',
           '--sslmode', 'disable', '--connect-timeout', '1'], password='x')
d.ready()
e = d.acquire('c')
el = time.monotonic() - t0
like(e.get('msg', '') if e else '', r'timed out after 1s connecting to pg#\d+ x@127\.0\.0\.1:\d+/postgres',
     'silent server: connect timeout')
ok(0.9 < el < 5, 'after about a second (%.2fs)' % el)
d.quit()
d.close()
silent.close()

# Nothing listening: refused at once.
port = socket.socket()
port.bind(('127.0.0.1', 0))
closed_port = port.getsockname()[1]
port.close()
refused('nothing listening', ['--host', 'localhost', '--port', str(closed_port), '--user', 'x'],
        r'Connection refused', password='x')

dns.stop()
done_testing()
