/*
 * cmd_serve.c — 'mplab serve' (placeholder until its issue lands).
 */
#include "commands.h"

#include <stdio.h>

int
cmd_serve(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        printf("Usage: mplab serve ... (not implemented yet)\n");
        return 0;
    }
    return mpl_cmd_unimplemented("serve");
}
