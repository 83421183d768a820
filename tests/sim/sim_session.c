/*
 * sim_session.c — two TCPLS sessions in one process over an in-memory connection: handshake
 * with every cipher suite, streams both ways, back-pressure, acknowledgments, close_notify,
 * tampered and garbage records, and the plain TLS fallback against a stock OpenSSL client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/ssl.h>

#include "../support/tcpls_test.h"

static void
handshake(tst_pair_t *p, const char *suites)
{
    assert_int_equal(tst_pair_init(p, suites), 0);
    tst_pair_pump(p, 50);
    assert_true(p->client.handshake_done);
    assert_true(p->server.handshake_done);
    assert_true(tcpls_session_is_tcpls(p->client.s));
    assert_true(tcpls_session_is_tcpls(p->server.s));
    assert_true(tcpls_session_token_count(p->client.s) >= 1); /* token #1, then New Token frames */
}

static void
test_handshake_suites(void **state)
{
    static const char *suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"};
    for (size_t i = 0; i < 3; i++) {
        tst_pair_t p;
        uint32_t id;
        size_t acc;
        handshake(&p, suites[i]);
        assert_string_equal(tcpls_session_cipher(p.client.s), suites[i]);
        assert_int_equal(tcpls_stream_open(p.client.s, &id), 0);
        assert_int_equal(id, 0);
        assert_int_equal(tcpls_stream_write(p.client.s, id, "hello", 5, 1, &acc), 0);
        assert_int_equal(acc, 5);
        tst_pair_pump(&p, 50);
        assert_int_equal(p.server.nopened, 1);
        assert_int_equal(p.server.data_len, 5);
        assert_memory_equal(p.server.data, "hello", 5);
        assert_int_equal(p.server.fin_by_stream[0], 1);
        tst_pair_free(&p);
    }
}

static void
test_streams_both_ways(void **state)
{
    tst_pair_t p;
    uint32_t cid[10], sid;
    size_t acc;
    uint8_t buf[50000];

    handshake(&p, NULL);
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(tcpls_stream_open(p.client.s, &cid[i]), 0);
        assert_int_equal(cid[i], (uint32_t)(2 * i));
        assert_int_equal(tcpls_stream_write(p.client.s, cid[i], buf, 1000 * (i + 1), 1, &acc), 0);
        assert_int_equal(acc, 1000 * (i + 1));
    }
    assert_int_equal(tcpls_stream_open(p.server.s, &sid), 0);
    assert_int_equal(sid, 1);
    assert_int_equal(tcpls_stream_write(p.server.s, sid, buf, sizeof(buf), 1, &acc), 0);
    tst_pair_pump(&p, 100);
    assert_int_equal(p.server.nopened, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(p.server.bytes_by_stream[2 * i], 1000 * (i + 1));
        assert_int_equal(p.server.fin_by_stream[2 * i], 1);
    }
    assert_int_equal(p.client.nopened, 1);
    assert_int_equal(p.client.opened[0], 1);
    assert_int_equal(p.client.bytes_by_stream[1], sizeof(buf));
    assert_memory_equal(p.client.data, buf, sizeof(buf));
    /* the server answers every stream, then all streams are closed and freed */
    for (int i = 0; i < 10; i++)
        assert_int_equal(tcpls_stream_write(p.server.s, cid[i], "ok", 2, 1, &acc), 0);
    assert_int_equal(tcpls_stream_write(p.client.s, sid, NULL, 0, 1, &acc), 0);
    tst_pair_pump(&p, 100);
    assert_int_equal(p.client.streams_closed, 11);
    assert_int_equal(p.server.streams_closed, 11);
    assert_int_equal(tcpls_stream_write(p.client.s, cid[0], "x", 1, 0, &acc), TCPLS_ERR_NO_STREAM);
    tst_pair_free(&p);
}

static void
test_acks_free_memory(void **state)
{
    tst_pair_t p;
    tcpls_conn_info_t ci;
    uint32_t id;
    size_t acc, total = 0;
    uint8_t *big = calloc(1, 3 << 20);

    handshake(&p, NULL);
    assert_int_equal(tcpls_stream_open(p.client.s, &id), 0);
    p.max_chunk = 40000; /* small steps: acks interleave with data */
    while (total < (3u << 20)) {
        assert_int_equal(tcpls_stream_write(p.client.s, id, big + total, (3u << 20) - total, 0, &acc), 0);
        total += acc;
        tst_pair_pump(&p, 5);
        assert_int_equal(tcpls_conn_info(p.client.s, 0, &ci), 0);
        /* unacknowledged records stay bounded by the send buffer (4 MiB / 16 KiB records) */
        assert_true(ci.unacked_records <= 300);
    }
    tst_pair_pump(&p, 1000);
    assert_int_equal(p.server.bytes_by_stream[0], 3u << 20);
    assert_int_equal(tcpls_conn_info(p.client.s, 0, &ci), 0);
    assert_int_equal(ci.unacked_records, 0);
    assert_true(ci.records_acked > 190);
    assert_true(ci.records_acked <= ci.records_sent);
    /* acks are batched: far fewer records from the server than data records from the client */
    assert_int_equal(tcpls_conn_info(p.server.s, 0, &ci), 0);
    assert_true(ci.records_sent < 120);
    free(big);
    tst_pair_free(&p);
}

static void
test_back_pressure(void **state)
{
    tst_pair_t p;
    uint32_t id;
    size_t acc, space;
    uint8_t *big = calloc(1, 8 << 20);

    handshake(&p, NULL);
    assert_int_equal(tcpls_stream_open(p.client.s, &id), 0);
    space = tcpls_stream_send_space(p.client.s, id);
    assert_int_equal(space, 4u << 20);
    /* nobody reads: the stream takes only its send buffer */
    assert_int_equal(tcpls_stream_write(p.client.s, id, big, 8u << 20, 0, &acc), 0);
    assert_int_equal(acc, 4u << 20);
    assert_int_equal(tcpls_stream_write(p.client.s, id, big, 100, 0, &acc), 0);
    assert_int_equal(acc, 0);
    assert_int_equal(p.client.writable_calls, 0);
    tst_pair_pump(&p, 1000);
    assert_true(p.client.writable_calls >= 1);
    assert_int_equal(tcpls_stream_send_space(p.client.s, id), 4u << 20);
    free(big);
    tst_pair_free(&p);
}

static void
test_close_notify(void **state)
{
    tst_pair_t p;
    uint32_t id;
    size_t acc;

    handshake(&p, NULL);
    assert_int_equal(tcpls_stream_open(p.client.s, &id), 0);
    assert_int_equal(tcpls_stream_write(p.client.s, id, "bye", 3, 1, &acc), 0);
    assert_int_equal(tcpls_session_close(p.client.s), 0);
    tst_pair_pump(&p, 50);
    assert_int_equal(p.server.bytes_by_stream[0], 3);
    assert_int_equal(p.client.closed, 1);
    assert_int_equal(p.client.close_err, 0);
    assert_int_equal(p.server.closed, 1);
    assert_int_equal(p.server.close_err, 0);
    assert_true(tcpls_session_is_closed(p.client.s));
    tst_pair_free(&p);

    /* an abrupt TCP close is an error for the application */
    handshake(&p, NULL);
    assert_int_equal(tcpls_conn_eof(p.server.s, 0), TCPLS_ERR_TRUNCATED);
    assert_int_equal(p.server.close_err, TCPLS_ERR_TRUNCATED);
    tst_pair_free(&p);
}

static size_t tamper_at;

static void
flip_byte(tst_pair_t *p, int to_server, uint8_t *data, size_t len)
{
    if (to_server && tamper_at != (size_t)-1 && p->moved_to_server <= tamper_at &&
        tamper_at < p->moved_to_server + len) {
        data[tamper_at - p->moved_to_server] ^= 0x40;
        tamper_at = (size_t)-1;
    }
}

static void
test_tampered_record(void **state)
{
    tst_pair_t p;
    uint32_t id;
    size_t acc;

    handshake(&p, NULL);
    p.tamper = flip_byte;
    tamper_at = p.moved_to_server + 20; /* inside the first record's ciphertext */
    assert_int_equal(tcpls_stream_open(p.client.s, &id), 0);
    assert_int_equal(tcpls_stream_write(p.client.s, id, "hello world, tampered", 21, 0, &acc), 0);
    tst_pair_pump(&p, 50);
    assert_int_equal(p.server.closed, 1);
    assert_int_equal(p.server.close_err, TCPLS_ERR_DECRYPT);
    assert_int_equal(p.server.data_len, 0);
    /* the server's bad_record_mac alert reaches the client */
    assert_int_equal(p.client.closed, 1);
    assert_int_equal(p.client.close_err, TCPLS_ERR_PEER_ALERT);
    tst_pair_free(&p);
}

static void
test_garbage(void **state)
{
    tst_pair_t p;
    uint8_t junk[300];

    handshake(&p, NULL);
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    assert_true(tcpls_receive(p.server.s, 0, junk, sizeof(junk), 0) < 0);
    assert_int_equal(p.server.closed, 1);
    assert_true(p.server.close_err == TCPLS_ERR_RECORD || p.server.close_err == TCPLS_ERR_DECRYPT);
    assert_true(tcpls_receive(p.server.s, 0, junk, sizeof(junk), 0) < 0);
    tst_pair_free(&p);

    /* a well-formed header with a random body fails authentication */
    handshake(&p, NULL);
    junk[0] = 23;
    junk[1] = 3;
    junk[2] = 3;
    junk[3] = 0;
    junk[4] = 100;
    assert_int_equal(tcpls_receive(p.server.s, 0, junk, 105, 0), TCPLS_ERR_DECRYPT);
    tst_pair_free(&p);

    /* garbage instead of a ClientHello fails the handshake */
    assert_int_equal(tst_pair_init(&p, NULL), 0);
    assert_int_equal(tcpls_receive(p.server.s, 0, junk + 5, 100, 0), TCPLS_ERR_HANDSHAKE);
    tst_pair_free(&p);
}

/* A stock OpenSSL client (no tcpls extension) gets plain TLS from a TCPLS server. */
static void
test_plain_tls_fallback(void **state)
{
    tst_pair_t p;
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(cctx);
    BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
    uint8_t buf[65536];
    size_t acc;
    int n;

    assert_int_equal(tst_pair_init(&p, NULL), 0);
    SSL_set_bio(ssl, rb, wb);
    SSL_set_connect_state(ssl);
    for (int round = 0; round < 20; round++) {
        const uint8_t *out;
        size_t len;
        SSL_do_handshake(ssl);
        while ((n = BIO_read(wb, buf, sizeof(buf))) > 0)
            tcpls_receive(p.server.s, 0, buf, (size_t)n, 0);
        if (round == 3)
            SSL_write(ssl, "GET / HTTP/1.1\r\n\r\n", 18);
        tcpls_conn_output(p.server.s, 0, &out, &len);
        BIO_write(rb, out, (int)len);
        tcpls_conn_output_consumed(p.server.s, 0, len);
        SSL_read(ssl, buf, sizeof(buf));
    }
    assert_true(p.server.handshake_done);
    assert_false(tcpls_session_is_tcpls(p.server.s));
    assert_true(tcpls_session_is_established(p.server.s));
    assert_int_equal(p.server.nopened, 1);
    assert_int_equal(p.server.opened[0], 0);
    assert_int_equal(p.server.data_len, 18);
    assert_int_equal(tcpls_stream_write(p.server.s, 0, "HTTP/1.1 200 OK\r\n", 17, 0, &acc), 0);
    assert_int_equal(acc, 17);
    {
        const uint8_t *out;
        size_t len;
        tcpls_conn_output(p.server.s, 0, &out, &len);
        BIO_write(rb, out, (int)len);
        tcpls_conn_output_consumed(p.server.s, 0, len);
    }
    n = SSL_read(ssl, buf, sizeof(buf));
    assert_int_equal(n, 17);
    assert_memory_equal(buf, "HTTP/1.1 200 OK\r\n", 17);
    SSL_free(ssl);
    SSL_CTX_free(cctx);
    tst_pair_free(&p);
}

static void
test_close_after_pending_data(void **state)
{
    tst_pair_t p;
    uint32_t id;
    size_t acc;
    uint8_t *big = calloc(1, 1 << 20);

    handshake(&p, NULL);
    assert_int_equal(tcpls_stream_open(p.client.s, &id), 0);
    assert_int_equal(tcpls_stream_write(p.client.s, id, big, 1 << 20, 1, &acc), 0);
    assert_int_equal(acc, 1 << 20);
    assert_int_equal(tcpls_session_close(p.client.s), 0);
    /* no new stream once closing */
    assert_int_equal(tcpls_stream_open(p.client.s, &id), TCPLS_ERR_CLOSED);
    p.max_chunk = 50000;
    tst_pair_pump(&p, 1000);
    assert_int_equal(p.server.bytes_by_stream[0], 1 << 20);
    assert_int_equal(p.server.fin_by_stream[0], 1);
    assert_int_equal(p.client.close_err, 0);
    assert_int_equal(p.server.close_err, 0);
    assert_int_equal(p.client.closed, 1);
    assert_int_equal(p.server.closed, 1);
    free(big);
    tst_pair_free(&p);
}

static void
test_streams_share_the_connection(void **state)
{
    tst_pair_t p;
    uint32_t a, b;
    size_t acc;
    uint8_t *big = calloc(1, 2 << 20);

    handshake(&p, NULL);
    assert_int_equal(tcpls_stream_open(p.server.s, &a), 0);
    assert_int_equal(tcpls_stream_open(p.server.s, &b), 0);
    assert_int_equal(a, 1);
    assert_int_equal(b, 3);
    assert_int_equal(tcpls_stream_write(p.server.s, a, big, 2 << 20, 1, &acc), 0);
    assert_int_equal(tcpls_stream_write(p.server.s, b, big, 2 << 20, 1, &acc), 0);
    p.max_chunk = 100000;
    /* round-robin between streams: half-way, both have made progress */
    for (int i = 0; i < 1000 && p.client.bytes_by_stream[1] + p.client.bytes_by_stream[3] < (2u << 20); i++)
        tst_pair_pump(&p, 1);
    assert_true(p.client.bytes_by_stream[1] > (1u << 19));
    assert_true(p.client.bytes_by_stream[3] > (1u << 19));
    tst_pair_pump(&p, 1000);
    assert_int_equal(p.client.bytes_by_stream[1], 2 << 20);
    assert_int_equal(p.client.bytes_by_stream[3], 2 << 20);
    assert_int_equal(p.client.nopened, 2);
    free(big);
    tst_pair_free(&p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_suites),
        cmocka_unit_test(test_streams_both_ways),
        cmocka_unit_test(test_acks_free_memory),
        cmocka_unit_test(test_back_pressure),
        cmocka_unit_test(test_close_notify),
        cmocka_unit_test(test_tampered_record),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_plain_tls_fallback),
        cmocka_unit_test(test_close_after_pending_data),
        cmocka_unit_test(test_streams_share_the_connection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
