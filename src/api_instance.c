/*
 * api_instance.c - DatabaseInstance: parse, validate, release, status.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "api_common.h"
#include "api_instance.h"

#define INSTANCE_PHASES ((1u << API_PHASE_PENDING) | (1u << API_PHASE_READY) | \
	(1u << API_PHASE_FAILED))

static void
parse_postgres(struct api_pc *pc, yajl_val spec, struct api_pg_instance *pg)
{
	yajl_val v = api_pc_object(pc, spec, "postgres", 0);
	size_t mark;

	if (v == NULL)
		return;
	pg->set = true;
	mark = api_pc_push(pc, "postgres");
	pg->ssl_mode = api_pc_enum(pc, v, "sslMode", api_pg_sslmode_names,
	    API_PG_SSL__COUNT, API_PG_SSL_PREFER, 0);
	api_pc_int32(pc, v, "connectTimeout", &pg->connect_timeout, 10, 1,
	    INT32_MAX, 0);
	api_pc_string(pc, v, "statementTimeout", &pg->statement_timeout, NULL,
	    0);
	api_pc_string(pc, v, "applicationName", &pg->application_name,
	    "db-provision-operator", 0);
	api_pc_pop(pc, mark);
}

static void
parse_mysql(struct api_pc *pc, yajl_val spec, struct api_my_instance *my)
{
	yajl_val v = api_pc_object(pc, spec, "mysql", 0);
	size_t mark;

	if (v == NULL)
		return;
	my->set = true;
	mark = api_pc_push(pc, "mysql");
	if (api_pc_string(pc, v, "charset", &my->charset, "utf8mb4", 0))
		api_pc_charset_name(pc, "charset", my->charset);
	if (api_pc_string(pc, v, "collation", &my->collation,
	    "utf8mb4_unicode_ci", 0))
		api_pc_charset_name(pc, "collation", my->collation);
	api_pc_bool(pc, v, "parseTime", &my->parse_time, true);
	api_pc_duration(pc, v, "timeout", &my->timeout, "10s", 0);
	api_pc_duration(pc, v, "readTimeout", &my->read_timeout, "30s", 0);
	api_pc_duration(pc, v, "writeTimeout", &my->write_timeout, "30s", 0);
	my->tls = api_pc_enum(pc, v, "tls", api_my_tls_names,
	    API_MY_TLS__COUNT, API_MY_TLS_PREFERRED, 0);
	api_pc_pop(pc, mark);
}

static void
parse_connection(struct api_pc *pc, yajl_val spec, struct api_instance_spec *s)
{
	yajl_val v = api_pc_object(pc, spec, "connection", API_REQ);
	size_t mark;

	if (v == NULL)
		return;
	s->connection.set = true;
	mark = api_pc_push(pc, "connection");
	api_pc_string(pc, v, "host", &s->connection.host, NULL,
	    API_REQ | API_NONEMPTY);
	api_pc_int32(pc, v, "port", &s->connection.port, 0, 1, 65535, API_REQ);
	api_pc_string(pc, v, "database", &s->connection.database, NULL,
	    API_REQ);
	api_pc_cred_ref(pc, v, "secretRef", &s->connection.secret);
	api_pc_cred_ref(pc, v, "existingSecret", &s->connection.existing_secret);
	if (!s->connection.secret.set && !s->connection.existing_secret.set)
		api_pc_err(pc, "secretRef", "is required (the admin "
		    "credentials Secret)");
	else if (s->connection.secret.set && s->connection.existing_secret.set)
		api_pc_err(pc, "existingSecret", "must not be set together "
		    "with secretRef");
	api_pc_pop(pc, mark);
}

static void
parse_spec(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_instance_spec *s = out;
	size_t mark = api_pc_push(pc, "spec");

	s->engine = api_pc_enum(pc, v, "engine", api_engine_names,
	    API_ENGINE__COUNT, API_ENGINE_NONE, API_REQ);
	if (s->engine == API_ENGINE_COCKROACHDB)
		api_pc_err(pc, "engine", "cockroachdb is not supported "
		    "(supported: postgres, mysql)");
	parse_connection(pc, v, s);
	api_pc_tls(pc, v, "tls", &s->tls);
	api_pc_health_check(pc, v, "healthCheck", &s->health_check);
	parse_postgres(pc, v, &s->postgres);
	parse_mysql(pc, v, &s->mysql);
	api_pc_pop(pc, mark);
	api_pc_engine_blocks(pc, "spec", s->postgres.set, s->mysql.set,
	    s->engine);
}

static void
parse_status(struct api_pc *pc, yajl_val v, void *out)
{
	struct api_instance_status *st = out;
	size_t mark = api_pc_push(pc, "status");

	st->phase = api_pc_phase(pc, v, "phase", INSTANCE_PHASES);
	api_pc_string(pc, v, "version", &st->version, NULL, 0);
	api_pc_string(pc, v, "message", &st->message, NULL, 0);
	api_pc_time(pc, v, "lastCheckedAt", &st->last_checked_at, 0);
	api_pc_int64(pc, v, "observedGeneration", &st->observed_generation, 0,
	    INT64_MIN, 0);
	api_pc_conditions(pc, v, "conditions", &st->conditions);
	api_pc_pop(pc, mark);
}

int
api_instance_parse(yajl_val obj, struct api_instance *out,
    struct api_errs *errs)
{
	memset(out, 0, sizeof(*out));
	return api_pc_envelope(obj, API_INSTANCE, errs, &out->meta, parse_spec,
	    &out->spec, parse_status, &out->status);
}

void
api_instance_release(struct api_instance *in)
{
	struct api_instance_spec *s = &in->spec;

	api_meta_release(&in->meta);
	free(s->connection.host);
	free(s->connection.database);
	api_cred_ref_release(&s->connection.secret);
	api_cred_ref_release(&s->connection.existing_secret);
	api_tls_release(&s->tls);
	free(s->postgres.statement_timeout);
	free(s->postgres.application_name);
	free(s->mysql.charset);
	free(s->mysql.collation);
	free(s->mysql.timeout);
	free(s->mysql.read_timeout);
	free(s->mysql.write_timeout);
	free(in->status.version);
	free(in->status.message);
	api_conditions_release(&in->status.conditions);
	memset(in, 0, sizeof(*in));
}

void
api_instance_status_write(struct jw *w, const struct api_instance_status *st)
{
	jw_obj_open(w);
	api_w_enum(w, "phase", api_phase_names, st->phase);
	api_w_str(w, "version", st->version);
	api_w_str(w, "message", st->message);
	api_w_time(w, "lastCheckedAt", st->last_checked_at);
	api_w_int(w, "observedGeneration", st->observed_generation);
	api_conditions_write(w, &st->conditions);
	jw_obj_close(w);
}

const struct api_cred_ref *
api_instance_credentials(const struct api_instance_spec *spec)
{
	if (spec->connection.secret.set)
		return &spec->connection.secret;
	if (spec->connection.existing_secret.set)
		return &spec->connection.existing_secret;
	return NULL;
}
