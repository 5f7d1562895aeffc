/* stats.c -- Recording, merging and reading request statistics (Locust's StatsEntry model).
 *
 * Each entry carries two histograms: Locust's rounded buckets (ms: exact below 100, tens below
 * 1000, hundreds below 10000, thousands above), which its percentile columns are defined on,
 * and an HDR histogram (1 us .. 1 h, 3 significant digits) for exact percentiles that merge
 * without loss. Both are fixed arrays allocated with the entry, so recording never allocates.
 * Per-second counters live in a 64-second ring: Locust only reads the last 12 seconds, and a
 * worker's report interval is 3 s. */
#include "stats_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rr/util.h"

const double rr_stats_pcts[RR_STATS_NPCT] = {0.50, 0.66, 0.75,  0.80,   0.90, 0.95,
                                             0.98, 0.99, 0.999, 0.9999, 1.0};

/* ---- Locust's rounded buckets ---- */

/* Python round() to a multiple of unit, ties to even, on exact integer microseconds. */
static uint64_t round_even(uint64_t us, uint64_t unit)
{
    uint64_t q = us / unit, r = us % unit;
    if (r * 2 > unit || (r * 2 == unit && (q & 1)))
        q++;
    return q;
}

uint64_t rr_stats_bucket_ms(uint64_t us)
{
    if (us < 100000)
        return round_even(us, 1000);
    if (us < 1000000)
        return round_even(us, 10000) * 10;
    if (us < 10000000)
        return round_even(us, 100000) * 100;
    return round_even(us, 1000000) * 1000;
}

static unsigned lb_index(uint64_t ms)
{
    if (ms < 100)
        return (unsigned)ms;
    if (ms < 1000)
        return 100 + (unsigned)((ms - 100) / 10);
    if (ms < 10000)
        return 190 + (unsigned)((ms - 1000) / 100);
    uint64_t i = 280 + (ms - 10000) / 1000;
    return i >= RR_LB_N ? RR_LB_N - 1 : (unsigned)i;
}

uint64_t rr_lb_value(unsigned i)
{
    if (i < 100)
        return i;
    if (i < 190)
        return 100 + (uint64_t)(i - 100) * 10;
    if (i < 280)
        return 1000 + (uint64_t)(i - 190) * 100;
    return 10000 + (uint64_t)(i - 280) * 1000;
}

/* ---- HDR histogram: unit 1 us, 2048 sub-buckets (3 significant digits) ---- */

#define HDR_MAX 3600000000ull

static inline unsigned hdr_index(uint64_t v)
{
    if (v > HDR_MAX)
        v = HDR_MAX;
    int pow2ceil = 64 - __builtin_clzll(v | 2047);
    int bucket = pow2ceil - 11;
    uint64_t sub = v >> bucket;
    return ((unsigned)(bucket + 1) << 10) + (unsigned)(sub - 1024);
}

static uint64_t hdr_highest(unsigned idx)
{
    int bucket = (int)(idx >> 10) - 1;
    uint64_t sub = (idx & 1023) + 1024;
    if (bucket < 0) {
        sub -= 1024;
        bucket = 0;
    }
    return (sub << bucket) + ((uint64_t)1 << bucket) - 1;
}

/* ---- entries ---- */

static uint64_t key_hash(const char *method, const char *name)
{
    uint64_t h = rr_hash64(method, strlen(method), 7);
    return rr_hash64(name, strlen(name), h);
}

static struct rr_stats_e *entry_new(const char *method, const char *name)
{
    struct rr_stats_e *e = rr_xcalloc(1, sizeof(*e));
    e->method = rr_xstrdup(method);
    e->name = rr_xstrdup(name);
    e->hash = key_hash(method, name);
    e->hdr = rr_xcalloc(RR_HDR_N, sizeof(*e->hdr));
    e->lb_lo = e->hdr_lo = UINT32_MAX;
    return e;
}

static void entry_free(struct rr_stats_e *e)
{
    if (!e)
        return;
    free(e->method);
    free(e->name);
    free(e->hdr);
    free(e);
}

static void entry_zero(struct rr_stats_e *e)
{
    if (!e->nreq && !e->nfail && !e->last_ts)
        return;
    e->nreq = e->nnone = e->nfail = e->total_us = e->min_us = e->max_us = e->clen = 0;
    e->last_ts = 0;
    memset(e->sec, 0, sizeof(e->sec));
    memset(e->sreq, 0, sizeof(e->sreq));
    memset(e->sfail, 0, sizeof(e->sfail));
    if (e->lb_lo <= e->lb_hi)
        memset(e->lb + e->lb_lo, 0, (e->lb_hi - e->lb_lo + 1) * sizeof(*e->lb));
    if (e->hdr_lo <= e->hdr_hi)
        memset(e->hdr + e->hdr_lo, 0, (e->hdr_hi - e->hdr_lo + 1) * sizeof(*e->hdr));
    e->lb_lo = e->hdr_lo = UINT32_MAX;
    e->lb_hi = e->hdr_hi = 0;
}

int rr_stats_new(struct rr_stats **out)
{
    struct rr_stats *s = rr_xcalloc(1, sizeof(*s));
    s->total = entry_new("", "Aggregated");
    s->etab_cap = 64;
    s->etab = rr_xcalloc(s->etab_cap, sizeof(*s->etab));
    s->ftab_cap = 64;
    s->ftab = rr_xcalloc(s->ftab_cap, sizeof(*s->ftab));
    rr_buf_init(&s->scratch);
    *out = s;
    return 0;
}

void rr_stats_free(struct rr_stats **sp)
{
    struct rr_stats *s = *sp;
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        entry_free(s->e[i]);
    free(s->e);
    entry_free(s->total);
    free(s->etab);
    for (int i = 0; i < s->nf; i++) {
        free(s->f[i].error);
    }
    free(s->f);
    free(s->ftab);
    rr_buf_fini(&s->scratch);
    free(s);
    *sp = NULL;
}

static int etab_lookup(const struct rr_stats *s, uint64_t h, const char *method, const char *name)
{
    size_t mask = s->etab_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int v = s->etab[i];
        if (!v)
            return -1;
        struct rr_stats_e *e = s->e[v - 1];
        if (e->hash == h && !strcmp(e->method, method) && !strcmp(e->name, name))
            return v - 1;
    }
}

static void etab_insert(struct rr_stats *s, uint64_t h, int idx)
{
    size_t mask = s->etab_cap - 1;
    size_t i = h & mask;
    while (s->etab[i])
        i = (i + 1) & mask;
    s->etab[i] = idx + 1;
}

int rr_stats_find(const struct rr_stats *s, const char *method, const char *name)
{
    return etab_lookup(s, key_hash(method ? method : "", name), method ? method : "", name);
}

int rr_stats_entry(struct rr_stats *s, const char *method, const char *name)
{
    if (!method)
        method = "";
    uint64_t h = key_hash(method, name);
    int idx = etab_lookup(s, h, method, name);
    if (idx >= 0)
        return idx;
    if ((size_t)(s->n + 1) * 2 > s->etab_cap) {
        free(s->etab);
        s->etab_cap *= 2;
        s->etab = rr_xcalloc(s->etab_cap, sizeof(*s->etab));
        for (int i = 0; i < s->n; i++)
            etab_insert(s, s->e[i]->hash, i);
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->e = rr_xrealloc(s->e, (size_t)s->cap * sizeof(*s->e));
    }
    s->e[s->n] = entry_new(method, name);
    etab_insert(s, h, s->n);
    return s->n++;
}

/* ---- failures ---- */

void rr_stats_normalise_error(const char *error, struct rr_buf *out)
{
    const char *p = strstr(error, "object at 0x");
    if (!p) {
        rr_buf_adds(out, error);
        return;
    }
    /* Locust replaces the text between that "0x" and the next ">" wherever it recurs. */
    const char *hex = p + strlen("object at ");
    const char *end = strchr(hex, '>');
    if (!end) {
        rr_buf_adds(out, error);
        return;
    }
    size_t hl = (size_t)(end - hex);
    for (const char *q = error; *q;) {
        if (!strncmp(q, hex, hl)) {
            rr_buf_adds(out, "0x....");
            q += hl;
        } else {
            rr_buf_addc(out, (uint8_t)*q++);
        }
    }
}

static int ftab_lookup(const struct rr_stats *s, uint64_t h, int entry, const char *err)
{
    size_t mask = s->ftab_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        int v = s->ftab[i];
        if (!v)
            return -1;
        const struct rr_stats_f *f = &s->f[v - 1];
        if (f->hash == h && f->entry == entry && !strcmp(f->error, err))
            return v - 1;
    }
}

static void ftab_insert(struct rr_stats *s, uint64_t h, int idx)
{
    size_t mask = s->ftab_cap - 1;
    size_t i = h & mask;
    while (s->ftab[i])
        i = (i + 1) & mask;
    s->ftab[i] = idx + 1;
}

/* entry is an index into s->e (never the total). */
static void failure_add(struct rr_stats *s, int entry, const char *error, uint64_t n)
{
    const char *err = error;
    if (strstr(error, "object at 0x")) {
        rr_buf_reset(&s->scratch);
        rr_stats_normalise_error(error, &s->scratch);
        err = rr_buf_cstr(&s->scratch);
    }
    uint64_t h = rr_hash64(err, strlen(err), (uint64_t)entry * 0x9e3779b97f4a7c15ull + 1);
    int i = ftab_lookup(s, h, entry, err);
    if (i >= 0) {
        s->f[i].occ += n;
        return;
    }
    if ((size_t)(s->nf + 1) * 2 > s->ftab_cap) {
        free(s->ftab);
        s->ftab_cap *= 2;
        s->ftab = rr_xcalloc(s->ftab_cap, sizeof(*s->ftab));
        for (int k = 0; k < s->nf; k++)
            ftab_insert(s, s->f[k].hash, k);
    }
    if (s->nf == s->fcap) {
        s->fcap = s->fcap ? s->fcap * 2 : 16;
        s->f = rr_xrealloc(s->f, (size_t)s->fcap * sizeof(*s->f));
    }
    struct rr_stats_f *f = &s->f[s->nf];
    f->entry = entry;
    f->error = rr_xstrdup(err);
    f->hash = h;
    f->occ = n;
    ftab_insert(s, h, s->nf);
    s->nf++;
}

void rr_stats_add_failure(struct rr_stats *s, const char *method, const char *name,
                          const char *error, uint64_t occurrences)
{
    failure_add(s, rr_stats_entry(s, method, name), error, occurrences);
}

int rr_stats_failure_count(const struct rr_stats *s)
{
    return s->nf;
}

void rr_stats_failure(const struct rr_stats *s, int i, struct rr_stats_failure_info *out)
{
    const struct rr_stats_f *f = &s->f[i];
    const struct rr_stats_e *e = s->e[f->entry];
    out->method = e->method;
    out->name = e->name;
    out->error = f->error;
    out->occurrences = f->occ;
    struct rr_buf b;
    rr_buf_init(&b);
    rr_buf_printf(&b, "%s.%s.", e->method, e->name);
    rr_stats_pyrepr(f->error, &b);
    rr_sha256_hex(b.p, b.len, out->key);
    rr_buf_fini(&b);
}

/* ---- recording (the hot path) ---- */

static inline void sec_add(struct rr_stats_e *e, uint32_t t, uint64_t reqs, uint64_t fails)
{
    unsigned k = t & (RR_SEC_RING - 1);
    if (e->sec[k] != t) {
        if (e->sec[k] > t)
            return; /* older than the ring keeps */
        e->sec[k] = t;
        e->sreq[k] = 0;
        e->sfail[k] = 0;
    }
    e->sreq[k] += reqs;
    e->sfail[k] += fails;
}

static inline void entry_log(struct rr_stats_e *e, int timed, uint64_t us, uint64_t clen,
                             int failed, double now)
{
    uint32_t t = (uint32_t)now;
    e->nreq++;
    e->clen += clen;
    if (now > e->last_ts)
        e->last_ts = now;
    if (failed)
        e->nfail++;
    sec_add(e, t, 1, failed ? 1 : 0);
    if (!timed) {
        e->nnone++;
        return;
    }
    e->total_us += us;
    if (e->nreq - e->nnone == 1 || us < e->min_us)
        e->min_us = us;
    if (us > e->max_us)
        e->max_us = us;
    unsigned li = lb_index(rr_stats_bucket_ms(us)), hi = hdr_index(us);
    e->lb[li]++;
    e->hdr[hi]++;
    if (li < e->lb_lo)
        e->lb_lo = li;
    if (li > e->lb_hi)
        e->lb_hi = li;
    if (hi < e->hdr_lo)
        e->hdr_lo = hi;
    if (hi > e->hdr_hi)
        e->hdr_hi = hi;
}

static void record(struct rr_stats *s, int entry, int timed, uint64_t us, uint64_t clen,
                   const char *error, double now)
{
    RR_ASSERT(entry >= 0 && entry < s->n);
    int failed = error != NULL;
    entry_log(s->e[entry], timed, us, clen, failed, now);
    entry_log(s->total, timed, us, clen, failed, now);
    if (failed)
        failure_add(s, entry, error, 1);
}

void rr_stats_record(struct rr_stats *s, int entry, uint64_t resp_us, uint64_t content_len,
                     const char *error, uint32_t now_s)
{
    record(s, entry, 1, resp_us, content_len, error, (double)now_s);
}

void rr_stats_record_ts(struct rr_stats *s, int entry, uint64_t resp_us, uint64_t content_len,
                        const char *error, double now)
{
    record(s, entry, 1, resp_us, content_len, error, now);
}

void rr_stats_record_none(struct rr_stats *s, int entry, uint64_t content_len, const char *error,
                          double now)
{
    record(s, entry, 0, 0, content_len, error, now);
}

/* ---- merge / reset ---- */

static void entry_merge(struct rr_stats_e *d, const struct rr_stats_e *x)
{
    if (!x->nreq && !x->nfail)
        return;
    uint64_t dt = d->nreq - d->nnone, xt = x->nreq - x->nnone;
    if (xt && (!dt || x->min_us < d->min_us))
        d->min_us = x->min_us;
    if (x->max_us > d->max_us)
        d->max_us = x->max_us;
    d->nreq += x->nreq;
    d->nnone += x->nnone;
    d->nfail += x->nfail;
    d->total_us += x->total_us;
    d->clen += x->clen;
    if (x->last_ts > d->last_ts)
        d->last_ts = x->last_ts;
    for (unsigned k = 0; k < RR_SEC_RING; k++)
        if (x->sec[k])
            sec_add(d, x->sec[k], x->sreq[k], x->sfail[k]);
    if (!xt)
        return;
    for (unsigned k = x->lb_lo; k <= x->lb_hi; k++)
        d->lb[k] += x->lb[k];
    for (unsigned k = x->hdr_lo; k <= x->hdr_hi; k++)
        d->hdr[k] += x->hdr[k];
    if (x->lb_lo < d->lb_lo)
        d->lb_lo = x->lb_lo;
    if (x->lb_hi > d->lb_hi)
        d->lb_hi = x->lb_hi;
    if (x->hdr_lo < d->hdr_lo)
        d->hdr_lo = x->hdr_lo;
    if (x->hdr_hi > d->hdr_hi)
        d->hdr_hi = x->hdr_hi;
}

void rr_stats_merge(struct rr_stats *dst, const struct rr_stats *src)
{
    for (int i = 0; i < src->n; i++) {
        const struct rr_stats_e *x = src->e[i];
        /* As a Locust worker reports only entries it used: a shard's entry registered ahead
         * but never requested makes no row in the total. */
        if (!x->nreq && !x->nfail)
            continue;
        int d = rr_stats_entry(dst, x->method, x->name);
        entry_merge(dst->e[d], x);
    }
    entry_merge(dst->total, src->total);
    for (int i = 0; i < src->nf; i++) {
        const struct rr_stats_f *f = &src->f[i];
        const struct rr_stats_e *x = src->e[f->entry];
        failure_add(dst, rr_stats_entry(dst, x->method, x->name), f->error, f->occ);
    }
    if (src->start_time > 0 && (dst->start_time <= 0 || src->start_time < dst->start_time))
        dst->start_time = src->start_time;
}

void rr_stats_reset(struct rr_stats *s)
{
    for (int i = 0; i < s->n; i++)
        entry_zero(s->e[i]);
    entry_zero(s->total);
    for (int i = 0; i < s->nf; i++)
        free(s->f[i].error);
    s->nf = 0;
    memset(s->ftab, 0, s->ftab_cap * sizeof(*s->ftab));
}

void rr_stats_start(struct rr_stats *s, double start_time)
{
    rr_stats_reset(s);
    s->start_time = start_time;
}

double rr_stats_start_time(const struct rr_stats *s)
{
    return s->start_time;
}

void rr_stats_set_start_time(struct rr_stats *s, double start_time)
{
    s->start_time = start_time;
}

/* ---- reading ---- */

const struct rr_stats_e *rr_stats_e_get(const struct rr_stats *s, int entry)
{
    if (entry == RR_STATS_TOTAL)
        return s->total;
    RR_ASSERT(entry >= 0 && entry < s->n);
    return s->e[entry];
}

int rr_stats_count(const struct rr_stats *s)
{
    return s->n;
}

struct sort_item {
    const struct rr_stats_e *e;
    int idx;
};

static int cmp_name_method(const void *a, const void *b)
{
    const struct rr_stats_e *x = ((const struct sort_item *)a)->e;
    const struct rr_stats_e *y = ((const struct sort_item *)b)->e;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->method, y->method);
}

int rr_stats_sorted(const struct rr_stats *s, int *idx, int cap)
{
    int n = s->n < cap ? s->n : cap;
    struct sort_item *it = rr_xmalloc(((size_t)n + 1) * sizeof(*it));
    for (int i = 0; i < n; i++) {
        it[i].e = s->e[i];
        it[i].idx = i;
    }
    qsort(it, (size_t)n, sizeof(*it), cmp_name_method);
    for (int i = 0; i < n; i++)
        idx[i] = it[i].idx;
    free(it);
    return n;
}

void rr_stats_info(const struct rr_stats *s, int entry, struct rr_stats_entry_info *out)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    out->method = e->method;
    out->name = e->name;
    out->num_requests = e->nreq;
    out->num_none_requests = e->nnone;
    out->num_failures = e->nfail;
    out->total_rt_us = e->total_us;
    out->min_rt_us = e->min_us;
    out->max_rt_us = e->max_us;
    out->total_content_length = e->clen;
    out->start_time = s->start_time;
    out->last_request_timestamp = e->last_ts;
}

uint64_t rr_stats_percentile(const struct rr_stats *s, int entry, double p)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    return rr_lb_percentile(e->lb, e->nreq, p);
}

uint64_t rr_lb_percentile(const uint32_t *lb, uint64_t n, double p)
{
    uint64_t target = (uint64_t)((double)n * p), processed = 0;
    for (int k = RR_LB_N - 1; k >= 0; k--) {
        if (!lb[k])
            continue;
        processed += lb[k];
        if ((int64_t)n - (int64_t)processed <= (int64_t)target)
            return rr_lb_value((unsigned)k);
    }
    return 0;
}

double rr_median_ex(const struct rr_stats_e *e, int *clamped)
{
    *clamped = 0;
    uint64_t n = e->nreq - e->nnone;
    if (!n)
        return 0;
    double pos = ((double)n - 1) / 2;
    double med = 0;
    for (unsigned k = e->lb_lo; k <= e->lb_hi && k < RR_LB_N; k++) {
        if (!e->lb[k])
            continue;
        med = (double)rr_lb_value(k);
        if (pos < (double)e->lb[k])
            break;
        pos -= (double)e->lb[k];
    }
    double mx = (double)e->max_us / 1000.0, mn = (double)e->min_us / 1000.0;
    if (med > mx) {
        med = mx;
        *clamped = 1;
    } else if (med < mn) {
        med = mn;
        *clamped = 1;
    }
    return med;
}

double rr_stats_median(const struct rr_stats *s, int entry)
{
    int c;
    return rr_median_ex(rr_stats_e_get(s, entry), &c);
}

double rr_stats_avg_ms(const struct rr_stats *s, int entry)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    uint64_t n = e->nreq - e->nnone;
    return n ? (double)e->total_us / 1000.0 / (double)n : 0.0;
}

double rr_stats_fail_ratio(const struct rr_stats *s, int entry)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    if (!e->nreq)
        return e->nfail ? 1.0 : 0.0;
    return (double)e->nfail / (double)e->nreq;
}

uint64_t rr_stats_hdr_percentile(const struct rr_stats *s, int entry, double p)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    uint64_t n = e->nreq - e->nnone;
    if (!n)
        return 0;
    uint64_t target = (uint64_t)ceil(p * (double)n);
    if (target < 1)
        target = 1;
    if (target > n)
        target = n;
    uint64_t seen = 0;
    for (unsigned k = e->hdr_lo; k <= e->hdr_hi && k < RR_HDR_N; k++) {
        seen += e->hdr[k];
        if (seen >= target) {
            uint64_t v = hdr_highest(k);
            if (v > e->max_us)
                v = e->max_us;
            if (v < e->min_us)
                v = e->min_us;
            return v;
        }
    }
    return e->max_us;
}

void rr_stats_per_sec(const struct rr_stats *s, int entry, uint32_t t, uint64_t *reqs,
                      uint64_t *fails)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    unsigned k = t & (RR_SEC_RING - 1);
    int hit = t && e->sec[k] == t;
    *reqs = hit ? e->sreq[k] : 0;
    *fails = hit ? e->sfail[k] : 0;
}

static double window_avg(const struct rr_stats *s, int entry, int fails)
{
    if (s->total->last_ts <= 0)
        return 0;
    int64_t last = (int64_t)s->total->last_ts;
    int64_t from = last - 12, st = (int64_t)s->start_time;
    if (st > from)
        from = st;
    int64_t to = last - 2;
    double sum = 0;
    int64_t cnt = 0;
    for (int64_t t = from; t < to; t++, cnt++) {
        uint64_t r, f;
        rr_stats_per_sec(s, entry, (uint32_t)t, &r, &f);
        sum += (double)(fails ? f : r);
    }
    return sum / (double)(cnt > 1 ? cnt : 1);
}

double rr_stats_current_rps(const struct rr_stats *s, int entry)
{
    return window_avg(s, entry, 0);
}

double rr_stats_current_fail_per_sec(const struct rr_stats *s, int entry)
{
    return window_avg(s, entry, 1);
}

static double total_rate(const struct rr_stats *s, uint64_t n)
{
    double span = s->total->last_ts - s->start_time;
    if (s->total->last_ts <= 0 || s->start_time <= 0 || span == 0)
        return 0.0;
    return (double)n / span;
}

double rr_stats_total_rps(const struct rr_stats *s, int entry)
{
    return total_rate(s, rr_stats_e_get(s, entry)->nreq);
}

double rr_stats_total_fail_per_sec(const struct rr_stats *s, int entry)
{
    return total_rate(s, rr_stats_e_get(s, entry)->nfail);
}

void rr_stats_buckets(const struct rr_stats *s, int entry,
                      void (*fn)(void *arg, uint64_t ms, uint64_t count), void *arg)
{
    const struct rr_stats_e *e = rr_stats_e_get(s, entry);
    for (unsigned k = 0; k < RR_LB_N; k++)
        if (e->lb[k])
            fn(arg, rr_lb_value(k), e->lb[k]);
}
