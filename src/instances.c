/*
 * instances.c - the registry of live database servers (see instances.h).
 *
 * An acquire goes through these steps, each waiting on the loop:
 *
 *   CRED  the admin credentials Secret (ksecret_get)
 *   TLS   the TLS Secret, when spec.tls.enabled and tls.secretRef is set
 *   POOL  pool_acquire() with the parameters built from both
 *   FAIL  an error found without waiting, handed over by a zero timer
 *
 * What the acquire needs from the spec is copied at the start (struct
 * ispec), so a cache update while a Secret is read changes nothing under
 * our feet.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_instance.h"
#include "duration.h"
#include "instances.h"
#include "ksecret.h"
#include "log.h"
#include "myconn.h"
#include "pgconn.h"
#include "pgtls.h"
#include "pool.h"
#include "resolve.h"

static const char *const errcode_names[INSTANCES_E__COUNT] = {
	"ok", "not-found", "invalid", "secret", "tls", "unsupported",
	"connect",
};

const char *
instances_errcode_name(enum instances_errcode c)
{
	return (unsigned)c < INSTANCES_E__COUNT ? errcode_names[c] : "?";
}

/* One server the pool has parameters for. */
struct inst {
	char *key;
	uint64_t spec_fp;	/* ispec_fingerprint() of the spec used */
	char *cred_rv;		/* resourceVersion of the admin Secret */
	char *tls_rv;		/* of the TLS Secret; "" when none */
	struct pgtls *tls;	/* one per instance and TLS Secret version */
	struct inst *next;
};

struct instances {
	struct ev_loop *loop;
	struct resolver *resolver;
	struct pool *pool;		/* PostgreSQL connections */
	struct pool *mypool;		/* MySQL / MariaDB connections */
	struct ksecret_cache *secrets;
	instances_lookup_fn lookup;
	void *lookup_arg;
	struct inst *insts;
	struct instances_wait *waits;
};

/* What an acquire needs from the spec, copied. */
struct ispec {
	enum api_engine engine;
	char *host;
	int port;
	char *database;
	char *cred_ns, *cred_name, *user_key, *pass_key;
	bool tls_enabled;
	char *tls_ns, *tls_name, *ca_key, *cert_key, *key_key;
	enum pgconn_sslmode sslmode;
	double connect_timeout;
	char *app_name;
	/* MySQL */
	enum myconn_tls my_tls;
	char *charset;
	double query_timeout;
};

enum wstep { W_CRED, W_TLS, W_POOL, W_FAIL };

struct instances_wait {
	struct instances *reg;
	enum wstep step;
	char *key;
	char *dbname;		/* NULL: the admin database */
	instances_fn cb;
	instances_info_fn info_cb;	/* instances_conninfo(): no pool */
	void *arg;
	struct ispec sp;
	struct ksecret_req *sreq;
	struct pool_wait *pw;
	char *user;
	char *password;		/* wiped when freed */
	char *cred_rv;
	struct instances_err err;
	ev_timer fail;
	struct instances_wait *next, *prev;
};

static void
ispec_release(struct ispec *s)
{
	free(s->host);
	free(s->database);
	free(s->cred_ns);
	free(s->cred_name);
	free(s->user_key);
	free(s->pass_key);
	free(s->tls_ns);
	free(s->tls_name);
	free(s->ca_key);
	free(s->cert_key);
	free(s->key_key);
	free(s->app_name);
	free(s->charset);
}

static char *
dup_or(const char *s, const char *def)
{
	return xstrdup(s && *s ? s : def);
}

/* The common part of ispec_from() for engine mysql: no default database
 * (the admin connection needs none), TLS from spec.tls, charset and
 * timeouts from spec.mysql. */
static int
ispec_mysql(struct ispec *s, const struct api_instance *in,
    const struct api_cred_ref *cred, struct instances_err *err)
{
	const struct api_instance_spec *sp = &in->spec;
	char why[128];
	double sec;

	s->database = xstrdup(sp->connection.database ?
	    sp->connection.database : "");
	s->cred_ns = xstrdup(in->meta.ns);
	s->cred_name = xstrdup(cred->name);
	s->user_key = dup_or(cred->username_key, "username");
	s->pass_key = dup_or(cred->password_key, "password");
	s->tls_enabled = sp->tls.enabled;
	if (sp->tls.enabled && sp->tls.secret.set && sp->tls.secret.name) {
		s->tls_ns = xstrdup(in->meta.ns);
		s->tls_name = xstrdup(sp->tls.secret.name);
		s->ca_key = dup_or(sp->tls.secret.ca, "ca.crt");
		s->cert_key = dup_or(sp->tls.secret.cert, "tls.crt");
		s->key_key = dup_or(sp->tls.secret.key, "tls.key");
	}
	/* spec.tls when enabled (it can verify: a CA, verify-ca/-full);
	 * otherwise spec.mysql.tls, which the original declared but never
	 * used (disabled, preferred, required, skip-verify = required). */
	if (!sp->tls.enabled && sp->mysql.set &&
	    sp->mysql.tls != API_MY_TLS_NONE) {
		if (myconn_tls_from_mysql_tls(api_my_tls_names[sp->mysql.tls],
		    &s->my_tls) < 0) {
			err->code = INSTANCES_EINVALID;
			snprintf(err->msg, sizeof(err->msg),
			    "unknown spec.mysql.tls");
			return -1;
		}
	} else if (myconn_tls_pick(sp->tls.enabled, (unsigned)sp->tls.mode <
	    API_TLS__COUNT ? api_tls_mode_names[sp->tls.mode] : NULL,
	    &s->my_tls) < 0) {
		err->code = INSTANCES_EINVALID;
		snprintf(err->msg, sizeof(err->msg), "unknown spec.tls.mode");
		return -1;
	}
	s->connect_timeout = 10;
	s->query_timeout = 30;
	if (sp->mysql.set) {
		if (sp->mysql.charset && *sp->mysql.charset)
			s->charset = xstrdup(sp->mysql.charset);
		if (sp->mysql.timeout && *sp->mysql.timeout &&
		    duration_parse_seconds(sp->mysql.timeout, &sec, why,
		    sizeof(why)) == 0 && sec > 0)
			s->connect_timeout = sec;
		if (sp->mysql.read_timeout && *sp->mysql.read_timeout &&
		    duration_parse_seconds(sp->mysql.read_timeout, &sec, why,
		    sizeof(why)) == 0 && sec > 0)
			s->query_timeout = sec;
	}
	return 0;
}

/* Copies the spec; -1 with err filled when it cannot be used. */
static int
ispec_from(struct ispec *s, const struct api_instance *in,
    struct instances_err *err)
{
	const struct api_instance_spec *sp = &in->spec;
	const struct api_cred_ref *cred = api_instance_credentials(sp);
	const char *pgmode = NULL;

	memset(s, 0, sizeof(*s));
	s->engine = sp->engine;
	if (sp->engine != API_ENGINE_POSTGRES &&
	    sp->engine != API_ENGINE_MYSQL) {
		err->code = INSTANCES_EUNSUPPORTED;
		snprintf(err->msg, sizeof(err->msg),
		    "engine %s is not supported yet",
		    (unsigned)sp->engine < API_ENGINE__COUNT &&
		    api_engine_names[sp->engine] ?
		    api_engine_names[sp->engine] : "?");
		return -1;
	}
	if (cred == NULL || cred->name == NULL || *cred->name == '\0') {
		err->code = INSTANCES_EINVALID;
		snprintf(err->msg, sizeof(err->msg),
		    "spec.connection.secretRef is not set");
		return -1;
	}
	s->host = xstrdup(sp->connection.host ? sp->connection.host : "");
	s->port = sp->connection.port;
	if (sp->engine == API_ENGINE_MYSQL)
		return ispec_mysql(s, in, cred, err);
	s->database = dup_or(sp->connection.database, "postgres");
	/* The instance's own namespace, whatever the reference says. */
	s->cred_ns = xstrdup(in->meta.ns);
	s->cred_name = xstrdup(cred->name);
	s->user_key = dup_or(cred->username_key, "username");
	s->pass_key = dup_or(cred->password_key, "password");
	s->tls_enabled = sp->tls.enabled;
	if (sp->tls.enabled && sp->tls.secret.set && sp->tls.secret.name) {
		s->tls_ns = xstrdup(in->meta.ns);
		s->tls_name = xstrdup(sp->tls.secret.name);
		s->ca_key = dup_or(sp->tls.secret.ca, "ca.crt");
		s->cert_key = dup_or(sp->tls.secret.cert, "tls.crt");
		s->key_key = dup_or(sp->tls.secret.key, "tls.key");
	}
	if (sp->postgres.set && (unsigned)sp->postgres.ssl_mode <
	    API_PG_SSL__COUNT)
		pgmode = api_pg_sslmode_names[sp->postgres.ssl_mode];
	if (pgconn_sslmode_pick(pgmode, sp->tls.enabled,
	    (unsigned)sp->tls.mode < API_TLS__COUNT ?
	    api_tls_mode_names[sp->tls.mode] : NULL, &s->sslmode) < 0) {
		err->code = INSTANCES_EINVALID;
		snprintf(err->msg, sizeof(err->msg), "unknown sslmode");
		return -1;
	}
	s->connect_timeout = sp->postgres.set && sp->postgres.connect_timeout > 0 ?
	    sp->postgres.connect_timeout : 10;
	if (sp->postgres.set && sp->postgres.application_name &&
	    *sp->postgres.application_name)
		s->app_name = xstrdup(sp->postgres.application_name);
	return 0;
}

/* ---- registry entries ---------------------------------------------------- */

static struct inst **
inst_find(struct instances *r, const char *key)
{
	struct inst **pp;

	for (pp = &r->insts; *pp; pp = &(*pp)->next)
		if (streq((*pp)->key, key))
			return pp;
	return NULL;
}

static void
inst_free(struct inst *in)
{
	pgtls_unref(in->tls);
	free(in->key);
	free(in->cred_rv);
	free(in->tls_rv);
	free(in);
}

void
instances_close_idle(struct instances *r, const char *key, const char *dbname)
{
	pool_close_idle_db(r->pool, key, dbname);
	pool_close_idle_db(r->mypool, key, dbname);
}

void
instances_forget(struct instances *r, const char *key)
{
	struct inst **pp = inst_find(r, key);
	struct inst *in;

	pool_drop_instance(r->pool, key);
	pool_drop_instance(r->mypool, key);
	if (pp == NULL)
		return;
	in = *pp;
	*pp = in->next;
	inst_free(in);
}

/* ---- acquire ------------------------------------------------------------- */

static void
wait_free(struct instances_wait *w)
{
	struct instances *r = w->reg;

	ev_timer_stop(r->loop, &w->fail);
	if (w->prev)
		w->prev->next = w->next;
	else
		r->waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	ispec_release(&w->sp);
	free(w->key);
	free(w->dbname);
	free(w->user);
	free_secret(w->password);
	free(w->cred_rv);
	free(w);
}

/* Reports an error and ends the acquire (from a loop callback). */
static void
wait_fail_now(struct instances_wait *w)
{
	instances_fn cb = w->cb;
	instances_info_fn info_cb = w->info_cb;
	void *arg = w->arg;
	struct instances_err err = w->err;

	wait_free(w);
	if (info_cb)
		info_cb(NULL, &err, arg);
	else
		cb(NULL, &err, arg);
}

/* instances_conninfo(): the parameters, instead of a connection. */
static void
wait_info(struct instances_wait *w, const struct pgconn_params *pg,
    const struct myconn_params *my)
{
	struct instances_conninfo ci;
	instances_info_fn cb = w->info_cb;
	void *arg = w->arg;

	ci.engine = w->sp.engine;
	ci.pg = pg;
	ci.my = my;
	/* w's strings back the parameters: free it after the call. */
	if (w->prev)
		w->prev->next = w->next;
	else
		w->reg->waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->reg = NULL;
	cb(&ci, NULL, arg);
	ispec_release(&w->sp);
	free(w->key);
	free(w->dbname);
	free(w->user);
	free_secret(w->password);
	free(w->cred_rv);
	free(w);
}

static void
fail_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	wait_fail_now(container_of(t, struct instances_wait, fail));
}

/* An error found inside instances_acquire(): deliver from the loop. */
static void
wait_fail_later(struct instances_wait *w)
{
	w->step = W_FAIL;
	ev_timer_start(w->reg->loop, &w->fail);
}

static void
pool_got(struct pool_conn *pc, const char *err, void *arg)
{
	struct instances_wait *w = arg;
	instances_fn cb = w->cb;
	void *cbarg = w->arg;

	w->pw = NULL;
	if (pc == NULL) {
		w->err.code = INSTANCES_ECONNECT;
		snprintf(w->err.msg, sizeof(w->err.msg), "%s", err);
		wait_fail_now(w);
		return;
	}
	wait_free(w);
	cb(pc, NULL, cbarg);
}

static void
fp_str(uint64_t *h, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	/* FNV-1a; the NUL ends each field, and a NULL differs from "". */
	*h ^= s ? 1 : 2;
	*h *= 0x100000001b3ULL;
	do {
		*h ^= *p;
		*h *= 0x100000001b3ULL;
	} while (*p++ != '\0');
}

static void
fp_num(uint64_t *h, double v)
{
	char b[32];

	snprintf(b, sizeof(b), "%.17g", v);
	fp_str(h, b);
}

/*
 * What the connections of an instance depend on. The entry (and every
 * connection of the instance) is replaced when it changes, and only then:
 * not on every new generation, since a generation also changes when
 * only a health-check interval changes, or when the instance is marked
 * for deletion -- and its dependents still need it then, to clean up.
 */
static uint64_t
ispec_fingerprint(const struct ispec *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	fp_num(&h, s->engine);
	fp_str(&h, s->host);
	fp_num(&h, s->port);
	fp_str(&h, s->database);
	fp_str(&h, s->cred_ns);
	fp_str(&h, s->cred_name);
	fp_str(&h, s->user_key);
	fp_str(&h, s->pass_key);
	fp_num(&h, s->tls_enabled);
	fp_str(&h, s->tls_ns);
	fp_str(&h, s->tls_name);
	fp_str(&h, s->ca_key);
	fp_str(&h, s->cert_key);
	fp_str(&h, s->key_key);
	fp_num(&h, s->sslmode);
	fp_num(&h, s->connect_timeout);
	fp_str(&h, s->app_name);
	fp_num(&h, s->my_tls);
	fp_str(&h, s->charset);
	fp_num(&h, s->query_timeout);
	return h;
}

/* Both Secrets read: bring the registry entry up to date and ask the
 * pool. tls_rv is "" without TLS Secret; pem holds its material. */
static void
wait_connect(struct instances_wait *w, const char *tls_rv,
    const struct pgtls_pem *pem)
{
	struct instances *r = w->reg;
	struct inst **pp = inst_find(r, w->key), *in;
	struct pgconn_params p;
	char err[256];
	uint64_t fp;

	in = pp ? *pp : NULL;
	fp = ispec_fingerprint(&w->sp);
	if (in && (in->spec_fp != fp ||
	    !streq(in->cred_rv, w->cred_rv) || !streq(in->tls_rv, tls_rv))) {
		log_info("instance parameters changed, dropping its connections",
		    "instance", w->key);
		instances_forget(r, w->key);
		in = NULL;
	}
	if (in == NULL) {
		struct pgtls *tls = NULL;

		if (pem) {
			tls = pgtls_new(pem, err, sizeof(err));
			if (tls == NULL) {
				w->err.code = INSTANCES_ETLS;
				snprintf(w->err.msg, sizeof(w->err.msg),
				    "TLS material in secret %s/%s: %s",
				    w->sp.tls_ns, w->sp.tls_name, err);
				wait_fail_now(w);
				return;
			}
		}
		in = xcalloc(1, sizeof(*in));
		in->key = xstrdup(w->key);
		in->spec_fp = fp;
		in->cred_rv = xstrdup(w->cred_rv);
		in->tls_rv = xstrdup(tls_rv);
		in->tls = tls;
		in->next = r->insts;
		r->insts = in;
	}
	if (w->sp.engine == API_ENGINE_MYSQL) {
		struct myconn_params mp;

		memset(&mp, 0, sizeof(mp));
		mp.host = w->sp.host;
		mp.port = w->sp.port;
		mp.dbname = w->sp.database;
		mp.user = w->user;
		mp.password = w->password;
		mp.tls_mode = w->sp.my_tls;
		mp.tls = in->tls;
		mp.connect_timeout = w->sp.connect_timeout;
		mp.query_timeout = w->sp.query_timeout;
		mp.charset = w->sp.charset;
		if (w->info_cb) {
			mp.dbname = w->dbname ? w->dbname : w->sp.database;
			wait_info(w, NULL, &mp);
			return;
		}
		w->step = W_POOL;
		w->pw = pool_acquire(r->mypool, w->key,
		    w->dbname ? w->dbname : w->sp.database, &mp, pool_got, w);
		free_secret(w->password);
		w->password = NULL;
		return;
	}
	memset(&p, 0, sizeof(p));
	p.host = w->sp.host;
	p.port = w->sp.port;
	p.dbname = w->sp.database;
	p.user = w->user;
	p.password = w->password;
	p.sslmode = w->sp.sslmode;
	p.tls = in->tls;
	p.connect_timeout = w->sp.connect_timeout;
	p.application_name = w->sp.app_name;
	if (w->info_cb) {
		p.dbname = w->dbname ? w->dbname : w->sp.database;
		wait_info(w, &p, NULL);
		return;
	}
	w->step = W_POOL;
	w->pw = pool_acquire(r->pool, w->key,
	    w->dbname ? w->dbname : w->sp.database, &p, pool_got, w);
	/* The pool keeps its own copy. */
	free_secret(w->password);
	w->password = NULL;
}

static void
secret_failed(struct instances_wait *w, const struct ksecret_err *err)
{
	w->err.code = INSTANCES_ESECRET;
	w->err.secret = err->code;
	snprintf(w->err.msg, sizeof(w->err.msg), "%s", err->msg);
	wait_fail_now(w);
}

static void
tls_got(const struct ksecret *s, const struct ksecret_err *err, void *arg)
{
	struct instances_wait *w = arg;
	struct pgtls_pem pem;

	w->sreq = NULL;
	if (s == NULL) {
		secret_failed(w, err);
		return;
	}
	/* Missing keys are absent material (api.md §4.7). */
	memset(&pem, 0, sizeof(pem));
	pem.ca = ksecret_value(s, w->sp.ca_key, &pem.ca_len);
	pem.cert = ksecret_value(s, w->sp.cert_key, &pem.cert_len);
	pem.key = ksecret_value(s, w->sp.key_key, &pem.key_len);
	wait_connect(w, ksecret_resource_version(s), &pem);
}

static void
cred_got(const struct ksecret *s, const struct ksecret_err *err, void *arg)
{
	struct instances_wait *w = arg;
	struct ksecret_err kerr;
	const char *user, *pw;

	w->sreq = NULL;
	if (s == NULL) {
		secret_failed(w, err);
		return;
	}
	memset(&kerr, 0, sizeof(kerr));
	user = ksecret_require_text(s, w->sp.user_key, NULL, &kerr);
	pw = user ? ksecret_require_text(s, w->sp.pass_key, NULL, &kerr) :
	    NULL;
	if (user == NULL || pw == NULL) {
		secret_failed(w, &kerr);
		return;
	}
	w->user = xstrdup(user);
	w->password = xstrdup(pw);
	w->cred_rv = xstrdup(ksecret_resource_version(s));
	if (w->sp.tls_name) {
		w->step = W_TLS;
		w->sreq = ksecret_get(w->reg->secrets, w->sp.tls_ns,
		    w->sp.tls_name, tls_got, w);
		return;
	}
	wait_connect(w, "", NULL);
}

static struct instances_wait *
wait_start(struct instances *r, const char *key, const char *dbname,
    instances_fn cb, instances_info_fn info_cb, void *arg)
{
	struct instances_wait *w = xcalloc(1, sizeof(*w));
	const struct api_instance *in;
	const char *slash = strchr(key, '/');
	char why[INSTANCES_ERR_LEN];
	bool notfound = false;

	w->reg = r;
	w->key = xstrdup(key);
	w->dbname = dbname ? xstrdup(dbname) : NULL;
	w->cb = cb;
	w->info_cb = info_cb;
	w->arg = arg;
	ev_timer_init(&w->fail, fail_cb, 0., 0.);
	w->next = r->waits;
	if (r->waits)
		r->waits->prev = w;
	r->waits = w;

	if (slash == NULL) {
		w->err.code = INSTANCES_ENOTFOUND;
		snprintf(w->err.msg, sizeof(w->err.msg),
		    "bad instance key \"%s\"", key);
		wait_fail_later(w);
		return w;
	}
	{
		char *ns = xstrndup(key, (size_t)(slash - key));

		why[0] = '\0';
		in = r->lookup(r->lookup_arg, ns, slash + 1, &notfound, why,
		    sizeof(why));
		free(ns);
	}
	if (in == NULL) {
		w->err.code = notfound ? INSTANCES_ENOTFOUND : INSTANCES_EINVALID;
		if (notfound)
			snprintf(w->err.msg, sizeof(w->err.msg),
			    "databaseinstance %s not found", key);
		else
			snprintf(w->err.msg, sizeof(w->err.msg),
			    "databaseinstance %s has an invalid spec: %s", key,
			    why);
		wait_fail_later(w);
		return w;
	}
	if (ispec_from(&w->sp, in, &w->err) < 0) {
		wait_fail_later(w);
		return w;
	}
	w->step = W_CRED;
	w->sreq = ksecret_get(r->secrets, w->sp.cred_ns, w->sp.cred_name,
	    cred_got, w);
	return w;
}

struct instances_wait *
instances_acquire(struct instances *r, const char *key, const char *dbname,
    instances_fn cb, void *arg)
{
	return wait_start(r, key, dbname, cb, NULL, arg);
}

struct instances_wait *
instances_conninfo(struct instances *r, const char *key, const char *dbname,
    instances_info_fn cb, void *arg)
{
	return wait_start(r, key, dbname, NULL, cb, arg);
}

void
instances_cancel(struct instances_wait *w)
{
	if (w == NULL)
		return;
	ksecret_cancel(w->sreq);
	if (w->pw)
		pool_cancel(w->pw);
	wait_free(w);
}

void
instances_release(struct instances *r, struct pool_conn *pc, bool broken)
{
	(void)r;
	pool_release(pool_conn_pool(pc), pc, broken);
}

enum api_engine
instances_conn_engine(struct instances *r, const struct pool_conn *pc)
{
	return pool_conn_pool(pc) == r->mypool ? API_ENGINE_MYSQL :
	    API_ENGINE_POSTGRES;
}

struct pool *
instances_pool(struct instances *r)
{
	return r->pool;
}

struct ksecret_cache *
instances_secrets(struct instances *r)
{
	return r->secrets;
}

struct instances *
instances_new(struct ev_loop *loop, struct khttp *http,
    instances_lookup_fn lookup, void *lookup_arg, unsigned max_per_instance,
    char *err, size_t errlen)
{
	struct instances *r;
	struct resolver_config rc;
	struct pool_config pc;
	struct resolver *rs;

	memset(&rc, 0, sizeof(rc));
	rs = resolver_new(loop, &rc, err, errlen);
	if (rs == NULL)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->loop = loop;
	r->resolver = rs;
	memset(&pc, 0, sizeof(pc));
	pc.max_per_instance = max_per_instance ? max_per_instance :
	    INSTANCES_MAX_PER_INSTANCE;
	r->pool = pool_new(loop, &pc, &pgconn_pool_ops, rs);
	r->mypool = pool_new(loop, &pc, &myconn_pool_ops, rs);
	r->secrets = ksecret_cache_new(http, KSECRET_TTL);
	r->lookup = lookup;
	r->lookup_arg = lookup_arg;
	return r;
}

void
instances_free(struct instances *r)
{
	if (r == NULL)
		return;
	while (r->waits)
		instances_cancel(r->waits);
	pool_free(r->pool);
	pool_free(r->mypool);
	while (r->insts) {
		struct inst *in = r->insts;

		r->insts = in->next;
		inst_free(in);
	}
	ksecret_cache_free(r->secrets);
	resolver_free(r->resolver);
	free(r);
}
