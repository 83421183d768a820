/* Unit tests: src/exp/results.c (runs.csv, statistics, failure metrics). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <cmocka.h>

#include "exp/results.h"

static mpl_run_t
mk(int point, mpl_proto_t proto, int path, int rep, double goodput, const char *status)
{
    mpl_run_t r;
    memset(&r, 0, sizeof(r));
    r.point = point;
    r.proto = proto;
    r.path = path;
    r.rep = rep;
    r.links = 2;
    r.goodput_mbps = goodput;
    r.seconds = 8;
    r.cpu_client_s = r.cpu_server_s = 0.5;
    r.stall_s = r.recover_s = r.second_path_s = NAN;
    r.share1_pct = 30;
    snprintf(r.status, sizeof(r.status), "%s", status);
    snprintf(r.label, sizeof(r.label), "split=30/70");
    snprintf(r.fail, sizeof(r.fail), "none");
    char s[32];
    snprintf(r.id, sizeof(r.id), "p%02d-%s-r%d", point, mpl_run_series(&r, s, sizeof(s)), rep);
    return r;
}

static void
test_median(void **state)
{
    double a[] = {3, 1, 2};
    assert_true(mpl_median(a, 3) == 2);
    double b[] = {4, 1, 3, 2};
    assert_true(mpl_median(b, 4) == 2.5);
    assert_true(isnan(mpl_median(b, 0)));
    double c[] = {5, 1, 4, 2, 3};
    assert_true(mpl_percentile(c, 5, 50) == 3);
    assert_true(mpl_percentile(c, 5, 99) == 5);
    assert_true(mpl_percentile(c, 5, 0) == 1);
    assert_true(isnan(mpl_percentile(c, 0, 50)));
}

/* Migration: the new path reaches 90% of 40 Mbit/s 0.5 s after the instant (2 s); the old path
 * carries 8 Mbit/s for 0.25 s after it. */
static void
test_migration_metrics(void **state)
{
    double t[80], old[80], nw[80], t90, bytes;
    for (int i = 0; i < 80; i++) {
        t[i] = (i + 1) * 0.05;
        old[i] = t[i] <= 2.25 ? 8 : 0;
        nw[i] = t[i] <= 2.25 ? 10 : 40;
    }
    mpl_migration_metrics(t, old, nw, 80, 2.0, 36, 0.25, &t90, &bytes);
    assert_true(fabs(t90 - 0.5) < 1e-9);
    assert_true(fabs(bytes - 8e6 / 8 * 0.25) < 1);
    mpl_migration_metrics(t, old, nw, 80, 2.0, 100, 0.25, &t90, &bytes);
    assert_true(isnan(t90));
    mpl_migration_metrics(t, old, nw, 80, 2.0, 0, 0.25, &t90, &bytes);
    assert_true(isnan(t90));
}

static void
test_groups_and_ratio(void **state)
{
    mpl_runs_t rs = {0};
    for (int rep = 1; rep <= 3; rep++) {
        mpl_run_t r = mk(1, MPL_PROTO_TCP, 1, rep, 28 + rep, "ok"); /* median 30 */
        mpl_runs_add(&rs, &r);
        r = mk(1, MPL_PROTO_TCP, 2, rep, 64 + rep, "ok"); /* median 66 */
        mpl_runs_add(&rs, &r);
        r = mk(1, MPL_PROTO_MPTCP, 0, rep, rep == 2 ? 0 : 90 + rep, rep == 2 ? "failed" : "ok");
        mpl_runs_add(&rs, &r); /* ok: 91, 93 -> median 92 */
        r = mk(1, MPL_PROTO_TCPLS, 0, rep, NAN, "unavailable");
        mpl_runs_add(&rs, &r);
        r = mk(1, MPL_PROTO_TLS, 0, rep, 29, "ok");
        mpl_runs_add(&rs, &r);
    }
    mpl_run_t slow = mk(2, MPL_PROTO_TCP, 1, 1, 30, "ok");
    mpl_runs_add(&rs, &slow);
    slow = mk(2, MPL_PROTO_TCP, 2, 1, 70, "ok");
    mpl_runs_add(&rs, &slow);
    slow = mk(2, MPL_PROTO_MPTCP, 0, 1, 50, "ok");
    mpl_runs_add(&rs, &slow);

    mpl_group_t *g;
    int n = mpl_stats_groups(&rs, &g);
    assert_int_equal(n, 8);
    const mpl_group_t *mptcp = NULL, *tcpls = NULL, *tls = NULL, *mptcp2 = NULL;
    for (int i = 0; i < n; i++) {
        if (g[i].point == 1 && g[i].proto == MPL_PROTO_MPTCP)
            mptcp = &g[i];
        if (g[i].point == 1 && g[i].proto == MPL_PROTO_TCPLS)
            tcpls = &g[i];
        if (g[i].point == 1 && g[i].proto == MPL_PROTO_TLS)
            tls = &g[i];
        if (g[i].point == 2 && g[i].proto == MPL_PROTO_MPTCP)
            mptcp2 = &g[i];
    }
    assert_non_null(mptcp);
    assert_int_equal(mptcp->n, 3);
    assert_int_equal(mptcp->n_ok, 2);
    assert_true(mptcp->median == 92);
    assert_true(mptcp->min == 91 && mptcp->max == 93);
    assert_true(mptcp->expected == 96);
    assert_true(fabs(mptcp->ratio - 92.0 / 96) < 1e-9);
    assert_false(mptcp->flagged);
    assert_true(tcpls->unavailable);
    assert_true(isnan(tcpls->median));
    assert_true(isnan(tls->expected)); /* single path: no ratio */
    assert_true(mptcp2->flagged);      /* 50 / 100 */

    FILE *f = fopen("/dev/null", "w");
    mpl_stats_print(f, g, n);
    fclose(f);
    free(g);
    mpl_runs_free(&rs);
}

static void
test_csv_roundtrip(void **state)
{
    char path[] = "/tmp/mplab-test-runs-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    mpl_runs_csv_header(f);
    mpl_run_t r = mk(3, MPL_PROTO_TCP, 2, 1, 47.5, "ok");
    snprintf(r.error, sizeof(r.error), "a, \"b\"\nc");
    snprintf(r.split, sizeof(r.split), "30/70");
    r.size = 1e8;
    r.bytes = 1e8;
    r.verified = 1;
    r.mptcp = -1;
    r.streams = 4;
    snprintf(r.streams_policy, sizeof(r.streams_policy), "pin");
    r.objects_p50_s = 1.25;
    r.objects_p99_s = 2.5;
    snprintf(r.migrate_mode, sizeof(r.migrate_mode), "bbm");
    r.migrate_t90_s = NAN;
    r.old_path_bytes = 12345;
    mpl_runs_csv_row(f, &r);
    mpl_run_t u = mk(3, MPL_PROTO_TCPLS, 0, 1, NAN, "unavailable");
    mpl_runs_csv_row(f, &u);
    mpl_run_t m = mk(3, MPL_PROTO_MPTLS, 0, 1, 90, "ok");
    m.second_path_s = 0.1175;
    mpl_runs_csv_row(f, &m);
    fputs("p03-mptcp-r1,3,split=30/70,1,mptcp,0,2,30,30/70,100mb", f); /* cut short */
    fclose(f);

    mpl_runs_t rs = {0};
    char err[256];
    assert_int_equal(mpl_runs_csv_load(path, &rs, err, sizeof(err)), 0);
    unlink(path);
    assert_int_equal(rs.n, 3);
    const mpl_run_t *x = mpl_runs_find(&rs, r.id);
    assert_non_null(x);
    assert_int_equal(x->point, 3);
    assert_int_equal(x->proto, MPL_PROTO_TCP);
    assert_int_equal(x->path, 2);
    assert_true(x->goodput_mbps == 47.5);
    assert_true(x->bytes == 1e8);
    assert_true(isnan(x->stall_s));
    assert_string_equal(x->split, "30/70");
    assert_string_equal(x->error, "a; ;b;;c");
    assert_int_equal(x->mptcp, -1);
    assert_int_equal(x->streams, 4);
    assert_string_equal(x->streams_policy, "pin");
    assert_true(x->objects_p50_s == 1.25 && x->objects_p99_s == 2.5);
    assert_string_equal(x->migrate_mode, "bbm");
    assert_true(isnan(x->migrate_t90_s));
    assert_true(x->old_path_bytes == 12345);
    assert_string_equal(rs.v[1].status, "unavailable");
    assert_true(isnan(rs.v[1].goodput_mbps));
    assert_true(isnan(rs.v[1].second_path_s));
    assert_int_equal(rs.v[2].proto, MPL_PROTO_MPTLS);
    assert_string_equal(rs.v[2].id, "p03-mptls-r1");
    assert_true(fabs(rs.v[2].second_path_s - 0.1175) < 1e-9);
    mpl_runs_free(&rs);
    /* a missing file is no runs */
    assert_int_equal(mpl_runs_csv_load("/nonexistent/runs.csv", &rs, err, sizeof(err)), 0);
    assert_int_equal(rs.n, 0);
}

static void
test_failure_metrics(void **state)
{
    /* 0.1 s intervals: 40 Mbit/s for 1 s, failure at 1.0, nothing until 1.5, then 20 Mbit/s */
    double t[40], m[40], stall, rec;
    for (int i = 0; i < 40; i++) {
        t[i] = (i + 1) * 0.1;
        m[i] = t[i] <= 1.0 + 1e-9 ? 40 : t[i] <= 1.5 + 1e-9 ? 0 : 20;
    }
    mpl_failure_metrics(t, m, 40, 1.0, 18, 0.5, &stall, &rec);
    assert_true(fabs(stall - 0.5) < 1e-6);
    /* the 0.5 s window after the failure is all 20 Mbit/s from t = 2.0 */
    assert_true(fabs(rec - 1.0) < 1e-6);
    /* a target above what survives: never */
    mpl_failure_metrics(t, m, 40, 1.0, 30, 0.5, &stall, &rec);
    assert_true(isnan(rec));
    /* no event: stall only */
    mpl_failure_metrics(t, m, 40, -1, 18, 0.5, &stall, &rec);
    assert_true(isnan(rec));
    assert_true(fabs(stall - 0.5) < 1e-6);
    /* leading silence (connection set-up) is not a stall */
    double t2[] = {0.1, 0.2, 0.3, 0.4}, m2[] = {0, 0, 5, 5};
    mpl_failure_metrics(t2, m2, 4, -1, 0, 0.5, &stall, &rec);
    assert_true(stall == 0);
}

static void
test_first_data(void **state)
{
    /* 20 Hz samples of a second link's rx counter from t = -0.1 s: 1000 bytes from before the
     * transfer (baseline), the join's handshake (600 bytes) by 0.10 s, then a first flight of
     * 10,000 bytes by 0.15 s: 4096 bytes above the baseline are crossed at
     * 0.10 + (4096 - 600) / 10000 x 0.05 s */
    double t[12], b[12];
    for (int i = 0; i < 12; i++) {
        t[i] = -0.1 + 0.05 * i;
        b[i] = 1000 + (t[i] > 0.099 ? 600 : 0) + (t[i] > 0.149 ? 10000.0 * (i - 4) : 0);
    }
    double s = mpl_first_data_s(t, b, 12, MPL_SECOND_PATH_BYTES);
    assert_true(fabs(s - (0.10 + (4096 - 600) / 10000.0 * 0.05)) < 1e-9);
    /* handshake bytes alone are not data */
    for (int i = 0; i < 12; i++)
        b[i] = 1000 + (t[i] > 0.099 ? 600 : 0);
    assert_true(isnan(mpl_first_data_s(t, b, 12, MPL_SECOND_PATH_BYTES)));
    /* the baseline is the last sample at or before the start: bytes counted before it (the
     * previous run) do not count */
    double t2[] = {-0.05, 0, 0.05, 0.10}, b2[] = {0, 50000, 50000, 60000};
    assert_true(fabs(mpl_first_data_s(t2, b2, 4, 4096) - (0.05 + 4096 / 10000.0 * 0.05)) < 1e-9);
    /* no sample before the start: the first one is the baseline; crossings never precede 0 */
    double t3[] = {0.02, 0.07}, b3[] = {0, 20000};
    assert_true(fabs(mpl_first_data_s(t3, b3, 2, 4096) - (0.02 + 4096 / 20000.0 * 0.05)) < 1e-9);
    double t4[] = {-0.2, -0.15, 0.05}, b4[] = {0, 100, 100000};
    assert_true(mpl_first_data_s(t4, b4, 3, 4096) == 0);
    assert_true(isnan(mpl_first_data_s(t4, b4, 0, 4096)));
    assert_true(isnan(mpl_first_data_s(t4, b4, 1, 4096)));
}

static mpl_run_t
mkp(int point, mpl_proto_t proto, int path, double goodput, const char *fail, const char *backup)
{
    mpl_run_t r = mk(point, proto, path, 1, goodput, "ok");
    r.size = 10e6;
    snprintf(r.fail, sizeof(r.fail), "%s", fail);
    snprintf(r.backup, sizeof(r.backup), "%s", backup);
    return r;
}

static const mpl_group_t *
find_group(const mpl_group_t *g, int n, int point, mpl_proto_t proto)
{
    for (int i = 0; i < n; i++)
        if (g[i].point == point && g[i].proto == proto)
            return &g[i];
    return NULL;
}

static void
test_expected_failover(void **state)
{
    /* 10 MB: 1 s at 40 Mbit/s (40 Mbit), the other 40 Mbit at 20 Mbit/s (2 s): 80 Mbit in 3 s */
    assert_true(fabs(mpl_expected_failover(10e6, 40, 20, 1) - 80.0 / 3) < 1e-9);
    /* ends before the failure */
    assert_true(mpl_expected_failover(1e6, 40, 20, 1) == 40);
    assert_true(isnan(mpl_expected_failover(10e6, 40, 0, 1)));
    assert_int_equal(mpl_stats_link_index("l1"), 1);
    assert_int_equal(mpl_stats_link_index("l12"), 12);
    assert_int_equal(mpl_stats_link_index("wan"), 0);
    assert_int_equal(mpl_stats_link_index("l0"), 0);
    assert_int_equal(mpl_stats_link_index("l2x"), 0);

    mpl_runs_t rs = {0};
    mpl_run_t r;
    /* point 1: l1 down at 1 s, two 20 Mbit/s links (the smoke scenario) */
    r = mkp(1, MPL_PROTO_TCP, 1, 20, "down", "none");
    mpl_runs_add(&rs, &r);
    r = mkp(1, MPL_PROTO_TCP, 2, 20, "down", "none");
    mpl_runs_add(&rs, &r);
    r = mkp(1, MPL_PROTO_MPTCP, 0, 21.4, "down", "none");
    mpl_runs_add(&rs, &r);
    /* point 2: l2 is an MPTCP backup, no failure */
    r = mkp(2, MPL_PROTO_TCP, 1, 30, "none", "l2");
    mpl_runs_add(&rs, &r);
    r = mkp(2, MPL_PROTO_TCP, 2, 70, "none", "l2");
    mpl_runs_add(&rs, &r);
    r = mkp(2, MPL_PROTO_MPTCP, 0, 29, "none", "l2");
    mpl_runs_add(&rs, &r);
    r = mkp(2, MPL_PROTO_TCPLS, 0, 95, "none", "l2");
    mpl_runs_add(&rs, &r);
    /* point 3: l2 backup, l1 (the primary) fails: 30 until 1 s, then the backup's 70 */
    r = mkp(3, MPL_PROTO_TCP, 1, 30, "blackhole", "l2");
    mpl_runs_add(&rs, &r);
    r = mkp(3, MPL_PROTO_TCP, 2, 70, "blackhole", "l2");
    mpl_runs_add(&rs, &r);
    r = mkp(3, MPL_PROTO_MPTCP, 0, 20, "blackhole", "l2");
    mpl_runs_add(&rs, &r);

    mpl_stats_ctx_t ctx = {.fail_at_s = 1, .fail_path = 1};
    mpl_group_t *g;
    int n = mpl_stats_groups_ctx(&rs, &ctx, &g);
    const mpl_group_t *x = find_group(g, n, 1, MPL_PROTO_MPTCP);
    assert_int_equal(x->basis, MPL_EXPECTED_FAILOVER);
    assert_true(fabs(x->expected - 80.0 / 3) < 1e-9);
    assert_true(fabs(x->ratio - 21.4 / (80.0 / 3)) < 1e-9);
    assert_false(x->flagged); /* 0.80, but a failure point is never flagged */
    x = find_group(g, n, 2, MPL_PROTO_MPTCP);
    assert_int_equal(x->basis, MPL_EXPECTED_BACKUP);
    assert_true(x->expected == 30);
    assert_false(x->flagged);
    x = find_group(g, n, 2, MPL_PROTO_TCPLS); /* TCPLS gets --backup for l2 too */
    assert_int_equal(x->basis, MPL_EXPECTED_BACKUP);
    assert_true(x->expected == 30);
    assert_true(x->flagged); /* 95 of an expected 30: the backup carried data */
    x = find_group(g, n, 3, MPL_PROTO_MPTCP);
    assert_int_equal(x->basis, MPL_EXPECTED_FAILOVER);
    /* 80 Mbit: 30 in the first second, 50 at 70 Mbit/s */
    assert_true(fabs(x->expected - 80.0 / (1 + 50.0 / 70)) < 1e-9);
    assert_false(x->flagged);
    FILE *f = fopen("/dev/null", "w");
    mpl_stats_print(f, g, n);
    fclose(f);
    free(g);

    /* without the failure parameters: no expected value at failure points, no flag */
    n = mpl_stats_groups(&rs, &g);
    x = find_group(g, n, 1, MPL_PROTO_MPTCP);
    assert_true(isnan(x->expected) && isnan(x->ratio));
    assert_int_equal(x->basis, MPL_EXPECTED_NONE);
    assert_false(x->flagged);
    free(g);
    mpl_runs_free(&rs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_median),           cmocka_unit_test(test_migration_metrics),
        cmocka_unit_test(test_groups_and_ratio), cmocka_unit_test(test_csv_roundtrip),
        cmocka_unit_test(test_failure_metrics),  cmocka_unit_test(test_expected_failover),
        cmocka_unit_test(test_first_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
