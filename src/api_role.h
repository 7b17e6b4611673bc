/*
 * api_role.h - DatabaseRole (api.md §10): a group role without password.
 * Conventions in api.h.
 */
#ifndef DBP_API_ROLE_H
#define DBP_API_ROLE_H

#include "api.h"

struct api_pg_role {		/* spec.postgres, §5.4 */
	bool set;
	bool login;
	bool inherit;			/* default true */
	bool create_db;
	bool create_role;
	bool superuser;
	bool replication;
	bool bypass_rls;
	struct api_strv in_roles;
	struct api_pg_grants grants;
};

struct api_my_role {		/* spec.mysql, §6.4 */
	bool set;
	bool use_native_roles;		/* default true */
	struct api_my_grants grants;
};

struct api_role_spec {
	struct api_ref instance;	/* instanceRef */
	char *role_name;	/* 1..63, ^[a-zA-Z_][a-zA-Z0-9_]*$ */
	struct api_pg_role postgres;
	struct api_my_role mysql;
};

struct api_role_status {
	enum api_phase phase;	/* Pending, Creating, Ready, Failed, Deleting */
	int64_t observed_generation;
	char *message;
	struct {
		bool set;
		char *name;
		int64_t created_at;
	} role;
	struct api_conditions conditions;
};

struct api_role {
	struct api_meta meta;
	struct api_role_spec spec;
	struct api_role_status status;
};

/*
 * Parses a whole DatabaseRole object into *out (need not be initialised).
 * Beyond the schema: spec is required; privileges are keywords; each
 * MySQL grant names exactly the objects its level needs (database for
 * database, database+table for table, ... nothing for global). Returns 0,
 * or -1 with errors added to errs (may be NULL); release *out either way.
 */
int api_role_parse(yajl_val obj, struct api_role *out, struct api_errs *errs);
void api_role_release(struct api_role *r);
/* Writes the status object (the value of "status"). */
void api_role_status_write(struct jw *w, const struct api_role_status *st);
/* The other engine's block must not be set; MySQL role names are at most
 * 32 characters. Returns 0, or -1 with errors added. */
int api_role_check_engine(const struct api_role *r, enum api_engine engine,
    struct api_errs *errs);

#endif
