/*
 * fuzz_replay.c - replays every file of t/fuzz/corpus/<CORPUS>/ through a
 * fuzz target (the LLVMFuzzerTestOneInput it is linked with), one TAP line
 * per file. A crash or sanitizer report fails the test run, so every seed
 * and every fixed crash input stays covered without libFuzzer.
 *
 * Built once per target with -DCORPUS='"name"' -DMIN_SEEDS=n.
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
#ifndef CORPUS
#error "define CORPUS"
#endif
#ifndef MIN_SEEDS
#define MIN_SEEDS 1
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
	dir = xasprintf("%s/t/fuzz/corpus/%s", src, CORPUS);
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
	ok(n >= MIN_SEEDS, "the corpus has its seeds");
	for (i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		size_t len;
		char *data = read_file(path, 1 << 22, &len);

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
