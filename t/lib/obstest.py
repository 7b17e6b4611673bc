# t/lib/obstest.py: helpers of the t/obs tests: free ports, a dbprovd
# running against the API stand-in with its metrics and probe listeners,
# plain HTTP requests, and the rendered kustomize manifests.
"""Helpers for the observability tests (t/obs)."""

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import time

import yaml

import dbptest
from fakekube import FakeKube

DBPROVD = dbptest.build_path('src/dbprovd')
GV = '/apis/dbops.dbprovision.io/v1alpha1'


free_port = dbptest.free_port


def have(cmd):
    return shutil.which(cmd) is not None


def get(port, path, timeout=5.0, tls_ctx=None, host='127.0.0.1'):
    """GET http(s)://host:port/path; returns (status, body text)."""
    if tls_ctx is not None:
        c = http.client.HTTPSConnection(host, port, timeout=timeout, context=tls_ctx)
    else:
        c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request('GET', path)
        r = c.getresponse()
        return r.status, r.read().decode('utf-8', 'replace')
    finally:
        c.close()


def raw(port, data, timeout=5.0, host='127.0.0.1'):
    """Sends raw bytes, reads until the server closes (or timeout)."""
    s = socket.create_connection((host, port), timeout=timeout)
    out = b''
    try:
        s.sendall(data)
        while True:
            try:
                b = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not b:
                break
            out += b
    finally:
        s.close()
    return out


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Stack:
    """The API stand-in plus one or more dbprovd processes."""

    def __init__(self, tls=False):
        self.tmp = dbptest.TempDir(prefix='dbprovd-obs-')
        self.fk = FakeKube(tls=tls, crd_dir=dbptest.src_path('crd')).start()
        self.kc = self.tmp.join('kubeconfig')
        self.fk.write_kubeconfig(self.kc)
        self.api = self.fk.client()
        self.procs = []

    def daemon(self, name='a', args=(), metrics=True, health=True, env=None):
        """Starts dbprovd; returns (proc, metrics_port, health_port)."""
        mport = free_port() if metrics else 0
        hport = free_port() if health else 0
        argv = [DBPROVD, '--kubeconfig', self.kc,
                '--metrics-bind-address', '127.0.0.1:%d' % mport if metrics else '0',
                '--health-probe-bind-address', '127.0.0.1:%d' % hport if health else '0']
        argv += list(args)
        e = {'POD_NAME': name}
        e.update(env or {})
        p = dbptest.Proc(argv, env=e, stderr_path=self.tmp.join(name + '.log'))
        self.procs.append(p)
        for port in (mport, hport):
            if port:
                wait_port(port)
        return p, mport, hport

    def close(self):
        for p in self.procs:
            p.stop(10)
            p.close()
        self.fk.close()
        self.tmp.cleanup()


def scrape(port, **kw):
    status, body = get(port, '/metrics', **kw)
    return status, body


def parse_samples(text):
    """{(name, frozenset(labels.items())): value} of an exposition text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        name_labels, _, value = line.rpartition(' ')
        if '{' in name_labels:
            name, _, rest = name_labels.partition('{')
            labels = {}
            rest = rest[:-1]
            i = 0
            while i < len(rest):
                eq = rest.index('=', i)
                key = rest[i:eq]
                j = eq + 2
                val = ''
                while rest[j] != '"':
                    if rest[j] == '\\':
                        j += 1
                        val += {'n': '\n'}.get(rest[j], rest[j])
                    else:
                        val += rest[j]
                    j += 1
                labels[key] = val
                i = j + 2 if j + 1 < len(rest) and rest[j + 1] == ',' else j + 1
        else:
            name, labels = name_labels, {}
        out[(name, frozenset(labels.items()))] = float(value)
    return out


def sample(samples, _metric, **labels):
    """Value of the series with exactly these labels, or None."""
    return samples.get((_metric, frozenset(labels.items())))


# The one finding of promtool's lint that dbprovd keeps on purpose: the
# name of the original operator's metric (see doc/monitoring.md).
KNOWN_LINT = 'dbops_resource_count non-histogram and non-summary metrics should not have "_count" suffix'


def promtool_check_metrics(text):
    """Runs `promtool check metrics`; returns (ok, output). Exit 3 means
    lint findings only: accepted when they are KNOWN_LINT."""
    r = subprocess.run(['promtool', 'check', 'metrics'], input=text, capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    lines = [x for x in out.splitlines() if x.strip()]
    good = r.returncode == 0 or (r.returncode == 3 and all(x.strip() == KNOWN_LINT for x in lines))
    return good, out


def kustomize(path):
    """Renders a kustomization with kubectl; returns (rc, documents, stderr)."""
    r = subprocess.run(['kubectl', 'kustomize', path], capture_output=True, text=True)
    docs = []
    if r.returncode == 0:
        docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    return r.returncode, docs, r.stderr


def gen_cert(dirpath, cn='dbprovd-metrics'):
    """A CA and a serving certificate for 127.0.0.1 (openssl CLI):
    dirpath/ca.crt, tls.crt, tls.key."""
    os.makedirs(dirpath, exist_ok=True)

    def run(*a):
        subprocess.run(['openssl'] + list(a), check=True, capture_output=True, cwd=dirpath)

    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=%s-ca' % cn)
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
        '-keyout', 'new.key', '-out', 'tls.csr', '-subj', '/CN=%s' % cn)
    with open(os.path.join(dirpath, 'ext.cnf'), 'w') as f:
        f.write('subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
    run('x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
        '-out', 'new.crt', '-days', '2', '-extfile', 'ext.cnf')
    # Replace both files by rename, as a Secret volume update does.
    os.replace(os.path.join(dirpath, 'new.key'), os.path.join(dirpath, 'tls.key'))
    os.replace(os.path.join(dirpath, 'new.crt'), os.path.join(dirpath, 'tls.crt'))


def tls_context(ca_file):
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = True
    return ctx
