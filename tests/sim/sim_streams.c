/*
 * sim_streams.c — the stream policies (TCPLS_STREAMS_SPREAD, TCPLS_STREAMS_PIN) in injected time:
 * a client asks for several objects at once, one stream each, over two simulated connections;
 * the server answers on every stream. One path can be made lossy: TCP recovers a loss by
 * holding everything behind it, so the path freezes now and then (nothing leaves, nothing
 * arrives) for a retransmission's time. With pinned streams, the streams of the clean path must
 * finish as if the other path were clean; with spread streams every stream waits for the lossy
 * path.
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

#define NLINKS      2
#define MAX_OBJECTS 16
#define STEP_US     100

typedef struct link {
    double rate; /* bytes per microsecond */
    uint64_t delay_us;
    uint64_t freeze_every_us, freeze_us; /* lossy: frozen freeze_us out of every freeze_every_us */
    uint32_t conn_id;
    tcpls_session_t *srv;
    simlink_dir_t c2s, s2c;
    uint64_t delivered;
} link_t;

typedef struct object {
    uint32_t cli_id, srv_id;
    int srv_open;
    uint64_t written, received, bad;
    uint64_t done_us; /* client: when its last byte arrived (0: not yet) */
} object_t;

typedef struct sim {
    tcpls_ctx_t *cctx, *sctx;
    tcpls_session_t *client, *server, *shell;
    link_t links[NLINKS];
    uint64_t now_us, size;
    object_t obj[MAX_OBJECTS];
    size_t nobj, srv_opened, done;
} sim_t;

static uint8_t
content(uint32_t stream, uint64_t i)
{
    return (uint8_t)(i * 131 + (i >> 9) + stream);
}

static object_t *
obj_by_cli(sim_t *m, uint32_t id)
{
    for (size_t i = 0; i < m->nobj; i++)
        if (m->obj[i].cli_id == id)
            return &m->obj[i];
    return NULL;
}

static void
cli_data(tcpls_session_t *s, uint32_t id, const uint8_t *data, size_t len, int fin, void *ud)
{
    sim_t *m = ud;
    object_t *o = obj_by_cli(m, id);
    assert_non_null(o);
    for (size_t i = 0; i < len; i++)
        if (data[i] != content(o->srv_id, o->received + i))
            o->bad++;
    o->received += len;
    if (fin) {
        o->done_us = m->now_us;
        m->done++;
    }
}

/* The server answers stream k (in the order opened) with size bytes. */
static void
srv_write(sim_t *m)
{
    for (size_t k = 0; k < m->srv_opened; k++) {
        object_t *o = &m->obj[k];
        while (o->written < m->size) {
            uint8_t buf[16384];
            size_t n = m->size - o->written > sizeof(buf) ? sizeof(buf) : (size_t)(m->size - o->written),
                   acc = 0;
            for (size_t i = 0; i < n; i++)
                buf[i] = content(o->srv_id, o->written + i);
            if (tcpls_stream_write(m->server, o->srv_id, buf, n, o->written + n == m->size, &acc) != 0)
                return;
            o->written += acc;
            if (acc < n)
                break;
        }
    }
}

static void
srv_opened(tcpls_session_t *s, uint32_t id, void *ud)
{
    sim_t *m = ud;
    assert_true(m->srv_opened < m->nobj);
    m->obj[m->srv_opened++].srv_id = id; /* client and server ids match: both count in order */
}

static void
srv_writable(tcpls_session_t *s, uint32_t id, void *ud)
{
    srv_write(ud);
}

static const tcpls_ops_t cli_ops = {NULL, NULL, cli_data, NULL, NULL, NULL, NULL};
static const tcpls_ops_t srv_ops = {NULL, srv_opened, NULL, srv_writable, NULL, NULL, NULL};

static int
frozen(const link_t *l, uint64_t now_us)
{
    return l->freeze_every_us > 0 && now_us % l->freeze_every_us >= l->freeze_every_us - l->freeze_us;
}

static void
sim_step(sim_t *m)
{
    m->now_us += STEP_US;
    tcpls_session_set_time(m->client, m->now_us * 1000);
    tcpls_session_set_time(m->server, m->now_us * 1000);
    for (int i = 0; i < NLINKS; i++) {
        link_t *l = &m->links[i];
        if (l->srv == NULL || frozen(l, m->now_us))
            continue;
        uint32_t sid = l->srv == m->server ? l->conn_id : 0;
        uint64_t bps = (uint64_t)(l->rate * 8e6);
        tcpls_conn_set_metrics(m->client, l->conn_id, (uint32_t)(2 * l->delay_us), (uint32_t)l->c2s.slen,
                               bps);
        tcpls_conn_set_metrics(m->server, l->conn_id, (uint32_t)(2 * l->delay_us), (uint32_t)l->s2c.slen,
                               bps);
        simlink_dir_write(&l->c2s, m->client, l->conn_id);
        simlink_dir_write(&l->s2c, l->srv, sid);
        simlink_dir_step(&l->c2s, l->rate, l->delay_us, 0, m->now_us, STEP_US);
        simlink_dir_step(&l->s2c, l->rate, l->delay_us, 0, m->now_us, STEP_US);
        simlink_dir_deliver(&l->c2s, m->now_us, l->srv, sid, NULL);
        simlink_dir_deliver(&l->s2c, m->now_us, m->client, l->conn_id, &l->delivered);
    }
    srv_write(m);
}

static void
sim_run_until(sim_t *m, uint64_t until_us)
{
    while (m->now_us < until_us)
        sim_step(m);
}

/* Two 20 Mbit/s links of 10 ms one-way delay (link 1 lossy if asked), connection 1 joined and
 * settled; the server's session uses policy. */
static void
sim_init(sim_t *m, int policy, int lossy)
{
    memset(m, 0, sizeof(*m));
    m->cctx = tst_client_ctx(NULL);
    m->sctx = tst_server_ctx(NULL);
    assert_non_null(m->cctx);
    assert_non_null(m->sctx);
    m->client = tcpls_session_new(m->cctx, &cli_ops, m, "localhost");
    m->server = tcpls_session_new(m->sctx, &srv_ops, m, NULL);
    assert_non_null(m->client);
    assert_non_null(m->server);
    assert_int_equal(tcpls_session_set_stream_policy(m->server, policy), 0);
    for (int i = 0; i < NLINKS; i++) {
        m->links[i].rate = 20 / 8.0;
        m->links[i].delay_us = 10000;
    }
    if (lossy) { /* a 250 ms recovery every 500 ms: half the capacity, in bursts */
        m->links[1].freeze_every_us = 500000;
        m->links[1].freeze_us = 250000;
    }
    m->links[0].srv = m->server;
    for (int i = 0; i < 2000 && !tcpls_session_is_established(m->client); i++)
        sim_step(m);
    assert_true(tcpls_session_is_tcpls(m->client));
    sim_run_until(m, m->now_us + 200000);
    assert_int_equal(tcpls_join(m->client, 0, &m->links[1].conn_id), 0);
    m->shell = tcpls_session_new(m->sctx, &srv_ops, m, NULL);
    m->links[1].srv = m->shell;
    sim_run_until(m, m->now_us + 300000);
    assert_int_equal(tcpls_conn_live_count(m->server), 2);
}

static void
sim_free(sim_t *m)
{
    for (int i = 0; i < NLINKS; i++) {
        simlink_dir_free(&m->links[i].c2s);
        simlink_dir_free(&m->links[i].s2c);
    }
    tcpls_session_free(m->shell);
    tcpls_session_free(m->client);
    tcpls_session_free(m->server);
    tcpls_ctx_free(m->cctx);
    tcpls_ctx_free(m->sctx);
}

/* Asks for nobj objects of size bytes at once and runs until all arrived (at most 60 s).
 * conn_of[k] gets the server's connection of object k (TCPLS_STREAMS_PIN; else UINT32_MAX). */
static uint64_t
sim_fetch(sim_t *m, size_t nobj, uint64_t size, uint32_t *conn_of)
{
    uint64_t t0 = m->now_us;
    m->nobj = nobj;
    m->size = size;
    for (size_t k = 0; k < nobj; k++) {
        size_t acc;
        assert_int_equal(tcpls_stream_open(m->client, &m->obj[k].cli_id), 0);
        assert_int_equal(tcpls_stream_write(m->client, m->obj[k].cli_id, "GET", 3, 1, &acc), 0);
        conn_of[k] = UINT32_MAX;
    }
    while (m->done < nobj && m->now_us - t0 < 60000000) {
        sim_step(m);
        for (size_t k = 0; k < m->srv_opened; k++)
            if (conn_of[k] == UINT32_MAX)
                tcpls_stream_conn(m->server, m->obj[k].srv_id, &conn_of[k]);
    }
    assert_int_equal(m->done, nobj);
    for (size_t k = 0; k < nobj; k++) {
        assert_int_equal(m->obj[k].received, size);
        assert_int_equal(m->obj[k].bad, 0);
    }
    return t0;
}

/* Completion times (s after t0) of the objects on connection conn (any: UINT32_MAX): the
 * earliest and the latest. Returns how many objects. */
static size_t
sim_times(const sim_t *m, uint64_t t0, const uint32_t *conn_of, uint32_t conn, double *first, double *last)
{
    size_t n = 0;
    *first = 1e9;
    *last = 0;
    for (size_t k = 0; k < m->nobj; k++) {
        double t = (double)(m->obj[k].done_us - t0) / 1e6;
        if (conn != UINT32_MAX && conn_of[k] != conn)
            continue;
        n++;
        if (t < *first)
            *first = t;
        if (t > *last)
            *last = t;
    }
    return n;
}

/* Pinned streams are balanced over both connections, each kept on one. */
static void
test_pin_balanced(void **state)
{
    sim_t m;
    uint32_t conn_of[MAX_OBJECTS];
    double first, last;

    sim_init(&m, TCPLS_STREAMS_PIN, 0);
    uint64_t t0 = sim_fetch(&m, 8, 1u << 20, conn_of);
    size_t on0 = sim_times(&m, t0, conn_of, 0, &first, &last);
    size_t on1 = sim_times(&m, t0, conn_of, m.links[1].conn_id, &first, &last);
    print_message("pin, clean paths: %zu and %zu streams per connection, link bytes %llu %llu\n", on0, on1,
                  (unsigned long long)m.links[0].delivered, (unsigned long long)m.links[1].delivered);
    assert_int_equal(on0, 4);
    assert_int_equal(on1, 4);
    assert_true(m.links[0].delivered > (4u << 20) && m.links[1].delivered > (4u << 20));
    sim_free(&m);
}

/* Loss on path 1: the streams pinned to path 0 finish as fast as without the loss (within 5%),
 * whereas with spread streams even the first object waits for the lossy path. */
static void
test_pin_isolates_loss(void **state)
{
    sim_t m;
    uint32_t conn_of[MAX_OBJECTS];
    double clean_first, clean_last, pin_first, pin_last, lossy_first, lossy_last, spread_first, spread_last;
    const size_t nobj = 8;
    const uint64_t size = 1u << 20;
    uint64_t t0;

    sim_init(&m, TCPLS_STREAMS_PIN, 0);
    t0 = sim_fetch(&m, nobj, size, conn_of);
    sim_times(&m, t0, conn_of, 0, &clean_first, &clean_last);
    sim_free(&m);

    sim_init(&m, TCPLS_STREAMS_PIN, 1);
    t0 = sim_fetch(&m, nobj, size, conn_of);
    sim_times(&m, t0, conn_of, 0, &pin_first, &pin_last);
    sim_times(&m, t0, conn_of, m.links[1].conn_id, &lossy_first, &lossy_last);
    sim_free(&m);

    sim_init(&m, TCPLS_STREAMS_SPREAD, 1);
    t0 = sim_fetch(&m, nobj, size, conn_of);
    sim_times(&m, t0, conn_of, UINT32_MAX, &spread_first, &spread_last);
    sim_free(&m);

    print_message("8 x 1 MiB over 2 x 20 Mbit/s, path 1 frozen 250 ms of every 500 ms:\n"
                  "  pin, clean: path-0 streams done %.3f-%.3f s\n"
                  "  pin, lossy: path-0 streams %.3f-%.3f s, path-1 streams %.3f-%.3f s\n"
                  "  spread, lossy: streams %.3f-%.3f s\n",
                  clean_first, clean_last, pin_first, pin_last, lossy_first, lossy_last, spread_first,
                  spread_last);
    assert_true(pin_last <= clean_last * 1.05);
    assert_true(lossy_last > pin_last);
    assert_true(spread_first > pin_last);
}

/* A pinned stream whose connection fails moves to the other one: nothing lost. */
static void
test_pin_failover(void **state)
{
    sim_t m;
    uint32_t conn_of[MAX_OBJECTS];
    uint64_t t0;

    sim_init(&m, TCPLS_STREAMS_PIN, 0);
    m.nobj = 4;
    m.size = 1u << 20;
    for (size_t k = 0; k < m.nobj; k++) {
        size_t acc;
        assert_int_equal(tcpls_stream_open(m.client, &m.obj[k].cli_id), 0);
        assert_int_equal(tcpls_stream_write(m.client, m.obj[k].cli_id, "GET", 3, 1, &acc), 0);
    }
    t0 = m.now_us;
    sim_run_until(&m, t0 + 300000);
    /* connection 1 dies: both sides see it (as after a RST) */
    assert_int_equal(tcpls_conn_failed(m.server, m.links[1].conn_id, TCPLS_ERR_CONN_FAILED), 0);
    assert_int_equal(tcpls_conn_failed(m.client, m.links[1].conn_id, TCPLS_ERR_CONN_FAILED), 0);
    m.links[1].srv = NULL;
    while (m.done < m.nobj && m.now_us - t0 < 30000000)
        sim_step(&m);
    assert_int_equal(m.done, m.nobj);
    for (size_t k = 0; k < m.nobj; k++) {
        uint32_t c = UINT32_MAX;
        assert_int_equal(m.obj[k].received, m.size);
        assert_int_equal(m.obj[k].bad, 0);
        if (tcpls_stream_conn(m.server, m.obj[k].srv_id, &c) == 0)
            assert_int_equal(c, 0);
    }
    (void)conn_of;
    sim_free(&m);
}

static void
test_policy_api(void **state)
{
    tcpls_ctx_config_t cfg = {.is_server = 1, .stream_policy = 7};
    char err[128];
    assert_int_equal(tcpls_stream_policy_from_name("spread"), TCPLS_STREAMS_SPREAD);
    assert_int_equal(tcpls_stream_policy_from_name("pin"), TCPLS_STREAMS_PIN);
    assert_int_equal(tcpls_stream_policy_from_name("pinned"), TCPLS_ERR_ARG);
    assert_int_equal(tcpls_stream_policy_from_name(NULL), TCPLS_ERR_ARG);
    assert_null(tcpls_ctx_new(&cfg, err, sizeof(err)));
    assert_string_equal(err, "unknown stream policy");
    assert_int_equal(tcpls_session_set_stream_policy(NULL, TCPLS_STREAMS_PIN), TCPLS_ERR_ARG);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_api),
        cmocka_unit_test(test_pin_balanced),
        cmocka_unit_test(test_pin_isolates_loss),
        cmocka_unit_test(test_pin_failover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
