/*
 * transport.h — the byte-stream transports under 'mplab serve' and 'mplab get': a small
 * table of operations per protocol (tcp, tls, mptcp, and mptls: TLS over an MPTCP socket).
 * Sockets are non-blocking; every call returns at once.
 *
 * TCPLS plugs in differently (one session = several TCP connections, one HTTP exchange per
 * stream), so it is not an entry of this table: cmd_serve.c / cmd_get.c dispatch "tcpls" to
 * their own loops, which drive the same mpl_http_sconn_t / mpl_http_cresp_t + mpl_body_sink_t
 * objects (http.h, sink.h). See MPL_PROTO_TCPLS below.
 */
#ifndef MPLAB_TRANSPORT_H
#define MPLAB_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

/* Results of mpl_conn_* I/O besides a byte count. */
#define MPL_IO_WANT_READ  (-2) /* retry when the socket is readable */
#define MPL_IO_WANT_WRITE (-3) /* retry when the socket is writable */
#define MPL_IO_ERROR      (-1) /* fatal; mpl_conn_t.err has a reason */

typedef enum mpl_proto {
    MPL_PROTO_TCP = 0,
    MPL_PROTO_TLS,
    MPL_PROTO_MPTCP,
    MPL_PROTO_TCPLS, /* handled outside this table (see above) */
    MPL_PROTO_MPTLS, /* TLS 1.3 over IPPROTO_MPTCP: the tls code over the mptcp socket */
} mpl_proto_t;

typedef struct mpl_conn {
    int fd;
    SSL *ssl;    /* TLS only */
    BIO *netbio; /* TLS: our end of the BIO pair between OpenSSL and the socket */
    int net_eof; /* TLS: the socket reached EOF */
    int handshake_done;
    char err[256];
} mpl_conn_t;

typedef struct mpl_transport {
    const char *name; /* "tcp", "tls", "mptcp", "mptls" */
    mpl_proto_t proto;
    int ip_protocol;  /* IPPROTO_TCP or IPPROTO_MPTCP for socket() */
    int tls;          /* runs TLS over the socket */
    int default_port; /* for URLs without a port */
} mpl_transport_t;

/* Looks a protocol name up. Returns NULL for unknown names; for "tcpls" returns an entry
 * with proto MPL_PROTO_TCPLS that only cmd_serve/cmd_get's tcpls path may use. */
const mpl_transport_t *mpl_transport_find(const char *name);
/* "tcp|tls|mptcp|mptls|tcpls" for usage texts. */
const char *mpl_transport_names(void);

/* Sets TCP_CONGESTION on fd. Returns 0, or -1 with a clear reason in err. */
int mpl_set_cc(int fd, const char *algo, char *err, size_t errlen);

/* Creates a listening socket for tp on addr (SO_REUSEADDR, IPV6_V6ONLY for ::). Returns the
 * fd, or -1 with err. */
int mpl_listen(const mpl_transport_t *tp, const struct sockaddr *addr, socklen_t alen, const char *cc,
               char *err, size_t errlen);

/* Initializes c around an accepted (server) or connected (client) socket. ctx is the TLS
 * context for tls (else NULL); servername is the client's SNI / verification name. */
int mpl_conn_init(mpl_conn_t *c, const mpl_transport_t *tp, int fd, SSL_CTX *ctx, int is_server,
                  const char *servername);
/* Advances the handshake: 0 done, MPL_IO_WANT_READ/WRITE, or MPL_IO_ERROR. */
int mpl_conn_handshake(mpl_conn_t *c);
/* Reads up to len bytes: > 0 bytes, 0 orderly EOF, MPL_IO_WANT_*, MPL_IO_ERROR. */
ssize_t mpl_conn_read(mpl_conn_t *c, void *buf, size_t len);
/* Writes up to len bytes: > 0 bytes written, MPL_IO_WANT_*, MPL_IO_ERROR. With TLS, after a
 * MPL_IO_WANT_* the same bytes must be offered again (the pointer may move). */
ssize_t mpl_conn_write(mpl_conn_t *c, const void *buf, size_t len);
/* Sends bytes already accepted by mpl_conn_write but still queued (TLS queues encrypted
 * records and sends them in large writes): 0 when nothing is left, MPL_IO_WANT_WRITE, or
 * MPL_IO_ERROR. Call it before closing a connection, and when the socket is writable. */
int mpl_conn_flush(mpl_conn_t *c);
/* Bytes queued for sending (see mpl_conn_flush). */
size_t mpl_conn_pending(const mpl_conn_t *c);
/* Sends close_notify (TLS, best effort) and closes the socket; frees the SSL. */
void mpl_conn_close(mpl_conn_t *c);

#endif
