/*
 * serve.c — 'mplab serve': a small HTTP/1.1 server (files under --root, /bytes/N,
 * POST /upload) over tcp, tls, mptcp, mptls (TLS over MPTCP), or tcpls (src/xfer/serve_tcpls.c).
 */
#include "xfer/cert.h"
#include "cmd/commands.h"
#include "common/json.h"
#include "xfer/server.h"
#include "tcpls.h"
#include "xfer/tls.h"
#include "common/util.h"

#include <getopt.h>
#include <signal.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void
usage(FILE *f)
{
    fprintf(
        f,
        "Usage: mplab serve [--proto tcp|tls|mptcp|mptls|tcpls] [--listen ADDR:PORT]... [--root DIR]\n"
        "                   [--cert FILE --key FILE] [--cc ALGO] [--stats FILE] [--quiet]\n"
        "\n"
        "Serves HTTP/1.1 (GET, HEAD, keep-alive) until SIGINT/SIGTERM:\n"
        "  GET /bytes/N     N deterministic pseudo-random bytes (N: 1000, 10M, 1G, 10GB...)\n"
        "  GET /PATH        the file PATH under --root (never outside it)\n"
        "  POST /upload     the body is counted and discarded; answers {\"bytes\":N,\"verified\":B}\n"
        "                   (B: the body is /bytes/N content; one sent with X-Mplab-Body: bytes,\n"
        "                   as by 'mplab get --upload', is refused with 422 when it is not)\n"
        "\n"
        "Options:\n"
        "  -p, --proto P       tcp (default), tls (TLS 1.3), mptcp (IPPROTO_MPTCP), mptls\n"
        "                      (TLS 1.3 over IPPROTO_MPTCP), tcpls\n"
        "  -l, --listen A:P    address to listen on, repeatable; IPv4 or [IPv6]:port\n"
        "                      (default 127.0.0.1:8080, or 127.0.0.1:8443 for tls/mptls/tcpls)\n"
        "  -r, --root DIR      directory to serve files from (default: none, /bytes/N only)\n"
        "      --cert F --key F  certificate chain and key (PEM); default: the project's\n"
        "                      certificates (see 'mplab cert'), created on first use\n"
        "      --cc ALGO       TCP congestion control of every connection (e.g. cubic, bbr)\n"
        "      --stats FILE    on exit write {cpu_user_s,cpu_sys_s,bytes_sent,bytes_received,\n"
        "                      connections,errors,requests,reinjected_bytes} as JSON to FILE\n"
        "      --idle-timeout S  close connections idle for S seconds (default 120)\n"
        "      --header-timeout S  close connections that sent no complete request head within S\n"
        "                      seconds (default 20; tcpls: the handshake included)\n"
        "      --max-per-client N  connections per client address (default 64); out of\n"
        "                      descriptors, the oldest idle connection is closed first\n"
        "  -q, --quiet         errors only;  -v, --verbose: log every request\n"
        "  tcpls multipath (docs/PROTOCOL.md):\n"
        "      --tokens N      tokens = extra connections a client may join per session (1..15, default 4)\n"
        "      --sched NAME    scheduler: default (lowest RTT first, overflow to the others), minrtt, rr\n"
        "      --join psk|full psk (default): joins must be abbreviated handshakes bound to the\n"
        "                      session; full: also accept full-handshake joins (comparison)\n"
        "      --blackhole-timeout S  give a connection up after S without acknowledgment progress\n"
        "                      (default: max(0.3 s, 4 x RTT); with TCP_USER_TIMEOUT)\n"
        "      --streams-policy P  spread (default: any stream on any connection) or pin (each\n"
        "                      stream kept on one connection); a request's X-Mplab-Streams wins\n"
        "Prints 'listening on ADDR:PORT (PROTO)' on stderr per address when ready.\n");
}

static int
write_stats(const char *path, const mpl_server_stats_t *st)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        mpl_err("cannot write %s: %m", path);
        return -1;
    }
    mpl_json_t j;
    mpl_json_init(&j, f);
    mpl_json_obj_begin(&j, NULL);
    mpl_json_num(&j, "cpu_user_s", (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6);
    mpl_json_num(&j, "cpu_sys_s", (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    mpl_json_u64(&j, "bytes_sent", st->bytes_sent);
    mpl_json_u64(&j, "bytes_received", st->bytes_received);
    mpl_json_u64(&j, "connections", st->connections);
    mpl_json_u64(&j, "errors", st->errors);
    mpl_json_u64(&j, "requests", st->requests);
    mpl_json_u64(&j, "reinjected_bytes", st->reinjected_bytes);
    mpl_json_obj_end(&j);
    mpl_json_finish(&j);
    return fclose(f) == 0 ? 0 : -1;
}

int
cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"proto", required_argument, NULL, 'p'},
        {"listen", required_argument, NULL, 'l'},
        {"root", required_argument, NULL, 'r'},
        {"cert", required_argument, NULL, 'C'},
        {"key", required_argument, NULL, 'K'},
        {"cc", required_argument, NULL, 'c'},
        {"stats", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"header-timeout", required_argument, NULL, 0x110},
        {"max-per-client", required_argument, NULL, 0x111},
        {"tokens", required_argument, NULL, 'T'},
        {"sched", required_argument, NULL, 'D'},
        {"join", required_argument, NULL, 'J'},
        {"blackhole-timeout", required_argument, NULL, 'B'},
        {"streams-policy", required_argument, NULL, 0x120},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    mpl_server_cfg_t cfg;
    mpl_server_stats_t st;
    const char *proto = "tcp", *cert = NULL, *key = NULL, *stats_path = NULL;
    const char *listen_str[MPL_SERVER_MAX_LISTEN];
    size_t n_listen = 0;
    char err[512];
    int opt;

    memset(&cfg, 0, sizeof(cfg));
    memset(&st, 0, sizeof(st));
    int status;
    optind = 1;
    while ((opt = mpl_getopt(argc, argv, "p:l:r:qvh", opts, usage, &status)) >= 0) {
        switch (opt) {
        case 'p':
            proto = optarg;
            break;
        case 'l':
            if (n_listen == MPL_SERVER_MAX_LISTEN)
                return mpl_usage_error("at most %d --listen addresses", MPL_SERVER_MAX_LISTEN);
            listen_str[n_listen++] = optarg;
            break;
        case 'r':
            cfg.root = optarg;
            break;
        case 'C':
            cert = optarg;
            break;
        case 'K':
            key = optarg;
            break;
        case 'c':
            cfg.cc = optarg;
            break;
        case 'S':
            stats_path = optarg;
            break;
        case 'q':
            cfg.quiet = 1;
            mpl_set_verbosity(0);
            break;
        case 'v':
            mpl_set_verbosity(2);
            break;
        case 'I':
            if (mpl_opt_seconds("idle-timeout", optarg, &cfg.idle_timeout_s) != 0)
                return 2;
            break;
        case 0x110:
            if (mpl_opt_seconds("header-timeout", optarg, &cfg.header_timeout_s) != 0)
                return 2;
            break;
        case 0x111: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 1 || v > 100000)
                return mpl_usage_error("bad --max-per-client '%s' (1..100000)", optarg);
            cfg.max_conns_per_addr = (unsigned)v;
            break;
        }
        case 'T': {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 1 || v > 15)
                return mpl_usage_error("bad --tokens '%s' (1..15)", optarg);
            cfg.tcpls_tokens = (unsigned)v;
            break;
        }
        case 'J':
            if (strcmp(optarg, "psk") != 0 && strcmp(optarg, "full") != 0)
                return mpl_usage_error("bad --join '%s' (psk or full)", optarg);
            cfg.tcpls_join_full = strcmp(optarg, "full") == 0;
            break;
        case 0x120:
            if ((cfg.tcpls_stream_policy = tcpls_stream_policy_from_name(optarg)) < 0)
                return mpl_usage_error("bad --streams-policy '%s' (spread or pin)", optarg);
            break;
        case 'D':
            if (!tcpls_scheduler_valid(optarg))
                return mpl_usage_error("bad --sched '%s' (default, minrtt, rr)", optarg);
            cfg.tcpls_sched = optarg;
            break;
        case 'B':
            if (mpl_opt_seconds("blackhole-timeout", optarg, &cfg.blackhole_s) != 0)
                return 2;
            break;
        }
    }
    if (opt == MPL_OPT_EXIT)
        return status;
    if (optind < argc)
        return mpl_usage_error("unexpected argument '%s'", argv[optind]);
    cfg.tp = mpl_transport_find(proto);
    if (cfg.tp == NULL)
        return mpl_usage_error("unknown protocol '%s' (expected %s)", proto, mpl_transport_names());
    if ((cert == NULL) != (key == NULL))
        return mpl_usage_error("--cert and --key go together");
    if (n_listen == 0)
        listen_str[n_listen++] = cfg.tp->tls ? "127.0.0.1:8443" : "127.0.0.1:8080";
    for (size_t i = 0; i < n_listen; i++) {
        if (mpl_parse_addr(listen_str[i], -1, &cfg.listen[i], &cfg.listen_len[i], err, sizeof(err)) != 0)
            return mpl_usage_error("bad --listen: %s", err);
    }
    cfg.n_listen = n_listen;
    if (cfg.root != NULL) {
        struct stat sb;
        if (stat(cfg.root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            mpl_err("--root %s is not a directory", cfg.root);
            return 1;
        }
    }
    char dir[1024], cbuf[1100], kbuf[1100];
    if (cfg.tp->tls && cert == NULL) {
        mpl_cert_dir(dir, sizeof(dir));
        if (mpl_cert_ensure(dir, err, sizeof(err)) != 0) {
            mpl_err("%s", err);
            return 1;
        }
        cert = mpl_cert_path(dir, "server.pem", cbuf, sizeof(cbuf));
        key = mpl_cert_path(dir, "server.key", kbuf, sizeof(kbuf));
    }
    if (cfg.tp->tls) {
        cfg.ssl_ctx = mpl_tls_server_ctx(cert, key, err, sizeof(err));
        if (cfg.ssl_ctx == NULL) {
            mpl_err("%s", err);
            return 1;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cfg.stop = &stop_flag;

    int rc;
    if (cfg.tp->proto == MPL_PROTO_TCPLS) {
        /* every TCPLS stream gets its own HTTP object and 256 KiB body buffer: without this,
         * glibc returns them to the kernel after each short request (mmap/munmap, heap trims)
         * and the page faults were most of the server's time at 10,000 requests/s */
        mallopt(M_MMAP_THRESHOLD, 4 << 20);
        mallopt(M_TRIM_THRESHOLD, 64 << 20);
        rc = mpl_tcpls_serve(&cfg, &st, err, sizeof(err));
    } else {
        rc = mpl_server_run(&cfg, &st, err, sizeof(err));
    }
    SSL_CTX_free(cfg.ssl_ctx);
    if (rc != 0) {
        mpl_err("%s", err);
        return 1;
    }
    mpl_info("stopped: %llu connections, %llu errors, %s sent", (unsigned long long)st.connections,
             (unsigned long long)st.errors, mpl_fmt_bytes(err, sizeof(err), (double)st.bytes_sent));
    if (stats_path != NULL && write_stats(stats_path, &st) != 0)
        return 1;
    return 0;
}
