/*
 * hosts.c — 'mplab hosts check|snapshot|restore|close FILE': real hosts over OpenSSH
 * (testbed/hosts.h; docs/TESTBED.md, "Real hosts over SSH").
 */
#include "cmd/commands.h"
#include "testbed/hosts.h"
#include "common/json.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
    fprintf(f, "Usage: mplab hosts check FILE [--json]\n"
               "       mplab hosts snapshot FILE\n"
               "       mplab hosts restore FILE\n"
               "       mplab hosts close FILE\n\n"
               "FILE is a hosts file (docs/TESTBED.md): one [host NAME] section per scenario host with\n"
               "'ssh = user@host[:port]' (or 'local': the namespace host of a running topology),\n"
               "optional identity, ssh_options, mplab (the command on the host), state_dir, and the\n"
               "interface of each link ('l1 = enp0s8').\n\n"
               "  check     reachable (ssh, BatchMode), mplab with this version, root or CAP_NET_ADMIN,\n"
               "            kernel MPTCP, netem, every named interface; exit 1 when a check fails\n"
               "  snapshot  records each host's routing rules and tables, MPTCP endpoints and limits and\n"
               "            the root qdisc of the named interfaces in STATE_DIR/HOST on the host\n"
               "            (an existing record is kept: it holds the state before the first change)\n"
               "  restore   puts the recorded state back and removes the record; nothing to do when\n"
               "            there is none (it may be repeated, also after a lost connection)\n"
               "  close     closes the shared ssh connections (ControlMaster) of every host\n");
}

typedef struct check {
    const char *name;
    int ok;
    char detail[200];
} check_t;

/* The value of "key=..." in the output lines of a remote script ("" when missing). */
static const char *
field(const char *out, const char *key, char *buf, size_t len)
{
    size_t kl = strlen(key);
    buf[0] = '\0';
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            const char *v = p + kl + 1, *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= len)
                n = len - 1;
            memcpy(buf, v, n);
            buf[n] = '\0';
            break;
        }
    }
    return buf;
}

static int
append(char *s, size_t len, const char *fmt, const char *a)
{
    size_t o = strlen(s);
    int w = snprintf(s + o, len - o, fmt, a);
    return w < 0 || (size_t)w >= len - o ? -1 : 0;
}

/* "for i in 'a' 'b'; do BODY; done" with the host's interfaces (nothing when it has none). */
static int
iface_loop(const mpl_host_t *h, const char *body, char *s, size_t len)
{
    if (h->n_ifaces == 0)
        return 0;
    if (append(s, len, "%s", "for i in"))
        return -1;
    for (int i = 0; i < h->n_ifaces; i++)
        if (append(s, len, "%s", " ") || mpl_hosts_quote(h->ifaces[i].ifname, s, len))
            return -1;
    return append(s, len, "; do %s; done\n", body);
}

static void
describe(const mpl_host_t *h, char *buf, size_t len)
{
    if (h->local)
        snprintf(buf, len, "local");
    else
        snprintf(buf, len, "%.60s%s%.200s%s%.0d", h->user, h->user[0] ? "@" : "", h->addr, h->port ? ":" : "",
                 h->port);
}

static int
check_host(const mpl_host_t *h, const char *ctl, check_t *c, int *nc)
{
    char script[4096] = "LC_ALL=C; export LC_ALL\necho reach=1\necho \"version=$(";
    char out[8192], eout[2048], err[512], v[256];
    int st = 0, n = 0, fails = 0;
    append(script, sizeof(script), "%s", "");
    mpl_hosts_quote(h->mplab, script, sizeof(script));
    append(script, sizeof(script), "%s",
           " --version 2>/dev/null | head -n 1)\"\n"
           "echo \"uid=$(id -u)\"\n"
           "echo \"capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)\"\n"
           "echo \"mptcp=$(cat /proc/sys/net/mptcp/enabled 2>/dev/null)\"\n"
           "k=/lib/modules/$(uname -r)\n"
           "if [ -d /sys/module/sch_netem ] || grep -qs 'sch_netem\\.ko' \"$k/modules.builtin\" "
           "\"$k/modules.dep\" ||"
           " modinfo sch_netem >/dev/null 2>&1; then echo netem=yes; else echo netem=no; fi\n");
    iface_loop(
        h, "if ip link show dev \"$i\" >/dev/null 2>&1; then echo \"if.$i=yes\"; else echo \"if.$i=no\"; fi",
        script, sizeof(script));
    int rc = mpl_hosts_run(h, ctl, script, out, sizeof(out), eout, sizeof(eout), &st, err, sizeof(err));
    c[n].name = "reachable";
    c[n].ok = rc == 0 && st == 0 && *field(out, "reach", v, sizeof(v)) == '1';
    if (c[n].ok) {
        describe(h, c[n].detail, sizeof(c[n].detail));
    } else {
        char *nl = strchr(eout, '\n');
        if (nl)
            *nl = '\0';
        snprintf(c[n].detail, sizeof(c[n].detail), "%.150s", rc != 0 ? err : eout[0] ? eout : "ssh failed");
    }
    if (!c[n++].ok) {
        *nc = n;
        return 1;
    }
    c[n].name = "mplab";
    field(out, "version", v, sizeof(v));
    c[n].ok = !strcmp(v, "mplab " MPLAB_VERSION);
    snprintf(c[n].detail, sizeof(c[n].detail), "%.60s%.90s", v[0] ? v : "not found: ", v[0] ? "" : h->mplab);
    if (c[n].ok == 0 && v[0])
        snprintf(c[n].detail, sizeof(c[n].detail), "%.100s, here mplab %s", v, MPLAB_VERSION);
    n++;
    c[n].name = "privileges";
    unsigned long long cap = strtoull(field(out, "capeff", v, sizeof(v)), NULL, 16);
    int root = !strcmp(field(out, "uid", v, sizeof(v)), "0");
    c[n].ok = root || (cap & (1ull << 12)); /* CAP_NET_ADMIN */
    snprintf(c[n].detail, sizeof(c[n].detail), "%s",
             root      ? "root"
             : c[n].ok ? "CAP_NET_ADMIN"
                       : "not root, no CAP_NET_ADMIN");
    n++;
    c[n].name = "mptcp";
    c[n].ok = !strcmp(field(out, "mptcp", v, sizeof(v)), "1");
    snprintf(c[n].detail, sizeof(c[n].detail), "%s",
             c[n].ok ? "net.mptcp.enabled = 1"
             : v[0]  ? "net.mptcp.enabled = 0"
                     : "no kernel MPTCP");
    n++;
    c[n].name = "netem";
    c[n].ok = !strcmp(field(out, "netem", v, sizeof(v)), "yes");
    snprintf(c[n].detail, sizeof(c[n].detail), "%s",
             c[n].ok ? "sch_netem available" : "no netem (sch_netem)");
    n++;
    for (int i = 0; i < h->n_ifaces; i++) {
        char key[32];
        snprintf(key, sizeof(key), "if.%s", h->ifaces[i].ifname);
        c[n].name = "interface";
        c[n].ok = !strcmp(field(out, key, v, sizeof(v)), "yes");
        snprintf(c[n].detail, sizeof(c[n].detail), "%s = %s%s", h->ifaces[i].link, h->ifaces[i].ifname,
                 c[n].ok ? "" : ": no such interface");
        n++;
    }
    for (int i = 0; i < n; i++)
        fails += !c[i].ok;
    *nc = n;
    return fails > 0;
}

static int
hosts_check(const mpl_hosts_t *hs, const char *ctl, int json)
{
    static check_t checks[MPL_HOSTS_MAX][MPL_HOSTS_IFACES + 8];
    int nc[MPL_HOSTS_MAX], bad = 0;
    for (int i = 0; i < hs->n; i++)
        bad |= check_host(&hs->hosts[i], ctl, checks[i], &nc[i]);
    if (json) {
        mpl_json_t j;
        mpl_json_init(&j, stdout);
        mpl_json_obj_begin(&j, NULL);
        mpl_json_bool(&j, "ok", !bad);
        mpl_json_arr_begin(&j, "hosts");
        for (int i = 0; i < hs->n; i++) {
            char d[300];
            describe(&hs->hosts[i], d, sizeof(d));
            mpl_json_obj_begin(&j, NULL);
            mpl_json_str(&j, "host", hs->hosts[i].name);
            mpl_json_str(&j, "ssh", d);
            int ok = 1;
            for (int k = 0; k < nc[i]; k++)
                ok &= checks[i][k].ok;
            mpl_json_bool(&j, "ok", ok);
            mpl_json_arr_begin(&j, "checks");
            for (int k = 0; k < nc[i]; k++) {
                mpl_json_obj_begin(&j, NULL);
                mpl_json_str(&j, "check", checks[i][k].name);
                mpl_json_bool(&j, "ok", checks[i][k].ok);
                mpl_json_str(&j, "detail", checks[i][k].detail);
                mpl_json_obj_end(&j);
            }
            mpl_json_arr_end(&j);
            mpl_json_obj_end(&j);
        }
        mpl_json_arr_end(&j);
        mpl_json_obj_end(&j);
        mpl_json_finish(&j);
    } else {
        printf("%-12s %-11s %-6s %s\n", "HOST", "CHECK", "RESULT", "DETAIL");
        for (int i = 0; i < hs->n; i++)
            for (int k = 0; k < nc[i]; k++)
                printf("%-12s %-11s %-6s %s\n", hs->hosts[i].name, checks[i][k].name,
                       checks[i][k].ok ? "ok" : "FAIL", checks[i][k].detail);
    }
    if (bad)
        mpl_err("some checks failed");
    return bad ? 1 : 0;
}

/* The shell function that prints the routes worth restoring: not the kernel's local table,
 * and without the countdown of expiring routes. */
#define ROUTES_FN                                                                                            \
    "routes() { ip -\"$1\" route show table all | grep -Ev '^(local|broadcast|anycast|multicast) ' |"        \
    " grep -v ' table local' | sed 's/ expires [0-9]*sec//' | sort; }\n"
#define QDISC_FN "qdisc() { tc qdisc show dev \"$1\" | sed 's/ refcnt [0-9]*//'; }\n"

static int
record_dir(const mpl_host_t *h, char *s, size_t len)
{
    char d[400];
    if ((size_t)snprintf(d, sizeof(d), "%s/%s", h->state_dir, h->name) >= sizeof(d))
        return -1;
    return append(s, len, "%s", "d=") || mpl_hosts_quote(d, s, len) || append(s, len, "%s", "\n");
}

static int
snapshot_script(const mpl_host_t *h, char *s, size_t len)
{
    s[0] = '\0';
    if (append(s, len, "%s", "LC_ALL=C; export LC_ALL\n") || record_dir(h, s, len) ||
        append(s, len, "%s",
               ROUTES_FN QDISC_FN "if [ -d \"$d\" ]; then echo kept; exit 0; fi\n"
                                  "rm -rf \"$d.new\" && mkdir -p \"$d.new\" && cd \"$d.new\" || exit 1\n"
                                  "for f in 4 6; do ip -$f rule show | sort >rules$f || exit 1;"
                                  " routes $f >routes$f || exit 1; done\n"
                                  "ip mptcp endpoint show >endpoints 2>/dev/null || : >endpoints\n"
                                  "ip mptcp limits show >limits 2>/dev/null || : >limits\n") ||
        iface_loop(h, "qdisc \"$i\" >\"qdisc.$i\" || exit 1", s, len) ||
        append(s, len, "%s", "cd / && mv \"$d.new\" \"$d\" && echo saved\n"))
        return -1;
    return 0;
}

static int
restore_script(const mpl_host_t *h, char *s, size_t len)
{
    s[0] = '\0';
    if (append(s, len, "%s", "LC_ALL=C; export LC_ALL\n") || record_dir(h, s, len) ||
        append(
            s, len, "%s",
            ROUTES_FN QDISC_FN
            "[ -d \"$d\" ] || { echo none; exit 0; }\n"
            "cd \"$d\" || exit 1\nrc=0\n"
            "for f in 4 6; do\n"
            "  ip -$f rule show | sort >now\n"
            "  { comm -23 now rules$f | sed -n 's/^\\([0-9]*\\):[[:space:]]*/rule del pref \\1 /p';"
            " comm -13 now rules$f | sed -n 's/^\\([0-9]*\\):[[:space:]]*/rule add pref \\1 /p'; } >batch\n"
            "  if [ -s batch ]; then ip -$f -force -batch batch || rc=1; fi\n"
            "  routes $f >now\n"
            "  { comm -23 now routes$f | sed 's/^/route del /'; comm -13 now routes$f | sed 's/^/route add "
            "/'; } >batch\n"
            "  if [ -s batch ]; then ip -$f -force -batch batch || rc=1; fi\n"
            "done\n"
            "ip mptcp endpoint show >now 2>/dev/null || : >now\n"
            "if ! cmp -s now endpoints; then\n"
            "  ip mptcp endpoint flush || rc=1\n"
            "  while read -r e; do [ -z \"$e\" ] || ip mptcp endpoint add $e || rc=1; done <endpoints\n"
            "fi\n"
            "if [ -s limits ]; then ip mptcp limits set $(cat limits) || rc=1; fi\n") ||
        iface_loop(
            h,
            "if ! ip link show dev \"$i\" >/dev/null 2>&1; then echo \"no interface $i\" >&2; rc=1; "
            "continue; fi; "
            "sed 's/ refcnt [0-9]*//' \"qdisc.$i\" >want; qdisc \"$i\" >now; cmp -s now want && continue; "
            "tc qdisc del dev \"$i\" root 2>/dev/null; qdisc \"$i\" >now; cmp -s now want && continue; "
            "set -- $(grep ' root' want | head -n 1); "
            "if [ $# -ge 4 ]; then k=$2; hd=$3; shift 4; tc qdisc replace dev \"$i\" root handle \"$hd\" "
            "\"$k\" \"$@\" || rc=1; fi; "
            "qdisc \"$i\" >now; cmp -s now want || { echo \"qdisc of $i differs after restore\" >&2; rc=1; }",
            s, len) ||
        append(s, len, "%s",
               "if [ $rc = 0 ]; then cd / && rm -rf \"$d\" && echo restored; else echo \"record kept in $d\" "
               ">&2;"
               " exit 1; fi\n"))
        return -1;
    return 0;
}

static int
hosts_state(const mpl_hosts_t *hs, const char *ctl, int restore)
{
    static char script[16384];
    char out[2048], eout[2048], err[512];
    int bad = 0;
    for (int i = 0; i < hs->n; i++) {
        const mpl_host_t *h = &hs->hosts[i];
        int st = 0;
        if ((restore ? restore_script(h, script, sizeof(script))
                     : snapshot_script(h, script, sizeof(script))) != 0) {
            mpl_err("%s: script too long", h->name);
            bad = 1;
            continue;
        }
        if (mpl_hosts_run(h, ctl, script, out, sizeof(out), eout, sizeof(eout), &st, err, sizeof(err)) != 0) {
            mpl_err("%s: %s", h->name, err);
            bad = 1;
            continue;
        }
        char *nl = strchr(out, '\n');
        if (nl)
            *nl = '\0';
        if (st != 0) {
            for (char *e = eout; *e; e++)
                if (*e == '\n' && e[1])
                    *e = ';';
            nl = strrchr(eout, '\n');
            if (nl)
                *nl = '\0';
            mpl_err("%s: %s failed (exit %d): %s", h->name, restore ? "restore" : "snapshot", st,
                    eout[0] ? eout : "no message");
            bad = 1;
            continue;
        }
        const char *what = !strcmp(out, "kept")   ? "a record exists already, kept"
                           : !strcmp(out, "none") ? "no record, nothing to restore"
                                                  : out;
        printf("%s: %s\n", h->name, what);
    }
    return bad;
}

int
cmd_hosts(int argc, char **argv)
{
    if (mpl_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2)
        return mpl_usage_error("missing subcommand (check, snapshot, restore, close)");
    const char *sub = argv[1], *file = NULL;
    int json = 0;
    if (strcmp(sub, "check") && strcmp(sub, "snapshot") && strcmp(sub, "restore") && strcmp(sub, "close")) {
        if (sub[0] == '-')
            return mpl_usage_error("unrecognized option '%s'", sub);
        return mpl_usage_error("unknown subcommand '%s' (check, snapshot, restore, close)", sub);
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && !strcmp(sub, "check"))
            json = 1;
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else
            return mpl_bad_arg(argv[i], NULL);
    }
    if (!file)
        return mpl_usage_error("%s: missing FILE", sub);
    return mpl_hosts_main(sub, file, json);
}

int
mpl_hosts_main(const char *sub, const char *file, int json)
{
    static mpl_hosts_t hs;
    char err[600], ctl[256];
    if (mpl_hosts_load(file, &hs, err, sizeof(err)) != 0 ||
        mpl_hosts_ctl_dir(ctl, sizeof(ctl), err, sizeof(err)) != 0) {
        mpl_err("%s", err);
        return 1;
    }
    if (!strcmp(sub, "check"))
        return hosts_check(&hs, ctl, json);
    if (!strcmp(sub, "close")) {
        for (int i = 0; i < hs.n; i++)
            mpl_hosts_close(&hs.hosts[i], ctl);
        return 0;
    }
    return hosts_state(&hs, ctl, !strcmp(sub, "restore"));
}
