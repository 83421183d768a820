/*
 * report.h — an experiment directory's plots (gnuplot, PNG + SVG), summary table and
 * self-contained HTML report, all rebuilt from the data files:
 *   DIR/meta.json        scenario, parameters, environment (kernel, versions, sysctls, backend)
 *   DIR/runs.csv         one row per run (results.h)
 *   DIR/timeseries.csv   run_id,source,host,iface,t,rx_mbps,tx_mbps (source app|iface)
 * Output: DIR/summary.txt, DIR/plots/ (NAME.gp .dat .png .svg), DIR/index.html.
 */
#ifndef MPLAB_EXP_REPORT_H
#define MPLAB_EXP_REPORT_H

#include <stddef.h>

/* Builds everything from DIR's data. With print, the summary table goes to stdout too.
 * Returns 0, or -1 with the problem in err (missing gnuplot only warns). */
int mpl_report_build(const char *dir, int print, char *err, size_t errlen);

/* Writes base64 of a file into f (for data: URIs). Returns 0 or -1. */
int mpl_report_base64_file(const char *path, void *file);

#endif
