/*
 * hosts.c — the hosts file parser and the OpenSSH engine (hosts.h).
 */
#include "testbed/hosts.h"
#include "testbed/testbed.h"
#include "common/ini.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_STATE_DIR "/var/lib/mplab/hosts-state"

static const mpl_ini_syntax_t syntax = {.reject_control = 1};

static int
name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
    }
    return s[0] != '-';
}

/* Interface names as the kernel takes them (dev_valid_name), and nothing a shell would read. */
static int
ifname_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MPL_HOSTS_IFNAME || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.' || c == '@'))
            return 0;
    }
    return s[0] != '-';
}

static int
hostaddr_ok(const char *s)
{
    if (!*s || *s == '-')
        return 0;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == ':' || c == '_' || c == '%'))
            return 0;
    }
    return 1;
}

static int
copy(char *dst, size_t dlen, const char *src)
{
    size_t n = strlen(src);
    if (n >= dlen)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* "user@host[:port]", "host", "[v6]:port", "user@[v6]". */
static int
parse_ssh(mpl_host_t *h, const char *v, const char *fname, int line, char *err, size_t errlen)
{
    char buf[512];
    if (copy(buf, sizeof(buf), v) != 0)
        return mpl_ini_error(err, errlen, fname, line, "host '%s': ssh destination too long", h->name);
    if (!strcmp(buf, "local")) {
        h->local = 1;
        return 0;
    }
    char *hostpart = buf, *at = strrchr(buf, '@');
    if (at) {
        *at = '\0';
        if (!buf[0] || buf[0] == '-' ||
            strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(buf))
            return mpl_ini_error(err, errlen, fname, line, "host '%s': invalid user '%s'", h->name, buf);
        if (copy(h->user, sizeof(h->user), buf) != 0)
            return mpl_ini_error(err, errlen, fname, line, "host '%s': user too long", h->name);
        hostpart = at + 1;
    }
    char *port = NULL;
    if (hostpart[0] == '[') {
        char *close = strchr(hostpart, ']');
        if (!close)
            return mpl_ini_error(err, errlen, fname, line, "host '%s': missing ']' in '%s'", h->name, v);
        *close = '\0';
        if (close[1] == ':')
            port = close + 2;
        else if (close[1])
            return mpl_ini_error(err, errlen, fname, line, "host '%s': unexpected text after ']' in '%s'",
                                 h->name, v);
        hostpart++;
    } else {
        char *colon = strchr(hostpart, ':');
        if (colon && strchr(colon + 1, ':'))
            return mpl_ini_error(err, errlen, fname, line,
                                 "host '%s': write an IPv6 address in brackets: user@[ADDR]:PORT", h->name);
        if (colon) {
            *colon = '\0';
            port = colon + 1;
        }
    }
    if (!hostaddr_ok(hostpart))
        return mpl_ini_error(err, errlen, fname, line, "host '%s': invalid ssh host '%s'", h->name, hostpart);
    if (copy(h->addr, sizeof(h->addr), hostpart) != 0)
        return mpl_ini_error(err, errlen, fname, line, "host '%s': ssh host too long", h->name);
    if (port) {
        char *end = NULL;
        errno = 0;
        long p = *port >= '0' && *port <= '9' ? strtol(port, &end, 10) : -1;
        if (p < 1 || p > 65535 || errno || !end || *end)
            return mpl_ini_error(err, errlen, fname, line, "host '%s': bad port '%s' (1..65535)", h->name,
                                 port);
        h->port = (int)p;
    }
    return 0;
}

static int
parse_options(mpl_host_t *h, const char *v, const char *fname, int line, char *err, size_t errlen)
{
    if (copy(h->options, sizeof(h->options), v) != 0)
        return mpl_ini_error(err, errlen, fname, line, "host '%s': ssh_options too long", h->name);
    char tmp[sizeof(h->options)];
    memcpy(tmp, h->options, sizeof(tmp));
    for (char *save = NULL, *w = strtok_r(tmp, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(w, '=');
        if (!eq || eq == w || w[0] == '-')
            return mpl_ini_error(err, errlen, fname, line,
                                 "host '%s': ssh_options: expected 'Option=value', got '%s'", h->name, w);
    }
    return 0;
}

static int
parse_path(char *dst, size_t dlen, const mpl_host_t *h, const char *key, const char *v, const char *fname,
           int line, char *err, size_t errlen)
{
    if (copy(dst, dlen, v) != 0)
        return mpl_ini_error(err, errlen, fname, line, "host '%s': %s too long", h->name, key);
    if (v[0] == '-')
        return mpl_ini_error(err, errlen, fname, line, "host '%s': %s may not start with '-'", h->name, key);
    return 0;
}

static int
finish_host(mpl_hosts_t *hs, const char *fname, char *err, size_t errlen)
{
    if (hs->n == 0)
        return 0;
    mpl_host_t *h = &hs->hosts[hs->n - 1];
    if (!h->local && !h->addr[0])
        return mpl_ini_error(err, errlen, fname, h->line,
                             "host '%s': missing 'ssh = user@host[:port]' (or 'local')", h->name);
    if (h->local && (h->identity[0] || h->options[0] || h->port))
        return mpl_ini_error(err, errlen, fname, h->line,
                             "host '%s': identity and ssh_options need an ssh host", h->name);
    if (!h->local && h->topo[0])
        return mpl_ini_error(err, errlen, fname, h->line, "host '%s': 'topo' is for 'ssh = local' hosts",
                             h->name);
    return 0;
}

int
mpl_hosts_parse(const char *text, size_t len, const char *fname, mpl_hosts_t *hs, char *err, size_t errlen)
{
    mpl_ini_t ini;
    mpl_ini_item_t it;
    memset(hs, 0, sizeof(*hs));
    mpl_ini_init(&ini, text, len, fname, &syntax);
    int k, have_ssh = 0;
    while ((k = mpl_ini_next(&ini, &it, err, errlen)) > 0) {
        if (k == MPL_INI_SECTION) {
            if (finish_host(hs, fname, err, errlen) != 0)
                return -1;
            const char *name = NULL;
            if (!strncmp(it.section, "host", 4) && (it.section[4] == ' ' || it.section[4] == '\t'))
                name = mpl_ini_trim(it.section + 5);
            else if (!strncmp(it.section, "router", 6) && (it.section[6] == ' ' || it.section[6] == '\t'))
                name = mpl_ini_trim(it.section + 7);
            if (!name)
                return mpl_ini_error(err, errlen, fname, it.line,
                                     "unknown section '[%s]' (expected '[host NAME]' or '[router NAME]')",
                                     it.section);
            if (!name_ok(name, MPL_HOSTS_NAME_MAX))
                return mpl_ini_error(err, errlen, fname, it.line,
                                     "invalid host name '%s' (letters, digits, '_', '-'; at most %d)", name,
                                     MPL_HOSTS_NAME_MAX);
            if (mpl_hosts_find(hs, name) >= 0)
                return mpl_ini_error(err, errlen, fname, it.line, "duplicate host '%s'", name);
            if (hs->n >= MPL_HOSTS_MAX)
                return mpl_ini_error(err, errlen, fname, it.line, "too many hosts (at most %d)",
                                     MPL_HOSTS_MAX);
            mpl_host_t *h = &hs->hosts[hs->n++];
            memset(h, 0, sizeof(*h));
            strcpy(h->name, name);
            h->line = it.line;
            strcpy(h->mplab, "mplab");
            strcpy(h->state_dir, DEFAULT_STATE_DIR);
            have_ssh = 0;
            continue;
        }
        if (hs->n == 0)
            return mpl_ini_error(err, errlen, fname, it.line, "'%s' outside a [host NAME] section", it.key);
        mpl_host_t *h = &hs->hosts[hs->n - 1];
        const char *key = it.key, *v = it.value;
        int rc = 0;
        if (!strcmp(key, "ssh")) {
            if (have_ssh)
                return mpl_ini_error(err, errlen, fname, it.line, "host '%s': 'ssh' given twice", h->name);
            have_ssh = 1;
            rc = parse_ssh(h, v, fname, it.line, err, errlen);
        } else if (!strcmp(key, "identity")) {
            rc = parse_path(h->identity, sizeof(h->identity), h, key, v, fname, it.line, err, errlen);
        } else if (!strcmp(key, "ssh_options")) {
            rc = parse_options(h, v, fname, it.line, err, errlen);
        } else if (!strcmp(key, "mplab")) {
            rc = parse_path(h->mplab, sizeof(h->mplab), h, key, v, fname, it.line, err, errlen);
        } else if (!strcmp(key, "state_dir")) {
            rc = parse_path(h->state_dir, sizeof(h->state_dir), h, key, v, fname, it.line, err, errlen);
            if (rc == 0 && v[0] != '/')
                rc = mpl_ini_error(err, errlen, fname, it.line,
                                   "host '%s': state_dir must be an absolute path", h->name);
        } else if (!strcmp(key, "topo")) {
            if (!name_ok(v, sizeof(h->topo) - 1))
                return mpl_ini_error(err, errlen, fname, it.line, "host '%s': invalid topology name '%s'",
                                     h->name, v);
            strcpy(h->topo, v);
        } else if (name_ok(key, MPL_HOSTS_NAME_MAX) && key[0] == 'l' && key[1] >= '0' && key[1] <= '9') {
            /* an interface per link: l1 = enp0s8 */
            for (int i = 0; i < h->n_ifaces; i++)
                if (!strcmp(h->ifaces[i].link, key))
                    return mpl_ini_error(err, errlen, fname, it.line, "host '%s': link '%s' given twice",
                                         h->name, key);
            if (!ifname_ok(v))
                return mpl_ini_error(err, errlen, fname, it.line,
                                     "host '%s': invalid interface name '%s' for %s", h->name, v, key);
            if (h->n_ifaces >= MPL_HOSTS_IFACES)
                return mpl_ini_error(err, errlen, fname, it.line, "host '%s': too many links", h->name);
            strcpy(h->ifaces[h->n_ifaces].link, key);
            strcpy(h->ifaces[h->n_ifaces].ifname, v);
            h->n_ifaces++;
        } else {
            return mpl_ini_error(
                err, errlen, fname, it.line,
                "host '%s': unknown key '%s' (ssh, identity, ssh_options, mplab, state_dir, topo, "
                "or a link name like l1)",
                h->name, key);
        }
        if (rc != 0)
            return -1;
    }
    if (k < 0)
        return -1;
    if (finish_host(hs, fname, err, errlen) != 0)
        return -1;
    if (hs->n == 0)
        return mpl_ini_error(err, errlen, fname, 0, "no [host NAME] section");
    return 0;
}

int
mpl_hosts_load(const char *path, mpl_hosts_t *hs, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    if (mpl_ini_load(path, &syntax, &text, &len, err, errlen) != 0)
        return -1;
    int rc = mpl_hosts_parse(text, len, path, hs, err, errlen);
    free(text);
    return rc;
}

int
mpl_hosts_find(const mpl_hosts_t *hs, const char *name)
{
    for (int i = 0; i < hs->n; i++)
        if (!strcmp(hs->hosts[i].name, name))
            return i;
    return -1;
}

int
mpl_hosts_quote(const char *s, char *out, size_t len)
{
    size_t o = strlen(out);
    if (o >= len)
        return -1;
#define PUT(c)                                                                                               \
    do {                                                                                                     \
        if (o + 1 >= len)                                                                                    \
            return -1;                                                                                       \
        out[o++] = (c);                                                                                      \
    } while (0)
    PUT('\'');
    for (; *s; s++) {
        if (*s == '\'') {
            PUT('\'');
            PUT('\\');
            PUT('\'');
            PUT('\'');
        } else {
            PUT(*s);
        }
    }
    PUT('\'');
#undef PUT
    out[o] = '\0';
    return 0;
}

int
mpl_hosts_join(char *const *args, int n, char *out, size_t len)
{
    if (len == 0)
        return -1;
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            size_t o = strlen(out);
            if (o + 2 > len)
                return -1;
            out[o] = ' ';
            out[o + 1] = '\0';
        }
        if (mpl_hosts_quote(args[i], out, len) != 0)
            return -1;
    }
    return 0;
}

int
mpl_hosts_ctl_dir(char *buf, size_t len, char *err, size_t errlen)
{
    const char *run = mpl_tb_rundir();
    if ((size_t)snprintf(buf, len, "%s/ssh", run) >= len) {
        snprintf(err, errlen, "run directory path too long");
        return -1;
    }
    mkdir(run, 0755);
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", buf, strerror(errno));
        return -1;
    }
    /* ssh's sockets need a short path (sun_path): %C is 40 characters */
    if (strlen(buf) + 42 > 104) {
        snprintf(err, errlen, "%s: too long for ssh control sockets (set MPLAB_RUNDIR)", buf);
        return -1;
    }
    return 0;
}

typedef struct argv_builder {
    char **argv;
    int n, max;
    char *store;
    size_t used, cap;
} argv_builder_t;

static int
add(argv_builder_t *b, const char *fmt, const char *a)
{
    if (b->n + 1 >= b->max)
        return -1;
    int w = snprintf(b->store + b->used, b->cap - b->used, fmt, a);
    if (w < 0 || (size_t)w >= b->cap - b->used)
        return -1;
    b->argv[b->n++] = b->store + b->used;
    b->used += (size_t)w + 1;
    b->argv[b->n] = NULL;
    return 0;
}

int
mpl_hosts_ssh_argv(const mpl_host_t *h, const char *ctl_dir, const char *script, char **argv, int max,
                   char *store, size_t storelen)
{
    argv_builder_t b = {argv, 0, max, store, 0, storelen};
    char port[16];
    if (max < 1)
        return -1;
    argv[0] = NULL;
    if (add(&b, "%s", "ssh") || add(&b, "%s", "-o") || add(&b, "%s", "BatchMode=yes") ||
        add(&b, "%s", "-o") || add(&b, "%s", "PasswordAuthentication=no") || add(&b, "%s", "-o") ||
        add(&b, "%s", "ConnectTimeout=5") || add(&b, "%s", "-o") || add(&b, "%s", "ServerAliveInterval=5") ||
        add(&b, "%s", "-o") || add(&b, "%s", "ServerAliveCountMax=3") || add(&b, "%s", "-o") ||
        add(&b, "%s", "ControlMaster=auto") || add(&b, "%s", "-o") ||
        add(&b, "ControlPath=%s/%%C", ctl_dir) || add(&b, "%s", "-o") || add(&b, "%s", "ControlPersist=300"))
        return -1;
    if (h->port) {
        snprintf(port, sizeof(port), "%d", h->port);
        if (add(&b, "%s", "-p") || add(&b, "%s", port))
            return -1;
    }
    if (h->identity[0] && (add(&b, "%s", "-i") || add(&b, "%s", h->identity) || add(&b, "%s", "-o") ||
                           add(&b, "%s", "IdentitiesOnly=yes")))
        return -1;
    char tmp[sizeof(h->options)];
    memcpy(tmp, h->options, sizeof(tmp));
    for (char *save = NULL, *w = strtok_r(tmp, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
        if (add(&b, "%s", "-o") || add(&b, "%s", w))
            return -1;
    if (h->user[0] && (add(&b, "%s", "-l") || add(&b, "%s", h->user)))
        return -1;
    if (add(&b, "%s", "--") || add(&b, "%s", h->addr))
        return -1;
    if (script && add(&b, "%s", script))
        return -1;
    return b.n;
}

/* The namespace of a local host: its topology must be running. */
static int
local_ns(const mpl_host_t *h, char *ns, size_t len, char *err, size_t errlen)
{
    static mpl_topology_t t;
    if (mpl_tb_load_running(h->topo[0] ? h->topo : NULL, &t) != 0) {
        snprintf(err, errlen, "host '%s' is local but its topology is not running", h->name);
        return -1;
    }
    int i = mpl_topo_host(&t, h->name);
    if (i < 0) {
        snprintf(err, errlen, "topology '%s' has no host '%s'", t.name, h->name);
        return -1;
    }
    mpl_tb_host_ns(&t, i, ns, len);
    return 0;
}

/* In the child: become the command (ssh, or sh -c in the namespace). Does not return. */
static void
child_exec(const mpl_host_t *h, const char *ctl_dir, const char *script, const char *ns)
{
    if (h->local) {
        if (mpl_tb_netns_enter(ns) != 0) {
            fprintf(stderr, "mplab: cannot enter namespace %s: %s\n", ns, strerror(errno));
            _exit(126);
        }
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
    static char store[8192];
    char *argv[64];
    if (mpl_hosts_ssh_argv(h, ctl_dir, script, argv, 64, store, sizeof(store)) < 0)
        _exit(126);
    execvp("ssh", argv);
    _exit(errno == ENOENT ? 127 : 126);
}

static int
prepare(const mpl_host_t *h, const char *script, char *ns, size_t nslen, char *err, size_t errlen)
{
    ns[0] = '\0';
    if (h->local)
        return local_ns(h, ns, nslen, err, errlen);
    if (strlen(script) > 6000) {
        snprintf(err, errlen, "command for host '%s' too long", h->name);
        return -1;
    }
    return 0;
}

int
mpl_hosts_run(const mpl_host_t *h, const char *ctl_dir, const char *script, char *out, size_t outlen,
              char *errout, size_t errlen_out, int *status, char *err, size_t errlen)
{
    char ns[64];
    int po[2], pe[2];
    if (prepare(h, script, ns, sizeof(ns), err, errlen) != 0)
        return -1;
    if (pipe2(po, O_CLOEXEC) != 0)
        goto fail_pipe;
    if (pipe2(pe, O_CLOEXEC) != 0) {
        close(po[0]);
        close(po[1]);
        goto fail_pipe;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(po[0]);
        close(po[1]);
        close(pe[0]);
        close(pe[1]);
        return -1;
    }
    if (pid == 0) {
        int dn = open("/dev/null", O_RDONLY);
        if (dn >= 0)
            dup2(dn, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        child_exec(h, ctl_dir, script, ns);
    }
    close(po[1]);
    close(pe[1]);
    size_t used[2] = {0, 0};
    char *bufs[2] = {out, errout};
    size_t lens[2] = {outlen, errlen_out};
    struct pollfd pf[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char tmp[4096];
            ssize_t r = read(pf[i].fd, tmp, sizeof(tmp));
            if (r <= 0) {
                if (r < 0 && errno == EINTR)
                    continue;
                close(pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
                continue;
            }
            if (bufs[i] && lens[i] > 1) {
                size_t room = lens[i] - 1 - used[i];
                size_t n = (size_t)r < room ? (size_t)r : room;
                memcpy(bufs[i] + used[i], tmp, n);
                used[i] += n;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0)
            close(pf[i].fd);
    if (out && outlen)
        out[used[0]] = '\0';
    if (errout && errlen_out)
        errout[used[1]] = '\0';
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    return 0;
fail_pipe:
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    return -1;
}

pid_t
mpl_hosts_spawn(const mpl_host_t *h, const char *ctl_dir, const char *script, char *err, size_t errlen)
{
    char ns[64];
    if (prepare(h, script, ns, sizeof(ns), err, errlen) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int dn = open("/dev/null", O_RDONLY);
        if (dn >= 0)
            dup2(dn, 0);
        child_exec(h, ctl_dir, script, ns);
    }
    return pid;
}

int
mpl_hosts_exec(const mpl_host_t *h, const char *ctl_dir, char *const *argv, int argc, char *err,
               size_t errlen)
{
    static char script[8192];
    char ns[64];
    if (mpl_hosts_join(argv, argc, script, sizeof(script)) != 0) {
        snprintf(err, errlen, "command too long");
        return -1;
    }
    if (prepare(h, script, ns, sizeof(ns), err, errlen) != 0)
        return -1;
    if (h->local) {
        if (mpl_tb_netns_enter(ns) != 0) {
            snprintf(err, errlen, "cannot enter namespace %s: %s", ns, strerror(errno));
            return -1;
        }
        execvp(argv[0], argv);
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(errno));
        return -1;
    }
    static char store[16384];
    char *sargv[64];
    if (mpl_hosts_ssh_argv(h, ctl_dir, script, sargv, 64, store, sizeof(store)) < 0) {
        snprintf(err, errlen, "ssh command line too long");
        return -1;
    }
    fflush(NULL);
    execvp("ssh", sargv);
    snprintf(err, errlen, "cannot run ssh: %s", strerror(errno));
    return -1;
}

int
mpl_hosts_fetch(const mpl_host_t *h, const char *ctl_dir, const char *rpath, const char *lpath, char *err,
                size_t errlen)
{
    char script[1200] = "cat -- ";
    char ns[64];
    if (mpl_hosts_quote(rpath, script, sizeof(script)) != 0) {
        snprintf(err, errlen, "remote path too long");
        return -1;
    }
    if (prepare(h, script, ns, sizeof(ns), err, errlen) != 0)
        return -1;
    int fd = open(lpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", lpath, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (pid == 0) {
        int dn = open("/dev/null", O_RDONLY);
        if (dn >= 0)
            dup2(dn, 0);
        dup2(fd, 1);
        child_exec(h, ctl_dir, script, ns);
    }
    close(fd);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        snprintf(err, errlen, "%s: cannot copy %s (exit %d)", h->name, rpath,
                 WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
        unlink(lpath);
        return -1;
    }
    return 0;
}

void
mpl_hosts_close(const mpl_host_t *h, const char *ctl_dir)
{
    if (h->local)
        return;
    static char store[8192];
    char *argv[64];
    int n = mpl_hosts_ssh_argv(h, ctl_dir, NULL, argv, 62, store, sizeof(store));
    if (n < 3)
        return;
    /* "ssh OPTIONS -O exit -- HOST": -O goes before "--" */
    char *argv2[68];
    int k = 0;
    for (int i = 0; i < n - 2; i++)
        argv2[k++] = argv[i];
    argv2[k++] = "-O";
    argv2[k++] = "exit";
    argv2[k++] = argv[n - 2];
    argv2[k++] = argv[n - 1];
    argv2[k] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_RDWR);
        if (dn >= 0) {
            dup2(dn, 0);
            dup2(dn, 1);
            dup2(dn, 2);
        }
        execvp("ssh", argv2);
        _exit(127);
    }
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
}
