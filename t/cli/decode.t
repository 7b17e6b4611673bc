#!/usr/bin/python3
# dbprovctl decode: opens artefacts by itself. Compressed with the stock
# gzip, lz4 and zstd tools, sealed in dbprovd's format (GCM and CBC+HMAC,
# each codec), or in the original operator's layouts (CBC made by
# `openssl enc`, GCM by a test writer): the plain dump comes out byte for
# byte. A wrong key, a truncated or a tampered artefact exit 1 with a
# message, and the errors never show the key.
import hashlib
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402

CTL = dbptest.build_path('src/dbprovctl')
ART = dbptest.build_path('t/drv/artefact')
if not os.path.exists(CTL) or not os.path.exists(ART):
    skip_all('dbprovctl is not built')

tmp = dbptest.TempDir()
dump = b''.join(b"INSERT INTO t VALUES (%d, 'row %d \xc3\xa9');\n" % (i, i) for i in range(60000))
dump += os.urandom(300000)
src = tmp.join('dump.sql')
with open(src, 'wb') as f:
    f.write(dump)
key = tmp.join('key')
with open(key, 'wb') as f:
    f.write(b'K' * 16 + os.urandom(16))
os.chmod(key, 0o600)
other = tmp.join('other')
with open(other, 'wb') as f:
    f.write(os.urandom(32))
os.chmod(other, 0o600)


def run(args, data=None):
    p = subprocess.run([CTL] + args, input=data, capture_output=True)
    return p.returncode, p.stdout, p.stderr.decode(errors='replace')


def sha(b):
    return hashlib.sha256(b).hexdigest()


# --- the stock tools' output --------------------------------------------------------
for tool, args in (('gzip', ['gzip', '-c']), ('lz4', ['lz4', '-c', '-q']), ('zstd', ['zstd', '-c', '-q'])):
    art = subprocess.run(args, input=dump, capture_output=True, check=True).stdout
    rc, out, err = run(['decode'], art)
    ok(rc == 0 and sha(out) == sha(dump), '%s -c output decodes from stdin' % tool)
rc, out, err = run(['decode', src])
ok(rc == 0 and out == dump, 'a plain dump (a file) passes through')
rc, out, err = run(['decode'], b'')
ok(rc == 0 and out == b'', 'an empty input is an empty dump')

# --- dbprovd's format ----------------------------------------------------------------
arts = {}
for algo in ('gzip', 'lz4', 'zstd', 'none'):
    for mode in ('gcm', 'cbc'):
        p = subprocess.run([ART, 'seal', key, algo, mode], input=dump, capture_output=True)
        arts[(algo, mode)] = p.stdout
        rc, out, err = run(['decode', '--key-file', key], p.stdout)
        if not ok(p.returncode == 0 and rc == 0 and sha(out) == sha(dump),
                  'sealed (%s, %s): decodes byte for byte' % (algo, mode)):
            diag(err)
a = arts[('zstd', 'gcm')]
path = tmp.join('a.sql.zst.enc')
with open(path, 'wb') as f:
    f.write(a)
rc, out, err = run(['decode', '-k', key, path])
ok(rc == 0 and out == dump, 'from a file, with -k')
rc, out, err = run(['decode'], a)
ok(rc == 1 and '--key-file' in err and out == b'', 'encrypted without a key: refused, says how: ' + err.strip().splitlines()[-1])
rc, out, err = run(['decode', '--key-file', other], a)
ok(rc == 1 and 'wrong key' in err and out == b'', 'a wrong key: exit 1, nothing written: ' + err.strip().splitlines()[-1])
rc, out, err = run(['decode', '--key-file', key], a[:len(a) // 2])
ok(rc == 1 and 'truncated' in err, 'cut in half: truncated: ' + err.strip().splitlines()[-1])
rc, out, err = run(['decode', '--key-file', key], a[:-1])
ok(rc == 1 and 'truncated' in err, 'one byte short: truncated')
bad = bytearray(a)
bad[len(bad) // 2] ^= 0x01
rc, out, err = run(['decode', '--key-file', key], bytes(bad))
ok(rc == 1 and 'authentication failed' in err, 'one bit flipped: authentication failed: ' + err.strip().splitlines()[-1])
ok(len(out) < len(dump), '  and the output stops before the damaged chunk')
rc, out, err = run(['decode', '--key-file', key], a + b'x')
ok(rc == 1, 'trailing bytes: refused')
short = tmp.join('short')
with open(short, 'wb') as f:
    f.write(b'c2VjcmV0LWtleQ==\n')
os.chmod(short, 0o600)
rc, out, err = run(['decode', '--key-file', short], a)
ok(rc == 1 and 'exactly 32 bytes' in err, 'a base64 key file is explained: ' + err.strip().splitlines()[-1])

# --- the original operator's layouts ----------------------------------------------------
with open(key, 'rb') as f:
    kb = f.read()
iv = os.urandom(16)
enc = subprocess.run(['openssl', 'enc', '-aes-256-cbc', '-K', kb.hex(), '-iv', iv.hex()],
                     input=subprocess.run(['gzip', '-c'], input=dump, capture_output=True).stdout,
                     capture_output=True, check=True).stdout
rc, out, err = run(['decode', '--key-file', key, '--legacy', 'cbc'], iv + enc)
ok(rc == 0 and out == dump, 'the original CBC layout (openssl enc, gzip inside) with --legacy cbc')
rc, out, err = run(['decode', '--key-file', key], iv + enc)
ok(rc == 1 and '--legacy' in err, 'without --legacy: says which flag to give')
g = subprocess.run([ART, 'legacy-gcm', key], input=dump, capture_output=True).stdout
rc, out, err = run(['decode', '--key-file', key, '--legacy', 'gcm'], g)
ok(rc == 0 and out == dump, 'the original GCM layout with --legacy gcm')
bad = bytearray(g)
bad[100] ^= 0x80
rc, out, err = run(['decode', '--key-file', key, '--legacy', 'gcm'], bytes(bad))
ok(rc == 1 and 'not authenticated' in err, 'a tampered legacy GCM artefact: exit 1, the output disowned')

# --- usage and secrets ------------------------------------------------------------------
rc, out, err = run(['decode', '--legacy', 'gcm'], b'')
is_(rc, 2, '--legacy without a key: usage error')
rc, out, err = run(['bogus'])
is_(rc, 2, 'an unknown command: usage error')
rc, out, err = run(['--help'])
ok(rc == 0 and 'decode' in out.decode(), '--help')
alltext = ''
for a2 in list(arts.values())[:2]:
    alltext += run(['decode', '--key-file', other], a2)[2]
ok(kb.hex() not in alltext and 'KKKKKKKK' not in alltext, 'no error shows the key')
tmp.cleanup()
done_testing()
