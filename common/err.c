/* err.c -- Error names and the aborting allocators. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rr/err.h"

const char *rr_strerror(int err)
{
    switch (err) {
    case RR_OK:
        return "success";
    case RR_EPARSE:
        return "malformed input";
    case RR_ELIMIT:
        return "limit reached";
    case RR_ECORRUPT:
        return "damaged record";
    case RR_ENOTFOUND:
        return "not found";
    case RR_ESTOP:
        return "stopped";
    case RR_EVERSION:
        return "written by a newer rrload";
    case RR_ENOTSTORE:
        return "not an rrload store";
    case RR_EUSAGE:
        return "bad usage";
    case RR_ELIB:
        return "library failure";
    case RR_ETRUNC:
        return "truncated input";
    default:
        if (err < 0 && err > -1000)
            return strerror(-err);
        return "unknown error";
    }
}

void rr_panic_at(const char *file, int line, const char *what)
{
    fprintf(stderr, "rrload: fatal: %s (%s:%d)\n", what, file, line);
    abort();
}

void *rr_xmalloc_at(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        rr_panic_at(file, line, "out of memory");
    return p;
}

void *rr_xcalloc_at(size_t n, size_t sz, const char *file, int line)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p)
        rr_panic_at(file, line, "out of memory");
    return p;
}

void *rr_xrealloc_at(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        rr_panic_at(file, line, "out of memory");
    return q;
}

char *rr_xstrdup_at(const char *s, const char *file, int line)
{
    return rr_xstrndup_at(s, strlen(s), file, line);
}

char *rr_xstrndup_at(const char *s, size_t n, const char *file, int line)
{
    char *p = rr_xmalloc_at(n + 1, file, line);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
