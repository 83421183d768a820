/*
 * linkmodel.c — per-frame decisions of an emulated link direction (linkmodel.h).
 *
 * Correlations keep each marginal distribution exact, unlike netem's mixing of successive
 * uniforms (which shrinks the spread as the correlation grows):
 *   - jitter: an AR(1) process on normal scores, z' = c z + sqrt(1 - c^2) e, mapped through
 *     the normal CDF to a uniform and then through the distribution's quantile table;
 *   - random loss: a two-state Markov chain, P(loss | lost) = p + c (1 - p),
 *     P(loss | not lost) = p (1 - c): loss rate p, mean burst 1 / ((1 - p)(1 - c)).
 * Gilbert-Elliott follows netem: in the good state a frame is lost with 1-k, in the bad state
 * with 1-h; then the state moves good -> bad with p, bad -> good with r.
 */
#include "testbed/linkmodel.h"
#include "common/util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const dist_names[MPL_LM_NDIST] = {"uniform", "normal", "pareto", "paretonormal"};

const char *
mpl_lm_dist_name(uint32_t d)
{
    return d < MPL_LM_NDIST ? dist_names[d] : "?";
}

int
mpl_lm_dist_parse(const char *s, uint32_t *d)
{
    for (uint32_t i = 0; i < MPL_LM_NDIST; i++)
        if (!strcmp(s, dist_names[i])) {
            *d = i;
            return 0;
        }
    return -1;
}

void
mpl_lm_params_init(mpl_lm_params_t *p)
{
    memset(p, 0, sizeof(*p));
    p->jitter_dist = MPL_LM_UNIFORM; /* netem's default without 'distribution' */
}

int
mpl_lm_params_extended(const mpl_lm_params_t *p)
{
    return p->jitter_ns > 0 || p->loss_corr_pct > 0 || p->ge || p->reorder_pct > 0 || p->duplicate_pct > 0 ||
           p->corrupt_pct > 0;
}

void
mpl_lm_state_init(mpl_lm_state_t *s, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    /* splitmix64 of the seed: never zero, seeds 1 and 2 far apart */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    s->rng = z ? z : 1;
    s->table_dist = MPL_LM_NDIST;
}

double
mpl_lm_uniform(mpl_lm_state_t *s)
{
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (double)((s->rng * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

static double
normal_cdf(double z)
{
    return 0.5 * erfc(-z / M_SQRT2);
}

static double
normal_quantile(double u)
{
    double lo = -9, hi = 9;
    for (int i = 0; i < 60; i++) {
        double mid = (lo + hi) / 2;
        if (normal_cdf(mid) < u)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

static double
pareto_quantile(double u)
{
    /* shape 3, scale 1, shifted to mean 0 and scaled by 4/3 (iproute2's pareto table); the
     * long tail is on the side of large delays */
    return (pow(1 - u, -1.0 / 3.0) - 1.5) * 4.0 / 3.0;
}

static void
build_table(mpl_lm_state_t *s, uint32_t dist)
{
    for (int i = 0; i < MPL_LM_TABLE; i++) {
        double u = (i + 0.5) / MPL_LM_TABLE, q;
        switch (dist) {
        case MPL_LM_NORMAL:
            q = normal_quantile(u);
            break;
        case MPL_LM_PARETO:
            q = pareto_quantile(u);
            break;
        case MPL_LM_PARETONORMAL:
            q = 0.25 * normal_quantile(u) + 0.75 * pareto_quantile(u);
            break;
        default:
            q = 2 * u - 1;
            break;
        }
        s->table[i] = (float)q;
    }
    s->table_dist = dist;
}

/* Uniform u in [0, 1) with lag-1 correlation c, from the normal-score AR(1) process *z. */
static double
correlated_uniform(mpl_lm_state_t *s, double *z, double c)
{
    double u1 = mpl_lm_uniform(s), u2 = mpl_lm_uniform(s);
    double e = sqrt(-2 * log(1 - u1)) * cos(2 * M_PI * u2);
    *z = c * *z + sqrt(1 - c * c) * e;
    double u = normal_cdf(*z);
    return u < 1 ? u : 0.999999999;
}

static int
lost(const mpl_lm_params_t *p, mpl_lm_state_t *s)
{
    if (p->ge) {
        double u = mpl_lm_uniform(s);
        int loss = s->ge_bad ? u < p->ge_1h_pct / 100 : u < p->ge_1k_pct / 100;
        double t = mpl_lm_uniform(s);
        if (s->ge_bad) {
            if (t < p->ge_r_pct / 100)
                s->ge_bad = 0;
        } else if (t < p->ge_p_pct / 100) {
            s->ge_bad = 1;
        }
        return loss;
    }
    if (p->loss_pct <= 0)
        return 0;
    double q = p->loss_pct / 100, c = p->loss_corr_pct / 100;
    double prob = s->lost_last ? q + c * (1 - q) : q * (1 - c);
    s->lost_last = mpl_lm_uniform(s) < prob;
    return (int)s->lost_last;
}

void
mpl_lm_packet(const mpl_lm_params_t *p, mpl_lm_state_t *s, uint64_t arrival_ns, uint32_t len,
              mpl_lm_verdict_t *v)
{
    v->drop = 0;
    v->copies = 1;
    v->reordered = 0;
    v->corrupt_bit = -1;
    v->release_ns = arrival_ns + p->delay_ns;
    if (lost(p, s)) {
        v->drop = 1;
        return;
    }
    if (p->duplicate_pct > 0 && mpl_lm_uniform(s) < p->duplicate_pct / 100)
        v->copies = 2;
    if (p->corrupt_pct > 0 && len > 14 && mpl_lm_uniform(s) < p->corrupt_pct / 100) {
        /* after the Ethernet header: a checksum (IP header, TCP/UDP/ICMP) covers every bit */
        uint64_t bits = (uint64_t)(len - 14) * 8;
        v->corrupt_bit = 14 * 8 + (int64_t)(mpl_lm_uniform(s) * (double)bits);
    }
    if (p->reorder_pct > 0 && p->delay_ns > 0) {
        uint32_t gap = p->reorder_gap ? p->reorder_gap : 1;
        double c = p->reorder_corr_pct / 100;
        double u = (1 - c) * mpl_lm_uniform(s) + c * s->reorder_last; /* netem's correlation */
        s->reorder_last = u;
        if (s->reorder_count + 1 >= gap && u < p->reorder_pct / 100) {
            s->reorder_count = 0;
            v->reordered = 1;
            v->release_ns = arrival_ns;
            return; /* leaves at once, ahead of the delayed ones; FIFO order is not touched */
        }
        s->reorder_count++;
    }
    if (p->jitter_ns > 0) {
        if (s->table_dist != p->jitter_dist)
            build_table(s, p->jitter_dist);
        double u = correlated_uniform(s, &s->jitter_z, p->jitter_corr_pct / 100);
        double j = (double)s->table[(int)(u * MPL_LM_TABLE)] * (double)p->jitter_ns;
        double t = (double)arrival_ns + (double)p->delay_ns + j;
        v->release_ns = t < (double)arrival_ns ? arrival_ns : (uint64_t)t;
    }
    if (!p->jitter_reorder && v->release_ns < s->last_release)
        v->release_ns = s->last_release;
    s->last_release = v->release_ns;
}

/* ---- keys -------------------------------------------------------------------------------- */

int
mpl_lm_set_key(mpl_lm_params_t *p, const char *key, const char *value, char *err, size_t errlen)
{
    double *pct = NULL;
    if (!strcmp(key, "jitter")) {
        uint64_t ns;
        if (mpl_parse_duration(value, &ns) != 0 || ns > 10000000000ull) {
            snprintf(err, errlen, "invalid jitter '%s' (0..10s, e.g. 5ms)", value);
            return -1;
        }
        p->jitter_ns = ns;
        return 0;
    }
    if (!strcmp(key, "jitter_dist")) {
        if (mpl_lm_dist_parse(value, &p->jitter_dist) != 0) {
            snprintf(err, errlen, "invalid jitter_dist '%s' (uniform, normal, pareto, paretonormal)", value);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "jitter_reorder")) {
        if (!strcmp(value, "yes") || !strcmp(value, "1") || !strcmp(value, "on"))
            p->jitter_reorder = 1;
        else if (!strcmp(value, "no") || !strcmp(value, "0") || !strcmp(value, "off"))
            p->jitter_reorder = 0;
        else {
            snprintf(err, errlen, "invalid jitter_reorder '%s' (yes or no)", value);
            return -1;
        }
        return 0;
    }
    if (!strcmp(key, "reorder_gap")) {
        uint64_t g;
        if (mpl_parse_u64(value, &g) != 0 || g > 1000000) {
            snprintf(err, errlen, "invalid reorder_gap '%s' (0..1000000 frames)", value);
            return -1;
        }
        p->reorder_gap = (uint32_t)g;
        return 0;
    }
    if (!strcmp(key, "loss_ge")) {
        /* p [r [1-h [1-k]]], blanks or ':' between; netem's defaults r = 100 - p, 1-h = 100,
         * 1-k = 0; "none" or "0" turns it off */
        if (!strcmp(value, "none") || !strcmp(value, "0") || !strcmp(value, "off")) {
            p->ge = 0;
            return 0;
        }
        double v[4] = {0, -1, 100, 0};
        char buf[96], *save = NULL;
        int n = 0;
        snprintf(buf, sizeof(buf), "%s", value);
        for (char *t = strtok_r(buf, " \t:", &save); t; t = strtok_r(NULL, " \t:", &save)) {
            if (n == 4 || mpl_parse_pct(t, &v[n]) != 0) {
                snprintf(err, errlen, "invalid loss_ge '%s' (p [r [1-h [1-k]]] in percent, e.g. 1%% 30%%)",
                         value);
                return -1;
            }
            n++;
        }
        if (n == 0 || v[0] <= 0) {
            snprintf(err, errlen, "invalid loss_ge '%s': p must be above 0 (or 'none')", value);
            return -1;
        }
        if (v[1] < 0)
            v[1] = 100 - v[0];
        p->ge = 1;
        p->ge_p_pct = v[0];
        p->ge_r_pct = v[1];
        p->ge_1h_pct = v[2];
        p->ge_1k_pct = v[3];
        return 0;
    }
    if (!strcmp(key, "jitter_corr"))
        pct = &p->jitter_corr_pct;
    else if (!strcmp(key, "loss_corr"))
        pct = &p->loss_corr_pct;
    else if (!strcmp(key, "reorder"))
        pct = &p->reorder_pct;
    else if (!strcmp(key, "reorder_corr"))
        pct = &p->reorder_corr_pct;
    else if (!strcmp(key, "duplicate"))
        pct = &p->duplicate_pct;
    else if (!strcmp(key, "corrupt"))
        pct = &p->corrupt_pct;
    else
        return 1;
    if (mpl_parse_pct(value, pct) != 0) {
        snprintf(err, errlen, "invalid %s '%s' (0..100, in percent)", key, value);
        return -1;
    }
    if (pct == &p->jitter_corr_pct && *pct >= 100) {
        snprintf(err, errlen, "invalid jitter_corr '%s' (0..99.9%%)", value);
        return -1;
    }
    return 0;
}

const char *
mpl_lm_netem_args(const mpl_lm_params_t *p, char *buf, size_t len)
{
    size_t off = 0;
#define PUT(...)                                                                                             \
    do {                                                                                                     \
        int w_ = snprintf(buf + off, off < len ? len - off : 0, __VA_ARGS__);                                \
        if (w_ > 0)                                                                                          \
            off += (size_t)w_;                                                                               \
    } while (0)
    if (len)
        buf[0] = '\0';
    PUT("delay %lluus", (unsigned long long)(p->delay_ns / 1000));
    if (p->jitter_ns > 0) {
        PUT(" %lluus", (unsigned long long)(p->jitter_ns / 1000));
        if (p->jitter_corr_pct > 0)
            PUT(" %g%%", p->jitter_corr_pct);
        if (p->jitter_dist != MPL_LM_UNIFORM)
            PUT(" distribution %s", mpl_lm_dist_name(p->jitter_dist));
    }
    if (p->ge)
        PUT(" loss gemodel %g%% %g%% %g%% %g%%", p->ge_p_pct, p->ge_r_pct, p->ge_1h_pct, p->ge_1k_pct);
    else if (p->loss_pct > 0 && p->loss_corr_pct > 0)
        PUT(" loss random %g%% %g%%", p->loss_pct, p->loss_corr_pct);
    else if (p->loss_pct > 0)
        PUT(" loss random %g%%", p->loss_pct);
    if (p->duplicate_pct > 0)
        PUT(" duplicate %g%%", p->duplicate_pct);
    if (p->corrupt_pct > 0)
        PUT(" corrupt %g%%", p->corrupt_pct);
    if (p->reorder_pct > 0) {
        PUT(" reorder %g%%", p->reorder_pct);
        if (p->reorder_corr_pct > 0)
            PUT(" %g%%", p->reorder_corr_pct);
        if (p->reorder_gap > 1)
            PUT(" gap %u", p->reorder_gap);
    }
#undef PUT
    return buf;
}
