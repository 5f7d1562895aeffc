/* csv.c -- Locust's --csv files: the same headers, row order, Python number forms (str of a
 * float, int for the fields Locust keeps as int) and CRLF line ends as its csv.writer. */
#include "stats_int.h"

#include <stdlib.h>
#include <string.h>

const char rr_stats_csv_history_header[] =
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size\r\n";
const char rr_stats_csv_exceptions_header[] = "Count,Message,Traceback,Nodes\r\n";
static const char stats_header[] =
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,"
    "80%,90%,95%,98%,99%,99.9%,99.99%,100%\r\n";

/* csv.QUOTE_MINIMAL: quote when the field holds the delimiter, a quote or a line end. */
void rr_csv_field(struct rr_buf *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        rr_buf_adds(out, s);
        return;
    }
    rr_buf_addc(out, '"');
    for (; *s; s++) {
        if (*s == '"')
            rr_buf_addc(out, '"');
        rr_buf_addc(out, (uint8_t)*s);
    }
    rr_buf_addc(out, '"');
}

/* A time Locust holds as a float ms, or the int 0 ("min or 0", max starting at 0). */
static void ms_or_zero(struct rr_buf *out, uint64_t us)
{
    if (!us)
        rr_buf_addc(out, '0');
    else
        rr_stats_pyfloat((double)us / 1000.0, out);
}

/* median_response_time: an int bucket, or the exact (float) min/max it was clamped to. */
static void median_field(const struct rr_stats *s, int entry, struct rr_buf *out)
{
    int clamped;
    double m = rr_median_ex(rr_stats_e_get(s, entry), &clamped);
    if (clamped)
        rr_stats_pyfloat(m, out);
    else
        rr_buf_printf(out, "%lld", (long long)m);
}

/* The columns from Request Count to Average Content Size (both files share them). */
void rr_csv_totals(const struct rr_stats *s, int entry, struct rr_buf *out)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    rr_buf_printf(out, "%llu,%llu,", (unsigned long long)e->nreq, (unsigned long long)e->nfail);
    median_field(s, entry, out);
    rr_buf_addc(out, ',');
    rr_stats_pyfloat(rr_stats_avg_ms(s, entry), out);
    rr_buf_addc(out, ',');
    ms_or_zero(out, e->min_us);
    rr_buf_addc(out, ',');
    ms_or_zero(out, e->max_us);
    rr_buf_addc(out, ',');
    if (e->nreq)
        rr_stats_pyfloat((double)e->clen / (double)e->nreq, out);
    else
        rr_buf_addc(out, '0');
}

void rr_csv_percentiles(const struct rr_stats *s, int entry, const uint32_t *base_lb,
                        uint64_t base_n, int windowed, struct rr_buf *out)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    for (int i = 0; i < RR_STATS_NPCT; i++) {
        rr_buf_addc(out, ',');
        if (!e->nreq)
            rr_buf_adds(out, "N/A");
        else if (base_lb)
            rr_buf_printf(out, "%llu",
                          (unsigned long long)rr_lb_percentile(base_lb, base_n, rr_stats_pcts[i]));
        else if (windowed)
            rr_buf_addc(out, '0'); /* no snapshot yet: Locust's None -> 0 */
        else
            rr_buf_printf(out, "%llu",
                          (unsigned long long)rr_stats_percentile(s, entry, rr_stats_pcts[i]));
    }
}

static void stats_row(const struct rr_stats *s, int entry, struct rr_buf *out)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    rr_csv_field(out, e->method);
    rr_buf_addc(out, ',');
    rr_csv_field(out, e->name);
    rr_buf_addc(out, ',');
    rr_csv_totals(s, entry, out);
    rr_buf_addc(out, ',');
    rr_stats_pyfloat(rr_stats_total_rps(s, entry), out);
    rr_buf_addc(out, ',');
    rr_stats_pyfloat(rr_stats_total_fail_per_sec(s, entry), out);
    rr_csv_percentiles(s, entry, NULL, 0, 0, out);
    rr_buf_adds(out, "\r\n");
}

void rr_stats_csv_stats(const struct rr_stats *s, struct rr_buf *out)
{
    rr_buf_adds(out, stats_header);
    int n = rr_stats_count(s);
    int *idx = rr_xmalloc(((size_t)n + 1) * sizeof(*idx));
    n = rr_stats_sorted(s, idx, n);
    for (int i = 0; i < n; i++)
        stats_row(s, idx[i], out);
    stats_row(s, RR_STATS_TOTAL, out);
    free(idx);
}

struct fkey {
    char key[65];
    int i;
};

static int cmp_fkey(const void *a, const void *b)
{
    return strcmp(((const struct fkey *)a)->key, ((const struct fkey *)b)->key);
}

void rr_stats_csv_failures(const struct rr_stats *s, struct rr_buf *out)
{
    rr_buf_adds(out, "Method,Name,Error,Occurrences\r\n");
    int n = rr_stats_failure_count(s);
    struct fkey *k = rr_xmalloc(((size_t)n + 1) * sizeof(*k));
    struct rr_stats_failure_info fi;
    for (int i = 0; i < n; i++) {
        rr_stats_failure(s, i, &fi);
        memcpy(k[i].key, fi.key, sizeof(fi.key));
        k[i].i = i;
    }
    /* Locust sorts errors by their sha256 key. */
    qsort(k, (size_t)n, sizeof(*k), cmp_fkey);
    for (int i = 0; i < n; i++) {
        rr_stats_failure(s, k[i].i, &fi);
        rr_csv_field(out, fi.method);
        rr_buf_addc(out, ',');
        rr_csv_field(out, fi.name);
        rr_buf_addc(out, ',');
        rr_csv_field(out, fi.error);
        rr_buf_printf(out, ",%llu\r\n", (unsigned long long)fi.occurrences);
    }
    free(k);
}
