/*
 * tls.c — see tls.h.
 */
#include "xfer/tls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

static const unsigned char alpn_http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

static void
ssl_err(char *err, size_t errlen, const char *what, const char *file)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "unknown error";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, errlen, "%s %s: %s", what, file ? file : "", buf);
    ERR_clear_error();
}

static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
            unsigned int inlen, void *arg)
{
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, alpn_http11, sizeof(alpn_http11), in, inlen) ==
        OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK; /* no ALPN agreement: carry on without */
}

static SSL_CTX *
common_ctx(const SSL_METHOD *m)
{
    SSL_CTX *ctx = SSL_CTX_new(m);
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
    /* AES-128-GCM first: the cheapest suite with AES-NI, so bulk transfers measure the
     * transport more than the cipher. */
    SSL_CTX_set_ciphersuites(ctx,
                             "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Read ahead: one recv() per record instead of one for its header and one for its body.
     * The buffer stays small on purpose: OpenSSL 3.0 moves the unread rest of its read buffer
     * to the front before each record, so a large buffer costs more copying than it saves (64 KiB measured
     * best). */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, 65536);
    return ctx;
}

SSL_CTX *
mpl_tls_server_ctx(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    SSL_CTX *ctx = common_ctx(TLS_server_method());
    if (ctx == NULL) {
        ssl_err(err, errlen, "TLS context", NULL);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        ssl_err(err, errlen, "cannot load certificate", cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        ssl_err(err, errlen, "cannot load key", key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_err(err, errlen, "key does not match certificate", key_file);
        goto fail;
    }
    /* No session tickets: one fewer round of writes after the handshake; resumption unused. */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *
mpl_tls_client_ctx(const char *cacert_file, int insecure, char *err, size_t errlen)
{
    SSL_CTX *ctx = common_ctx(TLS_client_method());
    if (ctx == NULL) {
        ssl_err(err, errlen, "TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_alpn_protos(ctx, alpn_http11, sizeof(alpn_http11));
    if (insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        return ctx;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, cacert_file, NULL) != 1) {
        ssl_err(err, errlen, "cannot load CA certificate", cacert_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
