/*
 * timefmt.h - Kubernetes timestamps (kube-api.md 7.1 and Appendix A).
 *
 *   metav1.Time       "2006-01-02T15:04:05Z"         whole seconds, UTC
 *   metav1.MicroTime  "2006-01-02T15:04:05.000000Z"  exactly 6 digits, UTC
 *
 * Times are struct timespec since the Unix epoch in UTC, tv_nsec in
 * [0, 1e9). The *_d wrappers take and give double seconds (wall_now()
 * values); going from a double they first round to the nearest microsecond,
 * since a double near 2e9 holds only ~0.2 us and truncating would print
 * .123455 for .123456.
 *
 * Nothing depends on TZ or the locale; nothing allocates. Parse errors go
 * to a caller buffer (err may be NULL when errlen is 0). Formatting
 * truncates (as Go's Format does) and fails for years outside 0000..9999
 * (Go's MarshalJSON refuses those too).
 */
#ifndef DBP_TIMEFMT_H
#define DBP_TIMEFMT_H

#include <stddef.h>
#include <time.h>
#include "util.h"

#define TIMEFMT_TIME_LEN 21	/* "2006-01-02T15:04:05Z" + NUL */
#define TIMEFMT_MICRO_LEN 28	/* "2006-01-02T15:04:05.000000Z" + NUL */

/* metav1.Time: writes into buf (len >= TIMEFMT_TIME_LEN); returns 0, or -1
 * when the year is out of range or buf too small (buf is then ""). */
int timefmt_time(struct timespec t, char *buf, size_t len) DBP_MUSTCHECK;
/* metav1.MicroTime: same with len >= TIMEFMT_MICRO_LEN. */
int timefmt_micro(struct timespec t, char *buf, size_t len) DBP_MUSTCHECK;

/* Parses RFC 3339 as metav1.Time decoding does (Go's time.RFC3339):
 * "YYYY-MM-DDTHH:MM:SS", an optional fraction of 1 or more digits (digits
 * past nanoseconds are dropped), then "Z" or "+hh:mm"/"-hh:mm". Upper-case
 * T and Z only. Invalid fields (month 13, Feb 30, hour 24, second 60) are
 * errors. Returns 0, or -1 with a message naming the problem. */
int timefmt_parse(const char *s, struct timespec *out, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* MicroTime decoding as the API server does it: like timefmt_parse() but
 * the fraction must be exactly 6 digits ("...:05Z" is an error). */
int timefmt_parse_micro(const char *s, struct timespec *out, char *err,
    size_t errlen) DBP_MUSTCHECK;

/* double-seconds wrappers (see above for the rounding) */
int timefmt_time_d(double t, char *buf, size_t len) DBP_MUSTCHECK;
int timefmt_micro_d(double t, char *buf, size_t len) DBP_MUSTCHECK;
int timefmt_parse_d(const char *s, double *out, char *err, size_t errlen)
    DBP_MUSTCHECK;

#endif
