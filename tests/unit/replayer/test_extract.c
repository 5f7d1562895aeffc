/* test_extract.c -- Templates, JSON paths, extractors, checks, the cookie jar and error texts
 * (sans-I/O: no sockets). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "rp_int.h"

static void test_tmpl(void **state)
{
    struct rp_vars v = {0};
    struct rp_tmpl t;
    struct rr_buf out;
    char why[256];
    (void)state;
    assert_int_equal(rp__var_add(&v, "user"), 0);
    assert_int_equal(rp__var_add(&v, "token"), 1);
    assert_int_equal(rp__var_add(&v, "user"), 0);
    const char *text = "/u/${user}?t=${token}&lit=$${x}&end";
    assert_int_equal(rp__tmpl_compile(&t, text, strlen(text), &v, why, sizeof(why)), 0);
    assert_false(t.is_static);
    struct rp_val vals[2] = {{"bob", 3}, {"T1", 2}};
    rr_buf_init(&out);
    rp__tmpl_expand(&t, vals, &out);
    assert_string_equal(rr_buf_cstr(&out), "/u/bob?t=T1&lit=${x}&end");
    rp__tmpl_fini(&t);
    /* an unknown name is an error naming it */
    assert_int_equal(rp__tmpl_compile(&t, "a${nope}b", 9, &v, why, sizeof(why)), RR_EPARSE);
    assert_non_null(strstr(why, "${nope}"));
    /* no variables: static; an unclosed ${ is literal */
    rr_buf_reset(&out);
    assert_int_equal(rp__tmpl_compile(&t, "x${y", 4, &v, why, sizeof(why)), 0);
    assert_true(t.is_static);
    rp__tmpl_expand(&t, NULL, &out);
    assert_string_equal(rr_buf_cstr(&out), "x${y");
    rp__tmpl_fini(&t);
    rr_buf_fini(&out);
    for (size_t i = 0; i < v.n; i++)
        free(v.names[i]);
    free(v.names);
}

static void test_json_path(void **state)
{
    struct rr_buf out;
    const char *doc = "{\"a\": {\"b\": [1, {\"c\": \"x y\"}]}, \"n\": 3.5, \"t\": true, "
                      "\"k e\": null}";
    (void)state;
    rr_buf_init(&out);
    assert_int_equal(rp__json_path(doc, strlen(doc), "$.a.b[1].c", &out), 0);
    assert_string_equal(rr_buf_cstr(&out), "x y");
    rr_buf_reset(&out);
    assert_int_equal(rp__json_path(doc, strlen(doc), "$.a.b[0]", &out), 0);
    assert_string_equal(rr_buf_cstr(&out), "1");
    rr_buf_reset(&out);
    assert_int_equal(rp__json_path(doc, strlen(doc), "$.a.b[-1].c", &out), 0);
    assert_string_equal(rr_buf_cstr(&out), "x y");
    rr_buf_reset(&out);
    assert_int_equal(rp__json_path(doc, strlen(doc), "$.t", &out), 0);
    assert_string_equal(rr_buf_cstr(&out), "true");
    rr_buf_reset(&out);
    assert_int_equal(rp__json_path(doc, strlen(doc), "$['k e']", &out), 0);
    assert_string_equal(rr_buf_cstr(&out), "null");
    assert_int_equal(rp__json_path(doc, strlen(doc), "$.a.zz", &out), RR_ENOTFOUND);
    assert_int_equal(rp__json_path(doc, strlen(doc), "$.a.b[9]", &out), RR_ENOTFOUND);
    assert_int_equal(rp__json_path("<html>", 6, "$.a", &out), RR_EPARSE);
    rr_buf_fini(&out);
}

static struct rr_view V(const char *s) {
    return rr_view_of(s, strlen(s));
}

static void
test_extract_and_jar(void **state)
{
    struct rr_view h[] = {
        V("Content-Type"), V("text/html"),      V("Set-Cookie"), V("sid=abc; Path=/; HttpOnly"),
        V("set-cookie"),   V("theme=\"dark\""), V("X-Token"),    V("t-1")};
    struct rp_resp resp = {
        .status = 200, .n_headers = 4, .headers = h, .body = V("<a id=\"n42\">ok</a>")};
    struct rr_buf out, jar;
    (void)state;
    rr_buf_init(&out);
    rr_buf_init(&jar);
    struct rp_extract e = {.kind = RR_EXTRACT_HEADER, .expr = "x-token"};
    assert_int_equal(rp__extract(&e, &resp, NULL, &out), 0);
    assert_string_equal(rr_buf_cstr(&out), "t-1");
    rr_buf_reset(&out);
    e = (struct rp_extract){.kind = RR_EXTRACT_COOKIE, .expr = "theme"};
    assert_int_equal(rp__extract(&e, &resp, NULL, &out), 0);
    assert_string_equal(rr_buf_cstr(&out), "dark");
    rr_buf_reset(&out);
    int ec;
    PCRE2_SIZE off;
    e = (struct rp_extract){.kind = RR_EXTRACT_REGEX, .expr = "id=\"n(\\d+)\""};
    e.re = pcre2_compile((PCRE2_SPTR)e.expr, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
    pcre2_match_data *md = pcre2_match_data_create(8, NULL);
    assert_int_equal(rp__extract(&e, &resp, md, &out), 0);
    assert_string_equal(rr_buf_cstr(&out), "42");
    e.expr = "nothing";
    pcre2_code_free(e.re);
    e.re = pcre2_compile((PCRE2_SPTR) "zz(\\d)", PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
    assert_int_equal(rp__extract(&e, &resp, md, &out), RR_ENOTFOUND);
    pcre2_code_free(e.re);
    pcre2_match_data_free(md);

    rp__jar_update(&jar, &resp);
    assert_string_equal(rr_buf_cstr(&jar), "sid=abc; theme=dark");
    /* replace one, delete another */
    struct rr_view h2[] = {V("Set-Cookie"), V("theme=light"), V("Set-Cookie"),
                           V("sid=; Max-Age=0")};
    struct rp_resp r2 = {.status = 200, .n_headers = 2, .headers = h2};
    rp__jar_update(&jar, &r2);
    assert_string_equal(rr_buf_cstr(&jar), "theme=light");
    rr_buf_fini(&out);
    rr_buf_fini(&jar);
}

static void test_checks(void **state)
{
    char buf[600];
    struct rr_plan_check ck[] = {
        {.kind = RR_CHECK_STATUS, .status_lo = 200, .status_hi = 299},
        {.kind = RR_CHECK_JSON_EQ, .expr = "$.ok", .value = "true"},
        {.kind = RR_CHECK_BODY_CONTAINS, .value = "\"ok\"", .message = "no ok"},
        {.kind = RR_CHECK_MAX_MS, .max_ms = 100},
    };
    struct rr_plan_step src = {.n_checks = 4, .checks = ck};
    struct rp_step s = {.src = &src, .name = "/api", .has_status_check = true};
    struct rp_resp r = {.status = 200, .reason = V("OK"), .body = V("{\"ok\": true}")};
    (void)state;
    assert_null(rp__check(&s, &r, 5, buf, sizeof(buf)));
    assert_string_equal(rp__check(&s, &r, 150, buf, sizeof(buf)),
                        "CatchResponseError('response took 150 ms, more than 100 ms')");
    r.body = V("{\"ok\": false}");
    assert_string_equal(rp__check(&s, &r, 5, buf, sizeof(buf)),
                        "CatchResponseError('$.ok: expected true, got false')");
    r.status = 404;
    r.reason = V("Not Found");
    assert_string_equal(rp__check(&s, &r, 5, buf, sizeof(buf)),
                        "HTTPError('404 Client Error: Not Found for url: /api')");
    r.status = 302;
    assert_string_equal(rp__check(&s, &r, 5, buf, sizeof(buf)),
                        "CatchResponseError('status 302, expected 200-299')");
    /* without a status check: HttpUser's rule, 3xx passes, 5xx fails */
    struct rp_step plain = {.name = "/x"};
    r.status = 503;
    r.reason = V("Service Unavailable");
    assert_string_equal(rp__check(&plain, &r, 5, buf, sizeof(buf)),
                        "HTTPError('503 Server Error: Service Unavailable for url: /x')");
    r.status = 302;
    assert_null(rp__check(&plain, &r, 5, buf, sizeof(buf)));
    /* a message with a quote switches to double quotes, as Python's repr */
    struct rr_plan_check q[] = {{.kind = RR_CHECK_BODY_CONTAINS, .value = "zz", .message = "it's"}};
    struct rr_plan_step qs = {.n_checks = 1, .checks = q};
    struct rp_step s2 = {.src = &qs, .name = "/q"};
    r.status = 200;
    assert_string_equal(rp__check(&s2, &r, 1, buf, sizeof(buf)), "CatchResponseError(\"it's\")");
}

static void test_errno_texts(void **state)
{
    char buf[128];
    (void)state;
    assert_string_equal(rp__err_errno(ECONNREFUSED, buf, sizeof(buf)),
                        "ConnectionRefusedError(111, 'Connection refused')");
    assert_string_equal(rp__err_errno(ECONNRESET, buf, sizeof(buf)),
                        "ConnectionResetError(104, 'Connection reset by peer')");
}

/* Compresses src with the given zlib windowBits (31 gzip, 15 zlib, -15 raw deflate). */
static size_t squeeze(const char *src, int bits, uint8_t *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)strlen(src);
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    deflateEnd(&zs);
    return zs.total_out;
}

/* gzip, zlib-wrapped and raw deflate, fed in small pieces, with one decoder reused; a corrupt
 * stream is an error; counting without keeping gives the same length. */
static void test_inflate(void **state)
{
    static const char text[] = "{\"token\":\"abc\",\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";
    static const int bits[] = {31, 15, -15};
    uint8_t z[512];
    struct rp_inflate d = {0};
    struct rr_buf out;
    (void)state;
    rr_buf_init(&out);
    for (size_t b = 0; b < 3; b++) {
        size_t n = squeeze(text, bits[b], z, sizeof(z));
        uint64_t got = 0, counted = 0;
        rr_buf_reset(&out);
        rp__inflate_start(&d);
        for (size_t off = 0; off < n; off += 7)
            assert_int_equal(rp__inflate_feed(&d, z + off, n - off < 7 ? n - off : 7, &out, &got),
                             0);
        assert_true(rp__inflate_done(&d));
        assert_int_equal(got, strlen(text));
        assert_memory_equal(out.p, text, strlen(text));
        rp__inflate_start(&d);
        assert_int_equal(rp__inflate_feed(&d, z, n, NULL, &counted), 0);
        assert_int_equal(counted, strlen(text));
    }
    size_t n = squeeze(text, 31, z, sizeof(z));
    uint64_t got = 0;
    z[n / 2] ^= 0x55;
    z[n / 2 + 1] ^= 0x55;
    rp__inflate_start(&d);
    rr_buf_reset(&out);
    assert_int_equal(rp__inflate_feed(&d, z, n, &out, &got), RR_EPARSE);
    assert_false(rp__inflate_done(&d));
    rp__inflate_fini(&d);
    rr_buf_fini(&out);
    assert_true(rp__ce_decodes(rr_view_of("gzip", 4)));
    assert_true(rp__ce_decodes(rr_view_of(" GZip ", 6)));
    assert_true(rp__ce_decodes(rr_view_of("x-gzip", 6)));
    assert_true(rp__ce_decodes(rr_view_of("deflate", 7)));
    assert_false(rp__ce_decodes(rr_view_of("br", 2)));
    assert_false(rp__ce_decodes(rr_view_of("identity", 8)));
    assert_false(rp__ce_decodes(rr_view_of("gzip, br", 8)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tmpl),
        cmocka_unit_test(test_json_path),
        cmocka_unit_test(test_extract_and_jar),
        cmocka_unit_test(test_checks),
        cmocka_unit_test(test_errno_texts),
        cmocka_unit_test(test_inflate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
