/* libFuzzer target: HTTP request and response parsing (src/xfer/http.c), and a server connection
 * and a client response fed with arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xfer/http.h"
#include "xfer/sink.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mpl_http_request_t req;
    mpl_http_response_t resp;
    const uint8_t *p = data;
    mpl_set_verbosity(0);

    while (p < data + size && mpl_http_parse_request(&p, data + size, &req) == 0)
        ;
    p = data;
    mpl_http_parse_response(&p, data + size, &resp);

    /* server connection: input in two pieces, drain output */
    mpl_http_server_cfg_t cfg = {.root = NULL, .quiet = 1};
    mpl_http_sconn_t *c = mpl_http_sconn_new(&cfg);
    size_t half = size / 2, off = 0;
    for (int round = 0; round < 2 && c != NULL; round++) {
        size_t end = round == 0 ? half : size;
        while (off < end) {
            size_t space = mpl_http_sconn_input_space(c);
            size_t n = end - off < space ? end - off : space;
            if (n > 0) {
                mpl_http_sconn_input(c, data + off, n);
                off += n;
            }
            const uint8_t *o;
            size_t len;
            uint64_t sent = 0;
            /* cap the output: /bytes/N may ask for terabytes */
            while (sent < (1u << 20) && mpl_http_sconn_output(c, &o, &len) > 0) {
                mpl_http_sconn_consumed(c, len);
                sent += len;
            }
            if (n == 0 && sent >= (1u << 20))
                break;
            if (n == 0 && mpl_http_sconn_input_space(c) == 0)
                break;
        }
    }
    if (c != NULL)
        mpl_http_sconn_input_eof(c);
    mpl_http_sconn_free(c);

    /* client response, byte-split */
    mpl_body_sink_t sink;
    mpl_sink_cfg_t scfg = {.out_fd = -1, .hash = 0, .verify = 1};
    if (mpl_sink_init(&sink, &scfg) == 0) {
        mpl_sink_start(&sink);
        mpl_http_cresp_t *r = mpl_http_cresp_new(0, 1000);
        size_t pos = 0;
        while (r != NULL && pos < size) {
            size_t n = (size - pos) > 7 ? 7 : size - pos, used;
            int rc = mpl_http_cresp_input(r, data + pos, n, &used, &sink);
            pos += used;
            if (rc != 0)
                break;
        }
        if (r != NULL)
            mpl_http_cresp_eof(r);
        mpl_http_cresp_free(r);
        mpl_sink_cleanup(&sink);
    }
    return 0;
}
