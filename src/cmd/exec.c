/*
 * exec.c — 'mplab exec [--topo NAME] HOST -- CMD...': runs CMD inside a host's network
 * namespace (setns on /run/netns/NAME, then execvp); 'mplab exec --hosts FILE HOST -- CMD...' runs
 * it over ssh (testbed/hosts.h), with the exit status of CMD (255: ssh failed).
 */
#include "cmd/commands.h"
#include "testbed/hosts.h"
#include "testbed/testbed.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
usage(FILE *f)
{
    fprintf(f, "Usage: mplab exec [--topo NAME] HOST -- CMD [ARGS...]\n"
               "       mplab exec --hosts FILE HOST -- CMD [ARGS...]\n\n"
               "Runs CMD inside HOST's network namespace. --topo may be left out when only one\n"
               "topology is up (MPLAB_PREFIX selects which ones are considered).\n"
               "With --hosts, HOST is a section of the hosts file (docs/TESTBED.md) and CMD runs there\n"
               "over ssh (each argument quoted, in the remote user's home directory; a shared\n"
               "connection under the run directory), or in the namespace for 'ssh = local'. The exit\n"
               "status is CMD's; 255 when ssh could not connect.\n");
}

static int
exec_hosts(const char *file, const char *host, int argc, char **argv)
{
    static mpl_hosts_t hs;
    char err[600], ctl[256];
    if (mpl_hosts_load(file, &hs, err, sizeof(err)) != 0) {
        mpl_err("%s", err);
        return 1;
    }
    int h = mpl_hosts_find(&hs, host);
    if (h < 0) {
        mpl_err("%s: no host '%s'", file, host);
        return 1;
    }
    if (mpl_hosts_ctl_dir(ctl, sizeof(ctl), err, sizeof(err)) != 0 ||
        mpl_hosts_exec(&hs.hosts[h], ctl, argv, argc, err, sizeof(err)) != 0) {
        mpl_err("%s", err);
        return 1;
    }
    return 1;
}

int
cmd_exec(int argc, char **argv)
{
    const char *topo = NULL, *host = NULL, *hosts_file = NULL;
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
        else if (!strcmp(argv[i], "--hosts") && i + 1 < argc)
            hosts_file = argv[++i];
        else if (argv[i][0] != '-' && !host)
            host = argv[i];
        else if (argv[i][0] != '-' && host) {
            break; /* "exec HOST CMD..." without "--" */
        } else {
            static const char *const with_value[] = {"--topo", "--hosts", NULL};
            return mpl_bad_arg(argv[i], with_value);
        }
    }
    if (!host)
        return mpl_usage_error("missing HOST and CMD");
    if (i >= argc)
        return mpl_usage_error("missing CMD to run in host '%s'", host);
    if (hosts_file) {
        if (topo)
            return mpl_usage_error("--topo and --hosts exclude each other");
        return exec_hosts(hosts_file, host, argc - i, argv + i);
    }
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
