/*
 * cert.c — 'mplab cert': create the project CA and server certificate (src/xfer/cert.c).
 */
#include "xfer/cert.h"
#include "cmd/commands.h"
#include "common/util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#define MAX_SANS 32

static void
usage(FILE *f)
{
    fprintf(f, "Usage: mplab cert [--dir DIR] [--san NAME|ADDR]... [--force] [--show]\n"
               "\n"
               "Creates a CA (if there is none) and a new server certificate signed by it:\n"
               "ca.pem ca.key server.pem server.key in ${MPLAB_CERT_DIR:-/var/lib/mplab/certs}\n"
               "(as root) or ~/.mplab/certs (other users). The server certificate is valid for\n"
               "DNS:localhost, DNS:mplab-server, IP:127.0.0.1, IP:::1 and every --san.\n"
               "'mplab serve --proto tls' and 'mplab get' use these files by default and create\n"
               "them on first use.\n"
               "\n"
               "  --dir DIR     use DIR instead of the default directory\n"
               "  --san X       extra subject alternative name: DNS:name, IP:addr, or a bare name/address\n"
               "  --force       also replace the CA (clients must then use the new ca.pem)\n"
               "  --show        only print the directory\n");
}

int
cmd_cert(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'}, {"san", required_argument, NULL, 's'},
        {"force", no_argument, NULL, 'f'},     {"show", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
    };
    const char *sans[MAX_SANS];
    size_t n_sans = 0;
    int force = 0, show = 0, opt;
    char dir[1024] = "", err[512];

    int status;
    optind = 1;
    while ((opt = mpl_getopt(argc, argv, "h", opts, usage, &status)) >= 0) {
        switch (opt) {
        case 'd':
            snprintf(dir, sizeof(dir), "%s", optarg);
            break;
        case 's':
            if (n_sans == MAX_SANS)
                return mpl_usage_error("at most %d --san", MAX_SANS);
            sans[n_sans++] = optarg;
            break;
        case 'f':
            force = 1;
            break;
        case 'S':
            show = 1;
            break;
        }
    }
    if (opt == MPL_OPT_EXIT)
        return status;
    if (optind < argc)
        return mpl_usage_error("unexpected argument '%s'", argv[optind]);
    if (dir[0] == '\0')
        mpl_cert_dir(dir, sizeof(dir));
    if (show) {
        printf("%s\n", dir);
        return 0;
    }
    if (mpl_cert_create(dir, sans, n_sans, force, err, sizeof(err)) != 0) {
        mpl_err("%s", err);
        return 1;
    }
    printf("%s/ca.pem\n%s/server.pem\n%s/server.key\n", dir, dir, dir);
    return 0;
}
