/*
 * bench_reorder.c — the reorder buffer under hostile input (issue: "a CPU and memory
 * amplifier"). A server session takes 200 records of 1,024 one-byte Stream frames:
 *   in-order   offsets 0, 1, 2, ... (the baseline, measured in the same run)
 *   hostile    offsets 1, 3, 5, ... (every byte out of order, the gap at 0 never filled)
 *   too-far    one byte past the receive window: the session ends with a clear error
 * and prints CPU seconds, heap held after the input (mallinfo2) against the wire size, and
 * the ratio hostile / in-order. Targets: hostile < 0.5 s of CPU, heap < 2x the wire size.
 *
 *   build/bench/bench_reorder [RECORDS]
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_cpu.h"

#include "internal.h"

#define FRAMES_PER_RECORD 1024

static void
on_data(tcpls_session_t *s, uint32_t id, const uint8_t *data, size_t len, int fin, void *ud)
{
    *(size_t *)ud += len;
}

/* Runs one input pattern: offset of frame k is k * stride + first. Returns the error that
 * ended the session (0 if none); fills cpu, heap and wire. */
static int
run(size_t records, uint64_t stride, uint64_t first, double *cpu, size_t *heap, size_t *wire, size_t *got)
{
    static const tcpls_ops_t ops = {.stream_data = on_data};
    tcpls_ctx_config_t cfg = {.is_server = 1, .insecure = 1};
    tcpls_ctx_t *ctx = tcpls_ctx_new(&cfg, NULL, 0);
    tcpls_session_t *s;
    uint8_t *buf = malloc(FRAMES_PER_RECORD * 32);
    size_t before;
    double t0;
    int r = 0;

    *got = 0;
    s = tcpls_session_new(ctx, &ops, got, NULL);
    before = mallinfo2().uordblks + mallinfo2().hblkhd;
    *wire = 0;
    t0 = bench_cpu_now();
    for (size_t rec = 0; rec < records && r == 0; rec++) {
        size_t n = 0;
        /* frames are read back to front: the first written is processed last */
        for (size_t i = FRAMES_PER_RECORD; i-- > 0;) {
            tcpls_frame_t f = {.type = TCPLS_FRAME_STREAM};
            uint64_t k = rec * FRAMES_PER_RECORD + i;
            f.u.stream.stream_id = 0;
            f.u.stream.offset = k * stride + first;
            f.u.stream.data = (const uint8_t *)"x";
            f.u.stream.len = 1;
            n += tcpls__frame_encode(buf + n, 32, &f);
        }
        *wire += n + TCPLS_RECORD_HEADER_LEN + TCPLS_RECORD_TAG_LEN + 1;
        r = tcpls__session_feed_frames(s, 0, buf, n);
    }
    *cpu = bench_cpu_now() - t0;
    *heap = mallinfo2().uordblks + mallinfo2().hblkhd - before;
    tcpls_session_free(s);
    tcpls_ctx_free(ctx);
    free(buf);
    return r;
}

int
main(int argc, char **argv)
{
    size_t records = argc > 1 ? strtoul(argv[1], NULL, 10) : 200, heap, wire, got;
    double cpu_in, cpu_bad, cpu_far;
    int r;

    run(records, 1, 0, &cpu_in, &heap, &wire, &got);
    printf("in-order   %zu frames, %zu wire bytes: %.3f s CPU, %zu bytes delivered\n",
           records * FRAMES_PER_RECORD, wire, cpu_in, got);
    r = run(records, 2, 1, &cpu_bad, &heap, &wire, &got);
    printf("hostile    %zu frames, %zu wire bytes: %.3f s CPU, heap held %zu bytes (%.2fx wire), %s\n",
           records * FRAMES_PER_RECORD, wire, cpu_bad, heap, (double)heap / wire,
           r ? tcpls_strerror(r) : "session alive");
    r = run(1, 1, 64u << 20, &cpu_far, &heap, &wire, &got);
    printf("too-far    one record past the window: %s (%.3f s CPU)\n", r ? tcpls_strerror(r) : "accepted?!",
           cpu_far);
    printf("ratio hostile / in-order CPU: %.2f\n", cpu_in > 0 ? cpu_bad / cpu_in : 0.0);
    return 0;
}
