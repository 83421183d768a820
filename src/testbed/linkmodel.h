/*
 * linkmodel.h — what happens to each frame on one direction of an emulated link: delay with
 * jitter, loss (random with correlation, Gilbert-Elliott), reordering, duplication and
 * corruption, as netem's parameters name them (docs/TESTBED.md, "Link models").
 *
 * Pure: no I/O, no clock, no global state. The caller owns a state per direction, seeds its
 * PRNG and passes each frame's arrival time in; the model answers what to do with the frame.
 * The forwarder uses it on real frames, the unit tests on millions of simulated ones.
 */
#ifndef MPLAB_TESTBED_LINKMODEL_H
#define MPLAB_TESTBED_LINKMODEL_H

#include <stddef.h>
#include <stdint.h>

typedef enum mpl_lm_dist {
    MPL_LM_UNIFORM = 0,  /* delay +- jitter, flat */
    MPL_LM_NORMAL,       /* jitter = standard deviation */
    MPL_LM_PARETO,       /* iproute2's pareto table: (U^(-1/3) - 1.5) x 4/3, mean 0, long right tail */
    MPL_LM_PARETONORMAL, /* 1/4 normal + 3/4 pareto, quantile by quantile */
    MPL_LM_NDIST,
} mpl_lm_dist_t;

#define MPL_LM_TABLE 4096 /* quantiles of the jitter distribution, as netem's tables */

/* Parameters of one direction. Percentages are 0..100, as in the topology files and netem. */
typedef struct mpl_lm_params {
    uint64_t delay_ns;       /* one-way delay */
    uint64_t jitter_ns;      /* 0 = none */
    uint32_t jitter_dist;    /* mpl_lm_dist_t */
    uint32_t jitter_reorder; /* 1: a frame leaves at its own time, overtaking; 0: never before
                                the frame ahead of it (FIFO, as netem with rate) */
    double jitter_corr_pct;  /* correlation of successive jitters */
    double loss_pct;         /* random loss (ignored when ge is set) */
    double loss_corr_pct;    /* P(loss | last lost) = p + c (1 - p): bursts, same mean rate */
    uint32_t ge;             /* 1: Gilbert-Elliott loss (netem 'loss gemodel p r 1-h 1-k') */
    uint32_t reorder_gap;    /* netem 'gap': 0 or 1 = any frame may jump ahead */
    double ge_p_pct, ge_r_pct, ge_1h_pct, ge_1k_pct;
    double reorder_pct, reorder_corr_pct; /* frames sent at once, without the delay */
    double duplicate_pct;                 /* frames sent twice */
    double corrupt_pct;                   /* frames with one bit flipped after the Ethernet header */
} mpl_lm_params_t;

typedef struct mpl_lm_state {
    uint64_t rng;
    double jitter_z;           /* normal score of the last jitter (correlation) */
    double reorder_last;       /* last uniform of the reorder decision (correlation) */
    uint32_t lost_last;        /* random loss: last frame lost */
    uint32_t ge_bad;           /* Gilbert-Elliott: in the bad state */
    uint32_t reorder_count;    /* frames delayed since the last reordered one */
    uint32_t table_dist;       /* distribution the table holds (MPL_LM_NDIST: none yet) */
    uint64_t last_release;     /* FIFO: release time of the last frame */
    float table[MPL_LM_TABLE]; /* quantiles, in units of jitter */
} mpl_lm_state_t;

typedef struct mpl_lm_verdict {
    int drop;            /* 1: lost */
    int copies;          /* 1, or 2 when duplicated (both leave at release_ns) */
    int reordered;       /* 1: sent without the delay */
    int64_t corrupt_bit; /* -1, or the bit (from the frame's start) to flip */
    uint64_t release_ns; /* when the frame leaves */
} mpl_lm_verdict_t;

/* Sets default parameters: no delay, no jitter (normal when given), nothing else. */
void mpl_lm_params_init(mpl_lm_params_t *p);
/* 1 when the parameters need more than a fixed delay and random loss. */
int mpl_lm_params_extended(const mpl_lm_params_t *p);

/* Starts a state with a seed (the same seed gives the same decisions). */
void mpl_lm_state_init(mpl_lm_state_t *s, uint64_t seed);
/* Decides the fate of one frame of len bytes arriving at arrival_ns. */
void mpl_lm_packet(const mpl_lm_params_t *p, mpl_lm_state_t *s, uint64_t arrival_ns, uint32_t len,
                   mpl_lm_verdict_t *v);

/* The model's PRNG (xorshift64*), uniform in [0, 1). */
double mpl_lm_uniform(mpl_lm_state_t *s);

/* Names: "uniform" "normal" "pareto" "paretonormal". parse returns 0 or -1. */
const char *mpl_lm_dist_name(uint32_t d);
int mpl_lm_dist_parse(const char *s, uint32_t *d);

/* Sets one model key of p from its text value (the topology file's keys without _a2b/_b2a:
 * jitter, jitter_dist, jitter_corr, jitter_reorder, loss_corr, loss_ge, reorder, reorder_corr,
 * reorder_gap, duplicate, corrupt). Returns 1 when key is not a model key, 0 when set, -1
 * with the problem in err. */
int mpl_lm_set_key(mpl_lm_params_t *p, const char *key, const char *value, char *err, size_t errlen);

/* netem's words for p after "netem" (delay, jitter, distribution, loss, reorder, duplicate,
 * corrupt), for 'topo commands' and the netem backend. Returns buf. */
const char *mpl_lm_netem_args(const mpl_lm_params_t *p, char *buf, size_t len);

#endif
