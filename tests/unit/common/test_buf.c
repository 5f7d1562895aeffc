/* test_buf.c -- The byte buffer and the bounds-checked reader. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rr/buf.h"
#include "rr/rd.h"

static void varint_roundtrip(void **state)
{
    static const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
    struct rr_buf b;
    rr_buf_init(&b);
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        rr_buf_varint(&b, vals[i]);
    rr_buf_lenstr(&b, "abc", 3);
    rr_buf_be64(&b, 0x0102030405060708ull);
    struct rr_rd r;
    rr_rd_init(&r, b.p, b.len);
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        assert_int_equal(rr_rd_varint(&r), vals[i]);
    struct rr_view v = rr_rd_lenstr(&r);
    assert_true(rr_view_eqs(v, "abc"));
    assert_int_equal(rr_rd_be64(&r), 0x0102030405060708ull);
    assert_int_equal(r.err, 0);
    assert_int_equal(rr_rd_left(&r), 0);
    rr_buf_fini(&b);
}

static void reader_is_sticky(void **state)
{
    const uint8_t data[] = {0x05, 'a', 'b'}; /* claims 5 bytes, holds 2 */
    struct rr_rd r;
    rr_rd_init(&r, data, sizeof(data));
    struct rr_view v = rr_rd_lenstr(&r);
    assert_null(v.p);
    assert_int_equal(r.err, RR_EPARSE);
    assert_int_equal(rr_rd_u8(&r), 0);
    assert_int_equal(rr_rd_be32(&r), 0);
    /* an over-long varint is an error, not a shift past 63 bits */
    const uint8_t bad[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    rr_rd_init(&r, bad, sizeof(bad));
    rr_rd_varint(&r);
    assert_int_equal(r.err, RR_EPARSE);
}

static void printf_and_consume(void **state)
{
    struct rr_buf b;
    rr_buf_init(&b);
    rr_buf_printf(&b, "%s-%d", "x", 42);
    for (int i = 0; i < 1000; i++)
        rr_buf_addc(&b, 'y');
    rr_buf_consume(&b, 2);
    assert_int_equal(b.len, 1002);
    assert_memory_equal(b.p, "42yy", 4);
    assert_string_equal(rr_buf_cstr(&b) + 1000, "yy");
    assert_true(rr_view_caseeqs(rr_view_of("Content-Length", 14), "content-length"));
    assert_false(rr_view_caseeqs(rr_view_of("Content-Length", 14), "content-lengt"));
    rr_buf_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(varint_roundtrip),
        cmocka_unit_test(reader_is_sticky),
        cmocka_unit_test(printf_and_consume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
