/*
 * kconfig.c - in-cluster and kubeconfig credentials.
 *
 * kubeconfig files are parsed with libyaml's document API (JSON is YAML).
 * Merging across $KUBECONFIG files is done by lookup rather than by
 * building merged maps: for a name, the first file whose list holds it
 * wins, which is client-go's rule. Only the entries the chosen context
 * needs are decoded; list shapes are checked in every file searched.
 *
 * Secrets (token, client key) pass through the raw file bytes and the
 * libyaml document; both are wiped before they are freed. libyaml's own
 * parser buffers are freed without wiping (it has no hook for that).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "kconfig.h"
#include "log.h"

#define MAX_KUBECONFIG (16u << 20)
#define MAX_TOKEN (64u << 10)
#define MAX_NAMESPACE (4u << 10)

static const char *const source_names[KCONFIG_SRC__COUNT] = {
	[KCONFIG_SRC_NONE] = "none",
	[KCONFIG_SRC_INCLUSTER] = "in-cluster",
	[KCONFIG_SRC_KUBECONFIG] = "kubeconfig",
};

const char *
kconfig_source_name(enum kconfig_source s)
{
	return s < KCONFIG_SRC__COUNT ? source_names[s] : "unknown";
}

static int kc_err(char *err, size_t errlen, const char *fmt, ...)
    DBP_PRINTF(3, 4);

static int
kc_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

void
kconfig_init(struct kconfig *kc)
{
	memset(kc, 0, sizeof(*kc));
}

static void
pem_release(struct kconfig_pem *p, bool secret)
{
	free(p->file);
	if (p->data != NULL) {
		if (secret)
			secure_zero(p->data, p->len);
		free(p->data);
	}
	p->file = NULL;
	p->data = NULL;
	p->len = 0;
}

void
kconfig_release(struct kconfig *kc)
{
	free(kc->origin);
	free(kc->context);
	free(kc->server);
	free(kc->tls_server_name);
	free(kc->proxy_url);
	pem_release(&kc->ca, false);
	pem_release(&kc->cert, false);
	pem_release(&kc->key, true);
	free(kc->namespace);
	free_secret(kc->token);
	free(kc->token_file);
	free_secret(kc->file_token);
	kconfig_init(kc);
}

/* ---- small file helpers ---- */

/* A trimmed copy of a small file's contents, or NULL with errno set. The
 * raw bytes are wiped (the file may hold a token). */
static char *
read_trimmed(const char *path, size_t max)
{
	size_t len;
	char *raw = read_file(path, max, &len), *s, *e, *out;

	if (raw == NULL)
		return NULL;
	s = raw;
	e = raw + strlen(raw);
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	out = xstrndup(s, (size_t)(e - s));
	secure_zero(raw, len);
	free(raw);
	return out;
}

static int
check_readable(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* ---- token ---- */

const char *
kconfig_token(struct kconfig *kc, double now)
{
	char *t;

	if (kc->token_file == NULL)
		return kc->token;
	if (!kc->token_read_once || kc->token_stale ||
	    now - kc->token_read_at >= KCONFIG_TOKEN_PERIOD ||
	    now < kc->token_read_at) {
		/* Re-open by path every time: the kubelet swaps the file. */
		t = read_trimmed(kc->token_file, MAX_TOKEN);
		if (t == NULL) {
			log_warn("cannot re-read the bearer token file; keeping the last token",
			    "file", kc->token_file, "error", strerror(errno));
		} else if (*t == '\0') {
			log_warn("bearer token file is empty; keeping the last token",
			    "file", kc->token_file);
			free(t);
		} else {
			free_secret(kc->file_token);
			kc->file_token = t;
		}
		kc->token_read_at = now;
		kc->token_read_once = true;
		kc->token_stale = false;
	}
	return kc->file_token ? kc->file_token : kc->token;
}

void
kconfig_token_invalidate(struct kconfig *kc)
{
	kc->token_stale = true;
}

/* ---- in-cluster ---- */

int
kconfig_load_incluster(struct kconfig *kc, const char *sa_dir, char *err,
    size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	const char *ns = getenv("POD_NAMESPACE");
	char *path;

	kconfig_init(kc);
	if (host == NULL || *host == '\0' || port == NULL || *port == '\0')
		return kc_err(err, errlen,
		    "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (not running in a cluster)");
	if (sa_dir == NULL || *sa_dir == '\0')
		sa_dir = getenv("DBPROVD_SA_DIR");
	if (sa_dir == NULL || *sa_dir == '\0')
		sa_dir = KCONFIG_SA_DIR;

	kc->source = KCONFIG_SRC_INCLUSTER;
	kc->origin = xstrdup("in-cluster");
	/* net.JoinHostPort: a host with a ':' is an IPv6 literal */
	if (strchr(host, ':') != NULL)
		kc->server = xasprintf("https://[%s]:%s", host, port);
	else
		kc->server = xasprintf("https://%s:%s", host, port);

	kc->token_file = xasprintf("%s/token", sa_dir);
	kc->token = read_trimmed(kc->token_file, MAX_TOKEN);
	if (kc->token == NULL) {
		kc_err(err, errlen, "in-cluster: cannot read token file %s: %s",
		    kc->token_file, strerror(errno));
		goto fail;
	}
	kc->ca.file = xasprintf("%s/ca.crt", sa_dir);
	if (check_readable(kc->ca.file) < 0) {
		kc_err(err, errlen, "in-cluster: cannot read CA file %s: %s",
		    kc->ca.file, strerror(errno));
		goto fail;
	}
	if (ns != NULL && *ns != '\0') {
		kc->namespace = xstrdup(ns);
	} else {
		path = xasprintf("%s/namespace", sa_dir);
		kc->namespace = read_trimmed(path, MAX_NAMESPACE);
		free(path);
		if (kc->namespace != NULL && *kc->namespace == '\0') {
			free(kc->namespace);
			kc->namespace = NULL;
		}
		if (kc->namespace == NULL)
			kc->namespace = xstrdup("default");
	}
	return 0;
fail:
	kconfig_release(kc);
	return -1;
}

/* ---- kubeconfig: files and YAML ---- */

struct kcfile {
	char *path;
	char *dir;		/* absolute directory of path */
	yaml_document_t doc;
	bool has_doc;
	yaml_node_t *root;	/* a mapping, or NULL for an empty file */
};

struct kcload {
	struct kcfile *files;
	size_t n;
	char *label;		/* names the file set in global errors */
	char *err;
	size_t errlen;
};

/* A found clusters[]/users[]/contexts[] entry. */
struct kcent {
	struct kcfile *f;
	yaml_node_t *body;	/* the cluster/user/context mapping, or NULL */
	const char *what;	/* "cluster", "user", "context" */
	const char *name;
};

static yaml_node_t *
y_node(yaml_document_t *d, int idx)
{
	return yaml_document_get_node(d, idx);
}

static unsigned long
y_line(const yaml_node_t *n)
{
	return (unsigned long)n->start_mark.line + 1;
}

static const char *
y_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ?
	    (const char *)n->data.scalar.value : NULL;
}

static bool
y_is_null(const yaml_node_t *n)
{
	const char *v;

	if (n == NULL)
		return true;
	if (n->type != YAML_SCALAR_NODE)
		return false;
	if (n->tag && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0)
		return true;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = y_scalar(n);
	return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* The key node of map's entry for key, or NULL. */
static yaml_node_pair_t *
y_pair(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;
	size_t kl = strlen(key);

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = y_node(d, p->key);

		if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == kl &&
		    memcmp(k->data.scalar.value, key, kl) == 0)
			return p;
	}
	return NULL;
}

static yaml_node_t *
y_get(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p = y_pair(d, map, key);

	return p ? y_node(d, p->value) : NULL;
}

/* Wipes every scalar: the document may hold a token or a key. */
static void
y_wipe(yaml_document_t *d)
{
	yaml_node_t *n;

	for (n = d->nodes.start; n < d->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
			secure_zero(n->data.scalar.value, n->data.scalar.length);
}

static void
kcload_release(struct kcload *L)
{
	size_t i;

	for (i = 0; i < L->n; i++) {
		struct kcfile *f = &L->files[i];

		if (f->has_doc) {
			y_wipe(&f->doc);
			yaml_document_delete(&f->doc);
		}
		free(f->path);
		free(f->dir);
	}
	free(L->files);
	free(L->label);
}

static char *
abs_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *cwd, *out;

	if (slash == path)
		return xstrdup("/");
	dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	if (dir[0] == '/')
		return dir;
	cwd = getcwd(NULL, 0);
	if (cwd == NULL)
		return dir;	/* relative paths then stay relative */
	out = strcmp(dir, ".") == 0 ? xstrdup(cwd) : xasprintf("%s/%s", cwd, dir);
	free(cwd);
	free(dir);
	return out;
}

/* Reads and parses one file. Returns 0 (loaded), 1 (missing and
 * skip_missing), -1 (error). */
static int
kcload_file(struct kcload *L, const char *path, bool skip_missing)
{
	yaml_parser_t parser;
	struct kcfile *f;
	size_t len;
	char *data;
	int rc = -1;

	data = read_file(path, MAX_KUBECONFIG, &len);
	if (data == NULL) {
		if (errno == ENOENT && skip_missing)
			return 1;
		return kc_err(L->err, L->errlen, "kubeconfig %s: %s", path,
		    errno == EFBIG ? "file too large" : strerror(errno));
	}
	L->files = xrealloc(L->files, (L->n + 1) * sizeof(*L->files));
	f = &L->files[L->n++];
	memset(f, 0, sizeof(*f));
	f->path = xstrdup(path);
	f->dir = abs_dir(path);

	if (!yaml_parser_initialize(&parser))
		die_oom();
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &f->doc)) {
		if (parser.context)
			kc_err(L->err, L->errlen,
			    "kubeconfig %s: YAML error at line %lu, column %lu: %s %s",
			    path, (unsigned long)parser.problem_mark.line + 1,
			    (unsigned long)parser.problem_mark.column + 1,
			    parser.problem ? parser.problem : "syntax error",
			    parser.context);
		else
			kc_err(L->err, L->errlen,
			    "kubeconfig %s: YAML error at line %lu, column %lu: %s",
			    path, (unsigned long)parser.problem_mark.line + 1,
			    (unsigned long)parser.problem_mark.column + 1,
			    parser.problem ? parser.problem : "syntax error");
		goto out;
	}
	f->has_doc = true;
	f->root = yaml_document_get_root_node(&f->doc);
	if (y_is_null(f->root)) {
		f->root = NULL;		/* an empty file is an empty config */
	} else if (f->root->type != YAML_MAPPING_NODE) {
		kc_err(L->err, L->errlen,
		    "kubeconfig %s: line %lu: the document must be a mapping (apiVersion, kind, clusters, ...)",
		    path, y_line(f->root));
		goto out;
	}
	rc = 0;
out:
	yaml_parser_delete(&parser);
	secure_zero(data, len);
	free(data);
	return rc;
}

/* Collects the files per the location rules; fills L->label. */
static int
kcload_files(struct kcload *L, const char *explicit_path)
{
	const char *env = getenv("KUBECONFIG"), *home;
	char *list, *p, *tok, *save = NULL;
	size_t i;
	int rc;

	if (explicit_path != NULL && *explicit_path != '\0') {
		L->label = xstrdup(explicit_path);
		return kcload_file(L, explicit_path, false);
	}
	if (env != NULL && *env != '\0') {
		L->label = xstrdup(env);
		list = xstrdup(env);
		for (p = list; (tok = strtok_r(p, ":", &save)) != NULL; p = NULL) {
			bool dup = false;

			for (i = 0; i < L->n; i++)
				if (strcmp(L->files[i].path, tok) == 0)
					dup = true;
			if (dup)
				continue;
			rc = kcload_file(L, tok, true);
			if (rc < 0) {
				free(list);
				return -1;
			}
		}
		free(list);
		if (L->n == 0)
			return kc_err(L->err, L->errlen,
			    "kubeconfig: none of the files in KUBECONFIG=%s exists",
			    env);
		return 0;
	}
	home = getenv("HOME");
	if (home == NULL || *home == '\0')
		return kc_err(L->err, L->errlen,
		    "kubeconfig: no --kubeconfig, KUBECONFIG or HOME to find one");
	L->label = xasprintf("%s/.kube/config", home);
	return kcload_file(L, L->label, false);
}

/* Finds the entry `name` of list ("clusters") whose body is under field
 * ("cluster"). Returns 1 found, 0 not found, -1 error. */
static int
kcload_find(struct kcload *L, const char *list, const char *field,
    const char *name, struct kcent *out)
{
	size_t i;

	for (i = 0; i < L->n; i++) {
		struct kcfile *f = &L->files[i];
		yaml_node_t *seq = y_get(&f->doc, f->root, list), *found = NULL;
		yaml_node_item_t *it;

		if (f->root == NULL || y_is_null(seq))
			continue;
		if (seq->type != YAML_SEQUENCE_NODE)
			return kc_err(L->err, L->errlen,
			    "kubeconfig %s: line %lu: %s: expected a list",
			    f->path, y_line(seq), list);
		for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
			yaml_node_t *item = y_node(&f->doc, *it), *nm;
			long idx = (long)(it - seq->data.sequence.items.start);

			if (item == NULL || item->type != YAML_MAPPING_NODE)
				return kc_err(L->err, L->errlen,
				    "kubeconfig %s: line %lu: %s[%ld]: expected a mapping",
				    f->path, item ? y_line(item) : 0UL, list, idx);
			nm = y_get(&f->doc, item, "name");
			if (y_is_null(nm))
				continue;
			if (nm->type != YAML_SCALAR_NODE)
				return kc_err(L->err, L->errlen,
				    "kubeconfig %s: line %lu: %s[%ld].name: expected a string",
				    f->path, y_line(nm), list, idx);
			if (strcmp(y_scalar(nm), name) != 0)
				continue;
			if (found)
				return kc_err(L->err, L->errlen,
				    "kubeconfig %s: line %lu: duplicate %s name \"%s\"",
				    f->path, y_line(item), field, name);
			found = item;
		}
		if (found) {
			yaml_node_t *body = y_get(&f->doc, found, field);

			if (!y_is_null(body) && body->type != YAML_MAPPING_NODE)
				return kc_err(L->err, L->errlen,
				    "kubeconfig %s: line %lu: %s \"%s\": %s: expected a mapping",
				    f->path, y_line(body), field, name, field);
			out->f = f;
			out->body = y_is_null(body) ? NULL : body;
			out->what = field;
			out->name = name;
			return 1;
		}
	}
	return 0;
}

/* current-context from the first file that sets it; NULL if none. */
static int
kcload_current(struct kcload *L, const char **out)
{
	size_t i;

	*out = NULL;
	for (i = 0; i < L->n; i++) {
		struct kcfile *f = &L->files[i];
		yaml_node_t *n = y_get(&f->doc, f->root, "current-context");

		if (y_is_null(n))
			continue;
		if (n->type != YAML_SCALAR_NODE)
			return kc_err(L->err, L->errlen,
			    "kubeconfig %s: line %lu: current-context: expected a string",
			    f->path, y_line(n));
		if (*y_scalar(n) != '\0') {
			*out = y_scalar(n);
			return 0;
		}
	}
	return 0;
}

static yaml_node_t *
ent_node(struct kcent *e, const char *key)
{
	return y_get(&e->f->doc, e->body, key);
}

/* The line of key in the entry (where a reader looks for it). */
static unsigned long
ent_line(struct kcent *e, const char *key)
{
	yaml_node_pair_t *p = y_pair(&e->f->doc, e->body, key);

	return p ? y_line(y_node(&e->f->doc, p->key)) : 0UL;
}

/* A string field; "" and null give NULL (unset), as in client-go. */
static int
ent_str(struct kcload *L, struct kcent *e, const char *key, const char **out)
{
	yaml_node_t *n = ent_node(e, key);

	*out = NULL;
	if (y_is_null(n))
		return 0;
	if (n->type != YAML_SCALAR_NODE)
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: line %lu: %s \"%s\": %s: expected a string",
		    e->f->path, y_line(n), e->what, e->name, key);
	if (strlen(y_scalar(n)) != n->data.scalar.length)
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: line %lu: %s \"%s\": %s: contains a NUL byte",
		    e->f->path, y_line(n), e->what, e->name, key);
	if (*y_scalar(n) != '\0')
		*out = y_scalar(n);
	return 0;
}

/* YAML 1.1 booleans, as go-yaml reads them; null is false. */
static int
ent_bool(struct kcload *L, struct kcent *e, const char *key, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes",
		"YES", "y", "Y", "on", "On", "ON", NULL };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No",
		"NO", "n", "N", "off", "Off", "OFF", NULL };
	yaml_node_t *n = ent_node(e, key);
	int i;

	*out = false;
	if (y_is_null(n))
		return 0;
	if (n->type == YAML_SCALAR_NODE &&
	    n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		for (i = 0; yes[i]; i++)
			if (strcmp(y_scalar(n), yes[i]) == 0) {
				*out = true;
				return 0;
			}
		for (i = 0; no[i]; i++)
			if (strcmp(y_scalar(n), no[i]) == 0)
				return 0;
	}
	return kc_err(L->err, L->errlen,
	    "kubeconfig %s: line %lu: %s \"%s\": %s: expected true or false",
	    e->f->path, y_line(n), e->what, e->name, key);
}

/* Present and not empty/null/false: used to refuse unsupported auth. */
static bool
ent_set(struct kcent *e, const char *key)
{
	yaml_node_t *n = ent_node(e, key);

	if (y_is_null(n))
		return false;
	if (n->type == YAML_SCALAR_NODE)
		return *y_scalar(n) != '\0';
	if (n->type == YAML_SEQUENCE_NODE)
		return n->data.sequence.items.top != n->data.sequence.items.start;
	return n->data.mapping.pairs.top != n->data.mapping.pairs.start;
}

/* Standard base64 with padding (Go's StdEncoding), whitespace ignored.
 * Returns a malloc'ed NUL-terminated buffer, or NULL if invalid. The
 * intermediate copy is wiped (it may be a private key). */
static char *
b64_decode(const char *in, size_t *outlen)
{
	size_t n = strlen(in), m = 0, pad = 0, i;
	unsigned char *clean = xmalloc(n + 1), *out = NULL;
	int r;

	for (i = 0; i < n; i++)
		if (!isspace((unsigned char)in[i]))
			clean[m++] = (unsigned char)in[i];
	if (m == 0 || m % 4 != 0 || m > (size_t)0x7fffffff)
		goto out;
	for (i = 0; i < m; i++) {
		if (clean[i] == '=') {
			/* only as the last one or two characters */
			if (i < m - 2 || (i == m - 2 && clean[m - 1] != '='))
				goto out;
			pad++;
		}
	}
	out = xmalloc(m / 4 * 3 + 1);
	r = EVP_DecodeBlock(out, clean, (int)m);
	if (r < 0 || (size_t)r < pad) {
		free(out);
		out = NULL;
		goto out;
	}
	*outlen = (size_t)r - pad;
	out[*outlen] = '\0';
out:
	secure_zero(clean, n + 1);
	free(clean);
	return (char *)out;
}

static char *
resolve_path(const struct kcfile *f, const char *p)
{
	return p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", f->dir, p);
}

/* One PEM input from "<key>" (file) and "<key>-data" (base64); data wins,
 * as in client-go. */
static int
ent_pem(struct kcload *L, struct kcent *e, const char *key,
    struct kconfig_pem *pem, bool secret)
{
	char datakey[64];
	const char *file, *data;

	snprintf(datakey, sizeof(datakey), "%s-data", key);
	if (ent_str(L, e, key, &file) < 0 || ent_str(L, e, datakey, &data) < 0)
		return -1;
	if (data != NULL) {
		pem->data = b64_decode(data, &pem->len);
		if (pem->data == NULL)
			return kc_err(L->err, L->errlen,
			    "kubeconfig %s: line %lu: %s \"%s\": %s: not valid base64",
			    e->f->path, ent_line(e, datakey), e->what,
			    e->name, datakey);
		if (strstr(pem->data, "-----BEGIN ") == NULL ||
		    strlen(pem->data) != pem->len) {
			if (secret)
				secure_zero(pem->data, pem->len);
			free(pem->data);
			pem->data = NULL;
			pem->len = 0;
			return kc_err(L->err, L->errlen,
			    "kubeconfig %s: line %lu: %s \"%s\": %s: not PEM after base64 decoding",
			    e->f->path, ent_line(e, datakey), e->what,
			    e->name, datakey);
		}
		return 0;
	}
	if (file != NULL) {
		pem->file = resolve_path(e->f, file);
		if (check_readable(pem->file) < 0)
			return kc_err(L->err, L->errlen,
			    "kubeconfig %s: %s \"%s\": %s %s: %s", e->f->path,
			    e->what, e->name, key, pem->file, strerror(errno));
	}
	return 0;
}

static int
kc_cluster(struct kcload *L, struct kcent *e, struct kconfig *kc)
{
	const char *server, *sni, *proxy;

	if (ent_str(L, e, "server", &server) < 0 ||
	    ent_str(L, e, "tls-server-name", &sni) < 0 ||
	    ent_str(L, e, "proxy-url", &proxy) < 0 ||
	    ent_bool(L, e, "insecure-skip-tls-verify", &kc->insecure) < 0 ||
	    ent_bool(L, e, "disable-compression", &kc->disable_compression) < 0 ||
	    ent_pem(L, e, "certificate-authority", &kc->ca, false) < 0)
		return -1;
	if (server == NULL)
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: cluster \"%s\": no server set", e->f->path,
		    e->name);
	if ((kc->ca.file || kc->ca.data) && kc->insecure)
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: cluster \"%s\": specifying a root certificates file with the insecure flag is not allowed",
		    e->f->path, e->name);
	kc->tls_server_name = xstrdup(sni);
	kc->proxy_url = xstrdup(proxy);
	kc->server = xstrdup(server);	/* finished by kc_server() */
	return 0;
}

/* rest.DefaultServerURL: a server without a scheme is https when TLS is
 * implied (a CA, a client certificate, or insecure), else http. Then the
 * trailing '/' goes, so callers can append "/api/v1/...". */
static int
kc_server(struct kcload *L, struct kcent *e, struct kconfig *kc)
{
	const char *host;
	char *s;
	bool tls;
	size_t n;

	if (strstr(kc->server, "://") == NULL) {
		tls = kc->ca.file || kc->ca.data || kc->cert.file ||
		    kc->cert.data || kc->insecure;
		s = xasprintf("%s://%s", tls ? "https" : "http", kc->server);
		free(kc->server);
		kc->server = s;
	}
	if (str_has_prefix(kc->server, "https://"))
		host = kc->server + 8;
	else if (str_has_prefix(kc->server, "http://"))
		host = kc->server + 7;
	else
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: cluster \"%s\": server %s: scheme must be https or http",
		    e->f->path, e->name, kc->server);
	if (*host == '\0' || *host == '/')
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: cluster \"%s\": server %s: no host",
		    e->f->path, e->name, kc->server);
	n = strlen(kc->server);
	while (n > 0 && kc->server[n - 1] == '/')
		kc->server[--n] = '\0';
	return 0;
}

static int
kc_user(struct kcload *L, struct kcent *e, struct kconfig *kc)
{
	static const struct {
		const char *key;
		const char *what;
	} unsupported[] = {
		{ "exec", "exec credential plugins are not supported" },
		{ "auth-provider", "auth-provider plugins are not supported" },
		{ "username", "basic authentication (username/password) is not supported" },
		{ "password", "basic authentication (username/password) is not supported" },
		{ "as", "impersonation is not supported" },
		{ "as-uid", "impersonation is not supported" },
		{ "as-groups", "impersonation is not supported" },
		{ "as-user-extra", "impersonation is not supported" },
	};
	const char *token, *token_file;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(unsupported); i++)
		if (ent_set(e, unsupported[i].key))
			return kc_err(L->err, L->errlen,
			    "kubeconfig %s: line %lu: user \"%s\": %s (users[].user.%s)",
			    e->f->path, ent_line(e, unsupported[i].key),
			    e->name, unsupported[i].what, unsupported[i].key);
	if (ent_pem(L, e, "client-certificate", &kc->cert, false) < 0 ||
	    ent_pem(L, e, "client-key", &kc->key, true) < 0 ||
	    ent_str(L, e, "token", &token) < 0 ||
	    ent_str(L, e, "tokenFile", &token_file) < 0)
		return -1;
	if ((kc->cert.file || kc->cert.data) && !(kc->key.file || kc->key.data))
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: user \"%s\": client-key-data or client-key must be specified to use the clientCert authentication method",
		    e->f->path, e->name);
	if ((kc->key.file || kc->key.data) && !(kc->cert.file || kc->cert.data))
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: user \"%s\": client-cert-data or client-cert must be specified to use the clientCert authentication method",
		    e->f->path, e->name);
	/* client-go: a static token wins at load time; a tokenFile is read
	 * now only without one, and is re-read later either way. */
	kc->token = xstrdup(token);
	if (token_file != NULL) {
		kc->token_file = resolve_path(e->f, token_file);
		if (kc->token == NULL) {
			kc->token = read_trimmed(kc->token_file, MAX_TOKEN);
			if (kc->token == NULL)
				return kc_err(L->err, L->errlen,
				    "kubeconfig %s: user \"%s\": tokenFile %s: %s",
				    e->f->path, e->name, kc->token_file,
				    strerror(errno));
		}
	}
	return 0;
}

static int
kc_from_files(struct kcload *L, const char *override, struct kconfig *kc)
{
	struct kcent ctx, cl, us;
	const char *name, *cluster, *user, *ns;
	int r;

	if (override != NULL && *override != '\0')
		name = override;
	else if (kcload_current(L, &name) < 0)
		return -1;
	if (name == NULL)
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: no current-context set and no context given",
		    L->label);
	r = kcload_find(L, "contexts", "context", name, &ctx);
	if (r < 0)
		return -1;
	if (r == 0)
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: context \"%s\" not found", L->label, name);
	if (ent_str(L, &ctx, "cluster", &cluster) < 0 ||
	    ent_str(L, &ctx, "user", &user) < 0 ||
	    ent_str(L, &ctx, "namespace", &ns) < 0)
		return -1;
	if (cluster == NULL)
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: context \"%s\": no cluster set",
		    ctx.f->path, name);
	r = kcload_find(L, "clusters", "cluster", cluster, &cl);
	if (r < 0)
		return -1;
	if (r == 0)
		return kc_err(L->err, L->errlen,
		    "kubeconfig %s: context \"%s\": cluster \"%s\" not found",
		    L->label, name, cluster);

	kc->source = KCONFIG_SRC_KUBECONFIG;
	kc->origin = xstrdup(ctx.f->path);
	kc->context = xstrdup(name);
	kc->namespace = xstrdup(ns ? ns : "default");
	if (kc_cluster(L, &cl, kc) < 0)
		return -1;

	/* No user: no credentials (client-go's non-interactive loader). A
	 * user that is named but missing is a mistake, not anonymity. */
	if (user != NULL) {
		r = kcload_find(L, "users", "user", user, &us);
		if (r < 0)
			return -1;
		if (r == 0)
			return kc_err(L->err, L->errlen,
			    "kubeconfig %s: context \"%s\": user \"%s\" not found",
			    L->label, name, user);
		if (kc_user(L, &us, kc) < 0)
			return -1;
	}
	if (kc_server(L, &cl, kc) < 0)
		return -1;
	return 0;
}

int
kconfig_load_kubeconfig(struct kconfig *kc, const char *explicit_path,
    const char *context_override, char *err, size_t errlen)
{
	struct kcload L;
	int rc = -1;

	kconfig_init(kc);
	memset(&L, 0, sizeof(L));
	L.err = err;
	L.errlen = errlen;
	if (kcload_files(&L, explicit_path) < 0)
		goto out;
	if (kc_from_files(&L, context_override, kc) < 0)
		goto out;
	rc = 0;
out:
	kcload_release(&L);
	if (rc < 0)
		kconfig_release(kc);
	return rc;
}

int
kconfig_load(struct kconfig *kc, const char *explicit_path,
    const char *context_override, char *err, size_t errlen)
{
	const char *env = getenv("KUBECONFIG");
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *home = getenv("HOME");
	char *homecfg;
	bool have_home;

	if ((explicit_path != NULL && *explicit_path != '\0') ||
	    (env != NULL && *env != '\0'))
		return kconfig_load_kubeconfig(kc, explicit_path,
		    context_override, err, errlen);
	if (host != NULL && *host != '\0') {
		if (kconfig_load_incluster(kc, NULL, err, errlen) == 0)
			return 0;
		/* controller-runtime falls through to ~/.kube/config; keep
		 * the in-cluster message when there is none. */
		homecfg = home && *home ? xasprintf("%s/.kube/config", home) : NULL;
		have_home = homecfg && access(homecfg, F_OK) == 0;
		free(homecfg);
		if (!have_home)
			return -1;
	}
	return kconfig_load_kubeconfig(kc, NULL, context_override, err, errlen);
}
