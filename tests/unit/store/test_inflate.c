/* test_inflate.c -- Content-Encoding decoding shared by the dissectors and the HAR writer:
 * each coding and wrapper servers send, streams cut short, damaged data and the size cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <zlib.h>

#include "rr/exchange.h"

static uint8_t plain[100000];

/* wbits as deflateInit2 takes them: 31 gzip, 15 zlib, -15 raw. finish 0: Z_SYNC_FLUSH only */
static size_t pack(int wbits, int finish, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = plain;
    z.avail_in = sizeof(plain);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, finish ? Z_FINISH : Z_SYNC_FLUSH), finish ? Z_STREAM_END : Z_OK);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return n;
}

static int run(const uint8_t *p, size_t n, enum rr_coding c, size_t cap, unsigned flags)
{
    struct rr_buf b;
    rr_buf_init(&b);
    int rc = rr_exchange_inflate(p, n, c, cap, flags, &b);
    if (!rc) {
        assert_int_equal(b.len, sizeof(plain));
        assert_memory_equal(b.p, plain, sizeof(plain));
    }
    rr_buf_fini(&b);
    return rc;
}

static void codings(void **state)
{
    static uint8_t z[200000];
    size_t n;
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)("abcdefgh"[i % 8] + (i / 1000) % 7);

    n = pack(31, 1, z, sizeof(z));
    assert_int_equal(run(z, n, RR_CODING_GZIP, 1 << 20, 0), 0);
    assert_int_equal(run(z, n, RR_CODING_DEFLATE, 1 << 20, 0), RR_EPARSE);
    n = pack(15, 1, z, sizeof(z));
    assert_int_equal(run(z, n, RR_CODING_DEFLATE, 1 << 20, 0), 0);
    assert_int_equal(run(z, n, RR_CODING_GZIP, 1 << 20, 0), 0); /* zlib sent as "gzip" */
    n = pack(-15, 1, z, sizeof(z));
    assert_int_equal(run(z, n, RR_CODING_DEFLATE, 1 << 20, 0), 0); /* raw sent as "deflate" */
    assert_int_equal(run(z, n, RR_CODING_GZIP, 1 << 20, 0), RR_EPARSE);
    assert_int_equal(run(z, n, 0, 1 << 20, 0), -EINVAL);
}

static void cut_short_and_capped(void **state)
{
    static uint8_t z[200000];
    size_t n = pack(31, 0, z, sizeof(z));
    /* flushed but never finished: decoded only when the caller accepts that */
    assert_int_equal(run(z, n, RR_CODING_GZIP, 1 << 20, 0), RR_ETRUNC);
    assert_int_equal(run(z, n, RR_CODING_GZIP, 1 << 20, RR_INFLATE_PARTIAL), 0);
    /* a gzip header alone decodes to nothing: not "decoded" even when partial is fine */
    assert_int_equal(run(z, 10, RR_CODING_GZIP, 1 << 20, RR_INFLATE_PARTIAL), RR_ETRUNC);

    n = pack(15, 1, z, sizeof(z));
    assert_int_equal(run(z, n, RR_CODING_DEFLATE, sizeof(plain), 0), 0);
    assert_int_equal(run(z, n, RR_CODING_DEFLATE, sizeof(plain) - 1, 0), RR_ELIMIT);
    assert_int_equal(run(z, n, RR_CODING_DEFLATE, 10, RR_INFLATE_PARTIAL), RR_ELIMIT);

    z[n / 2] ^= 0x55;
    z[n / 2 + 1] ^= 0xaa;
    assert_int_not_equal(run(z, n, RR_CODING_DEFLATE, 1 << 20, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codings),
        cmocka_unit_test(cut_short_and_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
