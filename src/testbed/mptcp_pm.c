/*
 * mptcp_pm.c — MPTCP endpoints and limits through the generic netlink family "mptcp_pm"
 * (what 'ip mptcp endpoint/limits' do), with libmnl. Works in the current namespace.
 */
#include "testbed/testbed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* uapi values of the mptcp_pm family (Debian's headers do not all carry them) */
enum {
    PM_CMD_ADD_ADDR = 1,
    PM_CMD_GET_ADDR = 3,
    PM_CMD_FLUSH_ADDRS = 4,
    PM_CMD_SET_LIMITS = 5,
};
enum {
    PM_ATTR_ADDR = 1,
    PM_ATTR_RCV_ADD_ADDRS = 2,
    PM_ATTR_SUBFLOWS = 3,
};
enum {
    PM_ADDR_ATTR_FAMILY = 1,
    PM_ADDR_ATTR_ID = 2,
    PM_ADDR_ATTR_ADDR4 = 3,
    PM_ADDR_ATTR_ADDR6 = 4,
    PM_ADDR_ATTR_FLAGS = 6,
    PM_ADDR_ATTR_IF_IDX = 7,
};
#define PM_FAMILY_NAME "mptcp_pm"
#define PM_VERSION     1

typedef struct pm {
    struct mnl_socket *nl;
    uint16_t family;
    uint32_t seq, portid;
    char *err;
    size_t errlen;
} pm_t;

static int
family_cb(const struct nlmsghdr *nlh, void *data)
{
    uint16_t *id = data;
    struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
    {
        if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID && mnl_attr_validate(a, MNL_TYPE_U16) >= 0)
            *id = mnl_attr_get_u16(a);
    }
    return MNL_CB_OK;
}

static struct nlmsghdr *
msg_begin(pm_t *pm, char *buf, uint16_t type, uint16_t flags, uint8_t cmd, uint8_t version)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = ++pm->seq;
    struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
    g->cmd = cmd;
    g->version = version;
    return nlh;
}

/* Sends nlh and reads the answer(s) through cb (NULL: only the ack). Returns 0 or -errno. */
static int
transact(pm_t *pm, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
    char buf[MNL_SOCKET_BUFFER_SIZE];
    uint32_t seq = nlh->nlmsg_seq;
    if (mnl_socket_sendto(pm->nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(pm->nl, buf, sizeof(buf));
        if (n < 0)
            return -errno;
        int rc = mnl_cb_run(buf, (size_t)n, seq, pm->portid, cb, data);
        if (rc < 0)
            return -errno;
        if (rc == MNL_CB_STOP)
            return 0;
    }
}

static int
pm_open(pm_t *pm, char *err, size_t errlen)
{
    memset(pm, 0, sizeof(*pm));
    pm->err = err;
    pm->errlen = errlen;
    pm->seq = (uint32_t)time(NULL);
    pm->nl = mnl_socket_open(NETLINK_GENERIC);
    if (!pm->nl || mnl_socket_bind(pm->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        snprintf(err, errlen, "netlink: %s", strerror(errno));
        if (pm->nl)
            mnl_socket_close(pm->nl);
        return -1;
    }
    pm->portid = mnl_socket_get_portid(pm->nl);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = msg_begin(pm, buf, GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
    mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, PM_FAMILY_NAME);
    int rc = transact(pm, nlh, family_cb, &pm->family);
    if (rc < 0 || pm->family == 0) {
        snprintf(err, errlen, "generic netlink family '%s' not found (kernel without MPTCP?): %s",
                 PM_FAMILY_NAME, strerror(rc < 0 ? -rc : ENOENT));
        mnl_socket_close(pm->nl);
        return -1;
    }
    return 0;
}

static int
pm_simple(pm_t *pm, struct nlmsghdr *nlh, const char *what)
{
    int rc = transact(pm, nlh, NULL, NULL);
    if (rc < 0) {
        snprintf(pm->err, pm->errlen, "mptcp %s: %s", what, strerror(-rc));
        return -1;
    }
    return 0;
}

int
mpl_tb_mptcp_configure(int subflows, int add_addr_accepted, const mpl_tb_endpoint_t *eps, int n, char *err,
                       size_t errlen)
{
    pm_t pm;
    if (pm_open(&pm, err, errlen) != 0)
        return -1;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    int rc = -1;

    struct nlmsghdr *nlh = msg_begin(&pm, buf, pm.family, NLM_F_ACK, PM_CMD_FLUSH_ADDRS, PM_VERSION);
    if (pm_simple(&pm, nlh, "flush") != 0)
        goto out;
    nlh = msg_begin(&pm, buf, pm.family, NLM_F_ACK, PM_CMD_SET_LIMITS, PM_VERSION);
    mnl_attr_put_u32(nlh, PM_ATTR_RCV_ADD_ADDRS, (uint32_t)add_addr_accepted);
    mnl_attr_put_u32(nlh, PM_ATTR_SUBFLOWS, (uint32_t)subflows);
    if (pm_simple(&pm, nlh, "limits") != 0)
        goto out;
    for (int i = 0; i < n; i++) {
        nlh = msg_begin(&pm, buf, pm.family, NLM_F_ACK, PM_CMD_ADD_ADDR, PM_VERSION);
        struct nlattr *nest = mnl_attr_nest_start(nlh, PM_ATTR_ADDR | NLA_F_NESTED);
        int v6 = eps[i].family == AF_INET6;
        mnl_attr_put_u16(nlh, PM_ADDR_ATTR_FAMILY, v6 ? AF_INET6 : AF_INET);
        mnl_attr_put_u8(nlh, PM_ADDR_ATTR_ID, (uint8_t)eps[i].id);
        if (v6)
            mnl_attr_put(nlh, PM_ADDR_ATTR_ADDR6, 16, eps[i].addr6);
        else
            mnl_attr_put_u32(nlh, PM_ADDR_ATTR_ADDR4, htonl(eps[i].addr));
        mnl_attr_put_u32(nlh, PM_ADDR_ATTR_FLAGS, (uint32_t)eps[i].flags);
        if (eps[i].ifindex > 0)
            mnl_attr_put_u32(nlh, PM_ADDR_ATTR_IF_IDX, (uint32_t)eps[i].ifindex);
        mnl_attr_nest_end(nlh, nest);
        if (pm_simple(&pm, nlh, "endpoint add") != 0)
            goto out;
    }
    rc = 0;
out:
    mnl_socket_close(pm.nl);
    return rc;
}

typedef struct dump_ctx {
    mpl_tb_endpoint_t *eps;
    int max, n;
} dump_ctx_t;

static int
addr_cb(const struct nlmsghdr *nlh, void *data)
{
    dump_ctx_t *d = data;
    struct nlattr *a, *b;
    mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
    {
        if ((mnl_attr_get_type(a) & NLA_TYPE_MASK) != PM_ATTR_ADDR || d->n >= d->max)
            continue;
        mpl_tb_endpoint_t *e = &d->eps[d->n];
        memset(e, 0, sizeof(*e));
        mnl_attr_for_each_nested(b, a)
        {
            switch (mnl_attr_get_type(b)) {
            case PM_ADDR_ATTR_ID:
                e->id = mnl_attr_get_u8(b);
                break;
            case PM_ADDR_ATTR_ADDR4:
                e->family = AF_INET;
                e->addr = ntohl(mnl_attr_get_u32(b));
                break;
            case PM_ADDR_ATTR_ADDR6:
                if (mnl_attr_get_payload_len(b) == 16) {
                    e->family = AF_INET6;
                    memcpy(e->addr6, mnl_attr_get_payload(b), 16);
                }
                break;
            case PM_ADDR_ATTR_FLAGS:
                e->flags = (int)mnl_attr_get_u32(b);
                break;
            case PM_ADDR_ATTR_IF_IDX:
                e->ifindex = (int)mnl_attr_get_u32(b);
                break;
            default:
                break;
            }
        }
        d->n++;
    }
    return MNL_CB_OK;
}

int
mpl_tb_mptcp_dump(mpl_tb_endpoint_t *eps, int max, char *err, size_t errlen)
{
    pm_t pm;
    if (pm_open(&pm, err, errlen) != 0)
        return -1;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = msg_begin(&pm, buf, pm.family, NLM_F_DUMP, PM_CMD_GET_ADDR, PM_VERSION);
    dump_ctx_t d = {eps, max, 0};
    int rc = transact(&pm, nlh, addr_cb, &d);
    mnl_socket_close(pm.nl);
    if (rc < 0) {
        snprintf(err, errlen, "mptcp endpoint dump: %s", strerror(-rc));
        return -1;
    }
    return d.n;
}
