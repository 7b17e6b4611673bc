/*
 * httpd-fuzzer.c - libFuzzer target for the HTTP request parser
 * (httpd_parse). For every input it checks the parser's contract:
 *
 *  - the result is 0, a head size within the input and HTTPD_MAX_HEAD, or
 *    minus one of the statuses the server sends;
 *  - an accepted request has a method of token characters, a path that
 *    starts with '/', HTTP/1.0 or 1.1, a body within HTTPD_MAX_BODY, and no
 *    CR, LF or NUL in any string it hands out;
 *  - feeding the same bytes one at a time (with the resumable scan, as a
 *    slow client does) gives "need more" for every shorter prefix and then
 *    the same request.
 *
 * Built with `./configure --enable-fuzzing CC=clang` as t/fuzz/httpd-fuzzer;
 * t/unit/httpd_fuzz_replay.t links the same function to replay the corpus
 * (t/fuzz/corpus/httpd/) in the normal test run.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *what)
{
	fprintf(stderr, "httpd-fuzzer: %s\n", what);
	abort();
}

static void
check_str(const char *s, bool may_be_null)
{
	if (s == NULL) {
		if (!may_be_null)
			fail("missing string");
		return;
	}
	if (strpbrk(s, "\r\n") != NULL)
		fail("CR or LF in a parsed string");
}

static void
check_req(const struct httpd_req *r)
{
	const char *p;
	size_t i;

	check_str(r->method, false);
	check_str(r->target, false);
	check_str(r->path, false);
	check_str(r->query, true);
	check_str(r->host, true);
	if (*r->method == '\0' || strlen(r->method) > 15)
		fail("bad method length");
	for (p = r->method; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *p))
			fail("method is not a token");
	if (r->path[0] != '/')
		fail("path does not start with /");
	if (strchr(r->path, '?') != NULL)
		fail("query left in the path");
	if (r->minor != 0 && r->minor != 1)
		fail("bad minor version");
	if (r->content_length > HTTPD_MAX_BODY)
		fail("body over the cap");
	if (r->nheaders > HTTPD_MAX_HEADERS)
		fail("too many headers");
	if (r->minor == 1 && r->host == NULL)
		fail("HTTP/1.1 without Host accepted");
	for (i = 0; i < r->nheaders; i++) {
		check_str(r->headers[i].name, false);
		check_str(r->headers[i].value, false);
		if (*r->headers[i].name == '\0' || strchr(r->headers[i].name, ':'))
			fail("bad header name");
	}
}

static bool
same_req(const struct httpd_req *a, const struct httpd_req *b)
{
	size_t i;

	if (strcmp(a->method, b->method) || strcmp(a->target, b->target) ||
	    strcmp(a->path, b->path) || (a->query == NULL) != (b->query == NULL) ||
	    (a->query && strcmp(a->query, b->query)) || a->minor != b->minor ||
	    a->keep_alive != b->keep_alive ||
	    a->content_length != b->content_length ||
	    a->nheaders != b->nheaders)
		return false;
	for (i = 0; i < a->nheaders; i++)
		if (strcmp(a->headers[i].name, b->headers[i].name) ||
		    strcmp(a->headers[i].value, b->headers[i].value))
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpd_req *whole, *part;
	const char *buf = (const char *)data;
	size_t scan = 0, len;
	ssize_t r, q;

	if (size > 4 * HTTPD_MAX_HEAD)
		return 0;
	whole = malloc(sizeof(*whole));
	part = malloc(sizeof(*part));
	if (whole == NULL || part == NULL)
		abort();
	r = httpd_parse(buf, size, &scan, whole);
	if (r > 0) {
		if ((size_t)r > size || r > HTTPD_MAX_HEAD)
			fail("head size out of range");
		check_req(whole);
	} else if (r < 0 && r != -400 && r != -413 && r != -431 && r != -501 &&
	    r != -505) {
		fail("unexpected status");
	}
	if (r > 0) {
		/* The same bytes arriving one at a time. */
		scan = 0;
		for (len = 1; len <= (size_t)r; len++) {
			q = httpd_parse(buf, len, &scan, part);
			if (len < (size_t)r && q != 0)
				fail("a prefix of a valid request was not 'need more'");
			if (len == (size_t)r && (q != r || !same_req(whole, part)))
				fail("incremental parse differs");
		}
	}
	free(whole);
	free(part);
	return 0;
}
