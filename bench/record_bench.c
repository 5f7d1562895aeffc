/* record_bench.c -- The recording pipeline alone (capture file -> exchanges), with a sink that
 * only counts, so bench/record.sh can tell the recorder's speed from the store's. */
#include <stdio.h>
#include <string.h>

#include "rr/recorder.h"
#include "rr/util.h"

static int on_x(void *ud, const struct rr_conn *c, struct rr_exchange *x, const uint8_t *rq,
                size_t rql, const uint8_t *rs, size_t rsl)
{
    uint64_t *n = ud;
    n[0]++;
    n[1] += rql + rsl;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t n[2] = {0, 0};
    struct rr_rec_sink sink = {NULL, on_x, n};
    struct rr_rec_src_opts so;
    struct rr_rec *r = NULL;
    char why[512] = "";
    if (argc != 2) {
        fprintf(stderr, "usage: record_bench FILE.pcap\n");
        return 2;
    }
    memset(&so, 0, sizeof(so));
    so.file = argv[1];
    uint64_t t0 = rr_now_mono_us();
    if (rr_rec_new(&r, NULL, &sink) || rr_rec_run(r, &so, why, sizeof(why)) || rr_rec_finish(r)) {
        fprintf(stderr, "record_bench: %s\n", why);
        return 1;
    }
    double s = (double)(rr_now_mono_us() - t0) / 1e6;
    const struct rr_rec_stats *st = rr_rec_stats(r);
    printf("pipeline: %llu exchanges, %llu body bytes, %.1f MB in %.2f s = %.1f MB/s\n",
           (unsigned long long)n[0], (unsigned long long)n[1], (double)st->bytes / 1e6, s,
           (double)st->bytes / 1e6 / s);
    rr_rec_free(&r);
    return 0;
}
