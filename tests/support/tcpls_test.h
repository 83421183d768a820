/*
 * tcpls_test.h — helpers for libtcpls tests: an in-memory certificate, client/server contexts
 * trusting it, and a pair of sessions connected by in-memory connections.
 */
#ifndef TCPLS_TEST_H
#define TCPLS_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "tcpls.h"

/* Per-session event log kept by the test callbacks. */
typedef struct tst_peer {
    tcpls_session_t *s;
    int handshake_done, closed, close_err;
    uint32_t opened[256];
    size_t nopened;
    uint8_t *data; /* every stream's bytes, appended in arrival order (capped at data_cap) */
    size_t data_len, data_cap;
    uint64_t bytes_by_stream[256]; /* indexed by stream id % 256 */
    int fin_by_stream[256];
    int writable_calls, streams_closed;
} tst_peer_t;

typedef struct tst_pair {
    tcpls_ctx_t *cctx, *sctx;
    tst_peer_t client, server;
    /* Called on every chunk before delivery (to_server = 1 for client->server); may modify it. */
    void (*tamper)(struct tst_pair *p, int to_server, uint8_t *data, size_t len);
    size_t max_chunk; /* bytes moved per step (0 = everything) */
    uint64_t moved_to_server, moved_to_client;
} tst_pair_t;

/* Contexts for tests. ciphersuites may be NULL. The client trusts the test certificate and
 * verifies the name "localhost". */
tcpls_ctx_t *tst_server_ctx(const char *ciphersuites);
tcpls_ctx_t *tst_client_ctx(const char *ciphersuites);
/* Writes the test certificate/key as PEM files into dir (cert.pem, key.pem). Returns 0. */
int tst_write_cert_files(const char *dir);

/* Sets up both sessions (ops recording into p->client / p->server). Returns 0. */
int tst_pair_init(tst_pair_t *p, const char *ciphersuites);
void tst_pair_free(tst_pair_t *p);
/* Moves bytes both ways until nothing moves (or max_rounds). Returns the number of rounds. */
int tst_pair_pump(tst_pair_t *p, int max_rounds);

#endif
