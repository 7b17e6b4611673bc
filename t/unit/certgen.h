/*
 * certgen.h - throwaway keys and self-signed certificates for unit tests
 * (OpenSSL, P-256). Strings are malloc'ed PEM; the caller frees them.
 */
#ifndef DBP_T_CERTGEN_H
#define DBP_T_CERTGEN_H

struct certgen {
	char *cert;	/* PEM certificate */
	char *key;	/* PEM private key (unencrypted PKCS#8) */
};

/* Returns 0, or -1 if OpenSSL failed. */
int certgen_make(const char *cn, struct certgen *out);
void certgen_release(struct certgen *c);

#endif
