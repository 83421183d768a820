/*
 * cmd_topo.c — 'mplab topo' (placeholder until its issue lands).
 */
#include "commands.h"

#include <stdio.h>

int
cmd_topo(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        printf("Usage: mplab topo ... (not implemented yet)\n");
        return 0;
    }
    return mpl_cmd_unimplemented("topo");
}
