/*
 * bytesgen.c — see bytesgen.h.
 */
#include "bytesgen.h"

#include <string.h>

static inline uint64_t
splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void
word_bytes(uint64_t index, uint8_t out[8])
{
    uint64_t w = splitmix64(MPL_BYTES_SEED + index);
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(w >> (8 * i));
}

void
mpl_bytes_fill(uint64_t offset, uint8_t *buf, size_t len)
{
    uint8_t w[8];
    /* leading partial word */
    while (len > 0 && (offset & 7) != 0) {
        word_bytes(offset >> 3, w);
        *buf++ = w[offset & 7];
        offset++;
        len--;
    }
    uint64_t index = offset >> 3;
    while (len >= 8) {
        word_bytes(index++, buf);
        buf += 8;
        len -= 8;
    }
    if (len > 0) {
        word_bytes(index, w);
        memcpy(buf, w, len);
    }
}

int64_t
mpl_bytes_check(uint64_t offset, const uint8_t *buf, size_t len)
{
    uint8_t tmp[4096];
    size_t done = 0;
    while (done < len) {
        size_t n = len - done < sizeof(tmp) ? len - done : sizeof(tmp);
        mpl_bytes_fill(offset + done, tmp, n);
        if (memcmp(tmp, buf + done, n) != 0) {
            for (size_t i = 0; i < n; i++)
                if (tmp[i] != buf[done + i])
                    return (int64_t)(done + i);
        }
        done += n;
    }
    return -1;
}
