/*
 * ini.c — see ini.h.
 */
#include "common/ini.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const mpl_ini_syntax_t default_syntax;

static const char *
word(const char *custom, const char *dflt)
{
    return custom != NULL ? custom : dflt;
}

char *
mpl_ini_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int
mpl_ini_verror(char *err, size_t errlen, const char *fname, int line, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (errlen == 0)
        return -1;
    if (line > 0)
        snprintf(err, errlen, "%s:%d: %s", fname, line, msg);
    else
        snprintf(err, errlen, "%s: %s", fname, msg);
    return -1;
}

int
mpl_ini_error(char *err, size_t errlen, const char *fname, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mpl_ini_verror(err, errlen, fname, line, fmt, ap);
    va_end(ap);
    return -1;
}

void
mpl_ini_init(mpl_ini_t *ini, const char *text, size_t len, const char *fname, const mpl_ini_syntax_t *syntax)
{
    memset(ini, 0, sizeof(*ini));
    ini->text = text;
    ini->len = len;
    ini->fname = fname;
    ini->syntax = syntax != NULL ? syntax : &default_syntax;
}

/* Copies the next line into ini->buf. Returns 1, 0 at the end of the text, -1 on error. */
static int
next_line(mpl_ini_t *ini, char *err, size_t errlen)
{
    if (ini->pos >= ini->len)
        return 0;
    size_t end = ini->pos;
    while (end < ini->len && ini->text[end] != '\n')
        end++;
    size_t n = end - ini->pos;
    ini->line++;
    if (n >= sizeof(ini->buf))
        return mpl_ini_error(err, errlen, ini->fname, ini->line, "line too long");
    memcpy(ini->buf, ini->text + ini->pos, n);
    ini->buf[n] = '\0';
    ini->pos = end + 1;
    if (ini->syntax->reject_control) {
        if (strlen(ini->buf) != n)
            return mpl_ini_error(err, errlen, ini->fname, ini->line, "NUL byte in line");
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)ini->buf[i] < 0x20 && ini->buf[i] != '\t' && ini->buf[i] != '\r')
                return mpl_ini_error(err, errlen, ini->fname, ini->line, "control character in line");
    }
    return 1;
}

int
mpl_ini_next(mpl_ini_t *ini, mpl_ini_item_t *item, char *err, size_t errlen)
{
    const mpl_ini_syntax_t *syn = ini->syntax;
    int rc;
    memset(item, 0, sizeof(*item));
    while ((rc = next_line(ini, err, errlen)) > 0) {
        item->line = ini->line;
        for (char *c = ini->buf; *c; c++)
            if ((*c == '#' || *c == ';') && (c == ini->buf || c[-1] == ' ' || c[-1] == '\t')) {
                *c = '\0';
                break;
            }
        char *s = mpl_ini_trim(ini->buf);
        if (*s == '\0')
            continue;
        if (*s == '[') {
            size_t sl = strlen(s);
            if (s[sl - 1] != ']')
                return mpl_ini_error(err, errlen, ini->fname, ini->line, "%s",
                                     word(syn->header, "section header without ']'"));
            s[sl - 1] = '\0';
            item->section = mpl_ini_trim(s + 1);
            return MPL_INI_SECTION;
        }
        char *eq = strchr(s, '=');
        if (eq == NULL)
            return mpl_ini_error(err, errlen, ini->fname, ini->line, "%s",
                                 word(syn->no_equals, "expected 'key = value' or '[section]'"));
        *eq = '\0';
        item->key = mpl_ini_trim(s);
        item->value = mpl_ini_trim(eq + 1);
        if (*item->key == '\0')
            return mpl_ini_error(err, errlen, ini->fname, ini->line, "%s",
                                 word(syn->no_key, "missing key before '='"));
        if (*item->value == '\0') {
            char msg[MPL_INI_LINE_MAX + 64];
            snprintf(msg, sizeof(msg), word(syn->no_value, "missing value for '%s'"), item->key);
            return mpl_ini_error(err, errlen, ini->fname, ini->line, "%s", msg);
        }
        return MPL_INI_KEY;
    }
    return rc;
}

int
mpl_ini_load(const char *path, const mpl_ini_syntax_t *syntax, char **text, size_t *len, char *err,
             size_t errlen)
{
    if (syntax == NULL)
        syntax = &default_syntax;
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mpl_ini_error(err, errlen, path, 0, "%s", strerror(errno));
    char *buf = malloc(MPL_INI_FILE_MAX);
    if (buf == NULL) {
        fclose(f);
        return mpl_ini_error(err, errlen, path, 0, "out of memory");
    }
    size_t n = fread(buf, 1, MPL_INI_FILE_MAX, f);
    int bad = ferror(f) || n == MPL_INI_FILE_MAX;
    fclose(f);
    if (bad) {
        free(buf);
        return mpl_ini_error(err, errlen, path, 0, "%s",
                             word(syntax->too_large, "unreadable or larger than 1 MiB"));
    }
    *text = buf;
    *len = n;
    return 0;
}
