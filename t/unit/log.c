#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "json.h"
#include "log.h"
#include "tap.h"

static char *
capture(void (*fn)(void))
{
	char path[] = "/tmp/dbplogXXXXXX";
	int fd = mkstemp(path);
	char *text;

	log_set_fd(fd);
	fn();
	log_set_fd(-1);
	close(fd);
	text = read_file(path, 1 << 20, NULL);
	unlink(path);
	return text;
}

static void
emit_basic(void)
{
	log_info("reconciled", "controller", "database", "namespace", "ns1",
	    "name", "a\"b");
}

static void
emit_secret(void)
{
	log_warn("login", "password", "hunter2", "bearerToken", "abc",
	    "user", "bob", "secretName", "s1", "tlsKey", "pem");
}

static void
emit_debug(void)
{
	log_debug("hidden", "k", "v");
}

int
main(void)
{
	enum log_level l;
	char *out;
	yajl_val v;
	char err[128];

	ok(log_level_parse("debug", &l) == 0 && l == LOG_DEBUG, "parse debug");
	ok(log_level_parse("WARNING", &l) == 0 && l == LOG_WARN, "parse warning");
	ok(log_level_parse("loud", &l) < 0, "reject unknown level");

	log_set_level(LOG_INFO);
	out = capture(emit_basic);
	ok(out != NULL && strchr(out, '\n') == out + strlen(out) - 1,
	    "exactly one line");
	v = json_parse(out, strlen(out), err, sizeof(err));
	ok(v != NULL, "the line is JSON");
	is_str(json_gets(v, "level"), "info", "level");
	is_str(json_gets(v, "msg"), "reconciled", "msg");
	is_str(json_gets(v, "name"), "a\"b", "context values are escaped");
	ok(json_gets(v, "time") != NULL && strlen(json_gets(v, "time")) == 24,
	    "RFC 3339 time with milliseconds");
	json_free(v);
	free(out);

	out = capture(emit_secret);
	ok(strstr(out, "hunter2") == NULL, "password value redacted");
	ok(strstr(out, "abc") == NULL, "token value redacted");
	ok(strstr(out, "pem") == NULL, "key value redacted");
	ok(strstr(out, "bob") != NULL, "ordinary values kept");
	ok(strstr(out, "\"s1\"") != NULL, "the name of a secret is kept");
	free(out);

	out = capture(emit_debug);
	is_str(out, "", "debug is off at info level");
	free(out);
	log_set_level(LOG_DEBUG);
	out = capture(emit_debug);
	ok(strstr(out, "hidden") != NULL, "debug on at debug level");
	free(out);

	ok(log_key_is_secret("caKey"), "caKey is secret");
	ok(!log_key_is_secret("keyspace"), "keyspace is not");
	ok(!log_key_is_secret("name"), "name is not");
	return done_testing();
}
