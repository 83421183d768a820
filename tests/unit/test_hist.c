/* Unit tests: src/common/hist.c (latency histogram, percentiles) and the --requests schedule
 * of src/xfer/load.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/hist.h"
#include "xfer/load.h"

/* Every value falls in the bucket whose bounds hold it; buckets are contiguous and at most
 * 1/32 of their lower bound wide. */
static void
test_buckets(void **state)
{
    for (size_t i = 0; i + 1 < MPL_HIST_BUCKETS; i++) {
        uint64_t lo = mpl_hist_bucket_lo(i), hi = mpl_hist_bucket_hi(i);
        assert_true(lo < hi);
        assert_int_equal(hi, mpl_hist_bucket_lo(i + 1));
        if (lo >= MPL_HIST_SUB)
            assert_true((hi - lo) * MPL_HIST_SUB <= lo);
        assert_int_equal(mpl_hist_index(lo), i);
        assert_int_equal(mpl_hist_index(hi - 1), i);
    }
    for (uint64_t v = 0; v < 100000; v += 7) {
        size_t i = mpl_hist_index(v);
        assert_true(mpl_hist_bucket_lo(i) <= v && v < mpl_hist_bucket_hi(i));
    }
    assert_int_equal(mpl_hist_index(0), 0);
    assert_int_equal(mpl_hist_index(31), 31);
    assert_int_equal(mpl_hist_index(32), 32);
    assert_int_equal(mpl_hist_index(UINT64_MAX), MPL_HIST_BUCKETS - 1);
}

static void
test_quantiles(void **state)
{
    mpl_hist_t *h = malloc(sizeof(*h));
    assert_non_null(h);
    mpl_hist_init(h);
    assert_int_equal(mpl_hist_quantile(h, 0.5), 0);
    /* 1 .. 10000 us once each: the exact p-quantile is p * 10000 */
    for (uint64_t v = 1; v <= 10000; v++)
        mpl_hist_record(h, v);
    assert_int_equal(h->count, 10000);
    assert_int_equal(h->min, 1);
    assert_int_equal(h->max, 10000);
    assert_true(mpl_hist_mean(h) > 5000.4 && mpl_hist_mean(h) < 5000.6);
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (size_t i = 0; i < 4; i++) {
        double exact = qs[i] * 10000, got = (double)mpl_hist_quantile(h, qs[i]);
        assert_true(got >= exact);          /* the bucket's largest value: never below */
        assert_true(got <= exact * 1.0313); /* within one bucket (1/32) */
    }
    assert_int_equal(mpl_hist_quantile(h, 1.0), 10000);
    assert_int_equal(mpl_hist_quantile(h, 0.0), 1);
    /* small values are exact */
    mpl_hist_init(h);
    for (int k = 0; k < 99; k++)
        mpl_hist_record(h, 20);
    mpl_hist_record(h, 5000000); /* one 5 s outlier */
    assert_int_equal(mpl_hist_quantile(h, 0.5), 20);
    assert_int_equal(mpl_hist_quantile(h, 0.99), 20);
    assert_int_equal(mpl_hist_quantile(h, 0.999), 5000000); /* clamped to max */
    /* merge adds counts and keeps min/max */
    mpl_hist_t *g = malloc(sizeof(*g));
    assert_non_null(g);
    mpl_hist_init(g);
    mpl_hist_record(g, 3);
    mpl_hist_merge(h, g);
    assert_int_equal(h->count, 101);
    assert_int_equal(h->min, 3);
    assert_int_equal(h->max, 5000000);
    free(g);
    free(h);
}

/* Open loop: request k is due at start + k / rate, and latency counts from there. */
static void
test_schedule(void **state)
{
    mpl_load_cfg_t cfg = {.requests = 3, .concurrency = 1, .rate = 1000};
    mpl_load_sched_t s;
    uint64_t due, t0 = 1000000000ull;
    mpl_load_sched_start(&s, &cfg, t0);
    assert_int_equal(mpl_load_sched_take(&s, t0, &due), 1);
    assert_int_equal(due, t0);
    assert_int_equal(mpl_load_sched_take(&s, t0 + 500000, &due), 0); /* next one at +1 ms */
    assert_int_equal(mpl_load_sched_wait_ns(&s, t0 + 500000), 500000);
    /* sent late (the connection was busy): it is still due at +1 ms */
    assert_int_equal(mpl_load_sched_take(&s, t0 + 5000000, &due), 1);
    assert_int_equal(due, t0 + 1000000);
    assert_int_equal(mpl_load_sched_take(&s, t0 + 5000000, &due), 1);
    assert_int_equal(due, t0 + 2000000);
    assert_int_equal(mpl_load_sched_take(&s, t0 + 9000000, &due), 0);
    assert_true(mpl_load_sched_wait_ns(&s, t0) == UINT64_MAX);

    mpl_load_result_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    mpl_load_note(r, t0 + 1000000, t0 + 6000000, NULL); /* 5 ms after it was due */
    assert_int_equal(r->hist.max, 5000);
    mpl_load_note(r, t0, t0 + 1, "HTTP status 404");
    mpl_load_note(r, t0, t0 + 1, "other");
    assert_int_equal(r->completed, 1);
    assert_int_equal(r->errors, 2);
    assert_string_equal(r->first_error, "HTTP status 404");
    free(r);

    /* closed loop: due now, as long as requests are left */
    mpl_load_cfg_t cl = {.requests = 2, .concurrency = 2};
    mpl_load_sched_start(&s, &cl, t0);
    assert_int_equal(mpl_load_sched_take(&s, t0 + 7, &due), 1);
    assert_int_equal(due, t0 + 7);
    assert_int_equal(mpl_load_sched_wait_ns(&s, t0 + 8), 0);
    assert_int_equal(mpl_load_sched_take(&s, t0 + 9, &due), 1);
    assert_int_equal(mpl_load_sched_take(&s, t0 + 9, &due), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
