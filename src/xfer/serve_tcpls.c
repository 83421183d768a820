/*
 * serve_tcpls.c — 'mplab serve --proto tcpls' (see server.h): an epoll loop over libtcpls
 * sessions. Every TCPLS stream is one HTTP exchange driven by its own mpl_http_sconn_t; a
 * client without the tcpls extension (curl, --proto tls) gets plain TLS from the same port and
 * is served as one HTTP connection on stream 0. A session that fails (tampered records,
 * garbage, reset) is closed alone; the others go on.
 */
#include "xfer/paths.h"
#include "xfer/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "netinfo/linkwatch.h"
#include "xfer/accept.h"
#include "netinfo/tcp_metrics.h"
#include "xfer/http.h"
#include "xfer/tcpls_upkeep.h"
#include "tcpls.h"
#include "common/util.h"

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

/* One TCP connection of a session: a joining connection arrives as a fresh session of its own
 * and moves to the session it joined once its handshake completed. */
typedef struct sconn {
    struct sconn *next;
    sess_t *se;
    int fd;
    uint32_t id;
    int want_out, dead, multipath_opts;
    char peer[80];
    struct sockaddr_storage addr;
} sconn_t;

struct sess {
    sess_t *next;
    srv_t *srv;
    sconn_t *conns;
    tcpls_session_t *s;
    sstream_t *streams;
    int dead, want_out, http_error;
    int got_request; /* a stream received a complete request head */
    uint64_t last_ns, started_ns;
    mpl_upkeep_t upkeep;
    char peer[80];
};

struct srv {
    const mpl_server_cfg_t *cfg;
    mpl_server_stats_t *st;
    int ep;
    tcpls_ctx_t *ctx;
    mpl_acceptor_t acc;
    mpl_http_server_cfg_t hcfg;
    sess_t *sessions;
    struct epoll_event *evs; /* the batch being handled: events of a freed connection are voided */
    int nevs;
};

#define EV_LINKWATCH MPL_ACCEPT_TAG(MPL_SERVER_MAX_LISTEN)     /* data.u64 of the rtnetlink socket */
#define EV_VOID      MPL_ACCEPT_TAG(MPL_SERVER_MAX_LISTEN + 1) /* an event whose connection was freed */

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
    /* get --streams-policy: the client asks how the server's responses use the connections */
    if (mpl_http_sconn_streams_policy(ss->http) != 0)
        tcpls_session_set_stream_policy(
            s, mpl_http_sconn_streams_policy(ss->http) == 2 ? TCPLS_STREAMS_PIN : TCPLS_STREAMS_SPREAD);
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
on_conn_state(tcpls_session_t *s, uint32_t id, int state, int err, void *ud)
{
    sess_t *se = ud;
    for (sconn_t *sc = se->conns; sc; sc = sc->next) {
        if (sc->id != id)
            continue;
        if (state == 2) {
            sc->dead = 1;
            if (!se->srv->cfg->quiet)
                mpl_info("%s: connection %u (%s) closed%s%s", se->peer, id, sc->peer, err ? ": " : "",
                         err ? tcpls_strerror(err) : "");
        }
    }
}

static void
on_closed(tcpls_session_t *s, int err, void *ud)
{
    sess_t *se = ud;
    se->dead = 1;
    if (err == TCPLS_ERR_TOKEN) {
        se->srv->st->errors++;
        mpl_info("%s: join refused (forged, reused or exhausted token): illegal_parameter", se->peer);
        return;
    }
    /* A plain TLS client that drops the connection after its responses is not an error. */
    if (err != 0 && !(err == TCPLS_ERR_TRUNCATED && se->streams == NULL)) {
        se->srv->st->errors++;
        if (!se->srv->cfg->quiet)
            mpl_info("%s: session ended: %s", se->peer, tcpls_strerror(err));
    }
}

static const tcpls_ops_t server_ops = {NULL,      on_opened,    on_data, NULL, on_stream_closed,
                                       on_closed, on_conn_state};

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

static void
sconn_close(srv_t *sv, sconn_t *sc)
{
    /* events of this batch not handled yet must not reach the freed connection */
    for (int i = 0; i < sv->nevs; i++)
        if (sv->evs[i].data.ptr == sc)
            sv->evs[i].data.u64 = EV_VOID;
    mpl_acceptor_release(&sv->acc, &sc->addr);
    epoll_ctl(sv->ep, EPOLL_CTL_DEL, sc->fd, NULL);
    close(sc->fd);
    free(sc);
}

/* 1 when the client sent Remove Address for the address this connection comes from. */
static int
peer_address_removed(tcpls_session_t *s, const struct sockaddr_storage *ss)
{
    for (size_t i = 0; i < tcpls_session_peer_address_count(s); i++) {
        tcpls_addr_t a;
        if (tcpls_session_peer_address(s, i, &a) == 0 && a.removed && mpl_paths_addr_is(ss, &a))
            return 1;
    }
    return 0;
}

/* Multipath upkeep (tcpls_upkeep.h), with short kernel send queues and a user timeout once a
 * session has several connections. Multipath from the start when the client advertised
 * several addresses (it will join): short kernel queues before the first join keep the first
 * path from taking a queue that the joined ones would wait for. */
static void
conns_upkeep(sess_t *se, uint64_t now)
{
    int multi = tcpls_conn_count(se->s) > 1 || tcpls_session_peer_address_count(se->s) > 1;

    tcpls_session_set_time(se->s, now);
    if (!mpl_upkeep_due(&se->upkeep, now, multi))
        return;
    for (sconn_t *sc = se->conns; sc; sc = sc->next) {
        if (sc->dead)
            continue;
        if (peer_address_removed(se->s, &sc->addr) && tcpls_conn_live_count(se->s) > 1) {
            /* Remove Address: the client no longer wants its connections from there */
            mpl_info("%s: connection %u (%s): the client removed that address, closing it", se->peer, sc->id,
                     sc->peer);
            tcpls_conn_failed(se->s, sc->id, 0);
            continue;
        }
        if (!sc->multipath_opts) {
            sc->multipath_opts = 1;
            mpl_tcp_multipath_opts(sc->fd, 128 * 1024, mpl_upkeep_user_timeout_ms(&se->upkeep));
        }
        mpl_upkeep_conn(&se->upkeep, se->s, sc->id, sc->fd, sc->peer, now);
    }
}

/* Writes every connection's output; drops connections that are gone. */
static void
pump_conns(sess_t *se, int plain_blocked)
{
    srv_t *sv = se->srv;
    int any_out = 0;

    for (sconn_t **pp = &se->conns; *pp != NULL;) {
        sconn_t *sc = *pp;
        int r = sc->dead ? -1 : tcpls_io_write(se->s, sc->id, sc->fd);
        /* Plain TLS output is bounded by what waits to be written, not by acknowledgments: once
         * it drained, come back (the socket is writable) for the rest of the response. */
        if (r == 0 && plain_blocked)
            r = 1;
        if (r < 0) {
            /* The library decides: failover to the other connections, a session that waits
             * for the client to join again (its last connection, the client has other
             * addresses or tokens), or the end (on_closed). Ending it here when the last
             * connection failed lost sessions whose connections were all reset at once: the
             * client came back with a token the server no longer knew. */
            if (!sc->dead && !se->dead)
                tcpls_conn_failed(se->s, sc->id, TCPLS_ERR_CONN_FAILED);
            if (tcpls_session_is_closed(se->s))
                se->dead = 1;
            sc->dead = 1;
            if (sc->dead) {
                *pp = sc->next;
                sconn_close(sv, sc);
                continue;
            }
            r = 0;
        }
        if ((r == 1) != sc->want_out) {
            struct epoll_event ev = {.events = EPOLLIN | (r == 1 ? EPOLLOUT : 0), .data.ptr = sc};
            sc->want_out = r == 1;
            epoll_ctl(sv->ep, EPOLL_CTL_MOD, sc->fd, &ev);
        }
        any_out |= sc->want_out;
        pp = &sc->next;
    }
    se->want_out = any_out;
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
        if (mpl_http_sconn_requests(ss->http) > 0)
            se->got_request = 1;
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
    pump_conns(se, plain && blocked);
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
    while (se->conns) {
        sconn_t *sc = se->conns;
        se->conns = sc->next;
        sconn_close(sv, sc);
    }
    while (se->streams) {
        sstream_t *ss = se->streams;
        se->streams = ss->next;
        free_stream(sv, ss);
    }
    sv->st->reinjected_bytes += tcpls_session_reinjected_bytes(se->s);
    tcpls_session_free(se->s);
    free(se);
}

/* New Address frames: every --listen address that is not a wildcard (where clients may join). */
static void
advertise_addresses(srv_t *sv, tcpls_session_t *s)
{
    for (size_t i = 0; i < sv->cfg->n_listen; i++)
        tcpls_io_add_address(s, (uint8_t)(i + 1), (const struct sockaddr *)&sv->cfg->listen[i]);
}

/* A fresh session whose handshake was a join: its connection moves to the session it joined. */
static sess_t *
adopt_joined(srv_t *sv, sess_t *se)
{
    tcpls_session_t *t;
    uint32_t id;
    sess_t *ts;
    sconn_t *sc = se->conns;

    if (sc == NULL || sc->next != NULL || !tcpls_session_joined(se->s, &t, &id) ||
        (ts = tcpls_session_user_data(t)) == NULL)
        return se;
    se->conns = NULL;
    sc->se = ts;
    sc->id = id;
    sc->next = ts->conns;
    ts->conns = sc;
    sv->st->connections--; /* counted once per session */
    if (!sv->cfg->quiet)
        mpl_info("%s: connection %u joined from %s", ts->peer, id, sc->peer);
    sess_free(se);
    return ts;
}

static void
accept_all(srv_t *sv, int li)
{
    struct sockaddr_storage ss;
    int fd;

    while ((fd = mpl_acceptor_accept(&sv->acc, li, &ss)) >= 0) {
        sess_t *se = calloc(1, sizeof(*se));
        sconn_t *sc = calloc(1, sizeof(*sc));
        if (se == NULL || sc == NULL || (se->s = tcpls_session_new(sv->ctx, &server_ops, se, NULL)) == NULL) {
            mpl_acceptor_release(&sv->acc, &ss);
            close(fd);
            free(se);
            free(sc);
            continue;
        }
        se->srv = sv;
        se->upkeep =
            (mpl_upkeep_t){.blackhole_s = sv->cfg->blackhole_s, .quiet = sv->cfg->quiet, .who = se->peer};
        sc->fd = fd;
        sc->se = se;
        sc->addr = ss;
        se->conns = sc;
        se->last_ns = se->started_ns = mpl_now_ns();
        mpl_fmt_addr((struct sockaddr *)&ss, 1, se->peer, sizeof(se->peer));
        snprintf(sc->peer, sizeof(sc->peer), "%s", se->peer);
        advertise_addresses(sv, se->s);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = sc};
        epoll_ctl(sv->ep, EPOLL_CTL_ADD, fd, &ev);
        se->next = sv->sessions;
        sv->sessions = se;
        sv->st->connections++;
    }
}

/* Out of descriptors (accept.h): frees the session idle longest among those without a request
 * yet or without a stream in progress. Returns 1 when it freed one. */
static int
shed_idle(void *ud)
{
    srv_t *sv = ud;
    sess_t *oldest = NULL;
    for (sess_t *se = sv->sessions; se; se = se->next)
        if ((!se->got_request || se->streams == NULL) && (oldest == NULL || se->last_ns < oldest->last_ns))
            oldest = se;
    if (oldest == NULL)
        return 0;
    mpl_debug("%s: closed (idle, out of descriptors)", oldest->peer);
    sess_free(oldest);
    return 1;
}

/* Sessions without a complete request head header_timeout_s after they connected (handshake
 * included), and sessions idle for idle_timeout_s. */
static void
sweep(srv_t *sv, uint64_t now)
{
    double idle = sv->cfg->idle_timeout_s > 0 ? sv->cfg->idle_timeout_s : 120.0;
    double head = sv->cfg->header_timeout_s > 0 ? sv->cfg->header_timeout_s : 20.0;
    for (sess_t *se = sv->sessions, *next; se; se = next) {
        next = se->next;
        /* last_ns may be later than now (accepted during this round) */
        if (se->last_ns < now && now - se->last_ns > (uint64_t)(idle * 1e9)) {
            sess_free(se);
        } else if (!se->got_request && now > se->started_ns &&
                   now - se->started_ns > (uint64_t)(head * 1e9)) {
            if (!sv->cfg->quiet)
                mpl_info("%s: no complete request head in %.0f s, closed", se->peer, head);
            sess_free(se);
        }
    }
}

/* The tcpls context takes the certificate and key that cmd_serve loaded into cfg->ssl_ctx. */
static tcpls_ctx_t *
make_ctx(const mpl_server_cfg_t *cfg, char *err, size_t errlen)
{
    tcpls_ctx_config_t tc = {.is_server = 1,
                             .tokens = cfg->tcpls_tokens,
                             .scheduler = cfg->tcpls_sched,
                             .join_full_handshake = cfg->tcpls_join_full,
                             .stream_policy = cfg->tcpls_stream_policy};
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

/* A local interface went down or lost its carrier (or an address went away): connections on it
 * fail now, their unacknowledged records go to the session's other connections, instead of
 * waiting for the blackhole timeout. A session's last live connection is left alone (TCP may
 * well survive a short carrier loss). */
static void
links_changed(srv_t *sv)
{
    mpl_ifstate_t *st = mpl_ifstate_get();
    if (st == NULL)
        return;
    for (sess_t *se = sv->sessions; se; se = se->next) {
        int failed = 0;
        if (se->dead || se->conns == NULL || se->conns->next == NULL)
            continue;
        for (sconn_t *sc = se->conns; sc; sc = sc->next)
            if (!sc->dead)
                failed |= mpl_upkeep_link(&se->upkeep, st, se->s, sc->id, sc->fd, sc->peer);
        if (failed)
            pump(se);
    }
    mpl_ifstate_free(st);
}

int
mpl_tcpls_serve(const mpl_server_cfg_t *cfg, mpl_server_stats_t *stats, char *err, size_t errlen)
{
    srv_t sv = {.cfg = cfg, .st = stats, .ep = -1, .acc = {.reserve_fd = -1}};
    int rc = -1, lw = -1;
    uint64_t last_sweep = mpl_now_ns();

    sv.hcfg.root = cfg->root;
    sv.hcfg.quiet = cfg->quiet;
    if ((sv.ctx = make_ctx(cfg, err, errlen)) == NULL)
        return -1;
    if ((sv.ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        snprintf(err, errlen, "epoll_create1: %s", strerror(errno));
        goto exit;
    }
    if (mpl_acceptor_open(&sv.acc, cfg, sv.ep, shed_idle, &sv, err, errlen) != 0)
        goto exit;
    if ((lw = mpl_linkwatch_open()) >= 0) {
        struct epoll_event ev = {.events = EPOLLIN};
        ev.data.u64 = EV_LINKWATCH; /* not a listener index, not a pointer */
        epoll_ctl(sv.ep, EPOLL_CTL_ADD, lw, &ev);
    }
    while (!*cfg->stop) {
        struct epoll_event evs[64];
        int n = epoll_wait(sv.ep, evs, 64, 200);
        uint64_t now = mpl_now_ns();
        if (n < 0 && errno != EINTR) {
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            goto exit;
        }
        sv.evs = evs;
        sv.nevs = n > 0 ? n : 0;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == EV_VOID)
                continue;
            if (evs[i].data.u64 == EV_LINKWATCH) {
                if (mpl_linkwatch_drain(lw))
                    links_changed(&sv);
                continue;
            }
            int li = mpl_acceptor_listener(&sv.acc, evs[i].data.u64);
            if (li >= 0) {
                accept_all(&sv, li);
                continue;
            }
            sconn_t *sc = evs[i].data.ptr;
            sess_t *se = sc->se;
            se->last_ns = now;
            if ((evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !se->dead && !sc->dead)
                tcpls_io_read(se->s, sc->id, sc->fd, now);
            se = adopt_joined(&sv, se);
            conns_upkeep(se, now);
            pump(se);
            if (se->dead && !se->want_out)
                sess_free(se);
        }
        sv.nevs = 0;
        /* sessions with several connections: blackhole checks even without events; joins
         * that waited for their session's handshake resume (tcpls_session_join_waiting) */
        for (sess_t *se = sv.sessions, *next; se; se = next) {
            next = se->next;
            if (tcpls_session_join_waiting(se->s)) {
                conns_upkeep(se, now);
                se = adopt_joined(&sv, se);
                pump(se);
                if (se->dead && !se->want_out)
                    sess_free(se);
            } else if (se->conns != NULL && se->conns->next != NULL && !se->dead) {
                conns_upkeep(se, now);
                pump(se);
            }
        }
        mpl_acceptor_tick(&sv.acc, now);
        if (now - last_sweep > 1000000000ull) {
            last_sweep = now;
            sweep(&sv, now);
        }
    }
    rc = 0;
exit:
    while (sv.sessions)
        sess_free(sv.sessions);
    mpl_acceptor_close(&sv.acc);
    if (lw >= 0)
        close(lw);
    if (sv.ep >= 0)
        close(sv.ep);
    tcpls_ctx_free(sv.ctx);
    return rc;
}
