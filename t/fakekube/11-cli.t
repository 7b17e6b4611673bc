#!/usr/bin/python3
# t/fakekube/11-cli.t: t/lib/fakekube.py as a program: READY line, kubeconfig output, token
# file, CRD directory, clean exit on SIGTERM, failure on a busy port.
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, done_testing  # noqa: E402
import fakekube  # noqa: E402
import yaml  # noqa: E402

PROG = os.path.join(HERE, '..', 'lib', 'fakekube.py')
tmp = tempfile.mkdtemp(prefix='fakekube-cli-')
procs = []


def start(*args):
    p = subprocess.Popen([PROG] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(p)
    return p, p.stdout.readline().strip()


try:
    tokfile = os.path.join(tmp, 'token')
    kc = os.path.join(tmp, 'kubeconfig')
    p, line = start('--listen', '127.0.0.1:0', '--tls', '--cert-dir', os.path.join(tmp, 'certs'), '--token-file', tokfile,
                    '--crd-dir', os.path.join(HERE, 'crd'), '--kubeconfig-out', kc, '--namespace', 'default',
                    '--bookmark-interval', '1', '--history', '10')
    like(line, r'^READY https://127\.0\.0\.1:\d+$', 'prints READY <url> once listening')
    url = line.split()[1] if line.startswith('READY ') else ''
    ok(os.path.exists(tokfile), 'a missing token file is created')
    with open(tokfile) as f:
        token = f.read().strip()
    cfg = yaml.safe_load(open(kc))
    cl = cfg['clusters'][0]['cluster']
    is_(cl['server'], url, 'kubeconfig server')
    is_(cl['certificate-authority'], os.path.join(tmp, 'certs', 'ca.crt'), 'kubeconfig CA path')
    is_(cfg['users'][0]['user'].get('tokenFile'), tokfile, 'kubeconfig uses tokenFile when serving a token file')
    is_(cfg['contexts'][0]['context']['namespace'], 'default', 'kubeconfig context namespace')
    is_(cfg['current-context'], cfg['contexts'][0]['name'], 'current-context set')
    c = fakekube.Client(url, token=token, ca_file=cl['certificate-authority'])
    is_(c.get('/apis/example.com/v1/namespaces/default/widgets').status, 200, 'CRDs from --crd-dir are served')
    is_(c.get('/api', token='nope').status, 401, 'the token is required')
    r = c.post('/_fake/rotate-token', {'grace': 0}, token=None)
    new = r.json['token']
    with open(tokfile) as f:
        is_(f.read().strip(), new, 'rotation through /_fake/ rewrites the token file')
    st = c.get('/_fake/state').json
    is_((st['history'], st['bookmarkInterval']), (10, 1.0), '--history and --bookmark-interval applied')
    port = url.rsplit(':', 1)[1]
    p2, line2 = start('--listen', '127.0.0.1:' + port)
    is_(line2, '', 'a second server on the same port prints no READY')
    is_(p2.wait(timeout=10), 1, '... and exits 1')
    like(p2.stderr.read(), r'fakekube: .*(in use|Errno)', '... with a message')
    p.send_signal(signal.SIGTERM)
    is_(p.wait(timeout=10), 0, 'SIGTERM stops it with status 0')
    p3, line3 = start('--listen', '127.0.0.1:0', '--token', 'abc', '--kubeconfig-out', kc)
    like(line3, r'^READY http://127\.0\.0\.1:\d+$', 'plain HTTP without --tls')
    cfg = yaml.safe_load(open(kc))
    is_(cfg['users'][0]['user'].get('token'), 'abc', 'kubeconfig carries --token')
    is_(fakekube.Client(line3.split()[1], token='abc').get('/api/v1/namespaces').status, 200, 'the --token works')
    p3.send_signal(signal.SIGINT)
    is_(p3.wait(timeout=10), 0, 'SIGINT stops it with status 0')
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
done_testing()
