# t/lib/s3moto.py: an S3 emulator for t/store/s3.t: moto's server with IAM
# authentication on (every request is signature-checked once the setup
# calls have made a user and its access key), and a TCP proxy that drops or
# stalls connections on demand.
"""moto server with IAM auth, and a fault-injecting TCP proxy."""

import json
import os
import selectors
import socket
import subprocess
import threading
import time

import dbptest

# The IAM calls made before authentication starts (see Moto.start).
SETUP_CALLS = 5
ALLOW_ALL = json.dumps({'Version': '2012-10-17', 'Statement': [
    {'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]})
TRUST_ALL = json.dumps({'Version': '2012-10-17', 'Statement': [
    {'Effect': 'Allow', 'Principal': {'AWS': '*'}, 'Action': 'sts:AssumeRole'}]})


def moto_python():
    """The first python3 on PATH (or $S3_TEST_MOTO_PYTHON) that can import
    moto's server; None when there is none. The interpreter running the
    test may not be the one moto is installed for."""
    cands = []
    if os.environ.get('S3_TEST_MOTO_PYTHON'):
        cands.append(os.environ['S3_TEST_MOTO_PYTHON'])
    for d in os.environ.get('PATH', '').split(os.pathsep):
        p = os.path.join(d or '.', 'python3')
        if os.access(p, os.X_OK) and p not in cands:
            cands.append(p)
    for p in cands:
        try:
            r = subprocess.run([p, '-c', 'import moto.server, flask'],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return p
    return None


class Moto:
    """moto's server on 127.0.0.1 with IAM auth; .creds is the user's key
    (.akid, .secret), .url its endpoint."""

    def __init__(self, python, tmp):
        self.port = dbptest.free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        env = {'INITIAL_NO_AUTH_ACTION_COUNT': str(SETUP_CALLS),
               'MOTO_PORT': str(self.port)}
        self.log = os.path.join(tmp, 'moto.log')
        self.proc = dbptest.Proc([python, '-m', 'moto.server', '-H', '127.0.0.1',
                                  '-p', str(self.port)], env=env,
                                 stderr_path=self.log)
        self.akid = self.secret = None

    def wait(self, timeout=60):
        def up():
            try:
                socket.create_connection(('127.0.0.1', self.port), 0.5).close()
                return True
            except OSError:
                return False
        return dbptest.wait_until(up, timeout, 0.1)

    def setup(self, region):
        """The unauthenticated calls: a user allowed everything, its access
        key, and a role it may assume (for session credentials)."""
        import boto3
        iam = boto3.client('iam', endpoint_url=self.url, region_name=region,
                           aws_access_key_id='setup', aws_secret_access_key='setup')
        iam.create_user(UserName='dbprov')
        iam.put_user_policy(UserName='dbprov', PolicyName='all',
                            PolicyDocument=ALLOW_ALL)
        iam.create_role(RoleName='dbprov-role', AssumeRolePolicyDocument=TRUST_ALL)
        iam.put_role_policy(RoleName='dbprov-role', PolicyName='all',
                            PolicyDocument=ALLOW_ALL)
        key = iam.create_access_key(UserName='dbprov')['AccessKey']
        self.akid, self.secret = key['AccessKeyId'], key['SecretAccessKey']
        self.region = region

    def client(self, service='s3', akid=None, secret=None, token=None, url=None):
        import boto3
        return boto3.client(service, endpoint_url=url or self.url,
                            region_name=self.region,
                            aws_access_key_id=akid or self.akid,
                            aws_secret_access_key=secret or self.secret,
                            aws_session_token=token)

    def session_creds(self):
        """Temporary credentials (AccessKeyId, SecretAccessKey, SessionToken)."""
        sts = self.client('sts')
        return sts.assume_role(RoleArn='arn:aws:iam::123456789012:role/dbprov-role',
                               RoleSessionName='s3test')['Credentials']

    def stop(self):
        self.proc.stop(5)
        self.proc.close()


class Proxy:
    """A TCP proxy to 127.0.0.1:target. Faults apply to connections in the
    order they are accepted: down_cut[i] closes connection i once that many
    response bytes went through, down_stall[i] stops forwarding them (the
    connection stays open), up_cut closes a connection once it has sent more
    than that many request bytes (up_cut_times: only that many times)."""

    def __init__(self, target):
        self.target = target
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = 'http://127.0.0.1:%d' % self.port
        self.lock = threading.Lock()
        self.reset()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self, down_cut=(), down_stall=(), up_cut=None, up_cut_times=None):
        with self.lock:
            self.down_cut = list(down_cut)
            self.down_stall = list(down_stall)
            self.up_cut = up_cut
            self.up_cut_times = up_cut_times
            self.conns = 0
            self.cuts = 0
            self.stalls = 0

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                i = self.conns
                self.conns += 1
            threading.Thread(target=self._serve, args=(c, i), daemon=True).start()

    def _limits(self, i):
        with self.lock:
            cut = self.down_cut[i] if i < len(self.down_cut) else None
            stall = self.down_stall[i] if i < len(self.down_stall) else None
            up = self.up_cut
        return cut, stall, up

    def _serve(self, c, i):
        try:
            u = socket.create_connection(('127.0.0.1', self.target))
        except OSError:
            c.close()
            return
        cut, stall, up = self._limits(i)
        down = sent = 0
        stalled = False
        sel = selectors.DefaultSelector()
        sel.register(c, selectors.EVENT_READ, 'c')
        sel.register(u, selectors.EVENT_READ, 'u')
        try:
            while True:
                for key, _ in sel.select(timeout=60):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    if key.data == 'c':
                        sent += len(data)
                        if up is not None and sent > up:
                            with self.lock:
                                left = self.up_cut_times
                                if left is None or left > 0:
                                    self.cuts += 1
                                    if left is not None:
                                        self.up_cut_times = left - 1
                                    return
                            up = None
                        u.sendall(data)
                        continue
                    if stalled:
                        continue
                    n = len(data)
                    for lim, kind in ((cut, 'cut'), (stall, 'stall')):
                        if lim is not None and down + n > lim:
                            c.sendall(data[:max(0, lim - down)])
                            down = lim
                            with self.lock:
                                if kind == 'cut':
                                    self.cuts += 1
                                else:
                                    self.stalls += 1
                            if kind == 'cut':
                                return
                            stalled = True
                            sel.unregister(u)
                            break
                    else:
                        c.sendall(data)
                        down += n
        except OSError:
            pass
        finally:
            sel.close()
            for s in (c, u):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.sock.close()
