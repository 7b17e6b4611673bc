/*
 * myconn.h - one asynchronous MySQL / MariaDB connection on the libev loop.
 *
 * The MySQL counterpart of pgconn.h, with the same shape: an explicit
 * state machine (doc/engine.md draws it),
 *
 *   NEW -> RESOLVING -> CONNECTING -> READY
 *   READY -> QUERYING -> [FETCHING] -> [DRAINING] -> READY ...
 *   any -> FAILED (error, timeout, connection lost)      any -> CLOSED
 *
 * driven by MariaDB Connector/C's non-blocking API: every *_start() and
 * *_cont() call returns 0 (done) or the MYSQL_WAIT_* events it waits for;
 * READ/WRITE/EXCEPT become an ev_io on mysql_get_socket(), TIMEOUT an
 * ev_timer of mysql_get_timeout_value_ms().
 *
 * RESOLVING: c-ares looks the host up (resolve.h); a unix socket path (host
 * starting with '/') and numeric addresses skip the query. CONNECTING:
 * mysql_real_connect_start() to the first resolved address (the next one
 * after a refused connect), so Connector/C never resolves a name itself.
 * READY: idle; the socket is still watched, so a server that goes away is
 * noticed at once (FAILED, and the broken callback runs). QUERYING:
 * mysql_real_query_start(). FETCHING: mysql_store_result_start(). DRAINING:
 * further results of a CALL are read and dropped (only the first result is
 * reported).
 *
 * TLS host name check: Connector/C compares the server certificate with
 * the host argument of mysql_real_connect(), which is the numeric address
 * we connect to. For verify-full that argument is a buffer of ours: the
 * library reads the address from it before its first wait and copies it
 * only after the server's greeting, so at the first wait the original
 * name replaces the address and the library checks the name during the
 * handshake, before authenticating. Once connected, the peer certificate
 * is checked against the original name once more. doc/engine.md has the
 * details.
 *
 * Connector/C 3.3 performs the TLS handshake (and the authentication that
 * follows) on a blocking socket; that part is bounded by the connect
 * timeout through the library's read/write timeouts, and the socket is
 * made non-blocking again once connected.
 *
 * Timeouts: one ev_timer of ours (a second one only follows the library's
 * MYSQL_WAIT_TIMEOUT requests). The connect timeout covers resolution,
 * connection, TLS and authentication; the query timeout covers one query
 * (sending, executing, fetching). When either fires the connection is
 * closed (shutdown() of the socket first, so closing cannot block) and the
 * outcome reported as ETIMEOUT; the connection is FAILED.
 *
 * Callbacks never run from inside the call that started the work. A
 * callback may call myconn_free() on its own connection, or start the next
 * query. After FAILED or CLOSED the connection cannot be used again.
 *
 * Secrets: the password is copied at myconn_connect(), handed to
 * Connector/C with MARIADB_OPT_PASSWORD (the library keeps its own copy
 * until the handle is closed) and wiped from our memory right after that
 * call. Error messages and logs never contain it; MYSQL_PWD is never
 * consulted.
 *
 * One statement per query: CLIENT_MULTI_STATEMENTS is never set, so the
 * server refuses "SELECT 1; SELECT 2" with a syntax error. LOCAL INFILE is
 * off.
 */
#ifndef DBP_MYCONN_H
#define DBP_MYCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>

#include "util.h"

struct myconn;
struct pgtls;
struct resolver;
struct resolve_addr;

enum myconn_state {
	MYCONN_NEW = 0,
	MYCONN_RESOLVING,
	MYCONN_CONNECTING,
	MYCONN_READY,
	MYCONN_QUERYING,
	MYCONN_FETCHING,
	MYCONN_DRAINING,
	MYCONN_FAILED,
	MYCONN_CLOSED,
	MYCONN__COUNT
};

const char *myconn_state_name(enum myconn_state s);

/*
 * TLS modes, honoured exactly:
 *   disabled     no TLS;
 *   preferred    TLS if the server offers it, no verification;
 *   required     TLS or fail, no verification (no CA is given to the
 *                library, so not even the chain is checked);
 *   verify-ca    TLS, chain checked against the CA, host name not checked;
 *   verify-full  TLS, chain and host name (the original name, not the
 *                resolved address) checked.
 * verify-* without a CA use the system roots (MYCONN_SYSTEM_CA_FILE).
 */
enum myconn_tls {
	MYCONN_TLS_DISABLED = 0,
	MYCONN_TLS_PREFERRED,
	MYCONN_TLS_REQUIRED,
	MYCONN_TLS_VERIFY_CA,
	MYCONN_TLS_VERIFY_FULL,
	MYCONN_TLS__COUNT
};

/* "verify-full" etc. (the names above); NULL out of range. */
const char *myconn_tls_name(enum myconn_tls m);
/* Parses the names above; -1 if unknown. */
int myconn_tls_parse(const char *s, enum myconn_tls *out);
/* spec.tls.mode (PostgreSQL sslmode words) to a mode: disable ->
 * disabled, allow and prefer -> preferred, require -> required,
 * verify-ca -> verify-ca, verify-full -> verify-full. NULL or "" ->
 * disabled (the CRD default). -1 for anything else. */
int myconn_tls_from_sslmode(const char *mode, enum myconn_tls *out);
/* spec.mysql.tls (disabled, preferred, required, skip-verify) to a mode;
 * skip-verify -> required (encrypted, unverified). NULL or "" ->
 * preferred (the CRD default). -1 for anything else. The original never
 * used this field; it is provided for completeness. */
int myconn_tls_from_mysql_tls(const char *v, enum myconn_tls *out);
/* The mode of a DatabaseInstance: disabled unless spec.tls.enabled, then
 * spec.tls.mode through myconn_tls_from_sslmode(); spec.mysql.tls is not
 * consulted (api.md 6.1). Returns -1 for an unknown spelling. */
int myconn_tls_pick(bool tls_enabled, const char *tls_mode,
    enum myconn_tls *out);

/* Errors. code says what failed; server errors carry the server's error
 * number and SQLSTATE. */
enum myconn_errcode {
	MYCONN_OK = 0,
	MYCONN_EUSAGE,		/* wrong state, bad parameter */
	MYCONN_ERESOLVE,	/* host name lookup failed */
	MYCONN_ECONNECT,	/* connect, TLS or authentication failed */
	MYCONN_ETIMEOUT,	/* connect or query timeout */
	MYCONN_ESERVER,		/* the server answered with an error */
	MYCONN_ELOST,		/* the connection broke */
	MYCONN_E__COUNT
};

#define MYCONN_ERR_LEN 256

struct myconn_err {
	enum myconn_errcode code;
	unsigned server_errno;		/* mysql_errno(), 0 if none */
	char sqlstate[6];		/* "" unless the server sent one */
	char msg[MYCONN_ERR_LEN];	/* one line, no secrets */
};

const char *myconn_errcode_name(enum myconn_errcode c);
/* The code for a failed Connector/C call with error number e (pure):
 * client errors (2000-2999) are connection failures -- ECONNECT while
 * connecting, else ELOST -- and everything else is ESERVER. */
enum myconn_errcode myconn_errcode_for(unsigned e, bool connecting);

/*
 * Connection parameters. myconn_connect() copies what it needs; the
 * struct and its strings stay the caller's.
 */
struct myconn_params {
	const char *host;	/* name, IP literal, or unix socket path */
	int port;		/* 0 = 3306 */
	const char *dbname;	/* default database; NULL or "" = none */
	const char *user;
	const char *password;	/* NULL = empty */
	enum myconn_tls tls_mode;
	/* CA, client certificate and key files (pgtls.h); NULL = none. The
	 * connection holds a reference until it is freed. */
	struct pgtls *tls;
	double connect_timeout;	/* seconds; 0 = 10 */
	double query_timeout;	/* seconds per query; 0 = 30, < 0 = none */
	const char *charset;	/* NULL = "utf8mb4" */
};

/* Deep copy (password included) for keepers of parameters (the pool); free
 * with myconn_params_free(), which wipes the password. */
struct myconn_params *myconn_params_dup(const struct myconn_params *p);
void myconn_params_free(struct myconn_params *p);

/* What is handed to Connector/C for one connect attempt (pure; exposed for
 * tests). Strings point into p, the constants, or addr. */
struct myconn_opts {
	const char *connect_host;	/* numeric address; NULL for a socket */
	const char *unix_socket;	/* socket path, or NULL */
	unsigned port;			/* 0 for a socket */
	const char *dbname;		/* NULL = none */
	bool use_tls;		/* ask for TLS (MYSQL_OPT_SSL_ENFORCE) */
	bool must_tls;		/* fail if the session is not encrypted */
	const char *ca;			/* MYSQL_OPT_SSL_CA; NULL = none */
	const char *cert;		/* MYSQL_OPT_SSL_CERT */
	const char *key;		/* MYSQL_OPT_SSL_KEY */
	bool verify_name;		/* MYSQL_OPT_SSL_VERIFY_SERVER_CERT */
	const char *check_name;		/* name the certificate must carry */
	const char *tls_versions;	/* MARIADB_OPT_TLS_VERSION */
	unsigned connect_timeout;	/* MYSQL_OPT_CONNECT_TIMEOUT, seconds */
	const char *charset;		/* MYSQL_SET_CHARSET_NAME */
};

/* Fills o for connecting to addr (NULL for a unix socket). Returns 0, or
 * -1 with a message (bad parameters). */
int myconn_opts_build(struct myconn_opts *o, const struct myconn_params *p,
    const struct resolve_addr *addr, char *err, size_t errlen) DBP_MUSTCHECK;

/* Where verify-ca/verify-full look when no CA is given. */
#define MYCONN_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* One query's outcome, valid only during the result callback. */
struct myconn_result {
	struct myconn_err err;		/* code MYCONN_OK on success */
	unsigned long long affected_rows;	/* statements without rows */
	unsigned long long insert_id;
	unsigned warnings;
	int nrows;
	int ncols;
	void *priv;
};

/* Column name, value (NULL for SQL NULL) and length of a result. Out of
 * range gives NULL / 0. */
const char *myconn_res_colname(const struct myconn_result *r, int col);
const char *myconn_res_value(const struct myconn_result *r, int row,
    int col);
size_t myconn_res_len(const struct myconn_result *r, int row, int col);
/* The first text column (not a binary one) holding a value with a NUL
 * byte, or -1. Such a value would be cut short as a C string: names read
 * back from the server must not be. */
int myconn_res_nul_column(const struct myconn_result *r);

/* Connect outcome: err is NULL on success (state READY). */
typedef void (*myconn_connect_fn)(struct myconn *c,
    const struct myconn_err *err, void *arg);
typedef void (*myconn_result_fn)(struct myconn *c,
    const struct myconn_result *res, void *arg);
/* The connection broke while READY (server restart, network). */
typedef void (*myconn_broken_fn)(struct myconn *c, void *arg);

/* Creates an unconnected connection (NEW). rs resolves host names, may be
 * shared by any number of connections and must outlive them; NULL allows
 * unix socket paths and numeric addresses only. */
struct myconn *myconn_new(struct ev_loop *loop, struct resolver *rs);
/* Closes (no callback runs afterwards) and frees. Safe from any callback,
 * including this connection's own: the memory is then released once the
 * callback has returned. */
void myconn_free(struct myconn *c);

/* Starts connecting (legal in NEW only). Returns 0: cb runs once, later,
 * with the outcome. Returns -1 with myconn_error() set (EUSAGE: bad
 * parameters or state) and no callback. */
int myconn_connect(struct myconn *c, const struct myconn_params *p,
    myconn_connect_fn cb, void *arg) DBP_MUSTCHECK;
/* Runs one SQL statement (text protocol; quote values with
 * myconn_escape_literal()). Legal in READY only. Returns 0: cb runs once,
 * later, with the result (or timeout, or loss). Returns -1 with
 * myconn_error() set and no callback: EUSAGE, or -- on a connection that
 * has failed (e.g. the server went away while it was idle) -- the reason
 * it failed. */
int myconn_query(struct myconn *c, const char *sql, myconn_result_fn cb,
    void *arg) DBP_MUSTCHECK;
/* Query timeout for the following queries (seconds; <= 0 = none). */
void myconn_set_query_timeout(struct myconn *c, double seconds);
/* Called when the connection breaks while READY (NULL to remove). */
void myconn_set_broken_cb(struct myconn *c, myconn_broken_fn cb, void *arg);

enum myconn_state myconn_state(const struct myconn *c);
/* True in FAILED or CLOSED. */
bool myconn_is_broken(const struct myconn *c);
/* The last error (code MYCONN_OK if none). */
const struct myconn_err *myconn_error(const struct myconn *c);
/* mysql_get_server_version() (101119 for 10.11.19), 0 unless connected. */
unsigned long myconn_server_version(const struct myconn *c);
/* mysql_get_server_info() ("10.11.19-MariaDB-..."), "" unless connected. */
const char *myconn_server_info(const struct myconn *c);
/* True when the server info says MariaDB. */
bool myconn_is_mariadb(const struct myconn *c);
/* mysql_thread_id(), 0 unless connected. */
unsigned long myconn_thread_id(const struct myconn *c);
/* The TLS cipher of the session, or NULL when it is not encrypted. */
const char *myconn_tls_cipher(const struct myconn *c);
/* "user@host:port/db" for logs (no secrets). */
const char *myconn_describe(const struct myconn *c);

/* mysql_real_escape_string() with the live connection's character set,
 * quoted: 'it\'s'. A malloc'ed string the caller frees, or NULL with a
 * message in err (not connected). */
char *myconn_escape_literal(struct myconn *c, const char *s, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* `name` with backticks doubled (pure): a malloc'ed string the caller
 * frees, or NULL with a message in err (an empty name). */
char *myconn_escape_identifier(const char *s, char *err,
    size_t errlen) DBP_MUSTCHECK;

/* Pool glue (pool.h): connections of a struct pool are myconns made with
 * these operations; ops_arg of pool_new() is the struct resolver *. */
struct pool_ops;
extern const struct pool_ops myconn_pool_ops;

#endif
