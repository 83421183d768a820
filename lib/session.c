/*
 * session.c — TCPLS contexts and sessions: the TLS 1.3 handshake through OpenSSL memory BIOs
 * with the tcpls extensions, then libtcpls's own record layer (lib/record.c) carrying frames
 * (lib/frame.c) of streams (lib/stream.c), acknowledgments and close_notify. A client hello
 * without `tcpls` is served as plain TLS through OpenSSL (one stream, id 0).
 *
 * The core does no I/O: bytes come in with tcpls_receive() and go out through
 * tcpls_conn_output(). Several connections per session are modelled from the start
 * (connection ids, per-connection sequence numbers and unacknowledged records, tokens).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

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
#define STREAM_BUCKETS    256

enum { MODE_HANDSHAKE = 0, MODE_TCPLS = 1, MODE_PLAIN = 2, MODE_JOINED = 3 };
enum { TSCHED_DEFAULT = 0, TSCHED_MINRTT = 1, TSCHED_RR = 2 };
#define MAX_RESETS 16
#define MAX_ADDRS  8

struct tcpls_ctx {
    SSL_CTX *ssl_ctx;
    int is_server;
    int no_plain_fallback;
    size_t stream_send_buffer, session_send_buffer, reorder_limit;
    size_t ctx_reorder_limit, reorder_total; /* reorder memory over every session */
    unsigned max_streams, ack_every;
    int ext_index;
    unsigned tokens;
    int sched;
    tcpls_session_t *registry; /* server sessions, for finding the target of a join */
    uint64_t next_serial;
};

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
    int state; /* 0 handshaking, 1 established, 2 closed */
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
    int sched, join_refused;
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

/* ---- small helpers ---------------------------------------------------------------------- */

static int
buf_reserve(buf_t *b, size_t extra)
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

static int
buf_append(buf_t *b, const uint8_t *p, size_t n)
{
    int r = buf_reserve(b, n);
    if (r != 0)
        return r;
    memcpy(b->base + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

static void
buf_consume(buf_t *b, size_t n)
{
    b->off += n;
    b->len -= n;
    if (b->len == 0)
        b->off = 0;
}

static void
ctl_sent(ctl_t *k, const conn_t *c)
{
    k->state = CTL_SENT;
    k->conn = c->id;
    k->seq = c->send_seq; /* the record being built */
}

/* Connection c failed: a frame it carried in a record never acknowledged goes out again. */
static void
ctl_lost(ctl_t *k, const conn_t *c)
{
    if (k->state == CTL_SENT && k->conn == c->id && k->seq >= c->acked_upto)
        k->state = CTL_PENDING;
}

static conn_t *
conn_find(tcpls_session_t *s, uint32_t id)
{
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->id == id)
            return s->conns[i];
    return NULL;
}

static void
conn_free(conn_t *c)
{
    if (c == NULL)
        return;
    free(c->in.base);
    free(c->out.base);
    free(c->ring);
    SSL_free(c->ssl);
    free(c);
}

static tcpls_stream_t *
stream_find(tcpls_session_t *s, uint32_t id)
{
    tcpls_stream_t *st = s->buckets[id % STREAM_BUCKETS];
    while (st != NULL && st->id != id)
        st = st->hash_next;
    return st;
}

static tcpls_stream_t *
stream_add(tcpls_session_t *s, uint32_t id)
{
    tcpls_stream_t *st = tcpls__stream_new(id);
    if (st == NULL)
        return NULL;
    st->hash_next = s->buckets[id % STREAM_BUCKETS];
    s->buckets[id % STREAM_BUCKETS] = st;
    s->nstreams++;
    return st;
}

static void
stream_remove(tcpls_session_t *s, tcpls_stream_t *st)
{
    tcpls_stream_t **pp = &s->buckets[st->id % STREAM_BUCKETS];
    while (*pp != st)
        pp = &(*pp)->hash_next;
    *pp = st->hash_next;
    if (st->in_sendq) {
        tcpls_stream_t **q = &s->sendq_head, *prev = NULL;
        while (*q != st) {
            prev = *q;
            q = &(*q)->sendq_next;
        }
        *q = st->sendq_next;
        if (s->sendq_tail == st)
            s->sendq_tail = prev;
    }
    s->send_buffered -= st->slen;
    s->reorder_total -= st->reorder_mem;
    s->ctx->reorder_total -= st->reorder_mem;
    s->nstreams--;
    tcpls__stream_free(st);
}

static void
sendq_push(tcpls_session_t *s, tcpls_stream_t *st)
{
    if (st->in_sendq || !tcpls__stream_has_pending(st))
        return;
    st->in_sendq = 1;
    st->sendq_next = NULL;
    if (s->sendq_tail)
        s->sendq_tail->sendq_next = st;
    else
        s->sendq_head = st;
    s->sendq_tail = st;
}

static tcpls_stream_t *
sendq_pop(tcpls_session_t *s)
{
    tcpls_stream_t *st = s->sendq_head;
    if (st == NULL)
        return NULL;
    s->sendq_head = st->sendq_next;
    if (s->sendq_head == NULL)
        s->sendq_tail = NULL;
    st->in_sendq = 0;
    st->sendq_next = NULL;
    return st;
}

/* Reports the end of both directions to the application, and frees the stream once everything
 * it sent is acknowledged too. */
static void
stream_maybe_finish(tcpls_session_t *s, tcpls_stream_t *st)
{
    if (!st->closed_reported && st->fin_delivered && st->fin_queued) {
        st->closed_reported = 1;
        if (s->ops.stream_closed)
            s->ops.stream_closed(s, st->id, s->user_data);
    }
    if (st->closed_reported && tcpls__stream_send_done(st) && !st->in_sendq)
        stream_remove(s, st);
}

static uint8_t
alert_for(int err)
{
    switch (err) {
    case TCPLS_ERR_DECRYPT:
        return 20; /* bad_record_mac */
    case TCPLS_ERR_RECORD:
    case TCPLS_ERR_FRAME:
        return 50; /* decode_error */
    case TCPLS_ERR_PROTOCOL:
    case TCPLS_ERR_FLOW:
        return 10; /* unexpected_message */
    default:
        return 80; /* internal_error */
    }
}

static int seal_into(tcpls_session_t *s, conn_t *c, uint8_t content_type, const tcpls_iov_t *parts,
                     size_t nparts);

static void join_settle(tcpls_session_t *s);

static void
session_end(tcpls_session_t *s, int err)
{
    if (s->closed)
        return;
    s->closed = 1;
    s->error = err;
    join_settle(s);
    if (err != 0 && err != TCPLS_ERR_TRUNCATED && err != TCPLS_ERR_PEER_ALERT && s->mode == MODE_TCPLS &&
        s->nconns > 0) {
        uint8_t alert[2] = {2, alert_for(err)};
        tcpls_iov_t iov = {alert, 2};
        seal_into(s, s->conns[0], TCPLS_CONTENT_ALERT, &iov, 1);
    }
    for (size_t i = 0; i < s->nconns; i++)
        s->conns[i]->state = 2;
    if (s->ops.closed)
        s->ops.closed(s, err, s->user_data);
}

static void
drain_wbio(tcpls_session_t *s, conn_t *c)
{
    BIO *wbio = c->ssl ? SSL_get_wbio(c->ssl) : s->wbio;
    size_t n;
    while ((n = BIO_ctrl_pending(wbio)) > 0) {
        if (buf_reserve(&c->out, n) != 0)
            return;
        int r = BIO_read(wbio, c->out.base + c->out.off + c->out.len, (int)n);
        if (r <= 0)
            return;
        c->out.len += (size_t)r;
    }
}

/* ---- multipath helpers: tokens, the join registry, connection failure --------------------- */

/* Client: the connection whose join handshake runs on ssl, or NULL. */
static conn_t *
join_conn_of(tcpls_session_t *s, const SSL *ssl)
{
    if (ssl == s->ssl)
        return NULL;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->ssl == ssl)
            return s->conns[i];
    return NULL;
}

/* Server: makes a new token (not sent yet). NULL when the sequence space or the table is full. */
static token_t *
issue_token(tcpls_session_t *s)
{
    token_t *t;
    if (s->ntokens >= MAX_TOKENS || s->next_token_seq > 255)
        return NULL;
    t = &s->tokens[s->ntokens];
    if (RAND_bytes(t->value, TCPLS_TOKEN_LEN) != 1)
        return NULL;
    t->seq = (uint8_t)s->next_token_seq++;
    t->reserved = 0;
    t->ctl.state = CTL_PENDING;
    s->ntokens++;
    return t;
}

static void
registry_add(tcpls_session_t *s)
{
    s->serial = ++s->ctx->next_serial;
    s->reg_next = s->ctx->registry;
    s->ctx->registry = s;
    s->registered = 1;
}

static void
registry_remove(tcpls_session_t *s)
{
    if (!s->registered)
        return;
    for (tcpls_session_t **pp = &s->ctx->registry; *pp != NULL; pp = &(*pp)->reg_next) {
        if (*pp == s) {
            *pp = s->reg_next;
            break;
        }
    }
    s->registered = 0;
}

static tcpls_session_t *
registry_find(tcpls_ctx_t *ctx, uint64_t serial)
{
    for (tcpls_session_t *t = ctx->registry; t != NULL; t = t->reg_next)
        if (t->serial == serial)
            return t->closed || t->mode != MODE_TCPLS ? NULL : t;
    return NULL;
}

/* Server: finds the session that issued the token in (its sequence is the server's to know)
 * and reserves the token for this handshake. The ClientHello that follows a HelloRetryRequest
 * carries the same token again: it is accepted for the same handshake only. The token is
 * consumed when the handshake ends (join_settle), completed or not: single use. Returns 0, or
 * -1 for an unknown token or one another handshake holds. */
static int
join_lookup(tcpls_session_t *s, const uint8_t *in)
{
    if (s->join_pending)
        return CRYPTO_memcmp(s->join_token, in, TCPLS_TOKEN_LEN) == 0 ? 0 : -1;
    for (tcpls_session_t *t = s->ctx->registry; t != NULL; t = t->reg_next) {
        if (t == s || t->closed || t->mode != MODE_TCPLS)
            continue;
        for (size_t i = 0; i < t->ntokens; i++) {
            token_t *k = &t->tokens[i];
            if (k->reserved || CRYPTO_memcmp(k->value, in, TCPLS_TOKEN_LEN) != 0)
                continue;
            k->reserved = 1;
            s->join_pending = 1;
            s->join_serial = t->serial;
            s->join_conn_id = k->seq;
            memcpy(s->join_token, in, TCPLS_TOKEN_LEN);
            t->joins_in_progress++;
            return 0;
        }
    }
    return -1;
}

/* A join handshake ended (joined or not): its token is consumed, and the target may
 * replenish. */
static void
join_settle(tcpls_session_t *s)
{
    tcpls_session_t *t;
    if (!s->join_pending)
        return;
    s->join_pending = 0;
    for (t = s->ctx->registry; t != NULL && t->serial != s->join_serial; t = t->reg_next)
        ;
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->ntokens; i++) {
        if (t->tokens[i].seq == s->join_conn_id) {
            t->tokens[i] = t->tokens[--t->ntokens];
            break;
        }
    }
    if (t->joins_in_progress > 0)
        t->joins_in_progress--;
}

/* 1 when no connection holds an unacknowledged record that carried stream data. */
static int
all_acked(const tcpls_session_t *s)
{
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->ring_len > 0)
            return 0;
    return 1;
}

static size_t
live_conns(const tcpls_session_t *s, int count_joining)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->state == 1 || (count_joining && s->conns[i]->state == 0))
            n++;
    return n;
}

/* 1 when the client may come back on another connection after the last one failed: it did
 * join before, or it has other addresses (the client advertised them; the server was told). */
static int
may_rejoin(const tcpls_session_t *s)
{
    return s->ever_joined || (s->is_server ? s->n_peer_addrs > 0 : s->n_my_addrs > 0);
}

/* Queues a Connection Reset frame for conn_id, forgetting those already delivered. */
static void
reset_queue(tcpls_session_t *s, uint32_t conn_id)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nresets; i++) {
        conn_t *via = conn_find(s, s->resets[i].ctl.conn);
        int delivered = s->resets[i].ctl.state == CTL_SENT && via != NULL && via->state == 1 &&
                        s->resets[i].ctl.seq < via->acked_upto;
        if (!delivered)
            s->resets[n++] = s->resets[i];
    }
    s->nresets = n;
    if (s->nresets < MAX_RESETS) {
        s->resets[s->nresets].conn_id = conn_id;
        s->resets[s->nresets].ctl.state = CTL_PENDING;
        s->nresets++;
    }
}

/* Connection c is gone (err = 0: closed in order). The frames of its unacknowledged records go
 * back to their streams to be sent on the other connections; the peer learns it through a
 * Connection Reset frame when tell_peer. Ends the session when nothing is left to carry it.
 * Returns 0 or the error that ended the session. */
static int
conn_fail(tcpls_session_t *s, conn_t *c, int err, int tell_peer)
{
    int was = c->state;

    if (s->closed)
        return s->error;
    if (c->state == 2)
        return 0;
    c->state = 2;
    c->error = err;
    while (c->ring_len > 0) {
        sent_record_t r = c->ring[c->ring_head];
        tcpls_stream_t *st;
        c->ring_head = (c->ring_head + 1) % c->ring_cap;
        c->ring_len--;
        if ((st = stream_find(s, r.stream_id)) != NULL) {
            tcpls__stream_requeue(st, r.off, r.len, r.fin);
            sendq_push(s, st);
        }
    }
    c->out.off = c->out.len = 0;
    c->in.off = c->in.len = 0;
    c->ack_due = 0;
    c->stalled_since = 0;
    SSL_free(c->ssl);
    c->ssl = NULL;
    for (size_t i = 0; i < s->ntokens; i++)
        ctl_lost(&s->tokens[i].ctl, c);
    for (size_t i = 0; i < s->n_my_addrs; i++) {
        ctl_lost(&s->my_addr_add[i], c);
        ctl_lost(&s->my_addr_rm[i], c);
    }
    for (size_t i = 0; i < s->nresets; i++)
        ctl_lost(&s->resets[i].ctl, c);
    for (size_t i = 0; i < s->nconns; i++)
        ctl_lost(&s->conns[i]->prio, c);
    if (tell_peer && was == 1)
        reset_queue(s, c->id);
    if (s->ops.conn_state)
        s->ops.conn_state(s, c->id, 2, err, s->user_data);
    if (s->closed)
        return s->error;
    if (live_conns(s, 1) == 0) {
        /* A multipath session outlives its last connection while the client can join again
         * (break-before-make). */
        int keep =
            may_rejoin(s) && s->mode == MODE_TCPLS && !s->close_sent && (s->is_server || s->ntokens > 0);
        if (!keep) {
            session_end(s, err ? err : TCPLS_ERR_TRUNCATED);
            return s->error;
        }
    }
    return 0;
}

/* ---- OpenSSL callbacks ----------------------------------------------------------------- */

static int
hex_to_bytes(const char *hex, uint8_t *out, size_t cap, size_t *outlen)
{
    size_t n = 0;
    while (hex[0] && hex[0] != ' ' && hex[0] != '\n') {
        unsigned v;
        if (n == cap || sscanf(hex, "%2x", &v) != 1 || hex[1] == '\0')
            return -1;
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    *outlen = n;
    return 0;
}

static void
keylog_cb(const SSL *ssl, const char *line)
{
    tcpls_session_t *s = SSL_get_app_data(ssl);
    const char *env = getenv("SSLKEYLOGFILE");
    int which = -1;

    if (env != NULL && *env) {
        FILE *f = fopen(env, "a");
        if (f != NULL) {
            fprintf(f, "%s\n", line);
            fclose(f);
        }
    }
    if (s == NULL || ssl != s->ssl)
        return; /* a joining connection's handshake: its secrets are not used */
    if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0)
        which = 0;
    else if (strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0)
        which = 1;
    if (which < 0)
        return;
    const char *p = strchr(line + 24, ' ');
    if (p == NULL ||
        hex_to_bytes(p + 1, s->secret[which], sizeof(s->secret[which]), &s->secret_len[which]) != 0)
        s->secret_len[which] = 0;
}

static int
ext_add_cb(SSL *ssl, unsigned int ext_type, unsigned int context, const unsigned char **out, size_t *outlen,
           X509 *x, size_t chainidx, int *al, void *arg)
{
    tcpls_session_t *s = SSL_get_app_data(ssl);
    *out = NULL;
    *outlen = 0;
    if (s == NULL)
        return 0;
    if (context == SSL_EXT_CLIENT_HELLO) {
        conn_t *jc = join_conn_of(s, ssl);
        if (jc != NULL) {
            /* a joining connection: tcpls and tcpls_join (the token), no token wanted */
            if (ext_type == EXT_TCPLS_JOIN) {
                *out = jc->join_ext;
                *outlen = sizeof(jc->join_ext);
            }
            return ext_type == EXT_TCPLS || ext_type == EXT_TCPLS_JOIN;
        }
        /* tcpls, an empty tcpls_token (the server may only answer extensions we sent) and
         * ours for Connection Priority frames. */
        return ext_type == EXT_TCPLS || ext_type == EXT_TCPLS_TOKEN || ext_type == EXT_TCPLS_PRIO;
    }
    if (!s->peer_tcpls)
        return 0;
    if (ext_type == EXT_TCPLS)
        return 1;
    if (ext_type == EXT_TCPLS_PRIO)
        return s->peer_prio && !s->join_pending;
    if (ext_type == EXT_TCPLS_TOKEN && !s->join_pending) {
        /* Its sequence is implicit (1): the first token issued, once per handshake (the
         * extension is built again only if OpenSSL asks for a second EncryptedExtensions). */
        token_t *t = s->ntokens > 0 && s->tokens[0].seq == 1 ? &s->tokens[0] : issue_token(s);
        if (t == NULL || t->seq != 1)
            return 0;
        t->ctl.state = CTL_DONE; /* sent in the handshake: never resent */
        memcpy(s->token_ext, t->value, TCPLS_TOKEN_LEN);
        *out = s->token_ext;
        *outlen = sizeof(s->token_ext);
        return 1;
    }
    return 0;
}

static int
ext_parse_cb(SSL *ssl, unsigned int ext_type, unsigned int context, const unsigned char *in, size_t inlen,
             X509 *x, size_t chainidx, int *al, void *arg)
{
    tcpls_session_t *s = SSL_get_app_data(ssl);
    if (s == NULL)
        return 1;
    switch (ext_type) {
    case EXT_TCPLS:
        if (inlen != 0) {
            *al = SSL_AD_DECODE_ERROR;
            return 0;
        }
        s->peer_tcpls = 1;
        return 1;
    case EXT_TCPLS_TOKEN:
        if (context == SSL_EXT_CLIENT_HELLO)
            return inlen == 0 ? 1 : (*al = SSL_AD_DECODE_ERROR, 0);
        if (inlen != TCPLS_TOKEN_LEN) {
            *al = SSL_AD_DECODE_ERROR;
            return 0;
        }
        if (s->ntokens < MAX_TOKENS) {
            memcpy(s->tokens[s->ntokens].value, in, TCPLS_TOKEN_LEN);
            s->tokens[s->ntokens].seq = 1; /* implicit */
            s->ntokens++;
        }
        return 1;
    case EXT_TCPLS_PRIO:
        if (inlen != 0) {
            *al = SSL_AD_DECODE_ERROR;
            return 0;
        }
        s->peer_prio = 1;
        return 1;
    case EXT_TCPLS_JOIN:
        /* A forged, reused or exhausted token aborts this handshake only. */
        if (!s->is_server || context != SSL_EXT_CLIENT_HELLO || inlen != TCPLS_TOKEN_LEN ||
            join_lookup(s, in) != 0) {
            s->join_refused = 1;
            *al = SSL_AD_ILLEGAL_PARAMETER;
            return 0;
        }
        return 1;
    }
    return 1;
}

/* ---- context ----------------------------------------------------------------------------- */

static int
sched_from_name(const char *name)
{
    if (name != NULL && strcmp(name, "minrtt") == 0)
        return TSCHED_MINRTT;
    if (name != NULL && strcmp(name, "rr") == 0)
        return TSCHED_RR;
    return TSCHED_DEFAULT;
}

int
tcpls_scheduler_valid(const char *name)
{
    return name != NULL &&
           (strcmp(name, "default") == 0 || strcmp(name, "minrtt") == 0 || strcmp(name, "rr") == 0);
}

static void
set_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char ebuf[256] = "";
    if (err == NULL || errlen == 0)
        return;
    if (e != 0)
        ERR_error_string_n(e, ebuf, sizeof(ebuf));
    snprintf(err, errlen, "%s%s%s", what, e ? ": " : "", ebuf);
    ERR_clear_error();
}

tcpls_ctx_t *
tcpls_ctx_new(const tcpls_ctx_config_t *cfg, char *err, size_t errlen)
{
    tcpls_ctx_t *ctx = calloc(1, sizeof(*ctx));
    SSL_CTX *sc = NULL;
    unsigned ext_ctx = SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ENCRYPTED_EXTENSIONS | SSL_EXT_TLS1_3_ONLY;

    if (ctx == NULL || cfg == NULL) {
        set_err(err, errlen, ctx ? "no configuration" : "out of memory");
        goto fail;
    }
    ctx->is_server = cfg->is_server;
    ctx->no_plain_fallback = cfg->no_plain_fallback;
    ctx->stream_send_buffer = cfg->stream_send_buffer ? cfg->stream_send_buffer : 4u << 20;
    ctx->session_send_buffer = cfg->session_send_buffer ? cfg->session_send_buffer : 32u << 20;
    ctx->reorder_limit = cfg->stream_reorder_limit ? cfg->stream_reorder_limit : 16u << 20;
    ctx->ctx_reorder_limit = cfg->context_reorder_limit ? cfg->context_reorder_limit : (size_t)256 << 20;
    ctx->max_streams = cfg->max_streams ? cfg->max_streams : 1024;
    ctx->ack_every = cfg->ack_every ? cfg->ack_every : 32;
    ctx->tokens = cfg->tokens ? cfg->tokens : 4;
    if (ctx->tokens > MAX_TOKENS - 1)
        ctx->tokens = MAX_TOKENS - 1;
    if (cfg->scheduler != NULL && !tcpls_scheduler_valid(cfg->scheduler)) {
        set_err(err, errlen, "unknown scheduler");
        goto fail;
    }
    ctx->sched = sched_from_name(cfg->scheduler);

    if ((sc = SSL_CTX_new(cfg->is_server ? TLS_server_method() : TLS_client_method())) == NULL) {
        set_err(err, errlen, "SSL_CTX_new");
        goto fail;
    }
    ctx->ssl_ctx = sc;
    /* The plain-TLS fallback serves TLS 1.2 clients too; TCPLS itself needs TLS 1.3. */
    SSL_CTX_set_min_proto_version(sc, cfg->is_server ? TLS1_2_VERSION : TLS1_3_VERSION);
    /* No session tickets: nothing may follow the handshake on OpenSSL's record layer. */
    SSL_CTX_set_options(sc, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_num_tickets(sc, 0);
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_keylog_callback(sc, keylog_cb);
    if (cfg->ciphersuites && SSL_CTX_set_ciphersuites(sc, cfg->ciphersuites) != 1) {
        set_err(err, errlen, "bad cipher suite list");
        goto fail;
    }
    if (SSL_CTX_add_custom_ext(sc, EXT_TCPLS, ext_ctx, ext_add_cb, NULL, NULL, ext_parse_cb, NULL) != 1 ||
        SSL_CTX_add_custom_ext(sc, EXT_TCPLS_TOKEN, ext_ctx, ext_add_cb, NULL, NULL, ext_parse_cb, NULL) !=
            1 ||
        SSL_CTX_add_custom_ext(sc, EXT_TCPLS_JOIN, SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_3_ONLY, ext_add_cb,
                               NULL, NULL, ext_parse_cb, NULL) != 1 ||
        SSL_CTX_add_custom_ext(sc, EXT_TCPLS_PRIO, ext_ctx, ext_add_cb, NULL, NULL, ext_parse_cb, NULL) !=
            1) {
        set_err(err, errlen, "cannot register the tcpls extensions");
        goto fail;
    }
    if (cfg->is_server) {
        if (cfg->cert_file && SSL_CTX_use_certificate_chain_file(sc, cfg->cert_file) != 1) {
            set_err(err, errlen, "cannot load the certificate");
            goto fail;
        }
        if (cfg->key_file && SSL_CTX_use_PrivateKey_file(sc, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
            set_err(err, errlen, "cannot load the private key");
            goto fail;
        }
    } else if (!cfg->insecure) {
        SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
        if (cfg->ca_file ? SSL_CTX_load_verify_locations(sc, cfg->ca_file, NULL) != 1
                         : SSL_CTX_set_default_verify_paths(sc) != 1) {
            set_err(err, errlen, "cannot load the CA certificates");
            goto fail;
        }
    }
    return ctx;
fail:
    tcpls_ctx_free(ctx);
    return NULL;
}

void
tcpls_ctx_free(tcpls_ctx_t *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx);
}

void *
tcpls_ctx_ssl_ctx(tcpls_ctx_t *ctx)
{
    return ctx ? ctx->ssl_ctx : NULL;
}

/* ---- session lifecycle --------------------------------------------------------------------- */

static conn_t *
conn_new(tcpls_session_t *s, uint32_t id)
{
    conn_t *c = calloc(1, sizeof(*c)), **nc;
    if (c == NULL)
        return NULL;
    if ((nc = realloc(s->conns, (s->nconns + 1) * sizeof(*nc))) == NULL) {
        free(c);
        return NULL;
    }
    c->id = id;
    s->conns = nc;
    s->conns[s->nconns++] = c;
    return c;
}

tcpls_session_t *
tcpls_session_new(tcpls_ctx_t *ctx, const tcpls_ops_t *ops, void *user_data, const char *server_name)
{
    tcpls_session_t *s;
    conn_t *c;

    if (ctx == NULL || (s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    s->ctx = ctx;
    if (ops)
        s->ops = *ops;
    s->user_data = user_data;
    s->is_server = ctx->is_server;
    s->next_stream_id = s->is_server ? 1 : 0;
    s->peer_next_stream_id = s->is_server ? 0 : 1;
    s->next_token_seq = 1;
    s->sched = ctx->sched;
    if (s->is_server)
        registry_add(s);
    if ((c = conn_new(s, 0)) == NULL || (s->ssl = SSL_new(ctx->ssl_ctx)) == NULL ||
        (s->rbio = BIO_new(BIO_s_mem())) == NULL || (s->wbio = BIO_new(BIO_s_mem())) == NULL)
        goto fail;
    SSL_set_bio(s->ssl, s->rbio, s->wbio);
    SSL_set_app_data(s->ssl, s);
    if (s->is_server) {
        SSL_set_accept_state(s->ssl);
    } else {
        SSL_set_connect_state(s->ssl);
        if (server_name && *server_name) {
            unsigned char tmp[16];
            if (inet_pton(AF_INET, server_name, tmp) == 1 || inet_pton(AF_INET6, server_name, tmp) == 1) {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), server_name);
            } else {
                SSL_set_tlsext_host_name(s->ssl, server_name);
                SSL_set1_host(s->ssl, server_name);
            }
        }
        if (SSL_do_handshake(s->ssl) <= 0 && SSL_get_error(s->ssl, -1) != SSL_ERROR_WANT_READ)
            goto fail;
        drain_wbio(s, c);
    }
    return s;
fail:
    ERR_clear_error();
    tcpls_session_free(s);
    return NULL;
}

void
tcpls_session_free(tcpls_session_t *s)
{
    if (s == NULL)
        return;
    join_settle(s);
    registry_remove(s);
    for (size_t i = 0; i < STREAM_BUCKETS; i++) {
        while (s->buckets[i] != NULL) {
            tcpls_stream_t *st = s->buckets[i];
            s->buckets[i] = st->hash_next;
            s->ctx->reorder_total -= st->reorder_mem;
            tcpls__stream_free(st);
        }
    }
    for (size_t i = 0; i < s->nconns; i++)
        conn_free(s->conns[i]);
    free(s->conns);
    if (s->ssl)
        SSL_free(s->ssl); /* frees the BIOs */
    else {
        BIO_free(s->rbio);
        BIO_free(s->wbio);
    }
    tcpls__aead_clear(&s->tx);
    tcpls__aead_clear(&s->rx);
    OPENSSL_cleanse(s->secret, sizeof(s->secret));
    free(s);
}

void *
tcpls_session_user_data(tcpls_session_t *s)
{
    return s ? s->user_data : NULL;
}
int
tcpls_session_is_tcpls(tcpls_session_t *s)
{
    return s && s->mode == MODE_TCPLS;
}
int
tcpls_session_is_established(tcpls_session_t *s)
{
    return s && s->mode != MODE_HANDSHAKE;
}
int
tcpls_session_is_closed(tcpls_session_t *s)
{
    return s == NULL || s->closed;
}
int
tcpls_session_error(tcpls_session_t *s)
{
    return s ? s->error : TCPLS_ERR_ARG;
}
const char *
tcpls_session_cipher(tcpls_session_t *s)
{
    return s && s->cipher[0] ? s->cipher : NULL;
}
size_t
tcpls_session_token_count(tcpls_session_t *s)
{
    return s ? s->ntokens : 0;
}

/* ---- handshake ----------------------------------------------------------------------------- */

/* Server: the handshake of a fresh session was a join: its connection becomes connection
 * join_conn_id of the target session, and this session only forwards from now on. */
static int
join_complete_server(tcpls_session_t *s)
{
    tcpls_session_t *t = registry_find(s->ctx, s->join_serial);
    conn_t *nc, *c = s->conns[0];

    join_settle(s);
    if (t == NULL || conn_find(t, s->join_conn_id) != NULL || !s->peer_tcpls ||
        SSL_version(s->ssl) != TLS1_3_VERSION)
        return TCPLS_ERR_TOKEN;
    if ((nc = conn_new(t, s->join_conn_id)) == NULL)
        return TCPLS_ERR_NOMEM;
    nc->state = 1;
    if (c->out.len > 0 && buf_append(&nc->out, c->out.base + c->out.off, c->out.len) != 0)
        return TCPLS_ERR_NOMEM;
    buf_consume(&c->out, c->out.len);
    t->ever_joined = 1;
    s->mode = MODE_JOINED;
    c->state = 1;
    if (s->ops.handshake_done)
        s->ops.handshake_done(s, s->user_data);
    if (t->ops.conn_state)
        t->ops.conn_state(t, nc->id, 1, 0, t->user_data);
    return 0;
}

/* Client: a joining connection finished its handshake; records start at sequence 0. */
static int
join_complete_client(tcpls_session_t *s, conn_t *c)
{
    uint64_t min_rr = UINT64_MAX;
    drain_wbio(s, c);
    SSL_free(c->ssl);
    c->ssl = NULL;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->state == 1 && s->conns[i]->data_records < min_rr)
            min_rr = s->conns[i]->data_records;
    c->data_records = min_rr == UINT64_MAX ? 0 : min_rr;
    c->state = 1;
    s->ever_joined = 1;
    if (s->ops.conn_state)
        s->ops.conn_state(s, c->id, 1, 0, s->user_data);
    return 0;
}

static int
handshake_complete(tcpls_session_t *s)
{
    const SSL_CIPHER *cipher = SSL_get_current_cipher(s->ssl);
    int mine = s->is_server ? 1 : 0, r;

    if (s->join_pending)
        return join_complete_server(s);

    snprintf(s->cipher, sizeof(s->cipher), "%s", cipher ? SSL_CIPHER_get_name(cipher) : "?");
    if (s->peer_tcpls && SSL_version(s->ssl) == TLS1_3_VERSION) {
        s->suite = cipher ? (uint16_t)(SSL_CIPHER_get_id(cipher) & 0xffff) : 0;
        if (s->secret_len[0] == 0 || s->secret_len[1] == 0)
            return TCPLS_ERR_HANDSHAKE;
        if ((r = tcpls__aead_init(&s->tx, s->suite, s->secret[mine], s->secret_len[mine], 1)) != 0 ||
            (r = tcpls__aead_init(&s->rx, s->suite, s->secret[!mine], s->secret_len[!mine], 0)) != 0)
            return r == TCPLS_ERR_ARG ? TCPLS_ERR_HANDSHAKE : r;
        /* AES-GCM: 2^24.5 full records (RFC 8446 5.5); ChaCha20-Poly1305: none before the
         * sequence numbers wrap. */
        s->aead_limit = s->suite == TCPLS_SUITE_CHACHA20_POLY1305_SHA256 ? UINT64_MAX - 64 : 23726566;
        s->mode = MODE_TCPLS;
    } else {
        if (s->is_server && s->ctx->no_plain_fallback)
            return TCPLS_ERR_HANDSHAKE;
        s->mode = MODE_PLAIN;
    }
    s->conns[0]->state = 1;
    if (s->ops.handshake_done)
        s->ops.handshake_done(s, s->user_data);
    return 0;
}

/* Feeds whole TLS records to OpenSSL one at a time, so that nothing after the last handshake
 * record reaches OpenSSL: what follows belongs to libtcpls's record layer. Returns the bytes of
 * data consumed, or a negative error. */
static int
handshake_input(tcpls_session_t *s, conn_t *c, const uint8_t *data, size_t len, size_t *used)
{
    SSL *ssl = c->ssl ? c->ssl : s->ssl;
    *used = 0;
    while (c->ssl ? c->state == 0 : s->mode == MODE_HANDSHAKE) {
        size_t need;
        if (c->in.len < TCPLS_RECORD_HEADER_LEN) {
            size_t n = TCPLS_RECORD_HEADER_LEN - c->in.len;
            if (n > len - *used)
                n = len - *used;
            if (n == 0 || buf_append(&c->in, data + *used, n) != 0)
                return n == 0 ? 0 : TCPLS_ERR_NOMEM;
            *used += n;
            continue;
        }
        const uint8_t *h = c->in.base + c->in.off;
        need = TCPLS_RECORD_HEADER_LEN + tcpls__get16(h + 3);
        if (h[0] < 20 || h[0] > 23 || h[1] != 3 || need > HANDSHAKE_REC_MAX)
            return TCPLS_ERR_HANDSHAKE;
        if (c->in.len < need) {
            size_t n = need - c->in.len;
            if (n > len - *used)
                n = len - *used;
            if (n == 0 || buf_append(&c->in, data + *used, n) != 0)
                return n == 0 ? 0 : TCPLS_ERR_NOMEM;
            *used += n;
            continue;
        }
        if (BIO_write(SSL_get_rbio(ssl), c->in.base + c->in.off, (int)need) != (int)need)
            return TCPLS_ERR_NOMEM;
        buf_consume(&c->in, need);
        int r = SSL_do_handshake(ssl);
        drain_wbio(s, c);
        if (r == 1)
            return c->ssl ? join_complete_client(s, c) : handshake_complete(s);
        int e = SSL_get_error(ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            int refused = s->join_refused || (c->ssl != NULL && ERR_GET_REASON(ERR_peek_error()) ==
                                                                    SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER);
            ERR_clear_error();
            return refused ? TCPLS_ERR_TOKEN : TCPLS_ERR_HANDSHAKE;
        }
    }
    return 0;
}

/* ---- plain TLS mode -------------------------------------------------------------------------- */

static void
plain_deliver(void *arg, tcpls_stream_t *st, const uint8_t *data, size_t len, int fin)
{
    tcpls_session_t *s = arg;
    if (s->ops.stream_data)
        s->ops.stream_data(s, st->id, data, len, fin, s->user_data);
}

static tcpls_stream_t *
plain_stream(tcpls_session_t *s)
{
    tcpls_stream_t *st = stream_find(s, 0);
    if (st == NULL && (st = stream_add(s, 0)) != NULL && s->is_server && s->ops.stream_opened)
        s->ops.stream_opened(s, 0, s->user_data);
    return st;
}

static int
plain_input(tcpls_session_t *s, conn_t *c, const uint8_t *data, size_t len)
{
    if (len > 0 && BIO_write(s->rbio, data, (int)len) != (int)len)
        return TCPLS_ERR_NOMEM;
    while (!s->closed) {
        int r = SSL_read(s->ssl, s->plain, sizeof(s->plain));
        if (r > 0) {
            tcpls_stream_t *st = plain_stream(s);
            if (st == NULL)
                return TCPLS_ERR_NOMEM;
            tcpls__stream_receive(st, st->recv_next, s->plain, (size_t)r, 0, 0, plain_deliver, s);
            continue;
        }
        int e = SSL_get_error(s->ssl, r);
        drain_wbio(s, c);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        ERR_clear_error();
        if (e == SSL_ERROR_ZERO_RETURN) {
            tcpls_stream_t *st = plain_stream(s);
            s->close_received = 1;
            if (st)
                tcpls__stream_receive(st, st->recv_next, NULL, 0, 1, 0, plain_deliver, s);
            if (!s->close_sent) {
                SSL_shutdown(s->ssl);
                s->close_sent = 1;
                drain_wbio(s, c);
            }
            session_end(s, 0);
            break;
        }
        return TCPLS_ERR_DECRYPT;
    }
    drain_wbio(s, c);
    return 0;
}

/* ---- TCPLS record layer ---------------------------------------------------------------------- */

static int
seal_into(tcpls_session_t *s, conn_t *c, uint8_t content_type, const tcpls_iov_t *parts, size_t nparts)
{
    size_t total = 0;
    int n;
    for (size_t i = 0; i < nparts; i++)
        total += parts[i].len;
    if (buf_reserve(&c->out, TCPLS_RECORD_HEADER_LEN + total + 1 + TCPLS_RECORD_TAG_LEN) != 0)
        return TCPLS_ERR_NOMEM;
    /* The key's usage limit, shared by all connections (one key, per-connection nonces). An
     * alert may still go out past it: the session is ending. */
    if (content_type != TCPLS_CONTENT_ALERT && s->tx_records >= s->aead_limit)
        return TCPLS_ERR_KEY_LIMIT;
    n = tcpls__record_seal(&s->tx, c->id, c->send_seq, content_type, parts, nparts,
                           c->out.base + c->out.off + c->out.len);
    if (n < 0)
        return n;
    c->out.len += (size_t)n;
    c->send_seq++;
    c->records_sent++;
    s->tx_records++;
    return 0;
}

static int
ring_push(conn_t *c, const sent_record_t *r)
{
    if (c->ring_len == c->ring_cap) {
        size_t ncap = c->ring_cap ? c->ring_cap * 2 : 64;
        sent_record_t *nr = malloc(ncap * sizeof(*nr));
        if (nr == NULL)
            return TCPLS_ERR_NOMEM;
        for (size_t i = 0; i < c->ring_len; i++)
            nr[i] = c->ring[(c->ring_head + i) % c->ring_cap];
        free(c->ring);
        c->ring = nr;
        c->ring_cap = ncap;
        c->ring_head = 0;
    }
    c->ring[(c->ring_head + c->ring_len) % c->ring_cap] = *r;
    c->ring_len++;
    return 0;
}

static void
notify_writable(tcpls_session_t *s)
{
    uint32_t ids[64];
    size_t n = 0;

    if (!s->any_blocked || s->ops.stream_writable == NULL)
        return;
    s->any_blocked = 0;
    /* Collect first: the callbacks may write, finish or open streams. */
    for (size_t i = 0; i < STREAM_BUCKETS; i++) {
        for (tcpls_stream_t *st = s->buckets[i]; st != NULL; st = st->hash_next) {
            if (!st->blocked)
                continue;
            if (n == 64) {
                s->any_blocked = 1; /* the rest on the next acknowledgment */
                break;
            }
            st->blocked = 0;
            ids[n++] = st->id;
        }
    }
    for (size_t i = 0; i < n && !s->closed; i++)
        if (stream_find(s, ids[i]) != NULL)
            s->ops.stream_writable(s, ids[i], s->user_data);
}

static int
process_ack(tcpls_session_t *s, uint32_t conn_id, uint64_t seq)
{
    conn_t *c = conn_find(s, conn_id);
    if (c == NULL)
        return 0; /* a connection that is gone: nothing left to free */
    if (seq >= c->send_seq)
        return TCPLS_ERR_PROTOCOL;
    if (seq + 1 <= c->acked_upto)
        return 0;
    c->acked_upto = seq + 1;
    c->stalled_since = s->now_ns ? s->now_ns : 1; /* progress; cleared below if all acknowledged */
    while (c->ring_len > 0 && c->ring[c->ring_head].seq <= seq) {
        sent_record_t r = c->ring[c->ring_head];
        tcpls_stream_t *st;
        c->ring_head = (c->ring_head + 1) % c->ring_cap;
        c->ring_len--;
        if ((st = stream_find(s, r.stream_id)) != NULL) {
            s->send_buffered -= tcpls__stream_ack(st, r.off, r.len, r.fin);
            stream_maybe_finish(s, st);
        }
    }
    if (c->ring_len == 0)
        c->stalled_since = 0;
    notify_writable(s);
    return 0;
}

static void
tcpls_deliver(void *arg, tcpls_stream_t *st, const uint8_t *data, size_t len, int fin)
{
    tcpls_session_t *s = arg;
    if (s->ops.stream_data)
        s->ops.stream_data(s, st->id, data, len, fin, s->user_data);
}

static int
handle_stream_frame(tcpls_session_t *s, const tcpls_frame_t *f)
{
    uint32_t id = f->u.stream.stream_id;
    tcpls_stream_t *st = stream_find(s, id);
    int r;

    if (st == NULL) {
        int peer_initiated = (id & 1) == (s->is_server ? 0u : 1u);
        if (!peer_initiated)
            return id < s->next_stream_id ? 0 : TCPLS_ERR_PROTOCOL;
        if (id < s->peer_next_stream_id)
            return 0; /* a stream that already finished: a late copy after a resend */
        /* Streams open in sequence: a frame for id opens every lower id not yet seen (frames
         * of one record are read back to front, and connections reorder). */
        uint64_t count = (id - s->peer_next_stream_id) / 2 + 1;
        if (s->nstreams + count > s->ctx->max_streams)
            return TCPLS_ERR_STREAM_LIMIT;
        for (uint64_t nid = s->peer_next_stream_id; nid <= id; nid += 2) {
            if (stream_add(s, (uint32_t)nid) == NULL)
                return TCPLS_ERR_NOMEM;
            s->peer_next_stream_id = (uint32_t)(nid + 2);
            if (s->ops.stream_opened)
                s->ops.stream_opened(s, (uint32_t)nid, s->user_data);
            if (s->closed)
                return 0;
        }
        if ((st = stream_find(s, id)) == NULL)
            return 0;
    }
    /* The reorder memory bound holds per stream and, at 4 times that, per session. */
    size_t before = st->reorder_mem, limit = s->ctx->reorder_limit, session_cap = 4 * s->ctx->reorder_limit;
    size_t session_room = s->reorder_total < session_cap ? session_cap - s->reorder_total : 0;
    size_t ctx_room = s->ctx->reorder_total < s->ctx->ctx_reorder_limit
                          ? s->ctx->ctx_reorder_limit - s->ctx->reorder_total
                          : 0;
    if (session_room > ctx_room)
        session_room = ctx_room;
    if (limit > before + session_room)
        limit = before + session_room;
    r = tcpls__stream_receive(st, f->u.stream.offset, f->u.stream.data, f->u.stream.len, f->u.stream.fin,
                              limit, tcpls_deliver, s);
    s->reorder_total = s->reorder_total - before + st->reorder_mem;
    s->ctx->reorder_total = s->ctx->reorder_total - before + st->reorder_mem;
    if (r == 0)
        stream_maybe_finish(s, st);
    return r;
}

static int
handle_frames(tcpls_session_t *s, conn_t *c, const uint8_t *p, size_t len, int *eliciting)
{
    const uint8_t *cur = p + len;
    tcpls_frame_t f;
    int r;

    while (cur > p && !s->closed) {
        if ((r = tcpls__frame_parse(&cur, p, &f)) != 0)
            return r;
        if (tcpls__frame_is_ack_eliciting(f.type))
            *eliciting = 1;
        switch (f.type) {
        case TCPLS_FRAME_STREAM:
        case TCPLS_FRAME_STREAM_FIN:
            c->stream_bytes_received += f.u.stream.len;
            r = handle_stream_frame(s, &f);
            break;
        case TCPLS_FRAME_ACK:
            r = process_ack(s, f.u.ack.conn_id, f.u.ack.seq);
            break;
        case TCPLS_FRAME_NEW_TOKEN:
            if (s->is_server)
                return TCPLS_ERR_PROTOCOL;
            if (s->ntokens < MAX_TOKENS) {
                s->tokens[s->ntokens].seq = f.u.new_token.seq;
                memcpy(s->tokens[s->ntokens].value, f.u.new_token.token, TCPLS_TOKEN_LEN);
                s->ntokens++;
            }
            break;
        case TCPLS_FRAME_CONN_RESET: {
            conn_t *rc = conn_find(s, f.u.conn_reset.conn_id);
            if (rc != NULL && rc != c)
                r = conn_fail(s, rc, TCPLS_ERR_CONN_FAILED, 0);
            r = s->closed ? 0 : r;
            break;
        }
        case TCPLS_FRAME_CONN_PRIORITY: {
            conn_t *pc = conn_find(s, f.u.conn_priority.conn_id);
            if (pc != NULL)
                pc->backup = f.u.conn_priority.backup; /* the peer's word; not echoed */
            break;
        }
        case TCPLS_FRAME_NEW_ADDRESS: {
            size_t i;
            for (i = 0; i < s->n_peer_addrs && s->peer_addrs[i].id != f.u.new_address.addr_id; i++)
                ;
            if (i < s->n_peer_addrs || i == MAX_ADDRS)
                break; /* a known id keeps its first content, a removed one stays removed; and
                        * more than we track are ignored */
            s->n_peer_addrs++;
            s->peer_addrs[i].id = f.u.new_address.addr_id;
            s->peer_addrs[i].version = f.u.new_address.version;
            memcpy(s->peer_addrs[i].addr, f.u.new_address.addr, 16);
            s->peer_addrs[i].port = f.u.new_address.port;
            s->peer_addrs[i].removed = 0;
            break;
        }
        case TCPLS_FRAME_REMOVE_ADDRESS:
            for (size_t i = 0; i < s->n_peer_addrs; i++)
                if (s->peer_addrs[i].id == f.u.remove_address.addr_id)
                    s->peer_addrs[i].removed = 1;
            break;
        default:
            /* Padding, Ping; Stream Change is parsed and validated, and ignored. */
            break;
        }
        if (r != 0)
            return r;
    }
    return 0;
}

/* Processes one complete record. Returns 0 or an error. */
static int
record_input(tcpls_session_t *s, conn_t *c, const uint8_t *rec, size_t reclen)
{
    size_t plen;
    uint8_t ctype;
    int eliciting = 0, r;

    /* Records after the peer's close_notify are still read: its ACKs for what we still send,
     * and late copies of data that another connection already delivered (docs/PROTOCOL.md). */
    if ((r = tcpls__record_open(&s->rx, c->id, c->recv_seq, rec, reclen, s->plain, &plen, &ctype)) != 0)
        return r;
    c->recv_seq++;
    c->records_received++;
    if (++s->rx_records > s->aead_limit + 16)
        return TCPLS_ERR_KEY_LIMIT; /* the peer went past the limit of its key */
    switch (ctype) {
    case TCPLS_CONTENT_APPDATA:
        if ((r = handle_frames(s, c, s->plain, plen, &eliciting)) != 0)
            return r;
        if (eliciting) {
            c->rx_eliciting++;
            if (c->rx_eliciting >= s->ctx->ack_every)
                c->ack_due = 1;
        }
        return 0;
    case TCPLS_CONTENT_ALERT:
        if (plen != 2)
            return TCPLS_ERR_RECORD;
        if (s->plain[1] == 0) { /* close_notify */
            s->close_received = 1;
            if (!s->close_requested)
                s->close_requested = 1; /* answer with ours once pending data is out */
            if (s->close_sent)
                session_end(s, 0);
            return 0;
        }
        return TCPLS_ERR_PEER_ALERT;
    default:
        /* Handshake messages after the handshake (tickets, KeyUpdate) are never negotiated. */
        return TCPLS_ERR_RECORD;
    }
}

static int
tcpls_input(tcpls_session_t *s, conn_t *c, const uint8_t *data, size_t len)
{
    int r;

    /* Complete a record left partial by the previous call, copying only its missing bytes. */
    while (c->in.len > 0 && len > 0) {
        size_t want = TCPLS_RECORD_HEADER_LEN, n;
        if (c->in.len >= TCPLS_RECORD_HEADER_LEN) {
            if ((r = tcpls__record_length(c->in.base + c->in.off, c->in.len)) < 0)
                return r;
            want = TCPLS_RECORD_HEADER_LEN + tcpls__get16(c->in.base + c->in.off + 3);
        }
        n = want - c->in.len;
        if (n > len)
            n = len;
        if (buf_append(&c->in, data, n) != 0)
            return TCPLS_ERR_NOMEM;
        data += n;
        len -= n;
        if ((r = tcpls__record_length(c->in.base + c->in.off, c->in.len)) < 0)
            return r;
        if (r > 0) {
            size_t reclen = (size_t)r;
            if ((r = record_input(s, c, c->in.base + c->in.off, reclen)) != 0)
                return r;
            buf_consume(&c->in, reclen);
        }
    }
    /* Leftover partial records already in the buffer (e.g. after the handshake). */
    while (c->in.len > 0 && !s->closed) {
        if ((r = tcpls__record_length(c->in.base + c->in.off, c->in.len)) < 0)
            return r;
        if (r == 0)
            break;
        size_t reclen = (size_t)r;
        if ((r = record_input(s, c, c->in.base + c->in.off, reclen)) != 0)
            return r;
        buf_consume(&c->in, reclen);
    }
    while (len > 0 && !s->closed) {
        if ((r = tcpls__record_length(data, len)) < 0)
            return r;
        if (r == 0)
            return buf_append(&c->in, data, len);
        size_t reclen = (size_t)r;
        if ((r = record_input(s, c, data, reclen)) != 0)
            return r;
        data += reclen;
        len -= reclen;
    }
    return 0;
}

int
tcpls_receive(tcpls_session_t *s, uint32_t conn_id, const uint8_t *data, size_t len, uint64_t now_ns)
{
    conn_t *c;
    size_t used = 0;
    int r = 0;

    if (s == NULL || (data == NULL && len > 0))
        return TCPLS_ERR_ARG;
    if (s->mode == MODE_JOINED) {
        tcpls_session_t *t = registry_find(s->ctx, s->join_serial);
        if (t != NULL && len > 0)
            tcpls_receive(t, s->join_conn_id, data, len, now_ns); /* its errors end t, not s */
        return 0;
    }
    if (s->closed)
        return s->error ? s->error : TCPLS_ERR_CLOSED;
    if ((c = conn_find(s, conn_id)) == NULL)
        return TCPLS_ERR_NO_CONN;
    s->now_ns = now_ns;
    if (c->state == 2)
        return 0; /* late bytes of a connection given up */
    c->bytes_received += len;
    if (c->state == 0 && c->ssl != NULL) {
        /* a joining connection (client) */
        if ((r = handshake_input(s, c, data, len, &used)) != 0)
            return conn_fail(s, c, r, 0);
        data += used;
        len -= used;
        if (c->state != 1 || len == 0)
            return 0;
    } else if (s->mode == MODE_HANDSHAKE) {
        if ((r = handshake_input(s, c, data, len, &used)) != 0)
            goto exit;
        data += used;
        len -= used;
        if (s->mode == MODE_JOINED) {
            if (len > 0)
                return tcpls_receive(s, conn_id, data, len, now_ns);
            return 0;
        }
        if (s->mode == MODE_PLAIN && c->in.len > 0) {
            /* bytes after the handshake already buffered: they go to OpenSSL too */
            r = plain_input(s, c, c->in.base + c->in.off, c->in.len);
            buf_consume(&c->in, c->in.len);
            if (r != 0)
                goto exit;
        }
    }
    if (s->mode == MODE_PLAIN)
        r = plain_input(s, c, data, len);
    else if (s->mode == MODE_TCPLS)
        r = tcpls_input(s, c, data, len);
    if ((r == TCPLS_ERR_DECRYPT || r == TCPLS_ERR_RECORD) && s->mode == MODE_TCPLS && !s->closed &&
        live_conns(s, 0) > 1) {
        /* The byte stream of this connection is corrupt, not the session: give the
         * connection up (its records go out again on the others) and tell the peer. */
        return conn_fail(s, c, r, 1);
    }
    if (r == 0 && c->rx_eliciting > 0)
        c->ack_due = 1; /* acknowledge once per batch of input */
exit:
    if (r != 0)
        session_end(s, r);
    return r;
}

int
tcpls_conn_eof(tcpls_session_t *s, uint32_t conn_id)
{
    conn_t *c;
    if (s == NULL)
        return TCPLS_ERR_ARG;
    if (s->mode == MODE_JOINED) {
        tcpls_session_t *t = registry_find(s->ctx, s->join_serial);
        return t != NULL ? tcpls_conn_eof(t, s->join_conn_id) : 0;
    }
    if ((c = conn_find(s, conn_id)) == NULL)
        return TCPLS_ERR_NO_CONN;
    if (s->closed)
        return s->error;
    if (c->state == 2)
        return 0;
    /* Only the peer's close_notify makes an end of stream clean: after ours alone, the peer
     * may still have been sending. */
    if (s->close_received && (s->close_sent || (s->sendq_head == NULL && all_acked(s)))) {
        session_end(s, 0);
        return 0;
    }
    if (s->mode == MODE_TCPLS && (s->nconns > 1 || may_rejoin(s)))
        return conn_fail(s, c, TCPLS_ERR_TRUNCATED, 1);
    session_end(s, TCPLS_ERR_TRUNCATED);
    return TCPLS_ERR_TRUNCATED;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* Scheduling: may connection c carry new stream data now? (Control frames always go.)
 * Connections are ranked: migrated away from (2) < backup (1) < normal (0); only the best rank
 * present carries data. Among those, "rr" keeps the record counts equal, "minrtt" sends only on
 * the lowest smoothed RTT, and "default" prefers lower RTTs but overflows to the next
 * connection while the faster ones have output waiting (their socket is full). */
static int
conn_rank(const conn_t *x)
{
    return x->migrated ? 2 : x->backup ? 1 : 0;
}

static int
faster(const conn_t *x, const conn_t *c)
{
    return x->srtt_us < c->srtt_us || (x->srtt_us == c->srtt_us && x->id < c->id);
}

/* Expected time (us) until a record of len bytes given to c now reaches the peer: half the RTT
 * plus draining what waits before it (our output and the kernel's unsent bytes). */
static double
conn_arrival_us(const tcpls_session_t *s, const conn_t *c, size_t len)
{
    /* the kernel's queue: as last measured plus what we wrote since, drained at the delivery
     * rate meanwhile (metrics come every few tens of ms; between them the estimate must still
     * see what this side just queued) */
    double notsent = (double)c->notsent;
    if (s->now_ns > c->metrics_ns && c->metrics_ns != 0)
        notsent -= (double)(s->now_ns - c->metrics_ns) / 1e9 * (double)c->rate_bps / 8;
    if (notsent < 0)
        notsent = 0;
    return c->srtt_us / 2.0 + ((double)(c->out.len + len) + notsent) * 8e6 / (double)c->rate_bps;
}

/* Scheduling: how many stream bytes may connection c carry in its next record (0: none; control
 * frames always go)? Connections are ranked: migrated away from (2) < backup (1) < normal (0);
 * only the best rank present carries data. Among those, "rr" keeps the record counts equal,
 * "minrtt" sends only on the lowest smoothed RTT, and "default" prefers lower RTTs but overflows
 * to the next connection while the faster ones have output waiting (their socket is full). With
 * delivery rates known, "default" also bounds what a slower path gets (ECF/BLEST style): its
 * record must arrive no later than a faster path would deliver the same bytes after its own
 * queue, plus a slack of what the rest of the backlog keeps the faster path busy with
 * (sched_slack_us). A slow path thus never makes the receiver wait for it. */
/* With rates known: would a full record reach the peer sooner over x than over c? */
static int
earlier(const tcpls_session_t *s, const conn_t *x, const conn_t *c)
{
    double tx = conn_arrival_us(s, x, TCPLS_MAX_PLAINTEXT), tc = conn_arrival_us(s, c, TCPLS_MAX_PLAINTEXT);
    return tx < tc || (tx == tc && x->id < c->id);
}

#define SCHED_SLACK_MIN_US 20000.0
#define SCHED_SLACK_MAX_US 250000.0
#define SCHED_MIN_CHUNK    1024
#define SCHED_PROBE        8192
#define REINJECT_MAX       (64 * 1024) /* stream bytes reinjected per idle moment */

/* Stream bytes queued and never sent (new data and resend ranges), over the first streams of
 * the send queue (enough for a scheduling estimate). */
static size_t
sendq_unsent(const tcpls_session_t *s)
{
    size_t n = 0, k = 0;
    for (const tcpls_stream_t *st = s->sendq_head; st != NULL && k < 32; st = st->sendq_next, k++) {
        uint64_t end = st->send_base + st->slen;
        if (end > st->send_next)
            n += (size_t)(end - st->send_next);
        for (size_t i = 0; i < st->nresend; i++)
            if (st->resend[i].end > st->resend[i].off)
                n += (size_t)(st->resend[i].end - st->resend[i].off);
    }
    return n;
}

/* How long (us) the fast path x may be kept busy by what waits to be sent, i.e. how much later
 * than x a slower path may deliver without the receiver waiting for it (ECF): the unsent
 * backlog's drain time on x, at least SCHED_SLACK_MIN_US, and at most a quarter of the stream
 * send buffer's drain time (a record on the slow path pins the buffer until acknowledged; the
 * fast path must not run out of buffer meanwhile) and SCHED_SLACK_MAX_US (latency). */
static double
sched_slack_us(const tcpls_session_t *s, const conn_t *x)
{
    double backlog = (double)sendq_unsent(s) * 8e6 / (double)x->rate_bps;
    double cap = (double)s->ctx->stream_send_buffer / 4 * 8e6 / (double)x->rate_bps;
    if (cap > SCHED_SLACK_MAX_US)
        cap = SCHED_SLACK_MAX_US;
    if (backlog > cap)
        backlog = cap;
    return backlog > SCHED_SLACK_MIN_US ? backlog : SCHED_SLACK_MIN_US;
}
static size_t
conn_data_budget(tcpls_session_t *s, conn_t *c)
{
    int best = 3;
    size_t budget = SIZE_MAX;
    if (c->state != 1)
        return 0;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->state == 1 && conn_rank(s->conns[i]) < best)
            best = conn_rank(s->conns[i]);
    if (conn_rank(c) != best)
        return 0;
    for (size_t i = 0; i < s->nconns; i++) {
        conn_t *x = s->conns[i];
        if (x == c || x->state != 1 || conn_rank(x) != best)
            continue;
        switch (s->sched) {
        case TSCHED_RR:
            if (x->data_records < c->data_records)
                return 0;
            break;
        case TSCHED_MINRTT:
            if (faster(x, c))
                return 0;
            break;
        default:
            if (c->rate_bps > 0 && x->rate_bps == 0)
                break; /* a path not measured yet never holds a measured one back */
            if (c->rate_bps == 0 && x->rate_bps > 0) {
                /* c not measured yet (fresh join): one probe record at a time, so a slow
                 * path cannot take a queue of seconds before its rate is known */
                if (c->ring_len > 0 || c->out.len > 0)
                    return 0;
                if (budget > SCHED_PROBE)
                    budget = SCHED_PROBE;
                break;
            }
            if (x->rate_bps > 0 && c->rate_bps > 0 ? !earlier(s, x, c) : !faster(x, c))
                break;
            if (x->out.len < MP_OUT_TARGET / 4)
                return 0;
            if (x->rate_bps > 0 && c->rate_bps > 0) {
                /* backlog the faster path would still be busy with after this record */
                double deadline = conn_arrival_us(s, x, 0) + sched_slack_us(s, x),
                       base = conn_arrival_us(s, c, 0);
                double room = (deadline - base) * (double)c->rate_bps / 8e6;
                if (room < SCHED_MIN_CHUNK)
                    return 0;
                if (room < (double)budget)
                    budget = (size_t)room;
            }
            break;
        }
    }
    return budget;
}

/* Opportunistic reinjection (default scheduler). Records already given to a slower connection
 * y are queued again so that c carries their frames too, and the receiver takes whichever copy
 * comes first (it drops the other), when
 *  - c may carry data but nothing new waits (the application is done, or the send buffer is
 *    full because its oldest bytes are unacknowledged on y), or
 *  - a record given to y now would arrive later than over c by more than twice the most slack
 *    the scheduler itself allows a slower path (the same estimate, conn_arrival_us): what y holds
 *    was given to it on wrong estimates, e.g. it took a queue before a faster connection
 *    joined, or its rate dropped.
 * Oldest records first (past those y has probably delivered), at most what c can deliver
 * before y would deliver a new record and REINJECT_MAX bytes per call, each record at most once.
 * Returns 1 when something was queued. */
static int
reinject(tcpls_session_t *s, conn_t *c)
{
    conn_t *y = NULL;
    uint64_t y_off = UINT64_MAX;
    int idle = s->sendq_head == NULL;

    if (s->sched != TSCHED_DEFAULT)
        return 0;
    for (size_t i = 0; i < s->nconns; i++) {
        conn_t *x = s->conns[i];
        if (x == c || x->state != 1 || x->ring_len == 0 || conn_rank(x) < conn_rank(c))
            continue;
        if (idle) {
            /* c would deliver sooner, by a margin (no duplicates between alike paths) */
            if (x->rate_bps > 0 && c->rate_bps > 0
                    ? conn_arrival_us(s, x, 0) <= conn_arrival_us(s, c, 0) + SCHED_SLACK_MIN_US
                    : x->srtt_us <= c->srtt_us + 2 * SCHED_SLACK_MIN_US)
                continue;
        } else {
            if (x->rate_bps == 0 || c->srtt_us == 0)
                continue;
            double tc = c->rate_bps > 0 ? conn_arrival_us(s, c, 0) : c->srtt_us / 2.0;
            if (conn_arrival_us(s, x, 0) <= tc + 2 * SCHED_SLACK_MAX_US)
                continue;
        }
        const sent_record_t *r = NULL;
        for (size_t k = 0; k < x->ring_len && r == NULL; k++)
            if (!x->ring[(x->ring_head + k) % x->ring_cap].reinjected)
                r = &x->ring[(x->ring_head + k) % x->ring_cap];
        if (r != NULL && r->off < y_off) {
            y = x;
            y_off = r->off;
        }
    }
    if (y == NULL)
        return 0;
    /* How much: what c can deliver before y would deliver a record queued now, and not the
     * oldest records y has probably delivered already (acknowledgment on its way: about half
     * an RTT of its rate). */
    double room = REINJECT_MAX / 4, skip = 0;
    if (y->rate_bps > 0 && c->rate_bps > 0) {
        room = (conn_arrival_us(s, y, 0) - conn_arrival_us(s, c, 0)) * (double)c->rate_bps / 8e6;
        skip = (double)y->srtt_us / 2 * (double)y->rate_bps / 8e6;
    }
    if (room > REINJECT_MAX)
        room = REINJECT_MAX;
    size_t done = 0, seen = 0;
    for (size_t k = 0; k < y->ring_len && (double)done < room; k++) {
        sent_record_t *r = &y->ring[(y->ring_head + k) % y->ring_cap];
        tcpls_stream_t *st;
        seen += r->len;
        if (r->reinjected || (double)seen <= skip)
            continue;
        r->reinjected = 1;
        if ((st = stream_find(s, r->stream_id)) == NULL)
            continue;
        tcpls__stream_requeue(st, r->off, r->len, r->fin);
        sendq_push(s, st);
        done += r->len + 1;
        s->reinjected_bytes += r->len;
    }
    return done > 0;
}

/* Writes the control frames waiting to be sent (besides ACKs) into buf for a record of
 * connection c, and marks them in flight there. Returns the bytes written. */
static size_t
control_frames(tcpls_session_t *s, conn_t *c, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    tcpls_frame_t f;

#define ROOM (n + 2 * TCPLS_MAX_FRAME_OVERHEAD + TCPLS_TOKEN_LEN <= cap)
    /* Connection Priority of connection X travels on X: it then follows X's join handshake */
    if (c->prio.state == CTL_PENDING && ROOM) {
        f = (tcpls_frame_t){.type = TCPLS_FRAME_CONN_PRIORITY};
        f.u.conn_priority.conn_id = c->id;
        f.u.conn_priority.backup = (uint8_t)c->backup;
        n += tcpls__frame_encode(buf + n, cap - n, &f);
        ctl_sent(&c->prio, c);
    }
    for (size_t i = 0; i < s->nresets && ROOM; i++) {
        if (s->resets[i].ctl.state != CTL_PENDING)
            continue;
        f = (tcpls_frame_t){.type = TCPLS_FRAME_CONN_RESET};
        f.u.conn_reset.conn_id = s->resets[i].conn_id;
        n += tcpls__frame_encode(buf + n, cap - n, &f);
        ctl_sent(&s->resets[i].ctl, c);
    }
    for (size_t i = 0; i < s->n_my_addrs && ROOM; i++) {
        const tcpls_addr_t *a = &s->my_addrs[i];
        if (s->my_addr_rm[i].state == CTL_PENDING) {
            f = (tcpls_frame_t){.type = TCPLS_FRAME_REMOVE_ADDRESS};
            f.u.remove_address.addr_id = a->id;
            ctl_sent(&s->my_addr_rm[i], c);
            s->my_addr_add[i].state = CTL_DONE; /* never advertised again */
        } else if (s->my_addr_add[i].state == CTL_PENDING) {
            f = (tcpls_frame_t){.type = TCPLS_FRAME_NEW_ADDRESS};
            f.u.new_address.addr_id = a->id;
            f.u.new_address.version = a->version;
            memcpy(f.u.new_address.addr, a->addr, 16);
            f.u.new_address.port = a->port;
            ctl_sent(&s->my_addr_add[i], c);
        } else {
            continue;
        }
        n += tcpls__frame_encode(buf + n, cap - n, &f);
    }
    for (size_t i = 0; i < s->ntokens && s->is_server && ROOM; i++) {
        if (s->tokens[i].ctl.state != CTL_PENDING)
            continue;
        f = (tcpls_frame_t){.type = TCPLS_FRAME_NEW_TOKEN};
        f.u.new_token.seq = s->tokens[i].seq;
        memcpy(f.u.new_token.token, s->tokens[i].value, TCPLS_TOKEN_LEN);
        n += tcpls__frame_encode(buf + n, cap - n, &f);
        ctl_sent(&s->tokens[i].ctl, c);
    }
#undef ROOM
    return n;
}

/* Builds records for connection c until its output target waits or nothing is left. */
static int
fill_output(tcpls_session_t *s, conn_t *c)
{
    size_t target = live_conns(s, 0) > 1 ? MP_OUT_TARGET : OUT_TARGET;
    int r;

    /* Server: keep `tokens` tokens or connections available to the client (replenishing). */
    if (s->is_server) {
        size_t live = live_conns(s, 1);
        while (s->ntokens + s->joins_in_progress + (live > 0 ? live - 1 : 0) < s->ctx->tokens &&
               issue_token(s) != NULL)
            ;
    }
    while (c->out.len < target && !s->closed) {
        uint8_t trailer[TCPLS_STREAM_TRAILER_LEN], ctl[512];
        tcpls_iov_t iov[4];
        size_t niov = 0, ctllen = 0;
        tcpls_stream_t *st;

        /* A connection carries its own ACKs: a path that dies then takes only its own
         * acknowledgments with it (the peer's stall detection stays per path). */
        for (size_t i = 0; i < s->nconns; i++) {
            conn_t *ac = s->conns[i];
            if (ac != c)
                continue;
            if (ac->ack_due && ac->recv_seq > 0 && ac->state == 1) {
                tcpls_frame_t f = {.type = TCPLS_FRAME_ACK};
                f.u.ack.conn_id = ac->id;
                f.u.ack.seq = ac->recv_seq - 1;
                ctllen += tcpls__frame_encode(ctl + ctllen, sizeof(ctl) - ctllen, &f);
                ac->rx_eliciting = 0;
            }
            ac->ack_due = 0;
        }
        ctllen += control_frames(s, c, ctl + ctllen, sizeof(ctl) - ctllen);
        size_t budget = conn_data_budget(s, c);
        if (budget > 0 && live_conns(s, 0) > 1 &&
            (s->sendq_head == NULL || c->ring_len == 0 || (c->records_sent & 15) == 0))
            reinject(s, c);
        if (budget > 0 && (st = sendq_pop(s)) != NULL) {
            sent_record_t rec = {.seq = c->send_seq, .stream_id = st->id};
            size_t max = TCPLS_MAX_PLAINTEXT - TCPLS_STREAM_TRAILER_LEN - ctllen, n;
            if (max > budget)
                max = budget;
            int fin, k;
            k = tcpls__stream_next_chunk(st, max, &rec.off, &n, &fin, iov);
            niov = n > 0 ? (size_t)k : 0;
            rec.len = (uint16_t)n;
            rec.fin = (uint8_t)fin;
            tcpls__frame_stream_trailer(trailer, st->id, rec.off, rec.len, fin);
            iov[niov].base = trailer;
            iov[niov++].len = sizeof(trailer);
            if (c->ring_len == 0)
                c->stalled_since = s->now_ns ? s->now_ns : 1;
            if ((r = ring_push(c, &rec)) != 0)
                return r;
            c->data_records++;
            c->stream_bytes_sent += n;
            sendq_push(s, st);
        }
        if (ctllen > 0) {
            iov[niov].base = ctl;
            iov[niov++].len = ctllen;
        }
        if (niov == 0)
            break;
        if ((r = seal_into(s, c, TCPLS_CONTENT_APPDATA, iov, niov)) != 0)
            return r;
    }
    /* close_notify only once every stream byte was acknowledged: the peer may end the session
     * when it sees it, and data still in flight on another connection would be lost. */
    if (s->close_requested && !s->close_sent && s->sendq_head == NULL && !s->closed && all_acked(s)) {
        static const uint8_t close_notify[2] = {1, 0};
        tcpls_iov_t iov = {close_notify, 2};
        if ((r = seal_into(s, c, TCPLS_CONTENT_ALERT, &iov, 1)) != 0)
            return r;
        s->close_sent = 1;
        if (s->close_received)
            session_end(s, 0);
    }
    return 0;
}

int
tcpls_conn_output(tcpls_session_t *s, uint32_t conn_id, const uint8_t **data, size_t *len)
{
    conn_t *c;
    int r;

    *data = NULL;
    *len = 0;
    if (s == NULL)
        return TCPLS_ERR_ARG;
    if (s->mode == MODE_JOINED) {
        tcpls_session_t *t = registry_find(s->ctx, s->join_serial);
        return t != NULL ? tcpls_conn_output(t, s->join_conn_id, data, len) : 0;
    }
    if ((c = conn_find(s, conn_id)) == NULL)
        return TCPLS_ERR_NO_CONN;
    if (s->mode == MODE_TCPLS && c->state == 1 && (r = fill_output(s, c)) != 0)
        session_end(s, r);
    else if (s->mode == MODE_PLAIN)
        drain_wbio(s, c);
    *data = c->out.len > 0 ? c->out.base + c->out.off : NULL;
    *len = c->out.len;
    return 0;
}

void
tcpls_conn_output_consumed(tcpls_session_t *s, uint32_t conn_id, size_t n)
{
    conn_t *c;
    if (s != NULL && s->mode == MODE_JOINED) {
        tcpls_session_t *t = registry_find(s->ctx, s->join_serial);
        if (t != NULL)
            tcpls_conn_output_consumed(t, s->join_conn_id, n);
        return;
    }
    if (s == NULL || (c = conn_find(s, conn_id)) == NULL)
        return;
    if (n > c->out.len)
        n = c->out.len;
    buf_consume(&c->out, n);
    c->bytes_sent += n;
    c->notsent += n; /* in the kernel's queue now, until the next metrics say otherwise */
    if (s->mode == MODE_PLAIN && c->out.len < OUT_TARGET / 2)
        notify_writable(s);
}

int
tcpls_session_close(tcpls_session_t *s)
{
    if (s == NULL)
        return TCPLS_ERR_ARG;
    if (s->closed)
        return 0;
    if (s->mode == MODE_PLAIN) {
        if (!s->close_sent) {
            SSL_shutdown(s->ssl);
            s->close_sent = 1;
            drain_wbio(s, s->conns[0]);
        }
        if (s->close_received)
            session_end(s, 0);
        return 0;
    }
    if (s->mode != MODE_TCPLS)
        return TCPLS_ERR_STATE;
    s->close_requested = 1;
    return 0;
}

/* ---- streams --------------------------------------------------------------------------------- */

int
tcpls_stream_open(tcpls_session_t *s, uint32_t *stream_id)
{
    tcpls_stream_t *st;

    if (s == NULL || stream_id == NULL)
        return TCPLS_ERR_ARG;
    if (s->closed || s->close_requested)
        return TCPLS_ERR_CLOSED;
    if (s->mode == MODE_PLAIN) {
        if (stream_find(s, 0) != NULL || s->is_server)
            return TCPLS_ERR_STREAM_LIMIT;
        if (stream_add(s, 0) == NULL)
            return TCPLS_ERR_NOMEM;
        *stream_id = 0;
        return 0;
    }
    if (s->mode != MODE_TCPLS)
        return TCPLS_ERR_STATE;
    if (s->nstreams >= s->ctx->max_streams)
        return TCPLS_ERR_STREAM_LIMIT;
    if ((st = stream_add(s, s->next_stream_id)) == NULL)
        return TCPLS_ERR_NOMEM;
    *stream_id = st->id;
    s->next_stream_id += 2;
    return 0;
}

static size_t
stream_space(tcpls_session_t *s, tcpls_stream_t *st)
{
    size_t lim = s->ctx->stream_send_buffer, room;
    if (st->slen >= lim || s->send_buffered >= s->ctx->session_send_buffer)
        return 0;
    room = lim - st->slen;
    if (room > s->ctx->session_send_buffer - s->send_buffered)
        room = s->ctx->session_send_buffer - s->send_buffered;
    return room;
}

size_t
tcpls_stream_send_space(tcpls_session_t *s, uint32_t stream_id)
{
    tcpls_stream_t *st;
    if (s == NULL || s->closed || (st = stream_find(s, stream_id)) == NULL || st->fin_queued)
        return 0;
    if (s->mode == MODE_PLAIN)
        return s->conns[0]->out.len + BIO_ctrl_pending(s->wbio) < OUT_TARGET ? OUT_TARGET : 0;
    return stream_space(s, st);
}

int
tcpls_stream_write(tcpls_session_t *s, uint32_t stream_id, const void *data, size_t len, int fin,
                   size_t *accepted)
{
    tcpls_stream_t *st;
    size_t taken = 0;

    if (accepted)
        *accepted = 0;
    if (s == NULL || (data == NULL && len > 0))
        return TCPLS_ERR_ARG;
    if (s->closed || s->close_sent)
        return TCPLS_ERR_CLOSED;
    if ((st = stream_find(s, stream_id)) == NULL || st->fin_queued)
        return TCPLS_ERR_NO_STREAM;
    if (s->mode == MODE_PLAIN) {
        conn_t *c = s->conns[0];
        while (taken < len && c->out.len + BIO_ctrl_pending(s->wbio) < OUT_TARGET) {
            size_t n = len - taken > 65536 ? 65536 : len - taken;
            int w = SSL_write(s->ssl, (const uint8_t *)data + taken, (int)n);
            if (w <= 0) {
                ERR_clear_error();
                session_end(s, TCPLS_ERR_CRYPTO);
                return TCPLS_ERR_CRYPTO;
            }
            taken += (size_t)w;
            drain_wbio(s, c);
        }
        if (taken == len && fin)
            st->fin_queued = 1;
    } else if (s->mode == MODE_TCPLS) {
        taken = tcpls__stream_append(st, data, len, st->slen + stream_space(s, st));
        s->send_buffered += taken;
        if (taken == len && fin)
            st->fin_queued = 1;
        sendq_push(s, st);
    } else {
        return TCPLS_ERR_STATE;
    }
    if (taken < len) {
        st->blocked = 1;
        s->any_blocked = 1;
    }
    if (accepted)
        *accepted = taken;
    if (st->fin_queued && s->mode == MODE_TCPLS)
        stream_maybe_finish(s, st);
    else if (st->fin_queued && st->fin_delivered && !st->closed_reported) {
        st->closed_reported = 1;
        if (s->ops.stream_closed)
            s->ops.stream_closed(s, st->id, s->user_data);
    }
    return 0;
}

int
tcpls_stream_set_user_data(tcpls_session_t *s, uint32_t stream_id, void *p)
{
    tcpls_stream_t *st = s ? stream_find(s, stream_id) : NULL;
    if (st == NULL)
        return TCPLS_ERR_NO_STREAM;
    st->user_data = p;
    return 0;
}

void *
tcpls_stream_get_user_data(tcpls_session_t *s, uint32_t stream_id)
{
    tcpls_stream_t *st = s ? stream_find(s, stream_id) : NULL;
    return st ? st->user_data : NULL;
}

/* ---- connections ----------------------------------------------------------------------------- */

size_t
tcpls_conn_count(tcpls_session_t *s)
{
    return s ? s->nconns : 0;
}

int
tcpls_conn_info(tcpls_session_t *s, size_t index, tcpls_conn_info_t *info)
{
    conn_t *c;
    if (s == NULL || info == NULL || index >= s->nconns)
        return TCPLS_ERR_NO_CONN;
    c = s->conns[index];
    memset(info, 0, sizeof(*info));
    info->id = c->id;
    info->state = c->state;
    info->bytes_sent = c->bytes_sent;
    info->bytes_received = c->bytes_received;
    info->records_sent = c->records_sent;
    info->records_acked = c->acked_upto;
    info->records_received = c->records_received;
    info->unacked_records = c->ring_len;
    info->stream_bytes_sent = c->stream_bytes_sent;
    info->stream_bytes_received = c->stream_bytes_received;
    info->backup = c->backup;
    info->migrated = c->migrated;
    info->error = c->error;
    info->srtt_us = c->srtt_us;
    return 0;
}

/* ---- multipath API --------------------------------------------------------------------------- */

int
tcpls_join(tcpls_session_t *s, int backup, uint32_t *conn_id)
{
    conn_t *c;
    BIO *rb = NULL, *wb = NULL;
    size_t best = 0;

    if (s == NULL || conn_id == NULL)
        return TCPLS_ERR_ARG;
    if (s->is_server || s->mode != MODE_TCPLS || s->closed || s->close_requested)
        return TCPLS_ERR_STATE;
    if (s->ntokens == 0)
        return TCPLS_ERR_NO_TOKEN;
    for (size_t i = 1; i < s->ntokens; i++)
        if (s->tokens[i].seq < s->tokens[best].seq)
            best = i;
    if (conn_find(s, s->tokens[best].seq) != NULL) {
        s->tokens[best] = s->tokens[--s->ntokens]; /* cannot happen with a sane server */
        return TCPLS_ERR_NO_TOKEN;
    }
    if ((c = conn_new(s, s->tokens[best].seq)) == NULL)
        return TCPLS_ERR_NOMEM;
    memcpy(c->join_ext, s->tokens[best].value, TCPLS_TOKEN_LEN);
    c->backup = backup != 0;
    /* the server learns the backup flag from a Connection Priority frame once joined */
    if (c->backup && s->peer_prio)
        c->prio.state = CTL_PENDING;
    s->tokens[best] = s->tokens[--s->ntokens];
    if ((c->ssl = SSL_new(s->ctx->ssl_ctx)) == NULL || (rb = BIO_new(BIO_s_mem())) == NULL ||
        (wb = BIO_new(BIO_s_mem())) == NULL) {
        BIO_free(rb);
        ERR_clear_error();
        c->state = 2;
        c->error = TCPLS_ERR_NOMEM;
        return TCPLS_ERR_NOMEM;
    }
    SSL_set_bio(c->ssl, rb, wb);
    SSL_set_app_data(c->ssl, s);
    SSL_set_connect_state(c->ssl);
    /* the same server name and verification as connection 0 */
    SSL_set1_param(c->ssl, SSL_get0_param(s->ssl));
    const char *sni = SSL_get_servername(s->ssl, TLSEXT_NAMETYPE_host_name);
    if (sni != NULL)
        SSL_set_tlsext_host_name(c->ssl, sni);
    if (SSL_do_handshake(c->ssl) <= 0 && SSL_get_error(c->ssl, -1) != SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        conn_fail(s, c, TCPLS_ERR_HANDSHAKE, 0);
        return TCPLS_ERR_HANDSHAKE;
    }
    ERR_clear_error();
    drain_wbio(s, c);
    *conn_id = c->id;
    return 0;
}

int
tcpls_session_joined(tcpls_session_t *s, tcpls_session_t **target, uint32_t *conn_id)
{
    tcpls_session_t *t;
    if (s == NULL || s->mode != MODE_JOINED || (t = registry_find(s->ctx, s->join_serial)) == NULL)
        return 0;
    if (target)
        *target = t;
    if (conn_id)
        *conn_id = s->join_conn_id;
    return 1;
}

int
tcpls_conn_failed(tcpls_session_t *s, uint32_t conn_id, int err)
{
    conn_t *c;
    if (s == NULL)
        return TCPLS_ERR_ARG;
    if (s->mode == MODE_JOINED) {
        tcpls_session_t *t = registry_find(s->ctx, s->join_serial);
        return t != NULL ? tcpls_conn_failed(t, s->join_conn_id, err) : 0;
    }
    if ((c = conn_find(s, conn_id)) == NULL)
        return TCPLS_ERR_NO_CONN;
    if (s->mode != MODE_TCPLS || (live_conns(s, 1) <= 1 && c->state != 2 && !may_rejoin(s))) {
        /* single connection: the session ends as before */
        if (c->state != 2)
            session_end(s, err ? err : TCPLS_ERR_TRUNCATED);
        return s->error;
    }
    return conn_fail(s, c, err, 1);
}

int
tcpls_conn_set_backup(tcpls_session_t *s, uint32_t conn_id, int backup)
{
    conn_t *c = s ? conn_find(s, conn_id) : NULL;
    if (c == NULL)
        return TCPLS_ERR_NO_CONN;
    if (c->backup != (backup != 0) && s->mode == MODE_TCPLS && c->state == 1)
        if (s->peer_prio)
            c->prio.state = CTL_PENDING;
    c->backup = backup != 0;
    return 0;
}

int
tcpls_conn_migrate(tcpls_session_t *s, uint32_t from_id, uint32_t to_id)
{
    conn_t *from = s ? conn_find(s, from_id) : NULL, *to = NULL;
    if (from == NULL || (to_id != UINT32_MAX && (to = conn_find(s, to_id)) == NULL))
        return TCPLS_ERR_NO_CONN;
    from->migrated = 1;
    if (to != NULL) {
        to->backup = 0;
        to->migrated = 0;
    }
    return 0;
}

void
tcpls_conn_set_metrics(tcpls_session_t *s, uint32_t conn_id, uint32_t srtt_us, uint32_t notsent_bytes,
                       uint64_t delivery_bps)
{
    conn_t *c = s ? conn_find(s, conn_id) : NULL;
    if (c == NULL)
        return;
    c->srtt_us = srtt_us;
    c->notsent = notsent_bytes;
    c->metrics_ns = s->now_ns;
    c->rate_bps = delivery_bps;
}

uint64_t
tcpls_session_reinjected_bytes(tcpls_session_t *s)
{
    return s != NULL ? s->reinjected_bytes : 0;
}

void
tcpls_session_set_time(tcpls_session_t *s, uint64_t now_ns)
{
    if (s != NULL)
        s->now_ns = now_ns;
}

uint64_t
tcpls_conn_stalled_since(tcpls_session_t *s, uint32_t conn_id)
{
    conn_t *c = s ? conn_find(s, conn_id) : NULL;
    return c != NULL && c->state == 1 && c->ring_len > 0 ? c->stalled_since : 0;
}

size_t
tcpls_conn_live_count(tcpls_session_t *s)
{
    return s ? live_conns(s, 0) : 0;
}

int
tcpls_session_set_scheduler(tcpls_session_t *s, const char *name)
{
    if (s == NULL || !tcpls_scheduler_valid(name))
        return TCPLS_ERR_ARG;
    s->sched = sched_from_name(name);
    return 0;
}

/* ---- test and fuzzing hook ------------------------------------------------------------------ */

#ifdef TCPLS_TESTING /* test hooks: never in the library that ships (Makefile) */
void
tcpls__session_set_aead_limit(tcpls_session_t *s, uint64_t records)
{
    s->aead_limit = records;
}

int
tcpls__session_feed_frames(tcpls_session_t *s, uint32_t conn_id, const uint8_t *p, size_t len)
{
    static const uint8_t secret[32] = {7};
    conn_t *c;
    int eliciting = 0, r;

    if (s == NULL || (c = conn_find(s, conn_id)) == NULL)
        return TCPLS_ERR_NO_CONN;
    if (s->closed)
        return TCPLS_ERR_CLOSED;
    if (s->mode == MODE_HANDSHAKE) {
        if ((r = tcpls__aead_init(&s->tx, TCPLS_SUITE_AES_128_GCM_SHA256, secret, sizeof(secret), 1)) != 0 ||
            (r = tcpls__aead_init(&s->rx, TCPLS_SUITE_AES_128_GCM_SHA256, secret, sizeof(secret), 0)) != 0)
            return r;
        s->mode = MODE_TCPLS;
        s->aead_limit = UINT64_MAX - 64;
        c->state = 1;
    }
    r = handle_frames(s, c, p, len, &eliciting);
    if (r == 0 && eliciting)
        c->ack_due = 1;
    if (r == 0)
        r = fill_output(s, c);
    if (r != 0)
        session_end(s, r);
    return r;
}
#endif

int
tcpls_session_add_address(tcpls_session_t *s, const tcpls_addr_t *a)
{
    if (s == NULL || a == NULL || (a->version != 4 && a->version != 6))
        return TCPLS_ERR_ARG;
    if (s->n_my_addrs == MAX_ADDRS)
        return TCPLS_ERR_STATE;
    s->my_addrs[s->n_my_addrs] = *a;
    s->my_addr_add[s->n_my_addrs].state = CTL_PENDING;
    s->my_addr_rm[s->n_my_addrs].state = CTL_NONE;
    s->n_my_addrs++;
    return 0;
}

int
tcpls_session_remove_address(tcpls_session_t *s, uint8_t id)
{
    for (size_t i = 0; s != NULL && i < s->n_my_addrs; i++) {
        if (s->my_addrs[i].id == id) {
            if (s->my_addr_rm[i].state == CTL_NONE)
                s->my_addr_rm[i].state = CTL_PENDING;
            return 0;
        }
    }
    return TCPLS_ERR_ARG;
}

size_t
tcpls_session_peer_address_count(tcpls_session_t *s)
{
    return s ? s->n_peer_addrs : 0;
}

int
tcpls_session_peer_address(tcpls_session_t *s, size_t index, tcpls_addr_t *out)
{
    if (s == NULL || out == NULL || index >= s->n_peer_addrs)
        return TCPLS_ERR_ARG;
    *out = s->peer_addrs[index];
    return 0;
}
