/*
 * cert.h — the project's certificates: a CA and a server certificate signed by it, made with
 * OpenSSL in ${MPLAB_CERT_DIR:-/var/lib/mplab/certs} (root) or ~/.mplab/certs (others):
 * ca.pem ca.key server.pem server.key. The server certificate's SANs are DNS:localhost,
 * DNS:mplab-server, IP:127.0.0.1, IP:::1 and any extras given.
 */
#ifndef MPLAB_CERT_H
#define MPLAB_CERT_H

#include <stddef.h>

/* The certificate directory (see above) into buf. Returns buf. */
const char *mpl_cert_dir(char *buf, size_t len);
/* Path of one of the files ("ca.pem", ...) in dir into buf. Returns buf. */
const char *mpl_cert_path(const char *dir, const char *file, char *buf, size_t len);
/* Creates the CA (if missing or force) and a new server certificate with the default SANs
 * plus extra_sans ("DNS:name" or "IP:addr"; a bare name or address is accepted too).
 * Serialized between processes with a lock file. Returns 0, or -1 with a reason in err. */
int mpl_cert_create(const char *dir, const char *const *extra_sans, size_t n_extra, int force, char *err,
                    size_t errlen);
/* Creates the files when server.pem or server.key is missing. Returns 0 or -1 with err. */
int mpl_cert_ensure(const char *dir, char *err, size_t errlen);

#endif
