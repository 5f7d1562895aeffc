/* SPDX-License-Identifier: MIT */
/* wstats.c -- Stats deltas in Locust's model, serialised as a Python worker serialises them.
 *
 * The master merges what every worker sends with StatsEntry.extend, so each field has to mean
 * exactly what Locust means by it: histogram buckets rounded half-to-even to 1/10/100/1000 ms
 * by band, per-second counters keyed by integer epoch seconds, min nil until a request with a
 * time arrived, errors keyed by sha256("METHOD.NAME.repr(error)"). Entries are few (tens), so
 * they are found by a linear scan; histograms and per-second maps likewise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rr/stats.h"
#include "rr/util.h"
#include "wk_int.h"

struct wk_kv {
    int64_t k;
    uint64_t n;
};

struct wk_kvs {
    struct wk_kv *v;
    size_t n, cap;
};

struct wk_entry {
    char *method, *name;
    double start_time, last_ts; /* last_ts < 0: none yet */
    uint64_t num_requests, num_none, num_failures, content;
    double total_rt, max_rt, min_rt; /* min_rt < 0: none yet */
    struct wk_kvs rt, rps, fps;
};

struct wk_error {
    char *method, *name, *error;
    char key[65];
    uint64_t occ;
};

struct rr_wstats {
    struct wk_entry *e;
    size_t ne, cap;
    struct wk_entry total;
    struct wk_error *err;
    size_t nerr, errcap;
    double start_time;
};

static void kvs_add(struct wk_kvs *a, int64_t k, uint64_t n)
{
    /* per-second keys arrive in order, so the match is almost always the last one */
    for (size_t i = a->n; i-- > 0;)
        if (a->v[i].k == k) {
            a->v[i].n += n;
            return;
        }
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        a->v = rr_xrealloc(a->v, a->cap * sizeof(*a->v));
    }
    a->v[a->n].k = k;
    a->v[a->n].n = n;
    a->n++;
}

static void kvs_free(struct wk_kvs *a)
{
    free(a->v);
    memset(a, 0, sizeof(*a));
}

static void entry_init(struct wk_entry *e, const char *method, const char *name, double now)
{
    memset(e, 0, sizeof(*e));
    e->method = rr_xstrdup(method);
    e->name = rr_xstrdup(name);
    e->start_time = now;
    e->last_ts = -1;
    e->min_rt = -1;
}

static void entry_free(struct wk_entry *e)
{
    free(e->method);
    free(e->name);
    kvs_free(&e->rt);
    kvs_free(&e->rps);
    kvs_free(&e->fps);
}

struct rr_wstats *rr_wstats_new(void)
{
    struct rr_wstats *s = rr_xcalloc(1, sizeof(*s));
    s->start_time = (double)rr_now_real_us() / 1e6;
    entry_init(&s->total, "", "Aggregated", s->start_time);
    return s;
}

static void clear(struct rr_wstats *s)
{
    for (size_t i = 0; i < s->ne; i++)
        entry_free(&s->e[i]);
    s->ne = 0;
    for (size_t i = 0; i < s->nerr; i++) {
        free(s->err[i].method);
        free(s->err[i].name);
        free(s->err[i].error);
    }
    s->nerr = 0;
    entry_free(&s->total);
}

void rr_wstats_free(struct rr_wstats **sp)
{
    struct rr_wstats *s = *sp;
    if (!s)
        return;
    clear(s);
    free(s->e);
    free(s->err);
    free(s);
    *sp = NULL;
}

void rr_wstats_reset(struct rr_wstats *s, uint64_t now_us)
{
    clear(s);
    s->start_time = (double)now_us / 1e6;
    entry_init(&s->total, "", "Aggregated", s->start_time);
}

uint64_t rr_wstats_requests(const struct rr_wstats *s)
{
    return s->total.num_requests;
}

uint64_t rr_wstats_failures(const struct rr_wstats *s)
{
    return s->total.num_failures;
}

static struct wk_entry *find_entry(struct rr_wstats *s, const char *method, const char *name,
                                   double now)
{
    for (size_t i = 0; i < s->ne; i++)
        if (strcmp(s->e[i].name, name) == 0 && strcmp(s->e[i].method, method) == 0)
            return &s->e[i];
    if (s->ne == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->e = rr_xrealloc(s->e, s->cap * sizeof(*s->e));
    }
    entry_init(&s->e[s->ne], method, name, now);
    return &s->e[s->ne++];
}

/* StatsEntry._log_response_time's bucketing; nearbyint rounds half to even, as round(). */
static int64_t bucket(double ms)
{
    if (ms < 100)
        return (int64_t)nearbyint(ms);
    if (ms < 1000)
        return (int64_t)nearbyint(ms / 10) * 10;
    if (ms < 10000)
        return (int64_t)nearbyint(ms / 100) * 100;
    return (int64_t)nearbyint(ms / 1000) * 1000;
}

static void entry_log(struct wk_entry *e, double ms, uint64_t len, int failed, double now)
{
    int64_t sec = (int64_t)now;
    e->num_requests++;
    e->last_ts = now;
    kvs_add(&e->rps, sec, 1);
    if (ms < 0) {
        e->num_none++;
    } else {
        e->total_rt += ms;
        if (e->min_rt < 0 || ms < e->min_rt)
            e->min_rt = ms;
        if (ms > e->max_rt)
            e->max_rt = ms;
        kvs_add(&e->rt, bucket(ms), 1);
    }
    e->content += len;
    if (failed) {
        e->num_failures++;
        kvs_add(&e->fps, sec, 1);
    }
}

static struct wk_error *find_error(struct rr_wstats *s, const char *key, const char *method,
                                   const char *name, const char *error)
{
    for (size_t i = 0; i < s->nerr; i++)
        if (strcmp(s->err[i].key, key) == 0)
            return &s->err[i];
    if (s->nerr == s->errcap) {
        s->errcap = s->errcap ? s->errcap * 2 : 8;
        s->err = rr_xrealloc(s->err, s->errcap * sizeof(*s->err));
    }
    struct wk_error *x = &s->err[s->nerr++];
    memcpy(x->key, key, 65);
    x->method = rr_xstrdup(method);
    x->name = rr_xstrdup(name);
    x->error = rr_xstrdup(error);
    x->occ = 0;
    return x;
}

void rr_wstats_error_key(const char *method, const char *name, const char *error, char out[65])
{
    char *r = wk_pyrepr(error);
    size_t n = strlen(method) + strlen(name) + strlen(r) + 3;
    char *k = rr_xmalloc(n);
    snprintf(k, n, "%s.%s.%s", method, name, r);
    rr_sha256_hex(k, strlen(k), out);
    free(k);
    free(r);
}

void rr_wstats_record(struct rr_wstats *s, const char *method, const char *name, double resp_ms,
                      uint64_t content_len, const char *error, uint64_t now_us)
{
    double now = (double)now_us / 1e6;
    entry_log(find_entry(s, method, name, now), resp_ms, content_len, error != NULL, now);
    entry_log(&s->total, resp_ms, content_len, error != NULL, now);
    if (error) {
        char key[65];
        rr_wstats_error_key(method, name, error, key);
        find_error(s, key, method, name, error)->occ++;
    }
}

static void entry_merge(struct wk_entry *d, const struct wk_entry *x)
{
    if (x->start_time < d->start_time)
        d->start_time = x->start_time;
    if (x->last_ts > d->last_ts)
        d->last_ts = x->last_ts;
    d->num_requests += x->num_requests;
    d->num_none += x->num_none;
    d->num_failures += x->num_failures;
    d->content += x->content;
    d->total_rt += x->total_rt;
    if (x->max_rt > d->max_rt)
        d->max_rt = x->max_rt;
    if (x->min_rt >= 0 && (d->min_rt < 0 || x->min_rt < d->min_rt))
        d->min_rt = x->min_rt;
    for (size_t i = 0; i < x->rt.n; i++)
        kvs_add(&d->rt, x->rt.v[i].k, x->rt.v[i].n);
    for (size_t i = 0; i < x->rps.n; i++)
        kvs_add(&d->rps, x->rps.v[i].k, x->rps.v[i].n);
    for (size_t i = 0; i < x->fps.n; i++)
        kvs_add(&d->fps, x->fps.v[i].k, x->fps.v[i].n);
}

void rr_wstats_merge(struct rr_wstats *dst, const struct rr_wstats *src)
{
    for (size_t i = 0; i < src->ne; i++) {
        const struct wk_entry *x = &src->e[i];
        entry_merge(find_entry(dst, x->method, x->name, x->start_time), x);
    }
    entry_merge(&dst->total, &src->total);
    for (size_t i = 0; i < src->nerr; i++) {
        const struct wk_error *x = &src->err[i];
        find_error(dst, x->key, x->method, x->name, x->error)->occ += x->occ;
    }
}

/* ---- serialisation ----------------------------------------------------------------------- */

static void pack_kvs(msgpack_packer *pk, const struct wk_kvs *a)
{
    msgpack_pack_map(pk, a->n);
    for (size_t i = 0; i < a->n; i++) {
        msgpack_pack_int64(pk, a->v[i].k);
        msgpack_pack_uint64(pk, a->v[i].n);
    }
}

static void pack_entry(msgpack_packer *pk, const struct wk_entry *e)
{
    /* StatsEntryDict's keys, in its order */
    msgpack_pack_map(pk, 14);
    wk_pack_cstr(pk, "name");
    wk_pack_cstr(pk, e->name);
    wk_pack_cstr(pk, "method");
    wk_pack_cstr(pk, e->method);
    wk_pack_cstr(pk, "last_request_timestamp");
    if (e->last_ts < 0)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_double(pk, e->last_ts);
    wk_pack_cstr(pk, "start_time");
    msgpack_pack_double(pk, e->start_time);
    wk_pack_cstr(pk, "num_requests");
    msgpack_pack_uint64(pk, e->num_requests);
    wk_pack_cstr(pk, "num_none_requests");
    msgpack_pack_uint64(pk, e->num_none);
    wk_pack_cstr(pk, "num_failures");
    msgpack_pack_uint64(pk, e->num_failures);
    wk_pack_cstr(pk, "total_response_time");
    msgpack_pack_double(pk, e->total_rt);
    wk_pack_cstr(pk, "max_response_time");
    msgpack_pack_double(pk, e->max_rt);
    wk_pack_cstr(pk, "min_response_time");
    if (e->min_rt < 0)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_double(pk, e->min_rt);
    wk_pack_cstr(pk, "total_content_length");
    msgpack_pack_uint64(pk, e->content);
    wk_pack_cstr(pk, "response_times");
    pack_kvs(pk, &e->rt);
    wk_pack_cstr(pk, "num_reqs_per_sec");
    pack_kvs(pk, &e->rps);
    wk_pack_cstr(pk, "num_fail_per_sec");
    pack_kvs(pk, &e->fps);
}

void wk_pack_stats(msgpack_packer *pk, const struct rr_wstats *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->ne; i++)
        if (s->e[i].num_requests || s->e[i].num_failures)
            n++;
    wk_pack_cstr(pk, "stats");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < s->ne; i++)
        if (s->e[i].num_requests || s->e[i].num_failures)
            pack_entry(pk, &s->e[i]);
    wk_pack_cstr(pk, "stats_total");
    pack_entry(pk, &s->total);
    wk_pack_cstr(pk, "errors");
    msgpack_pack_map(pk, s->nerr);
    for (size_t i = 0; i < s->nerr; i++) {
        const struct wk_error *x = &s->err[i];
        wk_pack_cstr(pk, x->key);
        msgpack_pack_map(pk, 4);
        wk_pack_cstr(pk, "name");
        wk_pack_cstr(pk, x->name);
        wk_pack_cstr(pk, "method");
        wk_pack_cstr(pk, x->method);
        wk_pack_cstr(pk, "error");
        wk_pack_cstr(pk, x->error);
        wk_pack_cstr(pk, "occurrences");
        msgpack_pack_uint64(pk, x->occ);
    }
}

/* ---- Python repr() of a str ----------------------------------------------------------- */

/* Locust keys errors by repr(); the stats module already renders it as Python does. */
char *wk_pyrepr(const char *s)
{
    struct rr_buf b;
    rr_buf_init(&b);
    rr_stats_pyrepr(s, &b);
    rr_buf_cstr(&b);
    return (char *)rr_buf_take(&b, NULL);
}
