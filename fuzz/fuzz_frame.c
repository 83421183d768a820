/*
 * fuzz_frame.c — libFuzzer target: the input is the plaintext of a record; every frame is
 * parsed back to front, as the session does, then re-encoded and compared.
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
    return 0;
}
