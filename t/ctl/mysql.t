#!/usr/bin/python3
# The MySQL side of the controllers, end to end: dbprovd against the API
# stand-in and a throwaway MariaDB 10.11. A DatabaseInstance with engine
# mysql over TLS (verify-full against a throwaway CA) becomes Ready with
# the server's version; spec.mysql.tls alone also decides TLS; a Database is created with its charset and
# collation (information_schema.SCHEMATA), altered when the spec changes,
# repaired when changed by hand, created once a killed server is back,
# refused when it carries PostgreSQL
# options, and dropped or kept as its deletionPolicy says; a reserved word
# as a name is quoted. A DatabaseUser gets one account per allowed host,
# its limits, plugin, TLS requirement and lock (mysql.user,
# mysql.global_priv), a generated password in its Secret that logs in,
# repair of a limit changed by hand, and is dropped on deletion. A
# DatabaseRole makes a native role with grants and revokes what its spec
# drops. A DatabaseGrant gives the user that role and privileges at the
# global, database, table (WITH GRANT OPTION) and column levels (SHOW
# GRANTS), re-grants what is revoked by hand, revokes what the spec drops,
# and everything on deletion.
import base64
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402

DBPROVD = dbptest.build_path('src/dbprovd')
if not os.path.exists(DBPROVD):
    skip_all('src/dbprovd is not built')
from myserver import MyServer, require_mariadb  # noqa: E402
require_mariadb()
from fakekube import FakeKube  # noqa: E402
import obstest  # noqa: E402
from ctltest import cond  # noqa: E402

NS = 'default'
GV = '/apis/dbops.dbprovision.io/v1alpha1'
INST = GV + '/namespaces/%s/databaseinstances' % NS
DBS = GV + '/namespaces/%s/databases' % NS
USERS = GV + '/namespaces/%s/databaseusers' % NS
ROLES = GV + '/namespaces/%s/databaseroles' % NS
GRANTS = GV + '/namespaces/%s/databasegrants' % NS
SECRETS = '/api/v1/namespaces/%s/secrets' % NS
# The CRD allows only [a-zA-Z_][a-zA-Z0-9_]* names: a reserved word is the
# hardest name that gets through (the planners' unit tests cover the rest).
HOSTILE = 'select'

my = MyServer().start()
tmp = dbptest.TempDir()
token_file = tmp.join('token')
with open(token_file, 'w') as f:
    f.write('my-test-token\n')
fk = FakeKube(tls=True, token_file=token_file, crd_dir=dbptest.src_path('crd'), bookmark_interval=1).start()
api = fk.client()
kubeconfig = tmp.join('kubeconfig')
fk.write_kubeconfig(kubeconfig, token_file=True)


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def put_secret(name, data):
    return api.post(SECRETS, {'apiVersion': 'v1', 'kind': 'Secret', 'metadata': {'name': name, 'namespace': NS},
                              'type': 'Opaque', 'data': {k: b64(v) for k, v in data.items()}})


def get(path):
    r = api.get(path)
    return r.json if r.status == 200 else None


def wait_cond(path, typ, status, timeout=30, reason=None):
    def pred():
        o = get(path)
        c = cond(o, typ)
        return o if c and c['status'] == status and (reason is None or c['reason'] == reason) else None
    return dbptest.wait_until(pred, timeout, 0.2)


def schema(name):
    rows = my.sql("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
                  "WHERE SCHEMA_NAME = '%s'" % name.replace('\\', '\\\\').replace("'", "''"))
    return tuple(rows[0]) if rows else None


def database(name, dbname, **spec):
    s = {'name': dbname, 'instanceRef': {'name': 'my1'}, 'deletionProtection': False}
    s.update(spec)
    return {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'Database',
            'metadata': {'name': name, 'namespace': NS}, 'spec': s}


put_secret('my-admin', {'username': my.user, 'password': my.password})
with open(my.ca_file, 'rb') as f:
    put_secret('my-tls', {'ca.crt': f.read()})
mport = dbptest.free_port()
vroot = tmp.join('volumes')
os.makedirs(os.path.join(vroot, 'backups'))
d = dbptest.Proc([DBPROVD, '--kubeconfig', kubeconfig, '--log-level', 'debug', '--resync-period', '5s',
                  '--backup-volume-root', vroot,
                  '--metrics-bind-address', '127.0.0.1:%d' % mport, '--health-probe-bind-address', '0'],
                 stderr_path=tmp.join('dbprovd.log'))
try:
    obstest.wait_port(mport)
    ok(dbptest.wait_until(lambda: 'informer synced' in d.stderr_text(), 20), 'dbprovd runs and syncs')

    # --- the instance ------------------------------------------------------------
    inst = {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseInstance',
            'metadata': {'name': 'my1', 'namespace': NS},
            'spec': {'engine': 'mysql',
                     'connection': {'host': 'localhost', 'port': my.port, 'database': 'mysql',
                                    'secretRef': {'name': 'my-admin'}},
                     'tls': {'enabled': True, 'mode': 'verify-full', 'secretRef': {'name': 'my-tls'}},
                     'healthCheck': {'intervalSeconds': 5, 'timeoutSeconds': 3},
                     'mysql': {'charset': 'utf8mb4'}}}
    is_(api.post(INST, inst).status, 201, 'DatabaseInstance (mysql, TLS verify-full) created')
    o = wait_cond(INST + '/my1', 'Ready', 'True', 60)
    ok(o, 'Ready=True')
    if not o:
        diag(get(INST + '/my1'))
        diag(d.stderr_text()[-3000:])
    o = o or {'status': {}}
    ok((o['status'].get('version') or '').endswith('-MariaDB'), 'status.version names MariaDB: %s'
       % o['status'].get('version'))
    is_((cond(o, 'Connected') or {}).get('status'), 'True', 'Connected=True')
    ok(dbptest.wait_until(lambda: my.value("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                           "WHERE USER = 'admin'") not in (None, '0'), 10),
       'sessions of the admin account are open')

    # --- spec.mysql.tls (declared by the original, never used there) -----------------------
    my.sql("CREATE USER 'tlsadmin'@'%' IDENTIFIED BY 'tls-only-pw' REQUIRE SSL")
    my.sql("GRANT ALL PRIVILEGES ON *.* TO 'tlsadmin'@'%'")
    put_secret('my-tls-admin', {'username': 'tlsadmin', 'password': 'tls-only-pw'})
    for name, mode in (('my2', 'required'), ('my3', 'disabled')):
        i2 = {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseInstance',
              'metadata': {'name': name, 'namespace': NS},
              'spec': {'engine': 'mysql',
                       'connection': {'host': '127.0.0.1', 'port': my.port, 'database': 'mysql',
                                      'secretRef': {'name': 'my-tls-admin'}},
                       'healthCheck': {'intervalSeconds': 5, 'timeoutSeconds': 3},
                       'mysql': {'tls': mode}}}
        is_(api.post(INST, i2).status, 201, 'instance %s with spec.mysql.tls %s' % (name, mode))
    ok(wait_cond(INST + '/my2', 'Ready', 'True', 30), 'tls required: an account that REQUIREs SSL connects')
    o = wait_cond(INST + '/my3', 'Ready', 'False', 30)
    ok(o and 'Access denied' in o['status'].get('message', ''), 'tls disabled: the same account is refused')
    for name in ('my2', 'my3'):
        api.delete(INST + '/' + name)

    # --- a database with charset and collation -------------------------------------------
    is_(api.post(DBS, database('shop', 'shop', deletionPolicy='Delete',
                               mysql={'charset': 'utf8mb4', 'collation': 'utf8mb4_bin'})).status, 201,
        'Database shop created')
    o = wait_cond(DBS + '/shop', 'Ready', 'True', 30)
    ok(o, 'Ready=True')
    if not o:
        diag(get(DBS + '/shop'))
    is_(schema('shop'), ('utf8mb4', 'utf8mb4_bin'), 'SCHEMATA: utf8mb4 / utf8mb4_bin')
    st = (o or {}).get('status') or {}
    is_((st.get('mysql') or {}).get('collation'), 'utf8mb4_bin', 'status.mysql.collation')
    is_((st.get('database') or {}).get('name'), 'shop', 'status.database.name')
    ok(dbptest.wait_until(lambda: [e for e in api.get('/api/v1/namespaces/%s/events' % NS).json['items']
                                   if e['involvedObject']['name'] == 'shop' and e['reason'] == 'Created'], 10),
       'Created event')

    # --- spec change, drift ---------------------------------------------------------------
    api.patch(DBS + '/shop', {'spec': {'mysql': {'collation': 'utf8mb4_unicode_ci'}}})
    ok(dbptest.wait_until(lambda: schema('shop') == ('utf8mb4', 'utf8mb4_unicode_ci'), 20),
       'collation changed by the spec: ALTER DATABASE')
    my.sql('ALTER DATABASE shop COLLATE utf8mb4_general_ci')
    ok(dbptest.wait_until(lambda: schema('shop') == ('utf8mb4', 'utf8mb4_unicode_ci'), 20),
       'collation changed by hand: repaired')

    # --- the server goes away mid-way ----------------------------------------------------------
    my.kill()
    ok(wait_cond(INST + '/my1', 'Ready', 'False', 30), 'server killed: the instance is not Ready')
    is_(api.post(DBS, database('late', 'late', deletionPolicy='Delete')).status, 201,
        'a Database created while the server is down')
    ok(wait_cond(DBS + '/late', 'Ready', 'False', 30), 'it waits (Ready=False)')
    my.start_again()
    ok(wait_cond(INST + '/my1', 'Ready', 'True', 60), 'server back: the instance is Ready again')
    ok(wait_cond(DBS + '/late', 'Ready', 'True', 90), 'and the Database converges')
    ok(schema('late') is not None, 'late exists on the server')

    # --- refusals ----------------------------------------------------------------------------
    is_(api.post(DBS, database('pgopts', 'pgopts', postgres={'encoding': 'UTF8'})).status, 201,
        'a Database with PostgreSQL options on a mysql instance')
    o = wait_cond(DBS + '/pgopts', 'Ready', 'False', 20, reason='SpecNotApplicable')
    ok(o and 'spec.postgres' in o['status'].get('message', ''), 'SpecNotApplicable naming spec.postgres')
    is_(schema('pgopts'), None, 'nothing created')
    # --- a user with a generated password on two host patterns ------------------------
    is_(api.post(USERS, {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseUser',
                         'metadata': {'name': 'app', 'namespace': NS},
                         'spec': {'username': 'app_user', 'instanceRef': {'name': 'my1'},
                                  'passwordSecret': {'secretName': 'app-creds'},
                                  'mysql': {'allowedHosts': ['%', 'localhost'], 'maxUserConnections': 3,
                                            'authPlugin': 'mysql_native_password'}}}).status, 201,
        'a DatabaseUser on MySQL')
    o = wait_cond(USERS + '/app', 'Ready', 'True', 30)
    ok(o, 'Ready=True')
    if not o:
        diag(get(USERS + '/app'))
    hosts = sorted(r[0] for r in my.sql("SELECT Host FROM mysql.user WHERE User = 'app_user'"))
    is_(hosts, ['%', 'localhost'], 'one account per allowed host')
    is_(my.value("SELECT DISTINCT max_user_connections FROM mysql.user WHERE User = 'app_user'"), '3',
        'MAX_USER_CONNECTIONS 3 on both')
    is_(my.value("SELECT DISTINCT plugin FROM mysql.user WHERE User = 'app_user'"), 'mysql_native_password',
        'auth plugin')
    sec = get(SECRETS + '/app-creds') or {}
    apw = base64.b64decode((sec.get('data') or {}).get('password', '')).decode()
    ok(len(apw) == 32 and my.login('app_user', apw), "the Secret password logs in over TCP ('%')")
    ok(my.login('app_user', apw, socket=True), "and over the unix socket ('localhost')")
    ok(apw not in my.log_text(), 'the password never reached the server log')
    my.sql("ALTER USER 'app_user'@'%' WITH MAX_USER_CONNECTIONS 0")
    ok(dbptest.wait_until(lambda: my.value("SELECT max_user_connections FROM mysql.user WHERE User = 'app_user' "
                                           "AND Host = '%'") == '3', 20), 'a limit changed by hand is repaired')
    api.patch(USERS + '/app', {'spec': {'mysql': {'allowedHosts': ['%']}}})
    ok(dbptest.wait_until(lambda: [r[0] for r in my.sql("SELECT Host FROM mysql.user WHERE User = 'app_user'")]
                          == ['%'], 20), 'a host removed from allowedHosts: its account is dropped')
    # --- more account fields --------------------------------------------------------------
    is_(api.post(USERS, {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseUser',
                         'metadata': {'name': 'locked', 'namespace': NS},
                         'spec': {'username': 'locked_user', 'instanceRef': {'name': 'my1'},
                                  'mysql': {'requireSSL': True, 'accountLocked': True, 'maxQueriesPerHour': 100,
                                            'maxConnectionsPerHour': 7}}}).status, 201,
        'a locked user that requires TLS')
    ok(wait_cond(USERS + '/locked', 'Ready', 'True', 30), 'Ready=True')
    is_(my.sql("SELECT ssl_type, max_questions, max_connections FROM mysql.user WHERE User = 'locked_user'"),
        [['ANY', '100', '7']], 'REQUIRE SSL, MAX_QUERIES_PER_HOUR, MAX_CONNECTIONS_PER_HOUR')
    is_(my.value("SELECT JSON_VALUE(Priv, '$.account_locked') FROM mysql.global_priv WHERE User = 'locked_user'"),
        '1', 'ACCOUNT LOCK (mysql.global_priv)')
    ok(not my.login('locked_user', base64.b64decode(get(SECRETS + '/locked-credentials')['data']['password'])
                    .decode()), 'a locked account cannot log in')
    is_(api.post(USERS, {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseUser',
                         'metadata': {'name': 'fl', 'namespace': NS},
                         'spec': {'username': 'fl_user', 'instanceRef': {'name': 'my1'},
                                  'mysql': {'failedLoginAttempts': 3}}}).status, 201,
        'failedLoginAttempts on MariaDB')
    o = wait_cond(USERS + '/fl', 'Ready', 'False', 30, reason='SpecNotApplicable')
    ok(o and 'failedLoginAttempts' in o['status'].get('message', ''),
       'refused with the field named (MariaDB has no such setting), not ignored')
    for n in ('locked', 'fl'):
        api.delete(USERS + '/' + n)
    ok(dbptest.wait_until(lambda: get(USERS + '/locked') is None and get(USERS + '/fl') is None, 30), 'deleted')
    is_(my.value("SELECT COUNT(*) FROM mysql.user WHERE User IN ('locked_user', 'fl_user')"), '0',
        'no accounts left')

    # --- grants to that user -------------------------------------------------------------
    my.sql('CREATE TABLE shop.orders (id int, note text)')
    # --- a role made by a DatabaseRole ------------------------------------------------------
    is_(api.post(ROLES, {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseRole',
                         'metadata': {'name': 'reporting', 'namespace': NS},
                         'spec': {'roleName': 'reporting', 'instanceRef': {'name': 'my1'},
                                  'mysql': {'grants': [{'level': 'database', 'database': 'shop',
                                                        'privileges': ['SELECT']},
                                                       {'level': 'table', 'database': 'shop', 'table': 'orders',
                                                        'privileges': ['DELETE']}]}}}).status, 201,
        'a DatabaseRole on MySQL with grants')
    o = wait_cond(ROLES + '/reporting', 'Ready', 'True', 30)
    ok(o, 'Ready=True')
    if not o:
        diag(get(ROLES + '/reporting'))

    def role_grants():
        return '\n'.join(r[0] for r in my.sql('SHOW GRANTS FOR reporting'))
    is_(my.value("SELECT is_role FROM mysql.user WHERE User = 'reporting'"), 'Y', 'a native MariaDB role')
    ok(re.search(r'GRANT SELECT ON `shop`\.\* TO `reporting`', role_grants()), 'the role holds SELECT ON shop.*')
    ok(re.search(r'GRANT DELETE ON `shop`\.`orders` TO `reporting`', role_grants()), 'and DELETE on shop.orders')
    api.patch(ROLES + '/reporting', {'spec': {'mysql': {'grants': [{'level': 'database', 'database': 'shop',
                                                                     'privileges': ['SELECT']}]}}})
    ok(dbptest.wait_until(lambda: 'DELETE' not in role_grants(), 20), 'a grant removed from the role is revoked')

    def grants():
        return '\n'.join(r[0] for r in my.sql("SHOW GRANTS FOR 'app_user'@'%'"))
    gspec = {'roles': ['reporting'],
             'grants': [{'level': 'database', 'database': 'shop', 'privileges': ['SELECT', 'INSERT']},
                        {'level': 'table', 'database': 'shop', 'table': 'orders', 'privileges': ['UPDATE'],
                         'withGrantOption': True},
                        {'level': 'column', 'database': 'shop', 'table': 'orders', 'columns': ['note'],
                         'privileges': ['REFERENCES']},
                        {'level': 'global', 'privileges': ['PROCESS']}]}
    is_(api.post(GRANTS, {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseGrant',
                          'metadata': {'name': 'g1', 'namespace': NS},
                          'spec': {'userRef': {'name': 'app'}, 'mysql': gspec}}).status, 201,
        'a DatabaseGrant on MySQL')
    o = wait_cond(GRANTS + '/g1', 'Ready', 'True', 30)
    ok(o, 'Ready=True')
    if not o:
        diag(get(GRANTS + '/g1'))
    g = grants()
    ok('GRANT PROCESS ON *.*' in g, 'global: PROCESS ON *.*')
    ok(re.search(r'GRANT SELECT, INSERT ON `shop`\.\*', g), 'database: SELECT, INSERT ON shop.*')
    if not ok(re.search(r'GRANT .*UPDATE.* ON `shop`\.`orders` .*WITH GRANT OPTION', g),
              'table: UPDATE WITH GRANT OPTION'):
        diag(g)
    ok(re.search(r'REFERENCES \(`note`\)', g), 'column: REFERENCES (note)')
    ok('GRANT `reporting` TO' in g, 'role reporting granted')
    is_(((o or {}).get('status') or {}).get('appliedGrants', {}).get('roles'), ['reporting'], 'appliedGrants.roles')
    my.sql("REVOKE INSERT ON shop.* FROM 'app_user'@'%'")
    ok(dbptest.wait_until(lambda: re.search(r'GRANT SELECT, INSERT ON `shop`', grants()), 20),
       'a privilege revoked by hand is granted again')
    api.patch(GRANTS + '/g1', {'spec': {'mysql': {'roles': [], 'grants': [gspec['grants'][0]]}}})
    ok(dbptest.wait_until(lambda: 'PROCESS' not in grants() and 'orders' not in grants(), 20),
       'entries removed from the spec are revoked')
    ok('reporting' not in grants(), 'and the role')
    ok(re.search(r'GRANT SELECT, INSERT ON `shop`', grants()), 'what stays, stays')
    api.delete(GRANTS + '/g1')
    ok(dbptest.wait_until(lambda: get(GRANTS + '/g1') is None, 30), 'the grant is deleted')
    ok('shop' not in grants(), 'its privileges are revoked')

    api.delete(USERS + '/app')
    ok(dbptest.wait_until(lambda: get(USERS + '/app') is None, 30), 'the user is deleted')
    is_(my.value("SELECT COUNT(*) FROM mysql.user WHERE User = 'app_user'"), '0', 'its accounts are dropped')
    is_(get(SECRETS + '/app-creds'), None, 'and its Secret')
    logs_pw = apw

    # --- a backup of shop: mariadb-dump over verify-full TLS to a volume ------------------------------------
    import hashlib
    import subprocess
    from myserver import CLIENT
    my.sql("CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(40)); "
           "INSERT INTO items SELECT seq, CONCAT('row ', seq) FROM seq_1_to_1000", 'shop')
    BK = GV + '/namespaces/%s/databasebackups' % NS
    is_(api.post(BK, {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'DatabaseBackup',
                      'metadata': {'name': 'b1', 'namespace': NS},
                      'spec': {'databaseRef': {'name': 'shop'}, 'compression': {'algorithm': 'gzip'},
                               'storage': {'type': 'pvc', 'pvc': {'claimName': 'backups'}}}}).status, 201,
        'a DatabaseBackup of shop')
    o = dbptest.wait_until(lambda: (get(BK + '/b1') or {}).get('status', {}).get('phase') in ('Completed', 'Failed')
                           and get(BK + '/b1'), 60, 0.2)
    st = (o or {}).get('status', {})
    if not is_(st.get('phase'), 'Completed', 'the backup completes'):
        diag(st)
    b = st.get('backup') or {}
    f = os.path.join(vroot, 'backups', b.get('path', 'x'))
    data = open(f, 'rb').read() if os.path.isfile(f) else b''
    ok(b.get('path', '').startswith('shop-b1-') and b.get('path', '').endswith('.sql.gz') and
       b.get('checksum') == 'sha256:' + hashlib.sha256(data).hexdigest() and b.get('format') == 'sql',
       'path, format and checksum of the artefact on the volume')
    my.sql('CREATE DATABASE shop_copy')
    p1 = subprocess.Popen([dbptest.build_path('src/dbprovctl'), 'decode', f], stdout=subprocess.PIPE)
    p2 = subprocess.run([CLIENT, '--no-defaults', '-h', '127.0.0.1', '-P', str(my.port), '-u', my.user, 'shop_copy'],
                        stdin=p1.stdout, capture_output=True, env=dict(os.environ, MYSQL_PWD=my.password))
    p1.stdout.close()
    ok(p1.wait() == 0 and p2.returncode == 0, 'dbprovctl decode | mariadb')
    is_(my.value('SELECT COUNT(*) FROM items', 'shop_copy'), '1000', 'the rows come back')
    my.sql('DROP DATABASE shop_copy')
    api.delete(BK + '/b1')
    ok(dbptest.wait_until(lambda: get(BK + '/b1') is None, 30) and not os.path.exists(f),
       'deleting the backup deletes its artefact')

    # --- a reserved word as the name -------------------------------------------------------------------------
    is_(api.post(DBS, database('hostile', HOSTILE, deletionPolicy='Delete')).status, 201,
        'a Database named with a reserved word')
    ok(wait_cond(DBS + '/hostile', 'Ready', 'True', 30), 'Ready=True')
    ok(schema(HOSTILE) is not None, 'created under exactly that name')
    ok(schema('shop') is not None, 'shop still exists')

    # --- deletion -----------------------------------------------------------------------------------
    is_(api.post(DBS, database('kept', 'kept', deletionPolicy='Retain')).status, 201, 'a Database to retain')
    ok(wait_cond(DBS + '/kept', 'Ready', 'True', 30), 'Ready=True')
    for n in ('kept', 'shop', 'hostile', 'pgopts', 'late'):
        api.delete(DBS + '/' + n)
    ok(dbptest.wait_until(lambda: all(get(DBS + '/' + n) is None
                                      for n in ('kept', 'shop', 'hostile', 'pgopts', 'late')),
                          30), 'the Databases are gone')
    is_(schema('shop'), None, 'Delete: shop dropped')
    is_(schema(HOSTILE), None, 'Delete: the hostile one dropped')
    ok(schema('kept') is not None, 'Retain: kept stays')
    api.delete(ROLES + '/reporting')
    ok(dbptest.wait_until(lambda: get(ROLES + '/reporting') is None, 30), 'the DatabaseRole is deleted')
    is_(my.value("SELECT COUNT(*) FROM mysql.user WHERE User = 'reporting'"), '0', 'the role is dropped')
    api.delete(INST + '/my1')
    ok(dbptest.wait_until(lambda: get(INST + '/my1') is None, 30), 'the instance is deleted')

    rc = d.stop(15)
    is_(rc, 0, 'SIGTERM: exit 0')
    logs = d.stderr_text()
    ok(my.password not in logs and logs_pw not in logs, 'no password in the logs')
    is_([x for x in logs.splitlines() if not x.startswith('{')], [], 'every log line is JSON')
    if not ok('ERROR: AddressSanitizer' not in logs and 'runtime error' not in logs, 'no sanitizer report'):
        diag(logs[-3000:])
finally:
    d.close()
    fk.close()
    tmp.cleanup()
done_testing()
