/*
 * runner.h — runs a scenario on the testbed, through the mplab CLI only (topo up/show/down,
 * exec, link set, monitor, serve, get), and stores the results (see report.h for the files).
 */
#ifndef MPLAB_EXP_RUNNER_H
#define MPLAB_EXP_RUNNER_H

#include "exp/scenario.h"

typedef struct mpl_runner_opts {
    const char *out_dir; /* NULL: results/<date>-<name> */
    int repeat;          /* 0: the scenario's */
    int resume;          /* continue DIR: skip the runs already in runs.csv */
    int json;            /* one JSON object per scenario on stdout at the end */
    int dry_run;         /* print the plan, run nothing */
    const char *mplab;   /* absolute path of the mplab binary used for the sub-commands */
} mpl_runner_opts_t;

/* Runs one scenario. Returns 0 (every run done, some may have failed), 1 (could not run),
 * or 130 (interrupted by SIGINT/SIGTERM: finished runs kept, topology removed). */
int mpl_runner_run(const mpl_scenario_t *sc, const mpl_runner_opts_t *o);

/* Installs the SIGINT/SIGTERM handlers that make the runner stop cleanly. */
void mpl_runner_install_signals(void);
int mpl_runner_interrupted(void);

#endif
