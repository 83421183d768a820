/*
 * accept.h — the listening side shared by both servers (server.c for tcp/tls/mptcp,
 * serve_tcpls.c for tcpls): the listening sockets in the server's epoll, and one accept policy.
 *
 *  - Out of descriptors (EMFILE/ENFILE): the server is first asked to shed its oldest idle
 *    connection (one that never completed a request, or a keep-alive one between requests)
 *    and the accept is tried again. When there is nothing to shed, a reserve descriptor is
 *    given up to accept the waiting connection and close it at once, so the listener does not
 *    stay readable and the loop does not spin. Without a reserve, the listener pauses 100 ms.
 *  - A cap of connections per client address (IP, any port): over it, new connections from
 *    that address are closed at once.
 * The servers close connections that complete no request header within
 * mpl_server_cfg_t.header_timeout_s (server.h), which, with the shedding, keeps a flood of idle
 * connections from locking real clients out.
 */
#ifndef MPLAB_ACCEPT_H
#define MPLAB_ACCEPT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "xfer/server.h"

/* epoll data.u64 of listener i: odd, so never an (aligned) pointer. Servers tag their other
 * non-pointer descriptors with MPL_ACCEPT_TAG(MPL_SERVER_MAX_LISTEN + k). */
#define MPL_ACCEPT_TAG(i) ((((uint64_t)(i)) << 1) | 1)

#define MPL_ACCEPT_DEFAULT_PER_ADDR 64 /* connections per client address */

typedef struct mpl_peer_slot mpl_peer_slot_t;

typedef struct mpl_acceptor {
    int ep;
    int lfd[MPL_SERVER_MAX_LISTEN];
    size_t n;
    uint64_t paused_until[MPL_SERVER_MAX_LISTEN]; /* listener out of epoll until (0: in) */
    int reserve_fd;                               /* /dev/null, given up on EMFILE */
    unsigned per_addr_max;
    mpl_peer_slot_t *peers; /* open connections per client address (open addressing) */
    size_t peers_cap, peers_used;
    /* frees one idle connection for a new one: returns 1 when it closed one, else 0 */
    int (*shed)(void *ud);
    void *shed_ud;
    uint64_t refused; /* connections closed at once: over the cap or out of descriptors */
    uint64_t last_warn_ns;
} mpl_acceptor_t;

/* Listens on every cfg->listen address (mpl_listen), adds the sockets to ep with
 * MPL_ACCEPT_TAG(i), prints "listening on ADDR:PORT (PROTO)" for each on stderr. shed may be
 * NULL. Returns 0, or -1 with a reason in err (call mpl_acceptor_close anyway). */
int mpl_acceptor_open(mpl_acceptor_t *a, const mpl_server_cfg_t *cfg, int ep, int (*shed)(void *ud),
                      void *shed_ud, char *err, size_t errlen);

/* The listener index of an epoll event's data.u64, or -1 when it is not a listener's. */
int mpl_acceptor_listener(const mpl_acceptor_t *a, uint64_t tag);

/* Accepts the next connection on listener li by the policy above. Returns a non-blocking
 * descriptor (TCP_NODELAY set) with the peer's address in *peer, or -1 when nothing more is
 * to be accepted now. The caller calls mpl_acceptor_release when it closes the connection. */
int mpl_acceptor_accept(mpl_acceptor_t *a, int li, struct sockaddr_storage *peer);

/* A connection from peer (as returned by mpl_acceptor_accept) was closed. */
void mpl_acceptor_release(mpl_acceptor_t *a, const struct sockaddr_storage *peer);

/* Once per event-loop round: listeners paused for lack of memory or descriptors come back. */
void mpl_acceptor_tick(mpl_acceptor_t *a, uint64_t now);

/* Closes the listeners and the reserve descriptor; frees the table. */
void mpl_acceptor_close(mpl_acceptor_t *a);

#endif
