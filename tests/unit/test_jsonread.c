/* Unit tests: src/common/jsonread.c (the bounds-checked JSON reader). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "common/jsonread.h"

static void
test_get_output(void **state)
{
    const char *t =
        "{\"proto\":\"mptcp\",\"bytes\":100000000,\"seconds\":8.5,\"goodput_mbps\":94.1,"
        "\"sha256\":null,\"verified\":true,\"intervals\":[{\"t\":0.1,\"bytes\":10,\"mbps\":0.0008},"
        "{\"t\":0.2,\"bytes\":0,\"mbps\":0}],\"mptcp\":false,\"subflows\":[],"
        "\"error\":\"a \\\"quoted\\\" \\u00e9\\n\"} ";
    mpl_jdoc_t d;
    char err[128];
    assert_int_equal(mpl_jdoc_parse(&d, t, strlen(t), err, sizeof(err)), 0);
    const mpl_jv_t *r = mpl_jdoc_root(&d);
    assert_int_equal(r->type, MPL_JV_OBJ);
    assert_string_equal(mpl_jv_str(&d, mpl_jv_get(&d, r, "proto"), ""), "mptcp");
    assert_true(mpl_jv_num(mpl_jv_get(&d, r, "bytes"), 0) == 1e8);
    assert_true(mpl_jv_num(mpl_jv_get(&d, r, "goodput_mbps"), 0) == 94.1);
    assert_true(mpl_jv_is_null(mpl_jv_get(&d, r, "sha256")));
    assert_int_equal(mpl_jv_bool(mpl_jv_get(&d, r, "verified"), 0), 1);
    assert_int_equal(mpl_jv_bool(mpl_jv_get(&d, r, "mptcp"), 1), 0);
    const mpl_jv_t *iv = mpl_jv_get(&d, r, "intervals");
    assert_int_equal(mpl_jv_len(iv), 2);
    assert_true(mpl_jv_num(mpl_jv_get(&d, mpl_jv_at(&d, iv, 1), "t"), 0) == 0.2);
    assert_null(mpl_jv_at(&d, iv, 2));
    assert_int_equal(mpl_jv_len(mpl_jv_get(&d, r, "subflows")), 0);
    assert_null(mpl_jv_child(&d, mpl_jv_get(&d, r, "subflows")));
    assert_string_equal(mpl_jv_str(&d, mpl_jv_get(&d, r, "error"), ""), "a \"quoted\" \xc3\xa9\n");
    /* missing keys and wrong types give the default */
    assert_null(mpl_jv_get(&d, r, "nope"));
    assert_true(isnan(mpl_jv_num(mpl_jv_get(&d, r, "proto"), NAN)));
    assert_null(mpl_jv_get(&d, iv, "t"));
    assert_string_equal(mpl_jv_str(&d, NULL, "dflt"), "dflt");
    mpl_jdoc_free(&d);
}

static void
test_numbers_and_escapes(void **state)
{
    const char *t = "[-0, 1e3, -2.5E-2, 12345678901234, \"\\ud83d\\ude00\", \"\\/\\b\\f\\r\\t\", true, null]";
    mpl_jdoc_t d;
    char err[128];
    assert_int_equal(mpl_jdoc_parse(&d, t, strlen(t), err, sizeof(err)), 0);
    const mpl_jv_t *a = mpl_jdoc_root(&d);
    assert_int_equal(mpl_jv_len(a), 8);
    assert_true(mpl_jv_num(mpl_jv_at(&d, a, 1), 0) == 1000);
    assert_true(mpl_jv_num(mpl_jv_at(&d, a, 2), 0) == -0.025);
    assert_true(mpl_jv_num(mpl_jv_at(&d, a, 3), 0) == 12345678901234.0);
    assert_string_equal(mpl_jv_str(&d, mpl_jv_at(&d, a, 4), ""), "\xf0\x9f\x98\x80");
    assert_string_equal(mpl_jv_str(&d, mpl_jv_at(&d, a, 5), ""), "/\b\f\r\t");
    mpl_jdoc_free(&d);
}

static void
expect_bad(const char *t)
{
    mpl_jdoc_t d;
    char err[128] = "";
    if (mpl_jdoc_parse(&d, t, strlen(t), err, sizeof(err)) != -1)
        fail_msg("'%s' parsed", t);
    assert_true(strlen(err) > 0);
    mpl_jdoc_free(&d);
}

static void
test_malformed(void **state)
{
    expect_bad("");
    expect_bad("{");
    expect_bad("{\"a\" 1}");
    expect_bad("{\"a\":1,}");
    expect_bad("[1,]");
    expect_bad("[1 2]");
    expect_bad("01");
    expect_bad("1.");
    expect_bad("-");
    expect_bad("1e");
    expect_bad("\"abc");
    expect_bad("\"a\\x\"");
    expect_bad("\"\\u12\"");
    expect_bad("\"tab\there\"");
    expect_bad("tru");
    expect_bad("nul");
    expect_bad("{} {}");
    expect_bad("{1:2}");
    /* nesting limit */
    char deep[200];
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    expect_bad(deep);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_output),
        cmocka_unit_test(test_numbers_and_escapes),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
