/* Unit tests: src/testbed/hosts.c (the hosts file parser, quoting, the ssh argv). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "testbed/hosts.h"

static mpl_hosts_t hs;
static char err[512];

static int
parse(const char *text)
{
    return mpl_hosts_parse(text, strlen(text), "h.ini", &hs, err, sizeof(err));
}

static void
test_full(void **state)
{
    const char *text = "# seeds: two VMs, three links\n"
                       "[host client]\nssh = vagrant@192.168.56.10:2222\nidentity = /k/id\n"
                       "ssh_options = StrictHostKeyChecking=accept-new  UserKnownHostsFile=/k/kh\n"
                       "l1 = enp0s8\nl2 = enp0s9\nl3 = enp0s10\n"
                       "[host server]\nssh = 10.0.0.2\nmplab = /opt/mplab\nstate_dir = /tmp/st\n"
                       "[router r]\nssh = local\ntopo = triple\n"
                       "[host v6]\nssh = root@[fd00::1]:22\n";
    assert_int_equal(parse(text), 0);
    assert_int_equal(hs.n, 4);
    mpl_host_t *c = &hs.hosts[0];
    assert_string_equal(c->name, "client");
    assert_string_equal(c->user, "vagrant");
    assert_string_equal(c->addr, "192.168.56.10");
    assert_int_equal(c->port, 2222);
    assert_string_equal(c->identity, "/k/id");
    assert_int_equal(c->n_ifaces, 3);
    assert_string_equal(c->ifaces[2].link, "l3");
    assert_string_equal(c->ifaces[2].ifname, "enp0s10");
    assert_string_equal(c->mplab, "mplab");
    assert_string_equal(c->state_dir, "/var/lib/mplab/hosts-state");
    mpl_host_t *s = &hs.hosts[1];
    assert_string_equal(s->user, "");
    assert_string_equal(s->addr, "10.0.0.2");
    assert_int_equal(s->port, 0);
    assert_string_equal(s->mplab, "/opt/mplab");
    assert_int_equal(hs.hosts[2].local, 1);
    assert_string_equal(hs.hosts[2].topo, "triple");
    assert_string_equal(hs.hosts[3].addr, "fd00::1");
    assert_int_equal(hs.hosts[3].port, 22);
    assert_int_equal(mpl_hosts_find(&hs, "server"), 1);
    assert_int_equal(mpl_hosts_find(&hs, "nope"), -1);
}

static void
expect_error(const char *text, const char *msg)
{
    assert_int_equal(parse(text), -1);
    if (!strstr(err, msg))
        fail_msg("expected '%s' in '%s'", msg, err);
}

static void
test_errors(void **state)
{
    expect_error("[host a]\nssh = h\nfoo = 1\n", "h.ini:3: host 'a': unknown key 'foo'");
    expect_error("[host a]\nl1 = eth0\n", "h.ini:1: host 'a': missing 'ssh");
    expect_error("[host a]\nssh = h:0\n", "h.ini:2: host 'a': bad port '0'");
    expect_error("[host a]\nssh = h:65536\n", "bad port '65536'");
    expect_error("[host a]\nssh = h:22x\n", "bad port '22x'");
    expect_error("[host a]\nssh = h\n[host a]\nssh = h\n", "h.ini:3: duplicate host 'a'");
    expect_error("[host a]\nssh = h\nl1 = eth0;rm\n", "h.ini:3: host 'a': invalid interface name");
    expect_error("[host a]\nssh = h\nl1 = averyveryverylongname\n", "invalid interface name");
    expect_error("[host a]\nssh = h\nl1 = e0\nl1 = e1\n", "h.ini:4: host 'a': link 'l1' given twice");
    expect_error("[host a]\nssh = -oProxyCommand=x\n", "invalid ssh host");
    expect_error("[host a]\nssh = u$x@h\n", "invalid user");
    expect_error("[host a]\nssh = fd00::1\n", "in brackets");
    expect_error("[host a]\nssh = h\nssh_options = -F/x\n", "expected 'Option=value'");
    expect_error("[host a]\nssh = local\nidentity = /x\n", "need an ssh host");
    expect_error("[host a]\nssh = h\nstate_dir = rel\n", "absolute");
    expect_error("[hots a]\n", "h.ini:1: unknown section");
    expect_error("x = 1\n", "h.ini:1: 'x' outside");
    expect_error("# nothing\n", "no [host NAME] section");
    expect_error("[host a b]\nssh = h\n", "invalid host name");
}

static void
test_quote(void **state)
{
    char out[128];
    char *args[] = {"printf", "%s|", "a b", "it's", "$HOME", ""};
    assert_int_equal(mpl_hosts_join(args, 6, out, sizeof(out)), 0);
    assert_string_equal(out, "'printf' '%s|' 'a b' 'it'\\''s' '$HOME' ''");
    char small[8];
    assert_int_equal(mpl_hosts_join(args, 3, small, sizeof(small)), -1);
}

static void
test_ssh_argv(void **state)
{
    assert_int_equal(parse("[host a]\nssh = me@h.example:2200\nidentity = /id\nssh_options = A=b C=d\n"), 0);
    char store[4096];
    char *argv[64];
    int n = mpl_hosts_ssh_argv(&hs.hosts[0], "/run/x/ssh", "'true'", argv, 64, store, sizeof(store));
    assert_true(n > 10);
    assert_string_equal(argv[0], "ssh");
    assert_string_equal(argv[n - 1], "'true'");
    assert_string_equal(argv[n - 2], "h.example");
    assert_string_equal(argv[n - 3], "--");
    assert_null(argv[n]);
    int batch = 0, ctl = 0, port = 0, id = 0, opt = 0, user = 0;
    for (int i = 0; i < n; i++) {
        batch |= !strcmp(argv[i], "BatchMode=yes");
        ctl |= !strcmp(argv[i], "ControlPath=/run/x/ssh/%C");
        port |= !strcmp(argv[i], "-p") && !strcmp(argv[i + 1], "2200");
        id |= !strcmp(argv[i], "-i") && !strcmp(argv[i + 1], "/id");
        opt |= !strcmp(argv[i], "-o") && !strcmp(argv[i + 1], "C=d");
        user |= !strcmp(argv[i], "-l") && !strcmp(argv[i + 1], "me");
    }
    assert_true(batch && ctl && port && id && opt && user);
    assert_int_equal(mpl_hosts_ssh_argv(&hs.hosts[0], "/run/x/ssh", "'true'", argv, 5, store, sizeof(store)),
                     -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_ssh_argv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
