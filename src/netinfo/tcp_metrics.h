/*
 * tcp_metrics.h — what the kernel says about one TCP connection (tcp_info), and the socket
 * options the TCPLS multipath code sets on its connections (short send queues, user timeout).
 */
#ifndef MPLAB_TCP_METRICS_H
#define MPLAB_TCP_METRICS_H

#include <stdint.h>

typedef struct mpl_tcp_metrics {
    uint32_t srtt_us;       /* smoothed RTT */
    uint32_t cwnd;          /* congestion window, segments */
    uint32_t mss;           /* send MSS */
    uint64_t delivery_bps;  /* kernel's delivery-rate estimate, bits per second */
    uint32_t notsent_bytes; /* queued but never sent */
    uint32_t retrans;       /* total retransmitted segments */
    uint32_t rto_us;        /* retransmission timeout without its backoff (the path's own) */
    uint32_t last_ack_ms;   /* since the kernel last received an ACK */
} mpl_tcp_metrics_t;

/* Fills *m from TCP_INFO. Returns 0 or -1. */
int mpl_tcp_metrics(int fd, mpl_tcp_metrics_t *m);
/* Multipath socket options: TCP_NOTSENT_LOWAT = lowat bytes (0: leave) and TCP_USER_TIMEOUT =
 * user_timeout_ms (0: leave). Returns 0 or -1. */
int mpl_tcp_multipath_opts(int fd, int lowat, unsigned user_timeout_ms);

#endif
