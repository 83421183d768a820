/* Unit tests: src/exp/latency.c (request-latency results: get --requests JSON into a run,
 * latency.csv, medians, the CDF) and the scenario keys of the request workload
 * (src/exp/scenario.c: workload, requests, concurrency, rate). */
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

#include "exp/latency.h"
#include "exp/scenario.h"

static void
expect_error(const char *text, const char *needle)
{
    mpl_scenario_t sc;
    char err[256] = "";
    assert_int_equal(mpl_sc_parse(text, strlen(text), "scenarios/t.ini", &sc, err, sizeof(err)), -1);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' does not contain '%s'", err, needle);
}

static void
test_scenario_keys(void **state)
{
    mpl_scenario_t sc;
    char err[256] = "";
    const char *def = "[scenario]\nname = x\n";
    assert_int_equal(mpl_sc_parse(def, strlen(def), "t.ini", &sc, err, sizeof(err)), 0);
    assert_int_equal(sc.workload_requests, 0);
    assert_int_equal(sc.requests, 1000);
    assert_int_equal(sc.concurrency, 10);
    assert_true(sc.req_rate == 0);
    const char *ok = "[scenario]\nworkload = requests\nrequests = 500\nconcurrency = 20\nrate = 250.5\n"
                     "[topology]\nrate = 10mbit\n";
    assert_int_equal(mpl_sc_parse(ok, strlen(ok), "t.ini", &sc, err, sizeof(err)), 0);
    assert_int_equal(sc.workload_requests, 1);
    assert_int_equal(sc.requests, 500);
    assert_int_equal(sc.concurrency, 20);
    assert_true(sc.req_rate == 250.5);

    expect_error("[scenario]\nworkload = stream\n", "t.ini:2: workload: expected bulk or requests");
    expect_error("[scenario]\n\nrequests = 0\n", "t.ini:3: requests: expected 1..");
    expect_error("[scenario]\nconcurrency = 0\n", "t.ini:2: concurrency: expected 1..");
    expect_error("[scenario]\nrate = 0\n", "t.ini:2: rate: expected requests per second");
    expect_error("[scenario]\nrate = -3\n", "t.ini:2: rate:");
    expect_error("[scenario]\nrequests = 5\nconcurrency = 8\n",
                 "t.ini:3: concurrency 8 is more than requests 5");
    expect_error("[scenario]\nworkload = requests\ndirection = upload\n", "direction upload does not apply");
}

static const char *json =
    "{\"proto\":\"tcpls\",\"workload\":\"requests\",\"requests\":4,\"concurrency\":2,\"rate\":null,"
    "\"completed\":4,\"errors\":0,\"bytes\":40000,\"seconds\":0.5,\"requests_per_s\":8,"
    "\"latency_ms\":{\"min\":0.1,\"mean\":1,\"p50\":0.5,\"p90\":2,\"p99\":3,\"p999\":3,\"max\":3},"
    "\"histogram\":{\"unit\":\"us\",\"sub_buckets\":32,\"buckets\":[[100,102,1],[496,504,2],[2944,3008,1]]},"
    "\"error\":null}";

static void
test_read_and_cdf(void **state)
{
    char dir[] = "/tmp/mplt-latency-XXXXXX";
    assert_non_null(mkdtemp(dir));
    mpl_jdoc_t d;
    char err[256];
    assert_int_equal(mpl_jdoc_parse(&d, json, strlen(json), err, sizeof(err)), 0);
    mpl_runs_t rs = {0};
    mpl_run_t r;
    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "p01-tcpls-r1");
    r.point = 1;
    r.proto = MPL_PROTO_TCPLS;
    snprintf(r.status, sizeof(r.status), "ok");
    mpl_latency_read_run(&d, mpl_jdoc_root(&d), &r, dir);
    mpl_jdoc_free(&d);
    assert_true(r.req_per_s == 8);
    assert_true(r.p50_ms == 0.5);
    assert_true(r.p99_ms == 3);
    assert_int_equal(r.verified, 1);
    assert_true(isnan(r.goodput_mbps));
    assert_int_equal(mpl_runs_add(&rs, &r), 0);
    /* a failed run's histogram is left out of the CDF */
    snprintf(r.id, sizeof(r.id), "p01-tcpls-r2");
    snprintf(r.status, sizeof(r.status), "failed");
    assert_int_equal(mpl_jdoc_parse(&d, json, strlen(json), err, sizeof(err)), 0);
    mpl_latency_read_run(&d, mpl_jdoc_root(&d), &r, dir);
    mpl_jdoc_free(&d);
    assert_int_equal(mpl_runs_add(&rs, &r), 0);

    char path[600];
    snprintf(path, sizeof(path), "%s/cdf.dat", dir);
    FILE *f = fopen(path, "w+");
    assert_non_null(f);
    char titles[4][32];
    assert_int_equal(mpl_latency_cdf(dir, &rs, 1, f, titles, 4), 1);
    assert_string_equal(titles[0], "tcpls");
    assert_int_equal(mpl_latency_cdf(dir, &rs, 2, f, titles, 4), 0);
    rewind(f);
    char buf[512];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    /* from 0 at the first bucket's lower bound to 1 at the last one's upper bound */
    assert_string_equal(buf, "# tcpls\n0.1 0\n0.102 0.25\n0.504 0.75\n3.008 1\n\n\n");

    mpl_group_t g = {.point = 1, .proto = MPL_PROTO_TCPLS};
    mpl_latency_group_medians(&rs, &g, 1);
    assert_true(g.p50_median == 0.5 && g.p99_median == 3 && g.rps_median == 8);
    assert_int_equal(mpl_latency_any(&g, 1), 1);
    mpl_runs_free(&rs);
    snprintf(path, sizeof(path), "%s/latency.csv", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/cdf.dat", dir);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenario_keys),
        cmocka_unit_test(test_read_and_cdf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
