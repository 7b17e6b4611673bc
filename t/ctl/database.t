#!/usr/bin/python3
# The Database controller (src/ctrl_database.c) end to end: dbprovd against
# the API stand-in and a throwaway PostgreSQL. Finalizer first; create with
# options (connection limit, UTF8, an extension, a schema with an owner)
# observed in the catalogs; a database without a postgres block accepts
# connections; a spec change is applied; a manual ALTER is repaired at the
# next resync with a "Repaired" event; an encoding change is refused naming
# the field; a hostile name is refused cleanly or created literally; a wrong
# instance reference is named; deletion with Retain, Delete and protection
# (kept until force-delete), Snapshot (kept, says why).
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from pgserver import require_postgres, free_port  # noqa: E402

DBPROVD = dbptest.build_path('src/dbprovd')
if not os.path.exists(DBPROVD):
    skip_all('src/dbprovd is not built')
require_postgres()
import obstest  # noqa: E402

import ctltest  # noqa: E402
from ctltest import cond, lit, NS  # noqa: E402

INST = ctltest.INST
DBS = ctltest.GV + '/namespaces/%s/databases' % NS
FIN = 'dbops.dbprovision.io/database-protection'
EXT = 'pg_trgm' if os.path.exists('/usr/share/postgresql/15/extension/pg_trgm.control') else 'plpgsql'

env = ctltest.Env()
pg, fk, api, tmp, kc = env.pg, env.fk, env.api, env.tmp, env.kubeconfig
put_secret, instance, events_for, pgval = env.put_secret, env.instance, env.events_for, env.pgval


def database(name, dbname, inst='pg1', **spec):
    s = {'name': dbname, 'instanceRef': {'name': inst}}
    s.update(spec)
    return {'apiVersion': 'dbops.dbprovision.io/v1alpha1', 'kind': 'Database',
            'metadata': {'name': name, 'namespace': NS}, 'spec': s}


def get(name):
    return env.get(DBS + '/' + name)


def wait_cond(name, typ, status, timeout=30, reason=None):
    return env.wait_cond(DBS + '/' + name, typ, status, timeout, reason)


def exists(dbname):
    return pgval('SELECT count(*) FROM pg_database WHERE datname = %s' % lit(dbname)) == '1'


def patch(name, body):
    return api.patch(DBS + '/' + name, body)


env.admin_secret()
pgval('CREATE ROLE app_owner NOLOGIN')

mport = free_port()
d = dbptest.Proc([DBPROVD, '--kubeconfig', kc, '--log-level', 'debug', '--resync-period', '5s',
                  '--metrics-bind-address', '127.0.0.1:%d' % mport,
                  '--health-probe-bind-address', '0'],
                 stderr_path=tmp.join('dbprovd.log'))
try:
    obstest.wait_port(mport)
    ok(dbptest.wait_until(lambda: 'informer synced' in d.stderr_text(), 20), 'dbprovd runs and syncs')

    # --- wrong instance reference ------------------------------------------
    api.post(DBS, database('lost', 'lostdb', inst='nosuch', deletionProtection=False))
    o = wait_cond('lost', 'Ready', 'False', 20, reason='InstanceNotFound')
    ok(o, 'wrong instanceRef: Ready=False InstanceNotFound')
    like(((cond(o, 'Ready') or {}).get('message') or ''), r'default/nosuch', 'the message names the reference')
    is_(((o or {}).get('status') or {}).get('phase'), 'Failed', 'phase Failed')

    x = database('xns', 'xnsdb', deletionProtection=False)
    x['spec']['instanceRef']['namespace'] = 'other'
    is_(api.post(DBS, x).status, 201, 'a Database naming an instance of another namespace')
    o = wait_cond('xns', 'Ready', 'False', 20, reason='CrossNamespaceRefused')
    ok(o, 'instanceRef in another namespace: Ready=False CrossNamespaceRefused')
    like(((cond(o, 'Ready') or {}).get('message') or ''), r'other/pg1', 'the message names it')
    is_(api.post(INST, instance('pg1')).status, 201, 'instance created')

    # --- create with options ------------------------------------------------
    fk.clear_requests()
    spec = {'deletionPolicy': 'Delete', 'deletionProtection': False,
            'postgres': {'encoding': 'UTF8', 'connectionLimit': 7,
                         'extensions': [{'name': EXT}],
                         'schemas': [{'name': 'billing', 'owner': 'app_owner'}]}}
    is_(api.post(DBS, database('app', 'appdb', **spec)).status, 201, 'Database created')
    o = wait_cond('app', 'Ready', 'True', 60)
    ok(o, 'Ready=True')
    if not o:
        diag(get('app'))
        diag(d.stderr_text()[-3000:])
    o = o or get('app') or {}
    st = o.get('status') or {}
    is_(st.get('phase'), 'Ready', 'phase Ready')
    is_((cond(o, 'Synced') or {}).get('status'), 'True', 'Synced=True')
    is_(st.get('observedGeneration'), o['metadata']['generation'], 'observedGeneration')
    is_((st.get('database') or {}).get('name'), 'appdb', 'status.database.name')
    ok(((st.get('database') or {}).get('sizeBytes') or 0) > 0, 'status.database.sizeBytes')
    ok((st.get('database') or {}).get('owner'), 'status.database.owner')
    is_((st.get('postgres') or {}).get('encoding'), 'UTF8', 'status.postgres.encoding')
    ok('billing' in ((st.get('postgres') or {}).get('schemas') or []), 'status.postgres.schemas')
    ok(EXT in [e['name'] for e in (st.get('postgres') or {}).get('installedExtensions') or []],
       'status.postgres.installedExtensions')
    ok(FIN in (o['metadata'].get('finalizers') or []), 'finalizer present')
    ok(re.search(r'"status updated".*"name":"app".*"phase":"Creating"', d.stderr_text()),
       'phase Creating written before the CREATE')
    writes = [x for x in fk.requests() if x['method'] in ('PATCH', 'PUT') and x.get('resource') == 'databases'
              and x.get('name') == 'app']
    ok(writes and not writes[0].get('subresource'), 'the first write is the finalizer patch')
    is_(pgval("SELECT datconnlimit FROM pg_database WHERE datname = 'appdb'"), '7', 'pg_database: connection limit 7')
    is_(pgval("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'appdb'"), 'UTF8',
        'pg_database: UTF8')
    is_(pgval("SELECT count(*) FROM pg_extension WHERE extname = '%s'" % EXT, 'appdb'), '1', 'pg_extension: ' + EXT)
    is_(pgval("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'billing'", 'appdb'),
        'app_owner', 'pg_namespace: billing owned by app_owner')
    ok(dbptest.wait_until(lambda: events_for('app', 'Created'), 10), 'Created events')
    body = obstest.get(mport, '/metrics')[1]
    body = body.decode() if isinstance(body, bytes) else body
    ok(re.search(r'dbops_database_size_bytes\{[^}]*appdb', body), 'size gauge')
    ok(re.search(r'dbops_database_operations_total\{[^}]*create', body), 'create operation counted')

    # Converged: no status write without a change.
    time.sleep(1)
    n0 = len([x for x in fk.requests() if x.get('subresource') == 'status' and x.get('name') == 'app'])
    time.sleep(6)
    n1 = len([x for x in fk.requests() if x.get('subresource') == 'status' and x.get('name') == 'app'])
    is_(n1, n0, 'a resync that changes nothing writes nothing')

    # --- spec change ----------------------------------------------------------
    patch('app', {'spec': {'postgres': {'connectionLimit': 9}}})
    ok(dbptest.wait_until(lambda: pgval("SELECT datconnlimit FROM pg_database WHERE datname = 'appdb'") == '9', 20),
       'connectionLimit change applied')

    # --- drift ----------------------------------------------------------------
    pgval('ALTER DATABASE appdb CONNECTION LIMIT 3')
    ok(dbptest.wait_until(lambda: pgval("SELECT datconnlimit FROM pg_database WHERE datname = 'appdb'") == '9', 20),
       'manual ALTER repaired at the next resync')
    ok(dbptest.wait_until(lambda: events_for('app', 'Repaired'), 10), 'a Repaired event')
    like(((events_for('app', 'Repaired') or [{}])[0].get('message') or ''), r'^repaired', 'the event says repaired')

    # --- a change that cannot be applied -----------------------------------------
    patch('app', {'spec': {'postgres': {'encoding': 'LATIN1'}}})
    o = wait_cond('app', 'Ready', 'False', 20)
    ok(o, 'encoding change: Ready=False')
    like(((cond(o, 'Ready') or {}).get('message') or ''), r'encoding', 'the message names the field')
    patch('app', {'spec': {'postgres': {'encoding': 'UTF8'}}})
    ok(wait_cond('app', 'Ready', 'True', 20), 'encoding back: Ready again')

    # --- no postgres block ----------------------------------------------------------
    api.post(DBS, database('plain', 'plaindb'))
    ok(wait_cond('plain', 'Ready', 'True', 30), 'plain database Ready')
    is_(pgval("SELECT datallowconn FROM pg_database WHERE datname = 'plaindb'"), 't', 'it accepts connections')
    is_(pgval('SELECT current_database()', 'plaindb'), 'plaindb', 'a connection to it works')

    # --- a server error becomes the condition message ------------------------------
    api.post(DBS, database('bad', 'baddb', deletionProtection=False, deletionPolicy='Delete',
                           postgres={'schemas': [{'name': 's1', 'owner': 'no_such_role'}]}))
    o = wait_cond('bad', 'Ready', 'False', 30)
    c = cond(o, 'Ready') or {}
    ok(c.get('reason') in ('CreateFailed', 'UpdateFailed'), 'server error: Ready=False %s' % c.get('reason'))
    like(c.get('message') or '', r'SQLSTATE 42704.*no_such_role', 'the message has the SQLSTATE and the server text')
    is_(((o or {}).get('status') or {}).get('phase'), 'Failed', 'phase Failed')
    pgval('CREATE ROLE no_such_role NOLOGIN')
    ok(wait_cond('bad', 'Ready', 'True', 60), 'the role exists: Ready after the backoff')
    is_(pgval("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 's1'", 'baddb'),
        'no_such_role', 'schema created with its owner')
    api.delete(DBS + '/bad')
    ok(dbptest.wait_until(lambda: get('bad') is None, 20) and not exists('baddb'), 'bad: dropped')

    # --- hostile name ---------------------------------------------------------------
    hostile = 'x"; DROP DATABASE appdb; --\u00e9\u00e8'
    r = api.post(DBS, database('hostile', hostile, deletionProtection=False, deletionPolicy='Delete'))
    if r.status == 201:
        o = wait_cond('hostile', 'Ready', 'True', 30)
        ok(o or exists(hostile) is False, 'hostile name: handled')
        ok(exists(hostile), 'hostile name created literally')
    else:
        ok(400 <= r.status < 500, 'hostile name refused cleanly by the schema (%d)' % r.status)
        ok(not exists(hostile), 'nothing created')
    ok(exists('appdb'), 'nothing was executed from the name')
    # the longest legal name, mixed case: quoted as an identifier, not folded or truncated
    long_name = 'Mixed_' + 'X' * 57
    is_(len(long_name.encode()), 63, '63-byte name')
    api.post(DBS, database('long', long_name, deletionProtection=False, deletionPolicy='Delete'))
    ok(wait_cond('long', 'Ready', 'True', 30), '63-byte mixed-case name Ready')
    ok(exists(long_name), 'created literally (case kept, not truncated)')
    api.delete(DBS + '/long')
    ok(dbptest.wait_until(lambda: get('long') is None, 20) and not exists(long_name), 'and dropped literally')

    # Deleted right after it became Ready: dbprovd's own pooled connection
    # into the database must not make the DROP fail.
    api.post(DBS, database('quick', 'quickdb', deletionProtection=False, deletionPolicy='Delete',
                           postgres={'extensions': [{'name': 'pg_trgm'}]}))
    ok(wait_cond('quick', 'Ready', 'True', 30), 'database with an extension Ready')
    ok(int(pgval("SELECT count(*) FROM pg_stat_activity WHERE datname = 'quickdb'")) >= 1,
       'dbprovd holds a pooled connection into it')
    api.delete(DBS + '/quick')
    ok(dbptest.wait_until(lambda: get('quick') is None, 10) and not exists('quickdb'),
       'deleted at once although dbprovd had just been connected to it')

    # --- two objects for one database: the older manages it ---------------------------
    is_(api.post(DBS, database('dup-a', 'dupdb', deletionPolicy='Delete', deletionProtection=False)).status, 201,
        'Database dup-a for dupdb')
    ok(wait_cond('dup-a', 'Ready', 'True', 30), 'Ready')
    time.sleep(1.1)  # a later creationTimestamp
    is_(api.post(DBS, database('dup-b', 'dupdb', deletionPolicy='Delete', deletionProtection=False)).status, 201,
        'Database dup-b for the same database')
    o = wait_cond('dup-b', 'Ready', 'False', 30, reason='NameConflict')
    ok(o and 'dup-a' in o['status'].get('message', ''), 'the younger one: NameConflict naming the older')
    api.delete(DBS + '/dup-b')
    ok(dbptest.wait_until(lambda: get('dup-b') is None, 20), 'deleting it (policy Delete) ...')
    ok(exists('dupdb'), '... does not drop the database the older one manages')
    ok(wait_cond('dup-a', 'Ready', 'True', 10), 'dup-a is still Ready')
    api.delete(DBS + '/dup-a')
    ok(dbptest.wait_until(lambda: get('dup-a') is None and not exists('dupdb'), 20), 'dup-a deleted: dropped')

    # --- deletion ----------------------------------------------------------------------
    # protection on (default): kept until force-delete
    api.post(DBS, database('prot', 'protdb', deletionPolicy='Delete'))
    ok(wait_cond('prot', 'Ready', 'True', 30), 'protected database Ready')
    api.delete(DBS + '/prot')
    o = wait_cond('prot', 'Ready', 'False', 20, reason='DeletionProtected')
    ok(o, 'protected: Ready=False DeletionProtected')
    ok(o and FIN in (o['metadata'].get('finalizers') or []), 'protected: finalizer kept')
    ok(exists('protdb'), 'protected: database kept')
    patch('prot', {'metadata': {'annotations': {'dbops.dbprovision.io/force-delete': 'true'}}})
    ok(dbptest.wait_until(lambda: get('prot') is None, 30), 'force-delete: object gone')
    ok(not exists('protdb'), 'force-delete with policy Delete: database dropped')

    # Retain
    api.post(DBS, database('keep', 'keepdb', deletionProtection=False))
    ok(wait_cond('keep', 'Ready', 'True', 30), 'Retain database Ready')
    api.delete(DBS + '/keep')
    ok(dbptest.wait_until(lambda: get('keep') is None, 20), 'Retain: object gone')
    ok(exists('keepdb'), 'Retain: database left on the server')

    # Snapshot
    api.post(DBS, database('snap', 'snapdb', deletionProtection=False, deletionPolicy='Snapshot'))
    ok(wait_cond('snap', 'Ready', 'True', 30), 'Snapshot database Ready')
    api.delete(DBS + '/snap')
    o = wait_cond('snap', 'Ready', 'False', 20, reason='SnapshotNotSupported')
    ok(o and FIN in (o['metadata'].get('finalizers') or []), 'Snapshot: finalizer kept with a clear condition')
    patch('snap', {'spec': {'deletionPolicy': 'Retain'}})
    ok(dbptest.wait_until(lambda: get('snap') is None, 20), 'Snapshot changed to Retain: object gone')

    # Delete
    api.delete(DBS + '/app')
    ok(dbptest.wait_until(lambda: get('app') is None, 30), 'Delete: object gone')
    ok(not exists('appdb'), 'Delete: database dropped')
    body = obstest.get(mport, '/metrics')[1]
    body = body.decode() if isinstance(body, bytes) else body
    ok(not re.search(r'dbops_database_size_bytes\{[^}]*appdb', body), 'size gauge removed')

    # Delete with the server down: kept, says why
    api.post(DBS, database('down', 'downdb', deletionProtection=False, deletionPolicy='Delete'))
    ok(wait_cond('down', 'Ready', 'True', 30), 'database Ready before the server stops')
    pg.stop()
    api.delete(DBS + '/down')
    o = wait_cond('down', 'Ready', 'False', 30, reason='DeletionFailed')
    ok(o and FIN in (o['metadata'].get('finalizers') or []), 'server down: finalizer kept, DeletionFailed')
    pg.start_again()
    ok(dbptest.wait_until(lambda: get('down') is None, 90), 'server back: dropped and gone')
    ok(not exists('downdb'), 'server back: database dropped')

    for n in ('lost', 'plain', 'hostile', 'xns'):
        api.delete(DBS + '/' + n)
    ctltest.stop_and_check(d, [pg.password])
finally:
    d.close()
    env.close()
done_testing()
