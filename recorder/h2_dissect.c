/* h2_dissect.c -- The HTTP/2 cleartext dissector: both directions of one connection in,
 * exchanges out. Sans-I/O; see dissect.h for the contract and docs/recorder-h2.md.
 *
 * A passive observer must accept whatever both peers accepted, so this does not run two
 * nghttp2 protocol sessions (their stream-state machines, flow control, SETTINGS ACK
 * accounting and concurrency limits would have to be mirrored between the two sessions, and
 * any disagreement loses the rest of the connection). It reads the frame layer itself (a
 * fixed 9-byte header, which is simple and exact) and leaves HPACK, the hard part, to
 * nghttp2's inflater: one per direction, fed every header block in wire order so that the
 * dynamic table stays in step even for streams this dissector no longer tracks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "dissect.h"
#include "h2_dissect_int.h"
#include "rr/buf.h"
#include "rr/err.h"

#define PREFACE     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24

enum {
    F_DATA = 0,
    F_HEADERS = 1,
    F_PRIORITY = 2,
    F_RST_STREAM = 3,
    F_SETTINGS = 4,
    F_PUSH_PROMISE = 5,
    F_PING = 6,
    F_GOAWAY = 7,
    F_WINDOW_UPDATE = 8,
    F_CONTINUATION = 9,
};
enum {
    FL_END_STREAM = 0x1,
    FL_END_HEADERS = 0x4,
    FL_PADDED = 0x8,
    FL_PRIORITY = 0x20
};

#define DEF_MAX_BODY    (64u << 20)
#define DEF_MAX_HEADERS (256u << 10)
#define DEF_MAX_PENDING 1024u
/* The largest frame the protocol can frame (24-bit length); bounds the partial-frame buffer. */
#define MAX_FRAME ((1u << 24) - 1)
/* The decoder's table may be larger than the encoder's: indices count from the newest entry,
 * so entries the encoder already evicted are never referenced and do no harm. A large limit
 * accepts every table size update a peer may legally send after its SETTINGS. */
#define HPACK_TABLE_MAX (1u << 20)

struct hent {
    uint32_t no, nl, vo, vl;
};

/* One message's header fields, packed into one buffer (views are built at emit time). */
struct hlist {
    struct rr_buf bytes;
    struct hent *e;
    size_t n, cap;
    int over; /* more than max_headers bytes: the rest was dropped */
};

struct msg {
    struct hlist h;
    struct rr_buf body;
    uint64_t wire_len; /* DATA payload bytes, padding excluded */
    int headers_seen;  /* the (final, for responses) header block has been read */
    int ended;         /* END_STREAM seen */
    int capped;
    int holed; /* bytes of the body were lost: the rest is counted, not kept */
};

struct strm {
    uint32_t id;
    uint32_t flags;
    struct rr_buf method, scheme, authority, path;
    struct msg req, resp;
    uint16_t status;
    uint8_t n_interim;
    uint16_t interim[RR_MAX_INTERIM];
    uint64_t t_req_start, t_req_end, t_resp_start, t_resp_end;
    int upgraded; /* stream 1 of an h2c upgrade: the request came as HTTP/1.1 */
    int done;     /* finished, waiting for older streams to be emitted first */
    uint32_t done_flags;
};

/* Where the header block being decoded goes. */
enum hb_target {
    HB_NONE,
    HB_REQ,
    HB_REQ_TRAILER,
    HB_RESP,
    HB_RESP_TRAILER,
    HB_DISCARD
};

struct side {
    struct rr_buf in;    /* a partial frame */
    uint64_t in_ts;      /* capture time of the first byte of in */
    size_t preface_left; /* client side: bytes of the preface still expected */
    nghttp2_hd_inflater *inf;
    uint32_t hb_stream;  /* stream the header block in progress describes; 0: none */
    uint32_t hb_cont_id; /* stream its CONTINUATION frames come on (the promise's carrier) */
    enum hb_target hb_to;
    int hb_status_interim; /* the response block in progress is a 1xx */
    int hb_end_stream;     /* the HEADERS that opened the block had END_STREAM */
    uint64_t hb_ts;
    /* A DATA frame being read as it arrives (see data_begin). */
    size_t data_left; /* payload bytes still to come, padding included */
    size_t data_pad;  /* padding bytes at its end */
    uint32_t data_id;
    int data_end; /* it has END_STREAM */
};

struct rr_h2d {
    struct rr_dissect_sink sink;
    struct rr_dissect_limits lim;
    struct side side[2];
    struct strm **st;  /* open streams, oldest first */
    struct strm **tab; /* the same streams by id: open addressing, linear probing */
    size_t tcap;       /* a power of two, at least twice nst */
    size_t nst, cap;
    size_t ndone;      /* finished streams held back so that emission follows request order */
    size_t done_bytes; /* body bytes they hold */
    int dead;          /* a gap or a protocol error: the rest of the connection is skipped */
    int err;           /* sticky: the sink's abort code */
    struct rr_h2d_stats stats;
    /* scratch reused by emit */
    struct rr_header *hv;
    size_t hv_cap;
    struct rr_buf dec;
};

/* The one place nghttp2 codes become rr codes. */
static int rr_rec__from_ng(int ng)
{
    if (ng >= 0)
        return RR_OK;
    switch (ng) {
    case NGHTTP2_ERR_NOMEM:
        return -ENOMEM;
    case NGHTTP2_ERR_HEADER_COMP:
    case NGHTTP2_ERR_PROTO:
    case NGHTTP2_ERR_FRAME_SIZE_ERROR:
    case NGHTTP2_ERR_BAD_CLIENT_MAGIC:
    case NGHTTP2_ERR_INVALID_ARGUMENT:
        return RR_EPARSE;
    case NGHTTP2_ERR_BUFFER_ERROR:
        return RR_ELIMIT;
    default:
        return nghttp2_is_fatal(ng) ? RR_ELIB : RR_EPARSE;
    }
}

int rr_h2d_is_preface(const uint8_t *p, size_t n)
{
    if (n > PREFACE_LEN)
        n = PREFACE_LEN;
    return n > 0 && memcmp(p, PREFACE, n) == 0;
}

static uint32_t be24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t be31(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) & 0x7fffffffu;
}

static void hlist_fini(struct hlist *h)
{
    rr_buf_fini(&h->bytes);
    free(h->e);
    memset(h, 0, sizeof(*h));
}

static void hlist_add(struct hlist *h, const uint8_t *n, size_t nl, const uint8_t *v, size_t vl,
                      size_t max)
{
    if (h->over || h->bytes.len + nl + vl > max) {
        h->over = 1;
        return;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->e = rr_xrealloc(h->e, h->cap * sizeof(*h->e));
    }
    struct hent *e = &h->e[h->n++];
    e->no = (uint32_t)h->bytes.len;
    e->nl = (uint32_t)nl;
    rr_buf_add(&h->bytes, n, nl);
    e->vo = (uint32_t)h->bytes.len;
    e->vl = (uint32_t)vl;
    rr_buf_add(&h->bytes, v, vl);
}

static void strm_free(struct strm *s)
{
    if (!s)
        return;
    rr_buf_fini(&s->method);
    rr_buf_fini(&s->scheme);
    rr_buf_fini(&s->authority);
    rr_buf_fini(&s->path);
    hlist_fini(&s->req.h);
    hlist_fini(&s->resp.h);
    rr_buf_fini(&s->req.body);
    rr_buf_fini(&s->resp.body);
    free(s);
}

static size_t slot_of(uint32_t id, size_t cap)
{
    return (size_t)((id * 2654435761u) >> 7) & (cap - 1);
}

/* The stream with this id, finished ones too. */
static struct strm *find_any(struct rr_h2d *d, uint32_t id)
{
    if (!d->tcap)
        return NULL;
    for (size_t i = slot_of(id, d->tcap);; i = (i + 1) & (d->tcap - 1)) {
        if (!d->tab[i])
            return NULL;
        if (d->tab[i]->id == id)
            return d->tab[i];
    }
}

static void tab_put(struct strm **tab, size_t cap, struct strm *s)
{
    size_t i = slot_of(s->id, cap);
    while (tab[i])
        i = (i + 1) & (cap - 1);
    tab[i] = s;
}

static void tab_add(struct rr_h2d *d, struct strm *s)
{
    if (2 * (d->nst + 1) > d->tcap) {
        size_t cap = d->tcap ? d->tcap * 2 : 64;
        struct strm **t = rr_xcalloc(cap, sizeof(*t));
        for (size_t i = 0; i < d->tcap; i++)
            if (d->tab[i])
                tab_put(t, cap, d->tab[i]);
        free(d->tab);
        d->tab = t;
        d->tcap = cap;
    }
    tab_put(d->tab, d->tcap, s);
}

/* Removes s, shifting back the entries after it so that no probe chain breaks. */
static void tab_del(struct rr_h2d *d, const struct strm *s)
{
    size_t mask = d->tcap - 1, i = slot_of(s->id, d->tcap);
    while (d->tab[i] != s)
        i = (i + 1) & mask;
    d->tab[i] = NULL;
    for (size_t j = (i + 1) & mask; d->tab[j]; j = (j + 1) & mask) {
        size_t home = slot_of(d->tab[j]->id, d->tcap);
        /* Move the entry to the hole when its home is not cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            d->tab[i] = d->tab[j];
            d->tab[j] = NULL;
            i = j;
        }
    }
}

/* The open stream with this id: frames after a stream finished change nothing. */
static struct strm *find(struct rr_h2d *d, uint32_t id)
{
    struct strm *s = find_any(d, id);
    return s && !s->done ? s : NULL;
}

static void unlink_strm(struct rr_h2d *d, struct strm *s)
{
    tab_del(d, s);
    for (size_t i = 0; i < d->nst; i++) {
        if (d->st[i] == s) {
            memmove(&d->st[i], &d->st[i + 1], (d->nst - i - 1) * sizeof(*d->st));
            d->nst--;
            return;
        }
    }
}

static struct rr_view hview(const struct hlist *h, size_t i, int value)
{
    const struct hent *e = &h->e[i];
    return value ? rr_view_of(h->bytes.p + e->vo, e->vl) : rr_view_of(h->bytes.p + e->no, e->nl);
}

/* The coding named by a content-encoding value, or 0 when it is none we undo. */
static enum rr_coding coding_of(const struct rr_view enc)
{
    if (rr_view_caseeqs(enc, "gzip") || rr_view_caseeqs(enc, "x-gzip"))
        return RR_CODING_GZIP;
    if (rr_view_caseeqs(enc, "deflate"))
        return RR_CODING_DEFLATE;
    return 0;
}

static struct rr_header *build_headers(struct rr_h2d *d, size_t at, const struct hlist *h)
{
    if (at + h->n > d->hv_cap) {
        d->hv_cap = (at + h->n) * 2;
        d->hv = rr_xrealloc(d->hv, d->hv_cap * sizeof(*d->hv));
    }
    for (size_t i = 0; i < h->n; i++) {
        d->hv[at + i].name = hview(h, i, 0);
        d->hv[at + i].value = hview(h, i, 1);
    }
    return d->hv + at;
}

/* Hands a stream to the sink and frees it. */
static int emit(struct rr_h2d *d, struct strm *s, uint32_t extra_flags)
{
    struct rr_exchange x;
    const uint8_t *rb;
    size_t rl;
    int rc;

    unlink_strm(d, s);
    if (s->done) {
        d->ndone--;
        d->done_bytes -= s->req.body.len + s->resp.body.len;
        extra_flags |= s->done_flags;
    }
    memset(&x, 0, sizeof(x));
    x.h2_stream = s->id;
    x.version = 20;
    x.flags = s->flags | extra_flags;
    if (!s->req.ended || !s->resp.ended || s->req.h.over || s->resp.h.over)
        x.flags |= RR_XF_INCOMPLETE;
    if (!s->status)
        x.flags |= RR_XF_NO_RESPONSE;
    if (s->req.capped || s->resp.capped)
        x.flags |= RR_XF_BODY_CAPPED;
    x.t_req_start_us = s->t_req_start;
    x.t_req_end_us = s->t_req_end;
    x.t_resp_start_us = s->t_resp_start;
    x.t_resp_end_us = s->t_resp_end;
    x.method = rr_view_of(s->method.p, s->method.len);
    x.scheme = s->scheme.len ? rr_view_of(s->scheme.p, s->scheme.len) : rr_view_of("http", 4);
    x.authority = rr_view_of(s->authority.p, s->authority.len);
    x.target = rr_view_of(s->path.p, s->path.len);
    /* Views of both header lists live in one scratch array: build both before taking either
     * pointer, since the second build may move it. */
    build_headers(d, 0, &s->req.h);
    build_headers(d, s->req.h.n, &s->resp.h);
    x.n_req_headers = s->req.h.n;
    x.req_headers = d->hv;
    x.n_resp_headers = s->resp.h.n;
    x.resp_headers = d->hv + s->req.h.n;
    x.req_body.len = s->req.body.len;
    x.status = s->status;
    x.n_interim = s->n_interim;
    memcpy(x.interim, s->interim, sizeof(x.interim));
    x.resp_wire_len = s->resp.wire_len;
    rb = s->resp.body.p;
    rl = s->resp.body.len;
    if (rl && !s->resp.capped && !s->resp.holed) {
        struct rr_view enc = {NULL, 0};
        for (size_t i = 0; i < x.n_resp_headers && !enc.p; i++)
            if (rr_view_eqs(x.resp_headers[i].name, "content-encoding"))
                enc = x.resp_headers[i].value;
        enum rr_coding coding = enc.p ? coding_of(enc) : 0;
        if (coding && rr_exchange_inflate(rb, rl, coding, d->lim.max_body, RR_INFLATE_PARTIAL,
                                          &d->dec) == 0) {
            rb = d->dec.p;
            rl = d->dec.len;
            x.flags |= RR_XF_DECODED;
        }
    }
    x.resp_body.len = rl;
    d->stats.exchanges++;
    rc = d->sink.on_exchange(d->sink.ud, &x, s->req.body.p, s->req.body.len, rb, rl);
    strm_free(s);
    if (rc)
        d->err = rc;
    return rc;
}

/* Exchanges go to the sink in the order their requests started (the order a user sent them,
 * which flows replay), not the order streams finished. A finished stream waits for older
 * ones, but only so long: past HOLD_MAX streams or HOLD_BYTES of bodies (a long poll or an
 * event stream that stays open), the finished ones go out ahead of it. */
#define HOLD_MAX   64u
#define HOLD_BYTES (8u << 20)

static int drain(struct rr_h2d *d, int force)
{
    int rc;
    while (d->nst > 0 && d->st[0]->done)
        if ((rc = emit(d, d->st[0], 0)))
            return rc;
    if (!force && d->ndone <= HOLD_MAX && d->done_bytes <= HOLD_BYTES)
        return RR_OK;
    for (size_t i = 0; i < d->nst;) {
        if (d->st[i]->done) {
            if ((rc = emit(d, d->st[i], 0)))
                return rc;
        } else {
            i++;
        }
    }
    return RR_OK;
}

static void mark_finished(struct rr_h2d *d, struct strm *s, uint32_t flags)
{
    if (!s->done) {
        s->done = 1;
        d->ndone++;
        d->done_bytes += s->req.body.len + s->resp.body.len;
    }
    s->done_flags |= flags;
}

static int finished(struct rr_h2d *d, struct strm *s, uint32_t flags)
{
    mark_finished(d, s, flags);
    return drain(d, 0);
}

/* Emits every open stream (end of connection, gap, protocol error). */
static int flush_all(struct rr_h2d *d, uint32_t flags)
{
    while (d->nst > 0) {
        int rc = emit(d, d->st[0], flags);
        if (rc)
            return rc;
    }
    return RR_OK;
}

static int kill_conn(struct rr_h2d *d, const char *why)
{
    if (d->dead)
        return RR_OK;
    d->dead = 1;
    d->stats.errors++;
    d->stats.error = why;
    return flush_all(d, RR_XF_INCOMPLETE);
}

static struct strm *new_strm(struct rr_h2d *d, uint32_t id, int *rc)
{
    *rc = RR_OK;
    /* Over the cap, the oldest stream gives way: it is emitted as it stands. */
    if (d->nst >= d->lim.max_pending && d->ndone > 0) {
        *rc = drain(d, 1);
        if (*rc)
            return NULL;
    }
    if (d->nst >= d->lim.max_pending) {
        d->stats.evicted++;
        *rc = emit(d, d->st[0], RR_XF_INCOMPLETE);
        if (*rc)
            return NULL;
    }
    if (d->nst == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->st = rr_xrealloc(d->st, d->cap * sizeof(*d->st));
    }
    struct strm *s = rr_xcalloc(1, sizeof(*s));
    s->id = id;
    tab_add(d, s);
    d->st[d->nst++] = s;
    return s;
}

static void set_buf(struct rr_buf *b, const uint8_t *p, size_t n)
{
    rr_buf_reset(b);
    rr_buf_add(b, p, n);
}

/* One decoded header field of the block in progress on side sd. */
static void on_field(struct rr_h2d *d, struct side *sd, struct strm *s, const nghttp2_nv *nv)
{
    const uint8_t *n = nv->name, *v = nv->value;
    size_t nl = nv->namelen, vl = nv->valuelen;
    size_t maxh = d->lim.max_headers;
    int pseudo = nl > 0 && n[0] == ':';

    switch (sd->hb_to) {
    case HB_REQ:
        if (pseudo) {
            struct rr_view nm = rr_view_of(n, nl);
            if (rr_view_eqs(nm, ":method"))
                set_buf(&s->method, v, vl);
            else if (rr_view_eqs(nm, ":scheme"))
                set_buf(&s->scheme, v, vl);
            else if (rr_view_eqs(nm, ":authority"))
                set_buf(&s->authority, v, vl);
            else if (rr_view_eqs(nm, ":path"))
                set_buf(&s->path, v, vl);
            return;
        }
        /* HTTP/2 has no Host line: the authority is :authority, else a host field. */
        if (rr_view_eqs(rr_view_of(n, nl), "host") && s->authority.len == 0)
            set_buf(&s->authority, v, vl);
        hlist_add(&s->req.h, n, nl, v, vl, maxh);
        return;
    case HB_RESP:
        if (pseudo) {
            if (rr_view_eqs(rr_view_of(n, nl), ":status")) {
                unsigned st = 0;
                for (size_t i = 0; i < vl && i < 3; i++)
                    st = st * 10 + (unsigned)(v[i] >= '0' && v[i] <= '9' ? v[i] - '0' : 0);
                if (st >= 100 && st < 200) {
                    sd->hb_status_interim = 1;
                    if (s->n_interim < RR_MAX_INTERIM)
                        s->interim[s->n_interim++] = (uint16_t)st;
                } else {
                    s->status = (uint16_t)st;
                }
            }
            return;
        }
        if (!sd->hb_status_interim)
            hlist_add(&s->resp.h, n, nl, v, vl, maxh);
        return;
    case HB_RESP_TRAILER:
        /* Trailer fields (gRPC status, checksums) follow the header fields. */
        if (!pseudo)
            hlist_add(&s->resp.h, n, nl, v, vl, maxh);
        return;
    case HB_REQ_TRAILER:
        if (!pseudo)
            hlist_add(&s->req.h, n, nl, v, vl, maxh);
        return;
    default:
        return;
    }
}

/* Decodes one fragment of a header block; last: it ends the block. */
static int inflate_fragment(struct rr_h2d *d, struct side *sd, const uint8_t *p, size_t n, int last)
{
    struct strm *s = sd->hb_to == HB_DISCARD ? NULL : find(d, sd->hb_stream);

    for (;;) {
        nghttp2_nv nv;
        int fl = 0;
        ssize_t rv = nghttp2_hd_inflate_hd2(sd->inf, &nv, &fl, (uint8_t *)p, n, last);
        if (rv < 0) {
            d->stats.hpack_errors++;
            return rr_rec__from_ng((int)rv);
        }
        p += rv;
        n -= (size_t)rv;
        if ((fl & NGHTTP2_HD_INFLATE_EMIT) && s)
            on_field(d, sd, s, &nv);
        if (fl & NGHTTP2_HD_INFLATE_FINAL) {
            nghttp2_hd_inflate_end_headers(sd->inf);
            break;
        }
        if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && n == 0)
            break;
    }
    return 0;
}

/* A complete header block was read: update the stream's state. */
static int end_block(struct rr_h2d *d, struct side *sd, uint64_t ts)
{
    struct strm *s = find(d, sd->hb_stream);
    enum hb_target to = sd->hb_to;

    sd->hb_stream = 0;
    sd->hb_to = HB_NONE;
    if (!s || to == HB_DISCARD)
        return RR_OK;
    switch (to) {
    case HB_REQ:
        s->req.headers_seen = 1;
        break;
    case HB_RESP:
        if (sd->hb_status_interim)
            return RR_OK; /* interim responses never end the stream */
        s->resp.headers_seen = 1;
        s->t_resp_start = sd->hb_ts;
        break;
    default:
        break;
    }
    if (sd->hb_end_stream) {
        struct msg *m = (to == HB_REQ || to == HB_REQ_TRAILER) ? &s->req : &s->resp;
        m->ended = 1;
        if (m == &s->req)
            s->t_req_end = ts;
        else
            s->t_resp_end = ts;
    }
    if (s->resp.ended && s->req.ended)
        return finished(d, s, 0);
    return RR_OK;
}

/* Starts a header block (HEADERS or PUSH_PROMISE) on stream id from side dir. */
static int begin_block(struct rr_h2d *d, enum rr_dir dir, uint32_t id, uint32_t promised,
                       int end_stream, uint64_t ts)
{
    struct side *sd = &d->side[dir];
    struct strm *s;
    int rc = RR_OK;

    sd->hb_stream = id;
    sd->hb_cont_id = id;
    sd->hb_end_stream = end_stream;
    sd->hb_status_interim = 0;
    sd->hb_ts = ts;
    sd->hb_to = HB_DISCARD;
    if (promised) {
        /* A pushed response: the promise carries the request the server assumed. */
        sd->hb_stream = promised;
        if (find_any(d, promised))
            return RR_OK;
        s = new_strm(d, promised, &rc);
        if (!s)
            return rc;
        s->flags |= RR_XF_PUSH;
        s->req.ended = 1;
        s->t_req_start = s->t_req_end = ts;
        d->stats.pushes++;
        sd->hb_to = HB_REQ;
        return RR_OK;
    }
    s = find(d, id);
    if (dir == RR_DIR_C2S) {
        if (!s) {
            if (id % 2 == 0 || find_any(d, id))
                return RR_OK; /* clients open odd streams only, and each once */
            s = new_strm(d, id, &rc);
            if (!s)
                return rc;
            s->t_req_start = ts;
            sd->hb_to = HB_REQ;
        } else if (!s->req.ended && (s->req.headers_seen || s->upgraded)) {
            sd->hb_to = HB_REQ_TRAILER;
        }
        return RR_OK;
    }
    if (!s)
        return RR_OK; /* a stream no longer tracked: decode for HPACK only */
    sd->hb_to = s->resp.headers_seen ? HB_RESP_TRAILER : HB_RESP;
    return RR_OK;
}

static int on_data(struct rr_h2d *d, enum rr_dir dir, uint32_t id, const uint8_t *p, size_t n,
                   int end_stream, uint64_t ts)
{
    struct strm *s = find(d, id);
    if (!s)
        return RR_OK;
    struct msg *m = dir == RR_DIR_C2S ? &s->req : &s->resp;
    m->wire_len += n;
    if (n == 0 || m->holed) {
        /* END_STREAM alone, or a body with a hole: nothing more is kept */
    } else if (m->body.len + n > d->lim.max_body) {
        size_t room = d->lim.max_body - m->body.len;
        rr_buf_add(&m->body, p, room);
        m->capped = 1;
    } else {
        rr_buf_add(&m->body, p, n);
    }
    if (end_stream) {
        m->ended = 1;
        if (dir == RR_DIR_C2S)
            s->t_req_end = ts;
        else
            s->t_resp_end = ts;
        if (s->req.ended && s->resp.ended)
            return finished(d, s, 0);
    }
    return RR_OK;
}

/* Strips padding; returns -1 when the pad length does not fit the frame. */
static int unpad(const uint8_t **p, size_t *n, uint8_t flags)
{
    if (!(flags & FL_PADDED))
        return 0;
    if (*n < 1)
        return -1;
    size_t pad = (*p)[0];
    if (pad > *n - 1)
        return -1;
    *p += 1;
    *n -= 1 + pad;
    return 0;
}

/* One whole frame from side dir. ts: capture time of its first byte; now: of its last. */
static int on_frame(struct rr_h2d *d, enum rr_dir dir, const uint8_t *f, uint64_t ts, uint64_t now)
{
    struct side *sd = &d->side[dir];
    size_t n = be24(f);
    uint8_t type = f[3], flags = f[4];
    uint32_t id = be31(f + 5);
    const uint8_t *p = f + 9;
    int rc;

    d->stats.frames++;
    if (sd->hb_stream && (type != F_CONTINUATION || id != sd->hb_cont_id))
        goto proto; /* a header block must continue without interruption */
    switch (type) {
    case F_DATA:
        if (id == 0 || unpad(&p, &n, flags))
            goto proto;
        return on_data(d, dir, id, p, n, flags & FL_END_STREAM, now);
    case F_HEADERS:
        if (id == 0 || unpad(&p, &n, flags))
            goto proto;
        if (flags & FL_PRIORITY) {
            if (n < 5)
                goto proto;
            p += 5;
            n -= 5;
        }
        rc = begin_block(d, dir, id, 0, flags & FL_END_STREAM, ts);
        if (rc)
            return rc;
        goto fragment;
    case F_PUSH_PROMISE: {
        if (dir != RR_DIR_S2C || id == 0 || unpad(&p, &n, flags) || n < 4)
            goto proto;
        uint32_t promised = be31(p);
        p += 4;
        n -= 4;
        if (promised == 0 || promised % 2)
            goto proto;
        rc = begin_block(d, dir, id, promised, 1, ts);
        if (rc)
            return rc;
        goto fragment;
    }
    case F_CONTINUATION:
        if (!sd->hb_stream)
            goto proto;
        goto fragment;
    case F_RST_STREAM: {
        struct strm *s = find(d, id);
        d->stats.resets++;
        if (!s)
            return RR_OK;
        if (dir == RR_DIR_C2S && !s->req.ended)
            s->t_req_end = now;
        if (dir == RR_DIR_S2C && s->status && !s->resp.ended)
            s->t_resp_end = now;
        return finished(d, s, RR_XF_RESET);
    }
    case F_GOAWAY: {
        d->stats.goaways++;
        if (n < 8 || id != 0)
            goto proto;
        /* Streams the sender never processed (opened by the other side, above its last
         * stream id) will get no answer: they finish now. */
        uint32_t last = be31(p);
        for (size_t i = 0; i < d->nst; i++) {
            struct strm *s = d->st[i];
            int peer_opened = dir == RR_DIR_S2C ? (s->id % 2 == 1) : (s->id % 2 == 0);
            if (!s->done && peer_opened && s->id > last)
                mark_finished(d, s, RR_XF_INCOMPLETE);
        }
        return drain(d, 0);
    }
    default:
        /* PRIORITY, SETTINGS, PING, WINDOW_UPDATE and unknown types carry nothing recorded;
         * SETTINGS_HEADER_TABLE_SIZE needs no tracking (see HPACK_TABLE_MAX). */
        return RR_OK;
    }
fragment : {
    int last = (flags & FL_END_HEADERS) != 0;
    if (inflate_fragment(d, sd, p, n, last))
        return kill_conn(d, "HPACK decoding failed");
    if (last)
        return end_block(d, sd, now);
    return RR_OK;
}
proto:
    return kill_conn(d, "HTTP/2 framing error");
}

/* DATA frames longer than what is at hand are read as they arrive, their payload going
 * straight into the stream's body instead of being buffered whole and copied again. */
static int streamable(const struct side *sd, const uint8_t *hdr)
{
    return hdr[3] == F_DATA && !sd->hb_stream && be24(hdr) > 0;
}

static int data_done(struct rr_h2d *d, enum rr_dir dir, uint64_t ts)
{
    struct side *sd = &d->side[dir];
    sd->data_left = 0;
    if (!sd->data_end)
        return RR_OK;
    return on_data(d, dir, sd->data_id, NULL, 0, 1, ts);
}

/* hdr: the 9-byte frame header; pad: the pad length byte when PADDED. */
static int data_begin(struct rr_h2d *d, enum rr_dir dir, const uint8_t *hdr, uint8_t pad,
                      uint64_t ts)
{
    struct side *sd = &d->side[dir];
    size_t left = be24(hdr);
    uint8_t flags = hdr[4];

    d->stats.frames++;
    sd->data_id = be31(hdr + 5);
    sd->data_end = flags & FL_END_STREAM;
    sd->data_pad = 0;
    if (sd->data_id == 0)
        return kill_conn(d, "HTTP/2 framing error");
    if (flags & FL_PADDED) {
        left -= 1;
        sd->data_pad = pad;
        if (sd->data_pad > left)
            return kill_conn(d, "HTTP/2 framing error");
    }
    sd->data_left = left;
    return left == 0 ? data_done(d, dir, ts) : RR_OK;
}

static int data_more(struct rr_h2d *d, enum rr_dir dir, const uint8_t *p, size_t k, uint64_t ts)
{
    struct side *sd = &d->side[dir];
    size_t body_left = sd->data_left > sd->data_pad ? sd->data_left - sd->data_pad : 0;
    size_t take = k < body_left ? k : body_left;
    int rc;

    if (take && (rc = on_data(d, dir, sd->data_id, p, take, 0, ts)))
        return rc;
    sd->data_left -= k;
    return sd->data_left == 0 ? data_done(d, dir, ts) : RR_OK;
}

int rr_h2d_feed(struct rr_h2d *d, enum rr_dir dir, const uint8_t *p, size_t n, uint64_t ts_us)
{
    struct side *sd = &d->side[dir];
    int rc = RR_OK;

    if (d->err)
        return d->err;
    if (d->dead) {
        d->stats.skipped_bytes += n;
        return RR_OK;
    }
    if (sd->preface_left) {
        size_t k = n < sd->preface_left ? n : sd->preface_left;
        const uint8_t *want = (const uint8_t *)PREFACE + (PREFACE_LEN - sd->preface_left);
        if (memcmp(p, want, k) != 0) {
            rc = kill_conn(d, "no HTTP/2 client preface");
            d->stats.skipped_bytes += n;
            return rc;
        }
        sd->preface_left -= k;
        p += k;
        n -= k;
    }
    /* Frames wholly inside p are read in place; only a partial one is buffered (a DATA frame
     * only up to its header). */
    while (n > 0 && !d->dead && !d->err && rc == RR_OK) {
        if (sd->data_left) {
            size_t k = n < sd->data_left ? n : sd->data_left;
            rc = data_more(d, dir, p, k, ts_us);
            p += k;
            n -= k;
            continue;
        }
        if (sd->in.len > 0 || n < 10) {
            if (sd->in.len == 0)
                sd->in_ts = ts_us;
            if (sd->in.len < 9) {
                size_t k = 9 - sd->in.len < n ? 9 - sd->in.len : n;
                rr_buf_add(&sd->in, p, k);
                p += k;
                n -= k;
                if (sd->in.len < 9)
                    break;
            }
            /* The header is in: it says how much more is needed. */
            size_t need = streamable(sd, sd->in.p) ? ((sd->in.p[4] & FL_PADDED) ? 10 : 9)
                                                   : 9 + be24(sd->in.p);
            if (sd->in.len < need) {
                size_t k = need - sd->in.len < n ? need - sd->in.len : n;
                rr_buf_add(&sd->in, p, k);
                p += k;
                n -= k;
                if (sd->in.len < need)
                    break;
            }
            if (streamable(sd, sd->in.p)) {
                rc = data_begin(d, dir, sd->in.p, sd->in.len > 9 ? sd->in.p[9] : 0, ts_us);
            } else {
                rc = on_frame(d, dir, sd->in.p, sd->in_ts, ts_us);
            }
            rr_buf_reset(&sd->in);
            continue;
        }
        size_t flen = 9 + be24(p);
        if (flen <= n) {
            rc = on_frame(d, dir, p, ts_us, ts_us);
            p += flen;
            n -= flen;
        } else if (streamable(sd, p)) {
            size_t hl = (p[4] & FL_PADDED) ? 10 : 9;
            rc = data_begin(d, dir, p, p[9], ts_us);
            p += hl;
            n -= hl;
        } else {
            sd->in_ts = ts_us;
            rr_buf_add(&sd->in, p, n);
            n = 0;
        }
    }
    if (rc)
        return rc;
    if (d->dead)
        d->stats.skipped_bytes += n;
    return d->err;
}

int rr_h2d_gap(struct rr_h2d *d, enum rr_dir dir, uint64_t nbytes, uint64_t ts_us)
{
    struct side *sd = &d->side[dir];

    if (d->err)
        return d->err;
    d->stats.skipped_bytes += nbytes;
    if (d->dead)
        return RR_OK;
    d->stats.gaps++;
    /* Lost bytes wholly inside a DATA payload leave the framing and HPACK in step: only that
     * stream's body has a hole. Anywhere else a header block may have been lost, and the
     * dynamic table with it. */
    if (nbytes > 0 && sd->data_left >= nbytes) {
        struct strm *s = find(d, sd->data_id);
        if (s) {
            struct msg *m = dir == RR_DIR_C2S ? &s->req : &s->resp;
            size_t body_left = sd->data_left > sd->data_pad ? sd->data_left - sd->data_pad : 0;
            m->wire_len += nbytes < body_left ? nbytes : body_left;
            m->holed = 1;
            s->flags |= RR_XF_GAP | RR_XF_INCOMPLETE;
        }
        sd->data_left -= nbytes;
        return sd->data_left == 0 ? data_done(d, dir, ts_us) : RR_OK;
    }
    d->dead = 1;
    d->stats.error = "bytes missing from the capture";
    return flush_all(d, RR_XF_GAP | RR_XF_INCOMPLETE);
}

int rr_h2d_finish(struct rr_h2d *d, uint64_t ts_us)
{
    if (d->err)
        return d->err;
    return flush_all(d, RR_XF_INCOMPLETE);
}

static int make(struct rr_h2d **out, const struct rr_dissect_sink *sink,
                const struct rr_dissect_limits *lim)
{
    struct rr_h2d *d = rr_xcalloc(1, sizeof(*d));
    int rc = RR_OK;

    *out = NULL;
    d->sink = *sink;
    if (lim)
        d->lim = *lim;
    if (!d->lim.max_body)
        d->lim.max_body = DEF_MAX_BODY;
    if (!d->lim.max_headers)
        d->lim.max_headers = DEF_MAX_HEADERS;
    if (!d->lim.max_pending)
        d->lim.max_pending = DEF_MAX_PENDING;
    d->side[RR_DIR_C2S].preface_left = PREFACE_LEN;
    for (int i = 0; i < 2; i++) {
        rr_buf_init(&d->side[i].in);
        rc = rr_rec__from_ng(nghttp2_hd_inflate_new(&d->side[i].inf));
        if (rc)
            goto fail;
        rc = rr_rec__from_ng(nghttp2_hd_inflate_change_table_size(d->side[i].inf, HPACK_TABLE_MAX));
        if (rc)
            goto fail;
    }
    rr_buf_init(&d->dec);
    *out = d;
    return RR_OK;
fail:
    rr_h2d_free(&d);
    return rc;
}

int rr_h2d_new(struct rr_h2d **out, const struct rr_dissect_sink *sink,
               const struct rr_dissect_limits *lim)
{
    return make(out, sink, lim);
}

int rr_h2d_new_upgraded(struct rr_h2d **out, const struct rr_dissect_sink *sink,
                        const struct rr_dissect_limits *lim, const struct rr_exchange *up,
                        const uint8_t *req_body, size_t req_len)
{
    struct strm *s;
    int rc = make(out, sink, lim);

    if (rc)
        return rc;
    /* Stream 1 is the HTTP/1.1 request that asked for the upgrade (RFC 7540 3.2): it is
     * complete already, and its response arrives as HTTP/2 on stream 1. */
    s = new_strm(*out, 1, &rc);
    if (!s) {
        rr_h2d_free(out);
        return rc;
    }
    s->upgraded = 1;
    s->req.ended = 1;
    s->req.headers_seen = 1;
    if (up) {
        s->flags = up->flags & (RR_XF_TRUNCATED | RR_XF_GAP);
        set_buf(&s->method, up->method.p, up->method.len);
        set_buf(&s->scheme, up->scheme.p, up->scheme.len);
        set_buf(&s->authority, up->authority.p, up->authority.len);
        set_buf(&s->path, up->target.p, up->target.len);
        for (size_t i = 0; i < up->n_req_headers; i++)
            hlist_add(&s->req.h, up->req_headers[i].name.p, up->req_headers[i].name.len,
                      up->req_headers[i].value.p, up->req_headers[i].value.len,
                      (*out)->lim.max_headers);
        s->t_req_start = up->t_req_start_us;
        s->t_req_end = up->t_req_end_us;
        /* Interim answers the HTTP/1.1 request got (100 Continue) stay; the 101 itself is
         * the HTTP/1.1 exchange's status, as in tshark's view. */
        if (up->n_interim <= RR_MAX_INTERIM) {
            memcpy(s->interim, up->interim, sizeof(s->interim));
            s->n_interim = up->n_interim;
        }
    }
    if (req_len) {
        size_t k = req_len > (*out)->lim.max_body ? (*out)->lim.max_body : req_len;
        rr_buf_add(&s->req.body, req_body, k);
        s->req.capped = k < req_len;
    }
    return RR_OK;
}

void rr_h2d_free(struct rr_h2d **pd)
{
    struct rr_h2d *d = pd ? *pd : NULL;
    if (!d)
        return;
    for (size_t i = 0; i < d->nst; i++)
        strm_free(d->st[i]);
    free(d->st);
    free(d->tab);
    for (int i = 0; i < 2; i++) {
        rr_buf_fini(&d->side[i].in);
        if (d->side[i].inf)
            nghttp2_hd_inflate_del(d->side[i].inf);
    }
    free(d->hv);
    rr_buf_fini(&d->dec);
    free(d);
    *pd = NULL;
}

void rr_h2d_get_stats(const struct rr_h2d *d, struct rr_h2d_stats *out)
{
    *out = d->stats;
    out->open_streams = d->nst;
    out->dead = d->dead;
}
