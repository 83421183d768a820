/*
 * cert.c — see cert.h.
 */
#include "xfer/cert.h"

#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DEFAULT_SANS "DNS:localhost,DNS:mplab-server,IP:127.0.0.1,IP:::1"

const char *
mpl_cert_dir(char *buf, size_t len)
{
    const char *env = getenv("MPLAB_CERT_DIR");
    const char *home = getenv("HOME");
    if (env != NULL && *env != '\0')
        snprintf(buf, len, "%s", env);
    else if (geteuid() == 0 || home == NULL || *home == '\0')
        snprintf(buf, len, "/var/lib/mplab/certs");
    else
        snprintf(buf, len, "%s/.mplab/certs", home);
    return buf;
}

const char *
mpl_cert_path(const char *dir, const char *file, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", dir, file);
    return buf;
}

static int
mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static void
ossl_err(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200] = "unknown error";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, errlen, "%s: %s", what, buf);
    ERR_clear_error();
}

static int
add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (e == NULL)
        return -1;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok == 1 ? 0 : -1;
}

/* A certificate for key, signed by issuer (NULL: self-signed). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int is_ca, const char *sans)
{
    X509 *x = X509_new();
    BIGNUM *bn = BN_new();
    if (x == NULL || bn == NULL)
        goto fail;
    X509_set_version(x, 2);
    if (BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
        goto fail;
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)(is_ca ? 3650 : 1825) * 86400L);
    if (X509_set_pubkey(x, key) != 1)
        goto fail;
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"mplab", -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    if (add_ext(x, &ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE") != 0 ||
        add_ext(x, &ctx, NID_key_usage,
                is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment") != 0 ||
        add_ext(x, &ctx, NID_subject_key_identifier, "hash") != 0)
        goto fail;
    if (!is_ca && (add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") != 0 ||
                   add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") != 0 ||
                   add_ext(x, &ctx, NID_subject_alt_name, sans) != 0))
        goto fail;
    if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) == 0)
        goto fail;
    BN_free(bn);
    return x;
fail:
    BN_free(bn);
    X509_free(x);
    return NULL;
}

/* Writes a PEM file atomically (temporary file + rename). */
static int
write_pem(const char *dir, const char *file, X509 *x, EVP_PKEY *key, char *err, size_t errlen)
{
    char path[4096], tmp[4200];
    mpl_cert_path(dir, file, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, key != NULL ? 0600 : 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, x);
    if (fclose(f) != 0 || ok != 1) {
        snprintf(err, errlen, "cannot write %s", tmp);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int
file_exists(const char *dir, const char *file)
{
    char path[4096];
    return access(mpl_cert_path(dir, file, path, sizeof(path)), R_OK) == 0;
}

static int
lock_dir(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (mkdir_p(dir) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    int fd = open(mpl_cert_path(dir, ".lock", path, sizeof(path)), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) {
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int
create_locked(const char *dir, const char *const *extra_sans, size_t n_extra, int force, char *err,
              size_t errlen)
{
    int rc = -1;
    EVP_PKEY *ca_key = NULL, *srv_key = NULL;
    X509 *ca = NULL, *srv = NULL;
    char path[4096];
    char sans[2048] = DEFAULT_SANS;

    for (size_t i = 0; i < n_extra; i++) {
        const char *s = extra_sans[i];
        const char *prefix = "";
        if (strncmp(s, "DNS:", 4) != 0 && strncmp(s, "IP:", 3) != 0) {
            struct sockaddr_storage ss;
            socklen_t sl;
            prefix = mpl_parse_addr(s, 0, &ss, &sl, NULL, 0) == 0 ? "IP:" : "DNS:";
        }
        size_t l = strlen(sans);
        if (snprintf(sans + l, sizeof(sans) - l, ",%s%s", prefix, s) >= (int)(sizeof(sans) - l)) {
            snprintf(err, errlen, "too many subject alternative names");
            return -1;
        }
    }
    if (!force && file_exists(dir, "ca.pem") && file_exists(dir, "ca.key")) {
        FILE *f = fopen(mpl_cert_path(dir, "ca.pem", path, sizeof(path)), "r");
        if (f != NULL) {
            ca = PEM_read_X509(f, NULL, NULL, NULL);
            fclose(f);
        }
        f = fopen(mpl_cert_path(dir, "ca.key", path, sizeof(path)), "r");
        if (f != NULL) {
            ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
            fclose(f);
        }
        if (ca == NULL || ca_key == NULL) {
            ossl_err(err, errlen, "cannot read the existing CA (use mplab cert --force)");
            goto out;
        }
    } else {
        ca_key = EVP_EC_gen("P-256");
        ca = ca_key != NULL ? make_cert(ca_key, "mplab CA", NULL, NULL, 1, NULL) : NULL;
        if (ca == NULL) {
            ossl_err(err, errlen, "cannot create the CA");
            goto out;
        }
        if (write_pem(dir, "ca.key", NULL, ca_key, err, errlen) != 0 ||
            write_pem(dir, "ca.pem", ca, NULL, err, errlen) != 0)
            goto out;
    }
    srv_key = EVP_EC_gen("P-256");
    srv = srv_key != NULL ? make_cert(srv_key, "mplab-server", ca, ca_key, 0, sans) : NULL;
    if (srv == NULL) {
        ossl_err(err, errlen, "cannot create the server certificate (bad --san?)");
        goto out;
    }
    if (write_pem(dir, "server.key", NULL, srv_key, err, errlen) != 0 ||
        write_pem(dir, "server.pem", srv, NULL, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    X509_free(ca);
    X509_free(srv);
    return rc;
}

int
mpl_cert_create(const char *dir, const char *const *extra_sans, size_t n_extra, int force, char *err,
                size_t errlen)
{
    int lk = lock_dir(dir, err, errlen);
    if (lk < 0)
        return -1;
    int rc = create_locked(dir, extra_sans, n_extra, force, err, errlen);
    close(lk);
    return rc;
}

int
mpl_cert_ensure(const char *dir, char *err, size_t errlen)
{
    if (file_exists(dir, "server.pem") && file_exists(dir, "server.key") && file_exists(dir, "ca.pem"))
        return 0;
    int lk = lock_dir(dir, err, errlen);
    if (lk < 0)
        return -1;
    int rc = 0;
    if (!(file_exists(dir, "server.pem") && file_exists(dir, "server.key") && file_exists(dir, "ca.pem"))) {
        mpl_info("creating certificates in %s", dir);
        rc = create_locked(dir, NULL, 0, 0, err, errlen);
    }
    close(lk);
    return rc;
}
