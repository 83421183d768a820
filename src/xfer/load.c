/*
 * load.c — see load.h: the schedule, and the load over tcp, tls and mptcp (C keep-alive
 * connections in one epoll loop).
 */
#include "xfer/load.h"

#include "xfer/client.h"
#include "netinfo/mptcp_info.h"
#include "xfer/http.h"
#include "xfer/sink.h"
#include "xfer/sock.h"
#include "common/json.h"
#include "common/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOAD_RBUF (64 * 1024)

void
mpl_load_sched_start(mpl_load_sched_t *s, const mpl_load_cfg_t *cfg, uint64_t now_ns)
{
    s->cfg = cfg;
    s->start_ns = now_ns;
    s->next = 0;
}

static uint64_t
due_of(const mpl_load_sched_t *s, uint64_t k)
{
    return s->start_ns + (uint64_t)((double)k * 1e9 / s->cfg->rate);
}

int
mpl_load_sched_take(mpl_load_sched_t *s, uint64_t now_ns, uint64_t *due_ns)
{
    if (s->next >= s->cfg->requests)
        return 0;
    uint64_t due = s->cfg->rate > 0 ? due_of(s, s->next) : now_ns;
    if (due > now_ns)
        return 0;
    s->next++;
    *due_ns = due;
    return 1;
}

uint64_t
mpl_load_sched_wait_ns(const mpl_load_sched_t *s, uint64_t now_ns)
{
    if (s->next >= s->cfg->requests)
        return UINT64_MAX;
    if (s->cfg->rate <= 0)
        return 0;
    uint64_t due = due_of(s, s->next);
    return due > now_ns ? due - now_ns : 0;
}

void
mpl_load_note(mpl_load_result_t *r, uint64_t due_ns, uint64_t now_ns, const char *why)
{
    if (why != NULL) {
        if (r->errors++ == 0)
            snprintf(r->first_error, sizeof(r->first_error), "%s", why);
    } else {
        r->completed++;
        mpl_hist_record(&r->hist, now_ns > due_ns ? (now_ns - due_ns + 500) / 1000 : 0);
    }
    r->end_ns = now_ns;
}

/* ---- tcp, tls, mptcp ------------------------------------------------------------------ */

typedef struct lconn {
    mpl_conn_t conn;
    int open;
    int busy; /* a request is out */
    uint64_t due_ns, last_io_ns;
    mpl_http_cresp_t *resp;
    mpl_body_sink_t sink;
    int out_pending; /* EPOLLOUT wanted */
} lconn_t;

typedef struct loader {
    const mpl_client_cfg_t *cfg;
    const mpl_load_cfg_t *lcfg;
    mpl_load_result_t *res;
    mpl_url_t u;
    int port;
    int64_t bytes_n;
    char req[4096];
    int req_len;
    lconn_t *c;
    int ep;
    uint8_t *rbuf;
    mpl_load_sched_t sched;
    uint64_t inflight;
} loader_t;

static void
lconn_close(loader_t *l, lconn_t *c)
{
    if (!c->open)
        return;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, c->conn.fd, NULL);
    mpl_conn_close(&c->conn);
    c->open = 0;
    c->out_pending = 0;
}

/* Waits for fd (at most until deadline). Returns 0, or -1 past the deadline. */
static int
wait_fd(int fd, short events, uint64_t deadline)
{
    uint64_t now = mpl_now_ns();
    if (now >= deadline)
        return -1;
    struct pollfd p = {.fd = fd, .events = events};
    if (poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) < 0 && errno != EINTR)
        return -1;
    return 0;
}

/* Connects c (TCP and TLS handshake, blocking up to the timeout). Returns 0 or -1 with err. */
static int
lconn_open(loader_t *l, lconn_t *c, char *err, size_t errlen)
{
    const mpl_client_cfg_t *cfg = l->cfg;
    mpl_connect_opts_t o = {.ip_protocol = cfg->tp->ip_protocol,
                            .cc = cfg->cc,
                            .bind = cfg->bind,
                            .bind_len = cfg->bind_len,
                            .n_bind = cfg->n_bind,
                            .timeout_s = cfg->timeout_s};
    int fd = mpl_sock_connect(&o, l->u.host, l->port, err, errlen);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const char *sni = cfg->servername != NULL ? cfg->servername : l->u.host;
    if (mpl_conn_init(&c->conn, cfg->tp, fd, cfg->ssl_ctx, 0, sni) != 0) {
        snprintf(err, errlen, "%s", c->conn.err);
        mpl_conn_close(&c->conn);
        return -1;
    }
    uint64_t deadline = mpl_now_ns() + (uint64_t)(cfg->timeout_s * 1e9);
    for (;;) {
        int r = mpl_conn_handshake(&c->conn);
        if (r == 0)
            break;
        if (r == MPL_IO_ERROR || wait_fd(fd, r == MPL_IO_WANT_READ ? POLLIN : POLLOUT, deadline) != 0) {
            snprintf(err, errlen, "%s", r == MPL_IO_ERROR ? c->conn.err : "TLS handshake timed out");
            mpl_conn_close(&c->conn);
            return -1;
        }
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        snprintf(err, errlen, "epoll: %s", strerror(errno));
        mpl_conn_close(&c->conn);
        return -1;
    }
    c->open = 1;
    c->busy = 0;
    return 0;
}

static void
want_out(loader_t *l, lconn_t *c, int on)
{
    if (c->out_pending == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(l->ep, EPOLL_CTL_MOD, c->conn.fd, &ev);
    c->out_pending = on;
}

/* The request on c failed: counted, the connection closed (opened again by the main loop). */
static void
lconn_fail(loader_t *l, lconn_t *c, uint64_t now, const char *fmt, const char *detail)
{
    char why[300];
    snprintf(why, sizeof(why), fmt, detail);
    mpl_load_note(l->res, c->due_ns, now, why);
    c->busy = 0;
    l->inflight--;
    lconn_close(l, c);
}

/* Sends the request on c. Returns 0, or -1 (c failed). */
static int
lconn_send(loader_t *l, lconn_t *c, uint64_t due, uint64_t now)
{
    c->busy = 1;
    c->due_ns = due;
    c->last_io_ns = now;
    l->inflight++;
    mpl_http_cresp_free(c->resp);
    c->resp = mpl_http_cresp_new(0, l->bytes_n);
    if (c->resp == NULL) {
        lconn_fail(l, c, now, "%s", "out of memory");
        return -1;
    }
    /* a request head is small: it goes at once or (TLS) waits as a queued record */
    ssize_t n = mpl_conn_write(&c->conn, l->req, (size_t)l->req_len);
    if (n != l->req_len) {
        lconn_fail(l, c, now, "cannot send the request: %s", n == MPL_IO_ERROR ? c->conn.err : "socket full");
        return -1;
    }
    int f = mpl_conn_flush(&c->conn);
    if (f == MPL_IO_ERROR) {
        lconn_fail(l, c, now, "%s", c->conn.err);
        return -1;
    }
    want_out(l, c, f != 0);
    return 0;
}

/* Reads what c has; completes its response. */
static void
lconn_input(loader_t *l, lconn_t *c, uint64_t now)
{
    if (c->out_pending) {
        int f = mpl_conn_flush(&c->conn);
        if (f == MPL_IO_ERROR) {
            if (c->busy)
                lconn_fail(l, c, now, "%s", c->conn.err);
            else
                lconn_close(l, c);
            return;
        }
        want_out(l, c, f != 0);
    }
    for (;;) {
        ssize_t got = mpl_conn_read(&c->conn, l->rbuf, LOAD_RBUF);
        if (got == MPL_IO_WANT_READ || got == MPL_IO_WANT_WRITE)
            return;
        if (got <= 0) {
            if (c->busy)
                lconn_fail(l, c, now, "connection closed: %s",
                           got == 0 ? "by the server before a complete response" : c->conn.err);
            else
                lconn_close(l, c);
            return;
        }
        c->last_io_ns = now;
        if (!c->busy) { /* bytes without a request: not a server we can measure */
            lconn_close(l, c);
            return;
        }
        size_t used = 0;
        int d = mpl_http_cresp_input(c->resp, l->rbuf, (size_t)got, &used, &c->sink);
        if (d < 0) {
            lconn_fail(l, c, now, "%s",
                       c->sink.mismatch ? "content differs from /bytes/N" : mpl_http_cresp_error(c->resp));
            c->sink.mismatch = 0;
            return;
        }
        if (d == 0)
            continue;
        if (used < (size_t)got) {
            lconn_fail(l, c, now, "%s", "unexpected bytes after the response");
            return;
        }
        const mpl_http_response_t *h = mpl_http_cresp_head(c->resp);
        uint64_t body = mpl_http_cresp_body_bytes(c->resp);
        char st[32];
        if (h->status != 200) {
            snprintf(st, sizeof(st), "%d", h->status);
            lconn_fail(l, c, now, "HTTP status %s", st);
            return;
        }
        if (l->bytes_n >= 0 && body != (uint64_t)l->bytes_n) {
            snprintf(st, sizeof(st), "%llu", (unsigned long long)body);
            lconn_fail(l, c, now, "/bytes/N answered with %s bytes", st);
            return;
        }
        l->res->bytes += body;
        mpl_load_note(l->res, c->due_ns, now, NULL);
        c->busy = 0;
        l->inflight--;
        if (!h->keep_alive)
            lconn_close(l, c);
        return;
    }
}

int
mpl_load_run(const mpl_client_cfg_t *cfg, const mpl_load_cfg_t *lcfg, mpl_load_result_t *res, char *err,
             size_t errlen)
{
    loader_t l;
    int rc = -1;
    memset(&l, 0, sizeof(l));
    memset(res, 0, sizeof(*res));
    mpl_hist_init(&res->hist);
    res->mptcp = -1;
    l.cfg = cfg;
    l.lcfg = lcfg;
    l.res = res;
    l.ep = -1;
    if (mpl_url_parse(cfg->urls[0], &l.u, err, errlen) != 0)
        return -1;
    l.port = l.u.port > 0 ? l.u.port : cfg->tp->default_port;
    uint64_t n;
    l.bytes_n = mpl_http_bytes_path(l.u.path, &n) == 0 ? (int64_t)n : -1;
    char hosthdr[300];
    snprintf(hosthdr, sizeof(hosthdr), strchr(l.u.host, ':') ? "[%s]:%d" : "%s:%d", l.u.host, l.port);
    l.req_len = mpl_http_build_request(l.req, sizeof(l.req), "GET", hosthdr, l.u.path, 0, 1);
    if (l.req_len < 0) {
        snprintf(err, errlen, "URL too long");
        return -1;
    }
    l.c = calloc(lcfg->concurrency, sizeof(*l.c));
    l.rbuf = malloc(LOAD_RBUF);
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    if (l.c == NULL || l.rbuf == NULL || l.ep < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    mpl_sink_cfg_t scfg = {.out_fd = -1, .hash = 0, .verify = 1, .interval_s = 1};
    for (uint32_t i = 0; i < lcfg->concurrency; i++) {
        mpl_sink_init(&l.c[i].sink, &scfg); /* no digest: cannot fail */
        if (lconn_open(&l, &l.c[i], err, errlen) != 0)
            goto out;
    }
    uint64_t timeout_ns = (uint64_t)(cfg->timeout_s * 1e9);
    struct epoll_event evs[64];
    mpl_load_sched_start(&l.sched, lcfg, mpl_now_ns());
    res->start_ns = l.sched.start_ns;
    uint32_t next_free = 0;
    while (l.sched.next < lcfg->requests || l.inflight > 0) {
        uint64_t now = mpl_now_ns(), due;
        /* hand requests to free connections (round robin, so that all of them are used) */
        for (uint32_t k = 0; k < lcfg->concurrency && l.sched.next < lcfg->requests; k++) {
            lconn_t *c = &l.c[(next_free + k) % lcfg->concurrency];
            if (c->busy)
                continue;
            if (!c->open) {
                char why[300];
                if (lconn_open(&l, c, why, sizeof(why)) != 0) {
                    snprintf(err, errlen, "%s", why);
                    goto out;
                }
            }
            if (!mpl_load_sched_take(&l.sched, now, &due))
                break;
            lconn_send(&l, c, due, now);
            next_free = (next_free + k + 1) % lcfg->concurrency;
        }
        uint64_t wait =
            l.inflight < lcfg->concurrency ? mpl_load_sched_wait_ns(&l.sched, mpl_now_ns()) : UINT64_MAX;
        /* to the microsecond (a spinning loop would take the CPU the server needs) */
        struct timespec to = {.tv_sec = 0, .tv_nsec = wait > 100000000ull ? 100000000l : (long)wait};
        int ne = epoll_pwait2(l.ep, evs, 64, &to, NULL);
        if (ne < 0 && errno != EINTR) {
            snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
            goto out;
        }
        now = mpl_now_ns();
        for (int i = 0; i < ne; i++)
            lconn_input(&l, evs[i].data.ptr, now);
        for (uint32_t i = 0; i < lcfg->concurrency; i++) {
            lconn_t *c = &l.c[i];
            if (c->busy && now - c->last_io_ns > timeout_ns)
                lconn_fail(&l, c, now, "%s", "no response (timeout)");
        }
    }
    rc = res->errors == 0 ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "%llu of %llu requests failed; the first: %s", (unsigned long long)res->errors,
                 (unsigned long long)lcfg->requests, res->first_error);
out:
    if (l.c != NULL && l.c[0].open && cfg->tp->proto == MPL_PROTO_MPTCP) {
        mpl_mptcp_state_t ms;
        memset(&ms, 0, sizeof(ms));
        ms.is_mptcp = -1;
        mpl_mptcp_query(l.c[0].conn.fd, &ms);
        res->mptcp = ms.is_mptcp;
        res->subflows = ms.n_subflows;
    }
    if (l.c != NULL) {
        for (uint32_t i = 0; i < lcfg->concurrency; i++) {
            lconn_close(&l, &l.c[i]);
            mpl_http_cresp_free(l.c[i].resp);
            mpl_sink_cleanup(&l.c[i].sink);
        }
    }
    free(l.c);
    free(l.rbuf);
    if (l.ep >= 0)
        close(l.ep);
    return rc;
}

/* ---- output --------------------------------------------------------------------------- */

static const struct {
    const char *name, *label;
    double q;
} quantiles[] = {
    {"p50_ms", "50.000%", 0.5},    {"p90_ms", "90.000%", 0.9},  {"p99_ms", "99.000%", 0.99},
    {"p999_ms", "99.900%", 0.999}, {"max_ms", "100.000%", 1.0},
};

static double
seconds_of(const mpl_load_result_t *r)
{
    return r->end_ns > r->start_ns ? (double)(r->end_ns - r->start_ns) / 1e9 : 0;
}

void
mpl_load_print_text(FILE *f, const char *proto, const char *url, const mpl_load_cfg_t *lcfg,
                    const mpl_load_result_t *r)
{
    double secs = seconds_of(r);
    char rate[64] = "closed loop";
    if (lcfg->rate > 0)
        snprintf(rate, sizeof(rate), "rate %.0f/s, latency from the scheduled send time", lcfg->rate);
    fprintf(f, "%llu requests of %s over %s, concurrency %u (%s)\n", (unsigned long long)lcfg->requests, url,
            proto, lcfg->concurrency, rate);
    fprintf(f, "  Latency   mean %.3fms  min %.3fms  max %.3fms\n", mpl_hist_mean(&r->hist) / 1e3,
            (double)r->hist.min / 1e3, (double)r->hist.max / 1e3);
    fprintf(f, "  Latency Distribution\n");
    for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++)
        fprintf(f, "  %8s %10.3fms\n", quantiles[i].label,
                (double)mpl_hist_quantile(&r->hist, quantiles[i].q) / 1e3);
    fprintf(f, "  %llu requests in %.3f s, %llu bytes, %llu errors\n", (unsigned long long)r->completed, secs,
            (unsigned long long)r->bytes, (unsigned long long)r->errors);
    fprintf(f, "Requests/sec: %.2f\n", secs > 0 ? (double)r->completed / secs : 0);
}

void
mpl_load_print_json(FILE *f, const char *proto, const char *url, const mpl_load_cfg_t *lcfg,
                    const mpl_load_result_t *r, double cpu_user_s, double cpu_sys_s, const char *error)
{
    double secs = seconds_of(r);
    mpl_json_t j;
    mpl_json_init(&j, f);
    mpl_json_obj_begin(&j, NULL);
    mpl_json_str(&j, "proto", proto);
    mpl_json_str(&j, "url", url);
    mpl_json_str(&j, "workload", "requests");
    mpl_json_u64(&j, "requests", lcfg->requests);
    mpl_json_u64(&j, "concurrency", lcfg->concurrency);
    if (lcfg->rate > 0)
        mpl_json_num(&j, "rate", lcfg->rate);
    else
        mpl_json_null(&j, "rate");
    mpl_json_u64(&j, "completed", r->completed);
    mpl_json_u64(&j, "errors", r->errors);
    mpl_json_u64(&j, "bytes", r->bytes);
    mpl_json_num(&j, "seconds", secs);
    mpl_json_num(&j, "requests_per_s", secs > 0 ? (double)r->completed / secs : 0);
    mpl_json_obj_begin(&j, "latency_ms");
    mpl_json_num(&j, "min", (double)r->hist.min / 1e3);
    mpl_json_num(&j, "mean", mpl_hist_mean(&r->hist) / 1e3);
    for (size_t i = 0; i < sizeof(quantiles) / sizeof(quantiles[0]); i++) {
        char key[16];
        snprintf(key, sizeof(key), "%.*s", (int)(strlen(quantiles[i].name) - 3), quantiles[i].name);
        mpl_json_num(&j, key, (double)mpl_hist_quantile(&r->hist, quantiles[i].q) / 1e3);
    }
    mpl_json_obj_end(&j);
    /* the histogram (common/hist.h): unit microseconds, non-empty buckets [lo, hi, count] */
    mpl_json_obj_begin(&j, "histogram");
    mpl_json_str(&j, "unit", "us");
    mpl_json_u64(&j, "sub_buckets", MPL_HIST_SUB);
    mpl_json_arr_begin(&j, "buckets");
    for (size_t i = 0; i < MPL_HIST_BUCKETS; i++) {
        if (r->hist.counts[i] == 0)
            continue;
        mpl_json_arr_begin(&j, NULL);
        mpl_json_u64(&j, NULL, mpl_hist_bucket_lo(i));
        mpl_json_u64(&j, NULL, mpl_hist_bucket_hi(i));
        mpl_json_u64(&j, NULL, r->hist.counts[i]);
        mpl_json_arr_end(&j);
    }
    mpl_json_arr_end(&j);
    mpl_json_obj_end(&j);
    if (strcmp(proto, "mptcp") == 0) {
        if (r->mptcp < 0)
            mpl_json_null(&j, "mptcp");
        else
            mpl_json_bool(&j, "mptcp", r->mptcp);
        mpl_json_u64(&j, "n_subflows", (uint64_t)r->subflows);
    }
    if (r->n_conns > 0) {
        mpl_json_arr_begin(&j, "connections");
        for (int i = 0; i < r->n_conns; i++) {
            mpl_json_obj_begin(&j, NULL);
            mpl_json_u64(&j, "id", r->conns[i].id);
            mpl_json_str(&j, "local", r->conns[i].local);
            mpl_json_str(&j, "remote", r->conns[i].remote);
            mpl_json_u64(&j, "bytes_sent", r->conns[i].bytes_sent);
            mpl_json_u64(&j, "bytes_received", r->conns[i].bytes_received);
            mpl_json_obj_end(&j);
        }
        mpl_json_arr_end(&j);
    }
    mpl_json_num(&j, "cpu_user_s", cpu_user_s);
    mpl_json_num(&j, "cpu_sys_s", cpu_sys_s);
    mpl_json_str(&j, "error", error != NULL && error[0] ? error : NULL);
    mpl_json_obj_end(&j);
    mpl_json_finish(&j);
}
