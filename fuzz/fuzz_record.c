/*
 * fuzz_record.c — libFuzzer target for record decoding. The first byte picks a mode:
 *   even: the rest is a byte stream of records opened with a fixed key (header checks,
 *         authentication failures, padding);
 *   odd:  the rest is sealed as a record's plaintext with that key, then opened and its frames
 *         parsed back to front (what an authenticated but hostile peer can send).
 */
#include <stdint.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tcpls_aead_t tx, rx;
static uint8_t buf[TCPLS_MAX_CIPHERTEXT + 64], plain[TCPLS_MAX_CIPHERTEXT + 64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    size_t plen;
    uint8_t ct;
    uint64_t seq = 0;

    if (!ready) {
        uint8_t secret[32] = {1, 2, 3, 4, 5, 6, 7, 8};
        if (tcpls__aead_init(&tx, TCPLS_SUITE_AES_128_GCM_SHA256, secret, 32, 1) != 0 ||
            tcpls__aead_init(&rx, TCPLS_SUITE_AES_128_GCM_SHA256, secret, 32, 0) != 0)
            __builtin_trap();
        ready = 1;
    }
    if (size < 1)
        return 0;
    if ((data[0] & 1) == 0) {
        data++;
        size--;
        while (size > 0) {
            int n = tcpls__record_length(data, size);
            if (n <= 0)
                break;
            tcpls__record_open(&rx, 0, seq++, data, (size_t)n, plain, &plen, &ct);
            data += n;
            size -= (size_t)n;
        }
        return 0;
    }
    data++;
    size--;
    if (size > TCPLS_MAX_PLAINTEXT)
        size = TCPLS_MAX_PLAINTEXT;
    tcpls_iov_t part = {data, size};
    int n = tcpls__record_seal(&tx, 1, 9, TCPLS_CONTENT_APPDATA, &part, 1, buf);
    if (n < 0)
        __builtin_trap();
    if (tcpls__record_open(&rx, 1, 9, buf, (size_t)n, plain, &plen, &ct) != 0)
        return 0; /* all-zero plaintext: no content type */
    const uint8_t *cur = plain + plen;
    tcpls_frame_t f;
    while (cur > plain && tcpls__frame_parse(&cur, plain, &f) == 0)
        ;
    return 0;
}
