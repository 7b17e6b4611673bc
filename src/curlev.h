/*
 * curlev.h - curl's multi interface on a libev loop.
 *
 * The glue of curl's multi-socket API: curl says which sockets to watch
 * (socket callback) and when to call it back (timer callback); libev says
 * when a socket is ready, and that goes to curl_multi_socket_action().
 * Finished transfers are collected with curl_multi_info_read() after
 * every action and reported through their transfer's done callback. Every
 * HTTP client of the process (the Kubernetes API client, the object
 * store clients) sits on one of these, without copying the glue.
 *
 * A transfer is a struct curlev_xfer the caller embeds in its own
 * request: it sets easy (its configured handle), done and arg, and adds
 * it. curlev owns CURLOPT_PRIVATE of the handle. When the transfer ends
 * the handle is taken out of the multi handle first and then done runs
 * (from the loop, never inside curlev_add()); the easy handle is still
 * the caller's, to read with curl_easy_getinfo() and to clean up. A
 * transfer can be removed at any time before that, except from inside
 * one of curl's callbacks (write, read, header, debug): there the caller
 * makes the callback fail and removes the transfer from done.
 */
#ifndef DBP_CURLEV_H
#define DBP_CURLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <curl/curl.h>
#include <ev.h>

struct curlev;
struct curlev_xfer;

typedef void (*curlev_done_fn)(struct curlev_xfer *x, CURLcode result);

struct curlev_xfer {
	CURL *easy;		/* set by the caller */
	curlev_done_fn done;	/* set by the caller */
	void *arg;		/* the caller's */
	bool active;		/* added and not yet done or removed */
};

/* NULL when curl cannot make a multi handle. HTTP/2 multiplexing is on. */
struct curlev *curlev_new(struct ev_loop *loop);
/* Every transfer must have been removed or finished. */
void curlev_free(struct curlev *m);
/* Starts x; returns 0, or -1 with curl's reason in err. */
int curlev_add(struct curlev *m, struct curlev_xfer *x, char *err,
    size_t errlen);
/* Stops x (no done callback); a no-op when x is not active. */
void curlev_remove(struct curlev *m, struct curlev_xfer *x);
size_t curlev_active(const struct curlev *m);
struct ev_loop *curlev_loop(const struct curlev *m);

#endif
