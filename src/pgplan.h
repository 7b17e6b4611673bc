/*
 * pgplan.h - what to run on a PostgreSQL server, decided without I/O.
 *
 * Each planner is a pure function of (wanted spec, observed catalog state)
 * that appends SQL steps (sqlstep.h) to a plan. When the observed state
 * already matches, the plan stays empty. Every name travels as an
 * identifier (%I), every value as a literal (%L) or parameter (%P), every
 * keyword comes from an allow-list; names longer than 63 bytes are refused
 * with the field path, never truncated.
 *
 * The executor observes first: it runs the PGQ_* queries below (constant
 * SQL with $1 parameters, PQsendQueryParams) and feeds every result row to
 * the matching *_row() loader, whose column order is the query's. A row
 * loader returns 0, or -1 when the row does not have the expected shape.
 * Values are passed as C strings (PQgetvalue), NULL for SQL NULL.
 *
 * Planners return 0, or -1 with "field.path: reason" in err (the plan is
 * then left as it was: steps are only appended on success). They never
 * execute anything. Steps name the database they run in (NULL = the
 * instance's admin database) and whether they may run in a transaction.
 *
 * Ownership: observed structs own their strings (init/release); a plan
 * owns its steps; planners copy what they keep.
 */
#ifndef DBP_PGPLAN_H
#define DBP_PGPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "api_database.h"
#include "api_grant.h"
#include "api_role.h"
#include "api_user.h"
#include "json.h"
#include "sqlstep.h"

/* ---- the server and session ---------------------------------------- */

struct pg_obs_server {
	int version_num;		/* server_version_num, e.g. 150004 */
	char current_user[SQLSTEP_IDENT_MAX + 1];	/* the admin role */
	char current_database[SQLSTEP_IDENT_MAX + 1];	/* the admin DB */
};

/* No parameters; one row: server_version_num, current_user,
 * current_database(). */
extern const char PGQ_SERVER[];
int pg_obs_server_row(struct pg_obs_server *o, const char *const *col,
    int ncol);

/* ---- default ACLs (shared by Database and DatabaseGrant) ------------ */

struct pg_obs_defacl {		/* one privilege of pg_default_acl */
	char *role;		/* FOR ROLE (defaclrole) */
	char *schema;		/* IN SCHEMA; "" = all schemas */
	char objtype;		/* 'r' tables, 'S' sequences, 'f' functions,
				 * 'T' types, 'n' schemas */
	char *grantee;		/* "PUBLIC" for the public pseudo-role */
	char *privilege;	/* SELECT, ... */
	bool grantable;
};

struct pg_obs_defacls {
	struct pg_obs_defacl *v;
	size_t n;
};

/* In the database concerned; no parameters: role, schema, objtype,
 * grantee, privilege, grantable ("t"/"f"). */
extern const char PGQ_DEFAULT_ACL[];
int pg_obs_defacl_row(struct pg_obs_defacls *o, const char *const *col,
    int ncol);
void pg_obs_defacls_release(struct pg_obs_defacls *o);

/* ---- Database ------------------------------------------------------- */

struct pg_obs_extension {
	char *name;
	char *schema;
	char *version;
};

struct pg_obs_schema {
	char *name;
	char *owner;
};

struct pg_obs_database {
	struct pg_obs_server server;
	bool exists;		/* set by pg_obs_database_row() */
	char *owner;
	char *encoding;		/* pg_encoding_to_char(encoding), "UTF8" */
	char *collate;		/* datcollate */
	char *ctype;		/* datctype */
	char *tablespace;	/* spcname */
	int32_t conn_limit;
	bool is_template;
	bool allow_conn;
	/* Read on a connection to the database itself (only possible when
	 * it exists and accepts connections). The executor sets inside once
	 * PGQ_EXTENSIONS, PGQ_SCHEMAS and PGQ_DEFAULT_ACL have run; when
	 * false the planner assumes nothing is there (IF NOT EXISTS keeps the
	 * statements safe). */
	bool inside;
	struct pg_obs_extension *extensions;
	size_t n_extensions;
	struct pg_obs_schema *schemas;
	size_t n_schemas;
	struct pg_obs_defacls defacl;
};

void pg_obs_database_init(struct pg_obs_database *o);
void pg_obs_database_release(struct pg_obs_database *o);

/* $1 = database name; zero rows (absent) or one: owner, encoding,
 * datcollate, datctype, tablespace, datconnlimit, datistemplate,
 * datallowconn. */
extern const char PGQ_DATABASE[];
int pg_obs_database_row(struct pg_obs_database *o, const char *const *col,
    int ncol);
/* In the database; no parameters: name, schema, version. */
extern const char PGQ_EXTENSIONS[];
int pg_obs_extension_row(struct pg_obs_database *o, const char *const *col,
    int ncol);
/* In the database; no parameters: name, owner (system schemas left out). */
extern const char PGQ_SCHEMAS[];
int pg_obs_schema_row(struct pg_obs_database *o, const char *const *col,
    int ncol);

/*
 * Database (api.md §8, behavior.md §1.2): CREATE DATABASE with every
 * option when absent; on an existing database ALTER what can change
 * (connection limit, IS_TEMPLATE, ALLOW_CONNECTIONS, SET TABLESPACE) and
 * refuse what cannot (encoding, lcCollate, lcCtype) naming the field; then
 * in the database: schemas (owner), extensions (schema, version: ALTER
 * EXTENSION ... UPDATE TO) and default privileges FOR ROLE <the schema's
 * owner> ... TO <role>. Without spec.postgres: a plain CREATE DATABASE
 * (connections allowed) and nothing managed afterwards.
 */
int pgplan_database(const struct api_database_spec *want,
    const struct pg_obs_database *obs, struct sqlplan *out, char *err,
    size_t errlen) DBP_MUSTCHECK;
/*
 * Drops the database (deletionPolicy Delete). force: DROP DATABASE ...
 * WITH (FORCE) on PostgreSQL >= 13, else ALLOW_CONNECTIONS false and
 * pg_terminate_backend() first. Template databases get IS_TEMPLATE false
 * first. Refuses template0, template1 and the admin database.
 */
int pgplan_database_drop(const char *name, const struct pg_obs_database *obs,
    bool force, struct sqlplan *out, char *err, size_t errlen) DBP_MUSTCHECK;

/* ---- roles (DatabaseUser, DatabaseRole) ----------------------------- */

struct pg_obs_dep {		/* a database where the role has objects */
	char *database;		/* "" = shared objects (admin database) */
	bool allow_conn;
};

struct pg_obs_role {
	struct pg_obs_server server;
	bool exists;		/* set by pg_obs_role_row() */
	bool superuser;
	bool inherit;
	bool create_role;
	bool create_db;
	bool login;
	bool replication;
	bool bypass_rls;
	int32_t conn_limit;
	/* NULL (none), "infinity", "-infinity" or Unix seconds in decimal */
	char *valid_until;
	struct api_strv member_of;	/* roles it is a direct member of */
	struct api_map config;		/* ALTER ROLE ... SET, all databases */
	struct pg_obs_dep *deps;	/* PGQ_ROLE_DEPS (deletion only) */
	size_t n_deps;
};

void pg_obs_role_init(struct pg_obs_role *o);
void pg_obs_role_release(struct pg_obs_role *o);

/* $1 = role; zero rows or one: rolsuper, rolinherit, rolcreaterole,
 * rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit,
 * valid until (as struct pg_obs_role says). */
extern const char PGQ_ROLE[];
int pg_obs_role_row(struct pg_obs_role *o, const char *const *col, int ncol);
/* $1 = role: one row per role it is a direct member of: rolname. */
extern const char PGQ_MEMBER_OF[];
int pg_obs_member_row(struct api_strv *member_of, const char *const *col,
    int ncol);
/* $1 = role: one row per setting for all databases: "name=value". */
extern const char PGQ_ROLE_CONFIG[];
int pg_obs_role_config_row(struct pg_obs_role *o, const char *const *col,
    int ncol);
/* $1 = role: databases where it owns objects or holds privileges
 * (pg_shdepend): datname ("" for shared objects), datallowconn. */
extern const char PGQ_ROLE_DEPS[];
int pg_obs_role_dep_row(struct pg_obs_role *o, const char *const *col,
    int ncol);

/*
 * DatabaseUser (api.md §9): CREATE ROLE ... LOGIN with every attribute of
 * spec.postgres (login: false gives NOLOGIN), memberships (GRANT r TO u,
 * never revoked here: DatabaseGrant tracks what it grants) and settings
 * (ALTER ROLE ... SET); on an existing role only what differs. verifier:
 * a SCRAM-SHA-256 (or md5) verifier to set as the password, or NULL to
 * leave the password alone; plaintext is refused. Without spec.postgres a
 * new role gets the defaults and an existing one is not re-synced.
 */
int pgplan_user(const struct api_user_spec *want, const char *verifier,
    const struct pg_obs_role *obs, struct sqlplan *out, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* DatabaseRole (api.md §10): the same for a group role (NOLOGIN unless
 * spec.postgres.login). Its grants are planned by pgplan_role_grants(). */
int pgplan_role(const struct api_role_spec *want,
    const struct pg_obs_role *obs, struct sqlplan *out, char *err,
    size_t errlen) DBP_MUSTCHECK;
/*
 * Drops a role: REASSIGN OWNED BY r TO CURRENT_USER and DROP OWNED BY r in
 * every database of obs->deps (objects stay, owned by the admin role),
 * then DROP ROLE. Refuses the admin role, reserved pg_* names, and a
 * dependency in a database that does not accept connections.
 */
int pgplan_role_drop(const char *name, const struct pg_obs_role *obs,
    struct sqlplan *out, char *err, size_t errlen) DBP_MUSTCHECK;

/* ---- privileges (DatabaseGrant, DatabaseRole grants) ---------------- */

enum pg_obj {
	PG_OBJ_ROLE,		/* membership in the role `name` */
	PG_OBJ_DATABASE,	/* the database `name` */
	PG_OBJ_SCHEMA,		/* `schema` */
	PG_OBJ_TABLE,		/* schema.name (tables, views, ...) */
	PG_OBJ_SEQUENCE,	/* schema.name */
	PG_OBJ_FUNCTION,	/* schema.name(args) */
	PG_OBJ_ALL_TABLES,	/* ALL TABLES IN SCHEMA `schema` */
	PG_OBJ_ALL_SEQUENCES,
	PG_OBJ_ALL_FUNCTIONS,
	PG_OBJ_DEFAULT,		/* default privileges FOR ROLE `name` IN
				 * SCHEMA `schema` ON `deftype` */
	PG_OBJ__COUNT
};
extern const char *const pg_obj_names[PG_OBJ__COUNT];

/* One privilege held by (or granted to) the grantee. */
struct pg_priv {
	enum pg_obj obj;
	char *database;		/* where it lives; "" or NULL = the admin
				 * database; unused for ROLE and DATABASE */
	char *schema;
	char *name;
	char *args;		/* FUNCTION: normalised argument types
				 * ("integer, text"); NULL = any overload
				 * (the name alone), "" = no arguments */
	char *privilege;	/* SELECT, ...; NULL for ROLE */
	enum api_pg_object_type deftype;	/* DEFAULT */
	bool grant_option;
};

struct pg_privset {
	struct pg_priv *v;
	size_t n, cap;
};

void pg_privset_init(struct pg_privset *s);
void pg_privset_release(struct pg_privset *s);
/* Adds a copy of p; an entry with the same identity (everything but
 * grant_option) is merged (grant options or'ed). */
void pg_privset_add(struct pg_privset *s, const struct pg_priv *p);
/* Adds every entry of src to dst. */
void pg_privset_union(struct pg_privset *dst, const struct pg_privset *src);
/* The role names of the ROLE entries (status.appliedGrants.roles). */
void pg_privset_roles(const struct pg_privset *s, struct api_strv *out);
/*
 * The set as JSON (an array of {"o":"table","d":"app","s":"public",
 * "n":"orders","p":"SELECT","g":true}, empty keys left out) and back, for
 * the controller to keep the applied set between passes. pg_privset_read()
 * returns 0, or -1 with a message in err (s then holds what was read).
 */
void pg_privset_write(struct jw *w, const struct pg_privset *s);
int pg_privset_read(yajl_val v, struct pg_privset *s, char *err,
    size_t errlen) DBP_MUSTCHECK;

struct pg_obs_count {		/* objects per schema, for ALL ... IN SCHEMA */
	char *schema;
	long tables;		/* relkind r, p, v, m, f */
	long sequences;
	long functions;		/* prokind f, a, w */
};

struct pg_obs_grants_db {
	char *name;		/* "" = the admin database */
	struct pg_privset acl;	/* what the grantee holds: DATABASE, SCHEMA,
				 * TABLE, SEQUENCE, FUNCTION entries */
	struct pg_obs_count *counts;
	size_t n_counts;
	struct pg_obs_defacls defacl;
};

struct pg_obs_grants {
	struct pg_obs_server server;
	bool grantee_exists;		/* PGQ_ROLE found it; no revokes are
					 * planned otherwise */
	struct api_strv member_of;	/* PGQ_MEMBER_OF of the grantee */
	struct pg_obs_grants_db *dbs;	/* one per database observed */
	size_t n_dbs;
};

void pg_obs_grants_init(struct pg_obs_grants *o);
void pg_obs_grants_release(struct pg_obs_grants *o);
/* Adds a database to fill (name "" = the admin database); the pointer
 * is valid until the next add. */
struct pg_obs_grants_db *pg_obs_grants_db_add(struct pg_obs_grants *o,
    const char *name);

/* In the database; $1 = grantee: kind ("database", "schema", "table",
 * "sequence", "function"), schema, name, argument types, privilege,
 * grantable. One row per distinct privilege. */
extern const char PGQ_GRANTEE_ACL[];
int pg_obs_acl_row(struct pg_obs_grants_db *db, const char *const *col,
    int ncol);
/* In the database; no parameters: schema, tables, sequences, functions. */
extern const char PGQ_SCHEMA_COUNTS[];
int pg_obs_count_row(struct pg_obs_grants_db *db, const char *const *col,
    int ncol);

/*
 * The databases the executor must observe for a grant plan: those named
 * by want (may be NULL), role_grants (may be NULL) and prev (may be NULL);
 * "" stands for the admin database, which also serves for privileges on
 * databases (PGQ_GRANTEE_ACL reports those of every database). Appended
 * to out without duplicates. The executor adds one pg_obs_grants_db per
 * name it could connect to, with that same name.
 */
void pgplan_grant_databases(const struct api_pg_grant_config *want,
    const struct api_pg_grants *role_grants, const struct pg_privset *prev,
    struct api_strv *out);

/*
 * DatabaseGrant (api.md §11): role memberships, privileges on databases,
 * schemas, tables, sequences, functions (also ALL ... IN SCHEMA for "*"),
 * and default privileges FOR ROLE grantedBy, for grantee. prev is what the
 * previous passes applied (may be NULL): what it holds and want no longer
 * does is revoked. *applied receives the set to record once the plan has
 * run (on a failed run record pg_privset_union(prev, applied) so nothing
 * granted is forgotten). want NULL plans the revocation of everything
 * (deletion); see also pgplan_grant_revoke().
 */
int pgplan_grant(const char *grantee, const struct api_pg_grant_config *want,
    const struct pg_obs_grants *obs, const struct pg_privset *prev,
    struct sqlplan *out, struct pg_privset *applied, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* Deletion of a DatabaseGrant: revokes prev plus what want names (so
 * grants made before any applied set was recorded go too), default
 * privileges included. */
int pgplan_grant_revoke(const char *grantee,
    const struct api_pg_grant_config *want, const struct pg_obs_grants *obs,
    const struct pg_privset *prev, struct sqlplan *out, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* DatabaseRole spec.postgres.grants for role, same rules; field paths
 * spec.postgres.grants[i]. */
int pgplan_role_grants(const char *role, const struct api_pg_grants *grants,
    const struct pg_obs_grants *obs, const struct pg_privset *prev,
    struct sqlplan *out, struct pg_privset *applied, char *err,
    size_t errlen) DBP_MUSTCHECK;

#endif
