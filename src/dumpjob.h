/*
 * dumpjob.h - one backup or one restore as a running thing: the dump
 * tool's child, the pipeline and a sink (backup), or a source, the
 * pipeline and the restore tool's child (restore), under a deadline.
 *
 *   backup:   pg_dump | mariadb-dump  ->  compress -> seal  ->  sink
 *   restore:  source  ->  open -> decompress  ->  pg_restore | psql | mariadb
 *
 * The controllers give it what to run (dumpcmd.h builds the command line
 * from the API's options and the instance's connection) and where the
 * artefact goes or comes from (volume.h, the object store clients), and
 * get one report: ok, or the first error -- the child's exit status with
 * the last line of its stderr, the codec's or the encryption's error, the
 * store's, or the deadline -- with the sizes and the SHA-256 of the
 * stored bytes. A child that fails makes the job fail even when its
 * output looked complete; a job that fails or is cancelled kills the
 * child's process group and aborts the sink (nothing is left under the
 * artefact's final name).
 *
 * Memory: the pipeline's buffers, the codec's and the encryption's bounded
 * state, and the sink's: nothing grows with the dump.
 */
#ifndef DBP_DUMPJOB_H
#define DBP_DUMPJOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "aead.h"
#include "codec.h"
#include "pipeline.h"

struct dumpjob;

struct dumpjob_config {
	/* The child: argv and env from dumpcmd (copied). */
	const char *const *argv;
	const char *const *env;
	/* What a failure is called: "pg_dump", "mariadb". */
	const char *tool;
	/* Backup: compression then sealing. Restore: the artefact's
	 * encryption is opened (legacy: the original's layout to assume
	 * without our header), and its compression detected. */
	enum codec_algo codec;		/* backup only */
	int level;			/* backup only */
	bool encrypt;
	enum aead_algo aead;		/* backup only */
	enum aead_legacy legacy;	/* restore only */
	const unsigned char *key;	/* AEAD_KEY_LEN bytes, copied */
	/* Backup: where the artefact goes; restore: where it comes from.
	 * The job drives it and never frees it. */
	const struct pl_sink_ops *sink_ops;
	void *sink;
	const struct pl_source_ops *src_ops;
	void *src;
	/* Seconds from the start; 0: none. */
	double deadline;
	/* Seconds between SIGTERM and SIGKILL when the child is stopped. */
	double grace;
};

struct dumpjob_result {
	uint64_t dump_bytes;		/* what the dump tool wrote / restore read */
	uint64_t stored_bytes;		/* the artefact's size */
	char sha256[2 * 32 + 1];	/* of the artefact's bytes, hex */
	double seconds;
	bool deadline_exceeded;
};

typedef void (*dumpjob_done_fn)(struct dumpjob *j, bool ok, const char *err,
    const struct dumpjob_result *r, void *arg);

/* Starts a backup (sink set) or a restore (src set). Never reports from
 * inside this call; returns NULL with err only for a usage error. */
struct dumpjob *dumpjob_backup(struct ev_loop *loop,
    const struct dumpjob_config *cfg, dumpjob_done_fn done, void *arg,
    char *err, size_t errlen);
struct dumpjob *dumpjob_restore(struct ev_loop *loop,
    const struct dumpjob_config *cfg, dumpjob_done_fn done, void *arg,
    char *err, size_t errlen);
/* Stops a running job (child killed, sink aborted); done runs with err. */
void dumpjob_cancel(struct dumpjob *j, const char *why);
/* Frees the job; a running one is stopped first, without a report. */
void dumpjob_free(struct dumpjob *j);
/* Restore: bytes given to the tool so far (status.progress). */
uint64_t dumpjob_progress(const struct dumpjob *j);

#endif
