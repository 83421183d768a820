/*
 * scenario.c — the scenario INI parser, the sweep expansion and the topology generator.
 */
#include "exp/scenario.h"
#include "common/ini.h"
#include "common/util.h"
#include "testbed/linkmodel.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const proto_names[MPL_PROTO_COUNT] = {"tcp", "tls", "mptcp", "mptls", "tcpls"};
static const char *const param_names[MPL_SC_NPARAMS] = {
    "links", "rate", "split",     "delay",   "loss",           "backup",       "fail",
    "cc",    "size", "direction", "streams", "streams_policy", "streams_mode", "migrate_mode"};
static const char *const param_defaults[MPL_SC_NPARAMS] = {"2",    "100mbit", "",         "10ms", "0",
                                                           "none", "none",    "cubic",    "100M", "download",
                                                           "1",    "spread",  "parallel", "mbb"};

const char *
mpl_proto_name(mpl_proto_t p)
{
    return (unsigned)p < MPL_PROTO_COUNT ? proto_names[p] : "?";
}

int
mpl_proto_parse(const char *s, mpl_proto_t *p)
{
    for (int i = 0; i < MPL_PROTO_COUNT; i++)
        if (strcmp(s, proto_names[i]) == 0) {
            *p = (mpl_proto_t)i;
            return 0;
        }
    return -1;
}

int
mpl_proto_multipath(mpl_proto_t p)
{
    return p == MPL_PROTO_MPTCP || p == MPL_PROTO_TCPLS || p == MPL_PROTO_MPTLS;
}

const char *
mpl_sc_param_name(mpl_sc_param_t p)
{
    return (unsigned)p < MPL_SC_NPARAMS ? param_names[p] : "?";
}

static const char *const model_names[MPL_SC_NMODEL] = {
    "jitter",  "jitter_dist",  "jitter_corr", "jitter_reorder", "loss_corr", "loss_ge",
    "reorder", "reorder_corr", "reorder_gap", "duplicate",      "corrupt",   "trace"};
#define MODEL_TRACE (MPL_SC_NMODEL - 1)

/* A trace value: a file (used for every link), or per link "NAME/NAME/..." where NAME is
 * "none" or stands for traces/NAME.trace. Fills parts; returns the count or -1. */
static int split_parts(const char *s, char parts[][MPL_SC_VALUE_LEN], int max);
static int
trace_parts(const char *v, char parts[][MPL_SC_VALUE_LEN], int max)
{
    if (strchr(v, '/') != NULL && access(v, R_OK) == 0) {
        snprintf(parts[0], MPL_SC_VALUE_LEN, "%s", v);
        return 1;
    }
    int n = split_parts(v, parts, max);
    for (int i = 0; i < n; i++) {
        char name[MPL_SC_VALUE_LEN];
        snprintf(name, sizeof(name), "%s", parts[i]);
        if (strcmp(name, "none") != 0 &&
            snprintf(parts[i], MPL_SC_VALUE_LEN, "traces/%s.trace", name) >= MPL_SC_VALUE_LEN)
            return -1;
    }
    return n;
}

const char *
mpl_sc_model_name(int i)
{
    return i >= 0 && i < MPL_SC_NMODEL ? model_names[i] : "?";
}

typedef struct sparser {
    const char *fname;
    int line;
    char *err;
    size_t errlen;
    mpl_scenario_t *sc;
    enum { SEC_NONE, SEC_SCENARIO, SEC_TOPOLOGY, SEC_EVENTS } sec;
} sparser_t;

static int __attribute__((format(printf, 2, 3))) serr(sparser_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mpl_ini_verror(p->err, p->errlen, p->fname, p->line, fmt, ap);
    va_end(ap);
    return -1;
}

/* the scenario parser's wording of the syntax errors */
static const mpl_ini_syntax_t scenario_syntax = {
    .header = "malformed section header",
    .no_equals = "expected 'key = value'",
    .no_key = "empty key or value",
    .no_value = "empty key or value",
    .too_large = "file too large",
};

static int
valid_word(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!islower(c) && !isdigit(c) && c != '_' && c != '-')
            return 0;
    }
    return 1;
}

/* Splits s on '/' into at most max parts (copied into parts). Returns the count or -1. */
static int
split_parts(const char *s, char parts[][MPL_SC_VALUE_LEN], int max)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (n == max || len == 0 || len >= MPL_SC_VALUE_LEN)
            return -1;
        memcpy(parts[n], p, len);
        parts[n][len] = '\0';
        n++;
        if (e == NULL)
            return n;
        p = e + 1;
    }
}

static int
link_number(const char *s)
{
    if (s[0] != 'l' || !isdigit((unsigned char)s[1]))
        return -1;
    uint64_t v;
    if (mpl_parse_u64(s + 1, &v) != 0 || v < 1 || v > MPL_SC_MAX_LINKS)
        return -1;
    return (int)v;
}

/* Checks one value of a sweepable parameter; returns NULL or a description of the problem. */
static const char *
check_value(mpl_sc_param_t param, const char *v)
{
    char parts[MPL_SC_MAX_LINKS][MPL_SC_VALUE_LEN];
    int n = split_parts(v, parts, MPL_SC_MAX_LINKS);
    uint64_t u;
    double d, sum = 0;
    if (n < 1)
        return "bad value (at most 8 '/'-separated parts)";
    switch (param) {
    case MPL_SC_LINKS:
        if (n != 1 || mpl_parse_u64(v, &u) != 0 || u < 1 || u > MPL_SC_MAX_LINKS)
            return "links must be 1..8";
        return NULL;
    case MPL_SC_RATE:
        for (int i = 0; i < n; i++)
            if (mpl_parse_rate(parts[i], &u) != 0 || u < 8000)
                return "invalid rate (e.g. 100mbit, or per link 30mbit/70mbit)";
        return NULL;
    case MPL_SC_SPLIT:
        for (int i = 0; i < n; i++) {
            if (mpl_parse_double(parts[i], &d) != 0 || !(d > 0) || d > 100)
                return "invalid split (percent shares, e.g. 30/70)";
            sum += d;
        }
        if (fabs(sum - 100) > 0.5)
            return "split shares must add up to 100";
        return NULL;
    case MPL_SC_DELAY:
        for (int i = 0; i < n; i++)
            if (mpl_parse_duration(parts[i], &u) != 0 || u > 10000000000ull)
                return "invalid delay (one-way, 0..10s, e.g. 10ms or 5ms/25ms)";
        return NULL;
    case MPL_SC_LOSS:
        for (int i = 0; i < n; i++) {
            size_t l = strlen(parts[i]);
            if (l > 0 && parts[i][l - 1] == '%')
                parts[i][l - 1] = '\0';
            if (mpl_parse_double(parts[i], &d) != 0 || d < 0 || d > 100)
                return "invalid loss (percent 0..100)";
        }
        return NULL;
    case MPL_SC_BACKUP:
        if (n == 1 && strcmp(v, "none") == 0)
            return NULL;
        for (int i = 0; i < n; i++)
            if (link_number(parts[i]) < 0)
                return "backup takes 'none' or link names l1..l8 (l2 or l2/l3)";
        return NULL;
    case MPL_SC_FAIL:
        if (strcmp(v, "none") && strcmp(v, "down") && strcmp(v, "blackhole"))
            return "fail takes none, down or blackhole";
        return NULL;
    case MPL_SC_CC:
        if (n != 1 || !valid_word(v, 31))
            return "invalid congestion control name";
        return NULL;
    case MPL_SC_SIZE:
        if (n != 1 || mpl_parse_size(v, &u) != 0 || u == 0 || u > (1ull << 40))
            return "invalid size (e.g. 100M, 1G)";
        return NULL;
    case MPL_SC_DIRECTION:
        if (strcmp(v, "download") && strcmp(v, "upload"))
            return "direction takes download or upload";
        return NULL;
    case MPL_SC_STREAMS:
        if (n != 1 || mpl_parse_u64(v, &u) != 0 || u < 1 || u > 64)
            return "streams must be 1..64 (objects fetched at once)";
        return NULL;
    case MPL_SC_STREAMS_POLICY:
        if (strcmp(v, "spread") && strcmp(v, "pin"))
            return "streams_policy takes spread or pin";
        return NULL;
    case MPL_SC_STREAMS_MODE:
        if (strcmp(v, "parallel") && strcmp(v, "pipeline"))
            return "streams_mode takes parallel (one connection per object) or pipeline";
        return NULL;
    case MPL_SC_MIGRATE_MODE:
        if (strcmp(v, "mbb") && strcmp(v, "bbm"))
            return "migrate_mode takes mbb (make before break) or bbm (break before make)";
        return NULL;
    default:
        return "unknown parameter";
    }
}

static int
set_values(sparser_t *p, mpl_sc_param_t param, char *v)
{
    mpl_sc_values_t *pv = &p->sc->params[param];
    if (pv->given)
        return serr(p, "'%s' given twice", param_names[param]);
    pv->n = 0;
    pv->given = 1;
    for (char *save = NULL, *tok = strtok_r(v, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
        if (pv->n == MPL_SC_MAX_VALUES)
            return serr(p, "'%s': at most %d values", param_names[param], MPL_SC_MAX_VALUES);
        if (strlen(tok) >= MPL_SC_VALUE_LEN)
            return serr(p, "'%s': value too long", param_names[param]);
        const char *why = check_value(param, tok);
        if (why != NULL)
            return serr(p, "%s: '%s': %s", param_names[param], tok, why);
        snprintf(pv->v[pv->n++], MPL_SC_VALUE_LEN, "%s", tok);
    }
    if (pv->n == 0)
        return serr(p, "'%s' has no value", param_names[param]);
    return 0;
}

/* A link-model key: values separated by blanks or ',' (swept), each one value or one per link
 * ("2ms/5ms"); loss_ge writes its parameters with ':' ("1%:30%"). */
static int
set_model_values(sparser_t *p, int k, char *v)
{
    mpl_sc_values_t *pv = &p->sc->model[k];
    if (pv->given)
        return serr(p, "'%s' given twice", model_names[k]);
    pv->n = 0;
    pv->given = 1;
    for (char *save = NULL, *tok = strtok_r(v, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
        if (pv->n == MPL_SC_MAX_VALUES)
            return serr(p, "'%s': at most %d values", model_names[k], MPL_SC_MAX_VALUES);
        char parts[MPL_SC_MAX_LINKS][MPL_SC_VALUE_LEN];
        int n = strlen(tok) < MPL_SC_VALUE_LEN ? split_parts(tok, parts, MPL_SC_MAX_LINKS) : -1;
        if (n < 1)
            return serr(p, "%s: '%s': bad value (at most 8 '/'-separated parts)", model_names[k], tok);
        if (k == MODEL_TRACE) {
            for (const char *c = tok; *c; c++)
                if (!isalnum((unsigned char)*c) && !strchr("._/-", *c))
                    return serr(p, "trace: '%s': a trace file, or trace names per link (onoff/none)", tok);
            n = trace_parts(tok, parts, MPL_SC_MAX_LINKS);
            for (int i = 0; i < n; i++)
                if (strcmp(parts[i], "none") != 0 && access(parts[i], R_OK) != 0)
                    return serr(p, "trace: cannot read '%s'", parts[i]);
            snprintf(pv->v[pv->n++], MPL_SC_VALUE_LEN, "%s", tok);
            continue;
        }
        for (int i = 0; i < n; i++) {
            mpl_lm_params_t m;
            char why[160];
            mpl_lm_params_init(&m);
            if (mpl_lm_set_key(&m, model_names[k], parts[i], why, sizeof(why)) != 0)
                return serr(p, "%s", why);
        }
        snprintf(pv->v[pv->n++], MPL_SC_VALUE_LEN, "%s", tok);
    }
    if (pv->n == 0)
        return serr(p, "'%s' has no value", model_names[k]);
    return 0;
}

static int
copy_word(sparser_t *p, const char *k, const char *v, char *dst, size_t dlen)
{
    if (!valid_word(v, dlen - 1))
        return serr(p, "%s: invalid value '%s'", k, v);
    snprintf(dst, dlen, "%s", v);
    return 0;
}

/* workload, requests, concurrency, rate ('get --requests'). Returns 0, -1 (error set), or 1
 * when k is none of them. */
static int
load_key(sparser_t *p, const char *k, const char *v)
{
    mpl_scenario_t *sc = p->sc;
    uint64_t u;
    if (!strcmp(k, "workload")) {
        if (strcmp(v, "bulk") && strcmp(v, "requests"))
            return serr(p, "workload: expected bulk or requests");
        sc->workload_requests = v[0] == 'r';
        return 0;
    }
    if (!strcmp(k, "requests")) {
        if (mpl_parse_u64(v, &u) != 0 || u < 1 || u > 10000000)
            return serr(p, "requests: expected 1..10000000");
        sc->requests = u;
        sc->requests_line = p->line;
        return 0;
    }
    if (!strcmp(k, "concurrency")) {
        if (mpl_parse_u64(v, &u) != 0 || u < 1 || u > 10000)
            return serr(p, "concurrency: expected 1..10000");
        sc->concurrency = (uint32_t)u;
        sc->requests_line = p->line;
        return 0;
    }
    if (!strcmp(k, "rate")) {
        if (mpl_parse_double(v, &sc->req_rate) != 0 || !(sc->req_rate > 0) || sc->req_rate > 1e7)
            return serr(p, "rate: expected requests per second (> 0), e.g. 1000");
        return 0;
    }
    return 1;
}

static int
scenario_key(sparser_t *p, const char *k, char *v)
{
    mpl_scenario_t *sc = p->sc;
    uint64_t u;
    if (!strcmp(k, "name"))
        return copy_word(p, k, v, sc->name, sizeof(sc->name));
    if (!strcmp(k, "title")) {
        snprintf(sc->title, sizeof(sc->title), "%s", v);
        return 0;
    }
    if (!strcmp(k, "protocols")) {
        sc->n_protos = 0;
        for (char *save = NULL, *t = strtok_r(v, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
            mpl_proto_t pr;
            if (mpl_proto_parse(t, &pr) != 0)
                return serr(p, "protocols: unknown protocol '%s' (tcp, tls, mptcp, mptls, tcpls)", t);
            for (int i = 0; i < sc->n_protos; i++)
                if (sc->protos[i] == pr)
                    return serr(p, "protocols: '%s' listed twice", t);
            sc->protos[sc->n_protos++] = pr;
        }
        if (sc->n_protos == 0)
            return serr(p, "protocols: none given");
        return 0;
    }
    if (!strcmp(k, "repeat")) {
        if (mpl_parse_u64(v, &u) != 0 || u < 1 || u > 100)
            return serr(p, "repeat: expected 1..100");
        sc->repeat = (int)u;
        return 0;
    }
    if (!strcmp(k, "monitor_hz")) {
        if (mpl_parse_u64(v, &u) != 0 || u < 1 || u > 100)
            return serr(p, "monitor_hz: expected 1..100");
        sc->monitor_hz = (int)u;
        return 0;
    }
    if (!strcmp(k, "interval")) {
        if (mpl_parse_double(v, &sc->interval_s) != 0 || sc->interval_s < 0.01 || sc->interval_s > 10)
            return serr(p, "interval: expected 0.01..10 (seconds)");
        return 0;
    }
    if (!strcmp(k, "timeout")) {
        if (mpl_parse_duration(v, &sc->timeout_ns) != 0 || sc->timeout_ns < 1000000000ull ||
            sc->timeout_ns > 3600000000000ull)
            return serr(p, "timeout: expected 1s..1h");
        return 0;
    }
    if (!strcmp(k, "deadline")) {
        sc->deadline_ns = 0;
        if (!strcmp(v, "auto"))
            return 0;
        if (mpl_parse_duration(v, &sc->deadline_ns) != 0 || sc->deadline_ns < 1000000000ull ||
            sc->deadline_ns > 86400000000000ull)
            return serr(p, "deadline: expected auto or 1s..24h");
        return 0;
    }
    if (!strcmp(k, "fail_at")) {
        if (mpl_parse_duration(v, &sc->fail_at_ns) != 0 || sc->fail_at_ns > 3600000000000ull)
            return serr(p, "fail_at: expected a time such as 3s");
        return 0;
    }
    if (!strcmp(k, "migrate_at")) {
        if (mpl_parse_duration(v, &sc->migrate_at_ns) != 0 || sc->migrate_at_ns == 0 ||
            sc->migrate_at_ns > 3600000000000ull)
            return serr(p, "migrate_at: expected a time such as 3s");
        return 0;
    }
    if (!strcmp(k, "migrate_to")) {
        if (link_number(v) < 0 && !valid_word(v, 11))
            return serr(p, "migrate_to: invalid link name '%s'", v);
        snprintf(sc->migrate_to, sizeof(sc->migrate_to), "%s", v);
        sc->migrate_to_line = p->line;
        return 0;
    }
    if (!strcmp(k, "fail_link")) {
        if (link_number(v) < 0 && !valid_word(v, 11))
            return serr(p, "fail_link: invalid link name '%s'", v);
        snprintf(sc->fail_link, sizeof(sc->fail_link), "%s", v);
        return 0;
    }
    int lk = load_key(p, k, v);
    if (lk <= 0)
        return lk;
    for (int i = 0; i < MPL_SC_NPARAMS; i++)
        if (!strcmp(k, param_names[i]) && (i == MPL_SC_FAIL || i == MPL_SC_CC || i == MPL_SC_SIZE ||
                                           i == MPL_SC_DIRECTION || i >= MPL_SC_STREAMS))
            return set_values(p, (mpl_sc_param_t)i, v);
    return serr(
        p,
        "unknown key '%s' in [scenario] (name, title, protocols, repeat, interval, timeout, deadline, size, "
        "direction, cc, fail, fail_at, fail_link, streams, streams_policy, streams_mode, migrate_at, "
        "migrate_to, migrate_mode, workload, requests, concurrency, rate, monitor_hz)",
        k);
}

static int
topology_key(sparser_t *p, const char *k, char *v)
{
    mpl_scenario_t *sc = p->sc;
    if (!strcmp(k, "file")) {
        if (strlen(v) >= sizeof(sc->topology_file))
            return serr(p, "file: path too long");
        snprintf(sc->topology_file, sizeof(sc->topology_file), "%s", v);
        return 0;
    }
    if (!strcmp(k, "client"))
        return copy_word(p, k, v, sc->client_host, sizeof(sc->client_host));
    if (!strcmp(k, "server"))
        return copy_word(p, k, v, sc->server_host, sizeof(sc->server_host));
    if (!strcmp(k, "backend")) {
        if (strcmp(v, "auto") && strcmp(v, "forwarder") && strcmp(v, "netem"))
            return serr(p, "backend: expected auto, forwarder or netem");
        snprintf(sc->backend, sizeof(sc->backend), "%s", v);
        return 0;
    }
    if (!strcmp(k, "rate_mode")) {
        if (strcmp(v, "total") && strcmp(v, "per_link"))
            return serr(p, "rate_mode: expected total or per_link");
        sc->rate_per_link = v[0] == 'p';
        return 0;
    }
    if (!strcmp(k, "client_endpoints") || !strcmp(k, "server_endpoints")) {
        char *dst = k[0] == 'c' ? sc->client_endpoints : sc->server_endpoints;
        for (const char *c = v; *c; c++)
            if (!islower((unsigned char)*c) && *c != ' ' && *c != ',')
                return serr(p, "%s: expected flags such as 'subflow fullmesh' or 'signal'", k);
        if (strlen(v) >= MPL_SC_VALUE_LEN)
            return serr(p, "%s: too long", k);
        snprintf(dst, MPL_SC_VALUE_LEN, "%s", v);
        return 0;
    }
    for (int i = 0; i <= MPL_SC_BACKUP; i++)
        if (!strcmp(k, param_names[i]))
            return set_values(p, (mpl_sc_param_t)i, v);
    for (int i = 0; i < MPL_SC_NMODEL; i++)
        if (!strcmp(k, model_names[i]))
            return set_model_values(p, i, v);
    return serr(
        p,
        "unknown key '%s' in [topology] (file, client, server, backend, links, rate, rate_mode, split, "
        "delay, loss, backup, client_endpoints, server_endpoints, jitter, jitter_dist, jitter_corr, "
        "jitter_reorder, loss_corr, loss_ge, reorder, reorder_corr, reorder_gap, duplicate, corrupt, trace)",
        k);
}

static int
event_key(sparser_t *p, const char *k, char *v)
{
    mpl_scenario_t *sc = p->sc;
    if (sc->n_events == MPL_SC_MAX_EVENTS)
        return serr(p, "too many events (at most %d)", MPL_SC_MAX_EVENTS);
    mpl_sc_event_t *e = &sc->events[sc->n_events];
    if (mpl_parse_duration(k, &e->at_ns) != 0 || e->at_ns > 3600000000000ull)
        return serr(p, "invalid event time '%s' (e.g. 3s, 1500ms)", k);
    char *save = NULL, *link = strtok_r(v, " \t", &save);
    char *rest = save ? mpl_ini_trim(save) : NULL;
    if (link == NULL || rest == NULL || *rest == '\0')
        return serr(p, "event: expected 'TIME = LINK ACTION [VALUE] [dir a2b|b2a]'");
    if (!valid_word(link, 11))
        return serr(p, "event: invalid link name '%s'", link);
    static const char *const actions[] = {"down", "up", "blackhole", "rate", "delay", "loss"};
    int ok = 0;
    for (size_t i = 0; i < MPL_ARRAY_SIZE(actions) + MPL_SC_NMODEL; i++) {
        const char *a = i < MPL_ARRAY_SIZE(actions) ? actions[i] : model_names[i - MPL_ARRAY_SIZE(actions)];
        if (!strncmp(rest, a, strlen(a)) && (rest[strlen(a)] == '\0' || rest[strlen(a)] == ' '))
            ok = 1;
    }
    if (!ok)
        return serr(p,
                    "event: unknown action in '%s' (down, up, blackhole, rate R, delay D, loss P, or a "
                    "link-model key "
                    "such as jitter 5ms)",
                    rest);
    for (const char *c = rest; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr(" ._%/:", *c))
            return serr(p, "event: unexpected character in '%s'", rest);
    if (strlen(rest) >= sizeof(e->action))
        return serr(p, "event: action too long");
    snprintf(e->link, sizeof(e->link), "%s", link);
    snprintf(e->action, sizeof(e->action), "%s", rest);
    sc->n_events++;
    return 0;
}

static void
defaults(mpl_scenario_t *sc, const char *fname)
{
    memset(sc, 0, sizeof(*sc));
    const char *base = strrchr(fname, '/');
    base = base ? base + 1 : fname;
    size_t n = strcspn(base, ".");
    if (n >= sizeof(sc->name))
        n = sizeof(sc->name) - 1;
    memcpy(sc->name, base, n);
    sc->name[n] = '\0';
    if (!valid_word(sc->name, sizeof(sc->name) - 1))
        snprintf(sc->name, sizeof(sc->name), "scenario");
    snprintf(sc->path, sizeof(sc->path), "%s", fname);
    for (int i = 0; i < MPL_PROTO_COUNT; i++)
        sc->protos[i] = (mpl_proto_t)i;
    sc->n_protos = MPL_PROTO_COUNT;
    sc->repeat = 3;
    sc->monitor_hz = 20;
    sc->interval_s = 0.1;
    sc->timeout_ns = 120000000000ull;
    sc->fail_at_ns = 3000000000ull;
    snprintf(sc->fail_link, sizeof(sc->fail_link), "l1");
    snprintf(sc->migrate_to, sizeof(sc->migrate_to), "l2");
    snprintf(sc->client_endpoints, sizeof(sc->client_endpoints), "none");
    snprintf(sc->server_endpoints, sizeof(sc->server_endpoints), "signal");
    snprintf(sc->backend, sizeof(sc->backend), "auto");
    snprintf(sc->client_host, sizeof(sc->client_host), "client");
    snprintf(sc->server_host, sizeof(sc->server_host), "server");
    sc->requests = 1000;
    sc->concurrency = 10;
    for (int i = 0; i < MPL_SC_NPARAMS; i++) {
        sc->params[i].n = 1;
        snprintf(sc->params[i].v[0], MPL_SC_VALUE_LEN, "%s", param_defaults[i]);
    }
}

int
mpl_sc_parse(const char *text, size_t len, const char *fname, mpl_scenario_t *sc, char *err, size_t errlen)
{
    sparser_t p = {.fname = fname, .err = err, .errlen = errlen, .sc = sc, .sec = SEC_NONE};
    mpl_ini_t ini;
    mpl_ini_item_t it;
    int kind;
    defaults(sc, fname);
    mpl_ini_init(&ini, text, len, fname, &scenario_syntax);
    while ((kind = mpl_ini_next(&ini, &it, err, errlen)) > 0) {
        p.line = it.line;
        if (kind == MPL_INI_SECTION) {
            const char *name = it.section;
            if (strchr(name, ']') != NULL)
                return serr(&p, "malformed section header");
            if (!strcmp(name, "scenario"))
                p.sec = SEC_SCENARIO;
            else if (!strcmp(name, "topology"))
                p.sec = SEC_TOPOLOGY;
            else if (!strcmp(name, "events"))
                p.sec = SEC_EVENTS;
            else
                return serr(&p, "unknown section [%s] (scenario, topology, events)", name);
            continue;
        }
        const char *k = it.key;
        char *v = it.value;
        int rc;
        switch (p.sec) {
        case SEC_SCENARIO:
            rc = scenario_key(&p, k, v);
            break;
        case SEC_TOPOLOGY:
            rc = topology_key(&p, k, v);
            break;
        case SEC_EVENTS:
            rc = event_key(&p, k, v);
            break;
        default:
            return serr(&p, "key outside of a section");
        }
        if (rc != 0)
            return -1;
    }
    if (kind < 0)
        return -1;
    p.line = sc->requests_line;
    if (sc->concurrency > sc->requests)
        return serr(&p, "concurrency %u is more than requests %llu", sc->concurrency,
                    (unsigned long long)sc->requests);
    for (int i = 0; sc->workload_requests && i < sc->params[MPL_SC_DIRECTION].n; i++)
        if (!strcmp(sc->params[MPL_SC_DIRECTION].v[i], "upload"))
            return serr(&p, "workload = requests downloads /bytes/SIZE: direction upload does not apply");
    p.line = 0;
    if (sc->topology_file[0] != '\0')
        for (int i = 0; i <= MPL_SC_BACKUP; i++)
            if (sc->params[i].given)
                return serr(&p, "'%s' cannot be combined with a topology file", param_names[i]);
    if (sc->topology_file[0] != '\0')
        for (int i = 0; i < MPL_SC_NMODEL; i++)
            if (sc->model[i].given)
                return serr(&p, "'%s' cannot be combined with a topology file", model_names[i]);
    if (sc->deadline_ns != 0 && sc->deadline_ns < sc->timeout_ns)
        return serr(&p, "deadline (%.0f s) is shorter than timeout (%.0f s)", (double)sc->deadline_ns / 1e9,
                    (double)sc->timeout_ns / 1e9);
    if (sc->params[MPL_SC_RATE].n > 1 && sc->params[MPL_SC_SPLIT].n > 1)
        return serr(&p, "sweep either 'rate' or 'split', not both");
    if (mpl_sc_npoints(sc) > MPL_SC_MAX_POINTS)
        return serr(&p, "the sweep has more than %d points", MPL_SC_MAX_POINTS);
    /* every point must resolve */
    char msg[256];
    mpl_sc_point_t pt;
    for (int i = 0; i < mpl_sc_npoints(sc); i++)
        if (mpl_sc_point(sc, i, &pt, msg, sizeof(msg)) != 0) {
            if (!strncmp(msg, "migrate_to ", 11))
                p.line = sc->migrate_to_line;
            return serr(&p, "%s", msg);
        }
    return 0;
}

double
mpl_sc_deadline_s(const mpl_scenario_t *sc, uint64_t size, double slowest_bps, double rtt_s, double loss_pct)
{
    if (sc->deadline_ns != 0)
        return (double)sc->deadline_ns / 1e9;
    double bps = slowest_bps > 0 ? slowest_bps : 1e9;
    if (loss_pct > 0) {
        double p = loss_pct >= 100 ? 1 : loss_pct / 100;
        double rtt = rtt_s > 0.001 ? rtt_s : 0.001;
        double mathis = 1.22 * 1448 * 8 / (rtt * sqrt(p));
        if (mathis < bps)
            bps = mathis;
    }
    return 15 + (double)sc->timeout_ns / 1e9 + 2 * (double)size * 8 / bps;
}

int
mpl_sc_load(const char *path, mpl_scenario_t *sc, char *err, size_t errlen)
{
    char *text;
    size_t len;
    if (mpl_ini_load(path, &scenario_syntax, &text, &len, err, errlen) != 0)
        return -1;
    int rc = mpl_sc_parse(text, len, path, sc, err, errlen);
    free(text);
    return rc;
}

int
mpl_sc_npoints(const mpl_scenario_t *sc)
{
    int n = 1;
    for (int i = 0; i < MPL_SC_NPARAMS; i++) {
        n *= sc->params[i].n > 0 ? sc->params[i].n : 1;
        if (n > 100000)
            return n;
    }
    for (int i = 0; i < MPL_SC_NMODEL; i++) {
        n *= sc->model[i].n > 0 ? sc->model[i].n : 1;
        if (n > 100000)
            return n;
    }
    return n;
}

int
mpl_sc_swept(const mpl_scenario_t *sc, mpl_sc_param_t p)
{
    return sc->params[p].n > 1;
}

/* Fills per-link values from "v" (all links) or "v1/v2/.." (one per link). */
static int
per_link(const char *v, int links, char parts[][MPL_SC_VALUE_LEN], const char *what, char *err, size_t errlen)
{
    char tmp[MPL_SC_MAX_LINKS][MPL_SC_VALUE_LEN];
    int n = split_parts(v, tmp, MPL_SC_MAX_LINKS);
    if (n == 1) {
        for (int i = 0; i < links; i++)
            snprintf(parts[i], MPL_SC_VALUE_LEN, "%s", tmp[0]);
        return 0;
    }
    if (n != links) {
        snprintf(err, errlen, "%s '%s' has %d per-link values for %d links", what, v, n, links);
        return -1;
    }
    memcpy(parts, tmp, sizeof(tmp[0]) * (size_t)n);
    return 0;
}

int
mpl_sc_point(const mpl_scenario_t *sc, int idx, mpl_sc_point_t *pt, char *err, size_t errlen)
{
    memset(pt, 0, sizeof(*pt));
    pt->index = idx;
    int rem = idx;
    for (int k = MPL_SC_NMODEL - 1; k >= 0; k--) {
        int n = sc->model[k].n > 0 ? sc->model[k].n : 1;
        pt->model_idx[k] = rem % n;
        rem /= n;
    }
    for (int i = MPL_SC_NPARAMS - 1; i >= 0; i--) {
        int n = sc->params[i].n > 0 ? sc->params[i].n : 1;
        pt->value_idx[i] = rem % n;
        rem /= n;
    }
    const char *val[MPL_SC_NPARAMS];
    size_t off = 0;
    pt->label[0] = '\0';
    for (int i = 0; i < MPL_SC_NPARAMS; i++) {
        val[i] = sc->params[i].v[pt->value_idx[i]];
        if (sc->params[i].n > 1 && off < sizeof(pt->label))
            off += (size_t)snprintf(pt->label + off, sizeof(pt->label) - off, "%s%s=%s", off ? " " : "",
                                    param_names[i], val[i]);
    }
    for (int k = 0; k < MPL_SC_NMODEL; k++)
        if (sc->model[k].n > 1 && off < sizeof(pt->label))
            off += (size_t)snprintf(pt->label + off, sizeof(pt->label) - off, "%s%s=%s", off ? " " : "",
                                    model_names[k], sc->model[k].v[pt->model_idx[k]]);
    if (pt->label[0] == '\0')
        snprintf(pt->label, sizeof(pt->label), "base");

    uint64_t u;
    char parts[MPL_SC_MAX_LINKS][MPL_SC_VALUE_LEN];
    if (mpl_parse_u64(val[MPL_SC_LINKS], &u) != 0 || u < 1 || u > MPL_SC_MAX_LINKS) {
        snprintf(err, errlen, "invalid links '%s'", val[MPL_SC_LINKS]);
        return -1;
    }
    int links = pt->links = (int)u;

    /* shares */
    if (val[MPL_SC_SPLIT][0] != '\0') {
        int n = split_parts(val[MPL_SC_SPLIT], parts, MPL_SC_MAX_LINKS);
        if (n != links) {
            snprintf(err, errlen, "split '%s' has %d shares for %d links", val[MPL_SC_SPLIT], n, links);
            return -1;
        }
        for (int i = 0; i < links; i++)
            mpl_parse_double(parts[i], &pt->share_pct[i]);
    } else {
        for (int i = 0; i < links; i++)
            pt->share_pct[i] = 100.0 / links;
    }
    /* rates: one total (split by shares) or one per link */
    int nr = split_parts(val[MPL_SC_RATE], parts, MPL_SC_MAX_LINKS);
    if (nr == 1 && sc->rate_per_link) {
        mpl_parse_rate(parts[0], &u);
        for (int i = 0; i < links; i++)
            pt->rate_bps[i] = u;
    } else if (nr == 1) {
        mpl_parse_rate(parts[0], &u);
        for (int i = 0; i < links; i++)
            pt->rate_bps[i] = (uint64_t)llround((double)u * pt->share_pct[i] / 100.0);
    } else if (nr == links && val[MPL_SC_SPLIT][0] == '\0') {
        uint64_t total = 0;
        for (int i = 0; i < links; i++) {
            mpl_parse_rate(parts[i], &pt->rate_bps[i]);
            total += pt->rate_bps[i];
        }
        for (int i = 0; i < links; i++)
            pt->share_pct[i] = total ? 100.0 * (double)pt->rate_bps[i] / (double)total : 0;
    } else {
        snprintf(err, errlen, "rate '%s': give one total rate (with split) or one rate per link (%d)",
                 val[MPL_SC_RATE], links);
        return -1;
    }
    if (per_link(val[MPL_SC_DELAY], links, parts, "delay", err, errlen) != 0)
        return -1;
    for (int i = 0; i < links; i++)
        mpl_parse_duration(parts[i], &pt->delay_ns[i]);
    if (per_link(val[MPL_SC_LOSS], links, parts, "loss", err, errlen) != 0)
        return -1;
    for (int i = 0; i < links; i++) {
        size_t l = strlen(parts[i]);
        if (l > 0 && parts[i][l - 1] == '%')
            parts[i][l - 1] = '\0';
        mpl_parse_double(parts[i], &pt->loss_pct[i]);
    }
    if (strcmp(val[MPL_SC_BACKUP], "none") != 0) {
        int n = split_parts(val[MPL_SC_BACKUP], parts, MPL_SC_MAX_LINKS);
        for (int i = 0; i < n; i++) {
            int l = link_number(parts[i]);
            if (l < 1 || l > links) {
                snprintf(err, errlen, "backup link '%s' does not exist with %d links", parts[i], links);
                return -1;
            }
            pt->backup[l - 1] = 1;
        }
    }
    snprintf(pt->fail, sizeof(pt->fail), "%s", val[MPL_SC_FAIL]);
    if (strcmp(pt->fail, "none") != 0 && sc->topology_file[0] == '\0') {
        int l = link_number(sc->fail_link);
        if (l < 1 || l > links) {
            snprintf(err, errlen, "fail_link '%s' does not exist with %d links", sc->fail_link, links);
            return -1;
        }
    }
    if (sc->topology_file[0] == '\0')
        for (int i = 0; i < sc->n_events; i++) {
            int l = link_number(sc->events[i].link);
            if (l < 1 || l > links) {
                snprintf(err, errlen, "event link '%s' does not exist with %d links", sc->events[i].link,
                         links);
                return -1;
            }
        }
    for (int k = 0; k < MPL_SC_NMODEL; k++) {
        if (sc->model[k].n == 0)
            continue;
        const char *v = sc->model[k].v[pt->model_idx[k]];
        if (k == MODEL_TRACE) {
            char tp[MPL_SC_MAX_LINKS][MPL_SC_VALUE_LEN];
            int n = trace_parts(v, tp, MPL_SC_MAX_LINKS);
            if (n != 1 && n != links) {
                snprintf(err, errlen, "trace '%s' has %d per-link values for %d links", v, n, links);
                return -1;
            }
            for (int i = 0; i < links; i++)
                memcpy(pt->model[k][i], tp[n == 1 ? 0 : i], MPL_SC_VALUE_LEN);
            continue;
        }
        if (per_link(v, links, pt->model[k], model_names[k], err, errlen) != 0)
            return -1;
    }
    snprintf(pt->cc, sizeof(pt->cc), "%s", val[MPL_SC_CC]);
    mpl_parse_size(val[MPL_SC_SIZE], &pt->size);
    snprintf(pt->direction, sizeof(pt->direction), "%s", val[MPL_SC_DIRECTION]);
    mpl_parse_u64(val[MPL_SC_STREAMS], &u);
    pt->streams = (int)u;
    if (pt->streams > 1 && pt->size / (uint64_t)pt->streams == 0) {
        snprintf(err, errlen, "size %llu cannot be split into %d objects", (unsigned long long)pt->size,
                 pt->streams);
        return -1;
    }
    if (pt->streams > 1 && !strcmp(pt->direction, "upload")) {
        snprintf(err, errlen, "streams > 1 is for downloads");
        return -1;
    }
    snprintf(pt->streams_policy, sizeof(pt->streams_policy), "%s", val[MPL_SC_STREAMS_POLICY]);
    snprintf(pt->streams_mode, sizeof(pt->streams_mode), "%s", val[MPL_SC_STREAMS_MODE]);
    snprintf(pt->migrate_mode, sizeof(pt->migrate_mode), "%s", val[MPL_SC_MIGRATE_MODE]);
    if (sc->migrate_at_ns > 0 && sc->topology_file[0] == '\0') {
        int l = link_number(sc->migrate_to);
        if (l < 1 || l > links) {
            snprintf(err, errlen, "migrate_to '%s' does not exist with %d links", sc->migrate_to, links);
            return -1;
        }
    }
    return 0;
}

int
mpl_sc_topology(const mpl_scenario_t *sc, const mpl_sc_point_t *pt, const char *topo_name, char *buf,
                size_t len)
{
    size_t off = 0;
#define OUT(...)                                                                                             \
    do {                                                                                                     \
        int w_ = snprintf(buf + off, off < len ? len - off : 0, __VA_ARGS__);                                \
        if (w_ < 0 || off + (size_t)w_ >= len)                                                               \
            return -1;                                                                                       \
        off += (size_t)w_;                                                                                   \
    } while (0)
    int extra = pt->links > 1 ? pt->links - 1 : 0;
    if (extra < 1)
        extra = 1;
    OUT("# generated by mplab run: scenario %s, point %d (%s)\n", sc->name, pt->index + 1, pt->label);
    OUT("[topology]\nname = %s\nmptcp = yes\nbackend = %s\n\n", topo_name, sc->backend);
    OUT("[host %s]\nmptcp_endpoints = %s\nmptcp_subflows = %d\nmptcp_add_addr_accepted = %d\ndefault = "
        "l1\n\n",
        sc->client_host, sc->client_endpoints, extra, extra);
    OUT("[host %s]\nmptcp_endpoints = %s\nmptcp_subflows = %d\nmptcp_add_addr_accepted = %d\ndefault = "
        "l1\n\n",
        sc->server_host, sc->server_endpoints, extra, extra);
    for (int i = 0; i < pt->links; i++) {
        OUT("[link l%d]\na = %s\nb = %s\n", i + 1, sc->client_host, sc->server_host);
        int traced = pt->model[MODEL_TRACE][i][0] != '\0' && strcmp(pt->model[MODEL_TRACE][i], "none") != 0;
        if (pt->rate_bps[i] > 0 && !traced) /* a trace sets the rate */
            OUT("rate = %llukbit\n", (unsigned long long)(pt->rate_bps[i] / 1000));
        OUT("delay = %lluus\n", (unsigned long long)(pt->delay_ns[i] / 1000));
        if (pt->loss_pct[i] > 0)
            OUT("loss = %g%%\n", pt->loss_pct[i]);
        if (pt->backup[i])
            OUT("b_endpoint = %s backup\n", sc->server_endpoints);
        for (int k = 0; k < MPL_SC_NMODEL; k++)
            if (pt->model[k][i][0] != '\0' && (k != MODEL_TRACE || traced))
                OUT("%s = %s\n", model_names[k], pt->model[k][i]);
        OUT("\n");
    }
#undef OUT
    return (int)off;
}
