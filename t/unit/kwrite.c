#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "kwrite.h"
#include "tap.h"

static struct kreq *
fake_req(long status, const char *body)
{
	struct kreq *r = xcalloc(1, sizeof(*r));

	r->status = status;
	buf_init(&r->body, 0);
	if (body && buf_puts(&r->body, body) < 0)
		abort();
	return r;
}

static void
free_req(struct kreq *r)
{
	buf_release(&r->body);
	free(r);
}

static const struct kres widgets = { "/apis/example.com/v1", "example.com/v1",
	"Widget", "widgets", true };

int
main(void)
{
	const char *fins[] = { "a.io/x", "dbops.dbprovision.io/database-protection" };
	char *p, buf[256];
	struct kreq *r;

	p = kres_path(&kres_secrets, "ns 1", "a/b", NULL);
	is_str(p, "/api/v1/namespaces/ns%201/secrets/a%2Fb", "object path escapes segments");
	free(p);
	p = kres_path(&widgets, NULL, NULL, NULL);
	is_str(p, "/apis/example.com/v1/widgets", "all-namespaces collection");
	free(p);
	p = kres_path(&widgets, "n", "w", "status");
	is_str(p, "/apis/example.com/v1/namespaces/n/widgets/w/status", "status subresource");
	free(p);
	p = kres_path(&kres_namespaces, "ignored", "n1", NULL);
	is_str(p, "/api/v1/namespaces/n1", "cluster-scoped ignores the namespace");
	free(p);

	p = kwrite_finalizer_add_patch(NULL, 0, "42", "x.io/f");
	is_str(p, "[{\"op\":\"test\",\"path\":\"/metadata/resourceVersion\",\"value\":\"42\"},"
	    "{\"op\":\"add\",\"path\":\"/metadata/finalizers\",\"value\":[\"x.io/f\"]}]",
	    "first finalizer: RV test then add the list");
	free(p);
	p = kwrite_finalizer_add_patch(fins, 1, "42", "x.io/f");
	is_str(p, "[{\"op\":\"test\",\"path\":\"/metadata/finalizers\",\"value\":[\"a.io/x\"]},"
	    "{\"op\":\"add\",\"path\":\"/metadata/finalizers/-\",\"value\":\"x.io/f\"}]",
	    "another finalizer: test the list, append");
	free(p);
	ok(kwrite_finalizer_add_patch(fins, 2, "1", fins[1]) == NULL,
	    "no patch when already present");
	p = kwrite_finalizer_remove_patch(fins, 2, fins[1]);
	is_str(p, "[{\"op\":\"test\",\"path\":\"/metadata/finalizers/1\","
	    "\"value\":\"dbops.dbprovision.io/database-protection\"},"
	    "{\"op\":\"remove\",\"path\":\"/metadata/finalizers/1\"}]",
	    "remove by index after testing that index");
	free(p);
	ok(kwrite_finalizer_remove_patch(fins, 1, fins[1]) == NULL,
	    "no patch when absent");

	r = fake_req(200, "{}");
	is_int(kwrite_classify(r), KW_OK, "200 ok");
	free_req(r);
	r = fake_req(409, "{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"modified\"}");
	is_int(kwrite_classify(r), KW_CONFLICT, "409 Conflict");
	kwrite_error_text(r, buf, sizeof(buf));
	is_str(buf, "HTTP 409: modified", "error text from the Status");
	free_req(r);
	r = fake_req(409, "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\"}");
	is_int(kwrite_classify(r), KW_EXISTS, "409 AlreadyExists");
	free_req(r);
	r = fake_req(422, "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"message\":\"testing value /metadata/finalizers failed\"}");
	is_int(kwrite_classify(r), KW_CONFLICT, "422 from a failed test is a conflict");
	free_req(r);
	r = fake_req(422, "{\"kind\":\"Status\",\"reason\":\"Invalid\",\"message\":\"spec.x: Invalid value\"}");
	is_int(kwrite_classify(r), KW_INVALID, "other 422 is invalid");
	free_req(r);
	r = fake_req(429, "Too many requests, please try again later.");
	is_int(kwrite_classify(r), KW_RETRY, "429 text body retries");
	kwrite_error_text(r, buf, sizeof(buf));
	is_str(buf, "HTTP 429", "non-JSON error body");
	free_req(r);
	r = fake_req(503, NULL);
	is_int(kwrite_classify(r), KW_RETRY, "503 retries");
	free_req(r);
	r = fake_req(0, NULL);
	strcpy(r->errmsg, "connection refused");
	is_int(kwrite_classify(r), KW_RETRY, "transport error retries");
	kwrite_error_text(r, buf, sizeof(buf));
	is_str(buf, "connection refused", "transport message");
	free_req(r);
	r = fake_req(403, NULL);
	is_int(kwrite_classify(r), KW_FORBIDDEN, "403 forbidden");
	free_req(r);
	r = fake_req(404, NULL);
	is_int(kwrite_classify(r), KW_NOT_FOUND, "404");
	free_req(r);
	return done_testing();
}
