/*
 * options.c - command-line parsing.
 *
 * The flag names are those of the original operator (controller-runtime
 * style), so existing Deployments keep working; its zap logging flags are
 * accepted too.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "options.h"

enum opt_type { OPT_STR, OPT_BOOL, OPT_UINT, OPT_DURATION, OPT_LEVEL, OPT_IGNORED };

struct opt_def {
	const char *name;
	enum opt_type type;
	size_t off;
	const char *help;
};

#define O(f) offsetof(struct options, f)

static const struct opt_def defs[] = {
	{ "kubeconfig", OPT_STR, O(kubeconfig),
	  "path to a kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)" },
	{ "context", OPT_STR, O(context), "kubeconfig context to use (default: current-context)" },
	{ "namespace", OPT_STR, O(namespace), "watch only this namespace (default: all)" },
	{ "leader-elect", OPT_BOOL, O(leader_elect), "elect a leader with a Lease; only the leader reconciles" },
	{ "leader-election-namespace", OPT_STR, O(leader_election_namespace),
	  "namespace of the Lease (default: our own namespace)" },
	{ "leader-election-id", OPT_STR, O(leader_election_id),
	  "name of the Lease (default " DBP_LEADER_ELECTION_ID ")" },
	{ "metrics-bind-address", OPT_STR, O(metrics_bind_address),
	  "address of the /metrics listener, \"0\" disables (default 0)" },
	{ "health-probe-bind-address", OPT_STR, O(health_probe_bind_address),
	  "address of the /healthz and /readyz listener (default :8081)" },
	{ "metrics-cert-path", OPT_STR, O(metrics_cert_path),
	  "directory with the metrics TLS certificate and key: /metrics is served over HTTPS, reloaded when they change" },
	{ "metrics-cert-name", OPT_STR, O(metrics_cert_name),
	  "certificate file name in --metrics-cert-path (default tls.crt)" },
	{ "metrics-cert-key", OPT_STR, O(metrics_cert_key),
	  "key file name in --metrics-cert-path (default tls.key)" },
	{ "metrics-secure", OPT_BOOL, O(metrics_secure),
	  "every /metrics request needs a bearer token allowed by a TokenReview and a SubjectAccessReview; use with --metrics-cert-path for HTTPS (default false)" },
	{ "max-concurrent-reconciles", OPT_UINT, O(max_concurrent_reconciles),
	  "reconciles in flight at once, all kinds together (default 8)" },
	{ "max-connections-per-instance", OPT_UINT,
	  O(max_connections_per_instance),
	  "connections to one database server at most, all its databases together (default 4)" },
	{ "backup-volume-root", OPT_STR, O(backup_volume_root),
	  "where the PersistentVolumeClaims of storage.type pvc are mounted, one directory per claim (default /data)" },
	{ "resync-period", OPT_DURATION, O(resync_period),
	  "re-check every object this often, with +-10% jitter (default 10m)" },
	{ "shutdown-timeout", OPT_DURATION, O(shutdown_timeout),
	  "how long in-flight work may take after SIGTERM (default 8s)" },
	{ "log-level", OPT_LEVEL, O(log_level), "debug, info, warn or error (default info)" },
	{ "zap-log-level", OPT_LEVEL, O(log_level), "same as --log-level (compatibility)" },
	{ "zap-devel", OPT_IGNORED, 0, NULL },
	{ "zap-encoder", OPT_IGNORED, 0, NULL },
	{ "zap-stacktrace-level", OPT_IGNORED, 0, NULL },
	{ "zap-time-encoding", OPT_IGNORED, 0, NULL },
	{ "version", OPT_BOOL, O(version), "print the version and exit" },
	{ "help", OPT_BOOL, O(help), "print this help and exit" },
};

static void
options_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->leader_election_id = xstrdup(DBP_LEADER_ELECTION_ID);
	o->metrics_bind_address = xstrdup("0");
	o->health_probe_bind_address = xstrdup(":8081");
	o->metrics_cert_name = xstrdup("tls.crt");
	o->metrics_cert_key = xstrdup("tls.key");
	o->max_concurrent_reconciles = 8;
	o->max_connections_per_instance = 4;
	o->backup_volume_root = xstrdup("/data");
	o->resync_period = 600;
	o->shutdown_timeout = 8;
	o->log_level = LOG_INFO;
}

static int
parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "t") == 0 ||
	    strcmp(v, "T") == 0 || strcmp(v, "TRUE") == 0 || strcmp(v, "True") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "f") == 0 ||
	    strcmp(v, "F") == 0 || strcmp(v, "FALSE") == 0 || strcmp(v, "False") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int
set_value(struct options *o, const struct opt_def *d, const char *v,
    char *err, size_t errlen)
{
	char *base = (char *)o;

	switch (d->type) {
	case OPT_STR: {
		char **dst = (char **)(void *)(base + d->off);
		free(*dst);
		*dst = xstrdup(v);
		return 0;
	}
	case OPT_BOOL:
		if (parse_bool(v, (bool *)(void *)(base + d->off)) < 0)
			goto bad;
		return 0;
	case OPT_UINT: {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno || n == 0 || n > 100000 ||
		    v[0] == '-')
			goto bad;
		*(unsigned *)(void *)(base + d->off) = (unsigned)n;
		return 0;
	}
	case OPT_DURATION: {
		double secs;

		if (duration_parse_seconds(v, &secs, NULL, 0) < 0 || secs <= 0)
			goto bad;
		*(double *)(void *)(base + d->off) = secs;
		return 0;
	}
	case OPT_LEVEL:
		if (log_level_parse(v, (enum log_level *)(void *)(base + d->off)) < 0)
			goto bad;
		return 0;
	case OPT_IGNORED:
		return 0;
	}
bad:
	snprintf(err, errlen, "invalid value \"%s\" for --%s", v, d->name);
	return -1;
}

int
options_parse(struct options *o, int argc, char **argv, char *err,
    size_t errlen)
{
	int i;

	options_defaults(o);
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *name, *eq, *val = NULL;
		const struct opt_def *d = NULL;
		size_t n, k;

		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			/* Single-dash flags are accepted too, as Go's flag
			 * package does. */
			if (arg[0] == '-' && arg[1] != '-' && arg[1] != '\0') {
				name = arg + 1;
			} else {
				snprintf(err, errlen, "unexpected argument \"%s\"", arg);
				return -1;
			}
		} else {
			name = arg + 2;
		}
		eq = strchr(name, '=');
		n = eq ? (size_t)(eq - name) : strlen(name);
		for (k = 0; k < ARRAY_SIZE(defs); k++) {
			if (strlen(defs[k].name) == n &&
			    strncmp(defs[k].name, name, n) == 0) {
				d = &defs[k];
				break;
			}
		}
		if (d == NULL) {
			snprintf(err, errlen, "unknown flag --%.*s (see --help)", (int)n, name);
			return -1;
		}
		if (eq) {
			val = eq + 1;
		} else if (d->type == OPT_BOOL) {
			val = "true";
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			snprintf(err, errlen, "flag --%s needs a value", d->name);
			return -1;
		}
		if (set_value(o, d, val, err, errlen) < 0)
			return -1;
	}
	{
		char *host = NULL;
		int port;

		if (options_split_address(o->metrics_bind_address, &host, &port) < 0) {
			snprintf(err, errlen, "invalid value \"%s\" for --metrics-bind-address",
			    o->metrics_bind_address);
			free(host);
			return -1;
		}
		free(host);
		host = NULL;
		if (options_split_address(o->health_probe_bind_address, &host, &port) < 0) {
			snprintf(err, errlen, "invalid value \"%s\" for --health-probe-bind-address",
			    o->health_probe_bind_address);
			free(host);
			return -1;
		}
		free(host);
	}
	if (o->metrics_cert_path && *o->metrics_cert_path == '\0') {
		free(o->metrics_cert_path);
		o->metrics_cert_path = NULL;
	}
	if (*o->metrics_cert_name == '\0' || *o->metrics_cert_key == '\0') {
		snprintf(err, errlen, "--metrics-cert-name and --metrics-cert-key cannot be empty");
		return -1;
	}
	if (o->namespace && *o->namespace == '\0') {
		free(o->namespace);
		o->namespace = NULL;
	}
	return 0;
}

void
options_release(struct options *o)
{
	free(o->kubeconfig);
	free(o->context);
	free(o->namespace);
	free(o->leader_election_namespace);
	free(o->backup_volume_root);
	free(o->leader_election_id);
	free(o->metrics_bind_address);
	free(o->health_probe_bind_address);
	free(o->metrics_cert_path);
	free(o->metrics_cert_name);
	free(o->metrics_cert_key);
	memset(o, 0, sizeof(*o));
}

void
options_usage(FILE *out)
{
	size_t k;

	fprintf(out, "Usage: dbprovd [flags]\n\n"
	    "A Kubernetes operator that provisions databases, users, roles and grants\n"
	    "on PostgreSQL and MySQL/MariaDB servers (dbops.dbprovision.io/v1alpha1).\n\n"
	    "Flags:\n");
	for (k = 0; k < ARRAY_SIZE(defs); k++) {
		const char *arg = "";

		if (defs[k].help == NULL)
			continue;
		switch (defs[k].type) {
		case OPT_STR: arg = " string"; break;
		case OPT_UINT: arg = " int"; break;
		case OPT_DURATION: arg = " duration"; break;
		case OPT_LEVEL: arg = " level"; break;
		default: break;
		}
		fprintf(out, "  --%s%s\n        %s\n", defs[k].name, arg, defs[k].help);
	}
}

int
options_split_address(const char *addr, char **host, int *port)
{
	const char *colon;
	char *end;
	long p;

	*host = NULL;
	*port = 0;
	if (addr == NULL || strcmp(addr, "0") == 0 || *addr == '\0')
		return 1;
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		*host = xstrndup(addr + 1, (size_t)(close - addr - 1));
		colon = close + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return -1;
		*host = xstrndup(addr, (size_t)(colon - addr));
		if (strchr(*host, ':'))
			return -1;
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}
