/*
 * topo.c — 'mplab topo up|down|show|check|commands' (docs/TESTBED.md).
 */
#include "cmd/commands.h"
#include "common/json.h"
#include "testbed/testbed.h"
#include "common/util.h"

#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mpl_tb_check(const char *name, int json); /* src/testbed/check.c */

static void
usage(FILE *f)
{
    fprintf(f, "Usage: mplab topo up FILE [--name NAME] [--capture DIR] [-v]\n"
               "       mplab topo down NAME | --all\n"
               "       mplab topo show [NAME] [--json]\n"
               "       mplab topo check [NAME] [--json]\n"
               "       mplab topo commands FILE\n\n"
               "Builds emulated multi-link topologies in network namespaces (docs/TESTBED.md).\n"
               "Environment: MPLAB_PREFIX (default mpl) prefixes every name; MPLAB_RUNDIR\n"
               "(default /run/mplab) holds the state of running topologies.\n"
               "'mplab topo SUBCOMMAND --help' describes each subcommand.\n");
}

/* 'topo SUB --help': the help of one subcommand. Returns 0, or -1 for an unknown SUB. */
static int
sub_usage(const char *sub, FILE *f)
{
    if (!strcmp(sub, "up"))
        fprintf(f, "Usage: mplab topo up FILE [--name NAME] [--capture DIR] [-v]\n\n"
                   "Builds the topology of FILE (format: docs/TESTBED.md): one network namespace per\n"
                   "host and per link (PREFIX-NAME-HOST, PREFIX-NAME-_LINK), addresses, routes, link\n"
                   "emulation and the [events] schedule. Needs root.\n"
                   "  --name NAME    name of the running topology (default: from FILE)\n"
                   "  --capture DIR  capture every link from up to down into DIR/LINK.pcap\n"
                   "  -v, --verbose  print every command run\n");
    else if (!strcmp(sub, "down"))
        fprintf(f, "Usage: mplab topo down NAME | --all | --hosts FILE\n\n"
                   "--hosts FILE: 'mplab hosts restore FILE' (real hosts: docs/TESTBED.md).\n"
                   "Removes topology NAME (namespaces, interfaces, processes, state), or every\n"
                   "topology and leftover namespace of the prefix (MPLAB_PREFIX) with --all.\n"
                   "Exit status: 0 removed; 1 NAME was not up (a notice names NAME and the prefix)\n"
                   "or removal failed. --all with nothing up is not an error (exit 0, silent).\n");
    else if (!strcmp(sub, "show"))
        fprintf(f, "Usage: mplab topo show [NAME] [--json]\n\n"
                   "Prints hosts, namespaces, addresses, interfaces and links (configured and live\n"
                   "rate, delay, loss, queue, counters) of NAME, or of every running topology.\n");
    else if (!strcmp(sub, "check"))
        fprintf(f, "Usage: mplab topo check [NAME] [--json]\n\n"
                   "Measures every link of a running topology (the only one when NAME is left out),\n"
                   "in both directions, and compares with its configuration. Needs root.\n"
                   "  RTT (ping over the link):  ok when min >= 2 x delay - 0.3 ms and\n"
                   "                             avg <= 2 x delay + max(2 ms, 10 %%)\n"
                   "  TCP (one flow per direction): ok when goodput / rate is between 0.75 and 1.02\n"
                   "      (TCP over Ethernet reaches at most 1448/1514 = 0.956 of the rate); links\n"
                   "      with loss and links of 1 Gbit/s or more only need to stay under the rate\n"
                   "      (the table says why: 'loss', 'cpu').\n"
                   "Prints PASS when every row is ok, else FAIL; --json has \"pass\" and, per link\n"
                   "direction, \"rtt_pass\" and \"tcp_pass\". Exit status 0 PASS, 1 FAIL.\n");
    else if (!strcmp(sub, "commands"))
        fprintf(f, "Usage: mplab topo commands FILE\n\n"
                   "Prints, per host, the ip/tc/sysctl commands that reproduce FILE's topology on\n"
                   "real machines (nothing is run; no root needed).\n");
    else
        return -1;
    return 0;
}

static int
topo_up(int argc, char **argv)
{
    const char *file = NULL, *name = NULL, *capture = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--name") && i + 1 < argc)
            name = argv[++i];
        else if (!strcmp(argv[i], "--capture") && i + 1 < argc)
            capture = argv[++i];
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            static const char *const with_value[] = {"--name", "--capture", NULL};
            return mpl_bad_arg(argv[i], with_value);
        }
    }
    if (!file)
        return mpl_usage_error("up: missing FILE");
    static mpl_topology_t t;
    char err[600];
    if (mpl_topo_load(file, &t, err, sizeof(err)) != 0) {
        mpl_err("%s", err);
        return 1;
    }
    if (name) {
        size_t n = strlen(name);
        int ok = n > 0 && n <= MPL_TB_TOPO_MAX && name[0] >= 'a' && name[0] <= 'z';
        for (size_t i = 0; i < n && ok; i++)
            ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '_';
        if (!ok)
            return mpl_usage_error("--name '%s': a-z, 0-9, _; starts with a letter; at most %d characters",
                                   name, MPL_TB_TOPO_MAX);
        snprintf(t.name, sizeof(t.name), "%s", name);
    }
    if (capture) {
        if (strlen(capture) >= sizeof(t.capture_dir) || strchr(capture, ' '))
            return mpl_usage_error("--capture: directory name too long or with blanks");
        snprintf(t.capture_dir, sizeof(t.capture_dir), "%s", capture);
    }
    if (mpl_need_root() != 0)
        return 1;
    mpl_tb_prefix();
    if (mpl_tb_up(&t, file, verbose) != 0)
        return 1;
    mpl_info("topology '%s' is up: %d hosts, %d links", t.name, t.n_hosts, t.n_links);
    return 0;
}

static int
topo_down(int argc, char **argv)
{
    if (argc < 2)
        return mpl_usage_error("down: missing NAME (or --all)");
    if (!strcmp(argv[1], "--hosts")) {
        if (argc != 3)
            return argc < 3 ? mpl_usage_error("option '--hosts' requires an argument")
                            : mpl_bad_arg(argv[3], NULL);
        return mpl_hosts_main("restore", argv[2], 0);
    }
    if (argc > 2)
        return mpl_bad_arg(argv[2], NULL);
    if (argv[1][0] == '-' && strcmp(argv[1], "--all") != 0)
        return mpl_bad_arg(argv[1], NULL);
    if (mpl_need_root() != 0)
        return 1;
    if (!strcmp(argv[1], "--all"))
        return mpl_tb_down_all() == 0 ? 0 : 1;
    static char names[256][MPL_TB_TOPO_MAX + 1];
    int n = mpl_tb_list(names, 256), up = 0;
    for (int i = 0; i < n && !up; i++)
        up = !strcmp(names[i], argv[1]);
    int rc = mpl_tb_down(argv[1]); /* also removes leftovers of a half-built NAME */
    if (!up) {
        fprintf(stderr, "%s: nothing to do: topology '%s' is not up (prefix %s)\n", mpl_progname(), argv[1],
                mpl_tb_prefix());
        return 1;
    }
    return rc == 0 ? 0 : 1;
}

/* 1 when the running topology uses the netem backend (no forwarders). */
static int
t_netem(const mpl_topology_t *t)
{
    char path[512], buf[16] = "";
    mpl_tb_state_path(t->name, "ready", path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    return strncmp(buf, "netem", 5) == 0;
}

static double
mbps(uint64_t bps)
{
    return (double)bps / 1e6;
}

static void
show_text(const mpl_topology_t *t)
{
    char ns[64], ip[20], r[32];
    printf("topology %s (prefix %s)\n", t->name, mpl_tb_prefix());
    for (int h = 0; h < t->n_hosts; h++) {
        mpl_tb_host_ns(t, h, ns, sizeof(ns));
        printf("  %-6s %-11s netns %s\n", t->hosts[h].router ? "router" : "host", t->hosts[h].name, ns);
        for (int l = 0; l < t->n_links; l++) {
            const mpl_tb_link_t *lk = &t->links[l];
            int e = lk->a == h ? 0 : lk->b == h ? 1 : -1;
            if (e < 0)
                continue;
            char a[24];
            snprintf(a, sizeof(a), "%s/%d", mpl_tb_fmt_ip4(lk->addr[e], ip, sizeof(ip)), lk->plen);
            printf("           %-11s %-18s -> %s\n", lk->name, a, t->hosts[e ? lk->a : lk->b].name);
            if (lk->has6) {
                char a6[48];
                printf("           %-11s %s/%d\n", "", mpl_tb_fmt_ip6(lk->addr6[e], a6, sizeof(a6)),
                       lk->plen6);
            }
        }
    }
    for (int l = 0; l < t->n_links; l++) {
        const mpl_tb_link_t *lk = &t->links[l];
        mpl_tb_shared_t *sh = mpl_tb_shared_map(t, l, 0);
        printf("  link %-11s %s <-> %s%s%s\n", lk->name, t->hosts[lk->a].name, t->hosts[lk->b].name,
               sh && sh->down ? "  [down]" : "",
               !t_netem(t) && !mpl_tb_forwarder_alive(t, l) ? "  [forwarder dead]" : "");
        for (int d = 0; d < 2; d++) {
            uint64_t rate = sh ? sh->rate_bps[d] : lk->dir[d].rate_bps;
            uint64_t delay = sh ? sh->delay_ns[d] : lk->dir[d].delay_ns;
            double loss = sh ? sh->loss_pct[d] : lk->dir[d].loss_pct;
            uint64_t q = sh ? sh->queue_bytes[d] : mpl_tb_queue_bytes(&lk->dir[d]);
            printf("       %s  rate %-14s delay %7.3f ms  loss %g%%  queue %llu B%s", d ? "b2a" : "a2b",
                   rate ? mpl_fmt_rate(r, sizeof(r), (double)rate) : "unlimited", (double)delay / 1e6, loss,
                   (unsigned long long)q, sh && sh->blackhole[d] ? "  [blackhole]" : "");
            if (sh)
                printf("  fwd %llu pkts, drops: loss %llu queue %llu emulator %llu",
                       (unsigned long long)sh->pkts[d], (unsigned long long)sh->drop_loss[d],
                       (unsigned long long)(sh->drop_full[d] + sh->drop_send[d]),
                       (unsigned long long)sh->drop_rcvbuf[d]);
            printf("\n");
            mpl_lm_params_t m = sh ? sh->model[d] : lk->dir[d].model;
            m.delay_ns = delay;
            m.loss_pct = loss;
            if (sh && sh->trace[d][0])
                printf("            trace %s (mean %.3f Mbit/s, looped; no tbf)\n", sh->trace[d],
                       (double)sh->trace_bps[d] / 1e6);
            if (mpl_lm_params_extended(&m)) {
                char nargs[400];
                printf("            model: netem %s%s\n", mpl_lm_netem_args(&m, nargs, sizeof(nargs)),
                       m.jitter_ns && m.jitter_reorder ? " (jitter may reorder)" : "");
            }
        }
        mpl_tb_shared_unmap(sh);
    }
}

static void
show_json(mpl_json_t *j, const mpl_topology_t *t)
{
    char ns[64], ip[20];
    mpl_json_obj_begin(j, NULL);
    mpl_json_str(j, "name", t->name);
    mpl_json_str(j, "prefix", mpl_tb_prefix());
    mpl_json_arr_begin(j, "hosts");
    for (int h = 0; h < t->n_hosts; h++) {
        mpl_tb_host_ns(t, h, ns, sizeof(ns));
        mpl_json_obj_begin(j, NULL);
        mpl_json_str(j, "name", t->hosts[h].name);
        mpl_json_str(j, "netns", ns);
        mpl_json_bool(j, "router", t->hosts[h].router);
        mpl_json_arr_begin(j, "addresses");
        for (int l = 0; l < t->n_links; l++) {
            const mpl_tb_link_t *lk = &t->links[l];
            int e = lk->a == h ? 0 : lk->b == h ? 1 : -1;
            if (e >= 0)
                mpl_json_str(j, NULL, mpl_tb_fmt_ip4(lk->addr[e], ip, sizeof(ip)));
        }
        for (int l = 0; l < t->n_links; l++) {
            const mpl_tb_link_t *lk = &t->links[l];
            int e = lk->a == h ? 0 : lk->b == h ? 1 : -1;
            char a6[48];
            if (e >= 0 && lk->has6)
                mpl_json_str(j, NULL, mpl_tb_fmt_ip6(lk->addr6[e], a6, sizeof(a6)));
        }
        mpl_json_arr_end(j);
        mpl_json_arr_begin(j, "interfaces");
        for (int l = 0; l < t->n_links; l++) {
            const mpl_tb_link_t *lk = &t->links[l];
            int e = lk->a == h ? 0 : lk->b == h ? 1 : -1;
            if (e < 0)
                continue;
            mpl_json_obj_begin(j, NULL);
            mpl_json_str(j, "name", mpl_tb_ifname(t, l));
            mpl_json_str(j, "addr", mpl_tb_fmt_ip4(lk->addr[e], ip, sizeof(ip)));
            mpl_json_u64(j, "plen", lk->plen);
            mpl_json_str(j, "link", lk->name);
            mpl_json_str(j, "peer", t->hosts[e ? lk->a : lk->b].name);
            mpl_json_str(j, "peer_addr", mpl_tb_fmt_ip4(lk->addr[1 - e], ip, sizeof(ip)));
            if (lk->has6) {
                char a6[48];
                mpl_json_str(j, "addr6", mpl_tb_fmt_ip6(lk->addr6[e], a6, sizeof(a6)));
                mpl_json_u64(j, "plen6", lk->plen6);
                mpl_json_str(j, "peer_addr6", mpl_tb_fmt_ip6(lk->addr6[1 - e], a6, sizeof(a6)));
            }
            mpl_json_obj_end(j);
        }
        mpl_json_arr_end(j);
        /* the endpoints as the kernel has them (root only: needs the namespace) */
        mpl_tb_endpoint_t eps[2 * MPL_TB_MAX_LINKS];
        char err[256], flags[64];
        int n = -1;
        if (geteuid() == 0 && mpl_tb_netns_enter(ns) == 0) {
            n = mpl_tb_mptcp_dump(eps, 2 * MPL_TB_MAX_LINKS, err, sizeof(err));
            mpl_tb_netns_enter(NULL);
        }
        if (n >= 0) {
            mpl_json_arr_begin(j, "mptcp_endpoints");
            for (int k = 0; k < n; k++) {
                mpl_json_obj_begin(j, NULL);
                char a6[48];
                mpl_json_str(j, "addr",
                             eps[k].family == AF_INET6 ? mpl_tb_fmt_ip6(eps[k].addr6, a6, sizeof(a6))
                                                       : mpl_tb_fmt_ip4(eps[k].addr, ip, sizeof(ip)));
                mpl_json_u64(j, "id", (uint64_t)eps[k].id);
                mpl_json_str(j, "flags", mpl_tb_ep_flags_fmt(eps[k].flags & 15, flags, sizeof(flags)));
                mpl_json_obj_end(j);
            }
            mpl_json_arr_end(j);
        }
        mpl_json_obj_end(j);
    }
    mpl_json_arr_end(j);
    mpl_json_arr_begin(j, "links");
    for (int l = 0; l < t->n_links; l++) {
        const mpl_tb_link_t *lk = &t->links[l];
        mpl_tb_shared_t *sh = mpl_tb_shared_map(t, l, 0);
        mpl_json_obj_begin(j, NULL);
        mpl_json_str(j, "name", lk->name);
        mpl_json_str(j, "a", t->hosts[lk->a].name);
        mpl_json_str(j, "b", t->hosts[lk->b].name);
        mpl_tb_link_ns(t, l, ns, sizeof(ns));
        mpl_json_str(j, "netns", ns);
        for (int d = -1; d < 2; d++) {
            int dd = d < 0 ? 0 : d;
            uint64_t rate = sh ? sh->rate_bps[dd] : lk->dir[dd].rate_bps;
            uint64_t delay = sh ? sh->delay_ns[dd] : lk->dir[dd].delay_ns;
            double loss = sh ? sh->loss_pct[dd] : lk->dir[dd].loss_pct;
            uint64_t q = sh ? sh->queue_bytes[dd] : mpl_tb_queue_bytes(&lk->dir[dd]);
            if (d >= 0)
                mpl_json_obj_begin(j, d ? "b2a" : "a2b");
            mpl_json_num(j, "rate_mbps", mbps(rate));
            mpl_json_num(j, "delay_ms", (double)delay / 1e6);
            mpl_json_num(j, "loss", loss);
            mpl_json_u64(j, "queue_bytes", q);
            if (d >= 0) {
                mpl_json_bool(j, "blackhole", sh ? (int)sh->blackhole[d] : 0);
                if (sh) {
                    mpl_json_u64(j, "packets", sh->pkts[d]);
                    mpl_json_u64(j, "bytes", sh->bytes[d]);
                    mpl_json_u64(j, "drop_loss", sh->drop_loss[d]);
                    mpl_json_u64(j, "drop_blackhole", sh->drop_blackhole[d]);
                    mpl_json_u64(j, "drop_queue", sh->drop_full[d] + sh->drop_send[d]);
                    mpl_json_u64(j, "drop_emulator", sh->drop_rcvbuf[d]);
                    mpl_json_u64(j, "duplicated", sh->duplicated[d]);
                    mpl_json_u64(j, "corrupted", sh->corrupted[d]);
                    mpl_json_u64(j, "reordered", sh->reordered[d]);
                }
                mpl_lm_params_t m = sh ? sh->model[d] : lk->dir[d].model;
                m.delay_ns = delay;
                m.loss_pct = loss;
                char nargs[400];
                mpl_json_num(j, "jitter_ms", (double)m.jitter_ns / 1e6);
                mpl_json_str(j, "jitter_dist", mpl_lm_dist_name(m.jitter_dist));
                mpl_json_num(j, "jitter_corr", m.jitter_corr_pct);
                mpl_json_bool(j, "jitter_reorder", (int)m.jitter_reorder);
                mpl_json_num(j, "loss_corr", m.loss_corr_pct);
                if (m.ge) {
                    mpl_json_obj_begin(j, "loss_ge");
                    mpl_json_num(j, "p", m.ge_p_pct);
                    mpl_json_num(j, "r", m.ge_r_pct);
                    mpl_json_num(j, "1-h", m.ge_1h_pct);
                    mpl_json_num(j, "1-k", m.ge_1k_pct);
                    mpl_json_obj_end(j);
                } else {
                    mpl_json_null(j, "loss_ge");
                }
                mpl_json_num(j, "reorder", m.reorder_pct);
                mpl_json_num(j, "reorder_corr", m.reorder_corr_pct);
                mpl_json_u64(j, "reorder_gap", m.reorder_gap);
                mpl_json_num(j, "duplicate", m.duplicate_pct);
                mpl_json_num(j, "corrupt", m.corrupt_pct);
                mpl_json_str(j, "netem", mpl_lm_netem_args(&m, nargs, sizeof(nargs)));
                const char *tr = sh ? sh->trace[d] : lk->dir[d].trace;
                mpl_json_str(j, "trace", tr[0] ? tr : NULL);
                if (tr[0])
                    mpl_json_num(j, "trace_mean_mbps",
                                 (double)(sh ? sh->trace_bps[d] : lk->dir[d].trace_bps) / 1e6);
                mpl_json_obj_end(j);
            }
        }
        mpl_json_bool(j, "down", sh ? (int)sh->down : 0);
        mpl_json_str(j, "emulator", t_netem(t) ? "netem" : "forwarder");
        mpl_json_bool(j, "emulator_alive", t_netem(t) || mpl_tb_forwarder_alive(t, l));
        mpl_json_obj_end(j);
        mpl_tb_shared_unmap(sh);
    }
    mpl_json_arr_end(j);
    mpl_json_obj_end(j);
}

/* The arguments of 'show' and 'check': [NAME] [--json]. Returns 0, or 2 after a usage error. */
static int
parse_name_json(int argc, char **argv, const char **name, int *json)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            *json = 1;
        else if (argv[i][0] != '-' && !*name)
            *name = argv[i];
        else
            return mpl_bad_arg(argv[i], NULL);
    }
    return 0;
}

static int
topo_show(int argc, char **argv)
{
    const char *name = NULL;
    int json = 0;
    if (parse_name_json(argc, argv, &name, &json) != 0)
        return 2;
    static char names[64][MPL_TB_TOPO_MAX + 1];
    int n;
    if (name) {
        snprintf(names[0], sizeof(names[0]), "%s", name);
        n = 1;
    } else {
        n = mpl_tb_list(names, 64);
        if (n < 0) {
            mpl_err("cannot read %s", mpl_tb_rundir());
            return 1;
        }
    }
    mpl_json_t j;
    if (json) {
        mpl_json_init(&j, stdout);
        mpl_json_obj_begin(&j, NULL);
        mpl_json_arr_begin(&j, "topologies");
    } else if (n == 0) {
        printf("no topology is up (prefix %s)\n", mpl_tb_prefix());
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        static mpl_topology_t t;
        if (mpl_tb_load_running(names[i], &t) != 0) {
            rc = 1;
            continue;
        }
        if (json)
            show_json(&j, &t);
        else
            show_text(&t);
    }
    if (json) {
        mpl_json_arr_end(&j);
        mpl_json_obj_end(&j);
        mpl_json_finish(&j);
    }
    return rc;
}

static int
topo_commands(int argc, char **argv)
{
    if (argc < 2)
        return mpl_usage_error("commands: missing FILE");
    if (argc > 2 || argv[1][0] == '-')
        return mpl_bad_arg(argv[argc > 2 ? 2 : 1], NULL);
    static mpl_topology_t t;
    char err[600];
    if (mpl_topo_load(argv[1], &t, err, sizeof(err)) != 0) {
        mpl_err("%s", err);
        return 1;
    }
    mpl_tb_print_commands(&t, stdout);
    return 0;
}

static int
topo_check(int argc, char **argv)
{
    const char *name = NULL;
    int json = 0;
    if (parse_name_json(argc, argv, &name, &json) != 0)
        return 2;
    if (mpl_need_root() != 0)
        return 1;
    return mpl_tb_check(name, json);
}

int
cmd_topo(int argc, char **argv)
{
    if (argc < 2)
        return mpl_usage_error("missing subcommand (up, down, show, check, commands)");
    if (mpl_wants_help(argc, argv)) {
        if (sub_usage(argv[1], stdout) != 0)
            usage(stdout);
        return 0;
    }
    const char *sub = argv[1];
    argc--;
    argv++;
    if (!strcmp(sub, "up"))
        return topo_up(argc, argv);
    if (!strcmp(sub, "down"))
        return topo_down(argc, argv);
    if (!strcmp(sub, "show"))
        return topo_show(argc, argv);
    if (!strcmp(sub, "check"))
        return topo_check(argc, argv);
    if (!strcmp(sub, "commands"))
        return topo_commands(argc, argv);
    if (sub[0] == '-')
        return mpl_bad_arg(sub, NULL);
    return mpl_usage_error("unknown subcommand '%s' (up, down, show, check, commands)", sub);
}
