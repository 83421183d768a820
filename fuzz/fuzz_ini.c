/*
 * fuzz_ini.c — libFuzzer target: the INI reader (src/common/ini.c) under both wordings of its
 * errors; every item it returns is checked against what ini.h promises.
 */
#include <stdint.h>
#include <string.h>

#include "common/ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
read_all(const uint8_t *data, size_t size, const mpl_ini_syntax_t *syn)
{
    mpl_ini_t ini;
    mpl_ini_item_t it;
    char err[256] = "";
    int rc, last_line = 0;
    mpl_ini_init(&ini, (const char *)data, size, "fuzz.ini", syn);
    while ((rc = mpl_ini_next(&ini, &it, err, sizeof(err))) > 0) {
        if (it.line <= last_line)
            __builtin_trap(); /* one item per line, in order */
        last_line = it.line;
        if (rc == MPL_INI_SECTION && it.section == NULL)
            __builtin_trap();
        if (rc == MPL_INI_KEY && (it.key[0] == '\0' || it.value[0] == '\0' || strchr(it.key, '=') != NULL))
            __builtin_trap();
    }
    if (rc < 0 && strncmp(err, "fuzz.ini:", 9) != 0)
        __builtin_trap(); /* every error names the file and the line */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mpl_ini_syntax_t strict = {.reject_control = 1};
    static const mpl_ini_syntax_t worded = {.header = "malformed section header", .no_value = "empty value"};
    read_all(data, size, NULL);
    read_all(data, size, &strict);
    read_all(data, size, &worded);
    return 0;
}
