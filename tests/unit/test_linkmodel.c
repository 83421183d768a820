/* Unit tests: src/testbed/linkmodel.c (link models against their parameters, fixed seeds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "testbed/linkmodel.h"

#define N 400000

static mpl_lm_state_t st; /* large (quantile table) */

static void
set(mpl_lm_params_t *p, const char *k, const char *v)
{
    char err[128];
    int rc = mpl_lm_set_key(p, k, v, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s = %s: %s", k, v, rc > 0 ? "not a model key" : err);
}

/* Loss rate and mean burst length (consecutive losses) over N frames. */
static void
loss_stats(const mpl_lm_params_t *p, uint64_t seed, double *rate, double *burst)
{
    mpl_lm_state_init(&st, seed);
    long lost = 0, bursts = 0;
    int prev = 0;
    for (int i = 0; i < N; i++) {
        mpl_lm_verdict_t v;
        mpl_lm_packet(p, &st, (uint64_t)i * 1000, 1514, &v);
        lost += v.drop;
        if (v.drop && !prev)
            bursts++;
        prev = v.drop;
    }
    *rate = (double)lost / N;
    *burst = bursts ? (double)lost / (double)bursts : 0;
}

static void
test_random_loss(void **state)
{
    mpl_lm_params_t p;
    mpl_lm_params_init(&p);
    double rate, burst;
    p.loss_pct = 2;
    loss_stats(&p, 1, &rate, &burst);
    assert_true(fabs(rate - 0.02) < 0.0015);
    assert_true(fabs(burst - 1 / 0.98) < 0.03);
    /* correlation: the same rate, longer bursts: 1 / ((1 - p)(1 - c)) */
    set(&p, "loss_corr", "50%");
    loss_stats(&p, 2, &rate, &burst);
    assert_true(fabs(rate - 0.02) < 0.002);
    assert_true(fabs(burst - 1 / (0.98 * 0.5)) < 0.1);
    set(&p, "loss_corr", "90");
    loss_stats(&p, 3, &rate, &burst);
    assert_true(fabs(rate - 0.02) < 0.004);
    assert_true(fabs(burst - 1 / (0.98 * 0.1)) < 1.0);
    /* no loss: nothing lost, whatever the seed */
    mpl_lm_params_init(&p);
    loss_stats(&p, 4, &rate, &burst);
    assert_true(rate == 0);
}

static void
test_gilbert_elliott(void **state)
{
    mpl_lm_params_t p;
    mpl_lm_params_init(&p);
    double rate, burst;
    /* p = 1 %, r = 30 %, 1-h = 100 %, 1-k = 0 %: loss = p / (p + r), bursts of 1 / r */
    set(&p, "loss_ge", "1% 30%");
    assert_int_equal(p.ge, 1);
    assert_true(p.ge_1h_pct == 100 && p.ge_1k_pct == 0);
    loss_stats(&p, 5, &rate, &burst);
    assert_true(fabs(rate - 0.01 / 0.31) < 0.003);
    assert_true(fabs(burst - 1 / 0.3) < 0.15);
    /* general: 1-h = 60 %, 1-k = 1 %: loss = piG (1-k) + piB (1-h) */
    set(&p, "loss_ge", "2:20:60:1");
    loss_stats(&p, 6, &rate, &burst);
    double pib = 0.02 / 0.22, want = (1 - pib) * 0.01 + pib * 0.6;
    assert_true(fabs(rate - want) < 0.003);
    /* netem's default r = 100 - p */
    set(&p, "loss_ge", "5%");
    assert_true(p.ge_r_pct == 95);
    set(&p, "loss_ge", "none");
    assert_int_equal(p.ge, 0);
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile of the one-way delays (ms) of N frames. */
static void
delays(const mpl_lm_params_t *p, uint64_t seed, uint64_t *d)
{
    mpl_lm_state_init(&st, seed);
    for (int i = 0; i < N; i++) {
        mpl_lm_verdict_t v;
        uint64_t at = 1000000000ull + (uint64_t)i * 100000;
        mpl_lm_packet(p, &st, at, 1514, &v);
        d[i] = v.release_ns - at;
    }
    qsort(d, N, sizeof(d[0]), cmp_u64);
}

static double
q_ms(const uint64_t *d, double q)
{
    return (double)d[(int)(q * (N - 1))] / 1e6;
}

static void
test_jitter_quantiles(void **state)
{
    mpl_lm_params_t p;
    mpl_lm_params_init(&p);
    uint64_t *d = malloc(N * sizeof(*d));
    assert_non_null(d);
    set(&p, "jitter_reorder", "yes"); /* each frame at its own time: the raw distribution */
    p.delay_ns = 50000000;
    set(&p, "jitter", "10ms");
    /* uniform (netem's default): 50 +- 10 ms */
    delays(&p, 7, d);
    assert_true(fabs(q_ms(d, 0.25) - 45) < 0.15);
    assert_true(fabs(q_ms(d, 0.5) - 50) < 0.15);
    assert_true(fabs(q_ms(d, 0.75) - 55) < 0.15);
    assert_true(q_ms(d, 0) >= 40 - 0.01 && q_ms(d, 1) <= 60 + 0.01);
    /* normal: jitter is the standard deviation */
    set(&p, "jitter_dist", "normal");
    delays(&p, 8, d);
    assert_true(fabs(q_ms(d, 0.5) - 50) < 0.15);
    assert_true(fabs(q_ms(d, 0.8413) - 60) < 0.2);
    assert_true(fabs(q_ms(d, 0.1587) - 40) < 0.2);
    assert_true(fabs(q_ms(d, 0.9772) - 70) < 0.3);
    /* correlation keeps the marginal distribution */
    set(&p, "jitter_corr", "75%");
    delays(&p, 9, d);
    assert_true(fabs(q_ms(d, 0.8413) - 60) < 0.5);
    assert_true(fabs(q_ms(d, 0.1587) - 40) < 0.5);
    set(&p, "jitter_corr", "0");
    /* pareto: median (2^(1/3) - 1.5) x 4/3 x jitter below the delay, a long right tail */
    set(&p, "jitter_dist", "pareto");
    delays(&p, 10, d);
    double med = 50 + (cbrt(2) - 1.5) * 4 / 3 * 10, q99 = 50 + (cbrt(100) - 1.5) * 4 / 3 * 10;
    assert_true(fabs(q_ms(d, 0.5) - med) < 0.2);
    assert_true(fabs(q_ms(d, 0.99) - q99) < 1.5);
    /* paretonormal: 1/4 normal + 3/4 pareto, quantile by quantile */
    set(&p, "jitter_dist", "paretonormal");
    delays(&p, 11, d);
    assert_true(fabs(q_ms(d, 0.5) - (50 + 0.75 * (cbrt(2) - 1.5) * 4 / 3 * 10)) < 0.2);
    free(d);
}

static void
test_jitter_order(void **state)
{
    mpl_lm_params_t p;
    mpl_lm_params_init(&p);
    p.delay_ns = 20000000;
    set(&p, "jitter", "5ms");
    set(&p, "jitter_dist", "normal");
    /* default: frames keep their order (each leaves no earlier than the one ahead) */
    mpl_lm_state_init(&st, 12);
    uint64_t last = 0;
    int overtaken = 0;
    for (int i = 0; i < N; i++) {
        mpl_lm_verdict_t v;
        mpl_lm_packet(&p, &st, (uint64_t)i * 100000, 1514, &v);
        assert_true(v.release_ns >= last);
        assert_true(v.release_ns >= (uint64_t)i * 100000);
        last = v.release_ns;
    }
    /* jitter_reorder: frames 0.1 ms apart with 5 ms of jitter overtake each other */
    set(&p, "jitter_reorder", "yes");
    mpl_lm_state_init(&st, 13);
    last = 0;
    for (int i = 0; i < N; i++) {
        mpl_lm_verdict_t v;
        mpl_lm_packet(&p, &st, (uint64_t)i * 100000, 1514, &v);
        overtaken += v.release_ns < last;
        last = v.release_ns;
    }
    assert_true(overtaken > N / 4);
}

static void
test_reorder_duplicate_corrupt(void **state)
{
    mpl_lm_params_t p;
    mpl_lm_params_init(&p);
    p.delay_ns = 10000000;
    set(&p, "reorder", "25%");
    set(&p, "reorder_gap", "5");
    set(&p, "duplicate", "1%");
    set(&p, "corrupt", "0.5%");
    mpl_lm_state_init(&st, 14);
    long reordered = 0, dup = 0, corrupt = 0;
    int since = 0, min_since = 1 << 30;
    for (int i = 0; i < N; i++) {
        mpl_lm_verdict_t v;
        uint64_t at = (uint64_t)i * 100000;
        mpl_lm_packet(&p, &st, at, 1000, &v);
        assert_int_equal(v.drop, 0);
        if (v.reordered) {
            reordered++;
            assert_true(v.release_ns == at);
            if (reordered > 1 && since < min_since)
                min_since = since;
            since = 0;
        } else {
            since++;
            assert_true(v.release_ns >= at + p.delay_ns);
        }
        dup += v.copies == 2;
        if (v.corrupt_bit >= 0) {
            corrupt++;
            assert_true(v.corrupt_bit >= 14 * 8 && v.corrupt_bit < 1000 * 8);
        }
    }
    /* gap 5: 4 delayed frames, then each frame jumps with 25 %: 1 / (4 + 1 / 0.25) */
    assert_true(fabs((double)reordered / N - 0.125) < 0.003);
    assert_int_equal(min_since, 4);
    assert_true(fabs((double)dup / N - 0.01) < 0.001);
    assert_true(fabs((double)corrupt / N - 0.005) < 0.0007);
    /* the same seed gives the same decisions */
    mpl_lm_state_t a, b;
    mpl_lm_state_init(&a, 99);
    mpl_lm_state_init(&b, 99);
    for (int i = 0; i < 1000; i++) {
        mpl_lm_verdict_t va, vb;
        mpl_lm_packet(&p, &a, (uint64_t)i, 100, &va);
        mpl_lm_packet(&p, &b, (uint64_t)i, 100, &vb);
        assert_memory_equal(&va, &vb, sizeof(va));
    }
}

static void
test_keys_and_netem(void **state)
{
    mpl_lm_params_t p;
    mpl_lm_params_init(&p);
    char err[128], buf[256];
    assert_int_equal(mpl_lm_set_key(&p, "rate", "1mbit", err, sizeof(err)), 1);
    assert_int_equal(mpl_lm_set_key(&p, "jitter", "soon", err, sizeof(err)), -1);
    assert_string_equal(err, "invalid jitter 'soon' (0..10s, e.g. 5ms)");
    assert_int_equal(mpl_lm_set_key(&p, "jitter_dist", "gauss", err, sizeof(err)), -1);
    assert_int_equal(mpl_lm_set_key(&p, "duplicate", "101%", err, sizeof(err)), -1);
    assert_int_equal(mpl_lm_set_key(&p, "jitter_corr", "100%", err, sizeof(err)), -1);
    assert_int_equal(mpl_lm_set_key(&p, "loss_ge", "0%", err, sizeof(err)), -1);
    assert_int_equal(mpl_lm_set_key(&p, "loss_ge", "1% 2% 3% 4% 5%", err, sizeof(err)), -1);
    assert_int_equal(mpl_lm_set_key(&p, "jitter_reorder", "maybe", err, sizeof(err)), -1);
    assert_false(mpl_lm_params_extended(&p));
    p.delay_ns = 10000000;
    assert_string_equal(mpl_lm_netem_args(&p, buf, sizeof(buf)), "delay 10000us");
    set(&p, "jitter", "2ms");
    set(&p, "jitter_corr", "25%");
    set(&p, "jitter_dist", "paretonormal");
    p.loss_pct = 1;
    set(&p, "loss_corr", "10%");
    set(&p, "duplicate", "0.5%");
    set(&p, "corrupt", "0.1%");
    set(&p, "reorder", "5%");
    set(&p, "reorder_gap", "3");
    assert_true(mpl_lm_params_extended(&p));
    assert_string_equal(mpl_lm_netem_args(&p, buf, sizeof(buf)),
                        "delay 10000us 2000us 25% distribution paretonormal loss random 1% 10% duplicate "
                        "0.5% corrupt 0.1% reorder 5% gap 3");
    set(&p, "loss_ge", "1% 30% 100% 0%");
    assert_non_null(strstr(mpl_lm_netem_args(&p, buf, sizeof(buf)), "loss gemodel 1% 30% 100% 0%"));
    /* a short buffer is cut, never overrun */
    char small[8];
    mpl_lm_netem_args(&p, small, sizeof(small));
    assert_int_equal(strlen(small), 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_loss),
        cmocka_unit_test(test_gilbert_elliott),
        cmocka_unit_test(test_jitter_quantiles),
        cmocka_unit_test(test_jitter_order),
        cmocka_unit_test(test_reorder_duplicate_corrupt),
        cmocka_unit_test(test_keys_and_netem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
