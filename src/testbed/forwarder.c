/*
 * forwarder.c — the user-space link emulator: delay, loss and blackhole between the two veth
 * ends "a" and "b" of a link namespace.
 *
 * Each direction is a FIFO "delay line": a frame read from one end is stamped with its
 * release time (now + delay) and written to the other end when that time comes; the tbf
 * qdisc on that end then applies the rate and the queue. The packet sockets keep small
 * receive buffers: a large one would be a queue nobody configured.
 */
#include "testbed/testbed.h"
#include "common/util.h"
#include "testbed/trace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define FRAME_MAX 1536 /* MTU 1500 + Ethernet header (offloads are off: no larger frames) */
/* receive buffer: the slack for bursts that arrive while the forwarder is not running or
 * faster than the link (see mpl_tb_forwarder_run); the kernel counts ~2-4 KiB per frame. */
#define RCVBUF_MIN (256 * 1024)
#define RCVBUF_MAX (64 * 1024 * 1024)
#define SNDBUF     (4 * 1024 * 1024)
#define BATCH      64
#define IDLE_CHECK 100000000ull /* wake up at least every 100 ms */
#define MAX_EARLY  300000ull    /* never wake up more than 300 us before a release time */

typedef struct slot {
    uint64_t release_ns;
    uint32_t len;
    uint8_t data[FRAME_MAX];
} slot_t;

/* Frames waiting for their release time: a pool of slots and a ring of slot indices in
 * release order (frames that jitter lets overtake are inserted in place; the others only
 * ever append). */
typedef struct line {
    slot_t *slots;
    uint32_t *order; /* ring of slot indices */
    uint32_t *free;  /* stack of free slot indices */
    uint32_t cap, head, count, nfree;
    uint64_t bytes; /* of the frames held */
} line_t;

static slot_t *
line_head(const line_t *l)
{
    return &l->slots[l->order[l->head]];
}

/* Puts slot idx (already filled with its frame) in the ring: appended, or inserted by
 * release time when sorted. */
static void
line_insert(line_t *l, uint32_t idx, uint32_t len, uint64_t release, int sorted)
{
    slot_t *s = &l->slots[idx];
    s->len = len;
    s->release_ns = release;
    l->bytes += len;
    uint32_t pos = l->count++;
    if (sorted)
        while (pos > 0) {
            uint32_t prev = l->order[(l->head + pos - 1) % l->cap];
            if (l->slots[prev].release_ns <= release)
                break;
            l->order[(l->head + pos) % l->cap] = prev;
            pos--;
        }
    l->order[(l->head + pos) % l->cap] = idx;
}

/* Copies a frame into a free slot and puts it in the ring. Returns 0, -1 when full. */
static int
line_put(line_t *l, const uint8_t *data, uint32_t len, uint64_t release, int sorted)
{
    if (l->nfree == 0)
        return -1;
    uint32_t idx = l->free[--l->nfree];
    memcpy(l->slots[idx].data, data, len);
    line_insert(l, idx, len, release, sorted);
    return 0;
}

#define NO_SLOT UINT32_MAX

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static __thread uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: uniform in [0, 1e9) */
static uint64_t
rand_ppb(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return ((rng_state * 2685821657736338717ull) >> 11) % 1000000000ull;
}

static int
open_end(const char *ifname, int rcv)
{
    int ifindex = (int)if_nametoindex(ifname);
    if (ifindex == 0)
        return -1;
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
    if (fd < 0)
        return -1;
    int one = 1, snd = SNDBUF;
    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
    /* arrival times from the kernel: the delay counts from there, not from our wake-up */
    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd));
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = ifindex};
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
        close(fd);
        return -1;
    }
    /* frames from other interfaces may have arrived between socket() and bind() */
    uint8_t junk[FRAME_MAX];
    while (recv(fd, junk, sizeof(junk), MSG_DONTWAIT) >= 0)
        ;
    return fd;
}

/* Sends n frames with as few system calls as possible; a frame the qdisc refuses (queue
 * full) is dropped and counted. */
static void
send_frames(int fd, mpl_tb_shared_t *sh, int dir, struct mmsghdr *m, int n)
{
    uint64_t bytes = 0;
    int sent = 0;
    for (int off = 0; off < n;) {
        int r = sendmmsg(fd, m + off, (unsigned)(n - off), MSG_DONTWAIT);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            __atomic_fetch_add(&sh->drop_send[dir], 1, __ATOMIC_RELAXED);
            off++;
            continue;
        }
        for (int i = off; i < off + r; i++)
            bytes += m[i].msg_hdr.msg_iov->iov_len;
        sent += r;
        off += r;
    }
    __atomic_fetch_add(&sh->pkts[dir], (uint64_t)sent, __ATOMIC_RELAXED);
    __atomic_fetch_add(&sh->bytes[dir], bytes, __ATOMIC_RELAXED);
}

/* Sends the frames of line l whose time has come. */
static void
release(line_t *l, int out_fd, mpl_tb_shared_t *sh, int dir, uint64_t now)
{
    struct mmsghdr m[BATCH];
    struct iovec iov[BATCH];
    while (l->count > 0 && line_head(l)->release_ns <= now) {
        int n = 0;
        uint32_t h = l->head;
        while (n < BATCH && n < (int)l->count && l->slots[l->order[h]].release_ns <= now) {
            slot_t *sl = &l->slots[l->order[h]];
            iov[n].iov_base = sl->data;
            iov[n].iov_len = sl->len;
            memset(&m[n], 0, sizeof(m[n]));
            m[n].msg_hdr.msg_iov = &iov[n];
            m[n].msg_hdr.msg_iovlen = 1;
            n++;
            h = (h + 1) % l->cap;
        }
        if (__atomic_load_n(&sh->blackhole[dir], __ATOMIC_RELAXED))
            __atomic_fetch_add(&sh->drop_blackhole[dir], (uint64_t)n, __ATOMIC_RELAXED);
        else
            send_frames(out_fd, sh, dir, m, n);
        for (int i = 0; i < n; i++) {
            uint32_t idx = l->order[(l->head + (uint32_t)i) % l->cap];
            l->bytes -= l->slots[idx].len;
            l->free[l->nfree++] = idx;
        }
        l->head = h;
        l->count -= (uint32_t)n;
    }
}

/* Reads what is pending on in_fd (direction dir) into line l; with no delay and nothing
 * queued, frames go straight out. */
typedef union ctlbuf {
    char buf[CMSG_SPACE(sizeof(struct timespec))];
    struct cmsghdr align;
} ctlbuf_t;

/* One direction of the link, run by its own thread: frames read on in_fd leave on out_fd. */
typedef struct direction {
    mpl_tb_shared_t *sh;
    int dir, in_fd, out_fd;
    line_t line;
    /* the link model (linkmodel.h), copied from sh when its generation changes */
    uint32_t model_gen;
    mpl_lm_params_t model;
    mpl_lm_state_t lm;
    /* trace-driven: frames due from the delay line wait in tq for their delivery
     * opportunity (drop-tail at tq_limit bytes) */
    int has_trace;
    mpl_trace_t trace;
    mpl_trace_link_t tl;
    line_t tq;
    uint64_t tq_limit;
    uint8_t rx[BATCH][FRAME_MAX];
    ctlbuf_t ctl[BATCH];
} direction_t;

/* Trace-driven direction: moves the frames of the delay line whose time has come into the
 * trace queue, each stamped with its delivery time. */
static void
to_trace(direction_t *x, uint64_t now)
{
    line_t *l = &x->line;
    while (l->count > 0 && line_head(l)->release_ns <= now) {
        uint32_t idx = l->order[l->head];
        slot_t *sl = &l->slots[idx];
        if (x->tq.bytes + sl->len > x->tq_limit)
            __atomic_fetch_add(&x->sh->drop_full[x->dir], 1, __ATOMIC_RELAXED);
        else if (line_put(&x->tq, sl->data, sl->len, mpl_trace_depart(&x->tl, sl->release_ns, sl->len), 0) !=
                 0)
            __atomic_fetch_add(&x->sh->drop_full[x->dir], 1, __ATOMIC_RELAXED);
        l->bytes -= sl->len;
        l->free[l->nfree++] = idx;
        l->head = (l->head + 1) % l->cap;
        l->count--;
    }
}

static void
receive(direction_t *x)
{
    int in_fd = x->in_fd, out_fd = x->out_fd, dir = x->dir;
    line_t *l = &x->line;
    mpl_tb_shared_t *sh = x->sh;
    uint8_t(*rx)[FRAME_MAX] = x->rx;
    ctlbuf_t *ctl = x->ctl;
    struct mmsghdr m[BATCH], out[2 * BATCH];
    struct iovec iov[BATCH], oiov[2 * BATCH];

    /* frames are read straight into free slots of the delay line (one copy less); the
     * private buffers rx serve when the line has no free slot left */
    uint32_t sidx[BATCH];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < BATCH; i++) {
            sidx[i] = l->nfree > 0 ? l->free[--l->nfree] : NO_SLOT;
            iov[i].iov_base = sidx[i] != NO_SLOT ? l->slots[sidx[i]].data : rx[i];
            iov[i].iov_len = FRAME_MAX;
            memset(&m[i], 0, sizeof(m[i]));
            m[i].msg_hdr.msg_iov = &iov[i];
            m[i].msg_hdr.msg_iovlen = 1;
            m[i].msg_hdr.msg_control = ctl[i].buf;
            m[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
        }
        int n = recvmmsg(in_fd, m, BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
        if (n <= 0) {
            for (int i = BATCH - 1; i >= 0; i--)
                if (sidx[i] != NO_SLOT)
                    l->free[l->nfree++] = sidx[i];
            return; /* EAGAIN, or ENETDOWN while the link is down */
        }
        uint64_t now = mpl_now_ns();
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        /* CLOCK_REALTIME - CLOCK_MONOTONIC, to convert the kernel's arrival stamps */
        int64_t offset = (int64_t)((uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec) - (int64_t)now;
        int blackhole = (int)__atomic_load_n(&sh->blackhole[dir], __ATOMIC_RELAXED);
        uint64_t loss = __atomic_load_n(&sh->loss_ppb[dir], __ATOMIC_RELAXED);
        uint64_t delay = __atomic_load_n(&sh->delay_ns[dir], __ATOMIC_RELAXED);
        uint32_t gen = __atomic_load_n(&sh->model_gen[dir], __ATOMIC_ACQUIRE);
        if (gen != x->model_gen) {
            mpl_lm_params_t mp = sh->model[dir];
            if (__atomic_load_n(&sh->model_gen[dir], __ATOMIC_ACQUIRE) == gen) {
                x->model = mp;
                x->model_gen = gen;
            }
        }
        x->model.delay_ns = delay;
        x->model.loss_pct = sh->loss_pct[dir];
        int extended = mpl_lm_params_extended(&x->model);
        int sorted = x->model.jitter_ns > 0 && x->model.jitter_reorder;
        int nout = 0;
        for (int i = 0; i < n; i++) {
            uint32_t len = m[i].msg_len;
            uint8_t *buf = iov[i].iov_base;
            if (len > FRAME_MAX || len == 0 || (m[i].msg_hdr.msg_flags & MSG_TRUNC))
                continue; /* oversized frame (an offload left on): cannot be forwarded */
            if (blackhole) {
                __atomic_fetch_add(&sh->drop_blackhole[dir], 1, __ATOMIC_RELAXED);
                continue;
            }
            if (!extended && loss > 0 && rand_ppb() < loss) {
                __atomic_fetch_add(&sh->drop_loss[dir], 1, __ATOMIC_RELAXED);
                continue;
            }
            if (!extended && delay == 0 && l->count == 0 && !x->has_trace) {
                oiov[nout].iov_base = buf;
                oiov[nout].iov_len = len;
                memset(&out[nout], 0, sizeof(out[nout]));
                out[nout].msg_hdr.msg_iov = &oiov[nout];
                out[nout].msg_hdr.msg_iovlen = 1;
                nout++;
                continue;
            }
            uint64_t arrival = now;
            struct msghdr *mh = &m[i].msg_hdr;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof(ts));
                    int64_t mono =
                        (int64_t)((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) - offset;
                    if (mono > 0 && (uint64_t)mono <= now && now - (uint64_t)mono < 50000000ull)
                        arrival = (uint64_t)mono;
                }
            if (!extended) {
                if (sidx[i] != NO_SLOT) {
                    line_insert(l, sidx[i], len, arrival + delay, 0);
                    sidx[i] = NO_SLOT;
                } else if (line_put(l, buf, len, arrival + delay, 0) != 0) {
                    __atomic_fetch_add(&sh->drop_full[dir], 1, __ATOMIC_RELAXED);
                }
                continue;
            }
            mpl_lm_verdict_t v;
            mpl_lm_packet(&x->model, &x->lm, arrival, len, &v);
            if (v.drop) {
                __atomic_fetch_add(&sh->drop_loss[dir], 1, __ATOMIC_RELAXED);
                continue;
            }
            if (v.corrupt_bit >= 0) {
                buf[v.corrupt_bit / 8] ^= (uint8_t)(1u << (v.corrupt_bit % 8));
                __atomic_fetch_add(&sh->corrupted[dir], 1, __ATOMIC_RELAXED);
            }
            if (v.copies > 1)
                __atomic_fetch_add(&sh->duplicated[dir], 1, __ATOMIC_RELAXED);
            if (v.reordered)
                __atomic_fetch_add(&sh->reordered[dir], 1, __ATOMIC_RELAXED);
            for (int k = 0; k < v.copies; k++) {
                if (v.reordered && !x->has_trace) {
                    /* sent at once, ahead of the frames in the delay line */
                    oiov[nout].iov_base = buf;
                    oiov[nout].iov_len = len;
                    memset(&out[nout], 0, sizeof(out[nout]));
                    out[nout].msg_hdr.msg_iov = &oiov[nout];
                    out[nout].msg_hdr.msg_iovlen = 1;
                    nout++;
                } else if (k == v.copies - 1 && sidx[i] != NO_SLOT) {
                    line_insert(l, sidx[i], len, v.release_ns, sorted || v.reordered);
                    sidx[i] = NO_SLOT;
                } else if (line_put(l, buf, len, v.release_ns, sorted || v.reordered) != 0) {
                    __atomic_fetch_add(&sh->drop_full[dir], 1, __ATOMIC_RELAXED);
                }
            }
        }
        if (nout)
            send_frames(out_fd, sh, dir, out, nout);
        /* slots not kept (frames sent at once, dropped, or not received) are free again */
        for (int i = BATCH - 1; i >= 0; i--)
            if (sidx[i] != NO_SLOT)
                l->free[l->nfree++] = sidx[i];
        if (x->has_trace)
            to_trace(x, now);
        if (n < BATCH)
            return;
    }
}

/* A line of cap slots, all free. Returns 0, or -1 (logged). */
static int
line_alloc(line_t *l, uint32_t cap)
{
    l->cap = cap;
    l->slots = malloc((size_t)cap * sizeof(slot_t));
    l->order = malloc((size_t)cap * sizeof(uint32_t));
    l->free = malloc((size_t)cap * sizeof(uint32_t));
    if (!l->slots || !l->order || !l->free) {
        mpl_err("forwarder: out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < cap; i++)
        l->free[i] = cap - 1 - i;
    l->nfree = cap;
    return 0;
}

static uint32_t
line_capacity(const mpl_tb_shared_t *sh, int dir)
{
    /* frames in flight at the configured rate and delay (at least 50 ms, so that run-time
     * delay changes fit), with room to spare; an unlimited rate counts as 1 Gbit/s, about
     * what one forwarder moves. Frames beyond are dropped and counted (drop_queue). */
    double rate = sh->rate_bps[dir] ? (double)sh->rate_bps[dir] : 1e9;
    double delay = (double)(sh->delay_ns[dir] + 4 * sh->model[dir].jitter_ns) / 1e9;
    if (sh->model[dir].duplicate_pct > 0)
        delay *= 2;
    if (delay < 0.05)
        delay = 0.05;
    double frames = rate / 8.0 / 1514.0 * delay * 1.5 + 1024;
    if (frames > 65536)
        frames = 65536;
    return (uint32_t)frames;
}

/* The loop of one thread over one or both directions: release what is due, sleep until the
 * next release or a frame arrives. Timer wake-ups come late by some tens of microseconds:
 * the loop learns by how much (moving average) and sleeps that much less, releasing frames
 * due within half of it. */
typedef struct worker {
    direction_t *x[2];
    int n;
} worker_t;

static void *
worker_loop(void *arg)
{
    worker_t *w = arg;
    rng_state ^= mpl_now_ns() ^ ((uint64_t)w->x[0]->dir << 32) ^ 1;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    /* A link runs in the kernel's softirq on real machines: give the forwarder real-time
     * priority so that compiling neighbours do not add milliseconds of jitter. It sleeps
     * whenever no frame is due, and the kernel's RT throttling bounds the worst case.
     * MPLAB_FWD_RT=0 keeps the normal scheduler. (Per thread on Linux.) */
    const char *rt = getenv("MPLAB_FWD_RT");
    if (!rt || strcmp(rt, "0") != 0) {
        struct sched_param sp = {.sched_priority = 1};
        if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
            mpl_warn("forwarder: no real-time priority: %s", strerror(errno));
    }
    uint64_t late_avg = 0, loops = 0;
    struct pollfd pfd[2];
    for (int k = 0; k < w->n; k++)
        pfd[k] = (struct pollfd){.fd = w->x[k]->in_fd, .events = POLLIN};
    while (!stop) {
        uint64_t now = mpl_now_ns(), next = now + IDLE_CHECK;
        int timed = 0;
        for (int k = 0; k < w->n; k++) {
            direction_t *x = w->x[k];
            line_t *l = &x->line;
            if (x->has_trace) {
                to_trace(x, now + late_avg / 2);
                release(&x->tq, x->out_fd, x->sh, x->dir, now + late_avg / 2);
                if (x->tq.count > 0 && line_head(&x->tq)->release_ns < next) {
                    next = line_head(&x->tq)->release_ns;
                    timed = 1;
                }
            } else {
                release(l, x->out_fd, x->sh, x->dir, now + late_avg / 2);
            }
            if (l->count > 0 && line_head(l)->release_ns < next) {
                next = line_head(l)->release_ns;
                timed = 1;
            }
        }
        uint64_t target = next > now + late_avg ? next - late_avg : now;
        uint64_t wait = target - now;
        struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
        int r = ppoll(pfd, (nfds_t)w->n, &ts, NULL);
        if (r < 0 && errno != EINTR)
            break;
        if (r == 0 && timed && wait > 0) {
            uint64_t woke = mpl_now_ns(), late = woke > target ? woke - target : 0;
            if (late > MAX_EARLY)
                late = MAX_EARLY;
            late_avg = (late_avg * 7 + late) / 8;
        }
        if (++loops % 256 == 0 || r == 0)
            for (int k = 0; k < w->n; k++) {
                struct tpacket_stats st;
                socklen_t sl = sizeof(st);
                if (getsockopt(w->x[k]->in_fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0 && st.tp_drops)
                    __atomic_fetch_add(&w->x[k]->sh->drop_rcvbuf[w->x[k]->dir], st.tp_drops,
                                       __ATOMIC_RELAXED);
            }
        if (r > 0)
            for (int k = 0; k < w->n; k++)
                if (pfd[k].revents)
                    receive(w->x[k]);
    }
    return NULL;
}

int
mpl_tb_forwarder_run(mpl_tb_shared_t *sh, int ready_fd)
{
    /* The sender's veth is not rate limited (the tbf is after us), so a TCP sender's window
     * arrives as a burst at memory speed: the receive buffer holds up to one RTT of frames at
     * the link's rate (at least 8 ms), as a NIC's receive ring would. It is no queue of the
     * link: every frame's delay counts from its kernel arrival stamp, and we drain it faster
     * than the rate; the tbf after us is the link's queue. */
    int rcv[2];
    for (int d = 0; d < 2; d++) {
        double r = sh->rate_bps[d] ? (double)sh->rate_bps[d] : 10e9;
        double rtt = (double)(sh->delay_ns[0] + sh->delay_ns[1]) / 1e9;
        double bytes = r / 8 * (rtt > 0.008 ? rtt : 0.008) * 2.5; /* truesize is ~2.5 x the frame */
        rcv[d] = bytes < RCVBUF_MIN ? RCVBUF_MIN : bytes > RCVBUF_MAX ? RCVBUF_MAX : (int)bytes;
    }
    int fd[2] = {open_end("a", rcv[MPL_TB_A2B]), open_end("b", rcv[MPL_TB_B2A])};
    if (fd[0] < 0 || fd[1] < 0) {
        mpl_err("forwarder: cannot open packet sockets: %s", strerror(errno));
        return -1;
    }
    direction_t *x[2];
    for (int d = 0; d < 2; d++) {
        x[d] = calloc(1, sizeof(direction_t));
        if (!x[d]) {
            mpl_err("forwarder: out of memory");
            return -1;
        }
        x[d]->sh = sh;
        x[d]->dir = d;
        /* direction a2b: read on a, write on b */
        x[d]->in_fd = fd[d];
        x[d]->out_fd = fd[1 - d];
        line_t *l = &x[d]->line;
        if (line_alloc(l, line_capacity(sh, d)) != 0)
            return -1;
        if (sh->trace[d][0]) {
            char why[512];
            if (mpl_trace_load(sh->trace[d], &x[d]->trace, why, sizeof(why)) != 0) {
                mpl_err("forwarder: %s", why);
                return -1;
            }
            x[d]->has_trace = 1;
            x[d]->tq_limit = sh->queue_bytes[d];
            line_t *q = &x[d]->tq;
            uint64_t frames = sh->queue_bytes[d] / 200 + 64; /* mostly full frames, some ACKs */
            if (line_alloc(q, (uint32_t)(frames > 32768 ? 32768 : frames)) != 0)
                return -1;
            /* the trace starts when the link is up */
            mpl_trace_link_init(&x[d]->tl, &x[d]->trace, mpl_now_ns());
        }
        /* seeded per link and direction; MPLAB_FWD_SEED=N repeats a run's decisions */
        const char *seed = getenv("MPLAB_FWD_SEED");
        mpl_lm_state_init(&x[d]->lm, (seed ? strtoull(seed, NULL, 10) : mpl_now_ns()) * 2 + (uint64_t)d);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* One thread for both directions (default: one wake-up serves both, least CPU), or with
     * MPLAB_FWD_THREADS=2 one per direction (ACKs never wait behind a batch of data). */
    /* Default: two threads when a direction runs at 500 Mbit/s or more (measured at 1 Gbit/s
     * 10 ms: one flow 0.88 of the rate with one thread, 0.95 with two), else one. */
    const char *nt = getenv("MPLAB_FWD_THREADS");
    int two = nt ? !strcmp(nt, "2") : sh->rate_bps[0] >= 500000000ull || sh->rate_bps[1] >= 500000000ull;
    static worker_t w[2];
    w[0] = (worker_t){{x[0], x[1]}, two ? 1 : 2};
    w[1] = (worker_t){{x[1], NULL}, 1};
    pthread_t th;
    if (two && pthread_create(&th, NULL, worker_loop, &w[1]) != 0) {
        mpl_err("forwarder: cannot start a thread");
        return -1;
    }
    if (ready_fd >= 0) {
        char c = 1;
        if (write(ready_fd, &c, 1) != 1)
            return -1;
        close(ready_fd);
    }
    worker_loop(&w[0]);
    stop = 1;
    if (two)
        pthread_join(th, NULL);
    exit(0);
}
