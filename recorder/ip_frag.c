/* ip_frag.c -- IPv4 and IPv6 fragment reassembly (see ip_frag.h for the contract). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ip_frag.h"

#define UNITS ((RR_IPFRAG_MAX_PAYLOAD + 7) / 8)

struct dgram {
    struct rr_ipfrag_key key;
    uint64_t first_ts;
    uint32_t total;   /* payload length, known once the last fragment (MF=0) arrived */
    uint32_t max_end; /* furthest byte any accepted fragment reached */
    uint32_t have;    /* 8-byte units received */
    uint32_t nfrags;  /* fragments accepted, duplicates included */
    uint8_t has_total;
    size_t cap;
    uint8_t *buf;
    uint8_t map[(UNITS + 7) / 8];
};

struct rr_ipfrag {
    struct dgram **d; /* the n datagrams in progress, d[0..n), at most max */
    size_t max, n;
    uint64_t timeout_us;
    uint8_t *done; /* the last completed payload, handed out until the next call */
    struct rr_ipfrag_stats st;
};

int rr_ipfrag_new(struct rr_ipfrag **out, size_t max_dgrams, uint64_t timeout_us)
{
    struct rr_ipfrag *f = calloc(1, sizeof(*f));
    if (max_dgrams == 0)
        max_dgrams = 1;
    if (!f)
        return -ENOMEM;
    f->d = calloc(max_dgrams, sizeof(*f->d));
    if (!f->d) {
        free(f);
        return -ENOMEM;
    }
    f->max = max_dgrams;
    f->timeout_us = timeout_us;
    *out = f;
    return 0;
}

/* The last datagram takes the freed place, so a lookup scans only those in progress. */
static void drop_slot(struct rr_ipfrag *f, size_t i)
{
    free(f->d[i]->buf);
    free(f->d[i]);
    f->d[i] = f->d[--f->n];
    f->d[f->n] = NULL;
}

/* Incomplete: its fragments count as dropped. */
static void evict(struct rr_ipfrag *f, size_t i)
{
    f->st.evicted++;
    f->st.dropped += f->d[i]->nfrags;
    drop_slot(f, i);
}

void rr_ipfrag_flush(struct rr_ipfrag *f)
{
    while (f && f->n)
        evict(f, f->n - 1);
}

void rr_ipfrag_free(struct rr_ipfrag **pf)
{
    struct rr_ipfrag *f = *pf;
    if (!f)
        return;
    while (f->n)
        drop_slot(f, f->n - 1);
    free(f->d);
    free(f->done);
    free(f);
    *pf = NULL;
}

const struct rr_ipfrag_stats *rr_ipfrag_stats(const struct rr_ipfrag *f)
{
    return &f->st;
}

size_t rr_ipfrag_pending(const struct rr_ipfrag *f)
{
    return f->n;
}

static int bit(const struct dgram *d, uint32_t u)
{
    return d->map[u >> 3] >> (u & 7) & 1;
}

/* Finds the datagram of key, expiring old ones on the way; makes one when absent. */
static int lookup(struct rr_ipfrag *f, const struct rr_ipfrag_key *key, uint64_t ts,
                  struct dgram **out)
{
    size_t i = 0, old_i = 0;
    *out = NULL;
    while (i < f->n) {
        struct dgram *d = f->d[i];
        /* Capture time may step back across merged files: only a forward gap expires. */
        if (ts > d->first_ts && ts - d->first_ts > f->timeout_us) {
            evict(f, i); /* d[i] is now another datagram: look at it too */
            f->st.evicted_timeout++;
            continue;
        }
        if (memcmp(&d->key, key, sizeof(*key)) == 0) {
            *out = d;
            return 0;
        }
        if (d->first_ts < f->d[old_i]->first_ts)
            old_i = i;
        i++;
    }
    if (f->n == f->max) {
        /* Full: the oldest datagram is the least likely to complete. */
        evict(f, old_i);
        f->st.evicted_cap++;
    }
    struct dgram *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->key = *key;
    d->first_ts = ts;
    f->d[f->n++] = d;
    *out = d;
    return 0;
}

static size_t slot_of(const struct rr_ipfrag *f, const struct dgram *d)
{
    size_t i = 0;
    while (f->d[i] != d)
        i++;
    return i;
}

int rr_ipfrag_add(struct rr_ipfrag *f, const struct rr_ipfrag_key *key, uint32_t off, int more,
                  const uint8_t *p, size_t n, uint64_t ts_us, const uint8_t **out, size_t *outlen)
{
    struct dgram *d = NULL;
    free(f->done);
    f->done = NULL;
    /* Offsets come in 8-byte units; every fragment but the last carries whole units. */
    if ((off & 7) || n > RR_IPFRAG_MAX_PAYLOAD || off > RR_IPFRAG_MAX_PAYLOAD - n ||
        (more && (n == 0 || (n & 7)))) {
        f->st.dropped++;
        return 0;
    }
    uint32_t end = off + (uint32_t)n;
    int err = lookup(f, key, ts_us, &d);
    if (err)
        return err;
    /* The last fragment fixes the length: anything contradicting it is discarded. */
    if ((d->has_total && (end > d->total || (!more && end != d->total))) ||
        (!more && d->max_end > end)) {
        f->st.dropped++;
        if (d->nfrags == 0)
            drop_slot(f, slot_of(f, d));
        return 0;
    }
    if (end > d->cap) {
        size_t cap = d->cap ? d->cap : 2048;
        while (cap < end)
            cap *= 2;
        if (cap > RR_IPFRAG_MAX_PAYLOAD)
            cap = RR_IPFRAG_MAX_PAYLOAD;
        uint8_t *nb = realloc(d->buf, cap);
        if (!nb)
            return -ENOMEM;
        d->buf = nb;
        d->cap = cap;
    }
    /* First come wins: only units not seen yet are copied. */
    for (uint32_t u = off / 8; u * 8 < end; u++) {
        if (bit(d, u))
            continue;
        uint32_t a = u * 8, b = a + 8 < end ? a + 8 : end;
        memcpy(d->buf + a, p + (a - off), b - a);
        d->map[u >> 3] |= (uint8_t)(1u << (u & 7));
        d->have++;
    }
    if (!more) {
        d->has_total = 1;
        d->total = end;
    }
    if (end > d->max_end)
        d->max_end = end;
    d->nfrags++;
    if (!d->has_total || d->have != (d->total + 7) / 8)
        return 0;
    f->st.datagrams++;
    f->st.reassembled += d->nfrags;
    *outlen = d->total;
    f->done = d->buf;
    d->buf = NULL;
    *out = f->done ? f->done : (const uint8_t *)"";
    drop_slot(f, slot_of(f, d));
    return 1;
}
