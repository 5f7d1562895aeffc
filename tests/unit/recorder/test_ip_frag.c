/* test_ip_frag.c -- IP fragment reassembly: order, duplicates, overlaps, limits, bad offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ip_frag.h"

static uint8_t data[4000];

static struct rr_ipfrag_key key(int ipv, uint32_t id)
{
    struct rr_ipfrag_key k;
    memset(&k, 0, sizeof(k));
    k.ipv = (uint8_t)ipv;
    k.proto = 6;
    k.id = id;
    memset(k.src, 1, ipv == 4 ? 4 : 16);
    memset(k.dst, 2, ipv == 4 ? 4 : 16);
    return k;
}

static void fill(void)
{
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7 + i / 251);
}

/* Adds data[off, off + n) as one fragment; returns what rr_ipfrag_add returned. */
static int add(struct rr_ipfrag *f, int ipv, uint32_t id, uint32_t off, size_t n, int more,
               uint64_t ts, const uint8_t **out, size_t *outlen)
{
    struct rr_ipfrag_key k = key(ipv, id);
    return rr_ipfrag_add(f, &k, off, more, data + off, n, ts, out, outlen);
}

static void in_order_v4(void **state)
{
    struct rr_ipfrag *f = NULL;
    const uint8_t *o = NULL;
    size_t n = 0;
    fill();
    assert_int_equal(rr_ipfrag_new(&f, 16, 30000000), 0);
    assert_int_equal(add(f, 4, 7, 0, 1480, 1, 1, &o, &n), 0);
    assert_int_equal(add(f, 4, 7, 1480, 1480, 1, 2, &o, &n), 0);
    assert_int_equal(rr_ipfrag_pending(f), 1);
    assert_int_equal(add(f, 4, 7, 2960, 1001, 0, 3, &o, &n), 1);
    assert_int_equal(n, 3961);
    assert_memory_equal(o, data, 3961);
    assert_int_equal(rr_ipfrag_pending(f), 0);
    assert_int_equal(rr_ipfrag_stats(f)->datagrams, 1);
    assert_int_equal(rr_ipfrag_stats(f)->reassembled, 3);
    assert_int_equal(rr_ipfrag_stats(f)->dropped, 0);
    rr_ipfrag_free(&f);
}

static void out_of_order_v6_and_interleaved(void **state)
{
    struct rr_ipfrag *f = NULL;
    const uint8_t *o = NULL;
    size_t n = 0;
    fill();
    assert_int_equal(rr_ipfrag_new(&f, 16, 30000000), 0);
    /* last first, then a second datagram interleaved, then the rest */
    assert_int_equal(add(f, 6, 0x10000001, 2000, 500, 0, 1, &o, &n), 0);
    assert_int_equal(add(f, 6, 0x10000002, 0, 8, 1, 1, &o, &n), 0);
    assert_int_equal(add(f, 6, 0x10000001, 1000, 1000, 1, 2, &o, &n), 0);
    /* a v4 datagram with the same id is another datagram */
    assert_int_equal(add(f, 4, 0x10000001, 0, 1000, 1, 2, &o, &n), 0);
    assert_int_equal(add(f, 6, 0x10000001, 0, 1000, 1, 3, &o, &n), 1);
    assert_int_equal(n, 2500);
    assert_memory_equal(o, data, 2500);
    assert_int_equal(add(f, 6, 0x10000002, 8, 3, 0, 4, &o, &n), 1);
    assert_int_equal(n, 11);
    assert_memory_equal(o, data, 11);
    assert_int_equal(rr_ipfrag_pending(f), 1);
    rr_ipfrag_flush(f);
    assert_int_equal(rr_ipfrag_stats(f)->evicted, 1);
    assert_int_equal(rr_ipfrag_stats(f)->dropped, 1);
    rr_ipfrag_free(&f);
}

static void duplicates_and_overlaps(void **state)
{
    struct rr_ipfrag *f = NULL;
    const uint8_t *o = NULL;
    size_t n = 0;
    uint8_t junk[2000];
    fill();
    memset(junk, 0xee, sizeof(junk));
    assert_int_equal(rr_ipfrag_new(&f, 16, 30000000), 0);
    struct rr_ipfrag_key k = key(4, 9);
    assert_int_equal(add(f, 4, 9, 0, 800, 1, 1, &o, &n), 0);
    assert_int_equal(add(f, 4, 9, 0, 800, 1, 1, &o, &n), 0); /* exact duplicate */
    /* overlaps bytes already there: those stay; only its new bytes count */
    assert_int_equal(rr_ipfrag_add(f, &k, 400, 1, junk, 800, 2, &o, &n), 0);
    assert_int_equal(add(f, 4, 9, 1200, 300, 0, 3, &o, &n), 1);
    assert_int_equal(n, 1500);
    assert_memory_equal(o, data, 800);
    assert_memory_equal(o + 800, junk, 400);
    assert_memory_equal(o + 1200, data + 1200, 300);
    assert_int_equal(rr_ipfrag_stats(f)->reassembled, 4);
    rr_ipfrag_free(&f);
}

static void timeout_evicts(void **state)
{
    struct rr_ipfrag *f = NULL;
    const uint8_t *o = NULL;
    size_t n = 0;
    fill();
    assert_int_equal(rr_ipfrag_new(&f, 16, 30000000), 0);
    assert_int_equal(add(f, 4, 1, 0, 800, 1, 1000000, &o, &n), 0);
    assert_int_equal(add(f, 4, 1, 1600, 8, 0, 2000000, &o, &n), 0);
    /* the missing piece arrives 31 s after the first: the datagram is gone, it starts anew */
    assert_int_equal(add(f, 4, 1, 800, 800, 1, 32000001, &o, &n), 0);
    assert_int_equal(rr_ipfrag_stats(f)->evicted_timeout, 1);
    assert_int_equal(rr_ipfrag_stats(f)->dropped, 2);
    assert_int_equal(rr_ipfrag_pending(f), 1);
    assert_int_equal(rr_ipfrag_stats(f)->datagrams, 0);
    /* a datagram whose pieces all come within the limit still completes */
    assert_int_equal(add(f, 4, 2, 0, 800, 1, 40000000, &o, &n), 0);
    assert_int_equal(add(f, 4, 2, 800, 8, 0, 69000000, &o, &n), 1);
    rr_ipfrag_free(&f);
}

static void too_many_in_progress(void **state)
{
    struct rr_ipfrag *f = NULL;
    const uint8_t *o = NULL;
    size_t n = 0;
    fill();
    assert_int_equal(rr_ipfrag_new(&f, 4, 30000000), 0);
    for (uint32_t id = 1; id <= 10; id++)
        assert_int_equal(add(f, 4, id, 0, 8, 1, id, &o, &n), 0);
    assert_int_equal(rr_ipfrag_pending(f), 4);
    assert_int_equal(rr_ipfrag_stats(f)->evicted_cap, 6);
    /* the oldest went first: 7..10 remain and complete, 1 does not */
    assert_int_equal(add(f, 4, 1, 8, 8, 0, 11, &o, &n), 0);
    assert_int_equal(add(f, 4, 10, 8, 8, 0, 12, &o, &n), 1);
    assert_int_equal(n, 16);
    rr_ipfrag_free(&f);
}

static void malformed(void **state)
{
    struct rr_ipfrag *f = NULL;
    const uint8_t *o = NULL;
    size_t n = 0;
    fill();
    assert_int_equal(rr_ipfrag_new(&f, 16, 30000000), 0);
    struct rr_ipfrag_key k = key(4, 5);
    /* not a multiple of 8 in a non-last fragment, an empty one, beyond 64 KiB, odd offset */
    assert_int_equal(add(f, 4, 5, 0, 801, 1, 1, &o, &n), 0);
    assert_int_equal(add(f, 4, 5, 0, 0, 1, 1, &o, &n), 0);
    assert_int_equal(rr_ipfrag_add(f, &k, 65528, 0, data, 8, 1, &o, &n), 0);
    assert_int_equal(rr_ipfrag_add(f, &k, 65528, 1, data, 8, 1, &o, &n), 0);
    assert_int_equal(rr_ipfrag_add(f, &k, 65535, 0, data, 0, 1, &o, &n), 0);
    assert_int_equal(rr_ipfrag_add(f, &k, 8191 * 8, 0, data, 7, 1, &o, &n), 0);
    assert_int_equal(add(f, 4, 5, 4, 8, 1, 1, &o, &n), 0);
    assert_int_equal(rr_ipfrag_stats(f)->dropped, 6);
    /* the largest legal datagram is fine: 65528 + 7 = 65535 */
    assert_int_equal(rr_ipfrag_pending(f), 1);
    rr_ipfrag_flush(f);
    /* contradicting lengths: a second "last" fragment, data past the end */
    assert_int_equal(add(f, 4, 6, 800, 100, 0, 1, &o, &n), 0);
    assert_int_equal(add(f, 4, 6, 800, 200, 0, 1, &o, &n), 0);
    assert_int_equal(add(f, 4, 6, 896, 8, 1, 1, &o, &n), 0);
    assert_int_equal(add(f, 4, 7, 800, 800, 1, 1, &o, &n), 0);
    assert_int_equal(add(f, 4, 7, 0, 400, 0, 1, &o, &n), 0); /* ends before data seen */
    assert_int_equal(rr_ipfrag_pending(f), 2);
    assert_int_equal(add(f, 4, 6, 0, 800, 1, 1, &o, &n), 1);
    assert_int_equal(n, 900);
    assert_memory_equal(o, data, 900);
    /* a zero-length last fragment right after whole units */
    assert_int_equal(add(f, 4, 8, 0, 16, 1, 1, &o, &n), 0);
    assert_int_equal(add(f, 4, 8, 16, 0, 0, 1, &o, &n), 1);
    assert_int_equal(n, 16);
    rr_ipfrag_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_v4),
        cmocka_unit_test(out_of_order_v6_and_interleaved),
        cmocka_unit_test(duplicates_and_overlaps),
        cmocka_unit_test(timeout_evicts),
        cmocka_unit_test(too_many_in_progress),
        cmocka_unit_test(malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
