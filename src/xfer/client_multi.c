/*
 * client_multi.c — several objects at once over tcp, tls or mptcp (get --parallel,
 * get --pipeline): one connection per URL, all opened at once (what a browser does over
 * HTTP/1.1), or one connection carrying every request up front (HTTP/1.1 pipelining), the
 * responses then arriving one after the other. One poll loop drives every connection; each
 * response has its own parser and the shared sink is switched between them (as
 * src/xfer/get_tcpls.c does for streams), so each /bytes/N body is verified at its own offsets.
 */
#include "xfer/client.h"

#include "xfer/http.h"
#include "xfer/sock.h"
#include "common/util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MULTI_RBUF (256 * 1024)

enum { MC_CONNECTING, MC_HANDSHAKE, MC_SENDING, MC_RECEIVING, MC_DONE };

typedef struct mobj {
    mpl_url_t u;
    const char *url;
    mpl_http_cresp_t *resp;
    int64_t bytes_n;
    /* the sink's per-response state while another response uses it */
    int64_t sink_bytes_n;
    uint64_t sink_cur, sink_expected;
    int begun, done;
} mobj_t;

typedef struct mconn {
    mpl_conn_t conn;
    int state, open;
    size_t first, n, cur; /* its objects: [first, first + n), cur = the one being received */
    char req[64 * 1024];  /* every request of the connection */
    size_t req_len, req_off;
    uint64_t deadline_ns;
} mconn_t;

typedef struct multi {
    const mpl_client_cfg_t *cfg;
    mpl_client_result_t *res;
    mobj_t *obj;
    mconn_t *mc;
    size_t nobj, nconn, ndone;
    uint8_t *rbuf;
} multi_t;

static int fail(multi_t *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(multi_t *m, const char *fmt, ...)
{
    if (m->res->error[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->res->error, sizeof(m->res->error), fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void
mc_close(multi_t *m, mconn_t *c)
{
    if (!c->open)
        return;
    if (m->cfg->tp->ip_protocol == IPPROTO_MPTCP && m->res->mptcp.is_mptcp < 0) /* mptcp, mptls */
        mpl_mptcp_query(c->conn.fd, &m->res->mptcp);
    mpl_conn_close(&c->conn);
    c->open = 0;
}

/* Starts the connection of c to its first object's host (non-blocking). */
static int
mc_start(multi_t *m, mconn_t *c)
{
    const mpl_client_cfg_t *cfg = m->cfg;
    const mpl_url_t *u = &m->obj[c->first].u;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    char port[16], why[400];
    mpl_connect_opts_t o = {.ip_protocol = cfg->tp->ip_protocol,
                            .cc = cfg->cc,
                            .bind = cfg->bind,
                            .bind_len = cfg->bind_len,
                            .n_bind = cfg->n_bind,
                            .timeout_s = cfg->timeout_s};
    int p = u->port > 0 ? u->port : cfg->tp->default_port, fd = -1;

    snprintf(port, sizeof(port), "%d", p);
    if (getaddrinfo(u->host, port, &hints, &ai) != 0 || ai == NULL)
        return fail(m, "cannot resolve %s", u->host);
    fd = mpl_sock_connect_start(&o, ai->ai_addr, ai->ai_addrlen, NULL, 0, why, sizeof(why));
    freeaddrinfo(ai);
    if (fd < 0)
        return fail(m, "cannot connect to %s:%d: %s", u->host, p, why);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (mpl_conn_init(&c->conn, cfg->tp, fd, cfg->ssl_ctx, 0,
                      cfg->servername != NULL ? cfg->servername : u->host) != 0) {
        fail(m, "%s", c->conn.err);
        mpl_conn_close(&c->conn);
        return -1;
    }
    c->open = 1;
    c->state = MC_CONNECTING;
    for (size_t k = c->first; k < c->first + c->n; k++) {
        char hosthdr[300];
        const mpl_url_t *ku = &m->obj[k].u;
        snprintf(hosthdr, sizeof(hosthdr), strchr(ku->host, ':') ? "[%s]:%d" : "%s:%d", ku->host, p);
        int len = mpl_http_build_request(c->req + c->req_len, sizeof(c->req) - c->req_len,
                                         cfg->head ? "HEAD" : "GET", hosthdr, ku->path, 0, 1);
        if (len < 0)
            return fail(m, "too many or too long requests for one connection");
        c->req_len += (size_t)len;
    }
    c->deadline_ns = mpl_now_ns() + (uint64_t)(cfg->timeout_s * 1e9);
    return 0;
}

/* c's current response is complete: its time, then the next one (or c is done). */
static void
obj_done(multi_t *m, mconn_t *c)
{
    m->obj[c->cur].done = 1;
    m->ndone++;
    if (c->cur < MPL_CLIENT_MAX_OBJECTS && m->cfg->sink != NULL)
        m->res->object_s[c->cur] = (double)(mpl_now_ns() - m->cfg->sink->start_ns) / 1e9;
    if (++c->cur == c->first + c->n) {
        c->state = MC_DONE;
        mc_close(m, c);
    }
}

/* Feeds received bytes to c's responses in order; returns 0 or -1. */
static int
mc_input(multi_t *m, mconn_t *c, const uint8_t *data, size_t len)
{
    mpl_body_sink_t *sink = m->cfg->sink;
    while (len > 0 && c->cur < c->first + c->n) {
        mobj_t *o = &m->obj[c->cur];
        size_t used = 0;
        if (sink != NULL) {
            if (!o->begun) {
                o->begun = 1;
                o->sink_bytes_n = -1;
            }
            sink->bytes_n = o->sink_bytes_n;
            sink->cur = o->sink_cur;
            sink->expected = o->sink_expected;
        }
        int r = mpl_http_cresp_input(o->resp, data, len, &used, sink);
        if (sink != NULL) {
            o->sink_bytes_n = sink->bytes_n;
            o->sink_cur = sink->cur;
            o->sink_expected = sink->expected;
            if (sink->mismatch)
                return fail(m, "content of %s differs from /bytes/N at byte %llu", o->url,
                            (unsigned long long)sink->mismatch_at);
        }
        if (r < 0)
            return fail(m, "%s: %s", o->url, mpl_http_cresp_error(o->resp));
        data += used;
        len -= used;
        if (r == 1) {
            const mpl_http_response_t *h = mpl_http_cresp_head(o->resp);
            m->res->status = h->status;
            if (h->status < 200 || h->status > 299)
                return fail(m, "%s: HTTP %d", o->url, h->status);
            obj_done(m, c);
            if (c->state == MC_DONE)
                break;
        } else if (used == 0) {
            break;
        }
    }
    if (len > 0)
        return fail(m, "%s: unexpected bytes after the response", m->obj[c->first + c->n - 1].url);
    return 0;
}

/* Advances c as far as it goes without waiting; *events gets what to poll for. */
static int
mc_step(multi_t *m, mconn_t *c, short *events)
{
    *events = 0;
    for (;;) {
        if (c->state == MC_CONNECTING) {
            struct pollfd p = {.fd = c->conn.fd, .events = POLLOUT};
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (poll(&p, 1, 0) <= 0) {
                *events = POLLOUT;
                return 0;
            }
            getsockopt(c->conn.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr != 0)
                return fail(m, "cannot connect to %s: %s", m->obj[c->first].u.host, strerror(soerr));
            if (m->res->local[0] == '\0')
                mpl_sock_names(c->conn.fd, m->res->local, sizeof(m->res->local), m->res->remote,
                               sizeof(m->res->remote));
            c->state = MC_HANDSHAKE;
        } else if (c->state == MC_HANDSHAKE) {
            int r = mpl_conn_handshake(&c->conn);
            if (r == MPL_IO_ERROR)
                return fail(m, "%s", c->conn.err);
            if (r != 0) {
                *events = r == MPL_IO_WANT_READ ? POLLIN : POLLOUT;
                return 0;
            }
            if (m->res->connect_s == 0 && m->cfg->sink != NULL)
                m->res->connect_s = (double)(mpl_now_ns() - m->cfg->sink->start_ns) / 1e9;
            c->state = MC_SENDING;
        } else if (c->state == MC_SENDING) {
            if (c->req_off < c->req_len) {
                ssize_t n = mpl_conn_write(&c->conn, c->req + c->req_off, c->req_len - c->req_off);
                if (n == MPL_IO_ERROR)
                    return fail(m, "%s", c->conn.err);
                if (n < 0) {
                    *events = n == MPL_IO_WANT_READ ? POLLIN : POLLOUT;
                    return 0;
                }
                c->req_off += (size_t)n;
                continue;
            }
            int f = mpl_conn_flush(&c->conn);
            if (f == MPL_IO_ERROR)
                return fail(m, "%s", c->conn.err);
            if (f != 0) {
                *events = POLLOUT;
                return 0;
            }
            c->state = MC_RECEIVING;
        } else if (c->state == MC_RECEIVING) {
            ssize_t got = mpl_conn_read(&c->conn, m->rbuf, MULTI_RBUF);
            if (got > 0) {
                c->deadline_ns = mpl_now_ns() + (uint64_t)(m->cfg->timeout_s * 1e9);
                if (mc_input(m, c, m->rbuf, (size_t)got) != 0)
                    return -1;
                if (c->state == MC_DONE)
                    return 0;
                continue;
            }
            if (got == 0) {
                mobj_t *o = &m->obj[c->cur];
                if (c->cur + 1 == c->first + c->n && mpl_http_cresp_eof(o->resp)) {
                    if (m->cfg->sink != NULL)
                        mpl_sink_end(m->cfg->sink);
                    obj_done(m, c);
                    return 0;
                }
                return fail(m, "%s: connection closed by the server before a complete response", o->url);
            }
            if (got == MPL_IO_ERROR)
                return fail(m, "%s: %s", m->obj[c->cur].url, c->conn.err);
            *events = got == MPL_IO_WANT_WRITE ? POLLOUT : POLLIN;
            return 0;
        } else {
            return 0;
        }
    }
}

int
mpl_client_run_multi(const mpl_client_cfg_t *cfg, mpl_client_result_t *res)
{
    multi_t m = {.cfg = cfg, .res = res};
    struct pollfd *pfd = NULL;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    res->mptcp.is_mptcp = -1;
    m.nobj = cfg->n_urls;
    m.nconn = cfg->multi == MPL_MULTI_PIPELINE ? 1 : cfg->n_urls;
    m.obj = calloc(m.nobj, sizeof(*m.obj));
    m.mc = calloc(m.nconn, sizeof(*m.mc));
    pfd = calloc(m.nconn, sizeof(*pfd));
    m.rbuf = malloc(MULTI_RBUF);
    if (m.obj == NULL || m.mc == NULL || pfd == NULL || m.rbuf == NULL) {
        fail(&m, "out of memory");
        goto out;
    }
    if (cfg->upload > 0) {
        fail(&m, "--parallel and --pipeline download (no --upload)");
        goto out;
    }
    for (size_t i = 0; i < m.nobj; i++) {
        mobj_t *o = &m.obj[i];
        uint64_t n = 0;
        o->url = cfg->urls[i];
        if (mpl_url_parse(cfg->urls[i], &o->u, res->error, sizeof(res->error)) != 0)
            goto out;
        if (i > 0 && m.nconn == 1 &&
            (strcmp(o->u.host, m.obj[0].u.host) != 0 || o->u.port != m.obj[0].u.port)) {
            fail(&m, "--pipeline: every URL must name the same server");
            goto out;
        }
        o->bytes_n = mpl_http_bytes_path(o->u.path, &n) == 0 ? (int64_t)n : -1;
        if ((o->resp = mpl_http_cresp_new(cfg->head, o->bytes_n)) == NULL) {
            fail(&m, "out of memory");
            goto out;
        }
    }
    if (cfg->sink != NULL)
        mpl_sink_start(cfg->sink);
    for (size_t i = 0; i < m.nconn; i++) {
        m.mc[i].conn.fd = -1;
        m.mc[i].first = m.nconn == 1 ? 0 : i;
        m.mc[i].n = m.nconn == 1 ? m.nobj : 1;
        m.mc[i].cur = m.mc[i].first;
        if (mc_start(&m, &m.mc[i]) != 0)
            goto out;
    }
    while (m.ndone < m.nobj) {
        size_t np = 0;
        uint64_t now = mpl_now_ns();
        for (size_t i = 0; i < m.nconn; i++) {
            mconn_t *c = &m.mc[i];
            short ev;
            if (c->state == MC_DONE)
                continue;
            if (mc_step(&m, c, &ev) != 0)
                goto out;
            if (c->state == MC_DONE)
                continue;
            if (now > c->deadline_ns) {
                fail(&m, "%s: no data for %.1f s (timeout)", m.obj[c->cur].url, cfg->timeout_s);
                goto out;
            }
            pfd[np].fd = c->conn.fd;
            pfd[np].events = ev ? ev : POLLIN;
            pfd[np++].revents = 0;
        }
        if (np > 0 && poll(pfd, np, 50) < 0 && errno != EINTR) {
            fail(&m, "poll: %s", strerror(errno));
            goto out;
        }
        if (cfg->sink != NULL)
            mpl_sink_tick(cfg->sink);
    }
    rc = 0;
out:
    if (cfg->sink != NULL)
        res->bytes = cfg->sink->total;
    res->n_objects = m.nobj < MPL_CLIENT_MAX_OBJECTS ? m.nobj : MPL_CLIENT_MAX_OBJECTS;
    res->completed = rc == 0;
    for (size_t i = 0; m.mc != NULL && i < m.nconn; i++)
        mc_close(&m, &m.mc[i]);
    for (size_t i = 0; m.obj != NULL && i < m.nobj; i++)
        mpl_http_cresp_free(m.obj[i].resp);
    free(m.obj);
    free(m.mc);
    free(pfd);
    free(m.rbuf);
    return rc;
}
