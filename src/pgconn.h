/*
 * pgconn.h - one asynchronous PostgreSQL connection on the libev loop.
 *
 * A connection is an explicit state machine (doc/engine.md draws it):
 *
 *   NEW -> RESOLVING -> CONNECTING -> [SETUP] -> READY
 *   READY -> SENDING -> BUSY -> READY ...
 *   any -> FAILED (error, timeout, connection lost)      any -> CLOSED
 *
 * RESOLVING: c-ares looks the host up (resolve.h); a unix-socket directory
 * (host starting with '/') and numeric addresses skip the query.
 * CONNECTING: PQconnectStartParams() with keyword arrays -- host (for the
 * TLS name check) and hostaddr (the resolved addresses, so libpq does no
 * DNS of its own) -- then PQconnectPoll() driven by an ev_io on PQsocket(),
 * re-fetched and re-set after every poll. SETUP: one internal statement
 * after connecting (client_connection_check_interval on servers >= 14, so
 * that a query we give up on is stopped by the server too). READY: idle; the
 * socket is still watched so that a server that goes away is noticed at once
 * (FAILED, and the broken callback runs). SENDING: PQflush() until the query
 * is out. BUSY: PQconsumeInput()/PQisBusy()/PQgetResult() until NULL.
 *
 * Timeouts: one ev_timer. The connect timeout covers resolution, connection,
 * TLS, authentication and setup (libpq ignores connect_timeout in
 * non-blocking mode). The query timeout covers one query; when it fires the
 * connection is closed and the query reported as timed out -- libpq 15 has
 * only a blocking PQcancel(), and a timed-out connection is not reused
 * anyway (the server stops the orphaned statement within
 * check_interval_ms, see above).
 *
 * Callbacks never run from inside the call that started the work. A
 * callback may call pgconn_free() on its own connection, or start the next
 * query. After FAILED or CLOSED the connection cannot be used again.
 *
 * Secrets: the password is copied at pgconn_connect(), handed to libpq, and
 * wiped from our memory as soon as PQconnectStartParams() has taken its
 * copy (libpq wipes its own in PQfinish()). Error messages and logs never
 * contain it.
 */
#ifndef DBP_PGCONN_H
#define DBP_PGCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <ev.h>

#include "util.h"

struct pgconn;
struct pgtls;
struct resolver;

enum pgconn_state {
	PGCONN_NEW = 0,
	PGCONN_RESOLVING,
	PGCONN_CONNECTING,
	PGCONN_SETUP,
	PGCONN_READY,
	PGCONN_SENDING,
	PGCONN_BUSY,
	PGCONN_FAILED,
	PGCONN_CLOSED,
	PGCONN__COUNT
};

const char *pgconn_state_name(enum pgconn_state s);

enum pgconn_sslmode {
	PGCONN_SSL_DISABLE = 0,
	PGCONN_SSL_ALLOW,
	PGCONN_SSL_PREFER,
	PGCONN_SSL_REQUIRE,
	PGCONN_SSL_VERIFY_CA,
	PGCONN_SSL_VERIFY_FULL,
	PGCONN_SSL__COUNT
};

/* libpq's spelling ("verify-full"). */
const char *pgconn_sslmode_name(enum pgconn_sslmode m);
/* Parses libpq's spelling; -1 if unknown. */
int pgconn_sslmode_parse(const char *s, enum pgconn_sslmode *out);
/* The sslmode of a DatabaseInstance (behavior.md 2.2): spec.postgres.sslMode
 * if set, else spec.tls.mode when TLS is enabled, else disable. NULL or ""
 * means unset. Returns -1 for an unknown spelling. */
int pgconn_sslmode_pick(const char *pg_sslmode, bool tls_enabled,
    const char *tls_mode, enum pgconn_sslmode *out);

/* Errors. code says what failed; sqlstate is set for server errors. */
enum pgconn_errcode {
	PGCONN_OK = 0,
	PGCONN_EUSAGE,		/* wrong state, bad parameter */
	PGCONN_ERESOLVE,	/* host name lookup failed */
	PGCONN_ECONNECT,	/* connect, TLS or authentication failed */
	PGCONN_ETIMEOUT,	/* connect or query timeout */
	PGCONN_ESERVER,		/* the server answered with an error */
	PGCONN_ELOST,		/* the connection broke */
	PGCONN_E__COUNT
};

#define PGCONN_ERR_LEN 256

struct pgconn_err {
	enum pgconn_errcode code;
	char sqlstate[6];		/* "" unless the server sent one */
	char msg[PGCONN_ERR_LEN];	/* one line, no secrets */
};

const char *pgconn_errcode_name(enum pgconn_errcode c);

/*
 * Connection parameters. pgconn_connect() copies what it needs; the
 * struct and its strings stay the caller's.
 */
struct pgconn_params {
	const char *host;	/* name, IP literal, or unix socket directory */
	int port;		/* 0 = 5432 */
	const char *dbname;
	const char *user;
	const char *password;	/* may be NULL (trust, certificates) */
	enum pgconn_sslmode sslmode;
	/* CA, client certificate and key files (pgtls.h); NULL = none. The
	 * connection holds a reference until it is freed. */
	struct pgtls *tls;
	double connect_timeout;	/* seconds; 0 = 10 */
	double query_timeout;	/* seconds per query; 0 = 30, < 0 = none */
	const char *application_name;	/* NULL = "dbprovd" */
	int statement_timeout_ms;	/* > 0: server-side statement_timeout */
	/* client_connection_check_interval set after connecting when the
	 * server is >= 14: 0 = 2000 ms, < 0 = leave the server's value. */
	int check_interval_ms;
};

/* Deep copy (password included) for keepers of parameters (the pool); free
 * with pgconn_params_free(), which wipes the password. */
struct pgconn_params *pgconn_params_dup(const struct pgconn_params *p);
void pgconn_params_free(struct pgconn_params *p);

/* libpq keyword/value arrays for PQconnectStartParams (pure; exposed for
 * tests). addrs/naddrs: the resolved numeric addresses (hostaddr, one per
 * address, host repeated to match), none for unix sockets. */
#define PGCONN_MAX_KW 24
struct pgconn_kw {
	const char *keys[PGCONN_MAX_KW + 1];	/* NULL-terminated */
	const char *vals[PGCONN_MAX_KW + 1];
	size_t n;
	char *owned[8];		/* strings built here, freed by release */
	size_t nowned;
};

struct resolve_addr;
/* Builds the arrays; values point into p, the constants, or strings that
 * pgconn_kw_release() frees. Returns 0, or -1 with a message. */
int pgconn_kw_build(struct pgconn_kw *kw, const struct pgconn_params *p,
    const struct resolve_addr *addrs, size_t naddrs, char *err,
    size_t errlen) DBP_MUSTCHECK;
void pgconn_kw_release(struct pgconn_kw *kw);
/* The value of key, or NULL (tests). */
const char *pgconn_kw_get(const struct pgconn_kw *kw, const char *key);

/* Where verify-ca/verify-full look when no CA is given (the original used
 * the system roots); a path that never exists stops libpq from reading
 * ~/.postgresql/ files in the other cases. */
#define PGCONN_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define PGCONN_NO_FILE "/nonexistent/dbprovd/none"

/* One query's outcome, valid only during the result callback. */
struct pgconn_result {
	struct pgconn_err err;	/* code PGCONN_OK on success */
	const char *cmd_tag;	/* "INSERT 0 1", "" if none */
	int nrows;
	int ncols;
	void *priv;		/* the PGresult */
};

/* Column name, value (NULL for SQL NULL) and length of a result. Out of
 * range gives NULL / 0. */
const char *pgconn_res_colname(const struct pgconn_result *r, int col);
const char *pgconn_res_value(const struct pgconn_result *r, int row,
    int col);
size_t pgconn_res_len(const struct pgconn_result *r, int row, int col);

/* Connect outcome: err is NULL on success (state READY). */
typedef void (*pgconn_connect_fn)(struct pgconn *c,
    const struct pgconn_err *err, void *arg);
typedef void (*pgconn_result_fn)(struct pgconn *c,
    const struct pgconn_result *res, void *arg);
/* The connection broke while READY (server restart, network). */
typedef void (*pgconn_broken_fn)(struct pgconn *c, void *arg);

/* Creates an unconnected connection (NEW). rs resolves host names, may be
 * shared by any number of connections and must outlive them; NULL allows
 * unix-socket directories only. */
struct pgconn *pgconn_new(struct ev_loop *loop, struct resolver *rs);
/* Closes (no callback runs afterwards) and frees. Safe from any callback,
 * including this connection's own: the memory is then released once the
 * callback has returned. */
void pgconn_free(struct pgconn *c);

/* Starts connecting (legal in NEW only). Returns 0: cb runs once, later,
 * with the outcome. Returns -1 with pgconn_error() set (EUSAGE: bad
 * parameters or state) and no callback. */
int pgconn_connect(struct pgconn *c, const struct pgconn_params *p,
    pgconn_connect_fn cb, void *arg) DBP_MUSTCHECK;
/* Sends sql with text parameters $1..$n (PQsendQueryParams; NULL means SQL
 * NULL; never interpolated). Legal in READY only. Returns 0: cb runs once,
 * later, with the result (or timeout, or loss). Returns -1 with
 * pgconn_error() set and no callback: EUSAGE, or -- on a connection that
 * has failed (e.g. the server went away while it was idle) -- the reason
 * it failed. One statement per call. */
int pgconn_query(struct pgconn *c, const char *sql, int nparams,
    const char *const *params, pgconn_result_fn cb, void *arg) DBP_MUSTCHECK;
/* Query timeout for the following queries (seconds; <= 0 = none). */
void pgconn_set_query_timeout(struct pgconn *c, double seconds);
/* Called when the connection breaks while READY (NULL to remove). */
void pgconn_set_broken_cb(struct pgconn *c, pgconn_broken_fn cb, void *arg);

enum pgconn_state pgconn_state(const struct pgconn *c);
/* True in FAILED or CLOSED, or when libpq says the connection is bad. */
bool pgconn_is_broken(const struct pgconn *c);
/* The last error (code PGCONN_OK if none). */
const struct pgconn_err *pgconn_error(const struct pgconn *c);
/* PQserverVersion() (150004 for 15.4), 0 unless connected. */
int pgconn_server_version(const struct pgconn *c);
/* PQbackendPID(), 0 unless connected. */
int pgconn_backend_pid(const struct pgconn *c);
/* "user@host:port/db" for logs (no secrets). */
const char *pgconn_describe(const struct pgconn *c);

/* PQescapeIdentifier / PQescapeLiteral with the live connection's
 * encoding settings: a malloc'ed string the caller frees, or NULL with a
 * message in err (not connected, invalid encoding). */
char *pgconn_escape_identifier(struct pgconn *c, const char *s, char *err,
    size_t errlen) DBP_MUSTCHECK;
char *pgconn_escape_literal(struct pgconn *c, const char *s, char *err,
    size_t errlen) DBP_MUSTCHECK;

/* The SCRAM-SHA-256 verifier of password for role user, computed here
 * (PQencryptPasswordConn with the algorithm named: no query, no round
 * trip), so that the plaintext never reaches the server. Malloc'ed; free
 * with free_secret(). NULL with a message in err when not connected. */
char *pgconn_encrypt_password(struct pgconn *c, const char *user,
    const char *password, char *err, size_t errlen) DBP_MUSTCHECK;

/* Pool glue (pool.h): connections of a struct pool are pgconns made with
 * these operations; ops_arg of pool_new() is the struct resolver *. */
struct pool_ops;
extern const struct pool_ops pgconn_pool_ops;

/* Collapses a (libpq) message to one line: newlines become "; ",
 * surrounding blanks go. Writes into out (always terminated). */
void pgconn_one_line(char *out, size_t outlen, const char *msg);

#endif
