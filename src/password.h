/*
 * password.h - generated passwords (api.md §4.18, behavior.md §3.1).
 *
 * Characters come from OpenSSL's CSPRNG (RAND_bytes) and are chosen by
 * rejection sampling, so every character of the alphabet is equally
 * likely (no modulo bias). The alphabet is a-z, A-Z, 0-9 and, when
 * special characters are on, PASSWORD_SPECIAL_SAFE: the characters that
 * never need escaping in a URI (RFC 3986 "unreserved"), a shell double
 * quote, an SQL literal or a libpq key=value string. The original's set
 * (PASSWORD_SPECIAL_ORIGINAL, "!@#$%^&*") breaks connection URIs built by
 * secretTemplate unless they are escaped, so it is used only when a
 * caller asks for it. Excluded characters leave the alphabet; every
 * class that still has characters appears at least once (the whole
 * password is drawn again otherwise, which keeps the choice uniform
 * among all passwords that qualify).
 */
#ifndef DBP_PASSWORD_H
#define DBP_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "util.h"

#define PASSWORD_DEFAULT_LENGTH 32
#define PASSWORD_MAX_LENGTH 1024
#define PASSWORD_SPECIAL_SAFE "-_.~"
#define PASSWORD_SPECIAL_ORIGINAL "!@#$%^&*"

struct password_policy {
	size_t length;		/* 0 = PASSWORD_DEFAULT_LENGTH */
	bool special;		/* add special characters */
	const char *special_set;	/* NULL = PASSWORD_SPECIAL_SAFE */
	const char *exclude;	/* characters never used; NULL = none */
};

/* The policy of spec.passwordSecret (pc may be NULL or unset: length 32,
 * special characters on, as the original). Pointers borrow from pc. */
void password_policy_from_config(const struct api_password_config *pc,
    struct password_policy *out);

/*
 * A new password: malloc'ed, NUL-terminated, to be freed with
 * free_secret(). NULL when the policy cannot be met (everything excluded,
 * length out of range) or the CSPRNG fails, with a message in err that
 * names the spec.passwordSecret field.
 */
char *password_generate(const struct password_policy *p, char *err,
    size_t errlen) DBP_MUSTCHECK;

/* A uniform integer in [0, n), 1 <= n <= 256, by rejection sampling over
 * single random bytes. Returns 0, or -1 when the random source fails. */
int password_uniform(unsigned n, unsigned *out) DBP_MUSTCHECK;

/* Tests only: replaces the random source (same contract as RAND_bytes:
 * 1 on success); NULL restores RAND_bytes. */
typedef int (*password_rand_fn)(unsigned char *buf, int n);
void password_set_rand(password_rand_fn fn);

#endif
