/* test_words.c -- The word splitter of the plan and rules formats: decoding, and errors that
 * name the line and column of what was expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rr/words.h"

#define MAXW 4

static size_t split(const char *line, struct rr_word *w, char *why, size_t whylen, int *rc)
{
    size_t n = 99;
    *rc = rr_words_split(line, line + strlen(line), 7, w, MAXW, &n, why, whylen);
    return n;
}

static void words(void **state)
{
    struct rr_word w[MAXW];
    char why[256] = "";
    int rc;
    const char *line = "  get \"a b\\\"\\\\\\n\\r\\t\\x41\"\tx.y # comment \"";
    size_t n = split(line, w, why, sizeof(why), &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    assert_string_equal(w[0].s, "get");
    assert_int_equal(w[0].col, 3);
    assert_false(w[0].quoted);
    assert_int_equal(w[1].len, 9);
    assert_memory_equal(w[1].s, "a b\"\\\n\r\tA", 9);
    assert_true(w[1].quoted);
    assert_int_equal(w[1].col, 7);
    assert_int_equal(w[1].raw_len, 19);
    assert_ptr_equal(w[1].raw, line + 6);
    assert_string_equal(w[2].s, "x.y");
    rr_words_free(w, &n);
    assert_int_equal(n, 0);

    n = split("body \"a\\x00b\" \"\"", w, why, sizeof(why), &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    assert_true(w[1].has_nul);
    assert_int_equal(w[1].len, 3);
    assert_memory_equal(w[1].s, "a\0b", 3);
    assert_string_equal(w[2].s, "");
    assert_int_equal(w[2].len, 0);
    rr_words_free(w, &n);

    n = split("   # only a comment", w, why, sizeof(why), &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 0);
}

static void error(const char *line, const char *want)
{
    struct rr_word w[MAXW];
    char why[256] = "";
    int rc;
    size_t n = split(line, w, why, sizeof(why), &rc);
    assert_int_equal(rc, RR_EPARSE);
    assert_int_equal(n, 0);
    assert_string_equal(why, want);
}

static void errors(void **state)
{
    error("a b c d e", "7:9: too many words on one line (at most 4)");
    error("say \"abc", "7:9: expected '\"' to end the string started at column 5");
    error("say \"a\x01\"", "7:7: control character in a string (write it as \\xHH)");
    error("say \"a\\q\"", "7:7: unknown escape: expected \\n, \\r, \\t, \\\", \\\\ or \\xHH");
    error("say \"a\\", "7:7: unknown escape: expected \\n, \\r, \\t, \\\", \\\\ or \\xHH");
    error("say \"\\x4g\"", "7:6: expected two hex digits after \\x");
    error("say \"\\x4", "7:6: expected two hex digits after \\x");
    error("say \"a\"b", "7:8: expected a space after a string");
    error("say a\"b\"", "7:6: unexpected character in a word (quote the word)");
    error("say \"ok\" a\x02", "7:11: unexpected character in a word (quote the word)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(words),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
