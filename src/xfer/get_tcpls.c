/*
 * get_tcpls.c — 'mplab get --proto tcpls' (see client.h): one TCPLS session to the server,
 * one stream per URL, all URLs fetched concurrently. Each response goes through its own
 * mpl_http_cresp_t into the shared body sink; /bytes/N bodies are verified at their own
 * offsets. With several URLs the bodies interleave, so the sink's SHA-256 covers the bytes in
 * arrival order (with one URL it is the body's digest, as for the other protocols).
 */
#include "xfer/client.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "xfer/bytesgen.h"
#include "xfer/http.h"
#include "xfer/load.h"
#include "xfer/paths.h"
#include "xfer/sock.h"
#include "xfer/tcpls_hooks.h"
#include "xfer/tcpls_upkeep.h"
#include "netinfo/linkwatch.h"
#include "netinfo/tcp_metrics.h"
#include "tcpls.h"
#include "common/util.h"

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
    uint64_t due_ns; /* --requests: the request's latency counts from here */
} cstream_t;

typedef struct getter {
    const mpl_client_cfg_t *cfg;
    mpl_client_result_t *res;
    tcpls_session_t *s;
    cstream_t *streams;
    size_t n, n_done;
    int failed, closed, close_err;
    mpl_paths_t paths;
    mpl_tcpls_hooks_t hooks;
    mpl_upkeep_t upkeep;
    uint64_t established_ns, sink_start_ns;
    cconn_t conns[MPL_TCPLS_MAX_CONNS];
    size_t nconns;
    int migrated;
    unsigned char prio_done[MPL_CLIENT_MAX_PRIO];
    mpl_load_sched_t sched; /* --requests (cfg->load): one slot of streams[] per concurrent request */
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
        size_t k = (size_t)(cs - g->streams);
        g->n_done++;
        if (k < MPL_CLIENT_MAX_OBJECTS && g->cfg->sink != NULL)
            g->res->object_s[k] = (double)(mpl_now_ns() - g->cfg->sink->start_ns) / 1e9;
        if (mpl_http_cresp_head_done(cs->resp)) {
            int st = mpl_http_cresp_head(cs->resp)->status;
            g->res->status = st;
            if ((st < 200 || st > 299) && !g->failed)
                fail(g, "%s: HTTP status %d", cs->url, st);
        }
    }
    if (cs->done && g->cfg->load != NULL) { /* --requests: checked, then counted */
        uint64_t body = mpl_http_cresp_body_bytes(cs->resp);
        if (!g->failed && mpl_http_cresp_head(cs->resp)->status != 200)
            fail(g, "%s: HTTP status %d", cs->url, mpl_http_cresp_head(cs->resp)->status);
        if (!g->failed && cs->bytes_n >= 0 && body != (uint64_t)cs->bytes_n)
            fail(g, "%s: answered with %llu bytes", cs->url, (unsigned long long)body);
        mpl_load_note(g->cfg->load_res, cs->due_ns, mpl_now_ns(), g->failed ? g->res->error : NULL);
        g->cfg->load_res->bytes += g->failed ? 0 : body;
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
        mpl_path_t *p = &g->paths.p[c->path];
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
    if (len >= 2 && g->cfg->tcpls_stream_policy >= 0) {
        /* --streams-policy: "X-Mplab-Streams: pin" before the head's empty line (the server
         * sends the responses) */
        const char *h = g->cfg->tcpls_stream_policy == TCPLS_STREAMS_PIN ? "X-Mplab-Streams: pin\r\n"
                                                                         : "X-Mplab-Streams: spread\r\n";
        size_t hl = strlen(h);
        if ((size_t)len + hl >= sizeof(req))
            return fail(g, "%s: request too long", cs->url);
        memmove(req + len - 2 + hl, req + len - 2, 2);
        memcpy(req + len - 2, h, hl);
        len += (int)hl;
    }
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

/* --requests: hands the requests that are due to free slots (a new stream each); keeps n_done
 * at n only once every request is answered. Returns 0 or -1 (g failed). */
static int
load_pump(getter_t *g, uint64_t now)
{
    size_t busy = 0;
    if (!tcpls_session_is_tcpls(g->s))
        return fail(g, "the server answered with plain TLS: --requests over it needs --proto tls");
    for (size_t i = 0; i < g->n && !g->failed; i++) {
        cstream_t *cs = &g->streams[i];
        uint64_t due;
        if (cs->started && !cs->done) {
            busy++;
            continue;
        }
        if (!mpl_load_sched_take(&g->sched, now, &due))
            continue;
        mpl_http_cresp_free(cs->resp);
        if ((cs->resp = mpl_http_cresp_new(0, cs->bytes_n)) == NULL)
            return fail(g, "out of memory");
        if (tcpls_stream_open(g->s, &cs->id) != 0)
            return fail(g, "cannot open a stream (--concurrency above the session's stream limit?)");
        cs->started = 1;
        cs->done = 0;
        cs->sink_bytes_n = -1;
        cs->sink_cur = cs->sink_expected = 0;
        cs->due_ns = due;
        busy++;
        if (send_request(g, cs, 0) != 0)
            return -1;
    }
    int all = g->sched.next == g->cfg->load->requests && busy == 0;
    g->n_done = all ? g->n : 0;
    return g->failed ? -1 : 0;
}

/* poll's timeout: 50 ms, or until the next --rate request is due (to the microsecond: a
 * spinning loop would take the CPU the server needs) when a slot is free for it. A request due
 * while every slot is busy waits for a response, i.e. for input: with a zero timeout the loop
 * spun, and on a lossy path (slots busy for a retransmission timeout) took the CPU the
 * server and the link emulator needed, collapsing the rate. */
static struct timespec
poll_timeout(getter_t *g, int started)
{
    uint64_t w = 50000000ull;
    size_t busy = 0;
    for (size_t i = 0; g->cfg->load != NULL && i < g->n; i++)
        busy += g->streams[i].started && !g->streams[i].done;
    if (g->cfg->load != NULL && started && busy < g->n) {
        uint64_t due = mpl_load_sched_wait_ns(&g->sched, mpl_now_ns());
        if (due < w)
            w = due;
    }
    return (struct timespec){.tv_sec = 0, .tv_nsec = (long)w};
}

/* Connection 0's TCP connection, from --bind address bind_idx (-1: the first of the right
 * family), within timeout_s. */
static int
connect_to(getter_t *g, const mpl_url_t *u, int port, int bind_idx, double timeout_s)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    char why[400];
    mpl_connect_opts_t o = {.ip_protocol = IPPROTO_TCP,
                            .cc = cfg->cc,
                            .bind = bind_idx >= 0 ? &cfg->bind[bind_idx] : cfg->bind,
                            .bind_len = bind_idx >= 0 ? &cfg->bind_len[bind_idx] : cfg->bind_len,
                            .n_bind = bind_idx >= 0 ? 1 : cfg->n_bind,
                            .timeout_s = timeout_s};
    int fd = mpl_sock_connect(&o, u->host, port, why, sizeof(why));
    if (fd < 0)
        return fail(g, "%s", why);
    return fd;
}

/* A client tcpls context that verifies like cfg->ssl_ctx (same CA store and verify mode). */
static tcpls_ctx_t *
make_ctx(const mpl_client_cfg_t *cfg, char *err, size_t errlen)
{
    tcpls_ctx_config_t tc = {.is_server = 0,
                             .insecure = 1,
                             .join_full_handshake = cfg->tcpls_join_full,
                             .stream_policy = cfg->tcpls_stream_policy > 0 ? cfg->tcpls_stream_policy : 0};
    tcpls_ctx_t *ctx = tcpls_ctx_new(&tc, err, errlen);
    if (ctx == NULL || cfg->ssl_ctx == NULL)
        return ctx;
    SSL_CTX *sc = tcpls_ctx_ssl_ctx(ctx);
    SSL_CTX_set1_cert_store(sc, SSL_CTX_get_cert_store(cfg->ssl_ctx));
    SSL_CTX_set_verify(sc, SSL_CTX_get_verify_mode(cfg->ssl_ctx), NULL);
    return ctx;
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

/* Joins a connection on path pi: a token, a non-blocking connect; the ClientHello goes out when
 * the socket is writable. Returns 0 or -1 (no token, socket error). */
static int
join_path(getter_t *g, size_t pi)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    mpl_path_t *p = &g->paths.p[pi];
    const struct sockaddr *local = p->bind_idx >= 0 ? (const struct sockaddr *)&cfg->bind[p->bind_idx] : NULL;
    mpl_connect_opts_t o = {.ip_protocol = IPPROTO_TCP, .cc = cfg->cc};
    char why[300];
    uint32_t id;

    if (g->nconns >= MPL_TCPLS_MAX_CONNS || tcpls_session_token_count(g->s) == 0)
        return -1;
    if (local != NULL) { /* not through an interface that is down or has no carrier */
        mpl_ifstate_t *st = mpl_ifstate_get();
        int usable = mpl_ifstate_addr_usable(st, local, NULL, 0);
        mpl_ifstate_free(st);
        if (!usable) {
            p->retry_ns = mpl_now_ns() + 200000000ull;
            return -1;
        }
    }
    int fd = mpl_sock_connect_start(&o, (const struct sockaddr *)&p->remote, p->remote_len, local,
                                    local != NULL ? cfg->bind_len[p->bind_idx] : 0, why, sizeof(why));
    if (fd < 0 || tcpls_join(g->s, p->backup, &id) != 0) {
        if (fd >= 0)
            close(fd);
        p->retry_ns = mpl_now_ns() + 1000000000ull;
        return -1;
    }
    mpl_tcp_multipath_opts(fd, 128 * 1024, 0);
    mpl_tcpls_hooks_join_started(&g->hooks, g->s, id);
    cconn_t *c = &g->conns[g->nconns];
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->id = id;
    c->path = (int)pi;
    mpl_sock_names(fd, c->local, sizeof(c->local), c->remote, sizeof(c->remote));
    if (local == NULL || c->local[0] == '\0')
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
 * fail now (tcpls_upkeep.h); paths without a connection may be joined again at once (an
 * interface that came back). */
static void
links_changed(getter_t *g)
{
    mpl_ifstate_t *st = mpl_ifstate_get();
    if (st == NULL)
        return;
    for (size_t i = 0; i < g->nconns && !g->closed; i++) {
        cconn_t *c = &g->conns[i];
        if (c->fd >= 0 && c->state == 1)
            mpl_upkeep_link(&g->upkeep, st, g->s, c->id, c->fd, c->local);
    }
    for (size_t i = 0; i < g->paths.n; i++)
        if (g->paths.p[i].conn < 0 && g->paths.p[i].retry_ns != UINT64_MAX)
            g->paths.p[i].retry_ns = 0;
    mpl_ifstate_free(st);
}

/* Every 20 ms with several connections: path metrics and stalls (tcpls_upkeep.h). */
static void
upkeep(getter_t *g, uint64_t now)
{
    if (!mpl_upkeep_due(&g->upkeep, now, g->nconns > 1))
        return;
    for (size_t i = 0; i < g->nconns && !g->closed; i++) {
        cconn_t *c = &g->conns[i];
        if (c->fd >= 0 && c->state == 1)
            mpl_upkeep_conn(&g->upkeep, g->s, c->id, c->fd, c->local, now);
    }
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
        for (size_t i = 0; i < g->paths.n; i++)
            if (g->paths.p[i].bind_idx == cfg->prio_bind[k])
                g->paths.p[i].backup = cfg->prio_backup[k];
        for (size_t i = 0; i < g->nconns; i++) {
            cconn_t *c = &g->conns[i];
            if (c->fd < 0 || c->state == 2 || g->paths.p[c->path].bind_idx != cfg->prio_bind[k])
                continue;
            if (tcpls_conn_set_backup(g->s, c->id, cfg->prio_backup[k]) == 0)
                mpl_info("connection %u (%s): now %s", c->id, c->local,
                         cfg->prio_backup[k] ? "a backup" : "normal");
        }
    }
}

/* --migrate-at: keep only the target path's connection; the others close in order (Connection
 * Reset), the server resends what they had not delivered. */
static void
migrate(getter_t *g)
{
    int to = g->cfg->migrate_to >= 0 ? g->cfg->migrate_to : 1;
    int tp = mpl_paths_from_bind(&g->paths, to);
    mpl_path_t *p = &g->paths.p[tp < 0 ? 0 : tp];

    if (p->conn < 0 && join_path(g, (size_t)(tp < 0 ? 0 : tp)) != 0)
        return;
    const cconn_t *target = &g->conns[p->conn];
    if (target->state != 1)
        return;
    g->migrated = 1;
    mpl_info("migrating to connection %u (%s -> %s)", target->id, target->local, target->remote);
    for (size_t i = 0; i < g->nconns; i++) {
        cconn_t *c = &g->conns[i];
        if ((int)i == p->conn || c->fd < 0 || c->state == 2)
            continue;
        tcpls_conn_migrate(g->s, c->id, target->id);
        tcpls_conn_failed(g->s, c->id, 0);
    }
}

/* Path management each round: the policy's paths (paths.h), join free paths while tokens last
 * (make-before-break spares and re-joins after a failure), migration at --migrate-at. */
static void
manage_paths(getter_t *g, uint64_t now, uint64_t start_ns)
{
    const mpl_client_cfg_t *cfg = g->cfg;

    if (!tcpls_session_is_tcpls(g->s) || g->closed)
        return;
    /* the server's addresses come in the first records after the handshake */
    if (tcpls_session_peer_address_count(g->s) > 0 || now - g->established_ns > 300000000ull) {
        mpl_paths_update(&g->paths, g->s);
        for (size_t i = 0; i < g->paths.n; i++) { /* Remove Address: stop using it */
            const mpl_path_t *p = &g->paths.p[i];
            if (p->retry_ns == UINT64_MAX && p->conn >= 0 && g->conns[p->conn].state != 2)
                tcpls_conn_failed(g->s, g->conns[p->conn].id, 0);
        }
    }
    if (g->paths.n < 2)
        return;
    if (cfg->migrate_at_s > 0 && !g->migrated && (double)(now - start_ns) / 1e9 >= cfg->migrate_at_s) {
        migrate(g);
        return;
    }
    if (g->migrated)
        return;
    for (size_t i = 1; i < g->nconns; i++) {
        if (g->conns[i].state == 1) {
            char err[200];
            if (mpl_tcpls_hooks_joined(&g->hooks, (const struct sockaddr *)&g->paths.p[0].remote,
                                       g->paths.p[0].remote_len, err, sizeof(err)) != 0)
                fail(g, "%s", err);
            break;
        }
    }
    /* --migrate-mode bbm: the target path waits for the migration (break before make) */
    int later = cfg->migrate_bbm && cfg->migrate_at_s > 0
                    ? mpl_paths_from_bind(&g->paths, cfg->migrate_to >= 0 ? cfg->migrate_to : 1)
                    : -1;
    for (size_t i = 0; i < g->paths.n && tcpls_session_token_count(g->s) > 0; i++) {
        const mpl_path_t *p = &g->paths.p[i];
        if (p->conn < 0 && now >= p->retry_ns && (int)i != later)
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

void
mpl_client_result_free(mpl_client_result_t *res)
{
    for (int i = 0; i < res->n_tcpls_conns; i++) {
        free(res->tcpls_conns[i].series);
        res->tcpls_conns[i].series = NULL;
    }
}

/* One URL per stream, all to the same server. Returns 0 or -1 (g failed). */
static int
prepare_streams(getter_t *g)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    char err[256];

    /* --requests: one slot per concurrent request, all for urls[0] */
    g->n = cfg->load != NULL ? cfg->load->concurrency : cfg->n_urls;
    if ((g->streams = calloc(g->n, sizeof(*g->streams))) == NULL)
        return fail(g, "out of memory");
    for (size_t i = 0; i < g->n; i++) {
        cstream_t *cs = &g->streams[i];
        uint64_t n;
        cs->url = cfg->urls[cfg->load != NULL ? 0 : i];
        if (mpl_url_parse(cs->url, &cs->u, err, sizeof(err)) != 0)
            return fail(g, "%s", err);
        if (i > 0 && (strcmp(cs->u.host, g->streams[0].u.host) != 0 || cs->u.port != g->streams[0].u.port))
            return fail(g, "with --proto tcpls every URL must name the same server (one session)");
        cs->bytes_n =
            (!cfg->head && cfg->upload == 0 && mpl_http_bytes_path(cs->u.path, &n) == 0) ? (int64_t)n : -1;
        cs->sink_bytes_n = -1;
        if ((cs->resp = mpl_http_cresp_new(cfg->head, cs->bytes_n)) == NULL)
            return fail(g, "out of memory");
    }
    return 0;
}

/* Connection 0 (from --bind address bind_idx, -1: the first) and the session over it.
 * Returns 0 or -1 (g failed). */
static int
open_session(getter_t *g, tcpls_ctx_t *ctx, int bind_idx, double timeout_s)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    const mpl_url_t *u = &g->streams[0].u;
    int fd = connect_to(g, u, u->port > 0 ? u->port : cfg->tp->default_port, bind_idx, timeout_s);

    if (fd < 0)
        return -1;
    g->conns[0].fd = fd; /* closed with the others */
    g->nconns = 1;
    mpl_sock_names(fd, g->res->local, sizeof(g->res->local), g->res->remote, sizeof(g->res->remote));
    g->s = tcpls_session_new(ctx, &client_ops, g, cfg->servername ? cfg->servername : u->host);
    if (g->s == NULL)
        return fail(g, "cannot create a TCPLS session");
    if (cfg->tcpls_sched != NULL)
        tcpls_session_set_scheduler(g->s, cfg->tcpls_sched);
    snprintf(g->conns[0].local, sizeof(g->conns[0].local), "%s", g->res->local);
    snprintf(g->conns[0].remote, sizeof(g->conns[0].remote), "%s", g->res->remote);
    mpl_paths_init(&g->paths, cfg, fd);
    /* New Address frames for our --bind addresses (the server cannot connect to them; it
     * learns which paths the client may use, as the draft allows either side to advertise) */
    for (size_t i = 0; i < cfg->n_bind && i < 8 && cfg->n_bind > 1; i++)
        tcpls_io_add_address(g->s, (uint8_t)(i + 1), (const struct sockaddr *)&cfg->bind[i]);
    if (cfg->n_bind > 1)
        mpl_tcp_multipath_opts(fd, 128 * 1024, 0);
    return 0;
}

/* Connection 0's handshake until the session is established (0), or it failed or deadline
 * passed (-1, g failed with the reason). */
static int
handshake0(getter_t *g, double limit_s)
{
    uint64_t deadline = mpl_now_ns() + (uint64_t)(limit_s * 1e9);
    cconn_t *c = &g->conns[0];
    while (!g->closed && !g->failed && !tcpls_session_is_established(g->s)) {
        const uint8_t *d;
        size_t l;
        uint64_t now = mpl_now_ns();
        if (now >= deadline)
            return fail(g, "TCPLS session not established: no handshake within %.1f s", limit_s);
        tcpls_conn_output(g->s, c->id, &d, &l);
        struct pollfd p = {.fd = c->fd, .events = POLLIN | (l > 0 ? POLLOUT : 0)};
        uint64_t ms = (deadline - now) / 1000000 + 1;
        int pr = poll(&p, 1, ms < 50 ? (int)ms : 50);
        now = mpl_now_ns();
        tcpls_session_set_time(g->s, now);
        if (pr > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) &&
            tcpls_io_read(g->s, c->id, c->fd, now) != 0 && !g->closed)
            return fail(g, "TCPLS session not established: connection closed by the server");
        if (!g->closed && tcpls_io_write(g->s, c->id, c->fd) < 0 && !g->closed)
            return fail(g, "TCPLS session not established: %s", strerror(errno));
    }
    if (g->closed && g->close_err == TCPLS_ERR_HANDSHAKE)
        return fail(g, "TCPLS handshake with %s failed (certificate or protocol)", g->streams[0].u.host);
    if (g->closed)
        return fail(g, "TCPLS session not established: %s", tcpls_strerror(g->close_err));
    return g->failed ? -1 : 0;
}

/* Gives up an attempt at connection 0: its socket and session go, g is as before it. */
static void
drop_attempt(getter_t *g)
{
    tcpls_session_free(g->s);
    g->s = NULL;
    if (g->conns[0].fd >= 0)
        close(g->conns[0].fd);
    g->conns[0].fd = -1;
    g->nconns = 0;
    g->failed = g->closed = g->close_err = 0;
    g->res->error[0] = '\0';
}

/* The session's first connection. With several --bind addresses a path that is down,
 * blackholed or reset during the handshake must not keep the client from the server: each
 * attempt has a deadline (1 s, doubled after each round over the addresses), then the next
 * address is tried, within --timeout in all. A certificate or protocol failure is final.
 * Returns 0, or -1 (g failed). */
static int
establish(getter_t *g, tcpls_ctx_t *ctx)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    double timeout = cfg->timeout_s > 0 ? cfg->timeout_s : 30;
    size_t n = cfg->n_bind > 1 ? cfg->n_bind : 1;
    double attempt_s = n > 1 ? 1.0 : timeout;
    uint64_t start = mpl_now_ns(), end = start + (uint64_t)(timeout * 1e9);

    for (size_t k = 0;; k++) {
        int bi = n > 1 ? (int)(k % n) : -1;
        uint64_t now = mpl_now_ns();
        double left = (double)(end - (now < end ? now : end)) / 1e9;
        double this_s = attempt_s < left ? attempt_s : left;
        if (open_session(g, ctx, bi, this_s) == 0) {
            if (g->sink_start_ns == 0) {
                mpl_sink_start(cfg->sink);
                g->sink_start_ns = cfg->sink->start_ns;
            }
            if (handshake0(g, this_s) == 0)
                return 0;
        }
        now = mpl_now_ns();
        if (n == 1 || now >= end || (g->closed && g->close_err == TCPLS_ERR_HANDSHAKE))
            return -1;
        char from[80] = "?";
        mpl_fmt_addr((const struct sockaddr *)&cfg->bind[bi], 0, from, sizeof(from));
        mpl_info("connection 0 from %s: %s; trying from the next address", from, g->res->error);
        drop_attempt(g);
        if (k % n == n - 1)
            attempt_s *= 2;
    }
}

/* Moves each connection's output to its socket; closes the sockets of connections that are
 * gone. Returns -1 when the session cannot go on (g failed). */
static int
write_conns(getter_t *g)
{
    for (size_t i = 0; i < g->nconns && !g->closed; i++) {
        cconn_t *c = &g->conns[i];
        if (c->fd < 0)
            continue;
        if (c->state == 2) {
            close(c->fd);
            c->fd = -1;
            continue;
        }
        int w = tcpls_io_write(g->s, c->id, c->fd);
        if (w < 0 && !g->closed && tcpls_conn_count(g->s) > 1) {
            tcpls_conn_failed(g->s, c->id, TCPLS_ERR_CONN_FAILED);
        } else if (w < 0 && !g->closed) {
            fail_server_gone(g, "connection closed by the server");
            return -1;
        }
    }
    return g->failed ? -1 : 0;
}

/* The poll set: every connection (POLLOUT when it has output), then the linkwatch socket. */
static size_t
poll_set(getter_t *g, int lw, struct pollfd *pfd, size_t *idx, size_t *nconn_fds)
{
    size_t np = 0;
    for (size_t i = 0; i < g->nconns; i++) {
        const uint8_t *d;
        size_t l;
        if (g->conns[i].fd < 0)
            continue;
        tcpls_conn_output(g->s, g->conns[i].id, &d, &l);
        pfd[np] = (struct pollfd){.fd = g->conns[i].fd, .events = POLLIN | (l > 0 ? POLLOUT : 0)};
        idx[np++] = i;
    }
    *nconn_fds = np;
    if (lw >= 0 && g->nconns > 1)
        pfd[np++] = (struct pollfd){.fd = lw, .events = POLLIN};
    return np;
}

/* The session's rounds until every response arrived, the session closed, or a failure. */
static void
run_session(getter_t *g, int lw)
{
    const mpl_client_cfg_t *cfg = g->cfg;
    double timeout = cfg->timeout_s > 0 ? cfg->timeout_s : 30;
    double interval = cfg->interval_s > 0 ? cfg->interval_s : 1.0;
    uint64_t start_ns = g->sink_start_ns ? g->sink_start_ns : mpl_now_ns(), last_progress = mpl_now_ns(),
             all_done_ns = 0;
    uint64_t next_sample = start_ns + (uint64_t)(interval * 1e9);
    int started = 0;
    char err[256];

    while (!g->closed) {
        struct pollfd pfd[MPL_TCPLS_MAX_CONNS + 1];
        size_t idx[MPL_TCPLS_MAX_CONNS + 1], nconn_fds;
        size_t np = poll_set(g, lw, pfd, idx, &nconn_fds);
        struct timespec pto = poll_timeout(g, started);
        int pr = ppoll(pfd, np, &pto, NULL);
        uint64_t now = mpl_now_ns(), before = g->res->bytes + cfg->sink->total;
        if (pr < 0 && errno != EINTR) {
            fail(g, "poll: %s", strerror(errno));
            break;
        }
        tcpls_session_set_time(g->s, now);
        if (np > nconn_fds && (pfd[nconn_fds].revents & POLLIN) && mpl_linkwatch_drain(lw))
            links_changed(g);
        for (size_t k = 0; k < nconn_fds && pr > 0 && !g->closed; k++) {
            cconn_t *c = &g->conns[idx[k]];
            if ((pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) &&
                tcpls_io_read(g->s, c->id, c->fd, now) != 0 && c->state != 2 && !g->closed &&
                tcpls_conn_count(g->s) > 1)
                tcpls_conn_failed(g->s, c->id, TCPLS_ERR_CONN_FAILED);
        }
        if (!started && tcpls_session_is_established(g->s) && !g->closed) {
            started = 1;
            g->established_ns = now;
            g->conns[0].state = 1;
            if (mpl_tcpls_hooks_established(&g->hooks, g->s, g->conns[0].fd, err, sizeof(err)) != 0)
                fail(g, "%s", err);
            if (cfg->load != NULL) {
                mpl_load_sched_start(&g->sched, cfg->load, now);
                cfg->load_res->start_ns = now;
            }
            if (cfg->load == NULL ? start_streams(g) != 0 : load_pump(g, now) != 0)
                break;
            mpl_tcpls_hooks_requests_queued(&g->hooks, g->s);
        }
        if (started && g->n_done < g->n) {
            manage_paths(g, now, start_ns);
            priority_changes(g, now, start_ns);
        }
        if (started && cfg->upload > 0)
            pump_uploads(g);
        if (started && cfg->load != NULL && load_pump(g, mpl_now_ns()) != 0)
            break;
        upkeep(g, now);
        if (g->n_done == g->n && started && !g->failed) {
            if (all_done_ns == 0)
                all_done_ns = now;
            tcpls_session_close(g->s);
            if (now - all_done_ns > 1000000000ull)
                break; /* the server's close_notify is a courtesy: do not wait longer */
        }
        if (write_conns(g) != 0)
            break;
        if (g->nconns > 1 && now >= next_sample) {
            sample_conns(g, (double)(now - start_ns) / 1e9, interval);
            next_sample += (uint64_t)(interval * 1e9);
        }
        mpl_sink_tick(cfg->sink);
        if (g->failed)
            break;
        if (g->res->bytes + cfg->sink->total != before || pr > 0)
            last_progress = now;
        if ((double)(now - last_progress) / 1e9 > timeout) {
            fail(g, "no progress for %.1f s", timeout);
            break;
        }
        if (started && live_count(g) == 0 && !g->closed && tcpls_session_token_count(g->s) == 0 &&
            g->n_done < g->n) {
            fail_server_gone(g, "every connection to the server failed");
            break;
        }
    }
}

int
mpl_tcpls_get(const mpl_client_cfg_t *cfg, mpl_client_result_t *res)
{
    getter_t g = {.cfg = cfg, .res = res, .upkeep = {.blackhole_s = cfg->blackhole_s, .who = ""}};
    tcpls_ctx_t *ctx = NULL;
    char err[256];
    int lw = -1;

    memset(res, 0, sizeof(*res));
    mpl_tcpls_hooks_init(&g.hooks);
    for (size_t i = 0; i < MPL_TCPLS_MAX_CONNS; i++)
        g.conns[i].fd = -1;
    if (prepare_streams(&g) != 0)
        goto exit;
    if ((ctx = make_ctx(cfg, err, sizeof(err))) == NULL) {
        fail(&g, "%s", err);
        goto exit;
    }
    if (establish(&g, ctx) != 0)
        goto exit;
    if (cfg->n_bind > 1)
        lw = mpl_linkwatch_open(); /* -1: go without (timeouts still detect failures) */
    run_session(&g, lw);
    if (g.closed && g.close_err != 0 && !g.failed && g.n_done < g.n) {
        int e = g.close_err;
        if (e == TCPLS_ERR_HANDSHAKE)
            fail(&g, "TCPLS handshake with %s failed (certificate or protocol)", g.streams[0].u.host);
        else if (!tcpls_session_is_established(g.s))
            fail(&g, "TCPLS session not established: %s", tcpls_strerror(e));
        else
            fail(&g, "TCPLS session failed: %s", tcpls_strerror(e));
    }
    if (!g.failed && g.n_done < g.n)
        fail(&g, "the session ended before every response arrived");
    fill_connections(&g);
    res->completed = !g.failed;
    res->n_objects = cfg->n_urls < MPL_CLIENT_MAX_OBJECTS ? cfg->n_urls : MPL_CLIENT_MAX_OBJECTS;
exit:
    for (size_t i = 0; i < g.n; i++)
        mpl_http_cresp_free(g.streams[i].resp);
    free(g.streams);
    mpl_tcpls_hooks_free(&g.hooks);
    tcpls_session_free(g.s);
    tcpls_ctx_free(ctx);
    if (lw >= 0)
        close(lw);
    for (size_t i = 0; i < g.nconns; i++) {
        if (g.conns[i].fd >= 0)
            close(g.conns[i].fd);
        free(g.conns[i].series);
    }
    return g.failed ? -1 : 0;
}
