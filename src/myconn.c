/*
 * myconn.c - MariaDB Connector/C's non-blocking API as a state machine on
 * libev.
 *
 * Shape (MariaDB's tests/async_queries.c, written out as a switch): every
 * operation is a *_start() call followed by *_cont() calls, each returning
 * 0 when the operation is done or the MYSQL_WAIT_* events it waits for.
 * await() turns those into watchers; what woke us goes back to *_cont() as
 * a MYSQL_WAIT_* mask.
 *
 * myconn_step() is the only place that moves the state forward; it loops
 * while it can make progress and, before returning to wait, leaves armed
 * exactly the watchers the state needs. Callbacks to the owner are always
 * the last thing a step does.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <mysql.h>
#include <errmsg.h>
/*
 * Connector/C's own headers for the connection's I/O object: the only way
 * to the session's OpenSSL handle (for the host name check after
 * connecting). HAVE_TLS gives MARIADB_TLS its real type, as in the
 * library's build; ma_tls.h uses uchar before ma_pvio.h defines it
 * (C11 allows the repeated typedef); the headers predate strict
 * prototypes.
 */
typedef unsigned char uchar;
#ifndef HAVE_TLS
#define HAVE_TLS 1
#endif
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <ma_pvio.h>
#include <ma_tls.h>
#pragma GCC diagnostic pop
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "myconn.h"
#include "pgtls.h"
#include "pool.h"
#include "resolve.h"

#define MYCONN_DEFAULT_PORT 3306
#define MYCONN_DEFAULT_CONNECT_TIMEOUT 10.0
#define MYCONN_DEFAULT_QUERY_TIMEOUT 30.0
#define MYCONN_DEFAULT_CHARSET "utf8mb4"
#define MYCONN_TLS_VERSIONS "TLSv1.2,TLSv1.3"

/* Wake-up reasons besides EV_READ / EV_WRITE (the socket): */
#define WAKE_DEADLINE EV_TIMER		/* our connect / query timer */
#define WAKE_LIB_TIMEOUT EV_PERIODIC	/* Connector/C's MYSQL_WAIT_TIMEOUT */
#define WAKE_RESOLVED EV_CUSTOM		/* c-ares answered */

static const char *const state_names[MYCONN__COUNT] = {
	[MYCONN_NEW] = "NEW",
	[MYCONN_RESOLVING] = "RESOLVING",
	[MYCONN_CONNECTING] = "CONNECTING",
	[MYCONN_READY] = "READY",
	[MYCONN_QUERYING] = "QUERYING",
	[MYCONN_FETCHING] = "FETCHING",
	[MYCONN_DRAINING] = "DRAINING",
	[MYCONN_FAILED] = "FAILED",
	[MYCONN_CLOSED] = "CLOSED",
};

static const char *const tls_names[MYCONN_TLS__COUNT] = {
	[MYCONN_TLS_DISABLED] = "disabled",
	[MYCONN_TLS_PREFERRED] = "preferred",
	[MYCONN_TLS_REQUIRED] = "required",
	[MYCONN_TLS_VERIFY_CA] = "verify-ca",
	[MYCONN_TLS_VERIFY_FULL] = "verify-full",
};

static const char *const errcode_names[MYCONN_E__COUNT] = {
	[MYCONN_OK] = "ok",
	[MYCONN_EUSAGE] = "usage",
	[MYCONN_ERESOLVE] = "resolve",
	[MYCONN_ECONNECT] = "connect",
	[MYCONN_ETIMEOUT] = "timeout",
	[MYCONN_ESERVER] = "server",
	[MYCONN_ELOST] = "lost",
};

/* A stored result with direct access to rows and lengths. */
struct myres {
	MYSQL_RES *res;
	MYSQL_FIELD *fields;
	MYSQL_ROW *rows;
	unsigned long *lens;	/* nrows * ncols */
	int nrows;
	int ncols;
};

struct myconn {
	struct ev_loop *loop;
	struct resolver *rs;
	unsigned id;
	enum myconn_state state;
	MYSQL *m;
	ev_io io;		/* mysql_get_socket(), re-set on every wait */
	ev_timer timer;		/* connect timeout, then per-query timeout */
	ev_timer wtimer;	/* MYSQL_WAIT_TIMEOUT of the library */
	ev_timer kick;		/* zero-delay step: work and reports that must
				 * not run inside the call that asked */
	ev_prepare reap;	/* frees after myconn_free() from a callback */
	struct resolve res;
	struct resolve_addr addrs[RESOLVE_MAX_ADDRS];
	size_t naddrs;
	size_t addr_i;		/* address of the current attempt */
	struct myconn_params *p;	/* own copy; password wiped early */
	struct myconn_opts opts;	/* of the current attempt */
	char hostbuf[256];	/* the host argument of real_connect */
	double query_timeout;
	bool resolved;		/* RESOLVING: the answer is in res */
	bool started;		/* the current *_start() has been called */
	bool host_swapped;	/* verify-full: the name is in m->host */
	int wait;		/* MYSQL_WAIT_* being waited for */
	struct myconn_err err;	/* last error */
	unsigned long version;
	unsigned long thread_id;
	char info[96];
	char desc[192];
	/* Owner callbacks; set while a report is due. */
	myconn_connect_fn connect_cb;
	void *connect_arg;
	myconn_result_fn result_cb;
	void *result_arg;
	myconn_broken_fn broken_cb;
	void *broken_arg;
	bool broken_reported;
	/* Query in progress. */
	char *sql;
	size_t sql_len;
	struct myres *qres;	/* the first result set */
	struct myconn_err qerr;
	unsigned long long affected;
	unsigned long long insert_id;
	unsigned warnings;
	bool have_result;	/* affected/insert_id/qres are the answer */
	bool drain_store;	/* DRAINING: a result set is to be read */
	unsigned depth;		/* owner callbacks running */
	bool freed;
};

static unsigned myconn_seq;

static void myconn_step(struct myconn *c, int revents);

/* ---- names and small pure helpers ------------------------------------- */

const char *
myconn_state_name(enum myconn_state s)
{
	return (unsigned)s < MYCONN__COUNT ? state_names[s] : "?";
}

const char *
myconn_tls_name(enum myconn_tls m)
{
	return (unsigned)m < MYCONN_TLS__COUNT ? tls_names[m] : NULL;
}

int
myconn_tls_parse(const char *s, enum myconn_tls *out)
{
	unsigned i;

	for (i = 0; s != NULL && i < MYCONN_TLS__COUNT; i++) {
		if (strcmp(s, tls_names[i]) == 0) {
			*out = (enum myconn_tls)i;
			return 0;
		}
	}
	return -1;
}

int
myconn_tls_from_sslmode(const char *mode, enum myconn_tls *out)
{
	static const struct {
		const char *word;
		enum myconn_tls mode;
	} map[] = {
		{ "disable", MYCONN_TLS_DISABLED },
		{ "allow", MYCONN_TLS_PREFERRED },
		{ "prefer", MYCONN_TLS_PREFERRED },
		{ "require", MYCONN_TLS_REQUIRED },
		{ "verify-ca", MYCONN_TLS_VERIFY_CA },
		{ "verify-full", MYCONN_TLS_VERIFY_FULL },
	};
	size_t i;

	if (mode == NULL || *mode == '\0') {
		*out = MYCONN_TLS_DISABLED;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(map); i++) {
		if (strcmp(mode, map[i].word) == 0) {
			*out = map[i].mode;
			return 0;
		}
	}
	return -1;
}

int
myconn_tls_from_mysql_tls(const char *v, enum myconn_tls *out)
{
	static const struct {
		const char *word;
		enum myconn_tls mode;
	} map[] = {
		{ "disabled", MYCONN_TLS_DISABLED },
		{ "preferred", MYCONN_TLS_PREFERRED },
		{ "required", MYCONN_TLS_REQUIRED },
		{ "skip-verify", MYCONN_TLS_REQUIRED },
	};
	size_t i;

	if (v == NULL || *v == '\0') {
		*out = MYCONN_TLS_PREFERRED;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(map); i++) {
		if (strcmp(v, map[i].word) == 0) {
			*out = map[i].mode;
			return 0;
		}
	}
	return -1;
}

int
myconn_tls_pick(bool tls_enabled, const char *tls_mode, enum myconn_tls *out)
{
	if (!tls_enabled) {
		*out = MYCONN_TLS_DISABLED;
		return 0;
	}
	return myconn_tls_from_sslmode(tls_mode, out);
}

const char *
myconn_errcode_name(enum myconn_errcode c)
{
	return (unsigned)c < MYCONN_E__COUNT ? errcode_names[c] : "?";
}

enum myconn_errcode
myconn_errcode_for(unsigned e, bool connecting)
{
	if (e >= CR_MIN_ERROR && e <= CR_MAX_ERROR)
		return connecting ? MYCONN_ECONNECT : MYCONN_ELOST;
	if (connecting)
		return MYCONN_ECONNECT;	/* access denied, unknown database */
	return MYCONN_ESERVER;
}

/* Copies msg as one line: control characters become spaces, runs of
 * blanks collapse, surrounding blanks go. */
static void
one_line(char *out, size_t outlen, const char *msg)
{
	size_t o = 0;
	const char *s = msg ? msg : "";
	bool blank = false;

	if (outlen == 0)
		return;
	for (; *s && o + 1 < outlen; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == ' ') {
			blank = o > 0;
			continue;
		}
		if (blank && o + 2 < outlen)
			out[o++] = ' ';
		blank = false;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
}

static void
err_set(struct myconn_err *e, enum myconn_errcode code, unsigned server_errno,
    const char *sqlstate, const char *msg)
{
	e->code = code;
	e->server_errno = server_errno;
	strlcpy0(e->sqlstate, sqlstate ? sqlstate : "", sizeof(e->sqlstate));
	/* Connector/C reports "HY000" for its own errors: not the server's. */
	if (server_errno >= CR_MIN_ERROR && server_errno <= CR_MAX_ERROR)
		e->sqlstate[0] = '\0';
	one_line(e->msg, sizeof(e->msg), msg);
}

/* ---- parameters ---------------------------------------------------------- */

struct myconn_params *
myconn_params_dup(const struct myconn_params *p)
{
	struct myconn_params *d = xcalloc(1, sizeof(*d));

	*d = *p;
	d->host = xstrdup(p->host);
	d->dbname = xstrdup(p->dbname);
	d->user = xstrdup(p->user);
	d->password = xstrdup(p->password);
	d->charset = xstrdup(p->charset);
	d->tls = pgtls_ref(p->tls);
	return d;
}

void
myconn_params_free(struct myconn_params *p)
{
	if (p == NULL)
		return;
	free((char *)p->host);
	free((char *)p->dbname);
	free((char *)p->user);
	free_secret((char *)p->password);
	free((char *)p->charset);
	pgtls_unref(p->tls);
	free(p);
}

static bool
charset_ok(const char *s)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		    *s == '_'))
			return false;
	return n > 0 && n < 32;
}

int
myconn_opts_build(struct myconn_opts *o, const struct myconn_params *p,
    const struct resolve_addr *addr, char *err, size_t errlen)
{
	enum myconn_tls mode = p->tls_mode;
	int port = p->port ? p->port : MYCONN_DEFAULT_PORT;
	double ct = p->connect_timeout > 0 ? p->connect_timeout :
	    MYCONN_DEFAULT_CONNECT_TIMEOUT;
	bool unix_socket;

	memset(o, 0, sizeof(*o));
	if (p->host == NULL || *p->host == '\0') {
		snprintf(err, errlen, "no host given");
		return -1;
	}
	if (p->user == NULL || *p->user == '\0') {
		snprintf(err, errlen, "a user is required");
		return -1;
	}
	if (port < 1 || port > 65535) {
		snprintf(err, errlen, "port %d out of range", port);
		return -1;
	}
	if ((unsigned)mode >= MYCONN_TLS__COUNT) {
		snprintf(err, errlen, "invalid TLS mode");
		return -1;
	}
	if (p->charset != NULL && !charset_ok(p->charset)) {
		snprintf(err, errlen, "invalid character set name");
		return -1;
	}
	unix_socket = p->host[0] == '/';
	if (!unix_socket && addr == NULL) {
		snprintf(err, errlen, "no address for host \"%s\"", p->host);
		return -1;
	}
	if (unix_socket) {
		o->unix_socket = p->host;
	} else {
		o->connect_host = addr->text;
		o->port = (unsigned)port;
	}
	o->dbname = p->dbname != NULL && *p->dbname != '\0' ? p->dbname : NULL;
	o->charset = p->charset ? p->charset : MYCONN_DEFAULT_CHARSET;
	o->connect_timeout = ct < 1 ? 1 : (unsigned)dbl_ceil(ct);
	if (mode == MYCONN_TLS_DISABLED)
		return 0;
	o->use_tls = true;
	o->must_tls = mode != MYCONN_TLS_PREFERRED;
	o->tls_versions = MYCONN_TLS_VERSIONS;
	o->cert = pgtls_cert_file(p->tls);
	o->key = pgtls_key_file(p->tls);
	/*
	 * Connector/C verifies the chain whenever it has a CA, so preferred
	 * and required get none: encrypted, not verified. verify-ca gets the
	 * CA without the name check; verify-full both.
	 */
	if (mode == MYCONN_TLS_VERIFY_CA || mode == MYCONN_TLS_VERIFY_FULL) {
		o->ca = pgtls_ca_file(p->tls);
		if (o->ca == NULL)
			o->ca = MYCONN_SYSTEM_CA_FILE;
	}
	if (mode == MYCONN_TLS_VERIFY_FULL) {
		o->verify_name = true;
		o->check_name = unix_socket ? NULL : p->host;
	}
	return 0;
}

/* ---- results ------------------------------------------------------------- */

static void
myres_free(struct myres *r)
{
	if (r == NULL)
		return;
	if (r->res)
		mysql_free_result(r->res);
	free(r->rows);
	free(r->lens);
	free(r);
}

/* Indexes a stored result (no I/O: the rows are in memory). */
static struct myres *
myres_new(MYSQL_RES *res)
{
	struct myres *r = xcalloc(1, sizeof(*r));
	my_ulonglong n = mysql_num_rows(res);
	unsigned nc = mysql_num_fields(res);
	int i;

	r->res = res;
	r->fields = mysql_fetch_fields(res);
	r->nrows = n > INT_MAX ? INT_MAX : (int)n;
	r->ncols = nc > INT_MAX ? INT_MAX : (int)nc;
	if (r->nrows > 0) {
		r->rows = xcalloc((size_t)r->nrows, sizeof(*r->rows));
		if (r->ncols > 0)
			r->lens = xcalloc((size_t)r->nrows * (size_t)r->ncols,
			    sizeof(*r->lens));
	}
	for (i = 0; i < r->nrows; i++) {
		MYSQL_ROW row = mysql_fetch_row(res);
		unsigned long *l;

		if (row == NULL) {
			r->nrows = i;
			break;
		}
		r->rows[i] = row;
		l = mysql_fetch_lengths(res);
		if (l != NULL && r->ncols > 0)
			memcpy(r->lens + (size_t)i * (size_t)r->ncols, l,
			    (size_t)r->ncols * sizeof(*l));
	}
	return r;
}

const char *
myconn_res_colname(const struct myconn_result *r, int col)
{
	const struct myres *m = r->priv;

	if (m == NULL || col < 0 || col >= m->ncols)
		return NULL;
	return m->fields[col].name;
}

const char *
myconn_res_value(const struct myconn_result *r, int row, int col)
{
	const struct myres *m = r->priv;

	if (m == NULL || row < 0 || row >= m->nrows || col < 0 ||
	    col >= m->ncols)
		return NULL;
	return m->rows[row][col];
}

int
myconn_res_nul_column(const struct myconn_result *r)
{
	const struct myres *m = r->priv;
	int row, col;

	if (m == NULL)
		return -1;
	for (row = 0; row < m->nrows; row++)
		for (col = 0; col < m->ncols; col++) {
			const char *v = m->rows[row][col];

			/* charset 63 is "binary": hashes may hold NULs */
			if (v != NULL && m->fields[col].charsetnr != 63 &&
			    strlen(v) != m->lens[(size_t)row *
			    (size_t)m->ncols + (size_t)col])
				return col;
		}
	return -1;
}

size_t
myconn_res_len(const struct myconn_result *r, int row, int col)
{
	const struct myres *m = r->priv;

	if (myconn_res_value(r, row, col) == NULL)
		return 0;
	return m->lens[(size_t)row * (size_t)m->ncols + (size_t)col];
}

/* ---- watchers ------------------------------------------------------------ */

static void
set_state(struct myconn *c, enum myconn_state s)
{
	if (c->state == s)
		return;
	log_debug("myconn state", "conn", c->desc, "from",
	    myconn_state_name(c->state), "to", myconn_state_name(s));
	c->state = s;
}

static void
stop_waits(struct myconn *c)
{
	ev_io_stop(c->loop, &c->io);
	ev_timer_stop(c->loop, &c->wtimer);
	c->wait = 0;
}

/*
 * Arms what a non-zero status of *_start() / *_cont() asks for. The socket
 * can be another one after each wait while connecting (next address, a
 * new handle), so the watcher is always stopped, set and started again
 * (ev.pod, "the special problem of disappearing file descriptors"). libev
 * has no exceptional-condition event: EXCEPT is watched as readability,
 * which a socket error or urgent data also causes.
 */
static int
await(struct myconn *c, int status)
{
	my_socket fd = mysql_get_socket(c->m);
	int events = 0;

	stop_waits(c);
	c->wait = status;
	if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT))
		events |= EV_READ;
	if (status & MYSQL_WAIT_WRITE)
		events |= EV_WRITE;
	if (events != 0) {
		if (fd == MARIADB_INVALID_SOCKET || (int)fd < 0)
			return -1;
		ev_io_set(&c->io, (int)fd, events);
		ev_io_start(c->loop, &c->io);
	}
	if (status & MYSQL_WAIT_TIMEOUT) {
		ev_timer_set(&c->wtimer,
		    mysql_get_timeout_value_ms(c->m) / 1000.0, 0.);
		ev_timer_start(c->loop, &c->wtimer);
	}
	return 0;
}

/* What woke us, as the MYSQL_WAIT_* mask *_cont() wants. */
static int
wake_mask(const struct myconn *c, int revents)
{
	int mask = 0;

	if (revents & EV_READ)
		mask |= c->wait & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT);
	if (revents & EV_WRITE)
		mask |= MYSQL_WAIT_WRITE;
	if (revents & WAKE_LIB_TIMEOUT)
		mask |= MYSQL_WAIT_TIMEOUT;
	return mask;
}

/* READY: watch the idle socket for the server going away. */
static int
watch_idle(struct myconn *c)
{
	my_socket fd = mysql_get_socket(c->m);

	stop_waits(c);
	if (fd == MARIADB_INVALID_SOCKET || (int)fd < 0)
		return -1;
	ev_io_set(&c->io, (int)fd, EV_READ);
	ev_io_start(c->loop, &c->io);
	return 0;
}

static void
start_timer(struct myconn *c, double seconds)
{
	ev_timer_stop(c->loop, &c->timer);
	if (seconds > 0) {
		ev_timer_set(&c->timer, seconds, 0.);
		ev_timer_start(c->loop, &c->timer);
	}
}

static void
kick(struct myconn *c)
{
	ev_timer_stop(c->loop, &c->kick);
	ev_timer_set(&c->kick, 0., 0.);
	ev_timer_start(c->loop, &c->kick);
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	myconn_step(container_of(w, struct myconn, io),
	    revents & (EV_READ | EV_WRITE));
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	myconn_step(container_of(w, struct myconn, timer), WAKE_DEADLINE);
}

static void
wtimer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	myconn_step(container_of(w, struct myconn, wtimer), WAKE_LIB_TIMEOUT);
}

static void
kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	myconn_step(container_of(w, struct myconn, kick), 0);
}

static void
resolved_cb(struct resolve *r, void *arg)
{
	struct myconn *c = arg;

	(void)r;
	c->resolved = true;
	myconn_step(c, WAKE_RESOLVED);
}

static void
reap_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct myconn *c = container_of(w, struct myconn, reap);

	(void)revents;
	ev_prepare_stop(loop, &c->reap);
	free(c);
}

/* ---- life cycle ---------------------------------------------------------- */

struct myconn *
myconn_new(struct ev_loop *loop, struct resolver *rs)
{
	struct myconn *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->rs = rs;
	c->id = ++myconn_seq;
	c->query_timeout = MYCONN_DEFAULT_QUERY_TIMEOUT;
	ev_io_init(&c->io, io_cb, -1, 0);
	ev_timer_init(&c->timer, timer_cb, 0., 0.);
	ev_timer_init(&c->wtimer, wtimer_cb, 0., 0.);
	ev_timer_init(&c->kick, kick_cb, 0., 0.);
	ev_prepare_init(&c->reap, reap_cb);
	if (rs != NULL)
		resolve_init(&c->res, rs);
	snprintf(c->desc, sizeof(c->desc), "my#%u", c->id);
	return c;
}

/*
 * Closes the Connector/C handle without blocking. Only an idle, healthy
 * session is closed politely (COM_QUIT: a few bytes into an empty socket
 * buffer). Otherwise the socket is shut down first, so that whatever
 * mysql_close() still tries to send fails at once instead of waiting, and
 * an operation left half-way is abandoned.
 */
static void
close_handle(struct myconn *c, bool polite)
{
	my_socket fd;

	if (c->m == NULL)
		return;
	stop_waits(c);
	if (!polite) {
		fd = mysql_get_socket(c->m);
		if (fd != MARIADB_INVALID_SOCKET && (int)fd >= 0)
			shutdown((int)fd, SHUT_RDWR);
	}
	mysql_close(c->m);
	c->m = NULL;
}

static void
query_release(struct myconn *c)
{
	myres_free(c->qres);
	c->qres = NULL;
	free(c->sql);
	c->sql = NULL;
	c->sql_len = 0;
	c->have_result = false;
}

static void
wipe_password(struct myconn *c)
{
	if (c->p != NULL && c->p->password != NULL) {
		free_secret((char *)c->p->password);
		c->p->password = NULL;
	}
}

/* Stops everything; no report is due afterwards. */
static void
close_now(struct myconn *c)
{
	if (c->rs != NULL)
		resolve_cancel(&c->res);
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_stop(c->loop, &c->kick);
	close_handle(c, c->state == MYCONN_READY);
	query_release(c);
	myconn_params_free(c->p);
	c->p = NULL;
	c->connect_cb = NULL;
	c->result_cb = NULL;
	c->broken_cb = NULL;
	set_state(c, MYCONN_CLOSED);
}

void
myconn_free(struct myconn *c)
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
fail(struct myconn *c, enum myconn_errcode code, unsigned server_errno,
    const char *sqlstate, const char *msg)
{
	err_set(&c->err, code, server_errno, sqlstate, msg);
	if (c->rs != NULL)
		resolve_cancel(&c->res);
	ev_timer_stop(c->loop, &c->timer);
	close_handle(c, false);
	wipe_password(c);
	myres_free(c->qres);
	c->qres = NULL;
	log_debug("myconn failed", "conn", c->desc, "error",
	    myconn_errcode_name(code), "msg", c->err.msg);
	set_state(c, MYCONN_FAILED);
}

/* Fails with Connector/C's current error, prefixed. */
static void
fail_my(struct myconn *c, enum myconn_errcode code, const char *what)
{
	char msg[MYCONN_ERR_LEN * 2];
	unsigned e = c->m ? mysql_errno(c->m) : 0;
	char state[6];

	strlcpy0(state, c->m ? mysql_sqlstate(c->m) : "", sizeof(state));
	snprintf(msg, sizeof(msg), "%s%s", what,
	    c->m ? mysql_error(c->m) : "no connection");
	fail(c, code, e, state, msg);
}

int
myconn_connect(struct myconn *c, const struct myconn_params *p,
    myconn_connect_fn cb, void *arg)
{
	struct myconn_opts o;
	struct resolve_addr dummy;
	char err[MYCONN_ERR_LEN];
	int port;

	if (c->state != MYCONN_NEW) {
		err_set(&c->err, MYCONN_EUSAGE, 0, NULL,
		    "connect: not a new connection");
		return -1;
	}
	/* Validate everything now, with a dummy address. */
	memset(&dummy, 0, sizeof(dummy));
	strlcpy0(dummy.text, "127.0.0.1", sizeof(dummy.text));
	if (myconn_opts_build(&o, p, &dummy, err, sizeof(err)) != 0) {
		err_set(&c->err, MYCONN_EUSAGE, 0, NULL, err);
		return -1;
	}
	port = p->port ? p->port : MYCONN_DEFAULT_PORT;
	if (p->host[0] != '/' && c->rs == NULL &&
	    !resolve_numeric(p->host, port, &dummy)) {
		err_set(&c->err, MYCONN_EUSAGE, 0, NULL,
		    "no resolver for a host name");
		return -1;
	}
	c->p = myconn_params_dup(p);
	snprintf(c->desc, sizeof(c->desc), "my#%u %s@%s:%d/%s", c->id,
	    p->user, p->host, port, p->dbname ? p->dbname : "");
	if (p->query_timeout != 0)
		c->query_timeout = p->query_timeout;
	c->connect_cb = cb;
	c->connect_arg = arg;
	memset(&c->err, 0, sizeof(c->err));
	start_timer(c, p->connect_timeout > 0 ? p->connect_timeout :
	    MYCONN_DEFAULT_CONNECT_TIMEOUT);
	set_state(c, MYCONN_RESOLVING);
	if (p->host[0] == '/' || c->rs == NULL) {
		/* A socket path or a numeric address: nothing to ask. */
		c->naddrs = 0;
		if (p->host[0] != '/') {
			c->addrs[0] = dummy;
			c->naddrs = 1;
		}
		c->resolved = true;
		c->res.status = 0;
		kick(c);
		return 0;
	}
	if (resolve_start(&c->res, p->host, port, resolved_cb, c) != 0) {
		fail(c, MYCONN_ERESOLVE, 0, NULL, c->res.err);
		kick(c);
	}
	return 0;
}

/*
 * Opens a new handle for address addr_i (none for a socket) and sets it
 * up; the connect itself starts in the CONNECTING step. Returns 0, or -1
 * after fail().
 */
static int
start_attempt(struct myconn *c)
{
	const struct resolve_addr *a = c->naddrs ? &c->addrs[c->addr_i] : NULL;
	struct myconn_opts *o = &c->opts;
	unsigned int proto, zero = 0;
	my_bool on = 1, off = 0, verify;
	char err[MYCONN_ERR_LEN];
	bool last = c->addr_i + 1 >= c->naddrs;

	close_handle(c, false);
	if (myconn_opts_build(o, c->p, a, err, sizeof(err)) != 0) {
		fail(c, MYCONN_EUSAGE, 0, NULL, err);
		return -1;
	}
	c->m = mysql_init(NULL);
	if (c->m == NULL)
		die_oom();
	/* Non-blocking mode first: the rest applies to it. */
	if (mysql_options(c->m, MYSQL_OPT_NONBLOCK, 0) != 0)
		die_oom();
	proto = o->unix_socket ? MYSQL_PROTOCOL_SOCKET : MYSQL_PROTOCOL_TCP;
	mysql_options(c->m, MYSQL_OPT_PROTOCOL, &proto);
	mysql_options(c->m, MYSQL_OPT_CONNECT_TIMEOUT, &o->connect_timeout);
	/* Bounds the blocking TLS handshake (see connected()); lifted once
	 * connected. */
	mysql_options(c->m, MYSQL_OPT_READ_TIMEOUT, &o->connect_timeout);
	mysql_options(c->m, MYSQL_OPT_WRITE_TIMEOUT, &o->connect_timeout);
	mysql_options(c->m, MYSQL_OPT_LOCAL_INFILE, &zero);
	mysql_options(c->m, MYSQL_SET_CHARSET_NAME, o->charset);
	mysql_options(c->m, MYSQL_OPT_SSL_ENFORCE, o->use_tls ? &on : &off);
	if (o->use_tls) {
		verify = o->verify_name;
		if (o->ca)
			mysql_options(c->m, MYSQL_OPT_SSL_CA, o->ca);
		if (o->cert)
			mysql_options(c->m, MYSQL_OPT_SSL_CERT, o->cert);
		if (o->key)
			mysql_options(c->m, MYSQL_OPT_SSL_KEY, o->key);
		mysql_options(c->m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
		mysql_options(c->m, MARIADB_OPT_TLS_VERSION, o->tls_versions);
	}
	/* The library copies the password; ours goes as soon as no further
	 * attempt needs it. An empty one, never NULL: NULL would make
	 * Connector/C read MYSQL_PWD. */
	mysql_optionsv(c->m, MARIADB_OPT_PASSWORD,
	    c->p->password ? c->p->password : "");
	if (last)
		wipe_password(c);
	strlcpy0(c->hostbuf, o->connect_host ? o->connect_host : "",
	    sizeof(c->hostbuf));
	c->started = false;
	c->host_swapped = false;
	set_state(c, MYCONN_CONNECTING);
	return 0;
}

/*
 * verify-full: Connector/C checks the certificate against MYSQL.host, a
 * copy of the host argument of mysql_real_connect() that it makes after
 * the server's greeting, just before the TLS handshake. That argument is
 * hostbuf, our own buffer holding the numeric address; Connector/C reads
 * it for the socket address before its first wait (the TCP connect or the
 * greeting) and copies it after. So at the first wait the original name
 * replaces the address in hostbuf, and the library's check -- done before
 * any authentication data is sent -- is against the name. Should the
 * connect and the greeting both complete without waiting, the library
 * checks the address instead (which fails unless the certificate names
 * it), and check_peer_name() checks the name once connected.
 */
static void
swap_host(struct myconn *c)
{
	if (!c->opts.verify_name || c->opts.check_name == NULL ||
	    c->host_swapped || c->opts.unix_socket != NULL)
		return;
	c->host_swapped = true;
	if (strcmp(c->hostbuf, c->opts.check_name) == 0)
		return;
	strlcpy0(c->hostbuf, c->opts.check_name, sizeof(c->hostbuf));
	log_debug("myconn TLS name check uses the host name", "conn",
	    c->desc, "name", c->hostbuf);
}

/* The session's OpenSSL handle, or NULL (no TLS). */
static SSL *
session_ssl(const struct myconn *c)
{
	MARIADB_PVIO *pvio = c->m ? c->m->net.pvio : NULL;

	if (pvio == NULL || pvio->ctls == NULL)
		return NULL;
	return pvio->ctls->ssl;
}

/* verify-full, once connected: the certificate must name the host we were
 * given (whatever the library compared it with). */
static int
check_peer_name(struct myconn *c, char *err, size_t errlen)
{
	const char *name = c->opts.check_name;
	SSL *ssl;
	X509 *cert;
	int ok;

	if (name == NULL)
		return 0;
	ssl = session_ssl(c);
	cert = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
	if (cert == NULL) {
		snprintf(err, errlen, "no server certificate to check");
		return -1;
	}
	if (resolve_numeric(name, 0, &(struct resolve_addr){ 0 }))
		ok = X509_check_ip_asc(cert, name, 0) == 1;
	else
		ok = X509_check_host(cert, name, strlen(name), 0, NULL) == 1;
	X509_free(cert);
	if (!ok) {
		snprintf(err, errlen, "server certificate does not match host "
		    "name \"%s\"", name);
		return -1;
	}
	return 0;
}

/*
 * Connector/C 3.3 switches the socket to blocking mode for the TLS
 * handshake (ma_tls_connect()) and leaves it so: the handshake and the
 * authentication that follows run without returning to the loop, bounded
 * only by the read/write timeouts set in start_attempt(). Once connected,
 * the socket goes back to non-blocking mode through the connection's own
 * I/O methods (so the library's notion of the mode stays right), and the
 * library's read/write timeouts are lifted: the query timer is ours.
 */
static void
restore_nonblocking(struct myconn *c)
{
	MARIADB_PVIO *pvio = c->m->net.pvio;
	unsigned int zero = 0;

	mysql_options(c->m, MYSQL_OPT_READ_TIMEOUT, &zero);
	mysql_options(c->m, MYSQL_OPT_WRITE_TIMEOUT, &zero);
	if (pvio == NULL || pvio->methods == NULL)
		return;
	if (pvio->methods->set_timeout != NULL) {
		pvio->methods->set_timeout(pvio, PVIO_READ_TIMEOUT, 0);
		pvio->methods->set_timeout(pvio, PVIO_WRITE_TIMEOUT, 0);
	}
	if (pvio->methods->blocking != NULL)
		pvio->methods->blocking(pvio, 0, NULL);
}

/* Connected: TLS as required, then READY. */
static void
connected(struct myconn *c)
{
	char err[MYCONN_ERR_LEN];
	const char *info;

	restore_nonblocking(c);

	if (c->opts.must_tls && mysql_get_ssl_cipher(c->m) == NULL) {
		fail(c, MYCONN_ECONNECT, 0, NULL,
		    "TLS is required but the server does not support it");
		return;
	}
	if (check_peer_name(c, err, sizeof(err)) != 0) {
		fail(c, MYCONN_ECONNECT, 0, NULL, err);
		return;
	}
	c->version = mysql_get_server_version(c->m);
	c->thread_id = mysql_thread_id(c->m);
	info = mysql_get_server_info(c->m);
	strlcpy0(c->info, info ? info : "", sizeof(c->info));
	ev_timer_stop(c->loop, &c->timer);
	set_state(c, MYCONN_READY);
	if (watch_idle(c) != 0)
		fail(c, MYCONN_ELOST, 0, NULL, "no socket after connecting");
}

/* CONNECTING: starts or continues mysql_real_connect. */
static void
connect_io(struct myconn *c, int mask)
{
	MYSQL *ret = NULL;
	int status;
	unsigned e;

	if (!c->started) {
		c->started = true;
		status = mysql_real_connect_start(&ret, c->m,
		    c->opts.unix_socket ? NULL : c->hostbuf, c->p->user, NULL,
		    c->opts.dbname,
		    c->opts.port, c->opts.unix_socket, 0);
	} else {
		status = mysql_real_connect_cont(&ret, c->m, mask);
	}
	if (status != 0) {
		swap_host(c);
		if (await(c, status) != 0)
			fail_my(c, MYCONN_ECONNECT, "no socket: ");
		return;
	}
	stop_waits(c);
	if (ret != NULL) {
		connected(c);
		return;
	}
	e = mysql_errno(c->m);
	if (e == CR_CONN_HOST_ERROR && c->addr_i + 1 < c->naddrs) {
		log_debug("myconn trying next address", "conn", c->desc,
		    "msg", mysql_error(c->m));
		c->addr_i++;
		start_attempt(c);
		return;
	}
	fail_my(c, MYCONN_ECONNECT, "");
}

/* A statement failed: a server error keeps the session, a client error
 * (lost connection) ends it. */
static void
query_failed(struct myconn *c)
{
	unsigned e = mysql_errno(c->m);

	if (myconn_errcode_for(e, false) == MYCONN_ESERVER) {
		err_set(&c->qerr, MYCONN_ESERVER, e, mysql_sqlstate(c->m),
		    mysql_error(c->m));
		stop_waits(c);
		set_state(c, MYCONN_READY);
		if (watch_idle(c) != 0)
			fail(c, MYCONN_ELOST, 0, NULL, "no socket");
		return;
	}
	fail_my(c, MYCONN_ELOST, "");
}

/* The statement's results are all in: READY, or DRAINING when a CALL left
 * more results. */
static void
result_done(struct myconn *c)
{
	stop_waits(c);
	if (mysql_more_results(c->m)) {
		c->started = false;
		c->drain_store = false;
		set_state(c, MYCONN_DRAINING);
		return;
	}
	ev_timer_stop(c->loop, &c->timer);
	set_state(c, MYCONN_READY);
	if (watch_idle(c) != 0)
		fail(c, MYCONN_ELOST, 0, NULL, "no socket");
}

static void
query_io(struct myconn *c, int mask)
{
	int status, ret = 0;

	if (!c->started) {
		c->started = true;
		status = mysql_real_query_start(&ret, c->m, c->sql,
		    (unsigned long)c->sql_len);
	} else {
		status = mysql_real_query_cont(&ret, c->m, mask);
	}
	if (status != 0) {
		if (await(c, status) != 0)
			fail_my(c, MYCONN_ELOST, "no socket: ");
		return;
	}
	if (ret != 0) {
		query_failed(c);
		return;
	}
	if (mysql_field_count(c->m) == 0) {
		c->affected = mysql_affected_rows(c->m);
		c->insert_id = mysql_insert_id(c->m);
		c->warnings = mysql_warning_count(c->m);
		c->have_result = true;
		result_done(c);
		return;
	}
	stop_waits(c);
	c->started = false;
	set_state(c, MYCONN_FETCHING);
}

/* FETCHING (the statement's rows) and DRAINING (further results, read
 * and dropped). */
static void
fetch_io(struct myconn *c, int mask)
{
	MYSQL_RES *res = NULL;
	int status;

	if (!c->started) {
		c->started = true;
		status = mysql_store_result_start(&res, c->m);
	} else {
		status = mysql_store_result_cont(&res, c->m, mask);
	}
	if (status != 0) {
		if (await(c, status) != 0)
			fail_my(c, MYCONN_ELOST, "no socket: ");
		return;
	}
	if (res == NULL && mysql_errno(c->m) != 0) {
		query_failed(c);
		return;
	}
	if (c->state == MYCONN_FETCHING) {
		c->warnings = mysql_warning_count(c->m);
		c->affected = 0;
		c->have_result = true;
		if (res != NULL)
			c->qres = myres_new(res);
	} else if (res != NULL) {
		mysql_free_result(res);
	}
	result_done(c);
}

static void
drain_io(struct myconn *c, int mask)
{
	int status, ret = 0;

	if (c->drain_store) {
		fetch_io(c, mask);
		return;
	}
	if (!c->started) {
		c->started = true;
		status = mysql_next_result_start(&ret, c->m);
	} else {
		status = mysql_next_result_cont(&ret, c->m, mask);
	}
	if (status != 0) {
		if (await(c, status) != 0)
			fail_my(c, MYCONN_ELOST, "no socket: ");
		return;
	}
	if (ret > 0) {
		query_failed(c);
		return;
	}
	if (ret < 0 || mysql_field_count(c->m) == 0) {
		/* No more results, or one without rows. */
		result_done(c);
		return;
	}
	stop_waits(c);
	c->started = false;
	c->drain_store = true;
}

/* READY: the server spoke or hung up unasked. A plain session may carry
 * the reason as an error packet (shutdown, KILL); keep it. */
static void
idle_input(struct myconn *c)
{
	unsigned char b[MYCONN_ERR_LEN + 16];
	char msg[MYCONN_ERR_LEN + 64];
	my_socket fd = mysql_get_socket(c->m);
	ssize_t n;

	n = recv((int)fd, b, sizeof(b) - 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n > 13 && session_ssl(c) == NULL && b[4] == 0xff && b[7] == '#') {
		unsigned code = (unsigned)b[5] | ((unsigned)b[6] << 8);
		char state[6];
		size_t len = (size_t)b[0] | ((size_t)b[1] << 8) |
		    ((size_t)b[2] << 16);

		memcpy(state, b + 8, 5);
		state[5] = '\0';
		if (len + 4 > (size_t)n)
			len = (size_t)n - 4;
		b[4 + len] = '\0';
		snprintf(msg, sizeof(msg), "connection closed by the server: %s",
		    (const char *)b + 13);
		fail(c, MYCONN_ELOST, code, state, msg);
		return;
	}
	fail(c, MYCONN_ELOST, 0, NULL, n < 0 ? "connection lost while idle" :
	    "server closed the connection");
}

/* ---- reports (always the last thing a step does) ------------------------- */

static void
report_connect(struct myconn *c, const struct myconn_err *err)
{
	myconn_connect_fn cb = c->connect_cb;

	c->connect_cb = NULL;
	c->depth++;
	cb(c, err, c->connect_arg);
	c->depth--;
}

static void
report_result(struct myconn *c, const struct myconn_err *failure)
{
	myconn_result_fn cb = c->result_cb;
	struct myconn_result r;
	struct myres *res = c->qres;

	c->qres = NULL;
	c->result_cb = NULL;
	memset(&r, 0, sizeof(r));
	if (failure != NULL)
		r.err = *failure;
	else if (c->qerr.code != MYCONN_OK)
		r.err = c->qerr;
	memset(&c->qerr, 0, sizeof(c->qerr));
	if (r.err.code == MYCONN_OK) {
		r.affected_rows = c->affected;
		r.insert_id = c->insert_id;
		r.warnings = c->warnings;
		if (res != NULL) {
			r.priv = res;
			r.nrows = res->nrows;
			r.ncols = res->ncols;
		}
	}
	free(c->sql);
	c->sql = NULL;
	c->have_result = false;
	c->depth++;
	cb(c, &r, c->result_arg);
	c->depth--;
	myres_free(res);
}

static void
report_broken(struct myconn *c)
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
myconn_step(struct myconn *c, int revents)
{
	char msg[MYCONN_ERR_LEN];
	enum myconn_state before;

	for (;;) {
		before = c->state;
		switch (c->state) {
		/* Nothing to wait for. */
		case MYCONN_NEW:
		case MYCONN_CLOSED:
		case MYCONN__COUNT:
			return;

		/* Waits for c-ares (resolved_cb) or the connect timer. */
		case MYCONN_RESOLVING:
			if (revents & WAKE_DEADLINE) {
				snprintf(msg, sizeof(msg), "timed out resolving "
				    "host \"%s\"", c->p->host);
				fail(c, MYCONN_ETIMEOUT, 0, NULL, msg);
				break;
			}
			if (!c->resolved)
				return;
			c->resolved = false;
			revents = 0;
			if (c->res.status != 0) {
				fail(c, MYCONN_ERESOLVE, 0, NULL, c->res.err);
				break;
			}
			if (c->rs != NULL && c->p->host[0] != '/') {
				c->naddrs = c->res.naddrs;
				memcpy(c->addrs, c->res.addrs,
				    c->naddrs * sizeof(c->addrs[0]));
			}
			c->addr_i = 0;
			start_attempt(c);
			break;

		/* Waits for what the last real_connect call asked (socket,
		 * library timeout), or the connect timer. Starts the call
		 * when entered. */
		case MYCONN_CONNECTING:
			if (revents & WAKE_DEADLINE) {
				snprintf(msg, sizeof(msg), "timed out after %gs "
				    "connecting to %s", c->p->connect_timeout > 0 ?
				    c->p->connect_timeout :
				    MYCONN_DEFAULT_CONNECT_TIMEOUT, c->desc);
				fail(c, MYCONN_ETIMEOUT, 0, NULL, msg);
				break;
			}
			if (c->started && wake_mask(c, revents) == 0)
				return;
			connect_io(c, wake_mask(c, revents));
			revents = 0;
			if (c->state == MYCONN_CONNECTING && c->started)
				return;
			break;

		/* QUERYING waits for real_query, FETCHING for store_result,
		 * DRAINING for next_result (+ store_result); all under the
		 * query timer. Each starts its call when entered. */
		case MYCONN_QUERYING:
		case MYCONN_FETCHING:
		case MYCONN_DRAINING:
			if (revents & WAKE_DEADLINE) {
				snprintf(msg, sizeof(msg), "query timed out after "
				    "%gs; connection closed", c->query_timeout);
				fail(c, MYCONN_ETIMEOUT, 0, NULL, msg);
				break;
			}
			if (c->started && wake_mask(c, revents) == 0)
				return;
			if (c->state == MYCONN_QUERYING)
				query_io(c, wake_mask(c, revents));
			else if (c->state == MYCONN_FETCHING)
				fetch_io(c, wake_mask(c, revents));
			else
				drain_io(c, wake_mask(c, revents));
			revents = 0;
			if (c->state == before && c->started && c->wait != 0)
				return;
			break;

		/* Idle, watching the socket for the server going away; first
		 * reports what brought us here. */
		case MYCONN_READY:
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
			if (c->state == MYCONN_READY)
				return;
			break;

		/* Closed; reports to whoever waits: the connector, the
		 * query, or (once) the owner of an idle connection. */
		case MYCONN_FAILED:
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
myconn_query(struct myconn *c, const char *sql, myconn_result_fn cb,
    void *arg)
{
	if (c->state == MYCONN_FAILED) {
		/* myconn_error() still says why it failed. */
		return -1;
	}
	if (c->state != MYCONN_READY || c->connect_cb != NULL ||
	    c->result_cb != NULL) {
		char msg[96];

		snprintf(msg, sizeof(msg), "query: connection is %s%s",
		    myconn_state_name(c->state),
		    c->result_cb ? " with a result pending" : "");
		err_set(&c->err, MYCONN_EUSAGE, 0, NULL, msg);
		return -1;
	}
	if (sql == NULL || cb == NULL) {
		err_set(&c->err, MYCONN_EUSAGE, 0, NULL, "query: bad arguments");
		return -1;
	}
	memset(&c->qerr, 0, sizeof(c->qerr));
	query_release(c);
	c->sql_len = strlen(sql);
	c->sql = xstrdup(sql);
	c->affected = 0;
	c->insert_id = 0;
	c->warnings = 0;
	c->result_cb = cb;
	c->result_arg = arg;
	c->started = false;
	stop_waits(c);
	set_state(c, MYCONN_QUERYING);
	start_timer(c, c->query_timeout);
	/* The statement is sent from the loop: reports never run inside
	 * this call. */
	kick(c);
	return 0;
}

void
myconn_set_query_timeout(struct myconn *c, double seconds)
{
	c->query_timeout = seconds;
}

void
myconn_set_broken_cb(struct myconn *c, myconn_broken_fn cb, void *arg)
{
	c->broken_cb = cb;
	c->broken_arg = arg;
}

/* ---- accessors ----------------------------------------------------------- */

enum myconn_state
myconn_state(const struct myconn *c)
{
	return c->state;
}

bool
myconn_is_broken(const struct myconn *c)
{
	return c->state == MYCONN_FAILED || c->state == MYCONN_CLOSED;
}

const struct myconn_err *
myconn_error(const struct myconn *c)
{
	return &c->err;
}

static bool
connected_state(const struct myconn *c)
{
	return c->m != NULL && c->state >= MYCONN_READY &&
	    c->state <= MYCONN_DRAINING;
}

unsigned long
myconn_server_version(const struct myconn *c)
{
	return connected_state(c) ? c->version : 0;
}

const char *
myconn_server_info(const struct myconn *c)
{
	return connected_state(c) ? c->info : "";
}

bool
myconn_is_mariadb(const struct myconn *c)
{
	return connected_state(c) && strstr(c->info, "MariaDB") != NULL;
}

unsigned long
myconn_thread_id(const struct myconn *c)
{
	return connected_state(c) ? c->thread_id : 0;
}

const char *
myconn_tls_cipher(const struct myconn *c)
{
	return connected_state(c) ? mysql_get_ssl_cipher(c->m) : NULL;
}

const char *
myconn_describe(const struct myconn *c)
{
	return c->desc;
}

char *
myconn_escape_literal(struct myconn *c, const char *s, char *err,
    size_t errlen)
{
	size_t len;
	char *out;
	unsigned long n;

	if (!connected_state(c)) {
		snprintf(err, errlen, "escape: not connected");
		return NULL;
	}
	if (s == NULL) {
		snprintf(err, errlen, "escape: no string");
		return NULL;
	}
	len = strlen(s);
	if (len > (ULONG_MAX - 3) / 2) {
		snprintf(err, errlen, "escape: string too long");
		return NULL;
	}
	out = xmalloc(len * 2 + 3);
	out[0] = '\'';
	n = mysql_real_escape_string(c->m, out + 1, s, (unsigned long)len);
	if (n == (unsigned long)-1) {
		free(out);
		snprintf(err, errlen, "escape: cannot escape for this "
		    "character set");
		return NULL;
	}
	out[n + 1] = '\'';
	out[n + 2] = '\0';
	return out;
}

char *
myconn_escape_identifier(const char *s, char *err, size_t errlen)
{
	size_t len, i, o = 0;
	char *out;

	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "escape: empty identifier");
		return NULL;
	}
	len = strlen(s);
	out = xmalloc(len * 2 + 3);
	out[o++] = '`';
	for (i = 0; i < len; i++) {
		if (s[i] == '`')
			out[o++] = '`';
		out[o++] = s[i];
	}
	out[o++] = '`';
	out[o] = '\0';
	return out;
}

/* ---- pool glue ----------------------------------------------------------- */

static void
mypool_connected(struct myconn *c, const struct myconn_err *err, void *arg)
{
	(void)c;
	pool_conn_connected(arg, err ? err->msg : NULL);
}

static void
mypool_broken(struct myconn *c, void *arg)
{
	(void)c;
	pool_conn_lost(arg);
}

static void *
mypool_connect(void *ops_arg, struct ev_loop *loop, const void *params,
    const char *dbname, struct pool_conn *slot, char *err, size_t errlen)
{
	struct myconn_params p = *(const struct myconn_params *)params;
	struct myconn *c = myconn_new(loop, ops_arg);

	p.dbname = dbname;
	if (myconn_connect(c, &p, mypool_connected, slot) != 0) {
		strlcpy0(err, c->err.msg, errlen);
		myconn_free(c);
		return NULL;
	}
	myconn_set_broken_cb(c, mypool_broken, slot);
	return c;
}

static void
mypool_close(void *conn)
{
	myconn_free(conn);
}

static bool
mypool_is_broken(const void *conn)
{
	return myconn_is_broken(conn);
}

static void *
mypool_params_dup(const void *params)
{
	return myconn_params_dup(params);
}

static void
mypool_params_free(void *params)
{
	myconn_params_free(params);
}

const struct pool_ops myconn_pool_ops = {
	.engine = "mysql",
	.connect = mypool_connect,
	.close = mypool_close,
	.is_broken = mypool_is_broken,
	.params_dup = mypool_params_dup,
	.params_free = mypool_params_free,
};
