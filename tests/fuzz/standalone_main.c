/* standalone_main.c -- Replays seed files through a fuzz target without a fuzzing engine.
 *
 * Linked with any fuzz_<target>.c when meson's fuzzing option is none, so each target's
 * seeds (tests/data/fuzz/<target>/) run as an ordinary test. Arguments are files or
 * directories of files; the exit code is non-zero when no seed could be read, and the
 * target itself aborts on a broken invariant. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A target may ask for deterministic mutations of each seed (flipped bytes, cut ranges,
 * inserted tokens of its syntax, truncation), so the plain test build explores more than the
 * seeds: it defines rr_fuzz_config(). A weak function, not weak constants, since the compiler
 * may fold a weak constant's default into this file. */
struct rr_fuzz_config {
    unsigned mutations;
    const char *const *tokens;
    size_t n_tokens;
};
const struct rr_fuzz_config *rr_fuzz_config(void);
__attribute__((weak)) const struct rr_fuzz_config *rr_fuzz_config(void)
{
    static const struct rr_fuzz_config none = {0, NULL, 0};
    return &none;
}

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void mutate_and_run(const uint8_t *seed, size_t n)
{
    const struct rr_fuzz_config *c = rr_fuzz_config();
    if (!c->mutations)
        return;
    uint8_t *m = malloc(n + 64);
    if (!m)
        abort();
    for (unsigned k = 0; k < c->mutations; k++) {
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
            case 2: /* insert a token of the target's syntax */
                if (c->n_tokens) {
                    const char *t = c->tokens[next_rand() % c->n_tokens];
                    size_t tl = strlen(t);
                    if (len + tl <= n + 64) {
                        memmove(m + at + tl, m + at, len - at);
                        memcpy(m + at, t, tl);
                        len += tl;
                    }
                }
                break;
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
    /* An exact-size copy, so ASan sees any read past the end of the input. */
    buf = malloc(n ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: cannot read\n", path);
        fclose(f);
        free(buf);
        return 1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, (size_t)n);
    /* Prefixes too: truncated input is the most common bad input. */
    for (long cut = 1; cut < n; cut += n / 16 + 1)
        LLVMFuzzerTestOneInput(buf, (size_t)cut);
    mutate_and_run(buf, (size_t)n);
    free(buf);
    printf("ok %s\n", path);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the files of a directory in name order, so a failure reproduces in the same order. */
static int run_dir(const char *dir, int *runs)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;

    if (!d) {
        fprintf(stderr, "%s: cannot open\n", dir);
        return 1;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(*names));
            if (!names)
                abort();
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n])
            abort();
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp);
    for (size_t i = 0; i < n; i++) {
        bad |= run_file(names[i]);
        (*runs)++;
        free(names[i]);
    }
    free(names);
    return bad;
}

int main(int argc, char **argv)
{
    int bad = 0, runs = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            bad |= run_dir(argv[i], &runs);
        } else {
            bad |= run_file(argv[i]);
            runs++;
        }
    }
    if (runs == 0) {
        fprintf(stderr, "no seeds\n");
        return 1;
    }
    printf("%d seeds\n", runs);
    return bad;
}
