/*
 * get_tcpls.c — 'mplab get --proto tcpls' (see client.h): one TCPLS session to the server,
 * one stream per URL, all URLs fetched concurrently. Each response goes through its own
 * mpl_http_cresp_t into the shared body sink; /bytes/N bodies are verified at their own
 * offsets. With several URLs the bodies interleave, so the sink's SHA-256 covers the bytes in
 * arrival order (with one URL it is the body's digest, as for the other protocols).
 */
#include "xfer/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "xfer/bytesgen.h"
#include "xfer/http.h"
#include "netinfo/linkwatch.h"
#include "netinfo/tcp_metrics.h"
#include "tcpls.h"
#include "common/util.h"

#define MAX_PATHS (MPL_CLIENT_MAX_BIND * 4)

/* A path: (local address, server address) pair chosen by the path policy. */
typedef struct path {
    int bind_idx; /* index in cfg->bind, -1 = any local address */
    struct sockaddr_storage remote;
    socklen_t remote_len;
    int backup;
    int conn;          /* index in g->conns using it, -1 none */
    uint64_t retry_ns; /* no join on this path before */
} path_t;

/* One TCP connection of the session. */
typedef struct cconn {
    int fd;
    uint32_t id;
    int path;
    int state; /* 0 connecting / handshaking, 1 up, 2 gone */
    int err;
    char local[80], remote[80];
    uint64_t last_rx;
    mpl_tcpls_sample_t *series;
    size_t n_series, cap_series;
} cconn_t;

typedef struct cstream {
    uint32_t id;
    const char *url;
    mpl_url_t u;
    mpl_http_cresp_t *resp;
    int64_t bytes_n;
    /* the sink's per-response state while another stream uses the sink */
    int64_t sink_bytes_n;
    uint64_t sink_cur, sink_expected;
    int started, done;
    uint64_t up_off; /* --upload: request body bytes queued so far */
    int up_fin;      /* the body (and the stream's sending side) is complete */
} cstream_t;

typedef struct getter {
    const mpl_client_cfg_t *cfg;
    mpl_client_result_t *res;
    tcpls_session_t *s;
    cstream_t *streams;
    size_t n, n_done;
    int failed, closed, close_err;
    path_t paths[MAX_PATHS];
    size_t npaths;
    const char *inject;
    uint8_t *first_hello; /* test hook replay-token: the first join's ClientHello */
    size_t first_hello_len;
    int forged, replayed;
    uint64_t established_ns;
    cconn_t conns[MPL_TCPLS_MAX_CONNS];
    size_t nconns;
    int migrated;
    unsigned char prio_done[MPL_CLIENT_MAX_PRIO];
} getter_t;

static int fail(getter_t *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(getter_t *g, const char *fmt, ...)
{
    va_list ap;
    if (!g->failed) {
        va_start(ap, fmt);
        vsnprintf(g->res->error, sizeof(g->res->error), fmt, ap);
        va_end(ap);
    }
    g->failed = 1;
    return -1;
}

/* The stream's response in progress: with TCPLS one per stream; over the plain TLS fallback
 * the responses follow each other on stream 0. */
static cstream_t *
find(getter_t *g, uint32_t id)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->streams[i].started && !g->streams[i].done && g->streams[i].id == id)
            return &g->streams[i];
    return NULL;
}

static int send_request(getter_t *g, cstream_t *cs, int keep_alive);
static void pump_uploads(getter_t *g);

/* The server is gone: the first unfinished URL and its bytes, as src/xfer/client.c says it. */
static void
fail_server_gone(getter_t *g, const char *how)
{
    for (size_t i = 0; i < g->n; i++) {
        const cstream_t *cs = &g->streams[i];
        if (cs->done || cs->resp == NULL)
            continue;
        if (mpl_http_cresp_head_done(cs->resp) && mpl_http_cresp_head(cs->resp)->has_content_length)
            fail(g, "%s: %s after %llu of %llu bytes", cs->url, how,
                 (unsigned long long)mpl_http_cresp_body_bytes(cs->resp),
                 (unsigned long long)mpl_http_cresp_head(cs->resp)->content_length);
        else
            fail(g, "%s: %s before a complete response", cs->url, how);
        return;
    }
    fail(g, "%s", how);
}

/* Feeds one response; returns the bytes of data it took. */
static size_t
feed_response(getter_t *g, cstream_t *cs, const uint8_t *data, size_t len, int fin)
{
    mpl_body_sink_t *sink = g->cfg->sink, *body_sink = g->cfg->upload > 0 ? NULL : sink;
    size_t taken = 0;

    if (body_sink != NULL) {
        sink->bytes_n = cs->sink_bytes_n;
        sink->cur = cs->sink_cur;
        sink->expected = cs->sink_expected;
    }
    while (taken < len && !cs->done) {
        size_t used = 0;
        int r = mpl_http_cresp_input(cs->resp, data + taken, len - taken, &used, body_sink);
        if (r < 0) {
            fail(g, "%s: %s", cs->url, mpl_http_cresp_error(cs->resp));
            cs->done = 1;
            break;
        }
        taken += used;
        if (r == 1)
            cs->done = 1;
        else if (used == 0)
            break;
    }
    if (fin && !cs->done && taken == len) {
        if (!mpl_http_cresp_eof(cs->resp))
            fail(g, "%s: stream ended before a complete response", cs->url);
        cs->done = 1;
    }
    if (sink->mismatch && !g->failed)
        fail(g, "%s: /bytes content mismatch at offset %llu", cs->url, (unsigned long long)sink->mismatch_at);
    if (sink->write_error && !g->failed)
        fail(g, "writing the output failed: %s", strerror(sink->write_error));
    if (body_sink != NULL) {
        cs->sink_bytes_n = sink->bytes_n;
        cs->sink_cur = sink->cur;
        cs->sink_expected = sink->expected;
    }
    if (cs->done) {
        g->n_done++;
        if (mpl_http_cresp_head_done(cs->resp)) {
            int st = mpl_http_cresp_head(cs->resp)->status;
            g->res->status = st;
            if ((st < 200 || st > 299) && !g->failed)
                fail(g, "%s: HTTP status %d", cs->url, st);
        }
    }
    return taken;
}

static void
on_data(tcpls_session_t *s, uint32_t id, const uint8_t *data, size_t len, int fin, void *ud)
{
    getter_t *g = ud;
    cstream_t *cs;

    while ((cs = find(g, id)) != NULL && !g->failed) {
        size_t taken = feed_response(g, cs, data, len, fin);
        data += taken;
        len -= taken;
        if (!cs->done)
            break;
        /* plain TLS: the next request goes out once this response is complete */
        size_t next = (size_t)(cs - g->streams) + 1;
        if (!tcpls_session_is_tcpls(s) && next < g->n && !g->streams[next].started) {
            g->streams[next].id = cs->id;
            g->streams[next].started = 1;
            send_request(g, &g->streams[next], next + 1 < g->n);
        }
        if (len == 0 && !fin)
            break;
    }
}

static void
on_closed(tcpls_session_t *s, int err, void *ud)
{
    getter_t *g = ud;
    g->closed = 1;
    g->close_err = err;
}

static cconn_t *
conn_by_id(getter_t *g, uint32_t id)
{
    /* a closed connection's id may come back (a join whose token was returned): never it */
    for (size_t i = 0; i < g->nconns; i++)
        if (g->conns[i].id == id && g->conns[i].fd >= 0 && g->conns[i].state != 2)
            return &g->conns[i];
    return NULL;
}

static void
on_conn_state(tcpls_session_t *s, uint32_t id, int state, int err, void *ud)
{
    getter_t *g = ud;
    cconn_t *c = conn_by_id(g, id);
    if (c == NULL)
        return;
    c->state = state;
    c->err = err;
    if (state == 2) {
        path_t *p = &g->paths[c->path];
        p->conn = -1;
        p->retry_ns = mpl_now_ns() + 1000000000ull; /* the same path again in 1 s at the earliest */
        mpl_info("connection %u (%s -> %s) %s%s%s", id, c->local, c->remote, err ? "failed" : "closed",
                 err ? ": " : "", err ? tcpls_strerror(err) : "");
    }
}

static const tcpls_ops_t client_ops = {NULL, NULL, on_data, NULL, NULL, on_closed, on_conn_state};

static int
send_request(getter_t *g, cstream_t *cs, int keep_alive)
{
    char req[4096];
    size_t acc = 0;
    uint64_t up = g->cfg->upload;
    int len = mpl_http_build_request(req, sizeof(req),
                                     up > 0         ? "POST"
                                     : g->cfg->head ? "HEAD"
                                                    : "GET",
                                     cs->u.host, cs->u.path, up, keep_alive);
    if (len < 0)
        return fail(g, "%s: request too long", cs->url);
    /* TCPLS: the request (with its body, see pump_uploads) ends the stream's sending side;
     * plain TLS: the connection goes on */
    if (tcpls_stream_write(g->s, cs->id, req, (size_t)len, up == 0 && tcpls_session_is_tcpls(g->s), &acc) !=
            0 ||
        acc != (size_t)len)
        return fail(g, "cannot send the request for %s", cs->url);
    cs->up_fin = up == 0;
    pump_uploads(g);
    return 0;
}

/* --upload: queues the request bodies (/bytes/N content) of the started streams as far as the
 * session's send buffers take them; the scheduler spreads them over the connections. The sink
 * counts the bytes queued (progress, intervals, goodput), as src/xfer/client.c does. */
static void
pump_uploads(getter_t *g)
{
    static uint8_t buf[65536];
    uint64_t total = g->cfg->upload;
    if (total == 0)
        return;
    for (size_t i = 0; i < g->n && !g->failed; i++) {
        cstream_t *cs = &g->streams[i];
        if (!cs->started || cs->up_fin)
            continue;
        if (cs->up_off == 0)
            mpl_sink_begin(g->cfg->sink, -1, total);
        while (cs->up_off < total) {
            size_t n = total - cs->up_off < sizeof(buf) ? (size_t)(total - cs->up_off) : sizeof(buf), acc = 0;
            mpl_bytes_fill(cs->up_off, buf, n);
            if (tcpls_stream_write(g->s, cs->id, buf, n, 0, &acc) != 0) {
                fail(g, "%s: cannot send the request body", cs->url);
                return;
            }
            if (acc > 0)
                mpl_sink_write(g->cfg->sink, buf, acc);
            cs->up_off += acc;
            if (acc < n)
                break; /* send buffer full: more when acknowledgments free it */
        }
        if (cs->up_off == total) {
            size_t acc;
            if (tcpls_session_is_tcpls(g->s) && tcpls_stream_write(g->s, cs->id, NULL, 0, 1, &acc) != 0)
                return;
            cs->up_fin = 1;
            mpl_sink_end(g->cfg->sink);
        }
    }
}

static int
start_streams(getter_t *g)
{
    int tcpls = tcpls_session_is_tcpls(g->s);
    for (size_t i = 0; i < (tcpls ? g->n : 1); i++) {
        cstream_t *cs = &g->streams[i];
        if (tcpls_stream_open(g->s, &cs->id) != 0)
            return fail(g, "cannot open a stream for %s", cs->url);
        cs->started = 1;
        if (send_request(g, cs, !tcpls && g->n > 1) != 0)
            return -1;
    }
    return 0;
}

static int
connect_to(getter_t *g, const mpl_url_t *u, int port)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    char ps[16], why[256] = "no address";
    int fd = -1;

    snprintf(ps, sizeof(ps), "%d", port);
    int gr = getaddrinfo(u->host, ps, &hints, &ai);
    if (gr != 0)
        return fail(g, "cannot resolve %s: %s", u->host, gai_strerror(gr));
    for (struct addrinfo *a = ai; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0)
            continue;
        if (mpl_set_cc(fd, cfg->cc, why, sizeof(why)) != 0)
            goto bad;
        for (size_t i = 0; i < cfg->n_bind; i++) {
            if (cfg->bind[i].ss_family != a->ai_family)
                continue;
            if (bind(fd, (const struct sockaddr *)&cfg->bind[i], cfg->bind_len[i]) != 0) {
                snprintf(why, sizeof(why), "cannot bind: %s", strerror(errno));
                goto bad;
            }
            break;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            snprintf(why, sizeof(why), "%s", strerror(errno));
            goto bad;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (poll(&pfd, 1, (int)(cfg->timeout_s * 1000)) <= 0) {
            snprintf(why, sizeof(why), "connection timed out after %.1f s", cfg->timeout_s);
            goto bad;
        }
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr != 0) {
            snprintf(why, sizeof(why), "%s", strerror(soerr));
            goto bad;
        }
        continue;
    bad:
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return fail(g, "cannot connect to %s port %d: %s", u->host, port, why);
    return fd;
}

/* A client tcpls context that verifies like cfg->ssl_ctx (same CA store and verify mode). */
static tcpls_ctx_t *
make_ctx(const mpl_client_cfg_t *cfg, char *err, size_t errlen)
{
    tcpls_ctx_config_t tc = {.is_server = 0, .insecure = 1, .join_full_handshake = cfg->tcpls_join_full};
    tcpls_ctx_t *ctx = tcpls_ctx_new(&tc, err, errlen);
    if (ctx == NULL || cfg->ssl_ctx == NULL)
        return ctx;
    SSL_CTX *sc = tcpls_ctx_ssl_ctx(ctx);
    SSL_CTX_set1_cert_store(sc, SSL_CTX_get_cert_store(cfg->ssl_ctx));
    SSL_CTX_set_verify(sc, SSL_CTX_get_verify_mode(cfg->ssl_ctx), NULL);
    return ctx;
}

static void
fill_addresses(mpl_client_result_t *res, int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        mpl_fmt_addr((struct sockaddr *)&ss, 1, res->local, sizeof(res->local));
    sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        mpl_fmt_addr((struct sockaddr *)&ss, 1, res->remote, sizeof(res->remote));
}

static void
fill_connections(getter_t *g)
{
    mpl_client_result_t *res = g->res;
    res->tcpls = tcpls_session_is_tcpls(g->s);
    snprintf(res->tcpls_cipher, sizeof(res->tcpls_cipher), "%s",
             tcpls_session_cipher(g->s) ? tcpls_session_cipher(g->s) : "");
    res->n_tcpls_conns = 0;
    for (size_t i = 0; i < g->nconns && i < MPL_TCPLS_MAX_CONNS; i++) {
        cconn_t *cc = &g->conns[i];
        tcpls_conn_info_t ci;
        mpl_tcpls_conn_stat_t *c = &res->tcpls_conns[res->n_tcpls_conns];
        size_t k;
        for (k = 0; k < tcpls_conn_count(g->s); k++)
            if (tcpls_conn_info(g->s, k, &ci) == 0 && ci.id == cc->id)
                break;
        if (k == tcpls_conn_count(g->s))
            memset(&ci, 0, sizeof(ci));
        c->id = cc->id;
        snprintf(c->local, sizeof(c->local), "%s", cc->local);
        snprintf(c->remote, sizeof(c->remote), "%s", cc->remote);
        c->bytes_sent = ci.bytes_sent;
        c->bytes_received = ci.bytes_received;
        c->records_sent = ci.records_sent;
        c->records_acked = ci.records_acked;
        c->stream_bytes_received = ci.stream_bytes_received;
        c->backup = ci.backup;
        c->psk_join = ci.psk_join;
        snprintf(c->state, sizeof(c->state), "%s",
                 cc->state == 1               ? "up"
                 : cc->err == TCPLS_ERR_TOKEN ? "refused"
                 : cc->state == 0             ? "joining"
                 : cc->err                    ? "failed"
                                              : "closed");
        c->series = cc->series;
        c->n_series = cc->n_series;
        cc->series = NULL;
        res->n_tcpls_conns++;
    }
}

/* Path 0 is the one connection 0 took: the first --bind address of the server's family. */
static void
make_paths(getter_t *g, int fd0)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    path_t *p = &g->paths[0];

    p->remote_len = sizeof(p->remote);
    if (getpeername(fd0, (struct sockaddr *)&p->remote, &p->remote_len) != 0)
        return;
    p->bind_idx = -1;
    for (size_t b = 0; b < cfg->n_bind; b++) {
        if (cfg->bind[b].ss_family == p->remote.ss_family) {
            p->bind_idx = (int)b;
            break;
        }
    }
    p->backup = p->bind_idx >= 0 && cfg->bind_backup[p->bind_idx];
    p->conn = 0;
    g->npaths = 1;
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 && x->sin6_port == y->sin6_port;
}

/* Leading bits in common (the server address "closest" to a local address: same subnet). */
static int
common_prefix(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    const uint8_t *x, *y;
    size_t n;
    int bits = 0;
    if (a->ss_family != b->ss_family)
        return -1;
    if (a->ss_family == AF_INET) {
        x = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
        y = (const uint8_t *)&((const struct sockaddr_in *)b)->sin_addr;
        n = 4;
    } else {
        x = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
        y = (const uint8_t *)&((const struct sockaddr_in6 *)b)->sin6_addr;
        n = 16;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t d = x[i] ^ y[i];
        if (d == 0) {
            bits += 8;
            continue;
        }
        while (!(d & 0x80)) {
            bits++;
            d <<= 1;
        }
        break;
    }
    return bits;
}

static int
has_path(getter_t *g, int bind_idx, const struct sockaddr_storage *remote)
{
    for (size_t i = 0; i < g->npaths; i++)
        if (g->paths[i].bind_idx == bind_idx && (remote == NULL || same_addr(&g->paths[i].remote, remote)))
            return 1;
    return 0;
}

/* The paths of the policy, from the --bind addresses and the server's addresses (connection
 * 0's and those of its New Address frames): per-local = one per local address, to the server
 * address sharing the longest prefix with it (its subnet); fullmesh = every pair. A removed
 * server address closes its connections. */
static void
update_paths(getter_t *g)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    struct sockaddr_storage rem[9];
    size_t nr = 0, na = tcpls_session_peer_address_count(g->s);
    int fullmesh = cfg->tcpls_paths != NULL && strcmp(cfg->tcpls_paths, "fullmesh") == 0;

    if (g->npaths == 0)
        return;
    rem[nr++] = g->paths[0].remote;
    for (size_t i = 0; i < na && nr < 9; i++) {
        tcpls_addr_t a;
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        if (tcpls_session_peer_address(g->s, i, &a) != 0)
            continue;
        if (a.version == 4) {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            in->sin_family = AF_INET;
            memcpy(&in->sin_addr, a.addr, 4);
            in->sin_port = htons(a.port);
        } else {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            in6->sin6_family = AF_INET6;
            memcpy(&in6->sin6_addr, a.addr, 16);
            in6->sin6_port = htons(a.port);
        }
        if (a.removed) {
            /* Remove Address: stop using it */
            for (size_t k = 0; k < g->npaths; k++) {
                path_t *p = &g->paths[k];
                if (!same_addr(&p->remote, &ss))
                    continue;
                p->retry_ns = UINT64_MAX;
                if (p->conn >= 0 && g->conns[p->conn].state != 2)
                    tcpls_conn_failed(g->s, g->conns[p->conn].id, 0);
            }
            continue;
        }
        int dup = 0;
        for (size_t k = 0; k < nr; k++)
            dup |= same_addr(&rem[k], &ss);
        if (!dup)
            rem[nr++] = ss;
    }
    for (size_t b = 0; b < cfg->n_bind && g->npaths < MAX_PATHS; b++) {
        const struct sockaddr_storage *local = &cfg->bind[b];
        if (fullmesh) {
            for (size_t r = 0; r < nr && g->npaths < MAX_PATHS; r++) {
                if (rem[r].ss_family != local->ss_family || has_path(g, (int)b, &rem[r]))
                    continue;
                path_t *p = &g->paths[g->npaths++];
                memset(p, 0, sizeof(*p));
                p->bind_idx = (int)b;
                p->remote = rem[r];
                p->remote_len =
                    rem[r].ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
                p->backup = cfg->bind_backup[b];
                p->conn = -1;
            }
            continue;
        }
        if (has_path(g, (int)b, NULL))
            continue;
        int best = -1, best_bits = -1;
        for (size_t r = 0; r < nr; r++) {
            int bits = common_prefix(local, &rem[r]);
            if (bits > best_bits) {
                best_bits = bits;
                best = (int)r;
            }
        }
        if (best < 0)
            continue;
        path_t *p = &g->paths[g->npaths++];
        memset(p, 0, sizeof(*p));
        p->bind_idx = (int)b;
        p->remote = rem[best];
        p->remote_len =
            rem[best].ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        p->backup = cfg->bind_backup[b];
        p->conn = -1;
    }
}

static void
conn_names(cconn_t *c, int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        mpl_fmt_addr((struct sockaddr *)&ss, 1, c->local, sizeof(c->local));
    sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        mpl_fmt_addr((struct sockaddr *)&ss, 1, c->remote, sizeof(c->remote));
}

/* Test hooks (MPLAB_TCPLS_INJECT, tests/e2e/tcpls_multipath.sh): "forge-token" flips a bit of
 * the first join's token; "replay-token" keeps the first join's ClientHello to send it again on
 * a new connection once that join worked. */
static void
join_test_hooks(getter_t *g, uint32_t id)
{
#ifdef TCPLS_TESTING
    const uint8_t *out;
    size_t len;
    if (g->inject == NULL || tcpls_conn_output(g->s, id, &out, &len) != 0)
        return;
    if (strcmp(g->inject, "forge-token") == 0 && !g->forged) {
        for (size_t k = 0; k + 4 < len; k++) {
            if (out[k] == 0xff && out[k + 1] == 0x5e && out[k + 2] == 0 && out[k + 3] == 32) {
                ((uint8_t *)out)[k + 4 + 5] ^= 0x10;
                g->forged = 1;
                mpl_info("test hook: forged the token of connection %u", id);
                break;
            }
        }
    }
    if (strcmp(g->inject, "replay-token") == 0 && g->first_hello == NULL &&
        (g->first_hello = malloc(len)) != NULL) {
        memcpy(g->first_hello, out, len);
        g->first_hello_len = len;
    }
#else
    (void)g;
    (void)id;
#endif
}

#ifdef TCPLS_TESTING
/* replay-token: sends the kept ClientHello on a new connection; the server must answer with an
 * illegal_parameter alert. */
static void
replay_hello(getter_t *g, const path_t *p)
{
    uint8_t buf[4096];
    size_t got = 0;
    int fd = socket(p->remote.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    g->replayed = 1;
    if (fd < 0)
        return;
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (const struct sockaddr *)&p->remote, p->remote_len) == 0 &&
        mpl_write_all(fd, g->first_hello, g->first_hello_len) == 0) {
        for (;;) {
            ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            if (got >= 7)
                break;
        }
    }
    close(fd);
    if (got >= 7 && buf[0] == 21 && buf[6] == 47)
        mpl_info("test hook: replayed token refused with illegal_parameter");
    else
        fail(g, "test hook: the replayed token was not refused (%zu bytes back)", got);
}
#endif

/* Joins a connection on path pi: a token, a non-blocking connect; the ClientHello goes out when
 * the socket is writable. Returns 0 or -1 (no token, socket error). */
static int
join_path(getter_t *g, size_t pi)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    path_t *p = &g->paths[pi];
    cconn_t *c;
    char why[256];
    uint32_t id;
    int fd;

    if (g->nconns >= MPL_TCPLS_MAX_CONNS || tcpls_session_token_count(g->s) == 0)
        return -1;
    if (p->bind_idx >= 0) { /* not through an interface that is down or has no carrier */
        mpl_ifstate_t *st = mpl_ifstate_get();
        int usable = mpl_ifstate_addr_usable(st, (const struct sockaddr *)&cfg->bind[p->bind_idx], NULL, 0);
        mpl_ifstate_free(st);
        if (!usable) {
            p->retry_ns = mpl_now_ns() + 200000000ull;
            return -1;
        }
    }
    fd = socket(p->remote.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return -1;
    if (mpl_set_cc(fd, cfg->cc, why, sizeof(why)) != 0 ||
        (p->bind_idx >= 0 &&
         bind(fd, (const struct sockaddr *)&cfg->bind[p->bind_idx], cfg->bind_len[p->bind_idx]) != 0) ||
        (connect(fd, (const struct sockaddr *)&p->remote, p->remote_len) != 0 && errno != EINPROGRESS) ||
        tcpls_join(g->s, p->backup, &id) != 0) {
        close(fd);
        p->retry_ns = mpl_now_ns() + 1000000000ull;
        return -1;
    }
    mpl_tcp_multipath_opts(fd, 128 * 1024, 0);
    join_test_hooks(g, id);
    c = &g->conns[g->nconns];
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->id = id;
    c->path = (int)pi;
    conn_names(c, fd);
    if (p->bind_idx < 0 || c->local[0] == '\0')
        mpl_fmt_addr((const struct sockaddr *)&cfg->bind[p->bind_idx < 0 ? 0 : p->bind_idx], 1, c->local,
                     sizeof(c->local));
    mpl_fmt_addr((const struct sockaddr *)&p->remote, 1, c->remote, sizeof(c->remote));
    p->conn = (int)g->nconns++;
    return 0;
}

static size_t
live_count(getter_t *g)
{
    size_t n = 0;
    for (size_t i = 0; i < g->nconns; i++)
        if (g->conns[i].fd >= 0 && g->conns[i].state != 2)
            n++;
    return n;
}

/* A local interface went down, lost its carrier or an address (rtnetlink): connections on it
 * fail now (their unacknowledged records go to the others) while another connection lives; paths
 * without a connection may be joined again at once (an interface that came back). */
static void
links_changed(getter_t *g)
{
    mpl_ifstate_t *st = mpl_ifstate_get();
    if (st == NULL)
        return;
    for (size_t i = 0; i < g->nconns && !g->closed; i++) {
        cconn_t *c = &g->conns[i];
        char ifn[32];
        if (c->fd < 0 || c->state != 1 || live_count(g) < 2 ||
            mpl_ifstate_sock_usable(st, c->fd, ifn, sizeof(ifn)))
            continue;
        mpl_info("connection %u (%s): interface %s is down, failing over", c->id, c->local, ifn);
        tcpls_conn_failed(g->s, c->id, TCPLS_ERR_CONN_FAILED);
    }
    for (size_t i = 0; i < g->npaths; i++)
        if (g->paths[i].conn < 0 && g->paths[i].retry_ns != UINT64_MAX)
            g->paths[i].retry_ns = 0;
    mpl_ifstate_free(st);
}

/* --backup-at / --normal-at: the connections from that local address change priority (the
 * server learns it from a Connection Priority frame); later joins on its paths follow. */
static void
priority_changes(getter_t *g, uint64_t now, uint64_t start_ns)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    double t = (double)(now - start_ns) / 1e9;
    for (size_t k = 0; k < cfg->n_prio; k++) {
        if (g->prio_done[k] || t < cfg->prio_at_s[k])
            continue;
        g->prio_done[k] = 1;
        for (size_t i = 0; i < g->npaths; i++)
            if (g->paths[i].bind_idx == cfg->prio_bind[k])
                g->paths[i].backup = cfg->prio_backup[k];
        for (size_t i = 0; i < g->nconns; i++) {
            cconn_t *c = &g->conns[i];
            if (c->fd < 0 || c->state == 2 || g->paths[c->path].bind_idx != cfg->prio_bind[k])
                continue;
            if (tcpls_conn_set_backup(g->s, c->id, cfg->prio_backup[k]) == 0)
                mpl_info("connection %u (%s): now %s", c->id, c->local,
                         cfg->prio_backup[k] ? "a backup" : "normal");
        }
    }
}

/* Path management each round: join free paths while tokens last (make-before-break spares and
 * re-joins after a failure), migration at --migrate-at. */
static void
manage_paths(getter_t *g, uint64_t now, uint64_t start_ns)
{
    const mpl_client_cfg_t *cfg = g->cfg;

    if (!tcpls_session_is_tcpls(g->s) || g->closed)
        return;
    /* the server's addresses come in the first records after the handshake */
    if (tcpls_session_peer_address_count(g->s) > 0 || now - g->established_ns > 300000000ull)
        update_paths(g);
    if (g->npaths < 2)
        return;
    if (cfg->migrate_at_s > 0 && !g->migrated && (double)(now - start_ns) / 1e9 >= cfg->migrate_at_s) {
        /* keep only the target path's connection: the others close in order (Connection
         * Reset), the server resends what they had not delivered */
        int to = cfg->migrate_to >= 0 ? cfg->migrate_to : 1;
        size_t tp = 0;
        for (size_t i = 0; i < g->npaths; i++)
            if (g->paths[i].bind_idx == to) {
                tp = i;
                break;
            }
        path_t *p = &g->paths[tp];
        if (p->conn < 0 && join_path(g, tp) != 0)
            return;
        if (g->conns[p->conn].state != 1)
            return;
        g->migrated = 1;
        mpl_info("migrating to connection %u (%s -> %s)", g->conns[p->conn].id, g->conns[p->conn].local,
                 g->conns[p->conn].remote);
        for (size_t i = 0; i < g->nconns; i++) {
            cconn_t *c = &g->conns[i];
            if ((int)i == p->conn || c->fd < 0 || c->state == 2)
                continue;
            tcpls_conn_migrate(g->s, c->id, g->conns[p->conn].id);
            tcpls_conn_failed(g->s, c->id, 0);
        }
        return;
    }
    if (g->migrated)
        return;
#ifdef TCPLS_TESTING
    if (g->first_hello != NULL && !g->replayed) {
        for (size_t i = 1; i < g->nconns; i++)
            if (g->conns[i].state == 1)
                replay_hello(g, &g->paths[0]), i = g->nconns;
    }
#endif
    for (size_t i = 0; i < g->npaths && tcpls_session_token_count(g->s) > 0; i++) {
        path_t *p = &g->paths[i];
        if (p->conn >= 0 || now < p->retry_ns)
            continue;
        join_path(g, i);
    }
}

static void
sample_conns(getter_t *g, double t, double dt)
{
    FILE *out = g->cfg->interval_out;
    for (size_t i = 0; i < g->nconns; i++) {
        cconn_t *c = &g->conns[i];
        mpl_tcp_metrics_t m;
        tcpls_conn_info_t ci;
        mpl_tcpls_sample_t smp = {.t = t};
        uint64_t rx = 0;
        if (c->fd < 0 || c->state != 1)
            continue;
        for (size_t k = 0; k < tcpls_conn_count(g->s); k++)
            if (tcpls_conn_info(g->s, k, &ci) == 0 && ci.id == c->id)
                rx = ci.stream_bytes_received;
        if (mpl_tcp_metrics(c->fd, &m) == 0) {
            smp.rtt_ms = m.srtt_us / 1000.0;
            smp.cwnd = m.cwnd;
            smp.delivery_mbps = (double)m.delivery_bps / 1e6;
            tcpls_conn_set_metrics(g->s, c->id, m.srtt_us, m.notsent_bytes, m.delivery_bps);
        }
        smp.goodput_mbps = dt > 0 ? (double)(rx - c->last_rx) * 8 / dt / 1e6 : 0;
        c->last_rx = rx;
        if (c->n_series == c->cap_series) {
            size_t ncap = c->cap_series ? c->cap_series * 2 : 64;
            mpl_tcpls_sample_t *ns = realloc(c->series, ncap * sizeof(*ns));
            if (ns == NULL)
                continue;
            c->series = ns;
            c->cap_series = ncap;
        }
        c->series[c->n_series++] = smp;
        if (out != NULL)
            fprintf(out,
                    "  [conn %u %s -> %s] rtt %.1f ms  cwnd %u  delivery %.1f Mbit/s  goodput %.1f Mbit/s\n",
                    c->id, c->local, c->remote, smp.rtt_ms, smp.cwnd, smp.delivery_mbps, smp.goodput_mbps);
    }
}

/* Test hook (MPLAB_TCPLS_INJECT, used by tests/e2e/tcpls_faults.sh): right after the
 * handshake, "garbage" writes random bytes into the connection; "tamper" flips a bit in the
 * first protected record. The server must end this session cleanly and serve the others. */
static void
inject_fault(getter_t *g, int fd, const char *what)
{
    uint8_t junk[700];
    tcpls_io_write(g->s, 0, fd); /* the handshake's last flight goes out intact */
    if (strcmp(what, "garbage") != 0)
        return;
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)rand();
    if (mpl_write_all(fd, junk, sizeof(junk)) != 0)
        fail(g, "injecting garbage failed");
}

static void
tamper_output(getter_t *g)
{
    const uint8_t *data;
    size_t len;
    if (tcpls_conn_output(g->s, 0, &data, &len) == 0 && len > 20)
        ((uint8_t *)data)[12] ^= 0x20; /* inside the ciphertext of the first record */
}

void
mpl_client_result_free(mpl_client_result_t *res)
{
    for (int i = 0; i < res->n_tcpls_conns; i++) {
        free(res->tcpls_conns[i].series);
        res->tcpls_conns[i].series = NULL;
    }
}

int
mpl_tcpls_get(const mpl_client_cfg_t *cfg, mpl_client_result_t *res)
{
    getter_t g = {.cfg = cfg, .res = res};

    memset(res, 0, sizeof(*res));
    tcpls_ctx_t *ctx = NULL;
    char err[256];
    int fd = -1, port, started = 0, rc = -1, lw = -1;
    uint64_t last_progress, all_done_ns = 0, start_ns, next_sample, metrics_ns = 0;
    double timeout = cfg->timeout_s > 0 ? cfg->timeout_s : 30;
    double interval = cfg->interval_s > 0 ? cfg->interval_s : 1.0;
    double bh = cfg->blackhole_s > 0 ? cfg->blackhole_s : 1.0;
#ifdef TCPLS_TESTING
    /* test hooks (tests/e2e): only build/mplab-testing reads them */
    const char *inject = getenv("MPLAB_TCPLS_INJECT");
#else
    const char *inject = NULL; /* the hooks below are then dead code, dropped by the compiler */
#endif

    g.inject = inject;
    if ((g.streams = calloc(cfg->n_urls, sizeof(*g.streams))) == NULL)
        return fail(&g, "out of memory");
    g.n = cfg->n_urls;
    for (size_t i = 0; i < g.n; i++) {
        cstream_t *cs = &g.streams[i];
        uint64_t n;
        cs->url = cfg->urls[i];
        if (mpl_url_parse(cfg->urls[i], &cs->u, err, sizeof(err)) != 0) {
            fail(&g, "%s", err);
            goto exit;
        }
        if (i > 0 && (strcmp(cs->u.host, g.streams[0].u.host) != 0 || cs->u.port != g.streams[0].u.port)) {
            fail(&g, "with --proto tcpls every URL must name the same server (one session)");
            goto exit;
        }
        cs->bytes_n =
            (!cfg->head && cfg->upload == 0 && mpl_http_bytes_path(cs->u.path, &n) == 0) ? (int64_t)n : -1;
        cs->sink_bytes_n = -1;
        if ((cs->resp = mpl_http_cresp_new(cfg->head, cs->bytes_n)) == NULL) {
            fail(&g, "out of memory");
            goto exit;
        }
    }
    port = g.streams[0].u.port > 0 ? g.streams[0].u.port : cfg->tp->default_port;
    if ((ctx = make_ctx(cfg, err, sizeof(err))) == NULL) {
        fail(&g, "%s", err);
        goto exit;
    }
    if ((fd = connect_to(&g, &g.streams[0].u, port)) < 0)
        goto exit;
    fill_addresses(res, fd);
    g.s = tcpls_session_new(ctx, &client_ops, &g, cfg->servername ? cfg->servername : g.streams[0].u.host);
    if (g.s == NULL) {
        fail(&g, "cannot create a TCPLS session");
        goto exit;
    }
    if (cfg->tcpls_sched != NULL)
        tcpls_session_set_scheduler(g.s, cfg->tcpls_sched);
    g.conns[0].fd = fd;
    g.conns[0].id = 0;
    g.conns[0].path = 0;
    snprintf(g.conns[0].local, sizeof(g.conns[0].local), "%s", res->local);
    snprintf(g.conns[0].remote, sizeof(g.conns[0].remote), "%s", res->remote);
    g.nconns = 1;
    fd = -1; /* owned by g.conns[0] */
    make_paths(&g, g.conns[0].fd);
    /* New Address frames for our --bind addresses (the server cannot connect to them; it
     * learns which paths the client may use, as the draft allows either side to advertise) */
    for (size_t i = 0; i < cfg->n_bind && i < 8 && cfg->n_bind > 1; i++)
        tcpls_io_add_address(g.s, (uint8_t)(i + 1), (const struct sockaddr *)&cfg->bind[i]);
    if (cfg->n_bind > 1)
        mpl_tcp_multipath_opts(g.conns[0].fd, 128 * 1024, 0);
    mpl_sink_start(cfg->sink);
    if (cfg->n_bind > 1)
        lw = mpl_linkwatch_open(); /* -1: go without (timeouts still detect failures) */
    start_ns = last_progress = mpl_now_ns();
    next_sample = start_ns + (uint64_t)(interval * 1e9);
    while (!g.closed) {
        struct pollfd pfd[MPL_TCPLS_MAX_CONNS + 1];
        size_t idx[MPL_TCPLS_MAX_CONNS + 1], np = 0;
        for (size_t i = 0; i < g.nconns; i++) {
            cconn_t *c = &g.conns[i];
            const uint8_t *d;
            size_t l;
            if (c->fd < 0)
                continue;
            tcpls_conn_output(g.s, c->id, &d, &l);
            pfd[np].fd = c->fd;
            pfd[np].events = POLLIN | (l > 0 ? POLLOUT : 0);
            pfd[np].revents = 0;
            idx[np++] = i;
        }
        size_t nconn_fds = np;
        if (lw >= 0 && g.nconns > 1) {
            pfd[np].fd = lw;
            pfd[np].events = POLLIN;
            pfd[np++].revents = 0;
        }
        int pr = poll(pfd, np, 50);
        uint64_t now = mpl_now_ns();
        uint64_t before = res->bytes + cfg->sink->total;
        if (pr < 0 && errno != EINTR) {
            fail(&g, "poll: %s", strerror(errno));
            break;
        }
        tcpls_session_set_time(g.s, now);
        if (np > nconn_fds && (pfd[nconn_fds].revents & POLLIN) && mpl_linkwatch_drain(lw))
            links_changed(&g);
        for (size_t k = 0; k < nconn_fds && pr > 0 && !g.closed; k++) {
            cconn_t *c = &g.conns[idx[k]];
            if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                int r = tcpls_io_read(g.s, c->id, c->fd, now);
                if (r != 0 && c->state != 2 && !g.closed && tcpls_conn_count(g.s) > 1)
                    tcpls_conn_failed(g.s, c->id, TCPLS_ERR_CONN_FAILED);
            }
        }
        if (!started && tcpls_session_is_established(g.s) && !g.closed) {
            started = 1;
            g.established_ns = now;
            g.conns[0].state = 1;
            if (inject != NULL && *inject)
                inject_fault(&g, g.conns[0].fd, inject);
            if (start_streams(&g) != 0)
                break;
            if (inject != NULL && strcmp(inject, "tamper") == 0)
                tamper_output(&g);
        }
        if (started && g.n_done < g.n) {
            manage_paths(&g, now, start_ns);
            priority_changes(&g, now, start_ns);
        }
        if (started && cfg->upload > 0)
            pump_uploads(&g);
        if (g.nconns > 1 && now - metrics_ns > 20000000ull) {
            /* the client sends too (uploads, requests): the scheduler's path metrics */
            metrics_ns = now;
            for (size_t i = 0; i < g.nconns; i++) {
                mpl_tcp_metrics_t m;
                if (g.conns[i].fd >= 0 && g.conns[i].state == 1 && mpl_tcp_metrics(g.conns[i].fd, &m) == 0)
                    tcpls_conn_set_metrics(g.s, g.conns[i].id, m.srtt_us, m.notsent_bytes, m.delivery_bps);
            }
        }
        if (g.n_done == g.n && started && !g.failed) {
            if (all_done_ns == 0)
                all_done_ns = now;
            tcpls_session_close(g.s);
            if (now - all_done_ns > 1000000000ull)
                break; /* the server's close_notify is a courtesy: do not wait longer */
        }
        for (size_t i = 0; i < g.nconns && !g.closed; i++) {
            cconn_t *c = &g.conns[i];
            if (c->fd < 0)
                continue;
            if (c->state == 2) {
                close(c->fd);
                c->fd = -1;
                continue;
            }
            int w = tcpls_io_write(g.s, c->id, c->fd);
            if (w < 0 && !g.closed && tcpls_conn_count(g.s) > 1) {
                tcpls_conn_failed(g.s, c->id, TCPLS_ERR_CONN_FAILED);
            } else if (w < 0 && !g.closed) {
                fail_server_gone(&g, "connection closed by the server");
                break;
            }
            /* blackhole: data outstanding and no acknowledgment progress */
            uint64_t since = tcpls_conn_stalled_since(g.s, c->id);
            if (c->state == 1 && since != 0 && now > since && (double)(now - since) / 1e9 > bh &&
                live_count(&g) > 1)
                tcpls_conn_failed(g.s, c->id, TCPLS_ERR_CONN_FAILED);
        }
        if (g.failed)
            break;
        if (g.nconns > 1 && now >= next_sample) {
            sample_conns(&g, (double)(now - start_ns) / 1e9, interval);
            next_sample += (uint64_t)(interval * 1e9);
        }
        mpl_sink_tick(cfg->sink);
        if (g.failed)
            break;
        if (res->bytes + cfg->sink->total != before || pr > 0)
            last_progress = now;
        if ((double)(now - last_progress) / 1e9 > timeout) {
            fail(&g, "no progress for %.1f s", timeout);
            break;
        }
        if (started && live_count(&g) == 0 && !g.closed && tcpls_session_token_count(g.s) == 0 &&
            g.n_done < g.n) {
            fail_server_gone(&g, "every connection to the server failed");
            break;
        }
    }
    if (g.closed && g.close_err != 0 && !g.failed && g.n_done < g.n) {
        int e = g.close_err;
        if (e == TCPLS_ERR_HANDSHAKE)
            fail(&g, "TCPLS handshake with %s failed (certificate or protocol)", g.streams[0].u.host);
        else if (!started)
            fail(&g, "TCPLS session not established: %s", tcpls_strerror(e));
        else
            fail(&g, "TCPLS session failed: %s", tcpls_strerror(e));
    }
    if (!g.failed && g.n_done < g.n)
        fail(&g, "the session ended before every response arrived");
    fill_connections(&g);
    rc = g.failed ? -1 : 0;
    res->completed = rc == 0;
exit:
    for (size_t i = 0; i < g.n; i++)
        mpl_http_cresp_free(g.streams[i].resp);
    free(g.streams);
    free(g.first_hello);
    tcpls_session_free(g.s);
    tcpls_ctx_free(ctx);
    if (fd >= 0)
        close(fd);
    if (lw >= 0)
        close(lw);
    for (size_t i = 0; i < g.nconns; i++) {
        if (g.conns[i].fd >= 0)
            close(g.conns[i].fd);
        free(g.conns[i].series);
    }
    return rc;
}
