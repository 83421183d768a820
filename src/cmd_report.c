/*
 * cmd_report.c — 'mplab report' (placeholder until its issue lands).
 */
#include "commands.h"

#include <stdio.h>

int
cmd_report(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        printf("Usage: mplab report ... (not implemented yet)\n");
        return 0;
    }
    return mpl_cmd_unimplemented("report");
}
