/*
 * log.c - one JSON object per line.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"

enum log_level log_min_level = LOG_INFO;
static int log_fd = 2;

static const char *const level_names[LOG__COUNT] = {
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARN] = "warn",
	[LOG_ERROR] = "error",
};

const char *
log_level_name(enum log_level l)
{
	return l < LOG__COUNT ? level_names[l] : "unknown";
}

int
log_level_parse(const char *s, enum log_level *out)
{
	int i;

	if (s == NULL)
		return -1;
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	for (i = 0; i < LOG__COUNT; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void
log_set_level(enum log_level l)
{
	log_min_level = l;
}

void
log_set_fd(int fd)
{
	log_fd = fd < 0 ? 2 : fd;
}

bool
log_key_is_secret(const char *key)
{
	static const char *const words[] = {
		"password", "passwd", "token", "secret", "authorization",
		"credential", "privatekey", "private_key", "apikey", "key",
	};
	char low[64];
	size_t i, n;

	if (key == NULL)
		return false;
	n = strlen(key);
	if (n >= sizeof(low))
		n = sizeof(low) - 1;
	for (i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)key[i]);
	low[n] = '\0';
	/* The name of a Secret or a reference to one is not itself secret. */
	if ((n >= 4 && strcmp(low + n - 4, "name") == 0) ||
	    (n >= 3 && strcmp(low + n - 3, "ref") == 0))
		return false;
	/* "key" alone or as a suffix ("sshKey"), not inside "keyspace". */
	for (i = 0; i < ARRAY_SIZE(words); i++) {
		const char *hit = strstr(low, words[i]);

		if (hit == NULL)
			continue;
		if (strcmp(words[i], "key") != 0)
			return true;
		if (hit[3] == '\0')
			return true;
	}
	return false;
}

static void
log_time(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

static void
log_write(struct jw *w)
{
	size_t len, off = 0;
	const char *text = jw_text(w, &len);
	char *line = xmalloc(len + 1);

	memcpy(line, text, len);
	line[len] = '\n';
	/* One write per line keeps lines whole when several processes share
	 * the stream. */
	while (off < len + 1) {
		ssize_t r = write(log_fd, line + off, len + 1 - off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)r;
	}
	free(line);
}

static void
log_begin(struct jw *w, enum log_level l, const char *msg)
{
	char ts[40];

	log_time(ts, sizeof(ts));
	jw_init(w);
	jw_obj_open(w);
	jw_kstr(w, "time", ts);
	jw_kstr(w, "level", log_level_name(l));
	jw_kstr(w, "msg", msg);
}

void
log_kv(enum log_level l, const char *msg, ...)
{
	struct jw w;
	va_list ap;
	const char *k;

	if (!log_enabled(l))
		return;
	log_begin(&w, l, msg);
	va_start(ap, msg);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);

		jw_key(&w, k);
		if (v != NULL && log_key_is_secret(k))
			jw_str(&w, "[REDACTED]");
		else
			jw_str(&w, v);
	}
	va_end(ap);
	jw_obj_close(&w);
	log_write(&w);
	jw_release(&w);
}

void
log_fmt(enum log_level l, const char *fmt, ...)
{
	struct jw w;
	va_list ap;
	char *msg;

	if (!log_enabled(l))
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_begin(&w, l, msg);
	jw_obj_close(&w);
	log_write(&w);
	jw_release(&w);
	free(msg);
}
