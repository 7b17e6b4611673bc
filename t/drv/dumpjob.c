/*
 * dumpjob - runs one backup or restore the way the controllers do, for
 * the integration tests (t/backup/):
 *
 *   dumpjob backup|restore pg|my --host H --port P --user U --db D
 *       --root DIR --claim C --path REL [--format custom|plain|tar]
 *       [--codec none|gzip|lz4|zstd] [--level N] [--key FILE]
 *       [--aead gcm|cbc] [--legacy gcm|cbc] [--deadline S]
 *
 * The password comes from the environment (DBP_PASSWORD), never argv.
 * Prints "ok dump=N stored=N sha256=HEX" or "failed: message".
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ev.h>

#include "api_backup.h"
#include "api_restore.h"
#include "dumpcmd.h"
#include "dumpjob.h"
#include "myconn.h"
#include "pgconn.h"
#include "util.h"
#include "volume.h"

static int status = 1;

static void
done(struct dumpjob *j, bool ok, const char *err,
    const struct dumpjob_result *r, void *arg)
{
	(void)j;
	(void)arg;
	if (ok)
		printf("ok dump=%llu stored=%llu sha256=%s\n",
		    (unsigned long long)r->dump_bytes,
		    (unsigned long long)r->stored_bytes, r->sha256);
	else
		printf("failed: %s%s\n", err,
		    r->deadline_exceeded ? " [deadline]" : "");
	status = ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", 1, NULL, 'h' }, { "port", 1, NULL, 'p' },
		{ "user", 1, NULL, 'u' }, { "db", 1, NULL, 'd' },
		{ "root", 1, NULL, 'r' }, { "claim", 1, NULL, 'c' },
		{ "path", 1, NULL, 'P' }, { "format", 1, NULL, 'f' },
		{ "codec", 1, NULL, 'z' }, { "level", 1, NULL, 'l' },
		{ "key", 1, NULL, 'k' }, { "aead", 1, NULL, 'a' },
		{ "legacy", 1, NULL, 'L' }, { "deadline", 1, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = "127.0.0.1", *user = NULL, *db = NULL, *root = NULL;
	const char *claim = NULL, *path = NULL, *keyfile = NULL;
	const char *password = getenv("DBP_PASSWORD");
	enum api_pg_dump_format fmt = API_PG_FORMAT_CUSTOM;
	struct dumpjob_config cfg;
	struct pgconn_params pp;
	struct myconn_params mp;
	struct dumpcmd_pg tpg;
	struct dumpcmd_my tmy;
	struct api_pg_backup pgo;
	struct api_my_backup myo;
	struct api_pg_restore pgr;
	struct api_my_restore myr;
	struct dumpcmd cmd;
	struct volume_put *vp = NULL;
	struct volume_get *vg = NULL;
	struct dumpjob *j;
	unsigned char key[AEAD_KEY_LEN];
	char err[1024];
	bool backup, pg;
	int c, port = 0, fd;
	size_t i;

	if (argc < 3)
		return 2;
	backup = strcmp(argv[1], "backup") == 0;
	pg = strcmp(argv[2], "pg") == 0;
	memset(&cfg, 0, sizeof(cfg));
	cfg.codec = CODEC_NONE;
	cfg.level = 6;
	cfg.aead = AEAD_AES256_GCM;
	optind = 3;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'u': user = optarg; break;
		case 'd': db = optarg; break;
		case 'r': root = optarg; break;
		case 'c': claim = optarg; break;
		case 'P': path = optarg; break;
		case 'f':
			for (i = 0; i < API_PG_FORMAT__COUNT; i++)
				if (api_pg_dump_format_names[i] &&
				    strcmp(api_pg_dump_format_names[i],
				    optarg) == 0)
					fmt = (enum api_pg_dump_format)i;
			break;
		case 'z':
			if (codec_from_name(optarg, &cfg.codec) < 0)
				return 2;
			break;
		case 'l': cfg.level = atoi(optarg); break;
		case 'k': keyfile = optarg; break;
		case 'a':
			cfg.aead = strcmp(optarg, "cbc") == 0 ?
			    AEAD_AES256_CBC_HMAC : AEAD_AES256_GCM;
			break;
		case 'L':
			cfg.legacy = strcmp(optarg, "cbc") == 0 ?
			    AEAD_LEGACY_CBC : AEAD_LEGACY_GCM;
			break;
		case 'D': cfg.deadline = atof(optarg); break;
		default: return 2;
		}
	}
	if (keyfile) {
		fd = open(keyfile, O_RDONLY);
		if (fd < 0 || read(fd, key, sizeof(key)) != sizeof(key))
			return 2;
		close(fd);
		cfg.encrypt = true;
		cfg.key = key;
	}
	dumpcmd_init(&cmd);
	memset(&pp, 0, sizeof(pp));
	memset(&mp, 0, sizeof(mp));
	pp.host = mp.host = host;
	pp.port = mp.port = port;
	pp.user = mp.user = user;
	pp.password = mp.password = password;
	pp.sslmode = PGCONN_SSL_DISABLE;
	mp.tls_mode = MYCONN_TLS_DISABLED;
	memset(&tpg, 0, sizeof(tpg));
	tpg.conn = &pp;
	tpg.dbname = db;
	memset(&tmy, 0, sizeof(tmy));
	tmy.conn = &mp;
	tmy.dbname = db;
	/* The schema's defaults, as a spec with the block present. */
	memset(&pgo, 0, sizeof(pgo));
	pgo.set = true;
	pgo.format = fmt;
	pgo.jobs = 1;
	pgo.blobs = true;
	pgo.lock_wait_timeout = (char *)"60s";
	memset(&myo, 0, sizeof(myo));
	myo.set = true;
	myo.single_transaction = myo.quick = myo.routines = true;
	myo.triggers = myo.events = myo.extended_insert = true;
	memset(&pgr, 0, sizeof(pgr));
	pgr.set = true;
	pgr.no_owner = true;
	pgr.jobs = 1;
	memset(&myr, 0, sizeof(myr));
	if (backup) {
		if ((pg ? dumpcmd_pg_dump(&cmd, &tpg, &pgo, err, sizeof(err)) :
		    dumpcmd_my_dump(&cmd, &tmy, &myo, err, sizeof(err))) < 0 ||
		    (vp = volume_put_new(root, claim, path, err,
		    sizeof(err))) == NULL) {
			printf("failed: %s\n", err);
			goto out;
		}
		cfg.sink_ops = &volume_sink_ops;
		cfg.sink = vp;
	} else {
		if ((pg ? dumpcmd_pg_restore(&cmd, &tpg, fmt, &pgr, err,
		    sizeof(err)) : dumpcmd_my_restore(&cmd, &tmy, NULL, err,
		    sizeof(err))) < 0 || (vg = volume_get_new(root, claim,
		    path, err, sizeof(err))) == NULL) {
			printf("failed: %s\n", err);
			goto out;
		}
		cfg.src_ops = &volume_source_ops;
		cfg.src = vg;
	}
	cfg.argv = (const char *const *)cmd.argv;
	cfg.env = (const char *const *)cmd.env;
	cfg.tool = cmd.argv[0];
	j = backup ? dumpjob_backup(ev_default_loop(0), &cfg, done, NULL, err,
	    sizeof(err)) : dumpjob_restore(ev_default_loop(0), &cfg, done,
	    NULL, err, sizeof(err));
	if (j == NULL) {
		printf("failed: %s\n", err);
		goto out;
	}
	ev_run(ev_default_loop(0), 0);
	dumpjob_free(j);
out:
	volume_put_free(vp);
	volume_get_free(vg);
	dumpcmd_release(&cmd);
	secure_zero(key, sizeof(key));
	return status;
}
