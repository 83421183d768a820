/*
 * linkctl.c — run-time link changes ('mplab link set', the [events] schedule).
 *
 * Delay, loss and blackhole are values the forwarder reads for every frame (a mapped file),
 * so they apply at once; down/up switch the link-namespace ends of the veths (the hosts see
 * their carrier go); a rate change replaces the tbf qdisc of that direction.
 */
#include "testbed/testbed.h"
#include "common/util.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

unsigned int if_nametoindex(const char *ifname); /* <net/if.h> clashes with <linux/if.h> */

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

/* Sends one rtnetlink request in the current namespace and waits for its ack. */
static int
rtnl_request(struct nlmsghdr *nlh)
{
    struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
    int rc = -1;
    if (nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0 &&
        mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (n >= 0 && mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL) >= 0)
            rc = 0;
    }
    int e = errno;
    if (nl)
        mnl_socket_close(nl);
    errno = e;
    return rc;
}

/* Replaces (rate > 0) or removes (rate 0) the root tbf of dev in namespace lns over
 * rtnetlink: what 'tc qdisc replace dev DEV root handle 1: tbf rate R burst B limit L' does,
 * without spawning tc (a rate event then applies within a millisecond or two). */
static int
tbf_set(const char *lns, const char *dev, uint64_t rate_bps, uint64_t queue_bytes, char *err, size_t errlen)
{
    if (mpl_tb_netns_enter(lns) != 0) {
        snprintf(err, errlen, "cannot enter %s: %s", lns, strerror(errno));
        return -1;
    }
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = rate_bps ? RTM_NEWQDISC : RTM_DELQDISC;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (rate_bps ? NLM_F_CREATE | NLM_F_REPLACE : 0);
    nlh->nlmsg_seq = 1;
    struct tcmsg *tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
    tcm->tcm_family = AF_UNSPEC;
    tcm->tcm_ifindex = (int)if_nametoindex(dev);
    tcm->tcm_parent = TC_H_ROOT;
    tcm->tcm_handle = rate_bps ? 0x10000u : 0; /* 1: */
    if (rate_bps) {
        uint64_t bytes_per_s = rate_bps / 8, burst = rate_bps / 8 / 1000;
        if (burst < 2 * MPL_TB_MTU_FRAME)
            burst = 2 * MPL_TB_MTU_FRAME;
        struct tc_tbf_qopt q;
        memset(&q, 0, sizeof(q));
        q.rate.linklayer = TC_LINKLAYER_ETHERNET; /* no rate table needed */
        q.rate.rate = bytes_per_s > 0xffffffffull ? 0xffffffffu : (uint32_t)bytes_per_s;
        q.limit = (uint32_t)queue_bytes;
        /* buffer in scheduler ticks (64 ns): the time to send 'burst' bytes */
        q.buffer = (uint32_t)((double)burst / (double)bytes_per_s * 1e9 / 64.0);
        mnl_attr_put_strz(nlh, TCA_KIND, "tbf");
        struct nlattr *opt = mnl_attr_nest_start(nlh, TCA_OPTIONS);
        mnl_attr_put(nlh, TCA_TBF_PARMS, sizeof(q), &q);
        if (bytes_per_s > 0xffffffffull)
            mnl_attr_put_u64(nlh, TCA_TBF_RATE64, bytes_per_s);
        mnl_attr_put_u32(nlh, TCA_TBF_BURST, (uint32_t)burst);
        mnl_attr_nest_end(nlh, opt);
    }
    int rc = 0;
    if (tcm->tcm_ifindex == 0 || rtnl_request(nlh) != 0) {
        if (!(rate_bps == 0 && (errno == ENOENT || errno == EINVAL))) { /* nothing to delete: fine */
            snprintf(err, errlen, "%s tbf on %s: %s", rate_bps ? "replace" : "delete", dev, strerror(errno));
            rc = -1;
        }
    }
    mpl_tb_netns_enter(NULL);
    return rc;
}

/* Sets the link-namespace ends "a" and "b" of a link administratively up or down with one
 * rtnetlink request each (faster than spawning ip: events apply within milliseconds). */
static int
ends_updown(const char *lns, int up, char *err, size_t errlen)
{
    if (mpl_tb_netns_enter(lns) != 0) {
        snprintf(err, errlen, "cannot enter %s: %s", lns, strerror(errno));
        return -1;
    }
    struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
    int rc = -1;
    if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        snprintf(err, errlen, "netlink: %s", strerror(errno));
        goto out;
    }
    for (int e = 0; e < 2; e++) {
        char name[2] = {(char)('a' + e), 0}, buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = RTM_NEWLINK;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = (uint32_t)e + 1;
        struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
        ifm->ifi_family = AF_UNSPEC;
        ifm->ifi_index = (int)if_nametoindex(name);
        ifm->ifi_change = IFF_UP;
        ifm->ifi_flags = up ? IFF_UP : 0;
        if (ifm->ifi_index == 0 || mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
            snprintf(err, errlen, "set %s %s: %s", name, up ? "up" : "down", strerror(errno));
            goto out;
        }
        ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
        if (n < 0 || mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL, NULL) < 0) {
            snprintf(err, errlen, "set %s %s: %s", name, up ? "up" : "down", strerror(errno));
            goto out;
        }
    }
    rc = 0;
out:
    if (nl)
        mnl_socket_close(nl);
    mpl_tb_netns_enter(NULL);
    return rc;
}

/* netem backend: rewrites the netem qdisc of direction d from the live values. */
static int
netem_update(const char *lns, const mpl_tb_shared_t *sh, int d, char *err, size_t errlen)
{
    char cmd[512], nargs[400];
    mpl_tb_dir_t dir;
    memset(&dir, 0, sizeof(dir));
    dir.rate_bps = sh->rate_bps[d];
    dir.delay_ns = sh->delay_ns[d];
    dir.loss_pct = sh->loss_pct[d];
    dir.queue_bytes = sh->queue_bytes[d];
    dir.model = sh->model[d];
    snprintf(cmd, sizeof(cmd), "tc qdisc change dev %c root handle 1: netem %s", d == MPL_TB_A2B ? 'b' : 'a',
             mpl_tb_netem_args(&dir, nargs, sizeof(nargs)));
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
        case MPL_TB_ACT_MODEL: {
            mpl_lm_params_t m = sh->model[d];
            if (mpl_lm_set_key(&m, c->key, c->text, err, errlen) != 0) {
                rc = -1;
                break;
            }
            if (m.reorder_pct > 0 && sh->delay_ns[d] == 0) {
                snprintf(err, errlen, "reorder needs a delay (reordered frames skip it)");
                rc = -1;
                break;
            }
            sh->model[d] = m;
            __atomic_fetch_add(&sh->model_gen[d], 1, __ATOMIC_RELEASE);
            if (netem)
                rc = netem_update(lns, sh, d, err, errlen);
            break;
        }
        case MPL_TB_ACT_RATE: {
            char dev[2] = {d == MPL_TB_A2B ? 'b' : 'a', 0};
            sh->rate_bps[d] = c->value;
            if (netem) {
                rc = netem_update(lns, sh, d, err, errlen);
            } else {
                rc = tbf_set(lns, dev, c->value, sh->queue_bytes[d], err, errlen);
            }
            break;
        }
        }
    }
    if (rc == 0 && (c->action == MPL_TB_ACT_DOWN || c->action == MPL_TB_ACT_UP)) {
        rc = ends_updown(lns, c->action == MPL_TB_ACT_UP, err, errlen);
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
        int rc = mpl_tb_link_apply(t, &e->change, err, sizeof(err));
        struct timespec done;
        clock_gettime(CLOCK_MONOTONIC, &done);
        double late_ms =
            ((double)(done.tv_sec - ts.tv_sec) * 1e9 + (double)(done.tv_nsec - ts.tv_nsec)) / 1e6;
        if (rc != 0)
            mpl_err("event at %.3f s: link %s %s: %s", (double)e->at_ns / 1e9, t->links[e->change.link].name,
                    what, err);
        else
            mpl_info("%.3f s: link %s %s (applied after %.2f ms)", (double)e->at_ns / 1e9,
                     t->links[e->change.link].name, what, late_ms);
    }
}
