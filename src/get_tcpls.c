/*
 * get_tcpls.c — 'mplab get --proto tcpls' (see client.h): one TCPLS session to the server,
 * one stream per URL, all URLs fetched concurrently. Each response goes through its own
 * mpl_http_cresp_t into the shared body sink; /bytes/N bodies are verified at their own
 * offsets. With several URLs the bodies interleave, so the sink's SHA-256 covers the bytes in
 * arrival order (with one URL it is the body's digest, as for the other protocols).
 */
#include "client.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "http.h"
#include "tcpls.h"
#include "util.h"

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
} cstream_t;

typedef struct getter {
    const mpl_client_cfg_t *cfg;
    mpl_client_result_t *res;
    tcpls_session_t *s;
    cstream_t *streams;
    size_t n, n_done;
    int failed, closed, close_err;
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

/* Feeds one response; returns the bytes of data it took. */
static size_t
feed_response(getter_t *g, cstream_t *cs, const uint8_t *data, size_t len, int fin)
{
    mpl_body_sink_t *sink = g->cfg->sink;
    size_t taken = 0;

    sink->bytes_n = cs->sink_bytes_n;
    sink->cur = cs->sink_cur;
    sink->expected = cs->sink_expected;
    while (taken < len && !cs->done) {
        size_t used = 0;
        int r = mpl_http_cresp_input(cs->resp, data + taken, len - taken, &used, sink);
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
    cs->sink_bytes_n = sink->bytes_n;
    cs->sink_cur = sink->cur;
    cs->sink_expected = sink->expected;
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

static const tcpls_ops_t client_ops = {NULL, NULL, on_data, NULL, NULL, on_closed, NULL};

static int
send_request(getter_t *g, cstream_t *cs, int keep_alive)
{
    char req[4096];
    size_t acc = 0;
    int len = mpl_http_build_request(req, sizeof(req), g->cfg->head ? "HEAD" : "GET", cs->u.host, cs->u.path,
                                     0, keep_alive);
    if (len < 0)
        return fail(g, "%s: request too long", cs->url);
    /* TCPLS: the request ends the stream's sending side; plain TLS: the connection goes on */
    if (tcpls_stream_write(g->s, cs->id, req, (size_t)len, tcpls_session_is_tcpls(g->s), &acc) != 0 ||
        acc != (size_t)len)
        return fail(g, "cannot send the request for %s", cs->url);
    return 0;
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
    tcpls_ctx_config_t tc = {.is_server = 0, .insecure = 1};
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
    for (size_t i = 0; i < tcpls_conn_count(g->s) && i < MPL_TCPLS_MAX_CONNS; i++) {
        tcpls_conn_info_t ci;
        mpl_tcpls_conn_stat_t *c = &res->tcpls_conns[res->n_tcpls_conns];
        if (tcpls_conn_info(g->s, i, &ci) != 0)
            continue;
        c->id = ci.id;
        snprintf(c->local, sizeof(c->local), "%s", res->local);
        snprintf(c->remote, sizeof(c->remote), "%s", res->remote);
        c->bytes_sent = ci.bytes_sent;
        c->bytes_received = ci.bytes_received;
        c->records_sent = ci.records_sent;
        c->records_acked = ci.records_acked;
        res->n_tcpls_conns++;
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

int
mpl_tcpls_get(const mpl_client_cfg_t *cfg, mpl_client_result_t *res)
{
    getter_t g = {.cfg = cfg, .res = res};

    memset(res, 0, sizeof(*res));
    tcpls_ctx_t *ctx = NULL;
    char err[256];
    int fd = -1, port, started = 0, rc = -1, want_out = 1;
    uint64_t last_progress, all_done_ns = 0;
    double timeout = cfg->timeout_s > 0 ? cfg->timeout_s : 30;
    const char *inject = getenv("MPLAB_TCPLS_INJECT");

    if (cfg->upload > 0) {
        fail(&g, "--upload is not supported with --proto tcpls yet");
        return -1;
    }
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
        cs->bytes_n = (!cfg->head && mpl_http_bytes_path(cs->u.path, &n) == 0) ? (int64_t)n : -1;
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
    mpl_sink_start(cfg->sink);
    last_progress = mpl_now_ns();
    while (!g.closed) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (want_out ? POLLOUT : 0)};
        int pr = poll(&pfd, 1, 100);
        uint64_t now = mpl_now_ns();
        uint64_t before = res->bytes + cfg->sink->total;
        if (pr < 0 && errno != EINTR) {
            fail(&g, "poll: %s", strerror(errno));
            break;
        }
        if (pr > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
            tcpls_io_read(g.s, 0, fd, now);
        if (!started && tcpls_session_is_established(g.s) && !g.closed) {
            started = 1;
            if (inject != NULL && *inject)
                inject_fault(&g, fd, inject);
            if (start_streams(&g) != 0)
                break;
            if (inject != NULL && strcmp(inject, "tamper") == 0)
                tamper_output(&g);
        }
        if (g.n_done == g.n && started && !g.failed) {
            if (all_done_ns == 0)
                all_done_ns = now;
            tcpls_session_close(g.s);
            if (now - all_done_ns > 1000000000ull)
                break; /* the server's close_notify is a courtesy: do not wait longer */
        }
        int w = tcpls_io_write(g.s, 0, fd);
        want_out = w == 1;
        if (w < 0 && !g.closed) {
            fail(&g, "connection to the server failed while sending");
            break;
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
    }
    if (g.closed && g.close_err != 0 && !g.failed && g.n_done < g.n) {
        int e = g.close_err;
        if (e == TCPLS_ERR_HANDSHAKE)
            fail(&g, "TCPLS handshake with %s failed (certificate or protocol)", g.streams[0].u.host);
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
    tcpls_session_free(g.s);
    tcpls_ctx_free(ctx);
    if (fd >= 0)
        close(fd);
    return rc;
}
