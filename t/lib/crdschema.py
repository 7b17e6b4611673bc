# t/lib/crdschema.py: CRD schema helpers shared by the Python TAP tests.
#
# What it offers
#   load_crds(dir=None)         -> {Kind: CRD document}; also cached for validate()
#   schema_for(kind)            -> openAPIV3Schema of the storage version
#   to_jsonschema(node)         -> JSON Schema (draft 7) that python3-jsonschema checks
#   apply_defaults(schema, obj) -> obj with structural defaults applied (in place)
#   prune(schema, obj)          -> obj without fields unknown to the schema (in place)
#   validate(kind, obj)         -> sorted list of (field path, message); [] = valid
#   structural_errors(schema)   -> list of (schema path, message) for kube-api.md §9
#   load_yaml_docs(path)        -> list of the non-empty YAML documents of a file
#   TAP                         -> tiny TAP producer (plan, ok, is_, like, diag, ...)
#
# Semantics follow the Kubernetes API server (kube-api.md §9):
#   * defaults apply only where the parent object exists; a default is itself
#     defaulted recursively; a null in a non-nullable field is replaced by the
#     default or dropped (PruneNonNullableNullsWithoutDefaults);
#   * unknown fields are reported as errors ("unknown field"), as with
#     kubectl's default strict field validation;
#   * format int32/int64 become integer ranges. The real API server does NOT
#     check integer formats (kube-openapi validates formats of strings only);
#     the C parser does, so our tests do;
#   * field paths use the API server's spelling: spec.a.b[0].c
#
# Only the Python standard library, python3-yaml and python3-jsonschema.

import copy
import datetime
import glob
import os
import re
import sys

import yaml
import jsonschema

GROUP = 'dbops.dbprovision.io'
VERSION = 'v1alpha1'
API_VERSION = GROUP + '/' + VERSION

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, '..', '..'))
# DBPROVD_CRD_DIR overrides the CRD directory (used to test the tests).
DEFAULT_CRD_DIR = os.environ.get('DBPROVD_CRD_DIR') or os.path.join(TOP, 'crd')

INT_RANGES = {
    'int32': (-(2 ** 31), 2 ** 31 - 1),
    'int64': (-(2 ** 63), 2 ** 63 - 1),
}

# ---------------------------------------------------------------- YAML / CRDs

def load_yaml_docs(path):
    """All non-empty documents of a YAML file (YAML 1.1, like kubectl)."""
    with open(path, encoding='utf-8') as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


_CRDS = {}


def load_crds(directory=None):
    """Load every CustomResourceDefinition under directory (default: crd/ of
    the source tree). Returns {Kind: crd document} and remembers it for
    schema_for() / validate()."""
    directory = directory or DEFAULT_CRD_DIR
    crds = {}
    for path in sorted(glob.glob(os.path.join(directory, '*.yaml'))):
        for doc in load_yaml_docs(path):
            if isinstance(doc, dict) and doc.get('kind') == 'CustomResourceDefinition':
                kind = doc['spec']['names']['kind']
                doc = copy.deepcopy(doc)
                doc.setdefault('__file__', path)
                crds[kind] = doc
    _CRDS.clear()
    _CRDS.update(crds)
    return crds


def _crds():
    if not _CRDS:
        load_crds()
    return _CRDS


def storage_version(crd):
    for v in crd['spec']['versions']:
        if v.get('storage'):
            return v
    raise KeyError('no storage version in %s' % crd['metadata']['name'])


def schema_for(kind):
    """openAPIV3Schema of the storage version of kind."""
    crd = _crds()[kind]
    return storage_version(crd)['schema']['openAPIV3Schema']


def schema_at(schema, path):
    """Schema node at a dotted path ('spec.storage.s3'); '[]' steps into items,
    '{}' into additionalProperties. None when the path is not declared."""
    node = schema
    for step in [s for s in re.split(r'\.|(?=\[\])', path) if s]:
        if node is None:
            return None
        if step == '[]':
            node = node.get('items')
        elif step == '{}':
            ap = node.get('additionalProperties')
            node = ap if isinstance(ap, dict) else None
        else:
            node = (node.get('properties') or {}).get(step)
    return node

# ---------------------------------------------------- openAPIV3 -> JSON Schema

_COPY_KEYS = ('enum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems',
              'minProperties', 'maxProperties', 'multipleOf', 'required')


def to_jsonschema(node, strict=True, _root=True):
    """Convert one openAPIV3Schema node (and its subtree) to a draft-7 JSON
    Schema. strict=True forbids fields the schema does not declare (objects
    with properties and without x-kubernetes-preserve-unknown-fields)."""
    if not isinstance(node, dict):
        return node
    out = {}
    if node.get('x-kubernetes-int-or-string'):
        out['anyOf'] = [{'type': 'integer'}, {'type': 'string'}]
    elif 'type' in node:
        t = node['type']
        if t not in TYPES:
            return {'not': {}, 'description': 'unknown type %r: nothing validates' % (t,)}
        out['type'] = [t, 'null'] if node.get('nullable') else t
    for k in _COPY_KEYS:
        if k in node:
            out[k] = copy.deepcopy(node[k])
    if node.get('nullable') and 'enum' in out and None not in out['enum']:
        out['enum'].append(None)
    if node.get('uniqueItems') or node.get('x-kubernetes-list-type') == 'set':
        out['uniqueItems'] = True
    # OpenAPI v3.0 exclusive bounds are booleans next to minimum/maximum.
    lo, hi = node.get('minimum'), node.get('maximum')
    fmt = node.get('format')
    if node.get('type') == 'integer' and fmt in INT_RANGES:
        flo, fhi = INT_RANGES[fmt]
        lo = flo if lo is None else max(lo, flo)
        hi = fhi if hi is None else min(hi, fhi)
    if lo is not None:
        out['exclusiveMinimum' if node.get('exclusiveMinimum') is True else 'minimum'] = lo
    if hi is not None:
        out['exclusiveMaximum' if node.get('exclusiveMaximum') is True else 'maximum'] = hi
    if node.get('type') == 'string' and fmt in ('date-time', 'date'):
        out['format'] = fmt
    if 'properties' in node:
        out['properties'] = {k: to_jsonschema(v, strict, False)
                             for k, v in node['properties'].items()}
        if strict and not node.get('x-kubernetes-preserve-unknown-fields') \
                and 'additionalProperties' not in node:
            out['additionalProperties'] = False
    if isinstance(node.get('additionalProperties'), dict):
        out['additionalProperties'] = to_jsonschema(node['additionalProperties'], strict, False)
    elif node.get('additionalProperties') is True:
        out['additionalProperties'] = True
    if 'items' in node:
        out['items'] = to_jsonschema(node['items'], strict, False)
    for j in ('allOf', 'anyOf', 'oneOf'):
        if j in node:
            out[j] = [to_jsonschema(s, strict, False) for s in node[j]]
    if 'not' in node:
        out['not'] = to_jsonschema(node['not'], strict, False)
    if _root:
        out['$schema'] = 'http://json-schema.org/draft-07/schema#'
    return out


_RFC3339 = re.compile(
    r'^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$')

FORMAT_CHECKER = jsonschema.FormatChecker(formats=())


@FORMAT_CHECKER.checks('date-time', raises=ValueError)
def _is_date_time(value):
    if not isinstance(value, str):
        return True
    if not _RFC3339.match(value):
        return False
    datetime.datetime.fromisoformat(value[:19])
    return True


@FORMAT_CHECKER.checks('date', raises=ValueError)
def _is_date(value):
    if not isinstance(value, str):
        return True
    datetime.date.fromisoformat(value)
    return len(value) == 10

# --------------------------------------------------------- defaults / pruning

def _is_nonnullable_null(value, node):
    return value is None and not node.get('nullable')


def apply_defaults(schema, obj):
    """Structural defaulting of the API server, in place; returns obj.
    Properties missing from an existing object get a deep copy of their
    default; non-nullable nulls are replaced by the default or removed; then
    every present value (including fresh defaults) is walked."""
    if not isinstance(schema, dict):
        return obj
    if isinstance(obj, dict):
        props = schema.get('properties') or {}
        for k, prop in props.items():
            if k in obj and _is_nonnullable_null(obj[k], prop) and 'default' not in prop:
                del obj[k]
            elif 'default' in prop and (k not in obj or _is_nonnullable_null(obj[k], prop)):
                obj[k] = copy.deepcopy(prop['default'])
        ap = schema.get('additionalProperties')
        for k, v in obj.items():
            if k in props:
                apply_defaults(props[k], v)
            elif isinstance(ap, dict):
                apply_defaults(ap, v)
    elif isinstance(obj, list) and isinstance(schema.get('items'), dict):
        for v in obj:
            apply_defaults(schema['items'], v)
    return obj


def prune(schema, obj, _root=True):
    """Drop fields the schema does not declare (API server pruning), in place."""
    if not isinstance(schema, dict) or schema.get('x-kubernetes-preserve-unknown-fields'):
        return obj
    if isinstance(obj, dict):
        props = schema.get('properties')
        ap = schema.get('additionalProperties')
        for k in list(obj):
            if _root and k in ('apiVersion', 'kind', 'metadata'):
                continue
            if props is not None and k in props:
                prune(props[k], obj[k], False)
            elif isinstance(ap, dict):
                prune(ap, obj[k], False)
            elif ap is True:
                continue
            else:
                del obj[k]
    elif isinstance(obj, list) and isinstance(schema.get('items'), dict):
        for v in obj:
            prune(schema['items'], v, False)
    return obj

# ---------------------------------------------------------------- validation

def format_path(parts):
    out = ''
    for p in parts:
        if isinstance(p, int):
            out += '[%d]' % p
        else:
            out += ('.' if out else '') + str(p)
    return out


def _q(v):
    if isinstance(v, str):
        return '"%s"' % v
    if v is True:
        return 'true'
    if v is False:
        return 'false'
    if v is None:
        return 'null'
    return repr(v)


def _messages(err):
    """Translate one jsonschema error to [(path parts, message)] in the
    API server's words."""
    path = list(err.absolute_path)
    v = err.validator
    if v == 'required':
        m = re.match(r"^'(.*)' is a required property$", err.message)
        name = m.group(1) if m else '?'
        return [(path + [name], 'Required value')]
    if v == 'additionalProperties':
        declared = (err.schema.get('properties') or {})
        extra = [k for k in err.instance if k not in declared] if isinstance(err.instance, dict) else []
        return [(path + [k], 'unknown field "%s"' % format_path(path + [k])) for k in extra] or \
            [(path, err.message)]
    if v == 'enum':
        return [(path, 'Unsupported value: %s: supported values: %s' % (
            _q(err.instance), ', '.join(_q(x) for x in err.validator_value)))]
    if v == 'type':
        return [(path, 'Invalid value: %s: must be of type %s' % (
            _q(err.instance), err.validator_value if isinstance(err.validator_value, str)
            else '/'.join(err.validator_value)))]
    if v == 'minimum':
        return [(path, 'Invalid value: %s: should be greater than or equal to %s' % (err.instance, err.validator_value))]
    if v == 'maximum':
        return [(path, 'Invalid value: %s: should be less than or equal to %s' % (err.instance, err.validator_value))]
    if v == 'exclusiveMinimum':
        return [(path, 'Invalid value: %s: should be greater than %s' % (err.instance, err.validator_value))]
    if v == 'exclusiveMaximum':
        return [(path, 'Invalid value: %s: should be less than %s' % (err.instance, err.validator_value))]
    if v == 'minLength':
        return [(path, 'Invalid value: %s: should be at least %s chars long' % (_q(err.instance), err.validator_value))]
    if v == 'maxLength':
        return [(path, 'Too long: may not be more than %s bytes' % err.validator_value)]
    if v == 'pattern':
        return [(path, "Invalid value: %s: should match '%s'" % (_q(err.instance), err.validator_value))]
    if v == 'minItems':
        return [(path, 'Invalid value: %d: should have at least %s items' % (len(err.instance), err.validator_value))]
    if v == 'maxItems':
        return [(path, 'Too many: %d: must have at most %s items' % (len(err.instance), err.validator_value))]
    if v == 'format':
        return [(path, 'Invalid value: %s: must be of format %s' % (_q(err.instance), err.validator_value))]
    if v == 'uniqueItems':
        return [(path, 'Duplicate value')]
    return [(path, err.message)]


def validate_against(schema, obj, strict=True, defaults=True):
    """Validate obj (a deep copy is taken) against an openAPIV3Schema node.
    Returns a sorted, de-duplicated list of (path, message)."""
    obj = copy.deepcopy(obj)
    if defaults:
        apply_defaults(schema, obj)
    js = to_jsonschema(schema, strict=strict)
    validator = jsonschema.Draft7Validator(js, format_checker=FORMAT_CHECKER)
    found = set()
    for err in validator.iter_errors(obj):
        for parts, msg in _messages(err):
            found.add((format_path(parts), msg))
    return sorted(found)


_DNS1123_SUBDOMAIN = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')


def _metadata_errors(obj):
    md = obj.get('metadata')
    if not isinstance(md, dict):
        return [('metadata', 'Required value')]
    errs = []
    name = md.get('name')
    if name is None and not md.get('generateName'):
        errs.append(('metadata.name', 'Required value: name or generateName is required'))
    elif name is not None and (not isinstance(name, str) or len(name) > 253
                               or not _DNS1123_SUBDOMAIN.match(name)):
        errs.append(('metadata.name', 'Invalid value: %s: a lowercase RFC 1123 subdomain is required' % _q(name)))
    for mk in ('labels', 'annotations'):
        m = md.get(mk)
        if m is not None and (not isinstance(m, dict)
                              or not all(isinstance(v, str) for v in m.values())):
            errs.append(('metadata.' + mk, 'Invalid value: values must be strings'))
    return errs


def validate(kind, obj, strict=True, defaults=True):
    """Validate a custom resource as the API server would on create:
    apiVersion/kind, metadata.name, then the CRD schema after structural
    defaulting. Returns a sorted list of (path, message); [] = valid."""
    errs = []
    if not isinstance(obj, dict):
        return [('', 'Invalid value: object expected')]
    if obj.get('apiVersion') != API_VERSION:
        errs.append(('apiVersion', 'Invalid value: %s: expected "%s"' % (_q(obj.get('apiVersion')), API_VERSION)))
    if obj.get('kind') != kind:
        errs.append(('kind', 'Invalid value: %s: expected "%s"' % (_q(obj.get('kind')), kind)))
    errs += _metadata_errors(obj)
    body = {k: v for k, v in obj.items() if k != 'metadata'}
    body['metadata'] = {}
    errs += validate_against(schema_for(kind), body, strict=strict, defaults=defaults)
    return sorted(set(errs))

# ---------------------------------------------------- structural-schema rules

# Keys of apiextensions.k8s.io/v1 JSONSchemaProps that a CRD may use.
ALLOWED_KEYS = {
    'description', 'type', 'format', 'title', 'default', 'maximum', 'exclusiveMaximum',
    'minimum', 'exclusiveMinimum', 'maxLength', 'minLength', 'pattern', 'maxItems',
    'minItems', 'uniqueItems', 'multipleOf', 'enum', 'maxProperties', 'minProperties',
    'required', 'items', 'allOf', 'oneOf', 'anyOf', 'not', 'properties',
    'additionalProperties', 'nullable', 'example', 'externalDocs',
    'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource',
    'x-kubernetes-int-or-string', 'x-kubernetes-list-map-keys', 'x-kubernetes-list-type',
    'x-kubernetes-map-type', 'x-kubernetes-validations',
}
TYPES = {'object', 'array', 'string', 'integer', 'number', 'boolean'}
FORBIDDEN_IN_JUNCTOR = {'type', 'description', 'default', 'additionalProperties', 'nullable'}
PY_TYPE = {'string': (str,), 'integer': (int,), 'number': (int, float), 'boolean': (bool,),
           'object': (dict,), 'array': (list,)}
CEL_KEYS = {'rule', 'message', 'messageExpression', 'reason', 'fieldPath', 'optionalOldSelf'}


def _value_has_type(value, t):
    if t == 'integer' or t == 'number':
        if isinstance(value, bool):
            return False
    return isinstance(value, PY_TYPE[t])


def structural_errors(schema):
    """Violations of the structural-schema rules (kube-api.md §9) and of a
    few sanity rules (unknown keywords, enum/default types, patterns).
    Returns a list of (schema path, message)."""
    errs = []

    def err(path, msg):
        errs.append((path or '<root>', msg))

    def walk(node, path, root=False):
        if not isinstance(node, dict):
            err(path, 'schema node is not an object')
            return
        for k in node:
            if k not in ALLOWED_KEYS:
                err(path, 'unknown or forbidden keyword %r' % k)
        t = node.get('type')
        untyped_ok = node.get('x-kubernetes-int-or-string') or node.get('x-kubernetes-preserve-unknown-fields')
        if not t and not untyped_ok:
            err(path, 'type is missing')
        if t and t not in TYPES:
            err(path, 'unknown type %r' % t)
        if root and t != 'object':
            err(path, 'root must be type: object')
        if 'properties' in node and 'additionalProperties' in node:
            err(path, 'properties and additionalProperties are mutually exclusive')
        if node.get('additionalProperties') is False:
            err(path, 'additionalProperties: false is not allowed')
        if t == 'array' and not isinstance(node.get('items'), dict):
            err(path, 'array without a single items schema')
        if t != 'object' and ('properties' in node or 'additionalProperties' in node or 'required' in node):
            err(path, 'properties/additionalProperties/required on a non-object')
        if 'required' in node:
            missing = [r for r in node['required'] if r not in (node.get('properties') or {})]
            if missing and not node.get('x-kubernetes-preserve-unknown-fields'):
                err(path, 'required names undeclared properties %s' % missing)
        if 'pattern' in node:
            try:
                re.compile(node['pattern'])
            except re.error as e:
                err(path, 'pattern does not compile: %s' % e)
        if t and 'enum' in node:
            for v in node['enum']:
                if not _value_has_type(v, t):
                    err(path, 'enum value %r is not of type %s' % (v, t))
        if 'format' in node and t == 'integer' and node['format'] not in INT_RANGES:
            err(path, 'integer format %r' % node['format'])
        for c in node.get('x-kubernetes-validations') or []:
            if not isinstance(c, dict) or not isinstance(c.get('rule'), str) or not c['rule'].strip():
                err(path, 'x-kubernetes-validations entry without rule')
            elif set(c) - CEL_KEYS:
                err(path, 'x-kubernetes-validations keys %s' % sorted(set(c) - CEL_KEYS))
        lt = node.get('x-kubernetes-list-type')
        if lt is not None:
            if t != 'array' or lt not in ('atomic', 'set', 'map'):
                err(path, 'bad x-kubernetes-list-type %r' % lt)
            if lt == 'map' and not node.get('x-kubernetes-list-map-keys'):
                err(path, 'list-type map without list-map-keys')
        if 'default' in node:
            d = copy.deepcopy(node['default'])
            apply_defaults(node, d)
            try:
                for p, m in validate_against(node, d, strict=True, defaults=False):
                    err(path, 'default %r does not validate: %s %s' % (node['default'], p, m))
            except Exception as e:  # noqa: BLE001 - a broken schema must not crash the checker
                err(path, 'default %r cannot be checked: %s' % (node['default'], e))
        for k, sub in (node.get('properties') or {}).items():
            walk(sub, path + '.properties.' + k)
        if isinstance(node.get('additionalProperties'), dict):
            walk(node['additionalProperties'], path + '.additionalProperties')
        if isinstance(node.get('items'), dict):
            walk(node['items'], path + '.items')
        for j in ('allOf', 'anyOf', 'oneOf'):
            for i, sub in enumerate(node.get(j) or []):
                junctor(sub, node, '%s.%s[%d]' % (path, j, i))
        if 'not' in node:
            junctor(node['not'], node, path + '.not')

    def junctor(sub, outer, path):
        if not isinstance(sub, dict):
            err(path, 'junctor entry is not an object')
            return
        for k in sub:
            if k not in ALLOWED_KEYS:
                err(path, 'unknown or forbidden keyword %r' % k)
            elif k in FORBIDDEN_IN_JUNCTOR:
                err(path, '%r is not allowed inside allOf/anyOf/oneOf/not' % k)
            elif k.startswith('x-kubernetes-') and k != 'x-kubernetes-int-or-string':
                err(path, '%r is not allowed inside allOf/anyOf/oneOf/not' % k)
        ot = outer.get('type')
        if ot and 'enum' in sub:
            for v in sub['enum']:
                if not _value_has_type(v, ot):
                    err(path, 'enum value %r is not of type %s' % (v, ot))
        if 'pattern' in sub:
            try:
                re.compile(sub['pattern'])
            except re.error as e:
                err(path, 'pattern does not compile: %s' % e)
        for k, s in (sub.get('properties') or {}).items():
            o = (outer.get('properties') or {}).get(k)
            if o is None:
                err(path, 'property %r inside a junctor is not declared outside' % k)
            else:
                junctor(s, o, path + '.properties.' + k)
        if 'items' in sub:
            if not isinstance(outer.get('items'), dict):
                err(path, 'items inside a junctor without items outside')
            else:
                junctor(sub['items'], outer['items'], path + '.items')
        for j in ('allOf', 'anyOf', 'oneOf'):
            for i, s in enumerate(sub.get(j) or []):
                junctor(s, outer, '%s.%s[%d]' % (path, j, i))
        if 'not' in sub:
            junctor(sub['not'], outer, path + '.not')

    walk(schema, '', root=True)
    props = schema.get('properties') or {}
    md = props.get('metadata')
    if md is not None:
        if set(md) - {'type', 'properties'} or md.get('type') != 'object':
            err('.properties.metadata', 'metadata may only be type: object with name/generateName restrictions')
        for k, sub in (md.get('properties') or {}).items():
            if k not in ('name', 'generateName'):
                err('.properties.metadata.properties.' + k, 'only name and generateName may be restricted')
            elif sub.get('type') != 'string' or set(sub) & {'default', 'properties', 'items'}:
                err('.properties.metadata.properties.' + k, 'must be a plain string restriction')
    for k in ('apiVersion', 'kind'):
        if k in props and props[k].get('type') != 'string':
            err('.properties.' + k, 'must be type: string')
    return errs

# ------------------------------------------------------------------------ TAP

class TAP:
    """Minimal TAP producer: plan(n) or done_testing(); ok/is_/like return the
    truth value; the exit status is the number of failures (max 254)."""

    def __init__(self, out=sys.stdout):
        self.out = out
        self.n = 0
        self.failed = 0
        self.planned = None

    def _print(self, line):
        self.out.write(line + '\n')
        self.out.flush()

    def plan(self, n):
        self.planned = n
        self._print('1..%d' % n)

    def skip_all(self, reason):
        self._print('1..0 # SKIP %s' % reason)
        sys.exit(0)

    def diag(self, msg):
        for line in str(msg).splitlines() or ['']:
            self.out.write('# %s\n' % line)
        self.out.flush()

    def ok(self, cond, name=''):
        self.n += 1
        name = name.replace('#', '\\#')
        self._print('%s %d - %s' % ('ok' if cond else 'not ok', self.n, name))
        if not cond:
            self.failed += 1
        return bool(cond)

    def is_(self, got, want, name=''):
        r = self.ok(got == want, name)
        if not r:
            self.diag('     got: %r' % (got,))
            self.diag('expected: %r' % (want,))
        return r

    def like(self, text, regex, name=''):
        r = self.ok(text is not None and re.search(regex, text) is not None, name)
        if not r:
            self.diag("     got: %r\n  wanted: /%s/" % (text, regex))
        return r

    def done_testing(self):
        if self.planned is None:
            self._print('1..%d' % self.n)
        elif self.planned != self.n:
            self.diag('planned %d tests but ran %d' % (self.planned, self.n))
            self.failed += 1
        sys.exit(min(self.failed, 254))
