/*
 * tcpls_test.c — see tcpls_test.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tcpls_test.h"

static EVP_PKEY *test_key;
static X509 *test_cert;

static int
make_cert(void)
{
    X509_NAME *name;
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    if (test_cert != NULL)
        return 0;
    if ((test_key = EVP_EC_gen("P-256")) == NULL || (test_cert = X509_new()) == NULL)
        return -1;
    X509_set_version(test_cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(test_cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(test_cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(test_cert), 86400);
    X509_set_pubkey(test_cert, test_key);
    name = X509_get_subject_name(test_cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(test_cert, name);
    X509V3_set_ctx(&v3, test_cert, test_cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    X509_add_ext(test_cert, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(test_cert, ext, -1);
    X509_EXTENSION_free(ext);
    return X509_sign(test_cert, test_key, EVP_sha256()) > 0 ? 0 : -1;
}

static void
free_cert(void)
{
    X509_free(test_cert);
    EVP_PKEY_free(test_key);
    test_cert = NULL;
    test_key = NULL;
}

tcpls_ctx_t *
tst_server_ctx(const char *ciphersuites)
{
    tcpls_ctx_config_t cfg = {.is_server = 1, .ciphersuites = ciphersuites};
    tcpls_ctx_t *ctx;
    if (make_cert() != 0 || (ctx = tcpls_ctx_new(&cfg, NULL, 0)) == NULL)
        return NULL;
    SSL_CTX_use_certificate(tcpls_ctx_ssl_ctx(ctx), test_cert);
    SSL_CTX_use_PrivateKey(tcpls_ctx_ssl_ctx(ctx), test_key);
    return ctx;
}

tcpls_ctx_t *
tst_client_ctx(const char *ciphersuites)
{
    tcpls_ctx_config_t cfg = {.is_server = 0, .ciphersuites = ciphersuites, .insecure = 1};
    tcpls_ctx_t *ctx;
    if (make_cert() != 0 || (ctx = tcpls_ctx_new(&cfg, NULL, 0)) == NULL)
        return NULL;
    SSL_CTX *sc = tcpls_ctx_ssl_ctx(ctx);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(sc), test_cert);
    SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
    return ctx;
}

int
tst_write_cert_files(const char *dir)
{
    char path[512];
    FILE *f;
    if (make_cert() != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/cert.pem", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    PEM_write_X509(f, test_cert);
    fclose(f);
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    if ((f = fopen(path, "w")) == NULL)
        return -1;
    PEM_write_PrivateKey(f, test_key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    return 0;
}

static void
on_handshake(tcpls_session_t *s, void *ud)
{
    ((tst_peer_t *)ud)->handshake_done = 1;
}

static void
on_opened(tcpls_session_t *s, uint32_t id, void *ud)
{
    tst_peer_t *p = ud;
    if (p->nopened < 256)
        p->opened[p->nopened++] = id;
}

static void
on_data(tcpls_session_t *s, uint32_t id, const uint8_t *data, size_t len, int fin, void *ud)
{
    tst_peer_t *p = ud;
    size_t n = len;
    if (p->data_len + n > p->data_cap)
        n = p->data_cap - p->data_len;
    if (n)
        memcpy(p->data + p->data_len, data, n);
    p->data_len += n;
    p->bytes_by_stream[id % 256] += len;
    if (fin)
        p->fin_by_stream[id % 256]++;
}

static void
on_writable(tcpls_session_t *s, uint32_t id, void *ud)
{
    ((tst_peer_t *)ud)->writable_calls++;
}

static void
on_stream_closed(tcpls_session_t *s, uint32_t id, void *ud)
{
    ((tst_peer_t *)ud)->streams_closed++;
}

static void
on_closed(tcpls_session_t *s, int err, void *ud)
{
    tst_peer_t *p = ud;
    p->closed++;
    p->close_err = err;
}

static const tcpls_ops_t test_ops = {on_handshake,     on_opened, on_data, on_writable,
                                     on_stream_closed, on_closed, NULL};

int
tst_pair_init(tst_pair_t *p, const char *ciphersuites)
{
    memset(p, 0, sizeof(*p));
    if ((p->cctx = tst_client_ctx(ciphersuites)) == NULL || (p->sctx = tst_server_ctx(ciphersuites)) == NULL)
        return -1;
    p->client.data_cap = p->server.data_cap = 1 << 20;
    p->client.data = malloc(p->client.data_cap);
    p->server.data = malloc(p->server.data_cap);
    p->client.s = tcpls_session_new(p->cctx, &test_ops, &p->client, "localhost");
    p->server.s = tcpls_session_new(p->sctx, &test_ops, &p->server, NULL);
    return p->client.s && p->server.s && p->client.data && p->server.data ? 0 : -1;
}

void
tst_pair_free(tst_pair_t *p)
{
    tcpls_session_free(p->client.s);
    tcpls_session_free(p->server.s);
    tcpls_ctx_free(p->cctx);
    tcpls_ctx_free(p->sctx);
    free(p->client.data);
    free(p->server.data);
    free_cert();
    memset(p, 0, sizeof(*p));
}

static size_t
move(tst_pair_t *p, tcpls_session_t *from, tcpls_session_t *to, int to_server)
{
    const uint8_t *data;
    size_t len;
    uint8_t *copy;

    if (tcpls_conn_output(from, 0, &data, &len) != 0 || len == 0)
        return 0;
    if (p->max_chunk && len > p->max_chunk)
        len = p->max_chunk;
    if ((copy = malloc(len)) == NULL)
        return 0;
    memcpy(copy, data, len);
    tcpls_conn_output_consumed(from, 0, len);
    if (p->tamper)
        p->tamper(p, to_server, copy, len);
    if (!tcpls_session_is_closed(to))
        tcpls_receive(to, 0, copy, len, 0);
    free(copy);
    if (to_server)
        p->moved_to_server += len;
    else
        p->moved_to_client += len;
    return len;
}

int
tst_pair_pump(tst_pair_t *p, int max_rounds)
{
    int rounds = 0;
    while (rounds < max_rounds) {
        size_t moved = move(p, p->client.s, p->server.s, 1);
        moved += move(p, p->server.s, p->client.s, 0);
        rounds++;
        if (moved == 0)
            break;
    }
    return rounds;
}
