/*
 * myplan.h - what to run on a MySQL 8 or MariaDB server, decided without
 * I/O: the MySQL counterpart of pgplan.h, with the same conventions.
 *
 * Each planner is a pure function of (wanted spec, observed server state)
 * that appends steps of the MySQL dialect (sqlstep.h) to a plan. When the
 * observed state already matches, the plan stays empty. Every name travels
 * as an identifier (%I, backticks), every account part ('user'@'host' is
 * two literals, %L@%L) and value as a literal (%L) or secret (%S), every
 * privilege through the MySQL keyword allow-list, every character set and
 * collation as %C.
 *
 * Observation: the myplan_q_*() functions append constant queries (SELECT
 * statements whose values are %L literals, sent with the text protocol
 * after the executor escaped them with mysql_real_escape_string) to a
 * plan; the executor runs them in order and feeds every result row to the
 * matching *_row() loader, whose column order is the query's. Values are
 * C strings, NULL for SQL NULL. A loader returns 0, or -1 when the row
 * does not have the expected shape. The queries depend on the server
 * flavour (struct myplan_server), read first with MYPLAN_Q_SERVER. The
 * myplan_q_*() functions return 0, or -1 when q failed (a value that is
 * not valid UTF-8; the reason is in q->err).
 *
 * Planners return 0, or -1 with "field.path: reason" in err (out is then
 * left as it was: steps are only appended on success). An empty out takes
 * the MySQL dialect (sqlplan_move). Every MySQL DDL statement commits
 * implicitly, so steps carry no SQLSTEP_NO_TXN flag and no database (they
 * run on the admin connection); the executor runs them one by one and
 * stops at the first error.
 *
 * Names: planners are mysqlplan_*(), everything else myplan_* (the
 * mysql_ and my_ prefixes belong to the client library).
 *
 * Ownership: observed structs own their strings (init/release); a plan
 * owns its steps; planners copy what they keep.
 */
#ifndef DBP_MYPLAN_H
#define DBP_MYPLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "api_database.h"
#include "api_grant.h"
#include "api_role.h"
#include "api_user.h"
#include "json.h"
#include "sqlstep.h"

/* ---- the server ----------------------------------------------------- */

enum myplan_flavour { MYPLAN_MYSQL, MYPLAN_MARIADB };

struct myplan_server {
	enum myplan_flavour flavour;
	int version;		/* major * 10000 + minor * 100 + patch:
				 * 80035 (8.0.35), 101106 (10.11.6) */
};

/* The query text: SELECT VERSION(), @@version_comment (one row). */
extern const char MYPLAN_Q_SERVER[];
/* Appends MYPLAN_Q_SERVER to q. Returns 0, or -1 (q failed). */
int myplan_q_server(struct sqlplan *q);
/*
 * Parses VERSION() ("8.0.35", "10.11.6-MariaDB-1:10.11.6+maria~deb12",
 * "5.5.5-10.6.16-MariaDB") and @@version_comment (may be NULL): MariaDB
 * when either names it. Returns 0, or -1 when no version number is found.
 */
int myplan_server_parse(struct myplan_server *s, const char *version,
    const char *comment);
/* Row of MYPLAN_Q_SERVER: version, comment. */
int myplan_server_row(struct myplan_server *s, const char *const *col,
    int ncol);

/* ---- Database ------------------------------------------------------- */

struct myplan_obs_database {
	bool exists;		/* set by myplan_obs_database_row() */
	char *charset;		/* DEFAULT_CHARACTER_SET_NAME */
	char *collation;	/* DEFAULT_COLLATION_NAME */
};

void myplan_obs_database_init(struct myplan_obs_database *o);
void myplan_obs_database_release(struct myplan_obs_database *o);
/* information_schema.SCHEMATA of name: zero rows (absent) or one:
 * charset, collation. */
int myplan_q_database(struct sqlplan *q, const char *name);
int myplan_obs_database_row(struct myplan_obs_database *o,
    const char *const *col, int ncol);

/*
 * Database (api.md §8) on a MySQL instance: CREATE DATABASE with
 * CHARACTER SET and COLLATE from spec.mysql (the name alone without it);
 * an existing database gets ALTER DATABASE only for what differs (utf8 and
 * utf8mb3 are the same). Refused with the field path: spec.postgres; a
 * collation of another character set; spec.mysql.sqlMode (the SQL mode is
 * a session or global setting, never a database property) unless empty;
 * spec.mysql.defaultStorageEngine other than InnoDB (no per-database
 * engine exists; InnoDB, the default, is accepted as "nothing to do").
 */
int mysqlplan_database(const struct api_database_spec *want,
    const struct myplan_obs_database *obs, struct sqlplan *out, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* DROP DATABASE IF EXISTS (deletionPolicy Delete); refuses the system
 * schemas mysql, information_schema, performance_schema and sys. */
int mysqlplan_database_drop(const char *name, struct sqlplan *out, char *err,
    size_t errlen) DBP_MUSTCHECK;

/* ---- accounts, roles and privileges --------------------------------- */

enum myplan_obj {
	MYPLAN_OBJ_ROLE,	/* membership in the role `name` */
	MYPLAN_OBJ_GLOBAL,	/* *.* */
	MYPLAN_OBJ_DATABASE,	/* `database`.* */
	MYPLAN_OBJ_TABLE,	/* `database`.`name` */
	MYPLAN_OBJ_COLUMN,	/* column `column` of `database`.`name` */
	MYPLAN_OBJ_PROCEDURE,	/* PROCEDURE `database`.`name` */
	MYPLAN_OBJ_FUNCTION,	/* FUNCTION `database`.`name` */
	MYPLAN_OBJ__COUNT
};
extern const char *const myplan_obj_names[MYPLAN_OBJ__COUNT];

/* One privilege held by (or granted to) an account. */
struct myplan_priv {
	enum myplan_obj obj;
	char *database;		/* NULL for ROLE and GLOBAL */
	char *name;		/* table, routine or role; else NULL */
	char *column;		/* COLUMN only */
	char *privilege;	/* upper case, "SELECT"; NULL for ROLE */
	bool grant_option;	/* for ROLE: WITH ADMIN OPTION */
};

struct myplan_privset {
	struct myplan_priv *v;
	size_t n, cap;
};

void myplan_privset_init(struct myplan_privset *s);
void myplan_privset_release(struct myplan_privset *s);
/* Adds a copy of p; an entry with the same identity (everything but
 * grant_option) is merged (grant options or'ed). */
void myplan_privset_add(struct myplan_privset *s, const struct myplan_priv *p);
/* Adds every entry of src (may be NULL) to dst. */
void myplan_privset_union(struct myplan_privset *dst,
    const struct myplan_privset *src);
/* The role names of the ROLE entries (status.appliedGrants.roles). */
void myplan_privset_roles(const struct myplan_privset *s,
    struct api_strv *out);
/*
 * The set as JSON (an array of {"o":"table","d":"app","n":"orders",
 * "p":"SELECT","g":true}, "c" for a column, empty keys left out) and back,
 * for the controller to keep the applied set between passes.
 * myplan_privset_read() returns 0, or -1 with a message in err (s then
 * holds what was read before the bad entry).
 */
void myplan_privset_write(struct jw *w, const struct myplan_privset *s);
int myplan_privset_read(yajl_val v, struct myplan_privset *s, char *err,
    size_t errlen) DBP_MUSTCHECK;

/* One row of mysql.user for the name observed. */
struct myplan_obs_account {
	char *host;		/* "" for a MariaDB role */
	char *plugin;		/* "caching_sha2_password", ... */
	long long max_queries, max_updates, max_connections,
	    max_user_connections;
	char *ssl_type;		/* "", "ANY", "X509", "SPECIFIED" */
	bool locked;
	bool password_expired;
	bool is_role;		/* MariaDB: a role (is_role = 'Y') */
	long long failed_login_attempts;	/* MySQL 8.0.19+, else 0 */
	long long password_lock_time;		/* days; -1 = UNBOUNDED */
	/* filled by myplan_obs_role_row() and myplan_obs_priv_row() */
	struct myplan_privset held;	/* privileges and role memberships */
	struct api_strv default_roles;
};

/* Everything observed about one user (or role) name on the server. */
struct myplan_obs_user {
	struct myplan_server server;
	struct myplan_obs_account *v;	/* one per host, query order */
	size_t n;
};

void myplan_obs_user_init(struct myplan_obs_user *o,
    const struct myplan_server *server);
void myplan_obs_user_release(struct myplan_obs_user *o);
/* The account of that host (compared without case), or NULL. */
const struct myplan_obs_account *myplan_obs_account(
    const struct myplan_obs_user *o, const char *host);

/*
 * The accounts of user: one row per host: Host, plugin, max_questions,
 * max_updates, max_connections, max_user_connections, ssl_type, locked
 * ("Y"/"N", "true"/"false" or "1"/"0"), password_expired, is_role,
 * failed_login_attempts, password_lock_time. MySQL reads mysql.user
 * (User_attributes from 8.0.19); MariaDB the mysql.user view plus the
 * account_locked flag of mysql.global_priv.
 */
int myplan_q_accounts(struct sqlplan *q, const struct myplan_server *s,
    const char *user);
int myplan_obs_account_row(struct myplan_obs_user *o, const char *const *col,
    int ncol);
/*
 * The roles granted to the accounts of user, one row per grant: grantee
 * host, role name, role host ("" on MariaDB), admin option ("Y"/"N"),
 * default role (1/0). MySQL reads mysql.role_edges and
 * mysql.default_roles; MariaDB mysql.roles_mapping and the default_role
 * column of mysql.user. Run after the accounts; rows of hosts without an
 * account, and of roles on hosts other than '%' and '', are ignored.
 */
int myplan_q_roles(struct sqlplan *q, const struct myplan_server *s,
    const char *user);
int myplan_obs_role_row(struct myplan_obs_user *o, const char *const *col,
    int ncol);

/* The privilege queries of one account, in this order. */
enum myplan_privq {
	MYPLAN_PRIVQ_GLOBAL,	/* USER_PRIVILEGES: privilege, grantable */
	MYPLAN_PRIVQ_DATABASE,	/* SCHEMA_PRIVILEGES: db, privilege,
				 * grantable */
	MYPLAN_PRIVQ_TABLE,	/* TABLE_PRIVILEGES: db, table, privilege,
				 * grantable */
	MYPLAN_PRIVQ_COLUMN,	/* COLUMN_PRIVILEGES: db, table, column,
				 * privilege, grantable */
	MYPLAN_PRIVQ_ROUTINE,	/* mysql.procs_priv: db, routine, type
				 * (PROCEDURE/FUNCTION), Proc_priv set */
	MYPLAN_PRIVQ__COUNT
};
/* Appends the MYPLAN_PRIVQ__COUNT queries of 'user'@'host' (host "" for
 * a MariaDB role); information_schema tables are read by GRANTEE =
 * "'user'@'host'". */
int myplan_q_privileges(struct sqlplan *q, const char *user,
    const char *host);
/* A row of query `which` for the account of host (which must have been
 * loaded by myplan_obs_account_row(); -1 otherwise). USAGE rows are
 * skipped. */
int myplan_obs_priv_row(struct myplan_obs_user *o, const char *host,
    enum myplan_privq which, const char *const *col, int ncol);

/* ---- DatabaseUser --------------------------------------------------- */

/* The mysql_native_password hash of password: '*' and 40 upper-case hex
 * digits of SHA1(SHA1(password)), written to out (42 bytes with NUL). */
void myplan_native_hash(const char *password, char out[42]);

/* True when mysqlplan_user() needs the password: an account of a wanted
 * host is missing, or its plugin must change. */
bool mysqlplan_user_needs_password(const struct api_user_spec *want,
    const struct myplan_obs_user *obs);

/*
 * DatabaseUser (api.md §9) on a MySQL instance, for every host of
 * spec.mysql.allowedHosts (default "%"): CREATE USER with the
 * authentication of spec.mysql.authPlugin in the flavour's syntax,
 * REQUIRE, resource limits, FAILED_LOGIN_ATTEMPTS / PASSWORD_LOCK_TIME
 * (MySQL 8.0.19+ only; refused elsewhere when non-zero) and ACCOUNT LOCK;
 * for an existing account one ALTER USER with what differs (a limit back
 * to 0 is set to 0). password: the plaintext to set (rotation, creation),
 * or NULL to leave passwords alone (refused when an account must be
 * created or its plugin changed). mysql_native_password travels as its
 * hash (AS / USING), other plugins as a %S literal (BY). Accounts of the
 * name on hosts no longer listed are dropped. Without spec.mysql: the
 * server's default plugin, no attribute is managed. spec.postgres is
 * refused.
 */
int mysqlplan_user(const struct api_user_spec *want, const char *password,
    const struct myplan_obs_user *obs, struct sqlplan *out, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* DROP USER IF EXISTS for every observed account of user (MariaDB roles
 * of the same name are left alone). */
int mysqlplan_user_drop(const char *user, const struct myplan_obs_user *obs,
    struct sqlplan *out, char *err, size_t errlen) DBP_MUSTCHECK;

/* ---- DatabaseRole --------------------------------------------------- */

/*
 * DatabaseRole (api.md §10) on a MySQL instance. useNativeRoles true (the
 * default): CREATE ROLE ('r'@'%' on MySQL 8, 'r' on MariaDB 10.0.5+).
 * false: the role is emulated as a locked account 'r'@'%' without a
 * password (CREATE USER ... ACCOUNT LOCK) that holds the privileges; MySQL
 * 8 can still grant it to users like a role, MariaDB cannot. An existing
 * role is adopted; a native role on MySQL that turns out to be an unlocked
 * account is refused, an emulated one is locked again. The privileges are
 * planned by mysqlplan_role_grants(). spec.postgres is refused.
 */
int mysqlplan_role(const struct api_role_spec *want,
    const struct myplan_obs_user *obs, struct sqlplan *out, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* Drops the role: DROP ROLE IF EXISTS (native) or DROP USER IF EXISTS
 * 'r'@'%' (emulated), when observed. */
int mysqlplan_role_drop(const char *role, bool native,
    const struct myplan_obs_user *obs, struct sqlplan *out, char *err,
    size_t errlen) DBP_MUSTCHECK;

/* ---- DatabaseGrant and role privileges ------------------------------ */

/*
 * DatabaseGrant (api.md §11) spec.mysql for user on every host of hosts
 * (the DatabaseUser's allowedHosts, NULL = "%"): GRANT role TO account
 * plus SET DEFAULT ROLE (MySQL: every wanted role; MariaDB: the first one,
 * as it has a single default role), and privileges at every level (global
 * *.*, `db`.*, `db`.`t`, SELECT (`c`) ON `db`.`t`, PROCEDURE / FUNCTION
 * `db`.`r`), WITH GRANT OPTION when asked. prev is what earlier passes
 * applied (may be NULL): what it holds and want no longer does is
 * REVOKEd from every observed account of user (the grant option alone
 * with REVOKE GRANT OPTION ON ... when the privilege stays). What want
 * holds and an account lacks is granted again (drift). *applied receives
 * the set to record once the plan has run (on a failed run record
 * myplan_privset_union(prev, applied)). A wanted host without an account
 * is refused (GRANT must never create accounts). want NULL or unset plans
 * the revocation of prev.
 */
int mysqlplan_grant(const char *user, const struct api_strv *hosts,
    const struct api_my_grant_config *want, const struct myplan_obs_user *obs,
    const struct myplan_privset *prev, struct sqlplan *out,
    struct myplan_privset *applied, char *err, size_t errlen) DBP_MUSTCHECK;
/* Deletion of a DatabaseGrant: revokes prev plus what want names from
 * every observed account of user; default roles are reset to NONE when
 * roles are revoked. */
int mysqlplan_grant_revoke(const char *user,
    const struct api_my_grant_config *want, const struct myplan_obs_user *obs,
    const struct myplan_privset *prev, struct sqlplan *out, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* DatabaseRole spec.mysql.grants for role (native as in
 * mysqlplan_role()), same rules; field paths spec.mysql.grants[i]. */
int mysqlplan_role_grants(const char *role, bool native,
    const struct api_my_grants *grants, const struct myplan_obs_user *obs,
    const struct myplan_privset *prev, struct sqlplan *out,
    struct myplan_privset *applied, char *err, size_t errlen) DBP_MUSTCHECK;

#endif
