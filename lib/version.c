/*
 * version.c — libtcpls version string.
 */
#include "tcpls.h"

const char *
tcpls_version(void)
{
    return TCPLS_VERSION_STRING;
}
