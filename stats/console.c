/* console.c -- Locust's console tables (stats.py get_stats_summary and friends), byte for
 * byte: the same printf layouts, the same truncation of floats by '%d', names never cut. */
#include "stats_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define TYPE_W 8

int rr_stats_name_width(int fd)
{
    struct winsize ws;
    if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
        return 80;
    int w = (int)ws.ws_col - 80;
    return w < 0 ? 0 : w > 80 ? 80 : w;
}

static void dashes(struct rr_buf *out, int n)
{
    for (int i = 0; i < n; i++)
        rr_buf_addc(out, '-');
}

/* Python's "%-Ns" with a negative N reads as left-justify |N|. */
static int absw(int w)
{
    return w < 0 ? -w : w;
}

static void table_row(const struct rr_stats *s, int entry, int nw, int current, struct rr_buf *out)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    char type[64], fails[64];
    snprintf(type, sizeof(type), "%s%s", e->method, e->method[0] ? " " : "");
    snprintf(fails, sizeof(fails), "%llu(%.2f%%)", (unsigned long long)e->nfail,
             rr_stats_fail_ratio(s, entry) * 100);
    double rps = current ? rr_stats_current_rps(s, entry) : rr_stats_total_rps(s, entry);
    double fps =
        current ? rr_stats_current_fail_per_sec(s, entry) : rr_stats_total_fail_per_sec(s, entry);
    rr_buf_printf(out, "%-8s %-*s %7llu %12s |%7lld %7lld %7lld%7lld | %7.2f %11.2f\n", type, nw,
                  e->name, (unsigned long long)e->nreq, fails, (long long)rr_stats_avg_ms(s, entry),
                  (long long)((double)e->min_us / 1000.0), (long long)((double)e->max_us / 1000.0),
                  (long long)rr_stats_median(s, entry), rps, fps);
}

void rr_stats_print_table(const struct rr_stats *s, int name_width, int current, struct rr_buf *out)
{
    int ncw = name_width - TYPE_W + 4, nw = absw(ncw);
    rr_buf_printf(out, "%-8s %-*s %7s %12s |%7s %7s %7s%7s | %7s %11s\n", "Type", nw, "Name",
                  "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s");
    struct rr_buf sep;
    rr_buf_init(&sep);
    dashes(&sep, TYPE_W);
    int w[] = {ncw, 7, 13, 7, 7, 7, 7, 8, 11};
    for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        rr_buf_addc(&sep, '|');
        dashes(&sep, w[i]);
    }
    rr_buf_addc(&sep, '\n');
    rr_buf_add(out, sep.p, sep.len);
    int n = rr_stats_count(s);
    int *idx = rr_xmalloc(((size_t)n + 1) * sizeof(*idx));
    n = rr_stats_sorted(s, idx, n);
    for (int i = 0; i < n; i++)
        table_row(s, idx[i], nw, current, out);
    rr_buf_add(out, sep.p, sep.len);
    table_row(s, RR_STATS_TOTAL, nw, current, out);
    rr_buf_addc(out, '\n');
    free(idx);
    rr_buf_fini(&sep);
}

static void pct_row(const struct rr_stats *s, int entry, int w, struct rr_buf *out)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    rr_buf_printf(out, "%-8s %-*s %8llu", e->method, w, e->name,
                  (unsigned long long)rr_stats_percentile(s, entry, rr_stats_pcts[0]));
    for (int i = 1; i < RR_STATS_NPCT; i++)
        rr_buf_printf(out, " %6llu",
                      (unsigned long long)rr_stats_percentile(s, entry, rr_stats_pcts[i]));
    rr_buf_printf(out, " %6llu\n", (unsigned long long)e->nreq);
}

static int has_times(const struct rr_stats_e *e)
{
    return e->nreq > e->nnone;
}

void rr_stats_print_percentiles(const struct rr_stats *s, int name_width, struct rr_buf *out)
{
    static const char *const labels[RR_STATS_NPCT] = {"50%", "66%", "75%",   "80%",    "90%", "95%",
                                                      "98%", "99%", "99.9%", "99.99%", "100%"};
    int w = absw(name_width);
    rr_buf_adds(out, "Response time percentiles (approximated)\n");
    rr_buf_printf(out, "%-8s %-*s %8s", "Type", w, "Name", labels[0]);
    for (int i = 1; i < RR_STATS_NPCT; i++)
        rr_buf_printf(out, " %6s", labels[i]);
    rr_buf_printf(out, " %6s\n", "# reqs");
    struct rr_buf sep;
    rr_buf_init(&sep);
    dashes(&sep, TYPE_W);
    rr_buf_addc(&sep, '|');
    dashes(&sep, name_width);
    rr_buf_addc(&sep, '|');
    dashes(&sep, 8);
    for (int i = 0; i < RR_STATS_NPCT; i++) {
        rr_buf_addc(&sep, '|');
        dashes(&sep, 6);
    }
    rr_buf_addc(&sep, '\n');
    rr_buf_add(out, sep.p, sep.len);
    int n = rr_stats_count(s);
    int *idx = rr_xmalloc(((size_t)n + 1) * sizeof(*idx));
    n = rr_stats_sorted(s, idx, n);
    for (int i = 0; i < n; i++)
        if (has_times(rr_stats_e_get(s, idx[i])))
            pct_row(s, idx[i], w, out);
    rr_buf_add(out, sep.p, sep.len);
    if (has_times(s->total))
        pct_row(s, RR_STATS_TOTAL, w, out);
    rr_buf_addc(out, '\n');
    free(idx);
    rr_buf_fini(&sep);
}

void rr_stats_print_errors(const struct rr_stats *s, int name_width, struct rr_buf *out)
{
    if (!s->nf)
        return;
    rr_buf_adds(out, "Error report\n");
    rr_buf_printf(out, "%-18s %-100s\n", "# occurrences", "Error");
    struct rr_buf sep;
    rr_buf_init(&sep);
    dashes(&sep, 18);
    rr_buf_addc(&sep, '|');
    dashes(&sep, 80 + name_width - 19);
    rr_buf_addc(&sep, '\n');
    rr_buf_add(out, sep.p, sep.len);
    struct rr_buf line;
    rr_buf_init(&line);
    for (int i = 0; i < s->nf; i++) {
        const struct rr_stats_f *f = &s->f[i];
        const struct rr_stats_e *e = s->e[f->entry];
        rr_buf_reset(&line);
        rr_buf_printf(&line, "%s %s: %s", e->method, e->name, f->error);
        rr_buf_printf(out, "%-18llu %-100s\n", (unsigned long long)f->occ, rr_buf_cstr(&line));
    }
    rr_buf_add(out, sep.p, sep.len);
    rr_buf_addc(out, '\n');
    rr_buf_fini(&line);
    rr_buf_fini(&sep);
}

void rr_stats_print_summary(const struct rr_stats *s, int name_width, struct rr_buf *out)
{
    rr_stats_print_table(s, name_width, 0, out);
    rr_stats_print_percentiles(s, name_width, out);
    rr_stats_print_errors(s, name_width, out);
}

void rr_stats_log(struct rr_buf *out, double now, const char *level, const char *logger,
                  const char *fmt, ...)
{
    time_t t = (time_t)now;
    struct tm tm;
    localtime_r(&t, &tm);
    int ms = (int)((now - (double)t) * 1000);
    if (ms < 0 || ms > 999)
        ms = 0;
    char host[256] = "localhost";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    rr_buf_printf(out, "[%04d-%02d-%02d %02d:%02d:%02d,%03d] %s/%s/%s: ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms, host, level,
                  logger);
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    char small[512];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(small)) {
        rr_buf_add(out, small, (size_t)n);
    } else if (n >= 0) {
        rr_buf_reserve(out, (size_t)n + 1);
        vsnprintf((char *)out->p + out->len, (size_t)n + 1, fmt, ap2);
        out->len += (size_t)n;
    }
    va_end(ap2);
    rr_buf_addc(out, '\n');
}
