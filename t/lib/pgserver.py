# t/lib/pgserver.py: a throwaway PostgreSQL server for the integration
# tests, and a client for the engine driver t/drv/pgdrv.
#
#   from pgserver import PgServer, PgDrv, require_postgres
#   require_postgres()                 # skip_all when the binaries are missing
#   pg = PgServer().start()            # TCP 127.0.0.1:<free port> + unix socket
#   pg.sql("SELECT 1")                 # rows as lists of strings (psql)
#   drv = PgDrv(pg.drv_args(sslmode='verify-full', host='localhost'))
#   drv.acquire('c1'); drv.query('c1', 'SELECT $1::text', ['x'])
#
# The server: initdb (as the postgres user when run as root: initdb refuses
# root) with SCRAM for the superuser, a throwaway CA made with the openssl
# CLI, a server certificate for localhost/127.0.0.1/::1 and a client
# certificate for the role "certuser"; ssl=on; pg_hba: unix socket and TCP
# with scram-sha-256, certuser by certificate over TLS. Everything lives in
# one temp dir removed at exit (kept with DBPROVD_KEEP_TMP=1), and the
# server is stopped at exit. DBPROVD_VALGRIND=1 runs every driver under
# valgrind (configure without --enable-sanitizers for that).
"""Throwaway PostgreSQL and the pgdrv client."""

import atexit
import glob
import json
import os
import pwd
import queue
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import dbptest
from tap import skip_all

DRV = dbptest.build_path('t/drv/pgdrv')


def find_bindir():
    cands = [os.environ.get('PG_BINDIR')]
    cands += sorted(glob.glob('/usr/lib/postgresql/*/bin'), reverse=True)
    for d in cands:
        if d and all(os.access(os.path.join(d, b), os.X_OK)
                     for b in ('initdb', 'pg_ctl', 'postgres', 'psql')):
            return d
    return None


def require_postgres():
    """skip_all unless a PostgreSQL server, openssl and the driver exist."""
    if not os.path.exists(DRV):
        skip_all('t/drv/pgdrv is not built (run make check)')
    if find_bindir() is None:
        skip_all('PostgreSQL server binaries not found (initdb, pg_ctl, postgres)')
    if shutil.which('openssl') is None:
        skip_all('openssl command not found')
    if os.geteuid() == 0:
        try:
            pwd.getpwnam('postgres')
        except KeyError:
            skip_all('running as root without a postgres user for initdb')


free_port = dbptest.free_port


def _run(argv, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (argv[0], r.returncode,
                                                    r.stderr.decode('utf-8', 'replace')))
    return r.stdout.decode('utf-8', 'replace')


class PgServer:
    """One PostgreSQL cluster in a temp dir; see the module comment."""

    def __init__(self, ssl=True):
        self.bindir = find_bindir()
        self.ssl = ssl
        self.tmp = dbptest.TempDir(prefix='dbprovd-pg-')
        self.dir = self.tmp.path
        self.data = self.tmp.join('data')
        self.sockdir = self.tmp.join('sock')
        self.logfile = self.tmp.join('server.log')
        self.port = free_port()
        self.host = '127.0.0.1'
        self.superuser = 'postgres'
        self.password = 'su-' + secrets.token_hex(8)
        self.running = False
        self.as_postgres = os.geteuid() == 0
        atexit.register(self.cleanup)

    # -- helpers ----------------------------------------------------------
    def _path(self, name):
        return self.tmp.join(name)

    def _pg(self, argv, **kw):
        """Runs a server binary, as the postgres user when we are root."""
        full = [os.path.join(self.bindir, argv[0])] + argv[1:]
        if self.as_postgres:
            full = ['runuser', '-u', 'postgres', '--'] + full
        return _run(full, **kw)

    def _chown(self, path):
        if self.as_postgres:
            pw = pwd.getpwnam('postgres')
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _openssl(self, *args):
        _run(['openssl'] + list(args), cwd=self.dir)

    def _make_ca(self, name):
        self._openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
                      'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
                      '-subj', '/CN=dbprovd test %s' % name,
                      '-addext', 'basicConstraints=critical,CA:TRUE',
                      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
                      '-keyout', name + '.key', '-out', name + '.crt')

    def _make_leaf(self, name, cn, ca, ext):
        self._openssl('req', '-new', '-newkey', 'ec', '-pkeyopt',
                      'ec_paramgen_curve:prime256v1', '-nodes', '-subj',
                      '/CN=' + cn, '-keyout', name + '.key', '-out', name + '.csr')
        with open(self._path(name + '.ext'), 'w') as f:
            f.write(ext)
        self._openssl('x509', '-req', '-in', name + '.csr', '-CA', ca + '.crt',
                      '-CAkey', ca + '.key', '-CAcreateserial', '-days', '2',
                      '-out', name + '.crt', '-extfile', name + '.ext')

    def make_certs(self):
        self._make_ca('ca')
        self._make_ca('wrongca')
        self._make_leaf('server', 'localhost', 'ca',
                        'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n'
                        'basicConstraints=CA:FALSE\n'
                        'keyUsage=digitalSignature,keyEncipherment\n'
                        'extendedKeyUsage=serverAuth\n')
        self._make_leaf('client', 'certuser', 'ca',
                        'basicConstraints=CA:FALSE\n'
                        'keyUsage=digitalSignature,keyEncipherment\n'
                        'extendedKeyUsage=clientAuth\n')
        for n in ('server.key', 'server.crt', 'ca.crt'):
            self._chown(self._path(n))
        os.chmod(self._path('server.key'), 0o600)
        self.ca_file = self._path('ca.crt')
        self.wrong_ca_file = self._path('wrongca.crt')
        self.client_cert = self._path('client.crt')
        self.client_key = self._path('client.key')

    # -- life cycle ---------------------------------------------------------
    def start(self):
        os.chmod(self.dir, 0o755)
        self._chown(self.dir)
        os.mkdir(self.sockdir)
        self._chown(self.sockdir)
        pwfile = self._path('pwfile')
        with open(pwfile, 'w') as f:
            f.write(self.password + '\n')
        self._chown(pwfile)
        self._pg(['initdb', '-D', self.data, '-U', self.superuser,
                  '--pwfile=' + pwfile, '-A', 'scram-sha-256', '-E', 'UTF8',
                  '--locale=C', '--no-sync'])
        os.unlink(pwfile)
        if self.ssl:
            self.make_certs()
        conf = [
            "listen_addresses = '127.0.0.1'",
            'port = %d' % self.port,
            "unix_socket_directories = '%s'" % self.sockdir,
            'max_connections = 60',
            'fsync = off',
            'synchronous_commit = off',
            'full_page_writes = off',
            "password_encryption = 'scram-sha-256'",
            'log_connections = on',
            'log_disconnections = on',
        ]
        if self.ssl:
            conf += [
                'ssl = on',
                "ssl_cert_file = '%s'" % self._path('server.crt'),
                "ssl_key_file = '%s'" % self._path('server.key'),
                "ssl_ca_file = '%s'" % self._path('ca.crt'),
            ]
        with open(os.path.join(self.data, 'postgresql.conf'), 'a') as f:
            f.write('\n# dbprovd tests\n' + '\n'.join(conf) + '\n')
        hba = [
            'local   all  all                      scram-sha-256',
            'hostssl all  certuser  127.0.0.1/32   cert',
            'host    all  all       127.0.0.1/32   scram-sha-256',
            'host    all  all       ::1/128        scram-sha-256',
        ]
        with open(os.path.join(self.data, 'pg_hba.conf'), 'w') as f:
            f.write('\n'.join(hba) + '\n')
        self._pg(['pg_ctl', '-D', self.data, '-l', self.logfile, '-w', '-t', '60',
                  'start'])
        self.running = True
        self.sql("CREATE ROLE certuser LOGIN")
        return self

    def stop(self, mode='fast'):
        if self.running:
            self._pg(['pg_ctl', '-D', self.data, '-m', mode, '-w', '-t', '60', 'stop'])
            self.running = False

    def start_again(self):
        self._pg(['pg_ctl', '-D', self.data, '-l', self.logfile, '-w', '-t', '60',
                  'start'])
        self.running = True

    def restart(self, mode='fast'):
        self._pg(['pg_ctl', '-D', self.data, '-l', self.logfile, '-m', mode, '-w',
                  '-t', '60', 'restart'])
        self.running = True

    def cleanup(self):
        if self.running:
            try:
                self.stop('immediate')
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        self.tmp.cleanup()

    def log_text(self):
        try:
            with open(self.logfile, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    # -- queries through psql (unix socket, superuser) -------------------------
    def sql(self, query, db='postgres'):
        """Rows of the query as lists of strings; raises on error."""
        env = dict(os.environ, PGPASSWORD=self.password, PGCONNECT_TIMEOUT='10')
        out = _run([os.path.join(self.bindir, 'psql'), '-X', '-q', '-A', '-t',
                    '-F', '\x1f', '-v', 'ON_ERROR_STOP=1', '-h', self.sockdir,
                    '-p', str(self.port), '-U', self.superuser, '-d', db,
                    '-c', query], env=env)
        return [line.split('\x1f') for line in out.splitlines() if line != '']

    def login(self, user, password, db='postgres'):
        """True if user can log in with password over TCP (scram-sha-256
        in pg_hba); the password travels in the environment."""
        env = dict(os.environ, PGPASSWORD=password, PGCONNECT_TIMEOUT='10',
                   PGSSLMODE='disable')
        try:
            out = _run([os.path.join(self.bindir, 'psql'), '-X', '-q', '-A', '-t', '-w',
                        '-h', '127.0.0.1', '-p', str(self.port), '-U', user, '-d', db,
                        '-c', 'SELECT current_user'], env=env)
        except Exception:
            return False
        return out.strip() == user

    def value(self, query, db='postgres'):
        rows = self.sql(query, db)
        return rows[0][0] if rows else None

    def count_app(self, appname):
        return int(self.value("SELECT count(*) FROM pg_stat_activity "
                              "WHERE application_name = '%s'" % appname))

    # -- driver arguments -----------------------------------------------------
    def drv_args(self, host=None, user=None, sslmode='disable', ca=None,
                 cert=None, key=None, dbname='postgres', extra=()):
        args = ['--host', host or self.host, '--port', str(self.port),
                '--user', user or self.superuser, '--dbname', dbname,
                '--sslmode', sslmode]
        if ca:
            args += ['--ca', ca]
        if cert:
            args += ['--cert', cert]
        if key:
            args += ['--key', key]
        return args + list(extra)


class PgDrv:
    """t/drv/pgdrv as a child: JSON commands in, JSON events out.

    The password goes through the environment (PGDRV_PASSWORD), never argv.
    """

    def __init__(self, args, password=None, env=None):
        full_env = dict(os.environ)
        full_env.pop('PGPASSWORD', None)
        if password is not None:
            full_env['PGDRV_PASSWORD'] = password
            args = list(args) + ['--password-env', 'PGDRV_PASSWORD']
        full_env.update(env or {})
        # DBPROVD_VALGRIND=1 runs the driver under valgrind (a build
        # without sanitizers); errors and leaks make it exit 99.
        wrap = []
        if os.environ.get('DBPROVD_VALGRIND'):
            wrap = ['valgrind', '-q', '--error-exitcode=99', '--leak-check=full',
                    '--errors-for-leak-kinds=definite,indirect',
                    '--log-file=%s.vg' % tempfile.mktemp(prefix='dbprovd-pgdrv-vg-')]
        self.argv = wrap + [DRV] + list(args)
        self.stderr_path = tempfile.mktemp(prefix='dbprovd-pgdrv-')
        self._err = open(self.stderr_path, 'wb')
        try:
            self.p = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._err,
                                      env=full_env)
        except OSError:
            self._err.close()
            os.unlink(self.stderr_path)
            raise
        self.events = []
        self.raw = []
        self._q = queue.Queue()
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()
        atexit.register(self.close)

    def _reader(self):
        for raw in self.p.stdout:
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            self.raw.append(line)
            try:
                self._q.put(json.loads(line))
            except ValueError:
                self._q.put({'ev': 'garbage', 'line': line})
        self._q.put(None)

    def send(self, **cmd):
        self.p.stdin.write((json.dumps(cmd) + '\n').encode('utf-8'))
        self.p.stdin.flush()

    def wait(self, pred, timeout=15.0):
        """Returns (and removes) the first event for which pred is true,
        or None on timeout or exit; other events stay queued."""
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if pred(e):
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                e = self._q.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            if e is None:
                self._q.put(None)
                if not any(pred(x) for x in self.events):
                    return None
                continue
            self.events.append(e)

    def wait_ev(self, ev, cid=None, timeout=15.0):
        return self.wait(lambda e: e.get('ev') == ev and
                         (cid is None or e.get('id') == cid), timeout)

    def ready(self, timeout=15.0):
        return self.wait_ev('ready', timeout=timeout) is not None

    def acquire(self, cid, db=None, timeout=15.0):
        """Sends acquire and waits: the acquired event or the error."""
        self.acquire_async(cid, db)
        return self.acquire_result(cid, timeout)

    def acquire_async(self, cid, db=None):
        cmd = {'op': 'acquire', 'id': cid}
        if db:
            cmd['db'] = db
        self.send(**cmd)

    def acquire_result(self, cid, timeout=15.0):
        return self.wait(lambda e: e.get('id') == cid and
                         e.get('ev') in ('acquired', 'acquire_error'), timeout)

    def query(self, cid, sql, params=None, timeout=None, wait=30.0):
        """Runs a query; returns {'rows': [...], 'tag':, 'cols':} or the
        query_error event (with 'ev' == 'query_error')."""
        cmd = {'op': 'query', 'id': cid, 'sql': sql, 'params': params or []}
        if timeout is not None:
            cmd['timeout'] = timeout
        self.send(**cmd)
        rows = []
        while True:
            e = self.wait(lambda x: x.get('id') == cid and
                          x.get('ev') in ('row', 'result', 'query_error'), wait)
            if e is None:
                return {'ev': 'no_answer', 'rows': rows}
            if e['ev'] == 'row':
                rows.append(e['values'])
                continue
            if e['ev'] == 'result':
                e['rows'] = rows
            return e

    def release(self, cid, broken=False):
        self.send(op='release', id=cid, broken=broken)
        return self.wait(lambda e: e.get('id') == cid and
                         e.get('ev') in ('released', 'cancelled', 'release_error'))

    def stats(self):
        self.send(op='stats')
        return self.wait_ev('stats')

    def quit(self, timeout=15.0):
        try:
            self.send(op='quit')
        except (BrokenPipeError, OSError):
            pass
        bye = self.wait_ev('bye', timeout=timeout)
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        return rc, bye

    def stderr_text(self):
        self._err.flush()
        with open(self.stderr_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        if not self._err.closed:
            self._err.close()
        try:
            os.unlink(self.stderr_path)
        except OSError:
            pass
