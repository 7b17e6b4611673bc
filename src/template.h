/*
 * template.h - the secretTemplate.data language (api.md §4.17,
 * behavior.md §3.2): a subset of Go's text/template with the original's
 * variables.
 *
 * Supported, with Go's semantics:
 *   {{ .Username }}  {{.Username}}     a variable, with or without spaces
 *   {{- .Host -}}                      trim white space before / after
 *   {{/ * comment * /}}                a comment (written without the
 *                                      spaces inside / * and * /)
 *   {{ .Password | urlquery }}         pipelines: the value becomes the
 *                                      last argument of the next function
 *   {{ printf "%s:%d" .Host .Port }}   function calls, (sub pipelines)
 *   {{ if .SSLMode }}...{{ else if .X }}...{{ else }}...{{ end }}
 *   {{ with .SSLMode }}?sslmode={{ . }}{{ end }}
 *   "strings" (\\ \" \n \t \r escapes), `raw strings`, integers,
 *   true, false
 *
 * Variables: .Username, .Password, .Host, .Port (integer), .Database (the
 * instance's connection.database), .SSLMode, .Namespace and .Name (of the
 * DatabaseUser). Names are case-sensitive, as in Go.
 *
 * Functions (Go's builtins): urlquery (Go's url.QueryEscape: unreserved
 * characters kept, space as '+', the rest %XX; use it for passwords in
 * URIs), printf (verbs %s, %d, %v, %%; no flags or widths), print,
 * println, len, eq, ne, lt, le, gt, ge, and, or, not, html, js.
 *
 * Anything else is an error with its position ("1:12: function "upper"
 * not defined"), never an empty string: unknown variables and functions
 * (checked when parsing, also in branches not taken), variables ($x),
 * range, template, define, block, break, continue, index, slice, call,
 * unclosed actions, comments or strings, {{else}} / {{end}} without an
 * opening action, a missing {{end}}, printf argument mismatches.
 */
#ifndef DBP_TEMPLATE_H
#define DBP_TEMPLATE_H

#include <stddef.h>

#include "api.h"
#include "util.h"

#define TEMPLATE_MAX_OUTPUT (1024 * 1024)	/* a Secret's size limit */

struct template_vars {
	const char *username;
	const char *password;
	const char *host;
	int port;
	const char *database;
	const char *sslmode;	/* "" when unknown */
	const char *ns;		/* .Namespace */
	const char *name;	/* .Name */
};

/*
 * Renders tmpl with vars into *out (malloc'ed; may hold the password:
 * free with free_secret()). Returns 0, or -1 with "line:col: message" in
 * err and *out NULL.
 */
int template_render(const char *tmpl, const struct template_vars *vars,
    char **out, char *err, size_t errlen) DBP_MUSTCHECK;
/* Parses only (for validating a spec before any password exists). */
int template_check(const char *tmpl, char *err, size_t errlen) DBP_MUSTCHECK;

/*
 * The data of the credentials Secret of a DatabaseUser. Without a
 * template (t NULL or unset): username and password. With one: every
 * entry of t->data rendered, plus username and password when the
 * template has no such key, so that the password can always be read back
 * (the original then generated a new password on every pass and wrote it
 * into the Secret only). A template key "password" must render to the
 * password itself. Keys must be valid Secret keys ([-._a-zA-Z0-9]+).
 * Returns 0, or -1 with "spec.passwordSecret.secretTemplate.data[key]:
 * line:col: message" in err. Release *out with template_data_release().
 */
int template_secret_data(const struct api_secret_template *t,
    const struct template_vars *vars, struct api_map *out, char *err,
    size_t errlen) DBP_MUSTCHECK;
/* Wipes the values and releases the map. */
void template_data_release(struct api_map *m);

/* Go's url.QueryEscape into a malloc'ed string. */
char *template_urlquery(const char *s);

#endif
