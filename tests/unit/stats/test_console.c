/* Console tables against literal lines of Locust 2.12's output
 * (../shared/locust-samples/console/local_headless_u12_t12s.txt, final summary). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rr/stats.h"

static const char *HDR =
    "Type     Name                                                                          # reqs "
    "     # fails |    Avg     Min     Max    Med |   req/s  failures/s";
static const char *SEP =
    "--------|----------------------------------------------------------------------------|-------|"
    "-------------|-------|-------|-------|-------|--------|-----------";
static const char *ROW_CHECK =
    "GET      /check                                                                            26 "
    "  13(50.00%) |      1       0       9      1 |    2.21        1.11";
static const char *PHDR =
    "Type     Name                                                                                 "
    " "
    "50%    66%    75%    80%    90%    95%    98%    99%  99.9% 99.99%   100% # reqs";
static const char *PSEP =
    "--------|--------------------------------------------------------------------------------|----"
    "--"
    "--|------|------|------|------|------|------|------|------|------|------|------";
static const char *PROW_ROOT =
    "GET      /                                                                                    "
    "   "
    "2      2      2      2      2      3      3      9     10     10     10    103";
static const char *EHDR = "# occurrences      Error                                             "
                          "                                                  ";
static const char *ESEP =
    "------------------|---------------------------------------------------------------------------"
    "------------------------------------------------------------------";
static const char *EROW1 =
    "117                GET fastrefused: ConnectionRefusedError(111, 'Connection "
    "refused')                                  ";
static const char *EROW2 =
    "24                 POST /status/500: HTTPError('500 Server Error: Internal "
    "Server Error for url: http://127.0.0.1:18931/status/500')";

/* Splits b into lines (in place) and returns the count. */
static int lines(struct rr_buf *b, char **ln, int cap)
{
    int n = 0;
    char *p = (char *)rr_buf_cstr(b);
    while (*p && n < cap) {
        ln[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = 0;
        p = nl + 1;
    }
    return n;
}

static void test_table(void **st)
{
    (void)st;
    struct rr_stats *s;
    assert_int_equal(rr_stats_new(&s), 0);
    rr_stats_start(s, 1000.0);
    int c = rr_stats_entry(s, "GET", "/check");
    for (int i = 0; i < 26; i++) {
        uint64_t us = i == 0 ? 500 : i == 1 ? 9500 : 1200;
        rr_stats_record_ts(s, c, us, 0, i % 2 ? "CatchResponseError('x')" : NULL,
                           i == 25 ? 1011.75 : 1000.0 + i * 0.4);
    }
    struct rr_buf b;
    rr_buf_init(&b);
    rr_stats_print_table(s, 80, 0, &b);
    char *ln[16];
    int n = lines(&b, ln, 16);
    assert_int_equal(n, 6);
    assert_string_equal(ln[0], HDR);
    assert_string_equal(ln[1], SEP);
    assert_string_equal(ln[2], ROW_CHECK);
    assert_string_equal(ln[3], SEP);
    assert_int_equal(strncmp(ln[4], "         Aggregated    ", 23), 0);
    assert_string_equal(ln[4] + 90, ROW_CHECK + 90);
    assert_string_equal(ln[5], "");
    /* Periodic print: windowed rate (last 1011: window 1000..1008 has 23 of them over 9 s). */
    rr_buf_reset(&b);
    rr_stats_print_table(s, 80, 1, &b);
    n = lines(&b, ln, 16);
    assert_string_equal(ln[2] + strlen(ln[2]) - 21, "|    2.56        1.22");
    rr_buf_fini(&b);
    rr_stats_free(&s);
}

static void test_table_tty_and_long_names(void **st)
{
    (void)st;
    struct rr_stats *s;
    assert_int_equal(rr_stats_new(&s), 0);
    rr_stats_entry(s, "GET",
                   "/a/very/long/request/name/that/goes/on/and/on/and/on/well/beyond/eighty/"
                   "characters/in/total/length");
    rr_stats_entry(s, "GET", "/");
    struct rr_buf b;
    rr_buf_init(&b);
    rr_stats_print_table(s, 40, 0, &b);
    char *ln[16];
    int n = lines(&b, ln, 16);
    assert_int_equal(n, 7);
    assert_int_equal(strlen(ln[0]), 120);
    assert_int_equal(strlen(ln[1]), 120);
    assert_string_equal(ln[2], "GET      /                                          0     0(0.00%) "
                               "|      0       0       0      0 |    0.00        0.00");
    assert_true(strlen(ln[3]) > 120); /* never truncated */
    /* The percentile table at W=40 is 135 wide, the error separator 18 + 1 + 101. */
    int e = rr_stats_entry(s, "GET", "/");
    rr_stats_record(s, e, 2000, 0, "x", 1);
    rr_buf_reset(&b);
    rr_stats_print_percentiles(s, 40, &b);
    rr_stats_print_errors(s, 40, &b);
    n = lines(&b, ln, 16);
    assert_int_equal(strlen(ln[1]), 135);
    assert_int_equal(strlen(ln[2]), 135);
    assert_int_equal(strlen(ln[3]), 135);
    assert_string_equal(ln[9], "------------------|------------------------------------------------"
                               "-----------------------------------------------------");
    rr_buf_fini(&b);
    rr_stats_free(&s);
}

static void test_percentiles(void **st)
{
    (void)st;
    struct rr_stats *s;
    assert_int_equal(rr_stats_new(&s), 0);
    int r = rr_stats_entry(s, "GET", "/");
    rr_stats_entry(s, "GET", "/never");
    rr_stats_record(s, r, 10000, 0, NULL, 1);
    rr_stats_record(s, r, 9000, 0, NULL, 1);
    for (int i = 0; i < 4; i++)
        rr_stats_record(s, r, 3000, 0, NULL, 1);
    for (int i = 0; i < 97; i++)
        rr_stats_record(s, r, 2000, 0, NULL, 1);
    struct rr_buf b;
    rr_buf_init(&b);
    rr_stats_print_percentiles(s, 80, &b);
    char *ln[16];
    int n = lines(&b, ln, 16);
    assert_int_equal(n, 7);
    assert_string_equal(ln[0], "Response time percentiles (approximated)");
    assert_string_equal(ln[1], PHDR);
    assert_string_equal(ln[2], PSEP);
    assert_string_equal(ln[3], PROW_ROOT); /* /never has no times: no row */
    assert_string_equal(ln[4], PSEP);
    assert_int_equal(strlen(ln[5]), 175);
    assert_string_equal(ln[6], "");
    rr_buf_fini(&b);
    rr_stats_free(&s);
}

static void test_errors(void **st)
{
    (void)st;
    struct rr_stats *s;
    assert_int_equal(rr_stats_new(&s), 0);
    struct rr_buf b;
    rr_buf_init(&b);
    rr_stats_print_errors(s, 80, &b);
    assert_int_equal(b.len, 0);
    int a = rr_stats_entry(s, "GET", "fastrefused");
    int p = rr_stats_entry(s, "POST", "/status/500");
    for (int i = 0; i < 117; i++)
        rr_stats_record(s, a, 1000, 0, "ConnectionRefusedError(111, 'Connection refused')", 1);
    for (int i = 0; i < 24; i++)
        rr_stats_record(s, p, 1000, 0,
                        "HTTPError('500 Server Error: Internal Server Error for url: "
                        "http://127.0.0.1:18931/status/500')",
                        1);
    rr_stats_print_errors(s, 80, &b);
    char *ln[16];
    int n = lines(&b, ln, 16);
    assert_int_equal(n, 7);
    assert_string_equal(ln[0], "Error report");
    assert_string_equal(ln[1], EHDR);
    assert_string_equal(ln[2], ESEP);
    assert_string_equal(ln[3], EROW1);
    assert_string_equal(ln[4], EROW2);
    assert_string_equal(ln[5], ESEP);
    assert_string_equal(ln[6], "");
    rr_buf_fini(&b);
    rr_stats_free(&s);
}

static void test_log_line(void **st)
{
    (void)st;
    struct rr_buf b;
    rr_buf_init(&b);
    rr_stats_log(&b, 1795734718.0351, "INFO", "locust.main", "Shutting down (exit code %d)", 1);
    const char *l = rr_buf_cstr(&b);
    assert_int_equal(l[0], '[');
    assert_int_equal(l[20], ',');
    assert_memory_equal(l + 21, "035] ", 5);
    assert_non_null(strstr(l, "/INFO/locust.main: Shutting down (exit code 1)\n"));
    rr_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),       cmocka_unit_test(test_table_tty_and_long_names),
        cmocka_unit_test(test_percentiles), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_log_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
