/*
 * cmd_link.c — 'mplab link' (placeholder until its issue lands).
 */
#include "commands.h"

#include <stdio.h>

int
cmd_link(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        printf("Usage: mplab link ... (not implemented yet)\n");
        return 0;
    }
    return mpl_cmd_unimplemented("link");
}
