/*
 * serve_tcpls.c — 'mplab serve --proto tcpls' (see server.h): an epoll loop over libtcpls
 * sessions. Every TCPLS stream is one HTTP exchange driven by its own mpl_http_sconn_t; a
 * client without the tcpls extension (curl, --proto tls) gets plain TLS from the same port and
 * is served as one HTTP connection on stream 0. A session that fails (tampered records,
 * garbage, reset) is closed alone; the others go on.
 */
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "http.h"
#include "tcpls.h"
#include "util.h"

typedef struct srv srv_t;
typedef struct sess sess_t;

typedef struct sstream {
    struct sstream *next;
    uint32_t id;
    mpl_http_sconn_t *http;
    uint8_t *pending; /* received bytes the HTTP object could not take yet */
    size_t pending_len, pending_cap;
    int eof_pending, eof_done, fin_sent, closed;
} sstream_t;

struct sess {
    sess_t *next;
    srv_t *srv;
    int fd;
    tcpls_session_t *s;
    sstream_t *streams;
    int dead, want_out, http_error;
    uint64_t last_ns;
    char peer[80];
};

struct srv {
    const mpl_server_cfg_t *cfg;
    mpl_server_stats_t *st;
    int ep;
    tcpls_ctx_t *ctx;
    mpl_http_server_cfg_t hcfg;
    sess_t *sessions;
};

static sstream_t *
find_stream(sess_t *se, uint32_t id)
{
    for (sstream_t *ss = se->streams; ss; ss = ss->next)
        if (ss->id == id)
            return ss;
    return NULL;
}

static void
on_opened(tcpls_session_t *s, uint32_t id, void *ud)
{
    sess_t *se = ud;
    sstream_t *ss = calloc(1, sizeof(*ss));
    if (ss == NULL || (ss->http = mpl_http_sconn_new(&se->srv->hcfg)) == NULL) {
        free(ss);
        return;
    }
    ss->id = id;
    ss->next = se->streams;
    se->streams = ss;
}

static void
feed(sstream_t *ss, const uint8_t *data, size_t len)
{
    if (ss->pending_len == 0) {
        size_t n = mpl_http_sconn_input_space(ss->http);
        if (n > len)
            n = len;
        if (n > 0)
            mpl_http_sconn_input(ss->http, data, n);
        data += n;
        len -= n;
    }
    if (len == 0)
        return;
    if (ss->pending_len + len > ss->pending_cap) {
        size_t cap = ss->pending_cap ? ss->pending_cap : 4096;
        while (cap < ss->pending_len + len)
            cap *= 2;
        uint8_t *p = realloc(ss->pending, cap);
        if (p == NULL)
            return;
        ss->pending = p;
        ss->pending_cap = cap;
    }
    memcpy(ss->pending + ss->pending_len, data, len);
    ss->pending_len += len;
}

static void
on_data(tcpls_session_t *s, uint32_t id, const uint8_t *data, size_t len, int fin, void *ud)
{
    sess_t *se = ud;
    sstream_t *ss = find_stream(se, id);
    if (ss == NULL)
        return;
    se->srv->st->bytes_received += len;
    if (len > 0)
        feed(ss, data, len);
    if (fin)
        ss->eof_pending = 1;
}

static void
on_stream_closed(tcpls_session_t *s, uint32_t id, void *ud)
{
    sstream_t *ss = find_stream(ud, id);
    if (ss != NULL)
        ss->closed = 1; /* freed by pump(), outside the library's call */
}

static void
on_closed(tcpls_session_t *s, int err, void *ud)
{
    sess_t *se = ud;
    se->dead = 1;
    /* A plain TLS client that drops the connection after its responses is not an error. */
    if (err != 0 && !(err == TCPLS_ERR_TRUNCATED && se->streams == NULL)) {
        se->srv->st->errors++;
        if (!se->srv->cfg->quiet)
            mpl_info("%s: session ended: %s", se->peer, tcpls_strerror(err));
    }
}

static const tcpls_ops_t server_ops = {NULL, on_opened, on_data, NULL, on_stream_closed, on_closed, NULL};

static void
free_stream(srv_t *sv, sstream_t *ss)
{
    sv->st->requests += mpl_http_sconn_requests(ss->http);
    if (mpl_http_sconn_had_error(ss->http))
        sv->st->errors++;
    mpl_http_sconn_free(ss->http);
    free(ss->pending);
    free(ss);
}

/* Moves bytes between the HTTP objects and the session, then to the socket. */
static void
pump(sess_t *se)
{
    srv_t *sv = se->srv;
    int plain = !tcpls_session_is_tcpls(se->s), all_done = se->streams != NULL, blocked = 0;

    for (sstream_t **pp = &se->streams; *pp != NULL;) {
        sstream_t *ss = *pp;
        if (ss->pending_len > 0) {
            size_t n = mpl_http_sconn_input_space(ss->http);
            if (n > ss->pending_len)
                n = ss->pending_len;
            if (n > 0) {
                mpl_http_sconn_input(ss->http, ss->pending, n);
                memmove(ss->pending, ss->pending + n, ss->pending_len - n);
                ss->pending_len -= n;
            }
        }
        if (ss->eof_pending && !ss->eof_done && ss->pending_len == 0) {
            mpl_http_sconn_input_eof(ss->http);
            ss->eof_done = 1;
        }
        while (!ss->fin_sent && !se->dead) {
            const uint8_t *p;
            size_t n, acc = 0;
            int r = mpl_http_sconn_output(ss->http, &p, &n);
            if (r < 0) {
                se->http_error = 1;
                break;
            }
            if (r == 0)
                break;
            if (tcpls_stream_write(se->s, ss->id, p, n, 0, &acc) != 0)
                break;
            mpl_http_sconn_consumed(ss->http, acc);
            sv->st->bytes_sent += acc;
            if (acc < n) {
                blocked = 1;
                break;
            }
        }
        if (!ss->fin_sent && !se->dead && (mpl_http_sconn_done(ss->http) || se->http_error)) {
            size_t acc;
            ss->fin_sent = 1;
            tcpls_stream_write(se->s, ss->id, NULL, 0, 1, &acc);
        }
        if (!ss->fin_sent)
            all_done = 0;
        if (ss->closed || (plain && ss->fin_sent && se->dead)) {
            *pp = ss->next;
            free_stream(sv, ss);
            continue;
        }
        pp = &ss->next;
    }
    /* Plain TLS has no streams to end: the connection ends with the exchange. */
    if (plain && all_done && !se->dead)
        tcpls_session_close(se->s);
    int r = tcpls_io_write(se->s, 0, se->fd);
    /* Plain TLS output is bounded by what waits to be written, not by acknowledgments: once
     * it drained, come back (the socket is writable) for the rest of the response. */
    if (r == 0 && plain && blocked)
        r = 1;
    if (r < 0) {
        se->dead = 1;
        se->want_out = 0;
        return;
    }
    if ((r == 1) != se->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | (r == 1 ? EPOLLOUT : 0), .data.ptr = se};
        se->want_out = r == 1;
        epoll_ctl(sv->ep, EPOLL_CTL_MOD, se->fd, &ev);
    }
}

static void
sess_free(sess_t *se)
{
    srv_t *sv = se->srv;
    for (sess_t **pp = &sv->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == se) {
            *pp = se->next;
            break;
        }
    }
    epoll_ctl(sv->ep, EPOLL_CTL_DEL, se->fd, NULL);
    close(se->fd);
    while (se->streams) {
        sstream_t *ss = se->streams;
        se->streams = ss->next;
        free_stream(sv, ss);
    }
    tcpls_session_free(se->s);
    free(se);
}

static void
accept_all(srv_t *sv, int lfd)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        sess_t *se = calloc(1, sizeof(*se));
        if (se == NULL) {
            close(fd);
            continue;
        }
        se->srv = sv;
        se->fd = fd;
        se->last_ns = mpl_now_ns();
        mpl_fmt_addr((struct sockaddr *)&ss, 1, se->peer, sizeof(se->peer));
        if ((se->s = tcpls_session_new(sv->ctx, &server_ops, se, NULL)) == NULL) {
            close(fd);
            free(se);
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = se};
        epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev);
        se->next = sv->sessions;
        sv->sessions = se;
        sv->st->connections++;
    }
}

/* The tcpls context takes the certificate and key that cmd_serve loaded into cfg->ssl_ctx. */
static tcpls_ctx_t *
make_ctx(const mpl_server_cfg_t *cfg, char *err, size_t errlen)
{
    tcpls_ctx_config_t tc = {.is_server = 1};
    tcpls_ctx_t *ctx = tcpls_ctx_new(&tc, err, errlen);
    if (ctx == NULL)
        return NULL;
    SSL_CTX *sc = tcpls_ctx_ssl_ctx(ctx);
    X509 *cert = cfg->ssl_ctx ? SSL_CTX_get0_certificate(cfg->ssl_ctx) : NULL;
    EVP_PKEY *key = cfg->ssl_ctx ? SSL_CTX_get0_privatekey(cfg->ssl_ctx) : NULL;
    STACK_OF(X509) *chain = NULL;
    if (cert == NULL || key == NULL || SSL_CTX_use_certificate(sc, cert) != 1 ||
        SSL_CTX_use_PrivateKey(sc, key) != 1) {
        snprintf(err, errlen, "tcpls: no server certificate/key");
        tcpls_ctx_free(ctx);
        return NULL;
    }
    if (SSL_CTX_get0_chain_certs(cfg->ssl_ctx, &chain) == 1 && chain != NULL)
        SSL_CTX_set1_chain(sc, chain);
    return ctx;
}

int
mpl_tcpls_serve(const mpl_server_cfg_t *cfg, mpl_server_stats_t *stats, char *err, size_t errlen)
{
    srv_t sv = {.cfg = cfg, .st = stats, .ep = -1};
    int lfds[MPL_SERVER_MAX_LISTEN], nl = 0, rc = -1;
    double idle = cfg->idle_timeout_s > 0 ? cfg->idle_timeout_s : 120.0;
    uint64_t last_sweep = mpl_now_ns();

    sv.hcfg.root = cfg->root;
    sv.hcfg.quiet = cfg->quiet;
    if ((sv.ctx = make_ctx(cfg, err, errlen)) == NULL)
        return -1;
    if ((sv.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto exit;
    }
    for (size_t i = 0; i < cfg->n_listen; i++) {
        char a[80];
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = mpl_listen(cfg->tp, (const struct sockaddr *)&cfg->listen[i], cfg->listen_len[i], cfg->cc,
                            err, errlen);
        if (fd < 0)
            goto exit;
        lfds[nl++] = fd;
        mpl_set_nonblock(fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        ev.data.u64 = (uint64_t)i; /* listening sockets: small integers, sessions: pointers */
        epoll_ctl(sv.ep, EPOLL_CTL_ADD, fd, &ev);
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        fprintf(stderr, "listening on %s (tcpls)\n", mpl_fmt_addr((struct sockaddr *)&ss, 1, a, sizeof(a)));
    }
    while (!*cfg->stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(sv.ep, evs, 64, 200);
        uint64_t now = mpl_now_ns();
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            goto exit;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 < MPL_SERVER_MAX_LISTEN) {
                accept_all(&sv, lfds[evs[i].data.u64]);
                continue;
            }
            sess_t *se = evs[i].data.ptr;
            se->last_ns = now;
            if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !se->dead)
                tcpls_io_read(se->s, 0, se->fd, now);
            pump(se);
            if (se->dead && !se->want_out)
                sess_free(se);
        }
        if (now - last_sweep > 1000000000ull) {
            last_sweep = now;
            for (sess_t *se = sv.sessions, *next; se; se = next) {
                next = se->next;
                /* last_ns may be later than now (accepted during this round) */
                if (se->last_ns < now && now - se->last_ns > (uint64_t)(idle * 1e9))
                    sess_free(se);
            }
        }
    }
    rc = 0;
exit:
    while (sv.sessions)
        sess_free(sv.sessions);
    for (int i = 0; i < nl; i++)
        close(lfds[i]);
    if (sv.ep >= 0)
        close(sv.ep);
    tcpls_ctx_free(sv.ctx);
    return rc;
}
