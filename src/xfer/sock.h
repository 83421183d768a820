/*
 * sock.h — the one way the clients open a connection: tcp, tls and mptcp ('mplab get') and
 * every TCPLS connection (the first one and the joins). A non-blocking TCP or MPTCP socket,
 * TCP_CONGESTION, bound to a local address (--bind), connected with a timeout.
 *
 * Error convention (application): 0 / a descriptor on success, -1 with a reason in why.
 */
#ifndef MPLAB_SOCK_H
#define MPLAB_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct mpl_connect_opts {
    int ip_protocol; /* IPPROTO_TCP or IPPROTO_MPTCP */
    const char *cc;  /* TCP_CONGESTION or NULL */
    /* local addresses (--bind): the first one of the destination's family is used; the
     * others are for multipath protocols */
    const struct sockaddr_storage *bind;
    const socklen_t *bind_len;
    size_t n_bind;
    double timeout_s; /* connect timeout */
    /* called about every 200 ms while waiting (progress output), or NULL */
    void (*tick)(void *tick_ud);
    void *tick_ud;
} mpl_connect_opts_t;

/* Results of mpl_sock_connect_start besides a descriptor. */
#define MPL_SOCK_TRY_NEXT (-1) /* this address failed: another address of the host may work */
#define MPL_SOCK_GIVE_UP  (-2) /* a local problem (--cc, --bind): no other address will work */

/* Creates a non-blocking socket for to's family, sets o->cc, binds it to local (or, when
 * local is NULL, to the first o->bind address of the family; none: any) and starts connecting.
 * Returns the descriptor (the connection may still be in progress), MPL_SOCK_TRY_NEXT or
 * MPL_SOCK_GIVE_UP, with a reason in why. */
int mpl_sock_connect_start(const mpl_connect_opts_t *o, const struct sockaddr *to, socklen_t tolen,
                           const struct sockaddr *local, socklen_t local_len, char *why, size_t whylen);

/* Waits until the connection started on fd is established, at most o->timeout_s. Returns 0,
 * or -1 with a reason in why (the descriptor stays open). */
int mpl_sock_connect_wait(const mpl_connect_opts_t *o, int fd, char *why, size_t whylen);

/* Resolves host:port and connects to its addresses in order until one works. Returns the
 * connected descriptor, or -1 with "cannot resolve ..." or "cannot connect to HOST:PORT: ..."
 * in why. */
int mpl_sock_connect(const mpl_connect_opts_t *o, const char *host, int port, char *why, size_t whylen);

/* The local and remote addresses of a socket as "ADDR:PORT" (unchanged when unknown). */
void mpl_sock_names(int fd, char *local, size_t local_len, char *remote, size_t remote_len);

#endif
