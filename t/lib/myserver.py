# t/lib/myserver.py: a throwaway MariaDB server for the integration tests,
# and a client for the engine driver t/drv/mydrv.
#
#   from myserver import MyServer, MyDrv, require_mariadb
#   require_mariadb()                  # skip_all when something is missing
#   my = MyServer().start()            # TCP 127.0.0.1:<free port> + unix socket
#   my.sql("SELECT 1")                 # rows as lists of strings (mariadb client)
#   drv = MyDrv(my.drv_args(tls='verify-full', host='localhost'), password=my.password)
#   drv.acquire('c1'); drv.query('c1', 'SELECT 1')
#
# The server: mariadb-install-db and mariadbd with --no-defaults (so that
# nothing under /etc/mysql applies), run as root with --user=root; grant
# tables in force; root authenticates by unix socket (used by sql() through
# the mariadb client), "admin"@"%" and "admin"@"localhost" by password with
# every privilege. A throwaway CA made with the openssl CLI signs a server
# certificate for localhost / 127.0.0.1 / ::1; TLS is enabled on the
# server, not required (MyServer(tls=False): a server without TLS). Everything lives in one temp dir removed at exit
# (kept with DBPROVD_KEEP_TMP=1); the server is killed at exit, and
# servers left by a test process that was killed are killed by the next
# start (kill_leftovers()).
# DBPROVD_VALGRIND=1 runs every driver under valgrind (configure without
# --enable-sanitizers for that).
"""Throwaway MariaDB and the mydrv client."""

import atexit
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import dbptest
import pgserver
from pgserver import PgDrv
from tap import skip_all

DRV = dbptest.build_path('t/drv/mydrv')
MARIADBD = '/usr/sbin/mariadbd'
INSTALL_DB = '/usr/bin/mariadb-install-db'
CLIENT = '/usr/bin/mariadb'


def require_mariadb():
    """skip_all unless a MariaDB server, its client, openssl and the driver
    exist."""
    if not os.path.exists(DRV):
        skip_all('t/drv/mydrv is not built (run make check)')
    for b in (MARIADBD, INSTALL_DB, CLIENT):
        if not os.access(b, os.X_OK):
            skip_all('MariaDB binary %s not found' % b)
    if shutil.which('openssl') is None:
        skip_all('openssl command not found')


free_port = dbptest.free_port


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_leftovers():
    """Kills servers of earlier test runs that died without cleaning up
    (SIGKILL skips atexit): a mariadbd whose data directory is in a
    dbprovd-my-* temp dir whose owner (the test process, recorded in
    owner.pid) is gone."""
    tmp = tempfile.gettempdir()
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/cmdline' % entry, 'rb') as f:
                argv = f.read().split(b'\0')
        except OSError:
            continue
        if not argv or not argv[0].endswith(b'mariadbd'):
            continue
        datadir = next((a[len(b'--datadir='):].decode('utf-8', 'replace') for a in argv
                        if a.startswith(b'--datadir=')), '')
        top = os.path.dirname(datadir)
        if os.path.dirname(top) != tmp or not os.path.basename(top).startswith('dbprovd-my-'):
            continue
        try:
            with open(os.path.join(top, 'owner.pid')) as f:
                owner = int(f.read().strip() or 0)
        except (OSError, ValueError):
            owner = 0
        if owner and _alive(owner):
            continue
        try:
            os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass
        shutil.rmtree(top, ignore_errors=True)


def _run(argv, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if r.returncode != 0:
        raise RuntimeError('%s failed (%d): %s' % (argv[0], r.returncode,
                                                    r.stderr.decode('utf-8', 'replace')))
    return r.stdout.decode('utf-8', 'replace')


class MyServer:
    """One MariaDB server in a temp dir; see the module comment."""

    def __init__(self, tls=True):
        self.tls = tls
        self.tmp = dbptest.TempDir(prefix='dbprovd-my-')
        self.dir = self.tmp.path
        self.data = self.tmp.join('data')
        self.sock = self.tmp.join('mysqld.sock')
        self.logfile = self.tmp.join('server.log')
        self.port = free_port()
        self.host = '127.0.0.1'
        self.user = 'admin'
        self.password = 'adm-' + secrets.token_hex(8)
        self.proc = None
        atexit.register(self.cleanup)

    def _path(self, name):
        return self.tmp.join(name)

    # -- certificates (same shape as pgserver.py) ---------------------------
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
        os.chmod(self._path('server.key'), 0o600)
        self.ca_file = self._path('ca.crt')
        self.wrong_ca_file = self._path('wrongca.crt')

    # -- life cycle -----------------------------------------------------------
    def _server_argv(self):
        argv = [MARIADBD, '--no-defaults', '--user=root',
                '--datadir=' + self.data, '--socket=' + self.sock,
                '--port=%d' % self.port, '--bind-address=127.0.0.1',
                '--pid-file=' + self._path('mysqld.pid'),
                '--log-error=' + self.logfile, '--skip-name-resolve',
                '--skip-log-bin', '--innodb-buffer-pool-size=16M',
                '--innodb-log-file-size=8M', '--max-connections=60']
        if self.tls:
            argv += ['--ssl-cert=' + self._path('server.crt'),
                     '--ssl-key=' + self._path('server.key'),
                     '--ssl-ca=' + self._path('ca.crt')]
        return argv

    def _launch(self):
        self.proc = subprocess.Popen(self._server_argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('mariadbd exited (%d): %s' % (
                    self.proc.returncode, self.log_text()[-2000:]))
            if os.path.exists(self.sock):
                try:
                    self.sql('SELECT 1')
                    return
                except RuntimeError:
                    pass
            time.sleep(0.1)
        raise RuntimeError('mariadbd did not come up: %s' % self.log_text()[-2000:])

    def start(self):
        kill_leftovers()
        with open(self._path('owner.pid'), 'w') as f:
            f.write('%d\n' % os.getpid())
        self.make_certs()
        _run([INSTALL_DB, '--no-defaults', '--user=root', '--datadir=' + self.data,
              '--auth-root-authentication-method=socket', '--skip-test-db',
              '--skip-name-resolve'])
        self._launch()
        pw = self.password.replace("'", "''")
        for h in ('%', 'localhost'):
            self.sql("CREATE USER 'admin'@'%s' IDENTIFIED BY '%s'" % (h, pw))
            self.sql("GRANT ALL PRIVILEGES ON *.* TO 'admin'@'%s' WITH GRANT OPTION" % h)
        return self

    def stop(self):
        """Stops the server (SIGTERM: a clean shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        """Kills the server at once (SIGKILL): connections just break."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        try:
            os.unlink(self.sock)
        except OSError:
            pass

    def start_again(self):
        self._launch()

    def cleanup(self):
        try:
            self.kill()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
        self.tmp.cleanup()

    def log_text(self):
        try:
            with open(self.logfile, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    # -- queries through the mariadb client (unix socket, root) ------------------
    def sql(self, query, db=None):
        """Rows of the query as lists of strings; raises on error."""
        argv = [CLIENT, '--no-defaults', '-S', self.sock, '-u', 'root',
                '--batch', '--skip-column-names', '--raw', '--connect-timeout=10',
                '-e', query]
        if db:
            argv.append(db)
        out = _run(argv)
        return [line.split('\t') for line in out.splitlines() if line != '']

    def login(self, user, password, socket=False):
        """True if user can log in with password (given to the client in
        MYSQL_PWD, never on its command line): over TCP from 127.0.0.1, or
        with socket=True over the unix socket (the 'localhost' accounts:
        the server skips name resolution)."""
        where = ['-S', self.sock] if socket else ['-h', '127.0.0.1', '-P', str(self.port)]
        argv = [CLIENT, '--no-defaults'] + where + ['-u', user,
                '--batch', '--skip-column-names', '--connect-timeout=10', '-e', 'SELECT CURRENT_USER()']
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=dict(os.environ, MYSQL_PWD=password))
        return r.returncode == 0 and r.stdout.decode().strip().startswith(user + '@')

    def value(self, query, db=None):
        rows = self.sql(query, db)
        return rows[0][0] if rows else None

    def count_user_sessions(self, user=None):
        return int(self.value("SELECT count(*) FROM information_schema.processlist "
                              "WHERE user = '%s'" % (user or self.user)))

    # -- driver arguments ---------------------------------------------------------
    def drv_args(self, host=None, user=None, tls='disabled', ca=None, cert=None,
                 key=None, dbname='mysql', extra=()):
        args = ['--host', host or self.host, '--port', str(self.port),
                '--user', user or self.user, '--dbname', dbname, '--tls', tls]
        if ca:
            args += ['--ca', ca]
        if cert:
            args += ['--cert', cert]
        if key:
            args += ['--key', key]
        return args + list(extra)


class MyDrv(PgDrv):
    """t/drv/mydrv as a child: the same line protocol as pgdrv (see
    pgserver.PgDrv: acquire, query, release, escape, stats, quit); the
    password goes through the environment (PGDRV_PASSWORD), never argv."""

    def __init__(self, args, password=None, env=None):
        full_env = dict(env or {})
        # Connector/C would take a password from MYSQL_PWD: never here.
        os.environ.pop('MYSQL_PWD', None)
        saved = pgserver.DRV
        pgserver.DRV = DRV
        try:
            super().__init__(args, password=password, env=full_env)
        finally:
            pgserver.DRV = saved
