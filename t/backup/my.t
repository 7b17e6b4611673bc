#!/usr/bin/python3
# Backups and restores of a real MariaDB through the backup runner, as the
# controllers run them: mariadb-dump with the schema's defaults (extended
# inserts, routines, triggers, events) through each codec, with and
# without encryption, restored by the runner (which really loads the
# dump, foreign-key checks off) and by `dbprovctl decode | mariadb`,
# compared row by row (utf8mb4, blobs, a 64-character identifier, a
# trigger and a procedure). A dump of a missing database fails with the
# tool's own words and leaves no artefact.
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from myserver import MyServer, require_mariadb, CLIENT  # noqa: E402

JOB = dbptest.build_path('t/drv/dumpjob')
CTL = dbptest.build_path('src/dbprovctl')
if not os.path.exists(JOB) or not os.path.exists(CTL):
    skip_all('t/drv/dumpjob or dbprovctl is not built')
require_mariadb()

LONG = 'm' * 64
my = MyServer(tls=False).start()
tmp = dbptest.TempDir()
root = tmp.join('volumes')
os.makedirs(os.path.join(root, 'backups'))
key = tmp.join('key')
with open(key, 'wb') as f:
    f.write(os.urandom(32))
os.chmod(key, 0o600)
env = dict(os.environ, DBP_PASSWORD=my.password)


def job(*args):
    p = subprocess.run([JOB] + list(args), capture_output=True, env=env, timeout=300)
    return p.returncode, p.stdout.decode() + p.stderr.decode()


def conn(db):
    return ['--host', '127.0.0.1', '--port', str(my.port), '--user', my.user, '--db', db]


def fingerprint(db):
    return (my.value("SELECT MD5(GROUP_CONCAT(id, ':', name, ':', HEX(data) ORDER BY id SEPARATOR ',')) "
                     "FROM items", db),
            my.value('SELECT COUNT(*) FROM items', db),
            my.value('SELECT COUNT(*) FROM `%s`' % LONG, db),
            my.value("SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = '%s'" % db),
            my.value("SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = '%s'" % db))


my.sql('CREATE DATABASE shop CHARACTER SET utf8mb4')
my.sql("""CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(200), data BLOB) CHARACTER SET utf8mb4;
CREATE TABLE `%s` (v INT);
INSERT INTO `%s` VALUES (1), (2), (3);
CREATE TABLE audit (n INT);
CREATE TRIGGER items_ai AFTER INSERT ON items FOR EACH ROW INSERT INTO audit VALUES (NEW.id);
CREATE PROCEDURE hello() SELECT 'hello';""" % (LONG, LONG), 'shop')
my.sql("""SET NAMES utf8mb4; INSERT INTO items
  SELECT seq, CONCAT('item ', seq, ' ünïcødé ✓ 😀'), UNHEX(CONCAT(MD5(seq), '00FF00'))
  FROM seq_1_to_20000""", 'shop')
want = fingerprint('shop')
is_(want[1], '20000', 'the source database has its rows')

n = 0
for codec, enc in (('zstd', True), ('gzip', False), ('lz4', True)):
    n += 1
    path = 'shop-b%d-20261206-020000.sql' % n
    args = conn('shop') + ['--root', root, '--claim', 'backups', '--path', path, '--codec', codec]
    if enc:
        args += ['--key', key]
    rc, out = job('backup', 'my', *args)
    if not ok(rc == 0 and out.startswith('ok '), 'backup (%s, %s)' % (codec, 'encrypted' if enc else 'clear')):
        diag(out)
        continue
    f = os.path.join(root, 'backups', path)
    with open(f, 'rb') as fh:
        data = fh.read()
    fields = dict(x.split('=', 1) for x in out.split()[1:])
    ok(int(fields['stored']) == len(data) and fields['sha256'] == hashlib.sha256(data).hexdigest(),
       '  size and SHA-256 reported are those of the file')
    target = 'r%d' % n
    my.sql('CREATE DATABASE %s CHARACTER SET utf8mb4' % target)
    rargs = conn(target) + ['--root', root, '--claim', 'backups', '--path', path]
    if enc:
        rargs += ['--key', key]
    rc, out = job('restore', 'my', *rargs)
    if not ok(rc == 0, '  restored by the runner (the dump is really loaded)'):
        diag(out)
    is_(fingerprint(target), want[:3] + (fingerprint(target)[3], fingerprint(target)[4]),
        '  same rows, bytes and identifiers')
    t = fingerprint(target)
    ok(t[3] == '1' and t[4] == '1', '  with the trigger and the procedure')
    target = 'd%d' % n
    my.sql('CREATE DATABASE %s CHARACTER SET utf8mb4' % target)
    p1 = subprocess.Popen([CTL, 'decode', f] + (['--key-file', key] if enc else []), stdout=subprocess.PIPE)
    p2 = subprocess.run([CLIENT, '--no-defaults', '-h', '127.0.0.1', '-P', str(my.port), '-u', my.user, target],
                        stdin=p1.stdout, capture_output=True, env=dict(os.environ, MYSQL_PWD=my.password))
    p1.stdout.close()
    if not ok(p1.wait() == 0 and p2.returncode == 0, '  dbprovctl decode | mariadb'):
        diag(p2.stderr.decode()[-400:])
    is_(fingerprint(target)[:3], want[:3], '  same data')

rc, out = job('backup', 'my', *conn('nope') + ['--root', root, '--claim', 'backups', '--path', 'nope.sql'])
ok(rc == 1 and 'nope' in out, 'a dump of a missing database fails with the tool\'s words: ' + out.strip())
ok(not [x for x in os.listdir(os.path.join(root, 'backups')) if x.startswith('nope') or '.part-' in x],
   '  no artefact, no temporary file')
ok(my.password not in out, 'no password in any output')
tmp.cleanup()
done_testing()
