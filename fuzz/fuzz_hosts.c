/* libFuzzer target: the hosts file parser (src/testbed/hosts.c) and the ssh argv it feeds. */
#include <stddef.h>
#include <stdint.h>

#include "testbed/hosts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mpl_hosts_t hs;
    static char store[8192];
    char err[512], *argv[64];
    if (mpl_hosts_parse((const char *)data, size, "fuzz.ini", &hs, err, sizeof(err)) == 0)
        for (int i = 0; i < hs.n; i++)
            if (!hs.hosts[i].local)
                (void)mpl_hosts_ssh_argv(&hs.hosts[i], "/run/mplab/ssh", "'true'", argv, 64, store,
                                         sizeof(store));
    return 0;
}
