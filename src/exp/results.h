/*
 * results.h — one experiment's results: the tidy per-run table (runs.csv), its statistics
 * (median and spread per point and protocol, ratio to the expected aggregate) and the
 * failure metrics computed from a transfer's goodput intervals.
 */
#ifndef MPLAB_EXP_RESULTS_H
#define MPLAB_EXP_RESULTS_H

#include "exp/scenario.h"

#include <stdio.h>

#define MPL_RUN_ID_LEN 64
#define MPL_FLAG_RATIO 0.10 /* a multipath ratio off by more than 10% is flagged */

typedef struct mpl_run {
    char id[MPL_RUN_ID_LEN]; /* "p01-mptcp-r1", "p01-tcp-l2-r1" */
    int point;               /* 1-based */
    char label[256];
    int rep; /* 1-based */
    mpl_proto_t proto;
    int path; /* tcp reference: link number 1..; 0 for the others */
    /* the point's parameters (raw values, for the tidy table) */
    int links;
    double share1_pct; /* share of link 1 in percent */
    char split[MPL_SC_VALUE_LEN], rate[MPL_SC_VALUE_LEN], delay[MPL_SC_VALUE_LEN], loss[MPL_SC_VALUE_LEN];
    char backup[MPL_SC_VALUE_LEN], fail[16], cc[32];
    double size;
    char direction[12]; /* download | upload (an older runs.csv without the column: download) */
    /* outcome */
    char status[16]; /* ok | failed | unavailable */
    double bytes, seconds, goodput_mbps;
    int verified;
    double cpu_client_s, cpu_server_s; /* NAN when unknown */
    double stall_s, recover_s;         /* NAN when not applicable / never */
    int mptcp;                         /* mptcp: 1 multipath, 0 fell back to TCP; -1 n/a */
    int subflows;                      /* subflows or connections seen; 0 n/a */
    char error[160];
    /* several objects at once (streams > 1) and migration (migrate_at) */
    int streams;                         /* objects fetched at once (1 = one transfer) */
    char streams_policy[8];              /* tcpls: spread | pin */
    char streams_mode[12];               /* tcp, tls, mptcp: parallel | pipeline */
    double objects_p50_s, objects_p99_s; /* completion time of the objects (since the start) */
    char migrate_mode[4];                /* "" (no migration) | mbb | bbm */
    double migrate_t90_s;             /* from the migration until the new path carries 90% of its capacity */
    double old_path_bytes;            /* bytes received on the old path(s) after the migration instant */
    double req_per_s, p50_ms, p99_ms; /* workload = requests (exp/latency.h); else NAN */
    double second_path_s; /* multipath: first data on a second link (mpl_first_data_s); NAN never/n/a */
} mpl_run_t;

typedef struct mpl_runs {
    mpl_run_t *v;
    int n, cap;
} mpl_runs_t;

/* "tcp@l2" for references, else the protocol name. */
const char *mpl_run_series(const mpl_run_t *r, char *buf, size_t len);

int mpl_runs_add(mpl_runs_t *rs, const mpl_run_t *r);
void mpl_runs_free(mpl_runs_t *rs);
const mpl_run_t *mpl_runs_find(const mpl_runs_t *rs, const char *id);

/* runs.csv: header line + one line per run. */
void mpl_runs_csv_header(FILE *f);
void mpl_runs_csv_row(FILE *f, const mpl_run_t *r);
/* Reads runs.csv (missing file = no runs). Returns 0 or -1 (err). */
int mpl_runs_csv_load(const char *path, mpl_runs_t *rs, char *err, size_t errlen);

/* ---- statistics ---------------------------------------------------------------------- */

/* How the expected value of a multipath group was computed. */
typedef enum mpl_expected_basis {
    MPL_EXPECTED_NONE = 0,  /* not multipath, or references missing */
    MPL_EXPECTED_AGGREGATE, /* sum of the tcp references of every link */
    MPL_EXPECTED_BACKUP,    /* mptcp with backup links: the non-backup links' references only */
    MPL_EXPECTED_FAILOVER,  /* failure point: all (non-backup) links until the failure, then the
                             * surviving ones, time-weighted over an ideal transfer; not flagged */
} mpl_expected_basis_t;

typedef struct mpl_group {
    int point;
    char label[256];
    mpl_proto_t proto;
    int path;
    int links;
    double share1_pct, size;
    int n, n_ok;                     /* runs, successful runs */
    int unavailable;                 /* every run said 'unavailable' */
    double median, min, max, stddev; /* goodput, Mbit/s, over successful runs */
    double seconds_median;
    double cpu_client_median, cpu_server_median;
    double stall_median, recover_median;
    double objects_p50_median, objects_p99_median, migrate_t90_median, old_path_bytes_median;
    double second_path_median;
    double expected; /* multipath: see expected_basis; else NAN */
    double ratio;    /* median / expected, NAN when unknown */
    int flagged;     /* |ratio - 1| > MPL_FLAG_RATIO (never for failure points) */
    mpl_expected_basis_t basis;
    char fail[16];
    char backup[MPL_SC_VALUE_LEN];
    int migrating; /* a migration point: no expected value (the paths change on purpose) */
    double rps_median, p50_median, p99_median; /* workload = requests, else NAN (exp/latency.h) */
} mpl_group_t;

/* What a failure point needs to compute its expected value (NULL / unknown: no expected). */
typedef struct mpl_stats_ctx {
    double fail_at_s; /* failure time after the start of the transfer; NAN unknown */
    int fail_path;    /* failed link, 1-based ("l2" -> 2); 0 unknown */
} mpl_stats_ctx_t;

/* "l3" -> 3; 0 when the name is not lN. */
int mpl_stats_link_index(const char *link);
const char *mpl_expected_basis_name(mpl_expected_basis_t b);
/* Expected goodput (Mbit/s) of an ideal transfer of size_bytes that runs at before_mbps until
 * at_s, then at after_mbps (instant failover). NAN when a rate is not positive. */
double mpl_expected_failover(double size_bytes, double before_mbps, double after_mbps, double at_s);

/* Median of v[0..n) (v is reordered). NAN for n == 0. */
double mpl_median(double *v, int n);
/* Groups runs by (point, protocol, path) in first-seen order. *out is malloc'ed. Returns the
 * number of groups, or -1 on allocation failure. */
int mpl_stats_groups(const mpl_runs_t *rs, mpl_group_t **out);
/* Same, with the failure parameters (ctx may be NULL: failure points get no expected value). */
int mpl_stats_groups_ctx(const mpl_runs_t *rs, const mpl_stats_ctx_t *ctx, mpl_group_t **out);
/* The terminal summary table. */
void mpl_stats_print(FILE *f, const mpl_group_t *g, int n);

/* ---- failure metrics ----------------------------------------------------------------- */

/* From goodput intervals (t = end of the interval, seconds since the transfer started, and
 * Mbit/s): the longest time without application progress after the first byte (stall), and
 * the time from event_t until the goodput, averaged over window_s, first reaches target_mbps
 * (recover; NAN when it never does, or when event_t < 0). */
void mpl_failure_metrics(const double *t, const double *mbps, int n, double event_t, double target_mbps,
                         double window_s, double *stall_s, double *recover_s);

/* Percentile q (0..100, nearest rank) of v[0..n) (v is reordered). NAN for n == 0. */
double mpl_percentile(double *v, int n, double q);

/* ---- migration metrics --------------------------------------------------------------- */

/* From per-interface samples (t in seconds since the transfer started, rx Mbit/s of the old
 * path(s) and of the new path, n samples in time order) and the migration instant at_s: the time
 * from at_s until the new path's rx, averaged over window_s (lying after at_s), first reaches
 * target_mbps (*t90_s, NAN when never or target unknown), and the bytes the old path(s) received
 * after at_s (*old_bytes). */
void mpl_migration_metrics(const double *t, const double *old_mbps, const double *new_mbps, int n,
                           double at_s, double target_mbps, double window_s, double *t90_s,
                           double *old_bytes);
/* Bytes above its baseline that an interface's counter must pass for "data on that path": more
 * than the join's handshake (MP_JOIN SYN/ACKs; a TCPLS join's TCP and TLS handshake), less than
 * the first flight of data (an initial window of 10 segments is about 14.5 kB). */
#define MPL_SECOND_PATH_BYTES 4096.0

/* From one interface's samples (t = seconds since the transfer started, bytes = the cumulative
 * rx (downloads) or tx (uploads) counter, n samples in time order): the time at which the
 * counter first exceeds its baseline (its value at the last sample with t <= 0, or the first
 * sample when none) by threshold bytes, interpolated linearly between the two samples around
 * the crossing and never below 0. NAN when it never does. The second_path_s metric of a
 * multipath run is the minimum of this over the client's links other than the first. */
double mpl_first_data_s(const double *t, const double *bytes, int n, double threshold);

#endif
