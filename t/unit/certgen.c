/*
 * certgen.c - throwaway keys and self-signed certificates for unit tests.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "certgen.h"
#include "util.h"

static char *
bio_text(BIO *b)
{
	char *data;
	long n = BIO_get_mem_data(b, &data);

	return n > 0 ? xstrndup(data, (size_t)n) : NULL;
}

int
certgen_make(const char *cn, struct certgen *out)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	BIO *b1 = BIO_new(BIO_s_mem()), *b2 = BIO_new(BIO_s_mem());
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (pkey == NULL || x == NULL || b1 == NULL || b2 == NULL)
		goto out;
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pkey);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto out;
	if (!PEM_write_bio_X509(b1, x) ||
	    !PEM_write_bio_PrivateKey(b2, pkey, NULL, NULL, 0, NULL, NULL))
		goto out;
	out->cert = bio_text(b1);
	out->key = bio_text(b2);
	rc = out->cert && out->key ? 0 : -1;
out:
	BIO_free(b1);
	BIO_free(b2);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

void
certgen_release(struct certgen *c)
{
	free(c->cert);
	free_secret(c->key);
	memset(c, 0, sizeof(*c));
}
