/* err.h -- One error convention for every module.
 *
 * Functions return int: 0 on success, a negated errno, or an rrload code below -1000.
 * Foreign codes (LMDB, llhttp, nghttp2, curl) are translated at the edge of the module
 * that uses the library; none escapes it. rr_strerror() names every code. */
#ifndef RR_ERR_H
#define RR_ERR_H

#include <stdio.h>
#include <stdlib.h>

#define RR_OK 0
enum rr_err {
    RR_EPARSE = -1001,   /* input is not in the expected format */
    RR_ELIMIT = -1002,   /* a configured cap was reached */
    RR_ECORRUPT = -1003, /* stored data failed validation */
    RR_ENOTFOUND = -1004,
    RR_ESTOP = -1005,    /* the callee stopped (and may have destroyed) the operation */
    RR_EVERSION = -1006, /* written by a newer rrload */
    RR_ENOTSTORE = -1007, /* the file is not an rrload store */
    RR_EUSAGE = -1008,   /* bad command line */
    RR_ELIB = -1009,     /* a library failed in a way with no better code */
    RR_ETRUNC = -1010,   /* input ended early */
};

#if defined(__GNUC__)
#define RR_WUR     __attribute__((warn_unused_result))
#define RR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define RR_NORETURN __attribute__((noreturn))
#else
#define RR_WUR
#define RR_PRINTF(a, b)
#define RR_NORETURN
#endif

/* Returns a static description of any rr code or negated errno. */
const char *rr_strerror(int err);

RR_NORETURN void rr_panic_at(const char *file, int line, const char *what);
#define rr_panic(what) rr_panic_at(__FILE__, __LINE__, (what))
/* Invariants stay checked in release builds. */
#define RR_ASSERT(x)                                                                               \
    do {                                                                                           \
        if (!(x))                                                                                  \
            rr_panic_at(__FILE__, __LINE__, "assertion failed: " #x);                              \
    } while (0)

/* Allocation failure aborts with file:line: every input-driven growth is capped elsewhere. */
void *rr_xmalloc_at(size_t n, const char *file, int line);
void *rr_xcalloc_at(size_t n, size_t sz, const char *file, int line);
void *rr_xrealloc_at(void *p, size_t n, const char *file, int line);
char *rr_xstrdup_at(const char *s, const char *file, int line);
char *rr_xstrndup_at(const char *s, size_t n, const char *file, int line);
#define rr_xmalloc(n)       rr_xmalloc_at((n), __FILE__, __LINE__)
#define rr_xcalloc(n, s)    rr_xcalloc_at((n), (s), __FILE__, __LINE__)
#define rr_xrealloc(p, n)   rr_xrealloc_at((p), (n), __FILE__, __LINE__)
#define rr_xstrdup(s)       rr_xstrdup_at((s), __FILE__, __LINE__)
#define rr_xstrndup(s, n)   rr_xstrndup_at((s), (n), __FILE__, __LINE__)

#endif
