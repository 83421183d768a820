/*
 * linkwatch.h — notices when a local interface loses its carrier or goes down, so that TCPLS
 * fails the connections using it at once instead of waiting for a missing acknowledgment
 * (rtnetlink link and address notifications; the state is read back with getifaddrs).
 *
 * Error convention: 0 / positive on success, negative on failure.
 */
#ifndef MPLAB_LINKWATCH_H
#define MPLAB_LINKWATCH_H

#include <sys/socket.h>

/* A non-blocking rtnetlink socket subscribed to link and address changes (IPv4 and IPv6), to
 * poll for POLLIN / EPOLLIN. Returns the descriptor or -1 (the caller then goes without). */
int mpl_linkwatch_open(void);
/* Reads every pending notification. Returns 1 when some link or address changed, else 0. */
int mpl_linkwatch_drain(int fd);

/* Snapshot of the local interfaces' state, taken once per change and asked per connection. */
typedef struct mpl_ifstate mpl_ifstate_t;
mpl_ifstate_t *mpl_ifstate_get(void);
void mpl_ifstate_free(mpl_ifstate_t *st);
/* 0 when the local address addr (a connected socket's getsockname) belongs to an interface that
 * is down or has no carrier; else 1 (also when st is NULL, addr is a wildcard, or no interface
 * holds addr, as 127.0.0.2 on lo: nothing known, assume usable). */
int mpl_ifstate_addr_usable(const mpl_ifstate_t *st, const struct sockaddr *addr, char *ifname, size_t len);
/* The same for a socket's local address (getsockname). */
int mpl_ifstate_sock_usable(const mpl_ifstate_t *st, int fd, char *ifname, size_t len);

#endif
