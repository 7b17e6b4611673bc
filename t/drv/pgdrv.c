/*
 * pgdrv - drives the engine (resolver, pgconn, pgtls, pool) for the
 * integration tests in t/pg. Two modes:
 *
 *   pgdrv --resolve NAME [--port P] [--dns-server IP:PORT]
 *         [--cancel-after-ms N]
 *       prints {"ev":"resolved","addrs":[...]} or {"ev":"resolve_error",
 *       "msg":...}; with --cancel-after-ms, cancels then, prints
 *       {"ev":"cancelled"} and waits 1.5 s for a callback that must not
 *       come ({"ev":"done","late_callbacks":N}).
 *
 *   pgdrv --host H [--port P] --user U [--dbname D]
 *         [--password-env VAR | --password-file F]
 *         [--sslmode M] [--ca F] [--cert F] [--key F] [--tls-dir D]
 *         [--connect-timeout S] [--query-timeout S] [--appname A]
 *         [--check-interval-ms N] [--statement-timeout-ms N]
 *         [--cap N] [--idle-timeout S] [--acquire-timeout S]
 *         [--backoff-initial S] [--dns-server IP:PORT] [--log-level L]
 *       reads JSON commands, one per line, on stdin and prints one JSON
 *       event per line (see t/lib/pgserver.py, class PgDrv):
 *         {"op":"acquire","id":"c1","db":"postgres"}
 *            -> acquired {id,pid,version} | acquire_error {id,msg}
 *         {"op":"query","id":"c1","sql":"...","params":["x",null]}
 *            -> row {id,values} ... then result {id,tag,cols,nrows}
 *               | query_error {id,code,sqlstate,msg}
 *         {"op":"release","id":"c1","broken":false} -> released {id}
 *         {"op":"escape","id":"c1","ident":"..","literal":".."}
 *            -> escaped {id,ident,literal} | escape_error {id,msg}
 *         {"op":"drop"} -> dropped        {"op":"stats"} -> stats {...}
 *         {"op":"quit"} (or end of input) -> bye, exit 0
 *
 * The password never travels in argv: an environment variable or a file.
 * TLS files are read here as PEM bytes and go through pgtls like Secrets.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ev.h>

#include "buf.h"
#include "drv/drvcore.h"
#include "json.h"
#include "log.h"
#include "pgconn.h"
#include "pgtls.h"
#include "pool.h"
#include "resolve.h"

struct drv {
	struct drvcore core;	/* first */
	struct resolver *rs;
	struct pgconn_params params;
	/* resolve mode */
	struct resolve res;
	ev_timer cancel_timer;
	ev_timer end_timer;
	int late;
	bool cancelled;
};

/* ---- resolve mode ---------------------------------------------------- */

static void
resolved_cb(struct resolve *r, void *arg)
{
	struct drv *d = arg;
	struct jw w;
	size_t i;

	if (d->cancelled) {
		d->late++;
		return;
	}
	if (r->status != 0) {
		drv_simple("resolve_error", NULL, r->err);
	} else {
		drv_begin(&w, "resolved", NULL);
		jw_key(&w, "addrs");
		jw_arr_open(&w);
		for (i = 0; i < r->naddrs; i++)
			jw_str(&w, r->addrs[i].text);
		jw_arr_close(&w);
		drv_emit(&w);
	}
	ev_break(d->core.loop, EVBREAK_ALL);
}

static void
cancel_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct drv *d = container_of(t, struct drv, cancel_timer);
	struct jw w;

	(void)revents;
	drv_begin(&w, "cancelled", NULL);
	jw_kbool(&w, "was_active", resolve_active(&d->res));
	jw_kint(&w, "pending", (long long)resolver_pending(d->rs));
	drv_emit(&w);
	resolve_cancel(&d->res);
	d->cancelled = true;
	ev_timer_set(&d->end_timer, 1.5, 0.);
	ev_timer_start(loop, &d->end_timer);
}

static void
end_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct drv *d = container_of(t, struct drv, end_timer);
	struct jw w;

	(void)revents;
	drv_begin(&w, "done", NULL);
	jw_kint(&w, "late_callbacks", d->late);
	jw_kint(&w, "pending", (long long)resolver_pending(d->rs));
	drv_emit(&w);
	ev_break(loop, EVBREAK_ALL);
}

static int
resolve_mode(struct drv *d, const char *name, int port, double cancel_ms)
{
	resolve_init(&d->res, d->rs);
	ev_timer_init(&d->cancel_timer, cancel_cb, 0., 0.);
	ev_timer_init(&d->end_timer, end_cb, 0., 0.);
	if (resolve_start(&d->res, name, port, resolved_cb, d) != 0) {
		drv_simple("resolve_error", NULL, d->res.err);
		return 0;
	}
	if (cancel_ms >= 0) {
		ev_timer_set(&d->cancel_timer, cancel_ms / 1000.0, 0.);
		ev_timer_start(d->core.loop, &d->cancel_timer);
	}
	ev_run(d->core.loop, 0);
	resolve_cancel(&d->res);
	ev_timer_stop(d->core.loop, &d->cancel_timer);
	ev_timer_stop(d->core.loop, &d->end_timer);
	return 0;
}

/* ---- pool mode --------------------------------------------------------- */

/* The facts of a new connection, for the "acquired" event. */
static void
acquired(struct pool_conn *pc, struct jw *w)
{
	jw_kint(w, "pid", pgconn_backend_pid(pool_conn_get(pc)));
	jw_kint(w, "version", pgconn_server_version(pool_conn_get(pc)));
}

static void
on_result(struct pgconn *c, const struct pgconn_result *r, void *arg)
{
	struct drv_slot *s = arg;
	struct jw w;
	int i, j;

	(void)c;
	if (r->err.code != PGCONN_OK) {
		drv_begin(&w, "query_error", s->id);
		jw_kstr(&w, "code", pgconn_errcode_name(r->err.code));
		jw_kstr(&w, "sqlstate", r->err.sqlstate);
		jw_kstr(&w, "msg", r->err.msg);
		jw_kstr(&w, "state", pgconn_state_name(pgconn_state(c)));
		drv_emit(&w);
		return;
	}
	for (i = 0; i < r->nrows; i++) {
		drv_begin(&w, "row", s->id);
		jw_key(&w, "values");
		jw_arr_open(&w);
		for (j = 0; j < r->ncols; j++) {
			const char *v = pgconn_res_value(r, i, j);

			if (v)
				jw_strn(&w, v, pgconn_res_len(r, i, j));
			else
				jw_null(&w);
		}
		jw_arr_close(&w);
		drv_emit(&w);
	}
	drv_begin(&w, "result", s->id);
	jw_kstr(&w, "tag", r->cmd_tag);
	jw_kint(&w, "nrows", r->nrows);
	jw_key(&w, "cols");
	jw_arr_open(&w);
	for (j = 0; j < r->ncols; j++)
		jw_str(&w, pgconn_res_colname(r, j));
	jw_arr_close(&w);
	drv_emit(&w);
}

static void
do_query(struct drv *d, yajl_val cmd, const char *id)
{
	struct drv_slot *s = drv_slot_find(&d->core, id, false);
	yajl_val pv = json_get(cmd, "params", NULL);
	const char *sql = json_gets(cmd, "sql");
	const char **params = NULL;
	size_t n = json_len(pv), i;
	struct pgconn *c;
	double timeout;

	if (s == NULL || s->pc == NULL) {
		drv_simple("query_error", id, "no such connection");
		return;
	}
	c = pool_conn_get(s->pc);
	if (json_double(json_get(cmd, "timeout", NULL), &timeout))
		pgconn_set_query_timeout(c, timeout);
	if (n) {
		params = xcalloc(n, sizeof(*params));
		for (i = 0; i < n; i++)
			params[i] = json_str(json_at(pv, i));
	}
	if (pgconn_query(c, sql, (int)n, params, on_result, s) != 0) {
		struct jw w;

		drv_begin(&w, "query_error", id);
		jw_kstr(&w, "code", pgconn_errcode_name(pgconn_error(c)->code));
		jw_kstr(&w, "msg", pgconn_error(c)->msg);
		jw_kstr(&w, "sqlstate", pgconn_error(c)->sqlstate);
		jw_kstr(&w, "state", pgconn_state_name(pgconn_state(c)));
		drv_emit(&w);
	}
	free(params);
}

static void
do_escape(struct drv *d, yajl_val cmd, const char *id)
{
	struct drv_slot *s = drv_slot_find(&d->core, id, false);
	char err[256];
	char *i, *l;
	struct jw w;

	if (s == NULL || s->pc == NULL) {
		drv_simple("escape_error", id, "no such connection");
		return;
	}
	i = pgconn_escape_identifier(pool_conn_get(s->pc),
	    json_gets(cmd, "ident"), err, sizeof(err));
	l = i ? pgconn_escape_literal(pool_conn_get(s->pc),
	    json_gets(cmd, "literal"), err, sizeof(err)) : NULL;
	if (i == NULL || l == NULL) {
		drv_simple("escape_error", id, err);
	} else {
		drv_begin(&w, "escaped", id);
		jw_kstr(&w, "ident", i);
		jw_kstr(&w, "literal", l);
		drv_emit(&w);
	}
	free(i);
	free(l);
}

static bool
command(struct drvcore *core, const char *op, yajl_val cmd, const char *id)
{
	struct drv *d = (struct drv *)core;

	if (id == NULL)
		return false;
	if (strcmp(op, "query") == 0)
		do_query(d, cmd, id);
	else if (strcmp(op, "escape") == 0)
		do_escape(d, cmd, id);
	else
		return false;
	return true;
}

static const struct drv_engine engine = { "pgdrv", acquired, command };

static void
usage(void)
{
	fprintf(stderr, "usage: pgdrv --resolve NAME [--dns-server S] "
	    "[--cancel-after-ms N]\n"
	    "       pgdrv --host H --user U [--password-env V | "
	    "--password-file F] [options] < commands\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "resolve", required_argument, NULL, 'R' },
		{ "cancel-after-ms", required_argument, NULL, 'X' },
		{ "dns-server", required_argument, NULL, 'N' },
		{ "dns-timeout", required_argument, NULL, 'T' },
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "dbname", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'U' },
		{ "password-env", required_argument, NULL, 'e' },
		{ "password-file", required_argument, NULL, 'f' },
		{ "sslmode", required_argument, NULL, 's' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "tls-dir", required_argument, NULL, 'D' },
		{ "connect-timeout", required_argument, NULL, 'C' },
		{ "query-timeout", required_argument, NULL, 'Q' },
		{ "appname", required_argument, NULL, 'A' },
		{ "check-interval-ms", required_argument, NULL, 'I' },
		{ "statement-timeout-ms", required_argument, NULL, 'S' },
		{ "cap", required_argument, NULL, 'n' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "acquire-timeout", required_argument, NULL, 'w' },
		{ "backoff-initial", required_argument, NULL, 'b' },
		{ "log-level", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	struct drv d;
	struct drv_opts o;
	const char *resolve_name = NULL;
	double cancel_ms = -1;
	char err[256];
	struct pgtls *tls = NULL;
	int ch, rc = 0;

	memset(&d, 0, sizeof(d));
	drv_opts_init(&o);
	d.params.dbname = "postgres";
	d.params.sslmode = PGCONN_SSL_PREFER;
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'R': resolve_name = optarg; break;
		case 'X': cancel_ms = atof(optarg); break;
		case 'h': d.params.host = optarg; break;
		case 'p': d.params.port = atoi(optarg); break;
		case 'd': d.params.dbname = optarg; break;
		case 'U': d.params.user = optarg; break;
		case 's':
			if (pgconn_sslmode_parse(optarg, &d.params.sslmode) != 0)
				usage();
			break;
		case 'C': d.params.connect_timeout = atof(optarg); break;
		case 'Q': d.params.query_timeout = atof(optarg); break;
		case 'A': d.params.application_name = optarg; break;
		case 'I': d.params.check_interval_ms = atoi(optarg); break;
		case 'S': d.params.statement_timeout_ms = atoi(optarg); break;
		default:
			if (drv_common_opt("pgdrv", ch, optarg, &o) != 1)
				usage();
		}
	}
	d.core.loop = EV_DEFAULT;
	d.rs = resolver_new(d.core.loop, &o.rcfg, err, sizeof(err));
	if (d.rs == NULL) {
		fprintf(stderr, "pgdrv: %s\n", err);
		return 1;
	}
	if (resolve_name) {
		rc = resolve_mode(&d, resolve_name, d.params.port ?
		    d.params.port : 5432, cancel_ms);
		resolver_free(d.rs);
		return rc;
	}
	if (d.params.host == NULL || d.params.user == NULL)
		usage();
	tls = pgtls_new(&o.pem, err, sizeof(err));
	drv_opts_free_pem(&o);
	if (tls == NULL) {
		drv_simple("tls_error", NULL, err);
		free_secret(o.password);
		resolver_free(d.rs);
		return 1;
	}
	d.params.tls = tls;
	d.params.password = o.password;
	d.core.eng = &engine;
	d.core.pool = pool_new(d.core.loop, &o.pcfg, &pgconn_pool_ops, d.rs);
	d.core.params = &d.params;
	d.core.dbname = d.params.dbname;
	drv_run(&d.core);
	pool_free(d.core.pool);
	/* Let deferred frees (connections closed inside callbacks) run. */
	ev_run(d.core.loop, EVRUN_NOWAIT);
	pgtls_unref(tls);
	free_secret(o.password);
	resolver_free(d.rs);
	drv_simple("bye", NULL, NULL);
	return rc;
}
