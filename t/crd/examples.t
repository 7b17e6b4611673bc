#!/usr/bin/python3
# t/crd/examples.t: the manifests in deploy/examples validate against the CRDs
# (after structural defaulting, with kubectl's strict unknown-field check), are
# complete and consistent (every kind for both engines, references resolve,
# referenced Secret keys exist), and every manifest in t/data/invalid is
# rejected with an error at the field path its first line names:
#   # expect: <path>          the CRD schema must reject it at exactly <path>
#   # expect-c-only: <path>   the schema accepts it; only the C validator
#                             (cross-field rules) can reject it
import base64
import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep t/lib free of __pycache__
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
import crdschema as cs  # noqa: E402

t = cs.TAP()
TOP = cs.TOP
EXAMPLES = os.path.join(TOP, 'deploy', 'examples')
INVALID = os.path.join(TOP, 't', 'data', 'invalid')

crds = cs.load_crds()
KINDS = sorted(crds)
t.is_(len(KINDS), 8, 'eight CRDs loaded from crd/')


def get(obj, path, default=None):
    """obj value at a dotted path (no list steps)."""
    for step in path.split('.'):
        if not isinstance(obj, dict) or step not in obj:
            return default
        obj = obj[step]
    return obj


def rel(path):
    return os.path.relpath(path, TOP)

# ------------------------------------------------- the library's own semantics

s_db = cs.schema_for('Database')
d = cs.apply_defaults(s_db, {'spec': {'instanceRef': {'name': 'i'}, 'name': 'x'}})
t.is_((d['spec'].get('deletionPolicy'), d['spec'].get('deletionProtection'), 'postgres' in d['spec']),
      ('Retain', True, False), 'defaults: filled where the parent exists, nothing under an absent spec.postgres')
d = cs.apply_defaults(s_db, {'spec': {'postgres': {'extensions': [{'name': 'citext'}]}}})
t.is_((d['spec']['postgres'].get('connectionLimit'), d['spec']['postgres'].get('template'),
       d['spec']['postgres']['extensions'][0].get('schema')), (-1, 'template0', 'public'),
      'defaults: nested object and list items get their defaults')
d = cs.apply_defaults(s_db, {'spec': {'deletionPolicy': None, 'postgres': {'lcCollate': None}}})
t.is_(d['spec'], {'deletionPolicy': 'Retain', 'deletionProtection': True,
                  'postgres': {'encoding': 'UTF8', 'tablespace': 'pg_default', 'template': 'template0',
                               'connectionLimit': -1, 'allowConnections': True}},
      'defaults: non-nullable null replaced by the default or dropped')
d = cs.apply_defaults(cs.schema_for('DatabaseInstance'), {'spec': {'tls': {}}})
t.is_(d['spec']['tls'], {'mode': 'disable'}, 'defaults: no default for an absent object (tls.secretRef)')
t.is_(cs.validate('DatabaseUser', {'apiVersion': cs.API_VERSION, 'kind': 'DatabaseUser',
                                   'metadata': {'name': 'Bad_Name'},
                                   'spec': {'instanceRef': {'name': 'i'}, 'username': 'u', 'pasword': {}}}),
      [('metadata.name', 'Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain is required'),
       ('spec.pasword', 'unknown field "spec.pasword"')],
      'validate: reports bad metadata.name and unknown fields')
t.is_([p for p, _ in cs.validate('DatabaseBackupSchedule', {
    'apiVersion': cs.API_VERSION, 'kind': 'DatabaseBackupSchedule', 'metadata': {'name': 's'},
    'spec': {'schedule': '* * * * *', 'successfulBackupsHistoryLimit': 2 ** 31,
             'template': {'spec': {'databaseRef': {'name': 'd'}, 'storage': {'type': 'pvc'}}}}})],
    ['spec.successfulBackupsHistoryLimit'], 'validate: int32 format is a range; path of an item')

# ------------------------------------------------------------------- examples

files = sorted(glob.glob(os.path.join(EXAMPLES, '**', '*.yaml'), recursive=True))
t.ok(len(files) >= 16, 'at least 16 example files (%d)' % len(files))

objects = {}     # engine dir -> list of (kind, defaulted object, file)
secrets = {}     # engine dir -> {name: {key: bytes}}
seen = {}
for path in files:
    engine = os.path.relpath(path, EXAMPLES).split(os.sep)[0]
    with open(path, encoding='utf-8') as f:
        first = f.readline()
    t.like(first, r'^# \S', '%s: starts with a comment saying what it shows' % rel(path))
    try:
        docs = cs.load_yaml_docs(path)
    except Exception as e:  # noqa: BLE001
        t.ok(False, '%s: parses as YAML (%s)' % (rel(path), e))
        continue
    t.ok(any(doc.get('apiVersion') == cs.API_VERSION for doc in docs),
         '%s: contains a dbops.dbprovision.io object' % rel(path))
    for doc in docs:
        kind = doc.get('kind')
        name = get(doc, 'metadata.name')
        key = (doc.get('apiVersion'), kind, name)
        t.ok(key not in seen, '%s: %s/%s not defined twice (also in %s)' % (rel(path), kind, name, seen.get(key)))
        seen[key] = rel(path)
        if doc.get('apiVersion') == cs.API_VERSION:
            if not t.ok(kind in crds, '%s: known kind %s' % (rel(path), kind)):
                continue
            errs = cs.validate(kind, doc)
            t.is_(errs, [], '%s: %s/%s is valid' % (rel(path), kind, name))
            objects.setdefault(engine, []).append((kind, cs.apply_defaults(cs.schema_for(kind), doc), path))
        elif doc.get('apiVersion') == 'v1' and kind == 'Secret':
            data = {}
            ok = isinstance(name, str) and 'namespace' not in doc.get('metadata', {})
            for k, v in (doc.get('stringData') or {}).items():
                ok = ok and isinstance(v, str)
                data[k] = str(v).encode()
            for k, v in (doc.get('data') or {}).items():
                try:
                    data[k] = base64.b64decode(v, validate=True)
                except Exception:  # noqa: BLE001
                    ok = False
            t.ok(ok and data, '%s: Secret %s has string data' % (rel(path), name))
            secrets.setdefault(engine, {})[name] = data
        else:
            t.ok(False, '%s: unexpected object %s %s' % (rel(path), doc.get('apiVersion'), kind))

t.is_(sorted(objects), ['mysql', 'postgres'], 'examples for postgres and mysql')
for engine in ('postgres', 'mysql'):
    objs = objects.get(engine, [])
    t.is_(sorted({k for k, _, _ in objs}), KINDS, '%s examples: at least one of every kind' % engine)


def check_secret(engine, where, ref, keys, exact_len=None):
    """ref names a Secret of the example set that holds every key in keys."""
    sec = secrets.get(engine, {}).get(ref.get('name'))
    if not t.ok(sec is not None, '%s: Secret %s is part of the examples' % (where, ref.get('name'))):
        return
    for k in keys:
        if not t.ok(k in sec, '%s: Secret %s has key %s' % (where, ref.get('name'), k)):
            continue
        if exact_len is not None:
            t.is_(len(sec[k]), exact_len, '%s: %s/%s is %d bytes' % (where, ref.get('name'), k, exact_len))


def check_storage(engine, where, st):
    if not st:
        return
    ty = st.get('type')
    t.ok(ty in st, '%s: storage block for type %s present' % (where, ty))
    if ty == 's3' and 's3' in st:
        sr = st['s3']['secretRef']
        keys = sr.get('keys') or {}
        if t.ok('accessKey' in keys and 'secretKey' in keys, '%s: S3 key names set or defaulted' % where):
            check_secret(engine, where, sr, [keys['accessKey'], keys['secretKey']])
    elif ty == 'gcs' and 'gcs' in st:
        check_secret(engine, where, st['gcs']['secretRef'], [st['gcs']['secretRef']['key']])
    elif ty == 'azure' and 'azure' in st:
        check_secret(engine, where, st['azure']['secretRef'], [])


def check_encryption(engine, where, enc):
    if enc and enc.get('enabled'):
        sr = enc.get('secretRef')
        if t.ok(sr is not None, '%s: encryption has a key reference' % where):
            check_secret(engine, where, sr, [sr['key']], exact_len=32)


OTHER = {'postgres': 'mysql', 'mysql': 'postgres'}
for engine in ('postgres', 'mysql'):
    objs = objects.get(engine, [])
    by = {}
    for kind, o, path in objs:
        by.setdefault(kind, {})[o['metadata']['name']] = o

    def resolve(kind, ref, where):
        target = by.get(kind, {}).get((ref or {}).get('name'))
        t.ok(target is not None and not (ref or {}).get('namespace'),
             '%s: %s reference %s resolves within the examples' % (where, kind, (ref or {}).get('name')))
        return target

    def no_other_engine(where, o, path='spec'):
        t.ok(OTHER[engine] not in (get(o, path) or {}),
             '%s: no %s block on a %s object' % (where, OTHER[engine], engine))

    for kind, o, path in objs:
        spec = o.get('spec', {})
        where = '%s %s/%s' % (rel(path), kind, o['metadata']['name'])
        if kind == 'DatabaseInstance':
            t.is_(spec['engine'], engine, '%s: engine matches the directory' % where)
            sr = spec['connection'].get('secretRef')
            keys = (sr or {}).get('keys') or {}
            if t.ok(sr is not None and 'username' in keys and 'password' in keys,
                    '%s: has admin credentials, key names set or defaulted' % where):
                check_secret(engine, where, sr, [keys['username'], keys['password']])
            tls = spec.get('tls') or {}
            if tls.get('enabled') and tls.get('secretRef'):
                keys = tls['secretRef'].get('keys', {})
                check_secret(engine, where, tls['secretRef'],
                             [keys.get('ca', 'ca.crt')] + [keys[k] for k in ('cert', 'key') if k in keys])
            no_other_engine(where, o)
        elif kind in ('Database', 'DatabaseUser', 'DatabaseRole'):
            resolve('DatabaseInstance', spec.get('instanceRef'), where)
            no_other_engine(where, o)
            if kind == 'DatabaseUser' and spec.get('existingPasswordSecret'):
                eps = spec['existingPasswordSecret']
                check_secret(engine, where, eps, [eps['key']])
        elif kind == 'DatabaseGrant':
            resolve('DatabaseUser', spec.get('userRef'), where)
            if spec.get('databaseRef'):
                resolve('Database', spec['databaseRef'], where)
            no_other_engine(where, o)
        elif kind == 'DatabaseBackup':
            resolve('Database', spec.get('databaseRef'), where)
            check_storage(engine, where, spec.get('storage'))
            check_encryption(engine, where, spec.get('encryption'))
            no_other_engine(where, o)
        elif kind == 'DatabaseBackupSchedule':
            ts = spec['template']['spec']
            resolve('Database', ts.get('databaseRef'), where)
            check_storage(engine, where, ts.get('storage'))
            check_encryption(engine, where, ts.get('encryption'))
            no_other_engine(where, o, 'spec.template.spec')
        elif kind == 'DatabaseRestore':
            t.ok(bool(spec.get('backupRef')) != bool(spec.get('fromPath')),
                 '%s: exactly one of backupRef and fromPath' % where)
            if spec.get('backupRef'):
                resolve('DatabaseBackup', spec['backupRef'], where)
            if spec.get('fromPath'):
                check_storage(engine, where, spec['fromPath'].get('storage'))
                check_encryption(engine, where, spec['fromPath'].get('encryption'))
            tg = spec['target']
            if tg.get('inPlace'):
                resolve('Database', tg.get('databaseRef'), where)
                t.is_(get(spec, 'confirmation.acknowledgeDataLoss'), 'I-UNDERSTAND-DATA-LOSS',
                      '%s: in-place restore is confirmed' % where)
            else:
                resolve('DatabaseInstance', tg.get('instanceRef'), where)
            no_other_engine(where, o)

    # What the examples must show (the brief of deploy/examples).
    inst = list(by.get('DatabaseInstance', {}).values())
    t.ok(any(get(i, 'spec.tls.enabled') for i in inst), '%s examples: an instance with TLS' % engine)
    t.ok(any(get(u, 'spec.passwordSecret.secretTemplate.data') for u in by.get('DatabaseUser', {}).values()),
         '%s examples: a user with a secret template' % engine)
    backups = list(by.get('DatabaseBackup', {}).values())
    t.ok(any(get(b, 'spec.storage.type') == 's3' and get(b, 'spec.compression.enabled')
             and get(b, 'spec.encryption.enabled') for b in backups),
         '%s examples: a backup to S3 with compression and encryption' % engine)
    t.ok(any(get(s, 'spec.retention') for s in by.get('DatabaseBackupSchedule', {}).values()),
         '%s examples: a schedule with retention' % engine)
    grants = list(by.get('DatabaseGrant', {}).values())
    if engine == 'postgres':
        pg = [g for gr in grants for g in (get(gr, 'spec.postgres.grants') or [])]
        shown = {
            'role memberships': any(get(gr, 'spec.postgres.roles') for gr in grants),
            'database level': any('schema' not in g for g in pg),
            'schema level': any('schema' in g and not any(k in g for k in ('tables', 'sequences', 'functions'))
                                for g in pg),
            'named tables': any(g.get('tables') and '*' not in g['tables'] for g in pg),
            'ALL TABLES IN SCHEMA': any(g.get('tables') == ['*'] for g in pg),
            'sequences': any(g.get('sequences') for g in pg),
            'functions': any(g.get('functions') for g in pg),
            'with grant option': any(g.get('withGrantOption') for g in pg),
            'default privileges': any(get(gr, 'spec.postgres.defaultPrivileges') for gr in grants),
        }
    else:
        my = [g for gr in grants for g in (get(gr, 'spec.mysql.grants') or [])]
        shown = {lvl + ' level': any(g['level'] == lvl for g in my)
                 for lvl in ('global', 'database', 'table', 'column', 'procedure', 'function')}
        shown['with grant option'] = any(g.get('withGrantOption') for g in my)
        shown['role memberships'] = any(get(gr, 'spec.mysql.roles') for gr in grants)
    for what, present in shown.items():
        t.ok(present, '%s examples: a grant shows %s' % (engine, what))

# ---------------------------------------------------------- invalid manifests


def schema_declares(kind, field_path):
    p = re.sub(r'\[\d+\]', '.[]', field_path)
    return cs.schema_at(cs.schema_for(kind), p) is not None


invalid = sorted(glob.glob(os.path.join(INVALID, '*.yaml')))
n_expect = 0
for path in invalid:
    with open(path, encoding='utf-8') as f:
        first = f.readline().rstrip('\n')
    m = re.match(r'^# (expect|expect-c-only): (\S+)$', first)
    if not t.ok(m, '%s: first line names the expected field path' % rel(path)):
        continue
    mode, want = m.groups()
    docs = cs.load_yaml_docs(path)
    if not t.ok(len(docs) == 1 and docs[0].get('kind') in crds, '%s: one dbops object' % rel(path)):
        continue
    doc = docs[0]
    errs = cs.validate(doc['kind'], doc)
    if mode == 'expect':
        n_expect += 1
        if not t.is_(sorted({p for p, _ in errs}), [want],
                     '%s: rejected at %s and nowhere else' % (rel(path), want)):
            for p, msg in errs:
                t.diag('  %s: %s' % (p, msg))
    else:
        t.is_(errs, [], '%s: accepted by the schema (the C validator must reject %s)' % (rel(path), want))
        t.ok(schema_declares(doc['kind'], want), '%s: %s is a declared field' % (rel(path), want))
t.ok(n_expect >= 15, 'at least 15 schema-invalid manifests (%d)' % n_expect)

t.done_testing()
