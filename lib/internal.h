/*
 * internal.h — libtcpls internals shared by lib/ and the unit tests. Never installed.
 */
#ifndef TCPLS_INTERNAL_H
#define TCPLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tcpls.h"

/* ---- byte helpers ---------------------------------------------------------------------- */

static inline void
tcpls__put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void
tcpls__put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void
tcpls__put64(uint8_t *p, uint64_t v)
{
    tcpls__put32(p, (uint32_t)(v >> 32));
    tcpls__put32(p + 4, (uint32_t)v);
}
static inline uint16_t
tcpls__get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t
tcpls__get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t
tcpls__get64(const uint8_t *p)
{
    return ((uint64_t)tcpls__get32(p) << 32) | tcpls__get32(p + 4);
}

/* ---- frames (lib/frame.c) -------------------------------------------------------------- */

enum {
    TCPLS_FRAME_PADDING = 0x00,
    TCPLS_FRAME_PING = 0x01,
    TCPLS_FRAME_STREAM = 0x02,
    TCPLS_FRAME_STREAM_FIN = 0x03,
    TCPLS_FRAME_ACK = 0x04,
    TCPLS_FRAME_NEW_TOKEN = 0x05,
    TCPLS_FRAME_CONN_RESET = 0x06,
    TCPLS_FRAME_NEW_ADDRESS = 0x07,
    TCPLS_FRAME_REMOVE_ADDRESS = 0x08,
    TCPLS_FRAME_STREAM_CHANGE = 0x09,
    /* our extension (docs/PROTOCOL.md): a connection's backup flag changed during the session */
    TCPLS_FRAME_CONN_PRIORITY = 0x40,
};

#define TCPLS_TOKEN_LEN          32
#define TCPLS_STREAM_TRAILER_LEN 15 /* length(2) offset(8) stream id(4) type(1) */
#define TCPLS_ACK_FRAME_LEN      13
#define TCPLS_MAX_FRAME_OVERHEAD 21 /* largest non-stream frame: New Address with IPv6 */

typedef struct tcpls_frame {
    uint8_t type;
    union {
        struct {
            uint32_t stream_id;
            uint64_t offset;
            const uint8_t *data; /* points into the parsed buffer */
            uint16_t len;
            int fin;
        } stream;
        struct {
            uint32_t conn_id;
            uint64_t seq;
        } ack;
        struct {
            uint8_t seq;
            uint8_t token[TCPLS_TOKEN_LEN];
        } new_token;
        struct {
            uint32_t conn_id;
        } conn_reset;
        struct {
            uint8_t addr_id;
            uint8_t version; /* 4 or 6 */
            uint8_t addr[16];
            uint16_t port;
        } new_address;
        struct {
            uint8_t addr_id;
        } remove_address;
        struct {
            uint32_t stream_id;
            uint64_t offset;
        } stream_change;
        struct {
            uint32_t conn_id;
            uint8_t backup; /* 0 or 1 */
        } conn_priority;
    } u;
} tcpls_frame_t;

/* Encoded size of f (stream frames include their data). */
size_t tcpls__frame_size(const tcpls_frame_t *f);
/* Writes f front to back (type last) at dst. Returns the bytes written, or 0 when cap is too
 * small or f is invalid. */
size_t tcpls__frame_encode(uint8_t *dst, size_t cap, const tcpls_frame_t *f);
/* Writes the 15-byte trailer that follows a stream frame's data. */
void tcpls__frame_stream_trailer(uint8_t *dst, uint32_t stream_id, uint64_t offset, uint16_t len, int fin);
/* Parses the frame that ends at *src (frames are read back to front), never reading before
 * start. On success moves *src to the frame's first byte and returns 0; returns TCPLS_ERR_FRAME
 * on an unknown type or a truncated frame. Stream data points into the buffer. */
int tcpls__frame_parse(const uint8_t **src, const uint8_t *start, tcpls_frame_t *f);
/* 1 if a frame of this type makes the receiver acknowledge the record carrying it. */
int tcpls__frame_is_ack_eliciting(uint8_t type);

/* ---- record protection (lib/record.c) --------------------------------------------------- */

#define TCPLS_RECORD_HEADER_LEN 5
#define TCPLS_RECORD_TAG_LEN    16
#define TCPLS_MAX_PLAINTEXT     16384 /* TLSInnerPlaintext content, without the type byte */
#define TCPLS_MAX_CIPHERTEXT    (TCPLS_MAX_PLAINTEXT + 256)
#define TCPLS_CONTENT_ALERT     21
#define TCPLS_CONTENT_HANDSHAKE 22
#define TCPLS_CONTENT_APPDATA   23

typedef struct tcpls_aead {
    void *evp;      /* EVP_CIPHER_CTX * */
    uint8_t iv[12]; /* write_iv / read_iv */
    int encrypt;
} tcpls_aead_t;

/* TLS 1.3 cipher suite ids (low 16 bits of SSL_CIPHER_get_id). */
#define TCPLS_SUITE_AES_128_GCM_SHA256       0x1301
#define TCPLS_SUITE_AES_256_GCM_SHA384       0x1302
#define TCPLS_SUITE_CHACHA20_POLY1305_SHA256 0x1303

/* HKDF-Expand-Label(secret, label, "", out_len) of RFC 8446 with the suite's hash. */
int tcpls__hkdf_expand_label(uint16_t suite, const uint8_t *secret, size_t secret_len, const char *label,
                             uint8_t *out, size_t out_len);
/* Sets up an AEAD direction from a traffic secret (key and iv via HKDF-Expand-Label). */
int tcpls__aead_init(tcpls_aead_t *a, uint16_t suite, const uint8_t *secret, size_t secret_len, int encrypt);
void tcpls__aead_clear(tcpls_aead_t *a);
/* The record nonce: iv XOR (conn_id in bytes 0..3) XOR (seq in bytes 4..11). */
void tcpls__record_nonce(const uint8_t iv[12], uint32_t conn_id, uint64_t seq, uint8_t nonce[12]);
/* Protects one record: plaintext = parts[0] || parts[1] || ... || content_type. Writes header,
 * ciphertext and tag to out (room for 5 + total + 1 + 16 bytes). Returns the record length, or
 * a negative error (TCPLS_ERR_ARG when the plaintext is too long). */
typedef struct tcpls_iov {
    const uint8_t *base;
    size_t len;
} tcpls_iov_t;
int tcpls__record_seal(tcpls_aead_t *a, uint32_t conn_id, uint64_t seq, uint8_t content_type,
                       const tcpls_iov_t *parts, size_t nparts, uint8_t *out);
/* Length of the complete record at the front of buf (header + body), 0 if more bytes are
 * needed, or TCPLS_ERR_RECORD for an impossible header. */
int tcpls__record_length(const uint8_t *buf, size_t len);
/* Authenticates and decrypts a complete record (rec, reclen) into out (room for reclen bytes).
 * Strips the padding; *content_type and *out_len describe the content. Returns 0,
 * TCPLS_ERR_RECORD or TCPLS_ERR_DECRYPT. */
int tcpls__record_open(tcpls_aead_t *a, uint32_t conn_id, uint64_t seq, const uint8_t *rec, size_t reclen,
                       uint8_t *out, size_t *out_len, uint8_t *content_type);

/* ---- streams (lib/stream.c) ------------------------------------------------------------- */

typedef struct tcpls_range {
    uint64_t off, end;
} tcpls_range_t;

typedef struct tcpls_stream {
    uint32_t id;
    void *user_data;
    struct tcpls_stream *hash_next;
    /* sending: a ring holding stream bytes [send_base, send_base + send_len) */
    uint8_t *sbuf;
    size_t scap, shead, slen; /* capacity (power of two), index of send_base, bytes held */
    uint64_t send_base;       /* lowest unacknowledged offset */
    uint64_t send_next;       /* next offset never sent */
    tcpls_range_t *acked;     /* acknowledged ranges above send_base, sorted, disjoint */
    size_t nacked, acked_cap;
    tcpls_range_t *resend; /* ranges to send again (failover), sorted */
    size_t nresend, resend_cap;
    unsigned fin_queued : 1, fin_sent : 1, fin_acked : 1, blocked : 1, in_sendq : 1;
    /* receiving */
    uint64_t recv_next;  /* next in-order offset */
    uint64_t fin_offset; /* valid when fin_received */
    /* Out-of-order bytes wait in a ring indexed by offset (modulo rcap) covering the window
     * [recv_next, recv_next + rcap), with one bit per byte saying which are held: an insert
     * costs its length whatever the frame sizes, adjacent or overlapping frames merge by
     * construction, and memory is bounded by the window, never by the number of frames. */
    uint8_t *rbuf;
    uint64_t *rbits;
    size_t rcap;          /* ring size in bytes (0: no ring yet), a multiple of 64 */
    uint64_t rmax;        /* highest end offset held (FIN checks) */
    size_t reorder_bytes; /* out-of-order payload bytes held */
    size_t reorder_mem;   /* memory of the ring and its bitmap */
    unsigned fin_received : 1, fin_delivered : 1, closed_reported : 1;
    struct tcpls_stream *sendq_next;
    /* TCPLS_STREAMS_PIN: the connection this stream's records go on (valid when pinned) */
    uint32_t pin_conn;
    unsigned pinned : 1;
} tcpls_stream_t;

typedef void (*tcpls_deliver_fn)(void *arg, tcpls_stream_t *st, const uint8_t *data, size_t len, int fin);

tcpls_stream_t *tcpls__stream_new(uint32_t id);
void tcpls__stream_free(tcpls_stream_t *st);
/* Appends up to len bytes to the send ring, growing it up to limit bytes held. Returns taken. */
size_t tcpls__stream_append(tcpls_stream_t *st, const uint8_t *data, size_t len, size_t limit);
/* 1 if the stream has something to send (new data, a resend range, or a FIN). */
int tcpls__stream_has_pending(const tcpls_stream_t *st);
/* Chooses the next bytes to send (resend ranges first): at most max bytes. Sets *off, *len, *fin
 * and up to two pointers into the ring (iov[0..1]); returns the number of iov used (0 when
 * nothing is pending). Marks them sent. */
int tcpls__stream_next_chunk(tcpls_stream_t *st, size_t max, uint64_t *off, size_t *len, int *fin,
                             tcpls_iov_t iov[2]);
/* Marks [off, off+len) (and the FIN when fin) acknowledged; frees the acknowledged prefix.
 * Returns the number of bytes released from the ring. */
size_t tcpls__stream_ack(tcpls_stream_t *st, uint64_t off, size_t len, int fin);
/* Queues [off, off+len) (+FIN) to be sent again (frames of a failed connection's records). */
int tcpls__stream_requeue(tcpls_stream_t *st, uint64_t off, size_t len, int fin);
/* 1 when every byte written (and the FIN) was acknowledged. */
int tcpls__stream_send_done(const tcpls_stream_t *st);
/* Takes a received stream frame: delivers in-order bytes through fn (possibly several times,
 * draining the reorder ring), and holds out-of-order bytes that lie within the receive window:
 * the ring and its bitmap may use at most mem_limit bytes of memory (the window is about
 * 8/9 of it). Returns 0, TCPLS_ERR_FLOW (past the window), TCPLS_ERR_NOMEM, or
 * TCPLS_ERR_PROTOCOL (data beyond the FIN, or a FIN before bytes already received). */
int tcpls__stream_receive(tcpls_stream_t *st, uint64_t off, const uint8_t *data, size_t len, int fin,
                          size_t mem_limit, tcpls_deliver_fn fn, void *arg);

/* ---- sessions (lib/session.c) ------------------------------------------------------------ */

#ifdef TCPLS_TESTING /* built only into $(BUILD)/libtcpls-testing.a */
/* Tests and fuzzing only: treats p as the decrypted content of a record received on conn_id
 * (switching a session still in its handshake to TCPLS with fixed keys), then builds output.
 * Returns 0 or the error that ended the session. */
int tcpls__session_feed_frames(tcpls_session_t *s, uint32_t conn_id, const uint8_t *p, size_t len);
/* Tests only: the number of records the session's key may protect (RFC 8446 5.5). */
void tcpls__session_set_aead_limit(tcpls_session_t *s, uint64_t records);
#endif

#endif
