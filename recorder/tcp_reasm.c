/* tcp_reasm.c -- TCP reassembly per connection and direction.
 *
 * The first copy of a byte wins (later retransmissions and overlaps are dropped, as a receiving
 * stack does). Bytes ahead of the expected sequence are held, bounded per direction and
 * globally; a hole becomes a gap once the peer has acknowledged past it (so the receiver got
 * bytes the capture missed), when a cap forces it, or when the connection ends. */
#include <string.h>

#include "rr/util.h"
#include "tcp_reasm.h"

struct rr_tcp_seg {
    struct rr_tcp_seg *next;
    uint32_t seq;
    size_t len;
    uint8_t data[];
};

struct rr_tcp {
    struct rr_rec_opts o;
    struct rr_rec_stats *st;
    struct rr_tcp_cb cb;
    struct rr_tcp_conn **tab;
    size_t nbuckets, n;
    struct rr_tcp_conn *lru_head, *lru_tail; /* head: least recently active */
    size_t buffered;
};

static inline int32_t sdiff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

void rr_tcp_new(struct rr_tcp **out, const struct rr_rec_opts *o, struct rr_rec_stats *st,
                const struct rr_tcp_cb *cb)
{
    struct rr_tcp *t = rr_xcalloc(1, sizeof(*t));
    t->o = *o;
    t->st = st;
    t->cb = *cb;
    t->nbuckets = 1024;
    t->tab = rr_xcalloc(t->nbuckets, sizeof(*t->tab));
    *out = t;
}

size_t rr_tcp_nconns(const struct rr_tcp *t)
{
    return t->n;
}

size_t rr_tcp_buffered(const struct rr_tcp *t)
{
    return t->buffered;
}

/* Hash of the endpoint pair, the same for both directions. */
static uint64_t key_hash(uint8_t ipv, const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
    size_t al = ipv == 4 ? 4 : 16;
    uint64_t ha = rr_hash64(a, al, pa), hb = rr_hash64(b, al, pb);
    return ha ^ hb ^ ((uint64_t)(pa ^ pb) << 32);
}

static int ep_eq(const struct rr_tcp_conn *c, int side, const uint8_t *ip, uint16_t port)
{
    return c->port[side] == port && memcmp(c->ip[side], ip, c->ipv == 4 ? 4 : 16) == 0;
}

static struct rr_tcp_conn *lookup(struct rr_tcp *t, const struct rr_tcp_pkt *pk, uint64_t h,
                                  int *side)
{
    for (struct rr_tcp_conn *c = t->tab[h & (t->nbuckets - 1)]; c; c = c->hnext) {
        if (c->hash != h || c->ipv != pk->ipv)
            continue;
        if (ep_eq(c, 0, pk->src, pk->sport) && ep_eq(c, 1, pk->dst, pk->dport)) {
            *side = 0;
            return c;
        }
        if (ep_eq(c, 1, pk->src, pk->sport) && ep_eq(c, 0, pk->dst, pk->dport)) {
            *side = 1;
            return c;
        }
    }
    return NULL;
}

static void lru_unlink(struct rr_tcp *t, struct rr_tcp_conn *c)
{
    if (c->lprev)
        c->lprev->lnext = c->lnext;
    else
        t->lru_head = c->lnext;
    if (c->lnext)
        c->lnext->lprev = c->lprev;
    else
        t->lru_tail = c->lprev;
    c->lprev = c->lnext = NULL;
}

static void lru_append(struct rr_tcp *t, struct rr_tcp_conn *c)
{
    c->lprev = t->lru_tail;
    c->lnext = NULL;
    if (t->lru_tail)
        t->lru_tail->lnext = c;
    else
        t->lru_head = c;
    t->lru_tail = c;
}

static void grow(struct rr_tcp *t)
{
    size_t nb = t->nbuckets * 2;
    struct rr_tcp_conn **tab = rr_xcalloc(nb, sizeof(*tab));
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct rr_tcp_conn *c = t->tab[i], *next;
        for (; c; c = next) {
            next = c->hnext;
            c->hnext = tab[c->hash & (nb - 1)];
            tab[c->hash & (nb - 1)] = c;
        }
    }
    free(t->tab);
    t->tab = tab;
    t->nbuckets = nb;
}

static void free_ooo(struct rr_tcp *t, struct rr_tcp_dir *d)
{
    struct rr_tcp_seg *s = d->ooo, *next;
    for (; s; s = next) {
        next = s->next;
        t->buffered -= s->len;
        free(s);
    }
    d->ooo = NULL;
    d->ooo_bytes = 0;
}

static void conn_remove(struct rr_tcp *t, struct rr_tcp_conn *c)
{
    struct rr_tcp_conn **pp = &t->tab[c->hash & (t->nbuckets - 1)];
    while (*pp != c)
        pp = &(*pp)->hnext;
    *pp = c->hnext;
    lru_unlink(t, c);
    free_ooo(t, &c->d[0]);
    free_ooo(t, &c->d[1]);
    t->n--;
    free(c);
}

static int emit(struct rr_tcp *t, struct rr_tcp_conn *c, int side, const uint8_t *p, size_t n,
                uint64_t ts)
{
    if (n == 0 || c->closed)
        return 0;
    return t->cb.on_data(t->cb.ud, c, side, p, n, ts);
}

static int emit_gap(struct rr_tcp *t, struct rr_tcp_conn *c, int side, uint64_t n, uint64_t ts)
{
    if (n == 0 || c->closed)
        return 0;
    t->st->gaps++;
    t->st->gap_bytes += n;
    return t->cb.on_gap(t->cb.ud, c, side, n, ts);
}

/* Delivers held segments that have become contiguous. */
static int drain(struct rr_tcp *t, struct rr_tcp_conn *c, int side, uint64_t ts)
{
    struct rr_tcp_dir *d = &c->d[side];
    int rc = 0;
    while (d->ooo && sdiff(d->ooo->seq, d->next) <= 0) {
        struct rr_tcp_seg *s = d->ooo;
        d->ooo = s->next;
        d->ooo_bytes -= s->len;
        t->buffered -= s->len;
        uint32_t skip = (uint32_t)(d->next - s->seq);
        if (skip < s->len) {
            d->next = s->seq + (uint32_t)s->len;
            rc = emit(t, c, side, s->data + skip, s->len - skip, ts);
        }
        free(s);
        if (rc)
            return rc;
    }
    return 0;
}

/* Declares the hole before the first held segment lost and delivers what follows it. */
static int skip_hole(struct rr_tcp *t, struct rr_tcp_conn *c, int side, uint64_t ts)
{
    struct rr_tcp_dir *d = &c->d[side];
    if (!d->ooo)
        return 0;
    int32_t hole = sdiff(d->ooo->seq, d->next);
    if (hole > 0) {
        d->next = d->ooo->seq;
        int rc = emit_gap(t, c, side, (uint64_t)hole, ts);
        if (rc)
            return rc;
    }
    return drain(t, c, side, ts);
}

static int hold(struct rr_tcp *t, struct rr_tcp_conn *c, int side, uint32_t seq, const uint8_t *p,
                size_t n, uint64_t ts)
{
    struct rr_tcp_dir *d = &c->d[side];
    int rc;
    while (d->ooo &&
           (d->ooo_bytes + n > t->o.max_conn_buffered || t->buffered + n > t->o.max_buffered)) {
        t->st->ooo_forced_flushes++;
        rc = skip_hole(t, c, side, ts);
        if (rc)
            return rc;
    }
    if (n > t->o.max_conn_buffered || t->buffered + n > t->o.max_buffered) {
        /* No room even when empty: the segment itself becomes the next data. */
        t->st->ooo_forced_flushes++;
        int32_t hole = sdiff(seq, d->next);
        d->next = seq + (uint32_t)n;
        rc = emit_gap(t, c, side, (uint64_t)hole, ts);
        return rc ? rc : emit(t, c, side, p, n, ts);
    }
    struct rr_tcp_seg **pp = &d->ooo;
    while (*pp && sdiff((*pp)->seq, seq) <= 0) {
        if ((*pp)->seq == seq && (*pp)->len >= n)
            return 0; /* a retransmission of a held segment */
        pp = &(*pp)->next;
    }
    struct rr_tcp_seg *s = rr_xmalloc(sizeof(*s) + n);
    s->seq = seq;
    s->len = n;
    memcpy(s->data, p, n);
    s->next = *pp;
    *pp = s;
    d->ooo_bytes += n;
    t->buffered += n;
    return 0;
}

static int deliver(struct rr_tcp *t, struct rr_tcp_conn *c, int side, uint32_t seq,
                   const uint8_t *p, size_t n, size_t missing, uint64_t ts)
{
    struct rr_tcp_dir *d = &c->d[side];
    int rc;
    if (!d->have_next) {
        d->have_next = 1;
        d->next = seq;
    }
    int32_t off = sdiff(seq, d->next);
    if (off > 0) {
        if (d->have_ack && sdiff(d->acked, seq) >= 0) {
            /* The peer already acknowledged bytes we never saw. */
            rc = skip_hole(t, c, side, ts);
            if (rc)
                return rc;
            off = sdiff(seq, d->next);
            if (off > 0) {
                d->next = seq;
                rc = emit_gap(t, c, side, (uint64_t)off, ts);
                if (rc)
                    return rc;
            }
        } else {
            return n ? hold(t, c, side, seq, p, n, ts) : 0;
        }
        off = sdiff(seq, d->next);
    }
    size_t skip = (size_t)-off, total = n + missing;
    if (skip >= total)
        return drain(t, c, side, ts); /* retransmission */
    if (skip < n) {
        d->next = seq + (uint32_t)n;
        rc = emit(t, c, side, p + skip, n - skip, ts);
        if (rc)
            return rc;
    }
    if (missing) {
        size_t lost = skip > n ? total - skip : missing;
        d->next = seq + (uint32_t)total;
        t->st->skip_snaplen++;
        c->snaplen_gap = 1;
        rc = emit_gap(t, c, side, lost, ts);
        c->snaplen_gap = 0;
        if (rc)
            return rc;
    }
    return drain(t, c, side, ts);
}

/* Flushes what is held, reports a lost tail, and hands the connection to on_end. */
static int end_conn(struct rr_tcp *t, struct rr_tcp_conn *c, enum rr_tcp_end why, uint64_t ts)
{
    int rc = 0;
    if (c->closed)
        return 0;
    for (int side = 0; side < 2 && !rc; side++) {
        struct rr_tcp_dir *d = &c->d[side];
        while (d->ooo && !rc)
            rc = skip_hole(t, c, side, ts);
        if (rc || !d->have_next)
            continue;
        uint32_t end = d->fin ? d->fin_seq : d->acked;
        if ((d->fin || d->have_ack) && sdiff(end, d->next) > 0 && sdiff(end, d->next) < (1 << 30)) {
            uint32_t lost = (uint32_t)sdiff(end, d->next);
            d->next = end;
            rc = emit_gap(t, c, side, lost, ts);
        }
    }
    int rc2 = t->cb.on_end(t->cb.ud, c, why, ts);
    c->closed = 1;
    c->app = NULL;
    free_ooo(t, &c->d[0]);
    free_ooo(t, &c->d[1]);
    return rc ? rc : rc2;
}

static int expire(struct rr_tcp *t, uint64_t now)
{
    int rc = 0;
    while (t->lru_head && t->lru_head->t_last + t->o.idle_us < now) {
        struct rr_tcp_conn *c = t->lru_head;
        if (!c->closed)
            t->st->conns_evicted_idle++;
        rc = end_conn(t, c, RR_TCP_END_IDLE, now);
        conn_remove(t, c);
        if (rc)
            return rc;
    }
    return 0;
}

static struct rr_tcp_conn *conn_add(struct rr_tcp *t, const struct rr_tcp_pkt *pk, uint64_t h,
                                    int src_is_client)
{
    struct rr_tcp_conn *c = rr_xcalloc(1, sizeof(*c));
    size_t al = pk->ipv == 4 ? 4 : 16;
    int cs = src_is_client ? 0 : 1;
    c->ipv = pk->ipv;
    memcpy(c->ip[cs], pk->src, al);
    memcpy(c->ip[!cs], pk->dst, al);
    c->port[cs] = pk->sport;
    c->port[!cs] = pk->dport;
    c->hash = h;
    c->t_first = c->t_last = pk->ts_us;
    if (t->n >= t->nbuckets)
        grow(t);
    c->hnext = t->tab[h & (t->nbuckets - 1)];
    t->tab[h & (t->nbuckets - 1)] = c;
    lru_append(t, c);
    t->n++;
    t->st->conns++;
    return c;
}

int rr_tcp_feed(struct rr_tcp *t, const struct rr_tcp_pkt *pk)
{
    int side = 0, rc;
    uint64_t h = key_hash(pk->ipv, pk->src, pk->sport, pk->dst, pk->dport);
    uint8_t fl = pk->flags;

    rc = expire(t, pk->ts_us);
    if (rc)
        return rc;
    struct rr_tcp_conn *c = lookup(t, pk, h, &side);
    if (c && (fl & RR_TCP_SYN) && !(fl & RR_TCP_ACK) &&
        (c->closed || !c->d[side].have_isn || c->d[side].isn != pk->seq)) {
        /* A new connection on the same ports. */
        rc = end_conn(t, c, RR_TCP_END_REUSE, pk->ts_us);
        conn_remove(t, c);
        c = NULL;
        if (rc)
            return rc;
    }
    if (!c) {
        if (!(fl & RR_TCP_SYN) && pk->len + pk->missing == 0)
            return 0; /* a bare ACK, FIN or RST of a connection we do not know */
        if (fl & RR_TCP_RST)
            return 0;
        if (t->n >= t->o.max_conns && t->lru_head) {
            struct rr_tcp_conn *old = t->lru_head;
            if (!old->closed)
                t->st->conns_evicted_cap++;
            rc = end_conn(t, old, RR_TCP_END_CAP, pk->ts_us);
            conn_remove(t, old);
            if (rc)
                return rc;
        }
        int src_client;
        if (fl & RR_TCP_SYN)
            src_client = !(fl & RR_TCP_ACK);
        else
            src_client = pk->dport < pk->sport; /* a guess; the record layer may swap */
        c = conn_add(t, pk, h, src_client);
        side = src_client ? 0 : 1;
        c->saw_syn = (fl & RR_TCP_SYN) != 0;
    }
    c->t_last = pk->ts_us;
    lru_unlink(t, c);
    lru_append(t, c);
    if (c->closed)
        return 0;

    struct rr_tcp_dir *d = &c->d[side], *o = &c->d[!side];
    if (fl & RR_TCP_SYN) {
        if (!d->have_isn) {
            d->have_isn = 1;
            d->isn = pk->seq;
        }
        if (!d->have_next) {
            d->have_next = 1;
            d->next = pk->seq + 1;
        }
        return 0;
    }
    if (fl & RR_TCP_ACK) {
        if (!o->have_ack || sdiff(pk->ack, o->acked) > 0) {
            o->acked = pk->ack;
            o->have_ack = 1;
        }
        if (o->ooo && o->have_next && sdiff(o->acked, o->ooo->seq) >= 0) {
            while (o->ooo && sdiff(o->acked, o->ooo->seq) >= 0 && !rc)
                rc = skip_hole(t, c, !side, pk->ts_us);
            if (rc)
                return rc;
        }
    }
    if (pk->len + pk->missing) {
        rc = deliver(t, c, side, pk->seq, pk->payload, pk->len, pk->missing, pk->ts_us);
        if (rc)
            return rc;
    }
    if (fl & RR_TCP_RST) {
        c->rst = 1;
        return end_conn(t, c, RR_TCP_END_RST, pk->ts_us);
    }
    if (fl & RR_TCP_FIN) {
        d->fin = 1;
        d->fin_seq = pk->seq + (uint32_t)(pk->len + pk->missing);
        if (!d->have_next) {
            d->have_next = 1;
            d->next = d->fin_seq;
        }
    }
    for (int s = 0; s < 2; s++) {
        struct rr_tcp_dir *x = &c->d[s];
        if (x->fin && !x->done && !x->ooo && sdiff(x->next, x->fin_seq) >= 0) {
            x->done = 1;
            if (t->cb.on_fin) {
                rc = t->cb.on_fin(t->cb.ud, c, s, pk->ts_us);
                if (rc)
                    return rc;
            }
        }
    }
    if (c->d[0].done && c->d[1].done)
        return end_conn(t, c, RR_TCP_END_FIN, pk->ts_us);
    return 0;
}

int rr_tcp_finish(struct rr_tcp *t, uint64_t ts_us)
{
    int rc = 0;
    while (t->lru_head) {
        struct rr_tcp_conn *c = t->lru_head;
        int r = end_conn(t, c, RR_TCP_END_FINISH, ts_us);
        if (r && !rc)
            rc = r;
        conn_remove(t, c);
    }
    return rc;
}

void rr_tcp_free(struct rr_tcp **pt)
{
    struct rr_tcp *t = *pt;
    if (!t)
        return;
    while (t->lru_head)
        conn_remove(t, t->lru_head);
    free(t->tab);
    free(t);
    *pt = NULL;
}
