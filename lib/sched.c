/*
 * sched.c — the schedulers: which connection carries the next stream record, and how many
 * bytes of it. Each scheduler is an ops table (tcpls_sched_ops_t) chosen by name; reinjection
 * (sending again on a faster connection what a slower one still holds) belongs to the default
 * one.
 *
 * Connections are ranked: migrated away from (2) < backup (1) < normal (0); only the best rank
 * present carries data. Among those, each connection is compared with every other one of the
 * same rank by the scheduler's limit():
 *  - "rr" keeps the counts of data records equal;
 *  - "minrtt" sends only on the lowest smoothed RTT;
 *  - "default" prefers lower RTTs but overflows to the next connection while the faster ones
 *    have output waiting (their socket is full). With delivery rates known it also bounds what a
 *    slower path gets (ECF/BLEST style): its record must arrive no later than a faster path
 *    would deliver the same bytes after its own queue, plus a slack of what the rest of the
 *    backlog keeps the faster path busy with (sched_slack_us). A slow path thus never makes the
 *    receiver wait for it.
 * Control frames are not scheduled: they go on whatever connection has output built.
 * The stream policy (tcpls_stream_policy_t) comes first: with TCPLS_STREAMS_PIN a connection only
 * carries the streams pinned to it, with no limit from the others and no reinjection.
 */
#include "session.h"

#define SCHED_SLACK_MIN_US 20000.0
#define SCHED_SLACK_MAX_US 250000.0
#define SCHED_MIN_CHUNK    1024
#define SCHED_PROBE        8192
#define SCHED_PROBE_RECS   4           /* probe records in flight on a join not measured yet (32 KB) */
#define REINJECT_MAX       (64 * 1024) /* stream bytes reinjected per idle moment */

static int
conn_rank(const conn_t *x)
{
    return x->migrated ? 2 : x->backup ? 1 : 0;
}

static int
faster(const conn_t *x, const conn_t *c)
{
    return x->srtt_us < c->srtt_us || (x->srtt_us == c->srtt_us && x->id < c->id);
}

/* Expected time (us) until a record of len bytes given to c now reaches the peer: half the RTT
 * plus draining what waits before it (our output and the kernel's unsent bytes). */
static double
conn_arrival_us(const tcpls_session_t *s, const conn_t *c, size_t len)
{
    /* the kernel's queue: as last measured plus what we wrote since, drained at the delivery
     * rate meanwhile (metrics come every few tens of ms; between them the estimate must still
     * see what this side just queued) */
    double notsent = (double)c->notsent;
    if (s->now_ns > c->metrics_ns && c->metrics_ns != 0)
        notsent -= (double)(s->now_ns - c->metrics_ns) / 1e9 * (double)c->rate_bps / 8;
    if (notsent < 0)
        notsent = 0;
    return c->srtt_us / 2.0 + ((double)(c->out.len + len) + notsent) * 8e6 / (double)c->rate_bps;
}

/* With rates known: would a full record reach the peer sooner over x than over c? */
static int
earlier(const tcpls_session_t *s, const conn_t *x, const conn_t *c)
{
    double tx = conn_arrival_us(s, x, TCPLS_MAX_PLAINTEXT), tc = conn_arrival_us(s, c, TCPLS_MAX_PLAINTEXT);
    return tx < tc || (tx == tc && x->id < c->id);
}

/* Stream bytes queued and never sent (new data and resend ranges), over the first streams of
 * the send queue (enough for a scheduling estimate). */
static size_t
sendq_unsent(const tcpls_session_t *s)
{
    size_t n = 0, k = 0;
    for (const tcpls_stream_t *st = s->sendq_head; st != NULL && k < 32; st = st->sendq_next, k++) {
        uint64_t end = st->send_base + st->slen;
        if (end > st->send_next)
            n += (size_t)(end - st->send_next);
        for (size_t i = 0; i < st->nresend; i++)
            if (st->resend[i].end > st->resend[i].off)
                n += (size_t)(st->resend[i].end - st->resend[i].off);
    }
    return n;
}

/* How long (us) the fast path x may be kept busy by what waits to be sent, i.e. how much later
 * than x a slower path may deliver without the receiver waiting for it (ECF): the unsent
 * backlog's drain time on x, at least SCHED_SLACK_MIN_US, and at most a quarter of the stream
 * send buffer's drain time (a record on the slow path pins the buffer until acknowledged; the
 * fast path must not run out of buffer meanwhile) and SCHED_SLACK_MAX_US (latency). */
static double
sched_slack_us(const tcpls_session_t *s, const conn_t *x)
{
    double backlog = (double)sendq_unsent(s) * 8e6 / (double)x->rate_bps;
    double cap = (double)s->ctx->stream_send_buffer / 4 * 8e6 / (double)x->rate_bps;
    if (cap > SCHED_SLACK_MAX_US)
        cap = SCHED_SLACK_MAX_US;
    if (backlog > cap)
        backlog = cap;
    return backlog > SCHED_SLACK_MIN_US ? backlog : SCHED_SLACK_MIN_US;
}
/* ---- the schedulers ---------------------------------------------------------------------- */

static size_t
rr_limit(tcpls_session_t *s, conn_t *c, conn_t *x, size_t budget)
{
    return x->data_records < c->data_records ? 0 : budget;
}

static size_t
minrtt_limit(tcpls_session_t *s, conn_t *c, conn_t *x, size_t budget)
{
    return faster(x, c) ? 0 : budget;
}

static size_t
default_limit(tcpls_session_t *s, conn_t *c, conn_t *x, size_t budget)
{
    if (c->rate_bps > 0 && x->rate_bps == 0)
        return budget; /* a path not measured yet never holds a measured one back */
    if (c->rate_bps == 0 && x->rate_bps > 0) {
        /* c not measured yet (fresh join): a few probe records in flight (about two initial
         * TCP windows), so a slow path cannot take a queue of seconds before its rate is
         * known while a fast one starts at once (one record per RTT ramped over several) */
        if (c->ring_len >= SCHED_PROBE_RECS || c->out.len > 0)
            return 0;
        return budget > SCHED_PROBE ? SCHED_PROBE : budget;
    }
    if (x->rate_bps > 0 && c->rate_bps > 0 ? !earlier(s, x, c) : !faster(x, c))
        return budget;
    if (x->out.len < MP_OUT_TARGET / 4)
        return 0;
    if (x->rate_bps > 0 && c->rate_bps > 0) {
        /* backlog the faster path would still be busy with after this record */
        double deadline = conn_arrival_us(s, x, 0) + sched_slack_us(s, x), base = conn_arrival_us(s, c, 0);
        double room = (deadline - base) * (double)c->rate_bps / 8e6;
        if (room < SCHED_MIN_CHUNK)
            return 0;
        if (room < (double)budget)
            budget = (size_t)room;
    }
    return budget;
}

/* Opportunistic reinjection of the default scheduler. Records already given to a slower connection
 * y are queued again so that c carries their frames too, and the receiver takes whichever copy
 * comes first (it drops the other), when
 *  - c may carry data but nothing new waits (the application is done, or the send buffer is
 *    full because its oldest bytes are unacknowledged on y), or
 *  - a record given to y now would arrive later than over c by more than twice the most slack
 *    the scheduler itself allows a slower path (the same estimate, conn_arrival_us): what y holds
 *    was given to it on wrong estimates, e.g. it took a queue before a faster connection
 *    joined, or its rate dropped.
 * Oldest records first (past those y has probably delivered), at most what c can deliver
 * before y would deliver a new record and REINJECT_MAX bytes per call, each record at most once.
 * Returns 1 when something was queued. */
static int
default_reinject(tcpls_session_t *s, conn_t *c)
{
    conn_t *y = NULL;
    uint64_t y_off = UINT64_MAX;
    int idle = s->sendq_head == NULL;

    for (size_t i = 0; i < s->nconns; i++) {
        conn_t *x = s->conns[i];
        if (x == c || x->state != TCPLS_CONN_ESTABLISHED || x->ring_len == 0 || conn_rank(x) < conn_rank(c))
            continue;
        if (idle) {
            /* c would deliver sooner, by a margin (no duplicates between alike paths) */
            if (x->rate_bps > 0 && c->rate_bps > 0
                    ? conn_arrival_us(s, x, 0) <= conn_arrival_us(s, c, 0) + SCHED_SLACK_MIN_US
                    : x->srtt_us <= c->srtt_us + 2 * SCHED_SLACK_MIN_US)
                continue;
        } else {
            if (x->rate_bps == 0 || c->srtt_us == 0)
                continue;
            double tc = c->rate_bps > 0 ? conn_arrival_us(s, c, 0) : c->srtt_us / 2.0;
            if (conn_arrival_us(s, x, 0) <= tc + 2 * SCHED_SLACK_MAX_US)
                continue;
        }
        const sent_record_t *r = NULL;
        for (size_t k = 0; k < x->ring_len && r == NULL; k++)
            if (!x->ring[(x->ring_head + k) % x->ring_cap].reinjected)
                r = &x->ring[(x->ring_head + k) % x->ring_cap];
        if (r != NULL && r->off < y_off) {
            y = x;
            y_off = r->off;
        }
    }
    if (y == NULL)
        return 0;
    /* How much: what c can deliver before y would deliver a record queued now, and not the
     * oldest records y has probably delivered already (acknowledgment on its way: about half
     * an RTT of its rate). */
    double room = REINJECT_MAX / 4, skip = 0;
    if (y->rate_bps > 0 && c->rate_bps > 0) {
        room = (conn_arrival_us(s, y, 0) - conn_arrival_us(s, c, 0)) * (double)c->rate_bps / 8e6;
        skip = (double)y->srtt_us / 2 * (double)y->rate_bps / 8e6;
    }
    if (room > REINJECT_MAX)
        room = REINJECT_MAX;
    size_t done = 0, seen = 0;
    for (size_t k = 0; k < y->ring_len && (double)done < room; k++) {
        sent_record_t *r = &y->ring[(y->ring_head + k) % y->ring_cap];
        tcpls_stream_t *st;
        seen += r->len;
        if (r->reinjected || (double)seen <= skip)
            continue;
        r->reinjected = 1;
        if ((st = tcpls__stream_find(s, r->stream_id)) == NULL)
            continue;
        tcpls__stream_requeue(st, r->off, r->len, r->fin);
        tcpls__sendq_push(s, st);
        done += r->len + 1;
        s->reinjected_bytes += r->len;
    }
    return done > 0;
}

static const tcpls_sched_ops_t sched_default = {"default", default_limit, default_reinject};
static const tcpls_sched_ops_t sched_minrtt = {"minrtt", minrtt_limit, NULL};
static const tcpls_sched_ops_t sched_rr = {"rr", rr_limit, NULL};
static const tcpls_sched_ops_t *const schedulers[] = {&sched_default, &sched_minrtt, &sched_rr};

const tcpls_sched_ops_t *
tcpls__sched_find(const char *name)
{
    if (name == NULL)
        return &sched_default;
    for (size_t i = 0; i < sizeof(schedulers) / sizeof(schedulers[0]); i++)
        if (strcmp(schedulers[i]->name, name) == 0)
            return schedulers[i];
    return NULL;
}

size_t
tcpls__sched_data_budget(tcpls_session_t *s, conn_t *c)
{
    int best = 3;
    size_t budget = SIZE_MAX;
    if (c->state != TCPLS_CONN_ESTABLISHED)
        return 0;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->state == TCPLS_CONN_ESTABLISHED && conn_rank(s->conns[i]) < best)
            best = conn_rank(s->conns[i]);
    if (conn_rank(c) != best)
        return 0;
    if (s->stream_policy == TCPLS_STREAMS_PIN)
        return budget; /* each connection carries its own streams, whatever the others do */
    for (size_t i = 0; i < s->nconns && budget > 0; i++) {
        conn_t *x = s->conns[i];
        if (x != c && x->state == TCPLS_CONN_ESTABLISHED && conn_rank(x) == best)
            budget = s->sched->limit(s, c, x, budget);
    }
    return budget;
}

int
tcpls__sched_reinject(tcpls_session_t *s, conn_t *c)
{
    if (s->stream_policy == TCPLS_STREAMS_PIN)
        return 0; /* a copy on another path would tie the stream to that path too */
    return s->sched->reinject != NULL ? s->sched->reinject(s, c) : 0;
}

/* ---- stream policy ----------------------------------------------------------------------- */

/* Index (in s->conns) of the connections that may carry data: established, of the best rank;
 * one bit each. */
static uint64_t
pin_usable(const tcpls_session_t *s)
{
    int best = 3;
    uint64_t set = 0;
    for (size_t i = 0; i < s->nconns; i++)
        if (s->conns[i]->state == TCPLS_CONN_ESTABLISHED && conn_rank(s->conns[i]) < best)
            best = conn_rank(s->conns[i]);
    for (size_t i = 0; i < s->nconns && i < 64; i++)
        if (s->conns[i]->state == TCPLS_CONN_ESTABLISHED && conn_rank(s->conns[i]) == best)
            set |= (uint64_t)1 << i;
    return set;
}

/* Index of the usable connection of id, or -1. */
static int
pin_index(const tcpls_session_t *s, uint64_t usable, uint32_t id)
{
    for (size_t i = 0; i < s->nconns && i < 64; i++)
        if ((usable >> i & 1) && s->conns[i]->id == id)
            return (int)i;
    return -1;
}

/* Queued streams pinned to each usable connection (load[i] for s->conns[i]); streams pinned to a
 * connection that is not usable any more lose their pin. */
static void
pin_loads(tcpls_session_t *s, uint64_t usable, unsigned load[64])
{
    memset(load, 0, 64 * sizeof(load[0]));
    for (tcpls_stream_t *st = s->sendq_head; st != NULL; st = st->sendq_next) {
        int i = st->pinned ? pin_index(s, usable, st->pin_conn) : -1;
        if (i >= 0)
            load[i]++;
        else
            st->pinned = 0;
    }
}

/* The usable connection with the fewest queued streams (lowest index on ties), or -1. */
static int
pin_least(const tcpls_session_t *s, uint64_t usable, const unsigned load[64])
{
    int best = -1;
    for (size_t i = 0; i < s->nconns && i < 64; i++)
        if ((usable >> i & 1) && (best < 0 || load[i] < load[best]))
            best = (int)i;
    return best;
}

/* The set of usable connections changed: moves streams (the last queued first, those least
 * started) from the most to the least loaded connection until the counts are within one. */
static void
pin_rebalance(tcpls_session_t *s, uint64_t usable, unsigned load[64])
{
    for (;;) {
        int lo = pin_least(s, usable, load), hi = -1;
        for (size_t i = 0; i < s->nconns && i < 64; i++)
            if ((usable >> i & 1) && (hi < 0 || load[i] > load[hi]))
                hi = (int)i;
        if (lo < 0 || load[hi] <= load[lo] + 1)
            return;
        tcpls_stream_t *move = NULL;
        for (tcpls_stream_t *st = s->sendq_head; st != NULL; st = st->sendq_next)
            if (st->pinned && st->pin_conn == s->conns[hi]->id)
                move = st;
        move->pin_conn = s->conns[lo]->id;
        load[hi]--;
        load[lo]++;
    }
}

tcpls_stream_t *
tcpls__sched_pick_stream(tcpls_session_t *s, conn_t *c)
{
    unsigned load[64];
    uint64_t usable;
    tcpls_stream_t *st;

    if (s->stream_policy != TCPLS_STREAMS_PIN)
        return s->sendq_head;
    usable = pin_usable(s);
    pin_loads(s, usable, load);
    if (usable != s->pin_usable) {
        s->pin_usable = usable;
        pin_rebalance(s, usable, load);
    }
    for (st = s->sendq_head; st != NULL; st = st->sendq_next) {
        if (!st->pinned) {
            int i = pin_least(s, usable, load);
            if (i < 0)
                return NULL;
            st->pinned = 1;
            st->pin_conn = s->conns[i]->id;
            load[i]++;
        }
        if (st->pin_conn == c->id)
            return st;
    }
    return NULL;
}

/* ---- public API -------------------------------------------------------------------------- */

int
tcpls_scheduler_valid(const char *name)
{
    return name != NULL && tcpls__sched_find(name) != NULL;
}

int
tcpls_stream_policy_from_name(const char *name)
{
    if (name != NULL && strcmp(name, "spread") == 0)
        return TCPLS_STREAMS_SPREAD;
    if (name != NULL && strcmp(name, "pin") == 0)
        return TCPLS_STREAMS_PIN;
    return TCPLS_ERR_ARG;
}

int
tcpls_session_set_stream_policy(tcpls_session_t *s, int policy)
{
    if (s == NULL || (policy != TCPLS_STREAMS_SPREAD && policy != TCPLS_STREAMS_PIN))
        return TCPLS_ERR_ARG;
    if (s->stream_policy != policy) {
        s->stream_policy = policy;
        s->pin_usable = 0;
    }
    return 0;
}

int
tcpls_stream_conn(tcpls_session_t *s, uint32_t stream_id, uint32_t *conn_id)
{
    tcpls_stream_t *st = s != NULL ? tcpls__stream_find(s, stream_id) : NULL;
    if (st == NULL)
        return TCPLS_ERR_NO_STREAM;
    if (s->stream_policy != TCPLS_STREAMS_PIN || !st->pinned)
        return TCPLS_ERR_NO_CONN;
    *conn_id = st->pin_conn;
    return 0;
}

int
tcpls_session_set_scheduler(tcpls_session_t *s, const char *name)
{
    const tcpls_sched_ops_t *ops = name != NULL ? tcpls__sched_find(name) : NULL;
    if (s == NULL || ops == NULL)
        return TCPLS_ERR_ARG;
    s->sched = ops;
    return 0;
}

void
tcpls_conn_set_metrics(tcpls_session_t *s, uint32_t conn_id, uint32_t srtt_us, uint32_t notsent_bytes,
                       uint64_t delivery_bps)
{
    conn_t *c = s ? tcpls__conn_find(s, conn_id) : NULL;
    if (c == NULL)
        return;
    c->srtt_us = srtt_us;
    c->notsent = notsent_bytes;
    c->metrics_ns = s->now_ns;
    c->rate_bps = delivery_bps;
}

uint64_t
tcpls_session_reinjected_bytes(tcpls_session_t *s)
{
    return s != NULL ? s->reinjected_bytes : 0;
}
