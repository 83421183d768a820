/*
 * fuzz_jsonread.c — libFuzzer target: the input is a JSON document (as `mplab get --json`
 * writes); when it parses, every value is visited through the accessors.
 */
#include <stdint.h>
#include <string.h>

#include "common/jsonread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
walk(const mpl_jdoc_t *d, const mpl_jv_t *v, int depth)
{
    size_t n = 1;
    if (depth > MPL_JREAD_MAX_DEPTH + 1)
        __builtin_trap();
    if (v->type == MPL_JV_STR && mpl_jv_str(d, v, NULL) == NULL)
        __builtin_trap();
    size_t count = 0;
    for (const mpl_jv_t *c = mpl_jv_child(d, v); c != NULL; c = mpl_jv_next(d, c)) {
        if (v->type == MPL_JV_OBJ && mpl_jv_get(d, v, mpl_jv_key(d, c)) == NULL)
            __builtin_trap(); /* every key can be looked up */
        n += walk(d, c, depth + 1);
        count++;
    }
    if (count != mpl_jv_len(v))
        __builtin_trap();
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mpl_jdoc_t d;
    char err[256];
    if (mpl_jdoc_parse(&d, (const char *)data, size, err, sizeof(err)) == 0) {
        const mpl_jv_t *root = mpl_jdoc_root(&d);
        if (root == NULL || walk(&d, root, 0) != d.n)
            __builtin_trap(); /* every node is reached exactly once from the root */
        mpl_jv_num(mpl_jv_get(&d, root, "goodput_mbps"), 0);
        mpl_jv_len(mpl_jv_get(&d, root, "intervals"));
    }
    mpl_jdoc_free(&d);
    return 0;
}
