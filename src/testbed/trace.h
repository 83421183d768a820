/*
 * trace.h — trace-driven link rates in Mahimahi's format (docs/TESTBED.md, "Trace-driven
 * links"): one line per delivery opportunity, its time in milliseconds (non-decreasing
 * integers); each opportunity delivers up to MPL_TRACE_MTU bytes. The trace loops: after its
 * last line (the period) it starts again.
 *
 * Pure: parsing takes text, delivery takes times; no I/O and no clock.
 */
#ifndef MPLAB_TESTBED_TRACE_H
#define MPLAB_TESTBED_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define MPL_TRACE_MTU     1500u    /* bytes per delivery opportunity (Mahimahi's MTU) */
#define MPL_TRACE_MAX_OPS 4000000u /* lines */

typedef struct mpl_trace {
    uint32_t *ms;       /* opportunity times, ms from the period's start (owned) */
    size_t n;           /* count, >= 1 */
    uint32_t period_ms; /* the last line's time: the loop's length, >= 1 */
} mpl_trace_t;

/* Parses text[0..len). Blank lines and '#' comments are skipped. Returns 0, or -1 with
 * "FNAME:LINE: problem" in err (t is then empty). */
int mpl_trace_parse(const char *text, size_t len, const char *fname, mpl_trace_t *t, char *err,
                    size_t errlen);
/* Reads and parses a file (the only function here that does I/O). Returns 0 or -1 (err). */
int mpl_trace_load(const char *path, mpl_trace_t *t, char *err, size_t errlen);
void mpl_trace_free(mpl_trace_t *t);

/* Mean rate over one period, bit/s. */
double mpl_trace_mean_bps(const mpl_trace_t *t);

/* The delivery state of a link direction driven by trace tr from epoch_ns on. */
typedef struct mpl_trace_link {
    const mpl_trace_t *tr;
    uint64_t epoch_ns; /* time of the trace's 0 ms */
    uint64_t k;        /* current opportunity (counted over every loop) */
    uint32_t budget;   /* bytes left in opportunity k */
} mpl_trace_link_t;

void mpl_trace_link_init(mpl_trace_link_t *l, const mpl_trace_t *tr, uint64_t epoch_ns);
/* Time of opportunity k. */
uint64_t mpl_trace_time(const mpl_trace_link_t *l, uint64_t k);
/* A frame of len bytes is at the head of the queue from ready_ns on, behind every frame
 * passed before (FIFO): returns when it has been delivered, using the rest of the current
 * opportunity when it is not over yet, and as many opportunities as its bytes need. */
uint64_t mpl_trace_depart(mpl_trace_link_t *l, uint64_t ready_ns, uint32_t len);

#endif
