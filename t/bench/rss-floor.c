/*
 * rss-floor - the resident-memory floor of the libraries dbprovd uses:
 * links the same libraries, initialises OpenSSL and curl the same way,
 * then sleeps. t/bench/idle-rss compares dbprovd with it.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>
#include <openssl/ssl.h>

int
main(void)
{
	struct ev_loop *loop;

	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = ev_default_loop(0);
	(void)loop;
	printf("READY\n");
	fflush(stdout);
	pause();
	return 0;
}
