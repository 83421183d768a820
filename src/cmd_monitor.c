/*
 * cmd_monitor.c — 'mplab monitor' (placeholder until its issue lands).
 */
#include "commands.h"

#include <stdio.h>

int
cmd_monitor(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        printf("Usage: mplab monitor ... (not implemented yet)\n");
        return 0;
    }
    return mpl_cmd_unimplemented("monitor");
}
