/*
 * myplan.c - MySQL and MariaDB planners: (wanted spec, observed server
 * state) -> SQL.
 *
 * Layout: server flavour; observation queries and row loaders; planner
 * context and shared checks; Database; DatabaseUser; DatabaseRole;
 * privileges (DatabaseGrant, DatabaseRole grants) with the applied set.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "buf.h"
#include "myplan.h"

#define ACCOUNT_NAME_MAX 32	/* characters: MySQL's user name limit */
#define HOST_MAX 255		/* bytes: MySQL 8's host name limit */

/* ==== the server ===================================================== */

const char MYPLAN_Q_SERVER[] = "SELECT VERSION(), @@version_comment";

/* Appends a query whose placeholders are all %L (one const char * each);
 * an empty plan becomes a MySQL plan. Returns 0, or -1 (q failed). */
static int
myq_add(struct sqlplan *q, const char *fmt, ...)
{
	struct sqlarg a[16];
	size_t n = 0;
	const char *p;
	va_list ap;

	if (q->n == 0 && !q->failed)
		q->dialect = SQL_DIALECT_MYSQL;
	va_start(ap, fmt);
	for (p = fmt; *p; p++)
		if (p[0] == '%' && p[1] == 'L' && n < ARRAY_SIZE(a)) {
			a[n].kind = SQLARG_LITERAL;
			a[n].s = (char *)va_arg(ap, const char *);
			a[n].i = 0;
			n++;
		}
	va_end(ap);
	return sqlplan_addv(q, NULL, 0, fmt, a, n) ? 0 : -1;
}

int
myplan_q_server(struct sqlplan *q)
{
	return myq_add(q, MYPLAN_Q_SERVER);
}

static bool
has_word(const char *s, const char *w)
{
	size_t n = strlen(w);

	for (; s && *s; s++)
		if (strncasecmp(s, w, n) == 0)
			return true;
	return false;
}

int
myplan_server_parse(struct myplan_server *s, const char *version,
    const char *comment)
{
	const char *v = version;
	long part[3] = { 0, 0, 0 };
	int i;
	char *end;

	if (v == NULL)
		return -1;
	s->flavour = has_word(version, "MariaDB") || has_word(comment,
	    "MariaDB") ? MYPLAN_MARIADB : MYPLAN_MYSQL;
	/* the replication handshake form "5.5.5-10.6.16-MariaDB" */
	if (s->flavour == MYPLAN_MARIADB && strncmp(v, "5.5.5-", 6) == 0)
		v += 6;
	/* major.minor[.patch], each part 0..99 */
	for (i = 0; i < 3; i++) {
		if (i == 2 && *v != '.')
			break;
		if (i > 0) {
			if (*v != '.')
				return -1;
			v++;
		}
		if (!isdigit((unsigned char)*v))
			return -1;
		errno = 0;
		part[i] = strtol(v, &end, 10);
		if (errno != 0 || part[i] > 99 || end - v > 2)
			return -1;
		v = end;
	}
	if (part[0] == 0)
		return -1;
	s->version = (int)(part[0] * 10000 + part[1] * 100 + part[2]);
	return 0;
}

int
myplan_server_row(struct myplan_server *s, const char *const *col, int ncol)
{
	if (ncol != 2)
		return -1;
	return myplan_server_parse(s, col[0], col[1]);
}

static bool
mariadb(const struct myplan_server *s)
{
	return s->flavour == MYPLAN_MARIADB;
}

/* ==== observation queries and row loaders ============================ */

static int
parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "Y"/"N", "YES"/"NO", "true"/"false", "1"/"0"; NULL is false. */
static int
parse_flag(const char *s, bool *out)
{
	static const char *const yes[] = { "Y", "YES", "true", "1" };
	static const char *const no[] = { "N", "NO", "false", "0", "" };
	size_t i;

	*out = false;
	if (s == NULL)
		return 0;
	for (i = 0; i < ARRAY_SIZE(yes); i++)
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
	for (i = 0; i < ARRAY_SIZE(no); i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return -1;
}


static char *
upper_dup(const char *s)
{
	char *d = xstrdup(s), *p;

	for (p = d; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return d;
}

void
myplan_obs_database_init(struct myplan_obs_database *o)
{
	memset(o, 0, sizeof(*o));
}

void
myplan_obs_database_release(struct myplan_obs_database *o)
{
	free(o->charset);
	free(o->collation);
	myplan_obs_database_init(o);
}

int
myplan_q_database(struct sqlplan *q, const char *name)
{
	return myq_add(q, "SELECT DEFAULT_CHARACTER_SET_NAME, "
	    "DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
	    "WHERE SCHEMA_NAME = %L", name);
}

int
myplan_obs_database_row(struct myplan_obs_database *o,
    const char *const *col, int ncol)
{
	if (ncol != 2 || col[0] == NULL || col[1] == NULL)
		return -1;
	free(o->charset);
	free(o->collation);
	o->charset = xstrdup(col[0]);
	o->collation = xstrdup(col[1]);
	o->exists = true;
	return 0;
}

void
myplan_obs_user_init(struct myplan_obs_user *o,
    const struct myplan_server *server)
{
	memset(o, 0, sizeof(*o));
	if (server != NULL)
		o->server = *server;
}

void
myplan_obs_user_release(struct myplan_obs_user *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		struct myplan_obs_account *a = &o->v[i];

		free(a->host);
		free(a->plugin);
		free(a->ssl_type);
		myplan_privset_release(&a->held);
		api_strv_release(&a->default_roles);
	}
	free(o->v);
	o->v = NULL;
	o->n = 0;
}

static struct myplan_obs_account *
account_mut(const struct myplan_obs_user *o, const char *host)
{
	size_t i;

	for (i = 0; o && host && i < o->n; i++)
		if (strcasecmp(o->v[i].host, host) == 0)
			return &o->v[i];
	return NULL;
}

const struct myplan_obs_account *
myplan_obs_account(const struct myplan_obs_user *o, const char *host)
{
	return account_mut(o, host);
}

int
myplan_q_accounts(struct sqlplan *q, const struct myplan_server *s,
    const char *user)
{
	if (mariadb(s))
		return myq_add(q, "SELECT u.Host, u.plugin, u.max_questions, "
		    "u.max_updates, u.max_connections, u.max_user_connections, "
		    "u.ssl_type, COALESCE(JSON_VALUE(g.Priv, %L), %L), "
		    "u.password_expired, u.is_role, %L, %L FROM mysql.user u "
		    "LEFT JOIN mysql.global_priv g ON g.Host = u.Host AND "
		    "g.User = u.User WHERE u.User = %L ORDER BY u.Host",
		    "$.account_locked", "false", "0", "0", user);
	if (s->version >= 80019)
		return myq_add(q, "SELECT Host, plugin, max_questions, "
		    "max_updates, max_connections, max_user_connections, "
		    "ssl_type, account_locked, password_expired, %L, "
		    "COALESCE(JSON_EXTRACT(User_attributes, %L), 0), "
		    "COALESCE(JSON_EXTRACT(User_attributes, %L), 0) "
		    "FROM mysql.user WHERE User = %L ORDER BY Host", "N",
		    "$.Password_locking.failed_login_attempts",
		    "$.Password_locking.password_lock_time_days", user);
	return myq_add(q, "SELECT Host, plugin, max_questions, max_updates, "
	    "max_connections, max_user_connections, ssl_type, account_locked, "
	    "password_expired, %L, %L, %L FROM mysql.user WHERE User = %L "
	    "ORDER BY Host", "N", "0", "0", user);
}

int
myplan_obs_account_row(struct myplan_obs_user *o, const char *const *col,
    int ncol)
{
	struct myplan_obs_account a;

	if (ncol != 12 || col[0] == NULL || account_mut(o, col[0]) != NULL)
		return -1;
	memset(&a, 0, sizeof(a));
	if (parse_ll(col[2], 0, LLONG_MAX, &a.max_queries) < 0 ||
	    parse_ll(col[3], 0, LLONG_MAX, &a.max_updates) < 0 ||
	    parse_ll(col[4], 0, LLONG_MAX, &a.max_connections) < 0 ||
	    parse_ll(col[5], 0, LLONG_MAX, &a.max_user_connections) < 0 ||
	    parse_flag(col[7], &a.locked) < 0 ||
	    parse_flag(col[8], &a.password_expired) < 0 ||
	    parse_flag(col[9], &a.is_role) < 0 ||
	    parse_ll(col[10], -1, INT_MAX, &a.failed_login_attempts) < 0 ||
	    parse_ll(col[11], -1, INT_MAX, &a.password_lock_time) < 0)
		return -1;
	a.host = xstrdup(col[0]);
	a.plugin = xstrdup(col[1] ? col[1] : "");
	a.ssl_type = upper_dup(col[6] ? col[6] : "");
	o->v = xrealloc(o->v, (o->n + 1) * sizeof(*o->v));
	o->v[o->n++] = a;
	return 0;
}

int
myplan_q_roles(struct sqlplan *q, const struct myplan_server *s,
    const char *user)
{
	if (mariadb(s))
		return myq_add(q, "SELECT r.Host, r.Role, %L, r.Admin_option, "
		    "COALESCE(u.default_role = r.Role, 0) FROM "
		    "mysql.roles_mapping r LEFT JOIN mysql.user u ON "
		    "u.Host = r.Host AND u.User = r.User WHERE r.User = %L "
		    "ORDER BY 1, 2", "", user);
	return myq_add(q, "SELECT e.TO_HOST, e.FROM_USER, e.FROM_HOST, "
	    "e.WITH_ADMIN_OPTION, EXISTS (SELECT 1 FROM mysql.default_roles d "
	    "WHERE d.HOST = e.TO_HOST AND d.USER = e.TO_USER AND "
	    "d.DEFAULT_ROLE_USER = e.FROM_USER AND d.DEFAULT_ROLE_HOST = "
	    "e.FROM_HOST) FROM mysql.role_edges e WHERE e.TO_USER = %L "
	    "ORDER BY 1, 2", user);
}

int
myplan_obs_role_row(struct myplan_obs_user *o, const char *const *col,
    int ncol)
{
	struct myplan_obs_account *a;
	struct myplan_priv p;
	bool admin, def;

	if (ncol != 5 || col[0] == NULL || col[1] == NULL || col[2] == NULL ||
	    parse_flag(col[3], &admin) < 0 || parse_flag(col[4], &def) < 0)
		return -1;
	if ((a = account_mut(o, col[0])) == NULL ||
	    (strcmp(col[2], "%") != 0 && col[2][0] != '\0'))
		return 0;
	memset(&p, 0, sizeof(p));
	p.obj = MYPLAN_OBJ_ROLE;
	p.name = (char *)col[1];
	p.grant_option = admin;
	myplan_privset_add(&a->held, &p);
	if (def && !api_strv_contains(&a->default_roles, col[1]))
		api_strv_push(&a->default_roles, col[1]);
	return 0;
}

static char *
grantee_string(const char *user, const char *host)
{
	return xasprintf("'%s'@'%s'", user, host);
}

int
myplan_q_privileges(struct sqlplan *q, const char *user, const char *host)
{
	char *g = grantee_string(user ? user : "", host ? host : "");
	int r;

	r = myq_add(q, "SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM "
	    "information_schema.USER_PRIVILEGES WHERE GRANTEE = %L", g);
	r |= myq_add(q, "SELECT TABLE_SCHEMA, PRIVILEGE_TYPE, IS_GRANTABLE FROM "
	    "information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = %L", g);
	r |= myq_add(q, "SELECT TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE, "
	    "IS_GRANTABLE FROM information_schema.TABLE_PRIVILEGES WHERE "
	    "GRANTEE = %L", g);
	r |= myq_add(q, "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, "
	    "PRIVILEGE_TYPE, IS_GRANTABLE FROM "
	    "information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = %L", g);
	r |= myq_add(q, "SELECT Db, Routine_name, Routine_type, Proc_priv FROM "
	    "mysql.procs_priv WHERE User = %L AND Host = %L", user, host);
	free(g);
	return r ? -1 : 0;
}

static void
held_add(struct myplan_obs_account *a, enum myplan_obj obj, const char *db,
    const char *name, const char *column, const char *priv, bool go)
{
	struct myplan_priv p;
	char *up = upper_dup(priv);

	if (strcmp(up, "USAGE") != 0) {
		memset(&p, 0, sizeof(p));
		p.obj = obj;
		p.database = (char *)db;
		p.name = (char *)name;
		p.column = (char *)column;
		p.privilege = up;
		p.grant_option = go;
		myplan_privset_add(&a->held, &p);
	}
	free(up);
}

int
myplan_obs_priv_row(struct myplan_obs_user *o, const char *host,
    enum myplan_privq which, const char *const *col, int ncol)
{
	static const int want_cols[MYPLAN_PRIVQ__COUNT] = { 2, 3, 4, 5, 4 };
	struct myplan_obs_account *a = account_mut(o, host);
	bool go = false;
	int i;

	if (a == NULL || (unsigned)which >= MYPLAN_PRIVQ__COUNT ||
	    ncol != want_cols[which])
		return -1;
	for (i = 0; i < ncol; i++)
		if (col[i] == NULL)
			return -1;
	if (which != MYPLAN_PRIVQ_ROUTINE &&
	    parse_flag(col[ncol - 1], &go) < 0)
		return -1;
	switch (which) {
	case MYPLAN_PRIVQ_GLOBAL:
		held_add(a, MYPLAN_OBJ_GLOBAL, NULL, NULL, NULL, col[0], go);
		break;
	case MYPLAN_PRIVQ_DATABASE:
		held_add(a, MYPLAN_OBJ_DATABASE, col[0], NULL, NULL, col[1], go);
		break;
	case MYPLAN_PRIVQ_TABLE:
		held_add(a, MYPLAN_OBJ_TABLE, col[0], col[1], NULL, col[2], go);
		break;
	case MYPLAN_PRIVQ_COLUMN:
		held_add(a, MYPLAN_OBJ_COLUMN, col[0], col[1], col[2], col[3],
		    go);
		break;
	case MYPLAN_PRIVQ_ROUTINE: {
		enum myplan_obj obj;
		char *set, *tok, *save = NULL;

		if (strcasecmp(col[2], "PROCEDURE") == 0)
			obj = MYPLAN_OBJ_PROCEDURE;
		else if (strcasecmp(col[2], "FUNCTION") == 0)
			obj = MYPLAN_OBJ_FUNCTION;
		else
			return 0;	/* MariaDB packages: not managed */
		/* Proc_priv is a SET: "Execute,Alter Routine,Grant" */
		set = xstrdup(col[3]);
		for (tok = strtok_r(set, ",", &save); tok;
		    tok = strtok_r(NULL, ",", &save))
			if (strcasecmp(tok, "Grant") == 0)
				go = true;
		free(set);
		set = xstrdup(col[3]);
		for (tok = strtok_r(set, ",", &save); tok;
		    tok = strtok_r(NULL, ",", &save))
			if (strcasecmp(tok, "Grant") != 0)
				held_add(a, obj, col[0], col[1], NULL, tok, go);
		free(set);
		break;
	}
	case MYPLAN_PRIVQ__COUNT:
		return -1;
	}
	return 0;
}

/* ==== planner context and shared checks ============================== */

struct pctx {
	struct sqlplan plan;	/* local; moved to the caller on success */
	const struct myplan_server *server;
	char *err;
	size_t errlen;
	bool failed;
};

static void
pctx_init(struct pctx *c, const struct myplan_server *server, char *err,
    size_t errlen)
{
	sqlplan_init_dialect(&c->plan, SQL_DIALECT_MYSQL);
	c->server = server;
	c->err = err;
	c->errlen = errlen;
	c->failed = false;
	if (errlen)
		err[0] = '\0';
}

static int pfail(struct pctx *c, const char *fmt, ...) DBP_PRINTF(2, 3);

static int
pfail(struct pctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed)
		return -1;
	c->failed = true;
	if (c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
pctx_finish(struct pctx *c, struct sqlplan *out)
{
	if (!c->failed && c->plan.failed)
		pfail(c, "%s", c->plan.err);
	if (c->failed) {
		sqlplan_release(&c->plan);
		return -1;
	}
	sqlplan_move(out, &c->plan);
	return 0;
}

static bool
check_ident(struct pctx *c, const char *path, const char *s)
{
	const char *why = sqlstep_my_ident_problem(s);

	if (why == NULL)
		return true;
	pfail(c, "%s: %s", path, why);
	return false;
}

static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static bool
no_controls(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* A user or role name (the user part of an account): a literal. */
static bool
check_account_name(struct pctx *c, const char *path, const char *s)
{
	if (s == NULL || *s == '\0')
		return pfail(c, "%s: must not be empty", path), false;
	if (!sqlstep_utf8_ok(s) || !no_controls(s))
		return pfail(c, "%s: must be UTF-8 without control characters",
		    path), false;
	if (utf8_chars(s) > ACCOUNT_NAME_MAX)
		return pfail(c, "%s: is longer than %d characters (MySQL's "
		    "user name limit)", path, ACCOUNT_NAME_MAX), false;
	return true;
}

static bool
check_host(struct pctx *c, const char *path, const char *s)
{
	if (s == NULL || *s == '\0')
		return pfail(c, "%s: must not be empty", path), false;
	if (!sqlstep_utf8_ok(s) || !no_controls(s))
		return pfail(c, "%s: must be UTF-8 without control characters",
		    path), false;
	if (strlen(s) > HOST_MAX)
		return pfail(c, "%s: is longer than %d bytes (MySQL's host "
		    "name limit)", path, HOST_MAX), false;
	return true;
}

static bool
empty(const char *s)
{
	return s == NULL || *s == '\0';
}

static void
bputs(struct buf *b, const char *s)
{
	if (buf_puts(b, s) != 0)
		die_oom();
}

static void bprintf(struct buf *b, const char *fmt, ...) DBP_PRINTF(2, 3);

static void
bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	bputs(b, s);
	free(s);
}

/* A statement under construction: template text, arguments, event text. */
struct sb {
	struct buf fmt;
	struct buf desc;
	struct sqlarg *a;
	size_t n, cap;
};

static void
sb_init(struct sb *b)
{
	memset(b, 0, sizeof(*b));
	buf_init(&b->fmt, 0);
	buf_init(&b->desc, 0);
}

static void
sb_release(struct sb *b)
{
	buf_release(&b->fmt);
	buf_release(&b->desc);
	free(b->a);
}

static void
sb_arg(struct sb *b, const char *text, enum sqlarg_kind kind, const char *s,
    int i)
{
	bputs(&b->fmt, text);
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->a = xrealloc(b->a, b->cap * sizeof(*b->a));
	}
	b->a[b->n].kind = kind;
	b->a[b->n].s = (char *)s;
	b->a[b->n].i = i;
	b->n++;
}

/* 'user'@'host', or 'role' alone (a MariaDB role has no host part). */
struct acct {
	const char *user;
	const char *host;	/* NULL for a MariaDB role */
};

static void
sb_acct(struct sb *b, const char *text, const struct acct *a)
{
	sb_arg(b, text, SQLARG_LITERAL, a->user, 0);
	if (a->host != NULL) {
		sb_arg(b, "@%L", SQLARG_LITERAL, a->host, 0);
		bprintf(&b->desc, "'%s'@'%s'", a->user, a->host);
	} else
		bprintf(&b->desc, "'%s'", a->user);
}

/* Adds the statement (a NULL step on failure is caught at the end). */
static void
sb_add(struct pctx *c, struct sb *b)
{
	sqlstep_describe(sqlplan_addv(&c->plan, NULL, 0, buf_cstr(&b->fmt),
	    b->a, b->n), "%s", buf_cstr(&b->desc));
	sb_release(b);
	sb_init(b);
}

/* ==== Database ======================================================= */

static const char *const system_schemas[] = {
	"mysql", "information_schema", "performance_schema", "sys",
};

/* utf8 is an alias of utf8mb3 (MySQL 8.0.30+ reports utf8mb3). */
static const char *
charset_canon(const char *s)
{
	if (strcasecmp(s, "utf8") == 0)
		return "utf8mb3";
	return s;
}

static bool
same_charset(const char *a, const char *b)
{
	return strcasecmp(charset_canon(a), charset_canon(b)) == 0;
}

/* utf8_general_ci and utf8mb3_general_ci are the same collation. */
static bool
same_collation(const char *a, const char *b)
{
	if (strncasecmp(a, "utf8_", 5) == 0 && strncasecmp(b, "utf8mb3_", 8) == 0)
		return strcasecmp(a + 5, b + 8) == 0;
	if (strncasecmp(b, "utf8_", 5) == 0 && strncasecmp(a, "utf8mb3_", 8) == 0)
		return strcasecmp(b + 5, a + 8) == 0;
	return strcasecmp(a, b) == 0;
}

/* Every collation name starts with its character set and '_' (binary's
 * only collation is binary). */
static bool
collation_of(const char *collation, const char *charset)
{
	size_t n = strlen(charset);

	if (strcasecmp(charset, "binary") == 0)
		return strcasecmp(collation, "binary") == 0;
	if (strncasecmp(collation, charset, n) == 0 && collation[n] == '_')
		return true;
	if (strcasecmp(charset_canon(charset), "utf8mb3") == 0)
		return strncasecmp(collation, "utf8_", 5) == 0 ||
		    strncasecmp(collation, "utf8mb3_", 8) == 0;
	return false;
}

static bool
check_database_spec(struct pctx *c, const struct api_database_spec *w)
{
	const struct api_my_database *m = &w->mysql;

	if (!check_ident(c, "spec.name", w->name))
		return false;
	if (w->postgres.set)
		return pfail(c, "spec.postgres: PostgreSQL options are not "
		    "supported by a MySQL instance; use spec.mysql"), false;
	if (!m->set)
		return true;
	if (m->charset && !sqlstep_charset_ok(m->charset))
		return pfail(c, "spec.mysql.charset: must be a character set "
		    "name (letters, digits, '_')"), false;
	if (m->collation && !sqlstep_charset_ok(m->collation))
		return pfail(c, "spec.mysql.collation: must be a collation "
		    "name (letters, digits, '_')"), false;
	if (m->charset && m->collation &&
	    !collation_of(m->collation, m->charset))
		return pfail(c, "spec.mysql.collation: %s is not a collation "
		    "of character set %s", m->collation, m->charset), false;
	if (!empty(m->sql_mode))
		return pfail(c, "spec.mysql.sqlMode: MySQL has no per-database "
		    "SQL mode (it is a session or global setting); remove the "
		    "field"), false;
	if (!empty(m->default_storage_engine) &&
	    strcasecmp(m->default_storage_engine, "InnoDB") != 0)
		return pfail(c, "spec.mysql.defaultStorageEngine: MySQL has no "
		    "per-database storage engine; only InnoDB (the default) "
		    "is accepted"), false;
	return true;
}

int
mysqlplan_database(const struct api_database_spec *want,
    const struct myplan_obs_database *obs, struct sqlplan *out, char *err,
    size_t errlen)
{
	const struct api_my_database *m = &want->mysql;
	struct pctx c;
	struct sb b;

	pctx_init(&c, NULL, err, errlen);
	if (!check_database_spec(&c, want))
		return pctx_finish(&c, out);
	sb_init(&b);
	if (!obs->exists) {
		sb_arg(&b, "CREATE DATABASE %I", SQLARG_IDENT, want->name, 0);
		bprintf(&b.desc, "created database %s", want->name);
		if (m->set && m->charset)
			sb_arg(&b, " CHARACTER SET %C", SQLARG_CHARSET,
			    m->charset, 0);
		if (m->set && m->collation)
			sb_arg(&b, " COLLATE %C", SQLARG_CHARSET, m->collation,
			    0);
		sb_add(&c, &b);
	} else if (m->set) {
		bool cs = m->charset && (obs->charset == NULL ||
		    !same_charset(m->charset, obs->charset));
		bool co = m->collation && (cs || obs->collation == NULL ||
		    !same_collation(m->collation, obs->collation));

		if (cs || co) {
			sb_arg(&b, "ALTER DATABASE %I", SQLARG_IDENT, want->name,
			    0);
			bprintf(&b.desc, "changed database %s to", want->name);
			if (cs) {
				sb_arg(&b, " CHARACTER SET %C", SQLARG_CHARSET,
				    m->charset, 0);
				bprintf(&b.desc, " character set %s", m->charset);
			}
			if (co) {
				sb_arg(&b, " COLLATE %C", SQLARG_CHARSET,
				    m->collation, 0);
				bprintf(&b.desc, " collation %s", m->collation);
			}
			sb_add(&c, &b);
		}
	}
	sb_release(&b);
	return pctx_finish(&c, out);
}

int
mysqlplan_database_drop(const char *name, struct sqlplan *out, char *err,
    size_t errlen)
{
	struct pctx c;
	size_t i;

	pctx_init(&c, NULL, err, errlen);
	if (!check_ident(&c, "spec.name", name))
		return pctx_finish(&c, out);
	for (i = 0; i < ARRAY_SIZE(system_schemas); i++)
		if (strcasecmp(name, system_schemas[i]) == 0) {
			pfail(&c, "spec.name: %s is a system schema and is "
			    "never dropped", name);
			return pctx_finish(&c, out);
		}
	sqlstep_describe(sqlplan_add(&c.plan, NULL, 0,
	    "DROP DATABASE IF EXISTS %I", name), "dropped database %s", name);
	return pctx_finish(&c, out);
}

/* ==== DatabaseUser =================================================== */

void
myplan_native_hash(const char *password, char out[42])
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char d1[EVP_MAX_MD_SIZE], d2[EVP_MAX_MD_SIZE];
	unsigned n1 = 0, n2 = 0, i;

	if (EVP_Digest(password, strlen(password), d1, &n1, EVP_sha1(),
	    NULL) != 1 || EVP_Digest(d1, n1, d2, &n2, EVP_sha1(), NULL) != 1 ||
	    n2 != 20)
		die_oom();	/* SHA-1 of a buffer cannot fail otherwise */
	out[0] = '*';
	for (i = 0; i < 20; i++) {
		out[1 + 2 * i] = hex[d2[i] >> 4];
		out[2 + 2 * i] = hex[d2[i] & 0xf];
	}
	out[41] = '\0';
	secure_zero(d1, sizeof(d1));
}

static const struct api_strv *
wanted_hosts(const struct api_user_spec *w, struct api_strv *dflt)
{
	static char pct[] = "%";
	static char *one[] = { pct };

	if (w->mysql.set && w->mysql.allowed_hosts.n > 0)
		return &w->mysql.allowed_hosts;
	dflt->v = one;
	dflt->n = 1;
	return dflt;
}

/*
 * The plugin to use: NULL = the server's default (no spec.mysql). On
 * MariaDB the CRD default caching_sha2_password, which it lacks, means
 * its own default mysql_native_password (the default cannot be told
 * apart from an explicit value).
 */
static const char *
want_plugin(const struct api_user_spec *w, const struct myplan_server *s)
{
	if (!w->mysql.set || w->mysql.auth_plugin == API_MY_AUTH_NONE)
		return NULL;
	if (mariadb(s) && w->mysql.auth_plugin ==
	    API_MY_AUTH_CACHING_SHA2_PASSWORD)
		return "mysql_native_password";
	return api_my_auth_plugin_names[w->mysql.auth_plugin];
}

static bool
plugin_differs(const struct api_user_spec *w, const struct myplan_server *s,
    const struct myplan_obs_account *a)
{
	const char *p = want_plugin(w, s);

	return p != NULL && strcmp(p, a->plugin) != 0;
}

bool
mysqlplan_user_needs_password(const struct api_user_spec *want,
    const struct myplan_obs_user *obs)
{
	struct api_strv d;
	const struct api_strv *hosts = wanted_hosts(want, &d);
	size_t i;

	for (i = 0; i < hosts->n; i++) {
		const struct myplan_obs_account *a =
		    myplan_obs_account(obs, hosts->v[i]);

		if (a == NULL || a->is_role ||
		    plugin_differs(want, &obs->server, a))
			return true;
	}
	return false;
}

static bool
check_user_spec(struct pctx *c, const struct api_user_spec *w,
    const struct myplan_server *s)
{
	const struct api_my_user *m = &w->mysql;
	size_t i;
	char path[64];

	if (!check_account_name(c, "spec.username", w->username))
		return false;
	if (w->postgres.set)
		return pfail(c, "spec.postgres: PostgreSQL options are not "
		    "supported by a MySQL instance; use spec.mysql"), false;
	if (!m->set)
		return true;
	for (i = 0; i < m->allowed_hosts.n; i++) {
		snprintf(path, sizeof(path), "spec.mysql.allowedHosts[%zu]", i);
		if (!check_host(c, path, m->allowed_hosts.v[i]))
			return false;
	}
	if (mariadb(s) && m->auth_plugin == API_MY_AUTH_SHA256_PASSWORD)
		return pfail(c, "spec.mysql.authPlugin: sha256_password is not "
		    "available on MariaDB"), false;
	if (!mariadb(s) && m->auth_plugin == API_MY_AUTH_NATIVE_PASSWORD &&
	    s->version >= 90000)
		return pfail(c, "spec.mysql.authPlugin: mysql_native_password "
		    "was removed in MySQL 9.0"), false;
	if (m->failed_login_attempts != 0 || m->password_lock_time != 0) {
		const char *f = m->failed_login_attempts != 0 ?
		    "failedLoginAttempts" : "passwordLockTime";

		if (mariadb(s))
			return pfail(c, "spec.mysql.%s: not supported by MariaDB "
			    "(it has only the server-wide max_password_errors)",
			    f), false;
		if (s->version < 80019)
			return pfail(c, "spec.mysql.%s: needs MySQL 8.0.19 or "
			    "later", f), false;
	}
	if (!mariadb(s) && s->version < 80000)
		return pfail(c, "spec.mysql: MySQL before 8.0 is not "
		    "supported"), false;
	if (mariadb(s) && s->version < 100402 && m->account_locked)
		return pfail(c, "spec.mysql.accountLocked: needs MariaDB 10.4.2 "
		    "or later"), false;
	return true;
}

/* " IDENTIFIED ..." for password with the wanted plugin. hash: a buffer
 * that outlives the statement (the native hash is kept there). */
static void
sb_identified(struct sb *b, const struct api_user_spec *w,
    const struct myplan_server *s, const char *password, char hash[42])
{
	const char *plugin = want_plugin(w, s);

	if (plugin == NULL) {
		sb_arg(b, " IDENTIFIED BY %S", SQLARG_SECRET, password, 0);
		return;
	}
	if (strcmp(plugin, "mysql_native_password") == 0) {
		myplan_native_hash(password, hash);
		if (mariadb(s))
			sb_arg(b, " IDENTIFIED VIA mysql_native_password "
			    "USING %S", SQLARG_SECRET, hash, 0);
		else
			sb_arg(b, " IDENTIFIED WITH mysql_native_password AS %S",
			    SQLARG_SECRET, hash, 0);
		return;
	}
	/* MySQL 8: caching_sha2_password or sha256_password */
	bprintf(&b->fmt, " IDENTIFIED WITH %s", plugin);
	sb_arg(b, " BY %S", SQLARG_SECRET, password, 0);
}

static const char *
want_ssl(const struct api_my_user *m)
{
	if (m->require_x509)
		return "X509";
	if (m->require_ssl)
		return "SSL";
	return "NONE";
}

static const char *
have_ssl(const struct myplan_obs_account *a)
{
	if (strcmp(a->ssl_type, "X509") == 0)
		return "X509";
	if (strcmp(a->ssl_type, "ANY") == 0)
		return "SSL";
	if (a->ssl_type[0] == '\0')
		return "NONE";
	return "SPECIFIED";
}

/* The attribute clauses; a NULL account means a new one (defaults: no
 * limits, REQUIRE NONE, unlocked). Returns how many were added. */
static int
sb_attrs(struct sb *b, const struct api_my_user *m,
    const struct myplan_obs_account *a)
{
	static const char *const lim_kw[] = { "MAX_QUERIES_PER_HOUR",
	    "MAX_UPDATES_PER_HOUR", "MAX_CONNECTIONS_PER_HOUR",
	    "MAX_USER_CONNECTIONS" };
	const int32_t want[] = { m->max_queries_per_hour,
	    m->max_updates_per_hour, m->max_connections_per_hour,
	    m->max_user_connections };
	long long have[] = { 0, 0, 0, 0 };
	int n = 0, i;
	bool with = false;

	if (a != NULL) {
		have[0] = a->max_queries;
		have[1] = a->max_updates;
		have[2] = a->max_connections;
		have[3] = a->max_user_connections;
	}
	if (a != NULL ? strcmp(want_ssl(m), have_ssl(a)) != 0 :
	    strcmp(want_ssl(m), "NONE") != 0) {
		bprintf(&b->fmt, " REQUIRE %s", want_ssl(m));
		bprintf(&b->desc, " require %s", want_ssl(m));
		n++;
	}
	for (i = 0; i < 4; i++) {
		if (want[i] == have[i])
			continue;
		bprintf(&b->fmt, "%s %s", with ? "" : " WITH", lim_kw[i]);
		sb_arg(b, " %d", SQLARG_INT, NULL, want[i]);
		bprintf(&b->desc, " %s %d", lim_kw[i], want[i]);
		with = true;
		n++;
	}
	if (m->failed_login_attempts !=
	    (a ? a->failed_login_attempts : 0)) {
		sb_arg(b, " FAILED_LOGIN_ATTEMPTS %d", SQLARG_INT, NULL,
		    m->failed_login_attempts);
		bprintf(&b->desc, " FAILED_LOGIN_ATTEMPTS %d",
		    m->failed_login_attempts);
		n++;
	}
	if (m->password_lock_time != (a ? a->password_lock_time : 0)) {
		sb_arg(b, " PASSWORD_LOCK_TIME %d", SQLARG_INT, NULL,
		    m->password_lock_time);
		bprintf(&b->desc, " PASSWORD_LOCK_TIME %d",
		    m->password_lock_time);
		n++;
	}
	if (m->account_locked != (a ? a->locked : false)) {
		bputs(&b->fmt, m->account_locked ? " ACCOUNT LOCK" :
		    " ACCOUNT UNLOCK");
		bputs(&b->desc, m->account_locked ? " locked" : " unlocked");
		n++;
	}
	return n;
}

int
mysqlplan_user(const struct api_user_spec *want, const char *password,
    const struct myplan_obs_user *obs, struct sqlplan *out, char *err,
    size_t errlen)
{
	const struct myplan_server *s = &obs->server;
	const struct api_my_user *m = &want->mysql;
	struct api_strv d;
	const struct api_strv *hosts;
	struct pctx c;
	struct sb b;
	char hash[42] = "";
	size_t i;

	pctx_init(&c, s, err, errlen);
	if (!check_user_spec(&c, want, s))
		return pctx_finish(&c, out);
	if (password != NULL && !sqlstep_utf8_ok(password)) {
		pfail(&c, "password: is not valid UTF-8");
		return pctx_finish(&c, out);
	}
	hosts = wanted_hosts(want, &d);
	sb_init(&b);
	for (i = 0; i < hosts->n && !c.failed; i++) {
		struct acct ac = { want->username, hosts->v[i] };
		const struct myplan_obs_account *a =
		    myplan_obs_account(obs, hosts->v[i]);

		if (a != NULL && a->is_role) {
			pfail(&c, "spec.username: %s is a role on this server",
			    want->username);
			break;
		}
		if (a == NULL) {
			if (password == NULL) {
				pfail(&c, "spec.mysql.allowedHosts: the account "
				    "'%s'@'%s' must be created and no password "
				    "was given", want->username, hosts->v[i]);
				break;
			}
			bputs(&b.desc, "created user ");
			sb_acct(&b, "CREATE USER %L", &ac);
			sb_identified(&b, want, s, password, hash);
			if (m->set)
				sb_attrs(&b, m, NULL);
			sb_add(&c, &b);
			continue;
		}
		if (password != NULL || plugin_differs(want, s, a)) {
			if (password == NULL) {
				pfail(&c, "spec.mysql.authPlugin: changing the "
				    "plugin of '%s'@'%s' from %s needs the "
				    "password", want->username, hosts->v[i],
				    a->plugin);
				break;
			}
			bputs(&b.desc, "set the password of ");
			sb_acct(&b, "ALTER USER %L", &ac);
			sb_identified(&b, want, s, password, hash);
			sb_add(&c, &b);
		}
		if (m->set) {
			bputs(&b.desc, "changed user ");
			sb_acct(&b, "ALTER USER %L", &ac);
			if (sb_attrs(&b, m, a) > 0)
				sb_add(&c, &b);
			else {
				sb_release(&b);
				sb_init(&b);
			}
		}
	}
	/* accounts on hosts no longer listed */
	for (i = 0; i < obs->n && !c.failed; i++) {
		const struct myplan_obs_account *a = &obs->v[i];
		struct acct ac = { want->username, a->host };
		size_t j;
		bool listed = false;

		for (j = 0; j < hosts->n; j++)
			if (strcasecmp(hosts->v[j], a->host) == 0)
				listed = true;
		if (listed || a->is_role)
			continue;
		bputs(&b.desc, "dropped user ");
		sb_acct(&b, "DROP USER IF EXISTS %L", &ac);
		sb_add(&c, &b);
	}
	sb_release(&b);
	secure_zero(hash, sizeof(hash));
	return pctx_finish(&c, out);
}

int
mysqlplan_user_drop(const char *user, const struct myplan_obs_user *obs,
    struct sqlplan *out, char *err, size_t errlen)
{
	struct pctx c;
	struct sb b;
	size_t i;

	pctx_init(&c, &obs->server, err, errlen);
	if (!check_account_name(&c, "spec.username", user))
		return pctx_finish(&c, out);
	sb_init(&b);
	for (i = 0; i < obs->n; i++) {
		struct acct ac = { user, obs->v[i].host };

		if (obs->v[i].is_role)
			continue;
		bputs(&b.desc, "dropped user ");
		sb_acct(&b, "DROP USER IF EXISTS %L", &ac);
		sb_add(&c, &b);
	}
	sb_release(&b);
	return pctx_finish(&c, out);
}

/* ==== DatabaseRole =================================================== */

/* The account holding a role's privileges. */
static struct acct
role_acct(const char *role, bool native, const struct myplan_server *s)
{
	struct acct a = { role, "%" };

	if (native && mariadb(s))
		a.host = NULL;
	return a;
}

/* The observed account of the role, or NULL. */
static const struct myplan_obs_account *
role_obs(const struct myplan_obs_user *o, bool native)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		const struct myplan_obs_account *a = &o->v[i];

		if (mariadb(&o->server) && native ? a->is_role :
		    (!a->is_role && strcmp(a->host, "%") == 0))
			return a;
	}
	return NULL;
}

static bool
role_native(const struct api_role_spec *w)
{
	return !w->mysql.set || w->mysql.use_native_roles;
}

int
mysqlplan_role(const struct api_role_spec *want,
    const struct myplan_obs_user *obs, struct sqlplan *out, char *err,
    size_t errlen)
{
	const struct myplan_server *s = &obs->server;
	bool native = role_native(want);
	struct acct ac = role_acct(want->role_name, native, s);
	const struct myplan_obs_account *a;
	struct pctx c;
	struct sb b;

	pctx_init(&c, s, err, errlen);
	if (!check_account_name(&c, "spec.roleName", want->role_name))
		return pctx_finish(&c, out);
	if (want->postgres.set) {
		pfail(&c, "spec.postgres: PostgreSQL options are not supported "
		    "by a MySQL instance; use spec.mysql");
		return pctx_finish(&c, out);
	}
	if (native && (mariadb(s) ? s->version < 100005 : s->version < 80000)) {
		pfail(&c, "spec.mysql.useNativeRoles: the server has no roles "
		    "(MySQL 8.0 or MariaDB 10.0.5 needed); set it to false");
		return pctx_finish(&c, out);
	}
	if (!native && mariadb(s) && s->version < 100402) {
		pfail(&c, "spec.mysql.useNativeRoles: an emulated role is a "
		    "locked account, which needs MariaDB 10.4.2 or later");
		return pctx_finish(&c, out);
	}
	a = role_obs(obs, native);
	sb_init(&b);
	if (a == NULL) {
		if (native) {
			bputs(&b.desc, "created role ");
			sb_acct(&b, "CREATE ROLE %L", &ac);
		} else {
			bputs(&b.desc, "created locked account ");
			sb_acct(&b, "CREATE USER %L", &ac);
			bputs(&b.fmt, " ACCOUNT LOCK");
			bputs(&b.desc, " for role");
		}
		sb_add(&c, &b);
	} else if (!a->locked && !a->is_role) {
		if (native)
			pfail(&c, "spec.roleName: '%s'@'%%' exists and is not "
			    "locked: a login account is not adopted as a role",
			    want->role_name);
		else {
			bputs(&b.desc, "locked role account ");
			sb_acct(&b, "ALTER USER %L", &ac);
			bputs(&b.fmt, " ACCOUNT LOCK");
			sb_add(&c, &b);
		}
	}
	sb_release(&b);
	return pctx_finish(&c, out);
}

int
mysqlplan_role_drop(const char *role, bool native,
    const struct myplan_obs_user *obs, struct sqlplan *out, char *err,
    size_t errlen)
{
	struct acct ac = role_acct(role, native, &obs->server);
	struct pctx c;
	struct sb b;

	pctx_init(&c, &obs->server, err, errlen);
	if (!check_account_name(&c, "spec.roleName", role) ||
	    role_obs(obs, native) == NULL)
		return pctx_finish(&c, out);
	sb_init(&b);
	bputs(&b.desc, "dropped role ");
	sb_acct(&b, native ? "DROP ROLE IF EXISTS %L" :
	    "DROP USER IF EXISTS %L", &ac);
	sb_add(&c, &b);
	sb_release(&b);
	return pctx_finish(&c, out);
}

/* ==== privileges ===================================================== */

const char *const myplan_obj_names[MYPLAN_OBJ__COUNT] = {
	"role", "global", "database", "table", "column", "procedure",
	"function",
};

/* Levels a privilege may be granted at, and the servers that know it. */
enum { LG = 1, LD = 2, LT = 4, LC = 8, LR = 16 };
enum { FMY = 1, FMA = 2, FBOTH = 3 };

static const struct privdef {
	const char *name;
	unsigned levels;
	unsigned flavours;
	bool in_all;		/* granted by ALL PRIVILEGES at its levels */
} privdefs[] = {
	{ "SELECT", LG | LD | LT | LC, FBOTH, true },
	{ "INSERT", LG | LD | LT | LC, FBOTH, true },
	{ "UPDATE", LG | LD | LT | LC, FBOTH, true },
	{ "DELETE", LG | LD | LT, FBOTH, true },
	{ "CREATE", LG | LD | LT, FBOTH, true },
	{ "DROP", LG | LD | LT, FBOTH, true },
	{ "REFERENCES", LG | LD | LT | LC, FBOTH, true },
	{ "INDEX", LG | LD | LT, FBOTH, true },
	{ "ALTER", LG | LD | LT, FBOTH, true },
	{ "CREATE TEMPORARY TABLES", LG | LD, FBOTH, true },
	{ "LOCK TABLES", LG | LD, FBOTH, true },
	{ "EXECUTE", LG | LD | LR, FBOTH, true },
	{ "CREATE VIEW", LG | LD | LT, FBOTH, true },
	{ "SHOW VIEW", LG | LD | LT, FBOTH, true },
	{ "CREATE ROUTINE", LG | LD, FBOTH, true },
	{ "ALTER ROUTINE", LG | LD | LR, FBOTH, true },
	{ "EVENT", LG | LD, FBOTH, true },
	{ "TRIGGER", LG | LD | LT, FBOTH, true },
	{ "DELETE HISTORY", LG | LD | LT, FMA, true },
	{ "RELOAD", LG, FBOTH, true },
	{ "SHUTDOWN", LG, FBOTH, true },
	{ "PROCESS", LG, FBOTH, true },
	{ "FILE", LG, FBOTH, true },
	{ "SHOW DATABASES", LG, FBOTH, true },
	{ "SUPER", LG, FBOTH, true },
	{ "REPLICATION SLAVE", LG, FBOTH, true },
	{ "REPLICATION CLIENT", LG, FBOTH, false },	/* MariaDB 10.5
							 * shows BINLOG
							 * MONITOR */
	{ "CREATE USER", LG, FBOTH, true },
	{ "CREATE TABLESPACE", LG, FMY, true },
	{ "CREATE ROLE", LG, FMY, true },
	{ "DROP ROLE", LG, FMY, true },
	{ "BINLOG ADMIN", LG, FMA, false },
	{ "BINLOG MONITOR", LG, FMA, false },
	{ "BINLOG REPLAY", LG, FMA, false },
	{ "CONNECTION ADMIN", LG, FMA, false },
	{ "FEDERATED ADMIN", LG, FMA, false },
	{ "READ_ONLY ADMIN", LG, FMA, false },
	{ "REPLICATION MASTER ADMIN", LG, FMA, false },
	{ "REPLICA MONITOR", LG, FMA, false },
	{ "REPLICATION SLAVE ADMIN", LG, FMA, false },
	{ "SET USER", LG, FMA, false },
	{ "SLAVE MONITOR", LG, FMA, false },
	{ "ALL PRIVILEGES", LG | LD | LT | LR, FBOTH, false },
};

static const struct privdef *
privdef(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(privdefs); i++)
		if (strcmp(privdefs[i].name, name) == 0)
			return &privdefs[i];
	return NULL;
}

static unsigned
obj_level(enum myplan_obj o)
{
	switch (o) {
	case MYPLAN_OBJ_GLOBAL: return LG;
	case MYPLAN_OBJ_DATABASE: return LD;
	case MYPLAN_OBJ_TABLE: return LT;
	case MYPLAN_OBJ_COLUMN: return LC;
	case MYPLAN_OBJ_PROCEDURE:
	case MYPLAN_OBJ_FUNCTION: return LR;
	case MYPLAN_OBJ_ROLE:
	case MYPLAN_OBJ__COUNT: break;
	}
	return 0;
}

void
myplan_privset_init(struct myplan_privset *s)
{
	memset(s, 0, sizeof(*s));
}

static void
priv_free(struct myplan_priv *p)
{
	free(p->database);
	free(p->name);
	free(p->column);
	free(p->privilege);
}

void
myplan_privset_release(struct myplan_privset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		priv_free(&s->v[i]);
	free(s->v);
	myplan_privset_init(s);
}

/* The same object (column included). */
static bool
same_object(const struct myplan_priv *a, const struct myplan_priv *b)
{
	return a->obj == b->obj && strcmp0(a->database, b->database) == 0 &&
	    strcmp0(a->name, b->name) == 0 &&
	    strcmp0(a->column, b->column) == 0;
}

static bool
same_identity(const struct myplan_priv *a, const struct myplan_priv *b)
{
	return same_object(a, b) && strcmp0(a->privilege, b->privilege) == 0;
}

/* The object a grant option belongs to: the table for its columns. */
static bool
same_go_object(const struct myplan_priv *a, const struct myplan_priv *b)
{
	enum myplan_obj oa = a->obj == MYPLAN_OBJ_COLUMN ? MYPLAN_OBJ_TABLE :
	    a->obj;
	enum myplan_obj ob = b->obj == MYPLAN_OBJ_COLUMN ? MYPLAN_OBJ_TABLE :
	    b->obj;

	return oa == ob && strcmp0(a->database, b->database) == 0 &&
	    strcmp0(a->name, b->name) == 0;
}

void
myplan_privset_add(struct myplan_privset *s, const struct myplan_priv *p)
{
	struct myplan_priv *d;
	size_t i;

	for (i = 0; i < s->n; i++)
		if (same_identity(&s->v[i], p)) {
			s->v[i].grant_option |= p->grant_option;
			return;
		}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	d = &s->v[s->n++];
	d->obj = p->obj;
	d->database = xstrdup(p->database);
	d->name = xstrdup(p->name);
	d->column = xstrdup(p->column);
	d->privilege = xstrdup(p->privilege);
	d->grant_option = p->grant_option;
}

void
myplan_privset_union(struct myplan_privset *dst,
    const struct myplan_privset *src)
{
	size_t i;

	for (i = 0; src && i < src->n; i++)
		myplan_privset_add(dst, &src->v[i]);
}

void
myplan_privset_roles(const struct myplan_privset *s, struct api_strv *out)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].obj == MYPLAN_OBJ_ROLE &&
		    !api_strv_contains(out, s->v[i].name))
			api_strv_push(out, s->v[i].name);
}

void
myplan_privset_write(struct jw *w, const struct myplan_privset *s)
{
	size_t i;

	jw_arr_open(w);
	for (i = 0; i < s->n; i++) {
		const struct myplan_priv *p = &s->v[i];

		jw_obj_open(w);
		jw_kstr(w, "o", myplan_obj_names[p->obj]);
		if (p->database)
			jw_kstr(w, "d", p->database);
		if (p->name)
			jw_kstr(w, "n", p->name);
		if (p->column)
			jw_kstr(w, "c", p->column);
		if (p->privilege)
			jw_kstr(w, "p", p->privilege);
		if (p->grant_option)
			jw_kbool(w, "g", true);
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

static int
read_member(yajl_val o, const char *key, const char **out)
{
	yajl_val v = json_get(o, key, NULL);

	*out = NULL;
	if (v == NULL)
		return 0;
	if ((*out = json_str(v)) == NULL)
		return -1;
	return 0;
}

int
myplan_privset_read(yajl_val v, struct myplan_privset *s, char *err,
    size_t errlen)
{
	size_t i;

	if (!YAJL_IS_ARRAY(v)) {
		snprintf(err, errlen, "applied set: not an array");
		return -1;
	}
	for (i = 0; i < json_len(v); i++) {
		yajl_val o = json_at(v, i);
		struct myplan_priv p;
		const char *kind = NULL;
		bool g = false;
		int k;

		memset(&p, 0, sizeof(p));
		if (!YAJL_IS_OBJECT(o) || read_member(o, "o", &kind) ||
		    kind == NULL ||
		    read_member(o, "d", (const char **)&p.database) ||
		    read_member(o, "n", (const char **)&p.name) ||
		    read_member(o, "c", (const char **)&p.column) ||
		    read_member(o, "p", (const char **)&p.privilege))
			goto bad;
		if (json_get(o, "g", NULL) &&
		    !json_bool(json_get(o, "g", NULL), &g))
			goto bad;
		for (k = 0; k < MYPLAN_OBJ__COUNT; k++)
			if (strcmp(kind, myplan_obj_names[k]) == 0)
				break;
		if (k == MYPLAN_OBJ__COUNT)
			goto bad;
		p.obj = (enum myplan_obj)k;
		p.grant_option = g;
		if ((p.database && sqlstep_my_ident_problem(p.database)) ||
		    (p.column && sqlstep_my_ident_problem(p.column)))
			goto bad;
		if (p.obj == MYPLAN_OBJ_ROLE) {
			if (p.name == NULL || p.privilege || p.database ||
			    p.column || !sqlstep_utf8_ok(p.name) ||
			    !no_controls(p.name) ||
			    utf8_chars(p.name) > ACCOUNT_NAME_MAX)
				goto bad;
		} else {
			const struct privdef *d = privdef(p.privilege ?
			    p.privilege : "");

			if (d == NULL || !(d->levels & obj_level(p.obj)) ||
			    (p.name && sqlstep_my_ident_problem(p.name)) ||
			    (p.obj == MYPLAN_OBJ_GLOBAL) != (p.database == NULL) ||
			    (p.obj == MYPLAN_OBJ_GLOBAL ||
			    p.obj == MYPLAN_OBJ_DATABASE) != (p.name == NULL) ||
			    (p.obj == MYPLAN_OBJ_COLUMN) != (p.column != NULL))
				goto bad;
		}
		myplan_privset_add(s, &p);
		continue;
bad:
		snprintf(err, errlen, "applied set: entry %zu is malformed", i);
		return -1;
	}
	return 0;
}

/* ---- expanding the spec --------------------------------------------- */

static const enum myplan_obj level_obj[API_MY_LEVEL__COUNT] = {
	[API_MY_LEVEL_NONE] = MYPLAN_OBJ__COUNT,
	[API_MY_LEVEL_GLOBAL] = MYPLAN_OBJ_GLOBAL,
	[API_MY_LEVEL_DATABASE] = MYPLAN_OBJ_DATABASE,
	[API_MY_LEVEL_TABLE] = MYPLAN_OBJ_TABLE,
	[API_MY_LEVEL_COLUMN] = MYPLAN_OBJ_COLUMN,
	[API_MY_LEVEL_PROCEDURE] = MYPLAN_OBJ_PROCEDURE,
	[API_MY_LEVEL_FUNCTION] = MYPLAN_OBJ_FUNCTION,
};

static void
expand_grant(struct pctx *c, struct myplan_privset *s, const char *path,
    const struct api_my_grant *g)
{
	enum myplan_obj obj = level_obj[g->level];
	const char *name = NULL;
	char p[128];
	size_t i, j;

	if (obj == MYPLAN_OBJ__COUNT) {
		pfail(c, "%s.level: is required", path);
		return;
	}
	snprintf(p, sizeof(p), "%s.database", path);
	if (obj != MYPLAN_OBJ_GLOBAL && !check_ident(c, p, g->database))
		return;
	if (obj == MYPLAN_OBJ_TABLE || obj == MYPLAN_OBJ_COLUMN) {
		snprintf(p, sizeof(p), "%s.table", path);
		name = g->table;
	} else if (obj == MYPLAN_OBJ_PROCEDURE) {
		snprintf(p, sizeof(p), "%s.procedure", path);
		name = g->procedure;
	} else if (obj == MYPLAN_OBJ_FUNCTION) {
		snprintf(p, sizeof(p), "%s.function", path);
		name = g->function;
	}
	if (obj >= MYPLAN_OBJ_TABLE && !check_ident(c, p, name))
		return;
	if (obj == MYPLAN_OBJ_COLUMN && g->columns.n == 0) {
		pfail(c, "%s.columns: is required for level column", path);
		return;
	}
	for (i = 0; i < g->columns.n && obj == MYPLAN_OBJ_COLUMN; i++) {
		snprintf(p, sizeof(p), "%s.columns[%zu]", path, i);
		if (!check_ident(c, p, g->columns.v[i]))
			return;
	}
	for (i = 0; i < g->privileges.n; i++) {
		char *up = upper_dup(g->privileges.v[i]);
		const struct privdef *d;
		struct myplan_priv e;
		unsigned fl = mariadb(c->server) ? FMA : FMY;

		snprintf(p, sizeof(p), "%s.privileges[%zu]", path, i);
		if (strcmp(up, "ALL") == 0) {
			free(up);
			up = xstrdup("ALL PRIVILEGES");
		}
		if (strcmp(up, "USAGE") == 0) {
			free(up);	/* "no privileges": nothing to grant */
			continue;
		}
		if (strcmp(up, "GRANT OPTION") == 0) {
			pfail(c, "%s: use withGrantOption for the grant option",
			    p);
			free(up);
			return;
		}
		/* not in privdefs but on the allow-list: a MySQL 8 dynamic
		 * privilege, global only */
		d = privdef(up);
		if ((d == NULL && (mariadb(c->server) ||
		    !sqlstep_my_keyword_ok(up))) ||
		    (d != NULL && !(d->flavours & fl))) {
			pfail(c, "%s: %s is not a %s privilege", p, up,
			    mariadb(c->server) ? "MariaDB" : "MySQL");
			free(up);
			return;
		}
		if ((d != NULL && !(d->levels & obj_level(obj))) ||
		    (d == NULL && obj != MYPLAN_OBJ_GLOBAL)) {
			pfail(c, "%s: %s cannot be granted at level %s", p, up,
			    api_my_grant_level_names[g->level]);
			free(up);
			return;
		}
		memset(&e, 0, sizeof(e));
		e.obj = obj;
		e.database = obj == MYPLAN_OBJ_GLOBAL ? NULL : g->database;
		e.name = (char *)name;
		e.privilege = up;
		e.grant_option = g->with_grant_option;
		if (obj != MYPLAN_OBJ_COLUMN)
			myplan_privset_add(s, &e);
		for (j = 0; j < g->columns.n && obj == MYPLAN_OBJ_COLUMN; j++) {
			e.column = g->columns.v[j];
			myplan_privset_add(s, &e);
		}
		free(up);
	}
}

static void
expand_roles(struct pctx *c, struct myplan_privset *s,
    const struct api_strv *roles)
{
	char p[64];
	size_t i;

	for (i = 0; i < roles->n && !c->failed; i++) {
		struct myplan_priv e;

		snprintf(p, sizeof(p), "spec.mysql.roles[%zu]", i);
		if (!check_account_name(c, p, roles->v[i]))
			return;
		memset(&e, 0, sizeof(e));
		e.obj = MYPLAN_OBJ_ROLE;
		e.name = roles->v[i];
		myplan_privset_add(s, &e);
	}
}

static void
expand_grants(struct pctx *c, struct myplan_privset *s,
    const struct api_my_grants *g)
{
	char p[64];
	size_t i;

	for (i = 0; g && i < g->n && !c->failed; i++) {
		snprintf(p, sizeof(p), "spec.mysql.grants[%zu]", i);
		expand_grant(c, s, p, &g->v[i]);
	}
}

/* ---- the diff ------------------------------------------------------- */

/* Does the account hold p (all of it; with the grant option when p has
 * it), or for a revoke (any) anything of it? */
static bool
held(const struct myplan_obs_account *a, const struct myplan_server *s,
    const struct myplan_priv *p, bool any)
{
	const struct myplan_privset *h = &a->held;
	bool go = p->grant_option && !any;
	size_t i, k;

	if (p->privilege != NULL && strcmp(p->privilege, "ALL PRIVILEGES") == 0) {
		unsigned lv = obj_level(p->obj);
		unsigned fl = mariadb(s) ? FMA : FMY;

		for (k = 0; k < ARRAY_SIZE(privdefs); k++) {
			struct myplan_priv t = *p;
			bool have;

			if (!privdefs[k].in_all || !(privdefs[k].levels & lv) ||
			    !(privdefs[k].flavours & fl))
				continue;
			t.privilege = (char *)privdefs[k].name;
			have = held(a, s, &t, any);
			if (any && have)
				return true;
			if (!any && !have)
				return false;
		}
		return !any;
	}
	for (i = 0; i < h->n; i++)
		if (same_identity(&h->v[i], p) &&
		    (!go || h->v[i].grant_option))
			return true;
	return false;
}

/* Does the account hold the grant option on p's object? */
static bool
holds_go(const struct myplan_obs_account *a, const struct myplan_priv *p)
{
	size_t i;

	for (i = 0; i < a->held.n; i++)
		if (a->held.v[i].obj != MYPLAN_OBJ_ROLE &&
		    a->held.v[i].grant_option && same_go_object(&a->held.v[i], p))
			return true;
	return false;
}

/* Does wanted a cover b (applied before): the same privilege, or ALL
 * PRIVILEGES on the object? */
static bool
covers(const struct myplan_priv *a, const struct myplan_priv *b)
{
	if (same_identity(a, b))
		return true;
	return a->privilege && b->privilege && same_object(a, b) &&
	    strcmp(a->privilege, "ALL PRIVILEGES") == 0;
}

enum act_kind { ACT_REVOKE, ACT_REVOKE_GO, ACT_GRANT };

struct act {
	enum act_kind kind;
	const struct myplan_priv *p;
	bool done;
};

/* " ON *.*" and friends. */
static void
sb_target(struct sb *b, const struct myplan_priv *p)
{
	switch (p->obj) {
	case MYPLAN_OBJ_GLOBAL:
		bputs(&b->fmt, " ON *.*");
		bputs(&b->desc, " on *.*");
		break;
	case MYPLAN_OBJ_DATABASE:
		sb_arg(b, " ON %I.*", SQLARG_IDENT, p->database, 0);
		bprintf(&b->desc, " on %s.*", p->database);
		break;
	case MYPLAN_OBJ_TABLE:
	case MYPLAN_OBJ_COLUMN:
		sb_arg(b, " ON %I", SQLARG_IDENT, p->database, 0);
		sb_arg(b, ".%I", SQLARG_IDENT, p->name, 0);
		bprintf(&b->desc, " on %s.%s", p->database, p->name);
		break;
	case MYPLAN_OBJ_PROCEDURE:
	case MYPLAN_OBJ_FUNCTION: {
		const char *kw = p->obj == MYPLAN_OBJ_PROCEDURE ? "PROCEDURE" :
		    "FUNCTION";

		bprintf(&b->fmt, " ON %s", kw);
		sb_arg(b, " %I", SQLARG_IDENT, p->database, 0);
		sb_arg(b, ".%I", SQLARG_IDENT, p->name, 0);
		bprintf(&b->desc, " on %s %s.%s", kw, p->database, p->name);
		break;
	}
	case MYPLAN_OBJ_ROLE:
	case MYPLAN_OBJ__COUNT:
		break;
	}
}

static bool
same_statement(const struct act *a, const struct act *b)
{
	if (a->kind != b->kind || a->p->obj == MYPLAN_OBJ_ROLE ||
	    b->p->obj == MYPLAN_OBJ_ROLE || !same_go_object(a->p, b->p) ||
	    (a->p->obj == MYPLAN_OBJ_COLUMN) != (b->p->obj == MYPLAN_OBJ_COLUMN))
		return false;
	if (a->kind == ACT_GRANT && a->p->grant_option != b->p->grant_option)
		return false;
	return true;
}

static void
emit_role(struct pctx *c, const struct acct *to, struct act *a)
{
	struct acct role = role_acct(a->p->name, true, c->server);
	bool grant = a->kind == ACT_GRANT;
	struct sb b;

	sb_init(&b);
	bputs(&b.desc, grant ? "granted role " : "revoked role ");
	sb_acct(&b, grant ? "GRANT %L" : "REVOKE %L", &role);
	bputs(&b.desc, grant ? " to " : " from ");
	sb_acct(&b, grant ? " TO %L" : " FROM %L", to);
	sb_add(c, &b);
	sb_release(&b);
	a->done = true;
}

/* One GRANT or REVOKE for acts[first] and every later act of the same
 * statement (same kind, object and grant option). */
static void
emit(struct pctx *c, const struct acct *to, struct act *acts, size_t nacts,
    size_t first)
{
	struct act *a = &acts[first];
	bool grant = a->kind == ACT_GRANT;
	struct sb b;
	size_t i, j, np = 0;

	if (a->p->obj == MYPLAN_OBJ_ROLE) {
		emit_role(c, to, a);
		return;
	}
	sb_init(&b);
	bputs(&b.fmt, grant ? "GRANT " : "REVOKE ");
	bputs(&b.desc, grant ? "granted " : "revoked ");
	if (a->kind == ACT_REVOKE_GO) {
		bputs(&b.fmt, "GRANT OPTION");
		bputs(&b.desc, "grant option");
		a->done = true;
	}
	for (i = first; i < nacts && a->kind != ACT_REVOKE_GO; i++) {
		struct act *x = &acts[i];
		size_t nc = 0;

		if (x->done || !same_statement(a, x))
			continue;
		sb_arg(&b, np ? ", %K" : "%K", SQLARG_KEYWORD, x->p->privilege,
		    0);
		bprintf(&b.desc, "%s%s", np ? ", " : "", x->p->privilege);
		np++;
		if (x->p->obj != MYPLAN_OBJ_COLUMN) {
			x->done = true;
			continue;
		}
		/* SELECT (`a`, `b`): every column of that privilege */
		for (j = i; j < nacts; j++) {
			struct act *y = &acts[j];

			if (y->done || !same_statement(a, y) ||
			    strcmp(y->p->privilege, x->p->privilege) != 0)
				continue;
			sb_arg(&b, nc ? ", %I" : " (%I", SQLARG_IDENT,
			    y->p->column, 0);
			bprintf(&b.desc, "%s%s", nc ? ", " : " (",
			    y->p->column);
			nc++;
			y->done = true;
		}
		bputs(&b.fmt, ")");
		bputs(&b.desc, ")");
	}
	sb_target(&b, a->p);
	bputs(&b.desc, grant ? " to " : " from ");
	sb_acct(&b, grant ? " TO %L" : " FROM %L", to);
	if (grant && a->p->grant_option) {
		bputs(&b.fmt, " WITH GRANT OPTION");
		bputs(&b.desc, " with grant option");
	}
	sb_add(c, &b);
	sb_release(&b);
}

static bool
roles_equal(const struct api_strv *a, const struct api_strv *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (!api_strv_contains(b, a->v[i]))
			return false;
	return true;
}

/* SET DEFAULT ROLE to the wanted roles (MariaDB: the first one). */
static void
plan_default_roles(struct pctx *c, const struct acct *to,
    const struct myplan_obs_account *obs, const struct myplan_privset *want)
{
	struct api_strv d = { NULL, 0 };
	struct sb b;
	size_t i;

	for (i = 0; i < want->n; i++)
		if (want->v[i].obj == MYPLAN_OBJ_ROLE &&
		    (!mariadb(c->server) || d.n == 0))
			api_strv_push(&d, want->v[i].name);
	if (obs != NULL && roles_equal(&d, &obs->default_roles)) {
		api_strv_release(&d);
		return;
	}
	sb_init(&b);
	bputs(&b.fmt, "SET DEFAULT ROLE");
	bputs(&b.desc, "set default roles ");
	if (d.n == 0)
		bputs(&b.fmt, " NONE");
	for (i = 0; i < d.n; i++) {
		struct acct r = role_acct(d.v[i], true, c->server);

		sb_acct(&b, i ? ", %L" : " %L", &r);
		bputs(&b.desc, i + 1 < d.n ? ", " : "");
	}
	bputs(&b.desc, d.n ? " for " : "NONE for ");
	sb_acct(&b, mariadb(c->server) ? " FOR %L" : " TO %L", to);
	sb_add(c, &b);
	sb_release(&b);
	api_strv_release(&d);
}

/*
 * The diff for one account: revoke what prev holds, want does not cover
 * and the account still has; revoke the grant option of an object where
 * prev had it and want no longer has; grant what want holds and the
 * account lacks, or what a revoke of this plan takes away. Role revokes
 * and grants first, then privileges; then the default roles when
 * manage_default.
 */
static void
plan_account(struct pctx *c, const struct acct *to,
    const struct myplan_obs_account *obs, const struct myplan_privset *want,
    const struct myplan_privset *prev, bool manage_default)
{
	static const struct myplan_obs_account none;
	const struct myplan_obs_account *a = obs ? obs : &none;
	struct act *acts;
	size_t n = 0, i, j, nrev;
	bool roles_changed = false;
	int pass;

	acts = xcalloc((prev ? 2 * prev->n : 0) + want->n + 1, sizeof(*acts));
	for (i = 0; prev && i < prev->n; i++) {
		const struct myplan_priv *p = &prev->v[i];
		bool covered = false, go_wanted = false, dup = false;

		for (j = 0; j < want->n; j++) {
			if (covers(&want->v[j], p))
				covered = true;
			if (p->obj != MYPLAN_OBJ_ROLE &&
			    want->v[j].obj != MYPLAN_OBJ_ROLE &&
			    want->v[j].grant_option &&
			    same_go_object(&want->v[j], p))
				go_wanted = true;
		}
		if (!covered && held(a, c->server, p, true))
			acts[n++] = (struct act){ ACT_REVOKE, p, false };
		if (p->obj == MYPLAN_OBJ_ROLE || !p->grant_option || go_wanted ||
		    !holds_go(a, p))
			continue;
		for (j = 0; j < n; j++)
			if (acts[j].kind == ACT_REVOKE_GO &&
			    same_go_object(acts[j].p, p))
				dup = true;
		if (!dup)
			acts[n++] = (struct act){ ACT_REVOKE_GO, p, false };
	}
	nrev = n;
	for (i = 0; i < want->n; i++) {
		const struct myplan_priv *w = &want->v[i];
		bool need = !held(a, c->server, w, false);

		for (j = 0; j < nrev && !need; j++)
			if (acts[j].kind == ACT_REVOKE &&
			    (covers(acts[j].p, w) || covers(w, acts[j].p)))
				need = true;
		if (need)
			acts[n++] = (struct act){ ACT_GRANT, w, false };
	}
	for (i = 0; i < n; i++)
		if (acts[i].p->obj == MYPLAN_OBJ_ROLE)
			roles_changed = true;
	/* roles, then privileges */
	for (pass = 0; pass < 2 && !c->failed; pass++)
		for (i = 0; i < n; i++) {
			bool role = acts[i].p->obj == MYPLAN_OBJ_ROLE;

			if (!acts[i].done && role == (pass == 0))
				emit(c, to, acts, n, i);
		}
	free(acts);
	if (manage_default && !c->failed)
		plan_default_roles(c, to, roles_changed ? NULL : obs, want);
}

static bool
has_roles(const struct myplan_privset *s)
{
	size_t i;

	for (i = 0; s && i < s->n; i++)
		if (s->v[i].obj == MYPLAN_OBJ_ROLE)
			return true;
	return false;
}

static int
finish_grant(struct pctx *c, struct myplan_privset *want, struct sqlplan *out,
    struct myplan_privset *applied)
{
	int r = pctx_finish(c, out);

	if (r == 0 && applied != NULL) {
		myplan_privset_release(applied);
		myplan_privset_union(applied, want);
	}
	myplan_privset_release(want);
	return r;
}

int
mysqlplan_grant(const char *user, const struct api_strv *hosts,
    const struct api_my_grant_config *want, const struct myplan_obs_user *obs,
    const struct myplan_privset *prev, struct sqlplan *out,
    struct myplan_privset *applied, char *err, size_t errlen)
{
	static char pct[] = "%";
	static char *one[] = { pct };
	struct api_strv dflt = { one, 1 };
	struct myplan_privset w;
	struct pctx c;
	size_t i;

	pctx_init(&c, &obs->server, err, errlen);
	myplan_privset_init(&w);
	if (hosts == NULL || hosts->n == 0)
		hosts = &dflt;
	if (!check_account_name(&c, "spec.userRef (user name)", user))
		return finish_grant(&c, &w, out, applied);
	if (want != NULL && want->set) {
		expand_roles(&c, &w, &want->roles);
		expand_grants(&c, &w, &want->grants);
	}
	for (i = 0; i < hosts->n && !c.failed; i++) {
		const struct myplan_obs_account *a =
		    myplan_obs_account(obs, hosts->v[i]);

		if (!check_host(&c, "spec.userRef (allowed host)", hosts->v[i]))
			break;
		if (a == NULL || a->is_role) {
			pfail(&c, "spec.userRef: the account '%s'@'%s' does not "
			    "exist (yet)", user, hosts->v[i]);
			break;
		}
	}
	/* every observed account: the wanted hosts and the ones still there */
	for (i = 0; i < obs->n && !c.failed; i++) {
		const struct myplan_obs_account *a = &obs->v[i];
		struct acct to = { user, a->host };
		bool listed = false;
		size_t j;

		if (a->is_role)
			continue;
		for (j = 0; j < hosts->n; j++)
			if (strcasecmp(hosts->v[j], a->host) == 0)
				listed = true;
		if (listed)
			plan_account(&c, &to, a, &w, prev,
			    has_roles(&w) || has_roles(prev));
		else {
			struct myplan_privset nothing;

			myplan_privset_init(&nothing);
			plan_account(&c, &to, a, &nothing, prev, false);
		}
	}
	return finish_grant(&c, &w, out, applied);
}

int
mysqlplan_grant_revoke(const char *user,
    const struct api_my_grant_config *want, const struct myplan_obs_user *obs,
    const struct myplan_privset *prev, struct sqlplan *out, char *err,
    size_t errlen)
{
	struct myplan_privset all, none;
	struct pctx c, probe;
	char ignored[8];
	size_t i;

	pctx_init(&c, &obs->server, err, errlen);
	myplan_privset_init(&all);
	myplan_privset_init(&none);
	if (check_account_name(&c, "spec.userRef (user name)", user)) {
		/* a spec that no longer validates must not block deletion:
		 * whatever it expands to before the error is revoked too */
		pctx_init(&probe, &obs->server, ignored, sizeof(ignored));
		if (want != NULL && want->set) {
			expand_roles(&probe, &all, &want->roles);
			probe.failed = false;
			expand_grants(&probe, &all, &want->grants);
		}
		sqlplan_release(&probe.plan);
		myplan_privset_union(&all, prev);
		for (i = 0; i < obs->n && !c.failed; i++) {
			struct acct to = { user, obs->v[i].host };
			bool dflt = obs->v[i].default_roles.n > 0 &&
			    has_roles(&all);

			if (!obs->v[i].is_role)
				plan_account(&c, &to, &obs->v[i], &none, &all,
				    dflt);
		}
	}
	myplan_privset_release(&all);
	return finish_grant(&c, &none, out, NULL);
}

int
mysqlplan_role_grants(const char *role, bool native,
    const struct api_my_grants *grants, const struct myplan_obs_user *obs,
    const struct myplan_privset *prev, struct sqlplan *out,
    struct myplan_privset *applied, char *err, size_t errlen)
{
	struct acct to = role_acct(role, native, &obs->server);
	struct myplan_privset w;
	struct pctx c;

	pctx_init(&c, &obs->server, err, errlen);
	myplan_privset_init(&w);
	if (check_account_name(&c, "spec.roleName", role))
		expand_grants(&c, &w, grants);
	if (!c.failed)
		plan_account(&c, &to, role_obs(obs, native), &w, prev, false);
	return finish_grant(&c, &w, out, applied);
}
