/*
 * cmd_exec.c — 'mplab exec' (placeholder until its issue lands).
 */
#include "commands.h"

#include <stdio.h>

int
cmd_exec(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        printf("Usage: mplab exec ... (not implemented yet)\n");
        return 0;
    }
    return mpl_cmd_unimplemented("exec");
}
