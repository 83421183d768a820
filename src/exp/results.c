/*
 * results.c — runs.csv, statistics and failure metrics (see results.h).
 */
#include "exp/results.h"
#include "exp/latency.h"
#include "common/util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *
mpl_run_series(const mpl_run_t *r, char *buf, size_t len)
{
    if (r->proto == MPL_PROTO_TCP && r->path > 0)
        snprintf(buf, len, "tcp@l%d", r->path);
    else
        snprintf(buf, len, "%s", mpl_proto_name(r->proto));
    return buf;
}

int
mpl_runs_add(mpl_runs_t *rs, const mpl_run_t *r)
{
    if (rs->n == rs->cap) {
        int cap = rs->cap ? rs->cap * 2 : 32;
        mpl_run_t *nv = realloc(rs->v, (size_t)cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        rs->v = nv;
        rs->cap = cap;
    }
    rs->v[rs->n++] = *r;
    return 0;
}

void
mpl_runs_free(mpl_runs_t *rs)
{
    free(rs->v);
    memset(rs, 0, sizeof(*rs));
}

const mpl_run_t *
mpl_runs_find(const mpl_runs_t *rs, const char *id)
{
    for (int i = 0; i < rs->n; i++)
        if (strcmp(rs->v[i].id, id) == 0)
            return &rs->v[i];
    return NULL;
}

/* ---- CSV ----------------------------------------------------------------------------- */

#define NCOLS 42
static const char *const columns[NCOLS] = {"run_id", "point", "label", "rep", "proto", "path", "links",
                                           "share1_pct", "split", "rate", "delay", "loss", "backup", "fail",
                                           "cc", "size_bytes", "status", "bytes", "seconds", "goodput_mbps",
                                           "verified", "cpu_client_s", "cpu_server_s", "stall_s", "recover_s",
                                           "mptcp", "subflows", "error", "series", "direction",
                                           /* streams and migration */
                                           "streams", "streams_policy", "streams_mode", "objects_p50_s",
                                           "objects_p99_s", "migrate_mode", "migrate_t90_s", "old_path_bytes",
                                           /* workload = requests */
                                           "requests_per_s", "p50_ms", "p99_ms",
                                           /* multipath */
                                           "second_path_s"};

void
mpl_runs_csv_header(FILE *f)
{
    for (int i = 0; i < NCOLS; i++)
        fprintf(f, "%s%s", i ? "," : "", columns[i]);
    fputc('\n', f);
}

/* CSV cells never need quoting: commas, quotes and newlines are replaced. */
static void
cell(FILE *f, const char *s)
{
    fputc(',', f);
    for (; *s; s++)
        fputc(*s == ',' || *s == '"' || *s == '\n' || *s == '\r' ? ';' : *s, f);
}

static void
num(FILE *f, double v)
{
    if (isnan(v) || isinf(v))
        fputs(",", f);
    else
        fprintf(f, ",%.6g", v);
}

void
mpl_runs_csv_row(FILE *f, const mpl_run_t *r)
{
    char series[32];
    fputs(r->id, f);
    fprintf(f, ",%d", r->point);
    cell(f, r->label);
    fprintf(f, ",%d", r->rep);
    cell(f, mpl_proto_name(r->proto));
    fprintf(f, ",%d,%d", r->path, r->links);
    num(f, r->share1_pct);
    cell(f, r->split);
    cell(f, r->rate);
    cell(f, r->delay);
    cell(f, r->loss);
    cell(f, r->backup);
    cell(f, r->fail);
    cell(f, r->cc);
    fprintf(f, ",%.0f", r->size);
    cell(f, r->status);
    fprintf(f, ",%.0f", r->bytes);
    num(f, r->seconds);
    num(f, r->goodput_mbps);
    fprintf(f, ",%d", r->verified);
    num(f, r->cpu_client_s);
    num(f, r->cpu_server_s);
    num(f, r->stall_s);
    num(f, r->recover_s);
    fprintf(f, ",%d,%d", r->mptcp, r->subflows);
    cell(f, r->error);
    cell(f, mpl_run_series(r, series, sizeof(series)));
    cell(f, r->direction[0] ? r->direction : "download");
    fprintf(f, ",%d", r->streams > 0 ? r->streams : 1);
    cell(f, r->streams_policy);
    cell(f, r->streams_mode);
    num(f, r->objects_p50_s);
    num(f, r->objects_p99_s);
    cell(f, r->migrate_mode);
    num(f, r->migrate_t90_s);
    num(f, r->old_path_bytes);
    num(f, r->req_per_s);
    num(f, r->p50_ms);
    num(f, r->p99_ms);
    num(f, r->second_path_s);
    fputc('\n', f);
}

static double
dnum(const char *s)
{
    double v;
    if (*s == '\0' || mpl_parse_double(s, &v) != 0)
        return NAN;
    return v;
}

static int
inum(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return (*s == '\0' || *end != '\0' || v < -1000000 || v > 1000000) ? 0 : (int)v;
}

static void
scopy(char *dst, size_t len, const char *s)
{
    snprintf(dst, len, "%s", s);
}

int
mpl_runs_csv_load(const char *path, mpl_runs_t *rs, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[2048];
    int lineno = 0, rc = 0;
    int map[NCOLS], header_cols = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        char *cols[64];
        int nc = 0;
        for (char *p = line;;) {
            if (nc == 64)
                break;
            cols[nc++] = p;
            char *c = strchr(p, ',');
            if (c == NULL)
                break;
            *c = '\0';
            p = c + 1;
        }
        if (lineno == 1) {
            for (int i = 0; i < NCOLS; i++) {
                map[i] = -1;
                for (int j = 0; j < nc; j++)
                    if (strcmp(cols[j], columns[i]) == 0)
                        map[i] = j;
            }
            header_cols = nc;
            if (map[0] != 0 || map[16] < 0) {
                snprintf(err, errlen, "%s: not a runs.csv (bad header)", path);
                rc = -1;
                break;
            }
            continue;
        }
        if (line[0] == '\0')
            continue;
        const char *c[NCOLS];
        for (int i = 0; i < NCOLS; i++)
            c[i] = map[i] >= 0 && map[i] < nc ? cols[map[i]] : "";
        mpl_run_t r;
        memset(&r, 0, sizeof(r));
        scopy(r.id, sizeof(r.id), c[0]);
        r.point = inum(c[1]);
        scopy(r.label, sizeof(r.label), c[2]);
        r.rep = inum(c[3]);
        if (mpl_proto_parse(c[4], &r.proto) != 0) {
            mpl_warn("%s:%d: unknown protocol '%s': row ignored", path, lineno, c[4]);
            continue;
        }
        r.path = inum(c[5]);
        r.links = inum(c[6]);
        r.share1_pct = dnum(c[7]);
        scopy(r.split, sizeof(r.split), c[8]);
        scopy(r.rate, sizeof(r.rate), c[9]);
        scopy(r.delay, sizeof(r.delay), c[10]);
        scopy(r.loss, sizeof(r.loss), c[11]);
        scopy(r.backup, sizeof(r.backup), c[12]);
        scopy(r.fail, sizeof(r.fail), c[13]);
        scopy(r.cc, sizeof(r.cc), c[14]);
        r.size = dnum(c[15]);
        scopy(r.status, sizeof(r.status), c[16]);
        r.bytes = dnum(c[17]);
        r.seconds = dnum(c[18]);
        r.goodput_mbps = dnum(c[19]);
        r.verified = inum(c[20]);
        r.cpu_client_s = dnum(c[21]);
        r.cpu_server_s = dnum(c[22]);
        r.stall_s = dnum(c[23]);
        r.recover_s = dnum(c[24]);
        r.mptcp = inum(c[25]);
        r.subflows = inum(c[26]);
        scopy(r.error, sizeof(r.error), c[27]);
        scopy(r.direction, sizeof(r.direction), c[29][0] ? c[29] : "download");
        r.streams = c[30][0] ? inum(c[30]) : 1;
        scopy(r.streams_policy, sizeof(r.streams_policy), c[31]);
        scopy(r.streams_mode, sizeof(r.streams_mode), c[32]);
        r.objects_p50_s = dnum(c[33]);
        r.objects_p99_s = dnum(c[34]);
        scopy(r.migrate_mode, sizeof(r.migrate_mode), c[35]);
        r.migrate_t90_s = dnum(c[36]);
        r.old_path_bytes = dnum(c[37]);
        r.req_per_s = dnum(c[38]);
        r.p50_ms = dnum(c[39]);
        r.p99_ms = dnum(c[40]);
        r.second_path_s = dnum(c[41]); /* an older runs.csv without the column: unknown */
        if (nc != header_cols || r.id[0] == '\0' || r.point < 1 || r.status[0] == '\0') {
            /* e.g. the last line of a run killed while writing: that run is done again */
            mpl_warn("%s:%d: malformed row ignored", path, lineno);
            continue;
        }
        if (mpl_runs_add(rs, &r) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* ---- statistics ---------------------------------------------------------------------- */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double
mpl_median(double *v, int n)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double
mpl_percentile(double *v, int n, double q)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    int k = (int)ceil(q / 100.0 * n) - 1;
    return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* Median of a field over the successful runs of a group, skipping NANs. */
static double
field_median(const mpl_runs_t *rs, const mpl_group_t *g, size_t offset)
{
    double *v = malloc(sizeof(double) * (size_t)(rs->n ? rs->n : 1));
    int n = 0;
    if (v == NULL)
        return NAN;
    for (int i = 0; i < rs->n; i++) {
        const mpl_run_t *r = &rs->v[i];
        if (r->point != g->point || r->proto != g->proto || r->path != g->path || strcmp(r->status, "ok"))
            continue;
        double x = *(const double *)((const char *)r + offset);
        if (!isnan(x))
            v[n++] = x;
    }
    double m = mpl_median(v, n);
    free(v);
    return m;
}

/* Table order: point, then tcp references by link, tls, mptcp, mptls, tcpls. */
static int
cmp_group(const void *a, const void *b)
{
    const mpl_group_t *x = a, *y = b;
    if (x->point != y->point)
        return x->point < y->point ? -1 : 1;
    if (x->proto != y->proto)
        return x->proto < y->proto ? -1 : 1;
    return x->path < y->path ? -1 : x->path > y->path;
}

int
mpl_stats_link_index(const char *link)
{
    char *end;
    if (link == NULL || link[0] != 'l' || link[1] < '1' || link[1] > '9')
        return 0;
    long v = strtol(link + 1, &end, 10);
    return *end == '\0' && v <= 1000 ? (int)v : 0;
}

const char *
mpl_expected_basis_name(mpl_expected_basis_t b)
{
    switch (b) {
    case MPL_EXPECTED_AGGREGATE:
        return "aggregate";
    case MPL_EXPECTED_BACKUP:
        return "non_backup";
    case MPL_EXPECTED_FAILOVER:
        return "failover";
    default:
        return "none";
    }
}

double
mpl_expected_failover(double size_bytes, double before_mbps, double after_mbps, double at_s)
{
    if (!(before_mbps > 0) || !(after_mbps > 0) || !(size_bytes > 0) || isnan(at_s))
        return NAN;
    double bits = size_bytes * 8, before_bits = before_mbps * 1e6 * (at_s > 0 ? at_s : 0);
    if (bits <= before_bits)
        return before_mbps; /* the transfer ends before the failure */
    double t = (at_s > 0 ? at_s : 0) + (bits - before_bits) / (after_mbps * 1e6);
    return bits / t / 1e6;
}

/* "l2" or "l2/l3" -> backup[2] = backup[3] = 1 ("none" or unknown names: nothing). */
static void
parse_backup(const char *s, int backup[MPL_SC_MAX_LINKS + 1])
{
    char buf[MPL_SC_VALUE_LEN], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *t = strtok_r(buf, "/ ", &save); t != NULL; t = strtok_r(NULL, "/ ", &save)) {
        int i = mpl_stats_link_index(t);
        if (i > 0 && i <= MPL_SC_MAX_LINKS)
            backup[i] = 1;
    }
}

int
mpl_stats_groups(const mpl_runs_t *rs, mpl_group_t **out)
{
    return mpl_stats_groups_ctx(rs, NULL, out);
}

int
mpl_stats_groups_ctx(const mpl_runs_t *rs, const mpl_stats_ctx_t *ctx, mpl_group_t **out)
{
    mpl_group_t *g = calloc((size_t)(rs->n ? rs->n : 1), sizeof(*g));
    int ng = 0;
    if (g == NULL)
        return -1;
    for (int i = 0; i < rs->n; i++) {
        const mpl_run_t *r = &rs->v[i];
        int k;
        for (k = 0; k < ng; k++)
            if (g[k].point == r->point && g[k].proto == r->proto && g[k].path == r->path)
                break;
        if (k == ng) {
            memset(&g[k], 0, sizeof(g[k]));
            g[k].point = r->point;
            snprintf(g[k].label, sizeof(g[k].label), "%s", r->label);
            g[k].proto = r->proto;
            g[k].path = r->path;
            g[k].links = r->links;
            g[k].share1_pct = r->share1_pct;
            g[k].size = r->size;
            snprintf(g[k].fail, sizeof(g[k].fail), "%s", r->fail);
            snprintf(g[k].backup, sizeof(g[k].backup), "%s", r->backup);
            g[k].migrating = r->migrate_mode[0] != '\0';
            g[k].unavailable = 1;
            ng++;
        }
        g[k].n++;
        if (strcmp(r->status, "unavailable") != 0)
            g[k].unavailable = 0;
        if (strcmp(r->status, "ok") == 0)
            g[k].n_ok++;
    }
    for (int k = 0; k < ng; k++) {
        mpl_group_t *x = &g[k];
        double sum = 0, sum2 = 0;
        x->min = INFINITY;
        x->max = -INFINITY;
        for (int i = 0; i < rs->n; i++) {
            const mpl_run_t *r = &rs->v[i];
            if (r->point != x->point || r->proto != x->proto || r->path != x->path || strcmp(r->status, "ok"))
                continue;
            sum += r->goodput_mbps;
            sum2 += r->goodput_mbps * r->goodput_mbps;
            if (r->goodput_mbps < x->min)
                x->min = r->goodput_mbps;
            if (r->goodput_mbps > x->max)
                x->max = r->goodput_mbps;
        }
        if (x->n_ok == 0) {
            x->min = x->max = x->median = x->stddev = NAN;
        } else {
            double mean = sum / x->n_ok;
            x->stddev = x->n_ok > 1 ? sqrt(fmax(0, (sum2 - x->n_ok * mean * mean) / (x->n_ok - 1))) : 0;
            x->median = field_median(rs, x, offsetof(mpl_run_t, goodput_mbps));
        }
        x->seconds_median = field_median(rs, x, offsetof(mpl_run_t, seconds));
        x->cpu_client_median = field_median(rs, x, offsetof(mpl_run_t, cpu_client_s));
        x->cpu_server_median = field_median(rs, x, offsetof(mpl_run_t, cpu_server_s));
        x->stall_median = field_median(rs, x, offsetof(mpl_run_t, stall_s));
        x->recover_median = field_median(rs, x, offsetof(mpl_run_t, recover_s));
        x->second_path_median = field_median(rs, x, offsetof(mpl_run_t, second_path_s));
        x->objects_p50_median = field_median(rs, x, offsetof(mpl_run_t, objects_p50_s));
        x->objects_p99_median = field_median(rs, x, offsetof(mpl_run_t, objects_p99_s));
        x->migrate_t90_median = field_median(rs, x, offsetof(mpl_run_t, migrate_t90_s));
        x->old_path_bytes_median = field_median(rs, x, offsetof(mpl_run_t, old_path_bytes));
        x->expected = x->ratio = NAN;
    }
    qsort(g, (size_t)ng, sizeof(*g), cmp_group);
    /* expected value of multipath groups (see mpl_expected_basis_t) */
    for (int k = 0; k < ng; k++) {
        mpl_group_t *x = &g[k];
        if (!mpl_proto_multipath(x->proto) || x->migrating)
            continue;
        int backup[MPL_SC_MAX_LINKS + 1] = {0};
        if (x->proto == MPL_PROTO_MPTCP || x->proto == MPL_PROTO_MPTLS ||
            x->proto == MPL_PROTO_TCPLS) /* MPTCP endpoint flag, TCPLS --backup */
            parse_backup(x->backup, backup);
        int failing = x->fail[0] != '\0' && strcmp(x->fail, "none") != 0;
        double all = 0, primary = 0, surv = 0, surv_primary = 0;
        int found = 0, n_primary = 0, n_surv_primary = 0;
        for (int j = 0; j < ng; j++) {
            const mpl_group_t *y = &g[j];
            if (y->point != x->point || y->proto != MPL_PROTO_TCP || y->path <= 0 || isnan(y->median))
                continue;
            int b = y->path <= MPL_SC_MAX_LINKS && backup[y->path];
            int dead = failing && ctx != NULL && y->path == ctx->fail_path;
            found++;
            all += y->median;
            if (!b) {
                primary += y->median;
                n_primary++;
            }
            if (!dead) {
                surv += y->median;
                if (!b) {
                    surv_primary += y->median;
                    n_surv_primary++;
                }
            }
        }
        if (found == 0 || found < x->links)
            continue;
        double before = n_primary > 0 ? primary : all;
        if (failing) {
            if (ctx == NULL || ctx->fail_path <= 0 || isnan(ctx->fail_at_s) || !(x->size > 0))
                continue; /* unknown failure: no meaningful expected value */
            /* after the failure the surviving primaries, or the backups when none is left */
            double after = n_surv_primary > 0 ? surv_primary : surv;
            x->expected = mpl_expected_failover(x->size, before, after, ctx->fail_at_s);
            x->basis = MPL_EXPECTED_FAILOVER;
        } else {
            x->expected = before;
            x->basis = n_primary < found ? MPL_EXPECTED_BACKUP : MPL_EXPECTED_AGGREGATE;
        }
        if (!isnan(x->median) && x->expected > 0) {
            x->ratio = x->median / x->expected;
            /* the seeds' 10% threshold is about aggregation: not applied to failure points */
            x->flagged = x->basis != MPL_EXPECTED_FAILOVER && fabs(x->ratio - 1) > MPL_FLAG_RATIO;
        } else {
            x->expected = NAN;
            x->basis = MPL_EXPECTED_NONE;
        }
    }
    mpl_latency_group_medians(rs, g, ng);
    *out = g;
    return ng;
}

static const char *
fmtd(char *buf, size_t len, const char *fmt, double v)
{
    if (isnan(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, fmt, v);
    return buf;
}

void
mpl_stats_print(FILE *f, const mpl_group_t *g, int n)
{
    char a[32], b[32], c[32], d[32], e[32], s2[32], series[32], extra[96];
    int w = 5, note_f = 0, note_b = 0, has_obj = 0, has_mig = 0;
    for (int i = 0; i < n; i++) {
        if ((int)strlen(g[i].label) > w)
            w = (int)strlen(g[i].label);
        has_obj |= !isnan(g[i].objects_p50_median);
        has_mig |= g[i].migrating;
    }
    if (w > 60)
        w = 60;
    if (mpl_latency_only(g, n)) {
        mpl_latency_print(f, g, n);
        return;
    }
    /* several objects: their completion times; migration: the new path's ramp, the old path's tail */
    snprintf(extra, sizeof(extra), "%s%s", has_obj ? " obj_p50 obj_p99" : "",
             has_mig ? "     t90 old_MB" : "");
    fprintf(f, "%-*s %-8s %5s %9s %17s %9s %7s %7s %8s %8s%s\n", w, "point", "series", "runs", "goodput",
            "[min-max]", "expected", "ratio", "stall", "recover", "2nd path", extra);
    snprintf(extra, sizeof(extra), "%s%s", has_obj ? "       s       s" : "",
             has_mig ? "       s       " : "");
    fprintf(f, "%-*s %-8s %5s %9s %17s %9s %7s %7s %8s %8s%s\n", w, "", "", "ok/n", "Mbit/s", "Mbit/s",
            "Mbit/s", "", "s", "s", "s", extra);
    int last = -1;
    for (int i = 0; i < n; i++) {
        const mpl_group_t *x = &g[i];
        mpl_run_t tmp = {.proto = x->proto, .path = x->path};
        const char *label = x->point != last ? x->label : "";
        last = x->point;
        if (x->unavailable) {
            fprintf(f, "%-*.*s %-8s %5s %9s\n", w, w, label, mpl_run_series(&tmp, series, sizeof(series)),
                    "-", "unavailable");
            continue;
        }
        char range[40];
        if (isnan(x->min))
            snprintf(range, sizeof(range), "-");
        else
            snprintf(range, sizeof(range), "[%.1f-%.1f]", x->min, x->max);
        char o1[32], o2[32], m1[32], m2[32];
        extra[0] = '\0';
        if (has_obj)
            snprintf(extra, sizeof(extra), " %7s %7s", fmtd(o1, sizeof(o1), "%.2f", x->objects_p50_median),
                     fmtd(o2, sizeof(o2), "%.2f", x->objects_p99_median));
        if (has_mig)
            snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), " %7s %7s",
                     fmtd(m1, sizeof(m1), "%.2f", x->migrate_t90_median),
                     fmtd(m2, sizeof(m2), "%.2f", x->old_path_bytes_median / 1e6));
        fprintf(f, "%-*.*s %-8s %2d/%-2d %9s %17s %9s %7s %7s %8s %8s%s%s\n", w, w, label,
                mpl_run_series(&tmp, series, sizeof(series)), x->n_ok, x->n,
                fmtd(a, sizeof(a), "%.1f", x->median), range, fmtd(b, sizeof(b), "%.1f", x->expected),
                fmtd(c, sizeof(c), "%.2f", x->ratio), fmtd(d, sizeof(d), "%.2f", x->stall_median),
                fmtd(e, sizeof(e), "%.2f", x->recover_median),
                fmtd(s2, sizeof(s2), "%.3f", x->second_path_median), extra,
                x->flagged                          ? "  <- off by >10%"
                : x->basis == MPL_EXPECTED_FAILOVER ? "  (f)"
                : x->basis == MPL_EXPECTED_BACKUP   ? "  (b)"
                                                    : "");
        if (x->basis == MPL_EXPECTED_FAILOVER)
            note_f = 1;
        if (x->basis == MPL_EXPECTED_BACKUP)
            note_b = 1;
    }
    if (note_f)
        fprintf(f,
                "(f) failure point: expected = an ideal transfer at the sum of the (non-backup) links' "
                "references until the failure, then at the surviving links' (time-weighted); not flagged\n");
    if (note_b)
        fprintf(f, "(b) with a backup path (mptcp, mptls, tcpls): expected = the non-backup links' "
                   "references only\n");
    mpl_latency_print(f, g, n);
}

/* ---- failure metrics ----------------------------------------------------------------- */

void
mpl_failure_metrics(const double *t, const double *mbps, int n, double event_t, double target_mbps,
                    double window_s, double *stall_s, double *recover_s)
{
    double longest = 0, run = 0;
    int started = 0;
    double prev_t = 0;
    for (int i = 0; i < n; i++) {
        double dt = t[i] - prev_t;
        prev_t = t[i];
        if (dt < 0)
            dt = 0;
        if (mbps[i] > 0) {
            if (started && run > longest)
                longest = run;
            run = 0;
            started = 1;
        } else if (started) {
            run += dt;
        }
    }
    /* a stall that lasts until the end (transfer failed) counts too */
    if (started && run > longest)
        longest = run;
    *stall_s = n > 0 ? longest : NAN;

    *recover_s = NAN;
    if (event_t < 0 || !(target_mbps > 0) || n == 0)
        return;
    /* sliding window average of the goodput, over intervals ending after the event */
    for (int i = 0; i < n; i++) {
        if (t[i] <= event_t)
            continue;
        double bits = 0, from = t[i] - window_s;
        if (from < event_t)
            continue; /* the window must lie after the failure */
        double lo = from;
        for (int j = i; j >= 0 && t[j] > from; j--) {
            double start = j > 0 ? t[j - 1] : 0;
            double len = t[j] - start;
            double overlap = t[j] - (start > lo ? start : lo);
            if (len > 0 && overlap > 0)
                bits += mbps[j] * overlap;
        }
        if (bits / window_s >= target_mbps) {
            *recover_s = t[i] - event_t;
            return;
        }
    }
}

void
mpl_migration_metrics(const double *t, const double *old_mbps, const double *new_mbps, int n, double at_s,
                      double target_mbps, double window_s, double *t90_s, double *old_bytes)
{
    double bytes = 0;
    *t90_s = NAN;
    for (int i = 1; i < n; i++) {
        double dt = t[i] - t[i - 1];
        if (t[i] > at_s && dt > 0)
            bytes += old_mbps[i] * 1e6 / 8 * (t[i] - (t[i - 1] > at_s ? t[i - 1] : at_s));
    }
    *old_bytes = n > 0 ? bytes : NAN;
    if (!(target_mbps > 0))
        return;
    /* the first window [t_i - window_s, t_i] after the instant whose samples average to the
     * target; counted to its end, as recover is */
    for (int i = 0; i < n && isnan(*t90_s); i++) {
        if (t[i] - window_s < at_s)
            continue;
        double sum = 0;
        int k = 0;
        for (int j = i; j >= 0 && t[j] > t[i] - window_s; j--, k++)
            sum += new_mbps[j];
        if (k > 0 && sum / k >= target_mbps)
            *t90_s = t[i] - at_s;
    }
}

double
mpl_first_data_s(const double *t, const double *bytes, int n, double threshold)
{
    int base = 0;
    for (int i = 0; i < n && t[i] <= 0; i++)
        base = i;
    for (int i = base + 1; i < n; i++) {
        double above = bytes[i] - bytes[base];
        if (above <= threshold)
            continue;
        /* the crossing lies between samples i-1 and i: interpolate at a constant rate */
        double prev = bytes[i - 1] - bytes[base];
        double at = t[i - 1];
        if (above > prev && t[i] > t[i - 1])
            at += (threshold - prev) / (above - prev) * (t[i] - t[i - 1]);
        return at > 0 ? at : 0;
    }
    return NAN;
}
