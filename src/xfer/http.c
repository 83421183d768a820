/*
 * http.c — see http.h. HTTP/1.1 request/response parsing and the transport-independent
 * server connection (static files under a root, /bytes/N, POST /upload).
 */
#include "xfer/http.h"

#include "xfer/bytesgen.h"
#include "xfer/sink.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- small parsing helpers ------------------------------------------------------------ */

static int
is_tchar(uint8_t ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return strchr("!#$%&'*+-.^_`|~", ch) != NULL && ch != 0;
}

/* Finds the end of a head (after the empty line) in [p, end). Returns a pointer just past it,
 * or NULL when it is not complete. Lines end in LF, optionally preceded by CR. */
static const uint8_t *
find_head_end(const uint8_t *p, const uint8_t *end)
{
    for (const uint8_t *q = p; q < end; q++) {
        if (*q != '\n')
            continue;
        const uint8_t *n = q + 1;
        if (n < end && *n == '\n')
            return n + 1;
        if (n + 1 < end && n[0] == '\r' && n[1] == '\n')
            return n + 2;
    }
    return NULL;
}

/* Reads one line from [*src, end) (which contains a LF). Sets *line and *len without the line
 * end and advances *src. */
static void
next_line(const uint8_t **src, const uint8_t *end, const uint8_t **line, size_t *len)
{
    const uint8_t *p = *src;
    const uint8_t *lf = memchr(p, '\n', (size_t)(end - p));
    size_t l = (size_t)(lf - p);
    if (l > 0 && p[l - 1] == '\r')
        l--;
    *line = p;
    *len = l;
    *src = lf + 1;
}

static int
token_ieq(const uint8_t *p, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp((const char *)p, word, len) == 0;
}

/* Does the comma-separated header value contain token word (case-insensitive)? */
static int
value_has_token(const uint8_t *v, size_t len, const char *word)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < len && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e > s && token_ieq(v + s, e - s, word))
            return 1;
    }
    return 0;
}

static int
parse_decimal(const uint8_t *p, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 19)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(p[i] - '0');
    }
    *out = v;
    return 0;
}

static int
hexval(uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Header callback shared by request and response parsing. */
typedef struct head_fields {
    int has_cl;
    uint64_t cl;
    int te; /* Transfer-Encoding present */
    int te_chunked;
    int conn_close;
    int conn_keep_alive;
    int expect_continue;
    int body_is_bytes;
    int streams_policy;
} head_fields_t;

/* Parses header lines up to the empty line. Returns 0 or -1 (malformed). */
static int
parse_headers(const uint8_t **src, const uint8_t *end, head_fields_t *hf)
{
    int count = 0;
    memset(hf, 0, sizeof(*hf));
    for (;;) {
        const uint8_t *line;
        size_t len;
        if (*src >= end || memchr(*src, '\n', (size_t)(end - *src)) == NULL)
            return -1;
        next_line(src, end, &line, &len);
        if (len == 0)
            return 0;
        if (++count > 100)
            return -1;
        size_t i = 0;
        while (i < len && is_tchar(line[i]))
            i++;
        if (i == 0 || i >= len || line[i] != ':')
            return -1; /* also rejects obsolete line folding (leading space) */
        const uint8_t *name = line;
        size_t nlen = i;
        i++;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        size_t vend = len;
        while (vend > i && (line[vend - 1] == ' ' || line[vend - 1] == '\t'))
            vend--;
        const uint8_t *v = line + i;
        size_t vlen = vend - i;
        for (size_t k = 0; k < vlen; k++)
            if ((v[k] < 0x20 && v[k] != '\t') || v[k] == 0x7f)
                return -1;
        if (token_ieq(name, nlen, "content-length")) {
            uint64_t cl;
            if (parse_decimal(v, vlen, &cl) != 0)
                return -1;
            if (hf->has_cl && hf->cl != cl)
                return -1;
            hf->has_cl = 1;
            hf->cl = cl;
        } else if (token_ieq(name, nlen, "transfer-encoding")) {
            hf->te = 1;
            if (value_has_token(v, vlen, "chunked"))
                hf->te_chunked = 1;
        } else if (token_ieq(name, nlen, "connection")) {
            if (value_has_token(v, vlen, "close"))
                hf->conn_close = 1;
            if (value_has_token(v, vlen, "keep-alive"))
                hf->conn_keep_alive = 1;
        } else if (token_ieq(name, nlen, "expect")) {
            if (token_ieq(v, vlen, "100-continue"))
                hf->expect_continue = 1;
        } else if (token_ieq(name, nlen, "x-mplab-body")) {
            if (token_ieq(v, vlen, "bytes"))
                hf->body_is_bytes = 1;
        } else if (token_ieq(name, nlen, "x-mplab-streams")) {
            hf->streams_policy = token_ieq(v, vlen, "spread") ? 1 : token_ieq(v, vlen, "pin") ? 2 : 0;
        }
    }
}

/* ---- requests -------------------------------------------------------------------------- */

static int
req_fail(mpl_http_request_t *req, int status)
{
    req->status = status;
    return -1;
}

int
mpl_http_parse_request(const uint8_t **src, const uint8_t *end, mpl_http_request_t *req)
{
    const uint8_t *p = *src;
    memset(req, 0, sizeof(*req));
    req->status = 400;
    /* RFC 9112 2.2: ignore empty lines before the request line. */
    while (p < end && (*p == '\r' || *p == '\n')) {
        if (*p == '\r' && p + 1 < end && p[1] != '\n')
            return req_fail(req, 400);
        p++;
    }
    const uint8_t *head_end = find_head_end(p, end);
    if (head_end == NULL) {
        /* Not complete yet. Refuse at once what cannot become a request line (e.g. a TLS
         * ClientHello sent to a plain server), so such clients fail fast. */
        const uint8_t *q = p;
        while (q < end && *q >= 'A' && *q <= 'Z' && q - p < 16)
            q++;
        if (q < end && (*q != ' ' || q == p))
            return req_fail(req, 400);
        if ((size_t)(end - p) >= MPL_HTTP_MAX_HEAD)
            return req_fail(req, 431);
        return MPL_HTTP_INCOMPLETE;
    }
    if ((size_t)(head_end - p) > MPL_HTTP_MAX_HEAD)
        return req_fail(req, 431);

    const uint8_t *line;
    size_t len;
    const uint8_t *cur = p;
    next_line(&cur, head_end, &line, &len);
    /* method */
    size_t i = 0;
    while (i < len && line[i] >= 'A' && line[i] <= 'Z')
        i++;
    if (i == 0 || i >= len || line[i] != ' ')
        return req_fail(req, 400);
    if (token_ieq(line, i, "GET") && line[0] == 'G')
        req->method = MPL_HTTP_GET;
    else if (i == 4 && memcmp(line, "HEAD", 4) == 0)
        req->method = MPL_HTTP_HEAD;
    else if (i == 4 && memcmp(line, "POST", 4) == 0)
        req->method = MPL_HTTP_POST;
    else
        return req_fail(req, 501);
    if (req->method == MPL_HTTP_GET && memcmp(line, "GET", 3) != 0)
        return req_fail(req, 501);
    i++;
    /* target */
    size_t ts = i;
    while (i < len && line[i] != ' ')
        i++;
    size_t te = i;
    if (te == ts || i >= len)
        return req_fail(req, 400);
    if (te - ts >= MPL_HTTP_MAX_PATH)
        return req_fail(req, 414);
    if (line[ts] != '/')
        return req_fail(req, 400);
    size_t o = 0;
    for (size_t k = ts; k < te; k++) {
        uint8_t ch = line[k];
        if (ch == '?' || ch == '#')
            break;
        if (ch <= 0x20 || ch >= 0x7f)
            return req_fail(req, 400);
        if (ch == '%') {
            if (k + 2 >= te)
                return req_fail(req, 400);
            int h = hexval(line[k + 1]), l = hexval(line[k + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return req_fail(req, 400);
            ch = (uint8_t)(h * 16 + l);
            k += 2;
        }
        req->path[o++] = (char)ch;
    }
    req->path[o] = '\0';
    i++;
    /* version */
    if (len - i != 8 || memcmp(line + i, "HTTP/", 5) != 0 || line[i + 6] != '.')
        return req_fail(req, 400);
    if (line[i + 5] != '1' || (line[i + 7] != '0' && line[i + 7] != '1'))
        return req_fail(req, (line[i + 5] >= '2' && line[i + 5] <= '9') ? 505 : 400);
    req->version_minor = line[i + 7] - '0';

    head_fields_t hf;
    if (parse_headers(&cur, head_end, &hf) != 0)
        return req_fail(req, 400);
    if (hf.te)
        return req_fail(req, 501);
    req->has_content_length = hf.has_cl;
    req->content_length = hf.cl;
    if (req->version_minor == 1)
        req->keep_alive = !hf.conn_close;
    else
        req->keep_alive = hf.conn_keep_alive && !hf.conn_close;
    req->expect_continue = hf.expect_continue && req->version_minor == 1;
    req->body_is_bytes = hf.body_is_bytes;
    req->streams_policy = hf.streams_policy;
    req->status = 0;
    *src = cur;
    return 0;
}

int
mpl_http_bytes_path(const char *path, uint64_t *n)
{
    if (strncmp(path, "/bytes/", 7) != 0)
        return -1;
    const char *s = path + 7;
    if (*s < '0' || *s > '9' || strlen(s) > 24)
        return -1;
    uint64_t v;
    if (mpl_parse_size(s, &v) != 0 || v > MPL_HTTP_BYTES_MAX)
        return -1;
    *n = v;
    return 0;
}

/* ---- server connection ---------------------------------------------------------------- */

#define SCONN_IN_CAP (MPL_HTTP_MAX_HEAD * 2)

typedef enum body_kind {
    BODY_NONE = 0,
    BODY_BYTES,
    BODY_FILE,
} body_kind_t;

struct mpl_http_sconn {
    const mpl_http_server_cfg_t *cfg;
    uint8_t in[SCONN_IN_CAP];
    size_t in_len;
    int peer_eof;
    /* request body being discarded (upload) */
    int in_body;
    uint64_t body_left;
    uint64_t body_total;
    int64_t body_bad_at;    /* offset of the first byte that differs from /bytes content, or -1 */
    mpl_http_request_t req; /* the request being answered */
    /* response */
    int responding;
    char head[1024];
    size_t head_len;
    body_kind_t body_kind;
    uint64_t body_off, body_len;
    int file_fd;
    uint8_t *buf; /* MPL_HTTP_CHUNK bytes, allocated on first use */
    size_t out_off, out_len;
    int send_continue; /* "100 Continue" to send before reading a request body */
    int close_after;
    int closing; /* no more requests will be parsed */
    uint64_t requests;
    int had_error;
};

mpl_http_sconn_t *
mpl_http_sconn_new(const mpl_http_server_cfg_t *cfg)
{
    mpl_http_sconn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->cfg = cfg;
    c->file_fd = -1;
    return c;
}

void
mpl_http_sconn_free(mpl_http_sconn_t *c)
{
    if (c == NULL)
        return;
    if (c->file_fd >= 0)
        close(c->file_fd);
    free(c->buf);
    free(c);
}

static const char *
status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 422:
        return "Unprocessable Content";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

static void
queue_head(mpl_http_sconn_t *c, int status, const char *ctype, uint64_t clen, const char *small_body)
{
    int keep = !c->close_after;
    int n = snprintf(c->head, sizeof(c->head),
                     "HTTP/1.1 %d %s\r\nServer: mplab\r\nContent-Type: %s\r\nContent-Length: %" PRIu64
                     "\r\nConnection: %s\r\n\r\n%s",
                     status, status_text(status), ctype, clen, keep ? "keep-alive" : "close",
                     (small_body != NULL && c->req.method != MPL_HTTP_HEAD) ? small_body : "");
    c->head_len = (n < 0 || (size_t)n >= sizeof(c->head)) ? 0 : (size_t)n;
    c->responding = 1;
    c->requests++;
}

static void
respond_error(mpl_http_sconn_t *c, int status, const char *why)
{
    char body[128];
    snprintf(body, sizeof(body), "%d %s\n", status, status_text(status));
    if (status >= 400) {
        c->had_error = 1;
        if (!c->cfg->quiet)
            mpl_warn("%s: %d %s (%s)", c->cfg->peer ? c->cfg->peer : "client", status, status_text(status),
                     why);
    }
    if (status == 400 || status == 413 || status == 414 || status == 431 || status == 501 || status == 505) {
        c->close_after = 1;
        c->closing = 1;
    }
    c->body_kind = BODY_NONE;
    queue_head(c, status, "text/plain", strlen(body), body);
}

/* Opens path under root, refusing anything that escapes it. Returns an fd or -status. */
static int
open_under_root(const char *root, const char *path, uint64_t *size)
{
    char full[PATH_MAX], real[PATH_MAX], rroot[PATH_MAX];
    /* Refuse ".." segments before touching the file system. */
    for (const char *p = path; *p; p++) {
        if (p[0] == '.' && p[1] == '.' && (p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
            return -403;
        if (*p == '\\')
            return -403;
    }
    if (realpath(root, rroot) == NULL)
        return -404;
    int n = snprintf(full, sizeof(full), "%s%s", rroot, path);
    if (n < 0 || (size_t)n >= sizeof(full))
        return -414;
    struct stat st;
    if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t l = strlen(full);
        const char *idx = (l > 0 && full[l - 1] == '/') ? "index.html" : "/index.html";
        if (l + strlen(idx) + 1 > sizeof(full))
            return -414;
        strcat(full, idx);
    }
    if (realpath(full, real) == NULL)
        return -404;
    size_t rl = strlen(rroot);
    if (strncmp(real, rroot, rl) != 0 || (real[rl] != '/' && real[rl] != '\0' && strcmp(rroot, "/") != 0))
        return -403;
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == EACCES ? -403 : -404;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -404;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

static const char *
content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot == NULL)
        return "application/octet-stream";
    if (strcmp(dot, ".html") == 0 || strcmp(dot, ".htm") == 0)
        return "text/html";
    if (strcmp(dot, ".txt") == 0)
        return "text/plain";
    if (strcmp(dot, ".json") == 0)
        return "application/json";
    if (strcmp(dot, ".css") == 0)
        return "text/css";
    if (strcmp(dot, ".js") == 0)
        return "text/javascript";
    return "application/octet-stream";
}

/* Answers c->req (its body, if any, has been consumed). */
static void
respond(mpl_http_sconn_t *c)
{
    mpl_http_request_t *req = &c->req;
    uint64_t n;
    if (!req->keep_alive) {
        c->close_after = 1;
        c->closing = 1;
    }
    mpl_debug("%s: %s %s", c->cfg->peer ? c->cfg->peer : "client",
              req->method == MPL_HTTP_GET    ? "GET"
              : req->method == MPL_HTTP_HEAD ? "HEAD"
                                             : "POST",
              req->path);
    if (req->method == MPL_HTTP_POST) {
        if (strcmp(req->path, "/upload") != 0) {
            respond_error(c, 405, "POST is only accepted at /upload");
            return;
        }
        char body[96];
        if (c->body_bad_at >= 0 && req->body_is_bytes) {
            char why[96];
            snprintf(why, sizeof(why), "upload differs from /bytes content at offset %" PRId64,
                     c->body_bad_at);
            respond_error(c, 422, why);
            return;
        }
        /* verified: the body is the /bytes/N content (any client may send it) */
        snprintf(body, sizeof(body), "{\"bytes\":%" PRIu64 ",\"verified\":%s}\n", c->body_total,
                 c->body_total > 0 && c->body_bad_at < 0 ? "true" : "false");
        c->body_kind = BODY_NONE;
        queue_head(c, 200, "application/json", strlen(body), body);
        return;
    }
    if (strncmp(req->path, "/bytes/", 7) == 0) {
        if (mpl_http_bytes_path(req->path, &n) != 0) {
            respond_error(c, 400, "bad /bytes/N size");
            return;
        }
        c->body_kind = req->method == MPL_HTTP_HEAD ? BODY_NONE : BODY_BYTES;
        c->body_off = 0;
        c->body_len = n;
        queue_head(c, 200, "application/octet-stream", n, NULL);
        return;
    }
    if (c->cfg->root == NULL) {
        if (strcmp(req->path, "/") == 0) {
            const char *msg = "mplab server: GET /bytes/N for N deterministic bytes\n";
            c->body_kind = BODY_NONE;
            queue_head(c, 200, "text/plain", strlen(msg), msg);
            return;
        }
        respond_error(c, 404, "no --root and not /bytes/N");
        return;
    }
    int fd = open_under_root(c->cfg->root, req->path, &n);
    if (fd < 0) {
        respond_error(c, -fd, fd == -403 ? "path refused" : "no such file");
        return;
    }
    if (req->method == MPL_HTTP_HEAD) {
        close(fd);
        c->body_kind = BODY_NONE;
    } else {
        c->body_kind = BODY_FILE;
        c->file_fd = fd;
        c->body_off = 0;
        c->body_len = n;
    }
    queue_head(c, 200, content_type(req->path), n, NULL);
}

/* Takes n bytes of a request body, checked byte for byte against the /bytes/N content: what
 * `mplab get --upload` sends, saying so with "X-Mplab-Body: bytes"; such an upload that lost,
 * duplicated or changed bytes is refused (422) instead of counted. */
static void
body_take(mpl_http_sconn_t *c, const uint8_t *data, size_t n)
{
    uint64_t off = c->body_total - c->body_left;
    if (c->body_bad_at < 0) {
        int64_t bad = mpl_bytes_check(off, data, n);
        if (bad >= 0)
            c->body_bad_at = (int64_t)off + bad;
    }
    c->body_left -= n;
}

/* Parses and starts the next request when idle. */
static void
process(mpl_http_sconn_t *c)
{
    while (!c->responding && !c->closing) {
        if (c->in_body) {
            size_t take = c->in_len < c->body_left ? c->in_len : (size_t)c->body_left;
            body_take(c, c->in, take);
            memmove(c->in, c->in + take, c->in_len - take);
            c->in_len -= take;
            if (c->body_left > 0)
                return;
            c->in_body = 0;
            c->send_continue = 0;
            respond(c);
            continue;
        }
        if (c->in_len == 0)
            return;
        const uint8_t *p = c->in;
        int rc = mpl_http_parse_request(&p, c->in + c->in_len, &c->req);
        if (rc == MPL_HTTP_INCOMPLETE) {
            if (c->peer_eof) {
                c->closing = 1;
                if (!c->cfg->quiet)
                    mpl_warn("%s: connection closed in the middle of a request",
                             c->cfg->peer ? c->cfg->peer : "client");
                c->had_error = 1;
            }
            return;
        }
        if (rc != 0) {
            c->req.method = MPL_HTTP_GET;
            respond_error(c, c->req.status, "malformed request");
            c->in_len = 0;
            return;
        }
        size_t used = (size_t)(p - c->in);
        memmove(c->in, p, c->in_len - used);
        c->in_len -= used;
        if (c->req.has_content_length && c->req.content_length > 0) {
            c->in_body = 1;
            c->send_continue = c->req.expect_continue;
            c->body_left = c->req.content_length;
            c->body_total = c->req.content_length;
            c->body_bad_at = -1;
        } else {
            c->body_total = 0;
            respond(c);
        }
    }
}

size_t
mpl_http_sconn_input_space(const mpl_http_sconn_t *c)
{
    if (c->closing || c->peer_eof)
        return c->closing ? SCONN_IN_CAP : 0; /* closing: input is read and dropped */
    if (c->in_body && !c->responding)
        return c->body_left > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)c->body_left + (SCONN_IN_CAP - c->in_len);
    return SCONN_IN_CAP - c->in_len;
}

int
mpl_http_sconn_input(mpl_http_sconn_t *c, const uint8_t *data, size_t len)
{
    if (c->closing)
        return 0; /* dropped: an error response is pending or sent */
    while (len > 0) {
        if (c->in_body && !c->responding && c->in_len == 0) {
            size_t take = len < c->body_left ? len : (size_t)c->body_left;
            body_take(c, data, take);
            data += take;
            len -= take;
            if (c->body_left == 0) {
                c->in_body = 0;
                c->send_continue = 0;
                respond(c);
            }
            continue;
        }
        size_t space = SCONN_IN_CAP - c->in_len;
        size_t take = len < space ? len : space;
        if (take == 0)
            return -1;
        memcpy(c->in + c->in_len, data, take);
        c->in_len += take;
        data += take;
        len -= take;
        process(c);
    }
    process(c);
    return 0;
}

void
mpl_http_sconn_input_eof(mpl_http_sconn_t *c)
{
    c->peer_eof = 1;
    process(c);
    if (!c->responding && c->in_body) {
        c->closing = 1;
        c->had_error = 1;
        if (!c->cfg->quiet)
            mpl_warn("%s: connection closed in the middle of an upload",
                     c->cfg->peer ? c->cfg->peer : "client");
    }
}

int
mpl_http_sconn_output(mpl_http_sconn_t *c, const uint8_t **data, size_t *len)
{
    if (c->out_off < c->out_len) {
        *data = c->buf + c->out_off;
        *len = c->out_len - c->out_off;
        return 1;
    }
    if (c->send_continue) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (c->buf == NULL && (c->buf = malloc(MPL_HTTP_CHUNK)) == NULL)
            return -1;
        c->send_continue = 0;
        memcpy(c->buf, cont, sizeof(cont) - 1);
        c->out_off = 0;
        c->out_len = sizeof(cont) - 1;
        *data = c->buf;
        *len = c->out_len;
        return 1;
    }
    if (!c->responding)
        return 0;
    if (c->buf == NULL && (c->buf = malloc(MPL_HTTP_CHUNK)) == NULL)
        return -1;
    size_t n = 0;
    if (c->head_len > 0) {
        memcpy(c->buf, c->head, c->head_len);
        n = c->head_len;
        c->head_len = 0;
    }
    uint64_t left = c->body_len - c->body_off;
    size_t room = MPL_HTTP_CHUNK - n;
    size_t take = left < room ? (size_t)left : room;
    if (c->body_kind == BODY_BYTES && take > 0) {
        mpl_bytes_fill(c->body_off, c->buf + n, take);
        c->body_off += take;
        n += take;
    } else if (c->body_kind == BODY_FILE && take > 0) {
        ssize_t r = pread(c->file_fd, c->buf + n, take, (off_t)c->body_off);
        if (r <= 0) {
            mpl_warn("%s: reading %s failed", c->cfg->peer ? c->cfg->peer : "client", c->req.path);
            return -1;
        }
        c->body_off += (uint64_t)r;
        n += (size_t)r;
    }
    if (c->body_kind == BODY_NONE || c->body_off >= c->body_len) {
        /* response fully produced */
        c->responding = 0;
        c->body_kind = BODY_NONE;
        if (c->file_fd >= 0) {
            close(c->file_fd);
            c->file_fd = -1;
        }
    }
    c->out_off = 0;
    c->out_len = n;
    if (n == 0)
        return mpl_http_sconn_output(c, data, len);
    *data = c->buf;
    *len = n;
    return 1;
}

void
mpl_http_sconn_consumed(mpl_http_sconn_t *c, size_t n)
{
    c->out_off += n;
    if (c->out_off > c->out_len)
        c->out_off = c->out_len;
    if (c->out_off == c->out_len && !c->responding)
        process(c); /* next pipelined request */
}

int
mpl_http_sconn_done(const mpl_http_sconn_t *c)
{
    if (c->out_off < c->out_len || c->responding)
        return 0;
    if (c->closing)
        return 1;
    return c->peer_eof && !c->in_body;
}

int
mpl_http_sconn_idle(const mpl_http_sconn_t *c)
{
    return !c->responding && c->out_off >= c->out_len && c->in_len == 0 && !c->in_body && !c->send_continue;
}

int
mpl_http_sconn_awaiting_head(const mpl_http_sconn_t *c)
{
    return !c->responding && c->out_off >= c->out_len && !c->in_body && !c->send_continue && !c->closing;
}

uint64_t
mpl_http_sconn_requests(const mpl_http_sconn_t *c)
{
    return c->requests;
}

int
mpl_http_sconn_streams_policy(const mpl_http_sconn_t *c)
{
    return c->req.streams_policy;
}

int
mpl_http_sconn_had_error(const mpl_http_sconn_t *c)
{
    return c->had_error;
}

/* ---- client side ---------------------------------------------------------------------- */

int
mpl_http_build_request(char *buf, size_t cap, const char *method, const char *host, const char *path,
                       uint64_t upload_len, int keep_alive)
{
    char cl[64] = "";
    if (upload_len > 0 || strcmp(method, "POST") == 0)
        snprintf(cl, sizeof(cl), "Content-Length: %" PRIu64 "\r\n%s", upload_len,
                 upload_len > 0 ? "X-Mplab-Body: bytes\r\n" : "");
    int n = snprintf(buf, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: mplab\r\nAccept: */*\r\n%s%s\r\n",
                     method, path, host, cl, keep_alive ? "" : "Connection: close\r\n");
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return n;
}

int
mpl_http_parse_response(const uint8_t **src, const uint8_t *end, mpl_http_response_t *resp)
{
    const uint8_t *p = *src;
    memset(resp, 0, sizeof(*resp));
    const uint8_t *head_end = find_head_end(p, end);
    if (head_end == NULL)
        return (size_t)(end - p) >= MPL_HTTP_MAX_HEAD ? -1 : MPL_HTTP_INCOMPLETE;
    if ((size_t)(head_end - p) > MPL_HTTP_MAX_HEAD)
        return -1;
    const uint8_t *line;
    size_t len;
    const uint8_t *cur = p;
    next_line(&cur, head_end, &line, &len);
    if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') || line[8] != ' ')
        return -1;
    int minor = line[7] - '0';
    int status = 0;
    for (int k = 9; k < 12; k++) {
        if (line[k] < '0' || line[k] > '9')
            return -1;
        status = status * 10 + (line[k] - '0');
    }
    if (status < 100 || (len > 12 && line[12] != ' '))
        return -1;
    head_fields_t hf;
    if (parse_headers(&cur, head_end, &hf) != 0)
        return -1;
    resp->status = status;
    resp->has_content_length = hf.has_cl;
    resp->content_length = hf.cl;
    resp->chunked = hf.te_chunked;
    if (hf.te && !hf.te_chunked)
        return -1;
    resp->keep_alive = minor == 1 ? !hf.conn_close : (hf.conn_keep_alive && !hf.conn_close);
    if (!resp->has_content_length && !resp->chunked && status >= 200 && status != 204 && status != 304)
        resp->keep_alive = 0; /* body ends at close */
    *src = cur;
    return 0;
}

typedef enum cresp_state {
    CRESP_HEAD = 0,
    CRESP_BODY,
    CRESP_DONE,
} cresp_state_t;

struct mpl_http_cresp {
    int is_head;
    int64_t bytes_n;
    cresp_state_t state;
    uint8_t head[MPL_HTTP_MAX_HEAD];
    size_t head_len;
    mpl_http_response_t resp;
    int until_close;
    uint64_t body_left;
    uint64_t body_bytes;
    const char *error;
};

mpl_http_cresp_t *
mpl_http_cresp_new(int is_head, int64_t bytes_n)
{
    mpl_http_cresp_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->is_head = is_head;
    r->bytes_n = bytes_n;
    return r;
}

void
mpl_http_cresp_free(mpl_http_cresp_t *r)
{
    free(r);
}

static int
cresp_fail(mpl_http_cresp_t *r, const char *why)
{
    r->error = why;
    return -1;
}

int
mpl_http_cresp_input(mpl_http_cresp_t *r, const uint8_t *data, size_t len, size_t *used,
                     mpl_body_sink_t *sink)
{
    size_t pos = 0;
    *used = 0;
    if (r->error != NULL)
        return -1;
    while (r->state == CRESP_HEAD) {
        size_t before = r->head_len;
        size_t take = len - pos;
        if (take > sizeof(r->head) - r->head_len)
            take = sizeof(r->head) - r->head_len;
        memcpy(r->head + r->head_len, data + pos, take);
        r->head_len += take;
        const uint8_t *p = r->head;
        int rc = mpl_http_parse_response(&p, r->head + r->head_len, &r->resp);
        if (rc == MPL_HTTP_INCOMPLETE) {
            pos += take;
            *used = pos;
            if (r->head_len >= sizeof(r->head))
                return cresp_fail(r, "response head too large");
            return 0;
        }
        if (rc != 0)
            return cresp_fail(r, "malformed HTTP response");
        size_t head_bytes = (size_t)(p - r->head);
        pos += head_bytes - before;
        r->head_len = 0;
        if (r->resp.status >= 100 && r->resp.status < 200)
            continue; /* interim response (100 Continue): the real one follows */
        if (r->resp.chunked)
            return cresp_fail(r, "chunked responses are not supported");
        int no_body = r->is_head || r->resp.status == 204 || r->resp.status == 304;
        if (sink != NULL)
            mpl_sink_begin(sink, r->resp.status == 200 ? r->bytes_n : -1,
                           r->resp.has_content_length ? r->resp.content_length : 0);
        if (no_body || (r->resp.has_content_length && r->resp.content_length == 0)) {
            r->state = CRESP_DONE;
            if (sink != NULL)
                mpl_sink_end(sink);
            *used = pos;
            return 1;
        }
        r->state = CRESP_BODY;
        r->until_close = !r->resp.has_content_length;
        r->body_left = r->resp.content_length;
    }
    if (r->state == CRESP_BODY) {
        size_t take = len - pos;
        if (!r->until_close && take > r->body_left)
            take = (size_t)r->body_left;
        if (take > 0 && sink != NULL && mpl_sink_write(sink, data + pos, take) != 0) {
            *used = pos + take;
            r->body_bytes += take;
            return cresp_fail(r, sink->mismatch ? "content mismatch" : "cannot write the output");
        }
        r->body_bytes += take;
        pos += take;
        if (!r->until_close) {
            r->body_left -= take;
            if (r->body_left == 0) {
                r->state = CRESP_DONE;
                if (sink != NULL)
                    mpl_sink_end(sink);
            }
        }
    }
    *used = pos;
    return r->state == CRESP_DONE ? 1 : 0;
}

int
mpl_http_cresp_eof(mpl_http_cresp_t *r)
{
    if (r->state == CRESP_DONE)
        return 1;
    if (r->state == CRESP_BODY && r->until_close) {
        r->state = CRESP_DONE;
        return 1;
    }
    return 0;
}

const mpl_http_response_t *
mpl_http_cresp_head(const mpl_http_cresp_t *r)
{
    return &r->resp;
}

int
mpl_http_cresp_head_done(const mpl_http_cresp_t *r)
{
    return r->state != CRESP_HEAD;
}

uint64_t
mpl_http_cresp_body_bytes(const mpl_http_cresp_t *r)
{
    return r->body_bytes;
}

const char *
mpl_http_cresp_error(const mpl_http_cresp_t *r)
{
    return r->error;
}
