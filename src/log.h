/*
 * log.h - structured logging: one JSON object per line on stderr.
 *
 *   {"time":"2026-11-26T10:30:12.123Z","level":"info","msg":"watch started",
 *    "controller":"database","namespace":"ns","name":"db1"}
 *
 * Context is key/value pairs of strings. Values of keys that look like they
 * hold secrets (password, token, secret, key, authorization, credential) are
 * replaced by "[REDACTED]", as a last line of defence: callers must not pass
 * secrets in the first place. Disabled levels cost one branch.
 */
#ifndef DBP_LOG_H
#define DBP_LOG_H

#include <stdbool.h>
#include "util.h"

enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
	LOG__COUNT
};

extern enum log_level log_min_level;

/* Parses "debug", "info", "warn"/"warning", "error"; returns -1 otherwise. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level l);
void log_set_level(enum log_level l);
/* Redirects output (tests); -1 restores stderr. */
void log_set_fd(int fd);

static inline bool
log_enabled(enum log_level l)
{
	return l >= log_min_level;
}

/* Logs msg with (key, value) string pairs, terminated by NULL. A NULL value
 * is written as null. */
void log_kv(enum log_level l, const char *msg, ...);
/* Same with a printf-style message and no context. */
void log_fmt(enum log_level l, const char *fmt, ...) DBP_PRINTF(2, 3);

#define log_debug(...) do { if (log_enabled(LOG_DEBUG)) log_kv(LOG_DEBUG, __VA_ARGS__, (const char *)NULL); } while (0)
#define log_info(...)  do { if (log_enabled(LOG_INFO))  log_kv(LOG_INFO,  __VA_ARGS__, (const char *)NULL); } while (0)
#define log_warn(...)  do { if (log_enabled(LOG_WARN))  log_kv(LOG_WARN,  __VA_ARGS__, (const char *)NULL); } while (0)
#define log_error(...) do { if (log_enabled(LOG_ERROR)) log_kv(LOG_ERROR, __VA_ARGS__, (const char *)NULL); } while (0)

/* True if a context key names something secret (exposed for tests). */
bool log_key_is_secret(const char *key);

#endif
