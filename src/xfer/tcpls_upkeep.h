/*
 * tcpls_upkeep.h — the multipath upkeep that the TCPLS client (get_tcpls.c) and server
 * (serve_tcpls.c) share: every 20 ms, each connection's tcp_info goes to the scheduler
 * (tcpls_conn_set_metrics) and a connection without acknowledgment progress for longer than
 * the stall limit fails over to the others; an interface that goes down (linkwatch) fails the
 * connections on it at once. A session's last live connection is never failed by this policy
 * (TCP may well survive a short carrier loss).
 *
 * The stall limit: --blackhole-timeout when given, else adaptive: max(0.3 s, 4 x srtt, 3 x
 * the path's RTO without backoff) plus the time the connection's queue (unsent bytes + a
 * congestion window) takes to drain at its delivery rate, at most 2 s more. Past it, the
 * connection fails over only when the kernel has also received no ACK for 0.3 s (tcp_info
 * last_ack_recv): a lossy path that is retransmitting is alive.
 */
#ifndef MPLAB_TCPLS_UPKEEP_H
#define MPLAB_TCPLS_UPKEEP_H

#include <stdint.h>

#include "netinfo/linkwatch.h"
#include "netinfo/tcp_metrics.h"
#include "tcpls.h"

typedef struct mpl_upkeep {
    double blackhole_s; /* fixed stall limit, 0: adaptive */
    int quiet;          /* no log line when failing a connection over */
    const char *who;    /* prefix of log lines ("" or the session's peer) */
    uint64_t round_ns;  /* last metrics round */
} mpl_upkeep_t;

/* 1 when a metrics round is due at now (every 20 ms) and multipath is set: the caller then
 * calls mpl_upkeep_conn for each of its connections. */
int mpl_upkeep_due(mpl_upkeep_t *u, uint64_t now, int multipath);

/* The stall limit in seconds for a connection with these metrics (NULL: unknown). */
double mpl_upkeep_stall_limit(const mpl_upkeep_t *u, const mpl_tcp_metrics_t *m);

/* One connection of a round: feeds its tcp_info (fd) to the scheduler and fails it when it
 * stalled longer than the stall limit while another connection lives. label names it in the
 * log (its address). Returns 1 when it failed the connection, else 0. */
int mpl_upkeep_conn(const mpl_upkeep_t *u, tcpls_session_t *s, uint32_t id, int fd, const char *label,
                    uint64_t now);

/* Interfaces changed (st from mpl_ifstate_get): fails the connection when its local address
 * is on an interface that is down while another connection lives. Returns 1 when it failed it. */
int mpl_upkeep_link(const mpl_upkeep_t *u, const mpl_ifstate_t *st, tcpls_session_t *s, uint32_t id, int fd,
                    const char *label);

/* TCP_USER_TIMEOUT for multipath connections in ms: twice a fixed stall limit, else 3 s. */
unsigned mpl_upkeep_user_timeout_ms(const mpl_upkeep_t *u);

#endif
