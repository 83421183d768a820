/*
 * report.c — 'mplab report DIR': rebuild an experiment's summary, plots and index.html
 * from its data files (runs.csv, timeseries.csv, meta.json).
 */
#include "cmd/commands.h"
#include "exp/report.h"
#include "common/util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void
usage(FILE *f)
{
    fprintf(f, "Usage: mplab report DIR [--quiet]\n"
               "\n"
               "Rebuilds DIR/summary.txt, DIR/plots/ (gnuplot: PNG and SVG) and the self-contained\n"
               "DIR/index.html from the data of an experiment made by 'mplab run' (DIR/runs.csv,\n"
               "DIR/timeseries.csv, DIR/meta.json), and prints the summary table.\n"
               "  -q, --quiet   do not print the summary\n");
}

int
cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c, quiet = 0;
    int status;
    optind = 1;
    while ((c = mpl_getopt(argc, argv, "qh", opts, usage, &status)) >= 0) {
        switch (c) {
        case 'q':
            quiet = 1;
            break;
        }
    }
    if (c == MPL_OPT_EXIT)
        return status;
    if (argc - optind < 1)
        return mpl_usage_error("missing DIR (an experiment's output directory)");
    if (argc - optind > 1)
        return mpl_usage_error("unexpected argument '%s'", argv[optind + 1]);
    const char *dir = argv[optind];
    char err[600];
    if (mpl_report_build(dir, !quiet, err, sizeof(err)) != 0) {
        mpl_err("%s", err);
        return 1;
    }
    if (!quiet)
        printf("report: %s/index.html\n", dir);
    return 0;
}
