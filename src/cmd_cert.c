/*
 * cmd_cert.c — 'mplab cert' (placeholder until its issue lands).
 */
#include "commands.h"

#include <stdio.h>

int
cmd_cert(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        printf("Usage: mplab cert ... (not implemented yet)\n");
        return 0;
    }
    return mpl_cmd_unimplemented("cert");
}
