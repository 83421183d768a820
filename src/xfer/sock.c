/*
 * sock.c — see sock.h.
 */
#include "xfer/sock.h"

#include "xfer/transport.h"
#include "common/util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

int
mpl_sock_connect_start(const mpl_connect_opts_t *o, const struct sockaddr *to, socklen_t tolen,
                       const struct sockaddr *local, socklen_t local_len, char *why, size_t whylen)
{
    int fd = socket(to->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, o->ip_protocol);
    if (fd < 0) {
        if (o->ip_protocol == IPPROTO_MPTCP)
            snprintf(why, whylen, "MPTCP is not available (kernel without MPTCP or net.mptcp.enabled=0)");
        else
            snprintf(why, whylen, "socket: %s", strerror(errno));
        return MPL_SOCK_TRY_NEXT;
    }
    if (mpl_set_cc(fd, o->cc, why, whylen) != 0) {
        close(fd);
        return MPL_SOCK_GIVE_UP;
    }
    /* requests and TCPLS records are written whole: Nagle would only hold small ones back
     * (a lone request waited for the delayed ACK, 40 ms) */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (size_t i = 0; local == NULL && i < o->n_bind; i++) {
        if (o->bind[i].ss_family == to->sa_family) {
            local = (const struct sockaddr *)&o->bind[i];
            local_len = o->bind_len[i];
        }
    }
    if (local != NULL && bind(fd, local, local_len) != 0) {
        char a[80];
        snprintf(why, whylen, "cannot bind to %s: %s", mpl_fmt_addr(local, 1, a, sizeof(a)), strerror(errno));
        close(fd);
        return MPL_SOCK_GIVE_UP;
    }
    if (connect(fd, to, tolen) != 0 && errno != EINPROGRESS) {
        snprintf(why, whylen, "%s", strerror(errno));
        close(fd);
        return MPL_SOCK_TRY_NEXT;
    }
    return fd;
}

int
mpl_sock_connect_wait(const mpl_connect_opts_t *o, int fd, char *why, size_t whylen)
{
    uint64_t deadline = mpl_now_ns() + (uint64_t)(o->timeout_s * 1e9);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        uint64_t now = mpl_now_ns();
        if (now >= deadline) {
            snprintf(why, whylen, "connection timed out after %.1f s", o->timeout_s);
            return -1;
        }
        uint64_t left_ms = (deadline - now) / 1000000 + 1;
        int r = poll(&pfd, 1, left_ms < 200 ? (int)left_ms : 200);
        if (o->tick != NULL)
            o->tick(o->tick_ud);
        if (r > 0)
            break;
        if (r < 0 && errno != EINTR) {
            snprintf(why, whylen, "poll: %s", strerror(errno));
            return -1;
        }
    }
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr != 0) {
        snprintf(why, whylen, "%s", strerror(soerr));
        return -1;
    }
    return 0;
}

int
mpl_sock_connect(const mpl_connect_opts_t *o, const char *host, int port, char *why, size_t whylen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    char ps[16], reason[300] = "no address";
    int fd = -1;

    snprintf(ps, sizeof(ps), "%d", port);
    int g = getaddrinfo(host, ps, &hints, &ai);
    if (g != 0) {
        snprintf(why, whylen, "cannot resolve '%s': %s", host, gai_strerror(g));
        return -1;
    }
    for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
            continue;
        fd = mpl_sock_connect_start(o, a->ai_addr, a->ai_addrlen, NULL, 0, reason, sizeof(reason));
        if (fd == MPL_SOCK_GIVE_UP)
            break;
        if (fd >= 0 && mpl_sock_connect_wait(o, fd, reason, sizeof(reason)) != 0) {
            close(fd);
            fd = MPL_SOCK_TRY_NEXT;
        }
        if (fd >= 0)
            break;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(why, whylen,
                 strchr(host, ':') ? "cannot connect to [%s]:%d: %s" : "cannot connect to %s:%d: %s", host,
                 port, reason);
        return -1;
    }
    return fd;
}

void
mpl_sock_names(int fd, char *local, size_t local_len, char *remote, size_t remote_len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        mpl_fmt_addr((struct sockaddr *)&ss, 1, local, local_len);
    sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        mpl_fmt_addr((struct sockaddr *)&ss, 1, remote, remote_len);
}
