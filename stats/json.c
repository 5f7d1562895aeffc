/* json.c -- Final stats as JSON (--json), the run record kept in the store, and the exit-code
 * policy (Locust's --exit-code-on-error and locust-plugins-style thresholds). */
#include "report_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rr/util.h"

static void add_buckets(void *arg, uint64_t ms, uint64_t count)
{
    char k[32];
    snprintf(k, sizeof(k), "%llu", (unsigned long long)ms);
    json_object_set_new(arg, k, json_integer((json_int_t)count));
}

/* One entry: Locust's serialised StatsEntry fields (its wire and --json form), then, when
 * derived is set, the values the reports show. */
static json_t *entry_json(const struct rr_stats *s, int entry, int derived)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(e->name));
    json_object_set_new(o, "method", json_string(e->method));
    json_object_set_new(o, "last_request_timestamp",
                        e->last_ts > 0 ? json_real(e->last_ts) : json_null());
    json_object_set_new(o, "start_time", json_real(s->start_time));
    json_object_set_new(o, "num_requests", json_integer((json_int_t)e->nreq));
    json_object_set_new(o, "num_none_requests", json_integer((json_int_t)e->nnone));
    json_object_set_new(o, "num_failures", json_integer((json_int_t)e->nfail));
    json_object_set_new(o, "total_response_time", json_real((double)e->total_us / 1000.0));
    json_object_set_new(o, "max_response_time", json_real((double)e->max_us / 1000.0));
    json_object_set_new(o, "min_response_time",
                        e->nreq > e->nnone ? json_real((double)e->min_us / 1000.0) : json_null());
    json_object_set_new(o, "total_content_length", json_integer((json_int_t)e->clen));
    json_t *rt = json_object();
    rr_stats_buckets(s, entry, add_buckets, rt);
    json_object_set_new(o, "response_times", rt);
    json_t *rps = json_object(), *fps = json_object();
    for (unsigned k = 0; k < RR_SEC_RING; k++) {
        if (!e->sec[k])
            continue;
        char key[16];
        snprintf(key, sizeof(key), "%u", e->sec[k]);
        json_object_set_new(rps, key, json_integer(e->sreq[k]));
        if (e->sfail[k])
            json_object_set_new(fps, key, json_integer(e->sfail[k]));
    }
    json_object_set_new(o, "num_reqs_per_sec", rps);
    json_object_set_new(o, "num_fail_per_sec", fps);
    if (!derived)
        return o;
    json_object_set_new(o, "median_response_time", json_real(rr_stats_median(s, entry)));
    json_object_set_new(o, "avg_response_time", json_real(rr_stats_avg_ms(s, entry)));
    json_object_set_new(o, "total_rps", json_real(rr_stats_total_rps(s, entry)));
    json_object_set_new(o, "total_fail_per_sec", json_real(rr_stats_total_fail_per_sec(s, entry)));
    json_object_set_new(o, "fail_ratio", json_real(rr_stats_fail_ratio(s, entry)));
    json_object_set_new(o, "avg_content_length",
                        json_real(e->nreq ? (double)e->clen / (double)e->nreq : 0));
    json_t *pct = json_object(), *exact = json_object();
    for (int i = 0; i < RR_STATS_NPCT; i++) {
        char k[16];
        snprintf(k, sizeof(k), "%g", rr_stats_pcts[i]);
        json_object_set_new(
            pct, k, json_integer((json_int_t)rr_stats_percentile(s, entry, rr_stats_pcts[i])));
        json_object_set_new(
            exact, k,
            json_real((double)rr_stats_hdr_percentile(s, entry, rr_stats_pcts[i]) / 1000.0));
    }
    json_object_set_new(o, "percentiles", pct);
    json_object_set_new(o, "percentiles_exact", exact);
    return o;
}

static json_t *stats_array(const struct rr_stats *s)
{
    /* Sorted like the tables, Aggregated last: what compare and show runs read. */
    json_t *a = json_array();
    int n = rr_stats_count(s);
    int *idx = rr_xmalloc(((size_t)n + 1) * sizeof(*idx));
    n = rr_stats_sorted(s, idx, n);
    for (int i = 0; i < n; i++)
        json_array_append_new(a, entry_json(s, idx[i], 1));
    json_array_append_new(a, entry_json(s, RR_STATS_TOTAL, 1));
    free(idx);
    return a;
}

static json_t *failures_array(const struct rr_stats *s)
{
    json_t *a = json_array();
    for (int i = 0; i < rr_stats_failure_count(s); i++) {
        struct rr_stats_failure_info fi;
        rr_stats_failure(s, i, &fi);
        json_t *o = json_object();
        json_object_set_new(o, "method", json_string(fi.method));
        json_object_set_new(o, "name", json_string(fi.name));
        json_object_set_new(o, "error", json_string(fi.error));
        json_object_set_new(o, "occurrences", json_integer((json_int_t)fi.occurrences));
        json_array_append_new(a, o);
    }
    return a;
}

static void dump(json_t *j, struct rr_buf *out)
{
    char *txt = json_dumps(j, JSON_INDENT(4) | JSON_REAL_PRECISION(17));
    if (txt) {
        rr_buf_adds(out, txt);
        rr_buf_addc(out, '\n');
        free(txt);
    }
    json_decref(j);
}

void rr_stats_json(const struct rr_stats *s, struct rr_buf *out)
{
    /* Locust's serialize_stats: entries in creation order, none empty, no Aggregated. */
    json_t *a = json_array();
    for (int i = 0; i < s->n; i++)
        if (s->e[i]->nreq || s->e[i]->nfail)
            json_array_append_new(a, entry_json(s, i, 0));
    dump(a, out);
}

void rr_report_run_json(const struct rr_report *r, const struct rr_stats *s,
                        const char *params_json, struct rr_buf *out)
{
    json_t *o = json_object();
    json_t *params = params_json ? json_loads(params_json, 0, NULL) : NULL;
    json_object_set_new(o, "params", params ? params : json_object());
    json_object_set_new(o, "host", json_string(r->host));
    json_object_set_new(o, "script", json_string(r->script));
    json_object_set_new(o, "command_line", json_string(r->command_line));
    json_object_set_new(o, "start_time", json_real(s->start_time));
    json_object_set_new(o, "end_time", json_real(s->total->last_ts));
    json_object_set_new(o, "stats", stats_array(s));
    json_object_set_new(o, "failures", failures_array(s));
    json_t *h = json_array();
    for (size_t i = 0; i < r->nsamples; i++) {
        const struct rr_report_sample *sm = &r->samples[i];
        json_t *x = json_object();
        json_object_set_new(x, "time", json_real(sm->t));
        json_object_set_new(x, "user_count", json_integer(sm->users));
        json_object_set_new(x, "current_rps", json_real(sm->rps));
        json_object_set_new(x, "current_fail_per_sec", json_real(sm->fps));
        json_object_set_new(x, "response_time_percentile_0.5", json_integer((json_int_t)sm->p50));
        json_object_set_new(x, "response_time_percentile_0.95", json_integer((json_int_t)sm->p95));
        json_object_set_new(x, "num_requests", json_integer((json_int_t)sm->nreq));
        json_object_set_new(x, "num_failures", json_integer((json_int_t)sm->nfail));
        json_array_append_new(h, x);
    }
    json_object_set_new(o, "history", h);
    char *txt = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (txt) {
        rr_buf_adds(out, txt);
        free(txt);
    }
    json_decref(o);
}

void rr_stats_checks_init(struct rr_stats_checks *c)
{
    c->exit_code_on_error = 1;
    c->fail_ratio = -1;
    c->p95_ms = -1;
    c->rps = -1;
}

int rr_stats_checks_parse(struct rr_stats_checks *c, const char *opt, const char *val, char *why,
                          size_t whylen)
{
    char buf[64];
    double d;
    uint64_t u;
    if (!val || strlen(val) >= sizeof(buf)) {
        snprintf(why, whylen, "%s needs a value", opt);
        return RR_EUSAGE;
    }
    snprintf(buf, sizeof(buf), "%s", val);
    if (!strcmp(opt, "--exit-code-on-error")) {
        if (rr_parse_u64(buf, 255, &u)) {
            snprintf(why, whylen, "%s: expected an exit code 0..255, got '%s'", opt, val);
            return RR_EUSAGE;
        }
        c->exit_code_on_error = (int)u;
        return 0;
    }
    if (!strcmp(opt, "--check-fail-ratio")) {
        size_t l = strlen(buf);
        int pct = l && buf[l - 1] == '%';
        if (pct)
            buf[l - 1] = 0;
        if (rr_parse_double(buf, &d) || (pct ? d > 100 : d > 1)) {
            snprintf(why, whylen, "%s: expected a ratio such as 0.01 or 1%%, got '%s'", opt, val);
            return RR_EUSAGE;
        }
        c->fail_ratio = pct ? d / 100 : d;
        return 0;
    }
    if (!strcmp(opt, "--check-p95")) {
        /* A number with an optional unit; a bare number is milliseconds, like the tables. */
        char *end = NULL;
        d = strtod(buf, &end);
        double mul = !strcmp(end, "") || !strcmp(end, "ms") ? 1
                     : !strcmp(end, "s")                    ? 1000
                     : !strcmp(end, "m")                    ? 60000
                                                            : -1;
        if (end == buf || mul < 0 || !(d >= 0) || d > 1e12) {
            snprintf(why, whylen, "%s: expected a time such as 500ms or 1.5s, got '%s'", opt, val);
            return RR_EUSAGE;
        }
        c->p95_ms = d * mul;
        return 0;
    }
    if (!strcmp(opt, "--check-rps")) {
        if (rr_parse_double(buf, &d)) {
            snprintf(why, whylen, "%s: expected requests per second such as 100, got '%s'", opt,
                     val);
            return RR_EUSAGE;
        }
        c->rps = d;
        return 0;
    }
    return RR_ENOTFOUND;
}

int rr_stats_exit_code(const struct rr_stats *s, const struct rr_stats_checks *c,
                       struct rr_buf *msgs)
{
    int code = 0;
    const struct rr_stats_e *t = s->total;
    if (c->fail_ratio >= 0) {
        double fr = rr_stats_fail_ratio(s, RR_STATS_TOTAL);
        if (fr > c->fail_ratio) {
            rr_buf_printf(
                msgs,
                "CHECK FAILED: fail ratio was %.2f%% (threshold %.2f%%, --check-fail-ratio)\n",
                fr * 100, c->fail_ratio * 100);
            code = 3;
        }
    }
    if (c->p95_ms >= 0) {
        double p95 = (double)rr_stats_percentile(s, RR_STATS_TOTAL, 0.95);
        if (p95 > c->p95_ms) {
            rr_buf_printf(msgs,
                          "CHECK FAILED: 95th percentile response time was %.0f ms (threshold %g "
                          "ms, --check-p95)\n",
                          p95, c->p95_ms);
            code = 3;
        }
    }
    if (c->rps >= 0) {
        double rps = rr_stats_total_rps(s, RR_STATS_TOTAL);
        if (rps < c->rps) {
            rr_buf_printf(msgs, "CHECK FAILED: total rps was %.1f (threshold %g, --check-rps)\n",
                          rps, c->rps);
            code = 3;
        }
    }
    if (!code && t->nfail > 0)
        code = c->exit_code_on_error;
    return code;
}
