#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "options.h"
#include "tap.h"

#define ARGV(...) ((char *[]){ "dbprovd", __VA_ARGS__, NULL })

/* argc is counted from the NULL-terminated vector. */
static int
parse(char **argv, int unused, struct options *o, char *err)
{
	int argc = 0;

	(void)unused;
	while (argv[argc])
		argc++;
	return options_parse(o, argc, argv, err, 256);
}

int
main(void)
{
	struct options o;
	char err[256];
	char **a;
	char *host;
	int port;

	a = ARGV("--leader-elect");
	ok(parse(a, 0, &o, err) == 0, "bare bool flag");
	ok(o.leader_elect, "leader-elect on");
	is_str(o.leader_election_id, DBP_LEADER_ELECTION_ID, "default lease id");
	is_str(o.health_probe_bind_address, ":8081", "default probe address");
	is_str(o.metrics_bind_address, "0", "metrics off by default");
	is_int(o.max_concurrent_reconciles, 8, "default concurrency");
	is_int(o.max_connections_per_instance, 4, "default connections per server");
	ok(o.namespace == NULL, "all namespaces by default");
	options_release(&o);

	{
		char **b = ARGV("--namespace", "team-a", "--log-level=debug",
		    "--max-concurrent-reconciles=3", "--leader-elect=false",
		    "--kubeconfig=/tmp/kc", "-context", "dev",
		    "--resync-period", "90s", "--zap-devel=true",
		    "--max-connections-per-instance=2");
		ok(parse(b, 13, &o, err) == 0, "mixed forms parse");
		is_int(o.max_connections_per_instance, 2,
		    "connections per server");
		is_str(o.namespace, "team-a", "space-separated value");
		is_int(o.log_level, LOG_DEBUG, "log level");
		is_int(o.max_concurrent_reconciles, 3, "uint value");
		ok(!o.leader_elect, "explicit false");
		is_str(o.kubeconfig, "/tmp/kc", "equals form");
		is_str(o.context, "dev", "single dash");
		ok(o.resync_period == 90, "duration value");
		options_release(&o);
	}
	{
		char **b = ARGV("--bogus");
		ok(parse(b, 1, &o, err) < 0, "unknown flag rejected");
		is_str(err, "unknown flag --bogus (see --help)", "message names the flag");
		options_release(&o);
	}
	{
		char **b = ARGV("--max-concurrent-reconciles=-1");
		ok(parse(b, 1, &o, err) < 0, "negative count rejected");
		options_release(&o);
	}
	{
		char **b = ARGV("--log-level", "loud");
		ok(parse(b, 2, &o, err) < 0, "bad level rejected");
		is_str(err, "invalid value \"loud\" for --log-level", "message");
		options_release(&o);
	}
	{
		char **b = ARGV("--namespace");
		ok(parse(b, 1, &o, err) < 0, "missing value rejected");
		options_release(&o);
	}
	{
		char **b = ARGV("--health-probe-bind-address=nope");
		ok(parse(b, 1, &o, err) < 0, "bad address rejected");
		options_release(&o);
	}
	{
		char **b = ARGV("--metrics-bind-address=:8443",
		    "--metrics-cert-path", "/certs", "--metrics-secure");
		ok(parse(b, 4, &o, err) == 0, "metrics TLS flags parse");
		is_str(o.metrics_cert_path, "/certs", "cert path");
		is_str(o.metrics_cert_name, "tls.crt", "default cert name");
		is_str(o.metrics_cert_key, "tls.key", "default key name");
		ok(o.metrics_secure, "--metrics-secure accepted");
		options_release(&o);
	}
	{
		char **b = ARGV("--metrics-cert-name=a.pem", "--metrics-cert-key",
		    "b.pem", "--metrics-secure=false");
		ok(parse(b, 4, &o, err) == 0, "cert file names");
		is_str(o.metrics_cert_name, "a.pem", "cert name");
		is_str(o.metrics_cert_key, "b.pem", "key name");
		ok(!o.metrics_secure && o.metrics_cert_path == NULL,
		    "not secure, no cert path by default");
		options_release(&o);
	}
	{
		char **b = ARGV("--metrics-cert-key=");
		ok(parse(b, 1, &o, err) < 0, "empty key file name rejected");
		options_release(&o);
	}
	{
		char **b = ARGV("extra");
		ok(parse(b, 1, &o, err) < 0, "positional argument rejected");
		options_release(&o);
	}
	ok(options_split_address(":8081", &host, &port) == 0 && port == 8081 &&
	    strcmp(host, "") == 0, ":port");
	free(host);
	ok(options_split_address("[::1]:9", &host, &port) == 0 && port == 9 &&
	    strcmp(host, "::1") == 0, "IPv6");
	free(host);
	ok(options_split_address("0", &host, &port) == 1, "0 disables");
	ok(options_split_address("127.0.0.1:99999", &host, &port) < 0, "port range");
	free(host);
	return done_testing();
}
