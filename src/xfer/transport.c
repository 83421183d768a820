/*
 * transport.c — see transport.h.
 */
#include "xfer/transport.h"

#include "common/util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

static const mpl_transport_t transports[] = {
    {"tcp", MPL_PROTO_TCP, IPPROTO_TCP, 0, 80},
    {"tls", MPL_PROTO_TLS, IPPROTO_TCP, 1, 443},
    {"mptcp", MPL_PROTO_MPTCP, IPPROTO_MPTCP, 0, 80},
    {"mptls", MPL_PROTO_MPTLS, IPPROTO_MPTCP, 1, 443},
    /* tcpls: the tcpls helper's loops (see transport.h); ip_protocol/tls are informative. */
    {"tcpls", MPL_PROTO_TCPLS, IPPROTO_TCP, 1, 443},
};

const mpl_transport_t *
mpl_transport_find(const char *name)
{
    for (size_t i = 0; i < MPL_ARRAY_SIZE(transports); i++)
        if (strcmp(transports[i].name, name) == 0)
            return &transports[i];
    return NULL;
}

const char *
mpl_transport_names(void)
{
    return "tcp|tls|mptcp|mptls|tcpls";
}

int
mpl_set_cc(int fd, const char *algo, char *err, size_t errlen)
{
    if (algo == NULL || *algo == '\0')
        return 0;
    /* MPTCP sockets accept any name (it only applies to subflows later, silently), so check
     * the name on a plain TCP socket first. */
    int proto = 0, probe = -1;
    socklen_t pl = sizeof(proto);
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &pl) == 0 && proto == IPPROTO_MPTCP)
        probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    int bad =
        probe >= 0 && setsockopt(probe, IPPROTO_TCP, TCP_CONGESTION, algo, (socklen_t)strlen(algo)) != 0;
    if (probe >= 0)
        close(probe);
    if (bad || setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, algo, (socklen_t)strlen(algo)) != 0) {
        if (errno == ENOENT)
            snprintf(err, errlen,
                     "congestion control '%s' is not available (see "
                     "/proc/sys/net/ipv4/tcp_available_congestion_control; try modprobe tcp_%s)",
                     algo, algo);
        else
            snprintf(err, errlen, "cannot set congestion control '%s': %s", algo, strerror(errno));
        return -1;
    }
    return 0;
}

int
mpl_listen(const mpl_transport_t *tp, const struct sockaddr *addr, socklen_t alen, const char *cc, char *err,
           size_t errlen)
{
    char a[80];
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, tp->ip_protocol);
    if (fd < 0) {
        if (tp->ip_protocol == IPPROTO_MPTCP &&
            (errno == EPROTONOSUPPORT || errno == EINVAL || errno == ENOPROTOOPT))
            snprintf(err, errlen, "MPTCP is not available (kernel without MPTCP or net.mptcp.enabled=0)");
        else
            snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (mpl_set_cc(fd, cc, err, errlen) != 0)
        goto fail;
    if (bind(fd, addr, alen) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", mpl_fmt_addr(addr, 1, a, sizeof(a)),
                 strerror(errno));
        goto fail;
    }
    if (listen(fd, 1024) != 0) {
        snprintf(err, errlen, "listen on %s: %s", mpl_fmt_addr(addr, 1, a, sizeof(a)), strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

static void
ssl_reason(mpl_conn_t *c, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "";
    if (e != 0) {
        const char *r = ERR_reason_error_string(e);
        if (r != NULL)
            snprintf(buf, sizeof(buf), "%s", r);
        else
            ERR_error_string_n(e, buf, sizeof(buf));
    }
    long v = c->ssl != NULL ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    if (v != X509_V_OK)
        snprintf(c->err, sizeof(c->err), "%s: certificate verification failed: %s", what,
                 X509_verify_cert_error_string(v));
    else if (e != 0)
        snprintf(c->err, sizeof(c->err), "%s: %s", what, buf);
    else if (errno != 0)
        snprintf(c->err, sizeof(c->err), "%s: %s", what, strerror(errno));
    else
        snprintf(c->err, sizeof(c->err), "%s: connection closed by peer", what);
    ERR_clear_error();
}

/* TLS runs over a BIO pair: OpenSSL reads and writes memory, and we move bytes between the
 * pair and the socket with large recv()/send() calls (up to the pair's buffer) instead of one
 * or two system calls per 16 KiB record. */
#define TLS_PAIR_BUF (512 * 1024)

int
mpl_conn_init(mpl_conn_t *c, const mpl_transport_t *tp, int fd, SSL_CTX *ctx, int is_server,
              const char *servername)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    if (!tp->tls) {
        c->handshake_done = 1;
        return 0;
    }
    BIO *inner = NULL;
    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || BIO_new_bio_pair(&inner, TLS_PAIR_BUF, &c->netbio, TLS_PAIR_BUF) != 1) {
        ssl_reason(c, "TLS setup");
        return -1;
    }
    SSL_set_bio(c->ssl, inner, inner);
    if (is_server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        if (servername != NULL && *servername != '\0') {
            SSL_set_tlsext_host_name(c->ssl, servername);
            if (SSL_get_verify_mode(c->ssl) != SSL_VERIFY_NONE && SSL_set1_host(c->ssl, servername) != 1) {
                ssl_reason(c, "TLS setup");
                return -1;
            }
        }
    }
    return 0;
}

size_t
mpl_conn_pending(const mpl_conn_t *c)
{
    return c->netbio != NULL ? BIO_ctrl_pending(c->netbio) : 0;
}

int
mpl_conn_flush(mpl_conn_t *c)
{
    if (c->netbio == NULL)
        return 0;
    for (;;) {
        char *p;
        int n = BIO_nread0(c->netbio, &p);
        if (n <= 0)
            return 0;
        ssize_t k = send(c->fd, p, (size_t)n, MSG_NOSIGNAL);
        if (k > 0) {
            BIO_nread(c->netbio, &p, (int)k);
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return MPL_IO_WANT_WRITE;
        snprintf(c->err, sizeof(c->err), "send: %s", strerror(errno));
        return MPL_IO_ERROR;
    }
}

/* Moves received bytes from the socket into the pair. Returns 1 (got some), 0 (the pair is
 * full), MPL_IO_WANT_READ, or MPL_IO_ERROR; at EOF sets net_eof and returns 1 (OpenSSL then
 * sees the end of the stream). */
static int
fill_in(mpl_conn_t *c)
{
    if (c->net_eof)
        return 0;
    int total = 0;
    for (;;) {
        char *p;
        int space = BIO_nwrite0(c->netbio, &p);
        if (space <= 0)
            return total > 0 ? 1 : 0;
        ssize_t k = recv(c->fd, p, (size_t)space, 0);
        if (k > 0) {
            BIO_nwrite(c->netbio, &p, (int)k);
            total += (int)k;
            if (k < space)
                return 1;
            continue; /* the ring wrapped: there may be more space and more data */
        }
        if (k == 0) {
            c->net_eof = 1;
            BIO_shutdown_wr(c->netbio);
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return total > 0 ? 1 : MPL_IO_WANT_READ;
        snprintf(c->err, sizeof(c->err), "receive: %s", strerror(errno));
        return MPL_IO_ERROR;
    }
}

static int
ssl_result(mpl_conn_t *c, int r, const char *what)
{
    int e = SSL_get_error(c->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        return MPL_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return MPL_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        ssl_reason(c, what);
        return MPL_IO_ERROR;
    }
}

int
mpl_conn_handshake(mpl_conn_t *c)
{
    if (c->handshake_done)
        return 0;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_do_handshake(c->ssl);
        int f = mpl_conn_flush(c);
        if (f == MPL_IO_ERROR)
            return MPL_IO_ERROR;
        if (r == 1) {
            c->handshake_done = 1;
            return 0;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            int g = fill_in(c);
            if (g == 1)
                continue;
            if (g == MPL_IO_ERROR)
                return MPL_IO_ERROR;
            if (f == MPL_IO_WANT_WRITE)
                return MPL_IO_WANT_WRITE;
            if (c->net_eof) {
                snprintf(c->err, sizeof(c->err), "TLS handshake: connection closed by peer");
                return MPL_IO_ERROR;
            }
            return MPL_IO_WANT_READ;
        }
        if (e == SSL_ERROR_WANT_WRITE)
            return MPL_IO_WANT_WRITE;
        if (ssl_result(c, r, "TLS handshake") == 0)
            snprintf(c->err, sizeof(c->err), "TLS handshake: connection closed by peer");
        return MPL_IO_ERROR;
    }
}

ssize_t
mpl_conn_read(mpl_conn_t *c, void *buf, size_t len)
{
    if (c->ssl == NULL) {
        for (;;) {
            ssize_t n = recv(c->fd, buf, len, 0);
            if (n >= 0)
                return n;
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return MPL_IO_WANT_READ;
            snprintf(c->err, sizeof(c->err), "receive: %s", strerror(errno));
            return MPL_IO_ERROR;
        }
    }
    for (;;) {
        size_t got = 0;
        ERR_clear_error();
        errno = 0;
        int r = SSL_read_ex(c->ssl, buf, len, &got);
        if (r == 1) {
            if (mpl_conn_pending(c) > 0 && mpl_conn_flush(c) == MPL_IO_ERROR)
                return MPL_IO_ERROR;
            return (ssize_t)got;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            if (mpl_conn_pending(c) > 0 && mpl_conn_flush(c) == MPL_IO_ERROR)
                return MPL_IO_ERROR;
            int g = fill_in(c);
            if (g == 1)
                continue;
            if (g == MPL_IO_ERROR)
                return MPL_IO_ERROR;
            if (g == 0 && !c->net_eof)
                return MPL_IO_WANT_READ; /* cannot happen: OpenSSL drains the pair */
            if (c->net_eof) {
                snprintf(c->err, sizeof(c->err), "TLS: connection closed without close_notify");
                return MPL_IO_ERROR;
            }
            return MPL_IO_WANT_READ;
        }
        if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            snprintf(c->err, sizeof(c->err), "TLS: connection closed without close_notify");
            return MPL_IO_ERROR;
        }
        return ssl_result(c, r, "TLS receive");
    }
}

ssize_t
mpl_conn_write(mpl_conn_t *c, const void *buf, size_t len)
{
    if (c->ssl == NULL) {
        for (;;) {
            ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (n >= 0)
                return n;
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return MPL_IO_WANT_WRITE;
            snprintf(c->err, sizeof(c->err), "send: %s", strerror(errno));
            return MPL_IO_ERROR;
        }
    }
    /* Keep at most about one pair buffer of records queued: send what is queued first. */
    int f = mpl_conn_flush(c);
    if (f == MPL_IO_ERROR)
        return MPL_IO_ERROR;
    if (f == MPL_IO_WANT_WRITE && mpl_conn_pending(c) >= TLS_PAIR_BUF / 2)
        return MPL_IO_WANT_WRITE;
    /* With SSL_MODE_ENABLE_PARTIAL_WRITE each SSL_write_ex() stops after one record: loop so
     * that a whole chunk becomes records in the pair, then send them in one go. */
    size_t total = 0;
    while (total < len) {
        size_t done = 0;
        ERR_clear_error();
        errno = 0;
        int r = SSL_write_ex(c->ssl, (const uint8_t *)buf + total, len - total, &done);
        if (r == 1) {
            total += done;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE)
            break; /* the pair is full: send, the caller comes back for the rest */
        if (total > 0)
            break; /* report the error on the next call */
        if (e == SSL_ERROR_WANT_READ)
            return MPL_IO_WANT_READ;
        r = ssl_result(c, r, "TLS send");
        return r == 0 ? MPL_IO_ERROR : r;
    }
    f = mpl_conn_flush(c);
    if (f == MPL_IO_ERROR)
        return MPL_IO_ERROR;
    return total > 0 ? (ssize_t)total : MPL_IO_WANT_WRITE;
}

void
mpl_conn_close(mpl_conn_t *c)
{
    if (c->ssl != NULL) {
        if (c->handshake_done) {
            SSL_shutdown(c->ssl);
            mpl_conn_flush(c); /* best effort: close_notify and anything still queued */
        }
        SSL_free(c->ssl); /* frees the inner BIO */
        c->ssl = NULL;
    }
    if (c->netbio != NULL) {
        BIO_free(c->netbio);
        c->netbio = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}
