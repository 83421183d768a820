/*
 * simlink.c — see simlink.h.
 */
#include <stdlib.h>
#include <string.h>

#include "simlink.h"

void
simlink_dir_free(simlink_dir_t *d)
{
    while (d->head) {
        simlink_chunk_t *c = d->head;
        d->head = c->next;
        free(c);
    }
    d->tail = NULL;
    free(d->sbuf);
    memset(d, 0, sizeof(*d));
}

void
simlink_dir_write(simlink_dir_t *d, tcpls_session_t *s, uint32_t conn_id)
{
    const uint8_t *data;
    size_t len;
    if (d->scap == 0) {
        d->scap = 64 * 1024;
        d->sbuf = malloc(d->scap);
    }
    if (tcpls_conn_output(s, conn_id, &data, &len) != 0 || len == 0)
        return;
    size_t room = d->scap - d->slen;
    if (len > room)
        len = room;
    memcpy(d->sbuf + d->slen, data, len);
    d->slen += len;
    tcpls_conn_output_consumed(s, conn_id, len);
}

void
simlink_dir_step(simlink_dir_t *d, double rate, uint64_t delay_us, int blackhole, uint64_t now_us,
                 uint64_t step_us)
{
    size_t n;
    d->credit += rate * (double)step_us;
    n = d->credit < (double)d->slen ? (size_t)d->credit : d->slen;
    if (n == 0) {
        if (d->slen == 0)
            d->credit = 0;
        return;
    }
    d->credit -= (double)n;
    if (!blackhole) {
        simlink_chunk_t *c = malloc(sizeof(*c) + n);
        c->next = NULL;
        c->arrive_us = now_us + delay_us;
        c->len = n;
        memcpy(c->data, d->sbuf, n);
        if (d->tail)
            d->tail->next = c;
        else
            d->head = c;
        d->tail = c;
    }
    memmove(d->sbuf, d->sbuf + n, d->slen - n);
    d->slen -= n;
}

void
simlink_dir_deliver(simlink_dir_t *d, uint64_t now_us, tcpls_session_t *s, uint32_t conn_id, uint64_t *count)
{
    while (d->head && d->head->arrive_us <= now_us) {
        simlink_chunk_t *c = d->head;
        d->head = c->next;
        if (d->head == NULL)
            d->tail = NULL;
        tcpls_receive(s, conn_id, c->data, c->len, now_us * 1000);
        if (count)
            *count += c->len;
        free(c);
    }
}
