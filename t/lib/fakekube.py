#!/usr/bin/python3
# t/lib/fakekube.py: a faithful Kubernetes API server stand-in for tests.
#
# Behaviour follows /work/shared/spec/kube-api.md (sections 2-8, checklist of
# section 10). Usable as a module (class FakeKube) and as a program (see
# main() and doc/fakekube.md). Python standard library only; PyYAML is used
# only to read YAML files (CRDs) and YAML request bodies when it is present.
#
# Token and access reviews (what a server that delegates authentication and
# authorization calls): POST /apis/authentication.k8s.io/v1/tokenreviews
# answers 201 with status.authenticated and status.user from fk.auth_tokens,
# a dict token -> user ({'username': ..., 'uid': ..., 'groups': [...],
# 'extra': {...}}); any other token is not authenticated. POST
# /apis/authorization.k8s.io/v1/subjectaccessreviews answers 201 with
# status.allowed true when fk.sar_allow, a set of (subject, path, verb)
# tuples, holds one whose subject is spec.user or one of spec.groups, with
# the spec's nonResourceAttributes.path and .verb, or for resource
# attributes (subject, 'namespace/group/resource', verb); '*' as path or
# verb matches any. fk.access_reviews lists the specs received, in order
# (token reviews keep no token). Both are subject to faults (fk.fail(...,
# path='tokenreviews')) and to the stand-in's own bearer-token check.
"""Fake Kubernetes API server for tests (see doc/fakekube.md)."""

import base64
import calendar
import collections
import glob
import gzip
import http.client
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

__all__ = ['FakeKube', 'Store', 'ApiError', 'Client', 'WatchStream',
           'generate_certs', 'load_crd_documents']

MISSING = object()
MAX_BODY = 3 * 1024 * 1024
GZIP_MIN = 128 * 1024
TOO_MANY_TEXT = 'Too many requests, please try again later.\n'
FLOWSCHEMA_UID = '3f1c7a9e-0d2b-4e8f-9a61-5b7c2d4e6f80'
PRIORITY_UID = '8e2d4c6b-1a3f-4b5d-8c7e-9f0a1b2c3d4e'
NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789'
PROTECTED_NAMESPACES = ('default', 'kube-system', 'kube-public')
DEFAULT_NAMESPACES = ('default', 'kube-system', 'kube-public', 'kube-node-lease')
CRD_CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io'

# --------------------------------------------------------------------------- utilities


def clone(o):
    """Deep copy of a JSON value."""
    if isinstance(o, dict):
        return {k: clone(v) for k, v in o.items()}
    if isinstance(o, list):
        return [clone(v) for v in o]
    return o


def jeq(a, b):
    """JSON equality (1 == 1.0, but True != 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(jeq(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(jeq(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def dumps(o):
    return json.dumps(o, separators=(',', ':'), ensure_ascii=False)


def _parse_float(s):
    f = float(s)
    # Go's unstructured decoder: integral numbers come back as integers.
    if f.is_integer() and abs(f) < 2 ** 63:
        return int(f)
    return f


def _bad_constant(s):
    raise ValueError('invalid character %r looking for beginning of value' % s)


def loads(data):
    if isinstance(data, (bytes, bytearray)):
        data = data.decode('utf-8')
    return json.loads(data, parse_float=_parse_float, parse_constant=_bad_constant)


def fmt_time(t):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))


def fmt_microtime(t):
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%06dZ' % int(round((t % 1) * 1e6) % 1000000)


_RFC3339 = re.compile(r'^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$')


def parse_time(s):
    """RFC 3339 -> (epoch seconds, fraction digits string); raise ValueError."""
    m = _RFC3339.match(s) if isinstance(s, str) else None
    if not m:
        raise ValueError(s)
    y, mo, d, h, mi, se = (int(x) for x in m.group(1, 2, 3, 4, 5, 6))
    t = calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0))
    frac = m.group(7) or ''
    tz = m.group(8)
    if tz not in ('Z', 'z'):
        sign = 1 if tz[0] == '+' else -1
        t -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return t + (float('0' + frac) if frac else 0.0), frac[1:]


def gostr(v):
    """Render a value the way Go's field.Error prints a bad value."""
    if v is None:
        return 'null'
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return '[]interface {}{' + ', '.join(gostr(x) for x in v) + '}'
    if isinstance(v, dict):
        return 'map[string]interface {}{' + ', '.join('%s:%s' % (json.dumps(k), gostr(x)) for k, x in v.items()) + '}'
    return str(v)


def jtype(v):
    if v is None:
        return 'null'
    if isinstance(v, bool):
        return 'boolean'
    if isinstance(v, int):
        return 'integer'
    if isinstance(v, float):
        return 'number'
    if isinstance(v, str):
        return 'string'
    if isinstance(v, list):
        return 'array'
    return 'object'


def path_join(path, key):
    return key if not path else path + '.' + key


def _b64url(d):
    return base64.urlsafe_b64encode(dumps(d).encode()).decode().rstrip('=')


def _unb64url(s):
    return loads(base64.urlsafe_b64decode(s + '=' * (-len(s) % 4)))


# --------------------------------------------------------------------------- errors

class ApiError(Exception):
    """An HTTP error answer: Status JSON (or plain text when text is set)."""

    def __init__(self, code, reason, message, details=None, retry_after=None, headers=None, text=None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.retry_after = details, retry_after
        self.headers = dict(headers or {})
        self.text = text
        self.meta = {}

    def status(self):
        st = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': dict(self.meta), 'status': 'Failure',
              'message': self.message}
        if self.reason:
            st['reason'] = self.reason
        if self.details is not None:
            st['details'] = self.details
        st['code'] = self.code
        return st


_FE_TYPES = {
    'Invalid': ('FieldValueInvalid', 'Invalid value'),
    'TypeInvalid': ('FieldValueTypeInvalid', 'Invalid value'),
    'Required': ('FieldValueRequired', 'Required value'),
    'NotSupported': ('FieldValueNotSupported', 'Unsupported value'),
    'Forbidden': ('FieldValueForbidden', 'Forbidden'),
    'TooLong': ('FieldValueTooLong', 'Too long'),
    'TooMany': ('FieldValueTooMany', 'Too many'),
    'Duplicate': ('FieldValueDuplicate', 'Duplicate value'),
}


class FE:
    """One field error, printed like k8s.io/apimachinery field.Error."""

    def __init__(self, typ, field, value=MISSING, detail=''):
        self.typ, self.field, self.value, self.detail = typ, field, value, detail

    def body(self):
        label = _FE_TYPES[self.typ][1]
        if self.typ in ('Required', 'Forbidden', 'TooLong') or self.value is MISSING:
            s = label
        elif self.typ == 'Invalid' and isinstance(self.value, _Raw):
            s = '%s: %s' % (label, self.value.s)
        else:
            s = '%s: %s' % (label, gostr(self.value))
        if self.detail:
            s += ': ' + self.detail
        return s

    def __str__(self):
        return '%s: %s' % (self.field, self.body())

    def cause(self):
        return {'reason': _FE_TYPES[self.typ][0], 'message': self.body(), 'field': self.field}


class _Raw:
    def __init__(self, s):
        self.s = s


def invalid(qkind, name, errs, group, kind):
    msgs = []
    for e in errs:
        if str(e) not in msgs:
            msgs.append(str(e))
    msg = '%s "%s" is invalid' % (qkind, name)
    if msgs:
        msg += ': ' + (msgs[0] if len(msgs) == 1 else '[' + ', '.join(msgs) + ']')
    det = {'name': name} if name else {}
    if group:
        det['group'] = group
    det['kind'] = kind
    det['causes'] = [e.cause() for e in errs]
    return ApiError(422, 'Invalid', msg, det)


def bad_request(msg):
    return ApiError(400, 'BadRequest', msg)


def not_found_generic():
    return ApiError(404, 'NotFound', 'the server could not find the requested resource', {})


def method_not_allowed():
    return ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})


# --------------------------------------------------------------------------- names and selectors

_DNS1123_LABEL = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
_DNS1123_SUB = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
_QNAME = re.compile(r'^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$')
_LVALUE = re.compile(r'^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$')
MSG_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MSG_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MSG_QNAME = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
MSG_LVALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
              "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
              "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def is_subdomain(s):
    return isinstance(s, str) and 0 < len(s) <= 253 and bool(_DNS1123_SUB.match(s))


def is_dns_label(s):
    return isinstance(s, str) and 0 < len(s) <= 63 and bool(_DNS1123_LABEL.match(s))


def qualified_name_error(k):
    """None if k is a valid [prefix/]name, else a message."""
    if not isinstance(k, str) or not k:
        return 'name part must be non-empty'
    prefix, _, name = k.rpartition('/')
    if '/' in k and not prefix:
        return 'prefix part must be non-empty'
    if prefix and not is_subdomain(prefix):
        return 'prefix part ' + MSG_SUBDOMAIN
    if not name:
        return 'name part must be non-empty'
    if len(name) > 63:
        return 'name part must be no more than 63 characters'
    if not _QNAME.match(name):
        return MSG_QNAME
    return None


def label_value_ok(v):
    return isinstance(v, str) and len(v) <= 63 and bool(_LVALUE.match(v))


def _split_top(s, sep=','):
    parts, depth, cur = [], 0, ''
    for ch in s:
        if ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += ch
    parts.append(cur)
    return parts


def parse_label_selector(s):
    """Parse a label selector into a list of (key, op, values); ValueError on bad syntax."""
    reqs = []
    if s is None or not s.strip():
        return reqs
    for raw in _split_top(s):
        p = raw.strip()
        if not p:
            raise ValueError("found '', expected: identifier")
        m = re.fullmatch(r'!\s*([^\s=!<>(),]+)', p)
        if m:
            reqs.append((m.group(1), '!', ()))
            continue
        m = re.fullmatch(r'([^\s=!<>(),]+)\s+(in|notin)\s*\((.*)\)', p)
        if m:
            vals = tuple(v.strip() for v in m.group(3).split(','))
            if m.group(2) == 'in' and vals == ('',):
                raise ValueError('for \'in\', \'notin\' operators, values set can\'t be empty')
            reqs.append((m.group(1), m.group(2), tuple(v for v in vals if v or len(vals) == 1)))
            continue
        m = re.fullmatch(r'([^\s=!<>(),]+)\s*(==|=|!=|>|<)\s*([^\s=!<>(),]*)', p)
        if m:
            op = '=' if m.group(2) == '==' else m.group(2)
            if op in ('>', '<'):
                try:
                    int(m.group(3))
                except ValueError:
                    raise ValueError('for \'Gt\', \'Lt\' operators, the value must be an integer')
            reqs.append((m.group(1), op, (m.group(3),)))
            continue
        m = re.fullmatch(r'([^\s=!<>(),]+)', p)
        if m:
            reqs.append((m.group(1), 'exists', ()))
            continue
        raise ValueError("unable to parse requirement: found '%s'" % p)
    for key, op, vals in reqs:
        err = qualified_name_error(key)
        if err:
            raise ValueError('unable to parse requirement: <nil>: Invalid value: %s: %s' % (json.dumps(key), err))
        if op not in ('>', '<'):
            for v in vals:
                if not label_value_ok(v):
                    raise ValueError('unable to parse requirement: values[0][%s]: Invalid value: %s: %s'
                                     % (key, json.dumps(v), MSG_LVALUE))
    return reqs


def label_match(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        v = labels.get(key)
        if op == '=' and not (has and v == vals[0]):
            return False
        if op == '!=' and has and v == vals[0]:
            return False
        if op == 'in' and not (has and v in vals):
            return False
        if op == 'notin' and has and v in vals:
            return False
        if op == 'exists' and not has:
            return False
        if op == '!' and has:
            return False
        if op in ('>', '<'):
            try:
                n = int(v)
            except (TypeError, ValueError):
                return False
            if (op == '>' and not n > int(vals[0])) or (op == '<' and not n < int(vals[0])):
                return False
    return True


def _split_unescaped(s, sep):
    out, cur, i = [], '', 0
    while i < len(s):
        if s[i] == '\\' and i + 1 < len(s):
            cur += s[i:i + 2]
            i += 2
            continue
        if s[i] == sep:
            out.append(cur)
            cur = ''
        else:
            cur += s[i]
        i += 1
    out.append(cur)
    return out


def _unescape_field(v):
    out, i = '', 0
    while i < len(v):
        if v[i] == '\\':
            if i + 1 >= len(v) or v[i + 1] not in '\\,=':
                raise ValueError('invalid field selector escape in %r' % v)
            out += v[i + 1]
            i += 2
            continue
        if v[i] in ',=':
            raise ValueError('unescaped %s in %r' % (v[i], v))
        out += v[i]
        i += 1
    return out


def parse_field_selector(s):
    """Parse a field selector into a list of (field, op, value)."""
    reqs = []
    if s is None or not s.strip():
        return reqs
    for term in _split_unescaped(s, ','):
        if not term:
            continue
        for op in ('!=', '==', '='):
            idx = term.find(op)
            if idx > 0:
                try:
                    val = _unescape_field(term[idx + len(op):])
                except ValueError:
                    raise ValueError("invalid selector: '%s'; can't understand '%s'" % (s, term))
                reqs.append((term[:idx].strip(), '!=' if op == '!=' else '=', val))
                break
        else:
            raise ValueError("invalid selector: '%s'; can't understand '%s'" % (s, term))
    return reqs


# --------------------------------------------------------------------------- patches

class PatchError(Exception):
    """A JSON patch that cannot be applied (422)."""


def merge_patch(target, patch, set_lists=()):
    """RFC 7386 merge patch. set_lists: key paths (tuples) merged as sets (strategic merge)."""
    return _merge(target, patch, set_lists, ())


def _merge(target, patch, set_lists, here):
    if not isinstance(patch, dict):
        return clone(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if k.startswith('$setElementOrder/') or k == '$retainKeys':
            continue
        if k.startswith('$deleteFromPrimitiveList/'):
            key = k.split('/', 1)[1]
            if isinstance(out.get(key), list) and isinstance(v, list):
                out[key] = [x for x in out[key] if not any(jeq(x, y) for y in v)]
            continue
        if v is None:
            out.pop(k, None)
        elif here + (k,) in set_lists and isinstance(v, list) and isinstance(out.get(k), list):
            merged = list(out[k])
            for x in v:
                if not any(jeq(x, y) for y in merged):
                    merged.append(x)
            out[k] = merged
        else:
            out[k] = _merge(out.get(k), v, set_lists, here + (k,))
    return out


def _pointer(path):
    if path == '':
        return []
    if not isinstance(path, str) or not path.startswith('/'):
        raise PatchError('JSON pointer must be empty or start with a "/": %r' % (path,))
    return [t.replace('~1', '/').replace('~0', '~') for t in path[1:].split('/')]


def _index(tok, n, allow_end):
    if allow_end and tok == '-':
        return n
    if not re.fullmatch(r'0|[1-9][0-9]*', tok):
        raise PatchError('Unable to access invalid index: %s' % tok)
    i = int(tok)
    if i > n or (i == n and not allow_end):
        raise PatchError('Unable to access invalid index: %d' % i)
    return i


def _container(doc, toks, op, path):
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, dict) and t in cur:
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[_index(t, len(cur), False)]
            except PatchError:
                raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value' % (op, path))
        else:
            raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value' % (op, path))
    return cur


def _jp_get(doc, path, op):
    toks = _pointer(path)
    if not toks:
        return doc
    c = _container(doc, toks, op, path)
    t = toks[-1]
    if isinstance(c, dict) and t in c:
        return c[t]
    if isinstance(c, list):
        try:
            return c[_index(t, len(c), False)]
        except PatchError:
            pass
    raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value' % (op, path))


def _jp_remove(doc, path, op):
    toks = _pointer(path)
    if not toks:
        raise PatchError('%s operation does not apply: cannot remove the root' % op)
    c = _container(doc, toks, op, path)
    t = toks[-1]
    if isinstance(c, dict) and t in c:
        return c.pop(t)
    if isinstance(c, list):
        try:
            return c.pop(_index(t, len(c), False))
        except PatchError:
            pass
    raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value' % (op, path))


def _jp_add(doc, path, value, op, replace=False):
    toks = _pointer(path)
    if not toks:
        return value
    c = _container(doc, toks, op, path)
    t = toks[-1]
    if isinstance(c, dict):
        if replace and t not in c:
            raise PatchError('replace operation does not apply: doc is missing key: %s: missing value' % path)
        c[t] = value
    elif isinstance(c, list):
        if replace:
            c[_index(t, len(c), False)] = value
        else:
            c.insert(_index(t, len(c), True), value)
    else:
        raise PatchError('%s operation does not apply: doc is missing path: "%s": missing value' % (op, path))
    return doc


def json_patch(doc, ops):
    """RFC 6902 on a copy of doc. PatchError on failure."""
    doc = clone(doc)
    for o in ops:
        if not isinstance(o, dict):
            raise PatchError('invalid patch operation %r' % (o,))
        op = o.get('op')
        path = o.get('path')
        if path is None:
            raise PatchError('%s operation missing path' % op)
        if op in ('add', 'replace', 'test') and 'value' not in o:
            raise PatchError('%s operation missing value' % op)
        if op == 'add':
            doc = _jp_add(doc, path, clone(o['value']), 'add')
        elif op == 'remove':
            _jp_remove(doc, path, 'remove')
        elif op == 'replace':
            if _pointer(path):
                _jp_add(doc, path, clone(o['value']), 'replace', replace=True)
            else:
                doc = clone(o['value'])
        elif op in ('move', 'copy'):
            frm = o.get('from')
            if frm is None:
                raise PatchError('%s operation missing from' % op)
            if op == 'move':
                if path.startswith(frm + '/'):
                    raise PatchError('move operation cannot move a value into one of its children')
                v = _jp_remove(doc, frm, 'move')
            else:
                v = clone(_jp_get(doc, frm, 'copy'))
            doc = _jp_add(doc, path, v, op)
        elif op == 'test':
            try:
                cur = _jp_get(doc, path, 'test')
            except PatchError:
                cur = MISSING
            if cur is MISSING or not jeq(cur, o['value']):
                raise PatchError('testing value %s failed: test failed' % path)
        else:
            raise PatchError('Unexpected kind: %s' % op)
    return doc


# --------------------------------------------------------------------------- structural schemas

INT_RANGES = {'int32': (-2 ** 31, 2 ** 31 - 1), 'int64': (-2 ** 63, 2 ** 63 - 1)}
_PATTERNS = {}


def _is_int(v):
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def type_ok(t, v):
    if t == 'object':
        return isinstance(v, dict)
    if t == 'array':
        return isinstance(v, list)
    if t == 'string':
        return isinstance(v, str)
    if t == 'integer':
        return _is_int(v)
    if t == 'number':
        return _is_num(v)
    if t == 'boolean':
        return isinstance(v, bool)
    return True


def gonum(x):
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return repr(x) if isinstance(x, float) else str(x)


def s_prune(s, v, path, warns):
    """Drop fields the schema does not know (recording their paths in warns) and
    non-nullable nulls. Returns the pruned value (a new container)."""
    if not isinstance(s, dict) or v is None or s.get('x-kubernetes-int-or-string'):
        return v
    if isinstance(v, dict):
        if s.get('type') not in (None, 'object'):
            return v
        props = s.get('properties')
        addl = s.get('additionalProperties')
        preserve = s.get('x-kubernetes-preserve-unknown-fields')
        embedded = s.get('x-kubernetes-embedded-resource')
        out = {}
        for k, x in v.items():
            p = path_join(path, k)
            if props is not None and k in props:
                sub = props[k]
            elif isinstance(addl, dict):
                sub = addl
            elif addl is True or (embedded and k in ('apiVersion', 'kind', 'metadata')) or preserve:
                out[k] = x
                continue
            else:
                warns.append(p)
                continue
            if x is None and not (isinstance(sub, dict) and sub.get('nullable')):
                continue
            out[k] = s_prune(sub, x, p, warns)
        return out
    if isinstance(v, list) and isinstance(s.get('items'), dict) and s.get('type') in (None, 'array'):
        return [s_prune(s['items'], x, '%s[%d]' % (path, i), warns) for i, x in enumerate(v)]
    return v


def s_default(s, v):
    """Apply structural defaults in place (a default applies only where the parent exists)."""
    if not isinstance(s, dict):
        return v
    if isinstance(v, dict) and s.get('type') in (None, 'object'):
        props = s.get('properties')
        if props:
            for k, sub in props.items():
                if k not in v and isinstance(sub, dict) and 'default' in sub:
                    v[k] = clone(sub['default'])
            for k in v:
                if k in props:
                    v[k] = s_default(props[k], v[k])
        elif isinstance(s.get('additionalProperties'), dict):
            for k in v:
                v[k] = s_default(s['additionalProperties'], v[k])
    elif isinstance(v, list) and isinstance(s.get('items'), dict):
        for i, x in enumerate(v):
            v[i] = s_default(s['items'], x)
    return v


def _quote_enum(e):
    return json.dumps(e if isinstance(e, str) else dumps(e), ensure_ascii=False)


def _fmt_ok(fmt, v):
    if fmt == 'date-time':
        try:
            parse_time(v)
            return True
        except ValueError:
            return False
    if fmt == 'date':
        return bool(re.fullmatch(r'\d{4}-\d\d-\d\d', v))
    if fmt == 'byte':
        try:
            base64.b64decode(v, validate=True)
            return True
        except ValueError:
            return False
    if fmt == 'uuid':
        return bool(re.fullmatch(r'(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}', v))
    return True


def _correlate(s, v, old):
    """Old values matching the items of list v, for ratcheting (MISSING where none)."""
    if not isinstance(old, list):
        return [MISSING] * len(v)
    lt = s.get('x-kubernetes-list-type')
    if lt == 'map':
        keys = s.get('x-kubernetes-list-map-keys') or []

        def key(x):
            return tuple(dumps(x.get(k)) for k in keys) if isinstance(x, dict) else None
        idx = {key(x): x for x in old}
        return [idx.get(key(x), MISSING) for x in v]
    if lt == 'set':
        return [x if any(jeq(x, y) for y in old) else MISSING for x in v]
    return [MISSING] * len(v)


class Validator:
    """OpenAPI v3 (structural) validation with Kubernetes messages and ratcheting."""

    def __init__(self, int_formats=True):
        self.int_formats = int_formats

    def validate(self, s, v, path, errs, old=MISSING):
        if not isinstance(s, dict):
            return
        if old is not MISSING and jeq(old, v):
            return  # ratcheting: unchanged values are not re-validated
        if v is None:
            if not s.get('nullable') and s.get('type'):
                errs.append(FE('TypeInvalid', path, 'null', '%s in body must be of type %s: "null"' % (path, s['type'])))
            return
        if s.get('x-kubernetes-int-or-string'):
            if not (isinstance(v, str) or _is_int(v)):
                errs.append(FE('TypeInvalid', path, jtype(v),
                               '%s in body must be of type integer,string: "%s"' % (path, jtype(v))))
                return
        else:
            t = s.get('type')
            if t and not type_ok(t, v):
                errs.append(FE('TypeInvalid', path, jtype(v), '%s in body must be of type %s: "%s"' % (path, t, jtype(v))))
                return
        fmt = s.get('format')
        if _is_num(v):
            self._number(s, v, path, errs, fmt)
        elif isinstance(v, str):
            self._string(s, v, path, errs, fmt)
        elif isinstance(v, list):
            self._array(s, v, path, errs, old)
        elif isinstance(v, dict):
            self._object(s, v, path, errs, old)
        if 'enum' in s and isinstance(s['enum'], list) and not any(jeq(v, e) for e in s['enum']):
            errs.append(FE('NotSupported', path, v, 'supported values: ' + ', '.join(_quote_enum(e) for e in s['enum'])))
        for sub in s.get('allOf') or []:
            self.validate(sub, v, path, errs, old)
        if s.get('anyOf'):
            if not any(self._passes(sub, v, path, old) for sub in s['anyOf']):
                errs.append(FE('Invalid', path, v, '%s in body must validate at least one schema (anyOf)' % path))
        if s.get('oneOf'):
            n = sum(1 for sub in s['oneOf'] if self._passes(sub, v, path, old))
            if n != 1:
                errs.append(FE('Invalid', path, v, '%s in body must validate one and only one schema (oneOf)' % path))
        if isinstance(s.get('not'), dict) and self._passes(s['not'], v, path, MISSING):
            errs.append(FE('Invalid', path, v, '%s in body should not validate the given schema' % path))
        for rule in s.get('x-kubernetes-validations') or []:
            expr = re.sub(r'\s+', '', str(rule.get('rule', '')))
            if expr in ('self==oldSelf', 'oldSelf==self') and old is not MISSING and not jeq(old, v):
                typ = {'FieldValueForbidden': 'Forbidden', 'FieldValueRequired': 'Required',
                       'FieldValueDuplicate': 'Duplicate'}.get(rule.get('reason'), 'Invalid')
                fp = path + rule['fieldPath'] if rule.get('fieldPath') else path
                msg = rule.get('message') or 'failed rule: %s' % rule.get('rule')
                errs.append(FE(typ, fp, s.get('type', 'object'), msg))

    def _passes(self, s, v, path, old):
        e = []
        self.validate(s, v, path, e, old)
        return not e

    def _number(self, s, v, path, errs, fmt):
        if self.int_formats and fmt in INT_RANGES and _is_int(v):
            lo, hi = INT_RANGES[fmt]
            if not lo <= v <= hi:
                errs.append(FE('Invalid', path, v, '%s in body must be of type %s: "%s"' % (path, fmt, gonum(v))))
        mn, mx = s.get('minimum'), s.get('maximum')
        if _is_num(mn):
            if s.get('exclusiveMinimum') is True and not v > mn:
                errs.append(FE('Invalid', path, v, '%s in body should be greater than %s' % (path, gonum(mn))))
            elif s.get('exclusiveMinimum') is not True and not v >= mn:
                errs.append(FE('Invalid', path, v, '%s in body should be greater than or equal to %s' % (path, gonum(mn))))
        if _is_num(mx):
            if s.get('exclusiveMaximum') is True and not v < mx:
                errs.append(FE('Invalid', path, v, '%s in body should be less than %s' % (path, gonum(mx))))
            elif s.get('exclusiveMaximum') is not True and not v <= mx:
                errs.append(FE('Invalid', path, v, '%s in body should be less than or equal to %s' % (path, gonum(mx))))
        mo = s.get('multipleOf')
        if _is_num(mo) and mo > 0 and abs(v / mo - round(v / mo)) > 1e-9:
            errs.append(FE('Invalid', path, v, '%s in body should be a multiple of %s' % (path, gonum(mo))))

    def _string(self, s, v, path, errs, fmt):
        mx, mn = s.get('maxLength'), s.get('minLength')
        if isinstance(mx, int) and len(v) > mx:
            errs.append(FE('TooLong', path, v, 'may not be more than %d %s' % (mx, 'byte' if mx == 1 else 'bytes')))
        if isinstance(mn, int) and len(v) < mn:
            errs.append(FE('Invalid', path, v, '%s in body should be at least %d chars long' % (path, mn)))
        pat = s.get('pattern')
        if isinstance(pat, str):
            rx = _PATTERNS.get(pat)
            if rx is None:
                try:
                    rx = re.compile(pat)
                except re.error:
                    rx = False
                _PATTERNS[pat] = rx
            if rx and not rx.search(v):
                errs.append(FE('Invalid', path, v, "%s in body should match '%s'" % (path, pat)))
        if fmt and not _fmt_ok(fmt, v):
            errs.append(FE('Invalid', path, v, '%s in body must be of type %s: %s' % (path, fmt, json.dumps(v))))

    def _array(self, s, v, path, errs, old):
        mx, mn = s.get('maxItems'), s.get('minItems')
        if isinstance(mx, int) and len(v) > mx:
            errs.append(FE('TooMany', path, len(v), 'must have at most %d items' % mx))
        if isinstance(mn, int) and len(v) < mn:
            errs.append(FE('Invalid', path, len(v), '%s in body should have at least %d items' % (path, mn)))
        lt = s.get('x-kubernetes-list-type')
        if s.get('uniqueItems') or lt == 'set':
            for i, x in enumerate(v):
                if any(jeq(x, y) for y in v[:i]):
                    errs.append(FE('Duplicate', '%s[%d]' % (path, i), x))
        elif lt == 'map':
            keys = s.get('x-kubernetes-list-map-keys') or []
            seen = []
            for i, x in enumerate(v):
                if isinstance(x, dict):
                    k = [x.get(kk) for kk in keys]
                    if any(jeq(k, y) for y in seen):
                        errs.append(FE('Duplicate', '%s[%d]' % (path, i), {kk: x.get(kk) for kk in keys}))
                    seen.append(k)
        items = s.get('items')
        if isinstance(items, dict):
            for i, (x, o) in enumerate(zip(v, _correlate(s, v, old))):
                self.validate(items, x, '%s[%d]' % (path, i), errs, o)

    def _object(self, s, v, path, errs, old):
        for r in s.get('required') or []:
            if r not in v:
                errs.append(FE('Required', path_join(path, r)))
        mx, mn = s.get('maxProperties'), s.get('minProperties')
        if isinstance(mx, int) and len(v) > mx:
            errs.append(FE('TooMany', path, len(v), 'must have at most %d items' % mx))
        if isinstance(mn, int) and len(v) < mn:
            errs.append(FE('Invalid', path, len(v), '%s in body should have at least %d properties' % (path, mn)))
        props = s.get('properties') or {}
        addl = s.get('additionalProperties')
        for k, x in v.items():
            sub = props.get(k) if k in props else (addl if isinstance(addl, dict) else None)
            if sub is not None:
                self.validate(sub, x, path_join(path, k), errs, old.get(k, MISSING) if isinstance(old, dict) else MISSING)


def validate_root(validator, schema, obj, old):
    """Validate a custom resource against its openAPIV3Schema; list of FE."""
    errs = []
    if not isinstance(schema, dict):
        return errs
    props = schema.get('properties') or {}
    for r in schema.get('required') or []:
        if r not in obj and r not in ('apiVersion', 'kind', 'metadata'):
            errs.append(FE('Required', r))
    for k, x in obj.items():
        if k in ('apiVersion', 'kind', 'metadata') or k not in props:
            continue
        validator.validate(props[k], x, k, errs, old.get(k, MISSING) if isinstance(old, dict) else MISSING)
    ms = props.get('metadata')
    if isinstance(ms, dict) and isinstance(ms.get('properties'), dict):
        meta, ometa = obj.get('metadata') or {}, (old or {}).get('metadata') or {}
        for f in ('name', 'generateName'):
            if f in ms['properties'] and f in meta:
                validator.validate(ms['properties'][f], meta[f], 'metadata.' + f, errs, ometa.get(f, MISSING))
    return errs


# Built-in types: schemas used to decode (400 on type errors) and prune unknown fields.
def _obj(go=None, **props):
    s = {'type': 'object', 'properties': props}
    if go:
        s['x-go'] = go
    return s


_STR = {'type': 'string'}
_BOOL = {'type': 'boolean'}
_I32 = {'type': 'integer', 'format': 'int32'}
_I64 = {'type': 'integer', 'format': 'int64'}
_TIME = {'type': 'string', 'x-time': 'time'}
_MTIME = {'type': 'string', 'x-time': 'microtime'}
_MAPSTR = {'type': 'object', 'additionalProperties': _STR}
_BYTES = {'type': 'string', 'x-bytes': True}
_STRLIST = {'type': 'array', 'items': _STR}
_OBJREF = _obj('ObjectReference', kind=_STR, namespace=_STR, name=_STR, uid=_STR, apiVersion=_STR,
               resourceVersion=_STR, fieldPath=_STR)
_PRESERVE = {'type': 'object', 'x-kubernetes-preserve-unknown-fields': True}
META_SCHEMA = _obj(
    'ObjectMeta', name=_STR, generateName=_STR, namespace=_STR, selfLink=_STR, uid=_STR, resourceVersion=_STR,
    generation=_I64, creationTimestamp=_TIME, deletionTimestamp=_TIME, deletionGracePeriodSeconds=_I64,
    labels=_MAPSTR, annotations=_MAPSTR, finalizers=_STRLIST,
    ownerReferences={'type': 'array', 'items': _obj('OwnerReference', apiVersion=_STR, kind=_STR, name=_STR, uid=_STR,
                                                   controller=_BOOL, blockOwnerDeletion=_BOOL)},
    managedFields={'type': 'array', 'items': _PRESERVE})
BUILTIN_SCHEMAS = {
    'Namespace': _obj('Namespace', spec=_obj('NamespaceSpec', finalizers=_STRLIST),
                      status=_obj('NamespaceStatus', phase=_STR, conditions={'type': 'array', 'items': _PRESERVE})),
    'Secret': _obj('Secret', data={'type': 'object', 'additionalProperties': _BYTES}, stringData=_MAPSTR,
                   type=_STR, immutable=_BOOL),
    'ConfigMap': _obj('ConfigMap', data=_MAPSTR, binaryData={'type': 'object', 'additionalProperties': _BYTES},
                      immutable=_BOOL),
    'Lease': _obj('Lease', spec=_obj('LeaseSpec', holderIdentity=_STR, leaseDurationSeconds=_I32, acquireTime=_MTIME,
                                     renewTime=_MTIME, leaseTransitions=_I32, strategy=_STR, preferredHolder=_STR)),
    'Event': _obj('Event', involvedObject=_OBJREF, reason=_STR, message=_STR,
                  source=_obj('EventSource', component=_STR, host=_STR), firstTimestamp=_TIME, lastTimestamp=_TIME,
                  count=_I32, type=_STR, eventTime=_MTIME,
                  series=_obj('EventSeries', count=_I32, lastObservedTime=_MTIME), action=_STR, related=_OBJREF,
                  reportingComponent=_STR, reportingInstance=_STR),
    'events.k8s.io/Event': _obj('Event', eventTime=_MTIME, series=_obj('EventSeries', count=_I32, lastObservedTime=_MTIME),
                                reportingController=_STR, reportingInstance=_STR, action=_STR, reason=_STR,
                                regarding=_OBJREF, related=_OBJREF, note=_STR, type=_STR,
                                deprecatedSource=_obj('EventSource', component=_STR, host=_STR),
                                deprecatedFirstTimestamp=_TIME, deprecatedLastTimestamp=_TIME, deprecatedCount=_I32),
    'CustomResourceDefinition': _obj('CustomResourceDefinition', spec=_PRESERVE, status=_PRESERVE),
}
_GO_JSON = {'string': 'string', 'integer': 'number', 'number': 'number', 'boolean': 'bool', 'array': 'array',
            'object': 'object', 'null': 'null'}


def _go_type(s):
    t = s.get('type')
    if t == 'string':
        return 'string'
    if t == 'integer':
        return s.get('format', 'int64')
    if t == 'boolean':
        return 'bool'
    if t == 'array':
        return '[]' + _go_type(s.get('items') or {})
    if t == 'object':
        if isinstance(s.get('additionalProperties'), dict):
            return 'map[string]' + _go_type(s['additionalProperties'])
        return s.get('x-go', 'struct')
    return 'interface {}'


class DecodeError(Exception):
    pass


def b_decode(s, v, path, struct='', gopath=''):
    """Decode-time checks of a built-in type: Go JSON type errors, time and base64
    formats. Returns the normalized value; DecodeError with Go's message."""
    if not isinstance(s, dict) or s.get('x-kubernetes-preserve-unknown-fields'):
        return v
    t = s.get('type')
    if v is None:
        return None
    if t and not type_ok(t, v) and not (t == 'integer' and _is_int(v)):
        raise DecodeError('json: cannot unmarshal %s into Go struct field %s.%s of type %s'
                          % (_GO_JSON[jtype(v)], struct, gopath, _go_type(s)))
    if t == 'integer':
        lo, hi = INT_RANGES.get(s.get('format', 'int64'), INT_RANGES['int64'])
        if not lo <= v <= hi:
            raise DecodeError('json: cannot unmarshal number %s into Go struct field %s.%s of type %s'
                              % (gonum(v), struct, gopath, _go_type(s)))
        return int(v)
    if s.get('x-time') and isinstance(v, str):
        layout = '2006-01-02T15:04:05.000000Z07:00' if s['x-time'] == 'microtime' else '2006-01-02T15:04:05Z07:00'
        try:
            t0, frac = parse_time(v)
        except ValueError:
            raise DecodeError('parsing time %s as %s: cannot parse %s as %s'
                              % (json.dumps(json.dumps(v)), json.dumps('"' + layout + '"'), json.dumps(v), '"2006"'))
        if s['x-time'] == 'microtime':
            if len(frac) != 6:
                rest = re.sub(r'^.*:\d\d', '', v)
                raise DecodeError('parsing time %s as %s: cannot parse %s as ".000000"'
                                  % (json.dumps(json.dumps(v)), json.dumps('"' + layout + '"'), json.dumps(rest + '"')))
            return fmt_microtime(t0)
        return fmt_time(int(t0))
    if s.get('x-bytes') and isinstance(v, str):
        try:
            base64.b64decode(v, validate=True)
        except ValueError:
            bad = next((i for i, c in enumerate(v) if c not in
                        'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/='), len(v) - len(v) % 4)
            raise DecodeError('illegal base64 data at input byte %d' % bad)
        return v
    if isinstance(v, dict):
        props = s.get('properties') or {}
        addl = s.get('additionalProperties')
        st = s.get('x-go', struct)
        out = {}
        for k, x in v.items():
            sub = props.get(k) if k in props else (addl if isinstance(addl, dict) else None)
            gp = (gopath + '.' + k) if gopath else k
            out[k] = b_decode(sub, x, path_join(path, k), st, gp) if sub is not None else x
            if out[k] is None and sub is not None and not sub.get('x-time'):
                del out[k]
        return out
    if isinstance(v, list) and isinstance(s.get('items'), dict):
        return [b_decode(s['items'], x, '%s[%d]' % (path, i), struct, gopath) for i, x in enumerate(v)]
    return v


# --------------------------------------------------------------------------- protobuf request bodies

# kubectl sends protobuf bodies for built-in types. Enough of the generated messages to
# decode what `kubectl create namespace|configmap|secret` and `kubectl delete` send.
_PB_TIME = {1: ('seconds', 'int'), 2: ('nanos', 'int')}
_PB_OWNERREF = {1: ('kind', 'str'), 3: ('name', 'str'), 4: ('uid', 'str'), 5: ('apiVersion', 'str'),
                6: ('controller', 'bool'), 7: ('blockOwnerDeletion', 'bool')}
_PB_META = {1: ('name', 'str'), 2: ('generateName', 'str'), 3: ('namespace', 'str'), 5: ('uid', 'str'),
            6: ('resourceVersion', 'str'), 7: ('generation', 'int'), 10: ('deletionGracePeriodSeconds', 'int'),
            11: ('labels', 'map_str'), 12: ('annotations', 'map_str'), 13: ('ownerReferences', [_PB_OWNERREF]),
            14: ('finalizers', 'list_str')}
_PB_KINDS = {
    'ConfigMap': {1: ('metadata', _PB_META), 2: ('data', 'map_str'), 3: ('binaryData', 'map_bytes'),
                  4: ('immutable', 'bool')},
    'Secret': {1: ('metadata', _PB_META), 2: ('data', 'map_bytes'), 3: ('type', 'str'), 4: ('stringData', 'map_str'),
               5: ('immutable', 'bool')},
    'Namespace': {1: ('metadata', _PB_META), 2: ('spec', {1: ('finalizers', 'list_str')}),
                  3: ('status', {1: ('phase', 'str')})},
    'DeleteOptions': {1: ('gracePeriodSeconds', 'int'), 2: ('preconditions', {1: ('uid', 'str'),
                                                                              2: ('resourceVersion', 'str')}),
                      3: ('orphanDependents', 'bool'), 4: ('propagationPolicy', 'str'), 5: ('dryRun', 'list_str')},
}


def _pb_varint(b, i):
    n = shift = 0
    while True:
        if i >= len(b):
            raise ValueError('truncated varint')
        x = b[i]
        i += 1
        n |= (x & 0x7f) << shift
        shift += 7
        if not x & 0x80:
            return n, i


def _pb_fields(b):
    i, out = 0, []
    while i < len(b):
        key, i = _pb_varint(b, i)
        wt = key & 7
        if wt == 0:
            v, i = _pb_varint(b, i)
        elif wt == 2:
            n, i = _pb_varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt in (1, 5):
            n = 8 if wt == 1 else 4
            v, i = b[i:i + n], i + n
        else:
            raise ValueError('unsupported wire type %d' % wt)
        out.append((key >> 3, v))
    return out


def _pb_message(b, schema):
    out = {}
    for fn, v in _pb_fields(b):
        if fn not in schema:
            continue
        name, t = schema[fn]
        if t == 'str':
            out[name] = v.decode('utf-8')
        elif t == 'int':
            out[name] = v - (1 << 64) if v >= 1 << 63 else v
        elif t == 'bool':
            out[name] = bool(v)
        elif t == 'list_str':
            out.setdefault(name, []).append(v.decode('utf-8'))
        elif t in ('map_str', 'map_bytes'):
            e = dict(_pb_fields(v))
            val = e.get(2, b'')
            out.setdefault(name, {})[e.get(1, b'').decode('utf-8')] = (
                base64.b64encode(val).decode() if t == 'map_bytes' else val.decode('utf-8'))
        elif isinstance(t, list):
            out.setdefault(name, []).append(_pb_message(v, t[0]))
        else:
            out[name] = _pb_message(v, t)
    return out


def decode_protobuf(data):
    """A Kubernetes protobuf envelope (k8s\\x00 + runtime.Unknown) -> JSON object.
    ValueError for kinds this fake does not know."""
    if data[:4] != b'k8s\x00':
        raise ValueError('missing protobuf magic')
    env = dict(_pb_fields(data[4:]))
    tm = _pb_message(env.get(1, b''), {1: ('apiVersion', 'str'), 2: ('kind', 'str')})
    kind = tm.get('kind', '')
    if kind not in _PB_KINDS:
        raise ValueError('cannot decode protobuf %s' % kind)
    obj = {'apiVersion': tm.get('apiVersion', 'v1'), 'kind': kind}
    obj.update(_pb_message(env.get(2, b''), _PB_KINDS[kind]))
    return obj


# --------------------------------------------------------------------------- JSONPath subset

_JP = re.compile(r"""\.\.?(?P<name>[A-Za-z0-9_\-$]+)|\.?\[\s*'(?P<sq>[^']*)'\s*\]|\.?\[\s*"(?P<dq>[^"]*)"\s*\]"""
                 r"""|\.?\[\s*(?P<idx>\*|-?\d+)\s*\]|\.\*"""
                 r"""|\.?\[\?\(@\.(?P<fk>[A-Za-z0-9_.\-]+)\s*(?P<fop>==|!=)\s*(?:"(?P<fdq>[^"]*)"|'(?P<fsq>[^']*)'|(?P<fraw>[^)\s]+))\s*\)\]""")


def jsonpath(obj, expr):
    """Evaluate the simple JSONPath forms used by printer columns, selectable fields
    and scale paths. Returns a list of results."""
    expr = expr.strip()
    if expr.startswith('{') and expr.endswith('}'):
        expr = expr[1:-1].strip()
    cur, pos = [obj], 0
    while pos < len(expr):
        m = _JP.match(expr, pos)
        if not m:
            raise ValueError('unsupported JSONPath %r' % expr)
        pos = m.end()
        nxt = []
        name = m.group('name') or m.group('sq') or m.group('dq')
        for c in cur:
            if name is not None:
                if isinstance(c, dict) and name in c:
                    nxt.append(c[name])
            elif m.group('idx') is not None:
                if isinstance(c, list):
                    if m.group('idx') == '*':
                        nxt.extend(c)
                    else:
                        i = int(m.group('idx'))
                        if -len(c) <= i < len(c):
                            nxt.append(c[i])
            elif m.group('fk') is not None:
                want = m.group('fdq') if m.group('fdq') is not None else (
                    m.group('fsq') if m.group('fsq') is not None else m.group('fraw'))
                for it in (c if isinstance(c, list) else [c]):
                    got = jsonpath(it, '.' + m.group('fk'))
                    val = got[0] if got else MISSING
                    sval = val if isinstance(val, str) else (dumps(val) if val is not MISSING else None)
                    if (m.group('fop') == '==') == (sval == want):
                        nxt.append(it)
            else:
                if isinstance(c, dict):
                    nxt.extend(c.values())
                elif isinstance(c, list):
                    nxt.extend(c)
        cur = nxt
    return cur


def jsonpath_set(obj, expr, value):
    """Set a simple dotted path (.spec.replicas), creating parents."""
    keys = [k for k in expr.strip().lstrip('.').split('.') if k]
    cur = obj
    for k in keys[:-1]:
        if not isinstance(cur.get(k), dict):
            cur[k] = {}
        cur = cur[k]
    cur[keys[-1]] = value


# --------------------------------------------------------------------------- resource types

_EVENT_MAP = [('eventTime', 'eventTime'), ('series', 'series'), ('reportingComponent', 'reportingController'),
              ('reportingInstance', 'reportingInstance'), ('action', 'action'), ('reason', 'reason'),
              ('involvedObject', 'regarding'), ('related', 'related'), ('message', 'note'), ('type', 'type'),
              ('source', 'deprecatedSource'), ('firstTimestamp', 'deprecatedFirstTimestamp'),
              ('lastTimestamp', 'deprecatedLastTimestamp'), ('count', 'deprecatedCount')]
_EVENT_FIELDS = {'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
                 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath',
                 'reason', 'reportingComponent', 'source', 'type'}


def event_to_v1(e):
    """core/v1 Event (storage form) -> events.k8s.io/v1 view."""
    out = {'kind': 'Event', 'apiVersion': 'events.k8s.io/v1', 'metadata': e.get('metadata', {})}
    for a, b in _EVENT_MAP:
        v = e.get(a)
        if v not in (None, '', {}, 0) or a == 'eventTime':
            out[b] = v
    return out


def event_from_v1(e):
    out = {'kind': 'Event', 'apiVersion': 'v1', 'metadata': e.get('metadata', {})}
    for a, b in _EVENT_MAP:
        if b in e:
            out[a] = e[b]
    return out


class ResourceType:
    """One served group/version/resource."""

    def __init__(self, group, version, plural, kind, namespaced=True, singular=None, list_kind=None, short=(),
                 categories=(), custom=False, status_sub=False, scale=None, schema=None, columns=None,
                 selectable=(), has_generation=False, require_rv=False, create_on_update=False, storage=None,
                 storage_version=None, subresources=None, fields=(), view=None, decode_schema=None, crd_name=None):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced = namespaced
        self.singular = singular or kind.lower()
        self.list_kind = list_kind or kind + 'List'
        self.short, self.categories = list(short or []), list(categories or [])
        self.custom, self.status_sub, self.scale, self.schema = custom, status_sub, scale, schema
        self.columns = columns
        self.selectable = [s.get('jsonPath', '') for s in (selectable or []) if isinstance(s, dict)]
        self.has_generation, self.require_rv, self.create_on_update = has_generation, require_rv, create_on_update
        self.storage = storage or '%s/%s' % (group or 'core', plural)
        self.storage_version = storage_version or version
        if subresources is None:
            subresources = (['status'] if status_sub else []) + (['scale'] if scale else [])
        self.subresources = list(subresources)
        self.view = view
        self.decode_schema = decode_schema
        self.crd_name = crd_name
        self.fields = {'metadata.name'} | ({'metadata.namespace'} if namespaced else set()) | set(fields)
        for p in self.selectable:
            self.fields.add(p.lstrip('.'))

    @property
    def api_version(self):
        return '%s/%s' % (self.group, self.version) if self.group else self.version

    @property
    def storage_api_version(self):
        return '%s/%s' % (self.group, self.storage_version) if self.group else self.storage_version

    @property
    def qres(self):
        return '%s.%s' % (self.plural, self.group) if self.group else self.plural

    @property
    def qkind(self):
        return '%s.%s' % (self.kind, self.group) if self.group else self.kind

    def details(self, name, **extra):
        d = {'name': name} if name else {}
        if self.group:
            d['group'] = self.group
        d['kind'] = self.plural
        d.update(extra)
        return d

    def out(self, obj):
        """Storage form -> the form served at this group/version."""
        if obj is None:
            return None
        if self.view == 'events.k8s.io':
            return event_to_v1(obj)
        if self.custom and obj.get('apiVersion') != self.api_version:
            obj = dict(obj)
            obj['apiVersion'] = self.api_version
        return obj

    def field_value(self, obj, f):
        if f == 'metadata.name':
            return obj['metadata'].get('name', '')
        if f == 'metadata.namespace':
            return obj['metadata'].get('namespace', '')
        if self.custom:
            r = jsonpath(obj, '.' + f)
            if not r or r[0] is None:
                return ''
            v = r[0]
            return v if isinstance(v, str) else dumps(v)
        if self.view == 'events.k8s.io':
            f = re.sub(r'^regarding\.', 'involvedObject.', f)
            f = {'reportingController': 'reportingComponent', 'deprecatedSource': 'source'}.get(f, f)
        if f == 'source':
            return (obj.get('source') or {}).get('component', '')
        cur = obj
        for k in f.split('.'):
            cur = cur.get(k) if isinstance(cur, dict) else None
        return '' if cur is None else (cur if isinstance(cur, str) else dumps(cur))

    def supports_field(self, f):
        if self.view == 'events.k8s.io':
            f = re.sub(r'^regarding\.', 'involvedObject.', f)
            f = {'reportingController': 'reportingComponent', 'deprecatedSource': 'source'}.get(f, f)
        return f in self.fields

    def match(self, obj, lsel, fsel):
        if lsel and not label_match(lsel, obj['metadata'].get('labels')):
            return False
        for f, op, val in fsel or ():
            got = self.field_value(obj, f)
            if (op == '=') != (got == val):
                return False
        return True


def builtin_types():
    B = BUILTIN_SCHEMAS
    return [
        ResourceType('', 'v1', 'namespaces', 'Namespace', namespaced=False, short=['ns'],
                     subresources=['status', 'finalize'], fields=['status.phase'], decode_schema=B['Namespace']),
        ResourceType('', 'v1', 'secrets', 'Secret', fields=['type'], decode_schema=B['Secret']),
        ResourceType('', 'v1', 'configmaps', 'ConfigMap', short=['cm'], decode_schema=B['ConfigMap']),
        ResourceType('', 'v1', 'events', 'Event', short=['ev'], fields=_EVENT_FIELDS, decode_schema=B['Event']),
        ResourceType('events.k8s.io', 'v1', 'events', 'Event', short=['ev'], storage='core/events',
                     view='events.k8s.io', fields=_EVENT_FIELDS, decode_schema=B['events.k8s.io/Event']),
        ResourceType('coordination.k8s.io', 'v1', 'leases', 'Lease', require_rv=True, create_on_update=True,
                     decode_schema=B['Lease']),
        ResourceType('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition',
                     namespaced=False, short=['crd', 'crds'], has_generation=True, require_rv=True,
                     status_sub=True, decode_schema=B['CustomResourceDefinition']),
    ]


def crd_types(crd):
    """ResourceTypes served by a stored CustomResourceDefinition."""
    spec = crd.get('spec') or {}
    names = spec.get('names') or {}
    group = spec.get('group')
    storage_v = next((v.get('name') for v in spec.get('versions') or [] if v.get('storage')), None)
    out = []
    for v in spec.get('versions') or []:
        if not v.get('served', True):
            continue
        sub = v.get('subresources') or {}
        out.append(ResourceType(
            group, v.get('name'), names.get('plural'), names.get('kind'),
            namespaced=spec.get('scope', 'Namespaced') == 'Namespaced', singular=names.get('singular'),
            list_kind=names.get('listKind'), short=names.get('shortNames'), categories=names.get('categories'),
            custom=True, status_sub='status' in sub, scale=sub.get('scale'),
            schema=(v.get('schema') or {}).get('openAPIV3Schema') or {'type': 'object',
                                                                      'x-kubernetes-preserve-unknown-fields': True},
            columns=v.get('additionalPrinterColumns'), selectable=v.get('selectableFields'), has_generation=True,
            require_rv=True, storage_version=storage_v, crd_name=crd['metadata']['name']))
    return out


_VERSION_RX = re.compile(r'^v(\d+)(?:(alpha|beta)(\d+))?$')


def version_priority(v):
    m = _VERSION_RX.match(v)
    if not m:
        return (3, 0, 0, v)
    kind = {None: 0, 'beta': 1, 'alpha': 2}[m.group(2)]
    return (kind, -int(m.group(1)), -int(m.group(3) or 0), v)


# --------------------------------------------------------------------------- store

WEvent = collections.namedtuple('WEvent', 'rv storage ns name type obj old')


def obj_key(ns, name):
    return '%s/%s' % (ns, name) if ns else name


class Store:
    """Objects, the global resourceVersion counter and the watch event history.
    Survives FakeKube.stop()/start() (a "server restart"); the history does not."""

    def __init__(self, history=1000):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 0
        self.objects = {}                 # storage -> {(ns, name): obj}
        self.uids = {}                    # uid -> (storage, ns, name)
        self.owned = set()                # (storage, ns, name) of objects with ownerReferences
        self.written = {}                 # (storage, ns, name) -> wall time of last write
        self.history = collections.deque()
        self.history_size = history
        self.floor = 0                    # watches from an RV below this get 410
        self.compacted = 0                # exact lists below this get 410
        self.epoch = 0                    # bumped by compact(): older continue tokens get 410
        self.snapshots = collections.OrderedDict()
        self.types = {}                   # (group, version, plural) -> ResourceType
        for rt in builtin_types():
            self.types[(rt.group, rt.version, rt.plural)] = rt

    def get(self, storage, ns, name):
        return self.objects.get(storage, {}).get((ns or '', name))

    def forget_history(self):
        with self.lock:
            self.history.clear()
            self.floor = self.rv

    def compact(self):
        """Forget the watch history and every list snapshot: continue tokens issued so far
        expire, even one taken at the current RV."""
        with self.lock:
            self.forget_history()
            self.compacted = self.rv
            self.epoch += 1
            self.snapshots.clear()

    def state_at(self, storage, rv):
        """{(ns, name): obj} of one storage as of rv, or None when compacted away."""
        cur = self.objects.get(storage, {})
        if rv == self.rv:
            return dict(cur)
        snap = self.snapshots.get((storage, rv))
        if snap is not None:
            self.snapshots.move_to_end((storage, rv))
            return snap
        if rv < self.floor or rv < self.compacted or rv > self.rv:
            return None
        objs = dict(cur)
        for ev in reversed(self.history):
            if ev.rv <= rv:
                break
            if ev.storage != storage:
                continue
            if ev.type == 'ADDED':
                objs.pop((ev.ns, ev.name), None)
            else:
                objs[(ev.ns, ev.name)] = ev.old
        return objs

    def remember(self, storage, rv, objs):
        self.snapshots[(storage, rv)] = objs
        self.snapshots.move_to_end((storage, rv))
        while len(self.snapshots) > 64:
            self.snapshots.popitem(last=False)

    def types_for(self, storage):
        return [rt for rt in self.types.values() if rt.storage == storage]

    def scope(self, storage):
        for rt in self.types.values():
            if rt.storage == storage:
                return rt.namespaced
        return True


class Watcher:
    """One open watch; events are queued by commits (under the store lock)."""

    def __init__(self, rt, ns, lsel, fsel):
        self.rt, self.storage, self.ns, self.lsel, self.fsel = rt, rt.storage, ns, lsel, fsel
        self.q = collections.deque()
        self.cond = threading.Condition()
        self.drop = False
        self.stalled = False
        self.path = ''

    def offer(self, ev):
        self.q.append(ev)
        with self.cond:
            self.cond.notify()

    def kick(self):
        with self.cond:
            self.cond.notify()

    def translate(self, ev):
        """(type, object) for this watcher, honouring selector transitions, or None."""
        if ev.storage != self.storage or (self.ns and ev.ns != self.ns):
            return None
        if ev.type == 'ADDED':
            return ('ADDED', ev.obj) if self.rt.match(ev.obj, self.lsel, self.fsel) else None
        if ev.type == 'DELETED':
            return ('DELETED', ev.obj) if self.rt.match(ev.obj, self.lsel, self.fsel) else None
        new_m = self.rt.match(ev.obj, self.lsel, self.fsel)
        old_m = ev.old is not None and self.rt.match(ev.old, self.lsel, self.fsel)
        if new_m and old_m:
            return ('MODIFIED', ev.obj)
        if new_m:
            return ('ADDED', ev.obj)
        if old_m:
            last = dict(ev.old)
            last['metadata'] = dict(last['metadata'], resourceVersion=ev.obj['metadata']['resourceVersion'])
            return ('DELETED', last)
        return None


# --------------------------------------------------------------------------- certificates

def generate_certs(cert_dir, hosts=('127.0.0.1', 'localhost', '::1'), cn='fakekube'):
    """Throwaway CA and server certificate made with the openssl command-line tool.
    Reuses existing files. Returns {'ca', 'ca_key', 'cert', 'key'} paths."""
    os.makedirs(cert_dir, exist_ok=True)
    p = {k: os.path.join(cert_dir, f) for k, f in
         (('ca', 'ca.crt'), ('ca_key', 'ca.key'), ('cert', 'server.crt'), ('key', 'server.key'))}
    if all(os.path.exists(x) for x in p.values()):
        return p
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

    def run(*args):
        r = subprocess.run(['openssl'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cert_dir)
        if r.returncode:
            raise RuntimeError('openssl %s failed: %s' % (args[0], r.stderr.decode(errors='replace')))
    run('req', '-x509', *ec, '-keyout', p['ca_key'], '-out', p['ca'], '-days', '3650',
        '-subj', '/CN=%s-ca-%s' % (cn, uuid.uuid4().hex[:8]),
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    csr = os.path.join(cert_dir, 'server.csr')
    run('req', '-new', *ec, '-keyout', p['key'], '-out', csr, '-subj', '/CN=%s' % cn)
    sans = ','.join(('IP:' if re.fullmatch(r'[0-9.]+|.*:.*', h) else 'DNS:') + h for h in hosts)
    ext = os.path.join(cert_dir, 'server.ext')
    with open(ext, 'w') as f:
        f.write('subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\n'
                'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' % sans)
    run('x509', '-req', '-in', csr, '-CA', p['ca'], '-CAkey', p['ca_key'], '-set_serial',
        str(random.getrandbits(63)), '-out', p['cert'], '-days', '3650', '-extfile', ext)
    for f in (csr, ext):
        os.unlink(f)
    os.chmod(p['key'], 0o600)
    return p


# --------------------------------------------------------------------------- client helpers (for tests)

class Response:
    def __init__(self, status, headers, data):
        self.status, self.headers, self.data = status, headers, data

    @property
    def text(self):
        return self.data.decode('utf-8', 'replace')

    @property
    def json(self):
        return loads(self.data) if self.data else None

    def header(self, name):
        return self.headers.get(name)

    def header_all(self, name):
        return self.headers.get_all(name) or []


def _ssl_client_context(ca_file=None, insecure=False):
    ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Client:
    """Minimal HTTP client for tests: one connection per request."""

    def __init__(self, url, token=None, ca_file=None, insecure=False, timeout=10.0, user_agent='fakekube-client/1.0'):
        u = urlsplit(url)
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port or (443 if u.scheme == 'https' else 80)
        self.token, self.ca_file, self.insecure, self.timeout, self.ua = token, ca_file, insecure, timeout, user_agent

    def connect(self):
        if self.scheme == 'https':
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=_ssl_client_context(self.ca_file, self.insecure))
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def request(self, method, path, body=None, ctype=None, headers=None, token=MISSING):
        hdrs = {'Accept': 'application/json', 'User-Agent': self.ua}
        tok = self.token if token is MISSING else token
        if tok:
            hdrs['Authorization'] = 'Bearer ' + tok
        if body is not None and not isinstance(body, (bytes, str)):
            body = dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body is not None:
            hdrs['Content-Type'] = ctype or 'application/json'
        hdrs.update(headers or {})
        c = self.connect()
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, body, **kw):
        return self.request('POST', path, body, **kw)

    def put(self, path, body, **kw):
        return self.request('PUT', path, body, **kw)

    def patch(self, path, body, ctype='application/merge-patch+json', **kw):
        return self.request('PATCH', path, body, ctype=ctype, **kw)

    def delete(self, path, body=None, **kw):
        return self.request('DELETE', path, body, **kw)

    def watch(self, path, timeout=10.0, headers=None):
        return WatchStream(self, path, timeout=timeout, headers=headers)


class WatchStream:
    """Raw reader of a watch response: records chunk boundaries, parses NDJSON events.
    ended_cleanly is True after the chunked terminator, aborted after EOF/reset mid-stream."""

    def __init__(self, client, path, timeout=10.0, headers=None):
        raw = socket.create_connection((client.host, client.port), timeout=timeout)
        if client.scheme == 'https':
            raw = _ssl_client_context(client.ca_file, client.insecure).wrap_socket(raw, server_hostname=client.host)
        self.sock, self.buf, self.timeout = raw, b'', timeout
        self.chunks, self.lines, self.partial = [], collections.deque(), b''
        self.ended_cleanly = self.aborted = False
        hdrs = {'Host': '%s:%d' % (client.host, client.port), 'Accept': 'application/json',
                'User-Agent': client.ua}
        if client.token:
            hdrs['Authorization'] = 'Bearer ' + client.token
        hdrs.update(headers or {})
        req = 'GET %s HTTP/1.1\r\n%s\r\n' % (path, ''.join('%s: %s\r\n' % kv for kv in hdrs.items()))
        self.sock.sendall(req.encode())
        head = self._read_until(b'\r\n\r\n')
        lines = head.decode('latin-1').split('\r\n')
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for ln in lines[1:]:
            if ':' in ln:
                k, v = ln.split(':', 1)
                self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get('transfer-encoding', '').lower() == 'chunked'
        self.body = b''
        if not self.chunked:
            n = int(self.headers.get('content-length', '0'))
            while len(self.buf) < n:
                self._fill()
            self.body, self.buf = self.buf[:n], self.buf[n:]

    def _fill(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        d = self.sock.recv(65536)
        if not d:
            raise ConnectionError('EOF')
        self.buf += d

    def _read_until(self, sep, timeout=None):
        while sep not in self.buf:
            self._fill(timeout)
        i = self.buf.index(sep)
        out, self.buf = self.buf[:i], self.buf[i + len(sep):]
        return out

    def _read_chunk(self, timeout=None):
        """One chunk's data (None for the terminator); consumes nothing until complete."""
        while True:
            i = self.buf.find(b'\r\n')
            if i >= 0:
                size = int(self.buf[:i].split(b';')[0], 16)
                end = i + 2 + size + 2
                if len(self.buf) >= end:
                    data, self.buf = self.buf[i + 2:i + 2 + size], self.buf[end:]
                    return data if size else None
            self._fill(timeout)

    def next_event(self, timeout=None):
        """Next event dict; None at a clean end; raises socket.timeout or ConnectionError."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while not self.lines:
            if self.ended_cleanly or self.aborted:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout('no event')
            try:
                data = self._read_chunk(left)
            except (ConnectionError, OSError) as e:
                if isinstance(e, socket.timeout):
                    raise
                self.aborted = True
                raise ConnectionError('watch aborted: %s' % e)
            if data is None:
                self.ended_cleanly = True
                return None
            self.chunks.append(data)
            self.partial += data
            while b'\n' in self.partial:
                ln, self.partial = self.partial.split(b'\n', 1)
                if ln.strip():
                    self.lines.append(loads(ln))
        return self.lines.popleft()

    def events(self, n, timeout=None):
        return [self.next_event(timeout) for _ in range(n)]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --------------------------------------------------------------------------- the server

CRD_STORAGE = 'apiextensions.k8s.io/customresourcedefinitions'
NS_STORAGE = 'core/namespaces'
VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']
MSG_CONTINUE_EXPIRED = (
    'The provided continue parameter is too old to display a consistent list result. You can start a new list '
    'without the continue parameter, or use the continue token in this response to retrieve the remainder of the '
    'results. Continuing with the provided token results in an inconsistent list - objects that were created, '
    'modified, or deleted between the time the first chunk was returned and now may show up in the list.')
FAULT_DEFAULTS = {
    400: ('BadRequest', 'the server rejected our request for an unknown reason'),
    401: ('Unauthorized', 'Unauthorized'),
    404: ('NotFound', 'the server could not find the requested resource'),
    405: ('MethodNotAllowed', 'the server does not allow this method on the requested resource'),
    409: ('Conflict', 'the object has been modified; please apply your changes to the latest version and try again'),
    410: ('Expired', 'too old resource version'),
    500: ('InternalError', 'Internal error occurred: injected fault'),
    503: ('ServiceUnavailable', 'the server is currently unable to handle the request'),
    504: ('Timeout', 'Timeout: request did not complete within requested timeout - context deadline exceeded'),
}


class _Abort(Exception):
    """The connection was closed on purpose: stop handling it."""


class _Opts:
    def __init__(self, manager='fakekube', dry_run=False, validation='Warn', warnings=None):
        self.manager, self.dry_run, self.validation = manager, dry_run, validation
        self.warnings = warnings if warnings is not None else []
        self.mf_strip = False


class _Ctx:
    def __init__(self, h):
        self.h = h
        self.method = h.command
        u = urlsplit(h.path)
        self.path, self.query = u.path, u.query
        self.params = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        self.body = b''
        self.ctype = (h.headers.get('Content-Type') or '').split(';')[0].strip().lower()
        self.warnings = []
        self.code = None
        self.reset = None
        self.stall = False
        self.info = {}
        self.entry = None       # the request log entry

    def set_code(self, code):
        """Records the status, also in the request log before any byte of
        the answer goes out, so a client that reads the log right after the
        answer sees it."""
        self.code = code
        if self.entry is not None:
            self.entry['code'] = code


def _peer_gone(sock):
    """True when the client closed its side of a connection we only write to."""
    try:
        r, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    if not r:
        return False
    try:
        if isinstance(sock, ssl.SSLSocket):
            if sock.pending():
                return False
            sock.setblocking(False)
            try:
                d = sock.recv(1)
            finally:
                sock.setblocking(True)
        else:
            d = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return d == b''
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError):
        return False
    except (OSError, ValueError):
        return True


def _yaml_sanitize(v):
    if isinstance(v, dict):
        return {str(k) if not isinstance(k, str) else k: _yaml_sanitize(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_yaml_sanitize(x) for x in v]
    if hasattr(v, 'isoformat'):
        return v.isoformat().replace('+00:00', 'Z')
    return v


def load_crd_documents(path):
    """CustomResourceDefinition documents from a file or a directory (every *.yaml,
    *.yml, *.json; multi-document YAML; other kinds such as a kustomization are skipped)."""
    if os.path.isdir(path):
        files = sorted(f for ext in ('*.yaml', '*.yml', '*.json') for f in glob.glob(os.path.join(path, ext)))
    else:
        files = [path]
    out = []
    for f in files:
        with open(f, encoding='utf-8') as fh:
            text = fh.read()
        if f.endswith('.json'):
            docs = [loads(text)]
        else:
            if yaml is None:
                raise RuntimeError('PyYAML is needed to read %s' % f)
            docs = [_yaml_sanitize(d) for d in yaml.safe_load_all(text)]
        while docs:
            d = docs.pop(0)
            if not isinstance(d, dict):
                continue
            if d.get('kind') == 'List' or d.get('kind', '').endswith('List') and isinstance(d.get('items'), list):
                docs.extend(d['items'])
            elif d.get('kind') == 'CustomResourceDefinition' and str(d.get('apiVersion', '')).startswith(
                    'apiextensions.k8s.io/'):
                out.append(d)
    return out


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, addr, fk):
        self.fk = fk
        if ':' in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, _Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        return sock, addr

    def process_request_thread(self, request, client_address):
        fk, conn = self.fk, request
        try:
            if fk._ssl_ctx is not None:
                request.settimeout(10)
                conn = fk._ssl_ctx.wrap_socket(request, server_side=True)
                conn.settimeout(None)
            fk._track(conn, True)
            try:
                self.finish_request(conn, client_address)
            finally:
                fk._track(conn, False)
        except Exception:
            pass
        finally:
            for s in (conn, request):
                try:
                    s.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'fakekube'
    sys_version = ''

    def handle(self):
        try:
            super().handle()
        except _Abort:
            pass
        except (OSError, ValueError):
            pass

    def _do(self):
        self.server.fk._handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _do

    def log_message(self, fmt, *args):
        if self.server.fk.verbose:
            sys.stderr.write('fakekube: %s - %s\n' % (self.address_string(), fmt % args))


class FakeKube:
    """A Kubernetes API server stand-in. See doc/fakekube.md for the full API.

    fk = FakeKube(tls=True, token='t0k', crd_dir='crd').start()
    ... fk.url, fk.ca_file, fk.token ...
    fk.close()
    """

    def __init__(self, host='127.0.0.1', port=0, tls=False, cert_dir=None, token=None, token_file=None,
                 token_grace=0.0, crd_dir=None, crds=(), store=None, history=1000, bookmark_interval=60.0,
                 bookmark_lead=2.0, chunking='random', split_delay=0.002, seed=None, watch_list=True,
                 default_watch_timeout=None, too_large_wait=3.0, gc_interval=0.05, event_ttl=3600.0,
                 namespaces=DEFAULT_NAMESPACES, int_formats=True, short_pages=False, request_log_size=100000,
                 version='1.32', verbose=False):
        self.host, self.port = host, port
        self.tls = bool(tls or cert_dir)
        self.cert_dir, self._own_cert_dir, self.ca_file = cert_dir, False, None
        self._ssl_ctx = None
        self.store = store if store is not None else Store(history)
        self.bookmark_interval, self.bookmark_lead = float(bookmark_interval), float(bookmark_lead)
        self.chunking, self.split_delay = chunking, split_delay
        self.rng = random.Random(seed)
        self.watch_list, self.default_watch_timeout = watch_list, default_watch_timeout
        self.too_large_wait, self.gc_interval, self.event_ttl = too_large_wait, gc_interval, event_ttl
        self.namespaces = list(namespaces or ())
        self.crd_dirs = [crd_dir] if isinstance(crd_dir, str) else list(crd_dir or [])
        self.crds = list(crds or [])
        self.short_pages, self.version, self.verbose = short_pages, version, verbose
        self.validator = Validator(int_formats)
        self.clock_offset = 0.0
        self.latency = 0.0
        self._lock = threading.RLock()       # faults, tokens, request log, watcher/connection sets
        self._faults = []
        self._watchers, self._conns = set(), set()
        self.request_log = collections.deque(maxlen=request_log_size)
        self._seq = 0
        self._tokens = {}
        self.auth_tokens = {}                # token -> user, for TokenReviews
        self.sar_allow = set()               # (subject, path, verb), for SubjectAccessReviews
        self.access_reviews = []             # SubjectAccessReview specs received
        self.token, self.token_file, self.token_grace = None, token_file, float(token_grace)
        self._token_file_sig = None
        if token:
            self._tokens[token] = None
            self.token = token
        if token_file:
            self._reload_token_file()
        self._server = self._thread = self._ctl_thread = None
        self._ctl_stop = threading.Event()
        self._stopping = False
        self._gc_dirty = True

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self):
        host = '[%s]' % self.host if ':' in self.host else self.host
        return '%s://%s:%d' % ('https' if self.tls else 'http', host, self.port)

    def start(self):
        """Listen and serve (again, after stop(): the store and RV counter are kept, the
        watch history is lost as after an API server restart)."""
        if self._server is not None:
            return self
        if self.tls and self._ssl_ctx is None:
            self._setup_tls()
        srv = _Server((self.host, self.port), self)
        self.port = srv.server_address[1]
        st = self.store
        if getattr(st, 'served', False):
            st.forget_history()
        else:
            self._bootstrap()
            st.served = True
        self._stopping = False
        self._server = srv
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={'poll_interval': 0.05},
                                        name='fakekube-accept', daemon=True)
        self._thread.start()
        self._ctl_stop = threading.Event()
        self._ctl_thread = threading.Thread(target=self._controller_loop, name='fakekube-gc', daemon=True)
        self._ctl_thread.start()
        return self

    def stop(self):
        """Stop listening and close every connection (watches end without terminator)."""
        srv = self._server
        if srv is None:
            return
        self._stopping = True
        srv.shutdown()
        srv.server_close()
        self._ctl_stop.set()
        with self._lock:
            watchers, conns = list(self._watchers), list(self._conns)
        for w in watchers:
            w.drop = True
            w.kick()
        for c in conns:
            try:
                socket.socket.shutdown(c, socket.SHUT_RDWR)
            except (OSError, ValueError):
                pass
        if self._ctl_thread:
            self._ctl_thread.join(2)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            with self._lock:
                if not self._watchers and not self._conns:
                    break
            time.sleep(0.01)
        self._server = None

    def restart(self, downtime=0.0):
        """stop(), wait downtime seconds, start() on the same port with the same store."""
        self.stop()
        if downtime:
            time.sleep(downtime)
        for _ in range(50):
            try:
                return self.start()
            except OSError:
                time.sleep(0.05)
        return self.start()

    def close(self):
        self.stop()
        if self._own_cert_dir and self.cert_dir:
            shutil.rmtree(self.cert_dir, ignore_errors=True)
            self._own_cert_dir = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _setup_tls(self):
        if not self.cert_dir:
            self.cert_dir = tempfile.mkdtemp(prefix='fakekube-tls-')
            self._own_cert_dir = True
        p = generate_certs(self.cert_dir)
        self.ca_file = p['ca']
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(p['cert'], p['key'])
        ctx.set_alpn_protocols(['http/1.1'])
        self._ssl_ctx = ctx

    @property
    def ca_pem(self):
        if not self.ca_file:
            return None
        with open(self.ca_file) as f:
            return f.read()

    def _track(self, conn, add):
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _bootstrap(self):
        opts = _Opts('fakekube')
        nsrt = self.store.types[('', 'v1', 'namespaces')]
        for ns in self.namespaces:
            if self.store.get(NS_STORAGE, '', ns) is None:
                self._create(nsrt, '', {'apiVersion': 'v1', 'kind': 'Namespace', 'metadata': {'name': ns}}, opts)
        docs = list(self.crds)
        for d in self.crd_dirs:
            if d and os.path.exists(d):
                docs.extend(load_crd_documents(d))
        for doc in docs:
            self.add_crd(doc)

    def now(self):
        return time.time() + self.clock_offset

    # ------------------------------------------------------------------ public control API

    def add_crd(self, crd):
        """Create a CustomResourceDefinition (dict, or path of a file/dir); its resources
        are served at once. Existing CRDs of the same name are left alone."""
        if isinstance(crd, str):
            for d in load_crd_documents(crd):
                self.add_crd(d)
            return
        rt = self.store.types[('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')]
        if self.store.get(CRD_STORAGE, '', (crd.get('metadata') or {}).get('name')) is not None:
            return
        try:
            self._create(rt, '', clone(crd), _Opts('fakekube'))
        except ApiError as e:
            raise ValueError('CRD %s rejected: %s' % ((crd.get('metadata') or {}).get('name'), e.message))

    def fail(self, code=500, count=1, method=None, path=None, watch=None, retry_after=None, message=None,
             reason=None):
        """Answer the next `count` matching requests (None: all until clear_faults) with an
        error: 429 is text/plain with Retry-After (default 1); others a Status JSON."""
        self._add_fault('status', count, method, path, watch, code=int(code), retry_after=retry_after,
                        message=message, reason=reason)

    def reset_next(self, count=1, method=None, path=None, watch=None, execute=True):
        """Reset (TCP RST) the connection mid-body for the next matching requests. With
        execute=True the request takes effect before its answer is cut."""
        self._add_fault('reset', count, method, path, watch, execute=execute)

    def stall(self, count=1, method=None, path=None, watch=None):
        """Matching requests get no answer (watches: headers, then silence)."""
        self._add_fault('stall', count, method, path, watch)

    def stall_watches(self, existing=True, count=None, path=None):
        """Silence open watches (existing=True) and/or new ones (count: how many; None with
        existing=False: all new ones until clear_faults)."""
        if existing:
            with self._lock:
                for w in self._watchers:
                    if not path or re.search(path, w.path):
                        w.stalled = True
                        w.kick()
        if count is not None or not existing:
            self._add_fault('stall', count, None, path, True)

    def clear_faults(self):
        with self._lock:
            self._faults = []

    def _add_fault(self, action, count, method, path, watch, **kw):
        r = dict(action=action, count=count, method=method.upper() if method else None,
                 path=re.compile(path) if path else None, watch=watch, **kw)
        with self._lock:
            self._faults.append(r)

    def set_latency(self, seconds):
        self.latency = float(seconds)

    def drop_watches(self, path=None):
        """Close every open watch connection mid-stream (no chunked terminator)."""
        n = 0
        with self._lock:
            for w in self._watchers:
                if not path or re.search(path, w.path):
                    w.drop = True
                    w.kick()
                    n += 1
        return n

    def compact(self):
        """Forget all watch history and list snapshots up to now: resumes from older RVs get
        the 410 ERROR event, old continue tokens 410."""
        self.store.compact()

    def set_history(self, n):
        with self.store.lock:
            self.store.history_size = int(n)
            while len(self.store.history) > self.store.history_size:
                self.store.floor = self.store.history.popleft().rv

    def rotate_token(self, new=None, grace=0.0, write_file=True):
        """Make `new` (or a random token) the current one; earlier tokens keep working for
        `grace` seconds. With a token_file the new token is written there (atomic rename)."""
        new = new or 'fk-' + uuid.uuid4().hex
        now = time.monotonic()
        with self._lock:
            for t, exp in list(self._tokens.items()):
                if exp is None and t != new:
                    self._tokens[t] = now + float(grace)
                elif exp is not None and exp <= now:
                    del self._tokens[t]
            self._tokens[new] = None
            self.token = new
            if self.token_file and write_file:
                tmp = '%s.tmp%d' % (self.token_file, os.getpid())
                with open(tmp, 'w') as f:
                    f.write(new + '\n')
                os.replace(tmp, self.token_file)
                st = os.stat(self.token_file)
                self._token_file_sig = (st.st_ino, st.st_mtime_ns, st.st_size)
        return new

    def _reload_token_file(self):
        try:
            st = os.stat(self.token_file)
        except OSError:
            return
        sig = (st.st_ino, st.st_mtime_ns, st.st_size)
        if sig == self._token_file_sig:
            return
        self._token_file_sig = sig
        try:
            with open(self.token_file) as f:
                tok = f.read().strip()
        except OSError:
            return
        if tok and tok != self.token:
            self.rotate_token(tok, self.token_grace, write_file=False)

    def requests(self, since=0):
        """Request log: dicts with seq, time, method, path, query, verb, apiGroup, apiVersion,
        resource, subresource, namespace, name, code, userAgent, watch, fault."""
        with self._lock:
            return [dict(e) for e in self.request_log if e['seq'] > since]

    def clear_requests(self):
        with self._lock:
            self.request_log.clear()

    def client(self, **kw):
        kw.setdefault('token', self.token)
        kw.setdefault('ca_file', self.ca_file)
        return Client(self.url, **kw)

    def write_kubeconfig(self, path, namespace=None, token_file=False, **kw):
        """Write a kubeconfig for this server (see t/lib/kubeconfig.py)."""
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        try:
            import kubeconfig
        finally:
            sys.path.pop(0)
        if token_file and self.token_file:
            kw.setdefault('token_file', self.token_file)
        else:
            kw.setdefault('token', self.token)
        return kubeconfig.write_kubeconfig(path, self.url, ca_file=self.ca_file, namespace=namespace, **kw)

    # in-process store access (bypasses admission/validation, like writing to etcd)

    def resource_type(self, api_version, kind=None, plural=None):
        group, _, version = api_version.rpartition('/')
        for rt in self.store.types.values():
            if rt.group == group and rt.version == version and (rt.kind == kind or rt.plural == plural):
                return rt
        raise KeyError('no resource %s %s' % (api_version, kind or plural))

    def store_get(self, api_version, kind, name, namespace=None):
        rt = self.resource_type(api_version, kind)
        with self.store.lock:
            o = self.store.get(rt.storage, namespace if rt.namespaced else '', name)
            return clone(rt.out(o)) if o else None

    def store_list(self, api_version, kind, namespace=None):
        rt = self.resource_type(api_version, kind)
        with self.store.lock:
            objs = self.store.objects.get(rt.storage, {})
            return [clone(rt.out(o)) for k, o in sorted(objs.items(), key=lambda kv: obj_key(*kv[0]))
                    if not namespace or k[0] == namespace]

    def store_put(self, obj):
        """Write obj as is (no pruning, defaults or validation): fills uid and
        creationTimestamp, bumps the RV and emits ADDED/MODIFIED."""
        rt = self.resource_type(obj['apiVersion'], obj['kind'])
        new = clone(obj)
        if rt.view == 'events.k8s.io':
            new = event_from_v1(new)
        m = new.setdefault('metadata', {})
        ns = m.get('namespace', '') if rt.namespaced else ''
        with self.store.lock:
            old = self.store.get(rt.storage, ns, m['name'])
            om = old['metadata'] if old else {}
            m.setdefault('uid', om.get('uid') or str(uuid.uuid4()))
            m.setdefault('creationTimestamp', om.get('creationTimestamp') or fmt_time(self.now()))
            if rt.has_generation:
                m.setdefault('generation', om.get('generation', 1))
            if rt.custom:
                new['apiVersion'] = rt.storage_api_version
            m.pop('resourceVersion', None)
            out = self._commit(rt.storage, 'MODIFIED' if old else 'ADDED', ns, m['name'], new, old)
            return clone(rt.out(out))

    def store_delete(self, api_version, kind, name, namespace=None):
        """Remove an object at once (finalizers ignored); emits DELETED. False if absent."""
        rt = self.resource_type(api_version, kind)
        ns = namespace if rt.namespaced else ''
        with self.store.lock:
            old = self.store.get(rt.storage, ns, name)
            if old is None:
                return False
            self._commit(rt.storage, 'DELETED', ns, name, old, old)
            return True

    # ------------------------------------------------------------------ commit

    def _commit(self, storage, etype, ns, name, obj, old):
        """Persist one write under the store lock: bump the global RV, record the event,
        feed the watchers. obj is not mutated; returns the stored object."""
        st = self.store
        with st.lock:
            st.rv += 1
            obj = dict(obj)
            obj['metadata'] = dict(obj['metadata'], resourceVersion=str(st.rv))
            ns = ns or ''
            key = (storage, ns, name)
            coll = st.objects.setdefault(storage, {})
            m = obj['metadata']
            if etype == 'DELETED':
                coll.pop((ns, name), None)
                st.uids.pop(m.get('uid'), None)
                st.owned.discard(key)
                st.written.pop(key, None)
            else:
                coll[(ns, name)] = obj
                if m.get('uid'):
                    st.uids[m['uid']] = key
                (st.owned.add if m.get('ownerReferences') else st.owned.discard)(key)
                st.written[key] = time.time()
            ev = WEvent(st.rv, storage, ns, name, etype, obj, old)
            if st.history_size > 0:
                st.history.append(ev)
                while len(st.history) > st.history_size:
                    st.floor = st.history.popleft().rv
            else:
                st.floor = st.rv
            with self._lock:
                watchers = [w for w in self._watchers if w.storage == storage]
            for w in watchers:
                w.offer(ev)
            st.cond.notify_all()
            self._gc_dirty = True
            if storage == CRD_STORAGE:
                self._sync_crd_types()
            return obj

    def _sync_crd_types(self):
        st = self.store
        types = {(rt.group, rt.version, rt.plural): rt for rt in builtin_types()}
        for crd in st.objects.get(CRD_STORAGE, {}).values():
            for rt in crd_types(crd):
                types[(rt.group, rt.version, rt.plural)] = rt
        st.types = types

    # ------------------------------------------------------------------ request handling

    def _handle(self, h):
        ctx = _Ctx(h)
        if ctx.path == '/_fake' or ctx.path.startswith('/_fake/'):
            return self._control(ctx)
        entry = None
        try:
            ctx.info = self._request_info(ctx)
            entry = self._log_start(ctx)
            ctx.entry = entry
            ctx.body = self._read_body(ctx)
            if self.latency > 0:
                time.sleep(self.latency)
            self._authenticate(ctx)
            self._apply_faults(ctx, entry)
            self._route(ctx)
        except ApiError as e:
            self._send_error(ctx, e)
        except _Abort:
            raise
        except (ConnectionError, BrokenPipeError, ssl.SSLError, socket.timeout):
            h.close_connection = True
            raise _Abort()
        except Exception as e:  # a bug in the fake: answer like the real server would
            traceback.print_exc()
            self._send_error(ctx, ApiError(500, 'InternalError', 'Internal error occurred: %s' % e,
                                           {'causes': [{'message': str(e)}]}))
        finally:
            if entry is not None:
                entry['code'] = ctx.code

    def _log_start(self, ctx):
        i = ctx.info
        with self._lock:
            self._seq += 1
            e = {'seq': self._seq, 'time': time.time(), 'method': ctx.method, 'path': ctx.path, 'query': ctx.query,
                 'verb': i.get('verb'), 'apiGroup': i.get('apiGroup'), 'apiVersion': i.get('apiVersion'),
                 'resource': i.get('resource', ''), 'subresource': i.get('subresource', ''),
                 'namespace': i.get('namespace', ''), 'name': i.get('name', ''), 'code': None,
                 'userAgent': ctx.h.headers.get('User-Agent', ''), 'watch': i.get('verb') == 'watch', 'fault': None}
            self.request_log.append(e)
        return e

    def _read_body(self, ctx):
        h = ctx.h
        if 'chunked' in (h.headers.get('Transfer-Encoding') or '').lower():
            out = b''
            while True:
                size = int(h.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while h.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return out
                out += h.rfile.read(size)
                h.rfile.readline()
                if len(out) > MAX_BODY:
                    h.close_connection = True
                    raise ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is %d' % MAX_BODY)
        n = int(h.headers.get('Content-Length') or 0)
        if n > MAX_BODY:
            h.close_connection = True
            raise ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is %d' % MAX_BODY)
        return h.rfile.read(n) if n > 0 else b''

    def _request_info(self, ctx):
        parts = [p for p in ctx.path.split('/') if p]
        info = {'verb': ctx.method.lower(), 'apiGroup': None, 'apiVersion': None, 'resource': '', 'subresource': '',
                'namespace': '', 'name': '', 'extra': 0, 'isResource': False}
        if parts[:1] == ['api'] and len(parts) >= 2:
            group, version, rest = '', parts[1], parts[2:]
        elif parts[:1] == ['apis'] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            if parts[:1] == ['apis'] and len(parts) == 2:
                info['apiGroup'] = parts[1]
            return info
        info.update(apiGroup=group, apiVersion=version)
        if not rest:
            return info
        info['isResource'] = True
        if rest[0] == 'namespaces' and len(rest) > 1:
            info['namespace'] = rest[1]
            if len(rest) > 2 and rest[2] not in ('status', 'finalize'):
                rest = rest[2:]
        info['resource'] = rest[0]
        if len(rest) > 1:
            info['name'] = rest[1]
        if len(rest) > 2:
            info['subresource'] = rest[2]
        info['extra'] = max(0, len(rest) - 3)
        m, named = ctx.method, bool(info['name'])
        if m in ('GET', 'HEAD'):
            info['verb'] = 'get' if named else (
                'watch' if ctx.params.get('watch') in ('1', 'true', 'True') else 'list')
        else:
            info['verb'] = {'POST': 'create', 'PUT': 'update', 'PATCH': 'patch'}.get(
                m, ('delete' if named else 'deletecollection') if m == 'DELETE' else m.lower())
        return info

    def _authenticate(self, ctx):
        if not self._tokens and not self.token_file:
            return
        if self.token_file:
            with self._lock:
                self._reload_token_file()
        auth = ctx.h.headers.get('Authorization')
        if auth and auth[:7].lower() == 'bearer ':
            tok = auth[7:].strip()
            with self._lock:
                exp = self._tokens.get(tok, MISSING)
            if exp is not MISSING and (exp is None or exp > time.monotonic()):
                return
        elif not auth and re.match(r'^/(livez|readyz|healthz|version)(/|$)', ctx.path):
            return  # anonymous access to the public info endpoints
        raise ApiError(401, 'Unauthorized', 'Unauthorized')

    def _apply_faults(self, ctx, entry):
        r = None
        target = ctx.path + ('?' + ctx.query if ctx.query else '')
        is_watch = ctx.info.get('verb') == 'watch'
        with self._lock:
            for f in self._faults:
                if f['method'] and f['method'] != ctx.method:
                    continue
                if f['path'] and not f['path'].search(target):
                    continue
                if f['watch'] is not None and bool(f['watch']) != is_watch:
                    continue
                if f['count'] is not None:
                    f['count'] -= 1
                    if f['count'] <= 0:
                        self._faults.remove(f)
                r = f
                break
        if r is None:
            return
        entry['fault'] = r['action']
        if r['action'] == 'status':
            raise self._fault_error(ctx, r)
        if r['action'] == 'reset':
            if not r.get('execute', True) and not is_watch:
                ctx.reset = r
                raise ApiError(500, 'InternalError', 'Internal error occurred: connection reset')
            ctx.reset = r
        elif r['action'] == 'stall':
            if is_watch:
                ctx.stall = True
            else:
                self._stall_request(ctx)

    def _fault_error(self, ctx, r):
        code, ra = r['code'], r.get('retry_after')
        if code == 429:
            return ApiError(429, 'TooManyRequests', TOO_MANY_TEXT.strip(), text=r.get('message') or TOO_MANY_TEXT,
                            retry_after=1 if ra is None else ra)
        reason, msg = FAULT_DEFAULTS.get(code, ('', 'injected fault'))
        reason = r.get('reason') or reason
        info = ctx.info
        rt = self.store.types.get((info.get('apiGroup'), info.get('apiVersion'), info.get('resource')))
        details = {}
        if code == 403:
            res = info.get('resource', '') + ('/' + info['subresource'] if info.get('subresource') else '')
            what = '%s "%s"' % (rt.qres if rt else res, info['name']) if info.get('name') else (rt.qres if rt else res)
            where = ('in the namespace "%s"' % info['namespace']) if info.get('namespace') else 'at the cluster scope'
            msg = ('%s is forbidden: User "system:serviceaccount:default:fakekube" cannot %s resource "%s" in API '
                   'group "%s" %s' % (what, info.get('verb'), res, info.get('apiGroup') or '', where))
            reason = r.get('reason') or 'Forbidden'
            if rt:
                details = rt.details(info.get('name', ''))
        elif code == 409 and rt and info.get('name'):
            msg = 'Operation cannot be fulfilled on %s "%s": %s' % (rt.qres, info['name'], msg)
            details = rt.details(info['name'])
        elif code == 500 and not r.get('message'):
            details = {'causes': [{'message': 'injected fault'}]}
        msg = r.get('message') or msg
        if ra is not None:
            details['retryAfterSeconds'] = ra
        return ApiError(code, reason, msg, details or ({} if code in (404, 405) else None), retry_after=ra)

    def _stall_request(self, ctx):
        sock = ctx.h.connection
        while not self._stopping and not _peer_gone(sock):
            time.sleep(0.1)
        ctx.h.close_connection = True
        raise _Abort()

    # ------------------------------------------------------------------ responses

    def _common_headers(self, ctx):
        hdrs = [('Cache-Control', 'no-cache, private'), ('Audit-Id', str(uuid.uuid4())),
                ('X-Kubernetes-Pf-Flowschema-Uid', FLOWSCHEMA_UID),
                ('X-Kubernetes-Pf-Prioritylevel-Uid', PRIORITY_UID)]
        for w in ctx.warnings:
            hdrs.append(('Warning', '299 - ' + json.dumps(w)))
        return hdrs

    def _send(self, ctx, code, obj=None, text=None, ctype='application/json', extra=()):
        h = ctx.h
        data = dumps(obj).encode() if obj is not None else (text or '').encode()
        hdrs = [('Content-Type', ctype)] + self._common_headers(ctx) + list(extra)
        if len(data) >= GZIP_MIN and 'gzip' in (h.headers.get('Accept-Encoding') or ''):
            data = gzip.compress(data, 1)
            hdrs.append(('Content-Encoding', 'gzip'))
        ctx.set_code(code)
        h.send_response(code)
        for k, v in hdrs:
            h.send_header(k, v)
        h.send_header('Content-Length', str(len(data)))
        h.end_headers()
        if ctx.reset:
            h.wfile.write(data[:max(1, len(data) // 2)])
            self._rst(h)
        if ctx.method != 'HEAD':
            h.wfile.write(data)

    def _send_error(self, ctx, e):
        extra = []
        if e.retry_after is not None:
            extra.append(('Retry-After', str(e.retry_after)))
        extra.extend(e.headers.items())
        if e.text is not None:
            self._send(ctx, e.code, text=e.text, ctype='text/plain; charset=utf-8',
                       extra=extra + [('X-Content-Type-Options', 'nosniff')])
        else:
            self._send(ctx, e.code, e.status(), extra=extra)

    def _rst(self, h):
        """Abort the connection with a TCP reset."""
        sock = h.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        except OSError:
            pass
        h.close_connection = True
        for f in (h.rfile, h.wfile):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        try:
            socket.socket.close(sock) if not isinstance(sock, ssl.SSLSocket) else sock.close()
        except OSError:
            pass
        raise _Abort()

    def _drop(self, h):
        """Close the connection with a FIN, mid-stream."""
        h.close_connection = True
        try:
            socket.socket.shutdown(h.connection, socket.SHUT_RDWR)
        except (OSError, ValueError):
            pass
        raise _Abort()

    def _table_version(self, ctx):
        acc = ctx.h.headers.get('Accept') or ''
        for part in acc.split(','):
            p = part.replace(' ', '')
            if 'as=Table' in p and 'g=meta.k8s.io' in p:
                return 'v1beta1' if 'v=v1beta1' in p else 'v1'
            if p.split(';')[0] in ('application/json', '*/*', 'application/*', 'application/yaml'):
                return None
        return None

    def _check_accept(self, ctx):
        acc = ctx.h.headers.get('Accept')
        if not acc:
            return
        types = [p.split(';')[0].strip() for p in acc.split(',')]
        if not any(t in ('application/json', '*/*', 'application/*', '') or t.endswith('+json') for t in types):
            raise ApiError(406, 'NotAcceptable', 'only the following media types are accepted: application/json, '
                           'application/yaml, application/vnd.kubernetes.protobuf', {})

    def _send_object(self, ctx, rt, code, obj):
        if obj.get('kind') == 'Status' and obj.get('apiVersion') == 'v1' and 'status' in obj and rt.kind != 'Status':
            return self._send(ctx, code, obj)
        tv = self._table_version(ctx) if ctx.method == 'GET' else None
        if tv:
            return self._send(ctx, code, self._table(ctx, rt, [obj], None, None, tv))
        self._send(ctx, code, rt.out(obj))

    # ------------------------------------------------------------------ routing

    def _route(self, ctx):
        p = ctx.path.rstrip('/') or '/'
        m = ctx.method
        if re.match(r'^/(livez|readyz|healthz)(/|$)', p):
            return self._send(ctx, 200, text='ok', ctype='text/plain; charset=utf-8')
        if p == '/version':
            major, minor = self.version.split('.')[:2]
            return self._send(ctx, 200, {'major': major, 'minor': minor, 'gitVersion': 'v%s.0-fakekube' % self.version,
                                         'gitCommit': '0' * 40, 'gitTreeState': 'clean',
                                         'buildDate': '2025-01-01T00:00:00Z', 'goVersion': 'go1.23.4',
                                         'compiler': 'gc', 'platform': 'linux/amd64'})
        if p == '/api':
            return self._send(ctx, 200, {'kind': 'APIVersions', 'versions': ['v1'], 'serverAddressByClientCIDRs': [
                {'clientCIDR': '0.0.0.0/0', 'serverAddress': '%s:%d' % (self.host, self.port)}]})
        if p == '/apis':
            return self._send(ctx, 200, {'kind': 'APIGroupList', 'apiVersion': 'v1', 'groups': self._groups()})
        if m == 'POST' and p == '/apis/authentication.k8s.io/v1/tokenreviews':
            return self._token_review(ctx)
        if m == 'POST' and p == '/apis/authorization.k8s.io/v1/subjectaccessreviews':
            return self._access_review(ctx)
        info = ctx.info
        if info.get('apiVersion') is None:
            if info.get('apiGroup'):
                g = [x for x in self._groups() if x['name'] == info['apiGroup']]
                if g:
                    return self._send(ctx, 200, dict({'kind': 'APIGroup', 'apiVersion': 'v1'}, **g[0]))
            raise not_found_generic()
        if not info['isResource']:
            return self._send(ctx, 200, self._resource_list(info['apiGroup'], info['apiVersion']))
        rt = self.store.types.get((info['apiGroup'], info['apiVersion'], info['resource']))
        if rt is None or info['extra']:
            raise not_found_generic()
        is_ns_type = rt.storage == NS_STORAGE
        ns = '' if is_ns_type else info['namespace']
        name, sub = info['name'], info['subresource']
        if ns and not rt.namespaced:
            raise not_found_generic()
        if rt.namespaced and not ns and (name or m not in ('GET', 'HEAD')):
            raise not_found_generic()
        if sub and sub not in rt.subresources:
            raise not_found_generic()
        if m in ('GET', 'HEAD'):
            self._check_accept(ctx)
            if name:
                return self._get(ctx, rt, ns, name, sub)
            if info['verb'] == 'watch':
                return self._watch(ctx, rt, ns)
            return self._list(ctx, rt, ns)
        if m == 'POST' and not name:
            return self._http_create(ctx, rt, ns)
        if m == 'PUT' and name:
            return self._http_update(ctx, rt, ns, name, sub)
        if m == 'PATCH' and name and sub != 'finalize':
            return self._http_patch(ctx, rt, ns, name, sub)
        if m == 'DELETE' and not sub:
            if name:
                return self._http_delete(ctx, rt, ns, name)
            return self._http_deletecollection(ctx, rt, ns)
        raise method_not_allowed()

    def _review_body(self, ctx, api_version, kind):
        try:
            obj = loads(ctx.body or b'')
        except ValueError as e:
            raise bad_request('error decoding request body: %s' % e)
        if not isinstance(obj, dict) or obj.get('kind') != kind or obj.get('apiVersion') != api_version:
            raise bad_request('the body must be a %s of %s' % (kind, api_version))
        spec = obj.get('spec')
        if not isinstance(spec, dict):
            raise bad_request('spec is required')
        return obj, spec

    def _token_review(self, ctx):
        obj, spec = self._review_body(ctx, 'authentication.k8s.io/v1', 'TokenReview')
        tok = spec.get('token')
        if not isinstance(tok, str) or not tok:
            raise ApiError(422, 'Invalid', 'TokenReview.authentication.k8s.io "" is invalid: spec.token: '
                           'Required value: token is required',
                           {'group': 'authentication.k8s.io', 'kind': 'TokenReview',
                            'causes': [{'reason': 'FieldValueRequired', 'message': 'Required value: token is required',
                                        'field': 'spec.token'}]})
        with self._lock:
            user = self.auth_tokens.get(tok)
        status = {'user': {}}
        if user is not None:
            status = {'authenticated': True, 'user': clone(user), 'audiences': spec.get('audiences') or []}
        out = {'kind': 'TokenReview', 'apiVersion': 'authentication.k8s.io/v1',
               'metadata': {'creationTimestamp': None}, 'spec': clone(spec), 'status': status}
        return self._send(ctx, 201, out)

    def _access_review(self, ctx):
        obj, spec = self._review_body(ctx, 'authorization.k8s.io/v1', 'SubjectAccessReview')
        ra, nra = spec.get('resourceAttributes'), spec.get('nonResourceAttributes')
        errs = []
        if (ra is None) == (nra is None):
            errs.append(('spec.resourceAttributes', 'exactly one of nonResourceAttributes or resourceAttributes '
                         'must be specified'))
        if not spec.get('user') and not spec.get('groups'):
            errs.append(('spec.user', 'at least one of user or group must be specified'))
        if errs:
            raise ApiError(422, 'Invalid', 'SubjectAccessReview.authorization.k8s.io "" is invalid: ' +
                           ', '.join('%s: Invalid value: "": %s' % e for e in errs),
                           {'group': 'authorization.k8s.io', 'kind': 'SubjectAccessReview',
                            'causes': [{'reason': 'FieldValueInvalid', 'message': m, 'field': f} for f, m in errs]})
        if nra is not None:
            path, verb = (nra or {}).get('path', ''), (nra or {}).get('verb', '')
        else:
            ra = ra or {}
            path = '%s/%s/%s' % (ra.get('namespace', ''), ra.get('group', ''), ra.get('resource', ''))
            verb = ra.get('verb', '')
        subjects = [spec.get('user')] + list(spec.get('groups') or [])
        with self._lock:
            self.access_reviews.append(clone(spec))
            allowed = any(s in subjects and p in (path, '*') and v in (verb, '*') for s, p, v in self.sar_allow)
        status = {'allowed': allowed}
        if allowed:
            status['reason'] = 'allowed by the stand-in'
        out = {'kind': 'SubjectAccessReview', 'apiVersion': 'authorization.k8s.io/v1',
               'metadata': {'creationTimestamp': None}, 'spec': clone(spec), 'status': status}
        return self._send(ctx, 201, out)

    def _groups(self):
        groups = {}
        for rt in self.store.types.values():
            if rt.group:
                groups.setdefault(rt.group, set()).add(rt.version)
        out = []
        for g in sorted(groups):
            vs = sorted(groups[g], key=version_priority)
            gvs = [{'groupVersion': '%s/%s' % (g, v), 'version': v} for v in vs]
            out.append({'name': g, 'versions': gvs, 'preferredVersion': gvs[0]})
        return out

    def _resource_list(self, group, version):
        rts = sorted((rt for rt in self.store.types.values() if rt.group == group and rt.version == version),
                     key=lambda r: r.plural)
        if not rts:
            raise not_found_generic()
        res = []
        for rt in rts:
            e = {'name': rt.plural, 'singularName': rt.singular, 'namespaced': rt.namespaced, 'kind': rt.kind,
                 'verbs': VERBS}
            if rt.short:
                e['shortNames'] = rt.short
            if rt.categories:
                e['categories'] = rt.categories
            e['storageVersionHash'] = base64.b64encode(('%s/%s' % (rt.storage, rt.storage_version)).encode()[:8]).decode()
            res.append(e)
            for sub in rt.subresources:
                s = {'name': '%s/%s' % (rt.plural, sub), 'singularName': '', 'namespaced': rt.namespaced,
                     'kind': rt.kind, 'verbs': ['get', 'patch', 'update']}
                if sub == 'scale':
                    s.update(group='autoscaling', version='v1', kind='Scale')
                if sub == 'finalize':
                    s['verbs'] = ['update']
                res.append(s)
        return {'kind': 'APIResourceList', 'apiVersion': 'v1',
                'groupVersion': '%s/%s' % (group, version) if group else version, 'resources': res}

    # ------------------------------------------------------------------ reads

    def _not_found(self, rt, name):
        return ApiError(404, 'NotFound', '%s "%s" not found' % (rt.qres, name), rt.details(name))

    def _parse_rv(self, s):
        if not re.fullmatch(r'[0-9]+', s or ''):
            raise bad_request('invalid resource version: strconv.ParseUint: parsing %s: invalid syntax' % json.dumps(s))
        return int(s)

    def _wait_rv(self, n):
        st = self.store
        with st.cond:
            return st.cond.wait_for(lambda: st.rv >= n, timeout=self.too_large_wait)

    def _too_large(self, n):
        return ApiError(504, 'Timeout', 'Too large resource version: %d, current: %d' % (n, self.store.rv),
                        {'causes': [{'reason': 'ResourceVersionTooLarge', 'message': 'Too large resource version'}],
                         'retryAfterSeconds': 1}, retry_after=1)

    def _list_invalid(self, errs):
        return invalid('ListOptions.meta.k8s.io', '', errs, 'meta.k8s.io', 'ListOptions')

    def _selectors(self, ctx, rt):
        try:
            lsel = parse_label_selector(ctx.params.get('labelSelector'))
        except ValueError as e:
            raise bad_request(str(e))
        try:
            fsel = parse_field_selector(ctx.params.get('fieldSelector'))
        except ValueError as e:
            raise bad_request(str(e))
        for f, _, _ in fsel:
            if not rt.supports_field(f):
                raise bad_request('field label not supported: %s' % f)
        return lsel, fsel

    def _get(self, ctx, rt, ns, name, sub):
        rv = ctx.params.get('resourceVersion')
        if rv and rv != '0':
            n = self._parse_rv(rv)
            if not self._wait_rv(n):
                raise self._too_large(n)
        with self.store.lock:
            obj = self.store.get(rt.storage, ns, name)
        if obj is None:
            raise self._not_found(rt, name)
        if sub == 'scale':
            return self._send(ctx, 200, self._scale_view(rt, obj))
        self._send_object(ctx, rt, 200, obj)

    def _list(self, ctx, rt, ns):
        p = ctx.params
        lsel, fsel = self._selectors(ctx, rt)
        rv_s, rvm, cont = p.get('resourceVersion', ''), p.get('resourceVersionMatch', ''), p.get('continue', '')
        try:
            limit = int(p.get('limit') or 0)
            if limit < 0:
                raise ValueError
        except ValueError:
            raise bad_request('limit: Invalid value: %s: must be a non-negative integer' % json.dumps(p.get('limit')))
        errs = []
        if 'sendInitialEvents' in p:
            errs.append(FE('Forbidden', 'sendInitialEvents', detail='sendInitialEvents is forbidden for list'))
        if rvm:
            if not rv_s:
                errs.append(FE('Forbidden', 'resourceVersionMatch',
                               detail='resourceVersionMatch is forbidden unless resourceVersion is provided'))
            elif cont:
                errs.append(FE('Forbidden', 'resourceVersionMatch',
                               detail='resourceVersionMatch is forbidden when continue is provided'))
            elif rvm not in ('NotOlderThan', 'Exact'):
                errs.append(FE('NotSupported', 'resourceVersionMatch', rvm,
                               'supported values: "Exact", "NotOlderThan", ""'))
            elif rvm == 'Exact' and rv_s == '0':
                errs.append(FE('Forbidden', 'resourceVersionMatch',
                               detail='resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
        if errs:
            raise self._list_invalid(errs)
        if cont and rv_s not in ('', '0'):
            raise bad_request('specifying resource version is not allowed when using continue')
        if rv_s == '0':
            limit = 0  # served from the watch cache: the limit is ignored
        n = None
        if rv_s and rv_s != '0':
            n = self._parse_rv(rv_s)
            if not self._wait_rv(n):
                raise self._too_large(n)
        exact = n is not None and (rvm == 'Exact' or (not rvm and limit))
        st = self.store
        with st.lock:
            start = ''
            if cont:
                try:
                    tok = _unb64url(cont)
                    snap_rv, start = int(tok['rv']), str(tok['start'])
                    if tok.get('v') != 'meta.k8s.io/v1':
                        raise ValueError('unknown version')
                except Exception as e:
                    raise bad_request('continue key is not valid: %s' % e)
                if snap_rv == -1:
                    objs, list_rv = st.objects.get(rt.storage, {}), st.rv
                else:
                    objs = st.state_at(rt.storage, snap_rv) if tok.get('e', 0) == st.epoch else None
                    if objs is None:
                        e = ApiError(410, 'Expired', MSG_CONTINUE_EXPIRED)
                        e.meta = {'continue': _b64url({'v': 'meta.k8s.io/v1', 'rv': -1, 'start': start})}
                        raise e
                    list_rv = snap_rv
            elif exact and n != st.rv:
                objs = st.state_at(rt.storage, n)
                if objs is None:
                    raise ApiError(410, 'Expired', 'The resourceVersion for the provided list is too old.')
                list_rv = n
            else:
                objs, list_rv = st.objects.get(rt.storage, {}), st.rv
            keys = sorted((obj_key(*k), k) for k in objs if not ns or k[0] == ns)
            page = limit
            if limit and self.short_pages:
                page = self.rng.randint(1, limit)
            items, more, remaining = [], False, 0
            for i, (sk, k) in enumerate(keys):
                if start and sk < start:
                    continue
                o = objs[k]
                if not rt.match(o, lsel, fsel):
                    continue
                if page and len(items) >= page:
                    more = True
                    remaining = sum(1 for sk2, _ in keys[i:])
                    break
                items.append((sk, o))
            meta = {'resourceVersion': str(list_rv)}
            if more:
                meta['continue'] = _b64url({'v': 'meta.k8s.io/v1', 'rv': list_rv if not (cont and snap_rv == -1) else -1,
                                            'start': items[-1][0] + '\x00' if items else start, 'e': st.epoch})
                if not lsel and not fsel:
                    meta['remainingItemCount'] = remaining
                if (rt.storage, list_rv) not in st.snapshots and not (cont and snap_rv == -1):
                    st.remember(rt.storage, list_rv, dict(objs))
        tv = self._table_version(ctx)
        if tv:
            return self._send(ctx, 200, self._table(ctx, rt, [o for _, o in items], list_rv, meta.get('continue'), tv))
        if rt.custom:
            out = [rt.out(o) for _, o in items]
        else:
            out = [{k: v for k, v in rt.out(o).items() if k not in ('kind', 'apiVersion')} for _, o in items]
        self._send(ctx, 200, {'kind': rt.list_kind, 'apiVersion': rt.api_version, 'metadata': meta, 'items': out})

    # ------------------------------------------------------------------ watch

    def _watch(self, ctx, rt, ns):
        p = ctx.params
        lsel, fsel = self._selectors(ctx, rt)
        rv_s, rvm = p.get('resourceVersion', ''), p.get('resourceVersionMatch', '')
        bm = p.get('allowWatchBookmarks') in ('true', '1', 'True')
        sie = p.get('sendInitialEvents')
        initial_mode = sie in ('true', '1', 'True')
        errs = []
        if sie is not None:
            if not self.watch_list:
                errs.append(FE('Forbidden', 'sendInitialEvents',
                               detail='sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled'))
            elif rvm != 'NotOlderThan':
                errs.append(FE('Forbidden', 'resourceVersionMatch',
                               detail='sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'))
            elif initial_mode and not bm:
                errs.append(FE('Forbidden', 'allowWatchBookmarks',
                               detail='sendInitialEvents requires setting allowWatchBookmarks to true'))
        elif rvm:
            errs.append(FE('Forbidden', 'resourceVersionMatch',
                           detail='resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'))
        if errs:
            raise self._list_invalid(errs)
        ts = p.get('timeoutSeconds')
        if ts:
            try:
                timeout = float(int(ts))
            except ValueError:
                raise bad_request('timeoutSeconds: Invalid value: %s' % json.dumps(ts))
        elif self.default_watch_timeout is not None:
            timeout = float(self.default_watch_timeout)
        else:
            timeout = self.rng.uniform(1800, 3600)
        n = self._parse_rv(rv_s) if rv_s not in ('', '0') else None
        if n is not None and n > self.store.rv:
            self._wait_rv(n)
        w = Watcher(rt, ns, lsel, fsel)
        w.path = ctx.path + ('?' + ctx.query if ctx.query else '')
        w.stalled = ctx.stall
        initial, err = [], None
        st = self.store
        with st.lock:
            if n is None or initial_mode:
                if n is not None and n > st.rv:
                    err = self._too_large(n).status()
                else:
                    objs = st.objects.get(rt.storage, {})
                    for k in sorted(objs, key=lambda k: obj_key(*k)):
                        if (not ns or k[0] == ns) and rt.match(objs[k], lsel, fsel):
                            initial.append(('ADDED', objs[k]))
                    if initial_mode:
                        initial.append(('INITIAL-END', st.rv))
            elif n < st.floor:
                err = ApiError(410, 'Expired', 'too old resource version: %d (%d)' % (n, st.floor)).status()
            elif n > st.rv:
                err = self._too_large(n).status()
            else:
                for ev in st.history:
                    if ev.rv > n and ev.storage == rt.storage:
                        w.q.append(ev)
            if err is None:
                with self._lock:
                    self._watchers.add(w)
        try:
            self._watch_stream(ctx, rt, w, initial, err, timeout, bm)
        finally:
            with self._lock:
                self._watchers.discard(w)

    def _bookmark(self, rt, rv, initial_end=False):
        m = {'resourceVersion': str(rv), 'creationTimestamp': None}
        if initial_end:
            m['annotations'] = {'k8s.io/initial-events-end': 'true'}
        return {'kind': rt.kind, 'apiVersion': rt.api_version, 'metadata': m}

    def _watch_stream(self, ctx, rt, w, initial, err, timeout, bm):
        h = ctx.h
        tv = self._table_version(ctx)

        def line(t, o, raw=False):
            if not raw:
                o = self._table(ctx, rt, [o], None, None, tv) if tv else rt.out(o)
            return (dumps({'type': t, 'object': o}) + '\n').encode()
        ctx.set_code(200)
        h.send_response(200)
        h.send_header('Content-Type', 'application/json')
        for k, v in self._common_headers(ctx):
            h.send_header(k, v)
        h.send_header('Transfer-Encoding', 'chunked')
        h.end_headers()
        if ctx.reset:
            data = line(*initial[0]) if initial and initial[0][0] == 'ADDED' else b'{"type":"ADDED","object":{"kind":'
            h.wfile.write(b'%x\r\n%s\r\n' % (len(data) // 2, data[:len(data) // 2]))
            self._rst(h)
        if err is not None:
            self._write_chunks(h, line('ERROR', err, raw=True))
            h.wfile.write(b'0\r\n\r\n')
            return
        if w.stalled:
            return self._stall_watch(h, w)
        out = []
        for t, o in initial:
            out.append(line('BOOKMARK', self._bookmark(rt, o, True), raw=True) if t == 'INITIAL-END' else line(t, o))
        if out:
            self._write_chunks(h, b''.join(out))
        start = time.monotonic()
        deadline = start + timeout
        inf = float('inf')
        next_bm = start + self.bookmark_interval if bm else inf
        pre_bm = deadline - min(self.bookmark_lead, timeout / 2.0) if bm else inf
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            with w.cond:
                if not w.q and not w.drop and not w.stalled and not self._stopping:
                    w.cond.wait(max(0.0, min(deadline, next_bm, pre_bm, now + 0.5) - now))
            if w.drop or self._stopping:
                self._drop(h)
            if w.stalled:
                return self._stall_watch(h, w)
            if _peer_gone(h.connection):
                self._drop(h)
            out = []
            while w.q:
                tr = w.translate(w.q.popleft())
                if tr:
                    out.append(line(*tr))
            now = time.monotonic()
            if now >= next_bm or now >= pre_bm:
                with self.store.lock:
                    brv = self.store.rv if not w.q else None
                if brv is not None:
                    out.append(line('BOOKMARK', self._bookmark(rt, brv), raw=True))
                    if now >= pre_bm:
                        pre_bm = inf
                    next_bm = now + self.bookmark_interval
            if out:
                self._write_chunks(h, b''.join(out))
        h.wfile.write(b'0\r\n\r\n')

    def _stall_watch(self, h, w):
        while not (w.drop or self._stopping or _peer_gone(h.connection)):
            with w.cond:
                w.cond.wait(0.25)
            w.q.clear()
        self._drop(h)

    def _write_chunks(self, h, data):
        """Send complete NDJSON lines as HTTP chunks whose boundaries do not follow events."""
        mode, rng = self.chunking, self.rng
        pieces = []
        if mode == 'event':
            pieces = [ln + b'\n' for ln in data.split(b'\n')[:-1]]
        elif mode == 'bytes':
            pieces = [data[i:i + 1] for i in range(len(data))]
        elif mode == 'split':
            for ln in data.split(b'\n')[:-1]:
                ln += b'\n'
                cut = rng.randint(1, len(ln) - 1)
                pieces += [ln[:cut], ln[cut:]]
        else:
            i = 0
            while i < len(data):
                r, rem = rng.random(), len(data) - i
                if r < 0.35:
                    k = rem
                elif r < 0.65:
                    k = data.index(b'\n', i) + 1 - i
                else:
                    k = rng.randint(1, rem)
                pieces.append(data[i:i + k])
                i += k
        for piece in pieces:
            h.wfile.write(b'%x\r\n%s\r\n' % (len(piece), piece))
            if self.split_delay and not piece.endswith(b'\n'):
                time.sleep(self.split_delay)

    # ------------------------------------------------------------------ tables

    def _table(self, ctx, rt, objs, list_rv, cont, version):
        cols, cells = self._columns(rt)
        include = ctx.params.get('includeObject', 'Metadata')
        rows = []
        for o in objs:
            row = {'cells': cells(o)}
            if include == 'Object':
                row['object'] = rt.out(o)
            elif include != 'None':
                row['object'] = {'kind': 'PartialObjectMetadata', 'apiVersion': 'meta.k8s.io/v1',
                                 'metadata': o['metadata']}
            rows.append(row)
        meta = {}
        if list_rv is not None:
            meta['resourceVersion'] = str(list_rv)
        if cont:
            meta['continue'] = cont
        return {'kind': 'Table', 'apiVersion': 'meta.k8s.io/' + version, 'metadata': meta,
                'columnDefinitions': cols, 'rows': rows}

    def _age(self, ts):
        """Go's duration.HumanDuration of now - ts."""
        try:
            d = self.now() - parse_time(ts)[0]
        except (ValueError, TypeError):
            return '<invalid>'
        sec = int(d)
        if sec < -1:
            return '<invalid>'
        if sec < 0:
            return '0s'
        if sec < 120:
            return '%ds' % sec
        mins, hours = sec // 60, sec // 3600
        if mins < 10:
            return '%dm' % mins if sec % 60 == 0 else '%dm%ds' % (mins, sec % 60)
        if mins < 180:
            return '%dm' % mins
        if hours < 8:
            return '%dh' % hours if mins % 60 == 0 else '%dh%dm' % (hours, mins % 60)
        if hours < 48:
            return '%dh' % hours
        if hours < 24 * 8:
            return '%dd' % (hours // 24) if hours % 24 == 0 else '%dd%dh' % (hours // 24, hours % 24)
        if hours < 24 * 365 * 2:
            return '%dd' % (hours // 24)
        if hours < 24 * 365 * 8:
            dy = (hours // 24) % 365
            return '%dy' % (hours // 24 // 365) if dy == 0 else '%dy%dd' % (hours // 24 // 365, dy)
        return '%dy' % (hours // 24 // 365)

    def _columns(self, rt):
        def col(name, typ='string', fmt='', desc='', prio=0):
            return {'name': name, 'type': typ, 'format': fmt, 'description': desc, 'priority': prio}
        name_col = col('Name', fmt='name', desc='Name must be unique within a namespace.')
        if rt.custom:
            pcs = rt.columns or [{'name': 'Age', 'type': 'date', 'jsonPath': '.metadata.creationTimestamp'}]
            cols = [name_col] + [col(c.get('name', ''), c.get('type', 'string'), c.get('format', ''),
                                     c.get('description', ''), c.get('priority', 0)) for c in pcs]

            def cells(o):
                return [o['metadata'].get('name')] + [self._cell(c, o) for c in pcs]
            return cols, cells
        age = ('Age', lambda o: self._age(o['metadata'].get('creationTimestamp')))
        spec = {
            NS_STORAGE: [('Status', lambda o: (o.get('status') or {}).get('phase', '')), age],
            'core/secrets': [('Type', lambda o: o.get('type', '')), ('Data', lambda o: len(o.get('data') or {})), age],
            'core/configmaps': [('Data', lambda o: len(o.get('data') or {}) + len(o.get('binaryData') or {})), age],
            'coordination.k8s.io/leases': [('Holder', lambda o: (o.get('spec') or {}).get('holderIdentity', '')), age],
            'core/events': [('Type', lambda o: o.get('type', '')), ('Reason', lambda o: o.get('reason', '')),
                            ('Object', lambda o: '%s/%s' % ((o.get('involvedObject') or {}).get('kind', '').lower(),
                                                            (o.get('involvedObject') or {}).get('name', ''))),
                            ('Message', lambda o: o.get('message', '')), age],
            CRD_STORAGE: [('Created At', lambda o: o['metadata'].get('creationTimestamp'))],
        }.get(rt.storage, [age])
        cols = [name_col] + [col(n, 'integer' if n == 'Data' else ('date' if n == 'Created At' else 'string'))
                             for n, _ in spec]

        def bcells(o):
            return [o['metadata'].get('name')] + [f(o) for _, f in spec]
        return cols, bcells

    def _cell(self, c, o):
        try:
            r = jsonpath(o, c.get('jsonPath', ''))
        except ValueError:
            return None
        if not r or r[0] is None:
            return None
        v, t = r[0], c.get('type', 'string')
        if t == 'integer':
            return int(v) if _is_int(v) else None
        if t == 'number':
            return v if _is_num(v) else None
        if t == 'boolean':
            return v if isinstance(v, bool) else None
        if t == 'date':
            return self._age(v) if isinstance(v, str) else None
        return v if isinstance(v, str) else dumps(v)

    # ------------------------------------------------------------------ writes: decoding

    def _opts(self, ctx):
        p = ctx.params
        fm = p.get('fieldManager')
        if not fm:
            fm = (ctx.h.headers.get('User-Agent') or '').split('/')[0] or 'unknown'
            fm = fm[:128]
        elif len(fm) > 128:
            raise invalid('PatchOptions.meta.k8s.io' if ctx.method == 'PATCH' else 'CreateOptions.meta.k8s.io', '',
                          [FE('Invalid', 'fieldManager', fm, 'must be no more than 128 characters')], 'meta.k8s.io',
                          'PatchOptions' if ctx.method == 'PATCH' else 'CreateOptions')
        dr = p.get('dryRun')
        if dr not in (None, '', 'All'):
            raise bad_request('dryRun: Unsupported value: %s: supported values: "All"' % json.dumps(dr))
        fv = p.get('fieldValidation') or 'Warn'
        if fv not in ('Ignore', 'Warn', 'Strict'):
            raise bad_request('fieldValidation: Unsupported value: %s: supported values: "Ignore", "Strict", "Warn"'
                              % json.dumps(fv))
        return _Opts(fm, dr == 'All', fv, ctx.warnings)

    def _decode_body(self, ctx, rt):
        ct = ctx.ctype
        try:
            if ct in ('', 'application/json', '*/*'):
                obj = loads(ctx.body)
            elif ct in ('application/yaml', 'application/x-yaml', 'text/yaml') and yaml is not None:
                obj = _yaml_sanitize(yaml.safe_load(ctx.body.decode('utf-8')))
            elif ct == 'application/vnd.kubernetes.protobuf' and not rt.custom and rt.kind in _PB_KINDS:
                obj = decode_protobuf(ctx.body)
            else:
                raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - '
                               'accepted media types include: application/json, application/yaml', {})
        except ApiError:
            raise
        except Exception as e:
            raise bad_request("couldn't get version/kind; json parse error: %s" % e)
        if not isinstance(obj, dict):
            raise bad_request("couldn't get version/kind; json parse error: json: cannot unmarshal %s into Go value "
                              "of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string "
                              "\"json:\\\"kind,omitempty\\\"\" }" % _GO_JSON[jtype(obj)])
        return obj

    def _decode_error(self, rt, e):
        return bad_request('%s in version "%s" cannot be handled as a %s: %s' % (rt.kind, rt.version, rt.kind, e))

    def _normalize(self, rt, obj, opts):
        """Request object -> storage form: apiVersion/kind checks, Go-style decoding of
        metadata and built-in fields (400), pruning with warnings and defaults (CRs)."""
        if not isinstance(obj, dict):
            raise bad_request('the body of the request must be an object')
        av, kind = obj.get('apiVersion'), obj.get('kind')
        if rt.custom and not kind:
            raise bad_request("Object 'Kind' is missing in '%s'" % dumps(obj))
        if rt.custom and not av:
            raise bad_request("Object 'apiVersion' is missing in '%s'" % dumps(obj))
        if av and av != rt.api_version:
            raise bad_request('the API version in the data (%s) does not match the expected API version (%s)'
                              % (av, rt.api_version))
        if kind and kind != rt.kind:
            raise bad_request('the kind in the data (%s) does not match the expected kind (%s)' % (kind, rt.kind))
        meta = obj.get('metadata')
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise self._decode_error(rt, 'json: cannot unmarshal %s into Go struct field %s.metadata of type '
                                         'v1.ObjectMeta' % (_GO_JSON[jtype(meta)], rt.kind))
        warns = []
        try:
            meta = b_decode(META_SCHEMA, meta, 'metadata', 'ObjectMeta', 'metadata')
        except DecodeError as e:
            raise self._decode_error(rt, e)
        meta = s_prune(META_SCHEMA, meta, 'metadata', warns)
        body = {k: v for k, v in obj.items() if k not in ('apiVersion', 'kind', 'metadata')}
        if rt.custom:
            body = s_prune(rt.schema, body, '', warns)
            s_default(rt.schema, body)
        else:
            try:
                body = b_decode(rt.decode_schema, body, '', rt.decode_schema.get('x-go', rt.kind), '')
            except DecodeError as e:
                raise self._decode_error(rt, e)
            body = s_prune(rt.decode_schema, body, '', warns)
        if warns:
            msgs = ['unknown field "%s"' % w for w in warns]
            if opts.validation == 'Strict':
                raise bad_request('strict decoding error: ' + ', '.join(msgs))
            if opts.validation == 'Warn':
                opts.warnings.extend(msgs)
        out = {'apiVersion': rt.storage_api_version if rt.custom else rt.api_version, 'kind': rt.kind,
               'metadata': meta}
        out.update(body)
        if rt.view == 'events.k8s.io':
            out = event_from_v1(out)
        return out

    def _type_fixups(self, rt, obj, old=None):
        """Server-side defaults of built-in types (after the name is known)."""
        s = rt.storage
        m = obj['metadata']
        if s == 'core/secrets':
            sd = obj.pop('stringData', None)
            if sd:
                data = dict(obj.get('data') or {})
                for k, v in sd.items():
                    data[k] = base64.b64encode(v.encode()).decode()
                obj['data'] = data
            obj.setdefault('type', 'Opaque')
        elif s == NS_STORAGE:
            m['labels'] = dict(m.get('labels') or {}, **{'kubernetes.io/metadata.name': m.get('name', '')})
            if old is None:
                obj['spec'] = {'finalizers': ['kubernetes']}
                obj['status'] = {'phase': 'Active'}
        elif s == 'core/events':
            for f in ('eventTime', 'firstTimestamp', 'lastTimestamp'):
                obj.setdefault(f, None)
            for f in ('reportingComponent', 'reportingInstance'):
                obj.setdefault(f, '')
            obj.setdefault('source', {})
        elif s == CRD_STORAGE:
            self._crd_fixups(obj, old)

    def _finalizers(self, rt, obj):
        f = list(obj['metadata'].get('finalizers') or [])
        if rt.storage == NS_STORAGE:
            f += list((obj.get('spec') or {}).get('finalizers') or [])
        return f

    # ------------------------------------------------------------------ writes: validation

    def _validate(self, rt, new, old, opts):
        errs = []
        m = new['metadata']
        om = old['metadata'] if old else {}
        name = m.get('name', '')
        if old is None:
            if not name:
                errs.append(FE('Required', 'metadata.name', detail='name or generateName is required'))
            elif rt.storage == NS_STORAGE:
                if not is_dns_label(name):
                    errs.append(FE('Invalid', 'metadata.name', name, MSG_LABEL))
            elif not is_subdomain(name):
                errs.append(FE('Invalid', 'metadata.name', name, MSG_SUBDOMAIN))
        if old is None or m.get('labels') != om.get('labels'):
            for k, v in (m.get('labels') or {}).items():
                e = qualified_name_error(k)
                if e:
                    errs.append(FE('Invalid', 'metadata.labels', k, e))
                if not label_value_ok(v):
                    errs.append(FE('Invalid', 'metadata.labels', v, MSG_LVALUE))
        if old is None or m.get('annotations') != om.get('annotations'):
            total = 0
            for k, v in (m.get('annotations') or {}).items():
                e = qualified_name_error(k)
                if e:
                    errs.append(FE('Invalid', 'metadata.annotations', k, e))
                total += len(k) + len(v)
            if total > 256 * 1024:
                errs.append(FE('TooLong', 'metadata.annotations', detail='may not be more than 262144 bytes'))
        fins = m.get('finalizers') or []
        if old is None or fins != om.get('finalizers'):
            for i, f in enumerate(fins):
                e = qualified_name_error(f)
                if e:
                    errs.append(FE('Invalid', 'metadata.finalizers[%d]' % i, f, e))
                elif '/' not in f and f not in ('kubernetes', 'orphan', 'foregroundDeletion', CRD_CLEANUP_FINALIZER):
                    w = ('metadata.finalizers: %s: prefer a domain-qualified finalizer name including a path (/) to '
                         'avoid accidental conflicts with other finalizer writers' % json.dumps(f))
                    if w not in opts.warnings:
                        opts.warnings.append(w)
            if old is not None and om.get('deletionTimestamp'):
                added = [f for f in fins if f not in (om.get('finalizers') or [])]
                if added:
                    errs.append(FE('Forbidden', 'metadata.finalizers', detail='no new finalizers can be added if the '
                                   'object is being deleted, found new finalizers []string{%s}'
                                   % ', '.join(json.dumps(f) for f in added)))
        refs = m.get('ownerReferences') or []
        if old is None or refs != om.get('ownerReferences'):
            for r in refs:
                for f, what in (('apiVersion', 'version'), ('kind', 'kind'), ('name', 'name'), ('uid', 'uid')):
                    if not r.get(f):
                        errs.append(FE('Invalid', 'metadata.ownerReferences.' + f, '', '%s must not be empty' % what))
            ctl = [r for r in refs if r.get('controller')]
            if len(ctl) > 1:
                errs.append(FE('Invalid', 'metadata.ownerReferences', _Raw('[]v1.OwnerReference{...}'),
                               'Only one reference can have Controller set to true. Found "true" in references for %s'
                               % ' and '.join('%s/%s' % (r.get('kind'), r.get('name')) for r in ctl)))
        errs += self._validate_type(rt, new, old)
        if rt.custom:
            errs += validate_root(self.validator, rt.schema, new, old)
        return errs

    def _validate_type(self, rt, new, old):
        errs = []
        s = rt.storage
        if s in ('core/secrets', 'core/configmaps'):
            size = 0
            for fld in ('data', 'binaryData'):
                for k, v in (new.get(fld) or {}).items():
                    if not re.fullmatch(r'[-._a-zA-Z0-9]+', k) or len(k) > 253:
                        errs.append(FE('Invalid', '%s[%s]' % (fld, k), k, "a valid config key must consist of "
                                       "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
                                       "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
                    size += len(v) * 3 // 4 if fld == 'binaryData' or s == 'core/secrets' else len(v.encode())
            for k in set(new.get('data') or {}) & set(new.get('binaryData') or {}):
                errs.append(FE('Invalid', 'data[%s]' % k, k, 'duplicate of key present in binaryData'))
            if size > 1024 * 1024:
                errs.append(FE('TooLong', 'data' if s == 'core/secrets' else '',
                               detail='may not be more than 1048576 bytes'))
            if old is not None:
                if s == 'core/secrets' and new.get('type') != old.get('type'):
                    errs.append(FE('Invalid', 'type', new.get('type'), 'field is immutable'))
                if old.get('immutable'):
                    if not new.get('immutable'):
                        errs.append(FE('Forbidden', 'immutable', detail='field is immutable when `immutable` is set'))
                    for fld in ('data', 'binaryData'):
                        if (new.get(fld) or {}) != (old.get(fld) or {}):
                            errs.append(FE('Forbidden', fld, detail='field is immutable when `immutable` is set'))
        elif s == 'coordination.k8s.io/leases':
            sp = new.get('spec') or {}
            if 'leaseDurationSeconds' in sp and sp['leaseDurationSeconds'] <= 0:
                errs.append(FE('Invalid', 'spec.leaseDurationSeconds', sp['leaseDurationSeconds'], 'must be greater than 0'))
            if 'leaseTransitions' in sp and sp['leaseTransitions'] < 0:
                errs.append(FE('Invalid', 'spec.leaseTransitions', sp['leaseTransitions'],
                               'must be greater than or equal to 0'))
        elif s == 'core/events':
            errs += self._validate_event(rt, new, old)
        elif s == CRD_STORAGE:
            errs += self._validate_crd(new, old)
        return errs

    def _validate_event(self, rt, e, old):
        errs = []
        ns = e['metadata'].get('namespace', '')
        io_ns = (e.get('involvedObject') or {}).get('namespace', '')
        v1 = rt.view == 'events.k8s.io'
        rc = 'reportingController' if v1 else 'reportingComponent'
        if not e.get('eventTime'):
            if v1 and old is None:
                errs.append(FE('Required', 'eventTime'))
            if (io_ns and io_ns != ns) or (not io_ns and ns not in ('', 'default')):
                errs.append(FE('Invalid', 'involvedObject.namespace', io_ns, 'does not match event.namespace'))
        else:
            if not io_ns and ns not in ('default', 'kube-system'):
                errs.append(FE('Invalid', 'involvedObject.namespace', io_ns, 'does not match event.namespace'))
            if not e.get('reportingComponent'):
                errs.append(FE('Required', rc))
            elif qualified_name_error(e['reportingComponent']):
                errs.append(FE('Invalid', rc, e['reportingComponent'], qualified_name_error(e['reportingComponent'])))
            for f, lim in (('reportingInstance', 128), ('action', 128), ('reason', 128)):
                if not e.get(f):
                    errs.append(FE('Required', f))
                elif len(e[f]) > lim:
                    errs.append(FE('Invalid', f, '', 'can have at most %d characters' % lim))
            if len(e.get('message') or '') > 1024:
                errs.append(FE('Invalid', 'note' if v1 else 'message', '', 'can have at most 1024 characters'))
        if v1 and old is None:
            if e.get('type') not in ('Normal', 'Warning'):
                errs.append(FE('Invalid', 'type', '', 'has invalid value: %s' % (e.get('type') or '')))
            for a, b in (('firstTimestamp', 'deprecatedFirstTimestamp'), ('lastTimestamp', 'deprecatedLastTimestamp'),
                         ('count', 'deprecatedCount')):
                if e.get(a):
                    errs.append(FE('Invalid', b, '', 'needs to be unset'))
            if (e.get('source') or {}).get('component') or (e.get('source') or {}).get('host'):
                errs.append(FE('Invalid', 'deprecatedSource', '', 'needs to be unset'))
        return errs

    # ------------------------------------------------------------------ writes: create

    def _http_create(self, ctx, rt, ns):
        opts = self._opts(ctx)
        code, out = self._create(rt, ns, self._decode_body(ctx, rt), opts)
        self._send_object(ctx, rt, code, out)

    def _create(self, rt, ns, obj, opts, normalized=False):
        """Returns (201, stored object)."""
        new = obj if normalized else self._normalize(rt, obj, opts)
        m = new['metadata']
        if rt.namespaced:
            if m.get('namespace') and m['namespace'] != ns:
                raise bad_request('the namespace of the provided object does not match the namespace sent on the request')
            m['namespace'] = ns
        else:
            m.pop('namespace', None)
        for f in ('deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'uid', 'generation'):
            m.pop(f, None)
        if rt.custom and rt.status_sub:
            new.pop('status', None)
        st = self.store
        with st.lock:
            if rt.custom:
                crd = st.get(CRD_STORAGE, '', rt.crd_name)
                if crd and crd['metadata'].get('deletionTimestamp'):
                    raise ApiError(405, 'MethodNotAllowed',
                                   'create not allowed while custom resource definition is terminating', {})
            if rt.namespaced:
                nso = st.get(NS_STORAGE, '', ns)
                if nso is None:
                    raise ApiError(404, 'NotFound', 'namespaces "%s" not found' % ns, {'name': ns, 'kind': 'namespaces'})
                if nso['metadata'].get('deletionTimestamp'):
                    name = m.get('name', '')
                    raise ApiError(403, 'Forbidden', '%s "%s" is forbidden: unable to create new content in namespace '
                                   '%s because it is being terminated' % (rt.qres, name, ns),
                                   dict(rt.details(name), causes=[{
                                       'reason': 'NamespaceTerminating', 'field': 'metadata.namespace',
                                       'message': 'namespace %s is being terminated' % ns}]))
            if not m.get('name') and m.get('generateName'):
                for _ in range(8):
                    m['name'] = m['generateName'][:58] + ''.join(self.rng.choice(NAME_CHARS) for _ in range(5))
                    if st.get(rt.storage, ns, m['name']) is None:
                        break
            self._type_fixups(rt, new)
            errs = self._validate(rt, new, None, opts)
            if errs:
                raise invalid(rt.qkind, m.get('name', ''), errs, rt.group, rt.kind)
            if m.get('resourceVersion'):
                raise ApiError(500, '', 'resourceVersion should not be set on objects to be created')
            name = m['name']
            if st.get(rt.storage, ns, name) is not None:
                raise ApiError(409, 'AlreadyExists', '%s "%s" already exists' % (rt.qres, name), rt.details(name))
            m['uid'] = str(uuid.uuid4())
            m['creationTimestamp'] = fmt_time(self.now())
            if rt.has_generation:
                m['generation'] = 1
            m.pop('resourceVersion', None)
            if m.get('managedFields') == [{}]:
                m.pop('managedFields')
            else:
                m['managedFields'] = [self._mf_entry(rt, new, opts.manager, None)]
            if opts.dry_run:
                return 201, new
            return 201, self._commit(rt.storage, 'ADDED', ns, name, new, None)

    # ------------------------------------------------------------------ writes: update / patch

    def _http_update(self, ctx, rt, ns, name, sub):
        opts = self._opts(ctx)
        if sub == 'scale':
            return self._scale_write(ctx, rt, ns, name, self._decode_body(ctx, rt), opts, False)
        code, out = self._update(rt, ns, name, sub, self._decode_body(ctx, rt), opts)
        self._send_object(ctx, rt, code, out)

    def _rv_required(self, rt, name):
        return invalid(rt.qres, name, [FE('Invalid', 'metadata.resourceVersion', _Raw('0x0'),
                                          'must be specified for an update')], rt.group, rt.plural)

    def _conflict(self, rt, name, detail=None):
        detail = detail or 'the object has been modified; please apply your changes to the latest version and try again'
        return ApiError(409, 'Conflict', 'Operation cannot be fulfilled on %s "%s": %s' % (rt.qres, name, detail),
                        rt.details(name))

    def _update(self, rt, ns, name, sub, obj, opts, patched=False):
        """PUT semantics (also used after a patch was applied). Returns (code, object)."""
        new = self._normalize(rt, obj, opts)
        m = new['metadata']
        if m.get('name') != name:
            raise bad_request('the name of the object (%s) does not match the name on the URL (%s)'
                              % (m.get('name', ''), name))
        if rt.namespaced:
            if m.get('namespace') and m['namespace'] != ns:
                raise bad_request('the namespace of the provided object does not match the namespace sent on the request')
            m['namespace'] = ns
        else:
            m.pop('namespace', None)
        st = self.store
        with st.lock:
            old = st.get(rt.storage, ns, name)
            if old is None:
                if rt.create_on_update and not sub:
                    m.pop('resourceVersion', None)
                    return self._create(rt, ns, new, opts, normalized=True)
                raise self._not_found(rt, name)
            om = old['metadata']
            rv = m.get('resourceVersion')
            if not rv:
                if rt.require_rv and not patched:
                    raise self._rv_required(rt, name)
            elif rv != om['resourceVersion']:
                raise self._conflict(rt, name)
            if m.get('uid') and m['uid'] != om.get('uid'):
                raise self._conflict(rt, name, 'Precondition failed: UID in precondition: %s, UID in object meta: %s'
                                     % (m['uid'], om.get('uid')))
            res = self._strategy_update(rt, old, new, sub, opts)
            errs = self._validate(rt, res, old, opts)
            if errs:
                raise invalid(rt.qkind, name, errs, rt.group, rt.kind)
            return self._finish_update(rt, ns, name, old, res, sub, opts)

    def _strategy_update(self, rt, old, new, sub, opts):
        om = old['metadata']
        if sub == 'status':
            res = dict(old)
            if 'status' in new:
                res['status'] = new['status']
            else:
                res.pop('status', None)
            res['metadata'] = dict(om)
            return res
        if sub == 'finalize':
            res = dict(old)
            res['spec'] = dict(old.get('spec') or {}, finalizers=(new.get('spec') or {}).get('finalizers') or [])
            res['metadata'] = dict(om)
            return res
        res = new
        m = res['metadata']
        for f in ('uid', 'creationTimestamp', 'generation', 'deletionTimestamp', 'deletionGracePeriodSeconds'):
            if f in om:
                m[f] = om[f]
            else:
                m.pop(f, None)
        m.pop('selfLink', None)
        mf = m.get('managedFields')
        if mf == [{}]:
            m.pop('managedFields')
            opts.mf_strip = True
        elif not mf and 'managedFields' in om:
            m['managedFields'] = om['managedFields']
        if rt.status_sub:
            if 'status' in old:
                res['status'] = old['status']
            else:
                res.pop('status', None)
        if rt.storage == NS_STORAGE:
            for f in ('spec', 'status'):
                if f in old:
                    res[f] = old[f]
        self._type_fixups(rt, res, old)
        if rt.has_generation:
            skip = ('metadata', 'status') if rt.status_sub else ('metadata',)
            a = {k: v for k, v in old.items() if k not in skip and k != 'apiVersion'}
            b = {k: v for k, v in res.items() if k not in skip and k != 'apiVersion'}
            if not jeq(a, b):
                m['generation'] = om.get('generation', 1) + 1
        return res

    @staticmethod
    def _same(a, b):
        def strip(o):
            o = dict(o)
            m = dict(o['metadata'])
            m.pop('resourceVersion', None)
            m.pop('managedFields', None)
            o['metadata'] = m
            o.pop('apiVersion', None)
            return o
        return jeq(strip(a), strip(b))

    def _finish_update(self, rt, ns, name, old, res, sub, opts):
        if self._same(old, res) and not opts.mf_strip:
            return 200, old  # no-op: same RV, no event
        m = res['metadata']
        if not opts.mf_strip:
            m['managedFields'] = self._mf_update(rt, m.get('managedFields') or [], res, opts.manager, sub)
        res['apiVersion'] = old['apiVersion']
        if m.get('deletionTimestamp') and not self._finalizers(rt, res):
            if opts.dry_run:
                return 200, res
            return 200, self._commit(rt.storage, 'DELETED', ns, name, res, old)
        if opts.dry_run:
            return 200, res
        return 200, self._commit(rt.storage, 'MODIFIED', ns, name, res, old)

    def _http_patch(self, ctx, rt, ns, name, sub):
        ct = ctx.ctype
        kinds = ['application/json-patch+json', 'application/merge-patch+json']
        if not rt.custom:
            kinds.append('application/strategic-merge-patch+json')
        if ct not in kinds:
            raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted '
                           'media types include: ' + ', '.join(kinds), {})
        if 'force' in ctx.params:
            raise invalid('PatchOptions.meta.k8s.io', '', [FE('Forbidden', 'force',
                          detail='may not be specified for non-apply patch')], 'meta.k8s.io', 'PatchOptions')
        try:
            patch = loads(ctx.body)
        except Exception as e:
            raise bad_request('error decoding patch: %s' % e)
        if ct == 'application/json-patch+json' and not isinstance(patch, list):
            raise bad_request('json: cannot unmarshal %s into Go value of type jsonpatch.Patch' % _GO_JSON[jtype(patch)])
        if ct != 'application/json-patch+json' and not isinstance(patch, dict):
            raise bad_request('json: cannot unmarshal %s into Go value of type map[string]interface {}'
                              % _GO_JSON[jtype(patch)])
        opts = self._opts(ctx)
        st = self.store
        with st.lock:
            old = st.get(rt.storage, ns, name)
            if old is None:
                raise self._not_found(rt, name)
            cur = self._scale_view(rt, old) if sub == 'scale' else clone(rt.out(old))
            if ct == 'application/json-patch+json':
                try:
                    patched = json_patch(cur, patch)
                except PatchError as e:
                    raise ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request',
                                   {'causes': [{'reason': 'FieldValueInvalid', 'message': str(e), 'field': 'patch'}]})
            elif ct == 'application/merge-patch+json':
                patched = merge_patch(cur, patch)
            else:
                patched = merge_patch(cur, patch, set_lists={('metadata', 'finalizers')})
            if not isinstance(patched, dict):
                raise bad_request('the patched object is not a JSON object')
            if sub == 'scale':
                return self._scale_write(ctx, rt, ns, name, patched, opts, True)
            code, out = self._update(rt, ns, name, sub, patched, opts, patched=True)
        self._send_object(ctx, rt, code, out)

    # managedFields

    @staticmethod
    def _fieldset(v):
        if isinstance(v, dict):
            return {'f:' + k: FakeKube._fieldset(x) for k, x in v.items()}
        return {}

    def _fields_of(self, rt, obj, sub):
        if sub == 'status':
            return {'f:status': self._fieldset(obj.get('status'))} if 'status' in obj else {}
        fs = {}
        m = obj['metadata']
        mf = {}
        for k in ('labels', 'annotations'):
            if m.get(k):
                mf['f:' + k] = self._fieldset(m[k])
        if m.get('finalizers'):
            mf['f:finalizers'] = dict({'.': {}}, **{'v:' + json.dumps(f): {} for f in m['finalizers']})
        if m.get('ownerReferences'):
            mf['f:ownerReferences'] = dict({'.': {}}, **{'k:' + dumps({'uid': r.get('uid')}): {}
                                                          for r in m['ownerReferences']})
        if mf:
            fs['f:metadata'] = mf
        for k, v in obj.items():
            if k in ('apiVersion', 'kind', 'metadata') or (k == 'status' and rt.status_sub):
                continue
            fs['f:' + k] = self._fieldset(v)
        return fs

    def _mf_entry(self, rt, obj, manager, sub):
        e = {'manager': manager, 'operation': 'Update', 'apiVersion': rt.api_version, 'time': fmt_time(self.now()),
             'fieldsType': 'FieldsV1', 'fieldsV1': self._fields_of(rt, obj, sub)}
        if sub:
            e['subresource'] = sub
        return e

    def _mf_update(self, rt, entries, obj, manager, sub):
        keep = [e for e in entries if not (e.get('manager') == manager and e.get('operation') == 'Update'
                                           and e.get('subresource', '') == (sub or ''))]
        return keep + [self._mf_entry(rt, obj, manager, sub)]

    # scale subresource

    def _scale_view(self, rt, obj):
        sc = rt.scale or {}
        m = obj['metadata']

        def first(path):
            r = jsonpath(obj, path) if path else []
            return r[0] if r else None
        status = {'replicas': first(sc.get('statusReplicasPath')) or 0}
        sel = first(sc.get('labelSelectorPath'))
        if sel:
            status['selector'] = sel
        return {'kind': 'Scale', 'apiVersion': 'autoscaling/v1',
                'metadata': {k: m[k] for k in ('name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp')
                             if k in m},
                'spec': {'replicas': first(sc.get('specReplicasPath')) or 0}, 'status': status}

    def _scale_write(self, ctx, rt, ns, name, scale, opts, patched):
        replicas = (scale.get('spec') or {}).get('replicas')
        if not _is_int(replicas) or replicas < 0:
            raise invalid('Scale.autoscaling', name, [FE('Invalid', 'spec.replicas', replicas,
                                                        'must be greater than or equal to 0')], 'autoscaling', 'Scale')
        rv = (scale.get('metadata') or {}).get('resourceVersion')
        with self.store.lock:
            old = self.store.get(rt.storage, ns, name)
            if old is None:
                raise self._not_found(rt, name)
            if rv and rv != old['metadata']['resourceVersion']:
                raise self._conflict(rt, name)
            new = clone(rt.out(old))
            jsonpath_set(new, rt.scale['specReplicasPath'], int(replicas))
            self._update(rt, ns, name, None, new, opts, patched=True)
            cur = self.store.get(rt.storage, ns, name)
        self._send(ctx, 200, self._scale_view(rt, cur))

    # ------------------------------------------------------------------ writes: delete

    def _delete_options(self, ctx):
        d = {}
        if ctx.body.strip():
            if ctx.ctype not in ('', 'application/json', '*/*', 'application/vnd.kubernetes.protobuf'):
                raise ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - '
                               'accepted media types include: application/json, application/yaml', {})
            try:
                d = decode_protobuf(ctx.body) if ctx.ctype.endswith('protobuf') else loads(ctx.body)
            except Exception as e:
                raise bad_request("couldn't get version/kind; json parse error: %s" % e)
            if not isinstance(d, dict):
                raise bad_request('DeleteOptions must be an object')
        p = ctx.params
        if 'propagationPolicy' in p:
            d['propagationPolicy'] = p['propagationPolicy']
        if 'orphanDependents' in p:
            d['orphanDependents'] = p['orphanDependents'] in ('true', '1')
        if 'gracePeriodSeconds' in p:
            d['gracePeriodSeconds'] = p['gracePeriodSeconds']
        pol = d.get('propagationPolicy')
        if pol is not None and pol not in ('Background', 'Foreground', 'Orphan'):
            raise invalid('DeleteOptions.meta.k8s.io', '', [FE('NotSupported', 'propagationPolicy', pol,
                          'supported values: "Foreground", "Background", "Orphan", "nil"')], 'meta.k8s.io',
                          'DeleteOptions')
        if pol is not None and d.get('orphanDependents') is not None:
            raise invalid('DeleteOptions.meta.k8s.io', '', [FE('Invalid', 'propagationPolicy', pol,
                          'orphanDependents and deletionPropagation cannot be both set')], 'meta.k8s.io',
                          'DeleteOptions')
        return d

    def _http_delete(self, ctx, rt, ns, name):
        opts = self._opts(ctx)
        d = self._delete_options(ctx)
        if d.get('dryRun') == ['All']:
            opts.dry_run = True
        code, out = self._delete(rt, ns, name, d, opts)
        self._send_object(ctx, rt, code, out)

    def _delete(self, rt, ns, name, d, opts):
        st = self.store
        with st.lock:
            old = st.get(rt.storage, ns, name)
            if old is None:
                raise self._not_found(rt, name)
            om = old['metadata']
            pre = d.get('preconditions') or {}
            if pre.get('uid') and pre['uid'] != om.get('uid'):
                raise self._conflict(rt, name, 'Precondition failed: UID in precondition: %s, UID in object meta: %s'
                                     % (pre['uid'], om.get('uid')))
            if pre.get('resourceVersion') and pre['resourceVersion'] != om.get('resourceVersion'):
                raise self._conflict(rt, name, 'Precondition failed: ResourceVersion in precondition: %s, '
                                     'ResourceVersion in object meta: %s' % (pre['resourceVersion'],
                                                                             om.get('resourceVersion')))
            if rt.storage == NS_STORAGE and name in PROTECTED_NAMESPACES:
                raise ApiError(403, 'Forbidden', 'namespaces "%s" is forbidden: this namespace may not be deleted'
                               % name, {'name': name, 'kind': 'namespaces'})
            if om.get('deletionTimestamp'):
                return 200, old
            pol = d.get('propagationPolicy')
            if pol is None and d.get('orphanDependents') is not None:
                pol = 'Orphan' if d['orphanDependents'] else 'Background'
            fins = list(om.get('finalizers') or [])
            if pol == 'Foreground' and 'foregroundDeletion' not in fins:
                fins.append('foregroundDeletion')
            if pol == 'Orphan' and 'orphan' not in fins:
                fins.append('orphan')
            if rt.storage == CRD_STORAGE and CRD_CLEANUP_FINALIZER not in fins:
                fins.append(CRD_CLEANUP_FINALIZER)
            if fins or rt.storage == NS_STORAGE:
                new = dict(old)
                nm = new['metadata'] = dict(om, deletionTimestamp=fmt_time(self.now()), deletionGracePeriodSeconds=0)
                if fins:
                    nm['finalizers'] = fins
                if rt.has_generation:
                    nm['generation'] = om.get('generation', 1) + 1
                if rt.storage == NS_STORAGE:
                    new['status'] = dict(old.get('status') or {}, phase='Terminating')
                if rt.storage == CRD_STORAGE:
                    stt = dict(old.get('status') or {})
                    stt['conditions'] = [c for c in stt.get('conditions') or [] if c.get('type') != 'Terminating'] + [{
                        'type': 'Terminating', 'status': 'True', 'lastTransitionTime': fmt_time(self.now()),
                        'reason': 'InstanceDeletionPending',
                        'message': 'CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon'}]
                    new['status'] = stt
                if opts.dry_run:
                    return 200, new
                out = self._commit(rt.storage, 'MODIFIED', ns, name, new, old)
                return (202 if d.get('orphanDependents') is False else 200), out
            status = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Success',
                      'details': rt.details(name, uid=om.get('uid'))}
            if not opts.dry_run:
                self._commit(rt.storage, 'DELETED', ns, name, old, old)
            return 200, status

    def _http_deletecollection(self, ctx, rt, ns):
        lsel, fsel = self._selectors(ctx, rt)
        opts = self._opts(ctx)
        d = self._delete_options(ctx)
        out = []
        with self.store.lock:
            objs = self.store.objects.get(rt.storage, {})
            for k in sorted(objs, key=lambda k: obj_key(*k)):
                o = objs.get(k)
                if o is None or (ns and k[0] != ns) or not rt.match(o, lsel, fsel):
                    continue
                code, res = self._delete(rt, k[0], k[1], d, opts)
                out.append(o if res.get('kind') == 'Status' else res)
            rv = self.store.rv
        items = [rt.out(o) if rt.custom else {k: v for k, v in rt.out(o).items() if k not in ('kind', 'apiVersion')}
                 for o in out]
        self._send(ctx, 200, {'kind': rt.list_kind, 'apiVersion': rt.api_version,
                              'metadata': {'resourceVersion': str(rv)}, 'items': items})

    # ------------------------------------------------------------------ CustomResourceDefinitions

    def _crd_fixups(self, crd, old=None):
        spec = crd.setdefault('spec', {})
        names = spec.setdefault('names', {})
        if names.get('kind'):
            names.setdefault('singular', names['kind'].lower())
            names.setdefault('listKind', names['kind'] + 'List')
        spec.setdefault('conversion', {'strategy': 'None'})
        for v in spec.get('versions') or []:
            if isinstance(v, dict):
                v.setdefault('served', True)
        storage = next((v.get('name') for v in spec.get('versions') or [] if isinstance(v, dict) and v.get('storage')),
                       None)
        ost = (old or {}).get('status') or {}
        stored = list(ost.get('storedVersions') or [])
        if storage and storage not in stored:
            stored.append(storage)
        now = fmt_time(self.now())
        conds = ost.get('conditions') or [
            {'type': 'NamesAccepted', 'status': 'True', 'lastTransitionTime': now, 'reason': 'NoConflicts',
             'message': 'no conflicts found'},
            {'type': 'Established', 'status': 'True', 'lastTransitionTime': now, 'reason': 'InitialNamesAccepted',
             'message': 'the initial names have been accepted'}]
        crd['status'] = {'conditions': conds,
                         'acceptedNames': {k: names[k] for k in ('plural', 'singular', 'shortNames', 'kind',
                                                                 'listKind', 'categories') if k in names},
                         'storedVersions': stored}

    def _validate_crd(self, crd, old):
        errs = []
        spec = crd.get('spec') or {}
        group = spec.get('group') or ''
        names = spec.get('names') or {}
        plural, kind = names.get('plural') or '', names.get('kind') or ''
        if not group:
            errs.append(FE('Required', 'spec.group'))
        elif '.' not in group or not is_subdomain(group):
            errs.append(FE('Invalid', 'spec.group', group, 'should be a domain with at least one dot'))
        if not plural:
            errs.append(FE('Required', 'spec.names.plural'))
        elif not is_dns_label(plural):
            errs.append(FE('Invalid', 'spec.names.plural', plural, MSG_LABEL))
        if not kind:
            errs.append(FE('Required', 'spec.names.kind'))
        name = crd['metadata'].get('name', '')
        if plural and group and name != plural + '.' + group:
            errs.append(FE('Invalid', 'metadata.name', name, 'must be spec.names.plural+"."+spec.group'))
        scope = spec.get('scope')
        if scope not in ('Namespaced', 'Cluster'):
            errs.append(FE('NotSupported', 'spec.scope', scope or '', 'supported values: "Cluster", "Namespaced"'))
        versions = [v for v in spec.get('versions') or [] if isinstance(v, dict)]
        if sum(1 for v in versions if v.get('storage')) != 1:
            errs.append(FE('Invalid', 'spec.versions', _Raw('[]apiextensions.CustomResourceDefinitionVersion{...}'),
                           'must have exactly one version marked as storage version'))
        for i, v in enumerate(versions):
            if not v.get('name'):
                errs.append(FE('Required', 'spec.versions[%d].name' % i))
            sch = (v.get('schema') or {}).get('openAPIV3Schema')
            if not isinstance(sch, dict):
                errs.append(FE('Required', 'spec.versions[%d].schema.openAPIV3Schema' % i, detail='schemas are required'))
            elif sch.get('type') != 'object':
                errs.append(FE('Invalid', 'spec.versions[%d].schema.openAPIV3Schema.type' % i, sch.get('type', ''),
                               'must be object at the root'))
        if old is not None:
            os_ = old.get('spec') or {}
            if os_.get('scope') != scope:
                errs.append(FE('Invalid', 'spec.scope', scope, 'field is immutable'))
            if os_.get('group') != group:
                errs.append(FE('Invalid', 'spec.group', group, 'field is immutable'))
        return errs

    # ------------------------------------------------------------------ background controllers

    def _controller_loop(self):
        stop = self._ctl_stop
        last_ttl = time.monotonic()
        while not stop.wait(self.gc_interval):
            try:
                if self._gc_dirty:
                    self._gc_dirty = False
                    self.run_controllers()
                if time.monotonic() - last_ttl >= 1.0:
                    last_ttl = time.monotonic()
                    self._expire_events()
            except Exception:
                traceback.print_exc()

    def _gc_delete(self, storage, ns, name):
        """Background deletion by a controller (finalizers are honoured)."""
        st = self.store
        o = st.get(storage, ns, name)
        if o is None or o['metadata'].get('deletionTimestamp'):
            return
        rts = st.types_for(storage)
        if o['metadata'].get('finalizers') or storage in (NS_STORAGE, CRD_STORAGE):
            rt = rts[0] if rts else ResourceType('', 'v1', storage, 'Object', storage=storage)
            self._delete(rt, ns, name, {}, _Opts('generic-garbage-collector'))
        else:
            self._commit(storage, 'DELETED', ns, name, o, o)

    def _gc_update(self, storage, ns, name, fn):
        st = self.store
        o = st.get(storage, ns, name)
        if o is None:
            return
        new = clone(o)
        fn(new)
        if jeq(new, o):
            return
        m = new['metadata']
        fins = list(m.get('finalizers') or [])
        if storage == NS_STORAGE:
            fins += (new.get('spec') or {}).get('finalizers') or []
        if m.get('deletionTimestamp') and not fins:
            self._commit(storage, 'DELETED', ns, name, new, o)
        else:
            self._commit(storage, 'MODIFIED', ns, name, new, o)

    def _owner(self, ref, dep_storage, dep_ns):
        st = self.store
        loc = st.uids.get(ref.get('uid'))
        if not loc:
            return None
        ostorage, ons, oname = loc
        if st.scope(ostorage) and (not st.scope(dep_storage) or ons != dep_ns):
            return None  # a namespaced owner must live in the dependent's namespace
        return st.get(ostorage, ons, oname)

    def run_controllers(self):
        """One pass of the namespace, CRD-cleanup and garbage-collector controllers."""
        st = self.store
        with st.lock:
            for (_, nsname), nso in list(st.objects.get(NS_STORAGE, {}).items()):
                if not nso['metadata'].get('deletionTimestamp'):
                    continue
                for storage, objs in list(st.objects.items()):
                    if st.scope(storage):
                        for (ons, oname) in [k for k in objs if k[0] == nsname]:
                            self._gc_delete(storage, ons, oname)
                if not any(k[0] == nsname for storage, objs in st.objects.items() if st.scope(storage) for k in objs):
                    def fin(o):
                        o['spec'] = dict(o.get('spec') or {}, finalizers=[])
                    self._gc_update(NS_STORAGE, '', nsname, fin)
            for (_, cname), crd in list(st.objects.get(CRD_STORAGE, {}).items()):
                if not crd['metadata'].get('deletionTimestamp') or \
                        CRD_CLEANUP_FINALIZER not in (crd['metadata'].get('finalizers') or []):
                    continue
                spec = crd.get('spec') or {}
                storage = '%s/%s' % (spec.get('group'), (spec.get('names') or {}).get('plural'))
                for (ons, oname) in list(st.objects.get(storage, {})):
                    self._gc_delete(storage, ons, oname)
                if not st.objects.get(storage):
                    def unfin(o):
                        o['metadata']['finalizers'] = [f for f in o['metadata'].get('finalizers') or []
                                                       if f != CRD_CLEANUP_FINALIZER]
                    self._gc_update(CRD_STORAGE, '', cname, unfin)
            for key in list(st.owned):
                storage, ns, name = key
                o = st.get(storage, ns, name)
                if o is None:
                    st.owned.discard(key)
                    continue
                refs = o['metadata'].get('ownerReferences') or []
                alive, dangling, orphaned = [], [], []
                for r in refs:
                    owner = self._owner(r, storage, ns)
                    if owner is None:
                        dangling.append(r)
                        continue
                    ofins = owner['metadata'].get('finalizers') or []
                    if owner['metadata'].get('deletionTimestamp') and 'orphan' in ofins:
                        orphaned.append(r)
                        continue
                    alive.append((r, owner))
                if refs and not alive and not orphaned:
                    self._gc_delete(storage, ns, name)
                    continue
                if any(ow['metadata'].get('deletionTimestamp') and 'foregroundDeletion' in
                       (ow['metadata'].get('finalizers') or []) for _, ow in alive):
                    self._gc_delete(storage, ns, name)
                if dangling or orphaned:
                    drop = {r.get('uid') for r in dangling + orphaned}

                    def strip(x):
                        x['metadata']['ownerReferences'] = [r for r in x['metadata'].get('ownerReferences') or []
                                                            if r.get('uid') not in drop]
                        if not x['metadata']['ownerReferences']:
                            del x['metadata']['ownerReferences']
                    self._gc_update(storage, ns, name, strip)
            deps = {}
            for key in st.owned:
                o = st.get(*key)
                for r in (o['metadata'].get('ownerReferences') or []) if o else []:
                    deps.setdefault(r.get('uid'), []).append(key)
            for storage, objs in list(st.objects.items()):
                for (ns, name), o in list(objs.items()):
                    m = o['metadata']
                    fins = m.get('finalizers') or []
                    if not m.get('deletionTimestamp') or not ('foregroundDeletion' in fins or 'orphan' in fins):
                        continue
                    if deps.get(m.get('uid')):
                        continue

                    def done(x):
                        x['metadata']['finalizers'] = [f for f in x['metadata'].get('finalizers') or []
                                                       if f not in ('foregroundDeletion', 'orphan')]
                    self._gc_update(storage, ns, name, done)

    def _expire_events(self):
        st = self.store
        now = time.time()
        with st.lock:
            for (ns, name) in list(st.objects.get('core/events', {})):
                t = st.written.get(('core/events', ns, name))
                if t is not None and now - t > self.event_ttl:
                    o = st.get('core/events', ns, name)
                    self._commit('core/events', 'DELETED', ns, name, o, o)

    # ------------------------------------------------------------------ HTTP control endpoint (/_fake/)

    def _control(self, ctx):
        try:
            ctx.body = self._read_body(ctx)
            args = loads(ctx.body) if ctx.body.strip() else {}
            if not isinstance(args, dict):
                raise ValueError('body must be a JSON object')
            args.update({k: v for k, v in ctx.params.items()})
            res = self._control_op(ctx.method, ctx.path[len('/_fake'):].strip('/').replace('_', '-'), args)
        except KeyError as e:
            return self._send(ctx, 404, {'error': 'unknown control endpoint %s' % e})
        except (ValueError, TypeError) as e:
            return self._send(ctx, 400, {'error': str(e)})
        self._send(ctx, 200, res)

    def _control_op(self, method, op, a):
        def num(k, d=None, f=float):
            v = a.get(k, d)
            return None if v is None else f(v)

        def boolean(k, d=None):
            v = a.get(k, d)
            return v if v is None or isinstance(v, bool) else str(v).lower() in ('1', 'true', 'yes')
        if method == 'GET' and op in ('', 'state'):
            st = self.store
            return {'url': self.url, 'rv': st.rv, 'floor': st.floor, 'compacted': st.compacted,
                    'history': st.history_size, 'watches': len(self._watchers), 'token': self.token,
                    'caFile': self.ca_file, 'latency': self.latency, 'chunking': self.chunking,
                    'bookmarkInterval': self.bookmark_interval, 'faults': len(self._faults)}
        if op == 'requests':
            if method == 'DELETE':
                self.clear_requests()
                return {'ok': True}
            return {'items': self.requests(int(a.get('since', 0)))}
        if method != 'POST':
            raise KeyError(op)
        if op == 'fail':
            self.fail(num('code', 500, int), a.get('count', 1), a.get('method'), a.get('path'), boolean('watch'),
                      num('retry_after', None, int), a.get('message'), a.get('reason'))
        elif op == 'reset':
            self.reset_next(a.get('count', 1), a.get('method'), a.get('path'), boolean('watch'),
                            boolean('execute', True))
        elif op == 'stall':
            self.stall(a.get('count', 1), a.get('method'), a.get('path'), boolean('watch'))
        elif op == 'stall-watches':
            self.stall_watches(boolean('existing', True), a.get('count'), a.get('path'))
        elif op == 'clear-faults':
            self.clear_faults()
        elif op == 'latency':
            self.set_latency(num('seconds', 0.0))
        elif op == 'drop-watches':
            return {'ok': True, 'dropped': self.drop_watches(a.get('path'))}
        elif op == 'compact':
            self.compact()
            return {'ok': True, 'rv': self.store.rv}
        elif op == 'restart':
            threading.Timer(0.05, self.restart, kwargs={'downtime': num('downtime', 0.0)}).start()
        elif op == 'rotate-token':
            return {'ok': True, 'token': self.rotate_token(a.get('token'), num('grace', 0.0))}
        elif op == 'chunking':
            if a.get('mode') not in (None, 'random', 'event', 'split', 'bytes'):
                raise ValueError('mode must be random, event, split or bytes')
            self.chunking = a.get('mode') or self.chunking
            if 'split_delay' in a:
                self.split_delay = num('split_delay')
        elif op == 'config':
            for k in ('bookmark_interval', 'bookmark_lead', 'too_large_wait', 'gc_interval', 'event_ttl',
                      'default_watch_timeout'):
                if k in a:
                    setattr(self, k, num(k))
            if 'history' in a:
                self.set_history(num('history', f=int))
            if 'short_pages' in a:
                self.short_pages = boolean('short_pages')
        elif op == 'clock':
            self.clock_offset = num('offset', self.clock_offset) + num('advance', 0.0)
        elif op == 'gc':
            self.run_controllers()
            self._expire_events()
        else:
            raise KeyError(op)
        return {'ok': True}


# --------------------------------------------------------------------------- command line

def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description='Fake Kubernetes API server for tests (doc/fakekube.md).')
    ap.add_argument('--listen', default='127.0.0.1:0', help='HOST:PORT (port 0 picks a free port)')
    ap.add_argument('--tls', action='store_true', help='serve HTTPS with a generated CA')
    ap.add_argument('--cert-dir', help='directory for ca.crt/server.crt/server.key (reused if present)')
    g = ap.add_mutually_exclusive_group()
    g.add_argument('--token', help='required bearer token')
    g.add_argument('--token-file', help='file holding the required token (created if missing; re-read on change)')
    ap.add_argument('--token-grace', type=float, default=0.0, help='seconds an old token works after rotation')
    ap.add_argument('--crd-dir', action='append', default=[], help='load CRDs from this directory (repeatable)')
    ap.add_argument('--kubeconfig-out', help='write a kubeconfig for this server here')
    ap.add_argument('--namespace', default=None, help='namespace of the kubeconfig context')
    ap.add_argument('--bookmark-interval', type=float, default=60.0)
    ap.add_argument('--history', type=int, default=1000, help='watch history size (events)')
    ap.add_argument('--chunking', default='random', choices=['random', 'event', 'split', 'bytes'])
    ap.add_argument('--seed', type=int, default=None)
    ap.add_argument('--verbose', action='store_true')
    args = ap.parse_args(argv)
    host, _, port = args.listen.rpartition(':')
    host = host.strip('[]') or '127.0.0.1'
    if args.token_file and not os.path.exists(args.token_file):
        with open(args.token_file, 'w') as f:
            f.write('fk-%s\n' % uuid.uuid4().hex)
    fk = FakeKube(host, int(port or 0), tls=args.tls, cert_dir=args.cert_dir, token=args.token,
                  token_file=args.token_file, token_grace=args.token_grace, crd_dir=args.crd_dir,
                  bookmark_interval=args.bookmark_interval, history=args.history, chunking=args.chunking,
                  seed=args.seed, verbose=args.verbose)
    try:
        fk.start()
    except (OSError, ValueError, RuntimeError) as e:
        sys.stderr.write('fakekube: %s\n' % e)
        return 1
    if args.kubeconfig_out:
        fk.write_kubeconfig(args.kubeconfig_out, namespace=args.namespace, token_file=bool(args.token_file))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    print('READY %s' % fk.url, flush=True)
    while not done.wait(1.0):
        pass
    fk.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
