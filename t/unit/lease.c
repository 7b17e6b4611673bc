#include "config.h"

#include <string.h>

#include "json.h"
#include "lease.h"
#include "tap.h"
#include "timefmt.h"

#define ME "node-a_1111"
#define OTHER "node-b_2222"
#define T0 1746093600.0		/* 2025-05-01T10:00:00Z */

static yajl_val
lease_json(const char *holder, int dur, const char *acq, const char *ren,
    int trans, const char *rv)
{
	char *text = xasprintf("{\"apiVersion\":\"coordination.k8s.io/v1\","
	    "\"kind\":\"Lease\",\"metadata\":{\"name\":\"l\",\"namespace\":\"ns\","
	    "\"resourceVersion\":\"%s\",\"labels\":{\"a\":\"b\"}},\"spec\":{"
	    "\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":%d,"
	    "\"acquireTime\":\"%s\",\"renewTime\":\"%s\",\"leaseTransitions\":%d}}",
	    rv, holder, dur, acq, ren, trans);
	yajl_val v = json_parse(text, strlen(text), NULL, 0);

	free(text);
	return v;
}

static enum lease_action
decide(yajl_val lease, struct lease_observed *obs, double mono, double wall,
    struct lease_spec *out)
{
	struct lease_input in = { ME, 15, lease, mono, wall };

	return lease_decide(&in, obs, out);
}

static bool
is_micro(const char *s)
{
	struct timespec ts;
	char err[64];

	return s && strlen(s) == TIMEFMT_MICRO_LEN - 1 &&
	    timefmt_parse_micro(s, &ts, err, sizeof(err)) == 0;
}

static void
test_create(void)
{
	struct lease_observed obs;
	struct lease_spec out;

	lease_observed_init(&obs);
	is_int(decide(NULL, &obs, 100, T0 + 0.123456, &out), LEASE_CREATE,
	    "404: create");
	is_str(out.holder, ME, "create: holder is me");
	is_int(out.duration, 15, "create: duration");
	is_int(out.transitions, 0, "create: transitions 0");
	is_str(out.acquire_time, "2025-05-01T10:00:00.123456Z",
	    "create: acquireTime MicroTime");
	is_str(out.renew_time, out.acquire_time, "create: renewTime = acquireTime");
	lease_spec_release(&out);
	lease_observed_release(&obs);
}

static void
test_live_and_expired(void)
{
	struct lease_observed obs;
	struct lease_spec out;
	yajl_val v = lease_json(OTHER, 15, "2025-05-01T09:00:00.000000Z",
	    "2025-05-01T09:59:59.000000Z", 3, "10");

	lease_observed_init(&obs);
	is_int(decide(v, &obs, 100, T0, &out), LEASE_WAIT,
	    "other holder, first sight: wait");
	ok(out.holder == NULL, "wait: nothing to write");
	ok(obs.valid && obs.time == 100, "first sight observed at 100");
	is_int(decide(v, &obs, 114.9, T0 + 14.9, &out), LEASE_WAIT,
	    "unchanged for 14.9 s: still live");
	ok(obs.time == 100, "observed time does not move without a change");
	/* A remote renewTime far in the past must not matter. */
	is_int(decide(v, &obs, 115.1, T0 + 15.1, &out), LEASE_TAKEOVER,
	    "unchanged for 15.1 s: take over");
	is_str(out.holder, ME, "takeover: holder is me");
	is_int(out.transitions, 4, "takeover bumps leaseTransitions");
	ok(is_micro(out.acquire_time), "takeover: acquireTime MicroTime");
	is_str(out.acquire_time, out.renew_time, "takeover: acquireTime = now");
	lease_spec_release(&out);
	json_free(v);
	lease_observed_release(&obs);
}

static void
test_observed_moves_on_change(void)
{
	struct lease_observed obs;
	struct lease_spec out;
	yajl_val v1 = lease_json(OTHER, 15, "2025-05-01T09:00:00.000000Z",
	    "2025-05-01T10:00:00.000000Z", 1, "10");
	yajl_val v2 = lease_json(OTHER, 15, "2025-05-01T09:00:00.000000Z",
	    "2025-05-01T10:00:02.000000Z", 1, "11");

	lease_observed_init(&obs);
	decide(v1, &obs, 100, T0, &out);
	decide(v2, &obs, 110, T0, &out);
	ok(obs.time == 110, "renewed record: observed time moves");
	is_int(decide(v2, &obs, 120, T0, &out), LEASE_WAIT,
	    "10 s after the change: live");
	ok(obs.time == 110, "same record: observed time stays");
	is_int(decide(v1, &obs, 124, T0, &out), LEASE_WAIT,
	    "a different record again counts as a change");
	ok(obs.time == 124, "observed time moved to 124");
	json_free(v1);
	json_free(v2);
	lease_observed_release(&obs);
}

static void
test_remote_clock_ignored(void)
{
	struct lease_observed obs;
	struct lease_spec out;
	yajl_val v = lease_json(OTHER, 15, "2099-01-01T00:00:00.000000Z",
	    "2099-01-01T00:00:00.000000Z", 0, "7");

	lease_observed_init(&obs);
	is_int(decide(v, &obs, 100, T0, &out), LEASE_WAIT,
	    "renewTime in the future: live while fresh");
	is_int(decide(v, &obs, 115.5, T0 + 15.5, &out), LEASE_TAKEOVER,
	    "renewTime in the future: expired after 15 s unchanged on our clock");
	lease_spec_release(&out);
	json_free(v);
	lease_observed_release(&obs);
}

static void
test_renew(void)
{
	struct lease_observed obs;
	struct lease_spec out;
	yajl_val v = lease_json(ME, 15, "2025-05-01T09:00:00.000000Z",
	    "2025-05-01T09:59:58.000000Z", 7, "42");

	lease_observed_init(&obs);
	is_int(decide(v, &obs, 100, T0 + 0.5, &out), LEASE_RENEW,
	    "our lease: renew");
	is_str(out.acquire_time, "2025-05-01T09:00:00.000000Z",
	    "renew keeps acquireTime");
	is_int(out.transitions, 7, "renew keeps leaseTransitions");
	is_str(out.renew_time, "2025-05-01T10:00:00.500000Z",
	    "renew sets renewTime to now");
	lease_spec_release(&out);
	json_free(v);
	lease_observed_release(&obs);
}

static void
test_empty_holder(void)
{
	struct lease_observed obs;
	struct lease_spec out;
	yajl_val v = lease_json("", 1, "2025-05-01T10:00:00.000000Z",
	    "2025-05-01T10:00:00.000000Z", 5, "50");
	const char *bare_text = "{\"metadata\":{\"resourceVersion\":\"3\"}}";
	yajl_val bare = json_parse(bare_text, strlen(bare_text), NULL, 0);

	lease_observed_init(&obs);
	is_int(decide(v, &obs, 100, T0, &out), LEASE_TAKEOVER,
	    "released lease (empty holder) taken at once");
	is_int(out.transitions, 6, "released lease: transitions + 1");
	is_int(out.duration, 15, "our duration is written");
	lease_spec_release(&out);
	lease_observed_release(&obs);
	lease_observed_init(&obs);
	is_int(decide(bare, &obs, 100, T0, &out), LEASE_TAKEOVER,
	    "Lease without spec taken at once");
	is_int(out.transitions, 1, "no spec: transitions 1");
	lease_spec_release(&out);
	lease_observed_release(&obs);
	json_free(v);
	json_free(bare);
}

static void
test_body(void)
{
	struct lease_spec s;
	yajl_val prev = lease_json(ME, 15, "x", "y", 0, "9");
	char *body;
	yajl_val v;

	lease_spec_init(&s);
	s.holder = xstrdup(ME);
	s.duration = 15;
	s.acquire_time = xstrdup("2025-05-01T10:00:00.000000Z");
	s.renew_time = NULL;
	s.transitions = 2;
	body = lease_body("ns", "l", "9", &s, prev);
	v = json_parse(body, strlen(body), NULL, 0);
	ok(v != NULL, "body is JSON");
	is_str(json_gets(v, "kind"), "Lease", "body kind");
	is_str(json_gets(v, "apiVersion"), "coordination.k8s.io/v1",
	    "body apiVersion");
	is_str(json_gets(v, "metadata.resourceVersion"), "9", "body RV");
	is_str(json_gets(v, "metadata.labels.a"), "b", "labels kept");
	is_str(json_gets(v, "spec.holderIdentity"), ME, "body holder");
	ok(json_is_null(json_getp(v, "spec.renewTime")), "NULL time is null");
	is_str(json_gets(v, "spec.acquireTime"), "2025-05-01T10:00:00.000000Z",
	    "body acquireTime");
	json_free(v);
	free(body);
	body = lease_body("ns", "l", NULL, &s, NULL);
	v = json_parse(body, strlen(body), NULL, 0);
	ok(json_getp(v, "metadata.resourceVersion") == NULL,
	    "create body has no RV");
	json_free(v);
	free(body);
	lease_spec_release(&s);
	json_free(prev);
}

static void
test_micro_format(void)
{
	struct lease_observed obs;
	struct lease_spec out;
	double walls[] = { T0, T0 + 0.000001, T0 + 0.999999, T0 + 59.5 };
	size_t i;
	int good = 1;

	for (i = 0; i < ARRAY_SIZE(walls); i++) {
		lease_observed_init(&obs);
		decide(NULL, &obs, 1, walls[i], &out);
		if (!is_micro(out.renew_time)) {
			diag("bad MicroTime %s", out.renew_time);
			good = 0;
		}
		lease_spec_release(&out);
		lease_observed_release(&obs);
	}
	ok(good, "MicroTime: always 6 fractional digits and Z");
	lease_observed_init(&obs);
	decide(NULL, &obs, 1, T0 + 0.000001, &out);
	is_str(out.renew_time, "2025-05-01T10:00:00.000001Z", "1 us kept");
	lease_spec_release(&out);
	lease_observed_release(&obs);
}

static void
test_identity(void)
{
	char *a = lease_identity_new(), *b = lease_identity_new();
	const char *u = strrchr(a, '_');

	ok(u != NULL && u != a, "identity is host_uuid");
	is_int(u ? strlen(u + 1) : 0, 36, "uuid part is 36 chars");
	ok(strcmp(a, b) != 0, "identities differ");
	free(a);
	free(b);
}

int
main(void)
{
	test_create();
	test_live_and_expired();
	test_observed_moves_on_change();
	test_remote_clock_ignored();
	test_renew();
	test_empty_holder();
	test_body();
	test_micro_format();
	test_identity();
	return done_testing();
}
