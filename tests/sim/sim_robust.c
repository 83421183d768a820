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

#include "../support/pairnet.h"
#include "internal.h"

/* Two connections; the server writes 60,000 bytes + FIN and closes at once. Everything it has
 * on connection 0 (the close_notify of a too-early close) reaches the client before anything
 * of connection 1: the client must still get every byte and the FIN, and both close cleanly. */
static void
test_close_waits_for_acks(void **state)
{
    pn_net_t n;
    assert_int_equal(pn_init(&n, 2, NULL), 0);
    assert_int_equal(pn_join(&n, 1), 0);
    pn_pump(&n, 20);
    assert_int_equal(tcpls_conn_live_count(n.server), 2);
    n.close_after_write = 1;
    assert_int_equal(pn_request(&n, 0, 60000), 0);
    /* the request reaches the server; its answer is built for both connections */
    for (int r = 0; r < 3; r++) {
        pn_out(&n, 0);
        pn_out(&n, 1);
        pn_in(&n, 0, 0, SIZE_MAX);
        pn_in(&n, 1, 0, SIZE_MAX);
    }
    assert_true(n.close_called);
    pn_out(&n, 0);
    pn_out(&n, 1);
    assert_true(n.c[1].s2c.len > 0); /* the rr scheduler put records on connection 1 too */
    pn_in(&n, 0, 1, SIZE_MAX);       /* connection 0 first, all of it */
    pn_in(&n, 1, 1, SIZE_MAX);
    pn_pump(&n, 30);
    assert_int_equal(n.cli.received, 60000);
    assert_int_equal(n.cli.bad, 0);
    assert_int_equal(n.cli.fin, 1);
    assert_true(n.srv.closed);
    assert_int_equal(n.srv.err, 0);
    tcpls_session_close(n.client);
    pn_pump(&n, 10);
    assert_true(n.cli.closed);
    assert_int_equal(n.cli.err, 0);
    pn_free(&n);
}

/* We sent close_notify; the peer's TCP FIN arrives before its close_notify: that is a
 * truncation (the peer may still have been sending), not a clean end. */
static void
test_fin_after_our_close_is_not_clean(void **state)
{
    pn_net_t n;
    assert_int_equal(pn_init(&n, 1, NULL), 0);
    assert_int_equal(tcpls_session_close(n.client), 0);
    pn_out(&n, 0); /* our close_notify leaves; the server never answers */
    tcpls_conn_eof(n.client, 0);
    assert_true(n.cli.closed);
    assert_int_not_equal(n.cli.err, 0);
    pn_free(&n);
}

/* A record that fails authentication on connection 1 fails that connection only: its data is
 * sent again on connection 0 and the download completes. */
static void
test_bad_record_fails_one_connection(void **state)
{
    pn_net_t n;
    assert_int_equal(pn_init(&n, 2, NULL), 0);
    assert_int_equal(pn_join(&n, 1), 0);
    pn_pump(&n, 20);
    assert_int_equal(tcpls_conn_live_count(n.client), 2);
    assert_int_equal(pn_request(&n, 0, 200000), 0);
    pn_out(&n, 0);
    pn_in(&n, 0, 0, SIZE_MAX);
    pn_out(&n, 0);
    pn_out(&n, 1);
    assert_true(n.c[1].s2c.len > 100);
    n.c[1].s2c.buf[n.c[1].s2c.len / 2] ^= 0x40; /* a flipped bit in a record on connection 1 */
    pn_in(&n, 1, 1, SIZE_MAX);
    assert_false(n.cli.closed);
    assert_int_equal(n.cli.conn_state[1], 2);
    assert_true(n.cli.conn_err[1] == TCPLS_ERR_DECRYPT || n.cli.conn_err[1] == TCPLS_ERR_RECORD);
    /* the server learns it (Connection Reset); connection 1's socket is gone */
    n.c[1].dead = 1;
    pn_pump(&n, 200);
    assert_int_equal(n.cli.received, 200000);
    assert_int_equal(n.cli.bad, 0);
    assert_int_equal(n.cli.fin, 1);
    assert_false(n.cli.closed);
    assert_int_equal(tcpls_conn_live_count(n.server), 1);
    pn_free(&n);
}

/* Every handshake goes through a HelloRetryRequest (server: P-256 only): joins still work,
 * and a join costs exactly one token. */
static void
test_join_through_hello_retry(void **state)
{
    pn_net_t n;
    assert_int_equal(pn_init(&n, 2, "P-256"), 0);
    assert_int_equal(tcpls_session_token_count(n.client), 2);
    assert_int_equal(pn_join(&n, 1), 0);
    pn_pump(&n, 20);
    assert_int_equal(n.cli.conn_state[1], 1);
    assert_int_equal(tcpls_conn_live_count(n.server), 2);
    assert_int_equal(tcpls_conn_live_count(n.client), 2);
    assert_int_equal(tcpls_session_token_count(n.client), 1);
    pn_free(&n);
}

/* New Token and New Address frames that went out on a connection that then failed are sent
 * again on another connection. */
static void
test_control_frames_resent(void **state)
{
    pn_net_t n;
    tcpls_addr_t a = {.id = 3, .version = 4, .addr = {10, 0, 9, 2}, .port = 443}, got;
    assert_int_equal(pn_init(&n, 2, NULL), 0);
    assert_int_equal(pn_join(&n, 1), 0);
    pn_pump(&n, 20);
    assert_int_equal(tcpls_session_token_count(n.client), 1);
    /* a join consumed a token: the replacement and the address go out on connection 1 only */
    assert_int_equal(tcpls_session_add_address(n.server, &a), 0);
    pn_out(&n, 1);
    assert_true(n.c[1].s2c.len > 0);
    n.c[1].s2c.len = 0; /* lost with the connection */
    n.c[1].dead = 1;
    tcpls_conn_eof(n.server, 1);
    tcpls_conn_failed(n.client, 1, 0);
    pn_pump(&n, 20);
    assert_int_equal(tcpls_session_peer_address_count(n.client), 1);
    assert_int_equal(tcpls_session_peer_address(n.client, 0, &got), 0);
    assert_int_equal(got.id, 3);
    /* the token resent, and one more for the connection that left */
    assert_true(tcpls_session_token_count(n.client) >= 2);
    pn_free(&n);
}

/* A join whose TCP connection fails before its ClientHello was written (a connect refused on a
 * broken path) gives its token back; the next join uses it and works. */
static void
test_failed_connect_keeps_token(void **state)
{
    pn_net_t n;
    uint32_t id;
    assert_int_equal(pn_init(&n, 2, NULL), 0);
    assert_int_equal(tcpls_session_token_count(n.client), 2);
    for (int i = 0; i < 5; i++) { /* five connects fail in a row */
        assert_int_equal(tcpls_join(n.client, 0, &id), 0);
        assert_int_equal(tcpls_session_token_count(n.client), 1);
        assert_int_equal(tcpls_conn_failed(n.client, id, TCPLS_ERR_CONN_FAILED), 0);
        assert_int_equal(tcpls_session_token_count(n.client), 2);
    }
    assert_int_equal(pn_join(&n, 1), 0);
    pn_pump(&n, 20);
    assert_int_equal(n.cli.conn_state[n.c[1].id], TCPLS_CONN_ESTABLISHED);
    assert_int_equal(tcpls_conn_live_count(n.server), 2);
    assert_int_equal(tcpls_session_token_count(n.client), 1); /* one used: 2 = tokens + joined */
    pn_free(&n);
}

static int
psk_join_of(tcpls_session_t *s, uint32_t id)
{
    tcpls_conn_info_t ci;
    for (size_t i = 0; i < tcpls_conn_count(s); i++)
        if (tcpls_conn_info(s, i, &ci) == 0 && ci.id == id)
            return ci.psk_join;
    return -1;
}

/* Joins are abbreviated handshakes bound to the session (a PSK from connection 0's exporter):
 * no certificate. A full-handshake join, which a stolen token would allow, is refused unless
 * the server allows it (join_full_handshake, for comparison). */
static void
test_psk_joins(void **state)
{
    pn_net_t n;
    assert_int_equal(pn_init(&n, 2, NULL), 0);
    assert_int_equal(pn_join(&n, 1), 0);
    pn_pump(&n, 20);
    assert_int_equal(n.cli.conn_state[1], TCPLS_CONN_ESTABLISHED);
    assert_int_equal(psk_join_of(n.client, 1), 1);
    assert_int_equal(psk_join_of(n.server, 1), 1);
    pn_free(&n);

    assert_int_equal(pn_init_joins(&n, 2, NULL, 1, 0), 0); /* a full-handshake join: refused */
    assert_int_equal(pn_join(&n, 1), 0);
    pn_pump(&n, 20);
    assert_int_equal(tcpls_conn_live_count(n.server), 1);
    assert_false(tcpls_session_is_closed(n.server));
    pn_free(&n);

    assert_int_equal(pn_init_joins(&n, 2, NULL, 1, 1), 0); /* ... allowed by the server */
    assert_int_equal(pn_join(&n, 1), 0);
    pn_pump(&n, 20);
    assert_int_equal(tcpls_conn_live_count(n.server), 2);
    assert_int_equal(psk_join_of(n.server, 1), 0);
    pn_free(&n);
}

/* A PSK join carries data from the server's flight on (0.5-RTT): the connection is part of
 * the session before the client's Finished reaches the server, which then still checks it.
 * A full-handshake join waits for the Finished. */
static void
test_psk_join_half_rtt(void **state)
{
    for (int full = 0; full <= 1; full++) {
        pn_net_t n;
        assert_int_equal(pn_init_joins(&n, 2, NULL, full, full), 0);
        assert_int_equal(pn_request(&n, 0, 400000), 0);
        for (int r = 0; r < 3; r++) { /* the request reaches the server, data is queued */
            pn_out(&n, 0);
            pn_in(&n, 0, 0, SIZE_MAX);
        }
        assert_int_equal(pn_join(&n, 1), 0);
        pn_out(&n, 1);
        pn_in(&n, 1, 0, SIZE_MAX); /* the ClientHello; the server answers */
        pn_out(&n, 1);
        assert_true(n.c[1].c2s.len == 0);
        if (!full) {
            assert_int_equal(tcpls_conn_live_count(n.server), 2);
            assert_true(n.c[1].s2c.len > 2 * 16384); /* the flight, then records of the download */
        } else {
            assert_int_equal(tcpls_conn_live_count(n.server), 1);
            assert_true(n.c[1].s2c.len < 4096); /* the handshake flight only */
        }
        pn_in(&n, 1, 1, SIZE_MAX); /* the client completes its join and reads the records */
        assert_int_equal(n.cli.conn_state[1], TCPLS_CONN_ESTABLISHED);
        tcpls_conn_info_t ci = {0};
        for (size_t k = 0; k < tcpls_conn_count(n.client); k++)
            if (tcpls_conn_info(n.client, k, &ci) == 0 && ci.id == 1)
                break;
        assert_int_equal(ci.id, 1);
        assert_true(full || ci.stream_bytes_received > 16384); /* taken in, waiting for conn 0 */
        pn_pump(&n, 200);
        assert_int_equal(n.cli.received, 400000);
        assert_int_equal(n.cli.bad, 0);
        assert_int_equal(n.cli.fin, 1);
        assert_int_equal(tcpls_conn_live_count(n.server), 2);
        assert_int_equal(psk_join_of(n.server, 1), !full);
        assert_int_equal(psk_join_of(n.client, 1), !full);
        pn_free(&n);
    }
}

/* The client reads a token in the server's first flight and joins at once, but its Finished on
 * connection 0 is late (a slow or lossy first path): the join's ClientHello reaches the
 * server before that handshake completed there. It must wait for it, not be refused (which
 * burnt every token of a session whose first path was blackholed: the soak test's lost
 * transfers), and complete once connection 0 does. */
static void
test_join_before_first_finished(void **state)
{
    pn_net_t n;
    assert_int_equal(pn_setup(&n, 2), 0);
    pn_out(&n, 0);
    pn_in(&n, 0, 0, SIZE_MAX); /* ClientHello */
    pn_out(&n, 0);
    pn_in(&n, 0, 1, SIZE_MAX); /* the server's flight, with its tokens */
    assert_true(tcpls_session_is_tcpls(n.client));
    assert_true(tcpls_session_token_count(n.client) > 0);
    pn_out(&n, 0); /* the client's Finished: held back */
    assert_true(n.c[0].c2s.len > 0);
    assert_false(tcpls_session_is_established(n.server));
    assert_int_equal(pn_join(&n, 1), 0);
    pn_out(&n, 1);
    pn_in(&n, 1, 0, SIZE_MAX); /* the join's ClientHello: parked */
    assert_int_equal(tcpls_session_join_waiting(n.c[1].srv), 1);
    assert_false(tcpls_session_is_closed(n.c[1].srv));
    pn_out(&n, 1);
    assert_int_equal(n.c[1].s2c.len, 0); /* no ServerHello yet */
    tcpls_session_set_time(n.c[1].srv, 2);
    assert_int_equal(tcpls_session_join_waiting(n.c[1].srv), 1);
    pn_in(&n, 0, 0, SIZE_MAX); /* connection 0's Finished at last */
    assert_true(tcpls_session_is_established(n.server));
    tcpls_session_set_time(n.c[1].srv, 3); /* the join resumes */
    assert_int_equal(tcpls_session_join_waiting(n.c[1].srv), 0);
    pn_pump(&n, 20);
    assert_int_equal(n.cli.conn_state[1], TCPLS_CONN_ESTABLISHED);
    assert_int_equal(tcpls_conn_live_count(n.server), 2);
    assert_int_equal(pn_request(&n, 1000, 50000), 0);
    pn_pump(&n, 40);
    assert_int_equal(n.cli.received, 50000);
    assert_int_equal(n.cli.bad, 0);
    pn_free(&n);

    /* a target that never completes: the join gives up after 10 s, refused */
    assert_int_equal(pn_setup(&n, 2), 0);
    pn_out(&n, 0);
    pn_in(&n, 0, 0, SIZE_MAX);
    pn_out(&n, 0);
    pn_in(&n, 0, 1, SIZE_MAX);
    assert_int_equal(pn_join(&n, 1), 0);
    pn_out(&n, 1);
    pn_in(&n, 1, 0, SIZE_MAX);
    assert_int_equal(tcpls_session_join_waiting(n.c[1].srv), 1);
    tcpls_session_set_time(n.c[1].srv, 11ull * 1000000000ull); /* past the 10 s limit */
    assert_int_equal(tcpls_session_join_waiting(n.c[1].srv), 0);
    assert_true(tcpls_session_is_closed(n.c[1].srv));
    pn_free(&n);
}

/* The key's usage limit (RFC 8446 5.5) counts records over every connection; at the limit the
 * session ends with a clear error instead of protecting one record too many. */
static void
test_key_usage_limit(void **state)
{
    pn_net_t n;
    assert_int_equal(pn_init(&n, 2, NULL), 0);
    assert_int_equal(pn_join(&n, 1), 0);
    pn_pump(&n, 20);
    tcpls__session_set_aead_limit(n.server, 40);
    assert_int_equal(pn_request(&n, 0, 1000000), 0);
    pn_pump(&n, 100);
    assert_true(n.srv.closed);
    assert_int_equal(n.srv.err, TCPLS_ERR_KEY_LIMIT);
    assert_true(n.cli.closed);
    assert_int_not_equal(n.cli.err, 0);
    assert_true(n.cli.received < 40 * 16384);
    assert_int_equal(n.cli.bad, 0);
    pn_free(&n);
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
        cmocka_unit_test(test_failed_connect_keeps_token),
        cmocka_unit_test(test_psk_joins),
        cmocka_unit_test(test_psk_join_half_rtt),
        cmocka_unit_test(test_join_before_first_finished),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
