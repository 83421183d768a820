/* Unit tests: src/testbed/topology.c (the topology file parser). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testbed/testbed.h"
#include "testbed/topology.h"

static mpl_topology_t topo;
static char err[512];

static int
parse(const char *text)
{
    return mpl_topo_parse(text, strlen(text), "t.ini", &topo, err, sizeof(err));
}

#define TWO_HOSTS "[host c]\n[host s]\n"

static void
test_minimal(void **state)
{
    assert_int_equal(parse(TWO_HOSTS "[link l1]\na = c\nb = s\n"), 0);
    assert_string_equal(topo.name, "t");
    assert_int_equal(topo.n_hosts, 2);
    assert_int_equal(topo.n_links, 1);
    assert_int_equal(topo.mptcp, 1);
    mpl_tb_link_t *l = &topo.links[0];
    assert_int_equal(l->a, 0);
    assert_int_equal(l->b, 1);
    assert_int_equal(l->addr[0], 0x0a000101);
    assert_int_equal(l->addr[1], 0x0a000102);
    assert_int_equal(l->plen, 24);
    assert_int_equal(l->dir[0].rate_bps, 0);
    assert_int_equal(mpl_tb_queue_bytes(&l->dir[0]), 64 * MPL_TB_MTU_FRAME);
}

static void
test_full(void **state)
{
    const char *text = "# comment\n[topology]\nname = demo\nmptcp = no\nbackend = forwarder\n"
                       "[host c]\nmptcp_endpoints = subflow fullmesh\nmptcp_subflows = 4\n"
                       "default = l2\n"
                       "[router r]\n"
                       "[host s] ; server\nmptcp_endpoints = signal,backup\n"
                       "[link l1]\na = c\nb = r\nrate = 100mbit\ndelay = 10ms  # one way\nloss = 1%\n"
                       "queue = 100p\nrate_b2a = 10mbit\n"
                       "[link l2]\na=c\nb=r\na_addr = 192.168.7.1/30\nb_addr=192.168.7.2\n"
                       "delay_a2b = 1.5ms\nqueue_b2a = 64KiB\na_endpoint = backup subflow\n"
                       "[link l3]\na = r\nb = s\n"
                       "[events]\n5s = l1 down\n2s = l2 delay 20ms dir a2b\n6s = l1 up\n";
    assert_int_equal(parse(text), 0);
    assert_string_equal(topo.name, "demo");
    assert_int_equal(topo.mptcp, 0);
    assert_int_equal(topo.backend, MPL_TB_BACKEND_FORWARDER);
    assert_int_equal(topo.n_hosts, 3);
    assert_int_equal(topo.hosts[1].router, 1);
    assert_int_equal(topo.hosts[0].ep_flags, MPL_TB_EP_SUBFLOW | MPL_TB_EP_FULLMESH);
    assert_int_equal(topo.hosts[0].limit_subflows, 4);
    assert_int_equal(topo.hosts[0].limit_add_addr, -1);
    assert_int_equal(topo.hosts[0].default_link, 1);
    assert_int_equal(topo.hosts[2].ep_flags, MPL_TB_EP_SIGNAL | MPL_TB_EP_BACKUP);
    mpl_tb_link_t *l1 = &topo.links[0], *l2 = &topo.links[1], *l3 = &topo.links[2];
    assert_int_equal(l1->dir[MPL_TB_A2B].rate_bps, 100000000);
    assert_int_equal(l1->dir[MPL_TB_B2A].rate_bps, 10000000);
    assert_int_equal(l1->dir[MPL_TB_B2A].delay_ns, 10000000);
    assert_true(l1->dir[0].loss_pct > 0.99 && l1->dir[0].loss_pct < 1.01);
    assert_int_equal(l1->dir[1].queue_bytes, 100 * MPL_TB_MTU_FRAME);
    assert_int_equal(l2->plen, 30);
    assert_int_equal(l2->addr[1], 0xc0a80702);
    assert_int_equal(l2->dir[MPL_TB_A2B].delay_ns, 1500000);
    assert_int_equal(l2->dir[MPL_TB_B2A].delay_ns, 0);
    assert_int_equal(l2->dir[MPL_TB_B2A].queue_bytes, 65536);
    assert_int_equal(l2->ep_flags[0], MPL_TB_EP_SUBFLOW | MPL_TB_EP_BACKUP);
    assert_int_equal(l2->ep_flags[1], -1);
    assert_int_equal(l3->addr[0], 0x0a000301);
    assert_int_equal(topo.n_events, 3);
    assert_int_equal(topo.events[0].at_ns, 2000000000ull);
    assert_int_equal(topo.events[0].change.action, MPL_TB_ACT_DELAY);
    assert_int_equal(topo.events[0].change.dir, MPL_TB_A2B);
    assert_int_equal(topo.events[0].change.link, 1);
    assert_int_equal(topo.events[1].change.action, MPL_TB_ACT_DOWN);
    assert_int_equal(topo.events[2].change.action, MPL_TB_ACT_UP);
}

static void
expect_error(const char *text, const char *needle)
{
    assert_int_equal(parse(text), -1);
    if (strstr(err, needle) == NULL)
        fail_msg("error '%s' does not contain '%s'", err, needle);
}

static void
test_errors(void **state)
{
    /* errors about a key's value name the line of that key, not the section header */
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = x\n", "t.ini:5: link 'l1': unknown host 'x'");
    expect_error(TWO_HOSTS "[link l1]\n# comment\na = nosuch\nb = s\n",
                 "t.ini:5: link 'l1': unknown host 'nosuch'");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\nb_addr = 10.9.0.2\n",
                 "t.ini:6: link 'l1': give both a_addr and b_addr");
    expect_error("[host c]\ndefault = l9\n[host s]\n[link l1]\na = c\nb = s\n",
                 "t.ini:2: host 'c': default: unknown link 'l9'");
    expect_error(TWO_HOSTS "[link l1]\na = c\n", "t.ini:3: link 'l1': missing 'b'");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\nrate = -5mbit\n",
                 "t.ini:6: rate: invalid rate '-5mbit'");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\nrate = 100\n", "t.ini:6: rate: invalid rate");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\nrate = 999gbit\n", "invalid rate");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\ndelay = 1h\n", "t.ini:6: delay: invalid delay");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\nloss = 101\n", "t.ini:6: loss: invalid loss");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\nspeed = 1\n", "t.ini:6: unknown key 'speed'");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\n[link l2]\na = c\nb = s\nb_addr = 10.0.1.2\n"
                           "a_addr = 10.0.9.1/16\n",
                 "t.ini:9: duplicate address 10.0.1.2");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\na_addr = 10.9.0.1\nb_addr = 10.9.0.1\n",
                 "t.ini:7: link 'l1': duplicate address");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\na_addr = 10.9.0.1\nb_addr = 10.9.1.1\n",
                 "not in the same /24 subnet");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\n[link l2]\na = c\nb = s\na_addr = 10.0.1.7\n"
                           "b_addr = 10.0.1.9\n",
                 "t.ini:9: link 'l2': its subnet overlaps");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = c\n", "t.ini:5: link 'l1': both ends");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\n[host c]\n", "t.ini:6: duplicate name 'c'");
    expect_error("[host c]\n[host s]\n[link Bad]\n", "t.ini:3: invalid link name 'Bad'");
    expect_error("[host averyveryverylongname]\n", "invalid host name");
    expect_error("[host c]\n[link l1]\na = c\nb = c\n", "at least two hosts");
    expect_error(TWO_HOSTS, "at least one link");
    expect_error(TWO_HOSTS "[host x]\n[link l1]\na = c\nb = s\n", "t.ini:3: host 'x' is on no link");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\n[events]\n1s = l9 down\n",
                 "t.ini:7: event: unknown link");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\n[events]\nsoon = l1 down\n", "invalid event time");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\n[events]\n1s = l1 explode\n", "unknown action");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\n[events]\n1s = l1 down dir a2b\n", "both directions");
    expect_error("name = x\n", "t.ini:1: 'name' outside of any section");
    expect_error("[host c\n", "t.ini:1: section header without ']'");
    expect_error("[nodes]\n", "unknown section");
    expect_error("[host c]\njunk\n", "t.ini:2: expected 'key = value'");
    expect_error("[host c]\nrouter =\n", "missing value");
    expect_error("[host c]\nmptcp_endpoints = signal fullmesh\n", "invalid flags");
    expect_error("[host c]\nmptcp_subflows = 9\n", "expected 0..8");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\na_addr = 300.1.1.1\nb_addr = 10.0.0.2\n",
                 "invalid IPv4 address");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\na_addr = 10.0.0.1\n", "give both");
    expect_error(TWO_HOSTS "[link l1]\na = c\nb = s\nqueue = 1\n", "invalid queue");
    expect_error("[topology]\nname = Has-Dash\n", "invalid topology name");
    expect_error(TWO_HOSTS "[link lo]\na = c\nb = s\n", "t.ini:3: link name 'lo' is reserved");
}

static void
test_file_name_default(void **state)
{
    const char *text = TWO_HOSTS "[link l1]\na = c\nb = s\n";
    assert_int_equal(mpl_topo_parse(text, strlen(text), "/x/y/My-Topo.ini", &topo, err, sizeof(err)), 0);
    assert_string_equal(topo.name, "my_topo");
    assert_int_equal(mpl_topo_parse(text, strlen(text), "3links.ini", &topo, err, sizeof(err)), 0);
    assert_string_equal(topo.name, "t3links");
}

static void
test_change_parse(void **state)
{
    mpl_tb_change_t c;
    char *t1[] = {"rate", "10mbit", "dir", "b2a"};
    assert_int_equal(mpl_tb_change_parse(4, t1, &c, err, sizeof(err)), 0);
    assert_int_equal(c.action, MPL_TB_ACT_RATE);
    assert_int_equal(c.value, 10000000);
    assert_int_equal(c.dir, MPL_TB_B2A);
    char buf[64];
    assert_string_equal(mpl_tb_change_fmt(&c, buf, sizeof(buf)), "rate 10000000bit dir b2a");
    char *t2[] = {"loss", "2.5%"};
    assert_int_equal(mpl_tb_change_parse(2, t2, &c, err, sizeof(err)), 0);
    assert_int_equal(c.dir, -1);
    assert_true(c.loss_pct > 2.49 && c.loss_pct < 2.51);
    char *t3[] = {"delay"};
    assert_int_equal(mpl_tb_change_parse(1, t3, &c, err, sizeof(err)), -1);
    char *t4[] = {"blackhole", "extra"};
    assert_int_equal(mpl_tb_change_parse(2, t4, &c, err, sizeof(err)), -1);
    char *t5[] = {"rate", "unlimited"};
    assert_int_equal(mpl_tb_change_parse(2, t5, &c, err, sizeof(err)), 0);
    assert_int_equal(c.value, 0);
    /* link-model keys: the value is every word up to 'dir' */
    char *t6[] = {"loss_ge", "1%", "30%", "dir", "a2b"};
    assert_int_equal(mpl_tb_change_parse(5, t6, &c, err, sizeof(err)), 0);
    assert_int_equal(c.action, MPL_TB_ACT_MODEL);
    assert_string_equal(c.key, "loss_ge");
    assert_string_equal(c.text, "1% 30%");
    assert_int_equal(c.dir, MPL_TB_A2B);
    assert_string_equal(mpl_tb_change_fmt(&c, buf, sizeof(buf)), "loss_ge 1% 30% dir a2b");
    char *t7[] = {"jitter", "5ms"};
    assert_int_equal(mpl_tb_change_parse(2, t7, &c, err, sizeof(err)), 0);
    assert_string_equal(c.text, "5ms");
    char *t8[] = {"jitter", "soon"};
    assert_int_equal(mpl_tb_change_parse(2, t8, &c, err, sizeof(err)), -1);
    assert_string_equal(err, "invalid jitter 'soon' (0..10s, e.g. 5ms)");
    char *t9[] = {"jitter_dist"};
    assert_int_equal(mpl_tb_change_parse(1, t9, &c, err, sizeof(err)), -1);
    char *t10[] = {"wobble", "3"};
    assert_int_equal(mpl_tb_change_parse(2, t10, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown action 'wobble'"));
}

static void expect_line(const char *text, const char *line);

static void
test_ipv6(void **state)
{
    assert_int_equal(mpl_topo_load("topologies/dual6.ini", &topo, err, sizeof(err)), 0);
    char a6[48];
    assert_int_equal(topo.links[1].has6, 1);
    assert_string_equal(mpl_tb_fmt_ip6(topo.links[1].addr6[0], a6, sizeof(a6)), "fd00:0:2::1");
    assert_int_equal(topo.links[1].plen6, 64);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mpl_tb_print_commands(&topo, f);
    fclose(f);
    expect_line(buf, "ip -6 addr add fd00:0:2::1/64 dev l2 nodad\n");
    expect_line(buf, "ip -6 route add default via fd00:0:1::2 dev l1\n");
    expect_line(buf, "ip -6 route add fd00:0:2::/64 dev l2 table 101\n");
    expect_line(buf, "ip -6 route add default via fd00:0:2::1 dev l2 table 101\n");
    expect_line(buf, "ip -6 rule add from fd00:0:2::2 table 101 pref 101\n");
    expect_line(buf, "ip mptcp endpoint add fd00:0:2::2 dev l2 id 4 signal\n");
    expect_line(buf, "sysctl -w net.ipv6.conf.default.accept_dad=0\n");
    free(buf);
    /* explicit addresses, and the errors */
    const char *t = "[host a]\n[host b]\n[link l1]\na = a\nb = b\na_addr6 = fd01::1/48\nb_addr6 = fd01::2\n";
    assert_int_equal(mpl_topo_parse(t, strlen(t), "m.ini", &topo, err, sizeof(err)), 0);
    assert_int_equal(topo.links[0].plen6, 48);
    const char *e1 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\na_addr6 = fd01::1\n";
    assert_int_equal(mpl_topo_parse(e1, strlen(e1), "m.ini", &topo, err, sizeof(err)), -1);
    assert_string_equal(err, "m.ini:6: link 'l1': give both a_addr6 and b_addr6, or neither");
    const char *e2 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\na_addr6 = fd01::1\nb_addr6 = fd02::1\n";
    assert_int_equal(mpl_topo_parse(e2, strlen(e2), "m.ini", &topo, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "must differ and share their /64"));
    const char *e3 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\na_addr6 = fe80::1\n";
    assert_int_equal(mpl_topo_parse(e3, strlen(e3), "m.ini", &topo, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "link-local"));
    const char *e4 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\na_addr6 = 10.0.0.1\n";
    assert_int_equal(mpl_topo_parse(e4, strlen(e4), "m.ini", &topo, err, sizeof(err)), -1);
    const char *e5 =
        "[topology]\nipv6 = yes\n[host a]\n[host b]\n[link l1]\na = a\nb = b\n[link l2]\na = a\nb = b\n"
        "a_addr6 = fd00:0:1::5\nb_addr6 = fd00:0:1::6\n";
    assert_int_equal(mpl_topo_parse(e5, strlen(e5), "m.ini", &topo, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "IPv6 subnet overlaps the one of link 'l1'"));
}

static void
test_trace_key(void **state)
{
    /* relative to the working directory (the tests run in the source tree) */
    const char *t = "[host a]\n[host b]\n[link l1]\na = a\nb = b\ndelay = 5ms\nrate_a2b = 10mbit\n"
                    "trace_b2a = traces/onoff.trace\n";
    assert_int_equal(mpl_topo_parse(t, strlen(t), "m.ini", &topo, err, sizeof(err)), 0);
    const mpl_tb_dir_t *d = &topo.links[0].dir[MPL_TB_B2A];
    assert_non_null(strstr(d->trace, "/traces/onoff.trace"));
    assert_true(d->trace[0] == '/');
    /* 2001 opportunities of 1500 bytes per 1.5 s */
    assert_true(d->trace_bps > 16000000 && d->trace_bps < 16020000);
    assert_int_equal(topo.links[0].dir[MPL_TB_A2B].trace[0], '\0');
    char buf[512];
    assert_string_equal(mpl_tb_netem_args(d, buf, sizeof(buf)), "delay 5000us rate 16008000bit limit 65");
    /* relative to the topology file's directory */
    const char *t2 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\ntrace = ../traces/stepped.trace\n";
    assert_int_equal(mpl_topo_parse(t2, strlen(t2), "topologies/x.ini", &topo, err, sizeof(err)), 0);
    assert_non_null(strstr(topo.links[0].dir[MPL_TB_A2B].trace, "/traces/stepped.trace"));
    const char *e1 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\ntrace = nosuch.trace\n";
    assert_int_equal(mpl_topo_parse(e1, strlen(e1), "m.ini", &topo, err, sizeof(err)), -1);
    assert_string_equal(err, "m.ini:6: trace: cannot read 'nosuch.trace': No such file or directory");
    const char *e2 =
        "[host a]\n[host b]\n[link l1]\na = a\nb = b\nrate = 1mbit\ntrace = traces/onoff.trace\n";
    assert_int_equal(mpl_topo_parse(e2, strlen(e2), "m.ini", &topo, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "give a rate or a trace for a2b, not both"));
    const char *e3 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\ntrace = topologies/dual.ini\n";
    assert_int_equal(mpl_topo_parse(e3, strlen(e3), "m.ini", &topo, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "expected a time in milliseconds"));
}

static void
test_link_models(void **state)
{
    const char *t = "[host a]\n[host b]\n[link l1]\na = a\nb = b\nrate = 10mbit\ndelay = 20ms\n"
                    "jitter = 4ms\njitter_dist = pareto\njitter_corr = 25%\nloss_ge_a2b = 1% 30%\n"
                    "loss_b2a = 2%\nloss_corr_b2a = 50%\nreorder_b2a = 5%\nreorder_gap_b2a = 3\n"
                    "duplicate = 1%\ncorrupt_a2b = 0.1%\n";
    assert_int_equal(mpl_topo_parse(t, strlen(t), "m.ini", &topo, err, sizeof(err)), 0);
    const mpl_tb_link_t *l = &topo.links[0];
    assert_int_equal(l->dir[0].model.jitter_ns, 4000000);
    assert_int_equal(l->dir[1].model.jitter_dist, MPL_LM_PARETO);
    assert_int_equal(l->dir[0].model.ge, 1);
    assert_int_equal(l->dir[1].model.ge, 0);
    assert_true(l->dir[1].model.reorder_pct == 5 && l->dir[0].model.reorder_pct == 0);
    assert_true(l->dir[0].model.corrupt_pct == 0.1 && l->dir[1].model.corrupt_pct == 0);
    /* the netem equivalent of each direction, rate included (netem's rate keeps the order) */
    char buf[512];
    assert_string_equal(
        mpl_tb_netem_args(&l->dir[1], buf, sizeof(buf)),
        "delay 20000us 4000us 25% distribution pareto loss random 2% 50% duplicate 1% reorder "
        "5% gap 3 rate 10000000bit limit 65");
    assert_string_equal(
        mpl_tb_netem_args(&l->dir[0], buf, sizeof(buf)),
        "delay 20000us 4000us 25% distribution pareto loss gemodel 1% 30% 100% 0% duplicate 1% "
        "corrupt 0.1% rate 10000000bit limit 65");
    /* errors name the line */
    const char *e1 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\njitter = 5 parsecs\n";
    assert_int_equal(mpl_topo_parse(e1, strlen(e1), "m.ini", &topo, err, sizeof(err)), -1);
    assert_string_equal(err, "m.ini:6: invalid jitter '5 parsecs' (0..10s, e.g. 5ms)");
    const char *e2 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\nreorder = 5%\n";
    assert_int_equal(mpl_topo_parse(e2, strlen(e2), "m.ini", &topo, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "reorder needs a delay"));
    const char *e3 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\nloss_ge_b2a = 150%\n";
    assert_int_equal(mpl_topo_parse(e3, strlen(e3), "m.ini", &topo, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "m.ini:6: invalid loss_ge"));
    const char *e4 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\njitter_dist = gaussian\n";
    assert_int_equal(mpl_topo_parse(e4, strlen(e4), "m.ini", &topo, err, sizeof(err)), -1);
    /* commands: jitter that may reorder puts the rate in a tbf under netem */
    const char *t2 = "[host a]\n[host b]\n[link l1]\na = a\nb = b\nrate = 10mbit\ndelay = 20ms\n"
                     "jitter = 4ms\njitter_reorder = yes\n";
    assert_int_equal(mpl_topo_parse(t2, strlen(t2), "m.ini", &topo, err, sizeof(err)), 0);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    mpl_tb_print_commands(&topo, f);
    fclose(f);
    assert_non_null(strstr(out, "tc qdisc replace dev l1 root handle 1: netem delay 20000us 4000us limit 65\n"
                                "tc qdisc add dev l1 parent 1:1 handle 10: tbf rate 10000000bit burst 3028 "
                                "limit 96896\n"));
    free(out);
}

static void
test_ep_flags(void **state)
{
    int f;
    char buf[64];
    assert_int_equal(mpl_tb_ep_flags_parse("none", &f), 0);
    assert_int_equal(f, 0);
    assert_string_equal(mpl_tb_ep_flags_fmt(f, buf, sizeof(buf)), "none");
    assert_int_equal(mpl_tb_ep_flags_parse("fullmesh,subflow", &f), 0);
    assert_string_equal(mpl_tb_ep_flags_fmt(f, buf, sizeof(buf)), "subflow fullmesh");
    assert_int_equal(mpl_tb_ep_flags_parse("", &f), -1);
    assert_int_equal(mpl_tb_ep_flags_parse("none signal", &f), -1);
    assert_int_equal(mpl_tb_ep_flags_parse("fast", &f), -1);
}

static void
test_shipped_topologies(void **state)
{
    static const char *files[] = {"topologies/dual.ini", "topologies/triple.ini", "topologies/crs.ini",
                                  "topologies/crs_paths.ini"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (mpl_topo_load(files[i], &topo, err, sizeof(err)) != 0)
            fail_msg("%s", err);
    }
    assert_int_equal(mpl_topo_load("topologies/triple.ini", &topo, err, sizeof(err)), 0);
    assert_string_equal(topo.name, "triple");
    assert_int_equal(topo.n_links, 3);
    assert_int_equal(mpl_topo_load("/nonexistent/x.ini", &topo, err, sizeof(err)), -1);
}

static void
test_queue_default(void **state)
{
    mpl_tb_dir_t d = {.rate_bps = 100000000, .delay_ns = 50000000};
    /* BDP of 100 Mbit/s x 100 ms RTT = 1.25 MB */
    assert_int_equal(mpl_tb_queue_bytes(&d), 1250000);
    d.queue_bytes = 5000;
    assert_int_equal(mpl_tb_queue_bytes(&d), 5000);
}

static void
expect_line(const char *text, const char *line)
{
    if (strstr(text, line) == NULL)
        fail_msg("commands lack '%s'", line);
}

static void
test_commands(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(mpl_topo_load("topologies/crs.ini", &topo, err, sizeof(err)), 0);
    FILE *f = open_memstream(&buf, &len);
    mpl_tb_print_commands(&topo, f);
    fclose(f);
    /* the client reaches the server's subnet through the router; per-source tables */
    expect_line(buf, "ip route add 10.0.3.0/24 via 10.0.1.2 dev c1\n");
    expect_line(buf, "ip route add default via 10.0.2.2 dev c2 table 101\n");
    expect_line(buf, "ip rule add from 10.0.2.1 table 101 pref 101\n");
    expect_line(buf, "ip mptcp endpoint add 10.0.2.1 dev c2 id 2 subflow\n");
    expect_line(buf, "ip mptcp limits set subflows 2 add_addr_accepted 0\n");
    /* the server routes back through the router; the router forwards */
    expect_line(buf, "ip route add 10.0.2.0/24 via 10.0.3.1 dev s1\n");
    expect_line(buf, "sysctl -w net.ipv4.ip_forward=1\n");
    expect_line(buf, "tc qdisc replace dev s1 root netem delay 2000us");
    free(buf);
    /* every link-model key has its netem words, per direction */
    assert_int_equal(mpl_topo_load("topologies/lossy.ini", &topo, err, sizeof(err)), 0);
    f = open_memstream(&buf, &len);
    mpl_tb_print_commands(&topo, f);
    fclose(f);
    expect_line(buf, "tc qdisc replace dev l1 root netem delay 10000us 2000us 25% distribution normal rate "
                     "30000000bit limit 65\n");
    expect_line(buf, "tc qdisc replace dev l1 root netem delay 10000us 2000us 25% distribution normal loss "
                     "gemodel 0.5% 40% 100% 0% rate 30000000bit limit 65\n");
    expect_line(buf, "tc qdisc replace dev l2 root netem delay 15000us 1000us rate 30000000bit limit 75\n");
    free(buf);
    /* a trace: netem gets its mean rate, and the commands say so */
    assert_int_equal(mpl_topo_load("topologies/traced.ini", &topo, err, sizeof(err)), 0);
    f = open_memstream(&buf, &len);
    mpl_tb_print_commands(&topo, f);
    fclose(f);
    assert_non_null(strstr(buf, "netem cannot replay it; its mean rate instead (16.008 Mbit/s)"));
    expect_line(buf, "tc qdisc replace dev l2 root netem delay 20000us rate 16008000bit limit 65\n");
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_file_name_default),
        cmocka_unit_test(test_change_parse),
        cmocka_unit_test(test_ep_flags),
        cmocka_unit_test(test_shipped_topologies),
        cmocka_unit_test(test_queue_default),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_link_models),
        cmocka_unit_test(test_trace_key),
        cmocka_unit_test(test_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
