/*
 * fuzz_frame.c — libFuzzer target: the input is the plaintext of a record.
 *  1. every frame is parsed back to front, re-encoded, and must match byte for byte;
 *  2. the same bytes go through a session's frame handling (client role for odd lengths,
 *     server role for even ones), whose callbacks answer on every stream, so stream creation,
 *     reordering, acknowledgments and output building all see hostile input.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_data(tcpls_session_t *s, uint32_t id, const uint8_t *data, size_t len, int fin, void *ud)
{
    size_t acc;
    tcpls_stream_write(s, id, data, len, fin, &acc);
}

static const tcpls_ops_t ops = {NULL, NULL, on_data, NULL, NULL, NULL, NULL};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tcpls_ctx_t *ctx[2];
    const uint8_t *cur = data + size;
    tcpls_frame_t f;
    uint8_t out[TCPLS_MAX_CIPHERTEXT];

    while (cur > data) {
        const uint8_t *end = cur;
        if (tcpls__frame_parse(&cur, data, &f) != 0)
            break;
        if (cur < data || cur >= end)
            __builtin_trap();
        size_t n = tcpls__frame_encode(out, sizeof(out), &f);
        if (n != (size_t)(end - cur) || memcmp(out, cur, n) != 0)
            __builtin_trap(); /* parse and encode must agree byte for byte */
    }

    if (ctx[0] == NULL) {
        tcpls_ctx_config_t cc = {.is_server = 0, .insecure = 1}, sc = {.is_server = 1};
        ctx[0] = tcpls_ctx_new(&cc, NULL, 0);
        ctx[1] = tcpls_ctx_new(&sc, NULL, 0);
        if (ctx[0] == NULL || ctx[1] == NULL)
            __builtin_trap();
    }
    tcpls_session_t *s = tcpls_session_new(ctx[size % 2 == 0], &ops, NULL, NULL);
    if (s == NULL)
        return 0;
    if (size > TCPLS_MAX_PLAINTEXT)
        size = TCPLS_MAX_PLAINTEXT;
    tcpls__session_feed_frames(s, 0, data, size);
    /* and once more: the second record sees the state the first one left */
    tcpls__session_feed_frames(s, 0, data, size);
    const uint8_t *o;
    size_t olen;
    tcpls_conn_output(s, 0, &o, &olen);
    tcpls_session_free(s);
    return 0;
}
