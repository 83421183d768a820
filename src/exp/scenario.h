/*
 * scenario.h — experiment scenario files (docs/EXPERIMENTS.md) and their sweep expansion.
 *
 * A scenario names the transfers to compare (protocols, size, repetitions, congestion
 * control), the topology (generated from links/rate/split/delay/loss/backup, or a topology
 * file) and timed events. Sweepable keys take several space-separated values; per-link values
 * are separated by '/'. The expansion is the cartesian product of the swept keys: one
 * "point" per combination, each run with every protocol and repetition.
 */
#ifndef MPLAB_EXP_SCENARIO_H
#define MPLAB_EXP_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#define MPL_SC_MAX_LINKS  8
#define MPL_SC_MAX_VALUES 16 /* values of one swept key */
#define MPL_SC_MAX_EVENTS 16
#define MPL_SC_MAX_POINTS 256
#define MPL_SC_VALUE_LEN  64
#define MPL_SC_NAME_LEN   48

typedef enum mpl_proto {
    MPL_PROTO_TCP = 0, /* single-path reference, once per link */
    MPL_PROTO_TLS,
    MPL_PROTO_MPTCP,
    MPL_PROTO_MPTLS, /* TLS 1.3 over an MPTCP socket (get/serve --proto mptls) */
    MPL_PROTO_TCPLS,
    MPL_PROTO_COUNT,
} mpl_proto_t;

const char *mpl_proto_name(mpl_proto_t p);
int mpl_proto_parse(const char *s, mpl_proto_t *p);
int mpl_proto_multipath(mpl_proto_t p);

/* The sweepable parameters, in expansion order (the first varies slowest). */
typedef enum mpl_sc_param {
    MPL_SC_LINKS = 0,      /* number of links (generated topology), 1..8 */
    MPL_SC_RATE,           /* total rate split by 'split', or per link "a/b/..." */
    MPL_SC_SPLIT,          /* shares of the total rate in percent "30/70" */
    MPL_SC_DELAY,          /* one-way delay, all links or per link "5ms/25ms" */
    MPL_SC_LOSS,           /* loss in percent, all links or per link */
    MPL_SC_BACKUP,         /* "none" or link names marked MPTCP backup "l2" or "l2/l3" */
    MPL_SC_FAIL,           /* "none", or the failure applied to fail_link at fail_at: down|blackhole */
    MPL_SC_CC,             /* congestion control: cubic, bbr, reno, ... */
    MPL_SC_SIZE,           /* transfer size: 100M, 1G */
    MPL_SC_DIRECTION,      /* download (GET /bytes/N) or upload (POST /upload of N bytes) */
    MPL_SC_STREAMS,        /* objects fetched at once: the size is split into N objects, 1..64 */
    MPL_SC_STREAMS_POLICY, /* tcpls: spread (any stream on any connection) or pin */
    MPL_SC_STREAMS_MODE,   /* tcp, tls, mptcp: parallel (a connection per object) or pipeline */
    MPL_SC_MIGRATE_MODE,   /* with migrate_at: mbb (target joined from the start) or bbm */
    MPL_SC_NPARAMS,
} mpl_sc_param_t;

const char *mpl_sc_param_name(mpl_sc_param_t p);

/* Link-model keys of [topology] (docs/TESTBED.md, "Link models"): written as they are into
 * every generated [link] (one value, or per link "a/b"); each sweepable. They vary fastest in
 * the expansion, after the parameters above. */
#define MPL_SC_NMODEL 12 /* the last one, "trace", names trace files (docs/EXPERIMENTS.md) */
/* Name of model key i (0 <= i < MPL_SC_NMODEL), e.g. "jitter". */
const char *mpl_sc_model_name(int i);

typedef struct mpl_sc_values {
    int n; /* number of values (1 = not swept) */
    char v[MPL_SC_MAX_VALUES][MPL_SC_VALUE_LEN];
    int given; /* set in the file (else the default) */
} mpl_sc_values_t;

/* A fixed timed event: at_ns after the start of each transfer, 'mplab link set LINK ACTION'. */
typedef struct mpl_sc_event {
    uint64_t at_ns;
    char link[16];
    char action[MPL_SC_VALUE_LEN]; /* "down", "rate 10mbit dir a2b", ... */
} mpl_sc_event_t;

typedef struct mpl_scenario {
    char name[MPL_SC_NAME_LEN];
    char title[160];
    char path[512];
    mpl_proto_t protos[MPL_PROTO_COUNT];
    int n_protos;
    int repeat;
    double interval_s;    /* get --interval */
    uint64_t timeout_ns;  /* per transfer: the longest silence (get --timeout) */
    uint64_t deadline_ns; /* the whole run's limit; 0 = auto (mpl_sc_deadline_s) */
    uint64_t fail_at_ns;
    char fail_link[16];
    uint64_t migrate_at_ns; /* > 0: migrate to migrate_to at this time after the start */
    char migrate_to[16];
    int migrate_to_line;                     /* where migrate_to was given (messages) */
    char client_endpoints[MPL_SC_VALUE_LEN]; /* generated topology: host endpoint flags */
    char server_endpoints[MPL_SC_VALUE_LEN];
    char backend[16];        /* auto | forwarder | netem */
    int rate_per_link;       /* rate_mode = per_link: one rate value is each link's rate */
    char topology_file[512]; /* external topology (then no topology sweeps) */
    char client_host[16], server_host[16];
    mpl_sc_values_t params[MPL_SC_NPARAMS];
    mpl_sc_values_t model[MPL_SC_NMODEL]; /* n = 0: not given */
    mpl_sc_event_t events[MPL_SC_MAX_EVENTS];
    int n_events;
    /* workload = requests: 'get --requests' of /bytes/SIZE instead of one bulk transfer */
    int workload_requests;
    int requests_line;    /* line of 'requests' or 'concurrency' (for the cross-check), 0 */
    uint64_t requests;    /* requests per run (default 1000) */
    uint32_t concurrency; /* in flight (default 10) */
    double req_rate;      /* 'rate' in [scenario]: requests/s (open loop), 0 = closed loop */
    int monitor_hz;       /* mplab monitor --hz of every run (default 20; second_path_s resolution) */
} mpl_scenario_t;

/* One point of the sweep: a value for every parameter, resolved per link. */
typedef struct mpl_sc_point {
    int index;                     /* 0-based */
    int value_idx[MPL_SC_NPARAMS]; /* index into params[p].v */
    char label[256];               /* "split=30/70 cc=cubic" (swept keys only; "base" if none) */
    int links;
    uint64_t rate_bps[MPL_SC_MAX_LINKS]; /* 0 = unlimited */
    double share_pct[MPL_SC_MAX_LINKS];
    uint64_t delay_ns[MPL_SC_MAX_LINKS];
    double loss_pct[MPL_SC_MAX_LINKS];
    int backup[MPL_SC_MAX_LINKS];
    char fail[16]; /* "none", "down", "blackhole" */
    char cc[32];
    uint64_t size;
    char direction[12]; /* "download" or "upload" */
    int streams;        /* objects fetched at once (each size / streams bytes) */
    char streams_policy[8];
    char streams_mode[12];                                         /* "parallel" or "pipeline" */
    char migrate_mode[4];                                          /* "mbb" or "bbm" */
    int model_idx[MPL_SC_NMODEL];                                  /* index into model[k].v */
    char model[MPL_SC_NMODEL][MPL_SC_MAX_LINKS][MPL_SC_VALUE_LEN]; /* per link; "" = not given */
} mpl_sc_point_t;

/* Parses a scenario from text. fname is used in messages and as default name (its stem).
 * Returns 0, or -1 with "FNAME:LINE: problem" in err. */
int mpl_sc_parse(const char *text, size_t len, const char *fname, mpl_scenario_t *sc, char *err,
                 size_t errlen);
int mpl_sc_load(const char *path, mpl_scenario_t *sc, char *err, size_t errlen);

/* Number of points (product of the value counts). */
int mpl_sc_npoints(const mpl_scenario_t *sc);
/* Resolves point i (0 <= i < npoints). Returns 0, or -1 with the problem in err (e.g. a split
 * with 3 shares for 2 links). */
int mpl_sc_point(const mpl_scenario_t *sc, int i, mpl_sc_point_t *pt, char *err, size_t errlen);
/* 1 when parameter p takes several values. */
int mpl_sc_swept(const mpl_scenario_t *sc, mpl_sc_param_t p);

/* Writes the topology file of a generated point (docs/TESTBED.md format) into buf.
 * Returns the length, or -1 when buf is too small. */
int mpl_sc_topology(const mpl_scenario_t *sc, const mpl_sc_point_t *pt, const char *topo_name, char *buf,
                    size_t len);

/* The run's deadline in seconds (docs/EXPERIMENTS.md, "Run limits"). An explicit
 * sc->deadline_ns wins; else 15 s (process starts, handshakes) + the silence timeout (one
 * stall, e.g. a failure) + 2 x the time size bytes take at the slowest path's expected TCP
 * rate: its rate slowest_bps (0 = unlimited, counted as 1 Gbit/s), lowered to the Mathis et al.
 * estimate 1.22 x 1448 B / (RTT x sqrt(p)) when it loses packets (p = loss_pct / 100, RTT at
 * least 1 ms). */
double mpl_sc_deadline_s(const mpl_scenario_t *sc, uint64_t size, double slowest_bps, double rtt_s,
                         double loss_pct);

#endif
