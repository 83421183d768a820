/*
 * get.c — 'mplab get': download URLs over tcp, tls, mptcp, mptls or tcpls
 * (src/xfer/get_tcpls.c), verify /bytes/N content, report goodput (human, --interval, --json).
 */
#include "xfer/cert.h"
#include "xfer/client.h"
#include "xfer/load.h"
#include "cmd/commands.h"
#include "common/json.h"
#include "xfer/tls.h"
#include "tcpls.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void
usage(FILE *f)
{
    fprintf(f, "Usage: mplab get [--proto tcp|tls|mptcp|mptls|tcpls] URL... [-o FILE] [--bind ADDR]...\n"
               "                 [--interval S] [--json] [--cacert F] [--insecure] [--servername NAME]\n"
               "                 [--cc ALGO] [--timeout S] [--upload N]\n"
               "       mplab get --requests N [--concurrency C] [--rate R] URL   (request latency)\n"
               "\n"
               "Downloads each URL in turn (one connection while host and port stay the same; tcpls:\n"
               "all at once, one stream each, in one session) and\n"
               "reports bytes, seconds and goodput. /bytes/N bodies are checked byte for byte.\n"
               "URL: [http[s]://]HOST[:PORT]/PATH, e.g. http://127.0.0.1:8080/bytes/100M\n"
               "\n"
               "Options:\n"
               "  -p, --proto P        tcp, tls, mptcp, mptls (TLS 1.3 over MPTCP), tcpls\n"
               "                       (default: tls for https://, else tcp)\n"
               "  -o, --output FILE    write the body (bodies) to FILE ('-' = stdout); default: discard\n"
               "  -b, --bind ADDR      local address to connect from (repeatable: the first of the\n"
               "                       destination's family is used; more are for multipath protocols)\n"
               "  -i, --interval S     print the throughput of every S seconds (iperf3 style)\n"
               "  -j, --json           one JSON object on stdout: proto, url, bytes, seconds,\n"
               "                       goodput_mbps, sha256, verified, intervals [{t,bytes,mbps}],\n"
               "                       cpu_user_s, cpu_sys_s, error; mptcp and mptls: mptcp,\n"
               "                       subflows, mptcp_info;\n"
               "                       tcpls: tcpls, cipher, connections\n"
               "      --cacert F       CA to verify the server with (default: the project CA)\n"
               "  -k, --insecure       do not verify the server certificate\n"
               "      --servername N   TLS SNI and verification name (default: the URL's host)\n"
               "      --cc ALGO        TCP congestion control (e.g. cubic, bbr)\n"
               "      --timeout S      connect timeout and longest silence (default 30s)\n"
               "      --upload N       POST N deterministic bytes to each URL (use .../upload)\n"
               "      --head           HEAD instead of GET\n"
               "      --parallel       several URLs (tcp, tls, mptcp): one connection each, all at once\n"
               "                       (default: one connection, one request after the other)\n"
               "      --pipeline       several URLs: one connection, every request sent up front\n"
               "      --no-verify      do not check /bytes/N content;  --no-hash: no SHA-256\n"
               "  -q, --quiet          no progress line, errors only\n"
               "tcpls multipath (one connection per path; README, docs/PROTOCOL.md):\n"
               "      --paths P        per-local (default: one connection per --bind address) or\n"
               "                       fullmesh (every --bind address with every server address)\n"
               "      --backup ADDR    like --bind, but its connections are backups (data only while\n"
               "                       no other connection works)\n"
               "      --sched NAME     scheduler of what the client sends: default, minrtt, rr\n"
               "      --join psk|full  joins as abbreviated handshakes bound to the session (psk,\n"
               "                       default: no certificate) or full TLS handshakes (comparison)\n"
               "      --migrate-at S   at S after the start move the session to the connection from\n"
               "                       --migrate-to ADDR (default: the second --bind), closing the others\n"
               "      --migrate-mode M mbb (default: make before break, the target path is joined from\n"
               "                       the start) or bbm (break before make: joined at the migration)\n"
               "      --streams-policy P  spread (default: any stream on any connection) or pin (each\n"
               "                       stream on one connection); the server applies it to its responses\n"
               "      --backup-at S:ADDR  at S after the start the connections from ADDR (a --bind)\n"
               "                       become backups (the server is told: Connection Priority frame)\n"
               "      --normal-at S:ADDR  ... become normal again (both may be repeated)\n"
               "      --blackhole-timeout S  give a connection up after S without acknowledgment\n"
               "                       progress (default: max(0.3 s, 4 x RTT))\n"
               "      --interval also prints each connection's rtt, cwnd, delivery rate and goodput;\n"
               "      --json adds connections[i].series [{t,rtt_ms,cwnd,delivery_mbps,goodput_mbps}]\n"
               "Request latency (wrk/wrk2 style; src/xfer/load.h):\n"
               "      --requests N     N GETs of URL (e.g. /bytes/10K), each response checked (status,\n"
               "                       length, /bytes/N content); prints requests/s and the latency\n"
               "                       percentiles p50 p90 p99 p99.9 max; --json: the same, errors and\n"
               "                       a log-bucket histogram (microseconds, 32 buckets per power of 2)\n"
               "      --concurrency C  C requests in flight (1 <= C <= N, default 1): tcp/tls/mptcp: C\n"
               "                       keep-alive connections; tcpls: C streams of one session, over\n"
               "                       its connections (--bind A --bind B)\n"
               "      --rate R         open loop: R requests/s at constant rate; latency counts from\n"
               "                       each request's scheduled send time (coordinated omission\n"
               "                       correction); default: closed loop (next request when one ends)\n"
               "Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.\n");
}

static double
tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void
print_json(const mpl_transport_t *tp, const char *proto, const char *const *urls, size_t n_urls,
           const mpl_client_result_t *res, const mpl_body_sink_t *sink, double secs, const char *sha,
           int upload, int hashed)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    mpl_json_t j;
    mpl_json_init(&j, stdout);
    mpl_json_obj_begin(&j, NULL);
    mpl_json_str(&j, "proto", proto);
    mpl_json_str(&j, "url", urls[0]);
    if (n_urls > 1) {
        mpl_json_arr_begin(&j, "urls");
        for (size_t i = 0; i < n_urls; i++)
            mpl_json_str(&j, NULL, urls[i]);
        mpl_json_arr_end(&j);
    }
    mpl_json_str(&j, "direction", upload ? "upload" : "download");
    mpl_json_u64(&j, "bytes", res->bytes);
    mpl_json_num(&j, "seconds", secs);
    mpl_json_num(&j, "goodput_mbps", secs > 0 ? (double)res->bytes * 8 / secs / 1e6 : 0);
    mpl_json_str(&j, "sha256", hashed && sha[0] ? sha : NULL);
    mpl_json_bool(&j, "verified", !upload && res->error[0] == '\0' && sink->verified_all && sink->total > 0);
    if (res->status > 0)
        mpl_json_i64(&j, "status", res->status);
    else
        mpl_json_null(&j, "status");
    mpl_json_str(&j, "local", res->local[0] ? res->local : NULL);
    mpl_json_str(&j, "remote", res->remote[0] ? res->remote : NULL);
    mpl_json_arr_begin(&j, "intervals");
    for (size_t i = 0; i < sink->n_intervals; i++) {
        mpl_json_obj_begin(&j, NULL);
        mpl_json_num(&j, "t", sink->intervals[i].t);
        mpl_json_u64(&j, "bytes", sink->intervals[i].bytes);
        mpl_json_num(&j, "mbps", sink->intervals[i].mbps);
        mpl_json_obj_end(&j);
    }
    mpl_json_arr_end(&j);
    if (n_urls > 1) { /* completion time of each URL (null: not complete) */
        mpl_json_arr_begin(&j, "objects_s");
        for (size_t i = 0; i < res->n_objects; i++)
            if (res->object_s[i] > 0)
                mpl_json_num(&j, NULL, res->object_s[i]);
            else
                mpl_json_null(&j, NULL);
        mpl_json_arr_end(&j);
    }
    if (res->connect_s > 0)
        mpl_json_num(&j, "connect_s", res->connect_s);
    else
        mpl_json_null(&j, "connect_s");
    mpl_json_num(&j, "cpu_user_s", tv_s(ru.ru_utime));
    mpl_json_num(&j, "cpu_sys_s", tv_s(ru.ru_stime));
    if (tp->ip_protocol == IPPROTO_MPTCP) { /* mptcp and mptls */
        if (res->mptcp.is_mptcp < 0)
            mpl_json_null(&j, "mptcp");
        else
            mpl_json_bool(&j, "mptcp", res->mptcp.is_mptcp);
        const mpl_mptcp_conn_info_t *ci = &res->mptcp.info;
        if (ci->have) {
            mpl_json_obj_begin(&j, "mptcp_info");
            mpl_json_u64(&j, "subflows", ci->subflows);
            if (ci->have_subflows_total)
                mpl_json_u64(&j, "subflows_total", ci->subflows_total);
            mpl_json_u64(&j, "add_addr_signal", ci->add_addr_signal);
            mpl_json_u64(&j, "add_addr_accepted", ci->add_addr_accepted);
            mpl_json_u64(&j, "local_addr_used", ci->local_addr_used);
            if (ci->have_bytes) {
                mpl_json_u64(&j, "bytes_sent", ci->bytes_sent);
                mpl_json_u64(&j, "bytes_received", ci->bytes_received);
                mpl_json_u64(&j, "bytes_retrans", ci->bytes_retrans);
            }
            mpl_json_obj_end(&j);
        }
        mpl_json_arr_begin(&j, "subflows");
        for (int i = 0; i < res->mptcp.n_subflows; i++) {
            const mpl_subflow_t *sf = &res->mptcp.subflows[i];
            mpl_json_obj_begin(&j, NULL);
            mpl_json_str(&j, "local", sf->local);
            mpl_json_str(&j, "remote", sf->remote);
            mpl_json_u64(&j, "bytes_sent", sf->bytes_sent);
            mpl_json_u64(&j, "bytes_received", sf->bytes_received);
            mpl_json_obj_end(&j);
        }
        mpl_json_arr_end(&j);
    }
    if (strcmp(proto, "tcpls") == 0) {
        mpl_json_bool(&j, "tcpls", res->tcpls);
        mpl_json_str(&j, "cipher", res->tcpls_cipher[0] ? res->tcpls_cipher : NULL);
        mpl_json_arr_begin(&j, "connections");
        for (int i = 0; i < res->n_tcpls_conns; i++) {
            const mpl_tcpls_conn_stat_t *c = &res->tcpls_conns[i];
            mpl_json_obj_begin(&j, NULL);
            mpl_json_u64(&j, "id", c->id);
            mpl_json_str(&j, "local", c->local);
            mpl_json_str(&j, "remote", c->remote);
            mpl_json_u64(&j, "bytes_sent", c->bytes_sent);
            mpl_json_u64(&j, "bytes_received", c->bytes_received);
            mpl_json_u64(&j, "records_sent", c->records_sent);
            mpl_json_u64(&j, "records_acked", c->records_acked);
            mpl_json_u64(&j, "stream_bytes_received", c->stream_bytes_received);
            mpl_json_bool(&j, "backup", c->backup);
            mpl_json_bool(&j, "psk_join", c->psk_join);
            mpl_json_str(&j, "state", c->state[0] ? c->state : NULL);
            mpl_json_arr_begin(&j, "series");
            for (size_t k = 0; k < c->n_series; k++) {
                mpl_json_obj_begin(&j, NULL);
                mpl_json_num(&j, "t", c->series[k].t);
                mpl_json_num(&j, "rtt_ms", c->series[k].rtt_ms);
                mpl_json_u64(&j, "cwnd", c->series[k].cwnd);
                mpl_json_num(&j, "delivery_mbps", c->series[k].delivery_mbps);
                mpl_json_num(&j, "goodput_mbps", c->series[k].goodput_mbps);
                mpl_json_obj_end(&j);
            }
            mpl_json_arr_end(&j);
            mpl_json_obj_end(&j);
        }
        mpl_json_arr_end(&j);
    }
    mpl_json_str(&j, "error", res->error[0] ? res->error : NULL);
    mpl_json_obj_end(&j);
    mpl_json_finish(&j);
    fflush(stdout);
}

/* --requests, --concurrency, --rate. Returns 0, or 2 (usage error printed). */
static int
load_option(int opt, const char *arg, mpl_load_cfg_t *l)
{
    uint64_t v;
    double d;
    if (opt == 0x122) {
        if (mpl_parse_double(arg, &d) != 0 || !(d > 0) || d > 1e7)
            return mpl_usage_error("bad --rate '%s' (requests per second, > 0)", arg);
        l->rate = d;
        return 0;
    }
    if (mpl_parse_u64(arg, &v) != 0 || v == 0)
        return mpl_usage_error("bad --%s '%s' (a whole number, at least 1)",
                               opt == 0x120 ? "requests" : "concurrency", arg);
    if (opt == 0x120) {
        l->requests = v;
    } else {
        if (v > 10000)
            return mpl_usage_error("bad --concurrency '%s' (at most 10000)", arg);
        l->concurrency = (uint32_t)v;
    }
    return 0;
}

/* The --requests load (src/xfer/load.h). Returns the exit status. */
static int
run_load(mpl_client_cfg_t *cfg, const mpl_load_cfg_t *lcfg, const char *proto, int json, int quiet,
         FILE *hout)
{
    mpl_load_result_t *lres = calloc(1, sizeof(*lres));
    char err[512] = "";
    if (lres == NULL) {
        mpl_err("out of memory");
        return 1;
    }
    int rc;
    /* per-request objects (response parsers, TCPLS stream buffers) stay in the heap: glibc
     * would otherwise give them back and fault them in again on every request (as in serve) */
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    if (cfg->tp->proto == MPL_PROTO_TCPLS) {
        mpl_client_result_t res;
        mpl_body_sink_t lsink; /* /bytes/N checks of every stream (no digest, no output) */
        mpl_sink_cfg_t scfg = {.out_fd = -1, .verify = 1, .interval_s = 1};
        mpl_sink_init(&lsink, &scfg);
        cfg->load = lcfg;
        cfg->load_res = lres;
        cfg->sink = &lsink;
        rc = mpl_tcpls_get(cfg, &res);
        mpl_sink_cleanup(&lsink);
        if (rc != 0)
            snprintf(err, sizeof(err), "%s", res.error);
        for (int i = 0; i < res.n_tcpls_conns && i < (int)MPL_ARRAY_SIZE(lres->conns); i++) {
            const mpl_tcpls_conn_stat_t *c = &res.tcpls_conns[i];
            lres->conns[i].id = c->id;
            snprintf(lres->conns[i].local, sizeof(lres->conns[i].local), "%s", c->local);
            snprintf(lres->conns[i].remote, sizeof(lres->conns[i].remote), "%s", c->remote);
            lres->conns[i].bytes_sent = c->bytes_sent;
            lres->conns[i].bytes_received = c->bytes_received;
            lres->n_conns = i + 1;
        }
        mpl_client_result_free(&res);
    } else {
        rc = mpl_load_run(cfg, lcfg, lres, err, sizeof(err));
    }
    if (rc != 0)
        mpl_err("%s", err[0] ? err : "failed");
    if (json) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        mpl_load_print_json(stdout, proto, cfg->urls[0], lcfg, lres, tv_s(ru.ru_utime), tv_s(ru.ru_stime),
                            rc != 0 ? (err[0] ? err : "failed") : NULL);
        fflush(stdout);
    } else if (!quiet && lres->completed > 0) {
        mpl_load_print_text(hout, proto, cfg->urls[0], lcfg, lres);
    }
    free(lres);
    return rc == 0 ? 0 : 1;
}

int
cmd_get(int argc, char **argv)
{
    static const struct option opts[] = {
        {"proto", required_argument, NULL, 'p'},
        {"output", required_argument, NULL, 'o'},
        {"bind", required_argument, NULL, 'b'},
        {"interval", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"cacert", required_argument, NULL, 'A'},
        {"insecure", no_argument, NULL, 'k'},
        {"servername", required_argument, NULL, 'N'},
        {"cc", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 'T'},
        {"upload", required_argument, NULL, 'U'},
        {"head", no_argument, NULL, 'H'},
        {"no-verify", no_argument, NULL, 'V'},
        {"no-hash", no_argument, NULL, 'X'},
        {"quiet", no_argument, NULL, 'q'},
        {"paths", required_argument, NULL, 'P'},
        {"backup", required_argument, NULL, 'B'},
        {"sched", required_argument, NULL, 'D'},
        {"join", required_argument, NULL, 0x103},
        {"migrate-at", required_argument, NULL, 'M'},
        {"migrate-to", required_argument, NULL, 'm'},
        {"blackhole-timeout", required_argument, NULL, 'O'},
        {"migrate-mode", required_argument, NULL, 0x110},
        {"streams-policy", required_argument, NULL, 0x111},
        {"parallel", no_argument, NULL, 0x112},
        {"pipeline", no_argument, NULL, 0x113},
        {"backup-at", required_argument, NULL, 0x101},
        {"normal-at", required_argument, NULL, 0x102},
        {"requests", required_argument, NULL, 0x120},
        {"concurrency", required_argument, NULL, 0x121},
        {"rate", required_argument, NULL, 0x122},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    mpl_load_cfg_t lcfg = {0};
    int have_conc = 0, have_rate = 0;
    mpl_client_cfg_t cfg;
    mpl_client_result_t res;
    mpl_sink_cfg_t scfg;
    mpl_body_sink_t sink;
    const char *proto = NULL, *out_path = NULL, *cacert = NULL;
    int json = 0, insecure = 0, quiet = 0, opt;
    double interval = 0;
    char err[512];
    const char *migrate_to = NULL;
    const char *prio_arg[MPL_CLIENT_MAX_PRIO];

    memset(&cfg, 0, sizeof(cfg));
    memset(&res, 0, sizeof(res));
    memset(&scfg, 0, sizeof(scfg));
    cfg.timeout_s = 30;
    cfg.tcpls_stream_policy = -1;
    scfg.hash = 1;
    scfg.verify = 1;
    int status;
    optind = 1;
    while ((opt = mpl_getopt(argc, argv, "p:o:b:i:jkqh", opts, usage, &status)) >= 0) {
        uint64_t v;
        switch (opt) {
        case 'p':
            proto = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'b':
        case 'B':
            if (cfg.n_bind == MPL_CLIENT_MAX_BIND)
                return mpl_usage_error("at most %d --bind addresses", MPL_CLIENT_MAX_BIND);
            if (mpl_parse_addr(optarg, 0, &cfg.bind[cfg.n_bind], &cfg.bind_len[cfg.n_bind], err,
                               sizeof(err)) != 0)
                return mpl_usage_error("bad --%s: %s", opt == 'B' ? "backup" : "bind", err);
            cfg.bind_backup[cfg.n_bind] = opt == 'B';
            cfg.n_bind++;
            break;
        case 'P':
            if (strcmp(optarg, "per-local") != 0 && strcmp(optarg, "fullmesh") != 0)
                return mpl_usage_error("bad --paths '%s' (per-local or fullmesh)", optarg);
            cfg.tcpls_paths = optarg;
            break;
        case 'D':
            if (!tcpls_scheduler_valid(optarg))
                return mpl_usage_error("bad --sched '%s' (default, minrtt, rr)", optarg);
            cfg.tcpls_sched = optarg;
            break;
        case 0x103:
            if (strcmp(optarg, "psk") != 0 && strcmp(optarg, "full") != 0)
                return mpl_usage_error("bad --join '%s' (psk or full)", optarg);
            cfg.tcpls_join_full = strcmp(optarg, "full") == 0;
            break;
        case 'M':
            if (mpl_opt_seconds("migrate-at", optarg, &cfg.migrate_at_s) != 0)
                return 2;
            break;
        case 'm':
            migrate_to = optarg;
            break;
        case 0x110:
            if (strcmp(optarg, "mbb") != 0 && strcmp(optarg, "bbm") != 0)
                return mpl_usage_error("bad --migrate-mode '%s' (mbb or bbm)", optarg);
            cfg.migrate_bbm = strcmp(optarg, "bbm") == 0;
            break;
        case 0x112:
        case 0x113:
            cfg.multi = opt == 0x112 ? MPL_MULTI_PARALLEL : MPL_MULTI_PIPELINE;
            break;
        case 0x111:
            if ((cfg.tcpls_stream_policy = tcpls_stream_policy_from_name(optarg)) < 0)
                return mpl_usage_error("bad --streams-policy '%s' (spread or pin)", optarg);
            break;
        case 0x101:
        case 0x102:
            if (cfg.n_prio == MPL_CLIENT_MAX_PRIO)
                return mpl_usage_error("at most %d --backup-at/--normal-at", MPL_CLIENT_MAX_PRIO);
            prio_arg[cfg.n_prio] = optarg;
            cfg.prio_backup[cfg.n_prio++] = opt == 0x101;
            break;
        case 'O':
            if (mpl_opt_seconds("blackhole-timeout", optarg, &cfg.blackhole_s) != 0)
                return 2;
            break;
        case 'i':
            if (mpl_parse_duration(optarg, &v) != 0 || v < 1000000)
                return mpl_usage_error("bad --interval '%s' (seconds, at least 1ms)", optarg);
            interval = (double)v / 1e9;
            break;
        case 'j':
            json = 1;
            break;
        case 'A':
            cacert = optarg;
            break;
        case 'k':
            insecure = 1;
            break;
        case 'N':
            cfg.servername = optarg;
            break;
        case 'c':
            cfg.cc = optarg;
            break;
        case 'T':
            if (mpl_opt_seconds("timeout", optarg, &cfg.timeout_s) != 0)
                return 2;
            break;
        case 'U':
            if (mpl_parse_size(optarg, &v) != 0 || v == 0)
                return mpl_usage_error("bad --upload size '%s'", optarg);
            cfg.upload = v;
            break;
        case 'H':
            cfg.head = 1;
            break;
        case 'V':
            scfg.verify = 0;
            break;
        case 'X':
            scfg.hash = 0;
            break;
        case 'q':
            quiet = 1;
            break;
        case 0x120:
        case 0x121:
        case 0x122:
            if (load_option(opt, optarg, &lcfg) != 0)
                return 2;
            have_conc |= opt == 0x121;
            have_rate |= opt == 0x122;
            break;
        }
    }
    if (opt == MPL_OPT_EXIT)
        return status;
    if (optind >= argc)
        return mpl_usage_error("no URL given");
    if (lcfg.requests == 0 && (have_conc || have_rate))
        return mpl_usage_error("--concurrency and --rate need --requests N");
    if (lcfg.requests > 0) {
        if (lcfg.concurrency == 0)
            lcfg.concurrency = 1;
        if (lcfg.concurrency > lcfg.requests)
            return mpl_usage_error("--concurrency %u is more than --requests %llu", lcfg.concurrency,
                                   (unsigned long long)lcfg.requests);
        if (argc - optind != 1 || cfg.upload > 0 || cfg.head || out_path != NULL || interval > 0)
            return mpl_usage_error("--requests takes one URL and no --upload, --head, -o or --interval");
    }
    const char *const *urls = (const char *const *)argv + optind;
    size_t n_urls = (size_t)(argc - optind);
    int any_https = 0;
    for (size_t i = 0; i < n_urls; i++) {
        mpl_url_t u;
        if (mpl_url_parse(urls[i], &u, err, sizeof(err)) != 0)
            return mpl_usage_error("%s", err);
        any_https |= u.https;
    }
    if (proto == NULL)
        proto = any_https ? "tls" : "tcp";
    cfg.tp = mpl_transport_find(proto);
    if (cfg.tp == NULL)
        return mpl_usage_error("unknown protocol '%s' (expected %s)", proto, mpl_transport_names());
    if (any_https && !cfg.tp->tls)
        return mpl_usage_error("https:// URLs need --proto tls, mptls or tcpls");
    if (cfg.multi != MPL_MULTI_SEQUENTIAL && (cfg.tp->proto == MPL_PROTO_TCPLS || cfg.upload > 0))
        return mpl_usage_error("--parallel and --pipeline are for downloads over tcp, tls or mptcp (tcpls "
                               "fetches several URLs at once, one stream each)");
    cfg.urls = urls;
    cfg.n_urls = n_urls;

    FILE *hout = (json || (out_path != NULL && strcmp(out_path, "-") == 0)) ? stderr : stdout;
    int out_fd = -1;
    if (out_path != NULL) {
        out_fd = strcmp(out_path, "-") == 0 ? STDOUT_FILENO
                                            : open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out_fd < 0) {
            mpl_err("cannot open %s: %s", out_path, strerror(errno));
            return 1;
        }
    }
    if (quiet)
        mpl_set_verbosity(0);
    scfg.out_fd = out_fd;
    scfg.interval_s = interval > 0 ? interval : 1.0;
    scfg.interval_out = interval > 0 ? hout : NULL;
    cfg.interval_s = scfg.interval_s;
    cfg.interval_out = scfg.interval_out;
    cfg.migrate_to = -1;
    if (migrate_to != NULL) {
        struct sockaddr_storage ma;
        socklen_t ml;
        if (mpl_parse_addr(migrate_to, 0, &ma, &ml, err, sizeof(err)) != 0)
            return mpl_usage_error("bad --migrate-to: %s", err);
        for (size_t i = 0; i < cfg.n_bind; i++)
            if (cfg.bind_len[i] == ml && memcmp(&cfg.bind[i], &ma, ml) == 0)
                cfg.migrate_to = (int)i;
        if (cfg.migrate_to < 0)
            return mpl_usage_error("--migrate-to %s is not one of the --bind addresses", migrate_to);
    }
    for (size_t k = 0; k < cfg.n_prio; k++) {
        /* S:ADDR — the time ends at the first ':' (an IPv6 address has more) */
        char tbuf[32];
        const char *a = prio_arg[k], *colon = strchr(a, ':');
        struct sockaddr_storage pa;
        socklen_t pl;
        const char *what = cfg.prio_backup[k] ? "--backup-at" : "--normal-at";
        if (colon == NULL || (size_t)(colon - a) >= sizeof(tbuf))
            return mpl_usage_error("bad %s '%s' (S:ADDR, e.g. 5s:10.0.1.1)", what, a);
        memcpy(tbuf, a, (size_t)(colon - a));
        tbuf[colon - a] = '\0';
        uint64_t v;
        if (mpl_parse_duration(tbuf, &v) != 0 || v == 0)
            return mpl_usage_error("bad %s time '%s'", what, tbuf);
        cfg.prio_at_s[k] = (double)v / 1e9;
        if (mpl_parse_addr(colon + 1, 0, &pa, &pl, err, sizeof(err)) != 0)
            return mpl_usage_error("bad %s address: %s", what, err);
        cfg.prio_bind[k] = -1;
        for (size_t i = 0; i < cfg.n_bind; i++)
            if (cfg.bind_len[i] == pl && memcmp(&cfg.bind[i], &pa, pl) == 0)
                cfg.prio_bind[k] = (int)i;
        if (cfg.prio_bind[k] < 0)
            return mpl_usage_error("%s: %s is not one of the --bind/--backup addresses", what, colon + 1);
    }
    scfg.progress = !quiet && mpl_stderr_is_tty();
    if (mpl_sink_init(&sink, &scfg) != 0) {
        mpl_err("cannot set up SHA-256");
        return 1;
    }
    cfg.sink = &sink;

    char dir[1024], cabuf[1100];
    if (cfg.tp->tls && !insecure) {
        if (cacert == NULL) {
            mpl_cert_dir(dir, sizeof(dir));
            if (mpl_cert_ensure(dir, err, sizeof(err)) != 0) {
                mpl_err("%s", err);
                mpl_sink_cleanup(&sink);
                return 1;
            }
            cacert = mpl_cert_path(dir, "ca.pem", cabuf, sizeof(cabuf));
        }
    }
    if (cfg.tp->tls) {
        cfg.ssl_ctx = mpl_tls_client_ctx(cacert, insecure, err, sizeof(err));
        if (cfg.ssl_ctx == NULL) {
            mpl_err("%s", err);
            mpl_sink_cleanup(&sink);
            return 1;
        }
    }

    if (lcfg.requests > 0) {
        int lrc = run_load(&cfg, &lcfg, proto, json, quiet, hout);
        SSL_CTX_free(cfg.ssl_ctx);
        mpl_sink_cleanup(&sink);
        return lrc;
    }
    int rc = cfg.tp->proto == MPL_PROTO_TCPLS    ? mpl_tcpls_get(&cfg, &res)
             : cfg.multi != MPL_MULTI_SEQUENTIAL ? mpl_client_run_multi(&cfg, &res)
                                                 : mpl_client_run(&cfg, &res);
    if (cfg.tp->proto == MPL_PROTO_TCPLS && res.bytes == 0)
        res.bytes = sink.total;
    char sha[65];
    double secs = mpl_sink_finish(&sink, sha);
    if (rc != 0 && res.error[0] == '\0')
        snprintf(res.error, sizeof(res.error), "failed");
    if (rc != 0)
        mpl_err("%s", res.error);
    if (json) {
        print_json(cfg.tp, proto, urls, n_urls, &res, &sink, secs, sha, cfg.upload > 0, scfg.hash);
    } else if (rc == 0 && !quiet) {
        char b[32], r[32];
        fprintf(hout, "%s %s in %.3f s: %s%s%s\n", cfg.upload > 0 ? "sent" : "received",
                mpl_fmt_bytes(b, sizeof(b), (double)res.bytes), secs,
                mpl_fmt_rate(r, sizeof(r), secs > 0 ? (double)res.bytes * 8 / secs : 0),
                sink.verified_all && sink.total > 0 && cfg.upload == 0 ? ", content verified" : "",
                scfg.hash ? "" : "");
        fprintf(hout, "goodput %.2f Mbit/s, %llu bytes, %.3f s\n",
                secs > 0 ? (double)res.bytes * 8 / secs / 1e6 : 0, (unsigned long long)res.bytes, secs);
        if (scfg.hash && sha[0])
            fprintf(hout, "sha256 %s\n", sha);
        if (cfg.tp->proto == MPL_PROTO_TCPLS) {
            fprintf(hout, "tcpls: %s%s%s\n", res.tcpls ? "yes" : "no (plain TLS)",
                    res.tcpls_cipher[0] ? ", " : "", res.tcpls_cipher);
            for (int i = 0; i < res.n_tcpls_conns; i++)
                fprintf(
                    hout,
                    "  connection %u %s -> %s: sent %llu, received %llu bytes, %llu records (%llu acked)\n",
                    res.tcpls_conns[i].id, res.tcpls_conns[i].local, res.tcpls_conns[i].remote,
                    (unsigned long long)res.tcpls_conns[i].bytes_sent,
                    (unsigned long long)res.tcpls_conns[i].bytes_received,
                    (unsigned long long)res.tcpls_conns[i].records_sent,
                    (unsigned long long)res.tcpls_conns[i].records_acked);
        }
        if (cfg.tp->ip_protocol == IPPROTO_MPTCP) {
            if (res.mptcp.is_mptcp == 1)
                fprintf(hout, "mptcp: yes, %d subflow%s\n", res.mptcp.n_subflows,
                        res.mptcp.n_subflows == 1 ? "" : "s");
            else if (res.mptcp.is_mptcp == 0)
                fprintf(hout, "mptcp: no (fell back to TCP)\n");
            for (int i = 0; i < res.mptcp.n_subflows; i++)
                fprintf(hout, "  subflow %s -> %s: sent %llu, received %llu bytes\n",
                        res.mptcp.subflows[i].local, res.mptcp.subflows[i].remote,
                        (unsigned long long)res.mptcp.subflows[i].bytes_sent,
                        (unsigned long long)res.mptcp.subflows[i].bytes_received);
        }
    }
    if (out_fd >= 0 && out_fd != STDOUT_FILENO && close(out_fd) != 0 && rc == 0) {
        mpl_err("writing %s failed", out_path);
        rc = -1;
    }
    SSL_CTX_free(cfg.ssl_ctx);
    mpl_client_result_free(&res);
    mpl_sink_cleanup(&sink);
    return rc == 0 ? 0 : 1;
}
