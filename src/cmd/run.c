/*
 * run.c — 'mplab run': run experiment scenarios (scenarios/NAME.ini, docs/EXPERIMENTS.md)
 * on the testbed and write data, plots and a report. With no scenario: the default
 * comparison (README's main job).
 */
#include "cmd/commands.h"
#include "exp/runner.h"
#include "exp/scenario.h"
#include "common/util.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The default comparison, used when scenarios/default.ini is not at hand: the seeds' first
 * question (bandwidth split of two links), small enough for under 5 minutes on 2 cores. */
static const char default_scenario[] =
    "[scenario]\n"
    "name = default\n"
    "title = Default comparison: 100 Mbit/s split over two links (30/70, 50/50, 70/30)\n"
    "protocols = tcp tls mptcp mptls tcpls\n"
    "size = 30M\n"
    "repeat = 2\n"
    "cc = cubic\n"
    "interval = 0.1\n"
    "timeout = 30s\n"
    "[topology]\n"
    "links = 2\n"
    "rate = 100mbit\n"
    "split = 30/70 50/50 70/30\n"
    "delay = 5ms\n";

static void
usage(FILE *f)
{
    fprintf(f, "Usage: mplab run [SCENARIO...] [--out DIR] [--repeat N] [--resume] [--json] [--dry-run]\n"
               "\n"
               "Runs experiment scenarios on emulated topologies (needs root): for every point of a\n"
               "scenario's sweep, every protocol (tcp on each single link as the reference, tls, mptcp,\n"
               "mptls, tcpls) and every repetition, a download through 'mplab serve' / 'mplab get',\n"
               "with the per-interface monitor and timed link events. Writes DIR/runs.csv (a row per run),\n"
               "DIR/timeseries.csv, DIR/meta.json, DIR/plots/ and DIR/index.html, and prints a summary\n"
               "(median, spread, ratio to the expected aggregate; more than 10%% off is flagged).\n"
               "\n"
               "SCENARIO is a file (scenarios/split.ini) or a name in scenarios/ (split). With none:\n"
               "the default comparison (scenarios/default.ini, or the built-in copy).\n"
               "\n"
               "Options:\n"
               "  -o, --out DIR     results directory (default results/DATE-NAME; with several\n"
               "                    scenarios, DIR/NAME)\n"
               "  -n, --repeat N    repetitions (overrides the scenario's 'repeat')\n"
               "  -r, --resume      continue DIR (or the latest results/*-NAME): skip finished runs\n"
               "  -j, --json        one JSON summary object per scenario on stdout\n"
               "      --dry-run     print the runs that would be made, run nothing\n"
               "Ctrl-C stops cleanly: the running transfer is dropped, finished runs are kept, the\n"
               "topology is removed and the report is written. Exit: 0 done, 1 failed, 2 usage, 130\n"
               "interrupted.\n");
}

/* SCENARIO argument -> path: an existing file, else scenarios/NAME.ini next to the cwd or
 * next to the binary (../scenarios). */
static int
resolve(const char *arg, const char *exe, char *out, size_t len)
{
    struct stat sb;
    if (stat(arg, &sb) == 0 && S_ISREG(sb.st_mode)) {
        snprintf(out, len, "%s", arg);
        return 0;
    }
    /* a path or a file name is taken as given; only a bare NAME is looked up as scenarios/NAME.ini */
    if (strchr(arg, '/') != NULL || strstr(arg, ".ini") != NULL)
        return -1;
    const char *ext = ".ini";
    snprintf(out, len, "scenarios/%s%s", arg, ext);
    if (stat(out, &sb) == 0)
        return 0;
    char dir[PATH_MAX / 2];
    snprintf(dir, sizeof(dir), "%.2000s", exe);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        snprintf(out, len, "%s/../scenarios/%s%s", dir, arg, ext);
        if (stat(out, &sb) == 0)
            return 0;
        snprintf(out, len, "%s/../share/mplab/scenarios/%s%s", dir, arg, ext);
        if (stat(out, &sb) == 0)
            return 0;
    }
    return -1;
}

int
cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                         {"repeat", required_argument, NULL, 'n'},
                                         {"resume", no_argument, NULL, 'r'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"dry-run", no_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    mpl_runner_opts_t o;
    memset(&o, 0, sizeof(o));
    int c;
    uint64_t u;
    int status;
    optind = 1;
    while ((c = mpl_getopt(argc, argv, "o:n:rjh", opts, usage, &status)) >= 0) {
        switch (c) {
        case 'o':
            o.out_dir = optarg;
            break;
        case 'n':
            if (mpl_parse_u64(optarg, &u) != 0 || u < 1 || u > 100)
                return mpl_usage_error("--repeat: expected 1..100");
            o.repeat = (int)u;
            break;
        case 'r':
            o.resume = 1;
            break;
        case 'j':
            o.json = 1;
            break;
        case 'D':
            o.dry_run = 1;
            break;
        }
    }
    if (c == MPL_OPT_EXIT)
        return status;
    static char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        mpl_err("cannot find the mplab binary (/proc/self/exe)");
        return 1;
    }
    exe[n] = '\0';
    o.mplab = exe;

    int nsc = argc - optind;
    int count = nsc > 0 ? nsc : 1;
    mpl_scenario_t *scs = calloc((size_t)count, sizeof(*scs));
    if (scs == NULL) {
        mpl_err("out of memory");
        return 1;
    }
    char err[600], path[PATH_MAX];
    int rc = 0;
    if (nsc == 0) {
        if (resolve("default", exe, path, sizeof(path)) == 0) {
            if (mpl_sc_load(path, &scs[0], err, sizeof(err)) != 0) {
                mpl_err("%s", err);
                rc = 2;
            }
        } else if (mpl_sc_parse(default_scenario, sizeof(default_scenario) - 1, "default (built in)", &scs[0],
                                err, sizeof(err)) != 0) {
            mpl_err("%s", err);
            rc = 2;
        }
    }
    for (int i = 0; i < nsc && rc == 0; i++) {
        if (strlen(argv[optind + i]) > 1000 || resolve(argv[optind + i], exe, path, sizeof(path)) != 0) {
            const char *a = argv[optind + i];
            if (strchr(a, '/') != NULL || strstr(a, ".ini") != NULL)
                mpl_err("%s: no such scenario file", a);
            else
                mpl_err("%s: no such scenario file (nor scenarios/%s.ini)", a, a);
            rc = 2;
        } else if (mpl_sc_load(path, &scs[i], err, sizeof(err)) != 0) {
            mpl_err("%s", err);
            rc = 2;
        }
    }
    if (rc == 0 && !o.dry_run && geteuid() != 0) {
        mpl_err("experiments build network namespaces: run as root");
        rc = 1;
    }
    if (rc != 0) {
        free(scs);
        return rc;
    }
    mpl_runner_install_signals();
    for (int i = 0; i < count && rc == 0; i++) {
        mpl_runner_opts_t oi = o;
        char dir[PATH_MAX];
        if (o.out_dir != NULL && count > 1) {
            snprintf(dir, sizeof(dir), "%s/%s", o.out_dir, scs[i].name);
            oi.out_dir = dir;
        }
        int r = mpl_runner_run(&scs[i], &oi);
        if (r != 0)
            rc = r;
        if (mpl_runner_interrupted())
            rc = 130;
    }
    free(scs);
    return rc;
}
