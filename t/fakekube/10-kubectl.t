#!/usr/bin/python3
# t/fakekube/10-kubectl.t: the real kubectl against the fake over HTTPS with a bearer token
# (kube-api.md §10, "Using the real kubectl against a fake").
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, skip_all, done_testing  # noqa: E402
import fakekube  # noqa: E402

KUBECTL = shutil.which('kubectl')
if not KUBECTL:
    skip_all('kubectl not installed')

tmp = tempfile.mkdtemp(prefix='fakekube-kubectl-')
fk = fakekube.FakeKube(tls=True, token='kubectl-token', crd_dir=os.path.join(HERE, 'crd')).start()
try:
    kc = fk.write_kubeconfig(os.path.join(tmp, 'kubeconfig'), namespace='default')
    env = dict(os.environ, KUBECONFIG=kc, KUBECACHEDIR=os.path.join(tmp, 'cache'), HOME=tmp)
    env.pop('KUBERNETES_SERVICE_HOST', None)

    def k(*args):
        r = subprocess.run([KUBECTL] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    manifest = os.path.join(tmp, 'w1.yaml')

    def write(spec):
        with open(manifest, 'w') as f:
            f.write('apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n  labels:\n    app: demo\n'
                    'spec:\n' + ''.join('  %s: %s\n' % kv for kv in spec.items()))

    rc, out, err = k('version', '-o', 'json')
    is_(rc, 0, 'kubectl version talks to the fake over HTTPS')
    ok(rc == 0 and json.loads(out)['serverVersion']['major'] == '1', '... and reads the server version')
    write({'size': 3, 'color': 'green'})
    rc, out, err = k('apply', '--validate=false', '-f', manifest)
    is_((rc, out.strip()), (0, 'widget.example.com/w1 created'), 'kubectl apply creates the custom resource')
    rc, out, err = k('apply', '--validate=false', '-f', manifest)
    is_((rc, out.strip()), (0, 'widget.example.com/w1 unchanged'), 'a second apply is unchanged')
    rc, out, err = k('get', 'widgets')
    lines = out.strip().splitlines()
    is_(rc, 0, 'kubectl get widgets')
    like(lines[0] if lines else '', r'^NAME\s+SIZE\s+COLOR\s+READY\s+AGE$', '... shows the CRD printer columns (server-side Table)')
    like(lines[1] if len(lines) > 1 else '', r'^w1\s+3\s+green\s+\d+s$', '... and the row with an age')
    rc, out, err = k('get', 'widgets', '-o', 'json')
    items = json.loads(out)['items'] if rc == 0 else []
    is_([(i['metadata']['name'], i['spec']) for i in items], [('w1', {'size': 3, 'color': 'green'})],
        'kubectl get widgets -o json')
    ok(items and 'kubectl.kubernetes.io/last-applied-configuration' in items[0]['metadata'].get('annotations', {}),
       '... with the last-applied annotation')
    rc, out, err = k('get', 'wdg', 'w1', '-o', 'jsonpath={.metadata.generation}')
    is_((rc, out), (0, '1'), 'short name and jsonpath output')
    write({'size': 4, 'color': 'green'})
    rc, out, err = k('apply', '--validate=false', '-f', manifest)
    is_((rc, out.strip()), (0, 'widget.example.com/w1 configured'), 'apply of a changed manifest patches it')
    w = fk.store_get('example.com/v1', 'Widget', 'w1', 'default')
    is_((w['spec']['size'], w['metadata']['generation']), (4, 2), '... the change is stored, generation bumped')
    rc, out, err = k('patch', 'widget', 'w1', '--type=merge', '-p', '{"spec":{"color":"blue"}}')
    is_(rc, 0, 'kubectl patch --type=merge')
    rc, out, err = k('get', 'widgets', '-l', 'app=demo', '--field-selector', 'spec.color=blue', '-o', 'name')
    is_((rc, out.strip()), (0, 'widget.example.com/w1'), 'label and field selectors through kubectl')
    write({'size': -1})
    rc, out, err = k('apply', '--validate=false', '-f', manifest)
    ok(rc != 0 and 'spec.size: Invalid value: -1' in err, 'schema validation errors reach kubectl')
    rc, out, err = k('create', 'configmap', 'cfg', '--from-literal=a=b')
    is_((rc, out.strip()), (0, 'configmap/cfg created'), 'kubectl create configmap (protobuf request body)')
    rc, out, err = k('create', 'namespace', 'team-a')
    is_(rc, 0, 'kubectl create namespace')
    rc, out, err = k('get', 'configmap', 'cfg', '-o', 'jsonpath={.data.a}')
    is_((rc, out), (0, 'b'), 'kubectl get configmap')
    rc, out, err = k('delete', 'widget', 'w1')
    is_((rc, out.strip()), (0, 'widget.example.com "w1" deleted'), 'kubectl delete (waits for the deletion)')
    rc, out, err = k('get', 'widgets')
    ok(rc == 0 and 'No resources found' in err, 'kubectl get after delete finds nothing')
    rc, out, err = k('delete', 'namespace', 'team-a')
    is_(rc, 0, 'kubectl delete namespace')
    fk.rotate_token('other')
    rc, out, err = k('get', 'widgets')
    ok(rc != 0 and 'Unauthorized' in err, 'a rejected token reaches kubectl as Unauthorized')
    ok(any(e['userAgent'].startswith('kubectl/') for e in fk.requests()), 'the request log shows kubectl requests')
finally:
    fk.close()
    shutil.rmtree(tmp, ignore_errors=True)
done_testing()
