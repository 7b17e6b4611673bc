#!/usr/bin/python3
# t/obs/metrics-secure.t: --metrics-secure over HTTPS authenticates every
# /metrics request with a TokenReview and authorizes its user with a
# SubjectAccessReview (path /metrics, verb get), against the API stand-in:
# 401 without a bearer token or with one the API server does not know, 403
# for a user who may not get /metrics, the metrics for one who may;
# verdicts are cached per token; review errors and timeouts give 500 and
# never the metrics; HEAD and keep-alive after a deferred answer; the
# probes stay open; no token reaches the logs.
import http.client
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep t/lib free of __pycache__
sys.path.insert(0, os.path.join(HERE, '..', 'lib'))
from tap import ok, is_, like, diag, skip_all, done_testing  # noqa: E402
import dbptest  # noqa: E402
import obstest  # noqa: E402

if not os.path.exists(obstest.DBPROVD):
    skip_all('src/dbprovd is not built')
if not obstest.have('openssl'):
    skip_all('openssl is not installed')

PROM = 'system:serviceaccount:monitoring:prometheus'
VIEWER = 'system:serviceaccount:default:viewer'
GOOD = 'tok-good-5c1e9d0b7a'
GOOD2 = 'tok-good-two-81f3aa'
GOOD3 = 'tok-good-three-e2d4'
GOOD4 = 'tok-good-four-77b0c1'
GOOD5 = 'tok-good-five-90ab1f'
NOPE = 'tok-unknown-3b6f02'
DENIED = 'tok-viewer-d41c55'
TOKENS = (GOOD, GOOD2, GOOD3, GOOD4, GOOD5, NOPE, DENIED)
PROM_USER = {'username': PROM, 'uid': 'uid-prom-1', 'groups': ['system:serviceaccounts', 'system:authenticated'],
             'extra': {'authentication.kubernetes.io/pod-name': ['prometheus-0']}}


def reviews(st, since):
    """(TokenReviews, SubjectAccessReviews) in the stand-in's log after seq since."""
    log = st.fk.requests(since)
    return (sum(1 for e in log if e['resource'] == 'tokenreviews'),
            sum(1 for e in log if e['resource'] == 'subjectaccessreviews'))


def last_seq(st):
    log = st.fk.requests()
    return log[-1]['seq'] if log else 0


st = obstest.Stack()
try:
    st.fk.auth_tokens = {GOOD: PROM_USER, GOOD2: PROM_USER, GOOD3: PROM_USER, GOOD4: PROM_USER,
                         GOOD5: PROM_USER, DENIED: {'username': VIEWER, 'groups': ['system:authenticated']}}
    st.fk.sar_allow = {(PROM, '/metrics', 'get')}
    certs = st.tmp.join('certs')
    obstest.gen_cert(certs)
    ctx = obstest.tls_context(os.path.join(certs, 'ca.crt'))
    d, mport, hport = st.daemon('sec', ['--metrics-cert-path', certs, '--metrics-secure', '--log-level', 'debug'])

    def conn():
        return http.client.HTTPSConnection('127.0.0.1', mport, timeout=15, context=ctx)

    def ask(token=None, method='GET', auth=None, c=None):
        """(status, headers, body) of /metrics; c: a connection to reuse."""
        own = c is None
        c = c or conn()
        hdrs = {}
        if auth is not None:
            hdrs['Authorization'] = auth
        elif token is not None:
            hdrs['Authorization'] = 'Bearer ' + token
        try:
            c.request(method, '/metrics', headers=hdrs)
            r = c.getresponse()
            return r.status, r, r.read().decode('utf-8', 'replace')
        finally:
            if own:
                c.close()

    ok(dbptest.wait_until(lambda: obstest.get(hport, '/readyz')[0] == 200, 20), '/readyz: 200 without a token')
    is_(obstest.get(hport, '/healthz')[0], 200, '/healthz: 200 without a token')

    # No or malformed credentials: 401 without asking the API server.
    s0 = last_seq(st)
    status, r, body = ask()
    is_(status, 401, 'no Authorization header: 401')
    is_(r.getheader('WWW-Authenticate'), 'Bearer', '401 asks for a bearer token')
    ok('# TYPE' not in body, 'no metrics in the 401')
    is_(ask(auth='Basic dXNlcjpwYXNz')[0], 401, 'Basic credentials: 401')
    is_(ask(auth='Bearer ')[0], 401, 'an empty bearer token: 401')
    is_(reviews(st, s0), (0, 0), 'none of these reached the API server')

    # An unknown token: the TokenReview says no.
    s0 = last_seq(st)
    status, r, body = ask(NOPE)
    is_(status, 401, 'unknown token: 401')
    ok('# TYPE' not in body, 'no metrics in that 401')
    is_(reviews(st, s0), (1, 0), 'one TokenReview, no SubjectAccessReview')

    # Authenticated, not allowed: 403.
    s0 = last_seq(st)
    status, r, body = ask(DENIED)
    is_(status, 403, 'a user without get on /metrics: 403')
    ok('# TYPE' not in body, 'no metrics in the 403')
    is_(reviews(st, s0), (1, 1), 'a TokenReview, then a SubjectAccessReview')
    is_(st.fk.access_reviews[-1], {'user': VIEWER, 'groups': ['system:authenticated'],
                                   'nonResourceAttributes': {'path': '/metrics', 'verb': 'get'}},
        'the SubjectAccessReview asks for get on /metrics for that user')

    # Allowed.
    s0 = last_seq(st)
    status, r, body = ask(GOOD)
    is_(status, 200, 'an allowed token: 200')
    ok('# TYPE dbprovd_build_info gauge' in body, 'the metrics')
    like(r.getheader('Content-Type') or '', r'^text/plain; version=0\.0\.4', 'exposition content type')
    is_(reviews(st, s0), (1, 1), 'one TokenReview and one SubjectAccessReview')
    is_(st.fk.access_reviews[-1], {'user': PROM, 'uid': 'uid-prom-1', 'groups': PROM_USER['groups'],
                                   'extra': PROM_USER['extra'],
                                   'nonResourceAttributes': {'path': '/metrics', 'verb': 'get'}},
        'user, uid, groups and extra come from the TokenReview')

    # The cache: the same tokens again, no new reviews.
    s0 = last_seq(st)
    is_(ask(GOOD)[0], 200, 'the allowed token again: 200')
    is_(ask(NOPE)[0], 401, 'the unknown token again: 401')
    is_(ask(DENIED)[0], 403, 'the forbidden token again: 403')
    status, r, body = ask(GOOD, method='HEAD')
    ok(status == 200 and body == '' and int(r.getheader('Content-Length')) > 0,
       'HEAD with the allowed token: 200, the length, no body')
    is_(reviews(st, s0), (0, 0), 'answered from the cache: no TokenReview, no SubjectAccessReview')

    # Keep-alive after a deferred answer, and HEAD deferred.
    c = conn()
    try:
        first = ask(GOOD2, c=c)
        second = ask(GOOD2, c=c)
        ok(first[0] == 200 and '# TYPE' in first[2] and second[0] == 200 and '# TYPE' in second[2],
           'two requests on one connection: the first waits for the reviews, the second is cached')
    finally:
        c.close()
    status, r, body = ask(GOOD3, method='HEAD')
    ok(status == 200 and body == '' and int(r.getheader('Content-Length')) > 0,
       'HEAD of a token not cached: 200 after the reviews, no body')

    # Review errors: 500, never the metrics, and not cached.
    st.fk.fail(500, path='tokenreviews')
    status, r, body = ask(GOOD4)
    is_(status, 500, 'the TokenReview fails: 500')
    ok('# TYPE' not in body, 'no metrics in the 500')
    s0 = last_seq(st)
    is_(ask(GOOD4)[0], 200, 'the error is not cached: the next try is allowed')
    is_(reviews(st, s0), (1, 1), '... after new reviews')
    st.fk.fail(403, path='subjectaccessreviews')
    status, r, body = ask(GOOD5)
    ok(status == 500 and '# TYPE' not in body, 'the SubjectAccessReview is refused (RBAC): 500, no metrics')
    st.fk.stall(path='tokenreviews')
    t0 = time.monotonic()
    status, r, body = ask(GOOD5)
    ok(status == 500 and '# TYPE' not in body, 'a TokenReview without an answer: 500 at its timeout')
    diag('answered after %.1f s' % (time.monotonic() - t0))
    is_(ask(GOOD5)[0], 200, 'then allowed once the API server answers')

    # Many at once with an unknown token: each gets its own answer.
    conns = [conn() for _ in range(5)]
    try:
        for i, cc in enumerate(conns):
            cc.request('GET', '/metrics', headers={'Authorization': 'Bearer tok-burst-%d' % i})
        codes = []
        for cc in conns:
            rr = cc.getresponse()
            rr.read()
            codes.append(rr.status)
        is_(codes, [401] * 5, 'concurrent checks: each answered')
    finally:
        for cc in conns:
            cc.close()

    is_(obstest.get(hport, '/healthz')[0], 200, 'still healthy')
    log = d.stderr_text()
    leaked = [t for t in TOKENS if t in log] + (['tok-burst'] if 'tok-burst' in log else [])
    is_(leaked, [], 'no token appears in the logs (debug level)')
    like(log, r'"msg":"metrics authorization failed","review":"TokenReview","status":"500"',
         'a failed review is logged')
    # Stopping while a check waits for the API server: cancelled cleanly.
    st.fk.stall(path='tokenreviews')
    s0 = last_seq(st)
    c = conn()
    try:
        c.request('GET', '/metrics', headers={'Authorization': 'Bearer tok-pending-0c9d'})
        ok(dbptest.wait_until(lambda: reviews(st, s0)[0] == 1, 5), 'a TokenReview is pending')
        is_(d.stop(10), 0, 'SIGTERM with a check pending: exit 0')
    finally:
        c.close()
    ok('Sanitizer' not in d.stderr_text() and 'tok-pending' not in d.stderr_text(),
       'no sanitizer report, no token in the logs')
finally:
    st.close()
done_testing()
