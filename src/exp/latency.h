/*
 * latency.h — request-latency results (scenario 'workload = requests', 'mplab get
 * --requests'): a run's requests/s, p50 and p99 in runs.csv, its histogram in
 * DIR/latency.csv, the medians per point and protocol, and the latency CDF the report plots.
 *
 *   DIR/latency.csv   run_id,point,series,lo_us,hi_us,count   one row per non-empty bucket of
 *                     the run's histogram (common/hist.h: 32 sub-buckets per power of two)
 */
#ifndef MPLAB_EXP_LATENCY_H
#define MPLAB_EXP_LATENCY_H

#include "common/jsonread.h"
#include "exp/results.h"

#include <stdio.h>

/* From get --requests --json (root of d): r's requests_per_s, p50_ms, p99_ms, verified
 * (every request answered and checked: completed == requests, errors == 0) and bytes,
 * seconds; goodput is left NAN (not the yardstick of this workload). Appends the histogram
 * to DIR/latency.csv. */
void mpl_latency_read_run(const mpl_jdoc_t *d, const mpl_jv_t *root, mpl_run_t *r, const char *dir);

/* Fills the groups' rps_median, p50_median, p99_median from their successful runs (NAN when
 * no run has them). */
void mpl_latency_group_medians(const mpl_runs_t *rs, mpl_group_t *g, int n);

/* 1 when a group has request-latency figures. */
int mpl_latency_any(const mpl_group_t *g, int n);

/* 1 when every group is of the request workload (no goodput figures: the goodput table is
 * left out). */
int mpl_latency_only(const mpl_group_t *g, int n);

/* The terminal table of the request-latency groups (nothing when there are none). */
void mpl_latency_print(FILE *f, const mpl_group_t *g, int n);

/* Writes the latency CDF of point's successful runs to dat, one gnuplot data block per series
 * (all repetitions' histograms merged): lines "latency_ms fraction". titles[i] gets series
 * i's name. Returns the number of series (0: no histogram for this point). */
int mpl_latency_cdf(const char *dir, const mpl_runs_t *rs, int point, FILE *dat, char titles[][32], int max);

#endif
