/*
 * server.h — the event loop behind 'mplab serve' for the socket transports (tcp, tls,
 * mptcp): non-blocking sockets, one epoll, any number of clients; each connection pairs a
 * mpl_conn_t (transport.h) with a mpl_http_sconn_t (http.h). A client that misbehaves (bad
 * request, failed handshake, reset, stalls) only loses its own connection.
 */
#ifndef MPLAB_SERVER_H
#define MPLAB_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "xfer/transport.h"

#define MPL_SERVER_MAX_LISTEN 16

typedef struct mpl_server_cfg {
    const mpl_transport_t *tp;
    struct sockaddr_storage listen[MPL_SERVER_MAX_LISTEN];
    socklen_t listen_len[MPL_SERVER_MAX_LISTEN];
    size_t n_listen;
    const char *root; /* or NULL */
    const char *cc;   /* TCP_CONGESTION or NULL */
    SSL_CTX *ssl_ctx; /* tls only */
    int quiet;
    double idle_timeout_s;       /* close connections idle this long (0: 120 s) */
    double header_timeout_s;     /* close connections without a complete request head this long
                                  * after they connected or began one (0: 20 s) */
    unsigned max_conns_per_addr; /* connections per client address (0: 64, see accept.h) */
    volatile sig_atomic_t *stop; /* the loop returns when *stop becomes non-zero */
    /* tcpls multipath */
    unsigned tcpls_tokens;   /* tokens (extra connections) per session, 0 = library default (4) */
    const char *tcpls_sched; /* scheduler name or NULL (default) */
    int tcpls_join_full;     /* --join full: also accept full-handshake joins */
    int tcpls_stream_policy; /* TCPLS_STREAMS_* of new sessions; a request's X-Mplab-Streams wins */
    double blackhole_s;      /* a connection without acknowledgment progress this long fails (0: adaptive,
                              * max(0.3 s, 4 x srtt) + queue drain time, see tcpls_upkeep.h) */
} mpl_server_cfg_t;

typedef struct mpl_server_stats {
    uint64_t bytes_sent;     /* application bytes (HTTP) sent */
    uint64_t bytes_received; /* application bytes received */
    uint64_t connections;    /* accepted */
    uint64_t errors;         /* connections that ended with an error (bad request, reset, TLS) */
    uint64_t requests;
    uint64_t reinjected_bytes; /* tcpls: stream bytes sent again by opportunistic reinjection */
} mpl_server_stats_t;

/* Listens on every address, prints "listening on ADDR:PORT (PROTO)" for each on stderr, and
 * serves until *cfg->stop. Returns 0 after a clean stop (all sockets closed), or -1 with a
 * reason in err when it could not start. */
int mpl_server_run(const mpl_server_cfg_t *cfg, mpl_server_stats_t *stats, char *err, size_t errlen);

/* The tcpls server (same config, same stats), in src/xfer/serve_tcpls.c: the place where
 * '--proto tcpls' plugs in. It must drive mpl_http_sconn_t objects (one per stream), print
 * the same "listening on" lines and return when *cfg->stop is set. */
int mpl_tcpls_serve(const mpl_server_cfg_t *cfg, mpl_server_stats_t *stats, char *err, size_t errlen);

#endif
