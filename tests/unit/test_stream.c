/* Unit tests: lib/stream.c (send ring, acknowledgments, resend ranges, reordering). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

static uint8_t got[1 << 20];
static size_t got_len;
static int got_fin, calls;

static void
collect(void *arg, tcpls_stream_t *st, const uint8_t *data, size_t len, int fin)
{
    if (len)
        memcpy(got + got_len, data, len);
    got_len += len;
    got_fin += fin;
    calls++;
}

static void
reset_collect(void)
{
    got_len = 0;
    got_fin = 0;
    calls = 0;
}

static void
test_send_ring_and_acks(void **state)
{
    tcpls_stream_t *st = tcpls__stream_new(4);
    uint8_t data[100000];
    tcpls_iov_t iov[2];
    uint64_t off;
    size_t len;
    int fin, k;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13);
    assert_int_equal(tcpls__stream_append(st, data, 50000, 40000), 40000); /* bounded */
    assert_int_equal(tcpls__stream_append(st, data + 40000, 100, 40000), 0);
    assert_true(tcpls__stream_has_pending(st));
    k = tcpls__stream_next_chunk(st, 16000, &off, &len, &fin, iov);
    assert_int_equal(k, 1);
    assert_int_equal(off, 0);
    assert_int_equal(len, 16000);
    assert_false(fin);
    assert_memory_equal(iov[0].base, data, 16000);
    k = tcpls__stream_next_chunk(st, 16000, &off, &len, &fin, iov);
    assert_int_equal(off, 16000);
    /* out-of-order ack keeps the prefix */
    assert_int_equal(tcpls__stream_ack(st, 16000, 16000, 0), 0);
    assert_int_equal(st->slen, 40000);
    assert_int_equal(tcpls__stream_ack(st, 0, 16000, 0), 32000);
    assert_int_equal(st->slen, 8000);
    assert_int_equal(st->send_base, 32000);
    /* wrap around the ring */
    assert_int_equal(tcpls__stream_append(st, data + 40000, 60000, 65536), 57536);
    k = tcpls__stream_next_chunk(st, 16000, &off, &len, &fin, iov);
    assert_int_equal(off, 32000);
    k = tcpls__stream_next_chunk(st, 16000, &off, &len, &fin, iov);
    assert_int_equal(off, 48000);
    assert_int_equal(len, 16000);
    {
        uint8_t tmp[16000];
        memcpy(tmp, iov[0].base, iov[0].len);
        if (k == 2)
            memcpy(tmp + iov[0].len, iov[1].base, iov[1].len);
        assert_memory_equal(tmp, data + 48000, 16000);
    }
    /* FIN goes with the last bytes */
    st->fin_queued = 1;
    while ((k = tcpls__stream_next_chunk(st, 16000, &off, &len, &fin, iov)) > 0 && !fin)
        ;
    assert_true(fin);
    assert_int_equal(off + len, 97536);
    assert_false(tcpls__stream_has_pending(st));
    /* failover: resend a range, it comes out first, then nothing */
    assert_int_equal(tcpls__stream_requeue(st, 40000, 1000, 0), 0);
    assert_true(tcpls__stream_has_pending(st));
    k = tcpls__stream_next_chunk(st, 16000, &off, &len, &fin, iov);
    assert_int_equal(off, 40000);
    assert_int_equal(len, 1000);
    assert_memory_equal(iov[0].base, data + 40000, iov[0].len);
    assert_false(tcpls__stream_has_pending(st));
    assert_false(tcpls__stream_send_done(st));
    assert_int_equal(tcpls__stream_ack(st, 32000, 97536 - 32000, 1), 97536 - 32000);
    assert_true(tcpls__stream_send_done(st));
    tcpls__stream_free(st);
}

static void
test_fin_alone(void **state)
{
    tcpls_stream_t *st = tcpls__stream_new(0);
    tcpls_iov_t iov[2];
    uint64_t off;
    size_t len;
    int fin;
    st->fin_queued = 1;
    assert_true(tcpls__stream_has_pending(st));
    assert_int_equal(tcpls__stream_next_chunk(st, 100, &off, &len, &fin, iov), 1);
    assert_int_equal(len, 0);
    assert_true(fin);
    assert_false(tcpls__stream_has_pending(st));
    assert_int_equal(tcpls__stream_next_chunk(st, 100, &off, &len, &fin, iov), 0);
    /* a lost FIN-only record is requeued */
    tcpls__stream_requeue(st, 0, 0, 1);
    assert_true(tcpls__stream_has_pending(st));
    tcpls__stream_free(st);
}

static void
test_reorder(void **state)
{
    tcpls_stream_t *st = tcpls__stream_new(1);
    uint8_t data[3000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)i;
    reset_collect();
    assert_int_equal(tcpls__stream_receive(st, 2000, data + 2000, 1000, 1, 5000, collect, NULL), 0);
    assert_int_equal(tcpls__stream_receive(st, 1000, data + 1000, 1000, 0, 5000, collect, NULL), 0);
    assert_int_equal(got_len, 0);
    assert_int_equal(st->reorder_bytes, 2000);
    /* duplicate of an already-buffered range is harmless */
    assert_int_equal(tcpls__stream_receive(st, 0, data, 1500, 0, 5000, collect, NULL), 0);
    assert_int_equal(got_len, 3000);
    assert_memory_equal(got, data, 3000);
    assert_int_equal(got_fin, 1);
    assert_int_equal(st->reorder_bytes, 0);
    /* data beyond the FIN */
    assert_int_equal(tcpls__stream_receive(st, 3000, data, 10, 0, 5000, collect, NULL), TCPLS_ERR_PROTOCOL);
    /* a different FIN offset */
    assert_int_equal(tcpls__stream_receive(st, 0, data, 10, 1, 5000, collect, NULL), TCPLS_ERR_PROTOCOL);
    tcpls__stream_free(st);

    /* bounded: out-of-order bytes over the limit are refused */
    st = tcpls__stream_new(1);
    reset_collect();
    assert_int_equal(tcpls__stream_receive(st, 100, data, 1000, 0, 1500, collect, NULL), 0);
    assert_int_equal(tcpls__stream_receive(st, 2000, data, 1000, 0, 1500, collect, NULL), TCPLS_ERR_FLOW);
    tcpls__stream_free(st);

    /* empty FIN */
    st = tcpls__stream_new(1);
    reset_collect();
    assert_int_equal(tcpls__stream_receive(st, 0, data, 10, 0, 1500, collect, NULL), 0);
    assert_int_equal(tcpls__stream_receive(st, 10, NULL, 0, 1, 1500, collect, NULL), 0);
    assert_int_equal(got_fin, 1);
    assert_int_equal(calls, 2);
    tcpls__stream_free(st);
}

/* Random overlapping frames in random order, some repeated: the bytes delivered are exactly
 * the stream, once, in order, and the ring holds nothing at the end. */
static void
test_reorder_random(void **state)
{
    static uint8_t data[200000];
    uint64_t seed = 12345;
    size_t all_frames = 0;
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31 + 7);
    for (int round = 0; round < 20; round++) {
        tcpls_stream_t *st = tcpls__stream_new(1);
        size_t total = 1000 + (size_t)(round * 9973) % (sizeof(data) - 1000), frames = 0;
        uint64_t cover = 0;
        reset_collect();
        while (got_len < total) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            /* mostly near the in-order point, sometimes far, sizes 1 to 3000 */
            uint64_t r = seed >> 11;
            size_t len = 1 + (size_t)(r % ((r >> 20) % 4 == 0 ? 3000 : 40));
            uint64_t off = got_len + (r >> 32) % 60000;
            if ((r >> 40) % 8 == 0 && cover < total)
                off = cover; /* keeps progress going */
            if (off >= total)
                continue;
            if (off + len > total)
                len = (size_t)(total - off);
            int fin = off + len == total;
            assert_int_equal(tcpls__stream_receive(st, off, data + off, len, fin, 1 << 20, collect, NULL), 0);
            if (off <= cover && off + len > cover)
                cover = off + len;
            frames++;
        }
        assert_int_equal(got_len, total);
        assert_memory_equal(got, data, total);
        assert_int_equal(got_fin, 1);
        assert_int_equal(st->reorder_bytes, 0);
        assert_true(st->reorder_mem <= (1 << 20));
        all_frames += frames;
        tcpls__stream_free(st);
    }
    assert_true(all_frames > 1000);
}

/* One-byte frames filling every other byte, then the gaps: linear work, bounded memory. */
static void
test_reorder_one_byte_frames(void **state)
{
    static uint8_t data[100001];
    tcpls_stream_t *st = tcpls__stream_new(1);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i ^ (i >> 8));
    reset_collect();
    for (size_t i = 1; i < sizeof(data); i += 2)
        assert_int_equal(tcpls__stream_receive(st, i, data + i, 1, 0, 1 << 20, collect, NULL), 0);
    assert_int_equal(st->reorder_bytes, sizeof(data) / 2);
    assert_true(st->reorder_mem < 2 * sizeof(data) + 16384);
    for (size_t i = sizeof(data) - 1; i >= 2; i -= 2) /* gaps from the top: offset 0 comes last */
        assert_int_equal(tcpls__stream_receive(st, i - 2, data + i - 2, 1, 0, 1 << 20, collect, NULL), 0);
    assert_int_equal(got_len, sizeof(data) - 1);
    assert_memory_equal(got, data, sizeof(data) - 1);
    assert_int_equal(
        tcpls__stream_receive(st, sizeof(data) - 1, data + sizeof(data) - 1, 1, 1, 1 << 20, collect, NULL),
        0);
    assert_int_equal(got_len, sizeof(data));
    assert_int_equal(got_fin, 1);
    assert_int_equal(st->reorder_bytes, 0);
    tcpls__stream_free(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_ring_and_acks),
        cmocka_unit_test(test_fin_alone),
        cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_reorder_random),
        cmocka_unit_test(test_reorder_one_byte_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
