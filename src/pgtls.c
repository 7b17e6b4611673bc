/*
 * pgtls.c - PEM material in private 0600 files for libpq.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "log.h"
#include "pgtls.h"

/* A Secret holds at most 1 MiB; anything bigger is not a certificate. */
#define PGTLS_MAX_PEM (1u << 20)

struct pgtls {
	unsigned refs;
	char *ca_file;
	char *cert_file;
	char *key_file;
	struct pgtls *next, *prev;	/* live list, for pgtls_cleanup() */
};

/* The one private directory of this process. */
static struct {
	char *parent;		/* chosen with pgtls_set_parent() */
	char *dir;		/* created on first use */
	pid_t owner;		/* process that created it */
	unsigned long seq;	/* file name counter */
	bool atexit_done;
	struct pgtls *live;
	size_t nlive;
} tls_state;

int
pgtls_set_parent(const char *parent)
{
	if (tls_state.dir != NULL)
		return -1;
	free(tls_state.parent);
	tls_state.parent = xstrdup(parent);
	return 0;
}

const char *
pgtls_dir(void)
{
	return tls_state.dir;
}

size_t
pgtls_live(void)
{
	return tls_state.nlive;
}

static void
pgtls_atexit(void)
{
	pgtls_cleanup();
	free(tls_state.parent);
	tls_state.parent = NULL;
}

static int
ensure_dir(char *err, size_t errlen)
{
	const char *parent = tls_state.parent;
	char *tmpl;

	if (tls_state.dir != NULL)
		return 0;
	if (parent == NULL || *parent == '\0')
		parent = getenv("TMPDIR");
	if (parent == NULL || *parent == '\0')
		parent = "/tmp";
	tmpl = xasprintf("%s/dbprovd-tls-%ld-XXXXXX", parent, (long)getpid());
	/* mkdtemp creates the directory with mode 0700. */
	if (mkdtemp(tmpl) == NULL) {
		snprintf(err, errlen, "cannot create a private directory in %s: %s",
		    parent, strerror(errno));
		free(tmpl);
		return -1;
	}
	tls_state.dir = tmpl;
	tls_state.owner = getpid();
	if (!tls_state.atexit_done) {
		atexit(pgtls_atexit);
		tls_state.atexit_done = true;
	}
	return 0;
}

/* Writes data to a new file in the private directory; returns its
 * malloc'ed path or NULL with a message. */
static char *
write_private(const char *what, const char *data, size_t len, char *err,
    size_t errlen)
{
	char *path;
	int fd;
	size_t off = 0;

	path = xasprintf("%s/%lu-%s.pem", tls_state.dir, ++tls_state.seq, what);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create the %s file: %s", what,
		    strerror(errno));
		free(path);
		return NULL;
	}
	/* The umask can only remove bits; make the mode exact anyway. */
	if (fchmod(fd, 0600) != 0)
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return path;
fail:
	snprintf(err, errlen, "cannot write the %s file: %s", what,
	    strerror(errno ? errno : EIO));
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(path);
	return NULL;
}

/* Never ask for a passphrase (the default callback reads the terminal). */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static void
drain_openssl(void)
{
	ERR_clear_error();
}

/* Checks the PEM before anything reaches the disk. */
static int
check_pem(const struct pgtls_pem *pem, char *err, size_t errlen)
{
	BIO *bio = NULL;
	X509 *x = NULL, *cert = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = -1, n = 0;

	if (pem->ca_len > PGTLS_MAX_PEM || pem->cert_len > PGTLS_MAX_PEM ||
	    pem->key_len > PGTLS_MAX_PEM) {
		snprintf(err, errlen, "TLS material larger than %u bytes",
		    PGTLS_MAX_PEM);
		return -1;
	}
	ERR_clear_error();
	if (pem->ca && pem->ca_len) {
		bio = BIO_new_mem_buf(pem->ca, (int)pem->ca_len);
		if (bio == NULL)
			die_oom();
		while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL))) {
			X509_free(x);
			n++;
		}
		BIO_free(bio);
		bio = NULL;
		if (n == 0) {
			snprintf(err, errlen, "the CA is not a PEM certificate");
			goto out;
		}
		ERR_clear_error();	/* the read past the last one fails */
	}
	if ((pem->cert && pem->cert_len) != (pem->key && pem->key_len)) {
		snprintf(err, errlen, "a client certificate needs its key and "
		    "a key its certificate");
		goto out;
	}
	if (pem->cert && pem->cert_len) {
		bio = BIO_new_mem_buf(pem->cert, (int)pem->cert_len);
		if (bio == NULL)
			die_oom();
		cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
		bio = NULL;
		if (cert == NULL) {
			snprintf(err, errlen, "the client certificate is not a "
			    "PEM certificate");
			goto out;
		}
		bio = BIO_new_mem_buf(pem->key, (int)pem->key_len);
		if (bio == NULL)
			die_oom();
		pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
		bio = NULL;
		if (pkey == NULL) {
			snprintf(err, errlen, "the client key is not an "
			    "unencrypted PEM private key");
			goto out;
		}
		if (X509_check_private_key(cert, pkey) != 1) {
			snprintf(err, errlen, "the client key does not match "
			    "the client certificate");
			goto out;
		}
	}
	rc = 0;
out:
	EVP_PKEY_free(pkey);
	X509_free(cert);
	drain_openssl();
	return rc;
}

static void
remove_files(struct pgtls *t)
{
	char **paths[] = { &t->ca_file, &t->cert_file, &t->key_file };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		if (*paths[i] == NULL)
			continue;
		if (unlink(*paths[i]) != 0 && errno != ENOENT)
			log_warn("cannot remove a TLS file", "path", *paths[i],
			    "error", strerror(errno));
	}
}

static void
pgtls_destroy(struct pgtls *t)
{
	remove_files(t);
	if (t->prev)
		t->prev->next = t->next;
	else
		tls_state.live = t->next;
	if (t->next)
		t->next->prev = t->prev;
	tls_state.nlive--;
	free(t->ca_file);
	free(t->cert_file);
	free(t->key_file);
	free(t);
}

struct pgtls *
pgtls_new(const struct pgtls_pem *pem, char *err, size_t errlen)
{
	struct pgtls *t;
	bool any = (pem->ca && pem->ca_len) || (pem->cert && pem->cert_len) ||
	    (pem->key && pem->key_len);

	if (check_pem(pem, err, errlen) != 0)
		return NULL;
	if (any && ensure_dir(err, errlen) != 0)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->refs = 1;
	t->next = tls_state.live;
	if (tls_state.live)
		tls_state.live->prev = t;
	tls_state.live = t;
	tls_state.nlive++;
	if (pem->ca && pem->ca_len &&
	    (t->ca_file = write_private("ca", pem->ca, pem->ca_len, err,
	    errlen)) == NULL)
		goto fail;
	if (pem->cert && pem->cert_len &&
	    (t->cert_file = write_private("cert", pem->cert, pem->cert_len,
	    err, errlen)) == NULL)
		goto fail;
	if (pem->key && pem->key_len &&
	    (t->key_file = write_private("key", pem->key, pem->key_len, err,
	    errlen)) == NULL)
		goto fail;
	return t;
fail:
	pgtls_destroy(t);
	return NULL;
}

struct pgtls *
pgtls_ref(struct pgtls *t)
{
	if (t)
		t->refs++;
	return t;
}

void
pgtls_unref(struct pgtls *t)
{
	if (t == NULL)
		return;
	if (--t->refs == 0)
		pgtls_destroy(t);
}

const char *
pgtls_ca_file(const struct pgtls *t)
{
	return t ? t->ca_file : NULL;
}

const char *
pgtls_cert_file(const struct pgtls *t)
{
	return t ? t->cert_file : NULL;
}

const char *
pgtls_key_file(const struct pgtls *t)
{
	return t ? t->key_file : NULL;
}

void
pgtls_cleanup(void)
{
	struct pgtls *t;

	if (tls_state.dir == NULL || tls_state.owner != getpid())
		return;
	for (t = tls_state.live; t != NULL; t = t->next)
		remove_files(t);
	if (rmdir(tls_state.dir) != 0 && errno != ENOENT)
		log_warn("cannot remove the TLS directory", "path",
		    tls_state.dir, "error", strerror(errno));
	free(tls_state.dir);
	tls_state.dir = NULL;
}
