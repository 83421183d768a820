/*
 * monitor.c — 'mplab monitor': per-interface byte counters of every host of a topology
 * (RTM_GETSTATS, 64-bit link stats, one rtnetlink socket opened inside each namespace),
 * sampled at 1..100 Hz on CLOCK_MONOTONIC; a live table on a terminal and CSV rows
 * "t,host,iface,rx_bytes,tx_bytes,rx_mbps,tx_mbps".
 */
#include "cmd/commands.h"
#include "testbed/testbed.h"
#include "common/util.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct iface {
    int host, link, ifindex;
    uint64_t rx, tx, rx0, tx0; /* current, previous sample */
    double rx_mbps, tx_mbps;
    int seen;
} iface_t;

typedef struct mon {
    mpl_topology_t *t;
    struct mnl_socket *nl[MPL_TB_MAX_HOSTS];
    iface_t ifs[2 * MPL_TB_MAX_LINKS];
    int n_ifs;
    uint32_t seq;
} mon_t;

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void
usage(FILE *f)
{
    fprintf(f, "Usage: mplab monitor [--topo NAME] [--hz N] [--duration S] [--csv FILE] [--quiet]\n"
               "                     [--t0-ns NS]\n\n"
               "Samples the byte counters of every interface of every host at N Hz (default 10,\n"
               "1..100) and shows Mbit/s per interface; --csv writes every sample as\n"
               "t,host,iface,rx_bytes,tx_bytes,rx_mbps,tx_mbps (t in seconds since start, or since\n"
               "CLOCK_MONOTONIC NS with --t0-ns: a caller's clock, without the start-up delay).\n"
               "Runs for S seconds, or until Ctrl-C. --quiet: no table.\n");
}

typedef struct cb_ctx {
    mon_t *m;
    int host;
} cb_ctx_t;

static int
stats_cb(const struct nlmsghdr *nlh, void *data)
{
    cb_ctx_t *c = data;
    const struct if_stats_msg *ifsm = mnl_nlmsg_get_payload(nlh);
    if (nlh->nlmsg_type != RTM_NEWSTATS)
        return MNL_CB_OK;
    struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(*ifsm))
    {
        if (mnl_attr_get_type(a) != IFLA_STATS_LINK_64 ||
            mnl_attr_get_payload_len(a) < sizeof(struct rtnl_link_stats64))
            continue;
        struct rtnl_link_stats64 st;
        memcpy(&st, mnl_attr_get_payload(a), sizeof(st));
        for (int i = 0; i < c->m->n_ifs; i++) {
            iface_t *f = &c->m->ifs[i];
            if (f->host == c->host && f->ifindex == (int)ifsm->ifindex) {
                f->rx = st.rx_bytes;
                f->tx = st.tx_bytes;
                f->seen = 1;
            }
        }
    }
    return MNL_CB_OK;
}

static int
sample_host(mon_t *m, int h)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETSTATS;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++m->seq;
    struct if_stats_msg *ifsm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifsm));
    ifsm->family = AF_UNSPEC;
    ifsm->filter_mask = IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64);
    if (mnl_socket_sendto(m->nl[h], nlh, nlh->nlmsg_len) < 0)
        return -1;
    uint32_t portid = mnl_socket_get_portid(m->nl[h]);
    cb_ctx_t c = {m, h};
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(m->nl[h], buf, sizeof(buf));
        if (n < 0)
            return -1;
        int rc = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, stats_cb, &c);
        if (rc < 0)
            return -1;
        if (rc == MNL_CB_STOP)
            return 0;
    }
}

static int
mon_open(mon_t *m)
{
    const mpl_topology_t *t = m->t;
    for (int h = 0; h < t->n_hosts; h++) {
        char ns[64];
        mpl_tb_host_ns(t, h, ns, sizeof(ns));
        if (mpl_tb_netns_enter(ns) != 0) {
            mpl_err("cannot enter namespace %s: %s", ns, strerror(errno));
            return -1;
        }
        /* the socket stays in the namespace it was created in */
        m->nl[h] = mnl_socket_open(NETLINK_ROUTE);
        if (!m->nl[h] || mnl_socket_bind(m->nl[h], 0, MNL_SOCKET_AUTOPID) < 0) {
            mpl_err("netlink in %s: %s", ns, strerror(errno));
            return -1;
        }
        for (int l = 0; l < t->n_links; l++) {
            if (t->links[l].a != h && t->links[l].b != h)
                continue;
            iface_t *f = &m->ifs[m->n_ifs++];
            memset(f, 0, sizeof(*f));
            f->host = h;
            f->link = l;
            f->ifindex = (int)if_nametoindex(mpl_tb_ifname(t, l));
        }
    }
    mpl_tb_netns_enter(NULL);
    return 0;
}

static void
print_table(const mon_t *m, double t, FILE *f, int tty)
{
    char rx[32], tx[32];
    if (tty)
        fprintf(f, "\033[H\033[J");
    fprintf(f, "t=%.1f s  topology %s\n%-11s %-11s %16s %16s\n", t, m->t->name, "host", "iface", "rx", "tx");
    for (int i = 0; i < m->n_ifs; i++) {
        const iface_t *x = &m->ifs[i];
        fprintf(f, "%-11s %-11s %16s %16s\n", m->t->hosts[x->host].name, mpl_tb_ifname(m->t, x->link),
                mpl_fmt_rate(rx, sizeof(rx), x->rx_mbps * 1e6),
                mpl_fmt_rate(tx, sizeof(tx), x->tx_mbps * 1e6));
    }
    if (!tty)
        fprintf(f, "\n");
    fflush(f);
}

int
cmd_monitor(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *topo = NULL, *csv = NULL;
    uint64_t hz = 10, duration_ns = 0, t0_ns = 0;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--topo") && i + 1 < argc)
            topo = argv[++i];
        else if (!strcmp(a, "--hz") && i + 1 < argc) {
            if (mpl_parse_u64(argv[++i], &hz) != 0 || hz < 1 || hz > 100)
                return mpl_usage_error("--hz: expected 1..100");
        } else if (!strcmp(a, "--duration") && i + 1 < argc) {
            if (mpl_parse_duration(argv[++i], &duration_ns) != 0)
                return mpl_usage_error("--duration: expected a duration such as 10 or 10s");
        } else if (!strcmp(a, "--t0-ns") && i + 1 < argc) {
            if (mpl_parse_u64(argv[++i], &t0_ns) != 0 || t0_ns == 0 || t0_ns > mpl_now_ns())
                return mpl_usage_error("--t0-ns: expected a CLOCK_MONOTONIC time in ns, not in the future");
        } else if (!strcmp(a, "--csv") && i + 1 < argc)
            csv = argv[++i];
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q"))
            quiet = 1;
        else {
            static const char *const with_value[] = {"--topo", "--hz",    "--duration",
                                                     "--csv",  "--t0-ns", NULL};
            return mpl_bad_arg(a, with_value);
        }
    }
    if (mpl_need_root() != 0)
        return 1;
    static mpl_topology_t t;
    if (mpl_tb_load_running(topo, &t) != 0)
        return 1;
    static mon_t m;
    m.t = &t;
    if (mon_open(&m) != 0)
        return 1;
    FILE *out = NULL;
    if (csv) {
        out = strcmp(csv, "-") ? fopen(csv, "w") : stdout;
        if (!out) {
            mpl_err("%s: %s", csv, strerror(errno));
            return 1;
        }
        fprintf(out, "t,host,iface,rx_bytes,tx_bytes,rx_mbps,tx_mbps\n");
    }
    int tty = isatty(1) && out != stdout;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    uint64_t period = 1000000000ull / hz, start = mpl_now_ns(), prev = start, next = start, last_show = 0;
    int rc = 0;
    for (uint64_t k = 0; !stop; k++) {
        for (int h = 0; h < t.n_hosts; h++)
            if (sample_host(&m, h) != 0) {
                mpl_err("cannot read the counters of host %s: %s", t.hosts[h].name, strerror(errno));
                rc = 1;
                stop = 1;
            }
        uint64_t now = mpl_now_ns();
        double dt = (double)(now - prev) / 1e9, ts = ((double)now - (double)(t0_ns ? t0_ns : start)) / 1e9;
        for (int i = 0; i < m.n_ifs; i++) {
            iface_t *f = &m.ifs[i];
            if (k > 0 && dt > 0) {
                f->rx_mbps = (double)(f->rx - f->rx0) * 8 / dt / 1e6;
                f->tx_mbps = (double)(f->tx - f->tx0) * 8 / dt / 1e6;
            }
            f->rx0 = f->rx;
            f->tx0 = f->tx;
            if (out)
                fprintf(out, "%.4f,%s,%s,%llu,%llu,%.3f,%.3f\n", ts, t.hosts[f->host].name,
                        mpl_tb_ifname(&t, f->link), (unsigned long long)f->rx, (unsigned long long)f->tx,
                        f->rx_mbps, f->tx_mbps);
        }
        prev = now;
        if (!quiet && k > 0 && now - last_show >= (tty ? 250000000ull : 1000000000ull)) {
            print_table(&m, ts, tty || out == stdout ? stderr : stdout, tty);
            last_show = now;
        }
        if (duration_ns && now - start >= duration_ns)
            break;
        next += period;
        if (next < now)
            next = now + period / 2;
        struct timespec tsl = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
        while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tsl, NULL) == EINTR)
            ;
    }
    if (out && out != stdout)
        fclose(out);
    else if (out)
        fflush(out);
    for (int h = 0; h < t.n_hosts; h++)
        if (m.nl[h])
            mnl_socket_close(m.nl[h]);
    return rc;
}
