/*
 * sqlstep.c - SQL plans with values kept apart from the text.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlstep.h"

#define TYPE_MAX 128

/* Everything %K may insert. Privilege names and object classes of GRANT,
 * REVOKE and ALTER DEFAULT PRIVILEGES. */
static const char *const keywords[] = {
	"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES",
	"TRIGGER", "MAINTAIN", "CREATE", "CONNECT", "TEMPORARY", "EXECUTE",
	"USAGE", "ALL", "ALL PRIVILEGES",
	"TABLES", "SEQUENCES", "FUNCTIONS", "ROUTINES", "TYPES", "SCHEMAS",
	"TABLE", "SEQUENCE", "FUNCTION", "SCHEMA", "DATABASE",
};

/* Everything %K may insert in a MySQL plan (see sqlstep.h). */
static const char *const my_keywords[] = {
	/* static privileges of both servers */
	"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "RELOAD",
	"SHUTDOWN", "PROCESS", "FILE", "REFERENCES", "INDEX", "ALTER",
	"SHOW DATABASES", "SUPER", "CREATE TEMPORARY TABLES", "LOCK TABLES",
	"EXECUTE", "REPLICATION SLAVE", "REPLICATION CLIENT", "CREATE VIEW",
	"SHOW VIEW", "CREATE ROUTINE", "ALTER ROUTINE", "CREATE USER",
	"EVENT", "TRIGGER", "CREATE TABLESPACE", "CREATE ROLE", "DROP ROLE",
	"DELETE HISTORY", "ALL PRIVILEGES", "USAGE",
	/* MariaDB 10.5+: what SUPER was split into */
	"BINLOG ADMIN", "BINLOG MONITOR", "BINLOG REPLAY", "CONNECTION ADMIN",
	"FEDERATED ADMIN", "READ_ONLY ADMIN", "REPLICATION MASTER ADMIN",
	"REPLICA MONITOR", "REPLICATION SLAVE ADMIN", "SET USER",
	"SLAVE MONITOR",
	/* MySQL 8 dynamic privileges */
	"APPLICATION_PASSWORD_ADMIN", "AUDIT_ADMIN", "BACKUP_ADMIN",
	"BINLOG_ADMIN", "BINLOG_ENCRYPTION_ADMIN", "CONNECTION_ADMIN",
	"ENCRYPTION_KEY_ADMIN", "FLUSH_OPTIMIZER_COSTS", "FLUSH_STATUS",
	"FLUSH_TABLES", "FLUSH_USER_RESOURCES", "GROUP_REPLICATION_ADMIN",
	"INNODB_REDO_LOG_ARCHIVE", "PASSWORDLESS_USER_ADMIN",
	"PERSIST_RO_VARIABLES_ADMIN", "REPLICATION_APPLIER",
	"REPLICATION_SLAVE_ADMIN", "RESOURCE_GROUP_ADMIN",
	"RESOURCE_GROUP_USER", "ROLE_ADMIN", "SERVICE_CONNECTION_ADMIN",
	"SESSION_VARIABLES_ADMIN", "SET_USER_ID", "SHOW_ROUTINE",
	"SYSTEM_USER", "SYSTEM_VARIABLES_ADMIN", "TABLE_ENCRYPTION_ADMIN",
	"XA_RECOVER_ADMIN",
};

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_word(int c)
{
	return is_alpha(c) || is_digit(c) || c == '_';
}

bool
sqlstep_utf8_ok(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned c = *s;
		size_t n, i;
		uint32_t cp;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return false;
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

const char *
sqlstep_ident_problem(const char *s)
{
	const unsigned char *p;

	if (s == NULL || *s == '\0')
		return "must not be empty";
	if (strlen(s) > SQLSTEP_IDENT_MAX)
		return "is longer than 63 bytes (PostgreSQL's identifier limit)";
	if (!sqlstep_utf8_ok(s))
		return "is not valid UTF-8";
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "must not contain control characters";
	return NULL;
}

const char *
sqlstep_my_ident_problem(const char *s)
{
	const unsigned char *p;
	size_t chars = 0;

	if (s == NULL || *s == '\0')
		return "must not be empty";
	if (!sqlstep_utf8_ok(s))
		return "is not valid UTF-8";
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return "must not contain control characters";
		if (*p >= 0xf0)
			return "must not contain characters beyond U+FFFF "
			    "(MySQL refuses them in identifiers)";
		if ((*p & 0xc0) != 0x80)
			chars++;
	}
	if (chars > SQLSTEP_MY_IDENT_MAX)
		return "is longer than 64 characters (MySQL's identifier limit)";
	if (p[-1] == ' ')
		return "must not end with a space (MySQL refuses it)";
	return NULL;
}

static const char *
ident_problem(enum sqldialect d, const char *s)
{
	return d == SQL_DIALECT_MYSQL ? sqlstep_my_ident_problem(s) :
	    sqlstep_ident_problem(s);
}

bool
sqlstep_my_keyword_ok(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < ARRAY_SIZE(my_keywords); i++)
		if (strcmp(my_keywords[i], s) == 0)
			return true;
	return false;
}

bool
sqlstep_charset_ok(const char *s)
{
	const char *p;

	if (s == NULL || *s == '\0')
		return false;
	for (p = s; *p; p++)
		if (!is_word((unsigned char)*p))
			return false;
	return p - s <= SQLSTEP_MY_IDENT_MAX;
}

bool
sqlstep_keyword_ok(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < ARRAY_SIZE(keywords); i++)
		if (strcmp(keywords[i], s) == 0)
			return true;
	return false;
}

/* words (. or single space separated), optional (n) or (n,m), then []* */
bool
sqlstep_type_ok(const char *s)
{
	const char *p = s;

	if (s == NULL || strlen(s) > TYPE_MAX)
		return false;
	for (;;) {
		if (!(is_alpha(*p) || *p == '_'))
			return false;
		while (is_word(*p))
			p++;
		if ((*p == ' ' || *p == '.') && (is_alpha(p[1]) || p[1] == '_')) {
			p++;
			continue;
		}
		break;
	}
	if (*p == '(') {
		p++;
		if (!is_digit(*p))
			return false;
		while (is_digit(*p))
			p++;
		if (*p == ',') {
			p++;
			if (!is_digit(*p))
				return false;
			while (is_digit(*p))
				p++;
		}
		if (*p++ != ')')
			return false;
	}
	while (p[0] == '[' && p[1] == ']')
		p += 2;
	return *p == '\0';
}

static bool
template_char_ok(int c, enum sqldialect d)
{
	return is_word(c) || c == ' ' || c == ',' || c == '(' || c == ')' ||
	    c == '=' || c == '.' || c == '*' || c == '<' || c == '>' ||
	    (c == '@' && d == SQL_DIALECT_MYSQL);
}

static const char *
arg_problem(enum sqlarg_kind kind, const char *s, enum sqldialect d)
{
	switch (kind) {
	case SQLARG_IDENT:
		return ident_problem(d, s);
	case SQLARG_LITERAL:
	case SQLARG_SECRET:
	case SQLARG_PARAM:
		if (s == NULL)
			return "is missing";
		return sqlstep_utf8_ok(s) ? NULL : "is not valid UTF-8";
	case SQLARG_KEYWORD:
		if (d == SQL_DIALECT_MYSQL)
			return sqlstep_my_keyword_ok(s) ? NULL :
			    "is not an allowed keyword";
		return sqlstep_keyword_ok(s) ? NULL : "is not an allowed keyword";
	case SQLARG_TYPE:
		return sqlstep_type_ok(s) ? NULL : "is not a plain type name";
	case SQLARG_CHARSET:
		return sqlstep_charset_ok(s) ? NULL :
		    "is not a character set or collation name";
	case SQLARG_INT:
	case SQLARG__COUNT:
		break;
	}
	return NULL;
}

static const char *const kind_names[SQLARG__COUNT] = {
	"identifier", "literal", "secret literal", "parameter", "integer",
	"keyword", "type name", "character set name",
};

void
sqlplan_init(struct sqlplan *p)
{
	memset(p, 0, sizeof(*p));
}

void
sqlplan_init_dialect(struct sqlplan *p, enum sqldialect d)
{
	sqlplan_init(p);
	p->dialect = d;
}

static void
step_release(struct sqlstep *st)
{
	size_t i;

	for (i = 0; i < st->nargs; i++) {
		if (st->args[i].kind == SQLARG_SECRET)
			free_secret(st->args[i].s);
		else
			free(st->args[i].s);
	}
	free(st->args);
	free(st->sql);
	free(st->database);
	free(st->desc);
	memset(st, 0, sizeof(*st));
}

void
sqlplan_release(struct sqlplan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		step_release(&p->v[i]);
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

void
sqlplan_clear(struct sqlplan *p)
{
	enum sqldialect d = p->dialect;

	sqlplan_release(p);
	sqlplan_init_dialect(p, d);
}

int
sqlplan_fail(struct sqlplan *p, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return -1;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return -1;
}

void
sqlplan_move(struct sqlplan *dst, struct sqlplan *src)
{
	size_t i;

	if (src->failed && !dst->failed)
		sqlplan_fail(dst, "%s", src->err);
	if (dst->n == 0 && !dst->failed)
		dst->dialect = src->dialect;
	for (i = 0; i < src->n; i++) {
		if (src->v[i].dialect != dst->dialect) {
			sqlplan_fail(dst, "internal: a step of another SQL "
			    "dialect was moved into the plan");
			step_release(&src->v[i]);
			continue;
		}
		if (dst->n == dst->cap) {
			dst->cap = dst->cap ? dst->cap * 2 : 8;
			dst->v = xrealloc(dst->v, dst->cap * sizeof(*dst->v));
		}
		dst->v[dst->n++] = src->v[i];
	}
	free(src->v);
	src->v = NULL;
	src->n = src->cap = 0;
}

static void
add_arg(struct sqlstep *st, size_t *cap, enum sqlarg_kind kind,
    const char *s, int i)
{
	if (st->nargs == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		st->args = xrealloc(st->args, *cap * sizeof(*st->args));
	}
	st->args[st->nargs].kind = kind;
	/* an integer's string is never read: callers may leave it unset */
	st->args[st->nargs].s = kind == SQLARG_INT ? NULL : xstrdup(s);
	st->args[st->nargs].i = i;
	st->nargs++;
}

static int
kind_of(char c, enum sqlarg_kind *k)
{
	switch (c) {
	case 'I': *k = SQLARG_IDENT; return 0;
	case 'L': *k = SQLARG_LITERAL; return 0;
	case 'S': *k = SQLARG_SECRET; return 0;
	case 'P': *k = SQLARG_PARAM; return 0;
	case 'd': *k = SQLARG_INT; return 0;
	case 'K': *k = SQLARG_KEYWORD; return 0;
	case 'T': *k = SQLARG_TYPE; return 0;
	case 'C': *k = SQLARG_CHARSET; return 0;
	default: return -1;
	}
}

/* Checks the constant text; returns NULL or a reason. */
static const char *
template_problem(const char *fmt, enum sqldialect d)
{
	const char *p;
	enum sqlarg_kind k;

	if (fmt == NULL || *fmt == '\0')
		return "empty statement";
	for (p = fmt; *p; p++) {
		if (*p == '%') {
			if (p[1] == '%') {
				p++;
				continue;
			}
			if (kind_of(p[1], &k) < 0)
				return "unknown placeholder";
			if (d == SQL_DIALECT_MYSQL &&
			    (k == SQLARG_PARAM || k == SQLARG_TYPE))
				return "placeholder not available in MySQL "
				    "statements";
			p++;
			continue;
		}
		if (!template_char_ok((unsigned char)*p, d))
			return "character not allowed in statement text";
	}
	return NULL;
}

struct sqlstep *
sqlplan_addv(struct sqlplan *p, const char *database, unsigned flags,
    const char *fmt, const struct sqlarg *args, size_t n)
{
	struct sqlstep st;
	size_t cap = 0, ai = 0;
	const char *q, *why;

	if (p->failed)
		return NULL;
	if ((why = template_problem(fmt, p->dialect)) != NULL) {
		sqlplan_fail(p, "internal: bad statement template \"%s\": %s",
		    fmt ? fmt : "", why);
		return NULL;
	}
	if (database != NULL && (why = ident_problem(p->dialect, database))) {
		sqlplan_fail(p, "database name %s", why);
		return NULL;
	}
	memset(&st, 0, sizeof(st));
	for (q = fmt; *q; q++) {
		enum sqlarg_kind k;
		const struct sqlarg *a;

		if (*q != '%')
			continue;
		if (*++q == '%')
			continue;
		(void)kind_of(*q, &k);
		if (ai >= n || args[ai].kind != k) {
			sqlplan_fail(p, "internal: argument %zu of \"%s\" "
			    "does not match its placeholder", ai + 1, fmt);
			step_release(&st);
			return NULL;
		}
		a = &args[ai++];
		if ((why = arg_problem(k, a->s, p->dialect)) != NULL) {
			bool hide = k == SQLARG_SECRET;

			sqlplan_fail(p, "%s %s%s%s %s", kind_names[k],
			    hide ? "" : "\"",
			    hide ? "(hidden)" : a->s ? a->s : "",
			    hide ? "" : "\"", why);
			step_release(&st);
			return NULL;
		}
		add_arg(&st, &cap, k, a->s, a->i);
	}
	if (ai != n) {
		sqlplan_fail(p, "internal: %zu arguments for \"%s\", which has "
		    "%zu placeholders", n, fmt, ai);
		step_release(&st);
		return NULL;
	}
	st.sql = xstrdup(fmt);
	st.database = xstrdup(database);
	st.flags = flags;
	st.dialect = p->dialect;
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 8;
		p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	p->v[p->n] = st;
	return &p->v[p->n++];
}

#define ADD_MAX_ARGS 32

struct sqlstep *
sqlplan_add(struct sqlplan *p, const char *database, unsigned flags,
    const char *fmt, ...)
{
	struct sqlarg args[ADD_MAX_ARGS];
	size_t n = 0;
	const char *q, *why;
	va_list ap;

	if (p->failed)
		return NULL;
	if ((why = template_problem(fmt, p->dialect)) != NULL) {
		sqlplan_fail(p, "internal: bad statement template \"%s\": %s",
		    fmt ? fmt : "", why);
		return NULL;
	}
	va_start(ap, fmt);
	for (q = fmt; *q; q++) {
		enum sqlarg_kind k;

		if (*q != '%')
			continue;
		if (*++q == '%')
			continue;
		if (n == ADD_MAX_ARGS) {
			va_end(ap);
			sqlplan_fail(p, "internal: too many arguments for "
			    "sqlplan_add (use sqlplan_addv)");
			return NULL;
		}
		(void)kind_of(*q, &k);
		args[n].kind = k;
		args[n].s = NULL;
		args[n].i = 0;
		if (k == SQLARG_INT)
			args[n].i = va_arg(ap, int);
		else
			args[n].s = (char *)va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	return sqlplan_addv(p, database, flags, fmt, args, n);
}

void
sqlstep_describe(struct sqlstep *st, const char *fmt, ...)
{
	va_list ap;

	if (st == NULL)
		return;
	free(st->desc);
	va_start(ap, fmt);
	st->desc = xvasprintf(fmt, ap);
	va_end(ap);
}

/* ---- rendering ------------------------------------------------------ */

static int
put(struct buf *b, const char *s, size_t n)
{
	return buf_append(b, s, n);
}

void
sqlstep_quote_ident(struct buf *out, const char *s)
{
	int r = buf_putc(out, '"');

	for (; *s && r == 0; s++) {
		if (*s == '"')
			r = buf_putc(out, '"');
		if (r == 0)
			r = buf_putc(out, *s);
	}
	if (r == 0)
		r = buf_putc(out, '"');
	(void)r;		/* an uncapped buffer cannot fail */
}

void
sqlstep_quote_literal(struct buf *out, const char *s)
{
	int r = 0;
	const char *p;

	if (strchr(s, '\\') != NULL)
		r = buf_putc(out, 'E');
	if (r == 0)
		r = buf_putc(out, '\'');
	for (p = s; *p && r == 0; p++) {
		if (*p == '\'' || *p == '\\')
			r = buf_putc(out, *p);
		if (r == 0)
			r = buf_putc(out, *p);
	}
	if (r == 0)
		r = buf_putc(out, '\'');
	(void)r;
}

static int
pg_ident(void *ctx, const char *s, struct buf *out)
{
	size_t before = out->len;

	sqlstep_quote_ident(out, s);
	return out->len > before ? 0 : -1;
}

static int
pg_literal(void *ctx, const char *s, struct buf *out)
{
	size_t before = out->len;

	sqlstep_quote_literal(out, s);
	return out->len > before ? 0 : -1;
}

const struct sqlquote sqlstep_pg_quote = { NULL, pg_ident, pg_literal };

void
sqlstep_my_quote_ident(struct buf *out, const char *s)
{
	int r = buf_putc(out, '`');

	for (; *s && r == 0; s++) {
		if (*s == '`')
			r = buf_putc(out, '`');
		if (r == 0)
			r = buf_putc(out, *s);
	}
	if (r == 0)
		r = buf_putc(out, '`');
	(void)r;		/* an uncapped buffer cannot fail */
}

void
sqlstep_my_quote_literal(struct buf *out, const char *s)
{
	int r = buf_putc(out, '\'');

	for (; *s && r == 0; s++) {
		switch (*s) {
		case '\\':
		case '\'':
		case '"':
			r = buf_putc(out, '\\');
			if (r == 0)
				r = buf_putc(out, *s);
			break;
		case '\n':
			r = buf_puts(out, "\\n");
			break;
		case '\r':
			r = buf_puts(out, "\\r");
			break;
		case '\032':
			r = buf_puts(out, "\\Z");
			break;
		default:
			r = buf_putc(out, *s);
			break;
		}
	}
	if (r == 0)
		r = buf_putc(out, '\'');
	(void)r;
}

static int
my_ident(void *ctx, const char *s, struct buf *out)
{
	size_t before = out->len;

	sqlstep_my_quote_ident(out, s);
	return out->len > before ? 0 : -1;
}

static int
my_literal(void *ctx, const char *s, struct buf *out)
{
	size_t before = out->len;

	sqlstep_my_quote_literal(out, s);
	return out->len > before ? 0 : -1;
}

const struct sqlquote sqlstep_my_quote = { NULL, my_ident, my_literal };

static const struct sqlquote *
test_quote(const struct sqlstep *st)
{
	return st->dialect == SQL_DIALECT_MYSQL ? &sqlstep_my_quote :
	    &sqlstep_pg_quote;
}

static int
redacted_literal(void *ctx, const char *s, struct buf *out)
{
	return buf_puts(out, "'********'");
}

static int
render(const struct sqlstep *st, const struct sqlquote *q,
    const struct sqlquote *secret_q, struct buf *out, char *err,
    size_t errlen)
{
	const char *p, *why;
	size_t ai = 0, np = 0;
	int r = 0;

	if ((why = template_problem(st->sql, st->dialect)) != NULL) {
		snprintf(err, errlen, "statement template: %s", why);
		return -1;
	}
	for (p = st->sql; *p && r == 0; p++) {
		const struct sqlarg *a;
		enum sqlarg_kind k;

		if (*p != '%') {
			r = put(out, p, 1);
			continue;
		}
		if (*++p == '%') {
			r = buf_putc(out, '%');
			continue;
		}
		(void)kind_of(*p, &k);
		if (ai >= st->nargs || st->args[ai].kind != k) {
			snprintf(err, errlen, "argument %zu does not match the "
			    "template", ai + 1);
			return -1;
		}
		a = &st->args[ai++];
		if ((why = arg_problem(k, a->s, st->dialect)) != NULL) {
			snprintf(err, errlen, "%s %s", kind_names[k], why);
			return -1;
		}
		switch (k) {
		case SQLARG_IDENT:
			r = q->ident(q->ctx, a->s, out);
			break;
		case SQLARG_LITERAL:
			r = q->literal(q->ctx, a->s, out);
			break;
		case SQLARG_SECRET:
			r = secret_q->literal(secret_q->ctx, a->s, out);
			break;
		case SQLARG_PARAM:
			r = buf_printf(out, "$%zu", ++np);
			break;
		case SQLARG_INT:
			r = buf_printf(out, "%d", a->i);
			break;
		case SQLARG_KEYWORD:
		case SQLARG_TYPE:
		case SQLARG_CHARSET:
			r = buf_puts(out, a->s);
			break;
		case SQLARG__COUNT:
			r = -1;
			break;
		}
	}
	if (r == 0 && ai != st->nargs) {
		snprintf(err, errlen, "%zu arguments left over", st->nargs - ai);
		return -1;
	}
	if (r != 0) {
		snprintf(err, errlen, "quoting failed or statement too long");
		return -1;
	}
	return 0;
}

int
sqlstep_render(const struct sqlstep *st, const struct sqlquote *q,
    struct buf *out, char *err, size_t errlen)
{
	return render(st, q, q, out, err, errlen);
}

char *
sqlstep_render_test(const struct sqlstep *st)
{
	struct buf b = BUF_INIT(0);
	char err[128];

	if (render(st, test_quote(st), test_quote(st), &b, err,
	    sizeof(err)) < 0) {
		buf_release_secret(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

char *
sqlstep_render_redacted(const struct sqlstep *st)
{
	struct sqlquote redacted = { NULL, test_quote(st)->ident,
	    redacted_literal };
	struct buf b = BUF_INIT(0);
	char err[128];

	if (render(st, test_quote(st), &redacted, &b, err,
	    sizeof(err)) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

size_t
sqlstep_params(const struct sqlstep *st, const char **vals, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < st->nargs; i++)
		if (st->args[i].kind == SQLARG_PARAM) {
			if (n < max)
				vals[n] = st->args[i].s;
			n++;
		}
	return n;
}

bool
sqlstep_has_secret(const struct sqlstep *st)
{
	size_t i;

	for (i = 0; i < st->nargs; i++)
		if (st->args[i].kind == SQLARG_SECRET)
			return true;
	return false;
}
