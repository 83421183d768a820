/*
 * state.c — names (MPLAB_PREFIX), the state directory (MPLAB_RUNDIR), running topologies,
 * and their removal.
 */
#include "testbed/testbed.h"
#include "common/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *
mpl_tb_prefix(void)
{
    static const char *prefix;
    if (prefix)
        return prefix;
    const char *p = getenv("MPLAB_PREFIX");
    if (p == NULL || *p == '\0')
        p = "mpl";
    size_t n = strlen(p);
    int ok = n <= 12;
    for (size_t i = 0; i < n && ok; i++)
        ok = isalnum((unsigned char)p[i]);
    if (!ok) {
        mpl_err("MPLAB_PREFIX '%s': use at most 12 letters and digits", p);
        exit(2);
    }
    prefix = p;
    return prefix;
}

const char *
mpl_tb_rundir(void)
{
    const char *d = getenv("MPLAB_RUNDIR");
    return d && *d ? d : "/run/mplab";
}

void
mpl_tb_host_ns(const mpl_topology_t *t, int host, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%s-%s", mpl_tb_prefix(), t->name, t->hosts[host].name);
}

void
mpl_tb_link_ns(const mpl_topology_t *t, int link, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%s-_%s", mpl_tb_prefix(), t->name, t->links[link].name);
}

void
mpl_tb_state_path(const char *topo, const char *file, char *buf, size_t len)
{
    if (file)
        snprintf(buf, len, "%s/%s-%s/%s", mpl_tb_rundir(), mpl_tb_prefix(), topo, file);
    else
        snprintf(buf, len, "%s/%s-%s", mpl_tb_rundir(), mpl_tb_prefix(), topo);
}

static int
cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int
mpl_tb_list(char names[][MPL_TB_TOPO_MAX + 1], int max)
{
    DIR *d = opendir(mpl_tb_rundir());
    if (!d)
        return errno == ENOENT ? 0 : -1;
    char pfx[32];
    snprintf(pfx, sizeof(pfx), "%s-", mpl_tb_prefix());
    size_t pl = strlen(pfx);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < max) {
        if (strncmp(de->d_name, pfx, pl) != 0 || strlen(de->d_name + pl) > MPL_TB_TOPO_MAX ||
            strchr(de->d_name + pl, '-'))
            continue;
        snprintf(names[n++], MPL_TB_TOPO_MAX + 1, "%s", de->d_name + pl);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
    return n;
}

int
mpl_tb_load_running(const char *name, mpl_topology_t *t)
{
    char names[64][MPL_TB_TOPO_MAX + 1];
    char one[MPL_TB_TOPO_MAX + 1];
    if (name == NULL) {
        int n = mpl_tb_list(names, 64);
        if (n <= 0) {
            mpl_err("no topology is up (prefix '%s'); start one with 'mplab topo up FILE'", mpl_tb_prefix());
            return -1;
        }
        if (n > 1) {
            mpl_err("%d topologies are up; choose one with --topo NAME", n);
            return -1;
        }
        snprintf(one, sizeof(one), "%s", names[0]);
        name = one;
    }
    char path[512], err[600];
    mpl_tb_state_path(name, "topology.ini", path, sizeof(path));
    if (access(path, R_OK) != 0) {
        mpl_err("topology '%s' is not up (prefix '%s')", name, mpl_tb_prefix());
        return -1;
    }
    if (mpl_topo_load(path, t, err, sizeof(err)) != 0) {
        mpl_err("%s", err);
        return -1;
    }
    snprintf(t->name, sizeof(t->name), "%s", name);
    return 0;
}

mpl_tb_shared_t *
mpl_tb_shared_map(const mpl_topology_t *t, int link, int create)
{
    char file[64], path[512];
    snprintf(file, sizeof(file), "%s.link", t->links[link].name);
    mpl_tb_state_path(t->name, file, path, sizeof(path));
    int fd = open(path, (create ? O_RDWR | O_CREAT : O_RDWR) | O_CLOEXEC, 0644);
    if (fd < 0)
        return NULL;
    if (create && ftruncate(fd, sizeof(mpl_tb_shared_t)) != 0) {
        close(fd);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(mpl_tb_shared_t)) {
        close(fd);
        return NULL;
    }
    void *p = mmap(NULL, sizeof(mpl_tb_shared_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    mpl_tb_shared_t *s = p;
    if (!create && s->magic != MPL_TB_SHARED_MAGIC) {
        munmap(p, sizeof(*s));
        return NULL;
    }
    return s;
}

void
mpl_tb_shared_unmap(mpl_tb_shared_t *s)
{
    if (s)
        munmap(s, sizeof(*s));
}

/* ---- removal ------------------------------------------------------------------------------ */

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Kills pids: TERM, then KILL for those still there after ~300 ms. */
static void
kill_pids(const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGTERM);
    for (int round = 0; round < 30; round++) {
        int alive = 0;
        for (int i = 0; i < n; i++)
            if (kill(pids[i], 0) == 0) {
                char path[64], st[256] = "";
                snprintf(path, sizeof(path), "/proc/%d/stat", (int)pids[i]);
                FILE *f = fopen(path, "r");
                if (f) {
                    if (!fgets(st, sizeof(st), f))
                        st[0] = '\0';
                    fclose(f);
                }
                char *rp = strrchr(st, ')');
                if (rp && rp[1] == ' ' && rp[2] == 'Z') /* zombie: gone for our purpose */
                    continue;
                alive++;
            }
        if (!alive)
            return;
        sleep_ms(10);
    }
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
}

/* 1 when pid is one of our daemons (named "mplab-..." with prctl), not a reused pid. */
static int is_ours(int pid);

int
mpl_tb_forwarder_alive(const mpl_topology_t *t, int link)
{
    char file[64], path[512];
    snprintf(file, sizeof(file), "fwd-%s.pid", t->links[link].name);
    mpl_tb_state_path(t->name, file, path, sizeof(path));
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int pid = 0;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid <= 1 || !is_ours(pid))
        return 0;
    char st[256] = "";
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(st, sizeof(st), f))
        st[0] = '\0';
    fclose(f);
    char *rp = strrchr(st, ')');
    return rp && rp[1] == ' ' && rp[2] != 'Z';
}

static int
is_ours(int pid)
{
    char path[64], comm[32] = "";
    snprintf(path, sizeof(path), "/proc/%d/comm", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(comm, sizeof(comm), f))
        comm[0] = '\0';
    fclose(f);
    return strncmp(comm, "mplab-", 6) == 0;
}

/* Kills the pids listed in the *.pid files of a state directory. */
static void
kill_state_pids(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    pid_t pids[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 256) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".pid") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int pid;
        if (fscanf(f, "%d", &pid) == 1 && pid > 1 && is_ours(pid))
            pids[n++] = (pid_t)pid;
        fclose(f);
    }
    closedir(d);
    kill_pids(pids, n);
}

static int
remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (unlink(path) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(dir) != 0)
        rc = -1;
    return rc;
}

/* Deletes namespaces whose names start with pfx (killing what runs inside first). */
static int
remove_namespaces(const char *pfx)
{
    DIR *d = opendir("/run/netns");
    if (!d)
        return 0;
    char names[256][256];
    int n = 0;
    struct dirent *de;
    size_t pl = strlen(pfx);
    while ((de = readdir(d)) != NULL && n < 256)
        if (strncmp(de->d_name, pfx, pl) == 0)
            snprintf(names[n++], sizeof(names[0]), "%s", de->d_name);
    closedir(d);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        pid_t pids[256];
        int np = mpl_tb_netns_pids(names[i], pids, 256);
        if (np > 0)
            kill_pids(pids, np);
    }
    for (int i = 0; i < n; i++) {
        char cmd[512], err[256];
        snprintf(cmd, sizeof(cmd), "ip netns del %.255s", names[i]);
        if (mpl_tb_run(cmd, err, sizeof(err)) != 0 && mpl_tb_netns_exists(names[i])) {
            mpl_err("cannot remove namespace %s: %s", names[i], err);
            rc = -1;
        }
    }
    return rc;
}

int
mpl_tb_down(const char *name)
{
    char dir[512], pfx[64];
    mpl_tb_state_path(name, NULL, dir, sizeof(dir));
    kill_state_pids(dir);
    snprintf(pfx, sizeof(pfx), "%s-%s-", mpl_tb_prefix(), name);
    int rc = remove_namespaces(pfx);
    if (remove_dir(dir) != 0) {
        mpl_err("cannot remove %s: %s", dir, strerror(errno));
        rc = -1;
    }
    return rc;
}

int
mpl_tb_down_all(void)
{
    char names[256][MPL_TB_TOPO_MAX + 1];
    int n = mpl_tb_list(names, 256), rc = 0;
    for (int i = 0; i < n; i++)
        if (mpl_tb_down(names[i]) != 0)
            rc = -1;
    char pfx[32];
    snprintf(pfx, sizeof(pfx), "%s-", mpl_tb_prefix());
    if (remove_namespaces(pfx) != 0)
        rc = -1;
    return rc;
}
