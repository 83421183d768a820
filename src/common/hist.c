/*
 * hist.c — see hist.h.
 */
#include "common/hist.h"

#include <string.h>

void
mpl_hist_init(mpl_hist_t *h)
{
    memset(h, 0, sizeof(*h));
}

size_t
mpl_hist_index(uint64_t v)
{
    if (v < MPL_HIST_SUB)
        return (size_t)v;
    unsigned k = 63u - (unsigned)__builtin_clzll(v);
    if (k >= MPL_HIST_MAX_LOG2)
        return MPL_HIST_BUCKETS - 1;
    size_t sub = (size_t)(v >> (k - MPL_HIST_SUB_LOG2)) - MPL_HIST_SUB;
    return MPL_HIST_SUB + (size_t)(k - MPL_HIST_SUB_LOG2) * MPL_HIST_SUB + sub;
}

uint64_t
mpl_hist_bucket_lo(size_t i)
{
    if (i < MPL_HIST_SUB)
        return i;
    size_t k = (i - MPL_HIST_SUB) / MPL_HIST_SUB + MPL_HIST_SUB_LOG2, sub = (i - MPL_HIST_SUB) % MPL_HIST_SUB;
    return (uint64_t)(MPL_HIST_SUB + sub) << (k - MPL_HIST_SUB_LOG2);
}

uint64_t
mpl_hist_bucket_hi(size_t i)
{
    if (i < MPL_HIST_SUB)
        return i + 1;
    size_t k = (i - MPL_HIST_SUB) / MPL_HIST_SUB + MPL_HIST_SUB_LOG2;
    return mpl_hist_bucket_lo(i) + (1ull << (k - MPL_HIST_SUB_LOG2));
}

void
mpl_hist_record(mpl_hist_t *h, uint64_t v)
{
    h->counts[mpl_hist_index(v)]++;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += (double)v;
}

void
mpl_hist_merge(mpl_hist_t *dst, const mpl_hist_t *src)
{
    if (src->count == 0)
        return;
    for (size_t i = 0; i < MPL_HIST_BUCKETS; i++)
        dst->counts[i] += src->counts[i];
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
}

uint64_t
mpl_hist_quantile(const mpl_hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q <= 0)
        return h->min;
    if (q >= 1)
        return h->max;
    double want = q * (double)h->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < MPL_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            /* the largest value the bucket holds; exact for the one-value buckets */
            uint64_t v = mpl_hist_bucket_hi(i) - 1;
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double
mpl_hist_mean(const mpl_hist_t *h)
{
    return h->count ? h->sum / (double)h->count : 0;
}
