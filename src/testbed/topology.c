/*
 * topology.c — the topology INI parser and the small formatting helpers of the model.
 */
#include "testbed/topology.h"
#include "common/ini.h"
#include "common/util.h"
#include "testbed/trace.h"

#include <arpa/inet.h>
#include <limits.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIN_RATE 8000u /* below 8 kbit/s a rate is a typo (100 instead of 100mbit) */

enum section_kind { SEC_NONE, SEC_TOPOLOGY, SEC_HOST, SEC_LINK, SEC_EVENTS };

typedef struct parser {
    const char *fname;
    int line;
    char *err;
    size_t errlen;
    mpl_topology_t *t;
    enum section_kind sec;
    int idx; /* current host/link index */
    /* link ends given by name, resolved when the whole file is read */
    char link_a[MPL_TB_MAX_LINKS][MPL_TB_NAME_MAX + 1];
    char link_b[MPL_TB_MAX_LINKS][MPL_TB_NAME_MAX + 1];
    int addr_line[MPL_TB_MAX_LINKS][2];
    int end_line[MPL_TB_MAX_LINKS][2]; /* lines of the 'a =' / 'b =' keys */
    /* per-direction values given for both directions, or only one (bit 0 a2b, bit 1 b2a) */
    int have_delay[MPL_TB_MAX_LINKS], have_rate[MPL_TB_MAX_LINKS];
    /* events name their link: resolved at the end as well */
    char ev_link[MPL_TB_MAX_EVENTS][MPL_TB_NAME_MAX + 1];
    char default_link[MPL_TB_MAX_HOSTS][MPL_TB_NAME_MAX + 1];
    int default_line[MPL_TB_MAX_HOSTS];
    int have_name;
} parser_t;

static int __attribute__((format(printf, 2, 3))) perr(parser_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mpl_ini_verror(p->err, p->errlen, p->fname, p->line, fmt, ap);
    va_end(ap);
    return -1;
}

static int
valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || !islower((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!islower(c) && !isdigit(c) && c != '_')
            return 0;
    }
    return 1;
}

static int
parse_bool(const char *s, int *out)
{
    if (!strcasecmp(s, "yes") || !strcasecmp(s, "on") || !strcasecmp(s, "true") || !strcmp(s, "1"))
        *out = 1;
    else if (!strcasecmp(s, "no") || !strcasecmp(s, "off") || !strcasecmp(s, "false") || !strcmp(s, "0"))
        *out = 0;
    else
        return -1;
    return 0;
}

int
mpl_topo_host(const mpl_topology_t *t, const char *name)
{
    for (int i = 0; i < t->n_hosts; i++)
        if (strcmp(t->hosts[i].name, name) == 0)
            return i;
    return -1;
}

int
mpl_topo_link(const mpl_topology_t *t, const char *name)
{
    for (int i = 0; i < t->n_links; i++)
        if (strcmp(t->links[i].name, name) == 0)
            return i;
    return -1;
}

const char *
mpl_tb_fmt_ip4(uint32_t a, char *buf, size_t len)
{
    snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return buf;
}

/* "10.1.2.3" or "10.1.2.3/24" */
const char *
mpl_tb_fmt_ip6(const uint8_t a[16], char *buf, size_t len)
{
    if (inet_ntop(AF_INET6, a, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
    return buf;
}

int
mpl_topo_has_ipv6(const mpl_topology_t *t)
{
    for (int i = 0; i < t->n_links; i++)
        if (t->links[i].has6)
            return 1;
    return 0;
}

/* "ADDR" or "ADDR/LEN" (LEN 8..126); plen -1 when not given. Returns 0 or -1. */
static int
parse_ip6_prefix(const char *s, uint8_t addr[16], int *plen)
{
    char buf[64];
    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    *plen = -1;
    char *sl = strchr(buf, '/');
    if (sl) {
        *sl = '\0';
        uint64_t v;
        if (mpl_parse_u64(sl + 1, &v) != 0 || v < 8 || v > 126)
            return -1;
        *plen = (int)v;
    }
    return inet_pton(AF_INET6, buf, addr) == 1 ? 0 : -1;
}

/* 1 when a and b share their first plen bits. */
static int
same_prefix6(const uint8_t a[16], const uint8_t b[16], int plen)
{
    for (int i = 0; i < plen; i++)
        if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
            return 0;
    return 1;
}

static int
parse_ip4_prefix(const char *s, uint32_t *addr, int *plen)
{
    unsigned v[4];
    int n = 0, pl = -1;
    if (sscanf(s, "%3u.%3u.%3u.%3u%n", &v[0], &v[1], &v[2], &v[3], &n) != 4)
        return -1;
    if (s[n] == '/') {
        int m = 0;
        if (sscanf(s + n + 1, "%2d%n", &pl, &m) != 1 || s[n + 1 + m] != '\0' || pl < 8 || pl > 30)
            return -1;
        if (!isdigit((unsigned char)s[n + 1]))
            return -1;
    } else if (s[n] != '\0') {
        return -1;
    }
    for (int i = 0; i < 4; i++)
        if (v[i] > 255)
            return -1;
    *addr = (v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3];
    *plen = pl;
    return 0;
}

int
mpl_tb_ep_flags_parse(const char *s, int *flags)
{
    char buf[128];
    int f = 0, none = 0, any = 0;
    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    for (char *save = NULL, *tok = strtok_r(buf, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
        any = 1;
        if (!strcasecmp(tok, "signal"))
            f |= MPL_TB_EP_SIGNAL;
        else if (!strcasecmp(tok, "subflow"))
            f |= MPL_TB_EP_SUBFLOW;
        else if (!strcasecmp(tok, "backup"))
            f |= MPL_TB_EP_BACKUP;
        else if (!strcasecmp(tok, "fullmesh"))
            f |= MPL_TB_EP_FULLMESH;
        else if (!strcasecmp(tok, "none"))
            none = 1;
        else
            return -1;
    }
    if (!any || (none && f))
        return -1;
    /* the kernel refuses fullmesh together with signal */
    if ((f & MPL_TB_EP_FULLMESH) && (f & MPL_TB_EP_SIGNAL))
        return -1;
    *flags = f;
    return 0;
}

const char *
mpl_tb_ep_flags_fmt(int flags, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s", flags & MPL_TB_EP_SIGNAL ? "signal " : "",
             flags & MPL_TB_EP_SUBFLOW ? "subflow " : "", flags & MPL_TB_EP_BACKUP ? "backup " : "",
             flags & MPL_TB_EP_FULLMESH ? "fullmesh " : "");
    size_t n = strlen(buf);
    if (n > 0)
        buf[n - 1] = '\0';
    else
        snprintf(buf, len, "none");
    return buf;
}

uint64_t
mpl_tb_queue_bytes(const mpl_tb_dir_t *d)
{
    if (d->queue_bytes)
        return d->queue_bytes;
    uint64_t min = 64 * (uint64_t)MPL_TB_MTU_FRAME;
    double rate = d->rate_bps ? (double)d->rate_bps : (double)d->trace_bps;
    double bdp = rate / 8.0 * 2.0 * (double)d->delay_ns / 1e9;
    return bdp > (double)min ? (uint64_t)bdp : min;
}

void
mpl_tb_dir_model(const mpl_tb_dir_t *d, mpl_lm_params_t *m)
{
    *m = d->model;
    m->delay_ns = d->delay_ns;
    m->loss_pct = d->loss_pct;
}

static int
check_rate(uint64_t r)
{
    return r == 0 || (r >= MIN_RATE && r <= MPL_TB_MAX_RATE);
}

int
mpl_tb_change_parse(int ntok, char **tok, mpl_tb_change_t *c, char *err, size_t errlen)
{
    int i = 0;
    c->dir = -1;
    c->value = 0;
    c->loss_pct = 0;
    if (ntok < 1) {
        snprintf(err, errlen, "missing action (down, up, blackhole, rate R, delay D, loss P)");
        return -1;
    }
    const char *a = tok[i++];
    if (!strcmp(a, "down")) {
        c->action = MPL_TB_ACT_DOWN;
    } else if (!strcmp(a, "up")) {
        c->action = MPL_TB_ACT_UP;
    } else if (!strcmp(a, "blackhole")) {
        c->action = MPL_TB_ACT_BLACKHOLE;
    } else if (!strcmp(a, "rate") || !strcmp(a, "delay") || !strcmp(a, "loss")) {
        if (i >= ntok) {
            snprintf(err, errlen, "'%s' needs a value", a);
            return -1;
        }
        const char *v = tok[i++];
        if (!strcmp(a, "rate")) {
            c->action = MPL_TB_ACT_RATE;
            if (!strcmp(v, "unlimited"))
                c->value = 0;
            else if (mpl_parse_rate(v, &c->value) != 0 || !check_rate(c->value)) {
                snprintf(err, errlen, "invalid rate '%s' (8kbit..100gbit, or unlimited)", v);
                return -1;
            }
        } else if (!strcmp(a, "delay")) {
            c->action = MPL_TB_ACT_DELAY;
            if (mpl_parse_duration(v, &c->value) != 0 || c->value > MPL_TB_MAX_DELAY) {
                snprintf(err, errlen, "invalid delay '%s' (0..10s)", v);
                return -1;
            }
        } else {
            c->action = MPL_TB_ACT_LOSS;
            if (mpl_parse_pct(v, &c->loss_pct) != 0) {
                snprintf(err, errlen, "invalid loss '%s' (0..100%%)", v);
                return -1;
            }
        }
    } else {
        /* a link-model key: the value is every token up to "dir" */
        mpl_lm_params_t probe;
        mpl_lm_params_init(&probe);
        char text[sizeof(c->text)] = "";
        size_t off = 0;
        for (; i < ntok && strcmp(tok[i], "dir"); i++) {
            int w = snprintf(text + off, sizeof(text) - off, "%s%s", off ? " " : "", tok[i]);
            if (w < 0 || off + (size_t)w >= sizeof(text)) {
                snprintf(err, errlen, "'%s': value too long", a);
                return -1;
            }
            off += (size_t)w;
        }
        int rc = strlen(a) < sizeof(c->key) ? mpl_lm_set_key(&probe, a, text, err, errlen) : 1;
        if (rc > 0) {
            snprintf(err, errlen,
                     "unknown action '%s' (down, up, blackhole, rate, delay, loss, jitter, jitter_dist, "
                     "jitter_corr, jitter_reorder, loss_corr, loss_ge, reorder, reorder_corr, reorder_gap, "
                     "duplicate, corrupt)",
                     a);
            return -1;
        }
        if (rc < 0)
            return -1;
        if (off == 0) {
            snprintf(err, errlen, "'%s' needs a value", a);
            return -1;
        }
        c->action = MPL_TB_ACT_MODEL;
        snprintf(c->key, sizeof(c->key), "%s", a);
        snprintf(c->text, sizeof(c->text), "%s", text);
    }
    if (i < ntok && !strcmp(tok[i], "dir")) {
        if (i + 1 >= ntok) {
            snprintf(err, errlen, "'dir' needs a2b or b2a");
            return -1;
        }
        if (!strcmp(tok[i + 1], "a2b"))
            c->dir = MPL_TB_A2B;
        else if (!strcmp(tok[i + 1], "b2a"))
            c->dir = MPL_TB_B2A;
        else {
            snprintf(err, errlen, "invalid direction '%s' (a2b or b2a)", tok[i + 1]);
            return -1;
        }
        i += 2;
    }
    if (i < ntok) {
        snprintf(err, errlen, "unexpected '%s'", tok[i]);
        return -1;
    }
    if (c->dir >= 0 && (c->action == MPL_TB_ACT_DOWN || c->action == MPL_TB_ACT_UP)) {
        snprintf(err, errlen, "down/up apply to both directions (use blackhole dir ...)");
        return -1;
    }
    return 0;
}

const char *
mpl_tb_change_fmt(const mpl_tb_change_t *c, char *buf, size_t len)
{
    static const char *names[] = {"down", "up", "blackhole", "rate", "delay", "loss", "model"};
    char v[80] = "";
    if (c->action == MPL_TB_ACT_RATE)
        snprintf(v, sizeof(v), " %llubit", (unsigned long long)c->value);
    else if (c->action == MPL_TB_ACT_DELAY)
        snprintf(v, sizeof(v), " %lluus", (unsigned long long)(c->value / 1000));
    else if (c->action == MPL_TB_ACT_LOSS)
        snprintf(v, sizeof(v), " %g%%", c->loss_pct);
    else if (c->action == MPL_TB_ACT_MODEL)
        snprintf(v, sizeof(v), " %s", c->text);
    snprintf(buf, len, "%s%s%s", c->action == MPL_TB_ACT_MODEL ? c->key : names[c->action], v,
             c->dir == MPL_TB_A2B   ? " dir a2b"
             : c->dir == MPL_TB_B2A ? " dir b2a"
                                    : "");
    return buf;
}

/* ---- sections ------------------------------------------------------------------------ */

static int
begin_section(parser_t *p, char *hdr)
{
    char *kind = mpl_ini_trim(hdr), *name = kind;
    while (*name && *name != ' ' && *name != '\t')
        name++;
    if (*name)
        *name++ = '\0';
    name = mpl_ini_trim(name);
    mpl_topology_t *t = p->t;

    if (!strcmp(kind, "topology") || !strcmp(kind, "events")) {
        if (*name)
            return perr(p, "section [%s] takes no name", kind);
        p->sec = kind[0] == 't' ? SEC_TOPOLOGY : SEC_EVENTS;
        return 0;
    }
    if (strcmp(kind, "host") && strcmp(kind, "router") && strcmp(kind, "link"))
        return perr(p, "unknown section [%s] (topology, host NAME, router NAME, link NAME, events)", kind);
    if (!valid_name(name, MPL_TB_NAME_MAX))
        return perr(p, "invalid %s name '%s' (a-z, 0-9, _; starts with a letter; at most %d characters)",
                    kind, name, MPL_TB_NAME_MAX);
    if (mpl_topo_host(t, name) >= 0 || mpl_topo_link(t, name) >= 0)
        return perr(p, "duplicate name '%s'", name);
    /* link names become interface names inside the hosts */
    if (kind[0] == 'l' && (!strcmp(name, "lo") || !strcmp(name, "all") || !strcmp(name, "default")))
        return perr(p, "link name '%s' is reserved (it names an interface in the hosts)", name);
    if (kind[0] == 'l') {
        if (t->n_links >= MPL_TB_MAX_LINKS)
            return perr(p, "too many links (at most %d)", MPL_TB_MAX_LINKS);
        p->idx = t->n_links++;
        mpl_tb_link_t *l = &t->links[p->idx];
        memset(l, 0, sizeof(*l));
        snprintf(l->name, sizeof(l->name), "%s", name);
        l->a = l->b = -1;
        l->ep_flags[0] = l->ep_flags[1] = -1;
        mpl_lm_params_init(&l->dir[0].model);
        mpl_lm_params_init(&l->dir[1].model);
        l->line = p->line;
        p->sec = SEC_LINK;
    } else {
        if (t->n_hosts >= MPL_TB_MAX_HOSTS)
            return perr(p, "too many hosts (at most %d)", MPL_TB_MAX_HOSTS);
        p->idx = t->n_hosts++;
        mpl_tb_host_t *h = &t->hosts[p->idx];
        memset(h, 0, sizeof(*h));
        snprintf(h->name, sizeof(h->name), "%s", name);
        h->router = kind[0] == 'r';
        h->limit_subflows = h->limit_add_addr = -1;
        h->default_link = -1;
        h->line = p->line;
        p->sec = SEC_HOST;
    }
    return 0;
}

static int
topology_key(parser_t *p, const char *k, const char *v)
{
    mpl_topology_t *t = p->t;
    if (!strcmp(k, "name")) {
        if (!valid_name(v, MPL_TB_TOPO_MAX))
            return perr(p, "invalid topology name '%s' (a-z, 0-9, _; at most %d characters)", v,
                        MPL_TB_TOPO_MAX);
        snprintf(t->name, sizeof(t->name), "%s", v);
        p->have_name = 1;
    } else if (!strcmp(k, "mptcp")) {
        if (parse_bool(v, &t->mptcp) != 0)
            return perr(p, "mptcp: expected yes or no, got '%s'", v);
    } else if (!strcmp(k, "ipv6")) {
        if (parse_bool(v, &t->ipv6) != 0)
            return perr(p, "ipv6: expected yes or no, got '%s'", v);
    } else if (!strcmp(k, "backend")) {
        if (!strcmp(v, "auto"))
            t->backend = MPL_TB_BACKEND_AUTO;
        else if (!strcmp(v, "forwarder"))
            t->backend = MPL_TB_BACKEND_FORWARDER;
        else if (!strcmp(v, "netem"))
            t->backend = MPL_TB_BACKEND_NETEM;
        else
            return perr(p, "backend: expected auto, forwarder or netem, got '%s'", v);
    } else if (!strcmp(k, "capture")) {
        if (strlen(v) >= sizeof(t->capture_dir))
            return perr(p, "capture: directory name too long");
        snprintf(t->capture_dir, sizeof(t->capture_dir), "%s", v);
    } else {
        return perr(p, "unknown key '%s' in [topology] (name, mptcp, ipv6, backend, capture)", k);
    }
    return 0;
}

static int
parse_limit(parser_t *p, const char *k, const char *v, int *out)
{
    uint64_t n;
    if (mpl_parse_u64(v, &n) != 0 || n > 8)
        return perr(p, "%s: expected 0..8, got '%s'", k, v);
    *out = (int)n;
    return 0;
}

static int
host_key(parser_t *p, const char *k, const char *v)
{
    mpl_tb_host_t *h = &p->t->hosts[p->idx];
    if (!strcmp(k, "router") || !strcmp(k, "forward")) {
        if (parse_bool(v, &h->router) != 0)
            return perr(p, "%s: expected yes or no, got '%s'", k, v);
    } else if (!strcmp(k, "mptcp_endpoints")) {
        if (mpl_tb_ep_flags_parse(v, &h->ep_flags) != 0)
            return perr(p, "mptcp_endpoints: invalid flags '%s' (signal, subflow, backup, fullmesh, none)",
                        v);
    } else if (!strcmp(k, "mptcp_subflows")) {
        return parse_limit(p, k, v, &h->limit_subflows);
    } else if (!strcmp(k, "mptcp_add_addr_accepted")) {
        return parse_limit(p, k, v, &h->limit_add_addr);
    } else if (!strcmp(k, "default")) {
        if (!valid_name(v, MPL_TB_NAME_MAX))
            return perr(p, "default: invalid link name '%s'", v);
        snprintf(p->default_link[p->idx], sizeof(p->default_link[0]), "%s", v);
        p->default_line[p->idx] = p->line;
    } else {
        return perr(p,
                    "unknown key '%s' in [host %s] (router, mptcp_endpoints, mptcp_subflows, "
                    "mptcp_add_addr_accepted, default)",
                    k, h->name);
    }
    return 0;
}

/* Splits "rate_a2b" into the base "rate" and the direction mask (3 = both). */
static int
split_dir(const char *k, char *base, size_t blen)
{
    size_t n = strlen(k);
    int mask = 3;
    if (n > 4 && !strcmp(k + n - 4, "_a2b"))
        mask = 1, n -= 4;
    else if (n > 4 && !strcmp(k + n - 4, "_b2a"))
        mask = 2, n -= 4;
    if (n >= blen)
        n = blen - 1;
    memcpy(base, k, n);
    base[n] = '\0';
    return mask;
}

/* trace = FILE: relative to the working directory, else to the topology file's directory;
 * stored as an absolute path (the state directory's copy of the file is parsed elsewhere). */
static int
trace_key(parser_t *p, mpl_tb_dir_t *dir, const char *k, const char *v)
{
    char cand[PATH_MAX], abs[PATH_MAX], why[PATH_MAX + 128];
    if (!strcmp(v, "none")) {
        dir->trace[0] = '\0';
        dir->trace_bps = 0;
        return 0;
    }
    const char *slash = strrchr(p->fname, '/');
    if (realpath(v, abs) == NULL) {
        if (v[0] == '/' || slash == NULL)
            return perr(p, "%s: cannot read '%s': %s", k, v, strerror(errno));
        snprintf(cand, sizeof(cand), "%.*s/%s", (int)(slash - p->fname), p->fname, v);
        if (realpath(cand, abs) == NULL)
            return perr(p, "%s: cannot read '%s': %s", k, v, strerror(errno));
    }
    if (strlen(abs) >= sizeof(dir->trace))
        return perr(p, "%s: path too long", k);
    mpl_trace_t tr;
    if (mpl_trace_load(abs, &tr, why, sizeof(why)) != 0)
        return perr(p, "%s: %s", k, why);
    dir->trace_bps = (uint64_t)mpl_trace_mean_bps(&tr);
    mpl_trace_free(&tr);
    memcpy(dir->trace, abs, strlen(abs) + 1); /* fits: checked above */
    return 0;
}

static int
link_key(parser_t *p, const char *k, const char *v)
{
    mpl_tb_link_t *l = &p->t->links[p->idx];
    char base[32];
    int mask = split_dir(k, base, sizeof(base));

    if (mask == 3 && (!strcmp(k, "a") || !strcmp(k, "b"))) {
        if (!valid_name(v, MPL_TB_NAME_MAX))
            return perr(p, "%s: invalid host name '%s'", k, v);
        snprintf(k[0] == 'a' ? p->link_a[p->idx] : p->link_b[p->idx], MPL_TB_NAME_MAX + 1, "%s", v);
        p->end_line[p->idx][k[0] == 'a' ? 0 : 1] = p->line;
        return 0;
    }
    if (mask == 3 && (!strcmp(k, "a_addr") || !strcmp(k, "b_addr"))) {
        int end = k[0] == 'a' ? 0 : 1, plen;
        if (parse_ip4_prefix(v, &l->addr[end], &plen) != 0)
            return perr(p, "%s: invalid IPv4 address '%s' (A.B.C.D or A.B.C.D/LEN, LEN 8..30)", k, v);
        uint32_t host = l->addr[end] & 255;
        if ((l->addr[end] >> 24) == 0 || (l->addr[end] >> 24) == 127 || (l->addr[end] >> 24) >= 224 ||
            host == 0 || host == 255)
            return perr(p, "%s: unusable address '%s'", k, v);
        if (plen >= 0) {
            if (l->plen && l->plen != plen)
                return perr(p, "%s: prefix length /%d differs from the other end's /%d", k, plen, l->plen);
            l->plen = (uint8_t)plen;
        }
        p->addr_line[p->idx][end] = p->line;
        return 0;
    }
    if (mask == 3 && (!strcmp(k, "a_addr6") || !strcmp(k, "b_addr6"))) {
        int end = k[0] == 'a' ? 0 : 1, plen;
        if (parse_ip6_prefix(v, l->addr6[end], &plen) != 0)
            return perr(p, "%s: invalid IPv6 address '%s' (ADDR or ADDR/LEN, LEN 8..126)", k, v);
        if (l->addr6[end][0] == 0xff || (l->addr6[end][0] == 0xfe && (l->addr6[end][1] & 0xc0) == 0x80))
            return perr(p, "%s: unusable address '%s' (multicast or link-local)", k, v);
        if (plen >= 0) {
            if (l->plen6 && l->plen6 != plen)
                return perr(p, "%s: prefix length /%d differs from the other end's /%d", k, plen, l->plen6);
            l->plen6 = (uint8_t)plen;
        }
        l->has6 |= 1 << end;
        p->addr_line[p->idx][end] = p->line;
        return 0;
    }
    if (mask == 3 && (!strcmp(k, "a_endpoint") || !strcmp(k, "b_endpoint"))) {
        if (mpl_tb_ep_flags_parse(v, &l->ep_flags[k[0] == 'a' ? 0 : 1]) != 0)
            return perr(p, "%s: invalid flags '%s' (signal, subflow, backup, fullmesh, none)", k, v);
        return 0;
    }
    for (int d = 0; d < 2; d++) {
        if (!(mask & (1 << d)))
            continue;
        mpl_tb_dir_t *dir = &l->dir[d];
        if (!strcmp(base, "rate")) {
            uint64_t r = 0;
            if (strcmp(v, "unlimited") && (mpl_parse_rate(v, &r) != 0 || !check_rate(r)))
                return perr(p, "%s: invalid rate '%s' (8kbit..100gbit, or unlimited)", k, v);
            dir->rate_bps = r;
        } else if (!strcmp(base, "delay")) {
            if (mpl_parse_duration(v, &dir->delay_ns) != 0 || dir->delay_ns > MPL_TB_MAX_DELAY)
                return perr(p, "%s: invalid delay '%s' (0..10s, e.g. 10ms)", k, v);
        } else if (!strcmp(base, "loss")) {
            if (mpl_parse_pct(v, &dir->loss_pct) != 0)
                return perr(p, "%s: invalid loss '%s' (0..100, in percent)", k, v);
        } else if (!strcmp(base, "trace")) {
            if (trace_key(p, dir, k, v) != 0)
                return -1;
        } else if (!strcmp(base, "queue")) {
            uint64_t n;
            size_t vl = strlen(v);
            if (vl > 1 && (v[vl - 1] == 'p' || v[vl - 1] == 'P')) {
                char num[32];
                snprintf(num, sizeof(num), "%.*s", (int)(vl - 1), v);
                if (mpl_parse_u64(num, &n) != 0 || n < 2 || n > 1000000)
                    return perr(p, "%s: invalid queue '%s' (2p..1000000p packets, or bytes)", k, v);
                n *= MPL_TB_MTU_FRAME;
            } else if (mpl_parse_size(v, &n) != 0 || n < 2 * MPL_TB_MTU_FRAME || n > (1ull << 31)) {
                return perr(p, "%s: invalid queue '%s' (3028 bytes..2GiB, or packets as 100p)", k, v);
            }
            dir->queue_bytes = n;
        } else {
            char why[160];
            int rc = mpl_lm_set_key(&dir->model, base, v, why, sizeof(why));
            if (rc < 0)
                return perr(p, "%s", why);
            if (rc > 0)
                return perr(
                    p,
                    "unknown key '%s' in [link %s] (a, b, rate, delay, loss, queue, jitter, jitter_dist, "
                    "jitter_corr, jitter_reorder, loss_corr, loss_ge, reorder, reorder_corr, "
                    "reorder_gap, duplicate, corrupt, trace with optional _a2b/_b2a, a_addr, b_addr, "
                    "a_addr6, b_addr6, "
                    "a_endpoint, b_endpoint)",
                    k, l->name);
        }
    }
    return 0;
}

static int
event_key(parser_t *p, const char *k, char *v)
{
    mpl_topology_t *t = p->t;
    if (t->n_events >= MPL_TB_MAX_EVENTS)
        return perr(p, "too many events (at most %d)", MPL_TB_MAX_EVENTS);
    mpl_tb_event_t *e = &t->events[t->n_events];
    memset(e, 0, sizeof(*e));
    if (mpl_parse_duration(k, &e->at_ns) != 0 || e->at_ns > 86400ull * 1000000000ull)
        return perr(p, "invalid event time '%s' (e.g. 5s, 1500ms)", k);
    char *tok[8];
    int n = 0;
    for (char *save = NULL, *s = strtok_r(v, " \t", &save); s; s = strtok_r(NULL, " \t", &save)) {
        if (n == (int)MPL_ARRAY_SIZE(tok))
            return perr(p, "event: too many words");
        tok[n++] = s;
    }
    if (n < 2)
        return perr(p, "event: expected 'LINK ACTION [VALUE] [dir a2b|b2a]'");
    if (!valid_name(tok[0], MPL_TB_NAME_MAX))
        return perr(p, "event: invalid link name '%s'", tok[0]);
    char msg[256];
    if (mpl_tb_change_parse(n - 1, tok + 1, &e->change, msg, sizeof(msg)) != 0)
        return perr(p, "event: %s", msg);
    snprintf(p->ev_link[t->n_events], sizeof(p->ev_link[0]), "%s", tok[0]);
    e->line = p->line;
    t->n_events++;
    return 0;
}

/* ---- whole-file checks ---------------------------------------------------------------- */

static int
finish(parser_t *p)
{
    mpl_topology_t *t = p->t;
    if (t->n_hosts < 2) {
        p->line = 0;
        return perr(p, "a topology needs at least two hosts");
    }
    if (t->n_links < 1) {
        p->line = 0;
        return perr(p, "a topology needs at least one link");
    }
    for (int i = 0; i < t->n_links; i++) {
        mpl_tb_link_t *l = &t->links[i];
        p->line = l->line;
        if (!p->link_a[i][0])
            return perr(p, "link '%s': missing 'a' (the host at one end)", l->name);
        if (!p->link_b[i][0])
            return perr(p, "link '%s': missing 'b' (the host at the other end)", l->name);
        l->a = mpl_topo_host(t, p->link_a[i]);
        l->b = mpl_topo_host(t, p->link_b[i]);
        /* errors about a key's value name the line of that key */
        for (int e = 0; e < 2; e++) {
            if ((e ? l->b : l->a) < 0) {
                p->line = p->end_line[i][e];
                return perr(p, "link '%s': unknown host '%s'", l->name, e ? p->link_b[i] : p->link_a[i]);
            }
        }
        if (l->a == l->b) {
            p->line = p->end_line[i][1];
            return perr(p, "link '%s': both ends are host '%s'", l->name, p->link_a[i]);
        }
        for (int d = 0; d < 2; d++)
            if (l->dir[d].trace[0] && l->dir[d].rate_bps)
                return perr(p, "link '%s': give a rate or a trace for %s, not both", l->name,
                            d ? "b2a" : "a2b");
        for (int d = 0; d < 2; d++)
            if (l->dir[d].model.reorder_pct > 0 && l->dir[d].delay_ns == 0)
                return perr(p, "link '%s': reorder needs a delay (reordered frames skip it)", l->name);
        if (!l->plen)
            l->plen = 24;
        /* IPv6: both ends or none; automatic fd00:0:<link number>::1 / ::2 with ipv6 = yes */
        if (l->has6 == 1 || l->has6 == 2) {
            p->line = p->addr_line[i][l->has6 == 1 ? 0 : 1];
            return perr(p, "link '%s': give both a_addr6 and b_addr6, or neither", l->name);
        }
        if (!l->has6 && t->ipv6) {
            for (int e = 0; e < 2; e++) {
                memset(l->addr6[e], 0, 16);
                l->addr6[e][0] = 0xfd;
                l->addr6[e][4] = (uint8_t)((i + 1) >> 8);
                l->addr6[e][5] = (uint8_t)(i + 1);
                l->addr6[e][15] = (uint8_t)(e + 1);
            }
            l->has6 = 3;
        }
        l->has6 = l->has6 ? 1 : 0;
        if (l->has6) {
            if (!l->plen6)
                l->plen6 = 64;
            if (!same_prefix6(l->addr6[0], l->addr6[1], l->plen6) || !memcmp(l->addr6[0], l->addr6[1], 16)) {
                p->line = p->addr_line[i][1] ? p->addr_line[i][1] : l->line;
                return perr(p, "link '%s': a_addr6 and b_addr6 must differ and share their /%d", l->name,
                            l->plen6);
            }
            for (int j = 0; j < i; j++)
                if (t->links[j].has6 &&
                    same_prefix6(l->addr6[0], t->links[j].addr6[0],
                                 l->plen6 < t->links[j].plen6 ? l->plen6 : t->links[j].plen6)) {
                    p->line = p->addr_line[i][0] ? p->addr_line[i][0] : l->line;
                    return perr(p, "link '%s': its IPv6 subnet overlaps the one of link '%s'", l->name,
                                t->links[j].name);
                }
        }
        /* automatic addresses: link i gets 10.0.<i+1>.0/24, a = .1, b = .2 */
        int given = (l->addr[0] != 0) + (l->addr[1] != 0);
        if (given == 0) {
            l->addr[0] = (10u << 24) | ((uint32_t)(i + 1) << 8) | 1;
            l->addr[1] = (10u << 24) | ((uint32_t)(i + 1) << 8) | 2;
        } else if (given == 1) {
            p->line = p->addr_line[i][l->addr[0] ? 0 : 1];
            return perr(p, "link '%s': give both a_addr and b_addr, or neither", l->name);
        }
        uint32_t mask = l->plen >= 32 ? 0xffffffffu : ~(0xffffffffu >> l->plen);
        if ((l->addr[0] & mask) != (l->addr[1] & mask)) {
            p->line = p->addr_line[i][1];
            return perr(p, "link '%s': a_addr and b_addr are not in the same /%d subnet", l->name, l->plen);
        }
        if (l->addr[0] == l->addr[1]) {
            p->line = p->addr_line[i][1];
            return perr(p, "link '%s': duplicate address", l->name);
        }
        for (int e = 0; e < 2; e++) {
            uint32_t hostpart = l->addr[e] & ~mask;
            if (hostpart == 0 || hostpart == ~mask) {
                p->line = p->addr_line[i][e];
                return perr(p, "link '%s': %s_addr is the subnet's network or broadcast address", l->name,
                            e ? "b" : "a");
            }
        }
    }
    /* duplicate addresses and overlapping subnets across links */
    for (int i = 0; i < t->n_links; i++) {
        for (int j = 0; j < i; j++) {
            mpl_tb_link_t *li = &t->links[i], *lj = &t->links[j];
            for (int e = 0; e < 2; e++)
                for (int f = 0; f < 2; f++)
                    if (li->addr[e] == lj->addr[f]) {
                        char ip[20];
                        p->line = p->addr_line[i][e] ? p->addr_line[i][e] : li->line;
                        return perr(p, "duplicate address %s (also on link '%s')",
                                    mpl_tb_fmt_ip4(li->addr[e], ip, sizeof(ip)), lj->name);
                    }
            int plen = li->plen < lj->plen ? li->plen : lj->plen;
            uint32_t mask = ~(0xffffffffu >> plen);
            if ((li->addr[0] & mask) == (lj->addr[0] & mask)) {
                p->line = p->addr_line[i][0] ? p->addr_line[i][0] : li->line;
                return perr(p, "link '%s': its subnet overlaps the one of link '%s'", li->name, lj->name);
            }
        }
    }
    for (int i = 0; i < t->n_hosts; i++) {
        mpl_tb_host_t *h = &t->hosts[i];
        int nl = 0;
        for (int j = 0; j < t->n_links; j++)
            nl += t->links[j].a == i || t->links[j].b == i;
        p->line = h->line;
        if (nl == 0)
            return perr(p, "host '%s' is on no link", h->name);
        if (p->default_link[i][0]) {
            p->line = p->default_line[i];
            int li = mpl_topo_link(t, p->default_link[i]);
            if (li < 0)
                return perr(p, "host '%s': default: unknown link '%s'", h->name, p->default_link[i]);
            if (t->links[li].a != i && t->links[li].b != i)
                return perr(p, "host '%s': default: link '%s' does not reach this host", h->name,
                            p->default_link[i]);
            h->default_link = li;
        }
    }
    for (int i = 0; i < t->n_events; i++) {
        mpl_tb_event_t *e = &t->events[i];
        p->line = e->line;
        e->change.link = mpl_topo_link(t, p->ev_link[i]);
        if (e->change.link < 0)
            return perr(p, "event: unknown link '%s'", p->ev_link[i]);
    }
    /* events in time order (stable) */
    for (int i = 1; i < t->n_events; i++) {
        mpl_tb_event_t e = t->events[i];
        int j = i - 1;
        while (j >= 0 && t->events[j].at_ns > e.at_ns) {
            t->events[j + 1] = t->events[j];
            j--;
        }
        t->events[j + 1] = e;
    }
    return 0;
}

static void
name_from_file(mpl_topology_t *t, const char *fname)
{
    const char *base = strrchr(fname, '/');
    base = base ? base + 1 : fname;
    size_t n = strcspn(base, ".");
    char buf[MPL_TB_TOPO_MAX + 1];
    size_t k = 0;
    for (size_t i = 0; i < n && k < MPL_TB_TOPO_MAX; i++) {
        char c = (char)tolower((unsigned char)base[i]);
        buf[k++] = (isalnum((unsigned char)c) ? c : '_');
    }
    buf[k] = '\0';
    if (k == 0 || !islower((unsigned char)buf[0]))
        snprintf(t->name, sizeof(t->name), "t%.*s", MPL_TB_TOPO_MAX - 1, buf);
    else
        snprintf(t->name, sizeof(t->name), "%s", buf);
}

int
mpl_topo_parse(const char *text, size_t len, const char *fname, mpl_topology_t *t, char *err, size_t errlen)
{
    static parser_t p; /* large; not reentrant, like strtok would be */
    memset(&p, 0, sizeof(p));
    memset(t, 0, sizeof(*t));
    t->mptcp = 1;
    p.fname = fname ? fname : "topology";
    p.err = err;
    p.errlen = errlen;
    p.t = t;
    if (errlen)
        err[0] = '\0';

    static const mpl_ini_syntax_t syntax = {.reject_control = 1};
    mpl_ini_t ini;
    mpl_ini_item_t it;
    int kind;
    mpl_ini_init(&ini, text, len, p.fname, &syntax);
    while ((kind = mpl_ini_next(&ini, &it, err, errlen)) > 0) {
        p.line = it.line;
        if (kind == MPL_INI_SECTION) {
            if (begin_section(&p, it.section) != 0)
                return -1;
            continue;
        }
        const char *k = it.key;
        char *v = it.value;
        int rc;
        switch (p.sec) {
        case SEC_TOPOLOGY:
            rc = topology_key(&p, k, v);
            break;
        case SEC_HOST:
            rc = host_key(&p, k, v);
            break;
        case SEC_LINK:
            rc = link_key(&p, k, v);
            break;
        case SEC_EVENTS:
            rc = event_key(&p, k, v);
            break;
        default:
            rc = perr(&p, "'%s' outside of any section", k);
            break;
        }
        if (rc != 0)
            return -1;
    }
    if (kind < 0)
        return -1;
    if (!p.have_name)
        name_from_file(t, p.fname);
    return finish(&p);
}

int
mpl_topo_load(const char *path, mpl_topology_t *t, char *err, size_t errlen)
{
    char *text;
    size_t len;
    if (mpl_ini_load(path, NULL, &text, &len, err, errlen) != 0)
        return -1;
    int rc = mpl_topo_parse(text, len, path, t, err, errlen);
    free(text);
    return rc;
}
