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

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ev.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "myconn.h"
#include "pgtls.h"
#include "pool.h"
#include "resolve.h"

#define INSTANCE "test/inst"
#define MAX_CONNS 64

struct slot {
	char id[32];
	struct pool_wait *wait;
	struct pool_conn *pc;
	struct drv *d;
};

struct drv {
	struct ev_loop *loop;
	struct resolver *rs;
	struct pool *pool;
	struct myconn_params params;
	ev_io in;
	struct buf line;
	struct slot slots[MAX_CONNS];
	bool eof;
};

static void
emit(struct jw *w)
{
	size_t len;
	const char *t;

	jw_obj_close(w);
	t = jw_text(w, &len);
	fwrite(t, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	jw_release(w);
}

static void
begin(struct jw *w, const char *ev, const char *id)
{
	jw_init(w);
	jw_obj_open(w);
	jw_kstr(w, "ev", ev);
	if (id)
		jw_kstr(w, "id", id);
}

static void
simple(const char *ev, const char *id, const char *msg)
{
	struct jw w;

	begin(&w, ev, id);
	if (msg)
		jw_kstr(&w, "msg", msg);
	emit(&w);
}

static char *
slurp(const char *path, size_t *len)
{
	char *s = read_file(path, 1 << 20, len);

	if (s == NULL) {
		fprintf(stderr, "mydrv: cannot read %s: %s\n", path,
		    strerror(errno));
		exit(2);
	}
	return s;
}

static struct slot *
slot_find(struct drv *d, const char *id, bool create)
{
	size_t i;
	struct slot *free_slot = NULL;

	for (i = 0; i < MAX_CONNS; i++) {
		if (d->slots[i].id[0] && strcmp(d->slots[i].id, id) == 0)
			return &d->slots[i];
		if (!d->slots[i].id[0] && free_slot == NULL)
			free_slot = &d->slots[i];
	}
	if (!create || free_slot == NULL)
		return NULL;
	strlcpy0(free_slot->id, id, sizeof(free_slot->id));
	free_slot->d = d;
	return free_slot;
}

static void
on_acquired(struct pool_conn *pc, const char *err, void *arg)
{
	struct slot *s = arg;
	struct myconn *c;
	const char *cipher;
	struct jw w;

	s->wait = NULL;
	if (pc == NULL) {
		simple("acquire_error", s->id, err);
		s->id[0] = '\0';
		return;
	}
	s->pc = pc;
	c = pool_conn_get(pc);
	cipher = myconn_tls_cipher(c);
	begin(&w, "acquired", s->id);
	jw_kint(&w, "thread_id", (long long)myconn_thread_id(c));
	jw_kint(&w, "version", (long long)myconn_server_version(c));
	jw_kstr(&w, "server_info", myconn_server_info(c));
	jw_kbool(&w, "mariadb", myconn_is_mariadb(c));
	if (cipher)
		jw_kstr(&w, "cipher", cipher);
	else {
		jw_key(&w, "cipher");
		jw_null(&w);
	}
	emit(&w);
}

static void
on_result(struct myconn *c, const struct myconn_result *r, void *arg)
{
	struct slot *s = arg;
	struct jw w;
	int i, j;

	if (r->err.code != MYCONN_OK) {
		begin(&w, "query_error", s->id);
		jw_kstr(&w, "code", myconn_errcode_name(r->err.code));
		jw_kint(&w, "errno", r->err.server_errno);
		jw_kstr(&w, "sqlstate", r->err.sqlstate);
		jw_kstr(&w, "msg", r->err.msg);
		jw_kstr(&w, "state", myconn_state_name(myconn_state(c)));
		emit(&w);
		return;
	}
	for (i = 0; i < r->nrows; i++) {
		begin(&w, "row", s->id);
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
		emit(&w);
	}
	begin(&w, "result", s->id);
	jw_kint(&w, "nrows", r->nrows);
	jw_kint(&w, "affected", (long long)r->affected_rows);
	jw_kint(&w, "insert_id", (long long)r->insert_id);
	jw_kint(&w, "warnings", r->warnings);
	jw_key(&w, "cols");
	jw_arr_open(&w);
	for (j = 0; j < r->ncols; j++)
		jw_str(&w, myconn_res_colname(r, j));
	jw_arr_close(&w);
	emit(&w);
}

static void
do_query(struct drv *d, yajl_val cmd, const char *id)
{
	struct slot *s = slot_find(d, id, false);
	const char *sql = json_gets(cmd, "sql");
	struct myconn *c;
	double timeout;

	if (s == NULL || s->pc == NULL) {
		simple("query_error", id, "no such connection");
		return;
	}
	c = pool_conn_get(s->pc);
	if (json_double(json_get(cmd, "timeout", NULL), &timeout))
		myconn_set_query_timeout(c, timeout);
	if (myconn_query(c, sql, on_result, s) != 0) {
		struct jw w;

		begin(&w, "query_error", id);
		jw_kstr(&w, "code", myconn_errcode_name(myconn_error(c)->code));
		jw_kint(&w, "errno", myconn_error(c)->server_errno);
		jw_kstr(&w, "msg", myconn_error(c)->msg);
		jw_kstr(&w, "sqlstate", myconn_error(c)->sqlstate);
		jw_kstr(&w, "state", myconn_state_name(myconn_state(c)));
		emit(&w);
	}
}

static void
do_escape(struct drv *d, yajl_val cmd, const char *id)
{
	struct slot *s = slot_find(d, id, false);
	char err[256];
	char *i, *l;
	struct jw w;

	if (s == NULL || s->pc == NULL) {
		simple("escape_error", id, "no such connection");
		return;
	}
	i = myconn_escape_identifier(json_gets(cmd, "ident"), err,
	    sizeof(err));
	l = i ? myconn_escape_literal(pool_conn_get(s->pc),
	    json_gets(cmd, "literal"), err, sizeof(err)) : NULL;
	if (i == NULL || l == NULL) {
		simple("escape_error", id, err);
	} else {
		begin(&w, "escaped", id);
		jw_kstr(&w, "ident", i);
		jw_kstr(&w, "literal", l);
		emit(&w);
	}
	free(i);
	free(l);
}

static void
do_info(struct drv *d, const char *id)
{
	struct slot *s = slot_find(d, id, false);
	struct myconn *c;
	struct jw w;

	if (s == NULL || s->pc == NULL) {
		simple("info_error", id, "no such connection");
		return;
	}
	c = pool_conn_get(s->pc);
	begin(&w, "info", id);
	jw_kstr(&w, "state", myconn_state_name(myconn_state(c)));
	jw_kbool(&w, "broken", myconn_is_broken(c));
	jw_kstr(&w, "code", myconn_errcode_name(myconn_error(c)->code));
	jw_kstr(&w, "msg", myconn_error(c)->msg);
	emit(&w);
}

static void
do_stats(struct drv *d)
{
	struct pool_stats st;
	struct jw w;

	pool_stats(d->pool, NULL, &st);
	begin(&w, "stats", NULL);
	jw_kint(&w, "conns", st.conns);
	jw_kint(&w, "idle", st.idle);
	jw_kint(&w, "busy", st.busy);
	jw_kint(&w, "connecting", st.connecting);
	jw_kint(&w, "waiting", st.waiting);
	jw_kint(&w, "connects", (long long)st.connects);
	jw_kint(&w, "connect_failures", (long long)st.connect_failures);
	jw_kint(&w, "closed_idle", (long long)st.closed_idle);
	jw_kint(&w, "closed_broken", (long long)st.closed_broken);
	jw_kint(&w, "handed_out", (long long)st.handed_out);
	jw_kint(&w, "tls_live", (long long)pgtls_live());
	jw_kstr(&w, "tls_dir", pgtls_dir());
	emit(&w);
}

static void
command(struct drv *d, const char *text, size_t len)
{
	char err[256];
	yajl_val cmd = json_parse(text, len, err, sizeof(err));
	const char *op, *id;

	if (cmd == NULL) {
		simple("bad_command", NULL, err);
		return;
	}
	op = json_gets(cmd, "op");
	id = json_gets(cmd, "id");
	if (op == NULL) {
		simple("bad_command", NULL, "no op");
	} else if (strcmp(op, "acquire") == 0 && id) {
		struct slot *s = slot_find(d, id, true);
		const char *db = json_gets(cmd, "db");

		if (s == NULL || s->pc || s->wait) {
			simple("acquire_error", id, "slot busy or table full");
		} else {
			struct myconn_params p = d->params;

			s->wait = pool_acquire(d->pool, INSTANCE,
			    db ? db : d->params.dbname, &p, on_acquired, s);
		}
	} else if (strcmp(op, "query") == 0 && id) {
		do_query(d, cmd, id);
	} else if (strcmp(op, "release") == 0 && id) {
		struct slot *s = slot_find(d, id, false);
		bool broken = false;

		json_bool(json_get(cmd, "broken", NULL), &broken);
		if (s && s->pc) {
			pool_release(d->pool, s->pc, broken);
			s->pc = NULL;
			s->id[0] = '\0';
			simple("released", id, NULL);
		} else if (s && s->wait) {
			pool_cancel(s->wait);
			s->wait = NULL;
			s->id[0] = '\0';
			simple("cancelled", id, NULL);
		} else {
			simple("release_error", id, "no such connection");
		}
	} else if (strcmp(op, "escape") == 0 && id) {
		do_escape(d, cmd, id);
	} else if (strcmp(op, "info") == 0 && id) {
		do_info(d, id);
	} else if (strcmp(op, "drop") == 0) {
		pool_drop_instance(d->pool, INSTANCE);
		simple("dropped", NULL, NULL);
	} else if (strcmp(op, "stats") == 0) {
		do_stats(d);
	} else if (strcmp(op, "quit") == 0) {
		d->eof = true;
		ev_break(d->loop, EVBREAK_ALL);
	} else {
		simple("bad_command", NULL, op);
	}
	json_free(cmd);
}

static void
stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct drv *d = container_of(w, struct drv, in);
	char chunk[4096];
	ssize_t n;
	char *nl;

	(void)revents;
	n = read(0, chunk, sizeof(chunk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		d->eof = true;
		ev_io_stop(loop, w);
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (buf_append(&d->line, chunk, (size_t)n) != 0) {
		simple("bad_command", NULL, "line too long");
		buf_reset(&d->line);
		return;
	}
	while (!d->eof && (nl = memchr(d->line.data, '\n', d->line.len))) {
		size_t len = (size_t)(nl - d->line.data);

		if (len > 0)
			command(d, d->line.data, len);
		buf_consume(&d->line, len + 1);
	}
}

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
	struct resolver_config rcfg = { 0 };
	struct pool_config pcfg;
	struct pgtls_pem pem;
	char *ca = NULL, *cert = NULL, *key = NULL, *password = NULL;
	char err[256];
	struct pgtls *tls = NULL;
	enum log_level lvl;
	int ch;

	memset(&d, 0, sizeof(d));
	memset(&pem, 0, sizeof(pem));
	memset(&pcfg, 0, sizeof(pcfg));
	d.params.dbname = "mysql";
	d.params.tls_mode = MYCONN_TLS_PREFERRED;
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'N': rcfg.servers = optarg; break;
		case 'T': rcfg.timeout = atof(optarg); break;
		case 'h': d.params.host = optarg; break;
		case 'p': d.params.port = atoi(optarg); break;
		case 'd': d.params.dbname = optarg; break;
		case 'U': d.params.user = optarg; break;
		case 'e':
			if (getenv(optarg) == NULL)
				usage();
			password = xstrdup(getenv(optarg));
			break;
		case 'f': {
			size_t len;

			password = slurp(optarg, &len);
			while (len > 0 && (password[len - 1] == '\n' ||
			    password[len - 1] == '\r'))
				password[--len] = '\0';
			break;
		}
		case 's':
			if (myconn_tls_parse(optarg, &d.params.tls_mode) != 0)
				usage();
			break;
		case 'a': ca = slurp(optarg, &pem.ca_len); pem.ca = ca; break;
		case 'c': cert = slurp(optarg, &pem.cert_len); pem.cert = cert; break;
		case 'k': key = slurp(optarg, &pem.key_len); pem.key = key; break;
		case 'D': pgtls_set_parent(optarg); break;
		case 'C': d.params.connect_timeout = atof(optarg); break;
		case 'Q': d.params.query_timeout = atof(optarg); break;
		case 'H': d.params.charset = optarg; break;
		case 'n': pcfg.max_per_instance = (unsigned)atoi(optarg); break;
		case 'i': pcfg.idle_timeout = atof(optarg); break;
		case 'w': pcfg.acquire_timeout = atof(optarg); break;
		case 'b': pcfg.backoff.initial = atof(optarg);
			pcfg.backoff.factor = 2.0;
			pcfg.backoff.jitter = 0.0;
			pcfg.backoff.cap = 30.0;
			break;
		case 'L':
			if (log_level_parse(optarg, &lvl) == 0)
				log_set_level(lvl);
			break;
		default: usage();
		}
	}
	if (d.params.host == NULL || d.params.user == NULL)
		usage();
	d.loop = EV_DEFAULT;
	d.rs = resolver_new(d.loop, &rcfg, err, sizeof(err));
	if (d.rs == NULL) {
		fprintf(stderr, "mydrv: %s\n", err);
		return 1;
	}
	tls = pgtls_new(&pem, err, sizeof(err));
	free(ca);
	free(cert);
	free_secret(key);
	if (tls == NULL) {
		simple("tls_error", NULL, err);
		free_secret(password);
		resolver_free(d.rs);
		return 1;
	}
	d.params.tls = tls;
	d.params.password = password;
	d.pool = pool_new(d.loop, &pcfg, &myconn_pool_ops, d.rs);
	buf_init(&d.line, 64u << 20);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	ev_io_init(&d.in, stdin_cb, 0, EV_READ);
	ev_io_start(d.loop, &d.in);
	simple("ready", NULL, NULL);
	ev_run(d.loop, 0);
	ev_io_stop(d.loop, &d.in);
	pool_free(d.pool);
	/* Let deferred frees (connections closed inside callbacks) run. */
	ev_run(d.loop, EVRUN_NOWAIT);
	pgtls_unref(tls);
	free_secret(password);
	buf_release(&d.line);
	resolver_free(d.rs);
	simple("bye", NULL, NULL);
	return 0;
}
