/*
 * mydrv - drives the MySQL engine (resolver, myconn, pgtls, pool) for the
 * integration tests in t/my:
 *
 *   mydrv --host H [--port P] --user U [--dbname D]
 *         [--password-env VAR | --password-file F]
 *         [--tls MODE] [--ca F] [--cert F] [--key F] [--tls-dir D]
 *         [--connect-timeout S] [--query-timeout S] [--charset C]
 *         [--cap N] [--idle-timeout S] [--acquire-timeout S]
 *         [--backoff-initial S] [--dns-server IP:PORT] [--log-level L]
 *       reads JSON commands, one per line, on stdin and prints one JSON
 *       event per line (t/lib/myserver.py, class MyDrv):
 *         {"op":"acquire","id":"c1","db":"mysql"}
 *            -> acquired {id,thread_id,version,server_info,mariadb,cipher}
 *               | acquire_error {id,msg}
 *         {"op":"query","id":"c1","sql":"...","timeout":0.5}
 *            -> row {id,values} ... then result {id,cols,nrows,affected,
 *               insert_id,warnings} | query_error {id,code,errno,sqlstate,
 *               msg,state}
 *         {"op":"release","id":"c1","broken":false} -> released {id}
 *         {"op":"escape","id":"c1","ident":"..","literal":".."}
 *            -> escaped {id,ident,literal} | escape_error {id,msg}
 *         {"op":"info","id":"c1"} -> info {id,state,cipher,broken}
 *         {"op":"drop"} -> dropped        {"op":"stats"} -> stats {...}
 *         {"op":"quit"} (or end of input) -> bye, exit 0
 *
 * The password never travels in argv: an environment variable or a file.
 * TLS files are read here as PEM bytes and go through pgtls like Secrets.
 */
#include "config.h"

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
#include "myconn.h"
#include "pgtls.h"
#include "pool.h"
#include "resolve.h"

struct drv {
	struct drvcore core;	/* first */
	struct resolver *rs;
	struct myconn_params params;
};

/* The facts of a new connection, for the "acquired" event. */
static void
acquired(struct pool_conn *pc, struct jw *w)
{
	struct myconn *c = pool_conn_get(pc);
	const char *cipher = myconn_tls_cipher(c);

	jw_kint(w, "thread_id", (long long)myconn_thread_id(c));
	jw_kint(w, "version", (long long)myconn_server_version(c));
	jw_kstr(w, "server_info", myconn_server_info(c));
	jw_kbool(w, "mariadb", myconn_is_mariadb(c));
	if (cipher)
		jw_kstr(w, "cipher", cipher);
	else {
		jw_key(w, "cipher");
		jw_null(w);
	}
}

static void
on_result(struct myconn *c, const struct myconn_result *r, void *arg)
{
	struct drv_slot *s = arg;
	struct jw w;
	int i, j;

	if (r->err.code != MYCONN_OK) {
		drv_begin(&w, "query_error", s->id);
		jw_kstr(&w, "code", myconn_errcode_name(r->err.code));
		jw_kint(&w, "errno", r->err.server_errno);
		jw_kstr(&w, "sqlstate", r->err.sqlstate);
		jw_kstr(&w, "msg", r->err.msg);
		jw_kstr(&w, "state", myconn_state_name(myconn_state(c)));
		drv_emit(&w);
		return;
	}
	for (i = 0; i < r->nrows; i++) {
		drv_begin(&w, "row", s->id);
		jw_key(&w, "values");
		jw_arr_open(&w);
		for (j = 0; j < r->ncols; j++) {
			const char *v = myconn_res_value(r, i, j);

			if (v)
				jw_strn(&w, v, myconn_res_len(r, i, j));
			else
				jw_null(&w);
		}
		jw_arr_close(&w);
		drv_emit(&w);
	}
	drv_begin(&w, "result", s->id);
	jw_kint(&w, "nrows", r->nrows);
	jw_kint(&w, "affected", (long long)r->affected_rows);
	jw_kint(&w, "insert_id", (long long)r->insert_id);
	jw_kint(&w, "warnings", r->warnings);
	jw_key(&w, "cols");
	jw_arr_open(&w);
	for (j = 0; j < r->ncols; j++)
		jw_str(&w, myconn_res_colname(r, j));
	jw_arr_close(&w);
	drv_emit(&w);
}

static void
do_query(struct drv *d, yajl_val cmd, const char *id)
{
	struct drv_slot *s = drv_slot_find(&d->core, id, false);
	const char *sql = json_gets(cmd, "sql");
	struct myconn *c;
	double timeout;

	if (s == NULL || s->pc == NULL) {
		drv_simple("query_error", id, "no such connection");
		return;
	}
	c = pool_conn_get(s->pc);
	if (json_double(json_get(cmd, "timeout", NULL), &timeout))
		myconn_set_query_timeout(c, timeout);
	if (myconn_query(c, sql, on_result, s) != 0) {
		struct jw w;

		drv_begin(&w, "query_error", id);
		jw_kstr(&w, "code", myconn_errcode_name(myconn_error(c)->code));
		jw_kint(&w, "errno", myconn_error(c)->server_errno);
		jw_kstr(&w, "msg", myconn_error(c)->msg);
		jw_kstr(&w, "sqlstate", myconn_error(c)->sqlstate);
		jw_kstr(&w, "state", myconn_state_name(myconn_state(c)));
		drv_emit(&w);
	}
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
	i = myconn_escape_identifier(json_gets(cmd, "ident"), err,
	    sizeof(err));
	l = i ? myconn_escape_literal(pool_conn_get(s->pc),
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

static void
do_info(struct drv *d, const char *id)
{
	struct drv_slot *s = drv_slot_find(&d->core, id, false);
	struct myconn *c;
	struct jw w;

	if (s == NULL || s->pc == NULL) {
		drv_simple("info_error", id, "no such connection");
		return;
	}
	c = pool_conn_get(s->pc);
	drv_begin(&w, "info", id);
	jw_kstr(&w, "state", myconn_state_name(myconn_state(c)));
	jw_kbool(&w, "broken", myconn_is_broken(c));
	jw_kstr(&w, "code", myconn_errcode_name(myconn_error(c)->code));
	jw_kstr(&w, "msg", myconn_error(c)->msg);
	drv_emit(&w);
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
	else if (strcmp(op, "info") == 0)
		do_info(d, id);
	else
		return false;
	return true;
}

static const struct drv_engine engine = { "mydrv", acquired, command };

static void
usage(void)
{
	fprintf(stderr, "usage: mydrv --host H --user U [--password-env V | "
	    "--password-file F] [options] < commands\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dns-server", required_argument, NULL, 'N' },
		{ "dns-timeout", required_argument, NULL, 'T' },
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "dbname", required_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'U' },
		{ "password-env", required_argument, NULL, 'e' },
		{ "password-file", required_argument, NULL, 'f' },
		{ "tls", required_argument, NULL, 's' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "tls-dir", required_argument, NULL, 'D' },
		{ "connect-timeout", required_argument, NULL, 'C' },
		{ "query-timeout", required_argument, NULL, 'Q' },
		{ "charset", required_argument, NULL, 'H' },
		{ "cap", required_argument, NULL, 'n' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "acquire-timeout", required_argument, NULL, 'w' },
		{ "backoff-initial", required_argument, NULL, 'b' },
		{ "log-level", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	struct drv d;
	struct drv_opts o;
	char err[256];
	struct pgtls *tls = NULL;
	int ch;

	memset(&d, 0, sizeof(d));
	drv_opts_init(&o);
	d.params.dbname = "mysql";
	d.params.tls_mode = MYCONN_TLS_PREFERRED;
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'h': d.params.host = optarg; break;
		case 'p': d.params.port = atoi(optarg); break;
		case 'd': d.params.dbname = optarg; break;
		case 'U': d.params.user = optarg; break;
		case 's':
			if (myconn_tls_parse(optarg, &d.params.tls_mode) != 0)
				usage();
			break;
		case 'C': d.params.connect_timeout = atof(optarg); break;
		case 'Q': d.params.query_timeout = atof(optarg); break;
		case 'H': d.params.charset = optarg; break;
		default:
			if (drv_common_opt("mydrv", ch, optarg, &o) != 1)
				usage();
		}
	}
	if (d.params.host == NULL || d.params.user == NULL)
		usage();
	d.core.loop = EV_DEFAULT;
	d.rs = resolver_new(d.core.loop, &o.rcfg, err, sizeof(err));
	if (d.rs == NULL) {
		fprintf(stderr, "mydrv: %s\n", err);
		return 1;
	}
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
	d.core.pool = pool_new(d.core.loop, &o.pcfg, &myconn_pool_ops, d.rs);
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
	return 0;
}
