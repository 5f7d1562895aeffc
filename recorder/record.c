/* record.c -- The recording pipeline: frames -> IP -> TCP -> HTTP dissectors -> sink. */
#include <stdio.h>
#include <string.h>

#include "dissect.h"
#include "h2_dissect_int.h"
#include "h1_dissect.h"
#include "ip_frag.h"
#include "rr/rd.h"
#include "rr/recorder.h"
#include "rr/store.h"
#include "tcp_reasm.h"

/* DLT values as libpcap reports them (pcap_datalink). */
enum {
    DLT_NULL_ = 0,
    DLT_EN10MB_ = 1,
    DLT_RAW_ = 12,
    DLT_RAW_BSD_ = 14,
    DLT_LOOP_ = 108,
    DLT_LINUX_SLL_ = 113,
    LINKTYPE_RAW_ = 101,
    DLT_IPV4_ = 228,
    DLT_IPV6_ = 229,
    DLT_LINUX_SLL2_ = 276
};

enum cmode {
    CM_UNKNOWN = 0,
    CM_H1,
    CM_H2,
    CM_NONHTTP,
};

/* Bytes of a connection looked at before deciding it carries no HTTP. */
#define SNIFF_MAX (64 * 1024)

struct rconn {
    struct rr_rec *r;
    struct rr_tcp_conn *tc;
    enum cmode mode;
    int swap; /* reasm side 0 is the server */
    int announced;
    uint64_t sniffed;
    uint8_t spoke[2];       /* a side sent bytes before the protocol was known */
    struct rr_buf early[2]; /* those bytes, replayed once it is known */
    struct rr_conn c;
    struct rr_h1d *h1;
    struct rr_h2d *h2;
};

struct rr_rec {
    struct rr_rec_opts o;
    struct rr_rec_sink sink;
    struct rr_rec_stats st;
    struct rr_tcp *tcp;
    struct rr_ipfrag *frag; /* made at the first fragment */
    int dlt;
    int stopped;
};

void rr_rec_opts_default(struct rr_rec_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->max_conns = 1u << 18;
    o->max_buffered = 256u << 20;
    o->max_conn_buffered = 4u << 20;
    o->idle_us = 300ull * 1000000;
    o->max_body = 64u << 20;
    o->max_pending = 1024;
    o->max_frag_dgrams = 1024;
    o->frag_timeout_us = 30ull * 1000000;
}

static struct rr_dissect_limits limits(const struct rr_rec *r)
{
    struct rr_dissect_limits l = {r->o.max_body, 256 * 1024, r->o.max_pending};
    return l;
}

static int announce(struct rconn *rc)
{
    if (rc->announced)
        return 0;
    rc->announced = 1;
    rc->r->st.http_conns++;
    return rc->r->sink.on_conn ? rc->r->sink.on_conn(rc->r->sink.ud, &rc->c) : 0;
}

static int on_x(void *ud, struct rr_exchange *x, const uint8_t *req_body, size_t req_len,
                const uint8_t *resp_body, size_t resp_len)
{
    struct rconn *rc = ud;
    struct rr_rec *r = rc->r;
    if (r->stopped)
        return RR_ESTOP; /* --max-exchanges reached: nothing more is recorded */
    int err = announce(rc);
    if (err)
        return err;
    if (x->flags & RR_XF_TRUNCATED)
        x->flags |= RR_XF_INCOMPLETE;
    r->st.exchanges++;
    if (x->flags & RR_XF_INCOMPLETE)
        r->st.incomplete++;
    if (x->flags & RR_XF_NO_RESPONSE)
        r->st.no_response++;
    if (x->method.len == 0)
        r->st.no_request++;
    if (x->flags & RR_XF_BODY_CAPPED)
        r->st.body_capped++;
    x->conn_id = rc->c.id;
    err = r->sink.on_exchange(r->sink.ud, &rc->c, x, req_body, req_len, resp_body, resp_len);
    if (err)
        return err;
    if (r->o.max_exchanges && r->st.exchanges >= r->o.max_exchanges) {
        r->stopped = 1;
        return RR_ESTOP;
    }
    return 0;
}

static void fill_conn(struct rconn *rc)
{
    struct rr_tcp_conn *tc = rc->tc;
    int cs = rc->swap ? 1 : 0;
    size_t al = tc->ipv == 4 ? 4 : 16;
    memset(&rc->c, 0, sizeof(rc->c));
    rc->c.ip_version = tc->ipv;
    memcpy(rc->c.client_ip, tc->ip[cs], al);
    memcpy(rc->c.server_ip, tc->ip[!cs], al);
    rc->c.client_port = tc->port[cs];
    rc->c.server_port = tc->port[!cs];
    rc->c.t_first_us = tc->t_first;
    if (!tc->saw_syn)
        rc->c.flags |= RR_CF_MIDSTREAM;
}

static int start_dissector(struct rconn *rc, enum cmode mode, unsigned h1flags)
{
    struct rr_dissect_sink ds = {on_x, rc};
    struct rr_dissect_limits lim = limits(rc->r);
    fill_conn(rc);
    rc->mode = mode;
    if (mode == CM_H1) {
        rc->c.proto = RR_PROTO_H1;
        return rr_h1d_new(&rc->h1, &ds, &lim, h1flags);
    }
    rc->c.proto = RR_PROTO_H2;
    rc->r->st.h2_conns++;
    return rr_h2d_new(&rc->h2, &ds, &lim);
}

static int is_preface(const uint8_t *p, size_t n)
{
    static const char pre[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t m = n < sizeof(pre) - 1 ? n : sizeof(pre) - 1;
    return m >= 4 && memcmp(p, pre, m) == 0;
}

/* Decides what the connection carries from the first bytes of one side. */
static int detect(struct rconn *rc, int side, const uint8_t *p, size_t n)
{
    struct rr_tcp_conn *tc = rc->tc;
    int client_side = rc->swap ? 1 : 0;
    if (is_preface(p, n)) {
        rc->swap = side == 1;
        return start_dissector(rc, CM_H2, 0);
    }
    if (rr_h1_is_request_start(p, n) || rr_h1_known_method(p, n)) {
        rc->swap = side == 1;
        /* The server's first bytes may already be gone: look for a status line there. */
        return start_dissector(rc, CM_H1, tc->saw_syn ? 0 : RR_H1D_RESYNC_S2C);
    }
    if (rr_h1_is_response_start(p, n)) {
        rc->swap = side == 0;
        return start_dissector(rc, CM_H1, RR_H1D_RESYNC_C2S);
    }
    rc->sniffed += n;
    rc->spoke[side] = 1;
    (void)client_side;
    if (tc->saw_syn && rc->spoke[!side]) {
        /* Both sides spoke and neither like HTTP. (A client line we cannot read may still
         * get an HTTP answer, which is then recorded without its request.) */
        rc->mode = CM_NONHTTP;
        rc->r->st.nonhttp_conns++;
        return 0;
    }
    if (rc->sniffed > SNIFF_MAX) {
        rc->mode = CM_NONHTTP;
        rc->r->st.nonhttp_conns++;
        return 0;
    }
    if (!tc->saw_syn) {
        /* Mid-stream, inside a message: both sides look for the next message start. */
        int rc2 = start_dissector(rc, CM_H1, RR_H1D_RESYNC_C2S | RR_H1D_RESYNC_S2C);
        return rc2;
    }
    return 0;
}

static int t_data(void *ud, struct rr_tcp_conn *tc, int side, const uint8_t *p, size_t n,
                  uint64_t ts)
{
    struct rr_rec *r = ud;
    struct rconn *rc = tc->app;
    int err;
    if (!rc) {
        rc = rr_xcalloc(1, sizeof(*rc));
        rc->r = r;
        rc->tc = tc;
        tc->app = rc;
    }
    if (rc->mode == CM_UNKNOWN) {
        err = detect(rc, side, p, n);
        if (err)
            return err;
        if (rc->mode == CM_UNKNOWN) {
            /* Kept for the dissector: an h2 server may send SETTINGS before the preface. */
            if (rc->early[side].len + n <= 65536)
                rr_buf_add(&rc->early[side], p, n);
            return 0;
        }
        if (rc->early[!side].len && (rc->mode == CM_H1 || rc->mode == CM_H2)) {
            struct rr_buf e = rc->early[!side];
            rr_buf_init(&rc->early[!side]);
            err = t_data(ud, tc, !side, e.p, e.len, ts);
            rr_buf_fini(&e);
            if (err)
                return err;
        }
        rr_buf_fini(&rc->early[0]);
        rr_buf_fini(&rc->early[1]);
    }
    enum rr_dir dir = (side == 0) != (rc->swap != 0) ? RR_DIR_C2S : RR_DIR_S2C;
    switch (rc->mode) {
    case CM_H1:
        return rr_h1d_feed(rc->h1, dir, p, n, ts);
    case CM_H2:
        return rr_h2d_feed(rc->h2, dir, p, n, ts);
    default:
        return 0;
    }
}

static int t_gap(void *ud, struct rr_tcp_conn *tc, int side, uint64_t n, uint64_t ts)
{
    struct rconn *rc = tc->app;
    (void)ud;
    if (!rc)
        return 0;
    enum rr_dir dir = (side == 0) != (rc->swap != 0) ? RR_DIR_C2S : RR_DIR_S2C;
    switch (rc->mode) {
    case CM_H1:
        if (tc->snaplen_gap)
            rr_h1d_flag(rc->h1, dir, RR_XF_TRUNCATED);
        return rr_h1d_gap(rc->h1, dir, n, ts);
    case CM_H2:
        return rr_h2d_gap(rc->h2, dir, n, ts);
    default:
        return 0;
    }
}

static int t_fin(void *ud, struct rr_tcp_conn *tc, int side, uint64_t ts)
{
    struct rconn *rc = tc->app;
    (void)ud;
    if (!rc || rc->mode != CM_H1)
        return 0;
    /* A response delimited by the close is complete when the server's FIN arrives. */
    enum rr_dir dir = (side == 0) != (rc->swap != 0) ? RR_DIR_C2S : RR_DIR_S2C;
    return rr_h1d_eof(rc->h1, dir, ts);
}

static int t_end(void *ud, struct rr_tcp_conn *tc, enum rr_tcp_end why, uint64_t ts)
{
    struct rr_rec *r = ud;
    struct rconn *rc = tc->app;
    int err = 0;
    if (!rc)
        return 0;
    if (rc->mode == CM_H1) {
        err = rr_h1d_finish(rc->h1, ts);
        r->st.parse_errors += rr_h1d_parse_errors(rc->h1);
        if (rr_h1d_state(rc->h1) != 0)
            rc->c.flags |= RR_CF_UPGRADED;
        rr_h1d_free(&rc->h1);
    }
    if (rc->mode == CM_H2) {
        err = rr_h2d_finish(rc->h2, ts);
        struct rr_h2d_stats hs;
        rr_h2d_get_stats(rc->h2, &hs);
        r->st.h2_pushes += hs.pushes;
        r->st.h2_resets += hs.resets;
        r->st.h2_errors += hs.errors + hs.hpack_errors;
        rr_h2d_free(&rc->h2);
    }
    if (!err && rc->announced && r->sink.on_conn && !r->stopped) {
        rc->c.t_last_us = tc->t_last;
        if (why == RR_TCP_END_FIN)
            rc->c.flags |= RR_CF_FIN;
        if (tc->rst)
            rc->c.flags |= RR_CF_RST;
        if (why == RR_TCP_END_IDLE || why == RR_TCP_END_CAP)
            rc->c.flags |= RR_CF_EVICTED;
        err = r->sink.on_conn(r->sink.ud, &rc->c);
    }
    rr_buf_fini(&rc->early[0]);
    rr_buf_fini(&rc->early[1]);
    free(rc);
    tc->app = NULL;
    return err;
}

int rr_rec_new(struct rr_rec **out, const struct rr_rec_opts *opts, const struct rr_rec_sink *sink)
{
    struct rr_rec *r = rr_xcalloc(1, sizeof(*r));
    struct rr_tcp_cb cb = {t_data, t_gap, t_fin, t_end, r};
    if (opts)
        r->o = *opts;
    else
        rr_rec_opts_default(&r->o);
    r->sink = *sink;
    r->dlt = DLT_EN10MB_;
    rr_tcp_new(&r->tcp, &r->o, &r->st, &cb);
    *out = r;
    return 0;
}

int rr_rec_set_linktype(struct rr_rec *r, int dlt)
{
    switch (dlt) {
    case DLT_NULL_:
    case DLT_EN10MB_:
    case DLT_RAW_:
    case DLT_RAW_BSD_:
    case DLT_LOOP_:
    case DLT_LINUX_SLL_:
    case LINKTYPE_RAW_:
    case DLT_IPV4_:
    case DLT_IPV6_:
    case DLT_LINUX_SLL2_:
        r->dlt = dlt;
        return 0;
    default:
        return RR_ELIMIT;
    }
}

const struct rr_rec_stats *rr_rec_stats(const struct rr_rec *r)
{
    return &r->st;
}

struct rr_rec_stats *rr_rec__stats_mut(struct rr_rec *r)
{
    return &r->st;
}

/* Decodes TCP inside an IP payload. */
static int tcp_in(struct rr_rec *r, struct rr_tcp_pkt *pk, const uint8_t *p, size_t caplen,
                  size_t wirelen)
{
    struct rr_rd rd;
    rr_rd_init(&rd, p, caplen);
    pk->sport = rr_rd_be16(&rd);
    pk->dport = rr_rd_be16(&rd);
    pk->seq = rr_rd_be32(&rd);
    pk->ack = rr_rd_be32(&rd);
    uint8_t off = rr_rd_u8(&rd);
    pk->flags = rr_rd_u8(&rd);
    size_t hl = (size_t)(off >> 4) * 4;
    if (rd.err || hl < 20 || hl > wirelen) {
        r->st.skip_malformed++;
        return 0;
    }
    if (hl > caplen) {
        r->st.skip_snaplen++;
        return 0;
    }
    pk->payload = p + hl;
    pk->len = caplen - hl;
    pk->missing = wirelen - hl - pk->len;
    return rr_tcp_feed(r->tcp, pk);
}

/* Walks the IPv6 extension headers that may come before the fragment header or the upper
 * layer (hop-by-hop, routing, destination options, AH); *nh is the next header in and out. */
static void v6_ext(struct rr_rd *rd, uint8_t *nh)
{
    for (int i = 0; i < 8 && !rd->err; i++) {
        if (*nh != 0 && *nh != 43 && *nh != 60 && *nh != 51)
            return;
        uint8_t next = rr_rd_u8(rd);
        uint8_t l = rr_rd_u8(rd);
        size_t skip = *nh == 51 ? (size_t)(l + 2) * 4 : (size_t)(l + 1) * 8;
        rr_rd_skip(rd, skip - 2);
        *nh = next;
    }
}

static void frag_sync(struct rr_rec *r)
{
    const struct rr_ipfrag_stats *fs = rr_ipfrag_stats(r->frag);
    r->st.skip_frag = fs->dropped;
    r->st.frag_used = fs->reassembled;
    r->st.frag_datagrams = fs->datagrams;
    r->st.frag_evicted = fs->evicted;
}

/* One IP fragment (payload bytes [off, off + n) of the datagram k); a datagram it completes
 * goes on to TCP as if it had arrived unfragmented, with this fragment's timestamp. */
static int frag_in(struct rr_rec *r, struct rr_tcp_pkt *pk, const struct rr_ipfrag_key *k,
                   uint32_t off, int more, const uint8_t *p, size_t n)
{
    const uint8_t *dp = NULL;
    size_t dn = 0;
    struct rr_rd rd;
    if (!r->frag) {
        int err = rr_ipfrag_new(&r->frag, r->o.max_frag_dgrams ? r->o.max_frag_dgrams : 1024,
                                r->o.frag_timeout_us ? r->o.frag_timeout_us : 30000000u);
        if (err)
            return err;
    }
    int rc = rr_ipfrag_add(r->frag, k, off, more, p, n, pk->ts_us, &dp, &dn);
    frag_sync(r);
    if (rc <= 0)
        return rc;
    uint8_t nh = k->proto;
    rr_rd_init(&rd, dp, dn);
    if (k->ipv == 6)
        v6_ext(&rd, &nh);
    if (rd.err) {
        r->st.skip_malformed++;
        return 0;
    }
    if (nh != 6) {
        r->st.skip_nontcp++;
        return 0;
    }
    size_t hl = (size_t)(rd.p - dp);
    return tcp_in(r, pk, dp + hl, dn - hl, dn - hl);
}

static int ip_in(struct rr_rec *r, const uint8_t *p, size_t caplen, size_t wirelen, uint64_t ts)
{
    struct rr_tcp_pkt pk;
    struct rr_rd rd;
    struct rr_ipfrag_key k;
    memset(&pk, 0, sizeof(pk));
    pk.ts_us = ts;
    if (caplen < 1) {
        r->st.skip_malformed++;
        return 0;
    }
    rr_rd_init(&rd, p, caplen);
    int v = p[0] >> 4;
    if (v == 4) {
        uint8_t vhl = rr_rd_u8(&rd);
        rr_rd_u8(&rd);
        size_t tot = rr_rd_be16(&rd);
        uint16_t id = rr_rd_be16(&rd);
        uint16_t frag = rr_rd_be16(&rd);
        rr_rd_u8(&rd);
        uint8_t proto = rr_rd_u8(&rd);
        rr_rd_be16(&rd);
        pk.src = rd.p;
        rr_rd_skip(&rd, 4);
        pk.dst = rd.p;
        rr_rd_skip(&rd, 4);
        size_t hl = (size_t)(vhl & 15) * 4;
        if (rd.err || hl < 20 || tot < hl || hl > caplen) {
            r->st.skip_malformed++;
            return 0;
        }
        pk.ipv = 4;
        if (frag & 0x3fff) {
            if (tot > caplen) {
                r->st.skip_snaplen++; /* a fragment's bytes are needed whole */
                return 0;
            }
            memset(&k, 0, sizeof(k));
            k.ipv = 4;
            k.proto = proto;
            k.id = id;
            memcpy(k.src, pk.src, 4);
            memcpy(k.dst, pk.dst, 4);
            return frag_in(r, &pk, &k, (uint32_t)(frag & 0x1fff) * 8, (frag & 0x2000) != 0, p + hl,
                           tot - hl);
        }
        if (proto != 6) {
            r->st.skip_nontcp++;
            return 0;
        }
        /* tot == 0: TSO-sized packet captured before segmentation; trust the capture. */
        size_t end = tot ? tot : (wirelen > caplen ? wirelen : caplen);
        if (tot && tot > wirelen && wirelen >= caplen)
            end = wirelen;
        size_t cap = caplen < end ? caplen : end;
        return tcp_in(r, &pk, p + hl, cap - hl, end - hl);
    }
    if (v == 6) {
        rr_rd_skip(&rd, 4);
        size_t plen = rr_rd_be16(&rd);
        uint8_t nh = rr_rd_u8(&rd);
        rr_rd_u8(&rd);
        pk.src = rd.p;
        rr_rd_skip(&rd, 16);
        pk.dst = rd.p;
        rr_rd_skip(&rd, 16);
        if (rd.err) {
            r->st.skip_malformed++;
            return 0;
        }
        size_t end = 40 + plen;
        if (plen == 0)
            end = wirelen; /* jumbogram or TSO */
        v6_ext(&rd, &nh);
        if (rd.err) {
            r->st.skip_malformed++;
            return 0;
        }
        pk.ipv = 6;
        if (nh == 44) {
            memset(&k, 0, sizeof(k));
            k.ipv = 6;
            k.proto = rr_rd_u8(&rd);
            rr_rd_u8(&rd);
            uint16_t offm = rr_rd_be16(&rd);
            k.id = rr_rd_be32(&rd);
            size_t fhl = (size_t)(rd.p - p);
            if (rd.err || plen == 0 || end < fhl) {
                r->st.skip_malformed++;
                return 0;
            }
            if (end > caplen) {
                r->st.skip_snaplen++;
                return 0;
            }
            memcpy(k.src, pk.src, 16);
            memcpy(k.dst, pk.dst, 16);
            return frag_in(r, &pk, &k, offm & 0xfff8u, offm & 1, p + fhl, end - fhl);
        }
        if (nh != 6) {
            r->st.skip_nontcp++;
            return 0;
        }
        size_t hl = (size_t)(rd.p - p);
        if (end < hl) {
            r->st.skip_malformed++;
            return 0;
        }
        size_t cap = caplen < end ? caplen : end;
        return tcp_in(r, &pk, p + hl, cap - hl, end - hl);
    }
    r->st.skip_nonip++;
    return 0;
}

static int ethertype_in(struct rr_rec *r, uint16_t et, const uint8_t *p, size_t caplen,
                        size_t wirelen, uint64_t ts)
{
    if (et == 0x0800 || et == 0x86dd)
        return ip_in(r, p, caplen, wirelen, ts);
    r->st.skip_nonip++;
    return 0;
}

int rr_rec_packet(struct rr_rec *r, const uint8_t *p, size_t caplen, size_t wirelen, uint64_t ts_us)
{
    struct rr_rd rd;
    size_t hl = 0;
    uint16_t et = 0;
    if (r->stopped)
        return RR_ESTOP;
    if (wirelen < caplen)
        wirelen = caplen;
    r->st.packets++;
    r->st.bytes += caplen;
    rr_rd_init(&rd, p, caplen);
    switch (r->dlt) {
    case DLT_EN10MB_:
        rr_rd_skip(&rd, 12);
        et = rr_rd_be16(&rd);
        while (!rd.err && (et == 0x8100 || et == 0x88a8 || et == 0x9100)) {
            rr_rd_skip(&rd, 2);
            et = rr_rd_be16(&rd);
        }
        break;
    case DLT_LINUX_SLL_:
        rr_rd_skip(&rd, 14);
        et = rr_rd_be16(&rd);
        break;
    case DLT_LINUX_SLL2_:
        et = rr_rd_be16(&rd);
        rr_rd_skip(&rd, 18);
        break;
    case DLT_NULL_:
    case DLT_LOOP_: {
        uint32_t fam = rr_rd_le32(&rd);
        if (r->dlt == DLT_LOOP_ || (fam & 0xffff) == 0)
            fam = __builtin_bswap32(fam);
        et = fam == 2 ? 0x0800 : (fam == 10 || fam == 24 || fam == 28 || fam == 30) ? 0x86dd : 0;
        break;
    }
    default: /* raw IP */
        et = caplen && (p[0] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
    }
    if (rd.err) {
        r->st.skip_link++;
        return 0;
    }
    hl = (size_t)(rd.p - p);
    int err = ethertype_in(r, et, p + hl, caplen - hl, wirelen - hl, ts_us);
    if (err == RR_ESTOP)
        r->stopped = 1;
    return err;
}

int rr_rec_finish(struct rr_rec *r)
{
    if (r->frag) {
        rr_ipfrag_flush(r->frag);
        frag_sync(r);
    }
    int err = rr_tcp_finish(r->tcp, 0);
    if (err == RR_ESTOP)
        err = 0;
    return err;
}

void rr_rec_free(struct rr_rec **pr)
{
    struct rr_rec *r = *pr;
    if (!r)
        return;
    rr_tcp_free(&r->tcp);
    rr_ipfrag_free(&r->frag);
    free(r);
    *pr = NULL;
}

void rr_rec_summary(const struct rr_rec_stats *s, char *out, size_t outlen)
{
    snprintf(out, outlen,
             "exchanges: %llu (incomplete %llu, without response %llu, without request %llu)\n"
             "connections: %llu TCP, %llu HTTP (%llu h2), %llu not HTTP skipped\n"
             "gaps: %llu (%llu bytes lost)\n"
             "packets: %llu (%llu bytes); skipped: %llu link, %llu not IP, %llu not TCP, "
             "%llu fragments, %llu malformed, %llu cut by snaplen\n"
             "ip fragments: %llu reassembled into %llu datagrams; %llu datagrams evicted "
             "incomplete\n"
             "kernel drops: %llu (interface %llu); evicted: %llu idle, %llu over the cap; "
             "out-of-order flushes: %llu; parse errors: %llu\n"
             "h2: %llu pushes, %llu stream resets, %llu connections with errors\n",
             (unsigned long long)s->exchanges, (unsigned long long)s->incomplete,
             (unsigned long long)s->no_response, (unsigned long long)s->no_request,
             (unsigned long long)s->conns, (unsigned long long)s->http_conns,
             (unsigned long long)s->h2_conns, (unsigned long long)s->nonhttp_conns,
             (unsigned long long)s->gaps, (unsigned long long)s->gap_bytes,
             (unsigned long long)s->packets, (unsigned long long)s->bytes,
             (unsigned long long)s->skip_link, (unsigned long long)s->skip_nonip,
             (unsigned long long)s->skip_nontcp, (unsigned long long)s->skip_frag,
             (unsigned long long)s->skip_malformed, (unsigned long long)s->skip_snaplen,
             (unsigned long long)s->frag_used, (unsigned long long)s->frag_datagrams,
             (unsigned long long)s->frag_evicted, (unsigned long long)s->kernel_drops,
             (unsigned long long)s->if_drops, (unsigned long long)s->conns_evicted_idle,
             (unsigned long long)s->conns_evicted_cap, (unsigned long long)s->ooo_forced_flushes,
             (unsigned long long)s->parse_errors, (unsigned long long)s->h2_pushes,
             (unsigned long long)s->h2_resets, (unsigned long long)s->h2_errors);
}

/* --- the store sink --- */

static int st_conn(void *ud, struct rr_conn *c)
{
    return rr_store_conn_put(ud, c);
}

static int st_x(void *ud, const struct rr_conn *c, struct rr_exchange *x, const uint8_t *rq,
                size_t rql, const uint8_t *rs, size_t rsl)
{
    x->conn_id = c->id;
    return rr_store_exchange_put(ud, x, rq, rql, rs, rsl);
}

void rr_rec_store_sink(struct rr_rec_sink *out, struct rr_store *s)
{
    out->on_conn = st_conn;
    out->on_exchange = st_x;
    out->ud = s;
}
