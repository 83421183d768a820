/* libFuzzer target: the topology file parser (src/testbed/topology.c). */
#include <stddef.h>
#include <stdint.h>

#include "testbed/topology.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mpl_topology_t t;
    char err[512];
    if (mpl_topo_parse((const char *)data, size, "fuzz.ini", &t, err, sizeof(err)) == 0) {
        char buf[128];
        for (int i = 0; i < t.n_events; i++)
            mpl_tb_change_fmt(&t.events[i].change, buf, sizeof(buf));
        for (int i = 0; i < t.n_links; i++)
            (void)mpl_tb_queue_bytes(&t.links[i].dir[0]);
    }
    return 0;
}
