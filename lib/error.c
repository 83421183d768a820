/*
 * error.c — names of the TCPLS_ERR_* codes.
 */
#include "tcpls.h"

const char *
tcpls_strerror(int err)
{
    switch (err) {
    case TCPLS_OK:
        return "success";
    case TCPLS_ERR_NOMEM:
        return "out of memory";
    case TCPLS_ERR_ARG:
        return "invalid argument";
    case TCPLS_ERR_STATE:
        return "not allowed in the current session state";
    case TCPLS_ERR_HANDSHAKE:
        return "TLS handshake failed";
    case TCPLS_ERR_DECRYPT:
        return "record authentication failed (tampered or garbage data)";
    case TCPLS_ERR_RECORD:
        return "malformed record";
    case TCPLS_ERR_FRAME:
        return "malformed frame";
    case TCPLS_ERR_PROTOCOL:
        return "protocol violation";
    case TCPLS_ERR_FLOW:
        return "peer exceeded the receive buffer limit";
    case TCPLS_ERR_TRUNCATED:
        return "connection closed without close_notify";
    case TCPLS_ERR_PEER_ALERT:
        return "peer sent a fatal alert";
    case TCPLS_ERR_CRYPTO:
        return "cryptographic library failure";
    case TCPLS_ERR_NO_STREAM:
        return "unknown or finished stream";
    case TCPLS_ERR_CLOSED:
        return "session closed";
    case TCPLS_ERR_STREAM_LIMIT:
        return "too many streams";
    case TCPLS_ERR_NO_CONN:
        return "unknown connection";
    case TCPLS_ERR_UNSUPPORTED:
        return "not supported";
    case TCPLS_ERR_TOKEN:
        return "join refused: forged, reused or exhausted token";
    case TCPLS_ERR_NO_TOKEN:
        return "no token left to join a connection";
    case TCPLS_ERR_CONN_FAILED:
        return "connection failed";
    case TCPLS_ERR_KEY_LIMIT:
        return "the key reached its usage limit (RFC 8446 5.5): open a new session";
    default:
        return "unknown error";
    }
}
