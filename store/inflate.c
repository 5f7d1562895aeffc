/* inflate.c -- Content-Encoding decoding of recorded bodies (rr_exchange_inflate). It lives in
 * the store because the store is where zlib already is, and common stays free of it. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <zlib.h>

#include "rr/exchange.h"

#define STEP 65536 /* output bytes per inflate() call */

static int inflate_with(const uint8_t *p, size_t n, int wbits, size_t cap, unsigned flags,
                        struct rr_buf *out)
{
    z_stream z;
    int rc;

    if (n > UINT32_MAX)
        return RR_ELIMIT;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, wbits) != Z_OK)
        return RR_ELIB;
    rr_buf_reset(out);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    for (;;) {
        /* room for one byte past the cap, to tell "exactly cap" from "more" */
        if (out->len > cap) {
            rc = RR_ELIMIT;
            break;
        }
        size_t room = cap - out->len + 1 < STEP ? cap - out->len + 1 : STEP;
        rr_buf_reserve(out, room);
        z.next_out = out->p + out->len;
        z.avail_out = (uInt)room;
        int zr = inflate(&z, Z_NO_FLUSH);
        out->len += room - z.avail_out;
        if (zr == Z_STREAM_END) {
            rc = out->len > cap ? RR_ELIMIT : 0;
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = RR_EPARSE;
            break;
        }
        if (z.avail_in == 0 && z.avail_out != 0) {
            /* all input used and no final block */
            if (out->len > cap)
                rc = RR_ELIMIT;
            else
                rc = (flags & RR_INFLATE_PARTIAL) && out->len > 0 ? 0 : RR_ETRUNC;
            break;
        }
    }
    inflateEnd(&z);
    return rc;
}

int rr_exchange_inflate(const uint8_t *p, size_t n, enum rr_coding coding, size_t cap,
                        unsigned flags, struct rr_buf *out)
{
    if (coding == RR_CODING_GZIP)
        return inflate_with(p, n, 15 + 32, cap, flags, out); /* gzip or zlib header */
    if (coding != RR_CODING_DEFLATE)
        return -EINVAL;
    /* "deflate" means zlib-wrapped, but raw deflate is common enough to try next */
    int rc = inflate_with(p, n, 15, cap, flags, out);
    if (rc == RR_EPARSE || rc == RR_ETRUNC)
        rc = inflate_with(p, n, -15, cap, flags, out);
    return rc;
}
