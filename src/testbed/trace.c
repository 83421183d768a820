/*
 * trace.c — Mahimahi delivery traces (trace.h).
 */
#include "testbed/trace.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int
terr(char *err, size_t errlen, const char *fname, int line, const char *msg)
{
    if (line > 0)
        snprintf(err, errlen, "%s:%d: %s", fname, line, msg);
    else
        snprintf(err, errlen, "%s: %s", fname, msg);
    return -1;
}

int
mpl_trace_parse(const char *text, size_t len, const char *fname, mpl_trace_t *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    size_t cap = 0;
    int line = 0;
    uint64_t last = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        line++;
        /* trim, drop comments */
        size_t a = i, b = j;
        while (a < b && isspace((unsigned char)text[a]))
            a++;
        for (size_t c = a; c < b; c++)
            if (text[c] == '#') {
                b = c;
                break;
            }
        while (b > a && isspace((unsigned char)text[b - 1]))
            b--;
        i = j + 1;
        if (a == b)
            continue;
        uint64_t v = 0;
        for (size_t c = a; c < b; c++) {
            if (!isdigit((unsigned char)text[c]) || v > 100000000ull) {
                mpl_trace_free(t);
                return terr(err, errlen, fname, line, "expected a time in milliseconds (a whole number)");
            }
            v = v * 10 + (uint64_t)(text[c] - '0');
        }
        if (v > 100000000ull) {
            mpl_trace_free(t);
            return terr(err, errlen, fname, line, "time above 100000000 ms");
        }
        if (t->n > 0 && v < last) {
            mpl_trace_free(t);
            return terr(err, errlen, fname, line, "times must not decrease");
        }
        if (t->n == MPL_TRACE_MAX_OPS) {
            mpl_trace_free(t);
            return terr(err, errlen, fname, line, "too many lines (at most 4000000)");
        }
        if (t->n == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            uint32_t *p = realloc(t->ms, ncap * sizeof(*p));
            if (p == NULL) {
                mpl_trace_free(t);
                return terr(err, errlen, fname, 0, "out of memory");
            }
            t->ms = p;
            cap = ncap;
        }
        t->ms[t->n++] = (uint32_t)v;
        last = v;
    }
    if (t->n == 0)
        return terr(err, errlen, fname, 0, "no delivery opportunity (one time in ms per line)");
    if (last == 0) {
        mpl_trace_free(t);
        return terr(err, errlen, fname, 0, "the last time must be above 0 ms (it is the period)");
    }
    t->period_ms = (uint32_t)last;
    return 0;
}

int
mpl_trace_load(const char *path, mpl_trace_t *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        snprintf(err, errlen, "%s: not a regular file", path);
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            fclose(f);
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            if (cap >= (64u << 20)) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "%s: larger than 64 MiB", path);
                return -1;
            }
            char *p = realloc(buf, cap * 2);
            if (p == NULL)
                free(buf);
            buf = p;
            cap *= 2;
        }
    }
    fclose(f);
    int rc = mpl_trace_parse(buf, n, path, t, err, errlen);
    free(buf);
    return rc;
}

void
mpl_trace_free(mpl_trace_t *t)
{
    free(t->ms);
    memset(t, 0, sizeof(*t));
}

double
mpl_trace_mean_bps(const mpl_trace_t *t)
{
    if (t->n == 0 || t->period_ms == 0)
        return 0;
    return (double)t->n * MPL_TRACE_MTU * 8 / ((double)t->period_ms / 1e3);
}

void
mpl_trace_link_init(mpl_trace_link_t *l, const mpl_trace_t *tr, uint64_t epoch_ns)
{
    l->tr = tr;
    l->epoch_ns = epoch_ns;
    l->k = 0;
    l->budget = MPL_TRACE_MTU;
}

uint64_t
mpl_trace_time(const mpl_trace_link_t *l, uint64_t k)
{
    const mpl_trace_t *t = l->tr;
    uint64_t loop = k / t->n;
    return l->epoch_ns + (loop * t->period_ms + t->ms[k % t->n]) * 1000000ull;
}

/* The first opportunity at or after time x. Loop L's opportunities are at L x period +
 * ms[i], ms[i] in 0..period: the last one of a loop may fall on the next loop's start. */
static uint64_t
first_at_or_after(const mpl_trace_link_t *l, uint64_t x)
{
    const mpl_trace_t *t = l->tr;
    uint64_t rel = x > l->epoch_ns ? x - l->epoch_ns : 0;
    uint64_t period = (uint64_t)t->period_ms * 1000000ull;
    uint64_t loop = rel / period;
    for (uint64_t L = loop > 0 ? loop - 1 : 0;; L++) {
        uint64_t in = rel > L * period ? rel - L * period : 0;
        size_t lo = 0, hi = t->n; /* the first time >= in */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if ((uint64_t)t->ms[mid] * 1000000ull < in)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < t->n)
            return L * t->n + lo;
    }
}

uint64_t
mpl_trace_depart(mpl_trace_link_t *l, uint64_t ready_ns, uint32_t len)
{
    /* an opportunity that passed before the frame was ready is lost to it */
    if (mpl_trace_time(l, l->k) < ready_ns || l->budget == 0) {
        uint64_t k = first_at_or_after(l, ready_ns);
        if (k > l->k || l->budget == 0) {
            l->k = k > l->k ? k : l->k + 1;
            l->budget = MPL_TRACE_MTU;
        }
    }
    uint32_t need = len;
    while (need > l->budget) {
        need -= l->budget;
        l->k++;
        l->budget = MPL_TRACE_MTU;
    }
    l->budget -= need;
    return mpl_trace_time(l, l->k);
}
