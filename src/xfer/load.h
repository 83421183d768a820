/*
 * load.h — request-latency load ('mplab get --requests N --concurrency C [--rate R]'), the
 * wrk/wrk2 idea: N small GETs of one URL, C at a time.
 *
 * tcp, tls, mptcp (load.c): C connections kept alive (HTTP/1.1 keep-alive), one request in
 * flight on each. tcpls (get_tcpls.c): one session, C streams in flight (one request per
 * stream), spread by the session's scheduler over its connections (--bind A --bind B).
 *
 * Schedule: without a rate (closed loop) a request goes out as soon as a connection (stream)
 * is free, and its latency counts from that moment. With rate R (open loop, constant rate)
 * request k is due at start + k / R; it goes out at that time or, when all C are busy, as
 * soon as one is free, and its latency counts from the *due* time: the time it waited for a
 * connection is part of it (coordinated omission correction, as wrk2).
 *
 * Every response is checked: status 200, a complete body, and for /bytes/N its length N and
 * content. A failed request counts in errors, not in the histogram: over tcp/tls/mptcp its
 * connection is opened again and the load goes on; over tcpls a failed response is a session
 * failure (libtcpls streams are reliable and ordered), so the first one ends the run.
 */
#ifndef MPLAB_LOAD_H
#define MPLAB_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/hist.h"

struct mpl_client_cfg;

typedef struct mpl_load_cfg {
    uint64_t requests;    /* N > 0 */
    uint32_t concurrency; /* C, 1 <= C <= N */
    double rate;          /* requests/s (open loop), or 0: closed loop */
} mpl_load_cfg_t;

typedef struct mpl_load_result {
    mpl_hist_t hist;    /* latency of each successful request, microseconds */
    uint64_t completed; /* successful requests */
    uint64_t errors;    /* failed requests (bad status, length, content, connection lost) */
    uint64_t bytes;     /* body bytes received */
    uint64_t start_ns;  /* the first request's due time */
    uint64_t end_ns;    /* the last response */
    char first_error[512];
    /* tcpls: the session's connections (--json "connections"), filled by the caller */
    struct {
        uint32_t id;
        char local[80], remote[80];
        uint64_t bytes_sent, bytes_received;
    } conns[16];
    int n_conns;
    int mptcp;    /* mptcp: 1 the first connection was MPTCP, 0 it fell back to TCP; else -1 */
    int subflows; /* mptcp: that connection's subflows */
} mpl_load_result_t;

/* The schedule (shared by load.c and get_tcpls.c). */
typedef struct mpl_load_sched {
    const mpl_load_cfg_t *cfg;
    uint64_t start_ns;
    uint64_t next; /* requests handed out so far */
} mpl_load_sched_t;

void mpl_load_sched_start(mpl_load_sched_t *s, const mpl_load_cfg_t *cfg, uint64_t now_ns);
/* 1 when a request may be sent now (one is left and, with a rate, it is due); *due_ns gets
 * the time its latency counts from. It is then handed out (next++). */
int mpl_load_sched_take(mpl_load_sched_t *s, uint64_t now_ns, uint64_t *due_ns);
/* ns until the next request is due (0: due now or closed loop), or UINT64_MAX: none left. */
uint64_t mpl_load_sched_wait_ns(const mpl_load_sched_t *s, uint64_t now_ns);

/* Records a finished request (latency from due_ns to now_ns) or, when why is not NULL, a failure. */
void mpl_load_note(mpl_load_result_t *r, uint64_t due_ns, uint64_t now_ns, const char *why);

/* Runs the load on cfg->urls[0] over tcp, tls or mptcp. Returns 0 when every request
 * succeeded, else -1 with the reason in err (first failure; counts in res). */
int mpl_load_run(const struct mpl_client_cfg *cfg, const mpl_load_cfg_t *lcfg, mpl_load_result_t *res,
                 char *err, size_t errlen);

/* wrk-like text: latency mean/min/max, the percentiles, requests/s. */
void mpl_load_print_text(FILE *f, const char *proto, const char *url, const mpl_load_cfg_t *lcfg,
                         const mpl_load_result_t *r);
/* One JSON object: proto, url, workload "requests", requests, concurrency, rate (null: closed
 * loop), completed, errors, bytes, seconds (first due time to last response), requests_per_s,
 * latency_ms {min, mean, p50, p90, p99, p999, max}, histogram {unit "us", sub_buckets,
 * buckets [[lo, hi, count]...]} (common/hist.h), cpu_user_s, cpu_sys_s, error; with tcpls
 * connections [{id, local, remote, bytes_sent, bytes_received}]; with mptcp "mptcp" (false:
 * fell back to TCP) and "n_subflows" of the first connection. */
void mpl_load_print_json(FILE *f, const char *proto, const char *url, const mpl_load_cfg_t *lcfg,
                         const mpl_load_result_t *r, double cpu_user_s, double cpu_sys_s, const char *error);

#endif
