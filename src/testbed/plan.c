/*
 * plan.c — a topology as a list of steps (ip/tc/ethtool commands, sysctls, MPTCP settings,
 * forwarders). 'topo up' executes them namespace by namespace; 'topo commands' prints the
 * per-host part so that the setup can be reproduced on real machines or VMs.
 */
#include "testbed/testbed.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum step_kind {
    STEP_NETNS_ADD, /* ip netns add NS (in the original namespace) */
    STEP_CMD,       /* a command run inside ns */
    STEP_SYSCTL,    /* key=value inside ns */
    STEP_MPTCP,     /* endpoints and limits of a host */
    STEP_FORWARDER, /* start the forwarder of a link */
    STEP_MIRRED,    /* netem backend: nothing to start (tc does the bridging) */
    STEP_CAPTURE,   /* tcpdump of a link into capture_dir/LINK.pcap */
};

typedef struct step {
    enum step_kind kind;
    int host, link;   /* which host (per-host part) or link the step belongs to; -1 none */
    int testbed_only; /* not printed by 'commands' (namespaces, veths, link emulation) */
    char ns[64];
    char cmd[320];
} step_t;

typedef struct plan {
    step_t *steps;
    int n, cap;
} plan_t;

static step_t *__attribute__((format(printf, 6, 7)))
add(plan_t *p, enum step_kind kind, int host, int link, const char *ns, const char *fmt, ...)
{
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 128;
        step_t *s = realloc(p->steps, (size_t)cap * sizeof(*s));
        if (!s) {
            mpl_err("out of memory");
            exit(1);
        }
        p->steps = s;
        p->cap = cap;
    }
    step_t *s = &p->steps[p->n++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->host = host;
    s->link = link;
    snprintf(s->ns, sizeof(s->ns), "%s", ns ? ns : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->cmd, sizeof(s->cmd), fmt, ap);
    va_end(ap);
    return s;
}

const char *
mpl_tb_ifname(const mpl_topology_t *t, int link)
{
    return t->links[link].name;
}

const char *
mpl_tb_netem_args(const mpl_tb_dir_t *d, char *buf, size_t len)
{
    mpl_lm_params_t m;
    mpl_tb_dir_model(d, &m);
    char model[320];
    mpl_lm_netem_args(&m, model, sizeof(model));
    /* netem's rate keeps jittered frames in order (each leaves after the one ahead); with
     * jitter_reorder the rate is a tbf below netem, which lets them overtake */
    uint64_t rate = d->rate_bps ? d->rate_bps : d->trace_bps; /* netem replays no trace: its mean */
    if (rate && !(m.jitter_ns > 0 && m.jitter_reorder))
        snprintf(buf, len, "%s rate %llubit limit %llu", model, (unsigned long long)rate,
                 (unsigned long long)(mpl_tb_queue_bytes(d) / MPL_TB_MTU_FRAME + 1));
    else
        snprintf(buf, len, "%s limit %llu", model,
                 (unsigned long long)(mpl_tb_queue_bytes(d) / MPL_TB_MTU_FRAME + 1));
    return buf;
}

const char *
mpl_tb_tbf_args(const mpl_tb_dir_t *d, const char *dev, char *buf, size_t len)
{
    uint64_t burst = d->rate_bps / 8 / 1000; /* 1 ms worth of bytes */
    if (burst < 2 * MPL_TB_MTU_FRAME)
        burst = 2 * MPL_TB_MTU_FRAME;
    snprintf(buf, len, "dev %s root handle 1: tbf rate %llubit burst %llu limit %llu", dev,
             (unsigned long long)d->rate_bps, (unsigned long long)burst,
             (unsigned long long)mpl_tb_queue_bytes(d));
    return buf;
}

/* With the netem backend, jitter_reorder and a rate: the tbf under netem (netem's own rate
 * would keep the frames in order). Returns buf, or NULL when none is needed. */
static const char *
netem_child_tbf(const mpl_tb_dir_t *d, const char *dev, char *buf, size_t len)
{
    if (!d->rate_bps || !(d->model.jitter_ns > 0 && d->model.jitter_reorder))
        return NULL;
    char args[200];
    mpl_tb_tbf_args(d, dev, args, sizeof(args));
    const char *tail = strstr(args, " tbf ");
    snprintf(buf, len, "dev %s parent 1:1 handle 10:%s", dev, tail ? tail : "");
    return buf;
}

/* The end (0 = a, 1 = b) of link l at host h, or -1. */
static int
end_of(const mpl_tb_link_t *l, int h)
{
    return l->a == h ? 0 : l->b == h ? 1 : -1;
}

static uint32_t
subnet_of(const mpl_tb_link_t *l)
{
    return l->addr[0] & ~(0xffffffffu >> l->plen);
}

/* Routes of host h towards the subnets it is not on: breadth-first through routers (end
 * hosts do not forward: they are reached, not crossed). */
static void
plan_routes(plan_t *p, const mpl_topology_t *t, int h, const char *ns)
{
    int first_link[MPL_TB_MAX_HOSTS], dist[MPL_TB_MAX_HOSTS], queue[MPL_TB_MAX_HOSTS], qh = 0, qt = 0;
    for (int i = 0; i < t->n_hosts; i++)
        dist[i] = -1, first_link[i] = -1;
    dist[h] = 0;
    queue[qt++] = h;
    while (qh < qt) {
        int u = queue[qh++];
        if (u != h && !t->hosts[u].router)
            continue;
        for (int li = 0; li < t->n_links; li++) {
            const mpl_tb_link_t *l = &t->links[li];
            int e = end_of(l, u);
            if (e < 0)
                continue;
            int v = e == 0 ? l->b : l->a;
            if (dist[v] >= 0)
                continue;
            dist[v] = dist[u] + 1;
            first_link[v] = u == h ? li : first_link[u];
            queue[qt++] = v;
        }
    }
    char ip[20], via[20];
    for (int li = 0; li < t->n_links; li++) {
        const mpl_tb_link_t *l = &t->links[li];
        if (end_of(l, h) >= 0)
            continue;
        /* the nearer end of the link */
        int best = -1;
        for (int e = 0; e < 2; e++) {
            int x = e == 0 ? l->a : l->b;
            if (dist[x] > 0 && (best < 0 || dist[x] < dist[best]))
                best = x;
        }
        if (best < 0)
            continue; /* unreachable */
        const mpl_tb_link_t *fl = &t->links[first_link[best]];
        int my = end_of(fl, h);
        add(p, STEP_CMD, h, -1, ns, "ip route add %s/%d via %s dev %s",
            mpl_tb_fmt_ip4(subnet_of(l), ip, sizeof(ip)), l->plen,
            mpl_tb_fmt_ip4(fl->addr[1 - my], via, sizeof(via)), mpl_tb_ifname(t, first_link[best]));
        if (l->has6 && fl->has6) {
            char net6[48], via6[48];
            uint8_t pre[16];
            memcpy(pre, l->addr6[0], 16);
            for (int b = l->plen6; b < 128; b++)
                pre[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
            add(p, STEP_CMD, h, -1, ns, "ip -6 route add %s/%d via %s dev %s",
                mpl_tb_fmt_ip6(pre, net6, sizeof(net6)), l->plen6,
                mpl_tb_fmt_ip6(fl->addr6[1 - my], via6, sizeof(via6)), mpl_tb_ifname(t, first_link[best]));
        }
    }
}

static void
build(plan_t *p, const mpl_topology_t *t, int netem)
{
    char ns[64], lns[64], ip[20], via[20], net[20], ip6[48], via6[48], net6[48];
    int v6 = mpl_topo_has_ipv6(t);

    /* namespaces */
    for (int h = 0; h < t->n_hosts; h++) {
        mpl_tb_host_ns(t, h, ns, sizeof(ns));
        add(p, STEP_NETNS_ADD, h, -1, NULL, "ip netns add %s", ns)->testbed_only = 1;
    }
    for (int l = 0; l < t->n_links; l++) {
        mpl_tb_link_ns(t, l, lns, sizeof(lns));
        add(p, STEP_NETNS_ADD, -1, l, NULL, "ip netns add %s", lns)->testbed_only = 1;
    }
    /* host settings, before the interfaces exist (per-interface values copy 'default') */
    for (int h = 0; h < t->n_hosts; h++) {
        mpl_tb_host_ns(t, h, ns, sizeof(ns));
        add(p, STEP_CMD, h, -1, ns, "ip link set lo up")->testbed_only = 1;
        add(p, STEP_SYSCTL, h, -1, ns, "net.ipv4.conf.all.rp_filter=0");
        add(p, STEP_SYSCTL, h, -1, ns, "net.ipv4.conf.default.rp_filter=0");
        if (v6) {
            /* static addresses only: no router advertisements, solicitations or DAD */
            add(p, STEP_SYSCTL, h, -1, ns, "net.ipv6.conf.all.disable_ipv6=0")->testbed_only = 1;
            add(p, STEP_SYSCTL, h, -1, ns, "net.ipv6.conf.default.disable_ipv6=0")->testbed_only = 1;
            add(p, STEP_SYSCTL, h, -1, ns, "net.ipv6.conf.default.accept_ra=0");
            add(p, STEP_SYSCTL, h, -1, ns, "net.ipv6.conf.default.router_solicitations=0");
            add(p, STEP_SYSCTL, h, -1, ns, "net.ipv6.conf.default.accept_dad=0");
            add(p, STEP_SYSCTL, h, -1, ns, "net.ipv6.conf.all.forwarding=%d", t->hosts[h].router ? 1 : 0);
        } else {
            add(p, STEP_SYSCTL, h, -1, ns, "net.ipv6.conf.all.disable_ipv6=1")->testbed_only = 1;
            add(p, STEP_SYSCTL, h, -1, ns, "net.ipv6.conf.default.disable_ipv6=1")->testbed_only = 1;
        }
        add(p, STEP_SYSCTL, h, -1, ns, "net.ipv4.ip_forward=%d", t->hosts[h].router ? 1 : 0);
        /* socket buffers large enough for one flow to fill 1 Gbit/s x 100 ms */
        add(p, STEP_SYSCTL, h, -1, ns, "net.ipv4.tcp_rmem=4096 131072 33554432");
        add(p, STEP_SYSCTL, h, -1, ns, "net.ipv4.tcp_wmem=4096 16384 33554432");
        if (t->mptcp)
            add(p, STEP_SYSCTL, h, -1, ns, "net.mptcp.enabled=1");
    }
    for (int l = 0; l < t->n_links; l++) {
        mpl_tb_link_ns(t, l, lns, sizeof(lns));
        add(p, STEP_SYSCTL, -1, l, lns, "net.ipv6.conf.all.disable_ipv6=1")->testbed_only = 1;
        add(p, STEP_SYSCTL, -1, l, lns, "net.ipv6.conf.default.disable_ipv6=1")->testbed_only = 1;
    }
    /* veths: host end named after the link, link-namespace ends "a" and "b" */
    for (int l = 0; l < t->n_links; l++) {
        const mpl_tb_link_t *lk = &t->links[l];
        mpl_tb_link_ns(t, l, lns, sizeof(lns));
        for (int e = 0; e < 2; e++) {
            int h = e == 0 ? lk->a : lk->b;
            mpl_tb_host_ns(t, h, ns, sizeof(ns));
            add(p, STEP_CMD, h, l, ns, "ip link add %s type veth peer name %c netns %s", lk->name, 'a' + e,
                lns)
                ->testbed_only = 1;
        }
    }
    /* host interfaces */
    for (int h = 0; h < t->n_hosts; h++) {
        mpl_tb_host_ns(t, h, ns, sizeof(ns));
        for (int l = 0; l < t->n_links; l++) {
            const mpl_tb_link_t *lk = &t->links[l];
            int e = end_of(lk, h);
            if (e < 0)
                continue;
            add(p, STEP_CMD, h, l, ns, "ethtool -K %s tx off tso off gso off gro off", lk->name);
            add(p, STEP_CMD, h, l, ns, "ip addr add %s/%d dev %s",
                mpl_tb_fmt_ip4(lk->addr[e], ip, sizeof(ip)), lk->plen, lk->name);
            if (lk->has6)
                add(p, STEP_CMD, h, l, ns, "ip -6 addr add %s/%d dev %s nodad",
                    mpl_tb_fmt_ip6(lk->addr6[e], ip6, sizeof(ip6)), lk->plen6, lk->name);
            add(p, STEP_CMD, h, l, ns, "ip link set dev %s up", lk->name);
        }
    }
    /* link emulation */
    for (int l = 0; l < t->n_links; l++) {
        const mpl_tb_link_t *lk = &t->links[l];
        mpl_tb_link_ns(t, l, lns, sizeof(lns));
        for (int e = 0; e < 2; e++) {
            add(p, STEP_CMD, -1, l, lns, "ethtool -K %c tx off tso off gso off gro off", 'a' + e)
                ->testbed_only = 1;
            add(p, STEP_CMD, -1, l, lns, "ip link set dev %c up", 'a' + e)->testbed_only = 1;
        }
        for (int d = 0; d < 2; d++) {
            /* direction a2b leaves through end b */
            const mpl_tb_dir_t *dir = &lk->dir[d];
            char dev[2] = {d == MPL_TB_A2B ? 'b' : 'a', 0}, args[200];
            if (netem) {
                char nargs[400];
                add(p, STEP_CMD, -1, l, lns, "tc qdisc add dev %s root handle 1: netem %s", dev,
                    mpl_tb_netem_args(dir, nargs, sizeof(nargs)))
                    ->testbed_only = 1;
                if (netem_child_tbf(dir, dev, args, sizeof(args)))
                    add(p, STEP_CMD, -1, l, lns, "tc qdisc add %s", args)->testbed_only = 1;
            } else if (dir->rate_bps) {
                add(p, STEP_CMD, -1, l, lns, "tc qdisc add %s", mpl_tb_tbf_args(dir, dev, args, sizeof(args)))
                    ->testbed_only = 1;
            }
        }
        if (t->capture_dir[0])
            add(p, STEP_CAPTURE, -1, l, lns, "tcpdump -q -U -Z root -i a -w %s/%s.pcap", t->capture_dir,
                lk->name)
                ->testbed_only = 1;
        if (netem) {
            for (int e = 0; e < 2; e++) {
                add(p, STEP_CMD, -1, l, lns, "tc qdisc add dev %c handle ffff: ingress", 'a' + e)
                    ->testbed_only = 1;
                add(p, STEP_CMD, -1, l, lns,
                    "tc filter add dev %c parent ffff: protocol all u32 match u32 0 0 action mirred egress "
                    "redirect dev %c",
                    'a' + e, 'b' - e)
                    ->testbed_only = 1;
            }
            add(p, STEP_MIRRED, -1, l, lns, "netem")->testbed_only = 1;
        } else {
            add(p, STEP_FORWARDER, -1, l, lns, "forwarder")->testbed_only = 1;
        }
    }
    /* routing */
    for (int h = 0; h < t->n_hosts; h++) {
        const mpl_tb_host_t *ho = &t->hosts[h];
        mpl_tb_host_ns(t, h, ns, sizeof(ns));
        plan_routes(p, t, h, ns);
        int nl = 0, dl = ho->default_link;
        for (int l = 0; l < t->n_links; l++)
            if (end_of(&t->links[l], h) >= 0) {
                nl++;
                if (dl < 0)
                    dl = l;
            }
        if (!ho->router) {
            const mpl_tb_link_t *lk = &t->links[dl];
            add(p, STEP_CMD, h, dl, ns, "ip route add default via %s dev %s",
                mpl_tb_fmt_ip4(lk->addr[1 - end_of(lk, h)], via, sizeof(via)), lk->name);
            if (lk->has6)
                add(p, STEP_CMD, h, dl, ns, "ip -6 route add default via %s dev %s",
                    mpl_tb_fmt_ip6(lk->addr6[1 - end_of(lk, h)], via6, sizeof(via6)), lk->name);
        }
        if (ho->router || nl < 2)
            continue;
        /* per-source routing: one table and one rule per address */
        int k = 0;
        for (int l = 0; l < t->n_links; l++) {
            const mpl_tb_link_t *lk = &t->links[l];
            int e = end_of(lk, h);
            if (e < 0)
                continue;
            int table = 100 + k++;
            mpl_tb_fmt_ip4(lk->addr[e], ip, sizeof(ip));
            add(p, STEP_CMD, h, l, ns, "ip route add %s/%d dev %s scope link src %s table %d",
                mpl_tb_fmt_ip4(subnet_of(lk), net, sizeof(net)), lk->plen, lk->name, ip, table);
            add(p, STEP_CMD, h, l, ns, "ip route add default via %s dev %s table %d",
                mpl_tb_fmt_ip4(lk->addr[1 - e], via, sizeof(via)), lk->name, table);
            add(p, STEP_CMD, h, l, ns, "ip rule add from %s table %d pref %d", ip, table, table);
            if (!lk->has6)
                continue;
            /* the same for the IPv6 address, in the same table number of the IPv6 tables */
            mpl_tb_fmt_ip6(lk->addr6[e], ip6, sizeof(ip6));
            uint8_t pre[16];
            memcpy(pre, lk->addr6[e], 16);
            for (int b = lk->plen6; b < 128; b++)
                pre[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
            add(p, STEP_CMD, h, l, ns, "ip -6 route add %s/%d dev %s table %d",
                mpl_tb_fmt_ip6(pre, net6, sizeof(net6)), lk->plen6, lk->name, table);
            add(p, STEP_CMD, h, l, ns, "ip -6 route add default via %s dev %s table %d",
                mpl_tb_fmt_ip6(lk->addr6[1 - e], via6, sizeof(via6)), lk->name, table);
            add(p, STEP_CMD, h, l, ns, "ip -6 rule add from %s table %d pref %d", ip6, table, table);
        }
    }
    if (t->mptcp)
        for (int h = 0; h < t->n_hosts; h++) {
            mpl_tb_host_ns(t, h, ns, sizeof(ns));
            add(p, STEP_MPTCP, h, -1, ns, "mptcp");
        }
}

/* Endpoints of host h: one per address whose flags are not empty. */
static int
host_endpoints(const mpl_topology_t *t, int h, mpl_tb_endpoint_t *eps)
{
    int n = 0, id = 0;
    for (int l = 0; l < t->n_links; l++) {
        const mpl_tb_link_t *lk = &t->links[l];
        int e = end_of(lk, h);
        if (e < 0)
            continue;
        id++;
        int flags = lk->ep_flags[e] >= 0 ? lk->ep_flags[e] : t->hosts[h].ep_flags;
        if (!flags)
            continue;
        memset(&eps[n], 0, sizeof(eps[n]));
        eps[n].family = AF_INET;
        eps[n].addr = lk->addr[e];
        eps[n].flags = flags;
        eps[n].id = id;
        eps[n].ifindex = (int)if_nametoindex(lk->name); /* 0 when printing */
        n++;
    }
    /* IPv6 addresses: the same flags, ids after the IPv4 ones */
    for (int l = 0; l < t->n_links; l++) {
        const mpl_tb_link_t *lk = &t->links[l];
        int e = end_of(lk, h);
        if (e < 0 || !lk->has6)
            continue;
        id++;
        int flags = lk->ep_flags[e] >= 0 ? lk->ep_flags[e] : t->hosts[h].ep_flags;
        if (!flags)
            continue;
        memset(&eps[n], 0, sizeof(eps[n]));
        eps[n].family = AF_INET6;
        memcpy(eps[n].addr6, lk->addr6[e], 16);
        eps[n].flags = flags;
        eps[n].id = id;
        eps[n].ifindex = (int)if_nametoindex(lk->name);
        n++;
    }
    return n;
}

static int
limit_or_default(int v)
{
    return v < 0 ? 8 : v;
}

/* ---- printing ----------------------------------------------------------------------------- */

void
mpl_tb_print_commands(const mpl_topology_t *t, FILE *f)
{
    plan_t p = {0};
    build(&p, t, 0);
    char ip[20], flags[64];
    fprintf(f,
            "# Topology '%s': the commands that reproduce it on real machines or VMs.\n"
            "# Interfaces are named after the links; rename them to your NICs (e.g. l1 -> enp0s8).\n",
            t->name);
    for (int h = 0; h < t->n_hosts; h++) {
        const mpl_tb_host_t *ho = &t->hosts[h];
        fprintf(f, "\n# ---- %s %s\n", ho->router ? "router" : "host", ho->name);
        for (int i = 0; i < p.n; i++) {
            const step_t *s = &p.steps[i];
            if (s->host != h || s->testbed_only)
                continue;
            if (s->kind == STEP_SYSCTL && strchr(s->cmd, ' ')) {
                const char *eq = strchr(s->cmd, '=');
                fprintf(f, "sysctl -w %.*s='%s'\n", (int)(eq - s->cmd), s->cmd, eq + 1);
            } else if (s->kind == STEP_SYSCTL)
                fprintf(f, "sysctl -w %s\n", s->cmd);
            else if (s->kind == STEP_CMD)
                fprintf(f, "%s\n", s->cmd);
            else if (s->kind == STEP_MPTCP) {
                mpl_tb_endpoint_t eps[2 * MPL_TB_MAX_LINKS];
                int n = host_endpoints(t, h, eps);
                fprintf(f, "ip mptcp endpoint flush\n");
                fprintf(f, "ip mptcp limits set subflows %d add_addr_accepted %d\n",
                        limit_or_default(ho->limit_subflows), limit_or_default(ho->limit_add_addr));
                for (int k = 0; k < n; k++) {
                    const char *dev = "";
                    char a6[48];
                    for (int l = 0; l < t->n_links; l++) {
                        int e = end_of(&t->links[l], h);
                        if (e >= 0 &&
                            (eps[k].family == AF_INET6 ? !memcmp(t->links[l].addr6[e], eps[k].addr6, 16)
                                                       : t->links[l].addr[e] == eps[k].addr))
                            dev = t->links[l].name;
                    }
                    fprintf(f, "ip mptcp endpoint add %s dev %s id %d %s\n",
                            eps[k].family == AF_INET6 ? mpl_tb_fmt_ip6(eps[k].addr6, a6, sizeof(a6))
                                                      : mpl_tb_fmt_ip4(eps[k].addr, ip, sizeof(ip)),
                            dev, eps[k].id, mpl_tb_ep_flags_fmt(eps[k].flags, flags, sizeof(flags)));
                }
            }
        }
    }
    fprintf(f, "\n# ---- link emulation (on the sending side of each direction; needs sch_netem)\n");
    for (int l = 0; l < t->n_links; l++) {
        const mpl_tb_link_t *lk = &t->links[l];
        for (int d = 0; d < 2; d++) {
            const mpl_tb_dir_t *dir = &lk->dir[d];
            int h = d == MPL_TB_A2B ? lk->a : lk->b;
            char nargs[400], child[240];
            fprintf(f, "# on %s: link %s %s\n", t->hosts[h].name, lk->name, d == MPL_TB_A2B ? "a2b" : "b2a");
            if (dir->trace[0])
                fprintf(f, "# trace %s: netem cannot replay it; its mean rate instead (%.3f Mbit/s)\n",
                        dir->trace, (double)dir->trace_bps / 1e6);
            if (dir->model.jitter_ns > 0 && !dir->model.jitter_reorder && !dir->rate_bps)
                fprintf(f, "# jitter in order: netem keeps order only when it shapes a rate; without one, "
                           "jittered frames may overtake each other\n");
            const char *tbf = netem_child_tbf(dir, lk->name, child, sizeof(child));
            fprintf(f, "tc qdisc replace dev %s root %snetem %s\n", lk->name, tbf ? "handle 1: " : "",
                    mpl_tb_netem_args(dir, nargs, sizeof(nargs)));
            if (tbf)
                fprintf(f, "tc qdisc add %s\n", tbf);
        }
    }
    free(p.steps);
}

/* ---- execution ---------------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static int
write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int rc = mpl_write_all(fd, data, len);
    close(fd);
    return rc;
}

static int
write_pid(const mpl_topology_t *t, const char *file, pid_t pid)
{
    char path[512], buf[32];
    mpl_tb_state_path(t->name, file, path, sizeof(path));
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
    return write_file(path, buf, (size_t)n);
}

/* Detaches the calling child from the terminal and the caller's session. */
static void
daemonize(const char *name, const char *logpath)
{
    setsid();
    prctl(PR_SET_NAME, name, 0, 0, 0);
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        close(fd);
    }
    fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 2);
        close(fd);
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_IGN);
}

static int
start_forwarder(const mpl_topology_t *t, int l, const char *lns)
{
    const mpl_tb_link_t *lk = &t->links[l];
    mpl_tb_shared_t *sh = mpl_tb_shared_map(t, l, 1);
    if (!sh) {
        mpl_err("cannot create the state of link %s: %s", lk->name, strerror(errno));
        return -1;
    }
    memset(sh, 0, sizeof(*sh));
    for (int d = 0; d < 2; d++) {
        sh->delay_ns[d] = lk->dir[d].delay_ns;
        sh->loss_pct[d] = lk->dir[d].loss_pct;
        sh->loss_ppb[d] = (uint64_t)(lk->dir[d].loss_pct * 1e7 + 0.5);
        sh->rate_bps[d] = lk->dir[d].rate_bps;
        sh->queue_bytes[d] = mpl_tb_queue_bytes(&lk->dir[d]);
        sh->model[d] = lk->dir[d].model;
        sh->model_gen[d] = 1;
        snprintf(sh->trace[d], sizeof(sh->trace[d]), "%s", lk->dir[d].trace);
        sh->trace_bps[d] = lk->dir[d].trace_bps;
        if (lk->dir[d].trace[0])
            sh->rate_bps[d] = lk->dir[d].trace_bps; /* informational: the mean */
    }
    __atomic_store_n(&sh->magic, MPL_TB_SHARED_MAGIC, __ATOMIC_RELEASE);
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        mpl_tb_shared_unmap(sh);
        return -1;
    }
    char logpath[512], logname[64];
    snprintf(logname, sizeof(logname), "%s.log", lk->name);
    mpl_tb_state_path(t->name, logname, logpath, sizeof(logpath));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        mpl_tb_shared_unmap(sh);
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        close(pfd[0]);
        daemonize("mplab-fwd", logpath);
        if (mpl_tb_netns_enter(lns) != 0)
            _exit(1);
        mpl_tb_forwarder_run(sh, pfd[1]);
        _exit(1);
    }
    close(pfd[1]);
    char c;
    ssize_t r;
    do
        r = read(pfd[0], &c, 1);
    while (r < 0 && errno == EINTR);
    close(pfd[0]);
    mpl_tb_shared_unmap(sh);
    char pidfile[64];
    snprintf(pidfile, sizeof(pidfile), "fwd-%s.pid", lk->name);
    write_pid(t, pidfile, pid);
    if (r != 1) {
        waitpid(pid, NULL, WNOHANG);
        mpl_err("the forwarder of link %s did not start (see %s)", lk->name, logpath);
        return -1;
    }
    return 0;
}

/* Starts tcpdump on end a of link l (inside its namespace, which 'down' empties). */
static int
start_capture(const mpl_topology_t *t, const step_t *s)
{
    if (mkdir(t->capture_dir, 0755) != 0 && errno != EEXIST) {
        mpl_err("capture: cannot create %s: %s", t->capture_dir, strerror(errno));
        return -1;
    }
    char logpath[512], logname[64], pidfile[64], buf[320];
    snprintf(logname, sizeof(logname), "capture-%s.log", t->links[s->link].name);
    mpl_tb_state_path(t->name, logname, logpath, sizeof(logpath));
    snprintf(buf, sizeof(buf), "%s", s->cmd);
    char *argv[16];
    int argc = 0;
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok && argc < 15;
         tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        daemonize("mplab-capture", logpath);
        execvp(argv[0], argv);
        _exit(127);
    }
    snprintf(pidfile, sizeof(pidfile), "capture-%s.pid", t->links[s->link].name);
    return write_pid(t, pidfile, pid);
}

static int
start_events(const mpl_topology_t *t)
{
    char logpath[512];
    mpl_tb_state_path(t->name, "events.log", logpath, sizeof(logpath));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        daemonize("mplab-events", logpath);
        mpl_tb_events_run(t);
        _exit(0);
    }
    return write_pid(t, "events.pid", pid);
}

static int
run_step(const mpl_topology_t *t, const step_t *s, const char **cur_ns)
{
    char err[512];
    const char *want = s->kind == STEP_NETNS_ADD ? NULL : s->ns;
    if ((want == NULL) != (*cur_ns == NULL) || (want && strcmp(want, *cur_ns) != 0)) {
        if (mpl_tb_netns_enter(want) != 0) {
            mpl_err("cannot enter namespace %s: %s", want ? want : "(initial)", strerror(errno));
            return -1;
        }
        *cur_ns = want;
    }
    switch (s->kind) {
    case STEP_NETNS_ADD:
    case STEP_CMD: {
        int rc = mpl_tb_run(s->cmd, err, sizeof(err));
        if (rc != 0) {
            mpl_err("%s%s'%s' failed: %s", s->ns, s->ns[0] ? ": " : "", s->cmd, err[0] ? err : "error");
            return -1;
        }
        return 0;
    }
    case STEP_SYSCTL: {
        char key[200];
        const char *eq = strchr(s->cmd, '=');
        snprintf(key, sizeof(key), "%.*s", (int)(eq - s->cmd), s->cmd);
        if (mpl_tb_sysctl(key, eq + 1) != 0) {
            mpl_err("%s: sysctl %s failed: %s", s->ns, s->cmd, strerror(errno));
            return -1;
        }
        return 0;
    }
    case STEP_MPTCP: {
        mpl_tb_endpoint_t eps[2 * MPL_TB_MAX_LINKS];
        const mpl_tb_host_t *ho = &t->hosts[s->host];
        int n = host_endpoints(t, s->host, eps);
        if (mpl_tb_mptcp_configure(limit_or_default(ho->limit_subflows), limit_or_default(ho->limit_add_addr),
                                   eps, n, err, sizeof(err)) != 0) {
            mpl_err("%s: %s", s->ns, err);
            return -1;
        }
        return 0;
    }
    case STEP_FORWARDER:
        return start_forwarder(t, s->link, s->ns);
    case STEP_CAPTURE:
        return start_capture(t, s);
    case STEP_MIRRED: {
        /* the live parameters exist for 'show' and 'link set' as with the forwarder */
        mpl_tb_shared_t *sh = mpl_tb_shared_map(t, s->link, 1);
        if (!sh)
            return -1;
        const mpl_tb_link_t *lk = &t->links[s->link];
        for (int d = 0; d < 2; d++) {
            sh->delay_ns[d] = lk->dir[d].delay_ns;
            sh->loss_pct[d] = lk->dir[d].loss_pct;
            sh->rate_bps[d] = lk->dir[d].rate_bps;
            sh->queue_bytes[d] = mpl_tb_queue_bytes(&lk->dir[d]);
            sh->model[d] = lk->dir[d].model;
            sh->model_gen[d] = 1;
        }
        __atomic_store_n(&sh->magic, MPL_TB_SHARED_MAGIC, __ATOMIC_RELEASE);
        mpl_tb_shared_unmap(sh);
        return 0;
    }
    }
    return -1;
}

/* Rewrites the 'trace' values of text (len bytes, room for cap) to the absolute paths the
 * parser found, so that the state directory's copy parses from anywhere. Returns the new
 * length (the text is kept as it was when it does not fit). */
static size_t
absolute_traces(const mpl_topology_t *t, char *text, size_t len, size_t cap)
{
    char *out = malloc(cap);
    if (out == NULL)
        return len;
    size_t o = 0;
    int link = -1;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        char line[1024];
        size_t n = j - i < sizeof(line) - 1 ? j - i : sizeof(line) - 1;
        memcpy(line, text + i, n);
        line[n] = '\0';
        char name[32], key[32];
        const char *repl = NULL;
        if (sscanf(line, " [link %31[a-z0-9_]]", name) == 1)
            link = mpl_topo_link(t, name);
        else if (line[strspn(line, " \t")] == '[')
            link = -1;
        else if (link >= 0 && sscanf(line, " %31[a-z0-9_] =", key) == 1 && !strncmp(key, "trace", 5)) {
            const mpl_tb_link_t *lk = &t->links[link];
            int d = !strcmp(key, "trace_b2a");
            if (!strcmp(key, "trace") || !strcmp(key, "trace_a2b") || d)
                repl = lk->dir[d].trace[0] ? lk->dir[d].trace : "none";
        }
        int w = repl ? snprintf(out + o, cap - o, "%s = %s\n", key, repl)
                     : snprintf(out + o, cap - o, "%.*s\n", (int)(j - i), text + i);
        if (w < 0 || o + (size_t)w >= cap) {
            free(out);
            return len;
        }
        o += (size_t)w;
        i = j + 1;
    }
    memcpy(text, out, o);
    free(out);
    return o;
}

/* 1 when the kernel has netem: tried on the loopback of a scratch namespace. */
static int
have_netem(const mpl_topology_t *t)
{
    char ns[64], err[256];
    snprintf(ns, sizeof(ns), "%s-%s-_probe", mpl_tb_prefix(), t->name);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ip netns add %s", ns);
    if (mpl_tb_run(cmd, err, sizeof(err)) != 0)
        return 0;
    snprintf(cmd, sizeof(cmd), "tc -n %s qdisc add dev lo root netem delay 1ms", ns);
    int ok = mpl_tb_run(cmd, err, sizeof(err)) == 0;
    snprintf(cmd, sizeof(cmd), "ip netns del %s", ns);
    mpl_tb_run(cmd, err, sizeof(err));
    return ok;
}

int
mpl_tb_up(mpl_topology_t *t, const char *src_path, int verbose)
{
    char dir[512], path[512];
    mpl_tb_state_path(t->name, NULL, dir, sizeof(dir));

    /* an earlier instance: refuse when it is complete and alive, else clean it up */
    mpl_tb_state_path(t->name, "ready", path, sizeof(path));
    if (access(path, F_OK) == 0) {
        int alive = 1;
        for (int l = 0; l < t->n_links && alive; l++) {
            char lns[64];
            mpl_tb_link_ns(t, l, lns, sizeof(lns));
            alive = mpl_tb_netns_exists(lns);
        }
        if (alive) {
            mpl_err("topology '%s' is already up (mplab topo down %s)", t->name, t->name);
            return -1;
        }
    }
    mpl_tb_down(t->name);

    int netem = 0, traces = 0;
    for (int l = 0; l < t->n_links; l++)
        traces |= t->links[l].dir[0].trace[0] || t->links[l].dir[1].trace[0];
    if (traces && t->backend == MPL_TB_BACKEND_NETEM) {
        mpl_err("backend = netem cannot replay traces (use backend = forwarder or auto)");
        return -1;
    }
    if (t->backend != MPL_TB_BACKEND_FORWARDER && !traces) {
        netem = have_netem(t);
        if (!netem && t->backend == MPL_TB_BACKEND_NETEM) {
            mpl_err("backend = netem, but this kernel has no netem (use backend = forwarder or auto)");
            return -1;
        }
    }

    mkdir(mpl_tb_rundir(), 0755);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        mpl_err("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    /* the topology as given, for show/exec/link/monitor and for cleanup */
    FILE *in = fopen(src_path, "rb");
    char *text = malloc(1 << 20);
    size_t len = in && text ? fread(text, 1, 1 << 20, in) : 0;
    if (in)
        fclose(in);
    mpl_tb_state_path(t->name, "topology.ini", path, sizeof(path));
    if (text)
        len = absolute_traces(t, text, len, 1 << 20);
    if (!text || write_file(path, text, len) != 0) {
        free(text);
        mpl_err("cannot write %s", path);
        mpl_tb_down(t->name);
        return -1;
    }
    free(text);

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    plan_t p = {0};
    build(&p, t, netem);
    const char *cur = NULL;
    int rc = 0;
    uint64_t t0 = mpl_now_ns();
    for (int i = 0; i < p.n && rc == 0; i++) {
        if (verbose)
            mpl_info("%s%s%s", p.steps[i].ns, p.steps[i].ns[0] ? ": " : "", p.steps[i].cmd);
        rc = run_step(t, &p.steps[i], &cur);
        if (interrupted) {
            mpl_err("interrupted");
            rc = -1;
        }
    }
    mpl_tb_netns_enter(NULL);
    if (rc == 0 && t->n_events > 0 && start_events(t) != 0) {
        mpl_err("cannot start the event scheduler");
        rc = -1;
    }
    if (rc == 0) {
        mpl_tb_state_path(t->name, "ready", path, sizeof(path));
        rc = write_file(path, netem ? "netem\n" : "forwarder\n", netem ? 6 : 10);
    }
    free(p.steps);
    if (rc != 0)
        mpl_tb_down(t->name);
    else
        mpl_debug("up in %.2f s", (double)(mpl_now_ns() - t0) / 1e9);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc == 0 ? 0 : -1;
}
