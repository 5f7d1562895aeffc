/* test_plan.c -- The plan text format: exact round trips, any body bytes, and errors that name
 * the line and column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rr/plan.h"

static const char rich[] =
    "rrload-plan 1\n"
    "host \"http://127.0.0.1:8080\"\n"
    "wait between 0.5 2.25 scale 0.1\n"
    "\n"
    "pool customer mode unique scope user\n"
    "  value \"C-1001\"\n"
    "  value \"C-1002\"\n"
    "end\n"
    "\n"
    "pool users mode round-robin scope iteration csv \"data/users.csv\" column 2\n"
    "end\n"
    "\n"
    "before\n"
    "  step \"setup\" POST \"/api/reset\"\n"
    "  end\n"
    "end\n"
    "\n"
    "flow \"login browse\" weight 3\n"
    "  on_start\n"
    "    step \"/api/login\" POST \"/api/login\"\n"
    "      header \"Content-Type\" \"application/json\"\n"
    "      body \"{\\\"user\\\":\\\"${users}\\\"}\"\n"
    "      think 0.000001\n"
    "      exchange 7\n"
    "      extract token json \"$.token\"\n"
    "      extract sid cookie \"sid\"\n"
    "      extract item regex \"id=([0-9]+)\"\n"
    "      check status 200 299\n"
    "    end\n"
    "  end\n"
    "  step \"/api/items/[id]\" GET \"/api/items/${item}?c=${customer}\"\n"
    "    header \"Authorization\" \"Bearer ${token}\"\n"
    "    header \"Cookie\" \"sid=${sid}\"\n"
    "    think 1.25 dist 0.1 0.25 0.4 1 1 6.000001\n"
    "    extract next header \"Location\"\n"
    "    check json \"$.retCode\" \"000000\" message \"retCode is not 000000\"\n"
    "    check contains \"ok\"\n"
    "    check max_ms 250.5 message \"too slow\"\n"
    "  end\n"
    "  on_stop\n"
    "    step \"/api/logout\" POST \"/api/logout\"\n"
    "      header \"Authorization\" \"Bearer ${token}\"\n"
    "    end\n"
    "  end\n"
    "end\n"
    "\n"
    "flow \"x\" weight 0\n"
    "end\n"
    "\n"
    "after\n"
    "  step \"\" DELETE \"/api/session/$${literal}\"\n"
    "  end\n"
    "end\n";

static struct rr_plan *parse_ok(const char *text, size_t len)
{
    struct rr_plan *p = NULL;
    char why[300];
    int rc = rr_plan_parse(text, len, &p, why, sizeof(why));
    if (rc)
        fail_msg("parse failed: %s", why);
    assert_non_null(p);
    return p;
}

static void expect_error(const char *text, const char *want)
{
    struct rr_plan *p = NULL;
    char why[300] = "";
    int rc = rr_plan_parse(text, strlen(text), &p, why, sizeof(why));
    assert_int_equal(rc, RR_EPARSE);
    assert_null(p);
    if (strcmp(why, want))
        fail_msg("got \"%s\", want \"%s\"", why, want);
}

static void test_rich_roundtrip(void **state)
{
    struct rr_plan *p = parse_ok(rich, strlen(rich));
    struct rr_buf out;
    char why[300];

    rr_buf_init(&out);
    rr_plan_format(p, &out);
    assert_int_equal(out.len, strlen(rich));
    assert_memory_equal(out.p, rich, out.len);
    assert_int_equal(rr_plan_validate(p, why, sizeof(why)), 0);

    assert_string_equal(p->host, "http://127.0.0.1:8080");
    assert_int_equal(p->wait.kind, RR_WAIT_BETWEEN);
    assert_true(p->wait.a == 0.5 && p->wait.b == 2.25 && p->wait.scale == 0.1);
    assert_int_equal(p->n_pools, 2);
    assert_int_equal(p->pools[0].mode, RR_POOL_UNIQUE);
    assert_int_equal(p->pools[0].scope, RR_POOL_PER_USER);
    assert_int_equal(p->pools[0].n_values, 2);
    assert_string_equal(p->pools[0].values[1], "C-1002");
    assert_string_equal(p->pools[1].csv_path, "data/users.csv");
    assert_int_equal(p->pools[1].csv_column, 2);
    assert_int_equal(p->pools[1].mode, RR_POOL_ROUNDROBIN);
    assert_int_equal(p->n_before, 1);
    assert_int_equal(p->n_after, 1);
    assert_int_equal(p->n_flows, 2);
    const struct rr_plan_flow *f = &p->flows[0];
    assert_string_equal(f->name, "login browse");
    assert_int_equal(f->weight, 3);
    assert_int_equal(f->n_on_start, 1);
    assert_int_equal(f->n_steps, 1);
    assert_int_equal(f->n_on_stop, 1);
    const struct rr_plan_step *login = &f->on_start[0];
    assert_string_equal(login->method, "POST");
    assert_int_equal(login->body_len, strlen("{\"user\":\"${users}\"}"));
    assert_memory_equal(login->body, "{\"user\":\"${users}\"}", login->body_len);
    assert_int_equal(login->think_us, 1);
    assert_int_equal(login->exchange_id, 7);
    assert_int_equal(login->n_extracts, 3);
    assert_int_equal(login->extracts[0].kind, RR_EXTRACT_JSON);
    assert_string_equal(login->extracts[0].expr, "$.token");
    assert_int_equal(login->extracts[1].kind, RR_EXTRACT_COOKIE);
    assert_int_equal(login->checks[0].kind, RR_CHECK_STATUS);
    assert_int_equal(login->checks[0].status_lo, 200);
    assert_int_equal(login->checks[0].status_hi, 299);
    assert_null(login->checks[0].message);
    const struct rr_plan_step *item = &f->steps[0];
    assert_string_equal(item->target, "/api/items/${item}?c=${customer}");
    assert_int_equal(item->think_us, 1250000);
    assert_int_equal(item->n_think_q, 6);
    assert_int_equal(item->think_q_us[0], 100000);
    assert_int_equal(item->think_q_us[3], 1000000);
    assert_int_equal(item->think_q_us[5], 6000001);
    assert_int_equal(login->n_think_q, 0);
    assert_int_equal(item->n_checks, 3);
    assert_int_equal(item->checks[0].kind, RR_CHECK_JSON_EQ);
    assert_string_equal(item->checks[0].message, "retCode is not 000000");
    assert_true(item->checks[2].max_ms == 250.5);
    assert_int_equal(p->flows[1].n_steps, 0);
    assert_string_equal(p->after[0].target, "/api/session/$${literal}");
    rr_buf_fini(&out);
    rr_plan_free(&p);
    assert_null(p);
}

/* A plan built in code (as the transform does) formats, parses back to equal fields, and
 * formats to the same bytes. Every byte value survives in a body. */
static void test_any_bytes(void **state)
{
    struct rr_plan *p = calloc(1, sizeof(*p));
    uint8_t all[256 + 8];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    memcpy(all + 256, "\xc3\xa9\xe2\x82\xac\xed\xa0", 8); /* é € and a bad surrogate */
    p->wait.kind = RR_WAIT_RECORDED;
    p->wait.scale = 1.0;
    p->n_flows = 1;
    p->flows = calloc(1, sizeof(*p->flows));
    p->flows[0].name = strdup("f \"quoted\" \\ name\t\x01");
    p->flows[0].weight = 4000000000u;
    p->flows[0].n_steps = 1;
    p->flows[0].steps = calloc(1, sizeof(struct rr_plan_step));
    struct rr_plan_step *s = &p->flows[0].steps[0];
    s->name = strdup("caf\xc3\xa9 \xff");
    s->method = strdup("PUT");
    s->target = strdup("/x?q=a%20b#frag");
    s->body = malloc(sizeof(all));
    memcpy(s->body, all, sizeof(all));
    s->body_len = sizeof(all);
    s->think_us = UINT64_C(123456789012);
    s->n_think_q = RR_PLAN_MAX_THINK_Q;
    s->think_q_us = calloc(RR_PLAN_MAX_THINK_Q, sizeof(uint64_t));
    for (size_t i = 0; i < RR_PLAN_MAX_THINK_Q; i++)
        s->think_q_us[i] = i * i * 1000003;
    s->exchange_id = UINT64_MAX;
    s->n_headers = 1;
    s->headers = calloc(1, sizeof(*s->headers));
    s->headers[0].name = strdup("X-Odd");
    s->headers[0].value = strdup("\"\\\x7f");

    struct rr_buf a, b;
    rr_buf_init(&a);
    rr_buf_init(&b);
    rr_plan_format(p, &a);
    struct rr_plan *q = parse_ok((const char *)a.p, a.len);
    rr_plan_format(q, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.p, b.p, a.len);
    const struct rr_plan_step *t = &q->flows[0].steps[0];
    assert_int_equal(t->body_len, sizeof(all));
    assert_memory_equal(t->body, all, sizeof(all));
    assert_string_equal(t->name, s->name);
    assert_string_equal(q->flows[0].name, p->flows[0].name);
    assert_int_equal(q->flows[0].weight, 4000000000u);
    assert_int_equal(t->think_us, s->think_us);
    assert_int_equal(t->n_think_q, RR_PLAN_MAX_THINK_Q);
    assert_memory_equal(t->think_q_us, s->think_q_us, RR_PLAN_MAX_THINK_Q * sizeof(uint64_t));
    assert_true(t->exchange_id == UINT64_MAX);
    assert_string_equal(t->headers[0].value, s->headers[0].value);
    /* the text stays readable: valid UTF-8 is written as is, the rest escaped */
    assert_non_null(strstr(rr_buf_cstr(&a), "caf\xc3\xa9 \\xff"));
    assert_non_null(strstr(rr_buf_cstr(&a), "\\xed\\xa0"));
    /* a body with newlines becomes one body line per line of text */
    assert_non_null(strstr(rr_buf_cstr(&a), "\\n\"\n    body \""));
    rr_buf_fini(&a);
    rr_buf_fini(&b);
    rr_plan_free(&p);
    rr_plan_free(&q);
}

/* Numbers written by the formatter read back exactly, and are short for a person. */
static void test_numbers(void **state)
{
    double vals[] = {0.1, 1.0 / 3.0, 1e-7, 123456789.125, 0};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        char text[200];
        struct rr_buf out;
        snprintf(text, sizeof(text), "rrload-plan 1\nwait constant %.17g\n", vals[i]);
        struct rr_plan *p = parse_ok(text, strlen(text));
        assert_true(p->wait.a == vals[i]);
        rr_buf_init(&out);
        rr_plan_format(p, &out);
        struct rr_plan *q = parse_ok((const char *)out.p, out.len);
        assert_true(q->wait.a == vals[i]);
        if (i == 0)
            assert_string_equal(rr_buf_cstr(&out), "rrload-plan 1\nwait constant 0.1\n");
        rr_buf_fini(&out);
        rr_plan_free(&p);
        rr_plan_free(&q);
    }
}

/* Hand-written text: comments, CRLF, tabs, bare words and pools declared after their use. */
static void test_hand_written(void **state)
{
    const char *t = "# my plan\r\n"
                    "rrload-plan 1   # version\r\n"
                    "flow demo weight 2\n"
                    "\tstep /s GET /search?q=${term}\n"
                    "\t\tbody \"a${te\"\n"
                    "\t\tbody \"rm}b\"\n"
                    "\tend\n"
                    "end\n"
                    "pool term\n"
                    "  value x\n"
                    "end\n";
    struct rr_plan *p = parse_ok(t, strlen(t));
    assert_int_equal(p->wait.kind, RR_WAIT_RECORDED);
    assert_true(p->wait.scale == 1.0);
    assert_null(p->host);
    assert_string_equal(p->flows[0].name, "demo");
    assert_string_equal(p->flows[0].steps[0].name, "/s");
    assert_int_equal(p->pools[0].mode, RR_POOL_RANDOM);
    assert_int_equal(p->pools[0].scope, RR_POOL_PER_ITERATION);
    struct rr_buf a;
    rr_buf_init(&a);
    rr_plan_format(p, &a);
    assert_string_equal(rr_buf_cstr(&a), "rrload-plan 1\n"
                                         "wait recorded\n"
                                         "\n"
                                         "pool term mode random scope iteration\n"
                                         "  value \"x\"\n"
                                         "end\n"
                                         "\n"
                                         "flow \"demo\" weight 2\n"
                                         "  step \"/s\" GET \"/search?q=${term}\"\n"
                                         "    body \"a${term}b\"\n"
                                         "  end\n"
                                         "end\n");
    rr_buf_fini(&a);
    rr_plan_free(&p);
}

static void test_errors(void **state)
{
    expect_error("", "1:1: expected \"rrload-plan 1\" first");
    expect_error("rrload-plan 2\n", "1:13: expected plan version 1 (this one is 2)");
    expect_error("rrload-plan 1\nhots \"x\"\n",
                 "2:1: unknown field \"hots\"; expected host, wait, pool, before, flow or after");
    expect_error("rrload-plan 1\nflow a weight 1\n  step s GET /\n    heder a b\n",
                 "4:5: unknown field \"heder\"; expected header, body, think, exchange, extract, "
                 "check or end");
    expect_error("rrload-plan 1\nflow a weight 1\n  step s GET /\n  end\n",
                 "5:1: expected \"end\" to close flow a");
    expect_error("rrload-plan 1\nflow a weight x\nend\n",
                 "2:15: expected a weight (a whole number)");
    expect_error("rrload-plan 1\nflow a weight 1\n  step s GET \"/a/${id}\"\n  end\nend\n",
                 "3:18: ${id} is neither a pool nor a value extracted earlier");
    /* a value extracted later, or by another flow, does not count */
    expect_error("rrload-plan 1\n"
                 "flow a weight 1\n"
                 "  step s GET /\n"
                 "    header Authorization \"Bearer ${tok}\"\n"
                 "    extract tok json $.token\n"
                 "  end\n"
                 "end\n",
                 "4:34: ${tok} is neither a pool nor a value extracted earlier");
    expect_error("rrload-plan 1\n"
                 "flow a weight 1\n  step s GET /\n    extract tok json $.token\n  end\nend\n"
                 "flow b weight 1\n  step s GET /${tok}\n  end\nend\n",
                 "8:15: ${tok} is neither a pool nor a value extracted earlier");
    expect_error("rrload-plan 1\nflow a weight 1\n  step s GET /\n    body \"x\\q\"\n",
                 "4:12: unknown escape: expected \\n, \\r, \\t, \\\", \\\\ or \\xHH");
    expect_error("rrload-plan 1\nhost \"abc\n",
                 "2:10: expected '\"' to end the string started at column 6");
    expect_error("rrload-plan 1\nhost \"a\\x00\"\n",
                 "2:6: a NUL byte (\\x00) is allowed only in a body");
    expect_error("rrload-plan 1\npool p\n value 1\nend\npool p\n value 2\nend\n",
                 "5:6: pool p is defined twice");
    expect_error("rrload-plan 1\npool p mode often\n",
                 "2:13: expected random, round-robin or unique");
    expect_error("rrload-plan 1\npool p\nend\n",
                 "3:1: expected value lines or csv FILE for pool p");
    expect_error("rrload-plan 1\nwait between 3 1\n",
                 "2:16: expected a maximum at least the minimum");
    expect_error("rrload-plan 1\nwait between 3\n", "2:15: expected seconds after the wait kind");
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET /\n  think 1.1234567\n",
                 "4:9: expected seconds (e.g. 1.25, at most six decimals)");
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET /\n  think 1 dist 0.5\n",
                 "4:19: expected at least two quantiles after dist (MIN ... MAX)");
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET /\n  think 1 dist\n",
                 "4:15: expected at least two quantiles after dist (MIN ... MAX)");
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET /\n  think 1 dist 0.5 0.4\n",
                 "4:20: expected quantiles in ascending order (at least 0.5)");
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET /\n  think 1 dist 0.5 x\n",
                 "4:20: expected seconds (e.g. 1.25, at most six decimals)");
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET /\n  think 1 dsit 0.5 1\n",
                 "4:11: unexpected word; expected think SECONDS [dist MIN ... MAX]");
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET /\n  think 1\n  think 2\n",
                 "5:3: think appears twice in this step");
    {
        /* 65 quantiles: one more than a step may carry */
        char big[1200] = "rrload-plan 1\nflow a weight 1\n step s GET /\n  think 1 dist";
        for (int i = 0; i <= RR_PLAN_MAX_THINK_Q; i++)
            strcat(big, " 1");
        strcat(big, "\n");
        expect_error(big, "4:144: too many words on one line (at most 67)");
    }
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET /\n  extract t json \"token]\"\n",
                 "4:18: expected a JSON path such as $.token or $.items[0].id");
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET /\n  check status 500 200\n",
                 "4:20: expected a status at least 500");
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET /\n  check contains x mesage y\n",
                 "4:20: expected message \"TEXT\" or the end of the line");
    expect_error("rrload-plan 1\nflow a weight 1\n step s \"G T\" /\n",
                 "3:9: expected a method such as GET or POST");
    expect_error("rrload-plan 1\nflow a weight 1\n step s GET\n",
                 "3:12: expected step NAME METHOD TARGET");
}

static void test_validate(void **state)
{
    const char *t = "rrload-plan 1\n"
                    "flow a weight 1\n"
                    "  step login POST /login\n"
                    "    extract tok json $.token\n"
                    "  end\n"
                    "  step s GET /\n"
                    "    header Authorization \"Bearer ${tok}\"\n"
                    "  end\n"
                    "end\n";
    struct rr_plan *p = parse_ok(t, strlen(t));
    char why[300];
    assert_int_equal(rr_plan_validate(p, why, sizeof(why)), 0);
    /* an edit in memory that breaks a reference is caught */
    free(p->flows[0].steps[0].extracts[0].var);
    p->flows[0].steps[0].extracts[0].var = strdup("token");
    assert_int_equal(rr_plan_validate(p, why, sizeof(why)), RR_EPARSE);
    assert_string_equal(why, "flow a, step 2 (s): header: ${tok} is neither a pool nor a value "
                             "extracted earlier");
    /* quantiles set in memory keep the parser's rules */
    struct rr_plan_step *st = &p->flows[0].steps[1];
    st->think_q_us = calloc(3, sizeof(uint64_t));
    st->n_think_q = 1;
    assert_int_equal(rr_plan_validate(p, why, sizeof(why)), RR_EPARSE);
    assert_string_equal(why, "flow a, step 2 (s): think dist: expected 2 to 64 quantiles in "
                             "ascending order, got 1");
    st->n_think_q = 3;
    st->think_q_us[0] = 5;
    assert_int_equal(rr_plan_validate(p, why, sizeof(why)), RR_EPARSE);
    st->think_q_us[1] = 5;
    st->think_q_us[2] = 7;
    free(p->flows[0].steps[0].extracts[0].var);
    p->flows[0].steps[0].extracts[0].var = strdup("tok");
    assert_int_equal(rr_plan_validate(p, why, sizeof(why)), 0);
    rr_plan_free(&p);
    rr_plan_free(&p); /* NULL-safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rich_roundtrip), cmocka_unit_test(test_any_bytes),
        cmocka_unit_test(test_numbers),        cmocka_unit_test(test_hand_written),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
