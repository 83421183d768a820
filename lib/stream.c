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
    free(st->rbuf);
    free(st->rbits);
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

/* ---- the reorder ring: byte i of the stream lives at rbuf[i % rcap], held iff its bit is set */

static int
bit_get(const uint64_t *bits, size_t i)
{
    return (int)((bits[i / 64] >> (i % 64)) & 1);
}

/* Sets (value 1) or clears (0) bits [i, i + n) of the ring; returns how many changed. */
static size_t
bits_set(uint64_t *bits, size_t i, size_t n, int value)
{
    size_t changed = 0;
    while (n > 0) {
        size_t w = i / 64, b = i % 64, k = 64 - b;
        uint64_t mask, old;
        if (k > n)
            k = n;
        mask = (k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << b;
        old = bits[w];
        bits[w] = value ? old | mask : old & ~mask;
        changed += (size_t)__builtin_popcountll((old ^ bits[w]) & mask);
        i += k;
        n -= k;
    }
    return changed;
}

/* Length of the run of held bytes starting at ring index i, at most max (never wrapping). */
static size_t
bits_run(const uint64_t *bits, size_t i, size_t max)
{
    size_t n = 0;
    while (n < max) {
        size_t w = (i + n) / 64, b = (i + n) % 64;
        uint64_t v = ~bits[w] >> b; /* ones where bytes are missing */
        size_t run = v == 0 ? 64 - b : (size_t)__builtin_ctzll(v);
        if (run > 64 - b)
            run = 64 - b;
        n += run;
        if (run < 64 - b)
            break;
    }
    return n < max ? n : max;
}

/* Distance from ring index i to the next held byte, or max when none lies before i + max. */
static size_t
bits_skip(const uint64_t *bits, size_t i, size_t max)
{
    size_t n = 0;
    while (n < max) {
        size_t w = (i + n) / 64, b = (i + n) % 64;
        uint64_t v = bits[w] >> b;
        if (v != 0) {
            n += (size_t)__builtin_ctzll(v);
            break;
        }
        n += 64 - b;
    }
    return n < max ? n : max;
}

/* Copies len bytes (data, or clears when data is NULL) into the ring at stream offset off,
 * in at most two pieces; returns the number of bytes newly held or released. */
static size_t
ring_put(tcpls_stream_t *st, uint64_t off, const uint8_t *data, size_t len)
{
    size_t changed = 0;
    while (len > 0) {
        size_t idx = (size_t)(off % st->rcap), n = st->rcap - idx;
        if (n > len)
            n = len;
        if (data != NULL) {
            memcpy(st->rbuf + idx, data, n);
            data += n;
        }
        changed += bits_set(st->rbits, idx, n, data != NULL);
        off += n;
        len -= n;
    }
    return changed;
}

static size_t
ring_mem(size_t cap)
{
    return cap + cap / 8;
}

/* Makes the ring cover [recv_next, end) within mem_limit bytes of memory. */
static int
ring_reserve(tcpls_stream_t *st, uint64_t end, size_t mem_limit)
{
    uint64_t need = end - st->recv_next;
    size_t cap, max_cap = (mem_limit / 9 * 8) & ~(size_t)63;
    uint8_t *nbuf;
    uint64_t *nbits;

    if (need <= st->rcap)
        return 0;
    if (need > max_cap)
        return TCPLS_ERR_FLOW;
    cap = st->rcap ? st->rcap * 2 : 16384;
    while (cap < need)
        cap *= 2;
    if (cap > max_cap)
        cap = max_cap;
    if ((nbuf = malloc(cap)) == NULL || (nbits = calloc(cap / 64, sizeof(*nbits))) == NULL) {
        free(nbuf);
        return TCPLS_ERR_NOMEM;
    }
    /* Move what is held: every held byte lies in [recv_next, recv_next + old rcap). */
    for (uint64_t o = st->recv_next; st->reorder_bytes > 0 && o < st->recv_next + st->rcap;) {
        size_t idx = (size_t)(o % st->rcap), lim = st->rcap - idx, run, gap;
        if ((gap = bits_skip(st->rbits, idx, lim)) > 0) {
            o += gap;
            continue;
        }
        run = bits_run(st->rbits, idx, lim);
        for (size_t done = 0; done < run;) {
            size_t nidx = (size_t)((o + done) % cap), k = cap - nidx;
            if (k > run - done)
                k = run - done;
            memcpy(nbuf + nidx, st->rbuf + idx + done, k);
            bits_set(nbits, nidx, k, 1);
            done += k;
        }
        o += run;
    }
    free(st->rbuf);
    free(st->rbits);
    st->rbuf = nbuf;
    st->rbits = nbits;
    st->rcap = cap;
    st->reorder_mem = ring_mem(cap);
    return 0;
}

/* Delivers the held bytes that now continue the in-order data. */
static void
ring_drain(tcpls_stream_t *st, tcpls_deliver_fn fn, void *arg)
{
    while (st->reorder_bytes > 0) {
        size_t idx = (size_t)(st->recv_next % st->rcap), run;
        if (!bit_get(st->rbits, idx))
            return;
        run = bits_run(st->rbits, idx, st->rcap - idx);
        st->reorder_bytes -= bits_set(st->rbits, idx, run, 0);
        deliver(st, st->rbuf + idx, run, fn, arg);
    }
}

int
tcpls__stream_receive(tcpls_stream_t *st, uint64_t off, const uint8_t *data, size_t len, int fin,
                      size_t mem_limit, tcpls_deliver_fn fn, void *arg)
{
    uint64_t end = off + len;
    int r;

    if (fin) {
        if (st->fin_received && st->fin_offset != end)
            return TCPLS_ERR_PROTOCOL;
        if (end < st->recv_next || (st->reorder_bytes > 0 && st->rmax > end))
            return TCPLS_ERR_PROTOCOL; /* bytes already received lie past the FIN */
        st->fin_received = 1;
        st->fin_offset = end;
    }
    if (st->fin_received && end > st->fin_offset)
        return TCPLS_ERR_PROTOCOL;
    if (end > st->recv_next && len > 0) {
        if (off < st->recv_next) {
            data += st->recv_next - off;
            off = st->recv_next;
        }
        len = (size_t)(end - off);
        if (off == st->recv_next) {
            /* In order: delivered from the frame itself; held copies of it are released. */
            if (st->reorder_bytes > 0)
                st->reorder_bytes -= ring_put(st, off, NULL, len < st->rcap ? len : st->rcap);
            deliver(st, data, len, fn, arg);
            if (st->reorder_bytes > 0)
                ring_drain(st, fn, arg);
        } else {
            if ((r = ring_reserve(st, end, mem_limit)) != 0)
                return r;
            st->reorder_bytes += ring_put(st, off, data, len);
            if (end > st->rmax)
                st->rmax = end;
        }
    }
    if (st->fin_received && st->recv_next == st->fin_offset && !st->fin_delivered)
        deliver(st, NULL, 0, fn, arg);
    return 0;
}
