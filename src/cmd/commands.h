/*
 * commands.h — the mplab subcommands. Each lives in its own src/cmd/NAME.c and is listed in
 * the table of src/main.c. A command returns the process exit status: 0 success, 1 failure
 * of the operation, 2 bad usage (through mpl_usage_error and the other command-line helpers
 * of common/util.h).
 */
#ifndef MPLAB_COMMANDS_H
#define MPLAB_COMMANDS_H

int cmd_serve(int argc, char **argv);   /* src/cmd/serve.c */
int cmd_get(int argc, char **argv);     /* src/cmd/get.c */
int cmd_cert(int argc, char **argv);    /* src/cmd/cert.c */
int cmd_topo(int argc, char **argv);    /* src/cmd/topo.c */
int cmd_exec(int argc, char **argv);    /* src/cmd/exec.c */
int cmd_link(int argc, char **argv);    /* src/cmd/link.c */
int cmd_monitor(int argc, char **argv); /* src/cmd/monitor.c */
int cmd_run(int argc, char **argv);     /* src/cmd/run.c */
int cmd_report(int argc, char **argv);  /* src/cmd/report.c */
int cmd_hosts(int argc, char **argv);   /* src/cmd/hosts.c */

/* 'mplab hosts SUB FILE' (check, snapshot, restore, close) for other commands; json: check --json. */
int mpl_hosts_main(const char *sub, const char *file, int json);

#ifndef MPLAB_VERSION
#define MPLAB_VERSION "0.1.0"
#endif

#endif
