/*
 * pgtls: PEM material checked, written to 0600 files in a 0700 private
 * directory with O_EXCL (never through a planted symlink), removed with the
 * last reference and at cleanup.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certgen.h"
#include "pgtls.h"
#include "tap.h"

static int
mode_of(const char *path)
{
	struct stat st;

	if (path == NULL || lstat(path, &st) != 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static bool
exists(const char *path)
{
	struct stat st;

	return path != NULL && lstat(path, &st) == 0;
}

static bool
same_content(const char *path, const char *want)
{
	size_t len;
	char *got = read_file(path, 1 << 20, &len);
	bool same = got && len == strlen(want) && memcmp(got, want, len) == 0;

	free(got);
	return same;
}

int
main(void)
{
	char parent[] = "/tmp/pgtls-test-XXXXXX";
	struct certgen ca, client, other;
	struct pgtls_pem pem;
	struct pgtls *t, *t2, *none;
	char err[256];
	char ca_path[4096], cert_path[4096], key_path[4096], dir[4096];
	mode_t old_umask;

	if (mkdtemp(parent) == NULL || certgen_make("test-ca", &ca) != 0 ||
	    certgen_make("client", &client) != 0 ||
	    certgen_make("other", &other) != 0) {
		printf("1..0 # SKIP cannot set up (temp dir or OpenSSL)\n");
		return 0;
	}
	is_int(pgtls_set_parent(parent), 0, "parent chosen before first use");
	ok(pgtls_dir() == NULL, "no directory before first use");

	/* A permissive umask must not leak into the files. */
	old_umask = umask(0);
	memset(&pem, 0, sizeof(pem));
	pem.ca = ca.cert;
	pem.ca_len = strlen(ca.cert);
	pem.cert = client.cert;
	pem.cert_len = strlen(client.cert);
	pem.key = client.key;
	pem.key_len = strlen(client.key);
	t = pgtls_new(&pem, err, sizeof(err));
	umask(old_umask);
	ok(t != NULL, "CA, certificate and key accepted");
	if (t == NULL) {
		diag("%s", err);
		return done_testing();
	}
	strlcpy0(dir, pgtls_dir(), sizeof(dir));
	ok(str_has_prefix(dir, parent), "directory under the chosen parent");
	is_int(mode_of(dir), 0700, "directory is 0700");
	strlcpy0(ca_path, pgtls_ca_file(t), sizeof(ca_path));
	strlcpy0(cert_path, pgtls_cert_file(t), sizeof(cert_path));
	strlcpy0(key_path, pgtls_key_file(t), sizeof(key_path));
	ok(str_has_prefix(ca_path, dir) && str_has_prefix(key_path, dir),
	    "files in the private directory");
	is_int(mode_of(ca_path), 0600, "CA file is 0600");
	is_int(mode_of(cert_path), 0600, "certificate file is 0600");
	is_int(mode_of(key_path), 0600, "key file is 0600");
	ok(same_content(ca_path, ca.cert), "CA content written unchanged");
	ok(same_content(key_path, client.key), "key content written unchanged");
	is_int(pgtls_live(), 1, "one live object");

	/* Refcounting: the files stay while a reference is held. */
	t2 = pgtls_ref(t);
	ok(t2 == t, "ref returns the same object");
	pgtls_unref(t);
	ok(exists(ca_path) && exists(key_path), "files stay while referenced");
	pgtls_unref(t2);
	ok(!exists(ca_path) && !exists(cert_path) && !exists(key_path),
	    "last reference removes the files");
	is_int(pgtls_live(), 0, "no live object");
	ok(exists(dir), "directory stays for later material");

	/* Only a CA. */
	memset(&pem, 0, sizeof(pem));
	pem.ca = ca.cert;
	pem.ca_len = strlen(ca.cert);
	t = pgtls_new(&pem, err, sizeof(err));
	ok(t && pgtls_ca_file(t) && !pgtls_cert_file(t) && !pgtls_key_file(t),
	    "CA only: one file");
	ok(t && strcmp(pgtls_ca_file(t), ca_path) != 0,
	    "new material gets a new file name");

	/* Nothing at all: valid, no files. */
	memset(&pem, 0, sizeof(pem));
	none = pgtls_new(&pem, err, sizeof(err));
	ok(none && !pgtls_ca_file(none) && !pgtls_cert_file(none),
	    "no material: an object without files");
	pgtls_unref(none);

	/* Rejections, with messages that carry no key material. */
	memset(&pem, 0, sizeof(pem));
	pem.ca = "not a certificate";
	pem.ca_len = strlen(pem.ca);
	ok(pgtls_new(&pem, err, sizeof(err)) == NULL, "garbage CA refused");
	is_str(err, "the CA is not a PEM certificate", "CA error message");
	memset(&pem, 0, sizeof(pem));
	pem.cert = client.cert;
	pem.cert_len = strlen(client.cert);
	ok(pgtls_new(&pem, err, sizeof(err)) == NULL,
	    "certificate without key refused");
	memset(&pem, 0, sizeof(pem));
	pem.key = client.key;
	pem.key_len = strlen(client.key);
	ok(pgtls_new(&pem, err, sizeof(err)) == NULL,
	    "key without certificate refused");
	memset(&pem, 0, sizeof(pem));
	pem.cert = client.cert;
	pem.cert_len = strlen(client.cert);
	pem.key = other.key;
	pem.key_len = strlen(other.key);
	ok(pgtls_new(&pem, err, sizeof(err)) == NULL, "mismatched key refused");
	is_str(err, "the client key does not match the client certificate",
	    "mismatch message");
	ok(strstr(err, "PRIVATE") == NULL, "no key material in the message");
	pem.key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
	pem.key_len = strlen(pem.key);
	ok(pgtls_new(&pem, err, sizeof(err)) == NULL, "broken key refused");
	is_int(pgtls_live(), 1, "failures leave nothing behind");

	/* O_EXCL|O_NOFOLLOW: a symlink planted at the next name is not
	 * followed; the write fails instead. Names are <seq>-<what>.pem and
	 * the CA-only object above used a sequence number; guess the next. */
	{
		char planted[4096], target[4096];
		unsigned long seq;
		struct pgtls *t3;
		int fd;

		if (sscanf(strrchr(pgtls_ca_file(t), '/') + 1, "%lu-", &seq) != 1)
			seq = 0;
		snprintf(planted, sizeof(planted), "%s/%lu-ca.pem", dir, seq + 1);
		snprintf(target, sizeof(target), "%s/victim", parent);
		fd = open(target, O_WRONLY | O_CREAT, 0644);
		if (fd >= 0)
			close(fd);
		ok(symlink(target, planted) == 0, "planted a symlink");
		memset(&pem, 0, sizeof(pem));
		pem.ca = ca.cert;
		pem.ca_len = strlen(ca.cert);
		t3 = pgtls_new(&pem, err, sizeof(err));
		ok(t3 == NULL, "an existing name is not reused or followed");
		ok(strstr(err, "cannot create the ca file") != NULL,
		    "error names the file role");
		{
			struct stat st;

			ok(stat(target, &st) == 0 && st.st_size == 0,
			    "symlink target untouched");
		}
		pgtls_unref(t3);
		unlink(planted);
		unlink(target);
	}

	/* Cleanup removes files and the directory. */
	strlcpy0(ca_path, pgtls_ca_file(t), sizeof(ca_path));
	pgtls_cleanup();
	ok(!exists(ca_path), "cleanup removes live files");
	ok(!exists(dir), "cleanup removes the directory");
	ok(pgtls_dir() == NULL, "no directory after cleanup");
	pgtls_unref(t);
	is_int(pgtls_live(), 0, "unref after cleanup is harmless");

	certgen_release(&ca);
	certgen_release(&client);
	certgen_release(&other);
	rmdir(parent);
	return done_testing();
}
