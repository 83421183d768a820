/*
 * netns.c — entering network namespaces, running ip/tc/ethtool, writing sysctls.
 *
 * mplab is single-threaded: it enters a namespace with setns() and every command it spawns
 * then runs there, which makes the executed commands the same as the printed ones.
 */
#include "testbed/testbed.h"
#include "common/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int origin_fd = -1;

int
mpl_tb_netns_enter(const char *name)
{
    if (origin_fd < 0) {
        origin_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (origin_fd < 0)
            return -1;
    }
    if (name == NULL)
        return setns(origin_fd, CLONE_NEWNET);
    char path[300];
    snprintf(path, sizeof(path), "/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = setns(fd, CLONE_NEWNET);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int
mpl_tb_netns_exists(const char *name)
{
    char path[300];
    struct stat st;
    snprintf(path, sizeof(path), "/run/netns/%s", name);
    return stat(path, &st) == 0;
}

int
mpl_tb_run(const char *cmdline, char *errbuf, size_t errlen)
{
    char buf[1024];
    char *argv[64];
    int argc = 0;
    if (errlen)
        errbuf[0] = '\0';
    snprintf(buf, sizeof(buf), "%s", cmdline);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok && argc < 63;
         tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    argv[argc] = NULL;
    if (argc == 0)
        return -1;

    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (rc != 0) {
        close(pfd[0]);
        snprintf(errbuf, errlen, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    char out[512];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(pfd[0], out + n, sizeof(out) - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof(out) - 1) {
            char sink[256];
            while (read(pfd[0], sink, sizeof(sink)) > 0)
                ;
            break;
        }
    }
    out[n] = '\0';
    close(pfd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
    snprintf(errbuf, errlen, "%s", out);
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

int
mpl_tb_sysctl(const char *key, const char *value)
{
    char path[256];
    int n = snprintf(path, sizeof(path), "/proc/sys/%s", key);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    for (char *p = path + 10; *p; p++)
        if (*p == '.')
            *p = '/';
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = mpl_write_all(fd, value, strlen(value));
    close(fd);
    return rc;
}

int
mpl_tb_netns_pids(const char *name, pid_t *pids, int max)
{
    char path[300];
    struct stat target, st;
    snprintf(path, sizeof(path), "/run/netns/%s", name);
    if (stat(path, &target) != 0)
        return 0;
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    pid_t self = getpid();
    while ((de = readdir(d)) != NULL && n < max) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        snprintf(path, sizeof(path), "/proc/%s/ns/net", de->d_name);
        if (stat(path, &st) != 0)
            continue;
        pid_t pid = (pid_t)atoi(de->d_name);
        if (st.st_ino == target.st_ino && st.st_dev == target.st_dev && pid != self)
            pids[n++] = pid;
    }
    closedir(d);
    return n;
}
