/*
 * kclient.c - glue between credentials and the HTTP client.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "kclient.h"
#include "kconfig.h"
#include "khttp.h"

static const char *
token_cb(void *arg, double now)
{
	return kconfig_token(arg, now);
}

static void
token_invalidate_cb(void *arg)
{
	kconfig_token_invalidate(arg);
}

struct khttp *
kclient_new(struct ev_loop *loop, struct kconfig *kc, char *err, size_t errlen)
{
	struct khttp_config hc;
	struct utsname u;
	char ua[128];
	const char *arch = "unknown";

	if (uname(&u) == 0)
		arch = strcmp(u.machine, "x86_64") == 0 ? "amd64" :
		    strcmp(u.machine, "aarch64") == 0 ? "arm64" : u.machine;
	snprintf(ua, sizeof(ua), "%s/%s (linux/%s)", PACKAGE_NAME,
	    PACKAGE_VERSION, arch);
	memset(&hc, 0, sizeof(hc));
	hc.server = kc->server;
	hc.ca_file = kc->ca.file;
	hc.ca_pem = kc->ca.data;
	hc.cert_file = kc->cert.file;
	hc.cert_pem = kc->cert.data;
	hc.key_file = kc->key.file;
	hc.key_pem = kc->key.data;
	hc.insecure = kc->insecure;
	hc.proxy_url = kc->proxy_url;
	hc.tls_server_name = kc->tls_server_name;
	hc.disable_compression = kc->disable_compression;
	hc.user_agent = ua;
	hc.token = token_cb;
	hc.token_invalidate = token_invalidate_cb;
	hc.token_arg = kc;
	return khttp_new(loop, &hc, err, errlen);
}
