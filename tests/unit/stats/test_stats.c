/* Recording, Locust's bucket rounding and percentiles, HDR percentiles, merge, failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rr/stats.h"

static void test_bucket_rounding(void **st)
{
    (void)st;
    /* Python round(): ties to even, per band (stats.py StatsEntry.log). */
    assert_int_equal(rr_stats_bucket_ms(0), 0);
    assert_int_equal(rr_stats_bucket_ms(1500), 2);
    assert_int_equal(rr_stats_bucket_ms(2500), 2);
    assert_int_equal(rr_stats_bucket_ms(99499), 99);
    assert_int_equal(rr_stats_bucket_ms(99500), 100);
    assert_int_equal(rr_stats_bucket_ms(105000), 100);
    assert_int_equal(rr_stats_bucket_ms(115000), 120);
    assert_int_equal(rr_stats_bucket_ms(125000), 120);
    assert_int_equal(rr_stats_bucket_ms(145000), 140);
    assert_int_equal(rr_stats_bucket_ms(155000), 160);
    assert_int_equal(rr_stats_bucket_ms(995000), 1000);
    assert_int_equal(rr_stats_bucket_ms(1234000), 1200);
    assert_int_equal(rr_stats_bucket_ms(9950000), 10000);
    assert_int_equal(rr_stats_bucket_ms(12500000), 12000);
    assert_int_equal(rr_stats_bucket_ms(13500000), 14000);
}

/* The spec's example: H={1:5, 2:3, 10:1, 150:1}: median 1, percentiles 2,2,2,10,150... */
static void test_median_vs_percentile(void **st)
{
    (void)st;
    struct rr_stats *s;
    assert_int_equal(rr_stats_new(&s), 0);
    int e = rr_stats_entry(s, "GET", "/");
    uint64_t ms[] = {1, 1, 1, 1, 1, 2, 2, 2, 10, 150};
    for (size_t i = 0; i < 10; i++)
        rr_stats_record(s, e, ms[i] * 1000, 10, NULL, 1000);
    assert_true(rr_stats_median(s, e) == 1.0);
    assert_int_equal(rr_stats_percentile(s, e, 0.50), 2);
    assert_int_equal(rr_stats_percentile(s, e, 0.66), 2);
    assert_int_equal(rr_stats_percentile(s, e, 0.75), 2);
    assert_int_equal(rr_stats_percentile(s, e, 0.80), 10);
    assert_int_equal(rr_stats_percentile(s, e, 0.90), 150);
    assert_int_equal(rr_stats_percentile(s, e, 1.0), 150);
    assert_int_equal(rr_stats_percentile(s, RR_STATS_TOTAL, 0.80), 10);
    /* Median clamps to the exact min/max. */
    int slow = rr_stats_entry(s, "GET", "/slow");
    rr_stats_record(s, slow, 121792, 0, NULL, 1000);
    assert_true(rr_stats_median(s, slow) == 121.792);
    assert_int_equal(rr_stats_percentile(s, slow, 1.0), 120);
    rr_stats_free(&s);
    assert_null(s);
}

static void test_hdr_exact_and_merge(void **st)
{
    (void)st;
    struct rr_stats *a, *b, *t;
    assert_int_equal(rr_stats_new(&a), 0);
    assert_int_equal(rr_stats_new(&b), 0);
    assert_int_equal(rr_stats_new(&t), 0);
    int ea = rr_stats_entry(a, "GET", "/x");
    rr_stats_entry(b, "POST", "/other");
    int eb = rr_stats_entry(b, "GET", "/x");
    for (uint64_t i = 1; i <= 1000; i++) {
        rr_stats_record(i % 2 ? a : b, i % 2 ? ea : eb, i * 1000, 1, NULL,
                        5000 + (uint32_t)(i % 20));
    }
    rr_stats_record(a, ea, 3000, 1, "ConnectionRefusedError(111, 'Connection refused')", 5001);
    rr_stats_record(b, eb, 3000, 1, "ConnectionRefusedError(111, 'Connection refused')", 5001);
    rr_stats_merge(t, a);
    rr_stats_merge(t, b);
    int et = rr_stats_find(t, "GET", "/x");
    assert_true(et >= 0);
    struct rr_stats_entry_info in;
    rr_stats_info(t, et, &in);
    assert_int_equal(in.num_requests, 1002);
    assert_int_equal(in.num_failures, 2);
    assert_int_equal(in.min_rt_us, 1000);
    assert_int_equal(in.max_rt_us, 1000000);
    assert_int_equal(in.total_content_length, 1002);
    /* 3 significant digits: 500 ms is within 0.1 %. */
    uint64_t p50 = rr_stats_hdr_percentile(t, et, 0.5);
    assert_true(p50 >= 498000 && p50 <= 500500);
    uint64_t p99 = rr_stats_hdr_percentile(t, et, 0.99);
    assert_true(p99 >= 989000 && p99 <= 991000);
    assert_int_equal(rr_stats_hdr_percentile(t, et, 1.0), 1000000);
    assert_int_equal(rr_stats_failure_count(t), 1);
    struct rr_stats_failure_info fi;
    rr_stats_failure(t, 0, &fi);
    assert_int_equal(fi.occurrences, 2);
    assert_string_equal(fi.name, "/x");
    rr_stats_info(t, RR_STATS_TOTAL, &in);
    assert_int_equal(in.num_requests, 1002);
    assert_string_equal(in.name, "Aggregated");
    uint64_t r, f;
    rr_stats_per_sec(t, et, 5001, &r, &f);
    assert_int_equal(r, 52);
    assert_int_equal(f, 2);
    rr_stats_reset(t);
    rr_stats_info(t, et, &in);
    assert_int_equal(in.num_requests, 0);
    assert_int_equal(rr_stats_failure_count(t), 0);
    rr_stats_free(&a);
    rr_stats_free(&b);
    rr_stats_free(&t);
}

static void test_current_rps_window(void **st)
{
    (void)st;
    struct rr_stats *s;
    assert_int_equal(rr_stats_new(&s), 0);
    rr_stats_start(s, 1000.0);
    int e = rr_stats_entry(s, "GET", "/");
    assert_true(rr_stats_current_rps(s, e) == 0.0);
    /* 10 req/s during seconds 1000..1019 */
    for (uint32_t t = 1000; t < 1020; t++)
        for (int i = 0; i < 10; i++)
            rr_stats_record_ts(s, e, 1000, 0, i ? NULL : "boom", t + i / 10.0);
    /* last = 1019: window 1007..1016 (10 seconds) */
    assert_true(rr_stats_current_rps(s, e) == 10.0);
    assert_true(rr_stats_current_fail_per_sec(s, e) == 1.0);
    /* span 1019.9 - 1000 */
    double tr = rr_stats_total_rps(s, RR_STATS_TOTAL);
    assert_true(tr > 200 / 19.91 && tr < 200 / 19.89);
    rr_stats_free(&s);
}

static void test_error_normalise_and_key(void **st)
{
    (void)st;
    struct rr_buf b;
    rr_buf_init(&b);
    rr_stats_normalise_error("Weird(<object object at 0x7fb35cc1e040>)", &b);
    assert_string_equal(rr_buf_cstr(&b), "Weird(<object object at 0x....>)");
    rr_buf_reset(&b);
    rr_stats_pyrepr("CatchResponseError('x')", &b);
    assert_string_equal(rr_buf_cstr(&b), "\"CatchResponseError('x')\"");
    rr_buf_reset(&b);
    rr_stats_pyrepr("a\"b'c\\", &b);
    assert_string_equal(rr_buf_cstr(&b), "'a\"b\\'c\\\\'");
    char hex[65];
    rr_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    rr_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* Same error text from two addresses is one failure. */
    struct rr_stats *s;
    assert_int_equal(rr_stats_new(&s), 0);
    int e = rr_stats_entry(s, "GET", "/weird");
    rr_stats_record(s, e, 1000, 0, "Weird(<object object at 0x7f726d886110>)", 1);
    rr_stats_record(s, e, 1000, 0, "Weird(<object object at 0x7f0000000000>)", 1);
    assert_int_equal(rr_stats_failure_count(s), 1);
    struct rr_stats_failure_info fi;
    rr_stats_failure(s, 0, &fi);
    assert_int_equal(fi.occurrences, 2);
    assert_string_equal(fi.error, "Weird(<object object at 0x....>)");
    rr_stats_free(&s);
    rr_buf_fini(&b);
}

static void pf(double v, const char *want)
{
    struct rr_buf b;
    rr_buf_init(&b);
    rr_stats_pyfloat(v, &b);
    assert_string_equal(rr_buf_cstr(&b), want);
    rr_buf_fini(&b);
}

static void test_pyfloat(void **st)
{
    (void)st;
    pf(12.0, "12.0");
    pf(0.0, "0.0");
    pf(8.348188069672489, "8.348188069672489");
    pf(2.0 / 3.0, "0.6666666666666666");
    pf(123456789012345.6, "123456789012345.6");
    pf(1e-05, "1e-05");
    pf(1.5e-07, "1.5e-07");
    pf(1e16, "1e+16");
    pf(0.0001, "0.0001");
    pf(1222.9885109999827, "1222.9885109999827");
    pf(-2.5, "-2.5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_rounding),         cmocka_unit_test(test_median_vs_percentile),
        cmocka_unit_test(test_hdr_exact_and_merge),     cmocka_unit_test(test_current_rps_window),
        cmocka_unit_test(test_error_normalise_and_key), cmocka_unit_test(test_pyfloat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
