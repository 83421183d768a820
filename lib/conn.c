/*
 * conn.c — the connections of a session: creation, statistics, and what happens when one
 * fails or closes (its unacknowledged stream data goes to the others: failover), plus the
 * application's per-connection controls (backup, migration, stall detection).
 */
#include "session.h"

conn_t *
tcpls__conn_new(tcpls_session_t *s, uint32_t id)
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

void
tcpls__conn_free(conn_t *c)
{
    if (c == NULL)
        return;
    free(c->in.base);
    free(c->out.base);
    free(c->ring);
    SSL_free(c->ssl);
    free(c);
}

size_t
tcpls__live_conns(const tcpls_session_t *s, int count_joining)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->state == TCPLS_CONN_ESTABLISHED ||
            (count_joining && s->conns[i]->state == TCPLS_CONN_HANDSHAKING))
            n++;
    return n;
}

/* 1 when the client may come back on another connection after the last one failed: it did
 * join before, or it has other addresses (the client advertised them; the server was told). */
int
tcpls__may_rejoin(const tcpls_session_t *s)
{
    return s->ever_joined || (s->is_server ? s->n_peer_addrs > 0 : s->n_my_addrs > 0);
}

/* Queues a Connection Reset frame for conn_id, forgetting those already delivered. */
static void
reset_queue(tcpls_session_t *s, uint32_t conn_id)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nresets; i++) {
        conn_t *via = tcpls__conn_find(s, s->resets[i].ctl.conn);
        int delivered = s->resets[i].ctl.state == CTL_SENT && via != NULL &&
                        via->state == TCPLS_CONN_ESTABLISHED && s->resets[i].ctl.seq < via->acked_upto;
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

/* Control frames that c carried in records it never had acknowledged go out again. */
static void
ctl_requeue(tcpls_session_t *s, const conn_t *c)
{
    for (size_t i = 0; i < s->ntokens; i++)
        tcpls__ctl_lost(&s->tokens[i].ctl, c);
    for (size_t i = 0; i < s->n_my_addrs; i++) {
        tcpls__ctl_lost(&s->my_addr_add[i], c);
        tcpls__ctl_lost(&s->my_addr_rm[i], c);
    }
    for (size_t i = 0; i < s->nresets; i++)
        tcpls__ctl_lost(&s->resets[i].ctl, c);
    for (size_t i = 0; i < s->nconns; i++)
        tcpls__ctl_lost(&s->conns[i]->prio, c);
}

/* Connection c is gone (err = 0: closed in order). The frames of its unacknowledged records go
 * back to their streams to be sent on the other connections; the peer learns it through a
 * Connection Reset frame when tell_peer. Ends the session when nothing is left to carry it.
 * Returns 0 or the error that ended the session. */
int
tcpls__conn_fail(tcpls_session_t *s, conn_t *c, int err, int tell_peer)
{
    tcpls_conn_state_t was = c->state;

    if (s->closed)
        return s->error;
    if (c->state == TCPLS_CONN_CLOSED)
        return 0;
    c->state = TCPLS_CONN_CLOSED;
    c->error = err;
    while (c->ring_len > 0) {
        sent_record_t r = c->ring[c->ring_head];
        tcpls_stream_t *st;
        c->ring_head = (c->ring_head + 1) % c->ring_cap;
        c->ring_len--;
        if ((st = tcpls__stream_find(s, r.stream_id)) != NULL) {
            tcpls__stream_requeue(st, r.off, r.len, r.fin);
            tcpls__sendq_push(s, st);
        }
    }
    c->out.off = c->out.len = 0;
    c->in.off = c->in.len = 0;
    c->ack_due = 0;
    c->stalled_since = 0;
    SSL_free(c->ssl);
    c->ssl = NULL;
    ctl_requeue(s, c);
    if (tell_peer && was == TCPLS_CONN_ESTABLISHED)
        reset_queue(s, c->id);
    if (s->ops.conn_state)
        s->ops.conn_state(s, c->id, TCPLS_CONN_CLOSED, err, s->user_data);
    if (s->closed)
        return s->error;
    if (!s->is_server && was == TCPLS_CONN_HANDSHAKING && c->id != 0 && c->bytes_sent == 0 &&
        s->ntokens < MAX_TOKENS) {
        /* A join whose TCP connection never carried its ClientHello (connect failed, reset):
         * the server never saw the token, which is still good. Without this, every failed
         * connect on a broken path burnt a token the server believed the client held. */
        s->tokens[s->ntokens].seq = (uint8_t)c->id;
        memcpy(s->tokens[s->ntokens].value, c->join_ext, TCPLS_TOKEN_LEN);
        s->ntokens++;
        c->recycled = 1;
    }
    if (tcpls__live_conns(s, 1) == 0) {
        /* A multipath session outlives its last connection while the client can join again
         * (break-before-make). */
        int keep = tcpls__may_rejoin(s) && s->mode == MODE_TCPLS && !s->close_sent &&
                   (s->is_server || s->ntokens > 0);
        if (!keep) {
            tcpls__session_end(s, err ? err : TCPLS_ERR_TRUNCATED);
            return s->error;
        }
    }
    return 0;
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
    info->psk_join = c->psk_join;
    return 0;
}

/* ---- multipath API --------------------------------------------------------------------------- */

int
tcpls_conn_failed(tcpls_session_t *s, uint32_t conn_id, int err)
{
    conn_t *c;
    if (s == NULL)
        return TCPLS_ERR_ARG;
    if (s->mode == MODE_JOINED) {
        tcpls_session_t *t = tcpls__join_target(s);
        return t != NULL ? tcpls_conn_failed(t, s->join_conn_id, err) : 0;
    }
    if ((c = tcpls__conn_find(s, conn_id)) == NULL)
        return TCPLS_ERR_NO_CONN;
    if (s->mode != MODE_TCPLS ||
        (tcpls__live_conns(s, 1) <= 1 && c->state != TCPLS_CONN_CLOSED && !tcpls__may_rejoin(s))) {
        /* single connection: the session ends as before */
        if (c->state != TCPLS_CONN_CLOSED)
            tcpls__session_end(s, err ? err : TCPLS_ERR_TRUNCATED);
        return s->error;
    }
    return tcpls__conn_fail(s, c, err, 1);
}

int
tcpls_conn_set_backup(tcpls_session_t *s, uint32_t conn_id, int backup)
{
    conn_t *c = s ? tcpls__conn_find(s, conn_id) : NULL;
    if (c == NULL)
        return TCPLS_ERR_NO_CONN;
    if (c->backup != (backup != 0) && s->mode == MODE_TCPLS && c->state == TCPLS_CONN_ESTABLISHED &&
        s->peer_prio)
        c->prio.state = CTL_PENDING;
    c->backup = backup != 0;
    return 0;
}

int
tcpls_conn_migrate(tcpls_session_t *s, uint32_t from_id, uint32_t to_id)
{
    conn_t *from = s ? tcpls__conn_find(s, from_id) : NULL, *to = NULL;
    if (from == NULL || (to_id != UINT32_MAX && (to = tcpls__conn_find(s, to_id)) == NULL))
        return TCPLS_ERR_NO_CONN;
    from->migrated = 1;
    if (to != NULL) {
        to->backup = 0;
        to->migrated = 0;
    }
    return 0;
}

uint64_t
tcpls_conn_stalled_since(tcpls_session_t *s, uint32_t conn_id)
{
    conn_t *c = s ? tcpls__conn_find(s, conn_id) : NULL;
    return c != NULL && c->state == TCPLS_CONN_ESTABLISHED && c->ring_len > 0 ? c->stalled_since : 0;
}

size_t
tcpls_conn_live_count(tcpls_session_t *s)
{
    return s ? tcpls__live_conns(s, 0) : 0;
}
