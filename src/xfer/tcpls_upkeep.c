/*
 * tcpls_upkeep.c — see tcpls_upkeep.h.
 */
#include "xfer/tcpls_upkeep.h"

#include "common/util.h"

#define ROUND_NS        20000000ull /* metrics round */
#define MIN_STALL_S     0.3
#define MAX_DRAIN_S     2.0
#define STALL_RTTS      4.0
#define STALL_RTOS      3.0 /* a tail loss whose retransmission is lost too is no blackhole */
#define ACK_SILENCE_S   0.3 /* kernel ACKs more recent than this: the path is alive */
#define USER_TIMEOUT_MS 3000

int
mpl_upkeep_due(mpl_upkeep_t *u, uint64_t now, int multipath)
{
    if (!multipath || now - u->round_ns < ROUND_NS)
        return 0;
    u->round_ns = now;
    return 1;
}

double
mpl_upkeep_stall_limit(const mpl_upkeep_t *u, const mpl_tcp_metrics_t *m)
{
    if (u->blackhole_s > 0)
        return u->blackhole_s;
    double th = 0, drain = 0;
    if (m != NULL) {
        th = STALL_RTTS * m->srtt_us / 1e6;
        if (th < STALL_RTOS * m->rto_us / 1e6)
            th = STALL_RTOS * m->rto_us / 1e6;
        /* a slow path's queue takes time to drain before any acknowledgment can come */
        if (m->delivery_bps > 0)
            drain = ((double)m->notsent_bytes + (double)m->cwnd * m->mss) * 8 / (double)m->delivery_bps;
    }
    if (th < MIN_STALL_S)
        th = MIN_STALL_S;
    return th + (drain < MAX_DRAIN_S ? drain : MAX_DRAIN_S);
}

static const char *
sep(const mpl_upkeep_t *u)
{
    return u->who != NULL && *u->who ? ": " : "";
}

int
mpl_upkeep_conn(const mpl_upkeep_t *u, tcpls_session_t *s, uint32_t id, int fd, const char *label,
                uint64_t now)
{
    mpl_tcp_metrics_t m;
    int have = mpl_tcp_metrics(fd, &m) == 0;

    if (have)
        tcpls_conn_set_metrics(s, id, m.srtt_us, m.notsent_bytes, m.delivery_bps);
    double th = mpl_upkeep_stall_limit(u, have ? &m : NULL);
    uint64_t since = tcpls_conn_stalled_since(s, id);
    if (since == 0 || now <= since || (double)(now - since) / 1e9 <= th || tcpls_conn_live_count(s) < 2)
        return 0;
    /* records wait for their acknowledgment, but TCP still hears from the peer: a lossy or
     * queued path (or a peer that does not read), not a dead one */
    if (have && m.last_ack_ms < ACK_SILENCE_S * 1000)
        return 0;
    if (!u->quiet)
        mpl_info("%s%sconnection %u (%s): no acknowledgment for %.2f s, failing over", u->who ? u->who : "",
                 sep(u), id, label, (double)(now - since) / 1e9);
    tcpls_conn_failed(s, id, TCPLS_ERR_CONN_FAILED);
    return 1;
}

int
mpl_upkeep_link(const mpl_upkeep_t *u, const mpl_ifstate_t *st, tcpls_session_t *s, uint32_t id, int fd,
                const char *label)
{
    char ifn[32];
    if (tcpls_conn_live_count(s) < 2 || mpl_ifstate_sock_usable(st, fd, ifn, sizeof(ifn)))
        return 0;
    if (!u->quiet)
        mpl_info("%s%sconnection %u (%s): interface %s is down, failing over", u->who ? u->who : "", sep(u),
                 id, label, ifn);
    tcpls_conn_failed(s, id, TCPLS_ERR_CONN_FAILED);
    return 1;
}

unsigned
mpl_upkeep_user_timeout_ms(const mpl_upkeep_t *u)
{
    return u->blackhole_s > 0 ? (unsigned)(u->blackhole_s * 2000) : USER_TIMEOUT_MS;
}
