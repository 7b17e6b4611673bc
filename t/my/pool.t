#!/usr/bin/python3
# The pool (src/pool.c) with MySQL connections (myconn_pool_ops) to a
# throwaway MariaDB 10.11: the cap per instance holds against the server
# (cap + 2 concurrent acquires: cap server sessions, the rest wait and get
# released ones, in order); several databases share the cap; a session
# killed on the server while idle is noticed at once and closed; the
# server killed (SIGKILL) while connections are idle: they are reported
# lost and closed, a borrowed one fails its next query as lost; the server
# back: new connections after the backoff; idle timeout; drop.
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, diag, done_testing  # noqa: E402
import dbptest  # noqa: E402
from myserver import MyServer, MyDrv, require_mariadb  # noqa: E402

require_mariadb()
my = MyServer().start()
my.sql('CREATE DATABASE other')
CAP = 3


def driver(*extra):
    d = MyDrv(my.drv_args(host='localhost', tls='verify-full', ca=my.ca_file,
                          extra=['--cap', str(CAP)] + list(extra)),
              password=my.password)
    ok(d.ready(), 'driver ready')
    return d


def sessions():
    return my.count_user_sessions('admin')


# -- the cap ---------------------------------------------------------------------
d = driver('--idle-timeout', '60', '--acquire-timeout', '20')
ids = ['c%d' % i for i in range(CAP + 2)]
for cid in ids:
    d.acquire_async(cid)
got = {}
for cid in ids[:CAP]:
    got[cid] = d.acquire_result(cid)
ok(all(e and e.get('ev') == 'acquired' for e in got.values()), 'first %d acquires served' % CAP)
time.sleep(0.5)
is_(d.acquire_result(ids[CAP], timeout=0.1), None, 'acquire %d waits' % (CAP + 1))
st = d.stats()
is_((st['conns'], st['busy'], st['waiting']), (CAP, CAP, 2), 'pool: %d busy, 2 waiting' % CAP)
is_(sessions(), CAP, 'processlist: exactly %d sessions' % CAP)
tids = {cid: e['thread_id'] for cid, e in got.items()}
is_(len(set(tids.values())), CAP, 'distinct server threads')

d.release('c1')
e = d.acquire_result(ids[CAP])
ok(e and e.get('ev') == 'acquired', 'a release serves the first waiter')
is_(e.get('thread_id') if e else None, tids['c1'], 'with the released session')
is_(d.acquire_result(ids[CAP + 1], timeout=0.3), None, 'the last one still waits')
r = d.query(ids[CAP], 'SELECT CONNECTION_ID()')
is_(r.get('rows'), [[str(tids['c1'])]], 'and it works')
d.release('c2')
e = d.acquire_result(ids[CAP + 1])
ok(e and e.get('ev') == 'acquired', 'then the last')
is_(sessions(), CAP, 'never more than %d sessions' % CAP)

d.acquire_async('o1', 'other')
is_(d.acquire_result('o1', timeout=0.5), None, 'other database waits at the cap')
d.release('c0')
e = d.acquire_result('o1')
ok(e and e.get('ev') == 'acquired', 'served after a release')
r = d.query('o1', 'SELECT DATABASE()')
is_(r.get('rows'), [['other']], 'connected to the other database')
is_(sessions(), CAP, 'cap holds across databases')
for cid in (ids[CAP], ids[CAP + 1], 'o1'):
    d.release(cid)
st = d.stats()
is_((st['busy'], st['idle'], st['waiting']), (0, CAP, 0), 'all idle')

# -- a session killed on the server while idle --------------------------------------------
victim = my.value("SELECT id FROM information_schema.processlist WHERE user = 'admin' "
                  "ORDER BY id LIMIT 1")
my.sql('KILL CONNECTION %s' % victim)
ok(dbptest.wait_until(lambda: d.stats()['idle'] == CAP - 1, timeout=5),
   'the killed idle session was noticed and closed')
is_(d.stats()['closed_broken'], 1, 'counted as broken')

# -- the server killed while connections are idle ---------------------------------------------
e = d.acquire('held')
ok(e and e.get('ev') == 'acquired', 'one borrowed')
my.kill()
ok(dbptest.wait_until(lambda: d.stats()['idle'] == 0, timeout=10),
   'idle connections noticed the server going away and were closed')
is_(d.stats()['closed_broken'], CAP - 1, 'reported lost, not reused')
r = d.query('held', 'SELECT 1')
is_((r.get('ev'), r.get('code')), ('query_error', 'lost'),
    'the borrowed one fails its next query as lost (%s)' % r.get('msg'))
d.release('held')
my.start_again()
e = None
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    e = d.acquire('after')
    if e and e.get('ev') == 'acquired':
        break
    time.sleep(0.3)
ok(e and e.get('ev') == 'acquired', 'acquire after the server is back works') or diag(e)
r = d.query('after', 'SELECT 2')
is_(r.get('rows'), [['2']], 'and queries')
d.release('after')

# -- drop --------------------------------------------------------------------------------------
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

# -- idle timeout ----------------------------------------------------------------------------------
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
rc, _ = d.quit()
is_(rc, 0, 'driver exits cleanly')
done_testing()
