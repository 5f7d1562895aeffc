/* stats_int.h -- Layout shared by the stats sources (not part of the API). */
#ifndef RR_STATS_INT_H
#define RR_STATS_INT_H

#include "rr/stats.h"

#define RR_LB_N     3871 /* Locust buckets: 0..99, 100..990/10, 1000..9900/100, 10000..3600000/1000 */
#define RR_HDR_N    23552 /* (22 + 1) * 1024 HDR counts: 1 us .. 2^32 us */
#define RR_SEC_RING 64

struct rr_stats_e {
    char *method, *name;
    uint64_t hash;
    uint64_t nreq, nnone, nfail, total_us, min_us, max_us, clen;
    double last_ts;
    uint32_t sec[RR_SEC_RING], sreq[RR_SEC_RING], sfail[RR_SEC_RING];
    uint32_t lb[RR_LB_N];
    uint32_t *hdr;
    /* Index ranges holding counts: merge and reset touch only those. */
    unsigned lb_lo, lb_hi, hdr_lo, hdr_hi;
};

struct rr_stats_f {
    int entry;
    char *error;
    uint64_t hash, occ;
};

struct rr_stats {
    struct rr_stats_e **e;
    int n, cap;
    struct rr_stats_e *total;
    int *etab;
    size_t etab_cap;
    struct rr_stats_f *f;
    int nf, fcap;
    int *ftab;
    size_t ftab_cap;
    double start_time;
    struct rr_buf scratch;
};

const struct rr_stats_e *rr_stats_e_get(const struct rr_stats *s, int entry);
uint64_t rr_lb_value(unsigned i);
uint64_t rr_lb_percentile(const uint32_t *lb, uint64_t n, double p);
double rr_median_ex(const struct rr_stats_e *e, int *clamped);
void rr_csv_field(struct rr_buf *out, const char *s);
void rr_csv_totals(const struct rr_stats *s, int entry, struct rr_buf *out);
void rr_csv_percentiles(const struct rr_stats *s, int entry, const uint32_t *base_lb,
                        uint64_t base_n, int windowed, struct rr_buf *out);

#endif
