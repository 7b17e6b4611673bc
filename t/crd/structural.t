#!/usr/bin/python3
# t/crd/structural.t: the eight CustomResourceDefinitions in crd/ are valid
# apiextensions.k8s.io/v1 objects with structural schemas (kube-api.md §9) and
# carry the names, printer columns, immutability rules, defaults and status
# fields of the original API (api.md).
import glob
import os
import re
import sys

sys.dont_write_bytecode = True  # keep t/lib free of __pycache__
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
import crdschema as cs  # noqa: E402

t = cs.TAP()
CRD_DIR = cs.DEFAULT_CRD_DIR
GROUP = cs.GROUP

# Kind -> (plural, short name, printer columns without Age) from api.md §2, §7-§14.
EXPECTED = {
    'DatabaseInstance': ('databaseinstances', 'dbi', [
        ('Engine', 'string', '.spec.engine'), ('Host', 'string', '.spec.connection.host'),
        ('Port', 'integer', '.spec.connection.port'), ('Phase', 'string', '.status.phase'),
        ('Version', 'string', '.status.version')]),
    'Database': ('databases', 'db', [
        ('Instance', 'string', '.spec.instanceRef.name'), ('Database', 'string', '.spec.name'),
        ('Phase', 'string', '.status.phase'), ('Size', 'string', '.status.database.sizeBytes')]),
    'DatabaseUser': ('databaseusers', 'dbu', [
        ('Instance', 'string', '.spec.instanceRef.name'), ('Username', 'string', '.spec.username'),
        ('Phase', 'string', '.status.phase'), ('Secret', 'string', '.status.secret.name')]),
    'DatabaseRole': ('databaseroles', 'dbr', [
        ('Instance', 'string', '.spec.instanceRef.name'), ('Role', 'string', '.spec.roleName'),
        ('Phase', 'string', '.status.phase')]),
    'DatabaseGrant': ('databasegrants', 'dbg', [
        ('User', 'string', '.spec.userRef.name'), ('Database', 'string', '.spec.databaseRef.name'),
        ('Phase', 'string', '.status.phase')]),
    'DatabaseBackup': ('databasebackups', 'dbbak', [
        ('Database', 'string', '.spec.databaseRef.name'), ('Phase', 'string', '.status.phase'),
        ('Size', 'string', '.status.backup.compressedSizeBytes'), ('Started', 'date', '.status.startedAt'),
        ('Completed', 'date', '.status.completedAt')]),
    'DatabaseRestore': ('databaserestores', 'dbrestore', [
        ('Backup', 'string', '.spec.backupRef.name'), ('Target', 'string', '.status.restore.targetDatabase'),
        ('Phase', 'string', '.status.phase'), ('Progress', 'integer', '.status.progress.percentage')]),
    'DatabaseBackupSchedule': ('databasebackupschedules', 'dbbaksched', [
        ('Schedule', 'string', '.spec.schedule'), ('Paused', 'boolean', '.spec.paused'),
        ('Phase', 'string', '.status.phase'), ('Last Backup', 'string', '.status.lastBackup.name'),
        ('Next Backup', 'date', '.status.nextBackupTime')]),
}

# Immutable fields: path -> CEL message (api.md §7-§10).
IMMUTABLE = {
    'DatabaseInstance': ('spec.engine', 'engine is immutable'),
    'Database': ('spec.name', 'database name is immutable'),
    'DatabaseUser': ('spec.username', 'username is immutable'),
    'DatabaseRole': ('spec.roleName', 'roleName is immutable'),
}

# Every status field the controllers write (api.md "Status field" tables,
# plus observedGeneration on every kind, doc/api-compat.md).
STATUS = {
    'DatabaseInstance': 'phase version message lastCheckedAt observedGeneration conditions',
    'Database': 'phase observedGeneration message database.name database.owner database.sizeBytes '
                'database.createdAt postgres.encoding postgres.collation postgres.installedExtensions[].name '
                'postgres.installedExtensions[].version postgres.schemas mysql.charset mysql.collation conditions',
    'DatabaseUser': 'phase observedGeneration message user.username user.createdAt secret.name '
                    'secret.namespace secret.lastRotatedAt conditions',
    'DatabaseRole': 'phase observedGeneration message role.name role.createdAt conditions',
    'DatabaseGrant': 'phase observedGeneration message appliedGrants.roles appliedGrants.directGrants '
                     'appliedGrants.defaultPrivileges conditions',
    'DatabaseBackup': 'phase observedGeneration startedAt completedAt message backup.path backup.sizeBytes '
                      'backup.compressedSizeBytes backup.checksum backup.format source.instance '
                      'source.database source.engine source.version source.timestamp expiresAt conditions',
    'DatabaseRestore': 'phase observedGeneration startedAt completedAt message restore.sourceBackup '
                       'restore.targetInstance restore.targetDatabase progress.percentage '
                       'progress.currentPhase progress.tablesRestored progress.tablesTotal warnings conditions',
    'DatabaseBackupSchedule': 'phase observedGeneration lastBackup.name lastBackup.status lastBackup.startedAt '
                              'lastBackup.completedAt nextBackupTime statistics.totalBackups '
                              'statistics.successfulBackups statistics.failedBackups '
                              'statistics.averageDurationSeconds statistics.averageSizeBytes '
                              'statistics.totalStorageBytes recentBackups[].name recentBackups[].status conditions',
}

# Phase values the controllers write (api.md and behavior.md): each must be in the enum.
PHASES_WRITTEN = {
    'DatabaseInstance': ['Pending', 'Ready', 'Failed'],
    'Database': ['Pending', 'Creating', 'Ready', 'Failed', 'Deleting'],
    'DatabaseUser': ['Pending', 'Creating', 'Ready', 'Failed', 'Deleting'],
    'DatabaseRole': ['Pending', 'Creating', 'Ready', 'Failed', 'Deleting'],
    'DatabaseGrant': ['Pending', 'Creating', 'Ready', 'Failed', 'Deleting'],
    'DatabaseBackup': ['Pending', 'Running', 'Completed', 'Failed', 'Deleting'],
    'DatabaseRestore': ['Pending', 'Running', 'Completed', 'Failed'],
    'DatabaseBackupSchedule': ['Active', 'Paused'],
}

# Spot checks of defaults (kind, path, default) from api.md.
DEFAULTS = [
    ('DatabaseInstance', 'spec.connection.secretRef.keys.username', 'username'),
    ('DatabaseInstance', 'spec.tls.mode', 'disable'),
    ('DatabaseInstance', 'spec.tls.secretRef.keys.ca', 'ca.crt'),
    ('DatabaseInstance', 'spec.healthCheck.intervalSeconds', 30),
    ('DatabaseInstance', 'spec.postgres.sslMode', 'prefer'),
    ('DatabaseInstance', 'spec.postgres.applicationName', 'db-provision-operator'),
    ('DatabaseInstance', 'spec.mysql.tls', 'preferred'),
    ('Database', 'spec.deletionPolicy', 'Retain'),
    ('Database', 'spec.deletionProtection', True),
    ('Database', 'spec.postgres.connectionLimit', -1),
    ('Database', 'spec.postgres.extensions[].schema', 'public'),
    ('Database', 'spec.mysql.defaultStorageEngine', 'InnoDB'),
    ('DatabaseUser', 'spec.passwordSecret.length', 32),
    ('DatabaseUser', 'spec.passwordSecret.format', 'kubernetes'),
    ('DatabaseUser', 'spec.passwordSecret.secretTemplate.type', 'Opaque'),
    ('DatabaseUser', 'spec.mysql.allowedHosts', ['%']),
    ('DatabaseUser', 'spec.mysql.authPlugin', 'caching_sha2_password'),
    ('DatabaseRole', 'spec.mysql.useNativeRoles', True),
    ('DatabaseBackup', 'spec.activeDeadlineSeconds', 3600),
    ('DatabaseBackup', 'spec.compression.algorithm', 'gzip'),
    ('DatabaseBackup', 'spec.compression.level', 6),
    ('DatabaseBackup', 'spec.encryption.algorithm', 'aes-256-gcm'),
    ('DatabaseBackup', 'spec.storage.s3.secretRef.keys.accessKey', 'AWS_ACCESS_KEY_ID'),
    ('DatabaseBackup', 'spec.postgres.format', 'custom'),
    ('DatabaseBackup', 'spec.postgres.lockWaitTimeout', '60s'),
    ('DatabaseBackup', 'spec.mysql.setGtidPurged', 'AUTO'),
    ('DatabaseRestore', 'spec.activeDeadlineSeconds', 7200),
    ('DatabaseRestore', 'spec.mysql.disableBinlog', True),
    ('DatabaseBackupSchedule', 'spec.timezone', 'UTC'),
    ('DatabaseBackupSchedule', 'spec.concurrencyPolicy', 'Forbid'),
    ('DatabaseBackupSchedule', 'spec.successfulBackupsHistoryLimit', 5),
    ('DatabaseBackupSchedule', 'spec.failedBackupsHistoryLimit', 3),
    ('DatabaseBackupSchedule', 'spec.template.spec.compression.level', 6),
]

# Effective enum sets (intersection of allOf lists), including the fixes.
ENUMS = [
    ('DatabaseBackup', 'spec.compression.algorithm', ['gzip', 'lz4', 'zstd', 'none']),
    ('DatabaseRestore', 'spec.fromPath.compression.algorithm', ['gzip', 'lz4', 'zstd', 'none']),
    ('DatabaseBackupSchedule', 'spec.template.spec.compression.algorithm', ['gzip', 'lz4', 'zstd', 'none']),
    ('DatabaseBackup', 'spec.mysql.setGtidPurged', ['OFF', 'ON', 'AUTO']),
    ('DatabaseInstance', 'spec.engine', ['postgres', 'mysql', 'cockroachdb']),
    ('DatabaseBackup', 'spec.storage.type', ['gcs', 's3', 'azure', 'pvc']),
    ('DatabaseGrant', 'spec.mysql.grants[].level',
     ['global', 'database', 'table', 'column', 'procedure', 'function']),
]


def node_at(schema, dotted):
    """Schema node for a field path like spec.a.b[].c."""
    path = dotted.replace('[]', '.[]')
    return cs.schema_at(schema, path)


def effective_enum(node):
    sets = []
    if 'enum' in node:
        sets.append(node['enum'])
    for sub in node.get('allOf') or []:
        if 'enum' in sub:
            sets.append(sub['enum'])
    if not sets:
        return None
    return [v for v in sets[0] if all(v in s for s in sets[1:])]


def column_node(schema, json_path):
    m = re.match(r'^(\.[A-Za-z0-9_]+)+$', json_path)
    if not m:
        return None
    parts = json_path[1:].split('.')
    if parts[0] == 'metadata':
        return {'type': 'string', 'format': 'date-time'} if parts == ['metadata', 'creationTimestamp'] \
            else {'type': 'string'}
    return cs.schema_at(schema, '.'.join(parts))


COLUMN_TYPES = {
    'integer': lambda n: n.get('type') == 'integer',
    'number': lambda n: n.get('type') in ('integer', 'number'),
    'boolean': lambda n: n.get('type') == 'boolean',
    'date': lambda n: n.get('type') == 'string' and n.get('format') == 'date-time',
    'string': lambda n: n.get('type') in ('string', 'integer', 'number', 'boolean'),
}


files = sorted(glob.glob(os.path.join(CRD_DIR, '*.yaml')))
crd_files = [f for f in files if os.path.basename(f) != 'kustomization.yaml']
t.is_(len(crd_files), 8, 'eight CRD files in crd/')

# kustomization lists exactly the CRD files
kust = cs.load_yaml_docs(os.path.join(CRD_DIR, 'kustomization.yaml'))
t.is_(sorted(kust[0].get('resources', [])) if kust else None,
      sorted(os.path.basename(f) for f in crd_files), 'crd/kustomization.yaml lists every CRD file')

crds = {}
for path in crd_files:
    base = os.path.basename(path)
    docs = cs.load_yaml_docs(path)
    if not t.is_(len(docs), 1, '%s: one YAML document' % base):
        continue
    crd = docs[0]
    with open(path, encoding='utf-8') as f:
        t.like(f.readline(), r'^# ', '%s: starts with a comment' % base)
    t.is_(crd.get('apiVersion'), 'apiextensions.k8s.io/v1', '%s: apiVersion' % base)
    t.is_(crd.get('kind'), 'CustomResourceDefinition', '%s: kind' % base)
    spec = crd.get('spec') or {}
    names = spec.get('names') or {}
    kind = names.get('kind')
    if not t.ok(kind in EXPECTED, '%s: known kind %s' % (base, kind)):
        continue
    crds[kind] = crd
    plural, short, columns = EXPECTED[kind]
    t.is_(spec.get('group'), GROUP, '%s: group' % kind)
    t.is_(crd['metadata'].get('name'), '%s.%s' % (names.get('plural'), spec.get('group')),
          '%s: metadata.name is <plural>.<group>' % kind)
    t.is_(base, '%s_%s.yaml' % (GROUP, plural), '%s: file name' % kind)
    t.is_(names.get('plural'), plural, '%s: plural' % kind)
    t.is_(names.get('singular'), kind.lower(), '%s: singular' % kind)
    t.is_(names.get('listKind'), kind + 'List', '%s: listKind' % kind)
    t.is_(names.get('shortNames'), [short], '%s: short name' % kind)
    t.ok('dbops' in (names.get('categories') or []), '%s: category dbops' % kind)
    t.is_(spec.get('scope'), 'Namespaced', '%s: namespaced' % kind)
    t.ok('conversion' not in spec or spec['conversion'].get('strategy') == 'None',
         '%s: no conversion webhook' % kind)

    versions = spec.get('versions') or []
    t.is_([v.get('name') for v in versions], ['v1alpha1'], '%s: one version v1alpha1' % kind)
    t.is_(sum(1 for v in versions if v.get('storage') is True), 1, '%s: exactly one storage version' % kind)
    t.ok(all(v.get('served') is True for v in versions), '%s: served' % kind)
    if not versions:
        continue
    v = versions[0]
    t.is_(v.get('subresources'), {'status': {}}, '%s: status subresource (and no other)' % kind)
    schema = (v.get('schema') or {}).get('openAPIV3Schema')
    if not t.ok(isinstance(schema, dict), '%s: has openAPIV3Schema' % kind):
        continue

    errs = cs.structural_errors(schema)
    t.ok(not errs, '%s: structural schema, keywords, enums, patterns and defaults are valid' % kind)
    for e in errs:
        t.diag('%s%s: %s' % (kind, e[0], e[1]))
    t.is_(sorted(schema.get('properties', {})), ['apiVersion', 'kind', 'metadata', 'spec', 'status'],
          '%s: top-level properties' % kind)
    t.ok('required' not in schema, '%s: nothing required at top level (like the original)' % kind)

    # printer columns
    cols = v.get('additionalPrinterColumns') or []
    want = [{'name': n, 'type': ty, 'jsonPath': p} for n, ty, p in columns]
    want.append({'name': 'Age', 'type': 'date', 'jsonPath': '.metadata.creationTimestamp'})
    t.is_([{k: c.get(k) for k in ('name', 'type', 'jsonPath')} for c in cols], want,
          '%s: printer columns as in api.md, plus Age' % kind)
    for c in cols:
        n = column_node(schema, c.get('jsonPath', ''))
        check = COLUMN_TYPES.get(c.get('type'))
        t.ok(n is not None and check is not None and check(n),
             '%s: column %s (%s) points to a matching schema field %s'
             % (kind, c.get('name'), c.get('type'), c.get('jsonPath')))

    # immutability
    if kind in IMMUTABLE:
        p, msg = IMMUTABLE[kind]
        n = node_at(schema, p) or {}
        t.is_(n.get('x-kubernetes-validations'), [{'message': msg, 'rule': 'self == oldSelf'}],
              '%s: %s is immutable via CEL' % (kind, p))

    # status fields
    status = (schema.get('properties') or {}).get('status') or {}
    missing = [f for f in STATUS[kind].split() if node_at(status, f) is None]
    t.is_(missing, [], '%s: status declares every field the controllers write' % kind)
    ph = effective_enum(node_at(status, 'phase') or {}) or []
    t.is_([p for p in PHASES_WRITTEN[kind] if p not in ph], [],
          '%s: status.phase enum allows every phase the controllers write' % kind)
    cond = node_at(status, 'conditions[]') or {}
    t.is_(cond.get('required'), ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
          '%s: condition items require the standard keys' % kind)

# Names do not collide across the CRDs (kubectl resolves short names globally).
all_names = []
for crd in crds.values():
    n = crd['spec']['names']
    all_names += n.get('shortNames', []) + [n['plural'], n['singular']]
t.is_(sorted(set(all_names)), sorted(all_names), 'short names, plurals and singulars unique across the CRDs')
t.is_(sorted(crds), sorted(EXPECTED), 'all eight kinds present')


def schema_of(kind):
    return cs.storage_version(crds[kind])['schema']['openAPIV3Schema'] if kind in crds else {}


for kind, path, want in DEFAULTS:
    n = node_at(schema_of(kind), path) or {}
    t.is_(n.get('default', '<none>'), want, 'default of %s %s' % (kind, path))

for kind, path, want in ENUMS:
    n = node_at(schema_of(kind), path) or {}
    t.is_(effective_enum(n), want, 'effective enum of %s %s' % (kind, path))

# The backup spec inside the schedule template is the DatabaseBackup spec.
bspec = node_at(schema_of('DatabaseBackup'), 'spec')
tspec = node_at(schema_of('DatabaseBackupSchedule'), 'spec.template.spec')
t.ok(bspec is not None and tspec is not None and
     {k: v for k, v in bspec.items() if k != 'description'} ==
     {k: v for k, v in tspec.items() if k != 'description'},
     'DatabaseBackupSchedule spec.template.spec has the same schema as DatabaseBackup spec')

# The structural checker itself must catch violations (guards against a
# checker that accepts everything).
bad = {
    'type': 'object',
    'properties': {
        'metadata': {'type': 'object', 'properties': {'labels': {'type': 'object'}}},
        'spec': {
            'type': 'object',
            'properties': {
                'a': {'description': 'untyped'},
                'b': {'type': 'string', 'allOf': [{'type': 'string', 'enum': ['x']}]},
                'c': {'type': 'object', 'properties': {}, 'additionalProperties': {'type': 'string'}},
                'd': {'type': 'integer', 'format': 'int32', 'default': 'ten', 'minimun': 1},
                'e': {'type': 'string', 'enum': [False, 'ON']},
                'f': {'type': 'array'},
                'g': {'type': 'object', 'properties': {'x': {'type': 'string'}},
                      'anyOf': [{'properties': {'y': {'type': 'string'}}}]},
            },
        },
    },
}
found = {(p.split('.properties.')[-1] if '.properties.' in p else p) for p, _ in cs.structural_errors(bad)}
for leaf, why in (('a', 'untyped node'), ('b', 'type inside allOf'), ('c', 'properties and additionalProperties'),
                  ('d', 'invalid default / unknown keyword'), ('e', 'enum value of wrong type'),
                  ('f', 'array without items'), ('g', 'junctor property not declared outside'),
                  ('labels', 'metadata restriction other than name/generateName')):
    t.ok(any(f == leaf or f.startswith(leaf + '.') for f in found), 'checker rejects: %s' % why)

t.done_testing()
