/* h1_dissect.c -- HTTP/1.x exchanges from the two byte streams of a connection. */
#include <string.h>
#include <strings.h>

#include <llhttp.h>

#include "h1_dissect.h"

struct hoff {
    uint32_t no, nl, vo, vl;
};

/* One exchange being assembled. Strings live in s; views are made at emit time. */
struct h1x {
    struct h1x *next;
    struct rr_buf s;
    struct hoff *h[2];
    size_t nh[2], caph[2];
    uint32_t mo, ml, uo, ul, ro, rl;
    struct rr_buf body[2];
    uint64_t body_len[2];
    uint8_t req_begun, req_done, resp_final, resp_done, resp_begun;
    uint8_t version, is_head, is_connect, orphan, hdr_full, forced, upgrade_req;
    uint8_t status_seen, discard, after_gap;
    uint16_t status;
    uint8_t n_interim;
    uint16_t interim[RR_MAX_INTERIM];
    uint32_t flags;
    uint64_t t_req0, t_req1, t_resp0, t_resp1;
};

enum {
    MODE_H1 = 0,
    MODE_STOPPED = 1,
    MODE_H2 = 2,
    MODE_TUNNEL = 3
};

struct rr_h1d {
    struct rr_dissect_sink sink;
    struct rr_dissect_limits lim;
    llhttp_settings_t set[2];
    llhttp_t par[2];
    struct h1x *head, *tail; /* requests in order */
    size_t npending;
    struct h1x *cur[2]; /* message being parsed per direction */
    uint8_t kind[2];    /* last header callback: 0 none, 1 field, 2 value */
    uint8_t resync[2], in_body[2], s2c_lost, c2s_lost, c2s_paused, mode, boundary, tunnel, decide;
    struct rr_buf tunnel_s2c; /* server bytes in a CONNECT tunnel before the client's first */
    struct h1x *upgrade_x;    /* request waiting for its answer to an upgrade */
    struct rr_buf held;       /* client bytes after an upgrade request, until its answer */
    uint64_t ts;
    uint64_t parse_errors;
    unsigned stalls;
    int err;               /* sticky: a sink error */
    struct rr_buf scratch; /* decoded bodies */
    struct rr_header *hv;
    size_t hv_cap;
    struct rr_h2d *h2;
};

#define HELD_MAX (256 * 1024)

static struct rr_h1d *of(llhttp_t *p)
{
    return (struct rr_h1d *)p->data;
}

static int dir_of(struct rr_h1d *d, llhttp_t *p)
{
    return p == &d->par[1];
}

static void x_free(struct h1x *x)
{
    if (!x)
        return;
    rr_buf_fini(&x->s);
    rr_buf_fini(&x->body[0]);
    rr_buf_fini(&x->body[1]);
    free(x->h[0]);
    free(x->h[1]);
    free(x);
}

static struct h1x *x_new(void)
{
    struct h1x *x = rr_xcalloc(1, sizeof(*x));
    return x;
}

/* Appends to the string store, respecting the header cap. Returns the offset. */
static uint32_t sadd(struct rr_h1d *d, struct h1x *x, const char *p, size_t n)
{
    if (x->s.len + n > d->lim.max_headers) {
        x->hdr_full = 1;
        x->flags |= RR_XF_INCOMPLETE;
        return (uint32_t)x->s.len;
    }
    uint32_t off = (uint32_t)x->s.len;
    rr_buf_add(&x->s, p, n);
    return off;
}

/* Extends the field (off,len) just appended, or starts it. */
static void sext(struct rr_h1d *d, struct h1x *x, uint32_t *off, uint32_t *len, int start,
                 const char *p, size_t n)
{
    if (x->hdr_full)
        return;
    uint32_t o = sadd(d, x, p, n);
    if (x->hdr_full)
        return;
    if (start) {
        *off = o;
        *len = (uint32_t)n;
    } else {
        *len += (uint32_t)n;
    }
}

static struct rr_view xs(const struct h1x *x, uint32_t off, uint32_t len)
{
    if (len == 0)
        return rr_view_of("", 0);
    return rr_view_of(x->s.p + off, len);
}

static struct rr_view hdr(const struct h1x *x, int dir, const char *name)
{
    for (size_t i = 0; i < x->nh[dir]; i++) {
        const struct hoff *h = &x->h[dir][i];
        if (h->nl == strlen(name) && strncasecmp((const char *)x->s.p + h->no, name, h->nl) == 0)
            return xs(x, h->vo, h->vl);
    }
    return rr_view_of(NULL, 0);
}

static int view_has_token(struct rr_view v, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= v.len; i++)
        if (strncasecmp((const char *)v.p + i, tok, tl) == 0)
            return 1;
    return 0;
}

static void fill_headers(struct rr_h1d *d, const struct h1x *x, int dir, size_t base)
{
    for (size_t i = 0; i < x->nh[dir]; i++) {
        const struct hoff *h = &x->h[dir][i];
        d->hv[base + i].name = xs(x, h->no, h->nl);
        d->hv[base + i].value = xs(x, h->vo, h->vl);
    }
}

static int emit(struct rr_h1d *d, struct h1x *x)
{
    struct rr_exchange e;
    memset(&e, 0, sizeof(e));
    size_t need = x->nh[0] + x->nh[1];
    if (need > d->hv_cap) {
        d->hv_cap = need + 16;
        d->hv = rr_xrealloc(d->hv, d->hv_cap * sizeof(*d->hv));
    }
    fill_headers(d, x, 0, 0);
    fill_headers(d, x, 1, x->nh[0]);
    e.version = x->version ? x->version : 11;
    e.flags = x->flags;
    e.t_req_start_us = x->t_req0;
    e.t_req_end_us = x->t_req1;
    e.t_resp_start_us = x->t_resp0;
    e.t_resp_end_us = x->t_resp1;
    e.method = xs(x, x->mo, x->ml);
    e.scheme = rr_view_of("http", 4);
    e.target = xs(x, x->uo, x->ul);
    e.n_req_headers = x->nh[0];
    e.req_headers = d->hv;
    e.authority = hdr(x, 0, "host");
    if (!e.authority.p)
        e.authority = rr_view_of("", 0);
    e.status = x->status;
    e.n_interim = x->n_interim;
    memcpy(e.interim, x->interim, sizeof(e.interim));
    e.reason = xs(x, x->ro, x->rl);
    e.n_resp_headers = x->nh[1];
    e.resp_headers = d->hv + x->nh[0];
    e.resp_wire_len = x->body_len[1];
    if (!x->resp_final)
        e.flags |= RR_XF_NO_RESPONSE;
    if (x->body_len[0] > x->body[0].len || x->body_len[1] > x->body[1].len)
        e.flags |= RR_XF_BODY_CAPPED;
    const uint8_t *rb = x->body[1].p;
    size_t rl = x->body[1].len;
    struct rr_view ce = hdr(x, 1, "content-encoding");
    if (ce.p && rl > 0 && !(e.flags & RR_XF_BODY_CAPPED)) {
        int gz = view_has_token(ce, "gzip");
        if ((gz || view_has_token(ce, "deflate")) &&
            rr_exchange_inflate(rb, rl, gz ? RR_CODING_GZIP : RR_CODING_DEFLATE, d->lim.max_body,
                                RR_INFLATE_PARTIAL, &d->scratch) == 0) {
            rb = d->scratch.p;
            rl = d->scratch.len;
            e.flags |= RR_XF_DECODED;
        }
    }
    int rc = d->sink.on_exchange(d->sink.ud, &e, x->body[0].p, x->body[0].len, rb, rl);
    if (rc)
        return rc;
    if (x->status == 101 && !d->h2 && view_has_token(hdr(x, 1, "upgrade"), "h2c")) {
        rc = rr_h2d_new_upgraded(&d->h2, &d->sink, &d->lim, &e, x->body[0].p, x->body[0].len);
        if (rc)
            return rc;
    }
    return 0;
}

/* Emits finished exchanges from the head of the queue, in request order. */
static int flush_ready(struct rr_h1d *d)
{
    while (d->head && d->head->req_done && d->head->resp_done && !d->err) {
        struct h1x *x = d->head;
        if (d->cur[0] == x || d->cur[1] == x)
            break;
        d->head = x->next;
        if (!d->head)
            d->tail = NULL;
        d->npending--;
        if (d->upgrade_x == x)
            d->upgrade_x = NULL;
        if (!x->discard)
            d->err = emit(d, x);
        x_free(x);
    }
    return d->err;
}

/* --- request and response callbacks --- */

static int cb_begin(llhttp_t *p)
{
    struct rr_h1d *d = of(p);
    int dir = dir_of(d, p);
    d->kind[dir] = 0;
    if (dir == RR_DIR_C2S) {
        struct h1x *x = x_new();
        x->req_begun = 1;
        x->t_req0 = d->ts;
        if (d->tail)
            d->tail->next = x;
        else
            d->head = x;
        d->tail = x;
        d->npending++;
        d->cur[0] = x;
        x->after_gap = d->c2s_lost;
        d->c2s_lost = 0;
        if (d->npending > d->lim.max_pending && d->head != x) {
            /* Too many unanswered requests: the oldest ends without its response. */
            d->head->resp_done = 1;
            if (flush_ready(d))
                return -1;
        }
        return 0;
    }
    /* The oldest request without a final response, or the newest one after lost bytes. */
    struct h1x *pick = NULL;
    for (struct h1x *x = d->head; x; x = x->next) {
        if (x->req_begun && !x->resp_final && !x->resp_done && !x->orphan) {
            pick = x;
            if (!d->s2c_lost)
                break;
        }
    }
    if (pick && d->s2c_lost && !pick->resp_begun) {
        for (struct h1x *x = d->head; x && x != pick; x = x->next)
            if (!x->resp_final && !x->resp_done)
                x->resp_done = 1;
    }
    d->s2c_lost = 0;
    /* After lost client bytes, a response that starts before the next captured request has
     * ended answers a request the capture lost, not that one. */
    if (pick && pick->after_gap && !pick->req_done)
        pick = NULL;
    if (!pick) {
        pick = x_new();
        pick->orphan = 1;
        pick->req_done = 1;
        pick->flags |= RR_XF_INCOMPLETE;
        if (d->tail)
            d->tail->next = pick;
        else
            d->head = pick;
        d->tail = pick;
        d->npending++;
    }
    pick->resp_begun = 1;
    pick->t_resp0 = d->ts;
    pick->nh[1] = 0;
    pick->rl = 0;
    d->cur[1] = pick;
    return 0;
}

static int cb_url(llhttp_t *p, const char *at, size_t n)
{
    struct rr_h1d *d = of(p);
    struct h1x *x = d->cur[0];
    if (x)
        sext(d, x, &x->uo, &x->ul, x->ul == 0, at, n);
    return 0;
}

static int cb_method(llhttp_t *p, const char *at, size_t n)
{
    struct rr_h1d *d = of(p);
    struct h1x *x = d->cur[0];
    if (x)
        sext(d, x, &x->mo, &x->ml, x->ml == 0, at, n);
    return 0;
}

static int cb_status(llhttp_t *p, const char *at, size_t n)
{
    struct rr_h1d *d = of(p);
    struct h1x *x = d->cur[1];
    if (x)
        sext(d, x, &x->ro, &x->rl, x->rl == 0, at, n);
    return 0;
}

static int cb_status_done(llhttp_t *p)
{
    struct rr_h1d *d = of(p);
    if (d->cur[1])
        d->cur[1]->status_seen = 1;
    return 0;
}

static int cb_hfield(llhttp_t *p, const char *at, size_t n)
{
    struct rr_h1d *d = of(p);
    int dir = dir_of(d, p);
    struct h1x *x = d->cur[dir];
    if (!x || x->hdr_full)
        return 0;
    if (d->kind[dir] != 1) {
        if (x->nh[dir] == x->caph[dir]) {
            x->caph[dir] = x->caph[dir] ? x->caph[dir] * 2 : 16;
            x->h[dir] = rr_xrealloc(x->h[dir], x->caph[dir] * sizeof(struct hoff));
        }
        struct hoff *h = &x->h[dir][x->nh[dir]++];
        memset(h, 0, sizeof(*h));
        d->kind[dir] = 1;
        sext(d, x, &h->no, &h->nl, 1, at, n);
        return 0;
    }
    struct hoff *h = &x->h[dir][x->nh[dir] - 1];
    sext(d, x, &h->no, &h->nl, 0, at, n);
    return 0;
}

static int cb_hvalue(llhttp_t *p, const char *at, size_t n)
{
    struct rr_h1d *d = of(p);
    int dir = dir_of(d, p);
    struct h1x *x = d->cur[dir];
    if (!x || x->hdr_full || x->nh[dir] == 0)
        return 0;
    struct hoff *h = &x->h[dir][x->nh[dir] - 1];
    sext(d, x, &h->vo, &h->vl, d->kind[dir] != 2, at, n);
    d->kind[dir] = 2;
    return 0;
}

static int cb_headers_done(llhttp_t *p)
{
    struct rr_h1d *d = of(p);
    int dir = dir_of(d, p);
    struct h1x *x = d->cur[dir];
    d->kind[dir] = 0;
    if (!x)
        return 0;
    if (dir == RR_DIR_C2S) {
        x->version = (uint8_t)(p->http_major * 10 + p->http_minor);
        if (!x->forced) {
            x->is_head = p->method == HTTP_HEAD;
            x->is_connect = p->method == HTTP_CONNECT;
        }
        d->in_body[0] = 1;
        return 0;
    }
    uint16_t st = (uint16_t)p->status_code;
    if (x->orphan)
        x->version = (uint8_t)(p->http_major * 10 + p->http_minor);
    if (st >= 100 && st < 200 && st != 101) {
        if (x->n_interim < RR_MAX_INTERIM)
            x->interim[x->n_interim++] = st;
        return 0;
    }
    x->status = st;
    x->resp_final = 1;
    if (x->is_connect && st >= 200 && st < 300)
        d->tunnel = 1;
    if (st == 101)
        x->flags |= RR_XF_UPGRADE;
    if (st == 101 || d->tunnel)
        return 2;
    if (x->is_head || st == 204 || st == 304)
        return 1;
    d->in_body[1] = 1;
    /* One allocation for a body of announced length (the cap still applies). */
    if (p->content_length > 0 && p->content_length <= d->lim.max_body && !(p->flags & F_CHUNKED))
        rr_buf_reserve(&x->body[1], (size_t)p->content_length);
    return 0;
}

static int cb_body(llhttp_t *p, const char *at, size_t n)
{
    struct rr_h1d *d = of(p);
    int dir = dir_of(d, p);
    struct h1x *x = d->cur[dir];
    if (!x)
        return 0;
    x->body_len[dir] += n;
    size_t room = d->lim.max_body > x->body[dir].len ? d->lim.max_body - x->body[dir].len : 0;
    rr_buf_add(&x->body[dir], at, n < room ? n : room);
    return 0;
}

static int cb_done(llhttp_t *p)
{
    struct rr_h1d *d = of(p);
    int dir = dir_of(d, p);
    struct h1x *x = d->cur[dir];
    d->in_body[dir] = 0;
    if (!x)
        return 0;
    if (dir == RR_DIR_C2S) {
        x->req_done = 1;
        x->t_req1 = d->ts;
        if (p->upgrade) {
            d->upgrade_x = x;
            x->upgrade_req = 1;
        }
        d->cur[dir] = NULL;
        if (flush_ready(d))
            return -1;
        /* Stop at each request boundary so the next request line can be checked. */
        return p->upgrade ? 0 : HPE_PAUSED;
    } else {
        if (!x->resp_final)
            return 0; /* an interim response: the final one follows */
        x->resp_done = 1;
        x->t_resp1 = d->ts;
    }
    d->cur[dir] = NULL;
    int refused = x->upgrade_req && x->status != 101 && !d->tunnel;
    if (flush_ready(d))
        return -1;
    if (refused && d->c2s_paused) {
        /* The upgrade was refused: the client's next bytes are HTTP/1 again. */
        d->decide = 1;
        return HPE_PAUSED;
    }
    return 0;
}

static void parser_init(struct rr_h1d *d, int dir)
{
    llhttp_init(&d->par[dir], dir == RR_DIR_C2S ? HTTP_REQUEST : HTTP_RESPONSE, &d->set[dir]);
    d->par[dir].data = d;
    llhttp_set_lenient_headers(&d->par[dir], 1);
    llhttp_set_lenient_keep_alive(&d->par[dir], 1);
    llhttp_set_lenient_chunked_length(&d->par[dir], 1);
    d->kind[dir] = 0;
    d->in_body[dir] = 0;
}

int rr_h1d_new(struct rr_h1d **out, const struct rr_dissect_sink *sink,
               const struct rr_dissect_limits *lim, unsigned flags)
{
    struct rr_h1d *d = rr_xcalloc(1, sizeof(*d));
    d->sink = *sink;
    d->lim = *lim;
    for (int dir = 0; dir < 2; dir++) {
        llhttp_settings_t *s = &d->set[dir];
        llhttp_settings_init(s);
        s->on_message_begin = cb_begin;
        s->on_url = cb_url;
        s->on_method = cb_method;
        s->on_status = cb_status;
        s->on_status_complete = cb_status_done;
        s->on_header_field = cb_hfield;
        s->on_header_value = cb_hvalue;
        s->on_headers_complete = cb_headers_done;
        s->on_body = cb_body;
        s->on_message_complete = cb_done;
        parser_init(d, dir);
    }
    d->resync[0] = (flags & RR_H1D_RESYNC_C2S) != 0;
    d->boundary = !d->resync[0];
    d->resync[1] = (flags & RR_H1D_RESYNC_S2C) != 0;
    rr_buf_init(&d->held);
    rr_buf_init(&d->scratch);
    *out = d;
    return 0;
}

static int is_tchar(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '!' || c == '~' || c == '*' || c == '+';
}

int rr_h1_is_request_start(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < 24 && is_tchar(p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ' || i == 24)
        return 0;
    if (i + 1 < n && (p[i + 1] == ' ' || p[i + 1] == '\r' || p[i + 1] == '\n'))
        return 0;
    /* The line must end with " HTTP/" (checked when the line is all here). */
    for (size_t j = i + 1; j < n && j < 8192; j++) {
        if (p[j] == '\n' || p[j] == '\r')
            return j >= i + 9 && memcmp(p + j - 9, " HTTP/", 6) == 0 ? 1 : 0;
    }
    return n - i < 8192; /* an unfinished first line: accept */
}

int rr_h1_is_response_start(const uint8_t *p, size_t n)
{
    if (n < 12)
        return n >= 5 && memcmp(p, "HTTP/", 5) == 0;
    return memcmp(p, "HTTP/", 5) == 0 && p[5] >= '0' && p[5] <= '9' && p[6] == '.' && p[8] == ' ' &&
           p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' && p[11] >= '0' &&
           p[11] <= '9';
}

static const char *const methods[] = {"GET",
                                      "PUT",
                                      "ACL",
                                      "POST",
                                      "HEAD",
                                      "COPY",
                                      "MOVE",
                                      "LOCK",
                                      "BIND",
                                      "LINK",
                                      "MKCOL",
                                      "TRACE",
                                      "PATCH",
                                      "MERGE",
                                      "LABEL",
                                      "PURGE",
                                      "DELETE",
                                      "UNLOCK",
                                      "SEARCH",
                                      "REPORT",
                                      "UPDATE",
                                      "NOTIFY",
                                      "UNBIND",
                                      "UNLINK",
                                      "OPTIONS",
                                      "CONNECT",
                                      "CHECKIN",
                                      "PROPFIND",
                                      "CHECKOUT",
                                      "CCM_POST",
                                      "PROPPATCH",
                                      "SUBSCRIBE",
                                      "MKACTIVITY",
                                      "UNCHECKOUT",
                                      "MKWORKSPACE",
                                      "UNSUBSCRIBE",
                                      "RPC_IN_DATA",
                                      "RPC_OUT_DATA",
                                      "VERSION-CONTROL",
                                      "BASELINE-CONTROL",
                                      "M-SEARCH",
                                      "SOURCE",
                                      "QUERY",
                                      NULL};

/* Methods llhttp does not know: their requests go through the stand-in line. */
static const char *const foreign[] = {
    "CCM_POST",         "CHECKIN",     "UNCHECKOUT",  "LABEL",        "UPDATE", "VERSION-CONTROL",
    "BASELINE-CONTROL", "MKWORKSPACE", "RPC_IN_DATA", "RPC_OUT_DATA", NULL};

static int is_foreign(const uint8_t *p, size_t n)
{
    for (const char *const *m = foreign; *m; m++)
        if (strlen(*m) == n && memcmp(*m, p, n) == 0)
            return 1;
    return 0;
}

/* Length of a known method at p followed by a space or the end of the line, else 0. */
size_t rr_h1_known_method(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < 20 && ((p[i] >= 'A' && p[i] <= 'Z') || p[i] == '_' || p[i] == '-'))
        i++;
    if (i == 0 || i >= n || (p[i] != ' ' && p[i] != '\r' && p[i] != '\n'))
        return 0;
    for (const char *const *m = methods; *m; m++)
        if (strlen(*m) == i && memcmp(*m, p, i) == 0)
            return i;
    return 0;
}

/* "TOKEN SP target SP HTTP/d.d" exactly: what llhttp accepts. */
static int strict_line(const uint8_t *p, size_t n)
{
    size_t i = 0, j;
    while (i < n && is_tchar(p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ')
        return 0;
    j = ++i;
    while (i < n && p[i] != ' ')
        i++;
    if (i == j || i >= n)
        return 0;
    i++;
    return n - i == 8 && memcmp(p + i, "HTTP/", 5) == 0 && p[i + 5] >= '0' && p[i + 5] <= '9' &&
           p[i + 6] == '.' && p[i + 7] >= '0' && p[i + 7] <= '9';
}

/* A request line llhttp rejects but which is still a request (a known method, then the
 * target, maybe a broken version): the parser gets a stand-in line and the exchange keeps
 * the real method and target. Returns the bytes consumed, or 0. */
static size_t lenient_line(struct rr_h1d *d, const uint8_t *p, size_t n)
{
    static const char stand_in[] = "GET / HTTP/1.1\r\n";
    const uint8_t *eol = memchr(p, '\n', n < 8192 ? n : 8192);
    if (!eol)
        return 0;
    size_t ll = (size_t)(eol - p);
    if (ll && p[ll - 1] == '\r')
        ll--;
    size_t ml = rr_h1_known_method(p, ll + 1);
    if (!ml || (strict_line(p, ll) && !is_foreign(p, ml)))
        return 0;
    size_t uo = ml < ll ? ml + 1 : ll, ue = uo;
    while (ue < ll && p[ue] != ' ')
        ue++;
    llhttp_errno_t e = llhttp_execute(&d->par[0], stand_in, sizeof(stand_in) - 1);
    struct h1x *x = d->cur[0];
    if (e != HPE_OK || !x)
        return 0;
    x->forced = 1;
    x->is_head = ml == 4 && memcmp(p, "HEAD", 4) == 0;
    x->is_connect = ml == 7 && memcmp(p, "CONNECT", 7) == 0;
    x->ml = x->ul = 0;
    sext(d, x, &x->mo, &x->ml, 1, (const char *)p, ml);
    sext(d, x, &x->uo, &x->ul, 1, (const char *)p + uo, ue - uo);
    d->parse_errors++;
    return (size_t)(eol - p) + 1;
}

/* Offset of the next plausible message start (at a line start), or n. */
static size_t find_start(int dir, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && p[i - 1] != '\n')
            continue;
        if (dir == RR_DIR_S2C ? rr_h1_is_response_start(p + i, n - i)
                              : rr_h1_is_request_start(p + i, n - i))
            return i;
    }
    return n;
}

/* The message in progress in dir is cut: it ends incomplete. */
static void cut(struct rr_h1d *d, int dir, uint32_t why)
{
    struct h1x *x = d->cur[dir];
    if (!x)
        return;
    x->flags |= RR_XF_INCOMPLETE | why;
    if (dir == RR_DIR_C2S) {
        x->req_done = 1;
    } else {
        x->resp_done = 1;
        if (!x->resp_final && x->status == 0 && x->status_seen) {
            /* The status line was parsed: keep it as final even though cut. */
            x->status = (uint16_t)d->par[1].status_code;
            x->resp_final = x->status >= 200 || x->status == 101;
        }
        /* Stray bytes that never became a status line are not a response. */
        if (x->orphan && !x->status_seen)
            x->discard = 1;
    }
    if (dir == RR_DIR_C2S && x->ml == 0 && !x->forced && !x->resp_begun)
        x->discard = 1; /* nor are stray bytes a request */
    d->cur[dir] = NULL;
}

static int h2_feed(struct rr_h1d *d, int dir, const uint8_t *p, size_t n)
{
    if (d->h2)
        return rr_h2d_feed(d->h2, (enum rr_dir)dir, p, n, d->ts);
    (void)d;
    (void)dir;
    (void)p;
    (void)n;
    return 0;
}

static int feed(struct rr_h1d *d, int dir, const uint8_t *p, size_t n);

/* The answer to the pending upgrade request came: switch or go on with HTTP/1. */
static int upgrade_decided(struct rr_h1d *d, int switched)
{
    if (!d->c2s_paused)
        return 0;
    d->c2s_paused = 0;
    struct rr_buf held = d->held;
    rr_buf_init(&d->held);
    int rc = 0;
    if (switched) {
        rc = feed(d, RR_DIR_C2S, held.p, held.len);
    } else {
        llhttp_resume_after_upgrade(&d->par[0]);
        rc = feed(d, RR_DIR_C2S, held.p, held.len);
    }
    rr_buf_fini(&held);
    return rc;
}

static void switch_protocol(struct rr_h1d *d)
{
    d->mode = d->tunnel ? MODE_TUNNEL : MODE_STOPPED;
    if (d->h2)
        d->mode = MODE_H2;
}

static int feed(struct rr_h1d *d, int dir, const uint8_t *p, size_t n)
{
    while (n > 0 && !d->err) {
        if (d->mode == MODE_H2)
            return h2_feed(d, dir, p, n);
        if (d->mode == MODE_STOPPED)
            return 0;
        if (d->mode == MODE_TUNNEL) {
            /* A CONNECT tunnel: h2 with prior knowledge is followed, anything else (TLS) not. */
            if (dir == RR_DIR_S2C) {
                size_t room = HELD_MAX - d->tunnel_s2c.len;
                rr_buf_add(&d->tunnel_s2c, p, n < room ? n : room);
                return 0;
            }
            d->mode = MODE_STOPPED;
            if (rr_h2d_is_preface(p, n)) {
                int rc = rr_h2d_new(&d->h2, &d->sink, &d->lim);
                if (rc)
                    return rc;
                d->mode = MODE_H2;
                rc = h2_feed(d, RR_DIR_S2C, d->tunnel_s2c.p, d->tunnel_s2c.len);
                if (rc)
                    return rc;
            }
            rr_buf_fini(&d->tunnel_s2c);
            continue;
        }
        if (dir == RR_DIR_C2S && d->c2s_paused) {
            size_t room = HELD_MAX - d->held.len;
            rr_buf_add(&d->held, p, n < room ? n : room);
            return 0;
        }
        if (d->resync[dir]) {
            size_t off = find_start(dir, p, n);
            if (off == n)
                return 0;
            p += off;
            n -= off;
            d->resync[dir] = 0;
            parser_init(d, dir);
            if (dir == RR_DIR_C2S)
                d->boundary = 1;
        }
        if (dir == RR_DIR_C2S && d->boundary) {
            d->boundary = 0;
            size_t used = lenient_line(d, p, n);
            if (d->err)
                return d->err;
            if (used) {
                p += used;
                n -= used;
                continue;
            }
        }
        llhttp_t *par = &d->par[dir];
        llhttp_errno_t e = llhttp_execute(par, (const char *)p, n);
        if (d->err)
            return d->err;
        if (e == HPE_OK)
            return 0;
        const uint8_t *pos = (const uint8_t *)llhttp_get_error_pos(par);
        size_t used = pos && pos >= p && pos <= p + n ? (size_t)(pos - p) : n;
        if (e == HPE_PAUSED && used == 0 && ++d->stalls > 2) {
            /* Paused again and again without reading a byte: treat it as an error. */
            e = HPE_INTERNAL;
        }
        if (e == HPE_PAUSED) {
            if (used)
                d->stalls = 0;
            llhttp_resume(par);
            p += used;
            n -= used;
            if (dir == RR_DIR_C2S) {
                d->boundary = 1;
            } else if (d->decide) {
                d->decide = 0;
                int rc = upgrade_decided(d, 0);
                if (rc)
                    return rc;
            }
            continue;
        }
        if (e == HPE_PAUSED_UPGRADE) {
            if (dir == RR_DIR_C2S) {
                d->c2s_paused = 1;
                p += used;
                n -= used;
                continue;
            }
            /* A 101 (or a CONNECT accepted): what follows is another protocol. */
            switch_protocol(d);
            int rc = upgrade_decided(d, 1);
            if (rc)
                return rc;
            p += used;
            n -= used;
            continue;
        }
        d->parse_errors++;
        cut(d, dir, 0);
        if (flush_ready(d))
            return d->err;
        d->resync[dir] = 1;
        if (used == 0)
            used = 1;
        if (used > n)
            used = n;
        p += used;
        n -= used;
    }
    return d->err;
}

int rr_h1d_feed(struct rr_h1d *d, enum rr_dir dir, const uint8_t *p, size_t n, uint64_t ts_us)
{
    d->ts = ts_us;
    return feed(d, dir, p, n);
}

int rr_h1d_gap(struct rr_h1d *d, enum rr_dir dir, uint64_t nbytes, uint64_t ts_us)
{
    d->ts = ts_us;
    if (d->mode == MODE_H2) {
        return rr_h2d_gap(d->h2, dir, nbytes, ts_us);
    }
    if (d->mode != MODE_H1)
        return 0;
    if (dir == RR_DIR_C2S && d->c2s_paused) {
        d->c2s_paused = 0;
        rr_buf_reset(&d->held);
        llhttp_resume_after_upgrade(&d->par[0]);
    }
    llhttp_t *par = &d->par[dir];
    struct h1x *x = d->cur[dir];
    /* Inside a body of known length: the message stays in step, only its bytes are lost. */
    if (x && d->in_body[dir] && !d->resync[dir] && par->content_length >= nbytes &&
        !(par->flags & F_CHUNKED) && nbytes < (1u << 30)) {
        x->flags |= RR_XF_INCOMPLETE | RR_XF_GAP;
        x->body_len[dir] += nbytes;
        par->content_length -= nbytes;
        if (par->content_length == 0) {
            /* The lost bytes ended the body: finish the message with an empty feed. */
            static const char nothing[1] = {0};
            par->content_length = 1;
            x->body_len[dir] -= 1;
            uint64_t keep = x->body[dir].len;
            int rc = feed(d, dir, (const uint8_t *)nothing, 1);
            x = NULL; /* may be freed */
            (void)keep;
            return rc;
        }
        return 0;
    }
    cut(d, dir, RR_XF_GAP);
    if (dir == RR_DIR_S2C)
        d->s2c_lost = 1;
    else
        d->c2s_lost = 1;
    d->resync[dir] = 1;
    return flush_ready(d);
}

void rr_h1d_flag(struct rr_h1d *d, enum rr_dir dir, uint32_t flags)
{
    if (d->mode == MODE_H1 && d->cur[dir])
        d->cur[dir]->flags |= flags;
}

int rr_h1d_eof(struct rr_h1d *d, enum rr_dir dir, uint64_t ts_us)
{
    d->ts = ts_us;
    if (d->mode != MODE_H1 || d->resync[dir])
        return 0;
    llhttp_errno_t e = llhttp_finish(&d->par[dir]);
    if (d->err)
        return d->err;
    if (e != HPE_OK && e != HPE_PAUSED_UPGRADE)
        cut(d, dir, 0);
    d->resync[dir] = 1;
    return flush_ready(d);
}

int rr_h1d_finish(struct rr_h1d *d, uint64_t ts_us)
{
    int rc = 0;
    d->ts = ts_us;
    if (d->mode == MODE_H1) {
        for (int dir = 1; dir >= 0; dir--) {
            if (!d->resync[dir]) {
                llhttp_errno_t e = llhttp_finish(&d->par[dir]);
                if (d->err)
                    return d->err;
                (void)e;
            }
            cut(d, dir, 0);
        }
    }
    if (d->h2) {
        rc = rr_h2d_finish(d->h2, ts_us);
        if (rc)
            return rc;
    }
    for (struct h1x *x = d->head; x; x = x->next) {
        x->req_done = 1;
        x->resp_done = 1;
    }
    d->cur[0] = d->cur[1] = NULL;
    rc = flush_ready(d);
    return rc;
}

int rr_h1d_state(const struct rr_h1d *d)
{
    return d->mode;
}

uint64_t rr_h1d_parse_errors(const struct rr_h1d *d)
{
    return d->parse_errors;
}

void rr_h1d_free(struct rr_h1d **pd)
{
    struct rr_h1d *d = *pd;
    if (!d)
        return;
    struct h1x *x = d->head, *next;
    for (; x; x = next) {
        next = x->next;
        x_free(x);
    }
    rr_h2d_free(&d->h2);
    rr_buf_fini(&d->held);
    rr_buf_fini(&d->tunnel_s2c);
    rr_buf_fini(&d->scratch);
    free(d->hv);
    free(d);
    *pd = NULL;
}
