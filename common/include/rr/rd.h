/* rd.h -- A bounds-checked reader over untrusted bytes, with a sticky error.
 *
 * Every read past the end sets err = RR_EPARSE; later reads return 0 and empty views, so a
 * decoder reads a whole record and checks err once. Views point into the reader's input. */
#ifndef RR_RD_H
#define RR_RD_H

#include <stddef.h>
#include <stdint.h>

#include "rr/buf.h"

struct rr_rd {
    const uint8_t *p;
    const uint8_t *end;
    int err;
};

static inline void rr_rd_init(struct rr_rd *r, const void *p, size_t len)
{
    r->p = (const uint8_t *)p;
    r->end = r->p + len;
    r->err = 0;
}

static inline size_t rr_rd_left(const struct rr_rd *r)
{
    return r->err ? 0 : (size_t)(r->end - r->p);
}

static inline int rr_rd_need(struct rr_rd *r, size_t n)
{
    if (r->err || (size_t)(r->end - r->p) < n) {
        r->err = RR_EPARSE;
        return 0;
    }
    return 1;
}

static inline uint8_t rr_rd_u8(struct rr_rd *r)
{
    if (!rr_rd_need(r, 1))
        return 0;
    return *r->p++;
}

static inline uint16_t rr_rd_be16(struct rr_rd *r)
{
    if (!rr_rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return v;
}

static inline uint32_t rr_rd_be32(struct rr_rd *r)
{
    if (!rr_rd_need(r, 4))
        return 0;
    uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 |
                 (uint32_t)r->p[3];
    r->p += 4;
    return v;
}

static inline uint64_t rr_rd_be64(struct rr_rd *r)
{
    uint64_t hi = rr_rd_be32(r);
    return hi << 32 | rr_rd_be32(r);
}

static inline uint16_t rr_rd_le16(struct rr_rd *r)
{
    if (!rr_rd_need(r, 2))
        return 0;
    uint16_t v = (uint16_t)(r->p[1] << 8 | r->p[0]);
    r->p += 2;
    return v;
}

static inline uint32_t rr_rd_le32(struct rr_rd *r)
{
    if (!rr_rd_need(r, 4))
        return 0;
    uint32_t v = (uint32_t)r->p[3] << 24 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[1] << 8 |
                 (uint32_t)r->p[0];
    r->p += 4;
    return v;
}

static inline uint64_t rr_rd_varint(struct rr_rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t c = rr_rd_u8(r);
        if (r->err)
            return 0;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    r->err = RR_EPARSE;
    return 0;
}

static inline struct rr_view rr_rd_bytes(struct rr_rd *r, size_t n)
{
    struct rr_view v = {NULL, 0};
    if (!rr_rd_need(r, n))
        return v;
    v.p = r->p;
    v.len = n;
    r->p += n;
    return v;
}

/* A varint length followed by that many bytes. */
static inline struct rr_view rr_rd_lenstr(struct rr_rd *r)
{
    uint64_t n = rr_rd_varint(r);
    if (n > rr_rd_left(r)) {
        r->err = RR_EPARSE;
        struct rr_view v = {NULL, 0};
        return v;
    }
    return rr_rd_bytes(r, (size_t)n);
}

static inline void rr_rd_skip(struct rr_rd *r, size_t n)
{
    if (rr_rd_need(r, n))
        r->p += n;
}

#endif
