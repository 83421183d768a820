/*
 * sink.c — see sink.h.
 */
#include "xfer/sink.h"

#include "xfer/bytesgen.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
mpl_sink_init(mpl_body_sink_t *s, const mpl_sink_cfg_t *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    if (s->cfg.interval_s <= 0)
        s->cfg.interval_s = 1.0;
    s->bytes_n = -1;
    s->verified_all = 1;
    if (cfg->hash) {
        s->sha = EVP_MD_CTX_new();
        if (s->sha == NULL || EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) != 1)
            return -1;
    }
    return 0;
}

void
mpl_sink_start(mpl_body_sink_t *s)
{
    s->start_ns = mpl_now_ns();
    s->interval_start_ns = s->start_ns;
    s->last_tick_ns = s->start_ns;
    s->last_progress_ns = s->start_ns; /* first progress line after 200 ms */
}

void
mpl_sink_begin(mpl_body_sink_t *s, int64_t bytes_n, uint64_t expected)
{
    s->bytes_n = s->cfg.verify ? bytes_n : -1;
    if (bytes_n < 0 || !s->cfg.verify)
        s->verified_all = 0;
    s->cur = 0;
    s->expected = expected;
}

void
mpl_sink_end(mpl_body_sink_t *s)
{
    if (s->bytes_n >= 0 && s->cur != (uint64_t)s->bytes_n)
        s->verified_all = 0;
}

int
mpl_sink_write(mpl_body_sink_t *s, const uint8_t *data, size_t len)
{
    if (s->bytes_n >= 0) {
        int64_t bad = -1;
        if (s->cur + len > (uint64_t)s->bytes_n)
            bad = (int64_t)((uint64_t)s->bytes_n - s->cur);
        else
            bad = mpl_bytes_check(s->cur, data, len);
        if (bad >= 0 && !s->mismatch) {
            s->mismatch = 1;
            s->mismatch_at = s->cur + (uint64_t)bad;
            s->verified_all = 0;
        }
    }
    if (s->sha != NULL)
        EVP_DigestUpdate(s->sha, data, len);
    if (s->cfg.out_fd >= 0 && !s->write_error && mpl_write_all(s->cfg.out_fd, data, len) != 0)
        s->write_error = errno ? errno : EIO;
    s->cur += len;
    s->total += len;
    s->interval_bytes += len;
    return (s->mismatch || s->write_error) ? -1 : 0;
}

static void
close_interval(mpl_body_sink_t *s, uint64_t end_ns)
{
    double secs = (double)(end_ns - s->interval_start_ns) / 1e9;
    if (secs <= 0)
        return;
    if (s->n_intervals == s->cap_intervals) {
        size_t cap = s->cap_intervals ? s->cap_intervals * 2 : 64;
        mpl_interval_t *n = realloc(s->intervals, cap * sizeof(*n));
        if (n == NULL)
            return;
        s->intervals = n;
        s->cap_intervals = cap;
    }
    mpl_interval_t *iv = &s->intervals[s->n_intervals++];
    iv->t = (double)(end_ns - s->start_ns) / 1e9;
    iv->bytes = s->interval_bytes;
    iv->mbps = (double)s->interval_bytes * 8 / secs / 1e6;
    if (s->cfg.interval_out != NULL) {
        if (s->progress_shown) {
            fprintf(stderr, "\r\033[K");
            s->progress_shown = 0;
        }
        char b[32];
        fprintf(s->cfg.interval_out, "[%6.2f-%6.2f s] %10s  %9.2f Mbit/s\n",
                (double)(s->interval_start_ns - s->start_ns) / 1e9, iv->t,
                mpl_fmt_bytes(b, sizeof(b), (double)iv->bytes), iv->mbps);
        fflush(s->cfg.interval_out);
    }
    s->interval_start_ns = end_ns;
    s->interval_bytes = 0;
}

void
mpl_sink_tick(mpl_body_sink_t *s)
{
    uint64_t now = mpl_now_ns();
    uint64_t ilen = (uint64_t)(s->cfg.interval_s * 1e9);
    s->last_tick_ns = now;
    while (now - s->interval_start_ns >= ilen) {
        /* Attribute all bytes so far to the interval that just ended (ticks are frequent). */
        close_interval(s, s->interval_start_ns + ilen);
        if (now - s->interval_start_ns >= ilen)
            s->interval_bytes = 0;
    }
    if (s->cfg.progress && now - s->last_progress_ns >= 200000000ull) {
        /* current rate: the last 200 ms, smoothed over about a second */
        double dt = (double)(now - s->last_progress_ns) / 1e9;
        double inst = dt > 0 ? (double)(s->total - s->progress_bytes) * 8 / dt : 0;
        s->rate_bps = s->progress_bytes == 0 && s->rate_bps == 0 ? inst : 0.7 * s->rate_bps + 0.3 * inst;
        s->progress_bytes = s->total;
        double rate = s->rate_bps;
        char b[32], r[32], line[160];
        int n = snprintf(line, sizeof(line), "%s", mpl_fmt_bytes(b, sizeof(b), (double)s->total));
        if (s->expected > 0 && n > 0 && (size_t)n < sizeof(line)) {
            double pct = 100.0 * (double)s->cur / (double)s->expected;
            double eta = rate > 0 ? (double)(s->expected - s->cur) * 8 / rate : 0;
            n += snprintf(line + n, sizeof(line) - (size_t)n, "  %5.1f%%", pct);
            if (n > 0 && (size_t)n < sizeof(line))
                n += snprintf(line + n, sizeof(line) - (size_t)n, "  %s  ETA %.0fs",
                              mpl_fmt_rate(r, sizeof(r), rate), eta);
        } else if (n > 0 && (size_t)n < sizeof(line)) {
            snprintf(line + n, sizeof(line) - (size_t)n, "  %s", mpl_fmt_rate(r, sizeof(r), rate));
        }
        fprintf(stderr, "\r\033[K%s", line);
        s->progress_shown = 1;
        s->last_progress_ns = now;
    }
}

double
mpl_sink_finish(mpl_body_sink_t *s, char sha_hex[65])
{
    uint64_t now = mpl_now_ns();
    mpl_sink_tick(s);
    if (s->interval_bytes > 0 || s->n_intervals == 0)
        close_interval(s, now);
    if (s->progress_shown) {
        fprintf(stderr, "\r\033[K");
        s->progress_shown = 0;
    }
    sha_hex[0] = '\0';
    if (s->sha != NULL) {
        uint8_t md[32];
        unsigned int mdlen = 0;
        if (EVP_DigestFinal_ex(s->sha, md, &mdlen) == 1 && mdlen == 32)
            mpl_hex(md, 32, sha_hex);
    }
    return (double)(now - s->start_ns) / 1e9;
}

void
mpl_sink_cleanup(mpl_body_sink_t *s)
{
    EVP_MD_CTX_free(s->sha);
    s->sha = NULL;
    free(s->intervals);
    s->intervals = NULL;
}
