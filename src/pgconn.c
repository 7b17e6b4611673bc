/*
 * pgconn.c - libpq's asynchronous API as a state machine on libev.
 *
 * Shape (PgBouncer's test/asynctest.c plus what it leaves out): connect
 * with PQconnectStartParams + PQconnectPoll driven by the socket watcher,
 * PQsetnonblocking once connected, PQsendQueryParams + PQflush while it
 * says 1, then PQconsumeInput / PQisBusy / PQgetResult until NULL.
 *
 * pgconn_step() is the only place that moves the state forward; it loops
 * while it can make progress and, before returning to wait, leaves armed
 * exactly the watchers the state needs. Callbacks to the owner are always
 * the last thing a step does.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "buf.h"
#include "log.h"
#include "pgconn.h"
#include "pgtls.h"
#include "pool.h"
#include "resolve.h"

#define PGCONN_DEFAULT_PORT 5432
#define PGCONN_DEFAULT_CONNECT_TIMEOUT 10.0
#define PGCONN_DEFAULT_QUERY_TIMEOUT 30.0
#define PGCONN_DEFAULT_CHECK_INTERVAL_MS 2000
#define PGCONN_APPNAME "dbprovd"

static const char *const state_names[PGCONN__COUNT] = {
	[PGCONN_NEW] = "NEW",
	[PGCONN_RESOLVING] = "RESOLVING",
	[PGCONN_CONNECTING] = "CONNECTING",
	[PGCONN_SETUP] = "SETUP",
	[PGCONN_READY] = "READY",
	[PGCONN_SENDING] = "SENDING",
	[PGCONN_BUSY] = "BUSY",
	[PGCONN_FAILED] = "FAILED",
	[PGCONN_CLOSED] = "CLOSED",
};

static const char *const sslmode_names[PGCONN_SSL__COUNT] = {
	[PGCONN_SSL_DISABLE] = "disable",
	[PGCONN_SSL_ALLOW] = "allow",
	[PGCONN_SSL_PREFER] = "prefer",
	[PGCONN_SSL_REQUIRE] = "require",
	[PGCONN_SSL_VERIFY_CA] = "verify-ca",
	[PGCONN_SSL_VERIFY_FULL] = "verify-full",
};

static const char *const errcode_names[PGCONN_E__COUNT] = {
	[PGCONN_OK] = "ok",
	[PGCONN_EUSAGE] = "usage",
	[PGCONN_ERESOLVE] = "resolve",
	[PGCONN_ECONNECT] = "connect",
	[PGCONN_ETIMEOUT] = "timeout",
	[PGCONN_ESERVER] = "server",
	[PGCONN_ELOST] = "lost",
};

struct pgconn {
	struct ev_loop *loop;
	struct resolver *rs;
	unsigned id;
	enum pgconn_state state;
	PGconn *pg;
	ev_io io;		/* PQsocket(), re-set after every connect poll */
	int io_fd;
	int io_events;
	ev_timer timer;		/* connect timeout, then per-query timeout */
	ev_timer kick;		/* zero-delay step: reports that must not run
				 * inside the call that caused them */
	ev_prepare reap;	/* frees after pgconn_free() from a callback */
	struct resolve res;
	struct pgconn_params *p;	/* own copy; password wiped early */
	double query_timeout;
	bool setup_flushing;	/* SETUP: still sending the statement */
	bool resolved;		/* RESOLVING: the answer is in res */
	struct pgconn_err err;	/* last error */
	struct pgconn_err fatal;	/* a FATAL the server sent unasked */
	int version;
	int pid;
	char desc[192];
	/* Owner callbacks; set while a report is due. */
	pgconn_connect_fn connect_cb;
	void *connect_arg;
	pgconn_result_fn result_cb;
	void *result_arg;
	pgconn_broken_fn broken_cb;
	void *broken_arg;
	bool broken_reported;
	/* Query in progress. */
	PGresult *result;	/* the first error, else the last result */
	struct pgconn_err qerr;
	unsigned depth;		/* owner callbacks running */
	bool freed;
};

static unsigned pgconn_seq;

static void pgconn_step(struct pgconn *c, int revents);

/* ---- names and small pure helpers ------------------------------------- */

const char *
pgconn_state_name(enum pgconn_state s)
{
	return (unsigned)s < PGCONN__COUNT ? state_names[s] : "?";
}

const char *
pgconn_sslmode_name(enum pgconn_sslmode m)
{
	return (unsigned)m < PGCONN_SSL__COUNT ? sslmode_names[m] : NULL;
}

int
pgconn_sslmode_parse(const char *s, enum pgconn_sslmode *out)
{
	unsigned i;

	for (i = 0; s != NULL && i < PGCONN_SSL__COUNT; i++) {
		if (strcmp(s, sslmode_names[i]) == 0) {
			*out = (enum pgconn_sslmode)i;
			return 0;
		}
	}
	return -1;
}

int
pgconn_sslmode_pick(const char *pg_sslmode, bool tls_enabled,
    const char *tls_mode, enum pgconn_sslmode *out)
{
	if (pg_sslmode != NULL && *pg_sslmode != '\0')
		return pgconn_sslmode_parse(pg_sslmode, out);
	if (tls_enabled && tls_mode != NULL && *tls_mode != '\0')
		return pgconn_sslmode_parse(tls_mode, out);
	*out = PGCONN_SSL_DISABLE;
	return 0;
}

const char *
pgconn_errcode_name(enum pgconn_errcode c)
{
	return (unsigned)c < PGCONN_E__COUNT ? errcode_names[c] : "?";
}

void
pgconn_one_line(char *out, size_t outlen, const char *msg)
{
	size_t o = 0;
	const char *s = msg ? msg : "";
	bool sep = false;

	if (outlen == 0)
		return;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	for (; *s && o + 1 < outlen; s++) {
		if (*s == '\n' || *s == '\r' || *s == '\t') {
			sep = true;
			continue;
		}
		if (sep) {
			/* "; " between lines; a lone tab becomes a space. */
			if (o > 0 && o + 3 < outlen) {
				out[o++] = ';';
				out[o++] = ' ';
			}
			sep = false;
			if (*s == ' ')
				while (s[1] == ' ')
					s++;
			if (*s == ' ')
				continue;
		}
		out[o++] = *s;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == ';'))
		o--;
	out[o] = '\0';
}

static void
err_set(struct pgconn_err *e, enum pgconn_errcode code, const char *sqlstate,
    const char *msg)
{
	e->code = code;
	strlcpy0(e->sqlstate, sqlstate ? sqlstate : "", sizeof(e->sqlstate));
	pgconn_one_line(e->msg, sizeof(e->msg), msg);
}

/* ---- parameters ---------------------------------------------------------- */

struct pgconn_params *
pgconn_params_dup(const struct pgconn_params *p)
{
	struct pgconn_params *d = xcalloc(1, sizeof(*d));

	*d = *p;
	d->host = xstrdup(p->host);
	d->dbname = xstrdup(p->dbname);
	d->user = xstrdup(p->user);
	d->password = xstrdup(p->password);
	d->application_name = xstrdup(p->application_name);
	d->tls = pgtls_ref(p->tls);
	return d;
}

void
pgconn_params_free(struct pgconn_params *p)
{
	if (p == NULL)
		return;
	free((char *)p->host);
	free((char *)p->dbname);
	free((char *)p->user);
	free_secret((char *)p->password);
	free((char *)p->application_name);
	pgtls_unref(p->tls);
	free(p);
}

static void
kw_add(struct pgconn_kw *kw, const char *k, const char *v)
{
	if (kw->n >= PGCONN_MAX_KW)
		abort();	/* a programming error: raise PGCONN_MAX_KW */
	kw->keys[kw->n] = k;
	kw->vals[kw->n] = v;
	kw->n++;
	kw->keys[kw->n] = NULL;
	kw->vals[kw->n] = NULL;
}

static const char *
kw_own(struct pgconn_kw *kw, char *s)
{
	if (kw->nowned >= ARRAY_SIZE(kw->owned))
		abort();
	kw->owned[kw->nowned++] = s;
	return s;
}

int
pgconn_kw_build(struct pgconn_kw *kw, const struct pgconn_params *p,
    const struct resolve_addr *addrs, size_t naddrs, char *err,
    size_t errlen)
{
	const char *host = p->host;
	bool unix_socket;
	enum pgconn_sslmode mode = p->sslmode;
	const char *ca, *cert, *key;
	int port = p->port ? p->port : PGCONN_DEFAULT_PORT;
	double ct = p->connect_timeout > 0 ? p->connect_timeout :
	    PGCONN_DEFAULT_CONNECT_TIMEOUT;
	struct buf hb = BUF_INIT(0), ab = BUF_INIT(0);
	size_t i;

	memset(kw, 0, sizeof(*kw));
	if (host == NULL || *host == '\0') {
		snprintf(err, errlen, "no host given");
		return -1;
	}
	/* libpq reads "a,b" as a list of hosts. */
	if (strchr(host, ',') != NULL) {
		snprintf(err, errlen, "a host name cannot contain a comma");
		return -1;
	}
	if (p->dbname == NULL || *p->dbname == '\0' || p->user == NULL ||
	    *p->user == '\0') {
		snprintf(err, errlen, "a database and a user are required");
		return -1;
	}
	if (port < 1 || port > 65535) {
		snprintf(err, errlen, "port %d out of range", port);
		return -1;
	}
	if ((unsigned)mode >= PGCONN_SSL__COUNT) {
		snprintf(err, errlen, "invalid sslmode");
		return -1;
	}
	unix_socket = host[0] == '/';
	if (!unix_socket && naddrs == 0) {
		snprintf(err, errlen, "no address for host \"%s\"", host);
		return -1;
	}
	if (unix_socket || naddrs == 1) {
		kw_add(kw, "host", host);
	} else {
		for (i = 0; i < naddrs; i++)
			if (buf_printf(&hb, "%s%s", i ? "," : "", host) != 0)
				die_oom();
		kw_add(kw, "host", kw_own(kw, buf_detach(&hb, NULL)));
	}
	if (!unix_socket) {
		for (i = 0; i < naddrs; i++)
			if (buf_printf(&ab, "%s%s", i ? "," : "",
			    addrs[i].text) != 0)
				die_oom();
		kw_add(kw, "hostaddr", kw_own(kw, buf_detach(&ab, NULL)));
	}
	kw_add(kw, "port", kw_own(kw, xasprintf("%d", port)));
	kw_add(kw, "dbname", p->dbname);
	kw_add(kw, "user", p->user);
	if (p->password != NULL)
		kw_add(kw, "password", p->password);
	kw_add(kw, "sslmode", sslmode_names[mode]);
	/*
	 * Files: our private copies only. libpq falls back to ~/.postgresql/
	 * for any file not named, and a root.crt found there would silently
	 * turn require into verify-ca; naming a path that never exists stops
	 * that. verify-* without a CA use the system roots, as the original.
	 * With a CA, libpq verifies the chain in require/prefer/allow too
	 * (its documented behaviour).
	 */
	ca = pgtls_ca_file(p->tls);
	if (ca == NULL)
		ca = (mode == PGCONN_SSL_VERIFY_CA || mode == PGCONN_SSL_VERIFY_FULL) ?
		    PGCONN_SYSTEM_CA_FILE : PGCONN_NO_FILE;
	cert = pgtls_cert_file(p->tls);
	key = pgtls_key_file(p->tls);
	kw_add(kw, "sslrootcert", ca);
	kw_add(kw, "sslcert", cert ? cert : PGCONN_NO_FILE);
	kw_add(kw, "sslkey", key ? key : PGCONN_NO_FILE);
	/* Informational: libpq does not time out non-blocking connects
	 * (our timer does); its minimum is 2. */
	kw_add(kw, "connect_timeout", kw_own(kw, xasprintf("%d",
	    ct < 2 ? 2 : (int)dbl_ceil(ct))));
	kw_add(kw, "application_name", p->application_name ?
	    p->application_name : PGCONN_APPNAME);
	kw_add(kw, "client_encoding", "UTF8");
	/* No GSSAPI probing (a Kerberos lookup is not ours to wait for). */
	kw_add(kw, "gssencmode", "disable");
	if (p->statement_timeout_ms > 0)
		kw_add(kw, "options", kw_own(kw, xasprintf(
		    "-c statement_timeout=%d", p->statement_timeout_ms)));
	return 0;
}

void
pgconn_kw_release(struct pgconn_kw *kw)
{
	size_t i;

	for (i = 0; i < kw->nowned; i++)
		free(kw->owned[i]);
	memset(kw, 0, sizeof(*kw));
}

const char *
pgconn_kw_get(const struct pgconn_kw *kw, const char *key)
{
	size_t i;

	for (i = 0; i < kw->n; i++)
		if (strcmp(kw->keys[i], key) == 0)
			return kw->vals[i];
	return NULL;
}

/* ---- results ------------------------------------------------------------- */

const char *
pgconn_res_colname(const struct pgconn_result *r, int col)
{
	if (r->priv == NULL || col < 0 || col >= r->ncols)
		return NULL;
	return PQfname(r->priv, col);
}

const char *
pgconn_res_value(const struct pgconn_result *r, int row, int col)
{
	if (r->priv == NULL || row < 0 || row >= r->nrows || col < 0 ||
	    col >= r->ncols || PQgetisnull(r->priv, row, col))
		return NULL;
	return PQgetvalue(r->priv, row, col);
}

size_t
pgconn_res_len(const struct pgconn_result *r, int row, int col)
{
	if (pgconn_res_value(r, row, col) == NULL)
		return 0;
	return (size_t)PQgetlength(r->priv, row, col);
}

/* ---- watchers ------------------------------------------------------------ */

static void
set_state(struct pgconn *c, enum pgconn_state s)
{
	if (c->state == s)
		return;
	log_debug("pgconn state", "conn", c->desc, "from",
	    pgconn_state_name(c->state), "to", pgconn_state_name(s));
	c->state = s;
}

/*
 * Watches PQsocket() for events. While connecting, libpq may close its
 * socket and open another (next address, SSL fallback), possibly with the
 * same number, so the watcher is always stopped, set and started again
 * then (ev.pod, "the special problem of disappearing file descriptors");
 * once connected the socket is stable and an unchanged watcher is kept.
 */
static int
arm_io(struct pgconn *c, int events, bool force)
{
	int fd = c->pg ? PQsocket(c->pg) : -1;

	if (fd < 0)
		return -1;
	if (!force && ev_is_active(&c->io) && fd == c->io_fd &&
	    events == c->io_events)
		return 0;
	ev_io_stop(c->loop, &c->io);
	ev_io_set(&c->io, fd, events);
	ev_io_start(c->loop, &c->io);
	c->io_fd = fd;
	c->io_events = events;
	return 0;
}

static void
stop_io(struct pgconn *c)
{
	ev_io_stop(c->loop, &c->io);
	c->io_fd = -1;
	c->io_events = 0;
}

static void
start_timer(struct pgconn *c, double seconds)
{
	ev_timer_stop(c->loop, &c->timer);
	if (seconds > 0) {
		ev_timer_set(&c->timer, seconds, 0.);
		ev_timer_start(c->loop, &c->timer);
	}
}

static void
kick(struct pgconn *c)
{
	ev_timer_stop(c->loop, &c->kick);
	ev_timer_set(&c->kick, 0., 0.);
	ev_timer_start(c->loop, &c->kick);
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	pgconn_step(container_of(w, struct pgconn, io), revents);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	pgconn_step(container_of(w, struct pgconn, timer), EV_TIMER);
}

static void
kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	pgconn_step(container_of(w, struct pgconn, kick), 0);
}

static void
resolved_cb(struct resolve *r, void *arg)
{
	struct pgconn *c = arg;

	(void)r;
	c->resolved = true;
	pgconn_step(c, EV_CUSTOM);
}

static void
reap_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct pgconn *c = container_of(w, struct pgconn, reap);

	(void)revents;
	ev_prepare_stop(loop, &c->reap);
	free(c);
}

/* libpq prints notices on stderr unless told otherwise. */
static void
notice_cb(void *arg, const PGresult *res)
{
	struct pgconn *c = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	char msg[PGCONN_ERR_LEN];

	/* An error outside a query is the server saying why it is about to
	 * close the session (libpq hands it over as a notice): keep it for
	 * the report. */
	if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		err_set(&c->fatal, PGCONN_ELOST,
		    PQresultErrorField(res, PG_DIAG_SQLSTATE),
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	if (!log_enabled(LOG_DEBUG))
		return;
	pgconn_one_line(msg, sizeof(msg),
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	log_debug("postgres notice", "conn", c->desc, "severity", sev,
	    "msg", msg);
}

/* ---- life cycle ---------------------------------------------------------- */

struct pgconn *
pgconn_new(struct ev_loop *loop, struct resolver *rs)
{
	struct pgconn *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->rs = rs;
	c->id = ++pgconn_seq;
	c->io_fd = -1;
	c->query_timeout = PGCONN_DEFAULT_QUERY_TIMEOUT;
	ev_io_init(&c->io, io_cb, -1, 0);
	ev_timer_init(&c->timer, timer_cb, 0., 0.);
	ev_timer_init(&c->kick, kick_cb, 0., 0.);
	ev_prepare_init(&c->reap, reap_cb);
	if (rs != NULL)
		resolve_init(&c->res, rs);
	snprintf(c->desc, sizeof(c->desc), "pg#%u", c->id);
	return c;
}

/* Stops everything; no report is due afterwards. */
static void
close_now(struct pgconn *c)
{
	if (c->rs != NULL)
		resolve_cancel(&c->res);
	stop_io(c);
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_stop(c->loop, &c->kick);
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (c->result) {
		PQclear(c->result);
		c->result = NULL;
	}
	pgconn_params_free(c->p);
	c->p = NULL;
	c->connect_cb = NULL;
	c->result_cb = NULL;
	c->broken_cb = NULL;
	set_state(c, PGCONN_CLOSED);
}

void
pgconn_free(struct pgconn *c)
{
	if (c == NULL || c->freed)
		return;
	close_now(c);
	if (c->depth > 0) {
		/* Inside one of our callbacks: the step below it still holds
		 * c; release it between loop iterations. */
		c->freed = true;
		ev_prepare_start(c->loop, &c->reap);
		return;
	}
	free(c);
}

/* Enters FAILED: the connection is closed, the report is left to the
 * FAILED case of the step. */
static void
fail(struct pgconn *c, enum pgconn_errcode code, const char *sqlstate,
    const char *msg)
{
	err_set(&c->err, code, sqlstate, msg);
	if (c->rs != NULL)
		resolve_cancel(&c->res);
	stop_io(c);
	ev_timer_stop(c->loop, &c->timer);
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (c->p != NULL && c->p->password != NULL) {
		free_secret((char *)c->p->password);
		c->p->password = NULL;
	}
	log_debug("pgconn failed", "conn", c->desc, "error",
	    pgconn_errcode_name(code), "msg", c->err.msg);
	set_state(c, PGCONN_FAILED);
}

/* Fails with libpq's current message, prefixed. */
static void
fail_pq(struct pgconn *c, enum pgconn_errcode code, const char *what)
{
	char msg[PGCONN_ERR_LEN * 2];

	if (code == PGCONN_ELOST && c->fatal.code != PGCONN_OK) {
		struct pgconn_err f = c->fatal;

		fail(c, code, f.sqlstate, f.msg);
		return;
	}
	snprintf(msg, sizeof(msg), "%s%s", what,
	    c->pg ? PQerrorMessage(c->pg) : "no connection");
	fail(c, code, NULL, msg);
}

int
pgconn_connect(struct pgconn *c, const struct pgconn_params *p,
    pgconn_connect_fn cb, void *arg)
{
	struct pgconn_kw kw;
	char err[PGCONN_ERR_LEN];
	int port;

	if (c->state != PGCONN_NEW) {
		err_set(&c->err, PGCONN_EUSAGE, NULL, "connect: not a new connection");
		return -1;
	}
	/* Validate everything now, with a dummy address. */
	{
		struct resolve_addr dummy;

		memset(&dummy, 0, sizeof(dummy));
		strlcpy0(dummy.text, "127.0.0.1", sizeof(dummy.text));
		if (pgconn_kw_build(&kw, p, &dummy, 1, err, sizeof(err)) != 0) {
			err_set(&c->err, PGCONN_EUSAGE, NULL, err);
			return -1;
		}
		pgconn_kw_release(&kw);
	}
	if (p->host[0] != '/' && c->rs == NULL) {
		err_set(&c->err, PGCONN_EUSAGE, NULL, "no resolver for a host name");
		return -1;
	}
	c->p = pgconn_params_dup(p);
	port = p->port ? p->port : PGCONN_DEFAULT_PORT;
	snprintf(c->desc, sizeof(c->desc), "pg#%u %s@%s:%d/%s", c->id,
	    p->user, p->host, port, p->dbname);
	if (p->query_timeout != 0)
		c->query_timeout = p->query_timeout;
	c->connect_cb = cb;
	c->connect_arg = arg;
	memset(&c->err, 0, sizeof(c->err));
	start_timer(c, p->connect_timeout > 0 ? p->connect_timeout :
	    PGCONN_DEFAULT_CONNECT_TIMEOUT);
	set_state(c, PGCONN_RESOLVING);
	if (p->host[0] == '/') {
		/* A socket directory: nothing to resolve. */
		c->resolved = true;
		c->res.status = 0;
		c->res.naddrs = 0;
		kick(c);
		return 0;
	}
	if (resolve_start(&c->res, p->host, port, resolved_cb, c) != 0) {
		fail(c, PGCONN_ERESOLVE, NULL, c->res.err);
		kick(c);
	}
	return 0;
}

/* RESOLVING -> CONNECTING: hands the addresses to libpq. */
static void
start_libpq(struct pgconn *c)
{
	struct pgconn_kw kw;
	char err[PGCONN_ERR_LEN];
	int rc;

	rc = pgconn_kw_build(&kw, c->p, c->res.addrs, c->res.naddrs, err,
	    sizeof(err));
	if (rc != 0) {
		fail(c, PGCONN_EUSAGE, NULL, err);
		return;
	}
	/* expand_dbname = 0: a dbname is a name, never a connection string. */
	c->pg = PQconnectStartParams(kw.keys, kw.vals, 0);
	pgconn_kw_release(&kw);
	/* libpq has its own copy now (and wipes it in PQfinish). */
	free_secret((char *)c->p->password);
	c->p->password = NULL;
	if (c->pg == NULL)
		die_oom();
	PQsetNoticeReceiver(c->pg, notice_cb, c);
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		fail_pq(c, PGCONN_ECONNECT, "");
		return;
	}
	set_state(c, PGCONN_CONNECTING);
	/* PQconnectStartParams counts as a poll that answered WRITING. */
	if (arm_io(c, EV_WRITE, true) != 0)
		fail_pq(c, PGCONN_ECONNECT, "no socket: ");
}

/* Connected: non-blocking mode, then SETUP or READY. */
static void
connected(struct pgconn *c)
{
	int interval = c->p->check_interval_ms;

	if (PQsetnonblocking(c->pg, 1) != 0) {
		fail_pq(c, PGCONN_ECONNECT, "cannot make the connection non-blocking: ");
		return;
	}
	c->version = PQserverVersion(c->pg);
	c->pid = PQbackendPID(c->pg);
	if (interval == 0)
		interval = PGCONN_DEFAULT_CHECK_INTERVAL_MS;
	if (interval > 0 && c->version >= 140000) {
		char val[32];
		const char *vals[1] = { val };

		snprintf(val, sizeof(val), "%d", interval);
		if (!PQsendQueryParams(c->pg, "SELECT pg_catalog.set_config("
		    "'client_connection_check_interval', $1, false)", 1, NULL,
		    vals, NULL, NULL, 0)) {
			fail_pq(c, PGCONN_ELOST, "");
			return;
		}
		c->setup_flushing = true;
		set_state(c, PGCONN_SETUP);
		if (arm_io(c, EV_WRITE, false) != 0)
			fail_pq(c, PGCONN_ELOST, "");
		return;
	}
	ev_timer_stop(c->loop, &c->timer);
	set_state(c, PGCONN_READY);
	if (arm_io(c, EV_READ, false) != 0)
		fail_pq(c, PGCONN_ELOST, "");
}

/* CONNECTING: one PQconnectPoll after the socket became ready. */
static void
connect_poll(struct pgconn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_OK:
		connected(c);
		break;
	case PGRES_POLLING_READING:
		if (arm_io(c, EV_READ, true) != 0)
			fail_pq(c, PGCONN_ECONNECT, "no socket: ");
		break;
	case PGRES_POLLING_WRITING:
		if (arm_io(c, EV_WRITE, true) != 0)
			fail_pq(c, PGCONN_ECONNECT, "no socket: ");
		break;
	case PGRES_POLLING_FAILED:
	default:
		fail_pq(c, PGCONN_ECONNECT, "");
		break;
	}
}

/* Keeps the first error result, else the last one. */
static void
keep_result(struct pgconn *c, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (c->result != NULL && PQresultStatus(c->result) == PGRES_FATAL_ERROR) {
		PQclear(res);
		return;
	}
	if (c->result)
		PQclear(c->result);
	c->result = res;
	if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
		err_set(&c->qerr, PGCONN_ESERVER,
		    PQresultErrorField(res, PG_DIAG_SQLSTATE),
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
		    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
		    PQresultErrorMessage(res));
	} else if (st == PGRES_BAD_RESPONSE) {
		err_set(&c->qerr, PGCONN_ESERVER, NULL,
		    PQresultErrorMessage(res));
	}
}

/* The statement's results are all in: SETUP -> READY, BUSY -> READY (or
 * FAILED when the server closed the session with the answer). */
static void
query_done(struct pgconn *c)
{
	ev_timer_stop(c->loop, &c->timer);
	if (c->state == PGCONN_SETUP) {
		if (c->qerr.code != PGCONN_OK)
			log_debug("pgconn setup statement failed", "conn",
			    c->desc, "msg", c->qerr.msg);
		if (c->result)
			PQclear(c->result);
		c->result = NULL;
		memset(&c->qerr, 0, sizeof(c->qerr));
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		/* Keep the server's reason (57P01 ...) for the report. */
		if (c->qerr.code != PGCONN_OK)
			fail(c, PGCONN_ELOST, c->qerr.sqlstate, c->qerr.msg);
		else
			fail_pq(c, PGCONN_ELOST, "");
		return;
	}
	set_state(c, PGCONN_READY);
	if (arm_io(c, EV_READ, false) != 0)
		fail_pq(c, PGCONN_ELOST, "");
}

/*
 * SETUP, SENDING, BUSY: moves the statement out and its results in.
 * Returns true when the state changed (step again), false to wait.
 */
static bool
query_io(struct pgconn *c, int revents)
{
	bool flushing = c->state == PGCONN_SENDING ||
	    (c->state == PGCONN_SETUP && c->setup_flushing);

	if ((revents & EV_READ) && !PQconsumeInput(c->pg)) {
		fail_pq(c, PGCONN_ELOST, "");
		return true;
	}
	if (flushing) {
		/* libpq: wait for read or write readiness while 1; reading
		 * (above) keeps the server from blocking on its output. */
		switch (PQflush(c->pg)) {
		case 1:
			log_debug("pgconn output pending", "conn", c->desc);
			if (arm_io(c, EV_READ | EV_WRITE, false) != 0)
				fail_pq(c, PGCONN_ELOST, "");
			return c->state == PGCONN_FAILED;
		case 0:
			break;
		default:
			fail_pq(c, PGCONN_ELOST, "");
			return true;
		}
		if (c->state == PGCONN_SENDING)
			set_state(c, PGCONN_BUSY);
		c->setup_flushing = false;
		if (arm_io(c, EV_READ, false) != 0) {
			fail_pq(c, PGCONN_ELOST, "");
			return true;
		}
	}
	while (!PQisBusy(c->pg)) {
		PGresult *res = PQgetResult(c->pg);
		ExecStatusType st;

		if (res == NULL) {
			query_done(c);
			return true;
		}
		st = PQresultStatus(res);
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
		    st == PGRES_COPY_BOTH) {
			PQclear(res);
			fail(c, PGCONN_EUSAGE, NULL,
			    "COPY is not supported on this connection");
			return true;
		}
		keep_result(c, res);
	}
	return false;
}

/* READY: the server spoke unasked -- a notice, or goodbye. */
static void
idle_input(struct pgconn *c)
{
	PGresult *res;
	PGnotify *n;

	if (!PQconsumeInput(c->pg)) {
		fail_pq(c, PGCONN_ELOST, "");
		return;
	}
	while ((n = PQnotifies(c->pg)) != NULL)
		PQfreemem(n);
	while (!PQisBusy(c->pg) && (res = PQgetResult(c->pg)) != NULL) {
		if (PQresultStatus(res) == PGRES_FATAL_ERROR)
			keep_result(c, res);
		else
			PQclear(res);
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		if (c->qerr.code != PGCONN_OK)
			fail(c, PGCONN_ELOST, c->qerr.sqlstate, c->qerr.msg);
		else
			fail_pq(c, PGCONN_ELOST, "");
	}
	if (c->result) {
		PQclear(c->result);
		c->result = NULL;
	}
	memset(&c->qerr, 0, sizeof(c->qerr));
}

/* ---- reports (always the last thing a step does) ------------------------- */

static void
report_connect(struct pgconn *c, const struct pgconn_err *err)
{
	pgconn_connect_fn cb = c->connect_cb;

	c->connect_cb = NULL;
	c->depth++;
	cb(c, err, c->connect_arg);
	c->depth--;
}

static void
report_result(struct pgconn *c, const struct pgconn_err *failure)
{
	pgconn_result_fn cb = c->result_cb;
	struct pgconn_result r;
	PGresult *res = c->result;

	c->result = NULL;
	c->result_cb = NULL;
	memset(&r, 0, sizeof(r));
	if (failure != NULL)
		r.err = *failure;
	else
		r.err = c->qerr;
	memset(&c->qerr, 0, sizeof(c->qerr));
	r.cmd_tag = "";
	if (r.err.code == PGCONN_OK && res != NULL) {
		r.priv = res;
		r.cmd_tag = PQcmdStatus(res);
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			r.nrows = PQntuples(res);
			r.ncols = PQnfields(res);
		}
	}
	c->depth++;
	cb(c, &r, c->result_arg);
	c->depth--;
	if (res)
		PQclear(res);
}

static void
report_broken(struct pgconn *c)
{
	c->broken_reported = true;
	if (c->broken_cb == NULL)
		return;
	c->depth++;
	c->broken_cb(c, c->broken_arg);
	c->depth--;
}

/* ---- the step ------------------------------------------------------------ */

static void
pgconn_step(struct pgconn *c, int revents)
{
	char msg[PGCONN_ERR_LEN];

	for (;;) {
		switch (c->state) {
		/* Nothing to wait for. */
		case PGCONN_NEW:
		case PGCONN_CLOSED:
		case PGCONN__COUNT:
			return;

		/* Waits for c-ares (resolved_cb: EV_CUSTOM) or the connect
		 * timer. */
		case PGCONN_RESOLVING:
			if (revents & EV_TIMER) {
				snprintf(msg, sizeof(msg), "timed out resolving "
				    "host \"%s\"", c->p->host);
				fail(c, PGCONN_ETIMEOUT, NULL, msg);
				break;
			}
			if (!c->resolved)
				return;
			c->resolved = false;
			revents = 0;
			if (c->res.status != 0)
				fail(c, PGCONN_ERESOLVE, NULL, c->res.err);
			else
				start_libpq(c);
			break;

		/* Waits for the socket as PQconnectPoll asked, or the connect
		 * timer (libpq does not time out non-blocking connects). */
		case PGCONN_CONNECTING:
			if (revents & EV_TIMER) {
				snprintf(msg, sizeof(msg), "timed out after %gs "
				    "connecting to %s", c->p->connect_timeout > 0 ?
				    c->p->connect_timeout :
				    PGCONN_DEFAULT_CONNECT_TIMEOUT, c->desc);
				fail(c, PGCONN_ETIMEOUT, NULL, msg);
				break;
			}
			if (!(revents & (EV_READ | EV_WRITE)))
				return;
			revents = 0;
			connect_poll(c);
			if (c->state == PGCONN_CONNECTING)
				return;
			break;

		/* SETUP waits like SENDING/BUSY, under the connect timer;
		 * SENDING waits for the socket to take the statement (PQflush),
		 * BUSY for its results, both under the query timer. */
		case PGCONN_SETUP:
		case PGCONN_SENDING:
		case PGCONN_BUSY:
			if (revents & EV_TIMER) {
				if (c->state == PGCONN_SETUP)
					snprintf(msg, sizeof(msg), "timed out "
					    "setting up the session on %s", c->desc);
				else
					snprintf(msg, sizeof(msg), "query timed "
					    "out after %gs; connection closed",
					    c->query_timeout);
				fail(c, PGCONN_ETIMEOUT, NULL, msg);
				break;
			}
			if (!query_io(c, revents))
				return;
			revents = 0;
			break;

		/* Idle, watching the socket for the server going away; first
		 * reports what brought us here. */
		case PGCONN_READY:
			if (c->connect_cb) {
				report_connect(c, NULL);
				return;
			}
			if (c->result_cb) {
				report_result(c, NULL);
				return;
			}
			if (!(revents & EV_READ))
				return;
			revents = 0;
			idle_input(c);
			if (c->state == PGCONN_READY)
				return;
			break;

		/* Closed; reports to whoever waits: the connector, the
		 * query, or (once) the owner of an idle connection. */
		case PGCONN_FAILED:
			if (c->connect_cb)
				report_connect(c, &c->err);
			else if (c->result_cb)
				report_result(c, &c->err);
			else if (!c->broken_reported)
				report_broken(c);
			return;
		}
	}
}

/* ---- queries ----------------------------------------------------------- */

int
pgconn_query(struct pgconn *c, const char *sql, int nparams,
    const char *const *params, pgconn_result_fn cb, void *arg)
{
	if (c->state == PGCONN_FAILED) {
		/* pgconn_error() still says why it failed. */
		return -1;
	}
	if (c->state != PGCONN_READY || c->connect_cb != NULL ||
	    c->result_cb != NULL) {
		char msg[96];

		snprintf(msg, sizeof(msg), "query: connection is %s%s",
		    pgconn_state_name(c->state),
		    c->result_cb ? " with a result pending" : "");
		err_set(&c->err, PGCONN_EUSAGE, NULL, msg);
		return -1;
	}
	if (sql == NULL || nparams < 0 || nparams > 65535 ||
	    (nparams > 0 && params == NULL)) {
		err_set(&c->err, PGCONN_EUSAGE, NULL, "query: bad arguments");
		return -1;
	}
	memset(&c->qerr, 0, sizeof(c->qerr));
	if (!PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL,
	    0)) {
		char msg[PGCONN_ERR_LEN];

		pgconn_one_line(msg, sizeof(msg), PQerrorMessage(c->pg));
		if (PQstatus(c->pg) == CONNECTION_BAD) {
			/* Nobody waits for a report: the caller has -1. */
			c->broken_reported = true;
			fail(c, PGCONN_ELOST, NULL, msg);
		} else {
			err_set(&c->err, PGCONN_EUSAGE, NULL, msg);
		}
		return -1;
	}
	c->result_cb = cb;
	c->result_arg = arg;
	set_state(c, PGCONN_SENDING);
	start_timer(c, c->query_timeout);
	/* Flush from the loop: reports never run inside this call. */
	if (arm_io(c, EV_WRITE, false) != 0) {
		fail_pq(c, PGCONN_ELOST, "");
		kick(c);
	}
	return 0;
}

void
pgconn_set_query_timeout(struct pgconn *c, double seconds)
{
	c->query_timeout = seconds;
}

void
pgconn_set_broken_cb(struct pgconn *c, pgconn_broken_fn cb, void *arg)
{
	c->broken_cb = cb;
	c->broken_arg = arg;
}

/* ---- accessors ----------------------------------------------------------- */

enum pgconn_state
pgconn_state(const struct pgconn *c)
{
	return c->state;
}

bool
pgconn_is_broken(const struct pgconn *c)
{
	if (c->state == PGCONN_FAILED || c->state == PGCONN_CLOSED)
		return true;
	return c->pg != NULL && PQstatus(c->pg) == CONNECTION_BAD;
}

const struct pgconn_err *
pgconn_error(const struct pgconn *c)
{
	return &c->err;
}

int
pgconn_server_version(const struct pgconn *c)
{
	return c->pg ? c->version : 0;
}

int
pgconn_backend_pid(const struct pgconn *c)
{
	return c->pg ? c->pid : 0;
}

const char *
pgconn_describe(const struct pgconn *c)
{
	return c->desc;
}

static char *
escape(struct pgconn *c, const char *s, bool ident, char *err, size_t errlen)
{
	char *e, *out;

	if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK ||
	    c->state < PGCONN_READY || c->state > PGCONN_BUSY) {
		snprintf(err, errlen, "escape: not connected");
		return NULL;
	}
	if (s == NULL) {
		snprintf(err, errlen, "escape: no string");
		return NULL;
	}
	e = ident ? PQescapeIdentifier(c->pg, s, strlen(s)) :
	    PQescapeLiteral(c->pg, s, strlen(s));
	if (e == NULL) {
		pgconn_one_line(err, errlen, PQerrorMessage(c->pg));
		return NULL;
	}
	out = xstrdup(e);
	PQfreemem(e);
	return out;
}

char *
pgconn_escape_identifier(struct pgconn *c, const char *s, char *err,
    size_t errlen)
{
	return escape(c, s, true, err, errlen);
}

char *
pgconn_escape_literal(struct pgconn *c, const char *s, char *err,
    size_t errlen)
{
	return escape(c, s, false, err, errlen);
}

char *
pgconn_encrypt_password(struct pgconn *c, const char *user,
    const char *password, char *err, size_t errlen)
{
	char *e, *out;

	if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK ||
	    c->state < PGCONN_READY || c->state > PGCONN_BUSY) {
		snprintf(err, errlen, "encrypt password: not connected");
		return NULL;
	}
	/* With the algorithm named, libpq computes the verifier locally
	 * (no query to read password_encryption). */
	e = PQencryptPasswordConn(c->pg, password, user, "scram-sha-256");
	if (e == NULL) {
		pgconn_one_line(err, errlen, PQerrorMessage(c->pg));
		return NULL;
	}
	out = xstrdup(e);
	secure_zero(e, strlen(e));
	PQfreemem(e);
	return out;
}

/* ---- pool glue ----------------------------------------------------------- */

static void
pgpool_connected(struct pgconn *c, const struct pgconn_err *err, void *arg)
{
	(void)c;
	pool_conn_connected(arg, err ? err->msg : NULL);
}

static void
pgpool_broken(struct pgconn *c, void *arg)
{
	(void)c;
	pool_conn_lost(arg);
}

static void *
pgpool_connect(void *ops_arg, struct ev_loop *loop, const void *params,
    const char *dbname, struct pool_conn *slot, char *err, size_t errlen)
{
	struct pgconn_params p = *(const struct pgconn_params *)params;
	struct pgconn *c = pgconn_new(loop, ops_arg);

	p.dbname = dbname;
	if (pgconn_connect(c, &p, pgpool_connected, slot) != 0) {
		strlcpy0(err, c->err.msg, errlen);
		pgconn_free(c);
		return NULL;
	}
	pgconn_set_broken_cb(c, pgpool_broken, slot);
	return c;
}

static void
pgpool_close(void *conn)
{
	pgconn_free(conn);
}

static bool
pgpool_is_broken(const void *conn)
{
	return pgconn_is_broken(conn);
}

static void *
pgpool_params_dup(const void *params)
{
	return pgconn_params_dup(params);
}

static void
pgpool_params_free(void *params)
{
	pgconn_params_free(params);
}

const struct pool_ops pgconn_pool_ops = {
	.engine = "postgres",
	.connect = pgpool_connect,
	.close = pgpool_close,
	.is_broken = pgpool_is_broken,
	.params_dup = pgpool_params_dup,
	.params_free = pgpool_params_free,
};
