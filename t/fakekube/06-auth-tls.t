#!/usr/bin/python3
# t/fakekube/06-auth-tls.t: bearer-token authentication with rotation and a grace period, a
# token file re-read on change, and HTTPS with a throwaway CA (kube-api.md §1.1, §10 item 11).
import os
import shutil
import ssl
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, done_testing  # noqa: E402
import fakekube  # noqa: E402

tmp = tempfile.mkdtemp(prefix='fakekube-t-')
CM = '/api/v1/namespaces/default/configmaps'
try:
    tokfile = os.path.join(tmp, 'token')
    with open(tokfile, 'w') as f:
        f.write('first\n')
    fk = fakekube.FakeKube(tls=True, token_file=tokfile).start()
    ok(fk.url.startswith('https://127.0.0.1:'), 'HTTPS URL on 127.0.0.1')
    ok(os.path.exists(fk.ca_file), 'CA file exists')
    c = fk.client()
    is_(c.get(CM).status, 200, 'the token read from the token file works')
    r = c.get(CM, token=None)
    is_(r.status, 401, 'no token is 401')
    is_(r.json, {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': 'Unauthorized',
                 'reason': 'Unauthorized', 'code': 401}, '401 Status body')
    is_(c.get(CM, token='wrong').status, 401, 'a wrong token is 401')
    is_(c.get('/livez', token=None).status, 200, '/livez is open to anonymous clients')
    is_(c.get('/version', token='wrong').status, 401, 'a bad token fails even on public paths')

    new = fk.rotate_token(grace=0.5)
    with open(tokfile) as f:
        is_(f.read().strip(), new, 'rotate_token writes the new token to the token file')
    is_(c.get(CM, token=new).status, 200, 'the new token works')
    is_(c.get(CM, token='first').status, 200, 'the old token works during the grace period')
    time.sleep(0.6)
    is_(c.get(CM, token='first').status, 401, 'the old token is rejected after the grace period')

    with open(tokfile + '.new', 'w') as f:
        f.write('external\n')
    os.replace(tokfile + '.new', tokfile)
    is_(c.get(CM, token='external').status, 200, 'an externally rewritten token file is picked up')
    is_(c.get(CM, token=new).status, 401, '... and the previous token stops working (grace 0)')

    # TLS: the right CA, a wrong CA, host names
    c = fk.client(token='external')
    is_(c.get('/version').status, 200, 'the generated CA verifies the server (127.0.0.1 SAN)')
    lc = fakekube.Client(fk.url.replace('127.0.0.1', 'localhost'), token='external', ca_file=fk.ca_file)
    is_(lc.get('/version').status, 200, 'the certificate also covers localhost')
    other = fakekube.generate_certs(os.path.join(tmp, 'other'))
    bad = fakekube.Client(fk.url, token='external', ca_file=other['ca'])
    try:
        bad.get('/version')
        ok(False, 'a client trusting another CA fails verification')
    except ssl.SSLError as e:
        like(str(e), 'CERTIFICATE_VERIFY_FAILED', 'a client trusting another CA fails verification')
    insecure = fakekube.Client(fk.url, token='external', insecure=True)
    is_(insecure.get('/version').status, 200, 'an insecure client connects')
    plain = fakekube.Client(fk.url.replace('https', 'http'), token='external', timeout=2)
    try:
        r = plain.get('/version')
        ok(r.status >= 400, 'plain HTTP to the TLS port does not work')
    except Exception:
        ok(True, 'plain HTTP to the TLS port does not work')
    cert_dir = fk.cert_dir
    fk.close()
    ok(not os.path.exists(cert_dir), 'close() removes the generated certificate directory')

    # a given cert dir is reused and kept
    cdir = os.path.join(tmp, 'certs')
    fk = fakekube.FakeKube(cert_dir=cdir, token='t').start()
    ok(fk.tls and fk.ca_file == os.path.join(cdir, 'ca.crt'), 'cert_dir implies TLS and holds ca.crt')
    first_ca = fk.ca_pem
    fk.close()
    fk = fakekube.FakeKube(cert_dir=cdir, token='t').start()
    is_(fk.ca_pem, first_ca, 'an existing cert dir is reused')
    is_(fk.client().get('/api').status, 200, '... and works')
    fk.close()
    ok(os.path.exists(os.path.join(cdir, 'ca.crt')), 'a given cert dir is not removed')
finally:
    shutil.rmtree(tmp, ignore_errors=True)
done_testing()
