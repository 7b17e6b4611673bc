/*
 * api_user.c - DatabaseUser: parse, validate, release, status.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_common.h"
#include "api_user.h"
#include "cron.h"
#include "duration.h"

#define USER_PHASES ((1u << API_PHASE_PENDING) | (1u << API_PHASE_CREATING) | \
	(1u << API_PHASE_READY) | (1u << API_PHASE_FAILED) | \
	(1u << API_PHASE_DELETING))

/* MySQL account names: 32 characters since 5.7.8. */
#define MYSQL_USER_MAX 32

static void
parse_postgres(struct api_pc *pc, yajl_val spec, struct api_pg_user *pg)
{
	yajl_val v = api_pc_object(pc, spec, "postgres", 0);
	size_t mark;

	if (v == NULL)
		return;
	pg->set = true;
	mark = api_pc_push(pc, "postgres");
	api_pc_int32(pc, v, "connectionLimit", &pg->connection_limit, -1, -1,
	    INT32_MAX, 0);
	api_pc_string(pc, v, "validUntil", &pg->valid_until, NULL, 0);
	api_pc_bool(pc, v, "superuser", &pg->superuser, false);
	api_pc_bool(pc, v, "createDB", &pg->create_db, false);
	api_pc_bool(pc, v, "createRole", &pg->create_role, false);
	api_pc_bool(pc, v, "inherit", &pg->inherit, true);
	api_pc_bool(pc, v, "login", &pg->login, true);
	api_pc_bool(pc, v, "replication", &pg->replication, false);
	api_pc_bool(pc, v, "bypassRLS", &pg->bypass_rls, false);
	api_pc_strv(pc, v, "inRoles", &pg->in_roles, 0, 0);
	api_pc_map(pc, v, "configParameters", &pg->config_parameters);
	api_pc_pop(pc, mark);
}

static void
parse_mysql(struct api_pc *pc, yajl_val spec, struct api_my_user *my)
{
	yajl_val v = api_pc_object(pc, spec, "mysql", 0);
	size_t mark, i;

	if (v == NULL)
		return;
	my->set = true;
	mark = api_pc_push(pc, "mysql");
	api_pc_int32(pc, v, "maxQueriesPerHour", &my->max_queries_per_hour, 0,
	    0, INT32_MAX, 0);
	api_pc_int32(pc, v, "maxUpdatesPerHour", &my->max_updates_per_hour, 0,
	    0, INT32_MAX, 0);
	api_pc_int32(pc, v, "maxConnectionsPerHour",
	    &my->max_connections_per_hour, 0, 0, INT32_MAX, 0);
	api_pc_int32(pc, v, "maxUserConnections", &my->max_user_connections,
	    0, 0, INT32_MAX, 0);
	my->auth_plugin = api_pc_enum(pc, v, "authPlugin",
	    api_my_auth_plugin_names, API_MY_AUTH__COUNT,
	    API_MY_AUTH_CACHING_SHA2_PASSWORD, 0);
	api_pc_bool(pc, v, "requireSSL", &my->require_ssl, false);
	api_pc_bool(pc, v, "requireX509", &my->require_x509, false);
	if (api_member(v, "allowedHosts") == NULL) {
		my->allowed_hosts.v = xcalloc(1, sizeof(char *));
		my->allowed_hosts.v[0] = xstrdup("%");
		my->allowed_hosts.n = 1;
	} else if (api_pc_strv(pc, v, "allowedHosts", &my->allowed_hosts, 0,
	    0)) {
		size_t m = api_pc_push(pc, "allowedHosts");

		for (i = 0; i < my->allowed_hosts.n; i++) {
			size_t m2;

			if (my->allowed_hosts.v[i][0] != '\0')
				continue;
			m2 = api_pc_push_index(pc, i);
			api_pc_err(pc, NULL, "must not be empty");
			api_pc_pop(pc, m2);
		}
		api_pc_pop(pc, m);
	}
	api_pc_bool(pc, v, "accountLocked", &my->account_locked, false);
	api_pc_int32(pc, v, "failedLoginAttempts", &my->failed_login_attempts,
	    0, 0, INT32_MAX, 0);
	api_pc_int32(pc, v, "passwordLockTime", &my->password_lock_time, 0, 0,
	    INT32_MAX, 0);
	api_pc_pop(pc, mark);
}

/* passwordRotation: a schedule and a maximum age that parse, and only
 * for passwords dbprovd generates. */
static void
check_rotation(struct api_pc *pc, const struct api_user_spec *s)
{
	const struct api_password_rotation *r = &s->password_rotation;
	char err[200];
	struct cron cr;
	int64_t ns;

	if (!r->set)
		return;
	if (r->schedule && *r->schedule &&
	    cron_parse(r->schedule, &cr, err, sizeof(err)) < 0)
		api_pc_err(pc, "passwordRotation.schedule", "%s", err);
	if (r->max_age && *r->max_age) {
		if (duration_parse_days(r->max_age, &ns, err, sizeof(err)) < 0)
			api_pc_err(pc, "passwordRotation.maxAge", "%s", err);
		else if (ns < (int64_t)3600 * 1000000000)
			api_pc_err(pc, "passwordRotation.maxAge",
			    "must be at least 1h");
	}
	if (!r->enabled)
		return;
	if ((r->schedule == NULL || !*r->schedule) &&
	    (r->max_age == NULL || !*r->max_age))
		api_pc_err(pc, "passwordRotation.enabled", "true needs "
		    "passwordRotation.schedule or passwordRotation.maxAge");
	if (s->existing_password_secret.set)
		api_pc_err(pc, "passwordRotation.enabled", "a password read "
		    "from spec.existingPasswordSecret is rotated by whoever "
		    "writes that Secret, not by dbprovd");
}

static void
parse_spec(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_user_spec *s = out;
	size_t mark = api_pc_push(pc, "spec");

	api_pc_ref(pc, v, "instanceRef", &s->instance, API_REQ);
	api_pc_ident(pc, v, "username", &s->username, API_REQ);
	api_pc_password_config(pc, v, "passwordSecret", &s->password_secret);
	api_pc_secret_key(pc, v, "existingPasswordSecret",
	    &s->existing_password_secret, 0);
	api_pc_password_rotation(pc, v, "passwordRotation",
	    &s->password_rotation);
	parse_postgres(pc, v, &s->postgres);
	parse_mysql(pc, v, &s->mysql);
	if (s->password_secret.set && !s->password_secret.generate &&
	    !s->existing_password_secret.set)
		api_pc_err(pc, "passwordSecret.generate", "false requires "
		    "spec.existingPasswordSecret (no other password source)");
	check_rotation(pc, s);
	api_pc_pop(pc, mark);
}

static void
parse_status(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_user_status *st = out;
	size_t mark = api_pc_push(pc, "status"), m;
	yajl_val b;

	st->phase = api_pc_phase(pc, v, "phase", USER_PHASES);
	api_pc_int64(pc, v, "observedGeneration", &st->observed_generation, 0,
	    INT64_MIN, 0);
	api_pc_string(pc, v, "message", &st->message, NULL, 0);
	if ((b = api_pc_object(pc, v, "user", 0)) != NULL) {
		m = api_pc_push(pc, "user");
		st->user.set = true;
		api_pc_string(pc, b, "username", &st->user.username, NULL, 0);
		api_pc_time(pc, b, "createdAt", &st->user.created_at, 0);
		api_pc_pop(pc, m);
	}
	if ((b = api_pc_object(pc, v, "secret", 0)) != NULL) {
		m = api_pc_push(pc, "secret");
		st->secret.set = true;
		api_pc_string(pc, b, "name", &st->secret.name, NULL, 0);
		api_pc_string(pc, b, "namespace", &st->secret.ns, NULL, 0);
		api_pc_time(pc, b, "lastRotatedAt", &st->secret.last_rotated_at,
		    0);
		api_pc_pop(pc, m);
	}
	api_pc_conditions(pc, v, "conditions", &st->conditions);
	api_pc_pop(pc, mark);
}

int
api_user_parse(yajl_val obj, struct api_user *out, struct api_errs *errs)
{
	memset(out, 0, sizeof(*out));
	return api_pc_envelope(obj, API_USER, errs, &out->meta, parse_spec,
	    &out->spec, parse_status, &out->status);
}

void
api_user_release(struct api_user *u)
{
	api_meta_release(&u->meta);
	api_ref_release(&u->spec.instance);
	free(u->spec.username);
	api_password_config_release(&u->spec.password_secret);
	api_secret_key_release(&u->spec.existing_password_secret);
	api_password_rotation_release(&u->spec.password_rotation);
	free(u->spec.postgres.valid_until);
	api_strv_release(&u->spec.postgres.in_roles);
	api_map_release(&u->spec.postgres.config_parameters);
	api_strv_release(&u->spec.mysql.allowed_hosts);
	free(u->status.message);
	free(u->status.user.username);
	free(u->status.secret.name);
	free(u->status.secret.ns);
	api_conditions_release(&u->status.conditions);
	memset(u, 0, sizeof(*u));
}

void
api_user_status_write(struct jw *w, const struct api_user_status *st)
{
	jw_obj_open(w);
	api_w_enum(w, "phase", api_phase_names, st->phase);
	api_w_int(w, "observedGeneration", st->observed_generation);
	api_w_str(w, "message", st->message);
	if (st->user.set) {
		jw_key(w, "user");
		jw_obj_open(w);
		api_w_str(w, "username", st->user.username);
		api_w_time(w, "createdAt", st->user.created_at);
		jw_obj_close(w);
	}
	if (st->secret.set) {
		jw_key(w, "secret");
		jw_obj_open(w);
		api_w_str(w, "name", st->secret.name);
		api_w_str(w, "namespace", st->secret.ns);
		api_w_time(w, "lastRotatedAt", st->secret.last_rotated_at);
		jw_obj_close(w);
	}
	api_conditions_write(w, &st->conditions);
	jw_obj_close(w);
}

int
api_user_check_engine(const struct api_user *u, enum api_engine engine,
    struct api_errs *errs)
{
	struct api_pc pc;

	api_pc_init(&pc, errs);
	api_pc_engine_blocks(&pc, "spec", u->spec.postgres.set,
	    u->spec.mysql.set, engine);
	if (engine == API_ENGINE_MYSQL && u->spec.username &&
	    strlen(u->spec.username) > MYSQL_USER_MAX)
		api_pc_err(&pc, "spec.username", "must be at most %d "
		    "characters for mysql", MYSQL_USER_MAX);
	return pc.nerr ? -1 : 0;
}
