/*
 * tcp_metrics.c — see tcp_metrics.h.
 */
#include "netinfo/tcp_metrics.h"

#include <netinet/in.h>
#include <linux/tcp.h>
#include <string.h>
#include <sys/socket.h>

int
mpl_tcp_metrics(int fd, mpl_tcp_metrics_t *m)
{
    struct tcp_info ti;
    socklen_t sl = sizeof(ti);

    memset(m, 0, sizeof(*m));
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl) != 0)
        return -1;
    m->srtt_us = ti.tcpi_rtt;
    m->cwnd = ti.tcpi_snd_cwnd;
    m->mss = ti.tcpi_snd_mss;
    m->delivery_bps = ti.tcpi_delivery_rate * 8;
    m->notsent_bytes = ti.tcpi_notsent_bytes;
    m->retrans = ti.tcpi_total_retrans;
    m->rto_us = ti.tcpi_rto >> (ti.tcpi_backoff < 16 ? ti.tcpi_backoff : 16);
    m->last_ack_ms = ti.tcpi_last_ack_recv;
    return 0;
}

int
mpl_tcp_multipath_opts(int fd, int lowat, unsigned user_timeout_ms)
{
    int r = 0;
    if (lowat > 0 && setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat)) != 0)
        r = -1;
    if (user_timeout_ms > 0 &&
        setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms)) != 0)
        r = -1;
    return r;
}
