/* test_text.c -- UTF-8 checks, hex digits and base64 as the HAR, plan and locustfile code use
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rr/text.h"

#define U(s) (const uint8_t *)(s), sizeof(s) - 1

static void utf8(void **state)
{
    assert_int_equal(rr_utf8_seq_len(U("a")), 1);
    assert_int_equal(rr_utf8_seq_len(U("\0")), 1);
    assert_int_equal(rr_utf8_seq_len(U("\xc3\xa9")), 2);     /* é */
    assert_int_equal(rr_utf8_seq_len(U("\xe2\x82\xac")), 3); /* € */
    assert_int_equal(rr_utf8_seq_len(U("\xf0\x9f\x98\x80")), 4);
    assert_int_equal(rr_utf8_seq_len((const uint8_t *)"a", 0), 0);
    assert_int_equal(rr_utf8_seq_len(U("\xc3")), 0);             /* cut short */
    assert_int_equal(rr_utf8_seq_len(U("\xc0\xaf")), 0);         /* overlong '/' */
    assert_int_equal(rr_utf8_seq_len(U("\xe0\x80\xaf")), 0);     /* overlong, 3 bytes */
    assert_int_equal(rr_utf8_seq_len(U("\xed\xa0\x80")), 0);     /* surrogate */
    assert_int_equal(rr_utf8_seq_len(U("\xf4\x90\x80\x80")), 0); /* past U+10FFFF */
    assert_int_equal(rr_utf8_seq_len(U("\xc3\x28")), 0);         /* bad continuation */
    assert_int_equal(rr_utf8_seq_len(U("\x80")), 0);
    assert_true(rr_utf8_is_valid(U("")));
    assert_true(rr_utf8_is_valid(U("plain, caf\xc3\xa9 \xe2\x82\xac\0")));
    assert_false(rr_utf8_is_valid(U("caf\xc3")));
    assert_false(rr_utf8_is_valid(U("x\xff")));
}

static void hex(void **state)
{
    assert_int_equal(rr_hex_val('0'), 0);
    assert_int_equal(rr_hex_val('9'), 9);
    assert_int_equal(rr_hex_val('a'), 10);
    assert_int_equal(rr_hex_val('F'), 15);
    assert_int_equal(rr_hex_val('g'), -1);
    assert_int_equal(rr_hex_val('G'), -1);
    assert_int_equal(rr_hex_val('/'), -1);
    assert_int_equal(rr_hex_val(-1), -1);
}

static void escapes(void **state)
{
    const char *in = "a\"'\\\n\r\t\x01\x7f\xc3~";
    struct rr_buf b;
    rr_buf_init(&b);
    for (const char *p = in; *p; p++)
        if (!rr_escape_byte(&b, (uint8_t)*p, '"'))
            rr_buf_addc(&b, (uint8_t)*p);
    assert_string_equal(rr_buf_cstr(&b), "a\\\"'\\\\\\n\\r\\t\\x01\\x7f\xc3~");
    rr_buf_reset(&b);
    assert_int_equal(rr_escape_byte(&b, '\'', '\''), 1);
    assert_int_equal(rr_escape_byte(&b, '"', '\''), 0);
    assert_string_equal(rr_buf_cstr(&b), "\\'");
    rr_buf_fini(&b);
}

static void enc(const char *in, size_t n, const char *want)
{
    struct rr_buf b;
    rr_buf_init(&b);
    rr_base64_encode((const uint8_t *)in, n, &b);
    assert_string_equal(rr_buf_cstr(&b), want);
    rr_buf_fini(&b);
}

static void dec(const char *in, int want_rc, const char *want, size_t want_len)
{
    struct rr_buf b;
    rr_buf_init(&b);
    assert_int_equal(rr_base64_decode(in, strlen(in), &b), want_rc);
    if (!want_rc) {
        assert_int_equal(b.len, want_len);
        assert_memory_equal(b.p, want, want_len);
    }
    rr_buf_fini(&b);
}

static void base64(void **state)
{
    /* RFC 4648 section 10 */
    enc("", 0, "");
    enc("f", 1, "Zg==");
    enc("fo", 2, "Zm8=");
    enc("foo", 3, "Zm9v");
    enc("foob", 4, "Zm9vYg==");
    enc("fooba", 5, "Zm9vYmE=");
    enc("foobar", 6, "Zm9vYmFy");
    enc("\xfb\xff\xbf", 3, "+/+/");
    dec("Zm9vYmFy", 0, "foobar", 6);
    dec("Zm9vYg==", 0, "foob", 4);
    dec("Zm9vYg", 0, "foob", 4);         /* padding optional */
    dec("Zm9v\r\n YmE=", 0, "fooba", 5); /* whitespace skipped */
    dec("-_-_", 0, "\xfb\xff\xbf", 3);   /* URL alphabet */
    dec("+/+/", 0, "\xfb\xff\xbf", 3);
    dec("Zm9v*", RR_EPARSE, NULL, 0);
    dec("Zg==garbage!", 0, "f", 1); /* stops at the padding */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8),
        cmocka_unit_test(hex),
        cmocka_unit_test(escapes),
        cmocka_unit_test(base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
