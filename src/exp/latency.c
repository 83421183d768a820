/*
 * latency.c — see latency.h.
 */
#include "exp/latency.h"

#include "common/hist.h"
#include "common/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void
mpl_latency_read_run(const mpl_jdoc_t *d, const mpl_jv_t *root, mpl_run_t *r, const char *dir)
{
    const mpl_jv_t *lat = mpl_jv_get(d, root, "latency_ms");
    double done = mpl_jv_num(mpl_jv_get(d, root, "completed"), 0);
    double want = mpl_jv_num(mpl_jv_get(d, root, "requests"), -1);
    double errors = mpl_jv_num(mpl_jv_get(d, root, "errors"), -1);
    r->req_per_s = mpl_jv_num(mpl_jv_get(d, root, "requests_per_s"), NAN);
    r->p50_ms = done > 0 ? mpl_jv_num(mpl_jv_get(d, lat, "p50"), NAN) : NAN;
    r->p99_ms = done > 0 ? mpl_jv_num(mpl_jv_get(d, lat, "p99"), NAN) : NAN;
    r->verified = done == want && errors == 0;
    r->goodput_mbps = NAN;
    char path[1200], series[32];
    snprintf(path, sizeof(path), "%s/latency.csv", dir);
    struct stat st;
    int fresh = stat(path, &st) != 0 || st.st_size == 0;
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return;
    if (fresh)
        fprintf(f, "run_id,point,series,lo_us,hi_us,count\n");
    const mpl_jv_t *buckets = mpl_jv_get(d, mpl_jv_get(d, root, "histogram"), "buckets");
    for (const mpl_jv_t *b = mpl_jv_child(d, buckets); b != NULL; b = mpl_jv_next(d, b)) {
        const mpl_jv_t *lo = mpl_jv_child(d, b), *hi = lo ? mpl_jv_next(d, lo) : NULL,
                       *n = hi ? mpl_jv_next(d, hi) : NULL;
        if (n == NULL)
            continue;
        fprintf(f, "%s,%d,%s,%.0f,%.0f,%.0f\n", r->id, r->point, mpl_run_series(r, series, sizeof(series)),
                mpl_jv_num(lo, 0), mpl_jv_num(hi, 0), mpl_jv_num(n, 0));
    }
    fclose(f);
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median_of(const mpl_runs_t *rs, const mpl_group_t *x, size_t off, double *v)
{
    int n = 0;
    for (int i = 0; i < rs->n; i++) {
        const mpl_run_t *r = &rs->v[i];
        double d = *(const double *)((const char *)r + off);
        if (r->point == x->point && r->proto == x->proto && r->path == x->path && !strcmp(r->status, "ok") &&
            !isnan(d))
            v[n++] = d;
    }
    if (n == 0)
        return NAN;
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void
mpl_latency_group_medians(const mpl_runs_t *rs, mpl_group_t *g, int n)
{
    double *v = malloc(sizeof(double) * (size_t)(rs->n + 1));
    for (int k = 0; k < n; k++) {
        g[k].rps_median = v ? median_of(rs, &g[k], offsetof(mpl_run_t, req_per_s), v) : NAN;
        g[k].p50_median = v ? median_of(rs, &g[k], offsetof(mpl_run_t, p50_ms), v) : NAN;
        g[k].p99_median = v ? median_of(rs, &g[k], offsetof(mpl_run_t, p99_ms), v) : NAN;
    }
    free(v);
}

int
mpl_latency_any(const mpl_group_t *g, int n)
{
    for (int i = 0; i < n; i++)
        if (!isnan(g[i].p50_median) || !isnan(g[i].rps_median))
            return 1;
    return 0;
}

int
mpl_latency_only(const mpl_group_t *g, int n)
{
    for (int i = 0; i < n; i++)
        if (!isnan(g[i].median))
            return 0;
    return mpl_latency_any(g, n);
}

void
mpl_latency_print(FILE *f, const mpl_group_t *g, int n)
{
    if (!mpl_latency_any(g, n))
        return;
    int w = 5, last = -1;
    for (int i = 0; i < n; i++)
        if ((int)strlen(g[i].label) > w)
            w = (int)strlen(g[i].label);
    if (w > 60)
        w = 60;
    fprintf(f, "%srequests (medians over the repetitions)\n%-*s %-8s %5s %10s %9s %9s\n",
            mpl_latency_only(g, n) ? "" : "\n", w, "point", "series", "runs", "req/s", "p50 ms", "p99 ms");
    for (int i = 0; i < n; i++) {
        const mpl_group_t *x = &g[i];
        mpl_run_t tmp = {.proto = x->proto, .path = x->path};
        char series[32];
        fprintf(f, "%-*.*s %-8s %2d/%-2d %10.1f %9.3f %9.3f\n", w, w, x->point != last ? x->label : "",
                mpl_run_series(&tmp, series, sizeof(series)), x->n_ok, x->n, x->rps_median, x->p50_median,
                x->p99_median);
        last = x->point;
    }
}

typedef struct cdf_series {
    char name[32];
    mpl_hist_t h;
} cdf_series_t;

int
mpl_latency_cdf(const char *dir, const mpl_runs_t *rs, int point, FILE *dat, char titles[][32], int max)
{
    char path[1200], line[512];
    snprintf(path, sizeof(path), "%s/latency.csv", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    cdf_series_t *s = calloc((size_t)max, sizeof(*s));
    int ns = 0;
    while (s != NULL && fgets(line, sizeof(line), f) != NULL) {
        char id[MPL_RUN_ID_LEN], series[32];
        int pt;
        double lo, hi, cnt;
        if (sscanf(line, "%63[^,],%d,%31[^,],%lf,%lf,%lf", id, &pt, series, &lo, &hi, &cnt) != 6 ||
            pt != point)
            continue;
        const mpl_run_t *r = mpl_runs_find(rs, id);
        if (r == NULL || strcmp(r->status, "ok") != 0)
            continue; /* failed runs, and the rows of a run done again after --resume */
        int k = 0;
        while (k < ns && strcmp(s[k].name, series) != 0)
            k++;
        if (k == ns) {
            if (ns == max)
                continue;
            snprintf(s[ns].name, sizeof(s[ns].name), "%s", series);
            mpl_hist_init(&s[ns++].h);
        }
        /* the bucket is identified by its lower bound */
        size_t b = mpl_hist_index((uint64_t)lo);
        s[k].h.counts[b] += (uint64_t)cnt;
        s[k].h.count += (uint64_t)cnt;
    }
    fclose(f);
    for (int k = 0; k < ns; k++) {
        snprintf(titles[k], 32, "%s", s[k].name);
        fprintf(dat, "# %s\n", s[k].name);
        uint64_t seen = 0;
        for (size_t b = 0; b < MPL_HIST_BUCKETS; b++) {
            if (s[k].h.counts[b] == 0)
                continue;
            if (seen == 0)
                fprintf(dat, "%g 0\n", (double)mpl_hist_bucket_lo(b) / 1e3);
            seen += s[k].h.counts[b];
            fprintf(dat, "%g %g\n", (double)mpl_hist_bucket_hi(b) / 1e3, (double)seen / (double)s[k].h.count);
        }
        fprintf(dat, "\n\n");
    }
    free(s);
    return ns;
}
