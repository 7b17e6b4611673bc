/*
 * pgtls.h - TLS material for libpq, from PEM bytes to private files.
 *
 * libpq reads its CA, client certificate and client key from files
 * (sslrootcert, sslcert, sslkey); the operator gets them as PEM bytes from
 * Kubernetes Secrets. This module writes them into a per-process private
 * directory and hands out the paths:
 *
 *   - the directory is created on first use with mkdtemp() (mode 0700)
 *     under $TMPDIR (else /tmp) or the parent given to pgtls_set_parent();
 *   - each file is created with O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600, and
 *     never rewritten: new material gets new files;
 *   - a struct pgtls is reference counted: the pool entry of an instance
 *     holds one reference and every connection made with it another (see
 *     pgconn_params). The files are removed when the last reference goes;
 *   - pgtls_cleanup() removes every remaining file and the directory. It is
 *     registered with atexit() when the directory is created, and runs only
 *     in the process that created it (a forked child that calls exit()
 *     leaves the parent's files alone).
 *
 * The directory is process-wide state by nature, so it lives in this
 * module (one static), not in the loop context.
 *
 * The PEM is checked with OpenSSL before anything is written: the CA must
 * hold at least one certificate, the client certificate a certificate and
 * the key an unencrypted private key matching it (never a passphrase
 * prompt). Writing a few KiB to a local directory is the only blocking
 * I/O, comparable to re-reading a service-account token.
 */
#ifndef DBP_PGTLS_H
#define DBP_PGTLS_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

struct pgtls;

/* PEM inputs; a NULL data or zero len means "absent". */
struct pgtls_pem {
	const char *ca;
	size_t ca_len;
	const char *cert;
	size_t cert_len;
	const char *key;
	size_t key_len;
};

/* Writes the given material to new private files. Returns a reference
 * (count 1), or NULL with a one-line message in err (which never contains
 * key material): bad PEM, a certificate without a key or the reverse, a
 * key that does not match, or a file system error. All absent gives an
 * object with no files (still valid). */
struct pgtls *pgtls_new(const struct pgtls_pem *pem, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* Takes another reference; returns t. NULL in gives NULL out. */
struct pgtls *pgtls_ref(struct pgtls *t);
/* Drops a reference; the last one removes the files. NULL is a no-op. */
void pgtls_unref(struct pgtls *t);

/* Paths of the files, or NULL for absent material; valid while a
 * reference is held. */
const char *pgtls_ca_file(const struct pgtls *t);
const char *pgtls_cert_file(const struct pgtls *t);
const char *pgtls_key_file(const struct pgtls *t);

/* Chooses the parent of the private directory (before first use; tests).
 * Returns -1 once the directory exists. */
int pgtls_set_parent(const char *parent);
/* The private directory, or NULL before the first pgtls_new(). */
const char *pgtls_dir(void);
/* Number of live pgtls objects (tests). */
size_t pgtls_live(void);
/* Removes every file left and the directory (at exit; tests). Objects
 * still referenced keep their paths, which then name nothing. */
void pgtls_cleanup(void);

#endif
