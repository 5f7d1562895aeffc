/* Cost of rr_stats_record on a warm entry (run by hand; prints ns per record). */
#include <stdio.h>
#include <time.h>

#include "rr/stats.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    struct rr_stats *s;
    if (rr_stats_new(&s))
        return 1;
    int e[8];
    for (int i = 0; i < 8; i++) {
        char n[16];
        snprintf(n, sizeof(n), "/e%d", i);
        e[i] = rr_stats_entry(s, "GET", n);
    }
    const long n = 20000000;
    uint64_t x = 88172645463325252ull;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        rr_stats_record(s, e[i & 7], x % 2000000, 512, (i & 1023) ? NULL : "HTTPError('500')",
                        (uint32_t)(1700000000 + i / 1000000));
    }
    double t1 = now_s();
    printf("rr_stats_record: %.1f ns/op over %ld records (8 entries, 0.1%% failures)\n",
           (t1 - t0) * 1e9 / (double)n, n);
    /* The replayer's publish: merge a thread's shard into the shared one, then reset it. */
    struct rr_stats *dst;
    if (rr_stats_new(&dst))
        return 1;
    const int cycles = 20000;
    t0 = now_s();
    for (int c = 0; c < cycles; c++) {
        for (int i = 0; i < 200; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            rr_stats_record(s, e[i & 7], 1000 + x % 200000, 512, NULL,
                            (uint32_t)(1700000000 + c / 4));
        }
        rr_stats_merge(dst, s);
        rr_stats_reset(s);
    }
    t1 = now_s();
    printf("rr_stats_merge + rr_stats_reset of a shard (8 entries, 200 requests): %.1f us/op\n",
           (t1 - t0) * 1e6 / cycles);
    rr_stats_free(&dst);
    rr_stats_free(&s);
    return 0;
}
