/* html.c -- The --html report: one self-contained page (no scripts, no network) with Locust's
 * sections (run info, request statistics, response time statistics, failures) and its three
 * charts drawn as inline SVG from the per-second history. */
#include "report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void esc(struct rr_buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            rr_buf_adds(out, "&lt;");
            break;
        case '>':
            rr_buf_adds(out, "&gt;");
            break;
        case '&':
            rr_buf_adds(out, "&amp;");
            break;
        case '"':
            rr_buf_adds(out, "&quot;");
            break;
        case '\'':
            rr_buf_adds(out, "&#39;");
            break;
        default:
            rr_buf_addc(out, (uint8_t)*s);
        }
    }
}

/* UTC time: the date too when date is set. */
static void utc(struct rr_buf *out, double t, int date)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    if (date)
        rr_buf_printf(out, "%04d-%02d-%02d ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    rr_buf_printf(out, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

typedef double (*getter)(const struct rr_report_sample *sm);
static double g_rps(const struct rr_report_sample *sm)
{
    return sm->rps;
}
static double g_fps(const struct rr_report_sample *sm)
{
    return sm->fps;
}
static double g_p50(const struct rr_report_sample *sm)
{
    return (double)sm->p50;
}
static double g_p95(const struct rr_report_sample *sm)
{
    return (double)sm->p95;
}
static double g_users(const struct rr_report_sample *sm)
{
    return sm->users;
}

/* A line chart: axes, 5 grid lines with labels, time labels, one polyline per series. */
static void chart(struct rr_buf *out, const struct rr_report *r, const char *title, const char *id,
                  int nser, const char *const *labels, const char *const *colors, const getter *get)
{
    const double W = 1100, H = 300, L = 60, R = 20, T = 40, B = 40;
    double maxv = 0;
    for (size_t i = 0; i < r->nsamples; i++)
        for (int k = 0; k < nser; k++)
            if (get[k](&r->samples[i]) > maxv)
                maxv = get[k](&r->samples[i]);
    /* A round top: 1, 2 or 5 times a power of ten. */
    double top = 1;
    if (maxv > 0) {
        double p = pow(10, floor(log10(maxv)));
        top = maxv <= p ? p : maxv <= 2 * p ? 2 * p : maxv <= 5 * p ? 5 * p : 10 * p;
    }
    double t0 = r->nsamples ? r->samples[0].t : 0;
    double t1 = r->nsamples ? r->samples[r->nsamples - 1].t : 1;
    if (t1 <= t0)
        t1 = t0 + 1;
    rr_buf_printf(out,
                  "<div class=\"chart\"><svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" "
                  "viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\">\n",
                  id, W, H, W, H);
    rr_buf_printf(out, "<text x=\"%.0f\" y=\"22\" class=\"ct\">%s</text>\n", L, title);
    for (int g = 0; g <= 5; g++) {
        double y = T + (H - T - B) * (1 - g / 5.0);
        rr_buf_printf(out,
                      "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" class=\"grid\"/>"
                      "<text x=\"%.0f\" y=\"%.1f\" class=\"yl\">%g</text>\n",
                      L, y, W - R, y, L - 6, y + 4, top * g / 5.0);
    }
    for (int g = 0; g <= 4 && r->nsamples; g++) {
        double x = L + (W - L - R) * g / 4.0;
        /* The end labels sit inside the plot so none is clipped. */
        rr_buf_printf(out, "<text x=\"%.1f\" y=\"%.0f\" class=\"xl\" text-anchor=\"%s\">", x,
                      H - B + 18,
                      g == 0   ? "start"
                      : g == 4 ? "end"
                               : "middle");
        utc(out, t0 + (t1 - t0) * g / 4.0, 0);
        rr_buf_adds(out, "</text>\n");
    }
    for (int k = 0; k < nser; k++) {
        rr_buf_printf(out,
                      "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" "
                      "stroke-width=\"2\" points=\"",
                      colors[k]);
        for (size_t i = 0; i < r->nsamples; i++) {
            double x = L + (W - L - R) * (r->samples[i].t - t0) / (t1 - t0);
            double y = T + (H - T - B) * (1 - get[k](&r->samples[i]) / top);
            rr_buf_printf(out, "%.1f,%.1f ", x, y);
        }
        rr_buf_adds(out, "\"/>\n");
        rr_buf_printf(out,
                      "<rect x=\"%.0f\" y=\"12\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                      "<text x=\"%.0f\" y=\"22\" class=\"lg\">%s</text>\n",
                      W - R - 400 + k * 200.0, colors[k], W - R - 400 + k * 200.0 + 16, labels[k]);
    }
    rr_buf_adds(out, "</svg></div>\n");
}

static int sorted_all(const struct rr_stats *s, int **idx)
{
    int n = rr_stats_count(s);
    *idx = rr_xmalloc(((size_t)n + 1) * sizeof(**idx));
    n = rr_stats_sorted(s, *idx, n);
    (*idx)[n] = RR_STATS_TOTAL;
    return n + 1;
}

/* A table row's first two cells (the total row marked for its style); returns the entry. */
static const struct rr_stats_e *row_head(struct rr_buf *out, const struct rr_stats *s, int idx)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, idx);
    rr_buf_adds(out, idx == RR_STATS_TOTAL ? "<tr class=\"total\"><td>" : "<tr><td>");
    esc(out, e->method);
    rr_buf_adds(out, "</td><td>");
    esc(out, e->name);
    return e;
}


void rr_report_html(const struct rr_report *r, const struct rr_stats *s, struct rr_buf *out)
{
    rr_buf_adds(
        out, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Test Report for ");
    const char *base = strrchr(r->script, '/');
    esc(out, base ? base + 1 : r->script);
    rr_buf_adds(
        out,
        "</title>\n<style>\n"
        "body{font-family:Helvetica,Arial,sans-serif;background:#fff;color:#222;margin:20px 40px}\n"
        "h1{font-size:26px}h2{font-size:20px;margin-top:30px;border-bottom:1px solid #ccc}\n"
        "table{border-collapse:collapse;font-size:13px}"
        "th,td{border:1px solid #bbb;padding:4px 8px;text-align:left}"
        "th{background:#f0f0f0}tr.total td{font-weight:bold;background:#fafafa}\n"
        "td.num{text-align:right}.info p{margin:4px 0}\n"
        ".grid{stroke:#ddd;stroke-width:1}.yl{font-size:11px;text-anchor:end;fill:#555}"
        ".xl{font-size:11px;fill:#555}.ct{font-size:15px;font-weight:bold}"
        ".lg{font-size:12px}.chart{margin:10px 0}\n"
        "</style>\n</head>\n<body>\n<h1>Locust Test Report</h1>\n<div class=\"info\">\n<p>During: "
        "<span class=\"l10n datetime\">");
    utc(out, s->start_time, 1);
    rr_buf_adds(out, "</span> - <span class=\"l10n datetime\">");
    utc(out, s->total->last_ts > 0 ? s->total->last_ts : s->start_time, 1);
    rr_buf_adds(out, "</span> (UTC)</p>\n<p>Target Host: ");
    esc(out, r->host);
    rr_buf_adds(out, "</p>\n<p>Script: ");
    esc(out, r->script);
    rr_buf_adds(out, "</p>\n<p>Command: <code>");
    esc(out, r->command_line);
    rr_buf_adds(out, "</code></p>\n</div>\n");

    int *idx;
    int n = sorted_all(s, &idx);
    rr_buf_adds(out,
                "<h2>Request Statistics</h2>\n<table id=\"requests\">\n<thead><tr><th>Method</th>"
                "<th>Name</th><th># Requests</th><th># Fails</th><th>Average (ms)</th>"
                "<th>Min (ms)</th><th>Max (ms)</th><th>Average size (bytes)</th><th>RPS</th>"
                "<th>Failures/s</th></tr></thead>\n<tbody>\n");
    for (int i = 0; i < n; i++) {
        const struct rr_stats_e *e = row_head(out, s, idx[i]);
        rr_buf_printf(
            out,
            "</td><td class=\"num\">%llu</td><td class=\"num\">%llu</td>"
            "<td class=\"num\">%lld</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td>"
            "<td class=\"num\">%lld</td><td class=\"num\">%.1f</td><td "
            "class=\"num\">%.1f</td></tr>\n",
            (unsigned long long)e->nreq, (unsigned long long)e->nfail,
            (long long)rr_stats_avg_ms(s, idx[i]), (long long)((double)e->min_us / 1000),
            (long long)((double)e->max_us / 1000),
            (long long)(e->nreq ? (double)e->clen / (double)e->nreq : 0),
            rr_stats_total_rps(s, idx[i]), rr_stats_total_fail_per_sec(s, idx[i]));
    }
    rr_buf_adds(out, "</tbody>\n</table>\n");

    static const double pc[] = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0};
    rr_buf_adds(out, "<h2>Response Time Statistics</h2>\n<table id=\"percentiles\">\n<thead><tr>"
                     "<th>Method</th><th>Name</th><th>50%ile (ms)</th><th>60%ile (ms)</th>"
                     "<th>70%ile (ms)</th><th>80%ile (ms)</th><th>90%ile (ms)</th>"
                     "<th>95%ile (ms)</th><th>99%ile (ms)</th><th>100%ile (ms)</th>"
                     "<th>exact 50% (ms)</th><th>exact 95% (ms)</th><th>exact 99% (ms)</th>"
                     "</tr></thead>\n<tbody>\n");
    for (int i = 0; i < n; i++) {
        (void)row_head(out, s, idx[i]);
        rr_buf_adds(out, "</td>");
        for (size_t k = 0; k < sizeof(pc) / sizeof(pc[0]); k++)
            rr_buf_printf(out, "<td class=\"num\">%llu</td>",
                          (unsigned long long)rr_stats_percentile(s, idx[i], pc[k]));
        static const double ex[] = {0.5, 0.95, 0.99};
        for (size_t k = 0; k < 3; k++)
            rr_buf_printf(out, "<td class=\"num\">%.3f</td>",
                          (double)rr_stats_hdr_percentile(s, idx[i], ex[k]) / 1000.0);
        rr_buf_adds(out, "</tr>\n");
    }
    rr_buf_adds(out, "</tbody>\n</table>\n");
    free(idx);

    if (rr_stats_failure_count(s)) {
        rr_buf_adds(out, "<h2>Failures Statistics</h2>\n<table id=\"failures\">\n<thead><tr>"
                         "<th>Method</th><th>Name</th><th>Error</th><th>Occurrences</th></tr>"
                         "</thead>\n<tbody>\n");
        struct rr_buf csv;
        rr_buf_init(&csv);
        for (int i = 0; i < rr_stats_failure_count(s); i++) {
            struct rr_stats_failure_info fi;
            rr_stats_failure(s, i, &fi);
            rr_buf_adds(out, "<tr><td>");
            esc(out, fi.method);
            rr_buf_adds(out, "</td><td>");
            esc(out, fi.name);
            rr_buf_adds(out, "</td><td>");
            esc(out, fi.error);
            rr_buf_printf(out, "</td><td class=\"num\">%llu</td></tr>\n",
                          (unsigned long long)fi.occurrences);
        }
        rr_buf_fini(&csv);
        rr_buf_adds(out, "</tbody>\n</table>\n");
    }

    if (r->nsamples) {
        rr_buf_adds(out, "<h2>Charts</h2>\n");
        static const char *const l1[] = {"RPS", "Failures/s"}, *const c1[] = {"#00ca5a", "#ff6d6d"};
        static const getter g1[] = {g_rps, g_fps};
        chart(out, r, "Total Requests per Second", "chart-rps", 2, l1, c1, g1);
        static const char *const l2[] = {"Median Response Time", "95% percentile"}, *const c2[] = {
                                                                                        "#9966cc",
                                                                                        "#ff9f00"};
        static const getter g2[] = {g_p50, g_p95};
        chart(out, r, "Response Times (ms)", "chart-rt", 2, l2, c2, g2);
        static const char *const l3[] = {"Users"}, *const c3[] = {"#0b76ba"};
        static const getter g3[] = {g_users};
        chart(out, r, "Number of Users", "chart-users", 1, l3, c3, g3);
    }
    rr_buf_adds(out, "</body>\n</html>\n");
}
