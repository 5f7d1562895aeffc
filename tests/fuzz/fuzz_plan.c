/* fuzz_plan.c -- The plan parser never crashes, and whatever it accepts validates, formats,
 * and parses back to the same text.
 *
 * Built with -DRR_LIBFUZZER it is a libFuzzer target. Otherwise main() runs each seed file
 * (or every file of a seed directory), and a fixed number of deterministic mutations of
 * each, so the plain test build exercises more than the seeds themselves. */
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

#ifndef RR_LIBFUZZER
#define MUTATIONS 5000

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const char *const tokens[] = {
    "\"",    "\\", "\\x", "${",        "}", "$${", "end\n", "\n", " ", "#", "step a GET /\n",
    "\\x00", "\r", "\t",  "9999999999"};

static void mutate_and_run(const uint8_t *seed, size_t n)
{
    uint8_t *m = malloc(n + 64);
    for (int k = 0; k < MUTATIONS; k++) {
        size_t len = n;
        memcpy(m, seed, n);
        int edits = 1 + (int)(next_rand() % 3);
        for (int e = 0; e < edits; e++) {
            size_t at = len ? (size_t)(next_rand() % len) : 0;
            switch (next_rand() % 4) {
            case 0: /* flip a byte */
                if (len)
                    m[at] = (uint8_t)next_rand();
                break;
            case 1: /* cut a range */
                if (len) {
                    size_t cut = 1 + (size_t)(next_rand() % 8);
                    if (cut > len - at)
                        cut = len - at;
                    memmove(m + at, m + at + cut, len - at - cut);
                    len -= cut;
                }
                break;
            case 2: { /* insert a token of the syntax */
                const char *t = tokens[next_rand() % (sizeof(tokens) / sizeof(tokens[0]))];
                size_t tl = strlen(t);
                if (len + tl <= n + 64) {
                    memmove(m + at + tl, m + at, len - at);
                    memcpy(m + at, t, tl);
                    len += tl;
                }
                break;
            }
            default: /* truncate */
                len = at;
                break;
            }
        }
        LLVMFuzzerTestOneInput(m, len);
    }
    free(m);
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
        fprintf(stderr, "%s: cannot read\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read\n", path);
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    mutate_and_run(buf, (size_t)n);
    free(buf);
    printf("ok %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    int bad = 0, runs = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *dir = opendir(argv[i]);
            struct dirent *e;
            while (dir && (e = readdir(dir))) {
                char p[4096];
                if (e->d_name[0] == '.')
                    continue;
                snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
                bad |= run_file(p);
                runs++;
            }
            if (dir)
                closedir(dir);
        } else {
            bad |= run_file(argv[i]);
            runs++;
        }
    }
    if (runs == 0) {
        fprintf(stderr, "no seeds\n");
        return 1;
    }
    return bad;
}
#endif
