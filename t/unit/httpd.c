/*
 * httpd.c - the request parser (pure), then the server on a real loop
 * with a loopback client: routes, errors, keep-alive, deadlines.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "httpd.h"
#include "tap.h"
#include "util.h"

static struct httpd_req R;

static ssize_t
parse(const char *s)
{
	size_t scan = 0;

	return httpd_parse(s, strlen(s), &scan, &R);
}

static void
test_parser(void)
{
	const char *get = "GET /metrics?x=1&y HTTP/1.1\r\nHost: a:1\r\n"
	    "Accept:  text/plain \r\nConnection: keep-alive\r\n\r\n";
	size_t scan, i;
	ssize_t r;
	char big[HTTPD_MAX_HEAD + 64];

	r = parse(get);
	is_int(r, (long long)strlen(get), "GET: head size");
	is_str(R.method, "GET", "method");
	is_str(R.target, "/metrics?x=1&y", "target");
	is_str(R.path, "/metrics", "path");
	is_str(R.query, "x=1&y", "query");
	is_int(R.minor, 1, "HTTP/1.1");
	ok(R.keep_alive, "1.1 keeps alive");
	is_str(R.host, "a:1", "host");
	is_int(R.nheaders, 3, "three headers");
	is_str(httpd_req_header(&R, "accept"), "text/plain", "value trimmed, name case-insensitive");

	is_int(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") > 0, 1, "close");
	ok(!R.keep_alive, "Connection: close");
	ok(parse("GET / HTTP/1.0\r\n\r\n") > 0 && !R.keep_alive && R.minor == 0,
	    "1.0 without Host, closes");
	ok(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0 &&
	    R.keep_alive, "1.0 keep-alive");
	ok(parse("GET /h HTTP/1.1\nHost: a\n\n") > 0 && strcmp(R.path, "/h") == 0,
	    "bare LF line endings");
	ok(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n") > 0, "leading empty lines");
	ok(parse("GET / HTTP/1.1\r\nHost: a\r\n") == 0, "incomplete: need more");
	ok(parse("GET / HTT") == 0, "incomplete request line");
	ok(parse("") == 0, "empty");
	r = parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
	ok(r > 0 && R.content_length == 5, "small body length");
	ok(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == -400, "two Hosts");
	ok(parse("GET / HTTP/1.1\r\n\r\n") == -400, "1.1 without Host");
	ok(parse("GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n") == -400, "obs-fold");
	ok(parse("GET / HTTP/1.1\rHost: a\r\n\r\n") == -400, "bare CR");
	ok(parse("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == -400, "blank before colon");
	ok(parse("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n") == -400, "control char in value");
	ok(parse("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n") == -400, "absolute-form");
	ok(parse("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n") == -400, "fragment");
	ok(parse("GET  / HTTP/1.1\r\nHost: a\r\n\r\n") == -400, "double space");
	ok(parse("G(T / HTTP/1.1\r\nHost: a\r\n\r\n") == -400, "method not a token");
	ok(parse("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == -505, "HTTP/2.0: 505");
	ok(parse("GET / HTTP/1.1x\r\nHost: a\r\n\r\n") == -400, "junk after version");
	ok(parse("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") == -501,
	    "chunked: 501");
	ok(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\n\r\n") == -413,
	    "body over the cap: 413");
	ok(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n") == -413,
	    "huge length does not overflow");
	ok(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n") == -400,
	    "conflicting lengths");
	ok(parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n") == -400,
	    "negative length");

	memset(big, 'a', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ", 28);
	big[sizeof(big) - 1] = '\0';
	ok(parse(big) == -431, "a head over 8 KiB without end: 431");
	{
		struct buf b = BUF_INIT(0);

		if (buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\n") < 0)
			abort();
		for (i = 0; i < HTTPD_MAX_HEADERS + 1; i++)
			if (buf_printf(&b, "X-%zu: v\r\n", i) < 0)
				abort();
		if (buf_puts(&b, "\r\n") < 0)
			abort();
		ok(parse(buf_cstr(&b)) == -431, "too many headers: 431");
		buf_release(&b);
	}

	/* One byte at a time, with the resumable scan. */
	scan = 0;
	for (i = 1; i < strlen(get); i++)
		if (httpd_parse(get, i, &scan, &R) != 0)
			break;
	is_int(i, strlen(get), "every prefix needs more");
	is_int(httpd_parse(get, strlen(get), &scan, &R), strlen(get),
	    "then the whole head parses");
	is_str(R.path, "/metrics", "with the same path");
}

/* ---- the server on a loop ----------------------------------------------- */

static struct ev_loop *loop;

static void
hello(const struct httpd_req *req, struct httpd_resp *resp, void *arg)
{
	(void)arg;
	if (buf_printf(&resp->body, "hello %s", req->query ? req->query : "") < 0)
		abort();
}

/* /later defers; the test answers through `pending`. */
static struct httpd_defer *pending;
static int cancels;

static void
later_cancel(struct httpd_defer *d, void *arg)
{
	(void)arg;
	if (d == pending)
		pending = NULL;
	cancels++;
}

static void
later(const struct httpd_req *req, struct httpd_resp *resp, void *arg)
{
	(void)req;
	if (buf_puts(&resp->body, "discarded") < 0)
		abort();
	pending = httpd_resp_defer(resp, later_cancel, arg);
}

static void
answer_later(int status, const char *body)
{
	struct httpd_resp *r = httpd_defer_resp(pending);
	struct httpd_defer *d = pending;

	r->status = status;
	strlcpy0(r->content_type, "text/x-later", sizeof(r->content_type));
	if (buf_puts(&r->body, body) < 0)
		abort();
	pending = NULL;
	httpd_defer_done(d);
}

static int
client(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		abort();
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Runs the loop until fd has `want` bytes of answer, EOF, or timeout;
 * returns what was read (malloc'ed); *eof tells whether the peer closed. */
static char *
answer(int fd, size_t want, double timeout, bool *eof)
{
	struct buf b = BUF_INIT(0);
	double end = mono_now() + timeout;

	*eof = false;
	while (mono_now() < end && b.len < want) {
		char tmp[4096];
		ssize_t n;

		ev_run(loop, EVRUN_NOWAIT);
		n = recv(fd, tmp, sizeof(tmp), 0);
		if (n > 0) {
			if (buf_append(&b, tmp, (size_t)n) < 0)
				abort();
			continue;
		}
		if (n == 0) {
			*eof = true;
			break;
		}
		usleep(1000);
	}
	return buf_detach(&b, NULL);
}

static void
say(int fd, const char *s)
{
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) != (ssize_t)strlen(s))
		abort();
}

static void
test_server(void)
{
	struct httpd_config cfg;
	struct httpd *s;
	char err[256];
	char *a;
	bool eof;
	int fd, port;

	loop = ev_default_loop(0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = "test";
	cfg.host = "127.0.0.1";
	cfg.read_timeout = 0.3;
	s = httpd_new(loop, &cfg, err, sizeof(err));
	ok(s != NULL, "server binds an ephemeral port");
	if (s == NULL)
		return;
	port = httpd_port(s);
	ok(port > 0, "port known");
	httpd_route(s, "/hello", hello, NULL);
	httpd_start(s);

	fd = client(port);
	say(fd, "GET /hello?w HTTP/1.1\r\nHost: x\r\n\r\n");
	a = answer(fd, 1, 2, &eof);
	ok(str_has_prefix(a, "HTTP/1.1 200 OK\r\n"), "200 on a route");
	ok(strstr(a, "Content-Length: 7\r\n") && strstr(a, "\r\n\r\nhello w"),
	    "length and body");
	ok(strstr(a, "Connection: keep-alive"), "kept alive");
	free(a);
	say(fd, "HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n");
	a = answer(fd, 1, 2, &eof);
	ok(str_has_prefix(a, "HTTP/1.1 404 Not Found\r\n"), "second request on the connection: 404");
	ok(strstr(a, "\r\n\r\n") && strstr(a, "\r\n\r\n")[4] == '\0', "HEAD: no body");
	free(a);
	say(fd, "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
	a = answer(fd, 1, 2, &eof);
	ok(str_has_prefix(a, "HTTP/1.1 405 ") && strstr(a, "Allow: GET, HEAD"), "405 with Allow");
	free(a);
	/* Idle keep-alive connection: closed at the read deadline. */
	a = answer(fd, 1, 2, &eof);
	ok(eof && *a == '\0', "idle connection closed by the deadline");
	free(a);
	close(fd);

	fd = client(port);
	say(fd, "GET /hello HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n");
	a = answer(fd, 1 << 20, 2, &eof);
	ok(str_has_prefix(a, "HTTP/1.1 400 Bad Request\r\n") && strstr(a, "Connection: close"),
	    "malformed: 400 and close");
	ok(eof, "connection closed after the 400");
	free(a);
	close(fd);

	fd = client(port);
	say(fd, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	a = answer(fd, 1 << 20, 2, &eof);
	ok(strstr(a, "hello HTTP/1.1 200") != NULL && strstr(a, "hello 2") != NULL && eof,
	    "pipelined requests answered in order, then closed");
	free(a);
	close(fd);

	/* A client that sends half a request and stops. */
	fd = client(port);
	say(fd, "GET /hello HTTP/1.1\r\nHo");
	a = answer(fd, 1, 2, &eof);
	ok(eof && *a == '\0', "slow client closed at the deadline");
	free(a);
	close(fd);
	ok(httpd_stats(s)->timeouts >= 2, "timeouts counted");
	ok(httpd_stats(s)->bad_requests == 1, "bad request counted");

	httpd_free(s);
	{
		struct httpd_config c2 = cfg;

		c2.write_timeout = 0.5;
		s = httpd_new(loop, &c2, err, sizeof(err));
		if (s == NULL)
			abort();
		port = httpd_port(s);
		httpd_route(s, "/hello", hello, NULL);
		httpd_route(s, "/later", later, NULL);
		httpd_start(s);
	}

	/* A deferred response, answered later; the connection stays usable. */
	fd = client(port);
	say(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
	a = answer(fd, 1, 0.2, &eof);
	ok(pending != NULL && *a == '\0' && !eof, "deferred: nothing sent yet");
	free(a);
	if (pending)
		answer_later(503, "later!");
	a = answer(fd, 1, 2, &eof);
	ok(str_has_prefix(a, "HTTP/1.1 503 Service Unavailable\r\n") &&
	    strstr(a, "Content-Type: text/x-later\r\n") &&
	    strstr(a, "Content-Length: 6\r\n") && strstr(a, "\r\n\r\nlater!") &&
	    strstr(a, "discarded") == NULL, "deferred: status, type and body given later");
	ok(strstr(a, "Connection: keep-alive") != NULL, "deferred: kept alive");
	free(a);
	say(fd, "GET /hello?again HTTP/1.1\r\nHost: x\r\n\r\n");
	a = answer(fd, 1, 2, &eof);
	ok(strstr(a, "\r\n\r\nhello again") != NULL, "next request on the connection after a deferred one");
	free(a);

	/* HEAD: only the head, with the length of the body. */
	say(fd, "HEAD /later HTTP/1.1\r\nHost: x\r\n\r\n");
	a = answer(fd, 1, 0.2, &eof);
	ok(pending != NULL && *a == '\0', "HEAD deferred");
	free(a);
	if (pending)
		answer_later(200, "xyz");
	a = answer(fd, 1, 2, &eof);
	ok(str_has_prefix(a, "HTTP/1.1 200 OK\r\n") && strstr(a, "Content-Length: 3\r\n") &&
	    strstr(a, "\r\n\r\n")[4] == '\0', "HEAD deferred: head only");
	free(a);

	/* Pipelined: the second request waits for the deferred first one. */
	say(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	a = answer(fd, 1, 0.2, &eof);
	ok(pending != NULL && *a == '\0', "pipelined request not answered before the deferred one");
	free(a);
	if (pending)
		answer_later(200, "first");
	a = answer(fd, 1 << 20, 2, &eof);
	ok(strstr(a, "first") != NULL && strstr(a, "hello p") != NULL &&
	    strstr(a, "first") < strstr(a, "hello p") && eof, "then both, in order, and closed");
	free(a);
	close(fd);

	/* Deadline: the cancel callback runs, nothing is sent. */
	cancels = 0;
	fd = client(port);
	say(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
	a = answer(fd, 1, 2, &eof);
	ok(eof && *a == '\0', "deferred past the write deadline: closed");
	ok(cancels == 1 && pending == NULL, "cancel callback ran once");
	free(a);
	close(fd);

	/* The server stops with a deferred response pending. */
	fd = client(port);
	say(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
	a = answer(fd, 1, 0.2, &eof);
	free(a);
	ok(pending != NULL, "deferred again");
	httpd_free(s);
	ok(cancels == 2 && pending == NULL, "freeing the server cancels it");
	close(fd);
	ev_run(loop, EVRUN_NOWAIT);

	{
		struct httpd_config c2 = cfg;

		c2.tls_cert_file = "/nonexistent/tls.crt";
		c2.tls_key_file = "/nonexistent/tls.key";
		ok(httpd_new(loop, &c2, err, sizeof(err)) == NULL &&
		    strstr(err, "tls.crt") != NULL, "missing certificate: clear error");
	}
	ev_loop_destroy(loop);
}

int
main(void)
{
	test_parser();
	test_server();
	return done_testing();
}
