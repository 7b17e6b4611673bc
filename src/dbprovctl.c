/*
 * dbprovctl - tools for dbprovd's users that work without the operator.
 *
 *   dbprovctl decode [--key-file FILE] [--legacy gcm|cbc] [INPUT]
 *
 * reads a backup artefact (a file, or standard input) and writes the plain
 * dump to standard output: it opens dbprovd's encrypted format (or, when
 * told, the two layouts the original operator wrote), then decompresses
 * whatever compression the stream carries. It runs the same pipeline and
 * transforms as dbprovd, in bounded memory, and exits non-zero with a
 * message on a wrong key, a truncated or a tampered artefact.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ev.h>

#include "aead.h"
#include "artefact.h"
#include "pipeline.h"
#include "util.h"

static const char usage_text[] =
"usage: dbprovctl decode [--key-file FILE] [--legacy gcm|cbc] [INPUT]\n"
"       dbprovctl --help | --version\n"
"\n"
"decode  Writes the plain dump held in a backup artefact to standard\n"
"        output. INPUT is a file; without it (or with -) standard input\n"
"        is read. Compression (gzip, lz4, zstd) is detected from the\n"
"        artefact itself.\n"
"\n"
"  -k, --key-file FILE   the 32-byte key of an encrypted artefact: the raw\n"
"                        value of the encryption Secret's key, e.g.\n"
"                        kubectl get secret S -o jsonpath='{.data.KEY}' \\\n"
"                          | base64 -d > key\n"
"  -l, --legacy gcm|cbc  the artefact was written by the original operator\n"
"                        (no header): AES-256-GCM or AES-256-CBC. Its GCM\n"
"                        layout is checked only at the end and its CBC\n"
"                        layout not at all: treat the output as untrusted\n"
"                        unless the command exits 0.\n"
"\n"
"Exit status: 0 when the whole artefact was read and authenticated, 1\n"
"when it was not (wrong key, truncated, tampered, not an artefact), 2 for\n"
"a usage error.\n";

struct fd_src {
	int fd;
	unsigned char head[16];	/* bytes read to detect the format */
	size_t hn, hpos;
};

static enum pl_read
fd_read(void *arg, unsigned char *buf, size_t cap, size_t *n, char *err,
    size_t errlen)
{
	struct fd_src *s = arg;
	ssize_t r;

	if (s->hpos < s->hn) {
		*n = s->hn - s->hpos < cap ? s->hn - s->hpos : cap;
		memcpy(buf, s->head + s->hpos, *n);
		s->hpos += *n;
		return PL_DATA;
	}
	do
		r = read(s->fd, buf, cap);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		snprintf(err, errlen, "reading the artefact: %s",
		    strerror(errno));
		return PL_FAIL;
	}
	*n = (size_t)r;
	return r == 0 ? PL_EOF : PL_DATA;
}

static const struct pl_source_ops fd_src_ops = { fd_read, NULL, NULL };

struct fd_snk {
	struct pipeline *pl;
	int fd;
};

static ssize_t
fd_write(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	struct fd_snk *k = arg;
	ssize_t w;

	do
		w = write(k->fd, p, n);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		snprintf(err, errlen, "writing the output: %s",
		    strerror(errno));
	return w;
}

static void
fd_finish(void *arg)
{
	struct fd_snk *k = arg;

	pipeline_sink_done(k->pl, true, NULL);
}

static const struct pl_sink_ops fd_snk_ops = { fd_write, fd_finish, NULL, NULL };

static int status = 1;

static void
decoded(struct pipeline *pl, bool ok, const char *err,
    const struct pl_stats *st, void *arg)
{
	(void)pl;
	(void)st;
	(void)arg;
	if (ok)
		status = 0;
	else
		fprintf(stderr, "dbprovctl: decode: %s\n", err);
}

static int
read_key(const char *path, unsigned char key[AEAD_KEY_LEN])
{
	unsigned char buf[AEAD_KEY_LEN + 1];
	struct stat sb;
	size_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "dbprovctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
		fprintf(stderr, "dbprovctl: warning: %s can be read by "
		    "others (chmod 600 it)\n", path);
	while (n < sizeof(buf) && (r = read(fd, buf + n,
	    sizeof(buf) - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (n != AEAD_KEY_LEN) {
		fprintf(stderr, "dbprovctl: %s: a key is exactly %d bytes "
		    "(the raw Secret value, not base64); this file has %s%zu\n",
		    path, AEAD_KEY_LEN, n > AEAD_KEY_LEN ? "more than " : "",
		    n > AEAD_KEY_LEN ? (size_t)AEAD_KEY_LEN : n);
		secure_zero(buf, sizeof(buf));
		return -1;
	}
	memcpy(key, buf, AEAD_KEY_LEN);
	secure_zero(buf, sizeof(buf));
	return 0;
}

static int
decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key-file", required_argument, NULL, 'k' },
		{ "legacy", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_file = NULL, *input = NULL;
	enum aead_legacy legacy = AEAD_LEGACY_NONE;
	unsigned char key[AEAD_KEY_LEN];
	struct fd_src src;
	struct fd_snk snk;
	struct pipeline *pl;
	struct xdetect *det;
	struct aead *a = NULL;
	struct pl_xform x;
	struct ev_loop *loop;
	ssize_t r;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key_file = optarg;
			break;
		case 'l':
			if (strcmp(optarg, "gcm") == 0)
				legacy = AEAD_LEGACY_GCM;
			else if (strcmp(optarg, "cbc") == 0)
				legacy = AEAD_LEGACY_CBC;
			else {
				fprintf(stderr, "dbprovctl: --legacy is gcm "
				    "or cbc\n");
				return 2;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (argc - optind > 1) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (argc - optind == 1)
		input = argv[optind];
	if (legacy != AEAD_LEGACY_NONE && key_file == NULL) {
		fprintf(stderr, "dbprovctl: --legacy needs --key-file\n");
		return 2;
	}
	memset(&src, 0, sizeof(src));
	src.fd = 0;
	if (input && strcmp(input, "-") != 0 &&
	    (src.fd = open(input, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "dbprovctl: %s: %s\n", input, strerror(errno));
		return 1;
	}
	/* The first bytes say whether it is ours and encrypted. */
	while (src.hn < 8 && (r = read(src.fd, src.head + src.hn,
	    8 - src.hn)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "dbprovctl: reading the artefact: "
			    "%s\n", strerror(errno));
			return 1;
		}
		src.hn += (size_t)r;
	}
	if (aead_is_ours(src.head, src.hn) && key_file == NULL) {
		fprintf(stderr, "dbprovctl: the artefact is encrypted: give "
		    "its key with --key-file\n");
		return 1;
	}
	if (key_file && !aead_is_ours(src.head, src.hn) &&
	    legacy == AEAD_LEGACY_NONE) {
		fprintf(stderr, "dbprovctl: the artefact does not start with "
		    "dbprovd's header: it is not encrypted by dbprovd; if the "
		    "original operator wrote it, say which layout with "
		    "--legacy gcm or --legacy cbc\n");
		return 1;
	}
	if (key_file && read_key(key_file, key) < 0)
		return 1;

	loop = ev_default_loop(0);
	memset(&snk, 0, sizeof(snk));
	snk.fd = 1;
	pl = pipeline_new(loop, &fd_src_ops, &src, &fd_snk_ops, &snk, decoded,
	    NULL);
	snk.pl = pl;
	if (key_file) {
		a = aead_open_new(key, legacy);
		secure_zero(key, sizeof(key));
		x = aead_xform(a);
		pipeline_add(pl, "decrypt", &x);
	}
	det = xdetect_new();
	x = xdetect_xform(det);
	pipeline_add(pl, "decompress", &x);
	pipeline_start(pl);
	ev_run(loop, 0);
	if (status != 0 && legacy != AEAD_LEGACY_NONE)
		fprintf(stderr, "dbprovctl: the output written so far is not "
		    "authenticated and must not be used\n");
	pipeline_free(pl);
	xdetect_free(det);
	aead_free(a);
	if (src.fd > 0)
		close(src.fd);
	return status;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "decode") == 0)
		return decode(argc - 1, argv + 1);
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("dbprovctl %s\n", PACKAGE_VERSION);
		return 0;
	}
	fputs(usage_text, stderr);
	return 2;
}
