/*
 * test_sched.c — the schedulers of lib/sched.c, table-driven: each row gives the connections'
 * smoothed RTT, kernel queue (notsent), delivery rate, backup flag, our own output waiting and
 * data records sent, and which connections may carry the next stream record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "session.h"

#define MAX_ROW_CONNS 4
#define MBPS          1000000ull

typedef struct row_conn {
    uint32_t srtt_us;
    uint64_t notsent;  /* bytes in the kernel's queue */
    uint64_t rate_bps; /* 0: not measured yet */
    int backup;
    size_t out;       /* bytes of our output not taken by the socket yet */
    uint64_t records; /* data records sent (round robin) */
} row_conn_t;

typedef struct row {
    const char *what, *sched;
    row_conn_t conns[MAX_ROW_CONNS]; /* connections A, B, ...: the used ones have srtt_us > 0 */
    const char *expect;              /* the connections that may carry the next record */
} row_t;

static const row_t rows[] = {
    {"no rates: the lower RTT", "default", {{10000, 0, 0, 0, 0, 0}, {40000, 0, 0, 0, 0, 0}}, "A"},
    {"no rates: overflow while the fast socket is full",
     "default",
     {{10000, 0, 0, 0, 40000, 0}, {40000, 0, 0, 0, 0, 0}},
     "AB"},
    {"rates: the earlier arrival",
     "default",
     {{10000, 0, 50 * MBPS, 0, 0, 0}, {40000, 0, 50 * MBPS, 0, 0, 0}},
     "A"},
    {"rates: a long kernel queue makes the low RTT late",
     "default",
     {{10000, 2000000, 10 * MBPS, 0, 0, 0}, {40000, 0, 50 * MBPS, 0, 0, 0}},
     "B"},
    {"a backup waits while a normal one works",
     "default",
     {{10000, 0, 0, 1, 0, 0}, {40000, 0, 0, 0, 0, 0}},
     "B"},
    {"only backups: the best of them", "default", {{10000, 0, 0, 1, 0, 0}, {40000, 0, 0, 1, 0, 0}}, "A"},
    {"an unmeasured join gets a probe",
     "default",
     {{10000, 0, 50 * MBPS, 0, 0, 0}, {40000, 0, 0, 0, 0, 0}},
     "AB"},
    {"an unmeasured join with output waiting gets nothing",
     "default",
     {{10000, 0, 50 * MBPS, 0, 0, 0}, {40000, 0, 0, 0, 100, 0}},
     "A"},
    {"minrtt never overflows", "minrtt", {{10000, 0, 0, 0, 40000, 0}, {40000, 0, 0, 0, 0, 0}}, "A"},
    {"minrtt: equal RTTs, the lower id", "minrtt", {{20000, 0, 0, 0, 0, 0}, {20000, 0, 0, 0, 0, 0}}, "A"},
    {"rr: the one behind", "rr", {{10000, 0, 0, 0, 0, 5}, {40000, 0, 0, 0, 0, 4}}, "B"},
    {"rr: even counts, any",
     "rr",
     {{10000, 0, 0, 0, 0, 3}, {40000, 0, 0, 0, 0, 3}, {5000, 0, 0, 0, 0, 3}},
     "ABC"},
    {"rr: a backup does not count", "rr", {{10000, 0, 0, 0, 0, 9}, {40000, 0, 0, 1, 0, 0}}, "A"},
};

static void
run_row(const row_t *r)
{
    tcpls_ctx_t ctx = {.stream_send_buffer = 4u << 20};
    tcpls_session_t *s = calloc(1, sizeof(*s));
    conn_t conns[MAX_ROW_CONNS], *ptrs[MAX_ROW_CONNS];
    char got[MAX_ROW_CONNS + 1];
    size_t n = 0, ngot = 0;

    assert_non_null(s);
    s->ctx = &ctx;
    s->sched = tcpls__sched_find(r->sched);
    assert_non_null(s->sched);
    memset(conns, 0, sizeof(conns));
    for (; n < MAX_ROW_CONNS && r->conns[n].srtt_us > 0; n++) {
        conn_t *c = &conns[n];
        c->id = (uint32_t)n;
        c->state = TCPLS_CONN_ESTABLISHED;
        c->srtt_us = r->conns[n].srtt_us;
        c->notsent = r->conns[n].notsent;
        c->rate_bps = r->conns[n].rate_bps;
        c->backup = r->conns[n].backup;
        c->out.len = r->conns[n].out;
        c->data_records = r->conns[n].records;
        ptrs[n] = c;
    }
    s->conns = ptrs;
    s->nconns = n;
    for (size_t i = 0; i < n; i++)
        if (tcpls__sched_data_budget(s, &conns[i]) > 0)
            got[ngot++] = (char)('A' + i);
    got[ngot] = '\0';
    print_message("%-55s %-8s -> %s\n", r->what, r->sched, got);
    assert_string_equal(got, r->expect);
    free(s);
}

static void
test_rows(void **state)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        run_row(&rows[i]);
}

static void
test_probe_budget(void **state)
{
    /* a fresh join (rate unknown) beside a measured path: probe-sized records, four in flight */
    const row_t r = {"", "default", {{10000, 0, 50 * MBPS, 0, 0, 0}, {40000, 0, 0, 0, 0, 0}}, ""};
    tcpls_ctx_t ctx = {.stream_send_buffer = 4u << 20};
    tcpls_session_t *s = calloc(1, sizeof(*s));
    conn_t a = {.id = 0, .state = TCPLS_CONN_ESTABLISHED}, b = {.id = 1, .state = TCPLS_CONN_ESTABLISHED};
    conn_t *ptrs[2] = {&a, &b};
    assert_non_null(s);
    a.srtt_us = r.conns[0].srtt_us;
    a.rate_bps = r.conns[0].rate_bps;
    b.srtt_us = r.conns[1].srtt_us;
    s->ctx = &ctx;
    s->sched = tcpls__sched_find(NULL);
    s->conns = ptrs;
    s->nconns = 2;
    assert_int_equal(tcpls__sched_data_budget(s, &b), 8192);
    b.ring_len = 3; /* three probes unacknowledged: one more */
    assert_int_equal(tcpls__sched_data_budget(s, &b), 8192);
    b.ring_len = 4; /* four: wait for the rate */
    assert_int_equal(tcpls__sched_data_budget(s, &b), 0);
    b.ring_len = 0;
    assert_true(tcpls__sched_data_budget(s, &a) == SIZE_MAX);
    b.state = TCPLS_CONN_CLOSED;
    assert_int_equal(tcpls__sched_data_budget(s, &b), 0);
    free(s);
}

static void
test_names(void **state)
{
    assert_string_equal(tcpls__sched_find(NULL)->name, "default");
    assert_string_equal(tcpls__sched_find("minrtt")->name, "minrtt");
    assert_string_equal(tcpls__sched_find("rr")->name, "rr");
    assert_null(tcpls__sched_find("blest"));
    assert_true(tcpls_scheduler_valid("default"));
    assert_false(tcpls_scheduler_valid("blest"));
    assert_false(tcpls_scheduler_valid(NULL));
    assert_int_equal(tcpls_session_set_scheduler(NULL, "rr"), TCPLS_ERR_ARG);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_probe_budget),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
