#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "tap.h"

int
main(void)
{
	static const char doc[] =
	    "{\"metadata\":{\"name\":\"db1\",\"generation\":9007199254740993,"
	    "\"labels\":{\"app.kubernetes.io/name\":\"x\"}},"
	    "\"spec\":{\"on\":true,\"off\":false,\"n\":null,\"f\":1.5,"
	    "\"list\":[1,\"two\",{\"k\":3}]}}";
	char err[128];
	yajl_val v, l;
	long long i;
	bool b;
	double d;
	struct jw w;
	char *s;

	v = json_parse(doc, strlen(doc), err, sizeof(err));
	ok(v != NULL, "parses a document");
	is_str(json_gets(v, "metadata.name"), "db1", "dotted path");
	ok(json_int(json_getp(v, "metadata.generation"), &i) && i == 9007199254740993LL,
	    "int64 beyond double precision survives");
	is_str(json_str(json_get(v, "metadata", "labels", "app.kubernetes.io/name", NULL)),
	    "x", "keys with dots through json_get");
	ok(json_getp(v, "metadata.nope") == NULL, "missing key is NULL");
	ok(json_gets(v, "metadata.generation") == NULL, "wrong type is NULL");
	ok(json_bool(json_getp(v, "spec.on"), &b) && b, "true");
	ok(json_bool(json_getp(v, "spec.off"), &b) && !b, "false");
	ok(!json_bool(json_getp(v, "spec.n"), &b), "null is not a bool");
	ok(json_is_null(json_getp(v, "spec.n")), "null detected");
	ok(json_double(json_getp(v, "spec.f"), &d) && d == 1.5, "double");
	ok(!json_int(json_getp(v, "spec.f"), &i), "a double is not an int");
	l = json_getp(v, "spec.list");
	is_int(json_len(l), 3, "array length");
	is_str(json_str(json_at(l, 1)), "two", "array item");
	ok(json_at(l, 3) == NULL, "array out of range");
	is_str(json_key_at(json_getp(v, "spec"), 0), "on", "object key by index");

	jw_init(&w);
	jw_value(&w, v);
	s = jw_finish(&w, NULL);
	is_str(s, doc, "tree round-trips byte for byte");
	free(s);
	json_free(v);

	ok(json_parse("{\"a\":", 5, err, sizeof(err)) == NULL, "truncated input fails");
	ok(err[0] != '\0' && strchr(err, '\n') == NULL, "with a one-line message");
	ok(json_parse("{\"a\":1}\0x", 9, err, sizeof(err)) == NULL, "embedded NUL fails");
	v = json_parse("[1,2]trailing", 5, err, sizeof(err));
	ok(v != NULL, "length bounds the input");
	json_free(v);

	/* Strings keep their decoded length and a text check. */
	{
		static const char d2[] = "{\"a\\u0000b\":\"x\\u0000y\","
		    "\"ok\":\"caf\\u00e9 \\ud83d\\ude00\",\"lone\":\"\\udc00\","
		    "\"raw\":\"\xff\",\"over\":\"\xc0\xaf\",\"sur\":\"\xed\xa0\x80\"}";
		size_t n;

		v = json_parse(d2, strlen(d2), err, sizeof(err));
		ok(v != NULL, "escaped NULs, surrogates and bad bytes parse");
		is_int(json_key_check(v, 0), TEXT_NUL, "a key with \\u0000 is flagged");
		is_int(json_str_check(json_val_at(v, 0), &n), TEXT_NUL,
		    "a value with \\u0000 is flagged");
		is_int(n, 3, "and keeps its length (3, not 1)");
		is_int(strlen(json_str(json_val_at(v, 0))), 1,
		    "while it reads 1 byte long as a C string");
		is_int(json_str_check(json_get(v, "ok", NULL), &n), TEXT_OK,
		    "UTF-8 with a surrogate pair is fine");
		is_int(n, 10, "decoded to 10 bytes");
		is_int(json_str_check(json_get(v, "lone", NULL), NULL),
		    TEXT_BAD_UTF8, "a lone surrogate escape is not UTF-8");
		is_int(json_str_check(json_get(v, "raw", NULL), NULL),
		    TEXT_BAD_UTF8, "a raw 0xff byte is not UTF-8");
		is_int(json_str_check(json_get(v, "over", NULL), NULL),
		    TEXT_BAD_UTF8, "an overlong form is not UTF-8");
		is_int(json_str_check(json_get(v, "sur", NULL), NULL),
		    TEXT_BAD_UTF8, "an encoded surrogate is not UTF-8");
		is_int(json_str_check(json_get(v, "missing", NULL), NULL),
		    TEXT_OK, "a missing node checks as fine (absent)");
		json_free(v);
	}
	/* Nesting is bounded. */
	{
		static char deep[600];

		memset(deep, '[', 300);
		memset(deep + 300, ']', 300);
		ok(json_parse(deep, 600, err, sizeof(err)) == NULL,
		    "300 levels of nesting are refused");
		ok(strstr(err, "deep") != NULL || strstr(err, "nest") != NULL,
		    "saying why");
		diag("%s", err);
		memset(deep, '[', 200);
		memset(deep + 200, ']', 200);
		v = json_parse(deep, 400, err, sizeof(err));
		ok(v != NULL, "200 levels are fine");
		json_free(v);
	}

	jw_init(&w);
	jw_obj_open(&w);
	jw_kstr(&w, "q", "a\"b\\c\n\x01");
	jw_kint(&w, "n", -3);
	jw_kbool(&w, "t", true);
	jw_key(&w, "z");
	jw_str(&w, NULL);
	jw_obj_close(&w);
	s = jw_finish(&w, NULL);
	is_str(s, "{\"q\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":-3,\"t\":true,\"z\":null}",
	    "generator escapes strings");
	free(s);

	s = json_pointer_escape("a/b~c");
	is_str(s, "a~1b~0c", "JSON pointer escaping");
	free(s);
	s = json_quote("x\"y");
	is_str(s, "\"x\\\"y\"", "quote");
	free(s);
	return done_testing();
}
