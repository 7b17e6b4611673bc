# dbprovd under valgrind's memcheck, for t/valgrind/*.t: the preconditions
# (skip without valgrind or with a sanitizer build), the command line, and
# the verdict at the end (exit 0, no errors, nothing definitely lost).
import os
import re
import shutil

import dbptest
from tap import ok, is_, diag, skip_all

DBPROVD = dbptest.build_path('src/dbprovd')
VALGRIND = shutil.which('valgrind')


def require():
    """Skips the test unless valgrind and a dbprovd without sanitizers are there."""
    if not VALGRIND:
        skip_all('valgrind is not installed (tools/install-deps installs it)')
    if not os.path.exists(DBPROVD):
        skip_all('no dbprovd in %s' % dbptest.BUILDDIR)
    with open(DBPROVD, 'rb') as f:
        if b'__asan_init' in f.read():
            skip_all('%s is built with sanitizers; valgrind needs a plain build' % DBPROVD)


def start(vglog, args, stderr_path):
    """dbprovd ARGS under memcheck, its report in vglog."""
    # GNUTLS_NO_IMPLICIT_INIT set: dbprovd must not re-execute itself, or
    # the new image would run outside valgrind.
    return dbptest.Proc([VALGRIND, '--leak-check=full', '--errors-for-leak-kinds=definite',
                         '--error-exitcode=9', '--log-file=' + vglog, DBPROVD] + args,
                        env={'GNUTLS_NO_IMPLICIT_INIT': '1'}, stderr_path=stderr_path)


def finish(p, vglog, timeout, tail=4000):
    """SIGTERM, then the verdict: exit 0 (valgrind exits 9 on errors), no
    errors, nothing definitely lost; the report's end when it fails."""
    rc = p.stop(timeout)
    is_(rc, 0, 'SIGTERM: exit 0 (valgrind exits 9 on errors)')
    log = open(vglog).read()
    m = re.search(r'ERROR SUMMARY: (\d+) errors', log)
    is_(m and int(m.group(1)), 0, 'valgrind: no errors')
    m = re.search(r'definitely lost: ([\d,]+) bytes', log)
    ok(m is None or m.group(1) == '0', 'valgrind: nothing definitely lost')
    if rc != 0 or (m and m.group(1) != '0'):
        diag(log[-tail:])
