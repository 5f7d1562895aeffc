/* test_regex.c -- The regex the transform builds to take a value out of a text body: checked
 * here with PCRE2 the way the replayer runs it (first match, group 1). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pcre2.h>

#include "rr/buf.h"
#include "tx_int.h"

/* What the replayer would extract from body with pattern (NULL when nothing). */
static char *run(const char *pattern, const char *body)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
    assert_non_null(re);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int n = pcre2_match(re, (PCRE2_SPTR)body, strlen(body), 0, 0, md, NULL);
    char *out = NULL;
    if (n > 1) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        out = strndup(body + ov[2], ov[3] - ov[2]);
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return out;
}

/* Builds the regex for val in body, checks it takes val back out, and that it takes
 * other from body with val replaced by other (what a fresh page at replay looks like). */
static void ok(const char *body, const char *val, const char *other, const char *want_name,
               struct rr_buf *re)
{
    struct rr_buf name;
    rr_buf_init(&name);
    assert_int_equal(tx_regex_for(body, strlen(body), val, strlen(val), re, &name), 0);
    char *got = run(rr_buf_cstr(re), body);
    assert_non_null(got);
    assert_string_equal(got, val);
    free(got);
    /* the same page with another value */
    const char *at = strstr(body, val);
    struct rr_buf fresh;
    rr_buf_init(&fresh);
    rr_buf_add(&fresh, body, (size_t)(at - body));
    rr_buf_adds(&fresh, other);
    rr_buf_adds(&fresh, at + strlen(val));
    got = run(rr_buf_cstr(re), rr_buf_cstr(&fresh));
    assert_non_null(got);
    assert_string_equal(got, other);
    free(got);
    assert_string_equal(rr_buf_cstr(&name), want_name);
    rr_buf_fini(&fresh);
    rr_buf_fini(&name);
}

static void test_hidden_input(void **st)
{
    (void)st;
    struct rr_buf re;
    rr_buf_init(&re);
    ok("<html><form method=post>\n  <input type=\"hidden\" name=\"csrf_token\" "
       "value=\"k3J9xQ2mZp7WvL0a\">\n  <input name=\"note\"></form>",
       "k3J9xQ2mZp7WvL0a", "QQQQwwww1111zzzz", "csrf_token", &re);
    assert_non_null(strstr(rr_buf_cstr(&re), "value=\"([A-Za-z0-9_\\-]+)\""));
    /* name after the value, single quotes */
    ok("<input value='abcdefgh12' name='authenticity_token' type=hidden>", "abcdefgh12",
       "zzzzzzzz99", "authenticity_token", &re);
    rr_buf_fini(&re);
}

static void test_meta_and_js(void **st)
{
    (void)st;
    struct rr_buf re;
    rr_buf_init(&re);
    ok("<head><meta name=\"csrf-token\" content=\"Zm9vYmFyYmF6+/==\"></head>",
       "Zm9vYmFyYmF6+/==", "YWJjZGVmZ2hp+/==", "csrf-token", &re);
    ok("<script>window.app.csrfToken = \"t0k3n-abc.def\";</script>", "t0k3n-abc.def",
       "other-111.222", "csrfToken", &re);
    ok("{junk} nonce: 'abcdef123456'", "abcdef123456", "fedcba654321", "nonce", &re);
    rr_buf_fini(&re);
}

static void test_value_at_start(void **st)
{
    (void)st;
    struct rr_buf re;
    rr_buf_init(&re);
    /* a text/plain body that is only the token */
    ok("a1b2c3d4e5f6\n", "a1b2c3d4e5f6", "ffffeeeedddd", "", &re);
    assert_int_equal(re.p[0], '^');
    rr_buf_fini(&re);
}

static void test_metachars(void **st)
{
    (void)st;
    struct rr_buf re;
    rr_buf_init(&re);
    /* the left context is full of regex syntax: each byte is a literal */
    ok("x (a+b)*[c]{2}?|$^.\\ tok=AbCdEfGh99", "AbCdEfGh99", "ZyXwVuTs11", "tok", &re);
    /* a value with regex-special characters */
    ok("<input name=\"sig\" value=\"a.b+c/d=e$f(g)\">", "a.b+c/d=e$f(g)", "q.r+s/t=u$v(w)", "sig",
       &re);
    rr_buf_fini(&re);
}

static void test_repeated(void **st)
{
    (void)st;
    struct rr_buf re;
    rr_buf_init(&re);
    /* the same context twice before the value: the regex widens until the first match is it */
    const char *body = "<input name=\"a\" value=\"11111111\">"
                       "<input name=\"b\" value=\"Tok3nTok3n\">"
                       "<p>again: <input name=\"b\" value=\"Tok3nTok3n\"></p>";
    ok(body, "Tok3nTok3n", "NewTokenXY", "b", &re);
    rr_buf_fini(&re);
}

static void test_give_up(void **st)
{
    (void)st;
    struct rr_buf re, name;
    rr_buf_init(&re);
    rr_buf_init(&name);
    /* not in the body */
    assert_int_equal(tx_regex_for("hello", 5, "abcdefgh", 8, &re, &name), -1);
    /* only a piece of a longer token */
    const char *b = "token=xxabcdefghyy";
    assert_int_equal(tx_regex_for(b, strlen(b), "abcdefgh", 8, &re, &name), -1);
    /* spaces and quotes: no class holds it */
    b = "<p>say \"hello world\"</p>";
    assert_int_equal(tx_regex_for(b, strlen(b), "\"hello world\"", 13, &re, &name), -1);
    /* the same context over and over, farther back than the regex looks */
    struct rr_buf body;
    rr_buf_init(&body);
    for (int i = 0; i < 8; i++)
        rr_buf_adds(&body, "<i value=\"00000000\">");
    rr_buf_adds(&body, "<i value=\"12345678\">");
    for (int i = 0; i < 8; i++)
        rr_buf_adds(&body, "<i value=\"00000000\">");
    /* repeated identical tags before it: widening to 40 bytes still sees "00000000" twice,
     * which matches first, so it gives up */
    assert_int_equal(tx_regex_for((const char *)body.p, body.len, "12345678", 8, &re, &name), -1);
    rr_buf_fini(&body);
    rr_buf_fini(&re);
    rr_buf_fini(&name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hidden_input),   cmocka_unit_test(test_meta_and_js),
        cmocka_unit_test(test_value_at_start), cmocka_unit_test(test_metachars),
        cmocka_unit_test(test_repeated),       cmocka_unit_test(test_give_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
