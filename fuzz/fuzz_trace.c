/* libFuzzer target: the Mahimahi trace parser and delivery (src/testbed/trace.c). */
#include <stddef.h>
#include <stdint.h>

#include "testbed/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mpl_trace_t t;
    char err[256];
    if (mpl_trace_parse((const char *)data, size, "fuzz.trace", &t, err, sizeof(err)) == 0) {
        mpl_trace_link_t l;
        mpl_trace_link_init(&l, &t, 1000000000ull);
        uint64_t ready = 1000000000ull;
        for (uint32_t i = 0; i < 64; i++) {
            uint64_t at = mpl_trace_depart(&l, ready, 64 + (i * 977u) % 3000u);
            if (at < ready)
                __builtin_trap(); /* a frame never leaves before it is ready */
            ready += (i % 7) * 1000000ull;
        }
        (void)mpl_trace_mean_bps(&t);
        mpl_trace_free(&t);
    }
    return 0;
}
