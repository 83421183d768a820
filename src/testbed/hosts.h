/*
 * hosts.h — real hosts over OpenSSH (docs/TESTBED.md, "Real hosts over SSH"): the hosts file
 * that says how to reach each scenario host and which interface carries each link, and the
 * ssh engine (ControlMaster connection sharing, BatchMode, every remote argument quoted).
 *
 * A host is either reached with ssh or 'local': a namespace host of a running topology with
 * the same name, where commands run after entering its namespace.
 */
#ifndef MPLAB_HOSTS_H
#define MPLAB_HOSTS_H

#include <stddef.h>
#include <sys/types.h>

#define MPL_HOSTS_MAX      16
#define MPL_HOSTS_IFACES   32
#define MPL_HOSTS_NAME_MAX 31
#define MPL_HOSTS_IFNAME   15 /* IFNAMSIZ - 1 */

typedef struct mpl_hosts_iface {
    char link[MPL_HOSTS_NAME_MAX + 1];
    char ifname[MPL_HOSTS_IFNAME + 1];
} mpl_hosts_iface_t;

typedef struct mpl_host {
    char name[MPL_HOSTS_NAME_MAX + 1];
    int line;       /* line of the section header */
    int local;      /* ssh = local */
    char user[64];  /* may be empty: ssh's default */
    char addr[256]; /* host name or address (IPv6 without brackets) */
    int port;       /* 0: ssh's default */
    char identity[512];
    char options[1024];  /* ssh_options: blank-separated 'Option=value' words, each given as -o */
    char mplab[256];     /* the mplab command on the host (default "mplab") */
    char state_dir[256]; /* where snapshot records live on the host (default /var/lib/mplab/hosts-state) */
    char topo[32];       /* local: the running topology (empty: the only one) */
    int n_ifaces;
    mpl_hosts_iface_t ifaces[MPL_HOSTS_IFACES];
} mpl_host_t;

typedef struct mpl_hosts {
    int n;
    mpl_host_t hosts[MPL_HOSTS_MAX];
} mpl_hosts_t;

/* Parses a hosts file held in text[0..len). Returns 0, or -1 with "FILE:LINE: MESSAGE". */
int mpl_hosts_parse(const char *text, size_t len, const char *fname, mpl_hosts_t *hs, char *err,
                    size_t errlen);
/* Reads and parses the file at path. Returns 0 or -1 (err). */
int mpl_hosts_load(const char *path, mpl_hosts_t *hs, char *err, size_t errlen);
/* Returns the index of host name, or -1. */
int mpl_hosts_find(const mpl_hosts_t *hs, const char *name);

/* Appends the POSIX shell quoting of s ('...' with '\'' for quotes) to out. Returns 0, or -1
 * when out[len] is too small. */
int mpl_hosts_quote(const char *s, char *out, size_t len);
/* Quotes and joins args[0..n) with blanks into out: one remote command line. Returns 0 or -1. */
int mpl_hosts_join(char *const *args, int n, char *out, size_t len);

/* ---- the engine ---------------------------------------------------------------------------
 * Every call takes the control directory (the master sockets, one per destination): see
 * mpl_hosts_ctl_dir. A remote 'script' is a shell command line run by the host's login shell
 * (ssh) or by /bin/sh inside the namespace (local). */

/* "RUNDIR/ssh" (MPLAB_RUNDIR, default /run/mplab), created (0700) when missing. Returns 0 or -1. */
int mpl_hosts_ctl_dir(char *buf, size_t len, char *err, size_t errlen);

/* Builds the ssh argv for script on h into argv[0..max) (NULL-terminated), with strings in
 * store[storelen]. Returns the count, or -1 when it does not fit. */
int mpl_hosts_ssh_argv(const mpl_host_t *h, const char *ctl_dir, const char *script, char **argv, int max,
                       char *store, size_t storelen);

/* Runs script on h; stdout and stderr are captured into out and errout (NUL-terminated,
 * truncated to their sizes; either may be NULL: discarded). *status gets the exit status
 * (255: ssh could not connect, 126/127: could not run). Returns 0, or -1 with err when the
 * command could not be started. */
int mpl_hosts_run(const mpl_host_t *h, const char *ctl_dir, const char *script, char *out, size_t outlen,
                  char *errout, size_t errlen_out, int *status, char *err, size_t errlen);
/* Starts script on h in the background (stdin /dev/null, stdout/stderr inherited). Returns the
 * local pid (ssh, or the namespace shell), or -1 with err. */
pid_t mpl_hosts_spawn(const mpl_host_t *h, const char *ctl_dir, const char *script, char *err, size_t errlen);
/* Replaces the process with argv run on h (stdio passed through, exit status of the command).
 * Returns only on failure: -1 with err. */
int mpl_hosts_exec(const mpl_host_t *h, const char *ctl_dir, char *const *argv, int argc, char *err,
                   size_t errlen);
/* Copies the remote file rpath of h to the local file lpath. Returns 0 or -1 (err). */
int mpl_hosts_fetch(const mpl_host_t *h, const char *ctl_dir, const char *rpath, const char *lpath, char *err,
                    size_t errlen);
/* Closes h's master connection (ssh -O exit); nothing for local hosts or when none is open. */
void mpl_hosts_close(const mpl_host_t *h, const char *ctl_dir);

#endif
