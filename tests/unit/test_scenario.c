/* Unit tests: src/exp/scenario.c (scenario files, sweep expansion, topology generation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "exp/scenario.h"

static int
parse(const char *text, mpl_scenario_t *sc, char *err, size_t len)
{
    return mpl_sc_parse(text, strlen(text), "scenarios/t.ini", sc, err, len);
}

static void
test_defaults(void **state)
{
    mpl_scenario_t sc;
    char err[256];
    assert_int_equal(parse("", &sc, err, sizeof(err)), 0);
    assert_string_equal(sc.name, "t");
    assert_int_equal(sc.n_protos, 5);
    assert_int_equal(sc.repeat, 3);
    assert_int_equal(sc.monitor_hz, 20);
    assert_int_equal(mpl_sc_npoints(&sc), 1);
    mpl_sc_point_t pt;
    assert_int_equal(mpl_sc_point(&sc, 0, &pt, err, sizeof(err)), 0);
    assert_int_equal(pt.links, 2);
    assert_int_equal(pt.rate_bps[0], 50000000);
    assert_int_equal(pt.rate_bps[1], 50000000);
    assert_int_equal(pt.delay_ns[0], 10000000);
    assert_int_equal(pt.size, 100000000);
    assert_string_equal(pt.cc, "cubic");
    assert_string_equal(pt.fail, "none");
    assert_string_equal(pt.direction, "download");
    assert_string_equal(pt.label, "base");
    /* direction: a sweepable [scenario] key */
    assert_int_equal(parse("[scenario]\ndirection = download upload\n", &sc, err, sizeof(err)), 0);
    assert_int_equal(mpl_sc_npoints(&sc), 2);
    assert_int_equal(mpl_sc_point(&sc, 1, &pt, err, sizeof(err)), 0);
    assert_string_equal(pt.direction, "upload");
    assert_string_equal(pt.label, "direction=upload");
    assert_int_equal(parse("[scenario]\ndirection = sideways\n", &sc, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "direction takes download or upload"));
}

static void
test_split_sweep(void **state)
{
    mpl_scenario_t sc;
    char err[256];
    const char *t = "[scenario]\nname = split\nprotocols = tcp mptcp\nrepeat = 2\n"
                    "[topology]\nrate = 100mbit\nsplit = 30/70 50/50 70/30  # shares\ndelay = 5ms/25ms\n";
    assert_int_equal(parse(t, &sc, err, sizeof(err)), 0);
    assert_int_equal(sc.n_protos, 2);
    assert_int_equal(sc.protos[1], MPL_PROTO_MPTCP);
    assert_int_equal(mpl_sc_npoints(&sc), 3);
    assert_true(mpl_sc_swept(&sc, MPL_SC_SPLIT));
    assert_false(mpl_sc_swept(&sc, MPL_SC_RATE));
    mpl_sc_point_t pt;
    assert_int_equal(mpl_sc_point(&sc, 0, &pt, err, sizeof(err)), 0);
    assert_int_equal(pt.rate_bps[0], 30000000);
    assert_int_equal(pt.rate_bps[1], 70000000);
    assert_int_equal(pt.delay_ns[0], 5000000);
    assert_int_equal(pt.delay_ns[1], 25000000);
    assert_string_equal(pt.label, "split=30/70");
    assert_int_equal(mpl_sc_point(&sc, 2, &pt, err, sizeof(err)), 0);
    assert_int_equal(pt.rate_bps[0], 70000000);
    assert_true(pt.share_pct[0] > 69.9 && pt.share_pct[0] < 70.1);
}

static void
test_cartesian(void **state)
{
    mpl_scenario_t sc;
    char err[256];
    const char *t = "[scenario]\nfail = down blackhole\ncc = cubic bbr\n[topology]\nrate = 50mbit/50mbit\n"
                    "backup = none l2\n";
    assert_int_equal(parse(t, &sc, err, sizeof(err)), 0);
    assert_int_equal(mpl_sc_npoints(&sc), 8);
    mpl_sc_point_t pt;
    /* backup varies slowest, then fail, then cc */
    assert_int_equal(mpl_sc_point(&sc, 0, &pt, err, sizeof(err)), 0);
    assert_string_equal(pt.label, "backup=none fail=down cc=cubic");
    assert_int_equal(mpl_sc_point(&sc, 1, &pt, err, sizeof(err)), 0);
    assert_string_equal(pt.label, "backup=none fail=down cc=bbr");
    assert_int_equal(mpl_sc_point(&sc, 7, &pt, err, sizeof(err)), 0);
    assert_string_equal(pt.label, "backup=l2 fail=blackhole cc=bbr");
    assert_int_equal(pt.backup[0], 0);
    assert_int_equal(pt.backup[1], 1);
    assert_string_equal(pt.fail, "blackhole");
}

static void
test_links_sweep_and_topology(void **state)
{
    mpl_scenario_t sc;
    char err[256], buf[8192];
    const char *t =
        "[topology]\nlinks = 2 8\nrate = 25mbit\nloss = 1%\n[events]\n2s = l2 rate 10mbit dir b2a\n";
    assert_int_equal(parse(t, &sc, err, sizeof(err)), 0);
    assert_int_equal(sc.n_events, 1);
    assert_string_equal(sc.events[0].link, "l2");
    assert_string_equal(sc.events[0].action, "rate 10mbit dir b2a");
    mpl_sc_point_t pt;
    assert_int_equal(mpl_sc_point(&sc, 1, &pt, err, sizeof(err)), 0);
    assert_int_equal(pt.links, 8);
    /* a total of 25 Mbit/s split in 8 */
    assert_int_equal(pt.rate_bps[7], 3125000);
    assert_true(pt.loss_pct[3] > 0.99 && pt.loss_pct[3] < 1.01);
    int n = mpl_sc_topology(&sc, &pt, "x1p2", buf, sizeof(buf));
    assert_true(n > 0);
    assert_non_null(strstr(buf, "name = x1p2"));
    assert_non_null(strstr(buf, "[link l8]"));
    assert_non_null(strstr(buf, "rate = 3125kbit"));
    assert_non_null(strstr(buf, "mptcp_add_addr_accepted = 7"));
    assert_non_null(strstr(buf, "loss = 1%"));
    assert_int_equal(mpl_sc_topology(&sc, &pt, "x1p2", buf, 100), -1);
    /* rate_mode = per_link: every link gets the rate */
    assert_int_equal(
        parse("[topology]\nlinks = 4\nrate = 25mbit\nrate_mode = per_link\n", &sc, err, sizeof(err)), 0);
    assert_int_equal(mpl_sc_point(&sc, 0, &pt, err, sizeof(err)), 0);
    assert_int_equal(pt.rate_bps[3], 25000000);
    assert_true(pt.share_pct[0] > 24.9 && pt.share_pct[0] < 25.1);
}

static void
test_backup_topology(void **state)
{
    mpl_scenario_t sc;
    char err[256], buf[4096];
    assert_int_equal(parse("[topology]\nbackup = l2\n", &sc, err, sizeof(err)), 0);
    mpl_sc_point_t pt;
    assert_int_equal(mpl_sc_point(&sc, 0, &pt, err, sizeof(err)), 0);
    assert_true(mpl_sc_topology(&sc, &pt, "t", buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "[link l2]\na = client\nb = server\nrate = 50000kbit\ndelay = 10000us\n"
                                "b_endpoint = signal backup\n"));
}

static void
expect_error(const char *text, const char *needle)
{
    mpl_scenario_t sc;
    char err[256] = "";
    assert_int_equal(parse(text, &sc, err, sizeof(err)), -1);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' does not contain '%s'", err, needle);
}

static void
test_errors(void **state)
{
    expect_error("[scenario]\nprotocols = tcp quic\n", "t.ini:2: protocols: unknown protocol 'quic'");
    expect_error("[scenario]\nprotocols = tcp tcp\n", "listed twice");
    expect_error("[topology]\nsplit = 30/60\n", "add up to 100");
    expect_error("[topology]\nsplit = 30/30/40\n", "3 shares for 2 links");
    expect_error("[topology]\nlinks = 9\n", "links must be 1..8");
    expect_error("[topology]\ndelay = 5ms/5ms/5ms\n", "3 per-link values for 2 links");
    expect_error("[topology]\nbackup = l3\n", "backup link 'l3' does not exist");
    expect_error("[topology]\nrate = 10\n", "invalid rate");
    expect_error("[scenario]\nfail = crash\n", "fail takes none, down or blackhole");
    expect_error("[scenario]\nsize = 0\n", "invalid size");
    expect_error("[scenario]\nrepeat = 0\n", "repeat");
    expect_error("[scenario]\nbogus = 1\n", "unknown key 'bogus'");
    expect_error("[nope]\n", "unknown section [nope]");
    expect_error("name = x\n", "key outside of a section");
    expect_error("[scenario]\nname\n", "expected 'key = value'");
    expect_error("[events]\n2s = l1 explode\n", "unknown action");
    expect_error("[events]\nsoon = l1 down\n", "invalid event time");
    expect_error("[events]\n1s = l3 down\n", "event link 'l3' does not exist");
    expect_error("[topology]\nfile = topologies/dual.ini\nlinks = 3\n",
                 "cannot be combined with a topology file");
    expect_error("[topology]\nrate = 10mbit 20mbit\nsplit = 50/50 40/60\n", "not both");
    expect_error("[scenario]\ncc = cubic\ncc = bbr\n", "given twice");
    expect_error("[scenario]\nstreams = 4 0\n", "t.ini:2: streams: '0': streams must be 1..64");
    expect_error("[scenario]\nstreams = 65\n", "streams must be 1..64");
    expect_error("[scenario]\nstreams_policy = pinned\n", "t.ini:2: streams_policy: 'pinned'");
    expect_error("[scenario]\nstreams_mode = h2\n", "streams_mode takes parallel");
    expect_error("[scenario]\nstreams = 4\ndirection = upload\n", "streams > 1 is for downloads");
    expect_error("[scenario]\nmigrate_at = soon\n", "t.ini:2: migrate_at: expected a time");
    expect_error("[scenario]\nmigrate_at = 2s\nmigrate_to = l3\n[topology]\nlinks = 2\n",
                 "t.ini:3: migrate_to 'l3' does not exist with 2 links");
    expect_error("[scenario]\nmigrate_mode = later\n", "migrate_mode takes mbb");
}

/* streams and migration keys: values, sweeps, labels */
static void
test_streams_migration(void **state)
{
    mpl_scenario_t sc;
    mpl_sc_point_t pt;
    char err[256];
    assert_int_equal(parse("", &sc, err, sizeof(err)), 0);
    assert_int_equal(mpl_sc_point(&sc, 0, &pt, err, sizeof(err)), 0);
    assert_int_equal(pt.streams, 1);
    assert_string_equal(pt.streams_policy, "spread");
    assert_string_equal(pt.streams_mode, "parallel");
    assert_string_equal(pt.migrate_mode, "mbb");
    assert_true(sc.migrate_at_ns == 0);
    assert_int_equal(parse("[scenario]\nstreams = 1 4 16\nstreams_policy = spread pin\nmigrate_at = 1500ms\n"
                           "migrate_to = l1\nmigrate_mode = mbb bbm\n",
                           &sc, err, sizeof(err)),
                     0);
    assert_int_equal(mpl_sc_npoints(&sc), 12);
    assert_true(sc.migrate_at_ns == 1500000000ull);
    assert_string_equal(sc.migrate_to, "l1");
    assert_int_equal(mpl_sc_point(&sc, 11, &pt, err, sizeof(err)), 0);
    assert_int_equal(pt.streams, 16);
    assert_string_equal(pt.streams_policy, "pin");
    assert_string_equal(pt.migrate_mode, "bbm");
    assert_string_equal(pt.label, "streams=16 streams_policy=pin migrate_mode=bbm");
}

static void
test_deadline(void **state)
{
    mpl_scenario_t sc;
    char err[256];
    /* 200 MB at 10 Mbit/s: 160 s of transfer; the silence limit stays 60 s */
    assert_int_equal(parse("[scenario]\ntimeout = 60s\n", &sc, err, sizeof(err)), 0);
    assert_int_equal(sc.deadline_ns, 0);
    double d = mpl_sc_deadline_s(&sc, 200000000, 10e6, 0.02, 0);
    assert_true(d > 15 + 60 + 2 * 160 - 0.01 && d < 15 + 60 + 2 * 160 + 0.01);
    assert_true(d > 75 + 15); /* the old limit (timeout + 15 s) would have killed it */
    /* unlimited counts as 1 Gbit/s */
    d = mpl_sc_deadline_s(&sc, 1000000000, 0, 0, 0);
    assert_true(d > 15 + 60 + 16 - 0.01 && d < 15 + 60 + 16 + 0.01);
    /* 1 % loss at 20 ms RTT: Mathis 1.22 x 1448 x 8 / (0.02 x 0.1) = 7.07 Mbit/s < 100 Mbit/s */
    double mathis = 1.22 * 1448 * 8 / (0.02 * 0.1);
    d = mpl_sc_deadline_s(&sc, 100000000, 100e6, 0.02, 1);
    assert_true(d > 75 + 2 * 8e8 / mathis - 0.01 && d < 75 + 2 * 8e8 / mathis + 0.01);
    /* loss that leaves the rate the limit changes nothing */
    assert_true(mpl_sc_deadline_s(&sc, 100000000, 1e6, 0.02, 0.0001) ==
                mpl_sc_deadline_s(&sc, 100000000, 1e6, 0.02, 0));
    /* explicit */
    assert_int_equal(parse("[scenario]\ntimeout = 10s\ndeadline = 5m\n", &sc, err, sizeof(err)), 0);
    assert_int_equal(sc.deadline_ns, 300000000000ull);
    assert_true(mpl_sc_deadline_s(&sc, 200000000, 10e6, 0.02, 0) == 300);
    assert_int_equal(parse("[scenario]\ndeadline = 5m\ndeadline = auto\n", &sc, err, sizeof(err)), 0);
    assert_int_equal(sc.deadline_ns, 0);
    /* errors */
    assert_int_equal(parse("[scenario]\ndeadline = soon\n", &sc, err, sizeof(err)), -1);
    assert_string_equal(err, "scenarios/t.ini:2: deadline: expected auto or 1s..24h");
    assert_int_equal(parse("[scenario]\ndeadline = 0s\n", &sc, err, sizeof(err)), -1);
    assert_int_equal(parse("[scenario]\ndeadline = 25h\n", &sc, err, sizeof(err)), -1);
    assert_int_equal(parse("[scenario]\ndeadline = 20s\ntimeout = 30s\n", &sc, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "deadline (20 s) is shorter than timeout (30 s)"));
}

static void
test_link_models(void **state)
{
    mpl_scenario_t sc;
    char err[256];
    const char *t = "[topology]\nlinks = 2\njitter = 1ms 2ms/5ms\njitter_dist = normal\nloss_ge = 1%:30%\n"
                    "duplicate = 0.5%\n";
    assert_int_equal(parse(t, &sc, err, sizeof(err)), 0);
    assert_int_equal(mpl_sc_npoints(&sc), 2);
    mpl_sc_point_t pt;
    assert_int_equal(mpl_sc_point(&sc, 1, &pt, err, sizeof(err)), 0);
    assert_string_equal(pt.label, "jitter=2ms/5ms");
    char buf[8192];
    assert_true(mpl_sc_topology(&sc, &pt, "x", buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, "[link l1]"));
    assert_non_null(strstr(buf, "jitter = 2ms\njitter_dist = normal\nloss_ge = 1%:30%\nduplicate = 0.5%\n"));
    assert_non_null(strstr(buf, "jitter = 5ms\n"));
    /* errors: each value checked as the topology parser would */
    assert_int_equal(parse("[topology]\njitter_dist = gauss\n", &sc, err, sizeof(err)), -1);
    assert_string_equal(
        err, "scenarios/t.ini:2: invalid jitter_dist 'gauss' (uniform, normal, pareto, paretonormal)");
    assert_int_equal(parse("[topology]\nloss_ge = 1%:300%\n", &sc, err, sizeof(err)), -1);
    assert_int_equal(parse("[topology]\nlinks = 2\ncorrupt = 1%/2%/3%\n", &sc, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "3 per-link values for 2 links"));
    assert_int_equal(parse("[topology]\nfile = topologies/dual.ini\njitter = 1ms\n", &sc, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "'jitter' cannot be combined with a topology file"));
    /* traces: a file for every link, or names per link (traces/NAME.trace) */
    assert_int_equal(
        parse("[topology]\nlinks = 2\ntrace = onoff/none traces/stepped.trace\n", &sc, err, sizeof(err)), 0);
    assert_int_equal(mpl_sc_npoints(&sc), 2);
    assert_int_equal(mpl_sc_point(&sc, 0, &pt, err, sizeof(err)), 0);
    assert_true(mpl_sc_topology(&sc, &pt, "x", buf, sizeof(buf)) > 0);
    assert_non_null(
        strstr(buf, "[link l1]\na = client\nb = server\ndelay = 10000us\ntrace = traces/onoff.trace\n"));
    assert_non_null(strstr(buf, "[link l2]\na = client\nb = server\nrate = 50000kbit\n"));
    assert_int_equal(mpl_sc_point(&sc, 1, &pt, err, sizeof(err)), 0);
    assert_true(mpl_sc_topology(&sc, &pt, "x", buf, sizeof(buf)) > 0);
    assert_null(strstr(buf, "rate ="));
    assert_int_equal(parse("[topology]\ntrace = nosuch\n", &sc, err, sizeof(err)), -1);
    assert_string_equal(err, "scenarios/t.ini:2: trace: cannot read 'traces/nosuch.trace'");
    /* events may change them */
    assert_int_equal(
        parse("[events]\n2s = l1 loss_ge 1%:30%\n3s = l1 jitter 5ms dir a2b\n", &sc, err, sizeof(err)), 0);
    assert_string_equal(sc.events[0].action, "loss_ge 1%:30%");
}

static void
test_protocols(void **state)
{
    mpl_proto_t p;
    assert_int_equal(mpl_proto_parse("tcpls", &p), 0);
    assert_int_equal(p, MPL_PROTO_TCPLS);
    assert_int_equal(mpl_proto_parse("udp", &p), -1);
    assert_true(mpl_proto_multipath(MPL_PROTO_MPTCP));
    assert_false(mpl_proto_multipath(MPL_PROTO_TLS));
    assert_string_equal(mpl_proto_name(MPL_PROTO_TLS), "tls");
    assert_int_equal(mpl_proto_parse("mptls", &p), 0);
    assert_int_equal(p, MPL_PROTO_MPTLS);
    assert_true(mpl_proto_multipath(MPL_PROTO_MPTLS));
    assert_string_equal(mpl_proto_name(MPL_PROTO_MPTLS), "mptls");
    /* monitor_hz: the monitor's sampling rate (resolution of second_path_s) */
    mpl_scenario_t sc;
    char err[256];
    assert_int_equal(parse("[scenario]\nmonitor_hz = 100\nprotocols = mptcp mptls\n", &sc, err, sizeof(err)),
                     0);
    assert_int_equal(sc.monitor_hz, 100);
    assert_int_equal(sc.n_protos, 2);
    assert_int_equal(sc.protos[1], MPL_PROTO_MPTLS);
    assert_int_equal(parse("[scenario]\nmonitor_hz = 0\n", &sc, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "monitor_hz"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_split_sweep),
        cmocka_unit_test(test_cartesian),         cmocka_unit_test(test_links_sweep_and_topology),
        cmocka_unit_test(test_backup_topology),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_streams_migration), cmocka_unit_test(test_protocols),
        cmocka_unit_test(test_deadline),          cmocka_unit_test(test_link_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
