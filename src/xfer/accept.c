/*
 * accept.c — see accept.h.
 */
#include "xfer/accept.h"

#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define PAUSE_NS    100000000ull  /* a listener's pause without memory or a reserve descriptor */
#define WARN_GAP_NS 1000000000ull /* at most one warning a second about refused connections */

struct mpl_peer_slot {
    uint8_t key[17]; /* family byte + IPv4 or IPv6 address; all zero: empty */
    unsigned count;
};

static void
peer_key(const struct sockaddr_storage *ss, uint8_t key[17])
{
    memset(key, 0, 17);
    key[0] = (uint8_t)ss->ss_family;
    if (ss->ss_family == AF_INET)
        memcpy(key + 1, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    else if (ss->ss_family == AF_INET6)
        memcpy(key + 1, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
}

static size_t
key_hash(const uint8_t key[17], size_t cap)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 17; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)h & (cap - 1);
}

/* The slot of key, or of the empty slot where it would go. */
static mpl_peer_slot_t *
peer_slot(mpl_acceptor_t *a, const uint8_t key[17])
{
    for (size_t i = key_hash(key, a->peers_cap);; i = (i + 1) & (a->peers_cap - 1))
        if (a->peers[i].key[0] == 0 || memcmp(a->peers[i].key, key, 17) == 0)
            return &a->peers[i];
}

static int
peers_grow(mpl_acceptor_t *a)
{
    size_t ncap = a->peers_cap ? a->peers_cap * 2 : 256;
    mpl_peer_slot_t *old = a->peers, *n = calloc(ncap, sizeof(*n));
    size_t ocap = a->peers_cap;
    if (n == NULL)
        return -1;
    a->peers = n;
    a->peers_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i].key[0] != 0)
            *peer_slot(a, old[i].key) = old[i];
    free(old);
    return 0;
}

/* Counts a new connection from ss. Returns 0, or -1 when the address is at its cap. */
static int
peer_add(mpl_acceptor_t *a, const struct sockaddr_storage *ss)
{
    uint8_t key[17];
    peer_key(ss, key);
    if ((a->peers_used + 1) * 2 > a->peers_cap && peers_grow(a) != 0)
        return 0; /* no memory for the table: do not refuse for that */
    mpl_peer_slot_t *p = peer_slot(a, key);
    if (p->key[0] == 0) {
        memcpy(p->key, key, 17);
        p->count = 0;
        a->peers_used++;
    }
    if (p->count >= a->per_addr_max)
        return -1;
    p->count++;
    return 0;
}

void
mpl_acceptor_release(mpl_acceptor_t *a, const struct sockaddr_storage *peer)
{
    uint8_t key[17];
    if (a->peers_cap == 0)
        return;
    peer_key(peer, key);
    mpl_peer_slot_t *p = peer_slot(a, key);
    if (p->key[0] == 0 || p->count == 0 || --p->count > 0)
        return;
    /* empty now: remove it and move later slots of its run back (linear probing) */
    size_t i = (size_t)(p - a->peers), mask = a->peers_cap - 1;
    a->peers[i].key[0] = 0;
    a->peers_used--;
    for (size_t j = (i + 1) & mask; a->peers[j].key[0] != 0; j = (j + 1) & mask) {
        size_t home = key_hash(a->peers[j].key, a->peers_cap);
        /* slot j may move to i when its home is not in (i, j] (cyclically) */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            a->peers[i] = a->peers[j];
            a->peers[j].key[0] = 0;
            i = j;
        }
    }
}

static void
listener_pause(mpl_acceptor_t *a, int li, const char *why)
{
    mpl_warn("accept: %s (pausing new connections for 100 ms)", why);
    epoll_ctl(a->ep, EPOLL_CTL_DEL, a->lfd[li], NULL);
    a->paused_until[li] = mpl_now_ns() + PAUSE_NS;
}

static void
refused(mpl_acceptor_t *a, const char *why)
{
    uint64_t now = mpl_now_ns();
    a->refused++;
    if (now - a->last_warn_ns >= WARN_GAP_NS) {
        a->last_warn_ns = now;
        mpl_warn("accept: %s: connection closed at once (%llu so far)", why, (unsigned long long)a->refused);
    }
}

/* Out of descriptors and nothing to shed: accepts the waiting connection on the reserve
 * descriptor and closes it. Returns 0, or -1 when there is no reserve (the listener paused). */
static int
refuse_one(mpl_acceptor_t *a, int li)
{
    if (a->reserve_fd < 0) {
        listener_pause(a, li, strerror(EMFILE));
        return -1;
    }
    close(a->reserve_fd);
    int fd = accept4(a->lfd[li], NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        refused(a, "out of descriptors");
    }
    a->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0 || errno == ECONNABORTED || errno == EINTR ? 0 : -1;
}

int
mpl_acceptor_accept(mpl_acceptor_t *a, int li, struct sockaddr_storage *peer)
{
    for (;;) {
        socklen_t sl = sizeof(*peer);
        int fd = accept4(a->lfd[li], (struct sockaddr *)peer, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE) {
                if ((a->shed != NULL && a->shed(a->shed_ud)) || refuse_one(a, li) == 0)
                    continue;
                return -1;
            }
            if (errno == ENOBUFS || errno == ENOMEM)
                listener_pause(a, li, strerror(errno));
            else if (errno != EAGAIN && errno != EWOULDBLOCK)
                mpl_warn("accept: %s", strerror(errno));
            return -1;
        }
        if (peer_add(a, peer) != 0) {
            char who[80], why[120];
            snprintf(why, sizeof(why), "%s has %u connections (the cap)",
                     mpl_fmt_addr((const struct sockaddr *)peer, 0, who, sizeof(who)), a->per_addr_max);
            close(fd);
            refused(a, why);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
    }
}

int
mpl_acceptor_open(mpl_acceptor_t *a, const mpl_server_cfg_t *cfg, int ep, int (*shed)(void *ud),
                  void *shed_ud, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    a->ep = ep;
    a->shed = shed;
    a->shed_ud = shed_ud;
    a->per_addr_max = cfg->max_conns_per_addr > 0 ? cfg->max_conns_per_addr : MPL_ACCEPT_DEFAULT_PER_ADDR;
    a->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (size_t i = 0; i < cfg->n_listen; i++) {
        int fd = mpl_listen(cfg->tp, (const struct sockaddr *)&cfg->listen[i], cfg->listen_len[i], cfg->cc,
                            err, errlen);
        if (fd < 0)
            return -1;
        a->lfd[a->n++] = fd;
        struct epoll_event e = {.events = EPOLLIN, .data.u64 = MPL_ACCEPT_TAG(i)};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
    }
    for (size_t i = 0; i < a->n; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char s[80];
        getsockname(a->lfd[i], (struct sockaddr *)&ss, &sl);
        fprintf(stderr, "listening on %s (%s)\n", mpl_fmt_addr((struct sockaddr *)&ss, 1, s, sizeof(s)),
                cfg->tp->name);
    }
    fflush(stderr);
    return 0;
}

int
mpl_acceptor_listener(const mpl_acceptor_t *a, uint64_t tag)
{
    if ((tag & 1) == 0 || (tag >> 1) >= a->n)
        return -1;
    return (int)(tag >> 1);
}

void
mpl_acceptor_tick(mpl_acceptor_t *a, uint64_t now)
{
    for (size_t i = 0; i < a->n; i++) {
        if (a->paused_until[i] != 0 && now >= a->paused_until[i]) {
            struct epoll_event e = {.events = EPOLLIN, .data.u64 = MPL_ACCEPT_TAG(i)};
            epoll_ctl(a->ep, EPOLL_CTL_ADD, a->lfd[i], &e);
            a->paused_until[i] = 0;
        }
    }
    if (a->reserve_fd < 0)
        a->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void
mpl_acceptor_close(mpl_acceptor_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        close(a->lfd[i]);
    a->n = 0;
    if (a->reserve_fd >= 0)
        close(a->reserve_fd);
    a->reserve_fd = -1;
    free(a->peers);
    a->peers = NULL;
    a->peers_cap = a->peers_used = 0;
}
