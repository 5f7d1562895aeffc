/* Run records in a store: rrload show FILE runs and rrload compare FILE A B with and without
 * --max-regression, on two runs where B's /slow endpoint got slower. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rr/stats.h"
#include "rr/store.h"

static void make_run(struct rr_store *st, uint64_t slow_us, uint64_t *id)
{
    struct rr_stats *s;
    assert_int_equal(rr_stats_new(&s), 0);
    rr_stats_start(s, 1000.0);
    int f = rr_stats_entry(s, "GET", "/fast"), w = rr_stats_entry(s, "GET", "/slow");
    for (int i = 0; i < 1000; i++) {
        rr_stats_record_ts(s, f, 2000 + (uint64_t)i, 10, NULL, 1000 + i / 100.0);
        rr_stats_record_ts(s, w, slow_us + (uint64_t)i * 10, 10, i % 100 ? NULL : "E('x')",
                           1000 + i / 100.0);
    }
    struct rr_report_opts o = {
        .host = "http://127.0.0.1:1", .script = "x.db", .command_line = "rrload replay x.db"};
    struct rr_report *r;
    assert_int_equal(rr_report_new(&r, &o), 0);
    assert_int_equal(rr_report_tick(r, s, 1010.0, 4), 0);
    struct rr_buf b;
    rr_buf_init(&b);
    rr_report_run_json(r, s, NULL, &b);
    assert_int_equal(rr_store_run_add(st, b.p, b.len, id), 0);
    rr_buf_fini(&b);
    rr_report_free(&r);
    rr_stats_free(&s);
}

static int run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_show_and_compare(void **state)
{
    (void)state;
    const char *rrload = getenv("RRLOAD");
    if (!rrload)
        skip();
    char dir[] = "/tmp/rrruns.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/x.db", dir);
    struct rr_store_opts so = {.path = path, .create = 1};
    struct rr_store *st;
    assert_int_equal(rr_store_open(&st, &so, NULL, 0), 0);
    uint64_t a, b;
    make_run(st, 100000, &a);
    make_run(st, 130000, &b);
    assert_int_equal(rr_store_close(&st), 0);

    char cmd[1024], out[65536];
    snprintf(cmd, sizeof(cmd), "%s show %s runs", rrload, path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "ID    Started (UTC)"));
    assert_non_null(strstr(out, "\n1     1970-01-01 00:16:40"));
    assert_non_null(strstr(out, "\n2     "));
    assert_non_null(strstr(out, "rrload replay x.db"));

    snprintf(cmd, sizeof(cmd), "%s compare %s 1 2 2>&1", rrload, path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "GET      /slow "));
    snprintf(cmd, sizeof(cmd), "%s compare %s 1 last --max-regression 10%% 2>&1", rrload, path);
    assert_int_equal(run(cmd, out, sizeof(out)), 1);
    assert_non_null(strstr(out, "REGRESSION: GET /slow: median"));
    assert_non_null(strstr(out, "REGRESSION: GET /slow: p95"));
    assert_null(strstr(out, "REGRESSION: GET /fast"));
    snprintf(cmd, sizeof(cmd), "%s compare %s 1 2 --max-regression 50%% 2>&1", rrload, path);
    assert_int_equal(run(cmd, out, sizeof(out)), 0);
    snprintf(cmd, sizeof(cmd), "%s compare %s 1 9 2>&1", rrload, path);
    assert_int_equal(run(cmd, out, sizeof(out)), 2);
    assert_non_null(strstr(out, "run 9: not found"));
    snprintf(cmd, sizeof(cmd), "%s compare %s 1 2 --max-regression abc 2>&1", rrload, path);
    assert_int_equal(run(cmd, out, sizeof(out)), 2);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_show_and_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
