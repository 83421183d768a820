/* Unit tests: src/common/util.c, src/common/json.c, src/xfer/bytesgen.c (the shared helpers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "xfer/bytesgen.h"
#include "common/json.h"
#include "common/util.h"

static void
test_parse_size(void **state)
{
    uint64_t v;
    assert_int_equal(mpl_parse_size("1500", &v), 0);
    assert_int_equal(v, 1500);
    assert_int_equal(mpl_parse_size("100M", &v), 0);
    assert_int_equal(v, 100000000);
    assert_int_equal(mpl_parse_size("10GB", &v), 0);
    assert_int_equal(v, 10000000000ull);
    assert_int_equal(mpl_parse_size("64KiB", &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(mpl_parse_size("1.5k", &v), 0);
    assert_int_equal(v, 1500);
    assert_int_equal(mpl_parse_size("", &v), -1);
    assert_int_equal(mpl_parse_size("-5", &v), -1);
    assert_int_equal(mpl_parse_size("12x", &v), -1);
    assert_int_equal(mpl_parse_size("1e30", &v), -1);
    assert_int_equal(mpl_parse_size("0.5", &v), -1);
}

static void
test_parse_rate_duration(void **state)
{
    uint64_t v;
    assert_int_equal(mpl_parse_rate("100mbit", &v), 0);
    assert_int_equal(v, 100000000);
    assert_int_equal(mpl_parse_rate("1Gbit/s", &v), 0);
    assert_int_equal(v, 1000000000);
    assert_int_equal(mpl_parse_rate("fast", &v), -1);
    assert_int_equal(mpl_parse_duration("250ms", &v), 0);
    assert_int_equal(v, 250000000);
    assert_int_equal(mpl_parse_duration("5s", &v), 0);
    assert_int_equal(v, 5000000000ull);
    assert_int_equal(mpl_parse_duration("2.5", &v), 0);
    assert_int_equal(v, 2500000000ull);
    assert_int_equal(mpl_parse_duration("100us", &v), 0);
    assert_int_equal(v, 100000);
    assert_int_equal(mpl_parse_duration("s", &v), -1);
    assert_int_equal(mpl_parse_duration("-1s", &v), -1);
}

static void
test_parse_addr(void **state)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char buf[64], err[128];
    assert_int_equal(mpl_parse_addr("10.0.0.1:8080", -1, &ss, &len, err, sizeof(err)), 0);
    assert_string_equal(mpl_fmt_addr((struct sockaddr *)&ss, 1, buf, sizeof(buf)), "10.0.0.1:8080");
    assert_int_equal(mpl_parse_addr("[::1]:443", -1, &ss, &len, err, sizeof(err)), 0);
    assert_string_equal(mpl_fmt_addr((struct sockaddr *)&ss, 1, buf, sizeof(buf)), "[::1]:443");
    assert_int_equal(mpl_parse_addr("::1", 80, &ss, &len, err, sizeof(err)), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(mpl_parse_addr("127.0.0.1", 80, &ss, &len, err, sizeof(err)), 0);
    assert_string_equal(mpl_fmt_addr((struct sockaddr *)&ss, 1, buf, sizeof(buf)), "127.0.0.1:80");
    assert_int_equal(mpl_parse_addr("127.0.0.1", -1, &ss, &len, err, sizeof(err)), -1);
    assert_int_equal(mpl_parse_addr("127.0.0.1:99999", -1, &ss, &len, err, sizeof(err)), -1);
    assert_int_equal(mpl_parse_addr("example.com:80", -1, &ss, &len, err, sizeof(err)), -1);
    assert_int_equal(mpl_parse_addr("[::1", -1, &ss, &len, err, sizeof(err)), -1);
    assert_int_equal(mpl_parse_addr("", -1, &ss, &len, err, sizeof(err)), -1);
}

static void
test_bytesgen(void **state)
{
    uint8_t a[1000], b[1000];
    mpl_bytes_fill(0, a, sizeof(a));
    /* any offset, any alignment, gives the same bytes as the whole stream */
    for (uint64_t off = 0; off < 40; off++) {
        mpl_bytes_fill(off, b, sizeof(b) - 40);
        assert_memory_equal(a + off, b, sizeof(b) - 40);
        assert_int_equal(mpl_bytes_check(off, a + off, 500), -1);
    }
    a[123] ^= 1;
    assert_int_equal(mpl_bytes_check(0, a, sizeof(a)), 123);
    /* the documented formula: first word is splitmix64(seed) little-endian */
    uint64_t z = MPL_BYTES_SEED + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    mpl_bytes_fill(0, b, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(b[i], (uint8_t)(z >> (8 * i)));
    /* every vector path (AVX-512, AVX2, scalar) gives the formula's words */
    mpl_bytes_fill(0, a, sizeof(a));
    for (uint64_t w = 0; w < sizeof(a) / 8; w++) {
        uint64_t x = MPL_BYTES_SEED + w + 0x9e3779b97f4a7c15ull;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
        x ^= x >> 31;
        for (int i = 0; i < 8; i++)
            assert_int_equal(a[8 * w + (uint64_t)i], (uint8_t)(x >> (8 * i)));
    }
}

static void
test_json(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mpl_json_t j;
    mpl_json_init(&j, f);
    mpl_json_obj_begin(&j, NULL);
    mpl_json_str(&j, "proto", "t\"c\\p\n");
    mpl_json_u64(&j, "bytes", 42);
    mpl_json_num(&j, "mbps", 1.5);
    mpl_json_bool(&j, "ok", 1);
    mpl_json_arr_begin(&j, "list");
    mpl_json_obj_begin(&j, NULL);
    mpl_json_i64(&j, "t", -1);
    mpl_json_obj_end(&j);
    mpl_json_num(&j, NULL, 0.0 / 0.0);
    mpl_json_arr_end(&j);
    mpl_json_obj_end(&j);
    mpl_json_finish(&j);
    fclose(f);
    assert_string_equal(buf, "{\"proto\":\"t\\\"c\\\\p\\n\",\"bytes\":42,\"mbps\":1.5,\"ok\":true,"
                             "\"list\":[{\"t\":-1},null]}\n");
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_size), cmocka_unit_test(test_parse_rate_duration),
        cmocka_unit_test(test_parse_addr), cmocka_unit_test(test_bytesgen),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
