/*
 * bench_join.c — the cost of joining a connection to a TCPLS session, client and server in one
 * process (tests/support/pairnet): the session-bound PSK join (default) against a full TLS
 * handshake with the certificate (join_full_handshake), measured in the same run. Prints CPU
 * per join for each and the ratio. Connection 0's handshake is outside the measurement.
 *
 *   build/bench/bench_join [JOINS]
 */
#include <stdio.h>
#include <stdlib.h>
#include "bench_cpu.h"

#include "../tests/support/pairnet.h"

/* CPU seconds of `joins` joins (each on a fresh session), or -1 when one failed. */
static double
run(int joins, int full)
{
    double total = 0;
    for (int i = 0; i < joins; i++) {
        pn_net_t n;
        if (pn_init_joins(&n, 2, NULL, full, full) != 0)
            return -1;
        double t0 = bench_cpu_now();
        int ok = pn_join(&n, 1) == 0;
        for (int r = 0; ok && r < 20 && tcpls_conn_live_count(n.server) < 2; r++)
            pn_pump(&n, 1);
        total += bench_cpu_now() - t0;
        ok = ok && tcpls_conn_live_count(n.server) == 2 && tcpls_conn_live_count(n.client) == 2;
        pn_free(&n);
        if (!ok)
            return -1;
    }
    return total;
}

int
main(int argc, char **argv)
{
    int joins = argc > 1 ? atoi(argv[1]) : 200;
    double full = run(joins, 1), psk = run(joins, 0);
    if (full < 0 || psk < 0) {
        fprintf(stderr, "bench_join: a join failed\n");
        return 1;
    }
    printf("full-handshake join  %d joins: %.3f ms CPU per join (client + server)\n", joins,
           1e3 * full / joins);
    printf("PSK join (default)   %d joins: %.3f ms CPU per join (client + server)\n", joins,
           1e3 * psk / joins);
    printf("ratio PSK / full: %.2f\n", psk / full);
    return 0;
}
