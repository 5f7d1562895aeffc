/* SPDX-License-Identifier: MIT */
/* vu.c -- A virtual user: a state machine over its flow's steps.
 *
 * States: VU_IDLE (between transitions, or free in rate mode), VU_THINKING (timer armed),
 * VU_IN_FLIGHT (the engine owns the request), VU_DONE. Phases: on_start once, steps in order
 * every iteration, on_stop once. Every transition goes through next(); a response comes back
 * through rp__vu_response(), which extracts, checks, records and then calls next(). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rp_int.h"
#include "rr/log.h"
#include "rr/util.h"

static void next(struct rp_vu *vu);

static uint64_t now_us(void)
{
    return rr_now_mono_us();
}

static void set_val(struct rp_vu *vu, int var, const void *p, size_t len)
{
    struct rp_val *v = &vu->vals[var];
    v->p = rr_xrealloc(v->p, len + 1);
    memcpy(v->p, p, len);
    v->p[len] = 0;
    v->len = len;
}

/* Draws the flow's pools of the given scope. Returns false when a unique pool ran dry: the
 * run stops then, as Locust's queue pattern does. */
static bool draw_pools(struct rp_vu *vu, enum rr_pool_scope scope)
{
    struct rp_worker *w = vu->w;
    struct rr_replay *r = w->r;
    const struct rp_flow *f = vu->flow;
    for (size_t i = 0; i < f->n_pools; i++) {
        struct rp_pool *p = &r->plan.pools[f->pools[i]];
        size_t k;
        if (p->scope != scope)
            continue;
        switch (p->mode) {
        case RR_POOL_UNIQUE:
            k = atomic_fetch_add(&p->next, 1);
            if (k >= p->n) {
                /* The first user to find it empty says why the whole test stops. */
                if (!atomic_exchange(&r->stop_all, 1))
                    rr_log(RR_LOG_WARN,
                           "unique pool %s is empty: all %zu values used, stopping the test",
                           p->name, p->n);
                return false;
            }
            break;
        case RR_POOL_ROUNDROBIN:
            k = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed) % p->n;
            break;
        default:
            k = (size_t)(rp__rand(w) % p->n);
            break;
        }
        set_val(vu, f->pools[i], p->values[k], strlen(p->values[k]));
    }
    return true;
}

/* Picks the next flow by weight with a smooth weighted round robin (each flow earns its
 * weight per pick, the richest is chosen and pays the total): over any run the flows' shares
 * of iterations follow the weights to within one pick per thread, interleaved, where a random
 * draw would wander by several percent over thousands of iterations. */
static const struct rp_flow *pick_flow(struct rp_worker *w)
{
    const struct rp_plan *p = &w->r->plan;
    if (p->n_flows <= 1 || !p->total_weight)
        return &p->flows[0];
    size_t best = 0;
    for (size_t i = 0; i < p->n_flows; i++) {
        w->flow_credit[i] += p->flows[i].weight;
        if (w->flow_credit[i] > w->flow_credit[best])
            best = i;
    }
    w->flow_credit[best] -= (int64_t)p->total_weight;
    return &p->flows[best];
}

void rp__vu_init(struct rp_worker *w, struct rp_vu *vu, unsigned id)
{
    memset(vu, 0, sizeof(*vu));
    vu->w = w;
    vu->id = id;
    vu->vals = rr_xcalloc(w->r->plan.vars.n + 1, sizeof(*vu->vals));
    rr_buf_init(&vu->jar);
    rr_buf_init(&vu->scratch);
    rr_buf_init(&vu->hdrs);
    rr_buf_init(&vu->url);
}

void rp__vu_fini(struct rp_vu *vu)
{
    if (vu->conn)
        vu->w->r->eng->conn_free(vu->conn);
    vu->conn = NULL;
    rr_timer_stop(vu->w->loop, &vu->timer);
    for (size_t i = 0; i < vu->w->r->plan.vars.n; i++)
        free(vu->vals[i].p);
    free(vu->vals);
    rr_buf_fini(&vu->jar);
    rr_buf_fini(&vu->scratch);
    rr_buf_fini(&vu->hdrs);
    rr_buf_fini(&vu->url);
}

static void finish(struct rp_vu *vu)
{
    if (vu->state == VU_DONE)
        return;
    rr_timer_stop(vu->w->loop, &vu->timer);
    vu->state = VU_DONE;
    vu->phase = PH_END;
    rp__worker_vu_done(vu->w, vu);
}

static void timer_next(struct rr_timer *t)
{
    struct rp_vu *vu = (struct rp_vu *)((char *)t - offsetof(struct rp_vu, timer));
    vu->state = VU_IDLE;
    next(vu);
}

static void think(struct rp_vu *vu, uint64_t us)
{
    vu->state = VU_THINKING;
    rr_timer_start(vu->w->loop, &vu->timer, rr_loop_now(vu->w->loop) + us);
}

/* ---------------------------------------------------------------- sending */

/* Records a failure that happened before anything was sent, then moves on from a timer so
 * a dead target cannot recurse. */
static void fail_now(struct rp_vu *vu, const struct rp_step *s, const char *err)
{
    struct rp_resp resp = {0};
    resp.error = err;
    resp.t_done_us = now_us();
    vu->state = VU_IN_FLIGHT;
    rp__vu_response(vu, &resp);
}

static void context_str(struct rp_vu *vu, struct rr_buf *out)
{
    const struct rp_vars *v = &vu->w->r->plan.vars;
    for (size_t i = 0; i < v->n; i++) {
        if (!vu->vals[i].p)
            continue;
        if (out->len)
            rr_buf_adds(out, ", ");
        rr_buf_printf(out, "%s=%.*s", v->names[i],
                      (int)(vu->vals[i].len > 80 ? 80 : vu->vals[i].len), vu->vals[i].p);
    }
}

static void send_step(struct rp_vu *vu, const struct rp_step *s)
{
    struct rp_worker *w = vu->w;
    struct rr_replay *r = w->r;
    struct rp_out *o = &vu->out;
    const char *err;
    bool native = r->eng == &rp__engine_native;

    vu->cur = s;
    memset(o, 0, sizeof(*o));
    o->method = s->method;
    o->is_head = s->is_head;
    o->need_body = s->need_body;
    o->need_headers = s->need_headers;
    vu->sent_us = now_us();
    if (vu->intended_us && vu->intended_us < vu->sent_us)
        vu->sent_us = vu->intended_us; /* open model: measured from the intended start */
    vu->intended_us = 0;
    if (!vu->conn)
        vu->conn = r->eng->conn_new(w, vu);
    if (s->bad_target) {
        fail_now(vu, s, s->bad_target);
        return;
    }
    if (native && s->wire && !vu->jar.len) {
        o->wire = rr_view_of(s->wire, s->wire_len);
    } else {
        /* Expand target, headers and body into the user's buffers. */
        struct rr_view path;
        bool foreign = false;
        rr_buf_reset(&vu->url);
        rr_buf_reset(&vu->hdrs);
        rr_buf_reset(&vu->scratch);
        rp__tmpl_expand(&s->target, vu->vals, &vu->scratch);
        if (!vu->scratch.len)
            rr_buf_addc(&vu->scratch, '/');
        if (rp__target_check(r, rr_view_of(vu->scratch.p, vu->scratch.len), &path, &foreign,
                             w->errbuf, sizeof(w->errbuf))) {
            fail_now(vu, s, w->errbuf);
            return;
        }
        if (foreign && native) {
            fail_now(vu, s, "InvalidURL('another host needs --engine curl')");
            return;
        }
        bool cookie_done = false;
        for (size_t i = 0; i < s->n_headers; i++) {
            rr_buf_adds(&vu->hdrs, s->headers[i].name);
            rr_buf_adds(&vu->hdrs, ": ");
            rp__tmpl_expand(&s->headers[i].value, vu->vals, &vu->hdrs);
            if ((int)i == s->cookie_hdr && vu->jar.len) {
                /* The jar's cookies join the recorded ones (a browser sends both). */
                rr_buf_adds(&vu->hdrs, "; ");
                rr_buf_add(&vu->hdrs, vu->jar.p, vu->jar.len);
                cookie_done = true;
            }
            rr_buf_adds(&vu->hdrs, "\r\n");
        }
        if (!cookie_done && vu->jar.len) {
            rr_buf_adds(&vu->hdrs, "Cookie: ");
            rr_buf_add(&vu->hdrs, vu->jar.p, vu->jar.len);
            rr_buf_adds(&vu->hdrs, "\r\n");
        }
        size_t body_off = vu->scratch.len;
        /* The path lies in scratch (or is a literal): a large body may move scratch. */
        bool path_in_scratch = path.p >= vu->scratch.p && path.p < vu->scratch.p + vu->scratch.len;
        size_t path_off = path_in_scratch ? (size_t)(path.p - vu->scratch.p) : 0;
        rp__tmpl_expand(&s->body, vu->vals, &vu->scratch);
        if (path_in_scratch)
            path.p = vu->scratch.p + path_off;
        struct rr_view body = rr_view_of(vu->scratch.p + body_off, vu->scratch.len - body_off);
        if (native) {
            bool framing = !strcmp(s->method, "POST") || !strcmp(s->method, "PUT") ||
                           !strcmp(s->method, "PATCH");
            rp__wire_build(r, s->method, path, &vu->hdrs, body, framing, &vu->url);
            o->wire = rr_view_of(vu->url.p, vu->url.len);
        } else {
            if (foreign)
                rr_buf_add(&vu->url, path.p, path.len);
            else {
                rr_buf_adds(&vu->url, r->target.base);
                rr_buf_add(&vu->url, path.p, path.len);
            }
            rr_buf_cstr(&vu->url);
            o->url = (const char *)vu->url.p;
            o->hdrs = rr_view_of(vu->hdrs.p, vu->hdrs.len);
            o->body = body;
            if (s->is_static && !vu->jar.len)
                o->key = s;
        }
    }
    if (!native && !o->url) {
        rr_buf_reset(&vu->url);
        rr_buf_adds(&vu->url, r->target.base);
        rp__tmpl_expand(&s->target, NULL, &vu->url);
        rr_buf_cstr(&vu->url);
        o->url = (const char *)vu->url.p;
    }
    vu->state = VU_IN_FLIGHT;
    err = r->eng->send(vu->conn, o);
    if (err) {
        vu->state = VU_IDLE;
        fail_now(vu, s, err);
    }
}

/* ---------------------------------------------------------------- transitions */

static bool begin_iteration(struct rp_vu *vu)
{
    struct rr_replay *r = vu->w->r;
    if (vu->stopping ||
        (!vu->w->fixed_flow && atomic_load_explicit(&r->stop_all, memory_order_relaxed)))
        return false;
    if (r->o.iterations && !vu->w->fixed_flow) {
        uint64_t k = atomic_fetch_add(&r->iter_budget, 1);
        if (k >= r->o.iterations)
            return false;
    }
    if (!draw_pools(vu, RR_POOL_PER_ITERATION))
        return false;
    vu->in_iteration = true;
    vu->idx = 0;
    vu->iter_start_us = rr_loop_now(vu->w->loop);
    return true;
}

static void end_iteration(struct rp_vu *vu)
{
    vu->in_iteration = false;
    vu->w->counts.iterations++;
}

static void next(struct rp_vu *vu)
{
    struct rp_worker *w = vu->w;
    for (;;) {
        const struct rp_flow *f = vu->flow;
        if (vu->state == VU_DONE)
            return;
        if (vu->tl) {
            if (vu->idx >= vu->tl->n) {
                finish(vu);
                return;
            }
            const struct rp_step *s = &vu->tl->steps[vu->idx];
            double speed = w->r->o.speed > 0 ? w->r->o.speed : 1.0;
            uint64_t due = w->r->start_mono_us + (uint64_t)((double)s->at_us / speed);
            if (due > now_us() + 100) {
                vu->state = VU_THINKING;
                rr_timer_start(w->loop, &vu->timer, due);
                return;
            }
            send_step(vu, s);
            return;
        }
        switch (vu->phase) {
        case PH_ON_START:
            if (vu->idx < f->n_on_start) {
                send_step(vu, &f->on_start[vu->idx]);
                return;
            }
            vu->phase = PH_STEPS;
            vu->idx = 0;
            continue;
        case PH_STEPS:
            if (!vu->in_iteration) {
                if (vu->is_free)
                    return;
                if (!begin_iteration(vu)) {
                    vu->phase = PH_ON_STOP;
                    vu->idx = 0;
                    continue;
                }
            }
            if (vu->idx < f->n_steps) {
                send_step(vu, &f->steps[vu->idx]);
                return;
            }
            end_iteration(vu);
            if (w->r->plan.wait.kind == RR_WAIT_PACING && !vu->stopping) {
                uint64_t want = (uint64_t)(w->r->plan.wait.a * 1e6);
                uint64_t took = rr_loop_now(w->loop) - vu->iter_start_us;
                if (took < want) {
                    think(vu, want - took);
                    return;
                }
            }
            if (w->r->o.mode == RR_REPLAY_RATE || w->r->o.single_user || w->fixed_flow) {
                /* One iteration per arrival; single user: each flow once; before/after:
                 * once. */
                if (w->r->o.single_user || w->fixed_flow || vu->stopping) {
                    vu->phase = PH_ON_STOP;
                    vu->idx = 0;
                    continue;
                }
                vu->is_free = true;
                vu->state = VU_IDLE;
                vu->next_free = w->free_vus;
                w->free_vus = vu;
                return;
            }
            /* Closed model: every iteration picks its flow by weight, as Locust picks a
             * weighted task, so iterations follow the weights whatever the flows' lengths.
             * A user that changes flow ends its session as the recording did (on_stop) and
             * starts the new one as a fresh session would: empty cookie jar, on_start. */
            if (!vu->stopping && w->r->plan.n_flows > 1) {
                const struct rp_flow *nf = pick_flow(w);
                if (nf != vu->flow) {
                    vu->next_flow = nf;
                    vu->phase = PH_ON_STOP;
                    vu->idx = 0;
                }
            }
            continue;
        case PH_ON_STOP:
            if (vu->idx < f->n_on_stop) {
                send_step(vu, &f->on_stop[vu->idx]);
                return;
            }
            if (vu->next_flow) {
                const struct rp_flow *nf = vu->next_flow;
                vu->next_flow = NULL;
                if (!vu->stopping) {
                    vu->flow = nf;
                    vu->phase = PH_ON_START;
                    vu->idx = 0;
                    rr_buf_reset(&vu->jar);
                    if (!draw_pools(vu, RR_POOL_PER_USER)) {
                        finish(vu);
                        return;
                    }
                    continue;
                }
            }
            if (w->r->o.single_user && !w->fixed_flow && !vu->stopping &&
                (size_t)(f - w->r->plan.flows) + 1 < w->r->plan.n_flows) {
                /* single user: the next flow */
                vu->flow = f + 1;
                vu->phase = PH_ON_START;
                vu->idx = 0;
                draw_pools(vu, RR_POOL_PER_USER);
                continue;
            }
            finish(vu);
            return;
        case PH_END:
            finish(vu);
            return;
        }
    }
}

uint64_t rp__think_draw(const uint64_t *q, size_t n, double u)
{
    if (n < 2 || !(u > 0))
        return n ? q[0] : 0;
    double x = u * (double)(n - 1);
    size_t i = (size_t)x;
    if (i >= n - 1)
        return q[n - 1];
    /* the inverse of the recorded CDF, linear between neighbouring quantiles */
    return q[i] + (uint64_t)((double)(q[i + 1] - q[i]) * (x - (double)i));
}

static uint64_t wait_us(struct rp_vu *vu, const struct rp_step *s)
{
    const struct rr_plan_wait *wt = &vu->w->r->plan.wait;
    switch (wt->kind) {
    case RR_WAIT_RECORDED:
        if (s->n_think_q >= 2)
            return (uint64_t)((double)rp__think_draw(s->think_q_us, s->n_think_q,
                                                     rp__rand01(vu->w)) *
                              wt->scale);
        return (uint64_t)((double)s->think_us * wt->scale);
    case RR_WAIT_CONSTANT:
        return (uint64_t)(wt->a * 1e6);
    case RR_WAIT_BETWEEN:
        return (uint64_t)((wt->a + (wt->b - wt->a) * rp__rand01(vu->w)) * 1e6);
    default:
        return 0;
    }
}

/* A body kept for extraction still in its Content-Encoding (the native engine keeps the bytes
 * as received): decoded into dbuf, and the size counted becomes the decoded one, as Locust's. */
static const struct rp_resp *decode_body(const struct rp_resp *resp, struct rp_resp *dec,
                                         struct rr_buf *dbuf, const char **err)
{
    struct rp_inflate inf = {0};
    uint64_t n = 0;
    size_t i;
    for (i = 0; i < resp->n_headers; i++)
        if (rr_view_caseeqs(resp->headers[2 * i], "Content-Encoding"))
            break;
    if (i == resp->n_headers || !rp__ce_decodes(resp->headers[2 * i + 1]))
        return resp;
    rp__inflate_start(&inf);
    if (rp__inflate_feed(&inf, resp->body.p, resp->body.len, dbuf, &n))
        *err = RP_CE_ERROR;
    rp__inflate_fini(&inf);
    *dec = *resp;
    dec->body = rr_view_of(dbuf->p, dbuf->len);
    dec->body_len = n;
    dec->body_decoded = true;
    return dec;
}

void rp__vu_response(struct rp_vu *vu, const struct rp_resp *resp)
{
    struct rp_worker *w = vu->w;
    struct rr_replay *r = w->r;
    const struct rp_step *s = vu->cur;
    const char *err = resp->error;
    char cbuf[600];
    double ms = (double)(resp->t_done_us - vu->sent_us) / 1000.0;

    if (vu->state != VU_IN_FLIGHT)
        return;
    vu->state = VU_IDLE;
    struct rp_resp dec;
    struct rr_buf dbuf;
    rr_buf_init(&dbuf);
    if (!err && !resp->body_decoded && resp->body.len)
        resp = decode_body(resp, &dec, &dbuf, &err);
    if (!err) {
        rp__jar_update(&vu->jar, resp);
        for (size_t i = 0; i < s->n_extracts && !err; i++) {
            const struct rp_extract *e = &s->extracts[i];
            rr_buf_reset(&vu->scratch);
            if (rp__extract(e, resp, w->match_data, &vu->scratch)) {
                snprintf(cbuf, sizeof(cbuf), "CatchResponseError('%s: %.200s not found')",
                         r->plan.vars.names[e->var], e->expr);
                err = cbuf;
            } else {
                set_val(vu, e->var, vu->scratch.p, vu->scratch.len);
            }
        }
        if (!err)
            err = rp__check(s, resp, ms, cbuf, sizeof(cbuf));
    }
    uint64_t resp_us = resp->t_done_us > vu->sent_us ? resp->t_done_us - vu->sent_us : 0;
    rr_stats_record_ts(w->stats, w->entries[s->entry], resp_us, resp->body_len, err,
                       (double)(resp->t_done_us + w->real_off_us) / 1e6);
    w->counts.requests++;
    if (err)
        w->counts.failures++;
    if (r->cb.request) {
        struct rr_replay_request ev = {0};
        struct rr_buf ctx, url;
        rr_buf_init(&ctx);
        rr_buf_init(&url);
        context_str(vu, &ctx);
        rr_buf_adds(&url, r->target.base);
        if (s->target.is_static)
            rp__tmpl_expand(&s->target, NULL, &url);
        else
            rp__tmpl_expand(&s->target, vu->vals, &url);
        ev.method = s->method;
        ev.name = s->name;
        ev.url = rr_buf_cstr(&url);
        ev.response_time_ms = ms;
        ev.response_length = resp->body_len;
        ev.status = resp->error ? 0 : resp->status;
        ev.exception = err;
        ev.start_time_us = vu->sent_us + w->real_off_us;
        ev.user = vu->id;
        ev.context = rr_buf_cstr(&ctx);
        r->cb.request(&ev, r->cb.ud);
        rr_buf_fini(&ctx);
        rr_buf_fini(&url);
    }
    rr_buf_fini(&dbuf); /* resp->body may point into it: only resp->error is read below */
    vu->idx++;
    if (vu->tl) {
        next(vu);
        return;
    }
    if (err && vu->phase == PH_STEPS)
        vu->idx = vu->flow->n_steps; /* a failed step interrupts the iteration */
    if (w->phase == 2)
        return;
    uint64_t wt = vu->phase == PH_STEPS ? wait_us(vu, s) : 0;
    if (vu->stopping && vu->phase == PH_STEPS && vu->idx >= vu->flow->n_steps)
        wt = 0; /* stopping: the iteration is over, go to on_stop now */
    if (wt) {
        think(vu, wt);
        return;
    }
    if (resp->error) {
        /* Transport errors may come back synchronously (a refused connect): yield to the
         * loop before the next try, so a dead target cannot recurse. */
        think(vu, 0);
        return;
    }
    next(vu);
}

/* ---------------------------------------------------------------- entry points */

void rp__vu_spawn(struct rp_vu *vu)
{
    struct rp_worker *w = vu->w;
    rr_timer_init(&vu->timer, timer_next);
    vu->flow = w->fixed_flow         ? w->fixed_flow
               : w->r->o.single_user ? &w->r->plan.flows[0]
                                     : pick_flow(w);
    vu->phase = PH_ON_START;
    vu->idx = 0;
    vu->state = VU_IDLE;
    w->live++;
    if (!draw_pools(vu, RR_POOL_PER_USER)) {
        finish(vu);
        return;
    }
    next(vu);
}

void rp__vu_arrive(struct rp_vu *vu, uint64_t intended_us)
{
    struct rp_worker *w = vu->w;
    const struct rp_flow *f = pick_flow(w);
    if (!vu->flow) {
        rr_timer_init(&vu->timer, timer_next);
        w->live++;
    }
    vu->is_free = false;
    vu->intended_us = intended_us;
    if (vu->flow != f) {
        vu->flow = f;
        vu->phase = PH_ON_START;
        vu->idx = 0;
        if (!draw_pools(vu, RR_POOL_PER_USER)) {
            finish(vu);
            return;
        }
    }
    vu->state = VU_IDLE;
    next(vu);
}

void rp__vu_timeline(struct rp_vu *vu, const struct rp_tl_conn *tl)
{
    rr_timer_init(&vu->timer, timer_next);
    vu->tl = tl;
    vu->idx = 0;
    vu->w->live++;
    /* A recorded connection existed before its first request: open ours ahead too, so the
     * first request is not late by a handshake. */
    if (vu->w->r->eng->preconnect) {
        if (!vu->conn)
            vu->conn = vu->w->r->eng->conn_new(vu->w, vu);
        vu->w->r->eng->preconnect(vu->conn);
    }
    next(vu);
}

void rp__vu_stop(struct rp_vu *vu, bool graceful)
{
    struct rp_worker *w = vu->w;
    if (vu->state == VU_DONE || (!vu->flow && !vu->tl))
        return;
    if (!graceful) {
        if (vu->state == VU_IN_FLIGHT && vu->conn)
            w->r->eng->abort(vu->conn);
        finish(vu);
        return;
    }
    vu->stopping = true;
    if (vu->tl) {
        finish(vu);
        return;
    }
    if (vu->is_free) {
        finish(vu);
        return;
    }
    bool at_boundary = !vu->in_iteration || vu->phase != PH_STEPS || vu->idx >= vu->flow->n_steps;
    if (vu->state == VU_THINKING && at_boundary) {
        rr_timer_stop(w->loop, &vu->timer);
        vu->state = VU_IDLE;
        if (vu->phase == PH_STEPS && vu->in_iteration)
            end_iteration(vu);
        vu->in_iteration = false;
        if (vu->phase == PH_STEPS) {
            vu->phase = PH_ON_STOP;
            vu->idx = 0;
        }
        next(vu);
    }
}

void rp__vu_stop_now(struct rp_vu *vu)
{
    struct rp_worker *w = vu->w;
    if (vu->state == VU_DONE || (!vu->flow && !vu->tl))
        return;
    vu->stopping = true;
    if (vu->phase == PH_ON_STOP)
        return; /* already on its way out; the hard timer bounds it */
    if (vu->state == VU_IN_FLIGHT && vu->conn)
        w->r->eng->abort(vu->conn); /* not recorded, as Locust drops a killed request */
    rr_timer_stop(w->loop, &vu->timer);
    vu->state = VU_IDLE;
    if (vu->tl || vu->is_free || vu->phase != PH_STEPS) {
        finish(vu); /* no on_stop without a finished on_start (no token to log out) */
        return;
    }
    vu->in_iteration = false; /* abandoned: not counted */
    vu->phase = PH_ON_STOP;
    vu->idx = 0;
    next(vu);
}
