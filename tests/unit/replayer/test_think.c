/* test_think.c -- Drawing a recorded think time from its quantiles: the bounds, the shape of
 * many draws, and the same waits for the same seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rp_int.h"

#define N_DRAWS 200000

static const uint64_t q9[] = {100000,  250000,  400000,  600000, 800000,
                              1100000, 1600000, 2400000, 6000000};

static void test_points(void **state)
{
    (void)state;
    /* u = k / (n - 1) lands on quantile k; between two it is linear */
    assert_int_equal(rp__think_draw(q9, 9, 0.0), 100000);
    assert_int_equal(rp__think_draw(q9, 9, 0.5), 800000);
    assert_int_equal(rp__think_draw(q9, 9, 0.25), 400000);
    assert_int_equal(rp__think_draw(q9, 9, 0.5 + 1.0 / 16), 950000);
    assert_true(rp__think_draw(q9, 9, 0.999999999) <= 6000000);
    assert_true(rp__think_draw(q9, 9, 0.999999999) > 5999000);
    /* out of range input stays inside the recorded range */
    assert_int_equal(rp__think_draw(q9, 9, 1.0), 6000000);
    assert_int_equal(rp__think_draw(q9, 9, -0.5), 100000);
    /* two equal quantiles: a constant */
    const uint64_t flat[] = {7, 7};
    assert_int_equal(rp__think_draw(flat, 2, 0.3), 7);
    const uint64_t two[] = {0, 1000};
    assert_int_equal(rp__think_draw(two, 2, 0.25), 250);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void draws(uint64_t seed, uint64_t *out)
{
    struct rp_worker w;
    memset(&w, 0, sizeof(w));
    w.rng = seed * 0x9E3779B97F4A7C15ull + 1; /* as replay.c seeds a worker */
    for (size_t i = 0; i < N_DRAWS; i++)
        out[i] = rp__think_draw(q9, 9, rp__rand01(&w));
}

static void test_distribution(void **state)
{
    uint64_t *a = malloc(N_DRAWS * sizeof(*a)), *b = malloc(N_DRAWS * sizeof(*b));
    (void)state;
    draws(42, a);
    draws(42, b);
    /* the same seed gives the same waits; another seed other waits */
    assert_memory_equal(a, b, N_DRAWS * sizeof(*a));
    draws(43, b);
    assert_memory_not_equal(a, b, N_DRAWS * sizeof(*a));
    qsort(a, N_DRAWS, sizeof(*a), cmp_u64);
    assert_true(a[0] >= q9[0]);
    assert_true(a[N_DRAWS - 1] <= q9[8]);
    /* the ends are reached (within 0.1 % of the range) */
    assert_true(a[0] < q9[0] + 6000);
    assert_true(a[N_DRAWS - 1] > q9[8] - 6000);
    /* every recorded quantile comes back as the empirical one, within 1 % in probability */
    for (size_t k = 1; k < 8; k++) {
        double p = (double)k / 8;
        uint64_t lo = a[(size_t)((p - 0.01) * N_DRAWS)], hi = a[(size_t)((p + 0.01) * N_DRAWS)];
        if (!(lo <= q9[k] && q9[k] <= hi))
            fail_msg("quantile %zu: %llu outside [%llu, %llu]", k, (unsigned long long)q9[k],
                     (unsigned long long)lo, (unsigned long long)hi);
    }
    /* the mean of the piecewise-linear distribution: the average of the segment midpoints */
    double want = 0, got = 0;
    for (size_t k = 0; k < 8; k++)
        want += (double)(q9[k] + q9[k + 1]) / 2 / 8;
    for (size_t i = 0; i < N_DRAWS; i++)
        got += (double)a[i] / N_DRAWS;
    assert_true(got > want * 0.99 && got < want * 1.01);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_points),
        cmocka_unit_test(test_distribution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
