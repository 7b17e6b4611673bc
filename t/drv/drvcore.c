/*
 * drvcore.c - the part of the engine drivers that does not depend on the
 * engine (see drvcore.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drv/drvcore.h"
#include "log.h"
#include "pgtls.h"
#include "util.h"

void
drv_emit(struct jw *w)
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

void
drv_begin(struct jw *w, const char *ev, const char *id)
{
	jw_init(w);
	jw_obj_open(w);
	jw_kstr(w, "ev", ev);
	if (id)
		jw_kstr(w, "id", id);
}

void
drv_simple(const char *ev, const char *id, const char *msg)
{
	struct jw w;

	drv_begin(&w, ev, id);
	if (msg)
		jw_kstr(&w, "msg", msg);
	drv_emit(&w);
}

char *
drv_slurp(const char *prog, const char *path, size_t *len)
{
	char *s = read_file(path, 1 << 20, len);

	if (s == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s\n", prog, path,
		    strerror(errno));
		exit(2);
	}
	return s;
}

struct drv_slot *
drv_slot_find(struct drvcore *d, const char *id, bool create)
{
	struct drv_slot *free_slot = NULL;
	size_t i;

	for (i = 0; i < DRV_MAX_CONNS; i++) {
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
	struct drv_slot *s = arg;
	struct jw w;

	s->wait = NULL;
	if (pc == NULL) {
		drv_simple("acquire_error", s->id, err);
		s->id[0] = '\0';
		return;
	}
	s->pc = pc;
	drv_begin(&w, "acquired", s->id);
	s->d->eng->acquired(pc, &w);
	drv_emit(&w);
}

static void
do_stats(struct drvcore *d)
{
	struct pool_stats st;
	struct jw w;

	pool_stats(d->pool, NULL, &st);
	drv_begin(&w, "stats", NULL);
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
	drv_emit(&w);
}

static void
do_release(struct drvcore *d, yajl_val cmd, const char *id)
{
	struct drv_slot *s = drv_slot_find(d, id, false);
	bool broken = false;

	json_bool(json_get(cmd, "broken", NULL), &broken);
	if (s && s->pc) {
		pool_release(d->pool, s->pc, broken);
		s->pc = NULL;
		s->id[0] = '\0';
		drv_simple("released", id, NULL);
	} else if (s && s->wait) {
		pool_cancel(s->wait);
		s->wait = NULL;
		s->id[0] = '\0';
		drv_simple("cancelled", id, NULL);
	} else {
		drv_simple("release_error", id, "no such connection");
	}
}

static void
command(struct drvcore *d, const char *text, size_t len)
{
	char err[256];
	yajl_val cmd = json_parse(text, len, err, sizeof(err));
	const char *op, *id;

	if (cmd == NULL) {
		drv_simple("bad_command", NULL, err);
		return;
	}
	op = json_gets(cmd, "op");
	id = json_gets(cmd, "id");
	if (op == NULL) {
		drv_simple("bad_command", NULL, "no op");
	} else if (strcmp(op, "acquire") == 0 && id) {
		struct drv_slot *s = drv_slot_find(d, id, true);
		const char *db = json_gets(cmd, "db");

		if (s == NULL || s->pc || s->wait)
			drv_simple("acquire_error", id,
			    "slot busy or table full");
		else
			s->wait = pool_acquire(d->pool, DRV_INSTANCE,
			    db ? db : d->dbname, d->params, on_acquired, s);
	} else if (strcmp(op, "release") == 0 && id) {
		do_release(d, cmd, id);
	} else if (strcmp(op, "drop") == 0) {
		pool_drop_instance(d->pool, DRV_INSTANCE);
		drv_simple("dropped", NULL, NULL);
	} else if (strcmp(op, "stats") == 0) {
		do_stats(d);
	} else if (strcmp(op, "quit") == 0) {
		d->eof = true;
		ev_break(d->loop, EVBREAK_ALL);
	} else if (!d->eng->command(d, op, cmd, id)) {
		drv_simple("bad_command", NULL, op);
	}
	json_free(cmd);
}

static void
stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct drvcore *d = container_of(w, struct drvcore, in);
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
		drv_simple("bad_command", NULL, "line too long");
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

void
drv_run(struct drvcore *d)
{
	buf_init(&d->line, 64u << 20);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	ev_io_init(&d->in, stdin_cb, 0, EV_READ);
	ev_io_start(d->loop, &d->in);
	drv_simple("ready", NULL, NULL);
	ev_run(d->loop, 0);
	ev_io_stop(d->loop, &d->in);
	buf_release(&d->line);
}

void
drv_opts_init(struct drv_opts *o)
{
	memset(o, 0, sizeof(*o));
}

int
drv_common_opt(const char *prog, int ch, const char *arg, struct drv_opts *o)
{
	enum log_level lvl;
	size_t len;

	switch (ch) {
	case 'N': o->rcfg.servers = arg; break;
	case 'T': o->rcfg.timeout = atof(arg); break;
	case 'e':
		if (getenv(arg) == NULL)
			return -1;
		o->password = xstrdup(getenv(arg));
		break;
	case 'f':
		o->password = drv_slurp(prog, arg, &len);
		while (len > 0 && (o->password[len - 1] == '\n' ||
		    o->password[len - 1] == '\r'))
			o->password[--len] = '\0';
		break;
	case 'a': o->ca = drv_slurp(prog, arg, &o->pem.ca_len); o->pem.ca = o->ca; break;
	case 'c': o->cert = drv_slurp(prog, arg, &o->pem.cert_len); o->pem.cert = o->cert; break;
	case 'k': o->key = drv_slurp(prog, arg, &o->pem.key_len); o->pem.key = o->key; break;
	case 'D': pgtls_set_parent(arg); break;
	case 'n': o->pcfg.max_per_instance = (unsigned)atoi(arg); break;
	case 'i': o->pcfg.idle_timeout = atof(arg); break;
	case 'w': o->pcfg.acquire_timeout = atof(arg); break;
	case 'b': o->pcfg.backoff.initial = atof(arg);
		o->pcfg.backoff.factor = 2.0;
		o->pcfg.backoff.jitter = 0.0;
		o->pcfg.backoff.cap = 30.0;
		break;
	case 'L':
		if (log_level_parse(arg, &lvl) == 0)
			log_set_level(lvl);
		break;
	default:
		return 0;
	}
	return 1;
}

void
drv_opts_free_pem(struct drv_opts *o)
{
	free(o->ca);
	free(o->cert);
	free_secret(o->key);
	o->ca = o->cert = o->key = NULL;
	memset(&o->pem, 0, sizeof(o->pem));
}
