/*
 * tls.h — OpenSSL contexts for 'mplab serve' and 'mplab get' (TLS 1.3 only, ALPN http/1.1).
 */
#ifndef MPLAB_TLS_H
#define MPLAB_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/* Server context from a PEM certificate (chain) and key. Returns NULL with a reason in err. */
SSL_CTX *mpl_tls_server_ctx(const char *cert_file, const char *key_file, char *err, size_t errlen);
/* Client context: verifies the server against cacert (PEM), or nothing when insecure.
 * Returns NULL with a reason in err. */
SSL_CTX *mpl_tls_client_ctx(const char *cacert_file, int insecure, char *err, size_t errlen);

#endif
