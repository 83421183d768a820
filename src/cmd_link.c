/*
 * cmd_link.c — 'mplab link [--topo NAME] set LINK ACTION [VALUE] [dir a2b|b2a]': changes a
 * link of a running topology (docs/TESTBED.md).
 */
#include "commands.h"
#include "testbed/testbed.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
usage(FILE *f)
{
    fprintf(
        f,
        "Usage: mplab link [--topo NAME] set LINK down|up|blackhole|rate R|delay D|loss P [dir a2b|b2a]\n\n"
        "  down / up     switch the link off / on (the hosts see carrier loss); up also ends blackhole\n"
        "  blackhole     drop every frame silently, no interface event\n"
        "  rate R        e.g. 10mbit, 1gbit, unlimited\n"
        "  delay D       one-way delay, e.g. 25ms\n"
        "  loss P        percent, e.g. 1 or 0.5%%\n"
        "  dir a2b|b2a   only one direction (a2b = from the link's host a to host b)\n");
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
    if (i + 1 < argc && !strcmp(argv[i], "--topo")) {
        topo = argv[i + 1];
        i += 2;
    }
    if (i + 2 >= argc || strcmp(argv[i], "set") != 0) {
        usage(stderr);
        return 2;
    }
    const char *link = argv[i + 1];
    mpl_tb_change_t c;
    char err[512];
    if (mpl_tb_change_parse(argc - i - 2, argv + i + 2, &c, err, sizeof(err)) != 0) {
        mpl_err("%s", err);
        return 2;
    }
    if (geteuid() != 0) {
        mpl_err("needs root (network namespaces)");
        return 1;
    }
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
