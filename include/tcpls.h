/*
 * tcpls.h — public API of libtcpls (TLS 1.3 over several TCP connections).
 *
 * The API grows with the TCPLS issues; see docs/PROTOCOL.md for the wire decisions.
 */
#ifndef TCPLS_H
#define TCPLS_H

#ifdef __cplusplus
extern "C" {
#endif

#define TCPLS_VERSION_STRING "0.1.0"

/* Returns the library version, e.g. "0.1.0". */
const char *tcpls_version(void);

#ifdef __cplusplus
}
#endif

#endif
