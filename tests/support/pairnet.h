/*
 * pairnet.h — a TCPLS client and server in one process, joined by up to PN_CONNS connections
 * whose byte queues the caller moves by hand: no clock and no rates, the test decides what
 * reaches the peer and when (tests/sim/sim_robust.c, fuzz/fuzz_session.c). The client opens
 * one stream and uploads `upload` bytes; the server answers on it with `download` bytes (and
 * closes the session after them if asked). Both sides check every byte they receive against
 * the same deterministic content (pn_content).
 */
#ifndef PAIRNET_H
#define PAIRNET_H

#include <stddef.h>
#include <stdint.h>

#include "tcpls.h"

#define PN_CONNS 4

typedef struct pn_queue {
    uint8_t *buf;
    size_t len, cap;
} pn_queue_t;

/* What one side saw. */
typedef struct pn_side {
    uint64_t received, bad; /* stream bytes received; bytes that differ from pn_content */
    int fin, closed, err, opened;
    uint32_t stream;
    int conn_state[PN_CONNS], conn_err[PN_CONNS];
} pn_side_t;

typedef struct pn_net {
    tcpls_ctx_t *cctx, *sctx;
    tcpls_session_t *client, *server;
    struct {
        int used, dead;
        uint32_t id;          /* the client's connection id */
        tcpls_session_t *srv; /* the server session reading this connection (a join's own) */
        uint32_t sid;         /* its connection id there */
        pn_queue_t c2s, s2c;
    } c[PN_CONNS];
    pn_side_t cli, srv;
    uint64_t download, written; /* server: bytes to send, bytes written */
    uint64_t upload, uploaded;  /* client: the same */
    uint32_t cli_stream;
    int close_after_write, close_called;
} pn_net_t;

/* Byte i of either direction's stream. */
uint8_t pn_content(uint64_t i);

/* Contexts (the server with `tokens` tokens, scheduler "rr"; server_groups, when not NULL,
 * restricts its key exchange groups, e.g. "P-256" forces a HelloRetryRequest), both sessions,
 * and the handshake over connection 0. Returns 0, or -1 when the handshake did not complete. */
int pn_init(pn_net_t *n, unsigned tokens, const char *server_groups);
/* The same, with join_full_handshake set as asked on the client's and the server's context. */
int pn_init_joins(pn_net_t *n, unsigned tokens, const char *server_groups, int client_full, int server_full);
/* The contexts and both sessions only: the caller drives connection 0's handshake. */
int pn_setup(pn_net_t *n, unsigned tokens);
void pn_free(pn_net_t *n);
/* Joins slot i (a fresh server session takes the connection). Returns tcpls_join's result. */
int pn_join(pn_net_t *n, int i);
/* The client opens its stream, uploads `upload` bytes (FIN after them) and asks for download. */
int pn_request(pn_net_t *n, uint64_t upload, uint64_t download);
/* Moves what the sessions have for slot i into its queues (writing more stream data first). */
void pn_out(pn_net_t *n, int i);
/* Delivers the first `max` bytes (all: SIZE_MAX) of slot i's queue toward the client
 * (to_client) or the server. */
void pn_in(pn_net_t *n, int i, int to_client, size_t max);
/* Moves everything both ways on every slot, `rounds` times. */
void pn_pump(pn_net_t *n, int rounds);

#endif
