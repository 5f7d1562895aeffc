/* test_util.c -- Durations, sizes and numbers as the command line takes them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "rr/util.h"

static void durations(void **state)
{
    uint64_t us;
    assert_int_equal(rr_parse_duration("300s", &us), 0);
    assert_int_equal(us, 300000000ull);
    assert_int_equal(rr_parse_duration("20m", &us), 0);
    assert_int_equal(us, 1200000000ull);
    assert_int_equal(rr_parse_duration("1h30m", &us), 0);
    assert_int_equal(us, 5400000000ull);
    assert_int_equal(rr_parse_duration("90", &us), 0);
    assert_int_equal(us, 90000000ull);
    assert_int_equal(rr_parse_duration("250ms", &us), 0);
    assert_int_equal(us, 250000ull);
    assert_int_equal(rr_parse_duration("", &us), RR_EPARSE);
    assert_int_equal(rr_parse_duration("5x", &us), RR_EPARSE);
    assert_int_equal(rr_parse_duration("m", &us), RR_EPARSE);
    assert_int_equal(rr_parse_duration("1h30", &us), RR_EPARSE);
    assert_int_equal(rr_parse_duration("-5s", &us), RR_EPARSE);
}

static void sizes_and_numbers(void **state)
{
    uint64_t v;
    double d;
    assert_int_equal(rr_parse_size("64M", &v), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(rr_parse_size("1GB", &v), 0);
    assert_int_equal(v, 1ull << 30);
    assert_int_equal(rr_parse_size("12q", &v), RR_EPARSE);
    assert_int_equal(rr_parse_u64("200", 1000, &v), 0);
    assert_int_equal(v, 200);
    assert_int_equal(rr_parse_u64("2000", 1000, &v), RR_EPARSE);
    assert_int_equal(rr_parse_u64("2a", 1000, &v), RR_EPARSE);
    assert_int_equal(rr_parse_double("2.5", &d), 0);
    assert_true(d == 2.5);
    assert_int_equal(rr_parse_double("nan", &d), RR_EPARSE);
    assert_int_not_equal(rr_hash64("a", 1, 0), rr_hash64("a", 1, 1));
    assert_int_not_equal(rr_hash64("ab", 2, 0), rr_hash64("ba", 2, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(durations),
        cmocka_unit_test(sizes_and_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
