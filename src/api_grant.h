/*
 * api_grant.h - DatabaseGrant (api.md §11): privileges and role
 * memberships for one DatabaseUser. Conventions in api.h.
 */
#ifndef DBP_API_GRANT_H
#define DBP_API_GRANT_H

#include "api.h"

struct api_pg_default_privilege_grant {	/* §5.6 defaultPrivileges[] */
	char *database;
	char *schema;
	char *granted_by;
	enum api_pg_object_type object_type;
	struct api_strv privileges;
};

struct api_pg_grant_config {	/* spec.postgres, §5.6 */
	bool set;
	struct api_strv roles;
	struct api_pg_grants grants;
	struct api_pg_default_privilege_grant *default_privileges;
	size_t n_default_privileges;
};

struct api_my_grant_config {	/* spec.mysql, §6.6 */
	bool set;
	struct api_strv roles;
	struct api_my_grants grants;
};

struct api_grant_spec {
	struct api_ref user;		/* userRef */
	struct api_ref database;	/* databaseRef (context only) */
	struct api_pg_grant_config postgres;
	struct api_my_grant_config mysql;
};

struct api_grant_status {
	enum api_phase phase;	/* Pending, Creating, Ready, Failed, Deleting */
	int64_t observed_generation;
	char *message;
	struct {
		bool set;
		struct api_strv roles;
		int32_t direct_grants;
		int32_t default_privileges;
	} applied_grants;
	struct api_conditions conditions;
};

struct api_grant {
	struct api_meta meta;
	struct api_grant_spec spec;
	struct api_grant_status status;
};

/*
 * Parses a whole DatabaseGrant object into *out (need not be
 * initialised). Beyond the schema: spec is required; privileges are
 * keywords; each MySQL grant names exactly what its level needs. Returns
 * 0, or -1 with errors added to errs (may be NULL); release *out either
 * way.
 */
int api_grant_parse(yajl_val obj, struct api_grant *out,
    struct api_errs *errs);
void api_grant_release(struct api_grant *g);
/* Writes the status object (the value of "status"). */
void api_grant_status_write(struct jw *w, const struct api_grant_status *st);
/* The other engine's block must not be set (the engine is the one of the
 * user's instance). Returns 0, or -1 with errors added. */
int api_grant_check_engine(const struct api_grant *g, enum api_engine engine,
    struct api_errs *errs);

#endif
