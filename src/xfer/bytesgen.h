/*
 * bytesgen.h — the deterministic pseudo-random content served at /bytes/N.
 *
 * Byte k of the stream (k = 0, 1, ...) is byte (k mod 8) in little-endian order of the 64-bit
 * word splitmix64(MPL_BYTES_SEED + floor(k / 8)). Any offset can be generated or checked
 * without the preceding bytes, at several GB/s, so a client verifies a 10 GB download with no
 * file on either side. splitmix64(x): z = x + 0x9e3779b97f4a7c15;
 * z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9; z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
 * return z ^ (z >> 31).
 */
#ifndef MPLAB_BYTESGEN_H
#define MPLAB_BYTESGEN_H

#include <stddef.h>
#include <stdint.h>

#define MPL_BYTES_SEED 0x6d706c6162ull /* "mplab" */

/* Fills buf with len bytes of the stream starting at offset. */
void mpl_bytes_fill(uint64_t offset, uint8_t *buf, size_t len);
/* Returns -1 when buf equals the stream at offset, else the index in buf of the first
 * differing byte. */
int64_t mpl_bytes_check(uint64_t offset, const uint8_t *buf, size_t len);

#endif
