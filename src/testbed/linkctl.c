/*
 * linkctl.c — run-time link changes ('mplab link set', the [events] schedule).
 *
 * Delay, loss and blackhole are values the forwarder reads for every frame (a mapped file),
 * so they apply at once; down/up switch the link-namespace ends of the veths (the hosts see
 * their carrier go); a rate change replaces the tbf qdisc of that direction.
 */
#include "testbed/testbed.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Runs a command inside the link's namespace. */
static int
link_cmd(const char *lns, const char *cmd, char *err, size_t errlen)
{
    char out[256];
    if (mpl_tb_netns_enter(lns) != 0) {
        snprintf(err, errlen, "cannot enter %s: %s", lns, strerror(errno));
        return -1;
    }
    int rc = mpl_tb_run(cmd, out, sizeof(out));
    mpl_tb_netns_enter(NULL);
    if (rc != 0) {
        snprintf(err, errlen, "'%s' failed: %s", cmd, out);
        return -1;
    }
    return 0;
}

/* netem backend: rewrites the netem qdisc of direction d from the live values. */
static int
netem_update(const char *lns, const mpl_tb_shared_t *sh, int d, char *err, size_t errlen)
{
    char cmd[256], extra[96] = "";
    size_t off = 0;
    if (sh->rate_bps[d])
        off += (size_t)snprintf(extra + off, sizeof(extra) - off, " rate %llubit",
                                (unsigned long long)sh->rate_bps[d]);
    if (sh->loss_pct[d] > 0)
        snprintf(extra + off, sizeof(extra) - off, " loss %g%%", sh->loss_pct[d]);
    snprintf(cmd, sizeof(cmd), "tc qdisc change dev %c root handle 1: netem delay %lluus limit %llu%s",
             d == MPL_TB_A2B ? 'b' : 'a', (unsigned long long)(sh->delay_ns[d] / 1000),
             (unsigned long long)(sh->queue_bytes[d] / MPL_TB_MTU_FRAME + 1), extra);
    return link_cmd(lns, cmd, err, errlen);
}

static int
is_netem(const mpl_topology_t *t)
{
    char path[512], buf[16] = "";
    mpl_tb_state_path(t->name, "ready", path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(buf, sizeof(buf), f))
        buf[0] = '\0';
    fclose(f);
    return strncmp(buf, "netem", 5) == 0;
}

int
mpl_tb_link_apply(const mpl_topology_t *t, const mpl_tb_change_t *c, char *err, size_t errlen)
{
    char lns[64], cmd[256];
    mpl_tb_link_ns(t, c->link, lns, sizeof(lns));
    mpl_tb_shared_t *sh = mpl_tb_shared_map(t, c->link, 0);
    if (!sh) {
        snprintf(err, errlen, "link '%s' has no live state (is the topology up?)", t->links[c->link].name);
        return -1;
    }
    int netem = is_netem(t), rc = 0;
    for (int d = 0; d < 2 && rc == 0; d++) {
        if (c->dir >= 0 && c->dir != d)
            continue;
        switch (c->action) {
        case MPL_TB_ACT_DOWN:
        case MPL_TB_ACT_UP:
            break;
        case MPL_TB_ACT_BLACKHOLE:
            __atomic_store_n(&sh->blackhole[d], 1, __ATOMIC_RELEASE);
            if (netem) {
                snprintf(cmd, sizeof(cmd), "tc qdisc change dev %c root handle 1: netem loss 100%%",
                         d == MPL_TB_A2B ? 'b' : 'a');
                rc = link_cmd(lns, cmd, err, errlen);
            }
            break;
        case MPL_TB_ACT_DELAY:
            __atomic_store_n(&sh->delay_ns[d], c->value, __ATOMIC_RELEASE);
            if (netem)
                rc = netem_update(lns, sh, d, err, errlen);
            break;
        case MPL_TB_ACT_LOSS:
            sh->loss_pct[d] = c->loss_pct;
            __atomic_store_n(&sh->loss_ppb[d], (uint64_t)(c->loss_pct * 1e7 + 0.5), __ATOMIC_RELEASE);
            if (netem)
                rc = netem_update(lns, sh, d, err, errlen);
            break;
        case MPL_TB_ACT_RATE: {
            char dev[2] = {d == MPL_TB_A2B ? 'b' : 'a', 0}, args[200];
            sh->rate_bps[d] = c->value;
            if (netem) {
                rc = netem_update(lns, sh, d, err, errlen);
            } else if (c->value == 0) {
                snprintf(cmd, sizeof(cmd), "tc qdisc del dev %s root", dev);
                link_cmd(lns, cmd, err, errlen); /* absent already: fine */
            } else {
                mpl_tb_dir_t dir = {.rate_bps = c->value, .queue_bytes = sh->queue_bytes[d]};
                snprintf(cmd, sizeof(cmd), "tc qdisc replace %s",
                         mpl_tb_tbf_args(&dir, dev, args, sizeof(args)));
                rc = link_cmd(lns, cmd, err, errlen);
            }
            break;
        }
        }
    }
    if (rc == 0 && (c->action == MPL_TB_ACT_DOWN || c->action == MPL_TB_ACT_UP)) {
        const char *state = c->action == MPL_TB_ACT_DOWN ? "down" : "up";
        for (int e = 0; e < 2 && rc == 0; e++) {
            snprintf(cmd, sizeof(cmd), "ip link set dev %c %s", 'a' + e, state);
            rc = link_cmd(lns, cmd, err, errlen);
        }
        __atomic_store_n(&sh->down, c->action == MPL_TB_ACT_DOWN, __ATOMIC_RELEASE);
        if (c->action == MPL_TB_ACT_UP) {
            __atomic_store_n(&sh->blackhole[0], 0, __ATOMIC_RELEASE);
            __atomic_store_n(&sh->blackhole[1], 0, __ATOMIC_RELEASE);
            if (netem)
                for (int d = 0; d < 2 && rc == 0; d++)
                    rc = netem_update(lns, sh, d, err, errlen);
        }
    }
    mpl_tb_shared_unmap(sh);
    return rc;
}

void
mpl_tb_events_run(const mpl_topology_t *t)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < t->n_events; i++) {
        const mpl_tb_event_t *e = &t->events[i];
        uint64_t at = (uint64_t)start.tv_sec * 1000000000ull + (uint64_t)start.tv_nsec + e->at_ns;
        struct timespec ts = {(time_t)(at / 1000000000ull), (long)(at % 1000000000ull)};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        char err[512], what[96];
        mpl_tb_change_fmt(&e->change, what, sizeof(what));
        if (mpl_tb_link_apply(t, &e->change, err, sizeof(err)) != 0)
            mpl_err("event at %.3f s: link %s %s: %s", (double)e->at_ns / 1e9, t->links[e->change.link].name,
                    what, err);
        else
            mpl_info("%.3f s: link %s %s", (double)e->at_ns / 1e9, t->links[e->change.link].name, what);
    }
}
