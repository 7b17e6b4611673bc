#!/usr/bin/python3
# dbprovd under valgrind (memcheck) while it provisions on a real
# PostgreSQL and a real MariaDB: instances over TLS, a Database, a
# DatabaseUser with a generated password Secret, a DatabaseRole with
# grants and a DatabaseGrant on each, then everything deleted again, and
# a clean SIGTERM shutdown. Needs a build without sanitizers (tools/run-tests
# makes one in _release/ and runs this directory).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402

import vgtest  # noqa: E402
vgtest.require()
from pgserver import PgServer, find_bindir  # noqa: E402
from myserver import MyServer, MARIADBD  # noqa: E402
if find_bindir() is None or not os.path.exists(MARIADBD):
    skip_all('PostgreSQL or MariaDB server binaries not found')
from fakekube import FakeKube  # noqa: E402
from ctltest import b64, cond  # noqa: E402

NS = 'default'
GV = '/apis/dbops.dbprovision.io/v1alpha1/namespaces/%s/' % NS
SECRETS = '/api/v1/namespaces/%s/secrets' % NS

pg = PgServer().start()
my = MyServer().start()
tmp = dbptest.TempDir()
fk = FakeKube(tls=True, token='vg-token', crd_dir=dbptest.src_path('crd'), bookmark_interval=1).start()
api = fk.client()
kc = tmp.join('kubeconfig')
fk.write_kubeconfig(kc)
vglog = tmp.join('valgrind.log')


def secret(name, data):
    api.post(SECRETS, {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': name, 'namespace': NS},
                       'type': 'Opaque', 'data': {k: b64(v) for k, v in data.items()}})


def obj(kind, plural, name, spec):
    r = api.post(GV + plural, {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': kind,
                               'metadata': {'name': name, 'namespace': NS}, 'spec': spec})
    return r.status


def ready(plural, name):
    r = api.get(GV + plural + '/' + name)
    c = cond(r.json if r.status == 200 else None, 'Ready')
    return c is not None and c['status'] == 'True'


def gone(plural, name):
    return api.get(GV + plural + '/' + name).status == 404


secret('pg-admin', {'username': pg.superuser, 'password': pg.password})
secret('my-admin', {'username': my.user, 'password': my.password})
with open(pg.ca_file, 'rb') as f:
    secret('pg-tls', {'ca.crt': f.read()})
with open(my.ca_file, 'rb') as f:
    secret('my-tls', {'ca.crt': f.read()})
pg.value('CREATE TABLE public.t1 (id int)')
objs = []
for eng, server, port, db in (('postgres', 'pg', pg.port, 'postgres'), ('mysql', 'my', my.port, 'mysql')):
    inst = server + '1'
    objs += [('DatabaseInstance', 'databaseinstances', inst, {
        'engine': eng, 'connection': {'host': 'localhost', 'port': port, 'database': db,
                                      'secretRef': {'name': server + '-admin'}},
        'tls': {'enabled': True, 'mode': 'verify-full', 'secretRef': {'name': server + '-tls'}},
        'healthCheck': {'intervalSeconds': 5, 'timeoutSeconds': 20}})]
    objs += [('Database', 'databases', server + '-app', {'name': 'app_' + server, 'instanceRef': {'name': inst},
                                                         'deletionPolicy': 'Delete', 'deletionProtection': False})]
    objs += [('DatabaseUser', 'databaseusers', server + '-user', {
        'username': 'u_' + server, 'instanceRef': {'name': inst},
        'passwordSecret': {'secretName': server + '-user-creds',
                           'secretTemplate': {'data': {'dsn': '{{ .Username }}:{{ .Password | urlquery }}@'
                                                              '{{ .Host }}:{{ .Port }}'}}}})]
    if eng == 'postgres':
        role_spec = {'grants': [{'database': 'postgres', 'schema': 'public', 'tables': ['t1'],
                                 'privileges': ['SELECT']}]}
        grant_spec = {'postgres': {'grants': [{'database': 'postgres', 'privileges': ['CONNECT']},
                                              {'database': 'postgres', 'schema': 'public', 'tables': ['*'],
                                               'privileges': ['SELECT']}]}}
    else:
        role_spec = {'grants': [{'level': 'database', 'database': 'app_my', 'privileges': ['SELECT']}]}
        grant_spec = {'mysql': {'grants': [{'level': 'database', 'database': 'app_my',
                                            'privileges': ['SELECT', 'INSERT']}]}}
    objs += [('DatabaseRole', 'databaseroles', server + '-role', dict({'roleName': 'r_' + server,
                                                                       'instanceRef': {'name': inst}},
                                                                      **{eng: role_spec}))]
    objs += [('DatabaseGrant', 'databasegrants', server + '-grant', dict({'userRef': {'name': server + '-user'}},
                                                                        **grant_spec))]
p = None
try:
    p = vgtest.start(vglog, ['--kubeconfig', kc, '--resync-period', '20s', '--health-probe-bind-address', '0'],
                     tmp.join('dbprovd.log'))
    ok(dbptest.wait_until(lambda: 'informer synced' in p.stderr_text(), 60), 'runs under valgrind')
    for kind, plural, name, spec in objs:
        is_(obj(kind, plural, name, spec), 201, '%s %s created' % (kind, name))
    for kind, plural, name, spec in objs:
        if not ok(dbptest.wait_until(lambda: ready(plural, name), 180, 1), '%s %s Ready' % (kind, name)):
            diag(api.get(GV + plural + '/' + name).json.get('status'))
    for kind, plural, name, spec in reversed(objs):
        api.delete(GV + plural + '/' + name)
        ok(dbptest.wait_until(lambda: gone(plural, name), 120, 1), '%s %s deleted' % (kind, name))
    vgtest.finish(p, vglog, 120, tail=6000)
finally:
    if p is not None:
        p.close()
    fk.close()
    tmp.cleanup()
done_testing()
