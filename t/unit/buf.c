#include "config.h"
#include <string.h>
#include "buf.h"
#include "tap.h"

int
main(void)
{
	struct buf b;
	char *p;
	size_t n;

	buf_init(&b, 16);
	is_str(buf_cstr(&b), "", "empty buffer reads as an empty string");
	ok(buf_puts(&b, "hello") == 0, "append within the cap");
	ok(buf_printf(&b, " %d", 42) == 0, "printf within the cap");
	is_str(buf_cstr(&b), "hello 42", "contents");
	is_int(b.len, 8, "length");
	ok(buf_puts(&b, "123456789") < 0, "append past the cap fails");
	is_str(buf_cstr(&b), "hello 42", "failed append leaves the contents alone");
	ok(buf_puts(&b, "12345678") == 0, "append exactly up to the cap");
	is_int(b.len, 16, "full");
	ok(buf_putc(&b, 'x') < 0, "one byte more fails");
	buf_consume(&b, 6);
	is_str(buf_cstr(&b), "4212345678", "consume drops the front");
	buf_consume(&b, 100);
	is_int(b.len, 0, "consume past the end empties");
	ok(buf_printf(&b, "%s", "a long formatted string") < 0,
	    "long printf past the cap fails");
	buf_release(&b);

	buf_init(&b, 0);
	for (n = 0; n < 1000; n++)
		if (buf_printf(&b, "%zu,", n) < 0)
			break;
	is_int(n, 1000, "uncapped buffer grows");
	ok(strncmp(buf_cstr(&b), "0,1,2,", 6) == 0, "grown contents");
	p = buf_detach(&b, &n);
	ok(b.data == NULL && b.len == 0, "detach empties the buffer");
	ok(n > 3000 && p[n] == '\0', "detached text is terminated");
	free(p);
	p = buf_detach(&b, &n);
	is_str(p, "", "detach of an empty buffer gives an empty string");
	free(p);
	buf_release_secret(&b);
	return done_testing();
}
