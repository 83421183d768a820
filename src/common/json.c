/*
 * json.c — see json.h.
 */
#include "common/json.h"

#include <inttypes.h>
#include <math.h>

void
mpl_json_init(mpl_json_t *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
    j->count[0] = 0;
    j->in_array[0] = 1; /* the top level behaves like an array of one value */
}

void
mpl_json_write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void
member(mpl_json_t *j, const char *key)
{
    if (j->count[j->depth]++ > 0)
        fputc(',', j->f);
    if (!j->in_array[j->depth] && key != NULL) {
        mpl_json_write_string(j->f, key);
        fputc(':', j->f);
    }
}

static void
open_container(mpl_json_t *j, const char *key, int array)
{
    member(j, key);
    fputc(array ? '[' : '{', j->f);
    if (j->depth + 1 < MPL_JSON_MAX_DEPTH) {
        j->depth++;
        j->count[j->depth] = 0;
        j->in_array[j->depth] = array;
    }
}

static void
close_container(mpl_json_t *j, int array)
{
    fputc(array ? ']' : '}', j->f);
    if (j->depth > 0)
        j->depth--;
}

void
mpl_json_obj_begin(mpl_json_t *j, const char *key)
{
    open_container(j, key, 0);
}

void
mpl_json_obj_end(mpl_json_t *j)
{
    close_container(j, 0);
}

void
mpl_json_arr_begin(mpl_json_t *j, const char *key)
{
    open_container(j, key, 1);
}

void
mpl_json_arr_end(mpl_json_t *j)
{
    close_container(j, 1);
}

void
mpl_json_str(mpl_json_t *j, const char *key, const char *val)
{
    member(j, key);
    if (val == NULL)
        fputs("null", j->f);
    else
        mpl_json_write_string(j->f, val);
}

void
mpl_json_num(mpl_json_t *j, const char *key, double val)
{
    member(j, key);
    if (!isfinite(val))
        fputs("null", j->f);
    else if (val == floor(val) && fabs(val) < 1e15)
        fprintf(j->f, "%.0f", val);
    else
        fprintf(j->f, "%.6g", val);
}

void
mpl_json_u64(mpl_json_t *j, const char *key, uint64_t val)
{
    member(j, key);
    fprintf(j->f, "%" PRIu64, val);
}

void
mpl_json_i64(mpl_json_t *j, const char *key, int64_t val)
{
    member(j, key);
    fprintf(j->f, "%" PRId64, val);
}

void
mpl_json_bool(mpl_json_t *j, const char *key, int val)
{
    member(j, key);
    fputs(val ? "true" : "false", j->f);
}

void
mpl_json_null(mpl_json_t *j, const char *key)
{
    member(j, key);
    fputs("null", j->f);
}

void
mpl_json_finish(mpl_json_t *j)
{
    fputc('\n', j->f);
    fflush(j->f);
}
