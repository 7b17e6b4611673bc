#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "kconfig.h"
#include "log.h"
#include "tap.h"

static const char CA_PEM[] =
    "-----BEGIN CERTIFICATE-----\nMIIBfakeCAcertificate\n-----END CERTIFICATE-----\n";
static const char CERT_PEM[] =
    "-----BEGIN CERTIFICATE-----\nMIIBfakeClientCert\n-----END CERTIFICATE-----\n";
static const char KEY_PEM[] =
    "-----BEGIN PRIVATE KEY-----\nMIIEsecretKEYmaterial\n-----END PRIVATE KEY-----\n";

static char dir[1024];
static char err[512];
static char ca64[256], cert64[256], key64[256];

static void
b64(const char *in, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)strlen(in));
}

static char *
P(const char *rel)
{
	static char bufs[8][PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", dir, rel);
	return b;
}

static void
mkdirs(const char *rel)
{
	char path[PATH_MAX], *p;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	for (p = path + strlen(dir) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0700);
			*p = '/';
		}
	}
	mkdir(path, 0700);
}

static void
put(const char *rel, const char *text)
{
	char tmp[PATH_MAX];
	FILE *f;

	/* write-and-rename, like the kubelet's atomic swap */
	snprintf(tmp, sizeof(tmp), "%s.tmp", P(rel));
	f = fopen(tmp, "w");
	if (f == NULL) {
		diag("cannot write %s: %s", tmp, strerror(errno));
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	rename(tmp, P(rel));
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
clear_env(void)
{
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("POD_NAMESPACE");
	unsetenv("DBPROVD_SA_DIR");
	setenv("HOME", P("nohome"), 1);
}

/* Loads an explicit kubeconfig; returns the rc. */
static int
load(struct kconfig *kc, const char *rel, const char *ctx)
{
	err[0] = '\0';
	return kconfig_load_kubeconfig(kc, P(rel), ctx, err, sizeof(err));
}

/* Expects failure with exactly / containing a message. */
static void
fails(const char *rel, const char *ctx, const char *want, int exact,
    const char *name)
{
	struct kconfig kc;
	int rc = load(&kc, rel, ctx);

	is_int(rc, -1, name);
	if (exact) {
		is_str(err, want, name);
	} else {
		ok(strstr(err, want) != NULL, name);
		if (strstr(err, want) == NULL)
			diag("message: %s (want %s)", err, want);
	}
	ok(strchr(err, '\n') == NULL, "one line");
	ok(strstr(err, "SECRET") == NULL && strstr(err, "hunter2") == NULL &&
	    strstr(err, "MIIE") == NULL, "no secret in the message");
	ok(kc.server == NULL && kc.token == NULL && kc.source == KCONFIG_SRC_NONE,
	    "failed load leaves the struct empty");
	kconfig_release(&kc);
}

static void
test_inline(void)
{
	struct kconfig kc;
	char *text;

	text = xasprintf(
	    "apiVersion: v1\n"
	    "kind: Config\n"
	    "preferences: {}\n"
	    "clusters:\n"
	    "- name: other\n"
	    "  cluster:\n"
	    "    server: https://other:1\n"
	    "- name: prod\n"
	    "  cluster:\n"
	    "    server: https://api.example.com:6443/k8s/clusters/c-abc/\n"
	    "    certificate-authority-data: %s\n"
	    "    tls-server-name: kubernetes.default.svc\n"
	    "    extensions: [{name: x, extension: {}}]\n"
	    "users:\n"
	    "- name: admin\n"
	    "  user:\n"
	    "    client-certificate-data: %s\n"
	    "    client-key-data: |\n"
	    "      %.20s\n"
	    "      %s\n"
	    "contexts:\n"
	    "- name: prod-admin\n"
	    "  context:\n"
	    "    cluster: prod\n"
	    "    user: admin\n"
	    "    namespace: team-a\n"
	    "current-context: prod-admin\n",
	    ca64, cert64, key64, key64 + 20);
	put("inline.yaml", text);
	free(text);

	if (!is_int(load(&kc, "inline.yaml", NULL), 0, "inline kubeconfig loads"))
		diag("error: %s", err);
	is_int(kc.source, KCONFIG_SRC_KUBECONFIG, "source kubeconfig");
	is_str(kconfig_source_name(kc.source), "kubeconfig", "source name");
	is_str(kc.origin, P("inline.yaml"), "origin is the file");
	is_str(kc.context, "prod-admin", "current-context used");
	is_str(kc.server, "https://api.example.com:6443/k8s/clusters/c-abc",
	    "server keeps its path prefix, loses the trailing slash");
	is_str(kc.ca.data, CA_PEM, "CA from base64");
	is_int(kc.ca.len, strlen(CA_PEM), "CA length");
	ok(kc.ca.file == NULL, "no CA file");
	is_str(kc.cert.data, CERT_PEM, "client cert from base64");
	is_str(kc.key.data, KEY_PEM, "client key from base64 split over lines");
	is_str(kc.tls_server_name, "kubernetes.default.svc", "tls-server-name");
	is_str(kc.namespace, "team-a", "context namespace");
	ok(!kc.insecure, "not insecure");
	ok(kc.token == NULL && kc.token_file == NULL, "no token");
	ok(kconfig_token(&kc, 0) == NULL, "kconfig_token gives NULL without a token");
	kconfig_release(&kc);
	ok(kc.server == NULL && kc.key.data == NULL, "release empties");
	kconfig_release(&kc);	/* twice is fine */

	is_int(load(&kc, "inline.yaml", "prod-admin"), 0, "explicit context equal to current");
	kconfig_release(&kc);
}

static void
test_relative(void)
{
	struct kconfig kc;
	char cwd[PATH_MAX];

	mkdirs("rel/sub/certs");
	mkdirs("rel/shared");
	put("rel/sub/certs/ca.crt", CA_PEM);
	put("rel/shared/c.crt", CERT_PEM);
	put("rel/shared/c.key", KEY_PEM);
	put("rel/sub/tok", "  SECRET-file-token\n");
	put("rel/sub/config",
	    "clusters:\n"
	    "- name: c\n"
	    "  cluster:\n"
	    "    server: \"https://10.0.0.1:6443\"\n"
	    "    certificate-authority: certs/ca.crt\n"
	    "users:\n"
	    "- name: u\n"
	    "  user:\n"
	    "    client-certificate: ../shared/c.crt\n"
	    "    client-key: ../shared/c.key\n"
	    "    tokenFile: tok\n"
	    "contexts:\n"
	    "- name: x\n"
	    "  context: {cluster: c, user: u, namespace: \"\"}\n"
	    "current-context: x\n");
	if (!is_int(load(&kc, "rel/sub/config", NULL), 0, "file paths load"))
		diag("error: %s", err);
	is_str(kc.ca.file, P("rel/sub/certs/ca.crt"), "CA path relative to the kubeconfig dir");
	is_str(kc.cert.file, P("rel/sub/../shared/c.crt"), "cert path relative");
	is_str(kc.key.file, P("rel/sub/../shared/c.key"), "key path relative");
	ok(kc.ca.data == NULL && kc.key.data == NULL, "no in-memory PEM");
	is_str(kc.token_file, P("rel/sub/tok"), "tokenFile relative");
	is_str(kc.token, "SECRET-file-token", "tokenFile read and trimmed at load");
	is_str(kc.namespace, "default", "empty namespace is default");
	kconfig_release(&kc);

	/* the kubeconfig path itself relative to the working directory */
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		cwd[0] = '\0';
	if (chdir(dir) == 0) {
		is_int(kconfig_load_kubeconfig(&kc, "rel/sub/config", NULL, err, sizeof(err)), 0,
		    "relative kubeconfig path");
		is_str(kc.ca.file, P("rel/sub/certs/ca.crt"), "resolved against its absolute directory");
		kconfig_release(&kc);
		if (chdir(cwd) != 0)
			diag("chdir back failed");
	}
}

static void
test_merge(void)
{
	struct kconfig kc;
	char *env;

	mkdirs("a");
	mkdirs("b");
	put("a/ca-a.crt", CA_PEM);
	put("b/ca-b.crt", CA_PEM);
	put("a/config",
	    "clusters:\n"
	    "- name: c1\n"
	    "  cluster: {server: 'https://a:1', certificate-authority: ca-a.crt}\n"
	    "users:\n"
	    "- name: uA\n"
	    "  user: {token: tok-a}\n"
	    "contexts:\n"
	    "- name: ctxA\n"
	    "  context: {cluster: c1, user: uA}\n"
	    "current-context: ctxA\n");
	put("b/config",
	    "clusters:\n"
	    "- name: c1\n"
	    "  cluster: {server: 'https://b:1'}\n"
	    "- name: c2\n"
	    "  cluster: {server: 'https://b:2', certificate-authority: ca-b.crt}\n"
	    "users:\n"
	    "- name: uA\n"
	    "  user: {token: tok-b}\n"
	    "- name: uB\n"
	    "  user: {token: tok-b2}\n"
	    "contexts:\n"
	    "- name: ctxA\n"
	    "  context: {cluster: c2, user: uB}\n"
	    "- name: ctxB\n"
	    "  context: {cluster: c2, user: uB, namespace: nsb}\n"
	    "current-context: ctxB\n");
	put("empty.yaml", "");
	put("blankctx.yaml", "current-context: ''\nclusters: []\n");

	env = xasprintf("%s:%s:%s:%s:%s", P("blankctx.yaml"), P("missing/config"),
	    P("a/config"), P("empty.yaml"), P("b/config"));
	setenv("KUBECONFIG", env, 1);
	if (!is_int(kconfig_load_kubeconfig(&kc, NULL, NULL, err, sizeof(err)), 0,
	    "KUBECONFIG list loads, missing file skipped"))
		diag("error: %s", err);
	is_str(kc.context, "ctxA", "first file's current-context wins");
	is_str(kc.server, "https://a:1", "first file's cluster c1 wins");
	is_str(kconfig_token(&kc, 0), "tok-a", "first file's user uA wins");
	is_str(kc.ca.file, P("a/ca-a.crt"), "path relative to the first file");
	is_str(kc.origin, P("a/config"), "origin is the defining file");
	kconfig_release(&kc);

	is_int(kconfig_load_kubeconfig(&kc, NULL, "ctxB", err, sizeof(err)), 0,
	    "context override");
	is_str(kc.context, "ctxB", "override used");
	is_str(kc.server, "https://b:2", "cluster only in the second file");
	is_str(kc.ca.file, P("b/ca-b.crt"), "path relative to the second file's dir");
	is_str(kc.token, "tok-b2", "user from the second file");
	is_str(kc.namespace, "nsb", "namespace of the override context");
	is_str(kc.origin, P("b/config"), "origin is the second file");
	kconfig_release(&kc);
	free(env);

	env = xasprintf("%s:%s", P("b/config"), P("a/config"));
	setenv("KUBECONFIG", env, 1);
	is_int(kconfig_load_kubeconfig(&kc, NULL, NULL, err, sizeof(err)), 0,
	    "reversed order");
	is_str(kc.context, "ctxB", "now the other current-context wins");
	kconfig_release(&kc);
	is_int(kconfig_load_kubeconfig(&kc, NULL, "ctxA", err, sizeof(err)), 0,
	    "ctxA from the reversed list");
	is_str(kc.server, "https://b:2", "ctxA as defined by the first file (cluster c2)");
	is_str(kc.token, "tok-b2", "its user uB");
	kconfig_release(&kc);
	free(env);

	env = xasprintf("%s::%s", P("missing/1"), P("missing/2"));
	setenv("KUBECONFIG", env, 1);
	is_int(kconfig_load_kubeconfig(&kc, NULL, NULL, err, sizeof(err)), -1,
	    "only missing files fails");
	ok(strstr(err, "none of the files") != NULL && strstr(err, P("missing/1")) != NULL,
	    "and says so");
	free(env);

	env = xasprintf("%s:%s", P("a/config"), P("b/config"));
	setenv("KUBECONFIG", env, 1);
	is_int(kconfig_load_kubeconfig(&kc, NULL, "nope", err, sizeof(err)), -1,
	    "missing context in a list");
	{
		char *want = xasprintf("kubeconfig %s: context \"nope\" not found", env);

		is_str(err, want, "the message names the list");
		free(want);
	}
	free(env);
	clear_env();
}

static void
test_errors(void)
{
	char *text;

	put("ctx.yaml",
	    "clusters:\n"
	    "- name: c\n"
	    "  cluster: {server: 'https://c:1'}\n"
	    "contexts:\n"
	    "- name: x\n"
	    "  context: {cluster: ghost}\n"
	    "- name: y\n"
	    "  context: {cluster: c, user: nobody}\n"
	    "- name: z\n"
	    "  context: {user: nobody}\n"
	    "- name: anon\n"
	    "  context: {cluster: c}\n");
	{
		char *want = xasprintf("kubeconfig %s: context \"dev\" not found", P("ctx.yaml"));

		fails("ctx.yaml", "dev", want, 1, "missing context");
		free(want);
		want = xasprintf("kubeconfig %s: context \"x\": cluster \"ghost\" not found", P("ctx.yaml"));
		fails("ctx.yaml", "x", want, 1, "missing cluster");
		free(want);
		want = xasprintf("kubeconfig %s: no current-context set and no context given", P("ctx.yaml"));
		fails("ctx.yaml", NULL, want, 1, "no current-context");
		free(want);
	}
	fails("ctx.yaml", "y", "user \"nobody\" not found", 0, "missing user");
	fails("ctx.yaml", "z", "context \"z\": no cluster set", 0, "context without cluster");
	{
		struct kconfig kc;

		is_int(load(&kc, "ctx.yaml", "anon"), 0, "a context without a user loads");
		ok(kc.token == NULL && kc.cert.file == NULL && kc.cert.data == NULL,
		    "with no credentials");
		kconfig_release(&kc);
	}

	text = xasprintf(
	    "clusters:\n"
	    "- name: c\n"
	    "  cluster:\n"
	    "    server: https://c:1\n"
	    "    certificate-authority-data: %s\n"
	    "    insecure-skip-tls-verify: true\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n", ca64);
	put("cains.yaml", text);
	free(text);
	fails("cains.yaml", NULL,
	    "cluster \"c\": specifying a root certificates file with the insecure flag is not allowed",
	    0, "CA + insecure");
	put("ins.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1', insecure-skip-tls-verify: yes}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n");
	{
		struct kconfig kc;

		is_int(load(&kc, "ins.yaml", NULL), 0, "insecure alone is allowed");
		ok(kc.insecure, "insecure set (YAML 1.1 yes)");
		kconfig_release(&kc);
	}
	put("badbool.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1', insecure-skip-tls-verify: \"true\"}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n");
	fails("badbool.yaml", NULL, "line 2: cluster \"c\": insecure-skip-tls-verify: expected true or false",
	    0, "a quoted boolean is a type error");

	put("malformed.yaml",
	    "apiVersion: v1\n"
	    "kind: Config\n"
	    "current-context: a: b\n"
	    "users: []\n");
	fails("malformed.yaml", NULL, "YAML error at line 3", 0, "malformed YAML names the line");
	put("malformed2.yaml",
	    "clusters:\n"
	    "- name: c\n"
	    "  cluster:\n"
	    "    server: https://c:1\n"
	    "   bad-indent: 1\n");
	fails("malformed2.yaml", NULL, "YAML error at line 5", 0, "bad indentation names the line");
	put("scalar.yaml", "just a string\n");
	fails("scalar.yaml", NULL, "must be a mapping", 0, "a non-mapping document");

	put("exec.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1'}}\n"
	    "users:\n"
	    "- name: eks\n"
	    "  user:\n"
	    "    token: SECRET-exec\n"
	    "    exec:\n"
	    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
	    "      command: aws\n"
	    "      args: [eks, get-token]\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c, user: eks}}\n"
	    "current-context: x\n");
	fails("exec.yaml", NULL, "line 7: user \"eks\": exec credential plugins are not supported (users[].user.exec)",
	    0, "exec user is an error naming it");
	put("authp.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1'}}\n"
	    "users:\n"
	    "- {name: g, user: {auth-provider: {name: gcp, config: {access-token: SECRET-ya29}}}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c, user: g}}\n"
	    "current-context: x\n");
	fails("authp.yaml", NULL, "auth-provider plugins are not supported", 0, "auth-provider is an error");
	put("basic.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1'}}\n"
	    "users:\n"
	    "- {name: b, user: {username: admin, password: hunter2}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c, user: b}}\n"
	    "current-context: x\n");
	fails("basic.yaml", NULL, "basic authentication (username/password) is not supported", 0,
	    "username/password is an error");
	put("imp.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1'}}\n"
	    "users:\n"
	    "- {name: i, user: {token: SECRET-t, as: someone}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c, user: i}}\n"
	    "current-context: x\n");
	fails("imp.yaml", NULL, "impersonation is not supported", 0, "impersonation is an error");

	text = xasprintf(
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1'}}\n"
	    "users:\n"
	    "- name: u\n"
	    "  user:\n"
	    "    client-certificate-data: %s\n"
	    "    client-key-data: SECRET*notbase64==\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c, user: u}}\n"
	    "current-context: x\n", cert64);
	put("b64.yaml", text);
	free(text);
	fails("b64.yaml", NULL, "line 7: user \"u\": client-key-data: not valid base64", 0,
	    "bad base64 names the key, not the value");
	put("b64pad.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1', certificate-authority-data: 'LS0=LS0t'}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n");
	fails("b64pad.yaml", NULL, "certificate-authority-data: not valid base64", 0,
	    "padding in the middle is invalid");
	put("b64nopad.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1', certificate-authority-data: 'LS0tLS'}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n");
	fails("b64nopad.yaml", NULL, "certificate-authority-data: not valid base64", 0,
	    "missing padding is invalid (StdEncoding)");
	put("notpem.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1', certificate-authority-data: aGVsbG8gd29ybGQ=}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n");
	fails("notpem.yaml", NULL, "certificate-authority-data: not PEM after base64 decoding", 0,
	    "base64 that is not PEM");

	text = xasprintf(
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1'}}\n"
	    "users:\n"
	    "- {name: u, user: {client-certificate-data: %s}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c, user: u}}\n"
	    "current-context: x\n", cert64);
	put("nokey.yaml", text);
	free(text);
	fails("nokey.yaml", NULL, "client-key-data or client-key must be specified", 0,
	    "certificate without key");

	put("nofile.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1', certificate-authority: nothere.crt}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n");
	{
		char *want = xasprintf("cluster \"c\": certificate-authority %s: No such file or directory",
		    P("nothere.crt"));

		fails("nofile.yaml", NULL, want, 0, "missing CA file names key and path");
		free(want);
	}
	put("notok.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1'}}\n"
	    "users:\n"
	    "- {name: u, user: {tokenFile: /nonexistent/tok}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c, user: u}}\n"
	    "current-context: x\n");
	fails("notok.yaml", NULL, "user \"u\": tokenFile /nonexistent/tok: No such file", 0,
	    "unreadable tokenFile");

	put("dup.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1'}}\n"
	    "- {name: c, cluster: {server: 'https://c:2'}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n");
	fails("dup.yaml", NULL, "line 3: duplicate cluster name \"c\"", 0, "duplicate names");

	put("types.yaml",
	    "clusters:\n"
	    "- name: c\n"
	    "  cluster:\n"
	    "    server: [https://c:1]\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n");
	fails("types.yaml", NULL, "line 4: cluster \"c\": server: expected a string", 0,
	    "wrong type names the key and line");
	put("types2.yaml", "clusters: {c: 1}\ncurrent-context: x\ncontexts:\n- {name: x, context: {cluster: c}}\n");
	fails("types2.yaml", NULL, "line 1: clusters: expected a list", 0, "list of the wrong shape");
	put("noserver.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n");
	fails("noserver.yaml", NULL, "cluster \"c\": no server set", 0, "cluster without server");
	put("ftp.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'ftp://c:1'}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c}}\n"
	    "current-context: x\n");
	fails("ftp.yaml", NULL, "scheme must be https or http", 0, "bad scheme");

	{
		char *want = xasprintf("kubeconfig %s: No such file or directory", P("absent.yaml"));

		fails("absent.yaml", NULL, want, 1, "an explicit missing file is an error");
		free(want);
	}
}

static void
test_formats(void)
{
	struct kconfig kc;
	char *text;

	text = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Config\","
	    "\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://j:443\","
	    "\"certificate-authority-data\":\"%s\"}}],"
	    "\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"SECRET-json\"}}],"
	    "\"contexts\":[{\"name\":\"x\",\"context\":{\"cluster\":\"c\",\"user\":\"u\","
	    "\"namespace\":\"jns\"}}],\"current-context\":\"x\"}", ca64);
	put("config.json", text);
	free(text);
	if (!is_int(load(&kc, "config.json", NULL), 0, "JSON kubeconfig loads"))
		diag("error: %s", err);
	is_str(kc.server, "https://j:443", "JSON server");
	is_str(kc.ca.data, CA_PEM, "JSON CA data");
	is_str(kconfig_token(&kc, 0), "SECRET-json", "JSON static token");
	is_str(kc.namespace, "jns", "JSON namespace");
	kconfig_release(&kc);

	put("noscheme.yaml",
	    "clusters:\n"
	    "- {name: plain, cluster: {server: '127.0.0.1:8080'}}\n"
	    "- {name: tls, cluster: {server: 'k8s.local:6443/', insecure-skip-tls-verify: true}}\n"
	    "contexts:\n"
	    "- {name: p, context: {cluster: plain}}\n"
	    "- {name: t, context: {cluster: tls}}\n");
	is_int(load(&kc, "noscheme.yaml", "p"), 0, "server without scheme");
	is_str(kc.server, "http://127.0.0.1:8080", "plain: http");
	kconfig_release(&kc);
	is_int(load(&kc, "noscheme.yaml", "t"), 0, "server without scheme, TLS implied");
	is_str(kc.server, "https://k8s.local:6443", "insecure: https");
	kconfig_release(&kc);
}

static void
test_incluster(void)
{
	struct kconfig kc;

	mkdirs("sa");
	put("sa/token", "SECRET-tok1\n");
	put("sa/ca.crt", CA_PEM);
	put("sa/namespace", "ns-file\n");
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	setenv("DBPROVD_SA_DIR", P("sa"), 1);
	if (!is_int(kconfig_load_incluster(&kc, NULL, err, sizeof(err)), 0, "in-cluster loads"))
		diag("error: %s", err);
	is_int(kc.source, KCONFIG_SRC_INCLUSTER, "source in-cluster");
	is_str(kc.origin, "in-cluster", "origin");
	is_str(kc.server, "https://[fd00::1]:443", "IPv6 host in brackets");
	is_str(kc.ca.file, P("sa/ca.crt"), "CA file");
	is_str(kc.token_file, P("sa/token"), "token file");
	is_str(kc.token, "SECRET-tok1", "token read and trimmed");
	is_str(kc.namespace, "ns-file", "namespace from the file, trimmed");
	ok(kc.context == NULL, "no context in-cluster");
	kconfig_release(&kc);

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("POD_NAMESPACE", "ns-env", 1);
	is_int(kconfig_load_incluster(&kc, NULL, err, sizeof(err)), 0, "IPv4 in-cluster");
	is_str(kc.server, "https://10.96.0.1:443", "IPv4 host bare");
	is_str(kc.namespace, "ns-env", "POD_NAMESPACE wins over the file");
	kconfig_release(&kc);
	unsetenv("POD_NAMESPACE");

	mkdirs("sa2");
	put("sa2/token", "SECRET-tok2");
	put("sa2/ca.crt", CA_PEM);
	put("sa2/namespace", " \n");
	is_int(kconfig_load_incluster(&kc, P("sa2"), err, sizeof(err)), 0,
	    "sa_dir argument overrides DBPROVD_SA_DIR");
	is_str(kc.token, "SECRET-tok2", "token from the argument's dir");
	is_str(kc.namespace, "default", "blank namespace file: default");
	kconfig_release(&kc);
	remove(P("sa2/namespace"));
	is_int(kconfig_load_incluster(&kc, P("sa2"), err, sizeof(err)), 0, "no namespace file");
	is_str(kc.namespace, "default", "no namespace file: default");
	kconfig_release(&kc);

	remove(P("sa2/ca.crt"));
	is_int(kconfig_load_incluster(&kc, P("sa2"), err, sizeof(err)), -1, "missing ca.crt fails");
	ok(strstr(err, P("sa2/ca.crt")) != NULL, "message names the CA file");
	remove(P("sa2/token"));
	is_int(kconfig_load_incluster(&kc, P("sa2"), err, sizeof(err)), -1, "missing token fails");
	ok(strstr(err, P("sa2/token")) != NULL && strstr(err, "No such file") != NULL,
	    "message names the token file and the reason");

	unsetenv("KUBERNETES_SERVICE_PORT");
	is_int(kconfig_load_incluster(&kc, NULL, err, sizeof(err)), -1, "no port: not in cluster");
	ok(strstr(err, "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT") != NULL,
	    "message names the variables");
	ok(kc.server == NULL, "left empty");
	clear_env();
}

static char *
slurp_log(const char *path)
{
	char *t = read_file(path, 1 << 20, NULL);

	return t ? t : xstrdup("");
}

static void
test_token(void)
{
	struct kconfig kc;
	char logpath[PATH_MAX];
	char *logtext;
	int fd;

	mkdirs("tk");
	put("tk/token", "SECRET-tok1\n");
	put("tk/ca.crt", CA_PEM);
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	is_int(kconfig_load_incluster(&kc, P("tk"), err, sizeof(err)), 0, "load for token tests");
	clear_env();

	snprintf(logpath, sizeof(logpath), "%s", P("tk.log"));
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	log_set_fd(fd);

	is_str(kconfig_token(&kc, 1000), "SECRET-tok1", "first call reads the file");
	put("tk/token", "SECRET-tok2\n");
	is_str(kconfig_token(&kc, 1030), "SECRET-tok1", "30 s later: cached");
	is_str(kconfig_token(&kc, 1059.9), "SECRET-tok1", "59.9 s later: cached");
	is_str(kconfig_token(&kc, 1060), "SECRET-tok2", "60 s later: re-read");
	put("tk/token", "SECRET-tok3");
	is_str(kconfig_token(&kc, 1061), "SECRET-tok2", "1 s after the re-read: cached");
	kconfig_token_invalidate(&kc);
	is_str(kconfig_token(&kc, 1062), "SECRET-tok3", "invalidate forces a re-read");
	put("tk/token", "SECRET-tok4");
	is_str(kconfig_token(&kc, 1063), "SECRET-tok3", "the re-read restarted the period");
	put("tk/token", "\n");
	kconfig_token_invalidate(&kc);
	is_str(kconfig_token(&kc, 1064), "SECRET-tok3", "empty file keeps the old token");
	remove(P("tk/token"));
	is_str(kconfig_token(&kc, 1200), "SECRET-tok3", "missing file keeps the old token");
	put("tk/token", "SECRET-tok5");
	is_str(kconfig_token(&kc, 1230), "SECRET-tok3", "a failed read also waits the period");
	is_str(kconfig_token(&kc, 1260), "SECRET-tok5", "then picks up the new file");
	is_str(kconfig_token(&kc, 100), "SECRET-tok5", "clock going back re-reads safely");

	log_set_fd(-1);
	close(fd);
	logtext = slurp_log(logpath);
	ok(strstr(logtext, "keeping the last token") != NULL, "failed re-reads are logged");
	ok(strstr(logtext, "SECRET") == NULL, "the log holds no token");
	free(logtext);
	kconfig_release(&kc);

	/* kubeconfig: static token plus tokenFile: the file wins once read */
	put("tk/kfile", "SECRET-from-file\n");
	put("tk/both.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://c:1'}}\n"
	    "users:\n"
	    "- {name: u, user: {token: SECRET-static, tokenFile: kfile}}\n"
	    "contexts:\n"
	    "- {name: x, context: {cluster: c, user: u}}\n"
	    "current-context: x\n");
	is_int(load(&kc, "tk/both.yaml", NULL), 0, "token + tokenFile loads");
	is_str(kc.token, "SECRET-static", "static token kept at load");
	is_str(kconfig_token(&kc, 0), "SECRET-from-file", "the token file wins");
	kconfig_release(&kc);
	put("tk/kfile", "");
	log_set_fd(open("/dev/null", O_WRONLY));
	is_int(load(&kc, "tk/both.yaml", NULL), 0, "again with an empty token file");
	is_str(kconfig_token(&kc, 0), "SECRET-static", "empty file: the static token");
	log_set_fd(-1);
	kconfig_release(&kc);
}

static void
test_precedence(void)
{
	struct kconfig kc;

	clear_env();
	mkdirs("home/.kube");
	put("home/.kube/config",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://home:1'}}\n"
	    "contexts:\n"
	    "- {name: h, context: {cluster: c}}\n"
	    "- {name: h2, context: {cluster: c, namespace: two}}\n"
	    "current-context: h\n");
	put("env.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://env:1'}}\n"
	    "contexts:\n"
	    "- {name: e, context: {cluster: c}}\n"
	    "current-context: e\n");
	put("flag.yaml",
	    "clusters:\n"
	    "- {name: c, cluster: {server: 'https://flag:1'}}\n"
	    "contexts:\n"
	    "- {name: f, context: {cluster: c}}\n"
	    "current-context: f\n");
	mkdirs("psa");
	put("psa/token", "SECRET-p");
	put("psa/ca.crt", CA_PEM);

	setenv("HOME", P("home"), 1);
	setenv("KUBECONFIG", P("env.yaml"), 1);
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	setenv("DBPROVD_SA_DIR", P("psa"), 1);

	is_int(kconfig_load(&kc, P("flag.yaml"), NULL, err, sizeof(err)), 0, "flag");
	is_str(kc.server, "https://flag:1", "--kubeconfig wins over everything");
	kconfig_release(&kc);
	is_int(kconfig_load(&kc, NULL, NULL, err, sizeof(err)), 0, "env");
	is_str(kc.server, "https://env:1", "KUBECONFIG next");
	kconfig_release(&kc);
	unsetenv("KUBECONFIG");
	is_int(kconfig_load(&kc, NULL, NULL, err, sizeof(err)), 0, "in-cluster");
	is_str(kc.server, "https://10.0.0.1:443", "then in-cluster");
	is_int(kc.source, KCONFIG_SRC_INCLUSTER, "source in-cluster");
	kconfig_release(&kc);
	setenv("DBPROVD_SA_DIR", P("nonexistent-sa"), 1);
	is_int(kconfig_load(&kc, NULL, "h2", err, sizeof(err)), 0, "broken in-cluster");
	is_str(kc.server, "https://home:1", "falls through to ~/.kube/config");
	is_str(kc.namespace, "two", "context override applies there");
	kconfig_release(&kc);
	setenv("HOME", P("nohome"), 1);
	is_int(kconfig_load(&kc, NULL, NULL, err, sizeof(err)), -1, "broken in-cluster, no home config");
	ok(strstr(err, "in-cluster: cannot read token file") != NULL, "reports the in-cluster error");
	setenv("HOME", P("home"), 1);
	unsetenv("KUBERNETES_SERVICE_HOST");
	is_int(kconfig_load(&kc, NULL, NULL, err, sizeof(err)), 0, "home");
	is_str(kc.server, "https://home:1", "finally ~/.kube/config");
	is_str(kc.origin, P("home/.kube/config"), "origin is the home config");
	kconfig_release(&kc);
	setenv("HOME", P("nohome"), 1);
	is_int(kconfig_load(&kc, NULL, NULL, err, sizeof(err)), -1, "nothing at all");
	ok(strstr(err, P("nohome/.kube/config")) != NULL, "names the home config path");
	clear_env();
}

int
main(void)
{
	char tmpl[] = "/tmp/kconfig-test-XXXXXX", real[PATH_MAX];

	if (mkdtemp(tmpl) == NULL) {
		diag("mkdtemp: %s", strerror(errno));
		return 1;
	}
	strlcpy0(dir, realpath(tmpl, real) ? real : tmpl, sizeof(dir));
	b64(CA_PEM, ca64);
	b64(CERT_PEM, cert64);
	b64(KEY_PEM, key64);
	clear_env();

	test_inline();
	test_relative();
	test_merge();
	test_errors();
	test_formats();
	test_incluster();
	test_token();
	test_precedence();

	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return done_testing();
}
