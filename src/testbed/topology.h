/*
 * topology.h — the testbed's topology model and its INI file parser (docs/TESTBED.md).
 *
 * A topology is a set of hosts (network namespaces) joined by point-to-point links. Each
 * link has, per direction, a rate, a one-way delay, a loss rate and a queue size. The parser
 * never aborts on bad input: it returns -1 with "FILE:LINE: problem" in err.
 */
#ifndef MPLAB_TESTBED_TOPOLOGY_H
#define MPLAB_TESTBED_TOPOLOGY_H

#include "testbed/linkmodel.h"

#include <stddef.h>
#include <stdint.h>

#define MPL_TB_MAX_HOSTS  16
#define MPL_TB_MAX_LINKS  32
#define MPL_TB_MAX_EVENTS 64
/* Host and link names: [a-z][a-z0-9_]*, at most 11 characters (link names become
 * interface names inside the hosts). Topology names: at most 16 characters. */
#define MPL_TB_NAME_MAX  11
#define MPL_TB_TOPO_MAX  16
#define MPL_TB_MAX_RATE  100000000000ull /* 100 Gbit/s */
#define MPL_TB_MAX_DELAY 10000000000ull  /* 10 s */
#define MPL_TB_MTU_FRAME 1514u           /* bytes of one full Ethernet frame (queue in packets) */

/* MPTCP endpoint flags (the kernel's MPTCP_PM_ADDR_FLAG_* values). */
enum {
    MPL_TB_EP_SIGNAL = 1u << 0,
    MPL_TB_EP_SUBFLOW = 1u << 1,
    MPL_TB_EP_BACKUP = 1u << 2,
    MPL_TB_EP_FULLMESH = 1u << 3,
};

enum { MPL_TB_A2B = 0, MPL_TB_B2A = 1 };

typedef enum mpl_tb_backend {
    MPL_TB_BACKEND_AUTO = 0, /* netem when the kernel has it, else the forwarder */
    MPL_TB_BACKEND_FORWARDER,
    MPL_TB_BACKEND_NETEM,
} mpl_tb_backend_t;

/* One direction of a link. */
typedef struct mpl_tb_dir {
    uint64_t rate_bps;    /* 0 = unlimited */
    uint64_t delay_ns;    /* one-way delay */
    double loss_pct;      /* 0..100 */
    uint64_t queue_bytes; /* 0 = default (see mpl_tb_queue_bytes) */
    /* jitter, loss correlation / Gilbert-Elliott, reorder, duplicate, corrupt (linkmodel.h);
     * its delay_ns and loss_pct are unused here: the two fields above hold them */
    mpl_lm_params_t model;
    /* trace-driven rate (Mahimahi format, docs/TESTBED.md): the file's absolute path, "" =
     * none, and its mean rate (then rate_bps is 0: the forwarder, not a tbf, paces) */
    char trace[200];
    uint64_t trace_bps;
} mpl_tb_dir_t;

typedef struct mpl_tb_link {
    char name[MPL_TB_NAME_MAX + 1];
    int a, b;             /* host indexes */
    mpl_tb_dir_t dir[2];  /* [MPL_TB_A2B], [MPL_TB_B2A] */
    uint32_t addr[2];     /* IPv4 of the a and b ends, host byte order */
    uint8_t plen;         /* prefix length of the link's subnet */
    int has6;             /* IPv6 addresses too (a_addr6/b_addr6, or [topology] ipv6 = yes) */
    uint8_t addr6[2][16]; /* IPv6 of the a and b ends */
    uint8_t plen6;        /* their prefix length (default 64) */
    int ep_flags[2];      /* MPTCP endpoint flags of each end; -1 = the host's */
    int line;             /* line of the [link NAME] header */
} mpl_tb_link_t;

typedef struct mpl_tb_host {
    char name[MPL_TB_NAME_MAX + 1];
    int router;         /* forwarding on */
    int ep_flags;       /* MPTCP endpoint flags for every address; 0 = none */
    int limit_subflows; /* -1 = default (8) */
    int limit_add_addr; /* -1 = default (8) */
    int default_link;   /* link index of the default route, -1 = first link */
    int line;
} mpl_tb_host_t;

typedef enum mpl_tb_action {
    MPL_TB_ACT_DOWN = 0,
    MPL_TB_ACT_UP,
    MPL_TB_ACT_BLACKHOLE,
    MPL_TB_ACT_RATE,
    MPL_TB_ACT_DELAY,
    MPL_TB_ACT_LOSS,
    MPL_TB_ACT_MODEL, /* a link-model key (jitter, loss_ge, ...): key and text below */
} mpl_tb_action_t;

/* A change of one link: from 'mplab link set' or from the [events] section. */
typedef struct mpl_tb_change {
    int link; /* link index */
    int dir;  /* -1 both directions, else MPL_TB_A2B / MPL_TB_B2A */
    mpl_tb_action_t action;
    uint64_t value; /* rate in bit/s, delay in ns */
    double loss_pct;
    char key[16];  /* MPL_TB_ACT_MODEL: the key ("jitter") */
    char text[48]; /* MPL_TB_ACT_MODEL: its value ("5ms", "1% 30%") */
} mpl_tb_change_t;

typedef struct mpl_tb_event {
    uint64_t at_ns; /* since the topology came up */
    mpl_tb_change_t change;
    int line;
} mpl_tb_event_t;

typedef struct mpl_topology {
    char name[MPL_TB_TOPO_MAX + 1];
    int mptcp; /* configure MPTCP endpoints and limits */
    int ipv6;  /* every link gets IPv6 addresses (fd00:0:N::1/64, ::2 by default) */
    mpl_tb_backend_t backend;
    char capture_dir[256]; /* capture every link into DIR/LINK.pcap while up; "" = no */
    mpl_tb_host_t hosts[MPL_TB_MAX_HOSTS];
    int n_hosts;
    mpl_tb_link_t links[MPL_TB_MAX_LINKS];
    int n_links;
    mpl_tb_event_t events[MPL_TB_MAX_EVENTS];
    int n_events;
} mpl_topology_t;

/* Parses a topology from text[0..len) (need not be NUL-terminated). fname names the file in
 * error messages. The topology name defaults to the stem of fname when the file gives none.
 * Returns 0, or -1 with "FNAME:LINE: problem" in err. */
int mpl_topo_parse(const char *text, size_t len, const char *fname, mpl_topology_t *t, char *err,
                   size_t errlen);
/* Reads and parses a file. Returns 0 or -1 (err set). */
int mpl_topo_load(const char *path, mpl_topology_t *t, char *err, size_t errlen);

/* Index of a host / link by name, or -1. */
int mpl_topo_host(const mpl_topology_t *t, const char *name);
int mpl_topo_link(const mpl_topology_t *t, const char *name);

/* Parses a change: tokens "down" | "up" | "blackhole" | "rate R" | "delay D" | "loss P" | a
 * link-model key and its value ("jitter 5ms", "loss_ge 1% 30%"), optionally followed by
 * "dir a2b|b2a". link is set by the caller. Returns 0 or -1 (err). */
int mpl_tb_change_parse(int ntok, char **tok, mpl_tb_change_t *c, char *err, size_t errlen);
/* Formats a change as tokens again ("rate 10000000bit dir a2b"). Returns buf. */
const char *mpl_tb_change_fmt(const mpl_tb_change_t *c, char *buf, size_t len);

/* Parses "subflow fullmesh", "signal,backup", "none" into MPL_TB_EP_* flags. Returns 0 or -1. */
int mpl_tb_ep_flags_parse(const char *s, int *flags);
/* Formats flags as "signal subflow backup fullmesh" (or "none"). Returns buf. */
const char *mpl_tb_ep_flags_fmt(int flags, char *buf, size_t len);

/* Queue size in bytes of one direction: the configured one, else max(64 frames, the
 * bandwidth-delay product of rate x 2 x delay). */
uint64_t mpl_tb_queue_bytes(const mpl_tb_dir_t *d);

/* The full link model of one direction: d->model with d's delay and loss. */
void mpl_tb_dir_model(const mpl_tb_dir_t *d, mpl_lm_params_t *m);

/* Formats an IPv6 address into buf (at least 46 bytes). Returns buf. */
const char *mpl_tb_fmt_ip6(const uint8_t a[16], char *buf, size_t len);
/* 1 when some link of t has IPv6 addresses. */
int mpl_topo_has_ipv6(const mpl_topology_t *t);

/* Formats an IPv4 address (host byte order) into buf. Returns buf. */
const char *mpl_tb_fmt_ip4(uint32_t a, char *buf, size_t len);

#endif
