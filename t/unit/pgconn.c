/*
 * pgconn: the pure parts -- state and sslmode names, the sslmode choice of
 * a DatabaseInstance, libpq keyword arrays (host + hostaddr, TLS files,
 * no conninfo strings), one-line messages, parameter copies -- and the
 * state machine's usage checks without a server.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <ev.h>

#include "certgen.h"
#include "pgconn.h"
#include "pgtls.h"
#include "resolve.h"
#include "tap.h"

static void
test_names(void)
{
	enum pgconn_sslmode m;
	int i;
	bool all = true;

	for (i = 0; i < PGCONN__COUNT; i++)
		if (pgconn_state_name((enum pgconn_state)i) == NULL ||
		    strcmp(pgconn_state_name((enum pgconn_state)i), "?") == 0)
			all = false;
	ok(all, "every state has a name");
	is_str(pgconn_state_name(PGCONN_RESOLVING), "RESOLVING", "RESOLVING");
	is_str(pgconn_state_name(PGCONN_BUSY), "BUSY", "BUSY");
	is_str(pgconn_state_name(PGCONN__COUNT), "?", "out of range");
	is_str(pgconn_errcode_name(PGCONN_ETIMEOUT), "timeout", "errcode name");

	for (i = 0; i < PGCONN_SSL__COUNT; i++) {
		const char *n = pgconn_sslmode_name((enum pgconn_sslmode)i);

		if (n == NULL || pgconn_sslmode_parse(n, &m) != 0 || (int)m != i)
			all = false;
	}
	ok(all, "sslmode names round-trip");
	ok(pgconn_sslmode_parse("verify-full", &m) == 0 &&
	    m == PGCONN_SSL_VERIFY_FULL, "verify-full parses");
	ok(pgconn_sslmode_parse("VERIFY-FULL", &m) != 0, "case matters");
	ok(pgconn_sslmode_parse("skip-verify", &m) != 0, "unknown refused");

	/* behavior.md 2.2: spec.postgres.sslMode, else tls.mode when TLS is
	 * enabled, else disable. */
	ok(pgconn_sslmode_pick("require", true, "verify-full", &m) == 0 &&
	    m == PGCONN_SSL_REQUIRE, "postgres.sslMode wins");
	ok(pgconn_sslmode_pick(NULL, true, "verify-ca", &m) == 0 &&
	    m == PGCONN_SSL_VERIFY_CA, "tls.mode when TLS enabled");
	ok(pgconn_sslmode_pick("", false, "verify-ca", &m) == 0 &&
	    m == PGCONN_SSL_DISABLE, "TLS disabled: disable");
	ok(pgconn_sslmode_pick(NULL, true, "", &m) == 0 &&
	    m == PGCONN_SSL_DISABLE, "TLS enabled without mode: disable");
	ok(pgconn_sslmode_pick("bogus", false, NULL, &m) != 0,
	    "unknown sslMode refused");
}

static void
test_one_line(void)
{
	char out[256], tiny[8];

	pgconn_one_line(out, sizeof(out), "connection to server at \"h\" "
	    "(127.0.0.1), port 5 failed: FATAL:  password authentication "
	    "failed for user \"u\"\n");
	is_str(out, "connection to server at \"h\" (127.0.0.1), port 5 failed: "
	    "FATAL:  password authentication failed for user \"u\"",
	    "trailing newline dropped");
	pgconn_one_line(out, sizeof(out), "a\n\tIs the server running?\nb\n");
	is_str(out, "a; Is the server running?; b", "lines joined with ;");
	pgconn_one_line(out, sizeof(out), NULL);
	is_str(out, "", "NULL gives empty");
	pgconn_one_line(tiny, sizeof(tiny), "abcdefghijkl");
	is_str(tiny, "abcdefg", "truncated and terminated");
}

static struct pgconn_params
base_params(void)
{
	struct pgconn_params p;

	memset(&p, 0, sizeof(p));
	p.host = "db.example";
	p.port = 6543;
	p.dbname = "postgres";
	p.user = "admin";
	p.password = "s3cr3t pw' \\";
	p.sslmode = PGCONN_SSL_VERIFY_FULL;
	return p;
}

static void
test_kw(void)
{
	struct pgconn_params p = base_params();
	struct pgconn_kw kw;
	struct resolve_addr a[2];
	char err[256];
	size_t i;
	bool no_conninfo = true;

	ok(resolve_numeric("10.0.0.5", 6543, &a[0]), "numeric v4");
	ok(resolve_numeric("fd00::5", 6543, &a[1]), "numeric v6");

	ok(pgconn_kw_build(&kw, &p, a, 1, err, sizeof(err)) == 0, "build");
	is_str(pgconn_kw_get(&kw, "host"), "db.example", "host kept for TLS");
	is_str(pgconn_kw_get(&kw, "hostaddr"), "10.0.0.5", "hostaddr resolved");
	is_str(pgconn_kw_get(&kw, "port"), "6543", "port");
	is_str(pgconn_kw_get(&kw, "dbname"), "postgres", "dbname");
	is_str(pgconn_kw_get(&kw, "user"), "admin", "user");
	is_str(pgconn_kw_get(&kw, "password"), "s3cr3t pw' \\",
	    "password passed as is, no quoting needed");
	is_str(pgconn_kw_get(&kw, "sslmode"), "verify-full", "sslmode");
	is_str(pgconn_kw_get(&kw, "sslrootcert"), PGCONN_SYSTEM_CA_FILE,
	    "verify-full without CA: system roots");
	is_str(pgconn_kw_get(&kw, "sslcert"), PGCONN_NO_FILE,
	    "no client certificate: no ~/.postgresql fallback");
	is_str(pgconn_kw_get(&kw, "application_name"), "dbprovd",
	    "default application_name");
	is_str(pgconn_kw_get(&kw, "connect_timeout"), "10", "default timeout");
	is_str(pgconn_kw_get(&kw, "client_encoding"), "UTF8", "UTF8");
	is_str(pgconn_kw_get(&kw, "gssencmode"), "disable", "no GSSAPI");
	ok(pgconn_kw_get(&kw, "options") == NULL, "no options by default");
	for (i = 0; i < kw.n; i++)
		if (strchr(kw.keys[i], '=') || strchr(kw.keys[i], ' ') ||
		    strstr(kw.vals[i], "password=") != NULL)
			no_conninfo = false;
	ok(no_conninfo, "plain keywords, no key=value strings");
	ok(kw.keys[kw.n] == NULL && kw.vals[kw.n] == NULL, "NULL-terminated");
	pgconn_kw_release(&kw);

	ok(pgconn_kw_build(&kw, &p, a, 2, err, sizeof(err)) == 0, "two addrs");
	is_str(pgconn_kw_get(&kw, "host"), "db.example,db.example",
	    "host repeated per address");
	is_str(pgconn_kw_get(&kw, "hostaddr"), "10.0.0.5,fd00::5",
	    "every address, in order");
	pgconn_kw_release(&kw);

	p.host = "/var/run/postgresql";
	p.sslmode = PGCONN_SSL_DISABLE;
	p.password = NULL;
	p.application_name = "db-provision-operator";
	p.connect_timeout = 2.5;
	p.statement_timeout_ms = 15000;
	ok(pgconn_kw_build(&kw, &p, NULL, 0, err, sizeof(err)) == 0,
	    "unix socket");
	is_str(pgconn_kw_get(&kw, "host"), "/var/run/postgresql", "socket dir");
	ok(pgconn_kw_get(&kw, "hostaddr") == NULL, "no hostaddr for sockets");
	ok(pgconn_kw_get(&kw, "password") == NULL, "no password key");
	is_str(pgconn_kw_get(&kw, "sslrootcert"), PGCONN_NO_FILE,
	    "disable: no root file fallback");
	is_str(pgconn_kw_get(&kw, "application_name"), "db-provision-operator",
	    "application_name from spec");
	is_str(pgconn_kw_get(&kw, "connect_timeout"), "3", "rounded up");
	is_str(pgconn_kw_get(&kw, "options"), "-c statement_timeout=15000",
	    "statement timeout as a startup option");
	pgconn_kw_release(&kw);

	p = base_params();
	p.sslmode = PGCONN_SSL_REQUIRE;
	ok(pgconn_kw_build(&kw, &p, a, 1, err, sizeof(err)) == 0, "require");
	is_str(pgconn_kw_get(&kw, "sslrootcert"), PGCONN_NO_FILE,
	    "require without CA: no verification, even with ~/.postgresql");
	pgconn_kw_release(&kw);

	p.host = "a,b";
	ok(pgconn_kw_build(&kw, &p, a, 1, err, sizeof(err)) != 0,
	    "a comma in the host is refused (libpq host lists)");
	p = base_params();
	p.dbname = "";
	ok(pgconn_kw_build(&kw, &p, a, 1, err, sizeof(err)) != 0,
	    "empty dbname refused");
	p = base_params();
	p.port = 70000;
	ok(pgconn_kw_build(&kw, &p, a, 1, err, sizeof(err)) != 0,
	    "port out of range refused");
	p = base_params();
	ok(pgconn_kw_build(&kw, &p, NULL, 0, err, sizeof(err)) != 0,
	    "a host name needs addresses");
	ok(strstr(err, "s3cr3t") == NULL, "messages carry no password");
}

static void
test_kw_tls(void)
{
	char parent[] = "/tmp/pgconn-test-XXXXXX";
	struct certgen ca, cl;
	struct pgtls_pem pem;
	struct pgtls *t;
	struct pgconn_params p = base_params(), *d;
	struct pgconn_kw kw;
	struct resolve_addr a;
	char err[256];

	if (mkdtemp(parent) == NULL || certgen_make("ca", &ca) != 0 ||
	    certgen_make("cl", &cl) != 0) {
		ok(0, "TLS material");
		return;
	}
	pgtls_set_parent(parent);
	memset(&pem, 0, sizeof(pem));
	pem.ca = ca.cert;
	pem.ca_len = strlen(ca.cert);
	pem.cert = cl.cert;
	pem.cert_len = strlen(cl.cert);
	pem.key = cl.key;
	pem.key_len = strlen(cl.key);
	t = pgtls_new(&pem, err, sizeof(err));
	ok(t != NULL, "TLS files");
	p.tls = t;
	p.sslmode = PGCONN_SSL_VERIFY_CA;
	resolve_numeric("127.0.0.1", 5432, &a);
	ok(pgconn_kw_build(&kw, &p, &a, 1, err, sizeof(err)) == 0, "build");
	is_str(pgconn_kw_get(&kw, "sslrootcert"), pgtls_ca_file(t), "our CA");
	is_str(pgconn_kw_get(&kw, "sslcert"), pgtls_cert_file(t), "our cert");
	is_str(pgconn_kw_get(&kw, "sslkey"), pgtls_key_file(t), "our key");
	pgconn_kw_release(&kw);

	/* A copy holds a reference: the files outlive the caller's. */
	d = pgconn_params_dup(&p);
	ok(d->password != p.password && strcmp(d->password, p.password) == 0,
	    "dup copies the password");
	pgtls_unref(t);
	is_int(pgtls_live(), 1, "copy keeps the TLS files");
	pgconn_params_free(d);
	is_int(pgtls_live(), 0, "freeing the copy removes them");
	pgtls_cleanup();
	rmdir(parent);
	certgen_release(&ca);
	certgen_release(&cl);
}

static int connect_calls;

static void
on_connect(struct pgconn *c, const struct pgconn_err *err, void *arg)
{
	struct pgconn_err *out = arg;

	(void)c;
	connect_calls++;
	*out = err ? *err : (struct pgconn_err){ 0 };
}

static void
test_machine(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct pgconn *c = pgconn_new(loop, NULL);
	struct pgconn_params p = base_params();
	struct pgconn_err got;
	char dir[] = "/tmp/pgconn-nosock-XXXXXX";

	is_int(pgconn_state(c), PGCONN_NEW, "new connection is NEW");
	ok(pgconn_query(c, "SELECT 1", 0, NULL, NULL, NULL) != 0,
	    "query refused before connecting");
	is_int(pgconn_error(c)->code, PGCONN_EUSAGE, "usage error");
	ok(strstr(pgconn_error(c)->msg, "NEW") != NULL, "message names state");
	ok(pgconn_connect(c, &p, on_connect, &got) != 0,
	    "host name without resolver refused");
	p.host = "";
	ok(pgconn_connect(c, &p, on_connect, &got) != 0, "empty host refused");
	is_int(connect_calls, 0, "no callback for refused calls");

	/* A socket directory with no server: the failure is reported from
	 * the loop, never from inside pgconn_connect(). */
	ok(mkdtemp(dir) != NULL, "empty socket dir");
	p.host = dir;
	p.port = 5999;
	ok(pgconn_connect(c, &p, on_connect, &got) == 0, "connect started");
	is_int(connect_calls, 0, "no callback inside connect");
	ok(pgconn_state(c) == PGCONN_RESOLVING, "waits for the loop");
	ev_run(loop, EVRUN_NOWAIT);
	ev_run(loop, EVRUN_NOWAIT);
	is_int(connect_calls, 1, "callback ran once from the loop");
	is_int(got.code, PGCONN_ECONNECT, "connect error");
	ok(strstr(got.msg, "s3cr3t") == NULL, "no password in the message");
	ok(strchr(got.msg, '\n') == NULL, "one line");
	is_int(pgconn_state(c), PGCONN_FAILED, "FAILED");
	ok(pgconn_is_broken(c), "broken");
	ok(pgconn_connect(c, &p, on_connect, &got) != 0, "no second connect");
	pgconn_free(c);
	rmdir(dir);

	/* Freed before the loop ran: no callback, nothing leaks. */
	c = pgconn_new(loop, NULL);
	p.host = "/nonexistent-dir";
	ok(pgconn_connect(c, &p, on_connect, &got) == 0, "started");
	pgconn_free(c);
	ev_run(loop, EVRUN_NOWAIT);
	is_int(connect_calls, 1, "no callback after free");
	ev_loop_destroy(loop);
}

int
main(void)
{
	test_names();
	test_one_line();
	test_kw();
	test_kw_tls();
	test_machine();
	return done_testing();
}
