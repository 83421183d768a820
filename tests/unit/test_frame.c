/* Unit tests: lib/frame.c (the nine frames, back-to-front parsing, malformed input). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

static const uint8_t payload[] = "stream payload bytes";

static size_t
all_frames(tcpls_frame_t *f)
{
    size_t n = 0;
    memset(f, 0, 11 * sizeof(*f));
    f[n++].type = TCPLS_FRAME_PADDING;
    f[n++].type = TCPLS_FRAME_PING;
    f[n].type = TCPLS_FRAME_STREAM;
    f[n].u.stream.stream_id = 0x01020304;
    f[n].u.stream.offset = 0x1122334455667788ull;
    f[n].u.stream.data = payload;
    f[n++].u.stream.len = sizeof(payload);
    f[n].type = TCPLS_FRAME_STREAM_FIN;
    f[n].u.stream.stream_id = 7;
    f[n].u.stream.offset = 99;
    f[n].u.stream.fin = 1;
    f[n++].u.stream.len = 0;
    f[n].type = TCPLS_FRAME_ACK;
    f[n].u.ack.conn_id = 3;
    f[n++].u.ack.seq = 0xfffffffffull;
    f[n].type = TCPLS_FRAME_NEW_TOKEN;
    f[n].u.new_token.seq = 2;
    memset(f[n++].u.new_token.token, 0xab, TCPLS_TOKEN_LEN);
    f[n].type = TCPLS_FRAME_CONN_RESET;
    f[n++].u.conn_reset.conn_id = 5;
    f[n].type = TCPLS_FRAME_NEW_ADDRESS;
    f[n].u.new_address.addr_id = 1;
    f[n].u.new_address.version = 4;
    memcpy(f[n].u.new_address.addr, "\x7f\x00\x00\x02", 4);
    f[n++].u.new_address.port = 4433;
    f[n].type = TCPLS_FRAME_NEW_ADDRESS;
    f[n].u.new_address.addr_id = 2;
    f[n].u.new_address.version = 6;
    f[n].u.new_address.addr[15] = 1;
    f[n++].u.new_address.port = 443;
    f[n].type = TCPLS_FRAME_REMOVE_ADDRESS;
    f[n++].u.remove_address.addr_id = 9;
    f[n].type = TCPLS_FRAME_STREAM_CHANGE;
    f[n].u.stream_change.stream_id = 4;
    f[n++].u.stream_change.offset = 123456789;
    f[n].type = TCPLS_FRAME_CONN_PRIORITY;
    f[n].u.conn_priority.conn_id = 3;
    f[n++].u.conn_priority.backup = 1;
    return n;
}

static void
assert_frame_equal(const tcpls_frame_t *a, const tcpls_frame_t *b)
{
    assert_int_equal(a->type, b->type);
    switch (a->type) {
    case TCPLS_FRAME_STREAM:
    case TCPLS_FRAME_STREAM_FIN:
        assert_int_equal(a->u.stream.stream_id, b->u.stream.stream_id);
        assert_int_equal(a->u.stream.offset, b->u.stream.offset);
        assert_int_equal(a->u.stream.len, b->u.stream.len);
        assert_int_equal(a->u.stream.fin, b->u.stream.fin);
        if (a->u.stream.len)
            assert_memory_equal(a->u.stream.data, b->u.stream.data, a->u.stream.len);
        break;
    case TCPLS_FRAME_ACK:
        assert_int_equal(a->u.ack.conn_id, b->u.ack.conn_id);
        assert_int_equal(a->u.ack.seq, b->u.ack.seq);
        break;
    case TCPLS_FRAME_NEW_TOKEN:
        assert_int_equal(a->u.new_token.seq, b->u.new_token.seq);
        assert_memory_equal(a->u.new_token.token, b->u.new_token.token, TCPLS_TOKEN_LEN);
        break;
    case TCPLS_FRAME_CONN_RESET:
        assert_int_equal(a->u.conn_reset.conn_id, b->u.conn_reset.conn_id);
        break;
    case TCPLS_FRAME_NEW_ADDRESS:
        assert_int_equal(a->u.new_address.addr_id, b->u.new_address.addr_id);
        assert_int_equal(a->u.new_address.version, b->u.new_address.version);
        assert_int_equal(a->u.new_address.port, b->u.new_address.port);
        assert_memory_equal(a->u.new_address.addr, b->u.new_address.addr, 16);
        break;
    case TCPLS_FRAME_REMOVE_ADDRESS:
        assert_int_equal(a->u.remove_address.addr_id, b->u.remove_address.addr_id);
        break;
    case TCPLS_FRAME_STREAM_CHANGE:
        assert_int_equal(a->u.stream_change.stream_id, b->u.stream_change.stream_id);
        assert_int_equal(a->u.stream_change.offset, b->u.stream_change.offset);
        break;
    case TCPLS_FRAME_CONN_PRIORITY:
        assert_int_equal(a->u.conn_priority.conn_id, b->u.conn_priority.conn_id);
        assert_int_equal(a->u.conn_priority.backup, b->u.conn_priority.backup);
        break;
    }
}

static void
test_round_trip_each(void **state)
{
    tcpls_frame_t f[12], g;
    size_t n = all_frames(f);
    uint8_t buf[128];

    for (size_t i = 0; i < n; i++) {
        size_t len = tcpls__frame_encode(buf, sizeof(buf), &f[i]);
        const uint8_t *cur = buf + len;
        assert_int_equal(len, tcpls__frame_size(&f[i]));
        assert_int_equal(buf[len - 1], f[i].type); /* type last */
        assert_int_equal(tcpls__frame_parse(&cur, buf, &g), 0);
        assert_ptr_equal(cur, buf);
        assert_frame_equal(&f[i], &g);
    }
}

static void
test_record_of_frames_back_to_front(void **state)
{
    tcpls_frame_t f[12], g;
    size_t n = all_frames(f), len = 0;
    uint8_t buf[512];
    const uint8_t *cur;

    for (size_t i = 0; i < n; i++)
        len += tcpls__frame_encode(buf + len, sizeof(buf) - len, &f[i]);
    cur = buf + len;
    for (size_t i = n; i-- > 0;) {
        assert_int_equal(tcpls__frame_parse(&cur, buf, &g), 0);
        assert_frame_equal(&f[i], &g);
    }
    assert_ptr_equal(cur, buf);
    assert_int_equal(tcpls__frame_parse(&cur, buf, &g), TCPLS_ERR_FRAME); /* nothing left */
}

static void
test_truncated(void **state)
{
    tcpls_frame_t f[12], g;
    size_t n = all_frames(f);
    uint8_t buf[128];

    for (size_t i = 0; i < n; i++) {
        size_t len = tcpls__frame_encode(buf, sizeof(buf), &f[i]);
        /* frames are parsed from the end: cutting bytes off the front truncates them */
        for (size_t cut = 1; cut <= len; cut++) {
            const uint8_t *cur = buf + len;
            int r = tcpls__frame_parse(&cur, buf + cut, &g);
            if (f[i].type == TCPLS_FRAME_NEW_ADDRESS && f[i].u.new_address.version == 6 && cut < len)
                assert_true(r == TCPLS_ERR_FRAME);
            else
                assert_int_equal(r, TCPLS_ERR_FRAME);
            assert_ptr_equal(cur, buf + len); /* untouched on error */
        }
        assert_int_equal(tcpls__frame_encode(buf, len - 1, &f[i]), 0); /* no room */
    }
}

static void
test_malformed(void **state)
{
    tcpls_frame_t g;
    uint8_t buf[64] = {0};
    const uint8_t *cur;

    for (int t = 0x0a; t <= 0xff; t++) {
        if (t == TCPLS_FRAME_CONN_PRIORITY)
            continue; /* our extension, below */
        buf[20] = (uint8_t)t;
        cur = buf + 21;
        assert_int_equal(tcpls__frame_parse(&cur, buf, &g), TCPLS_ERR_FRAME);
    }
    /* New Address with version 5 */
    buf[19] = 5;
    buf[20] = TCPLS_FRAME_NEW_ADDRESS;
    cur = buf + 21;
    assert_int_equal(tcpls__frame_parse(&cur, buf, &g), TCPLS_ERR_FRAME);
    /* Stream frame claiming more data than the record holds */
    tcpls__frame_stream_trailer(buf + 10, 0, 0, 11, 0);
    cur = buf + 25;
    assert_int_equal(tcpls__frame_parse(&cur, buf, &g), TCPLS_ERR_FRAME);
    cur = buf + 25;
    assert_int_equal(tcpls__frame_parse(&cur, buf - 0 + 0, &g), TCPLS_ERR_FRAME);
    tcpls__frame_stream_trailer(buf + 10, 0, 0, 10, 0);
    cur = buf + 25;
    assert_int_equal(tcpls__frame_parse(&cur, buf, &g), 0);
    assert_int_equal(g.u.stream.len, 10);
    /* Stream frame whose offset + length overflows */
    tcpls__frame_stream_trailer(buf + 10, 0, UINT64_MAX, 10, 0);
    cur = buf + 25;
    assert_int_equal(tcpls__frame_parse(&cur, buf, &g), TCPLS_ERR_FRAME);
    /* Connection Priority with a flag other than 0 or 1 */
    buf[19] = 2;
    buf[20] = TCPLS_FRAME_CONN_PRIORITY;
    cur = buf + 21;
    assert_int_equal(tcpls__frame_parse(&cur, buf, &g), TCPLS_ERR_FRAME);
    buf[19] = 0;
    cur = buf + 21;
    assert_int_equal(tcpls__frame_parse(&cur, buf, &g), 0);
    /* empty input */
    cur = buf;
    assert_int_equal(tcpls__frame_parse(&cur, buf, &g), TCPLS_ERR_FRAME);
}

static void
test_ack_eliciting(void **state)
{
    assert_false(tcpls__frame_is_ack_eliciting(TCPLS_FRAME_PADDING));
    assert_false(tcpls__frame_is_ack_eliciting(TCPLS_FRAME_ACK));
    assert_true(tcpls__frame_is_ack_eliciting(TCPLS_FRAME_PING));
    assert_true(tcpls__frame_is_ack_eliciting(TCPLS_FRAME_STREAM));
    assert_true(tcpls__frame_is_ack_eliciting(TCPLS_FRAME_NEW_TOKEN));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_each), cmocka_unit_test(test_record_of_frames_back_to_front),
        cmocka_unit_test(test_truncated),       cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_ack_eliciting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
