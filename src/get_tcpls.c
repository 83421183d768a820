/*
 * get_tcpls.c — 'mplab get --proto tcpls' (see client.h). Placeholder until the TCPLS issue
 * lands: the tcpls work replaces this file with a client over libtcpls that sends each
 * request on its own stream and feeds the response to a mpl_http_cresp_t and cfg->sink.
 */
#include "client.h"

#include <stdio.h>

int
mpl_tcpls_get(const mpl_client_cfg_t *cfg, mpl_client_result_t *res)
{
    (void)cfg;
    snprintf(res->error, sizeof(res->error), "--proto tcpls is not available yet");
    return -1;
}
