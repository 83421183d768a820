/*
 * handshake.c — everything OpenSSL does: contexts (the SSL_CTX with the tcpls extensions and
 * the key log callback), connection 0's TLS 1.3 handshake through memory BIOs, and the plain
 * TLS mode that serves a client without `tcpls` (one stream, id 0, OpenSSL's record layer).
 * The handshake of a joining connection runs here too; what a join does is in join.c.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "session.h"

void
tcpls__drain_wbio(tcpls_session_t *s, conn_t *c)
{
    BIO *wbio = c->ssl ? SSL_get_wbio(c->ssl) : s->wbio;
    size_t n;
    while ((n = BIO_ctrl_pending(wbio)) > 0) {
        if (tcpls__buf_reserve(&c->out, n) != 0)
            return;
        int r = BIO_read(wbio, c->out.base + c->out.off + c->out.len, (int)n);
        if (r <= 0)
            return;
        c->out.len += (size_t)r;
    }
}

/* ---- OpenSSL callbacks ---------------------------------------------------------------------- */

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
        conn_t *jc = tcpls__join_conn_of(s, ssl);
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
        token_t *t = s->ntokens > 0 && s->tokens[0].seq == 1 ? &s->tokens[0] : tcpls__token_issue(s);
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
            tcpls__join_lookup(s, in) != 0) {
            s->join_refused = 1;
            *al = SSL_AD_ILLEGAL_PARAMETER;
            return 0;
        }
        return 1;
    }
    return 1;
}

/* Server, before anything of the ClientHello is processed: a join whose target is still in
 * its own handshake waits for it (tcpls__join_park): OpenSSL keeps the ClientHello and asks
 * again on the next SSL_do_handshake (SSL_ERROR_WANT_CLIENT_HELLO_CB). */
static int
client_hello_cb(SSL *ssl, int *al, void *arg)
{
    tcpls_session_t *s = SSL_get_app_data(ssl);
    const unsigned char *tok;
    size_t len;
    if (s == NULL || SSL_client_hello_get0_ext(ssl, EXT_TCPLS_JOIN, &tok, &len) != 1 ||
        len != TCPLS_TOKEN_LEN) {
        if (s != NULL)
            s->join_parked = 0;
        return SSL_CLIENT_HELLO_SUCCESS;
    }
    return tcpls__join_park(s, tok) ? SSL_CLIENT_HELLO_RETRY : SSL_CLIENT_HELLO_SUCCESS;
}

/* ---- contexts ------------------------------------------------------------------------------- */

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
    ctx->join_full = cfg->join_full_handshake != 0;
    if (ctx->tokens > MAX_TOKENS - 1)
        ctx->tokens = MAX_TOKENS - 1;
    if (cfg->scheduler != NULL && !tcpls_scheduler_valid(cfg->scheduler)) {
        set_err(err, errlen, "unknown scheduler");
        goto fail;
    }
    ctx->sched = tcpls__sched_find(cfg->scheduler);
    if (cfg->stream_policy != TCPLS_STREAMS_SPREAD && cfg->stream_policy != TCPLS_STREAMS_PIN) {
        set_err(err, errlen, "unknown stream policy");
        goto fail;
    }
    ctx->stream_policy = cfg->stream_policy;

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
        SSL_CTX_set_psk_find_session_callback(sc, tcpls__join_psk_find);
        SSL_CTX_set_client_hello_cb(sc, client_hello_cb, NULL);
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

/* ---- connection 0's handshake --------------------------------------------------------------- */

int
tcpls__handshake_start(tcpls_session_t *s, conn_t *c, const char *server_name)
{
    if ((s->ssl = SSL_new(s->ctx->ssl_ctx)) == NULL || (s->rbio = BIO_new(BIO_s_mem())) == NULL ||
        (s->wbio = BIO_new(BIO_s_mem())) == NULL)
        return TCPLS_ERR_NOMEM;
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
            return TCPLS_ERR_HANDSHAKE;
        tcpls__drain_wbio(s, c);
    }
    return 0;
}

/* The session's AEAD usage limit (RFC 8446 5.5): AES-GCM 2^24.5 full records; ChaCha20-Poly1305
 * none before the sequence numbers wrap. */
static uint64_t
aead_limit_of(uint16_t suite)
{
    return suite == TCPLS_SUITE_CHACHA20_POLY1305_SHA256 ? UINT64_MAX - 64 : 23726566;
}

/* Server, connection 0: once its flight (up to Finished) is out and its application secret
 * known, New Token and New Address frames follow at once in a record of their own (0.5-RTT
 * data, RFC 8446 2.1), so that the client can join as soon as its handshake completes
 * instead of a round trip later. */
static int
half_rtt_control(tcpls_session_t *s, conn_t *c)
{
    const SSL_CIPHER *cipher;
    int r;

    if (!s->is_server || c->ssl != NULL || s->join_pending || s->half_rtt_sent || !s->peer_tcpls ||
        s->secret_len[1] == 0 || SSL_version(s->ssl) != TLS1_3_VERSION ||
        (cipher = SSL_get_current_cipher(s->ssl)) == NULL)
        return 0;
    s->half_rtt_sent = 1;
    s->suite = (uint16_t)(SSL_CIPHER_get_id(cipher) & 0xffff);
    if ((r = tcpls__aead_init(&s->tx, s->suite, s->secret[1], s->secret_len[1], 1)) != 0)
        return r == TCPLS_ERR_ARG ? TCPLS_ERR_HANDSHAKE : r;
    s->aead_limit = aead_limit_of(s->suite);
    return tcpls__control_record(s, c);
}

static int
handshake_complete(tcpls_session_t *s)
{
    const SSL_CIPHER *cipher = SSL_get_current_cipher(s->ssl);
    int mine = s->is_server ? 1 : 0, r;

    if (s->join_pending)
        return tcpls__join_complete_server(s);

    snprintf(s->cipher, sizeof(s->cipher), "%s", cipher ? SSL_CIPHER_get_name(cipher) : "?");
    if (s->peer_tcpls && SSL_version(s->ssl) == TLS1_3_VERSION) {
        s->suite = cipher ? (uint16_t)(SSL_CIPHER_get_id(cipher) & 0xffff) : 0;
        if (s->secret_len[0] == 0 || s->secret_len[1] == 0)
            return TCPLS_ERR_HANDSHAKE;
        /* (a server that sent its first flight's frames has its sending key already) */
        if ((!s->half_rtt_sent &&
             (r = tcpls__aead_init(&s->tx, s->suite, s->secret[mine], s->secret_len[mine], 1)) != 0) ||
            (r = tcpls__aead_init(&s->rx, s->suite, s->secret[!mine], s->secret_len[!mine], 0)) != 0)
            return r == TCPLS_ERR_ARG ? TCPLS_ERR_HANDSHAKE : r;
        s->aead_limit = aead_limit_of(s->suite);
        s->mode = MODE_TCPLS;
    } else {
        if (s->is_server && s->ctx->no_plain_fallback)
            return TCPLS_ERR_HANDSHAKE;
        s->mode = MODE_PLAIN;
    }
    s->conns[0]->state = TCPLS_CONN_ESTABLISHED;
    if (s->ops.handshake_done)
        s->ops.handshake_done(s, s->user_data);
    return 0;
}

/* Moves bytes of data (from *used on) to c's input buffer until it holds want bytes. Returns
 * 1 when some were taken, 0 when data has none left, or TCPLS_ERR_NOMEM. */
static int
buffer_upto(conn_t *c, size_t want, const uint8_t *data, size_t len, size_t *used)
{
    size_t n = want - c->in.len;
    if (n > len - *used)
        n = len - *used;
    if (n == 0)
        return 0;
    if (tcpls__buf_append(&c->in, data + *used, n) != 0)
        return TCPLS_ERR_NOMEM;
    *used += n;
    return 1;
}

/* One SSL_do_handshake: 0 to wait for more input, or what completing it returned, or an
 * error. */
static int
handshake_step(tcpls_session_t *s, conn_t *c, SSL *ssl)
{
    int r = SSL_do_handshake(ssl);
    tcpls__drain_wbio(s, c);
    if (r == 1)
        return !c->ssl        ? handshake_complete(s)
               : s->is_server ? tcpls__join_finished_server(c) /* joined early */
                              : tcpls__join_complete_client(s, c);
    int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ && (r = half_rtt_control(s, c)) != 0)
        return r;
    if (e == SSL_ERROR_WANT_READ && (r = tcpls__join_early_server(s)) != 0)
        return r < 0 ? r : 0; /* joined: what follows goes to the target (tcpls_receive) */
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_CLIENT_HELLO_CB) {
        /* a join refused: an unknown token, or a known one whose PSK binder is wrong (a
         * stolen token without the session's keys: decrypt_error) */
        unsigned long why = ERR_GET_REASON(ERR_peek_error());
        int refused = s->join_refused || (s->is_server && s->join_pending) ||
                      (c->ssl != NULL && (why == SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER ||
                                          why == SSL_R_TLSV1_ALERT_DECRYPT_ERROR));
        ERR_clear_error();
        return refused ? TCPLS_ERR_TOKEN : TCPLS_ERR_HANDSHAKE;
    }
    return 0;
}

/* Feeds whole TLS records to OpenSSL one at a time, so that nothing after the last handshake
 * record reaches OpenSSL: what follows belongs to libtcpls's record layer. Returns the bytes of
 * data consumed, or a negative error. */
int
tcpls__handshake_input(tcpls_session_t *s, conn_t *c, const uint8_t *data, size_t len, size_t *used)
{
    SSL *ssl = c->ssl ? c->ssl : s->ssl;
    int joining = c->ssl != NULL, r; /* client: a join; server: a join that joined early */
    *used = 0;
    while (joining ? c->ssl != NULL : s->mode == MODE_HANDSHAKE) {
        size_t need;
        if (c->in.len < TCPLS_RECORD_HEADER_LEN) {
            if ((r = buffer_upto(c, TCPLS_RECORD_HEADER_LEN, data, len, used)) <= 0)
                return r;
            continue;
        }
        const uint8_t *h = c->in.base + c->in.off;
        need = TCPLS_RECORD_HEADER_LEN + tcpls__get16(h + 3);
        if (h[0] < 20 || h[0] > 23 || h[1] != 3 || need > HANDSHAKE_REC_MAX)
            return TCPLS_ERR_HANDSHAKE;
        if (c->in.len < need) {
            if ((r = buffer_upto(c, need, data, len, used)) <= 0)
                return r;
            continue;
        }
        if (BIO_write(SSL_get_rbio(ssl), c->in.base + c->in.off, (int)need) != (int)need)
            return TCPLS_ERR_NOMEM;
        tcpls__buf_consume(&c->in, need);
        if ((r = handshake_step(s, c, ssl)) != 0)
            return r;
    }
    return 0;
}

/* Server: a parked join (client_hello_cb) tries again once its target finished its handshake
 * (or gave up waiting). Called with the session's clock (tcpls_session_set_time). */
int
tcpls__handshake_resume(tcpls_session_t *s)
{
    if (!s->join_parked || s->mode != MODE_HANDSHAKE || s->closed || s->nconns == 0)
        return 0;
    return handshake_step(s, s->conns[0], s->ssl);
}

/* ---- plain TLS mode (a client without tcpls) ------------------------------------------------ */

static tcpls_stream_t *
plain_stream(tcpls_session_t *s)
{
    tcpls_stream_t *st = tcpls__stream_find(s, 0);
    if (st == NULL && (st = tcpls__stream_add(s, 0)) != NULL && s->is_server && s->ops.stream_opened)
        s->ops.stream_opened(s, 0, s->user_data);
    return st;
}

int
tcpls__plain_input(tcpls_session_t *s, conn_t *c, const uint8_t *data, size_t len)
{
    if (len > 0 && BIO_write(s->rbio, data, (int)len) != (int)len)
        return TCPLS_ERR_NOMEM;
    while (!s->closed) {
        int r = SSL_read(s->ssl, s->plain, sizeof(s->plain));
        if (r > 0) {
            tcpls_stream_t *st = plain_stream(s);
            if (st == NULL)
                return TCPLS_ERR_NOMEM;
            tcpls__stream_receive(st, st->recv_next, s->plain, (size_t)r, 0, 0, tcpls__deliver, s);
            continue;
        }
        int e = SSL_get_error(s->ssl, r);
        tcpls__drain_wbio(s, c);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        ERR_clear_error();
        if (e == SSL_ERROR_ZERO_RETURN) {
            tcpls_stream_t *st = plain_stream(s);
            s->close_received = 1;
            if (st)
                tcpls__stream_receive(st, st->recv_next, NULL, 0, 1, 0, tcpls__deliver, s);
            if (!s->close_sent) {
                SSL_shutdown(s->ssl);
                s->close_sent = 1;
                tcpls__drain_wbio(s, c);
            }
            tcpls__session_end(s, 0);
            break;
        }
        return TCPLS_ERR_DECRYPT;
    }
    tcpls__drain_wbio(s, c);
    return 0;
}

void
tcpls__plain_close(tcpls_session_t *s)
{
    if (!s->close_sent) {
        SSL_shutdown(s->ssl);
        s->close_sent = 1;
        tcpls__drain_wbio(s, s->conns[0]);
    }
    if (s->close_received)
        tcpls__session_end(s, 0);
}

int
tcpls__plain_write(tcpls_session_t *s, const void *data, size_t len, size_t *taken)
{
    conn_t *c = s->conns[0];
    while (*taken < len && c->out.len + BIO_ctrl_pending(s->wbio) < OUT_TARGET) {
        size_t n = len - *taken > 65536 ? 65536 : len - *taken;
        int w = SSL_write(s->ssl, (const uint8_t *)data + *taken, (int)n);
        if (w <= 0) {
            ERR_clear_error();
            tcpls__session_end(s, TCPLS_ERR_CRYPTO);
            return TCPLS_ERR_CRYPTO;
        }
        *taken += (size_t)w;
        tcpls__drain_wbio(s, c);
    }
    return 0;
}
