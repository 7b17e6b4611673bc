#!/usr/bin/python3
# Queries (src/pgconn.c) against a throwaway PostgreSQL 15: parameters
# carry hostile strings (quotes, semicolons, backslashes, unicode, "$1",
# NUL-free binary-ish text, 1 MiB) unchanged and are never executed; SQL
# NULL both ways; column names and command tags; server errors carry the
# SQLSTATE and keep the connection usable; multi-statement strings are
# refused by the protocol; PQescapeIdentifier/PQescapeLiteral through the
# live connection make hostile names safe; large results; the query
# timeout is reported, the connection is closed and not reused, and the
# server stops the orphaned statement; statement_timeout as a startup
# option.
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip, done_testing  # noqa: E402
import dbptest  # noqa: E402
from pgserver import PgServer, PgDrv, require_postgres  # noqa: E402

require_postgres()
pg = PgServer().start()
APP = 'dbprovd-query-test'
d = PgDrv(pg.drv_args(host='localhost', sslmode='verify-full', ca=pg.ca_file,
                      extra=['--appname', APP, '--check-interval-ms', '500']),
          password=pg.password)
ok(d.ready(), 'driver ready')
e = d.acquire('c')
ok(e and e.get('ev') == 'acquired', 'connected over TLS') or diag(e)
pid1 = e.get('pid')

hostile = [
    "'; DROP TABLE victim; --",
    "Robert'); DROP TABLE students;--",
    'back\\slash \\\\ \\n \\x00 \\\'',
    '"double" and \'single\' quotes',
    'semi;colon;;',
    '$1 $2 ? %s {{ .Password }}',
    'unicode: ü ß 日本語 🐘 \u202e rtl',
    '',
    ' leading and trailing ',
    'tab\tnewline\ncr\r',
    'E\'\\\\\' U&"\\0041"',
]
pg.sql('CREATE TABLE victim (x int)')
params = hostile + [None]
sql = 'SELECT ' + ', '.join('$%d::text AS p%d' % (i + 1, i + 1) for i in range(len(params)))
r = d.query('c', sql, params)
is_(r.get('ev'), 'result', 'query with %d hostile parameters' % len(params))
is_(r.get('rows'), [params], 'every value comes back unchanged (and NULL stays NULL)')
is_(r.get('cols'), ['p%d' % (i + 1) for i in range(len(params))], 'column names')
is_(r.get('tag'), 'SELECT 1', 'command tag')
is_(pg.value("SELECT count(*) FROM pg_class WHERE relname = 'victim'"), '1',
    'nothing was executed')

# Length in bytes as the server sees it: no re-encoding on the way.
r = d.query('c', 'SELECT octet_length($1), $1 = $2', [hostile[6], hostile[6]])
is_(r.get('rows'), [[str(len(hostile[6].encode('utf-8'))), 't']], 'UTF-8 bytes intact')

# A table with a hostile name, through PQescapeIdentifier; a hostile literal
# through PQescapeLiteral; and the same name as a parameter to look it up.
name = 'we"ird; DROP TABLE victim; -- ü'
d.send(op='escape', id='c', ident=name, literal="it's \\ fine")
esc = d.wait_ev('escaped', 'c')
ok(esc is not None, 'escaped')
is_(esc.get('ident') if esc else None, '"we""ird; DROP TABLE victim; -- ü"', 'identifier quoted')
like(esc.get('literal') if esc else '', r"^ E'it''s \\\\ fine'$", 'literal quoted (E form for backslashes)')
r = d.query('c', 'CREATE TABLE %s (v text)' % esc['ident'])
is_(r.get('tag'), 'CREATE TABLE', 'created with the escaped name')
r = d.query('c', 'INSERT INTO %s VALUES (%s)' % (esc['ident'], esc['literal'].strip()))
is_(r.get('tag'), 'INSERT 0 1', 'insert tag')
r = d.query('c', 'SELECT relname FROM pg_class WHERE relname = $1', [name])
is_(r.get('rows'), [[name]], 'the name is exactly the string')
r = d.query('c', 'SELECT v FROM %s' % esc['ident'])
is_(r.get('rows'), [["it's \\ fine"]], 'the literal is exactly the string')
is_(pg.value("SELECT count(*) FROM pg_class WHERE relname = 'victim'"), '1', 'victim still there')

# Errors.
r = d.query('c', 'SELECT 1/0')
is_(r.get('ev'), 'query_error', 'division by zero is an error')
is_(r.get('sqlstate'), '22012', 'SQLSTATE')
is_(r.get('code'), 'server', 'server error')
is_(r.get('msg'), 'division by zero', 'primary message')
is_(r.get('state'), 'READY', 'connection stays usable')
r = d.query('c', 'SELECT 1; SELECT 2')
is_(r.get('sqlstate'), '42601', 'two statements refused by the protocol')
r = d.query('c', 'SELECT $1::int', ['not a number'])
is_(r.get('sqlstate'), '22P02', 'bad parameter value: an error, not an injection')
r = d.query('c', 'SELECT 42 AS answer, NULL::text AS nothing')
is_(r.get('rows'), [['42', None]], 'still works after errors')
is_(r.get('cols'), ['answer', 'nothing'], 'column names')

# Big results and big parameters (PQflush returning 1 with a full socket).
r = d.query('c', 'SELECT g, repeat(\'x\', 100) FROM generate_series(1, 20000) g')
is_(len(r.get('rows', [])), 20000, '20000 rows')
is_(r.get('tag'), 'SELECT 20000', 'tag counts them')
big = ''.join(chr(0x41 + i % 26) for i in range(4 << 20))
r = d.query('c', 'SELECT octet_length($1), md5($1) = md5($2)', [big, big])
is_(r.get('rows'), [[str(len(big)), 't']], 'two 4 MiB parameters')
# Bigger than any loopback socket buffer: PQflush says 1 and the write
# watcher finishes the job (seen in the debug log).
d2 = PgDrv(pg.drv_args(sslmode='require', extra=['--log-level', 'debug']),
           password=pg.password)
d2.ready()
d2.acquire('c')
big = 'y' * (12 << 20)
r = d2.query('c', 'SELECT octet_length($1), octet_length($2)', [big, big])
is_(r.get('rows'), [[str(len(big))] * 2], 'two 12 MiB parameters over TLS')
d2.quit()
if 'pgconn output pending' in d2.stderr_text():
    ok(1, 'PQflush returned 1 and the write watcher finished the send')
else:
    skip('the socket took everything at once here')
d2.close()
del big

# Query timeout: reported, connection closed and not reused.
t0 = time.monotonic()
r = d.query('c', 'SELECT pg_sleep(30)', timeout=0.5)
el = time.monotonic() - t0
is_(r.get('code'), 'timeout', 'pg_sleep(30) with a 0.5 s timeout')
like(r.get('msg', ''), r'query timed out after 0\.5s; connection closed', 'message')
is_(r.get('state'), 'FAILED', 'connection failed')
ok(el < 3, 'reported on time (%.2fs)' % el)
r = d.query('c', 'SELECT 1')
is_(r.get('ev'), 'query_error', 'a timed-out connection takes no more queries')
is_(d.release('c').get('ev'), 'released', 'given back')
st = d.stats()
is_(st.get('closed_broken'), 1, 'the pool closed it instead of keeping it')
is_(st.get('conns'), 0, 'nothing left open')
e = d.acquire('c2')
ok(e and e.get('ev') == 'acquired', 'next acquire works')
ok(e and e.get('pid') != pid1, 'on a new server connection')
gone = dbptest.wait_until(lambda: pg.value('SELECT count(*) FROM pg_stat_activity '
                                           'WHERE pid = %d' % pid1) == '0', timeout=10)
ok(gone, 'the server ended the orphaned pg_sleep (client_connection_check_interval)')
r = d.query('c2', "SELECT current_setting('client_connection_check_interval')")
is_(r.get('rows'), [['500ms']], 'check interval set at session setup')
d.release('c2')
rc, bye = d.quit()
is_(rc, 0, 'driver exits cleanly')

# statement_timeout as a startup option (server-side bound).
d = PgDrv(pg.drv_args(sslmode='disable', extra=['--statement-timeout-ms', '300']),
          password=pg.password)
d.ready()
d.acquire('c')
r = d.query('c', 'SELECT pg_sleep(5)')
is_(r.get('sqlstate'), '57014', 'statement_timeout cancels on the server')
r = d.query('c', "SELECT current_setting('statement_timeout')")
is_(r.get('rows'), [['300ms']], 'set through options')
d.quit()
done_testing()
