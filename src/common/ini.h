/*
 * ini.h — the INI reader under the topology files (src/testbed/topology.c) and the scenario
 * files (src/exp/scenario.c): lines, comments, [section] headers and 'key = value' pairs.
 * What a section or a key means is the caller's business.
 *
 * Syntax: one item per line, at most MPL_INI_LINE_MAX - 1 bytes; blanks around keys, values
 * and section names are ignored; '#' or ';' at the start of a line or after a blank starts a
 * comment that runs to the end of the line.
 *
 * Errors: "FILE:LINE: MESSAGE" (or "FILE: MESSAGE" for the whole file) in the caller's
 * buffer, and -1; each parser may word the syntax errors its own way (mpl_ini_syntax_t).
 */
#ifndef MPLAB_INI_H
#define MPLAB_INI_H

#include <stdarg.h>
#include <stddef.h>

#define MPL_INI_LINE_MAX 1024
#define MPL_INI_FILE_MAX (1 << 20) /* mpl_ini_load reads files smaller than this */

/* How a parser words the syntax errors: NULL fields get the default text, given in brackets. */
typedef struct mpl_ini_syntax {
    int reject_control;    /* 1: NUL bytes and control characters (but tab, CR) are errors */
    const char *header;    /* a '[' line that does not end with ']' ["section header without ']'"] */
    const char *no_equals; /* neither a header nor key = value ["expected 'key = value' or '[section]'"] */
    const char *no_key;    /* "= value" ["missing key before '='"] */
    const char *no_value;  /* "key =": a printf format given the key ["missing value for '%s'"] */
    const char *too_large; /* mpl_ini_load: the file is too large ["unreadable or larger than 1 MiB"] */
} mpl_ini_syntax_t;

typedef enum mpl_ini_kind {
    MPL_INI_END = 0, /* no more lines */
    MPL_INI_SECTION, /* "[name]": item.section */
    MPL_INI_KEY,     /* "key = value": item.key, item.value */
} mpl_ini_kind_t;

typedef struct mpl_ini_item {
    int line;      /* 1-based line number */
    char *section; /* MPL_INI_SECTION: what stands between the brackets, trimmed */
    char *key;     /* MPL_INI_KEY: both non-empty and trimmed */
    char *value;
} mpl_ini_item_t;

/* A reader over text[0..len) (not NUL-terminated). The items point into its line buffer and
 * stay valid until the next call of mpl_ini_next. */
typedef struct mpl_ini {
    const char *text;
    size_t len, pos;
    int line;
    const char *fname;
    const mpl_ini_syntax_t *syntax;
    char buf[MPL_INI_LINE_MAX];
} mpl_ini_t;

/* Starts reading text; fname names it in error messages; syntax may be NULL (defaults). */
void mpl_ini_init(mpl_ini_t *ini, const char *text, size_t len, const char *fname,
                  const mpl_ini_syntax_t *syntax);
/* The next section header or key, skipping blank and comment lines. Returns MPL_INI_SECTION,
 * MPL_INI_KEY or MPL_INI_END (0), or -1 on a syntax error with "FILE:LINE: MESSAGE" in err. */
int mpl_ini_next(mpl_ini_t *ini, mpl_ini_item_t *item, char *err, size_t errlen);

/* Strips blanks (space, tab; and CR at the end) from both ends of s, in place. Returns the
 * first non-blank character of s. */
char *mpl_ini_trim(char *s);

/* Formats "FILE:LINE: MESSAGE" (line > 0) or "FILE: MESSAGE" into err; returns -1. */
int mpl_ini_error(char *err, size_t errlen, const char *fname, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int mpl_ini_verror(char *err, size_t errlen, const char *fname, int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* Reads the file at path into a new buffer (*text, *len; free it with free()). Returns 0, or
 * -1 with "PATH: reason" in err (syntax->too_large words a file of MPL_INI_FILE_MAX or more). */
int mpl_ini_load(const char *path, const mpl_ini_syntax_t *syntax, char **text, size_t *len, char *err,
                 size_t errlen);

#endif
