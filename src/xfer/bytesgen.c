/*
 * bytesgen.c — see bytesgen.h.
 */
#include "xfer/bytesgen.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MPL_BYTES_AVX2 1
#endif

static inline uint64_t
splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void
store_le64(uint8_t *p, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &w, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(w >> (8 * i));
#endif
}

static inline void
word_bytes(uint64_t index, uint8_t out[8])
{
    store_le64(out, splitmix64(MPL_BYTES_SEED + index));
}

#ifdef MPL_BYTES_AVX2
/* 64-bit multiply by a constant, per lane, from 32x32->64 products (AVX2 has no vpmullq). */
__attribute__((target("avx2"))) static inline __m256i
mul64c(__m256i a, uint64_t c)
{
    const __m256i clo = _mm256_set1_epi64x((long long)(c & 0xffffffffu));
    const __m256i chi = _mm256_set1_epi64x((long long)(c >> 32));
    __m256i lo = _mm256_mul_epu32(a, clo);
    __m256i cross =
        _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), clo), _mm256_mul_epu32(a, chi));
    return _mm256_add_epi64(lo, _mm256_slli_epi64(cross, 32));
}

__attribute__((target("avx2"))) static inline __m256i
splitmix4(__m256i x)
{
    __m256i z = _mm256_add_epi64(x, _mm256_set1_epi64x((long long)0x9e3779b97f4a7c15ull));
    z = mul64c(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), 0xbf58476d1ce4e5b9ull);
    z = mul64c(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), 0x94d049bb133111ebull);
    return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

/* Words index .. index + 8*n8 - 1 into buf (little-endian), 8 per round. */
__attribute__((target("avx2"))) static void
fill_words_avx2(uint64_t index, uint8_t *buf, size_t n8)
{
    __m256i x0 = _mm256_add_epi64(_mm256_set1_epi64x((long long)(MPL_BYTES_SEED + index)),
                                  _mm256_set_epi64x(3, 2, 1, 0));
    __m256i x1 = _mm256_add_epi64(x0, _mm256_set1_epi64x(4));
    const __m256i step = _mm256_set1_epi64x(8);
    for (size_t i = 0; i < n8; i++) {
        _mm256_storeu_si256((__m256i *)(void *)buf, splitmix4(x0));
        _mm256_storeu_si256((__m256i *)(void *)(buf + 32), splitmix4(x1));
        x0 = _mm256_add_epi64(x0, step);
        x1 = _mm256_add_epi64(x1, step);
        buf += 64;
    }
}

/* AVX-512DQ has a 64-bit multiply (vpmullq): 8 words per vector, 16 per round. */
__attribute__((target("avx512f,avx512dq"))) static __m512i
splitmix8(__m512i x)
{
    __m512i z = _mm512_add_epi64(x, _mm512_set1_epi64((long long)0x9e3779b97f4a7c15ull));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
                           _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ull));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
                           _mm512_set1_epi64((long long)0x94d049bb133111ebull));
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/* Words index .. index + 16*n16 - 1 into buf (little-endian), 16 per round. */
__attribute__((target("avx512f,avx512dq"))) static void
fill_words_avx512(uint64_t index, uint8_t *buf, size_t n16)
{
    __m512i x0 = _mm512_add_epi64(_mm512_set1_epi64((long long)(MPL_BYTES_SEED + index)),
                                  _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0));
    __m512i x1 = _mm512_add_epi64(x0, _mm512_set1_epi64(8));
    const __m512i step = _mm512_set1_epi64(16);
    for (size_t i = 0; i < n16; i++) {
        _mm512_storeu_si512((void *)buf, splitmix8(x0));
        _mm512_storeu_si512((void *)(buf + 64), splitmix8(x1));
        x0 = _mm512_add_epi64(x0, step);
        x1 = _mm512_add_epi64(x1, step);
        buf += 128;
    }
}

static int
have_avx512(void)
{
    static int v = -1;
    if (v < 0)
        v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") ? 1 : 0;
    return v;
}

static int
have_avx2(void)
{
    static int v = -1;
    if (v < 0)
        v = __builtin_cpu_supports("avx2") ? 1 : 0;
    return v;
}
#endif

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
#ifdef MPL_BYTES_AVX2
    /* the widest vector path first: words per call of fill_words_* and bytes per round */
    static const struct {
        int (*have)(void);
        void (*fill)(uint64_t, uint8_t *, size_t);
        size_t words;
    } paths[] = {{have_avx512, fill_words_avx512, 16}, {have_avx2, fill_words_avx2, 8}};
    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
        size_t round = 8 * paths[p].words, n = len / round;
        if (n == 0 || !paths[p].have())
            continue;
        paths[p].fill(index, buf, n);
        index += paths[p].words * n;
        buf += round * n;
        len -= round * n;
    }
#endif
    while (len >= 32) { /* four independent words per round: the multiplies overlap */
        uint64_t v[4] = {splitmix64(MPL_BYTES_SEED + index), splitmix64(MPL_BYTES_SEED + index + 1),
                         splitmix64(MPL_BYTES_SEED + index + 2), splitmix64(MPL_BYTES_SEED + index + 3)};
        for (int i = 0; i < 4; i++)
            store_le64(buf + 8 * i, v[i]);
        index += 4;
        buf += 32;
        len -= 32;
    }
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
    uint8_t tmp[16384];
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
