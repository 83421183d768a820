/*
 * sim_multipath.c — TCPLS multipath in injected time: one client session and one server session
 * joined by 2..8 simulated TCP connections, each with its own rate, one-way delay and kernel
 * send buffer. Checks token handout, joins, forged/reused/exhausted tokens, aggregation
 * efficiency, failover without loss or duplicate, blackhole detection time, and migration.
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

#include "../support/simlink.h"
#include "../support/tcpls_test.h"

#define MAX_LINKS 9
#define STEP_US   100

typedef struct link {
    int used, up, blackhole;
    double rate; /* bytes per microsecond */
    uint64_t delay_us;
    uint32_t conn_id;
    tcpls_session_t *srv; /* the server session fed by this connection (a joining one forwards) */
    simlink_dir_t c2s, s2c;
    uint64_t delivered; /* bytes delivered to the client over this link */
} link_t;

typedef struct sim {
    tcpls_ctx_t *cctx, *sctx;
    tcpls_session_t *client, *server;
    tcpls_session_t *shells[MAX_LINKS];
    link_t links[MAX_LINKS];
    uint64_t now_us;
    /* download */
    uint32_t stream;
    uint64_t total, written, received, bad;
    int fin, srv_stream_open, closed_err, client_closed;
    uint32_t srv_stream;
    int conn_events[MAX_LINKS]; /* client: last state seen per connection id */
    int conn_err[MAX_LINKS];
    uint64_t conn_closed_us[MAX_LINKS];
} sim_t;

static uint8_t
content(uint64_t i)
{
    return (uint8_t)(i * 131 + (i >> 9));
}

/* ---- callbacks ---- */

static void
cli_data(tcpls_session_t *s, uint32_t id, const uint8_t *data, size_t len, int fin, void *ud)
{
    sim_t *m = ud;
    for (size_t i = 0; i < len; i++)
        if (data[i] != content(m->received + i))
            m->bad++;
    m->received += len;
    if (fin)
        m->fin++;
}

static void
cli_closed(tcpls_session_t *s, int err, void *ud)
{
    sim_t *m = ud;
    m->client_closed = 1;
    m->closed_err = err;
}

static void
cli_conn_state(tcpls_session_t *s, uint32_t id, int state, int err, void *ud)
{
    sim_t *m = ud;
    if (id < MAX_LINKS) {
        m->conn_events[id] = state;
        m->conn_err[id] = err;
        if (state == 2)
            m->conn_closed_us[id] = m->now_us;
    }
}

static void
srv_write(sim_t *m)
{
    while (m->srv_stream_open && m->written < m->total) {
        uint8_t buf[16384];
        size_t n = m->total - m->written > sizeof(buf) ? sizeof(buf) : (size_t)(m->total - m->written),
               acc = 0;
        for (size_t i = 0; i < n; i++)
            buf[i] = content(m->written + i);
        if (tcpls_stream_write(m->server, m->srv_stream, buf, n, m->written + n == m->total, &acc) != 0)
            return;
        m->written += acc;
        if (acc < n)
            return;
    }
}

static void
srv_opened(tcpls_session_t *s, uint32_t id, void *ud)
{
    sim_t *m = ud;
    m->srv_stream = id;
    m->srv_stream_open = 1;
}

static void
srv_writable(tcpls_session_t *s, uint32_t id, void *ud)
{
    srv_write(ud);
}

static const tcpls_ops_t cli_ops = {NULL, NULL, cli_data, NULL, NULL, cli_closed, cli_conn_state};
static const tcpls_ops_t srv_ops = {NULL, srv_opened, NULL, srv_writable, NULL, NULL, NULL};

/* ---- the network ---- */

static void
sim_init(sim_t *m, unsigned tokens, const char *sched)
{
    tcpls_ctx_config_t sc = {.is_server = 1, .tokens = tokens, .scheduler = sched};
    memset(m, 0, sizeof(*m));
    m->sctx = tst_server_ctx(NULL);
    m->cctx = tst_client_ctx(NULL);
    assert_non_null(m->sctx);
    assert_non_null(m->cctx);
    /* a server context with the token count and scheduler asked for, same certificate */
    {
        char err[256];
        tcpls_ctx_t *ctx = tcpls_ctx_new(&sc, err, sizeof(err));
        assert_non_null(ctx);
        SSL_CTX_use_certificate(tcpls_ctx_ssl_ctx(ctx), SSL_CTX_get0_certificate(tcpls_ctx_ssl_ctx(m->sctx)));
        SSL_CTX_use_PrivateKey(tcpls_ctx_ssl_ctx(ctx), SSL_CTX_get0_privatekey(tcpls_ctx_ssl_ctx(m->sctx)));
        tcpls_ctx_free(m->sctx);
        m->sctx = ctx;
    }
    m->client = tcpls_session_new(m->cctx, &cli_ops, m, "localhost");
    m->server = tcpls_session_new(m->sctx, &srv_ops, m, NULL);
    assert_non_null(m->client);
    assert_non_null(m->server);
}

static void
sim_link(sim_t *m, int i, double mbps, double delay_ms)
{
    link_t *l = &m->links[i];
    l->used = 1;
    l->up = 1;
    l->rate = mbps / 8.0; /* Mbit/s = bits per us; bytes per us = /8 */
    l->delay_us = (uint64_t)(delay_ms * 1000);
}

static void
sim_step(sim_t *m)
{
    m->now_us += STEP_US;
    tcpls_session_set_time(m->client, m->now_us * 1000);
    tcpls_session_set_time(m->server, m->now_us * 1000);
    for (int i = 0; i < MAX_LINKS; i++) {
        link_t *l = &m->links[i];
        if (!l->used || !l->up || l->srv == NULL)
            continue;
        /* a joining server session has its own connection 0, and forwards once joined */
        uint32_t sid = l->srv == m->server ? l->conn_id : 0;
        /* like tcp_info: RTT, unsent kernel bytes, delivery rate in bit/s */
        uint64_t bps = (uint64_t)(l->rate * 8e6);
        tcpls_conn_set_metrics(m->client, l->conn_id, (uint32_t)(2 * l->delay_us), (uint32_t)l->c2s.slen,
                               bps);
        tcpls_conn_set_metrics(m->server, l->conn_id, (uint32_t)(2 * l->delay_us), (uint32_t)l->s2c.slen,
                               bps);
        simlink_dir_write(&l->c2s, m->client, l->conn_id);
        simlink_dir_write(&l->s2c, l->srv, sid);
        simlink_dir_step(&l->c2s, l->rate, l->delay_us, l->blackhole, m->now_us, STEP_US);
        simlink_dir_step(&l->s2c, l->rate, l->delay_us, l->blackhole, m->now_us, STEP_US);
        simlink_dir_deliver(&l->c2s, m->now_us, l->srv, sid, NULL);
        simlink_dir_deliver(&l->s2c, m->now_us, m->client, l->conn_id, &l->delivered);
    }
    srv_write(m);
}

static void
sim_run_until(sim_t *m, uint64_t until_us)
{
    while (m->now_us < until_us && !m->client_closed)
        sim_step(m);
}

/* Connects link 0 as connection 0 and runs the handshake. */
static void
sim_start(sim_t *m)
{
    m->links[0].srv = m->server;
    m->links[0].conn_id = 0;
    for (int i = 0; i < 2000 && !tcpls_session_is_established(m->client); i++)
        sim_step(m);
    assert_true(tcpls_session_is_tcpls(m->client));
    sim_run_until(m, m->now_us + 200000); /* New Token frames arrive */
}

/* Joins link i: a fresh server session takes the connection (and forwards to the target). */
static int
sim_join(sim_t *m, int i)
{
    uint32_t id;
    int r = tcpls_join(m->client, 0, &id);
    if (r != 0)
        return r;
    m->links[i].conn_id = id;
    m->shells[i] = tcpls_session_new(m->sctx, &srv_ops, m, NULL);
    m->links[i].srv = m->shells[i];
    return 0;
}

static void
sim_free(sim_t *m)
{
    for (int i = 0; i < MAX_LINKS; i++) {
        simlink_dir_free(&m->links[i].c2s);
        simlink_dir_free(&m->links[i].s2c);
        tcpls_session_free(m->shells[i]);
    }
    tcpls_session_free(m->client);
    tcpls_session_free(m->server);
    tcpls_ctx_free(m->cctx);
    tcpls_ctx_free(m->sctx);
}

static void
sim_download(sim_t *m, uint64_t total)
{
    uint32_t id;
    size_t acc;
    m->total = total;
    assert_int_equal(tcpls_stream_open(m->client, &id), 0);
    assert_int_equal(tcpls_stream_write(m->client, id, "GET", 3, 1, &acc), 0);
}

/* ---- tests ---- */

/* Runs until the download is complete (at most 30 s after t0): every byte, once, intact. */
static void
sim_finish(sim_t *m, uint64_t t0)
{
    while (m->fin == 0 && m->now_us - t0 < 30000000)
        sim_step(m);
    assert_int_equal(m->fin, 1);
    assert_int_equal(m->received, m->total);
    assert_int_equal(m->bad, 0);
}

/* Two equal links (mbps, one-way delay_ms), connection 1 joined and settled, then a download
 * of total bytes starts. Returns its start time. */
static uint64_t
sim_two_links_download(sim_t *m, double mbps, double delay_ms, uint64_t total)
{
    sim_init(m, 2, NULL);
    sim_link(m, 0, mbps, delay_ms);
    sim_link(m, 1, mbps, delay_ms);
    sim_start(m);
    assert_int_equal(sim_join(m, 1), 0);
    sim_run_until(m, m->now_us + 300000);
    uint64_t t0 = m->now_us;
    sim_download(m, total);
    return t0;
}

static void
test_tokens_and_joins(void **state)
{
    sim_t m;
    sim_init(&m, 3, NULL);
    for (int i = 0; i < 5; i++)
        sim_link(&m, i, 50, 5);
    {
        tcpls_addr_t a = {.id = 7, .version = 4, .addr = {10, 0, 2, 2}, .port = 8443}, got;
        assert_int_equal(tcpls_session_add_address(m.server, &a), 0);
        sim_start(&m);
        assert_int_equal(tcpls_session_peer_address_count(m.client), 1);
        assert_int_equal(tcpls_session_peer_address(m.client, 0, &got), 0);
        assert_int_equal(got.id, 7);
        assert_int_equal(got.port, 8443);
        assert_memory_equal(got.addr, a.addr, 4);
        assert_int_equal(tcpls_session_remove_address(m.server, 7), 0);
        sim_run_until(&m, m.now_us + 100000);
        assert_int_equal(tcpls_session_peer_address(m.client, 0, &got), 0);
        assert_int_equal(got.removed, 1);
        /* the client advertises its addresses too (informational: the server cannot connect) */
        tcpls_addr_t ca = {.id = 2, .version = 4, .addr = {10, 0, 3, 1}, .port = 0};
        assert_int_equal(tcpls_session_add_address(m.client, &ca), 0);
        sim_run_until(&m, m.now_us + 100000);
        assert_int_equal(tcpls_session_peer_address_count(m.server), 1);
        assert_int_equal(tcpls_session_peer_address(m.server, 0, &got), 0);
        assert_int_equal(got.id, 2);
        assert_memory_equal(got.addr, ca.addr, 4);
    }
    assert_int_equal(tcpls_session_token_count(m.client), 3);
    for (int i = 1; i <= 3; i++)
        assert_int_equal(sim_join(&m, i), 0);
    assert_int_equal(tcpls_join(m.client, 0, &(uint32_t){0}), TCPLS_ERR_NO_TOKEN); /* exhausted */
    sim_run_until(&m, m.now_us + 300000);
    assert_int_equal(tcpls_conn_live_count(m.client), 4);
    assert_int_equal(tcpls_conn_live_count(m.server), 4);
    for (int i = 1; i <= 3; i++) {
        tcpls_session_t *t = NULL;
        uint32_t cid = 99;
        assert_int_equal(m.conn_events[i], 1);
        assert_int_equal(tcpls_session_joined(m.shells[i], &t, &cid), 1);
        assert_ptr_equal(t, m.server);
        assert_int_equal(cid, (uint32_t)i); /* the token's sequence = the connection id */
    }
    /* all three used: nothing handed out until a connection leaves */
    assert_int_equal(tcpls_session_token_count(m.client), 0);
    assert_int_equal(tcpls_conn_failed(m.client, 2, 0), 0);
    m.links[2].up = 0;
    sim_run_until(&m, m.now_us + 300000);
    assert_int_equal(tcpls_conn_live_count(m.server), 3);
    assert_int_equal(tcpls_session_token_count(m.client), 1); /* replenished */
    assert_int_equal(sim_join(&m, 4), 0);
    assert_int_equal(m.links[4].conn_id, 4); /* fresh sequence number */
    sim_run_until(&m, m.now_us + 300000);
    assert_int_equal(m.conn_events[4], 1);
    assert_int_equal(tcpls_conn_live_count(m.client), 4);
    sim_free(&m);
}

/* A join with a forged token, and one replaying a used token: refused with illegal_parameter,
 * the target session goes on. */
/* The server's tokens and addresses ride with its handshake flight (0.5-RTT): the client
 * knows where and how to join the moment its handshake completes, not a round trip later. */
static void
test_first_flight(void **state)
{
    sim_t m;
    tcpls_addr_t a = {.id = 1, .version = 4, .addr = {10, 0, 2, 2}, .port = 8443};
    sim_init(&m, 3, NULL);
    sim_link(&m, 0, 50, 20);
    assert_int_equal(tcpls_session_add_address(m.server, &a), 0);
    m.links[0].srv = m.server;
    m.links[0].conn_id = 0;
    for (int i = 0; i < 5000 && !tcpls_session_is_established(m.client); i++)
        sim_step(&m);
    assert_true(tcpls_session_is_tcpls(m.client));
    assert_int_equal(tcpls_session_peer_address_count(m.client), 1);
    assert_int_equal(tcpls_session_token_count(m.client), 3);
    sim_free(&m);
}

static void
test_bad_tokens(void **state)
{
    sim_t m;
    sim_init(&m, 2, NULL);
    for (int i = 0; i < 4; i++)
        sim_link(&m, i, 50, 5);
    sim_start(&m);
    assert_int_equal(tcpls_session_token_count(m.client), 2);
    /* Forge: a second client session of its own (valid handshake) cannot join without a token;
     * simulate forgery by joining, then corrupting the token bytes in the ClientHello. */
    uint32_t id;
    const uint8_t *out;
    size_t len;
    assert_int_equal(tcpls_join(m.client, 0, &id), 0);
    assert_int_equal(tcpls_conn_output(m.client, id, &out, &len), 0);
    assert_true(len > 100);
    /* the token sits in the ClientHello; flipping a byte of every 32-byte window would be too
     * blunt: find the extension 0xff5e (32 bytes: the token) and flip its first byte */
    for (size_t k = 0; k + 4 < len; k++) {
        if (out[k] == 0xff && out[k + 1] == 0x5e && out[k + 2] == 0 && out[k + 3] == 32) {
            ((uint8_t *)out)[k + 4] ^= 1;
            break;
        }
    }
    m.links[1].conn_id = id;
    m.shells[1] = tcpls_session_new(m.sctx, &srv_ops, &m, NULL);
    m.links[1].srv = m.shells[1];
    sim_run_until(&m, m.now_us + 300000);
    /* refused: the token is unknown (illegal_parameter), or, since the PSK binder covers the
     * ClientHello, the binder fails first (decrypt_error) */
    assert_int_equal(m.conn_events[id], 2);
    assert_true(m.conn_err[id] == TCPLS_ERR_TOKEN || m.conn_err[id] == TCPLS_ERR_HANDSHAKE);
    assert_true(tcpls_session_is_closed(m.shells[1]));
    assert_true(tcpls_session_error(m.shells[1]) == TCPLS_ERR_TOKEN ||
                tcpls_session_error(m.shells[1]) == TCPLS_ERR_HANDSHAKE);
    assert_false(tcpls_session_is_closed(m.server));
    assert_int_equal(tcpls_conn_live_count(m.server), 1);

    /* Replay: join with the other token, then replay the same ClientHello on a new link. */
    uint8_t hello[4096];
    size_t hlen;
    assert_int_equal(tcpls_join(m.client, 0, &id), 0);
    assert_int_equal(tcpls_conn_output(m.client, id, &out, &len), 0);
    assert_true(len < sizeof(hello));
    memcpy(hello, out, len);
    hlen = len;
    m.links[2].conn_id = id;
    m.shells[2] = tcpls_session_new(m.sctx, &srv_ops, &m, NULL);
    m.links[2].srv = m.shells[2];
    sim_run_until(&m, m.now_us + 300000);
    assert_int_equal(m.conn_events[id], 1);
    m.shells[3] = tcpls_session_new(m.sctx, &srv_ops, &m, NULL);
    tcpls_receive(m.shells[3], 0, hello, hlen, m.now_us * 1000);
    assert_true(tcpls_session_is_closed(m.shells[3]));
    assert_int_equal(tcpls_session_error(m.shells[3]), TCPLS_ERR_TOKEN);
    assert_int_equal(tcpls_conn_output(m.shells[3], 0, &out, &len), 0);
    assert_true(len >= 7);
    assert_int_equal(out[0], 21); /* an alert record */
    assert_int_equal(out[6], 47); /* illegal_parameter */
    assert_int_equal(tcpls_conn_live_count(m.server), 2);
    assert_false(tcpls_session_is_closed(m.server));
    sim_free(&m);
}

static double
run_aggregation(int nlinks, const double *mbps, const double *delay, const char *sched, uint64_t total,
                uint64_t *per_link)
{
    sim_t m;
    double sum = 0, ideal, took;
    uint64_t t0;
    sim_init(&m, (unsigned)nlinks, sched);
    for (int i = 0; i < nlinks; i++) {
        sim_link(&m, i, mbps[i], delay[i]);
        sum += mbps[i];
    }
    sim_start(&m);
    for (int i = 1; i < nlinks; i++)
        assert_int_equal(sim_join(&m, i), 0);
    sim_run_until(&m, m.now_us + 500000);
    assert_int_equal(tcpls_conn_live_count(m.client), (size_t)nlinks);
    t0 = m.now_us;
    sim_download(&m, total);
    while (m.fin == 0 && m.now_us - t0 < 60000000)
        sim_step(&m);
    assert_int_equal(m.fin, 1);
    assert_int_equal(m.received, total);
    assert_int_equal(m.bad, 0);
    took = (double)(m.now_us - t0) / 1e6;
    ideal = (double)total * 8 / (sum * 1e6);
    for (int i = 0; i < nlinks && per_link; i++)
        per_link[i] = m.links[i].delivered;
    sim_free(&m);
    return ideal / took;
}

static void
test_aggregation(void **state)
{
    static const double r2[] = {30, 70}, d2[] = {10, 10}, d2b[] = {10, 40};
    static const double r4[] = {10, 20, 30, 40}, d4[] = {5, 10, 20, 40};
    static const double r8[] = {5, 5, 10, 10, 20, 20, 15, 15}, d8[] = {2, 4, 6, 8, 10, 12, 14, 16};
    uint64_t per[8];
    double e;

    e = run_aggregation(2, r2, d2, NULL, 20u << 20, per);
    print_message("aggregation 30+70 Mbit/s, 10/10 ms: %.3f (link bytes %llu %llu)\n", e,
                  (unsigned long long)per[0], (unsigned long long)per[1]);
    assert_true(e > 0.85);
    assert_true(per[0] > (1u << 20) && per[1] > (1u << 20));
    e = run_aggregation(2, r2, d2b, NULL, 20u << 20, per);
    print_message("aggregation 30+70 Mbit/s, 10/40 ms: %.3f\n", e);
    assert_true(e > 0.8);
    e = run_aggregation(4, r4, d4, NULL, 20u << 20, per);
    print_message("aggregation 4 links: %.3f\n", e);
    assert_true(e > 0.8);
    e = run_aggregation(8, r8, d8, NULL, 20u << 20, per);
    print_message("aggregation 8 links: %.3f\n", e);
    assert_true(e > 0.75);
    for (int i = 0; i < 8; i++)
        assert_true(per[i] > 0);
    e = run_aggregation(2, r2, d2, "rr", 10u << 20, per);
    print_message("aggregation rr 30+70: %.3f\n", e);
    assert_true(e > 0.5);
    e = run_aggregation(2, r2, d2, "minrtt", 10u << 20, per);
    print_message("aggregation minrtt 30+70: %.3f\n", e);
}

/* Goodput over links of rates mbps[] in simulated time: bytes / time, Mbit/s. */
static double
run_goodput(int nlinks, const double *mbps, const double *delay, uint64_t total, uint64_t *per_link)
{
    double sum = 0, e = run_aggregation(nlinks, mbps, delay, NULL, total, per_link);
    for (int i = 0; i < nlinks; i++)
        sum += mbps[i];
    return e * sum;
}

/* Skewed links (2 + 48 Mbit/s): the default scheduler must not let the slow path hold the
 * receiver back; goodput at least ~0.95 of the fast link alone, and both links still used. */
static void
test_skewed(void **state)
{
    static const double r[] = {2, 48}, d[] = {10, 10}, r5[] = {5, 45}, rr[] = {48, 2};
    uint64_t per[2];
    double g;

    g = run_goodput(2, r, d, 20u << 20, per);
    print_message("skewed 2+48 Mbit/s, 10/10 ms: %.1f Mbit/s (link bytes %llu %llu)\n", g,
                  (unsigned long long)per[0], (unsigned long long)per[1]);
    assert_true(g >= 0.95 * 48);
    assert_true(per[0] > 0 && per[1] > 0);
    g = run_goodput(2, rr, d, 20u << 20, per);
    print_message("skewed 48+2 Mbit/s, 10/10 ms: %.1f Mbit/s\n", g);
    assert_true(g >= 0.95 * 48);
    g = run_goodput(2, r5, d, 20u << 20, per);
    print_message("skewed 5+45 Mbit/s, 10/10 ms: %.1f Mbit/s (link bytes %llu %llu)\n", g,
                  (unsigned long long)per[0], (unsigned long long)per[1]);
    assert_true(g >= 0.95 * 45);
    assert_true(per[0] > 0 && per[1] > 0);
}

/* A connection reset in the middle of a download: every byte arrives once, in order. */
static void
test_failover_reset(void **state)
{
    sim_t m;
    uint64_t t0;
    sim_init(&m, 2, NULL);
    sim_link(&m, 0, 40, 10);
    sim_link(&m, 1, 40, 20);
    sim_link(&m, 2, 40, 5);
    sim_start(&m);
    assert_int_equal(sim_join(&m, 1), 0);
    sim_run_until(&m, m.now_us + 300000);
    t0 = m.now_us;
    sim_download(&m, 16u << 20);
    sim_run_until(&m, t0 + 1000000);
    assert_true(m.received > 0 && m.received < m.total);
    /* RST on connection 0: in-flight bytes are lost, both ends see it */
    m.links[0].up = 0;
    simlink_dir_free(&m.links[0].c2s);
    simlink_dir_free(&m.links[0].s2c);
    assert_int_equal(tcpls_conn_eof(m.client, 0), 0);
    assert_int_equal(tcpls_conn_eof(m.server, 0), 0);
    assert_int_equal(m.conn_events[0], 2);
    /* break-before-make on top: join a new path with the replenished token */
    sim_run_until(&m, m.now_us + 200000);
    assert_int_equal(sim_join(&m, 2), 0);
    sim_finish(&m, t0);
    assert_true(m.links[2].delivered > 0);
    assert_false(m.client_closed);
    sim_free(&m);
}

/* A blackhole: the application notices no acknowledgment progress and gives the connection up
 * after its timeout; the data moves to the other connection. */
static void
test_blackhole(void **state)
{
    const uint64_t timeout_us = 300000;
    sim_t m;
    uint64_t t0, hole_at, detected_at = 0;
    t0 = sim_two_links_download(&m, 40, 10, 12u << 20);
    sim_run_until(&m, t0 + 800000);
    hole_at = m.now_us;
    m.links[1].blackhole = 1;
    while (m.fin == 0 && m.now_us - t0 < 30000000) {
        sim_step(&m);
        uint64_t since = tcpls_conn_stalled_since(m.server, 1);
        if (detected_at == 0 && since != 0 && m.now_us * 1000 - since > timeout_us * 1000) {
            detected_at = m.now_us;
            assert_int_equal(tcpls_conn_failed(m.server, 1, TCPLS_ERR_CONN_FAILED), 0);
            m.links[1].up = 0;
        }
    }
    print_message("blackhole detected after %.0f ms (timeout %.0f ms)\n", (detected_at - hole_at) / 1e3,
                  timeout_us / 1e3);
    assert_true(detected_at > 0);
    assert_true(detected_at - hole_at < timeout_us + 100000); /* timeout + about one RTT */
    assert_int_equal(m.fin, 1);
    assert_int_equal(m.received, m.total);
    assert_int_equal(m.bad, 0);
    /* the client learned it through the Connection Reset frame */
    assert_int_equal(m.conn_events[1], 2);
    sim_free(&m);
}

/* Migration: new data moves from connection 0 to 1, nothing lost, 0 drains and closes. */
static void
test_migration(void **state)
{
    sim_t m;
    uint64_t t0, before;
    tcpls_conn_info_t ci;
    sim_init(&m, 2, NULL);
    sim_link(&m, 0, 40, 10);
    sim_link(&m, 1, 40, 10);
    sim_start(&m);
    assert_int_equal(sim_join(&m, 1), 0);
    sim_run_until(&m, m.now_us + 300000);
    assert_int_equal(tcpls_conn_set_backup(m.server, 1, 1), 0); /* 1 is a backup at first */
    t0 = m.now_us;
    sim_download(&m, 8u << 20);
    sim_run_until(&m, t0 + 500000);
    assert_int_equal(m.links[1].delivered < 4096, 1); /* backup: (almost) nothing */
    assert_int_equal(tcpls_conn_migrate(m.server, 0, 1), 0);
    sim_run_until(&m, m.now_us + 200000);
    assert_int_equal(tcpls_conn_info(m.server, 0, &ci), 0);
    assert_int_equal(ci.unacked_records, 0);
    before = m.links[0].delivered;
    assert_int_equal(tcpls_conn_failed(m.server, 0, 0), 0); /* orderly close after draining */
    m.links[0].up = 0;
    sim_finish(&m, t0);
    assert_int_equal(m.links[0].delivered, before);
    assert_true(m.links[1].delivered > (4u << 20));
    sim_free(&m);
}

/* Priority change during the session: the client marks connection 0 as a backup (Connection
 * Priority frame); the server, which sends the download, stops putting data on it, and uses it
 * again once it is normal again. */
static void
test_priority_change(void **state)
{
    sim_t m;
    uint64_t t0, d0;
    t0 = sim_two_links_download(&m, 20, 10, 16u << 20);
    sim_run_until(&m, t0 + 1000000);
    assert_true(m.links[0].delivered > (512u << 10)); /* both in use */
    assert_int_equal(tcpls_conn_set_backup(m.client, 0, 1), 0);
    sim_run_until(&m, m.now_us + 300000); /* the frame arrives, queued records drain */
    d0 = m.links[0].delivered;
    sim_run_until(&m, m.now_us + 1000000);
    print_message("after the priority change: %llu bytes on the backup in 1 s\n",
                  (unsigned long long)(m.links[0].delivered - d0));
    assert_true(m.links[0].delivered - d0 < 16384); /* ACKs and control only */
    assert_int_equal(tcpls_conn_set_backup(m.client, 0, 0), 0);
    d0 = m.links[0].delivered;
    sim_run_until(&m, m.now_us + 1000000);
    assert_true(m.links[0].delivered - d0 > (512u << 10)); /* in use again */
    sim_finish(&m, t0);
    sim_free(&m);
}

/* A download starts on a slow path (2 Mbit/s), which takes a queue of data before a fast one
 * (48 Mbit/s) joins: the data stuck in the slow path's queue is reinjected on the fast path,
 * so the receiver does not wait a second for it. */
static void
test_reinjection(void **state)
{
    sim_t m;
    uint64_t t0, total = 8u << 20;
    sim_init(&m, 2, NULL);
    sim_link(&m, 0, 2, 10);
    sim_link(&m, 1, 48, 10);
    sim_start(&m);
    t0 = m.now_us;
    sim_download(&m, total);
    sim_run_until(&m, t0 + 200000);
    assert_int_equal(sim_join(&m, 1), 0);
    sim_finish(&m, t0);
    double secs = (double)(m.now_us - t0) / 1e6;
    print_message("download started on 2 Mbit/s, 48 Mbit/s joined at 0.2 s: %.2f s, %.1f Mbit/s, "
                  "reinjected %llu bytes\n",
                  secs, (double)total * 8 / secs / 1e6,
                  (unsigned long long)tcpls_session_reinjected_bytes(m.server));
    assert_true(tcpls_session_reinjected_bytes(m.server) > 0);
    /* ideal: 0.2 s at 2 Mbit/s, then 50 Mbit/s: about 1.6 s */
    assert_true(secs < 2.0);
    sim_free(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_and_joins), cmocka_unit_test(test_first_flight),
        cmocka_unit_test(test_bad_tokens),       cmocka_unit_test(test_aggregation),
        cmocka_unit_test(test_skewed),           cmocka_unit_test(test_failover_reset),
        cmocka_unit_test(test_blackhole),        cmocka_unit_test(test_migration),
        cmocka_unit_test(test_reinjection),      cmocka_unit_test(test_priority_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
