/*
 * sim_robust.c — libtcpls under the orderings that lose data or wedge a session when an
 * implementation gets them wrong. The test decides, byte queue by byte queue, what reaches
 * the peer and when (no clock, no rates): close_notify racing data on another connection, a
 * FIN after our close_notify, a tampered record on one of two connections, joins through a
 * HelloRetryRequest, control frames on a connection that fails, address bookkeeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "../support/tcpls_test.h"
#include "internal.h"

#define NCONN 4

typedef struct queue {
    uint8_t *buf;
    size_t len, cap;
} queue_t;

typedef struct side {
    uint64_t received, bad;
    int fin, closed, err, opened;
    uint32_t stream;
    int conn_state[NCONN], conn_err[NCONN];
} side_t;

typedef struct net {
    tcpls_ctx_t *cctx, *sctx;
    tcpls_session_t *client, *server;
    struct {
        int used, dead;
        uint32_t id;
        tcpls_session_t *srv; /* the server session reading this connection */
        uint32_t sid;         /* its connection id there */
        queue_t c2s, s2c;
    } c[NCONN];
    side_t cli, srv;
    uint64_t to_send, written;
    int close_after_write, close_called;
} net_t;

static uint8_t
content(uint64_t i)
{
    return (uint8_t)(i * 73 + (i >> 11));
}

static void
on_data(tcpls_session_t *s, uint32_t id, const uint8_t *data, size_t len, int fin, void *ud)
{
    net_t *n = ud;
    side_t *sd = s == n->client ? &n->cli : &n->srv;
    for (size_t i = 0; i < len; i++)
        if (data[i] != content(sd->received + i))
            sd->bad++;
    sd->received += len;
    sd->fin += fin;
}

static void
on_opened(tcpls_session_t *s, uint32_t id, void *ud)
{
    net_t *n = ud;
    side_t *sd = s == n->client ? &n->cli : &n->srv;
    sd->opened++;
    sd->stream = id;
}

static void
on_closed(tcpls_session_t *s, int err, void *ud)
{
    net_t *n = ud;
    side_t *sd = s == n->client ? &n->cli : s == n->server ? &n->srv : NULL;
    if (sd != NULL) {
        sd->closed = 1;
        sd->err = err;
    }
}

static void
on_conn_state(tcpls_session_t *s, uint32_t id, int state, int err, void *ud)
{
    net_t *n = ud;
    side_t *sd = s == n->client ? &n->cli : &n->srv;
    if (id < NCONN) {
        sd->conn_state[id] = state;
        sd->conn_err[id] = err;
    }
}

static const tcpls_ops_t ops = {NULL, on_opened, on_data, NULL, NULL, on_closed, on_conn_state};

/* The server writes n->to_send bytes on the stream the client opened (then closes if asked). */
static void
server_write(net_t *n)
{
    while (n->srv.opened && n->written < n->to_send) {
        uint8_t buf[8192];
        size_t k = n->to_send - n->written < sizeof(buf) ? (size_t)(n->to_send - n->written) : sizeof(buf),
               acc = 0;
        for (size_t i = 0; i < k; i++)
            buf[i] = content(n->written + i);
        if (tcpls_stream_write(n->server, n->srv.stream, buf, k, n->written + k == n->to_send, &acc) != 0)
            return;
        n->written += acc;
        if (acc < k)
            return;
    }
    if (n->close_after_write && !n->close_called && n->written == n->to_send) {
        n->close_called = 1;
        assert_int_equal(tcpls_session_close(n->server), 0);
    }
}

static void
queue_put(queue_t *q, const uint8_t *p, size_t len)
{
    if (q->len + len > q->cap) {
        q->cap = (q->len + len) * 2;
        q->buf = realloc(q->buf, q->cap);
        assert_non_null(q->buf);
    }
    memcpy(q->buf + q->len, p, len);
    q->len += len;
}

/* Moves what the sessions have for connection i into its queues. */
static void
net_out(net_t *n, int i)
{
    const uint8_t *p;
    size_t len;
    server_write(n);
    if (n->c[i].dead)
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

/* Delivers connection i's queued bytes (to_client: the server's, else the client's). */
static void
net_in(net_t *n, int i, int to_client)
{
    queue_t *q = to_client ? &n->c[i].s2c : &n->c[i].c2s;
    size_t len = q->len;
    if (len == 0 || n->c[i].dead)
        return;
    q->len = 0;
    if (to_client)
        tcpls_receive(n->client, n->c[i].id, q->buf, len, 1);
    else
        tcpls_receive(n->c[i].srv, n->c[i].sid, q->buf, len, 1);
}

/* Moves everything both ways on every connection until nothing moves. */
static void
net_pump(net_t *n, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < NCONN; i++) {
            if (!n->c[i].used)
                continue;
            net_out(n, i);
            net_in(n, i, 1);
            net_in(n, i, 0);
        }
    }
}

static tcpls_ctx_t *
server_ctx(unsigned tokens)
{
    tcpls_ctx_t *base = tst_server_ctx(NULL), *ctx;
    tcpls_ctx_config_t sc = {.is_server = 1, .tokens = tokens, .scheduler = "rr"};
    assert_non_null(base);
    assert_non_null(ctx = tcpls_ctx_new(&sc, NULL, 0));
    SSL_CTX_use_certificate(tcpls_ctx_ssl_ctx(ctx), SSL_CTX_get0_certificate(tcpls_ctx_ssl_ctx(base)));
    SSL_CTX_use_PrivateKey(tcpls_ctx_ssl_ctx(ctx), SSL_CTX_get0_privatekey(tcpls_ctx_ssl_ctx(base)));
    tcpls_ctx_free(base);
    return ctx;
}

static void
net_init(net_t *n, unsigned tokens, const char *server_groups)
{
    memset(n, 0, sizeof(*n));
    n->sctx = server_ctx(tokens);
    n->cctx = tst_client_ctx(NULL);
    assert_non_null(n->cctx);
    if (server_groups != NULL) /* the client's key share is X25519: P-256 only forces an HRR */
        assert_int_equal(SSL_CTX_set1_groups_list(tcpls_ctx_ssl_ctx(n->sctx), server_groups), 1);
    n->client = tcpls_session_new(n->cctx, &ops, n, "localhost");
    n->server = tcpls_session_new(n->sctx, &ops, n, NULL);
    n->c[0].used = 1;
    n->c[0].srv = n->server;
    net_pump(n, 20);
    assert_true(tcpls_session_is_tcpls(n->client));
    assert_true(tcpls_session_is_tcpls(n->server));
}

/* Joins connection i through a fresh server session; returns tcpls_join's result. */
static int
net_join(net_t *n, int i)
{
    uint32_t id;
    int r = tcpls_join(n->client, 0, &id);
    if (r != 0)
        return r;
    n->c[i].used = 1;
    n->c[i].id = id;
    n->c[i].srv = tcpls_session_new(n->sctx, &ops, n, NULL);
    n->c[i].sid = 0;
    return 0;
}

static void
net_free(net_t *n)
{
    for (int i = 0; i < NCONN; i++) {
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

static void
request(net_t *n, uint64_t bytes)
{
    uint32_t id;
    size_t acc;
    n->to_send = bytes;
    assert_int_equal(tcpls_stream_open(n->client, &id), 0);
    assert_int_equal(tcpls_stream_write(n->client, id, "GET", 3, 1, &acc), 0);
}

/* Two connections; the server writes 60,000 bytes + FIN and closes at once. Everything it has
 * on connection 0 (the close_notify of a too-early close) reaches the client before anything
 * of connection 1: the client must still get every byte and the FIN, and both close cleanly. */
static void
test_close_waits_for_acks(void **state)
{
    net_t n;
    net_init(&n, 2, NULL);
    assert_int_equal(net_join(&n, 1), 0);
    net_pump(&n, 20);
    assert_int_equal(tcpls_conn_live_count(n.server), 2);
    n.close_after_write = 1;
    request(&n, 60000);
    /* the request reaches the server; its answer is built for both connections */
    for (int r = 0; r < 3; r++) {
        net_out(&n, 0);
        net_out(&n, 1);
        net_in(&n, 0, 0);
        net_in(&n, 1, 0);
    }
    assert_true(n.close_called);
    net_out(&n, 0);
    net_out(&n, 1);
    assert_true(n.c[1].s2c.len > 0); /* the rr scheduler put records on connection 1 too */
    net_in(&n, 0, 1);                /* connection 0 first, all of it */
    net_in(&n, 1, 1);
    net_pump(&n, 30);
    assert_int_equal(n.cli.received, 60000);
    assert_int_equal(n.cli.bad, 0);
    assert_int_equal(n.cli.fin, 1);
    assert_true(n.srv.closed);
    assert_int_equal(n.srv.err, 0);
    tcpls_session_close(n.client);
    net_pump(&n, 10);
    assert_true(n.cli.closed);
    assert_int_equal(n.cli.err, 0);
    net_free(&n);
}

/* We sent close_notify; the peer's TCP FIN arrives before its close_notify: that is a
 * truncation (the peer may still have been sending), not a clean end. */
static void
test_fin_after_our_close_is_not_clean(void **state)
{
    net_t n;
    net_init(&n, 1, NULL);
    assert_int_equal(tcpls_session_close(n.client), 0);
    net_out(&n, 0); /* our close_notify leaves; the server never answers */
    tcpls_conn_eof(n.client, 0);
    assert_true(n.cli.closed);
    assert_int_not_equal(n.cli.err, 0);
    net_free(&n);
}

/* A record that fails authentication on connection 1 fails that connection only: its data is
 * sent again on connection 0 and the download completes. */
static void
test_bad_record_fails_one_connection(void **state)
{
    net_t n;
    net_init(&n, 2, NULL);
    assert_int_equal(net_join(&n, 1), 0);
    net_pump(&n, 20);
    assert_int_equal(tcpls_conn_live_count(n.client), 2);
    request(&n, 200000);
    net_out(&n, 0);
    net_in(&n, 0, 0);
    net_out(&n, 0);
    net_out(&n, 1);
    assert_true(n.c[1].s2c.len > 100);
    n.c[1].s2c.buf[n.c[1].s2c.len / 2] ^= 0x40; /* a flipped bit in a record on connection 1 */
    net_in(&n, 1, 1);
    assert_false(n.cli.closed);
    assert_int_equal(n.cli.conn_state[1], 2);
    assert_true(n.cli.conn_err[1] == TCPLS_ERR_DECRYPT || n.cli.conn_err[1] == TCPLS_ERR_RECORD);
    /* the server learns it (Connection Reset); connection 1's socket is gone */
    n.c[1].dead = 1;
    net_pump(&n, 200);
    assert_int_equal(n.cli.received, 200000);
    assert_int_equal(n.cli.bad, 0);
    assert_int_equal(n.cli.fin, 1);
    assert_false(n.cli.closed);
    assert_int_equal(tcpls_conn_live_count(n.server), 1);
    net_free(&n);
}

/* Every handshake goes through a HelloRetryRequest (server: P-256 only): joins still work,
 * and a join costs exactly one token. */
static void
test_join_through_hello_retry(void **state)
{
    net_t n;
    net_init(&n, 2, "P-256");
    assert_int_equal(tcpls_session_token_count(n.client), 2);
    assert_int_equal(net_join(&n, 1), 0);
    net_pump(&n, 20);
    assert_int_equal(n.cli.conn_state[1], 1);
    assert_int_equal(tcpls_conn_live_count(n.server), 2);
    assert_int_equal(tcpls_conn_live_count(n.client), 2);
    assert_int_equal(tcpls_session_token_count(n.client), 1);
    net_free(&n);
}

/* New Token and New Address frames that went out on a connection that then failed are sent
 * again on another connection. */
static void
test_control_frames_resent(void **state)
{
    net_t n;
    tcpls_addr_t a = {.id = 3, .version = 4, .addr = {10, 0, 9, 2}, .port = 443}, got;
    net_init(&n, 2, NULL);
    assert_int_equal(net_join(&n, 1), 0);
    net_pump(&n, 20);
    assert_int_equal(tcpls_session_token_count(n.client), 1);
    /* a join consumed a token: the replacement and the address go out on connection 1 only */
    assert_int_equal(tcpls_session_add_address(n.server, &a), 0);
    net_out(&n, 1);
    assert_true(n.c[1].s2c.len > 0);
    n.c[1].s2c.len = 0; /* lost with the connection */
    n.c[1].dead = 1;
    tcpls_conn_eof(n.server, 1);
    tcpls_conn_failed(n.client, 1, 0);
    net_pump(&n, 20);
    assert_int_equal(tcpls_session_peer_address_count(n.client), 1);
    assert_int_equal(tcpls_session_peer_address(n.client, 0, &got), 0);
    assert_int_equal(got.id, 3);
    /* the token resent, and one more for the connection that left */
    assert_true(tcpls_session_token_count(n.client) >= 2);
    net_free(&n);
}

/* The key's usage limit (RFC 8446 5.5) counts records over every connection; at the limit the
 * session ends with a clear error instead of protecting one record too many. */
static void
test_key_usage_limit(void **state)
{
    net_t n;
    net_init(&n, 2, NULL);
    assert_int_equal(net_join(&n, 1), 0);
    net_pump(&n, 20);
    tcpls__session_set_aead_limit(n.server, 40);
    request(&n, 1000000);
    net_pump(&n, 100);
    assert_true(n.srv.closed);
    assert_int_equal(n.srv.err, TCPLS_ERR_KEY_LIMIT);
    assert_true(n.cli.closed);
    assert_int_not_equal(n.cli.err, 0);
    assert_true(n.cli.received < 40 * 16384);
    assert_int_equal(n.cli.bad, 0);
    net_free(&n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_waits_for_acks),
        cmocka_unit_test(test_fin_after_our_close_is_not_clean),
        cmocka_unit_test(test_bad_record_fails_one_connection),
        cmocka_unit_test(test_join_through_hello_retry),
        cmocka_unit_test(test_control_frames_resent),
        cmocka_unit_test(test_key_usage_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
