/*
 * kclient.h - an API client (khttp) built from loaded credentials.
 */
#ifndef DBP_KCLIENT_H
#define DBP_KCLIENT_H

#include <stddef.h>
#include <ev.h>

struct kconfig;
struct khttp;

/* Creates a client that talks to kc's server with kc's TLS material and
 * token (kc must outlive the client). Returns NULL with a message. */
struct khttp *kclient_new(struct ev_loop *loop, struct kconfig *kc,
    char *err, size_t errlen);

#endif
