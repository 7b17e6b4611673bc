#!/usr/bin/python3
# Every example manifest goes through the whole path a user's manifest
# takes: kubectl apply against the API stand-in (which loaded crd/ and
# applies its defaults and validation), then dbprovd's C parser on the
# stored object, which must accept it and read the same values. The
# invalid manifests of t/data/invalid are rejected by the schema or the C
# validation at the field path they name.
import glob
import json
import os
import shutil
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
import crdschema  # noqa: E402
from fakekube import FakeKube  # noqa: E402

APICHECK = dbptest.build_path('t/drv/apicheck')
KUBECTL = shutil.which('kubectl')
if not os.path.exists(APICHECK):
    skip_all('t/drv/apicheck is not built')
if not KUBECTL:
    skip_all('kubectl is not installed (tools/install-deps installs it)')

GROUP = 'dbops.dbprovision.io'


def apicheck(obj):
    r = subprocess.run([APICHECK], input=json.dumps(obj).encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return r.returncode, r.stdout.decode()


def summary(out):
    line = out.splitlines()[0] if out else ''
    if not line.startswith('OK '):
        return None
    return json.loads(line.split(' ', 2)[2])


def ref(obj, key, ns):
    r = (obj.get('spec') or {}).get(key)
    return None if r is None else {'name': r['name'], 'namespace': r.get('namespace') or ns}


def expected(obj):
    """The values the C parser must read, from the stored object."""
    kind, spec, ns = obj['kind'], obj.get('spec') or {}, obj['metadata'].get('namespace', 'default')
    if kind == 'DatabaseInstance':
        c = spec['connection']
        sref = c.get('secretRef') or {}
        return {'engine': spec['engine'], 'host': c['host'], 'port': c['port'],
                'secretName': sref.get('name'),
                'usernameKey': (sref.get('keys') or {}).get('username', 'username') if sref else None}
    if kind == 'Database':
        return {'instanceRef': ref(obj, 'instanceRef', ns), 'name': spec['name'],
                'deletionPolicy': spec['deletionPolicy'], 'deletionProtection': spec['deletionProtection']}
    if kind == 'DatabaseUser':
        return {'instanceRef': ref(obj, 'instanceRef', ns), 'username': spec['username']}
    if kind == 'DatabaseRole':
        return {'instanceRef': ref(obj, 'instanceRef', ns), 'roleName': spec['roleName']}
    if kind == 'DatabaseGrant':
        return {'userRef': ref(obj, 'userRef', ns), 'databaseRef': ref(obj, 'databaseRef', ns)}

    def bspec(s, ns):
        comp, enc = s.get('compression') or {}, s.get('encryption') or {}
        return {'databaseRef': {'name': s['databaseRef']['name'],
                                'namespace': s['databaseRef'].get('namespace') or ns},
                'storageType': s['storage']['type'],
                'compressionEnabled': comp.get('enabled', True) if comp else True,
                'compressionAlgorithm': comp.get('algorithm', 'gzip') if comp else 'gzip',
                'compressionLevel': comp.get('level', 6) if comp else 6,
                'encryptionEnabled': enc.get('enabled', False),
                'activeDeadlineSeconds': s['activeDeadlineSeconds']}
    if kind == 'DatabaseBackup':
        return bspec(spec, ns)
    if kind == 'DatabaseRestore':
        t = spec.get('target') or {}
        return {'backupRef': ref(obj, 'backupRef', ns), 'fromPath': 'fromPath' in spec,
                'targetInstanceRef': ({'name': t['instanceRef']['name'],
                                       'namespace': t['instanceRef'].get('namespace') or ns}
                                      if t.get('instanceRef') else None),
                'inPlace': t.get('inPlace', False),
                'activeDeadlineSeconds': spec['activeDeadlineSeconds']}
    if kind == 'DatabaseBackupSchedule':
        return {'schedule': spec['schedule'], 'timezone': spec['timezone'], 'paused': spec.get('paused', False),
                'concurrencyPolicy': spec['concurrencyPolicy'],
                'successfulBackupsHistoryLimit': spec['successfulBackupsHistoryLimit'],
                'failedBackupsHistoryLimit': spec['failedBackupsHistoryLimit'],
                'template': bspec(spec['template']['spec'], ns)}
    return None


tmp = dbptest.TempDir()
fk = FakeKube(tls=True, token='examples-token', crd_dir=dbptest.src_path('crd')).start()
kc = tmp.join('kubeconfig')
fk.write_kubeconfig(kc)
env = dict(os.environ, KUBECONFIG=kc, KUBECACHEDIR=tmp.join('cache'))


def kubectl(*args, stdin=None):
    r = subprocess.run([KUBECTL, '--request-timeout=20s'] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


try:
    files = sorted(glob.glob(dbptest.src_path('deploy/examples/*/*.yaml')))
    ok(len(files) >= 16, '%d example files' % len(files))
    for path in files:
        rel = os.path.relpath(path, dbptest.SRCDIR)
        docs = [d for d in yaml.safe_load_all(open(path)) if d]
        for d in docs:
            ns = d['metadata'].get('namespace')
            if ns and fk.client().get('/api/v1/namespaces/' + ns).status == 404:
                fk.client().post('/api/v1/namespaces', {'apiVersion': 'v1', 'kind': 'Namespace',
                                                        'metadata': {'name': ns}})
        rc, out, err = kubectl('apply', '--validate=false', '-f', path)
        is_(rc, 0, 'kubectl apply -f %s' % rel) or diag(err)
        for d in docs:
            if d['apiVersion'].split('/')[0] != GROUP:
                continue
            ns = d['metadata'].get('namespace', 'default')
            plural = d['kind'].lower() + 's' if d['kind'] != 'DatabaseBackupSchedule' else 'databasebackupschedules'
            rc, out, err = kubectl('get', '-n', ns, '%s.%s' % (plural, GROUP), d['metadata']['name'], '-o', 'json')
            if rc != 0:
                ok(False, '%s %s stored' % (d['kind'], d['metadata']['name']))
                diag(err)
                continue
            stored = json.loads(out)
            rc, out = apicheck(stored)
            got = summary(out)
            ok(got is not None, '%s: C parser accepts %s/%s' % (rel, d['kind'], d['metadata']['name'])) \
                or diag(out)
            if got is not None:
                is_(got, expected(stored), '%s: C parser reads the stored values and defaults' % rel)

    # Invalid manifests: the schema (the stand-in) or the C validation
    # rejects each at the field it names.
    for path in sorted(glob.glob(dbptest.src_path('t/data/invalid/*.yaml'))):
        rel = os.path.relpath(path, dbptest.SRCDIR)
        first = open(path).readline().strip()
        doc = [d for d in yaml.safe_load_all(open(path)) if d][0]
        if first.startswith('# expect-c-only:'):
            want = first.split(':', 1)[1].strip()
            stored = crdschema.apply_defaults(crdschema.schema_for(doc['kind']), json.loads(json.dumps(doc)))
            rc, out = apicheck(stored)
            paths = [line[4:].split(': ', 1)[0] for line in out.splitlines() if line.startswith('ERR ')]
            ok(rc == 1 and want in paths, '%s: C validation names %s' % (rel, want)) or diag(out)
        elif first.startswith('# expect:'):
            want = first.split(':', 1)[1].strip()
            # As kubectl's default --validate=strict does: server-side
            # field validation, so unknown fields are errors too.
            plural = {'DatabaseBackupSchedule': 'databasebackupschedules'}.get(doc['kind'], doc['kind'].lower() + 's')
            r = fk.client().post('/apis/%s/v1alpha1/namespaces/%s/%s?fieldValidation=Strict'
                                 % (GROUP, doc['metadata'].get('namespace', 'default'), plural), doc)
            err = r.text
            schema_said = r.status in (400, 422) and want in err
            rc2, out2 = apicheck(json.loads(json.dumps(doc)))
            c_said = rc2 == 1 and any(line.startswith('ERR ' + want) for line in out2.splitlines())
            ok(schema_said or c_said, '%s: rejected at %s (schema: %s, C: %s)'
               % (rel, want, 'yes' if schema_said else 'no', 'yes' if c_said else 'no')) \
                or diag(err + out2)
finally:
    fk.close()
    tmp.cleanup()
done_testing()
