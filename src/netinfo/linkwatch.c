/*
 * linkwatch.c — see linkwatch.h.
 */
#include "netinfo/linkwatch.h"

#include <ifaddrs.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errno.h>

struct mpl_ifstate {
    struct ifaddrs *ifa;
};

int
mpl_linkwatch_open(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK,
                             .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR};
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int
mpl_linkwatch_drain(int fd)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct nlmsghdr))));
    int changed = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ENOBUFS) {
            changed = 1; /* notifications were lost: assume something changed */
            continue;
        }
        if (n <= 0)
            return changed;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
            switch (h->nlmsg_type) {
            case RTM_NEWLINK:
            case RTM_DELLINK:
            case RTM_NEWADDR:
            case RTM_DELADDR:
                changed = 1;
                break;
            default:
                break;
            }
        }
    }
}

mpl_ifstate_t *
mpl_ifstate_get(void)
{
    mpl_ifstate_t *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    if (getifaddrs(&st->ifa) != 0) {
        free(st);
        return NULL;
    }
    return st;
}

void
mpl_ifstate_free(mpl_ifstate_t *st)
{
    if (st == NULL)
        return;
    freeifaddrs(st->ifa);
    free(st);
}

static int
same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a == NULL || b == NULL || a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
    return 0;
}

static int
is_wildcard(const struct sockaddr *a)
{
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (a->sa_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)a)->sin6_addr);
    return 1;
}

int
mpl_ifstate_addr_usable(const mpl_ifstate_t *st, const struct sockaddr *addr, char *ifname, size_t len)
{
    if (ifname != NULL && len > 0)
        ifname[0] = '\0';
    if (st == NULL || addr == NULL || is_wildcard(addr))
        return 1;
    for (const struct ifaddrs *i = st->ifa; i != NULL; i = i->ifa_next) {
        if (!same_addr(i->ifa_addr, addr))
            continue;
        if (ifname != NULL && len > 0) {
            strncpy(ifname, i->ifa_name, len - 1);
            ifname[len - 1] = '\0';
        }
        /* glibc gives address entries their interface's flags; IFF_RUNNING = operationally up
         * (carrier). Loopback never loses it. */
        return (i->ifa_flags & IFF_UP) && (i->ifa_flags & IFF_RUNNING);
    }
    return 1; /* not an interface's own address (e.g. 127.0.0.2 on lo): nothing known */
}

int
mpl_ifstate_sock_usable(const mpl_ifstate_t *st, int fd, char *ifname, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (ifname != NULL && len > 0)
        ifname[0] = '\0';
    if (st == NULL || fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 1;
    return mpl_ifstate_addr_usable(st, (struct sockaddr *)&ss, ifname, len);
}
