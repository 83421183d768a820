/*
 * serve_tcpls.c — 'mplab serve --proto tcpls' (see server.h). Placeholder until the TCPLS
 * issue lands: the tcpls work replaces this file with a loop over libtcpls sessions that
 * feeds each stream to a mpl_http_sconn_t (http.h).
 */
#include "server.h"

#include <stdio.h>

int
mpl_tcpls_serve(const mpl_server_cfg_t *cfg, mpl_server_stats_t *stats, char *err, size_t errlen)
{
    (void)cfg;
    (void)stats;
    snprintf(err, errlen, "--proto tcpls is not available yet");
    return -1;
}
