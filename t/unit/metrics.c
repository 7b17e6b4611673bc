/*
 * metrics.c - the registry and its text format, then the process-wide
 * registry: renamed labels, series deletion, the work-queue tracker.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "tap.h"
#include "util.h"

#define V(...) ((const char *const[]){ __VA_ARGS__ })
#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static char *
render(struct metrics *r)
{
	struct buf b = BUF_INIT(0);

	if (metrics_render(r, &b) < 0)
		abort();
	return buf_detach(&b, NULL);
}

static int collected;

static void
collector(void *arg)
{
	collected++;
	metric_set(arg, NULL, collected);
}

static void
test_registry(void)
{
	static const double b[] = { 0.1, 1, 2.5 };
	struct metrics *r = metrics_new();
	struct metric *c, *g, *h, *n;
	char *out, num[32];

	c = metrics_register(r, METRIC_COUNTER, "x_total", "Help with \\ and\nnewline.",
	    L("a", "b"), NULL, 0);
	g = metrics_register(r, METRIC_GAUGE, "x_gauge", "A gauge.", L("k"), NULL, 0);
	h = metrics_register(r, METRIC_HISTOGRAM, "x_seconds", "A histogram.",
	    L("k"), b, 3);
	n = metrics_register(r, METRIC_GAUGE, "x_scrapes", "Collector runs.", NULL,
	    NULL, 0);
	metrics_register(r, METRIC_COUNTER, "x_empty_total", "No series.", NULL,
	    NULL, 0);
	metrics_add_collector(r, collector, n);
	metric_add(c, V("2", "q\"uo\\te\nnl"), 1);
	metric_add(c, V("1", "z"), 2.5);
	metric_add(c, V("1", "z"), -7);		/* ignored for counters */
	metric_set(g, V("v"), -3);
	metric_add(g, V("v"), 1);
	metric_observe(h, V("s"), 0.05);
	metric_observe(h, V("s"), 0.1);
	metric_observe(h, V("s"), 2);
	metric_observe(h, V("s"), 99);
	out = render(r);
	is_str(out,
	    "# HELP x_total Help with \\\\ and\\nnewline.\n"
	    "# TYPE x_total counter\n"
	    "x_total{a=\"1\",b=\"z\"} 2.5\n"
	    "x_total{a=\"2\",b=\"q\\\"uo\\\\te\\nnl\"} 1\n"
	    "# HELP x_gauge A gauge.\n"
	    "# TYPE x_gauge gauge\n"
	    "x_gauge{k=\"v\"} -2\n"
	    "# HELP x_seconds A histogram.\n"
	    "# TYPE x_seconds histogram\n"
	    "x_seconds_bucket{k=\"s\",le=\"0.1\"} 2\n"
	    "x_seconds_bucket{k=\"s\",le=\"1\"} 2\n"
	    "x_seconds_bucket{k=\"s\",le=\"2.5\"} 3\n"
	    "x_seconds_bucket{k=\"s\",le=\"+Inf\"} 4\n"
	    "x_seconds_sum{k=\"s\"} 101.15\n"
	    "x_seconds_count{k=\"s\"} 4\n"
	    "# HELP x_scrapes Collector runs.\n"
	    "# TYPE x_scrapes gauge\n"
	    "x_scrapes 1\n"
	    "# HELP x_empty_total No series.\n"
	    "# TYPE x_empty_total counter\n",
	    "exposition text: escaping, sorting, cumulative buckets, collector");
	free(out);
	ok(metric_get(c, V("1", "z")) == 2.5, "metric_get");
	ok(metric_get(h, V("s")) == 4, "histogram count");
	ok(metric_delete(c, V("1", "z")), "delete a series");
	ok(!metric_delete(c, V("1", "z")), "deleting twice: false");
	ok(metric_get(c, V("1", "z")) == -1, "gone");
	is_int(metric_series(c), 1, "one left");
	metric_reset(c);
	is_int(metric_series(c), 0, "reset");
	ok(metrics_find(r, "x_gauge") == g, "find");
	metrics_free(r);

	metrics_format_value(INFINITY, num, sizeof(num));
	is_str(num, "+Inf", "+Inf");
	metrics_format_value(-INFINITY, num, sizeof(num));
	is_str(num, "-Inf", "-Inf");
	metrics_format_value(NAN, num, sizeof(num));
	is_str(num, "NaN", "NaN");
	metrics_format_value(0.1, num, sizeof(num));
	is_str(num, "0.1", "shortest decimal");
	metrics_format_value(1e-8, num, sizeof(num));
	is_str(num, "1e-08", "small");
	metrics_format_value(1234567890123.0, num, sizeof(num));
	is_str(num, "1234567890123", "integers in full");
	metrics_format_value(1.0 / 3, num, sizeof(num));
	ok(strtod(num, NULL) == 1.0 / 3, "round trip");
}

static void
test_default(void)
{
	char *out;
	struct metric *m;

	metrics_connection_attempt("pg", "postgres", true, "ns1");
	ok(metrics_default() == NULL, "typed calls before init are no-ops");
	metrics_init();
	metrics_init();
	ok(metrics_default() != NULL, "init (idempotent)");
	metrics_connection_attempt("pg", "postgres", true, "ns1");
	metrics_connection_attempt("pg", "postgres", false, "ns1");
	metrics_connection_latency("pg", "postgres", "ns1", 0.02);
	metrics_instance_health("pg", "postgres", "ns1", true, 1700000000);
	metrics_database_operation(METRICS_OP_CREATE, "postgres", true, "ns1", 0.3);
	metrics_database_operation(METRICS_OP_DELETE, "postgres", false, "ns1", 0.3);
	metrics_database_size("app", "pg", "postgres", "ns1", 8e6);
	metrics_backup_result("app", "postgres", "ns1", true, 12, 4096, 1700000100);
	metrics_backup_result("app", "postgres", "ns1", false, 1, -1, 0);
	metrics_schedule_next("app", "ns1", 1700003600);
	out = render(metrics_default());
	ok(strstr(out, "dbops_connection_attempts_total{db_instance=\"pg\",engine=\"postgres\",status=\"success\",resource_namespace=\"ns1\"} 1\n") != NULL,
	    "renamed labels: db_instance, resource_namespace");
	ok(strstr(out, "dbops_connection_latency_seconds_bucket{db_instance=\"pg\",engine=\"postgres\",resource_namespace=\"ns1\",le=\"0.025\"} 1\n") != NULL,
	    "latency buckets of the original");
	ok(strstr(out, "dbops_database_operation_duration_seconds_count{operation=\"create\",engine=\"postgres\",resource_namespace=\"ns1\"} 1\n") != NULL,
	    "duration of the successful create");
	ok(strstr(out, "dbops_database_operation_duration_seconds_count{operation=\"delete\"") == NULL,
	    "no duration for the failure");
	ok(strstr(out, "dbops_backup_operations_total{engine=\"postgres\",status=\"failure\",resource_namespace=\"ns1\"} 1\n") != NULL,
	    "backup failure counted");
	ok(strstr(out, "dbops_backup_last_success_timestamp_seconds{database=\"app\",engine=\"postgres\",resource_namespace=\"ns1\"} 1700000100\n") != NULL,
	    "last success");
	ok(strstr(out, "# TYPE dbops_resource_count gauge\n") != NULL, "resource count declared");
	ok(strstr(out, "process_resident_memory_bytes ") != NULL &&
	    strstr(out, "process_start_time_seconds ") != NULL &&
	    strstr(out, "process_open_fds ") != NULL, "process metrics");
	ok(strstr(out, "{instance=") == NULL && strstr(out, ",instance=") == NULL &&
	    strstr(out, ",namespace=") == NULL &&
	    strstr(out, "{namespace=") == NULL, "no label named instance or namespace");
	free(out);

	metrics_instance_forget("pg", "postgres", "ns1");
	metrics_backup_forget("app", "postgres", "ns1");
	metrics_database_forget("app", "pg", "postgres", "ns1");
	metrics_schedule_forget("app", "ns1");
	out = render(metrics_default());
	ok(strstr(out, "dbops_instance_healthy{") == NULL &&
	    strstr(out, "dbops_instance_last_health_check_timestamp_seconds{") == NULL &&
	    strstr(out, "dbops_connection_latency_seconds_bucket{") == NULL,
	    "instance deletion removes its series");
	ok(strstr(out, "dbops_connection_attempts_total{") != NULL, "counters stay");
	ok(strstr(out, "dbops_backup_size_bytes{") == NULL &&
	    strstr(out, "dbops_backup_last_success_timestamp_seconds{") == NULL &&
	    strstr(out, "dbops_database_size_bytes{") == NULL &&
	    strstr(out, "dbops_schedule_next_backup_timestamp_seconds{") == NULL,
	    "backup, database and schedule series removed");
	free(out);

	/* The work-queue tracker. */
	metrics_controller("database", 8);
	metrics_queue_add("database", "ns", "a", 10, 10);	/* now */
	metrics_queue_add("database", "ns", "a", 10, 10.5);	/* dedup */
	metrics_queue_add("database", "ns", "b", 20, 10);	/* delayed */
	metrics_workqueue_collect(11);
	m = metrics_find(metrics_default(), "workqueue_depth");
	ok(metric_get(m, V("database")) == 1, "depth: one ready, one delayed");
	m = metrics_find(metrics_default(), "workqueue_adds_total");
	ok(metric_get(m, V("database")) == 1, "adds: duplicates not counted");
	metrics_reconcile_start("database", "ns", "a", 12);
	metrics_workqueue_collect(14);
	ok(metric_get(metrics_find(metrics_default(), "controller_runtime_active_workers"),
	    V("database")) == 1, "one active worker");
	ok(metric_get(metrics_find(metrics_default(), "workqueue_longest_running_processor_seconds"),
	    V("database")) == 2, "longest running: 2 s");
	ok(metric_get(metrics_find(metrics_default(), "workqueue_queue_duration_seconds"),
	    V("database")) == 1, "queue duration observed once");
	metrics_reconcile_end("database", "ns", "a", "error", 12, 15);
	metrics_queue_retry("database");
	metrics_workqueue_collect(21);
	ok(metric_get(metrics_find(metrics_default(), "workqueue_depth"), V("database")) == 1,
	    "the delayed key became ready");
	ok(metric_get(metrics_find(metrics_default(), "workqueue_adds_total"), V("database")) == 2,
	    "and counts as an add");
	ok(metric_get(metrics_find(metrics_default(), "controller_runtime_reconcile_total"),
	    V("database", "error")) == 1, "reconcile_total{result=error}");
	ok(metric_get(metrics_find(metrics_default(), "controller_runtime_reconcile_total"),
	    V("database", "success")) == 0, "other results start at 0");
	ok(metric_get(metrics_find(metrics_default(), "controller_runtime_reconcile_errors_total"),
	    V("database")) == 1, "errors_total");
	ok(metric_get(metrics_find(metrics_default(), "workqueue_retries_total"),
	    V("database")) == 1, "retries_total");
	ok(metric_get(metrics_find(metrics_default(), "controller_runtime_active_workers"),
	    V("database")) == 0, "no active worker");

	metrics_rest_request("GET", "10.0.0.1:443", 200, 0.01);
	metrics_rest_request("PATCH", "10.0.0.1:443", 0, 1);
	ok(metric_get(metrics_find(metrics_default(), "rest_client_requests_total"),
	    V("<error>", "PATCH", "10.0.0.1:443")) == 1, "transport error code");
	ok(metric_get(metrics_find(metrics_default(), "rest_client_request_duration_seconds"),
	    V("GET", "10.0.0.1:443")) == 1, "duration by verb");
	metrics_shutdown();
	ok(metrics_default() == NULL, "shutdown");
	metrics_scheduled_backup("ns", true);	/* no-op again */
}

int
main(void)
{
	test_registry();
	test_default();
	return done_testing();
}
