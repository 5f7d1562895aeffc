/* compare.c -- Two run records side by side: per endpoint the change in req/s, failure ratio,
 * median and 95th percentile (exact, from the HDR histograms), and whether any of them moved
 * the wrong way by more than the allowed regression. */
#include "stats_int.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

struct cmp_vals {
    double rps, fail_ratio, med, p95;
    int ok;
};

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static json_t *find_entry(json_t *stats, const char *method, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(stats, i, e)
    {
        const char *m = json_string_value(json_object_get(e, "method"));
        const char *n = json_string_value(json_object_get(e, "name"));
        if (m && n && !strcmp(m, method) && !strcmp(n, name))
            return e;
    }
    return NULL;
}

static struct cmp_vals vals(json_t *e)
{
    struct cmp_vals v = {0};
    if (!e)
        return v;
    json_t *ex = json_object_get(e, "percentiles_exact");
    v.rps = num(e, "total_rps");
    v.fail_ratio = num(e, "fail_ratio");
    v.med = num(ex, "0.5");
    v.p95 = num(ex, "0.95");
    v.ok = 1;
    return v;
}

static double pct_change(double a, double b)
{
    if (a == 0)
        return b == 0 ? 0 : INFINITY;
    return (b - a) / a * 100;
}

static void change(struct rr_buf *out, double a, double b)
{
    double c = pct_change(a, b);
    if (isinf(c))
        rr_buf_printf(out, " %8s", "new");
    else
        rr_buf_printf(out, " %+7.1f%%", c);
}

int rr_stats_compare(const char *run_a, const char *run_b, double max_regression,
                     struct rr_buf *out, struct rr_buf *msgs, int *regressions)
{
    json_error_t err;
    json_t *a = json_loads(run_a, 0, &err), *b = json_loads(run_b, 0, &err);
    int rc = 0;
    *regressions = 0;
    json_t *sa = a ? json_object_get(a, "stats") : NULL,
           *sb = b ? json_object_get(b, "stats") : NULL;
    if (!json_is_array(sa) || !json_is_array(sb)) {
        rc = RR_ECORRUPT;
        goto out;
    }
    rr_buf_printf(out, "%-8s %-40s %10s %10s %9s %8s %8s %10s %10s %9s %10s %10s %9s\n", "Type",
                  "Name", "req/s A", "req/s B", "change", "fail% A", "fail% B", "median A",
                  "median B", "change", "p95 A", "p95 B", "change");
    /* Rows of A in order, then the endpoints only B has. */
    for (int pass = 0; pass < 2; pass++) {
        json_t *from = pass ? sb : sa, *other = pass ? sa : sb;
        size_t i;
        json_t *e;
        json_array_foreach(from, i, e)
        {
            const char *m = json_string_value(json_object_get(e, "method"));
            const char *n = json_string_value(json_object_get(e, "name"));
            if (!m || !n)
                continue;
            json_t *o = find_entry(other, m, n);
            if (pass && o)
                continue;
            struct cmp_vals va = vals(pass ? o : e), vb = vals(pass ? e : o);
            rr_buf_printf(out, "%-8s %-40s", m, n);
            if (va.ok)
                rr_buf_printf(out, " %10.2f", va.rps);
            else
                rr_buf_printf(out, " %10s", "-");
            if (vb.ok)
                rr_buf_printf(out, " %10.2f", vb.rps);
            else
                rr_buf_printf(out, " %10s", "-");
            if (va.ok && vb.ok)
                change(out, va.rps, vb.rps);
            else
                rr_buf_printf(out, " %9s", "-");
            rr_buf_printf(out, " %7.2f%% %7.2f%% %10.1f %10.1f", va.fail_ratio * 100,
                          vb.fail_ratio * 100, va.med, vb.med);
            if (va.ok && vb.ok)
                change(out, va.med, vb.med);
            else
                rr_buf_printf(out, " %9s", "-");
            rr_buf_printf(out, " %10.1f %10.1f", va.p95, vb.p95);
            if (va.ok && vb.ok)
                change(out, va.p95, vb.p95);
            else
                rr_buf_printf(out, " %9s", "-");
            rr_buf_addc(out, '\n');
            if (!va.ok || !vb.ok || max_regression < 0)
                continue;
            double x = max_regression * 100;
            const char *name = n;
            if (va.rps > 0 && pct_change(va.rps, vb.rps) < -x) {
                rr_buf_printf(msgs,
                              "REGRESSION: %s %s: req/s %.2f -> %.2f (%+.1f%%, allowed -%g%%)\n", m,
                              name, va.rps, vb.rps, pct_change(va.rps, vb.rps), x);
                (*regressions)++;
            }
            if ((vb.fail_ratio - va.fail_ratio) * 100 > x) {
                rr_buf_printf(
                    msgs,
                    "REGRESSION: %s %s: failure ratio %.2f%% -> %.2f%% (allowed +%g points)\n", m,
                    name, va.fail_ratio * 100, vb.fail_ratio * 100, x);
                (*regressions)++;
            }
            if (va.med > 0 && pct_change(va.med, vb.med) > x) {
                rr_buf_printf(
                    msgs, "REGRESSION: %s %s: median %.1f ms -> %.1f ms (%+.1f%%, allowed +%g%%)\n",
                    m, name, va.med, vb.med, pct_change(va.med, vb.med), x);
                (*regressions)++;
            }
            if (va.p95 > 0 && pct_change(va.p95, vb.p95) > x) {
                rr_buf_printf(
                    msgs, "REGRESSION: %s %s: p95 %.1f ms -> %.1f ms (%+.1f%%, allowed +%g%%)\n", m,
                    name, va.p95, vb.p95, pct_change(va.p95, vb.p95), x);
                (*regressions)++;
            }
        }
    }
out:
    json_decref(a);
    json_decref(b);
    return rc;
}
