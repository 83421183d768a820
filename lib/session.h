/*
 * session.h — the session structures that lib/session.c, sched.c, join.c and handshake.c share.
 * Private to lib/ (and to unit tests of those files); never installed. Frame, record and stream
 * internals are in internal.h.
 */
#ifndef TCPLS_SESSION_H
#define TCPLS_SESSION_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "internal.h"

/* Extension code points: private-use range of RFC 8446 (first byte 255), see docs/PROTOCOL.md. */
#define EXT_TCPLS       0xff5c
#define EXT_TCPLS_TOKEN 0xff5d
#define EXT_TCPLS_JOIN  0xff5e
/* our extension (not in draft-piraux-tcpls-04): both ends understand Connection Priority frames */
#define EXT_TCPLS_PRIO 0xff5f

#define OUT_TARGET        (64 * 1024) /* stop building records when this much output waits */
#define MP_OUT_TARGET     (48 * 1024) /* the same with several connections (short queues) */
#define HANDSHAKE_REC_MAX (16384 + 2048 + 5)
#define MAX_TOKENS        16
#define JOIN_PARK_MAX_NS  (10ull * 1000000000ull) /* longest a join waits for its target (join.c) */
#define STREAM_BUCKETS    256

enum { MODE_HANDSHAKE = 0, MODE_TCPLS = 1, MODE_PLAIN = 2, MODE_JOINED = 3 };
#define MAX_RESETS 16
#define MAX_ADDRS  8

struct tcpls_ctx {
    SSL_CTX *ssl_ctx;
    int is_server;
    int no_plain_fallback;
    size_t stream_send_buffer, session_send_buffer, reorder_limit;
    size_t ctx_reorder_limit, reorder_total; /* reorder memory over every session */
    unsigned max_streams, ack_every;
    unsigned tokens;
    int join_full; /* join_full_handshake */
    int stream_policy;
    const struct tcpls_sched_ops *sched;
    tcpls_session_t *registry; /* server sessions, for finding the target of a join */
    uint64_t next_serial;
};

/* ---- buffers, connections and the session ---------------------------------------------- */

typedef struct buf {
    uint8_t *base;
    size_t off, len, cap; /* data is base[off, off+len) */
} buf_t;

typedef struct sent_record {
    uint64_t seq;
    uint64_t off;
    uint32_t stream_id;
    uint16_t len;
    uint8_t fin;
    uint8_t reinjected; /* its frames were also queued for another connection */
} sent_record_t;

/* The delivery of one control frame (New Token, New Address, Remove Address, Connection Reset,
 * Connection Priority): to send, in flight in record seq of connection conn, or done. A frame
 * in flight on a connection that fails before acknowledging that record is sent again. */
enum { CTL_NONE = 0, CTL_PENDING = 1, CTL_SENT = 2, CTL_DONE = 3 };
typedef struct ctl {
    uint8_t state;
    uint32_t conn;
    uint64_t seq;
} ctl_t;

typedef struct conn {
    uint32_t id;
    tcpls_conn_state_t state;
    buf_t in, out;
    uint64_t send_seq, recv_seq;
    uint64_t acked_upto;   /* records [0, acked_upto) acknowledged by the peer */
    uint64_t rx_eliciting; /* ack-eliciting records received since our last ACK */
    int ack_due;
    sent_record_t *ring; /* unacknowledged records that carried stream frames */
    size_t ring_head, ring_len, ring_cap;
    uint64_t bytes_sent, bytes_received, records_sent, records_received;
    /* multipath */
    SSL *ssl; /* client: the join handshake of this connection */
    int backup, migrated, error;
    ctl_t prio; /* our backup flag changed: tell the peer (Connection Priority frame) */
    uint32_t srtt_us;
    uint64_t notsent;      /* kernel's unsent bytes at the last metrics, plus what we gave it since */
    uint64_t metrics_ns;   /* session time of the last tcpls_conn_set_metrics */
    uint64_t rate_bps;     /* delivery rate from tcp_info, 0 if unknown */
    uint64_t data_records; /* records with stream data (round-robin scheduler) */
    uint64_t stalled_since;
    uint64_t stream_bytes_sent, stream_bytes_received;
    uint8_t join_ext[TCPLS_TOKEN_LEN]; /* client: tcpls_join = the token */
    /* client: a join that failed before a byte of its ClientHello was written; its token went
     * back to the session and its id may be used again (freed by the next tcpls_join) */
    uint8_t recycled;
    uint8_t psk_join; /* the join was the abbreviated, PSK-bound handshake */
} conn_t;

typedef struct token {
    uint8_t seq;
    uint8_t reserved; /* server: a join handshake holds it */
    ctl_t ctl;        /* server: its New Token frame (or the handshake carried it) */
    uint8_t value[TCPLS_TOKEN_LEN];
} token_t;

struct tcpls_session {
    tcpls_ctx_t *ctx;
    tcpls_ops_t ops;
    void *user_data;
    int is_server, mode;
    int closed, error, close_requested, close_sent, close_received;
    int peer_tcpls;
    SSL *ssl;
    BIO *rbio, *wbio;
    uint16_t suite;
    uint8_t secret[2][48]; /* [0] client, [1] server application traffic secret 0 */
    size_t secret_len[2];
    tcpls_aead_t tx, rx;
    char cipher[64];
    conn_t **conns;
    size_t nconns;
    tcpls_stream_t *buckets[STREAM_BUCKETS];
    size_t nstreams;
    uint32_t next_stream_id, peer_next_stream_id;
    tcpls_stream_t *sendq_head, *sendq_tail;
    size_t send_buffered;
    uint64_t reinjected_bytes; /* stream bytes queued again by opportunistic reinjection */
    size_t reorder_total;      /* memory of every stream's reorder ring */
    int any_blocked;
    token_t tokens[MAX_TOKENS]; /* client: tokens received; server: tokens issued */
    size_t ntokens;
    uint8_t token_ext[TCPLS_TOKEN_LEN];
    uint8_t join_token[TCPLS_TOKEN_LEN]; /* server: the token of this session's join handshake */
    int peer_prio;                       /* the peer negotiated Connection Priority frames */
    int half_rtt_sent;                   /* server: tokens and addresses went with its flight */
    /* RFC 8446 5.5: records protected with one key, over every connection of the session */
    uint64_t tx_records, rx_records, aead_limit;
    /* multipath */
    uint64_t serial;             /* server: identifies the session in the context's registry */
    tcpls_session_t *reg_next;   /* server: registry link */
    int registered, ever_joined; /* ever_joined: had two connections at some point */
    unsigned next_token_seq;     /* server: sequence of the next token issued */
    int join_pending;            /* server: this fresh session's ClientHello carried a valid join */
    uint64_t join_serial;        /* ... for the session with this serial */
    uint32_t join_conn_id;       /* ... as this connection id */
    tcpls_session_t *joined_to;  /* MODE_JOINED: the target (cleared if it is freed) */
    const struct tcpls_sched_ops *sched;
    int stream_policy;   /* tcpls_stream_policy_t */
    uint64_t pin_usable; /* TCPLS_STREAMS_PIN: bit per connection index usable at the last pick */
    int join_refused;
    int join_parked;            /* server: a join waiting for its target's handshake (join.c) */
    uint64_t join_parked_since; /* ... since then (session clock) */
    unsigned joins_in_progress; /* server: tokens consumed by handshakes not finished yet */
    uint64_t now_ns;
    tcpls_addr_t my_addrs[MAX_ADDRS];
    ctl_t my_addr_add[MAX_ADDRS], my_addr_rm[MAX_ADDRS]; /* New / Remove Address frames */
    size_t n_my_addrs;
    tcpls_addr_t peer_addrs[MAX_ADDRS];
    size_t n_peer_addrs;
    struct {
        uint32_t conn_id;
        ctl_t ctl;
    } resets[MAX_RESETS]; /* Connection Reset frames */
    size_t nresets;
    uint8_t plain[TCPLS_MAX_CIPHERTEXT];
};

static inline int
tcpls__buf_reserve(buf_t *b, size_t extra)
{
    if (b->off > 0 && b->off + b->len + extra > b->cap) {
        memmove(b->base, b->base + b->off, b->len);
        b->off = 0;
    }
    if (b->len + extra > b->cap) {
        size_t cap = b->cap ? b->cap : 32768;
        uint8_t *nb;
        while (cap < b->len + extra)
            cap *= 2;
        if ((nb = realloc(b->base, cap)) == NULL)
            return TCPLS_ERR_NOMEM;
        b->base = nb;
        b->cap = cap;
    }
    return 0;
}

static inline int
tcpls__buf_append(buf_t *b, const uint8_t *p, size_t n)
{
    int r = tcpls__buf_reserve(b, n);
    if (r != 0)
        return r;
    memcpy(b->base + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

static inline void
tcpls__buf_consume(buf_t *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
}

static inline conn_t *
tcpls__conn_find(tcpls_session_t *s, uint32_t id)
{
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->id == id && !s->conns[i]->recycled)
            return s->conns[i];
    return NULL;
}

static inline void
tcpls__ctl_sent(ctl_t *k, const conn_t *c)
{
    k->state = CTL_SENT;
    k->conn = c->id;
    k->seq = c->send_seq; /* the record being built */
}

/* Connection c failed: a frame it carried in a record never acknowledged goes out again. */
static inline void
tcpls__ctl_lost(ctl_t *k, const conn_t *c)
{
    if (k->state == CTL_SENT && k->conn == c->id && k->seq >= c->acked_upto)
        k->state = CTL_PENDING;
}

/* 1 when no connection holds an unacknowledged record that carried stream data. */
static inline int
tcpls__all_acked(const tcpls_session_t *s)
{
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->ring_len > 0)
            return 0;
    return 1;
}

static inline tcpls_stream_t *
tcpls__stream_find(tcpls_session_t *s, uint32_t id)
{
    tcpls_stream_t *st = s->buckets[id % STREAM_BUCKETS];
    while (st != NULL && st->id != id)
        st = st->hash_next;
    return st;
}

/* ---- schedulers (lib/sched.c) ----------------------------------------------------------- */

/* A scheduler, chosen by name (tcpls_ctx_config_t.scheduler, tcpls_session_set_scheduler). */
typedef struct tcpls_sched_ops {
    const char *name;
    /* How many stream bytes c may carry in its next record, given budget so far, when x is
     * another established connection of the same rank: budget, less, or 0 (none). */
    size_t (*limit)(tcpls_session_t *s, conn_t *c, conn_t *x, size_t budget);
    /* Queues again records that slower connections hold so that c carries them too; returns 1
     * when something was queued. NULL: the scheduler never reinjects. */
    int (*reinject)(tcpls_session_t *s, conn_t *c);
} tcpls_sched_ops_t;

/* The scheduler called name (NULL: "default"), or NULL for an unknown name. */
const tcpls_sched_ops_t *tcpls__sched_find(const char *name);
/* How many stream bytes connection c may carry in its next record (0: none; control frames
 * always go). SIZE_MAX when nothing limits it. */
size_t tcpls__sched_data_budget(tcpls_session_t *s, conn_t *c);
/* The session scheduler's reinjection for connection c (0 when it has none). */
int tcpls__sched_reinject(tcpls_session_t *s, conn_t *c);
/* The stream whose data c carries next: the send queue's head (TCPLS_STREAMS_SPREAD), or the
 * first queued stream pinned to c, pinning (and balancing) streams on the way
 * (TCPLS_STREAMS_PIN). NULL when none. */
tcpls_stream_t *tcpls__sched_pick_stream(tcpls_session_t *s, conn_t *c);

/* ---- joins, tokens and addresses (lib/join.c) --------------------------------------------- */

/* Client: the connection whose join handshake runs on ssl, or NULL (connection 0's ssl). */
conn_t *tcpls__join_conn_of(tcpls_session_t *s, const SSL *ssl);
/* Server: makes a new token (not sent yet). NULL when the sequence space or the table is full. */
token_t *tcpls__token_issue(tcpls_session_t *s);
/* Server: issues tokens until the client has ctx->tokens tokens or extra connections. */
void tcpls__tokens_replenish(tcpls_session_t *s);
/* Server: the context's registry of sessions that joins can find. */
void tcpls__registry_add(tcpls_session_t *s);
void tcpls__registry_remove(tcpls_session_t *s);
/* The open TCPLS session of the registry with this serial, or NULL. */
tcpls_session_t *tcpls__registry_find(tcpls_ctx_t *ctx, uint64_t serial);
/* MODE_JOINED: the session this one forwards to (NULL once it is gone). */
tcpls_session_t *tcpls__join_target(tcpls_session_t *s);
/* OpenSSL's PSK callbacks for abbreviated joins (client: SSL_set_psk_use_session_callback on
 * each join's SSL; server: SSL_CTX_set_psk_find_session_callback). */
int tcpls__join_psk_use(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
                        SSL_SESSION **sess);
int tcpls__join_psk_find(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess);
/* Server: finds the session that issued the token in (32 bytes) and reserves it for this
 * handshake (also through a HelloRetryRequest). Returns 0, or -1 for an unknown token or one
 * another handshake holds. */
int tcpls__join_lookup(tcpls_session_t *s, const uint8_t *in);
int tcpls__join_park(tcpls_session_t *s, const uint8_t *token);
/* A join handshake ended (joined or not): its token is consumed, the target may replenish. */
void tcpls__join_settle(tcpls_session_t *s);
/* The handshake of a join completed: server (s is the fresh session), client (connection c). */
int tcpls__join_complete_server(tcpls_session_t *s);
int tcpls__join_complete_client(tcpls_session_t *s, conn_t *c);
/* Server, a PSK join whose flight (up to Finished) is out: the connection joins its target at
 * once and carries its data from now on (0.5-RTT); the handshake object moves to it, to read
 * the client's Finished (tcpls__join_finished_server). Returns 1 (joined early), 0 (not a PSK
 * join, or not yet: a full-handshake join waits for completion), or a negative error. */
int tcpls__join_early_server(tcpls_session_t *s);
/* Server: the client's Finished of a connection that joined early arrived. */
int tcpls__join_finished_server(conn_t *c);
/* A received New Token, New Address or Remove Address frame. Returns 0 or TCPLS_ERR_PROTOCOL. */
int tcpls__join_frame_input(tcpls_session_t *s, const tcpls_frame_t *f);
/* Appends the New Address / Remove Address / New Token frames due to ctl (ctllen bytes used
 * of cap) for a record of connection c, marking them in flight there; returns the new length. */
size_t tcpls__join_frames(tcpls_session_t *s, conn_t *c, uint8_t *ctl, size_t ctllen, size_t cap);

/* ---- OpenSSL: handshake and plain TLS (lib/handshake.c) -------------------------------------- */

/* Moves what OpenSSL wrote for connection c (its join handshake, or connection 0's) to c's output. */
void tcpls__drain_wbio(tcpls_session_t *s, conn_t *c);
/* Sets up connection 0's SSL (SNI and name verification from server_name on a client, whose
 * ClientHello then waits in c's output). Returns 0 or a negative error. */
int tcpls__handshake_start(tcpls_session_t *s, conn_t *c, const char *server_name);
/* Feeds handshake records of connection c (connection 0's or a join's) to OpenSSL, one at a
 * time, never past the handshake's last record; *used is what was taken of data. Returns 0 or
 * a negative error. */
int tcpls__handshake_input(tcpls_session_t *s, conn_t *c, const uint8_t *data, size_t len, size_t *used);
int tcpls__handshake_resume(tcpls_session_t *s);
/* Plain TLS mode: received bytes, a clean close, and writing the stream (*taken bytes of data
 * taken so far, advanced). */
int tcpls__plain_input(tcpls_session_t *s, conn_t *c, const uint8_t *data, size_t len);
void tcpls__plain_close(tcpls_session_t *s);
int tcpls__plain_write(tcpls_session_t *s, const void *data, size_t len, size_t *taken);

/* ---- connections (lib/conn.c) ------------------------------------------------------------- */

/* Adds connection id to the session (state handshaking). NULL when out of memory. */
conn_t *tcpls__conn_new(tcpls_session_t *s, uint32_t id);
/* Connections established (and, with count_joining, still handshaking). */
size_t tcpls__live_conns(const tcpls_session_t *s, int count_joining);
/* Connection c is gone (err = 0: closed in order): its unacknowledged stream data goes to the
 * other connections, the peer is told when tell_peer. Returns 0 or the error that ended the
 * session. */
int tcpls__conn_fail(tcpls_session_t *s, conn_t *c, int err, int tell_peer);
/* 1 when the client may come back on another connection after the last one failed. */
int tcpls__may_rejoin(const tcpls_session_t *s);
void tcpls__conn_free(conn_t *c);

/* ---- lib/session.c ---------------------------------------------------------------------- */

/* Appends st to the send queue unless it is there or has nothing to send. */
void tcpls__sendq_push(tcpls_session_t *s, tcpls_stream_t *st);
/* Hands in-order stream data to the application (tcpls_deliver_fn; arg is the session). */
void tcpls__deliver(void *arg, tcpls_stream_t *st, const uint8_t *data, size_t len, int fin);
/* Adds stream id to the session's table. NULL when out of memory. */
tcpls_stream_t *tcpls__stream_add(tcpls_session_t *s, uint32_t id);
/* Ends the session (once): alert to the peer for a local error, closed callback. */
void tcpls__session_end(tcpls_session_t *s, int err);
/* One record of the control frames due (addresses, tokens...) on connection c, if any.
 * Returns 0 or an error. */
int tcpls__control_record(tcpls_session_t *s, conn_t *c);
/* Protects one record of parts on connection c into its output. Returns 0 or an error. */
int tcpls__seal_into(tcpls_session_t *s, conn_t *c, uint8_t content_type, const tcpls_iov_t *parts,
                     size_t nparts);

#endif
