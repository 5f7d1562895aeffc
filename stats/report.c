/* report.c -- The run's reporting side: the per-second history (CSV rows and chart samples),
 * the --csv files rewritten every second and completed at exit, and the windowed ("current")
 * percentiles Locust computes from histogram snapshots about 10 s old. */
#include "report_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SNAPS 20

struct snap {
    uint32_t t; /* 0: unused */
    uint64_t nreq;
    uint32_t *idx, *cnt; /* sparse copy of the rounded buckets */
    size_t n;
};

struct rr_rep_key {
    char *method, *name;
    struct snap ring[SNAPS];
};

static void snap_fini(struct snap *sn)
{
    free(sn->idx);
    free(sn->cnt);
    memset(sn, 0, sizeof(*sn));
}

static struct rr_rep_key *key_get(struct rr_report *r, const char *method, const char *name)
{
    for (size_t i = 0; i < r->nkeys; i++)
        if (!strcmp(r->keys[i]->method, method) && !strcmp(r->keys[i]->name, name))
            return r->keys[i];
    if (r->nkeys == r->capkeys) {
        r->capkeys = r->capkeys ? r->capkeys * 2 : 16;
        r->keys = rr_xrealloc(r->keys, r->capkeys * sizeof(*r->keys));
    }
    struct rr_rep_key *k = rr_xcalloc(1, sizeof(*k));
    k->method = rr_xstrdup(method);
    k->name = rr_xstrdup(name);
    r->keys[r->nkeys++] = k;
    return k;
}

/* Locust takes the snapshot labelled t-1 when the first request of second t arrives; a tick
 * at time now sees the state at the end of second now-1. */
static void snapshot(struct rr_rep_key *k, const struct rr_stats_e *e, uint32_t t)
{
    struct snap *sn = &k->ring[t % SNAPS];
    snap_fini(sn);
    sn->t = t;
    sn->nreq = e->nreq;
    size_t n = 0;
    for (unsigned i = e->lb_lo; i <= e->lb_hi && i < RR_LB_N; i++)
        n += e->lb[i] != 0;
    sn->idx = rr_xmalloc((n + 1) * sizeof(*sn->idx));
    sn->cnt = rr_xmalloc((n + 1) * sizeof(*sn->cnt));
    for (unsigned i = e->lb_lo; i <= e->lb_hi && i < RR_LB_N; i++)
        if (e->lb[i]) {
            sn->idx[sn->n] = i;
            sn->cnt[sn->n++] = e->lb[i];
        }
}

/* get_current_response_time_percentile: the live histogram minus the snapshot nearest to
 * t-10 (t-10, t-11, t-9, ..., t-18, t-2). Returns 0 without a snapshot (Locust's None). */
static int current_diff(struct rr_report *r, struct rr_rep_key *k, const struct rr_stats_e *e,
                        uint32_t t, uint64_t *n)
{
    const struct snap *sn = NULL;
    for (int i = 0; i < 17 && !sn; i++) {
        int off = i == 0 ? 10 : (i % 2 ? 10 + (i + 1) / 2 : 10 - i / 2);
        uint32_t want = t - (uint32_t)off;
        const struct snap *c = &k->ring[want % SNAPS];
        if (c->t == want)
            sn = c;
    }
    if (!sn)
        return 0;
    memcpy(r->diff, e->lb, sizeof(r->diff));
    for (size_t i = 0; i < sn->n; i++)
        r->diff[sn->idx[i]] -= sn->cnt[i];
    *n = e->nreq - sn->nreq;
    return 1;
}

uint64_t rr_report_current_pct(struct rr_report *r, const struct rr_stats *s, int entry, uint32_t t,
                               double p)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    uint64_t n;
    if (!current_diff(r, key_get(r, e->method, e->name), e, t, &n))
        return 0;
    return rr_lb_percentile(r->diff, n, p);
}

int rr_report_new(struct rr_report **out, const struct rr_report_opts *o)
{
    struct rr_report *r = rr_xcalloc(1, sizeof(*r));
    int rc = 0;
    r->full_history = o->csv_full_history;
    r->csv_prefix = o->csv_prefix ? rr_xstrdup(o->csv_prefix) : NULL;
    r->html_path = o->html_path ? rr_xstrdup(o->html_path) : NULL;
    r->host = rr_xstrdup(o->host ? o->host : "None");
    r->script = rr_xstrdup(o->script ? o->script : "");
    r->command_line = rr_xstrdup(o->command_line ? o->command_line : "");
    if (r->csv_prefix) {
        struct rr_buf path;
        rr_buf_init(&path);
        rr_buf_printf(&path, "%s_stats_history.csv", r->csv_prefix);
        r->history = fopen(rr_buf_cstr(&path), "w");
        if (!r->history)
            rc = -errno;
        else
            fputs(rr_stats_csv_history_header, r->history);
        /* Locust creates all four files at start-up. */
        static const char *const names[] = {"_stats.csv", "_failures.csv", "_exceptions.csv"};
        for (size_t i = 0; i < 3 && !rc; i++) {
            rr_buf_reset(&path);
            rr_buf_printf(&path, "%s%s", r->csv_prefix, names[i]);
            FILE *f = fopen(rr_buf_cstr(&path), "w");
            if (!f) {
                rc = -errno;
                break;
            }
            if (i == 2)
                fputs(rr_stats_csv_exceptions_header, f);
            if (fclose(f))
                rc = -errno;
        }
        rr_buf_fini(&path);
    }
    if (rc) {
        rr_report_free(&r);
        return rc;
    }
    *out = r;
    return 0;
}

void rr_report_free(struct rr_report **rp)
{
    struct rr_report *r = *rp;
    if (!r)
        return;
    if (r->history)
        fclose(r->history);
    for (size_t i = 0; i < r->nkeys; i++) {
        for (int k = 0; k < SNAPS; k++)
            snap_fini(&r->keys[i]->ring[k]);
        free(r->keys[i]->method);
        free(r->keys[i]->name);
        free(r->keys[i]);
    }
    free(r->keys);
    free(r->samples);
    free(r->csv_prefix);
    free(r->html_path);
    free(r->host);
    free(r->script);
    free(r->command_line);
    free(r);
    *rp = NULL;
}

void rr_report_clear_history(struct rr_report *r)
{
    r->nsamples = 0;
}

static int write_file(const char *prefix, const char *suffix, const struct rr_buf *b)
{
    struct rr_buf path;
    rr_buf_init(&path);
    rr_buf_printf(&path, "%s%s", prefix, suffix);
    /* Replace atomically: a reader (or a crash) never sees half a file. */
    struct rr_buf tmp;
    rr_buf_init(&tmp);
    rr_buf_printf(&tmp, "%s.tmp", rr_buf_cstr(&path));
    int rc = 0;
    FILE *f = fopen(rr_buf_cstr(&tmp), "w");
    if (!f)
        rc = -errno;
    else {
        if (b->len && fwrite(b->p, 1, b->len, f) != b->len)
            rc = -EIO;
        if (fclose(f) && !rc)
            rc = -errno;
        if (!rc && rename(rr_buf_cstr(&tmp), rr_buf_cstr(&path)))
            rc = -errno;
        if (rc)
            remove(rr_buf_cstr(&tmp));
    }
    rr_buf_fini(&tmp);
    rr_buf_fini(&path);
    return rc;
}

static void history_row(struct rr_report *r, const struct rr_stats *s, int entry, uint32_t t,
                        int users, struct rr_buf *out)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    rr_buf_printf(out, "%u,%d,", t, users);
    rr_csv_field(out, e->method);
    rr_buf_addc(out, ',');
    rr_csv_field(out, e->name);
    /* Python's "{:2f}": width 2, precision 6. */
    rr_buf_printf(out, ",%2f,%2f", rr_stats_current_rps(s, entry),
                  rr_stats_current_fail_per_sec(s, entry));
    if (r->full_history) {
        uint64_t n = 0;
        int have = current_diff(r, key_get(r, e->method, e->name), e, t, &n);
        rr_csv_percentiles(s, entry, have ? r->diff : NULL, n, 1, out);
    } else {
        rr_csv_percentiles(s, entry, NULL, 0, 0, out);
    }
    rr_buf_addc(out, ',');
    rr_csv_totals(s, entry, out);
    rr_buf_adds(out, "\r\n");
}

static int write_csvs(struct rr_report *r, const struct rr_stats *s)
{
    struct rr_buf b;
    rr_buf_init(&b);
    rr_stats_csv_stats(s, &b);
    int rc = write_file(r->csv_prefix, "_stats.csv", &b);
    rr_buf_reset(&b);
    rr_stats_csv_failures(s, &b);
    int rc2 = write_file(r->csv_prefix, "_failures.csv", &b);
    rr_buf_fini(&b);
    return rc ? rc : rc2;
}

int rr_report_tick(struct rr_report *r, const struct rr_stats *s, double now, int user_count)
{
    uint32_t t = (uint32_t)now;
    int rc = 0;
    /* Chart sample: the Aggregated current values, as Locust's stats.history. */
    if (r->nsamples == r->capsamples) {
        r->capsamples = r->capsamples ? r->capsamples * 2 : 256;
        r->samples = rr_xrealloc(r->samples, r->capsamples * sizeof(*r->samples));
    }
    struct rr_report_sample *sm = &r->samples[r->nsamples++];
    sm->t = now;
    sm->users = user_count;
    sm->rps = rr_stats_current_rps(s, RR_STATS_TOTAL);
    sm->fps = rr_stats_current_fail_per_sec(s, RR_STATS_TOTAL);
    sm->p50 = rr_report_current_pct(r, s, RR_STATS_TOTAL, t, 0.5);
    sm->p95 = rr_report_current_pct(r, s, RR_STATS_TOTAL, t, 0.95);
    sm->nreq = s->total->nreq;
    sm->nfail = s->total->nfail;

    if (r->history && t != r->last_hist_t) {
        struct rr_buf b;
        rr_buf_init(&b);
        int n = r->full_history ? rr_stats_count(s) : 0;
        int *idx = rr_xmalloc(((size_t)n + 1) * sizeof(*idx));
        n = rr_stats_sorted(s, idx, n);
        for (int i = 0; i < n; i++)
            history_row(r, s, idx[i], t, user_count, &b);
        history_row(r, s, RR_STATS_TOTAL, t, user_count, &b);
        free(idx);
        /* Flushed every second: Locust 2.12 loses up to 10 s of history at exit. */
        if (fwrite(b.p, 1, b.len, r->history) != b.len || fflush(r->history))
            rc = -EIO;
        rr_buf_fini(&b);
        r->last_hist_t = t;
    }
    if (r->csv_prefix) {
        int rc2 = write_csvs(r, s);
        if (!rc)
            rc = rc2;
    }
    /* Snapshots for the windowed percentiles, labelled with the finished second. */
    snapshot(key_get(r, "", "Aggregated"), s->total, t - 1);
    if (r->full_history)
        for (int i = 0; i < s->n; i++)
            snapshot(key_get(r, s->e[i]->method, s->e[i]->name), s->e[i], t - 1);
    return rc;
}

int rr_report_finish(struct rr_report *r, const struct rr_stats *s, double now, int user_count)
{
    int rc = 0;
    if (r->csv_prefix) {
        rc = rr_report_tick(r, s, now, user_count);
        if (r->history) {
            if (fclose(r->history) && !rc)
                rc = -errno;
            r->history = NULL;
        }
    }
    if (r->html_path) {
        struct rr_buf b;
        rr_buf_init(&b);
        rr_report_html(r, s, &b);
        int rc2 = write_file(r->html_path, "", &b);
        if (!rc)
            rc = rc2;
        rr_buf_fini(&b);
    }
    return rc;
}
