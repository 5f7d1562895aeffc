/* fuzz_h2.c -- Fuzz target for the HTTP/2 dissector.
 *
 * Input: records of [op:1][len:2 big-endian][len bytes]. op bit 0 is the direction (0 client,
 * 1 server); op 0x02 makes the record a gap of len bytes instead of data; op 0x04 as the very
 * first byte starts the dissector as an h2c upgrade. With -Dfuzzing=none the program runs
 * each file or folder named on its command line once, so the seed corpus is a test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dissect.h"
#include "fuzz_sink.h"

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
    struct rr_h2d *d = NULL;
    uint64_t ts = 1;
    int rc;

    if (size > 0 && (data[0] & 0x04)) {
        struct rr_exchange up;
        memset(&up, 0, sizeof(up));
        up.method = rr_view_of("GET", 3);
        up.target = rr_view_of("/", 1);
        rc = rr_h2d_new_upgraded(&d, &s, &lim, &up, (const uint8_t *)"x", 1);
    } else {
        rc = rr_h2d_new(&d, &s, &lim);
    }
    if (rc)
        abort();
    while (size >= 3) {
        uint8_t op = data[0];
        size_t n = (size_t)data[1] << 8 | data[2];
        data += 3;
        size -= 3;
        if (n > size)
            n = size;
        if (op & 0x02)
            rc = rr_h2d_gap(d, (enum rr_dir)(op & 1), n, ts++);
        else
            rc = rr_h2d_feed(d, (enum rr_dir)(op & 1), data, n, ts++);
        if (rc)
            abort(); /* this sink never aborts, and bad input is never an error */
        if (!(op & 0x02)) {
            data += n;
            size -= n;
        }
    }
    if (rr_h2d_finish(d, ts))
        abort();
    rr_h2d_free(&d);
    return 0;
}
