/* codec.c -- The binary records of the conns and exchanges databases.
 *
 * Both records are: magic, version, the fields in a fixed order (varints, length-prefixed
 * strings, fixed-width hashes), and a 32-bit check over all of that. Decoding trusts no
 * length: every read goes through struct rr_rd, counts are bounded by the bytes left, and
 * a record must end exactly at its check. docs/store.md describes the layout. */
#include <string.h>

#include "rr/rd.h"
#include "rr/store.h"
#include "rr/util.h"
#include "store_int.h"

void rr_store__body_ref(const void *p, size_t len, struct rr_body_ref *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0)
        return;
    out->hash[0] = rr_hash64(p, len, RR_BODY_SEED0);
    out->hash[1] = rr_hash64(p, len, RR_BODY_SEED1);
    out->len = len;
}

static uint32_t rec_check(const uint8_t *p, size_t n)
{
    return (uint32_t)rr_hash64(p, n, RR_REC_CHECK_SEED);
}

static void seal(struct rr_buf *out, size_t start)
{
    rr_buf_be32(out, rec_check(out->p + start, out->len - start));
}

/* Checks magic and the trailing check; on success the reader covers the fields. */
static int unseal(const void *data, size_t len, uint8_t magic, struct rr_rd *r)
{
    const uint8_t *p = data;
    if (len < 2 + 4 || p[0] != magic)
        return RR_ECORRUPT;
    uint32_t want = (uint32_t)p[len - 4] << 24 | (uint32_t)p[len - 3] << 16 |
                    (uint32_t)p[len - 2] << 8 | (uint32_t)p[len - 1];
    if (rec_check(p, len - 4) != want)
        return RR_ECORRUPT;
    if (p[1] > RR_REC_VERSION)
        return RR_EVERSION;
    if (p[1] != RR_REC_VERSION)
        return RR_ECORRUPT;
    rr_rd_init(r, p + 2, len - 2 - 4);
    return 0;
}

static void put_ref(struct rr_buf *out, const struct rr_body_ref *ref)
{
    rr_buf_varint(out, ref->len);
    if (ref->len) {
        rr_buf_be64(out, ref->hash[0]);
        rr_buf_be64(out, ref->hash[1]);
    }
}

static void get_ref(struct rr_rd *r, struct rr_body_ref *ref)
{
    ref->len = rr_rd_varint(r);
    ref->hash[0] = ref->hash[1] = 0;
    if (ref->len) {
        ref->hash[0] = rr_rd_be64(r);
        ref->hash[1] = rr_rd_be64(r);
    }
}

static void put_view(struct rr_buf *out, struct rr_view v)
{
    rr_buf_lenstr(out, v.p, v.len);
}

static void put_headers(struct rr_buf *out, const struct rr_header *h, size_t n)
{
    rr_buf_varint(out, n);
    for (size_t i = 0; i < n; i++) {
        put_view(out, h[i].name);
        put_view(out, h[i].value);
    }
}

/* Each header takes at least two bytes (two empty strings), so a count above half of what is
 * left cannot be honest: rejecting it bounds the scratch allocation by the record size. */
static size_t get_count(struct rr_rd *r)
{
    uint64_t n = rr_rd_varint(r);
    if (n > rr_rd_left(r) / 2) {
        r->err = RR_EPARSE;
        return 0;
    }
    return (size_t)n;
}

static void get_headers(struct rr_rd *r, struct rr_header *h, size_t n)
{
    for (size_t i = 0; i < n && !r->err; i++) {
        h[i].name = rr_rd_lenstr(r);
        h[i].value = rr_rd_lenstr(r);
    }
}

void rr_exchange_encode(const struct rr_exchange *x, struct rr_buf *out)
{
    size_t start = out->len;
    rr_buf_addc(out, RR_XREC_MAGIC);
    rr_buf_addc(out, RR_REC_VERSION);
    rr_buf_varint(out, x->flags);
    rr_buf_varint(out, x->conn_id);
    rr_buf_varint(out, x->h2_stream);
    rr_buf_addc(out, x->version);
    rr_buf_varint(out, x->t_req_start_us);
    rr_buf_varint(out, x->t_req_end_us);
    rr_buf_varint(out, x->t_resp_start_us);
    rr_buf_varint(out, x->t_resp_end_us);
    put_view(out, x->method);
    put_view(out, x->scheme);
    put_view(out, x->authority);
    put_view(out, x->target);
    put_headers(out, x->req_headers, x->n_req_headers);
    put_ref(out, &x->req_body);
    rr_buf_varint(out, x->status);
    unsigned ni = x->n_interim <= RR_MAX_INTERIM ? x->n_interim : RR_MAX_INTERIM;
    rr_buf_addc(out, (uint8_t)ni);
    for (unsigned i = 0; i < ni; i++)
        rr_buf_varint(out, x->interim[i]);
    put_view(out, x->reason);
    put_headers(out, x->resp_headers, x->n_resp_headers);
    rr_buf_varint(out, x->resp_wire_len);
    put_ref(out, &x->resp_body);
    seal(out, start);
}

static int known_version(unsigned v)
{
    return v == 0 || v == 9 || v == 10 || v == 11 || v == 20 || v == 30;
}

int rr_exchange_decode(const void *data, size_t len, struct rr_exchange *x, struct rr_buf *scratch)
{
    struct rr_rd r;
    memset(x, 0, sizeof(*x));
    int rc = unseal(data, len, RR_XREC_MAGIC, &r);
    if (rc)
        return rc;
    uint64_t flags = rr_rd_varint(&r);
    x->conn_id = rr_rd_varint(&r);
    uint64_t stream = rr_rd_varint(&r);
    x->version = rr_rd_u8(&r);
    x->t_req_start_us = rr_rd_varint(&r);
    x->t_req_end_us = rr_rd_varint(&r);
    x->t_resp_start_us = rr_rd_varint(&r);
    x->t_resp_end_us = rr_rd_varint(&r);
    x->method = rr_rd_lenstr(&r);
    x->scheme = rr_rd_lenstr(&r);
    x->authority = rr_rd_lenstr(&r);
    x->target = rr_rd_lenstr(&r);
    if (r.err || (flags & ~(uint64_t)RR_XF_KNOWN) || stream > 0x7fffffffu ||
        !known_version(x->version))
        return RR_ECORRUPT;
    x->flags = (uint32_t)flags;
    x->h2_stream = (uint32_t)stream;

    /* Both header arrays live in scratch: the request's first, then the response's, after
     * which the request pointer is taken again because the buffer may have moved. */
    size_t nreq = get_count(&r);
    if (r.err)
        return RR_ECORRUPT;
    rr_buf_reset(scratch);
    rr_buf_reserve(scratch, nreq * sizeof(struct rr_header));
    x->req_headers = nreq ? (struct rr_header *)(void *)scratch->p : NULL;
    x->n_req_headers = nreq;
    get_headers(&r, x->req_headers, nreq);
    get_ref(&r, &x->req_body);
    uint64_t status = rr_rd_varint(&r);
    unsigned ni = rr_rd_u8(&r);
    if (r.err || ni > RR_MAX_INTERIM || (status != 0 && (status < 100 || status > 999)))
        return RR_ECORRUPT;
    x->status = (uint16_t)status;
    x->n_interim = (uint8_t)ni;
    for (unsigned i = 0; i < ni; i++) {
        uint64_t st = rr_rd_varint(&r);
        if (st < 100 || st > 199)
            return RR_ECORRUPT;
        x->interim[i] = (uint16_t)st;
    }
    x->reason = rr_rd_lenstr(&r);
    size_t nresp = get_count(&r);
    if (r.err)
        return RR_ECORRUPT;
    if (nresp) {
        size_t off = nreq * sizeof(struct rr_header);
        rr_buf_reserve(scratch, off + nresp * sizeof(struct rr_header));
        x->req_headers = nreq ? (struct rr_header *)(void *)scratch->p : NULL;
        x->resp_headers = (struct rr_header *)(void *)(scratch->p + off);
        x->n_resp_headers = nresp;
        get_headers(&r, x->resp_headers, nresp);
    }
    x->resp_wire_len = rr_rd_varint(&r);
    get_ref(&r, &x->resp_body);
    if (r.err || rr_rd_left(&r) != 0)
        return RR_ECORRUPT;
    return 0;
}

void rr_conn_encode(const struct rr_conn *c, struct rr_buf *out)
{
    size_t start = out->len;
    rr_buf_addc(out, RR_CREC_MAGIC);
    rr_buf_addc(out, RR_REC_VERSION);
    rr_buf_varint(out, c->flags);
    rr_buf_addc(out, c->proto);
    rr_buf_addc(out, c->ip_version);
    size_t alen = c->ip_version == 4 ? 4 : c->ip_version == 6 ? 16 : 0;
    rr_buf_add(out, c->client_ip, alen);
    rr_buf_add(out, c->server_ip, alen);
    rr_buf_be16(out, c->client_port);
    rr_buf_be16(out, c->server_port);
    rr_buf_varint(out, c->t_first_us);
    rr_buf_varint(out, c->t_last_us);
    seal(out, start);
}

int rr_conn_decode(const void *data, size_t len, struct rr_conn *c)
{
    struct rr_rd r;
    memset(c, 0, sizeof(*c));
    int rc = unseal(data, len, RR_CREC_MAGIC, &r);
    if (rc)
        return rc;
    uint64_t flags = rr_rd_varint(&r);
    c->proto = rr_rd_u8(&r);
    c->ip_version = rr_rd_u8(&r);
    if (r.err || (flags & ~(uint64_t)RR_CF_KNOWN) || c->proto > RR_PROTO_H2 ||
        (c->ip_version != 0 && c->ip_version != 4 && c->ip_version != 6))
        return RR_ECORRUPT;
    c->flags = (uint32_t)flags;
    size_t alen = c->ip_version == 4 ? 4 : c->ip_version == 6 ? 16 : 0;
    struct rr_view a = rr_rd_bytes(&r, alen);
    struct rr_view b = rr_rd_bytes(&r, alen);
    if (r.err)
        return RR_ECORRUPT;
    if (alen) {
        memcpy(c->client_ip, a.p, alen);
        memcpy(c->server_ip, b.p, alen);
    }
    c->client_port = rr_rd_be16(&r);
    c->server_port = rr_rd_be16(&r);
    c->t_first_us = rr_rd_varint(&r);
    c->t_last_us = rr_rd_varint(&r);
    if (r.err || rr_rd_left(&r) != 0)
        return RR_ECORRUPT;
    return 0;
}

struct rr_view rr_exchange_header(const struct rr_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (rr_view_caseeqs(h[i].name, name))
            return h[i].value;
    struct rr_view none = {NULL, 0};
    return none;
}

const char *rr_http_reason(unsigned status)
{
    static const struct {
        unsigned code;
        const char *text;
    } t[] = {{100, "Continue"},
             {101, "Switching Protocols"},
             {200, "OK"},
             {201, "Created"},
             {202, "Accepted"},
             {204, "No Content"},
             {206, "Partial Content"},
             {301, "Moved Permanently"},
             {302, "Found"},
             {303, "See Other"},
             {304, "Not Modified"},
             {307, "Temporary Redirect"},
             {308, "Permanent Redirect"},
             {400, "Bad Request"},
             {401, "Unauthorized"},
             {403, "Forbidden"},
             {404, "Not Found"},
             {405, "Method Not Allowed"},
             {408, "Request Timeout"},
             {409, "Conflict"},
             {410, "Gone"},
             {413, "Content Too Large"},
             {415, "Unsupported Media Type"},
             {422, "Unprocessable Content"},
             {429, "Too Many Requests"},
             {431, "Request Header Fields Too Large"},
             {500, "Internal Server Error"},
             {501, "Not Implemented"},
             {502, "Bad Gateway"},
             {503, "Service Unavailable"},
             {504, "Gateway Timeout"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (t[i].code == status)
            return t[i].text;
    return "";
}
