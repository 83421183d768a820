/*
 * main.c — the mplab command: dispatches to one subcommand per file (wireguard-tools' style).
 */
#include "cmd/commands.h"
#include "common/util.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", cmd_serve, "serve files and /bytes/N over tcp, tls, mptcp, mptls or tcpls"},
    {"get", cmd_get, "download URLs over tcp, tls, mptcp, mptls or tcpls and report goodput"},
    {"cert", cmd_cert, "create the project CA and a server certificate"},
    {"topo", cmd_topo, "bring emulated multi-link topologies up and down, show and check them"},
    {"exec", cmd_exec, "run a command inside a host of a running topology, or over ssh (--hosts)"},
    {"hosts", cmd_hosts, "real hosts over ssh: check them, snapshot and restore their network state"},
    {"link", cmd_link, "change a link at run time (down, up, blackhole, rate, delay, loss)"},
    {"monitor", cmd_monitor, "per-interface throughput in every host, live and as CSV"},
    {"run", cmd_run, "run experiment scenarios (default: the seeds' comparison)"},
    {"report", cmd_report, "rebuild an experiment's plots and HTML report from its data"},
};

static void
usage(FILE *f)
{
    fprintf(f, "Usage: mplab COMMAND [ARGS...]\n\n"
               "mplab measures multipath transports (TCP, TLS, MPTCP, TCPLS) on emulated\n"
               "multi-link topologies built in network namespaces.\n\nCommands:\n");
    for (size_t i = 0; i < MPL_ARRAY_SIZE(commands); i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n  help      this text;  version  print the version\n"
               "\n'mplab COMMAND --help' describes each command.\n");
}

int
main(int argc, char **argv)
{
    static char progname[64];

    signal(SIGPIPE, SIG_IGN);
    opterr = 0; /* the commands report getopt errors as one line (mpl_getopt_error) */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("mplab %s\n", MPLAB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < MPL_ARRAY_SIZE(commands); i++) {
        if (strcmp(cmd, commands[i].name) == 0) {
            snprintf(progname, sizeof(progname), "mplab %s", cmd);
            mpl_set_progname(progname);
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "mplab: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
