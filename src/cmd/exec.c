/*
 * exec.c — 'mplab exec [--topo NAME] HOST -- CMD...': runs CMD inside a host's network
 * namespace (setns on /run/netns/NAME, then execvp).
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
    fprintf(f, "Usage: mplab exec [--topo NAME] HOST -- CMD [ARGS...]\n\n"
               "Runs CMD inside HOST's network namespace. --topo may be left out when only one\n"
               "topology is up (MPLAB_PREFIX selects which ones are considered).\n");
}

int
cmd_exec(int argc, char **argv)
{
    const char *topo = NULL, *host = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--topo") && i + 1 < argc)
            topo = argv[++i];
        else if (argv[i][0] != '-' && !host)
            host = argv[i];
        else if (argv[i][0] != '-' && host) {
            break; /* "exec HOST CMD..." without "--" */
        } else {
            static const char *const with_value[] = {"--topo", NULL};
            return mpl_bad_arg(argv[i], with_value);
        }
    }
    if (!host)
        return mpl_usage_error("missing HOST and CMD");
    if (i >= argc)
        return mpl_usage_error("missing CMD to run in host '%s'", host);
    static mpl_topology_t t;
    if (mpl_tb_load_running(topo, &t) != 0)
        return 1;
    int h = mpl_topo_host(&t, host);
    if (h < 0) {
        mpl_err("topology '%s' has no host '%s'", t.name, host);
        return 1;
    }
    char ns[64];
    mpl_tb_host_ns(&t, h, ns, sizeof(ns));
    if (mpl_tb_netns_enter(ns) != 0) {
        mpl_err("cannot enter namespace %s: %s", ns, strerror(errno));
        return 1;
    }
    execvp(argv[i], argv + i);
    mpl_err("cannot run %s: %s", argv[i], strerror(errno));
    return errno == ENOENT ? 127 : 126;
}
