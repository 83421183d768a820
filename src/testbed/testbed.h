/*
 * testbed.h — building, running and removing topologies (docs/TESTBED.md).
 *
 *   names/state (state.c)    MPLAB_PREFIX / MPLAB_RUNDIR, namespace names, running topologies
 *   netns.c                  entering namespaces, running ip/tc/ethtool, sysctls
 *   plan.c                   the topology as a list of steps: executed by 'up', printed by
 *                            'commands'
 *   forwarder.c              the user-space link emulator (delay, loss, blackhole)
 *   mptcp_pm.c               MPTCP endpoints and limits over generic netlink (libmnl)
 *   linkctl.c                run-time link changes and the [events] scheduler
 */
#ifndef MPLAB_TESTBED_H
#define MPLAB_TESTBED_H

#include "testbed/topology.h"

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- names and state ------------------------------------------------------------------ */

/* MPLAB_PREFIX (default "mpl"; letters and digits, at most 12). Exits with a message on an
 * invalid value. */
const char *mpl_tb_prefix(void);
/* MPLAB_RUNDIR (default /run/mplab). */
const char *mpl_tb_rundir(void);
/* "PREFIX-TOPO-HOST" */
void mpl_tb_host_ns(const mpl_topology_t *t, int host, char *buf, size_t len);
/* "PREFIX-TOPO-_LINK" */
void mpl_tb_link_ns(const mpl_topology_t *t, int link, char *buf, size_t len);
/* "RUNDIR/PREFIX-TOPO" (+ "/" + file when file is not NULL) */
void mpl_tb_state_path(const char *topo, const char *file, char *buf, size_t len);

/* Names of the running topologies of the current prefix (state directories), sorted.
 * Returns the count (at most max), or -1. */
int mpl_tb_list(char names[][MPL_TB_TOPO_MAX + 1], int max);
/* Loads a running topology's description. name NULL: the only running one (error when
 * none or several). Returns 0 or -1 (message printed). */
int mpl_tb_load_running(const char *name, mpl_topology_t *t);

/* 1 when the forwarder of link (of running topology t) is alive. */
int mpl_tb_forwarder_alive(const mpl_topology_t *t, int link);

/* Removes topology NAME of the current prefix: processes, namespaces, state. Quiet when
 * nothing is there. Returns 0, or -1 when something could not be removed. */
int mpl_tb_down(const char *name);
/* Removes everything of the current prefix. Returns 0 or -1. */
int mpl_tb_down_all(void);

/* ---- namespaces and commands ------------------------------------------------------------ */

/* Enters namespace NAME (/run/netns/NAME); NULL enters the namespace mplab started in.
 * Returns 0 or -1 (errno). */
int mpl_tb_netns_enter(const char *name);
/* 1 when /run/netns/NAME exists. */
int mpl_tb_netns_exists(const char *name);
/* Runs a command line (split at blanks, no quoting) in the current namespace; its stderr
 * goes to errbuf (first line). Returns the exit status, or -1 when it could not run. */
int mpl_tb_run(const char *cmdline, char *errbuf, size_t errlen);
/* Writes VALUE to /proc/sys/KEY (KEY with dots) in the current namespace. Returns 0 or -1. */
int mpl_tb_sysctl(const char *key, const char *value);
/* Pids of processes whose network namespace is /run/netns/NAME. Returns count or -1. */
int mpl_tb_netns_pids(const char *name, pid_t *pids, int max);

/* ---- plan ----------------------------------------------------------------------------- */

/* Builds topology t: namespaces, veths, addresses, routes, qdiscs, forwarders, MPTCP, the
 * [events] scheduler. On failure (or SIGINT/SIGTERM) removes what it built. Returns 0/-1. */
int mpl_tb_up(mpl_topology_t *t, const char *src_path, int verbose);
/* Prints the per-host ip/tc/sysctl commands that reproduce t on real machines. */
void mpl_tb_print_commands(const mpl_topology_t *t, FILE *f);
/* Interface name of host h on link l inside the host ("l1"). */
const char *mpl_tb_ifname(const mpl_topology_t *t, int link);
/* tc arguments for the rate/queue of one direction on device dev (no "tc qdisc add"): fills
 * buf with "dev DEV root handle 1: tbf rate ... burst ... limit ...". Returns buf. */
const char *mpl_tb_tbf_args(const mpl_tb_dir_t *d, const char *dev, char *buf, size_t len);

/* netem arguments of one direction (after "netem"): its delay, jitter, loss, reorder,
 * duplicate, corrupt, rate (unless jitter_reorder) and limit. Returns buf. */
const char *mpl_tb_netem_args(const mpl_tb_dir_t *d, char *buf, size_t len);

/* ---- live link state (shared with the forwarder through a mapped file) ------------------ */

#define MPL_TB_SHARED_MAGIC 0x6d706c32u

typedef struct mpl_tb_shared {
    uint32_t magic;
    uint32_t down;         /* link switched down */
    uint32_t blackhole[2]; /* per direction */
    uint64_t delay_ns[2];
    uint64_t loss_ppb[2];    /* loss probability in parts per 10^9 */
    uint64_t rate_bps[2];    /* as configured (informational: tbf does the work) */
    uint64_t queue_bytes[2]; /* as configured */
    double loss_pct[2];      /* as configured */
    /* counters of the forwarder, per direction */
    uint64_t pkts[2], bytes[2], drop_loss[2], drop_blackhole[2], drop_full[2], drop_send[2];
    uint64_t drop_rcvbuf[2]; /* frames the forwarder's socket could not take (it fell behind) */
    /* link models (jitter, loss correlation / Gilbert-Elliott, reorder, duplicate, corrupt):
     * the writer changes model[d] and then increments model_gen[d]; the forwarder copies it
     * when model_gen changes (delay_ns and loss_pct above override model's own) */
    mpl_lm_params_t model[2];
    uint32_t model_gen[2];
    uint64_t duplicated[2], corrupted[2], reordered[2];
    char trace[2][200];    /* trace-driven direction: the trace file ("" = none; read at start) */
    uint64_t trace_bps[2]; /* its mean rate */
} mpl_tb_shared_t;

/* Maps (creating when create) RUNDIR/PREFIX-TOPO/LINK.link. Returns NULL on failure. */
mpl_tb_shared_t *mpl_tb_shared_map(const mpl_topology_t *t, int link, int create);
void mpl_tb_shared_unmap(mpl_tb_shared_t *s);

/* ---- forwarder -------------------------------------------------------------------------- */

/* Runs the forwarder of one link in the current (link) namespace between interfaces "a" and
 * "b" until SIGTERM. ready_fd (or -1) gets one byte once the sockets are bound. Never returns
 * on success; returns -1 when setup fails. */
int mpl_tb_forwarder_run(mpl_tb_shared_t *sh, int ready_fd);

/* ---- MPTCP path manager ----------------------------------------------------------------- */

typedef struct mpl_tb_endpoint {
    int family;        /* AF_INET (addr) or AF_INET6 (addr6) */
    uint8_t addr6[16]; /* IPv6 */
    uint32_t addr;     /* IPv4, host byte order */
    int ifindex;
    int flags; /* MPL_TB_EP_* */
    int id;
} mpl_tb_endpoint_t;

/* In the current namespace: flush all endpoints, set the limits, add the endpoints.
 * Returns 0, or -1 with a message in err. */
int mpl_tb_mptcp_configure(int subflows, int add_addr_accepted, const mpl_tb_endpoint_t *eps, int n,
                           char *err, size_t errlen);
/* Reads the endpoints of the current namespace. Returns count or -1. */
int mpl_tb_mptcp_dump(mpl_tb_endpoint_t *eps, int max, char *err, size_t errlen);

/* ---- run-time changes --------------------------------------------------------------------- */

/* Applies a change to running topology t. Returns 0 or -1 (err). */
int mpl_tb_link_apply(const mpl_topology_t *t, const mpl_tb_change_t *c, char *err, size_t errlen);
/* Runs the [events] schedule of t (times relative to now); returns when done. */
void mpl_tb_events_run(const mpl_topology_t *t);

#endif
