/*
 * metrics.c - the registry, the text exposition format, and the typed
 * API over the process-wide registry.
 *
 * A family keeps its series in a hash map keyed by the label values
 * (length-prefixed, so no two value tuples share a key). Rendering sorts
 * the series by their values, so the output is stable.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "map.h"
#include "metrics.h"

#define METRICS_MAX_LABELS	8
#define METRICS_MAX_CTRLS	32

struct series {
	char **values;		/* nlabels strings */
	double value;		/* counter, gauge */
	double sum;		/* histogram */
	unsigned long long count;
	unsigned long long *buckets;	/* per bucket, not cumulative */
};

struct metric {
	enum metric_type type;
	char *name;
	char *help;
	char **labels;
	size_t nlabels;
	double *buckets;
	size_t nbuckets;
	struct map series;	/* key -> struct series */
};

struct collector {
	void (*fn)(void *arg);
	void *arg;
};

struct metrics {
	struct metric **fams;
	size_t nfams;
	struct collector *colls;
	size_t ncolls;
};

static const char *const type_names[METRIC__COUNT] = {
	"counter", "gauge", "histogram",
};

/* ---- registry ----------------------------------------------------------- */

static bool
valid_name(const char *s, bool label)
{
	const char *p;

	if (s == NULL || *s == '\0')
		return false;
	if (label && s[0] == '_' && s[1] == '_')
		return false;	/* reserved */
	for (p = s; *p; p++) {
		char c = *p;
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (!label && c == ':');

		if (!alpha && !(p > s && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

struct metrics *
metrics_new(void)
{
	return xcalloc(1, sizeof(struct metrics));
}

static void
series_free(void *p)
{
	struct series *s = p;

	free(s->buckets);
	free(s->values);	/* one allocation holds the strings too */
	free(s);
}

static void
family_free(struct metric *m)
{
	size_t i;

	map_release(&m->series, series_free);
	for (i = 0; i < m->nlabels; i++)
		free(m->labels[i]);
	free(m->labels);
	free(m->buckets);
	free(m->name);
	free(m->help);
	free(m);
}

void
metrics_free(struct metrics *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nfams; i++)
		family_free(r->fams[i]);
	free(r->fams);
	free(r->colls);
	free(r);
}

struct metric *
metrics_find(const struct metrics *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nfams; i++)
		if (strcmp(r->fams[i]->name, name) == 0)
			return r->fams[i];
	return NULL;
}

struct metric *
metrics_register(struct metrics *r, enum metric_type type, const char *name,
    const char *help, const char *const *labels, const double *buckets,
    size_t nbuckets)
{
	struct metric *m;
	size_t i, j, n = 0;

	if (!valid_name(name, false) || metrics_find(r, name) != NULL)
		abort();
	while (labels && labels[n])
		n++;
	if (n > METRICS_MAX_LABELS)
		abort();
	m = xcalloc(1, sizeof(*m));
	m->type = type;
	m->name = xstrdup(name);
	m->help = xstrdup(help ? help : "");
	m->nlabels = n;
	m->labels = xcalloc(n ? n : 1, sizeof(*m->labels));
	for (i = 0; i < n; i++) {
		if (!valid_name(labels[i], true) ||
		    (type == METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0))
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(labels[i], labels[j]) == 0)
				abort();
		m->labels[i] = xstrdup(labels[i]);
	}
	if (type == METRIC_HISTOGRAM) {
		m->nbuckets = nbuckets;
		m->buckets = xcalloc(nbuckets ? nbuckets : 1, sizeof(double));
		for (i = 0; i < nbuckets; i++) {
			if (i > 0 && !(buckets[i] > buckets[i - 1]))
				abort();
			m->buckets[i] = buckets[i];
		}
	}
	map_init(&m->series);
	r->fams = xrealloc(r->fams, (r->nfams + 1) * sizeof(*r->fams));
	r->fams[r->nfams++] = m;
	return m;
}

void
metrics_add_collector(struct metrics *r, void (*fn)(void *arg), void *arg)
{
	r->colls = xrealloc(r->colls, (r->ncolls + 1) * sizeof(*r->colls));
	r->colls[r->ncolls].fn = fn;
	r->colls[r->ncolls].arg = arg;
	r->ncolls++;
}

/* The map key of a value tuple: "<len>:<value>" for each value. */
static char *
series_key(const struct metric *m, const char *const *values, char *stackbuf,
    size_t stacklen)
{
	struct buf b = BUF_INIT(0);
	size_t i, need = 1;

	for (i = 0; i < m->nlabels; i++)
		need += strlen(values[i] ? values[i] : "") + 24;
	if (need <= stacklen) {
		char *p = stackbuf;

		*p = '\0';
		for (i = 0; i < m->nlabels; i++) {
			const char *v = values[i] ? values[i] : "";
			p += sprintf(p, "%zu:", strlen(v));
			memcpy(p, v, strlen(v) + 1);
			p += strlen(v);
		}
		return stackbuf;
	}
	for (i = 0; i < m->nlabels; i++) {
		const char *v = values[i] ? values[i] : "";
		if (buf_printf(&b, "%zu:", strlen(v)) < 0 || buf_puts(&b, v) < 0)
			die_oom();
	}
	return buf_detach(&b, NULL);
}

static struct series *
series_get(struct metric *m, const char *const *values, bool create)
{
	char stackbuf[512], *key;
	struct series *s;
	size_t i, total = 0;
	char *p;

	key = series_key(m, values, stackbuf, sizeof(stackbuf));
	s = map_get(&m->series, key);
	if (s == NULL && create) {
		s = xcalloc(1, sizeof(*s));
		for (i = 0; i < m->nlabels; i++)
			total += strlen(values[i] ? values[i] : "") + 1;
		/* The pointer array and the strings in one block. */
		s->values = xmalloc(m->nlabels * sizeof(char *) + total + 1);
		p = (char *)(s->values + m->nlabels);
		for (i = 0; i < m->nlabels; i++) {
			const char *v = values[i] ? values[i] : "";
			size_t n = strlen(v) + 1;

			memcpy(p, v, n);
			s->values[i] = p;
			p += n;
		}
		if (m->type == METRIC_HISTOGRAM)
			s->buckets = xcalloc(m->nbuckets ? m->nbuckets : 1,
			    sizeof(*s->buckets));
		map_put(&m->series, key, s);
	}
	if (key != stackbuf)
		free(key);
	return s;
}

void
metric_add(struct metric *m, const char *const *values, double v)
{
	if (m == NULL)
		return;
	if (m->type == METRIC_HISTOGRAM)
		abort();
	if (m->type == METRIC_COUNTER && !(v >= 0))
		return;
	series_get(m, values, true)->value += v;
}

void
metric_set(struct metric *m, const char *const *values, double v)
{
	if (m == NULL)
		return;
	if (m->type == METRIC_HISTOGRAM)
		abort();
	series_get(m, values, true)->value = v;
}

void
metric_observe(struct metric *m, const char *const *values, double v)
{
	struct series *s;
	size_t i;

	if (m == NULL)
		return;
	if (m->type != METRIC_HISTOGRAM)
		abort();
	if (isnan(v))
		return;
	s = series_get(m, values, true);
	for (i = 0; i < m->nbuckets; i++) {
		if (v <= m->buckets[i]) {
			s->buckets[i]++;
			break;
		}
	}
	s->count++;
	s->sum += v;
}

bool
metric_delete(struct metric *m, const char *const *values)
{
	char stackbuf[512], *key;
	struct series *s;

	if (m == NULL)
		return false;
	key = series_key(m, values, stackbuf, sizeof(stackbuf));
	s = map_del(&m->series, key);
	if (key != stackbuf)
		free(key);
	if (s)
		series_free(s);
	return s != NULL;
}

void
metric_reset(struct metric *m)
{
	if (m == NULL)
		return;
	map_release(&m->series, series_free);
	map_init(&m->series);
}

size_t
metric_series(const struct metric *m)
{
	return m ? map_len(&m->series) : 0;
}

double
metric_get(const struct metric *m, const char *const *values)
{
	struct series *s;

	if (m == NULL)
		return -1;
	s = series_get((struct metric *)m, values, false);
	if (s == NULL)
		return -1;
	return m->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
}

/* ---- exposition format ------------------------------------------------------ */

void
metrics_format_value(double v, char *out, size_t outlen)
{
	if (isnan(v)) {
		snprintf(out, outlen, "NaN");
	} else if (isinf(v)) {
		snprintf(out, outlen, v > 0 ? "+Inf" : "-Inf");
	} else if (v == 0) {
		snprintf(out, outlen, "0");
	} else if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(out, outlen, "%.0f", v);
	} else {
		snprintf(out, outlen, "%.15g", v);
		if (strtod(out, NULL) != v)
			snprintf(out, outlen, "%.17g", v);
	}
}

int
metrics_escape_label(struct buf *out, const char *v)
{
	const char *p;

	for (p = v ? v : ""; *p; p++) {
		int rc;

		if (*p == '\\')
			rc = buf_puts(out, "\\\\");
		else if (*p == '"')
			rc = buf_puts(out, "\\\"");
		else if (*p == '\n')
			rc = buf_puts(out, "\\n");
		else
			rc = buf_putc(out, *p);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int
escape_help(struct buf *out, const char *v)
{
	const char *p;

	for (p = v; *p; p++) {
		int rc;

		if (*p == '\\')
			rc = buf_puts(out, "\\\\");
		else if (*p == '\n')
			rc = buf_puts(out, "\\n");
		else
			rc = buf_putc(out, *p);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int
series_cmp(const void *a, const void *b, void *arg)
{
	const struct series *x = *(const struct series *const *)a;
	const struct series *y = *(const struct series *const *)b;
	size_t i, n = *(const size_t *)arg;

	for (i = 0; i < n; i++) {
		int c = strcmp(x->values[i], y->values[i]);
		if (c)
			return c;
	}
	return 0;
}

/* name{l1="v1",...[,le="x"]} value\n */
static int
render_sample(struct buf *out, const struct metric *m, const char *suffix,
    const struct series *s, const char *le, double v)
{
	char num[48];
	size_t i;
	bool any = m->nlabels > 0 || le != NULL;

	if (buf_puts(out, m->name) < 0 || buf_puts(out, suffix) < 0)
		return -1;
	if (any && buf_putc(out, '{') < 0)
		return -1;
	for (i = 0; i < m->nlabels; i++) {
		if (buf_printf(out, "%s%s=\"", i ? "," : "", m->labels[i]) < 0 ||
		    metrics_escape_label(out, s->values[i]) < 0 ||
		    buf_putc(out, '"') < 0)
			return -1;
	}
	if (le && buf_printf(out, "%sle=\"%s\"", m->nlabels ? "," : "", le) < 0)
		return -1;
	if (any && buf_putc(out, '}') < 0)
		return -1;
	metrics_format_value(v, num, sizeof(num));
	return buf_printf(out, " %s\n", num);
}

static int
render_family(struct buf *out, struct metric *m)
{
	struct series **all;
	size_t n = map_len(&m->series), i = 0, pos = 0, b;
	void *val;
	int rc = 0;

	if (buf_printf(out, "# HELP %s ", m->name) < 0 ||
	    escape_help(out, m->help) < 0 ||
	    buf_printf(out, "\n# TYPE %s %s\n", m->name, type_names[m->type]) < 0)
		return -1;
	if (n == 0)
		return 0;
	all = xcalloc(n, sizeof(*all));
	while (map_next(&m->series, &pos, NULL, &val) && i < n)
		all[i++] = val;
	qsort_r(all, i, sizeof(*all), series_cmp, &m->nlabels);
	for (n = i, i = 0; i < n && rc == 0; i++) {
		struct series *s = all[i];

		if (m->type != METRIC_HISTOGRAM) {
			rc = render_sample(out, m, "", s, NULL, s->value);
			continue;
		}
		{
			unsigned long long cum = 0;
			char le[48];

			for (b = 0; b < m->nbuckets && rc == 0; b++) {
				cum += s->buckets[b];
				metrics_format_value(m->buckets[b], le, sizeof(le));
				rc = render_sample(out, m, "_bucket", s, le, (double)cum);
			}
			if (rc == 0)
				rc = render_sample(out, m, "_bucket", s, "+Inf",
				    (double)s->count);
			if (rc == 0)
				rc = render_sample(out, m, "_sum", s, NULL, s->sum);
			if (rc == 0)
				rc = render_sample(out, m, "_count", s, NULL,
				    (double)s->count);
		}
	}
	free(all);
	return rc;
}

int
metrics_render(struct metrics *r, struct buf *out)
{
	size_t i;

	for (i = 0; i < r->ncolls; i++)
		r->colls[i].fn(r->colls[i].arg);
	for (i = 0; i < r->nfams; i++)
		if (render_family(out, r->fams[i]) < 0)
			return -1;
	return 0;
}

/* ---- the process-wide registry ------------------------------------------------ */

struct wq_item {
	int ctrl;
	double ready;		/* became ready at; 0: not waiting */
	double delayed;		/* will become ready at; 0: none known */
	double started;		/* in flight since; 0: not in flight */
	bool inflight;
};

struct wq_ctrl {
	char *name;
	unsigned max_concurrent;
};

static struct {
	struct metrics *r;
	/* dbops_* */
	struct metric *conn_attempts, *conn_latency, *inst_healthy,
	    *inst_last_check, *db_ops, *db_op_duration, *db_size, *user_ops,
	    *role_ops, *grant_ops, *backup_ops, *backup_duration, *backup_size,
	    *backup_last, *restore_ops, *restore_duration, *sched_backups,
	    *sched_next, *resource_count;
	/* controllers and queue */
	struct metric *rec_total, *rec_errors, *rec_time, *max_conc, *active,
	    *wq_depth, *wq_adds, *wq_retries, *wq_queue_dur, *wq_work_dur,
	    *wq_longest, *wq_unfinished;
	/* client */
	struct metric *rest_total, *rest_dur;
	/* process */
	struct metric *p_rss, *p_vsize, *p_cpu, *p_fds, *p_maxfds, *p_start;
	double start_time;
	struct map wq;		/* "ctrl\x1fns\x1fname" -> struct wq_item */
	struct wq_ctrl ctrls[METRICS_MAX_CTRLS];
	size_t nctrls;
} G;

static const char *const op_names[METRICS_OP__COUNT] = {
	"create", "update", "delete",
};

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define V(...) ((const char *const[]){ __VA_ARGS__ })

static const double b_conn[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	0.5, 1, 2.5, 5, 10 };
static const double b_dbop[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
	30, 60 };
static const double b_backup[] = { 1, 5, 10, 30, 60, 120, 300, 600, 1800,
	3600 };
/* controller-runtime's reconcile_time_seconds buckets */
static const double b_reconcile[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.15,
	0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
	1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25,
	30, 40, 50, 60 };
/* workqueue: ExponentialBuckets(10e-9, 10, 12) */
static const double b_queue[] = { 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2,
	1e-1, 1, 10, 100, 1000 };
/* client-go rest_client_request_duration_seconds */
static const double b_rest[] = { 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15,
	30, 60 };

static struct metric *
reg(enum metric_type t, const char *name, const char *help,
    const char *const *labels)
{
	return metrics_register(G.r, t, name, help, labels, NULL, 0);
}

static struct metric *
hist(const char *name, const char *help, const char *const *labels,
    const double *b, size_t nb)
{
	return metrics_register(G.r, METRIC_HISTOGRAM, name, help, labels, b, nb);
}

/* ---- process metrics from /proc/self ---- */

static double
clock_ticks(void)
{
	long t = sysconf(_SC_CLK_TCK);

	return t > 0 ? (double)t : 100.0;
}

/* Fields 14 (utime) ... 24 (rss) of /proc/self/stat, after the comm. */
static int
read_proc_stat(double *cpu, double *vsize, double *rss, double *starttime)
{
	char *text = read_file("/proc/self/stat", 4096, NULL);
	const char *p;
	unsigned long long utime, stime, start, vs;
	long long rs;
	int n;

	if (text == NULL)
		return -1;
	p = strrchr(text, ')');
	n = p ? sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d "
	    "%*d %*d %*d %*d %llu %llu %lld", &utime, &stime, &start, &vs,
	    &rs) : 0;
	free(text);
	if (n != 5)
		return -1;
	*cpu = (double)(utime + stime) / clock_ticks();
	*vsize = (double)vs;
	*rss = (double)rs * (double)sysconf(_SC_PAGESIZE);
	*starttime = (double)start / clock_ticks();
	return 0;
}

static double
boot_time(void)
{
	char *text = read_file("/proc/stat", 1 << 20, NULL);
	const char *p;
	double bt = 0;

	if (text == NULL)
		return 0;
	p = strstr(text, "\nbtime ");
	if (p)
		bt = strtod(p + 7, NULL);
	free(text);
	return bt;
}

static void
process_collect(void *arg)
{
	double cpu, vsize, rss, start;
	struct rlimit rl;
	DIR *d;

	(void)arg;
	if (read_proc_stat(&cpu, &vsize, &rss, &start) == 0) {
		metric_set(G.p_cpu, NULL, cpu);
		metric_set(G.p_vsize, NULL, vsize);
		metric_set(G.p_rss, NULL, rss);
		if (G.start_time == 0) {
			double bt = boot_time();
			G.start_time = bt > 0 ? bt + start : wall_now();
		}
	}
	if (G.start_time > 0)
		metric_set(G.p_start, NULL, G.start_time);
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;
		double n = 0;

		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				n++;
		closedir(d);
		metric_set(G.p_fds, NULL, n - 1);	/* not the DIR itself */
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		metric_set(G.p_maxfds, NULL, rl.rlim_cur == RLIM_INFINITY ?
		    INFINITY : (double)rl.rlim_cur);
}

void
metrics_init(void)
{
	const char *const res_ns = "resource_namespace";

	if (G.r)
		return;
	G.r = metrics_new();
	map_init(&G.wq);

	/* The original operator's metrics (label names renamed, see
	 * doc/monitoring.md). */
	G.conn_attempts = reg(METRIC_COUNTER, "dbops_connection_attempts_total",
	    "Connection attempts to database instances, by outcome.",
	    L("db_instance", "engine", "status", res_ns));
	G.conn_latency = hist("dbops_connection_latency_seconds",
	    "Time to open a connection to a database instance and ping it.",
	    L("db_instance", "engine", res_ns), b_conn, ARRAY_SIZE(b_conn));
	G.inst_healthy = reg(METRIC_GAUGE, "dbops_instance_healthy",
	    "1 when the last health check of the database instance succeeded, else 0.",
	    L("db_instance", "engine", res_ns));
	G.inst_last_check = reg(METRIC_GAUGE,
	    "dbops_instance_last_health_check_timestamp_seconds",
	    "Unix time of the last successful health check of the database instance.",
	    L("db_instance", "engine", res_ns));
	G.db_ops = reg(METRIC_COUNTER, "dbops_database_operations_total",
	    "Database create/update/delete operations, by outcome.",
	    L("operation", "engine", "status", res_ns));
	G.db_op_duration = hist("dbops_database_operation_duration_seconds",
	    "Duration of successful database operations.",
	    L("operation", "engine", res_ns), b_dbop, ARRAY_SIZE(b_dbop));
	G.db_size = reg(METRIC_GAUGE, "dbops_database_size_bytes",
	    "Size of the database on the server.",
	    L("database", "db_instance", "engine", res_ns));
	G.user_ops = reg(METRIC_COUNTER, "dbops_user_operations_total",
	    "Database user operations, by outcome.",
	    L("operation", "engine", "status", res_ns));
	G.role_ops = reg(METRIC_COUNTER, "dbops_role_operations_total",
	    "Database role operations, by outcome.",
	    L("operation", "engine", "status", res_ns));
	G.grant_ops = reg(METRIC_COUNTER, "dbops_grant_operations_total",
	    "Grant operations, by outcome.",
	    L("operation", "engine", "status", res_ns));
	G.backup_ops = reg(METRIC_COUNTER, "dbops_backup_operations_total",
	    "Backups, by outcome.", L("engine", "status", res_ns));
	G.backup_duration = hist("dbops_backup_duration_seconds",
	    "Duration of successful backups.", L("engine", res_ns), b_backup,
	    ARRAY_SIZE(b_backup));
	G.backup_size = reg(METRIC_GAUGE, "dbops_backup_size_bytes",
	    "Size of the last successful backup as stored.",
	    L("database", "engine", res_ns));
	G.backup_last = reg(METRIC_GAUGE,
	    "dbops_backup_last_success_timestamp_seconds",
	    "Unix time of the last successful backup.",
	    L("database", "engine", res_ns));
	G.restore_ops = reg(METRIC_COUNTER, "dbops_restore_operations_total",
	    "Restores, by outcome.", L("engine", "status", res_ns));
	G.restore_duration = hist("dbops_restore_duration_seconds",
	    "Duration of successful restores.", L("engine", res_ns), b_backup,
	    ARRAY_SIZE(b_backup));
	G.sched_backups = reg(METRIC_COUNTER, "dbops_scheduled_backups_total",
	    "Backups created by schedules, by outcome.", L("status", res_ns));
	G.sched_next = reg(METRIC_GAUGE,
	    "dbops_schedule_next_backup_timestamp_seconds",
	    "Unix time of the next scheduled backup.", L("database", res_ns));
	G.resource_count = reg(METRIC_GAUGE, "dbops_resource_count",
	    "Custom resources in the operator's caches, by kind and phase.",
	    L("resource_type", "phase", res_ns));

	/* controller-runtime */
	G.rec_total = reg(METRIC_COUNTER, "controller_runtime_reconcile_total",
	    "Total number of reconciliations per controller.",
	    L("controller", "result"));
	G.rec_errors = reg(METRIC_COUNTER,
	    "controller_runtime_reconcile_errors_total",
	    "Total number of reconciliation errors per controller.",
	    L("controller"));
	G.rec_time = hist("controller_runtime_reconcile_time_seconds",
	    "Length of time per reconciliation per controller.",
	    L("controller"), b_reconcile, ARRAY_SIZE(b_reconcile));
	G.max_conc = reg(METRIC_GAUGE,
	    "controller_runtime_max_concurrent_reconciles",
	    "Maximum number of concurrent reconciles per controller (the cap is shared by all controllers).",
	    L("controller"));
	G.active = reg(METRIC_GAUGE, "controller_runtime_active_workers",
	    "Number of reconciles currently running per controller.",
	    L("controller"));
	G.wq_depth = reg(METRIC_GAUGE, "workqueue_depth",
	    "Current depth of workqueue (keys ready and waiting).", L("name"));
	G.wq_adds = reg(METRIC_COUNTER, "workqueue_adds_total",
	    "Total number of adds handled by workqueue.", L("name"));
	G.wq_retries = reg(METRIC_COUNTER, "workqueue_retries_total",
	    "Total number of retries handled by workqueue.", L("name"));
	G.wq_queue_dur = hist("workqueue_queue_duration_seconds",
	    "How long in seconds an item stays in workqueue before being requested.",
	    L("name"), b_queue, ARRAY_SIZE(b_queue));
	G.wq_work_dur = hist("workqueue_work_duration_seconds",
	    "How long in seconds processing an item from workqueue takes.",
	    L("name"), b_queue, ARRAY_SIZE(b_queue));
	G.wq_longest = reg(METRIC_GAUGE,
	    "workqueue_longest_running_processor_seconds",
	    "How many seconds has the longest running processor for workqueue been running.",
	    L("name"));
	G.wq_unfinished = reg(METRIC_GAUGE, "workqueue_unfinished_work_seconds",
	    "How many seconds of work has been done that is in progress and hasn't been observed by work_duration.",
	    L("name"));

	/* client-go */
	G.rest_total = reg(METRIC_COUNTER, "rest_client_requests_total",
	    "Number of HTTP requests to the Kubernetes API, partitioned by status code, method, and host.",
	    L("code", "method", "host"));
	G.rest_dur = hist("rest_client_request_duration_seconds",
	    "Request latency in seconds to the Kubernetes API (to the response headers for watches), by verb and host.",
	    L("verb", "host"), b_rest, ARRAY_SIZE(b_rest));

	/* process */
	G.p_cpu = reg(METRIC_COUNTER, "process_cpu_seconds_total",
	    "Total user and system CPU time spent in seconds.", NULL);
	G.p_fds = reg(METRIC_GAUGE, "process_open_fds",
	    "Number of open file descriptors.", NULL);
	G.p_maxfds = reg(METRIC_GAUGE, "process_max_fds",
	    "Maximum number of open file descriptors.", NULL);
	G.p_vsize = reg(METRIC_GAUGE, "process_virtual_memory_bytes",
	    "Virtual memory size in bytes.", NULL);
	G.p_rss = reg(METRIC_GAUGE, "process_resident_memory_bytes",
	    "Resident memory size in bytes.", NULL);
	G.p_start = reg(METRIC_GAUGE, "process_start_time_seconds",
	    "Start time of the process since unix epoch in seconds.", NULL);
	metrics_add_collector(G.r, process_collect, NULL);
}

void
metrics_shutdown(void)
{
	size_t i;

	if (G.r == NULL)
		return;
	metrics_free(G.r);
	map_release(&G.wq, free);
	for (i = 0; i < G.nctrls; i++)
		free(G.ctrls[i].name);
	memset(&G, 0, sizeof(G));
}

struct metrics *
metrics_default(void)
{
	return G.r;
}

static const char *
status_of(bool ok)
{
	return ok ? "success" : "failure";
}

/* ---- dbops_* ---- */

void
metrics_connection_attempt(const char *instance, const char *engine, bool ok,
    const char *ns)
{
	if (G.r)
		metric_add(G.conn_attempts, V(instance, engine, status_of(ok), ns), 1);
}

void
metrics_connection_latency(const char *instance, const char *engine,
    const char *ns, double seconds)
{
	if (G.r)
		metric_observe(G.conn_latency, V(instance, engine, ns), seconds);
}

void
metrics_instance_health(const char *instance, const char *engine,
    const char *ns, bool healthy, double when)
{
	if (G.r == NULL)
		return;
	metric_set(G.inst_healthy, V(instance, engine, ns), healthy ? 1 : 0);
	if (healthy)
		metric_set(G.inst_last_check, V(instance, engine, ns), when);
}

void
metrics_instance_forget(const char *instance, const char *engine,
    const char *ns)
{
	if (G.r == NULL)
		return;
	metric_delete(G.inst_healthy, V(instance, engine, ns));
	metric_delete(G.inst_last_check, V(instance, engine, ns));
	metric_delete(G.conn_latency, V(instance, engine, ns));
}

void
metrics_database_operation(enum metrics_op op, const char *engine, bool ok,
    const char *ns, double seconds)
{
	if (G.r == NULL || op >= METRICS_OP__COUNT)
		return;
	metric_add(G.db_ops, V(op_names[op], engine, status_of(ok), ns), 1);
	if (ok && seconds >= 0)
		metric_observe(G.db_op_duration, V(op_names[op], engine, ns), seconds);
}

void
metrics_database_size(const char *database, const char *instance,
    const char *engine, const char *ns, double bytes)
{
	if (G.r)
		metric_set(G.db_size, V(database, instance, engine, ns), bytes);
}

void
metrics_database_forget(const char *database, const char *instance,
    const char *engine, const char *ns)
{
	if (G.r)
		metric_delete(G.db_size, V(database, instance, engine, ns));
}

static void
op_count(struct metric *m, enum metrics_op op, const char *engine, bool ok,
    const char *ns)
{
	if (G.r == NULL || op >= METRICS_OP__COUNT)
		return;
	metric_add(m, V(op_names[op], engine, status_of(ok), ns), 1);
}

void
metrics_user_operation(enum metrics_op op, const char *engine, bool ok,
    const char *ns)
{
	op_count(G.user_ops, op, engine, ok, ns);
}

void
metrics_role_operation(enum metrics_op op, const char *engine, bool ok,
    const char *ns)
{
	op_count(G.role_ops, op, engine, ok, ns);
}

void
metrics_grant_operation(enum metrics_op op, const char *engine, bool ok,
    const char *ns)
{
	op_count(G.grant_ops, op, engine, ok, ns);
}

void
metrics_backup_result(const char *database, const char *engine,
    const char *ns, bool ok, double seconds, double size_bytes,
    double finished_at)
{
	if (G.r == NULL)
		return;
	metric_add(G.backup_ops, V(engine, status_of(ok), ns), 1);
	if (!ok)
		return;
	if (seconds >= 0)
		metric_observe(G.backup_duration, V(engine, ns), seconds);
	if (database) {
		if (size_bytes >= 0)
			metric_set(G.backup_size, V(database, engine, ns), size_bytes);
		metric_set(G.backup_last, V(database, engine, ns), finished_at);
	}
}

void
metrics_backup_forget(const char *database, const char *engine,
    const char *ns)
{
	if (G.r == NULL)
		return;
	metric_delete(G.backup_size, V(database, engine, ns));
	metric_delete(G.backup_last, V(database, engine, ns));
}

void
metrics_restore_result(const char *engine, const char *ns, bool ok,
    double seconds)
{
	if (G.r == NULL)
		return;
	metric_add(G.restore_ops, V(engine, status_of(ok), ns), 1);
	if (ok && seconds >= 0)
		metric_observe(G.restore_duration, V(engine, ns), seconds);
}

void
metrics_scheduled_backup(const char *ns, bool ok)
{
	if (G.r)
		metric_add(G.sched_backups, V(status_of(ok), ns), 1);
}

void
metrics_schedule_next(const char *database, const char *ns, double when)
{
	if (G.r)
		metric_set(G.sched_next, V(database, ns), when);
}

void
metrics_schedule_forget(const char *database, const char *ns)
{
	if (G.r)
		metric_delete(G.sched_next, V(database, ns));
}

void
metrics_resource_count_reset(void)
{
	if (G.r)
		metric_reset(G.resource_count);
}

void
metrics_resource_count_add(const char *kind, const char *phase,
    const char *ns)
{
	if (G.r)
		metric_add(G.resource_count, V(kind, phase, ns), 1);
}

/* ---- controllers and the work queue ----
 *
 * The manager has one queue for all controllers; these functions keep, per
 * key, when it became ready (or will) and whether it is in flight, so the
 * queue metrics can be given per controller as controller-runtime users
 * expect. A key's entry lives while it waits or runs. */

static int
ctrl_index(const char *ctrl)
{
	size_t i;

	for (i = 0; i < G.nctrls; i++)
		if (strcmp(G.ctrls[i].name, ctrl) == 0)
			return (int)i;
	if (G.nctrls == METRICS_MAX_CTRLS)
		return -1;
	G.ctrls[G.nctrls].name = xstrdup(ctrl);
	return (int)G.nctrls++;
}

void
metrics_controller(const char *ctrl, unsigned max_concurrent)
{
	static const char *const results[] = { "success", "error", "requeue",
		"requeue_after" };
	size_t i;
	int c;

	if (G.r == NULL || (c = ctrl_index(ctrl)) < 0)
		return;
	G.ctrls[c].max_concurrent = max_concurrent;
	for (i = 0; i < ARRAY_SIZE(results); i++)
		metric_add(G.rec_total, V(ctrl, results[i]), 0);
	metric_add(G.rec_errors, V(ctrl), 0);
	metric_set(G.max_conc, V(ctrl), max_concurrent);
	metric_set(G.active, V(ctrl), 0);
	metric_add(G.wq_adds, V(ctrl), 0);
	metric_add(G.wq_retries, V(ctrl), 0);
	metric_set(G.wq_depth, V(ctrl), 0);
	metric_set(G.wq_longest, V(ctrl), 0);
	metric_set(G.wq_unfinished, V(ctrl), 0);
}

static char *
wq_key(const char *ctrl, const char *ns, const char *name)
{
	return xasprintf("%s\x1f%s\x1f%s", ctrl, ns ? ns : "", name ? name : "");
}

/* A delayed add whose time has come is ready now (unless already). */
static void
wq_promote(struct wq_item *it, double now)
{
	if (it->delayed > 0 && it->delayed <= now) {
		if (it->ready == 0) {
			it->ready = it->delayed;
			metric_add(G.wq_adds, V(G.ctrls[it->ctrl].name), 1);
		}
		it->delayed = 0;
	}
}

static void
wq_maybe_free(const char *key, struct wq_item *it)
{
	if (it->ready == 0 && it->delayed == 0 && !it->inflight)
		free(map_del(&G.wq, key));
}

void
metrics_queue_add(const char *ctrl, const char *ns, const char *name,
    double ready_at, double now)
{
	struct wq_item *it;
	char *key;
	int c;

	if (G.r == NULL || (c = ctrl_index(ctrl)) < 0 || ready_at < 0)
		return;
	key = wq_key(ctrl, ns, name);
	it = map_get(&G.wq, key);
	if (it == NULL) {
		it = xcalloc(1, sizeof(*it));
		it->ctrl = c;
		map_put(&G.wq, key, it);
	}
	wq_promote(it, now);
	if (ready_at <= now) {
		/* A key already waiting is not added twice (the queue dedups). */
		if (it->ready == 0) {
			it->ready = now;
			metric_add(G.wq_adds, V(ctrl), 1);
		}
	} else if (it->delayed == 0 || ready_at < it->delayed) {
		it->delayed = ready_at;
	}
	free(key);
}

void
metrics_queue_retry(const char *ctrl)
{
	if (G.r)
		metric_add(G.wq_retries, V(ctrl), 1);
}

void
metrics_reconcile_start(const char *ctrl, const char *ns, const char *name,
    double now)
{
	struct wq_item *it;
	char *key;
	int c;

	if (G.r == NULL || (c = ctrl_index(ctrl)) < 0)
		return;
	key = wq_key(ctrl, ns, name);
	it = map_get(&G.wq, key);
	if (it == NULL) {
		/* Queued with an unknown delay (a retry): it did go through
		 * the queue, but how long it waited is not known. */
		it = xcalloc(1, sizeof(*it));
		it->ctrl = c;
		map_put(&G.wq, key, it);
		metric_add(G.wq_adds, V(ctrl), 1);
	} else {
		wq_promote(it, now);
		if (it->ready > 0)
			metric_observe(G.wq_queue_dur, V(ctrl),
			    now > it->ready ? now - it->ready : 0);
		else
			metric_add(G.wq_adds, V(ctrl), 1);
	}
	it->ready = 0;
	it->inflight = true;
	it->started = now;
	free(key);
}

void
metrics_reconcile_end(const char *ctrl, const char *ns, const char *name,
    const char *result, double started, double now)
{
	struct wq_item *it;
	double d = now > started ? now - started : 0;
	char *key;

	if (G.r == NULL)
		return;
	metric_add(G.rec_total, V(ctrl, result), 1);
	if (strcmp(result, "error") == 0)
		metric_add(G.rec_errors, V(ctrl), 1);
	metric_observe(G.rec_time, V(ctrl), d);
	metric_observe(G.wq_work_dur, V(ctrl), d);
	key = wq_key(ctrl, ns, name);
	it = map_get(&G.wq, key);
	if (it) {
		it->inflight = false;
		it->started = 0;
		wq_maybe_free(key, it);
	}
	free(key);
}

void
metrics_workqueue_collect(double now)
{
	double depth[METRICS_MAX_CTRLS] = { 0 }, active[METRICS_MAX_CTRLS] = { 0 };
	double longest[METRICS_MAX_CTRLS] = { 0 }, unfinished[METRICS_MAX_CTRLS] = { 0 };
	size_t pos = 0, i;
	const char *key;
	void *val;

	if (G.r == NULL)
		return;
	while (map_next(&G.wq, &pos, &key, &val)) {
		struct wq_item *it = val;

		wq_promote(it, now);
		if (it->inflight) {
			double run = now > it->started ? now - it->started : 0;

			active[it->ctrl]++;
			unfinished[it->ctrl] += run;
			if (run > longest[it->ctrl])
				longest[it->ctrl] = run;
		} else if (it->ready > 0) {
			depth[it->ctrl]++;
		}
	}
	for (i = 0; i < G.nctrls; i++) {
		const char *n = G.ctrls[i].name;

		metric_set(G.wq_depth, V(n), depth[i]);
		metric_set(G.active, V(n), active[i]);
		metric_set(G.wq_longest, V(n), longest[i]);
		metric_set(G.wq_unfinished, V(n), unfinished[i]);
	}
}

/* ---- client ---- */

void
metrics_rest_request(const char *method, const char *host, long status,
    double seconds)
{
	char code[16];

	if (G.r == NULL)
		return;
	if (status > 0)
		snprintf(code, sizeof(code), "%ld", status);
	else
		strlcpy0(code, "<error>", sizeof(code));
	metric_add(G.rest_total, V(code, method, host), 1);
	metric_observe(G.rest_dur, V(method, host), seconds);
}
