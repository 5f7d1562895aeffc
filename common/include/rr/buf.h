/* buf.h -- A growable byte buffer that owns its bytes.
 *
 * Growth doubles; rr_buf_reserve aborts only on real OOM (rr_xrealloc). Callers that grow a
 * buffer from untrusted input check their own cap first and return RR_ELIMIT. */
#ifndef RR_BUF_H
#define RR_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "rr/err.h"

struct rr_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

/* A borrowed byte range; it never owns. Each API that returns one says until when it is valid. */
struct rr_view {
    const uint8_t *p;
    size_t len;
};

void rr_buf_init(struct rr_buf *b);
void rr_buf_fini(struct rr_buf *b); /* frees and re-initialises */
void rr_buf_reserve(struct rr_buf *b, size_t extra);
void rr_buf_add(struct rr_buf *b, const void *p, size_t n);
void rr_buf_addc(struct rr_buf *b, uint8_t c);
void rr_buf_adds(struct rr_buf *b, const char *s);
void rr_buf_printf(struct rr_buf *b, const char *fmt, ...) RR_PRINTF(2, 3);
void rr_buf_be16(struct rr_buf *b, uint16_t v);
void rr_buf_be32(struct rr_buf *b, uint32_t v);
void rr_buf_be64(struct rr_buf *b, uint64_t v);
/* Unsigned LEB128 varint. */
void rr_buf_varint(struct rr_buf *b, uint64_t v);
/* A varint length followed by the bytes. */
void rr_buf_lenstr(struct rr_buf *b, const void *p, size_t n);
/* Drops the first n bytes (memmove). */
void rr_buf_consume(struct rr_buf *b, size_t n);
void rr_buf_reset(struct rr_buf *b);
/* Returns a NUL-terminated string view of the contents (adds a NUL beyond len). */
const char *rr_buf_cstr(struct rr_buf *b);
/* Takes ownership of the bytes; the buffer is re-initialised. */
uint8_t *rr_buf_take(struct rr_buf *b, size_t *len);

static inline struct rr_view rr_view_of(const void *p, size_t len)
{
    struct rr_view v = {(const uint8_t *)p, len};
    return v;
}
int rr_view_eq(struct rr_view a, struct rr_view b);
int rr_view_eqs(struct rr_view a, const char *s);        /* exact */
int rr_view_caseeqs(struct rr_view a, const char *s);    /* ASCII case-insensitive */

#endif
