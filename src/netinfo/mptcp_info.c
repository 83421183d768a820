/*
 * mptcp_info.c — see mptcp_info.h.
 */
#include "netinfo/mptcp_info.h"

#include "common/util.h"

#include <netinet/in.h>
#include <stddef.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef TCP_IS_MPTCP
#define TCP_IS_MPTCP 43
#endif
#define MPL_MPTCP_INFO          1
#define MPL_MPTCP_TCPINFO       2
#define MPL_MPTCP_SUBFLOW_ADDRS 3

/* Kernel ABI (include/uapi/linux/mptcp.h) struct mptcp_info, with the fields added up to
 * Linux 6.10; older kernels return a shorter structure (the returned length tells). */
struct mpl_mptcp_info {
    uint8_t subflows, add_addr_signal, add_addr_accepted, subflows_max, add_addr_signal_max,
        add_addr_accepted_max;
    uint32_t flags, token;
    uint64_t write_seq, snd_una, rcv_nxt;
    uint8_t local_addr_used, local_addr_max, csum_enabled;
    uint32_t retransmits;                                            /* 6.5 */
    uint64_t bytes_retrans, bytes_sent, bytes_received, bytes_acked; /* 6.5 */
    uint8_t subflows_total;                                          /* 6.6 */
    uint8_t reserved[3];
    uint32_t last_data_sent, last_data_recv, last_ack_recv; /* 6.10 */
};

/* Kernel ABI: the header before the per-subflow array. */
struct mpl_mptcp_subflow_data {
    uint32_t size_subflow_data;
    uint32_t num_subflows;
    uint32_t size_kernel;
    uint32_t size_user;
} __attribute__((aligned(8)));

struct mpl_mptcp_subflow_addrs {
    union {
        sa_family_t sa_family;
        struct sockaddr sa_local;
        struct sockaddr_in sin_local;
        struct sockaddr_in6 sin6_local;
        struct sockaddr_storage ss_local;
    };
    union {
        struct sockaddr sa_remote;
        struct sockaddr_in sin_remote;
        struct sockaddr_in6 sin6_remote;
        struct sockaddr_storage ss_remote;
    };
};

/* struct tcp_info up to tcpi_bytes_received (Linux >= 4.19 layout); glibc's struct tcp_info
 * stops earlier, so the fields used here are read by offset from the kernel's layout. */
struct mpl_tcp_info {
    uint8_t state, ca_state, retransmits, probes, backoff, options, wscale, flags;
    uint32_t rto, ato, snd_mss, rcv_mss;
    uint32_t unacked, sacked, lost, retrans, fackets;
    uint32_t last_data_sent, last_ack_sent, last_data_recv, last_ack_recv;
    uint32_t pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering;
    uint32_t rcv_rtt, rcv_space;
    uint32_t total_retrans;
    uint64_t pacing_rate, max_pacing_rate;
    uint64_t bytes_acked, bytes_received;
    uint32_t segs_out, segs_in;
    uint32_t notsent_bytes, min_rtt;
    uint32_t data_segs_in, data_segs_out;
    uint64_t delivery_rate;
    uint64_t busy_time, rwnd_limited, sndbuf_limited;
    uint32_t delivered, delivered_ce;
    uint64_t bytes_sent, bytes_retrans;
    uint32_t dsack_dups, reord_seen;
    uint32_t rcv_ooopack, snd_wnd;
};

int
mpl_mptcp_query(int fd, mpl_mptcp_state_t *st)
{
    int v = 0;
    socklen_t l = sizeof(v);
    memset(st, 0, sizeof(*st));
    st->is_mptcp = -1;
    if (getsockopt(fd, IPPROTO_TCP, TCP_IS_MPTCP, &v, &l) != 0)
        return -1;
    st->is_mptcp = v ? 1 : 0;

    union {
        struct mpl_mptcp_subflow_data d;
        uint8_t raw[sizeof(struct mpl_mptcp_subflow_data) +
                    MPL_MAX_SUBFLOWS * sizeof(struct mpl_mptcp_subflow_addrs)];
    } a;
    union {
        struct mpl_mptcp_subflow_data d;
        uint8_t raw[sizeof(struct mpl_mptcp_subflow_data) + MPL_MAX_SUBFLOWS * sizeof(struct mpl_tcp_info)];
    } t;
    const size_t hdr = sizeof(struct mpl_mptcp_subflow_data);

    if (st->is_mptcp) {
        struct mpl_mptcp_info mi;
        memset(&mi, 0, sizeof(mi));
        l = sizeof(mi);
        if (getsockopt(fd, SOL_MPTCP, MPL_MPTCP_INFO, &mi, &l) == 0 &&
            l >= offsetof(struct mpl_mptcp_info, retransmits)) {
            mpl_mptcp_conn_info_t *ci = &st->info;
            ci->have = 1;
            ci->subflows = mi.subflows;
            ci->add_addr_signal = mi.add_addr_signal;
            ci->add_addr_accepted = mi.add_addr_accepted;
            ci->local_addr_used = mi.local_addr_used;
            if (l >= offsetof(struct mpl_mptcp_info, bytes_acked) + sizeof(mi.bytes_acked)) {
                ci->have_bytes = 1;
                ci->bytes_sent = mi.bytes_sent;
                ci->bytes_received = mi.bytes_received;
                ci->bytes_retrans = mi.bytes_retrans;
            }
            if (l >= offsetof(struct mpl_mptcp_info, subflows_total) + 1) {
                ci->have_subflows_total = 1;
                ci->subflows_total = mi.subflows_total;
            }
        }
        memset(&a, 0, sizeof(a));
        a.d.size_subflow_data = (uint32_t)hdr;
        a.d.size_user = sizeof(struct mpl_mptcp_subflow_addrs);
        l = sizeof(a);
        int have_addrs = getsockopt(fd, SOL_MPTCP, MPL_MPTCP_SUBFLOW_ADDRS, &a, &l) == 0;
        memset(&t, 0, sizeof(t));
        t.d.size_subflow_data = (uint32_t)hdr;
        t.d.size_user = sizeof(struct mpl_tcp_info);
        l = sizeof(t);
        int have_info = getsockopt(fd, SOL_MPTCP, MPL_MPTCP_TCPINFO, &t, &l) == 0;
        if (have_addrs || have_info) {
            uint32_t n = have_addrs ? a.d.num_subflows : t.d.num_subflows;
            if (n > MPL_MAX_SUBFLOWS)
                n = MPL_MAX_SUBFLOWS;
            for (uint32_t i = 0; i < n; i++) {
                mpl_subflow_t *sf = &st->subflows[i];
                if (have_addrs && i < a.d.num_subflows) {
                    struct mpl_mptcp_subflow_addrs sa;
                    memcpy(&sa, a.raw + hdr + i * a.d.size_user, sizeof(sa));
                    mpl_fmt_addr(&sa.sa_local, 1, sf->local, sizeof(sf->local));
                    mpl_fmt_addr(&sa.sa_remote, 1, sf->remote, sizeof(sf->remote));
                }
                if (have_info && i < t.d.num_subflows) {
                    struct mpl_tcp_info ti;
                    memset(&ti, 0, sizeof(ti));
                    size_t sz = t.d.size_user < sizeof(ti) ? t.d.size_user : sizeof(ti);
                    memcpy(&ti, t.raw + hdr + i * t.d.size_user, sz);
                    sf->bytes_sent = ti.bytes_sent;
                    sf->bytes_received = ti.bytes_received;
                    sf->bytes_acked = ti.bytes_acked;
                }
            }
            st->n_subflows = (int)n;
            return 0;
        }
    }
    /* Fallback (plain TCP) or old kernel: the socket itself is the one "subflow". */
    struct sockaddr_storage ls, rs;
    socklen_t ll = sizeof(ls), rl = sizeof(rs);
    mpl_subflow_t *sf = &st->subflows[0];
    if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0)
        mpl_fmt_addr((struct sockaddr *)&ls, 1, sf->local, sizeof(sf->local));
    if (getpeername(fd, (struct sockaddr *)&rs, &rl) == 0)
        mpl_fmt_addr((struct sockaddr *)&rs, 1, sf->remote, sizeof(sf->remote));
    struct mpl_tcp_info ti;
    memset(&ti, 0, sizeof(ti));
    l = sizeof(ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0) {
        sf->bytes_sent = ti.bytes_sent;
        sf->bytes_received = ti.bytes_received;
        sf->bytes_acked = ti.bytes_acked;
    }
    st->n_subflows = 1;
    return 0;
}
