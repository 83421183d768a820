/* Unit tests: src/common/ini.c (the INI reader under topology and scenario files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/ini.h"

static void
test_items(void **state)
{
    const char *text = "# comment\n"
                       "; another\n"
                       "\n"
                       "[ host a ]  # after a header\n"
                       "  key =  some value \t; after a value\r\n"
                       "url = http://x/#frag\n"
                       "[events]";
    mpl_ini_t ini;
    mpl_ini_item_t it;
    char err[128] = "";
    mpl_ini_init(&ini, text, strlen(text), "t.ini", NULL);
    assert_int_equal(mpl_ini_next(&ini, &it, err, sizeof(err)), MPL_INI_SECTION);
    assert_int_equal(it.line, 4);
    assert_string_equal(it.section, "host a");
    assert_int_equal(mpl_ini_next(&ini, &it, err, sizeof(err)), MPL_INI_KEY);
    assert_int_equal(it.line, 5);
    assert_string_equal(it.key, "key");
    assert_string_equal(it.value, "some value");
    assert_int_equal(mpl_ini_next(&ini, &it, err, sizeof(err)), MPL_INI_KEY);
    assert_string_equal(it.value, "http://x/#frag"); /* '#' not after a blank is text */
    assert_int_equal(mpl_ini_next(&ini, &it, err, sizeof(err)), MPL_INI_SECTION);
    assert_int_equal(it.line, 7);
    assert_string_equal(it.section, "events");
    assert_int_equal(mpl_ini_next(&ini, &it, err, sizeof(err)), MPL_INI_END);
    assert_int_equal(mpl_ini_next(&ini, &it, err, sizeof(err)), MPL_INI_END);
    assert_string_equal(err, "");
}

static void
expect_error(const char *text, size_t len, const mpl_ini_syntax_t *syn, const char *want)
{
    mpl_ini_t ini;
    mpl_ini_item_t it;
    char err[128] = "";
    int rc;
    mpl_ini_init(&ini, text, len, "t.ini", syn);
    while ((rc = mpl_ini_next(&ini, &it, err, sizeof(err))) > 0)
        ;
    assert_int_equal(rc, -1);
    assert_string_equal(err, want);
}

static void
test_default_errors(void **state)
{
    const mpl_ini_syntax_t strict = {.reject_control = 1};
    expect_error("[host c\n", 8, NULL, "t.ini:1: section header without ']'");
    expect_error("[a]\njunk\n", 9, NULL, "t.ini:2: expected 'key = value' or '[section]'");
    expect_error("= 1\n", 4, NULL, "t.ini:1: missing key before '='");
    expect_error("\n\nrate =  # none\n", 16, NULL, "t.ini:3: missing value for 'rate'");
    expect_error("a = 1\0b\n", 8, &strict, "t.ini:1: NUL byte in line");
    expect_error("a = \x01\n", 6, &strict, "t.ini:1: control character in line");
    char longline[MPL_INI_LINE_MAX + 8];
    memset(longline, 'x', sizeof(longline));
    expect_error(longline, sizeof(longline), NULL, "t.ini:1: line too long");
}

static void
test_worded_errors(void **state)
{
    const mpl_ini_syntax_t syn = {
        .header = "malformed section header",
        .no_equals = "expected 'key = value'",
        .no_key = "empty key or value",
        .no_value = "empty key or value",
    };
    expect_error("[x\n", 3, &syn, "t.ini:1: malformed section header");
    expect_error("junk\n", 5, &syn, "t.ini:1: expected 'key = value'");
    expect_error("= v\n", 4, &syn, "t.ini:1: empty key or value");
    expect_error("k =\n", 4, &syn, "t.ini:1: empty key or value");
}

static void
test_control_allowed(void **state)
{
    /* without reject_control a NUL ends the line's text, as in a C string */
    mpl_ini_t ini;
    mpl_ini_item_t it;
    char err[64];
    mpl_ini_init(&ini, "k = v\0junk\n", 11, "t.ini", NULL);
    assert_int_equal(mpl_ini_next(&ini, &it, err, sizeof(err)), MPL_INI_KEY);
    assert_string_equal(it.value, "v");
    assert_int_equal(mpl_ini_next(&ini, &it, err, sizeof(err)), MPL_INI_END);
}

static void
test_error_format(void **state)
{
    char err[64];
    assert_int_equal(mpl_ini_error(err, sizeof(err), "f.ini", 12, "bad %s", "thing"), -1);
    assert_string_equal(err, "f.ini:12: bad thing");
    assert_int_equal(mpl_ini_error(err, sizeof(err), "f.ini", 0, "whole file"), -1);
    assert_string_equal(err, "f.ini: whole file");
    char s[] = " \t x y \r";
    assert_string_equal(mpl_ini_trim(s), "x y");
}

static void
test_load(void **state)
{
    char path[] = "/tmp/mplab-test-ini-XXXXXX", err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "[a]\nk = v\n", 10), 10);
    close(fd);
    char *text;
    size_t len;
    assert_int_equal(mpl_ini_load(path, NULL, &text, &len, err, sizeof(err)), 0);
    assert_int_equal(len, 10);
    assert_memory_equal(text, "[a]\nk = v\n", 10);
    free(text);
    unlink(path);
    assert_int_equal(mpl_ini_load(path, NULL, &text, &len, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file or directory"));
    assert_null(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items),         cmocka_unit_test(test_default_errors),
        cmocka_unit_test(test_worded_errors), cmocka_unit_test(test_control_allowed),
        cmocka_unit_test(test_error_format),  cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
