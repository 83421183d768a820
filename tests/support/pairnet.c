/*
 * pairnet.c — see pairnet.h.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "pairnet.h"
#include "tcpls_test.h"

uint8_t
pn_content(uint64_t i)
{
    return (uint8_t)(i * 73 + (i >> 11));
}

static pn_side_t *
side_of(pn_net_t *n, tcpls_session_t *s)
{
    return s == n->client ? &n->cli : s == n->server ? &n->srv : NULL;
}

static void
on_data(tcpls_session_t *s, uint32_t id, const uint8_t *data, size_t len, int fin, void *ud)
{
    pn_side_t *sd = side_of(ud, s);
    if (sd == NULL)
        return;
    for (size_t i = 0; i < len; i++)
        if (data[i] != pn_content(sd->received + i))
            sd->bad++;
    sd->received += len;
    sd->fin += fin;
}

static void
on_opened(tcpls_session_t *s, uint32_t id, void *ud)
{
    pn_side_t *sd = side_of(ud, s);
    if (sd != NULL) {
        sd->opened++;
        sd->stream = id;
    }
}

static void
on_closed(tcpls_session_t *s, int err, void *ud)
{
    pn_side_t *sd = side_of(ud, s);
    if (sd != NULL) {
        sd->closed = 1;
        sd->err = err;
    }
}

static void
on_conn_state(tcpls_session_t *s, uint32_t id, int state, int err, void *ud)
{
    pn_side_t *sd = side_of(ud, s);
    if (sd != NULL && id < PN_CONNS) {
        sd->conn_state[id] = state;
        sd->conn_err[id] = err;
    }
}

static const tcpls_ops_t ops = {NULL, on_opened, on_data, NULL, NULL, on_closed, on_conn_state};

/* Writes pn_content from *done up to total on stream id (FIN with the last byte). */
static void
write_stream(tcpls_session_t *s, uint32_t id, uint64_t *done, uint64_t total)
{
    while (*done < total) {
        uint8_t buf[8192];
        size_t k = total - *done < sizeof(buf) ? (size_t)(total - *done) : sizeof(buf), acc = 0;
        for (size_t i = 0; i < k; i++)
            buf[i] = pn_content(*done + i);
        if (tcpls_stream_write(s, id, buf, k, *done + k == total, &acc) != 0)
            return;
        *done += acc;
        if (acc < k)
            return;
    }
}

static void
write_more(pn_net_t *n)
{
    if (n->cli_stream != UINT32_MAX && n->uploaded < n->upload)
        write_stream(n->client, n->cli_stream, &n->uploaded, n->upload);
    if (n->srv.opened && n->written < n->download)
        write_stream(n->server, n->srv.stream, &n->written, n->download);
    if (n->close_after_write && !n->close_called && n->srv.opened && n->written == n->download) {
        n->close_called = 1;
        tcpls_session_close(n->server);
    }
}

static void
queue_put(pn_queue_t *q, const uint8_t *p, size_t len)
{
    if (q->len + len > q->cap) {
        size_t cap = (q->len + len) * 2;
        uint8_t *nb = realloc(q->buf, cap);
        if (nb == NULL)
            abort();
        q->buf = nb;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, p, len);
    q->len += len;
}

void
pn_out(pn_net_t *n, int i)
{
    const uint8_t *p;
    size_t len;
    write_more(n);
    if (!n->c[i].used || n->c[i].dead)
        return;
    if (tcpls_conn_output(n->client, n->c[i].id, &p, &len) == 0 && len > 0) {
        queue_put(&n->c[i].c2s, p, len);
        tcpls_conn_output_consumed(n->client, n->c[i].id, len);
    }
    if (tcpls_conn_output(n->c[i].srv, n->c[i].sid, &p, &len) == 0 && len > 0) {
        queue_put(&n->c[i].s2c, p, len);
        tcpls_conn_output_consumed(n->c[i].srv, n->c[i].sid, len);
    }
}

void
pn_in(pn_net_t *n, int i, int to_client, size_t max)
{
    pn_queue_t *q = to_client ? &n->c[i].s2c : &n->c[i].c2s;
    size_t len = q->len < max ? q->len : max;
    uint8_t *tmp;
    if (len == 0 || !n->c[i].used || n->c[i].dead)
        return;
    /* a copy: the callbacks may queue more on this very queue */
    if ((tmp = malloc(len)) == NULL)
        abort();
    memcpy(tmp, q->buf, len);
    memmove(q->buf, q->buf + len, q->len - len);
    q->len -= len;
    if (to_client)
        tcpls_receive(n->client, n->c[i].id, tmp, len, 1);
    else
        tcpls_receive(n->c[i].srv, n->c[i].sid, tmp, len, 1);
    free(tmp);
}

void
pn_pump(pn_net_t *n, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < PN_CONNS; i++) {
            if (!n->c[i].used)
                continue;
            pn_out(n, i);
            pn_in(n, i, 1, SIZE_MAX);
            pn_in(n, i, 0, SIZE_MAX);
        }
    }
}

static tcpls_ctx_t *
server_ctx(unsigned tokens, int join_full)
{
    tcpls_ctx_t *base = tst_server_ctx(NULL), *ctx;
    tcpls_ctx_config_t sc = {
        .is_server = 1, .tokens = tokens, .scheduler = "rr", .join_full_handshake = join_full};
    if (base == NULL)
        return NULL;
    if ((ctx = tcpls_ctx_new(&sc, NULL, 0)) != NULL) {
        SSL_CTX_use_certificate(tcpls_ctx_ssl_ctx(ctx), SSL_CTX_get0_certificate(tcpls_ctx_ssl_ctx(base)));
        SSL_CTX_use_PrivateKey(tcpls_ctx_ssl_ctx(ctx), SSL_CTX_get0_privatekey(tcpls_ctx_ssl_ctx(base)));
    }
    tcpls_ctx_free(base);
    return ctx;
}

int
pn_init(pn_net_t *n, unsigned tokens, const char *server_groups)
{
    return pn_init_joins(n, tokens, server_groups, 0, 0);
}

static int
setup(pn_net_t *n, unsigned tokens, const char *server_groups, int client_full, int server_full)
{
    tcpls_ctx_config_t cc = {.insecure = 1, .join_full_handshake = client_full};
    memset(n, 0, sizeof(*n));
    n->cli_stream = UINT32_MAX;
    if ((n->sctx = server_ctx(tokens, server_full)) == NULL ||
        (n->cctx = tcpls_ctx_new(&cc, NULL, 0)) == NULL)
        return -1;
    if (server_groups != NULL && SSL_CTX_set1_groups_list(tcpls_ctx_ssl_ctx(n->sctx), server_groups) != 1)
        return -1;
    n->client = tcpls_session_new(n->cctx, &ops, n, "localhost");
    n->server = tcpls_session_new(n->sctx, &ops, n, NULL);
    if (n->client == NULL || n->server == NULL)
        return -1;
    n->c[0].used = 1;
    n->c[0].srv = n->server;
    return 0;
}

int
pn_setup(pn_net_t *n, unsigned tokens)
{
    return setup(n, tokens, NULL, 0, 0);
}

int
pn_init_joins(pn_net_t *n, unsigned tokens, const char *server_groups, int client_full, int server_full)
{
    if (setup(n, tokens, server_groups, client_full, server_full) != 0)
        return -1;
    pn_pump(n, 20);
    return tcpls_session_is_tcpls(n->client) && tcpls_session_is_tcpls(n->server) ? 0 : -1;
}

int
pn_join(pn_net_t *n, int i)
{
    uint32_t id;
    int r = tcpls_join(n->client, 0, &id);
    if (r != 0)
        return r;
    n->c[i].used = 1;
    n->c[i].dead = 0;
    n->c[i].id = id;
    n->c[i].srv = tcpls_session_new(n->sctx, &ops, n, NULL);
    n->c[i].sid = 0;
    return n->c[i].srv != NULL ? 0 : TCPLS_ERR_NOMEM;
}

int
pn_request(pn_net_t *n, uint64_t upload, uint64_t download)
{
    int r;
    n->upload = upload;
    n->download = download;
    if ((r = tcpls_stream_open(n->client, &n->cli_stream)) != 0)
        return r;
    if (upload == 0) {
        size_t acc;
        return tcpls_stream_write(n->client, n->cli_stream, NULL, 0, 1, &acc);
    }
    write_more(n);
    return 0;
}

void
pn_free(pn_net_t *n)
{
    for (int i = 0; i < PN_CONNS; i++) {
        free(n->c[i].c2s.buf);
        free(n->c[i].s2c.buf);
        if (n->c[i].srv != n->server)
            tcpls_session_free(n->c[i].srv);
    }
    tcpls_session_free(n->client);
    tcpls_session_free(n->server);
    tcpls_ctx_free(n->cctx);
    tcpls_ctx_free(n->sctx);
}
