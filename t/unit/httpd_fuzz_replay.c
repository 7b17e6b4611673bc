/*
 * httpd_fuzz_replay.c - replays every file of t/fuzz/corpus/httpd/ through
 * the fuzz target (LLVMFuzzerTestOneInput of t/fuzz/httpd-fuzzer.c), one
 * TAP line per file, so every seed and fixed crash input stays covered
 * without libFuzzer.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util.h"

#ifndef DBP_SRCDIR
#define DBP_SRCDIR "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(void)
{
	const char *src = getenv("DBPROVD_SRCDIR");
	char *dir, **names = NULL;
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;

	if (src == NULL || *src == '\0')
		src = DBP_SRCDIR;
	dir = xasprintf("%s/t/fuzz/corpus/httpd", src);
	d = opendir(dir);
	if (d == NULL) {
		printf("Bail out! cannot open %s\n", dir);
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	ok(n >= 10, "corpus has seeds");
	for (i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		size_t len;
		char *data = read_file(path, 1 << 20, &len);

		if (data == NULL) {
			ok(0, names[i]);
		} else {
			LLVMFuzzerTestOneInput((const uint8_t *)data, len);
			ok(1, names[i]);
		}
		free(data);
		free(path);
		free(names[i]);
	}
	free(names);
	free(dir);
	return done_testing();
}
