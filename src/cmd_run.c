/*
 * cmd_run.c — 'mplab run' (placeholder until its issue lands).
 */
#include "commands.h"

#include <stdio.h>

int
cmd_run(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        printf("Usage: mplab run ... (not implemented yet)\n");
        return 0;
    }
    return mpl_cmd_unimplemented("run");
}
