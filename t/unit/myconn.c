/*
 * myconn: the pure parts -- state, TLS mode and error names, the TLS mode
 * of a DatabaseInstance (spec.tls.mode and spec.mysql.tls), error
 * classification, the options handed to Connector/C for every mode,
 * parameter copies, identifier quoting -- and the state machine's usage
 * checks and a failed connect without a server.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errmsg.h>
#include <ev.h>

#include "certgen.h"
#include "myconn.h"
#include "pgtls.h"
#include "resolve.h"
#include "tap.h"

static void
test_names(void)
{
	enum myconn_tls m;
	int i;
	bool all = true;

	for (i = 0; i < MYCONN__COUNT; i++)
		if (myconn_state_name((enum myconn_state)i) == NULL ||
		    strcmp(myconn_state_name((enum myconn_state)i), "?") == 0)
			all = false;
	ok(all, "every state has a name");
	is_str(myconn_state_name(MYCONN_CONNECTING), "CONNECTING", "CONNECTING");
	is_str(myconn_state_name(MYCONN_FETCHING), "FETCHING", "FETCHING");
	is_str(myconn_state_name(MYCONN__COUNT), "?", "out of range");
	all = true;
	for (i = 0; i < MYCONN_E__COUNT; i++)
		if (strcmp(myconn_errcode_name((enum myconn_errcode)i), "?") == 0)
			all = false;
	ok(all, "every error code has a name");
	is_str(myconn_errcode_name(MYCONN_ETIMEOUT), "timeout", "timeout");
	is_str(myconn_errcode_name(MYCONN_ELOST), "lost", "lost");

	all = true;
	for (i = 0; i < MYCONN_TLS__COUNT; i++) {
		const char *n = myconn_tls_name((enum myconn_tls)i);

		if (n == NULL || myconn_tls_parse(n, &m) != 0 || (int)m != i)
			all = false;
	}
	ok(all, "TLS mode names round-trip");
	ok(myconn_tls_name(MYCONN_TLS__COUNT) == NULL, "no name out of range");
	ok(myconn_tls_parse("verify-full", &m) == 0 &&
	    m == MYCONN_TLS_VERIFY_FULL, "verify-full parses");
	ok(myconn_tls_parse("require", &m) != 0,
	    "sslmode words are not mode names");
	ok(myconn_tls_parse(NULL, &m) != 0, "NULL refused");
}

static void
test_tls_mapping(void)
{
	static const struct {
		const char *in;
		int rc;
		enum myconn_tls want;
	} sslmode[] = {
		{ "disable", 0, MYCONN_TLS_DISABLED },
		{ "allow", 0, MYCONN_TLS_PREFERRED },
		{ "prefer", 0, MYCONN_TLS_PREFERRED },
		{ "require", 0, MYCONN_TLS_REQUIRED },
		{ "verify-ca", 0, MYCONN_TLS_VERIFY_CA },
		{ "verify-full", 0, MYCONN_TLS_VERIFY_FULL },
		{ "", 0, MYCONN_TLS_DISABLED },
		{ NULL, 0, MYCONN_TLS_DISABLED },
		{ "VERIFY-FULL", -1, MYCONN_TLS_DISABLED },
		{ "required", -1, MYCONN_TLS_DISABLED },
	}, mytls[] = {
		{ "disabled", 0, MYCONN_TLS_DISABLED },
		{ "preferred", 0, MYCONN_TLS_PREFERRED },
		{ "required", 0, MYCONN_TLS_REQUIRED },
		{ "skip-verify", 0, MYCONN_TLS_REQUIRED },
		{ "", 0, MYCONN_TLS_PREFERRED },
		{ NULL, 0, MYCONN_TLS_PREFERRED },
		{ "verify-full", -1, MYCONN_TLS_DISABLED },
		{ "true", -1, MYCONN_TLS_DISABLED },
	};
	enum myconn_tls m;
	char name[96];
	size_t i;

	for (i = 0; i < sizeof(sslmode) / sizeof(sslmode[0]); i++) {
		m = (enum myconn_tls)99;
		snprintf(name, sizeof(name), "spec.tls.mode %s",
		    sslmode[i].in ? sslmode[i].in : "(null)");
		if (sslmode[i].rc == 0)
			ok(myconn_tls_from_sslmode(sslmode[i].in, &m) == 0 &&
			    m == sslmode[i].want, name);
		else
			ok(myconn_tls_from_sslmode(sslmode[i].in, &m) != 0, name);
	}
	for (i = 0; i < sizeof(mytls) / sizeof(mytls[0]); i++) {
		m = (enum myconn_tls)99;
		snprintf(name, sizeof(name), "spec.mysql.tls %s",
		    mytls[i].in ? mytls[i].in : "(null)");
		if (mytls[i].rc == 0)
			ok(myconn_tls_from_mysql_tls(mytls[i].in, &m) == 0 &&
			    m == mytls[i].want, name);
		else
			ok(myconn_tls_from_mysql_tls(mytls[i].in, &m) != 0, name);
	}
	ok(myconn_tls_pick(false, "verify-full", &m) == 0 &&
	    m == MYCONN_TLS_DISABLED, "TLS not enabled: disabled");
	ok(myconn_tls_pick(true, "verify-ca", &m) == 0 &&
	    m == MYCONN_TLS_VERIFY_CA, "TLS enabled: tls.mode");
	ok(myconn_tls_pick(true, NULL, &m) == 0 && m == MYCONN_TLS_DISABLED,
	    "TLS enabled without a mode: disabled (CRD default disable)");
	ok(myconn_tls_pick(true, "bogus", &m) != 0, "unknown mode refused");
}

static void
test_errcode(void)
{
	is_int(myconn_errcode_for(CR_SERVER_GONE_ERROR, false), MYCONN_ELOST,
	    "2006 server gone: lost");
	is_int(myconn_errcode_for(CR_SERVER_LOST, false), MYCONN_ELOST,
	    "2013 lost during query: lost");
	is_int(myconn_errcode_for(CR_CONN_HOST_ERROR, true), MYCONN_ECONNECT,
	    "2003 while connecting: connect");
	is_int(myconn_errcode_for(1064, false), MYCONN_ESERVER,
	    "1064 syntax error: server");
	is_int(myconn_errcode_for(1045, true), MYCONN_ECONNECT,
	    "1045 access denied while connecting: connect");
	is_int(myconn_errcode_for(4031, false), MYCONN_ESERVER,
	    "4031 (MariaDB range): server");
}

static struct myconn_params
base_params(void)
{
	struct myconn_params p;

	memset(&p, 0, sizeof(p));
	p.host = "db.example";
	p.port = 3307;
	p.dbname = "mysql";
	p.user = "admin";
	p.password = "s3cr3t pw' \\";
	p.tls_mode = MYCONN_TLS_VERIFY_FULL;
	return p;
}

static void
test_opts(void)
{
	struct myconn_params p = base_params();
	struct myconn_opts o;
	struct resolve_addr a;
	char err[256];

	ok(resolve_numeric("10.0.0.5", 3307, &a), "numeric address");
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) == 0, "build");
	is_str(o.connect_host, "10.0.0.5", "connects to the resolved address");
	ok(o.unix_socket == NULL, "no socket");
	is_int(o.port, 3307, "port");
	is_str(o.dbname, "mysql", "database");
	is_str(o.charset, "utf8mb4", "default charset utf8mb4");
	is_int(o.connect_timeout, 10, "default connect timeout");
	ok(o.use_tls && o.must_tls, "verify-full: TLS, required");
	is_str(o.ca, MYCONN_SYSTEM_CA_FILE, "no CA: system roots");
	ok(o.verify_name, "library name check on");
	is_str(o.check_name, "db.example", "checked against the original name");
	is_str(o.tls_versions, "TLSv1.2,TLSv1.3", "TLS 1.2 at least");
	ok(o.cert == NULL && o.key == NULL, "no client certificate");

	p.tls_mode = MYCONN_TLS_VERIFY_CA;
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) == 0, "verify-ca");
	ok(o.use_tls && o.must_tls && o.ca != NULL, "verify-ca: CA given");
	ok(!o.verify_name && o.check_name == NULL, "verify-ca: no name check");

	p.tls_mode = MYCONN_TLS_REQUIRED;
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) == 0, "required");
	ok(o.use_tls && o.must_tls, "required: TLS or fail");
	ok(o.ca == NULL && !o.verify_name && o.check_name == NULL,
	    "required: no CA, no name check (no verification)");

	p.tls_mode = MYCONN_TLS_PREFERRED;
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) == 0, "preferred");
	ok(o.use_tls && !o.must_tls, "preferred: TLS if offered");
	ok(o.ca == NULL && !o.verify_name, "preferred: no verification");

	p.tls_mode = MYCONN_TLS_DISABLED;
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) == 0, "disabled");
	ok(!o.use_tls && !o.must_tls && o.ca == NULL && o.tls_versions == NULL,
	    "disabled: no TLS at all");

	p = base_params();
	p.host = "/run/mysqld/mysqld.sock";
	p.dbname = "";
	p.connect_timeout = 2.5;
	p.charset = "latin1";
	ok(myconn_opts_build(&o, &p, NULL, err, sizeof(err)) == 0, "socket");
	is_str(o.unix_socket, "/run/mysqld/mysqld.sock", "socket path");
	ok(o.connect_host == NULL && o.port == 0, "no TCP address for sockets");
	ok(o.dbname == NULL, "empty database: none");
	is_int(o.connect_timeout, 3, "timeout rounded up");
	is_str(o.charset, "latin1", "charset from the parameters");
	ok(o.verify_name && o.check_name == NULL,
	    "socket verify-full: the library checks, no name of ours");

	p = base_params();
	ok(myconn_opts_build(&o, &p, NULL, err, sizeof(err)) != 0,
	    "a host name needs an address");
	ok(strstr(err, "s3cr3t") == NULL, "messages carry no password");
	p.port = 70000;
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) != 0,
	    "port out of range refused");
	p = base_params();
	p.user = "";
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) != 0,
	    "empty user refused");
	p = base_params();
	p.charset = "utf8'; DROP";
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) != 0,
	    "odd charset name refused");
	p = base_params();
	p.tls_mode = MYCONN_TLS__COUNT;
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) != 0,
	    "invalid TLS mode refused");
}

static void
test_params_tls(void)
{
	char parent[] = "/tmp/myconn-test-XXXXXX";
	struct certgen ca, cl;
	struct pgtls_pem pem;
	struct pgtls *t;
	struct myconn_params p = base_params(), *d;
	struct myconn_opts o;
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
	resolve_numeric("127.0.0.1", 3306, &a);
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) == 0, "build");
	is_str(o.ca, pgtls_ca_file(t), "our CA");
	is_str(o.cert, pgtls_cert_file(t), "our certificate");
	is_str(o.key, pgtls_key_file(t), "our key");
	p.tls_mode = MYCONN_TLS_REQUIRED;
	ok(myconn_opts_build(&o, &p, &a, err, sizeof(err)) == 0, "required");
	ok(o.ca == NULL, "required: the CA is not used (no verification)");
	is_str(o.cert, pgtls_cert_file(t), "but the client certificate is");

	d = myconn_params_dup(&p);
	ok(d->password != p.password && strcmp(d->password, p.password) == 0,
	    "dup copies the password");
	ok(d->host != p.host && strcmp(d->host, p.host) == 0, "and the host");
	pgtls_unref(t);
	is_int(pgtls_live(), 1, "the copy keeps the TLS files");
	myconn_params_free(d);
	is_int(pgtls_live(), 0, "freeing the copy removes them");
	myconn_params_free(NULL);
	ok(1, "freeing NULL is a no-op");
	pgtls_cleanup();
	rmdir(parent);
	certgen_release(&ca);
	certgen_release(&cl);
}

static void
test_escape_identifier(void)
{
	char err[128];
	char *s;

	s = myconn_escape_identifier("plain", err, sizeof(err));
	is_str(s, "`plain`", "quoted");
	free(s);
	s = myconn_escape_identifier("we`ird`; DROP", err, sizeof(err));
	is_str(s, "`we``ird``; DROP`", "backticks doubled");
	free(s);
	s = myconn_escape_identifier("", err, sizeof(err));
	ok(s == NULL, "empty identifier refused");
	free(s);
}

static int connect_calls;

static void
on_connect(struct myconn *c, const struct myconn_err *err, void *arg)
{
	struct myconn_err *out = arg;

	(void)c;
	connect_calls++;
	*out = err ? *err : (struct myconn_err){ 0 };
}

static void
on_result(struct myconn *c, const struct myconn_result *r, void *arg)
{
	(void)c;
	(void)r;
	(void)arg;
}

static void
on_connect_free(struct myconn *c, const struct myconn_err *err, void *arg)
{
	int *calls = arg;

	(*calls)++;
	ok(err != NULL && err->code == MYCONN_ECONNECT, "failure reported");
	/* The connection is freed from its own callback: the memory must
	 * stay valid until the step below has returned. */
	myconn_free(c);
}

static void
test_free_in_callback(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct myconn *c = myconn_new(loop, NULL);
	struct myconn_params p = base_params();
	struct myconn_result r;
	int calls = 0, i;

	p.host = "/nonexistent/dbprovd/mysqld.sock";
	p.tls_mode = MYCONN_TLS_DISABLED;
	ok(myconn_connect(c, &p, on_connect_free, &calls) == 0, "started");
	for (i = 0; i < 10 && calls == 0; i++)
		ev_run(loop, EVRUN_NOWAIT);
	is_int(calls, 1, "callback ran and freed its connection");
	ev_run(loop, EVRUN_NOWAIT);
	ok(1, "the deferred free ran (a sanitizer or valgrind would object)");
	ev_loop_destroy(loop);

	memset(&r, 0, sizeof(r));
	ok(myconn_res_value(&r, 0, 0) == NULL && myconn_res_colname(&r, 0) ==
	    NULL && myconn_res_len(&r, 0, 0) == 0,
	    "an empty result has no values or columns");
}

static void
test_machine(void)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct myconn *c = myconn_new(loop, NULL);
	struct myconn_params p = base_params();
	struct myconn_err got;
	char err[64];
	char *lit;
	int i;

	is_int(myconn_state(c), MYCONN_NEW, "new connection is NEW");
	ok(myconn_query(c, "SELECT 1", on_result, NULL) != 0,
	    "query refused before connecting");
	is_int(myconn_error(c)->code, MYCONN_EUSAGE, "usage error");
	ok(strstr(myconn_error(c)->msg, "NEW") != NULL, "message names state");
	lit = myconn_escape_literal(c, "x", err, sizeof(err));
	ok(lit == NULL, "no escaping without a connection");
	free(lit);
	is_int(myconn_server_version(c), 0, "no version before connecting");
	ok(myconn_tls_cipher(c) == NULL, "no cipher");
	ok(myconn_connect(c, &p, on_connect, &got) != 0,
	    "host name without resolver refused");
	p.host = "";
	ok(myconn_connect(c, &p, on_connect, &got) != 0, "empty host refused");
	is_int(connect_calls, 0, "no callback for refused calls");

	/* A socket path with no server: the failure is reported from the
	 * loop, never from inside myconn_connect(). */
	p.host = "/nonexistent/dbprovd/mysqld.sock";
	p.tls_mode = MYCONN_TLS_DISABLED;
	ok(myconn_connect(c, &p, on_connect, &got) == 0, "connect started");
	is_int(connect_calls, 0, "no callback inside connect");
	is_int(myconn_state(c), MYCONN_RESOLVING, "waits for the loop");
	for (i = 0; i < 10 && connect_calls == 0; i++)
		ev_run(loop, EVRUN_NOWAIT);
	is_int(connect_calls, 1, "callback ran once from the loop");
	is_int(got.code, MYCONN_ECONNECT, "connect error");
	is_int(got.server_errno, CR_CONNECTION_ERROR, "2002 from the library");
	is_str(got.sqlstate, "", "no SQLSTATE for a client error");
	ok(strstr(got.msg, "s3cr3t") == NULL, "no password in the message");
	ok(strchr(got.msg, '\n') == NULL, "one line");
	is_int(myconn_state(c), MYCONN_FAILED, "FAILED");
	ok(myconn_is_broken(c), "broken");
	ok(myconn_query(c, "SELECT 1", on_result, NULL) != 0,
	    "no query on a failed connection");
	is_int(myconn_error(c)->code, MYCONN_ECONNECT,
	    "the error still says why it failed");
	ok(myconn_connect(c, &p, on_connect, &got) != 0, "no second connect");
	myconn_free(c);

	/* Freed before the loop ran: no callback, nothing leaks. */
	c = myconn_new(loop, NULL);
	ok(myconn_connect(c, &p, on_connect, &got) == 0, "started");
	myconn_free(c);
	ev_run(loop, EVRUN_NOWAIT);
	is_int(connect_calls, 1, "no callback after free");

	/* A numeric address works without a resolver; nothing listens on
	 * port 1. */
	c = myconn_new(loop, NULL);
	p.host = "127.0.0.1";
	p.port = 1;
	ok(myconn_connect(c, &p, on_connect, &got) == 0,
	    "numeric address without resolver");
	for (i = 0; i < 100 && connect_calls == 1; i++)
		ev_run(loop, EVRUN_ONCE);
	is_int(connect_calls, 2, "refused connect reported");
	is_int(got.code, MYCONN_ECONNECT, "as a connect error");
	myconn_free(c);
	ev_loop_destroy(loop);
}

int
main(void)
{
	test_names();
	test_tls_mapping();
	test_errcode();
	test_opts();
	test_params_tls();
	test_escape_identifier();
	test_machine();
	test_free_in_callback();
	return done_testing();
}
