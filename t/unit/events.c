#include "config.h"

#include <string.h>

#include "events.h"
#include "json.h"
#include "tap.h"

static double fake_now = 1000;

static double
fake_clock(void)
{
	return fake_now;
}

static const struct event_ref widget = {
	"example.com/v1", "Widget", "ns1", "foo", "uid-1", "41"
};

static void
test_keys(void)
{
	struct event_ref other_uid = widget, other_rv = widget;
	char a[EVENTS_KEY_LEN], b[EVENTS_KEY_LEN], c[EVENTS_KEY_LEN];
	char d[EVENTS_KEY_LEN], e[EVENTS_KEY_LEN], f[EVENTS_KEY_LEN];

	events_key(a, &widget, "Normal", "Created", "made it");
	events_key(b, &widget, "Normal", "Created", "made it");
	other_uid.uid = "uid-2";
	other_rv.resource_version = "42";
	events_key(c, &other_uid, "Normal", "Created", "made it");
	events_key(d, &other_rv, "Normal", "Created", "made it");
	events_key(e, &widget, "Normal", "Created;", "made it");
	events_key(f, &widget, "Normal", "Created", ";made it");
	is_str(a, b, "same event, same key");
	ok(strlen(a) == EVENTS_KEY_LEN - 1 && strspn(a, "0123456789abcdef") ==
	    EVENTS_KEY_LEN - 1, "a key is a fixed-size hex digest");
	ok(strcmp(a, c) != 0, "uid is part of the key");
	is_str(a, d, "resourceVersion is not part of the key");
	ok(strcmp(e, f) != 0, "fields are length-prefixed (no ambiguity)");
	events_key(c, &widget, "Warning", "Created", "made it");
	events_key(d, &widget, "Normal", "Deleted", "made it");
	events_key(e, &widget, "Normal", "Created", "made it!");
	ok(strcmp(a, c) && strcmp(a, d) && strcmp(a, e),
	    "type, reason and message are part of the key");

	events_spam_key(a, "dbprovd", "host1", &widget, "Normal");
	events_spam_key(b, "dbprovd", "host1", &widget, "Warning");
	events_spam_key(c, "dbprovd", "host2", &widget, "Normal");
	ok(strcmp(a, b) && strcmp(a, c), "spam key: type and host count");
	events_spam_key(d, "dbprovd", "host1", &widget, "Normal");
	is_str(a, d, "spam key: same inputs, same key");
}

static void
test_clean_text(void)
{
	char big[2100], *s;
	size_t i;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = events_clean_text(big, 1024);
	is_int(strlen(s), 1024, "ASCII cut to 1024 bytes");
	free(s);

	big[0] = '\0';
	for (i = 0; i < 400; i++)
		strcat(big, "\xe2\x82\xac");		/* U+20AC, 3 bytes */
	s = events_clean_text(big, 1024);
	is_int(strlen(s), 1023, "3-byte chars: cut before a split (1023)");
	ok(memcmp(s + 1020, "\xe2\x82\xac", 3) == 0, "last char whole");
	free(s);

	big[0] = 'a';
	big[1] = '\0';
	for (i = 0; i < 600; i++)
		strcat(big, "\xc3\xa9");		/* é */
	s = events_clean_text(big, 1024);
	is_int(strlen(s), 1023, "2-byte chars after 1 ASCII: 1023 bytes");
	free(s);

	s = events_clean_text("ok \xff\xc0\x80 \xed\xa0\x80 \xf0\x9f\x98\x80 \xe2\x82", 100);
	is_str(s, "ok ??? ??? \xf0\x9f\x98\x80 ??",
	    "invalid bytes, overlongs, surrogates, truncated seq become ?");
	free(s);
	s = events_clean_text("short", 1024);
	is_str(s, "short", "short text unchanged");
	free(s);
	s = events_clean_text(NULL, 10);
	is_str(s, "", "NULL gives empty");
	free(s);
}

static void
test_body(void)
{
	struct event_ref cluster = { "v1", "Node", NULL, "node1", "u9", NULL };
	struct event_fields f = { &widget, "Warning", "Failed", "it \"broke\"",
		"foo.1839f0c2a4b1d3e7", "ns1", "dbprovd", "pod-1",
		"2025-05-01T10:00:00Z", "2025-05-01T10:00:05Z", 3 };
	char *body = events_body(&f);
	yajl_val v = json_parse(body, strlen(body), NULL, 0);
	long long count = 0;

	ok(v != NULL, "body is JSON");
	is_str(json_gets(v, "apiVersion"), "v1", "apiVersion v1");
	is_str(json_gets(v, "kind"), "Event", "kind Event");
	is_str(json_gets(v, "metadata.name"), "foo.1839f0c2a4b1d3e7", "name");
	is_str(json_gets(v, "metadata.namespace"), "ns1", "namespace");
	is_str(json_gets(v, "involvedObject.kind"), "Widget", "involved kind");
	is_str(json_gets(v, "involvedObject.apiVersion"), "example.com/v1",
	    "involved apiVersion");
	is_str(json_gets(v, "involvedObject.namespace"), "ns1", "involved ns");
	is_str(json_gets(v, "involvedObject.uid"), "uid-1", "involved uid");
	is_str(json_gets(v, "involvedObject.resourceVersion"), "41",
	    "involved RV");
	is_str(json_gets(v, "reason"), "Failed", "reason");
	is_str(json_gets(v, "message"), "it \"broke\"", "message escaped");
	is_str(json_gets(v, "type"), "Warning", "type");
	is_str(json_gets(v, "source.component"), "dbprovd", "source.component");
	is_str(json_gets(v, "source.host"), "pod-1", "source.host");
	is_str(json_gets(v, "reportingComponent"), "dbprovd",
	    "reportingComponent");
	is_str(json_gets(v, "reportingInstance"), "pod-1", "reportingInstance");
	is_str(json_gets(v, "firstTimestamp"), "2025-05-01T10:00:00Z", "first");
	is_str(json_gets(v, "lastTimestamp"), "2025-05-01T10:00:05Z", "last");
	ok(json_int(json_getp(v, "count"), &count) && count == 3, "count");
	ok(json_getp(v, "eventTime") == NULL, "eventTime unset");
	ok(json_getp(v, "reportingController") == NULL,
	    "no reportingController on core/v1");
	json_free(v);
	free(body);

	f.obj = &cluster;
	f.namespace = "default";
	body = events_body(&f);
	v = json_parse(body, strlen(body), NULL, 0);
	is_str(json_gets(v, "metadata.namespace"), "default",
	    "cluster-scoped: Event in default");
	ok(json_getp(v, "involvedObject.namespace") == NULL,
	    "cluster-scoped: no involvedObject.namespace");
	ok(json_getp(v, "involvedObject.resourceVersion") == NULL,
	    "absent RV omitted");
	json_free(v);
	free(body);

	body = events_patch_body(7, "2025-05-01T10:00:09Z", "again");
	is_str(body, "{\"count\":7,\"lastTimestamp\":\"2025-05-01T10:00:09Z\","
	    "\"message\":\"again\"}", "patch body");
	free(body);
}

static void
test_name(void)
{
	char longname[300];
	char *s = events_name("foo", 0x1839f0c2a4b1d3e7ULL);

	is_str(s, "foo.1839f0c2a4b1d3e7", "name is <obj>.<hex ns>");
	free(s);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	s = events_name(longname, 1);
	is_int(strlen(s), 32, "too long: random hex name");
	free(s);
}

static struct events *
recorder(size_t cache, size_t queue, double rate)
{
	struct events_config cfg;

	events_config_defaults(&cfg);
	cfg.instance = "test-host";
	cfg.cache_max = cache;
	cfg.queue_max = queue;
	cfg.spam_rate = rate;
	cfg.clock = fake_clock;
	return events_new(NULL, &cfg);
}

static void
test_dedup_lru(void)
{
	struct events *rec = recorder(2, 100, 0);
	int i;

	events_emit(rec, &widget, EVENT_NORMAL, "A", "msg %d", 1);
	events_emit(rec, &widget, EVENT_NORMAL, "B", "msg %d", 1);
	is_int(events_cached_count(rec, &widget, EVENT_NORMAL, "A", "msg 1"), 1,
	    "A cached");
	for (i = 0; i < 2; i++)
		events_emit(rec, &widget, EVENT_NORMAL, "A", "msg 1");
	is_int(events_cached_count(rec, &widget, EVENT_NORMAL, "A", "msg 1"), 3,
	    "repeats count up");
	is_int(events_pending(rec), 2, "repeats fold into the queued entry");
	is_int(events_stats(rec)->coalesced, 2, "coalesced counted");
	events_emit(rec, &widget, EVENT_NORMAL, "C", "msg 1");
	is_int(events_cached_count(rec, &widget, EVENT_NORMAL, "B", "msg 1"), 0,
	    "least recently used (B) evicted");
	is_int(events_cached_count(rec, &widget, EVENT_NORMAL, "A", "msg 1"), 3,
	    "recently used A kept");
	events_emit(rec, &widget, EVENT_NORMAL, "B", "msg 1");
	is_int(events_cached_count(rec, &widget, EVENT_NORMAL, "B", "msg 1"), 1,
	    "B again starts over at 1");
	is_int(events_pending(rec), 4, "evicted entries stay queued");
	is_int(events_stats(rec)->emitted, 6, "emitted counted");
	events_emit(rec, &widget, EVENT_WARNING, "C", "msg 1");
	is_int(events_cached_count(rec, &widget, EVENT_WARNING, "C", "msg 1"), 1,
	    "type separates events");
	events_free(rec);
}

static void
test_spam(void)
{
	struct events *rec = recorder(100, 1000, 1.0 / 300);
	struct event_ref bar = widget;
	int i;

	bar.name = "bar";
	bar.uid = "uid-bar";
	for (i = 0; i < 30; i++)
		events_emit(rec, &widget, EVENT_NORMAL, "R", "distinct %d", i);
	is_int(events_stats(rec)->emitted, 25, "burst of 25 accepted");
	is_int(events_stats(rec)->filtered, 5, "the rest filtered");
	events_emit(rec, &bar, EVENT_NORMAL, "R", "x");
	is_int(events_stats(rec)->emitted, 26, "another object has its own bucket");
	events_emit(rec, &widget, EVENT_WARNING, "R", "x");
	is_int(events_stats(rec)->emitted, 27, "another type has its own bucket");
	fake_now += 299;
	events_emit(rec, &widget, EVENT_NORMAL, "R", "late");
	is_int(events_stats(rec)->filtered, 6, "299 s later: still empty");
	fake_now += 2;
	events_emit(rec, &widget, EVENT_NORMAL, "R", "later");
	is_int(events_stats(rec)->emitted, 28, "after 5 min: one more");
	events_emit(rec, &widget, EVENT_NORMAL, "R", "later 2");
	is_int(events_stats(rec)->filtered, 7, "and only one");
	events_free(rec);
}

static void
test_queue_cap(void)
{
	struct events *rec = recorder(100, 3, 0);
	int i;

	for (i = 0; i < 5; i++)
		events_emit(rec, &widget, EVENT_NORMAL, "R", "m%d", i);
	is_int(events_pending(rec), 3, "queue capped");
	is_int(events_stats(rec)->dropped, 2, "oldest dropped and counted");
	/* a repeat of a dropped event is queued again (as a PATCH) */
	events_emit(rec, &widget, EVENT_NORMAL, "R", "m0");
	is_int(events_cached_count(rec, &widget, EVENT_NORMAL, "R", "m0"), 2,
	    "dropped event still counted");
	is_int(events_pending(rec), 3, "still capped");
	events_free(rec);
	events_emit(NULL, &widget, EVENT_NORMAL, "R", "no recorder");
	ok(1, "NULL recorder is a no-op");
}

int
main(void)
{
	test_keys();
	test_clean_text();
	test_body();
	test_name();
	test_dedup_lru();
	test_spam();
	test_queue_cap();
	return done_testing();
}
