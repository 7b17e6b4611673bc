#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "template.h"
#include "tap.h"

static const struct template_vars vars = {
	.username = "app_user",
	.password = "p@ss w:rd/#?&%'\"\\",
	.host = "pg.db.svc",
	.port = 5432,
	.database = "postgres",
	.sslmode = "",
	.ns = "shop",
	.name = "app",
};

static void
renders(const char *tmpl, const char *want, const char *name)
{
	char err[256], *out = NULL;
	int r = template_render(tmpl, &vars, &out, err, sizeof(err));

	if (!ok(r == 0, name))
		diag("error: %s", err);
	else
		is_str(out, want, name);
	free_secret(out);
}

static void
fails(const char *tmpl, const char *want_err, const char *name)
{
	char err[256], *out = NULL;
	int r = template_render(tmpl, &vars, &out, err, sizeof(err));

	ok(r < 0 && out == NULL, name);
	is_str(r < 0 ? err : "(rendered)", want_err, name);
	free_secret(out);
}

int
main(void)
{
	struct api_secret_template t;
	struct api_kv kv[3];
	struct api_map m;
	char err[256], *s;

	/* the original's documented use */
	renders("{{ .Username }}", "app_user", "field with spaces");
	renders("{{.Username}}", "app_user", "field without spaces");
	renders("postgresql://{{ .Username }}:{{ .Password | urlquery }}@"
	    "{{ .Host }}:{{ .Port }}/{{ .Database }}?sslmode=require",
	    "postgresql://app_user:p%40ss+w%3Ard%2F%23%3F%26%25%27%22%5C@"
	    "pg.db.svc:5432/postgres?sslmode=require",
	    "connection URI with an escaped password");
	renders("{{ urlquery .Password }}",
	    "p%40ss+w%3Ard%2F%23%3F%26%25%27%22%5C", "urlquery as a call");
	renders("host={{ .Host }} port={{ .Port }} user={{ .Username }}",
	    "host=pg.db.svc port=5432 user=app_user", "key=value text");
	renders("{{ .Password }}", "p@ss w:rd/#?&%'\"\\",
	    "values are inserted without escaping");
	renders("{{ .Namespace }}/{{ .Name }}", "shop/app", "namespace and name");
	renders("[{{ .SSLMode }}]", "[]", "SSLMode is empty");
	renders("{{ printf \"%s:%d\" .Host .Port }}", "pg.db.svc:5432",
	    "printf with %s and %d");
	renders("{{ printf \"%v-%v-%%\" .Port true }}", "5432-true-%",
	    "printf %v and %%");
	renders("{{ .Host | printf \"jdbc:postgresql://%s/db\" }}",
	    "jdbc:postgresql://pg.db.svc/db", "pipeline into printf");
	renders("{{ printf \"%s\" (urlquery .Password) }}",
	    "p%40ss+w%3Ard%2F%23%3F%26%25%27%22%5C", "parenthesised pipeline");
	renders("a  {{- .Username -}}  \n b", "aapp_userb", "trim markers");
	renders("a {{- .Username }} b", "aapp_user b", "left trim only");
	renders("x{{/* a comment */}}y", "xy", "comment");
	renders("x {{- /* a comment */ -}} y", "xy", "trimmed comment");
	renders("{{ print .Port 1 }}{{ print \"a\" \"b\" }}", "5432 1ab",
	    "print spaces like fmt.Sprint");
	renders("{{ println .Username }}", "app_user\n", "println");
	renders("{{ len .Username }}", "8", "len");
	renders("{{ html \"<a href='x'>&\" }}", "&lt;a href=&#39;x&#39;&gt;&amp;",
	    "html");
	renders("{{ js \"a'b\\\"<\" }}", "a\\'b\\\"\\u003C", "js");
	renders("{{ if .SSLMode }}?sslmode={{ .SSLMode }}{{ end }}", "",
	    "if on an empty value");
	renders("{{ if .Port }}p{{ else }}q{{ end }}", "p", "if on an integer");
	renders("{{ if eq .Username \"x\" }}1{{ else if eq .Username "
	    "\"app_user\" }}2{{ else }}3{{ end }}", "2", "else if and eq");
	renders("{{ with .Host }}{{ . }}!{{ else }}none{{ end }}", "pg.db.svc!",
	    "with rebinds the dot");
	renders("{{ with .SSLMode }}{{ . }}{{ else }}none{{ end }}", "none",
	    "with else");
	renders("{{ if and .Host (not .SSLMode) (gt .Port 1024) }}ok{{ end }}",
	    "ok", "and, not, gt");
	renders("{{ or .SSLMode \"prefer\" }}", "prefer", "or returns a value");
	renders("{{ `raw \\n` }}", "raw \\n", "raw string");
	renders("}} {{ \"}}\" }}", "}} }}", "stray closing braces are text, "
	    "as in Go");
	renders("", "", "empty template");

	/* errors with positions, never an empty string */
	fails("{{ .Usernme }}", "1:4: unknown variable .Usernme (known: "
	    ".Username, .Password, .Host, .Port, .Database, .SSLMode, "
	    ".Namespace, .Name)", "unknown variable");
	fails("ok\n  {{ .Password | upper }}", "2:18: function \"upper\" not "
	    "defined", "unknown function (Sprig is not available)");
	fails("{{ .Username", "1:13: unclosed action", "unclosed action");
	fails("{{ if .Host }}x", "1:4: unexpected EOF: missing {{end}} for "
	    "{{if}}", "missing end");
	fails("x{{ end }}", "1:5: unexpected {{end}}", "end without if");
	fails("{{ else }}", "1:4: unexpected {{else}}", "else without if");
	fails("{{ range .Host }}{{ end }}", "1:4: {{range}} is not supported",
	    "range");
	fails("{{ template \"x\" }}", "1:4: {{template}} is not supported",
	    "template");
	fails("{{ $x := .Host }}", "1:4: template variables ($) are not "
	    "supported", "variables");
	fails("{{ index .Host 1 }}", "1:4: function \"index\" is not supported "
	    "(the data has no lists or maps)", "index");
	fails("{{ printf \"%s\" .Port }}", "1:4: printf: %s needs a string, got "
	    "int", "printf type mismatch");
	fails("{{ printf \"%s %s\" .Host }}", "1:4: printf: missing argument for "
	    "%s", "printf missing argument");
	fails("{{ printf \"%s\" .Host .Port }}", "1:4: printf: 1 extra argument",
	    "printf extra argument");
	fails("{{ printf \"%08d\" .Port }}", "1:4: printf: verb %0 is not "
	    "supported (only %s, %d, %v and %%)", "printf flags");
	fails("{{ \"x\" | .Username }}", "1:10: can't give argument to "
	    "non-function (a pipeline stage must be a function)",
	    "field as a pipeline stage");
	fails("{{ .Username .Host }}", "1:14: can't give argument to "
	    "non-function", "argument to a field");
	fails("{{ . }}", "1:4: cannot print the whole data object (name a "
	    "variable such as .Username)", "the whole data object");
	fails("{{ .Username.Foo }}", "1:4: can't evaluate field Foo in type "
	    "string", "field of a string");
	fails("{{ with .Host }}{{ .Port }}{{ end }}", "1:20: can't evaluate "
	    "field Port in type string", "field inside with");
	fails("{{ \"abc }}", "1:4: unterminated string", "unterminated string");
	fails("{{/* never closed }}", "1:3: unclosed comment",
	    "unclosed comment");
	fails("{{ if .Host }}{{ else }}a{{ else }}b{{ end }}", "1:29: "
	    "{{else}} after {{else}}", "two elses");
	fails("{{ ( .Host }}", "1:12: unclosed left paren", "unclosed paren");
	fails("{{ }}", "1:4: missing value for command", "empty action");
	fails("{{ 1.5 }}", "1:4: unsupported number (integers only)", "float");
	fails("{{ eq .Port \"5432\" }}", "1:4: incompatible types for "
	    "comparison", "eq across types");
	fails("{{ .Host -}", "1:10: unexpected character '-' in action",
	    "bad trim marker");
	fails("{{ if .Unknown }}{{ end }}", "1:7: unknown variable .Unknown "
	    "(known: .Username, .Password, .Host, .Port, .Database, .SSLMode, "
	    ".Namespace, .Name)", "unknown variable in a condition");
	fails("{{ if false }}{{ .Nope }}{{ end }}", "1:18: unknown variable "
	    ".Nope (known: .Username, .Password, .Host, .Port, .Database, "
	    ".SSLMode, .Namespace, .Name)", "checked in branches not taken too");
	{
		/* deep nesting is refused, not a stack overflow */
		char deep[1000];
		size_t i;

		strcpy(deep, "{{ ");
		for (i = 0; i < 300; i++)
			strcat(deep, "(");
		strcat(deep, " }}");
		ok(template_check(deep, err, sizeof(err)) < 0 &&
		    strstr(err, "nested too deeply"), "deep nesting refused");
	}
	ok(template_check("{{ .Host }}", err, sizeof(err)) == 0, "check only");

	s = template_urlquery("a b+c~d.e_f-g!*'()");
	is_str(s, "a+b%2Bc~d.e_f-g%21%2A%27%28%29", "Go's QueryEscape");
	free(s);

	/* the Secret data */
	memset(&t, 0, sizeof(t));
	ok(template_secret_data(NULL, &vars, &m, err, sizeof(err)) == 0,
	    "default data");
	ok(m.n == 2 && strcmp(m.v[0].key, "username") == 0 &&
	    strcmp(m.v[0].val, "app_user") == 0 &&
	    strcmp(m.v[1].key, "password") == 0 &&
	    strcmp(m.v[1].val, vars.password) == 0, "username and password");
	template_data_release(&m);
	t.set = true;
	kv[0].key = "uri";
	kv[0].val = "postgresql://{{ .Username }}:{{ .Password | urlquery }}@"
	    "{{ .Host }}/{{ .Database }}";
	kv[1].key = "user";
	kv[1].val = "{{ .Username }}";
	t.data.v = kv;
	t.data.n = 2;
	ok(template_secret_data(&t, &vars, &m, err, sizeof(err)) == 0,
	    "templated data");
	ok(m.n == 4 && strcmp(m.v[0].key, "uri") == 0 &&
	    strcmp(m.v[1].key, "user") == 0 &&
	    strcmp(m.v[2].key, "username") == 0 &&
	    strcmp(m.v[3].key, "password") == 0 &&
	    strcmp(m.v[3].val, vars.password) == 0, "template keys plus "
	    "username and password (the password can always be read back)");
	is_str(api_map_get(&m, "uri"), "postgresql://app_user:p%40ss+w%3Ard%2F"
	    "%23%3F%26%25%27%22%5C@pg.db.svc/postgres", "uri rendered");
	template_data_release(&m);
	kv[2].key = "password";
	kv[2].val = "{{ .Password | urlquery }}";
	t.data.n = 3;
	ok(template_secret_data(&t, &vars, &m, err, sizeof(err)) < 0,
	    "a password key that is not the password is refused");
	is_str(err, "spec.passwordSecret.secretTemplate.data[password]: must "
	    "render to the password itself (dbprovd reads the password back "
	    "from this key)", "and says why");
	kv[2].val = "{{- .Password -}}";
	ok(template_secret_data(&t, &vars, &m, err, sizeof(err)) == 0 &&
	    m.n == 4, "a password key with the password itself is fine");
	template_data_release(&m);
	kv[1].val = "{{ .User }}";
	ok(template_secret_data(&t, &vars, &m, err, sizeof(err)) < 0 &&
	    strncmp(err, "spec.passwordSecret.secretTemplate.data[user]: 1:4: "
	    "unknown variable .User", 73) == 0, "error names the key and the "
	    "position");
	ok(m.n == 0, "nothing returned on error");
	kv[1].key = "bad/key";
	kv[1].val = "x";
	ok(template_secret_data(&t, &vars, &m, err, sizeof(err)) < 0 &&
	    strstr(err, "data[bad/key]: not a valid Secret key"),
	    "invalid Secret key refused");
	return done_testing();
}
