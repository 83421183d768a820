/* Unit tests: src/testbed/trace.c (Mahimahi traces: parsing, delivery times, looping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testbed/trace.h"

#define MS 1000000ull

static int
parse(const char *text, mpl_trace_t *t, char *err)
{
    return mpl_trace_parse(text, strlen(text), "x.trace", t, err, 256);
}

static void
test_parse(void **state)
{
    mpl_trace_t t;
    char err[256];
    assert_int_equal(parse("# comment\n1\n1\n\n3  # two at 1 ms, one at 3\n", &t, err), 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.period_ms, 3);
    /* 3 x 1500 bytes per 3 ms = 12 Mbit/s */
    assert_true(mpl_trace_mean_bps(&t) > 11.99e6 && mpl_trace_mean_bps(&t) < 12.01e6);
    mpl_trace_free(&t);
    assert_int_equal(parse("1\n5\n4\n", &t, err), -1);
    assert_string_equal(err, "x.trace:3: times must not decrease");
    assert_int_equal(parse("1\n2.5\n", &t, err), -1);
    assert_string_equal(err, "x.trace:2: expected a time in milliseconds (a whole number)");
    assert_int_equal(parse("-1\n", &t, err), -1);
    assert_int_equal(parse("# nothing\n", &t, err), -1);
    assert_non_null(strstr(err, "no delivery opportunity"));
    assert_int_equal(parse("0\n0\n", &t, err), -1);
    assert_non_null(strstr(err, "must be above 0 ms"));
    assert_null(t.ms);
}

static void
test_delivery(void **state)
{
    mpl_trace_t t;
    char err[256];
    /* one opportunity per ms: 12 Mbit/s */
    assert_int_equal(parse("1\n", &t, err), 0);
    mpl_trace_link_t l;
    uint64_t epoch = 1000 * MS;
    mpl_trace_link_init(&l, &t, epoch);
    /* a backlog of full frames leaves one per ms */
    for (int i = 0; i < 10; i++)
        assert_int_equal(mpl_trace_depart(&l, epoch, 1500), epoch + (uint64_t)(i + 1) * MS);
    /* small frames share an opportunity: 3 x 500 bytes in the next one */
    uint64_t t1 = mpl_trace_depart(&l, epoch, 500);
    assert_int_equal(t1, epoch + 11 * MS);
    assert_int_equal(mpl_trace_depart(&l, epoch, 500), t1);
    assert_int_equal(mpl_trace_depart(&l, epoch, 500), t1);
    assert_int_equal(mpl_trace_depart(&l, epoch, 500), t1 + MS);
    /* an idle link wastes its opportunities: a frame ready at 100.5 ms leaves at 101 ms */
    assert_int_equal(mpl_trace_depart(&l, epoch + 100 * MS + MS / 2, 1500), epoch + 101 * MS);
    /* a frame ready exactly at an opportunity uses it */
    assert_int_equal(mpl_trace_depart(&l, epoch + 200 * MS, 1500), epoch + 200 * MS);
    /* a frame larger than one opportunity (a jumbo) takes two */
    assert_int_equal(mpl_trace_depart(&l, epoch + 300 * MS, 2000), epoch + 301 * MS);
    mpl_trace_free(&t);
}

static void
test_loop_and_rate(void **state)
{
    /* on-off: opportunities at 1..5 ms, then none until 10 ms (the period), looped */
    mpl_trace_t t;
    char err[256];
    assert_int_equal(parse("1\n2\n3\n4\n5\n10\n", &t, err), 0);
    mpl_trace_link_t l;
    mpl_trace_link_init(&l, &t, 0);
    uint64_t want[] = {1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 20, 21};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(mpl_trace_depart(&l, 0, 1500), want[i] * MS);
    /* ready in the off time of loop 3: waits for the loop's last opportunity (40 ms) */
    assert_int_equal(mpl_trace_depart(&l, 36 * MS, 1500), 40 * MS);
    assert_int_equal(mpl_trace_depart(&l, 40 * MS + 1, 1500), 41 * MS);
    /* a saturated link delivers the mean rate over whole periods: 6 x 1500 B / 10 ms */
    mpl_trace_link_init(&l, &t, 0);
    uint64_t last = 0, bytes = 0;
    while ((last = mpl_trace_depart(&l, 0, 1000)) <= 1000 * MS)
        bytes += 1000;
    double bps = (double)bytes * 8 / 1.0;
    assert_true(bps > 0.99 * mpl_trace_mean_bps(&t) && bps < 1.01 * mpl_trace_mean_bps(&t));
    mpl_trace_free(&t);
}

static void
test_shipped_traces(void **state)
{
    static const char *const files[] = {"traces/stepped.trace", "traces/onoff.trace",
                                        "traces/variable.trace"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        mpl_trace_t t;
        char err[256];
        if (mpl_trace_load(files[i], &t, err, sizeof(err)) != 0)
            fail_msg("%s", err);
        assert_true(mpl_trace_mean_bps(&t) > 1e6);
        mpl_trace_free(&t);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_delivery),
        cmocka_unit_test(test_loop_and_rate),
        cmocka_unit_test(test_shipped_traces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
