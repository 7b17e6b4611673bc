#!/usr/bin/python3
# Queries (src/myconn.c) against a throwaway MariaDB 10.11, over TLS
# (verify-full) and over the unix socket: rows, column names, SQL NULL,
# values with NUL bytes; affected rows, insert id and warnings; server
# errors carry the error number and SQLSTATE and keep the connection
# usable; a multi-statement string is refused by the server (no
# CLIENT_MULTI_STATEMENTS) and nothing after the first statement runs;
# literals quoted with mysql_real_escape_string on the live connection and
# identifiers with doubled backticks make hostile strings safe; a CALL
# with several result sets; a large result; the query timeout is reported,
# the connection is closed and not reused.
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, done_testing  # noqa: E402
from myserver import MyServer, MyDrv, require_mariadb  # noqa: E402

require_mariadb()
my = MyServer().start()
my.sql('CREATE DATABASE appdb')

hostile = [
    "'; DROP TABLE victim; --",
    "Robert'); DROP TABLE students;--",
    'back\\slash \\\\ \\n \\\' \\"',
    '"double" and \'single\' quotes',
    'semi;colon;;',
    '`backtick` $1 ? %s {{ .Password }}',
    'unicode: ü ß 日本語 🐬 \u202e rtl',
    '',
    ' leading and trailing ',
    'tab\tnewline\ncr\r ctrl-z \x1a',
]


def run(label, args):
    d = MyDrv(args, password=my.password)
    ok(d.ready(), '%s: driver ready' % label)
    e = d.acquire('c')
    ok(e and e.get('ev') == 'acquired', '%s: connected' % label) or diag(e)

    r = d.query('c', "SELECT 1 AS one, NULL AS nothing, 'x' AS ex, CONCAT('a', CHAR(0), 'b') AS nul")
    is_(r.get('ev'), 'result', '%s: select' % label)
    is_(r.get('cols'), ['one', 'nothing', 'ex', 'nul'], '%s: column names' % label)
    is_(r.get('rows'), [['1', None, 'x', 'a\x00b']], '%s: values, NULL as null, NUL byte kept' % label)
    is_(r.get('nrows'), 1, '%s: one row' % label)

    r = d.query('c', 'CREATE TABLE appdb.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(200), '
                     'n TINYINT)')
    is_(r.get('ev'), 'result', '%s: DDL' % label)
    r = d.query('c', "INSERT INTO appdb.t (v, n) VALUES ('a', 1), ('b', NULL), (NULL, 3)")
    is_((r.get('affected'), r.get('insert_id'), r.get('nrows')), (3, 1, 0),
        '%s: affected rows 3, first insert id 1, no rows' % label)
    r = d.query('c', "INSERT IGNORE INTO appdb.t (v, n) VALUES ('c', 1000)")
    is_(r.get('warnings'), 1, '%s: out-of-range value (IGNORE) gives a warning' % label)
    is_(r.get('insert_id'), 4, '%s: next insert id' % label)
    r = d.query('c', 'SELECT id, v, n FROM appdb.t ORDER BY id')
    is_(r.get('rows'), [['1', 'a', '1'], ['2', 'b', None], ['3', None, '3'], ['4', 'c', '127']],
        '%s: rows in order, NULLs where stored' % label)
    r = d.query('c', "UPDATE appdb.t SET n = 0 WHERE v IS NOT NULL")
    is_(r.get('affected'), 3, '%s: update affected rows' % label)

    # Errors: number + SQLSTATE, the connection stays usable.
    r = d.query('c', 'SELECT * FROM appdb.nosuch')
    is_((r.get('ev'), r.get('code'), r.get('errno'), r.get('sqlstate')),
        ('query_error', 'server', 1146, '42S02'), '%s: unknown table: 1146 / 42S02' % label)
    like(r.get('msg'), r"Table 'appdb\.nosuch' doesn't exist", '%s: server message' % label)
    is_(r.get('state'), 'READY', '%s: still READY' % label)
    r = d.query('c', 'SELEC 1')
    is_((r.get('errno'), r.get('sqlstate')), (1064, '42000'), '%s: syntax error 1064 / 42000' % label)
    r = d.query('c', 'SELECT 1/0, 2')
    is_(r.get('rows'), [[None, '2']], '%s: division by zero is NULL in MariaDB' % label)

    # One statement per query.
    d.query('c', 'CREATE TABLE appdb.victim (x INT)')
    r = d.query('c', 'SELECT 1; DROP TABLE appdb.victim')
    is_((r.get('ev'), r.get('errno')), ('query_error', 1064),
        '%s: multi-statement string refused by the server' % label)
    is_(my.value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'appdb' "
                 "AND table_name = 'victim'"), '1', '%s: the second statement never ran' % label)
    r = d.query('c', 'SELECT 3')
    is_(r.get('rows'), [['3']], '%s: and the connection works' % label)

    # Escaping on the live connection.
    all_same = True
    for h in hostile:
        d.send(op='escape', id='c', ident='we`ird; DROP', literal=h)
        esc = d.wait_ev('escaped', 'c')
        if esc is None:
            all_same = False
            diag('no escape answer for %r' % h)
            continue
        r = d.query('c', 'SELECT %s AS v' % esc['literal'])
        if r.get('rows') != [[h]]:
            all_same = False
            diag('%r came back as %r (literal %r)' % (h, r, esc['literal']))
    ok(all_same, '%s: %d hostile literals come back unchanged' % (label, len(hostile)))
    is_(esc.get('ident') if esc else None, '`we``ird; DROP`', '%s: identifier quoted' % label)
    r = d.query('c', 'CREATE TABLE appdb.%s (v TEXT)' % esc['ident'])
    is_(r.get('ev'), 'result', '%s: table with a hostile name' % label)
    d.send(op='escape', id='c', ident='x', literal="it's \\ fine")
    lit = d.wait_ev('escaped', 'c')['literal']
    is_(lit, "'it\\'s \\\\ fine'", '%s: literal form' % label)
    d.query('c', 'INSERT INTO appdb.%s VALUES (%s)' % (esc['ident'], lit))
    r = d.query('c', 'SELECT v FROM appdb.%s' % esc['ident'])
    is_(r.get('rows'), [["it's \\ fine"]], '%s: stored exactly' % label)
    is_(my.value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'appdb' "
                 "AND table_name = 'victim'"), '1', '%s: victim still there' % label)

    # A procedure with two result sets: the first is reported, the rest
    # read and dropped; the connection stays in step.
    d.query('c', 'CREATE PROCEDURE appdb.two() BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END')
    r = d.query('c', 'CALL appdb.two()')
    is_((r.get('cols'), r.get('rows')), (['a'], [['1']]), '%s: CALL: first result set' % label)
    r = d.query('c', 'SELECT 4')
    is_(r.get('rows'), [['4']], '%s: next query after CALL' % label)

    # A large result.
    r = d.query('c', 'SELECT seq, REPEAT(CHAR(65 + seq % 26), 100) FROM seq_1_to_20000', wait=60)
    is_(r.get('nrows'), 20000, '%s: 20000 rows' % label)
    rows = r.get('rows') or []
    ok(len(rows) == 20000 and rows[-1] == ['20000', chr(65 + 20000 % 26) * 100],
       '%s: last row intact' % label)

    # Query timeout: reported, the connection closed and not reused.
    t0 = time.monotonic()
    r = d.query('c', 'SELECT SLEEP(5)', timeout=0.5)
    el = time.monotonic() - t0
    is_((r.get('ev'), r.get('code')), ('query_error', 'timeout'), '%s: query timeout' % label)
    like(r.get('msg'), r'query timed out after 0\.5s; connection closed', '%s: message' % label)
    ok(0.4 < el < 2.5, '%s: after about 0.5 s (%.2fs)' % (label, el))
    is_(r.get('state'), 'FAILED', '%s: connection FAILED' % label)
    r = d.query('c', 'SELECT 1')
    is_(r.get('ev'), 'query_error', '%s: no query on it afterwards' % label)
    d.release('c')
    st = d.stats()
    is_((st['conns'], st['closed_broken']), (0, 1), '%s: the pool closed it' % label)
    e = d.acquire('c2')
    r = d.query('c2', 'SELECT 5')
    is_(r.get('rows'), [['5']], '%s: a new connection works' % label)
    rc, _ = d.quit()
    is_(rc, 0, '%s: driver exits cleanly' % label)
    d.close()
    my.sql('DROP DATABASE appdb')
    my.sql('CREATE DATABASE appdb')


run('tls', my.drv_args(host='localhost', tls='verify-full', ca=my.ca_file))
run('socket', my.drv_args(host=my.sock, tls='disabled'))
done_testing()
