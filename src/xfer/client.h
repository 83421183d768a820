/*
 * client.h — the downloader behind 'mplab get' for the socket transports (tcp, tls, mptcp,
 * mptls):
 * URL parsing, connecting (bound to --bind, with --cc and a timeout), sending requests,
 * feeding responses through mpl_http_cresp_t into a mpl_body_sink_t. Keep-alive: successive
 * URLs to the same host and port reuse the connection.
 */
#ifndef MPLAB_CLIENT_H
#define MPLAB_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "netinfo/mptcp_info.h"
#include "xfer/sink.h"
#include "xfer/transport.h"

#include <stdio.h>

#define MPL_CLIENT_MAX_BIND 16
#define MPL_CLIENT_MAX_PRIO 8

typedef struct mpl_url {
    int https; /* scheme was https:// */
    int has_scheme;
    char host[256]; /* without brackets */
    int port;       /* -1 when not given */
    char path[2048];
} mpl_url_t;

/* Parses "[http[s]://]HOST[:PORT][/PATH]" (HOST: name, IPv4 or [IPv6]). Returns 0 or -1
 * with a reason in err. */
int mpl_url_parse(const char *s, mpl_url_t *u, char *err, size_t errlen);

typedef struct mpl_client_cfg {
    const mpl_transport_t *tp;
    const char *const *urls;
    size_t n_urls;
    struct sockaddr_storage bind[MPL_CLIENT_MAX_BIND]; /* local addresses (port 0 = any) */
    socklen_t bind_len[MPL_CLIENT_MAX_BIND];
    size_t n_bind;
    SSL_CTX *ssl_ctx;       /* tls */
    const char *servername; /* SNI and verification name; default: the URL's host */
    const char *cc;
    double timeout_s; /* connect timeout and longest silence (> 0) */
    uint64_t upload;  /* > 0: POST /upload with this many bytes instead of GETs */
    int head;         /* HEAD instead of GET */
    mpl_body_sink_t *sink;
    /* tcpls multipath (src/xfer/get_tcpls.c) */
    unsigned char bind_backup[MPL_CLIENT_MAX_BIND]; /* 1: connections from bind[i] are backups */
    const char *tcpls_paths;                        /* "per-local" (default) or "fullmesh" (paths.h) */
    const char *tcpls_sched;                        /* scheduler name or NULL */
    int tcpls_join_full;                            /* --join full: full-handshake joins */
    double migrate_at_s;                            /* > 0: migrate at this time after the start */
    int migrate_to;                                 /* bind index to migrate to (-1: the second path) */
    int migrate_bbm;         /* --migrate-mode bbm: the target path is joined only at the migration */
    int tcpls_stream_policy; /* --streams-policy (TCPLS_STREAMS_*), -1: not given (the server's) */
    int multi;               /* MPL_MULTI_*: tcp, tls, mptcp with several URLs */
    double blackhole_s;      /* no-ack-progress timeout (0: adaptive, tcpls_upkeep.h) */
    /* priority changes during the session (--backup-at / --normal-at): at prio_at_s[i], the
     * connections from bind[prio_bind[i]] become backups (prio_backup 1) or normal (0) */
    size_t n_prio;
    double prio_at_s[MPL_CLIENT_MAX_PRIO];
    int prio_bind[MPL_CLIENT_MAX_PRIO];
    unsigned char prio_backup[MPL_CLIENT_MAX_PRIO];
    double interval_s;  /* per-connection samples every S (0: 1 s) */
    FILE *interval_out; /* print per-connection samples here, or NULL */
    /* --requests (load.h): tcpls runs the load on urls[0] and fills load_res (sink unused) */
    const struct mpl_load_cfg *load;
    struct mpl_load_result *load_res;
} mpl_client_cfg_t;

#define MPL_TCPLS_MAX_CONNS    16
#define MPL_CLIENT_MAX_OBJECTS 64 /* objects whose completion time a result keeps */

/* How several URLs are fetched (mpl_client_cfg_t.multi; tcp, tls, mptcp). */
enum {
    MPL_MULTI_SEQUENTIAL = 0, /* one connection, one request after the other (keep-alive) */
    MPL_MULTI_PARALLEL,       /* get --parallel: one connection per URL, all at once */
    MPL_MULTI_PIPELINE,       /* get --pipeline: one connection, every request sent up front */
};

/* One TCPLS connection of the session (--proto tcpls, --json "connections"). */
/* One sample of a TCPLS connection (the client socket's tcp_info, the session's goodput). */
typedef struct mpl_tcpls_sample {
    double t, rtt_ms, delivery_mbps, goodput_mbps;
    uint32_t cwnd;
} mpl_tcpls_sample_t;

typedef struct mpl_tcpls_conn_stat {
    uint32_t id;
    char local[80], remote[80];
    uint64_t bytes_sent, bytes_received, records_sent, records_acked;
    uint64_t stream_bytes_received;
    int backup;
    int psk_join;               /* joined with the session-bound PSK handshake (no certificate) */
    char state[16];             /* "up", "closed", "failed", "refused" */
    mpl_tcpls_sample_t *series; /* malloc'd (freed by mpl_client_result_free) */
    size_t n_series;
} mpl_tcpls_conn_stat_t;

typedef struct mpl_client_result {
    uint64_t bytes;  /* body bytes received (or uploaded with cfg->upload) */
    int status;      /* HTTP status of the last response */
    int completed;   /* every response arrived complete with status 2xx */
    char error[512]; /* "" or the first error */
    char local[80], remote[80];
    mpl_mptcp_state_t mptcp; /* mptcp and mptls only: queried before the connection is closed */
    double connect_s;        /* start to first connection ready (TCP + TLS handshake), 0 unknown */
    int tcpls;               /* tcpls only: 1 TCPLS negotiated, 0 the server fell back to plain TLS */
    char tcpls_cipher[64];
    mpl_tcpls_conn_stat_t tcpls_conns[MPL_TCPLS_MAX_CONNS];
    int n_tcpls_conns;
    /* completion time of each URL's response (seconds since the start), the first
     * MPL_CLIENT_MAX_OBJECTS URLs */
    double object_s[MPL_CLIENT_MAX_OBJECTS];
    size_t n_objects;
} mpl_client_result_t;

/* Frees what a result holds (tcpls series). */
void mpl_client_result_free(mpl_client_result_t *res);

/* Fetches every URL in order. Returns 0 when all succeeded, or -1 with res->error set. */
int mpl_client_run(const mpl_client_cfg_t *cfg, mpl_client_result_t *res);

/* Fetches every URL at once (cfg->multi: MPL_MULTI_PARALLEL or MPL_MULTI_PIPELINE; downloads),
 * in src/xfer/client_multi.c. Returns 0 when all succeeded, or -1 with res->error set. */
int mpl_client_run_multi(const mpl_client_cfg_t *cfg, mpl_client_result_t *res);

/* The tcpls client (same config and result), in src/xfer/get_tcpls.c: the place where
 * '--proto tcpls' plugs in; it drives mpl_http_cresp_t + cfg->sink per stream. */
int mpl_tcpls_get(const mpl_client_cfg_t *cfg, mpl_client_result_t *res);

#endif
