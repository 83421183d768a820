/*
 * sink.h — where a client puts a response body: SHA-256 of everything, verification of
 * /bytes/N content at its offset, an optional output file, progress and per-interval
 * throughput. Transport-independent: the tcp/tls/mptcp client and the tcpls client feed the
 * same object.
 *
 *   mpl_body_sink_t s; mpl_sink_init(&s, &cfg);
 *   mpl_sink_begin(&s, bytes_n_or_-1, expected_len_or_0);   (per response)
 *   mpl_sink_write(&s, data, len);                           (body bytes, in order)
 *   mpl_sink_tick(&s);                                       (time passes; prints intervals)
 *   mpl_sink_end(&s);                                        (response complete)
 *   mpl_sink_finish(&s, hex);  mpl_sink_cleanup(&s);
 */
#ifndef MPLAB_SINK_H
#define MPLAB_SINK_H

#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

typedef struct mpl_interval {
    double t;       /* seconds since start, end of the interval */
    uint64_t bytes; /* body bytes in the interval */
    double mbps;
} mpl_interval_t;

typedef struct mpl_sink_cfg {
    int out_fd;         /* body written here, or -1 */
    int hash;           /* compute SHA-256 (1) or not (0) */
    int verify;         /* check /bytes/N content (1) or not (0) */
    double interval_s;  /* interval length for the intervals list (> 0) */
    FILE *interval_out; /* print each interval here (iperf3 style), or NULL */
    int progress;       /* show a progress line on stderr */
} mpl_sink_cfg_t;

typedef struct mpl_body_sink {
    mpl_sink_cfg_t cfg;
    EVP_MD_CTX *sha;
    uint64_t total;       /* body bytes over all responses */
    uint64_t cur;         /* body bytes of the current response */
    int64_t bytes_n;      /* current response is /bytes/N: verify at offset cur; else -1 */
    uint64_t expected;    /* total expected of this response (for percent/ETA), 0 unknown */
    int verified_all;     /* every response was /bytes/N and matched */
    int mismatch;         /* a /bytes/N byte differed */
    uint64_t mismatch_at; /* body offset of the first differing byte */
    int write_error;
    uint64_t start_ns, last_tick_ns, interval_start_ns, last_progress_ns;
    uint64_t interval_bytes;
    mpl_interval_t *intervals;
    size_t n_intervals, cap_intervals;
    int progress_shown;
    uint64_t progress_bytes; /* total at the last progress line */
    double rate_bps;         /* current rate (smoothed) for the progress line */
} mpl_body_sink_t;

/* Returns 0, or -1 when OpenSSL cannot create a digest context. */
int mpl_sink_init(mpl_body_sink_t *s, const mpl_sink_cfg_t *cfg);
/* Starts the clock (called when the first request is sent). */
void mpl_sink_start(mpl_body_sink_t *s);
void mpl_sink_begin(mpl_body_sink_t *s, int64_t bytes_n, uint64_t expected);
/* Returns 0, or -1 on a /bytes/N mismatch or output write error. */
int mpl_sink_write(mpl_body_sink_t *s, const uint8_t *data, size_t len);
void mpl_sink_end(mpl_body_sink_t *s);
/* Closes intervals that have elapsed; refreshes the progress line. Cheap; call often. */
void mpl_sink_tick(mpl_body_sink_t *s);
/* Ends the last (partial) interval and clears the progress line. sha_hex (65 bytes) gets
 * the digest (empty string when hashing is off). Returns elapsed seconds. */
double mpl_sink_finish(mpl_body_sink_t *s, char sha_hex[65]);
void mpl_sink_cleanup(mpl_body_sink_t *s);

#endif
