# t/lib/kubeconfig.py: write a kubeconfig file for a test API server.
#
#   write_kubeconfig(path, server, ca_file=None, ca_data=None, token=None, token_file=None,
#                    insecure=False, namespace=None, context='fakekube', cluster=None, user=None,
#                    tls_server_name=None)
#   for_fake(fk, path, **kw)   # server/CA/token taken from a running fakekube.FakeKube
#
# ca_data is PEM text or bytes (written base64-encoded as certificate-authority-data);
# ca_file is written as certificate-authority. Scalars are written as JSON strings,
# which are valid YAML. Returns path.
import base64
import json
import os


def _q(v):
    return json.dumps(v)


def write_kubeconfig(path, server, ca_file=None, ca_data=None, token=None, token_file=None, insecure=False,
                     namespace=None, context='fakekube', cluster=None, user=None, tls_server_name=None):
    cluster = cluster or context
    user = user or context
    cl = ['    server: %s' % _q(server)]
    if ca_data is not None:
        if isinstance(ca_data, str):
            ca_data = ca_data.encode()
        cl.append('    certificate-authority-data: %s' % _q(base64.b64encode(ca_data).decode()))
    if ca_file:
        cl.append('    certificate-authority: %s' % _q(os.path.abspath(ca_file)))
    if insecure:
        cl.append('    insecure-skip-tls-verify: true')
    if tls_server_name:
        cl.append('    tls-server-name: %s' % _q(tls_server_name))
    us = []
    if token:
        us.append('    token: %s' % _q(token))
    if token_file:
        us.append('    tokenFile: %s' % _q(os.path.abspath(token_file)))
    ctx = ['    cluster: %s' % _q(cluster), '    user: %s' % _q(user)]
    if namespace:
        ctx.append('    namespace: %s' % _q(namespace))
    text = '\n'.join(
        ['apiVersion: v1', 'kind: Config', 'preferences: {}',
         'clusters:', '- name: %s' % _q(cluster), '  cluster:'] + cl +
        ['users:', '- name: %s' % _q(user), '  user:' + ('' if us else ' {}')] + us +
        ['contexts:', '- name: %s' % _q(context), '  context:'] + ctx +
        ['current-context: %s' % _q(context), ''])
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def for_fake(fk, path, **kw):
    kw.setdefault('ca_file', fk.ca_file)
    if 'token_file' not in kw:
        kw.setdefault('token', fk.token)
    return write_kubeconfig(path, fk.url, **kw)
