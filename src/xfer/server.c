/*
 * server.c — see server.h.
 */
#include "xfer/server.h"

#include "xfer/accept.h"
#include "xfer/http.h"
#include "common/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define READ_BUF        (64 * 1024)
#define WRITE_BUDGET    (8 * 1024 * 1024)                     /* bytes per connection per turn: fairness */
#define HANDSHAKE_LIMIT 10.0                                  /* seconds */
#define EV_VOID         MPL_ACCEPT_TAG(MPL_SERVER_MAX_LISTEN) /* an event whose connection was freed */

typedef struct sconn {
    mpl_conn_t io;
    mpl_http_sconn_t *http;
    mpl_http_server_cfg_t hcfg;
    char peer[80];
    struct sockaddr_storage addr;
    uint32_t events;
    uint64_t last_active_ns;
    uint64_t started_ns;
    uint64_t head_since;    /* owes a request head since (0: does not) */
    uint64_t head_requests; /* requests answered when head_since was set */
    int error;
    int rd_eof; /* the peer finished sending: stop reading */
    struct sconn *prev, *next;
} sconn_t;

typedef struct server {
    const mpl_server_cfg_t *cfg;
    mpl_server_stats_t *st;
    int ep;
    mpl_acceptor_t acc;
    sconn_t *conns;
    struct epoll_event *evs; /* the batch being handled: events of a freed connection are voided */
    int nevs;
    uint8_t rbuf[READ_BUF];
} server_t;

static void
conn_close(server_t *s, sconn_t *c)
{
    if (c->error || mpl_http_sconn_had_error(c->http))
        s->st->errors++;
    s->st->requests += mpl_http_sconn_requests(c->http);
    for (int i = 0; i < s->nevs; i++)
        if (s->evs[i].data.ptr == c)
            s->evs[i].data.u64 = EV_VOID;
    mpl_acceptor_release(&s->acc, &c->addr);
    epoll_ctl(s->ep, EPOLL_CTL_DEL, c->io.fd, NULL);
    mpl_conn_close(&c->io);
    mpl_http_sconn_free(c->http);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c);
}

static void
conn_fail(server_t *s, sconn_t *c, const char *why)
{
    mpl_warn("%s: %s", c->peer, why);
    c->error = 1;
    conn_close(s, c);
}

static void
set_events(server_t *s, sconn_t *c, uint32_t ev)
{
    if (ev == c->events)
        return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(s->ep, EPOLL_CTL_MOD, c->io.fd, &e);
    c->events = ev;
}

/* Runs one connection as far as it can go without blocking. */
static void
conn_run(server_t *s, sconn_t *c)
{
    uint32_t want = 0;
    c->last_active_ns = mpl_now_ns();
    if (!c->io.handshake_done) {
        int r = mpl_conn_handshake(&c->io);
        if (r == MPL_IO_ERROR) {
            conn_fail(s, c, c->io.err);
            return;
        }
        if (r != 0) {
            set_events(s, c, r == MPL_IO_WANT_READ ? EPOLLIN : EPOLLOUT);
            return;
        }
    }
    size_t budget = WRITE_BUDGET;
    for (int round = 0; round < 4; round++) {
        int progress = 0;
        want = 0;
        /* read what the HTTP object can take */
        while (!c->rd_eof) {
            size_t space = mpl_http_sconn_input_space(c->http);
            if (space == 0)
                break;
            ssize_t n = mpl_conn_read(&c->io, s->rbuf, space < sizeof(s->rbuf) ? space : sizeof(s->rbuf));
            if (n > 0) {
                s->st->bytes_received += (uint64_t)n;
                mpl_http_sconn_input(c->http, s->rbuf, (size_t)n);
                progress = 1;
                continue;
            }
            if (n == 0) {
                c->rd_eof = 1;
                mpl_http_sconn_input_eof(c->http);
                break;
            }
            if (n == MPL_IO_WANT_READ) {
                want |= EPOLLIN;
                break;
            }
            if (n == MPL_IO_WANT_WRITE) {
                want |= EPOLLOUT;
                break;
            }
            if (mpl_http_sconn_done(c->http) ||
                (mpl_http_sconn_idle(c->http) && mpl_http_sconn_requests(c->http) > 0)) {
                /* the client went away (reset, no close_notify) between requests: normal */
                mpl_debug("%s: %s", c->peer, c->io.err);
                conn_close(s, c);
                return;
            }
            conn_fail(s, c, c->io.err);
            return;
        }
        /* write what the HTTP object produces */
        for (;;) {
            const uint8_t *p;
            size_t len;
            int r = mpl_http_sconn_output(c->http, &p, &len);
            if (r < 0) {
                conn_fail(s, c, "internal error producing the response");
                return;
            }
            if (r == 0) {
                /* everything produced was accepted; TLS may still hold queued records */
                int f = mpl_conn_flush(&c->io);
                if (f == MPL_IO_WANT_WRITE)
                    want |= EPOLLOUT;
                else if (f == MPL_IO_ERROR) {
                    c->error = 1;
                    mpl_warn("%s: %s (response not completed)", c->peer, c->io.err);
                    conn_close(s, c);
                    return;
                }
                break;
            }
            if (budget == 0) {
                want |= EPOLLOUT; /* more to send: come back after the others had a turn */
                break;
            }
            ssize_t n = mpl_conn_write(&c->io, p, len);
            if (n > 0) {
                s->st->bytes_sent += (uint64_t)n;
                mpl_http_sconn_consumed(c->http, (size_t)n);
                budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
                progress = 1;
                continue;
            }
            if (n == MPL_IO_WANT_WRITE) {
                want |= EPOLLOUT;
                break;
            }
            if (n == MPL_IO_WANT_READ) {
                want |= EPOLLIN;
                break;
            }
            /* reset by the client in the middle of a response */
            c->error = 1;
            mpl_warn("%s: %s (response not completed)", c->peer, c->io.err);
            conn_close(s, c);
            return;
        }
        if (mpl_http_sconn_done(c->http) && mpl_conn_pending(&c->io) == 0) {
            conn_close(s, c);
            return;
        }
        if (!progress || budget == 0)
            break;
    }
    if (!c->rd_eof && mpl_http_sconn_input_space(c->http) > 0)
        want |= EPOLLIN;
    set_events(s, c, want);
}

static void
accept_all(server_t *s, int li)
{
    const mpl_server_cfg_t *cfg = s->cfg;
    struct sockaddr_storage ss;
    int fd;

    while ((fd = mpl_acceptor_accept(&s->acc, li, &ss)) >= 0) {
        sconn_t *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            mpl_acceptor_release(&s->acc, &ss);
            close(fd);
            continue;
        }
        c->addr = ss;
        mpl_fmt_addr((struct sockaddr *)&ss, 1, c->peer, sizeof(c->peer));
        c->hcfg.root = cfg->root;
        c->hcfg.quiet = cfg->quiet;
        c->hcfg.peer = c->peer;
        c->http = mpl_http_sconn_new(&c->hcfg);
        if (c->http == NULL || mpl_conn_init(&c->io, cfg->tp, fd, cfg->ssl_ctx, 1, NULL) != 0) {
            mpl_warn("%s: cannot set the connection up: %s", c->peer, c->io.err);
            mpl_acceptor_release(&s->acc, &ss);
            mpl_conn_close(&c->io);
            mpl_http_sconn_free(c->http);
            free(c);
            s->st->errors++;
            continue;
        }
        c->started_ns = c->last_active_ns = c->head_since = mpl_now_ns();
        c->events = EPOLLIN;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
            mpl_acceptor_release(&s->acc, &ss);
            mpl_conn_close(&c->io);
            mpl_http_sconn_free(c->http);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns != NULL)
            s->conns->prev = c;
        s->conns = c;
        s->st->connections++;
        mpl_debug("%s: connected", c->peer);
        conn_run(s, c);
    }
}

/* The client owes a request head: the handshake, the first request, or the rest of one. */
static int
owes_head(const sconn_t *c)
{
    return !c->io.handshake_done ||
           (mpl_http_sconn_awaiting_head(c->http) &&
            (mpl_http_sconn_requests(c->http) == 0 || !mpl_http_sconn_idle(c->http)));
}

/* Out of descriptors (accept.h): closes the connection idle longest among those that owe a
 * request head or wait between requests. Returns 1 when it closed one. */
static int
shed_idle(void *ud)
{
    server_t *s = ud;
    sconn_t *oldest = NULL;
    for (sconn_t *c = s->conns; c != NULL; c = c->next)
        if ((owes_head(c) || mpl_http_sconn_idle(c->http)) &&
            (oldest == NULL || c->last_active_ns < oldest->last_active_ns))
            oldest = c;
    if (oldest == NULL)
        return 0;
    mpl_debug("%s: closed (idle, out of descriptors)", oldest->peer);
    conn_close(s, oldest);
    return 1;
}

/* Handshake, request-head and idle timeouts. */
static void
sweep(server_t *s, double idle_s, double head_s)
{
    uint64_t now = mpl_now_ns();
    sconn_t *c = s->conns;
    while (c != NULL) {
        sconn_t *next = c->next;
        uint64_t answered = mpl_http_sconn_requests(c->http);
        if (!owes_head(c)) {
            c->head_since = 0;
        } else if (c->head_since == 0 || c->head_requests != answered) {
            c->head_since = now;
            c->head_requests = answered;
        }
        if (!c->io.handshake_done && now - c->started_ns > (uint64_t)(HANDSHAKE_LIMIT * 1e9))
            conn_fail(s, c, "handshake timed out");
        else if (c->head_since != 0 && now - c->head_since > (uint64_t)(head_s * 1e9))
            conn_fail(s, c, "no complete request head in time");
        else if (now - c->last_active_ns > (uint64_t)(idle_s * 1e9))
            conn_close(s, c);
        c = next;
    }
}

int
mpl_server_run(const mpl_server_cfg_t *cfg, mpl_server_stats_t *stats, char *err, size_t errlen)
{
    server_t *s = calloc(1, sizeof(*s));
    int rc = -1;
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->cfg = cfg;
    s->st = stats;
    s->acc.reserve_fd = -1; /* mpl_acceptor_close before mpl_acceptor_open */
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        goto out;
    }
    if (mpl_acceptor_open(&s->acc, cfg, s->ep, shed_idle, s, err, errlen) != 0)
        goto out;
    double idle = cfg->idle_timeout_s > 0 ? cfg->idle_timeout_s : 120.0;
    double head = cfg->header_timeout_s > 0 ? cfg->header_timeout_s : 20.0;
    uint64_t last_sweep = mpl_now_ns();
    while (!*cfg->stop) {
        struct epoll_event ev[64];
        int n = epoll_wait(s->ep, ev, 64, 100);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            goto out;
        }
        s->evs = ev;
        s->nevs = n;
        for (int i = 0; i < n; i++) {
            int li = mpl_acceptor_listener(&s->acc, ev[i].data.u64);
            if (li >= 0)
                accept_all(s, li);
            else if (ev[i].data.u64 != EV_VOID) /* else closed by shedding in this batch */
                conn_run(s, ev[i].data.ptr);
        }
        s->nevs = 0;
        mpl_acceptor_tick(&s->acc, mpl_now_ns());
        if (mpl_now_ns() - last_sweep > 1000000000ull) {
            sweep(s, idle, head);
            last_sweep = mpl_now_ns();
        }
    }
    rc = 0;
out:
    while (s->conns != NULL)
        conn_close(s, s->conns);
    mpl_acceptor_close(&s->acc);
    if (s->ep >= 0)
        close(s->ep);
    free(s);
    return rc;
}
