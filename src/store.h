/*
 * store.h - where artefacts live, behind one interface: a mounted volume
 * (storage.type pvc) or an object store (s3, gcs, azure), one ops table
 * per backend, as curl keeps its TLS backends.
 *
 *   st = store_new(m, &spec.storage, volume_root, secret_get, arg, ...)
 *   store_put_open(st, path, hint, &ops, &sink)   a pipeline sink
 *   store_put_close(st, sink)                     after the pipeline
 *   store_delete(st, path, cb, arg)               a missing one is ok
 *
 * An artefact is stored under exactly its status.backup.path (the spec's
 * prefix or subPath is its first part; the original operator added the
 * prefix a second time for object stores, which the restore side knows).
 * Credentials come from the storage's Secret through secret_get (the
 * value of a key, or NULL), read once by store_new() and kept only inside
 * the backend's client (wiped when freed).
 */
#ifndef DBP_STORE_H
#define DBP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "api.h"
#include "pipeline.h"

struct curlev;
struct store;

typedef const char *(*store_secret_fn)(const char *key, void *arg);
typedef void (*store_done_fn)(bool ok, const char *err, void *arg);

/* Whether the backend of type is built in. */
bool store_supported(enum api_storage_type type);
/* The Secret a storage needs (NULL for pvc): name, and its namespace when
 * the spec gives one (else the object's). */
const char *store_secret_name(const struct api_storage *s);

/* NULL with err (naming the field or the Secret key) when the storage
 * cannot be used: unsupported type, missing credentials, bad endpoint. */
struct store *store_new(struct curlev *m, const struct api_storage *s,
    const char *volume_root, store_secret_fn get, void *arg, char *err,
    size_t errlen);
void store_free(struct store *st);
/* store_free() from the loop's next turn: for a store whose own callback
 * is running (a client is not freed from inside its callbacks). */
void store_free_later(struct ev_loop *loop, struct store *st);

int store_put_open(struct store *st, const char *path, int64_t size_hint,
    const struct pl_sink_ops **ops, void **sink, char *err, size_t errlen);
void store_put_close(struct store *st, void *sink);

/* cb runs once, from the loop or (pvc) before store_delete() returns. */
void store_delete(struct store *st, const char *path, store_done_fn cb,
    void *arg);
/* Removes what a writer that died left (pvc: .part files). */
void store_sweep(struct store *st, const char *path);

#endif
