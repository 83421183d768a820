/* Unit tests: src/xfer/http.c (request/response parsing, server connection), src/xfer/sink.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>

#include "xfer/bytesgen.h"
#include "xfer/client.h"
#include "xfer/http.h"
#include "xfer/sink.h"
#include "common/util.h"

static int
parse_req(const char *s, mpl_http_request_t *req)
{
    const uint8_t *p = (const uint8_t *)s;
    return mpl_http_parse_request(&p, p + strlen(s), req);
}

static void
test_parse_request_ok(void **state)
{
    mpl_http_request_t req;
    const char *s = "GET /bytes/10%30?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\nNEXT";
    const uint8_t *p = (const uint8_t *)s;
    assert_int_equal(mpl_http_parse_request(&p, p + strlen(s), &req), 0);
    assert_int_equal(req.method, MPL_HTTP_GET);
    assert_string_equal(req.path, "/bytes/100");
    assert_int_equal(req.keep_alive, 1);
    assert_string_equal((const char *)p, "NEXT");

    assert_int_equal(parse_req("HEAD / HTTP/1.0\n\n", &req), 0);
    assert_int_equal(req.method, MPL_HTTP_HEAD);
    assert_int_equal(req.keep_alive, 0);
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", &req), 0);
    assert_int_equal(req.keep_alive, 0);
    assert_int_equal(parse_req("POST /upload HTTP/1.1\r\nContent-Length: 5\r\n\r\n", &req), 0);
    assert_int_equal(req.content_length, 5);
}

static void
test_parse_request_bad(void **state)
{
    mpl_http_request_t req;
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nHost: a\r\n", &req), MPL_HTTP_INCOMPLETE);
    assert_int_equal(parse_req("GARBAGE\r\n\r\n", &req), -1);
    assert_int_equal(req.status, 400);
    assert_int_equal(parse_req("BREW / HTTP/1.1\r\n\r\n", &req), -1);
    assert_int_equal(req.status, 501);
    assert_int_equal(parse_req("GET / HTTP/2.0\r\n\r\n", &req), -1);
    assert_int_equal(req.status, 505);
    assert_int_equal(parse_req("GET noslash HTTP/1.1\r\n\r\n", &req), -1);
    assert_int_equal(parse_req("GET /%00 HTTP/1.1\r\n\r\n", &req), -1);
    assert_int_equal(parse_req("GET /%4 HTTP/1.1\r\n\r\n", &req), -1);
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nBad Header\r\n\r\n", &req), -1);
    assert_int_equal(parse_req("GET / HTTP/1.1\r\n folded\r\n\r\n", &req), -1);
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", &req), -1);
    assert_int_equal(parse_req("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &req), -1);
    assert_int_equal(parse_req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &req), -1);
    assert_int_equal(req.status, 501);
    char *big = malloc(MPL_HTTP_MAX_HEAD + 100);
    memset(big, 'a', MPL_HTTP_MAX_HEAD + 99);
    memcpy(big, "GET /", 5);
    big[MPL_HTTP_MAX_HEAD + 99] = '\0';
    assert_int_equal(parse_req(big, &req), -1);
    assert_int_equal(req.status, 431);
    free(big);
}

static void
test_bytes_path(void **state)
{
    uint64_t n;
    assert_int_equal(mpl_http_bytes_path("/bytes/100", &n), 0);
    assert_int_equal(n, 100);
    assert_int_equal(mpl_http_bytes_path("/bytes/10G", &n), 0);
    assert_int_equal(n, 10000000000ull);
    assert_int_equal(mpl_http_bytes_path("/bytes/", &n), -1);
    assert_int_equal(mpl_http_bytes_path("/bytes/x", &n), -1);
    assert_int_equal(mpl_http_bytes_path("/file", &n), -1);
}

/* Runs a server connection over a byte string; returns everything it outputs. */
static size_t
drive(mpl_http_sconn_t *c, const char *in, uint8_t *out, size_t cap)
{
    size_t o = 0;
    assert_int_equal(mpl_http_sconn_input(c, (const uint8_t *)in, strlen(in)), 0);
    const uint8_t *p;
    size_t len;
    while (mpl_http_sconn_output(c, &p, &len) > 0) {
        size_t n = len > 1000 ? 1000 : len; /* partial sends */
        assert_true(o + n <= cap);
        memcpy(out + o, p, n);
        o += n;
        mpl_http_sconn_consumed(c, n);
    }
    return o;
}

static void
test_sconn_bytes_pipelined(void **state)
{
    mpl_http_server_cfg_t cfg = {.root = NULL, .quiet = 1};
    mpl_http_sconn_t *c = mpl_http_sconn_new(&cfg);
    size_t cap = 2 * 1024 * 1024;
    uint8_t *out = malloc(cap);
    size_t n = drive(c, "GET /bytes/300000 HTTP/1.1\r\n\r\nHEAD /bytes/5 HTTP/1.1\r\n\r\n", out, cap);
    /* parse the two responses back */
    mpl_body_sink_t sink;
    mpl_sink_cfg_t scfg = {.out_fd = -1, .hash = 1, .verify = 1};
    assert_int_equal(mpl_sink_init(&sink, &scfg), 0);
    mpl_sink_start(&sink);
    mpl_http_cresp_t *r = mpl_http_cresp_new(0, 300000);
    size_t used;
    assert_int_equal(mpl_http_cresp_input(r, out, n, &used, &sink), 1);
    assert_int_equal(mpl_http_cresp_head(r)->status, 200);
    assert_int_equal(mpl_http_cresp_body_bytes(r), 300000);
    assert_int_equal(sink.verified_all, 1);
    mpl_http_cresp_free(r);
    r = mpl_http_cresp_new(1, 5);
    size_t used2;
    assert_int_equal(mpl_http_cresp_input(r, out + used, n - used, &used2, NULL), 1);
    assert_int_equal(used + used2, n);
    assert_int_equal(mpl_http_cresp_head(r)->content_length, 5);
    mpl_http_cresp_free(r);
    assert_int_equal(mpl_http_sconn_done(c), 0);
    mpl_http_sconn_input_eof(c);
    assert_int_equal(mpl_http_sconn_done(c), 1);
    char hex[65];
    mpl_sink_finish(&sink, hex);
    assert_int_equal(strlen(hex), 64);
    mpl_sink_cleanup(&sink);
    mpl_http_sconn_free(c);
    free(out);
}

static void
test_sconn_errors_and_upload(void **state)
{
    mpl_http_server_cfg_t cfg = {.root = NULL, .quiet = 1};
    uint8_t out[4096];
    mpl_http_sconn_t *c = mpl_http_sconn_new(&cfg);
    size_t n = drive(c, "BAD\r\n\r\n", out, sizeof(out));
    out[n] = 0;
    assert_non_null(strstr((char *)out, "400 Bad Request"));
    assert_int_equal(mpl_http_sconn_done(c), 1);
    assert_int_equal(mpl_http_sconn_had_error(c), 1);
    mpl_http_sconn_free(c);

    c = mpl_http_sconn_new(&cfg);
    n = drive(c, "POST /upload HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET /nothing HTTP/1.1\r\n\r\n",
              out, sizeof(out) - 1);
    out[n] = 0;
    assert_non_null(strstr((char *)out, "{\"bytes\":10,\"verified\":false}"));
    assert_null(strstr((char *)out, "100 Continue")); /* the body came with the head */
    assert_non_null(strstr((char *)out, "404 Not Found"));
    mpl_http_sconn_free(c);
}

static void
test_sconn_expect_continue(void **state)
{
    mpl_http_server_cfg_t cfg = {.root = NULL, .quiet = 1};
    uint8_t out[4096];
    mpl_http_sconn_t *c = mpl_http_sconn_new(&cfg);
    size_t n = drive(c, "POST /upload HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", out,
                     sizeof(out) - 1);
    out[n] = 0;
    assert_string_equal((char *)out, "HTTP/1.1 100 Continue\r\n\r\n");
    n = drive(c, "abcd", out, sizeof(out) - 1);
    out[n] = 0;
    assert_non_null(strstr((char *)out, "{\"bytes\":4,\"verified\":false}"));
    mpl_http_sconn_free(c);
}

/* An upload that says it is /bytes/N content is checked byte for byte: 422 when it is not. */
static void
test_sconn_upload_verified(void **state)
{
    mpl_http_server_cfg_t cfg = {.root = NULL, .quiet = 1};
    uint8_t out[4096], body[3000];
    char req[4096];
    mpl_http_sconn_t *c;
    size_t n;
    int hl;

    mpl_bytes_fill(0, body, sizeof(body));
    for (int bad = 0; bad < 2; bad++) {
        if (bad)
            body[1234] ^= 1;
        hl = mpl_http_build_request(req, sizeof(req), "POST", "x", "/upload", sizeof(body), 1);
        assert_true(hl > 0 && strstr(req, "X-Mplab-Body: bytes\r\n") != NULL);
        memcpy(req + hl, body, sizeof(body));
        c = mpl_http_sconn_new(&cfg);
        assert_int_equal(mpl_http_sconn_input(c, (const uint8_t *)req, (size_t)hl + sizeof(body)), 0);
        n = drive(c, "", out, sizeof(out) - 1);
        out[n] = 0;
        if (bad)
            assert_non_null(strstr((char *)out, "422 Unprocessable Content"));
        else
            assert_non_null(strstr((char *)out, "{\"bytes\":3000,\"verified\":true}"));
        mpl_http_sconn_free(c);
    }
}

static void
test_sconn_root(void **state)
{
    char dir[] = "/tmp/mplab-test-http-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/hello.txt", dir);
    FILE *f = fopen(path, "w");
    fputs("hello world\n", f);
    fclose(f);
    mpl_http_server_cfg_t cfg = {.root = dir, .quiet = 1};
    uint8_t out[4096];
    mpl_http_sconn_t *c = mpl_http_sconn_new(&cfg);
    size_t n = drive(c,
                     "GET /hello.txt HTTP/1.1\r\n\r\nGET /../../etc/passwd HTTP/1.1\r\n\r\n"
                     "GET /%2e%2e/etc/passwd HTTP/1.1\r\n\r\nGET /missing HTTP/1.1\r\n\r\n",
                     out, sizeof(out) - 1);
    out[n] = 0;
    assert_non_null(strstr((char *)out, "hello world\n"));
    assert_non_null(strstr((char *)out, "403 Forbidden"));
    assert_null(strstr((char *)out, "root:"));
    assert_non_null(strstr((char *)out, "404 Not Found"));
    mpl_http_sconn_free(c);
    unlink(path);
    rmdir(dir);
}

static void
test_response_parse(void **state)
{
    mpl_http_response_t r;
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    const uint8_t *p = (const uint8_t *)s;
    assert_int_equal(mpl_http_parse_response(&p, p + strlen(s), &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.content_length, 3);
    assert_int_equal(r.keep_alive, 1);
    s = "HTTP/1.0 404 Not Found\r\n\r\n";
    p = (const uint8_t *)s;
    assert_int_equal(mpl_http_parse_response(&p, p + strlen(s), &r), 0);
    assert_int_equal(r.keep_alive, 0);
    s = "HTTP/1.1 20 OK\r\n\r\n";
    p = (const uint8_t *)s;
    assert_int_equal(mpl_http_parse_response(&p, p + strlen(s), &r), -1);
    s = "SSH-2.0-OpenSSH\r\n\r\n";
    p = (const uint8_t *)s;
    assert_int_equal(mpl_http_parse_response(&p, p + strlen(s), &r), -1);
}

static void
test_cresp_mismatch_and_eof(void **state)
{
    mpl_body_sink_t sink;
    mpl_sink_cfg_t scfg = {.out_fd = -1, .hash = 0, .verify = 1};
    assert_int_equal(mpl_sink_init(&sink, &scfg), 0);
    mpl_sink_start(&sink);
    uint8_t buf[200];
    int n = snprintf((char *)buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    mpl_bytes_fill(0, buf + n, 50);
    buf[n + 20] ^= 1;
    mpl_http_cresp_t *r = mpl_http_cresp_new(0, 100);
    size_t used;
    /* byte by byte: the head is split across calls */
    int rc = 0;
    for (int i = 0; i < n + 50 && rc == 0; i++)
        rc = mpl_http_cresp_input(r, buf + i, 1, &used, &sink);
    assert_int_equal(rc, -1);
    assert_int_equal(sink.mismatch, 1);
    assert_int_equal(sink.mismatch_at, 20);
    mpl_http_cresp_free(r);
    /* truncated body */
    r = mpl_http_cresp_new(0, -1);
    assert_int_equal(mpl_http_cresp_input(r, buf, (size_t)n + 10, &used, NULL), 0);
    assert_int_equal(mpl_http_cresp_eof(r), 0);
    mpl_http_cresp_free(r);
    mpl_sink_cleanup(&sink);
}

static void
test_url_parse(void **state)
{
    mpl_url_t u;
    char err[128];
    assert_int_equal(mpl_url_parse("http://127.0.0.1:8080/bytes/1M", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.path, "/bytes/1M");
    assert_int_equal(mpl_url_parse("https://[::1]:443", &u, err, sizeof(err)), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.path, "/");
    assert_int_equal(u.https, 1);
    assert_int_equal(mpl_url_parse("localhost/x", &u, err, sizeof(err)), 0);
    assert_int_equal(u.port, -1);
    assert_int_equal(mpl_url_parse("ftp://x/", &u, err, sizeof(err)), -1);
    assert_int_equal(mpl_url_parse("http://h:99999/", &u, err, sizeof(err)), -1);
    assert_int_equal(mpl_url_parse("http://:80/", &u, err, sizeof(err)), -1);
    assert_int_equal(mpl_url_parse("http://h/a b", &u, err, sizeof(err)), -1);
}

static void
test_build_request(void **state)
{
    char buf[256];
    int n = mpl_http_build_request(buf, sizeof(buf), "GET", "h:1", "/x", 0, 1);
    assert_true(n > 0);
    mpl_http_request_t req;
    assert_int_equal(parse_req(buf, &req), 0);
    assert_string_equal(req.path, "/x");
    assert_int_equal(mpl_http_build_request(buf, 10, "GET", "h", "/x", 0, 1), -1);
}

/* bytesgen's fast paths (AVX2, unrolled) give the reference splitmix64 stream. */
static uint64_t
ref_splitmix(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void
test_bytesgen_reference(void **state)
{
    uint8_t buf[3000];
    for (uint64_t off = 0; off < 40; off += 3) {
        for (size_t len = 1; len <= sizeof(buf); len = len * 3 + 1) {
            mpl_bytes_fill(off, buf, len);
            for (size_t i = 0; i < len; i++) {
                uint64_t k = off + i;
                assert_int_equal(buf[i], (uint8_t)(ref_splitmix(MPL_BYTES_SEED + k / 8) >> (8 * (k % 8))));
            }
            assert_int_equal(mpl_bytes_check(off, buf, len), -1);
        }
    }
}

int
main(void)
{
    mpl_set_verbosity(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_request_ok),
        cmocka_unit_test(test_parse_request_bad),
        cmocka_unit_test(test_bytes_path),
        cmocka_unit_test(test_sconn_bytes_pipelined),
        cmocka_unit_test(test_sconn_errors_and_upload),
        cmocka_unit_test(test_sconn_upload_verified),
        cmocka_unit_test(test_sconn_expect_continue),
        cmocka_unit_test(test_sconn_root),
        cmocka_unit_test(test_response_parse),
        cmocka_unit_test(test_cresp_mismatch_and_eof),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_build_request),
        cmocka_unit_test(test_bytesgen_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
