/*
 * stream.c — one TCPLS stream: a send ring that keeps every byte until it is acknowledged
 * (the bytes a failover resends), and a receive side that reorders by offset with a bound on
 * the out-of-order bytes it holds.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

tcpls_stream_t *
tcpls__stream_new(uint32_t id)
{
    tcpls_stream_t *st = calloc(1, sizeof(*st));
    if (st != NULL)
        st->id = id;
    return st;
}

void
tcpls__stream_free(tcpls_stream_t *st)
{
    if (st == NULL)
        return;
    while (st->reorder != NULL) {
        tcpls_chunk_t *c = st->reorder;
        st->reorder = c->next;
        free(c);
    }
    free(st->sbuf);
    free(st->acked);
    free(st->resend);
    free(st);
}

static int
ring_grow(tcpls_stream_t *st, size_t need)
{
    size_t cap = st->scap ? st->scap : 16384;
    uint8_t *nb;

    while (cap < need)
        cap *= 2;
    if (cap == st->scap)
        return 0;
    if ((nb = malloc(cap)) == NULL)
        return TCPLS_ERR_NOMEM;
    if (st->slen) {
        size_t first = st->scap - st->shead;
        if (first > st->slen)
            first = st->slen;
        memcpy(nb, st->sbuf + st->shead, first);
        memcpy(nb + first, st->sbuf, st->slen - first);
    }
    free(st->sbuf);
    st->sbuf = nb;
    st->scap = cap;
    st->shead = 0;
    return 0;
}

size_t
tcpls__stream_append(tcpls_stream_t *st, const uint8_t *data, size_t len, size_t limit)
{
    size_t take, pos, first;

    if (st->fin_queued || st->slen >= limit)
        return 0;
    take = limit - st->slen;
    if (take > len)
        take = len;
    if (take == 0)
        return 0;
    if (st->slen + take > st->scap && ring_grow(st, st->slen + take) != 0)
        return 0;
    pos = (st->shead + st->slen) & (st->scap - 1);
    first = st->scap - pos;
    if (first > take)
        first = take;
    memcpy(st->sbuf + pos, data, first);
    memcpy(st->sbuf, data + first, take - first);
    st->slen += take;
    return take;
}

int
tcpls__stream_has_pending(const tcpls_stream_t *st)
{
    return st->nresend > 0 || st->send_next < st->send_base + st->slen || (st->fin_queued && !st->fin_sent);
}

int
tcpls__stream_next_chunk(tcpls_stream_t *st, size_t max, uint64_t *off, size_t *len, int *fin,
                         tcpls_iov_t iov[2])
{
    uint64_t data_end = st->send_base + st->slen, o;
    size_t n, idx, first;

    *fin = 0;
    if (st->nresend > 0) {
        tcpls_range_t *r = &st->resend[0];
        if (r->off < st->send_base)
            r->off = st->send_base;
        o = r->off;
        n = r->end > o ? (size_t)(r->end - o) : 0;
        if (n > max)
            n = max;
        r->off += n;
        if (r->off >= r->end) {
            memmove(st->resend, st->resend + 1, (st->nresend - 1) * sizeof(*st->resend));
            st->nresend--;
        }
    } else if (st->send_next < data_end) {
        o = st->send_next;
        n = (size_t)(data_end - o);
        if (n > max)
            n = max;
        st->send_next += n;
    } else if (st->fin_queued && !st->fin_sent) {
        o = data_end;
        n = 0;
    } else {
        return 0;
    }
    if (st->fin_queued && !st->fin_sent && st->nresend == 0 && o + n == data_end &&
        st->send_next == data_end) {
        *fin = 1;
        st->fin_sent = 1;
    }
    *off = o;
    *len = n;
    if (n == 0)
        return 1; /* a FIN alone (or an empty resend): one empty iov */
    idx = (st->shead + (size_t)(o - st->send_base)) & (st->scap - 1);
    first = st->scap - idx;
    if (first > n)
        first = n;
    iov[0].base = st->sbuf + idx;
    iov[0].len = first;
    if (first == n)
        return 1;
    iov[1].base = st->sbuf;
    iov[1].len = n - first;
    return 2;
}

static int
range_insert(tcpls_range_t **arr, size_t *n, size_t *cap, uint64_t off, uint64_t end)
{
    size_t i = 0, j;

    while (i < *n && (*arr)[i].end < off)
        i++;
    /* merge with every range overlapping or touching [off, end) */
    j = i;
    while (j < *n && (*arr)[j].off <= end) {
        if ((*arr)[j].off < off)
            off = (*arr)[j].off;
        if ((*arr)[j].end > end)
            end = (*arr)[j].end;
        j++;
    }
    if (j > i) {
        (*arr)[i].off = off;
        (*arr)[i].end = end;
        memmove(*arr + i + 1, *arr + j, (*n - j) * sizeof(**arr));
        *n -= j - i - 1;
        return 0;
    }
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        tcpls_range_t *na = realloc(*arr, ncap * sizeof(*na));
        if (na == NULL)
            return TCPLS_ERR_NOMEM;
        *arr = na;
        *cap = ncap;
    }
    memmove(*arr + i + 1, *arr + i, (*n - i) * sizeof(**arr));
    (*arr)[i].off = off;
    (*arr)[i].end = end;
    (*n)++;
    return 0;
}

size_t
tcpls__stream_ack(tcpls_stream_t *st, uint64_t off, size_t len, int fin)
{
    uint64_t end = off + len, old_base = st->send_base;
    size_t released;

    if (fin)
        st->fin_acked = 1;
    if (len == 0 || end <= st->send_base)
        return 0;
    if (off < st->send_base)
        off = st->send_base;
    if (off == st->send_base) {
        st->send_base = end;
    } else if (range_insert(&st->acked, &st->nacked, &st->acked_cap, off, end) != 0) {
        return 0; /* out of memory: the range stays unacknowledged, which is safe */
    }
    while (st->nacked > 0 && st->acked[0].off <= st->send_base) {
        if (st->acked[0].end > st->send_base)
            st->send_base = st->acked[0].end;
        memmove(st->acked, st->acked + 1, (st->nacked - 1) * sizeof(*st->acked));
        st->nacked--;
    }
    released = (size_t)(st->send_base - old_base);
    if (released > st->slen)
        released = st->slen; /* cannot happen with a well-behaved sender's own records */
    st->shead = st->scap ? (st->shead + released) & (st->scap - 1) : 0;
    st->slen -= released;
    if (st->send_next < st->send_base)
        st->send_next = st->send_base;
    return released;
}

int
tcpls__stream_requeue(tcpls_stream_t *st, uint64_t off, size_t len, int fin)
{
    if (fin && !st->fin_acked)
        st->fin_sent = 0;
    if (off + len <= st->send_base)
        return 0;
    if (off < st->send_base) {
        len -= (size_t)(st->send_base - off);
        off = st->send_base;
    }
    if (len == 0)
        return 0;
    return range_insert(&st->resend, &st->nresend, &st->resend_cap, off, off + len);
}

int
tcpls__stream_send_done(const tcpls_stream_t *st)
{
    return st->fin_queued && st->fin_acked && st->slen == 0 && st->nresend == 0;
}

static void
deliver(tcpls_stream_t *st, const uint8_t *data, size_t len, tcpls_deliver_fn fn, void *arg)
{
    int fin;
    st->recv_next += len;
    fin = st->fin_received && st->recv_next == st->fin_offset && !st->fin_delivered;
    if (fin)
        st->fin_delivered = 1;
    if (len > 0 || fin)
        fn(arg, st, data, len, fin);
}

int
tcpls__stream_receive(tcpls_stream_t *st, uint64_t off, const uint8_t *data, size_t len, int fin,
                      size_t reorder_limit, tcpls_deliver_fn fn, void *arg)
{
    uint64_t end = off + len;

    if (fin) {
        if (st->fin_received && st->fin_offset != end)
            return TCPLS_ERR_PROTOCOL;
        if (end < st->recv_next)
            return TCPLS_ERR_PROTOCOL;
        for (const tcpls_chunk_t *c = st->reorder; c != NULL; c = c->next)
            if (c->off + c->len > end)
                return TCPLS_ERR_PROTOCOL; /* bytes already held lie past the FIN */
        st->fin_received = 1;
        st->fin_offset = end;
    }
    if (st->fin_received && end > st->fin_offset)
        return TCPLS_ERR_PROTOCOL;
    if (off <= st->recv_next) {
        if (end > st->recv_next) {
            size_t skip = (size_t)(st->recv_next - off);
            deliver(st, data + skip, len - skip, fn, arg);
        }
        while (st->reorder != NULL && st->reorder->off <= st->recv_next) {
            tcpls_chunk_t *c = st->reorder;
            st->reorder = c->next;
            st->reorder_bytes -= c->len;
            if (c->off + c->len > st->recv_next) {
                size_t skip = (size_t)(st->recv_next - c->off);
                deliver(st, c->data + skip, c->len - skip, fn, arg);
            }
            free(c);
        }
    } else if (len > 0) {
        tcpls_chunk_t *c, **pp;
        if (st->reorder_bytes + len > reorder_limit)
            return TCPLS_ERR_FLOW;
        if ((c = malloc(sizeof(*c) + len)) == NULL)
            return TCPLS_ERR_NOMEM;
        c->off = off;
        c->len = len;
        memcpy(c->data, data, len);
        for (pp = &st->reorder; *pp != NULL && (*pp)->off < off; pp = &(*pp)->next)
            ;
        c->next = *pp;
        *pp = c;
        st->reorder_bytes += len;
    }
    if (st->fin_received && st->recv_next == st->fin_offset && !st->fin_delivered)
        deliver(st, NULL, 0, fn, arg);
    return 0;
}
