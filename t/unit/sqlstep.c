#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "sqlstep.h"
#include "tap.h"

/* Renders step i of p with PostgreSQL's quoting; "" when it fails. */
static char *
r(const struct sqlplan *p, size_t i)
{
	char *s = i < p->n ? sqlstep_render_test(&p->v[i]) : NULL;

	return s ? s : xstrdup("(render failed)");
}

static void
is_render(const struct sqlplan *p, size_t i, const char *want,
    const char *name)
{
	char *s = r(p, i);

	is_str(s, want, name);
	free(s);
}

/* A quoting backend that fails, as PQescapeIdentifier can. */
static int
fail_ident(void *ctx, const char *s, struct buf *out)
{
	return -1;
}

static int
upper_literal(void *ctx, const char *s, struct buf *out)
{
	(*(int *)ctx)++;
	return buf_printf(out, "<%s>", s);
}

int
main(void)
{
	struct sqlplan p, q, pg;
	struct sqlstep *st;
	struct sqlarg a[4];
	const char *vals[4];
	char *s, err[128];
	struct buf b = BUF_INIT(0);
	char long64[65];
	int calls = 0;
	struct sqlquote custom = { &calls, sqlstep_pg_quote.ident,
	    upper_literal };
	struct sqlquote failing = { NULL, fail_ident, upper_literal };

	/* quoting rules */
	sqlstep_quote_ident(&b, "a\"b");
	is_str(buf_cstr(&b), "\"a\"\"b\"", "identifier: quote doubled");
	buf_reset(&b);
	sqlstep_quote_literal(&b, "it's");
	is_str(buf_cstr(&b), "'it''s'", "literal: quote doubled");
	buf_reset(&b);
	sqlstep_quote_literal(&b, "a\\b'c");
	is_str(buf_cstr(&b), "E'a\\\\b''c'", "literal with backslash: E'' "
	    "and doubled backslash");
	buf_reset(&b);
	sqlstep_quote_ident(&b, "Ünïcødé;--");
	is_str(buf_cstr(&b), "\"Ünïcødé;--\"", "unicode and ; stay inside "
	    "the quotes");
	buf_release(&b);

	sqlplan_init(&p);
	st = sqlplan_add(&p, NULL, 0, "CREATE ROLE %I WITH LOGIN CONNECTION "
	    "LIMIT %d", "app", 5);
	ok(st != NULL, "add a step");
	sqlstep_describe(st, "created role %s", "app");
	is_render(&p, 0, "CREATE ROLE \"app\" WITH LOGIN CONNECTION LIMIT 5",
	    "identifier and integer");
	is_str(p.v[0].desc, "created role app", "description");
	ok(p.v[0].database == NULL && p.v[0].flags == 0, "admin database, "
	    "transaction allowed");

	st = sqlplan_add(&p, "db 1", SQLSTEP_NO_TXN, "ALTER ROLE %I SET %I = %L",
	    "x\"; DROP TABLE t; --", "search_path", "a'b\\c");
	ok(st != NULL, "hostile values are accepted as arguments");
	is_render(&p, 1, "ALTER ROLE \"x\"\"; DROP TABLE t; --\" SET "
	    "\"search_path\" = E'a''b\\\\c'", "hostile values rendered quoted");
	is_str(p.v[1].database, "db 1", "database kept");
	ok(p.v[1].flags & SQLSTEP_NO_TXN, "no-transaction flag kept");

	st = sqlplan_add(&p, NULL, 0, "GRANT %K, %K ON ALL TABLES IN SCHEMA %I "
	    "TO %I", "SELECT", "ALL PRIVILEGES", "public", "app");
	is_render(&p, 2, "GRANT SELECT, ALL PRIVILEGES ON ALL TABLES IN SCHEMA "
	    "\"public\" TO \"app\"", "keywords from the allow-list");
	st = sqlplan_add(&p, NULL, 0, "GRANT %K ON FUNCTION %I.%I(%T, %T) TO %I",
	    "EXECUTE", "public", "f", "integer", "character varying(20)[]",
	    "app");
	is_render(&p, 3, "GRANT EXECUTE ON FUNCTION \"public\".\"f\"(integer, "
	    "character varying(20)[]) TO \"app\"", "type names");
	st = sqlplan_add(&p, NULL, 0, "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE datname = %P AND pid <> %P", "d'b", "x");
	is_render(&p, 4, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	    "WHERE datname = $1 AND pid <> $2", "parameters become $n");
	is_int(sqlstep_params(&p.v[4], vals, 4), 2, "two parameters");
	is_str(vals[0], "d'b", "parameter 1 travels unquoted");
	is_str(vals[1], "x", "parameter 2");
	is_int(sqlstep_params(&p.v[4], vals, 1), 2, "count beyond max");

	st = sqlplan_add(&p, NULL, 0, "ALTER ROLE %I WITH PASSWORD %S", "app",
	    "SCRAM-SHA-256$4096:c2FsdA==$a:b");
	ok(sqlstep_has_secret(&p.v[5]), "secret literal flagged");
	ok(!sqlstep_has_secret(&p.v[0]), "other steps have no secret");
	s = sqlstep_render_redacted(&p.v[5]);
	is_str(s, "ALTER ROLE \"app\" WITH PASSWORD '********'", "redacted "
	    "rendering hides the verifier");
	free(s);
	is_render(&p, 5, "ALTER ROLE \"app\" WITH PASSWORD "
	    "'SCRAM-SHA-256$4096:c2FsdA==$a:b'", "full rendering has it");
	st = sqlplan_add(&p, NULL, 0, "SELECT 100%%");
	is_render(&p, 6, "SELECT 100%", "%% is a percent sign");
	is_int(p.n, 7, "seven steps");
	ok(!sqlplan_failed(&p), "no failure so far");

	/* executor-provided quoting */
	buf_init(&b, 0);
	ok(sqlstep_render(&p.v[1], &custom, &b, err, sizeof(err)) == 0,
	    "render with the executor's quoting");
	is_str(buf_cstr(&b), "ALTER ROLE \"x\"\"; DROP TABLE t; --\" SET "
	    "\"search_path\" = <a'b\\c>", "literal goes through its function");
	is_int(calls, 1, "literal function called once");
	buf_reset(&b);
	ok(sqlstep_render(&p.v[0], &failing, &b, err, sizeof(err)) < 0,
	    "a failing quote function fails the render");
	buf_release(&b);

	/* refusals: nothing hostile reaches the text */
	sqlplan_init(&q);
	ok(sqlplan_add(&q, NULL, 0, "CREATE ROLE %I", "") == NULL &&
	    strstr(q.err, "must not be empty"), "empty identifier refused");
	sqlplan_clear(&q);
	memset(long64, 'a', 64);
	long64[64] = '\0';
	ok(sqlplan_add(&q, NULL, 0, "CREATE ROLE %I", long64) == NULL &&
	    strstr(q.err, "longer than 63 bytes"), "64-byte identifier "
	    "refused, not truncated");
	sqlplan_clear(&q);
	long64[63] = '\0';
	ok(sqlplan_add(&q, NULL, 0, "CREATE ROLE %I", long64) != NULL,
	    "63-byte identifier accepted");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "CREATE ROLE %I",
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9") ==
	    NULL, "32 two-byte characters (64 bytes) refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "CREATE ROLE %I", "a\xff") == NULL &&
	    strstr(q.err, "UTF-8"), "invalid UTF-8 refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "CREATE ROLE %I", "a\nb") == NULL &&
	    strstr(q.err, "control"), "control character refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "GRANT %K ON t TO x", "SELECT; DROP") ==
	    NULL && strstr(q.err, "keyword"), "keyword outside the allow-list");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "GRANT %K ON t TO x", "select") == NULL,
	    "keywords are exact");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "x %T", "int); DROP TABLE t; --") == NULL,
	    "hostile type name refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "x %T", "\"Quoted\"") == NULL,
	    "quoted type name refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "SELECT 'x'") == NULL &&
	    strstr(q.err, "not allowed"), "quote in the template refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "SELECT 1; SELECT 2") == NULL,
	    "semicolon in the template refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "SELECT %Q", "x") == NULL,
	    "unknown placeholder refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, "", 0, "SELECT 1") == NULL, "empty database "
	    "name refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "SET x = %L", "a\xc0\x80") == NULL,
	    "overlong UTF-8 in a literal refused");
	sqlplan_clear(&q);

	/* sticky failure */
	ok(sqlplan_add(&q, NULL, 0, "CREATE ROLE %I", "") == NULL, "fail once");
	ok(sqlplan_add(&q, NULL, 0, "CREATE ROLE %I", "ok") == NULL,
	    "later adds do nothing");
	is_int(q.n, 0, "no step added after the failure");
	ok(sqlplan_failed(&q), "plan failed");
	sqlplan_clear(&q);

	/* the array form */
	a[0].kind = SQLARG_IDENT;
	a[0].s = "db";
	a[1].kind = SQLARG_INT;
	a[1].i = -1;
	ok(sqlplan_addv(&q, NULL, 0, "ALTER DATABASE %I WITH CONNECTION LIMIT %d",
	    a, 2) != NULL, "addv");
	is_render(&q, 0, "ALTER DATABASE \"db\" WITH CONNECTION LIMIT -1",
	    "negative integer");
	a[1].kind = SQLARG_LITERAL;
	a[1].s = "x";
	ok(sqlplan_addv(&q, NULL, 0, "ALTER DATABASE %I WITH CONNECTION LIMIT %d",
	    a, 2) == NULL && strstr(q.err, "does not match"), "addv: kind "
	    "mismatch");
	sqlplan_clear(&q);
	ok(sqlplan_addv(&q, NULL, 0, "DROP ROLE %I", a, 2) == NULL,
	    "addv: argument count mismatch");
	sqlplan_clear(&q);

	/* move */
	sqlplan_add(&q, NULL, 0, "SELECT 1");
	sqlplan_move(&p, &q);
	is_int(p.n, 8, "moved one step");
	is_int(q.n, 0, "source emptied");
	is_render(&p, 7, "SELECT 1", "moved step renders");


	/* the MySQL dialect */
	sqlplan_init(&pg);
	buf_init(&b, 0);
	sqlstep_my_quote_ident(&b, "a`b\"c");
	is_str(buf_cstr(&b), "`a``b\"c`", "MySQL identifier: backtick doubled");
	buf_reset(&b);
	sqlstep_my_quote_literal(&b, "it's \"x\" a\\b\n\r\032");
	is_str(buf_cstr(&b), "'it\\'s \\\"x\\\" a\\\\b\\n\\r\\Z'",
	    "MySQL literal: the escapes of mysql_real_escape_string");
	buf_release(&b);
	sqlplan_init_dialect(&q, SQL_DIALECT_MYSQL);
	st = sqlplan_add(&q, NULL, 0, "GRANT %K, %K ON %I.* TO %L@%L",
	    "SELECT", "CREATE TEMPORARY TABLES", "d`b", "u'x", "%");
	ok(st != NULL && st->dialect == SQL_DIALECT_MYSQL, "MySQL step");
	is_render(&q, 0, "GRANT SELECT, CREATE TEMPORARY TABLES ON `d``b`.* TO "
	    "'u\\'x'@'%'", "MySQL rendering: backticks, escaped literal, @");
	st = sqlplan_add(&q, NULL, 0, "CREATE DATABASE %I CHARACTER SET %C "
	    "COLLATE %C", "x", "utf8mb4", "utf8mb4_0900_ai_ci");
	is_render(&q, 1, "CREATE DATABASE `x` CHARACTER SET utf8mb4 COLLATE "
	    "utf8mb4_0900_ai_ci", "character set names");
	st = sqlplan_add(&q, NULL, 0, "ALTER USER %L@%L IDENTIFIED BY %S", "u",
	    "h", "pw");
	s = sqlstep_render_redacted(&q.v[2]);
	is_str(s, "ALTER USER 'u'@'h' IDENTIFIED BY '********'", "MySQL "
	    "redacted rendering");
	free(s);
	ok(!sqlplan_failed(&q), "no failure so far");
	sqlplan_clear(&q);
	ok(q.dialect == SQL_DIALECT_MYSQL, "clear keeps the dialect");
	ok(sqlplan_add(&q, NULL, 0, "CREATE DATABASE %I CHARACTER SET %C", "x",
	    "utf8; DROP") == NULL && strstr(q.err, "character set"),
	    "hostile character set refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "GRANT %K ON x TO y", "TEMPORARY") == NULL,
	    "PostgreSQL keyword refused in a MySQL plan");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "GRANT %K ON x TO y", "SHOW VIEW") != NULL,
	    "MySQL keyword accepted");
	sqlplan_clear(&q);
	ok(sqlplan_add(&pg, NULL, 0, "GRANT %K ON x TO y", "SHOW VIEW") == NULL,
	    "MySQL keyword refused in a PostgreSQL plan");
	ok(sqlstep_my_keyword_ok("BACKUP_ADMIN") &&
	    !sqlstep_my_keyword_ok("show view"), "MySQL allow-list is exact");
	sqlplan_clear(&pg);
	ok(sqlplan_add(&q, NULL, 0, "SELECT %P", "x") == NULL &&
	    sqlplan_add(&q, NULL, 0, "SELECT %T", "int") == NULL,
	    "no %P or %T in MySQL statements");
	sqlplan_clear(&q);
	ok(sqlplan_add(&pg, NULL, 0, "SELECT %L@%L", "a", "b") == NULL,
	    "@ refused in PostgreSQL statements");
	sqlplan_clear(&pg);
	memset(long64, 'a', 64);
	long64[64] = '\0';
	ok(sqlplan_add(&q, NULL, 0, "CREATE DATABASE %I", long64) != NULL,
	    "64-character MySQL identifier accepted");
	{
		char long65[66];

		memset(long65, 'a', 65);
		long65[65] = '\0';
		ok(sqlplan_add(&q, NULL, 0, "CREATE DATABASE %I", long65) == NULL &&
		    strstr(q.err, "64 characters"), "65 characters refused");
	}
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "CREATE DATABASE %I", "a ") == NULL,
	    "trailing space refused");
	sqlplan_clear(&q);
	ok(sqlplan_add(&q, NULL, 0, "CREATE DATABASE %I",
	    "\xf0\x9f\x98\x80") == NULL, "character beyond U+FFFF refused");
	sqlplan_clear(&q);
	ok(sqlstep_my_ident_problem("a\tb") != NULL, "control character "
	    "refused");
	/* moving steps between dialects */
	sqlplan_add(&q, NULL, 0, "SELECT 1");
	{
		struct sqlplan e;

		sqlplan_init(&e);
		sqlplan_move(&e, &q);
		ok(!e.failed && e.dialect == SQL_DIALECT_MYSQL && e.n == 1,
		    "an empty plan takes the dialect of what is moved in");
		sqlplan_release(&e);
		sqlplan_add(&q, NULL, 0, "SELECT 1");
		sqlplan_init(&e);
		sqlplan_add(&e, NULL, 0, "SELECT 2");
		sqlplan_move(&e, &q);
		ok(e.failed && e.n == 1, "a step of another dialect fails the "
		    "plan");
		sqlplan_release(&e);
	}
	sqlplan_release(&pg);
	sqlplan_clear(&q);
	sqlplan_init(&q);

	/* a tampered step fails to render */
	free(p.v[0].args[0].s);
	p.v[0].args[0].s = xstrdup("");
	s = sqlstep_render_test(&p.v[0]);
	ok(s == NULL, "render re-checks arguments");
	free(s);

	ok(sqlstep_type_ok("timestamp with time zone"), "multi-word type");
	ok(sqlstep_type_ok("public.my_type[]"), "qualified array type");
	ok(sqlstep_type_ok("numeric(10,2)"), "type modifier");
	ok(!sqlstep_type_ok("numeric(10, 2)"), "spaces in modifier refused");
	ok(!sqlstep_type_ok("int  x"), "double space refused");
	ok(!sqlstep_type_ok(""), "empty type refused");
	ok(sqlstep_keyword_ok("TEMPORARY") && !sqlstep_keyword_ok("TEMP;"),
	    "keyword allow-list");

	sqlplan_release(&p);
	sqlplan_release(&q);
	return done_testing();
}
