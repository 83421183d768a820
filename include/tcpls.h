/*
 * tcpls.h — public API of libtcpls (TLS 1.3 over several TCP connections).
 *
 * The protocol core does no I/O. The application (or the optional socket glue at the end of
 * this header) feeds the bytes received on connection N with tcpls_receive(), and collects the
 * bytes to send on connection N with tcpls_conn_output() / tcpls_conn_output_consumed().
 * Events reach the application through one tcpls_ops_t plus a user_data pointer.
 *
 * Error convention: functions return 0 (or a non-negative count) on success and a negative
 * TCPLS_ERR_* code on failure; tcpls_strerror() names it. The two _new functions return NULL
 * on failure (tcpls_ctx_new with a reason in its err buffer). docs/PROTOCOL.md has the wire
 * decisions (extension code points, record format, frames, acknowledgments).
 *
 * Time: the library reads no clock. Times are monotonic nanoseconds from the application:
 * tcpls_receive() (and tcpls_io_read()) take now_ns because input is when acknowledgments and
 * progress are measured; everything else (output timing, metrics, stall detection) uses the
 * session clock that tcpls_session_set_time() sets, and that tcpls_receive() also updates.
 * Call tcpls_session_set_time() once per event-loop round, before building output.
 *
 * Threads: a session is used by one thread at a time; distinct sessions are independent.
 * Callbacks run inside tcpls_receive() / tcpls_conn_output() / tcpls_stream_write(); a callback
 * must not free the session that calls it (set a flag and free it after the call returns).
 */
#ifndef TCPLS_H
#define TCPLS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TCPLS_VERSION_STRING "0.1.0"

/* Returns the library version, e.g. "0.1.0". */
const char *tcpls_version(void);

/* ---- errors ------------------------------------------------------------------------- */

enum tcpls_error {
    TCPLS_OK = 0,
    TCPLS_ERR_NOMEM = -1,         /* allocation failed */
    TCPLS_ERR_ARG = -2,           /* invalid argument */
    TCPLS_ERR_STATE = -3,         /* not allowed in the session's current state */
    TCPLS_ERR_HANDSHAKE = -4,     /* the TLS handshake failed (certificate, alert, version...) */
    TCPLS_ERR_DECRYPT = -5,       /* a record failed authentication (tampered or garbage) */
    TCPLS_ERR_RECORD = -6,        /* malformed record: header, length, content type */
    TCPLS_ERR_FRAME = -7,         /* malformed frame: unknown type, bad length */
    TCPLS_ERR_PROTOCOL = -8,      /* a valid frame that breaks the protocol (e.g. stream parity) */
    TCPLS_ERR_FLOW = -9,          /* the peer exceeded the receive buffering limit */
    TCPLS_ERR_TRUNCATED = -10,    /* TCP closed without close_notify */
    TCPLS_ERR_PEER_ALERT = -11,   /* the peer sent a fatal alert */
    TCPLS_ERR_CRYPTO = -12,       /* internal crypto failure (OpenSSL) */
    TCPLS_ERR_NO_STREAM = -13,    /* unknown or already finished stream */
    TCPLS_ERR_CLOSED = -14,       /* the session is closed or closing */
    TCPLS_ERR_STREAM_LIMIT = -15, /* too many open streams */
    TCPLS_ERR_NO_CONN = -16,      /* unknown connection id */
    TCPLS_ERR_UNSUPPORTED = -17,  /* not implemented (yet) */
    TCPLS_ERR_TOKEN = -18,        /* join refused: forged, reused or exhausted token (illegal_parameter) */
    TCPLS_ERR_NO_TOKEN = -19,     /* client: no token left to join another connection */
    TCPLS_ERR_CONN_FAILED = -20,  /* a connection failed (reset, timeout, no acknowledgment progress) */
    TCPLS_ERR_KEY_LIMIT = -21,    /* the session's AEAD key reached its usage limit (RFC 8446 5.5) */
};

/* Returns a static, human-readable name for a TCPLS_ERR_* code ("record authentication failed");
 * "success" for 0 and "unknown error" for any other value. Never NULL. */
const char *tcpls_strerror(int err);

/* ---- context: one per process role (client or server), shared by sessions ------------ */

typedef struct tcpls_ctx tcpls_ctx_t;
typedef struct tcpls_session tcpls_session_t;

typedef struct tcpls_ctx_config {
    int is_server;              /* 1 = server contexts, 0 = client */
    const char *cert_file;      /* server: PEM certificate chain (may be NULL if set later on the SSL_CTX) */
    const char *key_file;       /* server: PEM private key */
    const char *ca_file;        /* client: PEM CA bundle to verify the server; NULL = system defaults */
    int insecure;               /* client: do not verify the server certificate */
    const char *ciphersuites;   /* TLS 1.3 suites in OpenSSL syntax; NULL = OpenSSL's default */
    int no_plain_fallback;      /* server: refuse clients that do not offer TCPLS (default: plain TLS) */
    size_t stream_send_buffer;  /* bytes buffered per stream, unsent + unacknowledged (0 = 4 MiB) */
    size_t session_send_buffer; /* same, summed over the session's streams (0 = 32 MiB) */
    /* Receive window per stream past its next in-order byte, in memory held for out-of-order
     * bytes (0 = 16 MiB); a session holds at most 4 times that, all sessions of the context
     * at most context_reorder_limit. A peer going past a limit ends its session with
     * TCPLS_ERR_FLOW. */
    size_t stream_reorder_limit;
    size_t context_reorder_limit; /* 0 = 256 MiB */
    unsigned max_streams;         /* streams open at once per session (0 = 1024) */
    /* An ACK is due after ack_every ack-eliciting records (0 = 32) or at the end of each
     * tcpls_receive() call, whichever comes first; it leaves with the next tcpls_conn_output(). */
    unsigned ack_every;
    unsigned tokens;       /* server: tokens (= extra connections) per session, 1..15 (0 = 4) */
    const char *scheduler; /* "default", "minrtt" or "rr" (NULL = "default"); see tcpls_scheduler_valid */
    /* Joins are abbreviated TLS 1.3 handshakes by default: a PSK derived from the session's
     * connection 0 (a TLS exporter with the token as context) and no certificate, so a token
     * is useless without the session's keys (docs/PROTOCOL.md). join_full_handshake = 1:
     * client: join with a full handshake (certificate) instead; server: accept such joins
     * (otherwise refused with TCPLS_ERR_TOKEN). For comparison. */
    int join_full_handshake;
    /* How a sender places stream data on its connections (a tcpls_stream_policy_t; 0 =
     * TCPLS_STREAMS_SPREAD). Sessions start with it; tcpls_session_set_stream_policy changes it. */
    int stream_policy;
} tcpls_ctx_config_t;

/* Stream policies (tcpls_ctx_config_t.stream_policy, tcpls_session_set_stream_policy):
 *  - TCPLS_STREAMS_SPREAD: the scheduler puts any stream's next record on any connection
 *    (aggregation: one stream uses every path, and waits for the slowest of them);
 *  - TCPLS_STREAMS_PIN: each stream is kept on one connection (the paper's independently
 *    ordered streams: loss or delay on one path does not hold back the streams of another).
 *    A stream is given, when it first has data to send, to the usable connection (established,
 *    of the best priority: not a backup while a normal one works, not migrated away from)
 *    holding the fewest streams with data waiting; the streams are balanced again (each
 *    connection's count within one of the others') when the set of usable connections changes
 *    (a join completed, a connection failed, was migrated away from or changed priority). Records
 *    already sent stay where they are; a failed connection's unacknowledged records go to the
 *    connections their streams move to. No reinjection. The policy concerns the sender only
 *    (the server for downloads); the receiver reorders per stream in both. */
typedef enum tcpls_stream_policy {
    TCPLS_STREAMS_SPREAD = 0,
    TCPLS_STREAMS_PIN = 1,
} tcpls_stream_policy_t;

/* The policy called name ("spread" or "pin"), or TCPLS_ERR_ARG for another name or NULL. */
int tcpls_stream_policy_from_name(const char *name);

/* 1 if name is a scheduler this library has ("default", "minrtt", "rr"). */
int tcpls_scheduler_valid(const char *name);

/* Creates a context from cfg ([in], copied; the strings are used during the call only). On
 * failure (bad configuration, unknown scheduler, unreadable certificate, key or CA file,
 * OpenSSL error) returns NULL and, when err is not NULL, writes a one-line reason into err
 * (errlen bytes). */
tcpls_ctx_t *tcpls_ctx_new(const tcpls_ctx_config_t *cfg, char *err, size_t errlen);
/* Releases a context (NULL-safe). Every session made from it must be freed first. */
void tcpls_ctx_free(tcpls_ctx_t *ctx);
/* The underlying OpenSSL SSL_CTX (as void *, to keep OpenSSL out of this header), for extra
 * configuration such as loading a certificate from memory. Owned by the context. */
void *tcpls_ctx_ssl_ctx(tcpls_ctx_t *ctx);

/* ---- sessions ----------------------------------------------------------------------- */

typedef struct tcpls_ops {
    /* The handshake completed; tcpls_session_is_tcpls() tells TCPLS from the plain TLS fallback. */
    void (*handshake_done)(tcpls_session_t *s, void *user_data);
    /* The peer opened stream_id (its first frame arrived). */
    void (*stream_opened)(tcpls_session_t *s, uint32_t stream_id, void *user_data);
    /* In-order data of stream_id; fin = 1 on the last call of the stream (len may be 0).
     * data is valid only during the call; the application must take all of it (back-pressure:
     * stop feeding tcpls_receive() when it cannot). */
    void (*stream_data)(tcpls_session_t *s, uint32_t stream_id, const uint8_t *data, size_t len, int fin,
                        void *user_data);
    /* Send buffer space became available on a stream whose tcpls_stream_write() fell short. */
    void (*stream_writable)(tcpls_session_t *s, uint32_t stream_id, void *user_data);
    /* Both directions of the stream ended; its id is no longer valid for the application. */
    void (*stream_closed)(tcpls_session_t *s, uint32_t stream_id, void *user_data);
    /* The session ended: err = 0 after close_notify, otherwise a TCPLS_ERR_* code. Called once. */
    void (*closed)(tcpls_session_t *s, int err, void *user_data);
    /* A connection changed state (a tcpls_conn_state_t): TCPLS_CONN_ESTABLISHED (a join
     * completed) or TCPLS_CONN_CLOSED (err = 0 for an orderly close, else why: TCPLS_ERR_TOKEN,
     * TCPLS_ERR_CONN_FAILED, ...). The session goes on while another connection works; the
     * application closes that connection's socket. */
    void (*conn_state)(tcpls_session_t *s, uint32_t conn_id, int state, int err, void *user_data);
} tcpls_ops_t;

/* Creates a session and its first connection (connection id 0). A client session immediately
 * has its ClientHello waiting in tcpls_conn_output(s, 0, ...). server_name (client only, may be
 * NULL) is sent as SNI and verified against the certificate (an IP literal is verified as an IP
 * address). ops is copied; user_data is passed to every callback. Returns NULL on failure
 * (ctx NULL, out of memory, OpenSSL could not start the handshake); there is no error code. */
tcpls_session_t *tcpls_session_new(tcpls_ctx_t *ctx, const tcpls_ops_t *ops, void *user_data,
                                   const char *server_name);
/* Releases the session and everything it holds (NULL-safe). Sends nothing. */
void tcpls_session_free(tcpls_session_t *s);
void *tcpls_session_user_data(tcpls_session_t *s);

/* 1 once the handshake completed with TCPLS negotiated, 0 otherwise (plain TLS fallback or
 * still handshaking). In plain TLS mode the session carries one stream, id 0. */
int tcpls_session_is_tcpls(tcpls_session_t *s);
/* 1 once the handshake completed (TCPLS or plain TLS). */
int tcpls_session_is_established(tcpls_session_t *s);
/* 1 once the session ended (clean close or error): the application may close its sockets after
 * writing any output still pending. */
int tcpls_session_is_closed(tcpls_session_t *s);
/* The error that ended the session (0 if none / clean). */
int tcpls_session_error(tcpls_session_t *s);
/* Negotiated cipher suite name ("TLS_AES_128_GCM_SHA256"), or NULL before the handshake. */
const char *tcpls_session_cipher(tcpls_session_t *s);

/* Feeds len bytes received on connection conn_id. now_ns is a monotonic time in nanoseconds.
 * Consumes everything (partial records are kept). Returns 0, or a negative error that ended the
 * session (the closed callback has run; an alert may be waiting in the output). */
int tcpls_receive(tcpls_session_t *s, uint32_t conn_id, const uint8_t *data, size_t len, uint64_t now_ns);
/* The peer closed connection conn_id's TCP stream (read returned 0). Without a prior
 * close_notify this ends the session with TCPLS_ERR_TRUNCATED. Returns 0 or that error. */
int tcpls_conn_eof(tcpls_session_t *s, uint32_t conn_id);

/* Bytes waiting to be sent on conn_id: builds records from pending stream data, due ACKs and
 * close_notify (a bounded amount: call again after sending), then sets *data and *len ([out], owned by the
 * session, valid until the next call on the session). *len = 0 when nothing is pending. Returns 0 or
 * TCPLS_ERR_NO_CONN. */
int tcpls_conn_output(tcpls_session_t *s, uint32_t conn_id, const uint8_t **data, size_t *len);
/* The application wrote n bytes of what tcpls_conn_output() returned. */
void tcpls_conn_output_consumed(tcpls_session_t *s, uint32_t conn_id, size_t n);

/* Starts a clean close: pending stream data is sent, then close_notify. Returns 0 or an error. */
int tcpls_session_close(tcpls_session_t *s);

/* ---- streams ------------------------------------------------------------------------ */

/* Opens a new stream (client ids 0,2,4...; server 1,3,5...) and writes its id to *stream_id.
 * Needs an established session. Returns 0, TCPLS_ERR_STATE, TCPLS_ERR_STREAM_LIMIT. */
int tcpls_stream_open(tcpls_session_t *s, uint32_t *stream_id);
/* Queues up to len bytes of data ([in], copied) on the stream, and the end of the stream when fin
 * is set and all len bytes were taken. *accepted ([out]) is the number of bytes taken; it is
 * smaller than len when the stream's or the session's send buffer is full (a stream_writable
 * callback follows when space frees). Returns 0 or TCPLS_ERR_NO_STREAM / _CLOSED / _STATE. */
int tcpls_stream_write(tcpls_session_t *s, uint32_t stream_id, const void *data, size_t len, int fin,
                       size_t *accepted);
/* Bytes tcpls_stream_write() would accept now (0 for an unknown stream). */
size_t tcpls_stream_send_space(tcpls_session_t *s, uint32_t stream_id);
/* Attaches an application pointer to a stream; returns 0 or TCPLS_ERR_NO_STREAM. */
int tcpls_stream_set_user_data(tcpls_session_t *s, uint32_t stream_id, void *p);
void *tcpls_stream_get_user_data(tcpls_session_t *s, uint32_t stream_id);

/* ---- connections -------------------------------------------------------------------- */

/* The state of a connection (tcpls_conn_info_t.state, the conn_state callback). */
typedef enum tcpls_conn_state {
    TCPLS_CONN_HANDSHAKING = 0, /* its TLS handshake (connection 0 or a join) is under way */
    TCPLS_CONN_ESTABLISHED = 1, /* carries records */
    TCPLS_CONN_CLOSED = 2,      /* failed or closed; its statistics stay */
} tcpls_conn_state_t;

typedef struct tcpls_conn_info {
    uint32_t id;              /* connection id (0 = the first connection) */
    tcpls_conn_state_t state; /* TCPLS_CONN_HANDSHAKING, _ESTABLISHED or _CLOSED */
    uint64_t bytes_sent;      /* bytes handed to the application for this connection's socket */
    uint64_t bytes_received;  /* bytes fed with tcpls_receive() */
    uint64_t records_sent;    /* protected records sent (after the handshake) */
    uint64_t records_acked;   /* of those, records acknowledged by the peer */
    uint64_t records_received;
    uint64_t unacked_records;       /* records whose frames are kept for a resend */
    uint64_t stream_bytes_sent;     /* stream payload bytes sent on this connection (resends included) */
    uint64_t stream_bytes_received; /* stream payload bytes received on this connection */
    int backup, migrated;           /* flags set by tcpls_conn_set_backup / tcpls_conn_migrate */
    int error;                      /* why it closed (TCPLS_CONN_CLOSED), 0 if orderly */
    uint32_t srtt_us;               /* last value given to tcpls_conn_set_metrics */
    int psk_join;                   /* joined with the session-bound PSK handshake (no certificate) */
} tcpls_conn_info_t;

/* Number of connections of the session, closed ones included (their statistics stay). */
size_t tcpls_conn_count(tcpls_session_t *s);
/* Fills *info for the index-th connection. Returns 0 or TCPLS_ERR_NO_CONN. */
int tcpls_conn_info(tcpls_session_t *s, size_t index, tcpls_conn_info_t *info);
/* Tokens received from the server (client) for joining connections: the count held.
 * Server: tokens handed out and not used yet. */
size_t tcpls_session_token_count(tcpls_session_t *s);

/* ---- multipath (docs/PROTOCOL.md "Multipath") ------------------------------------------- */

/* Client: starts joining a new connection with one of the server's tokens (backup = 1: a
 * backup connection, on both sides: the server learns it from a Connection Priority frame
 * right after the join). Writes the new connection id (= the token's sequence number) to
 * *conn_id; its ClientHello (with tcpls_join) then waits in tcpls_conn_output(). The
 * application connects a socket to any address of the server and moves bytes as for
 * connection 0; conn_state reports TCPLS_CONN_ESTABLISHED when it is usable, or
 * TCPLS_CONN_CLOSED with TCPLS_ERR_TOKEN when the server refused. A join that fails before any
 * byte of it was written (tcpls_conn_output_consumed) gives its token back, and its connection
 * id may then be used by a later join: after TCPLS_CONN_CLOSED, forget the id. Not to be
 * called from a callback. Returns 0, TCPLS_ERR_NO_TOKEN or TCPLS_ERR_STATE. */
int tcpls_join(tcpls_session_t *s, int backup, uint32_t *conn_id);
/* Server: after a handshake on a fresh session completed as a join of another session (the
 * handshake_done callback ran, tcpls_session_is_established() is 1), returns 1 and writes the
 * session that the connection joined and its id. The application then feeds that connection's
 * bytes to *target / *conn_id and frees s. (Until then s forwards to the target itself.) */
int tcpls_session_joined(tcpls_session_t *s, tcpls_session_t **target, uint32_t *conn_id);
/* The application saw connection conn_id fail (socket error, TCP_USER_TIMEOUT, no
 * acknowledgment progress): its unacknowledged records are sent again on the other
 * connections and the peer is told (Connection Reset frame). Returns 0 while the session goes
 * on, else the error that ended it (no connection left). err = 0 closes it in an orderly way. */
int tcpls_conn_failed(tcpls_session_t *s, uint32_t conn_id, int err);
/* Marks a connection as a backup (1): it carries stream data only while no non-backup
 * connection works. Can change at any time. Returns 0 or TCPLS_ERR_NO_CONN. */
int tcpls_conn_set_backup(tcpls_session_t *s, uint32_t conn_id, int backup);
/* Migration: moves new stream data off from_id (it only carries acknowledgments and finishes
 * what is in flight); to_id, when not UINT32_MAX, becomes a non-backup connection. When
 * tcpls_conn_info() shows no unacknowledged record left, from_id can be closed without loss
 * (tcpls_conn_failed(s, id, 0)). Returns 0 or TCPLS_ERR_NO_CONN. */
int tcpls_conn_migrate(tcpls_session_t *s, uint32_t from_id, uint32_t to_id);
/* Path metrics from the application (tcp_info): smoothed RTT in microseconds, bytes queued
 * in the kernel but not sent yet, and the delivery rate in bits per second (0: unknown). The
 * schedulers use them. */
void tcpls_conn_set_metrics(tcpls_session_t *s, uint32_t conn_id, uint32_t srtt_us, uint32_t notsent_bytes,
                            uint64_t delivery_bps);
/* The session's clock for what tcpls_receive() does not see (output timing): call it once per
 * event-loop round with a monotonic time in nanoseconds. */
void tcpls_session_set_time(tcpls_session_t *s, uint64_t now_ns);
/* Server, on a fresh session: 1 while its ClientHello is a join that waits for the session it
 * joins to complete its own handshake (the client joined on a token of our first flight before
 * its Finished reached us). Such a session resumes from tcpls_session_set_time(): call it every
 * loop round for these sessions too, then write their output. It gives up after 10 s. */
int tcpls_session_join_waiting(tcpls_session_t *s);
/* Since when conn_id waits for acknowledgment progress (session clock, ns): the time its
 * oldest unacknowledged record went out or the last ACK that advanced, 0 when nothing is
 * unacknowledged. The application declares a blackhole when now - this > its timeout. */
uint64_t tcpls_conn_stalled_since(tcpls_session_t *s, uint32_t conn_id);
/* Stream bytes the default scheduler queued again on a faster connection while a slower one
 * still held them (opportunistic reinjection; the receiver drops whichever copy comes second). */
uint64_t tcpls_session_reinjected_bytes(tcpls_session_t *s);
/* Connections that are established and not closed. */
size_t tcpls_conn_live_count(tcpls_session_t *s);
/* Addresses (New Address / Remove Address frames). version 4 or 6, addr in network order
 * (4 or 16 bytes used), port in host order. */
typedef struct tcpls_addr {
    uint8_t id, version;
    uint8_t addr[16];
    uint16_t port;
    int removed; /* the peer sent Remove Address for it */
} tcpls_addr_t;
/* Advertises one of our addresses to the peer (server: where to join; client: sources).
 * Sent with the next output. Returns 0, TCPLS_ERR_ARG or TCPLS_ERR_STATE (table full). */
int tcpls_session_add_address(tcpls_session_t *s, const tcpls_addr_t *a);
/* Withdraws address id: the peer stops using it and closes connections to it. */
int tcpls_session_remove_address(tcpls_session_t *s, uint8_t id);
/* The addresses the peer advertised: count, and the index-th (0 or TCPLS_ERR_ARG). */
size_t tcpls_session_peer_address_count(tcpls_session_t *s);
int tcpls_session_peer_address(tcpls_session_t *s, size_t index, tcpls_addr_t *out);
/* Selects the scheduler of this session (see tcpls_ctx_config_t.scheduler). Returns 0 or TCPLS_ERR_ARG. */
int tcpls_session_set_scheduler(tcpls_session_t *s, const char *name);

/* Selects the stream policy of this session (a tcpls_stream_policy_t), for streams opened
 * before and after the call. Returns 0 or TCPLS_ERR_ARG. */
int tcpls_session_set_stream_policy(tcpls_session_t *s, int policy);
/* TCPLS_STREAMS_PIN: writes to *conn_id ([out]) the connection stream_id is kept on. Returns 0,
 * TCPLS_ERR_NO_STREAM (unknown stream), or TCPLS_ERR_NO_CONN (not placed yet, or the policy is
 * TCPLS_STREAMS_SPREAD). */
int tcpls_stream_conn(tcpls_session_t *s, uint32_t stream_id, uint32_t *conn_id);

/* ---- socket glue (lib/io_socket.c): optional helpers for non-blocking sockets ----------- */

/* Reads what fd has (non-blocking, up to a few hundred KB) and feeds it to conn_id.
 * Returns 0 (read some or would block), 1 (EOF: tcpls_conn_eof() was called), or a negative
 * TCPLS_ERR_* (session failed) / TCPLS_ERR_TRUNCATED on a socket error. */
int tcpls_io_read(tcpls_session_t *s, uint32_t conn_id, int fd, uint64_t now_ns);
/* Writes as much pending output of conn_id as fd accepts. Returns 0 when everything was
 * written, 1 when output remains (wait for EPOLLOUT), or TCPLS_ERR_TRUNCATED on a socket error. */
int tcpls_io_write(tcpls_session_t *s, uint32_t conn_id, int fd);
/* Advertises a socket address (IPv4 or IPv6, its port included) with tcpls_session_add_address
 * under address id. Returns 0, TCPLS_ERR_ARG for a wildcard address or another family (nothing
 * to advertise), or what tcpls_session_add_address returns. */
struct sockaddr;
int tcpls_io_add_address(tcpls_session_t *s, uint8_t id, const struct sockaddr *sa);

#ifdef __cplusplus
}
#endif

#endif
