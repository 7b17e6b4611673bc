/*
 * tap.h - a tiny TAP producer for the C unit tests.
 *
 *   ok(cond, "name");  is_int(got, want, "name");  is_str(got, want, "name");
 *   return done_testing();
 *
 * Failures print the file and line and both values as TAP diagnostics. The
 * plan is printed at the end, so tests need not count in advance.
 */
#ifndef DBP_TAP_H
#define DBP_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline void tap_diag(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static inline void
tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
}
#define diag tap_diag

static inline int
tap_ok(int cond, const char *file, int line, const char *name)
{
	tap_n++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_n, name);
	if (!cond) {
		tap_failed++;
		/* on stderr, as Test::More does: prove shows it without -v */
		fflush(stdout);
		fprintf(stderr, "#   Failed test '%s'\n#   at %s line %d.\n",
		    name, file, line);
	}
	fflush(stdout);
	return cond;
}

static inline int
tap_is_int(long long got, long long want, const char *file, int line,
    const char *name)
{
	int r = tap_ok(got == want, file, line, name);

	if (!r)
		fprintf(stderr, "#          got: %lld\n#     expected: %lld\n",
		    got, want);
	return r;
}

static inline int
tap_is_str(const char *got, const char *want, const char *file, int line,
    const char *name)
{
	int same = (got == NULL && want == NULL) ||
	    (got != NULL && want != NULL && strcmp(got, want) == 0);
	int r = tap_ok(same, file, line, name);

	if (!r)
		fprintf(stderr, "#          got: %s%s%s\n#     expected: %s%s%s\n",
		    got ? "'" : "", got ? got : "NULL", got ? "'" : "",
		    want ? "'" : "", want ? want : "NULL", want ? "'" : "");
	return r;
}

#define ok(cond, name) tap_ok(!!(cond), __FILE__, __LINE__, (name))
#define is_int(got, want, name) \
	tap_is_int((long long)(got), (long long)(want), __FILE__, __LINE__, (name))
#define is_str(got, want, name) tap_is_str((got), (want), __FILE__, __LINE__, (name))

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# Looks like you failed %d test%s of %d.\n", tap_failed,
		    tap_failed == 1 ? "" : "s", tap_n);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif
