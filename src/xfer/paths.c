/*
 * paths.c — see paths.h.
 */
#include "xfer/paths.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define MAX_REMOTES 9 /* connection 0's address and 8 New Address frames */

static int common_prefix(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

/* The same IP address (ports aside). */
static int
same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    return common_prefix(a, b) == (a->ss_family == AF_INET ? 32 : 128);
}

void
mpl_paths_init(mpl_paths_t *ps, const mpl_client_cfg_t *cfg, int fd0)
{
    mpl_path_t *p = &ps->p[0];

    memset(ps, 0, sizeof(*ps));
    ps->cfg = cfg;
    ps->fullmesh = cfg->tcpls_paths != NULL && strcmp(cfg->tcpls_paths, "fullmesh") == 0;
    p->remote_len = sizeof(p->remote);
    if (getpeername(fd0, (struct sockaddr *)&p->remote, &p->remote_len) != 0)
        return;
    /* the --bind address connection 0 went from (it may not be the first: mpl_tcpls_get
     * tries them in turn), else the first of the family */
    struct sockaddr_storage me;
    socklen_t ml = sizeof(me);
    p->bind_idx = -1;
    if (getsockname(fd0, (struct sockaddr *)&me, &ml) == 0)
        for (size_t b = 0; b < cfg->n_bind && p->bind_idx < 0; b++)
            if (same_host(&cfg->bind[b], &me))
                p->bind_idx = (int)b;
    for (size_t b = 0; b < cfg->n_bind && p->bind_idx < 0; b++)
        if (cfg->bind[b].ss_family == p->remote.ss_family)
            p->bind_idx = (int)b;
    p->backup = p->bind_idx >= 0 && cfg->bind_backup[p->bind_idx];
    p->conn = 0;
    ps->n = 1;
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_addr.s_addr == y->sin_addr.s_addr && x->sin_port == y->sin_port;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 && x->sin6_port == y->sin6_port;
}

/* Leading bits in common (the server address "closest" to a local address: same subnet). */
static int
common_prefix(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    const uint8_t *x, *y;
    size_t n;
    int bits = 0;
    if (a->ss_family != b->ss_family)
        return -1;
    if (a->ss_family == AF_INET) {
        x = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
        y = (const uint8_t *)&((const struct sockaddr_in *)b)->sin_addr;
        n = 4;
    } else {
        x = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
        y = (const uint8_t *)&((const struct sockaddr_in6 *)b)->sin6_addr;
        n = 16;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t d = x[i] ^ y[i];
        if (d == 0) {
            bits += 8;
            continue;
        }
        while (!(d & 0x80)) {
            bits++;
            d <<= 1;
        }
        break;
    }
    return bits;
}

static int
has_path(const mpl_paths_t *ps, int bind_idx, const struct sockaddr_storage *remote)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->p[i].bind_idx == bind_idx && (remote == NULL || same_addr(&ps->p[i].remote, remote)))
            return 1;
    return 0;
}

static void
add_path(mpl_paths_t *ps, size_t b, const struct sockaddr_storage *remote)
{
    mpl_path_t *p = &ps->p[ps->n++];
    memset(p, 0, sizeof(*p));
    p->bind_idx = (int)b;
    p->remote = *remote;
    p->remote_len = remote->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    p->backup = ps->cfg->bind_backup[b];
    p->conn = -1;
}

static void
to_sockaddr(const tcpls_addr_t *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->version == 4) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        memcpy(&in->sin_addr, a->addr, 4);
        in->sin_port = htons(a->port);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        memcpy(&in6->sin6_addr, a->addr, 16);
        in6->sin6_port = htons(a->port);
    }
}

/* The server's addresses: connection 0's, then the advertised ones (removed ones mark their
 * paths instead). Returns how many went to rem. */
static size_t
server_addresses(mpl_paths_t *ps, tcpls_session_t *s, struct sockaddr_storage *rem)
{
    size_t nr = 0, na = tcpls_session_peer_address_count(s);

    rem[nr++] = ps->p[0].remote;
    for (size_t i = 0; i < na && nr < MAX_REMOTES; i++) {
        tcpls_addr_t a;
        struct sockaddr_storage ss;
        if (tcpls_session_peer_address(s, i, &a) != 0)
            continue;
        to_sockaddr(&a, &ss);
        if (a.removed) {
            for (size_t k = 0; k < ps->n; k++)
                if (same_addr(&ps->p[k].remote, &ss))
                    ps->p[k].retry_ns = UINT64_MAX;
            continue;
        }
        int dup = 0;
        for (size_t k = 0; k < nr; k++)
            dup |= same_addr(&rem[k], &ss);
        if (!dup)
            rem[nr++] = ss;
    }
    return nr;
}

void
mpl_paths_update(mpl_paths_t *ps, tcpls_session_t *s)
{
    const mpl_client_cfg_t *cfg = ps->cfg;
    struct sockaddr_storage rem[MAX_REMOTES];

    if (ps->n == 0)
        return;
    size_t nr = server_addresses(ps, s, rem);
    for (size_t b = 0; b < cfg->n_bind && ps->n < MPL_PATHS_MAX; b++) {
        const struct sockaddr_storage *local = &cfg->bind[b];
        if (ps->fullmesh) {
            for (size_t r = 0; r < nr && ps->n < MPL_PATHS_MAX; r++)
                if (rem[r].ss_family == local->ss_family && !has_path(ps, (int)b, &rem[r]))
                    add_path(ps, b, &rem[r]);
            continue;
        }
        if (has_path(ps, (int)b, NULL))
            continue;
        int best = -1, best_bits = -1;
        for (size_t r = 0; r < nr; r++) {
            int bits = common_prefix(local, &rem[r]);
            if (bits > best_bits) {
                best_bits = bits;
                best = (int)r;
            }
        }
        if (best >= 0)
            add_path(ps, b, &rem[best]);
    }
}

int
mpl_paths_from_bind(const mpl_paths_t *ps, int bind_idx)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->p[i].bind_idx == bind_idx)
            return (int)i;
    return -1;
}

int
mpl_paths_addr_is(const struct sockaddr_storage *ss, const tcpls_addr_t *a)
{
    if (a->version == 4 && ss->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)ss)->sin_addr, a->addr, 4) == 0;
    if (a->version == 6 && ss->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)ss)->sin6_addr, a->addr, 16) == 0;
    return 0;
}
