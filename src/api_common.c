/*
 * api_common.c - what the eight kinds share: the kind table, enum name
 * tables, the error list, the field readers of api_common.h, the shared
 * blocks (metadata, references, storage, ...), conditions, and the
 * omitempty status writers.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_common.h"
#include "buf.h"
#include "duration.h"
#include "timefmt.h"

/* ---- kinds ---------------------------------------------------------- */

static const struct api_kind_info kinds[API_KIND__COUNT] = {
	[API_INSTANCE] = { "DatabaseInstance", "DatabaseInstanceList",
	    "databaseinstances", "databaseinstance", "dbi",
	    API_GROUP "/instance-protection" },
	[API_DATABASE] = { "Database", "DatabaseList", "databases", "database",
	    "db", API_GROUP "/database-protection" },
	[API_USER] = { "DatabaseUser", "DatabaseUserList", "databaseusers",
	    "databaseuser", "dbu", API_GROUP "/user-protection" },
	[API_ROLE] = { "DatabaseRole", "DatabaseRoleList", "databaseroles",
	    "databaserole", "dbr", API_GROUP "/role-protection" },
	[API_GRANT] = { "DatabaseGrant", "DatabaseGrantList", "databasegrants",
	    "databasegrant", "dbg", API_GROUP "/grant-protection" },
	[API_BACKUP] = { "DatabaseBackup", "DatabaseBackupList",
	    "databasebackups", "databasebackup", "dbbak",
	    API_GROUP "/backup-protection" },
	[API_RESTORE] = { "DatabaseRestore", "DatabaseRestoreList",
	    "databaserestores", "databaserestore", "dbrestore",
	    API_GROUP "/restore-protection" },
	[API_SCHEDULE] = { "DatabaseBackupSchedule",
	    "DatabaseBackupScheduleList", "databasebackupschedules",
	    "databasebackupschedule", "dbbaksched",
	    API_GROUP "/schedule-protection" },
};

const struct api_kind_info *
api_kind_info(enum api_kind k)
{
	return &kinds[k];
}

const char *
api_kind_name(enum api_kind k)
{
	return kinds[k].kind;
}

const char *
api_kind_plural(enum api_kind k)
{
	return kinds[k].plural;
}

const char *
api_kind_finalizer(enum api_kind k)
{
	return kinds[k].finalizer;
}

int
api_kind_lookup(const char *name, enum api_kind *out)
{
	int k;

	if (name == NULL)
		return -1;
	for (k = 0; k < API_KIND__COUNT; k++) {
		const struct api_kind_info *i = &kinds[k];

		if (streq(name, i->kind) || streq(name, i->plural) ||
		    streq(name, i->singular) || streq(name, i->short_name)) {
			*out = (enum api_kind)k;
			return 0;
		}
	}
	return -1;
}

/* ---- enum names ------------------------------------------------------ */

const char *const api_engine_names[API_ENGINE__COUNT] = {
	"", "postgres", "mysql", "cockroachdb" };
const char *const api_deletion_policy_names[API_DELETION__COUNT] = {
	"", "Retain", "Delete", "Snapshot" };
const char *const api_phase_names[API_PHASE__COUNT] = {
	"", "Pending", "Creating", "Running", "Ready", "Completed", "Failed",
	"Deleting", "Active", "Paused" };
const char *const api_storage_type_names[API_STORAGE__COUNT] = {
	"", "gcs", "s3", "azure", "pvc" };
const char *const api_compression_algo_names[API_COMPRESSION__COUNT] = {
	"", "gzip", "lz4", "zstd" };
const char *const api_encryption_algo_names[API_ENCRYPTION__COUNT] = {
	"", "aes-256-gcm", "aes-256-cbc" };
const char *const api_secret_format_names[API_SECRET_FORMAT__COUNT] = {
	"", "kubernetes", "vault", "external-secrets" };
const char *const api_concurrency_names[API_CONCURRENCY__COUNT] = {
	"", "Allow", "Forbid", "Replace" };
const char *const api_tls_mode_names[API_TLS__COUNT] = {
	"", "disable", "require", "verify-ca", "verify-full" };
const char *const api_pg_object_type_names[API_PG_OBJ__COUNT] = {
	"", "tables", "sequences", "functions", "types" };
const char *const api_pg_sslmode_names[API_PG_SSL__COUNT] = {
	"", "disable", "allow", "prefer", "require", "verify-ca",
	"verify-full" };
const char *const api_pg_backup_method_names[API_PG_METHOD__COUNT] = {
	"", "pg_dump", "pg_basebackup" };
const char *const api_pg_dump_format_names[API_PG_FORMAT__COUNT] = {
	"", "plain", "custom", "directory", "tar" };
const char *const api_my_tls_names[API_MY_TLS__COUNT] = {
	"", "disabled", "preferred", "required", "skip-verify" };
const char *const api_my_auth_plugin_names[API_MY_AUTH__COUNT] = {
	"", "mysql_native_password", "caching_sha2_password",
	"sha256_password" };
const char *const api_my_grant_level_names[API_MY_LEVEL__COUNT] = {
	"", "global", "database", "table", "column", "procedure", "function" };
const char *const api_my_backup_method_names[API_MY_METHOD__COUNT] = {
	"", "mysqldump", "xtrabackup", "mysqlpump" };
const char *const api_my_gtid_purged_names[API_MY_GTID__COUNT] = {
	"", "OFF", "ON", "AUTO" };
const char *const api_cond_status_names[API_COND__COUNT] = {
	"", "True", "False", "Unknown" };

int
api_enum_lookup(const char *const names[], int count, const char *s)
{
	int i;

	if (s == NULL)
		return 0;
	for (i = 1; i < count; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return 0;
}

/* ---- errors ---------------------------------------------------------- */

void
api_errs_init(struct api_errs *e)
{
	memset(e, 0, sizeof(*e));
}

void
api_errs_release(struct api_errs *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free(e->v[i].path);
		free(e->v[i].msg);
	}
	free(e->v);
	api_errs_init(e);
}

void
api_errs_add(struct api_errs *e, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (e->n >= API_ERRS_MAX) {
		e->dropped++;
		return;
	}
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 8;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	e->v[e->n].path = xstrdup(path ? path : "");
	va_start(ap, fmt);
	e->v[e->n].msg = xvasprintf(fmt, ap);
	va_end(ap);
	e->n++;
}

size_t
api_errs_count(const struct api_errs *e)
{
	return e->n + e->dropped;
}

const char *
api_errs_find(const struct api_errs *e, const char *path)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strcmp(e->v[i].path, path) == 0)
			return e->v[i].msg;
	return NULL;
}

static void
put(struct buf *b, const char *s)
{
	/* Unbounded buffer: buf_puts fails only on its cap. */
	if (buf_puts(b, s) < 0)
		die_oom();
}

char *
api_errs_join(const struct api_errs *e, size_t max)
{
	struct buf b = BUF_INIT(0);
	char tail[64];
	size_t i, n;
	char *s;

	if (max == 0)
		max = 32768;
	for (i = 0; i < e->n; i++) {
		if (i > 0)
			put(&b, "; ");
		if (e->v[i].path[0] != '\0') {
			put(&b, e->v[i].path);
			put(&b, ": ");
		}
		put(&b, e->v[i].msg);
	}
	if (e->dropped) {
		snprintf(tail, sizeof(tail), " (and %zu more)", e->dropped);
		put(&b, tail);
	}
	s = buf_detach(&b, &n);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	if (n > max) {
		/* Room for "...", then back to a UTF-8 boundary so no
		 * sequence is cut. */
		n = max >= 3 ? max - 3 : 0;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		if (max >= 3)
			memcpy(s + n, "...", 3);
		s[max >= 3 ? n + 3 : n] = '\0';
	}
	return s;
}

/* ---- containers ------------------------------------------------------ */

void
api_strv_release(struct api_strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

bool
api_strv_contains(const struct api_strv *s, const char *str)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (streq(s->v[i], str))
			return true;
	return false;
}

static void pc_check_text(struct api_pc *pc, yajl_val obj);

int
api_pc_envelope(yajl_val obj, enum api_kind kind, struct api_errs *errs,
    struct api_meta *meta, api_pc_part_fn spec, void *spec_out,
    api_pc_part_fn status, void *status_out)
{
	struct api_pc pc;
	yajl_val v;

	api_pc_init(&pc, errs);
	if (obj == NULL || !YAJL_IS_OBJECT(obj)) {
		api_pc_err(&pc, NULL, "must be a JSON object");
		return -1;
	}
	pc_check_text(&pc, obj);
	api_pc_type_meta(&pc, obj, kind);
	api_pc_meta(&pc, obj, meta);
	if ((v = api_pc_object(&pc, obj, "spec", API_REQ)) != NULL)
		spec(&pc, v, spec_out);
	if ((v = api_pc_object(&pc, obj, "status", 0)) != NULL)
		status(&pc, v, status_out);
	return pc.nerr ? -1 : 0;
}

void
api_strv_push(struct api_strv *s, const char *str)
{
	s->v = xrealloc(s->v, (s->n + 2) * sizeof(*s->v));
	s->v[s->n++] = xstrdup(str);
	s->v[s->n] = NULL;
}

void
api_map_release(struct api_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].key);
		free(m->v[i].val);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const char *
api_map_get(const struct api_map *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (streq(m->v[i].key, key))
			return m->v[i].val;
	return NULL;
}

void
api_set_str(char **dst, const char *src)
{
	char *copy = xstrdup(src);

	free(*dst);
	*dst = copy;
}

/* ---- parse context --------------------------------------------------- */

void
api_pc_init(struct api_pc *pc, struct api_errs *errs)
{
	pc->errs = errs;
	pc->nerr = 0;
	pc->ns = NULL;
	pc->len = 0;
	pc->path[0] = '\0';
}

static void
pc_append(struct api_pc *pc, const char *s, size_t n)
{
	size_t room = sizeof(pc->path) - 1 - pc->len;

	if (n > room)
		n = room;
	memcpy(pc->path + pc->len, s, n);
	pc->len += n;
	pc->path[pc->len] = '\0';
}

size_t
api_pc_push(struct api_pc *pc, const char *key)
{
	size_t mark = pc->len;

	if (pc->len > 0)
		pc_append(pc, ".", 1);
	pc_append(pc, key, strlen(key));
	return mark;
}

size_t
api_pc_push_index(struct api_pc *pc, size_t i)
{
	size_t mark = pc->len;
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "[%zu]", i);
	pc_append(pc, tmp, strlen(tmp));
	return mark;
}

size_t
api_pc_push_mapkey(struct api_pc *pc, const char *key)
{
	size_t mark = pc->len, n = strlen(key);

	pc_append(pc, "[", 1);
	if (n > 100) {
		pc_append(pc, key, 100);
		pc_append(pc, "...", 3);
	} else {
		pc_append(pc, key, n);
	}
	pc_append(pc, "]", 1);
	return mark;
}

void
api_pc_pop(struct api_pc *pc, size_t mark)
{
	if (mark <= pc->len) {
		pc->len = mark;
		pc->path[mark] = '\0';
	}
}

void
api_pc_err(struct api_pc *pc, const char *key, const char *fmt, ...)
{
	size_t mark = pc->len;
	va_list ap;
	char *msg;

	pc->nerr++;
	if (pc->errs == NULL)
		return;
	if (key)
		api_pc_push(pc, key);
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	api_errs_add(pc->errs, pc->path, "%s", msg);
	free(msg);
	api_pc_pop(pc, mark);
}

/* ---- field readers --------------------------------------------------- */

yajl_val
api_member(yajl_val obj, const char *key)
{
	yajl_val v = json_get(obj, key, NULL);

	return json_is_null(v) ? NULL : v;
}

/* A string that is not clean text (json_str_check()): the readers below
 * treat it as absent, without a message of their own, because
 * api_pc_envelope() has reported it with its path already. */
static bool
bad_text(yajl_val v)
{
	return v != NULL && YAJL_IS_STRING(v) && json_str_check(v, NULL) !=
	    TEXT_OK;
}

/*
 * The text walk: every string value and key under v that is not clean
 * text (a NUL byte, or not UTF-8) is reported at its own path. Such a
 * string is never used: a reader would see it cut at the NUL, which is
 * how "a\u0000b" once passed for "a".
 */
/* Pushes the i-th key of obj the way the readers name it: `.field` for
 * a field name, `[key]` for any other key (map keys such as label names);
 * the bytes of a key that is not clean text are shown escaped (\xNN),
 * so that an error path is always printable UTF-8. */
static bool is_alnum(char c);

static size_t
pc_push_key(struct api_pc *pc, yajl_val obj, size_t i)
{
	const char *k = obj->u.object.keys[i];
	enum text_check c = json_key_check(obj, i);
	const char *p;
	char shown[4 * 100 + 16];
	size_t n, j, o = 0;

	for (p = k; *p; p++)
		if (!is_alnum(*p) && *p != '_' && *p != '-')
			break;
	if (c == TEXT_OK && *k && *p == '\0')
		return api_pc_push(pc, k);
	if (c == TEXT_OK)
		return api_pc_push_mapkey(pc, k);
	n = strlen(k);
	for (j = 0; j < n && j < 100; j++) {
		unsigned char ch = (unsigned char)k[j];

		if (ch < 0x20 || ch >= 0x7f)
			o += (size_t)snprintf(shown + o, sizeof(shown) - o,
			    "\\x%02x", ch);
		else
			shown[o++] = (char)ch;
	}
	shown[o] = '\0';
	if (c == TEXT_NUL)
		snprintf(shown + o, sizeof(shown) - o, "\\x00...");
	return api_pc_push_mapkey(pc, shown);
}

static void
pc_walk_text(struct api_pc *pc, yajl_val v)
{
	enum text_check c;
	size_t i, m;

	if (v == NULL)
		return;
	if (YAJL_IS_STRING(v)) {
		if ((c = json_str_check(v, NULL)) != TEXT_OK)
			api_pc_err(pc, NULL, "%s", text_check_msg(c));
	} else if (YAJL_IS_ARRAY(v)) {
		for (i = 0; i < v->u.array.len; i++) {
			m = api_pc_push_index(pc, i);
			pc_walk_text(pc, v->u.array.values[i]);
			api_pc_pop(pc, m);
		}
	} else if (YAJL_IS_OBJECT(v)) {
		for (i = 0; i < v->u.object.len; i++) {
			m = pc_push_key(pc, v, i);
			if ((c = json_key_check(v, i)) != TEXT_OK)
				api_pc_err(pc, NULL, "key %s", text_check_msg(c));
			pc_walk_text(pc, v->u.object.values[i]);
			api_pc_pop(pc, m);
		}
	}
}

/* The parts of an object the text walk covers: the type and identity,
 * dbprovd's own labels and annotations (the ones it reads), and the
 * whole spec, known fields or not. */
static void
pc_check_text(struct api_pc *pc, yajl_val obj)
{
	static const char *const top[] = { "kind", "apiVersion", "spec" };
	static const char *const ident[] = { "name", "namespace", "uid",
	    "resourceVersion" };
	static const char *const maps[] = { "labels", "annotations" };
	yajl_val md = api_member(obj, "metadata"), o;
	size_t i, j, m, m2;

	for (i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		m = api_pc_push(pc, top[i]);
		pc_walk_text(pc, api_member(obj, top[i]));
		api_pc_pop(pc, m);
	}
	if (md == NULL || !YAJL_IS_OBJECT(md))
		return;
	m = api_pc_push(pc, "metadata");
	for (i = 0; i < sizeof(ident) / sizeof(ident[0]); i++) {
		m2 = api_pc_push(pc, ident[i]);
		pc_walk_text(pc, api_member(md, ident[i]));
		api_pc_pop(pc, m2);
	}
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		o = api_member(md, maps[i]);
		if (o == NULL || !YAJL_IS_OBJECT(o))
			continue;
		m2 = api_pc_push(pc, maps[i]);
		for (j = 0; j < o->u.object.len; j++) {
			enum text_check c;
			size_t m3;

			if (!str_has_prefix(o->u.object.keys[j], API_GROUP "/"))
				continue;
			m3 = api_pc_push_mapkey(pc, o->u.object.keys[j]);
			if ((c = json_key_check(o, j)) != TEXT_OK)
				api_pc_err(pc, NULL, "key %s", text_check_msg(c));
			pc_walk_text(pc, o->u.object.values[j]);
			api_pc_pop(pc, m3);
		}
		api_pc_pop(pc, m2);
	}
	api_pc_pop(pc, m);
}

static void
pc_missing(struct api_pc *pc, const char *key, unsigned flags)
{
	if (flags & API_REQ)
		api_pc_err(pc, key, "is required");
}

yajl_val
api_pc_object(struct api_pc *pc, yajl_val obj, const char *key,
    unsigned flags)
{
	yajl_val v = api_member(obj, key);

	if (v == NULL) {
		pc_missing(pc, key, flags);
		return NULL;
	}
	if (!YAJL_IS_OBJECT(v)) {
		api_pc_err(pc, key, "must be an object");
		return NULL;
	}
	return v;
}

yajl_val
api_pc_array(struct api_pc *pc, yajl_val obj, const char *key,
    unsigned flags)
{
	yajl_val v = api_member(obj, key);

	if (v == NULL) {
		pc_missing(pc, key, flags);
		return NULL;
	}
	if (!YAJL_IS_ARRAY(v)) {
		api_pc_err(pc, key, "must be an array");
		return NULL;
	}
	return v;
}

void *
api_pc_objects(struct api_pc *pc, yajl_val obj, const char *key,
    size_t size, void (*fn)(struct api_pc *, yajl_val, void *), size_t *n,
    unsigned flags)
{
	yajl_val a = api_pc_array(pc, obj, key, flags);
	size_t i, mark;
	char *v;

	*n = json_len(a);
	if (*n == 0)
		return NULL;
	v = xcalloc(*n, size);
	mark = api_pc_push(pc, key);
	for (i = 0; i < *n; i++) {
		yajl_val item = json_at(a, i);
		size_t m = api_pc_push_index(pc, i);

		if (YAJL_IS_OBJECT(item))
			fn(pc, item, v + i * size);
		else
			api_pc_err(pc, NULL, "must be an object");
		api_pc_pop(pc, m);
	}
	api_pc_pop(pc, mark);
	return v;
}

bool
api_pc_string(struct api_pc *pc, yajl_val obj, const char *key, char **out,
    const char *def, unsigned flags)
{
	yajl_val v = api_member(obj, key);

	if (v == NULL || !YAJL_IS_STRING(v)) {
		if (v == NULL)
			pc_missing(pc, key, flags);
		else
			api_pc_err(pc, key, "must be a string");
		*out = xstrdup(def);
		return false;
	}
	if (bad_text(v)) {	/* reported by the envelope's text walk */
		*out = xstrdup(def);
		return false;
	}
	*out = xstrdup(v->u.string);
	if ((flags & API_NONEMPTY) && (*out)[0] == '\0')
		api_pc_err(pc, key, "must not be empty");
	return true;
}

bool
api_pc_bool(struct api_pc *pc, yajl_val obj, const char *key, bool *out,
    bool def)
{
	yajl_val v = api_member(obj, key);

	*out = def;
	if (v == NULL)
		return false;
	if (!json_bool(v, out)) {
		api_pc_err(pc, key, "must be a boolean");
		return false;
	}
	return true;
}

static bool
pc_integer(struct api_pc *pc, yajl_val obj, const char *key, long long *out,
    int64_t min, int64_t max, bool int32, unsigned flags)
{
	yajl_val v = api_member(obj, key);

	if (v == NULL) {
		pc_missing(pc, key, flags);
		return false;
	}
	if (!json_int(v, out)) {
		api_pc_err(pc, key, "must be an integer");
		return false;
	}
	if (int32 && (*out < INT32_MIN || *out > INT32_MAX)) {
		api_pc_err(pc, key, "must be a 32-bit integer");
		return false;
	}
	if (*out < min) {
		api_pc_err(pc, key, "must be >= %" PRId64, min);
		return false;
	}
	if (*out > max) {
		api_pc_err(pc, key, "must be <= %" PRId64, max);
		return false;
	}
	return true;
}

bool
api_pc_int32(struct api_pc *pc, yajl_val obj, const char *key, int32_t *out,
    int32_t def, int64_t min, int64_t max, unsigned flags)
{
	long long v;

	*out = def;
	if (!pc_integer(pc, obj, key, &v, min, max, true, flags))
		return false;
	*out = (int32_t)v;
	return true;
}

bool
api_pc_int64(struct api_pc *pc, yajl_val obj, const char *key, int64_t *out,
    int64_t def, int64_t min, unsigned flags)
{
	long long v;

	*out = def;
	if (!pc_integer(pc, obj, key, &v, min, INT64_MAX, false, flags))
		return false;
	*out = v;
	return true;
}

/* "a, b, c" of the names whose bit is set in mask (all when mask is ~0). */
static char *
names_list(const char *const names[], int count, unsigned mask)
{
	struct buf b = BUF_INIT(0);
	int i;

	for (i = 1; i < count; i++) {
		if (!(mask & (1u << i)))
			continue;
		if (b.len)
			put(&b, ", ");
		put(&b, names[i]);
	}
	return buf_detach(&b, NULL);
}

static void
pc_bad_enum(struct api_pc *pc, const char *key, const char *got,
    const char *const names[], int count, unsigned mask)
{
	char *list = names_list(names, count, mask);

	api_pc_err(pc, key, "unsupported value \"%.64s%s\": must be one of %s",
	    got, strlen(got) > 64 ? "..." : "", list);
	free(list);
}

int
api_pc_enum(struct api_pc *pc, yajl_val obj, const char *key,
    const char *const names[], int count, int def, unsigned flags)
{
	yajl_val v = api_member(obj, key);
	int r;

	if (v == NULL) {
		pc_missing(pc, key, flags);
		return def;
	}
	if (!YAJL_IS_STRING(v)) {
		api_pc_err(pc, key, "must be a string");
		return 0;
	}
	if (bad_text(v))
		return def;
	r = api_enum_lookup(names, count, v->u.string);
	if (r == 0)
		pc_bad_enum(pc, key, v->u.string, names, count, ~0u);
	return r;
}

enum api_phase
api_pc_phase(struct api_pc *pc, yajl_val obj, const char *key,
    unsigned allowed)
{
	yajl_val v = api_member(obj, key);
	int r;

	if (v == NULL)
		return API_PHASE_NONE;
	if (!YAJL_IS_STRING(v)) {
		api_pc_err(pc, key, "must be a string");
		return API_PHASE_NONE;
	}
	if (bad_text(v))
		return API_PHASE_NONE;
	r = api_enum_lookup(api_phase_names, API_PHASE__COUNT, v->u.string);
	if (r == 0 || !(allowed & (1u << r))) {
		pc_bad_enum(pc, key, v->u.string, api_phase_names,
		    API_PHASE__COUNT, allowed);
		return API_PHASE_NONE;
	}
	return (enum api_phase)r;
}

bool
api_pc_strv(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_strv *out, size_t min_items, unsigned flags)
{
	yajl_val a = api_pc_array(pc, obj, key, flags);
	size_t i, n, mark;

	out->v = NULL;
	out->n = 0;
	if (a == NULL)
		return false;
	n = json_len(a);
	if (n < min_items)
		api_pc_err(pc, key, "must have at least %zu item%s", min_items,
		    min_items == 1 ? "" : "s");
	if (n == 0)
		return true;
	out->v = xcalloc(n, sizeof(*out->v));
	mark = api_pc_push(pc, key);
	for (i = 0; i < n; i++) {
		const char *s = json_str(json_at(a, i));

		if (s == NULL) {
			size_t m = api_pc_push_index(pc, i);

			api_pc_err(pc, NULL, "must be a string");
			api_pc_pop(pc, m);
			continue;
		}
		if (bad_text(json_at(a, i)))
			continue;
		out->v[out->n++] = xstrdup(s);
	}
	api_pc_pop(pc, mark);
	return true;
}

bool
api_pc_map(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_map *out)
{
	yajl_val o = api_pc_object(pc, obj, key, 0);
	size_t i, n, mark;

	out->v = NULL;
	out->n = 0;
	if (o == NULL)
		return false;
	n = json_len(o);
	if (n == 0)
		return true;
	out->v = xcalloc(n, sizeof(*out->v));
	mark = api_pc_push(pc, key);
	for (i = 0; i < n; i++) {
		const char *k = json_key_at(o, i);
		yajl_val v = json_val_at(o, i);

		if (json_is_null(v) || json_key_check(o, i) != TEXT_OK ||
		    bad_text(v))
			continue;
		if (!YAJL_IS_STRING(v)) {
			size_t m = api_pc_push_mapkey(pc, k);

			api_pc_err(pc, NULL, "must be a string");
			api_pc_pop(pc, m);
			continue;
		}
		out->v[out->n].key = xstrdup(k);
		out->v[out->n].val = xstrdup(v->u.string);
		out->n++;
	}
	api_pc_pop(pc, mark);
	return true;
}

bool
api_pc_time(struct api_pc *pc, yajl_val obj, const char *key, int64_t *out,
    unsigned flags)
{
	yajl_val v = api_member(obj, key);
	struct timespec ts;
	char err[128];

	*out = 0;
	if (v == NULL) {
		pc_missing(pc, key, flags);
		return false;
	}
	if (!YAJL_IS_STRING(v)) {
		api_pc_err(pc, key, "must be a string");
		return false;
	}
	if (bad_text(v))
		return false;
	if (timefmt_parse(v->u.string, &ts, err, sizeof(err)) < 0) {
		api_pc_err(pc, key, "must be an RFC 3339 date-time (%s)", err);
		return false;
	}
	*out = (int64_t)ts.tv_sec;
	return true;
}

bool
api_pc_duration(struct api_pc *pc, yajl_val obj, const char *key,
    char **out, const char *def, unsigned flags)
{
	char err[128];
	int64_t ns;

	if (!api_pc_string(pc, obj, key, out, def, flags))
		return false;
	if (duration_parse(*out, &ns, err, sizeof(err)) < 0) {
		api_pc_err(pc, key, "must be a Go duration such as 30s or "
		    "1h30m (%s)", err);
		return false;
	}
	return true;
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(char c)
{
	return is_alpha(c) || is_digit(c);
}

/* ^[a-zA-Z_][a-zA-Z0-9_]*$ */
static bool
ident_ok(const char *s)
{
	if (!(is_alpha(*s) || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!(is_alnum(*s) || *s == '_'))
			return false;
	return true;
}

/* Characters (code points) of a UTF-8 string, as maxLength counts them. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

void
api_pc_ident(struct api_pc *pc, yajl_val obj, const char *key, char **out,
    unsigned flags)
{
	if (!api_pc_string(pc, obj, key, out, NULL, flags & API_REQ))
		return;
	if (**out == '\0') {
		if (flags & API_REQ)
			api_pc_err(pc, key, "must not be empty");
		return;
	}
	if (utf8_chars(*out) > 63)
		api_pc_err(pc, key, "must be at most 63 characters");
	else if (!ident_ok(*out))
		api_pc_err(pc, key, "must match ^[a-zA-Z_][a-zA-Z0-9_]*$");
}

/* Letters and '_' words separated by single spaces: "SELECT",
 * "ALL PRIVILEGES", "BACKUP_ADMIN". */
static bool
privilege_ok(const char *s)
{
	bool word = false;

	for (; *s; s++) {
		if (is_alpha(*s) || *s == '_')
			word = true;
		else if (*s == ' ' && word)
			word = false;
		else
			return false;
	}
	return word;
}

void
api_pc_privileges(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_strv *out)
{
	yajl_val a = api_member(obj, key);
	size_t i, mark;

	if (!api_pc_strv(pc, obj, key, out, 1, API_REQ))
		return;
	mark = api_pc_push(pc, key);
	for (i = 0; i < json_len(a); i++) {
		const char *s = json_str(json_at(a, i));
		size_t m;

		if (s == NULL || bad_text(json_at(a, i)) || privilege_ok(s))
			continue;	/* wrong types are reported already */
		m = api_pc_push_index(pc, i);
		api_pc_err(pc, NULL, "must be a privilege keyword (letters, '_' "
		    "and single spaces, e.g. SELECT or ALL PRIVILEGES)");
		api_pc_pop(pc, m);
	}
	api_pc_pop(pc, mark);
}

void
api_pc_charset_name(struct api_pc *pc, const char *key, const char *s)
{
	const char *p;

	if (s == NULL)
		return;
	for (p = s; *p; p++)
		if (!(is_alnum(*p) || *p == '_'))
			break;
	if (*s == '\0' || *p != '\0')
		api_pc_err(pc, key, "must match ^[a-zA-Z0-9_]+$");
}

void
api_pc_type_meta(struct api_pc *pc, yajl_val obj, enum api_kind kind)
{
	yajl_val v;

	v = api_member(obj, "kind");
	if (v != NULL && !YAJL_IS_STRING(v))
		api_pc_err(pc, "kind", "must be a string");
	else if (v != NULL && (bad_text(v) ||
	    strcmp(v->u.string, api_kind_name(kind)) != 0))
		api_pc_err(pc, "kind", "must be %s", api_kind_name(kind));
	v = api_member(obj, "apiVersion");
	if (v != NULL && !YAJL_IS_STRING(v))
		api_pc_err(pc, "apiVersion", "must be a string");
	else if (v != NULL && (bad_text(v) ||
	    strcmp(v->u.string, API_GROUP_VERSION) != 0))
		api_pc_err(pc, "apiVersion", "must be " API_GROUP_VERSION);
}

/* ---- metadata -------------------------------------------------------- */

void
api_meta_release(struct api_meta *m)
{
	size_t i;

	free(m->block);
	api_strv_release(&m->finalizers);
	api_map_release(&m->labels);
	api_map_release(&m->annotations);
	for (i = 0; i < m->n_owners; i++) {
		free(m->owners[i].api_version);
		free(m->owners[i].kind);
		free(m->owners[i].name);
		free(m->owners[i].uid);
	}
	free(m->owners);
	memset(m, 0, sizeof(*m));
}

bool
api_meta_has_finalizer(const struct api_meta *m, const char *finalizer)
{
	return api_strv_contains(&m->finalizers, finalizer);
}

const struct api_owner_ref *
api_meta_controller(const struct api_meta *m)
{
	size_t i;

	for (i = 0; i < m->n_owners; i++)
		if (m->owners[i].controller)
			return &m->owners[i];
	return NULL;
}

static void
pc_owner_refs(struct api_pc *pc, yajl_val md, struct api_meta *out)
{
	yajl_val a = api_pc_array(pc, md, "ownerReferences", 0);
	size_t i, n, mark;

	n = json_len(a);
	if (n == 0)
		return;
	out->owners = xcalloc(n, sizeof(*out->owners));
	out->n_owners = n;
	mark = api_pc_push(pc, "ownerReferences");
	for (i = 0; i < n; i++) {
		struct api_owner_ref *o = &out->owners[i];
		yajl_val v = json_at(a, i);
		size_t m = api_pc_push_index(pc, i);

		if (!YAJL_IS_OBJECT(v)) {
			api_pc_err(pc, NULL, "must be an object");
		} else {
			api_pc_string(pc, v, "apiVersion", &o->api_version,
			    NULL, 0);
			api_pc_string(pc, v, "kind", &o->kind, NULL, 0);
			api_pc_string(pc, v, "name", &o->name, NULL, 0);
			api_pc_string(pc, v, "uid", &o->uid, NULL, 0);
			api_pc_bool(pc, v, "controller", &o->controller, false);
			api_pc_bool(pc, v, "blockOwnerDeletion",
			    &o->block_owner_deletion, false);
		}
		api_pc_pop(pc, m);
	}
	api_pc_pop(pc, mark);
}

/* The identity strings of metadata, copied into one block. */
static void
pc_identity(struct api_pc *pc, yajl_val md, struct api_meta *out)
{
	static const char *const keys[] = {
		"name", "namespace", "uid", "resourceVersion",
	};
	char **const dst[] = {
		&out->name, &out->ns, &out->uid, &out->resource_version,
	};
	const char *src[4];
	size_t i;

	for (i = 0; i < 4; i++) {
		yajl_val v = api_member(md, keys[i]);

		src[i] = v != NULL && YAJL_IS_STRING(v) && !bad_text(v) ?
		    v->u.string : NULL;
		if (v != NULL && src[i] == NULL)
			api_pc_err(pc, keys[i], "must be a string");
	}
	out->block = strpack(4, src, dst);
}

void
api_pc_meta(struct api_pc *pc, yajl_val obj, struct api_meta *out)
{
	yajl_val md = api_pc_object(pc, obj, "metadata", 0);
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (md == NULL)
		return;
	mark = api_pc_push(pc, "metadata");
	pc_identity(pc, md, out);
	api_pc_int64(pc, md, "generation", &out->generation, 0, INT64_MIN, 0);
	api_pc_time(pc, md, "creationTimestamp", &out->creation_timestamp, 0);
	out->deleting = api_member(md, "deletionTimestamp") != NULL;
	api_pc_time(pc, md, "deletionTimestamp", &out->deletion_timestamp, 0);
	api_pc_strv(pc, md, "finalizers", &out->finalizers, 0, 0);
	api_pc_map(pc, md, "labels", &out->labels);
	api_pc_map(pc, md, "annotations", &out->annotations);
	pc_owner_refs(pc, md, out);
	api_pc_pop(pc, mark);

	out->skip_reconcile =
	    streq(api_map_get(&out->annotations, API_ANN_SKIP_RECONCILE), "true") ||
	    streq(api_map_get(&out->annotations, API_ANN_PAUSE_RECONCILE), "true");
	out->force_delete =
	    streq(api_map_get(&out->annotations, API_ANN_FORCE_DELETE), "true");
	if (out->ns && out->ns[0])
		pc->ns = out->ns;
}

/* ---- references ------------------------------------------------------ */

/* The namespace of a reference: its own when non-empty, else the
 * referring object's. */
static void
ref_ns(struct api_pc *pc, char **ns)
{
	if (*ns == NULL || (*ns)[0] == '\0')
		api_set_str(ns, pc->ns);
}

void
api_pc_ref(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_ref *out, unsigned flags)
{
	yajl_val v = api_pc_object(pc, obj, key, flags);
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_string(pc, v, "name", &out->name, NULL, API_REQ | API_NONEMPTY);
	api_pc_string(pc, v, "namespace", &out->ns, NULL, 0);
	ref_ns(pc, &out->ns);
	api_pc_pop(pc, mark);
}

void
api_ref_release(struct api_ref *r)
{
	free(r->name);
	free(r->ns);
	memset(r, 0, sizeof(*r));
}

void
api_pc_secret_key(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_secret_key *out, unsigned flags)
{
	yajl_val v = api_pc_object(pc, obj, key, flags);
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_string(pc, v, "name", &out->name, NULL, API_REQ | API_NONEMPTY);
	api_pc_string(pc, v, "namespace", &out->ns, NULL, 0);
	ref_ns(pc, &out->ns);
	api_pc_string(pc, v, "key", &out->key, NULL, API_REQ | API_NONEMPTY);
	api_pc_pop(pc, mark);
}

void
api_secret_key_release(struct api_secret_key *s)
{
	free(s->name);
	free(s->ns);
	free(s->key);
	memset(s, 0, sizeof(*s));
}

void
api_pc_cred_ref(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_cred_ref *out)
{
	yajl_val v = api_pc_object(pc, obj, key, 0), k;
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_string(pc, v, "name", &out->name, NULL, API_REQ | API_NONEMPTY);
	out->ns = xstrdup(pc->ns);
	k = api_pc_object(pc, v, "keys", 0);
	if (k != NULL) {
		size_t m = api_pc_push(pc, "keys");

		out->keys_set = true;
		api_pc_string(pc, k, "username", &out->username_key,
		    "username", 0);
		api_pc_string(pc, k, "password", &out->password_key,
		    "password", 0);
		api_pc_pop(pc, m);
	}
	api_pc_pop(pc, mark);
}

void
api_cred_ref_release(struct api_cred_ref *c)
{
	free(c->name);
	free(c->ns);
	free(c->username_key);
	free(c->password_key);
	memset(c, 0, sizeof(*c));
}

/* ---- shared blocks --------------------------------------------------- */

void
api_pc_tls(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_tls *out)
{
	yajl_val v = api_pc_object(pc, obj, key, 0), s, k;
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_bool(pc, v, "enabled", &out->enabled, false);
	out->mode = api_pc_enum(pc, v, "mode", api_tls_mode_names,
	    API_TLS__COUNT, API_TLS_DISABLE, 0);
	s = api_pc_object(pc, v, "secretRef", 0);
	if (s != NULL) {
		size_t m = api_pc_push(pc, "secretRef");

		out->secret.set = true;
		api_pc_string(pc, s, "name", &out->secret.name, NULL,
		    API_REQ | API_NONEMPTY);
		out->secret.ns = xstrdup(pc->ns);
		k = api_pc_object(pc, s, "keys", 0);
		if (k != NULL) {
			size_t m2 = api_pc_push(pc, "keys");

			out->secret.keys_set = true;
			api_pc_string(pc, k, "ca", &out->secret.ca, "ca.crt", 0);
			api_pc_string(pc, k, "cert", &out->secret.cert, NULL, 0);
			api_pc_string(pc, k, "key", &out->secret.key, NULL, 0);
			api_pc_pop(pc, m2);
		}
		api_pc_pop(pc, m);
	}
	api_pc_pop(pc, mark);
}

void
api_tls_release(struct api_tls *t)
{
	free(t->secret.name);
	free(t->secret.ns);
	free(t->secret.ca);
	free(t->secret.cert);
	free(t->secret.key);
	memset(t, 0, sizeof(*t));
}

void
api_pc_health_check(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_health_check *out)
{
	yajl_val v = api_pc_object(pc, obj, key, 0);
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_bool(pc, v, "enabled", &out->enabled, true);
	api_pc_int32(pc, v, "intervalSeconds", &out->interval_seconds, 30, 5,
	    INT32_MAX, 0);
	api_pc_int32(pc, v, "timeoutSeconds", &out->timeout_seconds, 5, 1,
	    INT32_MAX, 0);
	api_pc_pop(pc, mark);
}

static void
pc_storage_s3(struct api_pc *pc, yajl_val v, struct api_storage *out)
{
	yajl_val s, k;

	out->s3.set = true;
	api_pc_string(pc, v, "bucket", &out->s3.bucket, NULL,
	    API_REQ | API_NONEMPTY);
	api_pc_string(pc, v, "region", &out->s3.region, NULL,
	    API_REQ | API_NONEMPTY);
	api_pc_string(pc, v, "prefix", &out->s3.prefix, NULL, 0);
	api_pc_string(pc, v, "endpoint", &out->s3.endpoint, NULL, 0);
	api_pc_bool(pc, v, "forcePathStyle", &out->s3.force_path_style, false);
	s = api_pc_object(pc, v, "secretRef", API_REQ);
	if (s != NULL) {
		size_t m = api_pc_push(pc, "secretRef");

		out->s3.secret.set = true;
		api_pc_string(pc, s, "name", &out->s3.secret.name, NULL,
		    API_REQ | API_NONEMPTY);
		out->s3.secret.ns = xstrdup(pc->ns);
		k = api_pc_object(pc, s, "keys", 0);
		if (k != NULL) {
			size_t m2 = api_pc_push(pc, "keys");

			out->s3.secret.keys_set = true;
			api_pc_string(pc, k, "accessKey",
			    &out->s3.secret.access_key, "AWS_ACCESS_KEY_ID", 0);
			api_pc_string(pc, k, "secretKey",
			    &out->s3.secret.secret_key,
			    "AWS_SECRET_ACCESS_KEY", 0);
			api_pc_pop(pc, m2);
		}
		api_pc_pop(pc, m);
	}
}

void
api_pc_storage(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_storage *out, unsigned flags)
{
	yajl_val v = api_pc_object(pc, obj, key, flags), b;
	bool present[API_STORAGE__COUNT] = { false };
	size_t mark, m;
	int t;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	out->type = api_pc_enum(pc, v, "type", api_storage_type_names,
	    API_STORAGE__COUNT, API_STORAGE_NONE, API_REQ);

	if ((b = api_pc_object(pc, v, "gcs", 0)) != NULL) {
		m = api_pc_push(pc, "gcs");
		out->gcs.set = true;
		api_pc_string(pc, b, "bucket", &out->gcs.bucket, NULL,
		    API_REQ | API_NONEMPTY);
		api_pc_string(pc, b, "prefix", &out->gcs.prefix, NULL, 0);
		api_pc_secret_key(pc, b, "secretRef", &out->gcs.secret, API_REQ);
		api_pc_pop(pc, m);
	}
	if ((b = api_pc_object(pc, v, "s3", 0)) != NULL) {
		m = api_pc_push(pc, "s3");
		pc_storage_s3(pc, b, out);
		api_pc_pop(pc, m);
	}
	if ((b = api_pc_object(pc, v, "azure", 0)) != NULL) {
		m = api_pc_push(pc, "azure");
		out->azure.set = true;
		api_pc_string(pc, b, "container", &out->azure.container, NULL,
		    API_REQ | API_NONEMPTY);
		api_pc_string(pc, b, "storageAccount",
		    &out->azure.storage_account, NULL, API_REQ | API_NONEMPTY);
		api_pc_string(pc, b, "prefix", &out->azure.prefix, NULL, 0);
		api_pc_ref(pc, b, "secretRef", &out->azure.secret, API_REQ);
		api_pc_pop(pc, m);
	}
	if ((b = api_pc_object(pc, v, "pvc", 0)) != NULL) {
		m = api_pc_push(pc, "pvc");
		out->pvc.set = true;
		api_pc_string(pc, b, "claimName", &out->pvc.claim_name, NULL,
		    API_REQ | API_NONEMPTY);
		api_pc_string(pc, b, "subPath", &out->pvc.sub_path, NULL, 0);
		api_pc_pop(pc, m);
	}

	/* Exactly the block that `type` names. */
	present[API_STORAGE_GCS] = out->gcs.set;
	present[API_STORAGE_S3] = out->s3.set;
	present[API_STORAGE_AZURE] = out->azure.set;
	present[API_STORAGE_PVC] = out->pvc.set;
	if (out->type != API_STORAGE_NONE) {
		const char *tn = api_storage_type_names[out->type];

		for (t = 1; t < API_STORAGE__COUNT; t++) {
			if (t == (int)out->type && !present[t])
				api_pc_err(pc, tn, "is required when type is %s",
				    tn);
			else if (t != (int)out->type && present[t])
				api_pc_err(pc, api_storage_type_names[t],
				    "must not be set when type is %s", tn);
		}
	}
	api_pc_pop(pc, mark);
}

void
api_storage_release(struct api_storage *s)
{
	free(s->gcs.bucket);
	free(s->gcs.prefix);
	api_secret_key_release(&s->gcs.secret);
	free(s->s3.bucket);
	free(s->s3.region);
	free(s->s3.prefix);
	free(s->s3.endpoint);
	free(s->s3.secret.name);
	free(s->s3.secret.ns);
	free(s->s3.secret.access_key);
	free(s->s3.secret.secret_key);
	free(s->azure.container);
	free(s->azure.storage_account);
	free(s->azure.prefix);
	api_ref_release(&s->azure.secret);
	free(s->pvc.claim_name);
	free(s->pvc.sub_path);
	memset(s, 0, sizeof(*s));
}

void
api_pc_compression(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_compression *out)
{
	yajl_val v = api_pc_object(pc, obj, key, 0);
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_bool(pc, v, "enabled", &out->enabled, true);
	out->algorithm = api_pc_enum(pc, v, "algorithm",
	    api_compression_algo_names, API_COMPRESSION__COUNT,
	    API_COMPRESSION_GZIP, 0);
	api_pc_int32(pc, v, "level", &out->level, 6, 1, 9, 0);
	api_pc_pop(pc, mark);
}

void
api_pc_encryption(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_encryption *out)
{
	yajl_val v = api_pc_object(pc, obj, key, 0);
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_bool(pc, v, "enabled", &out->enabled, false);
	out->algorithm = api_pc_enum(pc, v, "algorithm",
	    api_encryption_algo_names, API_ENCRYPTION__COUNT,
	    API_ENCRYPTION_AES_256_GCM, 0);
	api_pc_secret_key(pc, v, "secretRef", &out->secret, 0);
	if (out->enabled && !out->secret.set)
		api_pc_err(pc, "secretRef", "is required when enabled is true");
	api_pc_pop(pc, mark);
}

void
api_encryption_release(struct api_encryption *e)
{
	api_secret_key_release(&e->secret);
	memset(e, 0, sizeof(*e));
}

static void
pc_secret_template(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_secret_template *out)
{
	yajl_val v = api_pc_object(pc, obj, key, 0);
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_string(pc, v, "type", &out->type, "Opaque", 0);
	api_pc_map(pc, v, "labels", &out->labels);
	api_pc_map(pc, v, "annotations", &out->annotations);
	api_pc_map(pc, v, "data", &out->data);
	api_pc_pop(pc, mark);
}

void
api_pc_password_config(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_password_config *out)
{
	yajl_val v = api_pc_object(pc, obj, key, 0);
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_bool(pc, v, "generate", &out->generate, true);
	api_pc_int32(pc, v, "length", &out->length, 32, 8, 128, 0);
	api_pc_bool(pc, v, "includeSpecialChars", &out->include_special_chars,
	    true);
	api_pc_string(pc, v, "excludeChars", &out->exclude_chars, NULL, 0);
	api_pc_string(pc, v, "secretName", &out->secret_name, NULL,
	    API_REQ | API_NONEMPTY);
	api_pc_string(pc, v, "secretNamespace", &out->secret_namespace, NULL,
	    0);
	out->format = api_pc_enum(pc, v, "format", api_secret_format_names,
	    API_SECRET_FORMAT__COUNT, API_SECRET_FORMAT_KUBERNETES, 0);
	pc_secret_template(pc, v, "secretTemplate", &out->secret_template);

	/* Beyond the schema: fields the original ignores are rejected
	 * instead of silently doing something else. */
	if (out->format != API_SECRET_FORMAT_NONE &&
	    out->format != API_SECRET_FORMAT_KUBERNETES)
		api_pc_err(pc, "format", "%s is not supported (only kubernetes)",
		    api_secret_format_names[out->format]);
	if (out->secret_namespace && out->secret_namespace[0] &&
	    !streq(out->secret_namespace, pc->ns))
		api_pc_err(pc, "secretNamespace", "must be empty or the "
		    "object's own namespace (the Secret is owned by it)");
	api_pc_pop(pc, mark);
}

void
api_password_config_release(struct api_password_config *p)
{
	free(p->exclude_chars);
	free(p->secret_name);
	free(p->secret_namespace);
	free(p->secret_template.type);
	api_map_release(&p->secret_template.labels);
	api_map_release(&p->secret_template.annotations);
	api_map_release(&p->secret_template.data);
	memset(p, 0, sizeof(*p));
}

void
api_pc_password_rotation(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_password_rotation *out)
{
	yajl_val v = api_pc_object(pc, obj, key, 0);
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_bool(pc, v, "enabled", &out->enabled, false);
	api_pc_string(pc, v, "schedule", &out->schedule, NULL, 0);
	api_pc_string(pc, v, "maxAge", &out->max_age, NULL, 0);
	api_pc_pop(pc, mark);
}

void
api_password_rotation_release(struct api_password_rotation *p)
{
	free(p->schedule);
	free(p->max_age);
	memset(p, 0, sizeof(*p));
}

void
api_pc_retention(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_retention *out)
{
	yajl_val v = api_pc_object(pc, obj, key, 0);
	size_t mark;

	memset(out, 0, sizeof(*out));
	if (v == NULL)
		return;
	out->set = true;
	mark = api_pc_push(pc, key);
	api_pc_int32(pc, v, "keepLast", &out->keep_last, 0, 0, INT32_MAX, 0);
	api_pc_int32(pc, v, "keepHourly", &out->keep_hourly, 0, 0, INT32_MAX, 0);
	api_pc_int32(pc, v, "keepDaily", &out->keep_daily, 0, 0, INT32_MAX, 0);
	api_pc_int32(pc, v, "keepWeekly", &out->keep_weekly, 0, 0, INT32_MAX, 0);
	api_pc_int32(pc, v, "keepMonthly", &out->keep_monthly, 0, 0,
	    INT32_MAX, 0);
	api_pc_int32(pc, v, "keepYearly", &out->keep_yearly, 0, 0, INT32_MAX, 0);
	api_pc_string(pc, v, "minAge", &out->min_age, NULL, 0);
	api_pc_pop(pc, mark);
}

void
api_retention_release(struct api_retention *r)
{
	free(r->min_age);
	memset(r, 0, sizeof(*r));
}

/* ---- grants ---------------------------------------------------------- */

void
api_pc_pg_grants(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_pg_grants *out)
{
	yajl_val a = api_pc_array(pc, obj, key, 0);
	size_t i, n, mark;

	memset(out, 0, sizeof(*out));
	n = json_len(a);
	if (n == 0)
		return;
	/* One entry per JSON item, so indexes match the manifest. */
	out->v = xcalloc(n, sizeof(*out->v));
	out->n = n;
	mark = api_pc_push(pc, key);
	for (i = 0; i < n; i++) {
		struct api_pg_grant *g = &out->v[i];
		yajl_val v = json_at(a, i);
		size_t m = api_pc_push_index(pc, i);

		if (!YAJL_IS_OBJECT(v)) {
			api_pc_err(pc, NULL, "must be an object");
			api_pc_pop(pc, m);
			continue;
		}
		api_pc_string(pc, v, "database", &g->database, NULL, API_REQ);
		api_pc_string(pc, v, "schema", &g->schema, NULL, 0);
		api_pc_strv(pc, v, "tables", &g->tables, 0, 0);
		api_pc_strv(pc, v, "sequences", &g->sequences, 0, 0);
		api_pc_strv(pc, v, "functions", &g->functions, 0, 0);
		api_pc_privileges(pc, v, "privileges", &g->privileges);
		api_pc_bool(pc, v, "withGrantOption", &g->with_grant_option,
		    false);
		api_pc_pop(pc, m);
	}
	api_pc_pop(pc, mark);
}

void
api_pg_grants_release(struct api_pg_grants *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		free(g->v[i].database);
		free(g->v[i].schema);
		api_strv_release(&g->v[i].tables);
		api_strv_release(&g->v[i].sequences);
		api_strv_release(&g->v[i].functions);
		api_strv_release(&g->v[i].privileges);
	}
	free(g->v);
	memset(g, 0, sizeof(*g));
}

static bool
nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* What each MySQL grant level needs (§2.3 targets), and what it would
 * silently ignore. */
static void
my_grant_check(struct api_pc *pc, const struct api_my_grant *g)
{
	enum { DB = 1, TABLE = 2, COLUMNS = 4, PROC = 8, FUNC = 16 };
	static const unsigned need[API_MY_LEVEL__COUNT] = {
		[API_MY_LEVEL_GLOBAL] = 0,
		[API_MY_LEVEL_DATABASE] = DB,
		[API_MY_LEVEL_TABLE] = DB | TABLE,
		[API_MY_LEVEL_COLUMN] = DB | TABLE | COLUMNS,
		[API_MY_LEVEL_PROCEDURE] = DB | PROC,
		[API_MY_LEVEL_FUNCTION] = DB | FUNC,
	};
	static const char *const field[] = { "database", "table", "columns",
	    "procedure", "function" };
	unsigned have = 0;
	const char *ln;
	size_t i;

	if (g->level == API_MY_LEVEL_NONE)
		return;
	ln = api_my_grant_level_names[g->level];
	have |= nonempty(g->database) ? DB : 0;
	have |= nonempty(g->table) ? TABLE : 0;
	have |= g->columns.n ? COLUMNS : 0;
	have |= nonempty(g->procedure) ? PROC : 0;
	have |= nonempty(g->function) ? FUNC : 0;
	for (i = 0; i < ARRAY_SIZE(field); i++) {
		unsigned bit = 1u << i;

		if ((need[g->level] & bit) && !(have & bit))
			api_pc_err(pc, field[i], "is required for level %s", ln);
		else if (!(need[g->level] & bit) && (have & bit))
			api_pc_err(pc, field[i], "must not be set for level %s",
			    ln);
	}
}

void
api_pc_my_grants(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_my_grants *out)
{
	yajl_val a = api_pc_array(pc, obj, key, 0);
	size_t i, n, mark;

	memset(out, 0, sizeof(*out));
	n = json_len(a);
	if (n == 0)
		return;
	out->v = xcalloc(n, sizeof(*out->v));
	out->n = n;
	mark = api_pc_push(pc, key);
	for (i = 0; i < n; i++) {
		struct api_my_grant *g = &out->v[i];
		yajl_val v = json_at(a, i);
		size_t m = api_pc_push_index(pc, i);

		if (!YAJL_IS_OBJECT(v)) {
			api_pc_err(pc, NULL, "must be an object");
			api_pc_pop(pc, m);
			continue;
		}
		g->level = api_pc_enum(pc, v, "level", api_my_grant_level_names,
		    API_MY_LEVEL__COUNT, API_MY_LEVEL_NONE, API_REQ);
		api_pc_string(pc, v, "database", &g->database, NULL, 0);
		api_pc_string(pc, v, "table", &g->table, NULL, 0);
		api_pc_strv(pc, v, "columns", &g->columns, 0, 0);
		api_pc_string(pc, v, "procedure", &g->procedure, NULL, 0);
		api_pc_string(pc, v, "function", &g->function, NULL, 0);
		api_pc_privileges(pc, v, "privileges", &g->privileges);
		api_pc_bool(pc, v, "withGrantOption", &g->with_grant_option,
		    false);
		my_grant_check(pc, g);
		api_pc_pop(pc, m);
	}
	api_pc_pop(pc, mark);
}

void
api_my_grants_release(struct api_my_grants *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		free(g->v[i].database);
		free(g->v[i].table);
		api_strv_release(&g->v[i].columns);
		free(g->v[i].procedure);
		free(g->v[i].function);
		api_strv_release(&g->v[i].privileges);
	}
	free(g->v);
	memset(g, 0, sizeof(*g));
}

void
api_pc_engine_blocks(struct api_pc *pc, const char *prefix,
    bool has_postgres, bool has_mysql, enum api_engine engine)
{
	size_t mark = api_pc_push(pc, prefix);

	if (engine == API_ENGINE_POSTGRES && has_mysql)
		api_pc_err(pc, "mysql", "not allowed: the instance engine is "
		    "postgres");
	if (engine == API_ENGINE_MYSQL && has_postgres)
		api_pc_err(pc, "postgres", "not allowed: the instance engine is "
		    "mysql");
	api_pc_pop(pc, mark);
}

/* metav1.Time text of t; -1 for 0 (absent) and for years beyond 9999,
 * which Go refuses to marshal too. */
static int
format_time(int64_t t, char buf[TIMEFMT_TIME_LEN])
{
	struct timespec ts;

	if (t == 0)
		return -1;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = 0;
	return timefmt_time(ts, buf, TIMEFMT_TIME_LEN);
}

/* ---- conditions ------------------------------------------------------ */

/* ^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?
 *  (([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$ */
static bool
cond_type_ok(const char *s)
{
	const char *slash = strchr(s, '/'), *p, *name = s;

	if (slash != NULL) {
		/* DNS-1123 subdomain: labels of [a-z0-9-], alnum at ends. */
		const char *label = s;

		for (p = s; p <= slash; p++) {
			if (p == slash || *p == '.') {
				if (p == label || p[-1] == '-' || *label == '-')
					return false;
				label = p + 1;
			} else if (!((*p >= 'a' && *p <= 'z') || is_digit(*p) ||
			    *p == '-')) {
				return false;
			}
		}
		name = slash + 1;
	}
	if (*name == '\0')
		return false;
	for (p = name; *p; p++)
		if (!(is_alnum(*p) || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return is_alnum(name[0]) && is_alnum(p[-1]);
}

/* ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$ */
static bool
cond_reason_ok(const char *s)
{
	const char *p;

	if (!is_alpha(*s))
		return false;
	for (p = s; *p; p++)
		if (!(is_alnum(*p) || *p == '_' || *p == ',' || *p == ':'))
			return false;
	return is_alnum(p[-1]) || p[-1] == '_';
}

static void
condition_clear(struct api_condition *c)
{
	free(c->type);
	free(c->reason);
	free(c->message);
	memset(c, 0, sizeof(*c));
}

void
api_pc_conditions(struct api_pc *pc, yajl_val obj, const char *key,
    struct api_conditions *out)
{
	yajl_val a = api_pc_array(pc, obj, key, 0);
	size_t i, n, mark;

	memset(out, 0, sizeof(*out));
	n = json_len(a);
	if (n == 0)
		return;
	out->v = xcalloc(n, sizeof(*out->v));
	mark = api_pc_push(pc, key);
	for (i = 0; i < n; i++) {
		struct api_condition *c = &out->v[out->n];
		yajl_val v = json_at(a, i);
		size_t m = api_pc_push_index(pc, i);
		int st;

		if (!YAJL_IS_OBJECT(v)) {
			api_pc_err(pc, NULL, "must be an object");
			api_pc_pop(pc, m);
			continue;
		}
		if (api_pc_string(pc, v, "type", &c->type, NULL, API_REQ)) {
			if (utf8_chars(c->type) > 316)
				api_pc_err(pc, "type", "must be at most 316 "
				    "characters");
			else if (!cond_type_ok(c->type))
				api_pc_err(pc, "type", "must be a qualified "
				    "name such as Ready or example.com/Synced");
		}
		st = api_pc_enum(pc, v, "status", api_cond_status_names,
		    API_COND__COUNT, API_COND_NONE, API_REQ);
		c->status = (enum api_cond_status)st;
		api_pc_int64(pc, v, "observedGeneration",
		    &c->observed_generation, 0, 0, 0);
		api_pc_time(pc, v, "lastTransitionTime",
		    &c->last_transition_time, API_REQ);
		if (api_pc_string(pc, v, "reason", &c->reason, NULL, API_REQ)) {
			if (c->reason[0] == '\0')
				api_pc_err(pc, "reason", "must not be empty");
			else if (utf8_chars(c->reason) > 1024)
				api_pc_err(pc, "reason", "must be at most 1024 "
				    "characters");
			else if (!cond_reason_ok(c->reason))
				api_pc_err(pc, "reason", "must match "
				    "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$");
		}
		if (api_pc_string(pc, v, "message", &c->message, NULL, API_REQ) &&
		    utf8_chars(c->message) > 32768)
			api_pc_err(pc, "message", "must be at most 32768 "
			    "characters");
		out->n++;
		api_pc_pop(pc, m);
	}
	api_pc_pop(pc, mark);
}

void
api_conditions_release(struct api_conditions *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		condition_clear(&c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

const struct api_condition *
api_conditions_get(const struct api_conditions *c, const char *type)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (streq(c->v[i].type, type))
			return &c->v[i];
	return NULL;
}

bool
api_conditions_set(struct api_conditions *c, const char *type,
    enum api_cond_status status, const char *reason, const char *message,
    int64_t observed_generation, int64_t now)
{
	struct api_condition *e = NULL;
	size_t i;

	if (message == NULL)
		message = "";
	for (i = 0; i < c->n && e == NULL; i++)
		if (streq(c->v[i].type, type))
			e = &c->v[i];
	if (e != NULL && e->status == status && streq(e->reason, reason) &&
	    strcmp0(e->message, message) == 0) {
		if (e->observed_generation == observed_generation)
			return false;
		e->observed_generation = observed_generation;
		return true;
	}
	if (e == NULL) {
		c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
		e = &c->v[c->n++];
		memset(e, 0, sizeof(*e));
		e->type = xstrdup(type);
	}
	e->status = status;
	api_set_str(&e->reason, reason);
	api_set_str(&e->message, message);
	e->observed_generation = observed_generation;
	e->last_transition_time = now;
	return true;
}

bool
api_conditions_remove(struct api_conditions *c, const char *type)
{
	size_t i, j = 0;
	bool removed = false;

	for (i = 0; i < c->n; i++) {
		if (streq(c->v[i].type, type)) {
			condition_clear(&c->v[i]);
			removed = true;
			continue;
		}
		c->v[j++] = c->v[i];
	}
	c->n = j;
	return removed;
}

void
api_conditions_write(struct jw *w, const struct api_conditions *c)
{
	char tbuf[TIMEFMT_TIME_LEN];
	size_t i;

	if (c->n == 0)
		return;
	jw_key(w, "conditions");
	jw_arr_open(w);
	for (i = 0; i < c->n; i++) {
		const struct api_condition *e = &c->v[i];

		jw_obj_open(w);
		jw_kstr(w, "type", e->type ? e->type : "");
		jw_kstr(w, "status", api_cond_status_names[e->status]);
		api_w_int(w, "observedGeneration", e->observed_generation);
		jw_key(w, "lastTransitionTime");
		if (format_time(e->last_transition_time, tbuf) == 0)
			jw_str(w, tbuf);
		else
			jw_null(w);
		jw_kstr(w, "reason", e->reason ? e->reason : "");
		jw_kstr(w, "message", e->message ? e->message : "");
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

/* ---- omitempty writers ----------------------------------------------- */

void
api_w_str(struct jw *w, const char *key, const char *s)
{
	if (s != NULL && s[0] != '\0')
		jw_kstr(w, key, s);
}

void
api_w_int(struct jw *w, const char *key, int64_t v)
{
	if (v != 0)
		jw_kint(w, key, v);
}

void
api_w_bool(struct jw *w, const char *key, bool v)
{
	if (v)
		jw_kbool(w, key, v);
}

void
api_w_time(struct jw *w, const char *key, int64_t t)
{
	char buf[TIMEFMT_TIME_LEN];

	if (format_time(t, buf) == 0)
		jw_kstr(w, key, buf);
}

void
api_w_enum(struct jw *w, const char *key, const char *const names[], int v)
{
	if (v != 0)
		jw_kstr(w, key, names[v]);
}

void
api_w_strv(struct jw *w, const char *key, const struct api_strv *s)
{
	size_t i;

	if (s->n == 0)
		return;
	jw_key(w, key);
	jw_arr_open(w);
	for (i = 0; i < s->n; i++)
		jw_str(w, s->v[i]);
	jw_arr_close(w);
}
