/*
 * duration.h - Go time.Duration text: parse exactly like time.ParseDuration,
 * format exactly like Duration.String().
 *
 * Syntax: [-+]?([0-9]*(\.[0-9]*)?unit)+ with units ns, us, µs (U+00B5 or
 * U+03BC), ms, s, m, h; "0" alone (optionally signed) is zero. Examples:
 * "300ms", "1.5h", "1h30m", "-2s", ".5s". Errors (with Go's wording): empty
 * input, a number without a unit ("1"), an unknown unit ("1x", "1 h"), a
 * value beyond int64 nanoseconds (about 292 years).
 *
 * Nothing here allocates. Messages go to a caller buffer (err may be NULL
 * when errlen is 0) and quote the input, so do not parse secrets.
 */
#ifndef DBP_DURATION_H
#define DBP_DURATION_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

/* Go syntax into int64 nanoseconds. Returns 0, or -1 with a message. */
int duration_parse(const char *s, int64_t *ns, char *err, size_t errlen)
    DBP_MUSTCHECK;
/* Same, as double seconds (ns / 1e9). */
int duration_parse_seconds(const char *s, double *sec, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* Go syntax plus "d" (24 h) and "w" (7 d), for retention-style values:
 * "7d", "2w3d", "1d12h". Same range limit. */
int duration_parse_days(const char *s, int64_t *ns, char *err, size_t errlen)
    DBP_MUSTCHECK;

/* Longest output is "-2562047h47m16.854775808s" (25 bytes + NUL). */
#define DURATION_FMT_MAX 32

/* Duration.String(): "1h30m0s", "1.5s", "300ms", "1µs", "0s". Writes into
 * buf (at least DURATION_FMT_MAX bytes) and returns buf. */
char *duration_format(int64_t ns, char *buf);
/* Seconds rounded to the nearest nanosecond (clamped to the int64 range;
 * NaN formats as "0s"), then as duration_format(). */
char *duration_format_seconds(double sec, char *buf);

#endif
