/*
 * kconfig.h - Kubernetes client credentials: where the API server is, how
 * to trust it, and how to authenticate (kube-api.md section 1).
 *
 * Loaders fill a caller-allocated struct kconfig. They start by
 * kconfig_init()ing it; on failure they return -1 with a one-line message
 * in err (naming the file and the key, never any secret) and leave it
 * empty, so kconfig_release() is always safe. Loading is blocking file I/O:
 * start-up only. kconfig_token() may re-read a small token file later.
 *
 * Ownership: every pointer in struct kconfig belongs to it and is freed by
 * kconfig_release(), which first wipes tokens and private-key bytes.
 * Callers read the fields and must not log token or key.
 */
#ifndef DBP_KCONFIG_H
#define DBP_KCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

/* Default service-account directory; DBPROVD_SA_DIR overrides it. */
#define KCONFIG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
/* kconfig_token() re-reads a token file at most this often (client-go). */
#define KCONFIG_TOKEN_PERIOD 60.0

enum kconfig_source {
	KCONFIG_SRC_NONE = 0,
	KCONFIG_SRC_INCLUSTER,
	KCONFIG_SRC_KUBECONFIG,
	KCONFIG_SRC__COUNT
};

/* PEM input for curl: a file (CURLOPT_CAINFO/SSLCERT/SSLKEY) or bytes
 * (the *_BLOB options). At most one of file and data is set. */
struct kconfig_pem {
	char *file;		/* absolute path, or NULL */
	char *data;		/* PEM bytes (NUL-terminated), or NULL */
	size_t len;		/* bytes in data */
};

struct kconfig {
	enum kconfig_source source;
	char *origin;		/* "in-cluster", or the kubeconfig file that
				 * defined the context used */
	char *context;		/* the context used (kubeconfig), else NULL */

	char *server;		/* "https://host:port[/path-prefix]", no
				 * trailing '/': append API paths to it */
	char *tls_server_name;	/* SNI / name to verify instead of the host;
				 * NULL: the server's host */
	char *proxy_url;	/* cluster proxy-url, or NULL */
	bool insecure;		/* insecure-skip-tls-verify */
	bool disable_compression;

	struct kconfig_pem ca;	/* NULL file and data: system roots */
	struct kconfig_pem cert;	/* client certificate (with key) */
	struct kconfig_pem key;		/* private key: secret */

	char *namespace;	/* never NULL after a load; "default" if unset */

	/* Bearer token. token_file, once read successfully, wins over the
	 * static token; both NULL: no Authorization header. */
	char *token;		/* secret */
	char *token_file;	/* absolute path, or NULL */

	/* private: token file cache */
	char *file_token;	/* last good token read from token_file */
	double token_read_at;
	bool token_read_once;
	bool token_stale;
};

void kconfig_init(struct kconfig *kc);
/* Wipes secrets and frees everything; kc is empty (as after init). */
void kconfig_release(struct kconfig *kc);
const char *kconfig_source_name(enum kconfig_source s);

/* In-cluster (kube-api.md 1.1): KUBERNETES_SERVICE_HOST and _PORT (an IPv6
 * host is bracketed), sa_dir/token (required), sa_dir/ca.crt (required),
 * namespace from POD_NAMESPACE, then sa_dir/namespace, then "default".
 * sa_dir NULL: $DBPROVD_SA_DIR, else KCONFIG_SA_DIR. */
int kconfig_load_incluster(struct kconfig *kc, const char *sa_dir,
    char *err, size_t errlen) DBP_MUSTCHECK;

/* kubeconfig (kube-api.md 1.2). Files: explicit_path if not NULL/empty
 * (must exist), else the ':'-separated $KUBECONFIG (missing files skipped,
 * the first file to define a name or current-context wins), else
 * $HOME/.kube/config. Context: context_override if not NULL/empty, else
 * current-context. Supports server, certificate-authority(-data),
 * insecure-skip-tls-verify, tls-server-name, proxy-url,
 * disable-compression, client-certificate(-data), client-key(-data),
 * token, tokenFile; relative paths are taken from the directory of the
 * file that holds them. exec, auth-provider, username/password and
 * impersonation (as, as-groups, as-uid, as-user-extra) are errors. */
int kconfig_load_kubeconfig(struct kconfig *kc, const char *explicit_path,
    const char *context_override, char *err, size_t errlen) DBP_MUSTCHECK;

/* controller-runtime's order: explicit_path -> $KUBECONFIG -> in-cluster
 * (when KUBERNETES_SERVICE_HOST is set; if it fails and
 * $HOME/.kube/config exists, that is used instead) -> $HOME/.kube/config.
 * context_override does not apply in-cluster. */
int kconfig_load(struct kconfig *kc, const char *explicit_path,
    const char *context_override, char *err, size_t errlen) DBP_MUSTCHECK;

/* The bearer token to send now, or NULL for none. With a token file, the
 * file is re-read by path when never read, after kconfig_token_invalidate(),
 * or KCONFIG_TOKEN_PERIOD after the last read (now: monotonic seconds);
 * if that read fails or the file is empty, the last good token stays (a
 * warning is logged, without the token). The string is owned by kc and
 * valid until the next kconfig_token() or kconfig_release(). */
const char *kconfig_token(struct kconfig *kc, double now);
/* Forces a re-read on the next kconfig_token() (after an HTTP 401). */
void kconfig_token_invalidate(struct kconfig *kc);

#endif
