/*
 * client.c — see client.h.
 */
#include "xfer/client.h"

#include "xfer/bytesgen.h"
#include "xfer/http.h"
#include "xfer/sock.h"
#include "common/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RBUF_SIZE (256 * 1024)

int
mpl_url_parse(const char *s, mpl_url_t *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof(*u));
    u->port = -1;
    const char *p = s;
    if (strncmp(p, "http://", 7) == 0) {
        u->has_scheme = 1;
        p += 7;
    } else if (strncmp(p, "https://", 8) == 0) {
        u->has_scheme = 1;
        u->https = 1;
        p += 8;
    } else if (strstr(p, "://") != NULL) {
        snprintf(err, errlen, "unsupported URL scheme in '%s' (http:// or https://)", s);
        return -1;
    }
    const char *hs, *he;
    if (*p == '[') {
        hs = p + 1;
        he = strchr(hs, ']');
        if (he == NULL) {
            snprintf(err, errlen, "missing ']' in URL '%s'", s);
            return -1;
        }
        p = he + 1;
    } else {
        hs = p;
        while (*p && *p != ':' && *p != '/')
            p++;
        he = p;
    }
    if (he == hs || (size_t)(he - hs) >= sizeof(u->host)) {
        snprintf(err, errlen, "no host in URL '%s'", s);
        return -1;
    }
    memcpy(u->host, hs, (size_t)(he - hs));
    for (const char *q = u->host; *q; q++) {
        if (*q <= ' ' || *q == '@' || *q == '?' || *q == '#' || (unsigned char)*q >= 0x7f) {
            snprintf(err, errlen, "bad host in URL '%s'", s);
            return -1;
        }
    }
    if (*p == ':') {
        p++;
        long port = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && port <= 65535) {
            port = port * 10 + (*p++ - '0');
            digits++;
        }
        if (digits == 0 || port < 1 || port > 65535 || (*p != '\0' && *p != '/')) {
            snprintf(err, errlen, "bad port in URL '%s'", s);
            return -1;
        }
        u->port = (int)port;
    }
    if (*p == '\0')
        p = "/";
    if (*p != '/' || strlen(p) >= sizeof(u->path)) {
        snprintf(err, errlen, "bad path in URL '%s'", s);
        return -1;
    }
    for (const char *q = p; *q; q++) {
        if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f) {
            snprintf(err, errlen, "bad character in URL path '%s' (percent-encode it)", s);
            return -1;
        }
    }
    snprintf(u->path, sizeof(u->path), "%s", p);
    return 0;
}

typedef struct client {
    const mpl_client_cfg_t *cfg;
    mpl_client_result_t *res;
    mpl_conn_t conn;
    int open;
    char host[256];
    int port;
    uint8_t *rbuf;
    uint64_t deadline_ns; /* of the current wait */
} client_t;

static int fail(client_t *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(client_t *cl, const char *fmt, ...)
{
    if (cl->res->error[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cl->res->error, sizeof(cl->res->error), fmt, ap);
        va_end(ap);
    }
    return -1;
}

static uint64_t
timeout_ns(const client_t *cl)
{
    return (uint64_t)(cl->cfg->timeout_s * 1e9);
}

/* Waits for the socket (events POLLIN/POLLOUT) at most 200 ms, ticking the sink. Returns 0,
 * or -1 when the silence deadline passed. */
static int
wait_io(client_t *cl, short events)
{
    struct pollfd pfd = {.fd = cl->conn.fd, .events = events};
    uint64_t now = mpl_now_ns();
    if (now >= cl->deadline_ns)
        return -1;
    uint64_t left_ms = (cl->deadline_ns - now) / 1000000 + 1;
    int r = poll(&pfd, 1, left_ms < 200 ? (int)left_ms : 200);
    if (cl->cfg->sink != NULL)
        mpl_sink_tick(cl->cfg->sink);
    if (r < 0 && errno != EINTR)
        return -1;
    return 0;
}

static void
conn_finish(client_t *cl)
{
    if (!cl->open)
        return;
    if (cl->cfg->tp->ip_protocol == IPPROTO_MPTCP) /* mptcp and mptls */
        mpl_mptcp_query(cl->conn.fd, &cl->res->mptcp);
    mpl_conn_close(&cl->conn);
    cl->open = 0;
}

static void
tick_sink(void *ud)
{
    mpl_body_sink_t *sink = ud;
    if (sink != NULL)
        mpl_sink_tick(sink);
}

static int
do_connect(client_t *cl, const char *host, int port)
{
    const mpl_client_cfg_t *cfg = cl->cfg;
    char why[400], hp[300];
    mpl_connect_opts_t o = {.ip_protocol = cfg->tp->ip_protocol,
                            .cc = cfg->cc,
                            .bind = cfg->bind,
                            .bind_len = cfg->bind_len,
                            .n_bind = cfg->n_bind,
                            .timeout_s = cfg->timeout_s,
                            .tick = tick_sink,
                            .tick_ud = cfg->sink};
    int fd = mpl_sock_connect(&o, host, port, why, sizeof(why));
    if (fd < 0)
        return fail(cl, "%s", why);
    snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const char *sni = cfg->servername != NULL ? cfg->servername : host;
    if (mpl_conn_init(&cl->conn, cfg->tp, fd, cfg->ssl_ctx, 0, sni) != 0) {
        fail(cl, "%s", cl->conn.err);
        mpl_conn_close(&cl->conn);
        return -1;
    }
    cl->open = 1;
    mpl_sock_names(fd, cl->res->local, sizeof(cl->res->local), cl->res->remote, sizeof(cl->res->remote));
    cl->deadline_ns = mpl_now_ns() + timeout_ns(cl);
    for (;;) {
        int r = mpl_conn_handshake(&cl->conn);
        if (r == 0)
            break;
        if (r == MPL_IO_ERROR)
            return fail(cl, "%s (server %s)", cl->conn.err, hp);
        if (wait_io(cl, r == MPL_IO_WANT_READ ? POLLIN : POLLOUT) != 0)
            return fail(cl, "TLS handshake with %s timed out after %.1f s", hp, cfg->timeout_s);
    }
    snprintf(cl->host, sizeof(cl->host), "%s", host);
    cl->port = port;
    if (cl->res->connect_s == 0 && cfg->sink != NULL)
        cl->res->connect_s = (double)(mpl_now_ns() - cfg->sink->start_ns) / 1e9;
    return 0;
}

/* Sends len bytes; feed_sink: also count them in the sink (uploads). */
static int
send_all(client_t *cl, const uint8_t *p, size_t len, int feed_sink)
{
    cl->deadline_ns = mpl_now_ns() + timeout_ns(cl);
    while (len > 0) {
        ssize_t n = mpl_conn_write(&cl->conn, p, len);
        if (n > 0) {
            if (feed_sink && cl->cfg->sink != NULL) {
                mpl_sink_write(cl->cfg->sink, p, (size_t)n);
                mpl_sink_tick(cl->cfg->sink);
            }
            p += n;
            len -= (size_t)n;
            cl->deadline_ns = mpl_now_ns() + timeout_ns(cl);
            continue;
        }
        if (n == MPL_IO_ERROR)
            return fail(cl, "%s", cl->conn.err);
        if (wait_io(cl, n == MPL_IO_WANT_READ ? POLLIN : POLLOUT) != 0)
            return fail(cl, "sending timed out after %.1f s", cl->cfg->timeout_s);
    }
    for (;;) { /* TLS: records still queued */
        int f = mpl_conn_flush(&cl->conn);
        if (f == 0)
            return 0;
        if (f == MPL_IO_ERROR)
            return fail(cl, "%s", cl->conn.err);
        if (wait_io(cl, POLLOUT) != 0)
            return fail(cl, "sending timed out after %.1f s", cl->cfg->timeout_s);
    }
}

static int
upload_body(client_t *cl, uint64_t total)
{
    uint64_t off = 0;
    mpl_sink_begin(cl->cfg->sink, -1, total);
    while (off < total) {
        size_t n = total - off < RBUF_SIZE ? (size_t)(total - off) : RBUF_SIZE;
        mpl_bytes_fill(off, cl->rbuf, n);
        if (send_all(cl, cl->rbuf, n, 1) != 0)
            return -1;
        off += n;
    }
    mpl_sink_end(cl->cfg->sink);
    return 0;
}

/* One request/response on the open connection. Returns 0 or -1. */
static int
exchange(client_t *cl, const mpl_url_t *u, const char *url)
{
    const mpl_client_cfg_t *cfg = cl->cfg;
    char req[4096];
    uint64_t n = 0;
    int64_t bytes_n = mpl_http_bytes_path(u->path, &n) == 0 ? (int64_t)n : -1;
    const char *method = cfg->upload > 0 ? "POST" : cfg->head ? "HEAD" : "GET";
    char hosthdr[300];
    snprintf(hosthdr, sizeof(hosthdr), strchr(u->host, ':') ? "[%s]:%d" : "%s:%d", u->host, cl->port);
    int len = mpl_http_build_request(req, sizeof(req), method, hosthdr, u->path, cfg->upload, 1);
    if (len < 0)
        return fail(cl, "URL too long: %s", url);
    if (send_all(cl, (const uint8_t *)req, (size_t)len, 0) != 0)
        return -1;
    if (cfg->upload > 0 && upload_body(cl, cfg->upload) != 0)
        return -1;
    mpl_http_cresp_t *r = mpl_http_cresp_new(cfg->head, cfg->upload > 0 ? -1 : bytes_n);
    if (r == NULL)
        return fail(cl, "out of memory");
    mpl_body_sink_t *sink = cfg->upload > 0 ? NULL : cfg->sink;
    int rc = -1;
    cl->deadline_ns = mpl_now_ns() + timeout_ns(cl);
    uint64_t last_tick = 0;
    for (;;) {
        ssize_t got = mpl_conn_read(&cl->conn, cl->rbuf, RBUF_SIZE);
        if (got > 0) {
            size_t used;
            int d = mpl_http_cresp_input(r, cl->rbuf, (size_t)got, &used, sink);
            cl->deadline_ns = mpl_now_ns() + timeout_ns(cl);
            if (sink != NULL && cl->deadline_ns - last_tick > 50000000ull) {
                mpl_sink_tick(sink);
                last_tick = cl->deadline_ns;
            }
            if (d < 0) {
                if (sink != NULL && sink->mismatch)
                    fail(cl, "content of %s differs from /bytes/N at byte %llu", url,
                         (unsigned long long)sink->mismatch_at);
                else
                    fail(cl, "%s: %s", url, mpl_http_cresp_error(r));
                goto out;
            }
            if (d == 1) {
                if (used < (size_t)got) {
                    fail(cl, "%s: unexpected bytes after the response", url);
                    goto out;
                }
                break;
            }
            continue;
        }
        if (got == 0) {
            int complete = mpl_http_cresp_eof(r);
            conn_finish(cl);
            if (complete) {
                if (sink != NULL)
                    mpl_sink_end(sink);
                break;
            }
            if (mpl_http_cresp_head_done(r) && mpl_http_cresp_head(r)->has_content_length)
                fail(cl, "%s: connection closed by the server after %llu of %llu bytes", url,
                     (unsigned long long)mpl_http_cresp_body_bytes(r),
                     (unsigned long long)mpl_http_cresp_head(r)->content_length);
            else
                fail(cl, "%s: connection closed by the server before a complete response", url);
            goto out;
        }
        if (got == MPL_IO_ERROR) {
            if (mpl_http_cresp_head_done(r) && mpl_http_cresp_head(r)->has_content_length)
                fail(cl, "%s: %s after %llu of %llu bytes", url, cl->conn.err,
                     (unsigned long long)mpl_http_cresp_body_bytes(r),
                     (unsigned long long)mpl_http_cresp_head(r)->content_length);
            else
                fail(cl, "%s: %s", url, cl->conn.err);
            goto out;
        }
        if (wait_io(cl, got == MPL_IO_WANT_WRITE ? POLLOUT : POLLIN) != 0) {
            fail(cl, "%s: no data for %.1f s (timeout) after %llu bytes", url, cfg->timeout_s,
                 (unsigned long long)mpl_http_cresp_body_bytes(r));
            goto out;
        }
    }
    const mpl_http_response_t *h = mpl_http_cresp_head(r);
    cl->res->status = h->status;
    if (h->status < 200 || h->status > 299) {
        fail(cl, "%s: HTTP %d", url, h->status);
        goto out;
    }
    if (!h->keep_alive)
        conn_finish(cl);
    rc = 0;
out:
    mpl_http_cresp_free(r);
    return rc;
}

int
mpl_client_run(const mpl_client_cfg_t *cfg, mpl_client_result_t *res)
{
    client_t cl;
    memset(&cl, 0, sizeof(cl));
    memset(res, 0, sizeof(*res));
    res->mptcp.is_mptcp = -1;
    cl.cfg = cfg;
    cl.res = res;
    cl.conn.fd = -1;
    cl.rbuf = malloc(RBUF_SIZE);
    if (cl.rbuf == NULL) {
        snprintf(res->error, sizeof(res->error), "out of memory");
        return -1;
    }
    int rc = 0;
    if (cfg->sink != NULL)
        mpl_sink_start(cfg->sink);
    for (size_t i = 0; i < cfg->n_urls && rc == 0; i++) {
        mpl_url_t u;
        if (mpl_url_parse(cfg->urls[i], &u, res->error, sizeof(res->error)) != 0) {
            rc = -1;
            break;
        }
        int port = u.port > 0 ? u.port : cfg->tp->default_port;
        if (cl.open && (strcmp(cl.host, u.host) != 0 || cl.port != port))
            conn_finish(&cl);
        if (!cl.open && do_connect(&cl, u.host, port) != 0) {
            rc = -1;
            break;
        }
        if (exchange(&cl, &u, cfg->urls[i]) != 0)
            rc = -1;
        else if (i < MPL_CLIENT_MAX_OBJECTS && cfg->sink != NULL)
            res->object_s[i] = (double)(mpl_now_ns() - cfg->sink->start_ns) / 1e9;
    }
    if (cfg->sink != NULL)
        res->bytes = cfg->upload > 0 ? cfg->sink->total : cfg->sink->total;
    res->completed = rc == 0;
    res->n_objects = cfg->n_urls < MPL_CLIENT_MAX_OBJECTS ? cfg->n_urls : MPL_CLIENT_MAX_OBJECTS;
    conn_finish(&cl);
    free(cl.rbuf);
    return rc;
}
