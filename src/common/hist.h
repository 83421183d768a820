/*
 * hist.h — a latency histogram with logarithmic buckets (the HdrHistogram idea, fixed
 * precision): 'mplab get --requests' records one value per request, the experiment report
 * reads the buckets back from --json to draw latency CDFs.
 *
 * Values are microseconds (uint64). Buckets:
 *   - values 0 .. 31 have one bucket each (exact);
 *   - above, each power-of-two range [2^k, 2^(k+1)) (k >= 5) is cut into 32 equal
 *     sub-buckets of width 2^(k-5).
 * So a bucket is at most 1/32 (3.1 %) of its lower bound wide, and a percentile read from the
 * histogram is within 3.1 % of the exact one. Values from 2^MPL_HIST_MAX_LOG2 us (about 3
 * days) up are counted in the last bucket. Bucket i covers [mpl_hist_bucket_lo(i),
 * mpl_hist_bucket_hi(i)) and --json writes the non-empty ones as [lo_us, hi_us, count].
 * min, max, sum and count are kept exactly.
 */
#ifndef MPLAB_HIST_H
#define MPLAB_HIST_H

#include <stddef.h>
#include <stdint.h>

#define MPL_HIST_SUB_LOG2 5 /* 32 sub-buckets per power of two */
#define MPL_HIST_SUB      (1u << MPL_HIST_SUB_LOG2)
#define MPL_HIST_MAX_LOG2 38
#define MPL_HIST_BUCKETS  (MPL_HIST_SUB + (MPL_HIST_MAX_LOG2 - MPL_HIST_SUB_LOG2) * MPL_HIST_SUB)

typedef struct mpl_hist {
    uint64_t counts[MPL_HIST_BUCKETS];
    uint64_t count, min, max;
    double sum;
} mpl_hist_t;

void mpl_hist_init(mpl_hist_t *h);
/* The bucket index of value v (microseconds). */
size_t mpl_hist_index(uint64_t v);
/* Bounds of bucket i: [lo, hi). */
uint64_t mpl_hist_bucket_lo(size_t i);
uint64_t mpl_hist_bucket_hi(size_t i);
void mpl_hist_record(mpl_hist_t *h, uint64_t v);
/* Adds every count of src to dst. */
void mpl_hist_merge(mpl_hist_t *dst, const mpl_hist_t *src);
/* The value at quantile q (0 <= q <= 1): the largest value of the bucket holding the
 * ceil(q * count)-th smallest value (at least the 1st), clamped to [min, max]; q = 1 gives max
 * exactly, q = 0 min. 0 when the histogram is empty. */
uint64_t mpl_hist_quantile(const mpl_hist_t *h, double q);
double mpl_hist_mean(const mpl_hist_t *h);

#endif
