/* Unit tests: lib/session.c frame handling (through tcpls__session_feed_frames): ACK
 * bookkeeping and protocol errors, stream rules, tokens, limits; plus tcpls_strerror. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

static int closed_err = 1, opened;
static size_t delivered;

static void
on_opened(tcpls_session_t *s, uint32_t id, void *ud)
{
    opened++;
}
static void
on_data(tcpls_session_t *s, uint32_t id, const uint8_t *data, size_t len, int fin, void *ud)
{
    delivered += len;
}
static void
on_closed(tcpls_session_t *s, int err, void *ud)
{
    closed_err = err;
}

static const tcpls_ops_t ops = {NULL, on_opened, on_data, NULL, NULL, on_closed, NULL};

static tcpls_session_t *
session(int is_server, tcpls_ctx_t **ctx, unsigned max_streams, size_t reorder)
{
    tcpls_ctx_config_t cfg = {
        .is_server = is_server, .insecure = 1, .max_streams = max_streams, .stream_reorder_limit = reorder};
    closed_err = 1;
    opened = 0;
    delivered = 0;
    assert_non_null(*ctx = tcpls_ctx_new(&cfg, NULL, 0));
    tcpls_session_t *s = tcpls_session_new(*ctx, &ops, NULL, NULL);
    assert_non_null(s);
    return s;
}

static size_t
stream_frame(uint8_t *buf, uint32_t id, uint64_t off, const char *data, int fin)
{
    tcpls_frame_t f = {.type = fin ? TCPLS_FRAME_STREAM_FIN : TCPLS_FRAME_STREAM};
    f.u.stream.stream_id = id;
    f.u.stream.offset = off;
    f.u.stream.data = (const uint8_t *)data;
    f.u.stream.len = (uint16_t)strlen(data);
    return tcpls__frame_encode(buf, 256, &f);
}

static size_t
ack_frame(uint8_t *buf, uint32_t conn, uint64_t seq)
{
    tcpls_frame_t f = {.type = TCPLS_FRAME_ACK};
    f.u.ack.conn_id = conn;
    f.u.ack.seq = seq;
    return tcpls__frame_encode(buf, 64, &f);
}

static void
finish(tcpls_session_t *s, tcpls_ctx_t *ctx)
{
    tcpls_session_free(s);
    tcpls_ctx_free(ctx);
}

static void
test_ack_bookkeeping(void **state)
{
    tcpls_ctx_t *ctx;
    tcpls_session_t *s = session(0, &ctx, 0, 0);
    tcpls_conn_info_t ci;
    uint8_t buf[300];
    uint32_t id;
    size_t acc, n;
    const uint8_t *out;
    size_t olen;

    /* a Ping switches the session to TCPLS (test keys) and must be acknowledged */
    buf[0] = TCPLS_FRAME_PING;
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, 1), 0);
    assert_int_equal(tcpls_stream_open(s, &id), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tcpls_stream_write(s, id, "0123456789", 10, 0, &acc), 0);
        tcpls_conn_output(s, 0, &out, &olen); /* one record per write */
        tcpls_conn_output_consumed(s, 0, olen);
    }
    assert_int_equal(tcpls_conn_info(s, 0, &ci), 0);
    assert_true(ci.records_sent >= 5);
    assert_int_equal(ci.unacked_records, 5);
    assert_int_equal(tcpls_stream_send_space(s, id), (4u << 20) - 50);
    /* acknowledging record 2 frees the stream frames of records 0..2 */
    n = ack_frame(buf, 0, 2);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), 0);
    assert_int_equal(tcpls_conn_info(s, 0, &ci), 0);
    assert_int_equal(ci.records_acked, 3);
    assert_int_equal(ci.unacked_records, 2);
    assert_int_equal(tcpls_stream_send_space(s, id), (4u << 20) - 20);
    /* an older ACK changes nothing; an ACK for another connection is ignored */
    n = ack_frame(buf, 0, 1);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), 0);
    n = ack_frame(buf, 9, 1);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), 0);
    assert_int_equal(tcpls_conn_info(s, 0, &ci), 0);
    assert_int_equal(ci.unacked_records, 2);
    /* acknowledging a record never sent is a protocol error */
    n = ack_frame(buf, 0, 1000);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), TCPLS_ERR_PROTOCOL);
    assert_int_equal(closed_err, TCPLS_ERR_PROTOCOL);
    assert_true(tcpls_session_is_closed(s));
    finish(s, ctx);
}

static void
test_stream_rules(void **state)
{
    tcpls_ctx_t *ctx;
    tcpls_session_t *s = session(1, &ctx, 2, 0);
    uint8_t buf[300];
    size_t n;

    /* the client opens 0 and 2 */
    n = stream_frame(buf, 0, 0, "abc", 0);
    n += stream_frame(buf + n, 2, 0, "de", 1);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), 0);
    assert_int_equal(opened, 2);
    assert_int_equal(delivered, 5);
    /* a third stream is over max_streams */
    n = stream_frame(buf, 4, 0, "x", 0);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), TCPLS_ERR_STREAM_LIMIT);
    finish(s, ctx);

    /* a server stream (odd) the server never opened */
    s = session(1, &ctx, 0, 0);
    n = stream_frame(buf, 5, 0, "x", 0);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), TCPLS_ERR_PROTOCOL);
    finish(s, ctx);

    /* data past the FIN */
    s = session(1, &ctx, 0, 0);
    n = stream_frame(buf, 0, 0, "abc", 1);
    n += stream_frame(buf + n, 0, 3, "d", 0);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), TCPLS_ERR_PROTOCOL);
    finish(s, ctx);

    /* out-of-order bytes beyond the reorder limit */
    s = session(1, &ctx, 0, 1000);
    n = stream_frame(buf, 0, 100, "0123456789", 0);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), 0);
    n = stream_frame(buf, 0, 2000, "x", 0);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), TCPLS_ERR_FLOW);
    finish(s, ctx);
}

static void
test_tokens_and_unknown(void **state)
{
    tcpls_ctx_t *ctx;
    tcpls_frame_t f = {.type = TCPLS_FRAME_NEW_TOKEN};
    uint8_t buf[64];
    size_t n;

    f.u.new_token.seq = 2;
    n = tcpls__frame_encode(buf, sizeof(buf), &f);
    tcpls_session_t *s = session(0, &ctx, 0, 0);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), 0);
    assert_int_equal(tcpls_session_token_count(s), 1);
    finish(s, ctx);
    /* a client may not send tokens */
    s = session(1, &ctx, 0, 0);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, n), TCPLS_ERR_PROTOCOL);
    finish(s, ctx);
    /* unknown frame type */
    s = session(1, &ctx, 0, 0);
    buf[0] = 0x42;
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, 1), TCPLS_ERR_FRAME);
    assert_int_equal(closed_err, TCPLS_ERR_FRAME);
    /* nothing more is accepted once closed */
    buf[0] = TCPLS_FRAME_PING;
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, 1), TCPLS_ERR_CLOSED);
    assert_int_equal(tcpls_receive(s, 0, buf, 1, 0), TCPLS_ERR_FRAME);
    finish(s, ctx);
}

static void
test_api_guards(void **state)
{
    tcpls_ctx_t *ctx;
    tcpls_session_t *s = session(0, &ctx, 0, 0);
    uint32_t id;
    size_t acc;
    /* before the handshake */
    assert_int_equal(tcpls_stream_open(s, &id), TCPLS_ERR_STATE);
    assert_int_equal(tcpls_stream_write(s, 0, "x", 1, 0, &acc), TCPLS_ERR_NO_STREAM);
    assert_int_equal(tcpls_receive(s, 7, (const uint8_t *)"x", 1, 0), TCPLS_ERR_NO_CONN);
    assert_int_equal(tcpls_conn_count(s), 1);
    assert_false(tcpls_session_is_established(s));
    assert_null(tcpls_session_cipher(s));
    tcpls_session_free(NULL);
    tcpls_ctx_free(NULL);
    finish(s, ctx);
    for (int e = 0; e >= -17; e--)
        assert_string_not_equal(tcpls_strerror(e), "unknown error");
    assert_string_equal(tcpls_strerror(-999), "unknown error");
}

static size_t
addr_frame(uint8_t *buf, int remove, uint8_t id, uint8_t last_byte)
{
    tcpls_frame_t f = {.type = remove ? TCPLS_FRAME_REMOVE_ADDRESS : TCPLS_FRAME_NEW_ADDRESS};
    if (remove) {
        f.u.remove_address.addr_id = id;
    } else {
        f.u.new_address.addr_id = id;
        f.u.new_address.version = 4;
        f.u.new_address.addr[0] = 10;
        f.u.new_address.addr[3] = last_byte;
        f.u.new_address.port = 443;
    }
    return tcpls__frame_encode(buf, 64, &f);
}

/* New Address for a known id keeps the first content; a removed id never comes back. */
static void
test_address_bookkeeping(void **state)
{
    tcpls_ctx_t *ctx;
    tcpls_session_t *s = session(0, &ctx, 0, 0);
    tcpls_addr_t a;
    uint8_t buf[64];
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, addr_frame(buf, 0, 1, 2)), 0);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, addr_frame(buf, 0, 1, 9)), 0);
    assert_int_equal(tcpls_session_peer_address_count(s), 1);
    assert_int_equal(tcpls_session_peer_address(s, 0, &a), 0);
    assert_int_equal(a.addr[3], 2);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, addr_frame(buf, 1, 1, 0)), 0);
    assert_int_equal(tcpls__session_feed_frames(s, 0, buf, addr_frame(buf, 0, 1, 2)), 0);
    assert_int_equal(tcpls_session_peer_address(s, 0, &a), 0);
    assert_int_equal(a.removed, 1);
    assert_int_equal(tcpls_session_peer_address_count(s), 1);
    finish(s, ctx);
}

/* Reorder memory is capped over every session of a context: the session that goes past it
 * ends with TCPLS_ERR_FLOW, the others are unaffected. */
static void
test_context_reorder_cap(void **state)
{
    tcpls_ctx_config_t cfg = {.is_server = 1, .insecure = 1, .context_reorder_limit = 100000};
    tcpls_ctx_t *ctx = tcpls_ctx_new(&cfg, NULL, 0);
    tcpls_session_t *a, *b;
    uint8_t buf[256];
    size_t n;
    assert_non_null(ctx);
    a = tcpls_session_new(ctx, &ops, NULL, NULL);
    b = tcpls_session_new(ctx, &ops, NULL, NULL);
    n = stream_frame(buf, 0, 60000, "x", 0); /* a ring of about 64 KiB */
    assert_int_equal(tcpls__session_feed_frames(a, 0, buf, n), 0);
    assert_int_equal(tcpls__session_feed_frames(b, 0, buf, n), TCPLS_ERR_FLOW);
    assert_false(tcpls_session_is_closed(a));
    tcpls_session_free(b);
    tcpls_session_free(a);
    tcpls_ctx_free(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ack_bookkeeping),     cmocka_unit_test(test_stream_rules),
        cmocka_unit_test(test_tokens_and_unknown),  cmocka_unit_test(test_api_guards),
        cmocka_unit_test(test_context_reorder_cap), cmocka_unit_test(test_address_bookkeeping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
