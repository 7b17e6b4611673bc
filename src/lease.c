/*
 * lease.c - Lease-based leader election (kube-api.md 7.2).
 *
 * States of the elector (one timer, at most one request):
 *   IDLE          created, not started
 *   WAITING       the timer runs until the next attempt (acquire: retry
 *                 period with jitter; renew: retry period)
 *   RENEWING      fast path: PUT of our last write with renewTime = now
 *   GETTING       slow path: GET of the Lease
 *   CREATING      POST of a new Lease (after a 404)
 *   UPDATING      slow path: PUT with the resourceVersion just read
 *   RELEASING     release PUT (or GET after a conflict) in flight, or the
 *                 done callback pending
 *   STOPPED       released; nothing happens any more
 *
 * While we lead, the timer in the request states is the renew deadline:
 * a request still running then is cancelled and leadership is lost, so a
 * hung connection cannot keep us leading.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <ev.h>

#include "json.h"
#include "khttp.h"
#include "kwrite.h"
#include "lease.h"
#include "log.h"
#include "timefmt.h"

/* ---- the record ----------------------------------------------------------- */

void
lease_spec_init(struct lease_spec *s)
{
	memset(s, 0, sizeof(*s));
}

void
lease_spec_release(struct lease_spec *s)
{
	free(s->holder);
	free(s->acquire_time);
	free(s->renew_time);
	lease_spec_init(s);
}

void
lease_spec_copy(struct lease_spec *dst, const struct lease_spec *src)
{
	if (dst == src)
		return;
	lease_spec_release(dst);
	dst->holder = xstrdup(src->holder);
	dst->duration = src->duration;
	dst->acquire_time = xstrdup(src->acquire_time);
	dst->renew_time = xstrdup(src->renew_time);
	dst->transitions = src->transitions;
}

/* NULL and "" are different for times (null vs ""), equal for holder. */
static bool
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
lease_spec_equal(const struct lease_spec *a, const struct lease_spec *b)
{
	return streq(a->holder, b->holder) && a->duration == b->duration &&
	    str_same(a->acquire_time, b->acquire_time) &&
	    str_same(a->renew_time, b->renew_time) &&
	    a->transitions == b->transitions;
}

void
lease_spec_from_json(struct lease_spec *s, yajl_val lease)
{
	yajl_val spec = json_get(lease, "spec", NULL);
	long long v;

	lease_spec_init(s);
	s->holder = xstrdup(json_gets(spec, "holderIdentity"));
	if (json_int(json_get(spec, "leaseDurationSeconds", NULL), &v))
		s->duration = v;
	s->acquire_time = xstrdup(json_gets(spec, "acquireTime"));
	s->renew_time = xstrdup(json_gets(spec, "renewTime"));
	if (json_int(json_get(spec, "leaseTransitions", NULL), &v))
		s->transitions = v;
}

void
lease_observed_init(struct lease_observed *o)
{
	o->valid = false;
	lease_spec_init(&o->spec);
	o->time = 0;
}

void
lease_observed_release(struct lease_observed *o)
{
	lease_spec_release(&o->spec);
	lease_observed_init(o);
}

void
lease_observe(struct lease_observed *o, const struct lease_spec *spec,
    double now)
{
	if (o->valid && lease_spec_equal(&o->spec, spec))
		return;
	lease_spec_copy(&o->spec, spec);
	o->valid = true;
	o->time = now;
}

bool
lease_observed_live(const struct lease_observed *o, double now)
{
	return o->valid && o->time + (double)o->spec.duration > now;
}

static const char *const lease_action_names[LEASE__COUNT] = {
	"wait", "create", "takeover", "renew",
};

const char *
lease_action_name(enum lease_action a)
{
	return a < LEASE__COUNT ? lease_action_names[a] : "unknown";
}

static char *
micro_now(double wall)
{
	char buf[TIMEFMT_MICRO_LEN];

	/* Only a clock beyond year 9999 fails; write null then. */
	if (timefmt_micro_d(wall, buf, sizeof(buf)) < 0)
		return NULL;
	return xstrdup(buf);
}

enum lease_action
lease_decide(const struct lease_input *in, struct lease_observed *obs,
    struct lease_spec *out)
{
	struct lease_spec cur;
	const char *holder;
	enum lease_action act;

	lease_spec_init(out);
	if (in->lease == NULL) {
		out->holder = xstrdup(in->identity);
		out->duration = in->duration;
		out->acquire_time = micro_now(in->wall_now);
		out->renew_time = xstrdup(out->acquire_time);
		out->transitions = 0;
		return LEASE_CREATE;
	}

	lease_spec_from_json(&cur, in->lease);
	lease_observe(obs, &cur, in->mono_now);
	holder = cur.holder ? cur.holder : "";
	if (*holder != '\0' && strcmp(holder, in->identity) != 0 &&
	    lease_observed_live(obs, in->mono_now)) {
		lease_spec_release(&cur);
		return LEASE_WAIT;
	}

	out->holder = xstrdup(in->identity);
	out->duration = in->duration;
	out->renew_time = micro_now(in->wall_now);
	if (strcmp(holder, in->identity) == 0) {
		act = LEASE_RENEW;
		out->acquire_time = cur.acquire_time ?
		    xstrdup(cur.acquire_time) : xstrdup(out->renew_time);
		out->transitions = cur.transitions;
	} else {
		act = LEASE_TAKEOVER;
		out->acquire_time = xstrdup(out->renew_time);
		out->transitions = cur.transitions + 1;
	}
	lease_spec_release(&cur);
	return act;
}

/* Copies one metadata map of prev (labels, annotations) if present. */
static void
copy_meta(struct jw *w, yajl_val prev, const char *key)
{
	yajl_val v = json_get(prev, "metadata", key, NULL);

	if (v == NULL || !YAJL_IS_OBJECT(v))
		return;
	jw_key(w, key);
	jw_value(w, v);
}

char *
lease_body(const char *ns, const char *name, const char *rv,
    const struct lease_spec *spec, yajl_val prev)
{
	struct jw w;

	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "apiVersion", kres_leases.api_version);
	jw_kstr(&w, "kind", kres_leases.kind);
	jw_key(&w, "metadata");
	jw_obj_open(&w);
	jw_kstr(&w, "name", name);
	jw_kstr(&w, "namespace", ns);
	if (rv)
		jw_kstr(&w, "resourceVersion", rv);
	copy_meta(&w, prev, "labels");
	copy_meta(&w, prev, "annotations");
	jw_obj_close(&w);
	jw_key(&w, "spec");
	jw_obj_open(&w);
	jw_kstr(&w, "holderIdentity", spec->holder ? spec->holder : "");
	jw_kint(&w, "leaseDurationSeconds", spec->duration);
	jw_kstr(&w, "acquireTime", spec->acquire_time);
	jw_kstr(&w, "renewTime", spec->renew_time);
	jw_kint(&w, "leaseTransitions", spec->transitions);
	jw_obj_close(&w);
	jw_obj_close(&w);
	return jw_finish(&w, NULL);
}

char *
lease_identity_new(void)
{
	unsigned char r[16];
	char host[256];
	size_t i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		for (i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(rand_unit() * 256);
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);	/* version 4 */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		strlcpy0(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	return xasprintf("%s_%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", host, r[0], r[1], r[2], r[3], r[4],
	    r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
	    r[15]);
}

/* ---- the elector ---------------------------------------------------------- */

enum le_state {
	LE_IDLE,
	LE_WAITING,
	LE_RENEWING,
	LE_GETTING,
	LE_CREATING,
	LE_UPDATING,
	LE_RELEASING,
	LE_STOPPED,
	LE__COUNT
};

static const char *const le_state_names[LE__COUNT] = {
	"IDLE", "WAITING", "RENEWING", "GETTING", "CREATING", "UPDATING",
	"RELEASING", "STOPPED",
};

struct lease {
	struct khttp *http;
	struct ev_loop *loop;
	char *ns;
	char *name;
	char *identity;
	char *log_name;			/* "ns/name" */
	double renew_deadline;
	double retry_period;
	double jitter;
	double release_timeout;
	long long duration_s;		/* leaseDurationSeconds we write */
	void (*on_started_leading)(void *arg);
	void (*on_stopped_leading)(void *arg);
	void *arg;

	enum le_state state;
	bool leading;
	struct kreq *req;		/* the request in flight */
	double sent_at;			/* mono time req was started */
	ev_timer timer;
	struct lease_observed obs;
	yajl_val cached;		/* the Lease as last read or written */
	bool cached_ours;		/* cached is the answer to our write */
	double last_renew;		/* mono send time of our last good write */
	bool release_retried;		/* one GET+PUT after a release 409 */
	double release_by;		/* mono time the release gives up */
	void (*release_done)(void *arg);
	void *release_arg;
};

static void le_attempt(struct lease *le, bool fast);
static void le_release_finish(struct lease *le);

static void
le_set_state(struct lease *le, enum le_state st)
{
	if (le->state != st)
		log_debug("lease state", "lease", le->log_name, "state",
		    le_state_names[st]);
	le->state = st;
}

static void
le_arm(struct lease *le, double after)
{
	ev_timer_stop(le->loop, &le->timer);
	ev_timer_set(&le->timer, after > 0 ? after : 0., 0.);
	ev_timer_start(le->loop, &le->timer);
}

static void
le_set_cached(struct lease *le, yajl_val v)
{
	if (le->cached)
		json_free(le->cached);
	le->cached = v;
}

static const char *
le_cached_rv(const struct lease *le)
{
	return json_gets(le->cached, "metadata.resourceVersion");
}

/* Waits before the next attempt: the renew period while leading, the
 * jittered retry period otherwise. */
static void
le_schedule(struct lease *le)
{
	double d = le->retry_period;

	if (!le->leading && le->jitter > 0)
		d += rand_unit() * le->jitter * le->retry_period;
	if (!le->leading && le->obs.valid && le->obs.spec.holder &&
	    *le->obs.spec.holder) {
		/* Try again right when the holder's lease runs out on our
		 * clock, instead of up to a retry period later. */
		double left = le->obs.time + (double)le->obs.spec.duration -
		    mono_now() + 0.05;
		if (left > 0 && left < d)
			d = left;
	}
	if (le->leading) {
		/* Wake no later than the deadline, to stop on time. */
		double left = le->last_renew + le->renew_deadline - mono_now();
		if (left < d)
			d = left;
	}
	le_set_state(le, LE_WAITING);
	le_arm(le, d);
}

/* Tells the owner that leadership is gone. le->leading is already false
 * and the next state settled: the callback runs last, since it may call
 * lease_release(). */
static void
le_stopped(struct lease *le, const char *why)
{
	log_warn("leadership lost", "lease", le->log_name, "identity",
	    le->identity, "reason", why);
	if (le->on_stopped_leading)
		le->on_stopped_leading(le->arg);
}

static bool
le_deadline_passed(const struct lease *le, double now)
{
	return le->leading && now >= le->last_renew + le->renew_deadline;
}

/* An attempt failed (or we must wait): lose leadership past the deadline,
 * then wait for the next one. */
static void
le_fail(struct lease *le, const char *why)
{
	bool lost = le_deadline_passed(le, mono_now());

	if (lost)
		le->leading = false;
	le_schedule(le);
	if (lost)
		le_stopped(le, why);
}

static struct kreq *
le_request(struct lease *le, const char *method, const char *name,
    const char *body, kreq_done_fn done, double timeout)
{
	char *path = kres_path(&kres_leases, le->ns, name, NULL);
	struct kreq *r = khttp_request(le->http, method, path, done, le);
	double guard = timeout + 1;

	free(path);
	if (le->state == LE_RELEASING) {
		/* The whole release, a retry included, ends by release_by. */
		timeout = le->release_by - mono_now();
		if (timeout < 0.001)
			timeout = 0.001;
		guard = timeout;
	}
	if (body)
		kreq_set_body(r, "application/json", body, strlen(body));
	kreq_set_timeout(r, timeout);
	kreq_set_retries(r, 0);		/* we pace our own retries */
	le->req = r;
	le->sent_at = mono_now();
	kreq_start(r);
	/* The timer guards the request; while leading it is the deadline. */
	if (le->leading) {
		double left = le->last_renew + le->renew_deadline - le->sent_at;
		if (left < guard)
			guard = left;
	}
	le_arm(le, guard);
	return r;
}

/* Parses a successful response body; NULL when it is not a Lease. */
static yajl_val
le_parse(const struct kreq *r)
{
	char err[128];
	yajl_val v = json_parse(r->body.data ? r->body.data : "", r->body.len,
	    err, sizeof(err));

	if (v && json_gets(v, "metadata.resourceVersion") == NULL) {
		json_free(v);
		v = NULL;
	}
	return v;
}

static void
le_log_failure(struct lease *le, const struct kreq *r, const char *what)
{
	char text[256];

	kwrite_error_text(r, text, sizeof(text));
	log_info("lease attempt failed", "lease", le->log_name, "identity",
	    le->identity, "step", what, "err", text);
}

/* A write (POST/PUT) we made succeeded with the Lease in v. */
static void
le_write_ok(struct lease *le, yajl_val v)
{
	struct lease_spec s;
	bool started = !le->leading;

	lease_spec_from_json(&s, v);
	lease_observe(&le->obs, &s, mono_now());
	lease_spec_release(&s);
	le_set_cached(le, v);
	le->cached_ours = true;
	le->last_renew = le->sent_at;
	le->leading = true;
	le_schedule(le);
	if (started) {
		log_info("leadership acquired", "lease", le->log_name,
		    "identity", le->identity);
		if (le->on_started_leading)
			le->on_started_leading(le->arg);
	}
}

static void
le_write_done(struct kreq *r, void *arg)
{
	struct lease *le = arg;
	enum le_state st = le->state;
	yajl_val v = NULL;

	le->req = NULL;
	if (r->status >= 200 && r->status < 300 && (v = le_parse(r)) != NULL) {
		le_write_ok(le, v);
		return;
	}
	le_log_failure(le, r, le_state_names[st]);
	if (st == LE_RENEWING && !le_deadline_passed(le, mono_now())) {
		/* Fast path failed (stale RV, ...): slow path at once. */
		le_attempt(le, false);
		return;
	}
	/* 409 on CREATING/UPDATING: someone else won this round. */
	le_fail(le, "renew failed");
}

static void
le_write(struct lease *le, enum le_state st, const struct lease_spec *spec,
    const char *rv)
{
	char *body = lease_body(le->ns, le->name, rv, spec, le->cached);

	le_set_state(le, st);
	le_request(le, st == LE_CREATING ? "POST" : "PUT",
	    st == LE_CREATING ? NULL : le->name, body, le_write_done,
	    le->renew_deadline);
	free(body);
}

static void
le_get_done(struct kreq *r, void *arg)
{
	struct lease *le = arg;
	struct lease_input in;
	struct lease_spec out;
	enum lease_action act;
	yajl_val v = NULL;

	le->req = NULL;
	if (r->status != 404 &&
	    (r->status != 200 || (v = le_parse(r)) == NULL)) {
		le_log_failure(le, r, "GET");
		le_fail(le, "renew failed");
		return;
	}
	le_set_cached(le, v);
	le->cached_ours = false;
	in.identity = le->identity;
	in.duration = le->duration_s;
	in.lease = v;
	in.mono_now = mono_now();
	in.wall_now = wall_now();
	act = lease_decide(&in, &le->obs, &out);
	switch (act) {
	case LEASE_WAIT:
		if (le->leading) {
			/* Someone else holds it: stop at once. */
			le->leading = false;
			le_schedule(le);
			le_stopped(le, "lease held by another candidate");
		} else {
			log_debug("lease held", "lease", le->log_name,
			    "holder", le->obs.spec.holder);
			le_schedule(le);
		}
		break;
	case LEASE_CREATE:
		le_write(le, LE_CREATING, &out, NULL);
		break;
	case LEASE_TAKEOVER:
		log_info("taking over lease", "lease", le->log_name,
		    "identity", le->identity, "previous", le->obs.spec.holder);
		/* fall through */
	case LEASE_RENEW:
		le_write(le, LE_UPDATING, &out, le_cached_rv(le));
		break;
	case LEASE__COUNT:
		le_schedule(le);
		break;
	}
	lease_spec_release(&out);
}

/* One tryAcquireOrRenew(): the fast path while we lead and our last write
 * is still valid (unless fast is false), else the GET of the slow path. */
static void
le_attempt(struct lease *le, bool fast)
{
	double now = mono_now();

	if (fast && le->leading && le->cached && le->cached_ours &&
	    lease_observed_live(&le->obs, now)) {
		struct lease_spec s;

		lease_spec_from_json(&s, le->cached);
		free(s.holder);
		s.holder = xstrdup(le->identity);
		s.duration = le->duration_s;
		free(s.renew_time);
		s.renew_time = micro_now(wall_now());
		le_write(le, LE_RENEWING, &s, le_cached_rv(le));
		lease_spec_release(&s);
		return;
	}
	le_set_state(le, LE_GETTING);
	le_request(le, "GET", le->name, NULL, le_get_done, le->renew_deadline);
}

static void
le_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct lease *le = container_of(w, struct lease, timer);
	double now = mono_now();

	(void)loop;
	(void)revents;
	switch (le->state) {
	case LE_WAITING:
		/* The next attempt is due (or the renew deadline). */
		if (le_deadline_passed(le, now)) {
			le_fail(le, "renew deadline passed");
			return;
		}
		le_attempt(le, true);
		return;
	case LE_RENEWING:
	case LE_GETTING:
	case LE_CREATING:
	case LE_UPDATING:
		/* The request outlived its guard (the renew deadline while
		 * leading). */
		if (le->req)
			kreq_cancel(le->req);
		le->req = NULL;
		log_info("lease request timed out", "lease", le->log_name,
		    "identity", le->identity, "state", le_state_names[le->state]);
		le_fail(le, "renew deadline passed");
		return;
	case LE_RELEASING:
		/* The release write took too long, or done is pending. */
		if (le->req) {
			kreq_cancel(le->req);
			le->req = NULL;
			log_warn("lease release timed out", "lease",
			    le->log_name, "identity", le->identity);
		}
		le_release_finish(le);
		return;
	case LE_IDLE:
	case LE_STOPPED:
	case LE__COUNT:
		return;
	}
}

void
lease_config_defaults(struct lease_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->lease_duration = LEASE_DURATION_DEFAULT;
	cfg->renew_deadline = LEASE_RENEW_DEADLINE_DEFAULT;
	cfg->retry_period = LEASE_RETRY_PERIOD_DEFAULT;
	cfg->jitter = LEASE_JITTER_DEFAULT;
	cfg->release_timeout = LEASE_RELEASE_TIMEOUT_DEFAULT;
}

struct lease *
lease_new(struct khttp *http, const struct lease_config *cfg, char *err,
    size_t errlen)
{
	struct lease *le;
	double jf = cfg->jitter > 1 ? cfg->jitter : 1;

	if (cfg->namespace == NULL || *cfg->namespace == '\0' ||
	    cfg->name == NULL || *cfg->name == '\0') {
		snprintf(err, errlen, "lease namespace and name are required");
		return NULL;
	}
	if (!(cfg->retry_period > 0 && cfg->renew_deadline > jf * cfg->retry_period &&
	    cfg->lease_duration > cfg->renew_deadline)) {
		snprintf(err, errlen, "lease timings must satisfy leaseDuration "
		    "> renewDeadline > %.1f * retryPeriod", jf);
		return NULL;
	}
	le = xcalloc(1, sizeof(*le));
	le->http = http;
	le->loop = khttp_loop(http);
	le->ns = xstrdup(cfg->namespace);
	le->name = xstrdup(cfg->name);
	le->identity = cfg->identity && *cfg->identity ?
	    xstrdup(cfg->identity) : lease_identity_new();
	le->log_name = xasprintf("%s/%s", le->ns, le->name);
	le->renew_deadline = cfg->renew_deadline;
	le->retry_period = cfg->retry_period;
	le->jitter = cfg->jitter;
	le->release_timeout = cfg->release_timeout > 0 ?
	    cfg->release_timeout : LEASE_RELEASE_TIMEOUT_DEFAULT;
	le->duration_s = (long long)dbl_ceil(cfg->lease_duration);
	le->on_started_leading = cfg->on_started_leading;
	le->on_stopped_leading = cfg->on_stopped_leading;
	le->arg = cfg->arg;
	le->state = LE_IDLE;
	lease_observed_init(&le->obs);
	ev_timer_init(&le->timer, le_timer_cb, 0., 0.);
	return le;
}

void
lease_start(struct lease *le)
{
	if (le->state != LE_IDLE)
		return;
	log_info("lease election started", "lease", le->log_name, "identity",
	    le->identity);
	le_set_state(le, LE_WAITING);
	le_arm(le, 0);
}

static void
le_release_finish(struct lease *le)
{
	void (*done)(void *) = le->release_done;
	void *arg = le->release_arg;

	ev_timer_stop(le->loop, &le->timer);
	le_set_state(le, LE_STOPPED);
	le->release_done = NULL;
	if (done)
		done(arg);	/* last: it may free le */
}

static void le_release_write(struct lease *le);

static void
le_release_get_done(struct kreq *r, void *arg)
{
	struct lease *le = arg;
	yajl_val v;
	struct lease_spec s;

	le->req = NULL;
	if (r->status != 200 || (v = le_parse(r)) == NULL) {
		le_release_finish(le);
		return;
	}
	le_set_cached(le, v);
	lease_spec_from_json(&s, v);
	if (streq(s.holder, le->identity)) {
		lease_spec_release(&s);
		le_release_write(le);
		return;
	}
	lease_spec_release(&s);
	le_release_finish(le);
}

static void
le_release_done(struct kreq *r, void *arg)
{
	struct lease *le = arg;
	char text[256];

	le->req = NULL;
	if (r->status >= 200 && r->status < 300) {
		log_info("lease released", "lease", le->log_name, "identity",
		    le->identity);
	} else if (r->status == 409 && !le->release_retried) {
		/* A renewal we cancelled landed after all: read and retry
		 * once, if the Lease is still ours. */
		le->release_retried = true;
		le_request(le, "GET", le->name, NULL, le_release_get_done,
		    le->release_timeout);
		return;
	} else {
		kwrite_error_text(r, text, sizeof(text));
		log_warn("lease release failed", "lease", le->log_name,
		    "identity", le->identity, "err", text);
	}
	le_release_finish(le);
}

static void
le_release_write(struct lease *le)
{
	struct lease_spec s;
	char *body;

	lease_spec_from_json(&s, le->cached);
	free(s.holder);
	s.holder = xstrdup("");
	s.duration = 1;
	free(s.acquire_time);
	free(s.renew_time);
	s.acquire_time = micro_now(wall_now());
	s.renew_time = xstrdup(s.acquire_time);
	body = lease_body(le->ns, le->name, le_cached_rv(le), &s, le->cached);
	lease_spec_release(&s);
	le_request(le, "PUT", le->name, body, le_release_done,
	    le->release_timeout);
	free(body);
}

void
lease_release(struct lease *le, void (*done)(void *arg), void *arg)
{
	bool was_leading = le->leading;

	if (le->state == LE_RELEASING || le->state == LE_STOPPED)
		return;
	if (le->req) {
		kreq_cancel(le->req);
		le->req = NULL;
	}
	ev_timer_stop(le->loop, &le->timer);
	le_set_state(le, LE_RELEASING);
	le->release_done = done;
	le->release_arg = arg;
	le->release_by = mono_now() + le->release_timeout;
	le->leading = false;
	if (!was_leading || le->cached == NULL) {
		/* Not the holder: nothing to write; done runs from the loop. */
		le_arm(le, 0);
		return;
	}
	/* Leader work stops before anyone can take over. */
	log_info("releasing lease", "lease", le->log_name, "identity",
	    le->identity);
	if (le->on_stopped_leading)
		le->on_stopped_leading(le->arg);
	le_release_write(le);
}

void
lease_free(struct lease *le)
{
	if (le == NULL)
		return;
	if (le->req)
		kreq_cancel(le->req);
	ev_timer_stop(le->loop, &le->timer);
	lease_observed_release(&le->obs);
	le_set_cached(le, NULL);
	free(le->ns);
	free(le->name);
	free(le->identity);
	free(le->log_name);
	free(le);
}

bool
lease_is_leader(const struct lease *le)
{
	return le->leading;
}

const char *
lease_identity(const struct lease *le)
{
	return le->identity;
}

const char *
lease_state_name(const struct lease *le)
{
	return le->state < LE__COUNT ? le_state_names[le->state] : "?";
}
