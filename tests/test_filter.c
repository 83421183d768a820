/*
 * test_filter.c — linked into every cmocka binary (tests/unit, tests/sim): TEST_FILTER=PATTERN
 * in the environment runs only the test cases whose names match PATTERN ('*' and '?' are
 * wildcards), e.g. TEST_FILTER=test_load build/tests/unit/test_ini, or through
 * sh tests/run.sh --only unit test_ini --case test_load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

/* Runs before main, so that the test files need no line of their own. */
static void __attribute__((constructor)) apply_test_filter(void)
{
    const char *pattern = getenv("TEST_FILTER");
    if (pattern != NULL && pattern[0] != '\0')
        cmocka_set_test_filter(pattern);
}
