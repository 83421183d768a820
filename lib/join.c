/*
 * join.c — multipath set-up: the tokens a server hands out, the server's registry of sessions
 * (where a join finds its target), joining connections on both sides, and address
 * advertisement (New Address / Remove Address frames and the add/remove address API).
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "session.h"

/* ---- tokens and the registry ------------------------------------------------------------- */

/* Client: the connection whose join handshake runs on ssl, or NULL. */
conn_t *
tcpls__join_conn_of(tcpls_session_t *s, const SSL *ssl)
{
    if (ssl == s->ssl)
        return NULL;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->ssl == ssl)
            return s->conns[i];
    return NULL;
}

/* Server: makes a new token (not sent yet). NULL when the sequence space or the table is full. */
token_t *
tcpls__token_issue(tcpls_session_t *s)
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

void
tcpls__registry_add(tcpls_session_t *s)
{
    s->serial = ++s->ctx->next_serial;
    s->reg_next = s->ctx->registry;
    s->ctx->registry = s;
    s->registered = 1;
}

void
tcpls__registry_remove(tcpls_session_t *s)
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

tcpls_session_t *
tcpls__registry_find(tcpls_ctx_t *ctx, uint64_t serial)
{
    for (tcpls_session_t *t = ctx->registry; t != NULL; t = t->reg_next)
        if (t->serial == serial)
            return t->closed || t->mode != MODE_TCPLS ? NULL : t;
    return NULL;
}

/* Server: finds the session that issued the token in (its sequence is the server's to know)
 * and reserves the token for this handshake. The ClientHello that follows a HelloRetryRequest
 * carries the same token again: it is accepted for the same handshake only. The token is
 * consumed when the handshake ends (tcpls__join_settle), completed or not: single use.
 * Returns 0, or -1 for an unknown token or one another handshake holds. */
int
tcpls__join_lookup(tcpls_session_t *s, const uint8_t *in)
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

/* Server: the ClientHello of fresh session s carries token, issued by a session whose own
 * handshake has not completed here: the client read the token in our first flight and joined
 * before its Finished on connection 0 reached us (that path is slower, or lossy). The join
 * waits for that handshake (the ClientHello is parked, tcpls__handshake_resume) instead of
 * being refused and burning the token, at most JOIN_PARK_MAX_NS. Returns 1 to wait. */
int
tcpls__join_park(tcpls_session_t *s, const uint8_t *token)
{
    int waiting = 0;
    for (tcpls_session_t *t = s->ctx->registry; t != NULL && !waiting; t = t->reg_next) {
        if (t == s || t->closed || t->mode != MODE_HANDSHAKE)
            continue;
        for (size_t i = 0; i < t->ntokens && !waiting; i++)
            waiting =
                !t->tokens[i].reserved && CRYPTO_memcmp(t->tokens[i].value, token, TCPLS_TOKEN_LEN) == 0;
    }
    if (waiting && !s->join_parked) {
        s->join_parked = 1;
        s->join_parked_since = s->now_ns;
        memcpy(s->join_token, token, TCPLS_TOKEN_LEN);
    } else if (waiting && s->now_ns - s->join_parked_since > JOIN_PARK_MAX_NS) {
        return 0; /* refused (still parked: the token is consumed when this session ends) */
    }
    if (!waiting)
        s->join_parked = 0;
    return waiting;
}

/* A join handshake ended (joined or not): its token is consumed, and the target may
 * replenish. */
void
tcpls__join_settle(tcpls_session_t *s)
{
    tcpls_session_t *t;
    if (s->join_parked) {
        /* a parked join that ends: the client spent the token (consumed here too) */
        s->join_parked = 0;
        for (t = s->ctx->registry; t != NULL; t = t->reg_next)
            for (size_t i = 0; i < t->ntokens; i++)
                if (t != s && CRYPTO_memcmp(t->tokens[i].value, s->join_token, TCPLS_TOKEN_LEN) == 0)
                    t->tokens[i--] = t->tokens[--t->ntokens];
    }
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

tcpls_session_t *
tcpls__join_target(tcpls_session_t *s)
{
    return tcpls__registry_find(s->ctx, s->join_serial);
}

/* Server: keep `tokens` tokens or connections available to the client (replenishing). */
void
tcpls__tokens_replenish(tcpls_session_t *s)
{
    size_t live = tcpls__live_conns(s, 1);
    while (s->ntokens + s->joins_in_progress + (live > 0 ? live - 1 : 0) < s->ctx->tokens &&
           tcpls__token_issue(s) != NULL)
        ;
}

/* ---- the abbreviated join: a PSK bound to the session ------------------------------------ */

/* The PSK of the join presenting token: a TLS exporter (RFC 8446 7.5) of the session's
 * connection 0 with the token as context, so that only the two ends of that session can
 * compute it; as an SSL_SESSION with connection 0's cipher suite (its hash is the PSK's). */
#define JOIN_PSK_LABEL "EXPORTER-tcpls-join-psk"
static SSL_SESSION *
join_psk_session(SSL *ssl0, const uint8_t *token)
{
    const SSL_CIPHER *cipher = ssl0 != NULL ? SSL_get_current_cipher(ssl0) : NULL;
    uint8_t psk[32];
    SSL_SESSION *ss;

    if (cipher == NULL || SSL_export_keying_material(ssl0, psk, sizeof(psk), JOIN_PSK_LABEL,
                                                     strlen(JOIN_PSK_LABEL), token, TCPLS_TOKEN_LEN, 1) != 1)
        return NULL;
    if ((ss = SSL_SESSION_new()) != NULL &&
        (SSL_SESSION_set1_master_key(ss, psk, sizeof(psk)) != 1 || SSL_SESSION_set_cipher(ss, cipher) != 1 ||
         SSL_SESSION_set_protocol_version(ss, TLS1_3_VERSION) != 1)) {
        SSL_SESSION_free(ss);
        ss = NULL;
    }
    OPENSSL_cleanse(psk, sizeof(psk));
    return ss;
}

/* Client: offers the session-bound PSK, identity = the token (none: a full handshake). */
int
tcpls__join_psk_use(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen, SSL_SESSION **sess)
{
    tcpls_session_t *s = SSL_get_app_data(ssl);
    conn_t *c = s != NULL ? tcpls__join_conn_of(s, ssl) : NULL;
    SSL_SESSION *ss;

    *sess = NULL;
    if (c == NULL || s->ctx->join_full || (ss = join_psk_session(s->ssl, c->join_ext)) == NULL)
        return 1;
    /* (by type: OpenSSL 3 hands a fetched EVP_MD here, the cipher names the legacy one) */
    const EVP_MD *mine = SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(ss));
    if (md != NULL && (mine == NULL || EVP_MD_get_type(mine) != EVP_MD_get_type(md))) {
        SSL_SESSION_free(ss);
        return 1;
    }
    *id = c->join_ext;
    *idlen = TCPLS_TOKEN_LEN;
    *sess = ss;
    return 1;
}

/* Server: a PSK identity that is a token of a live session gets that session's join PSK
 * (OpenSSL then checks the binder: a token alone is not enough). Anything else: no PSK. */
int
tcpls__join_psk_find(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess)
{
    tcpls_session_t *s = SSL_get_app_data(ssl), *t;

    *sess = NULL;
    if (s == NULL || !s->is_server || idlen != TCPLS_TOKEN_LEN || tcpls__join_lookup(s, id) != 0 ||
        (t = tcpls__registry_find(s->ctx, s->join_serial)) == NULL)
        return 1;
    *sess = join_psk_session(t->ssl, id);
    return 1;
}

/* ---- joins ----------------------------------------------------------------------------------- */

/* Server: the handshake of a fresh session was a join: its connection becomes connection
 * join_conn_id of the target session, and this session only forwards from now on. */
int
tcpls__join_complete_server(tcpls_session_t *s)
{
    tcpls_session_t *t = tcpls__registry_find(s->ctx, s->join_serial);
    conn_t *nc, *c = s->conns[0];

    tcpls__join_settle(s);
    if (t == NULL || tcpls__conn_find(t, s->join_conn_id) != NULL || !s->peer_tcpls ||
        SSL_version(s->ssl) != TLS1_3_VERSION)
        return TCPLS_ERR_TOKEN;
    /* a join must prove the session's keys (the PSK), unless full-handshake joins are allowed */
    if (!SSL_session_reused(s->ssl) && !s->ctx->join_full)
        return TCPLS_ERR_TOKEN;
    if ((nc = tcpls__conn_new(t, s->join_conn_id)) == NULL)
        return TCPLS_ERR_NOMEM;
    nc->state = TCPLS_CONN_ESTABLISHED;
    nc->psk_join = (uint8_t)SSL_session_reused(s->ssl);
    if (c->out.len > 0 && tcpls__buf_append(&nc->out, c->out.base + c->out.off, c->out.len) != 0)
        return TCPLS_ERR_NOMEM;
    tcpls__buf_consume(&c->out, c->out.len);
    t->ever_joined = 1;
    s->mode = MODE_JOINED;
    c->state = TCPLS_CONN_ESTABLISHED;
    if (s->ops.handshake_done)
        s->ops.handshake_done(s, s->user_data);
    if (t->ops.conn_state)
        t->ops.conn_state(t, nc->id, TCPLS_CONN_ESTABLISHED, 0, t->user_data);
    return 0;
}

/* Server: a PSK join (the binder proved the session's keys) need not wait a round trip for
 * the client's Finished before carrying data: once the server's flight is out (its traffic
 * secret known), the connection becomes connection join_conn_id of the target like at
 * completion, with the flight first in its output; the SSL moves to it (app data cleared: the
 * callbacks ignore it) and reads the client's Finished there. A bad Finished then fails that
 * connection only; what it carried goes out again on the others. docs/PROTOCOL.md. */
int
tcpls__join_early_server(tcpls_session_t *s)
{
    tcpls_session_t *t;
    conn_t *nc, *c = s->conns[0];
    int r;

    if (!s->is_server || !s->join_pending || s->ssl == NULL || s->secret_len[1] == 0 ||
        !SSL_session_reused(s->ssl))
        return 0;
    if ((r = tcpls__join_complete_server(s)) != 0)
        return r;
    if ((t = tcpls__join_target(s)) == NULL || (nc = tcpls__conn_find(t, s->join_conn_id)) == NULL)
        return TCPLS_ERR_TOKEN;
    if (c->in.len > 0 && tcpls__buf_append(&nc->in, c->in.base + c->in.off, c->in.len) != 0)
        return TCPLS_ERR_NOMEM;
    tcpls__buf_consume(&c->in, c->in.len);
    SSL_set_app_data(s->ssl, NULL);
    nc->ssl = s->ssl; /* with its BIOs */
    s->ssl = NULL;
    s->rbio = s->wbio = NULL;
    return 1;
}

int
tcpls__join_finished_server(conn_t *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
    return 0;
}

/* Client: a joining connection finished its handshake; records start at sequence 0. */
int
tcpls__join_complete_client(tcpls_session_t *s, conn_t *c)
{
    uint64_t min_rr = UINT64_MAX;
    tcpls__drain_wbio(s, c);
    c->psk_join = (uint8_t)SSL_session_reused(c->ssl);
    SSL_free(c->ssl);
    c->ssl = NULL;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->state == TCPLS_CONN_ESTABLISHED && s->conns[i]->data_records < min_rr)
            min_rr = s->conns[i]->data_records;
    c->data_records = min_rr == UINT64_MAX ? 0 : min_rr;
    c->state = TCPLS_CONN_ESTABLISHED;
    s->ever_joined = 1;
    if (s->ops.conn_state)
        s->ops.conn_state(s, c->id, TCPLS_CONN_ESTABLISHED, 0, s->user_data);
    return 0;
}

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
    /* connections of failed joins whose token came back: their ids may be used again */
    for (size_t i = 0; i < s->nconns;) {
        if (s->conns[i]->recycled) {
            tcpls__conn_free(s->conns[i]);
            s->conns[i] = s->conns[--s->nconns];
        } else {
            i++;
        }
    }
    for (size_t i = 1; i < s->ntokens; i++)
        if (s->tokens[i].seq < s->tokens[best].seq)
            best = i;
    if (tcpls__conn_find(s, s->tokens[best].seq) != NULL) {
        s->tokens[best] = s->tokens[--s->ntokens]; /* cannot happen with a sane server */
        return TCPLS_ERR_NO_TOKEN;
    }
    if ((c = tcpls__conn_new(s, s->tokens[best].seq)) == NULL)
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
        c->state = TCPLS_CONN_CLOSED;
        c->error = TCPLS_ERR_NOMEM;
        return TCPLS_ERR_NOMEM;
    }
    SSL_set_bio(c->ssl, rb, wb);
    SSL_set_app_data(c->ssl, s);
    SSL_set_connect_state(c->ssl);
    if (!s->ctx->join_full) {
        /* the abbreviated join: the session-bound PSK, whose hash is connection 0's suite's,
         * so that is the only suite offered */
        const SSL_CIPHER *cipher = SSL_get_current_cipher(s->ssl);
        SSL_set_psk_use_session_callback(c->ssl, tcpls__join_psk_use);
        if (cipher != NULL)
            SSL_set_ciphersuites(c->ssl, SSL_CIPHER_get_name(cipher));
    }
    /* the same server name and verification as connection 0 */
    SSL_set1_param(c->ssl, SSL_get0_param(s->ssl));
    const char *sni = SSL_get_servername(s->ssl, TLSEXT_NAMETYPE_host_name);
    if (sni != NULL)
        SSL_set_tlsext_host_name(c->ssl, sni);
    if (SSL_do_handshake(c->ssl) <= 0 && SSL_get_error(c->ssl, -1) != SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        tcpls__conn_fail(s, c, TCPLS_ERR_HANDSHAKE, 0);
        return TCPLS_ERR_HANDSHAKE;
    }
    ERR_clear_error();
    tcpls__drain_wbio(s, c);
    *conn_id = c->id;
    return 0;
}

int
tcpls_session_joined(tcpls_session_t *s, tcpls_session_t **target, uint32_t *conn_id)
{
    tcpls_session_t *t;
    if (s == NULL || s->mode != MODE_JOINED || (t = tcpls__registry_find(s->ctx, s->join_serial)) == NULL)
        return 0;
    if (target)
        *target = t;
    if (conn_id)
        *conn_id = s->join_conn_id;
    return 1;
}

size_t
tcpls_session_token_count(tcpls_session_t *s)
{
    return s ? s->ntokens : 0;
}

/* ---- addresses ------------------------------------------------------------------------------- */

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

/* ---- frames ---------------------------------------------------------------------------------- */

static void
peer_address_add(tcpls_session_t *s, const tcpls_frame_t *f)
{
    size_t i;
    for (i = 0; i < s->n_peer_addrs && s->peer_addrs[i].id != f->u.new_address.addr_id; i++)
        ;
    if (i < s->n_peer_addrs || i == MAX_ADDRS)
        return; /* a known id keeps its first content, a removed one stays removed; and more
                 * than we track are ignored */
    s->n_peer_addrs++;
    s->peer_addrs[i].id = f->u.new_address.addr_id;
    s->peer_addrs[i].version = f->u.new_address.version;
    memcpy(s->peer_addrs[i].addr, f->u.new_address.addr, 16);
    s->peer_addrs[i].port = f->u.new_address.port;
    s->peer_addrs[i].removed = 0;
}

int
tcpls__join_frame_input(tcpls_session_t *s, const tcpls_frame_t *f)
{
    switch (f->type) {
    case TCPLS_FRAME_NEW_TOKEN:
        if (s->is_server)
            return TCPLS_ERR_PROTOCOL;
        if (s->ntokens < MAX_TOKENS) {
            s->tokens[s->ntokens].seq = f->u.new_token.seq;
            memcpy(s->tokens[s->ntokens].value, f->u.new_token.token, TCPLS_TOKEN_LEN);
            s->ntokens++;
        }
        break;
    case TCPLS_FRAME_NEW_ADDRESS:
        peer_address_add(s, f);
        break;
    case TCPLS_FRAME_REMOVE_ADDRESS:
        for (size_t i = 0; i < s->n_peer_addrs; i++)
            if (s->peer_addrs[i].id == f->u.remove_address.addr_id)
                s->peer_addrs[i].removed = 1;
        break;
    }
    return 0;
}

size_t
tcpls__join_frames(tcpls_session_t *s, conn_t *c, uint8_t *ctl, size_t ctllen, size_t cap)
{
    for (size_t i = 0; i < s->n_my_addrs && ctllen + 2 * TCPLS_MAX_FRAME_OVERHEAD <= cap; i++) {
        const tcpls_addr_t *a = &s->my_addrs[i];
        tcpls_frame_t f = {.type = TCPLS_FRAME_NEW_ADDRESS};
        if (s->my_addr_rm[i].state == CTL_PENDING) {
            f.type = TCPLS_FRAME_REMOVE_ADDRESS;
            f.u.remove_address.addr_id = a->id;
            tcpls__ctl_sent(&s->my_addr_rm[i], c);
            s->my_addr_add[i].state = CTL_DONE; /* never advertised again */
        } else if (s->my_addr_add[i].state == CTL_PENDING) {
            f.u.new_address.addr_id = a->id;
            f.u.new_address.version = a->version;
            memcpy(f.u.new_address.addr, a->addr, 16);
            f.u.new_address.port = a->port;
            tcpls__ctl_sent(&s->my_addr_add[i], c);
        } else {
            continue;
        }
        ctllen += tcpls__frame_encode(ctl + ctllen, cap - ctllen, &f);
    }
    for (size_t i = 0; i < s->ntokens && s->is_server && ctllen + 40 <= cap; i++) {
        tcpls_frame_t f = {.type = TCPLS_FRAME_NEW_TOKEN};
        if (s->tokens[i].ctl.state != CTL_PENDING)
            continue;
        f.u.new_token.seq = s->tokens[i].seq;
        memcpy(f.u.new_token.token, s->tokens[i].value, TCPLS_TOKEN_LEN);
        ctllen += tcpls__frame_encode(ctl + ctllen, cap - ctllen, &f);
        tcpls__ctl_sent(&s->tokens[i].ctl, c);
    }
    return ctllen;
}
