/* fuzz_tcp.c -- Fuzz target for the TCP reassembler with tight caps. Input: records of
 * (bit 7: direction, low bits: TCP flags), seq (4), ack (4), length (1), payload. Checks that
 * the held bytes stay within the caps. */
#include <stdlib.h>
#include <string.h>

#include "tcp_reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_data(void *ud, struct rr_tcp_conn *c, int side, const uint8_t *p, size_t n,
                   uint64_t ts)
{
    size_t *sum = ud;
    for (size_t i = 0; i < n; i++)
        *sum += p[i];
    return 0;
}

static int on_gap(void *ud, struct rr_tcp_conn *c, int side, uint64_t n, uint64_t ts)
{
    return 0;
}

static int on_end(void *ud, struct rr_tcp_conn *c, enum rr_tcp_end why, uint64_t ts)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    struct rr_rec_opts o;
    struct rr_rec_stats st;
    struct rr_tcp *t = NULL;
    size_t sum = 0;
    struct rr_tcp_cb cb = {on_data, on_gap, NULL, on_end, &sum};
    uint64_t ts = 1;
    rr_rec_opts_default(&o);
    o.max_conn_buffered = 64;
    o.max_buffered = 100;
    o.max_conns = 2;
    o.idle_us = 50;
    memset(&st, 0, sizeof(st));
    rr_tcp_new(&t, &o, &st, &cb);
    while (size >= 10) {
        struct rr_tcp_pkt pk;
        memset(&pk, 0, sizeof(pk));
        int dir = data[0] >> 7;
        pk.ipv = 4;
        pk.src = dir ? b : a;
        pk.dst = dir ? a : b;
        pk.sport = (uint16_t)(dir ? 80 : 1000 + (data[0] >> 6 & 1));
        pk.dport = (uint16_t)(dir ? 1000 : 80);
        pk.flags = data[0] & 0x3f;
        pk.seq =
            (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
        pk.ack =
            (uint32_t)data[5] << 24 | (uint32_t)data[6] << 16 | (uint32_t)data[7] << 8 | data[8];
        size_t n = data[9];
        data += 10;
        size -= 10;
        if (n > size)
            n = size;
        pk.payload = data;
        pk.len = n;
        pk.ts_us = ts += 7;
        if (rr_tcp_feed(t, &pk))
            abort();
        if (rr_tcp_buffered(t) > o.max_buffered || rr_tcp_nconns(t) > o.max_conns)
            abort();
        data += n;
        size -= n;
    }
    if (rr_tcp_finish(t, ts))
        abort();
    rr_tcp_free(&t);
    return 0;
}
