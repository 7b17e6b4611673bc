/*
 * api_instance.h - DatabaseInstance (api.md §7): a connection to one
 * PostgreSQL or MySQL/MariaDB server. Conventions in api.h.
 */
#ifndef DBP_API_INSTANCE_H
#define DBP_API_INSTANCE_H

#include "api.h"

struct api_pg_instance {	/* spec.postgres, §5.1 */
	bool set;
	enum api_pg_sslmode ssl_mode;	/* default prefer */
	int32_t connect_timeout;	/* default 10, >= 1 */
	char *statement_timeout;
	char *application_name;	/* default "db-provision-operator" */
};

struct api_my_instance {	/* spec.mysql, §6.1 */
	bool set;
	char *charset;			/* default utf8mb4 */
	char *collation;		/* default utf8mb4_unicode_ci */
	bool parse_time;		/* default true */
	char *timeout;			/* Go duration, default 10s */
	char *read_timeout;		/* default 30s */
	char *write_timeout;		/* default 30s */
	enum api_my_tls tls;		/* default preferred */
};

struct api_instance_spec {
	enum api_engine engine;
	struct {
		bool set;
		char *host;
		int32_t port;
		char *database;
		struct api_cred_ref secret;		/* secretRef */
		struct api_cred_ref existing_secret;	/* existingSecret */
	} connection;
	struct api_tls tls;
	struct api_health_check health_check;
	struct api_pg_instance postgres;
	struct api_my_instance mysql;
};

struct api_instance_status {
	enum api_phase phase;		/* Pending, Ready, Failed */
	char *version;
	char *message;
	int64_t last_checked_at;
	int64_t observed_generation;
	struct api_conditions conditions;
};

struct api_instance {
	struct api_meta meta;
	struct api_instance_spec spec;
	struct api_instance_status status;
};

/*
 * Parses a whole DatabaseInstance object (metadata, spec, status) into
 * *out, which need not be initialised. Applies the CRD defaults and checks
 * the schema plus these rules: spec is required; engine cockroachdb is
 * rejected (no adapter); only the option block of spec.engine may be set;
 * exactly one of connection.secretRef / connection.existingSecret; MySQL
 * charset/collation are plain names; MySQL timeouts are Go durations.
 * Returns 0, or -1 when errors were added to errs (errs may be NULL). *out
 * is filled as far as possible either way and must be released.
 */
int api_instance_parse(yajl_val obj, struct api_instance *out,
    struct api_errs *errs);
void api_instance_release(struct api_instance *in);
/* Writes the status object (the value of "status") with the original's
 * field names and omitempty rules. */
void api_instance_status_write(struct jw *w,
    const struct api_instance_status *st);
/* The admin credentials reference in use (secretRef, else existingSecret),
 * or NULL when neither is set. */
const struct api_cred_ref *api_instance_credentials(
    const struct api_instance_spec *spec);

#endif
