/*
 * runner.c — runs scenarios through the mplab CLI and stores the results (see runner.h).
 *
 * Per point of the sweep: the topology comes up (generated or from a file), `topo show
 * --json` gives the addresses, then every run: server (mplab exec HOST -- mplab serve), the
 * monitor, the client (mplab exec HOST -- mplab get --json), timed link events; then the
 * topology goes down. A run that changed links (events, failures) gets a fresh topology for
 * the next one. Children live in their own process groups so that Ctrl-C reaches the runner
 * only, which stops them in order and removes the topology.
 */
#include "exp/runner.h"
#include "common/jsonread.h"
#include "exp/report.h"
#include "exp/results.h"
#include "exp/latency.h"
#include "common/json.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATHS   MPL_SC_MAX_LINKS
#define ADDR_LEN    48
#define OBJECTS_MAX 64 /* objects of a run whose completion times are read (get: 64) */

static volatile sig_atomic_t g_stop;

static void
on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

void
mpl_runner_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int
mpl_runner_interrupted(void)
{
    return g_stop != 0;
}

/* ---- processes ----------------------------------------------------------------------- */

/* Starts argv with stdout/stderr to files (NULL: /dev/null), in its own process group. */
static pid_t
spawn(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0)
        _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execv(argv[0], argv);
    _exit(127);
}

/* Waits for pid; returns its exit status (128+sig when killed), -1 when still running
 * (nohang) and -2 on error. */
static int
reap(pid_t pid, int nohang)
{
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, nohang ? WNOHANG : 0);
        if (r == 0)
            return -1;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -2;
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
}

/* Sends sig, waits up to grace seconds, then SIGKILL. Returns the exit status. */
static int
stop_child(pid_t pid, int sig, double grace)
{
    if (pid <= 0)
        return -2;
    kill(pid, sig);
    double end = mpl_now_s() + grace;
    for (;;) {
        int rc = reap(pid, 1);
        if (rc != -1)
            return rc;
        if (mpl_now_s() > end) {
            kill(pid, SIGKILL);
            return reap(pid, 0);
        }
        usleep(10000);
    }
}

/* Runs argv to completion (not interruptible: used for set-up and clean-up steps). */
static int
run_cmd(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = spawn(argv, out_path, err_path);
    if (pid < 0)
        return -2;
    return reap(pid, 0);
}

static char *
read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Last non-empty line of a file (for error messages), into buf. */
static const char *
last_line(const char *path, char *buf, size_t len)
{
    size_t n;
    char *s = read_file(path, 1 << 16, &n);
    buf[0] = '\0';
    if (s == NULL)
        return buf;
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    char *l = strrchr(s, '\n');
    snprintf(buf, len, "%s", l ? l + 1 : s);
    free(s);
    return buf;
}

static int
mkdir_p(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* ---- the experiment ------------------------------------------------------------------ */

typedef struct path_addr {
    char link[16];
    char client[ADDR_LEN], server[ADDR_LEN];
    char client_iface[32]; /* the client's interface on it (monitor samples) */
} path_addr_t;

typedef struct plan_item {
    int point; /* 0-based */
    int rep;   /* 1-based */
    mpl_proto_t proto;
    int path; /* tcp: 1..links */
    char id[MPL_RUN_ID_LEN];
} plan_item_t;

typedef struct exp {
    const mpl_scenario_t *sc;
    const mpl_runner_opts_t *o;
    char dir[1024];
    char topo_name[20];
    int topo_up;
    int topo_dirty;
    int cur_point;
    path_addr_t paths[MAX_PATHS];
    int n_paths;
    mpl_runs_t done;
    FILE *runs_csv, *ts_csv, *sf_csv;
    int repeat;
    unsigned long seed;
    int port;
    /* progress */
    int total, todo, finished;
    double run_time_sum;
    int n_ok, n_failed, n_unavail;
    int unavailable[MPL_PROTO_COUNT]; /* learnt: skip quickly after the first 'unavailable' */
    char host_sysctls[2][4096];       /* "key = value" lines read inside the client / server */
    char emulator[32];                /* the link emulator topo show reports (netem | forwarder) */
    /* for the run's deadline (mpl_sc_deadline_s), from topo show: the lowest rate of any link
     * direction (0 = all unlimited), the longest RTT and the highest loss */
    double slowest_bps, max_rtt_s, max_loss_pct;
} exp_t;

static void
topo_down(exp_t *e)
{
    if (!e->topo_up)
        return;
    char *argv[] = {(char *)e->o->mplab, "topo", "down", e->topo_name, NULL};
    char log[1200];
    snprintf(log, sizeof(log), "%s/logs/topo-down.log", e->dir);
    int rc = run_cmd(argv, NULL, log);
    if (rc != 0) {
        char l[256];
        mpl_warn("topo down %s failed (exit %d): %s", e->topo_name, rc, last_line(log, l, sizeof(l)));
    }
    e->topo_up = 0;
}

static void
strip_prefix_len(char *addr)
{
    char *s = strchr(addr, '/');
    if (s)
        *s = '\0';
}

/* Reads the addresses of the client and server from `topo show NAME --json`. */
static int
read_paths(exp_t *e, const char *json_path)
{
    mpl_jdoc_t d;
    char msg[256];
    if (mpl_jdoc_load(&d, json_path, msg, sizeof(msg)) != 0) {
        mpl_err("topo show --json: %s", msg);
        mpl_jdoc_free(&d);
        return -1;
    }
    const mpl_jv_t *topo = mpl_jv_at(&d, mpl_jv_get(&d, mpl_jdoc_root(&d), "topologies"), 0);
    const mpl_jv_t *client = NULL, *server = NULL;
    for (const mpl_jv_t *h = mpl_jv_child(&d, mpl_jv_get(&d, topo, "hosts")); h; h = mpl_jv_next(&d, h)) {
        const char *n = mpl_jv_str(&d, mpl_jv_get(&d, h, "name"), "");
        if (!strcmp(n, e->sc->client_host))
            client = h;
        if (!strcmp(n, e->sc->server_host))
            server = h;
    }
    if (client == NULL || server == NULL) {
        mpl_err("topology %s has no host '%s' or '%s'", e->topo_name, e->sc->client_host, e->sc->server_host);
        mpl_jdoc_free(&d);
        return -1;
    }
    const char *emu =
        mpl_jv_str(&d, mpl_jv_get(&d, mpl_jv_at(&d, mpl_jv_get(&d, topo, "links"), 0), "emulator"), NULL);
    if (emu != NULL)
        snprintf(e->emulator, sizeof(e->emulator), "%s", emu);
    e->slowest_bps = 0;
    e->max_rtt_s = 0;
    e->max_loss_pct = 0;
    for (const mpl_jv_t *l = mpl_jv_child(&d, mpl_jv_get(&d, topo, "links")); l; l = mpl_jv_next(&d, l)) {
        double rtt = 0;
        for (int k = 0; k < 2; k++) {
            const mpl_jv_t *dv = mpl_jv_get(&d, l, k ? "b2a" : "a2b");
            double rate = mpl_jv_num(mpl_jv_get(&d, dv, "rate_mbps"), 0) * 1e6;
            double loss = mpl_jv_num(mpl_jv_get(&d, dv, "loss"), 0);
            const mpl_jv_t *ge = mpl_jv_get(&d, dv, "loss_ge");
            if (ge != NULL) {
                /* Gilbert-Elliott: the stationary loss rate */
                double gp = mpl_jv_num(mpl_jv_get(&d, ge, "p"), 0),
                       gr = mpl_jv_num(mpl_jv_get(&d, ge, "r"), 0);
                double h1 = mpl_jv_num(mpl_jv_get(&d, ge, "1-h"), 0),
                       k1 = mpl_jv_num(mpl_jv_get(&d, ge, "1-k"), 0);
                if (gp > 0) {
                    double bad = gp / (gp + gr);
                    loss = (1 - bad) * k1 + bad * h1;
                }
            }
            rtt += mpl_jv_num(mpl_jv_get(&d, dv, "delay_ms"), 0) / 1e3;
            if (rate > 0 && (e->slowest_bps == 0 || rate < e->slowest_bps))
                e->slowest_bps = rate;
            if (loss > e->max_loss_pct)
                e->max_loss_pct = loss;
        }
        if (rtt > e->max_rtt_s)
            e->max_rtt_s = rtt;
    }
    e->n_paths = 0;
    const mpl_jv_t *sif = mpl_jv_get(&d, server, "interfaces");
    const char *server_first = NULL;
    for (const mpl_jv_t *i = mpl_jv_child(&d, sif); i; i = mpl_jv_next(&d, i)) {
        const char *a = mpl_jv_str(&d, mpl_jv_get(&d, i, "addr"), NULL);
        if (a != NULL && server_first == NULL)
            server_first = a;
    }
    for (const mpl_jv_t *i = mpl_jv_child(&d, mpl_jv_get(&d, client, "interfaces"));
         i && e->n_paths < MAX_PATHS; i = mpl_jv_next(&d, i)) {
        const char *a = mpl_jv_str(&d, mpl_jv_get(&d, i, "addr"), NULL);
        const char *link =
            mpl_jv_str(&d, mpl_jv_get(&d, i, "link"), mpl_jv_str(&d, mpl_jv_get(&d, i, "name"), ""));
        if (a == NULL)
            continue;
        path_addr_t *p = &e->paths[e->n_paths];
        snprintf(p->link, sizeof(p->link), "%s", link);
        snprintf(p->client, sizeof(p->client), "%s", a);
        snprintf(p->client_iface, sizeof(p->client_iface), "%s",
                 mpl_jv_str(&d, mpl_jv_get(&d, i, "name"), ""));
        const char *sa = server_first;
        for (const mpl_jv_t *j = mpl_jv_child(&d, sif); j; j = mpl_jv_next(&d, j))
            if (!strcmp(mpl_jv_str(&d, mpl_jv_get(&d, j, "link"), ""), link))
                sa = mpl_jv_str(&d, mpl_jv_get(&d, j, "addr"), sa);
        snprintf(p->server, sizeof(p->server), "%s", sa ? sa : "");
        strip_prefix_len(p->client);
        strip_prefix_len(p->server);
        if (p->server[0] != '\0')
            e->n_paths++;
    }
    mpl_jdoc_free(&d);
    if (e->n_paths == 0) {
        mpl_err("topology %s: no client/server addresses found", e->topo_name);
        return -1;
    }
    return 0;
}

/* The MPTCP and TCP sysctls as seen inside the client and server namespaces (net.mptcp.* is
 * per namespace), once per experiment. */
static void
read_host_sysctls(exp_t *e)
{
    for (int h = 0; h < 2; h++) {
        if (e->host_sysctls[h][0] != '\0')
            continue;
        char out[1200];
        snprintf(out, sizeof(out), "%s/logs/sysctl-%s.txt", e->dir, h ? "server" : "client");
        char *argv[] = {(char *)e->o->mplab,
                        "exec",
                        "--topo",
                        e->topo_name,
                        h ? (char *)e->sc->server_host : (char *)e->sc->client_host,
                        "--",
                        "sysctl",
                        "net.mptcp",
                        "net.ipv4.tcp_congestion_control",
                        "net.ipv4.tcp_available_congestion_control",
                        NULL};
        if (run_cmd(argv, out, NULL) != 0)
            continue;
        char *s = read_file(out, sizeof(e->host_sysctls[h]) - 1, NULL);
        if (s != NULL) {
            snprintf(e->host_sysctls[h], sizeof(e->host_sysctls[h]), "%s", s);
            free(s);
        }
    }
}

static int
topo_bring_up(exp_t *e, int point)
{
    mpl_sc_point_t pt;
    char msg[256], file[1200], log[1200], show[1200];
    if (mpl_sc_point(e->sc, point, &pt, msg, sizeof(msg)) != 0) {
        mpl_err("%s", msg);
        return -1;
    }
    snprintf(e->topo_name, sizeof(e->topo_name), "x%dp%d", (int)(getpid() % 100000), point + 1);
    if (e->sc->topology_file[0] != '\0') {
        snprintf(file, sizeof(file), "%s", e->sc->topology_file);
    } else {
        char text[8192];
        int n = mpl_sc_topology(e->sc, &pt, e->topo_name, text, sizeof(text));
        snprintf(file, sizeof(file), "%s/topo/p%02d.ini", e->dir, point + 1);
        FILE *f = fopen(file, "w");
        if (n < 0 || f == NULL || fwrite(text, 1, (size_t)n, f) != (size_t)n) {
            if (f)
                fclose(f);
            mpl_err("%s: cannot write the topology file", file);
            return -1;
        }
        fclose(f);
    }
    snprintf(log, sizeof(log), "%s/logs/topo-up-p%02d.log", e->dir, point + 1);
    char *up[] = {(char *)e->o->mplab, "topo", "up", file, "--name", e->topo_name, NULL};
    int rc = run_cmd(up, NULL, log);
    e->topo_up = 1; /* down is harmless if up failed half-way */
    if (rc != 0) {
        char l[256];
        mpl_err("topo up %s failed (exit %d): %s", file, rc, last_line(log, l, sizeof(l)));
        return -1;
    }
    snprintf(show, sizeof(show), "%s/topo/p%02d.show.json", e->dir, point + 1);
    char *sh[] = {(char *)e->o->mplab, "topo", "show", e->topo_name, "--json", NULL};
    if (run_cmd(sh, show, log) != 0 || read_paths(e, show) != 0)
        return -1;
    if (e->sc->migrate_at_ns > 0) { /* a topology file: its link names are known only now */
        int found = 0;
        for (int i = 0; i < e->n_paths; i++)
            found |= !strcmp(e->paths[i].link, e->sc->migrate_to);
        if (!found) {
            mpl_err("%s: migrate_to '%s' is not a link of the client in topology %s", e->sc->path,
                    e->sc->migrate_to, e->topo_name);
            return -1;
        }
    }
    e->cur_point = point;
    e->topo_dirty = 0;
    read_host_sysctls(e);
    return 0;
}

/* ---- one run ------------------------------------------------------------------------- */

typedef struct argbuf {
    char *argv[64];
    int n;
    char store[4096];
    size_t used;
} argbuf_t;

static void __attribute__((format(printf, 2, 3))) arg(argbuf_t *a, const char *fmt, ...)
{
    va_list ap;
    if (a->n >= (int)MPL_ARRAY_SIZE(a->argv) - 1)
        return;
    va_start(ap, fmt);
    int w = vsnprintf(a->store + a->used, sizeof(a->store) - a->used, fmt, ap);
    va_end(ap);
    if (w < 0 || a->used + (size_t)w + 1 > sizeof(a->store))
        return;
    a->argv[a->n++] = a->store + a->used;
    a->argv[a->n] = NULL;
    a->used += (size_t)w + 1;
}

/* Waits until file contains at least n occurrences of needle, the process exits, or timeout. */
static int
wait_for_text(const char *file, const char *needle, int n, pid_t pid, double timeout, int *exit_rc)
{
    double end = mpl_now_s() + timeout;
    *exit_rc = -1;
    while (mpl_now_s() < end && !g_stop) {
        char *s = read_file(file, 1 << 16, NULL);
        int count = 0;
        for (char *p = s; p && (p = strstr(p, needle)) != NULL; p++)
            count++;
        free(s);
        if (count >= n)
            return 0;
        int rc = reap(pid, 1);
        if (rc != -1) {
            *exit_rc = rc;
            return -1;
        }
        usleep(20000);
    }
    return -1;
}

/* Capacity of path i (Mbit/s): the median of the point's tcp reference on it, else 95% of its
 * configured rate (0: unknown). */
static double
path_mbps(exp_t *e, const mpl_sc_point_t *pt, int i)
{
    double v[128];
    int n = 0;
    for (int k = 0; k < e->done.n && n < 128; k++) {
        const mpl_run_t *r = &e->done.v[k];
        if (r->point == pt->index + 1 && r->proto == MPL_PROTO_TCP && r->path == i + 1 &&
            !strcmp(r->status, "ok"))
            v[n++] = r->goodput_mbps;
    }
    if (n > 0)
        return mpl_median(v, n);
    return i < pt->links && pt->rate_bps[i] > 0 ? (double)pt->rate_bps[i] / 1e6 * 0.95 : 0;
}

/* Expected surviving capacity after the failure, for the recovery metric: the medians of the
 * point's tcp references on the links that survive, else the configured rates. */
static double
surviving_mbps(exp_t *e, const mpl_sc_point_t *pt)
{
    double sum = 0;
    for (int i = 0; i < e->n_paths; i++)
        if (strcmp(e->paths[i].link, e->sc->fail_link) != 0)
            sum += path_mbps(e, pt, i);
    return sum;
}

static void
fill_params(exp_t *e, const mpl_sc_point_t *pt, mpl_run_t *r)
{
    const mpl_scenario_t *sc = e->sc;
    r->point = pt->index + 1;
    snprintf(r->label, sizeof(r->label), "%s", pt->label);
    r->links = sc->topology_file[0] ? e->n_paths : pt->links;
    r->share1_pct = sc->topology_file[0] ? NAN : pt->share_pct[0];
    snprintf(r->split, sizeof(r->split), "%s", sc->params[MPL_SC_SPLIT].v[pt->value_idx[MPL_SC_SPLIT]]);
    snprintf(r->rate, sizeof(r->rate), "%s", sc->params[MPL_SC_RATE].v[pt->value_idx[MPL_SC_RATE]]);
    snprintf(r->delay, sizeof(r->delay), "%s", sc->params[MPL_SC_DELAY].v[pt->value_idx[MPL_SC_DELAY]]);
    snprintf(r->loss, sizeof(r->loss), "%s", sc->params[MPL_SC_LOSS].v[pt->value_idx[MPL_SC_LOSS]]);
    snprintf(r->backup, sizeof(r->backup), "%s", sc->params[MPL_SC_BACKUP].v[pt->value_idx[MPL_SC_BACKUP]]);
    snprintf(r->fail, sizeof(r->fail), "%s", pt->fail);
    snprintf(r->cc, sizeof(r->cc), "%s", pt->cc);
    r->size = (double)pt->size;
    snprintf(r->direction, sizeof(r->direction), "%s", pt->direction);
    r->streams = pt->streams;
    if (pt->streams > 1 || sc->params[MPL_SC_STREAMS_POLICY].given) {
        snprintf(r->streams_policy, sizeof(r->streams_policy), "%s", pt->streams_policy);
        snprintf(r->streams_mode, sizeof(r->streams_mode), "%s", pt->streams_mode);
    }
    if (sc->migrate_at_ns > 0)
        snprintf(r->migrate_mode, sizeof(r->migrate_mode), "%s", pt->migrate_mode);
    r->objects_p50_s = r->objects_p99_s = r->migrate_t90_s = r->old_path_bytes = NAN;
    r->cpu_client_s = r->cpu_server_s = r->stall_s = r->recover_s = r->second_path_s = NAN;
    r->goodput_mbps = r->seconds = NAN;
    r->req_per_s = r->p50_ms = r->p99_ms = NAN;
    r->mptcp = -1;
}

/* Reads get's JSON into r and appends the application intervals to the time series. */
static void
read_get_json(exp_t *e, const char *path, mpl_run_t *r, double event_t, double target)
{
    mpl_jdoc_t d;
    char msg[256];
    if (mpl_jdoc_load(&d, path, msg, sizeof(msg)) != 0) {
        if (r->error[0] == '\0')
            snprintf(r->error, sizeof(r->error), "no JSON from get (%.100s)", msg);
        mpl_jdoc_free(&d);
        return;
    }
    const mpl_jv_t *root = mpl_jdoc_root(&d);
    r->bytes = mpl_jv_num(mpl_jv_get(&d, root, "bytes"), 0);
    r->seconds = mpl_jv_num(mpl_jv_get(&d, root, "seconds"), NAN);
    r->goodput_mbps = mpl_jv_num(mpl_jv_get(&d, root, "goodput_mbps"), NAN);
    r->verified = mpl_jv_bool(mpl_jv_get(&d, root, "verified"), 0);
    double cu = mpl_jv_num(mpl_jv_get(&d, root, "cpu_user_s"), NAN);
    double cs = mpl_jv_num(mpl_jv_get(&d, root, "cpu_sys_s"), NAN);
    r->cpu_client_s = cu + cs;
    const char *err = mpl_jv_str(&d, mpl_jv_get(&d, root, "error"), NULL);
    if (err != NULL)
        snprintf(r->error, sizeof(r->error), "%s", err);
    /* several objects: percentiles of their completion times */
    const mpl_jv_t *objs = mpl_jv_get(&d, root, "objects_s");
    if (mpl_jv_len(objs) > 0) {
        double ov[OBJECTS_MAX];
        int no = 0;
        for (const mpl_jv_t *x = mpl_jv_child(&d, objs); x && no < OBJECTS_MAX; x = mpl_jv_next(&d, x))
            if (!isnan(mpl_jv_num(x, NAN)))
                ov[no++] = mpl_jv_num(x, NAN);
        if (no == (int)mpl_jv_len(objs)) {
            r->objects_p50_s = mpl_percentile(ov, no, 50);
            r->objects_p99_s = mpl_percentile(ov, no, 99);
        }
    }
    if (e->sc->workload_requests)
        mpl_latency_read_run(&d, root, r, e->dir);
    const mpl_jv_t *mp = mpl_jv_get(&d, root, "mptcp");
    if (mp != NULL && mp->type == MPL_JV_BOOL)
        r->mptcp = (int)mp->num;
    r->subflows =
        (int)(mpl_jv_len(mpl_jv_get(&d, root, "subflows")) + mpl_jv_len(mpl_jv_get(&d, root, "connections")));
    /* bytes per MPTCP subflow / TCPLS connection */
    static const char *const kinds[] = {"subflows", "connections"};
    for (int k = 0; k < 2 && e->sf_csv != NULL; k++)
        for (const mpl_jv_t *c = mpl_jv_child(&d, mpl_jv_get(&d, root, kinds[k])); c;
             c = mpl_jv_next(&d, c)) {
            char local[80], remote[80];
            snprintf(local, sizeof(local), "%s", mpl_jv_str(&d, mpl_jv_get(&d, c, "local"), ""));
            snprintf(remote, sizeof(remote), "%s", mpl_jv_str(&d, mpl_jv_get(&d, c, "remote"), ""));
            for (char *p = local; *p; p++)
                if (*p == ',')
                    *p = ';';
            for (char *p = remote; *p; p++)
                if (*p == ',')
                    *p = ';';
            fprintf(e->sf_csv, "%s,%s,%.0f,%s,%s,%.0f,%.0f\n", r->id, k ? "connection" : "subflow",
                    mpl_jv_num(mpl_jv_get(&d, c, "id"), -1), local, remote,
                    mpl_jv_num(mpl_jv_get(&d, c, "bytes_sent"), 0),
                    mpl_jv_num(mpl_jv_get(&d, c, "bytes_received"), 0));
        }
    if (e->sf_csv != NULL)
        fflush(e->sf_csv);
    const mpl_jv_t *iv = mpl_jv_get(&d, root, "intervals");
    int n = (int)mpl_jv_len(iv);
    double *t = calloc((size_t)(n + 1), sizeof(double)), *m = calloc((size_t)(n + 1), sizeof(double));
    int k = 0;
    for (const mpl_jv_t *x = mpl_jv_child(&d, iv); x && t && m; x = mpl_jv_next(&d, x)) {
        t[k] = mpl_jv_num(mpl_jv_get(&d, x, "t"), NAN);
        m[k] = mpl_jv_num(mpl_jv_get(&d, x, "mbps"), NAN);
        if (isnan(t[k]) || isnan(m[k]))
            continue;
        fprintf(e->ts_csv, "%s,app,%s,app,%.3f,%.3f,\n", r->id, e->sc->client_host, t[k], m[k]);
        k++;
    }
    /* uploads: progress is counted when the client's transport accepts bytes, so a successful
     * upload ends with its send buffer draining (no new bytes accepted): not a stall */
    if (!strcmp(r->direction, "upload") && r->error[0] == '\0')
        while (k > 0 && m && m[k - 1] <= 0)
            k--;
    if (t && m && k > 0)
        mpl_failure_metrics(t, m, k, event_t, target, 0.5, &r->stall_s, &r->recover_s);
    free(t);
    free(m);
    mpl_jdoc_free(&d);
}

/* Appends the monitor's samples, shifted to the transfer's clock. */
static void
read_monitor(exp_t *e, const char *path, const char *id, double shift)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        char *tok[8], *save = NULL;
        int k = 0;
        for (char *s = strtok_r(line, ",\r\n", &save); s && k < 8; s = strtok_r(NULL, ",\r\n", &save))
            tok[k++] = s;
        double t;
        if (k < 7 || mpl_parse_double(tok[0], &t) != 0)
            continue; /* header or malformed */
        t -= shift;
        if (t < -0.5)
            continue;
        fprintf(e->ts_csv, "%s,iface,%s,%s,%.3f,%s,%s\n", id, tok[1], tok[2], t, tok[5], tok[6]);
    }
    fclose(f);
}

/* second_path_s (docs/EXPERIMENTS.md): from the monitor's byte counters of the client's links
 * other than the first (the first connection or subflow goes to the server's address on link
 * 1), the earliest time one of them carried data: rx for downloads, tx for uploads. */
static double
second_path_s(exp_t *e, const char *path, double shift, int upload)
{
    double *t[MAX_PATHS] = {0}, *b[MAX_PATHS] = {0}, best = NAN;
    int n[MAX_PATHS] = {0}, cap[MAX_PATHS] = {0};
    FILE *f = e->n_paths > 1 ? fopen(path, "r") : NULL;
    if (f == NULL)
        return NAN;
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL) {
        char *tok[8], *save = NULL;
        int k = 0, p = -1;
        for (char *s = strtok_r(line, ",\r\n", &save); s && k < 8; s = strtok_r(NULL, ",\r\n", &save))
            tok[k++] = s;
        double ts, v;
        if (k < 7 || mpl_parse_double(tok[0], &ts) != 0 || strcmp(tok[1], e->sc->client_host) != 0 ||
            mpl_parse_double(tok[upload ? 4 : 3], &v) != 0)
            continue; /* header, another host, malformed */
        for (int i = 1; i < e->n_paths; i++)
            if (!strcmp(tok[2], e->paths[i].link))
                p = i;
        if (p < 0)
            continue;
        if (n[p] == cap[p]) {
            int nc = cap[p] ? 2 * cap[p] : 256;
            double *nt = realloc(t[p], sizeof(double) * (size_t)nc);
            if (nt == NULL)
                break;
            t[p] = nt;
            double *nb = realloc(b[p], sizeof(double) * (size_t)nc);
            if (nb == NULL)
                break;
            b[p] = nb;
            cap[p] = nc;
        }
        t[p][n[p]] = ts - shift;
        b[p][n[p]++] = v;
    }
    fclose(f);
    for (int i = 1; i < e->n_paths; i++) {
        double s = n[i] > 0 ? mpl_first_data_s(t[i], b[i], n[i], MPL_SECOND_PATH_BYTES) : NAN;
        if (!isnan(s) && (isnan(best) || s < best))
            best = s;
        free(t[i]);
        free(b[i]);
    }
    return best;
}

/* The path (index in e->paths) of the scenario's migrate_to link, or -1 (no migration). */
static int
migrate_path(const exp_t *e)
{
    if (e->sc->migrate_at_ns == 0)
        return -1;
    for (int i = 0; i < e->n_paths; i++)
        if (!strcmp(e->paths[i].link, e->sc->migrate_to))
            return i;
    return -1;
}

/* Runs CMD (split on blanks) in host, as 'mplab exec', logging it to runs/ID.events.log with
 * its time after the start of the client (t_get; 0: before it, logged as "setup"). */
static void
exec_in(exp_t *e, const char *id, const char *host, const char *cmd, double t_get)
{
    argbuf_t a = {0};
    char tmp[256], lk[1200], *save = NULL;
    arg(&a, "%s", e->o->mplab);
    arg(&a, "exec");
    arg(&a, "--topo");
    arg(&a, "%s", e->topo_name);
    arg(&a, "%s", host);
    arg(&a, "--");
    snprintf(tmp, sizeof(tmp), "%s", cmd);
    for (char *w = strtok_r(tmp, " ", &save); w; w = strtok_r(NULL, " ", &save))
        arg(&a, "%s", w);
    snprintf(lk, sizeof(lk), "%s/runs/%s.events.log", e->dir, id);
    double t0 = mpl_now_s();
    int rc = run_cmd(a.argv, NULL, NULL);
    FILE *lf = fopen(lk, "a");
    if (lf) {
        if (t_get > 0)
            fprintf(lf, "%.3f %s: %s -> exit %d\n", t0 - t_get, host, cmd, rc);
        else
            fprintf(lf, "setup %s: %s -> exit %d\n", host, cmd, rc);
        fclose(lf);
    }
    if (rc != 0)
        mpl_warn("%s: '%s' in %s failed (exit %d)", id, cmd, host, rc);
}

/* Migration metrics of a run from its monitor samples (client interfaces, rx): how long until
 * the target path carries 90% of its capacity, and the bytes the other paths received after
 * the instant. */
static void
migration_metrics(exp_t *e, const mpl_sc_point_t *pt, const char *mon_csv, double shift, int to, mpl_run_t *r)
{
    FILE *f = fopen(mon_csv, "r");
    if (f == NULL)
        return;
    size_t cap = 1024, n = 0;
    double *t = malloc(cap * sizeof(double)), *old = malloc(cap * sizeof(double)),
           *nw = malloc(cap * sizeof(double));
    char line[512];
    /* one sample per interface and time: accumulate per time stamp */
    while (t && old && nw && fgets(line, sizeof(line), f) != NULL) {
        char *tok[8], *save = NULL;
        int k = 0;
        double ts, rx;
        for (char *s = strtok_r(line, ",\r\n", &save); s && k < 8; s = strtok_r(NULL, ",\r\n", &save))
            tok[k++] = s;
        if (k < 7 || mpl_parse_double(tok[0], &ts) != 0 || mpl_parse_double(tok[5], &rx) != 0 ||
            strcmp(tok[1], e->sc->client_host) != 0)
            continue;
        int which = -1;
        for (int i = 0; i < e->n_paths; i++)
            if (!strcmp(e->paths[i].client_iface, tok[2]))
                which = i;
        if (which < 0)
            continue;
        ts -= shift;
        if (n == 0 || fabs(t[n - 1] - ts) > 1e-6) {
            if (n == cap) {
                cap *= 2;
                double *a = realloc(t, cap * sizeof(double)), *b = realloc(old, cap * sizeof(double)),
                       *c = realloc(nw, cap * sizeof(double));
                t = a ? a : t;
                old = b ? b : old;
                nw = c ? c : nw;
                if (!a || !b || !c)
                    break;
            }
            t[n] = ts;
            old[n] = nw[n] = 0;
            n++;
        }
        if (which == to)
            nw[n - 1] += rx;
        else
            old[n - 1] += rx;
    }
    fclose(f);
    if (t && old && nw && n > 0)
        mpl_migration_metrics(t, old, nw, (int)n, (double)e->sc->migrate_at_ns / 1e9,
                              0.9 * path_mbps(e, pt, to), 0.25, &r->migrate_t90_s, &r->old_path_bytes);
    free(t);
    free(old);
    free(nw);
}

static void
print_progress(exp_t *e, const plan_item_t *it, const mpl_sc_point_t *pt, const mpl_run_t *r)
{
    char series[32], eta[32] = "";
    int left = e->todo - e->finished;
    if (e->finished > 0 && left > 0) {
        double s = e->run_time_sum / e->finished * left;
        snprintf(eta, sizeof(eta), ", ETA %dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    }
    mpl_run_t tmp = {.proto = it->proto, .path = it->path};
    mpl_run_series(&tmp, series, sizeof(series));
    if (r == NULL) {
        if (mpl_stderr_is_tty())
            fprintf(stderr, "\r\033[K[run %d/%d] %s  %s  rep %d ...%s",
                    e->finished + 1 + (e->total - e->todo), e->total, pt->label, series, it->rep, eta);
        return;
    }
    char res[200];
    if (!strcmp(r->status, "ok") && !isnan(r->p50_ms))
        snprintf(res, sizeof(res), "%.0f requests/s, p50 %.2f ms, p99 %.2f ms", r->req_per_s, r->p50_ms,
                 r->p99_ms);
    else if (!strcmp(r->status, "ok"))
        snprintf(res, sizeof(res), "%.1f Mbit/s in %.2f s", r->goodput_mbps, r->seconds);
    else if (!strcmp(r->status, "unavailable"))
        snprintf(res, sizeof(res), "unavailable");
    else
        snprintf(res, sizeof(res), "FAILED: %s", r->error);
    fprintf(stderr, "%s[run %d/%d] %s  %s  rep %d: %s%s\n", mpl_stderr_is_tty() ? "\r\033[K" : "",
            e->finished + (e->total - e->todo), e->total, pt->label, series, it->rep, res, eta);
}

/* Runs one transfer. Returns 0 (recorded), 1 (interrupted: not recorded), -1 (set-up broke). */
static int
run_one(exp_t *e, const plan_item_t *it, const mpl_sc_point_t *pt)
{
    const mpl_scenario_t *sc = e->sc;
    mpl_run_t r;
    memset(&r, 0, sizeof(r));
    snprintf(r.id, sizeof(r.id), "%s", it->id);
    r.rep = it->rep;
    r.proto = it->proto;
    r.path = it->path;
    fill_params(e, pt, &r);
    if (e->unavailable[it->proto]) {
        snprintf(r.status, sizeof(r.status), "unavailable");
        snprintf(r.error, sizeof(r.error), "%s is not available in this build", mpl_proto_name(it->proto));
        goto record;
    }
    if (it->proto == MPL_PROTO_TCP && it->path > e->n_paths) {
        snprintf(r.status, sizeof(r.status), "failed");
        snprintf(r.error, sizeof(r.error), "no path %d in the topology", it->path);
        goto record;
    }
    double t_start = mpl_now_s();
    const char *proto = mpl_proto_name(it->proto);
    int port = 20000 + (e->port++ % 20000);
    int tls = it->proto == MPL_PROTO_TLS || it->proto == MPL_PROTO_TCPLS || it->proto == MPL_PROTO_MPTLS;
    char srv_log[1200], srv_stats[1200], get_out[1200], get_log[1200], mon_csv[1200], mon_log[1200];
    snprintf(srv_log, sizeof(srv_log), "%s/runs/%s.server.log", e->dir, r.id);
    snprintf(srv_stats, sizeof(srv_stats), "%s/runs/%s.server.json", e->dir, r.id);
    snprintf(get_out, sizeof(get_out), "%s/runs/%s.get.json", e->dir, r.id);
    snprintf(get_log, sizeof(get_log), "%s/runs/%s.get.log", e->dir, r.id);
    snprintf(mon_csv, sizeof(mon_csv), "%s/runs/%s.monitor.csv", e->dir, r.id);
    snprintf(mon_log, sizeof(mon_log), "%s/runs/%s.monitor.log", e->dir, r.id);
    unlink(srv_stats);

    /* server: listens on every server address */
    argbuf_t sa = {0};
    arg(&sa, "%s", e->o->mplab);
    arg(&sa, "exec");
    arg(&sa, "--topo");
    arg(&sa, "%s", e->topo_name);
    arg(&sa, "%s", sc->server_host);
    arg(&sa, "--");
    arg(&sa, "%s", e->o->mplab);
    arg(&sa, "serve");
    arg(&sa, "--proto");
    arg(&sa, "%s", proto);
    int n_listen = 0;
    for (int i = 0; i < e->n_paths; i++) {
        int dup = 0;
        for (int j = 0; j < i; j++)
            if (!strcmp(e->paths[j].server, e->paths[i].server))
                dup = 1;
        if (dup)
            continue;
        arg(&sa, "--listen");
        arg(&sa, "%s:%d", e->paths[i].server, port);
        n_listen++;
    }
    arg(&sa, "--cc");
    arg(&sa, "%s", pt->cc);
    arg(&sa, "--stats");
    arg(&sa, "%s", srv_stats);
    pid_t srv = spawn(sa.argv, NULL, srv_log);
    int srv_rc;
    if (srv < 0 || wait_for_text(srv_log, "listening on", n_listen, srv, 10, &srv_rc) != 0) {
        if (g_stop) {
            stop_child(srv, SIGTERM, 3);
            return 1;
        }
        char l[256];
        if (srv_rc == -1)
            srv_rc = stop_child(srv, SIGKILL, 1);
        last_line(srv_log, l, sizeof(l));
        if (it->proto == MPL_PROTO_TCPLS &&
            (srv_rc == 2 || strstr(l, "not available") || strstr(l, "unknown"))) {
            snprintf(r.status, sizeof(r.status), "unavailable");
            snprintf(r.error, sizeof(r.error), "serve --proto tcpls: %s", last_line(srv_log, l, sizeof(l)));
            e->unavailable[it->proto] = 1;
        } else {
            snprintf(r.status, sizeof(r.status), "failed");
            snprintf(r.error, sizeof(r.error), "server did not start (exit %d): %s", srv_rc,
                     last_line(srv_log, l, sizeof(l)));
        }
        goto record;
    }

    /* monitor */
    argbuf_t ma = {0};
    arg(&ma, "%s", e->o->mplab);
    arg(&ma, "monitor");
    arg(&ma, "--topo");
    arg(&ma, "%s", e->topo_name);
    arg(&ma, "--hz");
    arg(&ma, "%d", sc->monitor_hz);
    arg(&ma, "--csv");
    arg(&ma, "%s", mon_csv);
    arg(&ma, "--quiet");
    unlink(mon_csv);
    uint64_t t_mon_ns = mpl_now_ns();
    double t_mon = (double)t_mon_ns / 1e9; /* the monitor's t = 0 (--t0-ns) */
    arg(&ma, "--t0-ns");
    arg(&ma, "%llu", (unsigned long long)t_mon_ns);
    pid_t mon = spawn(ma.argv, NULL, mon_log);
    int mon_rc;
    wait_for_text(mon_csv, "\n", 1, mon, 3, &mon_rc); /* header written: sampling has started */

    /* client */
    argbuf_t ga = {0};
    int p1 = it->proto == MPL_PROTO_TCP ? it->path - 1 : 0;
    arg(&ga, "%s", e->o->mplab);
    arg(&ga, "exec");
    arg(&ga, "--topo");
    arg(&ga, "%s", e->topo_name);
    arg(&ga, "%s", sc->client_host);
    arg(&ga, "--");
    arg(&ga, "%s", e->o->mplab);
    arg(&ga, "get");
    arg(&ga, "--proto");
    arg(&ga, "%s", proto);
    if (sc->workload_requests) { /* request latency (exp/latency.h) */
        arg(&ga, "%s://%s:%d/bytes/%llu", tls ? "https" : "http", e->paths[p1].server, port,
            (unsigned long long)pt->size);
        arg(&ga, "--requests");
        arg(&ga, "%llu", (unsigned long long)sc->requests);
        arg(&ga, "--concurrency");
        arg(&ga, "%u", sc->concurrency);
        if (sc->req_rate > 0) {
            arg(&ga, "--rate");
            arg(&ga, "%g", sc->req_rate);
        }
    } else if (!strcmp(pt->direction, "upload")) {
        arg(&ga, "%s://%s:%d/upload", tls ? "https" : "http", e->paths[p1].server, port);
        arg(&ga, "--upload");
        arg(&ga, "%llu", (unsigned long long)pt->size);
    } else if (pt->streams > 1) {
        /* several objects at once: size / streams each, the first one takes the remainder */
        uint64_t each = pt->size / (uint64_t)pt->streams;
        for (int k = 0; k < pt->streams; k++)
            arg(&ga, "%s://%s:%d/bytes/%llu", tls ? "https" : "http", e->paths[p1].server, port,
                (unsigned long long)(k == 0 ? pt->size - each * (uint64_t)(pt->streams - 1) : each));
        if (it->proto == MPL_PROTO_TCPLS) {
            arg(&ga, "--streams-policy");
            arg(&ga, "%s", pt->streams_policy);
        } else {
            arg(&ga, "%s", strcmp(pt->streams_mode, "pipeline") ? "--parallel" : "--pipeline");
        }
    } else {
        arg(&ga, "%s://%s:%d/bytes/%llu", tls ? "https" : "http", e->paths[p1].server, port,
            (unsigned long long)pt->size);
    }
    /* migration (tcpls: get moves the session; mptcp: MP_PRIO by the runner, below) */
    int mig_to = migrate_path(e);
    if (mig_to >= 0 && it->proto == MPL_PROTO_TCPLS) {
        arg(&ga, "--migrate-at");
        arg(&ga, "%g", (double)sc->migrate_at_ns / 1e9);
        arg(&ga, "--migrate-to");
        arg(&ga, "%s", e->paths[mig_to].client);
        arg(&ga, "--migrate-mode");
        arg(&ga, "%s", pt->migrate_mode);
    }
    if (mig_to >= 0 && it->proto == MPL_PROTO_MPTCP && !strcmp(sc->client_endpoints, "none")) {
        /* MP_PRIO needs an endpoint of the old paths' addresses: one without flags (inert) */
        for (int i = 0; i < e->n_paths; i++)
            if (i != mig_to) {
                char cmd[200];
                snprintf(cmd, sizeof(cmd), "ip mptcp endpoint add %s", e->paths[i].client);
                exec_in(e, r.id, sc->client_host, cmd, 0);
            }
        e->topo_dirty = 1;
    }
    if (mig_to >= 0 && it->proto == MPL_PROTO_MPTCP && !strcmp(pt->migrate_mode, "bbm")) {
        /* break before make: the server does not announce the target path before the instant */
        exec_in(e, r.id, sc->server_host, "ip mptcp endpoint flush", 0);
        e->topo_dirty = 1;
    }
    if (it->proto == MPL_PROTO_TCP) {
        arg(&ga, "--bind");
        arg(&ga, "%s", e->paths[p1].client);
    } else if (it->proto == MPL_PROTO_TCPLS) {
        /* a backup link (scenario 'backup') is a TCPLS backup connection too: --backup ADDR */
        for (int i = 0; i < e->n_paths; i++) {
            int b = !sc->topology_file[0] && i < pt->links && pt->backup[i];
            arg(&ga, b ? "--backup" : "--bind");
            arg(&ga, "%s", e->paths[i].client);
        }
    }
    if (tls) {
        arg(&ga, "--servername");
        arg(&ga, "mplab-server");
    }
    arg(&ga, "--json");
    if (!sc->workload_requests) {
        arg(&ga, "--interval");
        arg(&ga, "%g", sc->interval_s);
    }
    arg(&ga, "--cc");
    arg(&ga, "%s", pt->cc);
    arg(&ga, "--timeout");
    arg(&ga, "%.0f", (double)sc->timeout_ns / 1e9);
    double t_get = mpl_now_s();
    pid_t cli = spawn(ga.argv, get_out, get_log);

    /* events, relative to the start of the transfer; none for the single-path references */
    int n_ev = 0;
    double ev_at[MPL_SC_MAX_EVENTS + 1];
    char ev_link[MPL_SC_MAX_EVENTS + 1][16], ev_act[MPL_SC_MAX_EVENTS + 1][MPL_SC_VALUE_LEN];
    if (it->proto != MPL_PROTO_TCP) {
        for (int i = 0; i < sc->n_events; i++) {
            ev_at[n_ev] = (double)sc->events[i].at_ns / 1e9;
            snprintf(ev_link[n_ev], sizeof(ev_link[0]), "%s", sc->events[i].link);
            snprintf(ev_act[n_ev], sizeof(ev_act[0]), "%s", sc->events[i].action);
            n_ev++;
        }
        if (strcmp(pt->fail, "none") != 0) {
            ev_at[n_ev] = (double)sc->fail_at_ns / 1e9;
            snprintf(ev_link[n_ev], sizeof(ev_link[0]), "%s", sc->fail_link);
            snprintf(ev_act[n_ev], sizeof(ev_act[0]), "%s", pt->fail);
            n_ev++;
        }
    }
    int fired[MPL_SC_MAX_EVENTS + 1] = {0}, mig_fired = mig_to < 0 || it->proto != MPL_PROTO_MPTCP;
    /* a request workload moves requests x size, and at 'rate' it lasts requests / rate at least */
    uint64_t moved = sc->workload_requests ? pt->size * (sc->requests > 0 ? sc->requests : 1) : pt->size;
    double deadline = mpl_sc_deadline_s(sc, moved, e->slowest_bps, e->max_rtt_s, e->max_loss_pct);
    if (sc->workload_requests && sc->req_rate > 0 && sc->deadline_ns == 0)
        deadline += (double)sc->requests / sc->req_rate;
    double hard_end = t_get + deadline;
    int cli_rc = -1, interrupted = 0, killed = 0;
    while ((cli_rc = reap(cli, 1)) == -1) {
        if (g_stop) {
            interrupted = 1;
            cli_rc = stop_child(cli, SIGTERM, 2);
            break;
        }
        double now = mpl_now_s();
        if (now > hard_end) {
            killed = 1;
            cli_rc = stop_child(cli, SIGTERM, 2);
            break;
        }
        if (!mig_fired && now - t_get >= (double)sc->migrate_at_ns / 1e9) {
            /* mptcp: the seeds' MPTCP guide, mid-connection: the old paths' endpoints become
             * backups (MP_PRIO); bbm: the server announces the target only now */
            char cmd[200];
            mig_fired = 1;
            if (!strcmp(pt->migrate_mode, "bbm")) {
                snprintf(cmd, sizeof(cmd), "ip mptcp endpoint add %s signal", e->paths[mig_to].server);
                exec_in(e, r.id, sc->server_host, cmd, t_get);
            }
            for (int i = 0; i < e->n_paths; i++)
                if (i != mig_to) {
                    snprintf(cmd, sizeof(cmd), "ip mptcp endpoint change %s backup", e->paths[i].client);
                    exec_in(e, r.id, sc->client_host, cmd, t_get);
                }
            e->topo_dirty = 1;
        }
        for (int i = 0; i < n_ev; i++) {
            if (fired[i] || now - t_get < ev_at[i])
                continue;
            fired[i] = 1;
            argbuf_t la = {0};
            char lk[1200];
            arg(&la, "%s", e->o->mplab);
            arg(&la, "link");
            arg(&la, "--topo");
            arg(&la, "%s", e->topo_name);
            arg(&la, "set");
            arg(&la, "%s", ev_link[i]);
            char tmp[MPL_SC_VALUE_LEN], *save = NULL;
            snprintf(tmp, sizeof(tmp), "%s", ev_act[i]);
            for (char *w = strtok_r(tmp, " ", &save); w; w = strtok_r(NULL, " ", &save))
                arg(&la, "%s", w);
            snprintf(lk, sizeof(lk), "%s/runs/%s.events.log", e->dir, r.id);
            FILE *lf = fopen(lk, "a");
            int lrc = run_cmd(la.argv, NULL, NULL);
            if (lf) {
                fprintf(lf, "%.3f %s %s -> exit %d\n", mpl_now_s() - t_get, ev_link[i], ev_act[i], lrc);
                fclose(lf);
            }
            if (lrc != 0)
                mpl_warn("%s: 'link set %s %s' failed (exit %d)", r.id, ev_link[i], ev_act[i], lrc);
            e->topo_dirty = 1;
        }
        usleep(5000);
    }
    stop_child(mon, SIGINT, 3);
    int s_rc = stop_child(srv, SIGTERM, 5);
    if (interrupted || g_stop)
        return 1;

    double event_t = -1;
    for (int i = 0; i < n_ev; i++)
        if (event_t < 0 || ev_at[i] < event_t)
            event_t = ev_at[i];
    double target = strcmp(pt->fail, "none") && it->proto != MPL_PROTO_TCP ? 0.9 * surviving_mbps(e, pt) : 0;
    if (strcmp(pt->fail, "none") && it->proto != MPL_PROTO_TCP)
        event_t = (double)sc->fail_at_ns / 1e9;
    int migrating = mig_to >= 0 && mpl_proto_multipath(it->proto);
    if (migrating) { /* recover: until the application gets 90% of the target path */
        event_t = (double)sc->migrate_at_ns / 1e9;
        target = 0.9 * path_mbps(e, pt, mig_to);
    }
    read_get_json(e, get_out, &r, event_t, target);
    read_monitor(e, mon_csv, r.id, t_get - t_mon);
    if (migrating)
        migration_metrics(e, pt, mon_csv, t_get - t_mon, mig_to, &r);
    if (mpl_proto_multipath(it->proto))
        r.second_path_s = second_path_s(e, mon_csv, t_get - t_mon, !strcmp(pt->direction, "upload"));
    fflush(e->ts_csv);
    mpl_jdoc_t sd;
    char msg[256];
    if (mpl_jdoc_load(&sd, srv_stats, msg, sizeof(msg)) == 0) {
        const mpl_jv_t *root = mpl_jdoc_root(&sd);
        r.cpu_server_s = mpl_jv_num(mpl_jv_get(&sd, root, "cpu_user_s"), NAN) +
                         mpl_jv_num(mpl_jv_get(&sd, root, "cpu_sys_s"), NAN);
    }
    mpl_jdoc_free(&sd);
    (void)s_rc;
    char l[256];
    last_line(get_log, l, sizeof(l));
    if (it->proto == MPL_PROTO_TCPLS && cli_rc != 0 &&
        (cli_rc == 2 || strstr(l, "not available") || strstr(r.error, "not available"))) {
        snprintf(r.status, sizeof(r.status), "unavailable");
        snprintf(r.error, sizeof(r.error), "get --proto tcpls: %s", last_line(get_log, l, sizeof(l)));
        e->unavailable[it->proto] = 1;
    } else if (cli_rc == 0 && r.error[0] == '\0' &&
               (r.verified || (!strcmp(pt->direction, "upload") && r.bytes == (double)pt->size))) {
        /* uploads: the server answered 200 after reading every byte (get exits 0 only then) */
        snprintf(r.status, sizeof(r.status), "ok");
    } else {
        snprintf(r.status, sizeof(r.status), "failed");
        if (killed)
            snprintf(r.error, sizeof(r.error), "killed at the run's deadline, %.0f s", deadline);
        else if (r.error[0] == '\0' && cli_rc != 0)
            snprintf(r.error, sizeof(r.error), "get exit %d: %s", cli_rc, last_line(get_log, l, sizeof(l)));
        else if (r.error[0] == '\0')
            snprintf(r.error, sizeof(r.error), "content not verified");
    }
    if ((it->proto == MPL_PROTO_MPTCP || it->proto == MPL_PROTO_MPTLS) && r.mptcp == 0 &&
        !strcmp(r.status, "ok"))
        snprintf(r.error, sizeof(r.error), "MPTCP fell back to TCP");
    e->run_time_sum += mpl_now_s() - t_start;
record:
    e->finished++;
    if (!strcmp(r.status, "ok"))
        e->n_ok++;
    else if (!strcmp(r.status, "unavailable"))
        e->n_unavail++;
    else
        e->n_failed++;
    mpl_runs_csv_row(e->runs_csv, &r);
    fflush(e->runs_csv);
    mpl_runs_add(&e->done, &r);
    print_progress(e, it, pt, &r);
    return 0;
}

/* ---- plan, metadata ------------------------------------------------------------------ */

static unsigned long
xorshift(unsigned long *s)
{
    unsigned long x = *s ? *s : 88172645463325252ul;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void
shuffle(plan_item_t *v, int n, unsigned long *rng)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(xorshift(rng) % (unsigned long)(i + 1));
        plan_item_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* 1 when protocol p at pt would repeat a run of an earlier point: streams_policy only changes
 * tcpls, streams_mode only tcp/tls/mptcp (and both only with several objects), migrate_mode only
 * the multipath protocols of a migration scenario. */
static int
redundant(const mpl_scenario_t *sc, const mpl_sc_point_t *pt, mpl_proto_t p)
{
    int tcpls = p == MPL_PROTO_TCPLS;
    if ((pt->streams <= 1 || !tcpls) && pt->value_idx[MPL_SC_STREAMS_POLICY] > 0)
        return 1;
    if ((pt->streams <= 1 || tcpls) && pt->value_idx[MPL_SC_STREAMS_MODE] > 0)
        return 1;
    return (sc->migrate_at_ns == 0 || !mpl_proto_multipath(p)) && pt->value_idx[MPL_SC_MIGRATE_MODE] > 0;
}

/* The runs of the scenario: per point, per repetition, the protocols (tcp once per link) in
 * an order shuffled with the experiment's seed (the same plan on --resume), the single-path
 * references before the others. */
static int
make_plan(exp_t *e, plan_item_t **out)
{
    const mpl_scenario_t *sc = e->sc;
    int np = mpl_sc_npoints(sc), cap = 64, n = 0;
    plan_item_t *v = malloc(sizeof(*v) * (size_t)cap);
    unsigned long rng = e->seed;
    if (v == NULL)
        return -1;
    for (int p = 0; p < np; p++) {
        mpl_sc_point_t pt;
        char msg[256];
        if (mpl_sc_point(sc, p, &pt, msg, sizeof(msg)) != 0) {
            free(v);
            return -1;
        }
        int links = sc->topology_file[0] ? e->n_paths : pt.links;
        for (int rep = 1; rep <= e->repeat; rep++) {
            int first = n;
            for (int k = 0; k < sc->n_protos; k++) {
                int npath = sc->protos[k] == MPL_PROTO_TCP ? links : 1;
                if (redundant(sc, &pt, sc->protos[k]))
                    continue;
                for (int path = 1; path <= npath; path++) {
                    if (n == cap) {
                        cap *= 2;
                        plan_item_t *nv = realloc(v, sizeof(*v) * (size_t)cap);
                        if (nv == NULL) {
                            free(v);
                            return -1;
                        }
                        v = nv;
                    }
                    plan_item_t *it = &v[n++];
                    it->point = p;
                    it->rep = rep;
                    it->proto = sc->protos[k];
                    it->path = sc->protos[k] == MPL_PROTO_TCP ? path : 0;
                    if (it->path)
                        snprintf(it->id, sizeof(it->id), "p%02d-tcp-l%d-r%d", p + 1, path, rep);
                    else
                        snprintf(it->id, sizeof(it->id), "p%02d-%s-r%d", p + 1, mpl_proto_name(it->proto),
                                 rep);
                }
            }
            /* the tcp references first (the recovery metric of the multipath runs uses
             * them), then the others; each group shuffled */
            int refs = first;
            for (int i = first; i < n; i++)
                if (v[i].proto == MPL_PROTO_TCP) {
                    plan_item_t t = v[i];
                    v[i] = v[refs];
                    v[refs++] = t;
                }
            shuffle(v + first, refs - first, &rng);
            shuffle(v + refs, n - refs, &rng);
        }
    }
    *out = v;
    return n;
}

static void
read_sysctl(const char *name, char *buf, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "/proc/sys/%s", name);
    for (char *p = path + strlen("/proc/sys/"); *p; p++)
        if (*p == '.')
            *p = '/';
    char *s = read_file(path, 1000, NULL);
    if (s == NULL) {
        snprintf(buf, len, "unavailable");
        return;
    }
    s[strcspn(s, "\n")] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\t')
            *p = ' ';
    snprintf(buf, len, "%s", s);
    free(s);
}

static void
write_meta(exp_t *e, const char *started)
{
    const mpl_scenario_t *sc = e->sc;
    char path[1200], tmp[1200];
    snprintf(path, sizeof(path), "%s/meta.json", e->dir);
    snprintf(tmp, sizeof(tmp), "%s/meta.json.tmp", e->dir);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        mpl_warn("%s: %s", tmp, strerror(errno));
        return;
    }
    mpl_json_t j;
    mpl_json_init(&j, f);
    mpl_json_obj_begin(&j, NULL);
    mpl_json_obj_begin(&j, "scenario");
    mpl_json_str(&j, "name", sc->name);
    mpl_json_str(&j, "title", sc->title[0] ? sc->title : NULL);
    mpl_json_str(&j, "file", sc->path);
    mpl_json_str(&j, "client", sc->client_host);
    mpl_json_str(&j, "server", sc->server_host);
    mpl_json_str(&j, "topology_file", sc->topology_file[0] ? sc->topology_file : NULL);
    mpl_json_obj_end(&j);
    char now[64];
    mpl_iso8601_now(now, sizeof(now));
    mpl_json_str(&j, "date", started);
    mpl_json_str(&j, "updated", now);
    struct utsname u;
    if (uname(&u) == 0) {
        char k[400];
        snprintf(k, sizeof(k), "%s %s %s", u.sysname, u.release, u.machine);
        mpl_json_str(&j, "kernel", k);
        mpl_json_str(&j, "hostname", u.nodename);
    }
#ifdef MPLAB_VERSION
    mpl_json_str(&j, "mplab_version", MPLAB_VERSION);
#else
    mpl_json_str(&j, "mplab_version", "0.1.0");
#endif
    char backend[80];
    if (e->emulator[0] != '\0')
        snprintf(backend, sizeof(backend), "%s (configured: %s)", e->emulator, sc->backend);
    else
        snprintf(backend, sizeof(backend), "%s", sc->backend);
    mpl_json_str(&j, "backend", backend);
    mpl_json_str(&j, "openssl_version", OpenSSL_version(OPENSSL_VERSION));
    mpl_json_u64(&j, "seed", e->seed);
    mpl_json_u64(&j, "repeat", (uint64_t)e->repeat);
    mpl_json_i64(&j, "planned", e->total); /* runs of the whole plan: the report says when it is partial */
    mpl_json_obj_begin(&j, "sysctls");
    static const char *const sysctls[] = {"net.mptcp.enabled",
                                          "net.mptcp.scheduler",
                                          "net.mptcp.available_schedulers",
                                          "net.mptcp.path_manager",
                                          "net.mptcp.pm_type",
                                          "net.mptcp.checksum_enabled",
                                          "net.mptcp.stale_loss_cnt",
                                          "net.ipv4.tcp_congestion_control",
                                          "net.ipv4.tcp_available_congestion_control",
                                          "net.core.rmem_max",
                                          "net.core.wmem_max",
                                          "net.ipv4.tcp_rmem",
                                          "net.ipv4.tcp_wmem"};
    for (size_t i = 0; i < MPL_ARRAY_SIZE(sysctls); i++) {
        char v[256];
        read_sysctl(sysctls[i], v, sizeof(v));
        mpl_json_str(&j, sysctls[i], v);
    }
    mpl_json_obj_end(&j);
    for (int h = 0; h < 2; h++) {
        mpl_json_obj_begin(&j, h ? "sysctls_server" : "sysctls_client");
        char copy[4096];
        snprintf(copy, sizeof(copy), "%s", e->host_sysctls[h]);
        for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char *eq = strstr(l, " = ");
            if (eq == NULL)
                continue;
            *eq = '\0';
            mpl_json_str(&j, l, eq + 3);
        }
        mpl_json_obj_end(&j);
    }
    mpl_json_obj_begin(&j, "parameters");
    char protos[64] = "";
    for (int i = 0; i < sc->n_protos; i++) {
        strcat(protos, i ? " " : "");
        strcat(protos, mpl_proto_name(sc->protos[i]));
    }
    mpl_json_str(&j, "protocols", protos);
    for (int i = 0; i < MPL_SC_NPARAMS; i++) {
        char v[MPL_SC_MAX_VALUES * (MPL_SC_VALUE_LEN + 1)] = "";
        for (int k = 0; k < sc->params[i].n; k++) {
            strcat(v, k ? " " : "");
            strcat(v, sc->params[i].v[k]);
        }
        mpl_json_str(&j, mpl_sc_param_name((mpl_sc_param_t)i), v[0] ? v : "(default)");
    }
    mpl_json_u64(&j, "monitor_hz", (uint64_t)sc->monitor_hz);
    mpl_json_num(&j, "interval_s", sc->interval_s);
    mpl_json_num(&j, "timeout_s", (double)sc->timeout_ns / 1e9);
    mpl_json_num(&j, "deadline_s", sc->deadline_ns ? (double)sc->deadline_ns / 1e9 : NAN);
    mpl_json_str(&j, "client_endpoints", sc->client_endpoints);
    mpl_json_str(&j, "server_endpoints", sc->server_endpoints);
    mpl_json_str(&j, "workload", sc->workload_requests ? "requests" : "bulk");
    if (sc->workload_requests) {
        mpl_json_u64(&j, "requests", sc->requests);
        mpl_json_u64(&j, "concurrency", sc->concurrency);
        if (sc->req_rate > 0)
            mpl_json_num(&j, "request_rate", sc->req_rate);
    }
    mpl_json_obj_end(&j);
    mpl_json_arr_begin(&j, "swept");
    for (int i = 0; i < MPL_SC_NPARAMS; i++)
        if (mpl_sc_swept(sc, (mpl_sc_param_t)i))
            mpl_json_str(&j, NULL, mpl_sc_param_name((mpl_sc_param_t)i));
    mpl_json_arr_end(&j);
    mpl_json_arr_begin(&j, "events");
    for (int i = 0; i < sc->n_events; i++) {
        char what[128];
        snprintf(what, sizeof(what), "%s %s", sc->events[i].link, sc->events[i].action);
        mpl_json_obj_begin(&j, NULL);
        mpl_json_num(&j, "at_s", (double)sc->events[i].at_ns / 1e9);
        mpl_json_str(&j, "link", sc->events[i].link);
        mpl_json_str(&j, "action", sc->events[i].action);
        mpl_json_str(&j, "what", what);
        mpl_json_obj_end(&j);
    }
    if (sc->migrate_at_ns > 0) { /* marked on the time-series plots like the events */
        char what[64];
        snprintf(what, sizeof(what), "migrate to %s", sc->migrate_to);
        mpl_json_obj_begin(&j, NULL);
        mpl_json_num(&j, "at_s", (double)sc->migrate_at_ns / 1e9);
        mpl_json_str(&j, "link", sc->migrate_to);
        mpl_json_str(&j, "action", "migrate");
        mpl_json_str(&j, "what", what);
        mpl_json_obj_end(&j);
    }
    mpl_json_arr_end(&j);
    if (sc->migrate_at_ns > 0) {
        mpl_json_obj_begin(&j, "migration");
        mpl_json_num(&j, "at_s", (double)sc->migrate_at_ns / 1e9);
        mpl_json_str(&j, "to", sc->migrate_to);
        mpl_json_obj_end(&j);
    }
    mpl_json_obj_begin(&j, "failure");
    mpl_json_num(&j, "at_s", (double)sc->fail_at_ns / 1e9);
    mpl_json_str(&j, "link", sc->fail_link);
    mpl_json_obj_end(&j);
    mpl_json_arr_begin(&j, "points");
    for (int i = 0; i < mpl_sc_npoints(sc); i++) {
        mpl_sc_point_t pt;
        char msg[256], file[64];
        if (mpl_sc_point(sc, i, &pt, msg, sizeof(msg)) != 0)
            continue;
        mpl_json_obj_begin(&j, NULL);
        mpl_json_u64(&j, "point", (uint64_t)i + 1);
        mpl_json_str(&j, "label", pt.label);
        snprintf(file, sizeof(file), "topo/p%02d.ini", i + 1);
        mpl_json_str(&j, "topology", sc->topology_file[0] ? sc->topology_file : file);
        mpl_json_u64(&j, "links", (uint64_t)pt.links);
        mpl_json_arr_begin(&j, "rate_mbps");
        for (int l = 0; l < pt.links; l++)
            mpl_json_num(&j, NULL, (double)pt.rate_bps[l] / 1e6);
        mpl_json_arr_end(&j);
        mpl_json_arr_begin(&j, "delay_ms");
        for (int l = 0; l < pt.links; l++)
            mpl_json_num(&j, NULL, (double)pt.delay_ns[l] / 1e6);
        mpl_json_arr_end(&j);
        mpl_json_str(&j, "cc", pt.cc);
        mpl_json_u64(&j, "size", pt.size);
        mpl_json_str(&j, "direction", pt.direction);
        mpl_json_str(&j, "fail", pt.fail);
        mpl_json_obj_end(&j);
    }
    mpl_json_arr_end(&j);
    mpl_json_obj_end(&j);
    mpl_json_finish(&j);
    if (fclose(f) == 0)
        rename(tmp, path);
}

/* The seed and start date of an earlier run of DIR (for --resume). */
static void
read_old_meta(exp_t *e, char *started, size_t len)
{
    char path[1200], msg[256];
    mpl_jdoc_t d;
    snprintf(path, sizeof(path), "%s/meta.json", e->dir);
    if (mpl_jdoc_load(&d, path, msg, sizeof(msg)) == 0) {
        const mpl_jv_t *root = mpl_jdoc_root(&d);
        double s = mpl_jv_num(mpl_jv_get(&d, root, "seed"), -1);
        if (s >= 0)
            e->seed = (unsigned long)s;
        double rep = mpl_jv_num(mpl_jv_get(&d, root, "repeat"), 0);
        if (rep >= 1 && e->o->repeat == 0)
            e->repeat = (int)rep;
        snprintf(started, len, "%s", mpl_jv_str(&d, mpl_jv_get(&d, root, "date"), started));
    }
    mpl_jdoc_free(&d);
}

/* Number of [link] sections of the topology file with the client at one end. */
static int
count_client_links(const mpl_scenario_t *sc)
{
    FILE *f = fopen(sc->topology_file, "r");
    if (f == NULL)
        return 1;
    char line[512];
    int in_link = 0, n = 0, counted = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '[') {
            in_link = strncmp(s, "[link", 5) == 0;
            counted = 0;
            continue;
        }
        char k[32], v[64];
        if (!in_link || counted || sscanf(s, " %31[ab] = %63[a-z0-9_]", k, v) != 2)
            continue;
        if (strcmp(v, sc->client_host) == 0 && (k[0] == 'a' || k[0] == 'b') && k[1] == '\0') {
            n++;
            counted = 1;
        }
    }
    fclose(f);
    return n > 0 ? (n > MAX_PATHS ? MAX_PATHS : n) : 1;
}

/* The latest results/DATE-NAME directory (for --resume without --out). */
static int
latest_dir(const char *name, char *out, size_t len)
{
    DIR *d = opendir("results");
    if (d == NULL)
        return -1;
    char best[512] = "";
    struct dirent *de;
    size_t nl = strlen(name);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > nl + 1 && de->d_name[l - nl - 1] == '-' && !strcmp(de->d_name + l - nl, name) &&
            strcmp(de->d_name, best) > 0)
            snprintf(best, sizeof(best), "%s", de->d_name);
    }
    closedir(d);
    if (best[0] == '\0')
        return -1;
    snprintf(out, len, "results/%s", best);
    return 0;
}

static void
print_json_summary(exp_t *e, int status)
{
    mpl_runs_t all = {0};
    char path[1200], msg[256];
    snprintf(path, sizeof(path), "%s/runs.csv", e->dir);
    mpl_runs_csv_load(path, &all, msg, sizeof(msg));
    mpl_group_t *g = NULL;
    mpl_stats_ctx_t ctx = {.fail_at_s = (double)e->sc->fail_at_ns / 1e9,
                           .fail_path = mpl_stats_link_index(e->sc->fail_link)};
    int ng = mpl_stats_groups_ctx(&all, &ctx, &g);
    mpl_json_t j;
    mpl_json_init(&j, stdout);
    mpl_json_obj_begin(&j, NULL);
    mpl_json_str(&j, "scenario", e->sc->name);
    mpl_json_str(&j, "dir", e->dir);
    mpl_json_str(&j, "status", status == 0 ? "complete" : status == 130 ? "interrupted" : "failed");
    mpl_json_i64(&j, "runs", all.n);
    mpl_json_i64(&j, "planned", e->total);
    mpl_json_i64(&j, "ok", e->n_ok);
    mpl_json_i64(&j, "failed", e->n_failed);
    mpl_json_i64(&j, "unavailable", e->n_unavail);
    mpl_json_arr_begin(&j, "groups");
    for (int i = 0; i < ng; i++) {
        char series[32];
        mpl_run_t tmp = {.proto = g[i].proto, .path = g[i].path};
        mpl_json_obj_begin(&j, NULL);
        mpl_json_i64(&j, "point", g[i].point);
        mpl_json_str(&j, "label", g[i].label);
        mpl_json_str(&j, "series", mpl_run_series(&tmp, series, sizeof(series)));
        mpl_json_i64(&j, "n", g[i].n);
        mpl_json_i64(&j, "ok", g[i].n_ok);
        mpl_json_bool(&j, "unavailable", g[i].unavailable);
        mpl_json_num(&j, "goodput_median_mbps", g[i].median);
        mpl_json_num(&j, "goodput_min_mbps", g[i].min);
        mpl_json_num(&j, "goodput_max_mbps", g[i].max);
        mpl_json_num(&j, "expected_mbps", g[i].expected);
        mpl_json_str(&j, "expected_basis", mpl_expected_basis_name(g[i].basis));
        mpl_json_num(&j, "ratio", g[i].ratio);
        mpl_json_bool(&j, "flagged", g[i].flagged);
        mpl_json_num(&j, "stall_s", g[i].stall_median);
        mpl_json_num(&j, "recover_s", g[i].recover_median);
        mpl_json_num(&j, "second_path_s", g[i].second_path_median);
        mpl_json_obj_end(&j);
    }
    mpl_json_arr_end(&j);
    mpl_json_obj_end(&j);
    mpl_json_finish(&j);
    free(g);
    mpl_runs_free(&all);
}

int
mpl_runner_run(const mpl_scenario_t *sc, const mpl_runner_opts_t *o)
{
    exp_t e;
    memset(&e, 0, sizeof(e));
    e.sc = sc;
    e.o = o;
    e.cur_point = -1;
    e.repeat = o->repeat > 0 ? o->repeat : sc->repeat;
    e.seed = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
    e.port = (int)(getpid() % 1000) * 17;
    int status = 1;
    plan_item_t *plan = NULL;
    char started[64];
    mpl_iso8601_now(started, sizeof(started));

    if (o->out_dir != NULL) {
        snprintf(e.dir, sizeof(e.dir), "%s", o->out_dir);
    } else if (o->resume) {
        if (latest_dir(sc->name, e.dir, sizeof(e.dir)) != 0) {
            mpl_err("--resume: no earlier results/*-%s directory (give it with --out DIR)", sc->name);
            return 1;
        }
    } else {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
        snprintf(e.dir, sizeof(e.dir), "results/%s-%s", stamp, sc->name);
    }
    char path[1200], msg[256];
    snprintf(path, sizeof(path), "%s/runs.csv", e.dir);
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (exists && !o->resume && !o->dry_run) {
        mpl_err("%s already holds results: add --resume to continue it, or choose another --out", e.dir);
        return 1;
    }
    if (exists) {
        read_old_meta(&e, started, sizeof(started));
        if (mpl_runs_csv_load(path, &e.done, msg, sizeof(msg)) != 0) {
            mpl_err("%s", msg);
            return 1;
        }
    }
    /* topology-file scenarios: one tcp reference per link of the client */
    e.n_paths = sc->topology_file[0] ? count_client_links(sc) : MAX_PATHS;
    int n = make_plan(&e, &plan);
    if (n < 0) {
        mpl_err("out of memory");
        goto out;
    }
    e.total = n;
    for (int i = 0; i < n; i++)
        if (mpl_runs_find(&e.done, plan[i].id) == NULL)
            e.todo++;
    if (o->dry_run) {
        printf("scenario %s: %d points, %d runs (%d to do), results in %s\n", sc->name, mpl_sc_npoints(sc), n,
               e.todo, e.dir);
        for (int i = 0; i < n; i++) {
            mpl_sc_point_t pt;
            mpl_sc_point(sc, plan[i].point, &pt, msg, sizeof(msg));
            printf("  %-22s %s%s\n", plan[i].id, pt.label,
                   mpl_runs_find(&e.done, plan[i].id) ? "  (done)" : "");
        }
        status = 0;
        goto out;
    }
    if (mkdir_p(e.dir) != 0) {
        mpl_err("%s: %s", e.dir, strerror(errno));
        goto out;
    }
    static const char *const sub[] = {"runs", "topo", "logs", "plots"};
    for (size_t i = 0; i < MPL_ARRAY_SIZE(sub); i++) {
        snprintf(path, sizeof(path), "%s/%s", e.dir, sub[i]);
        mkdir(path, 0755);
    }
    write_meta(&e, started);
    snprintf(path, sizeof(path), "%s/runs.csv", e.dir);
    e.runs_csv = fopen(path, "a");
    snprintf(path, sizeof(path), "%s/timeseries.csv", e.dir);
    int ts_new = stat(path, &sb) != 0;
    e.ts_csv = fopen(path, "a");
    snprintf(path, sizeof(path), "%s/subflows.csv", e.dir);
    int sf_new = stat(path, &sb) != 0;
    e.sf_csv = fopen(path, "a");
    if (e.sf_csv != NULL && sf_new)
        fprintf(e.sf_csv, "run_id,kind,id,local,remote,bytes_sent,bytes_received\n");
    if (e.runs_csv == NULL || e.ts_csv == NULL || e.sf_csv == NULL) {
        mpl_err("%s: cannot write the result files", e.dir);
        goto out;
    }
    if (!exists)
        mpl_runs_csv_header(e.runs_csv);
    if (ts_new)
        fprintf(e.ts_csv, "run_id,source,host,iface,t,rx_mbps,tx_mbps\n");
    fprintf(stderr, "mplab run: scenario %s: %d points, %d runs%s, results in %s\n", sc->name,
            mpl_sc_npoints(sc), e.total, e.todo < e.total ? " (resuming)" : "", e.dir);

    /* TLS-based protocols need the project certificates: create them once, up front. */
    for (int i = 0; i < sc->n_protos; i++)
        if (sc->protos[i] == MPL_PROTO_TLS || sc->protos[i] == MPL_PROTO_TCPLS ||
            sc->protos[i] == MPL_PROTO_MPTLS) {
            char *cert[] = {(char *)o->mplab, "cert", NULL};
            snprintf(path, sizeof(path), "%s/logs/cert.log", e.dir);
            run_cmd(cert, path, path);
            break;
        }

    status = 0;
    for (int i = 0; i < n && !g_stop; i++) {
        plan_item_t *it = &plan[i];
        if (mpl_runs_find(&e.done, it->id) != NULL)
            continue;
        mpl_sc_point_t pt;
        mpl_sc_point(sc, it->point, &pt, msg, sizeof(msg));
        if (e.cur_point != it->point || !e.topo_up || e.topo_dirty) {
            topo_down(&e);
            if (topo_bring_up(&e, it->point) != 0) {
                topo_down(&e);
                status = g_stop ? 130 : 1;
                break;
            }
        }
        print_progress(&e, it, &pt, NULL);
        int rc = run_one(&e, it, &pt);
        if (rc == 1)
            break;
    }
    if (mpl_stderr_is_tty())
        fprintf(stderr, "\r\033[K");
    topo_down(&e);
    if (g_stop) {
        status = 130;
        mpl_warn("interrupted: %d finished runs kept in %s; continue with: mplab run %s --out %s --resume",
                 e.done.n, e.dir, sc->path, e.dir);
    }
    if (e.runs_csv)
        fclose(e.runs_csv);
    if (e.ts_csv)
        fclose(e.ts_csv);
    if (e.sf_csv)
        fclose(e.sf_csv);
    e.runs_csv = e.ts_csv = e.sf_csv = NULL;
    write_meta(&e, started);
    if (mpl_report_build(e.dir, !o->json, msg, sizeof(msg)) != 0)
        mpl_err("report: %s", msg);
    else
        fprintf(stderr, "mplab run: %d ok, %d failed, %d unavailable; report: %s/index.html\n", e.n_ok,
                e.n_failed, e.n_unavail, e.dir);
    if (o->json)
        print_json_summary(&e, status);
out:
    if (e.runs_csv)
        fclose(e.runs_csv);
    if (e.ts_csv)
        fclose(e.ts_csv);
    if (e.sf_csv)
        fclose(e.sf_csv);
    free(plan);
    mpl_runs_free(&e.done);
    return status;
}
