/*
 * artefact - writes test artefacts the way dbprovd's backups will:
 *
 *   artefact seal KEYFILE gzip|lz4|zstd|none gcm|cbc   < dump > artefact
 *   artefact legacy-gcm KEYFILE                         < dump > artefact
 *
 * the first compresses and seals in dbprovd's format through the same
 * pipeline; the second writes the original operator's single-message GCM
 * layout (12-byte nonce, ciphertext, 16-byte tag), all in memory (test
 * sizes only).
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ev.h>
#include <openssl/rand.h>

#include "aead.h"
#include "artefact.h"
#include "buf.h"
#include "pipeline.h"
#include "util.h"

static enum pl_read
in_read(void *arg, unsigned char *buf, size_t cap, size_t *n, char *err,
    size_t errlen)
{
	ssize_t r = read(0, buf, cap);

	(void)arg;
	if (r < 0) {
		snprintf(err, errlen, "read failed");
		return PL_FAIL;
	}
	*n = (size_t)r;
	return r == 0 ? PL_EOF : PL_DATA;
}

static struct pipeline *the_pl;

static ssize_t
out_write(void *arg, const unsigned char *p, size_t n, char *err,
    size_t errlen)
{
	ssize_t w = write(1, p, n);

	(void)arg;
	if (w < 0)
		snprintf(err, errlen, "write failed");
	return w;
}

static void
out_finish(void *arg)
{
	(void)arg;
	pipeline_sink_done(the_pl, true, NULL);
}

static const struct pl_source_ops in_ops = { in_read, NULL, NULL };
static const struct pl_sink_ops out_ops = { out_write, out_finish, NULL, NULL };
static int status = 1;

static void
done(struct pipeline *pl, bool ok, const char *err,
    const struct pl_stats *st, void *arg)
{
	(void)pl;
	(void)st;
	(void)arg;
	if (!ok)
		fprintf(stderr, "artefact: %s\n", err);
	status = ok ? 0 : 1;
}

static int
load_key(const char *path, unsigned char key[AEAD_KEY_LEN])
{
	int fd = open(path, O_RDONLY);
	ssize_t r = fd < 0 ? -1 : read(fd, key, AEAD_KEY_LEN);

	if (fd >= 0)
		close(fd);
	return r == AEAD_KEY_LEN ? 0 : -1;
}

int
main(int argc, char **argv)
{
	unsigned char key[AEAD_KEY_LEN];
	enum codec_algo algo;
	struct codec *c;
	struct aead *a;
	struct pl_xform x;

	if (argc >= 3 && strcmp(argv[1], "legacy-gcm") == 0) {
		struct buf in = BUF_INIT(0);
		unsigned char nonce[AEAD_GCM_NONCE_LEN], tag[AEAD_GCM_TAG_LEN];
		unsigned char chunk[65536], *out;
		ssize_t r;

		if (load_key(argv[2], key) < 0)
			return 2;
		while ((r = read(0, chunk, sizeof(chunk))) > 0)
			if (buf_append(&in, chunk, (size_t)r) < 0)
				return 1;
		out = xmalloc(in.len + 1);
		if (RAND_bytes(nonce, sizeof(nonce)) != 1 ||
		    aead_gcm_seal(key, nonce, NULL, 0,
		    (const unsigned char *)in.data, in.len, out, tag) < 0)
			return 1;
		if (write(1, nonce, sizeof(nonce)) < 0 ||
		    (in.len && write(1, out, in.len) < 0) ||
		    write(1, tag, sizeof(tag)) < 0)
			return 1;
		free(out);
		buf_release(&in);
		return 0;
	}
	if (argc != 5 || strcmp(argv[1], "seal") != 0 ||
	    load_key(argv[2], key) < 0 ||
	    codec_from_name(argv[3], &algo) < 0) {
		fprintf(stderr, "usage: artefact seal KEYFILE ALGO gcm|cbc | "
		    "artefact legacy-gcm KEYFILE\n");
		return 2;
	}
	the_pl = pipeline_new(ev_default_loop(0), &in_ops, NULL, &out_ops,
	    NULL, done, NULL);
	c = codec_new_compress(algo, 6);
	x = codec_xform(c);
	pipeline_add(the_pl, "compress", &x);
	a = aead_seal_new(key, strcmp(argv[4], "cbc") == 0 ?
	    AEAD_AES256_CBC_HMAC : AEAD_AES256_GCM, 0);
	x = aead_xform(a);
	pipeline_add(the_pl, "seal", &x);
	pipeline_start(the_pl);
	ev_run(ev_default_loop(0), 0);
	pipeline_free(the_pl);
	codec_free(c);
	aead_free(a);
	return status;
}
