/*
 * pgplan.c - PostgreSQL planners: (wanted spec, observed catalogs) -> SQL.
 *
 * Layout: observation queries and row loaders; shared checks; Database;
 * roles (DatabaseUser, DatabaseRole, drop); privileges (DatabaseGrant,
 * DatabaseRole grants) with the applied set.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "pgplan.h"
#include "timefmt.h"

/* ==== observation queries ============================================ */

const char PGQ_SERVER[] =
	"SELECT current_setting('server_version_num'), current_user, "
	"current_database()";

const char PGQ_DATABASE[] =
	"SELECT pg_get_userbyid(d.datdba), pg_encoding_to_char(d.encoding), "
	"d.datcollate, d.datctype, t.spcname, d.datconnlimit, "
	"d.datistemplate, d.datallowconn "
	"FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace "
	"WHERE d.datname = $1";

const char PGQ_EXTENSIONS[] =
	"SELECT e.extname, n.nspname, e.extversion "
	"FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
	"ORDER BY e.extname";

const char PGQ_SCHEMAS[] =
	"SELECT n.nspname, pg_get_userbyid(n.nspowner) FROM pg_namespace n "
	"WHERE n.nspname NOT LIKE 'pg\\_%' "
	"AND n.nspname <> 'information_schema' ORDER BY n.nspname";

const char PGQ_DEFAULT_ACL[] =
	"SELECT pg_get_userbyid(d.defaclrole), COALESCE(n.nspname, ''), "
	"d.defaclobjtype, CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
	"ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable "
	"FROM pg_default_acl d "
	"LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace "
	"CROSS JOIN LATERAL aclexplode(d.defaclacl) a "
	"ORDER BY 1, 2, 3, 4, 5";

const char PGQ_ROLE[] =
	"SELECT r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, "
	"r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit, "
	"CASE WHEN r.rolvaliduntil IS NULL THEN NULL "
	"WHEN r.rolvaliduntil = 'infinity' THEN 'infinity' "
	"WHEN r.rolvaliduntil = '-infinity' THEN '-infinity' "
	"ELSE floor(extract(epoch FROM r.rolvaliduntil))::bigint::text END "
	"FROM pg_roles r WHERE r.rolname = $1";

const char PGQ_MEMBER_OF[] =
	"SELECT r.rolname FROM pg_auth_members m "
	"JOIN pg_roles r ON r.oid = m.roleid "
	"WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = $1) "
	"ORDER BY 1";

const char PGQ_ROLE_CONFIG[] =
	"SELECT unnest(s.setconfig) FROM pg_db_role_setting s "
	"WHERE s.setdatabase = 0 "
	"AND s.setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)";

const char PGQ_ROLE_DEPS[] =
	"SELECT DISTINCT COALESCE(d.datname, ''), "
	"COALESCE(d.datallowconn, true) "
	"FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid "
	"WHERE s.refclassid = 'pg_authid'::regclass "
	"AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1) "
	"ORDER BY 1";

const char PGQ_GRANTEE_ACL[] =
	"WITH g AS (SELECT oid FROM pg_roles WHERE rolname = $1), "
	"acl AS ("
	"SELECT 'database' AS kind, '' AS schema, d.datname AS name, "
	"'' AS args, a.privilege_type AS priv, a.is_grantable AS go "
	"FROM pg_database d CROSS JOIN LATERAL "
	"aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a "
	"WHERE a.grantee = (SELECT oid FROM g) "
	"UNION ALL "
	"SELECT 'schema', n.nspname, n.nspname, '', a.privilege_type, "
	"a.is_grantable FROM pg_namespace n CROSS JOIN LATERAL "
	"aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) a "
	"WHERE a.grantee = (SELECT oid FROM g) "
	"UNION ALL "
	"SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END, "
	"n.nspname, c.relname, '', a.privilege_type, a.is_grantable "
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	"CROSS JOIN LATERAL aclexplode(COALESCE(c.relacl, acldefault("
	"CASE WHEN c.relkind = 'S' THEN 's'::\"char\" ELSE 'r'::\"char\" END, "
	"c.relowner))) a "
	"WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') "
	"AND a.grantee = (SELECT oid FROM g) "
	"UNION ALL "
	"SELECT 'function', n.nspname, p.proname, oidvectortypes(p.proargtypes), "
	"a.privilege_type, a.is_grantable "
	"FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
	"CROSS JOIN LATERAL "
	"aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) a "
	"WHERE p.prokind IN ('f', 'a', 'w') AND a.grantee = (SELECT oid FROM g)"
	") "
	"SELECT kind, schema, name, args, priv, bool_or(go) FROM acl "
	"WHERE schema NOT LIKE 'pg\\_%' AND schema <> 'information_schema' "
	"GROUP BY kind, schema, name, args, priv ORDER BY 1, 2, 3, 4, 5";

const char PGQ_SCHEMA_COUNTS[] =
	"SELECT n.nspname, "
	"(SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid "
	"AND c.relkind IN ('r', 'p', 'v', 'm', 'f')), "
	"(SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid "
	"AND c.relkind = 'S'), "
	"(SELECT count(*) FROM pg_proc p WHERE p.pronamespace = n.oid "
	"AND p.prokind IN ('f', 'a', 'w')) "
	"FROM pg_namespace n WHERE n.nspname NOT LIKE 'pg\\_%' "
	"AND n.nspname <> 'information_schema' ORDER BY 1";

/* ==== row loaders ==================================================== */

static int
parse_bool(const char *s, bool *out)
{
	if (s == NULL)
		return -1;
	if (strcmp(s, "t") == 0 || strcmp(s, "true") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(s, "f") == 0 || strcmp(s, "false") == 0) {
		*out = false;
		return 0;
	}
	return -1;
}

static int
parse_long(const char *s, long long min, long long max, long long *out)
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

static void *
grow(void *v, size_t n, size_t size)
{
	/* arrays grow one element at a time through powers of two */
	if (n == 0 || (n & (n - 1)) == 0)
		v = xrealloc(v, (n ? n * 2 : 4) * size);
	return v;
}

int
pg_obs_server_row(struct pg_obs_server *o, const char *const *col, int ncol)
{
	long long v;

	if (ncol != 3 || parse_long(col[0], 0, INT_MAX, &v) < 0 ||
	    col[1] == NULL || col[2] == NULL ||
	    strlen(col[1]) > SQLSTEP_IDENT_MAX ||
	    strlen(col[2]) > SQLSTEP_IDENT_MAX)
		return -1;
	o->version_num = (int)v;
	strlcpy0(o->current_user, col[1], sizeof(o->current_user));
	strlcpy0(o->current_database, col[2], sizeof(o->current_database));
	return 0;
}

int
pg_obs_defacl_row(struct pg_obs_defacls *o, const char *const *col, int ncol)
{
	struct pg_obs_defacl *d;
	bool g;

	if (ncol != 6 || col[0] == NULL || col[1] == NULL || col[2] == NULL ||
	    strlen(col[2]) != 1 || col[3] == NULL || col[4] == NULL ||
	    parse_bool(col[5], &g) < 0)
		return -1;
	o->v = grow(o->v, o->n, sizeof(*o->v));
	d = &o->v[o->n++];
	d->role = xstrdup(col[0]);
	d->schema = xstrdup(col[1]);
	d->objtype = col[2][0];
	d->grantee = xstrdup(col[3]);
	d->privilege = xstrdup(col[4]);
	d->grantable = g;
	return 0;
}

void
pg_obs_defacls_release(struct pg_obs_defacls *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->v[i].role);
		free(o->v[i].schema);
		free(o->v[i].grantee);
		free(o->v[i].privilege);
	}
	free(o->v);
	o->v = NULL;
	o->n = 0;
}

void
pg_obs_database_init(struct pg_obs_database *o)
{
	memset(o, 0, sizeof(*o));
}

void
pg_obs_database_release(struct pg_obs_database *o)
{
	size_t i;

	free(o->owner);
	free(o->encoding);
	free(o->collate);
	free(o->ctype);
	free(o->tablespace);
	for (i = 0; i < o->n_extensions; i++) {
		free(o->extensions[i].name);
		free(o->extensions[i].schema);
		free(o->extensions[i].version);
	}
	free(o->extensions);
	for (i = 0; i < o->n_schemas; i++) {
		free(o->schemas[i].name);
		free(o->schemas[i].owner);
	}
	free(o->schemas);
	pg_obs_defacls_release(&o->defacl);
	pg_obs_database_init(o);
}

int
pg_obs_database_row(struct pg_obs_database *o, const char *const *col,
    int ncol)
{
	long long limit;
	bool tmpl, allow;
	int i;

	if (ncol != 8 || parse_long(col[5], INT32_MIN, INT32_MAX, &limit) < 0 ||
	    parse_bool(col[6], &tmpl) < 0 || parse_bool(col[7], &allow) < 0)
		return -1;
	for (i = 0; i < 5; i++)
		if (col[i] == NULL)
			return -1;
	api_set_str(&o->owner, col[0]);
	api_set_str(&o->encoding, col[1]);
	api_set_str(&o->collate, col[2]);
	api_set_str(&o->ctype, col[3]);
	api_set_str(&o->tablespace, col[4]);
	o->conn_limit = (int32_t)limit;
	o->is_template = tmpl;
	o->allow_conn = allow;
	o->exists = true;
	return 0;
}

int
pg_obs_extension_row(struct pg_obs_database *o, const char *const *col,
    int ncol)
{
	struct pg_obs_extension *e;

	if (ncol != 3 || col[0] == NULL || col[1] == NULL || col[2] == NULL)
		return -1;
	o->extensions = grow(o->extensions, o->n_extensions,
	    sizeof(*o->extensions));
	e = &o->extensions[o->n_extensions++];
	e->name = xstrdup(col[0]);
	e->schema = xstrdup(col[1]);
	e->version = xstrdup(col[2]);
	o->inside = true;
	return 0;
}

int
pg_obs_schema_row(struct pg_obs_database *o, const char *const *col,
    int ncol)
{
	struct pg_obs_schema *s;

	if (ncol != 2 || col[0] == NULL || col[1] == NULL)
		return -1;
	o->schemas = grow(o->schemas, o->n_schemas, sizeof(*o->schemas));
	s = &o->schemas[o->n_schemas++];
	s->name = xstrdup(col[0]);
	s->owner = xstrdup(col[1]);
	o->inside = true;
	return 0;
}

void
pg_obs_role_init(struct pg_obs_role *o)
{
	memset(o, 0, sizeof(*o));
}

void
pg_obs_role_release(struct pg_obs_role *o)
{
	size_t i;

	free(o->valid_until);
	api_strv_release(&o->member_of);
	api_map_release(&o->config);
	for (i = 0; i < o->n_deps; i++)
		free(o->deps[i].database);
	free(o->deps);
	pg_obs_role_init(o);
}

int
pg_obs_role_row(struct pg_obs_role *o, const char *const *col, int ncol)
{
	bool *flags[7] = { &o->superuser, &o->inherit, &o->create_role,
	    &o->create_db, &o->login, &o->replication, &o->bypass_rls };
	long long limit;
	int i;

	if (ncol != 9 || parse_long(col[7], INT32_MIN, INT32_MAX, &limit) < 0)
		return -1;
	for (i = 0; i < 7; i++)
		if (parse_bool(col[i], flags[i]) < 0)
			return -1;
	if (col[8] != NULL && strcmp(col[8], "infinity") != 0 &&
	    strcmp(col[8], "-infinity") != 0 &&
	    parse_long(col[8], LLONG_MIN, LLONG_MAX, &(long long){ 0 }) < 0)
		return -1;
	o->conn_limit = (int32_t)limit;
	api_set_str(&o->valid_until, col[8]);
	o->exists = true;
	return 0;
}


int
pg_obs_member_row(struct api_strv *member_of, const char *const *col,
    int ncol)
{
	if (ncol != 1 || col[0] == NULL)
		return -1;
	api_strv_push(member_of, col[0]);
	return 0;
}

int
pg_obs_role_config_row(struct pg_obs_role *o, const char *const *col,
    int ncol)
{
	const char *eq;
	struct api_kv *kv;

	if (ncol != 1 || col[0] == NULL || (eq = strchr(col[0], '=')) == NULL ||
	    eq == col[0])
		return -1;
	o->config.v = grow(o->config.v, o->config.n, sizeof(*o->config.v));
	kv = &o->config.v[o->config.n++];
	kv->key = xstrndup(col[0], (size_t)(eq - col[0]));
	kv->val = xstrdup(eq + 1);
	return 0;
}

int
pg_obs_role_dep_row(struct pg_obs_role *o, const char *const *col, int ncol)
{
	struct pg_obs_dep *d;
	bool allow;

	if (ncol != 2 || col[0] == NULL || parse_bool(col[1], &allow) < 0)
		return -1;
	o->deps = grow(o->deps, o->n_deps, sizeof(*o->deps));
	d = &o->deps[o->n_deps++];
	d->database = xstrdup(col[0]);
	d->allow_conn = allow;
	return 0;
}

/* ==== planner context and shared checks ============================== */

struct pctx {
	struct sqlplan plan;	/* local; moved to the caller on success */
	char *err;
	size_t errlen;
	bool failed;
};

static void
pctx_init(struct pctx *c, char *err, size_t errlen)
{
	sqlplan_init(&c->plan);
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

/* Ends a planner: moves the steps to out, or reports the failure. */
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

/* An identifier at path; reports and returns false when unusable. */
static bool
check_ident(struct pctx *c, const char *path, const char *s)
{
	const char *why = sqlstep_ident_problem(s);

	if (why == NULL)
		return true;
	pfail(c, "%s: %s", path, why);
	return false;
}

static bool
empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* Statement buffers are uncapped; a failure is an allocation failure. */
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

/* ==== Database ======================================================= */

/* PostgreSQL server encodings and the aliases pg_char_to_encoding() knows,
 * in its "clean" form (lower case, letters and digits only). */
static const struct {
	const char *clean;
	const char *name;
} encodings[] = {
	{ "sqlascii", "SQL_ASCII" }, { "utf8", "UTF8" }, { "unicode", "UTF8" },
	{ "eucjp", "EUC_JP" }, { "euccn", "EUC_CN" }, { "euckr", "EUC_KR" },
	{ "euctw", "EUC_TW" }, { "eucjis2004", "EUC_JIS_2004" },
	{ "muleinternal", "MULE_INTERNAL" },
	{ "latin1", "LATIN1" }, { "latin2", "LATIN2" }, { "latin3", "LATIN3" },
	{ "latin4", "LATIN4" }, { "latin5", "LATIN5" }, { "latin6", "LATIN6" },
	{ "latin7", "LATIN7" }, { "latin8", "LATIN8" }, { "latin9", "LATIN9" },
	{ "latin10", "LATIN10" },
	{ "iso88591", "LATIN1" }, { "iso88592", "LATIN2" },
	{ "iso88593", "LATIN3" }, { "iso88594", "LATIN4" },
	{ "iso88599", "LATIN5" }, { "iso885910", "LATIN6" },
	{ "iso885913", "LATIN7" }, { "iso885914", "LATIN8" },
	{ "iso885915", "LATIN9" }, { "iso885916", "LATIN10" },
	{ "iso88595", "ISO_8859_5" }, { "iso88596", "ISO_8859_6" },
	{ "iso88597", "ISO_8859_7" }, { "iso88598", "ISO_8859_8" },
	{ "koi8r", "KOI8R" }, { "koi8", "KOI8R" }, { "koi8u", "KOI8U" },
	{ "win866", "WIN866" }, { "alt", "WIN866" }, { "win874", "WIN874" },
	{ "win1250", "WIN1250" }, { "win1251", "WIN1251" }, { "win", "WIN1251" },
	{ "win1252", "WIN1252" }, { "win1253", "WIN1253" },
	{ "win1254", "WIN1254" }, { "win1255", "WIN1255" },
	{ "win1256", "WIN1256" }, { "win1257", "WIN1257" },
	{ "win1258", "WIN1258" }, { "abc", "WIN1258" }, { "tcvn", "WIN1258" },
	{ "tcvn5712", "WIN1258" }, { "vscii", "WIN1258" },
	{ "windows866", "WIN866" }, { "windows874", "WIN874" },
	{ "windows1250", "WIN1250" }, { "windows1251", "WIN1251" },
	{ "windows1252", "WIN1252" }, { "windows1253", "WIN1253" },
	{ "windows1254", "WIN1254" }, { "windows1255", "WIN1255" },
	{ "windows1256", "WIN1256" }, { "windows1257", "WIN1257" },
	{ "windows1258", "WIN1258" },
};

/* The canonical server encoding name for s, or NULL. */
static const char *
encoding_canon(const char *s)
{
	char clean[32];
	size_t n = 0, i;

	if (s == NULL)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			;
		else if (ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch - 'A' + 'a');
		else if (ch == '-' || ch == '_' || ch == ' ')
			continue;
		else
			return NULL;
		if (n + 1 >= sizeof(clean))
			return NULL;
		clean[n++] = (char)ch;
	}
	clean[n] = '\0';
	for (i = 0; i < ARRAY_SIZE(encodings); i++)
		if (strcmp(encodings[i].clean, clean) == 0)
			return encodings[i].name;
	return NULL;
}

/* Locale names: letters, digits and _ . @ - (en_US.UTF-8, C, de_DE@euro). */
static bool
locale_ok(const char *s)
{
	const char *p;

	if (empty(s) || strlen(s) > 128)
		return false;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		    *p == '@' || *p == '-'))
			return false;
	return true;
}

/* Compares locale names the way glibc treats them as the same locale:
 * the codeset after '.' ignores case and '-'/'_' (UTF-8 = utf8), and
 * POSIX is C. */
static void
locale_norm(const char *s, char *out, size_t len)
{
	size_t n = 0;
	bool codeset = false;

	if (strcmp(s, "POSIX") == 0)
		s = "C";
	for (; *s && n + 1 < len; s++) {
		char ch = *s;

		if (ch == '.')
			codeset = true;
		else if (ch == '@')
			codeset = false;
		else if (codeset) {
			if (ch == '-' || ch == '_')
				continue;
			if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch - 'A' + 'a');
		}
		out[n++] = ch;
	}
	out[n] = '\0';
}

static bool
locale_same(const char *a, const char *b)
{
	char na[160], nb[160];

	locale_norm(a ? a : "", na, sizeof(na));
	locale_norm(b ? b : "", nb, sizeof(nb));
	return strcmp(na, nb) == 0;
}

/* Privileges: canonical names, one bit each, in the order statements
 * list them. */
enum {
	PRIV_SELECT, PRIV_INSERT, PRIV_UPDATE, PRIV_DELETE, PRIV_TRUNCATE,
	PRIV_REFERENCES, PRIV_TRIGGER, PRIV_MAINTAIN, PRIV_USAGE, PRIV_CREATE,
	PRIV_CONNECT, PRIV_TEMPORARY, PRIV_EXECUTE, PRIV_ALL, PRIV__COUNT
};

static const char *const priv_names[PRIV__COUNT] = {
	"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES",
	"TRIGGER", "MAINTAIN", "USAGE", "CREATE", "CONNECT", "TEMPORARY",
	"EXECUTE", "ALL",
};

#define B(p) (1u << (p))
#define MASK_TABLE (B(PRIV_SELECT) | B(PRIV_INSERT) | B(PRIV_UPDATE) | \
	B(PRIV_DELETE) | B(PRIV_TRUNCATE) | B(PRIV_REFERENCES) | \
	B(PRIV_TRIGGER) | B(PRIV_MAINTAIN))
#define MASK_SEQUENCE (B(PRIV_USAGE) | B(PRIV_SELECT) | B(PRIV_UPDATE))
#define MASK_FUNCTION B(PRIV_EXECUTE)
#define MASK_SCHEMA (B(PRIV_USAGE) | B(PRIV_CREATE))
#define MASK_DATABASE (B(PRIV_CREATE) | B(PRIV_CONNECT) | B(PRIV_TEMPORARY))
#define MASK_TYPE B(PRIV_USAGE)

/* The privilege index of a keyword ("select", "ALL PRIVILEGES", "TEMP"),
 * or -1. */
static int
priv_lookup(const char *s)
{
	char up[32];
	size_t n = 0;
	int i;

	if (s == NULL)
		return -1;
	for (; *s && n + 1 < sizeof(up); s++)
		up[n++] = (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s;
	if (*s)
		return -1;
	up[n] = '\0';
	if (strcmp(up, "ALL PRIVILEGES") == 0)
		return PRIV_ALL;
	if (strcmp(up, "TEMP") == 0)
		return PRIV_TEMPORARY;
	for (i = 0; i < PRIV__COUNT; i++)
		if (strcmp(up, priv_names[i]) == 0)
			return i;
	return -1;
}

/* What ALL means for a class on this server (MAINTAIN exists from 17). */
static unsigned
mask_all(unsigned class_mask, int version)
{
	if (version < 170000)
		class_mask &= ~B(PRIV_MAINTAIN);
	return class_mask;
}

static const char *
mask_list(unsigned mask, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < PRIV__COUNT; i++)
		if (mask & B(i))
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0,
			    "%s%s", n ? ", " : "", priv_names[i]);
	return buf;
}

/*
 * Reads a privilege list at path into a mask; reports unknown keywords
 * and those outside allowed (what is allowed is named in the message).
 */
static bool
privs_mask(struct pctx *c, const char *path, const struct api_strv *privs,
    unsigned allowed, const char *what, unsigned *out)
{
	char list[160];
	size_t i;

	*out = 0;
	if (privs->n == 0)
		return pfail(c, "%s: must name at least one privilege", path),
		    false;
	for (i = 0; i < privs->n; i++) {
		int p = priv_lookup(privs->v[i]);

		if (p < 0)
			return pfail(c, "%s[%zu]: \"%s\" is not a PostgreSQL "
			    "privilege", path, i, privs->v[i]), false;
		if (allowed && p != PRIV_ALL && !(allowed & B(p)))
			return pfail(c, "%s[%zu]: %s does not apply to %s "
			    "(allowed: %s, ALL)", path, i, priv_names[p], what,
			    mask_list(allowed, list, sizeof(list))), false;
		*out |= B(p);
	}
	return true;
}

static const char *const deftype_kw[API_PG_OBJ__COUNT] = {
	"", "TABLES", "SEQUENCES", "FUNCTIONS", "TYPES",
};
static const char deftype_char[API_PG_OBJ__COUNT] = {
	0, 'r', 'S', 'f', 'T',
};
static const unsigned deftype_mask[API_PG_OBJ__COUNT] = {
	0, MASK_TABLE, MASK_SEQUENCE, MASK_FUNCTION, MASK_TYPE,
};

/* Default privileges held: FOR ROLE role IN SCHEMA schema ON type TO
 * grantee, privilege (with grant option if go). */
static bool
defacl_held(const struct pg_obs_defacls *d, const char *role,
    const char *schema, char objtype, const char *grantee,
    const char *privilege, bool go)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct pg_obs_defacl *e = &d->v[i];

		if (e->objtype == objtype && strcmp(e->role, role) == 0 &&
		    strcmp(e->schema, schema) == 0 &&
		    strcmp(e->grantee, grantee) == 0 &&
		    strcmp(e->privilege, privilege) == 0 && (!go || e->grantable))
			return true;
	}
	return false;
}

static const struct pg_obs_schema *
obs_schema(const struct pg_obs_database *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->n_schemas; i++)
		if (strcmp(o->schemas[i].name, name) == 0)
			return &o->schemas[i];
	return NULL;
}

static const struct pg_obs_extension *
obs_extension(const struct pg_obs_database *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->n_extensions; i++)
		if (strcmp(o->extensions[i].name, name) == 0)
			return &o->extensions[i];
	return NULL;
}

/* Connection limits: -1 is unlimited; 0 is treated as -1, as the original
 * does (it omits 0, and its spec round trip turns 0 into the default -1),
 * so that a manifest written for it does not lock every user out. */
static int32_t
effective_limit(int32_t n)
{
	return n == 0 ? -1 : n;
}

static bool
check_database_spec(struct pctx *c, const struct api_database_spec *w)
{
	const struct api_pg_database *pg = &w->postgres;
	char path[160];
	size_t i;

	if (!check_ident(c, "spec.name", w->name))
		return false;
	if (!pg->set)
		return true;
	if (!empty(pg->encoding) && encoding_canon(pg->encoding) == NULL)
		return pfail(c, "spec.postgres.encoding: \"%s\" is not a "
		    "PostgreSQL server encoding", pg->encoding), false;
	if (!empty(pg->lc_collate) && !locale_ok(pg->lc_collate))
		return pfail(c, "spec.postgres.lcCollate: must be a plain locale "
		    "name (letters, digits, _ . @ -)"), false;
	if (!empty(pg->lc_ctype) && !locale_ok(pg->lc_ctype))
		return pfail(c, "spec.postgres.lcCtype: must be a plain locale "
		    "name (letters, digits, _ . @ -)"), false;
	if (!empty(pg->tablespace) &&
	    !check_ident(c, "spec.postgres.tablespace", pg->tablespace))
		return false;
	if (!empty(pg->template_) &&
	    !check_ident(c, "spec.postgres.template", pg->template_))
		return false;
	if (pg->connection_limit < -1)
		return pfail(c, "spec.postgres.connectionLimit: must be >= -1"),
		    false;
	for (i = 0; i < pg->n_schemas; i++) {
		snprintf(path, sizeof(path), "spec.postgres.schemas[%zu].name", i);
		if (!check_ident(c, path, pg->schemas[i].name))
			return false;
		if (str_has_prefix(pg->schemas[i].name, "pg_"))
			return pfail(c, "%s: names beginning with pg_ are "
			    "reserved", path), false;
		snprintf(path, sizeof(path), "spec.postgres.schemas[%zu].owner",
		    i);
		if (!empty(pg->schemas[i].owner) &&
		    !check_ident(c, path, pg->schemas[i].owner))
			return false;
	}
	for (i = 0; i < pg->n_extensions; i++) {
		const struct api_pg_extension *e = &pg->extensions[i];

		snprintf(path, sizeof(path), "spec.postgres.extensions[%zu].name",
		    i);
		if (!check_ident(c, path, e->name))
			return false;
		snprintf(path, sizeof(path),
		    "spec.postgres.extensions[%zu].schema", i);
		if (!empty(e->schema) && !check_ident(c, path, e->schema))
			return false;
		if (e->version != NULL && (*e->version == '\0' ||
		    !sqlstep_utf8_ok(e->version) || strlen(e->version) > 64))
			return pfail(c, "spec.postgres.extensions[%zu].version: "
			    "must be 1..64 bytes of UTF-8", i), false;
	}
	for (i = 0; i < pg->n_default_privileges; i++) {
		const struct api_pg_default_privilege *d =
		    &pg->default_privileges[i];
		unsigned mask;

		snprintf(path, sizeof(path),
		    "spec.postgres.defaultPrivileges[%zu].role", i);
		if (!check_ident(c, path, d->role))
			return false;
		snprintf(path, sizeof(path),
		    "spec.postgres.defaultPrivileges[%zu].schema", i);
		if (!check_ident(c, path, d->schema))
			return false;
		if (d->object_type <= API_PG_OBJ_NONE ||
		    d->object_type >= API_PG_OBJ__COUNT)
			return pfail(c, "spec.postgres.defaultPrivileges[%zu]."
			    "objectType: must be tables, sequences, functions or "
			    "types", i), false;
		snprintf(path, sizeof(path),
		    "spec.postgres.defaultPrivileges[%zu].privileges", i);
		if (!privs_mask(c, path, &d->privileges,
		    deftype_mask[d->object_type],
		    api_pg_object_type_names[d->object_type], &mask))
			return false;
	}
	if (!pg->allow_connections && (pg->n_extensions || pg->n_schemas ||
	    pg->n_default_privileges))
		return pfail(c, "spec.postgres.allowConnections: is false, but "
		    "extensions, schemas and defaultPrivileges are managed over "
		    "a connection to the database"), false;
	return true;
}

/* CREATE DATABASE with the options of spec.postgres (none without it). */
static void
plan_create_database(struct pctx *c, const struct api_database_spec *w)
{
	const struct api_pg_database *pg = &w->postgres;
	struct buf fmt = BUF_INIT(0);
	struct sqlarg a[8];
	size_t n = 0;
	int r = buf_puts(&fmt, "CREATE DATABASE %I");

#define ARG(k, str, num) (a[n].kind = (k), a[n].s = (char *)(str), \
	a[n].i = (num), n++)
	ARG(SQLARG_IDENT, w->name, 0);
	if (pg->set) {
		r |= buf_puts(&fmt, " WITH");
		if (!empty(pg->template_)) {
			r |= buf_puts(&fmt, " TEMPLATE = %I");
			ARG(SQLARG_IDENT, pg->template_, 0);
		}
		if (!empty(pg->encoding)) {
			r |= buf_puts(&fmt, " ENCODING = %L");
			ARG(SQLARG_LITERAL, encoding_canon(pg->encoding), 0);
		}
		if (!empty(pg->lc_collate)) {
			r |= buf_puts(&fmt, " LC_COLLATE = %L");
			ARG(SQLARG_LITERAL, pg->lc_collate, 0);
		}
		if (!empty(pg->lc_ctype)) {
			r |= buf_puts(&fmt, " LC_CTYPE = %L");
			ARG(SQLARG_LITERAL, pg->lc_ctype, 0);
		}
		if (!empty(pg->tablespace)) {
			r |= buf_puts(&fmt, " TABLESPACE = %I");
			ARG(SQLARG_IDENT, pg->tablespace, 0);
		}
		r |= buf_puts(&fmt, " CONNECTION LIMIT = %d");
		ARG(SQLARG_INT, NULL, effective_limit(pg->connection_limit));
		r |= buf_puts(&fmt, pg->is_template ? " IS_TEMPLATE = true" :
		    " IS_TEMPLATE = false");
		r |= buf_puts(&fmt, pg->allow_connections ?
		    " ALLOW_CONNECTIONS = true" : " ALLOW_CONNECTIONS = false");
	}
#undef ARG
	if (r != 0)
		pfail(c, "internal: statement buffer");
	else
		sqlstep_describe(sqlplan_addv(&c->plan, NULL, SQLSTEP_NO_TXN,
		    buf_cstr(&fmt), a, n), "created database %s", w->name);
	buf_release(&fmt);
}

/* ALTER DATABASE for what may change; errors for what may not. */
static void
plan_alter_database(struct pctx *c, const struct api_database_spec *w,
    const struct pg_obs_database *o)
{
	const struct api_pg_database *pg = &w->postgres;
	struct buf fmt = BUF_INIT(0), what = BUF_INIT(0);
	struct sqlarg a[2];
	size_t n = 0;
	int r = 0;
	int32_t limit = effective_limit(pg->connection_limit);

	if (!empty(pg->encoding) && strcmp0(encoding_canon(pg->encoding),
	    encoding_canon(o->encoding)) != 0) {
		pfail(c, "spec.postgres.encoding: cannot change after creation "
		    "(database %s has %s, the spec asks for %s)", w->name,
		    o->encoding ? o->encoding : "?", pg->encoding);
		return;
	}
	if (!empty(pg->lc_collate) && !locale_same(pg->lc_collate, o->collate)) {
		pfail(c, "spec.postgres.lcCollate: cannot change after creation "
		    "(database %s has %s, the spec asks for %s)", w->name,
		    o->collate ? o->collate : "?", pg->lc_collate);
		return;
	}
	if (!empty(pg->lc_ctype) && !locale_same(pg->lc_ctype, o->ctype)) {
		pfail(c, "spec.postgres.lcCtype: cannot change after creation "
		    "(database %s has %s, the spec asks for %s)", w->name,
		    o->ctype ? o->ctype : "?", pg->lc_ctype);
		return;
	}
	a[n].kind = SQLARG_IDENT;
	a[n].s = w->name;
	n++;
	r |= buf_puts(&fmt, "ALTER DATABASE %I WITH");
	if (limit != o->conn_limit) {
		r |= buf_puts(&fmt, " CONNECTION LIMIT %d");
		a[n].kind = SQLARG_INT;
		a[n].s = NULL;
		a[n].i = limit;
		n++;
		r |= buf_printf(&what, "%sconnection limit %d",
		    what.len ? ", " : "", limit);
	}
	if (pg->is_template != o->is_template) {
		r |= buf_puts(&fmt, pg->is_template ? " IS_TEMPLATE true" :
		    " IS_TEMPLATE false");
		r |= buf_printf(&what, "%sis_template %s", what.len ? ", " : "",
		    pg->is_template ? "true" : "false");
	}
	if (pg->allow_connections != o->allow_conn) {
		r |= buf_puts(&fmt, pg->allow_connections ?
		    " ALLOW_CONNECTIONS true" : " ALLOW_CONNECTIONS false");
		r |= buf_printf(&what, "%sallow_connections %s",
		    what.len ? ", " : "",
		    pg->allow_connections ? "true" : "false");
	}
	if (r != 0)
		pfail(c, "internal: statement buffer");
	else if (what.len)
		sqlstep_describe(sqlplan_addv(&c->plan, NULL, 0, buf_cstr(&fmt),
		    a, n), "altered database %s: %s", w->name, buf_cstr(&what));
	if (!empty(pg->tablespace) && strcmp0(pg->tablespace, o->tablespace))
		sqlstep_describe(sqlplan_add(&c->plan, NULL, SQLSTEP_NO_TXN,
		    "ALTER DATABASE %I SET TABLESPACE %I", w->name,
		    pg->tablespace), "moved database %s to tablespace %s",
		    w->name, pg->tablespace);
	buf_release(&fmt);
	buf_release(&what);
}

/*
 * The role that creates objects in schema, for ALTER DEFAULT PRIVILEGES
 * FOR ROLE: the owner the spec gives the schema, else its observed owner,
 * else the database owner (also for pg_database_owner, the owner of
 * PostgreSQL 15's public schema), else the admin role.
 */
static const char *
schema_creator(const struct api_database_spec *w,
    const struct pg_obs_database *o, const char *schema)
{
	const struct api_pg_database *pg = &w->postgres;
	const struct pg_obs_schema *s;
	size_t i;

	for (i = 0; i < pg->n_schemas; i++)
		if (strcmp(pg->schemas[i].name, schema) == 0 &&
		    !empty(pg->schemas[i].owner))
			return pg->schemas[i].owner;
	if (o->exists && o->inside && (s = obs_schema(o, schema)) != NULL &&
	    strcmp(s->owner, "pg_database_owner") != 0)
		return s->owner;
	if (o->exists && !empty(o->owner))
		return o->owner;
	return o->server.current_user;
}

static void
plan_database_inside(struct pctx *c, const struct api_database_spec *w,
    const struct pg_obs_database *o)
{
	const struct api_pg_database *pg = &w->postgres;
	bool known = o->exists && o->inside;
	const char *db = w->name;
	size_t i;

	/* Schemas first, so that extensions can be created in them. */
	for (i = 0; i < pg->n_schemas; i++) {
		const struct api_pg_schema *s = &pg->schemas[i];
		const struct pg_obs_schema *os = known ? obs_schema(o, s->name) :
		    NULL;

		if (os == NULL && empty(s->owner))
			sqlstep_describe(sqlplan_add(&c->plan, db, 0,
			    "CREATE SCHEMA IF NOT EXISTS %I", s->name),
			    "created schema %s in database %s", s->name, db);
		else if (os == NULL)
			sqlstep_describe(sqlplan_add(&c->plan, db, 0,
			    "CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I",
			    s->name, s->owner),
			    "created schema %s owned by %s in database %s",
			    s->name, s->owner, db);
		else if (!empty(s->owner) && strcmp(os->owner, s->owner) != 0)
			sqlstep_describe(sqlplan_add(&c->plan, db, 0,
			    "ALTER SCHEMA %I OWNER TO %I", s->name, s->owner),
			    "changed owner of schema %s in database %s to %s",
			    s->name, db, s->owner);
	}
	for (i = 0; i < pg->n_extensions; i++) {
		const struct api_pg_extension *e = &pg->extensions[i];
		const struct pg_obs_extension *oe = known ?
		    obs_extension(o, e->name) : NULL;
		struct buf fmt = BUF_INIT(0);
		struct sqlarg a[3];
		size_t n = 0;
		int r;

		if (oe != NULL) {
			/* pg_catalog holds the built-in, non-relocatable ones
			 * (plpgsql): never moved */
			if (!empty(e->schema) && strcmp(oe->schema, e->schema) &&
			    strcmp(oe->schema, "pg_catalog") != 0)
				sqlstep_describe(sqlplan_add(&c->plan, db, 0,
				    "ALTER EXTENSION %I SET SCHEMA %I", e->name,
				    e->schema), "moved extension %s in database "
				    "%s to schema %s", e->name, db, e->schema);
			if (!empty(e->version) &&
			    strcmp(oe->version, e->version) != 0)
				sqlstep_describe(sqlplan_add(&c->plan, db, 0,
				    "ALTER EXTENSION %I UPDATE TO %L", e->name,
				    e->version), "updated extension %s in "
				    "database %s from %s to %s", e->name, db,
				    oe->version, e->version);
			continue;
		}
		a[n].kind = SQLARG_IDENT;
		a[n++].s = e->name;
		r = buf_puts(&fmt, "CREATE EXTENSION IF NOT EXISTS %I");
		if (!empty(e->schema)) {
			r |= buf_puts(&fmt, " SCHEMA %I");
			a[n].kind = SQLARG_IDENT;
			a[n++].s = e->schema;
		}
		if (!empty(e->version)) {
			r |= buf_puts(&fmt, " VERSION %L");
			a[n].kind = SQLARG_LITERAL;
			a[n++].s = e->version;
		}
		if (r != 0)
			pfail(c, "internal: statement buffer");
		else
			sqlstep_describe(sqlplan_addv(&c->plan, db, 0,
			    buf_cstr(&fmt), a, n),
			    "created extension %s in database %s", e->name, db);
		buf_release(&fmt);
	}
	for (i = 0; i < pg->n_default_privileges; i++) {
		const struct api_pg_default_privilege *d =
		    &pg->default_privileges[i];
		const char *creator = schema_creator(w, o, d->schema);
		unsigned mask = 0, want, missing = 0;
		char list[160];
		int p;

		(void)privs_mask(c, "", &d->privileges, 0, "", &mask);
		want = mask & B(PRIV_ALL) ?
		    mask_all(deftype_mask[d->object_type],
		    o->server.version_num) : mask;
		for (p = 0; p < PRIV_ALL; p++)
			if ((want & B(p)) && !(known && defacl_held(&o->defacl,
			    creator, d->schema, deftype_char[d->object_type],
			    d->role, priv_names[p], false)))
				missing |= B(p);
		if (missing == 0)
			continue;
		{
			struct buf fmt = BUF_INIT(0);
			struct sqlarg a[PRIV__COUNT + 4];
			size_t n = 0;
			int r = buf_puts(&fmt, "ALTER DEFAULT PRIVILEGES FOR "
			    "ROLE %I IN SCHEMA %I GRANT ");

			a[n].kind = SQLARG_IDENT;
			a[n++].s = (char *)creator;
			a[n].kind = SQLARG_IDENT;
			a[n++].s = d->schema;
			for (p = 0; p < PRIV_ALL; p++)
				if (missing & B(p)) {
					r |= buf_puts(&fmt, n > 2 ? ", %K" : "%K");
					a[n].kind = SQLARG_KEYWORD;
					a[n++].s = (char *)priv_names[p];
				}
			r |= buf_puts(&fmt, " ON %K TO %I");
			a[n].kind = SQLARG_KEYWORD;
			a[n++].s = (char *)deftype_kw[d->object_type];
			a[n].kind = SQLARG_IDENT;
			a[n++].s = d->role;
			if (r != 0)
				pfail(c, "internal: statement buffer");
			else
				sqlstep_describe(sqlplan_addv(&c->plan, db, 0,
				    buf_cstr(&fmt), a, n), "set default "
				    "privileges in database %s: %s on %s "
				    "created by %s in schema %s to %s", db,
				    mask_list(missing, list, sizeof(list)),
				    deftype_kw[d->object_type], creator,
				    d->schema, d->role);
			buf_release(&fmt);
		}
	}
}

int
pgplan_database(const struct api_database_spec *want,
    const struct pg_obs_database *obs, struct sqlplan *out, char *err,
    size_t errlen)
{
	struct pctx c;

	pctx_init(&c, err, errlen);
	if (!check_database_spec(&c, want))
		return pctx_finish(&c, out);
	if (!obs->exists)
		plan_create_database(&c, want);
	else if (want->postgres.set)
		plan_alter_database(&c, want, obs);
	if (!c.failed && want->postgres.set)
		plan_database_inside(&c, want, obs);
	return pctx_finish(&c, out);
}

int
pgplan_database_drop(const char *name, const struct pg_obs_database *obs,
    bool force, struct sqlplan *out, char *err, size_t errlen)
{
	struct pctx c;

	pctx_init(&c, err, errlen);
	if (!check_ident(&c, "spec.name", name))
		return pctx_finish(&c, out);
	if (strcmp(name, "template0") == 0 || strcmp(name, "template1") == 0)
		pfail(&c, "spec.name: refusing to drop %s", name);
	else if (strcmp(name, obs->server.current_database) == 0)
		pfail(&c, "spec.name: refusing to drop %s, the instance's admin "
		    "database", name);
	if (c.failed || !obs->exists)
		return pctx_finish(&c, out);
	if (obs->is_template)
		sqlstep_describe(sqlplan_add(&c.plan, NULL, 0,
		    "ALTER DATABASE %I WITH IS_TEMPLATE false", name),
		    "marked database %s as no longer a template", name);
	if (force && obs->server.version_num >= 130000) {
		sqlstep_describe(sqlplan_add(&c.plan, NULL, SQLSTEP_NO_TXN,
		    "DROP DATABASE IF EXISTS %I WITH (FORCE)", name),
		    "dropped database %s (sessions terminated)", name);
		return pctx_finish(&c, out);
	}
	if (force) {
		if (obs->allow_conn)
			sqlstep_describe(sqlplan_add(&c.plan, NULL, 0,
			    "ALTER DATABASE %I WITH ALLOW_CONNECTIONS false",
			    name), "stopped new connections to database %s",
			    name);
		sqlstep_describe(sqlplan_add(&c.plan, NULL, 0,
		    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
		    "WHERE datname = %P AND pid <> pg_backend_pid()", name),
		    "terminated the sessions of database %s", name);
	}
	sqlstep_describe(sqlplan_add(&c.plan, NULL, SQLSTEP_NO_TXN,
	    "DROP DATABASE IF EXISTS %I", name), "dropped database %s", name);
	return pctx_finish(&c, out);
}

/* ==== roles ========================================================== */

/* What a role should look like, from a DatabaseUser or DatabaseRole. */
struct role_want {
	const char *name;
	const char *name_path;		/* "spec.username" */
	const char *what;		/* "user" or "role", for messages */
	bool manage;			/* spec.postgres present: re-sync */
	bool login, superuser, create_db, create_role, inherit;
	bool replication, bypass_rls;
	bool has_limit;
	int32_t conn_limit;
	const char *valid_until;
	const struct api_strv *in_roles;
	const struct api_map *config;
	const char *verifier;
};

/* List-valued settings: their value is a list of literals. */
static const char *const list_gucs[] = {
	"search_path", "temp_tablespaces", "local_preload_libraries",
	"session_preload_libraries",
};

static bool
guc_is_list(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(list_gucs); i++)
		if (strcasecmp(list_gucs[i], name) == 0)
			return true;
	return false;
}

/*
 * Splits a list setting the way PostgreSQL prints it ("$user", public):
 * items separated by commas, surrounding spaces dropped, double quotes
 * removed ("" inside quotes is one "). Returns the number of items or -1
 * on an unterminated quote.
 */
static int
split_list(const char *s, struct api_strv *out)
{
	struct buf item = BUF_INIT(0);
	int r = 0;

	for (;;) {
		buf_reset(&item);
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '"') {
			for (s++;; s++) {
				if (*s == '\0') {
					buf_release(&item);
					return -1;
				}
				if (*s == '"' && s[1] == '"')
					s++;
				else if (*s == '"')
					break;
				r |= buf_putc(&item, *s);
			}
			s++;
			while (*s == ' ' || *s == '\t')
				s++;
		} else {
			const char *start = s, *end;

			while (*s && *s != ',')
				s++;
			end = s;
			while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			r |= buf_append(&item, start, (size_t)(end - start));
		}
		if (*s != ',' && *s != '\0') {
			buf_release(&item);
			return -1;
		}
		api_strv_push(out, buf_cstr(&item));
		if (*s == '\0')
			break;
		s++;
	}
	buf_release(&item);
	return r ? -1 : (int)out->n;
}

static bool
strv_equal(const struct api_strv *a, const struct api_strv *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

/* Setting names: identifiers, optionally dotted (app.tenant). */
static bool
guc_name_ok(const char *s)
{
	bool start = true;

	for (; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    *s == '_')
			start = false;
		else if ((*s >= '0' && *s <= '9') || *s == '$') {
			if (start)
				return false;
		} else if (*s == '.' && !start)
			start = true;
		else
			return false;
	}
	return !start;
}

/* Does the observed value of a setting equal the wanted one? */
static bool
guc_same(const char *name, const char *want, const char *have)
{
	struct api_strv a = { 0 }, b = { 0 };
	bool same;

	if (have == NULL)
		return false;
	if (!guc_is_list(name) || *want == '\0')
		return strcmp(want, have) == 0;
	same = split_list(want, &a) >= 0 && split_list(have, &b) >= 0 &&
	    strv_equal(&a, &b);
	api_strv_release(&a);
	api_strv_release(&b);
	return same;
}

static void
plan_guc(struct pctx *c, const char *role, const char *name,
    const char *value)
{
	struct api_strv items = { 0 };
	struct buf fmt = BUF_INIT(0);
	struct sqlarg *a;
	size_t i, n = 0;
	int r;

	if (guc_is_list(name) && *value != '\0' &&
	    split_list(value, &items) < 0) {
		pfail(c, "spec.postgres.configParameters[%s]: unterminated "
		    "double quote in the list", name);
		return;
	}
	a = xcalloc(items.n + 3, sizeof(*a));
	a[n].kind = SQLARG_IDENT;
	a[n++].s = (char *)role;
	a[n].kind = SQLARG_IDENT;
	a[n++].s = (char *)name;
	r = buf_puts(&fmt, "ALTER ROLE %I SET %I = ");
	if (items.n == 0) {
		r |= buf_puts(&fmt, "%L");
		a[n].kind = SQLARG_LITERAL;
		a[n++].s = (char *)value;
	}
	for (i = 0; i < items.n; i++) {
		r |= buf_puts(&fmt, i ? ", %L" : "%L");
		a[n].kind = SQLARG_LITERAL;
		a[n++].s = items.v[i];
	}
	if (r != 0)
		pfail(c, "internal: statement buffer");
	else
		sqlstep_describe(sqlplan_addv(&c->plan, NULL, 0, buf_cstr(&fmt),
		    a, n), "set %s for role %s", name, role);
	free(a);
	buf_release(&fmt);
	api_strv_release(&items);
}

/* validUntil: 0 = no expiry, 1 = *t, -1 = not understood. */
static int
valid_until_want(const char *s, time_t *t)
{
	struct timespec ts;

	if (empty(s) || strcasecmp(s, "infinity") == 0)
		return 0;
	if (timefmt_parse(s, &ts, NULL, 0) < 0)
		return -1;
	*t = ts.tv_sec;
	return 1;
}

/* Observed: 0 = no expiry, 1 = *t, 2 = -infinity. */
static int
valid_until_have(const char *s, time_t *t)
{
	long long v;

	if (s == NULL || strcmp(s, "infinity") == 0)
		return 0;
	if (strcmp(s, "-infinity") == 0)
		return 2;
	if (parse_long(s, LLONG_MIN, LLONG_MAX, &v) < 0)
		return 2;
	*t = (time_t)v;
	return 1;
}

/* A password verifier as PQencryptPasswordConn makes them: SCRAM-SHA-256
 * or md5; anything else could be a plaintext password. */
static bool
verifier_ok(const char *v)
{
	const char *p;

	if (str_has_prefix(v, "SCRAM-SHA-256$")) {
		for (p = v; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || strchr("+/=:$-", *p)))
				return false;
		return strchr(v + 14, ':') != NULL && strchr(v + 14, '$') != NULL;
	}
	if (str_has_prefix(v, "md5") && strlen(v) == 35) {
		for (p = v + 3; *p; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
				return false;
		return true;
	}
	return false;
}

static bool
check_role_want(struct pctx *c, const struct role_want *w,
    const struct pg_obs_role *o, time_t *vu, int *vu_kind)
{
	char path[160];
	size_t i;

	if (!check_ident(c, w->name_path, w->name))
		return false;
	if (str_has_prefix(w->name, "pg_"))
		return pfail(c, "%s: names beginning with pg_ are reserved",
		    w->name_path), false;
	if (strcasecmp(w->name, "public") == 0 ||
	    strcasecmp(w->name, "none") == 0 ||
	    strcasecmp(w->name, "current_user") == 0 ||
	    strcasecmp(w->name, "current_role") == 0 ||
	    strcasecmp(w->name, "session_user") == 0)
		return pfail(c, "%s: \"%s\" is reserved", w->name_path,
		    w->name), false;
	if (o->server.current_user[0] &&
	    strcmp(w->name, o->server.current_user) == 0)
		return pfail(c, "%s: %s is the instance's admin role; refusing "
		    "to manage it", w->name_path, w->name), false;
	if (w->has_limit && w->conn_limit < -1)
		return pfail(c, "spec.postgres.connectionLimit: must be >= -1"),
		    false;
	*vu_kind = valid_until_want(w->valid_until, vu);
	if (*vu_kind < 0)
		return pfail(c, "spec.postgres.validUntil: must be an RFC 3339 "
		    "time (2030-01-01T00:00:00Z) or infinity"), false;
	for (i = 0; w->in_roles && i < w->in_roles->n; i++) {
		snprintf(path, sizeof(path), "spec.postgres.inRoles[%zu]", i);
		if (!check_ident(c, path, w->in_roles->v[i]))
			return false;
		if (strcmp(w->in_roles->v[i], w->name) == 0)
			return pfail(c, "%s: a role cannot be a member of "
			    "itself", path), false;
	}
	for (i = 0; w->config && i < w->config->n; i++) {
		const struct api_kv *kv = &w->config->v[i];

		snprintf(path, sizeof(path), "spec.postgres.configParameters[%s]",
		    kv->key);
		if (sqlstep_ident_problem(kv->key) != NULL ||
		    !guc_name_ok(kv->key))
			return pfail(c, "%s: not a setting name (letters, "
			    "digits, _ and dots, at most 63 bytes)", path), false;
		if (kv->val == NULL || !sqlstep_utf8_ok(kv->val))
			return pfail(c, "%s: the value must be UTF-8 text", path),
			    false;
	}
	if (w->verifier != NULL && !verifier_ok(w->verifier))
		return pfail(c, "password: not a SCRAM-SHA-256 or md5 verifier "
		    "(plaintext passwords are never sent)"), false;
	return true;
}

static void
attr(struct buf *fmt, struct buf *what, bool on, const char *yes,
    const char *no)
{
	int r = buf_printf(fmt, " %s", on ? yes : no);

	r |= buf_printf(what, "%s%s", what->len ? ", " : "", on ? yes : no);
	(void)r;		/* uncapped buffers */
}

static void
plan_role(struct pctx *c, const struct role_want *w,
    const struct pg_obs_role *o)
{
	struct buf fmt = BUF_INIT(0), what = BUF_INIT(0);
	struct sqlarg a[4];
	size_t n = 0, i;
	time_t vu = 0, have_vu = 0;
	int vu_kind = 0, have_kind;
	char ts[TIMEFMT_TIME_LEN];
	bool create = !o->exists;

	if (!check_role_want(c, w, o, &vu, &vu_kind))
		return;
	if (vu_kind == 1 && timefmt_time((struct timespec){ vu, 0 }, ts,
	    sizeof(ts)) < 0) {
		pfail(c, "spec.postgres.validUntil: year out of range");
		return;
	}
	have_kind = valid_until_have(o->valid_until, &have_vu);
	a[n].kind = SQLARG_IDENT;
	a[n++].s = (char *)w->name;
	bputs(&fmt, create ? "CREATE ROLE %I WITH" :
	    "ALTER ROLE %I WITH");
	if (create || (w->manage && w->login != o->login))
		attr(&fmt, &what, w->login, "LOGIN", "NOLOGIN");
	if (create || (w->manage && w->superuser != o->superuser))
		attr(&fmt, &what, w->superuser, "SUPERUSER", "NOSUPERUSER");
	if (create || (w->manage && w->create_db != o->create_db))
		attr(&fmt, &what, w->create_db, "CREATEDB", "NOCREATEDB");
	if (create || (w->manage && w->create_role != o->create_role))
		attr(&fmt, &what, w->create_role, "CREATEROLE", "NOCREATEROLE");
	if (create || (w->manage && w->inherit != o->inherit))
		attr(&fmt, &what, w->inherit, "INHERIT", "NOINHERIT");
	if (create || (w->manage && w->replication != o->replication))
		attr(&fmt, &what, w->replication, "REPLICATION",
		    "NOREPLICATION");
	if (create || (w->manage && w->bypass_rls != o->bypass_rls))
		attr(&fmt, &what, w->bypass_rls, "BYPASSRLS", "NOBYPASSRLS");
	if (w->has_limit && (create ? effective_limit(w->conn_limit) != -1 :
	    w->manage && effective_limit(w->conn_limit) != o->conn_limit)) {
		bputs(&fmt, " CONNECTION LIMIT %d");
		a[n].kind = SQLARG_INT;
		a[n].s = NULL;
		a[n++].i = effective_limit(w->conn_limit);
		bprintf(&what, "%sconnection limit %d",
		    what.len ? ", " : "", effective_limit(w->conn_limit));
	}
	if (vu_kind == 1 && (create || (w->manage && (have_kind != 1 ||
	    have_vu != vu)))) {
		bputs(&fmt, " VALID UNTIL %L");
		a[n].kind = SQLARG_LITERAL;
		a[n++].s = ts;
		bprintf(&what, "%svalid until %s", what.len ? ", " : "",
		    ts);
	} else if (vu_kind == 0 && !create && w->manage && have_kind != 0) {
		bputs(&fmt, " VALID UNTIL %L");
		a[n].kind = SQLARG_LITERAL;
		a[n++].s = "infinity";
		bprintf(&what, "%sno expiry", what.len ? ", " : "");
	}
	if (create && w->verifier != NULL) {
		bputs(&fmt, " PASSWORD %S");
		a[n].kind = SQLARG_SECRET;
		a[n++].s = (char *)w->verifier;
	}
	if (create)
		sqlstep_describe(sqlplan_addv(&c->plan, NULL, 0, buf_cstr(&fmt),
		    a, n), "created %s %s", w->what, w->name);
	else if (what.len)
		sqlstep_describe(sqlplan_addv(&c->plan, NULL, 0, buf_cstr(&fmt),
		    a, n), "updated %s %s: %s", w->what, w->name,
		    buf_cstr(&what));
	buf_release(&fmt);
	buf_release(&what);
	if (!create && w->verifier != NULL)
		sqlstep_describe(sqlplan_add(&c->plan, NULL, 0,
		    "ALTER ROLE %I WITH PASSWORD %S", w->name, w->verifier),
		    "set the password of %s %s", w->what, w->name);
	for (i = 0; w->in_roles && i < w->in_roles->n; i++) {
		const char *r = w->in_roles->v[i];

		if (!create && api_strv_contains(&o->member_of, r))
			continue;
		sqlstep_describe(sqlplan_add(&c->plan, NULL, 0,
		    "GRANT %I TO %I", r, w->name), "granted role %s to %s",
		    r, w->name);
	}
	for (i = 0; w->config && i < w->config->n; i++) {
		const struct api_kv *kv = &w->config->v[i];
		const char *have = NULL;
		size_t j;

		for (j = 0; !create && j < o->config.n; j++)
			if (strcasecmp(o->config.v[j].key, kv->key) == 0)
				have = o->config.v[j].val;
		if (!guc_same(kv->key, kv->val, have))
			plan_guc(c, w->name, kv->key, kv->val);
	}
}

int
pgplan_user(const struct api_user_spec *want, const char *verifier,
    const struct pg_obs_role *obs, struct sqlplan *out, char *err,
    size_t errlen)
{
	const struct api_pg_user *pg = &want->postgres;
	struct role_want w;
	struct pctx c;

	memset(&w, 0, sizeof(w));
	w.name = want->username;
	w.name_path = "spec.username";
	w.what = "user";
	w.manage = pg->set;
	w.login = pg->set ? pg->login : true;
	w.inherit = pg->set ? pg->inherit : true;
	w.superuser = pg->superuser;
	w.create_db = pg->create_db;
	w.create_role = pg->create_role;
	w.replication = pg->replication;
	w.bypass_rls = pg->bypass_rls;
	w.has_limit = pg->set;
	w.conn_limit = pg->set ? pg->connection_limit : -1;
	w.valid_until = pg->valid_until;
	w.in_roles = &pg->in_roles;
	w.config = &pg->config_parameters;
	w.verifier = verifier;
	pctx_init(&c, err, errlen);
	plan_role(&c, &w, obs);
	return pctx_finish(&c, out);
}

int
pgplan_role(const struct api_role_spec *want, const struct pg_obs_role *obs,
    struct sqlplan *out, char *err, size_t errlen)
{
	const struct api_pg_role *pg = &want->postgres;
	struct role_want w;
	struct pctx c;

	memset(&w, 0, sizeof(w));
	w.name = want->role_name;
	w.name_path = "spec.roleName";
	w.what = "role";
	w.manage = pg->set;
	w.login = pg->login;
	w.inherit = pg->set ? pg->inherit : true;
	w.superuser = pg->superuser;
	w.create_db = pg->create_db;
	w.create_role = pg->create_role;
	w.replication = pg->replication;
	w.bypass_rls = pg->bypass_rls;
	w.in_roles = &pg->in_roles;
	pctx_init(&c, err, errlen);
	plan_role(&c, &w, obs);
	return pctx_finish(&c, out);
}

int
pgplan_role_drop(const char *name, const struct pg_obs_role *obs,
    struct sqlplan *out, char *err, size_t errlen)
{
	struct pctx c;
	size_t i, j;

	pctx_init(&c, err, errlen);
	if (!check_ident(&c, "name", name))
		return pctx_finish(&c, out);
	if (str_has_prefix(name, "pg_"))
		pfail(&c, "name: refusing to drop the reserved role %s", name);
	else if (strcmp(name, obs->server.current_user) == 0)
		pfail(&c, "name: refusing to drop %s, the instance's admin role",
		    name);
	if (c.failed || !obs->exists)
		return pctx_finish(&c, out);
	for (i = 0; i < obs->n_deps; i++) {
		const struct pg_obs_dep *d = &obs->deps[i];
		const char *db = d->database;
		bool seen = false;

		if (*db == '\0' || strcmp(db, obs->server.current_database) == 0)
			db = NULL;
		for (j = 0; j < i; j++) {
			const char *e = obs->deps[j].database;

			if (*e == '\0' ||
			    strcmp(e, obs->server.current_database) == 0)
				e = NULL;
			if (strcmp0(e, db) == 0)
				seen = true;
		}
		if (seen)
			continue;
		if (!d->allow_conn) {
			pfail(&c, "name: role %s owns objects or holds privileges "
			    "in database %s, which does not accept connections, "
			    "so REASSIGN OWNED and DROP OWNED cannot run there",
			    name, d->database);
			return pctx_finish(&c, out);
		}
		sqlstep_describe(sqlplan_add(&c.plan, db, 0,
		    "REASSIGN OWNED BY %I TO CURRENT_USER", name),
		    "reassigned the objects of role %s in database %s to %s",
		    name, db ? db : obs->server.current_database,
		    obs->server.current_user);
		sqlstep_describe(sqlplan_add(&c.plan, db, 0,
		    "DROP OWNED BY %I", name),
		    "dropped the privileges of role %s in database %s", name,
		    db ? db : obs->server.current_database);
	}
	sqlstep_describe(sqlplan_add(&c.plan, NULL, 0, "DROP ROLE IF EXISTS %I",
	    name), "dropped role %s", name);
	return pctx_finish(&c, out);
}

/* ==== privileges ===================================================== */

const char *const pg_obj_names[PG_OBJ__COUNT] = {
	"role", "database", "schema", "table", "sequence", "function",
	"all-tables", "all-sequences", "all-functions", "default",
};

void
pg_privset_init(struct pg_privset *s)
{
	memset(s, 0, sizeof(*s));
}

static void
priv_free(struct pg_priv *p)
{
	free(p->database);
	free(p->schema);
	free(p->name);
	free(p->args);
	free(p->privilege);
}

void
pg_privset_release(struct pg_privset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		priv_free(&s->v[i]);
	free(s->v);
	pg_privset_init(s);
}

static const char *
nz(const char *s)
{
	return s && *s ? s : NULL;
}

static bool
same_identity(const struct pg_priv *a, const struct pg_priv *b)
{
	return a->obj == b->obj && a->deftype == b->deftype &&
	    strcmp0(a->database, b->database) == 0 &&
	    strcmp0(a->schema, b->schema) == 0 &&
	    strcmp0(a->name, b->name) == 0 &&
	    (a->args == NULL) == (b->args == NULL) &&
	    strcmp0(a->args, b->args) == 0 &&
	    strcmp0(a->privilege, b->privilege) == 0;
}

void
pg_privset_add(struct pg_privset *s, const struct pg_priv *p)
{
	struct pg_priv q = *p, *d;
	size_t i;

	/* memberships and database privileges live in the admin database */
	if (q.obj == PG_OBJ_ROLE || q.obj == PG_OBJ_DATABASE)
		q.database = NULL;
	q.database = (char *)nz(q.database);
	q.schema = (char *)nz(q.schema);
	if (q.obj != PG_OBJ_DEFAULT)
		q.deftype = API_PG_OBJ_NONE;
	for (i = 0; i < s->n; i++)
		if (same_identity(&s->v[i], &q)) {
			s->v[i].grant_option |= q.grant_option;
			return;
		}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	d = &s->v[s->n++];
	d->obj = q.obj;
	d->database = xstrdup(q.database);
	d->schema = xstrdup(q.schema);
	d->name = xstrdup(q.name);
	d->args = xstrdup(q.args);
	d->privilege = xstrdup(q.privilege);
	d->deftype = q.deftype;
	d->grant_option = q.grant_option;
}

void
pg_privset_union(struct pg_privset *dst, const struct pg_privset *src)
{
	size_t i;

	for (i = 0; src && i < src->n; i++)
		pg_privset_add(dst, &src->v[i]);
}

void
pg_privset_roles(const struct pg_privset *s, struct api_strv *out)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].obj == PG_OBJ_ROLE &&
		    !api_strv_contains(out, s->v[i].name))
			api_strv_push(out, s->v[i].name);
}

void
pg_privset_write(struct jw *w, const struct pg_privset *s)
{
	size_t i;

	jw_arr_open(w);
	for (i = 0; i < s->n; i++) {
		const struct pg_priv *p = &s->v[i];

		jw_obj_open(w);
		jw_kstr(w, "o", pg_obj_names[p->obj]);
		if (p->database)
			jw_kstr(w, "d", p->database);
		if (p->schema)
			jw_kstr(w, "s", p->schema);
		if (p->name)
			jw_kstr(w, "n", p->name);
		if (p->args)
			jw_kstr(w, "a", p->args);
		if (p->privilege)
			jw_kstr(w, "p", p->privilege);
		if (p->obj == PG_OBJ_DEFAULT)
			jw_kstr(w, "t", api_pg_object_type_names[p->deftype]);
		if (p->grant_option)
			jw_kbool(w, "g", true);
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

/* "integer, text": %T type names joined by ", " ("" is fine). */
static bool
args_ok(const char *args)
{
	const char *a = args, *comma;
	bool okay = true;

	if (*args == '\0')
		return true;
	for (;;) {
		char *one;

		comma = strstr(a, ", ");
		one = comma ? xstrndup(a, (size_t)(comma - a)) : xstrdup(a);
		okay = okay && sqlstep_type_ok(one);
		free(one);
		if (comma == NULL)
			return okay;
		a = comma + 2;
	}
}

/* Reads an optional string member (required: must be present). */
static int
read_member(yajl_val o, const char *key, bool required, const char **out)
{
	yajl_val v = json_get(o, key, NULL);

	*out = NULL;
	if (v == NULL)
		return required ? -1 : 0;
	if ((*out = json_str(v)) == NULL)
		return -1;
	return 0;
}

int
pg_privset_read(yajl_val v, struct pg_privset *s, char *err, size_t errlen)
{
	size_t i;

	if (!YAJL_IS_ARRAY(v)) {
		snprintf(err, errlen, "applied set: not an array");
		return -1;
	}
	for (i = 0; i < json_len(v); i++) {
		yajl_val o = json_at(v, i);
		struct pg_priv p;
		const char *kind, *t = NULL;
		bool g = false;
		int k, priv = -1;

		memset(&p, 0, sizeof(p));
		if (!YAJL_IS_OBJECT(o) || read_member(o, "o", true, &kind) ||
		    read_member(o, "d", false, (const char **)&p.database) ||
		    read_member(o, "s", false, (const char **)&p.schema) ||
		    read_member(o, "n", false, (const char **)&p.name) ||
		    read_member(o, "a", false, (const char **)&p.args) ||
		    read_member(o, "p", false, (const char **)&p.privilege) ||
		    read_member(o, "t", false, &t))
			goto bad;
		if (json_get(o, "g", NULL) && !json_bool(json_get(o, "g", NULL),
		    &g))
			goto bad;
		for (k = 0; k < PG_OBJ__COUNT; k++)
			if (strcmp(kind, pg_obj_names[k]) == 0)
				break;
		if (k == PG_OBJ__COUNT)
			goto bad;
		p.obj = (enum pg_obj)k;
		p.grant_option = g;
		if ((p.database && sqlstep_ident_problem(p.database)) ||
		    (p.schema && sqlstep_ident_problem(p.schema)) ||
		    (p.name && sqlstep_ident_problem(p.name)))
			goto bad;
		if (p.obj == PG_OBJ_ROLE) {
			if (p.name == NULL || p.privilege != NULL)
				goto bad;
		} else {
			priv = priv_lookup(p.privilege);
			if (priv < 0 || priv == PRIV_ALL ||
			    strcmp(priv_names[priv], p.privilege) != 0)
				goto bad;
		}
		switch (p.obj) {
		case PG_OBJ_DATABASE:
			if (p.name == NULL)
				goto bad;
			break;
		case PG_OBJ_SCHEMA:
		case PG_OBJ_ALL_TABLES:
		case PG_OBJ_ALL_SEQUENCES:
		case PG_OBJ_ALL_FUNCTIONS:
			if (p.schema == NULL)
				goto bad;
			break;
		case PG_OBJ_TABLE:
		case PG_OBJ_SEQUENCE:
			if (p.schema == NULL || p.name == NULL)
				goto bad;
			break;
		case PG_OBJ_FUNCTION:
			if (p.schema == NULL || p.name == NULL)
				goto bad;
			if (p.args != NULL && !args_ok(p.args))
				goto bad;
			break;
		case PG_OBJ_DEFAULT:
			if (p.schema == NULL || p.name == NULL || t == NULL)
				goto bad;
			p.deftype = (enum api_pg_object_type)api_enum_lookup(
			    api_pg_object_type_names, API_PG_OBJ__COUNT, t);
			if (p.deftype == API_PG_OBJ_NONE)
				goto bad;
			break;
		case PG_OBJ_ROLE:
		case PG_OBJ__COUNT:
			break;
		}
		pg_privset_add(s, &p);
		continue;
bad:
		snprintf(err, errlen, "applied set: entry %zu is malformed", i);
		return -1;
	}
	return 0;
}

void
pg_obs_grants_init(struct pg_obs_grants *o)
{
	memset(o, 0, sizeof(*o));
}

void
pg_obs_grants_release(struct pg_obs_grants *o)
{
	size_t i, j;

	api_strv_release(&o->member_of);
	for (i = 0; i < o->n_dbs; i++) {
		struct pg_obs_grants_db *d = &o->dbs[i];

		free(d->name);
		pg_privset_release(&d->acl);
		for (j = 0; j < d->n_counts; j++)
			free(d->counts[j].schema);
		free(d->counts);
		pg_obs_defacls_release(&d->defacl);
	}
	free(o->dbs);
	pg_obs_grants_init(o);
}

struct pg_obs_grants_db *
pg_obs_grants_db_add(struct pg_obs_grants *o, const char *name)
{
	struct pg_obs_grants_db *d;

	o->dbs = grow(o->dbs, o->n_dbs, sizeof(*o->dbs));
	d = &o->dbs[o->n_dbs++];
	memset(d, 0, sizeof(*d));
	d->name = xstrdup(name ? name : "");
	return d;
}

int
pg_obs_acl_row(struct pg_obs_grants_db *db, const char *const *col, int ncol)
{
	static const struct {
		const char *kind;
		enum pg_obj obj;
	} kinds[] = {
		{ "database", PG_OBJ_DATABASE }, { "schema", PG_OBJ_SCHEMA },
		{ "table", PG_OBJ_TABLE }, { "sequence", PG_OBJ_SEQUENCE },
		{ "function", PG_OBJ_FUNCTION },
	};
	struct pg_priv p;
	size_t i;
	bool g;

	if (ncol != 6 || col[0] == NULL || col[1] == NULL || col[2] == NULL ||
	    col[3] == NULL || col[4] == NULL || parse_bool(col[5], &g) < 0)
		return -1;
	memset(&p, 0, sizeof(p));
	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		if (strcmp(col[0], kinds[i].kind) == 0)
			break;
	if (i == ARRAY_SIZE(kinds))
		return -1;
	p.obj = kinds[i].obj;
	p.schema = (char *)col[1];
	p.name = (char *)col[2];
	p.args = p.obj == PG_OBJ_FUNCTION ? (char *)col[3] : NULL;
	p.privilege = (char *)col[4];
	p.grant_option = g;
	if (p.obj == PG_OBJ_DATABASE || p.obj == PG_OBJ_SCHEMA)
		p.schema = p.obj == PG_OBJ_SCHEMA ? (char *)col[2] : NULL;
	pg_privset_add(&db->acl, &p);
	return 0;
}

int
pg_obs_count_row(struct pg_obs_grants_db *db, const char *const *col,
    int ncol)
{
	struct pg_obs_count *c;
	long long t, s, f;

	if (ncol != 4 || col[0] == NULL ||
	    parse_long(col[1], 0, LONG_MAX, &t) < 0 ||
	    parse_long(col[2], 0, LONG_MAX, &s) < 0 ||
	    parse_long(col[3], 0, LONG_MAX, &f) < 0)
		return -1;
	db->counts = grow(db->counts, db->n_counts, sizeof(*db->counts));
	c = &db->counts[db->n_counts++];
	c->schema = xstrdup(col[0]);
	c->tables = (long)t;
	c->sequences = (long)s;
	c->functions = (long)f;
	return 0;
}

/* ---- expanding the spec into single privileges ----------------------- */

static void
want_add(struct pg_privset *s, enum pg_obj obj, const char *db,
    const char *schema, const char *name, const char *args, int priv,
    bool go, enum api_pg_object_type deftype)
{
	struct pg_priv p;

	p.obj = obj;
	p.database = (char *)db;
	p.schema = (char *)schema;
	p.name = (char *)name;
	p.args = (char *)args;
	p.privilege = priv >= 0 ? (char *)priv_names[priv] : NULL;
	p.deftype = deftype;
	p.grant_option = go;
	pg_privset_add(s, &p);
}

static void
want_mask(struct pg_privset *s, enum pg_obj obj, const char *db,
    const char *schema, const char *name, const char *args, unsigned mask,
    bool go)
{
	int p;

	for (p = 0; p < PRIV_ALL; p++)
		if (mask & B(p))
			want_add(s, obj, db, schema, name, args, p, go,
			    API_PG_OBJ_NONE);
}

/* Function argument types as PostgreSQL prints them (oidvectortypes). */
static const struct {
	const char *alias;
	const char *name;
} type_aliases[] = {
	{ "int", "integer" }, { "int4", "integer" }, { "int2", "smallint" },
	{ "int8", "bigint" }, { "float4", "real" }, { "float8",
	"double precision" }, { "float", "double precision" },
	{ "bool", "boolean" }, { "varchar", "character varying" },
	{ "char", "character" }, { "bpchar", "character" },
	{ "timestamptz", "timestamp with time zone" },
	{ "timestamp", "timestamp without time zone" },
	{ "timetz", "time with time zone" },
	{ "time", "time without time zone" }, { "decimal", "numeric" },
	{ "varbit", "bit varying" },
};

/*
 * One argument type: lower case, single spaces, (n[,m]) modifiers and IN
 * / VARIADIC dropped, aliases resolved. Returns a malloc'ed string, or
 * NULL when it is not a plain type name.
 */
static char *
norm_type(const char *s)
{
	struct buf b = BUF_INIT(256);
	int depth = 0, r = 0;
	char *t, *base;
	size_t i, blen;

	for (; *s; s++) {
		char ch = *s;

		if (ch == '(') {
			depth++;
			continue;
		}
		if (ch == ')') {
			if (--depth < 0)
				break;
			continue;
		}
		if (depth)
			continue;
		if (ch == ' ' || ch == '\t' || ch == '\n') {
			if (b.len && buf_cstr(&b)[b.len - 1] != ' ')
				r |= buf_putc(&b, ' ');
			continue;
		}
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		r |= buf_putc(&b, ch);
	}
	if (depth != 0 || r != 0) {
		buf_release(&b);
		return NULL;
	}
	t = buf_detach(&b, NULL);
	blen = strlen(t);
	while (blen && t[blen - 1] == ' ')
		t[--blen] = '\0';
	base = t;
	if (str_has_prefix(base, "in "))
		base += 3;
	else if (str_has_prefix(base, "variadic "))
		base += 9;
	/* "character varying []" -> "character varying[]" */
	{
		char *sp;

		while ((sp = strstr(base, " [")) != NULL)
			memmove(sp, sp + 1, strlen(sp));
	}
	blen = strcspn(base, "[");
	for (i = 0; i < ARRAY_SIZE(type_aliases); i++)
		if (strlen(type_aliases[i].alias) == blen &&
		    strncmp(base, type_aliases[i].alias, blen) == 0) {
			char *n = xasprintf("%s%s", type_aliases[i].name,
			    base + blen);

			free(t);
			t = base = n;
			break;
		}
	if (base != t) {
		char *n = xstrdup(base);

		free(t);
		t = n;
	}
	if (!sqlstep_type_ok(t)) {
		free(t);
		return NULL;
	}
	return t;
}

/*
 * "name" or "name(type, ...)" into *name and *args (NULL without a list,
 * "" for "name()"). Reports at path.
 */
static bool
parse_function(struct pctx *c, const char *path, const char *spec,
    char **name, char **args)
{
	const char *open = strchr(spec, '('), *close, *p, *start;
	struct buf a = BUF_INIT(0);
	int depth = 0;
	size_t len;

	*name = *args = NULL;
	len = open ? (size_t)(open - spec) : strlen(spec);
	while (len && spec[len - 1] == ' ')
		len--;
	*name = xstrndup(spec, len);
	if (!check_ident(c, path, *name))
		goto fail;
	if (open == NULL)
		return true;
	close = open + strlen(open);
	while (close > open && close[-1] == ' ')
		close--;
	if (close - open < 2 || close[-1] != ')') {
		pfail(c, "%s: the argument list must end with ')'", path);
		goto fail;
	}
	close--;			/* at the final ')' */
	for (p = open + 1; p < close && *p == ' '; p++)
		;
	for (start = p; p <= close; p++) {
		char *piece, *t;

		if (p < close && *p == '(') {
			depth++;
			continue;
		}
		if (p < close && *p == ')' && --depth < 0)
			break;
		if (p < close && (*p != ',' || depth > 0))
			continue;
		if (p == close && depth != 0)
			break;
		if (p == close && p == start && a.len == 0)
			break;		/* "f()" */
		piece = xstrndup(start, (size_t)(p - start));
		t = norm_type(piece);
		if (t == NULL) {
			pfail(c, "%s: argument type \"%s\" is not a plain type "
			    "name", path, piece);
			free(piece);
			goto fail;
		}
		free(piece);
		bprintf(&a, "%s%s", a.len ? ", " : "", t);
		free(t);
		start = p + 1;
	}
	if (depth != 0) {
		pfail(c, "%s: unbalanced parentheses in the argument list", path);
		goto fail;
	}
	*args = buf_detach(&a, NULL);
	return true;
fail:
	buf_release(&a);
	free(*name);
	*name = NULL;
	return false;
}

/* Objects of one class (tables, sequences, functions) of a grant. */
static void
expand_objects(struct pctx *c, struct pg_privset *s, const char *path,
    const char *list, const struct api_strv *names, enum pg_obj one,
    enum pg_obj all, const char *db, const char *schema, unsigned bits,
    bool go)
{
	char p[200];
	size_t k;

	for (k = 0; k < names->n && !c->failed; k++) {
		const char *n = names->v[k];

		snprintf(p, sizeof(p), "%s.%s[%zu]", path, list, k);
		if (strcmp(n, "*") == 0) {
			if (schema == NULL) {
				pfail(c, "%s: \"*\" (all %s) needs %s.schema", p,
				    list, path);
				return;
			}
			want_mask(s, all, db, schema, NULL, NULL, bits, go);
		} else if (one == PG_OBJ_FUNCTION) {
			char *name, *args;

			if (!parse_function(c, p, n, &name, &args))
				return;
			want_mask(s, one, db, schema ? schema : "public", name,
			    args, bits, go);
			free(name);
			free(args);
		} else {
			if (!check_ident(c, p, n))
				return;
			want_mask(s, one, db, schema ? schema : "public", n, NULL,
			    bits, go);
		}
	}
}

/*
 * One PostgresGrant (api.md §5.5) into single privileges:
 *  - no schema, no objects: privileges on the database (CONNECT, CREATE,
 *    TEMPORARY);
 *  - schema, no objects: USAGE/CREATE on the schema; table privileges on
 *    ALL TABLES IN SCHEMA and EXECUTE on ALL FUNCTIONS IN SCHEMA, each
 *    with USAGE on the schema (as the original); ALL = every table
 *    privilege;
 *  - objects: each privilege on the classes it applies to; "*" is ALL ...
 *    IN SCHEMA; objects without schema are in public.
 */
static void
expand_grant(struct pctx *c, struct pg_privset *s, const char *path,
    const struct api_pg_grant *g, int version)
{
	const char *db = nz(g->database), *schema = nz(g->schema);
	bool objs = g->tables.n || g->sequences.n || g->functions.n;
	bool go = g->with_grant_option;
	unsigned mask, bits;
	char p[200], list[160];
	int i;

	snprintf(p, sizeof(p), "%s.database", path);
	if (db && !check_ident(c, p, db))
		return;
	snprintf(p, sizeof(p), "%s.schema", path);
	if (schema && !check_ident(c, p, schema))
		return;
	snprintf(p, sizeof(p), "%s.privileges", path);
	if (!privs_mask(c, p, &g->privileges, 0, "", &mask))
		return;
	if (!objs && schema == NULL) {
		for (i = 0; i < PRIV_ALL; i++)
			if ((mask & B(i)) && !(MASK_DATABASE & B(i))) {
				pfail(c, "%s: %s does not apply to a database "
				    "(no schema or objects given; allowed: %s, "
				    "ALL)", p, priv_names[i],
				    mask_list(MASK_DATABASE, list, sizeof(list)));
				return;
			}
		if (db == NULL) {
			pfail(c, "%s.database: is required for privileges on "
			    "a database", path);
			return;
		}
		bits = mask & B(PRIV_ALL) ? MASK_DATABASE : mask;
		want_mask(s, PG_OBJ_DATABASE, NULL, NULL, db, NULL, bits, go);
		return;
	}
	if (!objs) {
		if (mask & (B(PRIV_CONNECT) | B(PRIV_TEMPORARY))) {
			pfail(c, "%s: %s is a database privilege; leave out "
			    "schema to grant it on the database", p,
			    priv_names[mask & B(PRIV_CONNECT) ? PRIV_CONNECT :
			    PRIV_TEMPORARY]);
			return;
		}
		want_mask(s, PG_OBJ_SCHEMA, db, schema, NULL, NULL,
		    mask & MASK_SCHEMA, go);
		bits = mask & B(PRIV_ALL) ? mask_all(MASK_TABLE, version) :
		    mask & MASK_TABLE;
		if (bits)
			want_mask(s, PG_OBJ_ALL_TABLES, db, schema, NULL, NULL,
			    bits, go);
		if (mask & B(PRIV_EXECUTE))
			want_mask(s, PG_OBJ_ALL_FUNCTIONS, db, schema, NULL,
			    NULL, B(PRIV_EXECUTE), go);
		if (bits || (mask & B(PRIV_EXECUTE)))
			want_add(s, PG_OBJ_SCHEMA, db, schema, NULL, NULL,
			    PRIV_USAGE, false, API_PG_OBJ_NONE);
		return;
	}
	{
		unsigned applicable = (g->tables.n ? MASK_TABLE : 0) |
		    (g->sequences.n ? MASK_SEQUENCE : 0) |
		    (g->functions.n ? MASK_FUNCTION : 0);

		for (i = 0; i < PRIV_ALL; i++)
			if ((mask & B(i)) && !(applicable & B(i))) {
				pfail(c, "%s: %s does not apply to the objects "
				    "given (tables: %s; sequences: USAGE, SELECT, "
				    "UPDATE; functions: EXECUTE)", p, priv_names[i],
				    mask_list(MASK_TABLE, list, sizeof(list)));
				return;
			}
	}
	if (g->tables.n) {
		bits = mask & B(PRIV_ALL) ? mask_all(MASK_TABLE, version) :
		    mask & MASK_TABLE;
		if (bits == 0)
			pfail(c, "%s.tables: none of the privileges applies to "
			    "tables", path);
		expand_objects(c, s, path, "tables", &g->tables, PG_OBJ_TABLE,
		    PG_OBJ_ALL_TABLES, db, schema, bits, go);
	}
	if (g->sequences.n && !c->failed) {
		bits = mask & B(PRIV_ALL) ? MASK_SEQUENCE : mask & MASK_SEQUENCE;
		if (bits == 0)
			pfail(c, "%s.sequences: none of the privileges applies "
			    "to sequences (USAGE, SELECT, UPDATE)", path);
		expand_objects(c, s, path, "sequences", &g->sequences,
		    PG_OBJ_SEQUENCE, PG_OBJ_ALL_SEQUENCES, db, schema, bits, go);
	}
	if (g->functions.n && !c->failed) {
		bits = mask & B(PRIV_ALL) ? MASK_FUNCTION : mask & MASK_FUNCTION;
		if (bits == 0)
			pfail(c, "%s.functions: none of the privileges applies "
			    "to functions (EXECUTE)", path);
		expand_objects(c, s, path, "functions", &g->functions,
		    PG_OBJ_FUNCTION, PG_OBJ_ALL_FUNCTIONS, db, schema, bits,
		    go);
	}
}

static void
expand_grant_config(struct pctx *c, struct pg_privset *s,
    const char *grantee, const struct api_pg_grant_config *want, int version)
{
	char p[200];
	size_t i;

	if (want == NULL || !want->set)
		return;
	for (i = 0; i < want->roles.n && !c->failed; i++) {
		snprintf(p, sizeof(p), "spec.postgres.roles[%zu]", i);
		if (!check_ident(c, p, want->roles.v[i]))
			return;
		if (strcmp(want->roles.v[i], grantee) == 0) {
			pfail(c, "%s: a role cannot be granted to itself", p);
			return;
		}
		want_add(s, PG_OBJ_ROLE, NULL, NULL, want->roles.v[i], NULL, -1,
		    false, API_PG_OBJ_NONE);
	}
	for (i = 0; i < want->grants.n && !c->failed; i++) {
		snprintf(p, sizeof(p), "spec.postgres.grants[%zu]", i);
		expand_grant(c, s, p, &want->grants.v[i], version);
	}
	for (i = 0; i < want->n_default_privileges && !c->failed; i++) {
		const struct api_pg_default_privilege_grant *d =
		    &want->default_privileges[i];
		unsigned mask, bits;
		char q[240];
		int k;

		snprintf(p, sizeof(p), "spec.postgres.defaultPrivileges[%zu]", i);
		snprintf(q, sizeof(q), "%s.database", p);
		if (nz(d->database) && !check_ident(c, q, d->database))
			return;
		snprintf(q, sizeof(q), "%s.schema", p);
		if (!check_ident(c, q, d->schema))
			return;
		snprintf(q, sizeof(q), "%s.grantedBy", p);
		if (!check_ident(c, q, d->granted_by))
			return;
		if (d->object_type <= API_PG_OBJ_NONE ||
		    d->object_type >= API_PG_OBJ__COUNT) {
			pfail(c, "%s.objectType: must be tables, sequences, "
			    "functions or types", p);
			return;
		}
		snprintf(q, sizeof(q), "%s.privileges", p);
		if (!privs_mask(c, q, &d->privileges,
		    deftype_mask[d->object_type],
		    api_pg_object_type_names[d->object_type], &mask))
			return;
		bits = mask & B(PRIV_ALL) ?
		    mask_all(deftype_mask[d->object_type], version) : mask;
		for (k = 0; k < PRIV_ALL; k++)
			if (bits & B(k))
				want_add(s, PG_OBJ_DEFAULT, nz(d->database),
				    d->schema, d->granted_by, NULL, k, false,
				    d->object_type);
	}
}

/* ---- observed state of single privileges ---------------------------- */

static const struct pg_obs_grants_db *
obs_db(const struct pg_obs_grants *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->n_dbs; i++)
		if (strcmp(o->dbs[i].name, name ? name : "") == 0)
			return &o->dbs[i];
	return NULL;
}

static enum pg_obj
all_member(enum pg_obj all)
{
	return all == PG_OBJ_ALL_TABLES ? PG_OBJ_TABLE :
	    all == PG_OBJ_ALL_SEQUENCES ? PG_OBJ_SEQUENCE : PG_OBJ_FUNCTION;
}

static bool
is_all(enum pg_obj o)
{
	return o == PG_OBJ_ALL_TABLES || o == PG_OBJ_ALL_SEQUENCES ||
	    o == PG_OBJ_ALL_FUNCTIONS;
}

static long
schema_count(const struct pg_obs_grants_db *d, const char *schema,
    enum pg_obj all)
{
	size_t i;

	for (i = 0; i < d->n_counts; i++)
		if (strcmp(d->counts[i].schema, schema) == 0)
			return all == PG_OBJ_ALL_TABLES ? d->counts[i].tables :
			    all == PG_OBJ_ALL_SEQUENCES ? d->counts[i].sequences :
			    d->counts[i].functions;
	return -1;
}

/*
 * How much of p the grantee holds: for a grant, all of it (every object
 * for ALL ... IN SCHEMA; the grant option when p has it); for a revoke
 * (any = true), any of it.
 */
static bool
held(const struct pg_obs_grants *o, const char *grantee,
    const struct pg_priv *p, bool any)
{
	const struct pg_obs_grants_db *d;
	bool go = p->grant_option && !any;
	size_t i, j;
	long n = 0, total;

	if (p->obj == PG_OBJ_ROLE)
		return api_strv_contains(&o->member_of, p->name);
	if (p->obj == PG_OBJ_DATABASE) {
		for (j = 0; j < o->n_dbs; j++)
			for (i = 0; i < o->dbs[j].acl.n; i++) {
				const struct pg_priv *e = &o->dbs[j].acl.v[i];

				if (e->obj == PG_OBJ_DATABASE &&
				    strcmp0(e->name, p->name) == 0 &&
				    strcmp0(e->privilege, p->privilege) == 0 &&
				    (!go || e->grant_option))
					return true;
			}
		return false;
	}
	if ((d = obs_db(o, p->database)) == NULL)
		return false;
	if (p->obj == PG_OBJ_DEFAULT)
		return defacl_held(&d->defacl, p->name, p->schema,
		    deftype_char[p->deftype], grantee, p->privilege, go);
	if (is_all(p->obj)) {
		enum pg_obj m = all_member(p->obj);

		for (i = 0; i < d->acl.n; i++) {
			const struct pg_priv *e = &d->acl.v[i];

			if (e->obj == m && strcmp0(e->schema, p->schema) == 0 &&
			    strcmp0(e->privilege, p->privilege) == 0 &&
			    (!go || e->grant_option)) {
				if (any)
					return true;
				n++;
			}
		}
		if (any)
			return false;
		total = schema_count(d, p->schema, p->obj);
		return total >= 0 && n >= total;
	}
	for (i = 0; i < d->acl.n; i++) {
		const struct pg_priv *e = &d->acl.v[i];

		if (e->obj == p->obj && strcmp0(e->schema, p->schema) == 0 &&
		    (p->obj == PG_OBJ_SCHEMA || strcmp0(e->name, p->name) == 0) &&
		    (p->args == NULL || strcmp0(e->args, p->args) == 0) &&
		    strcmp0(e->privilege, p->privilege) == 0 &&
		    (!go || e->grant_option))
			return true;
	}
	return false;
}

/* Does a (wanted) cover b (applied before): the same privilege on the
 * same object, or ALL ... IN SCHEMA over one of its objects? */
static bool
covers(const struct pg_priv *a, const struct pg_priv *b)
{
	struct pg_priv t;

	if (same_identity(a, b))
		return true;
	if (a->obj == PG_OBJ_FUNCTION && b->obj == PG_OBJ_FUNCTION &&
	    (a->args == NULL || b->args == NULL)) {
		/* "f" (the only function of that name) and "f(...)" */
		t = *b;
		t.args = a->args;
		return same_identity(a, &t);
	}
	if (!is_all(a->obj) || b->obj != all_member(a->obj))
		return false;
	t = *b;
	t.obj = a->obj;
	t.name = NULL;
	t.args = NULL;
	return same_identity(a, &t);
}

/* ---- statements ----------------------------------------------------- */

enum act_kind { ACT_GRANT, ACT_REVOKE, ACT_REVOKE_GO };

struct act {
	enum act_kind kind;
	const struct pg_priv *p;
	bool cascade;
	bool done;
};

/* A statement under construction: template text and its arguments. */
struct sb {
	struct buf fmt;
	struct buf desc;
	struct sqlarg *a;
	size_t n, cap;
	struct api_strv keep;	/* strings the arguments point into */
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
	api_strv_release(&b->keep);
}

static void
sb_arg(struct sb *b, const char *text, enum sqlarg_kind kind, const char *s)
{
	bputs(&b->fmt, text);
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 8;
		b->a = xrealloc(b->a, b->cap * sizeof(*b->a));
	}
	b->a[b->n].kind = kind;
	b->a[b->n].s = (char *)s;
	b->a[b->n].i = 0;
	b->n++;
}

/* " ON TABLE %I.%I" and friends, plus "on TABLE s.t" for the event. */
static void
sb_target(struct sb *b, const struct pg_priv *p)
{
	static const char *const all_kw[] = { "TABLES", "SEQUENCES",
	    "FUNCTIONS" };
	static const char *const one_kw[] = { "TABLE", "SEQUENCE",
	    "FUNCTION" };

	switch (p->obj) {
	case PG_OBJ_DATABASE:
		sb_arg(b, " ON DATABASE %I", SQLARG_IDENT, p->name);
		bprintf(&b->desc, " on DATABASE %s", p->name);
		break;
	case PG_OBJ_SCHEMA:
		sb_arg(b, " ON SCHEMA %I", SQLARG_IDENT, p->schema);
		bprintf(&b->desc, " on SCHEMA %s", p->schema);
		break;
	case PG_OBJ_TABLE:
	case PG_OBJ_SEQUENCE:
	case PG_OBJ_FUNCTION: {
		const char *kw = one_kw[p->obj - PG_OBJ_TABLE];

		bprintf(&b->fmt, " ON %s", kw);
		sb_arg(b, " %I", SQLARG_IDENT, p->schema);
		sb_arg(b, ".%I", SQLARG_IDENT, p->name);
		bprintf(&b->desc, " on %s %s.%s", kw, p->schema, p->name);
		if (p->obj == PG_OBJ_FUNCTION && p->args != NULL) {
			const char *a = p->args, *comma;
			bool first = true;

			bputs(&b->fmt, "(");
			while (*a) {
				char *one;

				comma = strstr(a, ", ");
				one = comma ? xstrndup(a, (size_t)(comma - a)) :
				    xstrdup(a);
				api_strv_push(&b->keep, one);
				free(one);
				sb_arg(b, first ? "%T" : ", %T", SQLARG_TYPE,
				    b->keep.v[b->keep.n - 1]);
				first = false;
				if (comma == NULL)
					break;
				a = comma + 2;
			}
			bputs(&b->fmt, ")");
			bprintf(&b->desc, "(%s)", p->args);
		}
		break;
	}
	case PG_OBJ_ALL_TABLES:
	case PG_OBJ_ALL_SEQUENCES:
	case PG_OBJ_ALL_FUNCTIONS: {
		const char *kw = all_kw[p->obj - PG_OBJ_ALL_TABLES];

		bprintf(&b->fmt, " ON ALL %s IN SCHEMA", kw);
		sb_arg(b, " %I", SQLARG_IDENT, p->schema);
		bprintf(&b->desc, " on ALL %s IN SCHEMA %s", kw, p->schema);
		break;
	}
	case PG_OBJ_ROLE:
	case PG_OBJ_DEFAULT:
	case PG_OBJ__COUNT:
		break;
	}
}

static bool
same_group(const struct act *a, const struct act *b)
{
	struct pg_priv t;

	if (a->kind != b->kind || a->cascade != b->cascade ||
	    a->p->obj == PG_OBJ_ROLE || b->p->obj == PG_OBJ_ROLE ||
	    (a->kind == ACT_GRANT &&
	    a->p->grant_option != b->p->grant_option))
		return false;
	t = *b->p;
	t.privilege = a->p->privilege;
	return same_identity(a->p, &t);
}

static void
emit(struct pctx *c, const char *grantee, struct act *acts, size_t nacts,
    size_t first)
{
	const struct act *a = &acts[first];
	const struct pg_priv *p = a->p;
	const char *db = p->obj == PG_OBJ_ROLE || p->obj == PG_OBJ_DATABASE ?
	    NULL : p->database;
	bool grant = a->kind == ACT_GRANT;
	struct sb b;
	size_t i, np = 0;

	sb_init(&b);
	if (p->obj == PG_OBJ_ROLE) {
		if (grant) {
			sb_arg(&b, "GRANT %I", SQLARG_IDENT, p->name);
			sb_arg(&b, " TO %I", SQLARG_IDENT, grantee);
			bprintf(&b.desc, "granted role %s to %s", p->name,
			    grantee);
		} else {
			sb_arg(&b, "REVOKE %I", SQLARG_IDENT, p->name);
			sb_arg(&b, " FROM %I", SQLARG_IDENT, grantee);
			bprintf(&b.desc, "revoked role %s from %s", p->name,
			    grantee);
		}
		acts[first].done = true;
		goto add;
	}
	if (p->obj == PG_OBJ_DEFAULT) {
		sb_arg(&b, "ALTER DEFAULT PRIVILEGES FOR ROLE %I", SQLARG_IDENT,
		    p->name);
		sb_arg(&b, " IN SCHEMA %I", SQLARG_IDENT, p->schema);
	}
	bputs(&b.fmt, grant ? (p->obj == PG_OBJ_DEFAULT ? " GRANT " : "GRANT ") :
	    (p->obj == PG_OBJ_DEFAULT ? " REVOKE " : "REVOKE "));
	bputs(&b.desc, grant ? (p->obj == PG_OBJ_DEFAULT ?
	    "set default privileges " : "granted ") :
	    (p->obj == PG_OBJ_DEFAULT ? "removed default privileges " :
	    "revoked "));
	if (a->kind == ACT_REVOKE_GO) {
		bputs(&b.fmt, "GRANT OPTION FOR ");
		bputs(&b.desc, "grant option for ");
	}
	for (i = first; i < nacts; i++) {
		if (acts[i].done || !same_group(a, &acts[i]))
			continue;
		sb_arg(&b, np ? ", %K" : "%K", SQLARG_KEYWORD,
		    acts[i].p->privilege);
		bprintf(&b.desc, "%s%s", np ? ", " : "", acts[i].p->privilege);
		np++;
		acts[i].done = true;
	}
	if (p->obj == PG_OBJ_DEFAULT) {
		sb_arg(&b, " ON %K", SQLARG_KEYWORD, deftype_kw[p->deftype]);
		bprintf(&b.desc, " on %s created by %s in schema %s",
		    deftype_kw[p->deftype], p->name, p->schema);
	} else
		sb_target(&b, p);
	sb_arg(&b, grant ? " TO %I" : " FROM %I", SQLARG_IDENT, grantee);
	bprintf(&b.desc, grant ? " to %s" : " from %s", grantee);
	if (grant && p->grant_option) {
		bputs(&b.fmt, " WITH GRANT OPTION");
		bputs(&b.desc, " with grant option");
	}
	if (!grant && a->cascade)
		bputs(&b.fmt, " CASCADE");
	if (db != NULL)
		bprintf(&b.desc, " in database %s", db);
add:
	sqlstep_describe(sqlplan_addv(&c->plan, db, 0, buf_cstr(&b.fmt), b.a,
	    b.n), "%s", buf_cstr(&b.desc));
	sb_release(&b);
}

/*
 * The diff: revoke what prev holds, want does not cover and the grantee
 * still has (the grant option alone when want keeps the privilege
 * without it); grant what want holds and the grantee lacks, or what a
 * revoke of this plan takes away. Memberships first, then revokes, then
 * grants, each in input order.
 */
static void
plan_privs(struct pctx *c, const char *grantee, const struct pg_privset *want,
    const struct pg_obs_grants *obs, const struct pg_privset *prev)
{
	struct act *acts;
	size_t n = 0, i, j, nrev;
	int pass;

	acts = xcalloc((prev ? prev->n : 0) + want->n + 1, sizeof(*acts));
	for (i = 0; prev && i < prev->n; i++) {
		const struct pg_priv *a = &prev->v[i];
		bool full = false, part = false;

		for (j = 0; j < want->n; j++)
			if (covers(&want->v[j], a)) {
				if (want->v[j].grant_option || !a->grant_option)
					full = true;
				else
					part = true;
			}
		if (full)
			continue;
		if (part) {
			struct pg_priv t = *a;

			t.grant_option = true;
			if (held(obs, grantee, &t, false))
				acts[n++] = (struct act){ ACT_REVOKE_GO, a, true,
				    false };
			continue;
		}
		if (obs->grantee_exists && held(obs, grantee, a, true))
			acts[n++] = (struct act){ ACT_REVOKE, a, a->grant_option,
			    false };
	}
	nrev = n;
	for (i = 0; i < want->n; i++) {
		const struct pg_priv *w = &want->v[i];
		bool need = !held(obs, grantee, w, false);

		for (j = 0; j < nrev && !need; j++) {
			const struct pg_priv *r = acts[j].p;

			if (acts[j].kind == ACT_REVOKE_GO && !w->grant_option)
				continue;
			if (covers(r, w) || covers(w, r))
				need = true;
		}
		if (need)
			acts[n++] = (struct act){ ACT_GRANT, w, false, false };
	}
	/* memberships (admin database) first, then the rest */
	for (pass = 0; pass < 2 && !c->failed; pass++)
		for (i = 0; i < n; i++) {
			bool role = acts[i].p->obj == PG_OBJ_ROLE;

			if (!acts[i].done && role == (pass == 0))
				emit(c, grantee, acts, n, i);
		}
	free(acts);
}

static int
finish_grant(struct pctx *c, struct pg_privset *want, struct sqlplan *out,
    struct pg_privset *applied)
{
	int r = pctx_finish(c, out);

	if (r == 0 && applied != NULL) {
		pg_privset_release(applied);
		pg_privset_union(applied, want);
	}
	pg_privset_release(want);
	return r;
}

int
pgplan_grant(const char *grantee, const struct api_pg_grant_config *want,
    const struct pg_obs_grants *obs, const struct pg_privset *prev,
    struct sqlplan *out, struct pg_privset *applied, char *err,
    size_t errlen)
{
	struct pg_privset w;
	struct pctx c;

	pctx_init(&c, err, errlen);
	pg_privset_init(&w);
	if (check_ident(&c, "spec.userRef (user name)", grantee))
		expand_grant_config(&c, &w, grantee, want,
		    obs->server.version_num);
	if (!c.failed)
		plan_privs(&c, grantee, &w, obs, prev);
	return finish_grant(&c, &w, out, applied);
}

int
pgplan_grant_revoke(const char *grantee,
    const struct api_pg_grant_config *want, const struct pg_obs_grants *obs,
    const struct pg_privset *prev, struct sqlplan *out, char *err,
    size_t errlen)
{
	struct pg_privset all, none;
	struct pctx c;
	char ignored[8];
	struct pctx probe;

	pctx_init(&c, err, errlen);
	pg_privset_init(&all);
	pg_privset_init(&none);
	if (check_ident(&c, "spec.userRef (user name)", grantee)) {
		/* a spec that no longer validates must not block deletion:
		 * whatever it expands to before the error is revoked too */
		pctx_init(&probe, ignored, sizeof(ignored));
		expand_grant_config(&probe, &all, grantee, want,
		    obs->server.version_num);
		sqlplan_release(&probe.plan);
		pg_privset_union(&all, prev);
		plan_privs(&c, grantee, &none, obs, &all);
	}
	pg_privset_release(&all);
	return finish_grant(&c, &none, out, NULL);
}

int
pgplan_role_grants(const char *role, const struct api_pg_grants *grants,
    const struct pg_obs_grants *obs, const struct pg_privset *prev,
    struct sqlplan *out, struct pg_privset *applied, char *err,
    size_t errlen)
{
	struct pg_privset w;
	struct pctx c;
	char p[64];
	size_t i;

	pctx_init(&c, err, errlen);
	pg_privset_init(&w);
	if (check_ident(&c, "spec.roleName", role))
		for (i = 0; grants && i < grants->n && !c.failed; i++) {
			snprintf(p, sizeof(p), "spec.postgres.grants[%zu]", i);
			expand_grant(&c, &w, p, &grants->v[i],
			    obs->server.version_num);
		}
	if (!c.failed)
		plan_privs(&c, role, &w, obs, prev);
	return finish_grant(&c, &w, out, applied);
}

static void
add_db(struct api_strv *out, const char *name)
{
	const char *n = name ? name : "";

	if (!api_strv_contains(out, n))
		api_strv_push(out, n);
}

/* Where a grant's privileges are observed: privileges on a database are
 * read from pg_database, which every connection sees, so the admin
 * database serves (the target may not even accept connections). */
static const char *
grant_db(const struct api_pg_grant *g)
{
	if (empty(g->schema) && g->tables.n == 0 && g->sequences.n == 0 &&
	    g->functions.n == 0)
		return NULL;
	return g->database;
}

void
pgplan_grant_databases(const struct api_pg_grant_config *want,
    const struct api_pg_grants *role_grants, const struct pg_privset *prev,
    struct api_strv *out)
{
	size_t i;

	if (want != NULL && want->set) {
		for (i = 0; i < want->grants.n; i++)
			add_db(out, grant_db(&want->grants.v[i]));
		for (i = 0; i < want->n_default_privileges; i++)
			add_db(out, want->default_privileges[i].database);
	}
	for (i = 0; role_grants && i < role_grants->n; i++)
		add_db(out, grant_db(&role_grants->v[i]));
	for (i = 0; prev && i < prev->n; i++) {
		if (prev->v[i].obj == PG_OBJ_ROLE)
			continue;
		add_db(out, prev->v[i].obj == PG_OBJ_DATABASE ? NULL :
		    prev->v[i].database);
	}
}
