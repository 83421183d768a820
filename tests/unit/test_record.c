/* Unit tests: lib/record.c (AEAD protection, tamper detection, the TCPLS nonce). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "internal.h"

static const uint16_t suites[] = {TCPLS_SUITE_AES_128_GCM_SHA256, TCPLS_SUITE_AES_256_GCM_SHA384,
                                  TCPLS_SUITE_CHACHA20_POLY1305_SHA256};

static void
setup_pair(uint16_t suite, tcpls_aead_t *tx, tcpls_aead_t *rx)
{
    uint8_t secret[48];
    size_t len = suite == TCPLS_SUITE_AES_256_GCM_SHA384 ? 48 : 32;
    for (size_t i = 0; i < sizeof(secret); i++)
        secret[i] = (uint8_t)(i + suite);
    assert_int_equal(tcpls__aead_init(tx, suite, secret, len, 1), 0);
    assert_int_equal(tcpls__aead_init(rx, suite, secret, len, 0), 0);
}

static void
test_round_trip(void **state)
{
    uint8_t rec[TCPLS_MAX_CIPHERTEXT + 5], out[TCPLS_MAX_CIPHERTEXT + 5], *big = malloc(TCPLS_MAX_PLAINTEXT);
    for (size_t s = 0; s < 3; s++) {
        tcpls_aead_t tx, rx;
        setup_pair(suites[s], &tx, &rx);
        for (size_t i = 0; i < TCPLS_MAX_PLAINTEXT; i++)
            big[i] = (uint8_t)(i ^ s);
        tcpls_iov_t parts[2] = {{big, 1000}, {big + 1000, TCPLS_MAX_PLAINTEXT - 1000}};
        int n = tcpls__record_seal(&tx, 2, 77, TCPLS_CONTENT_APPDATA, parts, 2, rec);
        size_t olen;
        uint8_t ct;
        assert_int_equal(n, 5 + TCPLS_MAX_PLAINTEXT + 1 + 16);
        assert_int_equal(rec[0], 23);
        assert_int_equal(tcpls__record_length(rec, (size_t)n), n);
        assert_int_equal(tcpls__record_length(rec, (size_t)n - 1), 0);
        assert_int_equal(tcpls__record_open(&rx, 2, 77, rec, (size_t)n, out, &olen, &ct), 0);
        assert_int_equal(ct, TCPLS_CONTENT_APPDATA);
        assert_int_equal(olen, TCPLS_MAX_PLAINTEXT);
        assert_memory_equal(out, big, olen);
        /* too long */
        tcpls_iov_t toolong = {big, TCPLS_MAX_PLAINTEXT};
        tcpls_iov_t parts3[2] = {toolong, {big, 1}};
        assert_int_equal(tcpls__record_seal(&tx, 0, 0, 23, parts3, 2, rec), TCPLS_ERR_ARG);
        /* an alert */
        tcpls_iov_t alert = {(const uint8_t *)"\x01\x00", 2};
        n = tcpls__record_seal(&tx, 0, 5, TCPLS_CONTENT_ALERT, &alert, 1, rec);
        assert_int_equal(tcpls__record_open(&rx, 0, 5, rec, (size_t)n, out, &olen, &ct), 0);
        assert_int_equal(ct, TCPLS_CONTENT_ALERT);
        assert_int_equal(olen, 2);
        tcpls__aead_clear(&tx);
        tcpls__aead_clear(&rx);
    }
    free(big);
}

static void
test_tamper_detected(void **state)
{
    tcpls_aead_t tx, rx;
    uint8_t rec[600], copy[600], out[600];
    const uint8_t msg[500] = {1, 2, 3};
    tcpls_iov_t part = {msg, sizeof(msg)};
    size_t olen;
    uint8_t ct;
    int n;

    setup_pair(TCPLS_SUITE_AES_128_GCM_SHA256, &tx, &rx);
    n = tcpls__record_seal(&tx, 0, 0, TCPLS_CONTENT_APPDATA, &part, 1, rec);
    for (int i = 0; i < n; i++) {
        memcpy(copy, rec, (size_t)n);
        copy[i] ^= 0x01;
        int r = tcpls__record_open(&rx, 0, 0, copy, (size_t)n, out, &olen, &ct);
        if (i < 5)
            assert_true(r == TCPLS_ERR_RECORD || r == TCPLS_ERR_DECRYPT);
        else
            assert_int_equal(r, TCPLS_ERR_DECRYPT);
    }
    /* wrong sequence number or wrong connection id: a different nonce */
    assert_int_equal(tcpls__record_open(&rx, 0, 1, rec, (size_t)n, out, &olen, &ct), TCPLS_ERR_DECRYPT);
    assert_int_equal(tcpls__record_open(&rx, 1, 0, rec, (size_t)n, out, &olen, &ct), TCPLS_ERR_DECRYPT);
    assert_int_equal(tcpls__record_open(&rx, 0, 0, rec, (size_t)n, out, &olen, &ct), 0);
    /* bad headers */
    memcpy(copy, rec, (size_t)n);
    copy[0] = 22;
    assert_int_equal(tcpls__record_length(copy, (size_t)n), TCPLS_ERR_RECORD);
    copy[0] = 23;
    copy[3] = 0x50; /* body longer than 16 KiB + 256 */
    assert_int_equal(tcpls__record_length(copy, (size_t)n), TCPLS_ERR_RECORD);
    copy[3] = 0;
    copy[4] = 3; /* body shorter than a tag */
    assert_int_equal(tcpls__record_length(copy, (size_t)n), TCPLS_ERR_RECORD);
    tcpls__aead_clear(&tx);
    tcpls__aead_clear(&rx);
}

static int
cmp12(const void *a, const void *b)
{
    return memcmp(a, b, 12);
}

static void
test_nonce_unique(void **state)
{
    uint8_t iv[12], (*nonces)[12] = malloc(8 * 2000 * 12);
    size_t n = 0;
    for (int i = 0; i < 12; i++)
        iv[i] = (uint8_t)(0x5a + i);
    for (uint32_t conn = 0; conn < 8; conn++)
        for (uint64_t seq = 0; seq < 2000; seq++)
            tcpls__record_nonce(iv, conn, seq, nonces[n++]);
    qsort(nonces, n, 12, cmp12);
    for (size_t i = 1; i < n; i++)
        assert_true(memcmp(nonces[i - 1], nonces[i], 12) != 0);
    /* connection 0 uses the plain TLS 1.3 nonce; the connection id lands in the top 32 bits */
    uint8_t a[12], b[12];
    tcpls__record_nonce(iv, 0, 1, a);
    assert_memory_equal(a, iv, 11);
    assert_int_equal(a[11], iv[11] ^ 1);
    tcpls__record_nonce(iv, 0x01000000, 0, b);
    assert_int_equal(b[0], iv[0] ^ 1);
    assert_memory_equal(b + 1, iv + 1, 11);
    tcpls__record_nonce(iv, 0, UINT64_MAX, b);
    assert_memory_equal(b, iv, 4);
    free(nonces);
}

static void
test_padding_stripped(void **state)
{
    tcpls_aead_t tx, rx;
    uint8_t rec[200], out[200];
    const uint8_t msg[4] = {'a', 'b', 0, 0}; /* trailing zeros are content here */
    tcpls_iov_t parts[2] = {{msg, 4}, {(const uint8_t *)"\x17\x00\x00\x00", 4}};
    size_t olen;
    uint8_t ct;
    /* seal with content type 0 after explicit "type + zero padding": the real type is 0x17 */
    setup_pair(TCPLS_SUITE_AES_128_GCM_SHA256, &tx, &rx);
    int n = tcpls__record_seal(&tx, 0, 0, 0, parts, 2, rec);
    assert_int_equal(tcpls__record_open(&rx, 0, 0, rec, (size_t)n, out, &olen, &ct), 0);
    assert_int_equal(ct, 0x17);
    assert_int_equal(olen, 4);
    /* all zeros: no content type at all */
    tcpls_iov_t zeros = {(const uint8_t *)"\0\0\0", 3};
    n = tcpls__record_seal(&tx, 0, 1, 0, &zeros, 1, rec);
    assert_int_equal(tcpls__record_open(&rx, 0, 1, rec, (size_t)n, out, &olen, &ct), TCPLS_ERR_RECORD);
    tcpls__aead_clear(&tx);
    tcpls__aead_clear(&rx);
}

static void
test_hkdf_rfc8448(void **state)
{
    /* RFC 8448 (simple 1-RTT): server application traffic secret -> key and iv */
    static const uint8_t secret[32] = {0xa1, 0x1a, 0xf9, 0xf0, 0x55, 0x31, 0xf8, 0x56, 0xad, 0x47, 0x11,
                                       0x6b, 0x45, 0xa9, 0x50, 0x32, 0x82, 0x04, 0xb4, 0xf4, 0x4b, 0xfb,
                                       0x6b, 0x3a, 0x4b, 0x4f, 0x1f, 0x3f, 0xcb, 0x63, 0x16, 0x43};
    static const uint8_t key[16] = {0x9f, 0x02, 0x28, 0x3b, 0x6c, 0x9c, 0x07, 0xef,
                                    0xc2, 0x6b, 0xb9, 0xf2, 0xac, 0x92, 0xe3, 0x56};
    static const uint8_t iv[12] = {0xcf, 0x78, 0x2b, 0x88, 0xdd, 0x83, 0x54, 0x9a, 0xad, 0xf1, 0xe9, 0x84};
    uint8_t out[16];
    assert_int_equal(tcpls__hkdf_expand_label(TCPLS_SUITE_AES_128_GCM_SHA256, secret, 32, "key", out, 16), 0);
    assert_memory_equal(out, key, 16);
    assert_int_equal(tcpls__hkdf_expand_label(TCPLS_SUITE_AES_128_GCM_SHA256, secret, 32, "iv", out, 12), 0);
    assert_memory_equal(out, iv, 12);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_tamper_detected),
        cmocka_unit_test(test_nonce_unique), cmocka_unit_test(test_padding_stripped),
        cmocka_unit_test(test_hkdf_rfc8448),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
