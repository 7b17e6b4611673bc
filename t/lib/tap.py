# t/lib/tap.py: a tiny TAP producer for the Python tests.
#   from tap import ok, is_, like, diag, skip_all, plan, done_testing
# Exit status (done_testing): 0 when every test passed and the plan held, else the
# number of failures (capped at 254) or 255 for a plan mismatch.
import inspect
import os
import re
import sys

_n = 0
_failed = 0
_planned = None


def plan(n):
    global _planned
    _planned = n
    print('1..%d' % n, flush=True)


def diag(msg):
    for line in str(msg).splitlines() or ['']:
        sys.stderr.write('# %s\n' % line)
    sys.stderr.flush()


def ok(cond, name=''):
    global _n, _failed
    _n += 1
    print('%s %d%s' % ('ok' if cond else 'not ok', _n, ' - ' + name if name else ''), flush=True)
    if not cond:
        _failed += 1
        fr = inspect.stack()[1]
        if fr.function in ('is_', 'like'):
            fr = inspect.stack()[2]
        diag("  Failed test '%s'\n  at %s line %d." % (name, fr.filename, fr.lineno))
    return bool(cond)


def is_(got, want, name=''):
    res = ok(got == want, name)
    if not res:
        diag('         got: %r\n    expected: %r' % (got, want))
    return res


def like(text, regex, name=''):
    res = ok(text is not None and re.search(regex, str(text)) is not None, name)
    if not res:
        diag('                  %r\n    doesn\'t match %r' % (text, regex))
    return res


def skip(reason, count=1):
    global _n
    for _ in range(count):
        _n += 1
        print('ok %d # skip %s' % (_n, reason), flush=True)


def skip_all(reason):
    # CI sets DBPROVD_NO_SKIP: there a missing prerequisite is a failure.
    if os.environ.get('DBPROVD_NO_SKIP'):
        print('1..1\nnot ok 1 - would skip, but this run allows no skip: %s' % reason, flush=True)
        sys.exit(1)
    print('1..0 # SKIP %s' % reason, flush=True)
    sys.exit(0)


def done_testing():
    if _planned is None:
        print('1..%d' % _n, flush=True)
    elif _planned != _n:
        diag('Looks like you planned %d tests but ran %d.' % (_planned, _n))
        sys.exit(255)
    if _failed:
        diag('Looks like you failed %d test%s of %d.' % (_failed, '' if _failed == 1 else 's', _n))
    sys.exit(min(_failed, 254))
