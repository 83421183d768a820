/*
 * link.c — 'mplab link [--topo NAME] set LINK ACTION [VALUE] [dir a2b|b2a]': changes a
 * link of a running topology (docs/TESTBED.md).
 */
#include "cmd/commands.h"
#include "testbed/testbed.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
usage(FILE *f)
{
    fprintf(f,
            "Usage: mplab link [--topo NAME] set LINK down|up|blackhole|rate R|delay D|loss P|KEY VALUE [dir "
            "a2b|b2a]\n"
            "       mplab link [--topo NAME] capture LINK -w FILE [--end a|b] [--duration S] [FILTER...]\n"
            "       mplab link [--topo NAME] schedule 'TIME LINK ACTION [VALUE] [dir a2b|b2a]'...\n\n"
            "  down / up     switch the link off / on (the hosts see carrier loss); up also ends blackhole\n"
            "  blackhole     drop every frame silently, no interface event\n"
            "  rate R        e.g. 10mbit, 1gbit, unlimited\n"
            "  delay D       one-way delay, e.g. 25ms\n"
            "  loss P        percent, e.g. 1 or 0.5%%\n"
            "  KEY VALUE     a link model (docs/TESTBED.md): jitter 5ms, jitter_dist normal|uniform|pareto|\n"
            "                paretonormal, jitter_corr 25%%, jitter_reorder yes|no, loss_corr 25%%,\n"
            "                loss_ge 'p r 1-h 1-k' (e.g. loss_ge 1%% 30%%, or none), reorder 5%%,\n"
            "                reorder_corr 0%%, reorder_gap 5, duplicate 1%%, corrupt 0.1%%\n"
            "  dir a2b|b2a   only one direction (a2b = from the link's host a to host b)\n\n"
            "capture runs tcpdump on the link, at the end of host a (default) or b, into a pcap\n"
            "file, until Ctrl-C/SIGTERM or for S seconds.\n\n"
            "schedule runs timed changes in the foreground, TIME relative to its start (e.g.\n"
            "'2s l1 down' '3.5s l1 up'): one process start, then every change applies within\n"
            "milliseconds of its time (as the [events] section of a topology file).\n");
}

/* 'schedule EVENT...': events relative to now, applied by this process. */
static int
link_schedule(const char *topo, int argc, char **argv)
{
    static mpl_topology_t t;
    if (argc < 1)
        return mpl_usage_error("schedule: missing events ('TIME LINK ACTION [VALUE]'...)");
    for (int i = 0; i < argc; i++)
        if (argv[i][0] == '-')
            return mpl_bad_arg(argv[i], NULL);
    if (mpl_tb_load_running(topo, &t) != 0)
        return 1;
    t.n_events = 0;
    for (int i = 0; i < argc; i++) {
        char buf[256], *tok[10], err[256];
        int n = 0;
        snprintf(buf, sizeof(buf), "%s", argv[i]);
        for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w && n < 10;
             w = strtok_r(NULL, " \t", &save))
            tok[n++] = w;
        if (t.n_events >= MPL_TB_MAX_EVENTS)
            return mpl_usage_error("at most %d events", MPL_TB_MAX_EVENTS);
        mpl_tb_event_t *e = &t.events[t.n_events];
        if (n < 3 || mpl_parse_duration(tok[0], &e->at_ns) != 0)
            return mpl_usage_error("event '%s': expected 'TIME LINK ACTION [VALUE] [dir a2b|b2a]'", argv[i]);
        if (mpl_tb_change_parse(n - 2, tok + 2, &e->change, err, sizeof(err)) != 0)
            return mpl_usage_error("event '%s': %s", argv[i], err);
        e->change.link = mpl_topo_link(&t, tok[1]);
        if (e->change.link < 0) {
            mpl_err("event '%s': topology '%s' has no link '%s'", argv[i], t.name, tok[1]);
            return 1;
        }
        t.n_events++;
    }
    /* in time order (stable) */
    for (int i = 1; i < t.n_events; i++) {
        mpl_tb_event_t e = t.events[i];
        int j = i - 1;
        while (j >= 0 && t.events[j].at_ns > e.at_ns) {
            t.events[j + 1] = t.events[j];
            j--;
        }
        t.events[j + 1] = e;
    }
    mpl_tb_events_run(&t);
    return 0;
}

/* 'capture LINK -w FILE [--end a|b] [--duration S] [FILTER...]': execs tcpdump inside the
 * link namespace. */
static int
link_capture(const char *topo, int argc, char **argv)
{
    const char *link = NULL, *file = NULL, *duration = NULL;
    char end = 'a';
    int i = 0;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "-w") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(argv[i], "--end") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "a") || !strcmp(argv[i + 1], "b")))
            end = argv[++i][0];
        else if (!strcmp(argv[i], "--duration") && i + 1 < argc)
            duration = argv[++i];
        else if (!link && argv[i][0] != '-')
            link = argv[i];
        else
            break;
    }
    if (i < argc && argv[i][0] == '-') {
        static const char *const with_value[] = {"-w", "--end", "--duration", NULL};
        return mpl_bad_arg(argv[i], with_value);
    }
    if (!link)
        return mpl_usage_error("capture: missing LINK");
    if (!file)
        return mpl_usage_error("capture: missing -w FILE");
    uint64_t dur_ns = 0;
    if (duration && (mpl_parse_duration(duration, &dur_ns) != 0 || dur_ns < 1000000000ull))
        return mpl_usage_error("--duration: expected at least 1s");
    static mpl_topology_t t;
    if (mpl_tb_load_running(topo, &t) != 0)
        return 1;
    int l = mpl_topo_link(&t, link);
    if (l < 0) {
        mpl_err("topology '%s' has no link '%s'", t.name, link);
        return 1;
    }
    char lns[64], secs[32], ifn[2] = {end, 0};
    mpl_tb_link_ns(&t, l, lns, sizeof(lns));
    if (mpl_tb_netns_enter(lns) != 0) {
        mpl_err("cannot enter namespace %s", lns);
        return 1;
    }
    char *args[64];
    int n = 0;
    if (dur_ns) {
        snprintf(secs, sizeof(secs), "%llu", (unsigned long long)(dur_ns / 1000000000ull));
        args[n++] = "timeout";
        args[n++] = "-s";
        args[n++] = "INT";
        args[n++] = secs;
    }
    args[n++] = "tcpdump";
    args[n++] = "-q";
    args[n++] = "-U";
    args[n++] = "-i";
    args[n++] = ifn;
    args[n++] = "-w";
    args[n++] = (char *)file;
    for (; i < argc && n < 62; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    execvp(args[0], args);
    mpl_err("cannot run %s: %s", args[0], strerror(errno));
    return 1;
}

int
cmd_link(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *topo = NULL;
    int i = 1;
    if (i < argc && !strcmp(argv[i], "--topo")) {
        if (i + 1 >= argc)
            return mpl_usage_error("option '--topo' requires an argument");
        topo = argv[i + 1];
        i += 2;
    }
    if (i >= argc)
        return mpl_usage_error("missing subcommand (set, capture, schedule)");
    if (!strcmp(argv[i], "schedule")) {
        if (mpl_need_root() != 0)
            return 1;
        return link_schedule(topo, argc - i - 1, argv + i + 1);
    }
    if (!strcmp(argv[i], "capture")) {
        if (mpl_need_root() != 0)
            return 1;
        return link_capture(topo, argc - i - 1, argv + i + 1);
    }
    if (strcmp(argv[i], "set") != 0) {
        if (argv[i][0] == '-')
            return mpl_usage_error("unrecognized option '%s'", argv[i]);
        return mpl_usage_error("unknown subcommand '%s' (set, capture, schedule)", argv[i]);
    }
    if (i + 1 >= argc)
        return mpl_usage_error("set: missing LINK and ACTION");
    if (argv[i + 1][0] == '-')
        return mpl_bad_arg(argv[i + 1], NULL);
    if (i + 2 >= argc)
        return mpl_usage_error("set: missing ACTION (down, up, blackhole, rate R, delay D, loss P)");
    const char *link = argv[i + 1];
    mpl_tb_change_t c;
    char err[512];
    if (mpl_tb_change_parse(argc - i - 2, argv + i + 2, &c, err, sizeof(err)) != 0)
        return mpl_usage_error("%s", err);
    if (mpl_need_root() != 0)
        return 1;
    static mpl_topology_t t;
    if (mpl_tb_load_running(topo, &t) != 0)
        return 1;
    c.link = mpl_topo_link(&t, link);
    if (c.link < 0) {
        mpl_err("topology '%s' has no link '%s'", t.name, link);
        return 1;
    }
    if (mpl_tb_link_apply(&t, &c, err, sizeof(err)) != 0) {
        mpl_err("link %s: %s", link, err);
        return 1;
    }
    return 0;
}
