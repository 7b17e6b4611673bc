#!/usr/bin/python3
# The pool (src/pool.c) with real connections to a throwaway PostgreSQL 15:
# the cap per instance holds against the server (N+2 concurrent acquires
# with cap N: N server sessions, the rest wait and get released ones, in
# order); several databases share the cap; idle connections close after the
# idle timeout; a server restart breaks idle and borrowed connections,
# which are replaced (the next acquire works); a server that is down is not
# hammered (backoff: waiters get the error, no new connect until the delay
# has passed) and is used again when it is back; dropping an instance
# closes its sessions; the acquire timeout.
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, done_testing  # noqa: E402
import dbptest  # noqa: E402
from pgserver import PgServer, PgDrv, require_postgres  # noqa: E402

require_postgres()
pg = PgServer().start()
pg.sql('CREATE DATABASE other')
APP = 'dbprovd-pool-test'
CAP = 3


def driver(*extra):
    d = PgDrv(pg.drv_args(host='localhost', sslmode='verify-full', ca=pg.ca_file,
                          extra=['--appname', APP, '--cap', str(CAP)] + list(extra)),
              password=pg.password)
    ok(d.ready(), 'driver ready')
    return d


def sessions():
    return pg.count_app(APP)


# -- the cap ---------------------------------------------------------------------
d = driver('--idle-timeout', '60', '--acquire-timeout', '20')
ids = ['c%d' % i for i in range(CAP + 2)]
for cid in ids:
    d.acquire_async(cid)
got = {}
for cid in ids[:CAP]:
    e = d.acquire_result(cid)
    got[cid] = e
ok(all(e and e.get('ev') == 'acquired' for e in got.values()), 'first %d acquires served' % CAP)
time.sleep(0.5)
is_(d.acquire_result(ids[CAP], timeout=0.1), None, 'acquire %d waits' % (CAP + 1))
st = d.stats()
is_((st['conns'], st['busy'], st['waiting']), (CAP, CAP, 2), 'pool: %d busy, 2 waiting' % CAP)
is_(sessions(), CAP, 'pg_stat_activity: exactly %d sessions' % CAP)
pids = {cid: e['pid'] for cid, e in got.items()}
is_(len(set(pids.values())), CAP, 'distinct backends')

d.release('c1')
e = d.acquire_result(ids[CAP])
ok(e and e.get('ev') == 'acquired', 'a release serves the first waiter')
is_(e.get('pid') if e else None, pids['c1'], 'with the released session')
is_(d.acquire_result(ids[CAP + 1], timeout=0.3), None, 'the last one still waits')
r = d.query(ids[CAP], 'SELECT pg_backend_pid()')
is_(r.get('rows'), [[str(pids['c1'])]], 'and it works')
d.release('c2')
e = d.acquire_result(ids[CAP + 1])
ok(e and e.get('ev') == 'acquired', 'then the last')
is_(sessions(), CAP, 'never more than %d sessions' % CAP)

# Another database shares the cap: at the cap it waits until a session is
# given back, then the idle one to "postgres" is closed to make room.
d.acquire_async('o1', 'other')
is_(d.acquire_result('o1', timeout=0.5), None, 'other database waits at the cap')
d.release('c0')
e = d.acquire_result('o1')
ok(e and e.get('ev') == 'acquired', 'served after a release')
r = d.query('o1', 'SELECT current_database()')
is_(r.get('rows'), [['other']], 'connected to the other database')
is_(sessions(), CAP, 'cap holds across databases')
for cid in (ids[CAP], ids[CAP + 1], 'o1'):
    d.release(cid)
st = d.stats()
is_((st['busy'], st['idle'], st['waiting']), (0, CAP, 0), 'all idle')

# -- server restart ------------------------------------------------------------------
e = d.acquire('held')
held_pid = e.get('pid')
pg.restart()
ok(dbptest.wait_until(lambda: d.stats()['idle'] == 0, timeout=10),
   'idle sessions noticed the restart and were closed')
r = d.query('held', 'SELECT 1')
is_(r.get('ev'), 'query_error', 'the borrowed session fails its next query')
is_(r.get('code'), 'lost', 'reported as a lost connection')
like(r.get('msg', ''), r'terminating connection due to administrator command',
     "with the server's reason: %s" % r.get('msg'))
is_(r.get('sqlstate'), '57P01', 'and its SQLSTATE')
d.release('held')
e = d.acquire('after')
ok(e and e.get('ev') == 'acquired', 'acquire after the restart works')
ok(e and e.get('pid') != held_pid, 'on a new session')
r = d.query('after', 'SELECT 2')
is_(r.get('rows'), [['2']], 'and queries')
st = d.stats()
is_(st['closed_broken'], CAP, 'broken sessions were closed, not reused (2 idle + the borrowed one)')
d.release('after')

# -- drop -------------------------------------------------------------------------------
d.acquire('x1')
d.acquire('x2')
d.release('x2')
d.send(op='drop')
d.wait_ev('dropped')
ok(dbptest.wait_until(lambda: sessions() == 1, timeout=5), 'drop closed the idle session')
r = d.query('x1', 'SELECT 3')
is_(r.get('rows'), [['3']], 'the borrowed one keeps working until released')
d.release('x1')
ok(dbptest.wait_until(lambda: sessions() == 0, timeout=5), 'and is closed when given back')
rc, _ = d.quit()
is_(rc, 0, 'driver exits cleanly')
ok(dbptest.wait_until(lambda: sessions() == 0, timeout=5), 'no sessions left')

# -- idle timeout -------------------------------------------------------------------------
d = driver('--idle-timeout', '1')
for cid in ('i1', 'i2'):
    d.acquire(cid)
is_(sessions(), 2, 'two sessions')
d.release('i1')
d.release('i2')
time.sleep(0.4)
is_(sessions(), 2, 'still open shortly after release')
ok(dbptest.wait_until(lambda: sessions() == 0, timeout=5), 'closed after the idle timeout')
is_(d.stats()['closed_idle'], 2, 'counted as idle closes')
d.quit()

# -- server down: backoff, then recovery ------------------------------------------------------
d = driver('--backoff-initial', '2', '--acquire-timeout', '1')
pg.stop()
t0 = time.monotonic()
e = d.acquire('down1')
is_(e.get('ev') if e else None, 'acquire_error', 'server down: error')
like(e.get('msg', '') if e else '', r'refused|No such file|connect', 'connect error: %s' % (e or {}).get('msg'))
st1 = d.stats()
e = d.acquire('down2')
is_(e.get('ev') if e else None, 'acquire_error', 'next acquire: error at once')
st2 = d.stats()
is_(st2['connects'], st1['connects'], 'without a new connect (backing off)')
ok(time.monotonic() - t0 < 1.5, 'quickly')
pg.start_again()
e = d.acquire('up0')
is_(e.get('ev') if e else None, 'acquire_error', 'still backing off right after the restart')
time.sleep(max(0.0, 2.1 - (time.monotonic() - t0)))
e = d.acquire('up')
ok(e and e.get('ev') == 'acquired', 'after the delay the server is used again') or diag(e)
is_(d.stats()['connects'], st1['connects'] + 1, 'one connect for it')

# -- acquire timeout -------------------------------------------------------------------------
d.acquire('w1')
d.acquire('w2')
t0 = time.monotonic()
e = d.acquire('w3')    # cap 3: up, w1, w2 busy
el = time.monotonic() - t0
is_(e.get('ev') if e else None, 'acquire_error', 'wait timed out')
like(e.get('msg', '') if e else '', r'timed out waiting for a connection to test/inst/postgres \(3 of 3 in use\)',
     'message says why')
ok(0.9 < el < 3, 'after the acquire timeout (%.2fs)' % el)
rc, _ = d.quit()
is_(rc, 0, 'driver exits cleanly with borrowed sessions')
ok(dbptest.wait_until(lambda: sessions() == 0, timeout=5), 'and closes them')
done_testing()
