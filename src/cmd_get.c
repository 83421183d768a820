/*
 * cmd_get.c — 'mplab get' (placeholder until its issue lands).
 */
#include "commands.h"

#include <stdio.h>

int
cmd_get(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        printf("Usage: mplab get ... (not implemented yet)\n");
        return 0;
    }
    return mpl_cmd_unimplemented("get");
}
