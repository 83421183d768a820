/*
 * bench_record.c — libtcpls record layer alone: protect and open 16 KiB records for each
 * TLS 1.3 suite, in Gbit/s of plaintext on one core. The ceiling for a TCPLS connection on
 * this machine (the socket path adds copies and syscalls). Usage: build/bench/bench_record [MB]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    static const struct {
        uint16_t id;
        const char *name;
    } suites[] = {{TCPLS_SUITE_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256"},
                  {TCPLS_SUITE_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384"},
                  {TCPLS_SUITE_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256"}};
    size_t mb = argc > 1 ? (size_t)atoi(argv[1]) : 512;
    size_t payload = TCPLS_MAX_PLAINTEXT - TCPLS_STREAM_TRAILER_LEN, n = mb * 1000000 / payload;
    uint8_t *data = calloc(1, TCPLS_MAX_PLAINTEXT), *rec = malloc(TCPLS_MAX_CIPHERTEXT + 5),
            *plain = malloc(TCPLS_MAX_CIPHERTEXT + 5), secret[48] = {1},
            *ring = malloc(64 * (TCPLS_MAX_CIPHERTEXT + 5));

    if (data == NULL || rec == NULL || plain == NULL || ring == NULL)
        return 1;
    printf("%-30s %12s %12s\n", "suite", "seal Gbit/s", "open Gbit/s");
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        tcpls_aead_t tx, rx;
        double t0, t1, t2;
        size_t plen;
        uint8_t ct;
        int len = 0;
        if (tcpls__aead_init(&tx, suites[i].id, secret, 32, 1) != 0 ||
            tcpls__aead_init(&rx, suites[i].id, secret, 32, 0) != 0)
            return 1;
        tcpls_iov_t iov = {data, payload};
        t0 = now_s();
        for (size_t k = 0; k < n; k++)
            len = tcpls__record_seal(&tx, 0, k, TCPLS_CONTENT_APPDATA, &iov, 1, rec);
        t1 = now_s();
        /* records of sequence numbers 0..63, opened in turn */
        for (size_t k = 0; k < 64; k++)
            tcpls__record_seal(&tx, 0, k, TCPLS_CONTENT_APPDATA, &iov, 1,
                               ring + k * (TCPLS_MAX_CIPHERTEXT + 5));
        t1 = now_s();
        for (size_t k = 0; k < n; k++) {
            if (tcpls__record_open(&rx, 0, k % 64, ring + (k % 64) * (TCPLS_MAX_CIPHERTEXT + 5), (size_t)len,
                                   plain, &plen, &ct) != 0)
                return 1;
        }
        t2 = now_s();
        double seal = t1 - t0, open = t2 - t1;
        printf("%-30s %12.2f %12.2f\n", suites[i].name, (double)n * payload * 8 / seal / 1e9,
               open > 0 ? (double)n * payload * 8 / open / 1e9 : 0.0);
        tcpls__aead_clear(&tx);
        tcpls__aead_clear(&rx);
    }
    free(data);
    free(rec);
    free(plain);
    free(ring);
    return 0;
}
