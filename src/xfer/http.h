/*
 * http.h — the HTTP/1.1 used by 'mplab serve' and 'mplab get', independent of any transport.
 *
 * Nothing here touches a socket. A transport (tcp, tls, mptcp, later tcpls streams) moves
 * bytes between the network and these objects:
 *
 * Server side — one mpl_http_sconn_t per connection (or per TCPLS stream):
 *   c = mpl_http_sconn_new(&cfg);
 *   on bytes received:   mpl_http_sconn_input(c, data, len)
 *   when it can send:    while (mpl_http_sconn_output(c, &p, &n) > 0) { sent = send(p, n);
 *                                                                     mpl_http_sconn_consumed(c, sent); }
 *   on peer EOF:         mpl_http_sconn_input_eof(c)
 *   when mpl_http_sconn_done(c) returns 1, close the connection (after the output is empty).
 * Back-pressure: a response body (/bytes/N, a file) is produced one chunk (up to
 * MPL_HTTP_CHUNK bytes, in a buffer owned by the object and reused) at a time, only when the
 * transport asks for output; nothing is produced while the transport cannot send. Requests
 * are parsed only after the previous response is fully sent (pipelining works, bounded).
 *
 * Client side — mpl_http_build_request() writes a request; one mpl_http_cresp_t per request
 * parses the response head and passes the body to a mpl_body_sink_t (sink.h):
 *   r = mpl_http_cresp_new(is_head);  ... rc = mpl_http_cresp_input(r, data, len, &used, sink);
 *   rc 0: give more bytes; 1: response complete (bytes after 'used' belong to the next
 *   response); < 0: malformed response (mpl_http_cresp_error(r) explains).
 *
 * Errors: negative values; parsers take (const uint8_t **src, const uint8_t *end), check
 * bounds before every read and never abort on bad input.
 */
#ifndef MPLAB_HTTP_H
#define MPLAB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define MPL_HTTP_CHUNK      (256 * 1024) /* bytes of body produced per output call */
#define MPL_HTTP_MAX_HEAD   16384        /* request/response heads larger than this are refused */
#define MPL_HTTP_MAX_PATH   4096
#define MPL_HTTP_INCOMPLETE (-1000) /* parser: need more bytes */
#define MPL_HTTP_BYTES_MAX  (1ull << 50)

/* ---- request parsing (server side, exposed for tests and fuzzing) ---------------------- */

typedef enum mpl_http_method {
    MPL_HTTP_GET = 1,
    MPL_HTTP_HEAD,
    MPL_HTTP_POST,
} mpl_http_method_t;

typedef struct mpl_http_request {
    mpl_http_method_t method;
    char path[MPL_HTTP_MAX_PATH]; /* the target, percent-decoded, query string removed */
    int version_minor;            /* 0 or 1 (HTTP/1.x) */
    int keep_alive;               /* 1 unless "Connection: close" or HTTP/1.0 without keep-alive */
    int expect_continue;          /* "Expect: 100-continue" */
    int body_is_bytes;            /* "X-Mplab-Body: bytes": the body is /bytes/N content */
    int streams_policy;           /* "X-Mplab-Streams: spread|pin": 1 spread, 2 pin, 0 absent or other */
    int has_content_length;
    uint64_t content_length;
    int status; /* on a parse error: the HTTP status to answer (400, 431, 501...) */
} mpl_http_request_t;

/* Parses one request head (request line + headers + empty line) from [*src, end).
 * Returns 0 and advances *src past the head; MPL_HTTP_INCOMPLETE when more bytes are needed
 * (*src unchanged); or -1 on a malformed/unsupported request, with req->status set. */
int mpl_http_parse_request(const uint8_t **src, const uint8_t *end, mpl_http_request_t *req);

/* Parses "/bytes/N" (N decimal, optionally with k/M/G suffixes as mpl_parse_size). Returns
 * 0 and sets *n, or -1 when path is not a /bytes/ path or N is bad. */
int mpl_http_bytes_path(const char *path, uint64_t *n);

/* ---- server connection ---------------------------------------------------------------- */

typedef struct mpl_http_server_cfg {
    const char *root; /* directory served, or NULL (then only /bytes/N and /upload) */
    int quiet;        /* do not log each request */
    const char *peer; /* peer description used in log lines (may be NULL) */
} mpl_http_server_cfg_t;

typedef struct mpl_http_sconn mpl_http_sconn_t;

/* Creates a server connection object; cfg (and the strings it points to) must outlive it.
 * Returns NULL when out of memory. */
mpl_http_sconn_t *mpl_http_sconn_new(const mpl_http_server_cfg_t *cfg);
/* NULL-safe. */
void mpl_http_sconn_free(mpl_http_sconn_t *c);
/* How many received bytes the object can take now (0 while a response is pending and the
 * input buffer is full: stop reading from the peer, that is the back-pressure). */
size_t mpl_http_sconn_input_space(const mpl_http_sconn_t *c);
/* Feeds len received bytes (len <= mpl_http_sconn_input_space). Returns 0, or -1 when len was
 * too large. A malformed request is not an error here: an error response is queued and the
 * connection ends after it. */
int mpl_http_sconn_input(mpl_http_sconn_t *c, const uint8_t *data, size_t len);
/* The peer closed its sending side. */
void mpl_http_sconn_input_eof(mpl_http_sconn_t *c);
/* Points *data and *len at the next bytes to send (valid until the next call on c). Returns 1
 * when there is something to send, 0 when nothing is pending now, -1 on an internal error
 * (e.g. a file read failed; close the connection). */
int mpl_http_sconn_output(mpl_http_sconn_t *c, const uint8_t **data, size_t *len);
/* n bytes of the last output were sent (n <= len). */
void mpl_http_sconn_consumed(mpl_http_sconn_t *c, size_t n);
/* 1 when the connection should be closed now (all output sent and either the peer closed or
 * the last response asked for close). */
int mpl_http_sconn_done(const mpl_http_sconn_t *c);
/* 1 between requests: no response being sent, no partial request or body buffered (a peer
 * that goes away now loses nothing). */
int mpl_http_sconn_idle(const mpl_http_sconn_t *c);
/* 1 while it waits for (the rest of) a request head: no response being sent, no request body
 * being read. With mpl_http_sconn_requests() == 0 or !mpl_http_sconn_idle(), the client owes
 * a request head (the servers' header timeout). */
int mpl_http_sconn_awaiting_head(const mpl_http_sconn_t *c);
/* The X-Mplab-Streams value of the last request parsed (mpl_http_request_t.streams_policy):
 * the TCPLS server applies it to the session (get --streams-policy). */
int mpl_http_sconn_streams_policy(const mpl_http_sconn_t *c);
/* Counters: requests answered, request bytes consumed (incl. upload bodies), and whether
 * an error response (4xx/5xx) was sent. */
uint64_t mpl_http_sconn_requests(const mpl_http_sconn_t *c);
int mpl_http_sconn_had_error(const mpl_http_sconn_t *c);

/* ---- client side ---------------------------------------------------------------------- */

/* Writes "METHOD path HTTP/1.1\r\nHost: host\r\n...\r\n" into buf. upload_len > 0 adds a
 * Content-Length (the caller then sends the body). Returns the length, or -1 if it does not
 * fit. */
int mpl_http_build_request(char *buf, size_t cap, const char *method, const char *host, const char *path,
                           uint64_t upload_len, int keep_alive);

typedef struct mpl_http_response {
    int status; /* 200, 404, ... */
    int has_content_length;
    uint64_t content_length;
    int chunked;    /* Transfer-Encoding: chunked */
    int keep_alive; /* connection stays usable after this response */
} mpl_http_response_t;

/* Parses a response head from [*src, end): 0 (advanced), MPL_HTTP_INCOMPLETE, or -1. */
int mpl_http_parse_response(const uint8_t **src, const uint8_t *end, mpl_http_response_t *resp);

struct mpl_body_sink;
typedef struct mpl_http_cresp mpl_http_cresp_t;

/* A response being received; is_head: the request was HEAD (no body follows); bytes_n: the
 * request was /bytes/N (N, then a 200 body is verified against it), else -1. The sink's
 * mpl_sink_begin is called when the head is complete and mpl_sink_end when the body is. */
mpl_http_cresp_t *mpl_http_cresp_new(int is_head, int64_t bytes_n);
void mpl_http_cresp_free(mpl_http_cresp_t *r);
/* Consumes bytes of the response; body bytes go to sink (may be NULL). *used is set to the
 * number of bytes of data that belong to this response. Returns 0 (more needed), 1 (complete)
 * or -1 (malformed; see mpl_http_cresp_error). */
int mpl_http_cresp_input(mpl_http_cresp_t *r, const uint8_t *data, size_t len, size_t *used,
                         struct mpl_body_sink *sink);
/* The connection ended: returns 1 when that completes the response (body delimited by close),
 * else 0 (truncated). */
int mpl_http_cresp_eof(mpl_http_cresp_t *r);
/* The parsed head (valid once mpl_http_cresp_head_done returns 1). */
const mpl_http_response_t *mpl_http_cresp_head(const mpl_http_cresp_t *r);
int mpl_http_cresp_head_done(const mpl_http_cresp_t *r);
/* Body bytes received so far. */
uint64_t mpl_http_cresp_body_bytes(const mpl_http_cresp_t *r);
const char *mpl_http_cresp_error(const mpl_http_cresp_t *r);

#endif
