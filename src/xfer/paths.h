/*
 * paths.h — which paths the TCPLS client joins: (local address, server address) pairs from
 * the --bind addresses and the server's addresses (connection 0's and those of its New Address
 * frames). "per-local" (default): one path per local address, to the server address sharing
 * the longest prefix with it (its subnet); "fullmesh": every pair of the same family. A path
 * from a --bind address marked backup is a backup path.
 */
#ifndef MPLAB_PATHS_H
#define MPLAB_PATHS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "xfer/client.h"
#include "tcpls.h"

#define MPL_PATHS_MAX (MPL_CLIENT_MAX_BIND * 4)

typedef struct mpl_path {
    int bind_idx; /* index in cfg->bind, -1 = any local address */
    struct sockaddr_storage remote;
    socklen_t remote_len;
    int backup;
    int conn;          /* the client's connection slot using it, -1 none */
    uint64_t retry_ns; /* no join on this path before; UINT64_MAX: the server removed the address */
} mpl_path_t;

typedef struct mpl_paths {
    const mpl_client_cfg_t *cfg;
    int fullmesh;
    mpl_path_t p[MPL_PATHS_MAX];
    size_t n;
} mpl_paths_t;

/* Starts the set with path 0, the one connection 0 (fd0, connection slot 0) took: the first
 * --bind address of the server's family. */
void mpl_paths_init(mpl_paths_t *ps, const mpl_client_cfg_t *cfg, int fd0);

/* Adds the paths the policy wants with the server addresses s knows now. Paths to an address
 * the server removed get retry_ns UINT64_MAX (the caller closes their connections). */
void mpl_paths_update(mpl_paths_t *ps, tcpls_session_t *s);

/* The first path from --bind address bind_idx, or -1. */
int mpl_paths_from_bind(const mpl_paths_t *ps, int bind_idx);

/* 1 when the IP address of ss is the advertised address a (ports are not compared: a client
 * advertises its addresses with port 0). */
int mpl_paths_addr_is(const struct sockaddr_storage *ss, const tcpls_addr_t *a);

#endif
