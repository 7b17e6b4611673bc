/*
 * options.h - command-line options of dbprovd.
 */
#ifndef DBP_OPTIONS_H
#define DBP_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "log.h"

#define DBP_LEADER_ELECTION_ID "b0f91929.dbprovision.io"

struct options {
	char *kubeconfig;
	char *context;
	char *namespace;		/* watch only this one; NULL = all */
	bool leader_elect;
	char *leader_election_namespace;	/* NULL = our own namespace */
	char *leader_election_id;
	char *metrics_bind_address;	/* "0" disables */
	char *health_probe_bind_address;	/* "0" disables */
	char *metrics_cert_path;	/* dir with the metrics TLS pair; NULL: plain HTTP */
	char *metrics_cert_name;	/* file names in it: tls.crt */
	char *metrics_cert_key;		/* tls.key */
	bool metrics_secure;		/* compatibility; see doc/monitoring.md */
	unsigned max_concurrent_reconciles;
	unsigned max_connections_per_instance;	/* per database server */
	char *backup_volume_root;	/* where pvc claims are mounted */
	double resync_period;		/* seconds, jittered +-10% */
	double shutdown_timeout;	/* seconds for in-flight work on SIGTERM */
	enum log_level log_level;
	bool version;
	bool help;
};

/* Fills opts from argv. Returns 0, or -1 with a one-line message in err
 * (the caller prints it and exits 2). Flags take "--flag value" or
 * "--flag=value"; booleans also "--flag" and "--flag=false". */
int options_parse(struct options *opts, int argc, char **argv, char *err,
    size_t errlen);
void options_release(struct options *opts);
void options_usage(FILE *out);

/* Splits "host:port" (host may be empty, "[v6]" or a name). Returns 0,
 * 1 when the address is "0" (disabled) or -1 when malformed. host is
 * malloc'ed ("" for all addresses). */
int options_split_address(const char *addr, char **host, int *port);

#endif
