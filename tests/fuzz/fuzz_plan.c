/* fuzz_plan.c -- The plan parser never crashes, and whatever it accepts validates, formats,
 * and parses back to the same text.
 *
 * With fuzzing=none, standalone_main.c runs each seed and a fixed number of deterministic
 * mutations of each, so the plain test build exercises more than the seeds themselves. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rr/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rr_plan *p = NULL, *q = NULL;
    char why[300];
    struct rr_buf a, b;

    if (rr_plan_parse(data, size, &p, why, sizeof(why))) {
        if (p || !why[0] || !strchr(why, ':'))
            abort(); /* every error says LINE:COL */
        return 0;
    }
    if (rr_plan_validate(p, why, sizeof(why))) {
        fprintf(stderr, "accepted but invalid: %s\n", why);
        abort();
    }
    rr_buf_init(&a);
    rr_buf_init(&b);
    rr_plan_format(p, &a);
    if (rr_plan_parse(a.p, a.len, &q, why, sizeof(why))) {
        fprintf(stderr, "formatted text does not parse: %s\n%s", why, rr_buf_cstr(&a));
        abort();
    }
    rr_plan_format(q, &b);
    if (a.len != b.len || memcmp(a.p, b.p, a.len)) {
        fprintf(stderr, "format is not stable:\n%s\n---\n%s", rr_buf_cstr(&a), rr_buf_cstr(&b));
        abort();
    }
    rr_buf_fini(&a);
    rr_buf_fini(&b);
    rr_plan_free(&p);
    rr_plan_free(&q);
    return 0;
}

/* The plain build's runner (standalone_main.c) mutates each seed 5000 times, inserting
 * these tokens of the plan syntax among other edits. */
struct rr_fuzz_config {
    unsigned mutations;
    const char *const *tokens;
    size_t n_tokens;
};
const struct rr_fuzz_config *rr_fuzz_config(void);
const struct rr_fuzz_config *rr_fuzz_config(void)
{
    static const char *const tokens[] = {
        "\"",    "\\", "\\x", "${",        "}", "$${", "end\n", "\n", " ", "#", "step a GET /\n",
        "\\x00", "\r", "\t",  "9999999999"};
    static const struct rr_fuzz_config c = {5000, tokens, sizeof(tokens) / sizeof(tokens[0])};
    return &c;
}
