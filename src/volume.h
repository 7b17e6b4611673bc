/*
 * volume.h - artefacts on a mounted volume (storage.type: pvc), as a
 * pipeline sink (backup) and source (restore).
 *
 * A claim named C is expected mounted at ROOT/C (--backup-volume-root,
 * default /data); an artefact lives at ROOT/C/<path>, where path is the
 * backup's status.backup.path (the spec's subPath is its first part).
 * The claim's directory must exist -- it is the mount point; directories
 * inside it are created as needed (0700).
 *
 * Writing goes to a temporary name in the final directory
 * (".<name>.part-XXXXXX", 0600), then fsync, rename onto the final name
 * and fsync of the directory: a crash at any moment leaves either the
 * complete artefact or no file under its final name (and maybe a .part
 * file, which volume_sweep() removes). Writes to a local file cannot be
 * waited for with poll(); they are made directly, a bounded amount per
 * call (the pipeline's buffer).
 *
 * Paths are checked before anything is touched: no "..", no empty or
 * "." segment, no leading "/", no NUL, at most VOLUME_PATH_MAX bytes.
 */
#ifndef DBP_VOLUME_H
#define DBP_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"

#define VOLUME_ROOT_DEFAULT	"/data"
#define VOLUME_PATH_MAX		1024
#define VOLUME_ERR_MAX		512

/* Checks a claim name and a relative path; 0 or -1 with err. */
int volume_check(const char *claim, const char *path, char *err,
    size_t errlen);

struct volume_put;
/* Opens the temporary file for ROOT/claim/path; NULL with err ("volume
 * claim C is not mounted at ROOT/C", a permission problem, ...). */
struct volume_put *volume_put_new(const char *root, const char *claim,
    const char *path, char *err, size_t errlen);
/* The sink operations; the sink argument is the volume_put. After the
 * pipeline ends, free it with volume_put_free() (an unfinished put is
 * removed). */
extern const struct pl_sink_ops volume_sink_ops;
void volume_put_free(struct volume_put *v);
/* The final file name (for messages). */
const char *volume_put_path(const struct volume_put *v);

struct volume_get;
struct volume_get *volume_get_new(const char *root, const char *claim,
    const char *path, char *err, size_t errlen);
extern const struct pl_source_ops volume_source_ops;
void volume_get_free(struct volume_get *v);
/* Size of the artefact opened. */
uint64_t volume_get_size(const struct volume_get *v);

/* Deletes ROOT/claim/path; a missing file is success. 0 or -1 with err. */
int volume_delete(const char *root, const char *claim, const char *path,
    char *err, size_t errlen);
/* Removes the ".part" files left in the directory of ROOT/claim/path by
 * a writer that died; returns how many. */
int volume_sweep(const char *root, const char *claim, const char *path);

#endif
