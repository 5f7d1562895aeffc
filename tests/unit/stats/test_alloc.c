/* Recording allocates nothing once the entry and the error exist: malloc, calloc and realloc
 * are wrapped at link time (-Wl,--wrap) and counted around a burst of records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "rr/stats.h"

static unsigned long n_alloc;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t sz);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t sz);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    n_alloc++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t sz)
{
    n_alloc++;
    return __real_calloc(n, sz);
}

void *__wrap_realloc(void *p, size_t n)
{
    n_alloc++;
    return __real_realloc(p, n);
}

static void test_record_does_not_allocate(void **st)
{
    (void)st;
    struct rr_stats *s;
    assert_int_equal(rr_stats_new(&s), 0);
    int e[4];
    e[0] = rr_stats_entry(s, "GET", "/a");
    e[1] = rr_stats_entry(s, "GET", "/b");
    e[2] = rr_stats_entry(s, "POST", "/c");
    e[3] = rr_stats_entry(s, "GET", "/weird");
    /* First sight of each error (and of a masked address) may allocate. */
    rr_stats_record(s, e[2], 1000, 1, "HTTPError('500')", 1);
    rr_stats_record(s, e[3], 1000, 1, "Weird(<object object at 0x7f00>)", 1);
    unsigned long before = n_alloc;
    assert_true(before >= 8); /* the wrapping works: the entries were counted */
    for (uint32_t i = 0; i < 200000; i++) {
        rr_stats_record(s, e[i & 3], (uint64_t)(i * 7919) % 5000000, 100,
                        (i & 3) == 2   ? "HTTPError('500')"
                        : (i & 3) == 3 ? "Weird(<object object at 0x7f12>)"
                                       : NULL,
                        1000 + i / 1000);
        rr_stats_record_ts(s, e[i & 1], i, 0, NULL, 1000.5 + i / 1000);
    }
    assert_int_equal(n_alloc, before);
    struct rr_stats_entry_info in;
    rr_stats_info(s, e[3], &in);
    assert_int_equal(in.num_failures, 50001);
    assert_int_equal(rr_stats_failure_count(s), 2);
    rr_stats_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_does_not_allocate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
