#!/usr/bin/python3
# The DatabaseUser controller (src/ctrl_user.c) end to end: dbprovd against
# the API stand-in and a throwaway PostgreSQL. A generated password lands
# in a credentials Secret (owner reference, label, rendered template) and
# logs in; the server holds a SCRAM verifier; attributes are applied and
# repaired; a password changed in the Secret while dbprovd is down (the
# state a crash between "Secret written" and "server updated" leaves) is
# applied at the next start; an existing password Secret is used and
# followed; a role that existed before gets the Secret's password; a
# Secret of the same name that is not ours is never touched; scheduled
# rotation; a renamed credentials Secret replaces the old one; a user
# made while the server is down converges once it is
# back; deletion drops the role and the Secret; no password in logs.
import base64
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from pgserver import require_postgres, free_port  # noqa: E402

DBPROVD = dbptest.build_path('src/dbprovd')
if not os.path.exists(DBPROVD):
    skip_all('src/dbprovd is not built')
require_postgres()
import ctltest  # noqa: E402
import obstest  # noqa: E402
from ctltest import cond, lit  # noqa: E402

USERS = ctltest.GV + '/namespaces/%s/databaseusers' % ctltest.NS
SECRETS = ctltest.SECRETS
FIN = 'dbops.dbprovision.io/user-protection'
APPLIED = 'dbops.dbprovision.io/password-applied'

env = ctltest.Env()
api, pg, fk = env.api, env.pg, env.fk
seen_passwords = [pg.password]


def user(name, username, inst='pg1', **spec):
    s = {'username': username, 'instanceRef': {'name': inst}}
    s.update(spec)
    return {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseUser',
            'metadata': {'name': name, 'namespace': ctltest.NS}, 'spec': s}


def get(name):
    return env.get(USERS + '/' + name)


def secret(name):
    return env.get(SECRETS + '/' + name)


def sdata(name, key='password'):
    s = secret(name)
    v = ((s or {}).get('data') or {}).get(key)
    return base64.b64decode(v).decode() if v is not None else None


def attr(rolename, col):
    return env.pgval('SELECT %s FROM pg_roles WHERE rolname = %s' % (col, lit(rolename)))


def exists(rolename):
    return env.pgval('SELECT count(*) FROM pg_roles WHERE rolname = %s' % lit(rolename)) == '1'


def start_dbprovd():
    mport = free_port()
    d = dbptest.Proc([DBPROVD, '--kubeconfig', env.kubeconfig, '--log-level', 'debug', '--resync-period', '5s',
                      '--metrics-bind-address', '127.0.0.1:%d' % mport,
                      '--health-probe-bind-address', '0'],
                     stderr_path=env.tmp.join('dbprovd-%d.log' % mport))
    obstest.wait_port(mport)
    ok(dbptest.wait_until(lambda: 'informer synced' in d.stderr_text(), 20), 'dbprovd runs and syncs')
    return d, mport


env.admin_secret()
env.pgval('CREATE ROLE app_readers NOLOGIN')
is_(api.post(ctltest.INST, env.instance('pg1')).status, 201, 'instance created')
logs = ''
d, mport = start_dbprovd()
try:
    # --- generated password, template, attributes ---------------------------------
    tmpl = {'data': {'uri': 'postgresql://{{ .Username }}:{{ .Password | urlquery }}@{{ .Host }}:{{ .Port }}/'
                            '{{ .Database }}?sslmode={{ .SSLMode }}'},
            'labels': {'team': 'payments'}}
    ok(env.wait_cond(ctltest.INST + '/pg1', 'Ready', 'True', 60), 'the instance is Ready')
    fk.clear_requests()
    is_(api.post(USERS, user('app', 'app_user',
                             passwordSecret={'secretName': 'app-creds', 'length': 24, 'secretTemplate': tmpl},
                             postgres={'connectionLimit': 5, 'createDB': True, 'inRoles': ['app_readers']})).status,
        201, 'DatabaseUser with a generated password and a template')
    o = env.wait_cond(USERS + '/app', 'Ready', 'True', 60)
    ok(o, 'Ready=True')
    if not o:
        diag(get('app'))
        diag(d.stderr_text()[-3000:])
    o = o or get('app') or {'metadata': {}}
    st = o.get('status') or {}
    is_(st.get('phase'), 'Ready', 'phase Ready')
    ok('"msg":"not ready","controller":"databaseuser","namespace":"default","name":"app"'
       not in d.stderr_text(), 'Ready at the first pass (no failure on the way)')
    is_([r['code'] for r in fk.requests() if r['resource'] in ('databaseusers', 'secrets') and r['code'] == 409], [],
        'no conflicts on its own writes (each write knows the version the last one made)')
    is_((cond(o, 'Synced') or {}).get('status'), 'True', 'Synced=True')
    is_((st.get('user') or {}).get('username'), 'app_user', 'status.user.username')
    is_((st.get('secret') or {}).get('name'), 'app-creds', 'status.secret.name')
    is_((st.get('secret') or {}).get('namespace'), ctltest.NS, 'status.secret.namespace')
    ok((st.get('secret') or {}).get('lastRotatedAt'), 'status.secret.lastRotatedAt')
    ok(FIN in (o['metadata'].get('finalizers') or []), 'finalizer present')
    s = secret('app-creds') or {'metadata': {}}
    pw = sdata('app-creds')
    seen_passwords.append(pw or 'x')
    is_(len(pw or ''), 24, 'the Secret holds a 24-character password')
    is_(sdata('app-creds', 'username'), 'app_user', 'and the username')
    uri = sdata('app-creds', 'uri') or ''
    ok(uri.startswith('postgresql://app_user:') and uri.endswith('@localhost:%d/postgres?sslmode=verify-full'
                                                                  % pg.port),
       'the template key is rendered (sslmode filled in)')
    owners = s['metadata'].get('ownerReferences') or []
    ok(owners and owners[0].get('uid') == o['metadata'].get('uid') and owners[0].get('controller'),
       'the Secret is controlled by the DatabaseUser')
    labels = s['metadata'].get('labels') or {}
    is_(labels.get('app.kubernetes.io/managed-by'), 'dbprovd', 'label managed-by=dbprovd')
    is_(labels.get('team'), 'payments', 'the template label')
    ok(pw and pg.login('app_user', pw), 'the Secret password logs in')
    ok(env.pgval("SELECT rolpassword FROM pg_authid WHERE rolname = 'app_user'").startswith('SCRAM-SHA-256$'),
       'the server holds a SCRAM-SHA-256 verifier')
    is_(attr('app_user', 'rolconnlimit'), '5', 'CONNECTION LIMIT 5')
    is_(attr('app_user', 'rolcreatedb'), 't', 'CREATEDB')
    is_(attr('app_user', 'rolcanlogin'), 't', 'LOGIN')
    is_(env.pgval("SELECT count(*) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u "
                  "ON u.oid = m.member WHERE u.rolname = 'app_user' AND g.rolname = 'app_readers'"), '1',
        'member of app_readers')
    ok(dbptest.wait_until(lambda: (get('app')['metadata'].get('annotations') or {}).get(APPLIED), 10),
       'the applied password is recorded on the object')
    ok(pw and pw not in pg.log_text(), 'the plaintext never reached the server log')
    secret_writes = [x for x in fk.requests() if x.get('resource') == 'secrets' and x['method'] in ('POST', 'PATCH')]
    ok(secret_writes, 'the Secret was written')

    # --- drift repaired -----------------------------------------------------------
    env.pgval('ALTER ROLE app_user CONNECTION LIMIT 1')
    ok(dbptest.wait_until(lambda: attr('app_user', 'rolconnlimit') == '5', 20), 'manual CONNECTION LIMIT repaired')
    env.pgval("ALTER ROLE app_user PASSWORD 'changed-by-hand'")
    ok(not pg.login('app_user', pw), 'password changed by hand: the Secret no longer logs in')

    # --- a password changed in the Secret while dbprovd is down -----------------------
    is_(d.stop(15), 0, 'dbprovd stopped')
    logs += d.stderr_text()
    newpw = 'Rotated-By-Hand-0123456789'
    seen_passwords.append(newpw)
    r = api.patch(SECRETS + '/app-creds', {'data': {'password': ctltest.b64(newpw)}})
    is_(r.status, 200, 'the Secret gets a new password (as if dbprovd died after writing it)')
    d, mport = start_dbprovd()
    ok(dbptest.wait_until(lambda: pg.login('app_user', newpw), 30), 'after the restart the new password logs in')
    ok(not pg.login('app_user', 'changed-by-hand'), 'the hand-set password is gone')
    ok(dbptest.wait_until(lambda: env.events_for('app', 'PasswordSet'), 10), 'PasswordSet event')
    rv = secret('app-creds')['metadata']['resourceVersion']
    ok(dbptest.wait_until(lambda: (get('app')['metadata'].get('annotations') or {}).get(APPLIED, '').endswith(
        '@' + rv), 15), 'the record names the Secret version now applied')

    # --- existing password Secret -----------------------------------------------------
    expw = 'Existing-Secret-Pw-42'
    seen_passwords.append(expw)
    env.put_secret('given-pw', {'pw': expw})
    is_(api.post(USERS, user('ex', 'ex_user', existingPasswordSecret={'name': 'given-pw', 'key': 'pw'})).status,
        201, 'a user with an existing password Secret')
    o = env.wait_cond(USERS + '/ex', 'Ready', 'True', 60)
    ok(o, 'Ready=True')
    ok(pg.login('ex_user', expw), 'the existing password logs in')
    ok(not ((o or {}).get('status') or {}).get('secret'), 'no credentials Secret of ours')
    is_(secret('ex-credentials'), None, 'none written')
    expw2 = 'Existing-Secret-Pw-43'
    seen_passwords.append(expw2)
    api.patch(SECRETS + '/given-pw', {'data': {'pw': ctltest.b64(expw2)}})
    ok(dbptest.wait_until(lambda: pg.login('ex_user', expw2), 30), 'a change of that Secret is followed')
    is_(api.post(USERS, user('exbad', 'exbad_user', existingPasswordSecret={'name': 'given-pw', 'key': 'nokey'})
                 ).status, 201, 'an existing Secret without the key')
    o = env.wait_cond(USERS + '/exbad', 'Ready', 'False', 30, reason='SecretNotFound')
    ok(o and 'nokey' in o['status'].get('message', ''), 'SecretNotFound naming the key')
    ok(not exists('exbad_user'), 'no role created without its password')

    # --- a role that existed before: it gets the Secret's password ----------------------
    env.pgval("CREATE ROLE pre_user LOGIN PASSWORD 'old-password'")
    is_(api.post(USERS, user('pre', 'pre_user')).status, 201, 'a user for a role that exists')
    o = env.wait_cond(USERS + '/pre', 'Ready', 'True', 60)
    ok(o, 'Ready=True')
    prepw = sdata('pre-credentials')
    seen_passwords.append(prepw or 'x')
    ok(prepw and pg.login('pre_user', prepw), 'without passwordSecret the password is kept in '
       '<name>-credentials and logs in')
    ok(not pg.login('pre_user', 'old-password'), 'the old password is gone')

    # --- secretName changed: a new Secret, the old one goes ---------------------------------
    api.patch(USERS + '/pre', {'spec': {'passwordSecret': {'secretName': 'pre-creds2'}}})
    ok(dbptest.wait_until(lambda: sdata('pre-creds2') is not None, 30), 'the new credentials Secret is written')
    prepw2 = sdata('pre-creds2') or 'x'
    seen_passwords.append(prepw2)
    ok(dbptest.wait_until(lambda: pg.login('pre_user', prepw2), 30), 'its password logs in')
    ok(dbptest.wait_until(lambda: secret('pre-credentials') is None, 30),
       'the Secret of the old name, whose password is gone, is deleted')
    o = env.wait_cond(USERS + '/pre', 'Ready', 'True', 20)
    is_(((o or {}).get('status') or {}).get('secret', {}).get('name'), 'pre-creds2', 'status.secret.name follows')

    # --- a Secret of that name that is not ours -----------------------------------------
    env.put_secret('taken', {'password': 'not-ours'})
    is_(api.post(USERS, user('tk', 'tk_user', passwordSecret={'secretName': 'taken'})).status, 201,
        'a user whose Secret name is taken')
    o = env.wait_cond(USERS + '/tk', 'Ready', 'False', 30, reason='SecretConflict')
    ok(o, 'SecretConflict')
    is_(sdata('taken'), 'not-ours', 'the foreign Secret is untouched')
    ok(not exists('tk_user'), 'no role created')

    # --- scheduled rotation -----------------------------------------------------------------
    is_(api.post(USERS, user('rot', 'rot_user', passwordSecret={'secretName': 'rot-creds'},
                             passwordRotation={'enabled': True, 'schedule': '@every 3s'})).status,
        201, 'a user rotated every 3 s')
    ok(env.wait_cond(USERS + '/rot', 'Ready', 'True', 60), 'Ready=True')
    p1 = sdata('rot-creds')
    seen_passwords.append(p1 or 'x')
    ok(dbptest.wait_until(lambda: sdata('rot-creds') not in (None, p1), 30), 'the password was rotated')
    p2 = sdata('rot-creds')
    seen_passwords.append(p2 or 'x')
    ok(dbptest.wait_until(lambda: pg.login('rot_user', sdata('rot-creds') or 'x'), 30),
       'the rotated password logs in')
    ok(not pg.login('rot_user', p1 or 'x'), 'the previous one does not')
    api.delete(USERS + '/rot')
    ok(dbptest.wait_until(lambda: get('rot') is None, 30), 'rotated user deleted')
    for name in ('rot-creds',):
        v = sdata(name)
        if v:
            seen_passwords.append(v)

    # --- invalid rotation settings ---------------------------------------------------------
    is_(api.post(USERS, user('rbad', 'rbad_user', passwordRotation={'enabled': True, 'schedule': '61 * * * *'})
                 ).status, 201, 'a user with a bad rotation schedule')
    o = env.wait_cond(USERS + '/rbad', 'Ready', 'False', 20, reason='InvalidSpec')
    ok(o and 'spec.passwordRotation.schedule' in cond(o, 'Ready').get('message', ''), 'InvalidSpec names the field')

    # --- the server restarts while users are being made ---------------------------------------
    pg.stop()
    is_(api.post(USERS, user('late', 'late_user', passwordSecret={'secretName': 'late-creds'})).status, 201,
        'a user created while PostgreSQL is down')
    ok(env.wait_cond(USERS + '/late', 'Ready', 'False', 30), 'it waits (Ready=False)')
    pg.start_again()
    o = env.wait_cond(USERS + '/late', 'Ready', 'True', 90)
    ok(o, 'server back: the user converges')
    latepw = sdata('late-creds')
    seen_passwords.append(latepw or 'x')
    ok(latepw and pg.login('late_user', latepw), 'and its Secret password logs in')
    api.delete(USERS + '/late')
    ok(dbptest.wait_until(lambda: get('late') is None, 30), 'deleted')

    # --- deletion ---------------------------------------------------------------------------
    api.delete(USERS + '/app')
    ok(dbptest.wait_until(lambda: get('app') is None, 30), 'Delete: object gone')
    ok(not exists('app_user'), 'role dropped')
    is_(secret('app-creds'), None, 'the credentials Secret is deleted')
    for n in ('ex', 'exbad', 'pre', 'tk', 'rbad'):
        api.delete(USERS + '/' + n)
    ok(dbptest.wait_until(lambda: all(get(n) is None for n in ('ex', 'exbad', 'pre', 'tk', 'rbad')), 30),
       'the other users are gone')
    ok(not exists('ex_user') and not exists('pre_user'), 'their roles are dropped')
    is_(sdata('given-pw', 'pw'), expw2, 'the existing password Secret is left alone')
    is_(sdata('taken'), 'not-ours', 'and so is the foreign one')
    body = obstest.get(mport, '/metrics')[1]
    body = body.decode() if isinstance(body, bytes) else body
    ok(re.search(r'dbops_user_operations_total\{[^}]*delete', body), 'delete operations counted')

    # --- the Secret calls are allowed by deploy/'s RBAC ---------------------------------------
    calls = set((r['verb'], r['subresource'] or '') for r in fk.requests()
                if r['userAgent'].startswith('dbprovd') and r['resource'] == 'secrets')
    ok({('get', ''), ('create', ''), ('patch', ''), ('delete', '')} <= calls,
       'Secrets were read, created, patched and deleted: %s' % sorted(calls))
    if obstest.have('kubectl'):
        rc, docs, err = obstest.kustomize(dbptest.src_path('deploy'))
        rules = [r for doc in docs if doc['kind'] == 'ClusterRole' for r in doc['rules']
                 if '' in r.get('apiGroups', []) and 'secrets' in r.get('resources', [])]
        verbs = set(v for r in rules for v in r.get('verbs', []))
        is_(sorted(v for v, sub in calls if v not in verbs), [], 'every Secret call is allowed by the ClusterRole')
        is_(sorted(verbs & {'list', 'watch', 'update'}), [], 'and Secrets are never listed, watched or replaced')

    rc = d.stop(15)
    is_(rc, 0, 'SIGTERM: exit 0')
    logs += d.stderr_text()
    ok(all(p not in logs for p in seen_passwords if p), 'no password in the logs')
    is_([x for x in logs.splitlines() if not x.startswith('{')], [], 'every log line is JSON')
    if not ok('ERROR: AddressSanitizer' not in logs and 'runtime error' not in logs, 'no sanitizer report'):
        diag(logs[-3000:])
finally:
    d.close()
    env.close()
done_testing()
