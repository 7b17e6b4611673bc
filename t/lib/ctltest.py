# Shared setup of the controller integration tests (t/ctl/*.t): a
# throwaway PostgreSQL, the API stand-in with the CRDs, a kubeconfig, the
# admin and TLS Secrets, a DatabaseInstance body, and small helpers over
# objects, conditions and events. The caller checks that dbprovd is built
# and PostgreSQL is available first (skip_all otherwise).
import base64

import dbptest
from pgserver import PgServer
from fakekube import FakeKube

GV = '/apis/dbops.dbprovision.io/v1alpha1'
NS = 'default'
INST = GV + '/namespaces/%s/databaseinstances' % NS
SECRETS = '/api/v1/namespaces/%s/secrets' % NS


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def lax_crds(dest):
    """Copies the CRDs to dest without any pattern: a cluster whose CRDs
    are older or were edited, and validate less than ours."""
    import os
    import yaml

    def strip(x):
        if isinstance(x, dict):
            x.pop('pattern', None)
            for v in x.values():
                strip(v)
        elif isinstance(x, list):
            for v in x:
                strip(v)
    src = dbptest.src_path('crd')
    os.makedirs(dest, exist_ok=True)
    for f in sorted(os.listdir(src)):
        if not f.endswith('.yaml') or f == 'kustomization.yaml':
            continue
        with open(os.path.join(src, f)) as fh:
            docs = [d for d in yaml.safe_load_all(fh) if d]
        for d in docs:
            strip(d)
        with open(os.path.join(dest, f), 'w') as fh:
            yaml.safe_dump_all(docs, fh)
    return dest


class Env:
    def __init__(self, lax=False):
        self.pg = PgServer().start()
        self.tmp = dbptest.TempDir()
        token_file = self.tmp.join('token')
        with open(token_file, 'w') as f:
            f.write('ctl-test-token\n')
        crd_dir = lax_crds(self.tmp.join('crd')) if lax else dbptest.src_path('crd')
        self.fk = FakeKube(tls=True, token_file=token_file, crd_dir=crd_dir,
                           bookmark_interval=1).start()
        self.api = self.fk.client()
        self.kubeconfig = self.tmp.join('kubeconfig')
        self.fk.write_kubeconfig(self.kubeconfig, token_file=True)

    def put_secret(self, name, data):
        body = {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': name, 'namespace': NS},
                'type': 'Opaque', 'data': {k: b64(v) for k, v in data.items()}}
        return self.api.post(SECRETS, body)

    def admin_secret(self, name='pg-admin'):
        return self.put_secret(name, {'username': self.pg.superuser, 'password': self.pg.password})

    def instance(self, name):
        with open(self.pg.ca_file, 'rb') as f:
            self.put_secret('pg-tls', {'ca.crt': f.read()})
        return {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseInstance',
                'metadata': {'name': name, 'namespace': NS},
                'spec': {'engine': 'postgres',
                         'connection': {'host': 'localhost', 'port': self.pg.port, 'database': 'postgres',
                                        'secretRef': {'name': 'pg-admin'}},
                         'tls': {'enabled': True, 'mode': 'verify-full', 'secretRef': {'name': 'pg-tls'}},
                         'healthCheck': {'intervalSeconds': 5, 'timeoutSeconds': 3}}}

    def get(self, path):
        r = self.api.get(path)
        return r.json if r.status == 200 else None

    def wait_cond(self, path, typ, status, timeout=30, reason=None):
        def pred():
            o = self.get(path)
            c = cond(o, typ)
            if c and c['status'] == status and (reason is None or c['reason'] == reason):
                return o
            return None
        return dbptest.wait_until(pred, timeout, 0.2)

    def events_for(self, name, reason):
        items = self.api.get('/api/v1/namespaces/%s/events' % NS).json['items']
        return [e for e in items if e['involvedObject']['name'] == name and e['reason'] == reason]

    def pgval(self, q, db='postgres'):
        return self.pg.value(q, db)

    def close(self):
        self.fk.close()
        self.tmp.cleanup()


def stop_and_check(d, secrets=()):
    """Stops dbprovd with SIGTERM and checks how it ended: exit status 0,
    none of the secrets in its log, every log line JSON, no sanitizer
    report. Returns the log."""
    from tap import ok, is_, diag
    rc = d.stop(15)
    is_(rc, 0, 'SIGTERM: exit 0')
    logs = d.stderr_text()
    if secrets:
        ok(not [s for s in secrets if s in logs], 'no password in the logs')
    is_([x for x in logs.splitlines() if not x.startswith('{')], [], 'every log line is JSON')
    if not ok('ERROR: AddressSanitizer' not in logs and 'runtime error' not in logs, 'no sanitizer report'):
        diag(logs[-3000:])
    return logs


def cond(obj, typ):
    for c in ((obj or {}).get('status') or {}).get('conditions') or []:
        if c['type'] == typ:
            return c
    return None
