/*
 * simlink.h — one direction of a simulated TCP connection for tests in injected time: the
 * sender's kernel send buffer (64 KiB, like a short notsent queue) drained at a fixed rate
 * into a pipe of fixed one-way delay, delivering to a libtcpls session (picoquic's sim_link).
 */
#ifndef SIMLINK_H
#define SIMLINK_H

#include <stddef.h>
#include <stdint.h>

#include "tcpls.h"

typedef struct simlink_chunk {
    struct simlink_chunk *next;
    uint64_t arrive_us;
    size_t len;
    uint8_t data[];
} simlink_chunk_t;

typedef struct simlink_dir {
    uint8_t *sbuf; /* the kernel send buffer */
    size_t slen, scap;
    double credit;                /* bytes the rate allows to leave, carried between steps */
    simlink_chunk_t *head, *tail; /* in flight, by arrival time */
} simlink_dir_t;

/* Releases what d holds and zeroes it (d itself belongs to the caller). */
void simlink_dir_free(simlink_dir_t *d);
/* The application's write: moves conn_id's pending output of s into the send buffer, as much
 * as fits, and tells s how much it took. */
void simlink_dir_write(simlink_dir_t *d, tcpls_session_t *s, uint32_t conn_id);
/* Advances d by step_us ending at now_us: up to rate (bytes per microsecond) * step_us bytes
 * leave the send buffer and arrive delay_us later; with blackhole set they are lost. */
void simlink_dir_step(simlink_dir_t *d, double rate, uint64_t delay_us, int blackhole, uint64_t now_us,
                      uint64_t step_us);
/* Feeds what arrived by now_us to conn_id of s (tcpls_receive with now_us as its time); adds
 * the bytes to *count when count is not NULL. */
void simlink_dir_deliver(simlink_dir_t *d, uint64_t now_us, tcpls_session_t *s, uint32_t conn_id,
                         uint64_t *count);

#endif
