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
 */
#ifndef DBP_SQLSTEP_H
#define DBP_SQLSTEP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "util.h"

#define SQLSTEP_IDENT_MAX 63	/* bytes, NAMEDATALEN - 1 */

enum sqlarg_kind {
	SQLARG_IDENT,
	SQLARG_LITERAL,
	SQLARG_SECRET,
	SQLARG_PARAM,
	SQLARG_INT,
	SQLARG_KEYWORD,
	SQLARG_TYPE,
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
};

struct sqlplan {
	struct sqlstep *v;
	size_t n, cap;
	bool failed;
	char err[256];
};

void sqlplan_init(struct sqlplan *p);
/* Frees every step (secret arguments are wiped first). */
void sqlplan_release(struct sqlplan *p);
/* Releases and initialises again. */
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
 * of src carries over. */
void sqlplan_move(struct sqlplan *dst, struct sqlplan *src);

/*
 * Checks s as a PostgreSQL identifier value (see %I). Returns NULL when
 * fine, else a static reason ("is longer than 63 bytes (PostgreSQL's
 * identifier limit)") for a message that names the field.
 */
const char *sqlstep_ident_problem(const char *s);
/* True if s is on the keyword allow-list of %K. */
bool sqlstep_keyword_ok(const char *s);
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

/* The whole statement with sqlstep_pg_quote (for unit tests and fixtures);
 * malloc'ed, or NULL when the step does not render. May hold a secret. */
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
