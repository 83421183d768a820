/*
 * fuzz_session.c — libFuzzer target: a real TCPLS client and server (tests/support/pairnet)
 * with two or three connections, driven by the input as a program of one-byte operations:
 * move a connection's output, deliver part of a queue, drop a connection, flip a byte on the
 * wire, inject arbitrary frames, close either side, join again. Afterwards everything is
 * pumped. Checked: no crash or sanitizer report, the bytes each side delivered are a prefix of
 * what the other sent (unless the program injected frames, which bypass authentication), and
 * heap growth stays under the context's receive cap plus the send buffers.
 */
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include "../tests/support/pairnet.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
heap_now(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    pn_net_t n;
    int injected = 0;
    size_t heap0 = heap_now(), peak = 0;

    if (size < 3)
        return 0;
    if (pn_init(&n, 3, NULL) != 0)
        __builtin_trap();
    pn_join(&n, 1);
    if (p[0] & 1)
        pn_join(&n, 2);
    pn_pump(&n, 8);
    pn_request(&n, (uint64_t)(p[1] & 15) * 7000, (uint64_t)(p[2] & 31) * 9000);
    n.close_after_write = (p[0] >> 1) & 1;
    p += 3;
    while (p < end) {
        uint8_t op = *p++, arg = p < end ? *p++ : 0;
        int slot = (op >> 3) % PN_CONNS;
        switch (op & 7) {
        case 0:
            pn_out(&n, slot);
            break;
        case 1:
        case 2:
            pn_in(&n, slot, (op & 7) == 1, (size_t)arg * 97 + 1);
            break;
        case 3: /* the connection breaks: both ends see EOF */
            if (n.c[slot].used && !n.c[slot].dead) {
                n.c[slot].dead = 1;
                tcpls_conn_eof(n.client, n.c[slot].id);
                tcpls_conn_eof(n.c[slot].srv, n.c[slot].sid);
            }
            break;
        case 4: { /* a flipped bit on the wire */
            pn_queue_t *q = op & 0x80 ? &n.c[slot].s2c : &n.c[slot].c2s;
            if (q->len > 0)
                q->buf[arg % q->len] ^= (uint8_t)(1u << (arg & 7));
            break;
        }
        case 5: { /* frames as if they came in an authenticated record */
            size_t k = arg % 96;
            if (k > (size_t)(end - p))
                k = (size_t)(end - p);
            tcpls_session_t *s = op & 0x80 ? n.client : n.server;
            tcpls__session_feed_frames(s, op & 0x80 ? n.c[slot].id : n.c[slot].sid, p, k);
            p += k;
            injected = 1;
            break;
        }
        case 6:
            tcpls_session_close(op & 0x80 ? n.client : n.server);
            break;
        case 7:
            if (!n.c[slot].used || n.c[slot].dead) {
                if (n.c[slot].used && n.c[slot].srv != n.server)
                    tcpls_session_free(n.c[slot].srv);
                n.c[slot].srv = NULL;
                n.c[slot].c2s.len = n.c[slot].s2c.len = 0;
                if (pn_join(&n, slot) != 0)
                    n.c[slot].used = 0;
            }
            break;
        }
        size_t h = heap_now();
        if (h > peak)
            peak = h;
    }
    pn_pump(&n, 60);
    if (!injected) {
        if (n.cli.bad != 0 || n.srv.bad != 0 || n.cli.received > n.download || n.srv.received > n.upload)
            __builtin_trap(); /* delivered bytes must be a prefix of what was sent */
    }
    if (peak > heap0 && peak - heap0 > ((size_t)256 << 20) + ((size_t)64 << 20))
        __builtin_trap(); /* memory beyond the receive cap and the send buffers */
    pn_free(&n);
    return 0;
}
