/*
 * json.h — a small streaming JSON writer used for every --json output (the reader is
 * jsonread.h).
 *
 * Usage:
 *   mpl_json_t j; mpl_json_init(&j, stdout);
 *   mpl_json_obj_begin(&j, NULL);
 *   mpl_json_str(&j, "proto", "tcp"); mpl_json_u64(&j, "bytes", n);
 *   mpl_json_arr_begin(&j, "intervals"); ... mpl_json_arr_end(&j);
 *   mpl_json_obj_end(&j); mpl_json_finish(&j);   (adds the final newline)
 * Keys are ignored inside arrays. Non-finite numbers are written as null.
 */
#ifndef MPLAB_JSON_H
#define MPLAB_JSON_H

#include <stdint.h>
#include <stdio.h>

#define MPL_JSON_MAX_DEPTH 32

typedef struct mpl_json {
    FILE *f;
    int depth;
    int count[MPL_JSON_MAX_DEPTH]; /* members written at each depth */
    int in_array[MPL_JSON_MAX_DEPTH];
} mpl_json_t;

void mpl_json_init(mpl_json_t *j, FILE *f);
void mpl_json_obj_begin(mpl_json_t *j, const char *key);
void mpl_json_obj_end(mpl_json_t *j);
void mpl_json_arr_begin(mpl_json_t *j, const char *key);
void mpl_json_arr_end(mpl_json_t *j);
void mpl_json_str(mpl_json_t *j, const char *key, const char *val); /* val NULL -> null */
void mpl_json_num(mpl_json_t *j, const char *key, double val);
void mpl_json_u64(mpl_json_t *j, const char *key, uint64_t val);
void mpl_json_i64(mpl_json_t *j, const char *key, int64_t val);
void mpl_json_bool(mpl_json_t *j, const char *key, int val);
void mpl_json_null(mpl_json_t *j, const char *key);
void mpl_json_finish(mpl_json_t *j);
/* Writes s as a JSON string literal (with quotes and escapes) to f. */
void mpl_json_write_string(FILE *f, const char *s);

#endif
