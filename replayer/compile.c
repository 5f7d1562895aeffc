/* SPDX-License-Identifier: MIT */
/* compile.c -- Turns a plan (or the store's recorded exchanges) into what workers run.
 *
 * Everything here happens once, before the threads start: templates are compiled, static
 * requests are serialised once (the native engine then sends the same bytes every time),
 * regexes are compiled, CSV pools are read, the safety rule is applied to static targets.
 * The result is read-only while the run lasts. */
#define _GNU_SOURCE
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rp_int.h"
#include "rr/store.h"

static const char *const hop_by_hop[] = {
    "host", "content-length", "connection",        "keep-alive", "proxy-connection",
    "te",   "trailer",        "transfer-encoding", "upgrade",    NULL,
};

static bool skip_header(const char *name, size_t len)
{
    if (len && name[0] == ':')
        return true; /* HTTP/2 pseudo-headers */
    for (int i = 0; hop_by_hop[i]; i++) {
        if (strlen(hop_by_hop[i]) == len && strncasecmp(hop_by_hop[i], name, len) == 0)
            return true;
    }
    return false;
}

static bool method_has_body(const char *m)
{
    return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
}

void rp__wire_build(const struct rr_replay *r, const char *method, struct rr_view target,
                    const struct rr_buf *hdrs, struct rr_view body, bool body_framing,
                    struct rr_buf *out)
{
    rr_buf_adds(out, method);
    rr_buf_addc(out, ' ');
    rr_buf_add(out, target.p, target.len);
    rr_buf_adds(out, " HTTP/1.1\r\nHost: ");
    rr_buf_adds(out, r->target.authority);
    rr_buf_adds(out, "\r\n");
    rr_buf_add(out, hdrs->p, hdrs->len);
    if (body.len || body_framing)
        rr_buf_printf(out, "Content-Length: %zu\r\n", body.len);
    rr_buf_adds(out, "\r\n");
    rr_buf_add(out, body.p, body.len);
}

static bool host_allowed(const struct rr_replay *r, const char *auth, size_t len)
{
    for (size_t i = 0; i < r->n_allow; i++) {
        const char *a = r->allow[i];
        size_t al = strlen(a);
        if (al == len && strncasecmp(a, auth, len) == 0)
            return true;
        /* "name" allows any port of name */
        const char *colon = memrchr(auth, ':', len);
        if (colon && !strchr(a, ':') && (size_t)(colon - auth) == al &&
            strncasecmp(a, auth, al) == 0)
            return true;
    }
    return false;
}

int rp__target_check(const struct rr_replay *r, struct rr_view target, struct rr_view *path,
                     bool *foreign, char *err, size_t errlen)
{
    const char *t = (const char *)target.p;
    size_t skip;

    *foreign = false;
    *path = target;
    if (target.len >= 7 && strncasecmp(t, "http://", 7) == 0)
        skip = 7;
    else if (target.len >= 8 && strncasecmp(t, "https://", 8) == 0)
        skip = 8;
    else
        return 0;
    const char *a = t + skip, *end = t + target.len;
    const char *slash = memchr(a, '/', (size_t)(end - a));
    size_t alen = (size_t)((slash ? slash : end) - a);
    bool same_scheme = (skip == 8) == r->target.tls;
    if (same_scheme && alen == strlen(r->target.authority) &&
        strncasecmp(a, r->target.authority, alen) == 0) {
        *path = slash ? rr_view_of(slash, (size_t)(end - slash)) : rr_view_of("/", 1);
        return 0;
    }
    if (host_allowed(r, a, alen)) {
        *foreign = true;
        return 0;
    }
    snprintf(err, errlen,
             "InvalidURL('%.*s: host %.*s is not the target %s (allow it with --allow-host)')",
             (int)(target.len > 200 ? 200 : target.len), t, (int)alen, a, r->target.authority);
    return RR_EUSAGE;
}

void rp__step_fini(struct rp_step *s)
{
    free(s->name);
    free(s->method);
    rp__tmpl_fini(&s->target);
    for (size_t i = 0; i < s->n_headers; i++)
        rp__tmpl_fini(&s->headers[i].value);
    free(s->headers);
    rp__tmpl_fini(&s->body);
    free(s->wire);
    for (size_t i = 0; i < s->n_extracts; i++)
        pcre2_code_free(s->extracts[i].re);
    free(s->extracts);
    for (size_t i = 0; i < s->n_owned; i++)
        free(s->owned[i]);
    free(s->owned);
    free((void *)s->bad_target);
    memset(s, 0, sizeof(*s));
}

static char *own(struct rp_step *s, const void *p, size_t len)
{
    char *c = rr_xstrndup(p ? p : "", len);
    s->owned = rr_xrealloc(s->owned, (s->n_owned + 1) * sizeof(*s->owned));
    s->owned[s->n_owned++] = c;
    return c;
}

/* Serialises a static step once; a refused static target is remembered as its error. */
static void finish_step(struct rr_replay *r, struct rp_step *s)
{
    s->is_static = s->target.is_static && s->body.is_static;
    for (size_t i = 0; i < s->n_headers; i++)
        s->is_static = s->is_static && s->headers[i].value.is_static;
    if (!s->target.is_static)
        return;
    struct rr_buf t, h, b, w;
    char err[512];
    struct rr_view path;
    bool foreign;
    rr_buf_init(&t);
    rr_buf_init(&h);
    rr_buf_init(&b);
    rr_buf_init(&w);
    rp__tmpl_expand(&s->target, NULL, &t);
    if (rp__target_check(r, rr_view_of(t.p, t.len), &path, &foreign, err, sizeof(err))) {
        s->bad_target = rr_xstrdup(err);
    } else if (foreign) {
        s->foreign = true;
    } else if (s->is_static) {
        for (size_t i = 0; i < s->n_headers; i++) {
            rr_buf_adds(&h, s->headers[i].name);
            rr_buf_adds(&h, ": ");
            rp__tmpl_expand(&s->headers[i].value, NULL, &h);
            rr_buf_adds(&h, "\r\n");
        }
        rp__tmpl_expand(&s->body, NULL, &b);
        rp__wire_build(r, s->method, path, &h, rr_view_of(b.p, b.len), method_has_body(s->method),
                       &w);
        s->wire = rr_buf_take(&w, &s->wire_len);
    }
    rr_buf_fini(&t);
    rr_buf_fini(&h);
    rr_buf_fini(&b);
    rr_buf_fini(&w);
}

static void add_entry(struct rr_replay *r, struct rp_step *s)
{
    r->all_steps = rr_xrealloc(r->all_steps, (r->n_steps + 1) * sizeof(*r->all_steps));
    s->entry = (int)r->n_steps;
    r->all_steps[r->n_steps++] = s;
}

static int compile_step(struct rr_replay *r, struct rp_flow *f, const struct rr_plan_step *src,
                        struct rp_step *s, char *why, size_t whylen)
{
    struct rp_vars *vars = &r->plan.vars;
    char sub[400];
    int rc;

    memset(s, 0, sizeof(*s));
    s->src = src;
    s->cookie_hdr = -1;
    s->name = rr_xstrdup(src->name && *src->name ? src->name : (src->target ? src->target : "/"));
    s->method = rr_xstrdup(src->method && *src->method ? src->method : "GET");
    s->is_head = strcmp(s->method, "HEAD") == 0;
    s->think_us = src->think_us;
    if (src->n_think_q >= 2) {
        s->n_think_q = src->n_think_q;
        s->think_q_us = src->think_q_us;
    }
    rc = rp__tmpl_compile(&s->target, src->target, src->target ? strlen(src->target) : 0, vars, sub,
                          sizeof(sub));
    if (rc)
        goto fail;
    s->headers = rr_xcalloc(src->n_headers + 1, sizeof(*s->headers));
    for (size_t i = 0; i < src->n_headers; i++) {
        const char *n = src->headers[i].name,
                   *v = src->headers[i].value ? src->headers[i].value : "";
        if (skip_header(n, strlen(n)))
            continue;
        struct rp_header *h = &s->headers[s->n_headers];
        h->name = n;
        rc = rp__tmpl_compile(&h->value, v, strlen(v), vars, sub, sizeof(sub));
        if (rc)
            goto fail;
        if (strcasecmp(n, "cookie") == 0)
            s->cookie_hdr = (int)s->n_headers;
        s->n_headers++;
    }
    rc = rp__tmpl_compile(&s->body, src->body, src->body_len, vars, sub, sizeof(sub));
    if (rc)
        goto fail;
    /* Extracted names become known to later steps only. */
    s->extracts = rr_xcalloc(src->n_extracts + 1, sizeof(*s->extracts));
    s->n_extracts = src->n_extracts;
    for (size_t i = 0; i < src->n_extracts; i++) {
        struct rp_extract *e = &s->extracts[i];
        e->var = rp__var_add(vars, src->extracts[i].var);
        e->kind = src->extracts[i].kind;
        e->expr = src->extracts[i].expr ? src->extracts[i].expr : "";
        if (e->kind == RR_EXTRACT_REGEX) {
            int ec;
            PCRE2_SIZE off;
            e->re = pcre2_compile((PCRE2_SPTR)e->expr, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
            if (!e->re) {
                PCRE2_UCHAR msg[128];
                pcre2_get_error_message(ec, msg, sizeof(msg));
                snprintf(sub, sizeof(sub), "regex of ${%s} at offset %zu: %s", src->extracts[i].var,
                         (size_t)off, (char *)msg);
                rc = RR_EPARSE;
                goto fail;
            }
        }
        if (e->kind == RR_EXTRACT_JSON || e->kind == RR_EXTRACT_REGEX)
            s->need_body = true;
        s->need_headers = true;
    }
    for (size_t i = 0; i < src->n_checks; i++) {
        enum rr_check_kind k = src->checks[i].kind;
        if (k == RR_CHECK_JSON_EQ || k == RR_CHECK_BODY_CONTAINS)
            s->need_body = true;
        if (k == RR_CHECK_STATUS)
            s->has_status_check = true;
    }
    finish_step(r, s);
    add_entry(r, s);
    return 0;
fail:
    snprintf(why, whylen, "flow %s, step %s: %s", f->name, s->name, sub);
    return rc;
}

static int compile_list(struct rr_replay *r, struct rp_flow *f, const struct rr_plan_step *src,
                        size_t n, struct rp_step **out, char *why, size_t whylen)
{
    *out = rr_xcalloc(n + 1, sizeof(**out));
    for (size_t i = 0; i < n; i++) {
        int rc = compile_step(r, f, &src[i], &(*out)[i], why, whylen);
        if (rc)
            return rc;
    }
    return 0;
}

static void flow_pools(struct rr_replay *r, struct rp_flow *f)
{
    struct rp_step *lists[3] = {f->on_start, f->steps, f->on_stop};
    size_t ns[3] = {f->n_on_start, f->n_steps, f->n_on_stop};
    f->pools = rr_xcalloc(r->plan.n_pools + 1, sizeof(int));
    for (size_t p = 0; p < r->plan.n_pools; p++) {
        bool used = false;
        for (int l = 0; l < 3 && !used; l++) {
            for (size_t i = 0; i < ns[l] && !used; i++) {
                struct rp_step *s = &lists[l][i];
                struct rp_tmpl *ts[2] = {&s->target, &s->body};
                for (int k = 0; k < 2; k++)
                    for (size_t j = 0; j < ts[k]->n; j++)
                        used = used || ts[k]->parts[j].var == (int)p;
                for (size_t h = 0; h < s->n_headers; h++)
                    for (size_t j = 0; j < s->headers[h].value.n; j++)
                        used = used || s->headers[h].value.parts[j].var == (int)p;
            }
        }
        if (used)
            f->pools[f->n_pools++] = (int)p;
    }
}

/* Reads one column of a CSV file (a header line is data too: the plan says which column).
 * Quoted fields with "" escapes are understood. */
static int load_csv(struct rp_pool *pool, const char *path, unsigned col, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    if (!f) {
        snprintf(why, whylen, "pool %s: %s: %s", pool->name, path, strerror(errno));
        return -errno;
    }
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0)
            continue;
        struct rr_buf v;
        rr_buf_init(&v);
        unsigned c = 0;
        for (char *p = line; c <= col;) {
            bool q = *p == '"';
            if (q)
                p++;
            while (*p && (q || *p != ',')) {
                if (q && *p == '"') {
                    if (p[1] == '"')
                        p++;
                    else {
                        q = false;
                        p++;
                        continue;
                    }
                }
                if (c == col)
                    rr_buf_addc(&v, (uint8_t)*p);
                p++;
            }
            if (c == col)
                break;
            if (*p != ',')
                break;
            p++;
            c++;
        }
        pool->owned = rr_xrealloc(pool->owned, (pool->n + 1) * sizeof(char *));
        pool->owned[pool->n++] = rr_xstrdup(rr_buf_cstr(&v));
        rr_buf_fini(&v);
    }
    free(line);
    fclose(f);
    pool->values = pool->owned;
    if (!pool->n) {
        snprintf(why, whylen, "pool %s: %s has no values", pool->name, path);
        return RR_EPARSE;
    }
    return 0;
}

int rp__compile(struct rr_replay *r, const struct rr_plan *plan, char *why, size_t whylen)
{
    struct rp_plan *p = &r->plan;
    int rc;

    p->wait = plan->wait;
    if (p->wait.scale <= 0)
        p->wait.scale = 1.0;
    p->n_pools = plan->n_pools;
    p->pools = rr_xcalloc(plan->n_pools + 1, sizeof(*p->pools));
    for (size_t i = 0; i < plan->n_pools; i++) {
        const struct rr_plan_pool *src = &plan->pools[i];
        struct rp_pool *d = &p->pools[i];
        d->name = src->name;
        d->mode = src->mode;
        d->scope = src->scope;
        d->n = src->n_values;
        d->values = src->values;
        atomic_init(&d->next, 0);
        if (rp__var_add(&p->vars, src->name) != (int)i) {
            snprintf(why, whylen, "pool %s is defined twice", src->name);
            return RR_EPARSE;
        }
        if (!d->n && src->csv_path) {
            rc = load_csv(d, src->csv_path, src->csv_column, why, whylen);
            if (rc)
                return rc;
        }
        if (!d->n) {
            snprintf(why, whylen, "pool %s has no values", src->name);
            return RR_EPARSE;
        }
    }
    p->n_flows = plan->n_flows;
    p->flows = rr_xcalloc(plan->n_flows + 1, sizeof(*p->flows));
    for (size_t i = 0; i < plan->n_flows; i++) {
        const struct rr_plan_flow *src = &plan->flows[i];
        struct rp_flow *f = &p->flows[i];
        size_t mark = p->vars.n;
        f->name = src->name ? src->name : "flow";
        f->weight = src->weight;
        f->n_on_start = src->n_on_start;
        f->n_steps = src->n_steps;
        f->n_on_stop = src->n_on_stop;
        rc = compile_list(r, f, src->on_start, src->n_on_start, &f->on_start, why, whylen);
        if (!rc)
            rc = compile_list(r, f, src->steps, src->n_steps, &f->steps, why, whylen);
        if (!rc)
            rc = compile_list(r, f, src->on_stop, src->n_on_stop, &f->on_stop, why, whylen);
        if (rc)
            return rc;
        (void)mark;
        flow_pools(r, f);
        p->total_weight += f->weight;
    }
    p->before.name = "before";
    p->before.n_steps = plan->n_before;
    rc = compile_list(r, &p->before, plan->before, plan->n_before, &p->before.steps, why, whylen);
    if (rc)
        return rc;
    p->after.name = "after";
    p->after.n_steps = plan->n_after;
    rc = compile_list(r, &p->after, plan->after, plan->n_after, &p->after.steps, why, whylen);
    if (rc)
        return rc;
    flow_pools(r, &p->before);
    flow_pools(r, &p->after);
    if (r->o.mode != RR_REPLAY_TIMELINE && !r->o.single_user && p->total_weight == 0) {
        snprintf(why, whylen, "the plan has no flow with a weight above 0");
        return RR_EPARSE;
    }
    return 0;
}

/* ---------------------------------------------------------------- timeline */

struct tl_ctx {
    struct rr_replay *r;
    struct rr_store *store;
    uint64_t first_us;
    char *why;
    size_t whylen;
    int rc;
};

static struct rp_tl_conn *tl_conn(struct rr_replay *r, uint64_t conn_id, uint64_t **ids)
{
    struct rp_plan *p = &r->plan;
    for (size_t i = 0; i < p->n_tl; i++) {
        if ((*ids)[i] == conn_id)
            return &p->tl[i];
    }
    p->tl = rr_xrealloc(p->tl, (p->n_tl + 1) * sizeof(*p->tl));
    *ids = rr_xrealloc(*ids, (p->n_tl + 1) * sizeof(**ids));
    (*ids)[p->n_tl] = conn_id;
    memset(&p->tl[p->n_tl], 0, sizeof(p->tl[0]));
    return &p->tl[p->n_tl++];
}

struct tl_walk {
    struct tl_ctx *c;
    uint64_t *ids;
};

static int tl_exchange(const struct rr_exchange *x, void *ud)
{
    struct tl_walk *tw = ud;
    struct tl_ctx *c = tw->c;
    struct rr_replay *r = c->r;
    struct rr_buf body;
    int rc;

    if (x->flags & RR_XF_PUSH || !x->method.len || !x->t_req_start_us)
        return 0;
    if (!c->first_us)
        c->first_us = x->t_req_start_us;
    struct rp_tl_conn *tc = tl_conn(r, x->conn_id, &tw->ids);
    tc->steps = rr_xrealloc(tc->steps, (tc->n + 1) * sizeof(*tc->steps));
    struct rp_step *s = &tc->steps[tc->n++];
    memset(s, 0, sizeof(*s));
    s->cookie_hdr = -1;
    s->method = rr_xstrndup((const char *)x->method.p, x->method.len);
    s->is_head = strcmp(s->method, "HEAD") == 0;
    const char *tgt = own(s, x->target.p, x->target.len);
    const char *q = strchr(tgt, '?');
    s->name = rr_xstrndup(tgt, q ? (size_t)(q - tgt) : strlen(tgt));
    s->at_us = x->t_req_start_us >= c->first_us ? x->t_req_start_us - c->first_us : 0;
    /* Recorded bytes are literal: no ${} substitution. */
    s->target.parts = rr_xcalloc(1, sizeof(struct rp_part));
    s->target.parts[0] = (struct rp_part){-1, tgt, strlen(tgt)};
    s->target.n = 1;
    s->headers = rr_xcalloc(x->n_req_headers + 1, sizeof(*s->headers));
    for (size_t i = 0; i < x->n_req_headers; i++) {
        const struct rr_header *h = &x->req_headers[i];
        if (skip_header((const char *)h->name.p, h->name.len))
            continue;
        struct rp_header *d = &s->headers[s->n_headers++];
        d->name = own(s, h->name.p, h->name.len);
        const char *v = own(s, h->value.p, h->value.len);
        d->value.parts = rr_xcalloc(1, sizeof(struct rp_part));
        d->value.parts[0] = (struct rp_part){-1, v, h->value.len};
        d->value.n = 1;
        d->value.is_static = true;
    }
    rr_buf_init(&body);
    if (x->req_body.len) {
        rc = rr_store_body_get(c->store, &x->req_body, &body);
        if (rc) {
            snprintf(c->why, c->whylen, "exchange %llu: its request body: %s",
                     (unsigned long long)x->id, rr_strerror(rc));
            rr_buf_fini(&body);
            return rc;
        }
    }
    if (body.len) {
        const char *b = own(s, body.p, body.len);
        s->body.parts = rr_xcalloc(1, sizeof(struct rp_part));
        s->body.parts[0] = (struct rp_part){-1, b, body.len};
        s->body.n = 1;
    }
    s->body.is_static = true;
    rr_buf_fini(&body);
    return 0;
}

static void tl_sort(struct rp_tl_conn *tc)
{
    /* Capture order is nearly time order already: insertion sort by time, stable. */
    for (size_t i = 1; i < tc->n; i++) {
        struct rp_step s = tc->steps[i];
        size_t j = i;
        while (j > 0 && tc->steps[j - 1].at_us > s.at_us) {
            tc->steps[j] = tc->steps[j - 1];
            j--;
        }
        tc->steps[j] = s;
    }
}

int rp__compile_timeline(struct rr_replay *r, struct rr_store *store, char *why, size_t whylen)
{
    struct tl_ctx c = {r, store, 0, why, whylen, 0};
    struct tl_walk tw = {&c, NULL};
    int rc = rr_store_exchange_foreach(store, 0, tl_exchange, &tw);
    free(tw.ids);
    if (rc) {
        if (!*why)
            snprintf(why, whylen, "reading the exchanges: %s", rr_strerror(rc));
        return rc;
    }
    if (!r->plan.n_tl) {
        snprintf(why, whylen, "the store has no recorded requests to replay");
        return RR_ENOTFOUND;
    }
    for (size_t i = 0; i < r->plan.n_tl; i++) {
        struct rp_tl_conn *tc = &r->plan.tl[i];
        tl_sort(tc);
        for (size_t j = 0; j < tc->n; j++) {
            finish_step(r, &tc->steps[j]);
            add_entry(r, &tc->steps[j]);
        }
    }
    return 0;
}

static void flow_fini(struct rp_flow *f)
{
    for (size_t i = 0; i < f->n_on_start && f->on_start; i++)
        rp__step_fini(&f->on_start[i]);
    for (size_t i = 0; i < f->n_steps && f->steps; i++)
        rp__step_fini(&f->steps[i]);
    for (size_t i = 0; i < f->n_on_stop && f->on_stop; i++)
        rp__step_fini(&f->on_stop[i]);
    free(f->on_start);
    free(f->steps);
    free(f->on_stop);
    free(f->pools);
}

void rp__plan_fini(struct rp_plan *p)
{
    for (size_t i = 0; i < p->n_flows; i++)
        flow_fini(&p->flows[i]);
    free(p->flows);
    flow_fini(&p->before);
    flow_fini(&p->after);
    for (size_t i = 0; i < p->n_pools; i++) {
        for (size_t j = 0; p->pools[i].owned && j < p->pools[i].n; j++)
            free(p->pools[i].owned[j]);
        free(p->pools[i].owned);
    }
    free(p->pools);
    for (size_t i = 0; i < p->n_tl; i++) {
        for (size_t j = 0; j < p->tl[i].n; j++)
            rp__step_fini(&p->tl[i].steps[j]);
        free(p->tl[i].steps);
    }
    free(p->tl);
    for (size_t i = 0; i < p->vars.n; i++)
        free(p->vars.names[i]);
    free(p->vars.names);
    memset(p, 0, sizeof(*p));
}
