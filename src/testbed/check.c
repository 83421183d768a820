/*
 * check.c — 'mplab topo check': per link, ping RTT against 2 x delay and one TCP flow
 * against the rate.
 */
#include "testbed/testbed.h"
#include "util.h"

int mpl_tb_check(const char *name, int json);

int
mpl_tb_check(const char *name, int json)
{
    mpl_err("check: not implemented yet");
    return 1;
}
