/*
 * jsonread.c — see jsonread.h. A recursive-descent parser over (src, end) with a depth limit;
 * every read is bounds-checked and malformed input is an error, never an abort.
 */
#include "common/jsonread.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE ((size_t)-1)

typedef struct jparser {
    mpl_jdoc_t *d;
    const uint8_t *start;
    char *err;
    size_t errlen;
} jparser_t;

static int __attribute__((format(printf, 3, 4))) jerr(jparser_t *p, const uint8_t *at, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->err != NULL && p->errlen > 0)
        snprintf(p->err, p->errlen, "%s at byte %zu", msg, (size_t)(at - p->start));
    return -1;
}

static size_t
new_node(mpl_jdoc_t *d, mpl_jtype_t type)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        mpl_jv_t *nn = realloc(d->nodes, cap * sizeof(*nn));
        if (nn == NULL)
            return NONE;
        d->nodes = nn;
        d->cap = cap;
    }
    mpl_jv_t *v = &d->nodes[d->n];
    memset(v, 0, sizeof(*v));
    v->type = type;
    v->key = v->first = v->next = NONE;
    return d->n++;
}

static void
skip_ws(const uint8_t **src, const uint8_t *end)
{
    while (*src < end && (**src == ' ' || **src == '\t' || **src == '\n' || **src == '\r'))
        (*src)++;
}

static int
hex4(const uint8_t *s, const uint8_t *end, unsigned *out)
{
    unsigned v = 0;
    if (end - s < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        uint8_t c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void
put_utf8(char *o, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        o[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        o[(*n)++] = (char)(0xc0 | (cp >> 6));
        o[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        o[(*n)++] = (char)(0xe0 | (cp >> 12));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        o[(*n)++] = (char)(0xf0 | (cp >> 18));
        o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/* Decodes the string starting at the opening quote into d->strings; *off = its offset. The
 * strings buffer was sized to the input length + 1 per string, so decoding (never longer than
 * its source, a \uXXXX escape gives at most 4 bytes from 6) fits; checked anyway. */
static int
parse_string(jparser_t *p, const uint8_t **src, const uint8_t *end, size_t *off)
{
    mpl_jdoc_t *d = p->d;
    const uint8_t *s = *src;
    if (s >= end || *s != '"')
        return jerr(p, s, "expected a string");
    s++;
    /* room: the rest of the input plus the terminator */
    size_t need = d->slen + (size_t)(end - s) + 1;
    if (need > d->scap) {
        size_t cap = d->scap ? d->scap : 256;
        while (cap < need)
            cap *= 2;
        char *ns = realloc(d->strings, cap);
        if (ns == NULL)
            return jerr(p, s, "out of memory");
        d->strings = ns;
        d->scap = cap;
    }
    char *o = d->strings;
    size_t n = d->slen;
    *off = n;
    for (;;) {
        if (s >= end)
            return jerr(p, s, "unterminated string");
        uint8_t c = *s++;
        if (c == '"')
            break;
        if (c < 0x20)
            return jerr(p, s - 1, "control character in string");
        if (c != '\\') {
            o[n++] = (char)c;
            continue;
        }
        if (s >= end)
            return jerr(p, s, "unterminated escape");
        c = *s++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            o[n++] = (char)c;
            break;
        case 'b':
            o[n++] = '\b';
            break;
        case 'f':
            o[n++] = '\f';
            break;
        case 'n':
            o[n++] = '\n';
            break;
        case 'r':
            o[n++] = '\r';
            break;
        case 't':
            o[n++] = '\t';
            break;
        case 'u': {
            unsigned cp;
            if (hex4(s, end, &cp) != 0)
                return jerr(p, s, "bad \\u escape");
            s += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && end - s >= 6 && s[0] == '\\' && s[1] == 'u') {
                unsigned lo;
                if (hex4(s + 2, end, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    s += 6;
                }
            }
            if (cp == 0)
                cp = '?'; /* strings are NUL-terminated */
            put_utf8(o, &n, cp);
            break;
        }
        default:
            return jerr(p, s - 1, "bad escape");
        }
    }
    o[n++] = '\0';
    d->slen = n;
    *src = s;
    return 0;
}

static int
parse_number(jparser_t *p, const uint8_t **src, const uint8_t *end, double *out)
{
    const uint8_t *s = *src;
    char buf[64];
    size_t n = 0;
    while (s < end && n < sizeof(buf) - 1 &&
           ((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.' || *s == 'e' || *s == 'E'))
        buf[n++] = (char)*s++;
    buf[n] = '\0';
    if (n == 0 || n == sizeof(buf) - 1)
        return jerr(p, *src, "bad number");
    /* JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    size_t i = 0;
    if (buf[i] == '-')
        i++;
    if (buf[i] == '0')
        i++;
    else if (buf[i] >= '1' && buf[i] <= '9')
        while (buf[i] >= '0' && buf[i] <= '9')
            i++;
    else
        return jerr(p, *src, "bad number");
    if (buf[i] == '.') {
        i++;
        if (!(buf[i] >= '0' && buf[i] <= '9'))
            return jerr(p, *src, "bad number");
        while (buf[i] >= '0' && buf[i] <= '9')
            i++;
    }
    if (buf[i] == 'e' || buf[i] == 'E') {
        i++;
        if (buf[i] == '+' || buf[i] == '-')
            i++;
        if (!(buf[i] >= '0' && buf[i] <= '9'))
            return jerr(p, *src, "bad number");
        while (buf[i] >= '0' && buf[i] <= '9')
            i++;
    }
    if (i != n)
        return jerr(p, *src, "bad number");
    errno = 0;
    *out = strtod(buf, NULL);
    *src = s;
    return 0;
}

static int
match_word(const uint8_t **src, const uint8_t *end, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(end - *src) < n || memcmp(*src, w, n) != 0)
        return -1;
    *src += n;
    return 0;
}

static int parse_value(jparser_t *p, const uint8_t **src, const uint8_t *end, int depth, size_t *out);

static int
parse_container(jparser_t *p, const uint8_t **src, const uint8_t *end, int depth, size_t idx, int is_obj)
{
    const uint8_t close = is_obj ? '}' : ']';
    size_t last = NONE;
    (*src)++; /* { or [ */
    skip_ws(src, end);
    if (*src < end && **src == close) {
        (*src)++;
        return 0;
    }
    for (;;) {
        size_t key = NONE, child;
        skip_ws(src, end);
        if (is_obj) {
            if (parse_string(p, src, end, &key) != 0)
                return -1;
            skip_ws(src, end);
            if (*src >= end || **src != ':')
                return jerr(p, *src, "expected ':'");
            (*src)++;
        }
        if (parse_value(p, src, end, depth + 1, &child) != 0)
            return -1;
        p->d->nodes[child].key = key;
        if (last == NONE)
            p->d->nodes[idx].first = child;
        else
            p->d->nodes[last].next = child;
        last = child;
        p->d->nodes[idx].count++;
        skip_ws(src, end);
        if (*src >= end)
            return jerr(p, *src, "unterminated %s", is_obj ? "object" : "array");
        if (**src == ',') {
            (*src)++;
            continue;
        }
        if (**src == close) {
            (*src)++;
            return 0;
        }
        return jerr(p, *src, "expected ',' or '%c'", close);
    }
}

static int
parse_value(jparser_t *p, const uint8_t **src, const uint8_t *end, int depth, size_t *out)
{
    mpl_jdoc_t *d = p->d;
    if (depth > MPL_JREAD_MAX_DEPTH)
        return jerr(p, *src, "nested too deeply");
    skip_ws(src, end);
    if (*src >= end)
        return jerr(p, *src, "unexpected end");
    uint8_t c = **src;
    size_t idx;
    switch (c) {
    case '{':
    case '[':
        if ((idx = new_node(d, c == '{' ? MPL_JV_OBJ : MPL_JV_ARR)) == NONE)
            return jerr(p, *src, "out of memory");
        *out = idx;
        return parse_container(p, src, end, depth, idx, c == '{');
    case '"': {
        size_t off;
        if ((idx = new_node(d, MPL_JV_STR)) == NONE)
            return jerr(p, *src, "out of memory");
        if (parse_string(p, src, end, &off) != 0)
            return -1;
        d->nodes[idx].str = off;
        *out = idx;
        return 0;
    }
    case 't':
    case 'f':
    case 'n': {
        const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
        if (match_word(src, end, w) != 0)
            return jerr(p, *src, "unexpected word");
        if ((idx = new_node(d, c == 'n' ? MPL_JV_NULL : MPL_JV_BOOL)) == NONE)
            return jerr(p, *src, "out of memory");
        d->nodes[idx].num = c == 't';
        *out = idx;
        return 0;
    }
    default: {
        double v = 0;
        if (c != '-' && !(c >= '0' && c <= '9'))
            return jerr(p, *src, "unexpected character");
        if (parse_number(p, src, end, &v) != 0)
            return -1;
        if ((idx = new_node(d, MPL_JV_NUM)) == NONE)
            return jerr(p, *src, "out of memory");
        d->nodes[idx].num = v;
        *out = idx;
        return 0;
    }
    }
}

int
mpl_jdoc_parse(mpl_jdoc_t *d, const char *text, size_t len, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    jparser_t p = {.d = d, .start = (const uint8_t *)text, .err = err, .errlen = errlen};
    const uint8_t *src = (const uint8_t *)text, *end = src + len;
    size_t root;
    if (parse_value(&p, &src, end, 0, &root) != 0)
        return -1;
    skip_ws(&src, end);
    if (src != end)
        return jerr(&p, src, "trailing data");
    return 0;
}

int
mpl_jdoc_load(mpl_jdoc_t *d, const char *path, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int rc = -1;
    if (buf == NULL)
        goto out;
    for (;;) {
        if (n == cap) {
            if (cap >= (64u << 20)) {
                snprintf(err, errlen, "%s: file too large", path);
                goto out;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL)
                goto out;
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    char msg[200];
    if (mpl_jdoc_parse(d, buf, n, msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "%s: %s", path, msg);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

void
mpl_jdoc_free(mpl_jdoc_t *d)
{
    if (d == NULL)
        return;
    free(d->nodes);
    free(d->strings);
    memset(d, 0, sizeof(*d));
}

const mpl_jv_t *
mpl_jdoc_root(const mpl_jdoc_t *d)
{
    return d->n > 0 ? &d->nodes[0] : NULL;
}

const mpl_jv_t *
mpl_jv_child(const mpl_jdoc_t *d, const mpl_jv_t *a)
{
    if (a == NULL || (a->type != MPL_JV_ARR && a->type != MPL_JV_OBJ) || a->first == NONE)
        return NULL;
    return &d->nodes[a->first];
}

const mpl_jv_t *
mpl_jv_next(const mpl_jdoc_t *d, const mpl_jv_t *v)
{
    if (v == NULL || v->next == NONE)
        return NULL;
    return &d->nodes[v->next];
}

const char *
mpl_jv_key(const mpl_jdoc_t *d, const mpl_jv_t *v)
{
    if (v == NULL || v->key == NONE)
        return NULL;
    return d->strings + v->key;
}

const mpl_jv_t *
mpl_jv_get(const mpl_jdoc_t *d, const mpl_jv_t *o, const char *key)
{
    if (o == NULL || o->type != MPL_JV_OBJ)
        return NULL;
    for (const mpl_jv_t *c = mpl_jv_child(d, o); c != NULL; c = mpl_jv_next(d, c))
        if (strcmp(d->strings + c->key, key) == 0)
            return c;
    return NULL;
}

size_t
mpl_jv_len(const mpl_jv_t *v)
{
    if (v == NULL || (v->type != MPL_JV_ARR && v->type != MPL_JV_OBJ))
        return 0;
    return v->count;
}

const mpl_jv_t *
mpl_jv_at(const mpl_jdoc_t *d, const mpl_jv_t *a, size_t i)
{
    const mpl_jv_t *c = mpl_jv_child(d, a);
    while (c != NULL && i-- > 0)
        c = mpl_jv_next(d, c);
    return c;
}

double
mpl_jv_num(const mpl_jv_t *v, double dflt)
{
    return v != NULL && v->type == MPL_JV_NUM ? v->num : dflt;
}

const char *
mpl_jv_str(const mpl_jdoc_t *d, const mpl_jv_t *v, const char *dflt)
{
    return v != NULL && v->type == MPL_JV_STR ? d->strings + v->str : dflt;
}

int
mpl_jv_bool(const mpl_jv_t *v, int dflt)
{
    return v != NULL && v->type == MPL_JV_BOOL ? (int)v->num : dflt;
}

int
mpl_jv_is_null(const mpl_jv_t *v)
{
    return v == NULL || v->type == MPL_JV_NULL;
}
