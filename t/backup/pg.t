#!/usr/bin/python3
# Backups and restores of a real PostgreSQL through the backup runner
# (the child, the pipeline, the codecs, the encryption, the volume), as
# the DatabaseBackup and DatabaseRestore controllers run them: every dump
# format with a codec and with and without encryption, restored both by
# the runner and by `dbprovctl decode | pg_restore`, compared row by row
# (unicode, bytea, a large object, a 63-byte identifier). Failures leave
# no artefact: a dump tool that fails, a deadline, and a tampered or
# wrongly keyed artefact are refused with their reason.
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from pgserver import PgServer, require_postgres  # noqa: E402

JOB = dbptest.build_path('t/drv/dumpjob')
CTL = dbptest.build_path('src/dbprovctl')
if not os.path.exists(JOB) or not os.path.exists(CTL):
    skip_all('t/drv/dumpjob or dbprovctl is not built')
require_postgres()

LONG = 'l' * 63
pg = PgServer().start()
tmp = dbptest.TempDir()
root = tmp.join('volumes')
os.makedirs(os.path.join(root, 'backups'))
key = tmp.join('key')
with open(key, 'wb') as f:
    f.write(os.urandom(32))
other = tmp.join('other')
with open(other, 'wb') as f:
    f.write(os.urandom(32))
for k in (key, other):
    os.chmod(k, 0o600)
env = dict(os.environ, DBP_PASSWORD=pg.password, PATH=pg.bindir + ':' + os.environ.get('PATH', ''))
tool_env = dict(env, PGPASSWORD=pg.password)


def job(*args):
    p = subprocess.run([JOB] + list(args), capture_output=True, env=env, timeout=300)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def conn(db):
    return ['--host', '127.0.0.1', '--port', str(pg.port), '--user', pg.superuser, '--db', db]


def fingerprint(db):
    q = [
        "SELECT md5(string_agg(id || ':' || name || ':' || encode(data, 'hex'), ',' ORDER BY id)) FROM items",
        'SELECT count(*) FROM items',
        'SELECT count(*) FROM "%s"' % LONG,
        "SELECT md5(lo_get(o)) FROM blobs",
    ]
    return tuple(pg.value(x, db) for x in q)


pg.sql('CREATE DATABASE shop')
pg.sql("""CREATE TABLE items (id int PRIMARY KEY, name text, data bytea);
INSERT INTO items SELECT i, 'item ' || i || ' ünïcødé ✓ ' || repeat('x', i % 50),
       decode(md5(i::text), 'hex') || '\\x00ff00'::bytea FROM generate_series(1, 20000) i;
CREATE TABLE "LONGNAME" (v int);
INSERT INTO "LONGNAME" SELECT generate_series(1, 10);
CREATE TABLE blobs (o oid);
INSERT INTO blobs VALUES (lo_from_bytea(0, decode(repeat('abcdef0123', 5000), 'hex')));""".replace('LONGNAME', LONG),
       'shop')
want = fingerprint('shop')
is_(want[1], '20000', 'the source database has its rows')

cases = [('custom', 'zstd', 'gcm'), ('plain', 'gzip', None), ('tar', 'lz4', 'cbc'), ('custom', 'none', None),
         ('plain', 'zstd', 'gcm')]
n = 0
for fmt, codec, aead in cases:
    n += 1
    path = 'team/shop-b%d-20261206-020000.%s' % (n, {'custom': 'dump', 'plain': 'sql', 'tar': 'tar'}[fmt])
    args = conn('shop') + ['--root', root, '--claim', 'backups', '--path', path, '--format', fmt,
                           '--codec', codec]
    if aead:
        args += ['--key', key, '--aead', aead]
    rc, out = job('backup', 'pg', *args)
    what = '%s, %s, %s' % (fmt, codec, aead or 'clear')
    if not ok(rc == 0 and out.startswith('ok '), 'backup (%s)' % what):
        diag(out)
        continue
    f = os.path.join(root, 'backups', path)
    with open(f, 'rb') as fh:
        data = fh.read()
    fields = dict(x.split('=', 1) for x in out.split()[1:])
    ok(int(fields['stored']) == len(data) and fields['sha256'] == hashlib.sha256(data).hexdigest(),
       '  size and SHA-256 reported are those of the file')
    ok(int(fields['dump']) > 0 and (codec == 'none' and not aead or int(fields['dump']) != len(data)),
       '  the dump size is counted before compression')
    # the runner restores it
    target = 'r%d' % n
    pg.sql('CREATE DATABASE %s' % target)
    rargs = conn(target) + ['--root', root, '--claim', 'backups', '--path', path, '--format', fmt]
    if aead:
        rargs += ['--key', key]
    rc, out = job('restore', 'pg', *rargs)
    if not ok(rc == 0, '  restored by the runner'):
        diag(out)
    is_(fingerprint(target), want, '  same rows, bytes, large object and identifiers')
    # dbprovctl decode | pg_restore or psql, with the operator gone
    target = 'd%d' % n
    pg.sql('CREATE DATABASE %s' % target)
    dec = [CTL, 'decode', f] + (['--key-file', key] if aead else [])
    tool = ([os.path.join(pg.bindir, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1'] if fmt == 'plain' else
            [os.path.join(pg.bindir, 'pg_restore'), '--no-owner', '--exit-on-error'])
    p1 = subprocess.Popen(dec, stdout=subprocess.PIPE)
    p2 = subprocess.run(tool + ['-h', '127.0.0.1', '-p', str(pg.port), '-U', pg.superuser, '-d', target],
                        stdin=p1.stdout, capture_output=True, env=tool_env)
    p1.stdout.close()
    if not ok(p1.wait() == 0 and p2.returncode == 0, '  dbprovctl decode | %s' % os.path.basename(tool[0])):
        diag(p2.stderr.decode()[-500:])
    is_(fingerprint(target), want, '  same data')

# --- failures leave nothing -------------------------------------------------------------
parts = lambda: [x for x in os.listdir(os.path.join(root, 'backups', 'team')) if '.part-' in x]  # noqa: E731
rc, out = job('backup', 'pg', *conn('nope') + ['--root', root, '--claim', 'backups', '--path', 'team/nope.dump'])
ok(rc == 1 and 'pg_dump' in out and 'nope' in out and 'does not exist' in out,
   'a dump of a missing database fails with pg_dump\'s own words: ' + out.strip())
ok(not os.path.exists(os.path.join(root, 'backups', 'team', 'nope.dump')) and not parts(),
   '  no artefact, no temporary file')
rc, out = job('backup', 'pg', *conn('shop') + ['--root', root, '--claim', 'backups', '--path', 'team/late.dump',
                                               '--deadline', '0.001'])
ok(rc == 1 and 'activeDeadlineSeconds' in out, 'a deadline stops the backup: ' + out.strip())
ok(not os.path.exists(os.path.join(root, 'backups', 'team', 'late.dump')) and not parts(),
   '  no artefact, no temporary file')
rc, out = job('backup', 'pg', *conn('shop') + ['--root', root, '--claim', 'missing-pvc', '--path', 'x.dump'])
ok(rc == 1 and 'missing-pvc is not mounted' in out, 'a claim that is not mounted is named')

enc = 'team/shop-b1-20261206-020000.dump'
bad = os.path.join(root, 'backups', 'team', 'tampered.dump')
with open(os.path.join(root, 'backups', enc), 'rb') as fh:
    data = bytearray(fh.read())
data[len(data) // 2] ^= 0x10
with open(bad, 'wb') as fh:
    fh.write(data)
pg.sql('CREATE DATABASE t_bad')
rc, out = job('restore', 'pg', *conn('t_bad') + ['--root', root, '--claim', 'backups', '--path', enc,
                                                 '--format', 'custom', '--key', other])
ok(rc == 1 and 'wrong key' in out, 'a wrong key is refused: ' + out.strip())
is_(pg.value("SELECT count(*) FROM pg_tables WHERE tablename = 'items'", 't_bad'), '0',
    '  before anything reached the target')
# Chunks before the damage are authentic and reach pg_restore; the
# controller restores into a database it drops again on failure.
pg.sql('CREATE DATABASE t_tamper')
rc, out = job('restore', 'pg', *conn('t_tamper') + ['--root', root, '--claim', 'backups', '--path',
                                                    'team/tampered.dump', '--format', 'custom', '--key', key])
ok(rc == 1 and 'authentication failed' in out, 'a tampered artefact fails the restore: ' + out.strip())
ok(pg.password not in out, 'no password in any output')

tmp.cleanup()
pg.cleanup()
done_testing()
