/*
 * io_socket.c — optional glue between a TCPLS session and non-blocking sockets. The event
 * loop (epoll) stays with the application; these two calls move bytes both ways.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpls.h"

#define IO_READ_CHUNK (256 * 1024)

int
tcpls_io_read(tcpls_session_t *s, uint32_t conn_id, int fd, uint64_t now_ns)
{
    static _Thread_local uint8_t buf[IO_READ_CHUNK];
    int rounds = 0;

    /* A few reads per call: enough to batch acknowledgments, few enough to stay fair. */
    while (rounds++ < 4) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n > 0) {
            int r = tcpls_receive(s, conn_id, buf, (size_t)n, now_ns);
            if (r != 0)
                return r;
            if ((size_t)n < sizeof(buf))
                return 0;
            continue;
        }
        if (n == 0) {
            tcpls_conn_eof(s, conn_id);
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (!tcpls_session_is_closed(s))
            tcpls_conn_eof(s, conn_id);
        return TCPLS_ERR_TRUNCATED;
    }
    return 0;
}

int
tcpls_io_write(tcpls_session_t *s, uint32_t conn_id, int fd)
{
    for (;;) {
        const uint8_t *data;
        size_t len;
        if (tcpls_conn_output(s, conn_id, &data, &len) != 0)
            return TCPLS_ERR_NO_CONN;
        if (len == 0)
            return 0;
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            tcpls_conn_output_consumed(s, conn_id, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return TCPLS_ERR_TRUNCATED;
    }
}

int
tcpls_io_add_address(tcpls_session_t *s, uint8_t id, const struct sockaddr *sa)
{
    tcpls_addr_t a = {.id = id};
    if (sa == NULL)
        return TCPLS_ERR_ARG;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (in->sin_addr.s_addr == htonl(INADDR_ANY))
            return TCPLS_ERR_ARG;
        a.version = 4;
        memcpy(a.addr, &in->sin_addr, 4);
        a.port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr))
            return TCPLS_ERR_ARG;
        a.version = 6;
        memcpy(a.addr, &in6->sin6_addr, 16);
        a.port = ntohs(in6->sin6_port);
    } else {
        return TCPLS_ERR_ARG;
    }
    return tcpls_session_add_address(s, &a);
}
