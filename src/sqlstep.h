/*
 * sqlstep.h - plans of SQL statements whose values never touch the text.
 *
 * A planner (pgplan.c) decides what to run; an executor runs it. Between
 * them travels a `struct sqlplan`: an ordered list of steps, each a SQL
 * template plus typed arguments kept apart from the text, the database
 * the step must run in, whether it may run in a transaction block, and a
 * human description for events and logs.
 *
 * Template language (the text is constant, written by the planner):
 *
 *   %I  identifier, const char *. Quoted by the executor with
 *       PQescapeIdentifier. Checked here: 1..63 bytes (PostgreSQL's
 *       NAMEDATALEN - 1; longer names are refused, never truncated), valid
 *       UTF-8, no control characters.
 *   %L  literal, const char *. Utility statements (CREATE ROLE, ALTER
 *       DATABASE, GRANT ...) take no bind parameters, so the executor escapes
 *       it with PQescapeLiteral. Valid UTF-8 without NUL.
 *   %S  secret literal, const char *: like %L, but shown as '********' by
 *       sqlstep_render_redacted() (a password verifier).
 *   %P  bind parameter, const char *: rendered as $1, $2 ... in order; the
 *       executor passes the values with PQsendQueryParams
 *       (sqlstep_params()). Only for statements that accept parameters
 *       (SELECT and DML).
 *   %d  integer, int, rendered in decimal.
 *   %K  keyword, const char *, from a fixed allow-list (privilege names,
 *       object classes: SELECT, ALL, TABLES, ...); rendered as is.
 *   %C  character set or collation name, const char * (MySQL plans, see
 *       Dialects).
 *   %T  type name, const char *, for function signatures: words of
 *       [A-Za-z0-9_] separated by single spaces, optionally qualified
 *       (schema.type), an optional (n) or (n,m) modifier and [] suffixes
 *       ("integer", "character varying(20)", "text[]"); rendered as is.
 *   %%  a percent sign.
 *
 * The template itself may only contain letters, digits, spaces and
 * _ , ( ) = . * < > (no quotes, semicolons, backslashes, dollars or
 * comments), so no value can hide in it. Everything is checked when a
 * step is added and again when it is rendered.
 *
 * Errors are sticky: the first failing sqlplan_add() records a message in
 * the plan and every later add does nothing; check sqlplan_failed() once.
 *
 * Dialects. A plan (and every step added to it) belongs to one dialect,
 * PostgreSQL unless sqlplan_init_dialect() says otherwise. The MySQL
 * dialect (MySQL 8 and MariaDB, planned by myplan.c) differs as follows:
 *
 *   %I  1..64 characters (MySQL's identifier limit counts characters, not
 *       bytes), valid UTF-8 without characters beyond U+FFFF (MySQL refuses
 *       supplementary characters in identifiers), no control characters,
 *       no trailing space. Quoted with backticks, embedded ` doubled
 *       (sqlstep_my_quote_ident).
 *   %L  the executor escapes with mysql_real_escape_string on the live
 *       connection; sqlstep_my_quote_literal() is the same rule without a
 *       connection (for tests and fixtures).
 *   %K  checked against the MySQL privilege allow-list (sqlstep_my_keyword_ok
 *       lists it), not PostgreSQL's.
 *   %C  a character set or collation name: 1..64 of [A-Za-z0-9_], rendered
 *       as is. (Also accepted in PostgreSQL plans, where no planner uses it.)
 *   %P, %T  refused: statements go through the text protocol, and MySQL
 *       routines are named without argument types.
 *   The template may also contain '@' (for 'user'@'host' accounts, written
 *   %L@%L: two literals).
 *
 * A step's database is checked with the plan's identifier rule.
 */
#ifndef DBP_SQLSTEP_H
#define DBP_SQLSTEP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "util.h"

#define SQLSTEP_IDENT_MAX 63	/* bytes, NAMEDATALEN - 1 */
#define SQLSTEP_MY_IDENT_MAX 64	/* characters, MySQL's NAME_CHAR_LEN */

enum sqldialect {
	SQL_DIALECT_PG,		/* PostgreSQL (the default, value 0) */
	SQL_DIALECT_MYSQL,	/* MySQL 8 and MariaDB */
	SQL_DIALECT__COUNT
};

enum sqlarg_kind {
	SQLARG_IDENT,
	SQLARG_LITERAL,
	SQLARG_SECRET,
	SQLARG_PARAM,
	SQLARG_INT,
	SQLARG_KEYWORD,
	SQLARG_TYPE,
	SQLARG_CHARSET,		/* %C */
	SQLARG__COUNT
};

struct sqlarg {
	enum sqlarg_kind kind;
	char *s;		/* owned; NULL for SQLARG_INT */
	int i;
};

/* Step flags. */
#define SQLSTEP_NO_TXN	0x1u	/* may not run inside a transaction block
				 * (CREATE/DROP DATABASE, ALTER DATABASE SET
				 * TABLESPACE) */

struct sqlstep {
	char *sql;		/* the template, owned */
	struct sqlarg *args;	/* in template order, owned */
	size_t nargs;
	char *database;		/* owned; NULL = the instance's admin
				 * (maintenance) database */
	unsigned flags;
	char *desc;		/* owned; "created role app"; never holds a
				 * secret; NULL until described */
	enum sqldialect dialect;	/* the plan's, when added */
};

struct sqlplan {
	struct sqlstep *v;
	size_t n, cap;
	bool failed;
	char err[256];
	enum sqldialect dialect;
};

/* An empty PostgreSQL plan. */
void sqlplan_init(struct sqlplan *p);
/* An empty plan of dialect d. */
void sqlplan_init_dialect(struct sqlplan *p, enum sqldialect d);
/* Frees every step (secret arguments are wiped first). */
void sqlplan_release(struct sqlplan *p);
/* Releases and initialises again (the dialect is kept). */
void sqlplan_clear(struct sqlplan *p);
static inline bool sqlplan_failed(const struct sqlplan *p) { return p->failed; }
static inline bool sqlplan_empty(const struct sqlplan *p) { return p->n == 0; }

/*
 * Appends a step running fmt (the language above) in database (NULL = the
 * admin database) with flags. Arguments follow fmt. Returns the new step
 * (owned by the plan, valid until the next add), or NULL when the plan
 * failed now or before; the reason is in p->err.
 */
struct sqlstep *sqlplan_add(struct sqlplan *p, const char *database,
    unsigned flags, const char *fmt, ...);
/*
 * The same with the arguments in an array (for statements whose shape
 * depends on the input, e.g. a list of privileges): fmt has exactly n
 * placeholders, args[i].kind must match the i-th one (args[i].s is
 * copied; args[i].i is used for %d).
 */
struct sqlstep *sqlplan_addv(struct sqlplan *p, const char *database,
    unsigned flags, const char *fmt, const struct sqlarg *args, size_t n);
/* Sets the description of st (printf format). st may be NULL (a failed
 * add), then nothing happens. Must not be given secrets. */
void sqlstep_describe(struct sqlstep *st, const char *fmt, ...)
    DBP_PRINTF(2, 3);
/* Marks the plan failed with a message (first one wins). Returns -1. */
int sqlplan_fail(struct sqlplan *p, const char *fmt, ...) DBP_PRINTF(2, 3);
/* Moves the steps of src to the end of dst (src is left empty); a failure
 * of src carries over. An empty dst that has not failed takes the dialect
 * of src; otherwise steps of another dialect fail dst. */
void sqlplan_move(struct sqlplan *dst, struct sqlplan *src);

/*
 * Checks s as a PostgreSQL identifier value (see %I). Returns NULL when
 * fine, else a static reason ("is longer than 63 bytes (PostgreSQL's
 * identifier limit)") for a message that names the field.
 */
const char *sqlstep_ident_problem(const char *s);
/* The same with MySQL's rule (see Dialects), "is longer than 64
 * characters (MySQL's identifier limit)" and so on. */
const char *sqlstep_my_ident_problem(const char *s);
/* True if s is on the keyword allow-list of %K. */
bool sqlstep_keyword_ok(const char *s);
/*
 * True if s is on the MySQL allow-list of %K: the static privileges of
 * MySQL 8 and MariaDB (SELECT, INSERT, UPDATE, DELETE, CREATE, DROP,
 * RELOAD, SHUTDOWN, PROCESS, FILE, REFERENCES, INDEX, ALTER, SHOW
 * DATABASES, SUPER, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE,
 * REPLICATION SLAVE, REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE
 * ROUTINE, ALTER ROUTINE, CREATE USER, EVENT, TRIGGER, CREATE TABLESPACE,
 * CREATE ROLE, DROP ROLE, DELETE HISTORY, ALL PRIVILEGES, USAGE),
 * MariaDB's split SUPER privileges (BINLOG ADMIN, BINLOG MONITOR, BINLOG
 * REPLAY, CONNECTION ADMIN, FEDERATED ADMIN, READ_ONLY ADMIN,
 * REPLICATION MASTER ADMIN, REPLICA MONITOR, REPLICATION SLAVE ADMIN, SET
 * USER, SLAVE MONITOR) and a set of MySQL 8 dynamic privileges
 * (APPLICATION_PASSWORD_ADMIN, AUDIT_ADMIN, BACKUP_ADMIN,
 * BINLOG_ADMIN, BINLOG_ENCRYPTION_ADMIN, CONNECTION_ADMIN,
 * ENCRYPTION_KEY_ADMIN, FLUSH_OPTIMIZER_COSTS, FLUSH_STATUS, FLUSH_TABLES,
 * FLUSH_USER_RESOURCES, GROUP_REPLICATION_ADMIN, INNODB_REDO_LOG_ARCHIVE,
 * PASSWORDLESS_USER_ADMIN, PERSIST_RO_VARIABLES_ADMIN, REPLICATION_APPLIER,
 * REPLICATION_SLAVE_ADMIN, RESOURCE_GROUP_ADMIN, RESOURCE_GROUP_USER,
 * ROLE_ADMIN, SERVICE_CONNECTION_ADMIN, SESSION_VARIABLES_ADMIN,
 * SET_USER_ID, SHOW_ROUTINE, SYSTEM_USER, SYSTEM_VARIABLES_ADMIN,
 * TABLE_ENCRYPTION_ADMIN, XA_RECOVER_ADMIN). Exact upper case.
 */
bool sqlstep_my_keyword_ok(const char *s);
/* True if s is a valid %C name: 1..64 of [A-Za-z0-9_]. */
bool sqlstep_charset_ok(const char *s);
/* True if s is a valid %T type name. */
bool sqlstep_type_ok(const char *s);
/* True if s is valid UTF-8 (NUL-terminated). */
bool sqlstep_utf8_ok(const char *s);

/* How the executor quotes. Each appends the quoted form of s to out and
 * returns 0, or -1 (the message goes into the render error). */
struct sqlquote {
	void *ctx;
	int (*ident)(void *ctx, const char *s, struct buf *out);
	int (*literal)(void *ctx, const char *s, struct buf *out);
};

/*
 * Renders st into out (appended) with q's quoting; %P becomes $n. Checks
 * every argument again. Returns 0, or -1 with a message in err. The text
 * may contain a secret literal: release it with buf_release_secret().
 */
int sqlstep_render(const struct sqlstep *st, const struct sqlquote *q,
    struct buf *out, char *err, size_t errlen) DBP_MUSTCHECK;

/* PostgreSQL's own rules, as PQescapeIdentifier / PQescapeLiteral apply
 * them with standard_conforming_strings on: "x" with " doubled; 'x' with
 * ' doubled, or E'x' with \ doubled too when x holds a backslash. */
void sqlstep_quote_ident(struct buf *out, const char *s);
void sqlstep_quote_literal(struct buf *out, const char *s);
extern const struct sqlquote sqlstep_pg_quote;

/* MySQL's rules: `x` with ` doubled; 'x' with the escapes of
 * mysql_real_escape_string on a connection without NO_BACKSLASH_ESCAPES
 * (\ ' " become \\ \' \", newline \n, carriage return \r, Ctrl-Z \Z). */
void sqlstep_my_quote_ident(struct buf *out, const char *s);
void sqlstep_my_quote_literal(struct buf *out, const char *s);
extern const struct sqlquote sqlstep_my_quote;

/* The whole statement with sqlstep_pg_quote or sqlstep_my_quote, after
 * the step's dialect (for unit tests and fixtures); malloc'ed, or NULL
 * when the step does not render. May hold a secret. */
char *sqlstep_render_test(const struct sqlstep *st);
/* Same, with every %S literal shown as '********': safe for logs. */
char *sqlstep_render_redacted(const struct sqlstep *st);
/* Stores the values of the %P arguments in order into vals (at most max)
 * and returns how many there are (more than max means some were left
 * out). Pointers are owned by the step. */
size_t sqlstep_params(const struct sqlstep *st, const char **vals, size_t max);
/* True if the step holds a %S argument. */
bool sqlstep_has_secret(const struct sqlstep *st);

#endif
