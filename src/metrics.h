/*
 * metrics.h - Prometheus metrics: a registry of counters, gauges and
 * histograms with label sets, rendered in the text exposition format
 * (version 0.0.4), and the typed functions the rest of dbprovd calls.
 *
 * Two layers:
 *
 *  - A generic registry (struct metrics): families are registered with
 *    their label names (and buckets), series are created on first use and
 *    can be deleted; collectors registered with metrics_add_collector()
 *    run at the start of every render to copy statistics kept by other
 *    modules into gauges and counters.
 *
 *  - The process-wide registry behind metrics_init(), holding every metric
 *    of doc/monitoring.md, and a typed C API over it. This registry is the
 *    one piece of module-level state in dbprovd (like the default registry
 *    of every Prometheus client): code deep in a controller records an
 *    outcome without threading a pointer through every call. Before
 *    metrics_init() (and after metrics_shutdown()) the typed functions do
 *    nothing, so unit tests of other modules need no set-up.
 *
 * Label names of the original operator that collide with Prometheus
 * target labels are renamed: instance -> db_instance, namespace ->
 * resource_namespace. Label values are any strings (escaped on output);
 * NULL is taken as "".
 */
#ifndef DBP_METRICS_H
#define DBP_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "util.h"

/* ---- generic registry --------------------------------------------------- */

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
	METRIC__COUNT
};

struct metrics;
struct metric;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *r);

/* Registers a family. labels is a NULL-terminated list of label names
 * (NULL for none); buckets (histograms only) are upper bounds in
 * increasing order, +Inf implied. Everything is copied. Names and label
 * names are checked: an invalid or duplicate name aborts (a programming
 * error, not input). */
struct metric *metrics_register(struct metrics *r, enum metric_type type,
    const char *name, const char *help, const char *const *labels,
    const double *buckets, size_t nbuckets);
struct metric *metrics_find(const struct metrics *r, const char *name);

/* values holds one value per label name, in order. */
/* Counter or gauge: adds v (counters: v >= 0, negative is ignored). */
void metric_add(struct metric *m, const char *const *values, double v);
/* Gauge; also a counter when a collector mirrors another module's
 * monotonic count. */
void metric_set(struct metric *m, const char *const *values, double v);
/* Histogram. */
void metric_observe(struct metric *m, const char *const *values, double v);
/* Removes one series; returns true when it existed. */
bool metric_delete(struct metric *m, const char *const *values);
/* Removes every series (collectors that rebuild a family each scrape). */
void metric_reset(struct metric *m);
size_t metric_series(const struct metric *m);
/* The value of a series (histograms: the count), or -1 when absent. For
 * tests. */
double metric_get(const struct metric *m, const char *const *values);

/* Called at the start of each render, in registration order. */
void metrics_add_collector(struct metrics *r, void (*fn)(void *arg),
    void *arg);
/* Runs the collectors and appends the exposition text to out. Families
 * appear in registration order, series sorted by label values; a family
 * without series still gets its HELP and TYPE lines. Returns 0, or -1
 * when out's cap was reached. */
int metrics_render(struct metrics *r, struct buf *out) DBP_MUSTCHECK;

/* Formats a sample value the way Prometheus clients do: shortest
 * round-trip decimal, "+Inf", "-Inf", "NaN". out needs 32 bytes. */
void metrics_format_value(double v, char *out, size_t outlen);
/* Appends "v" with \, " and newline escaped (label values). */
int metrics_escape_label(struct buf *out, const char *v) DBP_MUSTCHECK;

/* ---- the process-wide registry ------------------------------------------ */

/* Creates the registry with every family of doc/monitoring.md. Idempotent. */
void metrics_init(void);
void metrics_shutdown(void);
/* The registry, or NULL before metrics_init(). */
struct metrics *metrics_default(void);

/* ---- dbops_* (the original operator's metrics) --------------------------
 * Engine values are "postgres" / "mysql"; ns is the custom resource's
 * namespace; instance is the DatabaseInstance name. Durations are
 * observed for successful operations only, as in the original. */

enum metrics_op { METRICS_OP_CREATE, METRICS_OP_UPDATE, METRICS_OP_DELETE,
	METRICS_OP__COUNT };

/* dbops_connection_attempts_total */
void metrics_connection_attempt(const char *instance, const char *engine,
    bool ok, const char *ns);
/* dbops_connection_latency_seconds (a successful connect + ping) */
void metrics_connection_latency(const char *instance, const char *engine,
    const char *ns, double seconds);
/* dbops_instance_healthy and, when healthy, ..._last_health_check_
 * timestamp_seconds = when (Unix seconds). */
void metrics_instance_health(const char *instance, const char *engine,
    const char *ns, bool healthy, double when);
/* Instance deleted: removes its healthy, last-check and latency series. */
void metrics_instance_forget(const char *instance, const char *engine,
    const char *ns);

/* dbops_database_operations_total and, when ok and seconds >= 0,
 * dbops_database_operation_duration_seconds. */
void metrics_database_operation(enum metrics_op op, const char *engine,
    bool ok, const char *ns, double seconds);
/* dbops_database_size_bytes; database is the server-side name. */
void metrics_database_size(const char *database, const char *instance,
    const char *engine, const char *ns, double bytes);
void metrics_database_forget(const char *database, const char *instance,
    const char *engine, const char *ns);

void metrics_user_operation(enum metrics_op op, const char *engine, bool ok,
    const char *ns);
void metrics_role_operation(enum metrics_op op, const char *engine, bool ok,
    const char *ns);
void metrics_grant_operation(enum metrics_op op, const char *engine, bool ok,
    const char *ns);

/* dbops_backup_operations_total; on success also the duration, and for
 * database the size (bytes stored) and last-success timestamp (Unix s). */
void metrics_backup_result(const char *database, const char *engine,
    const char *ns, bool ok, double seconds, double size_bytes,
    double finished_at);
/* Backup CR deleted: removes the size and last-success series. */
void metrics_backup_forget(const char *database, const char *engine,
    const char *ns);
void metrics_restore_result(const char *engine, const char *ns, bool ok,
    double seconds);
/* dbops_scheduled_backups_total: a schedule created a backup (or failed). */
void metrics_scheduled_backup(const char *ns, bool ok);
/* dbops_schedule_next_backup_timestamp_seconds; database is the
 * template's databaseRef.name. */
void metrics_schedule_next(const char *database, const char *ns,
    double when);
void metrics_schedule_forget(const char *database, const char *ns);

/* dbops_resource_count is rebuilt at every scrape: reset, then one call
 * per cached object. */
void metrics_resource_count_reset(void);
void metrics_resource_count_add(const char *kind, const char *phase,
    const char *ns);

/* ---- controllers and the work queue (controller-runtime names) ----------
 * Times are seconds on the caller's clock (the loop's ev_now()); every
 * call of one process must use the same clock. */

/* Declares a controller: its series start at zero. */
void metrics_controller(const char *ctrl, unsigned max_concurrent);
/* A key was added: ready at `ready_at` (<= now: at once), or -1 when the
 * delay is not known (rate-limited retries). */
void metrics_queue_add(const char *ctrl, const char *ns, const char *name,
    double ready_at, double now);
/* A failed reconcile was put back with backoff (workqueue_retries_total). */
void metrics_queue_retry(const char *ctrl);
void metrics_reconcile_start(const char *ctrl, const char *ns,
    const char *name, double now);
/* result: "success", "error", "requeue" or "requeue_after". */
void metrics_reconcile_end(const char *ctrl, const char *ns, const char *name,
    const char *result, double started, double now);
/* Sets workqueue_depth, longest_running/unfinished work and
 * active_workers from the keys tracked (call from a collector). */
void metrics_workqueue_collect(double now);

/* ---- Kubernetes API client (client-go names) ---------------------------- */

/* One finished attempt: status 0 means a transport error (code
 * "<error>"). */
void metrics_rest_request(const char *method, const char *host, long status,
    double seconds);

#endif
