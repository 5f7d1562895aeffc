/* test_transform.c -- The transform on synthetic recordings put into a real temporary store:
 * statics, sessions, names, weights, correlation, pools, rules, and the locustfile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "rr/store.h"
#include "rr/transform.h"

struct rec {
    struct rr_store *s;
    char path[256];
    uint64_t now;
    unsigned token_seq;
};

static void rec_open(struct rec *r)
{
    struct rr_store_opts o = {0};
    char why[200];
    snprintf(r->path, sizeof(r->path), "/tmp/rr-test-transform-%d-XXXXXX", (int)getpid());
    int fd = mkstemp(r->path);
    assert_true(fd >= 0);
    close(fd);
    unlink(r->path);
    o.path = r->path;
    o.create = 1;
    assert_int_equal(rr_store_open(&r->s, &o, why, sizeof(why)), 0);
    r->now = UINT64_C(1700000000000000);
}

static void rec_close(struct rec *r)
{
    assert_int_equal(rr_store_close(&r->s), 0);
    unlink(r->path);
    char lock[300];
    snprintf(lock, sizeof(lock), "%s-lock", r->path);
    unlink(lock);
}

static uint64_t conn(struct rec *r, uint16_t port)
{
    struct rr_conn c = {0};
    c.proto = RR_PROTO_H1;
    c.ip_version = 4;
    c.client_ip[0] = 127;
    c.client_ip[3] = 1;
    c.server_ip[0] = 127;
    c.server_ip[3] = 1;
    c.client_port = port;
    c.server_port = 8080;
    c.t_first_us = r->now;
    assert_int_equal(rr_store_conn_put(r->s, &c), 0);
    return c.id;
}

#define H(n, v)                                                                                    \
    {                                                                                              \
        {(const uint8_t *)(n), sizeof(n) - 1},                                                     \
        {                                                                                          \
            (const uint8_t *)(v), strlen(v)                                                        \
        }                                                                                          \
    }

/* One exchange; headers as name/value pairs ending with NULL. */
static void ex(struct rec *r, uint64_t conn_id, const char *method, const char *target,
               const char *req_body, uint16_t status, const char *resp_body, const char **reqh,
               const char **resph)
{
    struct rr_exchange x = {0};
    struct rr_header rq[8], rs[8];
    size_t nq = 0, ns = 0;
    for (; reqh && reqh[0]; reqh += 2, nq++) {
        rq[nq].name = rr_view_of(reqh[0], strlen(reqh[0]));
        rq[nq].value = rr_view_of(reqh[1], strlen(reqh[1]));
    }
    for (; resph && resph[0]; resph += 2, ns++) {
        rs[ns].name = rr_view_of(resph[0], strlen(resph[0]));
        rs[ns].value = rr_view_of(resph[1], strlen(resph[1]));
    }
    x.conn_id = conn_id;
    x.version = 11;
    x.t_req_start_us = r->now;
    x.t_req_end_us = r->now + 100;
    x.t_resp_start_us = r->now + 1000;
    x.t_resp_end_us = r->now + 2000;
    r->now += 2000 + 250000; /* 250 ms think time */
    x.method = rr_view_of(method, strlen(method));
    x.scheme = rr_view_of("http", 4);
    x.authority = rr_view_of("127.0.0.1:8080", 14);
    x.target = rr_view_of(target, strlen(target));
    x.n_req_headers = nq;
    x.req_headers = rq;
    x.status = status;
    x.reason = rr_view_of("OK", 2);
    x.n_resp_headers = ns;
    x.resp_headers = rs;
    assert_int_equal(rr_store_exchange_put(r->s, &x, req_body, req_body ? strlen(req_body) : 0,
                                           resp_body, resp_body ? strlen(resp_body) : 0),
                     0);
}

static const char *json_h[] = {"Content-Type", "application/json", NULL};

/* A demo-like session: login hands out a fresh token and cookie; later requests carry both. */
static void session(struct rec *r, char kind, unsigned n, uint16_t port)
{
    uint64_t c = conn(r, port);
    char tok[64], sid[64], login[128], resp[256], auth[96], cookie[96], setc[128], body[128],
        path[64];
    snprintf(tok, sizeof(tok), "%08x%08xfeedbeef%08x", ++r->token_seq * 2654435761u, n, port);
    snprintf(sid, sizeof(sid), "s%08x%08x", r->token_seq * 40503u, port);
    snprintf(login, sizeof(login), "{\"user\": \"%c-user%02u\", \"password\": \"secret\"}", kind,
             n);
    snprintf(resp, sizeof(resp), "{\"token\":\"%s\",\"user\":\"%c-user%02u\",\"expires_in\":3600}",
             tok, kind, n);
    snprintf(auth, sizeof(auth), "Bearer %s", tok);
    snprintf(cookie, sizeof(cookie), "session=%s", sid);
    snprintf(setc, sizeof(setc), "session=%s; Path=/; HttpOnly", sid);
    const char *rq_login[] = {"Host", "127.0.0.1:8080", "Content-Type", "application/json", NULL};
    const char *rs_login[] = {"Content-Type", "application/json", "Set-Cookie", setc, NULL};
    const char *rq_auth[] = {"Host", "127.0.0.1:8080", "Authorization", auth, "Cookie",
                             cookie, "Accept",         "*/*",           NULL};
    const char *rq_post[] = {"Authorization",    auth, "Cookie", cookie, "Content-Type",
                             "application/json", NULL};
    const char *css[] = {"Content-Type", "text/css", NULL};

    if (kind == 'A') {
        ex(r, c, "GET", "/", NULL, 200, "<html></html>", NULL, NULL);
        ex(r, c, "GET", "/static/style.css", NULL, 200, "body{}", NULL, css);
        ex(r, c, "GET", "/static/app.js", NULL, 200, "x=1", NULL, NULL);
    }
    ex(r, c, "POST", "/login", login, 200, resp, rq_login, rs_login);
    if (kind == 'A') {
        ex(r, c, "GET", "/api/items?page=1", NULL, 200, "{\"items\":[]}", rq_auth, json_h);
    } else if (kind == 'B') {
        snprintf(path, sizeof(path), "/api/items/%u", 1 + (n * 7) % 50);
        ex(r, c, "GET", path, NULL, 200, "{\"id\":1}", rq_auth, json_h);
        snprintf(body, sizeof(body), "{\"item\": %u}", 1 + (n * 7) % 50);
        ex(r, c, "POST", "/api/cart", body, 201, "{\"count\":1}", rq_post, json_h);
        ex(r, c, "GET", "/api/cart", NULL, 200, "{\"count\":1}", rq_auth, json_h);
    } else {
        snprintf(body, sizeof(body), "{\"customer\": \"%u\"}", 100000 + n * 37);
        ex(r, c, "POST", "/api/lookup", body, 200, "{\"retCode\":\"000000\"}", rq_post, json_h);
    }
    ex(r, c, "POST", "/api/logout", NULL, 200, "{\"ok\":true}", rq_auth, json_h);
    r->now += 5000000;
}

/* 5 A, 10 B, 15 C, interleaved as a real capture would be. */
static void record_mix(struct rec *r)
{
    unsigned na = 0, nb = 0, nc = 0;
    for (unsigned i = 0; i < 30; i++) {
        if (i % 6 == 0)
            session(r, 'A', ++na, (uint16_t)(40000 + i));
        else if (i % 6 == 1 || i % 6 == 3)
            session(r, 'B', ++nb, (uint16_t)(40000 + i));
        else
            session(r, 'C', ++nc, (uint16_t)(40000 + i));
    }
    assert_int_equal(rr_store_flush(r->s), 0);
}

static const struct rr_plan_flow *flow_with(const struct rr_plan *p, const char *step_name)
{
    for (size_t i = 0; i < p->n_flows; i++)
        for (size_t k = 0; k < p->flows[i].n_steps; k++)
            if (!strcmp(p->flows[i].steps[k].name, step_name))
                return &p->flows[i];
    return NULL;
}

static const struct rr_plan_header *header(const struct rr_plan_step *s, const char *name)
{
    for (size_t i = 0; i < s->n_headers; i++)
        if (!strcasecmp(s->headers[i].name, name))
            return &s->headers[i];
    return NULL;
}

static struct rr_plan *run(struct rec *r, const char *rules, int no_corr,
                           struct rr_transform_stats *st)
{
    struct rr_transform_rules *ru = NULL;
    struct rr_transform_opts o = {0};
    struct rr_plan *p = NULL;
    char why[300] = "";
    if (rules) {
        if (rr_transform_rules_parse(rules, strlen(rules), &ru, why, sizeof(why)))
            fail_msg("rules: %s", why);
    }
    o.rules = ru;
    o.no_correlation = no_corr;
    int rc = rr_transform_run(r->s, &o, &p, st, why, sizeof(why));
    if (rc)
        fail_msg("transform: %s", why);
    rr_transform_rules_free(&ru);
    /* whatever the transform builds is a valid plan that round-trips */
    struct rr_buf a, b;
    struct rr_plan *q = NULL;
    rr_buf_init(&a);
    rr_buf_init(&b);
    rr_plan_format(p, &a);
    if (rr_plan_parse(a.p, a.len, &q, why, sizeof(why)))
        fail_msg("plan does not parse: %s\n%s", why, rr_buf_cstr(&a));
    rr_plan_format(q, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    rr_plan_free(&q);
    rr_buf_fini(&a);
    rr_buf_fini(&b);
    return p;
}

static void test_mix(void **state)
{
    struct rec r = {0};
    struct rr_transform_stats st;
    rec_open(&r);
    record_mix(&r);
    rr_transform_stats_init(&st);
    struct rr_plan *p = run(&r, NULL, 0, &st);

    assert_int_equal(st.exchanges, 5 * 6 + 10 * 5 + 15 * 3);
    assert_int_equal(st.dropped_static, 10);
    assert_non_null(strstr(rr_buf_cstr(&st.statics), "5 GET /static/style.css\n"));
    assert_int_equal(st.sessions, 30);
    assert_string_equal(p->host, "http://127.0.0.1:8080");
    assert_int_equal(p->n_flows, 3);
    const struct rr_plan_flow *a = flow_with(p, "/api/items"), *b = flow_with(p, "/api/items/[id]"),
                              *c = flow_with(p, "/api/lookup");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(a->weight, 1);
    assert_int_equal(b->weight, 2);
    assert_int_equal(c->weight, 3);

    /* login is per-user setup, logout its end; the token is extracted and sent back */
    assert_int_equal(b->n_on_start, 1);
    assert_string_equal(b->on_start[0].name, "/login");
    assert_int_equal(b->n_on_stop, 1);
    assert_string_equal(b->on_stop[0].name, "/api/logout");
    assert_int_equal(b->n_steps, 3);
    const struct rr_plan_step *login = &b->on_start[0];
    int has_token = 0;
    for (size_t i = 0; i < login->n_extracts; i++)
        has_token |= login->extracts[i].kind == RR_EXTRACT_JSON &&
                     !strcmp(login->extracts[i].expr, "$.token") &&
                     !strcmp(login->extracts[i].var, "token");
    assert_true(has_token);
    assert_string_equal(header(&b->steps[0], "Authorization")->value, "Bearer ${token}");
    assert_string_equal(header(&b->on_stop[0], "Authorization")->value, "Bearer ${token}");
    /* the session cookie goes back by the cookie jar */
    assert_null(header(&b->steps[0], "Cookie"));
    assert_null(header(&b->steps[0], "Host"));
    /* the item id varies between sessions: a pool, reused by the cart body */
    assert_string_equal(b->steps[0].target, "/api/items/${item_id}");
    if (getenv("DUMP")) {
        struct rr_buf d;
        rr_buf_init(&d);
        rr_plan_format(p, &d);
        fputs(rr_buf_cstr(&d), stderr);
        rr_buf_fini(&d);
    }
    assert_int_equal(b->steps[1].body_len, strlen("{\"item\": ${item_id}}"));
    assert_memory_equal(b->steps[1].body, "{\"item\": ${item_id}}", b->steps[1].body_len);
    /* checks and think times from the recording */
    assert_int_equal(b->steps[1].checks[0].kind, RR_CHECK_STATUS);
    assert_int_equal(b->steps[1].checks[0].status_lo, 200);
    assert_int_equal(b->steps[1].checks[0].status_hi, 299);
    assert_int_equal(b->steps[0].think_us, 250000);
    assert_true(b->steps[0].exchange_id > 0);

    /* lookups: the customer numbers form a pool of the 15 observed values */
    int pc = -1, pu = -1;
    for (size_t i = 0; i < p->n_pools; i++) {
        if (!strcmp(p->pools[i].name, "customer"))
            pc = (int)i;
        if (!strcmp(p->pools[i].name, "user"))
            pu = (int)i;
    }
    assert_true(pc >= 0);
    assert_int_equal(p->pools[pc].n_values, 15);
    assert_int_equal(p->pools[pc].mode, RR_POOL_RANDOM);
    assert_memory_equal(c->steps[0].body, "{\"customer\": \"${customer}\"}", c->steps[0].body_len);
    /* user names of the login: drawn once per user */
    assert_true(pu >= 0);
    assert_int_equal(p->pools[pu].scope, RR_POOL_PER_USER);
    assert_int_equal(p->pools[pu].n_values, 30);

    char why[200];
    assert_int_equal(rr_plan_validate(p, why, sizeof(why)), 0);
    rr_plan_free(&p);

    /* without correlation the recorded token stays, literally */
    rr_transform_stats_fini(&st);
    rr_transform_stats_init(&st);
    p = run(&r, NULL, 1, &st);
    b = flow_with(p, "/api/items/[id]");
    assert_non_null(b);
    assert_int_equal(b->on_start[0].n_extracts, 0);
    assert_non_null(strstr(header(&b->steps[0], "Authorization")->value, "feedbeef"));
    assert_non_null(header(&b->steps[0], "Cookie"));
    assert_int_equal(st.extractors, 0);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);
}

static void test_rules(void **state)
{
    struct rec r = {0};
    struct rr_transform_stats st;
    rec_open(&r);
    record_mix(&r);
    rr_transform_stats_init(&st);
    const char *rules =
        "# keep the assets, rename, pools and checks\n"
        "keep statics\n"
        "drop path /api/logout\n"
        "name GET /api/items/* \"item detail\"\n"
        "pool customer csv \"customers.csv\" column 1 mode unique scope user\n"
        "check /api/lookup json $.retCode 000000 message \"retCode is not 000000\"\n"
        "check * max_ms 500 message \"slow\"\n"
        "wait between 1 3\n"
        "ignore token\n";
    struct rr_plan *p = run(&r, rules, 0, &st);
    assert_int_equal(st.dropped_static, 0);
    assert_int_equal(st.dropped_rule, 30);
    assert_int_equal(p->wait.kind, RR_WAIT_BETWEEN);
    assert_true(p->wait.a == 1 && p->wait.b == 3);
    const struct rr_plan_flow *b = flow_with(p, "item detail"), *c = flow_with(p, "/api/lookup");
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(b->n_on_stop, 0);
    /* the ignored token stays literal */
    assert_non_null(strstr(header(&b->steps[0], "Authorization")->value, "feedbeef"));
    const struct rr_plan_step *lk = &c->steps[0];
    assert_int_equal(lk->n_checks, 3);
    assert_int_equal(lk->checks[1].kind, RR_CHECK_JSON_EQ);
    assert_string_equal(lk->checks[1].expr, "$.retCode");
    assert_string_equal(lk->checks[1].message, "retCode is not 000000");
    assert_int_equal(lk->checks[2].kind, RR_CHECK_MAX_MS);
    int found = 0;
    for (size_t i = 0; i < p->n_pools; i++) {
        if (!strcmp(p->pools[i].name, "customer")) {
            found = 1;
            assert_string_equal(p->pools[i].csv_path, "customers.csv");
            assert_int_equal(p->pools[i].csv_column, 1);
            assert_int_equal(p->pools[i].n_values, 0);
            assert_int_equal(p->pools[i].mode, RR_POOL_UNIQUE);
            assert_int_equal(p->pools[i].scope, RR_POOL_PER_USER);
        }
    }
    assert_true(found);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);

    struct rr_transform_rules *ru = NULL;
    char why[200];
    assert_int_equal(rr_transform_rules_parse("keep path\n", 10, &ru, why, sizeof(why)), RR_EPARSE);
    assert_string_equal(why, "1:10: expected host|path|method|status PATTERN");
    assert_int_equal(rr_transform_rules_parse("\nfoo bar\n", 9, &ru, why, sizeof(why)), RR_EPARSE);
    assert_string_equal(why, "2:1: unknown rule \"foo\"; expected keep, drop, session, name, "
                             "correlate, ignore, correlation, pool, check, wait, before or after");
    assert_null(ru);
    assert_int_equal(rr_transform_rules_parse("before\n", 7, &ru, why, sizeof(why)), RR_EPARSE);
    assert_string_equal(why, "1:7: expected before [METHOD] PATH-GLOB, or before off");
    assert_int_equal(rr_transform_rules_parse("after GET / x\n", 14, &ru, why, sizeof(why)),
                     RR_EPARSE);
    assert_string_equal(why,
                        "1:13: unexpected word; expected after [METHOD] PATH-GLOB, or after off");
    assert_int_equal(rr_transform_rules_parse("session idle 0.5\n", 17, &ru, why, sizeof(why)),
                     RR_EPARSE);
    assert_string_equal(why, "1:14: expected at least 1 second");
    assert_null(ru);
}

static void test_names(void **state)
{
    static const char *const cases[][2] = {
        {"/api/items/123", "/api/items/[id]"},
        {"/api/items/123?x=1", "/api/items/[id]"},
        {"/u/550e8400-e29b-41d4-a716-446655440000/x", "/u/[uuid]/x"},
        {"/t/0123abcdef45", "/t/[hex]"},
        {"/t/deadbeef", "/t/deadbeef"}, /* a word, not an id */
        {"/users/bob@example.com", "/users/[email]"},
        {"http://h:1/a/7", "/a/[id]"},
        {"/", "/"},
        {"*", "*"},
        {"", "/"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rr_buf b;
        rr_buf_init(&b);
        rr_transform_name(cases[i][0], strlen(cases[i][0]), &b);
        assert_string_equal(rr_buf_cstr(&b), cases[i][1]);
        rr_buf_fini(&b);
    }
}

/* Sessions split across connections (a page fetched anonymously, then a login on a second
 * connection, then API calls on a third that carry the token) are still one session. */
static void test_session_linking(void **state)
{
    struct rec r = {0};
    struct rr_transform_stats st;
    rec_open(&r);
    for (unsigned u = 0; u < 4; u++) {
        char tok[64], resp[128], auth[96];
        snprintf(tok, sizeof(tok), "tok%02u%024u", u, u * 7919);
        snprintf(resp, sizeof(resp), "{\"token\":\"%s\"}", tok);
        snprintf(auth, sizeof(auth), "Bearer %s", tok);
        const char *rq_auth[] = {"authorization", auth, NULL};
        uint64_t c1 = conn(&r, (uint16_t)(50000 + u * 3)), c2 = conn(&r, (uint16_t)(50001 + u * 3)),
                 c3 = conn(&r, (uint16_t)(50002 + u * 3));
        ex(&r, c1, "GET", "/", NULL, 200, "<html/>", NULL, NULL);
        ex(&r, c2, "POST", "/login", "{}", 200, resp, NULL, json_h);
        ex(&r, c3, "GET", "/api/cart", NULL, 200, "{}", rq_auth, json_h);
        r.now += 60000000;
    }
    assert_int_equal(rr_store_flush(r.s), 0);
    rr_transform_stats_init(&st);
    struct rr_plan *p = run(&r, NULL, 0, &st);
    assert_int_equal(st.sessions, 4);
    assert_int_equal(p->n_flows, 1);
    assert_int_equal(p->flows[0].weight, 1);
    assert_int_equal(p->flows[0].n_on_start, 2);
    assert_string_equal(header(&p->flows[0].steps[0], "authorization")->value, "Bearer ${token}");
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);

    /* by connection: three sessions per user */
    rr_transform_stats_init(&st);
    p = run(&r, "session connection\n", 0, &st);
    assert_int_equal(st.sessions, 12);
    assert_int_equal(p->n_flows, 3);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);
}

/* Targets that are not plain paths: absolute form without a path, "*", empty. */
static void test_odd_targets(void **state)
{
    struct rec r = {0};
    struct rr_transform_stats st;
    rec_open(&r);
    uint64_t c = conn(&r, 41000);
    ex(&r, c, "GET", "http://127.0.0.1:8080", NULL, 200, "x", NULL, NULL);
    ex(&r, c, "OPTIONS", "*", NULL, 200, NULL, NULL, NULL);
    ex(&r, c, "GET", "", NULL, 200, "y", NULL, NULL);
    ex(&r, c, "GET", "http://other:81/a/b?c=1", NULL, 200, "z", NULL, NULL);
    assert_int_equal(rr_store_flush(r.s), 0);
    rr_transform_stats_init(&st);
    struct rr_plan *p = run(&r, NULL, 0, &st);
    assert_int_equal(p->n_flows, 1);
    assert_int_equal(p->flows[0].n_steps, 4);
    assert_string_equal(p->flows[0].steps[0].target, "http://127.0.0.1:8080/");
    assert_string_equal(p->flows[0].steps[1].target, "*");
    assert_string_equal(p->flows[0].steps[2].target, "/");
    assert_string_equal(p->flows[0].steps[3].target, "http://other:81/a/b?c=1");
    assert_string_equal(p->flows[0].steps[3].name, "/a/b");
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);
}

/* One request on a connection of its own, anonymous. */
static void lone(struct rec *r, uint16_t port, const char *method, const char *target)
{
    uint64_t c = conn(r, port);
    ex(r, c, method, target, NULL, 200, "{\"ok\":true}", NULL, json_h);
}

static int get_id(const struct rr_exchange *x, void *ud)
{
    *(uint64_t *)ud = x->id;
    return 0;
}

/* Sessions close once idle past the horizon: memory follows the open sessions, and a session
 * idle for longer than `session idle` is cut. */
static void test_stream(void **state)
{
    struct rec r = {0};
    struct rr_transform_stats st;
    rec_open(&r);
    /* 300 sessions, each 3 exchanges, 400 s apart: one open at a time */
    for (unsigned i = 0; i < 300; i++) {
        session(&r, 'C', i + 1, (uint16_t)(20000 + i));
        r.now += 400000000;
    }
    assert_int_equal(rr_store_flush(r.s), 0);
    rr_transform_stats_init(&st);
    struct rr_plan *p = run(&r, NULL, 0, &st);
    assert_int_equal(st.kept, 900);
    assert_int_equal(st.sessions, 300);
    assert_true(st.peak_open <= 6);
    assert_int_equal(p->n_flows, 1);
    assert_int_equal(p->n_before + p->n_after, 0);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);

    /* one bearer token, 60 s of silence in the middle: one session, or two with idle 10 */
    rec_open(&r);
    const char *rq[] = {"Authorization", "Bearer 0123456789abcdef0123", NULL};
    uint64_t c = conn(&r, 30000);
    ex(&r, c, "GET", "/api/a", NULL, 200, "{}", rq, json_h);
    ex(&r, c, "GET", "/api/b", NULL, 200, "{}", rq, json_h);
    r.now += 60000000;
    uint64_t c2 = conn(&r, 30001);
    ex(&r, c2, "GET", "/api/a", NULL, 200, "{}", rq, json_h);
    ex(&r, c2, "GET", "/api/b", NULL, 200, "{}", rq, json_h);
    assert_int_equal(rr_store_flush(r.s), 0);
    rr_transform_stats_init(&st);
    p = run(&r, NULL, 0, &st);
    assert_int_equal(st.sessions, 1);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rr_transform_stats_init(&st);
    p = run(&r, "session idle 10\n", 0, &st);
    assert_int_equal(st.sessions, 2);
    assert_int_equal(p->n_flows, 1);
    assert_int_equal(p->flows[0].weight, 1);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);

    /* the store's order is the order exchanges ended: a slow answer comes after exchanges that
     * started 40 s later, and still finds its session (the horizon allows for that) */
    rec_open(&r);
    c = conn(&r, 30002);
    ex(&r, c, "GET", "/api/a", NULL, 200, "{}", rq, json_h);
    uint64_t t_slow = r.now;
    r.now += 40000000;
    for (unsigned i = 0; i < 3; i++) {
        lone(&r, (uint16_t)(30010 + i), "GET", "/api/other");
        r.now += 3000000;
    }
    uint64_t t_end = r.now;
    r.now = t_slow;
    ex(&r, c, "GET", "/api/slow", NULL, 200, "{}", rq, json_h);
    r.now = t_end;
    assert_int_equal(rr_store_flush(r.s), 0);
    rr_transform_stats_init(&st);
    p = run(&r, "session idle 10\nbefore off\nafter off\n", 0, &st);
    assert_int_equal(st.sessions, 4);
    const struct rr_plan_flow *f = flow_with(p, "/api/a");
    assert_non_null(f);
    assert_int_equal(f->n_steps, 2);
    assert_string_equal(f->steps[1].name, "/api/slow");
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    /* the lookup by id the fold uses */
    uint64_t got = 0;
    assert_int_equal(rr_store_exchange_get(r.s, 2, get_id, &got), 0);
    assert_int_equal(got, 2);
    assert_int_equal(rr_store_exchange_get(r.s, 999, get_id, &got), RR_ENOTFOUND);
    rec_close(&r);

    /* anonymous requests from one address, never 2 s apart, chain into one session: it is
     * cut every 4096 exchanges rather than held whole */
    rec_open(&r);
    for (unsigned i = 0; i < 5000; i++)
        lone(&r, (uint16_t)(1000 + i), "GET", "/api/tick");
    assert_int_equal(rr_store_flush(r.s), 0);
    rr_transform_stats_init(&st);
    p = run(&r, NULL, 0, &st);
    assert_int_equal(st.sessions, 2);
    assert_int_equal(st.peak_open, 4096);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);
}

/* A field with more distinct values than kept: the pool holds the first ones, flagged. */
static void test_high_cardinality(void **state)
{
    struct rec r = {0};
    struct rr_transform_stats st;
    char target[64];
    rec_open(&r);
    for (unsigned i = 0; i < 4200; i++) {
        snprintf(target, sizeof(target), "/api/search?q=w%u", i);
        lone(&r, (uint16_t)(10000 + i), "GET", target);
        r.now += 3000000; /* apart by more than the anonymous gap: sessions of their own */
    }
    assert_int_equal(rr_store_flush(r.s), 0);
    rr_transform_stats_init(&st);
    struct rr_plan *p = run(&r, NULL, 0, &st);
    assert_int_equal(st.sessions, 4200);
    assert_int_equal(p->n_flows, 1);
    assert_int_equal(p->n_pools, 1);
    assert_string_equal(p->pools[0].name, "q");
    assert_int_equal(p->pools[0].n_values, 4096);
    assert_string_equal(p->pools[0].values[0], "w0");
    assert_string_equal(p->pools[0].values[4095], "w4095");
    assert_int_equal(st.capped_pools, 1);
    assert_string_equal(p->flows[0].steps[0].target, "/api/search?q=${q}");
    struct rr_buf sum;
    rr_buf_init(&sum);
    rr_transform_summary(p, &st, &sum);
    assert_non_null(strstr(rr_buf_cstr(&sum), "more than 4096 distinct values"));
    rr_buf_fini(&sum);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);
}

/* The recorded waits of a step become quantiles from min to max; equal waits give none. */
static void test_think_distribution(void **state)
{
    struct rec r = {0};
    struct rr_transform_stats st;
    rec_open(&r);
    uint64_t sum = 0;
    for (unsigned i = 0; i < 40; i++) {
        uint64_t c = conn(&r, (uint16_t)(11000 + i));
        ex(&r, c, "GET", "/api/first", NULL, 200, "{}", NULL, json_h);
        /* ex() waits 250 ms after each exchange; add a varying extra wait */
        uint64_t extra = (uint64_t)((i * 37) % 40) * 10000;
        r.now += extra;
        sum += 250000 + extra;
        ex(&r, c, "GET", "/api/second", NULL, 200, "{}", NULL, json_h);
        ex(&r, c, "GET", "/api/third", NULL, 200, "{}", NULL, json_h);
        r.now += 5000000;
    }
    assert_int_equal(rr_store_flush(r.s), 0);
    rr_transform_stats_init(&st);
    struct rr_plan *p = run(&r, NULL, 0, &st);
    assert_int_equal(p->n_flows, 1);
    const struct rr_plan_step *s0 = &p->flows[0].steps[0], *s1 = &p->flows[0].steps[1];
    assert_int_equal(s0->think_us, sum / 40);
    assert_int_equal(s0->n_think_q, 9);
    assert_int_equal(s0->think_q_us[0], 250000);
    assert_int_equal(s0->think_q_us[8], 250000 + 390000);
    for (size_t i = 1; i < 9; i++)
        assert_true(s0->think_q_us[i] >= s0->think_q_us[i - 1]);
    /* the extra waits are uniform over 0..390 ms: the median is near 195 ms extra */
    assert_true(s0->think_q_us[4] >= 250000 + 150000 && s0->think_q_us[4] <= 250000 + 240000);
    /* every second-to-third wait is 250 ms: a constant, no distribution */
    assert_int_equal(s1->think_us, 250000);
    assert_int_equal(s1->n_think_q, 0);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);
}

/* A setup seen once before every session and a teardown once after them become the plan's
 * before and after steps; rules turn that off or force it. */
static void test_before_after(void **state)
{
    struct rec r = {0};
    struct rr_transform_stats st;
    rec_open(&r);
    lone(&r, 12000, "POST", "/api/admin/seed");
    r.now += 5000000;
    record_mix(&r);
    r.now += 5000000;
    lone(&r, 12001, "POST", "/api/admin/reset");
    assert_int_equal(rr_store_flush(r.s), 0);

    rr_transform_stats_init(&st);
    struct rr_plan *p = run(&r, NULL, 0, &st);
    assert_int_equal(p->n_flows, 3);
    assert_int_equal(p->n_before, 1);
    assert_string_equal(p->before[0].target, "/api/admin/seed");
    assert_string_equal(p->before[0].method, "POST");
    assert_int_equal(p->n_after, 1);
    assert_string_equal(p->after[0].target, "/api/admin/reset");
    assert_int_equal(st.before, 1);
    assert_int_equal(st.after, 1);
    /* the weights and flow names are those of the mix alone */
    assert_string_equal(p->flows[0].name, "F1: /api/items");
    assert_int_equal(flow_with(p, "/api/lookup")->weight, 3);
    struct rr_buf sum;
    rr_buf_init(&sum);
    rr_transform_summary(p, &st, &sum);
    assert_non_null(strstr(rr_buf_cstr(&sum), "before (once per test): POST /api/admin/seed\n"));
    assert_non_null(strstr(rr_buf_cstr(&sum), "after (once per test): POST /api/admin/reset\n"));
    rr_buf_fini(&sum);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);

    rr_transform_stats_init(&st);
    p = run(&r, "before off\nafter off\n", 0, &st);
    assert_int_equal(p->n_flows, 5);
    assert_int_equal(p->n_before + p->n_after, 0);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);

    /* a rule forces it, whatever the timing: both admin calls run first, in recorded order */
    rr_transform_stats_init(&st);
    p = run(&r, "before off\nafter off\nbefore POST /api/admin/*\n", 0, &st);
    assert_int_equal(p->n_before, 2);
    assert_string_equal(p->before[0].target, "/api/admin/seed");
    assert_string_equal(p->before[1].target, "/api/admin/reset");
    assert_int_equal(p->n_after, 0);
    assert_int_equal(p->n_flows, 3);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);
}

/* Values handed out in text pages (no JSON): a meta tag's CSRF token sent back in a form and
 * a header, an order number from a link; not a word the page also holds, not an echo. */
static void test_text_pages(void **state)
{
    (void)state;
    struct rec r = {0};
    struct rr_transform_stats st;
    rec_open(&r);
    const char *html[] = {"Content-Type", "text/html; charset=utf-8", NULL};
    const char *form[] = {"Content-Type",
                          "application/x-www-form-urlencoded",
                          "X-CSRF-Token",
                          "a1b2c3d4e5f6a7b8",
                          "X-Requested-With",
                          "XMLHttpRequest",
                          NULL};
    for (unsigned i = 0; i < 2; i++) {
        uint64_t c = conn(&r, (uint16_t)(41000 + i));
        char page[512], body[128], order[64], hdr[32];
        /* the second session's token differs: without the page it would become a pool */
        snprintf(hdr, sizeof(hdr), "a1b2c3d4e5f6a7b%u", 8 + i);
        snprintf(page, sizeof(page),
                 "<html><head><meta name=\"csrf-token\" content=\"%s\">\n"
                 "<script>var x = new XMLHttpRequest();</script></head>\n"
                 "<body><a href=\"/orders/9876543%u\">your order</a></body></html>",
                 hdr, i);
        form[3] = hdr;
        ex(&r, c, "GET", "/account", NULL, 200, page, NULL, html);
        snprintf(body, sizeof(body), "csrf_token=%s&note=hello", hdr);
        ex(&r, c, "POST", "/account", body, 200, "<p>ok</p>", form, html);
        snprintf(order, sizeof(order), "/orders/9876543%u", i);
        ex(&r, c, "GET", order, NULL, 200, "<p>your order</p>", NULL, html);
        ex(&r, c, "GET", "/search?q=zz99yy88", NULL, 200, "<p>You searched zz99yy88</p>", NULL,
           html);
        ex(&r, c, "GET", "/search?q=zz99yy88&page=2", NULL, 200, "<p>page 2</p>", NULL, html);
        r.now += 400000000; /* the next session is another one */
    }
    rr_transform_stats_init(&st);
    struct rr_plan *p = run(&r, NULL, 0, &st);
    assert_int_equal(p->n_flows, 1);
    const struct rr_plan_flow *f = &p->flows[0];
    assert_int_equal(f->n_steps, 5);
    const struct rr_plan_step *s = f->steps;
    assert_int_equal(s[0].n_extracts, 2);
    assert_string_equal(s[0].extracts[0].var, "csrf_token");
    assert_int_equal(s[0].extracts[0].kind, RR_EXTRACT_REGEX);
    assert_string_equal(s[0].extracts[0].expr, "csrf-token\"\\s+content=\"([A-Za-z0-9_\\-]+)\"");
    assert_string_equal(s[0].extracts[1].var, "order_id");
    assert_string_equal(s[0].extracts[1].expr, "href=\"\\/orders\\/([A-Za-z0-9_\\-]+)\"");
    assert_memory_equal(s[1].body, "csrf_token=${csrf_token}&note=hello", s[1].body_len);
    assert_string_equal(header(&s[1], "X-CSRF-Token")->value, "${csrf_token}");
    assert_string_equal(header(&s[1], "X-Requested-With")->value, "XMLHttpRequest");
    assert_string_equal(s[2].target, "/orders/${order_id}");
    /* a value the page got from a request of the session is not its to hand out: zz99yy88
     * was sent before the page echoed it */
    assert_int_equal(s[3].n_extracts, 0);
    assert_string_equal(s[4].target, "/search?q=zz99yy88&page=2");
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);

    /* the rule ignore drops it by its name: the recorded tokens become a pool */
    rr_transform_stats_init(&st);
    p = run(&r, "ignore csrf_token\n", 0, &st);
    s = p->flows[0].steps;
    assert_int_equal(s[0].n_extracts, 1);
    assert_string_equal(s[0].extracts[0].var, "order_id");
    assert_memory_equal(s[1].body, "csrf_token=${csrf_token}&note=hello", s[1].body_len);
    assert_int_equal(p->n_pools, 1);
    assert_string_equal(p->pools[0].name, "csrf_token");
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);
}

static void test_locustfile(void **state)
{
    struct rec r = {0};
    struct rr_transform_stats st;
    rec_open(&r);
    record_mix(&r);
    rr_transform_stats_init(&st);
    struct rr_plan *p =
        run(&r, "check /api/lookup json $.retCode 000000 message \"bad \\\"rc\\\"\"\n", 0, &st);
    struct rr_buf py;
    rr_buf_init(&py);
    rr_transform_locustfile(p, 0, &py);
    const char *s = rr_buf_cstr(&py);
    assert_non_null(strstr(s, "class F1(HttpUser):"));
    assert_non_null(strstr(s, "SequentialTaskSet"));
    assert_non_null(strstr(s, "weight = 3"));
    assert_non_null(strstr(s, "name=\"/api/items/[id]\""));
    assert_non_null(strstr(s, "response.failure("));
    assert_non_null(strstr(s, "def on_start(self):"));
    /* the file is valid Python when python3 is there to say so */
    if (access("/usr/bin/python3", X_OK) == 0) {
        char path[300], cmd[400];
        snprintf(path, sizeof(path), "%s.py", r.path);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fwrite(py.p, 1, py.len, f);
        fclose(f);
        snprintf(cmd, sizeof(cmd),
                 "/usr/bin/python3 -c 'import ast,sys; ast.parse(open(sys.argv[1]).read())' %s",
                 path);
        assert_int_equal(system(cmd), 0);
        unlink(path);
    }
    rr_buf_fini(&py);
    rr_plan_free(&p);
    rr_transform_stats_fini(&st);
    rec_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_mix),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_session_linking),
        cmocka_unit_test(test_locustfile),
        cmocka_unit_test(test_odd_targets),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_high_cardinality),
        cmocka_unit_test(test_think_distribution),
        cmocka_unit_test(test_before_after),
        cmocka_unit_test(test_text_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
