/*
 * fuzz_scenario.c — libFuzzer target: the input is a scenario file; when it parses, every
 * point of its sweep is resolved and its topology generated.
 */
#include <stdint.h>
#include <string.h>

#include "exp/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mpl_scenario_t sc;
    static char buf[16384];
    char err[512];
    if (mpl_sc_parse((const char *)data, size, "fuzz.ini", &sc, err, sizeof(err)) != 0) {
        if (err[0] == '\0')
            __builtin_trap(); /* every error is explained */
        return 0;
    }
    int n = mpl_sc_npoints(&sc);
    for (int i = 0; i < n && i < 64; i++) {
        mpl_sc_point_t pt;
        if (mpl_sc_point(&sc, i, &pt, err, sizeof(err)) != 0)
            __builtin_trap(); /* the parser checked every point */
        int len = mpl_sc_topology(&sc, &pt, "fuzz", buf, sizeof(buf));
        if (len < 0 || (size_t)len != strlen(buf))
            __builtin_trap();
    }
    return 0;
}
