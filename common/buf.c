/* buf.c -- A growable byte buffer. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rr/buf.h"

void rr_buf_init(struct rr_buf *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void rr_buf_fini(struct rr_buf *b)
{
    free(b->p);
    rr_buf_init(b);
}

void rr_buf_reserve(struct rr_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1; /* room for rr_buf_cstr's NUL */
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->p = rr_xrealloc(b->p, cap);
    b->cap = cap;
}

void rr_buf_add(struct rr_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    rr_buf_reserve(b, n);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void rr_buf_addc(struct rr_buf *b, uint8_t c)
{
    rr_buf_reserve(b, 1);
    b->p[b->len++] = c;
}

void rr_buf_adds(struct rr_buf *b, const char *s)
{
    rr_buf_add(b, s, strlen(s));
}

void rr_buf_printf(struct rr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    rr_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void rr_buf_be16(struct rr_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    rr_buf_add(b, x, 2);
}

void rr_buf_be32(struct rr_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    rr_buf_add(b, x, 4);
}

void rr_buf_be64(struct rr_buf *b, uint64_t v)
{
    rr_buf_be32(b, (uint32_t)(v >> 32));
    rr_buf_be32(b, (uint32_t)v);
}

void rr_buf_varint(struct rr_buf *b, uint64_t v)
{
    uint8_t x[10];
    size_t n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        x[n++] = c | (v ? 0x80 : 0);
    } while (v);
    rr_buf_add(b, x, n);
}

void rr_buf_lenstr(struct rr_buf *b, const void *p, size_t n)
{
    rr_buf_varint(b, n);
    rr_buf_add(b, p, n);
}

void rr_buf_consume(struct rr_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

void rr_buf_reset(struct rr_buf *b)
{
    b->len = 0;
}

const char *rr_buf_cstr(struct rr_buf *b)
{
    rr_buf_reserve(b, 0);
    b->p[b->len] = '\0';
    return (const char *)b->p;
}

uint8_t *rr_buf_take(struct rr_buf *b, size_t *len)
{
    uint8_t *p = b->p;
    if (len)
        *len = b->len;
    rr_buf_init(b);
    return p;
}

int rr_view_eq(struct rr_view a, struct rr_view b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

int rr_view_eqs(struct rr_view a, const char *s)
{
    return rr_view_eq(a, rr_view_of(s, strlen(s)));
}

int rr_view_caseeqs(struct rr_view a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && (n == 0 || strncasecmp((const char *)a.p, s, n) == 0);
}
