/*
 * tcpls_hooks.c — see tcpls_hooks.h.
 */
#include "xfer/tcpls_hooks.h"

#include "common/util.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef TCPLS_TESTING
void
mpl_tcpls_hooks_init(mpl_tcpls_hooks_t *h)
{
    memset(h, 0, sizeof(*h));
    h->inject = getenv("MPLAB_TCPLS_INJECT");
    if (h->inject != NULL && *h->inject == '\0')
        h->inject = NULL;
}

void
mpl_tcpls_hooks_free(mpl_tcpls_hooks_t *h)
{
    free(h->first_hello);
    h->first_hello = NULL;
}

int
mpl_tcpls_hooks_established(mpl_tcpls_hooks_t *h, tcpls_session_t *s, int fd, char *err, size_t errlen)
{
    uint8_t junk[700];
    if (h->inject == NULL)
        return 0;
    tcpls_io_write(s, 0, fd); /* the handshake's last flight goes out intact */
    if (strcmp(h->inject, "garbage") != 0)
        return 0;
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)rand();
    if (mpl_write_all(fd, junk, sizeof(junk)) != 0) {
        snprintf(err, errlen, "injecting garbage failed");
        return -1;
    }
    return 0;
}

void
mpl_tcpls_hooks_requests_queued(mpl_tcpls_hooks_t *h, tcpls_session_t *s)
{
    const uint8_t *data;
    size_t len;
    if (h->inject == NULL || strcmp(h->inject, "tamper") != 0)
        return;
    if (tcpls_conn_output(s, 0, &data, &len) == 0 && len > 20)
        ((uint8_t *)data)[12] ^= 0x20; /* inside the ciphertext of the first record */
}

void
mpl_tcpls_hooks_join_started(mpl_tcpls_hooks_t *h, tcpls_session_t *s, uint32_t id)
{
    const uint8_t *out;
    size_t len;
    if (h->inject == NULL || tcpls_conn_output(s, id, &out, &len) != 0)
        return;
    if (strcmp(h->inject, "forge-token") == 0 && !h->forged) {
        for (size_t k = 0; k + 4 < len; k++) {
            if (out[k] == 0xff && out[k + 1] == 0x5e && out[k + 2] == 0 && out[k + 3] == 32) {
                ((uint8_t *)out)[k + 4 + 5] ^= 0x10;
                h->forged = 1;
                mpl_info("test hook: forged the token of connection %u", id);
                break;
            }
        }
    }
    if (strcmp(h->inject, "replay-token") == 0 && h->first_hello == NULL &&
        (h->first_hello = malloc(len)) != NULL) {
        memcpy(h->first_hello, out, len);
        h->first_hello_len = len;
    }
}

int
mpl_tcpls_hooks_joined(mpl_tcpls_hooks_t *h, const struct sockaddr *remote, socklen_t remote_len, char *err,
                       size_t errlen)
{
    uint8_t buf[4096];
    size_t got = 0;
    if (h->first_hello == NULL || h->replayed)
        return 0;
    h->replayed = 1;
    int fd = socket(remote->sa_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0)
        return 0;
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, remote, remote_len) == 0 && mpl_write_all(fd, h->first_hello, h->first_hello_len) == 0) {
        for (;;) {
            ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            if (got >= 7)
                break;
        }
    }
    close(fd);
    if (got >= 7 && buf[0] == 21 && buf[6] == 47) {
        mpl_info("test hook: replayed token refused with illegal_parameter");
        return 0;
    }
    snprintf(err, errlen, "test hook: the replayed token was not refused (%zu bytes back)", got);
    return -1;
}

#else /* the library and the mplab that ship: no hooks (build/mplab-testing has them) */

void
mpl_tcpls_hooks_init(mpl_tcpls_hooks_t *h)
{
    memset(h, 0, sizeof(*h));
}

void
mpl_tcpls_hooks_free(mpl_tcpls_hooks_t *h)
{
    (void)h;
}

int
mpl_tcpls_hooks_established(mpl_tcpls_hooks_t *h, tcpls_session_t *s, int fd, char *err, size_t errlen)
{
    return 0;
}

void
mpl_tcpls_hooks_requests_queued(mpl_tcpls_hooks_t *h, tcpls_session_t *s)
{
}

void
mpl_tcpls_hooks_join_started(mpl_tcpls_hooks_t *h, tcpls_session_t *s, uint32_t id)
{
}

int
mpl_tcpls_hooks_joined(mpl_tcpls_hooks_t *h, const struct sockaddr *remote, socklen_t remote_len, char *err,
                       size_t errlen)
{
    return 0;
}
#endif
