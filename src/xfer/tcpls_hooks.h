/*
 * tcpls_hooks.h — the TCPLS client's fault injection for the end-to-end tests, chosen by the
 * environment variable MPLAB_TCPLS_INJECT (tests/e2e/tcpls_streams.sh, tcpls_multipath.sh):
 *   garbage       random bytes written into connection 0 right after the handshake
 *   tamper        a bit flipped inside the first protected record
 *   forge-token   a bit flipped in the first join's token
 *   replay-token  the first join's ClientHello sent again on a new connection once that join
 *                 worked; the server must answer with an illegal_parameter alert
 * The server must end the faulty session (or refuse the join) cleanly and serve the others.
 * Only build/mplab-testing (-DTCPLS_TESTING) has them: in build/mplab these are no-ops.
 */
#ifndef MPLAB_TCPLS_HOOKS_H
#define MPLAB_TCPLS_HOOKS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tcpls.h"

typedef struct mpl_tcpls_hooks {
    const char *inject; /* MPLAB_TCPLS_INJECT or NULL */
    uint8_t *first_hello;
    size_t first_hello_len;
    int forged, replayed;
} mpl_tcpls_hooks_t;

/* Reads MPLAB_TCPLS_INJECT. */
void mpl_tcpls_hooks_init(mpl_tcpls_hooks_t *h);
void mpl_tcpls_hooks_free(mpl_tcpls_hooks_t *h);

/* Right after the handshake on connection 0 (fd), before the requests. Returns 0, or -1 with
 * a reason in err. */
int mpl_tcpls_hooks_established(mpl_tcpls_hooks_t *h, tcpls_session_t *s, int fd, char *err, size_t errlen);
/* After the requests were queued on connection 0. */
void mpl_tcpls_hooks_requests_queued(mpl_tcpls_hooks_t *h, tcpls_session_t *s);
/* A join of connection id was just started (its ClientHello waits in the output). */
void mpl_tcpls_hooks_join_started(mpl_tcpls_hooks_t *h, tcpls_session_t *s, uint32_t id);
/* A join worked: replay-token sends the kept ClientHello to remote once. Returns 0, or -1 with a
 * reason in err when the server did not refuse it. */
int mpl_tcpls_hooks_joined(mpl_tcpls_hooks_t *h, const struct sockaddr *remote, socklen_t remote_len,
                           char *err, size_t errlen);

#endif
