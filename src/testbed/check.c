/*
 * check.c — 'mplab topo check': for every link, ping RTT against the configured 2 x delay
 * and one TCP flow per direction against the configured rate (the seeds' first step:
 * verify delays with ping and bandwidth with iperf3), as a pass/fail table or JSON.
 *
 * Tolerances are meant to survive a busy 2-core machine yet catch a broken setup (a delay
 * missing or applied twice, a rate not applied, a link that does not forward):
 *   RTT:  min >= expected - 0.3 ms   and   avg <= expected + max(2 ms, 10 %)
 *   TCP:  goodput between 0.75 and 1.02 of the rate (the maximum TCP goodput over Ethernet
 *         is 1448/1514 = 0.956 of the link rate). Links with loss, and links of 1 Gbit/s
 *         and more (where sender, receiver and emulator share the machine's cores), only
 *         need to stay under the rate: the table says why ("loss", "cpu").
 */
#include "common/json.h"
#include "testbed/testbed.h"
#include "common/util.h"
#include "testbed/trace.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int mpl_tb_check(const char *name, int json);

#define CHECK_PORT          5999
#define TCP_SECONDS         2.0
#define PING_COUNT          10
#define MODEL_PINGS         300 /* pings on a link with a model (jitter, loss, ...): 3 s */
#define MODEL_PING_INTERVAL 0.01

typedef struct result {
    int link, dir;
    double rtt_expected, rtt_min, rtt_avg;
    int rtt_ok;
    int model;                  /* the link has a model beyond delay and random loss: the checks below */
    double q_exp[3], q_meas[3]; /* RTT 10/50/90 % quantiles, ms */
    double loss_exp, loss_meas; /* fraction of pings lost */
    int loss_ok;
    double rate_mbps, tcp_mbps;
    int tcp_ok, tcp_done;
    const char *tcp_note; /* why the rate is not expected to be reached, or NULL */
} result_t;

/* Live loss of link l (both directions, percent). */
static double
sh_loss(const mpl_topology_t *t, int l)
{
    mpl_tb_shared_t *sh = mpl_tb_shared_map(t, l, 0);
    double v = sh ? sh->loss_pct[0] + sh->loss_pct[1] : 0;
    mpl_tb_shared_unmap(sh);
    return v;
}

/* Pings dst from src inside namespace ns, count times every interval_s. Returns 0 with min/avg
 * in ms, the received RTTs sorted in rtts (at most count) and the number sent and received,
 * else -1. */
static int
ping_rtt(const char *ns, const char *src, const char *dst, int count, double interval_s, double *min,
         double *avg, double *rtts, int *sent, int *received)
{
    if (mpl_tb_netns_enter(ns) != 0)
        return -1;
    char cmd[256], line[256];
    /* one warm-up ping resolves ARP; its RTT would include the ARP exchange (the model's loss
     * may take it: two tries) */
    snprintf(cmd, sizeof(cmd),
             "ping -n -c 2 -i 0.2 -w 3 -I %s %s >/dev/null 2>&1; ping -n -c %d -i %g -W 2 -I %s %s 2>&1", src,
             dst, count, interval_s, src, dst);
    FILE *p = popen(cmd, "r");
    int rc = -1, n = 0;
    *sent = *received = 0;
    if (p) {
        while (fgets(line, sizeof(line), p)) {
            double mx, md, v;
            char *eq = strstr(line, "min/avg/max");
            if (eq && (eq = strchr(eq, '=')) && sscanf(eq + 1, " %lf/%lf/%lf/%lf", min, avg, &mx, &md) == 4)
                rc = 0;
            char *tm = strstr(line, "time=");
            if (tm && !strstr(line, "DUP!") && n < count && sscanf(tm + 5, "%lf", &v) == 1)
                rtts[n++] = v;
            int a, b;
            if (sscanf(line, "%d packets transmitted, %d received", &a, &b) == 2) {
                *sent = a;
                *received = b;
            }
        }
        pclose(p);
    }
    mpl_tb_netns_enter(NULL);
    for (int i = 1; i < n; i++) /* insertion sort: a few hundred values */
        for (int j = i; j > 0 && rtts[j - 1] > rtts[j]; j--) {
            double x = rtts[j];
            rtts[j] = rtts[j - 1];
            rtts[j - 1] = x;
        }
    return rc;
}

static double
quantile(const double *v, int n, double q)
{
    if (n <= 0)
        return -1;
    int i = (int)(q * (n - 1) + 0.5);
    return v[i];
}

/* What pings every interval_s should see on a link with models m[0] (out) and m[1] (back):
 * the model itself run over many simulated pings (fixed seed). Fills the 10/50/90 % RTT
 * quantiles (ms), the fraction of pings lost (a corrupted frame fails the ICMP checksum),
 * and the factor by which bursts widen the loss count's spread. */
#define SIM_PINGS 20000
static void
expected_pings(const mpl_lm_params_t m[2], double interval_s, double q[3], double *loss, double *burst)
{
    static mpl_lm_state_t st[2];
    static double rtt[SIM_PINGS];
    mpl_lm_state_init(&st[0], 1);
    mpl_lm_state_init(&st[1], 2);
    int n = 0, lost = 0, runs = 0, prev = 0;
    for (int i = 0; i < SIM_PINGS; i++) {
        uint64_t t0 = (uint64_t)(1e9 + i * interval_s * 1e9);
        mpl_lm_verdict_t v, w;
        mpl_lm_packet(&m[0], &st[0], t0, 98, &v);
        int gone = v.drop || v.corrupt_bit >= 0;
        if (!gone) {
            mpl_lm_packet(&m[1], &st[1], v.release_ns, 98, &w);
            gone = w.drop || w.corrupt_bit >= 0;
            if (!gone)
                rtt[n++] = (double)(w.release_ns - t0) / 1e6;
        }
        lost += gone;
        runs += gone && !prev;
        prev = gone;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && rtt[j - 1] > rtt[j]; j--) {
            double x = rtt[j];
            rtt[j] = rtt[j - 1];
            rtt[j - 1] = x;
        }
    q[0] = quantile(rtt, n, 0.1);
    q[1] = quantile(rtt, n, 0.5);
    q[2] = quantile(rtt, n, 0.9);
    *loss = (double)lost / SIM_PINGS;
    *burst = runs ? (double)lost / runs : 1;
}

/* Receiver child: in ns, listens on addr:port, writes "ready" then the goodput (Mbit/s, after
 * a warm-up) to fd. */
static void
tcp_receiver(const char *ns, uint32_t addr, int port, int fd, double warmup, double window_s)
{
    double result = -1;
    alarm((unsigned)(warmup + window_s) + 10); /* the sender never came: give up */
    if (mpl_tb_netns_enter(ns) != 0)
        _exit(1);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sin = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(addr)};
    char c = 1;
    if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(ls, 1) != 0) {
        c = 0;
        (void)!write(fd, &c, 1);
        _exit(1);
    }
    (void)!write(fd, &c, 1);
    int s = accept(ls, NULL, NULL);
    if (s >= 0) {
        static char buf[1 << 16];
        /* bytes read during a fixed window of TCP_SECONDS after the warm-up */
        uint64_t start = 0, mark = 0, bytes = 0, window = (uint64_t)(window_s * 1e9);
        int complete = 0;
        for (;;) {
            ssize_t n = read(s, buf, sizeof(buf));
            if (n <= 0)
                break;
            uint64_t now = mpl_now_ns();
            if (!start)
                start = now;
            if (!mark && (double)(now - start) / 1e9 >= warmup)
                mark = now;
            if (mark && now - mark <= window)
                bytes += (uint64_t)n;
            else if (mark)
                complete = 1;
        }
        if (complete)
            result = (double)bytes * 8 / window_s / 1e6;
        close(s);
    }
    (void)!write(fd, &result, sizeof(result));
    _exit(0);
}

static void
tcp_sender(const char *ns, uint32_t src, uint32_t dst, int port, double seconds)
{
    if (mpl_tb_netns_enter(ns) != 0)
        _exit(1);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(src)};
    struct sockaddr_in b = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(dst)};
    if (bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 || connect(s, (struct sockaddr *)&b, sizeof(b)) != 0)
        _exit(1);
    static char buf[1 << 16];
    memset(buf, 0x5a, sizeof(buf));
    uint64_t end = mpl_now_ns() + (uint64_t)(seconds * 1e9);
    while (mpl_now_ns() < end)
        if (write(s, buf, sizeof(buf)) < 0)
            break;
    close(s);
    _exit(0);
}

/* One TCP flow from host end 'from' of link l (its address) to the other end. */
static double
tcp_goodput(const mpl_topology_t *t, int l, int dir, double window)
{
    const mpl_tb_link_t *lk = &t->links[l];
    int from = dir == MPL_TB_A2B ? 0 : 1;
    char nsa[64], nsb[64];
    mpl_tb_host_ns(t, from ? lk->b : lk->a, nsa, sizeof(nsa));
    mpl_tb_host_ns(t, from ? lk->a : lk->b, nsb, sizeof(nsb));
    double rtt = (double)(lk->dir[0].delay_ns + lk->dir[1].delay_ns) / 1e9;
    double warmup = 0.5 + 20 * rtt; /* slow start and its first loss recovery */
    if (warmup > 3.0)
        warmup = 3.0;
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    fflush(NULL);
    pid_t rx = fork();
    if (rx == 0) {
        close(pfd[0]);
        tcp_receiver(nsb, lk->addr[1 - from], CHECK_PORT, pfd[1], warmup, window);
    }
    close(pfd[1]);
    char ready = 0;
    double mbps = -1;
    if (rx > 0 && read(pfd[0], &ready, 1) == 1 && ready) {
        pid_t tx = fork();
        if (tx == 0)
            tcp_sender(nsa, lk->addr[from], lk->addr[1 - from], CHECK_PORT, warmup + window + 0.5);
        if (tx > 0) {
            if (read(pfd[0], &mbps, sizeof(mbps)) != sizeof(mbps))
                mbps = -1;
            waitpid(tx, NULL, 0);
        }
    }
    close(pfd[0]);
    if (rx > 0) {
        kill(rx, SIGKILL);
        waitpid(rx, NULL, 0);
    }
    return mbps;
}

int
mpl_tb_check(const char *name, int json)
{
    static mpl_topology_t t;
    if (mpl_tb_load_running(name, &t) != 0)
        return 1;
    result_t res[2 * MPL_TB_MAX_LINKS];
    int n = 0, all_ok = 1;
    if (!json)
        printf("%-8s %-4s %10s %10s %10s %-4s %10s %10s %6s %-4s\n", "link", "dir", "rtt_exp", "rtt_min",
               "rtt_avg", "", "rate", "tcp", "ratio", "");
    for (int l = 0; l < t.n_links; l++) {
        const mpl_tb_link_t *lk = &t.links[l];
        mpl_tb_shared_t *sh = mpl_tb_shared_map(&t, l, 0);
        uint64_t rate[2], delay[2];
        double loss[2];
        for (int d = 0; d < 2; d++) {
            rate[d] = sh ? sh->rate_bps[d] : lk->dir[d].rate_bps;
            delay[d] = sh ? sh->delay_ns[d] : lk->dir[d].delay_ns;
            loss[d] = sh ? sh->loss_pct[d] : lk->dir[d].loss_pct;
        }
        for (int d = 0; d < 2; d++) {
            /* the reverse direction only when its rate differs */
            if (d == 1 && rate[1] == rate[0])
                continue;
            result_t *r = &res[n++];
            memset(r, 0, sizeof(*r));
            r->link = l;
            r->dir = d;
            r->rtt_expected = (double)(delay[0] + delay[1]) / 1e6;
            char ns[64], src[20], dst[20];
            int from = d;
            mpl_tb_host_ns(&t, from ? lk->b : lk->a, ns, sizeof(ns));
            mpl_tb_fmt_ip4(lk->addr[from], src, sizeof(src));
            mpl_tb_fmt_ip4(lk->addr[1 - from], dst, sizeof(dst));
            mpl_lm_params_t m[2];
            for (int k = 0; k < 2; k++) {
                m[k] = sh ? sh->model[k] : lk->dir[k].model;
                m[k].delay_ns = delay[k];
                m[k].loss_pct = loss[k];
            }
            if (d == 1) { /* pings from b: out is b2a */
                mpl_lm_params_t x = m[0];
                m[0] = m[1];
                m[1] = x;
            }
            r->model =
                mpl_lm_params_extended(&m[0]) || mpl_lm_params_extended(&m[1]) || loss[0] > 0 || loss[1] > 0;
            static double rtts[MODEL_PINGS];
            int count = r->model ? MODEL_PINGS : PING_COUNT, sent = 0, recvd = 0;
            double interval = r->model ? MODEL_PING_INTERVAL : 0.05;
            r->loss_ok = 1;
            r->loss_exp = r->loss_meas = 0;
            if (ping_rtt(ns, src, dst, count, interval, &r->rtt_min, &r->rtt_avg, rtts, &sent, &recvd) == 0) {
                int traced =
                    (sh ? sh->trace[0][0] || sh->trace[1][0] : lk->dir[0].trace[0] || lk->dir[1].trace[0]);
                if (!r->model) {
                    double tol = r->rtt_expected * 0.10 > 2.0 ? r->rtt_expected * 0.10 : 2.0;
                    /* a trace adds the wait for a delivery opportunity (an off period: seconds) */
                    r->rtt_ok = r->rtt_min >= r->rtt_expected - 0.3 &&
                                (traced || r->rtt_avg <= r->rtt_expected + tol);
                } else {
                    /* the measured RTT quantiles and ping loss against the model's own */
                    double burst;
                    expected_pings(m, interval, r->q_exp, &r->loss_exp, &burst);
                    for (int k = 0; k < 3; k++)
                        r->q_meas[k] = quantile(rtts, recvd < count ? recvd : count, 0.1 + 0.4 * k);
                    double tol = r->q_exp[1] * 0.10 > 2.0 ? r->q_exp[1] * 0.10 : 2.0;
                    double spread_exp = r->q_exp[2] - r->q_exp[0], spread = r->q_meas[2] - r->q_meas[0];
                    r->rtt_ok = r->q_meas[0] >= r->q_exp[0] - 0.3 - 0.3 * spread_exp &&
                                fabs(r->q_meas[1] - r->q_exp[1]) <= tol &&
                                fabs(spread - spread_exp) <= 0.3 * spread_exp + 1.0;
                    r->loss_meas = sent > 0 ? 1.0 - (double)recvd / sent : 0;
                    /* binomial spread, widened by the bursts; 4 sigma plus two pings */
                    double sd = sqrt(r->loss_exp * (1 - r->loss_exp) * burst / (sent > 0 ? sent : 1));
                    r->loss_ok = fabs(r->loss_meas - r->loss_exp) <= 4 * sd + 2.0 / (sent > 0 ? sent : 1);
                }
            } else {
                r->rtt_min = r->rtt_avg = -1;
            }
            r->rate_mbps = (double)rate[d] / 1e6;
            /* a trace: its mean rate over whole periods (at least TCP_SECONDS, at most 10 s) */
            double window = TCP_SECONDS;
            const char *trace = sh ? sh->trace[d] : lk->dir[d].trace;
            if (trace[0]) {
                mpl_trace_t tr;
                char why[256];
                if (mpl_trace_load(trace, &tr, why, sizeof(why)) == 0) {
                    double period = tr.period_ms / 1e3;
                    window = period * ceil(TCP_SECONDS / period);
                    if (window > 10)
                        window = period > 10 ? 10 : period * floor(10 / period);
                    mpl_trace_free(&tr);
                }
                r->tcp_note = "trace";
            }
            r->tcp_mbps = tcp_goodput(&t, l, d, window);
            r->tcp_done = r->tcp_mbps >= 0;
            /* with loss, one TCP flow cannot fill the link; at 1 Gbit/s and more the machine,
             * not the emulation, limits one flow: both only need to stay under the rate */
            double lossy = lk->dir[0].loss_pct + lk->dir[1].loss_pct;
            if (sh_loss(&t, l) > 0 || lossy > 0)
                r->tcp_note = "loss";
            else if (rate[d] >= 1000000000ull)
                r->tcp_note = "cpu";
            if (rate[d] == 0)
                r->tcp_ok = r->tcp_mbps > 0;
            else if (r->tcp_note)
                r->tcp_ok = r->tcp_mbps > 0 && r->tcp_mbps <= 1.02 * r->rate_mbps;
            else
                r->tcp_ok = r->tcp_mbps >= 0.75 * r->rate_mbps && r->tcp_mbps <= 1.02 * r->rate_mbps;
            if (r->model && !r->tcp_note)
                r->tcp_note = "model";
            const char *back = sh ? sh->trace[1 - d] : lk->dir[1 - d].trace;
            if (back[0] && !trace[0]) { /* its ACKs wait for the reverse trace's opportunities */
                r->tcp_note = "ack trace";
                r->tcp_ok = r->tcp_mbps > 0 && r->tcp_mbps <= 1.02 * r->rate_mbps;
            }
            if (trace[0] && !r->model) /* one TCP flow follows the trace's rate, minus framing */
                r->tcp_ok = r->tcp_mbps >= 0.6 * r->rate_mbps && r->tcp_mbps <= 1.02 * r->rate_mbps;
            all_ok &= r->rtt_ok && r->tcp_ok && r->loss_ok;
            if (!json) {
                char rs[24];
                if (rate[d])
                    snprintf(rs, sizeof(rs), "%.1f", r->rate_mbps);
                else
                    snprintf(rs, sizeof(rs), "unlimited");
                printf("%-8s %-4s %7.2f ms %7.2f ms %7.2f ms %-4s %10s %10.1f %6.3f %-4s%s%s\n", lk->name,
                       d ? "b2a" : "a2b", r->rtt_expected, r->rtt_min, r->rtt_avg, r->rtt_ok ? "ok" : "FAIL",
                       rs, r->tcp_mbps, rate[d] ? r->tcp_mbps / r->rate_mbps : 0.0, r->tcp_ok ? "ok" : "FAIL",
                       r->tcp_note ? " " : "", r->tcp_note ? r->tcp_note : "");
                if (r->model)
                    printf("         rtt 10/50/90%%: expected %.2f/%.2f/%.2f ms, measured %.2f/%.2f/%.2f ms; "
                           "ping loss expected %.1f%%, measured %.1f%% %s\n",
                           r->q_exp[0], r->q_exp[1], r->q_exp[2], r->q_meas[0], r->q_meas[1], r->q_meas[2],
                           100 * r->loss_exp, 100 * r->loss_meas, r->loss_ok ? "ok" : "FAIL");
                fflush(stdout);
            }
        }
        mpl_tb_shared_unmap(sh);
    }
    if (json) {
        mpl_json_t j;
        mpl_json_init(&j, stdout);
        mpl_json_obj_begin(&j, NULL);
        mpl_json_str(&j, "topology", t.name);
        mpl_json_bool(&j, "pass", all_ok);
        mpl_json_arr_begin(&j, "links");
        for (int i = 0; i < n; i++) {
            const result_t *r = &res[i];
            mpl_json_obj_begin(&j, NULL);
            mpl_json_str(&j, "name", t.links[r->link].name);
            mpl_json_str(&j, "dir", r->dir ? "b2a" : "a2b");
            mpl_json_num(&j, "rtt_expected_ms", r->rtt_expected);
            mpl_json_num(&j, "rtt_min_ms", r->rtt_min);
            mpl_json_num(&j, "rtt_avg_ms", r->rtt_avg);
            mpl_json_bool(&j, "rtt_pass", r->rtt_ok);
            mpl_json_num(&j, "rate_mbps", r->rate_mbps);
            mpl_json_num(&j, "tcp_mbps", r->tcp_mbps);
            mpl_json_num(&j, "tcp_ratio", r->rate_mbps > 0 ? r->tcp_mbps / r->rate_mbps : 0);
            mpl_json_bool(&j, "tcp_pass", r->tcp_ok);
            mpl_json_str(&j, "tcp_note", r->tcp_note);
            if (r->model) {
                mpl_json_arr_begin(&j, "rtt_quantiles_expected_ms");
                for (int k = 0; k < 3; k++)
                    mpl_json_num(&j, NULL, r->q_exp[k]);
                mpl_json_arr_end(&j);
                mpl_json_arr_begin(&j, "rtt_quantiles_ms");
                for (int k = 0; k < 3; k++)
                    mpl_json_num(&j, NULL, r->q_meas[k]);
                mpl_json_arr_end(&j);
                mpl_json_num(&j, "ping_loss_expected", r->loss_exp);
                mpl_json_num(&j, "ping_loss", r->loss_meas);
                mpl_json_bool(&j, "loss_pass", r->loss_ok);
            }
            mpl_json_obj_end(&j);
        }
        mpl_json_arr_end(&j);
        mpl_json_obj_end(&j);
        mpl_json_finish(&j);
    } else {
        printf("%s\n", all_ok ? "PASS" : "FAIL");
    }
    return all_ok ? 0 : 1;
}
