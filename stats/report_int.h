/* report_int.h -- struct rr_report, shared by the report writers. */
#ifndef RR_REPORT_INT_H
#define RR_REPORT_INT_H

#include "stats_int.h"

struct rr_report_sample {
    double t, rps, fps;
    int users;
    uint64_t p50, p95, nreq, nfail;
};

struct rr_rep_key;

struct rr_report {
    char *csv_prefix, *html_path, *host, *script, *command_line;
    int full_history;
    FILE *history;
    uint32_t last_hist_t;
    struct rr_rep_key **keys;
    size_t nkeys, capkeys;
    struct rr_report_sample *samples;
    size_t nsamples, capsamples;
    uint32_t diff[RR_LB_N];
};

uint64_t rr_report_current_pct(struct rr_report *r, const struct rr_stats *s, int entry, uint32_t t,
                               double p);

#endif
