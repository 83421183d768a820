/*
 * jsonread.h — a small bounds-checked JSON reader (the writer is json.h), enough to read
 * the --json output of the other mplab commands (get, topo show, serve --stats) and the
 * experiment's own metadata.
 *
 * The whole document is parsed into an array of nodes owned by mpl_jdoc_t. Values are
 * addressed by pointers into that array, valid until mpl_jdoc_free. Lookups on a NULL or
 * wrongly typed value return NULL / the default, so chains need no checks in between:
 *   double g = mpl_jv_num(mpl_jv_get(&d, root, "goodput_mbps"), NAN);
 */
#ifndef MPLAB_JSONREAD_H
#define MPLAB_JSONREAD_H

#include <stddef.h>
#include <stdint.h>

#define MPL_JREAD_MAX_DEPTH 64

typedef enum mpl_jtype {
    MPL_JV_NULL = 0,
    MPL_JV_BOOL,
    MPL_JV_NUM,
    MPL_JV_STR,
    MPL_JV_ARR,
    MPL_JV_OBJ,
} mpl_jtype_t;

typedef struct mpl_jv {
    mpl_jtype_t type;
    double num;   /* NUM; BOOL: 0 or 1 */
    size_t str;   /* STR: offset of the decoded NUL-terminated string in the doc's strings */
    size_t key;   /* member of an object: offset of its key; else (size_t)-1 */
    size_t first; /* ARR/OBJ: index of the first child, (size_t)-1 when empty */
    size_t next;  /* index of the next sibling, (size_t)-1 for the last */
    size_t count; /* ARR/OBJ: number of children */
} mpl_jv_t;

typedef struct mpl_jdoc {
    mpl_jv_t *nodes;
    size_t n, cap;
    char *strings; /* decoded strings and keys */
    size_t slen, scap;
} mpl_jdoc_t;

/* Parses text[0..len) (one JSON value, surrounding white space allowed). Returns 0, or -1
 * with a reason and the byte offset in err. The document must be freed in both cases. */
int mpl_jdoc_parse(mpl_jdoc_t *d, const char *text, size_t len, char *err, size_t errlen);
/* Reads a whole file (at most 64 MiB) and parses it. Returns 0 or -1 (err set). */
int mpl_jdoc_load(mpl_jdoc_t *d, const char *path, char *err, size_t errlen);
void mpl_jdoc_free(mpl_jdoc_t *d);

/* The root value (NULL when nothing was parsed). */
const mpl_jv_t *mpl_jdoc_root(const mpl_jdoc_t *d);
/* Member KEY of object o, or NULL. */
const mpl_jv_t *mpl_jv_get(const mpl_jdoc_t *d, const mpl_jv_t *o, const char *key);
/* Number of elements of an array or object (0 for anything else). */
size_t mpl_jv_len(const mpl_jv_t *v);
/* Element i of an array (or member i of an object), or NULL. */
const mpl_jv_t *mpl_jv_at(const mpl_jdoc_t *d, const mpl_jv_t *a, size_t i);
/* Iteration: first child / next sibling, NULL at the end. */
const mpl_jv_t *mpl_jv_child(const mpl_jdoc_t *d, const mpl_jv_t *a);
const mpl_jv_t *mpl_jv_next(const mpl_jdoc_t *d, const mpl_jv_t *v);
/* Key of an object member, or NULL. */
const char *mpl_jv_key(const mpl_jdoc_t *d, const mpl_jv_t *v);
/* Typed accessors with a default for missing / other types. */
double mpl_jv_num(const mpl_jv_t *v, double dflt);
const char *mpl_jv_str(const mpl_jdoc_t *d, const mpl_jv_t *v, const char *dflt);
int mpl_jv_bool(const mpl_jv_t *v, int dflt);
int mpl_jv_is_null(const mpl_jv_t *v);

#endif
