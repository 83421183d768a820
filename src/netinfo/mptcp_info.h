/*
 * mptcp_info.h — what the kernel says about an MPTCP socket: is it really MPTCP (or did it
 * fall back to TCP), and its subflows with addresses and byte counters. Uses TCP_IS_MPTCP,
 * and MPTCP_INFO / MPTCP_TCPINFO / MPTCP_SUBFLOW_ADDRS at SOL_MPTCP (284); the structures
 * are defined here because Debian 12's headers lack some of them.
 */
#ifndef MPLAB_MPTCP_INFO_H
#define MPLAB_MPTCP_INFO_H

#include <stddef.h>
#include <stdint.h>

#define MPL_MAX_SUBFLOWS 16

typedef struct mpl_subflow {
    char local[80]; /* "ADDR:PORT" */
    char remote[80];
    uint64_t bytes_sent;     /* tcpi_bytes_sent (includes retransmissions) */
    uint64_t bytes_received; /* tcpi_bytes_received */
    uint64_t bytes_acked;
} mpl_subflow_t;

/* Connection-level counters from MPTCP_INFO (fields the running kernel does not report stay
 * at 0 and their have_ flag at 0). */
typedef struct mpl_mptcp_conn_info {
    int have;          /* MPTCP_INFO answered */
    unsigned subflows; /* extra subflows now (not counting the initial one) */
    unsigned add_addr_signal, add_addr_accepted, local_addr_used;
    int have_bytes; /* Linux >= 6.5 */
    uint64_t bytes_sent, bytes_received, bytes_retrans;
    int have_subflows_total; /* Linux >= 6.6 */
    unsigned subflows_total; /* subflows ever created, the initial one included */
} mpl_mptcp_conn_info_t;

typedef struct mpl_mptcp_state {
    int is_mptcp; /* 1 MPTCP, 0 fell back to TCP, -1 unknown */
    mpl_mptcp_conn_info_t info;
    int n_subflows;
    mpl_subflow_t subflows[MPL_MAX_SUBFLOWS];
} mpl_mptcp_state_t;

/* Fills st from fd (an IPPROTO_MPTCP socket, still open). Returns 0, or -1 when even
 * TCP_IS_MPTCP failed. With fallback, subflows holds the one TCP connection. */
int mpl_mptcp_query(int fd, mpl_mptcp_state_t *st);

#endif
