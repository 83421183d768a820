/*
 * frame.c — the nine TCPLS frames, and our Connection Priority extension (0x40). Each frame is written front
 * to back with its type byte last, so a record's frames are parsed from the end of the record backwards.
 */
#include <string.h>

#include "internal.h"

size_t
tcpls__frame_size(const tcpls_frame_t *f)
{
    switch (f->type) {
    case TCPLS_FRAME_PADDING:
    case TCPLS_FRAME_PING:
        return 1;
    case TCPLS_FRAME_STREAM:
    case TCPLS_FRAME_STREAM_FIN:
        return (size_t)f->u.stream.len + TCPLS_STREAM_TRAILER_LEN;
    case TCPLS_FRAME_ACK:
        return TCPLS_ACK_FRAME_LEN;
    case TCPLS_FRAME_NEW_TOKEN:
        return TCPLS_TOKEN_LEN + 2;
    case TCPLS_FRAME_CONN_RESET:
        return 5;
    case TCPLS_FRAME_NEW_ADDRESS:
        return 2 + (f->u.new_address.version == 6 ? 16 : 4) + 3;
    case TCPLS_FRAME_REMOVE_ADDRESS:
        return 2;
    case TCPLS_FRAME_STREAM_CHANGE:
        return 13;
    case TCPLS_FRAME_CONN_PRIORITY:
        return 6;
    default:
        return 0;
    }
}

void
tcpls__frame_stream_trailer(uint8_t *dst, uint32_t stream_id, uint64_t offset, uint16_t len, int fin)
{
    tcpls__put16(dst, len);
    tcpls__put64(dst + 2, offset);
    tcpls__put32(dst + 10, stream_id);
    dst[14] = fin ? TCPLS_FRAME_STREAM_FIN : TCPLS_FRAME_STREAM;
}

size_t
tcpls__frame_encode(uint8_t *dst, size_t cap, const tcpls_frame_t *f)
{
    size_t n = tcpls__frame_size(f);
    uint8_t *p = dst;

    if (n == 0 || n > cap)
        return 0;
    switch (f->type) {
    case TCPLS_FRAME_PADDING:
    case TCPLS_FRAME_PING:
        break;
    case TCPLS_FRAME_STREAM:
    case TCPLS_FRAME_STREAM_FIN:
        if (f->u.stream.len)
            memmove(p, f->u.stream.data, f->u.stream.len);
        tcpls__frame_stream_trailer(p + f->u.stream.len, f->u.stream.stream_id, f->u.stream.offset,
                                    f->u.stream.len, f->type == TCPLS_FRAME_STREAM_FIN);
        return n;
    case TCPLS_FRAME_ACK:
        tcpls__put64(p, f->u.ack.seq);
        tcpls__put32(p + 8, f->u.ack.conn_id);
        p += 12;
        break;
    case TCPLS_FRAME_NEW_TOKEN:
        memcpy(p, f->u.new_token.token, TCPLS_TOKEN_LEN);
        p[TCPLS_TOKEN_LEN] = f->u.new_token.seq;
        p += TCPLS_TOKEN_LEN + 1;
        break;
    case TCPLS_FRAME_CONN_RESET:
        tcpls__put32(p, f->u.conn_reset.conn_id);
        p += 4;
        break;
    case TCPLS_FRAME_NEW_ADDRESS: {
        size_t alen = f->u.new_address.version == 6 ? 16 : 4;
        if (f->u.new_address.version != 4 && f->u.new_address.version != 6)
            return 0;
        tcpls__put16(p, f->u.new_address.port);
        memcpy(p + 2, f->u.new_address.addr, alen);
        p[2 + alen] = f->u.new_address.version;
        p[3 + alen] = f->u.new_address.addr_id;
        p += 4 + alen;
        break;
    }
    case TCPLS_FRAME_REMOVE_ADDRESS:
        *p++ = f->u.remove_address.addr_id;
        break;
    case TCPLS_FRAME_STREAM_CHANGE:
        tcpls__put32(p, f->u.stream_change.stream_id);
        tcpls__put64(p + 4, f->u.stream_change.offset);
        p += 12;
        break;
    case TCPLS_FRAME_CONN_PRIORITY:
        if (f->u.conn_priority.backup > 1)
            return 0;
        tcpls__put32(p, f->u.conn_priority.conn_id);
        p[4] = f->u.conn_priority.backup;
        p += 5;
        break;
    }
    *p = f->type;
    return n;
}

int
tcpls__frame_parse(const uint8_t **src, const uint8_t *start, tcpls_frame_t *f)
{
    const uint8_t *end = *src;
    size_t avail;

    if (end <= start)
        return TCPLS_ERR_FRAME;
    avail = (size_t)(end - start);
    memset(f, 0, sizeof(*f));
    f->type = end[-1];
    end--;
    avail--;
#define NEED(n)                                                                                              \
    do {                                                                                                     \
        if (avail < (size_t)(n))                                                                             \
            return TCPLS_ERR_FRAME;                                                                          \
    } while (0)
    switch (f->type) {
    case TCPLS_FRAME_PADDING:
    case TCPLS_FRAME_PING:
        break;
    case TCPLS_FRAME_STREAM:
    case TCPLS_FRAME_STREAM_FIN:
        NEED(14);
        f->u.stream.fin = f->type == TCPLS_FRAME_STREAM_FIN;
        f->u.stream.stream_id = tcpls__get32(end - 4);
        f->u.stream.offset = tcpls__get64(end - 12);
        f->u.stream.len = tcpls__get16(end - 14);
        end -= 14;
        avail -= 14;
        NEED(f->u.stream.len);
        end -= f->u.stream.len;
        f->u.stream.data = end;
        if (f->u.stream.offset + f->u.stream.len < f->u.stream.offset)
            return TCPLS_ERR_FRAME;
        break;
    case TCPLS_FRAME_ACK:
        NEED(12);
        f->u.ack.conn_id = tcpls__get32(end - 4);
        f->u.ack.seq = tcpls__get64(end - 12);
        end -= 12;
        break;
    case TCPLS_FRAME_NEW_TOKEN:
        NEED(TCPLS_TOKEN_LEN + 1);
        f->u.new_token.seq = end[-1];
        memcpy(f->u.new_token.token, end - 1 - TCPLS_TOKEN_LEN, TCPLS_TOKEN_LEN);
        end -= TCPLS_TOKEN_LEN + 1;
        break;
    case TCPLS_FRAME_CONN_RESET:
        NEED(4);
        f->u.conn_reset.conn_id = tcpls__get32(end - 4);
        end -= 4;
        break;
    case TCPLS_FRAME_NEW_ADDRESS: {
        size_t alen;
        NEED(2);
        f->u.new_address.addr_id = end[-1];
        f->u.new_address.version = end[-2];
        if (f->u.new_address.version == 4)
            alen = 4;
        else if (f->u.new_address.version == 6)
            alen = 16;
        else
            return TCPLS_ERR_FRAME;
        end -= 2;
        avail -= 2;
        NEED(alen + 2);
        memcpy(f->u.new_address.addr, end - alen, alen);
        f->u.new_address.port = tcpls__get16(end - alen - 2);
        end -= alen + 2;
        break;
    }
    case TCPLS_FRAME_REMOVE_ADDRESS:
        NEED(1);
        f->u.remove_address.addr_id = end[-1];
        end -= 1;
        break;
    case TCPLS_FRAME_STREAM_CHANGE:
        NEED(12);
        f->u.stream_change.offset = tcpls__get64(end - 8);
        f->u.stream_change.stream_id = tcpls__get32(end - 12);
        end -= 12;
        break;
    case TCPLS_FRAME_CONN_PRIORITY:
        NEED(5);
        f->u.conn_priority.backup = end[-1];
        f->u.conn_priority.conn_id = tcpls__get32(end - 5);
        if (f->u.conn_priority.backup > 1)
            return TCPLS_ERR_FRAME;
        end -= 5;
        break;
    default:
        return TCPLS_ERR_FRAME;
    }
#undef NEED
    *src = end;
    return 0;
}

int
tcpls__frame_is_ack_eliciting(uint8_t type)
{
    return type != TCPLS_FRAME_PADDING && type != TCPLS_FRAME_ACK;
}
