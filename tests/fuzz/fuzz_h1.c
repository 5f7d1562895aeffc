/* fuzz_h1.c -- Fuzz target for the HTTP/1 dissector. Input: records of op (bit 0: direction,
 * bit 1: a gap of len bytes instead of data, bit 2: resynchronise from the start), a 16-bit
 * length, then the bytes. Bad input is never an error and never a crash. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_sink.h"
#include "h1_dissect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ud, struct rr_exchange *x, const uint8_t *rq, size_t rql, const uint8_t *rs,
                size_t rsl)
{
    *(size_t *)ud += fuzz_touch(x, rq, rql, rs, rsl);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t sum = 0;
    struct rr_dissect_sink s = {sink, &sum};
    struct rr_dissect_limits lim = {4096, 8192, 16};
    struct rr_h1d *d = NULL;
    uint64_t ts = 1;
    unsigned flags = size && (data[0] & 4) ? RR_H1D_RESYNC_C2S | RR_H1D_RESYNC_S2C : 0;
    if (rr_h1d_new(&d, &s, &lim, flags))
        abort();
    while (size >= 3) {
        uint8_t op = data[0];
        size_t n = (size_t)data[1] << 8 | data[2];
        data += 3;
        size -= 3;
        if (n > size)
            n = size;
        int rc = op & 2 ? rr_h1d_gap(d, (enum rr_dir)(op & 1), n, ts++)
                        : rr_h1d_feed(d, (enum rr_dir)(op & 1), data, n, ts++);
        if (rc)
            abort();
        if (!(op & 2)) {
            data += n;
            size -= n;
        }
    }
    if (rr_h1d_finish(d, ts))
        abort();
    rr_h1d_free(&d);
    return 0;
}
