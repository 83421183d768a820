/*
 * session.c — TCPLS sessions: their lifecycle, libtcpls's own record layer after the handshake
 * (records in: lib/record.c protection, frames of lib/frame.c, acknowledgments, close_notify;
 * records out: control frames, stream records, close), streams (lib/stream.c) and connection
 * failure. The handshake and plain TLS are in handshake.c, joins and addresses in join.c, the
 * schedulers in sched.c.
 *
 * The core does no I/O: bytes come in with tcpls_receive() and go out through
 * tcpls_conn_output(), for each connection of the session.
 */
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "session.h"

/* ---- small helpers ---------------------------------------------------------------------- */

tcpls_stream_t *
tcpls__stream_add(tcpls_session_t *s, uint32_t id)
{
    tcpls_stream_t *st = tcpls__stream_new(id);
    if (st == NULL)
        return NULL;
    st->hash_next = s->buckets[id % STREAM_BUCKETS];
    s->buckets[id % STREAM_BUCKETS] = st;
    s->nstreams++;
    return st;
}

/* Takes st (queued) out of the send queue. */
static void
sendq_unlink(tcpls_session_t *s, tcpls_stream_t *st)
{
    tcpls_stream_t *prev = NULL;
    for (tcpls_stream_t *x = s->sendq_head; x != st; x = x->sendq_next)
        prev = x;
    if (prev != NULL)
        prev->sendq_next = st->sendq_next;
    else
        s->sendq_head = st->sendq_next;
    if (s->sendq_tail == st)
        s->sendq_tail = prev;
    st->in_sendq = 0;
    st->sendq_next = NULL;
}

static void
stream_remove(tcpls_session_t *s, tcpls_stream_t *st)
{
    tcpls_stream_t **pp = &s->buckets[st->id % STREAM_BUCKETS];
    while (*pp != st)
        pp = &(*pp)->hash_next;
    *pp = st->hash_next;
    if (st->in_sendq)
        sendq_unlink(s, st);
    s->send_buffered -= st->slen;
    s->reorder_total -= st->reorder_mem;
    s->ctx->reorder_total -= st->reorder_mem;
    s->nstreams--;
    tcpls__stream_free(st);
}

void
tcpls__sendq_push(tcpls_session_t *s, tcpls_stream_t *st)
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

void
tcpls__session_end(tcpls_session_t *s, int err)
{
    if (s->closed)
        return;
    s->closed = 1;
    s->error = err;
    tcpls__join_settle(s);
    if (err != 0 && err != TCPLS_ERR_TRUNCATED && err != TCPLS_ERR_PEER_ALERT && s->mode == MODE_TCPLS &&
        s->nconns > 0) {
        uint8_t alert[2] = {2, alert_for(err)};
        tcpls_iov_t iov = {alert, 2};
        tcpls__seal_into(s, s->conns[0], TCPLS_CONTENT_ALERT, &iov, 1);
    }
    for (size_t i = 0; i < s->nconns; i++)
        s->conns[i]->state = TCPLS_CONN_CLOSED;
    if (s->ops.closed)
        s->ops.closed(s, err, s->user_data);
}

/* ---- session lifecycle --------------------------------------------------------------------- */

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
    s->stream_policy = ctx->stream_policy;
    if (s->is_server)
        tcpls__registry_add(s);
    if ((c = tcpls__conn_new(s, 0)) == NULL || tcpls__handshake_start(s, c, server_name) != 0)
        goto fail;
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
    tcpls__join_settle(s);
    tcpls__registry_remove(s);
    for (size_t i = 0; i < STREAM_BUCKETS; i++) {
        while (s->buckets[i] != NULL) {
            tcpls_stream_t *st = s->buckets[i];
            s->buckets[i] = st->hash_next;
            s->ctx->reorder_total -= st->reorder_mem;
            tcpls__stream_free(st);
        }
    }
    for (size_t i = 0; i < s->nconns; i++)
        tcpls__conn_free(s->conns[i]);
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

/* ---- TCPLS record layer ---------------------------------------------------------------------- */

int
tcpls__seal_into(tcpls_session_t *s, conn_t *c, uint8_t content_type, const tcpls_iov_t *parts, size_t nparts)
{
    size_t total = 0;
    int n;
    for (size_t i = 0; i < nparts; i++)
        total += parts[i].len;
    if (tcpls__buf_reserve(&c->out, TCPLS_RECORD_HEADER_LEN + total + 1 + TCPLS_RECORD_TAG_LEN) != 0)
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
        if (tcpls__stream_find(s, ids[i]) != NULL)
            s->ops.stream_writable(s, ids[i], s->user_data);
}

static int
process_ack(tcpls_session_t *s, uint32_t conn_id, uint64_t seq)
{
    conn_t *c = tcpls__conn_find(s, conn_id);
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
        if ((st = tcpls__stream_find(s, r.stream_id)) != NULL) {
            s->send_buffered -= tcpls__stream_ack(st, r.off, r.len, r.fin);
            stream_maybe_finish(s, st);
        }
    }
    if (c->ring_len == 0)
        c->stalled_since = 0;
    notify_writable(s);
    return 0;
}

void
tcpls__deliver(void *arg, tcpls_stream_t *st, const uint8_t *data, size_t len, int fin)
{
    tcpls_session_t *s = arg;
    if (s->ops.stream_data)
        s->ops.stream_data(s, st->id, data, len, fin, s->user_data);
}

static int
handle_stream_frame(tcpls_session_t *s, const tcpls_frame_t *f)
{
    uint32_t id = f->u.stream.stream_id;
    tcpls_stream_t *st = tcpls__stream_find(s, id);
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
            if (tcpls__stream_add(s, (uint32_t)nid) == NULL)
                return TCPLS_ERR_NOMEM;
            s->peer_next_stream_id = (uint32_t)(nid + 2);
            if (s->ops.stream_opened)
                s->ops.stream_opened(s, (uint32_t)nid, s->user_data);
            if (s->closed)
                return 0;
        }
        if ((st = tcpls__stream_find(s, id)) == NULL)
            return 0;
    }
    /* The reorder memory bound holds per stream, at 4 times that per session, and per context. */
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
                              limit, tcpls__deliver, s);
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
        case TCPLS_FRAME_CONN_RESET: {
            conn_t *rc = tcpls__conn_find(s, f.u.conn_reset.conn_id);
            if (rc != NULL && rc != c)
                r = tcpls__conn_fail(s, rc, TCPLS_ERR_CONN_FAILED, 0);
            r = s->closed ? 0 : r;
            break;
        }
        case TCPLS_FRAME_CONN_PRIORITY: {
            conn_t *pc = tcpls__conn_find(s, f.u.conn_priority.conn_id);
            if (pc != NULL)
                pc->backup = f.u.conn_priority.backup; /* the peer's word; not echoed */
            break;
        }
        case TCPLS_FRAME_NEW_TOKEN:
        case TCPLS_FRAME_NEW_ADDRESS:
        case TCPLS_FRAME_REMOVE_ADDRESS:
            r = tcpls__join_frame_input(s, &f);
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
                tcpls__session_end(s, 0);
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
        if (tcpls__buf_append(&c->in, data, n) != 0)
            return TCPLS_ERR_NOMEM;
        data += n;
        len -= n;
        if ((r = tcpls__record_length(c->in.base + c->in.off, c->in.len)) < 0)
            return r;
        if (r > 0) {
            size_t reclen = (size_t)r;
            if ((r = record_input(s, c, c->in.base + c->in.off, reclen)) != 0)
                return r;
            tcpls__buf_consume(&c->in, reclen);
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
        tcpls__buf_consume(&c->in, reclen);
    }
    while (len > 0 && !s->closed) {
        if ((r = tcpls__record_length(data, len)) < 0)
            return r;
        if (r == 0)
            return tcpls__buf_append(&c->in, data, len);
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
        tcpls_session_t *t = tcpls__join_target(s);
        if (t != NULL && len > 0)
            tcpls_receive(t, s->join_conn_id, data, len, now_ns); /* its errors end t, not s */
        return 0;
    }
    if (s->closed)
        return s->error ? s->error : TCPLS_ERR_CLOSED;
    if ((c = tcpls__conn_find(s, conn_id)) == NULL)
        return TCPLS_ERR_NO_CONN;
    s->now_ns = now_ns;
    if (c->state == TCPLS_CONN_CLOSED)
        return 0; /* late bytes of a connection given up */
    c->bytes_received += len;
    if (c->ssl != NULL) {
        /* a joining connection (client), or one that joined early (server: the client's
         * Finished is still to come) */
        if ((r = tcpls__handshake_input(s, c, data, len, &used)) != 0)
            return tcpls__conn_fail(s, c, r, 0);
        data += used;
        len -= used;
        if (c->ssl != NULL || c->state != TCPLS_CONN_ESTABLISHED || len == 0)
            return 0;
    } else if (s->mode == MODE_HANDSHAKE) {
        if ((r = tcpls__handshake_input(s, c, data, len, &used)) != 0)
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
            r = tcpls__plain_input(s, c, c->in.base + c->in.off, c->in.len);
            tcpls__buf_consume(&c->in, c->in.len);
            if (r != 0)
                goto exit;
        }
    }
    if (s->mode == MODE_PLAIN)
        r = tcpls__plain_input(s, c, data, len);
    else if (s->mode == MODE_TCPLS)
        r = tcpls_input(s, c, data, len);
    if ((r == TCPLS_ERR_DECRYPT || r == TCPLS_ERR_RECORD) && s->mode == MODE_TCPLS && !s->closed &&
        tcpls__live_conns(s, 0) > 1) {
        /* The byte stream of this connection is corrupt, not the session: give the
         * connection up (its records go out again on the others) and tell the peer. */
        return tcpls__conn_fail(s, c, r, 1);
    }
    if (r == 0 && c->rx_eliciting > 0)
        c->ack_due = 1; /* acknowledge once per batch of input */
exit:
    if (r != 0)
        tcpls__session_end(s, r);
    return r;
}

int
tcpls_conn_eof(tcpls_session_t *s, uint32_t conn_id)
{
    conn_t *c;
    if (s == NULL)
        return TCPLS_ERR_ARG;
    if (s->mode == MODE_JOINED) {
        tcpls_session_t *t = tcpls__join_target(s);
        return t != NULL ? tcpls_conn_eof(t, s->join_conn_id) : 0;
    }
    if ((c = tcpls__conn_find(s, conn_id)) == NULL)
        return TCPLS_ERR_NO_CONN;
    if (s->closed)
        return s->error;
    if (c->state == TCPLS_CONN_CLOSED)
        return 0;
    /* Only the peer's close_notify makes an end of stream clean: after ours alone, the peer
     * may still have been sending. */
    if (s->close_received && (s->close_sent || (s->sendq_head == NULL && tcpls__all_acked(s)))) {
        tcpls__session_end(s, 0);
        return 0;
    }
    if (s->mode == MODE_TCPLS && (s->nconns > 1 || tcpls__may_rejoin(s)))
        return tcpls__conn_fail(s, c, TCPLS_ERR_TRUNCATED, 1);
    tcpls__session_end(s, TCPLS_ERR_TRUNCATED);
    return TCPLS_ERR_TRUNCATED;
}

/* ---- output ---------------------------------------------------------------------------------- */

/* Control frames due in c's next record, written to ctl (cap bytes): c's own ACK, backup flag
 * changes, Connection Resets, addresses and tokens. Returns the bytes written. */
static size_t
control_frames(tcpls_session_t *s, conn_t *c, uint8_t *ctl, size_t cap)
{
    size_t ctllen = 0;

    /* A connection carries its own ACKs: a path that dies then takes only its own
     * acknowledgments with it (the peer's stall detection stays per path). */
    if (c->ack_due && c->recv_seq > 0 && c->state == TCPLS_CONN_ESTABLISHED) {
        tcpls_frame_t f = {.type = TCPLS_FRAME_ACK};
        f.u.ack.conn_id = c->id;
        f.u.ack.seq = c->recv_seq - 1;
        ctllen += tcpls__frame_encode(ctl + ctllen, cap - ctllen, &f);
        c->rx_eliciting = 0;
    }
    c->ack_due = 0;
    /* Connection Priority of connection X travels on X: it then follows X's join handshake */
    if (c->prio.state == CTL_PENDING && ctllen + 2 * TCPLS_MAX_FRAME_OVERHEAD <= cap) {
        tcpls_frame_t f = {.type = TCPLS_FRAME_CONN_PRIORITY};
        f.u.conn_priority.conn_id = c->id;
        f.u.conn_priority.backup = (uint8_t)c->backup;
        ctllen += tcpls__frame_encode(ctl + ctllen, cap - ctllen, &f);
        tcpls__ctl_sent(&c->prio, c);
    }
    for (size_t i = 0; i < s->nresets && ctllen + 2 * TCPLS_MAX_FRAME_OVERHEAD <= cap; i++) {
        if (s->resets[i].ctl.state != CTL_PENDING)
            continue;
        tcpls_frame_t f = {.type = TCPLS_FRAME_CONN_RESET};
        f.u.conn_reset.conn_id = s->resets[i].conn_id;
        ctllen += tcpls__frame_encode(ctl + ctllen, cap - ctllen, &f);
        tcpls__ctl_sent(&s->resets[i].ctl, c);
    }
    return tcpls__join_frames(s, c, ctl, ctllen, cap);
}

int
tcpls__control_record(tcpls_session_t *s, conn_t *c)
{
    uint8_t ctl[512];
    size_t n;
    if (s->is_server)
        tcpls__tokens_replenish(s);
    if ((n = control_frames(s, c, ctl, sizeof(ctl))) == 0)
        return 0;
    tcpls_iov_t iov = {ctl, n};
    return tcpls__seal_into(s, c, TCPLS_CONTENT_APPDATA, &iov, 1);
}

/* The stream part of c's next record: up to max bytes of the first stream waiting, and its
 * trailer, as iov entries (room for 3). The record is kept in c's ring for a resend. Returns
 * the number of iov entries used (0: no stream data waits) or a negative error. */
static int
stream_chunk(tcpls_session_t *s, conn_t *c, size_t max, uint8_t trailer[TCPLS_STREAM_TRAILER_LEN],
             tcpls_iov_t *iov)
{
    tcpls_stream_t *st = tcpls__sched_pick_stream(s, c);
    sent_record_t rec = {.seq = c->send_seq};
    size_t niov, n;
    int fin, k, r;

    if (st == NULL)
        return 0;
    sendq_unlink(s, st);
    rec.stream_id = st->id;
    k = tcpls__stream_next_chunk(st, max, &rec.off, &n, &fin, iov);
    niov = n > 0 ? (size_t)k : 0;
    rec.len = (uint16_t)n;
    rec.fin = (uint8_t)fin;
    tcpls__frame_stream_trailer(trailer, st->id, rec.off, rec.len, fin);
    iov[niov].base = trailer;
    iov[niov++].len = TCPLS_STREAM_TRAILER_LEN;
    if (c->ring_len == 0)
        c->stalled_since = s->now_ns ? s->now_ns : 1;
    if ((r = ring_push(c, &rec)) != 0)
        return r;
    c->data_records++;
    c->stream_bytes_sent += n;
    tcpls__sendq_push(s, st);
    return (int)niov;
}

/* close_notify once every stream byte was acknowledged, if the application asked for the
 * close: the peer may end the session when it sees it, and data still in flight on another
 * connection would be lost. */
static int
close_record(tcpls_session_t *s, conn_t *c)
{
    static const uint8_t close_notify[2] = {1, 0};
    tcpls_iov_t iov = {close_notify, 2};
    int r;

    if (!s->close_requested || s->close_sent || s->sendq_head != NULL || s->closed || !tcpls__all_acked(s))
        return 0;
    if ((r = tcpls__seal_into(s, c, TCPLS_CONTENT_ALERT, &iov, 1)) != 0)
        return r;
    s->close_sent = 1;
    if (s->close_received)
        tcpls__session_end(s, 0);
    return 0;
}

/* Builds records for connection c until its output target waits or nothing is left. */
static int
fill_output(tcpls_session_t *s, conn_t *c)
{
    size_t target = tcpls__live_conns(s, 0) > 1 ? MP_OUT_TARGET : OUT_TARGET;
    int r;

    if (s->is_server)
        tcpls__tokens_replenish(s);
    while (c->out.len < target && !s->closed) {
        uint8_t trailer[TCPLS_STREAM_TRAILER_LEN], ctl[512];
        tcpls_iov_t iov[4];
        size_t niov = 0, ctllen = control_frames(s, c, ctl, sizeof(ctl));
        size_t budget = tcpls__sched_data_budget(s, c);

        if (budget > 0 && tcpls__live_conns(s, 0) > 1 &&
            (s->sendq_head == NULL || c->ring_len == 0 || (c->records_sent & 15) == 0))
            tcpls__sched_reinject(s, c);
        if (budget > 0) {
            size_t max = TCPLS_MAX_PLAINTEXT - TCPLS_STREAM_TRAILER_LEN - ctllen;
            if ((r = stream_chunk(s, c, max > budget ? budget : max, trailer, iov)) < 0)
                return r;
            niov = (size_t)r;
        }
        if (ctllen > 0) {
            iov[niov].base = ctl;
            iov[niov++].len = ctllen;
        }
        if (niov == 0)
            break;
        if ((r = tcpls__seal_into(s, c, TCPLS_CONTENT_APPDATA, iov, niov)) != 0)
            return r;
    }
    return close_record(s, c);
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
        tcpls_session_t *t = tcpls__join_target(s);
        return t != NULL ? tcpls_conn_output(t, s->join_conn_id, data, len) : 0;
    }
    if ((c = tcpls__conn_find(s, conn_id)) == NULL)
        return TCPLS_ERR_NO_CONN;
    if (s->mode == MODE_TCPLS && c->state == TCPLS_CONN_ESTABLISHED && (r = fill_output(s, c)) != 0)
        tcpls__session_end(s, r);
    else if (s->mode == MODE_PLAIN)
        tcpls__drain_wbio(s, c);
    *data = c->out.len > 0 ? c->out.base + c->out.off : NULL;
    *len = c->out.len;
    return 0;
}

void
tcpls_conn_output_consumed(tcpls_session_t *s, uint32_t conn_id, size_t n)
{
    conn_t *c;
    if (s != NULL && s->mode == MODE_JOINED) {
        tcpls_session_t *t = tcpls__join_target(s);
        if (t != NULL)
            tcpls_conn_output_consumed(t, s->join_conn_id, n);
        return;
    }
    if (s == NULL || (c = tcpls__conn_find(s, conn_id)) == NULL)
        return;
    if (n > c->out.len)
        n = c->out.len;
    tcpls__buf_consume(&c->out, n);
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
        tcpls__plain_close(s);
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
        if (tcpls__stream_find(s, 0) != NULL || s->is_server)
            return TCPLS_ERR_STREAM_LIMIT;
        if (tcpls__stream_add(s, 0) == NULL)
            return TCPLS_ERR_NOMEM;
        *stream_id = 0;
        return 0;
    }
    if (s->mode != MODE_TCPLS)
        return TCPLS_ERR_STATE;
    if (s->nstreams >= s->ctx->max_streams)
        return TCPLS_ERR_STREAM_LIMIT;
    if ((st = tcpls__stream_add(s, s->next_stream_id)) == NULL)
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
    if (s == NULL || s->closed || (st = tcpls__stream_find(s, stream_id)) == NULL || st->fin_queued)
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
    if ((st = tcpls__stream_find(s, stream_id)) == NULL || st->fin_queued)
        return TCPLS_ERR_NO_STREAM;
    if (s->mode == MODE_PLAIN) {
        int r = tcpls__plain_write(s, data, len, &taken);
        if (r != 0)
            return r;
        if (taken == len && fin)
            st->fin_queued = 1;
    } else if (s->mode == MODE_TCPLS) {
        taken = tcpls__stream_append(st, data, len, st->slen + stream_space(s, st));
        s->send_buffered += taken;
        if (taken == len && fin)
            st->fin_queued = 1;
        tcpls__sendq_push(s, st);
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
    tcpls_stream_t *st = s ? tcpls__stream_find(s, stream_id) : NULL;
    if (st == NULL)
        return TCPLS_ERR_NO_STREAM;
    st->user_data = p;
    return 0;
}

void *
tcpls_stream_get_user_data(tcpls_session_t *s, uint32_t stream_id)
{
    tcpls_stream_t *st = s ? tcpls__stream_find(s, stream_id) : NULL;
    return st ? st->user_data : NULL;
}

void
tcpls_session_set_time(tcpls_session_t *s, uint64_t now_ns)
{
    int r;
    if (s == NULL)
        return;
    s->now_ns = now_ns;
    if (s->join_parked && (r = tcpls__handshake_resume(s)) != 0)
        tcpls__session_end(s, r);
}

int
tcpls_session_join_waiting(tcpls_session_t *s)
{
    return s != NULL && s->join_parked && !s->closed;
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

    if (s == NULL || (c = tcpls__conn_find(s, conn_id)) == NULL)
        return TCPLS_ERR_NO_CONN;
    if (s->closed)
        return TCPLS_ERR_CLOSED;
    if (s->mode == MODE_HANDSHAKE) {
        if ((r = tcpls__aead_init(&s->tx, TCPLS_SUITE_AES_128_GCM_SHA256, secret, sizeof(secret), 1)) != 0 ||
            (r = tcpls__aead_init(&s->rx, TCPLS_SUITE_AES_128_GCM_SHA256, secret, sizeof(secret), 0)) != 0)
            return r;
        s->mode = MODE_TCPLS;
        s->aead_limit = UINT64_MAX - 64;
        c->state = TCPLS_CONN_ESTABLISHED;
    }
    r = handle_frames(s, c, p, len, &eliciting);
    if (r == 0 && eliciting)
        c->ack_due = 1;
    if (r == 0)
        r = fill_output(s, c);
    if (r != 0)
        tcpls__session_end(s, r);
    return r;
}
#endif
