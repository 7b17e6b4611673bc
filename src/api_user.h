/*
 * api_user.h - DatabaseUser (api.md §9): a login user plus an optional
 * credentials Secret. Conventions in api.h.
 */
#ifndef DBP_API_USER_H
#define DBP_API_USER_H

#include "api.h"

struct api_pg_user {		/* spec.postgres, §5.3 */
	bool set;
	int32_t connection_limit;	/* default -1, >= -1 */
	char *valid_until;
	bool superuser;
	bool create_db;
	bool create_role;
	bool inherit;			/* default true */
	bool login;			/* default true */
	bool replication;
	bool bypass_rls;
	struct api_strv in_roles;
	struct api_map config_parameters;
};

struct api_my_user {		/* spec.mysql, §6.3 */
	bool set;
	int32_t max_queries_per_hour;	/* all four: default 0, >= 0 */
	int32_t max_updates_per_hour;
	int32_t max_connections_per_hour;
	int32_t max_user_connections;
	enum api_my_auth_plugin auth_plugin;	/* default caching_sha2 */
	bool require_ssl;
	bool require_x509;
	struct api_strv allowed_hosts;	/* default ["%"] */
	bool account_locked;
	int32_t failed_login_attempts;	/* default 0, >= 0 */
	int32_t password_lock_time;	/* default 0, >= 0 */
};

struct api_user_spec {
	struct api_ref instance;		/* instanceRef */
	char *username;		/* 1..63, ^[a-zA-Z_][a-zA-Z0-9_]*$ */
	struct api_password_config password_secret;	/* passwordSecret */
	struct api_secret_key existing_password_secret;
	struct api_password_rotation password_rotation;
	struct api_pg_user postgres;
	struct api_my_user mysql;
};

struct api_user_status {
	enum api_phase phase;	/* Pending, Creating, Ready, Failed, Deleting */
	int64_t observed_generation;
	char *message;
	struct {
		bool set;
		char *username;
		int64_t created_at;
	} user;
	struct {
		bool set;
		char *name;
		char *ns;		/* "namespace" */
		int64_t last_rotated_at;
	} secret;
	struct api_conditions conditions;
};

struct api_user {
	struct api_meta meta;
	struct api_user_spec spec;
	struct api_user_status status;
};

/*
 * Parses a whole DatabaseUser object into *out (need not be initialised).
 * Beyond the schema: spec is required; reference and Secret names must
 * not be empty; passwordSecret.format must be kubernetes and
 * secretNamespace empty or the user's namespace (the original ignores
 * both); passwordSecret.generate: false needs existingPasswordSecret;
 * MySQL allowedHosts entries must not be empty. Returns 0, or -1 with
 * errors added to errs (may be NULL); *out must be released either way.
 */
int api_user_parse(yajl_val obj, struct api_user *out, struct api_errs *errs);
void api_user_release(struct api_user *u);
/* Writes the status object (the value of "status"). */
void api_user_status_write(struct jw *w, const struct api_user_status *st);
/* Checks the spec against the instance engine: the other engine's block
 * must not be set; MySQL user names are at most 32 characters. Returns 0,
 * or -1 with errors added. */
int api_user_check_engine(const struct api_user *u, enum api_engine engine,
    struct api_errs *errs);

#endif
