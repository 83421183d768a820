/*
 * report.c — plots, summary and index.html from an experiment directory (see report.h).
 */
#include "exp/report.h"
#include "common/jsonread.h"
#include "exp/results.h"
#include "exp/latency.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TS_PLOTS 24
#define MAX_PLOTS    (MAX_TS_PLOTS + 40)

typedef struct plot {
    char name[96];
    char caption[512];
} plot_t;

typedef struct report {
    const char *dir;
    char plots_dir[1024];
    mpl_jdoc_t meta;
    const mpl_jv_t *root;
    mpl_runs_t runs;
    mpl_group_t *groups;
    int n_groups;
    plot_t plots[MAX_PLOTS];
    int n_plots;
    int have_gnuplot;
    char client[32];
} report_t;

static const char *
meta_str(report_t *r, const char *k1, const char *k2, const char *dflt)
{
    const mpl_jv_t *v = mpl_jv_get(&r->meta, r->root, k1);
    if (k2 != NULL)
        v = mpl_jv_get(&r->meta, v, k2);
    return mpl_jv_str(&r->meta, v, dflt);
}

/* Runs gnuplot on plots/NAME.gp (in the plots directory). Returns 0 when NAME.png exists. */
static int
run_gnuplot(report_t *r, const char *name)
{
    char gp[128], log[128], png[1200];
    snprintf(gp, sizeof(gp), "%s.gp", name);
    snprintf(log, sizeof(log), "%s.log", name);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (chdir(r->plots_dir) != 0)
            _exit(127);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("gnuplot", "gnuplot", gp, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
        r->have_gnuplot = 0;
        return -1;
    }
    snprintf(png, sizeof(png), "%s/%s.png", r->plots_dir, name);
    struct stat sb;
    if (stat(png, &sb) != 0 || sb.st_size == 0) {
        mpl_warn("gnuplot failed for %s (see %s/%s)", name, r->plots_dir, log);
        return -1;
    }
    return 0;
}

static FILE *
open_plot_file(report_t *r, const char *name, const char *ext)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s.%s", r->plots_dir, name, ext);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        mpl_warn("%s: %s", path, strerror(errno));
    return f;
}

static void
gp_begin(FILE *f, const char *name, const char *title, const char *xlabel, const char *ylabel)
{
    fprintf(f, "set terminal pngcairo size 960,540 font 'sans,10' noenhanced\nset output '%s.png'\n", name);
    fprintf(f, "set title \"%s\" noenhanced\nset xlabel \"%s\"\nset ylabel \"%s\"\n", title, xlabel, ylabel);
    fprintf(f, "set grid\nset key below\nset datafile missing '?'\n");
}

static void
add_plot(report_t *r, const char *name, const char *caption)
{
    if (r->n_plots == MAX_PLOTS)
        return;
    if (run_gnuplot(r, name) != 0)
        return;
    plot_t *p = &r->plots[r->n_plots++];
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->caption, sizeof(p->caption), "%s", caption);
}

/* Ends a script: the same plot again as SVG. */
static void
gp_finish(FILE *f, const char *name)
{
    fprintf(f,
            "set terminal svg size 960,540 dynamic font 'sans,10' noenhanced\nset output '%s.svg'\nreplot\n",
            name);
}

/* ---- sweep plots --------------------------------------------------------------------- */

/* Goodput against x (share of link 1, or the number of links), one series per protocol plus
 * the expected aggregate. which: 0 = split, 1 = links. */
static void
plot_sweep(report_t *r, int which)
{
    const char *name = which == 0 ? "goodput_vs_split" : "goodput_vs_links";
    FILE *dat = open_plot_file(r, name, "dat");
    if (dat == NULL)
        return;
    const char *series_names[MPL_PROTO_COUNT + 1];
    int ns = 0;
    for (int p = 0; p <= MPL_PROTO_COUNT; p++) {
        /* p == MPL_PROTO_TCP: the best single path; p == COUNT: the expected aggregate */
        int any = 0;
        fprintf(dat, "# %s\n", p == MPL_PROTO_COUNT ? "expected" : mpl_proto_name((mpl_proto_t)p));
        for (int g = 0; g < r->n_groups; g++) {
            const mpl_group_t *x = &r->groups[g];
            double y, lo, hi;
            if (p == MPL_PROTO_COUNT) {
                if (!mpl_proto_multipath(x->proto))
                    continue;
                if (isnan(x->expected))
                    continue;
                /* once per point */
                int dup = 0;
                for (int h = 0; h < g; h++)
                    if (r->groups[h].point == x->point && mpl_proto_multipath(r->groups[h].proto) &&
                        !isnan(r->groups[h].expected))
                        dup = 1;
                if (dup)
                    continue;
                y = lo = hi = x->expected;
            } else if (p == MPL_PROTO_TCP) {
                if (x->proto != MPL_PROTO_TCP || x->path != 1 || isnan(x->median))
                    continue;
                y = x->median, lo = x->min, hi = x->max;
            } else {
                if ((int)x->proto != p || isnan(x->median))
                    continue;
                y = x->median, lo = x->min, hi = x->max;
            }
            double xv = which == 0 ? x->share1_pct : x->links;
            fprintf(dat, "%g %g %g %g\n", xv, y, lo, hi);
            any = 1;
        }
        if (!any)
            fprintf(dat, "? ? ? ?\n");
        fprintf(dat, "\n\n");
        series_names[ns++] = p == MPL_PROTO_COUNT ? "expected aggregate (sum of single-path TCP)"
                             : p == MPL_PROTO_TCP ? "tcp on link 1 alone"
                                                  : mpl_proto_name((mpl_proto_t)p);
    }
    fclose(dat);
    FILE *gp = open_plot_file(r, name, "gp");
    if (gp == NULL)
        return;
    gp_begin(gp, name,
             which == 0 ? "Goodput against the bandwidth split (median, min-max)"
                        : "Goodput against the number of links (median, min-max)",
             which == 0 ? "share of link 1 (%)" : "links", "goodput (Mbit/s)");
    fprintf(gp, "set yrange [0:*]\nset offsets 0.5, 0.5, 0, 0\n");
    if (which == 1)
        fprintf(gp, "set xtics 1\n");
    fprintf(gp, "plot ");
    for (int i = 0; i < ns; i++)
        fprintf(gp, "%s'%s.dat' index %d using 1:2:3:4 with yerrorlines lw 2 %stitle \"%s\"",
                i ? ", \\\n  " : "", name, i, i == ns - 1 ? "dt 2 lc rgb '#444444' " : "", series_names[i]);
    fprintf(gp, "\n");
    gp_finish(gp, name);
    fclose(gp);
    add_plot(r, name,
             which == 0
                 ? "Goodput against the share of the total rate given to link 1, per protocol; "
                   "dashed: the expected aggregate."
                 : "Goodput against the number of links, per protocol; dashed: the expected aggregate.");
}

/* Goodput of every point, per protocol (x = point number, labels as tics). */
static void
plot_points(report_t *r)
{
    const char *name = "goodput_by_point";
    FILE *dat = open_plot_file(r, name, "dat");
    if (dat == NULL)
        return;
    int np = 0;
    for (int g = 0; g < r->n_groups; g++)
        if (r->groups[g].point > np)
            np = r->groups[g].point;
    int nseries = 0;
    int used[MPL_PROTO_COUNT + 1] = {0};
    for (int p = 0; p <= MPL_PROTO_COUNT; p++) {
        fprintf(dat, "# %s\n", p == MPL_PROTO_COUNT ? "expected" : mpl_proto_name((mpl_proto_t)p));
        int any = 0;
        for (int pt = 1; pt <= np; pt++) {
            double y = NAN, lo = NAN, hi = NAN;
            for (int g = 0; g < r->n_groups; g++) {
                const mpl_group_t *x = &r->groups[g];
                if (x->point != pt)
                    continue;
                if (p == MPL_PROTO_COUNT && mpl_proto_multipath(x->proto) && !isnan(x->expected))
                    y = lo = hi = x->expected;
                else if (p == MPL_PROTO_TCP && x->proto == MPL_PROTO_TCP && x->path == 1)
                    y = x->median, lo = x->min, hi = x->max;
                else if (p != MPL_PROTO_TCP && p != MPL_PROTO_COUNT && (int)x->proto == p)
                    y = x->median, lo = x->min, hi = x->max;
            }
            if (!isnan(y)) {
                fprintf(dat, "%d %g %g %g\n", pt, y, lo, hi);
                any = 1;
            }
        }
        if (!any)
            fprintf(dat, "? ? ? ?\n");
        fprintf(dat, "\n\n");
        used[p] = any;
        nseries++;
    }
    fclose(dat);
    FILE *gp = open_plot_file(r, name, "gp");
    if (gp == NULL)
        return;
    gp_begin(gp, name, "Goodput per point of the experiment (median, min-max)", "", "goodput (Mbit/s)");
    fprintf(
        gp,
        "set yrange [0:*]\nset offsets 0, 0, graph 0.15, 0\nset xrange [0.5:%d.5]\nset xtics rotate by -20 (",
        np);
    int last = -1;
    for (int g = 0; g < r->n_groups; g++)
        if (r->groups[g].point != last) {
            last = r->groups[g].point;
            fprintf(gp, "%s\"%d: %s\" %d", last > 1 ? ", " : "", last, r->groups[g].label, last);
        }
    fprintf(gp, ")\nplot ");
    int first = 1;
    for (int p = 0; p <= MPL_PROTO_COUNT; p++) {
        if (!used[p])
            continue;
        const char *t = p == MPL_PROTO_COUNT ? "expected aggregate"
                        : p == MPL_PROTO_TCP ? "tcp on link 1 alone"
                                             : mpl_proto_name((mpl_proto_t)p);
        double off = (p - 2) * (np == 1 ? 0.15 : 0.08);
        fprintf(gp, "%s'%s.dat' index %d using ($1+%g):2:3:4 with yerrorbars pt 7 ps 1.2 title \"%s\"",
                first ? "" : ", \\\n  ", name, p, off, t);
        /* one point: a few dots side by side; each says which series it is */
        if (np == 1)
            fprintf(gp,
                    ", \\\n  '%s.dat' index %d using ($1+%g):2:(sprintf(\"%s\\n%%.1f\", $2)) with labels "
                    "offset char 0,2 notitle",
                    name, p, off, t);
        first = 0;
    }
    fprintf(gp, "\n");
    gp_finish(gp, name);
    fclose(gp);
    if (!first)
        add_plot(r, name, "Median goodput of every point and protocol (bars: min-max over repetitions).");
}

/* Request latency (workload = requests): the CDF of every series at one point, all
 * repetitions merged (exp/latency.h). */
static void
plot_latency(report_t *r, int point, const char *label)
{
    char name[64], titles[MPL_PROTO_COUNT * MPL_SC_MAX_LINKS][32], title[400];
    snprintf(name, sizeof(name), "latency_cdf_p%02d", point);
    FILE *dat = open_plot_file(r, name, "dat");
    if (dat == NULL)
        return;
    int ns = mpl_latency_cdf(r->dir, &r->runs, point, dat, titles, (int)MPL_ARRAY_SIZE(titles));
    fclose(dat);
    if (ns == 0)
        return;
    FILE *gp = open_plot_file(r, name, "gp");
    if (gp == NULL)
        return;
    snprintf(title, sizeof(title), "Request latency CDF, point %d: %s", point, label);
    gp_begin(gp, name, title, "latency (ms, log scale; from the scheduled send time with a rate)",
             "fraction of requests");
    fprintf(gp, "set logscale x\nset yrange [0:1.02]\nplot ");
    for (int i = 0; i < ns; i++)
        fprintf(gp, "%s'%s.dat' index %d using 1:2 with steps lw 2 title \"%s\"", i ? ", \\\n  " : "", name,
                i, titles[i]);
    fprintf(gp, "\n");
    gp_finish(gp, name);
    fclose(gp);
    char caption[512];
    snprintf(caption, sizeof(caption),
             "Latency CDF of the requests at point %d (%s), per series, all repetitions together "
             "(histogram buckets 1/32 of a power of two wide).",
             point, label);
    add_plot(r, name, caption);
}

/* ---- time series --------------------------------------------------------------------- */

/* Events of the scenario as gnuplot arrows (vertical lines), at times relative to the transfer. */
static void
gp_events(report_t *r, FILE *gp, const mpl_run_t *run)
{
    const mpl_jv_t *ev = mpl_jv_get(&r->meta, r->root, "events");
    int k = 1;
    for (const mpl_jv_t *e = mpl_jv_child(&r->meta, ev); e != NULL; e = mpl_jv_next(&r->meta, e)) {
        double at = mpl_jv_num(mpl_jv_get(&r->meta, e, "at_s"), NAN);
        const char *what = mpl_jv_str(&r->meta, mpl_jv_get(&r->meta, e, "what"), "event");
        if (isnan(at))
            continue;
        fprintf(gp, "set arrow %d from %g, graph 0 to %g, graph 1 nohead lw 2 lc rgb '#cc0000' dt 2\n", k, at,
                at);
        fprintf(gp, "set label %d \"%s\" at %g, graph 0.97 left offset 0.5,0 tc rgb '#cc0000' noenhanced\n",
                k, what, at);
        k++;
    }
    if (run != NULL && strcmp(run->fail, "none") != 0 && run->fail[0] != '\0' &&
        run->proto != MPL_PROTO_TCP) {
        double at = mpl_jv_num(mpl_jv_get(&r->meta, mpl_jv_get(&r->meta, r->root, "failure"), "at_s"), NAN);
        const char *link = meta_str(r, "failure", "link", "?");
        if (!isnan(at)) {
            fprintf(gp, "set arrow %d from %g, graph 0 to %g, graph 1 nohead lw 2 lc rgb '#cc0000' dt 2\n", k,
                    at, at);
            fprintf(
                gp,
                "set label %d \"%s %s\" at %g, graph 0.97 left offset 0.5,0 tc rgb '#cc0000' noenhanced\n", k,
                link, run->fail, at);
        }
    }
}

/* Extracts the time series of one run into NAME.dat: one block per client interface (rx)
 * and a last block for the application goodput. Returns the number of interface blocks,
 * -1 when the run has no samples; names receives the interface names. */
static int
extract_ts(report_t *r, const char *run_id, const char *name, char names[][32], int max)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/timeseries.csv", r->dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    /* first pass: interface names */
    char line[512];
    int n = 0, app = 0;
    size_t idlen = strlen(run_id);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, run_id, idlen) != 0 || line[idlen] != ',')
            continue;
        char *save = NULL, *tok[7];
        int k = 0;
        for (char *s = strtok_r(line, ",\n", &save); s && k < 7; s = strtok_r(NULL, ",\n", &save))
            tok[k++] = s;
        if (k < 6)
            continue;
        if (strcmp(tok[1], "app") == 0) {
            app = 1;
            continue;
        }
        if (strcmp(tok[2], r->client) != 0 || strcmp(tok[3], "lo") == 0)
            continue;
        int found = 0;
        for (int i = 0; i < n; i++)
            if (strcmp(names[i], tok[3]) == 0)
                found = 1;
        if (!found && n < max)
            snprintf(names[n++], 32, "%s", tok[3]);
    }
    if (n == 0 && !app) {
        fclose(f);
        return -1;
    }
    FILE *dat = open_plot_file(r, name, "dat");
    if (dat == NULL) {
        fclose(f);
        return -1;
    }
    for (int b = 0; b <= n; b++) {
        rewind(f);
        fprintf(dat, "# %s\n", b < n ? names[b] : "application goodput");
        int any = 0;
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, run_id, idlen) != 0 || line[idlen] != ',')
                continue;
            char *save = NULL, *tok[7];
            int k = 0;
            for (char *s = strtok_r(line, ",\n", &save); s && k < 7; s = strtok_r(NULL, ",\n", &save))
                tok[k++] = s;
            if (k < 6)
                continue;
            if (b < n && (strcmp(tok[1], "iface") || strcmp(tok[2], r->client) || strcmp(tok[3], names[b])))
                continue;
            if (b == n && strcmp(tok[1], "app"))
                continue;
            fprintf(dat, "%s %s\n", tok[4], tok[5]);
            any = 1;
        }
        if (!any)
            fprintf(dat, "? ?\n");
        fprintf(dat, "\n\n");
    }
    fclose(dat);
    fclose(f);
    return n;
}

static void
plot_run_ts(report_t *r, const mpl_run_t *run)
{
    char name[96], names[16][32], series[32];
    snprintf(name, sizeof(name), "ts_%s", run->id);
    int n = extract_ts(r, run->id, name, names, 16);
    if (n < 0)
        return;
    FILE *gp = open_plot_file(r, name, "gp");
    if (gp == NULL)
        return;
    char title[400];
    snprintf(title, sizeof(title), "%s, %s, repetition %d: throughput per client interface (rx)",
             mpl_run_series(run, series, sizeof(series)), run->label, run->rep);
    gp_begin(gp, name, title, "time since the start of the transfer (s)", "Mbit/s");
    fprintf(gp, "set yrange [0:*]\nset xrange [0:*]\n");
    gp_events(r, gp, run);
    fprintf(gp, "plot ");
    for (int i = 0; i < n; i++)
        fprintf(gp, "'%s.dat' index %d using 1:2 with lines lw 2 title \"%s rx\", \\\n  ", name, i, names[i]);
    fprintf(gp,
            "'%s.dat' index %d using 1:2 with lines lw 1 lc rgb 'black' dt 3 title \"application goodput\"\n",
            name, n);
    gp_finish(gp, name);
    fclose(gp);
    char cap[512];
    snprintf(cap, sizeof(cap),
             "Per-interface throughput of %s (%s, repetition %d); dotted: application goodput.",
             mpl_run_series(run, series, sizeof(series)), run->label, run->rep);
    add_plot(r, name, cap);
}

/* Link capacity of a point (Mbit/s) before and after the failure: the configured rates of
 * meta.json's points[], else the medians of the tcp references. 0 when unknown. */
static void
point_capacity(report_t *r, int point, double *before, double *after)
{
    int fail_path = mpl_stats_link_index(meta_str(r, "failure", "link", ""));
    *before = *after = 0;
    const mpl_jv_t *pts = mpl_jv_get(&r->meta, r->root, "points");
    for (const mpl_jv_t *p = mpl_jv_child(&r->meta, pts); p != NULL; p = mpl_jv_next(&r->meta, p)) {
        if ((int)mpl_jv_num(mpl_jv_get(&r->meta, p, "point"), -1) != point)
            continue;
        const mpl_jv_t *rates = mpl_jv_get(&r->meta, p, "rate_mbps");
        int i = 1, unlimited = 0;
        for (const mpl_jv_t *c = mpl_jv_child(&r->meta, rates); c != NULL;
             c = mpl_jv_next(&r->meta, c), i++) {
            double v = mpl_jv_num(c, 0);
            if (!(v > 0))
                unlimited = 1;
            *before += v;
            if (i != fail_path)
                *after += v;
        }
        if (!unlimited && *before > 0)
            return;
        *before = *after = 0;
    }
    for (int k = 0; k < r->n_groups; k++) {
        const mpl_group_t *g = &r->groups[k];
        if (g->point != point || g->proto != MPL_PROTO_TCP || g->path <= 0 || isnan(g->median))
            continue;
        *before += g->median;
        if (g->path != fail_path)
            *after += g->median;
    }
}

#define FAILOVER_AVG_S 0.25 /* moving average drawn next to the raw goodput */

/* Writes one run's application goodput as "t raw avg" lines; returns the samples written. */
static int
failover_block(FILE *ts, FILE *dat, const char *id, double *peak)
{
    char line[512];
    size_t idlen = strlen(id);
    double *t = NULL, *v = NULL;
    int n = 0, cap = 0;
    rewind(ts);
    while (fgets(line, sizeof(line), ts) != NULL) {
        if (strncmp(line, id, idlen) != 0 || strncmp(line + idlen, ",app,", 5) != 0)
            continue;
        char *save = NULL, *tok[7];
        int k = 0;
        for (char *x = strtok_r(line, ",\n", &save); x && k < 7; x = strtok_r(NULL, ",\n", &save))
            tok[k++] = x;
        double tv, vv;
        if (k < 6 || mpl_parse_double(tok[4], &tv) != 0 || mpl_parse_double(tok[5], &vv) != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            double *nt = realloc(t, sizeof(double) * (size_t)cap), *nv;
            if (nt == NULL)
                break;
            t = nt;
            nv = realloc(v, sizeof(double) * (size_t)cap);
            if (nv == NULL)
                break;
            v = nv;
        }
        t[n] = tv;
        v[n++] = vv;
    }
    int first = 0;
    double sum = 0; /* Mbit/s x s over (t[i] - FAILOVER_AVG_S, t[i]] */
    for (int i = 0; i < n; i++) {
        double len = t[i] - (i > 0 ? t[i - 1] : 0);
        sum += v[i] * (len > 0 ? len : 0);
        while (first < i && t[first] <= t[i] - FAILOVER_AVG_S + 1e-9) {
            double l = t[first] - (first > 0 ? t[first - 1] : 0);
            sum -= v[first] * (l > 0 ? l : 0);
            first++;
        }
        double from = first > 0 ? t[first - 1] : 0;
        double avg = t[i] - from > 0 ? sum / (t[i] - from) : v[i];
        fprintf(dat, "%g %g %g\n", t[i], v[i], avg);
        if (v[i] > *peak)
            *peak = v[i];
    }
    free(t);
    free(v);
    return n;
}

/* Failover timeline of a point: the application goodput of every protocol (first repetition),
 * raw and as a 0.25 s moving average, with the link capacity (all links, then the survivors);
 * the y range is clamped to 1.5x the capacity and clipped samples are marked. */
static void
plot_failover(report_t *r, int point)
{
    char name[64];
    snprintf(name, sizeof(name), "failover_p%02d", point);
    FILE *dat = open_plot_file(r, name, "dat");
    if (dat == NULL)
        return;
    const mpl_run_t *chosen[MPL_PROTO_COUNT] = {0};
    for (int i = 0; i < r->runs.n; i++) {
        const mpl_run_t *x = &r->runs.v[i];
        if (x->point != point || x->proto == MPL_PROTO_TCP || !strcmp(x->status, "unavailable") ||
            (isnan(x->goodput_mbps) && x->bytes <= 0))
            continue;
        if (chosen[x->proto] == NULL || x->rep < chosen[x->proto]->rep)
            chosen[x->proto] = x;
    }
    char path[1200];
    snprintf(path, sizeof(path), "%s/timeseries.csv", r->dir);
    FILE *f = fopen(path, "r");
    int blocks = 0;
    double peak = 0;
    const mpl_run_t *order[MPL_PROTO_COUNT];
    for (int p = 0; p < MPL_PROTO_COUNT && f != NULL; p++) {
        if (chosen[p] == NULL)
            continue;
        fprintf(dat, "# %s: t goodput avg%.2fs\n", chosen[p]->id, FAILOVER_AVG_S);
        if (failover_block(f, dat, chosen[p]->id, &peak) == 0)
            fprintf(dat, "? ? ?\n");
        fprintf(dat, "\n\n");
        order[blocks++] = chosen[p];
    }
    if (f != NULL)
        fclose(f);
    /* a failed transfer stalls until its timeout: show the successful ones in full */
    double xmax = 0;
    for (int i = 0; i < blocks; i++)
        if (!strcmp(order[i]->status, "ok") && order[i]->seconds > xmax)
            xmax = order[i]->seconds;
    double cap_before, cap_after;
    point_capacity(r, point, &cap_before, &cap_after);
    double at = mpl_jv_num(mpl_jv_get(&r->meta, mpl_jv_get(&r->meta, r->root, "failure"), "at_s"), NAN);
    int have_cap = cap_before > 0 && !isnan(at) && blocks > 0;
    if (have_cap) {
        double end = xmax > 0 ? xmax * 1.15 : at * 4;
        fprintf(
            dat,
            "# capacity: sum of the link rates, then the surviving links\n0 %g\n%g %g\n%g %g\n%g %g\n\n\n",
            cap_before, at, cap_before, at, cap_after, end, cap_after);
    }
    fclose(dat);
    if (blocks == 0)
        return;
    FILE *gp = open_plot_file(r, name, "gp");
    if (gp == NULL)
        return;
    char title[400];
    snprintf(title, sizeof(title), "Failover timeline, %s: application goodput", order[0]->label);
    gp_begin(gp, name, title, "time since the start of the transfer (s)", "goodput (Mbit/s)");
    double ymax = have_cap ? 1.5 * cap_before : 0;
    int clipped = ymax > 0 && peak > ymax;
    if (ymax > 0)
        fprintf(gp, "set yrange [0:%g]\n", ymax);
    else
        fprintf(gp, "set yrange [0:*]\n");
    if (xmax > 0)
        fprintf(gp, "set xrange [0:%.1f]\n", xmax * 1.15);
    else
        fprintf(gp, "set xrange [0:*]\n");
    gp_events(r, gp, order[0]);
    if (clipped)
        fprintf(gp,
                "set label 90 \"peak %.0f Mbit/s clipped (y range = 1.5 x capacity; triangles = clipped "
                "samples)\" at graph 0.99, graph 0.90 right tc rgb '#555555' noenhanced\n",
                peak);
    fprintf(gp, "plot ");
    for (int i = 0; i < blocks; i++) {
        fprintf(gp,
                "%s'%s.dat' index %d using 1:2 with lines lw 1 lc %d dt 3 title \"%s raw\", \\\n  "
                "'%s.dat' index %d using 1:3 with lines lw 2 lc %d title \"%s %.2f s average (rep %d, %s)\"",
                i ? ", \\\n  " : "", name, i, i + 1, mpl_proto_name(order[i]->proto), name, i, i + 1,
                mpl_proto_name(order[i]->proto), FAILOVER_AVG_S, order[i]->rep, order[i]->status);
        if (clipped)
            fprintf(gp,
                    ", \\\n  '%s.dat' index %d using 1:($2 > %g ? %g : 1/0) with points pt 9 ps 1.2 lc %d "
                    "notitle",
                    name, i, ymax, ymax * 0.985, i + 1);
    }
    if (have_cap)
        fprintf(gp,
                ", \\\n  '%s.dat' index %d using 1:2 with lines lw 2 lc rgb '#444444' dt 2 title \"link "
                "capacity (%.0f, then %.0f Mbit/s)\"",
                name, blocks, cap_before, cap_after);
    fprintf(gp, "\n");
    gp_finish(gp, name);
    fclose(gp);
    char cap[512];
    snprintf(cap, sizeof(cap),
             "Failover timeline of %s: application goodput of each protocol around the failure (dotted: raw "
             "intervals; solid: %.2f s moving average; dashed grey: link capacity%s).",
             order[0]->label, FAILOVER_AVG_S, clipped ? "; y range clamped to 1.5x capacity" : "");
    add_plot(r, name, cap);
}

/* ---- HTML ---------------------------------------------------------------------------- */

static void
html_esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

int
mpl_report_base64_file(const char *path, void *file)
{
    FILE *out = file;
    FILE *in = fopen(path, "rb");
    if (in == NULL)
        return -1;
    unsigned char buf[3 * 1024];
    unsigned char enc[4 * 1024 + 1];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        int m = EVP_EncodeBlock(enc, buf, (int)n);
        fwrite(enc, 1, (size_t)m, out);
    }
    fclose(in);
    return 0;
}

static void
html_num(FILE *f, const char *fmt, double v)
{
    fputs("<td>", f);
    if (isnan(v))
        fputs("&ndash;", f);
    else
        fprintf(f, fmt, v);
    fputs("</td>", f);
}

/* The environment (meta.json): last in the page, collapsed. */
static void
write_html_environment(report_t *r, FILE *f)
{
    fprintf(f, "<details id=\"environment\"><summary><strong>Environment and parameters</strong> (kernel, "
               "versions, sysctls, scenario parameters)</summary>\n<table>\n");
    static const char *const env_keys[] = {"date",    "kernel", "mplab_version", "openssl_version",
                                           "backend", "seed",   "hostname"};
    for (size_t i = 0; i < MPL_ARRAY_SIZE(env_keys); i++) {
        const mpl_jv_t *v = mpl_jv_get(&r->meta, r->root, env_keys[i]);
        if (v == NULL)
            continue;
        fprintf(f, "<tr><th>%s</th><td class=l>", env_keys[i]);
        if (v->type == MPL_JV_NUM)
            fprintf(f, "%.0f", v->num);
        else
            html_esc(f, mpl_jv_str(&r->meta, v, ""));
        fprintf(f, "</td></tr>\n");
    }
    static const char *const sys_sets[] = {"sysctls_client", "sysctls_server", "sysctls"};
    static const char *const sys_where[] = {"client", "server", "host"};
    for (size_t k = 0; k < MPL_ARRAY_SIZE(sys_sets); k++) {
        const mpl_jv_t *sys = mpl_jv_get(&r->meta, r->root, sys_sets[k]);
        for (const mpl_jv_t *c = mpl_jv_child(&r->meta, sys); c != NULL; c = mpl_jv_next(&r->meta, c)) {
            /* the per-namespace sets are what the transfers saw: the host's only when different */
            if (k == 2 && mpl_jv_get(&r->meta, mpl_jv_get(&r->meta, r->root, "sysctls_client"),
                                     mpl_jv_key(&r->meta, c)))
                continue;
            fprintf(f, "<tr><th>%s: ", sys_where[k]);
            html_esc(f, mpl_jv_key(&r->meta, c));
            fprintf(f, "</th><td class=l>");
            html_esc(f, mpl_jv_str(&r->meta, c, "?"));
            fprintf(f, "</td></tr>\n");
        }
    }
    const mpl_jv_t *params = mpl_jv_get(&r->meta, r->root, "parameters");
    for (const mpl_jv_t *c = mpl_jv_child(&r->meta, params); c != NULL; c = mpl_jv_next(&r->meta, c)) {
        fprintf(f, "<tr><th>");
        html_esc(f, mpl_jv_key(&r->meta, c));
        fprintf(f, "</th><td class=l>");
        if (c->type == MPL_JV_NUM)
            fprintf(f, "%g", c->num);
        else
            html_esc(f, mpl_jv_str(&r->meta, c, "?"));
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table></details>\n");
}

/* The request-latency table (workload = requests); as_summary: it is the page's summary. */
static void
write_html_requests(report_t *r, FILE *f, int as_summary)
{
    if (!mpl_latency_any(r->groups, r->n_groups))
        return;
    fprintf(f, "%s", as_summary ? "" : "<h3>Requests</h3>\n");
    fprintf(f,
            "<p>Request workload (<code>mplab get --requests</code>): completed requests "
            "per second and latency percentiles, medians over the repetitions. With a request rate the "
            "latency counts from each request's scheduled send time (coordinated omission "
            "corrected).</p>\n<table id=\"%s\">\n<tr><th>point</th><th>series</th><th>runs ok</th>"
            "<th>requests/s</th><th>p50 (ms)</th><th>p99 (ms)</th></tr>\n",
            as_summary ? "summary" : "requests");
    for (int i = 0; i < r->n_groups; i++) {
        const mpl_group_t *x = &r->groups[i];
        char series[32];
        mpl_run_t tmp = {.proto = x->proto, .path = x->path};
        fprintf(f, "<tr><td class=l>");
        html_esc(f, x->label);
        fprintf(f, "</td><td class=l>%s</td><td>%d/%d</td>", mpl_run_series(&tmp, series, sizeof(series)),
                x->n_ok, x->n);
        html_num(f, "%.1f", x->rps_median);
        html_num(f, "%.3f", x->p50_median);
        html_num(f, "%.3f", x->p99_median);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
}

/* The goodput summary table (bulk transfers). */
static void
write_html_goodput(report_t *r, FILE *f)
{
    fprintf(
        f,
        "<h2>Results</h2>\n<p>Median and spread over the repetitions. <em>Expected</em> is the expected "
        "aggregate of a multipath transfer: the sum of the single-path TCP goodputs measured on each link "
        "in the same point. Ratios off by more than %.0f%% are highlighted. With a backup path (mptcp), "
        "expected counts the non-backup links only (marked b). At a failure point (marked f) the aggregate "
        "is not the right yardstick: expected is an ideal transfer of the same size at the sum of the "
        "(non-backup) links until the failure, then at the surviving links (time-weighted), and these "
        "rows are never flagged.</p>\n",
        MPL_FLAG_RATIO * 100);
    fprintf(f,
            "<table id=\"summary\">\n<tr><th>point</th><th>series</th><th>runs ok</th><th>goodput median "
            "(Mbit/s)</th>"
            "<th>min</th><th>max</th><th>stddev</th><th>time (s)</th><th>expected (Mbit/s)</th><th>ratio</th>"
            "<th>stall (s)</th><th>recover 90%% (s)</th><th>2nd path (s)</th><th>client CPU "
            "(s)</th><th>server CPU (s)</th></tr>\n");
    for (int i = 0; i < r->n_groups; i++) {
        const mpl_group_t *x = &r->groups[i];
        char series[32];
        mpl_run_t tmp = {.proto = x->proto, .path = x->path};
        fprintf(f, "<tr%s><td class=l>", x->flagged ? " class=flag" : x->unavailable ? " class=na" : "");
        html_esc(f, x->label);
        fprintf(f, "</td><td class=l>%s</td>", mpl_run_series(&tmp, series, sizeof(series)));
        if (x->unavailable) {
            fprintf(f, "<td colspan=13 class=l>unavailable (not supported by this build)</td></tr>\n");
            continue;
        }
        fprintf(f, "<td>%d/%d</td>", x->n_ok, x->n);
        html_num(f, "%.1f", x->median);
        html_num(f, "%.1f", x->min);
        html_num(f, "%.1f", x->max);
        html_num(f, "%.2f", x->stddev);
        html_num(f, "%.2f", x->seconds_median);
        html_num(f, "%.1f", x->expected);
        if (x->basis == MPL_EXPECTED_FAILOVER || x->basis == MPL_EXPECTED_BACKUP)
            fprintf(f, "<td>%.2f %s</td>", x->ratio, x->basis == MPL_EXPECTED_FAILOVER ? "f" : "b");
        else
            html_num(f, "%.2f", x->ratio);
        html_num(f, "%.2f", x->stall_median);
        html_num(f, "%.2f", x->recover_median);
        html_num(f, "%.3f", x->second_path_median);
        html_num(f, "%.2f", x->cpu_client_median);
        html_num(f, "%.2f", x->cpu_server_median);
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</table>\n");
}

static void
write_html(report_t *r, FILE *f)
{
    const char *title = meta_str(r, "scenario", "title", NULL);
    const char *name = meta_str(r, "scenario", "name", "experiment");
    fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mplab: ");
    html_esc(f, name);
    fprintf(
        f, "</title>\n<style>\nbody{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;}\n"
           "table{border-collapse:collapse;margin:1em 0;font-size:90%%}td,th{border:1px solid #bbb;padding:"
           "3px 8px;text-align:right}th{background:#eee}td.l{text-align:left}\ntr.flag td{background:#fde0dc}"
           "tr.na td{color:#888}p.partial{background:#fff3cd;padding:6px}\nfigure{margin:1.5em "
           "0}img{max-width:100%%;border:1px solid #ddd}"
           "figcaption{font-size:90%%;color:#333}\ncode{background:#f4f4f4;padding:0 3px}\n</style></head>\n"
           "<body>\n<h1>");
    html_esc(f, name);
    if (title != NULL) {
        fputs(": ", f);
        html_esc(f, title);
    }
    fprintf(f,
            "</h1>\n<p>Data: <a href=\"runs.csv\">runs.csv</a> (one row per run), "
            "<a href=\"timeseries.csv\">timeseries.csv</a> (per-interface and application throughput), "
            "<a href=\"subflows.csv\">subflows.csv</a> (bytes per subflow or connection), "
            "<a href=\"meta.json\">meta.json</a> (parameters and environment), <a href=\"runs/\">runs/</a> "
            "(raw outputs), <a href=\"summary.txt\">summary.txt</a>%s. Rebuild with <code>mplab report "
            "DIR</code>.</p>\n",
            mpl_latency_any(r->groups, r->n_groups)
                ? ", <a href=\"latency.csv\">latency.csv</a> (request latency histograms)"
                : "");
    int planned = (int)mpl_jv_num(mpl_jv_get(&r->meta, r->root, "planned"), 0);
    if (planned > r->runs.n)
        fprintf(
            f,
            "<p class=partial><strong>Partial results:</strong> %d of %d planned runs (the experiment was "
            "interrupted or is still running); continue it with <code>mplab run SCENARIO --out DIR "
            "--resume</code>.</p>\n",
            r->runs.n, planned);
    /* summary: goodput (bulk), and the request table (workload = requests); a request-only
     * experiment has no goodput figures, its request table is the summary */
    int only_requests = mpl_latency_only(r->groups, r->n_groups);
    if (only_requests)
        fprintf(f, "<h2>Results</h2>\n");
    else
        write_html_goodput(r, f);
    write_html_requests(r, f, only_requests);
    /* failures */
    int nfail = 0;
    for (int i = 0; i < r->runs.n; i++)
        if (strcmp(r->runs.v[i].status, "failed") == 0)
            nfail++;
    if (nfail > 0) {
        fprintf(f, "<h3>Failed runs</h3>\n<table><tr><th>run</th><th>error</th></tr>\n");
        for (int i = 0; i < r->runs.n; i++)
            if (strcmp(r->runs.v[i].status, "failed") == 0) {
                fprintf(f, "<tr><td class=l>%s</td><td class=l>", r->runs.v[i].id);
                html_esc(f, r->runs.v[i].error);
                fprintf(f, "</td></tr>\n");
            }
        fprintf(f, "</table>\n");
    }
    fprintf(f, "<h2>Plots</h2>\n");
    if (!r->have_gnuplot)
        fprintf(f, "<p>gnuplot was not found: no plots.</p>\n");
    for (int i = 0; i < r->n_plots; i++) {
        char png[1200];
        snprintf(png, sizeof(png), "%s/%s.png", r->plots_dir, r->plots[i].name);
        fprintf(f, "<figure id=\"%s\"><img alt=\"%s\" src=\"data:image/png;base64,", r->plots[i].name,
                r->plots[i].name);
        mpl_report_base64_file(png, f);
        fprintf(f, "\"><figcaption>");
        html_esc(f, r->plots[i].caption);
        fprintf(f,
                " (<a href=\"plots/%s.svg\">SVG</a>, <a href=\"plots/%s.png\">PNG</a>, <a "
                "href=\"plots/%s.dat\">data</a>)</figcaption></figure>\n",
                r->plots[i].name, r->plots[i].name, r->plots[i].name);
    }
    /* every run, with its raw outputs */
    fprintf(f,
            "<details><summary>All %d runs</summary>\n<table>\n<tr><th>run</th><th>point</th><th>series</th>"
            "<th>rep</th><th>status</th><th>goodput (Mbit/s)</th><th>time (s)</th><th>stall (s)</th>"
            "<th>recover (s)</th><th>2nd path (s)</th><th>client CPU (s)</th><th>server CPU "
            "(s)</th><th>subflows / conns</th>"
            "<th>raw</th><th>note</th></tr>\n",
            r->runs.n);
    for (int i = 0; i < r->runs.n; i++) {
        const mpl_run_t *x = &r->runs.v[i];
        char series[32];
        fprintf(f, "<tr><td class=l>%s</td><td class=l>", x->id);
        html_esc(f, x->label);
        fprintf(f, "</td><td class=l>%s</td><td>%d</td><td class=l>%s</td>",
                mpl_run_series(x, series, sizeof(series)), x->rep, x->status);
        html_num(f, "%.1f", x->goodput_mbps);
        html_num(f, "%.2f", x->seconds);
        html_num(f, "%.2f", x->stall_s);
        html_num(f, "%.2f", x->recover_s);
        html_num(f, "%.3f", x->second_path_s);
        html_num(f, "%.2f", x->cpu_client_s);
        html_num(f, "%.2f", x->cpu_server_s);
        fprintf(f,
                "<td>%d</td><td class=l><a href=\"runs/%s.get.json\">get</a> <a href=\"runs/%s.server.log\">"
                "serve</a> <a href=\"runs/%s.monitor.csv\">monitor</a></td><td class=l>",
                x->subflows, x->id, x->id, x->id);
        html_esc(f, x->error);
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table></details>\n");
    write_html_environment(r, f);
    fprintf(f, "</body></html>\n");
}

int
mpl_report_build(const char *dir, int print, char *err, size_t errlen)
{
    report_t r;
    memset(&r, 0, sizeof(r));
    r.dir = dir;
    r.have_gnuplot = 1;
    int rc = -1;
    char path[1200], msg[512];
    snprintf(path, sizeof(path), "%s/meta.json", dir);
    if (mpl_jdoc_load(&r.meta, path, msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "%s", msg);
        goto out;
    }
    r.root = mpl_jdoc_root(&r.meta);
    snprintf(r.client, sizeof(r.client), "%s", meta_str(&r, "scenario", "client", "client"));
    snprintf(path, sizeof(path), "%s/runs.csv", dir);
    if (mpl_runs_csv_load(path, &r.runs, msg, sizeof(msg)) != 0) {
        snprintf(err, errlen, "%s", msg);
        goto out;
    }
    mpl_stats_ctx_t ctx = {
        .fail_at_s = mpl_jv_num(mpl_jv_get(&r.meta, mpl_jv_get(&r.meta, r.root, "failure"), "at_s"), NAN),
        .fail_path = mpl_stats_link_index(meta_str(&r, "failure", "link", ""))};
    r.n_groups = mpl_stats_groups_ctx(&r.runs, &ctx, &r.groups);
    if (r.n_groups < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    int planned = (int)mpl_jv_num(mpl_jv_get(&r.meta, r.root, "planned"), 0);
    snprintf(path, sizeof(path), "%s/summary.txt", dir);
    FILE *sum = fopen(path, "w");
    if (sum != NULL) {
        mpl_stats_print(sum, r.groups, r.n_groups);
        if (planned > r.runs.n)
            fprintf(sum, "partial results: %d of %d planned runs (continue with --resume)\n", r.runs.n,
                    planned);
        fclose(sum);
    }
    if (print) {
        mpl_stats_print(stdout, r.groups, r.n_groups);
        if (planned > r.runs.n)
            printf("partial results: %d of %d planned runs (continue with --resume)\n", r.runs.n, planned);
    }

    snprintf(r.plots_dir, sizeof(r.plots_dir), "%s/plots", dir);
    mkdir(r.plots_dir, 0755);
    /* sweep plots */
    const mpl_jv_t *swept = mpl_jv_get(&r.meta, r.root, "swept");
    int split = 0, links = 0;
    for (const mpl_jv_t *c = mpl_jv_child(&r.meta, swept); c != NULL; c = mpl_jv_next(&r.meta, c)) {
        const char *s = mpl_jv_str(&r.meta, c, "");
        if (!strcmp(s, "split") || !strcmp(s, "rate"))
            split = 1;
        if (!strcmp(s, "links"))
            links = 1;
    }
    if (split)
        plot_sweep(&r, 0);
    if (links)
        plot_sweep(&r, 1);
    if (r.runs.n > 0)
        plot_points(&r);
    /* request latency CDFs, one per point */
    for (int g = 0; g < r.n_groups && r.have_gnuplot; g++)
        if ((g == 0 || r.groups[g - 1].point != r.groups[g].point) && mpl_latency_any(&r.groups[g], 1))
            plot_latency(&r, r.groups[g].point, r.groups[g].label);
    /* failover timelines */
    int np = 0;
    for (int i = 0; i < r.runs.n; i++)
        if (r.runs.v[i].point > np)
            np = r.runs.v[i].point;
    for (int p = 1; p <= np && r.have_gnuplot; p++) {
        for (int i = 0; i < r.runs.n; i++)
            if (r.runs.v[i].point == p && strcmp(r.runs.v[i].fail, "none") && r.runs.v[i].fail[0]) {
                plot_failover(&r, p);
                break;
            }
    }
    /* per-interface time series: first repetition of each non-reference protocol, per point */
    int nts = 0;
    for (int i = 0; i < r.runs.n && nts < MAX_TS_PLOTS && r.have_gnuplot; i++) {
        const mpl_run_t *x = &r.runs.v[i];
        if (x->proto == MPL_PROTO_TCP || strcmp(x->status, "unavailable") == 0)
            continue;
        int first = 1;
        for (int j = 0; j < r.runs.n; j++)
            if (j != i && r.runs.v[j].point == x->point && r.runs.v[j].proto == x->proto &&
                strcmp(r.runs.v[j].status, "unavailable") && r.runs.v[j].rep < x->rep)
                first = 0;
        if (!first)
            continue;
        plot_run_ts(&r, x);
        nts++;
    }
    if (!r.have_gnuplot)
        mpl_warn("gnuplot not found: the report has no plots (apt-get install gnuplot-nox)");
    snprintf(path, sizeof(path), "%s/index.html", dir);
    FILE *html = fopen(path, "w");
    if (html == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    write_html(&r, html);
    if (fclose(html) != 0) {
        snprintf(err, errlen, "%s: write failed", path);
        goto out;
    }
    rc = 0;
out:
    mpl_jdoc_free(&r.meta);
    mpl_runs_free(&r.runs);
    free(r.groups);
    return rc;
}
