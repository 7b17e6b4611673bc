/*
 * template.c - a Go text/template subset for secretTemplate.data.
 *
 * Two stages: parse the whole text into a tree (so that every error,
 * also in a branch not taken, is found before anything is rendered),
 * then execute the tree against the variables.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "template.h"

/* ---- errors ---------------------------------------------------------- */

struct tctx {
	const char *src;
	char *err;
	size_t errlen;
	bool failed;
};

static int terr(struct tctx *t, size_t pos, const char *fmt, ...)
    DBP_PRINTF(3, 4);

/* Records "line:col: message" for the byte offset pos (first one wins). */
static int
terr(struct tctx *t, size_t pos, const char *fmt, ...)
{
	size_t line = 1, col = 1, i, n;
	va_list ap;

	if (t->failed)
		return -1;
	t->failed = true;
	if (t->errlen == 0)
		return -1;
	for (i = 0; i < pos && t->src[i]; i++) {
		if (t->src[i] == '\n') {
			line++;
			col = 1;
		} else
			col++;
	}
	n = (size_t)snprintf(t->err, t->errlen, "%zu:%zu: ", line, col);
	if (n < t->errlen) {
		va_start(ap, fmt);
		vsnprintf(t->err + n, t->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ---- tree ------------------------------------------------------------ */

enum akind { A_FIELD, A_DOT, A_STR, A_INT, A_BOOL, A_FUNC, A_PIPE };

struct pipe;

struct arg {
	enum akind k;
	size_t pos;
	char *s;		/* field name, string, function name */
	long long i;
	bool b;
	struct pipe *sub;
};

struct cmd {
	struct arg *v;
	size_t n;
	size_t pos;
};

struct pipe {
	struct cmd *v;
	size_t n;
	size_t pos;
};

enum nkind { N_TEXT, N_ACTION, N_IF, N_WITH };

struct list;

struct node {
	enum nkind k;
	size_t pos;
	const char *text;	/* N_TEXT: into the source */
	size_t len;
	struct pipe *pipe;
	struct list *then, *els;
};

struct list {
	struct node *v;
	size_t n;
};

static void pipe_free(struct pipe *p);
static void list_free(struct list *l);

static void
pipe_free(struct pipe *p)
{
	size_t i, j;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++) {
		for (j = 0; j < p->v[i].n; j++) {
			free(p->v[i].v[j].s);
			pipe_free(p->v[i].v[j].sub);
		}
		free(p->v[i].v);
	}
	free(p->v);
	free(p);
}

static void
list_free(struct list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		pipe_free(l->v[i].pipe);
		list_free(l->v[i].then);
		list_free(l->v[i].els);
	}
	free(l->v);
	free(l);
}

static void *
append(void *v, size_t *n, size_t size)
{
	if ((*n & (*n - 1)) == 0)
		v = xrealloc(v, (*n ? *n * 2 : 2) * size);
	memset((char *)v + *n * size, 0, size);
	(*n)++;
	return v;
}

/* ---- lexer ----------------------------------------------------------- */

enum tok { T_EOF, T_TEXT, T_LEFT, T_RIGHT, T_FIELD, T_DOT, T_STR, T_INT,
	T_IDENT, T_PIPE, T_LPAREN, T_RPAREN };

struct lex {
	struct tctx *t;
	const char *s;
	size_t p;		/* offset */
	bool in_action;
	bool trim_next;		/* the last action ended with " -}}" */
	/* current token */
	enum tok tok;
	size_t tpos;
	char *val;		/* T_FIELD name, T_STR contents, T_IDENT */
	size_t vlen;		/* T_TEXT length (text points into s) */
	long long num;
	int depth;		/* nesting of parentheses and if/with */
};

#define MAX_NESTING 100

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "{{" at p opens an action; trim when "{{- " follows. */
static bool
left_trim_at(const char *s)
{
	return s[0] == '{' && s[1] == '{' && s[2] == '-' && is_space(s[3]);
}

/* Reads a quoted string at l->p (opening quote included). */
static int
lex_string(struct lex *l)
{
	struct buf b = BUF_INIT(0);
	char q = l->s[l->p];
	size_t start = l->p;
	int r = 0;

	for (l->p++;; l->p++) {
		char c = l->s[l->p];

		if (c == '\0' || (c == '\n' && q == '"')) {
			buf_release(&b);
			return terr(l->t, start, "unterminated string");
		}
		if (c == q)
			break;
		if (c == '\\' && q == '"') {
			char e = l->s[++l->p];

			switch (e) {
			case '\\': case '"': break;
			case 'n': e = '\n'; break;
			case 't': e = '\t'; break;
			case 'r': e = '\r'; break;
			default:
				buf_release(&b);
				return terr(l->t, l->p - 1, "unsupported escape "
				    "sequence \\%c in string", e ? e : ' ');
			}
			r |= buf_putc(&b, e);
			continue;
		}
		r |= buf_putc(&b, c);
	}
	l->p++;
	if (r != 0) {
		buf_release(&b);
		return terr(l->t, start, "string too long");
	}
	l->val = buf_detach(&b, &l->vlen);
	l->tok = T_STR;
	return 0;
}

/* Next token; -1 on a lexical error (reported). */
static int
lex_next(struct lex *l)
{
	const char *s = l->s;

	free(l->val);
	l->val = NULL;
	if (!l->in_action) {
		size_t start = l->p, end;
		const char *open = strstr(s + l->p, "{{");

		if (l->trim_next) {
			while (is_space(s[l->p]))
				l->p++;
			start = l->p;
			l->trim_next = false;
		}
		if (s[l->p] == '\0') {
			l->tok = T_EOF;
			l->tpos = l->p;
			return 0;
		}
		if (open != s + l->p) {
			end = open ? (size_t)(open - s) : strlen(s);
			l->p = end;
			if (open && left_trim_at(open))
				while (end > start && is_space(s[end - 1]))
					end--;
			l->tok = T_TEXT;
			l->tpos = start;
			l->vlen = end - start;
			return 0;
		}
		/* an action */
		l->tpos = l->p;
		l->p += left_trim_at(s + l->p) ? 4 : 2;
		while (is_space(s[l->p]) && left_trim_at(s + l->tpos))
			l->p++;
		if (s[l->p] == '/' && s[l->p + 1] == '*') {
			const char *close = strstr(s + l->p + 2, "*/");
			size_t q;

			if (close == NULL)
				return terr(l->t, l->p, "unclosed comment");
			q = (size_t)(close - s) + 2;
			if (s[q] == ' ' && s[q + 1] == '-' && s[q + 2] == '}' &&
			    s[q + 3] == '}') {
				l->trim_next = true;
				q += 4;
			} else if (s[q] == '}' && s[q + 1] == '}')
				q += 2;
			else
				return terr(l->t, q, "comment ends before "
				    "closing delimiter");
			l->p = q;
			return lex_next(l);
		}
		l->in_action = true;
		l->tok = T_LEFT;
		return 0;
	}
	while (is_space(s[l->p])) {
		if (s[l->p] == ' ' && s[l->p + 1] == '-' && s[l->p + 2] == '}' &&
		    s[l->p + 3] == '}')
			break;
		l->p++;
	}
	l->tpos = l->p;
	if (s[l->p] == ' ' || (s[l->p] == '}' && s[l->p + 1] == '}')) {
		if (s[l->p] == ' ') {
			l->trim_next = true;
			l->p += 4;
		} else
			l->p += 2;
		l->in_action = false;
		l->tok = T_RIGHT;
		return 0;
	}
	switch (s[l->p]) {
	case '\0':
		return terr(l->t, l->tpos, "unclosed action");
	case '|':
		l->p++;
		l->tok = T_PIPE;
		return 0;
	case '(':
		l->p++;
		l->tok = T_LPAREN;
		return 0;
	case ')':
		l->p++;
		l->tok = T_RPAREN;
		return 0;
	case '"':
	case '`':
		return lex_string(l);
	case '$':
		return terr(l->t, l->p, "template variables ($) are not "
		    "supported");
	case '.':
		if (is_alpha(s[l->p + 1])) {
			size_t st = ++l->p;

			while (is_alpha(s[l->p]) || is_digit(s[l->p]) ||
			    (s[l->p] == '.' && is_alpha(s[l->p + 1])))
				l->p++;
			l->val = xstrndup(s + st, l->p - st);
			l->tok = T_FIELD;
			return 0;
		}
		l->p++;
		l->tok = T_DOT;
		return 0;
	default:
		break;
	}
	if (is_digit(s[l->p]) || (s[l->p] == '-' && is_digit(s[l->p + 1]))) {
		size_t st = l->p;
		long long v = 0;
		bool neg = s[l->p] == '-';

		if (neg)
			l->p++;
		while (is_digit(s[l->p])) {
			if (v > (LLONG_MAX - (s[l->p] - '0')) / 10)
				return terr(l->t, st, "number out of range");
			v = v * 10 + (s[l->p++] - '0');
		}
		if (is_alpha(s[l->p]) || s[l->p] == '.')
			return terr(l->t, st, "unsupported number (integers "
			    "only)");
		l->num = neg ? -v : v;
		l->tok = T_INT;
		return 0;
	}
	if (is_alpha(s[l->p])) {
		size_t st = l->p;

		while (is_alpha(s[l->p]) || is_digit(s[l->p]))
			l->p++;
		l->val = xstrndup(s + st, l->p - st);
		l->tok = T_IDENT;
		return 0;
	}
	return terr(l->t, l->p, "unexpected character '%c' in action",
	    s[l->p]);
}

/* ---- parser ---------------------------------------------------------- */

static const char *const fields[] = {
	"Username", "Password", "Host", "Port", "Database", "SSLMode",
	"Namespace", "Name",
};

static const char *const funcs[] = {
	"urlquery", "printf", "print", "println", "len", "eq", "ne", "lt",
	"le", "gt", "ge", "and", "or", "not", "html", "js",
};

/* Go builtins that make no sense without lists, maps or templates. */
static const char *const unsupported_funcs[] = {
	"index", "slice", "call",
};

static const char *const unsupported_actions[] = {
	"range", "template", "define", "block", "break", "continue", "nil",
};

static bool
in_list(const char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static struct pipe *parse_pipe(struct lex *l, enum tok end);

/* One operand at the current token (consumed). */
static int
parse_arg(struct lex *l, struct arg *a)
{
	a->pos = l->tpos;
	switch (l->tok) {
	case T_FIELD:
		if (strchr(l->val, '.') != NULL) {
			const char *dot = strchr(l->val, '.');

			return terr(l->t, l->tpos, "can't evaluate field %s in "
			    "type string", dot + 1);
		}
		if (!in_list(fields, ARRAY_SIZE(fields), l->val))
			return terr(l->t, l->tpos, "unknown variable .%s "
			    "(known: .Username, .Password, .Host, .Port, "
			    ".Database, .SSLMode, .Namespace, .Name)", l->val);
		a->k = A_FIELD;
		a->s = l->val;
		l->val = NULL;
		break;
	case T_DOT:
		a->k = A_DOT;
		break;
	case T_STR:
		a->k = A_STR;
		a->s = l->val;
		l->val = NULL;
		break;
	case T_INT:
		a->k = A_INT;
		a->i = l->num;
		break;
	case T_IDENT:
		if (strcmp(l->val, "true") == 0 || strcmp(l->val, "false") == 0) {
			a->k = A_BOOL;
			a->b = l->val[0] == 't';
			break;
		}
		if (in_list(unsupported_funcs, ARRAY_SIZE(unsupported_funcs),
		    l->val))
			return terr(l->t, l->tpos, "function \"%s\" is not "
			    "supported (the data has no lists or maps)", l->val);
		if (in_list(unsupported_actions,
		    ARRAY_SIZE(unsupported_actions), l->val) ||
		    strcmp(l->val, "if") == 0 || strcmp(l->val, "with") == 0 ||
		    strcmp(l->val, "else") == 0 || strcmp(l->val, "end") == 0)
			return terr(l->t, l->tpos, "unexpected \"%s\" in "
			    "operand", l->val);
		if (!in_list(funcs, ARRAY_SIZE(funcs), l->val))
			return terr(l->t, l->tpos, "function \"%s\" not defined",
			    l->val);
		a->k = A_FUNC;
		a->s = l->val;
		l->val = NULL;
		break;
	case T_LPAREN:
		if (lex_next(l) < 0)
			return -1;
		a->k = A_PIPE;
		/* parse_pipe() consumes the closing ')' */
		return (a->sub = parse_pipe(l, T_RPAREN)) == NULL ? -1 : 0;
	default:
		return terr(l->t, l->tpos, "unexpected %s in command",
		    l->tok == T_PIPE ? "'|'" : l->tok == T_RPAREN ? "')'" :
		    "end of action");
	}
	return lex_next(l);
}

/* A pipeline up to end (T_RIGHT or T_RPAREN, consumed). */
static struct pipe *
parse_pipe(struct lex *l, enum tok end)
{
	struct pipe *p;

	if (l->depth >= MAX_NESTING) {
		terr(l->t, l->tpos, "nested too deeply");
		return NULL;
	}
	l->depth++;
	p = xcalloc(1, sizeof(*p));
	p->pos = l->tpos;
	for (;;) {
		struct cmd *c;

		p->v = append(p->v, &p->n, sizeof(*p->v));
		c = &p->v[p->n - 1];
		c->pos = l->tpos;
		while (l->tok != T_PIPE && l->tok != end) {
			if (l->tok == T_RIGHT || l->tok == T_RPAREN ||
			    l->tok == T_EOF) {
				terr(l->t, l->tpos, l->tok == T_RIGHT ?
				    "unclosed left paren" : "unexpected ')'");
				goto fail;
			}
			c->v = append(c->v, &c->n, sizeof(*c->v));
			if (parse_arg(l, &c->v[c->n - 1]) < 0)
				goto fail;
		}
		if (c->n == 0) {
			terr(l->t, l->tpos, l->tok == T_PIPE ? "missing command "
			    "before '|'" : "missing value for command");
			goto fail;
		}
		if (c->n > 1 && c->v[0].k != A_FUNC) {
			terr(l->t, c->v[1].pos, "can't give argument to "
			    "non-function");
			goto fail;
		}
		if (p->n > 1 && c->v[0].k != A_FUNC) {
			terr(l->t, c->pos, "can't give argument to non-function "
			    "(a pipeline stage must be a function)");
			goto fail;
		}
		if (l->tok == end)
			break;
		if (lex_next(l) < 0)	/* the '|' */
			goto fail;
	}
	if (lex_next(l) < 0)		/* the end token */
		goto fail;
	l->depth--;
	return p;
fail:
	l->depth--;
	pipe_free(p);
	return NULL;
}

/* What ended a list: */
enum stop { S_EOF, S_END, S_ELSE };

static struct list *parse_list(struct lex *l, enum stop *why, size_t *at);
static int parse_branch_body(struct lex *l, struct node *n, const char *kw,
    size_t kwpos);

/* After {{if / {{with (keyword consumed): pipeline, body, else, end. */
static int
parse_branch(struct lex *l, struct node *n, const char *kw, size_t kwpos)
{
	int r;

	if (l->depth >= MAX_NESTING)
		return terr(l->t, kwpos, "nested too deeply");
	l->depth++;
	r = parse_branch_body(l, n, kw, kwpos);
	l->depth--;
	return r;
}

static int
parse_branch_body(struct lex *l, struct node *n, const char *kw,
    size_t kwpos)
{
	enum stop why;
	size_t at;

	if (l->tok == T_RIGHT)
		return terr(l->t, l->tpos, "missing value for %s", kw);
	if ((n->pipe = parse_pipe(l, T_RIGHT)) == NULL)
		return -1;
	if ((n->then = parse_list(l, &why, &at)) == NULL)
		return -1;
	if (why == S_EOF)
		return terr(l->t, kwpos, "unexpected EOF: missing {{end}} for "
		    "{{%s}}", kw);
	if (why == S_END)
		return 0;
	/* {{else}} or {{else if ...}} */
	if (l->tok == T_IDENT && strcmp(l->val, "if") == 0 &&
	    strcmp(kw, "if") == 0) {
		struct node *inner;
		size_t ipos = l->tpos;

		n->els = xcalloc(1, sizeof(*n->els));
		n->els->v = append(n->els->v, &n->els->n, sizeof(*n->els->v));
		inner = &n->els->v[0];
		inner->k = N_IF;
		inner->pos = ipos;
		if (lex_next(l) < 0)
			return -1;
		return parse_branch(l, inner, "if", ipos);
	}
	if (l->tok != T_RIGHT)
		return terr(l->t, l->tpos, "unexpected operand after else "
		    "(only {{else}} and {{else if ...}} are supported)");
	if (lex_next(l) < 0)
		return -1;
	if ((n->els = parse_list(l, &why, &at)) == NULL)
		return -1;
	if (why == S_EOF)
		return terr(l->t, kwpos, "unexpected EOF: missing {{end}} for "
		    "{{%s}}", kw);
	if (why == S_ELSE)
		return terr(l->t, at, "{{else}} after {{else}}");
	return 0;
}

/*
 * Nodes until EOF, {{end}} or {{else}} (the latter two consumed up to
 * their keyword; for {{end}} the whole action). *why says which; *at is
 * its position.
 */
static struct list *
parse_list(struct lex *l, enum stop *why, size_t *at)
{
	struct list *li = xcalloc(1, sizeof(*li));

	for (;;) {
		struct node *n;
		size_t pos = l->tpos;

		if (l->tok == T_EOF) {
			*why = S_EOF;
			*at = pos;
			return li;
		}
		if (l->tok == T_TEXT) {
			li->v = append(li->v, &li->n, sizeof(*li->v));
			n = &li->v[li->n - 1];
			n->k = N_TEXT;
			n->pos = pos;
			n->text = l->s + l->tpos;
			n->len = l->vlen;
			if (lex_next(l) < 0)
				goto fail;
			continue;
		}
		/* T_LEFT */
		if (lex_next(l) < 0)
			goto fail;
		if (l->tok == T_RIGHT) {
			terr(l->t, l->tpos, "missing value for command");
			goto fail;
		}
		if (l->tok == T_IDENT && (strcmp(l->val, "end") == 0 ||
		    strcmp(l->val, "else") == 0)) {
			bool end = l->val[1] == 'n';

			*why = end ? S_END : S_ELSE;
			*at = l->tpos;
			if (lex_next(l) < 0)
				goto fail;
			if (end) {
				if (l->tok != T_RIGHT) {
					terr(l->t, l->tpos, "unexpected operand "
					    "after end");
					goto fail;
				}
				if (lex_next(l) < 0)
					goto fail;
			}
			return li;
		}
		if (l->tok == T_IDENT && (strcmp(l->val, "if") == 0 ||
		    strcmp(l->val, "with") == 0)) {
			char kw[8];

			strlcpy0(kw, l->val, sizeof(kw));
			li->v = append(li->v, &li->n, sizeof(*li->v));
			n = &li->v[li->n - 1];
			n->k = kw[0] == 'i' ? N_IF : N_WITH;
			n->pos = l->tpos;
			if (lex_next(l) < 0 ||
			    parse_branch(l, n, kw, n->pos) < 0)
				goto fail;
			continue;
		}
		if (l->tok == T_IDENT && in_list(unsupported_actions,
		    ARRAY_SIZE(unsupported_actions), l->val) &&
		    strcmp(l->val, "nil") != 0) {
			terr(l->t, l->tpos, "{{%s}} is not supported", l->val);
			goto fail;
		}
		li->v = append(li->v, &li->n, sizeof(*li->v));
		n = &li->v[li->n - 1];
		n->k = N_ACTION;
		n->pos = l->tpos;
		if ((n->pipe = parse_pipe(l, T_RIGHT)) == NULL)
			goto fail;
	}
fail:
	list_free(li);
	return NULL;
}

static struct list *
parse(struct tctx *t, const char *src)
{
	struct lex l;
	struct list *li;
	enum stop why;
	size_t at;

	memset(&l, 0, sizeof(l));
	l.t = t;
	l.s = src;
	if (lex_next(&l) < 0)
		return NULL;
	li = parse_list(&l, &why, &at);
	free(l.val);
	if (li == NULL)
		return NULL;
	if (why != S_EOF) {
		terr(t, at, "unexpected {{%s}}", why == S_END ? "end" : "else");
		list_free(li);
		return NULL;
	}
	return li;
}

/* ---- values ---------------------------------------------------------- */

enum vkind { V_STR, V_INT, V_BOOL, V_DATA };

struct val {
	enum vkind k;
	char *s;		/* V_STR, owned by the pool */
	long long i;
	bool b;
};

struct exec {
	struct tctx *t;
	const struct template_vars *vars;
	struct buf *out;
	char **pool;		/* every string made while rendering */
	size_t npool;
	int depth;
};

static char *
keep(struct exec *x, char *s)
{
	x->pool = append(x->pool, &x->npool, sizeof(*x->pool));
	x->pool[x->npool - 1] = s;
	return s;
}

static struct val
vstr(struct exec *x, char *owned)
{
	struct val v = { V_STR, keep(x, owned), 0, false };

	return v;
}

static bool
truth(const struct val *v)
{
	switch (v->k) {
	case V_STR: return v->s[0] != '\0';
	case V_INT: return v->i != 0;
	case V_BOOL: return v->b;
	case V_DATA: return true;
	}
	return false;
}

static const char *
kind_name(enum vkind k)
{
	return k == V_STR ? "string" : k == V_INT ? "int" : k == V_BOOL ?
	    "bool" : "the data object";
}

/* Appends v as fmt.Sprint would; -1 for the data object. */
static int
put_val(struct buf *b, const struct val *v)
{
	switch (v->k) {
	case V_STR: return buf_puts(b, v->s);
	case V_INT: return buf_printf(b, "%lld", v->i);
	case V_BOOL: return buf_puts(b, v->b ? "true" : "false");
	case V_DATA: return -1;
	}
	return -1;
}

static int
field(struct exec *x, const struct arg *a, const struct val *dot,
    struct val *out)
{
	const struct template_vars *v = x->vars;
	const char *s = NULL;

	if (dot->k != V_DATA)
		return terr(x->t, a->pos, "can't evaluate field %s in type %s",
		    a->s, kind_name(dot->k));
	if (strcmp(a->s, "Port") == 0) {
		out->k = V_INT;
		out->i = v->port;
		return 0;
	}
	if (strcmp(a->s, "Username") == 0)
		s = v->username;
	else if (strcmp(a->s, "Password") == 0)
		s = v->password;
	else if (strcmp(a->s, "Host") == 0)
		s = v->host;
	else if (strcmp(a->s, "Database") == 0)
		s = v->database;
	else if (strcmp(a->s, "SSLMode") == 0)
		s = v->sslmode;
	else if (strcmp(a->s, "Namespace") == 0)
		s = v->ns;
	else if (strcmp(a->s, "Name") == 0)
		s = v->name;
	*out = vstr(x, xstrdup(s ? s : ""));
	return 0;
}

static int eval_pipe(struct exec *x, const struct pipe *p,
    const struct val *dot, struct val *out);

static int call(struct exec *x, const char *fn, size_t pos, struct val *args,
    size_t n, struct val *out);

static int
eval_arg(struct exec *x, const struct arg *a, const struct val *dot,
    struct val *out)
{
	memset(out, 0, sizeof(*out));
	switch (a->k) {
	case A_FIELD:
		return field(x, a, dot, out);
	case A_DOT:
		*out = *dot;
		return 0;
	case A_STR:
		out->k = V_STR;
		out->s = a->s;
		return 0;
	case A_INT:
		out->k = V_INT;
		out->i = a->i;
		return 0;
	case A_BOOL:
		out->k = V_BOOL;
		out->b = a->b;
		return 0;
	case A_PIPE:
		return eval_pipe(x, a->sub, dot, out);
	case A_FUNC:
		return call(x, a->s, a->pos, NULL, 0, out);
	}
	return -1;
}

static int
eval_pipe(struct exec *x, const struct pipe *p, const struct val *dot,
    struct val *out)
{
	struct val prev;
	size_t i, j;
	bool have = false;

	if (++x->depth > 64) {
		x->depth--;
		return terr(x->t, p->pos, "pipelines nested too deeply");
	}
	for (i = 0; i < p->n; i++) {
		const struct cmd *c = &p->v[i];
		struct val *args;
		size_t n = 0;
		int r = 0;

		if (c->v[0].k != A_FUNC) {
			r = eval_arg(x, &c->v[0], dot, &prev);
			have = true;
			if (r < 0)
				goto fail;
			continue;
		}
		args = xcalloc(c->n + 1, sizeof(*args));
		for (j = 1; j < c->n && r == 0; j++)
			r = eval_arg(x, &c->v[j], dot, &args[n++]);
		if (have)
			args[n++] = prev;
		if (r == 0)
			r = call(x, c->v[0].s, c->v[0].pos, args, n, &prev);
		free(args);
		have = true;
		if (r < 0)
			goto fail;
	}
	x->depth--;
	*out = prev;
	return 0;
fail:
	x->depth--;
	return -1;
}

/* ---- functions ------------------------------------------------------- */

char *
template_urlquery(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = BUF_INIT(0);
	int r = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
		    c == '~')
			r |= buf_putc(&b, (char)c);
		else if (c == ' ')
			r |= buf_putc(&b, '+');
		else {
			r |= buf_putc(&b, '%');
			r |= buf_putc(&b, hex[c >> 4]);
			r |= buf_putc(&b, hex[c & 15]);
		}
	}
	if (r != 0)
		die_oom();
	return buf_detach(&b, NULL);
}

/* fmt.Sprint: a space between operands when neither is a string. */
static int
sprint(struct exec *x, size_t pos, const struct val *args, size_t n,
    bool ln, char **out)
{
	struct buf b = BUF_INIT(TEMPLATE_MAX_OUTPUT);
	size_t i;
	int r = 0;

	for (i = 0; i < n; i++) {
		if (args[i].k == V_DATA) {
			buf_release_secret(&b);
			return terr(x->t, pos, "cannot print the whole data "
			    "object");
		}
		if (i > 0 && (ln || (args[i].k != V_STR &&
		    args[i - 1].k != V_STR)))
			r |= buf_putc(&b, ' ');
		r |= put_val(&b, &args[i]);
	}
	if (ln)
		r |= buf_putc(&b, '\n');
	if (r != 0) {
		buf_release_secret(&b);
		return terr(x->t, pos, "value too long");
	}
	*out = buf_detach(&b, NULL);
	return 0;
}

static int
do_printf(struct exec *x, size_t pos, const struct val *args, size_t n,
    char **out)
{
	struct buf b = BUF_INIT(TEMPLATE_MAX_OUTPUT);
	const char *f;
	size_t ai = 1;
	int r = 0;

	if (n == 0 || args[0].k != V_STR)
		return terr(x->t, pos, "printf needs a format string first");
	for (f = args[0].s; *f; f++) {
		const struct val *v;

		if (*f != '%') {
			r |= buf_putc(&b, *f);
			continue;
		}
		f++;
		if (*f == '%') {
			r |= buf_putc(&b, '%');
			continue;
		}
		if (*f != 's' && *f != 'd' && *f != 'v') {
			buf_release_secret(&b);
			return terr(x->t, pos, "printf: verb %%%c is not "
			    "supported (only %%s, %%d, %%v and %%%%)",
			    *f ? *f : ' ');
		}
		if (ai >= n) {
			buf_release_secret(&b);
			return terr(x->t, pos, "printf: missing argument for "
			    "%%%c", *f);
		}
		v = &args[ai++];
		if (v->k == V_DATA || (*f == 's' && v->k != V_STR) ||
		    (*f == 'd' && v->k != V_INT)) {
			buf_release_secret(&b);
			return terr(x->t, pos, "printf: %%%c needs %s, got %s",
			    *f, *f == 's' ? "a string" : *f == 'd' ?
			    "an integer" : "a value", kind_name(v->k));
		}
		r |= put_val(&b, v);
	}
	if (ai < n) {
		buf_release_secret(&b);
		return terr(x->t, pos, "printf: %zu extra argument%s", n - ai,
		    n - ai == 1 ? "" : "s");
	}
	if (r != 0) {
		buf_release_secret(&b);
		return terr(x->t, pos, "value too long");
	}
	*out = buf_detach(&b, NULL);
	return 0;
}

static char *
escape_html(const char *s)
{
	struct buf b = BUF_INIT(0);
	int r = 0;

	for (; *s; s++) {
		switch (*s) {
		case '"': r |= buf_puts(&b, "&#34;"); break;
		case '\'': r |= buf_puts(&b, "&#39;"); break;
		case '&': r |= buf_puts(&b, "&amp;"); break;
		case '<': r |= buf_puts(&b, "&lt;"); break;
		case '>': r |= buf_puts(&b, "&gt;"); break;
		default: r |= buf_putc(&b, *s); break;
		}
	}
	if (r != 0)
		die_oom();
	return buf_detach(&b, NULL);
}

static char *
escape_js(const char *s)
{
	struct buf b = BUF_INIT(0);
	int r = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '\\': r |= buf_puts(&b, "\\\\"); break;
		case '\'': r |= buf_puts(&b, "\\'"); break;
		case '"': r |= buf_puts(&b, "\\\""); break;
		case '<': r |= buf_puts(&b, "\\u003C"); break;
		case '>': r |= buf_puts(&b, "\\u003E"); break;
		case '&': r |= buf_puts(&b, "\\u0026"); break;
		case '=': r |= buf_puts(&b, "\\u003D"); break;
		default:
			if (c < 0x20)
				r |= buf_printf(&b, "\\u%04X", c);
			else
				r |= buf_putc(&b, (char)c);
		}
	}
	if (r != 0)
		die_oom();
	return buf_detach(&b, NULL);
}

/* eq/ne/lt/...: -2 on incompatible types, else <0, 0, >0. */
static int
compare(const struct val *a, const struct val *b)
{
	if (a->k != b->k || a->k == V_DATA)
		return -2;
	if (a->k == V_STR)
		return strcmp(a->s, b->s) < 0 ? -1 : strcmp(a->s, b->s) > 0;
	if (a->k == V_INT)
		return a->i < b->i ? -1 : a->i > b->i;
	return a->b == b->b ? 0 : -1;
}

static int
call(struct exec *x, const char *fn, size_t pos, struct val *args, size_t n,
    struct val *out)
{
	char *s = NULL;
	int cmp;

	memset(out, 0, sizeof(*out));
	if (strcmp(fn, "print") == 0 || strcmp(fn, "println") == 0 ||
	    strcmp(fn, "urlquery") == 0 || strcmp(fn, "html") == 0 ||
	    strcmp(fn, "js") == 0) {
		if (sprint(x, pos, args, n, strcmp(fn, "println") == 0, &s) < 0)
			return -1;
		if (fn[0] == 'u' || fn[0] == 'h' || fn[0] == 'j') {
			char *e = fn[0] == 'u' ? template_urlquery(s) :
			    fn[0] == 'h' ? escape_html(s) : escape_js(s);

			free_secret(s);
			s = e;
		}
		*out = vstr(x, s);
		return 0;
	}
	if (strcmp(fn, "printf") == 0) {
		if (do_printf(x, pos, args, n, &s) < 0)
			return -1;
		*out = vstr(x, s);
		return 0;
	}
	if (strcmp(fn, "len") == 0) {
		if (n != 1 || args[0].k != V_STR)
			return terr(x->t, pos, "len needs one string");
		out->k = V_INT;
		out->i = (long long)strlen(args[0].s);
		return 0;
	}
	if (strcmp(fn, "not") == 0) {
		if (n != 1)
			return terr(x->t, pos, "not needs one argument");
		out->k = V_BOOL;
		out->b = !truth(&args[0]);
		return 0;
	}
	if (strcmp(fn, "and") == 0 || strcmp(fn, "or") == 0) {
		size_t i;

		if (n == 0)
			return terr(x->t, pos, "%s needs arguments", fn);
		for (i = 0; i + 1 < n; i++)
			if (truth(&args[i]) == (fn[0] == 'o'))
				break;
		*out = args[i];
		return 0;
	}
	/* comparisons */
	if (n < 2 || (strcmp(fn, "eq") != 0 && n != 2))
		return terr(x->t, pos, "%s needs %s arguments", fn,
		    strcmp(fn, "eq") == 0 ? "two or more" : "two");
	out->k = V_BOOL;
	if (strcmp(fn, "eq") == 0) {
		size_t i;

		for (i = 1; i < n; i++) {
			if ((cmp = compare(&args[0], &args[i])) == -2)
				return terr(x->t, pos, "incompatible types for "
				    "comparison");
			if (cmp == 0)
				out->b = true;
		}
		return 0;
	}
	if ((cmp = compare(&args[0], &args[1])) == -2 ||
	    (args[0].k == V_BOOL && strcmp(fn, "ne") != 0))
		return terr(x->t, pos, "incompatible types for comparison");
	out->b = strcmp(fn, "ne") == 0 ? cmp != 0 :
	    strcmp(fn, "lt") == 0 ? cmp < 0 : strcmp(fn, "le") == 0 ? cmp <= 0 :
	    strcmp(fn, "gt") == 0 ? cmp > 0 : cmp >= 0;
	return 0;
}

/* ---- execution ------------------------------------------------------- */

static int
exec_list(struct exec *x, const struct list *l, const struct val *dot)
{
	size_t i;

	for (i = 0; l && i < l->n; i++) {
		const struct node *n = &l->v[i];
		struct val v;

		switch (n->k) {
		case N_TEXT:
			if (buf_append(x->out, n->text, n->len) < 0)
				return terr(x->t, n->pos, "rendered value "
				    "exceeds %d bytes", TEMPLATE_MAX_OUTPUT);
			break;
		case N_ACTION:
			if (eval_pipe(x, n->pipe, dot, &v) < 0)
				return -1;
			if (v.k == V_DATA)
				return terr(x->t, n->pos, "cannot print the "
				    "whole data object (name a variable such "
				    "as .Username)");
			if (put_val(x->out, &v) < 0)
				return terr(x->t, n->pos, "rendered value "
				    "exceeds %d bytes", TEMPLATE_MAX_OUTPUT);
			break;
		case N_IF:
		case N_WITH:
			if (eval_pipe(x, n->pipe, dot, &v) < 0)
				return -1;
			if (truth(&v)) {
				if (exec_list(x, n->then,
				    n->k == N_WITH ? &v : dot) < 0)
					return -1;
			} else if (exec_list(x, n->els, dot) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

int
template_check(const char *tmpl, char *err, size_t errlen)
{
	struct tctx t = { tmpl, err, errlen, false };
	struct list *l;

	if (errlen)
		err[0] = '\0';
	if ((l = parse(&t, tmpl)) == NULL)
		return -1;
	list_free(l);
	return 0;
}

int
template_render(const char *tmpl, const struct template_vars *vars,
    char **out, char *err, size_t errlen)
{
	struct tctx t = { tmpl, err, errlen, false };
	struct buf b = BUF_INIT(TEMPLATE_MAX_OUTPUT);
	struct val root = { V_DATA, NULL, 0, false };
	struct exec x;
	struct list *l;
	size_t i;
	int r;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if ((l = parse(&t, tmpl)) == NULL)
		return -1;
	memset(&x, 0, sizeof(x));
	x.t = &t;
	x.vars = vars;
	x.out = &b;
	r = exec_list(&x, l, &root);
	for (i = 0; i < x.npool; i++)
		free_secret(x.pool[i]);
	free(x.pool);
	list_free(l);
	if (r < 0) {
		buf_release_secret(&b);
		return -1;
	}
	*out = buf_detach(&b, NULL);
	return 0;
}

/* ---- the credentials Secret ------------------------------------------ */

static bool
secret_key_ok(const char *k)
{
	const char *p;

	if (k == NULL || *k == '\0' || strlen(k) > 253)
		return false;
	for (p = k; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.'))
			return false;
	return true;
}

static void
map_add(struct api_map *m, const char *k, char *owned_val)
{
	m->v = append(m->v, &m->n, sizeof(*m->v));
	m->v[m->n - 1].key = xstrdup(k);
	m->v[m->n - 1].val = owned_val;
}

void
template_data_release(struct api_map *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->v[i].key);
		free_secret(m->v[i].val);
	}
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

int
template_secret_data(const struct api_secret_template *t,
    const struct template_vars *vars, struct api_map *out, char *err,
    size_t errlen)
{
	const char *user = vars->username ? vars->username : "";
	const char *pass = vars->password ? vars->password : "";
	size_t i;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	for (i = 0; t != NULL && t->set && i < t->data.n; i++) {
		const struct api_kv *kv = &t->data.v[i];
		char msg[256], *val;

		if (!secret_key_ok(kv->key)) {
			snprintf(err, errlen, "spec.passwordSecret.secretTemplate"
			    ".data[%s]: not a valid Secret key (letters, digits, "
			    "'-', '_', '.')", kv->key ? kv->key : "");
			goto fail;
		}
		if (template_render(kv->val ? kv->val : "", vars, &val, msg,
		    sizeof(msg)) < 0) {
			snprintf(err, errlen, "spec.passwordSecret.secretTemplate"
			    ".data[%s]: %s", kv->key, msg);
			goto fail;
		}
		if (strcmp(kv->key, "password") == 0 && strcmp(val, pass) != 0) {
			free_secret(val);
			snprintf(err, errlen, "spec.passwordSecret.secretTemplate"
			    ".data[password]: must render to the password itself "
			    "(dbprovd reads the password back from this key)");
			goto fail;
		}
		map_add(out, kv->key, val);
	}
	if (api_map_get(out, "username") == NULL)
		map_add(out, "username", xstrdup(user));
	if (api_map_get(out, "password") == NULL)
		map_add(out, "password", xstrdup(pass));
	return 0;
fail:
	template_data_release(out);
	return -1;
}
