/*
 * server.c — see server.h.
 */
#include "xfer/server.h"

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
#define WRITE_BUDGET    (8 * 1024 * 1024) /* bytes per connection per turn: fairness */
#define HANDSHAKE_LIMIT 10.0              /* seconds */

typedef struct sconn {
    mpl_conn_t io;
    mpl_http_sconn_t *http;
    mpl_http_server_cfg_t hcfg;
    char peer[80];
    uint32_t events;
    uint64_t last_active_ns;
    uint64_t started_ns;
    int error;
    int rd_eof; /* the peer finished sending: stop reading */
    struct sconn *prev, *next;
} sconn_t;

typedef struct server {
    const mpl_server_cfg_t *cfg;
    mpl_server_stats_t *st;
    int ep;
    int lfd[MPL_SERVER_MAX_LISTEN];
    uint64_t paused_until[MPL_SERVER_MAX_LISTEN]; /* listener out of epoll (no fds left) */
    sconn_t *conns;
    uint8_t rbuf[READ_BUF];
} server_t;

/* epoll data: listeners are tagged by pointer into lfd[], connections by sconn_t. We keep
 * them apart with the low bit (sconn_t is aligned). */
static void *
tag_listener(int i)
{
    return (void *)(((uintptr_t)i << 1) | 1);
}

static void
conn_close(server_t *s, sconn_t *c)
{
    if (c->error || mpl_http_sconn_had_error(c->http))
        s->st->errors++;
    s->st->requests += mpl_http_sconn_requests(c->http);
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
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(s->lfd[li], (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop polling this listener for a moment instead of
                 * spinning on it; established connections carry on. */
                mpl_warn("accept: %s (pausing new connections for 100 ms)", strerror(errno));
                epoll_ctl(s->ep, EPOLL_CTL_DEL, s->lfd[li], NULL);
                s->paused_until[li] = mpl_now_ns() + 100000000ull;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                mpl_warn("accept: %s", strerror(errno));
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        sconn_t *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            continue;
        }
        mpl_fmt_addr((struct sockaddr *)&ss, 1, c->peer, sizeof(c->peer));
        c->hcfg.root = cfg->root;
        c->hcfg.quiet = cfg->quiet;
        c->hcfg.peer = c->peer;
        c->http = mpl_http_sconn_new(&c->hcfg);
        if (c->http == NULL || mpl_conn_init(&c->io, cfg->tp, fd, cfg->ssl_ctx, 1, NULL) != 0) {
            mpl_warn("%s: cannot set the connection up: %s", c->peer, c->io.err);
            mpl_conn_close(&c->io);
            mpl_http_sconn_free(c->http);
            free(c);
            s->st->errors++;
            continue;
        }
        c->started_ns = c->last_active_ns = mpl_now_ns();
        c->events = EPOLLIN;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e) != 0) {
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

static void
sweep(server_t *s, double idle_s)
{
    uint64_t now = mpl_now_ns();
    sconn_t *c = s->conns;
    while (c != NULL) {
        sconn_t *next = c->next;
        if (!c->io.handshake_done && now - c->started_ns > (uint64_t)(HANDSHAKE_LIMIT * 1e9))
            conn_fail(s, c, "handshake timed out");
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
    for (size_t i = 0; i < MPL_SERVER_MAX_LISTEN; i++)
        s->lfd[i] = -1;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < cfg->n_listen; i++) {
        s->lfd[i] = mpl_listen(cfg->tp, (const struct sockaddr *)&cfg->listen[i], cfg->listen_len[i], cfg->cc,
                               err, errlen);
        if (s->lfd[i] < 0)
            goto out;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = tag_listener((int)i)};
        epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd[i], &e);
    }
    for (size_t i = 0; i < cfg->n_listen; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char a[80];
        getsockname(s->lfd[i], (struct sockaddr *)&ss, &sl);
        fprintf(stderr, "listening on %s (%s)\n", mpl_fmt_addr((struct sockaddr *)&ss, 1, a, sizeof(a)),
                cfg->tp->name);
    }
    fflush(stderr);
    double idle = cfg->idle_timeout_s > 0 ? cfg->idle_timeout_s : 120.0;
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
        for (int i = 0; i < n; i++) {
            uintptr_t tag = (uintptr_t)ev[i].data.ptr;
            if (tag & 1) {
                accept_all(s, (int)(tag >> 1));
                continue;
            }
            sconn_t *c = ev[i].data.ptr;
            /* c may have been closed by an earlier event in this batch only if it is the
             * same connection; each fd appears once per epoll_wait, so c is valid. */
            conn_run(s, c);
        }
        for (size_t i = 0; i < cfg->n_listen; i++) {
            if (s->paused_until[i] != 0 && mpl_now_ns() >= s->paused_until[i]) {
                struct epoll_event e = {.events = EPOLLIN, .data.ptr = tag_listener((int)i)};
                epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd[i], &e);
                s->paused_until[i] = 0;
            }
        }
        if (mpl_now_ns() - last_sweep > 1000000000ull) {
            sweep(s, idle);
            last_sweep = mpl_now_ns();
        }
    }
    rc = 0;
out:
    while (s->conns != NULL)
        conn_close(s, s->conns);
    for (size_t i = 0; i < MPL_SERVER_MAX_LISTEN; i++)
        if (s->lfd[i] >= 0)
            close(s->lfd[i]);
    if (s->ep >= 0)
        close(s->ep);
    free(s);
    return rc;
}
