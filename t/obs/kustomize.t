#!/usr/bin/python3
# t/obs/kustomize.t: `kubectl kustomize deploy/` renders and every document
# parses; the base holds what an install needs (the CRDs, RBAC, the
# Deployment with its hardening and probes, the metrics Service,
# ServiceMonitor, PrometheusRule); deploy/core renders without the
# Prometheus Operator kinds; the metrics-tls component switches the
# listener and the ServiceMonitor to verified HTTPS; deploy/Dockerfile
# builds with the packages of tools/install-deps and runs as 65532.
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep t/lib free of __pycache__
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
import obstest  # noqa: E402

if not obstest.have('kubectl'):
    skip_all('kubectl is not installed')

DEPLOY = dbptest.src_path('deploy')


def by_kind(docs):
    out = {}
    for d in docs:
        out.setdefault(d['kind'], []).append(d)
    return out


rc, docs, err = obstest.kustomize(DEPLOY)
ok(rc == 0, 'kubectl kustomize deploy/ renders')
if rc:
    diag(err)
ok(all(isinstance(d, dict) and d.get('apiVersion') and d.get('kind') and d.get('metadata', {}).get('name')
       for d in docs), 'every document parses, with apiVersion, kind and name')
k = by_kind(docs)
is_(len(k.get('CustomResourceDefinition', [])), 8, 'the eight CRDs from crd/')
for kind in ('Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding',
             'Deployment', 'Service', 'ServiceMonitor', 'PrometheusRule', 'ValidatingAdmissionPolicy',
             'ValidatingAdmissionPolicyBinding'):
    ok(kind in k, 'the base has a %s' % kind)
ns = k['Namespace'][0]['metadata']['name']
namespaced = [d for d in docs if d['kind'] not in ('Namespace', 'CustomResourceDefinition', 'ClusterRole',
                                                   'ClusterRoleBinding', 'ValidatingAdmissionPolicy',
                                                   'ValidatingAdmissionPolicyBinding')]
ok(all(d['metadata'].get('namespace') == ns for d in namespaced), 'namespaced objects in %s' % ns)
sa = k['ServiceAccount'][0]['metadata']['name']
crb = k['ClusterRoleBinding'][0]
ok(crb['subjects'] == [{'kind': 'ServiceAccount', 'name': sa, 'namespace': ns}], 'ClusterRoleBinding to the SA')
ok(k['RoleBinding'][0]['subjects'][0]['name'] == sa, 'RoleBinding to the SA')

dep = k['Deployment'][0]
pod = dep['spec']['template']['spec']
c = pod['containers'][0]
sc = c['securityContext']
psc = pod['securityContext']
ok(pod['serviceAccountName'] == sa, 'the pod runs as the SA')
ok(psc.get('runAsNonRoot') and psc.get('runAsUser') == 65532, 'pod: non-root, uid 65532')
is_(psc.get('seccompProfile'), {'type': 'RuntimeDefault'}, 'pod: seccomp RuntimeDefault')
ok(sc.get('readOnlyRootFilesystem') is True, 'container: read-only root filesystem')
ok(sc.get('allowPrivilegeEscalation') is False, 'container: no privilege escalation')
is_(sc.get('capabilities'), {'drop': ['ALL']}, 'container: capabilities dropped')
ok(sc.get('runAsUser') == 65532 and sc.get('runAsNonRoot'), 'container: uid 65532')
ports = {p['name']: p['containerPort'] for p in c['ports']}
lp, rp = c['livenessProbe']['httpGet'], c['readinessProbe']['httpGet']
ok(lp['path'] == '/healthz' and ports.get(lp['port'], lp['port']) == 8081, 'liveness: /healthz on 8081')
ok(rp['path'] == '/readyz' and ports.get(rp['port'], rp['port']) == 8081, 'readiness: /readyz on 8081')
ok('--health-probe-bind-address=:8081' in c['args'], 'probe listener on :8081')
ok('--leader-elect' in c['args'], 'leader election on')
m = [a for a in c['args'] if a.startswith('--metrics-bind-address=')]
ok(m and m[0].endswith(':%d' % ports['metrics']), 'metrics listener on the declared port')
res = c.get('resources', {})
ok(res.get('requests', {}).get('memory') and res.get('limits', {}).get('memory') and
   res.get('requests', {}).get('cpu') and res.get('limits', {}).get('cpu'), 'requests and limits set')
ok(any(v['mountPath'] == '/tmp' for v in c.get('volumeMounts', [])), 'a writable /tmp')

svc = k['Service'][0]
sel = dep['spec']['template']['metadata']['labels']
ok(all(sel.get(a) == b for a, b in svc['spec']['selector'].items()), 'the Service selects the pods')
sm = k['ServiceMonitor'][0]
ok(all(svc['metadata']['labels'].get(a) == b for a, b in sm['spec']['selector']['matchLabels'].items()),
   'the ServiceMonitor selects the Service')
ep = sm['spec']['endpoints'][0]
ok(ep['port'] in [p['name'] for p in svc['spec']['ports']] and ep['path'] == '/metrics',
   'the ServiceMonitor scrapes the Service port, /metrics')
is_(ep['scheme'], 'http', 'plain HTTP in the base')
with open(os.path.join(DEPLOY, 'prometheus', 'rules.yaml')) as f:
    import yaml
    rules_file = yaml.safe_load(f)
is_(k['PrometheusRule'][0]['spec'], rules_file['spec'], 'the PrometheusRule is deploy/prometheus/rules.yaml')

rc, core, err = obstest.kustomize(os.path.join(DEPLOY, 'core'))
ok(rc == 0 and not [d for d in core if d['apiVersion'].startswith('monitoring.coreos.com')]
   and any(d['kind'] == 'Deployment' for d in core), 'deploy/core renders without Prometheus Operator kinds')

# The TLS component, from a kustomization beside copies of deploy/ and crd/.
tmp = tempfile.mkdtemp(prefix='dbprovd-kust-')
try:
    shutil.copytree(DEPLOY, os.path.join(tmp, 'deploy'))
    shutil.copytree(dbptest.src_path('crd'), os.path.join(tmp, 'crd'))
    os.mkdir(os.path.join(tmp, 'tls'))
    with open(os.path.join(tmp, 'tls', 'kustomization.yaml'), 'w') as f:
        f.write('apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n'
                'resources:\n- ../deploy\ncomponents:\n- ../deploy/components/metrics-tls\n')
    rc, tdocs, err = obstest.kustomize(os.path.join(tmp, 'tls'))
    ok(rc == 0, 'the metrics-tls component renders')
    if rc:
        diag(err)
    tk = by_kind(tdocs)
    tc = tk['Deployment'][0]['spec']['template']['spec']['containers'][0]
    cp = [a for a in tc['args'] if a.startswith('--metrics-cert-path=')]
    mounts = {v['mountPath']: v['name'] for v in tc['volumeMounts']}
    ok(cp and cp[0].split('=', 1)[1] in mounts, 'TLS: --metrics-cert-path is a mounted volume')
    vols = {v['name']: v for v in tk['Deployment'][0]['spec']['template']['spec']['volumes']}
    secret = vols[mounts[cp[0].split('=', 1)[1]]]['secret']['secretName']
    certs = [d for d in tk.get('Certificate', []) if d['spec']['secretName'] == secret]
    ok(certs, 'TLS: cert-manager issues that Secret')
    tep = tk['ServiceMonitor'][0]['spec']['endpoints'][0]
    tls = tep.get('tlsConfig', {})
    ok(tep['scheme'] == 'https' and not tls.get('insecureSkipVerify') and
       tls.get('ca', {}).get('secret', {}).get('name') == secret, 'TLS: scraped over HTTPS, verified against its CA')
    tsvc = tk['Service'][0]
    name = '%s.%s.svc' % (tsvc['metadata']['name'], tsvc['metadata']['namespace'])
    ok(tls.get('serverName') == name and certs and name in certs[0]['spec']['dnsNames'],
       'TLS: the server name is the Service DNS name in the certificate')
    tports = {p['name']: p['containerPort'] for p in tc['ports']}
    ok(any(a == '--metrics-bind-address=:%d' % tports['metrics'] for a in tc['args']), 'TLS: listener port declared')
    ok('--metrics-secure' in tc['args'] and tep.get('bearerTokenFile'),
       'TLS: --metrics-secure, and Prometheus sends its ServiceAccount token')
    crb = [d for d in tk.get('ClusterRoleBinding', []) if d['roleRef']['name'] == 'dbprovd-metrics-reader']
    reader = [d for d in tk.get('ClusterRole', []) if d['metadata']['name'] == 'dbprovd-metrics-reader']
    ok(crb and crb[0]['subjects'][0]['kind'] == 'ServiceAccount' and reader and
       reader[0]['rules'] == [{'nonResourceURLs': ['/metrics'], 'verbs': ['get']}],
       'TLS: the scraper is bound to a role that may only get /metrics')
finally:
    for root, dirs, files in os.walk(tmp):  # copies of a read-only tree (distcheck)
        os.chmod(root, 0o755)
    shutil.rmtree(tmp, ignore_errors=True)

# The image: same build packages as tools/install-deps, runtime as 65532.
with open(os.path.join(DEPLOY, 'Dockerfile')) as f:
    df = f.read()
with open(dbptest.src_path('tools/install-deps')) as f:
    inst = f.read()
build = set(re.search(r'BUILD="([^"]*)"', inst).group(1).split())
stages = re.split(r'^FROM ', df, flags=re.M)[1:]
is_(len(stages), 2, 'two stages')
ok(stages[0].startswith('debian:12 AS build'), 'built on debian:12')
ok(stages[1].startswith('debian:12-slim'), 'runs on debian:12-slim')


def installs(stage):
    m = re.search(r'apt-get install[^\n]*\\\n((?:\s+[^\n]*\\\n)+)', stage)
    return set(w for w in re.sub(r'\\|&&.*', ' ', m.group(1)).split()) if m else set()


is_(sorted(installs(stages[0])), sorted(build), 'build packages are those of tools/install-deps')
run = installs(stages[1])
ok({'postgresql-client', 'mariadb-client', 'ca-certificates'} <= run, 'pg_dump/psql and mysqldump/mysql in the image')
ok(not [p for p in run if p.endswith('-dev')] and 'build-essential' not in run, 'no build tools at run time')
# Every library the built daemon links directly comes from a runtime package.
if os.path.exists(obstest.DBPROVD) and obstest.have('readelf') and obstest.have('dpkg'):
    import subprocess
    out = subprocess.run(['readelf', '-d', obstest.DBPROVD], capture_output=True, text=True).stdout
    needed = re.findall(r'\(NEEDED\)\s+Shared library: \[([^\]]+)\]', out)
    cache = subprocess.run(['ldconfig', '-p'], capture_output=True, text=True).stdout
    pkgs = set()
    for so in needed:
        if re.match(r'lib(asan|ubsan|c|m|gcc_s|pthread|dl)\.so', so):
            continue  # sanitizer runtimes (test builds) and libc
        m = re.search(r'^\s*%s \(.*x86-64.*\) => (\S+)' % re.escape(so), cache, re.M) or \
            re.search(r'^\s*%s .* => (\S+)' % re.escape(so), cache, re.M)
        if m:
            r = subprocess.run(['dpkg', '-S', m.group(1)], capture_output=True, text=True)
            if r.returncode:
                r = subprocess.run(['dpkg', '-S', os.path.realpath(m.group(1))], capture_output=True, text=True)
            if r.returncode == 0:
                pkgs.add(r.stdout.split(':')[0])
    missing = sorted(pkgs - run)
    ok(pkgs and not missing, 'the runtime stage installs every library package src/dbprovd needs')
    if missing:
        diag('missing: %s' % missing)
else:
    ok(True, '# skip src/dbprovd, readelf or dpkg missing')
ok(re.search(r'^USER 65532:65532$', stages[1], re.M), 'runs as 65532')
ok('ENTRYPOINT ["/usr/bin/dbprovd"]' in stages[1], 'entrypoint dbprovd')
done_testing()
