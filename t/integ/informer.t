#!/usr/bin/python3
# The informer against the API stand-in over HTTPS with a rotating token:
# list+watch, resume after a dropped watch and after a server-side close
# without missed or duplicated events, bookmarks, 410 relist with deletion
# of vanished objects, 429 with Retry-After, token rotation, conflict then
# success, and TLS verification with the right and a wrong CA.
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
from fakekube import FakeKube  # noqa: E402

KWATCH = dbptest.build_path('t/drv/kwatch')
if not os.path.exists(KWATCH):
    skip_all('t/drv/kwatch is not built (run make check)')

tmp = dbptest.TempDir()
token_file = tmp.join('token')
with open(token_file, 'w') as f:
    f.write('first-token\n')
fk = FakeKube(tls=True, token_file=token_file, bookmark_interval=0.5,
              crd_dir=dbptest.src_path('crd')).start()
api = fk.client()
CM = '/api/v1/namespaces/default/configmaps'


def cm(name, **data):
    r = api.post(CM, {'apiVersion': 'v1', 'kind': 'ConfigMap',
                      'metadata': {'name': name}, 'data': data or {'k': 'v'}})
    assert r.status == 201, (r.status, r.text)
    return r.json


def watcher(kubeconfig, *extra):
    return dbptest.Proc([KWATCH, '--kubeconfig', kubeconfig, '--group-path', '/api/v1',
                         '--resource', 'configmaps', '--namespace', 'default',
                         '--page-size', '2', *extra])


def stats(p):
    p.signal(signal.SIGTERM)
    m = p.expect(r'^STATS (.*)', 10)
    p.wait(10)
    return dict(kv.split('=') for kv in m.group(1).split()) if m else {}


kc = tmp.join('kubeconfig')
fk.write_kubeconfig(kc, token_file=True)

try:
    for i in range(1, 6):
        cm('cm%d' % i)
    w = watcher(kc, '--watch-timeout', '2')
    ok(w.expect(r'^SYNCED 5$', 15), 'paginated list (page size 2) syncs all 5 objects')
    is_(len(w.matching(r'^ADD ')), 5, 'one ADD per object')

    cm('cm6')
    ok(w.expect(r'^ADD default/cm6 ', 10), 'watch delivers a create')
    r = api.patch(CM + '/cm1', {'data': {'k': 'changed'}})
    ok(r.status == 200 and w.expect(r'^UPDATE default/cm1 ', 10), 'watch delivers an update')
    r = api.patch(CM + '/cm1', {'data': {'k': 'changed'}})
    is_(r.status, 200, 'no-op patch accepted')

    # The server ends watches after timeoutSeconds (2-4 s): resumed from
    # the last resourceVersion, no relist, nothing missed or repeated.
    time.sleep(5)
    cm('cm7')
    ok(w.expect(r'^ADD default/cm7 ', 10), 'event after several server-side watch closes')

    # A dropped connection (no chunked terminator): writes made while the
    # client is away arrive once when it resumes.
    n = fk.drop_watches()
    ok(n >= 1, 'dropped %d open watch(es)' % n)
    cm('cm8')
    api.delete(CM + '/cm6')
    ok(w.expect(r'^ADD default/cm8 ', 15), 'create made during the outage arrives')
    ok(w.expect(r'^DELETE default/cm6 ', 15), 'delete made during the outage arrives')

    # 410: history compacted while the client is away; it relists and
    # reports the object that vanished meanwhile as deleted.
    # (Watches fail until the history is compacted, so the client cannot
    # resume early, however slow this script is.)
    fk.fail(code=503, count=None, watch=True)
    fk.drop_watches()
    api.delete(CM + '/cm2')
    cm('cm9')
    fk.compact()
    fk.clear_faults()
    ok(w.expect(r'^DELETE default/cm2 ', 20), 'relist after 410 synthesizes the deletion')
    ok(w.expect(r'^ADD default/cm9 ', 20), 'relist after 410 adds the new object')

    # 429 with Retry-After on the re-watch is honoured.
    before = len(fk.requests())
    fk.fail(code=429, count=1, watch=True, retry_after=1)
    fk.drop_watches()
    cm('cm10')
    ok(w.expect(r'^ADD default/cm10 ', 20), 'watch resumes after a 429')
    # The object may also arrive through a relist, before the next watch
    # is logged: wait for that watch.
    def watches_after_429():
        reqs = [r for r in fk.requests()[before:] if r['watch']]
        t429 = [r['time'] for r in reqs if r['code'] == 429]
        after = [r['time'] for r in reqs if r['code'] in (200, None) and t429 and r['time'] > t429[0]]
        return t429, after
    dbptest.wait_until(lambda: watches_after_429()[1], 10)
    t429, after = watches_after_429()
    ok(t429 and after and after[0] - t429[0] >= 0.9,
       'the next watch waited for Retry-After (%.2fs)' % ((after[0] - t429[0]) if t429 and after else -1))

    # The token file is rotated and the old token stops working at once:
    # the next request gets a 401, re-reads the file and succeeds.
    fk.rotate_token('second-token', grace=0)
    api = fk.client()
    fk.drop_watches()
    cm('cm11')
    ok(w.expect(r'^ADD default/cm11 ', 20), 'events flow again with the rotated token')
    codes = [r['code'] for r in fk.requests()]
    ok(401 in codes, 'a request was refused with 401 after the rotation')

    time.sleep(1.5)
    adds = w.matching(r'^ADD ')
    names = [a.split()[1] for a in adds]
    is_(len(names), len(set(names)), 'no object was added twice (%d ADDs)' % len(names))
    st = stats(w)
    ok(int(st.get('watches', 0)) >= 4, 'several watches were made (%s)' % st.get('watches'))
    ok(int(st.get('relists410', 0)) >= 1, 'a relist was caused by 410')
    ok(int(st.get('bookmarks', 0)) >= 1, 'bookmarks were received (%s)' % st.get('bookmarks'))
    is_(int(st.get('count', -1)), len(api.get(CM).json['items']), 'cache matches the server')
    is_(w.wait(10), 0, 'driver exits cleanly')
    ok('second-token' not in w.stderr_text() and 'first-token' not in w.stderr_text(),
       'tokens never appear in the logs')
    w.close()

    # Conflict then success: the first PUT gets 409, the client re-reads
    # and writes again.
    fk.fail(code=409, count=1, method='PUT')
    a = dbptest.Proc([KWATCH, '--kubeconfig', kc, '--group-path', '/api/v1',
                      '--resource', 'configmaps', '--namespace', 'default',
                      '--annotate', 'cm3', 'example.com/touched=yes'])
    m = a.expect(r'^(UPDATED|FAILED).*', 15)
    like(m.group(0) if m else '', r'^UPDATED attempts=2 ', 'conflict, re-read, then success')
    is_(api.get(CM + '/cm3').json['metadata']['annotations'].get('example.com/touched'), 'yes',
        'the annotation is stored')
    a.wait(5)
    a.close()

    # TLS: a CA that did not sign the server certificate is refused.
    bad = FakeKube(tls=True, token='x').start()
    badkc = tmp.join('kubeconfig-wrong-ca')
    fk.write_kubeconfig(badkc, token='second-token')
    with open(badkc) as f:
        text = f.read()
    with open(bad.ca_file) as f:
        other_ca = f.read()
    with open(tmp.join('other-ca.pem'), 'w') as f:
        f.write(other_ca)
    text = re.sub(r'certificate-authority(-data)?: .*', 'certificate-authority: ' + tmp.join('other-ca.pem'), text)
    with open(badkc, 'w') as f:
        f.write(text)
    b = watcher(badkc)
    ok(b.expect(r'^SYNCED', 3) is None, 'no sync against a server with the wrong CA')
    b.stop()
    like(b.stderr_text(), r'(?i)certificate', 'the error says the certificate was not trusted')
    b.close()
    bad.close()

    # tls-server-name: the certificate is checked against that name (the
    # stand-in's certificate names localhost and 127.0.0.1, not others).
    for name, good in (('localhost', True), ('not-the-server.example', False)):
        snkc = tmp.join('kubeconfig-sni-' + name)
        with open(kc) as f:
            text = f.read()
        text = re.sub(r'(\n(\s*)server: .*\n)', '\\1\\2tls-server-name: %s\n' % name, text, count=1)
        with open(snkc, 'w') as f:
            f.write(text)
        s = watcher(snkc)
        got = s.expect(r'^SYNCED', 8 if good else 3)
        ok(bool(got) == good, 'tls-server-name %s: %s' % (name, 'accepted' if good else 'refused'))
        s.stop()
        s.close()
finally:
    fk.close()
    tmp.cleanup()
done_testing()
